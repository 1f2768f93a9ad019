"""Every count the 2012 report shows equals results.json's (issue 11): stations, areas
per level, flagged areas per level, stations in the fingerprint and the histograms; and
the findings shown are those of results.json, with its numbers."""

from __future__ import annotations

import json
import re

import pytest

from electwatch.reports.findings import findings, flagged_areas, kinds_of_tests
from report_fixtures import real_2012_output

pytestmark = pytest.mark.realdata


def _items(details, section):
    return dict(next(d for d in details["section_details"] if d["id"] == section)["items"])


def test_every_count_in_the_2012_report_equals_results_json(president_2012_path):
    out = real_2012_output(president_2012_path)
    data = json.loads((out.out_dir / "results.json").read_text(encoding="utf-8"))
    details = json.loads(out.json_path.read_text(encoding="utf-8"))
    html = out.html_path.read_text(encoding="utf-8")
    counts = data["counts"]
    # results.json agrees with itself: the battery's station count and its rows
    assert counts["stations"] == data["n_stations"] == 95_415
    rows = data["results"]
    for level in data["levels"][1:]:
        # areas: every area of the level has at least the consistency check row
        assert counts["areas"][level] == len({r["area"] for r in rows if r["level"] == level})
    flagged = flagged_areas(
        [(r["test"], r["level"], r["area"], r["flagged"]) for r in rows], kinds_of_tests(data)
    )
    assert counts["flagged_areas"] == {lv: len(flagged.get(lv, ())) for lv in counts["areas"]}
    # ... and the report shows exactly those numbers
    summary = _items(details, "summary")
    assert summary["stations"] == f"{counts['stations']:,}"
    for level, k in counts["areas"].items():
        assert summary[f"areas: {level}"] == f"{k:,}"
        assert summary[f"flagged areas: {level}"] == (
            f"{counts['flagged_areas'][level]:,} of {k:,}"
        )
    # the fingerprint and both histograms count the same stations
    n = counts["analysed_stations"]
    assert data["fingerprint"]["n"] == n
    assert html.count(f"{n:,} stations (at least 100 registered voters") == 2
    assert f"Stations ({n:,}: at least 100 registered voters" in html
    # the findings are those computed from results.json, shown first, numbers included
    assert data["findings"] == [f.to_dict() for f in findings(data)]
    assert 1 <= len(data["findings"]) <= 5
    assert html.index('id="findings"') < html.index('id="summary"')
    for f in data["findings"]:
        assert f'id="{f["id"]}"' in html
        for e in (e for e in f["evidence"] if e["flagged"]):
            row = next(
                r
                for r in rows
                if r["test"] == e["test"]
                and r["subject"] == e["subject"]
                and r["level"] in ("national", data["levels"][1])
                and r["statistic"] == e["statistic"]
            )
            assert row["ci_low"] == e["ci_low"] and row["p_adjusted"] == e["p_adjusted"]
    area = next(f for f in data["findings"] if f["family"] == "areas")
    assert area["numbers"]["areas"] == counts["areas"][data["levels"][1]]
    assert area["numbers"]["flagged_areas"] == counts["flagged_areas"][data["levels"][1]]
    # no other station or area count in the page contradicts these
    for m in re.finditer(r"areas: (\w+)</dt><dd>([\d,]+)</dd>", html):
        assert int(m.group(2).replace(",", "")) == counts["areas"][m.group(1)]
