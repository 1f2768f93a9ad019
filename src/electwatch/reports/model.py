"""Typed building blocks of a report: sections, figures, tables, and the output record.

A report is a list of :class:`Section` objects; the HTML template renders them in
order. Every section either carries content or an ``omitted`` reason, which the
report shows as a visible note (an analysis that could not run is never silently
left out).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: ``progress(step, fraction_done)``: the report's overall progress in [0, 1]
#: (the CLI's :func:`electwatch.cli.common.progress_bar` yields such a callable)
ProgressCallback = Callable[[str, float], None]


def no_progress(step: str, fraction: float) -> None:
    """The default progress callback: does nothing."""


@dataclass
class FigureRef:
    """A figure written beside the report (PNG and SVG) and inlined into it as SVG."""

    id: str
    title: str
    caption: str
    svg: str  # inline SVG markup (responsive, tooltips attached)
    files: dict[str, str]  # format -> path relative to the report folder
    alt: str = ""
    narrow: bool = False  # square figures: keep them phone-sized on wide screens

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "caption": self.caption,
            "files": dict(self.files),
        }


@dataclass
class TableRef:
    """A table shown in the report (first ``max_rows`` rows) and written as CSV + Parquet."""

    id: str
    title: str
    columns: list[str]
    rows: list[list[str]]  # already formatted for display
    files: dict[str, str]
    total_rows: int
    note: str = ""
    numeric: list[bool] = field(default_factory=list)  # right-align and sort numerically
    #: per displayed row, an optional CSS class ("flag" highlights a flagged row)
    row_classes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "columns": self.columns,
            "total_rows": self.total_rows,
            "files": dict(self.files),
            "note": self.note,
        }


@dataclass
class Callout:
    """A highlighted message: ``level`` is info, warning or omitted."""

    level: str
    text: str


@dataclass
class Section:
    id: str
    title: str
    paragraphs: list[str] = field(default_factory=list)
    items: list[tuple[str, str]] = field(default_factory=list)  # definition list
    callouts: list[Callout] = field(default_factory=list)
    figures: list[FigureRef] = field(default_factory=list)
    tables: list[TableRef] = field(default_factory=list)
    references: list[str] = field(default_factory=list)  # keys of electwatch.reports.methods
    omitted: str | None = None  # why the section could not be produced
    #: preformatted text blocks (shown in <pre>)
    code: list[str] = field(default_factory=list)
    #: findings shown as cards (the "findings" section; electwatch.reports.findings)
    findings: list[Any] = field(default_factory=list)
    #: HTML blocks built by the report itself with every text escaped (map, drill-down)
    html: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "omitted": self.omitted,
            "items": [list(kv) for kv in self.items],
            "callouts": [{"level": c.level, "text": c.text} for c in self.callouts],
            "figures": [f.to_dict() for f in self.figures],
            "tables": [t.to_dict() for t in self.tables],
            "findings": [f.to_dict() for f in self.findings],
        }


@dataclass(frozen=True)
class InputFile:
    """An input of the report, identified by the SHA-256 of its bytes on disk."""

    role: str  # results | observations | claims | mapping
    path: str
    sha256: str
    size: int

    def to_dict(self) -> dict[str, Any]:
        return {"role": self.role, "path": self.path, "sha256": self.sha256, "size": self.size}


@dataclass
class ReportOutput:
    """What :func:`electwatch.reports.build_report` wrote."""

    out_dir: Path
    html_path: Path
    json_path: Path
    figures: list[Path]
    tables: list[Path]
    sections: list[Section]
    inputs: list[InputFile]
    timings: dict[str, float]
    synthetic: bool

    @property
    def omitted(self) -> dict[str, str]:
        """Sections that could not be produced -> why."""
        return {s.id: s.omitted for s in self.sections if s.omitted}

    def to_dict(self) -> dict[str, Any]:
        return {
            "out_dir": str(self.out_dir),
            "html": str(self.html_path),
            "json": str(self.json_path),
            "figures": [str(p) for p in self.figures],
            "tables": [str(p) for p in self.tables],
            "sections": [s.id for s in self.sections],
            "omitted": self.omitted,
            "inputs": [i.to_dict() for i in self.inputs],
            "timings_s": {k: round(v, 3) for k, v in self.timings.items()},
            "synthetic": self.synthetic,
        }
