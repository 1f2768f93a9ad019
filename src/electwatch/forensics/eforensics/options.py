"""Choosing the eforensics model from the command line or the report: the model
names (``eforensics``, ``eforensics-bl``, ``eforensics-bbl``) and the check of the
covariate columns before a fit.

Text covariates enter the model as indicators of every level but the first (R's
treatment contrasts), once for turnout and once for the winner's share: a column of
station addresses or polling-place names would add two parameters per distinct value
and make the information matrix (parameters squared) and every pass over the stations
explode. :func:`check_covariates` refuses text columns with more than
:data:`MAX_COVARIATE_LEVELS` distinct values, with one line that says what to do.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

#: model name -> variant (``bl`` binomial, ``bbl`` beta-binomial; Ferrari, McAlister
#: & Mebane 2018)
MODELS = {"eforensics": "bl", "eforensics-bl": "bl", "eforensics-bbl": "bbl"}

#: most distinct values a text covariate may have (each becomes two parameters)
MAX_COVARIATE_LEVELS = 100


def variant_of(model: str) -> str:
    """The variant (``bl``/``bbl``) of a model name; ValueError naming the choices."""
    try:
        return MODELS[model]
    except KeyError:
        raise ValueError(f"--model must be one of {', '.join(MODELS)}, not {model!r}") from None


def parse_covariates(text: str | Sequence[str] | None) -> list[str]:
    """``"a, b"`` or ``["a", "b"]`` -> ``["a", "b"]`` (blanks dropped)."""
    if text is None:
        return []
    parts = text.split(",") if isinstance(text, str) else [p for t in text for p in t.split(",")]
    return [p.strip() for p in parts if p.strip()]


def check_covariates(frame: pl.DataFrame, columns: Sequence[str]) -> None:
    """Raise ValueError (one line) for a column that does not exist, or a text column
    with more than :data:`MAX_COVARIATE_LEVELS` distinct values."""
    for col in columns:
        if col not in frame.columns:
            raise ValueError(
                f"--covariates: no column {col!r}; columns are {', '.join(frame.columns)}"
            )
        s = frame[col]
        if s.dtype.is_numeric():
            continue
        levels = s.cast(pl.String).fill_null("(missing)").n_unique()
        if levels > MAX_COVARIATE_LEVELS:
            raise ValueError(
                f"--covariates: text column {col!r} has {levels:,} distinct values (at most "
                f"{MAX_COVARIATE_LEVELS} allowed: each becomes two parameters); use a coarser "
                "area column or a numeric column"
            )
