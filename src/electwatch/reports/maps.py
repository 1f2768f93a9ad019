"""Choropleth maps drawn as static SVG straight from GeoJSON polygons (no GIS stack).

``--geo FILE --geo-key PROPERTY``: each feature's ``PROPERTY`` names an area of the
results' top level; names are matched with :func:`electwatch.core.numbers.name_key`
(case, spacing, Persian and Arabic letter forms), and the areas and features left
unmatched are listed under the maps, never silently dropped.

Projection: equirectangular, longitudes scaled by the cosine of the map's middle
latitude (the simplest projection that keeps shapes recognisable at country scale);
a map crossing the antimeridian (Chukotka) is unwrapped first. Three maps: turnout,
the leader's share of ballots cast, and the evidence (how many calibrated tests
deviate in the area). Each area is one ``<path>`` with a tooltip and a link to its
drill-down row.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from markupsafe import Markup, escape

from electwatch.core import formatting as fmt
from electwatch.core.numbers import name_key
from electwatch.errors import ElectwatchError
from electwatch.reports.context import ReportContext
from electwatch.reports.model import Section

WIDTH = 960.0
MAX_HEIGHT = 620.0
#: sequential palettes (ColorBrewer Blues, Purples; Reds for evidence), light to dark
BLUES = ["#eff3ff", "#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#084594"]
PURPLES = ["#f2f0f7", "#dadaeb", "#bcbddc", "#9e9ac8", "#807dba", "#6a51a3", "#4a1486"]
REDS = ["#fff5f0", "#fcbba1", "#fc9272", "#fb6a4a", "#ef3b2c", "#cb181d", "#99000d"]
NO_DATA = "#d9d9d9"


class GeoError(ElectwatchError):
    """A GeoJSON file that cannot be drawn (file, what was expected)."""


@dataclass
class Shape:
    name: str  # the feature's property value
    rings: list[np.ndarray]  # (n, 2) lon/lat arrays


@dataclass
class GeoMatch:
    """Features matched to areas; what was left over on either side."""

    matched: dict[str, Shape]  # area name -> shape
    unmatched_areas: list[str]
    unmatched_features: list[str]
    duplicates: list[str] = field(default_factory=list)


def load_shapes(path: str | Path, key: str) -> list[Shape]:
    """Polygons and multipolygons of a GeoJSON FeatureCollection, named by ``key``."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GeoError(f"{path}: file not found") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GeoError(f"{path}: not GeoJSON (expected UTF-8 JSON): {exc}") from None
    feats = data.get("features") if isinstance(data, dict) else None
    if not isinstance(feats, list):
        raise GeoError(f"{path}: expected a FeatureCollection with a 'features' list")
    shapes = []
    for k, f in enumerate(feats):
        props = (f or {}).get("properties") or {}
        if key not in props:
            raise GeoError(
                f"{path}: feature #{k} has no property {key!r} (--geo-key); "
                f"its properties are {sorted(props)[:8]}"
            )
        geom = (f or {}).get("geometry") or {}
        kind, coords = geom.get("type"), geom.get("coordinates")
        polys: list[Any]
        if kind == "Polygon":
            polys = [coords]
        elif kind == "MultiPolygon":
            polys = list(coords or [])
        else:
            raise GeoError(f"{path}: feature #{k} ({props[key]}) is a {kind}, not a polygon")
        try:
            rings = [np.asarray(r, dtype=float)[:, :2] for poly in polys for r in poly]
        except (TypeError, ValueError, IndexError):
            raise GeoError(
                f"{path}: feature #{k} ({props[key]}) has malformed coordinates"
            ) from None
        shapes.append(Shape(str(props[key]), rings))
    return shapes


