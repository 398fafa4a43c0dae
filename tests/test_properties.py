"""Invariants of the engine on random grids and random failure sets (hypothesis).

Runs are derandomised (a fixed seed per test, no example database), so CI sees the same
examples every time.
"""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from builders import failed, make_grid
from gridres.impact import assess
from gridres.model import CRITICAL_PRIORITY, State
from gridres.topology import islands, unsupplied_buses

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TOL = 1e-6


# -- strategies ------------------------------------------------------------------------


def halves(lo: int, hi: int) -> st.SearchStrategy[float]:
    """Multiples of 0.5 MW between lo and hi: sizes a planner would enter, no denormals."""
    return st.integers(2 * lo, 2 * hi).map(lambda v: v / 2)


@st.composite
def small_grids(draw, shunts: bool = True, negative_loads: bool = True):
    """A connected grid of 2-8 buses: a random spanning tree plus a few extra branches
    (parallel ones too), random loads, priorities, customers, 0-4 generators with
    schedules within [0, pmax], optional case reference, taps, phase shifts, ratings and
    critical facilities. Optionally some buses get a shunt demand (``gs_mw``) or a
    negative load (an embedded generator): fixed injections, never shed."""
    n = draw(st.integers(2, 8))
    edges = [(draw(st.integers(0, i - 1)), i) for i in range(1, n)]
    extra = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)),
                          max_size=4))
    edges += [(a, b) for a, b in extra if a != b]
    ref = draw(st.one_of(st.none(), st.integers(0, n - 1)))
    buses = []
    for i in range(n):
        load = draw(st.one_of(st.just(0.0), halves(0, 100)))
        if negative_loads and draw(st.integers(0, 5)) == 0:
            load = -draw(halves(0, 30))
        bus = {"id": f"b{i}", "load_mw": load, "priority": draw(st.integers(0, 2)),
               "customers": draw(st.integers(0, 50)), "ref": i == ref}
        if shunts:
            bus["gs_mw"] = draw(st.one_of(st.just(0.0), halves(0, 40)))
        buses.append(bus)
    branches = []
    for k, (a, b) in enumerate(edges):
        branches.append({
            "id": f"l{k}", "from_bus": f"b{a}", "to_bus": f"b{b}",
            "x_pu": draw(st.integers(1, 50)) / 50,
            "tap": draw(st.one_of(st.just(1.0), st.integers(90, 110).map(lambda v: v / 100))),
            "shift_deg": draw(st.one_of(st.just(0.0), st.integers(-10, 10).map(float))),
            "rating_mw": draw(st.one_of(st.just(math.inf), halves(5, 150))),
        })
    gens = []
    for k in range(draw(st.integers(0, 4))):
        pmax = draw(halves(0, 200))
        gens.append({"id": f"g{k}", "bus": f"b{draw(st.integers(0, n - 1))}",
                     "p_mw": pmax * draw(st.integers(0, 4)) / 4, "pmax_mw": pmax})
    facs = []
    for k in range(draw(st.integers(0, 2))):
        i = draw(st.integers(0, n - 1))
        facs.append({"id": f"f{k}", "bus": f"b{i}",
                     "demand_mw": max(buses[i]["load_mw"], 0.0) * draw(st.integers(0, 4)) / 4,
                     "backup_mw": draw(halves(0, 20)), "backup_hours": 4.0,
                     "people": draw(st.integers(0, 100))})
    return make_grid(buses, branches, gens, facs)


def failure_sets(net, max_bus: int = 2, max_branch: int = 4, max_gen: int = 2):
    """Random sets of bus, branch and generator positions of ``net``."""

    def subset(size: int, most: int):
        if size == 0:
            return st.just(frozenset())
        return st.frozensets(st.integers(0, size - 1), max_size=most)

    return st.tuples(subset(net.n_bus, max_bus), subset(net.n_branch, max_branch),
                     subset(net.n_gen, max_gen))


def state_of(net, fails) -> State:
    buses, branches, gens = fails
    return net.intact().fail(sorted(buses), sorted(branches), sorted(gens))


# -- the invariants --------------------------------------------------------------------


def alive_masks(net, state):
    """Rule 1, computed here independently of the engine."""
    bus = state.bus & net.bus_in_service
    branch = state.branch & net.branch_in_service & bus[net.f] & bus[net.t]
    gen = state.gen & net.gen_in_service & bus[net.gen_bus]
    return bus, branch, gen


