"""Study code (not shipped): simulation studies of the turnout and quick-count estimators.

Moved out of the package (issue 11): it imports ``electwatch.simulate``. Used by
scripts/turnout_validation.py, scripts/quickcount_validation.py and the tests.

Validation study: draw observer campaigns from stations with known results, estimate
national turnout, and report each estimator's bias and confidence-interval coverage.

The truth is the frame's turnout sum(cast) / sum(registered). Each campaign draws
n ~ U{n_min..n_max} stations by a design of :mod:`electwatch.simulate.observers`
(random, stratified by region, capital-heavy, large-station-heavy), observers count
every voter over the whole day (no undercount, no partial window: this isolates
sampling and selection), so each observed count is the station's official ballots
cast. Station selection is exactly that of
:func:`electwatch.simulate.simulate_observer_campaign` for the same seed (same
random calls; checked by a test), without building the observation table, which
would dominate the run time. Every estimator is then applied:

``naive``            N * ybar / E (assumes simple random sampling)
``ratio``            sum y / sum x over observed stations (registers as auxiliary)
``ratio-region``     combined ratio estimator over region strata (Cochran §6.11)
``post-region``      post-stratified by region (N_h ybar_h)
``post-size``        post-stratified by station size class (``size_classes`` quantile
                     classes of registers, deciles by default)
``post-region+size`` (optional) region x size class; small cells pooled, reported
``bootstrap``        Rao-Wu rescaled bootstrap percentile interval, strata = region

Coverage is the share of campaigns whose 95% interval contains the truth; its Monte
Carlo standard error is sqrt(c (1 - c) / campaigns).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from electwatch.data.model import ElectionResults
from electwatch.simulate.observers import stratified_sample, weighted_sample
from electwatch.turnout.estimate import (
    Estimate,
    bootstrap_stratified,
    naive_expansion,
    ratio_estimate,
    stratified_estimate,
    stratified_ratio_estimate,
)
from electwatch.turnout.frame import SIZE_CLASS, frame_from_results

ESTIMATORS = ("naive", "ratio", "ratio-region", "post-region", "post-size", "bootstrap")
#: also available, not run by default: post-stratification by region x size class
#: (with ~1,500 stations over hundreds of cells, most cells are pooled; see docs)
OPTIONAL_ESTIMATORS = ("post-region+size",)


@dataclass(frozen=True)
class EstimatorSummary:
    design: str
    estimator: str
    campaigns: int
    truth: float
    mean_estimate: float
    bias: float  # mean estimate - truth (turnout points as a fraction)
    relative_bias: float
    rmse: float
    coverage: float
    coverage_mc_se: float
    mean_ci_width: float
    mean_se: float
    sd_estimates: float  # empirical SD of the estimates (compare with mean_se)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class ValidationStudy:
    source: str
    stations: int
    truth: float
    campaigns: int
    n_range: tuple[int, int]
    seed: int
    summaries: list[EstimatorSummary]
    raw: dict[str, dict[str, np.ndarray]] = field(default_factory=dict, repr=False)

    def summary(self, design: str, estimator: str) -> EstimatorSummary:
        for s in self.summaries:
            if s.design == design and s.estimator == estimator:
                return s
        raise KeyError((design, estimator))

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "stations": self.stations,
            "truth_turnout": self.truth,
            "campaigns": self.campaigns,
            "n_range": list(self.n_range),
            "seed": self.seed,
            "summaries": [s.to_dict() for s in self.summaries],
        }

    def markdown(self) -> str:
        lines = [
            "| design | estimator | bias (points) | RMSE (points) | 95% CI coverage "
            "(+/- MC SE) | mean CI width (points) | mean SE / SD of estimates |",
            "|---|---|---:|---:|---:|---:|---:|",
        ]
        for s in self.summaries:
            lines.append(
                f"| {s.design} | {s.estimator} | {s.bias * 100:+.2f} | {s.rmse * 100:.2f} | "
                f"{s.coverage:.1%} +/- {s.coverage_mc_se:.1%} | {s.mean_ci_width * 100:.2f} | "
                f"{s.mean_se / s.sd_estimates:.2f} |"
            )
        return "\n".join(lines)


def _summarise(
    design: str,
    name: str,
    truth: float,
    est: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    se: np.ndarray,
) -> EstimatorSummary:
    m = est.size
    cover = float(((lo <= truth) & (truth <= hi)).mean())
    return EstimatorSummary(
        design=design,
        estimator=name,
        campaigns=m,
        truth=truth,
        mean_estimate=float(est.mean()),
        bias=float(est.mean() - truth),
        relative_bias=float(est.mean() / truth - 1),
        rmse=float(np.sqrt(np.mean((est - truth) ** 2))),
        coverage=cover,
        coverage_mc_se=float(np.sqrt(cover * (1 - cover) / m)),
        mean_ci_width=float(np.mean(hi - lo)),
        mean_se=float(np.mean(se)),
        sd_estimates=float(est.std(ddof=1)) if m > 1 else float("nan"),
    )


def _largest_area(results: ElectionResults, level: str) -> str:
    """The area with most registered voters (the simulator's default capital)."""
    f = results.frame.group_by(level).agg(pl.col("registered").sum())
    return str(f.sort("registered").tail(1)[level][0])


def draw_campaign(
    design: str,
    n: int,
    seed: int,
    region: np.ndarray,
    registered: np.ndarray,
    capital: str,
    capital_weight: float = 5.0,
) -> np.ndarray:
    """Frame rows of an observer campaign, as :func:`simulate_observer_campaign` draws them."""
    rng = np.random.default_rng(seed)
    big_n = region.size
    if design == "random":
        idx = rng.choice(big_n, n, replace=False)
    elif design == "stratified":
        idx = stratified_sample(rng, region, n)
    elif design == "capital_heavy":
        idx = weighted_sample(rng, np.where(region == capital, capital_weight, 1.0), n)
    elif design == "large_heavy":
        idx = weighted_sample(rng, np.maximum(np.nan_to_num(registered), 1.0), n)
    else:
        raise ValueError(f"unknown design {design!r}")
    return np.sort(idx)


def validation_study(
    results: ElectionResults,
    *,
    campaigns: int = 500,
    designs: Sequence[str] = ("random", "stratified", "capital_heavy", "large_heavy"),
    n_range: tuple[int, int] = (1000, 2000),
    estimators: Sequence[str] = ESTIMATORS,
    region: str | None = None,
    capital_weight: float = 5.0,
    n_resamples: int = 1000,
    size_classes: int = 10,
    seed: int = 0,
    progress: Callable[[str, float], None] | None = None,
) -> ValidationStudy:
    """Run the study; ``campaigns`` per design. Loops over campaigns, never stations."""
    level = region or results.area_levels[0]
    frame = frame_from_results(results, [level, SIZE_CLASS], size_class_count=size_classes)
    eligible = frame.registered_total
    if eligible is None or not frame.has_full_registers:
        raise ValueError("the validation needs a register for every station (known truth)")
    truth = float(results.frame["cast"].sum()) / eligible
    big_n = frame.n_stations
    reg_all = frame.frame["registered"].to_numpy().astype(float)
    lab_region = frame.stratum_labels([level]).to_numpy()
    lab_size = frame.stratum_labels([SIZE_CLASS]).to_numpy()
    lab_both = frame.stratum_labels([level, SIZE_CLASS]).to_numpy()
    sizes = {
        "post-region": frame.stratum_sizes([level]),
        "post-size": frame.stratum_sizes([SIZE_CLASS]),
        "post-region+size": frame.stratum_sizes([level, SIZE_CLASS]),
    }
    labels = {"post-region": lab_region, "post-size": lab_size, "post-region+size": lab_both}
    cast_all = results.frame["cast"].to_numpy().astype(float)
    capital = _largest_area(results, level)
    rng = np.random.default_rng(seed)
    summaries: list[EstimatorSummary] = []
    raw: dict[str, dict[str, np.ndarray]] = {}
    total_steps = len(designs) * campaigns
    step = 0
    for design in designs:
        rec: dict[str, list[tuple[float, float, float, float]]] = {e: [] for e in estimators}
        for _ in range(campaigns):
            n = int(rng.integers(n_range[0], n_range[1] + 1))
            rows = draw_campaign(
                design, n, int(rng.integers(2**31)), lab_region, reg_all, capital,
                capital_weight,
            )  # fmt: skip
            y = cast_all[rows]
            for name in estimators:
                e: Estimate
                if name == "naive":
                    e = naive_expansion(y, big_n, eligible)
                elif name == "ratio":
                    e = ratio_estimate(y, reg_all[rows], eligible, big_n, eligible)
                elif name == "ratio-region":
                    e = stratified_ratio_estimate(
                        y, reg_all[rows], lab_region[rows], sizes["post-region"], eligible,
                        eligible,
                    )  # fmt: skip
                elif name == "bootstrap":
                    e = bootstrap_stratified(
                        y, lab_region[rows], sizes["post-region"], eligible,
                        n_resamples=n_resamples, seed=int(rng.integers(2**31)),
                    )  # fmt: skip
                else:
                    e = stratified_estimate(y, labels[name][rows], sizes[name], eligible)
                rec[name].append((e.estimate, e.ci_low, e.ci_high, e.standard_error))
            step += 1
            if progress is not None:
                progress(f"{design} campaigns", step / total_steps)
        raw[design] = {}
        for name in estimators:
            arr = np.asarray(rec[name])
            raw[design][name] = arr
            summaries.append(
                _summarise(design, name, truth, arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3])
            )
    return ValidationStudy(
        source=results.source.path,
        stations=big_n,
        truth=truth,
        campaigns=campaigns,
        n_range=n_range,
        seed=seed,
        summaries=summaries,
        raw=raw,
    )
