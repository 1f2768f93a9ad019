"""Claims that mean what they say (issue 15): a claim names its election, area and
round; relations "about", "at most", "at least" and rank; a conflict only beyond the
claim's own stated precision; an area claim checked against that area."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from electwatch.claims import ClaimError, ledger_from_records, load_claims
from electwatch.claims.ledger import check_against_results, claim_scope, results_figures
from electwatch.data.model import Contest, Election, ElectionResults, SourceInfo

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "claims.toml"


def iran_shaped_constituencies() -> ElectionResults:
    """SYNTHETIC constituency table shaped like Iran's (SPEC, "what Iranian election
    data look like"): one row per constituency, no register, a different candidate list
    per constituency (null = not standing there), blank and invalid lines. The Yazd
    row carries the SPEC's figures: leader 81,634, blank ballots 29,303 (second)."""
    frame = pl.DataFrame(
        {
            "station_id": ["c1", "c2", "c3"],
            "abroad": [False, False, False],
            "province": ["یزد", "Tehran", "Kerman"],
            "constituency": ["یزد", "Tehran", "Kerman"],
            "registered": [None, None, None],
            "cast": [81_634 + 29_303 + 21_000 + 9_000 + 1_200, 500_000, 200_000],
            "valid": [81_634 + 21_000 + 9_000, 470_000, 190_000],
            "blank": [29_303, 20_000, 5_000],
            "invalid": [1_200, 10_000, 5_000],
            "Candidate A": [81_634, 250_000, None],
            "Candidate B": [21_000, 220_000, 120_000],
            "Candidate C": [9_000, None, 70_000],
        },
        schema_overrides={"registered": pl.Int64},
    )
    return ElectionResults(
        frame=frame,
        candidates=["Candidate A", "Candidate B", "Candidate C"],
        area_levels=["province", "constituency"],
        election=Election("Majlis election 2024 (SYNTHETIC)", country="Iran"),
        contest=Contest("Majlis", round=1),
        source=SourceInfo(path="<memory>", synthetic=True),
    )


def _claims(*records):
    base = {"source": "test", "election": "Majlis election 2024"}
    return ledger_from_records([{**base, **r} for r in records])


def test_about_56_percent_is_consistent_within_rounding_with_557_but_not_580():
    led = _claims(
        {"id": "a", "quantity": "turnout", "value": "about 56%", "relation": "about"},
    )
    c = led["a"]
    assert c.relation == "about" and c.precision == pytest.approx(0.005)
    from electwatch.claims.ledger import _vs_figure

    near = _vs_figure(c, 0.557, "estimate")
    far = _vs_figure(c, 0.580, "estimate")
    assert near.status == "consistent" and near.detail.startswith("consistent within rounding")
    assert far.status == "conflict" and "off by 2%" in far.detail
    # the claim's own tolerance, when stated, replaces the digits' precision
    wide = _claims({"id": "w", "quantity": "turnout", "value": "56%", "tolerance": "3%"})["w"]
    assert _vs_figure(wide, 0.580, "estimate").status == "consistent"


def test_relations_at_most_at_least_and_rank_are_read():
    led = _claims(
        {"id": "m", "quantity": "turnout", "value": "8.2%", "relation": "at most"},
        {"id": "l", "quantity": "turnout", "value": "40%", "relation": "at least"},
        {"id": "r", "quantity": "rank", "candidate": "Candidate B", "value": "2nd"},
        {"id": "s", "quantity": "blank", "relation": "came", "value": "second"},
    )
    assert [led[k].relation for k in "mlrs"] == ["<=", ">=", "rank", "rank"]
    assert led["r"].value == 2 and led["s"].value == 2
    assert led["m"].interval()[1] == pytest.approx(0.0825)
    with pytest.raises(ClaimError, match="relation 'roughly above'"):
        _claims({"id": "x", "quantity": "turnout", "value": "1%", "relation": "roughly above"})
    with pytest.raises(ClaimError, match="cannot read a rank"):
        _claims({"id": "y", "quantity": "rank", "candidate": "B", "value": "silver"})


def test_an_area_claim_is_checked_against_that_area_not_the_whole_file():
    results = iran_shaped_constituencies()
    led = _claims(
        # written with Arabic yeh (a Windows-1256 export): matched through name_key
        {"id": "yazd-blank", "quantity": "blank", "value": 29303, "area": "\u064a\u0632\u062f"},
        {"id": "all-blank", "quantity": "blank", "value": 54303},
        {"id": "nowhere", "quantity": "blank", "value": 1, "area": "Atlantis"},
    )
    rep = check_against_results(led, results).report
    official = {r.claim: r for r in rep.checks if r.kind == "vs_official"}
    assert official["yazd-blank"].status == "consistent"
    assert official["yazd-blank"].reference == 29_303
    assert "یزد" in (official["yazd-blank"].against or "")
    assert official["all-blank"].reference == 29_303 + 20_000 + 5_000
    assert official["nowhere"].status == "unverifiable" and "Atlantis" in official["nowhere"].detail
    # the same Yazd number held against the whole file would have been a false conflict
    assert results_figures(results)[0]["blank"] != 29_303


def test_came_second_is_checked_on_a_constituency_table():
    results = iran_shaped_constituencies()
    figures, _ = results_figures(results, "یزد")
    # Yazd: A 81,634 > blank 29,303 > B 21,000 > C 9,000
    assert figures["rank:blank"] == 2 and figures["rank:Candidate A"] == 1
    assert figures["rank:Candidate B"] == 2  # among candidates only
    led = _claims(
        {"id": "blank2", "quantity": "blank", "relation": "rank", "value": "2nd", "area": "یزد"},
        {
            "id": "c2",
            "quantity": "rank",
            "candidate": "Candidate C",
            "value": "2nd",
            "area": "یزد",
        },
        {
            "id": "a-kerman",
            "quantity": "rank",
            "candidate": "Candidate A",
            "value": 1,
            "area": "Kerman",
        },
    )
    report = check_against_results(led, results).report
    checks = {r.claim: r for r in report.checks if r.kind == "vs_official"}
    assert checks["blank2"].status == "consistent"
    assert checks["c2"].status == "conflict" and checks["c2"].reference == 3
    # Candidate A did not stand in Kerman: no rank to check, so no verdict either way
    assert "a-kerman" not in checks


def test_claims_about_another_election_are_left_out():
    results = iran_shaped_constituencies()
    results_russia = ElectionResults(
        frame=results.frame,
        candidates=results.candidates,
        area_levels=results.area_levels,
        election=Election("Russia, presidential election 2012"),
        contest=Contest("President", round=1),
        source=SourceInfo(path="<memory>"),
    )
    iran = load_claims(EXAMPLES)
    scoped = check_against_results(iran, results_russia)
    assert len(scoped.report.claims) == 0 and len(scoped.excluded) == len(iran)
    assert all(not claim_scope(c, "Russia, presidential election 2012")[0] for c in iran)
    # a claim naming the election and another round is left out too
    led = _claims({"id": "r2", "quantity": "turnout", "value": "41%", "round": 2})
    ok, why = claim_scope(led["r2"], "Majlis election 2024 (SYNTHETIC)", 1)
    assert not ok and "round 2" in why
