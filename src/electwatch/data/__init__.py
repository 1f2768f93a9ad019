"""Election data model, column mappings and validated loaders."""

from electwatch.data.loaders import load_results
from electwatch.data.mapping import ColumnMapping, builtin_mappings, resolve_mapping
from electwatch.data.model import (
    Candidate,
    CandidateStatus,
    Contest,
    Election,
    ElectionResults,
    ResultsSummary,
    SkippedRow,
    SourceInfo,
    ValidationWarning,
    Vetting,
)

__all__ = [
    "Candidate",
    "CandidateStatus",
    "ColumnMapping",
    "Contest",
    "Election",
    "ElectionResults",
    "ResultsSummary",
    "SkippedRow",
    "SourceInfo",
    "ValidationWarning",
    "Vetting",
    "builtin_mappings",
    "load_results",
    "resolve_mapping",
]
