"""The outage engine on grids small enough to solve on paper (engine semantics 1-5).

Every expected number below is worked out by hand from the DC model
``B θ = P`` (``b = 1 / (x · tap)``, base 100 MVA) and the balance rule of
:mod:`gridres.impact`; the working is in each test's docstring.
"""

from __future__ import annotations

import numpy as np
import pytest
from pytest import approx

from builders import failed, make_grid
from gridres.errors import UsageError
from gridres.impact import FACILITY_BACKUP, FACILITY_DARK, FACILITY_GRID, assess
from gridres.io import load_grid
from gridres.model import to_networkx
from gridres.topology import grid_summary, islands, unsupplied_buses

TOL = {"rel": 1e-9, "abs": 1e-9}


def line(id_: str, f: str, t: str, x: float = 0.1, **kw):
    return {"id": id_, "from_bus": f, "to_bus": t, "x_pu": x, **kw}


def gen(id_: str, bus: str, p: float, pmax: float, **kw):
    return {"id": id_, "bus": bus, "p_mw": p, "pmax_mw": pmax, **kw}


def by_id(grid, table: str, values: np.ndarray) -> dict[str, float]:
    return dict(zip(getattr(grid, table).index, values.tolist(), strict=True))


# -- a 3-bus triangle ------------------------------------------------------------------


def triangle(**ac):
    """a (case reference, generator) feeds b (60 MW) and c (90 MW); ab, bc: x = 0.1,
    ac: x = 0.2 unless overridden."""
    return make_grid(
        [{"id": "a", "ref": True}, {"id": "b", "load_mw": 60.0}, {"id": "c", "load_mw": 90.0}],
        [line("ab", "a", "b"), line("bc", "b", "c"), line("ac", "a", "c", **{"x": 0.2, **ac})],
        [gen("g", "a", 100.0, 300.0)],
    )


def test_triangle_flows_split_by_reactance():
    """Reduced B over (b, c) with b_ab = b_bc = 10, b_ac = 5 p.u.:
    [[20, -10], [-10, 15]] θ = [-0.6, -0.9]  =>  θ_b = -0.09, θ_c = -0.12.
    Flows: ab = 10·0.09·100 = 90, bc = 10·0.03·100 = 30, ac = 5·0.12·100 = 60 MW.
    The generator is scheduled at 100 MW; as the reference it takes up the 50 MW gap."""
    g = triangle()
    imp = assess(g.network)
    assert by_id(g, "branches", imp.flow_mw) == approx({"ab": 90.0, "bc": 30.0, "ac": 60.0}, **TOL)
    assert imp.theta_rad == approx([0.0, -0.09, -0.12], **TOL)
    assert imp.gen_mw == approx([150.0], **TOL)
    assert imp.served_mw == approx([0.0, 60.0, 90.0], **TOL)
    assert imp.shed_total_mw == approx(0.0, abs=1e-12)
    assert imp.n_islands == 1
    assert not imp.overloaded.any()


def test_off_nominal_tap_divides_susceptance():
    """ac with tap 1.25: b_ac = 1 / (0.2 · 1.25) = 4 p.u.
    [[20, -10], [-10, 14]] θ = [-0.6, -0.9], det 180:
    θ_b = (14·-0.6 + 10·-0.9) / 180 = -17.4/180, θ_c = (10·-0.6 + 20·-0.9) / 180 = -24/180.
    ab = 1000·17.4/180 = 290/3, bc = 1000·6.6/180 = 110/3, ac = 400·24/180 = 160/3 MW."""
    g = triangle(tap=1.25)
    assert g.network.b_pu == approx([10.0, 10.0, 4.0], **TOL)
    imp = assess(g.network)
    assert imp.flow_mw == approx([290 / 3, 110 / 3, 160 / 3], **TOL)
    assert imp.theta_rad == approx([0.0, -17.4 / 180, -24 / 180], **TOL)


def test_phase_shifter_and_tap():
    """ac with tap 1.25 and a 0.1 rad shift: b_ac = 4, Pfinj_ac = -b·shift = -0.4 p.u.,
    so Pbusinj = -0.4 at a and +0.4 at c (MATPOWER makeBdc).
    [[20, -10], [-10, 14]] θ = [-0.6, -0.9 - 0.4]:
    θ_b = (14·-0.6 + 10·-1.3) / 180 = -21.4/180, θ_c = (10·-0.6 + 20·-1.3) / 180 = -32/180.
    ab = 1000·21.4/180 = 1070/9, bc = 1000·10.6/180 = 530/9,
    ac = (4·32/180 - 0.4)·100 = 280/9 MW."""
    g = triangle(tap=1.25, shift_deg=float(np.rad2deg(0.1)))
    imp = assess(g.network)
    assert imp.flow_mw == approx([1070 / 9, 530 / 9, 280 / 9], **TOL)
    assert imp.theta_rad == approx([0.0, -21.4 / 180, -32 / 180], **TOL)
    # the hand solution, written as the full B-matrix system, agrees
    b = np.array([[20.0, -10.0], [-10.0, 14.0]])
    theta = np.linalg.solve(b, np.array([-0.6, -1.3]))
    assert imp.theta_rad[1:] == approx(theta, **TOL)


