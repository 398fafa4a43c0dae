"""Invariants of every restoration run on small random grids (hypothesis), the contract
every policy keeps, and ``optimal`` against the heuristics and against brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import Point

from builders import make_grid
from gridres.restoration import PriorityList, RestorationSettings, prepare, simulate
from gridres.restoration.optimal import plan_restoration
from gridres.scenarios.base import Scenario, Wave

HEURISTICS = ("as-listed", "largest-load-first", "critical-first", "greedy", "nearest")
TOL = 1e-6


def random_grid(rng: np.random.Generator, n_bus: int, extra: int, capacity: float):
    """A random tree over ``n_bus`` buses plus ``extra`` chords; bus 0 holds the main
    generator, a second generator sits elsewhere; coordinates in km (UTM metres)."""
    xy = rng.uniform(0, 40_000, size=(n_bus, 2))
    buses = [{"id": f"b{i}", "ref": i == 0, "load_mw": 0.0 if i == 0 else
              float(rng.integers(1, 30)), "customers": int(rng.integers(0, 500)),
              "priority": int(rng.integers(0, 2)), "geometry": Point(*xy[i])}
             for i in range(n_bus)]
    edges = [(int(rng.integers(0, i)), i) for i in range(1, n_bus)]
    for _ in range(extra):
        a, b = (int(v) for v in rng.choice(n_bus, 2, replace=False))
        edges.append((a, b))
    branches = [{"id": f"e{k}", "from_bus": f"b{a}", "to_bus": f"b{b}",
                 "x_pu": float(rng.uniform(0.05, 0.3)),
                 "kind": "transformer" if rng.random() < 0.25 else "line",
                 "length_km": float(rng.uniform(1, 30))} for k, (a, b) in enumerate(edges)]
    gens = [{"id": "g0", "bus": "b0", "pmax_mw": capacity, "p_mw": 0.0},
            {"id": "g1", "bus": f"b{int(rng.integers(1, n_bus))}", "pmax_mw": 20.0,
             "p_mw": 0.0}]
    kinds = ["hospital", "water", "shelter"]
    facs = [{"id": f"f{i}", "bus": f"b{int(rng.integers(1, n_bus))}", "kind": kinds[i % 3],
             "demand_mw": 1.0, "backup_mw": float(rng.choice([0.0, 1.0])),
             "backup_hours": float(rng.uniform(0, 30)), "people": int(rng.integers(1, 1000))}
            for i in range(int(rng.integers(0, 3)))]
    return make_grid(buses, branches, gens, facs, crs="EPSG:32633")


def random_case(seed: int, n_fail: int, waves: int, capacity: float = 500.0,
                branches_only: bool = False):
    rng = np.random.default_rng(seed)
    n_bus = int(rng.integers(3, 9))
    g = random_grid(rng, n_bus, int(rng.integers(0, 3)), capacity)
    net = g.network
    wv = []
    for w in range(waves):
        k = min(n_fail, net.n_branch)
        br = rng.choice(net.n_branch, k, replace=False)
        bus = rng.choice(np.arange(1, net.n_bus), 1) if rng.random() < 0.3 else []
        gen = [1] if rng.random() < 0.2 else []
        if branches_only:
            bus, gen = [], []
        wv.append(Wave(float(w * rng.uniform(5, 60)), bus, br, gen))
    return g, Scenario(tuple(wv))


def check_invariants(g, sc: Scenario, res) -> None:
    sched, curve, m = res.schedule, res.curve, res.metrics
    wave_times = {float(w.time_h) for w in sc.waves}
    # served never drops without a new failure
    served = curve["served_mw"].to_numpy()
    times = curve["time_h"].to_numpy()
    for k in range(1, len(curve)):
        if times[k] not in wave_times:
            assert served[k] >= served[k - 1] - 1e-9, (times[k], served[k - 1], served[k])
    assert (curve["lost_mw"] >= -1e-9).all()
    assert m["unfinished"] == 0 and curve["lost_mw"].iloc[-1] == pytest.approx(0.0, abs=1e-9)
    # every failure is repaired once: each wave's hit on an element is covered by exactly
    # one job (a new one, or one still open at that time), and jobs of an element do not
    # overlap
    net = g.network
    for w in sc.waves:
        tokens = ([f"bus:{net.bus_ids[i]}" for i in w.buses]
                  + [f"branch:{net.branch_ids[i]}" for i in w.branches]
                  + [f"gen:{net.gen_ids[i]}" for i in w.gens])
        for tok in tokens:
            rows = sched[sched["element"] == tok]
            cover = rows[(rows["fail_h"] <= w.time_h + 1e-9) & (rows["end_h"] >= w.time_h - 1e-9)]
            assert len(cover) == 1, (tok, w.time_h, rows)
    for _, rows in sched.groupby("element"):
        rows = rows.sort_values("fail_h")
        assert (rows["fail_h"].to_numpy()[1:] >= rows["end_h"].to_numpy()[:-1] - 1e-9).all()
    assert len(sched) == m["repairs"]
    # no crew in two places, and each job's times in order
    assert (sched["arrive_h"] >= sched["travel_start_h"] - 1e-9).all()
    assert (sched["start_h"] >= sched["arrive_h"] - 1e-9).all()
    assert (sched["travel_start_h"] >= sched["fail_h"] - 1e-9).all()
    assert np.allclose(sched["end_h"] - sched["start_h"], sched["repair_h"])
    for _, rows in sched.groupby("crew"):
        rows = rows.sort_values("travel_start_h")
        assert (rows["travel_start_h"].to_numpy()[1:] >= rows["end_h"].to_numpy()[:-1] - 1e-9
                ).all()
    spare = sched[sched["spare"] != ""]
    assert (spare["start_h"] >= spare["spare_arrival_h"] - 1e-9).all()
    assert (sched.loc[sched["spare"] == "", "kind"] != "transformer").all()
    # metrics agree with the curve
    t = np.append(times, m["end_h"])
    assert m["ens_mwh"] == pytest.approx(float(np.sum(curve["lost_mw"] * np.diff(t))))
    assert m["t50_h"] <= m["t90_h"] + 1e-9 <= m["t100_h"] + 2e-9
    assert (res.facilities["hours_dark"] >= -1e-9).all()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n_fail=st.integers(1, 5), waves=st.integers(1, 3),
       crews=st.integers(1, 3), policy=st.sampled_from(HEURISTICS),
       sigma=st.sampled_from([0.0, 0.5]), stock=st.integers(0, 2),
       lead=st.sampled_from([0.0, 10.0, 80.0]), capacity=st.sampled_from([40.0, 500.0]))
def test_invariants(seed, n_fail, waves, crews, policy, sigma, stock, lead, capacity):
    g, sc = random_case(seed, n_fail, waves, capacity)
    s = RestorationSettings(crews=crews, repair_sigma=sigma, spare_stock={"transformer": stock},
                            spare_lead_time_h={"transformer": lead, "bus": lead},
                            needs_spare=("bus",), depots=("b0",))
    assets = prepare(g, s)
    net = g.network
    before = (net.bus_in_service.copy(), net.branch_in_service.copy(), assets.branch_xy.copy())
    res = simulate(net, assets, sc, policy, seed=seed)
    check_invariants(g, sc, res)
    # inputs untouched
    np.testing.assert_array_equal(before[0], net.bus_in_service)
    np.testing.assert_array_equal(before[1], net.branch_in_service)
    np.testing.assert_array_equal(before[2], assets.branch_xy)
    # same seed, same schedule
    again = simulate(net, assets, sc, policy, seed=seed)
    pd.testing.assert_frame_equal(res.schedule, again.schedule)
    pd.testing.assert_frame_equal(res.curve, again.curve)


@pytest.mark.parametrize("policy", [*HEURISTICS, "optimal"])
def test_every_policy_keeps_the_contract(policy):
    """Same seed, same result; result has the documented shape; a scenario of no
    failures costs nothing."""
    g, sc = random_case(3, 3, 1)
    assets = prepare(g, RestorationSettings(crews=2, repair_sigma=0.3))
    a = simulate(g.network, assets, sc, policy, seed=1)
    b = simulate(g.network, assets, sc, policy, seed=1)
    pd.testing.assert_frame_equal(a.schedule, b.schedule)
    assert a.policy == policy
    assert list(a.curve.columns) == ["time_h", "served_mw", "lost_mw", "customers_out",
                                     "facilities_dark", "facilities_on_backup",
                                     "facilities_on_mobile"]
    check_invariants(g, sc, a)
    empty = simulate(g.network, assets, Scenario.single(), policy, seed=1)
    assert empty.metrics["ens_mwh"] == 0.0 and len(empty.schedule) == 0
    assert empty.metrics["t100_h"] == 0.0


#: Random cases run by the inner loop; the rest (a MILP each) are marked slow.
QUICK_SEEDS = 8


def seeds(n: int) -> list:
    return [s if s < QUICK_SEEDS else pytest.param(s, marks=pytest.mark.slow)
            for s in range(n)]


@pytest.mark.parametrize("seed", seeds(30))
def test_optimal_never_worse_than_any_heuristic(seed):
    rng = np.random.default_rng(1000 + seed)
    crews = int(rng.integers(1, 4))
    capacity = float(rng.choice([35.0, 500.0]))
    g, sc = random_case(1000 + seed, int(rng.integers(2, 6)), 1, capacity)
    s = RestorationSettings(crews=crews, depots=("b0",),
                            spare_stock={"transformer": int(rng.integers(0, 2))},
                            spare_lead_time_h={"transformer": float(rng.choice([5.0, 40.0]))})
    assets = prepare(g, s)
    res = {p: simulate(g.network, assets, sc, p) for p in (*HEURISTICS, "optimal")}
    best = min(res[p].metrics["ens_mwh"] for p in HEURISTICS)
    opt = res["optimal"]
    assert not opt.notes, opt.notes
    assert opt.metrics["ens_mwh"] <= best + TOL * max(1.0, best)
    check_invariants(g, sc, opt)


@pytest.mark.parametrize("seed", [0, 1, *(pytest.param(s, marks=pytest.mark.slow)
                                          for s in range(2, 5))])
def test_optimal_equals_brute_force_with_one_crew(seed):
    """With one crew a schedule is an order of the jobs: the MILP's plan is the best
    order (all 5! orders simulated)."""
    g, sc = random_case(2000 + seed, 5, 1, 60.0, branches_only=True)
    s = RestorationSettings(crews=1, depots=("b0",), spare_stock={"transformer": 0},
                            spare_lead_time_h={"transformer": 20.0})
    assets = prepare(g, s)
    net = g.network
    opt = simulate(net, assets, sc, "optimal")
    tokens = opt.schedule["element"].tolist()
    best = min(
        simulate(net, assets, sc, PriorityList(order)).metrics["ens_mwh"]
        for order in itertools.permutations(tokens)
    )
    assert opt.metrics["ens_mwh"] == pytest.approx(best, rel=1e-7, abs=1e-6)


def test_plan_value_is_what_the_simulator_achieves():
    g, sc = random_case(77, 5, 1, 60.0)
    s = RestorationSettings(crews=2, depots=("b0",), spare_stock={"transformer": 0},
                            spare_lead_time_h={"transformer": 15.0})
    assets = prepare(g, s)
    res = simulate(g.network, assets, sc, "optimal")
    # plan the first decision by hand, through the context every policy gets
    plans = []

    def plan_first(d):
        if not plans:
            plans.append(plan_restoration(d.context, d.snapshot(), 60.0))
        return 0

    simulate(g.network, assets, sc, plan_first)
    plan = plans[0]
    assert plan.status == "optimal"
    assert res.metrics["ens_mwh"] == pytest.approx(plan.ens_mwh, rel=1e-7, abs=1e-6)


def test_optimal_falls_back_to_greedy_when_too_large():
    g, sc = random_case(5, 5, 1)
    assets = prepare(g, RestorationSettings(crews=2, optimal_max_jobs=2))
    opt = simulate(g.network, assets, sc, "optimal")
    greedy = simulate(g.network, assets, sc, "greedy")
    n_jobs = len(greedy.schedule)
    if n_jobs > 2:
        assert any("optimal_max_jobs = 2" in n for n in opt.notes)
    check_invariants(g, sc, opt)
