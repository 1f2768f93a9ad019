"""Reports built once per test session (shared by tests/test_report*.py)."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

from electwatch.reports import ReportOutput, demo_report, report_from_files
from report_geo import grid_geojson

_TMP = Path(tempfile.mkdtemp(prefix="electwatch-report-tests-"))
#: areas left off the generated maps (the last ones in name order) and a feature that
#: matches no area: the report must list both
MAP_LEFT_OUT = 2
EXTRA_FEATURE = "Atlantis"


def _geo_for(names: list[str], folder: Path) -> tuple[Path, list[str]]:
    folder.mkdir(parents=True, exist_ok=True)
    names = sorted(names)
    drawn = names[:-MAP_LEFT_OUT]
    return grid_geojson(drawn, [EXTRA_FEATURE], folder / "areas.geojson"), names[-MAP_LEFT_OUT:]


@functools.cache
def demo_output(language: str = "en") -> ReportOutput:
    from electwatch.data import load_results
    from electwatch.reports.demo import write_demo_inputs

    inputs = write_demo_inputs(_TMP / f"demo-geo-{language}", 3)
    regions = load_results(inputs["results"]).frame["region"].unique().to_list()
    geo, left_out = _geo_for(regions, _TMP / f"geo-demo-{language}")
    steps: list[tuple[str, float]] = []
    out = demo_report(
        _TMP / f"demo-{language}",
        seed=3,
        progress=lambda s, f: steps.append((s, f)),
        options={"geo": geo, "geo_key": "name", "language": language},
    )
    out.progress_steps = steps  # type: ignore[attr-defined]
    out.map_left_out = left_out  # type: ignore[attr-defined]
    return out


@functools.cache
def real_2012_output(path: Path, language: str = "en") -> ReportOutput:
    from electwatch.data import load_results

    regions = load_results(path).frame["region"].unique().to_list()
    geo, left_out = _geo_for([str(r) for r in regions], _TMP / f"geo-2012-{language}")
    # no mapping given: the built-in russia-cec mapping must be recognised by file name
    out = report_from_files(
        _TMP / f"real2012-{language}",
        results_path=path,
        seed=0,
        command_line=f"electwatch report --results {path} --geo {geo} --geo-key name",
        options={"geo": geo, "geo_key": "name", "language": language},
        # the translated report checks layout and wording, not the resampling: fewer
        # resamples keep its CPU cost down (its findings come from its own results.json)
        forensics_options={} if language == "en" else {"n_bootstrap": 200, "n_mc": 200},
    )
    out.map_left_out = left_out  # type: ignore[attr-defined]
    return out


@functools.cache
def eforensics_output(language: str = "en") -> ReportOutput:
    """A small SYNTHETIC election (1,500 stations, 10% incremental and 3% extreme
    fraud) reported with ``--model eforensics-bbl --covariates region`` (issue 16)."""
    from electwatch.simulate import (
        ElectionParameters,
        FraudParameters,
        simulate_election,
        write_results,
    )

    results, _ = simulate_election(
        ElectionParameters(n_stations=1500, n_regions=5), FraudParameters(fi=0.1, fe=0.03), seed=11
    )
    folder = _TMP / f"eforensics-{language}"
    folder.mkdir(parents=True, exist_ok=True)
    path = write_results(results, folder / "sim.csv")
    return report_from_files(
        folder / "report",
        results_path=path,
        seed=7,
        options={"eforensics": "eforensics-bbl", "covariates": ["region"], "language": language},
        forensics_options={"n_bootstrap": 100, "n_mc": 100},
    )
