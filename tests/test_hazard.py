"""Hazard footprints and fragility: distances and intensities worked out by hand on a
lon/lat grid, projected and foot-based CRSs, polygon layers from a GeoPackage written
here, lognormal curves against scipy.stats, and sampling frequencies against the
probabilities."""

from __future__ import annotations

import logging
import math

import geopandas as gpd
import numpy as np
import pytest
import shapely
from scipy import stats

from gridres.errors import GridError, InputNotFound, UsageError
from gridres.scenarios.fragility import Fragility, fragility_set, sample_failures
from gridres.scenarios.hazard import (
    CircleFootprint,
    HazardScenarios,
    PolygonFootprint,
    asset_geometry,
    haversine_km,
)
from gridres.scenarios.spec import scenario_from_spec
from scenario_grids import POINTS, lonlat_grid, write_flood

GRID = lonlat_grid()
NET = GRID.network
R = 6371.0088


def great_circle(p, q):
    """Spherical law of cosines, a second formula for the same distance (km)."""
    (lon1, lat1), (lon2, lat2) = (map(math.radians, p)), (map(math.radians, q))
    c = (math.sin(lat1) * math.sin(lat2)
         + math.cos(lat1) * math.cos(lat2) * math.cos(lon2 - lon1))
    return R * math.acos(min(1.0, c))


def bus(name):
    return NET.bus_ids.get_loc(name)


def branch(name):
    return NET.branch_ids.get_loc(name)


# -- distances and circle intensities --------------------------------------------------


def test_haversine_known_values():
    assert haversine_km(0, 0, 1, 0) == pytest.approx(2 * math.pi * R / 360)
    assert haversine_km(10, 50, 10, 50.1) == pytest.approx(0.1 * math.pi / 180 * R)
    for name in ("C", "D", "E"):
        assert haversine_km(10, 50, *POINTS[name]) == pytest.approx(
            great_circle((10, 50), POINTS[name]), rel=1e-9)
    assert haversine_km(3, 4, 3, 4) == 0.0


def test_circle_linear_intensity_at_buses():
    fp = CircleFootprint(lon=10.0, lat=50.0, radius_km=40.0, peak=60.0)
    x = fp.intensity(asset_geometry(GRID))
    expect = {b: max(0.0, 60.0 * (1 - great_circle((10, 50), xy) / 40.0))
              for b, xy in POINTS.items()}
    np.testing.assert_allclose(x.bus, [expect[b] for b in NET.bus_ids], atol=1e-9)
    assert x.bus[bus("A1")] == 60.0 and x.bus[bus("D")] == 0.0
    # generators read their bus; G2 at D is out of reach
    np.testing.assert_allclose(x.gen, [60.0, 0.0, 0.0])


def test_circle_gaussian_intensity():
    fp = CircleFootprint(lon=10.0, lat=50.0, radius_km=20.0, peak=3.0, falloff="gaussian")
    x = fp.intensity(asset_geometry(GRID))
    d = great_circle((10, 50), POINTS["D"])
    assert x.bus[bus("D")] == pytest.approx(3.0 * math.exp(-0.5 * (d / 20.0) ** 2), rel=1e-9)


def test_branch_takes_the_worst_place_along_its_route():
    # B-E runs straight (in lon/lat) from (10, 50.1) to (12, 50.5) through (11, 50.3)
    fp = CircleFootprint(lon=11.0, lat=50.3, radius_km=30.0, peak=50.0)
    x = fp.intensity(asset_geometry(GRID))
    assert x.bus[bus("B")] == 0.0 and x.bus[bus("E")] == 0.0
    assert x.branch[branch("B-E")] == pytest.approx(50.0, rel=1e-4)
    # D-E passes at about 26 km: its nearest point, searched on a 10 m grid along it
    dense = shapely.segmentize(shapely.LineString([POINTS["D"], POINTS["E"]]), 1e-4)
    d_min = min(great_circle((11.0, 50.3), xy) for xy in shapely.get_coordinates(dense))
    assert 25 < d_min < 28
    assert x.branch[branch("D-E")] == pytest.approx(50.0 * (1 - d_min / 30.0), abs=0.02)


