"""Partial watch windows: arrival profiles and the correction of counts.

An observer who watched only part of polling day saw the share
s_i = sum_k o_ik p_k of the station's voters, where p_k is the share of a day's
voters arriving in polling hour k (the :class:`ArrivalProfile`) and o_ik in [0, 1]
the part of hour k the observer watched. The corrected whole-day count is
y_i = c_i / s_i.

The profile is either given (e.g. published hourly turnout) or estimated from the
observers who report hourly counts c_ik. With c_ik ~ Poisson(T_i p_k o_ik) the
maximum-likelihood estimate solves the fixed point (a log-linear Poisson model with
station and hour effects, fitted by alternating conditional maximisation, the
same iteration as iterative proportional fitting, Bishop, Fienberg & Holland 1975,
ch. 3):

    T_i = sum_k c_ik / sum_k o_ik p_k,      p_k  proportional to  sum_i c_ik / sum_i T_i o_ik.

When every reporting observer watched the whole day this is one step:
p_k = sum_i c_ik / sum_i c_i. The iteration is vectorised over stations and, for
the bootstrap, over replicate weights (B x n), so the profile's uncertainty is
propagated by re-estimating it in every bootstrap replicate.
"""

from __future__ import annotations

import numpy as np

from electwatch.data.observations import ArrivalProfile


def overlap_matrix(start: np.ndarray, end: np.ndarray, open_hour: int, n_hours: int) -> np.ndarray:
    """o_ik: the fraction of polling hour k (from ``open_hour``) inside [start, end)."""
    hours = open_hour + np.arange(n_hours, dtype=float)
    s = np.asarray(start, dtype=float)[:, None]
    e = np.asarray(end, dtype=float)[:, None]
    return np.clip(np.minimum(hours + 1, e) - np.maximum(hours, s), 0.0, 1.0)


def fit_profile_shares(
    hourly: np.ndarray,
    overlap: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    iterations: int = 500,
    tol: float = 1e-12,
    open_hour: int | None = None,
) -> np.ndarray:
    """Poisson ML arrival shares from hourly counts over (partial) windows.

    ``hourly`` and ``overlap`` are (n x H); ``weights`` is None, (n,) or (B x n)
    (bootstrap replicate weights); returns (H,) or (B x H) shares summing to 1.
    """
    c = np.asarray(hourly, dtype=float)
    o = np.asarray(overlap, dtype=float)
    if c.shape != o.shape or c.ndim != 2:
        raise ValueError("hourly counts and overlaps must be (stations x hours) alike")
    if (c[o == 0] > 0).any():
        raise ValueError("hourly counts reported for hours outside the watch window")
    batch = weights is not None and np.ndim(weights) == 2
    w = np.ones((1, c.shape[0])) if weights is None else np.atleast_2d(weights)
    covered = (w @ o) > 0  # (B x H)
    if not covered.all():
        hours = np.flatnonzero(~covered.all(axis=0))
        shown = (
            [f"{open_hour + int(k):02d}:00-{open_hour + int(k) + 1:02d}:00" for k in hours]
            if open_hour is not None
            else [f"hour {int(k) + 1} of polling" for k in hours]
        )
        raise ValueError(
            f"no observer watched polling hour(s) {', '.join(shown)}"
            + (" in some bootstrap replicates" if batch and covered.any(axis=0).all() else "")
            + ": the profile cannot be estimated there; give a profile (--profile)"
        )
    num = w @ c  # (B x H): weighted hourly counts
    c_tot = c.sum(axis=1)  # (n,)
    p = num / num.sum(axis=1, keepdims=True)
    # stations sharing a watch window share s_i: iterate over the G distinct windows
    # (sum_i w_i T_i o_ik = sum_g o_gk sum_{i in g} w_i c_i / s_g), exact and G << n
    o_g, group = np.unique(o, axis=0, return_inverse=True)
    group = np.asarray(group).reshape(-1)
    onehot = np.zeros((c.shape[0], o_g.shape[0]))
    onehot[np.arange(c.shape[0]), group] = c_tot
    a_g = w @ onehot  # (B x G): weighted counts per window pattern
    for _ in range(iterations):
        share = p @ o_g.T  # (B x G): s_g under the current profile
        t = np.divide(a_g, share, out=np.zeros_like(share), where=share > 0)
        den = t @ o_g  # (B x H)
        p_new = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
        p_new /= p_new.sum(axis=1, keepdims=True)
        if np.max(np.abs(p_new - p)) < tol:
            p = p_new
            break
        p = p_new
    return p if batch else p[0]


