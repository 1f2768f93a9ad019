"""What every section builder reads: :class:`ReportContext`.

Kept apart from :mod:`electwatch.reports.builder` so that the section modules import
it without importing the builder that imports them (no import cycle; issue 11).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from electwatch.data import ElectionResults
from electwatch.reports.figures import FigureWriter
from electwatch.reports.model import ProgressCallback, no_progress
from electwatch.reports.tables import TableWriter


@dataclass
class ReportContext:
    """Everything a section builder needs: inputs, writers, options."""

    out_dir: Path
    figures: FigureWriter
    tables: TableWriter
    results: ElectionResults | None
    observations: Any  # electwatch.turnout.Observations
    claims: Any  # electwatch.claims.Ledger
    seed: int
    official_turnout: float | None
    extras: dict[str, Any] = field(default_factory=dict)
    #: progress within the running step: ``step_progress(detail, fraction_of_step)``
    step_progress: ProgressCallback = no_progress
    #: keyword arguments for :func:`electwatch.forensics.run_battery` (n_bootstrap, n_mc...)
    forensics_options: dict[str, Any] = field(default_factory=dict)
    #: report options: areas to give a section each (``--area``), a GeoJSON map...
    options: dict[str, Any] = field(default_factory=dict)