def check_invariants(net, state, dispatch_range: bool = True) -> None:
    imp = assess(net, state)
    bus, branch, gen = alive_masks(net, state)
    load = np.where(net.bus_in_service, np.maximum(net.load_mw, 0.0), 0.0)

    # effective state is rule 1
    assert np.array_equal(imp.state.bus, bus)
    assert np.array_equal(imp.state.branch, branch)
    assert np.array_equal(imp.state.gen, gen)

    # islands: an exact partition of alive buses into connected components over alive
    # branches, numbered in order of their lowest bus
    g = nx.Graph()
    g.add_nodes_from(np.flatnonzero(bus).tolist())
    g.add_edges_from(zip(net.f[branch].tolist(), net.t[branch].tolist(), strict=True))
    comps = sorted((sorted(c) for c in nx.connected_components(g)), key=lambda c: c[0])
    assert np.array_equal(imp.island >= 0, bus)
    assert imp.n_islands == len(comps)
    for label, comp in enumerate(comps):
        assert np.array_equal(np.flatnonzero(imp.island == label), comp)

    # served within [0, load]; served + shed = load of in-service buses
    assert (imp.served_mw >= -TOL).all()
    assert (imp.served_mw <= load + TOL).all()
    assert np.allclose(imp.served_mw + imp.shed_mw, load, atol=TOL)
    assert imp.served_total_mw + imp.shed_total_mw == pytest.approx(load.sum(), abs=TOL)
    assert (imp.served_mw[~bus] == 0).all()

    # per island: energized iff it has capacity and its fixed demand (shunts, which are
    # never shed) fits in it; served + fixed demand within capacity
    cap = np.zeros(imp.n_islands)
    np.add.at(cap, imp.island[net.gen_bus[gen]], net.gen_pmax_mw[gen])
    alive = np.flatnonzero(bus)
    served = np.bincount(imp.island[alive], weights=imp.served_mw[alive],
                         minlength=imp.n_islands)
    fixed = np.bincount(imp.island[alive], weights=net.fixed_mw[alive], minlength=imp.n_islands)
    live = (cap > 0) & (fixed <= cap + TOL)
    # fixed demand in effect: surplus negative loads may be curtailed (impact module notes)
    fixed = np.bincount(imp.island[alive], weights=imp.fixed_mw[alive], minlength=imp.n_islands)
    assert np.array_equal(imp.energized[alive], live[imp.island[alive]])
    # the topology primitives agree: same islands; unsupplied = alive without capacity
    assert np.array_equal(islands(net, state), imp.island)
    assert np.array_equal(unsupplied_buses(net, state), alive[cap[imp.island[alive]] <= 0])
    assert (served[live] + fixed[live] <= cap[live] + TOL).all()
    assert (served[~live] == 0).all()

    # dispatch: dead generators at 0; generation balances served + fixed demand per
    # island; within [0, pmax] in islands that do not hold the case reference bus
    assert (imp.gen_mw[~gen] == 0).all()
    gen_isl = np.bincount(imp.island[net.gen_bus[gen]], weights=imp.gen_mw[gen],
                          minlength=imp.n_islands)
    assert np.allclose(gen_isl[live], served[live] + fixed[live], atol=TOL)
    if dispatch_range:
        check_dispatch_range(imp)

    # power is conserved at every bus: flows leaving = net injection
    inj = (np.bincount(net.gen_bus, weights=imp.gen_mw, minlength=net.n_bus) - imp.served_mw
           - imp.fixed_mw)
    assert np.allclose(net.incidence.T @ imp.flow_mw, inj, atol=TOL)
    assert (imp.flow_mw[~branch] == 0).all()

    # shedding order: a class is touched only once every lower class of the island is
    # gone, and proportionally within a class (checked on buses without facilities)
    plain = np.flatnonzero(bus & imp.energized & (net.critical_mw == 0) & (load > 0))
    frac = imp.shed_mw[plain] / load[plain]
    isl, pri = imp.island[plain], net.priority[plain]
    for i in np.unique(isl):
        for p in np.unique(pri[isl == i]):
            same = (isl == i) & (pri == p)
            assert np.ptp(frac[same]) < 1e-9
            if frac[same].max() > 1e-9:
                lower = (isl == i) & (pri < p)
                assert (frac[lower] > 1 - 1e-9).all()
    assert (net.priority < CRITICAL_PRIORITY).all()


def check_dispatch_range(imp) -> None:
    """Every generator within [0, pmax] in islands that do not hold the case reference
    bus (which, as MATPOWER's slack, may absorb a surplus)."""
    net, bus, gen = imp.net, imp.state.bus, imp.state.gen
    ref_islands = np.unique(imp.island[np.flatnonzero(net.is_ref & bus)])
    free = gen & ~np.isin(imp.island[net.gen_bus], ref_islands)
    assert (imp.gen_mw[free] >= -TOL).all()
    assert (imp.gen_mw[free] <= net.gen_pmax_mw[free] + TOL).all()