def test_phase_shifter_drives_loop_flow_without_load():
    """No load, no generation: a 0.1 rad shift on ac (b_ac = 5) drives a loop flow.
    Pbusinj: a -0.5, c +0.5.  [[20, -10], [-10, 15]] θ = [0, -0.5]:
    θ_b = -5/200, θ_c = -10/200.  ab = 10·0.025·100 = 25, bc = 25,
    ac = (5·0.05 - 0.5)·100 = -25 MW (the loop runs c -> a)."""
    g = make_grid(
        [{"id": "a", "ref": True}, {"id": "b"}, {"id": "c"}],
        [line("ab", "a", "b"), line("bc", "b", "c"),
         line("ac", "a", "c", 0.2, shift_deg=float(np.rad2deg(0.1)))],
        [gen("g", "a", 0.0, 10.0)],
    )
    imp = assess(g.network)
    assert imp.flow_mw == approx([25.0, 25.0, -25.0], **TOL)
    assert imp.gen_mw == approx([0.0], abs=1e-12)


# -- a radial feeder -------------------------------------------------------------------


def feeder():
    """s (reference, 200 MW generator) - 1 - 2 - 3 - 4 with loads 10, 20, 30, 40 MW and
    100, 200, 300, 400 customers."""
    buses = [{"id": "s", "ref": True}] + [
        {"id": str(i), "load_mw": 10.0 * i, "customers": 100 * i} for i in range(1, 5)
    ]
    branches = [line("s1", "s", "1"), line("12", "1", "2"), line("23", "2", "3"),
                line("34", "3", "4")]
    return make_grid(buses, branches, [gen("g", "s", 100.0, 200.0)])


def test_radial_feeder_intact():
    g = feeder()
    imp = assess(g.network)
    assert imp.flow_mw == approx([100.0, 90.0, 70.0, 40.0], **TOL)
    assert imp.served_total_mw == approx(100.0, **TOL)
    assert imp.customers_out == 0.0
    assert imp.summary()["dark_buses"] == []


def test_radial_feeder_branch_outage_darkens_the_tail():
    """Losing 2-3 leaves {s, 1, 2} on the generator and {3, 4} without any: 70 MW and
    700 customers lose power; the generator (reference) drops to 30 MW."""
    g = feeder()
    net = g.network
    state = failed(g, branches=["23"])
    imp = assess(net, state)
    assert imp.n_islands == 2
    assert imp.island.tolist() == [0, 0, 0, 1, 1]
    assert imp.energized.tolist() == [True, True, True, False, False]
    assert imp.served_mw == approx([0.0, 10.0, 20.0, 0.0, 0.0], **TOL)
    assert imp.shed_mw == approx([0.0, 0.0, 0.0, 30.0, 40.0], **TOL)
    assert imp.customers_out == approx(700.0, **TOL)
    assert imp.flow_mw == approx([30.0, 20.0, 0.0, 0.0], **TOL)
    assert imp.gen_mw == approx([30.0], **TOL)
    s = imp.summary()
    assert s["dark_buses"] == ["3", "4"]
    assert s["failed_branches"] == ["23"]
    assert (s["served_mw"], s["shed_mw"], s["total_load_mw"]) == approx((30.0, 70.0, 100.0))
    assert s["islands"] == 2
    # the topology primitives agree with the engine
    assert islands(net, state).tolist() == [0, 0, 0, 1, 1]
    assert unsupplied_buses(net, state).tolist() == [3, 4]
    assert unsupplied_buses(net, net.intact()).tolist() == []


def test_radial_feeder_bus_outage():
    """Losing bus 2 takes branches 12 and 23 and its 20 MW; 3-4 is dark."""
    g = feeder()
    imp = assess(g.network, failed(g, buses=["2"]))
    assert imp.island.tolist() == [0, 0, -1, 1, 1]
    assert imp.state.branch.tolist() == [True, False, False, True]
    assert imp.served_mw == approx([0.0, 10.0, 0.0, 0.0, 0.0], **TOL)
    assert imp.shed_mw == approx([0.0, 0.0, 20.0, 30.0, 40.0], **TOL)
    assert imp.customers_out == approx(900.0, **TOL)
    assert imp.summary()["failed_branches"] == ["12", "23"]


# -- load shedding ---------------------------------------------------------------------