def fit_segment_profile_shares(
    seg_station: np.ndarray,
    seg_overlap: np.ndarray,
    seg_count: np.ndarray,
    station_overlap: np.ndarray,
    weights: np.ndarray,
    *,
    start: np.ndarray | None = None,
    iterations: int = 300,
    tol: float = 1e-8,
) -> np.ndarray:
    """Poisson ML arrival shares from segment counts (readings between successive
    cumulative snapshots, each spanning one or several hours), for B replicates of
    station weights at once: (B x H).

    The EM algorithm of :func:`electwatch.turnout.snapshots.split_segments` (Dempster,
    Laird & Rubin 1977) with the station totals profiled out. Re-fitting from the
    segments, not from their split hours, is what a bootstrap of the profile needs:
    hours split under the point profile carry its shape into every replicate and
    understate its error. ``seg_station`` indexes rows of ``station_overlap`` (n x H,
    the watched part of each hour) and columns of ``weights`` (B x n); ``seg_overlap``
    is (m x H)."""
    w = np.atleast_2d(np.asarray(weights, dtype=float))
    b, n = w.shape
    o_seg = np.asarray(seg_overlap, dtype=float)
    c = np.asarray(seg_count, dtype=float)
    st = np.asarray(seg_station)
    h = o_seg.shape[1]
    c_station = np.bincount(st, weights=c, minlength=n)
    wc = w[:, st] * c[None, :]  # (B x m)
    p = np.full((b, h), 1.0 / h) if start is None else np.tile(np.asarray(start, float), (b, 1))
    for _ in range(iterations):
        tot = p @ o_seg.T  # (B x m): expected share of each segment
        num = p * (np.divide(wc, tot, out=np.zeros_like(tot), where=tot > 0) @ o_seg)
        share = p @ station_overlap.T  # (B x n)
        t = np.divide(c_station[None, :], share, out=np.zeros_like(share), where=share > 0)
        den = (w * t) @ station_overlap
        p_new = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
        p_new /= p_new.sum(axis=1, keepdims=True)
        if np.max(np.abs(p_new - p)) < tol:
            return p_new
        p = p_new
    return p


def estimate_profile(
    hourly: np.ndarray, start: np.ndarray, end: np.ndarray, open_hour: int
) -> ArrivalProfile:
    """An :class:`ArrivalProfile` estimated from hourly reports (rows of ``hourly``)."""
    h = np.asarray(hourly, dtype=float)
    o = overlap_matrix(start, end, open_hour, h.shape[1])
    p = fit_profile_shares(h, o, open_hour=open_hour)
    p = p / p.sum()
    return ArrivalProfile(open_hour, tuple(float(x) for x in p))


def covered_shares(profile_shares: np.ndarray, overlap: np.ndarray) -> np.ndarray:
    """s_i = sum_k o_ik p_k, for (H,) -> (n,) or (B x H) -> (B x n) shares."""
    return np.asarray(profile_shares) @ np.asarray(overlap).T


def correct_counts(counts: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """Whole-day counts c_i / s_i (error if a window covers no arrivals)."""
    s = np.asarray(shares, dtype=float)
    if (s <= 0).any():
        raise ValueError("a watch window covers no polling hour of the arrival profile")
    return np.asarray(counts, dtype=float) / s
