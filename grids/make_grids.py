#!/usr/bin/env python
"""Generate the bundled grids: ``ieee14``, ``ieee118`` and ``demo_region``.

Usage::

    python grids/make_grids.py                  # all grids into grids/
    python grids/make_grids.py --out /tmp/g ieee14

Deterministic: every random draw comes from ``numpy.random.default_rng([SEED, k])`` with a
fixed ``k`` per grid, coordinates and values are rounded, and the GeoPackage timestamps
are pinned, so rerunning gives the same tables (and, with the same GDAL, the same bytes).
The rules and typical values are described in ``grids/README.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
from shapely.geometry import LineString, Point

from gridres.impact import assess
from gridres.io.cases import matpower_case_path
from gridres.io.geopackage import write_geopackage
from gridres.io.matpower import read_matpower
from gridres.model import Grid

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import demo_region  # noqa: E402  (sibling script)

__all__ = ["SEED", "SCHEMATIC_CRS", "GENERATORS", "make_ieee", "make_grid", "write_all"]

SEED = 20240611

#: A local engineering CRS with axes in kilometres, for schematic (non-geographic)
#: coordinates: it cannot be transformed to longitude/latitude, on purpose.
SCHEMATIC_CRS = (
    'ENGCRS["gridres schematic (km)",EDATUM["schematic layout"],CS[Cartesian,2],'
    'AXIS["easting (X)",east,ORDER[1],LENGTHUNIT["kilometre",1000]],'
    'AXIS["northing (Y)",north,ORDER[2],LENGTHUNIT["kilometre",1000]]]'
)

#: Customers per MW of peak load on the IEEE cases (2.5 kW per customer on average).
CUSTOMERS_PER_MW = 400
#: Median branch length of the schematic layouts (km).
SCHEMATIC_MEDIAN_KM = 20.0

#: Critical facility kinds: demand range (MW), people range, and the chance of a full,
#: partial or no backup supply; hours of backup for full/partial.
FACILITY_TYPES: dict[str, dict] = {
    "hospital": {"mw": (0.8, 4.0), "people": (300, 2000), "backup": (0.6, 0.3, 0.1),
                 "hours": (24, 48, 72), "label": "Hospital"},
    "water": {"mw": (0.4, 3.0), "people": (20_000, 150_000), "backup": (0.3, 0.3, 0.4),
              "hours": (6, 12, 24), "label": "Water pumping station"},
    "telecom": {"mw": (0.1, 0.9), "people": (30_000, 250_000), "backup": (0.7, 0.2, 0.1),
                "hours": (4, 8, 24), "label": "Telecom hub"},
    "heating": {"mw": (0.8, 3.0), "people": (10_000, 80_000), "backup": (0.2, 0.3, 0.5),
                "hours": (6, 12), "label": "District heating plant"},
    "shelter": {"mw": (0.1, 0.4), "people": (400, 3000), "backup": (0.2, 0.3, 0.5),
                "hours": (12, 24), "label": "Emergency shelter"},
    "emergency": {"mw": (0.2, 0.6), "people": (50_000, 300_000), "backup": (1.0, 0.0, 0.0),
                  "hours": (72,), "label": "Emergency control centre"},
}
_IEEE_KINDS = ("hospital", "water", "telecom", "heating", "hospital", "shelter", "water",
               "emergency", "hospital", "telecom", "shelter", "heating", "water", "hospital")


def draw_backup(rng: np.random.Generator, kind: str, demand_mw: float) -> tuple[float, float]:
    """Backup MW and hours of a facility: full (100-130 % of demand), partial (40-80 %)
    or none, with the kind's probabilities."""
    t = FACILITY_TYPES[kind]
    cls = rng.choice(3, p=t["backup"])
    if cls == 2:
        return 0.0, 0.0
    share = rng.uniform(1.0, 1.3) if cls == 0 else rng.uniform(0.4, 0.8)
    hours = float(rng.choice(t["hours"]))
    return round(max(0.1, demand_mw * share), 1), hours


def _rng(name: str) -> np.random.Generator:
    return np.random.default_rng([SEED, zlib.crc32(name.encode())])