def star(cap: float):
    """Hub h (reference, one generator of ``cap`` MW scheduled at 0) with spokes to
    A (priority 0, 40 MW), B (priority 0, 20 MW), C (priority 1, 50 MW) and
    D (priority 2, 30 MW of which 10 MW feed hospital H, no backup)."""
    return make_grid(
        [
            {"id": "h", "ref": True},
            {"id": "A", "load_mw": 40.0, "priority": 0, "customers": 40},
            {"id": "B", "load_mw": 20.0, "priority": 0, "customers": 20},
            {"id": "C", "load_mw": 50.0, "priority": 1, "customers": 50},
            {"id": "D", "load_mw": 30.0, "priority": 2, "customers": 30},
        ],
        [line(f"h{b}", "h", b) for b in "ABCD"],
        [gen("g", "h", 0.0, cap)],
        [{"id": "H", "bus": "D", "kind": "hospital", "demand_mw": 10.0, "people": 1000}],
    )


@pytest.mark.parametrize(
    ("cap", "served", "facility"),
    [
        # enough capacity: nothing shed, the reference generator takes all 140 MW
        (200.0, [40.0, 20.0, 50.0, 30.0], FACILITY_GRID),
        # exactly enough
        (140.0, [40.0, 20.0, 50.0, 30.0], FACILITY_GRID),
        # 40 MW short: class 0 (60 MW) sheds 40 in proportion, A 40·40/60, B 40·20/60
        (100.0, [40.0 - 80 / 3, 20.0 - 40 / 3, 50.0, 30.0], FACILITY_GRID),
        # 90 MW short: class 0 goes (60), class 1 sheds 30 of 50
        (50.0, [0.0, 0.0, 20.0, 30.0], FACILITY_GRID),
        # 120 MW short: classes 0, 1 (110) and 10 of D's 20 MW of priority-2 load
        (20.0, [0.0, 0.0, 0.0, 20.0], FACILITY_GRID),
        # 135 MW short: everything but 5 MW of the hospital's 10 MW (critical last)
        (5.0, [0.0, 0.0, 0.0, 5.0], FACILITY_DARK),
    ],
)
def test_shedding_order(cap, served, facility):
    g = star(cap)
    imp = assess(g.network)
    assert imp.served_mw == approx([0.0, *served], **TOL)
    assert imp.served_total_mw == approx(min(cap, 140.0), **TOL)
    assert imp.shed_total_mw == approx(140.0 - min(cap, 140.0), **TOL)
    # each spoke carries its bus's served load
    assert imp.flow_mw == approx(served, **TOL)
    # short islands run every generator at pmax; otherwise the reference follows load
    assert imp.gen_mw == approx([min(cap, 140.0)], **TOL)
    assert imp.facility.tolist() == [facility]
    loads = np.array([0.0, 40.0, 20.0, 50.0, 30.0])
    customers = np.array([0, 40, 20, 50, 30])
    shed = loads - np.array([0.0, *served])
    assert imp.customers_out == approx(
        float((customers * np.divide(shed, loads, out=np.zeros(5), where=loads > 0)).sum()), **TOL
    )
    assert imp.people_out == (1000 if facility == FACILITY_DARK else 0)


def test_critical_load_shed_in_proportion_across_buses():
    """Critical class: E's 20 MW (all of it feeds a water works) and 30 of F's 60 MW
    (a hospital); F's other 30 MW is priority 5. With 25 MW: F's 30 priority-5 MW go,
    then 25 of the 50 critical MW, half at each bus: E 10, F 15."""
    g = make_grid(
        [{"id": "h", "ref": True}, {"id": "E", "load_mw": 20.0, "priority": 0},
         {"id": "F", "load_mw": 60.0, "priority": 5}],
        [line("hE", "h", "E"), line("hF", "h", "F")],
        [gen("g", "h", 0.0, 25.0)],
        [{"id": "W", "bus": "E", "kind": "water", "demand_mw": 20.0},
         {"id": "H", "bus": "F", "kind": "hospital", "demand_mw": 30.0, "backup_mw": 30.0,
          "backup_hours": 12.0}],
    )
    assert g.network.critical_mw == approx([0.0, 20.0, 30.0])
    imp = assess(g.network)
    assert imp.served_mw == approx([0.0, 10.0, 15.0], **TOL)
    assert imp.facility.tolist() == [FACILITY_DARK, FACILITY_BACKUP]


def test_dark_star():
    """No generating capacity at all: the whole grid is one dark island."""
    g = star(0.0)
    imp = assess(g.network)
    assert imp.n_islands == 1
    assert not imp.energized.any()
    assert imp.served_total_mw == 0.0
    assert imp.shed_total_mw == approx(140.0, **TOL)
    assert imp.flow_mw == approx([0.0] * 4, abs=1e-12)
    assert imp.summary()["dark_buses"] == ["h", "A", "B", "C", "D"]
    assert imp.customers_out == approx(140.0, **TOL)


# -- two areas: islands short of capacity, reference choice ------------------------------


def two_areas(load_z: float, g2: tuple[float, float], g3: tuple[float, float]):
    """Area 1: a (case reference, g1 100/300 MW) - b (50 MW). Tie b-x.
    Area 2: x (g2) - y (g3) - z (``load_z``); generators given as (p_mw, pmax_mw)."""
    return make_grid(
        [{"id": "a", "ref": True}, {"id": "b", "load_mw": 50.0}, {"id": "x"}, {"id": "y"},
         {"id": "z", "load_mw": load_z}],
        [line("ab", "a", "b"), line("bx", "b", "x"), line("xy", "x", "y"), line("yz", "y", "z")],
        [gen("g1", "a", 100.0, 300.0), gen("g2", "x", *g2), gen("g3", "y", *g3)],
    )


