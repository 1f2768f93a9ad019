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
   squares for beta and empirical-Bayes (BLUP) area effects with moment / EM estimates
   of the variance components (Henderson 1975; Searle, Casella & McCulloch 1992, ch. 3);
   observation weights are the inverse of each station's measurement variance plus
   sigma^2 (a partial count is a noisier measurement).
3. Prediction (empirical Bayes, as in Molina & Rao 2010 for non-linear parameters):
   every unobserved station's turnout is E[expit(X_j beta + a_g + u)] over the
   *posterior* of its area effect, a_g ~ N(a^_g, v_g) with v_g = 1 / (sum_i w_i +
   1 / tau^2) (v_g = tau^2 for an area with no observed station), and u ~ N(0, sigma^2)
   (Gauss-Hermite quadrature). Plugging in a^_g alone would ignore that a thinly
   observed area's effect is uncertain; under the logit that uncertainty moves the
   expected turnout. Observed stations keep their corrected counts. National turnout =
   (sum over observed of c_i / s_i + sum over the others of x_j theta_j) / sum of all
   registers.
4. Interval (``interval="model"``, the default): parametric bootstrap of the prediction
   error (Chatterjee, Lahiri & Li 2008; Hall & Maiti 2006): from the fitted model draw
   new area effects a*_g ~ N(0, tau^2) for *every* area and station effects for the
   observed stations, the observed stations' partial counts (binomial thinning by their
   covered share; the profile replaced by a station-bootstrap replicate of it, so its
   estimation error is carried too -- re-fitted from the readings' segments as counted
   when the observations come from snapshots, :attr:`Observations.segments`, since hours
   split under the point profile would copy its shape into every replicate), refit,
   predict, and compare with the replicate's
   true total (the unobserved stations' part integrated over u). The interval is the
   point estimate minus the (1 - alpha/2, alpha/2) quantiles of those errors. It
   accounts for what the station bootstrap cannot: the areas' effects are a random draw
   that the few observed stations pin down only partly, so the unobserved stations of
   an area share one unknown error. ``interval="stations"`` keeps the earlier
   interval (resample observed stations, re-fit profile and model, percentile); it
   treats the area effects as fixed and under-covers (docs/turnout.md, "Self-selected
   observers study").

What it cannot do: if observers select stations on their turnout itself, beyond what the
covariates explain (selection on the unobservable), no model of the observed data
corrects it (Little & Rubin 2019, ch. 15: such data are not missing at random). The
estimate then carries a :class:`SelectionBand`: the prediction of the unobserved
stations shifted by +/- d residual standard deviations on the logit scale (a
pattern-mixture sensitivity analysis, Little 1994; Andridge & Little 2011), the
interval's ends moved with it. Under exponential-tilt selection, P(watch) proportional
to exp(gamma u), the watched stations' mean residual is shifted by gamma s^2 = d s, so d
is the log-factor by which the chance of being watched grows per residual SD of
turnout; the default d = 1 (:data:`DEFAULT_SELECTION_SD`) is a stated assumption, not
an estimate. :func:`electwatch.turnout.reconcile.sensitivity_table` gives the same for
observer undercount and a selection ratio.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from electwatch.turnout.frame import StationFrame, size_classes
from electwatch.turnout.observations import Observations
from electwatch.turnout.windows import (
    covered_shares,
    fit_profile_shares,
    fit_segment_profile_shares,
    overlap_matrix,
)

#: d of :class:`SelectionBand` unless told: the chance of being watched may grow (or
#: fall) by a factor e per residual SD of turnout (module doc).
DEFAULT_SELECTION_SD = 1.0
INTERVALS = ("model", "stations")

_GH_X, _GH_W = np.polynomial.hermite_e.hermegauss(20)
_GH_W = _GH_W / _GH_W.sum()


def _expit(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


@dataclass(frozen=True)
class SelectionBand:
    """National turnout if the watched stations' residual turnout (logit scale) differs
    from the unwatched ones' by up to ``selection_sd`` residual SDs either way
    (pattern-mixture sensitivity analysis: Little 1994, Biometrika 81(3); Andridge & Little
    2011, J. Official Statistics 27(2)); ``undercount`` additionally lets observers have
    missed that share of voters (upper end only, as in
    :func:`electwatch.turnout.reconcile.sensitivity_table`).

    ``estimate_low``/``estimate_high`` are the point estimates at the two shifts,
    ``ci_low``/``ci_high`` the interval's ends moved by the same amount: the band
    contains the truth whenever the selection is within the assumed size and the
    interval would have covered without it. The band is an assumption made visible, not
    an estimate: the data cannot say how strong selection on turnout itself was."""

    selection_sd: float
    undercount: float
    logit_shift: float
    estimate_low: float
    estimate_high: float
    ci_low: float
    ci_high: float

    def contains(self, value: float) -> bool:
        return bool(self.ci_low <= value <= self.ci_high)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__) | {
            "method": "pattern-mixture shift of the unobserved stations' logit turnout"
        }


@dataclass(frozen=True)
class ModelEstimate:
    """National turnout from the station model, with its interval and selection band."""

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
    interval: str = "model"
    selection_band: SelectionBand | None = None
    notes: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def contains(self, value: float) -> bool:
        return bool(self.ci_low <= value <= self.ci_high)

    def to_dict(self) -> dict[str, Any]:
        band = self.selection_band
        return dict(self.__dict__) | {
            "method": "station turnout model (two-level, logit; empirical Bayes prediction)",
            "selection_band": None if band is None else band.to_dict(),
            "notes": list(self.notes),
        }


@dataclass
class _Fit:
    """Fits of B replicates at once: beta (B x p), area effects and their posterior
    variances (B x k), tau^2 and sigma^2 (B,)."""

    beta: np.ndarray
    area_effect: np.ndarray
    area_var: np.ndarray
    tau2: np.ndarray
    sigma2: np.ndarray


def _fit(
    y: np.ndarray, mvar: np.ndarray, mult: np.ndarray, xmat: np.ndarray, area: np.ndarray,
    k: int, *, start: _Fit | None = None, iterations: int = 50, tol: float = 1e-6,
) -> _Fit:  # fmt: skip
    """Alternating WLS / BLUP with moment (sigma^2) and EM (tau^2) variance components,
    for B replicates at once: ``y``, ``mvar`` (measurement variances) and ``mult``
    (station multiplicities: 1, or bootstrap counts) are (B x n); ``start`` (a fit of
    one replicate) warm-starts every replicate."""
    b, n = y.shape
    p = xmat.shape[1]
    z = np.zeros((n, k))
    z[np.arange(n), area] = 1.0
    xx = (xmat[:, :, None] * xmat[:, None, :]).reshape(n, p * p)
    nm = mult.sum(axis=1)
    mv_mean = (mult * mvar).sum(axis=1) / nm
    if start is None:
        tau2, sigma2 = np.full(b, 0.1), np.full(b, 0.1)
        a = np.zeros((b, k))
    else:
        tau2, sigma2 = np.repeat(start.tau2, b), np.repeat(start.sigma2, b)
        a = np.repeat(start.area_effect, b, axis=0)
    beta = np.zeros((b, p))
    ridge = 1e-8 * np.eye(p)
    for _ in range(iterations):
        w = mult / (mvar + sigma2[:, None])
        xtwx = (w @ xx).reshape(b, p, p) + ridge
        xtwy = (w * (y - a[:, area])) @ xmat
        beta = np.linalg.solve(xtwx, xtwy[..., None])[..., 0]
        r = y - beta @ xmat.T
        sw = w @ z
        a_new = ((w * r) @ z) / (sw + 1.0 / tau2[:, None])  # BLUP: shrinks thin areas
        e = r - a_new[:, area]
        # sigma^2: moment estimate (residual mean square less the mean measurement
        # variance); tau^2: EM update (squared BLUPs plus their posterior variances)
        sigma2_new = np.maximum((mult * e**2).sum(axis=1) / np.maximum(nm - p, 1) - mv_mean,
                                1e-4)  # fmt: skip
        seen = sw > 0
        post = 1.0 / (sw + 1.0 / tau2[:, None])
        tau2_new = np.maximum(
            np.where(seen, a_new**2 + post, 0.0).sum(axis=1) / np.maximum(seen.sum(axis=1), 1),
            1e-5,
        )
        change = max(np.abs(tau2_new - tau2).max(), np.abs(sigma2_new - sigma2).max())
        a, tau2, sigma2 = a_new, tau2_new, sigma2_new
        if change < tol:
            break
    sw = (mult / (mvar + sigma2[:, None])) @ z
    return _Fit(beta, a, 1.0 / (sw + 1.0 / tau2[:, None]), tau2, sigma2)


def _expected_turnout(eta: np.ndarray, var: np.ndarray) -> np.ndarray:
    """E[expit(eta + sqrt(var) Z)], Z ~ N(0, 1), elementwise (Gauss-Hermite)."""
    out = np.zeros(np.broadcast(eta, var).shape)
    sd = np.sqrt(var)
    for xg, wg in zip(_GH_X, _GH_W, strict=True):
        out += wg * _expit(eta + sd * xg)
    return out


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
    interval: str = "model",
    selection_sd: float = DEFAULT_SELECTION_SD,
    undercount: float = 0.0,
    compare_intervals: bool = False,
    seed: int = 0,
) -> ModelEstimate:
    """Model-based national turnout (module doc) from observations with hourly counts
    (e.g. converted snapshots) or whole-day counts; ``area`` names the frame column with
    the random effect, ``covariates`` numeric frame columns (e.g. past turnout).

    ``interval`` is ``"model"`` (parametric bootstrap of the prediction error, default)
    or ``"stations"`` (station bootstrap, the earlier interval); ``compare_intervals``
    computes both and puts the other one in ``extra``. ``selection_sd`` (d) and
    ``undercount`` set the :class:`SelectionBand`."""
    if interval not in INTERVALS:
        raise ValueError(f"interval must be one of {INTERVALS}, not {interval!r}")
    if selection_sd < 0 or not 0 <= undercount < 1:
        raise ValueError("selection_sd must be >= 0 and undercount in [0, 1)")
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
    cls_names, cls_idx = np.unique(cls, return_inverse=True)
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
    n = counts.size
    unobs = np.ones(x_all.size, dtype=bool)
    unobs[rows] = False
    # stations with equal covariates and area share eta: predict per cell
    if covariates:
        key = np.column_stack([xmat_all, area_idx])[unobs]
        cells, cell_of = np.unique(key, axis=0, return_inverse=True)
        cell_x, cell_area = cells[:, :-1], cells[:, -1].astype(np.int64)
        cell_of = np.asarray(cell_of).reshape(-1)
    else:
        code = cls_idx[unobs] * k + area_idx[unobs]
        cell_codes, cell_of = np.unique(code, return_inverse=True)
        cell_area = cell_codes % k
        first = np.zeros(cell_codes.size, dtype=np.int64)
        first[cell_of] = np.flatnonzero(unobs)
        cell_x = xmat_all[first]
    cell_reg = np.bincount(cell_of, weights=x_all[unobs], minlength=cell_area.size)
    x_obs, a_obs = xmat_all[rows], area_idx[rows]
    register = float(x_all.sum())

    def measured(t_hat: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Logit turnout of the observed stations and its measurement variance."""
        theta = np.clip(t_hat / reg_obs, 0.5 / reg_obs, 1 - 0.5 / reg_obs)
        return np.log(theta / (1 - theta)), thinning_var(theta, s)

    def thinning_var(theta: np.ndarray, s: np.ndarray) -> np.ndarray:
        """Var of logit(c / (s x)) for c ~ Binomial(T, s) (delta method), plus a floor."""
        return 1.0 / (reg_obs * np.maximum(s, 1e-3) * theta * (1 - theta))

    def predict(fit: _Fit, shift: float = 0.0) -> np.ndarray:
        """Empirical-Bayes total of the unobserved stations, (B,)."""
        eta = fit.beta @ cell_x.T + fit.area_effect[:, cell_area] + shift
        var = fit.sigma2[:, None] + fit.area_var[:, cell_area]
        return _expected_turnout(eta, var) @ cell_reg

    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n, (n_resamples, n)) + (np.arange(n_resamples) * n)[:, None]
    mult = np.bincount(draws.ravel(), minlength=n_resamples * n).reshape(n_resamples, n)
    mult = mult.astype(float)
    segments = observations.segments
    if segments is not None and set(segments["station_id"].to_list()) != set(
        observations.station_ids.tolist()
    ):
        segments = None  # not the readings of exactly these stations (e.g. filtered)
    if segments is not None and segments.height:
        # readings from cumulative snapshots: the profile re-fitted from the segments as
        # counted in every replicate (module doc, step 4)
        pos = {sid: i for i, sid in enumerate(observations.station_ids.tolist())}
        seg_row = np.array([pos[sid] for sid in segments["station_id"].to_list()])
        o_seg = overlap_matrix(segments["start_h"].to_numpy(), segments["end_h"].to_numpy(),
                               polls[0], n_h)  # fmt: skip
        o_st = np.zeros((n, n_h))
        np.add.at(o_st, seg_row, o_seg)
        o_st = np.clip(o_st, 0.0, 1.0)
        c_seg = segments["count"].to_numpy().astype(float)
        p_point = fit_segment_profile_shares(seg_row, o_seg, c_seg, o_st, np.ones((1, n)))[0]
        p_rep = fit_segment_profile_shares(seg_row, o_seg, c_seg, o_st, mult, start=p_point)
    elif has.sum() >= 2:
        # the profile of every replicate in one vectorised fit (B x H)
        p_point = fit_profile_shares(hourly[has], o[has], open_hour=polls[0])
        p_rep = fit_profile_shares(hourly[has], o[has], mult[:, has], open_hour=polls[0])
    else:
        p_point = np.full(n_h, 1.0 / n_h)
        p_rep = np.tile(p_point, (n_resamples, 1))
    s_point = covered_shares(p_point, o)
    t_point = np.divide(counts, s_point, out=np.zeros_like(counts), where=s_point > 0)
    y, mvar = measured(t_point, s_point)
    fit = _fit(y[None], mvar[None], np.ones((1, n)), x_obs, a_obs, k)
    obs_total = float(t_point.sum())
    point = (obs_total + float(predict(fit)[0])) / register

    def station_bootstrap() -> np.ndarray:
        s = covered_shares(p_rep, o)
        t_hat = np.divide(counts, s, out=np.zeros_like(s), where=s > 0)
        yb, mb = measured(t_hat, s)
        fb = _fit(yb, mb, mult, x_obs, a_obs, k, start=fit)
        obs_b = (mult * t_hat).sum(axis=1) / mult.sum(axis=1) * n
        return np.asarray((obs_b + predict(fb)) / register)

    def prediction_errors() -> np.ndarray:
        beta, tau2, sigma2 = fit.beta[0], float(fit.tau2[0]), float(fit.sigma2[0])
        a_star = rng.normal(0.0, np.sqrt(tau2), (n_resamples, k))
        eta_obs = x_obs @ beta + a_star[:, a_obs] + rng.normal(0, np.sqrt(sigma2), (n_resamples, n))
        theta = _expit(eta_obs)
        t_true = reg_obs * theta
        # the reading's error (binomial thinning, as the fit assumes), then the
        # profile's own estimation error (a station-bootstrap replicate of it)
        noise = np.sqrt(thinning_var(theta, s_point))
        t_hat = reg_obs * _expit(eta_obs + noise * rng.standard_normal(eta_obs.shape))
        s_b = covered_shares(p_rep, o)
        t_hat = t_hat * np.divide(s_point, s_b, out=np.ones_like(s_b), where=s_b > 0)
        yb, mb = measured(t_hat, s_b)
        fb = _fit(yb, mb, np.ones_like(yb), x_obs, a_obs, k, start=fit)
        eta_cells = (cell_x @ beta)[None, :] + a_star[:, cell_area]
        truth = t_true.sum(axis=1) + _expected_turnout(eta_cells, np.full(1, sigma2)) @ cell_reg
        return np.asarray((t_hat.sum(axis=1) + predict(fb) - truth) / register)

    alpha = 1 - confidence
    intervals: dict[str, tuple[float, float, float]] = {}
    for kind in INTERVALS if compare_intervals else (interval,):
        if kind == "stations":
            reps = station_bootstrap()
            lo, hi = np.quantile(reps, [alpha / 2, 1 - alpha / 2])
        else:
            err = prediction_errors()
            e_lo, e_hi = np.quantile(err, [alpha / 2, 1 - alpha / 2])
            lo, hi, reps = point - e_hi, point - e_lo, err
        intervals[kind] = (float(lo), float(hi), float(reps.std(ddof=1)))
    ci_low, ci_high, se = intervals[interval]
    shift = selection_sd * float(np.sqrt(fit.tau2[0] + fit.sigma2[0]))
    est_lo = (obs_total + float(predict(fit, -shift)[0])) / register
    est_hi = (obs_total + float(predict(fit, shift)[0])) / register / (1 - undercount)
    band = SelectionBand(
        selection_sd=selection_sd, undercount=undercount, logit_shift=shift,
        estimate_low=est_lo, estimate_high=est_hi, ci_low=est_lo - (point - ci_low),
        ci_high=est_hi + (ci_high - point) / (1 - undercount),
    )  # fmt: skip
    extra: dict[str, Any] = {
        "n_resamples": n_resamples,
        "interval_method": {
            "model": "parametric bootstrap of the prediction error (Chatterjee, Lahiri & Li 2008)",
            "stations": "percentile, stations resampled (area effects held fixed)",
        }[interval],
    }
    if compare_intervals:
        extra["intervals"] = {kk: {"ci_low": v[0], "ci_high": v[1], "standard_error": v[2]}
                              for kk, v in intervals.items()}  # fmt: skip
    return ModelEstimate(
        estimate=point, standard_error=se, ci_low=ci_low, ci_high=ci_high,
        confidence=confidence, n=int(n), total_stations=int(x_all.size),
        coefficients=dict(zip(names, map(float, fit.beta[0]), strict=True)),
        area_sd=float(np.sqrt(fit.tau2[0])), station_sd=float(np.sqrt(fit.sigma2[0])),
        observed_register_share=float(reg_obs.sum() / register), interval=interval,
        selection_band=band,
        notes=("assumes selection depends only on the covariates and areas in the model; "
               "selection on turnout itself is bounded only by the selection band",),
        extra=extra,
    )  # fmt: skip