def check_monotone(net, fails, more) -> None:
    """Failing a superset of elements never serves more load (cascade off)."""
    a = state_of(net, fails)
    b = state_of(net, tuple(x | y for x, y in zip(fails, more, strict=True)))
    assert assess(net, b).served_total_mw <= assess(net, a).served_total_mw + TOL


# -- random small grids ----------------------------------------------------------------


@SETTINGS
@given(data=st.data())
def test_invariants_on_small_grids(data):
    grid = data.draw(small_grids())
    net = grid.network
    check_invariants(net, net.intact(), dispatch_range=False)
    check_invariants(net, state_of(net, data.draw(failure_sets(net))), dispatch_range=False)


def two_generators_at_reference():
    """No case reference; a's generators g1 (10 of 50 MW) and g2 (0 of 50 MW) make a the
    reference. With no load, the -10 MW imbalance split by pmax puts g2 at -5 MW."""
    return make_grid(
        [{"id": "a"}, {"id": "b"}],
        [{"id": "ab", "from_bus": "a", "to_bus": "b", "x_pu": 0.1}],
        [{"id": "g1", "bus": "a", "p_mw": 10.0, "pmax_mw": 50.0},
         {"id": "g2", "bus": "a", "p_mw": 0.0, "pmax_mw": 50.0}],
    )


@settings(SETTINGS, max_examples=30, phases=[Phase.explicit, Phase.generate])  # no shrinking
@given(grid=small_grids(negative_loads=False))
@example(grid=two_generators_at_reference())
def test_dispatch_within_capacity_on_small_grids(grid):
    """Outside the case reference's island every generator stays within [0, pmax], in
    the intact grid and after every single-element outage. (Not on grids with negative
    loads: a surplus of fixed injections admits no such dispatch.)"""
    net = grid.network
    check_dispatch_range(assess(net))
    for kind, size in (("buses", net.n_bus), ("branches", net.n_branch), ("gens", net.n_gen)):
        for k in range(size):
            check_dispatch_range(assess(net, net.intact().fail(**{kind: [k]})))


@SETTINGS
@given(data=st.data())
def test_served_is_monotone_on_small_grids(data):
    """Without shunts (see test_cutting_off_a_shunt_can_raise_served_load)."""
    grid = data.draw(small_grids(shunts=False))
    net = grid.network
    fails = data.draw(failure_sets(net))
    more = data.draw(failure_sets(net))
    check_monotone(net, fails, more)


def test_cutting_off_a_shunt_can_raise_served_load():
    """Shunt demand (gs) is fixed, never shed (rule 3 as documented in impact.py). So
    served load is *not* monotone in the failure set on grids with shunts: here a 100 MW
    generator feeds b (100 MW load) and c (a 50 MW shunt); 50 MW of b's load is shed.
    Losing b-c leaves c dark and frees the 50 MW for b: served rises from 50 to 100 MW."""
    g = make_grid(
        [{"id": "a", "ref": True}, {"id": "b", "load_mw": 100.0}, {"id": "c", "gs_mw": 50.0}],
        [{"id": "ab", "from_bus": "a", "to_bus": "b", "x_pu": 0.1},
         {"id": "bc", "from_bus": "b", "to_bus": "c", "x_pu": 0.1}],
        [{"id": "g", "bus": "a", "p_mw": 0.0, "pmax_mw": 100.0}],
    )
    assert assess(g.network).served_total_mw == pytest.approx(50.0)
    assert assess(g.network, failed(g, branches=["bc"])).served_total_mw == pytest.approx(100.0)


# -- MATPOWER cases ----------------------------------------------------------------------


@pytest.mark.parametrize("case", ["case30", "case118"])
def test_invariants_on_matpower_cases(case, matpower_grid):
    net = matpower_grid(case).network
    assert (net.gs_mw == 0).all() and (net.load_mw >= 0).all()

    @SETTINGS
    @given(fails=failure_sets(net, max_bus=5, max_branch=15, max_gen=5))
    def run(fails):
        check_invariants(net, state_of(net, fails))

    run()


@pytest.mark.parametrize("case", ["case30", "case118"])
def test_served_is_monotone_on_matpower_cases(case, matpower_grid):
    net = matpower_grid(case).network

    @SETTINGS
    @given(fails=failure_sets(net, max_bus=5, max_branch=15, max_gen=5),
           more=failure_sets(net, max_bus=3, max_branch=10, max_gen=3))
    def run(fails, more):
        check_monotone(net, fails, more)

    run()
