"""Fuel trucks, mobile generators and services over time in the restoration loop, worked
by hand (gridres.restoration.fleets, gridres.restoration.service_hours)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from shapely.geometry import Point

from builders import make_grid
from gridres.cli import cli
from gridres.errors import UsageError
from gridres.restoration import RestorationSettings, get_policy, prepare, simulate
from gridres.scenarios.base import Scenario

# A line from the source s (x = 0) to the hospital's bus h (x = 40 km), UTM metres, no
# towns. l1 is 10 km long: repair 4 + 0.2 * 10 = 6 h. The crew's depot is s; l1's
# middle is 20 km away: 20 * 1.3 / 40 = 0.65 h. Power is back at 6.65 h.
# Travel of trucks and generators: km * 1.3 / 40 h.


def line_grid(backup_mw=1.0, backup_hours=2.0, towns=False):
    buses = [{"id": "s", "ref": True, "geometry": Point(0.0, 0.0)},
             {"id": "h", "load_mw": 1.0, "customers": 10, "geometry": Point(40_000.0, 0.0),
              **({"town": "T"} if towns else {})}]
    fac = [{"id": "H", "bus": "h", "kind": "hospital", "demand_mw": 1.0,
            "backup_mw": backup_mw, "backup_hours": backup_hours, "people": 100,
            "depends_on": "none"}]
    extra = {}
    if towns:
        fac = [{"id": "W", "bus": "h", "kind": "water", "demand_mw": 1.0,
                "backup_mw": backup_mw, "backup_hours": backup_hours, "people": 0}]
        import pandas as pd

        extra["towns"] = pd.DataFrame({"id": ["T"], "population": [1000]})
    return make_grid(buses,
                     [{"id": "l1", "from_bus": "s", "to_bus": "h", "x_pu": 0.1,
                       "length_km": 10.0}],
                     [{"id": "g", "bus": "s", "pmax_mw": 10.0}], fac, crs="EPSG:32633",
                     **extra)


def run(g, policy="greedy", **kw):
    s = RestorationSettings(crews=1, depots=("s",), **kw)
    return simulate(g.network, prepare(g, s), Scenario.single(branches=[0]), policy)


def test_without_fleets_the_tank_runs_dry():
    # 2 h of fuel, power back at 6.65 h: dark 4.65 h
    res = run(line_grid())
    f = res.facilities.loc["H"]
    assert f["hours_on_backup"] == pytest.approx(2.0)
    assert f["hours_dark"] == pytest.approx(4.65)
    assert res.metrics["people_hours"] == pytest.approx(465.0)
    # the run records the instant the tank runs dry
    c = res.curve.set_index("time_h")
    assert c.loc[2.0, "facilities_dark"] == 1 and c.loc[0.0, "facilities_on_backup"] == 1


def test_a_near_truck_refills_in_time():
    # depot 10 km from the hospital: 0.325 h. The tank (2 h) calls at 1 h left (t = 1);
    # the truck arrives at 1.325 and refills 0.5 h: at 1.825 the tank (0.175 h left)
    # takes 1.825 h = 1.825 * 1 MW * 270 l/MWh = 492.75 l and is full. Home at 2.15.
    # Next calls at 2.825 and 4.65 (done 3.65, 5.475, 492.75 l each); the call at 6.475
    # sends the truck again, but power is back at 6.65 and the run ends. Never dark.
    res = run(line_grid(), fuel_trucks=1, fuel_depots=((50_000.0, 0.0),), refuel_h=0.5,
              refuel_call_h=1.0)
    f = res.facilities.loc["H"]
    assert f["hours_dark"] == 0.0
    assert f["hours_on_backup"] == pytest.approx(6.65)
    d = res.fleets["deliveries"]
    assert [round(x["sent_h"], 6) for x in d] == [1.0, 2.825, 4.65, 6.475]
    assert [round(x["done_h"], 6) for x in d[:3]] == [1.825, 3.65, 5.475]
    assert [x["litres"] for x in d[:3]] == pytest.approx([492.75] * 3)
    assert math.isnan(d[3]["done_h"])  # still on its way when the run ended


def test_a_far_truck_arrives_after_the_tank_ran_dry():
    # depot 55 km away: 1.7875 h. Call at 1, arrival 2.7875, refilled at 3.2875 (tank
    # empty since 2: 2 h = 540 l). The truck is home at 5.075 and leaves again at once
    # (0.2125 h left, below the 1 h call), but the tank runs dry at 5.2875 and power is
    # back at 6.65 before the truck arrives (6.8625).
    # Dark: 2 to 3.2875 and 5.2875 to 6.65 = 1.2875 + 1.3625 = 2.65 h.
    res = run(line_grid(), fuel_trucks=1, fuel_depots=((-15_000.0, 0.0),), refuel_h=0.5,
              refuel_call_h=1.0)
    f = res.facilities.loc["H"]
    assert f["hours_dark"] == pytest.approx(2.65)
    assert f["hours_on_backup"] == pytest.approx(4.0)
    d = res.fleets["deliveries"]
    assert d[0]["done_h"] == pytest.approx(3.2875) and d[0]["litres"] == pytest.approx(540.0)
    assert d[1]["sent_h"] == pytest.approx(5.075)
    # two trucks: the second leaves at 4.2875 (1 h left), refills at 6.575 after the
    # tank ran dry at 5.2875: dark 1.2875 + 1.2875 = 2.575 h
    two = run(line_grid(), fuel_trucks=2, fuel_depots=((-15_000.0, 0.0),), refuel_h=0.5,
              refuel_call_h=1.0)
    assert two.facilities.loc["H", "hours_dark"] == pytest.approx(2.575)


def test_the_fuel_stock_runs_out():
    # as the near truck, with 600 l in stock: 492.75 l at 1.825, then the last 107.25 l
    # at 3.65 (0.39722 h on top of 0.175 h left): dry at 3.65 + 0.57222 = 4.22222,
    # dark until 6.65 (2.42778 h). No truck leaves after the stock is used up.
    res = run(line_grid(), fuel_trucks=1, fuel_depots=((50_000.0, 0.0),), refuel_h=0.5,
              refuel_call_h=1.0, fuel_stock_l=600.0)
    left = 0.175 + 107.25 / 270.0
    assert res.facilities.loc["H", "hours_dark"] == pytest.approx(6.65 - 3.65 - left)
    d = res.fleets["deliveries"]
    assert len(d) == 2 and d[1]["litres"] == pytest.approx(107.25)
    assert res.fleets["fuel_stock_out_h"] == pytest.approx(3.65)
    assert any("fuel stock ran out at 3.7 h" in n for n in res.notes)


def test_a_mobile_generator_arrives_in_time():
    # no backup: dark from 0. A 2 MW unit 10 km away: 0.325 h, connected 2 h later, at
    # 2.325 h; it powers the hospital until the grid is back at 6.65 h.
    res = run(line_grid(backup_mw=0.0, backup_hours=0.0), mobile_generators=((2.0, (50_000.0, 0.0)),))
    f = res.facilities.loc["H"]
    assert f["hours_dark"] == pytest.approx(2.325)
    assert f["hours_on_mobile"] == pytest.approx(4.325)
    c = res.fleets["connections"][0]
    assert (c["facility"], c["arrive_h"], c["connected_h"]) == ("H", pytest.approx(0.325),
                                                                 pytest.approx(2.325))
    # a unit too small for the 1 MW demand is never sent
    small = run(line_grid(backup_mw=0.0, backup_hours=0.0),
                mobile_generators=((0.5, (50_000.0, 0.0)),))
    assert small.facilities.loc["H", "hours_dark"] == pytest.approx(6.65)
    assert small.fleets["connections"] == []


def three_dark():
    # A, B, C dark at once (no backups), one 5 MW unit at s. All three feeders fail and
    # take 6 h; power returns at 6 h + travel for the crew.
    #   A: 100 people, 1 MW, 40 km   -> 100 people/MW
    #   B: 150 people, 3 MW, 30 km   -> 50 people/MW
    #   C: 10 people, 0.5 MW, 5 km   -> 20 people/MW
    buses = [{"id": "s", "ref": True, "geometry": Point(0.0, 0.0)}]
    branches, facs = [], []
    for name, x, people, mw in (("a", 40_000.0, 100, 1.0), ("b", 30_000.0, 150, 3.0),
                                ("c", 5_000.0, 10, 0.5)):
        buses.append({"id": name, "load_mw": mw, "geometry": Point(x, 0.0)})
        branches.append({"id": f"l{name}", "from_bus": "s", "to_bus": name, "x_pu": 0.1,
                         "length_km": 10.0})
        facs.append({"id": name.upper(), "bus": name, "kind": "hospital", "demand_mw": mw,
                     "people": people, "depends_on": "none"})
    return make_grid(buses, branches, [{"id": "g", "bus": "s", "pmax_mw": 10.0}], facs,
                     crs="EPSG:32633")


@pytest.mark.parametrize(("rule", "first"), [("critical-first", "B"), ("people-per-mw", "A"),
                                             ("nearest", "C")])
def test_mobile_dispatch_rules(rule, first):
    g = three_dark()
    s = RestorationSettings(crews=1, depots=("s",), mobile_generators=(5.0,))
    sc = Scenario.single(branches=[0, 1, 2])
    res = simulate(g.network, prepare(g, s), sc, f"as-listed/{rule}")
    assert res.policy == f"as-listed/{rule}"
    assert res.fleets["connections"][0]["facility"] == first
    # the settings' rule is the default of a policy without /RULE
    same = simulate(g.network, prepare(g, s.replace(mobile_dispatch=rule)), sc, "as-listed")
    assert same.fleets["connections"][0]["facility"] == first


def test_unknown_dispatch_rule_and_settings():
    with pytest.raises(UsageError, match="not a mobile generator dispatch rule"):
        get_policy("greedy/closest")
    with pytest.raises(UsageError, match="'fuel_stock_l'"):
        RestorationSettings(fuel_stock_l=-1.0)
    with pytest.raises(UsageError, match="'fuel_trucks'"):
        RestorationSettings(fuel_trucks=-2)
    with pytest.raises(UsageError, match="'mobile_generators'"):
        RestorationSettings(mobile_generators=({"mw": 1.0, "site": "x"},))
    g = line_grid()
    with pytest.raises(UsageError, match="off the map"):
        prepare(g, RestorationSettings(fuel_depots=((900_000.0, 0.0),)))
    with pytest.raises(UsageError, match="not a bus id"):
        prepare(g, RestorationSettings(mobile_generators=((1.0, "nowhere"),)))


def test_water_people_hours_in_restore_json(tmp_path):
    # the waterworks W (no backup) serves town T (1000 people, fed by bus h); its
    # reservoir holds 12 h. Power is back at 6.65 h: no one loses water; power:
    # 1000 people for 6.65 h = 6650 people-hours. A 13 h repair (a line of 45 km:
    # 4 + 0.2 * 45) brings power back at 13.65 h: T loses water from 12 h to 13.65 h,
    # 1.65 h * 1000 = 1650 people-hours, and power for 13,650 people-hours.
    from gridres.io.geopackage import write_geopackage

    g = line_grid(backup_mw=0.0, backup_hours=0.0, towns=True)
    path = str(write_geopackage(g, tmp_path / "t.gpkg"))
    out = CliRunner().invoke(cli, ["restore", path, "--fail", "branch:l1", "--crews", "1",
                                   "--depot", "s", "--json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    sph = doc["policies"][0]["service_people_hours"]
    assert sph["power"] == pytest.approx(6650.0) and sph["water"] == 0.0
    longer = g.replace(branches=g.branches.assign(length_km=45.0))
    res = run(longer)
    assert res.metrics["service_people_hours_water"] == pytest.approx(1650.0)
    assert res.metrics["service_people_hours_power"] == pytest.approx(13650.0)
    towns = res.services.by_town()
    water = towns[towns["service"] == "water"]
    assert water["time_h"].tolist() == pytest.approx([12.0])
    assert water["people"].tolist() == [1000]
    assert res.services.at(np.array([11.0, 12.5, 13.7])).sum(axis=2)[:, 1].tolist() == \
        [0.0, 1000.0, 0.0]


def test_cli_bad_fleet_input_is_one_line_exit_2(tmp_path, capsys):
    from gridres.cli.common import run_cli
    from gridres.io.geopackage import write_geopackage

    path = str(write_geopackage(line_grid(), tmp_path / "t.gpkg"))
    capsys.readouterr()
    for args, text in ((["--fuel-depot", "900000,0"], "off the map"),
                       (["--fuel-stock-l", "-5"], "fuel_stock_l"),
                       (["--mobile-gen", "x@s"], "--mobile-gen"),
                       (["--policy", "greedy/far"], "dispatch rule")):
        code = run_cli(cli, ["restore", path, "--fail", "branch:l1", "--fuel-trucks", "1",
                             *args])
        err = capsys.readouterr().err
        assert code == 2, (args, err)
        assert text in err and len(err.strip().splitlines()) == 1, err


# -- invariants ---------------------------------------------------------------------------
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10_000), st.integers(0, 2))
@example(6399, 1)  # one facility darker with a truck more, all of them less
def test_more_trucks_never_more_dark_hours_on_a_fixed_schedule(seed, trucks):
    # as-listed repairs do not read the facilities, so the grid's timeline is the same
    # with any fleet; one depot, unlimited fuel: a truck more never leaves the facilities
    # dark longer in all, nor people longer without a service. One facility may wait
    # longer (first come, first served: the extra truck takes another call first, and the
    # next free truck starts farther away; seed 6399 with 1 -> 2 trucks).
    rng = np.random.default_rng(seed)
    n = 4
    buses = [{"id": "s", "ref": True, "geometry": Point(0.0, 0.0)}]
    branches, facs = [], []
    for i in range(n):
        x, y = rng.uniform(-60_000, 60_000, 2)
        buses.append({"id": f"b{i}", "load_mw": 1.0, "geometry": Point(x, y)})
        branches.append({"id": f"l{i}", "from_bus": "s", "to_bus": f"b{i}", "x_pu": 0.1,
                         "length_km": float(rng.uniform(5, 150))})
        facs.append({"id": f"F{i}", "bus": f"b{i}", "kind": "water", "demand_mw": 1.0,
                     "backup_mw": 1.0, "backup_hours": float(rng.uniform(1, 8)),
                     "people": int(rng.integers(10, 1000))})
    g = make_grid(buses, branches, [{"id": "g", "bus": "s", "pmax_mw": 50.0}], facs,
                  crs="EPSG:32633")
    sc = Scenario.single(branches=list(range(n)))

    def go(k):
        s = RestorationSettings(crews=1, depots=("s",), fuel_trucks=k, refuel_h=0.5)
        return simulate(g.network, prepare(g, s), sc, "as-listed")

    a, b = go(trucks), go(trucks + 1)
    assert b.facilities["hours_dark"].sum() <= a.facilities["hours_dark"].sum() + 1e-9
    assert b.metrics["service_people_hours_water"] <= a.metrics["service_people_hours_water"] + 1e-6
    pd_a, pd_b = a.schedule["end_h"].to_numpy(), b.schedule["end_h"].to_numpy()
    assert np.allclose(pd_a, pd_b)


def test_critical_first_counts_the_people_of_dependent_services():
    # town T (400 people). Waterworks W supplies all of T with water; the heating plant
    # HT heats 75 % of T and needs water (make-up water, no buffer). Impact, worked by
    # hand: W stopping costs 400 (water) + 300 (heat, HT stops without water) = 700
    # people; HT stopping costs 300. Both feeders fail, the same repair hours; as-listed
    # repairs HT's first (listed first), critical-first W's.
    import pandas as pd

    buses = [{"id": "s", "ref": True},
             {"id": "h", "load_mw": 1.0, "town": "T"}, {"id": "w", "load_mw": 1.0, "town": "T"}]
    branches = [{"id": "lh", "from_bus": "s", "to_bus": "h", "x_pu": 0.1, "length_km": 10.0},
                {"id": "lw", "from_bus": "s", "to_bus": "w", "x_pu": 0.1, "length_km": 10.0}]
    facs = [{"id": "HT", "bus": "h", "kind": "heating", "demand_mw": 1.0, "coverage": 0.75,
             "depends_on": "water@0"},
            {"id": "W", "bus": "w", "kind": "water", "demand_mw": 1.0, "storage_h": 0.0}]
    g = make_grid(buses, branches, [{"id": "g", "bus": "s", "pmax_mw": 10.0}], facs,
                  towns=pd.DataFrame({"id": ["T"], "population": [400]}))
    a = prepare(g, RestorationSettings(crews=1))
    assert a.fac_impact.tolist() == pytest.approx([300.0, 700.0])
    sc = Scenario.single(branches=[0, 1])
    cf = simulate(g.network, a, sc, "critical-first")
    assert cf.schedule.sort_values("start_h")["element"].tolist() == ["branch:lw", "branch:lh"]
    listed = simulate(g.network, a, sc, "as-listed")
    assert listed.schedule.sort_values("start_h")["element"].tolist() == ["branch:lh",
                                                                           "branch:lw"]
    # water: 400 people lack it from 0 (no storage) until lw is back, 6 h or 12 h
    assert cf.metrics["service_people_hours_water"] == pytest.approx(400 * 6.0)
    assert listed.metrics["service_people_hours_water"] == pytest.approx(400 * 12.0)


def test_priority_list_with_a_dispatch_rule_follows_the_list_in_ensembles():
    # "priority-list/nearest" is the planner's list with mobile units sent nearest first:
    # the evaluator must hand it the list, as it does for plain "priority-list"
    import gridres
    from gridres.ensemble import ImpactEvaluator
    from gridres.restoration import RestorationEvaluator

    g = gridres.load_grid("demo_region")
    outage = Scenario.from_state(g.network, gridres.outage_state(
        g, ["substation:Kaltenfeld 1", "substation:Wolfau"]))
    ev = RestorationEvaluator.for_grid(
        g, RestorationSettings(crews=1, mobile_generators=((2.0, "VBS-110"),)),
        ["greedy", "priority-list/nearest"], ["bus:WOLF-110"], impact=ImpactEvaluator())
    rec = ev(g.network, outage, np.random.default_rng(0))
    # Wolfau first (the list) serves less energy than Kaltenfeld first (greedy)
    assert rec["ens_mwh__priority-list/nearest"] > rec["ens_mwh__greedy"] + 100


def test_a_fleet_instant_on_a_clock_hour_takes_the_new_hours_demand(tmp_path):
    # line_grid plus bus a (1 MW, never out) on l2. Demand factor 0.5 until 02:00, then 1.
    # The hospital's tank (2 h) runs dry at 2.0 h, the very instant the hour's demand
    # changes: the run must assess the new hour there, not record the tank's instant
    # with the served load of the hour before. h is out from 0 to 6.65 h:
    # ENS = 0.5 MW x 2 h + 1 MW x 4.65 h = 5.65 MWh.
    from gridres.restoration.demand import DemandSettings, timeline

    buses = [{"id": "s", "ref": True, "geometry": Point(0.0, 0.0)},
             {"id": "h", "load_mw": 1.0, "customers": 10, "geometry": Point(40_000.0, 0.0)},
             {"id": "a", "load_mw": 1.0, "customers": 10, "geometry": Point(0.0, 40_000.0)}]
    fac = [{"id": "H", "bus": "h", "kind": "hospital", "demand_mw": 1.0, "backup_mw": 1.0,
            "backup_hours": 2.0, "people": 100, "depends_on": "none"}]
    g = make_grid(buses, [{"id": "l1", "from_bus": "s", "to_bus": "h", "x_pu": 0.1,
                           "length_km": 10.0},
                          {"id": "l2", "from_bus": "s", "to_bus": "a", "x_pu": 0.1,
                           "length_km": 10.0}],
                  [{"id": "g", "bus": "s", "pmax_mw": 10.0}], fac, crs="EPSG:32633")
    path = tmp_path / "profile.csv"
    path.write_text("hour,bus,factor\n" + "".join(
        f"{h},{b},{0.5 if h < 2 else 1.0}\n" for h in range(24) for b in "ha"))
    s = RestorationSettings(crews=1, depots=("s",))
    tl = timeline(g, DemandSettings(profile=str(path)), horizon_h=s.horizon_h)
    res = simulate(g.network, prepare(g, s), Scenario.single(branches=[0]), "greedy",
                   timeline=tl)
    assert res.metrics["ens_mwh"] == pytest.approx(5.65)
    assert res.metrics["customer_hours"] == pytest.approx(10 * 6.65)
    c = res.curve.set_index("time_h")
    assert c.loc[2.0, "served_mw"] == pytest.approx(1.0)
    assert c.loc[2.0, "facilities_dark"] == 1
    assert res.deficit.hours["demand_mw"].tolist() == pytest.approx([1.0, 1.0] + [2.0] * 5)


def test_restore_priority_list_with_a_dispatch_rule_follows_the_file(tmp_path):
    # `restore --policy priority-list/nearest --priority-file F` is the planner's list with
    # mobile units sent nearest first: the list must reach it (it was refused as a
    # priority-list without a list), and no plain priority-list run is added beside it
    prio = tmp_path / "order.txt"
    prio.write_text("bus:WOLF-110\n")
    args = ["restore", "demo_region", "--fail", "substation:Kaltenfeld 1", "--fail",
            "substation:Wolfau", "--crews", "1", "--mobile-gen", "2@VBS-110", "--json"]
    out = CliRunner().invoke(cli, [*args, "--policy", "greedy", "--policy",
                                   "priority-list/nearest", "--priority-file", str(prio)])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert [r["policy"] for r in doc["policies"]] == ["greedy", "priority-list/nearest"]
    listed = doc["details"]["priority-list/nearest"]["schedule"]
    assert min(listed, key=lambda r: r["start_h"])["element"] == "bus:WOLF-110"
    # the list changes the order: greedy starts elsewhere
    greedy = doc["details"]["greedy"]["schedule"]
    assert min(greedy, key=lambda r: r["start_h"])["element"] != "bus:WOLF-110"
    # nor beside it in an ensemble
    ens = CliRunner().invoke(cli, ["ensemble", "demo_region", "--restore", "--scenario",
                                   "random:k=1", "--n", "1", "--seed", "1", "--workers", "1",
                                   "--policy", "priority-list/nearest", "--priority-file",
                                   str(prio), "--json"])
    assert ens.exit_code == 0, ens.output
    rows = json.loads(ens.stdout)["restoration"]["metrics"]["ens_mwh"]
    assert [r["policy"] for r in rows] == ["priority-list/nearest"]
