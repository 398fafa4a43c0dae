"""The ``demo_region`` grid: Vellmark, a fictional region in central Europe.

Built by ``grids/make_grids.py``; the rules and typical values below are the ones
``grids/README.md`` documents. Coordinates are longitude/latitude (EPSG:4326). All names
are fictional.
"""

from __future__ import annotations

import math

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
from pyproj import Geod
from shapely.geometry import LineString, Point

from gridres.impact import assess
from gridres.model import (
    BRANCH_COLUMNS,
    BUS_COLUMNS,
    FACILITY_COLUMNS,
    GENERATOR_COLUMNS,
    TOWN_COLUMNS,
    Grid,
)

__all__ = ["make_demo_region", "LINE_TYPES", "TRANSFORMER_TYPES"]

CRS = "EPSG:4326"
BBOX = (12.6, 47.8, 14.6, 49.0)  # lon_min, lat_min, lon_max, lat_max
BASE_MVA = 100.0
GEOD = Geod(ellps="WGS84")

#: Overhead line types per voltage (kV): reactance and resistance per km (ohm/km) and
#: thermal rating per circuit (MW, taken equal to MVA in the DC model).
LINE_TYPES: dict[int, tuple[float, float, float]] = {
    380: (0.26, 0.028, 1700.0),  # 4 x 265/35 Al/St bundle, 2,580 A
    220: (0.32, 0.060, 490.0),  # 2 x 265/35 bundle, 1,290 A
    110: (0.39, 0.120, 123.0),  # 243-AL1/39-ST1A, 645 A
}
#: Transformer types per (high kV, low kV): rating (MVA) and short-circuit voltage uk.
TRANSFORMER_TYPES: dict[tuple[int, int], tuple[float, float]] = {
    (380, 220): (600.0, 0.14),
    (380, 110): (300.0, 0.13),
    (220, 110): (200.0, 0.12),
}
ROUTE_FACTOR = 1.1  # line length = geodesic distance x this detour factor
KW_PER_PERSON = 1.5  # peak load per inhabitant, households + commerce + small industry
PERSONS_PER_CUSTOMER = 2.0  # households plus businesses
SUBSTATION_MAX_MW = 80.0  # a town whose load exceeds this gets several substations
REINFORCE_LOADING = 0.7  # intact loading above which a circuit or unit is added
MAX_PARALLEL = 4
#: Bus offsets (degrees) of each voltage level's switchyard from the substation point.
YARD_OFFSET = {380: (0.0, 0.0), 220: (0.003, 0.0), 110: (0.0, -0.002)}