def test_projected_crs_gives_the_same_intensities():
    utm = "EPSG:32632"  # UTM zone 32N, metres
    frame = gpd.GeoDataFrame(GRID.buses, geometry="geometry", crs="EPSG:4326").to_crs(utm)
    grid_utm = GRID.replace(buses=frame, crs=utm)
    fp = CircleFootprint(lon=10.0, lat=50.0, radius_km=40.0, peak=60.0)
    a = fp.intensity(asset_geometry(GRID))
    b = fp.intensity(asset_geometry(grid_utm))
    # UTM scale error and the ellipsoid against the sphere: well under 1 % of distance
    np.testing.assert_allclose(b.bus, a.bus, atol=0.3)
    np.testing.assert_allclose(b.branch, a.branch, atol=0.3)


def test_crs_units_are_converted_to_km():
    # NY Long Island state plane, US survey feet: 10,000 ftUS = 3.048006096 km
    grid = lonlat_grid(crs="EPSG:2263")
    pts = [shapely.Point(1_000_000 + 10_000 * i, 200_000) for i in range(len(POINTS))]
    grid = grid.replace(buses=grid.buses.assign(geometry=pts))
    fp = CircleFootprint(x=1_000_000.0, y=200_000.0, radius_km=10.0, peak=10.0)
    x = fp.intensity(asset_geometry(grid))
    km = 10_000 * 1200 / 3937 / 1000
    np.testing.assert_allclose(x.bus, [max(0.0, 10 * (1 - i * km / 10)) for i in range(6)],
                               rtol=1e-9)


def test_schematic_crs_needs_x_y():
    from gridres.io import load_grid

    grid = load_grid("ieee14")  # schematic layout in km, not tied to the Earth
    with pytest.raises(UsageError, match="give the circle's centre as x=..,y=.."):
        scenario_from_spec("circle:lon=10,lat=50,radius_km=20", grid)
    gen = scenario_from_spec("circle:x=50,y=50,radius_km=20,peak=60", grid)
    xy = shapely.get_coordinates(grid.buses["geometry"].to_numpy())
    d = np.hypot(xy[:, 0] - 50, xy[:, 1] - 50)
    np.testing.assert_allclose(gen.intensity.bus, 60 * np.clip(1 - d / 20, 0, None), atol=1e-9)


def test_grid_without_geometry_is_refused():
    from builders import make_grid

    grid = make_grid([{"id": "a", "ref": True}, {"id": "b"}],
                     [{"id": "l", "from_bus": "a", "to_bus": "b", "x_pu": 0.1}])
    with pytest.raises(UsageError, match="the grid has no bus coordinates, which a circle "
                                         "footprint needs"):
        scenario_from_spec("circle:lon=10,lat=50,radius_km=20", grid)


def test_missing_crs_is_taken_as_lonlat_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="gridres.scenarios.hazard"):
        where = asset_geometry(lonlat_grid(crs=None))
    assert "taking coordinates as lon/lat" in caplog.text
    assert where.geographic
    far = lonlat_grid(crs=None)
    far = far.replace(buses=far.buses.assign(
        geometry=[shapely.Point(500_000 + i, 10) for i in range(6)]))
    with pytest.raises(UsageError, match="have no CRS and are not lon/lat"):
        asset_geometry(far)


