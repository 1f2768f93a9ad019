"""The live estimate: turnout and vote shares from what observers have sent so far.

One call, :func:`estimate_live`, takes the stations' counts (observation records),
their tally-mode readings (cumulative snapshots), their result protocols and the
station frame, and returns a :class:`LiveEstimate`: turnout by one declared
estimator with its interval, each outcome's share (candidates, ``blank``,
``invalid``) with its interval, the margin between the top two, P(leader > 50%),
and every station left out, counted by reason. The service's analyst page and API
show this object and compute nothing themselves.

Estimators (all from this package, none re-implemented here):

* turnout: :func:`~electwatch.turnout.analysis.estimate_turnout` runs every
  estimator; the one shown is, by default, the first available of the stratified
  ratio and ratio estimators (Cochran 1977, *Sampling Techniques*, §6.2-6.3 and
  §6.11) when every station of the frame has a register, else the stratified or
  naive expansion (Cochran eq. 5.6 and 2.19). Partial watch windows are corrected
  by the arrival profile: estimated from hourly counts or snapshots when at least
  two stations have them (EM of :mod:`electwatch.turnout.snapshots`), else the
  uniform profile over the polling hours (an assumption, stated in the notes);
  windows covering less than :data:`~electwatch.turnout.analysis.MIN_COVERED_SHARE`
  of the day's arrivals are excluded and counted.
* shares: :func:`~electwatch.turnout.shares.quick_count`, the combined ratio
  estimator of a quick count (Cochran §6.11; Estok, Nevitte & Cowan 2002) with a
  linearisation or Rao-Wu bootstrap interval; the margin and P(leader > 50%) come
  from the same fit.

Register 0: stations with a register of 0 are *kept* by every estimator (their
voters count, their register adds nothing, as in the true totals); they are counted
in ``register_zero``, not among the exclusions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import polars as pl

from electwatch.core.applicability import MinimumSample, NotApplicable
from electwatch.data.observations import RESERVED_OUTCOMES, ArrivalProfile
from electwatch.errors import DataValidationError
from electwatch.turnout.analysis import (
    MIN_COVERED_SHARE,
    TurnoutAnalysis,
    estimate_turnout,
)
from electwatch.turnout.estimate import Estimate
from electwatch.turnout.frame import StationFrame
from electwatch.turnout.observations import (
    OUTCOME_PREFIX,
    Observations,
    observations_from_records,
)
from electwatch.turnout.shares import QuickCount, quick_count
from electwatch.turnout.snapshots import (
    Snapshots,
    snapshots_from_records,
    snapshots_to_observations,
)

#: turnout estimators in the order ``estimator="auto"`` prefers them
PREFERENCE = ("stratified ratio", "ratio", "stratified", "naive")
#: the register-based estimators, used by "auto" only when every frame station has a
#: register (a partial register total would understate the denominator)
_RATIO = ("stratified ratio", "ratio")
#: stratum size standing for "unknown, large" without a frame (fpc = 1 to 1e-6)
_NO_FRAME_SIZE = 10**12

#: the reasons a station's count or protocol can be left out (keys of ``exclusions``)
EXCLUSION_REASONS = {
    "not_in_frame": "observed station not in the station frame",
    "low_coverage": "watch window below the coverage threshold",
    "no_count": "no usable count (e.g. observers' counts conflict)",
    "protocol_not_in_frame": "protocol of a station not in the station frame",
    "protocol_disagreement": "observers' protocols differ and none is verified",
    "snapshots_superseded": "snapshots of a station that also has a count record",
    "snapshots_invalid": "snapshots that fail validation (e.g. a decreasing count)",
    "no_register": "station without a register (ratio estimators)",
}


@dataclass(frozen=True)
class LiveEstimate:
    """Turnout and vote shares with intervals, and what was left out and why.

    ``turnout`` is the estimate of ``estimator`` (``None`` with ``turnout_error``
    when no turnout can be estimated); ``estimates`` holds every estimator that
    ran. ``shares`` is the quick count (``None`` with ``shares_error``).
    ``exclusions`` counts stations left out by reason (:data:`EXCLUSION_REASONS`,
    plus any reasons the caller counted before, e.g. ``conflict``).
    ``n_observed`` stations have a usable count (in the frame, window above the
    coverage threshold); ``n_protocols`` have a usable protocol (the shares use them
    all once there are at least 2).
    ``mean_per_station`` is the mean whole-day count of the observed stations
    (partial windows corrected, before any expansion).
    """

    estimator: str | None
    turnout: Estimate | None
    estimates: dict[str, Estimate]
    shares: QuickCount | None
    exclusions: dict[str, int]
    register_zero: int
    register_zero_frame: int
    n_observed: int
    n_protocols: int
    n_stations: int | None
    mean_per_station: float | None
    profile: ArrivalProfile | None
    profile_source: str  # "given", "estimated", "uniform (assumed)" or "none"
    turnout_not_applicable: NotApplicable | None = None
    shares_not_applicable: NotApplicable | None = None
    notes: tuple[str, ...] = ()
    analysis: TurnoutAnalysis | None = field(default=None, repr=False, compare=False)

    @property
    def turnout_error(self) -> str | None:
        return self.turnout_not_applicable.reason if self.turnout_not_applicable else None

    @property
    def shares_error(self) -> str | None:
        return self.shares_not_applicable.reason if self.shares_not_applicable else None

    @property
    def margin(self) -> float | None:
        return self.shares.margin.estimate if self.shares else None

    @property
    def p_leader_majority(self) -> float | None:
        return self.shares.p_leader_majority if self.shares else None

    def to_dict(self) -> dict[str, Any]:
        q = self.shares
        return {
            "estimator": self.estimator,
            "turnout": self.turnout.to_dict() if self.turnout else None,
            "estimates": {k: v.to_dict() for k, v in self.estimates.items()},
            "shares": [s.to_dict() for s in q.shares] if q else None,
            "majority_shares": [s.to_dict() for s in q.majority_shares] if q else None,
            "shares_method": q.method if q else None,
            "margin": q.margin.to_dict() if q else None,
            "leader": q.leader if q else None,
            "runner_up": q.runner_up if q else None,
            "p_leader_majority": q.p_leader_majority if q else None,
            "quick_count": q.to_dict() if q else None,
            "exclusions": dict(self.exclusions),
            "excluded_total": sum(self.exclusions.values()),
            "register_zero": self.register_zero,
            "register_zero_frame": self.register_zero_frame,
            "n_observed": self.n_observed,
            "n_protocols": self.n_protocols,
            "n_stations": self.n_stations,
            "mean_per_station": self.mean_per_station,
            "profile": self.profile.to_dict() if self.profile else None,
            "profile_source": self.profile_source,
            "turnout_not_applicable": _na(self.turnout_not_applicable),
            "shares_not_applicable": _na(self.shares_not_applicable),
            "notes": list(self.notes),
        }


def _na(x: NotApplicable | None) -> dict[str, Any] | None:
    return x.to_dict() if x is not None else None


def _observations(
    records: Sequence[Mapping[str, Any]],
    snapshots: Snapshots | Sequence[Mapping[str, Any]] | None,
    polls: tuple[int, int],
    exclusions: dict[str, int],
    notes: list[str],
) -> Observations | None:
    """Records first; stations known only from snapshots are added from them."""
    obs = (
        observations_from_records([dict(r) for r in records], "live observations")
        if (records)
        else None
    )
    if snapshots is None or (not isinstance(snapshots, Snapshots) and not snapshots):
        return obs
    try:
        snaps = (
            snapshots
            if isinstance(snapshots, Snapshots)
            else snapshots_from_records([dict(r) for r in snapshots], "live snapshots")
        )
    except DataValidationError as exc:
        # live readings are not all checked on arrival (a count that decreases across
        # two submissions): leave the snapshots out, counted, rather than no estimate
        raw = [] if isinstance(snapshots, Snapshots) else [dict(r) for r in snapshots]
        bad = {str(r.get("station_id", r.get("station"))) for r in raw}
        exclusions["snapshots_invalid"] = len(bad)
        notes.append(f"snapshots left out: {exc}")
        return obs
    if obs is not None:
        have = obs.frame["station_id"]
        dup = snaps.frame.filter(pl.col("station_id").is_in(have.implode()))
        if dup.height:
            exclusions["snapshots_superseded"] = int(dup["station_id"].n_unique())
        f = snaps.frame.filter(~pl.col("station_id").is_in(have.implode()))
        if f.height == 0:
            return obs
        snaps = Snapshots(f, snaps.file)
    try:
        from_snaps = snapshots_to_observations(snaps, polls)
    except ValueError as exc:  # e.g. counts outside the polling hours
        exclusions["snapshots_invalid"] = int(snaps.frame["station_id"].n_unique())
        notes.append(f"snapshots left out: {exc}")
        return obs
    notes.extend(from_snaps.notes)
    if obs is None:
        return from_snaps
    # the records' outcome columns stay (null on the snapshot rows): protocols
    frame = pl.concat([obs.frame, from_snaps.frame], how="diagonal_relaxed").with_columns(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("row")
    )
    return Observations(frame, "live observations", list(obs.notes))


def _protocols(
    obs: Observations | None, protocols: Mapping[str, Mapping[str, Any]] | None
) -> dict[str, dict[str, int]]:
    """Protocols from the records' outcome counts; ``protocols`` wins per station."""
    out: dict[str, dict[str, int]] = {}
    if obs is not None and obs.outcome_names:
        names = obs.outcome_names
        m = obs.outcome_matrix()
        for sid, row, has in zip(obs.station_ids, m, obs.has_outcomes, strict=True):
            if has:
                out[str(sid)] = {n: int(v) for n, v in zip(names, row, strict=True)}
    for sid, p in (protocols or {}).items():
        if p:
            out[str(sid)] = {str(k): int(v) for k, v in p.items()}
    return out