#: Transmission substations: code, name, lon, lat, voltage levels.
EHV_SUBSTATIONS = [
    ("VBN", "Vellburg Nord", 13.60, 48.48, (380, 110)),
    ("VBS", "Vellburg Sued", 13.53, 48.35, (380, 220, 110)),
    ("KAL", "Kaltenfeld-Heide", 12.97, 48.63, (380, 110)),
    ("HOH", "Hohenried-Kreuz", 14.07, 48.81, (380, 110)),
    ("OST", "Ostrach-Ost", 14.27, 48.41, (380, 110)),
    ("BRW", "Brunnwald-Sued", 12.86, 48.19, (380, 220, 110)),
    ("LIN", "Lindach-Au", 13.12, 47.97, (220, 110)),
    ("STE", "Steinach-Tal", 13.58, 47.92, (220, 110)),
    ("GAM", "Gamsau-Berg", 14.06, 48.01, (220, 110)),
    ("REH", "Reichenhag-Feld", 14.36, 48.14, (220, 110)),
]
#: Power stations with their own substation: code, name, lon, lat, kV, units
#: (kind, fuel, pmax MW, blackstart).
LARGE_PLANTS = [
    ("TIE", "Tiefenbach power station", 12.78, 48.74, 380,
     [("thermal", "coal", 550.0, False), ("thermal", "coal", 550.0, False)]),
    ("HAL", "Hallwang power station", 14.42, 48.63, 380,
     [("thermal", "gas", 820.0, False)]),
    ("PSW", "Steinach pumped storage", 13.46, 47.84, 220,
     [("hydro", "water", 300.0, True), ("hydro", "water", 300.0, True)]),
]
#: Transmission lines: from, to, kV, circuits.
EHV_LINES = [
    ("TIE", "KAL", 380, 2), ("TIE", "VBN", 380, 1), ("KAL", "VBN", 380, 1),
    ("VBN", "HOH", 380, 1), ("HOH", "HAL", 380, 1), ("HAL", "OST", 380, 1),
    ("OST", "VBS", 380, 1), ("VBS", "VBN", 380, 1), ("VBS", "BRW", 380, 1),
    ("BRW", "KAL", 380, 1),
    ("BRW", "LIN", 220, 1), ("LIN", "STE", 220, 1), ("STE", "PSW", 220, 2),
    ("STE", "GAM", 220, 1), ("GAM", "REH", 220, 1), ("REH", "VBS", 220, 1),
    ("STE", "VBS", 220, 1),
]
#: Transformer units installed before reinforcement, per (high, low) level.
BASE_UNITS = 2
#: Named towns: name, lon, lat, population. More towns are drawn at random.
TOWNS = [
    ("Vellburg", 13.57, 48.42, 310_000),
    ("Ostrach", 14.20, 48.45, 145_000),
    ("Kaltenfeld", 13.03, 48.58, 82_000),
    ("Hohenried", 14.00, 48.76, 64_000),
    ("Brunnwald", 12.92, 48.24, 52_000),
    ("Lindach", 13.17, 48.01, 38_000),
    ("Gamsau", 14.01, 48.06, 31_000),
    ("Reichenhag", 14.31, 48.19, 27_000),
    ("Steinach", 13.53, 47.96, 22_000),
]
N_RANDOM_TOWNS = 44
_PREFIXES = ("Alt", "Asch", "Bern", "Birk", "Buch", "Dorn", "Eben", "Eich", "Erl", "Falk",
             "Fels", "Hag", "Hain", "Hasel", "Hirsch", "Holz", "Kirch", "Lauf", "Lind", "Mar",
             "Moos", "Neu", "Ober", "Rain", "Ried", "Rot", "Sal", "Schon", "Stein", "Tann",
             "Unter", "Wald", "Weid", "Wolf", "Zell", "Am", "Bruck", "Els", "Gold", "Horn")
_SUFFIXES = ("ach", "au", "bach", "berg", "brunn", "dorf", "feld", "hausen", "heim",
             "hofen", "ing", "kirchen", "reuth", "ried", "stadt", "tal", "wang", "weiler",
             "wies", "zell")
#: Industrial sites (priority 0): name, near town, load MW.
INDUSTRY = [("Alzbruck chemical park", "Ostrach", 110.0),
            ("Kaltenfeld steel works", "Kaltenfeld", 85.0),
            ("Vellburg paper mill", "Vellburg", 60.0)]
