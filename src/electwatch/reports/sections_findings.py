"""The report's first section: at most five findings (:mod:`electwatch.reports.findings`)
and the ``results.json`` they are computed from, written beside the report."""

from __future__ import annotations

import json
from typing import Any

from electwatch.reports.context import ReportContext
from electwatch.reports.counts import report_counts
from electwatch.reports.findings import findings
from electwatch.reports.model import Section

#: the section's first paragraph (a message id of the ``reports`` catalogue)
INTRODUCTION = (
    "What the official results show, strongest first. Only tests whose false-positive "
    "rate was checked on clean simulated elections make a finding; each says how strong "
    "it is, what it does not show, and links to its evidence below. The same findings "
    "are in results.json."
)


def results_payload(ctx: ReportContext) -> dict[str, Any] | None:
    """``results.json``: the battery's results (every area), the report's counts and
    the findings computed from exactly this content."""
    rep = ctx.extras.get("forensics")
    if rep is None or ctx.results is None:
        return None
    if "results_payload" in ctx.extras:
        return dict(ctx.extras["results_payload"])
    data = rep.to_dict(include_areas=True)
    counts = ctx.extras.get("counts") or report_counts(ctx.results, rep)
    data["counts"] = counts.to_dict()
    data["findings"] = [f.to_dict() for f in findings(data)]
    # the eforensics model (--model), when asked for: stored beside the findings, added
    # after them and never read by them (docs/reports.md, "The eforensics section")
    if ctx.extras.get("eforensics_json") is not None:
        data["eforensics"] = ctx.extras["eforensics_json"]
    ctx.extras["results_payload"] = data
    return data


def write_results_json(ctx: ReportContext) -> None:
    data = results_payload(ctx)
    if data is None:
        return
    path = ctx.out_dir / "results.json"
    path.write_text(
        json.dumps(data, ensure_ascii=False, default=str, allow_nan=False) + "\n", encoding="utf-8"
    )


def section_findings(ctx: ReportContext) -> Section:
    sec = Section("findings", "Findings")
    data = results_payload(ctx)
    if data is None:
        sec.omitted = ctx.extras.get(
            "forensics_error",
            "no results file was given (--results)"
            if ctx.results is None
            else "the forensics battery did not run",
        )
        return sec
    found = findings(data)
    sec.findings = found
    sec.paragraphs.append(INTRODUCTION)
    return sec
