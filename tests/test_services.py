"""The service model worked by hand: storage, buffers, dependencies (circular ones too),
the heat model, people per town and people-hours."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from builders import service_grid as svc_grid
from gridres.errors import GridError, UsageError
from gridres.model import Grid
from gridres.service_data import SERVICES, Dependency, parse_depends, parse_serves
from gridres.services import (
    HeatModel,
    PowerTimeline,
    compile_services,
    evaluate_services,
    heat_hours,
    people_without_power,
)

W = SERVICES.index("water")
HEAT = SERVICES.index("heat")
TEL = SERVICES.index("telecom")
HEALTH = SERVICES.index("health")


def timeline(times: list[float], *rows: list[bool]) -> PowerTimeline:
    return PowerTimeline(np.array(times, dtype=float), np.array(rows, dtype=bool))


def at(result, t: float) -> int:
    """Row of ``result`` in force at time ``t``."""
    return int(np.searchsorted(result.times_h, t, side="right") - 1)


# -- the text fields --------------------------------------------------------------------
def test_depends_and_serves_grammar() -> None:
    assert parse_depends(" Water @ 12 ;facility:W01@0.5;") == (
        Dependency(service="water", buffer_h=12.0), Dependency(facility="W01", buffer_h=0.5))
    assert parse_depends("", "heating") == (Dependency(service="water", buffer_h=24.0),)
    assert parse_depends("NONE", "hospital") == ()
    assert parse_depends("telecom", "water") == (Dependency(service="telecom"),)
    for bad, what in (("watr", "not a service"), ("water@x", "not a number"),
                      ("water@-1", "negative"), ("facility:", "no facility id"),
                      ("water@nan", "negative or NaN")):
        with pytest.raises(ValueError, match=what):
            parse_depends(bad)
    assert parse_serves("B;A; B", "A") == ("B", "A")


def test_heat_hours_follow_the_cooling_law() -> None:
    # t = tau ln((20 - T) / (15 - T)), tau = 60 h
    assert heat_hours(-10.0) == pytest.approx(60 * math.log(30 / 25))  # 10.94 h
    assert heat_hours(5.0) == pytest.approx(60 * math.log(15 / 10))  # 24.33 h
    assert heat_hours(15.0) == math.inf
    assert heat_hours(0.0, HeatModel(time_constant_h=30.0)) == pytest.approx(
        30 * math.log(20 / 15))
    with pytest.raises(UsageError, match="threshold_c"):
        HeatModel(threshold_c=25.0)
    with pytest.raises(UsageError, match="outside_c"):
        heat_hours(math.nan)


# -- storage, buffers, dependencies -----------------------------------------------------
def test_water_lost_after_its_reservoir() -> None:
    """A waterworks for town A (1,000 people, 12 h of reservoir by default) without power
    from 0 to 30 h: A has water until 12 h, none from 12 to 30 h, water again from 30 h.
    People-hours to 48 h: 1,000 x (30 - 12) = 18,000."""
    g = svc_grid([{"id": "W", "kind": "water", "town": "A"}])
    model = compile_services(g)
    assert model.storage_h.tolist() == [12.0]
    res = evaluate_services(model, timeline([0.0, 30.0], [False], [True]), end_h=48.0)
    assert res.times_h.tolist() == [0.0, 12.0, 30.0]
    assert res.works[:, 0].tolist() == [False, False, True]
    assert res.delivers[:, 0].tolist() == [True, False, True]
    a = model.area_ids.get_loc("A")
    assert res.people_without[:, W, a].tolist() == [0.0, 1000.0, 0.0]
    assert res.people_hours() == {"water": 18_000.0}
    (row,) = res.area_losses()
    assert (row["town"], row["service"], row["lost_h"], row["people"], row["relying"]) == (
        "A", "water", 12.0, 0, 1000)
    assert row["steps"] == [[0.0, 0], [12.0, 1000], [30.0, 0]]


def test_hospital_impaired_by_a_water_outage_while_its_power_is_on() -> None:
    """The waterworks of A loses power from 0 to 30 h and runs dry at 12 h; the hospital
    of A keeps its power but its own tank lasts 6 h: impaired from 18 to 30 h."""
    g = svc_grid([{"id": "W", "kind": "water", "town": "A"},
                  {"id": "H", "kind": "hospital", "town": "A", "depends_on": "water@6"}])
    res = evaluate_services(compile_services(g),
                            timeline([0.0, 30.0], [False, True], [True, True]), end_h=48.0)
    assert res.times_h.tolist() == [0.0, 12.0, 18.0, 30.0]
    assert res.powered[:, 1].all()
    assert res.works[:, 1].tolist() == [True, True, False, True]
    assert res.impaired[:, 1].tolist() == [False, False, True, False]
    hospital = next(r for r in res.facility_losses() if r["id"] == "H")
    assert hospital == {"id": "H", "service": "health", "power_lost_h": None,
                        "stopped_h": 18.0, "cause": "dependency", "service_lost_h": 18.0}
    # 1,000 people of A without health care for 12 h; without water for 18 h
    assert res.people_hours() == {"water": 18_000.0, "health": 12_000.0}


def test_default_hospital_dependencies_and_a_telecom_loss() -> None:
    """By default a hospital needs water (12 h tank) and telecom (4 h): the telecom site
    (2 h of batteries) loses power at 0, so the hospital stops at 2 + 4 = 6 h."""
    g = svc_grid([{"id": "W", "kind": "water", "town": "A"},
                  {"id": "T", "kind": "telecom", "town": "A"},
                  {"id": "H", "kind": "hospital", "town": "A"}])
    res = evaluate_services(compile_services(g), timeline([0.0], [True, False, True]))
    assert res.times_h.tolist() == [0.0, 2.0, 6.0]
    assert res.works[:, 2].tolist() == [True, True, False]
    assert res.people_without_total[-1, TEL] == 1000.0
    assert res.people_without_total[-1, HEALTH] == 1000.0
    assert res.people_without_total[-1, W] == 0.0


def test_heat_is_lost_later_in_mild_weather_than_in_cold() -> None:
    """A district-heating plant for 40 % of town B (3,000 people) loses power for good:
    heat is lost after 10.94 h at -10 °C, 24.33 h at 5 °C, never at 16 °C; 1,200 people."""
    g = svc_grid([{"id": "HT", "kind": "heating", "town": "B", "coverage": 0.4,
                   "depends_on": "none"}])
    model = compile_services(g)
    assert np.isnan(model.storage_h[0])
    lost = {}
    for temp in (-10.0, 5.0, 16.0):
        res = evaluate_services(model, timeline([0.0], [False]), outside_c=temp)
        rows = res.area_losses()
        lost[temp] = rows[0]["lost_h"] if rows else math.inf
        if rows:
            assert rows[0]["people"] == 1200 and rows[0]["relying"] == 1200
    assert lost[-10.0] == pytest.approx(60 * math.log(30 / 25))
    assert lost[5.0] == pytest.approx(60 * math.log(15 / 10))
    assert lost[-10.0] < lost[5.0] < lost[16.0] == math.inf
    # a storage written in the file wins over the temperature
    g2 = svc_grid([{"id": "HT", "kind": "heating", "town": "B", "storage_h": 3.0,
                    "depends_on": "none"}])
    res = evaluate_services(compile_services(g2), timeline([0.0], [False]), outside_c=-10.0)
    assert res.times_h.tolist() == [0.0, 3.0]


def test_circular_dependency_goes_down_and_comes_back() -> None:
    """W (water, 1 h storage) needs HT (heat, no storage) with a 2 h buffer, and HT needs
    W with a 3 h buffer. W loses power from 0 to 10 h: it stops at 0 and delivers until
    1 h; HT's buffer lasts until 1 + 3 = 4 h. At 10 h both have power and nothing forces
    either down: the greatest fixed point has both working again."""
    g = svc_grid([{"id": "W", "kind": "water", "town": "A", "storage_h": 1.0,
                   "depends_on": "facility:HT@2"},
                  {"id": "HT", "kind": "heating", "town": "A", "storage_h": 0.0,
                   "depends_on": "facility:W@3"}])
    res = evaluate_services(compile_services(g),
                            timeline([0.0, 10.0], [False, True], [True, True]))
    assert res.times_h.tolist() == [0.0, 1.0, 4.0, 10.0]
    assert res.works.tolist() == [[False, True], [False, True], [False, False], [True, True]]
    assert res.delivers.tolist() == [[True, True], [False, True], [False, False],
                                     [True, True]]


def test_circular_dependency_without_buffers() -> None:
    """Two facilities that need each other at once: both work while both have power (the
    greatest fixed point; the least would have neither), both stop when one loses it."""
    g = svc_grid([{"id": "X", "kind": "water", "town": "A", "storage_h": 0.0,
                   "depends_on": "facility:Y"},
                  {"id": "Y", "kind": "telecom", "town": "A", "storage_h": 0.0,
                   "depends_on": "facility:X"}])
    res = evaluate_services(compile_services(g),
                            timeline([0.0, 5.0, 7.0], [True, True], [True, False],
                                     [True, True]))
    assert res.works.tolist() == [[True, True], [False, False], [True, True]]


def test_service_dependency_is_met_while_any_provider_delivers() -> None:
    """Town B has two waterworks; a hospital in B that needs water (no tank) keeps
    working while one of them does, and stops only when both have run dry. A hospital
    bound to one of them by id stops with it."""
    g = svc_grid([{"id": "W1", "kind": "water", "town": "A", "serves": "A; B",
                   "storage_h": 0.0},
                  {"id": "W2", "kind": "water", "town": "B", "storage_h": 0.0},
                  {"id": "H1", "kind": "hospital", "town": "B", "depends_on": "water"},
                  {"id": "H2", "kind": "hospital", "town": "B", "depends_on": "facility:W2"}])
    res = evaluate_services(compile_services(g),
                            timeline([0.0, 4.0], [True, False, True, True],
                                     [False, False, True, True]))
    assert res.works[:, 2].tolist() == [True, False]
    assert res.works[:, 3].tolist() == [False, False]


def test_people_per_town_are_summed_correctly() -> None:
    """Towns A (1,000) and B (3,000). W1 serves A and B, W2 serves B: B's 3,000 are
    shared, 1,500 each; W1 serves 1,000 + 1,500 = 2,500 people. Telecom T covers every
    town at 50 %: 500 in A, 1,500 in B. W1 and T lose power for good (no storage)."""
    g = svc_grid([{"id": "W1", "kind": "water", "town": "A", "serves": "A; B",
                   "storage_h": 0.0},
                  {"id": "W2", "kind": "water", "town": "B", "storage_h": 0.0},
                  {"id": "T", "kind": "telecom", "serves": "*", "coverage": 0.5,
                   "storage_h": 0.0}])
    model = compile_services(g)
    a, b = model.area_ids.get_loc("A"), model.area_ids.get_loc("B")
    assert model.relying[W, [a, b]].tolist() == [1000.0, 3000.0]
    assert model.relying[TEL, [a, b]].tolist() == [500.0, 1500.0]
    res = evaluate_services(model, timeline([0.0], [False, True, False]), end_h=10.0)
    out = res.people_without[-1]
    assert out[W, [a, b]].tolist() == [1000.0, 1500.0]
    assert out[TEL, [a, b]].tolist() == [500.0, 1500.0]
    assert res.people_without_total[-1, W] == 2500.0
    assert res.people_without_total[-1, TEL] == 2000.0
    assert res.people_hours() == {"water": 25_000.0, "telecom": 20_000.0}
    rows = {(r["town"], r["service"]): (r["people"], r["relying"])
            for r in res.area_losses()}
    assert rows == {("A", "water"): (1000, 1000), ("B", "water"): (1500, 3000),
                    ("A", "telecom"): (500, 500), ("B", "telecom"): (1500, 1500)}


def test_people_without_power_per_town() -> None:
    """Town B (3,000) is fed by two buses with 600 and 400 people in the bus table: they
    carry 60 % and 40 % of the town. Shedding all of the first and half of the second
    leaves 3,000 x (0.6 + 0.4 x 0.5) = 2,400 people of B without power."""
    g = svc_grid([{"id": "W", "kind": "water", "town": "A"}])
    buses = g.buses.copy()
    buses.loc["bus-A", ["town", "population"]] = ["B", 600.0]
    buses.loc["bus-B", "population"] = 400.0
    g = g.replace(buses=buses, towns=g.towns)
    model = compile_services(g)
    shed = np.array([0.0, 1.0, 0.5])
    out = people_without_power(model, shed)
    assert out[model.area_ids.get_loc("B")] == pytest.approx(2400.0)
    assert out[model.area_ids.get_loc("A")] == 0.0
    assert people_without_power(model, np.vstack([shed, np.zeros(3)])).shape == (2, 3)


def test_grid_without_towns_counts_each_facility_s_people() -> None:
    """Without towns a facility serves its own ``people``; service dependencies look for
    providers among the facilities without a town."""
    g = Grid(buses=pd.DataFrame({"id": ["s"], "ref": [True]}),
             branches=pd.DataFrame(columns=["id", "from_bus", "to_bus", "x_pu"]),
             facilities=pd.DataFrame({"id": ["W", "H"], "bus": ["s", "s"],
                                      "kind": ["water", "hospital"], "people": [5000, 300],
                                      "depends_on": ["", "water@1"]}))
    model = compile_services(g)
    assert len(g.towns) == 0 and model.area_ids.tolist() == [""]
    assert model.population.tolist() == [5300.0]
    res = evaluate_services(model, timeline([0.0], [False, True]))
    assert res.times_h.tolist() == [0.0, 12.0, 13.0]
    assert res.people_without_total[-1, W] == 5000.0
    assert res.people_without_total[-1, HEALTH] == 300.0


def test_unprovided_service_dependency_is_not_modelled() -> None:
    g = svc_grid([{"id": "H", "kind": "hospital", "town": "A"}])
    model = compile_services(g)
    assert model.unmet == ("H: water in A", "H: telecom in A")
    res = evaluate_services(model, timeline([0.0], [True]))
    assert res.works.all()


def test_from_status_runs_backups_down_with_no_repairs() -> None:
    tl = PowerTimeline.from_status(np.array(["grid", "backup", "backup", "dark"]),
                                   np.array([0.0, 8.0, np.inf, 3.0]))
    assert tl.times_h.tolist() == [0.0, 8.0]
    assert tl.powered.tolist() == [[True, True, True, False], [True, False, True, False]]
    assert tl.on_grid.tolist() == [[True, False, False, False]] * 2


def test_bad_timelines_and_horizons_are_refused() -> None:
    with pytest.raises(UsageError, match="strictly increasing"):
        timeline([0.0, 0.0], [True], [True])
    with pytest.raises(UsageError, match="one row per time"):
        PowerTimeline(np.array([0.0, 1.0]), np.array([[True]]))
    with pytest.raises(UsageError, match="grid power must count as powered"):
        PowerTimeline(np.array([0.0]), np.array([[False]]), np.array([[True]]))
    g = svc_grid([{"id": "W", "kind": "water", "town": "A"}])
    model = compile_services(g)
    with pytest.raises(UsageError, match="2 facilities, the model 1"):
        evaluate_services(model, timeline([0.0], [True, True]))
    with pytest.raises(UsageError, match="end_h"):
        evaluate_services(model, timeline([5.0], [True]), end_h=5.0)
    with pytest.raises(UsageError, match="finite horizon"):
        evaluate_services(model, timeline([0.0], [True])).people_hours()


def test_compile_refuses_bad_service_data_with_one_line() -> None:
    for fac, field in (({"depends_on": "facility:NOPE"}, "depends_on"),
                       ({"depends_on": "gas"}, "depends_on"),
                       ({"serves": "Nowhere"}, "serves"),
                       ({"service": "gas"}, "service"),
                       ({"storage_h": -1.0}, "storage_h")):
        g = svc_grid([{"id": "W", "kind": "water", "town": "A", **fac}])
        with pytest.raises(GridError, match=rf"^svc.gpkg: facility 'W': {field} .*validate"):
            compile_services(g)


def test_model_pickles_for_ensemble_workers() -> None:
    import pickle

    g = svc_grid([{"id": "W", "kind": "water", "town": "A", "serves": "A; B"},
                  {"id": "H", "kind": "hospital", "town": "B"}])
    model = compile_services(g)
    assert model.people_served.tolist() == [4000.0, 3000.0]
    again = pickle.loads(pickle.dumps(model))
    tl = timeline([0.0, 20.0], [False, True], [True, True])
    a, b = evaluate_services(model, tl, end_h=30.0), evaluate_services(again, tl, end_h=30.0)
    assert a.people_hours() == b.people_hours() == {"water": 32_000.0, "health": 0.0}
