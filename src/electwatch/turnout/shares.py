"""Vote shares from a quick count (parallel vote tabulation, PVT).

Observers copy each sampled station's result protocol: votes per candidate plus
``blank`` and ``invalid``. A share is a ratio of two estimated totals,

    p_j = Y^_j / T^,   Y^_j = sum_h N_h ybar_jh,   T^ = sum_j Y^_j,

the combined (stratified) ratio estimator (Cochran 1977, *Sampling Techniques*,
§6.11), as in the NDI quick-count handbook (Estok, Nevitte & Cowan 2002, *The Quick
Count and Election Observation*, ch. 5 and appendix on sampling) and the Mexican INE
quick-count committee (COTECORA) methodology, whose "classical" estimator is this
stratified ratio with a linearisation (Taylor) variance.

Linearisation: with influence values z_ij = (y_ij - p_j t_i) / T^ (t_i the station's
total of all outcomes) the variance of p_j is the stratified variance of the total of
z_j, Var = sum_h N_h^2 (1 - f_h) s^2_{z,h} / n_h (Cochran eq. 5.6 applied to z;
Woodruff 1971). Stacking the influence values of every share, the margin between the
top two and turnout gives their joint covariance matrix in one pass.

Bootstrap: Rao-Wu rescaled replicate weights per stratum (Rao, Wu & Yue 1992), the
same replicates for every share and for turnout, so joint statements (the margin, the
leader above 50%) come from one set of replicates; percentile intervals.

Turnout is the total of all outcomes (ballots cast) over registered voters: the
combined ratio T^ / X^ scaled to the frame's register, or T^ / eligible when the frame
has no registers. Stations with a register of 0 (special stations for voters away
from home) are kept in every sum: they add votes and no register, exactly as they do
in the true totals; they are counted and reported.

P(leader > 50%) is the probability, under the normal approximation of the
linearised estimator (or the share of bootstrap replicates), that the leader's share
of the outcomes counted exceeds one half -- the run-off call. Whether blank and
invalid count in the denominator depends on the law; ``majority_of`` chooses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from electwatch.data.observations import RESERVED_OUTCOMES
from electwatch.turnout.estimate import (
    EmptyPolicy,
    StrataDesign,
    rescaled_bootstrap_weights,
    strata_design,
    z_value,
)

Method = Literal["linearisation", "bootstrap"]


@dataclass(frozen=True)
class Interval:
    """One estimated quantity with SE and a confidence interval (fractions)."""

    name: str
    estimate: float
    standard_error: float
    ci_low: float
    ci_high: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "estimate": _num(self.estimate),
            "standard_error": _num(self.standard_error),
            "ci_low": _num(self.ci_low),
            "ci_high": _num(self.ci_high),
        }

    def contains(self, value: float) -> bool:
        return bool(self.ci_low <= value <= self.ci_high)


@dataclass(frozen=True)
class QuickCount:
    """Shares of every outcome, the margin of the top two, the run-off call and turnout.

    ``shares`` are of all outcomes given (candidates, blank and invalid if present);
    ``majority_shares`` are of the outcomes named in ``majority_of`` (by default the
    candidates only: valid votes), on which the leader's 50% is judged. ``covariance``
    is the joint covariance of (shares..., turnout) for the linearisation method and
    the replicate covariance for the bootstrap.
    """

    method: str
    outcomes: tuple[str, ...]
    shares: tuple[Interval, ...]
    majority_shares: tuple[Interval, ...]
    margin: Interval  # leader minus runner-up, shares of majority_of
    leader: str
    runner_up: str
    p_leader_majority: float
    turnout: Interval | None
    turnout_quantity: str  # "turnout of registered", "turnout of eligible" or "none"
    confidence: float
    n: int
    total_stations: int
    register_zero_observed: int
    register_zero_frame: int | None
    covariance: np.ndarray
    empty_strata: tuple[str, ...] = ()
    pooled_strata: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def share(self, outcome: str) -> Interval:
        for s in self.shares:
            if s.name == outcome:
                return s
        raise KeyError(f"no outcome {outcome!r}; outcomes are {list(self.outcomes)}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "outcomes": list(self.outcomes),
            "shares": [s.to_dict() for s in self.shares],
            "majority_shares": [s.to_dict() for s in self.majority_shares],
            "margin": self.margin.to_dict(),
            "leader": self.leader,
            "runner_up": self.runner_up,
            "p_leader_majority": self.p_leader_majority,
            "turnout": self.turnout.to_dict() if self.turnout else None,
            "turnout_quantity": self.turnout_quantity,
            "confidence": self.confidence,
            "n": self.n,
            "total_stations": self.total_stations,
            "register_zero_observed": self.register_zero_observed,
            "register_zero_frame": self.register_zero_frame,
            "covariance": self.covariance.tolist(),
            "empty_strata": list(self.empty_strata),
            "pooled_strata": list(self.pooled_strata),
            "notes": list(self.notes),
            "extra": self.extra,
        }


def _num(x: float | None) -> float | None:
    if x is None:
        return None
    x = float(x)
    return None if np.isnan(x) else x


def stratified_covariance(influence: np.ndarray, design: StrataDesign) -> np.ndarray:
    """Covariance of the estimated totals sum_i (N_h/n_h) z_i of each column of z.

    sum_h N_h^2 (1 - f_h) / n_h * S_h, S_h the within-stratum sample covariance
    (Cochran 1977, eq. 5.6, one column at a time; jointly for the cross terms).
    """
    z = np.atleast_2d(np.asarray(influence, dtype=float).T).T  # (n x k)
    k = len(design.names)
    n_h = design.counts.astype(float)
    lab = design.labels
    means = np.zeros((k, z.shape[1]))
    for j in range(z.shape[1]):
        means[:, j] = np.bincount(lab, weights=z[:, j], minlength=k) / n_h
    zc = z - means[lab]
    c = design.sizes**2 * (1 - n_h / design.sizes) / (n_h * (n_h - 1))
    return np.asarray(zc.T @ (zc * c[lab][:, None]))


def quick_count(
    counts: ArrayLike,
    outcomes: Sequence[str],
    strata: ArrayLike | None = None,
    stratum_sizes: Mapping[str, int] | None = None,
    *,
    total_stations: int | None = None,
    registered: ArrayLike | None = None,
    frame_registered: float | None = None,
    eligible: float | None = None,
    register_zero_frame: int | None = None,
    majority_of: Sequence[str] | None = None,
    method: Method = "linearisation",
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int | np.random.Generator | None = 0,
    empty: EmptyPolicy = "pool",
) -> QuickCount:
    """Shares, margin, P(leader > 50%) and turnout from per-station outcome counts.

    ``counts`` is (stations x outcomes); ``strata``/``stratum_sizes`` as in
    :func:`~electwatch.turnout.estimate.stratified_estimate` (or ``total_stations``
    for one stratum, simple random sampling). ``registered`` (per observed station)
    with ``frame_registered`` gives turnout as the combined ratio to the register;
    with only ``eligible`` turnout is the expanded total over eligible voters.
    ``majority_of`` names the outcomes of the run-off denominator (default: all but
    ``blank``/``invalid``).
    """
    y = np.asarray(counts, dtype=float)
    names = tuple(str(o) for o in outcomes)
    if y.ndim != 2 or y.shape[1] != len(names):
        raise ValueError("counts must be (stations x outcomes), one column per outcome")
    if len(set(names)) != len(names):
        raise ValueError(f"outcome names repeat: {list(names)}")
    if y.size and (not np.isfinite(y).all() or (y < 0).any()):
        raise ValueError("outcome counts must be finite and non-negative")
    n = y.shape[0]
    if strata is None or stratum_sizes is None:
        if total_stations is None:
            raise ValueError("give strata and stratum_sizes, or total_stations")
        strata = np.zeros(n, dtype=int)
        stratum_sizes = {"0": total_stations}
    d = strata_design(strata, stratum_sizes, empty=empty, voters=y.sum(axis=1))
    maj = (
        tuple(majority_of)
        if majority_of is not None
        else tuple(o for o in names if o not in RESERVED_OUTCOMES)
    )
    unknown = [o for o in maj if o not in names]
    if unknown or len(maj) < 2:
        raise ValueError(f"majority_of must name at least 2 outcomes of {list(names)}")
    maj_idx = np.array([names.index(o) for o in maj])
    x = None
    if registered is not None:
        x = np.asarray(registered, dtype=float)
        if x.shape != (n,) or not (np.isfinite(x) & (x >= 0)).all():
            raise ValueError("registered must be given (>= 0) for every observed station")
        if not frame_registered:
            raise ValueError("turnout to the register needs frame_registered")
    x_frame = float(frame_registered or 0.0)
    reg0 = int((x == 0).sum()) if x is not None else 0
    expand = d.weights
    tot_y = expand @ y  # (J,)
    if tot_y.sum() <= 0:
        raise ValueError("the observed stations report no votes: no shares")
    if tot_y[maj_idx].sum() <= 0:
        raise ValueError(f"no votes for any of {list(maj)}: no majority shares")
    z = z_value(confidence)
    alpha = 1 - confidence
    notes: list[str] = []
    if d.pooled:
        notes.append(
            f"{len(d.pooled)} strata with fewer than 2 observed stations pooled into one "
            f"({len(d.empty)} with none)"
        )
    if reg0:
        notes.append(
            f"{reg0} observed stations have a register of 0; their votes are kept in "
            "every total (turnout is a ratio to the frame's register)"
        )
    elig = eligible if eligible else frame_registered
    quantity = (
        "turnout of registered"
        if x is not None and not eligible
        else ("turnout of eligible" if elig else "none")
    )

    def point_stats(w: np.ndarray) -> np.ndarray:
        """(B x k) statistics: shares..., majority shares..., margin, turnout."""
        ty = w @ (expand[:, None] * y)  # (B x J)
        p = ty / ty.sum(axis=1, keepdims=True)
        pm = ty[:, maj_idx] / ty[:, maj_idx].sum(axis=1, keepdims=True)
        marg = pm[:, lead_pos] - pm[:, run_pos]
        t_tot = ty.sum(axis=1)
        if x is not None:
            turn = t_tot / (w @ (expand * x)) * x_frame / (elig or x_frame)
        elif elig:
            turn = t_tot / elig
        else:
            turn = np.full(t_tot.shape, np.nan)
        return np.column_stack([p, pm, marg, turn])

    pm_point = tot_y[maj_idx] / tot_y[maj_idx].sum()
    order = np.argsort(-pm_point, kind="stable")
    lead_pos, run_pos = int(order[0]), int(order[1])
    point = point_stats(np.ones((1, n)))[0]
    jn = len(names)
    jm = len(maj)
    if method == "linearisation":
        t_i = y.sum(axis=1)
        big_t = tot_y.sum()
        p = tot_y / big_t
        infl_share = (y - t_i[:, None] * p[None, :]) / big_t
        ym = y[:, maj_idx]
        tm_i = ym.sum(axis=1)
        big_tm = tot_y[maj_idx].sum()
        infl_maj = (ym - tm_i[:, None] * pm_point[None, :]) / big_tm
        infl_margin = infl_maj[:, lead_pos] - infl_maj[:, run_pos]
        if x is not None:
            big_x = float(expand @ x)
            if big_x <= 0:
                raise ValueError("the observed stations have no registered voters: no turnout")
            r = big_t / big_x
            scale = x_frame / (elig or x_frame)
            infl_turn = (t_i - r * x) / big_x * scale
        elif elig:
            infl_turn = t_i / elig
        else:
            infl_turn = np.zeros(n)
        infl = np.column_stack([infl_share, infl_maj, infl_margin, infl_turn])
        cov = stratified_covariance(infl, d)
        se = np.sqrt(np.maximum(np.diag(cov), 0.0))
        lo, hi = point - z * se, point + z * se
        se_lead = se[jn + lead_pos]
        p_major = (
            float(stats.norm.sf((0.5 - point[jn + lead_pos]) / se_lead))
            if se_lead > 0
            else float(point[jn + lead_pos] > 0.5)
        )
        label = "stratified ratio (linearisation)"
        extra: dict[str, Any] = {"interval": "normal (Taylor linearisation)"}
    elif method == "bootstrap":
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        # replicates in chunks: the (B x n) weights of 2,000 x 7,500 stations would
        # take 120 MB per array; chunks of 250 keep memory small and caches warm
        reps = np.vstack(
            [
                point_stats(rescaled_bootstrap_weights(d, min(250, n_resamples - b0), rng))
                for b0 in range(0, n_resamples, 250)
            ]
        )
        lo, hi = np.quantile(reps, [alpha / 2, 1 - alpha / 2], axis=0)
        se = reps.std(axis=0, ddof=1)
        cov = np.cov(reps, rowvar=False)
        p_major = float((reps[:, jn + lead_pos] > 0.5).mean())
        label = "stratified ratio (bootstrap)"
        extra = {"interval": "percentile", "n_resamples": n_resamples}
    else:
        raise ValueError(f"method must be 'linearisation' or 'bootstrap', not {method!r}")

    def interval(k: int, name: str) -> Interval:
        return Interval(name, float(point[k]), float(se[k]), float(lo[k]), float(hi[k]))

    cov_out = cov[np.ix_([*range(jn), jn + jm + 1], [*range(jn), jn + jm + 1])]
    turnout = interval(jn + jm + 1, quantity) if quantity != "none" else None
    return QuickCount(
        method=label,
        outcomes=names,
        shares=tuple(interval(j, names[j]) for j in range(jn)),
        majority_shares=tuple(interval(jn + j, maj[j]) for j in range(jm)),
        margin=interval(jn + jm, f"{maj[lead_pos]} - {maj[run_pos]}"),
        leader=maj[lead_pos],
        runner_up=maj[run_pos],
        p_leader_majority=p_major,
        turnout=turnout,
        turnout_quantity=quantity,
        confidence=confidence,
        n=n,
        total_stations=d.total_stations,
        register_zero_observed=reg0,
        register_zero_frame=register_zero_frame,
        covariance=cov_out,
        empty_strata=d.empty,
        pooled_strata=d.pooled,
        notes=tuple(notes),
        extra=extra | {"majority_of": list(maj)},
    )
