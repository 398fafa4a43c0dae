"""Cascades in trip and redispatch mode: hand-worked stages and shedding, and properties
on random grids (redispatch never serves less than trip mode; trip mode is the
engine's own cascade; redispatched flows are a DC power flow of the new dispatch)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse.linalg as spla
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builders import failed, make_grid
from gridres.cascade import cascade, shed_cost
from gridres.errors import UsageError
from gridres.flow import branch_flows, shift_injections, susceptance_matrix
from gridres.impact import assess
from gridres.topology import components

# The hand-worked grid. All reactances 0.1 p.u. on 100 MVA (b = 10 p.u.).
#
#        L1 (100 MW)                 G1 at bus 1: p 150, pmax 200 (reference)
#   1 ============= 3  load 150      G2 at bus 3: p 0, pmax 20
#   |   L2 (100 MW)  |
#   L3 (100)        L4 (40 MW)
#   |                |
#   2 ---------------+
#
# Intact: the direct pair (x 0.05) and the detour 1-2-3 (x 0.2) share 150 MW as
# 0.2 : 0.05, so L1 = L2 = 60 and L3 = L4 = 30.
# Without L1: L2 (x 0.1) against the detour (x 0.2): L2 = 100 (at its rating, not over),
# L3 = L4 = 50 > 40: L4 trips (stage 1). Then L2 carries 150 > 100 and trips (stage 2):
# bus 3 is an island with G2 only: 20 MW served, 130 shed.
#
# Redispatch without L1: with D the load served and p2 the output of G2, the net demand
# D - p2 flows from bus 1 as L2 = 2/3 (D - p2), L4 = L3 = 1/3 (D - p2).
# L4 <= 40 gives D - p2 <= 120; with p2 <= 20, D <= 140: shed 10 MW, G2 at 20, G1 at 120,
# L2 = 80, L3 = L4 = 40. Redispatch moved 30 + 20 = 50 MW.


def hand_grid(l1_rating: float = 100.0, **bus3):
    return make_grid(
        [{"id": "1", "ref": True}, {"id": "2"}, {"id": "3", "load_mw": 150.0, **bus3}],
        [
            {"id": "L1", "from_bus": "1", "to_bus": "3", "x_pu": 0.1, "rating_mw": l1_rating},
            {"id": "L2", "from_bus": "1", "to_bus": "3", "x_pu": 0.1, "rating_mw": 100.0},
            {"id": "L3", "from_bus": "1", "to_bus": "2", "x_pu": 0.1, "rating_mw": 100.0},
            {"id": "L4", "from_bus": "2", "to_bus": "3", "x_pu": 0.1, "rating_mw": 40.0},
        ],
        [
            {"id": "G1", "bus": "1", "p_mw": 150.0, "pmax_mw": 200.0},
            {"id": "G2", "bus": "3", "p_mw": 0.0, "pmax_mw": 20.0},
        ],
    )


def ids(grid, positions):
    return grid.network.branch_ids[positions].tolist()


def test_hand_grid_flows_as_worked():
    g = hand_grid()
    np.testing.assert_allclose(assess(g.network).flow_mw, [60, 60, 30, 30], atol=1e-9)
    out = assess(g.network, failed(g, branches=["L1"]))
    np.testing.assert_allclose(out.flow_mw, [0, 100, 50, 50], atol=1e-9)


def test_trip_mode_stages_exact():
    g = hand_grid()
    res = cascade(g.network, failed(g, branches=["L1"]), mode="trip")
    assert [ids(g, s.tripped) for s in res.stages] == [["L4"], ["L2"]]
    assert [s.served_mw for s in res.stages] == pytest.approx([150.0, 20.0])
    assert [s.shed_mw for s in res.stages] == pytest.approx([0.0, 130.0])
    assert res.outage.served_total_mw == pytest.approx(150.0)
    assert res.served_mw == pytest.approx(20.0)
    assert res.intervention is None and res.redispatch_mw == 0.0
    assert ids(g, res.tripped) == ["L4", "L2"]
    assert res.final.n_islands == 2
    assert [ids(g, s) for s in res.final.stages] == [["L4"], ["L2"]]
    # the engine's own cascade agrees stage by stage
    eng = assess(g.network, failed(g, branches=["L1"]), cascade=True)
    assert [ids(g, s) for s in eng.stages] == [["L4"], ["L2"]]
    np.testing.assert_allclose(res.final.served_mw, eng.served_mw)


def test_margin_keeps_branch_at_its_raised_limit():
    g = hand_grid()
    # L4 carries 50 = 40 x 1.25: not above rating x (1 + margin)
    res = cascade(g.network, failed(g, branches=["L1"]), mode="trip", margin=0.25)
    assert res.stages == () and res.served_mw == pytest.approx(150.0)
    res = cascade(g.network, failed(g, branches=["L1"]), mode="trip", margin=0.2)
    assert [ids(g, s.tripped) for s in res.stages] == [["L4"], ["L2"]]


def test_redispatch_avoids_the_cascade_and_sheds_the_worked_amount():
    g = hand_grid()
    res = cascade(g.network, failed(g, branches=["L1"]), mode="redispatch")
    assert res.stages == () and res.intervention == 0
    assert res.shed_mw == pytest.approx(10.0, abs=1e-4)
    assert res.served_mw == pytest.approx(140.0, abs=1e-4)
    np.testing.assert_allclose(res.final.gen_mw, [120.0, 20.0], atol=1e-4)
    np.testing.assert_allclose(res.final.flow_mw, [0.0, 80.0, 40.0, 40.0], atol=1e-4)
    assert res.redispatch_mw == pytest.approx(50.0, abs=1e-4)
    assert not res.final.overloaded.any()
    assert res.final.served_mw[2] == pytest.approx(140.0, abs=1e-4)


def test_redispatch_lets_a_branch_trip_when_saving_it_costs_load():
    # two parallel lines to a 100 MW load; L1 (40 MW) is overloaded at 50 MW. Saving it
    # needs 20 MW shed (it carries half the load); letting it trip costs nothing: L2
    # carries all 100 MW within its 200 MW rating.
    g = make_grid(
        [{"id": "a", "ref": True}, {"id": "b", "load_mw": 100.0}],
        [{"id": "L1", "from_bus": "a", "to_bus": "b", "x_pu": 0.1, "rating_mw": 40.0},
         {"id": "L2", "from_bus": "a", "to_bus": "b", "x_pu": 0.1, "rating_mw": 200.0}],
        [{"id": "G", "bus": "a", "p_mw": 100.0, "pmax_mw": 150.0}],
    )
    res = cascade(g.network, mode="redispatch")
    assert res.intervention is None
    assert [ids(g, s.tripped) for s in res.stages] == [["L1"]]
    assert res.served_mw == pytest.approx(100.0)


def test_redispatch_acts_after_a_harmless_first_stage():
    # L1 rated 10 MW carries 60 MW in the intact grid. Securing at stage 0 keeps
    # L1 = 0.4 (D - p2) <= 10: D <= 45, 105 MW shed. Letting L1 trip gives the worked
    # case above: 10 MW shed at stage 1. Letting L4 trip too: 30 MW; to the end: 130.
    g = hand_grid(l1_rating=10.0)
    trip = cascade(g.network, mode="trip")
    assert [ids(g, s.tripped) for s in trip.stages] == [["L1"], ["L4"], ["L2"]]
    assert trip.served_mw == pytest.approx(20.0)
    red = cascade(g.network, mode="redispatch")
    assert red.intervention == 1
    assert [ids(g, s.tripped) for s in red.stages] == [["L1"]]
    assert red.shed_mw == pytest.approx(10.0, abs=1e-4)


def test_redispatch_sheds_non_critical_load_first_and_keeps_the_hospital_on_grid():
    # 100 of bus 3's 150 MW feed a hospital: the 10 MW come from the other 50 MW.
    base = hand_grid()
    g = base.replace(facilities=make_grid(
        [{"id": "3"}], [], facilities=[{"id": "H", "bus": "3", "kind": "hospital",
                                        "demand_mw": 100.0, "people": 500}]).facilities)
    red = cascade(g.network, failed(g, branches=["L1"]), mode="redispatch")
    assert red.shed_mw == pytest.approx(10.0, abs=1e-4)
    assert red.final.facility.tolist() == ["grid"]
    trip = cascade(g.network, failed(g, branches=["L1"]), mode="trip")
    # bus 3's island has 20 MW: 50 non-critical and 80 critical MW are shed
    assert trip.final.facility.tolist() == ["dark"]
    assert trip.final.people_out == 500
    crit_cost = shed_cost(g.network, trip.final.served_mw, (1.0, 1000.0, 1e6))
    assert crit_cost == pytest.approx(50 * 1000.0 + 80 * 1e6)


def test_unsecurable_island_cascades_as_in_trip_mode():
    # 149 of bus 3's 150 MW are a fixed shunt (never shed): at least 149 - 20 = 129 MW
    # must reach bus 3 and L4 would carry 43 > 40 MW, so no redispatch secures the grid.
    g = hand_grid(load_mw=1.0, gs_mw=149.0)
    out = failed(g, branches=["L1"])
    red = cascade(g.network, out, mode="redispatch")
    trip = cascade(g.network, out, mode="trip")
    assert red.intervention is None
    assert [ids(g, s.tripped) for s in red.stages] == [ids(g, s.tripped) for s in trip.stages]


@pytest.mark.parametrize(("kw", "message"), [
    ({"mode": "fast"}, "The 'mode' parameter of cascade must be one of none, trip, redispatch. "
                       "Got 'fast' instead."),
    ({"margin": -0.1}, "The 'margin' parameter of cascade must be a float >= 0. Got -0.1 instead."),
    ({"shed_cost_per_mw": 0.0}, "The 'shed_cost_per_mw' parameter of cascade must be a float > 0"),
    ({"near_limit": 1.5}, "The 'near_limit' parameter of cascade must be a float in (0, 1]"),
])
def test_parameters_are_checked(kw, message):
    g = hand_grid()
    with pytest.raises(UsageError) as err:
        cascade(g.network, **kw)
    assert str(err.value).startswith(message)


# -- properties on random meshed grids ---------------------------------------------------


def random_case(seed: int):
    """A ring of 4-9 buses with chords, 1-3 generators, tight ratings, 0-2 failed lines."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(4, 10))
    bus = [f"b{i}" for i in range(n)]
    f = list(range(n))
    t = [(i + 1) % n for i in range(n)]
    for _ in range(int(rng.integers(0, n))):
        a, b = rng.choice(n, 2, replace=False)
        f.append(int(a))
        t.append(int(b))
    m = len(f)
    load = np.round(rng.uniform(0, 100, n) * (rng.random(n) < 0.7), 1)
    ng = int(rng.integers(1, 4))
    gb = rng.choice(n, ng, replace=False)
    pmax = np.round(rng.uniform(50, 300, ng), 1)
    p = np.round(pmax / pmax.sum() * min(load.sum(), pmax.sum()), 3)
    g = make_grid(
        [{"id": bus[i], "load_mw": float(load[i]), "ref": bool(i == gb[0])} for i in range(n)],
        [{"id": f"l{k}", "from_bus": bus[f[k]], "to_bus": bus[t[k]],
          "x_pu": float(rng.uniform(0.05, 0.3)), "rating_mw": float(rng.uniform(20, 150))}
         for k in range(m)],
        [{"id": f"g{j}", "bus": bus[gb[j]], "p_mw": float(p[j]), "pmax_mw": float(pmax[j])}
         for j in range(ng)],
    )
    out = rng.choice(m, int(rng.integers(0, 3)), replace=False)
    return g, g.network.intact().fail(branches=out)


