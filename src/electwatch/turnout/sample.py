"""Sample design for a quick count: stratified random samples of stations, reserves,
sample sizes for a target margin of error, and design weights that travel with the
sample file.

Allocation (Cochran 1977, *Sampling Techniques*, §5.5 and §5.9):

* proportional: n_h = n N_h / N;
* Neyman (optimum for fixed n): n_h = n N_h S_h / sum_k N_k S_k, S_h the standard
  deviation within stratum h of an auxiliary variable (e.g. registered voters or
  past turnout per station).

Rounding by largest remainder; every stratum with N_h >= 2 gets at least 2 stations
(one station gives no variance estimate, Cochran §5.4), and n_h <= N_h.
Within strata, stations are drawn by simple random sampling without replacement
(random keys, the first n_h per stratum); the next stations in the same random order
are the stratum's reserves (reserve 1, 2, ...), used in that order when a sampled
station cannot be observed -- keeping the sample a random one (Estok, Nevitte & Cowan
2002, *The Quick Count and Election Observation*, NDI, ch. 5: replacement stations
drawn at random in advance, never chosen by the observer).

Sample size (the NDI handbook's formula, Estok et al. 2002, ch. 5): for a share p
estimated within a margin of error e at confidence 1 - a, with N voters,

    n_voters = N z^2 p (1 - p) / (N e^2 + z^2 p (1 - p)),

and the number of stations is n_voters x deff / (mean voters per station); NDI sets
deff = 1 (voters treated as a simple random sample). Voters at one station are not
independent: the design effect of a station (cluster) sample is
deff = 1 + (m - 1) rho (Kish 1965, §5.4), m voters per station, rho the intra-station
correlation of the vote; give ``deff`` from a past election (the quick-count study in
docs/turnout.md shows the stations needed in practice).

The sample file carries, per station: ``station_id``, ``stratum`` (label),
``role`` (sample / reserve), ``reserve_rank``, ``stratum_size`` (N_h),
``stratum_sample`` (n_h), ``weight`` (N_h / n_h) and the stratum columns;
:func:`read_sample_design` reads it back for the estimators.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl

from electwatch.errors import DataValidationError
from electwatch.turnout.analysis import DesignInfo
from electwatch.turnout.estimate import z_value
from electwatch.turnout.frame import StationFrame

Allocation = Literal["proportional", "neyman"]
SAMPLE_COLUMNS = (
    "station_id", "stratum", "role", "reserve_rank", "stratum_size", "stratum_sample", "weight",
)  # fmt: skip


def _largest_remainder(quota: np.ndarray, n: int) -> np.ndarray:
    alloc = np.floor(quota).astype(np.int64)
    short = n - int(alloc.sum())
    if short > 0:
        alloc[np.argsort(-(quota - alloc), kind="stable")[:short]] += 1
    return alloc


def allocate(
    sizes: np.ndarray,
    n: int,
    allocation: Allocation = "proportional",
    sd: np.ndarray | None = None,
    minimum: int = 2,
) -> np.ndarray:
    """Stations per stratum n_h (sum n), proportional or Neyman, at least ``minimum``."""
    big = np.asarray(sizes, dtype=np.int64)
    if n > big.sum():
        raise ValueError(f"sample of {n} from a frame of {int(big.sum())} stations")
    floor = np.minimum(big, minimum)
    if floor.sum() > n:
        raise ValueError(
            f"{big.size} strata need at least {int(floor.sum())} stations "
            f"({minimum} each) but the sample has {n}: use coarser strata or a larger sample"
        )
    if allocation == "proportional":
        share = big.astype(float)
    elif allocation == "neyman":
        if sd is None:
            raise ValueError("Neyman allocation needs the within-stratum SDs")
        share = big * np.nan_to_num(np.asarray(sd, dtype=float))
        if share.sum() <= 0:
            share = big.astype(float)
    else:
        raise ValueError(f"allocation must be proportional or neyman, not {allocation!r}")
    # quotas n x share_h, with strata held at their bounds (floor, N_h) where the
    # quota falls outside them and the rest re-shared among the others
    fixed = np.zeros(big.size, dtype=bool)
    value = np.zeros(big.size)
    for _ in range(2 * big.size + 1):
        free = ~fixed
        rest = n - value[fixed].sum()
        w = share[free]
        q = rest * (w / w.sum() if w.sum() > 0 else np.full(w.size, 1 / w.size))
        lo = q < floor[free]
        hi = q > big[free]
        if not lo.any() and not hi.any():
            value[free] = q
            break
        idx = np.flatnonzero(free)
        value[idx[lo]] = floor[free][lo]
        value[idx[hi]] = big[free][hi]
        fixed[idx[lo | hi]] = True
    alloc = value.round().astype(np.int64)
    free = ~fixed
    if free.any():
        alloc[free] = _largest_remainder(value[free], int(n - alloc[fixed].sum()))
    alloc = np.clip(alloc, floor, big)
    return alloc


@dataclass
class Sample:
    """A drawn sample: the table of sampled and reserve stations, and its design."""

    table: pl.DataFrame
    strata_columns: tuple[str, ...]
    allocation: str
    seed: int
    n: int
    reserves: int
    total_stations: int

    def to_dict(self) -> dict[str, Any]:
        per = (
            self.table.filter(pl.col("role") == "sample")
            .group_by("stratum")
            .agg(pl.len().alias("n_h"), pl.col("stratum_size").first().alias("N_h"))
            .sort("stratum")
        )
        return {
            "n": self.n,
            "reserves_per_stratum": self.reserves,
            "total_stations": self.total_stations,
            "strata_columns": list(self.strata_columns),
            "allocation": self.allocation,
            "seed": self.seed,
            "strata": per.to_dicts(),
        }

    def write_csv(self, path: str | Path) -> Path:
        p = Path(path)
        self.table.write_csv(p)
        return p


def draw_sample(
    frame: StationFrame,
    n: int,
    *,
    strata: Sequence[str] = (),
    allocation: Allocation = "proportional",
    neyman_column: str = "registered",
    reserves: int = 0,
    seed: int = 0,
) -> Sample:
    """Stratified random sample of ``n`` stations with ``reserves`` reserves per stratum.

    Seeded and reproducible: the same frame, arguments and seed give the same sample.
    """
    cols = list(strata)
    label_series = frame.stratum_labels(cols)
    # dense codes in sorted label order (polars: faster than np.unique on strings)
    inverse = (label_series.rank("dense") - 1).cast(pl.Int64).to_numpy()
    names = label_series.unique().sort().to_numpy().astype(str)
    sizes = np.bincount(inverse, minlength=names.size)
    sd = None
    if allocation == "neyman":
        if neyman_column not in frame.frame.columns:
            raise ValueError(f"Neyman allocation: no column {neyman_column!r} in the frame")
        v = frame.frame[neyman_column].cast(pl.Float64).fill_null(np.nan).to_numpy()
        ok = np.isfinite(v)
        k = names.size
        c = np.bincount(inverse[ok], minlength=k).astype(float)
        s1 = np.bincount(inverse[ok], weights=v[ok], minlength=k)
        s2 = np.bincount(inverse[ok], weights=v[ok] ** 2, minlength=k)
        with np.errstate(invalid="ignore", divide="ignore"):
            sd = np.sqrt(np.maximum(s2 - s1**2 / c, 0.0) / (c - 1))
    n_h = allocate(sizes, n, allocation, sd)
    rng = np.random.default_rng(seed)
    big_n = inverse.size
    # random order within strata: sort by stratum code + uniform key in [0, 1)
    order = np.argsort(inverse + rng.random(big_n), kind="stable")
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    rank = np.empty(big_n, dtype=np.int64)
    rank[order] = np.arange(big_n) - np.repeat(starts, sizes)
    quota = n_h[inverse]
    chosen = rank < quota + reserves
    idx = np.flatnonzero(chosen)
    idx = idx[np.lexsort((rank[idx], inverse[idx]))]
    is_sample = rank[idx] < quota[idx]
    f = frame.frame
    table = pl.DataFrame(
        {
            "station_id": f["station_id"].cast(pl.String).gather(idx),
            "stratum": names[inverse[idx]],
            "role": np.where(is_sample, "sample", "reserve"),
            "reserve_rank": np.where(is_sample, 0, rank[idx] - quota[idx] + 1),
            "stratum_size": sizes[inverse[idx]],
            "stratum_sample": n_h[inverse[idx]],
            "weight": sizes[inverse[idx]] / n_h[inverse[idx]],
        }
    )
    extra = [c for c in cols if c in f.columns]
    if extra:
        table = table.hstack(f.select(extra)[idx])
    return Sample(table, tuple(cols), allocation, seed, n, reserves, big_n)


def read_sample_design(path: str | Path) -> DesignInfo:
    """Strata and N_h of a sample file written by :func:`draw_sample` / `electwatch sample`."""
    file = str(path)
    try:
        t = pl.read_csv(path, infer_schema=False)
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError, OSError) as exc:
        raise DataValidationError(file, f"cannot read the sample file: {exc}") from None
    need = ("station_id", "stratum", "stratum_size")
    missing = [c for c in need if c not in t.columns]
    if missing:
        raise DataValidationError(
            file, f"missing column(s) {missing}", column=missing[0],
            expected="a sample file written by `electwatch sample`",
        )  # fmt: skip
    sizes: dict[str, int] = {}
    for r, (lab, size) in enumerate(zip(t["stratum"], t["stratum_size"], strict=True), start=1):
        if size is None or not size.isdigit():
            raise DataValidationError(
                file, "stratum size is not a count", row=r, column="stratum_size", value=size
            )
        if sizes.setdefault(lab, int(size)) != int(size):
            raise DataValidationError(
                file, "stratum size differs within a stratum", row=r,
                column="stratum_size", value=size, expected=str(sizes[lab]),
            )  # fmt: skip
    strata_cols = tuple(c for c in t.columns if c not in SAMPLE_COLUMNS)
    return DesignInfo(dict(zip(t["station_id"], t["stratum"], strict=True)), sizes, strata_cols)


@dataclass(frozen=True)
class SampleSize:
    """Stations needed for a margin of error (NDI handbook formula, with a design effect)."""

    margin_of_error: float
    share: float
    confidence: float
    voters: float | None
    voters_needed: float
    design_effect: float
    voters_per_station: float
    stations: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def sample_size(
    margin_of_error: float,
    *,
    voters_per_station: float,
    share: float = 0.5,
    confidence: float = 0.95,
    voters: float | None = None,
    design_effect: float = 1.0,
) -> SampleSize:
    """n_voters = N z^2 p q / (N e^2 + z^2 p q) (Estok, Nevitte & Cowan 2002, ch. 5),
    stations = ceil(n_voters x deff / voters per station). ``voters=None``: N infinite."""
    if not 0 < margin_of_error < 1:
        raise ValueError("the margin of error is a fraction in (0, 1), e.g. 0.01")
    if not 0 < share < 1 or voters_per_station <= 0 or design_effect < 1:
        raise ValueError("share in (0, 1), voters per station > 0 and design effect >= 1")
    z = z_value(confidence)
    pq = share * (1 - share)
    if voters:
        nv = voters * z**2 * pq / (voters * margin_of_error**2 + z**2 * pq)
    else:
        nv = z**2 * pq / margin_of_error**2
    stations = math.ceil(nv * design_effect / voters_per_station)
    return SampleSize(
        margin_of_error, share, confidence, voters, nv, design_effect, voters_per_station,
        stations,
    )  # fmt: skip