def test_island_short_of_capacity_sheds():
    """Area 2 holds 20 + 10 MW of capacity for 50 MW: 20 MW shed, both at pmax; area 1's
    reference drops to b's 50 MW."""
    g = two_areas(50.0, (5.0, 20.0), (5.0, 10.0))
    imp = assess(g.network, failed(g, branches=["bx"]))
    assert imp.n_islands == 2
    assert imp.island.tolist() == [0, 0, 1, 1, 1]
    assert imp.gen_mw == approx([50.0, 20.0, 10.0], **TOL)
    assert imp.served_mw == approx([0.0, 50.0, 0.0, 0.0, 30.0], **TOL)
    assert imp.shed_total_mw == approx(20.0, **TOL)
    assert imp.flow_mw == approx([50.0, 0.0, 20.0, 30.0], **TOL)
    assert imp.energized.all()


def test_island_without_case_reference_uses_largest_generator():
    """Area 2 on its own: g2 (60 MW, at x) is the largest, so x is the reference and
    takes up the imbalance: 20 + (50 - 30) = 40 MW; g3 keeps its 10 MW."""
    g = two_areas(50.0, (20.0, 60.0), (10.0, 40.0))
    imp = assess(g.network, failed(g, branches=["bx"]))
    assert imp.gen_mw == approx([50.0, 40.0, 10.0], **TOL)
    assert imp.flow_mw == approx([50.0, 0.0, 40.0, 50.0], **TOL)
    # angles are relative to each island's reference bus: a and x
    assert imp.theta_rad[0] == 0.0 and imp.theta_rad[2] == 0.0
    assert imp.theta_rad[3] == approx(-0.04, **TOL)  # 0.4 p.u. over b = 10 p.u.
    assert imp.theta_rad[4] == approx(-0.09, **TOL)


@pytest.mark.parametrize(
    ("load_z", "g3", "dispatch"),
    [
        # reference would need 20 + 90 - 30 = 80 > 60 MW: proportional, 90/100 of pmax
        (90.0, (10.0, 40.0), [54.0, 36.0]),
        # reference would need 20 + 30 - 60 = -10 MW: proportional, 30/100 of pmax
        (30.0, (40.0, 40.0), [18.0, 12.0]),
    ],
)
def test_proportional_redispatch_when_reference_out_of_range(load_z, g3, dispatch):
    g = two_areas(load_z, (20.0, 60.0), g3)
    imp = assess(g.network, failed(g, branches=["bx"]))
    assert imp.gen_mw == approx([50.0, *dispatch], **TOL)
    assert imp.flow_mw == approx([50.0, 0.0, dispatch[0], load_z], **TOL)
    assert imp.shed_total_mw == approx(0.0, abs=1e-12)


def one_bus_pair(load_b: float, gens):
    return make_grid(
        [{"id": "a", "ref": True}, {"id": "b", "load_mw": load_b}],
        [line("ab", "a", "b")],
        gens,
    )


def test_case_reference_absorbs_surplus_below_zero():
    """MATPOWER's slack: schedules 100 (a) + 80 (b) for a 50 MW load leave the case
    reference at 100 + 50 - 180 = -30 MW."""
    g = one_bus_pair(50.0, [gen("g1", "a", 100.0, 200.0), gen("g2", "b", 80.0, 100.0)])
    imp = assess(g.network)
    assert imp.gen_mw == approx([-30.0, 80.0], **TOL)
    assert imp.flow_mw == approx([-30.0], **TOL)


def test_case_reference_past_capacity_redispatches():
    """Reference would need 50 + 180 - 100 = 130 > 100 MW: both run at 180/200 of pmax."""
    g = one_bus_pair(180.0, [gen("g1", "a", 50.0, 100.0), gen("g2", "b", 50.0, 100.0)])
    imp = assess(g.network)
    assert imp.gen_mw == approx([90.0, 90.0], **TOL)
    assert imp.flow_mw == approx([90.0], **TOL)


def test_generators_at_reference_share_its_output_by_capacity():
    """The reference bus must give 100 - 20 = 80 MW (g3 at b keeps its 20); its two
    generators share that 1:3 by pmax: 20 and 60."""
    g = one_bus_pair(100.0, [gen("g1", "a", 10.0, 100.0), gen("g2", "a", 30.0, 300.0),
                             gen("g3", "b", 20.0, 50.0)])
    imp = assess(g.network)
    assert imp.gen_mw == approx([20.0, 60.0, 20.0], **TOL)
    assert imp.flow_mw == approx([80.0], **TOL)


@pytest.mark.parametrize(("load_b", "dispatch"), [(0.0, [0.0, 0.0]), (30.0, [15.0, 15.0]),
                                                 (100.0, [50.0, 50.0])])
