"""The report opened in headless Chromium as a journalist would (issue 15), 1400 px wide:
the findings within the first 1,200 px and their numbers equal to results.json's; the
maps drawn from a generated GeoJSON with one path per area and the unmatched list
right; the drill-down sorts and filters; no console errors, no network; screenshots
saved (test-artifacts/, gitignored). The same on the Persian report (dir="rtl").

Skips with the reason when Playwright or /usr/bin/chromium is absent, and (for the real
file) when ../shared/data is absent.
"""

from __future__ import annotations

import json
import math

import pytest

from report_browser import check_report, check_section, visit
from report_fixtures import EXTRA_FEATURE, demo_output, eforensics_output, real_2012_output

pytestmark = pytest.mark.browser


def check_visit(html, name, width=1200):
    v = visit(html, name, width=width)
    assert v.console_errors == [], v.console_errors
    assert v.page_errors == [], v.page_errors
    # the only request is the report file itself
    assert v.requests == [html.resolve().as_uri()], v.requests
    assert v.screenshot is not None and v.screenshot.stat().st_size > 20_000
    return v


def _same(shown: str, value: float | None) -> bool:
    if value is None:
        return shown == "None"
    return math.isclose(float(shown), value, rel_tol=0, abs_tol=0)


def journalist_checks(out, name, direction="ltr"):
    html = out.html_path
    c = check_report(html, name, width=1400)
    assert c.console_errors == [] and c.page_errors == [], (c.console_errors, c.page_errors)
    assert c.requests == [html.resolve().as_uri()], c.requests
    assert c.direction == direction
    # findings first: the section and every finding's headline within the first 1,200 px
    assert 0 <= c.findings_top < 1200, c.findings_top
    assert c.findings and c.findings[0]["top"] < 1200
    assert len(c.findings) <= 5
    # each finding's numbers are results.json's, to the last digit
    data = json.loads((out.out_dir / "results.json").read_text(encoding="utf-8"))
    assert [f["id"] for f in c.findings] == [f["id"] for f in data["findings"]]
    for shown, stored in zip(c.findings, data["findings"], strict=True):
        flagged = [e for e in stored["evidence"] if e["flagged"]][:6]
        assert len(shown["evidence"]) == len(flagged)
        for s, e in zip(shown["evidence"], flagged, strict=True):
            assert s["test"] == e["test"] and s["subject"] == e["subject"]
            row = next(
                r
                for r in data["results"]
                if r["test"] == e["test"] and r["subject"] == e["subject"]
                and r["statistic"] == e["statistic"]
            )  # fmt: skip
            for key, attr in (("statistic", "statistic"), ("ci_low", "ci_low"),
                              ("ci_high", "ci_high"), ("p_adjusted", "p_adjusted")):  # fmt: skip
                assert _same(s[attr], row[key]), (key, s[attr], row[key])
    # the maps: one path per area drawn, the left-out areas and the extra feature listed
    n_areas = data["counts"]["areas"][data["levels"][1]]
    left_out = out.map_left_out
    for map_id in ("map-turnout", "map-leader", "map-evidence"):
        assert c.map_paths.get(map_id) == n_areas - len(left_out), c.map_paths
    assert c.unmatched_areas.split("; ") == sorted(left_out)
    assert c.unmatched_features == EXTRA_FEATURE
    # the drill-down sorts (stations, descending) and filters
    assert len(c.sorted_desc) == n_areas
    assert c.sorted_desc == sorted(c.sorted_desc, reverse=True)
    assert 1 <= c.filtered_rows < n_areas
    assert c.flagged_only_rows == c.flagged_expected
    assert c.flagged_only_rows == data["counts"]["flagged_areas"][data["levels"][1]]
    for shot in c.screenshots:
        assert shot.stat().st_size > 20_000
    return c


def test_simulated_report_in_chromium():
    out = demo_output()
    v = check_visit(out.html_path, "report-demo.png")
    assert "Demo election" in v.title
    assert v.figures >= 3
    # the inline script shows a tooltip on tap
    assert v.tooltip_text
    assert len(v.omitted_notes) == len(out.omitted)
    # a phone-width rendering works the same way
    check_visit(out.html_path, "report-demo-phone.png", width=390)


def test_demo_report_for_a_journalist():
    journalist_checks(demo_output(), "journalist-demo")


def test_persian_demo_report_for_a_journalist():
    c = journalist_checks(demo_output("fa"), "journalist-demo-fa", direction="rtl")
    assert c.lang == "fa"


@pytest.mark.realdata
def test_real_2012_report_in_chromium(president_2012_path):
    out = real_2012_output(president_2012_path)
    v = check_visit(out.html_path, "report-russia-president-2012.png")
    assert v.figures >= 3
    assert v.tooltip_text


@pytest.mark.realdata
def test_real_2012_report_for_a_journalist(president_2012_path):
    journalist_checks(real_2012_output(president_2012_path), "journalist-2012")


@pytest.mark.realdata
def test_persian_2012_report_for_a_journalist(president_2012_path):
    c = journalist_checks(
        real_2012_output(president_2012_path, "fa"), "journalist-2012-fa", direction="rtl"
    )
    assert c.lang == "fa"


@pytest.mark.parametrize("language", ["en", "fa"])
def test_eforensics_section_in_chromium(language):
    """``--model eforensics-bbl`` (issue 16): the section below the findings, its two
    figures with tooltips, the 20 stations of results.json in its table, its caveats."""
    out = eforensics_output(language)
    html = out.html_path
    c = check_section(html, "eforensics", f"eforensics-section-{language}.png")
    assert c.console_errors == [] and c.page_errors == [], (c.console_errors, c.page_errors)
    assert c.requests == [html.resolve().as_uri()], c.requests
    assert c.direction == ("rtl" if language == "fa" else "ltr")
    assert c.heading == (
        "مدل تقلب در سطح حوزه (eforensics)"
        if language == "fa"
        else "Station-level fraud model (eforensics)"
    )
    # the findings stay first; the model's section comes after them
    assert 0 <= c.findings_top < c.section_top
    assert c.figures == ["fig-eforensics_weights", "fig-eforensics_areas"]
    assert "95% interval" in c.tooltip_text, c.tooltip_text
    data = json.loads((out.out_dir / "results.json").read_text(encoding="utf-8"))
    ranks = c.tables["tbl-eforensics_stations"]
    assert ranks == [str(k) for k in range(1, 21)]
    assert len(data["eforensics"]["most_suspicious"]) == 20
    assert any("not evidence of fraud" in t for t in c.callouts), c.callouts
    assert c.screenshot is not None and c.screenshot.stat().st_size > 20_000
