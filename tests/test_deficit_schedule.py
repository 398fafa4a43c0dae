"""Rolling-outage schedules end to end: hand-worked grids, the engine's view of every hour
(capacity, islands, flows within ratings), protected groups, metrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from builders import make_grid
from gridres.deficit import NOTHING_TO_SCHEDULE, schedule
from gridres.deficit.profiles import hourly_times
from gridres.errors import UsageError
from gridres.io import load_grid


def star(ratings=(1000.0, 1000.0, 1000.0)):
    """Generator bus g (100 MW) with three radial load buses: 1 (20 MW), 2 (30 MW),
    3 (40 MW), 100 customers each."""
    return make_grid(
        [{"id": "g", "ref": True},
         *({"id": b, "load_mw": mw, "customers": 100}
           for b, mw in (("1", 20.0), ("2", 30.0), ("3", 40.0)))],
        [{"id": f"l{b}", "from_bus": "g", "to_bus": b, "x_pu": 0.1, "rating_mw": r}
         for b, r in zip("123", ratings, strict=True)],
        [{"id": "G", "bus": "g", "p_mw": 90.0, "pmax_mw": 100.0}],
    )


def groups_file(tmp_path: Path) -> Path:
    path = tmp_path / "groups.csv"
    path.write_text("bus,group\n1,A\n2,B\n3,C\n")
    return path


def test_a_schedule_worked_by_hand(tmp_path: Path) -> None:
    # Demand 90 MW, capacity 60 MW: 30 MW must be off every hour; 6 h in blocks of 2.
    # Groups A 20, B 30, C 40 MW. Off counts may differ by one block at most; A alone is
    # too small (20 < 30), so A must go with another group once. The cheapest fair
    # schedules carry 120 MW over the three blocks: {A,B}, {C}, {B} (50 + 40 + 30) or
    # {B}, {A,C}, {B} (30 + 60 + 30); B's two blocks must not touch (a back-to-back pair
    # costs extra), so B is off in blocks 0 and 2 and C in block 1.
    # Energy off 120 MW x 2 h = 240 MWh; hours off A 2, B 4, C 2; Jain's index over
    # customers (100 each) = 8**2 / (3 x (2**2 + 4**2 + 2**2)) = 64/72.
    for method in ("milp", "heuristic"):
        s = schedule(star(), hours=6, capacity_mw=60.0, groups_file=groups_file(tmp_path),
                     block_h=2, method=method)
        doc = s.to_dict()
        assert doc["hours_off"] == {"A": 2, "B": 4, "C": 2}
        assert doc["unserved_mwh"] == pytest.approx(240.0)
        assert doc["switched_mwh"] == pytest.approx(240.0)
        off = [h["off"] for h in doc["hours"]]
        assert all("B" in off[h] for h in (0, 1, 4, 5)) and all("C" in off[h] for h in (2, 3))
        assert doc["fairness"]["jain_customers"] == pytest.approx(64 / 72)
        assert doc["fairness"]["spread_h"] == 2
        assert doc["longest_off_h"] == {"A": 2, "B": 2, "C": 2}
        # B: off at 0, on at 2, off at 4 = 3 operations; C off at 2, on at 4 = 2; A two,
        # or one if its block is the last (it is not switched back on within the horizon)
        ops = doc["switching_operations"]
        assert (ops["B"], ops["C"]) == (3, 2)
        assert ops["A"] == (1 if "A" in off[5] else 2)
        served = np.array([h["served_mw"] for h in doc["hours"]])
        assert (served <= 60.0 + 1e-9).all() and served.sum() == pytest.approx(540 - 240)
        assert all(h["capacity_mw"] == 60.0 for h in doc["hours"])


def test_capacity_is_never_exceeded_on_the_demo_region_over_two_days() -> None:
    s = schedule(load_grid("demo_region"), hours=48, profile="typical", capacity_share=0.7,
                 groups=8, block_h=4)
    cap = s.capacity.island_mw
    assert (s.served_island_mw <= cap + 1e-6).all()
    assert s.unserved_mwh > 0 and not s.nothing_to_schedule
    # served + switched off = demand in every hour: nothing else is lost
    assert s.served_mw + (s.group_mw * s.off).sum(axis=1) == pytest.approx(s.demand_mw)
    # off periods are whole 4-hour blocks
    for b in range(12):
        rows = s.off[4 * b: 4 * b + 4]
        assert (rows == rows[0]).all()
    # hours off within one block of each other, and protected feeders never off
    hrs = s.off[:, ~s.groups.protected].sum(axis=0)
    assert hrs.max() - hrs.min() <= 4
    assert not s.off[:, s.groups.protected].any()


def test_protected_groups_go_off_only_in_hours_when_supply_does_not_allow(
        tmp_path: Path) -> None:
    # a hospital of 10 MW on bus 3: its feeders form P1; the rest of bus 3 (30 MW)
    # rotates. Capacity 5 MW < the hospital's 10 MW: every rotation group is off and P1
    # too, hour by hour; with 15 MW the hospital stays on.
    grid = make_grid(
        [{"id": "g", "ref": True},
         *({"id": b, "load_mw": mw, "customers": 100}
           for b, mw in (("1", 20.0), ("2", 30.0), ("3", 40.0)))],
        [{"id": f"l{b}", "from_bus": "g", "to_bus": b, "x_pu": 0.1} for b in "123"],
        [{"id": "G", "bus": "g", "p_mw": 90.0, "pmax_mw": 100.0}],
        [{"id": "H", "bus": "3", "kind": "hospital", "demand_mw": 10.0}],
    )
    low = schedule(grid, hours=2, capacity_mw=5.0, groups=3, block_h=1)
    assert low.groups.ids[-1] == "P1"
    assert low.off.all()
    assert low.protected_off().all()
    assert any("supply does not allow every protected group" in n for n in low.notes)
    ok = schedule(grid, hours=2, capacity_mw=15.0, groups=3, block_h=1)
    assert not ok.protected_off().any()
    assert ok.served_mw.tolist() == pytest.approx([10.0, 10.0])  # the hospital alone


def test_flows_stay_within_ratings_after_switching(tmp_path: Path) -> None:
    # Enough capacity (100 MW for 90), but line l3 is rated 35 MW for bus 3's 40 MW and
    # bus 3 has no generation to redispatch: the engine's redispatch would shed 5 MW at
    # bus 3, so group C (bus 3) is switched off for it (a network off) in every block;
    # then no branch is overloaded in any hour and nothing else is shed.
    grid = star(ratings=(1000.0, 1000.0, 35.0))
    s = schedule(grid, hours=4, groups_file=groups_file(tmp_path), block_h=2)
    doc = s.to_dict()
    assert [h["off"] for h in doc["hours"]] == [["C"]] * 4
    assert [h["network_off"] for h in doc["hours"]] == [["C"]] * 4
    assert all(h["overloaded"] == [] and h["network_shed_mw"] == 0 for h in doc["hours"])
    for h in range(4):
        imp = s.impact(h)
        assert not imp.overloaded.any()
        assert np.abs(imp.flow_mw).tolist() == pytest.approx([20.0, 30.0, 0.0])
    assert doc["unserved_mwh"] == pytest.approx(4 * 40.0)
    # relieved by the engine's shedding instead: 5 MW curtailed at bus 3, no group off
    shed = schedule(grid, hours=4, groups_file=groups_file(tmp_path), block_h=2,
                    network_relief="shed")
    assert shed.nothing_to_schedule
    assert shed.network_shed_mw.tolist() == pytest.approx([5.0] * 4)
    assert shed.served_mw.tolist() == pytest.approx([85.0] * 4)
    assert abs(shed.impact(0).flow_mw[2]) <= 35.0 + 1e-6
    assert shed.unserved_mwh == pytest.approx(4 * 5.0)


def test_redispatch_relieves_an_overload_before_any_group_goes_off() -> None:
    # As above, with a 50 MW unit at bus 3 that the schedule leaves at 0: moving 5 MW
    # (at least) to it keeps l3 within 35 MW, so no group is off; the hours say so.
    grid = make_grid(
        [{"id": "g", "ref": True},
         *({"id": b, "load_mw": mw, "customers": 100}
           for b, mw in (("1", 20.0), ("2", 30.0), ("3", 40.0)))],
        [{"id": f"l{b}", "from_bus": "g", "to_bus": b, "x_pu": 0.1, "rating_mw": r}
         for b, r in zip("123", (1000.0, 1000.0, 35.0), strict=True)],
        [{"id": "G", "bus": "g", "p_mw": 90.0, "pmax_mw": 100.0},
         {"id": "G3", "bus": "3", "p_mw": 0.0, "pmax_mw": 50.0}],
    )
    s = schedule(grid, hours=2, groups=3, block_h=1)
    assert s.nothing_to_schedule
    assert s.redispatch_mw.tolist() == pytest.approx([10.0, 10.0])  # 5 MW down, 5 MW up
    assert abs(s.impact(0).flow_mw[2]) <= 35.0 + 1e-6
    assert s.served_mw.tolist() == pytest.approx([90.0, 90.0])
    raw = schedule(grid, hours=2, groups=3, block_h=1, network_relief="shed")
    assert raw.redispatch_mw.tolist() == pytest.approx([10.0, 10.0])  # the check still runs


def test_an_islands_capacity_serves_only_that_island() -> None:
    # Two halves joined by line m: west (gen 30 MW, loads 20 + 20) and east (gen 100 MW,
    # load 40). With m failed, the west is 10 MW short and only its groups rotate; the
    # east has capacity to spare that it cannot send west.
    grid = make_grid(
        [{"id": "w", "ref": True}, {"id": "w1", "load_mw": 20.0, "customers": 10},
         {"id": "w2", "load_mw": 20.0, "customers": 10}, {"id": "e"},
         {"id": "e1", "load_mw": 40.0, "customers": 10}],
        [{"id": "a", "from_bus": "w", "to_bus": "w1", "x_pu": 0.1},
         {"id": "b", "from_bus": "w", "to_bus": "w2", "x_pu": 0.1},
         {"id": "m", "from_bus": "w", "to_bus": "e", "x_pu": 0.1},
         {"id": "c", "from_bus": "e", "to_bus": "e1", "x_pu": 0.1}],
        [{"id": "GW", "bus": "w", "p_mw": 20.0, "pmax_mw": 30.0},
         {"id": "GE", "bus": "e", "p_mw": 60.0, "pmax_mw": 100.0}],
    )
    s = schedule(grid, ["branch:m"], hours=4, groups=3, block_h=2)
    doc = s.to_dict()
    east = [g["group"] for g in doc["groups"] if g["buses"] == ["e1"]]
    assert len(east) == 1 and doc["hours_off"][east[0]] == 0
    west = [g["group"] for g in doc["groups"] if g["buses"][0].startswith("w")]
    assert sorted(doc["hours_off"][g] for g in west) == [2, 2]  # one block each
    assert (s.served_island_mw <= s.capacity.island_mw + 1e-9).all()
    assert s.served_island_mw[:, 0].tolist() == pytest.approx([20.0] * 4)


def test_nothing_to_schedule_says_so() -> None:
    s = schedule(star(), hours=3, groups=3)
    assert s.nothing_to_schedule
    assert s.notes[0] == NOTHING_TO_SCHEDULE
    assert s.to_dict()["unserved_mwh"] == 0.0


def test_dark_islands_count_as_unserved_and_are_named() -> None:
    grid = load_grid("ieee14")
    s = schedule(grid, ["branch:17", "branch:20"], hours=2, groups=3)  # bus 14 alone
    doc = s.to_dict()
    assert doc["dark_buses"] == ["14"]
    assert doc["dark_mwh"] == pytest.approx(2 * 14.9)
    assert doc["unserved_mwh"] == pytest.approx(2 * 14.9)


def test_the_json_contract_of_the_issue() -> None:
    doc = schedule(load_grid("ieee14"), hours=6, capacity_share=0.8, groups=4,
                   block_h=2).to_dict()
    assert {"groups", "hours", "hours_off", "unserved_mwh", "fairness", "method", "gap",
            "bound_mwh"} <= set(doc)
    assert set(doc["groups"][0]) >= {"group", "buses", "load_mw", "customers", "protected"}
    assert set(doc["hours"][0]) >= {"hour", "time", "demand_mw", "capacity_mw", "served_mw",
                                    "off"}
    assert doc["hours"][1]["time"] == "2025-01-06T01:00:00"
    assert all(isinstance(b, str) for g in doc["groups"] for b in g["buses"])
    assert set(doc["hours_off"]) == {g["group"] for g in doc["groups"]}
    assert {"jain_customers", "spread_h"} <= set(doc["fairness"])


def test_bad_parameters() -> None:
    grid = star()
    with pytest.raises(UsageError, match="block_h"):
        schedule(grid, hours=2, capacity_mw=50.0, groups=2, block_h=0)
    with pytest.raises(UsageError, match="give one capacity figure"):
        schedule(grid, hours=2, capacity_mw=50.0, capacity_share=0.5)
    with pytest.raises(UsageError, match="4 groups but only 3 load buses"):
        schedule(grid, hours=2, capacity_mw=50.0, groups=4)
    with pytest.raises(UsageError, match="hours"):
        hourly_times("2025-01-06", 0)
