"""Typed results of the eforensics fit: parameters with intervals, station-level fraud
probabilities, expected manufactured and stolen votes per station and per area, and
the ranked list of the most suspicious stations, with the caveat a reader needs."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from electwatch.forensics.eforensics.fit import Z95, RawFit, boundary_upper
from electwatch.forensics.eforensics.model import K_THRESHOLD, magnitude_mean

CAVEAT = (
    "A statistical model's reading, not evidence of fraud at any station. The model "
    "assumes every clean station's turnout and winner's share follow one smooth "
    "(logistic-linear) pattern; a station is called 'incremental' or 'extreme' when "
    "its numbers fit the pattern of votes added from abstainers and taken from other "
    "candidates better than the clean pattern. Genuine local differences the "
    "covariates do not capture (a strongly pro-winner district, a hospital, a "
    "military unit, a different register practice) look the same to the model. The "
    "binomial variant (bl) reads any extra variation of clean stations as incremental "
    "fraud and can call most stations frauded; the beta-binomial variant (bbl) allows "
    "for it. Use the list to choose stations to check against protocols, observers' "
    "reports and complaints."
)


WEAK_INCREMENTAL = 0.05  # both incremental fractions below this: class ~ clean


def _num(x: float) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


@dataclass(frozen=True)
class ParameterEstimate:
    """One parameter: estimate, standard error and 95% Wald interval."""

    name: str
    covariate: str
    estimate: float
    se: float
    low: float
    high: float
    identified: bool = True
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "covariate": self.covariate,
            "estimate": _num(self.estimate),
            "se": _num(self.se),
            "ci_low": _num(self.low),
            "ci_high": _num(self.high),
            "identified": self.identified,
            "note": self.note,
        }


@dataclass(frozen=True)
class StationFraud:
    """One station's posterior reading."""

    station_id: str
    area: str
    eligible: int
    abstentions: int
    winner_votes: int
    p_clean: float
    p_incremental: float
    p_extreme: float
    expected_manufactured: float
    expected_stolen: float

    @property
    def most_likely(self) -> str:
        probs = (self.p_clean, self.p_incremental, self.p_extreme)
        return ("clean", "incremental", "extreme")[int(np.argmax(probs))]

    def to_dict(self) -> dict[str, Any]:
        return {
            "station_id": self.station_id,
            "area": self.area,
            "eligible": self.eligible,
            "abstentions": self.abstentions,
            "winner_votes": self.winner_votes,
            "p_clean": round(self.p_clean, 6),
            "p_incremental": round(self.p_incremental, 6),
            "p_extreme": round(self.p_extreme, 6),
            "most_likely": self.most_likely,
            "expected_manufactured_votes": round(self.expected_manufactured, 1),
            "expected_stolen_votes": round(self.expected_stolen, 1),
        }


@dataclass(frozen=True)
class AreaFraud:
    """Sums over the stations of one area."""

    area: str
    stations: int
    expected_incremental: float  # sum of P(incremental)
    expected_extreme: float
    expected_manufactured: float
    expected_stolen: float
    winner_votes: float

    def to_dict(self) -> dict[str, Any]:
        frauded = self.expected_manufactured + self.expected_stolen
        return {
            "area": self.area,
            "stations": self.stations,
            "expected_incremental_stations": round(self.expected_incremental, 2),
            "expected_extreme_stations": round(self.expected_extreme, 2),
            "expected_manufactured_votes": round(self.expected_manufactured, 1),
            "expected_stolen_votes": round(self.expected_stolen, 1),
            "share_of_winner_votes": _num(frauded / self.winner_votes)
            if self.winner_votes > 0
            else None,
        }


