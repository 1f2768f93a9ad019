"""Model-based turnout for self-selected observers with snapshots (a small SYNTHETIC
version of scripts/selfselected_study.py): selection on what the model sees is
corrected, the interval covers, and a design-based estimator on the same data is off."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import polars as pl

from electwatch.turnout import estimate_turnout
from electwatch.turnout.frame import StationFrame
from electwatch.turnout.model import model_turnout
from electwatch.turnout.snapshots import snapshots_from_records, snapshots_to_observations

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from selfselected_study import draw_selfselected, snapshot_records


def synthetic_world(seed: int = 0):
    """SYNTHETIC frame: turnout falls with station size and varies by region."""
    rng = np.random.default_rng(seed)
    n = 6_000
    region = rng.integers(0, 12, n)
    reg = rng.integers(300, 3000, n).astype(float)
    eff = rng.normal(0, 0.3, 12)
    logit = 0.6 - 0.5 * (reg - reg.mean()) / reg.std() + eff[region] + rng.normal(0, 0.3, n)
    cast = rng.binomial(reg.astype(int), 1 / (1 + np.exp(-logit))).astype(float)
    frame = StationFrame(
        pl.DataFrame({"station_id": [f"s{i}" for i in range(n)], "registered": reg.astype(int),
                      "region": region.astype(str)}),
        ("region",),
    )  # fmt: skip
    return frame, reg, cast, region.astype(str)


def test_model_corrects_selection_on_covariates_and_covers():
    frame, reg, cast, region = synthetic_world()
    truth = cast.sum() / reg.sum()
    ids = frame.frame["station_id"].to_numpy()
    rng = np.random.default_rng(3)
    hits, errors, design_errors = 0, [], []
    campaigns = 12
    for _ in range(campaigns):
        rows = draw_selfselected(rng, "covariates", 300, reg, cast, region, "0")
        obs = snapshots_to_observations(
            snapshots_from_records(snapshot_records(rng, ids[rows], cast[rows])), (8, 20)
        )
        m = model_turnout(obs, frame, area="region", n_resamples=60, seed=1)
        hits += m.contains(truth)
        errors.append(m.estimate - truth)
        a = estimate_turnout(obs, frame, strata=["region"], estimate_profile=True,
                             n_resamples=60, min_covered_share=0.0)  # fmt: skip
        design_errors.append(a.estimates["stratified ratio"].estimate - truth)
    # large stations (lower turnout) are over-sampled: the design-based estimate is low,
    # the model's bias is a fraction of it and under 3% of the truth
    assert np.mean(design_errors) < -0.01
    assert abs(np.mean(errors)) < 0.03 * truth
    assert abs(np.mean(errors)) < abs(np.mean(design_errors)) / 2
    assert hits >= campaigns - 2