def test_reference_generators_stay_within_their_capacity(load_b, dispatch):
    """No case reference: a holds the largest generators, g1 (scheduled 10 of 50 MW) and
    g2 (0 of 50 MW), and gives all of b's load; split by pmax, never g1 + Δ/2, g2 + Δ/2
    (which would put g2 at -5 MW with no load)."""
    g = make_grid(
        [{"id": "a"}, {"id": "b", "load_mw": load_b}],
        [line("ab", "a", "b")],
        [gen("g1", "a", 10.0, 50.0), gen("g2", "a", 0.0, 50.0)],
    )
    imp = assess(g.network)
    assert imp.gen_mw == approx(dispatch, **TOL)
    assert imp.flow_mw == approx([load_b], **TOL)


# -- generator and bus outages ---------------------------------------------------------


def test_generator_outage():
    """g1 (a, case reference, 100/150 MW) and g2 (b, 50/120 MW) for 100 MW at b."""
    g = one_bus_pair(100.0, [gen("g1", "a", 100.0, 150.0), gen("g2", "b", 50.0, 120.0)])
    net = g.network
    intact = assess(net)
    assert intact.gen_mw == approx([50.0, 50.0], **TOL)
    # without g2 the reference carries all 100 MW
    imp = assess(net, failed(g, gens=["g2"]))
    assert imp.gen_mw == approx([100.0, 0.0], **TOL)
    assert imp.flow_mw == approx([100.0], **TOL)
    # without g1 the reference bus has no capacity left: proportional, g2 at 100/120
    imp = assess(net, failed(g, gens=["g1"]))
    assert imp.gen_mw == approx([0.0, 100.0], **TOL)
    assert imp.flow_mw == approx([0.0], abs=1e-9)
    assert imp.state.gen.tolist() == [False, True]
    # without both: dark
    imp = assess(net, failed(g, gens=["g1", "g2"]))
    assert not imp.energized.any()
    assert imp.shed_total_mw == approx(100.0, **TOL)


def test_bus_outage_takes_branches_generators_load_and_facilities():
    """Triangle a-b-c with a generator and a clinic at b; losing b leaves a-c (x = 0.2)
    carrying c's 90 MW from the reference."""
    g = make_grid(
        [{"id": "a", "ref": True}, {"id": "b", "load_mw": 60.0, "customers": 6},
         {"id": "c", "load_mw": 90.0, "customers": 9}],
        [line("ab", "a", "b"), line("bc", "b", "c"), line("ac", "a", "c", 0.2)],
        [gen("g1", "a", 100.0, 300.0), gen("g2", "b", 50.0, 100.0)],
        [{"id": "K", "bus": "b", "demand_mw": 5.0, "people": 50}],
    )
    imp = assess(g.network, failed(g, buses=["b"]))
    assert imp.state.bus.tolist() == [True, False, True]
    assert imp.state.branch.tolist() == [False, False, True]
    assert imp.state.gen.tolist() == [True, False]
    assert imp.gen_mw == approx([90.0, 0.0], **TOL)
    assert imp.flow_mw == approx([0.0, 0.0, 90.0], **TOL)
    assert imp.served_mw == approx([0.0, 0.0, 90.0], **TOL)
    assert imp.shed_mw == approx([0.0, 60.0, 0.0], **TOL)
    assert imp.island.tolist() == [0, -1, 0]
    assert imp.customers_out == approx(6.0, **TOL)
    assert imp.facility.tolist() == [FACILITY_DARK]
    assert imp.people_out == 50
    s = imp.summary()
    assert s["dark_buses"] == ["b"]
    assert s["failed_branches"] == ["ab", "bc"]
    assert s["dark_facilities"] == ["K"]


# -- facilities ------------------------------------------------------------------------


def test_facility_status_grid_backup_dark():
    """b and c hang off a; losing ab darkens both. H1's backup covers its demand, H2's
    does not (2 < 5 MW), H3's has no hours."""
    g = make_grid(
        [{"id": "a", "ref": True}, {"id": "b", "load_mw": 30.0}, {"id": "c", "load_mw": 20.0}],
        [line("ab", "a", "b"), line("bc", "b", "c")],
        [gen("g", "a", 0.0, 100.0)],
        [
            {"id": "H1", "bus": "b", "demand_mw": 10.0, "backup_mw": 10.0, "backup_hours": 8.0,
             "people": 500},
            {"id": "H2", "bus": "c", "demand_mw": 5.0, "backup_mw": 2.0, "backup_hours": 8.0,
             "people": 300},
            {"id": "H3", "bus": "c", "demand_mw": 5.0, "backup_mw": 10.0, "backup_hours": 0.0,
             "people": 100},
        ],
    )
    net = g.network
    assert net.critical_mw == approx([0.0, 10.0, 10.0])
    intact = assess(net)
    assert intact.facility.tolist() == [FACILITY_GRID] * 3
    assert intact.people_out == 0
    imp = assess(net, failed(g, branches=["ab"]))
    assert imp.facility.tolist() == [FACILITY_BACKUP, FACILITY_DARK, FACILITY_DARK]
    assert imp.people_out == 400
    s = imp.summary()
    assert s["dark_facilities"] == ["H2", "H3"]
    assert s["facilities_on_backup"] == ["H1"]
    # losing only bc keeps H1 on the grid
    imp = assess(net, failed(g, branches=["bc"]))
    assert imp.facility.tolist() == [FACILITY_GRID, FACILITY_DARK, FACILITY_DARK]


