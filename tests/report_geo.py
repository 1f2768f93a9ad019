"""SYNTHETIC GeoJSON for the map tests: one square per area on a grid (names spelled
as the test asks), plus features that match no area."""

from __future__ import annotations

import json
from pathlib import Path


def grid_geojson(names: list[str], extra: list[str], path: Path, key: str = "name") -> Path:
    """A FeatureCollection of unit squares (Polygon; every third a MultiPolygon of two
    halves) at 40-60 N, 30-50 E, named by ``key``."""
    feats = []
    for k, name in enumerate([*names, *extra]):
        x, y = 30 + (k % 6) * 3, 60 - (k // 6) * 3
        square = [[x, y], [x + 2.5, y], [x + 2.5, y - 2.5], [x, y - 2.5], [x, y]]
        if k % 3 == 2:
            left = [[x, y], [x + 1.2, y], [x + 1.2, y - 2.5], [x, y - 2.5], [x, y]]
            right = [[x + 1.3, y], [x + 2.5, y], [x + 2.5, y - 2.5], [x + 1.3, y - 2.5],
                     [x + 1.3, y]]  # fmt: skip
            geom = {"type": "MultiPolygon", "coordinates": [[left], [right]]}
        else:
            geom = {"type": "Polygon", "coordinates": [square]}
        feats.append({"type": "Feature", "properties": {key: name}, "geometry": geom})
    path.write_text(
        json.dumps({"type": "FeatureCollection", "features": feats}, ensure_ascii=False),
        encoding="utf-8",
    )
    return path
