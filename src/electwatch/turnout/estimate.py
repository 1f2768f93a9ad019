"""Turnout estimators from counts at observed polling stations.

Notation (Cochran, *Sampling Techniques*, 3rd ed., 1977): N stations in the frame,
n observed, y_i voters at observed station i, x_i its registered voters, f = n/N the
sampling fraction, E the number of eligible voters.

* naive expansion (Cochran §2.3): total Y^ = N * ybar, turnout = Y^ / E,
  Var(Y^) = N^2 (1 - f) s^2 / n;
* ratio estimator (Cochran §6.2-6.4): R^ = sum y / sum x (turnout among the
  registered), total = R^ X, Var(R^) ~ (1 - f) / (n xbar^2) * sum (y_i - R^ x_i)^2 / (n - 1);
* stratified estimator (Cochran §5.2-5.3): Y^ = sum_h N_h ybar_h, weights N_h / n_h,
  Var = sum_h N_h^2 (1 - f_h) s_h^2 / n_h; the same formula serves for
  post-stratification (Holt & Smith 1979, conditional on the n_h);
* stratified bootstrap: Rao & Wu (1988) rescaling bootstrap with m_h = n_h - 1 draws
  per stratum, written as replicate weights (Rao, Wu & Yue 1992), which carries the
  finite-population correction; percentile intervals.

Every estimator returns an :class:`Estimate`. A stratum of the frame with no
observed station cannot be estimated: it is listed in ``Estimate.empty_strata`` and
either raises :class:`EmptyStrataError` (``empty="error"``) or is pooled with the
other under-observed strata into one explicitly reported stratum (``empty="pool"``);
it is never merged silently.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from electwatch.errors import ElectwatchError

EmptyPolicy = Literal["pool", "error"]
POOLED = "(pooled: strata with fewer than 2 observed stations)"


class EmptyStrataError(ElectwatchError):
    """Some strata of the frame have fewer than two observed stations."""

    def __init__(self, strata: Sequence[str], observed: Sequence[int]) -> None:
        self.strata = list(strata)
        self.observed = list(observed)
        shown = ", ".join(f"{s!r} ({k} observed)" for s, k in zip(strata, observed, strict=True))
        super().__init__(
            f"{len(strata)} strata have fewer than 2 observed stations: {shown[:500]}; "
            "use coarser strata or pool them explicitly (empty='pool')"
        )


@dataclass(frozen=True)
class StratumSummary:
    """One stratum of a stratified estimate."""

    name: str
    stations: int  # N_h in the frame
    observed: int  # n_h
    mean: float  # mean voters per observed station (nan if none)
    sd: float  # sample standard deviation (nan if n_h < 2)
    pooled: bool = False  # True if pooled into POOLED because n_h < 2

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "stations": self.stations,
            "observed": self.observed,
            "mean": _num(self.mean),
            "sd": _num(self.sd),
            "pooled": self.pooled,
        }


@dataclass(frozen=True)
class Estimate:
    """A turnout (or voters) estimate with its sampling uncertainty.

    ``estimate``/``standard_error``/``ci_low``/``ci_high`` are in the unit of
    ``quantity``: ``"turnout"`` (a fraction of ``eligible``) when the number of
    eligible voters is known, else ``"voters"`` (a national total). ``total_voters``
    and ``per_station`` are always filled when they can be computed.
    """

    method: str
    quantity: str
    estimate: float
    standard_error: float
    ci_low: float
    ci_high: float
    confidence: float
    n: int
    total_stations: int | None = None
    total_voters: float | None = None
    total_voters_se: float | None = None
    per_station: float | None = None
    eligible: float | None = None
    strata: tuple[StratumSummary, ...] = ()
    empty_strata: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ci(self) -> tuple[float, float]:
        return (self.ci_low, self.ci_high)

    def contains(self, value: float) -> bool:
        return bool(self.ci_low <= value <= self.ci_high)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "quantity": self.quantity,
            "estimate": _num(self.estimate),
            "standard_error": _num(self.standard_error),
            "ci_low": _num(self.ci_low),
            "ci_high": _num(self.ci_high),
            "confidence": self.confidence,
            "n": self.n,
            "total_stations": self.total_stations,
            "total_voters": _num(self.total_voters),
            "total_voters_se": _num(self.total_voters_se),
            "per_station": _num(self.per_station),
            "eligible": _num(self.eligible),
            "strata": [s.to_dict() for s in self.strata],
            "empty_strata": list(self.empty_strata),
            "notes": list(self.notes),
            "extra": {k: _jsonable(v) for k, v in self.extra.items()},
        }


def _num(x: float | None) -> float | None:
    if x is None:
        return None
    x = float(x)
    return None if np.isnan(x) else x


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, float) and np.isnan(v):
        return None
    return v


def z_value(confidence: float) -> float:
    """Two-sided normal quantile, e.g. 1.95996 for 0.95."""
    if not 0 < confidence < 1:
        raise ValueError("confidence must be in (0, 1)")
    return float(stats.norm.ppf(0.5 + confidence / 2))


def _as_counts(voters: ArrayLike, what: str = "voters") -> np.ndarray:
    y = np.asarray(voters, dtype=float)
    if y.ndim != 1:
        raise ValueError(f"{what} must be a 1-d array")
    if y.size and (not np.isfinite(y).all() or (y < 0).any()):
        raise ValueError(f"{what} must be finite and non-negative")
    return y


def _from_total(
    method: str,
    total: float,
    total_se: float,
    n: int,
    total_stations: int | None,
    eligible: float | None,
    confidence: float,
    **kw: Any,
) -> Estimate:
    """Package a total and its SE as a turnout (if eligible is known) or voters estimate."""
    z = z_value(confidence)
    scale = 1.0 / eligible if eligible else 1.0
    est, se = total * scale, total_se * scale
    return Estimate(
        method=method,
        quantity="turnout" if eligible else "voters",
        estimate=est,
        standard_error=se,
        ci_low=est - z * se,
        ci_high=est + z * se,
        confidence=confidence,
        n=n,
        total_stations=total_stations,
        total_voters=total,
        total_voters_se=total_se,
        per_station=total / total_stations if total_stations else None,
        eligible=eligible,
        **kw,
    )


# --- naive expansion ----------------------------------------------------------------


def naive_expansion(
    voters: ArrayLike,
    total_stations: int,
    eligible: float | None = None,
    *,
    confidence: float = 0.95,
    fpc: bool = True,
) -> Estimate:
    """Mean voters per observed station x number of stations (/ eligible voters).

    Y^ = N ybar; SE(Y^) = N s / sqrt(n) * sqrt(1 - n/N) (Cochran 1977, eq. 2.19)
    under simple random sampling of stations.
    """
    y = _as_counts(voters)
    n = y.size
    if n == 0:
        raise ValueError("no observed stations")
    if total_stations < n:
        raise ValueError(f"total_stations ({total_stations}) < observed stations ({n})")
    f = n / total_stations if fpc else 0.0
    mean = float(y.mean())
    sd = float(y.std(ddof=1)) if n > 1 else float("nan")
    total = total_stations * mean
    se = total_stations * sd / np.sqrt(n) * np.sqrt(1 - f)
    return _from_total(
        "naive expansion",
        total,
        se,
        n,
        total_stations,
        eligible,
        confidence,
        extra={
            "mean_per_observed_station": mean,
            "sd_per_station": sd,
            "sampling_fraction": n / total_stations,
        },
    )


@dataclass(frozen=True)
class SummaryFigures:
    """The naive extrapolation from published summary figures only.

    ``observed_stations`` stations were watched and ``counted`` voters seen in total;
    there are ``total_stations`` stations and ``eligible`` voters nationwide.
    """

    observed_stations: int
    counted: int
    total_stations: int
    eligible: float | None = None

    def __post_init__(self) -> None:
        if self.observed_stations <= 0 or self.total_stations <= 0:
            raise ValueError("station numbers must be positive")
        if self.observed_stations > self.total_stations:
            raise ValueError("more observed stations than stations in total")
        if self.counted < 0:
            raise ValueError("counted voters must be non-negative")
        if self.eligible is not None and self.eligible <= 0:
            raise ValueError("eligible voters must be positive")

    @property
    def per_station(self) -> float:
        return self.counted / self.observed_stations

    @property
    def total_voters(self) -> float:
        # counted * N / n, exact in rational arithmetic before the one division
        return self.counted * self.total_stations / self.observed_stations

    @property
    def turnout(self) -> float | None:
        return self.total_voters / self.eligible if self.eligible else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "observed_stations": self.observed_stations,
            "counted": self.counted,
            "total_stations": self.total_stations,
            "eligible": self.eligible,
            "per_station": self.per_station,
            "total_voters": self.total_voters,
            "turnout": self.turnout,
        }


def naive_from_summary(
    figures: SummaryFigures,
    *,
    station_sd: float | None = None,
    confidence: float = 0.95,
) -> Estimate:
    """Naive expansion from totals only (what an observer report publishes).

    Without the per-station counts the between-station standard deviation is
    unknown; give ``station_sd`` to get the sampling interval, otherwise the SE and
    interval are NaN (never invented).
    """
    n, big_n = figures.observed_stations, figures.total_stations
    total = figures.total_voters
    if station_sd is None:
        se = float("nan")
        notes: tuple[str, ...] = (
            "no per-station counts: sampling SE unknown (give the per-station SD)",
        )
    else:
        se = big_n * station_sd / np.sqrt(n) * np.sqrt(1 - n / big_n)
        notes = (f"sampling SE from an assumed per-station SD of {station_sd:g}",)
    return _from_total(
        "naive expansion (summary figures)",
        total,
        se,
        n,
        big_n,
        figures.eligible,
        confidence,
        notes=notes,
        extra={"mean_per_observed_station": figures.per_station, "counted": figures.counted},
    )


# --- ratio to registered voters -------------------------------------------------------


def ratio_estimate(
    voters: ArrayLike,
    registered: ArrayLike,
    frame_registered: float,
    total_stations: int,
    eligible: float | None = None,
    *,
    confidence: float = 0.95,
) -> Estimate:
    """Ratio estimator: turnout among the registered R^ = sum y / sum x.

    Uses every observed station with a register, including a register of 0
    (special stations for voters away from home: their voters count in sum y and
    add nothing to sum x, exactly as in the true totals; dropping them biased the
    estimate down by their share of the vote). Stations with no register at all
    (missing) are left out and counted in ``extra['stations_without_register']``;
    ``extra['register_zero']`` counts the register-0 stations kept. The total is R^ X with X the
    frame's registered voters (Cochran 1977, §6.2), SE by linearisation (§6.3):
    Var(R^) = (1 - f) / (n xbar^2) * sum(y_i - R^ x_i)^2 / (n - 1).
    When ``eligible`` differs from X, turnout = R^ X / eligible.
    """
    y_all = _as_counts(voters)
    x_all = np.asarray(registered, dtype=float)
    if x_all.shape != y_all.shape:
        raise ValueError("voters and registered must have the same length")
    if (x_all < 0).any():
        raise ValueError("registered voters must be non-negative")
    ok = np.isfinite(x_all)
    y, x = y_all[ok], x_all[ok]
    n = y.size
    if n < 2 or x.sum() <= 0:
        raise ValueError("the ratio estimator needs at least 2 observed stations with registers")
    r = y.sum() / x.sum()
    f = n / total_stations
    resid = y - r * x
    var_r = (1 - f) / (n * x.mean() ** 2) * (resid @ resid) / (n - 1)
    total = r * frame_registered
    se_total = np.sqrt(var_r) * frame_registered
    return _from_total(
        "ratio to registered",
        float(total),
        float(se_total),
        n,
        total_stations,
        eligible if eligible else frame_registered,
        confidence,
        extra={
            "ratio": float(r),
            "stations_without_register": int((~ok).sum()),
            "register_zero": int((x == 0).sum()),
            "frame_registered": frame_registered,
        },
    )


# --- stratified -----------------------------------------------------------------------


@dataclass(frozen=True)
class StrataDesign:
    """Observed stations grouped into the frame's strata (after pooling, if any).

    ``labels[i]`` is the stratum index of observed station i; ``sizes[h]`` = N_h;
    ``counts[h]`` = n_h. Built by :func:`strata_design`.
    """

    names: tuple[str, ...]
    sizes: np.ndarray
    counts: np.ndarray
    labels: np.ndarray
    empty: tuple[str, ...]
    pooled: tuple[str, ...]
    summaries: tuple[StratumSummary, ...] = ()

    @property
    def weights(self) -> np.ndarray:
        """Per observed station N_h / n_h."""
        return (self.sizes / self.counts)[self.labels]

    @property
    def total_stations(self) -> int:
        return int(self.sizes.sum())


def strata_design(
    strata: ArrayLike,
    stratum_sizes: Mapping[str, int],
    *,
    empty: EmptyPolicy = "pool",
    voters: ArrayLike | None = None,
) -> StrataDesign:
    """Match observed stations' strata to the frame's stratum sizes N_h.

    Strata with n_h < 2 (no variance estimate possible) are reported and, with
    ``empty="pool"``, pooled into one stratum named :data:`POOLED`; with
    ``empty="error"`` an :class:`EmptyStrataError` is raised. If the pooled stratum
    itself has fewer than 2 observations, the error is raised too.
    """
    obs = np.asarray(strata).astype(str)
    names = np.array(sorted(map(str, stratum_sizes)))
    sizes = np.array([int(stratum_sizes[k]) for k in names], dtype=float)
    unknown = np.setdiff1d(np.unique(obs), names)
    if unknown.size:
        raise ValueError(f"observed stations in strata absent from the frame: {unknown[:5]}")
    idx = np.searchsorted(names, obs)
    counts = np.bincount(idx, minlength=names.size)
    if (counts > sizes).any():
        h = int(np.argmax(counts > sizes))
        raise ValueError(f"stratum {names[h]!r}: {counts[h]} observed > {int(sizes[h])} stations")
    y = _as_counts(voters) if voters is not None else None
    small = counts < 2
    empty_names = tuple(names[counts == 0])
    k = names.size
    with np.errstate(invalid="ignore", divide="ignore"):
        if y is not None:
            s1 = np.bincount(idx, weights=y, minlength=k)
            s2 = np.bincount(idx, weights=y * y, minlength=k)
            mean = s1 / counts
            sd = np.sqrt(np.maximum(s2 - counts * mean**2, 0.0) / (counts - 1))
            sd[counts < 2] = np.nan
        else:
            mean = sd = np.full(k, np.nan)
    summaries = [
        StratumSummary(str(nm), int(sz), int(c), float(m), float(d), pooled=bool(sm))
        for nm, sz, c, m, d, sm in zip(names, sizes, counts, mean, sd, small, strict=True)
    ]
    if small.any():
        if empty == "error":
            raise EmptyStrataError(list(map(str, names[small])), [int(c) for c in counts[small]])
        if counts[small].sum() < 2:
            # the pool needs 2 observations for a variance: add the least-observed
            # strata (fewest n_h first) until it has them; all of them are reported
            order = np.flatnonzero(~small)[np.argsort(counts[~small], kind="stable")]
            for h in order:
                small[h] = True
                if counts[small].sum() >= 2:
                    break
            if counts[small].sum() < 2:
                raise EmptyStrataError(list(map(str, names)), [int(c) for c in counts])
            summaries = [
                StratumSummary(s.name, s.stations, s.observed, s.mean, s.sd, pooled=bool(small[h]))
                for h, s in enumerate(summaries)
            ]
        keep = ~small
        new_names = np.concatenate([names[keep], [POOLED]])
        new_sizes = np.concatenate([sizes[keep], [sizes[small].sum()]])
        remap = np.full(names.size, new_names.size - 1)
        remap[keep] = np.arange(keep.sum())
        idx = remap[idx]
        names, sizes = new_names, new_sizes
        counts = np.bincount(idx, minlength=names.size)
    pooled = tuple(s.name for s in summaries if s.pooled)
    return StrataDesign(
        tuple(map(str, names)), sizes, counts, idx, empty_names, pooled, tuple(summaries)
    )


def stratified_estimate(
    voters: ArrayLike,
    strata: ArrayLike,
    stratum_sizes: Mapping[str, int],
    eligible: float | None = None,
    *,
    confidence: float = 0.95,
    empty: EmptyPolicy = "pool",
    method: str = "stratified",
) -> Estimate:
    """Stratified expansion Y^ = sum_h N_h ybar_h with finite-population correction.

    Var(Y^) = sum_h N_h^2 (1 - n_h/N_h) s_h^2 / n_h (Cochran 1977, eq. 5.6/5.7).
    ``strata`` gives each observed station's stratum label, ``stratum_sizes`` the
    number of stations per stratum in the frame (all strata, observed or not).
    Used on a non-stratified sample it is the post-stratified estimator.
    """
    y = _as_counts(voters)
    d = strata_design(strata, stratum_sizes, empty=empty, voters=y)
    k = len(d.names)
    sums = np.bincount(d.labels, weights=y, minlength=k)
    sq = np.bincount(d.labels, weights=y * y, minlength=k)
    n_h = d.counts.astype(float)
    mean_h = sums / n_h
    var_h = (sq - n_h * mean_h**2) / (n_h - 1)
    var_h = np.maximum(var_h, 0.0)
    total = float(d.sizes @ mean_h)
    var = float(np.sum(d.sizes**2 * (1 - n_h / d.sizes) * var_h / n_h))
    notes = []
    if d.pooled:
        notes.append(
            f"{len(d.pooled)} strata with fewer than 2 observed stations pooled into one "
            f"({len(d.empty)} with none): {', '.join(d.pooled[:10])}"
            + (" ..." if len(d.pooled) > 10 else "")
        )
    return _from_total(
        method,
        total,
        float(np.sqrt(var)),
        y.size,
        d.total_stations,
        eligible,
        confidence,
        strata=d.summaries,
        empty_strata=d.empty,
        notes=tuple(notes),
        extra={"pooled_strata": list(d.pooled), "n_strata": len(d.summaries)},
    )


def stratified_ratio_estimate(
    voters: ArrayLike,
    registered: ArrayLike,
    strata: ArrayLike,
    stratum_sizes: Mapping[str, int],
    frame_registered: float,
    eligible: float | None = None,
    *,
    confidence: float = 0.95,
    empty: EmptyPolicy = "pool",
) -> Estimate:
    """Combined ratio estimator over strata (Cochran 1977, §6.11).

    R^_c = sum_h N_h ybar_h / sum_h N_h xbar_h, total = R^_c X, and
    Var(R^_c) ~ sum_h N_h^2 (1 - f_h) s_dh^2 / n_h / X^_st^2 with
    d_i = y_i - R^_c x_i. Every observed station needs a register; a register of zero
    is a register (real files have stations with 0 registered and 0 cast, which add
    nothing to either sum), only the estimated total X^_st must be positive.
    """
    y = _as_counts(voters)
    x = np.asarray(registered, dtype=float)
    if x.shape != y.shape or not (np.isfinite(x) & (x >= 0)).all():
        raise ValueError("the stratified ratio estimator needs a register for every station")
    d = strata_design(strata, stratum_sizes, empty=empty, voters=y)
    k = len(d.names)
    n_h = d.counts.astype(float)
    ybar = np.bincount(d.labels, weights=y, minlength=k) / n_h
    xbar = np.bincount(d.labels, weights=x, minlength=k) / n_h
    x_st = float(d.sizes @ xbar)
    if x_st <= 0:
        raise ValueError("the observed stations have no registered voters: no ratio")
    r = float(d.sizes @ ybar) / x_st
    resid = y - r * x
    rbar = np.bincount(d.labels, weights=resid, minlength=k) / n_h
    ss = np.bincount(d.labels, weights=(resid - rbar[d.labels]) ** 2, minlength=k)
    var_r = float(np.sum(d.sizes**2 * (1 - n_h / d.sizes) * ss / (n_h - 1) / n_h)) / x_st**2
    total = r * frame_registered
    return _from_total(
        "stratified ratio to registered", total, float(np.sqrt(var_r)) * frame_registered,
        y.size, d.total_stations, eligible if eligible else frame_registered, confidence,
        strata=d.summaries, empty_strata=d.empty,
        extra={"ratio": r, "pooled_strata": list(d.pooled), "register_zero": int((x == 0).sum())},
    )  # fmt: skip


# --- stratified bootstrap -------------------------------------------------------------


def rescaled_bootstrap_weights(
    design: StrataDesign, n_resamples: int, rng: np.random.Generator
) -> np.ndarray:
    """Replicate weights (B x n) of the Rao-Wu rescaling bootstrap, m_h = n_h - 1.

    In each stratum draw n_h - 1 stations with replacement (multiplicity m*_i), then
    w*_i = 1 - lambda_h + lambda_h * n_h / (n_h - 1) * m*_i with
    lambda_h = sqrt(1 - f_h) (Rao, Wu & Yue 1992, eq. 2.4). Rows sum to n_h per
    stratum, weights are non-negative, and the bootstrap variance of a stratified
    mean equals the textbook variance with its finite-population correction.
    Vectorised over replicates and strata at once: with stations sorted by stratum,
    every replicate makes sum_h (n_h - 1) uniform draws, each mapped into its
    stratum's block, and one bincount gives all multiplicities.
    """
    n = design.labels.size
    b = n_resamples
    counts = design.counts.astype(np.int64)
    order = np.argsort(design.labels, kind="stable")  # sorted position -> station
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    m_h = counts - 1
    slot_stratum = np.repeat(np.arange(counts.size), m_h)  # one slot per draw
    lo = offsets[slot_stratum]
    width = counts[slot_stratum]
    u = rng.random((b, slot_stratum.size))
    draws = lo + (u * width).astype(np.int64)  # sorted positions, within the stratum
    draws += (np.arange(b, dtype=np.int64) * n)[:, None]
    mult = np.bincount(draws.ravel(), minlength=b * n).reshape(b, n)
    lam = np.sqrt(1 - counts / design.sizes)
    scale = np.repeat(lam * counts / np.maximum(m_h, 1), counts)  # per sorted position
    shift = np.repeat(1 - lam, counts)
    w = np.empty((b, n))
    w[:, order] = shift + scale * mult
    return w


def bootstrap_stratified(
    voters: ArrayLike,
    strata: ArrayLike | None,
    stratum_sizes: Mapping[str, int] | None,
    eligible: float | None = None,
    *,
    total_stations: int | None = None,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int | np.random.Generator | None = 0,
    empty: EmptyPolicy = "pool",
    registered: ArrayLike | None = None,
    frame_registered: float | None = None,
) -> Estimate:
    """Bootstrap percentile interval of the stratified (or, with ``registered``,
    separate-ratio) estimator, resampling stations within strata.

    Without strata (``strata=None``) the whole sample is one stratum of
    ``total_stations``. With ``registered`` and ``frame_registered`` the statistic is
    the combined ratio estimator R^ X where R^ = sum w y / sum w x (Cochran §6.11).
    """
    y = _as_counts(voters)
    if strata is None or stratum_sizes is None:
        if total_stations is None:
            raise ValueError("give strata and stratum_sizes, or total_stations")
        strata = np.zeros(y.size, dtype=int)
        stratum_sizes = {"0": total_stations}
    d = strata_design(strata, stratum_sizes, empty=empty, voters=y)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    w = rescaled_bootstrap_weights(d, n_resamples, rng)
    expand = d.weights  # N_h / n_h
    if registered is None:
        point = float(expand @ y)
        reps = w @ (expand * y)
        method = "stratified bootstrap"
    else:
        x = np.asarray(registered, dtype=float)
        if frame_registered is None or not np.isfinite(x).all():
            raise ValueError(
                "the ratio bootstrap needs registers for every observed station "
                "and frame_registered"
            )
        point = float((expand @ y) / (expand @ x) * frame_registered)
        reps = (w @ (expand * y)) / (w @ (expand * x)) * frame_registered
        method = "stratified bootstrap (ratio to registered)"
    return bootstrap_estimate(method, point, reps, d, eligible, confidence, y.size)


def bootstrap_estimate(
    method: str,
    point: float,
    replicates: np.ndarray,
    design: StrataDesign,
    eligible: float | None,
    confidence: float,
    n: int,
) -> Estimate:
    """Percentile interval and replicate SE of a bootstrapped total of voters."""
    alpha = 1 - confidence
    lo, hi = np.quantile(replicates, [alpha / 2, 1 - alpha / 2])
    se = float(replicates.std(ddof=1))
    scale = 1.0 / eligible if eligible else 1.0
    notes = []
    if design.pooled:
        notes.append(
            f"{len(design.pooled)} strata with fewer than 2 observed stations pooled "
            f"into one ({len(design.empty)} with none)"
        )
    big_n = design.total_stations
    return Estimate(
        method=method,
        quantity="turnout" if eligible else "voters",
        estimate=point * scale,
        standard_error=se * scale,
        ci_low=float(lo) * scale,
        ci_high=float(hi) * scale,
        confidence=confidence,
        n=n,
        total_stations=big_n,
        total_voters=point,
        total_voters_se=se,
        per_station=point / big_n,
        eligible=eligible,
        strata=design.summaries,
        empty_strata=design.empty,
        notes=tuple(notes),
        extra={
            "n_resamples": int(replicates.size),
            "interval": "percentile",
            "pooled_strata": list(design.pooled),
        },
    )
