"""Multiple-testing control across areas: Benjamini & Hochberg (1995).

Benjamini, Y. & Hochberg, Y. "Controlling the false discovery rate: a practical and
powerful approach to multiple testing", JRSS B 57(1):289-300 (1995). The adjusted
p-value of the i-th smallest of m p-values is min_{j>=i} min(1, m p_(j) / j).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from electwatch.forensics.types import TestResult


def bh_adjust(p_values: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values; NaN entries stay NaN and are not counted."""
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    m = int(ok.sum())
    if m == 0:
        return out
    pv = p[ok]
    order = np.argsort(pv)
    ranked = pv[order] * m / np.arange(1, m + 1)
    adj = np.minimum.accumulate(ranked[::-1])[::-1]
    res = np.empty(m)
    res[order] = np.minimum(adj, 1.0)
    out[ok] = res
    return out


def adjust_results(
    results: list[TestResult],
    alpha: float = 0.05,
    calibrated: Callable[[str], bool] | None = None,
) -> list[TestResult]:
    """BH-adjust p-values within each (test, level, subject) family of areas.

    ``calibrated(test)``: whether a test enters the flag set; the rows of the others
    (descriptive statistics) keep their p-value, get no adjusted one and are never
    flagged. Rows without a p-value keep their own flag rule."""
    families: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    out = list(results)
    for i, r in enumerate(results):
        if calibrated is not None and not calibrated(r.test):
            if r.p_value is not None:
                out[i] = replace(r, p_adjusted=None, flagged=False)
            continue
        families[(r.test, r.level, r.subject)].append(i)
    for idx in families.values():
        p = np.array(
            [np.nan if results[i].p_value is None else results[i].p_value for i in idx], dtype=float
        )
        adj = bh_adjust(p)
        for i, a in zip(idx, adj, strict=True):
            out[i] = results[i].with_adjustment(None if np.isnan(a) else float(a), alpha)
    return out
