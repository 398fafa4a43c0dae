"""Restoration worked by hand: a radial feeder with known energy not served, spares that
arrive after their lead time, facility backup that runs out, waves, travel, settings and
the ``gridres restore`` command."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from shapely.geometry import Point

from builders import make_grid
from gridres.cli import cli
from gridres.errors import UsageError
from gridres.model import State
from gridres.restoration import (
    PriorityList,
    RestorationSettings,
    compare,
    prepare,
    read_priority_file,
    simulate,
)
from gridres.restoration.fleets import BACKUP, DARK, GRID
from gridres.restoration.metrics import energy_not_served, restoration_times, status_hours
from gridres.restoration.simulate import repair_multipliers
from gridres.restoration.supply import supply
from gridres.scenarios.base import Scenario, Wave

# The feeder (no coordinates: travel 0):
#
#   s (generator 100 MW) --l1 10 km-- a (10 MW) --l2 20 km-- b (20 MW) --l3 5 km-- c (5 MW)
#                                     a --t1 transformer-- d (30 MW)
#
# Repair hours with the defaults: l1 = 4 + 0.2*10 = 6, l2 = 4 + 0.2*20 = 8,
# l3 = 4 + 0.2*5 = 5, t1 = 72 (transformer).
FEEDER_BUSES = [
    {"id": "s", "ref": True, "x": 0.0},
    {"id": "a", "load_mw": 10.0, "customers": 100, "x": 10_000.0},
    {"id": "b", "load_mw": 20.0, "customers": 200, "x": 30_000.0},
    {"id": "c", "load_mw": 5.0, "customers": 50, "x": 35_000.0},
    {"id": "d", "load_mw": 30.0, "customers": 300, "x": 10_000.0},
]
FEEDER_BRANCHES = [
    {"id": "l1", "from_bus": "s", "to_bus": "a", "x_pu": 0.1, "length_km": 10.0},
    {"id": "l2", "from_bus": "a", "to_bus": "b", "x_pu": 0.1, "length_km": 20.0},
    {"id": "l3", "from_bus": "b", "to_bus": "c", "x_pu": 0.1, "length_km": 5.0},
    {"id": "t1", "from_bus": "a", "to_bus": "d", "x_pu": 0.1, "kind": "transformer"},
]


def feeder(geometry: bool = False, facilities=()) -> object:
    buses = []
    for b in FEEDER_BUSES:
        rec = {k: v for k, v in b.items() if k != "x"}
        if geometry:
            rec["geometry"] = Point(b["x"], 0.0)
        buses.append(rec)
    return make_grid(buses, FEEDER_BRANCHES, [{"id": "g", "bus": "s", "p_mw": 65.0,
                                               "pmax_mw": 100.0}],
                     facilities, crs="EPSG:32633" if geometry else None)


def all_four(g) -> Scenario:
    return Scenario.single(branches=g.lookup("branches", ["l1", "l2", "l3", "t1"]))


def run(g, scenario, policy, **settings):
    return simulate(g.network, prepare(g, RestorationSettings(**settings)), scenario, policy)


def test_one_crew_as_listed_ens_by_hand():
    # lost load: 65 MW until l1 (6 h), 55 until l2 (14 h), 35 until l3 (19 h), 30 until t1
    # (91 h): 65*6 + 55*8 + 35*5 + 30*72 = 390 + 440 + 175 + 2160 = 3165 MWh
    g = feeder()
    res = run(g, all_four(g), "as-listed", crews=1)
    m = res.metrics
    assert m["ens_mwh"] == pytest.approx(3165.0)
    assert m["t100_h"] == pytest.approx(91.0)
    assert m["t50_h"] == pytest.approx(19.0)  # lost <= 32.5 MW from 19 h on
    assert m["t90_h"] == pytest.approx(91.0)  # lost <= 6.5 MW only at the end
    # customers: 650 out, then 550, 350, 300: 650*6 + 550*8 + 350*5 + 300*72
    assert m["customer_hours"] == pytest.approx(3900 + 4400 + 1750 + 21600)
    assert res.schedule["start_h"].tolist() == [0.0, 6.0, 14.0, 19.0]
    assert res.schedule["end_h"].tolist() == [6.0, 14.0, 19.0, 91.0]
    assert res.curve["lost_mw"].tolist() == pytest.approx([65.0, 55.0, 35.0, 30.0, 0.0])
    assert res.curve["time_h"].tolist() == [0.0, 6.0, 14.0, 19.0, 91.0]


def test_two_crews_as_listed_ens_by_hand():
    # crew 0: l1 0-6, then l3 6-11; crew 1: l2 0-8, then t1 8-80.
    # a back at 6, b at 8 (l1 and l2 done), c at 11, d at 80:
    # 65*6 + 55*2 + 35*3 + 30*69 = 390 + 110 + 105 + 2070 = 2675 MWh
    g = feeder()
    res = run(g, all_four(g), "as-listed", crews=2)
    assert res.metrics["ens_mwh"] == pytest.approx(2675.0)
    assert res.metrics["t100_h"] == pytest.approx(80.0)
    s = res.schedule.set_index("element")
    assert s.loc["branch:l3", "crew"] == 0 and s.loc["branch:t1", "crew"] == 1
    assert s.loc["branch:t1", "start_h"] == pytest.approx(8.0)


def test_greedy_follows_mw_per_crew_hour():
    # t = 0: only l1 reconnects load (a, 10 MW / 6 h); at 6 h: l2 20/8 = 2.5 beats
    # t1 30/72 and l3 0; at 14 h: l3 5/5 = 1 beats t1 0.42. Same order as listed.
    g = feeder()
    res = run(g, all_four(g), "greedy", crews=1)
    assert res.schedule.sort_values("start_h")["element"].tolist() == [
        "branch:l1", "branch:l2", "branch:l3", "branch:t1"]
    assert res.metrics["ens_mwh"] == pytest.approx(3165.0)
    # largest-load-first: l1 (65 MW depend on it), t1 (30), l2 (25), l3 (5):
    # l1 0-6, t1 6-78, l2 78-86, l3 86-91: 65*6 + 55*72 + 25*8 + 5*5 = 4575 MWh
    llf = run(g, all_four(g), "largest-load-first", crews=1)
    assert llf.schedule.sort_values("start_h")["element"].tolist() == [
        "branch:l1", "branch:t1", "branch:l2", "branch:l3"]
    assert llf.metrics["ens_mwh"] == pytest.approx(4575.0)


def test_transformer_waits_for_spare_after_lead_time():
    # no transformer in stock; the failure at 0 h orders one, arriving at 10 h. Two crews:
    # crew 1 is free at 8 h (after l2) and waits on site until 10 h: t1 runs 10-82 h.
    # 65*6 + 55*2 + 35*3 + 30*71 = 390 + 110 + 105 + 2130 = 2735 MWh
    g = feeder()
    res = run(g, all_four(g), "as-listed", crews=2, spare_stock={"transformer": 0},
              spare_lead_time_h={"transformer": 10.0})
    t1 = res.schedule.set_index("element").loc["branch:t1"]
    assert t1["arrive_h"] == pytest.approx(8.0)
    assert t1["start_h"] == pytest.approx(10.0)
    assert t1["waited_for_spare_h"] == pytest.approx(2.0)
    assert t1["spare"] == "ordered" and t1["spare_arrival_h"] == pytest.approx(10.0)
    assert res.metrics["ens_mwh"] == pytest.approx(2735.0)
    assert res.metrics["waves_stock_lasted"] == 0


def test_spares_deplete_across_waves():
    # s -l1- a, a -t1- d (30 MW), a -t2- e (20 MW); one transformer in stock, lead 100 h.
    # Wave 0 at 0 h fails t1: the stock spare, repair 0-72. Wave 1 at 10 h fails t2: its
    # spare is the one ordered at 0 h (arrives 100 h); the crew waits 72-100, repairs
    # 100-172. ENS = 30*10 + 50*62 + 20*100 = 300 + 3100 + 2000 = 5400 MWh.
    g = make_grid(
        [{"id": "s", "ref": True}, {"id": "a"}, {"id": "d", "load_mw": 30.0},
         {"id": "e", "load_mw": 20.0}],
        [{"id": "l1", "from_bus": "s", "to_bus": "a", "x_pu": 0.1},
         {"id": "t1", "from_bus": "a", "to_bus": "d", "x_pu": 0.1, "kind": "transformer"},
         {"id": "t2", "from_bus": "a", "to_bus": "e", "x_pu": 0.1, "kind": "transformer"}],
        [{"id": "g", "bus": "s", "pmax_mw": 100.0}],
    )
    sc = Scenario((Wave(0.0, branches=[1]), Wave(10.0, branches=[2])))
    res = run(g, sc, "greedy", crews=1, spare_stock={"transformer": 1},
              spare_lead_time_h={"transformer": 100.0})
    s = res.schedule.set_index("element")
    assert s.loc["branch:t1", "spare"] == "stock"
    assert (s.loc["branch:t2", "start_h"], s.loc["branch:t2", "end_h"]) == (100.0, 172.0)
    assert s.loc["branch:t2", "waited_for_spare_h"] == pytest.approx(28.0)
    assert res.metrics["ens_mwh"] == pytest.approx(5400.0)
    assert res.metrics["waves_stock_lasted"] == 1
    assert res.metrics["waves"] == 2


def test_facility_backup_runs_out_exactly():
    # a facility at c (5 MW, backup 5 MW for 10 h, 1000 people); c is back at 19 h
    # (one crew, as listed): on backup 0-10 h, dark 10-19 h.
    fac = [{"id": "H", "bus": "c", "kind": "hospital", "demand_mw": 5.0, "backup_mw": 5.0,
            "backup_hours": 10.0, "people": 1000}]
    g = feeder(facilities=fac)
    res = run(g, all_four(g), "as-listed", crews=1)
    f = res.facilities.loc["H"]
    assert f["hours_on_backup"] == pytest.approx(10.0)
    assert f["hours_dark"] == pytest.approx(9.0)
    assert res.metrics["facility_hours_dark"] == pytest.approx(9.0)
    assert res.metrics["people_hours"] == pytest.approx(9000.0)
    assert res.metrics["people_affected"] == 1000
    c = res.curve.set_index("time_h")
    assert c.loc[0.0, "facilities_on_backup"] == 1 and c.loc[0.0, "facilities_dark"] == 0
    assert c.loc[10.0, "facilities_dark"] == 1 and c.loc[10.0, "facilities_on_backup"] == 0
    assert c.loc[10.0, "lost_mw"] == pytest.approx(55.0)  # served load unchanged at 10 h
    assert c.loc[19.0, "facilities_dark"] == 0


def test_horizon_stops_the_run():
    # one crew, as listed, stopped at 10 h: l1 done at 6 h, l2 under way.
    # ENS = 65*6 + 55*4 = 610 MWh up to the horizon; nothing reaches t100
    g = feeder()
    res = run(g, all_four(g), "as-listed", crews=1, horizon_h=10.0)
    m = res.metrics
    assert m["ens_mwh"] == pytest.approx(610.0)
    assert m["end_h"] == 10.0 and m["repairs"] == 1 and m["unfinished"] == 3
    assert math.isnan(m["t100_h"]) and math.isnan(m["t90_h"])
    assert res.schedule["end_h"].isna().sum() == 3


def test_a_policy_that_never_sends_a_crew():
    # idle crews with nothing left to wait for (the transformer's replacement arrives at
    # once): the run takes the jobs in listing order and says so
    g = feeder()
    res = run(g, all_four(g), lambda d: None, crews=1, spare_lead_time_h={"transformer": 0.0})
    assert res.metrics["ens_mwh"] == pytest.approx(3165.0)
    assert any("listing order" in n for n in res.notes)
    with pytest.raises(UsageError, match="not a position"):
        run(g, all_four(g), lambda d: 7, crews=1)


def test_backup_left_carries_over_to_a_second_wave():
    # as above, and a second wave at 30 h fails l3 again. The crew is on t1 (19-91 h), so
    # l3 is repaired 91-96 h. The facility's backup is used up: dark 10-19 and 30-96.
    # ENS = 65*6 + 55*8 + 35*5 + 30*11 + 35*61 + 5*5 = 3495 MWh
    fac = [{"id": "H", "bus": "c", "kind": "hospital", "demand_mw": 5.0, "backup_mw": 5.0,
            "backup_hours": 10.0, "people": 1000}]
    g = feeder(facilities=fac)
    l3 = g.lookup("branches", ["l3"])
    sc = Scenario((all_four(g).waves[0], Wave(30.0, branches=l3)))
    res = run(g, sc, "as-listed", crews=1)
    assert res.metrics["ens_mwh"] == pytest.approx(3495.0)
    assert res.facilities.loc["H", "hours_dark"] == pytest.approx(9.0 + 66.0)
    assert res.metrics["t100_h"] == pytest.approx(96.0)
    assert res.metrics["t50_h"] == pytest.approx(91.0)  # 35 MW lost until 91 h
    assert (res.schedule["element"] == "branch:l3").sum() == 2


def test_wave_on_an_element_under_repair_restarts_it():
    g = make_grid([{"id": "s", "ref": True}, {"id": "a", "load_mw": 10.0}],
                  [{"id": "l1", "from_bus": "s", "to_bus": "a", "x_pu": 0.1,
                    "length_km": 10.0}],
                  [{"id": "g", "bus": "s", "pmax_mw": 50.0}])
    sc = Scenario((Wave(0.0, branches=[0]), Wave(3.0, branches=[0])))
    res = run(g, sc, "greedy", crews=1)
    row = res.schedule.iloc[0]
    assert len(res.schedule) == 1 and row["restarts"] == 1
    assert (row["start_h"], row["end_h"]) == (3.0, 9.0)
    assert res.metrics["ens_mwh"] == pytest.approx(90.0)


def test_travel_time_from_coordinates():
    # UTM metres; depot at s (0, 0); speed 60 km/h, road factor 1.2: 1 km = 0.02 h.
    # l1 at 5 km: 0.1 h, repair 0.1-6.1; l2 at 20 km: +0.3 h, 6.4-14.4; l3 at 32.5 km:
    # +0.25 h, 14.65-19.65; t1 at 10 km: +0.45 h, 20.1-92.1.
    # ENS = 65*6.1 + 55*8.3 + 35*5.25 + 30*72.45 = 3210.25 MWh
    g = feeder(geometry=True)
    res = run(g, all_four(g), "as-listed", crews=1, speed_kmh=60.0, road_factor=1.2,
              depots=("s",))
    assert res.schedule["start_h"].tolist() == pytest.approx([0.1, 6.4, 14.65, 20.1])
    assert res.metrics["ens_mwh"] == pytest.approx(3210.25)
    # nearest takes the closest site first: l1 (5 km from the depot), then from l1's
    # site t1 (5 km) before l2 (15 km)
    near = run(g, all_four(g), "nearest", crews=1, speed_kmh=60.0, road_factor=1.2,
               depots=("s",))
    assert near.schedule.sort_values("start_h")["element"].tolist()[:2] == [
        "branch:l1", "branch:t1"]


def test_geographic_distances_and_depot_coordinates():
    g = make_grid([{"id": "s", "ref": True, "geometry": Point(0.0, 0.0)},
                   {"id": "a", "load_mw": 1.0, "geometry": Point(1.0, 0.0)}],
                  [{"id": "l1", "from_bus": "s", "to_bus": "a", "x_pu": 0.1,
                    "length_km": 0.0}],
                  [{"id": "g", "bus": "s", "pmax_mw": 5.0}], crs="EPSG:4326")
    a = prepare(g, RestorationSettings(crews=1, depots=((0.0, 0.0),), speed_kmh=10.0,
                                       road_factor=1.0))
    res = simulate(g.network, a, Scenario.single(branches=[0]), "greedy")
    # half a degree of longitude on the equator: 2*pi*6371.0088/720 km at 10 km/h
    assert res.schedule["arrive_h"].iloc[0] == pytest.approx(2 * math.pi * 6371.0088 / 720 / 10)


def test_repair_hours_overrides():
    g = feeder()
    b = g.branches.copy()
    b["repair_h"] = [np.nan, 1.0, np.nan, np.nan]
    g2 = g.replace(branches=b)
    a = prepare(g2, RestorationSettings(repair_h={"branch:l3": 2.5}, transformer_h=10.0))
    assert a.branch_repair_h.tolist() == [6.0, 1.0, 2.5, 10.0]
    with pytest.raises(UsageError, match="branch:nope"):
        prepare(g, RestorationSettings(repair_h={"branch:nope": 1.0}))
    # MATPOWER-like branches without a length take default_line_km
    b = g.branches.copy()
    b["length_km"] = np.nan
    assert prepare(g.replace(branches=b), RestorationSettings(default_line_km=10.0)
                   ).branch_repair_h[0] == pytest.approx(6.0)


def test_same_seed_same_schedule_and_multipliers_have_mean_one():
    g = feeder(geometry=True)
    sc = all_four(g)
    a = prepare(g, RestorationSettings(crews=2, repair_sigma=0.6))
    r1 = simulate(g.network, a, sc, "greedy", seed=11)
    r2 = simulate(g.network, a, sc, "greedy", seed=11)
    r3 = simulate(g.network, a, sc, "greedy", seed=12)
    pd.testing.assert_frame_equal(r1.schedule, r2.schedule)
    assert not np.allclose(r1.schedule["repair_h"], r3.schedule["repair_h"])
    with pytest.raises(UsageError, match="seed"):
        simulate(g.network, a, sc, "greedy")
    many = repair_multipliers(Scenario.single(branches=np.arange(4)), 0.5, 0)
    assert len(many) == 4
    big = Scenario.single(branches=np.arange(4))
    draws = np.concatenate([repair_multipliers(big, 0.5, s) for s in range(5000)])
    assert draws.mean() == pytest.approx(1.0, abs=0.02)


def test_compare_shares_repair_times_across_policies():
    g = feeder()
    res = compare(g, all_four(g), ["greedy", "as-listed", "critical-first"],
                  RestorationSettings(crews=1, repair_sigma=0.4), seed=3)
    reps = [r.schedule.set_index("element")["repair_h"].sort_index() for r in res.values()]
    for r in reps[1:]:
        pd.testing.assert_series_equal(r, reps[0])


@pytest.mark.parametrize(("h_people", "s_people", "order"), [
    (500, 10, ["branch:l1", "branch:t1", "branch:l2", "branch:l3"]),
    (10, 500, ["branch:l1", "branch:l2", "branch:l3", "branch:t1"]),
])
def test_critical_first_restores_the_facility_that_serves_most_people(h_people, s_people,
                                                                     order):
    # hospital H at d behind {l1, t1}, shelter S at c behind {l1, l2, l3}; no towns, so
    # each serves its own people and neither depends on the other (no water here): the
    # facility with more people comes first whatever its kind; l1 is in both sets.
    fac = [{"id": "H", "bus": "d", "kind": "hospital", "demand_mw": 5.0, "people": h_people},
           {"id": "S", "bus": "c", "kind": "shelter", "demand_mw": 1.0, "people": s_people}]
    g = feeder(facilities=fac)
    res = run(g, all_four(g), "critical-first", crews=1)
    assert res.schedule.sort_values("start_h")["element"].tolist() == order
    lst = run(g, all_four(g), "as-listed", crews=1)
    first = "H" if h_people > s_people else "S"
    assert res.facilities.loc[first, "hours_dark"] <= lst.facilities.loc[first, "hours_dark"]


def test_priority_list_and_file(tmp_path):
    g = feeder()
    p = tmp_path / "order.txt"
    p.write_text("# my order\nbranch:l1\n\ngenerator:g\nbranch:l3  # then\nbranch:l2\n")
    pl = read_priority_file(p)
    assert pl.elements == ("branch:l1", "gen:g", "branch:l3", "branch:l2")
    res = run(g, all_four(g), pl, crews=1)
    assert res.policy == "priority-list:order.txt"
    assert res.schedule.sort_values("start_h")["element"].tolist() == [
        "branch:l1", "branch:l3", "branch:l2", "branch:t1"]
    csv = tmp_path / "order.csv"
    csv.write_text("kind,id\nbranch,t1\n")
    assert read_priority_file(csv).elements == ("branch:t1",)
    bad = tmp_path / "bad.txt"
    bad.write_text("branch:l1\nl2\n")
    with pytest.raises(UsageError, match="line 2"):
        read_priority_file(bad)
    with pytest.raises(UsageError, match="nope"):
        PriorityList(("branch:nope",)).check(g)


@pytest.mark.parametrize(("kw", "match"), [
    ({"crews": 0}, "The 'crews' parameter of restoration must be an int >= 1. Got 0 instead."),
    ({"crews": 2.5}, "'crews'"),
    ({"speed_kmh": 0}, "'speed_kmh'"),
    ({"road_factor": 0.9}, "'road_factor'"),
    ({"repair_sigma": -1}, "'repair_sigma'"),
    ({"spare_stock": {"widget": 1}}, "'spare_stock'"),
    ({"spare_stock": {"transformer": -1}}, "'spare_stock'"),
    ({"needs_spare": ("bus",), "spare_lead_time_h": {"transformer": 5.0}},
     "'spare_lead_time_h'"),
    ({"depots": (("a", 1),)}, "'depots'"),
    ({"repair_h": {"l1": 3.0}}, "'repair_h'"),
    ({"optimal_max_jobs": 20}, "'optimal_max_jobs'"),
])
def test_settings_are_validated(kw, match):
    with pytest.raises(UsageError, match=match.replace("(", r"\(").replace(")", r"\)")):
        RestorationSettings(**kw)


def test_settings_defaults_and_needs_spare():
    s = RestorationSettings(needs_spare=("bus",))
    assert s.needs_spare == ("transformer", "bus")
    assert s.spares_for("bus") == (0, 168.0)
    with pytest.raises(UsageError, match="no parameter 'crew'"):
        s.replace(crew=3)


def test_supply_equals_assess_on_random_states(matpower_grid):
    from gridres.impact import FACILITY_GRID, assess

    net = matpower_grid("case118").network
    rng = np.random.default_rng(5)
    for _ in range(25):
        st = net.intact().fail(rng.choice(net.n_bus, 3, replace=False),
                               rng.choice(net.n_branch, 12, replace=False),
                               rng.choice(net.n_gen, 4, replace=False))
        imp = assess(net, st)
        sup = supply(net, st)
        np.testing.assert_allclose(sup.served_mw, imp.served_mw, atol=1e-9)
        np.testing.assert_array_equal(sup.energized, imp.energized)
        np.testing.assert_array_equal(sup.fac_grid, imp.facility == FACILITY_GRID)


def test_gains_equal_supply_and_bounds_hold(matpower_grid):
    from gridres.restoration.policies import Gains

    net = matpower_grid("case118").network
    rng = np.random.default_rng(8)
    reconnecting = set()
    for _ in range(10):
        fb = rng.choice(net.n_bus, 4, replace=False)
        fl = rng.choice(net.n_branch, 15, replace=False)
        fg = rng.choice(net.n_gen, 6, replace=False)
        st = net.intact().fail(fb, fl, fg)
        masks = (st.bus, st.branch, st.gen)
        ctx = Gains(net, st)
        base = supply(net, State(*masks)).total_mw
        assert ctx.served_mw == pytest.approx(base)
        cands = [(0, int(p)) for p in fb] + [(1, int(p)) for p in fl] + [(2, int(p)) for p in fg]
        ub = ctx.bounds([e for e, _ in cands], [p for _, p in cands])
        for (e, p), bound in zip(cands, ub, strict=True):
            m = [x.copy() for x in masks]
            m[e][p] = True
            exact = max(0.0, supply(net, State(*m)).total_mw - base)
            assert ctx.gain(e, p) == pytest.approx(exact, abs=1e-9)
            assert bound >= exact - 1e-9
            if bound == 0:
                assert exact == 0
            if exact > 0:
                reconnecting.add(e)
    assert reconnecting == {0, 1, 2}  # buses, branches and generators were all exercised


def test_pure_metric_functions():
    assert energy_not_served([0.0, 1.0], [5.0, 0.0], 3.0) == 5.0
    assert restoration_times([0.0], [0.0]) == [0.0, 0.0, 0.0]
    # not restored by the end: NaN
    t = restoration_times([0.0, 4.0], [10.0, 6.0], fractions=(0.3, 0.5))
    assert t[0] == 4.0 and math.isnan(t[1])
    # two facilities, one without backup (dark at once), one on 3 h of backup; the
    # third, not counted (no grid power before the event), gets no hours
    h = status_hours(np.array([0.0, 3.0, 5.0]),
                     np.array([[DARK, BACKUP, DARK], [DARK, DARK, DARK], [GRID, GRID, GRID]]),
                     np.array([True, True, False]), 8.0)
    assert h[DARK].tolist() == [5.0, 2.0, 0.0] and h[BACKUP].tolist() == [0.0, 3.0, 0.0]
    assert h[GRID].tolist() == [3.0, 3.0, 0.0]


# -- the command -------------------------------------------------------------------------
@pytest.fixture()
def feeder_file(tmp_path):
    from gridres.io.geopackage import write_geopackage

    fac = [{"id": "H", "bus": "c", "kind": "hospital", "demand_mw": 5.0, "backup_mw": 5.0,
            "backup_hours": 10.0, "people": 1000}]
    return str(write_geopackage(feeder(geometry=True, facilities=fac), tmp_path / "f.gpkg"))


def test_cli_json_and_out(feeder_file, tmp_path):
    out = tmp_path / "res"
    r = CliRunner().invoke(cli, [
        "restore", feeder_file, "--fail", "branch:t1", "--fail", "branch:l1",
        "--fail", "branch:l2", "--fail", "branch:l3", "--crews", "1", "--policy", "as-listed",
        "--policy", "greedy", "--policy", "optimal", "--json", "--out", str(out),
        "--speed-kmh", "60", "--road-factor", "1.2", "--depot", "s"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    rows = {p["policy"]: p for p in doc["policies"]}
    assert set(rows) == {"as-listed", "greedy", "optimal"}
    for row in rows.values():
        assert {"policy", "ens_mwh", "customer_hours", "facility_hours_dark", "t50_h",
                "t90_h", "t100_h"} <= set(row)
    # as-listed follows the --fail order: t1 first
    first = min(doc["details"]["as-listed"]["schedule"], key=lambda s: s["start_h"])
    assert first["element"] == "branch:t1"
    assert rows["greedy"]["ens_mwh"] == pytest.approx(3210.25)
    assert rows["optimal"]["ens_mwh"] <= rows["greedy"]["ens_mwh"] + 1e-6
    files = {p.name for p in out.iterdir()}
    assert {"summary.json", "comparison.csv", "curve_greedy.csv", "schedule_greedy.csv",
            "schedule_greedy.json", "facilities_optimal.csv"} <= files
    sched = pd.read_csv(out / "schedule_greedy.csv")
    assert list(sched.columns[:4]) == ["crew", "element", "kind", "wave"]
    assert json.loads((out / "summary.json").read_text())["policies"][0]["policy"] == "as-listed"


def test_cli_table_and_errors(feeder_file, tmp_path):
    r = CliRunner().invoke(cli, ["restore", feeder_file, "--fail", "branch:l1"])
    assert r.exit_code == 0, r.output
    assert "greedy" in r.output
    from gridres.cli.common import run_cli

    assert run_cli(cli, ["restore", feeder_file]) == 2
    assert run_cli(cli, ["restore", feeder_file, "--fail", "branch:l1", "--policy",
                         "gredy"]) == 2
    assert run_cli(cli, ["restore", feeder_file, "--fail", "branch:zz"]) == 2
    assert run_cli(cli, ["restore", feeder_file, "--fail", "branch:l1", "--crews", "0"]) == 2
    assert run_cli(cli, ["restore", feeder_file, "--fail", "branch:l1", "--policy",
                         "priority-list"]) == 2
    assert run_cli(cli, ["restore", feeder_file, "--fail", "branch:l1", "--priority-file",
                         str(tmp_path / "missing.txt")]) == 66


def test_cli_scenario_spec_matches_ensemble_scenario_zero(feeder_file):
    r = CliRunner().invoke(cli, ["restore", feeder_file, "--scenario", "random:k=2",
                                 "--seed", "4", "--json", "--repair-sigma", "0.3"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    from gridres.io import load_grid
    from gridres.restoration import RestorationEvaluator
    from gridres.scenarios.spec import scenario_from_spec

    g = load_grid(feeder_file)
    rng = np.random.default_rng([4, 0])
    sc = scenario_from_spec("random:k=2", g).sample(g.network, rng)
    assert sc.to_ids(g.network) == doc["scenario"]
    ev = RestorationEvaluator.for_grid(g, RestorationSettings(repair_sigma=0.3))
    rec = ev(g.network, sc, rng)
    assert rec["ens_mwh__greedy"] == pytest.approx(doc["policies"][0]["ens_mwh"])