# -- cascades and margin ---------------------------------------------------------------


def parallel(rating_l3: float):
    """a (reference, 500 MW) feeds b (150 MW) over L1, L2 (x 0.1, 80 MW) and L3 (x 0.2,
    ``rating_l3``), and c (20 MW) over L4 (x 0.1, 100 MW). Intact: 60, 60, 30, 20 MW."""
    return make_grid(
        [{"id": "a", "ref": True}, {"id": "b", "load_mw": 150.0, "customers": 150},
         {"id": "c", "load_mw": 20.0, "customers": 20}],
        [line("L1", "a", "b", rating_mw=80.0), line("L2", "a", "b", rating_mw=80.0),
         line("L3", "a", "b", 0.2, rating_mw=rating_l3), line("L4", "a", "c", rating_mw=100.0)],
        [gen("g", "a", 0.0, 500.0)],
    )


def test_intact_parallel_lines_and_loading():
    imp = assess(parallel(60.0).network)
    assert imp.flow_mw == approx([60.0, 60.0, 30.0, 20.0], **TOL)
    assert imp.loading == approx([0.75, 0.75, 0.5, 0.2], **TOL)
    assert imp.max_loading == approx(0.75, **TOL)


def test_overload_without_cascade():
    """Losing L1 puts 150·10/15 = 100 MW on L2 (rating 80) and 50 MW on L3 (rating 60)."""
    g = parallel(60.0)
    imp = assess(g.network, failed(g, branches=["L1"]))
    assert imp.flow_mw == approx([0.0, 100.0, 50.0, 20.0], **TOL)
    assert imp.loading == approx([0.0, 1.25, 50 / 60, 0.2], **TOL)
    assert imp.overloaded.tolist() == [False, True, False, False]
    assert imp.stages == []
    s = imp.summary()
    assert s["overloaded_branches"] == [
        {"id": "L2", "flow_mw": approx(100.0), "rating_mw": 80.0, "loading": approx(1.25)}
    ]


def test_cascade_stages_recorded():
    """L1 out: L2 trips (stage 1); then L3 alone carries 150 > 60 MW and trips (stage 2);
    b is dark, c stays served."""
    g = parallel(60.0)
    imp = assess(g.network, failed(g, branches=["L1"]), cascade=True)
    assert [s.tolist() for s in imp.stages] == [[1], [2]]
    assert imp.summary()["cascade_stages"] == [["L2"], ["L3"]]
    assert imp.state.branch.tolist() == [False, False, False, True]
    assert imp.flow_mw == approx([0.0, 0.0, 0.0, 20.0], **TOL)
    assert not imp.overloaded.any()
    assert imp.served_total_mw == approx(20.0, **TOL)
    assert imp.shed_total_mw == approx(150.0, **TOL)
    assert imp.customers_out == approx(150.0, **TOL)
    assert imp.n_islands == 2
    assert imp.summary()["failed_branches"] == ["L1", "L2", "L3"]


def test_cascade_trips_simultaneous_overloads_in_one_stage():
    """With L3 rated 40 MW, L2 (100 > 80) and L3 (50 > 40) trip together."""
    g = parallel(40.0)
    imp = assess(g.network, failed(g, branches=["L1"]), cascade=True)
    assert [s.tolist() for s in imp.stages] == [[1, 2]]
    assert imp.served_total_mw == approx(20.0, **TOL)


@pytest.mark.parametrize(
    ("margin", "stages"),
    [(0.0, [[1], [2]]), (0.2, [[1], [2]]), (0.25, []), (0.3, [])],
)
def test_margin(margin, stages):
    """L2 carries 100 MW on an 80 MW rating: it trips above a margin of 0.25 only."""
    g = parallel(60.0)
    state = failed(g, branches=["L1"])
    imp = assess(g.network, state, cascade=True, margin=margin)
    assert [s.tolist() for s in imp.stages] == stages
    plain = assess(g.network, state, margin=margin)
    assert plain.overloaded[1] == bool(stages)
    assert plain.loading[1] == approx(1.25, **TOL)


def test_cascade_max_stages_bounds_the_loop():
    g = parallel(60.0)
    imp = assess(g.network, failed(g, branches=["L1"]), cascade=True, max_stages=1)
    assert [s.tolist() for s in imp.stages] == [[1]]
    assert imp.overloaded.tolist() == [False, False, True, False]  # L3 at 150 MW


