"""Towns and service columns in files, their validation, the demo region's service areas,
and the command line: `gridres outage` (services after the outage) and `info --list
towns`."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, Polygon

from builders import service_grid as svc_grid
from gridres.cli import cli
from gridres.cli.common import run_cli
from gridres.io import load_grid
from gridres.io.geopackage import read_geopackage, write_geojson, write_geopackage
from gridres.model import Grid
from gridres.services import compile_services
from gridres.validate import check_grid


def run(capsys, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = run_cli(cli, [str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def with_towns(grid: Grid, **changes) -> Grid:
    towns = grid.towns.copy()
    for col, (tid, value) in changes.items():
        towns.loc[tid, col] = value
    return grid.replace(towns=towns)


# -- files -------------------------------------------------------------------------------
def test_towns_and_service_columns_round_trip_through_geopackage(tmp_path: Path) -> None:
    g = svc_grid([{"id": "W", "kind": "water", "town": "A", "serves": "A; B",
                   "depends_on": "telecom@3", "storage_h": 6.0, "coverage": 0.8},
                  {"id": "T", "kind": "telecom", "serves": "*", "storage_h": np.inf}])
    towns = gpd.GeoDataFrame(g.towns, geometry=[Point(13.0, 48.0),
                                                Polygon([(13, 48), (14, 48), (14, 49)])],
                             crs="EPSG:4326")
    g = g.replace(towns=towns, crs="EPSG:4326")
    back = read_geopackage(write_geopackage(g, tmp_path / "t.gpkg"))
    pd.testing.assert_frame_equal(pd.DataFrame(back.towns.drop(columns="geometry")),
                                  pd.DataFrame(g.towns.drop(columns="geometry")))
    assert list(back.towns.geometry.geom_type) == ["Point", "Polygon"]
    cols = ["town", "service", "serves", "depends_on", "storage_h", "coverage"]
    pd.testing.assert_frame_equal(back.facilities[cols], g.facilities[cols])
    assert back.buses["town"].tolist() == ["", "A", "B"]
    files = [p.name for p in write_geojson(g, tmp_path / "gj").files]
    assert "towns.geojson" in files


def test_towns_come_from_the_buses_when_a_file_has_no_towns_layer(tmp_path: Path) -> None:
    g = svc_grid([{"id": "W", "kind": "water", "town": "A"}])
    no_towns = g.replace(towns=g.towns.iloc[:0])
    path = write_geopackage(no_towns, tmp_path / "t.gpkg")
    import pyogrio

    assert "towns" not in {str(r[0]) for r in pyogrio.list_layers(path)}
    back = read_geopackage(path)
    assert back.towns["population"].to_dict() == {"A": 1000.0, "B": 3000.0}


# -- validation -------------------------------------------------------------------------------
BAD = {
    "unknown facility": ({"depends_on": "facility:W9@2"}, "depends_on", "W9"),
    "unknown service": ({"depends_on": "watr@2"}, "depends_on", "not a service"),
    "negative buffer": ({"depends_on": "telecom@-4"}, "depends_on", "negative"),
    "buffer not a number": ({"depends_on": "telecom@soon"}, "depends_on", "not a number"),
    "itself": ({"depends_on": "facility:W"}, "depends_on", "itself"),
    "negative storage": ({"storage_h": -2.0}, "storage_h", "negative"),
    "unknown town served": ({"serves": "A; Atlantis"}, "serves", "Atlantis"),
    "unknown town": ({"town": "Atlantis"}, "town", "Atlantis"),
    "unknown service provided": ({"service": "gas"}, "service", "gas"),
    "coverage over 1": ({"coverage": 1.5}, "coverage", "not a share"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_service_fields_are_one_error_each(case: str, tmp_path: Path, capsys) -> None:
    fields, field, words = BAD[case]
    g = svc_grid([{"id": "W", "kind": "water", "town": "A", **fields},
                  {"id": "T", "kind": "telecom", "town": "A"}])
    problems = [p for p in check_grid(g, strict=False) if p.severity == "error"]
    assert [(p.layer, p.id, p.field) for p in problems] == [("facilities", "W", field)]
    assert words in problems[0].message
    path = write_geopackage(g, tmp_path / "bad.gpkg")
    code, out, _ = run(capsys, "validate", path, "--json")
    doc = json.loads(out)
    assert code == 65 and doc["errors"] == 1
    assert (doc["problems"][0]["layer"], doc["problems"][0]["field"]) == ("facilities", field)
    assert doc["problems"][0]["fix"]
    code, out, err = run(capsys, "outage", path, "--fail", "bus:s")
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 65 and out == "" and len(lines) == 1
    assert lines[0].startswith(f"error: {path}: facility 'W': ") and "Traceback" not in err


@pytest.mark.parametrize(("value", "words"), [(np.nan, "missing (NaN)"),
                                              (np.inf, "not a finite number"),
                                              (-np.inf, "not a finite number"),
                                              (-5.0, "negative")])
def test_populations_that_are_not_finite_or_negative(value, words, tmp_path, capsys) -> None:
    g = with_towns(svc_grid([{"id": "W", "kind": "water", "town": "A"}]),
                   population=("B", value))
    problems = [p for p in check_grid(g, strict=False) if p.severity == "error"]
    assert [(p.layer, p.id, p.field) for p in problems] == [("towns", "B", "population")]
    assert words in problems[0].message
    assert "inhabitants" in problems[0].fix or "finite" in problems[0].fix
    path = write_geopackage(g, tmp_path / "bad.gpkg")
    code, _, err = run(capsys, "outage", path)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 65 and len(lines) == 1
    assert f"{path}: town 'B': population" in lines[0]


def test_bus_town_and_population_are_checked() -> None:
    g = svc_grid([{"id": "W", "kind": "water", "town": "A"}])
    buses = g.buses.copy()
    buses.loc["bus-A", "town"] = "Atlantis"
    buses.loc["bus-B", "population"] = np.nan
    problems = check_grid(g.replace(buses=buses), strict=False)
    assert [(p.layer, p.id, p.field) for p in problems if p.severity == "error"] == [
        ("buses", "bus-A", "town"), ("buses", "bus-B", "population")]


def test_written_dependency_nobody_provides_is_a_warning() -> None:
    g = svc_grid([{"id": "H", "kind": "hospital", "town": "B", "depends_on": "water@4"},
                  {"id": "W", "kind": "water", "town": "A"}])
    (p,) = check_grid(g, strict=False)
    assert (p.severity, p.layer, p.id, p.field) == ("warning", "facilities", "H", "depends_on")
    assert "no facility provides water to town 'B'" in p.message
    # the kind's defaults do not warn: they are not modelled where nobody provides them
    quiet = svc_grid([{"id": "H", "kind": "hospital", "town": "B"}])
    assert check_grid(quiet, strict=False) == []


# -- the demo region -------------------------------------------------------------------------
def test_demo_region_towns_and_service_areas() -> None:
    g = load_grid("demo_region")
    towns, facs, buses = g.towns, g.facilities, g.buses
    assert len(towns) == 53 and towns.index.is_unique
    assert towns["population"].sum() == 1_241_800
    assert (towns.geometry.geom_type == "Point").all()
    # a town's population is the sum of its buses' (industry buses carry none)
    by_bus = buses.groupby("town")["population"].sum().drop("", errors="ignore")
    pd.testing.assert_series_equal(by_bus.reindex(towns.index), towns["population"],
                                   check_names=False)
    assert set(facs["town"]) <= set(towns.index)
    assert check_grid(g, strict=False) == []
    model = compile_services(g)
    rel = pd.DataFrame(model.relying.T, index=model.area_ids,
                       columns=["water", "heat", "telecom", "health", "shelter", "emergency"])
    # waterworks serve their towns; district heating reaches the share its people say
    assert rel.loc["Vellburg", "water"] == 310_000 and rel.loc["Ostrach", "water"] == 145_000
    assert rel.loc["Vellburg", "heat"] == pytest.approx(95_000, abs=1)
    assert rel.loc["Kaltenfeld", "heat"] == pytest.approx(18_000, abs=1)
    # every town has hospital care and emergency services; telecom cells cover several
    assert (rel["health"].drop("") == towns["population"]).all()
    assert (rel["emergency"].drop("") == towns["population"]).all()
    assert (rel["telecom"] > 0).sum() >= 20 and (rel["water"] > 0).sum() >= 6
    # telecom and water areas fit in the people the facility serves
    people = model.served.sum(axis=0).A1
    is_fill = facs["kind"].isin(["water", "telecom"]).to_numpy()
    assert (people[is_fill] <= facs["people"].to_numpy()[is_fill] + 1e-6).all()


# -- the command line ----------------------------------------------------------------------------
def test_outage_reports_services_per_town(capsys) -> None:
    """Kaltenfeld's first substation carries its waterworks (no backup), heating plant (no
    backup) and hospital (backup for 24 h). With no repairs: 41,000 of its 82,000 people
    without power at once, the whole town without water after the 12 h reservoir, the
    18,000 on district heating without heat after 17.3 h at 0 °C (10.9 h at -10 °C),
    and the hospital's town and the towns it serves without care at 24 h."""
    code, out, _ = run(capsys, "outage", "demo_region", "--fail", "bus:KALT1-110", "--json")
    assert code == 0
    doc = json.loads(out)
    for key in ("total_load_mw", "served_mw", "shed_mw", "customers_out", "people_out",
                "islands", "dark_buses", "dark_facilities", "facilities_on_backup",
                "failed_branches", "max_loading", "overloaded_branches", "cascade_stages"):
        assert key in doc
    svc = doc["services"]
    rows = {(r["town"], r["service"]): r for r in svc["towns"]}
    assert rows[("Kaltenfeld", "power")]["people"] == 41_000
    assert rows[("Kaltenfeld", "power")]["relying"] == 82_000
    water = rows[("Kaltenfeld", "water")]
    assert (water["lost_h"], water["people"], water["steps"][0]) == (12.0, 82_000, [0.0, 0])
    heat = rows[("Kaltenfeld", "heat")]
    assert heat["lost_h"] == pytest.approx(17.26, abs=0.01) and heat["people"] == 18_000
    assert rows[("Kaltenfeld", "health")]["lost_h"] == 24.0
    assert svc["people_without"]["water"] == 82_000
    assert svc["people_without"]["power"] == 41_000
    w03 = next(f for f in svc["facilities"] if f["id"] == "W03")
    assert (w03["cause"], w03["stopped_h"], w03["service_lost_h"]) == ("power", 0.0, 12.0)
    assert svc["timeline"][0]["time_h"] == 0.0 and svc["timeline"][-1]["water"] == 82_000
    code, out, _ = run(capsys, "outage", "demo_region", "--fail", "bus:KALT1-110", "--json",
                       "--outside-temp-c", "-10")
    cold = {(r["town"], r["service"]): r for r in json.loads(out)["services"]["towns"]}
    assert cold[("Kaltenfeld", "heat")]["lost_h"] == pytest.approx(10.94, abs=0.01)
    code, out, err = run(capsys, "outage", "demo_region", "--fail", "bus:KALT1-110")
    text = " ".join(out.split())  # the tables are the answer: on stdout
    assert code == 0 and "when towns lose services" in text and "water 82,000" in text
    code, _, err = run(capsys, "outage", "demo_region", "--outside-temp-c", "nan")
    assert code == 2 and "--outside-temp-c" in err


def test_outage_services_on_a_grid_without_towns(capsys) -> None:
    code, out, _ = run(capsys, "outage", "ieee14", "--fail", "bus:4", "--json")
    assert code == 0
    svc = json.loads(out)["services"]
    assert set(svc["people_without"]) >= {"power", "water", "health"}
    assert all(r["town"] == "" for r in svc["towns"])


def test_info_lists_towns(capsys) -> None:
    code, out, _ = run(capsys, "info", "demo_region", "--list", "towns", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["count"] == 53
    first = doc["towns"][0]
    assert first == {"id": "Vellburg", "population": 310000.0,
                     "buses": "VELL1-110; VELL2-110; VELL3-110; VELL4-110; VELL5-110; "
                              "VELL6-110; VELB-110", "name": "Vellburg"}
    code, out, err = run(capsys, "info", "ieee14", "--list", "towns")
    assert code == 0 and "no towns" in out