def match_shapes(shapes: Sequence[Shape], areas: Sequence[str]) -> GeoMatch:
    """Match features to areas by :func:`name_key` (an area keyed "A / B" matches by "B")."""
    by_key: dict[str, Shape] = {}
    dup = []
    for s in shapes:
        k = name_key(s.name)
        if k in by_key:
            dup.append(s.name)
            by_key[k].rings.extend(s.rings)  # one area drawn from several features
        else:
            by_key[k] = s
    matched: dict[str, Shape] = {}
    used: set[str] = set()
    for a in areas:
        k = name_key(a.split(" / ")[-1])
        if k in by_key:
            matched[a] = by_key[k]
            used.add(k)
    return GeoMatch(
        matched=matched,
        unmatched_areas=[a for a in areas if a not in matched],
        unmatched_features=[s.name for k, s in by_key.items() if k not in used],
        duplicates=dup,
    )


def _projector(shapes: Sequence[Shape]) -> tuple[Callable[[np.ndarray], np.ndarray], float]:
    allpts = np.concatenate([r for s in shapes for r in s.rings])
    lon = allpts[:, 0]
    unwrap = bool(lon.max() - lon.min() > 180)
    if unwrap:
        lon = np.where(lon < 0, lon + 360, lon)
    lat = allpts[:, 1]
    scale_x = math.cos(math.radians(float((lat.min() + lat.max()) / 2)))
    x0, x1 = float(lon.min()) * scale_x, float(lon.max()) * scale_x
    y0, y1 = float(lat.min()), float(lat.max())
    span = max(x1 - x0, 1e-9), max(y1 - y0, 1e-9)
    k = min(WIDTH / span[0], MAX_HEIGHT / span[1])
    height = span[1] * k

    def project(ring: np.ndarray) -> np.ndarray:
        x = np.where(ring[:, 0] < 0, ring[:, 0] + 360, ring[:, 0]) if unwrap else ring[:, 0]
        return np.column_stack([(x * scale_x - x0) * k, (y1 - ring[:, 1]) * k])

    return project, height


def _path(rings: Sequence[np.ndarray], project: Callable[[np.ndarray], np.ndarray]) -> str:
    parts = []
    for r in rings:
        xy = project(r)
        pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
        parts.append(f"M{pts}Z")
    return "".join(parts)


def _bins(values: np.ndarray, palette: Sequence[str]) -> tuple[np.ndarray, list[float]]:
    """Equal-width classes between the finite min and max."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.full(values.shape, -1), []
    lo, hi = float(finite.min()), float(finite.max())
    edges = list(np.linspace(lo, hi, len(palette) + 1)) if hi > lo else [lo, lo + 1e-9]
    idx = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)
    idx = np.where(np.isfinite(values), idx, -1)
    return idx, edges


def choropleth_svg(
    match: GeoMatch,
    values: dict[str, float],
    *,
    map_id: str,
    title: str,
    palette: Sequence[str],
    label: Callable[[float], str],
    tooltip: Callable[[str], str],
    link: Callable[[str], str],
    discrete: bool = False,
) -> str:
    """One choropleth: one ``<path class="area">`` per matched area, its tooltip in a
    ``<title>``, wrapped in a link to the area's drill-down row; a legend below."""
    shapes = list(match.matched.values())
    if not shapes:
        return ""
    project, height = _projector(shapes)
    names = list(match.matched)
    vals = np.array([values.get(n, math.nan) for n in names], dtype=float)
    if discrete:
        top = int(np.nanmax(vals)) if np.isfinite(vals).any() else 0
        idx = np.where(np.isfinite(vals), np.minimum(vals, len(palette) - 1), -1).astype(int)
        classes = [
            (palette[min(k, len(palette) - 1)], str(k))
            for k in range(min(top, len(palette) - 1) + 1)
        ]
        if top >= len(palette):
            classes[-1] = (classes[-1][0], f"{len(palette) - 1}+")
    else:
        idx, edges = _bins(vals, palette)
        classes = [
            (palette[k], f"{label(edges[k])}–{label(edges[k + 1])}") for k in range(len(edges) - 1)
        ]
    paths = []
    for n, i in zip(names, idx, strict=True):
        colour = palette[int(i)] if i >= 0 else NO_DATA
        paths.append(
            f"<a href='#{escape(link(n))}'><path class='area tip' data-area='{escape(n)}' "
            f"fill='{colour}' d='{_path(match.matched[n].rings, project)}'>"
            f"<title>{escape(tooltip(n))}</title></path></a>"
        )
    legend_y = height + 18
    legend = []
    for k, (colour, text) in enumerate(classes):
        x = 10 + k * 130
        legend.append(
            f"<rect x='{x}' y='{legend_y}' width='16' height='12' fill='{colour}' "
            f"stroke='#888' stroke-width='.5'/><text x='{x + 20}' y='{legend_y + 10}' "
            f"font-size='11'>{escape(text)}</text>"
        )
    total_h = legend_y + 22
    return (
        f"<figure class='map' id='{escape(map_id)}'><div class='frame'>"
        f"<svg class='fig map' viewBox='0 0 {WIDTH:.0f} {total_h:.0f}' role='img' "
        f"aria-label='{escape(title)}' xmlns='http://www.w3.org/2000/svg'>"
        "<style>.area{stroke:#fff;stroke-width:.6}.area:hover{stroke:#000;stroke-width:1.5}</style>"
        f"{''.join(paths)}{''.join(legend)}</svg></div>"
        f"<figcaption><strong>{escape(title)}.</strong> Hover or tap an area for its numbers; "
        "click it for its row in the drill-down. Grey: no data.</figcaption></figure>"
    )


