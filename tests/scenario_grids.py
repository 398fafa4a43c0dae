"""Hand-made grids with coordinates for the scenario and hazard tests.

The lon/lat grid sits around (10 E, 50 N)::

    B (10.0, 50.1) North ------------------------------ E (12.0, 50.5)
    |                                                    |
    A1/A2 (10.0, 50.0) Centre --- C (10.3, 50.0) --- D (11.0, 50.0)

A1 (380 kV) and A2 (110 kV) form substation "Centre" (transformer T-A); B is substation
"North"; C, D, E have no substation name. Great-circle distances from (10, 50): B 11.12 km,
C 21.44 km, D 71.47 km, E 149.6 km.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import shapely

from builders import make_grid
from gridres.model import Grid

__all__ = ["DATA", "lonlat_grid", "write_flood", "FLOOD_CRS"]

DATA = Path(__file__).resolve().parent / "data" / "scenarios"

POINTS = {
    "A1": (10.0, 50.0), "A2": (10.0, 50.0), "B": (10.0, 50.1), "C": (10.3, 50.0),
    "D": (11.0, 50.0), "E": (12.0, 50.5),
}

#: A projected CRS (ETRS89 / LAEA Europe) for polygon layers, to exercise reprojection.
FLOOD_CRS = "EPSG:3035"


def lonlat_grid(crs: str | None = "EPSG:4326", **replace) -> Grid:
    """The grid of the module notes, in lon/lat."""
    sub = {"A1": "Centre", "A2": "Centre", "B": "North"}
    load = {"B": 40.0, "C": 60.0, "D": 30.0, "E": 20.0}
    buses = [
        {"id": b, "load_mw": load.get(b, 0.0), "substation": sub.get(b, ""), "ref": b == "A1",
         "customers": int(10 * load.get(b, 0.0)), "geometry": shapely.Point(*xy)}
        for b, xy in POINTS.items()
    ]
    lines = [("T-A", "A1", "A2", "transformer", 0.0), ("A2-B", "A2", "B", "line", 11.1),
             ("A2-C", "A2", "C", "line", 21.4), ("C-D", "C", "D", "line", 50.0),
             ("D-E", "D", "E", "line", 90.0), ("B-E", "B", "E", "line", 150.0)]
    branches = [
        {"id": i, "from_bus": f, "to_bus": t, "kind": k, "x_pu": 0.05, "rating_mw": 200.0,
         "length_km": length}
        for i, f, t, k, length in lines
    ]
    gens = [
        {"id": "G1", "bus": "A1", "p_mw": 100.0, "pmax_mw": 200.0},
        {"id": "G2", "bus": "D", "p_mw": 30.0, "pmax_mw": 60.0},
        {"id": "G3", "bus": "E", "p_mw": 20.0, "pmax_mw": 40.0},
    ]
    facs = [{"id": "H", "bus": "C", "kind": "hospital", "demand_mw": 5.0, "people": 800}]
    return make_grid(buses, branches, gens, facs, name="lonlat", crs=crs, **replace)


def write_flood(path: Path, layer: str = "depth", driver: str | None = None) -> Path:
    """Three flood polygons, written in :data:`FLOOD_CRS`:

    - ``shallow`` (0.5 m): lon 10.2-10.4, lat 49.95-50.05, holds bus C;
    - ``deep`` (2.0 m): lon 10.25-10.35, lat 49.9-49.99 plus a strip lon 10.28-10.32,
      lat 49.98-50.02 over bus C (so C, in both, reads 2.0; lines A2-C and C-D too);
    - ``river`` (1.2 m): lon 10.9-11.1, lat 50.2-50.4, crossed by line B-E only (no bus).

    Every other asset is dry (0).
    """
    shallow = shapely.box(10.2, 49.95, 10.4, 50.05)
    deep = shapely.union(shapely.box(10.25, 49.9, 10.35, 49.99),
                         shapely.box(10.28, 49.98, 10.32, 50.02))
    river = shapely.box(10.9, 50.2, 11.1, 50.4)
    frame = gpd.GeoDataFrame(
        {"name": ["shallow", "deep", "river"], "depth_m": [0.5, 2.0, 1.2]},
        geometry=[shallow, deep, river], crs="EPSG:4326",
    ).to_crs(FLOOD_CRS)
    frame.to_file(path, layer=layer, driver=driver)
    return path
