"""Model-based turnout for self-selected observers with snapshots (a small SYNTHETIC
version of scripts/selfselected_study.py, and a seeded few campaigns of the study on the
real 2011 frame): selection on what the model sees is corrected and the interval
covers; selection on turnout itself biases every estimator, and the selection band
brackets the truth."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from electwatch.turnout import estimate_turnout
from electwatch.turnout.frame import StationFrame
from electwatch.turnout.model import DEFAULT_SELECTION_SD, model_turnout
from electwatch.turnout.snapshots import snapshots_from_records, snapshots_to_observations

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from selfselected_study import draw_selfselected, snapshot_records


def _world(reg: np.ndarray, cast: np.ndarray, region: np.ndarray):
    """The station frame (stratified by region) and the arrays the campaigns draw from."""
    frame = StationFrame(
        pl.DataFrame({"station_id": [f"s{i}" for i in range(reg.size)],
                      "registered": reg.astype(int), "region": region.astype(str)}),
        ("region",),
    )  # fmt: skip
    return frame, reg, cast, region.astype(str)


def synthetic_world(seed: int = 0, n: int = 6_000, regions: int = 12, area_sd: float = 0.3):
    """SYNTHETIC frame: turnout falls with station size and varies by region."""
    rng = np.random.default_rng(seed)
    region = rng.integers(0, regions, n)
    reg = rng.integers(300, 3000, n).astype(float)
    eff = rng.normal(0, area_sd, regions)
    logit = 0.6 - 0.5 * (reg - reg.mean()) / reg.std() + eff[region] + rng.normal(0, 0.3, n)
    cast = rng.binomial(reg.astype(int), 1 / (1 + np.exp(-logit))).astype(float)
    return _world(reg, cast, region)


def campaign(rng, kind, n, frame, reg, cast, region):
    ids = frame.frame["station_id"].to_numpy()
    rows = draw_selfselected(rng, kind, n, reg, cast, region, "0")
    return snapshots_to_observations(
        snapshots_from_records(snapshot_records(rng, ids[rows], cast[rows])), (8, 20)
    )


def test_model_corrects_selection_on_covariates_and_covers():
    frame, reg, cast, region = synthetic_world()
    truth = cast.sum() / reg.sum()
    rng = np.random.default_rng(3)
    hits, errors, design_errors = 0, [], []
    campaigns = 6
    for _ in range(campaigns):
        obs = campaign(rng, "covariates", 300, frame, reg, cast, region)
        m = model_turnout(obs, frame, area="region", n_resamples=40, seed=1)
        assert m.interval == "model" and m.ci_low < m.estimate < m.ci_high
        hits += m.contains(truth)
        errors.append(m.estimate - truth)
        a = estimate_turnout(obs, frame, strata=["region"], estimate_profile=True,
                             n_resamples=20, min_covered_share=0.0)  # fmt: skip
        design_errors.append(a.estimates["stratified ratio"].estimate - truth)
    # large stations (lower turnout) are over-sampled: the design-based estimate is low,
    # the model's bias is a fraction of it and under 3% of the truth
    assert np.mean(design_errors) < -0.01
    assert abs(np.mean(errors)) < 0.03 * truth
    assert abs(np.mean(errors)) < abs(np.mean(design_errors)) / 2
    assert hits >= campaigns - 1


def model_world(seed: int, n: int = 3_000, regions: int = 40, area_sd: float = 0.6):
    """SYNTHETIC frame drawn from the estimator's own model: logit turnout = size-class
    effect + region effect + station effect."""
    rng = np.random.default_rng(seed)
    region = rng.integers(0, regions, n)
    reg = rng.integers(300, 3000, n).astype(float)
    cls = np.searchsorted(np.quantile(reg, [0.2, 0.4, 0.6, 0.8]), reg, side="right")
    logit = 0.6 - 0.15 * cls + rng.normal(0, area_sd, regions)[region] + rng.normal(0, 0.3, n)
    cast = rng.binomial(reg.astype(int), 1 / (1 + np.exp(-logit))).astype(float)
    return _world(reg, cast, region)


def test_prediction_interval_matches_the_error_when_the_model_holds():
    """Worlds drawn from the model (a new draw of the region effects per campaign, as
    the model says), 200 self-selected stations counting the whole day: the parametric
    bootstrap's interval covers and its width matches the spread of the actual errors
    (Chatterjee, Lahiri & Li 2008)."""
    campaigns, errors, widths, hits = 20, [], [], 0
    for c in range(campaigns):
        frame, reg, cast, region = model_world(200 + c)
        truth = cast.sum() / reg.sum()
        rng = np.random.default_rng(c)
        ids = frame.frame["station_id"].to_numpy()
        rows = draw_selfselected(rng, "covariates", 200, reg, cast, region, "0")
        recs = [
            {"station_id": s, "observer_id": f"v{s}", "counted_since": "08:00", "time": "20:00",
             "cumulative": int(v)}
            for s, v in zip(ids[rows], cast[rows], strict=True)
        ]  # fmt: skip
        obs = snapshots_to_observations(snapshots_from_records(recs), (8, 20))
        m = model_turnout(obs, frame, area="region", n_resamples=60, seed=c)
        errors.append(m.estimate - truth)
        widths.append(m.ci_high - m.ci_low)
        hits += m.contains(truth)
    assert hits >= campaigns - 3
    assert abs(np.mean(errors)) < 0.004
    # a 95% interval is 3.92 SD wide; the SD of 20 errors is known to about +/- 16%
    assert 0.65 < np.mean(widths) / (3.92 * np.std(errors, ddof=1)) < 1.5


def test_segment_profile_is_the_snapshot_conversions_profile_and_bootstraps_wider():
    """The profile re-fitted from the readings' segments equals split_segments' ML
    profile; its station-bootstrap spread exceeds that of re-fitting the split hours
    (which carry the point profile's shape into every replicate)."""
    from electwatch.turnout.snapshots import split_segments
    from electwatch.turnout.windows import (
        fit_profile_shares,
        fit_segment_profile_shares,
        overlap_matrix,
    )

    frame, reg, cast, region = synthetic_world()
    rng = np.random.default_rng(4)
    obs = campaign(rng, "covariates", 300, frame, reg, cast, region)
    seg = obs.segments
    assert seg is not None and seg.height >= obs.n
    pos = {sid: i for i, sid in enumerate(obs.station_ids.tolist())}
    st = np.array([pos[s] for s in seg["station_id"].to_list()])
    start, end, count = (seg[c].to_numpy() for c in ("start_h", "end_h", "count"))
    _, p_ml = split_segments(st, start, end, count, obs.n, 8, 12)
    o_seg = overlap_matrix(start, end, 8, 12)
    o_st = np.zeros((obs.n, 12))
    np.add.at(o_st, st, o_seg)
    p = fit_segment_profile_shares(st, o_seg, count, np.clip(o_st, 0, 1), np.ones((1, obs.n)))
    assert p[0] == pytest.approx(p_ml, abs=2e-4)
    mult = rng.multinomial(obs.n, np.full(obs.n, 1 / obs.n), size=50).astype(float)
    p_seg = fit_segment_profile_shares(st, o_seg, count, np.clip(o_st, 0, 1), mult, start=p[0])
    hourly = obs.hourly_matrix(12)
    o_obs = overlap_matrix(obs.start, obs.end, 8, 12)
    p_split = fit_profile_shares(hourly, o_obs, mult)
    assert p_seg.std(axis=0).sum() > 1.2 * p_split.std(axis=0).sum()


def test_selection_on_turnout_biases_the_model_and_the_band_brackets_it():
    frame, reg, cast, region = synthetic_world()
    truth = cast.sum() / reg.sum()
    rng = np.random.default_rng(8)
    for kind, sign in (("high_turnout", 1), ("low_turnout", -1)):
        obs = campaign(rng, kind, 300, frame, reg, cast, region)
        m = model_turnout(obs, frame, area="region", n_resamples=60, seed=2)
        band = m.selection_band
        assert band is not None and band.selection_sd == DEFAULT_SELECTION_SD
        # no model of size and region sees this selection: the estimate is pushed along
        assert sign * (m.estimate - truth) > 0.02
        # the band: the interval's ends moved by the +/- d residual-SD shift
        assert band.ci_low < band.estimate_low < m.estimate < band.estimate_high < band.ci_high
        assert band.ci_low == pytest.approx(band.estimate_low - (m.estimate - m.ci_low))
        assert band.contains(truth)
    # d = 0 and no undercount: the band is the interval itself
    m0 = model_turnout(obs, frame, area="region", n_resamples=60, seed=2, selection_sd=0.0)
    assert m0.selection_band is not None
    assert (m0.selection_band.ci_low, m0.selection_band.ci_high) == pytest.approx(
        (m0.ci_low, m0.ci_high)
    )
    # an undercount of u raises the upper end by 1 / (1 - u)
    mu = model_turnout(obs, frame, area="region", n_resamples=60, seed=2, selection_sd=0.0,
                       undercount=0.2)  # fmt: skip
    assert mu.selection_band is not None
    assert mu.selection_band.ci_high == pytest.approx(m0.ci_high / 0.8)
    d = mu.to_dict()
    assert d["selection_band"]["undercount"] == 0.2 and d["interval"] == "model"
    with pytest.raises(ValueError, match="interval"):
        model_turnout(obs, frame, area="region", interval="jackknife")


@pytest.mark.realdata
@pytest.mark.slow
def test_real_2011_selfselected_study_small(duma_2011_path, tmp_path):
    """A seeded few campaigns of scripts/selfselected_study.py on the 95,225 real
    stations (the committed docs/selfselected_study_2011.json is the full run)."""
    import json

    from selfselected_study import main

    out = tmp_path / "study.json"
    assert main(["--data", str(duma_2011_path), "--campaigns", "4", "--turnout-campaigns",
                 "2", "--resamples", "40", "--seed", "11", "--out", str(out)]) == 0  # fmt: skip
    res = json.loads(out.read_text())
    assert res["stations_in_frame"] == 95_225
    assert res["truth_turnout"] == pytest.approx(0.6010, abs=1e-4)
    cov, high, low = (res["kinds"][k] for k in ("covariates", "high_turnout", "low_turnout"))
    assert abs(cov["model"]["bias_percent_of_truth"]) < 3.0
    # selection on turnout itself: every estimator is far off, the band brackets the truth
    for r, sign in ((high, 1), (low, -1)):
        for est in ("model", "stratified ratio"):
            assert sign * r[est]["bias_points"] > 5 and r[est]["coverage"] == 0.0
        assert r["model"]["selection_band_brackets_truth"] == 1.0
