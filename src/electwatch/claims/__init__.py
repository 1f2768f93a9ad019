"""The claims ledger: published figures, their arithmetic, and how they hold up."""

from electwatch.claims.ledger import (
    ClaimCheck,
    Ledger,
    LedgerReport,
    check_against_estimates,
    check_against_official,
    check_arithmetic,
    check_consistency,
    check_ledger,
    claims_table_rows,
    ledger_from_records,
    load_claims,
    official_figures,
)
from electwatch.claims.model import Claim, ClaimError, StatedNumber, evaluate

__all__ = [
    "Claim",
    "ClaimCheck",
    "ClaimError",
    "Ledger",
    "LedgerReport",
    "StatedNumber",
    "check_against_estimates",
    "check_against_official",
    "check_arithmetic",
    "check_consistency",
    "check_ledger",
    "claims_table_rows",
    "evaluate",
    "ledger_from_records",
    "load_claims",
    "official_figures",
]
