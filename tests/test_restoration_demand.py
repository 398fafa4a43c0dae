"""Demand and capacity over time inside restoration, and rotation during restoration:
the static behaviour kept exactly, ENS and customer-hours worked by hand on small grids
across an evening peak, capacity limits, and a rotation worked by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from builders import make_grid
from gridres.deficit.profiles import typical_day
from gridres.elements import as_state
from gridres.errors import GridError, UsageError
from gridres.io import load_grid
from gridres.restoration import RestorationSettings, prepare, simulate
from gridres.restoration.demand import DemandSettings, timeline
from gridres.restoration.rotation import RotationSettings
from gridres.scenarios.base import Scenario, Wave

TOL = 1e-6


def radial(loads: dict[str, float], customers: dict[str, int], pmax: float = 100.0,
           extra_gen: float | None = None, lengths: float = 10.0):
    """A source bus ``s`` with generator ``g1`` (and ``g2`` if ``extra_gen``), and one line
    ``l-X`` from ``s`` to every load bus ``X``; no coordinates (travel takes no time)."""
    buses = [{"id": "s", "ref": True, "load_mw": 0.0}] + [
        {"id": b, "load_mw": mw, "customers": customers[b]} for b, mw in loads.items()]
    branches = [{"id": f"l-{b}", "from_bus": "s", "to_bus": b, "x_pu": 0.1,
                 "length_km": lengths} for b in loads]
    gens = [{"id": "g1", "bus": "s", "pmax_mw": pmax, "p_mw": min(pmax, sum(loads.values()))}]
    if extra_gen is not None:
        gens.append({"id": "g2", "bus": "s", "pmax_mw": extra_gen, "p_mw": 0.0})
    return make_grid(buses, branches, gens)


def run(grid, outage, policy="greedy", *, demand=None, rotation=None, settings=None,
        cascade="none"):
    settings = settings or RestorationSettings(crews=1)
    sc = outage if isinstance(outage, Scenario) else Scenario.from_state(
        grid.network, as_state(grid, outage))
    tl = None
    if demand is not None or rotation is not None:
        tl = timeline(grid, demand, rotation, horizon_h=settings.horizon_h)
    return simulate(grid.network, prepare(grid, settings), sc, policy, cascade=cascade,
                    timeline=tl)


# -- the static behaviour is the default and a flat profile keeps it ------------------------


@pytest.mark.parametrize("mode", ["none", "trip"])
def test_flat_profile_equals_the_static_restoration(mode):
    g = load_grid("demo_region")
    outages = [["bus:KAL-110"], ["branch:" + g.branches.index[3], "gen:G-HAL-1"],
               ["substation:" + g.buses["substation"].iloc[10]]]
    settings = RestorationSettings(crews=2)
    for outage in outages:
        for policy in ("greedy", "critical-first"):
            static = run(g, outage, policy, settings=settings, cascade=mode)
            flat = run(g, outage, policy, demand=DemandSettings(
                profile="flat", start="2025-07-03T04:20"), settings=settings, cascade=mode)
            for key in ("ens_mwh", "customer_hours", "facility_hours_dark", "t50_h",
                        "t100_h", "longest_outage_h", "jain_customers", "deficit_mwh"):
                assert flat.metrics[key] == pytest.approx(static.metrics[key], abs=0,
                                                          nan_ok=True), (outage, policy, key)
            pd.testing.assert_frame_equal(flat.curve, static.curve)
            pd.testing.assert_frame_equal(flat.schedule, static.schedule)


def test_the_static_timeline_keeps_the_grids_network():
    g = load_grid("ieee14")
    tl = timeline(g, DemandSettings(profile="flat"))
    run_ = tl.start_run(g.network, __import__("gridres.cascade").cascade.CascadeOptions())
    assert tl.static and run_.network(0.0, g.network.intact().gen) is g.network


# -- ENS under a profile, by hand ------------------------------------------------------------


def _profile_file(tmp_path, factors: dict[int, float], bus: str = "a"):
    path = tmp_path / "profile.csv"
    rows = [f"{h},{bus},{factors.get(h, 0.5)}" for h in range(24)]
    path.write_text("hour,bus,factor\n" + "\n".join(rows) + "\n")
    return str(path)


def test_ens_across_the_evening_peak_worked_by_hand(tmp_path):
    # bus a: 10 MW at peak, 100 customers; the file's hour 0 is the event's start hour
    # (16:00): factor 0.5 at 16:00, 1.0 from 17:00 to 20:59, 0.5 from 21:00
    g = radial({"a": 10.0}, {"a": 100})
    path = _profile_file(tmp_path, {1: 1.0, 2: 1.0, 3: 1.0, 4: 1.0})
    settings = RestorationSettings(crews=1, repair_h={"branch:l-a": 5.0})
    res = run(g, ["branch:l-a"], demand=DemandSettings(profile=path,
                                                       start="2025-01-06T16:30"),
              settings=settings)
    # the line is out from 16:30 to 21:30:
    #   16:30-17:00 0.5 h x 5 MW = 2.5; 17:00-21:00 4 h x 10 MW = 40; 21:00-21:30 2.5
    assert res.metrics["ens_mwh"] == pytest.approx(45.0, abs=TOL)
    assert res.metrics["customer_hours"] == pytest.approx(500.0, abs=TOL)
    static = run(g, ["branch:l-a"], settings=settings)
    assert static.metrics["ens_mwh"] == pytest.approx(50.0, abs=TOL)
    # the curve steps at every clock hour where the demand changes
    assert res.curve["time_h"].tolist() == pytest.approx([0.0, 0.5, 4.5, 5.0])
    assert res.curve["lost_mw"].tolist() == pytest.approx([5.0, 10.0, 5.0, 0.0])
    hours = res.deficit.hours
    assert hours["time"].tolist()[:2] == ["2025-01-06T16:00", "2025-01-06T17:00"]
    assert hours["demand_mw"].tolist() == pytest.approx([5.0, 10, 10, 10, 10, 5.0])


def test_ens_of_a_winter_evening_and_a_summer_night_from_the_typical_shapes():
    # a residential bus (no load_class column: half residential, half commercial); the
    # same 3 h outage at 18:00 on a January weekday and at 03:00 on a July Sunday
    g = radial({"a": 10.0}, {"a": 1000})
    settings = RestorationSettings(crews=1, repair_h={"branch:l-a": 3.0})
    got = {}
    for start, season, day in (("2025-01-08T18:00", "winter", "weekday"),
                               ("2025-07-06T03:00", "summer", "weekend")):
        res = run(g, ["branch:l-a"], demand=DemandSettings(profile="typical", start=start),
                  settings=settings)
        h = int(start[11:13])
        res_f = typical_day("residential", season, day)
        com_f = typical_day("commercial", season, day)
        peak = (0.5 * typical_day("residential", "winter", "weekday")
                + 0.5 * typical_day("commercial", "winter", "weekday")).max()
        want = sum(10.0 * (0.5 * res_f[k] + 0.5 * com_f[k]) / peak for k in range(h, h + 3))
        assert res.metrics["ens_mwh"] == pytest.approx(want, rel=1e-9)
        assert res.metrics["customer_hours"] == pytest.approx(3000.0)
        got[season] = res.metrics["ens_mwh"]
    assert got["winter"] > 1.5 * got["summer"]


def test_capacity_file_and_derating_shed_by_the_hour(tmp_path):
    # 10 MW of load at bus a, one 100 MW unit derated by 88 % to 12 MW; a capacity file
    # holds the grid at 7 MW for the first two hours of the event, then 20 MW (more than
    # the unit gives). The event fails line l-b (to a bus without load) for 4 h.
    g = radial({"a": 10.0, "b": 0.0}, {"a": 100, "b": 0}, pmax=100.0)
    path = tmp_path / "capacity.csv"
    path.write_text("hour,capacity_mw\n0,7\n1,7\n2,20\n")
    settings = RestorationSettings(crews=1, repair_h={"branch:l-b": 4.0})
    res = run(g, ["branch:l-b"], demand=DemandSettings(derate=0.88, capacity_file=str(path)),
              settings=settings)
    # hours 0-1: min(7, 12) = 7 MW serves 7 of 10: 3 MW x 2 h; hours 2-3: 12 MW covers
    assert res.metrics["ens_mwh"] == pytest.approx(6.0, abs=TOL)
    assert res.metrics["deficit_mwh"] == pytest.approx(6.0, abs=TOL)
    assert res.deficit.hours["capacity_mw"].tolist() == pytest.approx([7.0, 7.0, 12.0, 12.0])
    assert any("last value holds" in n for n in res.notes)


def test_generators_lost_and_repaired_set_the_capacity_of_every_hour():
    # 10 MW load; g1 (6 MW) and g2 (8 MW); g2 fails at 0 and returns after 5 h
    g = radial({"a": 10.0}, {"a": 100}, pmax=6.0, extra_gen=8.0)
    settings = RestorationSettings(crews=1, generator_h=5.0)
    res = run(g, ["gen:g2"], demand=DemandSettings(profile="flat", start="2025-01-06T12:00",
                                                   derate=0.0), settings=settings)
    assert res.metrics["ens_mwh"] == pytest.approx(4.0 * 5, abs=TOL)
    assert res.deficit.hours["capacity_mw"].tolist() == pytest.approx([6.0] * 5)


# -- rotation, by hand -------------------------------------------------------------------------


def test_rotation_during_restoration_worked_by_hand():
    # buses a, b, c of 6, 8 and 10 MW with 100, 200 and 300 customers; g1 gives 19 MW,
    # g2 (out for 5 h) the rest: 5 MW short for 5 h from midnight, blocks of 2 h.
    g = radial({"a": 6.0, "b": 8.0, "c": 10.0}, {"a": 100, "b": 200, "c": 300}, pmax=19.0,
               extra_gen=10.0)
    settings = RestorationSettings(crews=1, generator_h=5.0)
    demand = DemandSettings(start="2025-01-06T00:00")
    rot = run(g, ["gen:g2"], demand=demand, rotation=RotationSettings(groups=3, block_h=2),
              settings=settings)
    shed = run(g, ["gen:g2"], demand=demand, settings=settings)
    # rotation: block 0-2 the cheapest group that covers 5 MW (a, 6 MW); block 2-4 the
    # cheapest of those not yet off (b, 8 MW); block 4-6 c (10 MW), back on at the
    # repair (5 h): 2 h x 100 + 2 h x 200 + 1 h x 300 = 900 customer-hours,
    # 6 x 2 + 8 x 2 + 10 x 1 = 38 MWh
    assert rot.metrics["customer_hours"] == pytest.approx(900.0)
    assert rot.metrics["ens_mwh"] == pytest.approx(38.0)
    assert rot.metrics["longest_outage_h"] == pytest.approx(2.0)
    # Jain: x = 2, 2, 1 h for 100, 200, 300 customers: 900^2 / (600 x 1500) = 0.9
    assert rot.metrics["jain_customers"] == pytest.approx(0.9)
    groups = rot.deficit.groups.set_index("buses")
    assert groups["hours_off"].to_dict() == pytest.approx({"a": 2.0, "b": 2.0, "c": 1.0})
    # shedding: 5/24 of every bus for 5 h: 600 x 5/24 = 125 customers x 5 h = 625,
    # 25 MWh; the same 125 customers out for 5 h: Jain 625^2 / (600 x 3125) = 0.2083
    assert shed.metrics["customer_hours"] == pytest.approx(625.0)
    assert shed.metrics["ens_mwh"] == pytest.approx(25.0)
    assert shed.metrics["longest_outage_h"] == pytest.approx(5.0)
    assert shed.metrics["jain_customers"] == pytest.approx(625.0**2 / (600 * 3125))
    # the published table: group of bus a off in hours 0 and 1, c in hour 4 only
    table = rot.deficit.table()
    off = table[table["off"]].groupby("group")["hour"].apply(list).to_dict()
    ids = rot.deficit.groups.set_index("buses")["group"]
    assert off == {ids["a"]: [0, 1], ids["b"]: [2, 3], ids["c"]: [4]}


def _left_on_within_capacity(res, grid) -> None:
    """At every hour, the load a rotation leaves on is within the capacity (one island)."""
    h = res.deficit.hours
    left = h["demand_mw"] - h["switched_mw"]
    short = h["shortfall_mw"] > TOL
    assert (left[short] <= h["capacity_mw"][short] + 1e-6).all()


def test_rotation_on_the_demo_region_never_exceeds_capacity_and_keeps_protected_groups_on():
    g = load_grid("demo_region")
    settings = RestorationSettings(crews=2)
    demand = DemandSettings(profile="typical", start="2025-01-15T06:00")
    res = run(g, ["gen:G-HAL-1", "gen:G-TIE-1", "gen:G-PSW-1"], demand=demand,
              rotation=RotationSettings(groups=8, block_h=4), settings=settings)
    hours = res.deficit.hours
    assert (hours["switched_mw"] > 0).any()
    _left_on_within_capacity(res, g)
    assert not any("protected" in n for n in res.notes)
    assert not hours["off"].str.contains("P").any()
    # every group off is off for whole blocks: 4 h runs (a repair may end one early)
    groups = res.deficit.groups
    rot = groups[~groups["protected"]]
    assert (rot["longest_off_h"] <= 4.0 + TOL).all()
    assert rot["hours_off"].max() - rot["hours_off"].min() <= 4.0 + TOL
    # capacity never exceeded: the engine served at most the capacity every hour
    assert (hours["served_mw"] <= hours["capacity_mw"] + 1e-6).all()


def test_rotation_switches_protected_groups_only_when_supply_does_not_allow():
    # a hospital feeder at bus a (2 MW of its 6 MW); 1 MW of capacity for 14 MW for 3 h
    buses = [{"id": "s", "ref": True, "load_mw": 0.0},
             {"id": "a", "load_mw": 6.0, "customers": 100},
             {"id": "b", "load_mw": 8.0, "customers": 200}]
    branches = [{"id": f"l-{b}", "from_bus": "s", "to_bus": b, "x_pu": 0.1} for b in "ab"]
    gens = [{"id": "g1", "bus": "s", "pmax_mw": 1.0, "p_mw": 1.0},
            {"id": "g2", "bus": "s", "pmax_mw": 20.0, "p_mw": 13.0}]
    facs = [{"id": "H", "bus": "a", "kind": "hospital", "demand_mw": 2.0, "people": 50}]
    g = make_grid(buses, branches, gens, facs)
    settings = RestorationSettings(crews=1, generator_h=3.0)
    res = run(g, ["gen:g2"], demand=DemandSettings(), rotation=RotationSettings(
        groups=2, block_h=2), settings=settings)
    assert any("protected" in n for n in res.notes)
    hours = res.deficit.hours
    assert hours["off"].str.contains("P1").all()
    # 1 MW of capacity for 14 MW: every rotation group (4 MW of a, 8 MW of b) is not
    # enough, so the protected group (the hospital's 2 MW) goes too, whole: 14 MW x 3 h
    assert res.metrics["ens_mwh"] == pytest.approx(14.0 * 3, abs=1e-6)


# -- bad input ----------------------------------------------------------------------------


def test_bad_demand_settings_raise_one_line(tmp_path):
    g = radial({"a": 10.0}, {"a": 100})
    with pytest.raises(UsageError, match="neither a built-in profile"):
        timeline(g, DemandSettings(profile="wintr"))
    path = tmp_path / "p.csv"
    path.write_text("hour,bus,factor\n0,a,1.0\n2,a,1.0\n")
    with pytest.raises(GridError, match="no factor for bus 'a' at hour 1"):
        timeline(g, DemandSettings(profile=str(path)))
    path.write_text("hour,bus,factor\n0,a,1.0\n1,a,-0.5\n")
    with pytest.raises(GridError, match="row 3: factor '-0.5' is negative"):
        timeline(g, DemandSettings(profile=str(path)))
    with pytest.raises(UsageError, match="season 'summer' applies to the typical profile"):
        timeline(g, DemandSettings(profile="winter-weekday", season="summer"))
    with pytest.raises(UsageError, match="temperature_c applies to the built-in"):
        timeline(g, DemandSettings(profile="flat", temperature_c=-5.0))
    with pytest.raises(UsageError, match="'block_h' parameter of rotation"):
        RotationSettings(block_h=0)


def test_a_profile_file_repeats_after_its_last_hour(tmp_path):
    g = radial({"a": 10.0}, {"a": 100})
    path = _profile_file(tmp_path, {0: 1.0})
    tl = timeline(g, DemandSettings(profile=str(path)), horizon_h=72)
    loads = tl.load_mw[tl.shape_of, 1]
    assert loads[[0, 24, 48]].tolist() == [10.0, 10.0, 10.0]
    assert loads[[1, 25, 49]].tolist() == [5.0, 5.0, 5.0]
    assert any("repeats" in n for n in tl.notes)


def test_scenarios_with_waves_later_in_the_event():
    # the wave strikes at 18:00 of the event's day, at the evening peak (1,000 customers:
    # half residential, half commercial)
    g = radial({"a": 10.0}, {"a": 1000})
    sc = Scenario(waves=(Wave(time_h=2.0, branches=np.array([0])),))
    res = run(g, sc, demand=DemandSettings(profile="winter-weekday",
                                           start="2025-01-06T16:00"),
              settings=RestorationSettings(crews=1, repair_h={"branch:l-a": 1.0}))
    f = (0.5 * typical_day("residential", "winter", "weekday")
         + 0.5 * typical_day("commercial", "winter", "weekday"))
    assert res.metrics["ens_mwh"] == pytest.approx(10.0 * f[18] / f.max())


# -- the command line ----------------------------------------------------------------------


def _cli(*args: str) -> tuple[int, str, str]:
    import contextlib
    import io

    from gridres.cli import cli
    from gridres.cli.common import run_cli

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run_cli(cli, [str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def test_restore_json_compares_shedding_with_rotation():
    import json

    code, out, err = _cli("restore", "demo_region", "--fail", "gen:G-HAL-1", "--fail",
                          "gen:G-TIE-1", "--fail", "gen:G-TIE-2", "--profile", "typical",
                          "--start", "2025-01-15T06:00", "--rotation", "--groups", "6",
                          "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert [r["policy"] for r in doc["policies"]] == ["greedy", "greedy+rotation"]
    assert doc["demand"]["profile"] == "typical"
    assert doc["demand"]["start"] == "2025-01-15T06:00:00"
    (cmp,) = doc["rotation"]["comparison"]
    shed, rot = cmp["shedding"], cmp["rotation"]
    # the same repairs; rotation shares the deficit: shorter outages, fairer
    assert rot["longest_outage_h"] <= 4.0 + 1e-9 < shed["longest_outage_h"]
    assert rot["jain_customers"] > shed["jain_customers"]
    hours = doc["details"]["greedy+rotation"]["deficit"]["hours"]
    assert hours[0]["time"] == "2025-01-15T06:00" and "off" in hours[0]
    groups = doc["rotation"]["groups"]
    assert {g["group"] for g in groups} >= {"1", "6", "P1"}
    assert set(cmp["hours_off"]) == {g["group"] for g in groups}


@pytest.mark.parametrize("args, code, message", [
    (["--profile", "wintr"], 2, "neither a built-in profile"),
    (["--start", "tomorrow"], 2, "is not a date and time"),
    (["--rotation", "--block-h", "0"], 2, "'--block-h': 0 is not in the range"),
])
def test_restore_bad_demand_input_is_one_line(args, code, message):
    got, out, err = _cli("restore", "ieee14", "--fail", "branch:1", *args)
    assert got == code and message in err and out == ""
    assert len(err.strip().splitlines()) == 1


def test_restore_profile_file_with_a_missing_hour_exits_65(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("hour,class,factor\n0,residential,1.0\n2,residential,0.5\n")
    code, out, err = _cli("restore", "ieee14", "--fail", "branch:1", "--profile", str(path))
    assert code == 65 and "no factor for class 'residential' at hour 1" in err


def test_restore_json_names_the_demands_temperature():
    # --outside-temp-c also sets the heating demand under a profile; without it homes
    # cool at 0 degrees C but demand stays at the profile's seasonal temperature. Both
    # runs report outside_c 0: the JSON must say which temperature the demand followed
    import json

    docs = {}
    for extra in ((), ("--outside-temp-c", "0")):
        code, out, err = _cli("restore", "demo_region", "--fail", "substation:Kaltenfeld 1",
                              "--profile", "typical", "--start", "2025-01-15T16:00",
                              "--json", *extra)
        assert code == 0, err
        docs[extra] = json.loads(out)
    default, zero = docs.values()
    assert default["outside_c"] == zero["outside_c"] == 0.0
    # at 0 degrees C demand is above the winter shapes' 2 degrees C: more energy lost
    assert zero["policies"][0]["ens_mwh"] > default["policies"][0]["ens_mwh"]
    assert default["demand"]["temperature_c"] is None
    assert zero["demand"]["temperature_c"] == 0.0


@pytest.mark.parametrize("demand", [["--rotation"], ["--profile", "flat"],
                                    ["--profile", "FILE"]])
def test_outside_temperature_with_a_demand_that_has_no_temperature(tmp_path, demand):
    # --outside-temp-c is first the homes' temperature: with a rotation on the static load,
    # a flat profile or a profile file it must not be refused as a temperature_c of the
    # demand (only the built-in shapes take one); homes still cool at -5 degrees C
    import json

    if "FILE" in demand:
        demand = ["--profile", _profile_file(tmp_path, {}, bus="KALT1-110")]
    base = ["demo_region", "--fail", "substation:Kaltenfeld 1", "--json"]
    code, out, err = _cli("restore", *base, *demand, "--outside-temp-c", "-5")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["outside_c"] == -5.0 and doc["demand"]["temperature_c"] is None
    code, out, err = _cli("ensemble", "demo_region", "--restore", "--scenario", "random:k=1",
                          "--n", "1", "--seed", "1", "--workers", "1", *demand,
                          "--outside-temp-c", "-5")
    assert code == 0, err
