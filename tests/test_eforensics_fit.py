"""eforensics fit on its own generative process (SYNTHETIC, small n): recovery,
intervals at zero fraud, station-level output and applicability."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from electwatch.core.applicability import NotApplicable
from electwatch.forensics.eforensics import EforensicsModel, fit_eforensics
from electwatch.simulate.eforensics import simulate_eforensics


def _fit(sim, variant: str = "bl"):
    return fit_eforensics(
        sim.eligible,
        sim.abstentions,
        sim.winner,
        x_turnout=sim.x_turnout,
        x_vote=sim.x_vote,
        variant=variant,
    )


@pytest.mark.parametrize("variant", ["bl", "bbl"])
def test_recovers_weights_coefficients_and_classes(variant: str) -> None:
    sim = simulate_eforensics(800, pi=(0.8, 0.15, 0.05), variant=variant, seed=5)
    fit = _fit(sim, variant)
    assert fit.converged and fit.starts_agree
    for w, true in zip(fit.weights, sim.truth.pi, strict=True):
        assert w.low <= true <= w.high, (w, true)
    for name, true in (("beta_tau", sim.truth.beta_tau), ("beta_nu", sim.truth.beta_nu)):
        est = fit.parameter(name)
        assert abs(est.estimate - true[0]) < 3 * est.se
    assert float((fit.classes == sim.z).mean()) >= 0.98
    mags = {m.name: m for m in fit.magnitudes}
    assert abs(mags["iota_m"].estimate - sim.truth.iota_m) < 0.03
    assert abs(mags["chi_m"].estimate - sim.truth.chi_m) < 0.03
    # expected manufactured and stolen votes add up to the truth (within 10%)
    assert fit.total_manufactured == pytest.approx(sim.manufactured.sum(), rel=0.1)
    assert fit.total_stolen == pytest.approx(sim.stolen.sum(), rel=0.1)


def test_zero_fraud_intervals_include_zero() -> None:
    """At pi = (1, 0, 0) the fraud weights sit on the boundary: their intervals are
    [0, likelihood-ratio limit] and every station is read as clean (small version of
    scripts/eforensics_study.py)."""
    for seed in (1, 2, 3):
        sim = simulate_eforensics(600, pi=(1.0, 0.0, 0.0), seed=seed)
        fit = _fit(sim)
        assert fit.converged
        inc, ext = fit.weights[1], fit.weights[2]
        assert inc.low == 0.0 and ext.low == 0.0
        assert inc.high < 0.05 and ext.high < 0.05
        assert fit.class_counts["clean"] == 600
        # magnitudes of empty classes are declared unidentified, not invented
        assert not any(m.identified for m in fit.magnitudes)


def test_zero_fraud_bbl_boundary_test_puts_zero_in_the_intervals() -> None:
    """bbl on data without fraud: an 'incremental' class with near-zero shares can
    fit the clean stations' spread (an interior maximum whose Wald interval excludes
    0); the boundary test (2 dlogL against (1 + 2 d_f) log n) does not keep such a
    class, so both fraud weights' intervals include 0 and pi_clean's includes 1."""
    for seed in (7, 1007):
        sim = simulate_eforensics(600, pi=(1.0, 0.0, 0.0), variant="bbl", seed=seed)
        fit = _fit(sim, "bbl")
        assert fit.weights[1].low == 0.0 and fit.weights[2].low == 0.0
        assert fit.weights[0].high == 1.0
        assert not any(t["kept"] or t["above_penalty"] for t in fit.boundary_tests)
        assert all(t["penalty"] == pytest.approx(3 * np.log(600)) for t in fit.boundary_tests)
        d = fit.to_dict()["fit"]
        assert d["boundary_tests"] == fit.boundary_tests and d["quadrature"] == "adaptive"


def test_station_output_ranking_and_areas() -> None:
    sim = simulate_eforensics(600, pi=(0.85, 0.1, 0.05), seed=9)
    areas = np.where(np.arange(600) < 300, "North", "South")
    fit = fit_eforensics(
        sim.eligible, sim.abstentions, sim.winner, areas=areas, area_level="region"
    )
    np.testing.assert_allclose(fit.posterior.sum(axis=1), 1.0, atol=1e-9)
    top = fit.most_suspicious(10)
    assert all(s.most_likely == "extreme" for s in top)
    assert [s.p_extreme for s in top] == sorted((s.p_extreme for s in top), reverse=True)
    by_area = {a.area: a for a in fit.by_area()}
    assert set(by_area) == {"North", "South"}
    total = sum(a.expected_manufactured + a.expected_stolen for a in by_area.values())
    assert total == pytest.approx(fit.total_manufactured + fit.total_stolen)
    d = fit.to_dict(top=5)
    assert len(d["most_suspicious"]) == 5 and "not evidence of fraud" in d["caveat"]
    assert d["fit"]["converged"] is True
    assert {w["name"] for w in d["weights"]} == {"pi_clean", "pi_incremental", "pi_extreme"}


class _Results:
    """The attributes EforensicsModel reads from ElectionResults."""

    def __init__(self, registered: np.ndarray, cast: np.ndarray, winner: np.ndarray):
        n = len(registered)
        self.frame = pl.DataFrame(
            {"station_id": [f"S{i}" for i in range(n)], "region": ["R"] * n, "L": winner}
        )
        self.registered = registered.astype(float)
        self.cast = cast
        self.candidates = ["L"]
        self.winner = "L"
        self.area_levels = ["region"]
        self.abroad = np.zeros(n, dtype=bool)

    @property
    def has_registers(self) -> bool:
        return bool(np.isfinite(self.registered).any())

    def votes(self, name: str) -> np.ndarray:
        return self.frame[name].to_numpy()


def test_applicability_register_stations_and_minimum() -> None:
    sim = simulate_eforensics(600, seed=2)
    cast = sim.eligible - sim.abstentions
    model = EforensicsModel("bl")
    small = _Results(sim.eligible[:100], cast[:100], sim.winner[:100])
    out = model.run(small)  # type: ignore[arg-type]  # duck-typed results
    assert isinstance(out, NotApplicable) and out.missing == "minimum_n"
    no_reg = _Results(np.full(600, np.nan), cast, sim.winner)
    out = model.run(no_reg)  # type: ignore[arg-type]  # duck-typed results
    assert isinstance(out, NotApplicable) and out.missing == "register"
    provinces = _Results(sim.eligible * 1000, cast * 1000, sim.winner * 1000)
    out = model.run(provinces)  # type: ignore[arg-type]  # duck-typed results
    assert isinstance(out, NotApplicable) and out.missing == "station_rows"
    ok = model.run(_Results(sim.eligible, cast, sim.winner))  # type: ignore[arg-type]  # duck-typed results
    assert not isinstance(ok, NotApplicable) and ok.n == 600