def _uniform(polls: tuple[int, int]) -> ArrivalProfile:
    h = polls[1] - polls[0]
    return ArrivalProfile(polls[0], tuple([1.0 / h] * h))


def _coverage(obs: Observations, prof: ArrivalProfile | None) -> np.ndarray:
    """Share of the day's arrivals each window covers (1 without a profile)."""
    return np.ones(obs.n) if prof is None else np.asarray(prof.covered_share(obs.start, obs.end))


def estimate_live(
    records: Sequence[Mapping[str, Any]],
    frame: StationFrame | None = None,
    *,
    snapshots: Snapshots | Sequence[Mapping[str, Any]] | None = None,
    protocols: Mapping[str, Mapping[str, Any]] | None = None,
    excluded: Mapping[str, int] | None = None,
    strata: Sequence[str] | None = None,
    polls: tuple[int, int] | None = None,
    profile: ArrivalProfile | None = None,
    eligible: float | None = None,
    estimator: str = "auto",
    shares_method: Literal["linearisation", "bootstrap"] = "linearisation",
    majority_of: Sequence[str] | None = None,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    min_covered_share: float = MIN_COVERED_SHARE,
) -> LiveEstimate:
    """Turnout and vote shares with intervals from the reports received so far.

    ``records``: observation dicts (``station_id``/``station``, ``observer_id``/
    ``observer``, ``window_start``, ``window_end`` as ``HH:MM``, ``voters``, optional
    ``hourly`` and ``outcomes``; docs/observations.md), one per station.
    ``snapshots``: cumulative readings (format b) or a :class:`Snapshots`; a station
    with a record uses the record and its snapshots are counted as superseded.
    ``protocols``: station id -> {outcome: votes}, overriding a record's outcomes.
    ``excluded``: stations the caller left out before (reason -> count; e.g. the
    service's ``conflict``), added to the exclusions. ``polls`` = (open, close)
    hours (default: the profile's, else 08-20). ``estimator``: ``"auto"`` or one of
    :data:`PREFERENCE`. Without a ``frame`` there is nothing to expand to: no
    turnout, and shares without finite-population correction.
    """
    notes: list[str] = []
    exclusions: dict[str, int] = {k: int(v) for k, v in (excluded or {}).items() if v}
    day = polls or ((profile.open_hour, profile.close_hour) if profile else (8, 20))
    obs = _observations(records, snapshots, day, exclusions, notes)
    if obs is not None:  # one order whatever the source's (the bootstrap draws by row)
        obs = Observations(obs.frame.sort("station_id"), obs.file, obs.notes)
    prots = _protocols(obs, protocols)
    if obs is not None:
        notes.extend(obs.notes)
        if obs.outcome_names:  # the shares are computed below, once
            obs = Observations(
                obs.frame.select(
                    [c for c in obs.frame.columns if not c.startswith(OUTCOME_PREFIX)]
                ),
                obs.file,
                obs.notes,
            )
    frame_ids: set[str] | None = None
    if frame is not None:
        frame_ids = set(frame.frame["station_id"].cast(pl.String).to_list())
    if obs is not None and frame_ids is not None:
        inside = obs.frame["station_id"].is_in(list(frame_ids))
        if not inside.all():
            exclusions["not_in_frame"] = int((~inside).sum())
            obs = Observations(obs.frame.filter(inside), obs.file, obs.notes)
    if obs is not None and obs.n == 0:
        obs = None

    # --- arrival profile: given, estimated from hourly counts, else uniform (assumed)
    prof, source, estimate_prof = profile, "given" if profile else "none", False
    if prof is None and obs is not None:
        if int(obs.has_hourly.sum()) >= 2:
            estimate_prof, source = True, "estimated"
        else:
            prof, source = _uniform(day), "uniform (assumed)"
            if ((obs.start > day[0]) | (obs.end < day[1])).any():
                notes.append(
                    "partial windows corrected with a uniform arrival profile over the "
                    "polling hours (fewer than 2 stations sent hourly counts or snapshots)"
                )

    # --- turnout
    analysis: TurnoutAnalysis | None = None
    turnout_error: str | None = None
    if frame is None:
        turnout_error = "no station frame: no turnout (nothing to expand the counts to)"
    elif obs is None:
        turnout_error = "no usable count yet"
    else:

        def run(p: ArrivalProfile | None, fit: bool) -> TurnoutAnalysis:
            return estimate_turnout(
                obs, frame, strata=strata, profile=p, estimate_profile=fit, polls=day,
                eligible=eligible, n_resamples=n_resamples, confidence=confidence,
                seed=seed, min_covered_share=min_covered_share,
            )  # fmt: skip

        try:
            analysis = run(prof, estimate_prof)
        except ValueError as exc:
            turnout_error = str(exc)
            if estimate_prof:  # e.g. no hourly count in some hour: fall back, said so
                prof, source = _uniform(day), "uniform (assumed)"
                notes.append(
                    f"the arrival profile could not be estimated ({exc}); partial windows "
                    "corrected with a uniform profile over the polling hours"
                )
                try:
                    analysis = run(prof, False)
                except ValueError as exc2:
                    turnout_error = str(exc2)
    if analysis is not None:
        prof = analysis.profile
        notes.extend(n for n in analysis.notes if n not in notes)
    covered = _coverage(obs, prof) if obs is not None else np.zeros(0)
    kept = covered >= min_covered_share
    low = int((~kept).sum())
    if low:
        exclusions["low_coverage"] = low
    n_observed = int(kept.sum())
    mean_day = (
        float(np.mean(obs.voters[kept] / covered[kept])) if obs is not None and kept.any() else None
    )

    chosen: str | None = None
    turnout: Estimate | None = None
    estimates = dict(analysis.estimates) if analysis else {}
    if estimates:
        if estimator == "auto":
            full = frame is not None and frame.has_full_registers
            chosen = next(
                (k for k in PREFERENCE if k in estimates and (full or k not in _RATIO)), None
            )
        elif estimator in estimates:
            chosen = estimator
        else:
            raise ValueError(f"estimator {estimator!r} did not run; ran {sorted(estimates)}")
        if chosen is not None:
            turnout = estimates[chosen]
            missing = int(turnout.extra.get("stations_without_register", 0))
            if missing:
                exclusions["no_register"] = missing

    # --- register 0
    reg0_obs = analysis.register_zero_observed if analysis else 0
    reg0_frame = 0
    if frame is not None and "registered" in frame.frame.columns:
        reg0_frame = int((frame.frame["registered"] == 0).sum())

    # --- shares (quick count)
    shares: QuickCount | None = None
    shares_error: str | None = None
    if frame_ids is not None:
        out = [s for s in prots if s not in frame_ids]
        if out:
            exclusions["protocol_not_in_frame"] = len(out)
            prots = {s: p for s, p in prots.items() if s in frame_ids}
    if len(prots) < 2:
        shares_error = "needs protocols from at least 2 stations"
    else:
        ids = sorted(prots)
        seen = {k for p in prots.values() for k in p}
        names = [*sorted(o for o in seen if o not in RESERVED_OUTCOMES)]
        names += [o for o in RESERVED_OUTCOMES if o in seen]
        counts = np.array([[prots[s].get(o, 0) for o in names] for s in ids], dtype=float)
        kw: dict[str, Any] = {}
        if frame is not None:
            rows = frame.match(np.array(ids), "protocols")
            cols = list(strata) if strata is not None else list(frame.strata_columns)
            kw["strata"] = frame.stratum_labels(cols).to_numpy()[rows]
            kw["stratum_sizes"] = frame.stratum_sizes(cols)
            if frame.has_full_registers:
                reg = frame.frame["registered"].cast(pl.Float64).to_numpy()
                kw["registered"] = reg[rows]
                kw["frame_registered"] = frame.registered_total
                kw["register_zero_frame"] = reg0_frame
                kw["eligible"] = eligible
        else:
            kw["strata"] = np.array(["all"] * len(ids))
            kw["stratum_sizes"] = {"all": _NO_FRAME_SIZE}
            notes.append(
                "no station frame: vote shares as ratios over the observed stations, "
                "without finite-population correction"
            )
        try:
            shares = quick_count(
                counts, names, majority_of=majority_of, method=shares_method,
                n_resamples=n_resamples, confidence=confidence, seed=seed, **kw,
            )  # fmt: skip
        except ValueError as exc:
            shares_error = str(exc)
    # observed register-0 stations: those of the turnout estimate, else the protocols'
    register_zero = reg0_obs if analysis else (shares.register_zero_observed if shares else 0)

    return LiveEstimate(
        estimator=chosen, turnout=turnout, estimates=estimates, shares=shares,
        exclusions=exclusions, register_zero=register_zero, register_zero_frame=reg0_frame,
        n_observed=n_observed, n_protocols=len(prots),
        n_stations=frame.n_stations if frame is not None else None,
        mean_per_station=mean_day, profile=prof, profile_source=source,
        turnout_not_applicable=None if turnout else _not_applicable(
            "live turnout", turnout_error or "no estimator ran", n_observed),
        shares_not_applicable=None if shares else _not_applicable(
            "live vote shares", shares_error or "no quick count", len(prots)),
        notes=tuple(notes), analysis=analysis,
    )  # fmt: skip


#: a standard error (and so an interval) needs at least two stations
MINIMUM = MinimumSample(
    2, "a standard error needs at least 2 stations", "Cochran 1977, eq. 2.19 and 6.3"
)


def _not_applicable(statistic: str, reason: str, n: int) -> NotApplicable:
    small = "at least 2" in reason or "fewer than 2" in reason
    return NotApplicable(
        statistic, reason, "minimum_n" if small else "input", n=n,
        minimum=MINIMUM if small else None,
    )  # fmt: skip
