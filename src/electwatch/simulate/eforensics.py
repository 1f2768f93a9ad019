"""SYNTHETIC data from the eforensics model's own generative process (for tests and the
recovery study of docs/eforensics.md).

The process is the likelihood of :mod:`electwatch.forensics.eforensics.model`:
class Z ~ Categorical(pi); station fraud fractions f = Binomial(N, mean) / N (capped at
0.999) with means iota (incremental, in (0, 0.7)) or chi (extreme, in (0.7, 1));
a ~ Binomial(N, (1 - tau)(1 - f_m)); w | a ~ Binomial(N, p_w) with eforensics' fraud
map. ``variant="bbl"`` draws each station's success probabilities from Beta laws with
those means and precisions phi_a, phi_w. Covariates are standard normal draws.
Every record carries ``data_source = "SYNTHETIC (eforensics model)"``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

SYNTHETIC_LABEL = "SYNTHETIC (eforensics model)"
K_THRESHOLD = 0.7  # the same k as the model (kept here: simulate does not import forensics)
FRACTION_CAP = 0.999


def _logistic(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


@dataclass(frozen=True)
class EforensicsTruth:
    """The parameters a simulation used (eforensics' parameterisation)."""

    pi: tuple[float, float, float]
    beta_tau: tuple[float, ...]
    beta_nu: tuple[float, ...]
    iota_m: float
    iota_s: float
    chi_m: float
    chi_s: float
    variant: str = "bl"
    phi_a: float = np.inf
    phi_w: float = np.inf

    def beta(self, name: str) -> float:
        """The magnitude intercept in the fit's parameterisation (logit scale)."""
        value = getattr(self, name)
        if name.startswith("iota"):
            s = value / K_THRESHOLD
        else:
            s = (value - K_THRESHOLD) / (1 - K_THRESHOLD)
        return float(np.log(s / (1 - s)))

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass
class EforensicsSimulation:
    """Counts per station, covariates and the true classes (1 clean, 2 incremental,
    3 extreme). SYNTHETIC."""

    eligible: np.ndarray
    abstentions: np.ndarray
    winner: np.ndarray
    x_turnout: np.ndarray
    x_vote: np.ndarray
    z: np.ndarray
    truth: EforensicsTruth
    manufactured: np.ndarray  # true manufactured votes per station
    stolen: np.ndarray
    data_source: str = SYNTHETIC_LABEL
    notes: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.eligible)


def simulate_eforensics(
    n: int = 2000,
    *,
    pi: tuple[float, float, float] = (0.85, 0.12, 0.03),
    beta_tau: tuple[float, ...] = (0.1, 0.2),
    beta_nu: tuple[float, ...] = (-0.1, 0.15),
    iota_m: float = 0.3,
    iota_s: float = 0.2,
    chi_m: float = 0.9,
    chi_s: float = 0.9,
    variant: str = "bl",
    phi_a: float = 100.0,
    phi_w: float = 200.0,
    eligible_range: tuple[int, int] = (500, 1000),
    seed: int = 0,
) -> EforensicsSimulation:
    """Draw ``n`` SYNTHETIC stations. ``beta_tau``/``beta_nu`` give the intercept and
    one coefficient per covariate (as many standard normal covariates are drawn)."""
    if abs(sum(pi) - 1) > 1e-9 or min(pi) < 0:
        raise ValueError("pi must be three non-negative weights summing to 1")
    if not (0 < iota_m < K_THRESHOLD and 0 < iota_s < K_THRESHOLD):
        raise ValueError("incremental fractions must lie in (0, 0.7)")
    if not (K_THRESHOLD < chi_m < 1 and K_THRESHOLD < chi_s < 1):
        raise ValueError("extreme fractions must lie in (0.7, 1)")
    rng = np.random.default_rng(seed)
    big_n = rng.integers(eligible_range[0], eligible_range[1] + 1, n)
    x_t = rng.standard_normal((n, len(beta_tau) - 1))
    x_v = rng.standard_normal((n, len(beta_nu) - 1))
    tau = _logistic(np.column_stack([np.ones(n), x_t]) @ np.asarray(beta_tau))
    nu = _logistic(np.column_stack([np.ones(n), x_v]) @ np.asarray(beta_nu))
    z = rng.choice(3, size=n, p=np.asarray(pi)) + 1
    mean_m = np.select([z == 2, z == 3], [iota_m, chi_m], 0.0)
    mean_s = np.select([z == 2, z == 3], [iota_s, chi_s], 0.0)
    f_m = np.minimum(rng.binomial(big_n, mean_m) / big_n, FRACTION_CAP)
    f_s = np.minimum(rng.binomial(big_n, mean_s) / big_n, FRACTION_CAP)
    p_a = (1 - tau) * (1 - f_m)
    if variant == "bbl":
        p_a = rng.beta(p_a * phi_a, (1 - p_a) * phi_a)
    elif variant != "bl":
        raise ValueError("variant must be 'bl' or 'bbl'")
    a = rng.binomial(big_n, p_a)
    alpha = a / big_n
    q = 1 - f_m
    p_w = nu * (1 - f_s) * (q - alpha) / q + alpha * (f_m - f_s) / q + f_s
    p_w = np.clip(p_w, 0.0, 1.0)
    if variant == "bbl":
        inner = (p_w > 0) & (p_w < 1)
        p_w = np.where(
            inner,
            rng.beta(np.where(inner, p_w, 0.5) * phi_w, np.where(inner, 1 - p_w, 0.5) * phi_w),
            p_w,
        )
    w = rng.binomial(big_n, p_w)
    # keep the counts coherent (w + a <= N): the binomial of w is on N, as in eforensics
    w = np.minimum(w, big_n - a)
    others = big_n - a - w
    manufactured = a * f_m / (1 - f_m)
    stolen = others * f_s / (1 - f_s)
    truth = EforensicsTruth(
        tuple(float(p) for p in pi),  # type: ignore[arg-type]  # three floats by the check above
        tuple(float(b) for b in beta_tau),
        tuple(float(b) for b in beta_nu),
        iota_m,
        iota_s,
        chi_m,
        chi_s,
        variant,
        phi_a if variant == "bbl" else np.inf,
        phi_w if variant == "bbl" else np.inf,
    )
    return EforensicsSimulation(
        big_n.astype(float),
        a.astype(float),
        w.astype(float),
        x_t,
        x_v,
        z,
        truth,
        manufactured,
        stolen,
    )
