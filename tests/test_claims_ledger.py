"""Claims ledger: stated precision, arithmetic, claims vs claims, estimates and results."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from electwatch.claims import (
    ClaimError,
    StatedNumber,
    check_arithmetic,
    check_ledger,
    evaluate,
    ledger_from_records,
    load_claims,
    official_figures,
)
from electwatch.simulate import ElectionParameters, simulate_election
from electwatch.turnout import SummaryFigures, naive_from_summary

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "claims.toml"


@pytest.mark.parametrize(
    ("raw", "value", "half"),
    [
        (80.7, 80.7, 0.05),
        (88325, 88325.0, 0.5),
        ("88,325", 88325.0, 0.5),
        ("7.8%", 0.078, 0.0005),
        ("about 41%", 0.41, 0.005),
        ("4.76 million", 4_760_000.0, 5_000.0),
        ("5 million", 5_000_000.0, 500_000.0),
    ],
)
def test_stated_number_precision(raw, value, half):
    s = StatedNumber.parse(raw)
    assert s.value == pytest.approx(value) and s.half_unit == pytest.approx(half)


@pytest.mark.parametrize("raw", ["lots", "5 zillion", True, None])
def test_stated_number_rejects_junk(raw):
    with pytest.raises(ValueError):
        StatedNumber.parse(raw)


def test_seed_arithmetic_reproduces():
    ledger = load_claims(EXAMPLE)
    rows = {r.claim: r for r in check_arithmetic(ledger)}
    assert rows["overseas-cast"].status == "ok"
    assert rows["overseas-cast"].reference == 50_206 + 36_169 + 1_950 == 88_325
    assert rows["observer-per-station"].status == "ok"
    assert rows["observer-per-station"].reference == pytest.approx(156_597 / 1_941)
    assert rows["observer-turnout"].status == "ok"
    assert rows["observer-turnout"].reference == pytest.approx(80.7 * 59_000 / 61_000_000)
    assert rows["observer-turnout-bound"].reference == pytest.approx(5e6 / 61e6)
    assert rows["official-implied-per-station"].reference == pytest.approx(0.41 * 61e6 / 59e3)
    assert rows["official-turnout"].status == "unverifiable"
    assert all(r.status in ("ok", "unverifiable") for r in rows.values())


def test_wrong_arithmetic_is_a_mismatch():
    ledger = ledger_from_records([
        {"id": "a", "source": "s", "quantity": "cast", "value": 88_326,
         "formula": "x + y + z", "inputs": {"x": 50_206, "y": 36_169, "z": 1_950}},
        {"id": "b", "source": "s", "quantity": "turnout", "value": "7.9%",
         "formula": "p * n / e", "inputs": {"p": 80.7, "n": 59_000, "e": 61_000_000}},
    ])  # fmt: skip
    rows = check_arithmetic(ledger)
    assert [r.status for r in rows] == ["mismatch", "mismatch"]
    assert "off by 1" in rows[0].detail


def test_claims_held_against_each_other():
    report = check_ledger(load_claims(EXAMPLE))
    pairs = {(r.claim, r.against): r.status for r in report.checks if r.kind == "vs_claim"}
    assert pairs[("observer-turnout", "official-turnout")] == "conflict"
    assert pairs[("observer-turnout", "observer-turnout-bound")] == "consistent"
    assert pairs[("observer-turnout-bound", "official-turnout")] == "conflict"
    assert pairs[("observer-per-station", "official-implied-per-station")] == "conflict"
    assert pairs[("observer-voters", "observer-voters-bound")] == "consistent"
    assert report.counts()["mismatch"] == 0


def test_claims_against_estimate_and_subject():
    est = naive_from_summary(SummaryFigures(1941, 156_597, 59_000, 61e6), station_sd=90)
    ledger = load_claims(EXAMPLE)
    with pytest.raises(ClaimError, match="subjects"):
        check_ledger(ledger, estimates={"obs": est})
    report = check_ledger(ledger, estimates={"obs": est}, subject="national election")
    rows = {r.claim: r for r in report.checks if r.kind == "vs_estimate"}
    assert "overseas-cast" not in rows
    assert rows["observer-turnout"].status == "consistent"
    assert rows["official-turnout"].status == "conflict"
    z = rows["official-turnout"].extra["z"]
    assert z == pytest.approx((0.405 - est.estimate) / est.standard_error)  # nearest 41% edge
    assert rows["official-turnout"].extra["log10_p"] < -100


def test_claims_against_official_results():
    results, _ = simulate_election(ElectionParameters(n_stations=2_000, n_regions=4), seed=1)
    s = results.summary()
    ledger = ledger_from_records([
        {"id": "right", "source": "x", "subject": "sim", "quantity": "turnout",
         "value": f"{s.turnout * 100:.1f}%"},
        {"id": "wrong", "source": "x", "subject": "sim", "quantity": "cast",
         "value": s.cast + 10},
        {"id": "per", "source": "x", "subject": "sim", "quantity": "voters_per_station",
         "value": round(s.cast / s.stations, 1)},
    ])  # fmt: skip
    report = check_ledger(ledger, official=official_figures(s), subject="sim")
    status = {r.claim: r.status for r in report.checks if r.kind == "vs_official"}
    assert status == {"right": "consistent", "wrong": "conflict", "per": "consistent"}


@pytest.mark.parametrize(
    "formula", ["__import__('os')", "x.real", "open('f')", "[1, 2]", "x if x else 1"]
)
def test_formulas_allow_arithmetic_only(formula):
    with pytest.raises(ClaimError):
        evaluate(formula, {"x": 1.0})


def test_formula_functions_and_division_by_zero():
    assert evaluate("sum(a, b, 1) / 2", {"a": 1, "b": 2}) == 2.0
    assert math.isclose(evaluate("-a ** 2", {"a": 3}), -9.0)
    with pytest.raises(ClaimError, match="divides by zero"):
        evaluate("a / (b - b)", {"a": 1, "b": 2})


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"id": "a", "source": "s", "quantity": "q"}, "no 'value'"),
        ({"id": "a", "source": "s", "quantity": "q", "value": 1, "relation": "<"}, "relation"),
        ({"id": "a", "source": "s", "quantity": "q", "value": 1, "formula": "x"}, "no inputs"),
        ({"id": "a", "source": "s", "quantity": "q", "value": 1, "formula": "x",
          "inputs": {"x": "@nope"}}, "unknown claim"),
        ({"id": "a", "source": "s", "quantity": "q", "value": 1, "colour": "red"}, "unknown keys"),
    ],
)  # fmt: skip
def test_bad_claim_records(record, message):
    with pytest.raises(ClaimError, match=message):
        ledger_from_records([record])


def test_bad_files(tmp_path):
    with pytest.raises(ClaimError, match="not found"):
        load_claims(tmp_path / "none.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[[claims]\n", encoding="utf-8")
    with pytest.raises(ClaimError, match="not valid TOML"):
        load_claims(bad)
    empty = tmp_path / "empty.toml"
    empty.write_text("title = 'x'\n", encoding="utf-8")
    with pytest.raises(ClaimError, match="no \\[\\[claims\\]\\]"):
        load_claims(empty)
