"""Reconciling observations with a claimed figure, and sensitivity to non-sampling error.

Given an estimate from observed stations and a claimed national figure (e.g. an
official turnout), :func:`reconcile` reports what the claim implies per station and
the smallest single non-sampling error that would make the observations consistent
with it:

* undercount u: observers saw a share 1 - u of voters: u* = 1 - Y^ / Y_claim;
* selection ratio kappa: the observed stations average kappa times the national
  mean per station (a sample heavy in low-turnout strata): kappa* = Y^ / Y_claim;
* watch coverage: the watch covered a share s of the day's arrivals: s* = kappa*.

Each is also given at the upper end of the sampling interval (the most favourable
case for the claim). The p-value is the two-sided normal test of H0: total = Y_claim
with the estimate's standard error (valid under the sampling design the estimate
assumes, and nothing else). For summary figures without an SE, the largest
per-station standard deviation under which the claim would still sit inside the 95%
interval is reported instead.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from electwatch.turnout.estimate import Estimate, _num, z_value


@dataclass(frozen=True)
class Reconciliation:
    claimed_turnout: float | None
    claimed_voters: float
    implied_per_station: float | None
    observed_per_station: float | None
    ratio: float  # claimed / estimated total
    undercount_needed: float  # u*
    selection_ratio_needed: float  # kappa* (= watch coverage needed)
    undercount_needed_at_ci: float | None
    z: float | None
    p_value: float | None
    log10_p_value: float | None
    max_station_sd_consistent: float | None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {
            k: (_num(v) if isinstance(v, float) else v)
            for k, v in self.__dict__.items()
            if k != "notes"
        } | {"notes": list(self.notes)}


def parse_claim(text: str, eligible: float | None) -> tuple[float | None, float]:
    """``"41%"`` -> (0.41, 0.41 * eligible); ``"25000000"`` -> (turnout, voters)."""
    t = text.strip().replace(",", "")
    if t.endswith("%"):
        turnout = float(t[:-1]) / 100
        if not eligible:
            raise ValueError("a claimed turnout in % needs the number of eligible voters")
        return turnout, turnout * eligible
    value = float(t)
    if value <= 1.0:
        if not eligible:
            raise ValueError("a claimed turnout fraction needs the number of eligible voters")
        return value, value * eligible
    return (value / eligible if eligible else None), value


def reconcile(
    estimate: Estimate,
    claimed_voters: float,
    *,
    n_observed: int | None = None,
) -> Reconciliation:
    """What a claimed national total of voters implies, against an estimate."""
    if estimate.total_voters is None:
        raise ValueError("the estimate has no total of voters")
    est = estimate.total_voters
    big_n = estimate.total_stations
    eligible = estimate.eligible
    ratio = claimed_voters / est if est else math.inf
    u_star = max(0.0, 1 - est / claimed_voters) if claimed_voters > est else 0.0
    kappa = est / claimed_voters
    se = estimate.total_voters_se
    notes = []
    z = p = log10p = u_ci = sd_max = None
    if se is not None and np.isfinite(se) and se > 0:
        z = (est - claimed_voters) / se
        p = float(2 * stats.norm.sf(abs(z)))
        log10p = float((math.log(2) + stats.norm.logsf(abs(z))) / math.log(10))
        zc = z_value(estimate.confidence)
        upper = est + zc * se
        u_ci = max(0.0, 1 - upper / claimed_voters)
    elif big_n:
        n = n_observed or estimate.n
        zc = z_value(estimate.confidence)
        # claim inside the interval iff |Y_claim - Y^| <= z N sd / sqrt(n) sqrt(1 - n/N)
        sd_max = abs(claimed_voters - est) * math.sqrt(n) / (zc * big_n * math.sqrt(1 - n / big_n))
        notes.append(
            f"no sampling SE: the claim would sit inside the {estimate.confidence:.0%} interval "
            f"only if the per-station SD were at least {sd_max:,.0f} voters"
        )
    return Reconciliation(
        claimed_turnout=claimed_voters / eligible if eligible else None,
        claimed_voters=claimed_voters,
        implied_per_station=claimed_voters / big_n if big_n else None,
        observed_per_station=estimate.per_station,
        ratio=ratio,
        undercount_needed=u_star,
        selection_ratio_needed=kappa,
        undercount_needed_at_ci=u_ci,
        z=z,
        p_value=p,
        log10_p_value=log10p,
        max_station_sd_consistent=sd_max,
        notes=tuple(notes),
    )


def station_sd_for_upper_bound(estimate: Estimate, upper_turnout: float) -> float | None:
    """Per-station SD at which the upper end of the sampling interval reaches a bound.

    Answers "could '<= 8.2%' be a sampling bound?": it could only if the stations'
    counts varied with this standard deviation.
    """
    if not (estimate.eligible and estimate.total_stations and estimate.total_voters):
        return None
    big_n, n = estimate.total_stations, estimate.n
    gap = upper_turnout * estimate.eligible - estimate.total_voters
    zc = z_value(estimate.confidence)
    return gap * math.sqrt(n) / (zc * big_n * math.sqrt(1 - n / big_n))


def round_up_bound(
    total: float, eligible: float | None, unit: float = 1e6
) -> tuple[float, float | None]:
    """The total rounded up to the next ``unit`` and its turnout ("under 5 million")."""
    bound = math.ceil(total / unit) * unit
    return bound, (bound / eligible if eligible else None)


def selection_ratio(sample_share: float, population_share: float, relative_level: float) -> float:
    """kappa for a sample over-representing one group of stations.

    A group holds ``population_share`` of stations but ``sample_share`` of the observed
    ones, and its voters per station are ``relative_level`` times the others'. Then
    E[observed mean] / national mean = (phi r + 1 - phi) / (pi r + 1 - pi).
    """
    phi, pi, r = sample_share, population_share, relative_level
    return (phi * r + 1 - phi) / (pi * r + 1 - pi)


@dataclass(frozen=True)
class SensitivityTable:
    """Turnout (or voters) under undercount u (rows) and selection ratio kappa (columns).

    adjusted = estimate / ((1 - u) * kappa).
    """

    quantity: str
    undercounts: tuple[float, ...]
    selection_ratios: tuple[float, ...]
    values: np.ndarray  # (len(undercounts) x len(selection_ratios))
    ci_high: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        return {
            "quantity": self.quantity,
            "undercounts": list(self.undercounts),
            "selection_ratios": list(self.selection_ratios),
            "values": self.values.tolist(),
            "ci_high": [[_num(v) for v in row] for row in self.ci_high.tolist()],
        }


def sensitivity_table(
    estimate: Estimate,
    undercounts: Sequence[float] = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5),
    selection_ratios: Sequence[float] = (1.0, 0.9, 0.8, 0.6, 0.4, 0.2),
) -> SensitivityTable:
    """The estimate under ranges of observer undercount and selection bias (vectorised)."""
    u = np.asarray(undercounts, dtype=float)
    k = np.asarray(selection_ratios, dtype=float)
    if ((u < 0) | (u >= 1)).any() or (k <= 0).any():
        raise ValueError("undercounts must be in [0, 1) and selection ratios positive")
    factor = 1.0 / ((1 - u)[:, None] * k[None, :])
    hi = estimate.ci_high if np.isfinite(estimate.ci_high) else np.nan
    return SensitivityTable(
        estimate.quantity,
        tuple(u.tolist()),
        tuple(k.tolist()),
        estimate.estimate * factor,
        hi * factor,
    )
