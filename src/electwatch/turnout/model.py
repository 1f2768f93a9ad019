"""Model-based turnout for self-selected, partial observations.

Design-based estimators assume the observed stations are a probability sample. Volunteer
observers choose their stations (large, urban, near home) and report cumulative counts at
arbitrary times, so the sample is not one. This estimator models every station's turnout
and predicts the stations nobody watched (the model-based / prediction approach to
finite-population inference: Royall 1970; Valliant, Dorfman & Royall 2000, ch. 2):

1. The arrival profile p (share of the day's voters by hour) is estimated from all
   readings (:func:`electwatch.turnout.snapshots.split_segments`, Poisson EM), and each
   station's final count is c_i / s_i, s_i the share of the day its readings cover.
2. A two-level model on the logit of station turnout theta_i = T_i / x_i (x_i registered):

       logit theta_i = X_i beta + a_{g(i)} + u_i,   a_g ~ N(0, tau^2),  u_i ~ N(0, sigma^2),

   X_i fixed covariates (intercept, station size class, any given columns such as past
   turnout), g(i) an area (region) with a random effect that pools areas with few
   observed stations towards the national level. Fitted by alternating weighted least
   squares for beta and empirical-Bayes (BLUP) area effects with method-of-moments
   variance components (Henderson 1975; Searle, Casella & McCulloch 1992, ch. 3);
   observation weights are the inverse of each station's measurement variance plus
   sigma^2 (a partial count is a noisier measurement).
3. Every unobserved station's expected turnout is E[expit(eta_j + u)] over u ~ N(0,
   sigma^2) (Gauss-Hermite quadrature); observed stations keep their corrected counts.
   National turnout = (sum over observed of c_i / s_i + sum over the others of
   x_j theta_j) / sum of all registers.
4. Interval: bootstrap over observed stations (resample stations, re-estimate the profile
   and the model in every replicate), percentile interval.

What it cannot do: if observers select stations on their turnout itself, beyond what the
covariates explain (selection on the unobservable), no model of the observed data
corrects it; the study in docs/turnout.md reports that bias, and
:func:`electwatch.turnout.reconcile.sensitivity_table` shows how far a given selection
ratio would move the estimate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from electwatch.turnout.frame import StationFrame, size_classes
from electwatch.turnout.observations import Observations
from electwatch.turnout.windows import covered_shares, fit_profile_shares, overlap_matrix

_GH_X, _GH_W = np.polynomial.hermite_e.hermegauss(20)
_GH_W = _GH_W / _GH_W.sum()


def _expit(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


@dataclass(frozen=True)
class ModelEstimate:
    """National turnout from the station model, with its bootstrap interval."""

    estimate: float
    standard_error: float
    ci_low: float
    ci_high: float
    confidence: float
    n: int
    total_stations: int
    coefficients: dict[str, float]
    area_sd: float
    station_sd: float
    observed_register_share: float
    notes: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def contains(self, value: float) -> bool:
        return bool(self.ci_low <= value <= self.ci_high)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__) | {"method": "station turnout model (two-level, logit)"}


@dataclass
class _Fit:
    beta: np.ndarray
    area_effect: np.ndarray
    tau2: float
    sigma2: float


def _fit(y: np.ndarray, mvar: np.ndarray, xmat: np.ndarray, area: np.ndarray, k: int) -> _Fit:
    """Alternating WLS / BLUP with moment estimates of tau^2 and sigma^2."""
    tau2, sigma2 = 0.1, 0.1
    a = np.zeros(k)
    beta = np.zeros(xmat.shape[1])
    for _ in range(50):
        w = 1.0 / (mvar + sigma2)
        xw = xmat * w[:, None]
        beta = np.linalg.lstsq(xw.T @ xmat + 1e-8 * np.eye(xmat.shape[1]),
                               xw.T @ (y - a[area]), rcond=None)[0]  # fmt: skip
        r = y - xmat @ beta
        sw = np.bincount(area, weights=w, minlength=k)
        swr = np.bincount(area, weights=w * r, minlength=k)
        a_new = swr / (sw + 1.0 / tau2)  # BLUP: shrinks areas with little information
        e = r - a_new[area]
        n = y.size
        sigma2_new = max(float(np.sum(e**2) / max(n - xmat.shape[1], 1) - mvar.mean()), 1e-4)
        seen = sw > 0
        # posterior variance of a_g added back (EM update of tau^2)
        tau2_new = max(float(np.mean(a_new[seen] ** 2 + 1.0 / (sw[seen] + 1.0 / tau2))), 1e-5)
        done = abs(tau2_new - tau2) < 1e-6 and abs(sigma2_new - sigma2) < 1e-6
        a, tau2, sigma2 = a_new, tau2_new, sigma2_new
        if done:
            break
    return _Fit(beta, a, tau2, sigma2)


def model_turnout(
    observations: Observations,
    frame: StationFrame,
    *,
    area: str,
    covariates: Sequence[str] = (),
    size_class_count: int = 5,
    polls: tuple[int, int] = (8, 20),
    n_resamples: int = 200,
    confidence: float = 0.95,
    seed: int = 0,
) -> ModelEstimate:
    """Model-based national turnout (module doc) from observations with hourly counts
    (e.g. converted snapshots) or whole-day counts; ``area`` names the frame column with
    the random effect, ``covariates`` numeric frame columns (e.g. past turnout)."""
    f = frame.frame
    if "registered" not in f.columns or f["registered"].null_count():
        raise ValueError("the turnout model needs a register for every station of the frame")
    x_all = f["registered"].cast(pl.Float64).to_numpy()
    rows = frame.match(observations.station_ids, observations.file)
    n_h = polls[1] - polls[0]
    hourly = observations.hourly_matrix(n_h)
    has = np.isfinite(hourly).all(axis=1)
    o = overlap_matrix(observations.start, observations.end, polls[0], n_h)
    counts = observations.voters
    if has.sum() < 2 and (o.sum(axis=1) < n_h - 1e-9).any():
        raise ValueError("partial observations need hourly counts or readings for a profile")
    cls = size_classes(f["registered"], size_class_count).to_numpy().astype(str)
    cls_names = np.unique(cls)
    cols = [np.ones(x_all.size)] + [(cls == c).astype(float) for c in cls_names[1:]]
    names = ["intercept"] + [f"{c} (vs {cls_names[0]})" for c in cls_names[1:]]
    for c in covariates:
        v = f[c].cast(pl.Float64).to_numpy()
        if not np.isfinite(v).all():
            raise ValueError(f"covariate {c!r} has missing values")
        cols.append((v - v.mean()) / (v.std() or 1.0))
        names.append(f"{c} (standardised)")
    xmat_all = np.column_stack(cols)
    area_lab = f[area].cast(pl.String).fill_null("?").to_numpy()
    area_names, area_idx = np.unique(area_lab, return_inverse=True)
    k = area_names.size
    reg_obs = x_all[rows]
    if (reg_obs <= 0).any():
        raise ValueError("observed stations with register 0 cannot enter a turnout model")
    unobs = np.ones(x_all.size, dtype=bool)
    unobs[rows] = False

    key = np.column_stack([xmat_all, area_idx])[unobs]
    cells, cell_of = np.unique(key, axis=0, return_inverse=True)
    cell_x, cell_area = cells[:, :-1], cells[:, -1].astype(np.int64)
    cell_reg = np.bincount(np.asarray(cell_of).reshape(-1), weights=x_all[unobs],
                           minlength=cells.shape[0])  # fmt: skip

    def estimate(w: np.ndarray, p: np.ndarray) -> tuple[float, _Fit]:
        """National turnout with station multiplicities w (bootstrap) and profile p."""
        s = covered_shares(p, o)
        t_hat = np.divide(counts, s, out=np.zeros_like(counts), where=s > 0)
        theta = np.clip(t_hat / reg_obs, 0.5 / reg_obs, 1 - 0.5 / reg_obs)
        y = np.log(theta / (1 - theta))
        mvar = 1.0 / (reg_obs * np.maximum(s, 1e-3) * theta * (1 - theta))
        rep = np.repeat(np.arange(counts.size), w.astype(int))
        fit = _fit(y[rep], mvar[rep], xmat_all[rows][rep], area_idx[rows][rep], k)
        # stations with equal covariates and area share eta: predict per cell
        eta = cell_x @ fit.beta + fit.area_effect[cell_area]
        th = _expit(eta[:, None] + np.sqrt(fit.sigma2) * _GH_X[None, :]) @ _GH_W
        # observed stations: their own corrected counts, averaged over the replicate
        obs_total = float(np.sum(w * t_hat) / w.sum() * counts.size)
        total = obs_total + float(cell_reg @ th)
        return total / float(x_all.sum()), fit

    n = counts.size
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n, (n_resamples, n)) + (np.arange(n_resamples) * n)[:, None]
    mult = np.bincount(draws.ravel(), minlength=n_resamples * n).reshape(n_resamples, n)
    mult = mult.astype(float)
    if has.sum() >= 2:
        # the profile of every replicate in one vectorised fit (B x H)
        p_point = fit_profile_shares(hourly[has], o[has], open_hour=polls[0])
        p_rep = fit_profile_shares(hourly[has], o[has], mult[:, has], open_hour=polls[0])
    else:
        p_point = np.full(n_h, 1.0 / n_h)
        p_rep = np.tile(p_point, (n_resamples, 1))
    point, fit = estimate(np.ones(n), p_point)
    reps = np.array([estimate(mult[b], p_rep[b])[0] for b in range(n_resamples)])
    alpha = 1 - confidence
    lo, hi = np.quantile(reps, [alpha / 2, 1 - alpha / 2])
    return ModelEstimate(
        estimate=point, standard_error=float(reps.std(ddof=1)), ci_low=float(lo),
        ci_high=float(hi), confidence=confidence, n=int(counts.size),
        total_stations=int(x_all.size),
        coefficients=dict(zip(names, map(float, fit.beta), strict=True)),
        area_sd=float(np.sqrt(fit.tau2)), station_sd=float(np.sqrt(fit.sigma2)),
        observed_register_share=float(reg_obs.sum() / x_all.sum()),
        notes=("assumes selection depends only on the covariates and areas in the model",),
        extra={"n_resamples": n_resamples, "interval": "percentile, stations resampled"},
    )  # fmt: skip
