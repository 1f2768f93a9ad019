"""Maximum-likelihood fit of the eforensics model, with intervals and a convergence check.

Why maximum likelihood and not MCMC: with the class and the stations' own fraud
fractions integrated out the likelihood is smooth in a handful of parameters, so its
maximum and curvature carry what eforensics' 1,000 JAGS draws summarise (with n in
the thousands the posterior under eforensics' vague priors is close to normal,
Bernstein-von Mises), at the cost of a few dozen vectorised passes over the stations.

Algorithm:

1. Start from the data (median turnout and winner's share) and from eforensics'
   prior centres of the fraud magnitudes; two starting mixtures (few and many frauded
   stations), fitted with the cheap fixed one-node rule; boundary tests of the fraud
   weights (:func:`boundary_tests`); then the adaptive-quadrature likelihood from the
   best start, with a node-count check (:func:`node_check`).
2. Scoring steps with the outer product of the per-station scores (Berndt, Hall, Hall
   & Hausman 1974; the score itself is exact, by Fisher's identity) and step halving,
   then L-BFGS-B to polish. Converged when the score statistic g' B^-1 g falls below
   1e-8 per station and both starts agree; the best log-likelihood is kept and the
   others are reported (``starts``).
3. Intervals: Wald, from the observed information (finite differences of the analytic
   score) in the natural parameterisation of the weights, pi_2 and pi_3 directly, so
   that the information stays finite when a weight is at zero (Titterington, Smith &
   Makov 1985, ch. 4); a weight's interval is clipped to [0, 1]. A class with fewer
   than one expected station has unidentified magnitudes: their intervals are NaN and
   say so. When the weights have covariates the weights are kept in logits.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize

from electwatch.forensics.eforensics.model import (
    K_THRESHOLD,
    Evaluation,
    Likelihood,
    ModelData,
)

Z95 = 1.959963984540054
SCORE_TOLERANCE = 1e-8  # per station: g' B^-1 g / n at convergence


@dataclass
class Optimum:
    theta: np.ndarray
    loglik: float
    iterations: int
    evaluations: int
    score_statistic: float  # g' B^-1 g at the end


def _logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


def starting_points(lik: Likelihood) -> list[np.ndarray]:
    """Two starts: mostly clean (pi 0.9/0.08/0.02) and much fraud (0.6/0.3/0.1)."""
    d = lik.data
    blocks = lik.layout.blocks()
    turnout = 1 - d.abstentions / d.eligible
    voters = np.maximum(d.eligible - d.abstentions, 1)
    share = np.clip(d.winner / voters, 0.01, 0.99)
    starts = []
    for pis, iota in (((0.9, 0.08, 0.02), 0.25), ((0.6, 0.3, 0.1), 0.4)):
        th = np.zeros(lik.layout.size)
        th[blocks["gamma_incremental"].start] = np.log(pis[1] / pis[0])
        th[blocks["gamma_extreme"].start] = np.log(pis[2] / pis[0])
        th[blocks["beta_tau"].start] = _logit(float(np.clip(np.median(turnout), 0.02, 0.98)))
        th[blocks["beta_nu"].start] = _logit(float(np.median(share)))
        for name in ("beta_iota_m", "beta_iota_s"):
            th[blocks[name].start] = _logit(iota / K_THRESHOLD)
        for name in ("beta_chi_m", "beta_chi_s"):
            th[blocks[name].start] = _logit((0.9 - K_THRESHOLD) / (1 - K_THRESHOLD))
        if lik.variant == "bbl":
            th[blocks["log_phi_a"]] = np.log(100.0)
            th[blocks["log_phi_w"]] = np.log(100.0)
        starts.append(th)
    return starts


def fd_hessian(
    grad: Callable[[np.ndarray], np.ndarray], x: np.ndarray, g0: np.ndarray
) -> np.ndarray:
    """Forward differences of an analytic gradient, symmetrised."""
    p = len(x)
    hess = np.zeros((p, p))
    for j in range(p):
        h = 1e-5 * max(1.0, abs(x[j]))
        up = x.copy()
        up[j] += h
        hess[:, j] = (grad(up) - g0) / h
    return (hess + hess.T) / 2


MAGNITUDE_AT_BOUND = 9.2  # |logit| of an intercept-only share: within 1e-4 of its range's end


def interior_mask(lik: Likelihood, ev: Evaluation, theta: np.ndarray | None = None) -> np.ndarray:
    """Parameters not on a boundary: the logits of a weight below 1e-6 (its maximum is
    at pi = 0, where the score does not vanish) and the magnitudes of a class with
    under one expected station are left out."""
    blocks = lik.layout.blocks()
    mask = np.ones(lik.layout.size, dtype=bool)
    mean_pi = ev.pi.mean(axis=0)
    counts = ev.class_posterior.sum(axis=0)
    for c, gamma, mags in (
        (1, "gamma_incremental", ("beta_iota_m", "beta_iota_s")),
        (2, "gamma_extreme", ("beta_chi_m", "beta_chi_s")),
    ):
        if mean_pi[c] < 1e-6:
            mask[blocks[gamma]] = False
        if counts[c] < 1.0:
            for nm in mags:
                mask[blocks[nm]] = False
    if theta is not None and lik.layout.d_fraud == 1:
        # a share pushed to its bound (its logit drifting to +-infinity, e.g. no
        # stolen votes in incremental fraud): its score need not vanish either
        for nm in ("beta_iota_m", "beta_iota_s", "beta_chi_m", "beta_chi_s"):
            if abs(float(theta[blocks[nm].start])) > MAGNITUDE_AT_BOUND:
                mask[blocks[nm]] = False
    return mask


def interior_score_statistic(
    lik: Likelihood,
    ev: Evaluation,
    bhhh: np.ndarray,
    free: np.ndarray | None = None,
    theta: np.ndarray | None = None,
) -> float:
    """g' B^-1 g over the interior free parameters (zero at an interior maximum);
    ``bhhh`` is over the free parameters."""
    f = np.ones(lik.layout.size, dtype=bool) if free is None else free
    m = interior_mask(lik, ev, theta)[f]
    g = ev.gradient[f][m]
    return float(g @ np.linalg.lstsq(bhhh[np.ix_(m, m)], g, rcond=None)[0])


def _modified_newton_step(hess: np.ndarray, gradient: np.ndarray) -> np.ndarray:
    """Newton step on -H with eigenvalues replaced by their absolute values, floored:
    flat directions (a magnitude of an empty class) get no large step, and a saddle
    is left uphill (Gill & Murray's modified Newton)."""
    lam, vec = np.linalg.eigh(-hess)
    floor = 1e-8 * max(float(np.abs(lam).max()), 1e-12)
    lam = np.maximum(np.abs(lam), floor)
    return vec @ ((vec.T @ gradient) / lam)


def maximise(
    lik: Likelihood,
    theta0: np.ndarray,
    max_iterations: int = 100,
    fixed: np.ndarray | None = None,
) -> Optimum:
    """One scoring (BHHH) step, then quasi-Newton steps: the Hessian is taken by finite
    differences of the analytic score, updated by BFGS between steps and retaken when a
    step has to be halved or the update stops being negative definite. Parameters
    flagged in ``fixed`` stay at their value in ``theta0`` (restricted fits)."""
    n = lik.data.n
    free = np.ones(len(theta0), dtype=bool) if fixed is None else ~fixed
    p = int(free.sum())
    theta = theta0.copy()
    ev = lik.evaluate(theta, with_scores=True)
    evaluations = 1
    stat = np.inf
    it = 0
    hess: np.ndarray | None = None
    stalled = 0

    def embed(x: np.ndarray) -> np.ndarray:
        full = theta.copy()
        full[free] = x
        return full

    for it in range(1, max_iterations + 1):
        assert ev.scores is not None
        sc = ev.scores[:, free]
        grad = ev.gradient[free]
        bhhh = sc.T @ sc + 1e-9 * np.eye(p)
        stat = interior_score_statistic(lik, ev, bhhh, free)
        if stat / n < SCORE_TOLERANCE:
            break
        step = np.linalg.lstsq(bhhh, grad, rcond=None)[0]
        if it > 1:
            if hess is None:
                # finite differences with the adaptive rule held where it was
                # centred for ev (the rule's own movement is second order)
                auto, lik.auto_adapt = lik.auto_adapt, False
                hess = fd_hessian(
                    lambda t: lik.evaluate(embed(t)).gradient[free], theta[free], grad
                )
                lik.auto_adapt = auto
                evaluations += p
            step = _modified_newton_step(hess, grad)
        step = np.clip(step, -3, 3)
        size = 1.0
        while size > 1e-4:
            trial = lik.evaluate(embed(theta[free] + size * step), with_scores=True)
            evaluations += 1
            if np.isfinite(trial.loglik) and trial.loglik >= ev.loglik - 1e-10:
                break
            size /= 2
        else:
            break
        s_vec = size * step
        y_vec = trial.gradient[free] - grad
        if hess is not None and size == 1.0:
            # BFGS update of the (negative) Hessian
            b = -hess
            bs = b @ s_vec
            sy = -float(s_vec @ y_vec)
            sbs = float(s_vec @ bs)
            if sy > 1e-12 and abs(sbs) > 1e-12:
                hess = -(b - np.outer(bs, bs) / sbs + np.outer(y_vec, y_vec) / sy)
            else:
                hess = None
        else:
            hess = None
        # a weight drifting to zero gains ever less per step: stop when three steps
        # in a row gain under 1e-6 in log-likelihood
        stalled = stalled + 1 if trial.loglik - ev.loglik < 1e-6 else 0
        theta, ev = embed(theta[free] + s_vec), trial
        if stalled >= 3:
            break
    # reported statistic: shares pushed to a bound (logit beyond +-9.2) are exempt too,
    # like weights at 0 (the optimiser itself keeps going while they gain)
    assert ev.scores is not None
    sc = ev.scores[:, free]
    stat = interior_score_statistic(lik, ev, sc.T @ sc + 1e-9 * np.eye(p), free, theta)
    return Optimum(theta, ev.loglik, it, evaluations, stat)


@dataclass
class Curvature:
    """Covariance of the estimates in the reporting parameterisation."""

    names: list[str]
    estimate: np.ndarray
    covariance: np.ndarray
    identified: np.ndarray  # bool per entry
    weights_direct: bool


def _direct_gradient(lik: Likelihood, theta: np.ndarray, pi23: np.ndarray) -> np.ndarray:
    """Score with the weights pi_2, pi_3 as parameters (no pi covariates) and the other
    parameters as in ``theta``; weight entries first."""
    pi = np.array([1 - pi23.sum(), pi23[0], pi23[1]])
    with np.errstate(divide="ignore"):
        log_pi = np.broadcast_to(np.log(np.clip(pi, 0, 1)), (lik.data.n, 3))
    ev = lik.evaluate(theta, log_pi=np.ascontiguousarray(log_pi))
    ratio = np.exp(ev.log_class_density - ev.station_loglik[:, None])  # f_ik / L_i
    g_pi = np.array([(ratio[:, 1] - ratio[:, 0]).sum(), (ratio[:, 2] - ratio[:, 0]).sum()])
    rest = ev.gradient[2:]
    return np.concatenate([g_pi, rest])


def curvature(lik: Likelihood, theta: np.ndarray, ev: Evaluation) -> Curvature:
    """Observed information by central differences of the analytic score."""
    blocks = lik.layout.blocks()
    direct = lik.layout.d_probability == 1
    expected_counts = ev.class_posterior.sum(axis=0)
    p = len(theta)
    if direct:
        pi23 = ev.pi[0, 1:].copy()
        x0 = np.concatenate([pi23, theta[2:]])

        def grad(x: np.ndarray) -> np.ndarray:
            th = theta.copy()
            th[2:] = x[2:]
            return _direct_gradient(lik, th, x[:2])

    else:
        x0 = theta.copy()

        def grad(x: np.ndarray) -> np.ndarray:
            return lik.evaluate(x).gradient

    free = np.ones(p, dtype=bool)
    for kind, magnitude_blocks in (
        (1, ("beta_iota_m", "beta_iota_s")),
        (2, ("beta_chi_m", "beta_chi_s")),
    ):
        if expected_counts[kind] < 1.0:
            for nm in magnitude_blocks:
                free[blocks[nm]] = False
    if direct:
        # a weight at zero: its interval comes from the likelihood ratio (boundary_upper)
        free[:2] &= x0[:2] >= 1e-6
    idx = np.flatnonzero(free)
    g0 = grad(x0)
    hess = np.zeros((len(idx), len(idx)))
    for col, j in enumerate(idx):
        # forward differences (one pass per parameter); weights step inward from 0
        h = 1e-6 if (direct and j < 2) else 1e-5 * max(1.0, abs(x0[j]))
        up = x0.copy()
        up[j] += h
        hess[:, col] = (grad(up)[idx] - g0[idx]) / h
    hess = (hess + hess.T) / 2
    info = -hess
    try:
        cov_free = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        cov_free = np.linalg.pinv(info)
    cov = np.full((p, p), np.nan)
    cov[np.ix_(idx, idx)] = cov_free
    names = parameter_names(lik)
    if direct:
        names = ["pi_incremental", "pi_extreme", *names[2:]]
    return Curvature(names, x0, cov, free, direct)


def boundary_upper(ev: Evaluation, c: int, drop: float = 1.92) -> float:
    """Upper 95% limit of a weight whose estimate is 0: the weight, taken from the
    clean class with the class densities held at the fit, at which the log-likelihood
    has fallen by ``drop`` = chi2(1, 0.95) / 2 (conservative at a boundary, where the
    reference law is the 50:50 mixture of 0 and chi2(1): Self & Liang 1987)."""
    dens = np.exp(ev.log_class_density - ev.log_class_density.max(axis=1, keepdims=True))
    pi0 = ev.pi.mean(axis=0)
    base = float(np.log(dens @ pi0).sum())

    def loss(t: float) -> float:
        pi = pi0.copy()
        pi[c] += t
        pi[0] -= t
        with np.errstate(divide="ignore"):
            return float(np.log(dens @ pi).sum()) - base + drop

    hi = float(pi0[0])
    if loss(hi) > 0:
        return hi
    return float(optimize.brentq(loss, 0.0, hi, xtol=1e-10))


def parameter_names(lik: Likelihood) -> list[str]:
    d = lik.data
    labels = {
        "gamma_incremental": d.names_probability,
        "gamma_extreme": d.names_probability,
        "beta_tau": d.names_turnout,
        "beta_nu": d.names_vote,
        "beta_iota_m": d.names_fraud,
        "beta_iota_s": d.names_fraud,
        "beta_chi_m": d.names_fraud,
        "beta_chi_s": d.names_fraud,
        "log_phi_a": [""],
        "log_phi_w": [""],
    }
    out = []
    for name, sl in lik.layout.blocks().items():
        for lab in labels[name][: sl.stop - sl.start]:
            out.append(f"{name}[{lab}]" if lab else name)
    return out


@dataclass
class RawFit:
    """What :func:`fit_model` computed, before it is dressed as a result."""

    likelihood: Likelihood
    theta: np.ndarray
    evaluation: Evaluation
    curvature: Curvature
    optimum: Optimum
    starts: list[Optimum]
    seconds: float
    converged: bool
    quadrature: str = "fixed"
    node_check: dict[str, float | int | bool] | None = None
    adaptive_rounds: int = 0
    boundary_tests: list[dict[str, float | str | bool]] = field(default_factory=list)

    @property
    def starts_agree(self) -> bool:
        """Every start reached the best log-likelihood (within 0.05): no second mode
        was found. A disagreement is reported, not hidden. (The starts are compared
        on the rule they ran with, the fixed one, before the adaptive rounds.)"""
        top = max(o.loglik for o in self.starts)
        return all(abs(o.loglik - top) < 0.05 for o in self.starts)


WARM_START_ABOVE = 20_000  # stations; above this, starts are run on a subsample
WARM_START_SAMPLE = 8_000


def fit_model(
    data: ModelData,
    variant: str = "bl",
    *,
    nodes: int | None = None,
    starts: int = 2,
    max_iterations: int = 100,
    seed: int = 0,
    quadrature: str = "adaptive",
    boundary_test: bool = True,
) -> RawFit:
    """Fit from ``starts`` starting points (fixed rule, the shares at their class
    means), test the fraud weights at the boundary, then maximise the adaptive-rule
    likelihood and check its node count. On more than 20,000 stations the starts, the
    boundary tests and a first adaptive fit run on a seeded subsample of 8,000 and
    only the best is carried to the full data (the full-data optimum is reached in a
    few Newton steps from there)."""
    if quadrature not in QUADRATURES:
        raise ValueError(f"quadrature must be one of {QUADRATURES}, not {quadrature!r}")
    t0 = time.perf_counter()
    # the starts run with the fixed rule (cheap, good enough to find the mode); the
    # adaptive rule then takes over from the best of them
    lik = Likelihood(data, variant, nodes if quadrature == "fixed" else START_NODES)
    initial = starting_points(lik)[:starts]
    # on many stations the starts, the boundary tests and a first adaptive fit run
    # on a seeded subsample; the full data then take the best of them a few steps on
    big = data.n > WARM_START_ABOVE
    work_data = data
    if big:
        rng = np.random.default_rng(seed)
        sub = np.sort(rng.choice(data.n, WARM_START_SAMPLE, replace=False))
        work_data = data.subset(sub)
        lik = Likelihood(work_data, variant, lik.nodes)
    results = [maximise(lik, th, max_iterations) for th in initial]
    best = max(results, key=lambda o: o.loglik)
    fixed: np.ndarray | None = None
    tests: list[dict[str, float | str | bool]] = []
    if boundary_test:
        tests = boundary_tests(lik, best, max_iterations)
    check: dict[str, float | int | bool] | None = None
    rounds = 0
    if quadrature == "adaptive":
        k = ADAPTIVE_NODES if nodes is None else nodes
        if big:
            best = _adaptive_fit(work_data, variant, k, best, max_iterations, fixed)[1]
        while True:
            lik, best, rounds = _adaptive_fit(data, variant, k, best, max_iterations, fixed)
            check = node_check(data, variant, k, best.theta, lik)
            # more nodes only when asked for none and the data are small (each step
            # is a refit; on large files a failed check is reported in the notes)
            if check["passed"] or k >= MAX_ADAPTIVE_NODES or nodes is not None or big:
                break
            k += 2
    elif big:
        lik = Likelihood(data, variant, lik.nodes)
        best = maximise(lik, best.theta, max_iterations, fixed)
    ev = lik.evaluate(best.theta, with_scores=True)
    # the information with the rule held where ev centred it (as in maximise)
    lik.auto_adapt = False
    curv = curvature(lik, best.theta, ev)
    n = data.n
    converged = best.score_statistic / n < 1e-6 and bool(np.isfinite(best.loglik))
    return RawFit(
        lik,
        best.theta,
        ev,
        curv,
        best,
        results,
        time.perf_counter() - t0,
        converged,
        quadrature,
        check,
        rounds,
        tests,
    )


DROPPED_LOGIT = -40.0  # gamma of a class whose weight the boundary test set to 0
FRAUD_CLASSES = (
    (1, "incremental", "gamma_incremental", ("beta_iota_m", "beta_iota_s")),
    (2, "extreme", "gamma_extreme", ("beta_chi_m", "beta_chi_s")),
)


def _without(lik: Likelihood, theta: np.ndarray, drop: set[int]) -> tuple[np.ndarray, np.ndarray]:
    """Parameters with the classes in ``drop`` removed (weight 0: logit -40; their
    magnitudes at the centre of eforensics' priors, iota = 0.35, chi = 0.85, i.e.
    logit 0) and the mask of the parameters so fixed."""
    blocks = lik.layout.blocks()
    th = theta.copy()
    fixed = np.zeros(len(theta), dtype=bool)
    for c, _, gamma, mags in FRAUD_CLASSES:
        if c in drop:
            th[blocks[gamma]] = 0.0
            th[blocks[gamma].start] = DROPPED_LOGIT
            fixed[blocks[gamma]] = True
            for nm in mags:
                th[blocks[nm]] = 0.0
                fixed[blocks[nm]] = True
    return th, fixed


def boundary_tests(
    lik: Likelihood, best: Optimum, max_iterations: int
) -> list[dict[str, float | str | bool]]:
    """Is each fraud class needed? A weight at zero is a boundary point where its
    class's magnitudes are not identified, so the likelihood-ratio statistic has no
    chi-squared law there (Davies 1977; Self & Liang 1987) and a Wald interval from an
    interior spurious maximum need not include 0. Each class is dropped in turn (its
    weight set to 0, the other parameters refitted) and kept only when
    2 (loglik_with - loglik_without) exceeds a BIC-style penalty, (1 + 2 d_f) log n
    for its weight and two magnitudes (Schwarz 1978; Keribin 2000 for mixtures).
    Backward elimination: the weaker class is tested first, and when it is dropped
    the other is tested against the clean-only model. The statistic is taken on the
    rule the starts ran with (fixed, the shares at their class means). The estimates
    are not changed: the interval of a weight whose class is not kept is extended to
    0 (results.dress), so that on data without fraud the intervals include 0.
    Skipped when the weights have covariates."""
    layout = lik.layout
    if layout.d_probability != 1:
        return []
    n = lik.data.n
    penalty = float((1 + 2 * layout.d_fraud) * np.log(n))
    dropped: set[int] = set()
    current = best
    tests: list[dict[str, float | str | bool]] = []
    while len(dropped) < 2:
        trials = {}
        for c, _, _, _ in FRAUD_CLASSES:
            if c in dropped:
                continue
            th, fixed = _without(lik, current.theta, dropped | {c})
            trials[c] = maximise(lik, th, max_iterations, fixed)
        c_min = min(trials, key=lambda c: current.loglik - trials[c].loglik)
        for c, opt in trials.items():
            lr = float(2 * (current.loglik - opt.loglik))
            tests.append(
                {
                    "class": FRAUD_CLASSES[c - 1][1],
                    "others_dropped": ",".join(FRAUD_CLASSES[d - 1][1] for d in sorted(dropped)),
                    "loglik_with": float(current.loglik),
                    "loglik_without": float(opt.loglik),
                    "lr": lr,
                    "penalty": penalty,
                    "above_penalty": bool(lr >= penalty),
                }
            )
        lr_min = 2 * (current.loglik - trials[c_min].loglik)
        if lr_min >= penalty:
            break
        dropped.add(c_min)
        current = trials[c_min]
    names = {FRAUD_CLASSES[c - 1][1] for c in dropped}
    for t in tests:  # the outcome for the class, the same on every row
        t["kept"] = t["class"] not in names
    return tests


QUADRATURES = ("adaptive", "fixed")
ADAPTIVE_NODES = 3  # per share (9 points per station and fraud class)
START_NODES = 1  # fixed rule of the starts (the shares at their class mean)
MAX_ADAPTIVE_NODES = 7
NODE_TOLERANCE = 0.2  # standard errors the estimate would move with k + 2 nodes
MAX_ROUNDS = 6


def _adaptive_fit(
    data: ModelData,
    variant: str,
    k: int,
    start: Optimum,
    max_iterations: int,
    fixed: np.ndarray | None = None,
) -> tuple[Likelihood, Optimum, int]:
    """Maximise the adaptive-quadrature likelihood (the rule re-centred at every
    evaluation, warm-started at the previous modes) from ``start``. The gradient
    holds the rule fixed — exact for the fixed-rule likelihood, and off from the
    adaptive one only by the rule's own error (Pinheiro & Bates 1995)."""
    lik = Likelihood(data, variant, k)
    lik.auto_adapt = True
    best = maximise(lik, start.theta, max_iterations, fixed)
    return lik, best, 1


def node_check(
    data: ModelData, variant: str, k: int, theta: np.ndarray, lik: Likelihood
) -> dict[str, float | int | bool]:
    """Is k adaptive nodes per share enough? With k + 2 nodes (the rule centred at the
    same estimate) the estimate would move by about one Newton step, B^-1 g, where g
    is the k + 2 rule's score at the k-rule estimate (whose own score is 0) and B the
    outer product of the per-station scores; the rule is accurate enough when that
    step is under ``NODE_TOLERANCE`` standard errors (sqrt(diag B^-1)) for every
    interior parameter. The two rules' log-likelihoods are reported beside it."""
    ev = lik.evaluate(theta, with_scores=True)
    finer = Likelihood(data, variant, k + 2)
    finer.adapt(theta)
    ev2 = finer.evaluate(theta)
    assert ev.scores is not None
    m = interior_mask(lik, ev, theta)
    bhhh = ev.scores[:, m].T @ ev.scores[:, m]
    cov = np.linalg.pinv(bhhh)
    step = cov @ ev2.gradient[m]
    se = np.sqrt(np.clip(np.diag(cov), 1e-300, None))
    shift = float(np.max(np.abs(step) / se)) if m.any() else 0.0
    return {
        "nodes": k,
        "compared_with": k + 2,
        "loglik_difference": float(ev2.loglik - ev.loglik),
        "max_shift_in_se": shift,
        "tolerance_in_se": NODE_TOLERANCE,
        "passed": bool(shift < NODE_TOLERANCE),
    }