@dataclass
class EforensicsFit:
    """The fitted model and its station-level reading."""

    variant: str
    n: int
    excluded: dict[str, int]  # reason -> stations left out
    parameters: list[ParameterEstimate]
    weights: list[ParameterEstimate]  # mean pi of clean, incremental, extreme
    magnitudes: list[ParameterEstimate]  # mean iota_m, iota_s, chi_m, chi_s
    loglik: float
    converged: bool
    starts_agree: bool
    start_logliks: list[float]
    iterations: int
    evaluations: int
    score_statistic: float
    seconds: float
    nodes: int
    station_ids: np.ndarray
    areas: np.ndarray
    eligible: np.ndarray
    abstentions: np.ndarray
    winner_votes: np.ndarray
    posterior: np.ndarray  # n x 3
    expected_manufactured: np.ndarray
    expected_stolen: np.ndarray
    area_level: str = "national"
    winner: str = ""
    caveat: str = CAVEAT
    notes: list[str] = field(default_factory=list)
    quadrature: str = "adaptive"  # adaptive (per-station mode) or fixed rule
    node_check: dict[str, Any] | None = None  # log-likelihood with k vs k + 2 nodes
    boundary_tests: list[dict[str, Any]] = field(default_factory=list)  # per fraud class

    @property
    def classes(self) -> np.ndarray:
        """Most likely class per station: 1 clean, 2 incremental, 3 extreme."""
        return self.posterior.argmax(axis=1) + 1

    @property
    def class_counts(self) -> dict[str, int]:
        c = np.bincount(self.classes, minlength=4)
        return {"clean": int(c[1]), "incremental": int(c[2]), "extreme": int(c[3])}

    def parameter(self, name: str, covariate: str = "(Intercept)") -> ParameterEstimate:
        for p in [*self.parameters, *self.weights, *self.magnitudes]:
            if p.name == name and p.covariate == covariate:
                return p
        raise KeyError(f"no parameter {name}[{covariate}]")

    def station(self, i: int) -> StationFraud:
        return StationFraud(
            str(self.station_ids[i]),
            str(self.areas[i]),
            int(self.eligible[i]),
            int(self.abstentions[i]),
            int(self.winner_votes[i]),
            float(self.posterior[i, 0]),
            float(self.posterior[i, 1]),
            float(self.posterior[i, 2]),
            float(self.expected_manufactured[i]),
            float(self.expected_stolen[i]),
        )

    def ranking(self) -> np.ndarray:
        """Station indices, most suspicious first: by P(extreme), then P(fraud), then
        expected frauded votes."""
        frauded = self.expected_manufactured + self.expected_stolen
        return np.lexsort((-frauded, self.posterior[:, 0], -self.posterior[:, 2]))

    def most_suspicious(self, top: int = 20) -> list[StationFraud]:
        return [self.station(int(i)) for i in self.ranking()[:top]]

    def by_area(self) -> list[AreaFraud]:
        names, codes = np.unique(self.areas.astype(str), return_inverse=True)
        g = len(names)

        def s(v: np.ndarray) -> np.ndarray:
            return np.bincount(codes, weights=v, minlength=g)

        cnt = np.bincount(codes, minlength=g)
        inc, ext = s(self.posterior[:, 1]), s(self.posterior[:, 2])
        man, sto, win = (
            s(self.expected_manufactured),
            s(self.expected_stolen),
            s(self.winner_votes.astype(float)),
        )
        rows = [
            AreaFraud(str(names[k]), int(cnt[k]), inc[k], ext[k], man[k], sto[k], win[k])
            for k in range(g)
        ]
        return sorted(rows, key=lambda r: -(r.expected_manufactured + r.expected_stolen))

    @property
    def total_manufactured(self) -> float:
        return float(self.expected_manufactured.sum())

    @property
    def total_stolen(self) -> float:
        return float(self.expected_stolen.sum())

    def to_dict(self, top: int = 20, areas: int = 20) -> dict[str, Any]:
        return {
            "statistic": f"eforensics_{self.variant}",
            "model": "eforensics finite mixture (Ferrari, McAlister & Mebane 2018), "
            + ("binomial" if self.variant == "bl" else "beta-binomial"),
            "winner": self.winner,
            "n": self.n,
            "excluded": self.excluded,
            "weights": [w.to_dict() for w in self.weights],
            "magnitudes": [m.to_dict() for m in self.magnitudes],
            "parameters": [p.to_dict() for p in self.parameters],
            "class_counts": self.class_counts,
            "expected_manufactured_votes": round(self.total_manufactured, 1),
            "expected_stolen_votes": round(self.total_stolen, 1),
            "fit": {
                "method": "maximum likelihood, class and station fraud fractions "
                "marginalised; Wald intervals from the observed information",
                "loglik": _num(self.loglik),
                "converged": self.converged,
                "starts_agree": self.starts_agree,
                "start_logliks": [_num(x) for x in self.start_logliks],
                "iterations": self.iterations,
                "evaluations": self.evaluations,
                "score_statistic": _num(self.score_statistic),
                "quadrature": self.quadrature,
                "quadrature_nodes": self.nodes,
                "nodes": self.nodes,
                "node_check": self.node_check,
                "boundary_tests": self.boundary_tests,
                "seconds": round(self.seconds, 3),
            },
            "area_level": self.area_level,
            "areas": [a.to_dict() for a in self.by_area()[:areas]],
            "most_suspicious": [s.to_dict() for s in self.most_suspicious(top)],
            "caveat": self.caveat,
            "notes": self.notes,
        }


