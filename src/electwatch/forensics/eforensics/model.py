"""The eforensics finite-mixture fraud model: data, parameters and the likelihood.

Model (Mebane 2016; Ferrari, McAlister & Mebane 2018, "Developments in positive
empirical models of election frauds: dimensions and decisions"; the JAGS text of the R
package eforensics, ``bl``/``bbl``, read as a specification). For station ``i`` with
``N`` eligible voters, ``a`` abstentions and ``w`` votes for the winner:

* class ``Z`` is clean (1), incremental (2) or extreme (3) fraud with weights ``pi``
  (optionally multinomial-logit in covariates: ``pi_i = softmax(X_pi gamma)``);
* turnout ``tau_i = logistic(X_tau beta_tau)``, winner's share of the vote
  ``nu_i = logistic(X_nu beta_nu)``;
* fraud fractions of a frauded station, ``f_m`` (manufactured: share of abstainers
  turned into winner's votes) and ``f_s`` (stolen: share of opposition votes moved to
  the winner), with means ``iota = k * logistic(X_f beta_iota)`` in (0, k) for
  incremental and ``chi = k + (1 - k) logistic(X_f beta_chi)`` in (k, 1) for extreme
  fraud, k = 0.7; each station's own fractions are ``Binomial(N, mean) / N`` as in
  eforensics' JAGS text, integrated out here on their normal approximation by
  Gauss-Hermite quadrature (``nodes`` per dimension): adaptive (:meth:`Likelihood.adapt`,
  the rule centred at each station's mode) or fixed (nodes on the normal law itself);
* ``a ~ Binomial(N, (1 - tau)(1 - f_m))`` and, given ``a`` (alpha = a / N),
  ``w ~ Binomial(N, p_w)`` with ``p_w = nu (1 - f_s)(1 - f_m - alpha)/(1 - f_m)
  + alpha (f_m - f_s)/(1 - f_m) + f_s`` — at the expected abstention this is
  ``tau nu + f_m (1 - tau) + f_s tau (1 - nu)``, eforensics' fraud map;
* ``bbl`` replaces both binomials by beta-binomials with the same means and
  precisions ``phi_a``, ``phi_w`` (over-dispersion of clean stations).

:func:`evaluate` returns the log-likelihood with the class marginalised, its analytic
gradient (Fisher's identity: the posterior expectation of the complete-data score) and
the per-station posterior over classes and quadrature nodes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import special

K_THRESHOLD = 0.7  # eforensics' k: incremental means in (0, k), extreme in (k, 1)
FRACTION_CAP = 0.999  # eforensics caps a station's fraud fraction at .999
P_EPS = 1e-12
CLASSES = ("clean", "incremental", "extreme")
MAGNITUDES = ("iota_m", "iota_s", "chi_m", "chi_s")
VARIANTS = ("bl", "bbl")


def _design(x: np.ndarray | None, n: int) -> np.ndarray:
    """Intercept plus covariate columns."""
    if x is None:
        return np.ones((n, 1))
    x = np.asarray(x, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    return np.column_stack([np.ones(n), x])


@dataclass
class ModelData:
    """Counts and design matrices of the stations a fit uses (all float64)."""

    eligible: np.ndarray
    abstentions: np.ndarray
    winner: np.ndarray
    x_turnout: np.ndarray
    x_vote: np.ndarray
    x_fraud: np.ndarray  # covariates of the fraud magnitudes
    x_probability: np.ndarray  # covariates of the fraud probabilities
    names_turnout: list[str] = field(default_factory=lambda: ["(Intercept)"])
    names_vote: list[str] = field(default_factory=lambda: ["(Intercept)"])
    names_fraud: list[str] = field(default_factory=lambda: ["(Intercept)"])
    names_probability: list[str] = field(default_factory=lambda: ["(Intercept)"])

    @classmethod
    def build(
        cls,
        eligible: np.ndarray,
        abstentions: np.ndarray,
        winner: np.ndarray,
        *,
        x_turnout: np.ndarray | None = None,
        x_vote: np.ndarray | None = None,
        x_fraud: np.ndarray | None = None,
        x_probability: np.ndarray | None = None,
        names_turnout: list[str] | None = None,
        names_vote: list[str] | None = None,
        names_fraud: list[str] | None = None,
        names_probability: list[str] | None = None,
    ) -> ModelData:
        n = len(eligible)
        parts = {
            "turnout": (x_turnout, names_turnout),
            "vote": (x_vote, names_vote),
            "fraud": (x_fraud, names_fraud),
            "probability": (x_probability, names_probability),
        }
        mats = {k: _design(x, n) for k, (x, _) in parts.items()}
        names = {}
        for k, (_, nm) in parts.items():
            extra = mats[k].shape[1] - 1
            given = list(nm) if nm is not None else [f"x{j + 1}" for j in range(extra)]
            if len(given) != extra:
                raise ValueError(f"{k}: {extra} covariate columns but {len(given)} names")
            names[k] = ["(Intercept)", *given]
        return cls(
            np.asarray(eligible, dtype=float),
            np.asarray(abstentions, dtype=float),
            np.asarray(winner, dtype=float),
            mats["turnout"],
            mats["vote"],
            mats["fraud"],
            mats["probability"],
            names["turnout"],
            names["vote"],
            names["fraud"],
            names["probability"],
        )

    @property
    def n(self) -> int:
        return len(self.eligible)

    def subset(self, index: np.ndarray) -> ModelData:
        return ModelData(
            self.eligible[index],
            self.abstentions[index],
            self.winner[index],
            self.x_turnout[index],
            self.x_vote[index],
            self.x_fraud[index],
            self.x_probability[index],
            self.names_turnout,
            self.names_vote,
            self.names_fraud,
            self.names_probability,
        )


@dataclass(frozen=True)
class Layout:
    """Where each parameter block sits in the flat parameter vector.

    Order: pi logits of incremental and extreme (each ``d_probability`` long, clean is
    the reference), beta_tau, beta_nu, beta_iota_m, beta_iota_s, beta_chi_m,
    beta_chi_s, and for ``bbl`` log phi_a, log phi_w."""

    d_probability: int
    d_turnout: int
    d_vote: int
    d_fraud: int
    variant: str

    def blocks(self) -> dict[str, slice]:
        sizes = [
            ("gamma_incremental", self.d_probability),
            ("gamma_extreme", self.d_probability),
            ("beta_tau", self.d_turnout),
            ("beta_nu", self.d_vote),
            ("beta_iota_m", self.d_fraud),
            ("beta_iota_s", self.d_fraud),
            ("beta_chi_m", self.d_fraud),
            ("beta_chi_s", self.d_fraud),
        ]
        if self.variant == "bbl":
            sizes += [("log_phi_a", 1), ("log_phi_w", 1)]
        out: dict[str, slice] = {}
        start = 0
        for name, size in sizes:
            out[name] = slice(start, start + size)
            start += size
        return out

    @property
    def size(self) -> int:
        return max(s.stop for s in self.blocks().values())

    @classmethod
    def for_data(cls, data: ModelData, variant: str) -> Layout:
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, not {variant!r}")
        return cls(
            data.x_probability.shape[1],
            data.x_turnout.shape[1],
            data.x_vote.shape[1],
            data.x_fraud.shape[1],
            variant,
        )


def logsumexp_rows(x: np.ndarray) -> np.ndarray:
    """log(sum(exp(x), axis=1)) for a 2-D array, -inf rows kept (faster than scipy's)."""
    m = x.max(axis=1)
    safe = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        return safe + np.log(np.exp(x - safe[:, None]).sum(axis=1))


def logistic(x: np.ndarray) -> np.ndarray:
    return special.expit(x)


def magnitude_mean(eta: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Mean fraud fraction and its derivative in the linear predictor (eforensics' k
    scaling: incremental in (0, k), extreme in (k, 1))."""
    s = logistic(eta)
    if kind == "incremental":
        return K_THRESHOLD * s, K_THRESHOLD * s * (1 - s)
    return K_THRESHOLD + (1 - K_THRESHOLD) * s, (1 - K_THRESHOLD) * s * (1 - s)


def hermite_nodes(k: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Hermite nodes and weights for a standard normal (weights sum to 1)."""
    if k == 1:
        return np.zeros(1), np.ones(1)
    x, w = np.polynomial.hermite_e.hermegauss(k)
    return x, w / w.sum()


def _log_share_density(
    f: np.ndarray, mu: np.ndarray, n_: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """log N(f; mu, mu (1 - mu) / N) (the normal law of Binomial(N, mu) / N, a
    station's own fraud share in eforensics) and its derivative in mu."""
    mu_c = np.clip(mu, 1e-300, 1.0)[:, None]
    n_c = n_[:, None]
    v = mu_c * (1 - mu_c) / n_c
    dv = (1 - 2 * mu_c) / n_c
    e = f - mu_c
    lp = -0.5 * np.log(2 * np.pi * v) - e**2 / (2 * v)
    dlp = -0.5 * dv / v + e / v + e**2 * dv / (2 * v**2)
    return lp, dlp


def trigamma(x: np.ndarray) -> np.ndarray:
    """psi'(x) for x > 0: the recurrence psi'(x) = psi'(x + 1) + 1/x^2 up to x >= 6,
    then the asymptotic series (Abramowitz & Stegun 6.4.12); relative error < 1e-10,
    several times faster than scipy's polygamma(1, x)."""
    x = np.asarray(x, dtype=float)
    acc = np.zeros_like(x)
    for _ in range(6):
        small = x < 6
        if not small.any():
            break
        acc += np.where(small, 1 / np.where(small, x, 1.0) ** 2, 0.0)
        x = np.where(small, x + 1, x)
    r = 1 / x
    r2 = r * r
    series = r + r2 / 2 + r * r2 * (1 / 6 - r2 * (1 / 30 - r2 * (1 / 42 - r2 / 30)))
    return acc + series


def _normalised(log_w: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    w = np.exp(log_w - log_w.max(axis=-1, keepdims=True))
    return np.broadcast_to(w / w.sum(axis=-1, keepdims=True), shape)


@dataclass
class Evaluation:
    """Result of one pass over the stations."""

    loglik: float
    gradient: np.ndarray  # d loglik / d theta (pi in logits)
    class_posterior: np.ndarray  # n x 3
    log_class_density: np.ndarray  # n x 3, log f(a, w | class), nodes marginalised
    station_loglik: np.ndarray
    pi: np.ndarray  # n x 3
    scores: np.ndarray | None  # n x P per-station scores (when asked)
    expected_fractions: dict[str, np.ndarray]  # E[f | data, class] per station


class Likelihood:
    """The mixture likelihood for one data set, variant and quadrature size."""

    def __init__(self, data: ModelData, variant: str = "bl", nodes: int | None = None):
        self.data = data
        self.variant = variant
        self.layout = Layout.for_data(data, variant)
        if nodes is None:
            nodes = 3 if variant == "bl" else 1
        self.nodes = nodes
        # adaptive rule (see :meth:`adapt`): per class, nodes f_m, f_s (n x J) and log
        # rule weights (n x J); None = the fixed rule on each share's normal law
        self.adaptive: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None
        # re-centre the adaptive rule at every evaluation (the objective is then the
        # adaptive approximation itself, a function of theta alone)
        self.auto_adapt = False
        self._modes: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        x, wt = hermite_nodes(nodes)
        # 2-D grid over (f_m, f_s): J = nodes**2 points
        self.node_m = np.repeat(x, nodes)
        self.node_s = np.tile(x, nodes)
        self.log_node_weight = np.log(np.repeat(wt, nodes) * np.tile(wt, nodes))
        n_ = data.eligible
        self.alpha = data.abstentions / n_
        self.log_choose_a = (
            special.gammaln(n_ + 1)
            - special.gammaln(data.abstentions + 1)
            - special.gammaln(n_ - data.abstentions + 1)
        )
        self.log_choose_w = (
            special.gammaln(n_ + 1)
            - special.gammaln(data.winner + 1)
            - special.gammaln(n_ - data.winner + 1)
        )

    # --- one binomial or beta-binomial term and its derivatives ---------------------
    def _term(
        self, k: np.ndarray, p: np.ndarray, log_choose: np.ndarray, phi: float | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """log pmf of k successes of N at mean p, d/dp, and d/dphi (bbl)."""
        n_ = self.data.eligible[:, None]
        k = k[:, None]
        lc = log_choose[:, None]
        if phi is None:
            ll = lc + k * np.log(p) + (n_ - k) * np.log1p(-p)
            return ll, k / p - (n_ - k) / (1 - p), None
        ap, bp = p * phi, (1 - p) * phi
        ll = lc + special.betaln(k + ap, n_ - k + bp) - special.betaln(ap, bp)
        dg_ka = special.digamma(k + ap)
        dg_kb = special.digamma(n_ - k + bp)
        dg_a = special.digamma(ap)
        dg_b = special.digamma(bp)
        dp = phi * (dg_ka - dg_kb - dg_a + dg_b)
        dphi = (
            p * dg_ka
            + (1 - p) * dg_kb
            - special.digamma(n_ + phi)
            - p * dg_a
            - (1 - p) * dg_b
            + special.digamma(phi)
        )
        return ll, dp, dphi

    # --- adaptive quadrature ------------------------------------------------------
    def _count_derivatives(
        self,
        k: np.ndarray,
        p_raw: np.ndarray,
        log_choose: np.ndarray,
        phi: float | None,
        value_only: bool = False,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """log pmf of k of N at mean p and its first two derivatives in p (zero where
        p is clipped)."""
        n_ = self.data.eligible
        p = np.clip(p_raw, P_EPS, 1 - P_EPS)
        inside = p == p_raw
        if value_only:
            if phi is None:
                ll = log_choose + k * np.log(p) + (n_ - k) * np.log1p(-p)
            else:
                ap, bp = p * phi, (1 - p) * phi
                ll = log_choose + special.betaln(k + ap, n_ - k + bp) - special.betaln(ap, bp)
            return ll, ll, ll
        if phi is None:
            ll = log_choose + k * np.log(p) + (n_ - k) * np.log1p(-p)
            d1 = k / p - (n_ - k) / (1 - p)
            d2 = -k / p**2 - (n_ - k) / (1 - p) ** 2
        else:
            ap, bp = p * phi, (1 - p) * phi
            ll = log_choose + special.betaln(k + ap, n_ - k + bp) - special.betaln(ap, bp)
            d1 = phi * (
                special.digamma(k + ap)
                - special.digamma(n_ - k + bp)
                - special.digamma(ap)
                + special.digamma(bp)
            )
            d2 = phi**2 * (trigamma(k + ap) + trigamma(n_ - k + bp) - trigamma(ap) - trigamma(bp))
        return ll, np.where(inside, d1, 0.0), np.where(inside, d2, 0.0)

    def _log_integrand(
        self,
        f_m: np.ndarray,
        f_s: np.ndarray,
        tau: np.ndarray,
        nu: np.ndarray,
        mu: tuple[np.ndarray, np.ndarray],
        phi: tuple[float | None, float | None],
        value_only: bool = False,
    ) -> tuple[np.ndarray, ...]:
        """Per station: log of (shares' normal density x counts' likelihood) at
        (f_m, f_s), its gradient and Hessian in (f_m, f_s)."""
        d = self.data
        n_ = d.eligible
        alpha = self.alpha
        v_m = np.maximum(mu[0] * (1 - mu[0]) / n_, 1e-300)
        v_s = np.maximum(mu[1] * (1 - mu[1]) / n_, 1e-300)
        q = 1 - f_m
        c = 1 - nu
        u = 1 - alpha / q
        p_a = (1 - tau) * q
        p_w = 1 - alpha - c * (1 - f_s) * u
        ll_a, a1, a2 = self._count_derivatives(
            d.abstentions, p_a, self.log_choose_a, phi[0], value_only
        )
        ll_w, w1, w2 = self._count_derivatives(d.winner, p_w, self.log_choose_w, phi[1], value_only)
        g = (
            -0.5 * np.log(v_m)
            - (f_m - mu[0]) ** 2 / (2 * v_m)
            - 0.5 * np.log(v_s)
            - (f_s - mu[1]) ** 2 / (2 * v_s)
            + ll_a
            + ll_w
        )
        if value_only:
            return (g,)
        pw_m = c * (1 - f_s) * alpha / q**2
        pw_s = c * u
        pw_mm = 2 * c * (1 - f_s) * alpha / q**3
        pw_ms = -c * alpha / q**2
        g_m = -(f_m - mu[0]) / v_m - a1 * (1 - tau) + w1 * pw_m
        g_s = -(f_s - mu[1]) / v_s + w1 * pw_s
        h_mm = -1 / v_m + a2 * (1 - tau) ** 2 + w2 * pw_m**2 + w1 * pw_mm
        h_ss = -1 / v_s + w2 * pw_s**2
        h_ms = w2 * pw_m * pw_s + w1 * pw_ms
        return g, g_m, g_s, h_mm, h_ss, h_ms, v_m, v_s

    def adapt(self, theta: np.ndarray, newton_steps: int = 20) -> None:
        """Centre and scale the quadrature rule of each station and fraud class at the
        mode of its integrand over the shares (f_m, f_s) at ``theta`` — adaptive
        Gauss-Hermite quadrature (Liu & Pierce 1994; Pinheiro & Bates 1995): the nodes
        sit where the integrand has its mass, however far that is from the shares'
        mean. The rule is then held fixed while theta is optimised (so the objective
        and its analytic gradient agree) and re-centred between rounds (fit.py)."""
        d = self.data
        p = self.unpack(theta)
        tau = logistic(d.x_turnout @ p["beta_tau"])
        nu = logistic(d.x_vote @ p["beta_nu"])
        phi: tuple[float | None, float | None] = (None, None)
        if self.variant == "bbl":
            phi = (float(np.exp(p["log_phi_a"][0])), float(np.exp(p["log_phi_w"][0])))
        x, wt = hermite_nodes(self.nodes)
        x1, x2 = np.repeat(x, self.nodes), np.tile(x, self.nodes)
        log_w = np.log(np.repeat(wt, self.nodes) * np.tile(wt, self.nodes))
        lo, hi = -0.5, 1 - 1e-6
        out = {}
        for kind, (bm, bs) in {
            "incremental": ("beta_iota_m", "beta_iota_s"),
            "extreme": ("beta_chi_m", "beta_chi_s"),
        }.items():
            mu = (
                magnitude_mean(d.x_fraud @ p[bm], kind)[0],
                magnitude_mean(d.x_fraud @ p[bs], kind)[0],
            )
            if kind in self._modes:  # warm start at the previous modes
                f_m, f_s = (x.copy() for x in self._modes[kind])
            else:
                f_m, f_s = mu[0].copy(), mu[1].copy()
            res = self._log_integrand(f_m, f_s, tau, nu, mu, phi)
            for _ in range(newton_steps):
                g, g_m, g_s, h_mm, h_ss, h_ms, v_m, v_s = res
                det = h_mm * h_ss - h_ms**2
                concave = (h_mm < 0) & (det > 0)
                safe = np.where(concave, det, 1.0)
                dm = np.where(concave, -(h_ss * g_m - h_ms * g_s) / safe, g_m * v_m)
                ds = np.where(concave, -(h_mm * g_s - h_ms * g_m) / safe, g_s * v_s)
                dm = np.clip(dm, -0.2, 0.2)
                ds = np.clip(ds, -0.2, 0.2)
                step = np.ones(d.n)
                todo = np.ones(d.n, dtype=bool)
                old_m, old_s = f_m, f_s
                for _h in range(20):
                    tm = np.clip(f_m + step * dm, lo, hi)
                    ts = np.clip(f_s + step * ds, lo, hi)
                    trial = self._log_integrand(tm, ts, tau, nu, mu, phi, value_only=True)
                    ok = todo & (trial[0] >= g - 1e-12)
                    f_m = np.where(ok, tm, f_m)
                    f_s = np.where(ok, ts, f_s)
                    todo &= ~ok
                    if not todo.any():
                        break
                    step = np.where(todo, step / 2, step)
                res = self._log_integrand(f_m, f_s, tau, nu, mu, phi)
                # done: Newton decrement g' (-H)^-1 g / 2 below 1e-9, or no move
                moved = np.maximum(np.abs(f_m - old_m), np.abs(f_s - old_s))
                decrement = 0.5 * (dm * g_m + ds * g_s)
                if np.all((concave & (decrement < 1e-9)) | (moved < 1e-13)):
                    break
            g, g_m, g_s, h_mm, h_ss, h_ms, v_m, v_s = res
            det = h_mm * h_ss - h_ms**2
            concave = (h_mm < 0) & (det > 0)
            # covariance of the normal approximation at the mode (the shares' own
            # variances where the integrand is not concave there)
            safe = np.where(concave, det, 1.0)
            c_mm = np.where(concave, -h_ss / safe, v_m)
            c_ss = np.where(concave, -h_mm / safe, v_s)
            c_ms = np.where(concave, h_ms / safe, 0.0)
            l11 = np.sqrt(c_mm)
            l21 = c_ms / l11
            l22 = np.sqrt(np.maximum(c_ss - l21**2, 1e-300))
            nodes_m = np.clip(f_m[:, None] + l11[:, None] * x1, lo, hi)
            nodes_s = np.clip(f_s[:, None] + l21[:, None] * x1 + l22[:, None] * x2, lo, hi)
            log_rule = log_w + np.log(l11 * l22)[:, None] + np.log(2 * np.pi) + (x1**2 + x2**2) / 2
            out[kind] = (nodes_m, nodes_s, log_rule)
            self._modes[kind] = (f_m, f_s)
        self.adaptive = out

    def unpack(self, theta: np.ndarray) -> dict[str, np.ndarray]:
        return {name: theta[s] for name, s in self.layout.blocks().items()}

    def pi_matrix(self, theta: np.ndarray) -> np.ndarray:
        p = self.unpack(theta)
        xp = self.data.x_probability
        eta = np.column_stack(
            [np.zeros(self.data.n), xp @ p["gamma_incremental"], xp @ p["gamma_extreme"]]
        )
        return special.softmax(eta, axis=1)

    def evaluate(
        self,
        theta: np.ndarray,
        *,
        with_scores: bool = False,
        log_pi: np.ndarray | None = None,
    ) -> Evaluation:
        """Log-likelihood, gradient and posteriors at ``theta``.

        ``log_pi`` (n x 3) overrides the weights implied by ``theta`` (used to
        differentiate in the weights themselves, see fit.py)."""
        if self.auto_adapt:
            self.adapt(theta)
        d = self.data
        p = self.unpack(theta)
        n_ = d.eligible
        tau = logistic(d.x_turnout @ p["beta_tau"])
        nu = logistic(d.x_vote @ p["beta_nu"])
        phi_a = phi_w = None
        if self.variant == "bbl":
            phi_a = float(np.exp(p["log_phi_a"][0]))
            phi_w = float(np.exp(p["log_phi_w"][0]))
        pi = self.pi_matrix(theta)
        if log_pi is None:
            with np.errstate(divide="ignore"):
                log_pi = np.log(pi)
        alpha = self.alpha[:, None]
        tau_c, nu_c = tau[:, None], nu[:, None]

        def class_terms(f_m: np.ndarray, f_s: np.ndarray) -> dict[str, Any]:
            q = 1 - f_m
            p_a = np.clip((1 - tau_c) * q, P_EPS, 1 - P_EPS)
            p_w_raw = nu_c * (1 - f_s) * (q - alpha) / q + alpha * (f_m - f_s) / q + f_s
            p_w = np.clip(p_w_raw, P_EPS, 1 - P_EPS)
            inside = (p_w_raw > P_EPS) & (p_w_raw < 1 - P_EPS)
            ll_a, dpa, dphia = self._term(d.abstentions, p_a, self.log_choose_a, phi_a)
            ll_w, dpw, dphiw = self._term(d.winner, p_w, self.log_choose_w, phi_w)
            dpw = np.where(inside, dpw, 0.0)
            return {
                "ll": ll_a + ll_w,
                "dtau": dpa * (-q),
                "dnu": dpw * (1 - f_s) * (q - alpha) / q,
                "dfm": dpa * (-(1 - tau_c)) + dpw * alpha * (1 - f_s) * (1 - nu_c) / q**2,
                "dfs": dpw * (q - alpha) * (1 - nu_c) / q,
                "dphia": dphia,
                "dphiw": dphiw,
            }

        zeros = np.zeros((d.n, 1))
        clean = class_terms(zeros, zeros)
        fraud: dict[str, dict[str, Any]] = {}
        grids: dict[str, tuple[Any, ...]] = {}
        node_weight: dict[str, np.ndarray] = {}
        xf = d.x_fraud
        for kind, (bm, bs) in {
            "incremental": ("beta_iota_m", "beta_iota_s"),
            "extreme": ("beta_chi_m", "beta_chi_s"),
        }.items():
            mu_m, dmu_m = magnitude_mean(xf @ p[bm], kind)
            mu_s, dmu_s = magnitude_mean(xf @ p[bs], kind)
            if self.adaptive is not None:
                # adaptive rule: nodes fixed per station, the normal density of the
                # shares (mean mu, variance mu (1 - mu) / N) evaluated at them
                f_m, f_s, log_rule = self.adaptive[kind]
                lp_m, dlp_m = _log_share_density(f_m, mu_m, n_)
                lp_s, dlp_s = _log_share_density(f_s, mu_s, n_)
                terms_k = class_terms(f_m, f_s)
                terms_k["ll"] = terms_k["ll"] + lp_m + lp_s
                fraud[kind] = terms_k
                node_weight[kind] = log_rule
                grids[kind] = (f_m, f_s, dlp_m, dlp_s, dmu_m, dmu_s)
                continue
            sd_m = np.sqrt(mu_m * (1 - mu_m) / n_)[:, None]
            sd_s = np.sqrt(mu_s * (1 - mu_s) / n_)[:, None]
            raw_m = mu_m[:, None] + sd_m * self.node_m
            raw_s = mu_s[:, None] + sd_s * self.node_s
            f_m = np.clip(raw_m, 1e-6, FRACTION_CAP)
            f_s = np.clip(raw_s, 1e-6, FRACTION_CAP)
            # d f / d mu (zero where the cap binds): f = mu + x sqrt(mu (1-mu) / N)
            df_m = np.where(
                f_m == raw_m,
                1 + self.node_m * (1 - 2 * mu_m[:, None]) / (2 * n_[:, None] * sd_m),
                0.0,
            )
            df_s = np.where(
                f_s == raw_s,
                1 + self.node_s * (1 - 2 * mu_s[:, None]) / (2 * n_[:, None] * sd_s),
                0.0,
            )
            fraud[kind] = class_terms(f_m, f_s)
            fraud[kind]["dfm"] = fraud[kind]["dfm"] * df_m
            fraud[kind]["dfs"] = fraud[kind]["dfs"] * df_s
            node_weight[kind] = self.log_node_weight[None, :]
            grids[kind] = (f_m, f_s, None, None, dmu_m, dmu_s)

        # log joint over (class, node); marginalise
        lj_clean = log_pi[:, 0:1] + clean["ll"]
        lj_inc = log_pi[:, 1:2] + node_weight["incremental"] + fraud["incremental"]["ll"]
        lj_ext = log_pi[:, 2:3] + node_weight["extreme"] + fraud["extreme"]["ll"]
        with np.errstate(divide="ignore", invalid="ignore"):
            lc = np.column_stack([lj_clean[:, 0], logsumexp_rows(lj_inc), logsumexp_rows(lj_ext)])
            station_ll = logsumexp_rows(lc)
            r = np.exp(lc - station_ll[:, None])
            r_inc = np.exp(lj_inc - station_ll[:, None])
            r_ext = np.exp(lj_ext - station_ll[:, None])
            log_density = np.column_stack(
                [
                    clean["ll"][:, 0],
                    logsumexp_rows(node_weight["incremental"] + fraud["incremental"]["ll"]),
                    logsumexp_rows(node_weight["extreme"] + fraud["extreme"]["ll"]),
                ]
            )
        r = np.nan_to_num(r)
        r_inc = np.nan_to_num(r_inc)
        r_ext = np.nan_to_num(r_ext)
        post = {"clean": r[:, 0:1], "incremental": r_inc, "extreme": r_ext}
        terms = {"clean": clean, **fraud}

        def wsum(key: str) -> np.ndarray:
            return sum((post[c] * terms[c][key]).sum(axis=1) for c in CLASSES)

        g_tau = wsum("dtau") * tau * (1 - tau)
        g_nu = wsum("dnu") * nu * (1 - nu)
        per: dict[str, np.ndarray] = {
            "gamma_incremental": r[:, 1] - pi[:, 1],
            "gamma_extreme": r[:, 2] - pi[:, 2],
            "beta_tau": g_tau,
            "beta_nu": g_nu,
        }
        expected: dict[str, np.ndarray] = {}
        for kind, (bm, bs) in {
            "incremental": ("beta_iota_m", "beta_iota_s"),
            "extreme": ("beta_chi_m", "beta_chi_s"),
        }.items():
            f_m, f_s, dlp_m, dlp_s, dmu_m, dmu_s = grids[kind]
            rk = post[kind]
            if dlp_m is None:  # fixed rule: nodes move with mu
                per[bm] = (rk * fraud[kind]["dfm"]).sum(axis=1) * dmu_m
                per[bs] = (rk * fraud[kind]["dfs"]).sum(axis=1) * dmu_s
            else:  # adaptive rule: nodes fixed, the shares' density moves with mu
                per[bm] = (rk * dlp_m).sum(axis=1) * dmu_m
                per[bs] = (rk * dlp_s).sum(axis=1) * dmu_s
            mass = rk.sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                w_nodes = np.where(
                    mass[:, None] > 0,
                    rk / np.where(mass > 0, mass, 1)[:, None],
                    _normalised(node_weight[kind], rk.shape),
                )
            expected[f"{kind}_m"] = (w_nodes * f_m).sum(axis=1)
            expected[f"{kind}_s"] = (w_nodes * f_s).sum(axis=1)
        if self.variant == "bbl":
            per["log_phi_a"] = wsum("dphia") * phi_a
            per["log_phi_w"] = wsum("dphiw") * phi_w
        design = {
            "gamma_incremental": d.x_probability,
            "gamma_extreme": d.x_probability,
            "beta_tau": d.x_turnout,
            "beta_nu": d.x_vote,
            "beta_iota_m": d.x_fraud,
            "beta_iota_s": d.x_fraud,
            "beta_chi_m": d.x_fraud,
            "beta_chi_s": d.x_fraud,
            "log_phi_a": np.ones((d.n, 1)),
            "log_phi_w": np.ones((d.n, 1)),
        }
        grad = np.zeros(self.layout.size)
        scores = np.zeros((d.n, self.layout.size)) if with_scores else None
        for name, sl in self.layout.blocks().items():
            grad[sl] = design[name].T @ per[name]
            if scores is not None:
                scores[:, sl] = design[name] * per[name][:, None]
        return Evaluation(
            float(station_ll.sum()),
            grad,
            r,
            log_density,
            station_ll,
            pi,
            scores,
            expected,
        )