@pytest.mark.parametrize(("kw", "message"), [
    ({"radius_km": 0.0, "peak": 1.0, "lon": 0.0, "lat": 0.0},
     "The 'radius_km' parameter of circle must be a float > 0. Got 0.0 instead."),
    ({"radius_km": 5.0, "peak": 1.0, "lon": 0.0, "lat": 95.0},
     "The 'lat' parameter of circle must be a float in [-90, 90]. Got 95.0 instead."),
    ({"radius_km": 5.0, "peak": 1.0, "lon": 0.0, "lat": 0.0, "falloff": "cubic"},
     "The 'falloff' parameter of circle must be one of linear, gaussian. Got 'cubic' instead."),
    ({"radius_km": 5.0, "peak": 1.0, "lon": 0.0},
     "a circle hazard needs its centre as lon=..,lat=.. (degrees) or x=..,y=.."),
])
def test_circle_parameters_are_checked(kw, message):
    with pytest.raises(UsageError) as err:
        CircleFootprint(**kw)
    assert str(err.value).startswith(message)


# -- fragility -------------------------------------------------------------------------


def test_lognormal_fragility_against_scipy():
    f = Fragility("line", median=45.0, beta=0.2)
    x = np.array([0.0, -1.0, 10.0, 30.0, 45.0, 60.0, 200.0])
    expect = stats.lognorm(s=0.2, scale=45.0).cdf(np.clip(x, 0, None))
    np.testing.assert_allclose(f.probability(x), expect, atol=1e-15)
    assert f.probability(45.0) == 0.5


def test_length_scaling_per_segment():
    f = Fragility("line", median=40.0, beta=0.3, segment_km=2.0)
    p = float(stats.lognorm(s=0.3, scale=40.0).cdf(35.0))
    got = f.probability([35.0, 35.0, 35.0], [10.0, 1.0, np.nan])
    np.testing.assert_allclose(got, [1 - (1 - p) ** 5, 1 - (1 - p) ** 0.5, p], rtol=1e-12)


@pytest.mark.parametrize(("kw", "message"), [
    ({"median": 40.0, "beta": -1},
     "The 'beta' parameter of fragility 'line' must be a float > 0. Got -1 instead."),
    ({"median": 0, "beta": 0.2},
     "The 'median' parameter of fragility 'line' must be a float > 0. Got 0 instead."),
    ({"median": 40.0, "beta": 0.2, "segment_km": -2.0},
     "The 'segment_km' parameter of fragility 'line' must be a float > 0 or None. "
     "Got -2.0 instead."),
    ({"median": "high", "beta": 0.2},
     "The 'median' parameter of fragility 'line' must be a float > 0. Got 'high' instead."),
])
def test_fragility_parameters_are_checked(kw, message):
    with pytest.raises(UsageError) as err:
        Fragility("line", **kw)
    assert str(err.value) == message


def test_fragility_sets_defaults_and_overrides():
    wind = fragility_set("wind")
    assert wind.unit == "m/s" and (wind["line"].median, wind["line"].beta) == (45.0, 0.2)
    flood = fragility_set("flood", {"bus": {"median": 0.3}, "line": {"segment_km": 0.5}})
    assert flood.unit == "m"
    assert (flood["substation"].median, flood["substation"].beta) == (0.3, 0.4)
    assert flood["line"].segment_km == 0.5
    with pytest.raises(UsageError, match="The 'beta' parameter of fragility 'generator'"):
        fragility_set("wind", {"gen": {"beta": -1}})
    tower = fragility_set("wind", {"tower": {"median": 50.0, "beta": 0.15}})
    assert (tower["line"].median, tower["line"].beta, tower["line"].segment_km) == (50.0, 0.15,
                                                                                     0.3)
    with pytest.raises(UsageError, match="give fragility 'line' or 'tower'"):
        fragility_set("wind", {"tower": {"median": 50.0}, "line": {"beta": 0.3}})
    with pytest.raises(UsageError, match="unknown fragility kind 'pole'"):
        fragility_set("wind", {"pole": {"median": 3}})
    with pytest.raises(UsageError, match="unknown parameter 'mean'"):
        fragility_set("wind", {"line": {"mean": 3}})
    with pytest.raises(UsageError, match="The 'hazard' parameter must be one of wind, flood, "
                                         "generic. Got 'quake' instead."):
        fragility_set("quake")
    # the message reaches users of the spec too
    with pytest.raises(UsageError, match="The 'beta' parameter of fragility 'line' must be a "
                                         "float > 0. Got -1 instead."):
        scenario_from_spec("circle:lon=10,lat=50,radius_km=20,line.beta=-1", GRID)


