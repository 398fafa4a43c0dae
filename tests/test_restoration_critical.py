"""``critical-first`` on meshed damage, worked by hand, and the cheapest repair sets of
:func:`gridres.restoration.critical.repair_sets` against brute force."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from builders import failed, make_grid
from gridres.model import State
from gridres.restoration import RestorationSettings, prepare, simulate
from gridres.restoration.critical import repair_sets
from gridres.restoration.policies import critical_first
from gridres.restoration.supply import supply
from gridres.scenarios.base import Scenario

# The ring (no coordinates: travel 0; line hours 4 + 0.2 h/km):
#
#        s (generator 200 MW) --l5 5 km (5 h)-- m (50 MW, no facility)
#       /                 \
#   l1 10 km (6 h)      l2 20 km (8 h)
#     a (1 MW)            b (1 MW)
#   l3 5 km (5 h)       l4 20 km (8 h)
#       \                 /
#        h (2 MW, hospital H: 2 MW, no backup, 100 people)
#
# h is fed two ways, so no single element's outage darkens the hospital. All five lines
# fail: the hospital's cheapest repair set is {l1, l3} (11 h) against {l2, l4} (16 h).
RING_BUSES = [
    {"id": "s", "ref": True},
    {"id": "a", "load_mw": 1.0, "customers": 10},
    {"id": "b", "load_mw": 1.0, "customers": 10},
    {"id": "h", "load_mw": 2.0, "customers": 20},
    {"id": "m", "load_mw": 50.0, "customers": 500},
]
RING_BRANCHES = [
    {"id": "l1", "from_bus": "s", "to_bus": "a", "x_pu": 0.1, "length_km": 10.0},
    {"id": "l2", "from_bus": "s", "to_bus": "b", "x_pu": 0.1, "length_km": 20.0},
    {"id": "l3", "from_bus": "a", "to_bus": "h", "x_pu": 0.1, "length_km": 5.0},
    {"id": "l4", "from_bus": "b", "to_bus": "h", "x_pu": 0.1, "length_km": 20.0},
    {"id": "l5", "from_bus": "s", "to_bus": "m", "x_pu": 0.1, "length_km": 5.0},
]
HOSPITAL = [{"id": "H", "bus": "h", "kind": "hospital", "demand_mw": 2.0, "backup_mw": 0.0,
             "backup_hours": 0.0, "people": 100}]


def ring():
    return make_grid(RING_BUSES, RING_BRANCHES,
                     [{"id": "g", "bus": "s", "p_mw": 54.0, "pmax_mw": 200.0}], HOSPITAL)


def all_lines(g) -> Scenario:
    return Scenario.single(branches=g.lookup("branches", ["l1", "l2", "l3", "l4", "l5"]))


def run(g, scenario, policy, **settings):
    return simulate(g.network, prepare(g, RestorationSettings(**settings)), scenario, policy)


def order(res) -> list[str]:
    return res.schedule.sort_values(["start_h", "crew"])["element"].str.removeprefix(
        "branch:").tolist()


def test_ring_no_single_outage_darkens_the_hospital():
    g = ring()
    net = g.network
    for line in ["l1", "l2", "l3", "l4", "l5"]:
        st = failed(g, branches=[line])
        assert supply(net, st).fac_grid.all(), line


def test_critical_first_repairs_the_hospital_set_before_the_larger_load():
    # one crew. critical-first: l1 0-6 (the hospital's set; l1 before l3 because it
    # reconnects a), l3 6-11 (hospital back), then greedy: l5 11-16 (50 MW / 5 h),
    # l2 16-24, l4 24-32. Lost: 54 MW 0-6, 53 6-11, 51 11-16, 1 16-24:
    # 324 + 265 + 255 + 8 = 852 MWh; the hospital is dark 11 h.
    g = ring()
    cf = run(g, all_lines(g), "critical-first", crews=1)
    assert order(cf) == ["l1", "l3", "l5", "l2", "l4"]
    assert cf.metrics["ens_mwh"] == pytest.approx(852.0)
    assert cf.facilities.loc["H", "hours_dark"] == pytest.approx(11.0)
    assert cf.metrics["facility_hours_dark"] == pytest.approx(11.0)
    assert cf.metrics["people_hours"] == pytest.approx(1100.0)
    assert cf.metrics["t100_h"] == pytest.approx(24.0)
    # largest-load-first: l5 (50 MW depend on it) 0-5, then nothing depends on any
    # single line: listing order l1 5-11, l2 11-19, l3 19-24 (hospital back), l4 24-32.
    # 54*5 + 4*6 + 3*8 + 2*5 = 328 MWh; the hospital is dark 24 h.
    llf = run(g, all_lines(g), "largest-load-first", crews=1)
    assert order(llf) == ["l5", "l1", "l2", "l3", "l4"]
    assert llf.metrics["ens_mwh"] == pytest.approx(328.0)
    assert llf.facilities.loc["H", "hours_dark"] == pytest.approx(24.0)
    # greedy: l5 (10 MW/h), l1 (1/6), l3 (2/5, hospital back at 16 h), l2, l4:
    # 54*5 + 4*6 + 3*5 + 1*8 = 317 MWh
    gr = run(g, all_lines(g), "greedy", crews=1)
    assert order(gr) == ["l5", "l1", "l3", "l2", "l4"]
    assert gr.metrics["ens_mwh"] == pytest.approx(317.0)
    assert gr.facilities.loc["H", "hours_dark"] == pytest.approx(16.0)


def test_facility_rank_at_the_first_decision():
    g = ring()
    seen = []

    def spy(d):
        if not seen:
            seen.append((d.elements, d.facility_rank.copy()))
        return critical_first(d)

    run(g, all_lines(g), spy, crews=1)
    elements, fr = seen[0]
    assert fr.shape == (5, 4)
    rows = dict(zip(elements, map(tuple, fr), strict=True))
    # 100 people lose health care, no fuel nor storage left, hospital rank 1, set
    # l1 + l3 = 6 + 5 h
    assert rows["branch:l1"] == (-100.0, 0.0, 1.0, 11.0)
    assert rows["branch:l3"] == (-100.0, 0.0, 1.0, 11.0)
    for e in ("branch:l2", "branch:l4", "branch:l5"):
        assert math.isinf(rows[e][0]) and math.isinf(rows[e][3])


def test_two_crews_split_the_hospital_set():
    # crew 0 takes l1 (0-6); for crew 1 the set is {l1 under way (6 h left), l3}: l3
    # 0-5. The hospital is back at 6 h. Then crew 1 l5 5-10 (greedy), crew 0 l2 6-14
    # (l2 and l4 tie at 1 MW / 8 h: listed first), crew 1 l4 10-18.
    # 54*5 + 54*1 + 51*4 + 1*4 = 532 MWh
    g = ring()
    res = run(g, all_lines(g), "critical-first", crews=2)
    s = res.schedule.set_index("element")
    assert s.loc["branch:l1", ["crew", "start_h", "end_h"]].tolist() == [0, 0.0, 6.0]
    assert s.loc["branch:l3", ["crew", "start_h", "end_h"]].tolist() == [1, 0.0, 5.0]
    assert s.loc["branch:l5", ["crew", "start_h", "end_h"]].tolist() == [1, 5.0, 10.0]
    assert s.loc["branch:l2", ["crew", "start_h", "end_h"]].tolist() == [0, 6.0, 14.0]
    assert s.loc["branch:l4", ["crew", "start_h", "end_h"]].tolist() == [1, 10.0, 18.0]
    assert res.facilities.loc["H", "hours_dark"] == pytest.approx(6.0)
    assert res.metrics["ens_mwh"] == pytest.approx(532.0)


def test_a_long_repair_under_way_does_not_hold_back_a_quicker_way():
    # s --sq-- q (hospital, bus fails: 24 h) --qr-- r (telecom, no backup); s --sr 10 km
    # (6 h)-- r; s --sm 5 km (5 h)-- m (50 MW). Damage: bus q, sr, sm; two crews.
    # Crew 0 takes q (the hospital, which needs nothing but power here: 5000 people lose
    # health care against the telecom's 1000). For crew 1, r's cheapest way back is sr
    # (6 h), not q under way (24 h left): the telecom is back at 6 h, before the 50 MW load.
    # ENS: 52*6 + 51*5 + 1*13 = 580 MWh
    g = make_grid(
        [{"id": "s", "ref": True}, {"id": "q", "load_mw": 1.0}, {"id": "r", "load_mw": 1.0},
         {"id": "m", "load_mw": 50.0}],
        [{"id": "sq", "from_bus": "s", "to_bus": "q", "x_pu": 0.1, "length_km": 10.0},
         {"id": "qr", "from_bus": "q", "to_bus": "r", "x_pu": 0.1, "length_km": 10.0},
         {"id": "sr", "from_bus": "s", "to_bus": "r", "x_pu": 0.1, "length_km": 10.0},
         {"id": "sm", "from_bus": "s", "to_bus": "m", "x_pu": 0.1, "length_km": 5.0}],
        [{"id": "g", "bus": "s", "pmax_mw": 200.0}],
        [{"id": "H", "bus": "q", "kind": "hospital", "demand_mw": 1.0, "people": 5000,
          "depends_on": "none"},
         {"id": "T", "bus": "r", "kind": "telecom", "demand_mw": 1.0, "people": 1000}])
    sc = Scenario.single(buses=g.lookup("buses", ["q"]),
                         branches=g.lookup("branches", ["sr", "sm"]))
    res = run(g, sc, "critical-first", crews=2)
    s = res.schedule.set_index("element")
    assert s.loc["bus:q", ["crew", "start_h", "end_h"]].tolist() == [0, 0.0, 24.0]
    assert s.loc["branch:sr", ["crew", "start_h", "end_h"]].tolist() == [1, 0.0, 6.0]
    assert s.loc["branch:sm", ["crew", "start_h", "end_h"]].tolist() == [1, 6.0, 11.0]
    assert res.facilities.loc["T", "hours_dark"] == pytest.approx(6.0)
    assert res.facilities.loc["H", "hours_dark"] == pytest.approx(24.0)
    assert res.metrics["ens_mwh"] == pytest.approx(580.0)


@pytest.mark.parametrize(("stock", "first"), [(1, "branch:t1"), (0, "branch:l1")])
def test_spare_wait_counts_in_the_set(stock, first):
    # h is behind transformer t1 (72 h) or two 200 km lines (44 h each, 88 h). With a
    # spare in stock t1 is the cheaper set; without one t1 costs 72 + 100 h of lead time
    # and the lines are.
    g = make_grid(
        [{"id": "s", "ref": True}, {"id": "a", "load_mw": 1.0}, {"id": "h", "load_mw": 1.0}],
        [{"id": "t1", "from_bus": "s", "to_bus": "h", "x_pu": 0.1, "kind": "transformer"},
         {"id": "l1", "from_bus": "s", "to_bus": "a", "x_pu": 0.1, "length_km": 200.0},
         {"id": "l2", "from_bus": "a", "to_bus": "h", "x_pu": 0.1, "length_km": 200.0}],
        [{"id": "g", "bus": "s", "pmax_mw": 10.0}],
        [{"id": "H", "bus": "h", "kind": "hospital", "demand_mw": 1.0}])
    sc = Scenario.single(branches=g.lookup("branches", ["t1", "l1", "l2"]))
    seen = []

    def spy(d):
        if not seen:
            seen.append(dict(zip(d.elements, d.facility_rank[:, 3], strict=True)))
        return critical_first(d)

    res = run(g, sc, spy, crews=1, spare_stock={"transformer": stock},
              spare_lead_time_h={"transformer": 100.0})
    assert res.schedule.sort_values("start_h")["element"].iloc[0] == first
    hours = seen[0]
    if stock:
        assert hours["branch:t1"] == pytest.approx(72.0) and math.isinf(hours["branch:l1"])
    else:
        assert hours["branch:l1"] == hours["branch:l2"] == pytest.approx(88.0)
        assert math.isinf(hours["branch:t1"])


def test_optimal_no_worse_than_critical_first_on_the_ring():
    g = ring()
    assets = prepare(g, RestorationSettings(crews=2))
    res = {p: simulate(g.network, assets, all_lines(g), p)
           for p in ("critical-first", "greedy", "largest-load-first", "optimal")}
    assert not res["optimal"].notes
    best = min(r.metrics["ens_mwh"] for p, r in res.items() if p != "optimal")
    assert res["optimal"].metrics["ens_mwh"] <= best + 1e-6


# -- repair_sets against brute force ------------------------------------------------


def _random_case(seed: int):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(4, 8))
    buses = [{"id": f"b{i}", "ref": i == 0, "load_mw": float(rng.integers(0, 20))}
             for i in range(n)]
    edges = [(int(rng.integers(0, i)), i) for i in range(1, n)]
    edges += [tuple(int(v) for v in rng.choice(n, 2, replace=False))
              for _ in range(int(rng.integers(1, 4)))]
    branches = [{"id": f"e{k}", "from_bus": f"b{a}", "to_bus": f"b{b}", "x_pu": 0.1}
                for k, (a, b) in enumerate(edges)]
    gens = [{"id": "g0", "bus": "b0", "pmax_mw": 500.0},
            {"id": "g1", "bus": f"b{int(rng.integers(1, n))}", "pmax_mw": 300.0}]
    facs = [{"id": f"f{i}", "bus": f"b{int(rng.integers(0, n))}", "kind": "hospital",
             "demand_mw": 0.0} for i in range(4)]
    g = make_grid(buses, branches, gens, facs)
    net = g.network
    # up to 8 failures among buses, branches and generators; some cannot be repaired
    pool = ([(0, i) for i in range(net.n_bus)] + [(1, i) for i in range(net.n_branch)]
            + [(2, i) for i in range(net.n_gen)])
    k = int(rng.integers(1, min(8, len(pool)) + 1))
    fail = [pool[i] for i in rng.choice(len(pool), k, replace=False)]
    alive = [np.ones(net.n_bus, bool), np.ones(net.n_branch, bool), np.ones(net.n_gen, bool)]
    hours = [np.full(net.n_bus, np.inf), np.full(net.n_branch, np.inf),
             np.full(net.n_gen, np.inf)]
    for t, p in fail:
        alive[t][p] = False
        hours[t][p] = np.inf if rng.random() < 0.1 else float(rng.integers(1, 30))
    return net, fail, alive, hours


@pytest.mark.parametrize("seed", range(40))
def test_repair_sets_are_the_cheapest_by_brute_force(seed):
    net, fail, alive, hours = _random_case(seed)
    rs = repair_sets(net, State(*alive), tuple(hours))
    now = supply(net, State(*alive))
    np.testing.assert_array_equal(rs.supplied, now.fac_grid)
    repairable = [(t, p) for t, p in fail if np.isfinite(hours[t][p])]
    best = np.full(len(net.fac_ids), np.inf)
    for r in range(len(repairable) + 1):
        for subset in itertools.combinations(repairable, r):
            masks = [m.copy() for m in alive]
            for t, p in subset:
                masks[t][p] = True
            on = supply(net, State(*masks)).energized[net.fac_bus]
            cost = sum(hours[t][p] for t, p in subset)
            best = np.where(on, np.minimum(best, cost), best)
    for f in range(len(net.fac_ids)):
        if rs.supplied[f]:
            assert rs.hours[f] == 0.0 and rs.members[f] == ()
            continue
        assert rs.hours[f] == pytest.approx(best[f]), (f, rs.members[f])
        if np.isfinite(best[f]):
            # the set is failed repairable elements whose repair re-energises the bus
            assert set(rs.members[f]) <= set(repairable)
            assert sum(hours[t][p] for t, p in rs.members[f]) == pytest.approx(rs.hours[f])
            masks = [m.copy() for m in alive]
            for t, p in rs.members[f]:
                masks[t][p] = True
            assert supply(net, State(*masks)).energized[net.fac_bus[f]]
        else:
            assert rs.members[f] == ()
