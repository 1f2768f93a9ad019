"""Findings first (issue 15) and one presentation layer (issue 11): the formatting
module, the one count of stations and areas, findings from results.json, no cycle."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import polars as pl

from electwatch.core import formatting as fmt
from electwatch.reports.findings import MAX_FINDINGS, findings, flagged_areas

SRC = Path(__file__).resolve().parents[1] / "src"


# --- the formatting module -------------------------------------------------------------


def test_formatting_closed_form_values():
    assert fmt.count(91113.0) == "91,113"
    assert fmt.percent(0.652712) == "65.27%"
    assert fmt.percent(None) == "—" and fmt.percent(float("nan"), missing="n/a") == "n/a"
    assert fmt.p_value(0.0004) == "p < 0.001" and fmt.p_value(0.0123) == "p = 0.012"
    assert fmt.p_value(0.0123, label=False) == "0.012" and fmt.p_value(None) == "p n/a"
    assert fmt.significant(4.478464) == "4.478" and fmt.significant(11043115.0) == "11,043,115"
    assert fmt.compact(1132.99) == "1,133" and fmt.compact(16.406) == "16.4"
    assert fmt.compact(0.2029) == "0.203" and fmt.compact(0.00012) == "0.00012"
    assert fmt.fixed(4.5) == "4.500" and fmt.fixed(math.inf) == "n/a"
    assert fmt.value(3) == "3" and fmt.value(True) == "yes" and fmt.value(1234.5) == "1,234.5"
    assert fmt.stated(0.557, True) == "55.7%" and fmt.stated(4_760_000) == "4,760,000"
    assert fmt.large(11_043_115) == "11.0 million" and fmt.large(29_303) == "29,303"
    assert fmt.points(0.023) == "+2.3 points"
    assert fmt.quantity_value("turnout", 0.078) == "7.80%"
    assert fmt.quantity_value("voters", 4_760_000.4) == "4,760,000"


def test_the_old_helpers_are_thin_names_of_the_one_module():
    from electwatch.cli import forensics as cli_forensics
    from electwatch.forensics import types

    assert types.fmt is fmt.fixed and types.fmt_p is fmt.p_value
    assert cli_forensics._num is fmt.compact
    assert cli_forensics._p(None) == "" and cli_forensics._p(0.5) == "p = 0.500"


# --- no import cycle in the presentation layer ------------------------------------------


def _module_graph() -> dict[str, set[str]]:
    """electwatch module -> electwatch modules it imports (``from pkg import mod``
    resolved to the submodule when it is one)."""
    graph: dict[str, set[str]] = {}
    files = {
        ".".join(p.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__"): p
        for p in (SRC / "electwatch").rglob("*.py")
    }
    for name, path in files.items():
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name.startswith("electwatch")}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("electwatch"):
                for a in node.names:
                    sub = f"{node.module}.{a.name}"
                    deps.add(sub if sub in files else str(node.module))
        # the top-level package is a lazy facade (PEP 562): importing ``__version__``
        # from it loads no subpackage, as tests/test_architecture.py also allows
        graph[name] = (deps & set(files)) - {"electwatch"}
    return graph


def test_no_import_cycle_through_the_report_builder():
    graph = _module_graph()

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            for d in graph.get(todo.pop(), ()):
                if d == goal:
                    return True
                if d not in seen:
                    seen.add(d)
                    todo.append(d)
        return False

    cyclic = sorted(m for m in graph if m.startswith("electwatch.reports") and reaches(m, m))
    assert cyclic == []
    # the sections read the context, never the builder
    for m in ("sections_forensics", "sections_turnout", "sections_findings", "drilldown"):
        deps = graph.get(f"electwatch.reports.{m}", set())
        assert "electwatch.reports.builder" not in deps, m


# --- findings from results.json content ---------------------------------------------------


def _row(test, statistic, null, p=None, flagged=False, level="national", area="national",
         subject="winner's votes", lo=None, hi=None, n=1000):  # fmt: skip
    return {
        "test": test, "level": level, "area": area, "subject": subject,
        "statistic": statistic, "null_value": null, "p_value": p, "p_adjusted": p,
        "ci_low": lo, "ci_high": hi, "n": n, "flagged": flagged, "reading": f"{test} reading",
    }  # fmt: skip


def test_descriptive_tests_never_make_a_finding():
    data = {
        "winner": "A",
        "levels": ["national"],
        "results": [
            _row("turnout_skewness", 0.9, 0.0, 1e-9, True, subject="station turnout"),
            _row("turnout_dip", 0.02, 0.0, 1e-9, True, subject="station turnout"),
            _row("2bl_second_digit_mean", 4.3, 4.187, 1e-9, True),
            _row("c05s", 0.201, 0.2, 0.6, False),
        ],
    }
    found = findings(data)
    assert [f.family for f in found] == ["none"]
    assert "not proof of a clean election" in found[0].does_not_show
    # a results.json that marks a test descriptive is obeyed too
    data["results"].append(_row("c05s", 0.25, 0.2, 1e-6, True, subject="other"))
    data["battery"] = [{"kind": "descriptive", "tests": ["c05s"]}]
    assert [f.family for f in findings(data)] == ["none"]


def test_findings_carry_strength_interval_limits_and_links():
    data = {
        "winner": "Leader",
        "levels": ["national", "region"],
        "results": [
            _row("c05s", 0.2134, 0.2, 1e-5, True, lo=0.21, hi=0.22),
            _row("p05s", 0.2083, 0.2, 1e-9, True, lo=0.205, hi=0.211),
            _row("share_turnout_slope", 0.67, 0.0, 1e-16, True, lo=0.54, hi=0.80),
            _row(
                "shpilkin_excess_votes",
                11_043_115.0,
                0.0,
                None,
                True,
                lo=10_841_602.0,
                hi=11_244_628.0,
            ),
            _row("integer_percent", 1133.0, 0.0, 0.001, True, lo=883.0, hi=1342.0),
            _row("last_digit_mean", 4.48, 4.5, 0.02, True),
            _row("c05s", 0.3, 0.2, 1e-4, True, level="region", area="North"),
            _row("p05s", 0.3, 0.2, 1e-4, True, level="region", area="North"),
            _row("c05s", 0.2, 0.2, 0.9, False, level="region", area="South"),
            _row("turnout_dip", 0.1, 0.0, 0.0, True, level="region", area="South"),
        ],
    }
    found = findings(data)
    assert len(found) == MAX_FINDINGS
    assert [f.id for f in found] == [f"finding-{k}" for k in range(1, 6)]
    by_family = {f.family: f for f in found}
    # the area finding always has a place; the weakest national one (last digits) gave way
    assert "areas" in by_family and "last_digits" not in by_family
    area = by_family["areas"]
    assert area.numbers == {"flagged_areas": 1.0, "areas": 2.0}  # South: only descriptive
    assert area.areas == ["North"] and "1 of 2 areas" in area.headline
    rn = by_family["round_numbers"]
    assert rn.strength == "strong" and "21.3% of vote counts" in rn.headline
    assert "20.8% of rounded percentages" in rn.headline and "against 20%" in rn.headline
    sh = by_family["shpilkin"]
    assert "11.0 million" in sh.headline and "10.8 million to 11.2 million" in sh.headline
    assert sh.strength == "moderate"  # one test, interval far from zero
    assert sh.numbers["statistic"] == 11_043_115.0
    slope = by_family["slope"]
    assert "6.70 points per 10 points" in slope.headline and "5.40 to 8.00" in slope.headline
    for f in found:
        assert f.does_not_show and f.link.startswith("#")
        assert all(e.test not in ("turnout_dip",) for e in f.evidence)
    d = found[0].to_dict()
    assert d["evidence"][0]["statistic"] is not None and "strength_text" in d


def test_flagged_areas_count_calibrated_flags_only():
    rows = [
        ("c05s", "region", "A", True),
        ("turnout_dip", "region", "B", True),
        ("consistency_parts_eq_cast", "region", "C", True),
        ("integer_percent", "tik", "A / x", True),
        ("c05s", "region", "D", False),
    ]
    assert flagged_areas(rows) == {"region": {"A"}, "tik": {"A / x"}}


# --- one count of stations and areas -------------------------------------------------------


def test_areas_are_counted_by_their_path_from_the_top_level():
    from electwatch.data.model import Contest, Election, ElectionResults, SourceInfo
    from electwatch.reports.counts import analysed_mask, report_counts

    frame = pl.DataFrame(
        {
            "station_id": ["1", "2", "3", "4"],
            "abroad": [False] * 4,
            "region": ["R1", "R1", "R2", "R2"],
            "district": ["Central", "East", "Central", "Central"],
            "registered": [1000, 1000, 50, 1000],
            "cast": [500, 1001, 40, 0],
            "valid": [490, 1001, 40, 0],
            "invalid": [10, 0, 0, 0],
            "A": [300, 600, 20, 0],
            "B": [190, 401, 20, 0],
        }
    )
    r = ElectionResults(
        frame=frame,
        candidates=["A", "B"],
        area_levels=["region", "district"],
        election=Election("test (SYNTHETIC)"),
        contest=Contest("test"),
        source=SourceInfo(path="<memory>", synthetic=True),
    )
    c = report_counts(r)
    # "Central" in R1 and in R2 are two districts (the battery keys them the same way)
    assert c.areas == {"region": 2, "district": 3}
    assert c.stations == 4
    # analysed: >= 100 registered, turnout <= 100%, some valid votes -> station 1 only
    assert analysed_mask(r).tolist() == [True, False, False, False]
    assert c.analysed_stations == 1
    assert c.to_dict()["flagged_areas"] == {}


def test_every_report_message_has_a_persian_translation():
    from electwatch.reports.findings import HEADLINES, render_headline
    from electwatch.reports.language import report_language

    fa = report_language("fa")
    assert fa.direction == "rtl" and fa.missing() == []
    text = render_headline(
        "shpilkin",
        {"excess": "11.0 million", "leader": "X", "low": "10.8 million", "high": "11.2 million"},
        fa.gettext,
    )
    assert "میلیون" in text and "million" not in text
    assert fa.digits("1,133 (20.3%)") == "۱٬۱۳۳ (۲۰٫۳%)"
    # every template keeps its placeholders in the translation
    for template in HEADLINES.values():
        import re

        assert sorted(re.findall(r"%\(\w+\)s", template)) == sorted(
            re.findall(r"%\(\w+\)s", fa.gettext(template))
        )
