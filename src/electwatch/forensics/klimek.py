"""Fit of the Klimek et al. (2012) fraud model to an election fingerprint.

Klimek, Yegorov, Hanel & Thurner, "Statistical detection of systematic election
irregularities", PNAS 109(41):16469-16473 (2012). Clean stations have turnout
a ~ TN(tau, s_tau) and winner share v ~ TN(nu, s_nu) on [0, 1]; with probability
fi incremental fraud x ~ |N(0, theta)|, with probability fe extreme fraud
x = 1 - |N(0, 0.075)|; then turnout = a + x (1 - a) and winner's votes per
registered voter = a v + x (1 - a) + x^alpha a (1 - v).

Variant and criterion used by electwatch (say so when quoting fi/fe: the paper
fitted the national fingerprint by least squares, and other fits of the same model
give very different fi, e.g. 0.64 vs 0.12 for Russia 2011):

* **Binned maximum likelihood** on the 1% fingerprint (stations >= 100 registered),
  fitted by EM.
* **Clean shape per region.** The clean (tau, s_tau, nu, s_nu) are estimated per
  top-level area, fi, fe, theta are national. A national clean blob cannot tell
  regional differences in turnout and vote share from fraud: on a clean simulated
  election of 20,000 stations in 20 regions a single-blob fit reports fi anywhere
  from 0 to 0.74 depending on the seed (0.74 for seed 2); per-region clean shapes
  bring it to ~0 (see tests/test_forensics_klimek.py).
* Components per region: clean (product of truncated normals, exact cell
  probabilities), incremental and extreme fraud (the fraud map pushed forward from
  weighted nodes of a, v and x onto the grid, bilinear weights, 1-bin Gaussian
  smoothing), and a uniform background (weight fb) for stations no component
  explains. The M-step updates the mixture weights and each region's clean moments
  from the clean responsibilities; theta is profiled on a grid; alpha is fixed
  (default 2).
* Standard errors of fi and fe: observed information of the multinomial
  likelihood in the mixture weights, conditional on the shapes (they understate
  the uncertainty from model misspecification, which dominates on real data).

Validated on the project's simulator (tests/test_forensics_klimek.py, _fpr.py): with
20,000 stations |fi_hat - fi| < 0.06 and |fe_hat - fe| < 0.005 (over 40 seeds with fi
0.1-0.3: fi error -0.015..+0.041); on clean elections fi_hat is 0 about half the time,
mean ~0.02, at most ~0.1, and the flag fires on ~3% of them (60 seeds, 3,000 stations).
The reported SE (0.005-0.03) understates the seed-to-seed spread of fi_hat (~0.025).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from scipy import ndimage, special

from electwatch.forensics.fingerprint import Fingerprint
from electwatch.forensics.types import NATIONAL, TestResult

EXTREME_SIGMA = 0.075
THETA_GRID = (0.08, 0.15, 0.25)
#: grid of the vote-stealing exponent alpha for its profile likelihood (EFToolkit's
#: Klimek fit also searches a grid); refined by a parabola through the best point
ALPHA_GRID = (1.0, 1.5, 2.0, 2.5, 3.0)


@dataclass(frozen=True)
class KlimekFit:
    """Fitted Klimek et al. (2012) fraud model."""

    fi: float
    fe: float
    fi_se: float
    fe_se: float
    background: float
    theta: float
    alpha: float
    tau: np.ndarray  # clean turnout mean per region
    s_tau: np.ndarray
    nu: np.ndarray
    s_nu: np.ndarray
    log_likelihood: float
    n: int
    n_regions: int
    profile: dict[float, float]  # theta -> log-likelihood
    model_counts: np.ndarray  # expected national fingerprint under the fit
    alpha_fixed: bool = True
    alpha_profile: dict[float, float] = field(default_factory=dict)  # alpha -> log-lik
    fi_by_alpha: dict[float, float] = field(default_factory=dict)  # alpha -> fi

    def ci(self, which: str) -> tuple[float, float]:
        est, se = (self.fi, self.fi_se) if which == "fi" else (self.fe, self.fe_se)
        return max(0.0, est - 1.96 * se), min(1.0, est + 1.96 * se)

    def to_dict(self) -> dict[str, Any]:
        w = self.n_regions
        return {
            "fi": self.fi,
            "fi_se": self.fi_se,
            "fi_ci": list(self.ci("fi")),
            "fe": self.fe,
            "fe_se": self.fe_se,
            "fe_ci": list(self.ci("fe")),
            "background": self.background,
            "theta": self.theta,
            "alpha": self.alpha,
            "alpha_fixed": self.alpha_fixed,
            "alpha_profile": {str(k): v for k, v in self.alpha_profile.items()},
            "fi_by_alpha": {str(k): v for k, v in self.fi_by_alpha.items()},
            "theta_profile": {str(k): v for k, v in self.profile.items()},
            "clean_turnout_median_over_regions": float(np.median(self.tau)),
            "clean_share_median_over_regions": float(np.median(self.nu)),
            "n_regions": w,
            "log_likelihood": self.log_likelihood,
            "n": self.n,
            "method": "binned ML (EM) on the 1% fingerprint, clean shape per region, "
            "theta profiled, alpha "
            + ("fixed" if self.alpha_fixed else "profiled over a grid")
            + "; SE conditional on the shapes",
        }

    def as_results(self, level: str = NATIONAL, area: str = NATIONAL) -> list[TestResult]:
        out = []
        for name, est in (("fi", self.fi), ("fe", self.fe)):
            lo, hi = self.ci(name)
            kind = "incremental" if name == "fi" else "extreme"
            threshold = 0.02 if name == "fi" else 0.002
            out.append(
                TestResult(
                    test=f"klimek_{name}",
                    level=level,
                    area=area,
                    subject="fingerprint (turnout x winner share)",
                    statistic=est,
                    null_value=0.0,
                    p_value=None,
                    ci_low=lo,
                    ci_high=hi,
                    n=self.n,
                    reading=(
                        f"Klimek model: {est:.1%} of stations with {kind} fraud "
                        f"(95% CI {lo:.1%}-{hi:.1%} conditional on the fitted shapes; "
                        f"theta {self.theta:.2f}, alpha "
                        + (
                            f"fixed at {self.alpha:g})"
                            if self.alpha_fixed
                            else f"{self.alpha:.2f} by profile likelihood)"
                        )
                    ),
                    flagged=bool(lo > threshold),
                    details=self.to_dict(),
                )
            )
        return out


def _tn_cells(edges: np.ndarray, mu: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """G x bins cell probabilities of truncated normals on [0, 1]."""
    z = special.ndtr((edges[None, :] - mu[:, None]) / sd[:, None])
    mass = np.diff(z, axis=1)
    return mass / np.maximum(mass.sum(axis=1, keepdims=True), 1e-300)


def _push(
    mu_t: np.ndarray,
    sd_t: np.ndarray,
    mu_s: np.ndarray,
    sd_s: np.ndarray,
    x: np.ndarray,
    wx: np.ndarray,
    alpha: float,
    bins: int,
    m: int,
    smooth: float,
) -> np.ndarray:
    """G x bins x bins density of the fraud map applied to each region's clean nodes.

    Nodes: m equally spaced values over +-4 sd of a and of v (normal weights) and the
    given x nodes with weights ``wx``; deposited with bilinear weights, smoothed.
    """
    g = mu_t.size
    u = np.linspace(-4, 4, m)
    wu = np.exp(-0.5 * u**2)
    wu /= wu.sum()
    a = np.clip(mu_t[:, None] + sd_t[:, None] * u[None, :], 0, 1)[:, :, None, None]
    v = np.clip(mu_s[:, None] + sd_s[:, None] * u[None, :], 0, 1)[:, None, :, None]
    xx = x[None, None, None, :]
    wt = (wu[:, None, None] * wu[None, :, None] * wx[None, None, :])[None]
    t = a + xx * (1 - a)
    w = a * v + xx * (1 - a) + xx**alpha * a * (1 - v)
    s = w / np.where(t > 0, t, 1.0)
    t, s, wt = np.broadcast_arrays(t, s, wt)
    base = np.broadcast_to(np.arange(g)[:, None, None, None], t.shape).ravel() * bins * bins
    ft = np.clip(t.ravel() * bins - 0.5, 0, bins - 1)
    fs = np.clip(s.ravel() * bins - 0.5, 0, bins - 1)
    i0 = np.minimum(np.floor(ft).astype(np.int64), bins - 2)
    j0 = np.minimum(np.floor(fs).astype(np.int64), bins - 2)
    dt, ds = ft - i0, fs - j0
    wt = wt.ravel()
    grid = np.zeros(g * bins * bins)
    for di, wi in ((0, 1 - dt), (1, dt)):
        for dj, wj in ((0, 1 - ds), (1, ds)):
            grid += np.bincount(
                base + (i0 + di) * bins + j0 + dj, weights=wt * wi * wj, minlength=g * bins * bins
            )
    grid3 = ndimage.gaussian_filter(
        grid.reshape(g, bins, bins), (0, smooth, smooth), mode="constant"
    )
    return grid3 / np.maximum(grid3.sum(axis=(1, 2), keepdims=True), 1e-300)


@dataclass
class _State:
    pi: np.ndarray
    mu_t: np.ndarray
    sd_t: np.ndarray
    mu_s: np.ndarray
    sd_s: np.ndarray


def _em(
    state: _State,
    theta: float,
    alpha: float,
    gc: np.ndarray,
    ic: np.ndarray,
    jc: np.ndarray,
    n: np.ndarray,
    bins: int,
    iters: int,
    m: int,
    mx: int,
    smooth: float,
) -> tuple[float, np.ndarray]:
    g = state.mu_t.size
    edges = np.linspace(0, 1, bins + 1)
    centers = (edges[:-1] + edges[1:]) / 2
    z = np.linspace(0, 4.5, mx)
    wz = np.exp(-0.5 * z**2)
    wz /= wz.sum()
    total = n.sum()
    k = np.empty((4, n.size))
    for _ in range(iters):
        k[0] = (
            _tn_cells(edges, state.mu_t, state.sd_t)[gc, ic]
            * _tn_cells(edges, state.mu_s, state.sd_s)[gc, jc]
        )
        args = (state.mu_t, state.sd_t, state.mu_s, state.sd_s)
        k[1] = _push(*args, np.minimum(theta * z, 1.0), wz, alpha, bins, m, smooth)[gc, ic, jc]
        k[2] = _push(*args, 1 - np.minimum(EXTREME_SIGMA * z, 1.0), wz, alpha, bins, m, smooth)[
            gc, ic, jc
        ]
        k[3] = 1.0 / bins**2
        for _ in range(15):
            p = np.maximum(state.pi @ k, 1e-300)
            resp = state.pi[:, None] * k * (n / p)[None, :]
            state.pi = resp.sum(axis=1) / total
        r0 = resp[0]
        w0 = np.maximum(np.bincount(gc, weights=r0, minlength=g), 1e-9)
        ok = w0 > 5  # keep the previous shape for regions with (almost) no clean mass
        mt = np.bincount(gc, weights=r0 * centers[ic], minlength=g) / w0
        ms = np.bincount(gc, weights=r0 * centers[jc], minlength=g) / w0
        vt = np.bincount(gc, weights=r0 * (centers[ic] - mt[gc]) ** 2, minlength=g) / w0
        vs = np.bincount(gc, weights=r0 * (centers[jc] - ms[gc]) ** 2, minlength=g) / w0
        sheppard = 1 / (12 * bins**2)
        state.mu_t = np.where(ok, mt, state.mu_t)
        state.mu_s = np.where(ok, ms, state.mu_s)
        state.sd_t = np.where(ok, np.sqrt(np.maximum(vt - sheppard, 1e-4)), state.sd_t)
        state.sd_s = np.where(ok, np.sqrt(np.maximum(vs - sheppard, 1e-4)), state.sd_s)
    p = np.maximum(state.pi @ k, 1e-300)
    return float(n @ np.log(p)), k


def _model_grid(
    st: _State,
    theta: float,
    alpha: float,
    bins: int,
    m: int,
    mx: int,
    smooth: float,
    region_counts: np.ndarray,
) -> np.ndarray:
    """Expected national fingerprint (counts) under the fitted mixture."""
    edges = np.linspace(0, 1, bins + 1)
    z = np.linspace(0, 4.5, mx)
    wz = np.exp(-0.5 * z**2)
    wz /= wz.sum()
    args = (st.mu_t, st.sd_t, st.mu_s, st.sd_s)
    clean = (
        _tn_cells(edges, st.mu_t, st.sd_t)[:, :, None]
        * _tn_cells(edges, st.mu_s, st.sd_s)[:, None, :]
    )
    inc = _push(*args, np.minimum(theta * z, 1.0), wz, alpha, bins, m, smooth)
    ext = _push(*args, 1 - np.minimum(EXTREME_SIGMA * z, 1.0), wz, alpha, bins, m, smooth)
    mix = st.pi[0] * clean + st.pi[1] * inc + st.pi[2] * ext + st.pi[3] / bins**2
    return np.tensordot(region_counts, mix, axes=(0, 0))


def fit_klimek(
    fp: Fingerprint,
    regions: np.ndarray | None = None,
    *,
    alpha: float | None = 2.0,
    theta: float | None = None,
    iters: int = 20,
    nodes: int = 10,
    x_nodes: int = 12,
    smooth: float = 1.0,
    min_region: int = 30,
    bins: int = 50,
) -> KlimekFit:
    """Fit fi, fe (and theta, alpha) of the Klimek model to a fingerprint.

    ``regions``: area code of every fingerprint station (e.g. the top-level area);
    areas with fewer than ``min_region`` stations are pooled. ``theta`` fixed, or
    None to profile it over :data:`THETA_GRID` (then refine the best). ``alpha``
    fixed (the paper's 2), or None to profile it: theta is first profiled at alpha 2,
    then alpha over :data:`ALPHA_GRID` at that theta (EM from the alpha-2 fit) and
    refined by a parabola; ``alpha_profile`` keeps the log-likelihoods.

    How fi depends on alpha: alpha only shapes how much of the other candidates'
    votes an incrementally frauded station moves to the winner (x^alpha of them);
    a smaller alpha moves a station further up in share for the same turnout shift,
    so the same smear of the fingerprint needs fewer frauded stations (lower fi) or
    a smaller theta. With fi of 0.1-0.3 on the simulator fi moves by a few points
    across alpha 1.5-2.5 (docs/forensics.md, "Klimek alpha").
    """
    if alpha is None:
        return _fit_klimek_profile_alpha(
            fp,
            regions,
            theta=theta,
            iters=iters,
            nodes=nodes,
            x_nodes=x_nodes,
            smooth=smooth,
            min_region=min_region,
            bins=bins,
        )
    if fp.n < 50:
        raise ValueError("the Klimek fit needs at least 50 stations")
    t, s = fp.turnout, fp.share
    codes = np.zeros(fp.n, dtype=np.int64) if regions is None else np.asarray(regions)
    # pool small regions
    sizes = np.bincount(codes)
    small = sizes[codes] < min_region
    if small.any() and (~small).any():
        codes = np.where(small, codes.max() + 1, codes)
    _, codes = np.unique(codes, return_inverse=True)
    g = int(codes.max()) + 1
    it = np.minimum((t * bins).astype(np.int64), bins - 1)
    js = np.minimum((s * bins).astype(np.int64), bins - 1)
    keys, counts = np.unique(codes * bins * bins + it * bins + js, return_counts=True)
    gc, rem = np.divmod(keys, bins * bins)
    ic, jc = np.divmod(rem, bins)
    n = counts.astype(np.float64)
    cnt = np.bincount(codes, minlength=g).astype(np.float64)
    mu_t = np.bincount(codes, weights=t, minlength=g) / cnt
    mu_s = np.bincount(codes, weights=s, minlength=g) / cnt
    sd_t = np.sqrt(np.bincount(codes, weights=(t - mu_t[codes]) ** 2, minlength=g) / cnt)
    sd_s = np.sqrt(np.bincount(codes, weights=(s - mu_s[codes]) ** 2, minlength=g) / cnt)
    init = _State(
        np.array([0.9, 0.05, 0.02, 0.03]),
        mu_t,
        np.maximum(sd_t, 0.01),
        mu_s,
        np.maximum(sd_s, 0.01),
    )
    grid = (theta,) if theta is not None else THETA_GRID
    profile: dict[float, float] = {}
    best: tuple[float, float, _State] | None = None
    for th in grid:
        st = _State(
            init.pi.copy(), init.mu_t.copy(), init.sd_t.copy(), init.mu_s.copy(), init.sd_s.copy()
        )
        ll, _ = _em(st, th, alpha, gc, ic, jc, n, bins, iters, nodes, x_nodes, smooth)
        profile[th] = ll
        if best is None or ll > best[0]:
            best = (ll, th, st)
    assert best is not None
    _, th_best, st = best
    if theta is None:
        # refine theta by a parabola through the best grid point and its neighbours
        ths = sorted(profile)
        k = ths.index(th_best)
        if 0 < k < len(ths) - 1:
            x3 = np.array(ths[k - 1 : k + 2])
            y3 = np.array([profile[x] for x in x3])
            c = np.polyfit(x3, y3, 2)
            if c[0] < 0:
                th_new = float(np.clip(-c[1] / (2 * c[0]), x3[0], x3[2]))
                st2 = _State(
                    st.pi.copy(), st.mu_t.copy(), st.sd_t.copy(), st.mu_s.copy(), st.sd_s.copy()
                )
                ll2, _ = _em(
                    st2, th_new, alpha, gc, ic, jc, n, bins, iters // 2, nodes, x_nodes, smooth
                )
                profile[th_new] = ll2
                if ll2 > profile[th_best]:
                    th_best, st = th_new, st2
    ll, kern = _em(st, th_best, alpha, gc, ic, jc, n, bins, 1, nodes, x_nodes, smooth)
    pi = st.pi
    p = np.maximum(pi @ kern, 1e-300)
    grad = (kern[1:] - kern[0]) / p
    info = (grad * n) @ grad.T
    try:
        se = np.sqrt(np.maximum(np.diag(np.linalg.inv(info)), 0))
    except np.linalg.LinAlgError:
        se = np.full(3, np.nan)
    model = _model_grid(st, th_best, alpha, fp.bins, nodes, x_nodes, smooth * fp.bins / bins, cnt)
    return KlimekFit(
        fi=float(pi[1]),
        fe=float(pi[2]),
        fi_se=float(se[0]),
        fe_se=float(se[1]),
        background=float(pi[3]),
        theta=float(th_best),
        alpha=alpha,
        tau=st.mu_t,
        s_tau=st.sd_t,
        nu=st.mu_s,
        s_nu=st.sd_s,
        log_likelihood=ll,
        n=fp.n,
        n_regions=g,
        profile=dict(sorted(profile.items())),
        model_counts=model.reshape(fp.bins, fp.bins),
    )


def _fit_klimek_profile_alpha(
    fp: Fingerprint, regions: np.ndarray | None, **kwargs: Any
) -> KlimekFit:
    """Profile likelihood over alpha (see :func:`fit_klimek`)."""
    base = fit_klimek(fp, regions, alpha=2.0, **kwargs)
    fixed = {k: v for k, v in kwargs.items() if k != "theta"}
    profile: dict[float, KlimekFit] = {2.0: base}
    for a in ALPHA_GRID:
        if a not in profile:
            profile[a] = fit_klimek(fp, regions, alpha=a, theta=base.theta, **fixed)
    best = max(profile, key=lambda a: profile[a].log_likelihood)
    grid = sorted(profile)
    k = grid.index(best)
    if 0 < k < len(grid) - 1:
        x3 = np.array(grid[k - 1 : k + 2])
        y3 = np.array([profile[a].log_likelihood for a in x3])
        c = np.polyfit(x3, y3, 2)
        if c[0] < 0:
            a_new = float(np.clip(-c[1] / (2 * c[0]), x3[0], x3[2]))
            if all(abs(a_new - a) > 1e-3 for a in grid):
                profile[a_new] = fit_klimek(fp, regions, alpha=a_new, theta=base.theta, **fixed)
    best = max(profile, key=lambda a: profile[a].log_likelihood)
    fit = profile[best]
    return replace(
        fit,
        alpha_fixed=False,
        alpha_profile={a: profile[a].log_likelihood for a in sorted(profile)},
        fi_by_alpha={a: profile[a].fi for a in sorted(profile)},
    )