#: Smaller plants on the 110 kV grid: name, kind, fuel, pmax MW, blackstart, lon, lat.
#: None as lon places the plant at the named town's substation ("at:TOWN").
SMALL_PLANTS = [
    ("Nordhoehe wind farm", "wind", "wind", 150.0, False, 13.35, 48.93),
    ("Kaltenfeld East wind farm", "wind", "wind", 90.0, False, 13.22, 48.74),
    ("Hohenried West wind farm", "wind", "wind", 120.0, False, 13.78, 48.88),
    ("Auwiesen wind farm", "wind", "wind", 60.0, False, 14.45, 48.90),
    ("Rabenhoehe wind farm", "wind", "wind", 80.0, False, 12.75, 48.92),
    ("Wehr Brunnwald hydro", "hydro", "water", 45.0, True, 12.98, 48.30),
    ("Wehr Vellburg hydro", "hydro", "water", 60.0, False, 13.38, 48.33),
    ("Wehr Ostrach hydro", "hydro", "water", 38.0, False, 13.95, 48.36),
    ("Wehr Reichenhag hydro", "hydro", "water", 52.0, False, 14.48, 48.28),
    ("Sonnenfeld solar park", "solar", "sun", 85.0, False, 13.30, 48.12),
    ("Gamsau solar park", "solar", "sun", 40.0, False, 13.85, 48.14),
    ("Lindach solar park", "solar", "sun", 55.0, False, 12.95, 48.05),
    ("Ostrach solar park", "solar", "sun", 70.0, False, 14.05, 48.58),
    ("Vellburg CHP", "thermal", "gas", 90.0, False, "at:Vellburg", 0),
    ("Vellburg CHP", "thermal", "gas", 90.0, False, "at:Vellburg", 1),
    ("Ostrach gas turbine", "thermal", "gas", 120.0, True, "at:Ostrach", 0),
    ("Hohenried biomass plant", "thermal", "biomass", 20.0, False, "at:Hohenried", 0),
]
#: Dispatch of the intact case (share of pmax per fuel), a winter weekday noon peak.
DISPATCH = {"wind": 0.35, "sun": 0.25, "water": 0.6, "gas": 0.7, "biomass": 0.8}
PUMPED_STORAGE_SHARE = 0.4
GAS_TURBINE_SHARE = 0.0  # reserve
REF_PLANT = "TIE"
#: Critical facilities: name, kind, town, demand MW, backup MW, backup hours, people.
#: "radial" as town places the facility in the largest town fed by a single line.
FACILITIES = [
    ("Vellburg University Hospital", "hospital", "Vellburg", 4.5, 4.8, 72, 2200),
    ("St. Anna Hospital Vellburg", "hospital", "Vellburg", 1.8, 2.0, 48, 700),
    ("Ostrach General Hospital", "hospital", "Ostrach", 2.6, 1.6, 48, 1300),
    ("Kaltenfeld District Hospital", "hospital", "Kaltenfeld", 1.6, 1.8, 24, 650),
    ("Hohenried District Hospital", "hospital", "Hohenried", 1.4, 1.5, 48, 520),
    ("Brunnwald Clinic", "hospital", "Brunnwald", 1.2, 0.6, 24, 400),
    ("Lindach Hospital", "hospital", "Lindach", 1.0, 1.2, 72, 380),
    ("Gamsau Clinic", "hospital", "Gamsau", 0.9, 0.0, 0, 260),
    ("{town} Community Hospital", "hospital", "radial", 1.1, 0.8, 12, 300),
    ("Vellburg Waterworks", "water", "Vellburg", 3.2, 1.5, 12, 310_000),
    ("Ostrach Water Treatment Plant", "water", "Ostrach", 2.1, 0.0, 0, 145_000),
    ("Kaltenfeld Pumping Station", "water", "Kaltenfeld", 0.8, 0.0, 0, 82_000),
    ("Hohenried Waterworks", "water", "Hohenried", 1.1, 1.2, 24, 64_000),
    ("Steinach Spring Pumping Station", "water", "Steinach", 0.5, 0.0, 0, 40_000),
    ("Vellburg District Heating Plant", "heating", "Vellburg", 2.5, 0.0, 0, 95_000),
    ("Ostrach District Heating Plant", "heating", "Ostrach", 1.6, 0.8, 12, 42_000),
    ("Kaltenfeld Heating Plant", "heating", "Kaltenfeld", 0.9, 0.0, 0, 18_000),
    ("Vellburg Telecom Hub", "telecom", "Vellburg", 0.9, 1.0, 8, 450_000),
    ("Ostrach Telephone Exchange", "telecom", "Ostrach", 0.5, 0.6, 4, 180_000),
    ("Hohenried Mobile Core", "telecom", "Hohenried", 0.4, 0.2, 6, 120_000),
    ("Steinach Radio Relay", "telecom", "Steinach", 0.1, 0.1, 12, 60_000),
    ("Vellburg Exhibition Hall Shelter", "shelter", "Vellburg", 0.4, 0.0, 0, 3000),
    ("Ostrach Sports Hall Shelter", "shelter", "Ostrach", 0.25, 0.0, 0, 1200),
    ("Brunnwald School Shelter", "shelter", "Brunnwald", 0.15, 0.1, 12, 600),
    ("Lindach Community Centre Shelter", "shelter", "Lindach", 0.12, 0.15, 24, 400),
    ("Vellmark Regional Emergency Control Centre", "emergency", "Vellburg", 0.6, 0.7, 72,
     1_200_000),
    ("Ostrach Fire and Rescue Headquarters", "emergency", "Ostrach", 0.3, 0.35, 48, 145_000),
]
#: Service areas: a water or telecom facility serves its own town and then the nearest
#: towns no other facility of its service serves, while their people fit in its
#: ``people``, up to this distance (km) from its town.
FILL_RADIUS_KM = 30.0
_FAC_PREFIX = {"hospital": "H", "water": "W", "heating": "HT", "telecom": "TC",
               "shelter": "SH", "emergency": "EM"}