def _ci(est: float, se: float, lo: float = -math.inf, hi: float = math.inf) -> tuple[float, float]:
    if not math.isfinite(se):
        return math.nan, math.nan
    return max(lo, est - Z95 * se), min(hi, est + Z95 * se)


def dress(
    raw: RawFit,
    *,
    station_ids: np.ndarray,
    areas: np.ndarray,
    excluded: dict[str, int],
    area_level: str = "national",
    winner: str = "",
) -> EforensicsFit:
    """Turn a :class:`RawFit` into an :class:`EforensicsFit`."""
    lik, curv, ev = raw.likelihood, raw.curvature, raw.evaluation
    d = lik.data
    cov = curv.covariance
    se = np.sqrt(np.clip(np.diag(cov), 0, None))
    se = np.where(np.isfinite(np.diag(cov)) & (np.diag(cov) >= 0), se, np.nan)
    params: list[ParameterEstimate] = []
    counts = ev.class_posterior.sum(axis=0)
    for j, full in enumerate(curv.names):
        name, _, cov_name = full.partition("[")
        cov_name = cov_name.rstrip("]") or "(Intercept)"
        est = float(curv.estimate[j])
        if name.startswith("pi_"):
            continue
        ident = bool(curv.identified[j])
        note = "" if ident else "class (nearly) empty: magnitude not identified"
        lo, hi = _ci(est, float(se[j]))
        params.append(ParameterEstimate(name, cov_name, est, float(se[j]), lo, hi, ident, note))
    # mixture weights (mean over stations when they have covariates)
    weights: list[ParameterEstimate] = []
    if curv.weights_direct:
        pi23 = curv.estimate[:2]
        c2 = cov[:2, :2]
        var1 = float(c2.sum())
        ests = [1 - pi23.sum(), pi23[0], pi23[1]]
        ses = [math.sqrt(var1) if var1 > 0 else math.nan, float(se[0]), float(se[1])]
    else:
        pis = ev.pi.mean(axis=0)
        ests = list(pis)
        # delta method for the mean softmax over stations
        blocks = lik.layout.blocks()
        jac = np.zeros((3, len(raw.theta)))
        for c, bname in ((1, "gamma_incremental"), (2, "gamma_extreme")):
            sl = blocks[bname]
            for c_out in range(3):
                dsm = ev.pi[:, c_out] * ((c_out == c) - ev.pi[:, c])
                jac[c_out, sl] = (dsm[:, None] * d.x_probability).mean(axis=0)
        ok = np.isfinite(cov).all(axis=0)
        sub = np.ix_(ok, ok)
        vc = jac[:, ok] @ np.nan_to_num(cov[sub]) @ jac[:, ok].T
        ses = [math.sqrt(max(float(v), 0)) for v in np.diag(vc)]
    boundary = {}
    if curv.weights_direct:
        for c in (1, 2):
            bad_se = not (math.isfinite(ses[c]) and ses[c] > 0)
            if not curv.identified[c - 1] or bad_se:
                # an empty class's magnitudes are not identified (at iota = 0 it is the
                # clean class): the limit is for fraud of eforensics' prior-centre
                # magnitudes (iota 0.35, chi 0.85)
                theta_c = raw.theta.copy()
                blocks = lik.layout.blocks()
                for nm in ("beta_iota_m", "beta_iota_s", "beta_chi_m", "beta_chi_s"):
                    if counts[1 if "iota" in nm else 2] < 1.0:
                        theta_c[blocks[nm]] = 0.0
                boundary[c] = boundary_upper(lik.evaluate(theta_c), c)
    for c, (label, est, s) in enumerate(
        zip(("clean", "incremental", "extreme"), ests, ses, strict=True)
    ):
        if c in boundary:
            weights.append(
                ParameterEstimate(
                    f"pi_{label}",
                    "(mean)",
                    float(est),
                    math.nan,
                    0.0,
                    boundary[c],
                    True,
                    "estimate at 0: likelihood-ratio upper limit (empty class: magnitudes "
                    "at eforensics' prior centres)",
                )
            )
            continue
        if c == 0 and boundary:
            var = sum(float(cov[k - 1, k - 1]) for k in (1, 2) if k not in boundary)
            s = math.sqrt(var) if var > 0 else math.nan
            if not boundary.keys() ^ {1, 2}:
                lo = 1 - sum(boundary.values())
                weights.append(
                    ParameterEstimate(
                        f"pi_{label}",
                        "(mean)",
                        float(est),
                        math.nan,
                        lo,
                        1.0,
                        True,
                        "other weights at 0: from their upper limits",
                    )
                )
                continue
        lo, hi = _ci(float(est), s, 0.0, 1.0)
        weights.append(ParameterEstimate(f"pi_{label}", "(mean)", float(est), s, lo, hi))
    # boundary tests (fit.boundary_tests): a class not kept gets its weight's interval
    # extended to 0, and the clean weight's to 1 - the other lower limits
    unsupported = [
        t for t in raw.boundary_tests if not t["kept"] and t["class"] in ("incremental", "extreme")
    ]
    for t in unsupported:
        c = 1 if t["class"] == "incremental" else 2
        if weights[c].low > 0:
            weights[c] = replace(
                weights[c],
                low=0.0,
                note=(
                    f"boundary test: 2 dlogL = {float(t['lr']):.1f} below the penalty "
                    f"{float(t['penalty']):.1f}: the class is not supported, interval "
                    "extended to 0"
                ),
            )
    if unsupported:
        top = min(1.0, 1.0 - weights[1].low - weights[2].low)
        if weights[0].high < top:
            weights[0] = replace(
                weights[0], high=top, note="fraud class(es) not supported: interval extended"
            )
    # mean fraud fractions on the natural scale (intercept only; delta method)
    mags: list[ParameterEstimate] = []
    for pname, kind, label in (
        ("beta_iota_m", "incremental", "iota_m"),
        ("beta_iota_s", "incremental", "iota_s"),
        ("beta_chi_m", "extreme", "chi_m"),
        ("beta_chi_s", "extreme", "chi_s"),
    ):
        j = curv.names.index(f"{pname}[(Intercept)]")
        eta = float(curv.estimate[j])
        mean, deriv = magnitude_mean(np.array([eta]), kind)
        s = float(deriv[0] * se[j])
        lo_b, hi_b = (0.0, K_THRESHOLD) if kind == "incremental" else (K_THRESHOLD, 1.0)
        lo, hi = _ci(float(mean[0]), s, lo_b, hi_b)
        ident = bool(curv.identified[j]) and counts[1 if kind == "incremental" else 2] >= 1
        mags.append(
            ParameterEstimate(
                label,
                "(at covariates 0)" if d.x_fraud.shape[1] > 1 else "(mean)",
                float(mean[0]),
                s,
                lo,
                hi,
                ident,
                "" if ident else "class (nearly) empty: magnitude not identified",
            )
        )
    # expected manufactured and stolen votes: a f_m / (1 - f_m) and (N - a - w) f_s/(1 - f_s)
    a, w, n_ = d.abstentions, d.winner, d.eligible
    others = np.clip(n_ - a - w, 0, None)
    man = np.zeros(d.n)
    sto = np.zeros(d.n)
    for c, kind in ((1, "incremental"), (2, "extreme")):
        fm = ev.expected_fractions[f"{kind}_m"]
        fs = ev.expected_fractions[f"{kind}_s"]
        m_c = a * fm / (1 - fm)
        s_c = others * fs / (1 - fs)
        # frauded votes are part of the winner's count: never more than w
        total = m_c + s_c
        scale = np.where(total > w, w / np.where(total > 0, total, 1), 1.0)
        man += ev.class_posterior[:, c] * m_c * scale
        sto += ev.class_posterior[:, c] * s_c * scale
    notes = []
    if not raw.converged:
        notes.append("the optimiser did not reach the convergence criterion: do not use")
    if not raw.starts_agree:
        notes.append(
            "the starting points reached different maxima (log-likelihoods "
            + ", ".join(f"{o.loglik:.2f}" for o in raw.starts)
            + "): the best is reported; the likelihood has more than one mode"
        )
    if raw.node_check is not None and not raw.node_check["passed"]:
        notes.append(
            f"quadrature: {raw.node_check['nodes']} and {raw.node_check['compared_with']} "
            "adaptive nodes per share would move the estimate by "
            f"{raw.node_check['max_shift_in_se']:.2f} standard errors (tolerance "
            f"{raw.node_check['tolerance_in_se']}): the integral over the stations' fraud "
            "shares is not settled"
        )
    mag = {m.name: m.estimate for m in mags}
    if counts[1] >= 1 and max(mag["iota_m"], mag["iota_s"]) < WEAK_INCREMENTAL:
        notes.append(
            f"the incremental class's fraud fractions are tiny (iota_m {mag['iota_m']:.3f}, "
            f"iota_s {mag['iota_s']:.3f}): it is nearly the clean class and the model cannot "
            "tell them apart; its stations are not evidence of fraud (docs/eforensics.md)"
        )
    return EforensicsFit(
        lik.variant,
        d.n,
        excluded,
        params,
        weights,
        mags,
        raw.optimum.loglik,
        raw.converged,
        raw.starts_agree,
        [o.loglik for o in raw.starts],
        # the starts' passes, plus the adaptive fit's (boundary tests not counted)
        sum(o.iterations for o in raw.starts)
        + (raw.optimum.iterations if raw.quadrature == "adaptive" else 0),
        sum(o.evaluations for o in raw.starts)
        + (raw.optimum.evaluations if raw.quadrature == "adaptive" else 0),
        raw.optimum.score_statistic,
        raw.seconds,
        lik.nodes,
        station_ids,
        areas,
        d.eligible.astype(np.int64),
        d.abstentions.astype(np.int64),
        d.winner.astype(np.int64),
        ev.class_posterior,
        man,
        sto,
        area_level,
        winner,
        CAVEAT,
        notes,
        raw.quadrature,
        raw.node_check,
        raw.boundary_tests,
    )