def section_map(ctx: ReportContext) -> Section | list[Section]:
    sec = Section("map", "Maps")
    geo = ctx.options.get("geo")
    if not geo:
        return []  # not asked for: no section
    r = ctx.results
    totals = ctx.extras.get("area_totals")
    if r is None or totals is None:
        sec.omitted = "no results with area totals to map"
        return sec
    from electwatch.reports.drilldown import area_anchor

    shapes = load_shapes(geo, str(ctx.options.get("geo_key") or "name"))
    match = match_shapes(shapes, totals.names)
    ctx.extras["geo_match"] = match
    i = totals.index()
    turnout, share = totals.turnout(), totals.leader_share()
    flags: dict[str, int] = ctx.extras.get("area_flags", {})

    def tip(n: str) -> str:
        k = i[n]
        return (
            f"{n}: turnout {fmt.percent(turnout[k], 1)}, {totals.leader or 'leader'} "
            f"{fmt.percent(share[k], 1)}, {fmt.count(totals.stations[k])} stations, "
            f"{flags.get(n, 0)} calibrated test(s) deviate"
        )

    pct = lambda v: fmt.percent(v, 0)  # noqa: E731 - a legend label
    maps = [
        ("map-turnout", "Turnout (ballots cast / registered)", BLUES,
         {n: float(turnout[i[n]]) for n in totals.names}, pct, False),
        ("map-leader", f"{totals.leader or 'Leader'}: share of ballots cast", PURPLES,
         {n: float(share[i[n]]) for n in totals.names}, pct, False),
        ("map-evidence", "Evidence: calibrated tests deviating in the area", REDS,
         {n: float(flags.get(n, 0)) for n in totals.names}, lambda v: str(int(v)), True),
    ]  # fmt: skip
    for map_id, title, palette, values, label, discrete in maps:
        sec.html.append(
            Markup(
                choropleth_svg(
                    match,
                    values,
                    map_id=map_id,
                    title=title,
                    palette=palette,
                    label=label,
                    tooltip=tip,
                    link=area_anchor,
                    discrete=discrete,
                )
            )
        )
    sec.paragraphs.append(
        f"{len(match.matched):,} of {len(totals.names):,} areas ({totals.level}) matched to "
        f"features of {Path(str(geo)).name} by their '{ctx.options.get('geo_key')}' property."
    )
    no_feature = escape("; ".join(match.unmatched_areas) or "none")
    no_area = escape("; ".join(match.unmatched_features) or "none")
    unmatched = (
        "<div class='unmatched'><h3>Not on the map</h3>"
        f"<p>Areas without a feature ({len(match.unmatched_areas)}): "
        f"<span class='unmatched-areas'>{no_feature}</span></p>"
        f"<p>Features without an area ({len(match.unmatched_features)}): "
        f"<span class='unmatched-features'>{no_area}</span></p>"
        "</div>"
    )
    sec.html.append(Markup(unmatched))
    return sec
