"""Synthetic elections with optional fraud following Klimek et al. (2012).

Klimek, Yegorov, Hanel & Thurner, "Statistical detection of systematic election
irregularities", PNAS 109(41):16469-16473 (2012). Per station i with N_i eligible
voters: turnout a_i ~ truncated normal(tau, s_tau) on [0, 1], winner share
v_i ~ truncated normal(nu, s_nu); with probability f_i incremental fraud
x_i ~ |N(0, theta)|, with probability f_e extreme fraud x_i = 1 - |N(0, 0.075)|,
else x_i = 0. Then

    ballots_i = N_i (a_i + x_i (1 - a_i))
    winner_i  = N_i (a_i v_i + x_i (1 - a_i) + x_i^alpha a_i (1 - v_i))

i.e. non-voters' ballots are stuffed for the winner and a share x^alpha of the other
candidates' votes is moved to the winner. Counts are drawn binomially around those
expectations so that small stations carry realistic sampling noise.

Besides the paper's two kinds, *turnout-target* fraud (``ft``): a share ``ft`` of the
stations is pushed to a target turnout T_i ~ N(target_turnout, target_sd) (never
below its clean turnout a_i, at most 1), every added ballot for the winner and no
vote moved, i.e. x_i = (T_i - a_i) / (1 - a_i) with no stealing. Whole stations, their
other voters included, land at the target, so with a large ``ft`` the other
candidates' votes-by-turnout curve peaks at the target: the pattern of Russia 2020
(Shpilkin's analysis as reported by Znak and bne IntelliNews, August 2020), where
the others' mode is no clean reference turnout. The expected valid votes added,
N_i (T_i - a_i)(1 - invalid rate_i), are in ``SimulationTruth.extra
["target_added_votes"]`` (per station) and their sum in ``injected_target_votes``.

On top of the paper's model the simulator adds heterogeneity that real elections have
and estimators must cope with: lognormal station sizes (larger in cities), regional
turnout and vote-share offsets, an urban/rural split, a large lower-turnout capital.
Everything is seeded; output is labelled SYNTHETIC in the data and in its metadata.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from scipy import stats

from electwatch.data.loaders import add_flags
from electwatch.data.model import (
    Candidate,
    Contest,
    Election,
    ElectionResults,
    SourceInfo,
)

CAPITAL = "Capital"
SYNTHETIC_LABEL = "SYNTHETIC (electwatch simulate)"


@dataclass(frozen=True)
class FraudParameters:
    """Klimek et al. (2012) fraud parameters.

    ``fi``: share of stations with incremental fraud; ``fe``: share with extreme
    fraud; ``theta``: scale of |N(0, theta)| incremental fraud intensity; ``alpha``:
    exponent of vote stealing (x^alpha); ``extreme_sigma``: 0.075 in the paper.
    ``ft``: share of stations with turnout-target fraud (not in the paper; module
    docstring), pushed to N(``target_turnout``, ``target_sd``).
    """

    fi: float = 0.0
    fe: float = 0.0
    theta: float = 0.15
    alpha: float = 2.0
    extreme_sigma: float = 0.075
    ft: float = 0.0
    target_turnout: float = 0.8
    target_sd: float = 0.03

    def __post_init__(self) -> None:
        if not (
            0 <= self.fi <= 1
            and 0 <= self.fe <= 1
            and 0 <= self.ft <= 1
            and self.fi + self.fe + self.ft <= 1
        ):
            raise ValueError("fi, fe and ft must be in [0, 1] with fi + fe + ft <= 1")
        if self.theta <= 0 or self.alpha <= 0:
            raise ValueError("theta and alpha must be positive")
        if not 0 < self.target_turnout <= 1 or self.target_sd < 0:
            raise ValueError("target_turnout must be in (0, 1] and target_sd >= 0")


@dataclass(frozen=True)
class ElectionParameters:
    """Shape of a synthetic electorate (defaults loosely resemble a national election)."""

    n_stations: int = 20_000
    n_regions: int = 20
    capital_share: float = 0.10  # share of stations in the capital
    urban_share: float = 0.45  # outside the capital
    median_registered_urban: float = 1800.0
    median_registered_rural: float = 600.0
    size_sigma: float = 0.55  # lognormal sigma of station sizes
    turnout_mean: float = 0.60
    turnout_region_sd: float = 0.06
    turnout_urban_shift: float = -0.06
    capital_turnout_shift: float = -0.08
    s_tau: float = 0.07  # within-region station turnout sd (Klimek's s_tau)
    winner_share_mean: float = 0.50
    winner_region_sd: float = 0.06
    s_nu: float = 0.07
    invalid_rate: float = 0.015
    candidates: tuple[str, ...] = ("Leader", "Candidate B", "Candidate C", "Candidate D")

    def __post_init__(self) -> None:
        if self.n_stations < 1 or self.n_regions < 1:
            raise ValueError("need at least one station and one region")


@dataclass
class SimulationTruth:
    """What the simulator knows and the analyst does not."""

    seed: int
    election: ElectionParameters
    fraud: FraudParameters
    fraud_type: np.ndarray  # 0 none, 1 incremental, 2 extreme, 3 turnout target
    clean_turnout: np.ndarray  # a_i before fraud
    clean_winner_share: np.ndarray  # v_i before fraud
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "election": asdict(self.election),
            "fraud": asdict(self.fraud),
            "stations_incremental_fraud": int((self.fraud_type == 1).sum()),
            "stations_extreme_fraud": int((self.fraud_type == 2).sum()),
            "stations_target_fraud": int((self.fraud_type == 3).sum()),
            "injected_target_votes": float(self.extra.get("injected_target_votes", 0.0)),
        }


def truncated_normal(
    rng: np.random.Generator, mean: np.ndarray, sd: float, low: float = 0.0, high: float = 1.0
) -> np.ndarray:
    """Vectorised draw from N(mean, sd) truncated to [low, high]."""
    a = (low - mean) / sd
    b = (high - mean) / sd
    return np.asarray(stats.truncnorm.rvs(a, b, loc=mean, scale=sd, random_state=rng))


def simulate_election(
    params: ElectionParameters | None = None,
    fraud: FraudParameters | None = None,
    *,
    seed: int = 0,
    name: str | None = None,
) -> tuple[ElectionResults, SimulationTruth]:
    """Draw one synthetic election; returns the results and the ground truth."""
    p = params or ElectionParameters()
    f = fraud or FraudParameters()
    rng = np.random.default_rng(seed)
    n = p.n_stations

    # --- geography and station sizes
    n_capital = round(p.capital_share * n) if p.n_regions > 1 else 0
    region_idx = np.empty(n, dtype=np.int64)
    region_idx[:n_capital] = 0
    others = max(p.n_regions - 1, 1)
    region_idx[n_capital:] = 1 + rng.integers(0, others, n - n_capital) if p.n_regions > 1 else 0
    region_names = np.array([CAPITAL] + [f"Region {k:02d}" for k in range(1, p.n_regions)])
    urban = np.where(region_idx == 0, True, rng.random(n) < p.urban_share)
    median = np.where(urban, p.median_registered_urban, p.median_registered_rural)
    registered = np.maximum(np.round(median * np.exp(rng.normal(0, p.size_sigma, n))), 20).astype(
        np.int64
    )

    # --- clean turnout and winner share (Klimek's a_i, v_i)
    tau_region = rng.normal(p.turnout_mean, p.turnout_region_sd, p.n_regions)
    tau_region[0] += p.capital_turnout_shift
    nu_region = rng.normal(p.winner_share_mean, p.winner_region_sd, p.n_regions)
    tau = tau_region[region_idx] + np.where(urban, p.turnout_urban_shift, 0.0)
    a = truncated_normal(rng, tau, p.s_tau)
    v = truncated_normal(rng, nu_region[region_idx], p.s_nu)

    # --- fraud (Klimek et al. 2012)
    u = rng.random(n)
    fraud_type = np.where(
        u < f.fi, 1, np.where(u < f.fi + f.fe, 2, np.where(u < f.fi + f.fe + f.ft, 3, 0))
    )
    x = np.zeros(n)
    inc = fraud_type == 1
    ext = fraud_type == 2
    tgt = fraud_type == 3
    x[inc] = np.minimum(np.abs(rng.normal(0, f.theta, inc.sum())), 1.0)
    x[ext] = 1 - np.minimum(np.abs(rng.normal(0, f.extreme_sigma, ext.sum())), 1.0)
    if tgt.any():  # drawn only then: ft = 0 leaves every other draw as it was
        target = np.clip(rng.normal(f.target_turnout, f.target_sd, tgt.sum()), a[tgt], 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            x[tgt] = np.where(a[tgt] < 1, (target - a[tgt]) / (1 - a[tgt]), 0.0)
    steal = np.where(tgt, 0.0, x**f.alpha)
    turnout_expected = a + x * (1 - a)
    winner_expected = a * v + x * (1 - a) + steal * a * (1 - v)

    # --- integer counts
    cast = rng.binomial(registered, turnout_expected)
    invalid_rate = np.clip(rng.normal(p.invalid_rate, p.invalid_rate / 3, n), 0, 0.2)
    invalid = rng.binomial(cast, invalid_rate)
    target_added = np.where(tgt, registered * x * (1 - a) * (1 - invalid_rate), 0.0)
    valid = cast - invalid
    with np.errstate(divide="ignore", invalid="ignore"):
        w_share = np.where(turnout_expected > 0, winner_expected / turnout_expected, 0.0)
    winner_votes = rng.binomial(valid, np.clip(w_share, 0, 1))
    rest = valid - winner_votes
    k_other = len(p.candidates) - 1
    if k_other > 0:
        base = rng.dirichlet(np.full(k_other, 4.0), p.n_regions)
        pv = base[region_idx]
        other_votes = rng.multinomial(rest, pv)
    else:
        other_votes = np.zeros((n, 0), dtype=np.int64)

    width = len(str(n))
    station_ids = np.char.add("S", np.char.zfill(np.arange(1, n + 1).astype(str), width))
    districts = np.char.add(
        np.char.add(region_names[region_idx], " / D"),
        (np.arange(n) % 10).astype(str),
    )
    frame = pl.DataFrame(
        {
            "row": np.arange(1, n + 1),
            "station_id": station_ids,
            "region": region_names[region_idx],
            "district": districts,
            "registered": registered,
            "cast": cast,
            "valid": valid,
            "invalid": invalid,
            "blank": pl.Series([None] * n, dtype=pl.Int64),
            "abroad": np.zeros(n, dtype=bool),
            "urban": np.where(urban, "urban", "rural"),
            "data_source": np.full(n, SYNTHETIC_LABEL),
            p.candidates[0]: winner_votes,
            **{c: other_votes[:, j] for j, c in enumerate(p.candidates[1:])},
        }
    ).with_columns(pl.col("registered", "cast", "valid", "invalid", *p.candidates).cast(pl.Int64))
    frame, warnings = add_flags(frame, list(p.candidates))
    label = name or (
        f"Synthetic election (seed {seed}, fi={f.fi}, fe={f.fe}"
        + (f", ft={f.ft}, target={f.target_turnout}" if f.ft else "")
        + ")"
    )
    contest = Contest(name="President", round=1, candidates=[Candidate(c) for c in p.candidates])
    results = ElectionResults(
        frame=frame,
        candidates=list(p.candidates),
        area_levels=["region", "district"],
        election=Election(name=label, country="Synthetia", contests=[contest]),
        contest=contest,
        source=SourceInfo(
            path="<simulated>",
            mapping="electwatch-synthetic",
            synthetic=True,
            note=f"{SYNTHETIC_LABEL}, seed={seed}",
        ),
        warnings=warnings,
        attributes=["urban", "data_source"],
    )
    truth = SimulationTruth(
        seed=seed,
        election=p,
        fraud=f,
        fraud_type=fraud_type,
        clean_turnout=a,
        clean_winner_share=v,
        extra={
            "target_added_votes": target_added,
            "injected_target_votes": float(target_added.sum()),
        },
    )
    return results, truth


def write_results(results: ElectionResults, path: str | Path) -> Path:
    """Write canonical CSV (or Parquet by suffix) plus a sidecar mapping TOML.

    The sidecar makes ``electwatch`` find the mapping by itself, and carries the
    ``synthetic`` label so that reloaded data stays marked as simulated.
    """
    from electwatch.data.mapping import sidecar_path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    keep = [
        "station_id",
        *results.area_levels,
        "registered",
        "cast",
        "valid",
        "invalid",
        *[c for c in ("blank",) if results.frame[c].null_count() < results.n_stations],
        "abroad",
        *results.attributes,
        *results.extra_counts,
        *results.candidates,
    ]
    out = results.frame.select(keep)
    if path.suffix == ".parquet":
        out.write_parquet(path)
    else:
        out.write_csv(path)
    lines = [
        "# written by electwatch; columns are the canonical names",
        f"name = {_toml_str(path.stem)}",
        f"election = {_toml_str(results.election.name)}",
        f"contest = {_toml_str(results.contest.name)}",
        f"round = {results.contest.round}",
        f"synthetic = {'true' if results.synthetic else 'false'}",
        'station_id = "station_id"',
        "areas = { "
        + ", ".join(f"{_toml_str(a)} = {_toml_str(a)}" for a in results.area_levels)
        + " }",
        'registered = "registered"',
        'cast = "cast"',
        'valid = "valid"',
        'invalid = "invalid"',
        'abroad = "abroad"',
        "candidates = { "
        + ", ".join(f"{_toml_str(c)} = {_toml_str(c)}" for c in results.candidates)
        + " }",
    ]
    if "blank" in keep:
        lines.append('blank = "blank"')
    if results.attributes:
        lines.append(
            "attributes = { "
            + ", ".join(f"{_toml_str(a)} = {_toml_str(a)}" for a in results.attributes)
            + " }"
        )
    if results.extra_counts:
        lines.append(
            "extra = { "
            + ", ".join(f"{_toml_str(a)} = {_toml_str(a)}" for a in results.extra_counts)
            + " }"
        )
    sidecar_path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
