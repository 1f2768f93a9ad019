"""Self-contained HTML reports with figures (PNG/SVG) and tables (CSV/Parquet).

``build_report`` assembles a report from loaded inputs, ``report_from_files`` from
files (hashing them for the reproducibility block), and ``demo_report`` runs the
whole pipeline on the built-in SYNTHETIC example (``electwatch demo``).
"""

from electwatch.reports.builder import build_report, report_from_files
from electwatch.reports.demo import demo_report
from electwatch.reports.model import (
    Callout,
    FigureRef,
    InputFile,
    ProgressCallback,
    ReportOutput,
    Section,
    TableRef,
)

__all__ = [
    "Callout",
    "FigureRef",
    "InputFile",
    "ProgressCallback",
    "ReportOutput",
    "Section",
    "TableRef",
    "build_report",
    "demo_report",
    "report_from_files",
]
