"""Election fingerprint (Klimek, Yegorov, Hanel & Thurner, PNAS 109(41), 2012).

The 2D histogram of station turnout against the winner's share of valid votes,
1% bins, stations with fewer than 100 registered voters removed. A clean election
gives one roughly Gaussian blob; incremental fraud smears it towards (100%, 100%)
and extreme fraud piles stations up in that corner. The figure is drawn by
:func:`electwatch.reports.figures.forensics_fingerprint_figure` from results.json.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from electwatch.forensics.areas import StationArrays


@dataclass(frozen=True)
class Fingerprint:
    """Counts[i, j]: stations with turnout in bin i and winner share in bin j."""

    counts: np.ndarray  # bins x bins, int64
    edges: np.ndarray  # bin edges in [0, 1]
    n: int
    winner: str
    min_registered: int
    turnout: np.ndarray  # station values used (for the fit)
    share: np.ndarray
    registered: np.ndarray  # station sizes
    mask: np.ndarray  # which of the election's stations are in the fingerprint

    @property
    def bins(self) -> int:
        return self.counts.shape[0]

    def corner_share(self, threshold: float = 0.95) -> float:
        """Share of stations with turnout and winner share both >= ``threshold``."""
        if self.n == 0:
            return float("nan")
        return float(np.mean((self.turnout >= threshold) & (self.share >= threshold)))

    def to_dict(self, include_counts: bool = True) -> dict[str, Any]:
        d: dict[str, Any] = {
            "bins": self.bins,
            "n": self.n,
            "winner": self.winner,
            "min_registered": self.min_registered,
            "corner_share_95": self.corner_share(0.95),
        }
        if include_counts:
            nz = np.nonzero(self.counts)
            d["cells"] = {
                "turnout_bin": nz[0].tolist(),
                "share_bin": nz[1].tolist(),
                "count": self.counts[nz].tolist(),
            }
        return d


def fingerprint(arr: StationArrays, *, bins: int = 100, min_registered: int = 100) -> Fingerprint:
    """Turnout x winner-share histogram (Klimek et al. 2012: 1% bins, >= 100 voters)."""
    t = arr.turnout()
    s = arr.winner_share()
    ok = np.isfinite(t) & np.isfinite(s) & (arr.registered >= min_registered) & (t <= 1)
    t, s = t[ok], s[ok]
    it = np.minimum((t * bins).astype(np.int64), bins - 1)
    js = np.minimum((s * bins).astype(np.int64), bins - 1)
    counts = np.bincount(it * bins + js, minlength=bins * bins).reshape(bins, bins)
    return Fingerprint(
        counts,
        np.linspace(0, 1, bins + 1),
        int(ok.sum()),
        arr.winner,
        min_registered,
        t,
        s,
        arr.registered[ok],
        ok,
    )