def test_fragility_sampling_matches_its_probability():
    f = Fragility("substation", median=55.0, beta=0.25)
    p = float(f.probability(50.0))  # about 0.35
    n = 20_000
    fails = int(sample_failures(np.full(n, p), np.random.default_rng(20240607)).sum())
    assert stats.binomtest(fails, n, p).pvalue > 1e-3
    assert abs(fails - n * p) < 4 * math.sqrt(n * p * (1 - p))
    # exactly one uniform per asset: the rng advances by n draws whatever p is
    r1, r2 = np.random.default_rng(1), np.random.default_rng(1)
    sample_failures(np.zeros(10), r1)
    sample_failures(np.ones(10), r2)
    assert r1.random() == r2.random()


# -- hazard scenarios ------------------------------------------------------------------


def test_circle_fails_assets_near_the_centre_far_more_often():
    gen = HazardScenarios(GRID, CircleFootprint(lon=10.0, lat=50.0, radius_km=40.0, peak=60.0))
    n = 2000
    bus_fail = np.zeros(NET.n_bus)
    branch_fail = np.zeros(NET.n_branch)
    for i in range(n):
        (w,) = gen.sample(NET, np.random.default_rng([31, i])).waves
        bus_fail[w.buses] += 1
        branch_fail[w.branches] += 1
        # the buses of substation Centre fail together
        assert (bus("A1") in w.buses) == (bus("A2") in w.buses)
    freq = bus_fail / n
    assert freq[bus("A1")] > 0.5 and freq[bus("D")] == 0 and freq[bus("E")] == 0
    # frequencies follow the probabilities: substation Centre at 60 m/s (wind defaults)
    p = float(stats.lognorm(s=0.25, scale=55.0).cdf(60.0))
    assert abs(freq[bus("A1")] - p) < 4 * math.sqrt(p * (1 - p) / n)
    pb = gen.p_branch
    z = (branch_fail - n * pb) / np.sqrt(n * pb * (1 - pb) + 1e-12)
    assert np.abs(z).max() < 4.5
    assert branch_fail[branch("D-E")] == 0 and pb[branch("D-E")] == 0


def test_common_random_numbers_when_a_branch_is_added():
    import pandas as pd

    extra = pd.DataFrame([{"from_bus": "C", "to_bus": "E", "x_pu": 0.1, "rating_mw": 100.0,
                           "length_km": 120.0, "kind": "line", "in_service": True}], index=pd.Index(["C-E"], name="id"))
    grid2 = GRID.replace(branches=pd.concat([GRID.branches, extra]))
    fp = CircleFootprint(lon=10.2, lat=50.0, radius_km=60.0, peak=55.0)
    a, b = HazardScenarios(GRID, fp), HazardScenarios(grid2, fp)
    for i in range(30):
        wa = a.sample(NET, np.random.default_rng([4, i])).waves[0]
        wb = b.sample(grid2.network, np.random.default_rng([4, i])).waves[0]
        assert np.array_equal(wa.buses, wb.buses) and np.array_equal(wa.gens, wb.gens)
        assert np.array_equal(wa.branches, wb.branches[wb.branches < NET.n_branch])


