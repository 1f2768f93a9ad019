"""Reports built once per test session (shared by tests/test_report*.py)."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

from electwatch.reports import ReportOutput, demo_report, report_from_files

_TMP = Path(tempfile.mkdtemp(prefix="electwatch-report-tests-"))


@functools.cache
def demo_output() -> ReportOutput:
    steps: list[tuple[str, float]] = []
    out = demo_report(_TMP / "demo", seed=3, progress=lambda s, f: steps.append((s, f)))
    out.progress_steps = steps  # type: ignore[attr-defined]
    return out


@functools.cache
def real_2012_output(path: Path) -> ReportOutput:
    # no mapping given: the built-in russia-cec mapping must be recognised by file name
    return report_from_files(
        _TMP / "real2012",
        results_path=path,
        seed=0,
        command_line=f"electwatch report --results {path}",
    )