def geodesic_km(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Geodesic distance on the WGS84 ellipsoid (km)."""
    return GEOD.inv(lon1, lat1, lon2, lat2)[2] / 1000.0


def _round_pt(lon: float, lat: float) -> tuple[float, float]:
    return round(lon, 5), round(lat, 5)


def _town_names(rng: np.random.Generator, taken: set[str], n: int) -> list[str]:
    names = []
    while len(names) < n:
        name = str(rng.choice(_PREFIXES)) + str(rng.choice(_SUFFIXES))
        if name not in taken and name.lower()[:-1] not in {t.lower()[:-1] for t in taken}:
            taken.add(name)
            names.append(name)
    return names


def _draw_towns(rng: np.random.Generator) -> list[tuple[str, float, float, int]]:
    """The named towns plus random ones: Poisson-disc positions, lognormal populations;
    the alpine south (below 47.95 N) is sparsely settled."""
    towns = list(TOWNS)
    sites = [(lon, lat) for _, lon, lat, _ in towns] + [(s[2], s[3]) for s in EHV_SUBSTATIONS]
    names = _town_names(rng, {t[0] for t in towns}, N_RANDOM_TOWNS)
    k = 0
    while k < N_RANDOM_TOWNS:
        lon = rng.uniform(BBOX[0] + 0.05, BBOX[2] - 0.05)
        lat = rng.uniform(BBOX[1] + 0.05, BBOX[3] - 0.05)
        south = lat < 47.95
        if south and rng.uniform() > 0.3:
            continue
        if min(geodesic_km(lon, lat, a, b) for a, b in sites) < 9.0:
            continue
        pop = int(round(float(np.clip(rng.lognormal(math.log(9000), 0.55), 2500, 30_000)), -2))
        lon, lat = _round_pt(lon, lat)
        towns.append((names[k], lon, lat, pop))
        sites.append((lon, lat))
        k += 1
    return towns


class _Builder:
    """Collects buses, branches and generators as rows."""

    def __init__(self) -> None:
        self.buses: list[dict] = []
        self.branches: list[dict] = []
        self.gens: list[dict] = []
        self.pos: dict[str, tuple[float, float]] = {}
        self.kv: dict[str, int] = {}

    def bus(self, bid: str, name: str, sub: str, kv: int, lon: float, lat: float, **kw) -> str:
        dx, dy = YARD_OFFSET[kv]
        lon, lat = _round_pt(lon + dx, lat + dy)
        row = {"id": bid, "name": name, "base_kv": float(kv), "load_mw": 0.0, "customers": 0,
               "priority": 1, "substation": sub, "ref": False, "town": "", "population": 0}
        row.update(kw)
        self.buses.append(row)
        self.pos[bid], self.kv[bid] = (lon, lat), kv
        return bid

    def line(self, a: str, b: str, circuits: int = 1) -> None:
        kv = self.kv[a]
        assert self.kv[b] == kv, (a, b)
        x_km, r_km, rating = LINE_TYPES[kv]
        length = round(geodesic_km(*self.pos[a], *self.pos[b]) * ROUTE_FACTOR, 1)
        zbase = kv**2 / BASE_MVA
        for c in range(circuits):
            self.branches.append({
                "id": f"L-{a}-{b}" + (f"-{c + 1}" if circuits > 1 else ""),
                "from_bus": a, "to_bus": b, "kind": "line",
                "r_pu": round(r_km * length / zbase, 6), "x_pu": round(x_km * length / zbase, 6),
                "rating_mw": rating, "length_km": length, "voltage_kv": float(kv),
            })

    def transformer(self, hv: str, lv: str, units: int) -> None:
        rating, uk = TRANSFORMER_TYPES[(self.kv[hv], self.kv[lv])]
        for u in range(units):
            self.branches.append({
                "id": f"T-{hv}-{lv}-{u + 1}", "from_bus": hv, "to_bus": lv,
                "kind": "transformer", "r_pu": round(0.003 * BASE_MVA / rating, 6),
                "x_pu": round(uk * BASE_MVA / rating, 6), "rating_mw": rating,
                "length_km": np.nan, "voltage_kv": float(self.kv[hv]),
            })


def _code(name: str, taken: set[str]) -> str:
    base = "".join(ch for ch in name.upper() if ch.isalpha())[:4]
    code, k = base, 0
    while code in taken:  # letters only, so that a town's substation number stays clear
        code, k = base[:3] + "BCDEFGHJKLMNPQRSTUVWXYZ"[k], k + 1
    taken.add(code)
    return code


def _hv_network(b: _Builder, rng: np.random.Generator, nodes: list[str],
                supplies: list[str]) -> None:
    """110 kV lines: each node joins the group of its nearest supply point; per group a
    minimum spanning tree over geodesic distance, then most leaves get a second line to
    their nearest non-neighbour (meshing); one tie line between neighbouring groups."""
    def dist(a: str, c: str) -> float:
        return geodesic_km(*b.pos[a], *b.pos[c])

    group = {n: min(supplies, key=lambda s: (dist(n, s), s)) for n in nodes}
    for s in supplies:
        group[s] = s
    edges: set[tuple[str, str]] = set()
    for s in supplies:
        members = sorted([s] + [n for n in nodes if group[n] == s])
        g = nx.Graph()
        for i, u in enumerate(members):
            for v in members[i + 1:]:
                g.add_edge(u, v, weight=dist(u, v))
        tree = nx.minimum_spanning_tree(g, algorithm="kruskal")
        edges |= {tuple(sorted(e)) for e in tree.edges}
        for leaf in sorted(n for n in tree.nodes if tree.degree(n) == 1 and n != s):
            if rng.uniform() > 0.6:
                continue
            near = sorted((dist(leaf, v), v) for v in members
                          if v != leaf and not tree.has_edge(leaf, v))
            if near and near[0][0] < 30.0:
                edges.add(tuple(sorted((leaf, near[0][1]))))
    # ties between groups: the closest pair of each pair of groups closer than 18 km
    ties: dict[tuple[str, str], tuple[float, str, str]] = {}
    for u in nodes:
        for v in nodes:
            if u < v and group[u] != group[v]:
                key = tuple(sorted((group[u], group[v])))
                d = dist(u, v)
                if d < 18.0 and (key not in ties or d < ties[key][0]):
                    ties[key] = (d, u, v)
    edges |= {tuple(sorted((u, v))) for _, u, v in ties.values()}
    for u, v in sorted(edges):
        b.line(u, v)


def _reinforce(grid_of, b: _Builder) -> None:
    """Add a parallel circuit (or transformer unit) to every branch loaded above
    REINFORCE_LOADING in the intact case, until none is (at most MAX_PARALLEL)."""
    for _ in range(6):
        grid = grid_of()
        imp = assess(grid.network)
        loading = pd.Series(imp.loading, index=grid.branches.index)
        hot = loading[loading > REINFORCE_LOADING]
        if hot.empty:
            return
        for bid in hot.index:
            row = next(r for r in b.branches if r["id"] == bid)
            same = [r for r in b.branches
                    if {r["from_bus"], r["to_bus"]} == {row["from_bus"], row["to_bus"]}]
            if len(same) >= MAX_PARALLEL:
                raise RuntimeError(f"demo_region: {bid} still loaded {hot[bid]:.2f}")
        done: set[frozenset] = set()
        for bid in hot.index:
            row = next(r for r in b.branches if r["id"] == bid)
            pair = frozenset((row["from_bus"], row["to_bus"]))
            if pair in done:
                continue
            done.add(pair)
            same = [r for r in b.branches if frozenset((r["from_bus"], r["to_bus"])) == pair]
            new = dict(same[-1])
            stem = new["id"].rsplit("-", 1)[0] if len(same) > 1 or new["kind"] == "transformer" \
                else new["id"]
            if len(same) == 1 and new["kind"] == "line":
                same[0]["id"] = f"{stem}-1"
            new["id"] = f"{stem}-{len(same) + 1}"
            b.branches.append(new)
    raise RuntimeError("demo_region: reinforcement did not converge")


def make_demo_region(rng: np.random.Generator) -> Grid:
    """Build the Vellmark grid (see ``grids/README.md``)."""
    b = _Builder()
    codes: set[str] = set()
    supplies: list[str] = []
    # -- transmission substations and large plants
    for code, name, lon, lat, levels in EHV_SUBSTATIONS:
        codes.add(code)
        for kv in levels:
            b.bus(f"{code}-{kv}", f"{name} {kv} kV", name, kv, lon, lat)
        for hi in levels:
            for lo in levels:
                if hi > lo and (hi, lo) in TRANSFORMER_TYPES and not (
                        hi == 380 and lo == 110 and 220 in levels and code == "VBS"):
                    b.transformer(f"{code}-{hi}", f"{code}-{lo}", BASE_UNITS)
        if 110 in levels:
            supplies.append(f"{code}-110")
    plant_bus = {}
    for code, name, lon, lat, kv, _units in LARGE_PLANTS:
        codes.add(code)
        plant_bus[code] = b.bus(f"{code}-{kv}", f"{name} {kv} kV", name, kv, lon, lat,
                                ref=code == REF_PLANT)
    for a, c, kv, circuits in EHV_LINES:
        b.line(f"{a}-{kv}", f"{c}-{kv}", circuits)

    # -- towns, their substations and load
    towns = _draw_towns(rng)
    town_buses: dict[str, list[str]] = {}
    nodes: list[str] = []
    for name, lon, lat, pop in towns:
        load = pop * KW_PER_PERSON / 1000.0
        n_sub = max(1, math.ceil(load / SUBSTATION_MAX_MW))
        code = _code(name, codes)
        angle0 = rng.uniform(0, 2 * math.pi)
        town_buses[name] = []
        for k in range(n_sub):
            if n_sub == 1:
                slon, slat = lon, lat
            else:
                ang = angle0 + 2 * math.pi * k / n_sub
                r_km = rng.uniform(3.0, 5.0)
                slon = lon + r_km * math.cos(ang) / (111.32 * math.cos(math.radians(lat)))
                slat = lat + r_km * math.sin(ang) / 110.57
            share = pop // n_sub + (1 if k < pop % n_sub else 0)  # inhabitants served
            sub = name if n_sub == 1 else f"{name} {k + 1}"
            bid = b.bus(f"{code}{k + 1 if n_sub > 1 else ''}-110", f"{sub} 110 kV", sub, 110,
                        slon, slat, load_mw=round(share * KW_PER_PERSON / 1000.0, 2),
                        customers=int(round(share / PERSONS_PER_CUSTOMER)),
                        priority=2 if pop >= 20_000 else 1, town=name, population=share)
            town_buses[name].append(bid)
            nodes.append(bid)
    town_at = {t[0]: (t[1], t[2]) for t in towns}
    for name, near, load in INDUSTRY:
        lon, lat = town_at[near]
        ang = rng.uniform(0, 2 * math.pi)
        lon, lat = lon + 0.09 * math.cos(ang), lat + 0.06 * math.sin(ang)
        code = _code(name, codes)
        nodes.append(b.bus(f"{code}-110", f"{name} 110 kV", name, 110, lon, lat,
                           load_mw=load, customers=1, priority=0, town=near))
    # -- small plants
    small_bus: list[str] = []
    for name, _kind, _fuel, _pmax, _bs, lon, lat in SMALL_PLANTS:
        if isinstance(lon, str):  # at a town substation
            small_bus.append(town_buses[lon.split(":", 1)[1]][lat])
            continue
        code = _code(name, codes)
        bid = b.bus(f"{code}-110", f"{name} 110 kV", name, 110, lon, lat)
        small_bus.append(bid)
        nodes.append(bid)
    _hv_network(b, rng, nodes, supplies)

    # -- generators and dispatch
    for code, name, _lon, _lat, _kv, units in LARGE_PLANTS:
        for u, (kind, fuel, pmax, bs) in enumerate(units):
            b.gens.append({"id": f"G-{code}-{u + 1}", "bus": plant_bus[code], "plant": name,
                           "kind": kind, "fuel": fuel, "pmax_mw": pmax, "blackstart": bs})
    unit_no: dict[str, int] = {}
    for (name, kind, fuel, pmax, bs, *_), bus in zip(SMALL_PLANTS, small_bus, strict=True):
        code = bus.removesuffix("-110")
        unit_no[code] = unit_no.get(code, 0) + 1
        b.gens.append({"id": f"G-{code}-{unit_no[code]}", "bus": bus, "plant": name,
                       "kind": kind, "fuel": fuel, "pmax_mw": pmax, "blackstart": bs})
    total_load = sum(r["load_mw"] for r in b.buses)
    for g in b.gens:
        share = DISPATCH.get(g["fuel"], 0.0)
        if g["plant"] == "Steinach pumped storage":
            share = PUMPED_STORAGE_SHARE
        elif g["plant"] == "Ostrach gas turbine":
            share = GAS_TURBINE_SHARE
        elif g["plant"].startswith(("Tiefenbach", "Hallwang")):
            share = 0.0
        g["p_mw"] = round(g["pmax_mw"] * share, 1)
    # the large thermal plants take the rest, in proportion to capacity
    bulk = [g for g in b.gens if g["plant"].startswith(("Tiefenbach", "Hallwang"))]
    rest = total_load - sum(g["p_mw"] for g in b.gens)
    cap = sum(g["pmax_mw"] for g in bulk)
    for g in bulk:
        g["p_mw"] = round(rest * g["pmax_mw"] / cap, 1)
    bulk[0]["p_mw"] = round(bulk[0]["p_mw"] + total_load - sum(g["p_mw"] for g in b.gens), 2)

    def build(facilities: pd.DataFrame | None = None) -> Grid:
        return _grid(b, facilities, towns)

    _reinforce(build, b)
    grid = build()
    facilities = _facilities(rng, b, grid, town_buses, town_at)
    return build(_service_areas(facilities, towns))


def _frame(rows: list[dict], schema: dict) -> pd.DataFrame:
    """Rows as a frame: id, the schema's columns in schema order (defaults where a row has
    none), then the extra columns."""
    df = pd.DataFrame(rows)
    for col, default in schema.items():
        if col not in df.columns:
            df[col] = default
    extra = [c for c in df.columns if c != "id" and c not in schema and c != "geometry"]
    return df[["id", *schema, *extra]]


def _grid(b: _Builder, facilities: pd.DataFrame | None, towns: list[tuple]) -> Grid:
    buses = gpd.GeoDataFrame(_frame(b.buses, BUS_COLUMNS),
                             geometry=[Point(*b.pos[r["id"]]) for r in b.buses], crs=CRS)
    branches = gpd.GeoDataFrame(
        _frame(b.branches, BRANCH_COLUMNS),
        geometry=[LineString([b.pos[r["from_bus"]], b.pos[r["to_bus"]]]) for r in b.branches],
        crs=CRS,
    )
    gens = gpd.GeoDataFrame(_frame(b.gens, GENERATOR_COLUMNS),
                            geometry=[Point(*b.pos[r["bus"]]) for r in b.gens], crs=CRS)
    town_table = gpd.GeoDataFrame(
        _frame([{"id": t[0], "name": t[0], "population": float(t[3])} for t in towns],
               TOWN_COLUMNS),
        geometry=[Point(t[1], t[2]) for t in towns], crs=CRS)
    return Grid(buses=buses, branches=branches, generators=gens, facilities=facilities,
                towns=town_table, name="demo_region", base_mva=BASE_MVA, crs=CRS,
                source="grids/make_grids.py")


def _facilities(rng: np.random.Generator, b: _Builder, grid: Grid,
                town_buses: dict[str, list[str]], town_at: dict) -> gpd.GeoDataFrame:
    """Critical facilities on their towns' substations; the "radial" one goes to the most
    populous town whose only substation hangs on a single line."""
    degree = pd.concat([grid.branches["from_bus"], grid.branches["to_bus"]]).value_counts()
    radial = [t for t, bs in town_buses.items()
              if len(bs) == 1 and degree.get(bs[0], 0) == 1]
    if not radial:
        raise RuntimeError("demo_region: no town on a single line")
    pops = {r["town"]: 0 for r in b.buses}
    for r in b.buses:
        pops[r["town"]] += r["population"]
    radial_town = max(radial, key=lambda t: (pops[t], t))
    rows, count = [], {}
    for name, kind, town, demand, backup, hours, people in FACILITIES:
        if town == "radial":
            town = radial_town
            name = name.format(town=town)
        bus = town_buses[town][int(rng.integers(len(town_buses[town])))]
        lon, lat = b.pos[bus]
        ang, r_km = rng.uniform(0, 2 * math.pi), rng.uniform(0.5, 2.5)
        lon = lon + r_km * math.cos(ang) / (111.32 * math.cos(math.radians(lat)))
        lat = lat + r_km * math.sin(ang) / 110.57
        prefix = _FAC_PREFIX[kind]
        count[prefix] = count.get(prefix, 0) + 1
        rows.append({"id": f"{prefix}{count[prefix]:02d}", "bus": bus, "name": name,
                     "kind": kind, "demand_mw": demand, "backup_mw": backup,
                     "backup_hours": float(hours), "people": people, "town": town,
                     "geometry": Point(*_round_pt(lon, lat))})
    fac = _frame([{k: v for k, v in r.items() if k != "geometry"} for r in rows],
                 FACILITY_COLUMNS)
    return gpd.GeoDataFrame(fac, geometry=[r["geometry"] for r in rows], crs=CRS)


def _service_areas(fac: gpd.GeoDataFrame, towns: list[tuple]) -> gpd.GeoDataFrame:
    """The towns each facility serves (``serves``) and the share of their people who
    rely on it (``coverage``); see ``grids/README.md``. No random draws."""
    at = {t[0]: (t[1], t[2]) for t in towns}
    pop = {t[0]: t[3] for t in towns}
    names = [t[0] for t in towns]

    def near(town: str) -> list[str]:
        """Other towns by distance from ``town`` (ties by name)."""
        d = {n: geodesic_km(*at[town], *at[n]) for n in names if n != town}
        return sorted((n for n in d if d[n] <= FILL_RADIUS_KM), key=lambda n: (d[n], n))

    serves = {fid: [town] for fid, town in zip(fac["id"], fac["town"], strict=True)}
    coverage = dict.fromkeys(fac["id"], 1.0)
    for kind in ("water", "telecom"):
        rows = fac[fac["kind"] == kind]
        taken = set(rows["town"])
        for fid, town, people in zip(rows["id"], rows["town"], rows["people"], strict=True):
            room = people - pop[town]
            for other in near(town):
                if other in taken or pop[other] > room:
                    continue
                serves[fid].append(other)
                taken.add(other)
                room -= pop[other]
    for fid, town, people in fac.loc[fac["kind"] == "heating", ["id", "town", "people"]] \
            .itertuples(index=False):
        coverage[fid] = round(min(1.0, people / pop[town]), 6)
    hospitals = fac[fac["kind"] == "hospital"]
    with_hospital = set(hospitals["town"])
    for town in names:
        if town in with_hospital:
            continue
        nearest = min(with_hospital, key=lambda h: (geodesic_km(*at[town], *at[h]), h))
        for fid in hospitals.loc[hospitals["town"] == nearest, "id"]:
            serves[fid].append(town)
    for fid in fac.loc[(fac["kind"] == "emergency") & (fac["people"] >= sum(pop.values()) * 0.9),
                       "id"]:
        serves[fid] = ["*"]
    out = fac.copy()
    out["serves"] = ["; ".join(serves[f]) for f in out["id"]]
    out["coverage"] = [coverage[f] for f in out["id"]]
    return out