def test_negative_margin_is_a_usage_error():
    with pytest.raises(UsageError, match="margin"):
        assess(parallel(60.0).network, margin=-0.1)


# -- purity and views ------------------------------------------------------------------


def test_assess_does_not_mutate_state_or_network():
    g = parallel(60.0)
    net = g.network
    state = failed(g, branches=["L1"])
    before = (state.bus.copy(), state.branch.copy(), state.gen.copy())
    arrays = {k: v.copy() for k, v in vars(net).items() if isinstance(v, np.ndarray)}
    imp = assess(net, state, cascade=True)
    assert imp.stages  # the cascade did trip further branches...
    for a, b in zip((state.bus, state.branch, state.gen), before, strict=True):
        assert np.array_equal(a, b)  # ...but not in the caller's state
    assert imp.state is not state
    for k, v in arrays.items():
        assert np.array_equal(getattr(net, k), v), k
    # and the same state assessed again gives the same answer
    again = assess(net, state, cascade=True)
    assert np.array_equal(again.flow_mw, imp.flow_mw)


def test_to_networkx_counts():
    g = parallel(60.0)
    net = g.network
    nxg = to_networkx(net)
    assert (nxg.number_of_nodes(), nxg.number_of_edges()) == (3, 4)  # parallel lines kept
    assert sorted(nxg.nodes) == ["a", "b", "c"]
    assert nxg.nodes["b"]["load_mw"] == 150.0
    assert sorted(k for _, _, k in nxg.edges(keys=True)) == ["L1", "L2", "L3", "L4"]
    nxg = to_networkx(net, failed(g, branches=["L1", "L2"]))
    assert (nxg.number_of_nodes(), nxg.number_of_edges()) == (3, 2)
    nxg = to_networkx(net, failed(g, buses=["b"]))
    assert (nxg.number_of_nodes(), nxg.number_of_edges()) == (2, 1)

    f = feeder()
    assert to_networkx(f.network).number_of_edges() == 4
    nxg = to_networkx(f.network, failed(f, buses=["2"]))
    assert (nxg.number_of_nodes(), nxg.number_of_edges()) == (4, 2)


def test_out_of_service_elements_count_as_failed():
    """Elements marked out of service in the grid are dead in the intact state."""
    g = make_grid(
        [{"id": "a", "ref": True}, {"id": "b", "load_mw": 10.0},
         {"id": "c", "load_mw": 5.0, "in_service": False}],
        [line("ab", "a", "b"), line("ab2", "a", "b", in_service=False), line("bc", "b", "c")],
        [gen("g", "a", 0.0, 50.0), gen("g2", "b", 5.0, 50.0, in_service=False)],
    )
    net = g.network
    imp = assess(net)
    assert imp.state.branch.tolist() == [True, False, False]
    assert imp.gen_mw == approx([10.0, 0.0], **TOL)
    assert imp.flow_mw == approx([10.0, 0.0, 0.0], **TOL)
    assert imp.island.tolist() == [0, 0, -1]
    assert imp.total_load_mw == approx(10.0)
    assert imp.summary()["dark_buses"] == []


def test_intact_summary_lists_no_failed_branch():
    g = make_grid(
        [{"id": "a", "ref": True}, {"id": "b", "load_mw": 10.0},
         {"id": "c", "load_mw": 5.0, "in_service": False}],
        [line("ab", "a", "b"), line("bc", "b", "c")],
        [gen("g", "a", 0.0, 50.0)],
    )
    assert assess(g.network).summary()["failed_branches"] == []


# -- edge cases: shunts above capacity, negative loads, unlimited and blank capacities -----


def conservation_error(imp) -> float:
    """Largest mismatch in MW between the flows leaving each bus (Kᵀ f) and the bus's net
    injection (generation - served load - fixed demand of energized buses)."""
    net = imp.net
    inj = (np.bincount(net.gen_bus, weights=imp.gen_mw, minlength=net.n_bus) - imp.served_mw
           - imp.fixed_mw)
    return float(np.abs(net.incidence.T @ imp.flow_mw - inj).max())


def test_shunt_demand_above_capacity_without_load():
    """b draws 50 MW through its shunt (gs) and has no load; a's generator has 10 MW."""
    g = make_grid(
        [{"id": "a", "ref": True}, {"id": "b", "gs_mw": 50.0}],
        [line("ab", "a", "b")],
        [gen("g", "a", 5.0, 10.0)],
    )
    imp = assess(g.network)
    assert conservation_error(imp) < 1e-6


def test_shunt_demand_above_capacity_conserves_power():
    """b: 1 MW load and a 50 MW shunt; a's generator has 10 MW. Shedding the 1 MW cannot
    balance the island, so it collapses: dark, no dispatch, no flow."""
    g = make_grid(
        [{"id": "a", "ref": True}, {"id": "b", "load_mw": 1.0, "gs_mw": 50.0}],
        [line("ab", "a", "b")],
        [gen("g", "a", 5.0, 10.0)],
    )
    imp = assess(g.network)
    assert imp.gen_mw[0] <= 10.0 + 1e-9
    assert conservation_error(imp) < 1e-6
    assert not imp.energized.any()
    assert imp.served_total_mw == 0.0 and imp.shed_total_mw == approx(1.0)
    assert imp.flow_mw == approx([0.0], abs=1e-9)