def make_ieee(case: str, name: str, n_facilities: int, n_blackstart: int) -> Grid:
    """An IEEE test case from MATPOWER with a schematic layout, customers, priorities,
    blackstart units and critical facilities; electrical data unchanged."""
    rng = _rng(name)
    g = read_matpower(matpower_case_path(case), name=case)
    buses = g.buses.copy()
    buses["name"] = [" ".join(str(n).split()) for n in buses["name"]]
    # -- schematic layout: Kamada-Kawai (deterministic), scaled to a median branch length
    graph = nx.Graph()
    graph.add_nodes_from(buses.index)
    graph.add_edges_from(zip(g.branches["from_bus"], g.branches["to_bus"], strict=True))
    pos = nx.kamada_kawai_layout(graph)
    xy = np.array([pos[b] for b in buses.index])
    ends = np.array([[buses.index.get_loc(f), buses.index.get_loc(t)]
                     for f, t in zip(g.branches["from_bus"], g.branches["to_bus"], strict=True)])
    lengths = np.linalg.norm(xy[ends[:, 0]] - xy[ends[:, 1]], axis=1)
    xy = (xy - xy.min(axis=0)) * (SCHEMATIC_MEDIAN_KM / np.median(lengths[lengths > 0]))
    xy = np.round(xy, 2)
    points = [Point(x, y) for x, y in xy]
    where = dict(zip(buses.index, points, strict=True))

    # -- facilities on the largest loads, then customers and priorities
    load = buses["load_mw"].clip(lower=0)
    order = sorted(buses.index, key=lambda b: (-load[b], int(b)))
    fac_rows = []
    for k, bus in enumerate(order[:n_facilities]):
        kind = _IEEE_KINDS[k % len(_IEEE_KINDS)]
        t = FACILITY_TYPES[kind]
        demand = round(float(min(rng.uniform(*t["mw"]), 0.1 * load[bus])), 1)
        demand = max(demand, 0.1)
        backup_mw, hours = draw_backup(rng, kind, demand)
        people = int(round(rng.uniform(*t["people"]), -2))
        angle, dist = rng.uniform(0, 2 * np.pi), rng.uniform(0.5, 2.0)
        p = where[bus]
        fac_rows.append({
            "id": f"F{k + 1:02d}", "bus": bus, "name": f"{t['label']} at bus {bus}",
            "kind": kind, "demand_mw": demand, "backup_mw": backup_mw,
            "backup_hours": hours, "people": people,
            "geometry": Point(round(p.x + dist * np.cos(angle), 2),
                              round(p.y + dist * np.sin(angle), 2)),
        })
    facilities = gpd.GeoDataFrame(fac_rows, geometry="geometry", crs=SCHEMATIC_CRS)
    buses["customers"] = np.round(load * CUSTOMERS_PER_MW).astype(np.int64)
    fac_buses = set(facilities["bus"])
    rest = [b for b in order if b not in fac_buses and load[b] > 0]
    industrial = set(rest[: max(1, round(0.1 * (len(rest) + len(fac_buses))))])
    buses["priority"] = [2 if b in fac_buses else 0 if b in industrial else 1
                         for b in buses.index]
    buses = gpd.GeoDataFrame(buses, geometry=points, crs=SCHEMATIC_CRS)

    branches = g.branches.copy()
    branches = gpd.GeoDataFrame(
        branches,
        geometry=[LineString([where[f], where[t]]) for f, t in
                  zip(branches["from_bus"], branches["to_bus"], strict=True)],
        crs=SCHEMATIC_CRS,
    )
    gens = g.generators.copy()
    ref_buses = set(buses.index[buses["ref"]])
    by_size = sorted(gens.index, key=lambda i: (gens.at[i, "bus"] not in ref_buses,
                                                -gens.at[i, "pmax_mw"], int(i)))
    gens["blackstart"] = gens.index.isin(by_size[:n_blackstart])
    gens = gpd.GeoDataFrame(gens, geometry=[where[b] for b in gens["bus"]], crs=SCHEMATIC_CRS)
    return Grid(buses=buses, branches=branches, generators=gens, facilities=facilities,
                name=name, base_mva=g.base_mva, crs=SCHEMATIC_CRS, source=f"matpower:{case}")


#: Bundled grid name -> function building it.
GENERATORS: dict[str, Callable[[], Grid]] = {
    "ieee14": lambda: make_ieee("case14", "ieee14", n_facilities=6, n_blackstart=2),
    "ieee118": lambda: make_ieee("case118", "ieee118", n_facilities=14, n_blackstart=4),
    "demo_region": lambda: demo_region.make_demo_region(_rng("demo_region")),
}


def make_grid(name: str) -> Grid:
    """Build one bundled grid and check it: connected, intact case without shedding or
    overload."""
    grid = GENERATORS[name]()
    imp = assess(grid.network)
    problems = []
    if imp.n_islands != 1:
        problems.append(f"{imp.n_islands} islands")
    if imp.shed_total_mw > 1e-6:
        problems.append(f"{imp.shed_total_mw:.1f} MW shed")
    if imp.overloaded.any():
        problems.append(f"{int(imp.overloaded.sum())} overloads")
    if problems:
        raise RuntimeError(f"{name}: intact case not secure: {', '.join(problems)}")
    return grid


@contextlib.contextmanager
def pinned_timestamps() -> Iterator[None]:
    """Pin the GeoPackage's ``last_change`` timestamps so output bytes are stable."""
    import pyogrio

    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": "2024-01-01T00:00:00.000Z"})
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": None})


def write_all(out: Path, names: list[str] | None = None) -> dict[str, Path]:
    """Build and write the named grids (default all) as ``OUT/<name>.gpkg``."""
    written = {}
    with pinned_timestamps():
        for name in names or list(GENERATORS):
            grid = make_grid(name)
            written[name] = write_geopackage(grid, out / f"{name}.gpkg")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"grids to build (default all: {', '.join(GENERATORS)})")
    parser.add_argument("--out", type=Path, default=HERE, help="output folder (default grids/)")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in GENERATORS]
    if unknown:
        parser.error(f"unknown grid {unknown[0]!r}; choose from {', '.join(GENERATORS)}")
    for name, path in write_all(args.out, args.names or None).items():
        size = path.stat().st_size / 1e6
        print(f"{name}: {path} ({size:.2f} MB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
