"""Maps from a user's GeoJSON, the drill-down table and --area sections (issue 15)."""

from __future__ import annotations

import json
import re

import pytest

from electwatch.reports import build_report
from electwatch.reports.maps import GeoError, choropleth_svg, load_shapes, match_shapes
from electwatch.simulate import (
    ElectionParameters,
    FraudParameters,
    simulate_election,
    write_results,
)
from report_geo import grid_geojson

QUICK = {"n_bootstrap": 100, "n_mc": 100}


def test_names_match_through_the_shared_normalizer_and_leftovers_are_listed(tmp_path):
    # Persian spellings with Arabic yeh/kaf in the GeoJSON, Persian in the results
    path = grid_geojson(
        ["\u064a\u0632\u062f", "KERMAN ", "Tehran"], ["Atlantis"], tmp_path / "g.json"
    )
    shapes = load_shapes(path, "name")
    m = match_shapes(shapes, ["یزد", "Kerman", "Tehran", "Province / Fars"])
    assert set(m.matched) == {"یزد", "Kerman", "Tehran"}
    assert m.unmatched_areas == ["Province / Fars"] and m.unmatched_features == ["Atlantis"]
    svg = choropleth_svg(
        m, {"یزد": 0.5, "Kerman": 0.6, "Tehran": 0.7}, map_id="m", title="t",
        palette=["#fff", "#000"], label=str, tooltip=lambda n: f"tip {n}",
        link=lambda n: "a-" + n,
    )  # fmt: skip
    assert svg.count("<path class='area tip'") == 3  # one path per area, multipolygons too
    assert "tip یزد" in svg and "href='#a-Kerman'" in svg
    # darker for the larger value: the palette's ends for the min and max
    assert re.search(r"data-area='یزد' fill='#fff'", svg)
    assert re.search(r"data-area='Tehran' fill='#000'", svg)


def test_a_map_across_the_antimeridian_is_unwrapped(tmp_path):
    feats = [
        {"type": "Feature", "properties": {"n": "West"},
         "geometry": {"type": "Polygon", "coordinates": [[[178, 65], [179.9, 65], [179.9, 64],
                                                          [178, 64], [178, 65]]]}},
        {"type": "Feature", "properties": {"n": "East"},
         "geometry": {"type": "Polygon", "coordinates": [[[-179.9, 65], [-178, 65], [-178, 64],
                                                          [-179.9, 64], [-179.9, 65]]]}},
    ]  # fmt: skip
    path = tmp_path / "chukotka.json"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    m = match_shapes(load_shapes(path, "n"), ["West", "East"])
    svg = choropleth_svg(m, {"West": 1.0, "East": 2.0}, map_id="m", title="t",
                         palette=["#fff", "#000"], label=str, tooltip=str, link=str)  # fmt: skip
    xs = [float(x) for x in re.findall(r"M([\d.]+),", svg)]
    # side by side (about 4 degrees wide in all), not 360 degrees apart
    assert max(xs) - min(xs) < 960 and len(xs) == 2 and xs[1] > xs[0]


def test_bad_geojson_is_a_one_line_user_error(tmp_path):
    path = grid_geojson(["A"], [], tmp_path / "g.json", key="NAME_1")
    with pytest.raises(GeoError, match="no property 'name'"):
        load_shapes(path, "name")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(GeoError, match="not GeoJSON"):
        load_shapes(tmp_path / "bad.json", "name")


@pytest.fixture(scope="module")
def mapped_report(tmp_path_factory):
    results, _ = simulate_election(
        ElectionParameters(n_stations=1200, n_regions=6), FraudParameters(fi=0.1, fe=0.02), seed=5
    )
    regions = sorted(set(results.frame["region"].to_list()))
    tmp = tmp_path_factory.mktemp("maps")
    geo = grid_geojson(regions[:-1], ["Atlantis"], tmp / "regions.geojson", key="NAME")
    other, _ = simulate_election(ElectionParameters(n_stations=900, n_regions=6), seed=6)
    other_path = write_results(other, tmp / "other.csv")
    out = build_report(
        tmp / "report",
        results=results,
        seed=1,
        forensics_options=QUICK,
        options={
            "geo": geo,
            "geo_key": "NAME",
            "areas": [regions[0], "Atlantis"],
            "compare": other_path,
        },
    )
    return out, regions


def test_report_draws_three_maps_with_one_path_per_matched_area(mapped_report):
    out, regions = mapped_report
    html = out.html_path.read_text(encoding="utf-8")
    assert "map" not in out.omitted
    for map_id in ("map-turnout", "map-leader", "map-evidence"):
        block = html.split(f"id='{map_id}'")[1].split("</figure>")[0]
        assert block.count("<path class='area tip'") == len(regions) - 1
    unmatched = html.split("class='unmatched-areas'>")[1].split("<")[0]
    assert unmatched == regions[-1]
    assert html.split("class='unmatched-features'>")[1].split("<")[0] == "Atlantis"


def test_drilldown_rows_and_area_sections(mapped_report):
    out, regions = mapped_report
    html = out.html_path.read_text(encoding="utf-8")
    table = html.split("id='drilldown-table'")[1].split("</table>")[0]
    assert table.count("<tr id='area-") == len(regions)
    # every map path links to an existing drill-down row
    rows = set(re.findall(r"<tr id='(area-[0-9a-f]+)'", table))
    links = set(re.findall(r"<a href='#(area-[0-9a-f]+)'>", html))
    assert links and links <= rows
    # the station counts of the rows add up to the file's
    cell = r"<td class='num' data-sort='(\d+)'>[\d,]+</td><td class='num' data-sort='[^']*'>[\d.]+%"
    stations = [int(s) for s in re.findall(cell, table)]
    assert sum(stations) == 1200
    sections = {s.id: s for s in out.sections}
    mine = [s for s in out.sections if s.title.startswith("Area: ")]
    assert [s.omitted is None for s in mine] == [True, False]
    assert "no area 'Atlantis'" in (mine[1].omitted or "")
    assert mine[0].tables and "drilldown" in sections


def test_report_compare_section(mapped_report):
    out, regions = mapped_report
    sec = next(s for s in out.sections if s.id == "compare")
    assert sec.omitted is None, sec.omitted
    assert [f.id for f in sec.figures] == ["fingerprint_a", "fingerprint_b"]
    import polars as pl

    table = pl.read_parquet(out.out_dir / "tables/compare_areas.parquet")
    assert table.height == len(regions)
    # every area's shift lies inside its own interval, and the evidence change is known
    assert (table["turnout_shift_low"] <= table["turnout_shift"]).all()
    assert (table["turnout_shift"] <= table["turnout_shift_high"]).all()
    assert table["evidence_change"].null_count() == 0