def test_total_load_counts_what_is_served_or_shed():
    """A -20 MW load (an embedded generator) is a fixed injection, not load."""
    g = make_grid(
        [{"id": "a", "ref": True}, {"id": "b", "load_mw": 50.0}, {"id": "c", "load_mw": -20.0}],
        [line("ab", "a", "b"), line("bc", "b", "c")],
        [gen("g", "a", 30.0, 100.0)],
    )
    imp = assess(g.network)
    assert imp.served_total_mw == approx(50.0)
    assert grid_summary(g)["total_load_mw"] == approx(50.0)
    assert imp.total_load_mw == approx(imp.served_total_mw + imp.shed_total_mw)


def test_unlimited_generator_capacity():
    g = make_grid(
        [{"id": "a", "ref": True}, {"id": "b", "load_mw": 50.0}],
        [line("ab", "a", "b")],
        [gen("g", "a", 0.0, np.inf), gen("g2", "b", 10.0, np.inf)],
    )
    imp = assess(g.network)
    assert imp.gen_mw == approx([40.0, 10.0], **TOL)
    assert imp.flow_mw == approx([40.0], **TOL)


def test_blank_numeric_cell_takes_default_or_is_refused():
    import pandas as pd

    from gridres.errors import GridError
    from gridres.model import Grid

    try:
        g = Grid(
            buses=pd.DataFrame({"id": ["a", "b"], "load_mw": [np.nan, 50.0],
                                "ref": [True, False]}),
            branches=pd.DataFrame({"id": ["ab"], "from_bus": ["a"], "to_bus": ["b"],
                                   "x_pu": [0.1]}),
            generators=pd.DataFrame({"id": ["g"], "bus": ["a"], "p_mw": [50.0],
                                     "pmax_mw": [80.0]}),
        )
        imp = assess(g.network)
    except GridError:
        return  # refusing the blank cell with a clear message is fine too
    assert imp.flow_mw == approx([50.0], **TOL)


def test_surplus_injection_in_an_island_without_the_case_reference_is_curtailed():
    """a: generator p 50 / pmax 100 (the island's reference, not the case's); b: a -30 MW
    load (embedded generation). Demand is -30 MW even with the generator at zero, so the
    generator stops and b's injection is curtailed to zero: nothing flows."""
    g = make_grid(
        [{"id": "a"}, {"id": "b", "load_mw": -30.0}],
        [line("ab", "a", "b")],
        [gen("g", "a", 50.0, 100.0)],
    )
    imp = assess(g.network)
    assert imp.gen_mw == approx([0.0], abs=1e-9)
    assert imp.flow_mw == approx([0.0], abs=1e-9)
    assert conservation_error(imp) < 1e-9


def test_partial_curtailment_of_surplus_injection():
    """c: 10 MW load, b: -30 MW; generator at a (no case reference). Surplus 20 MW with
    the generator at zero: b keeps 10 MW of its 30, which flows b -> c."""
    g = make_grid(
        [{"id": "a"}, {"id": "b", "load_mw": -30.0}, {"id": "c", "load_mw": 10.0}],
        [line("ab", "a", "b"), line("bc", "b", "c")],
        [gen("g", "a", 50.0, 100.0)],
    )
    imp = assess(g.network)
    assert imp.gen_mw == approx([0.0], abs=1e-9)
    assert imp.served_total_mw == approx(10.0)
    assert imp.flow_mw == approx([0.0, 10.0], abs=1e-9)
    assert conservation_error(imp) < 1e-9


def test_state_fails_elements_by_id_or_position():
    net = load_grid("ieee14").network
    by_pos = net.intact().fail(buses=[net.bus_ids.get_loc("9")], branches=[0, 2])
    by_id = net.intact().fail(buses=["9"], branches=[net.branch_ids[0], 2])
    for a, b in ((by_pos.bus, by_id.bus), (by_pos.branch, by_id.branch)):
        assert np.array_equal(a, b)
    back = by_id.restore(buses=["9"])
    assert back.bus.all() and int((~back.branch).sum()) == 2


def test_state_names_an_unknown_id_and_a_state_without_ids():
    from gridres.model import State, UnknownIdError

    net = load_grid("ieee14").network
    with pytest.raises(UnknownIdError, match=r"no bus with id '99'"):
        net.intact().fail(buses=["99"])
    bare = State(net.bus_in_service.copy(), net.branch_in_service.copy(),
                 net.gen_in_service.copy())
    with pytest.raises(UsageError, match="net.intact()"):
        bare.fail(buses=["9"])
    with pytest.raises(UsageError, match="neither a position"):
        net.intact().fail(branches=[1.5])