def test_polygon_layer_intensity_from_a_geopackage(tmp_path):
    path = write_flood(tmp_path / "flood.gpkg", layer="depth")
    fp = PolygonFootprint(path, attr="depth_m", layer="depth")
    x = fp.intensity(asset_geometry(GRID))
    expect_bus = {"C": 2.0}  # in 'shallow' (0.5) and 'deep' (2.0): the larger
    np.testing.assert_array_equal(x.bus, [expect_bus.get(b, 0.0) for b in NET.bus_ids])
    expect_branch = {"A2-C": 2.0, "C-D": 2.0, "B-E": 1.2}  # B-E crosses the river only
    np.testing.assert_array_equal(x.branch, [expect_branch.get(b, 0.0) for b in NET.branch_ids])
    np.testing.assert_array_equal(x.gen, [0.0, 0.0, 0.0])
    gen = scenario_from_spec(f"polygons:path={path},layer=depth,attr=depth_m", GRID)
    p_c = float(stats.lognorm(s=0.4, scale=0.6).cdf(2.0))  # flood default, substation
    subs_p = dict(zip(["Centre", "North", "C", "D", "E"], gen.p_substation, strict=True))
    assert subs_p["C"] == pytest.approx(p_c) and subs_p["Centre"] == 0.0
    assert gen.fragility.hazard == "flood"


def test_polygon_layer_from_geojson_and_without_crs(tmp_path, caplog):
    path = write_flood(tmp_path / "flood.geojson", driver="GeoJSON")
    x = PolygonFootprint(path, attr="depth_m").intensity(asset_geometry(GRID))
    assert x.bus[bus("C")] == 2.0
    frame = gpd.read_file(path).to_crs("EPSG:4326").set_crs(None, allow_override=True)
    bare = tmp_path / "bare.gpkg"
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        frame.to_file(bare, layer="d")
    with caplog.at_level(logging.WARNING, logger="gridres.scenarios.hazard"):
        y = PolygonFootprint(bare, attr="depth_m").intensity(asset_geometry(GRID))
    assert "polygons have no CRS" in caplog.text
    np.testing.assert_array_equal(x.branch, y.branch)


def test_polygon_layer_errors(tmp_path):
    path = write_flood(tmp_path / "flood.gpkg", layer="depth")
    with pytest.raises(InputNotFound, match="no such polygon file"):
        PolygonFootprint(tmp_path / "none.gpkg", attr="depth_m")
    with pytest.raises(UsageError, match="no layer 'wind'; layers: depth"):
        PolygonFootprint(path, attr="depth_m", layer="wind")
    with pytest.raises(UsageError, match="layer has no attribute 'depth'; attributes: name, "
                                         "depth_m"):
        PolygonFootprint(path, attr="depth")
    pts = tmp_path / "points.gpkg"
    gpd.GeoDataFrame({"depth_m": [1.0]}, geometry=[shapely.Point(10, 50)],
                     crs="EPSG:4326").to_file(pts)
    with pytest.raises(GridError, match="expected polygons, found Point"):  # exit 65
        PolygonFootprint(pts, attr="depth_m")
    text = tmp_path / "notes.gpkg"
    text.write_text("not a GeoPackage\n")
    with pytest.raises(GridError, match="notes.gpkg: not a GIS file gridres can read"):
        PolygonFootprint(text, attr="depth_m")


def test_demo_region_circle_strikes_near_substations_more():
    from gridres.io.load import bundled_grids

    if "demo_region" not in bundled_grids():
        pytest.skip("bundled grid demo_region not available")
    from gridres.io import load_grid

    grid = load_grid("demo_region")
    net = grid.network
    centre = grid.buses["geometry"].iloc[0]
    gen = scenario_from_spec(
        f"circle:lon={centre.x},lat={centre.y},radius_km=25,peak=65", grid)
    xy = shapely.get_coordinates(grid.buses["geometry"].to_numpy())
    d = haversine_km(xy[:, 0], xy[:, 1], centre.x, centre.y)
    near, far = d < 8, d > 40
    assert near.any() and far.any()
    counts = np.zeros(net.n_bus)
    n = 300
    for i in range(n):
        counts[gen.sample(net, np.random.default_rng([99, i])).waves[0].buses] += 1
    assert counts[near].mean() / n > 0.3
    assert counts[far].sum() == 0