def dc_flows(net, imp):
    """DC flows of the impact's dispatch and served load, solved from scratch."""
    eff = imp.state
    live = eff.branch & imp.energized[net.f]
    _, labels = components(net, eff.branch)
    ground = np.zeros(net.n_bus, dtype=bool)
    _, first = np.unique(labels, return_index=True)
    ground[first] = True
    inj = (np.bincount(net.gen_bus, weights=imp.gen_mw, minlength=net.n_bus) - imp.served_mw
           - imp.fixed_mw)
    rhs = inj / net.base_mva - shift_injections(net, live)[1]
    theta = spla.spsolve(susceptance_matrix(net, eff.branch, ground), rhs)
    return branch_flows(net, theta, live)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1))
def test_redispatch_never_serves_less_than_trip(seed):
    g, out = random_case(seed)
    net = g.network
    trip = cascade(net, out, mode="trip")
    red = cascade(net, out, mode="redispatch")
    assert red.served_mw >= trip.served_mw - 1e-6
    # every branch within its limit at the end of both (no stage bound was hit)
    assert not trip.final.overloaded.any()
    assert not red.final.overloaded.any()
    # redispatched generators within [0, pmax] (the engine's reference may run below 0),
    # every island balanced
    moved = red.final.gen_mw != assess(net, red.final.state).gen_mw
    assert (red.final.gen_mw[moved] >= -1e-9).all()
    assert (red.final.gen_mw[moved] <= net.gen_pmax_mw[moved] + 1e-6).all()
    gen_isl = np.bincount(red.final.island[net.gen_bus] + 1, weights=red.final.gen_mw,
                          minlength=net.n_bus + 1)
    srv_isl = np.bincount(red.final.island + 1, weights=red.final.served_mw,
                          minlength=net.n_bus + 1)
    np.testing.assert_allclose(gen_isl[1:], srv_isl[1:], atol=1e-6)
    # the flows reported are the DC flows of that dispatch
    np.testing.assert_allclose(red.final.flow_mw, dc_flows(net, red.final), atol=1e-6)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), margin=st.sampled_from([0.0, 0.1]))
def test_trip_mode_is_the_engine_cascade(seed, margin):
    g, out = random_case(seed)
    res = cascade(g.network, out, mode="trip", margin=margin)
    eng = assess(g.network, out, cascade=True, margin=margin)
    assert [s.tolist() for s in res.final.stages] == [s.tolist() for s in eng.stages]
    np.testing.assert_allclose(res.final.served_mw, eng.served_mw)
    np.testing.assert_allclose(res.final.flow_mw, eng.flow_mw)


def test_demo_region_redispatch_not_worse_than_trip():
    from gridres.io.load import bundled_grids

    if "demo_region" not in bundled_grids():
        pytest.skip("bundled grid demo_region not available")
    from gridres.io import load_grid

    net = load_grid("demo_region").network
    rng = np.random.default_rng(20240601)
    cascaded = 0
    for _ in range(25):
        out = net.intact().fail(branches=rng.choice(net.n_branch, 3, replace=False))
        trip = cascade(net, out, mode="trip")
        red = cascade(net, out, mode="redispatch")
        cascaded += bool(trip.stages)
        assert red.served_mw >= trip.served_mw - 1e-6
        assert not red.final.overloaded.any()
    assert cascaded > 0  # the sample exercises real cascades
