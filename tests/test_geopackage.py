"""GeoPackage and GeoJSON I/O: exact round trips, what the file holds (for QGIS), the
errors that malformed files raise, atomic writes, and `gridres export`."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from geopandas.testing import assert_geodataframe_equal
from shapely.geometry import LineString, Point, Polygon

from gridres.cli import cli
from gridres.cli.common import run_cli
from gridres.errors import GridError, InputNotFound
from gridres.io import load_grid
from gridres.io.geopackage import (
    FORMAT_VERSION,
    crs_label,
    read_geopackage,
    write_geojson,
    write_geopackage,
)
from gridres.model import Grid

TABLES = ("buses", "branches", "generators", "facilities")
UTM33 = "EPSG:32633"


def assert_same_grid(a: Grid, b: Grid) -> None:
    """Every table equal, column for column and dtype for dtype; same attributes. (The
    geometry column comes back last, wherever it was.)"""
    for t in TABLES:
        x, y = getattr(a, t), getattr(b, t)
        if "geometry" in x.columns:
            assert isinstance(y, gpd.GeoDataFrame), t
            x = x[[c for c in x.columns if c != "geometry"] + ["geometry"]]
            assert_geodataframe_equal(gpd.GeoDataFrame(x, crs=a.crs), y, check_crs=True)
        else:
            assert "geometry" not in y.columns, t
            pd.testing.assert_frame_equal(x, y, check_exact=True)
    assert (a.name, a.base_mva, a.crs) == (b.name, b.base_mva, b.crs)


def utm_grid(**changes) -> Grid:
    """Three buses in UTM zone 33N (metres), extra columns of every storable dtype."""
    pts = [Point(500_000, 5_300_000), Point(520_000, 5_300_000), Point(520_000, 5_315_000)]
    buses = gpd.GeoDataFrame(
        {"id": ["a", "b", "c"], "load_mw": [0.0, 30.0, 20.5], "ref": [True, False, False],
         "customers": [0, 1200, 800], "zone": np.array([1, 2, 2], dtype=np.int64),
         "note": ["", "school", "x\u00e9"], "score": [0.5, np.nan, np.inf],
         "flag": [True, False, True]},
        geometry=pts, crs=UTM33)
    branches = gpd.GeoDataFrame(
        {"id": ["ab", "bc", "ca"], "from_bus": ["a", "b", "c"], "to_bus": ["b", "c", "a"],
         "x_pu": [0.1, 0.2, 0.25], "rating_mw": [100.0, np.inf, 55.5],
         "in_service": [True, True, False], "length_km": [20.0, 15.0, np.nan]},
        geometry=[LineString([pts[0], pts[1]]), LineString([pts[1], pts[2]]),
                  LineString([pts[2], pts[0]])], crs=UTM33)
    gens = gpd.GeoDataFrame({"id": ["g1"], "bus": ["a"], "p_mw": [50.5], "pmax_mw": [80.0],
                             "blackstart": [True]}, geometry=[pts[0]], crs=UTM33)
    facs = gpd.GeoDataFrame({"id": ["h1"], "bus": ["c"], "kind": ["hospital"],
                             "demand_mw": [2.0], "backup_mw": [1.5], "backup_hours": [8.0],
                             "people": [300]}, geometry=[Point(520_500, 5_315_200)], crs=UTM33)
    attrs = {"name": "utm", "base_mva": 100.0, "crs": UTM33, **changes}
    return Grid(buses=buses, branches=branches, generators=gens, facilities=facs, **attrs)


# -- round trips ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["ieee14", "ieee118", "demo_region"])
def test_bundled_grid_round_trip_is_exact(name: str, tmp_path: Path) -> None:
    grid = load_grid(name)
    out = write_geopackage(grid, tmp_path / f"{name}.gpkg")
    back = read_geopackage(out, name=name)
    assert_same_grid(grid, back)
    assert back.source == str(out)


def test_matpower_case_round_trip_without_geometry(matpower_grid, tmp_path: Path) -> None:
    grid = matpower_grid("case118")
    back = read_geopackage(write_geopackage(grid, tmp_path / "c.gpkg"))
    assert_same_grid(grid, back)
    assert back.crs is None and not back.has_geometry
    # MATPOWER's own columns ride along, and every unlimited rating comes back as inf
    assert back.buses["zone"].dtype == np.int64
    assert np.isinf(back.branches["rating_mw"]).all()
    info = pyogrio.read_info(tmp_path / "c.gpkg", layer="buses")
    assert info["geometry_type"] is None  # an attribute table


def test_extra_columns_crs_and_inf_round_trip(tmp_path: Path) -> None:
    grid = utm_grid()
    back = read_geopackage(write_geopackage(grid, tmp_path / "u.gpkg"))
    assert_same_grid(grid, back)
    assert back.crs == UTM33
    assert back.buses["score"].tolist()[::2] == [0.5, np.inf]
    assert np.isnan(back.buses["score"].iloc[1])
    assert back.branches["rating_mw"].tolist() == [100.0, np.inf, 55.5]
    assert back.buses["flag"].dtype == bool and back.buses["note"].iloc[2] == "x\u00e9"


def test_missing_geometries_round_trip(tmp_path: Path) -> None:
    grid = utm_grid()
    buses = grid.buses.copy()
    buses.loc["c", "geometry"] = None
    grid = grid.replace(buses=buses)
    back = read_geopackage(write_geopackage(grid, tmp_path / "g.gpkg"))
    assert_same_grid(grid, back)
    assert back.buses.geometry.isna().tolist() == [False, False, True]
    assert pyogrio.read_info(tmp_path / "g.gpkg", layer="buses")["geometry_type"] == "Point"


def test_name_override_and_stored_name(tmp_path: Path) -> None:
    out = write_geopackage(utm_grid(name="Alpha", base_mva=250.0), tmp_path / "g.gpkg")
    assert read_geopackage(out).name == "Alpha"
    assert read_geopackage(out).base_mva == 250.0
    assert read_geopackage(out, name="beta").name == "beta"


# -- what the file holds -----------------------------------------------------------------------
def test_file_layout_is_what_qgis_expects(tmp_path: Path) -> None:
    out = write_geopackage(utm_grid(), tmp_path / "u.gpkg")
    layers = dict(pyogrio.list_layers(out))
    assert layers == {"buses": "Point", "branches": "LineString", "generators": "Point",
                      "facilities": "Point", "grid": None}
    info = pyogrio.read_info(out, layer="branches")
    assert info["crs"] == UTM33
    fields = dict(zip(info["fields"], zip(info["ogr_types"], info["ogr_subtypes"],
                                          strict=True), strict=True))
    assert fields["id"] == ("OFTString", "OFSTNone")
    assert fields["in_service"] == ("OFTInteger", "OFSTBoolean")
    assert fields["rating_mw"] == ("OFTReal", "OFSTNone")
    with sqlite3.connect(out) as db:
        ratings = db.execute("select id, rating_mw from branches order by fid").fetchall()
        (row,) = db.execute("select name, base_mva, crs, format, format_version from grid")
        contents = dict(db.execute("select table_name, data_type from gpkg_contents"))
    assert ratings == [("ab", 100.0), ("bc", None), ("ca", 55.5)]  # unlimited is NULL
    assert row == ("utm", 100.0, UTM33, "gridres-grid", FORMAT_VERSION)
    assert contents["grid"] == "attributes" and contents["buses"] == "features"


def test_overwrites_an_existing_file(tmp_path: Path) -> None:
    out = tmp_path / "g.gpkg"
    write_geopackage(utm_grid(name="first"), out)
    write_geopackage(utm_grid(name="second"), out)
    assert read_geopackage(out).name == "second"
    assert len(read_geopackage(out).buses) == 3


def test_failed_write_leaves_no_partial_file(tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "g.gpkg"
    write_geopackage(utm_grid(name="before"), out)
    before = out.read_bytes()
    real = pyogrio.write_dataframe
    calls = []

    def failing(df, path, **kw):
        calls.append(kw["layer"])
        if kw["layer"] == "generators":
            raise OSError("disk full")
        return real(df, path, **kw)

    monkeypatch.setattr(pyogrio, "write_dataframe", failing)
    with pytest.raises(OSError, match="disk full"):
        write_geopackage(utm_grid(name="after"), out)
    with pytest.raises(OSError, match="disk full"):
        write_geopackage(utm_grid(), tmp_path / "new.gpkg")
    assert calls == ["buses", "branches", "generators"] * 2
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.gpkg"]


def test_unstorable_column_is_refused_before_writing(tmp_path: Path) -> None:
    grid = utm_grid()
    buses = grid.buses.assign(tags=[["x"], None, ["y"]])
    with pytest.raises(GridError, match=r"buses 'a': column 'tags' holds list values"):
        write_geopackage(grid.replace(buses=buses), tmp_path / "g.gpkg")
    polys = grid.buses.copy()
    polys.loc["b", "geometry"] = Polygon([(0, 0), (1, 0), (1, 1)])
    with pytest.raises(GridError, match=r"buses 'b': geometry is a Polygon; buses need Point"):
        write_geopackage(grid.replace(buses=polys), tmp_path / "g.gpkg")
    assert not any(tmp_path.iterdir())


# -- malformed files ------------------------------------------------------------------------------
def _write_layers(path: Path, **layers: pd.DataFrame) -> Path:
    for name, df in layers.items():
        pyogrio.write_dataframe(df, path, layer=name, driver="GPKG")
    return path


def _tables(grid: Grid) -> dict[str, pd.DataFrame]:
    return {t: pd.DataFrame(getattr(grid, t).drop(columns="geometry", errors="ignore"))
            .reset_index() for t in TABLES}


def test_missing_file_raises_input_not_found(tmp_path: Path) -> None:
    with pytest.raises(InputNotFound, match=r"nope\.gpkg: no such file"):
        read_geopackage(tmp_path / "nope.gpkg")


def test_not_a_geopackage(tmp_path: Path) -> None:
    text = tmp_path / "text.gpkg"
    text.write_text("this is not a database\n")
    with pytest.raises(GridError, match=r"text\.gpkg: not a GeoPackage .*export the grid as"):
        read_geopackage(text)
    geojson = tmp_path / "other.gpkg"
    gpd.GeoDataFrame({"id": ["a"]}, geometry=[Point(0, 0)], crs="EPSG:4326").to_file(
        geojson, driver="GeoJSON")
    with pytest.raises(GridError, match=r"other\.gpkg: is a GeoJSON file, not a GeoPackage"):
        read_geopackage(geojson)


def test_missing_layer(tmp_path: Path) -> None:
    t = _tables(utm_grid())
    path = _write_layers(tmp_path / "g.gpkg", buses=t["buses"], generators=t["generators"])
    with pytest.raises(GridError, match=r"g\.gpkg: layer branches is missing \(layers: buses, "
                                        r"generators\); add it"):
        read_geopackage(path)


def test_missing_optional_layers_take_defaults(tmp_path: Path) -> None:
    t = _tables(utm_grid())
    path = _write_layers(tmp_path / "plain.gpkg", buses=t["buses"], branches=t["branches"],
                         generators=t["generators"])
    g = read_geopackage(path)
    assert (g.name, g.base_mva, g.crs, len(g.facilities)) == ("plain", 100.0, None, 0)
    assert g.network.n_branch == 3


@pytest.mark.parametrize(
    ("layer", "change", "message"),
    [
        ("branches", lambda d: d.drop(columns="from_bus"),
         r"layer branches: required column 'from_bus' is missing; add it"),
        ("generators", lambda d: d.drop(columns="bus"),
         r"layer generators: required column 'bus' is missing"),
        ("buses", lambda d: d.drop(columns="id"),
         r"layer buses: no 'id' column; add a text column id"),
        ("branches", lambda d: d.assign(x_pu=["0.1", "abc", "0.3"]),
         r"layer branches record 'bc': field 'x_pu' is 'abc', not a number; store a number"),
        ("buses", lambda d: d.assign(customers=[0, 1.5, 3]),
         r"layer buses record 'b': field 'customers' is 1.5, not a whole number"),
        ("branches", lambda d: d.assign(in_service=["yes", "maybe", "no"]),
         r"layer branches record 'bc': field 'in_service' is 'maybe', not a flag; store "
         r"true/false"),
        ("buses", lambda d: d.assign(id=["a", "b", "a"]),
         r"layer buses record 'a': id appears twice; ids must be unique"),
        ("facilities", lambda d: d.assign(bus=[""]),
         r"layer facilities record 'h1': field 'bus' is empty"),
    ],
)
def test_malformed_layer(tmp_path: Path, layer: str, change, message: str) -> None:
    t = _tables(utm_grid())
    t[layer] = change(t[layer])
    path = _write_layers(tmp_path / "bad.gpkg", **t)
    with pytest.raises(GridError, match=r"bad\.gpkg: " + message):
        read_geopackage(path)


def test_lenient_types_are_converted(tmp_path: Path) -> None:
    """Integer ids, numbers and flags as text, as a spreadsheet import makes them."""
    t = _tables(utm_grid())
    t["buses"]["id"] = [1, 2, 3]
    t["branches"] = t["branches"].assign(from_bus=[1, 2, 3], to_bus=[2, 3, 1],
                                         x_pu=["0.1", "0.2", "0.25"],
                                         in_service=["true", "1", "no"])
    t["generators"]["bus"] = [1.0]
    t["facilities"]["bus"] = [3]
    g = read_geopackage(_write_layers(tmp_path / "lenient.gpkg", **t))
    assert g.buses.index.tolist() == ["1", "2", "3"]
    assert g.branches["from_bus"].tolist() == ["1", "2", "3"]
    assert g.branches["x_pu"].tolist() == [0.1, 0.2, 0.25]
    assert g.branches["in_service"].tolist() == [True, True, False]
    assert g.generators["bus"].tolist() == ["1"]
    assert g.network.n_branch == 3


def test_wrong_geometry_type_in_file(tmp_path: Path) -> None:
    t = _tables(utm_grid())
    t["buses"] = gpd.GeoDataFrame(t["buses"], crs=UTM33, geometry=[
        Point(0, 0), LineString([(0, 0), (1, 1)]), Point(1, 1)])
    path = tmp_path / "geom.gpkg"
    for name, df in t.items():
        pyogrio.write_dataframe(df, path, layer=name, driver="GPKG",
                                **({"geometry_type": "Unknown"} if name == "buses" else {}))
    with pytest.raises(GridError, match=r"layer buses record 'b': geometry is a LineString; "
                                        r"buses need Point geometries"):
        read_geopackage(path)


def test_layers_in_different_crs(tmp_path: Path) -> None:
    grid = utm_grid()
    path = write_geopackage(grid, tmp_path / "g.gpkg")
    facs = gpd.GeoDataFrame(_tables(grid)["facilities"],
                            geometry=grid.facilities.geometry.to_crs("EPSG:4326").tolist(),
                            crs="EPSG:4326")
    pyogrio.write_dataframe(facs, path, layer="facilities", driver="GPKG")
    with pytest.raises(GridError, match=r"layer facilities: CRS EPSG:4326 differs from layer "
                                        r"buses's EPSG:32633; reproject"):
        read_geopackage(path)


def test_grid_table_errors(tmp_path: Path) -> None:
    t = _tables(utm_grid())
    meta = pd.DataFrame({"name": ["x"], "base_mva": [100.0], "format": ["gridres-grid"],
                         "format_version": [FORMAT_VERSION + 1]})
    path = _write_layers(tmp_path / "new.gpkg", **t, grid=meta)
    with pytest.raises(GridError, match=r"layer grid: format version 2 is newer than this "
                                        r"gridres reads \(1\); upgrade gridres"):
        read_geopackage(path)
    meta = meta.assign(format_version=[1], base_mva=[-5.0])
    path = _write_layers(tmp_path / "neg.gpkg", **t, grid=meta)
    with pytest.raises(GridError, match=r"layer grid field 'base_mva' is -5.0; store the "
                                        r"system MVA base as a positive number"):
        read_geopackage(path)


def test_load_grid_dispatches_gpkg_paths(tmp_path: Path) -> None:
    out = write_geopackage(utm_grid(), tmp_path / "u.gpkg")
    assert_same_grid(utm_grid(), load_grid(str(out)))


# -- GeoJSON --------------------------------------------------------------------------------------------
def _features(path: Path) -> list[dict]:
    return json.loads(path.read_text())["features"]


def test_geojson_reprojects_to_lonlat(tmp_path: Path) -> None:
    from pyproj import Transformer

    grid = utm_grid()
    done = write_geojson(grid, tmp_path / "out")
    assert done.reprojected and done.note == ""
    assert [p.name for p in done.files] == ["buses.geojson", "branches.geojson",
                                            "generators.geojson", "facilities.geojson",
                                            "grid.geojson"]
    lon, lat = Transformer.from_crs(UTM33, "EPSG:4326", always_xy=True).transform(
        520_000, 5_315_000)
    buses = _features(done.folder / "buses.geojson")
    x, y = buses[2]["geometry"]["coordinates"]
    assert (x, y) == pytest.approx((lon, lat), abs=1e-6)
    assert 14.0 < x < 15.5 and 47.0 < y < 48.5
    # JSON has no infinity: unlimited ratings (and other inf values) become null
    ratings = [f["properties"]["rating_mw"] for f in _features(done.folder / "branches.geojson")]
    assert ratings == [100.0, None, 55.5]
    assert buses[0]["properties"]["ref"] is True and buses[2]["properties"]["score"] is None
    meta = _features(done.folder / "grid.geojson")[0]["properties"]
    assert meta["name"] == "utm" and meta["crs"] == UTM33


def test_geojson_of_grids_that_cannot_be_reprojected(tmp_path: Path, matpower_grid) -> None:
    raw = utm_grid().replace(crs=None)
    done = write_geojson(raw, tmp_path / "raw")
    assert not done.reprojected and "no CRS" in done.note
    assert _features(done.folder / "buses.geojson")[1]["geometry"]["coordinates"] == [
        520000.0, 5300000.0]
    schematic = write_geojson(load_grid("ieee14"), tmp_path / "ieee14")
    assert not schematic.reprojected
    assert "'gridres schematic (km)' cannot be transformed" in schematic.note
    flat = write_geojson(matpower_grid("case14"), tmp_path / "case14")
    assert "no geometry" in flat.note
    assert all(f["geometry"] is None for f in _features(flat.folder / "buses.geojson"))


def test_crs_label() -> None:
    assert crs_label("EPSG:32633") == "EPSG:32633"
    assert crs_label(load_grid("ieee14").crs) == "gridres schematic (km)"


# -- gridres export ----------------------------------------------------------------------------------
def invoke(capsys, *args: str) -> tuple[int, str, str]:
    code = run_cli(cli, list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_export_gpkg(tmp_path: Path, capsys) -> None:
    out = tmp_path / "d.gpkg"
    code, stdout, stderr = invoke(capsys, "export", "demo_region", str(out))
    assert code == 0 and stdout == ""
    assert f"wrote {out}" in stderr and "CRS EPSG:4326" in stderr
    assert_same_grid(load_grid("demo_region"), read_geopackage(out))


def test_export_geojson_folder(tmp_path: Path, capsys) -> None:
    code, _, stderr = invoke(capsys, "export", "ieee14", str(tmp_path / "net.geojson"))
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "net").iterdir()) == [
        ".gridres.json",  # the record of the files gridres wrote (gridres.io.folder)
        "branches.geojson", "buses.geojson", "facilities.geojson", "generators.geojson",
        "grid.geojson"]
    assert "cannot be transformed to longitude/latitude" in stderr
    code, _, _ = invoke(capsys, "export", "ieee14", str(tmp_path / "plain"), "--format",
                        "geojson")
    assert code == 0 and (tmp_path / "plain" / "buses.geojson").is_file()
    code, _, _ = invoke(capsys, "export", "ieee14", str(tmp_path / "named"), "--format", "gpkg")
    assert code == 0 and (tmp_path / "named.gpkg").is_file()


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["ieee14", "{tmp}/x"], 2, "cannot tell the format from the name"),
        (["ieee14", "{tmp}/x.gpkg", "--format", "geojson"], 2, "drop the .gpkg suffix"),
        (["ieee14", "{tmp}/x.geojson", "--format", "gpkg"], 2, "needs OUT ending in .gpkg"),
        (["no_such_grid", "{tmp}/x.gpkg"], 66, "no such file or bundled grid"),
        (["{tmp}/bad.gpkg", "{tmp}/x.gpkg"], 65, "not a GeoPackage"),
    ],
)
def test_export_errors(tmp_path: Path, capsys, args, code: int, message: str) -> None:
    (tmp_path / "bad.gpkg").write_text("junk")
    got, stdout, stderr = invoke(capsys, "export", *[a.format(tmp=tmp_path) for a in args])
    assert got == code and stdout == ""
    assert message in stderr
    assert not (tmp_path / "x.gpkg").exists() and not (tmp_path / "x").exists()


def test_lookalike_column_is_warned(tmp_path: Path, caplog) -> None:
    """A layer with ``load`` instead of ``load_mw`` would silently load 0 MW: say so."""
    import logging

    t = _tables(utm_grid())
    t["buses"] = t["buses"].rename(columns={"load_mw": "load"})
    path = _write_layers(tmp_path / "lookalike.gpkg", **t)
    with caplog.at_level(logging.WARNING, logger="gridres.io.geopackage"):
        grid = read_geopackage(path)
    assert (grid.buses["load_mw"] == 0.0).all()  # the default stood in, as the warning says
    assert [r.getMessage() for r in caplog.records] == [
        f"{path}: layer buses has no column 'load_mw' but has 'load'; rename it to "
        "'load_mw', or the default 0.0 is used"]
    caplog.clear()
    t["buses"] = t["buses"].rename(columns={"load": "load_mw"})
    with caplog.at_level(logging.WARNING, logger="gridres.io.geopackage"):
        read_geopackage(_write_layers(tmp_path / "plain.gpkg", **t))
    assert caplog.records == []
