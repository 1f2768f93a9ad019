"""eforensics likelihood: analytic score against finite differences, the clean class
against scipy's binomial, and the simulator's labelling (SYNTHETIC)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from electwatch.forensics.eforensics.model import Likelihood, ModelData, magnitude_mean
from electwatch.simulate.eforensics import SYNTHETIC_LABEL, simulate_eforensics


def _data(variant: str, n: int = 150) -> ModelData:
    sim = simulate_eforensics(n, variant=variant, seed=11)
    return ModelData.build(
        sim.eligible,
        sim.abstentions,
        sim.winner,
        x_turnout=sim.x_turnout,
        x_vote=sim.x_vote,
        x_probability=sim.x_vote,  # any covariate: exercises the weights' logits
    )


@pytest.mark.parametrize("variant", ["bl", "bbl"])
def test_score_matches_finite_differences(variant: str) -> None:
    lik = Likelihood(_data(variant), variant)
    rng = np.random.default_rng(0)
    theta = rng.normal(0, 0.3, lik.layout.size)
    if variant == "bbl":
        theta[-2:] = np.log(80.0)
    ev = lik.evaluate(theta, with_scores=True)
    assert ev.scores is not None
    np.testing.assert_allclose(ev.scores.sum(axis=0), ev.gradient, rtol=1e-10, atol=1e-8)
    numeric = np.zeros_like(theta)
    for j in range(len(theta)):
        h = 1e-6
        up, down = theta.copy(), theta.copy()
        up[j] += h
        down[j] -= h
        numeric[j] = (lik.evaluate(up).loglik - lik.evaluate(down).loglik) / (2 * h)
    np.testing.assert_allclose(ev.gradient, numeric, rtol=1e-5, atol=1e-4)


def test_clean_class_is_the_binomial_of_eforensics() -> None:
    """Clean stations: a ~ Bin(N, 1 - tau), w ~ Bin(N, nu (1 - a/N)) (eforensics bl)."""
    data = _data("bl", 50)
    lik = Likelihood(data, "bl")
    blocks = lik.layout.blocks()
    theta = np.zeros(lik.layout.size)
    theta[blocks["beta_tau"]] = [0.3, 0.1]
    theta[blocks["beta_nu"]] = [-0.2, 0.05]
    ev = lik.evaluate(theta)
    tau = 1 / (1 + np.exp(-(data.x_turnout @ theta[blocks["beta_tau"]])))
    nu = 1 / (1 + np.exp(-(data.x_vote @ theta[blocks["beta_nu"]])))
    n, a, w = data.eligible, data.abstentions, data.winner
    expected = stats.binom.logpmf(a, n, 1 - tau) + stats.binom.logpmf(w, n, nu * (1 - a / n))
    np.testing.assert_allclose(ev.log_class_density[:, 0], expected, rtol=1e-10)


def test_magnitude_means_respect_eforensics_k() -> None:
    eta = np.linspace(-10, 10, 21)
    inc, _ = magnitude_mean(eta, "incremental")
    ext, _ = magnitude_mean(eta, "extreme")
    assert inc.min() > 0 and inc.max() < 0.7
    assert ext.min() > 0.7 and ext.max() < 1
    # eforensics: chi = k + (1 - k) logistic(beta); logistic(0) = 1/2
    assert magnitude_mean(np.array([0.0]), "extreme")[0][0] == pytest.approx(0.85)


def test_simulator_is_labelled_and_keeps_counts_coherent() -> None:
    sim = simulate_eforensics(500, pi=(0.7, 0.2, 0.1), seed=1)
    assert sim.data_source == SYNTHETIC_LABEL and "SYNTHETIC" in sim.data_source
    assert np.all(sim.abstentions + sim.winner <= sim.eligible)
    assert set(np.unique(sim.z)) == {1, 2, 3}
    # extreme stations have far fewer abstentions than clean ones
    share = sim.abstentions / sim.eligible
    assert share[sim.z == 3].mean() < 0.2 * share[sim.z == 1].mean()
    with pytest.raises(ValueError):
        simulate_eforensics(10, pi=(0.5, 0.2, 0.2))


@pytest.mark.parametrize("variant", ["bl", "bbl"])
def test_adaptive_rule_score_matches_finite_differences(variant: str) -> None:
    """With the adaptive rule held fixed the analytic score is exact (the shares'
    normal density moves with the magnitudes, the nodes do not)."""
    lik = Likelihood(_data(variant), variant, nodes=3)
    rng = np.random.default_rng(1)
    theta = rng.normal(0, 0.3, lik.layout.size)
    if variant == "bbl":
        theta[-2:] = np.log(80.0)
    lik.adapt(theta)
    ev = lik.evaluate(theta)
    numeric = np.zeros_like(theta)
    for j in range(len(theta)):
        up, down = theta.copy(), theta.copy()
        up[j] += 1e-6
        down[j] -= 1e-6
        numeric[j] = (lik.evaluate(up).loglik - lik.evaluate(down).loglik) / 2e-6
    np.testing.assert_allclose(ev.gradient, numeric, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("variant", ["bl", "bbl"])
def test_adaptive_rule_converges_to_the_integral_with_few_nodes(variant: str) -> None:
    """The integral over each station's fraud shares: adaptive Gauss-Hermite with 5
    nodes per share agrees with the fixed rule at 41 nodes per share (the reference:
    1,681 points) to 0.01 in log-likelihood on data of the model itself, and the
    Laplace rule (1 node) is further off than 3 nodes."""
    sim = simulate_eforensics(400, pi=(0.8, 0.15, 0.05), variant=variant, seed=3)
    data = ModelData.build(sim.eligible, sim.abstentions, sim.winner)
    lik = Likelihood(data, variant, 1)
    theta = np.zeros(lik.layout.size)
    blocks = lik.layout.blocks()
    theta[blocks["gamma_incremental"]] = np.log(0.15 / 0.8)
    theta[blocks["gamma_extreme"]] = np.log(0.05 / 0.8)
    theta[blocks["beta_iota_m"]] = -0.4
    theta[blocks["beta_chi_m"]] = 0.5
    if variant == "bbl":
        theta[blocks["log_phi_a"]] = theta[blocks["log_phi_w"]] = np.log(300.0)
    reference = Likelihood(data, variant, 41).evaluate(theta).loglik
    errors = {}
    for k in (1, 3, 5):
        rule = Likelihood(data, variant, k)
        rule.adapt(theta)
        errors[k] = abs(rule.evaluate(theta).loglik - reference)
    assert errors[5] < 0.01, errors
    assert errors[1] > errors[3], errors


def test_trigamma_matches_scipy() -> None:
    from scipy import special

    from electwatch.forensics.eforensics.model import trigamma

    x = np.logspace(-6, 6, 500)
    np.testing.assert_allclose(trigamma(x), special.polygamma(1, x), rtol=2e-9)
