"""The worst-case strike search: exhaustive runs equal brute force with the engine on
grids worked by hand, the batched path equals assess, the MILP equals enumeration, the
search never does worse than greedy, protected and excluded targets are never struck,
and results depend on the seed alone."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builders import make_grid
from gridres.adversary import SetEvaluator, attack, targets
from gridres.adversary.evaluate import Metrics
from gridres.adversary.milp import CutModel
from gridres.adversary.pool import evaluations
from gridres.cascade import cascade
from gridres.errors import UsageError
from gridres.impact import assess
from test_properties import small_grids

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def feeders():
    """A town T of 90 MW fed from the source S over three paths, through A (10 MW),
    B (20 MW) and C (30 MW); D (5 MW) hangs off S alone. A hospital at A (1,000 people,
    no backup), a water works at D with its own backup. Total load 155 MW.

        S ─ A ─ T
        S ─ B ─ T
        S ─ C ─ T
        S ─ D
    """
    buses = [{"id": "S", "ref": True}, {"id": "A", "load_mw": 10.0, "customers": 100},
             {"id": "B", "load_mw": 20.0, "customers": 200},
             {"id": "C", "load_mw": 30.0, "customers": 300},
             {"id": "T", "load_mw": 90.0, "customers": 900},
             {"id": "D", "load_mw": 5.0, "customers": 50}]
    pairs = [("S", "A"), ("A", "T"), ("S", "B"), ("B", "T"), ("S", "C"), ("C", "T"), ("S", "D")]
    branches = [{"id": f"{a}{b}", "from_bus": a, "to_bus": b, "x_pu": 0.1} for a, b in pairs]
    gens = [{"id": "G", "bus": "S", "p_mw": 155.0, "pmax_mw": 300.0}]
    facs = [{"id": "hospital", "bus": "A", "kind": "hospital", "demand_mw": 5.0, "people": 1000},
            {"id": "water", "bus": "D", "kind": "water", "demand_mw": 1.0, "backup_mw": 1.0,
             "backup_hours": 12.0, "people": 500}]
    return make_grid(buses, branches, gens, facs, name="feeders")


def brute_force(grid, k, kind, objective="shed_mw", mode="none", exclude=()):
    """Every k-set through the engine itself, ranked by the documented rule."""
    tg = targets(grid, kind, exclude=exclude)
    net = grid.network
    rows = []
    for combo in itertools.combinations(range(len(tg)), k):
        state = tg.state(combo, net.intact())
        imp = assess(net, state) if mode == "none" else cascade(net, state, mode).final
        m = {"shed_mw": imp.shed_total_mw, "people_out": imp.people_out,
             "facilities_dark": len(imp.dark_facilities), "customers_out": imp.customers_out}
        order = [objective] + [x for x in ("shed_mw", "people_out", "facilities_dark",
                                           "customers_out") if x != objective]
        key = tuple(-round(m[x], 6) for x in order) + combo
        rows.append((key, tuple(tg.names[c] for c in combo), m))
    rows.sort()
    return [(names, m) for _, names, m in rows]


# -- exhaustive against brute force, worked by hand -----------------------------------------


def test_worst_single_double_and_triple_bus_strikes_of_the_feeders():
    g = feeders()
    # k=1 without S: T takes its 90 MW (and the hospital); C 30; B 20; A 10; D 5
    res = attack(g, 1, target="bus", exclude=["bus:S"])
    assert res.best.elements == ("bus:T",) and res.best.shed_mw == pytest.approx(90.0)
    assert res.best.people_out == 0 and res.best.facilities_dark == 0
    assert res.method == "exhaustive" and res.optimal and res.gap == 0.0
    # k=2: T and C, 90 + 30 = 120 (T and B 110; A, B, C in pairs cut nothing off)
    res = attack(g, 2, target="bus", exclude=["bus:S"])
    assert res.best.elements == ("bus:C", "bus:T")
    assert res.best.shed_mw == pytest.approx(120.0)
    # k=3: A, B and C together cut T off: 10 + 20 + 30 + 90 = 150, more than T, C and B
    # (140), the set a greedy attacker builds; then T, C and A (130)
    res = attack(g, 3, target="bus", exclude=["bus:S"], top=3)
    assert res.best.elements == ("bus:A", "bus:B", "bus:C")
    assert res.best.shed_mw == pytest.approx(150.0)
    assert [s.shed_mw for s in res.attacks] == pytest.approx([150.0, 140.0, 130.0])
    # and equals brute force row by row (elements and every metric)
    ref = brute_force(g, 3, "bus", exclude=["bus:S"])[:3]
    assert [s.elements for s in res.attacks] == [r[0] for r in ref]
    for s, (_, m) in zip(res.attacks, ref, strict=True):
        assert s.customers_out == pytest.approx(m["customers_out"])
        assert s.people_out == m["people_out"]


def test_damage_is_not_subadditive_so_no_pair_bound_is_used():
    # the three strikes on A, B and C shed 150 MW; the singles sum to 60 and even the
    # three pairs sum to 30 + 40 + 50 = 120: a bound from singles or pairs would have
    # pruned the worst set
    g = feeders()
    ev = SetEvaluator(g.network, targets(g, "bus"))
    pos = {n: j for j, n in enumerate(targets(g, "bus").names)}
    a, b, c = pos["bus:A"], pos["bus:B"], pos["bus:C"]
    singles = ev(np.array([[a], [b], [c]])).shed_mw.sum()
    pairs = ev(np.array([[a, b], [a, c], [b, c]])).shed_mw.sum()
    triple = ev(np.array([[a, b, c]])).shed_mw[0]
    assert singles == pytest.approx(60.0) and pairs == pytest.approx(120.0)
    assert triple == pytest.approx(150.0)
    assert triple > pairs


def test_the_hospital_objective_picks_other_strikes_than_megawatts():
    g = feeders()
    # one strike: T sheds the most (90 MW), but only a strike on A darkens the hospital
    # (1,000 people; the water works at D rides on its backup)
    mw = attack(g, 1, target="bus", exclude=["bus:S"])
    people = attack(g, 1, target="bus", objective="people_out", exclude=["bus:S"])
    assert mw.best.elements == ("bus:T",) and mw.best.people_out == 0
    assert people.best.elements == ("bus:A",) and people.best.people_out == 1000
    assert people.best.shed_mw == pytest.approx(10.0)
    # two strikes: A with T darkens the hospital and sheds the most among those that do
    people2 = attack(g, 2, target="bus", objective="people_out", exclude=["bus:S"])
    assert people2.best.elements == ("bus:A", "bus:T")
    assert people2.best.shed_mw == pytest.approx(100.0)
    facilities = attack(g, 2, target="bus", objective="facilities_dark", exclude=["bus:S"])
    assert facilities.best.elements == ("bus:A", "bus:T")


def cascade_grid():
    """S feeds T (90 MW) over two equal lines L1 and L2 rated 60 MW each, and R (10 MW)
    over L3 without a rating.

    * no cascade: losing L1 leaves L2 carrying 90 MW (overloaded, nothing trips): no
      load lost; losing L3 sheds R's 10 MW.
    * trip: losing L1 overloads L2 (90 > 60), it trips, T goes dark: 90 MW.
    * redispatch: losing L1, the operator sheds 30 MW at T to keep L2 at 60: 30 MW.
    """
    buses = [{"id": "S", "ref": True}, {"id": "T", "load_mw": 90.0}, {"id": "R", "load_mw": 10.0}]
    branches = [{"id": "L1", "from_bus": "S", "to_bus": "T", "x_pu": 0.1, "rating_mw": 60.0},
                {"id": "L2", "from_bus": "S", "to_bus": "T", "x_pu": 0.1, "rating_mw": 60.0},
                {"id": "L3", "from_bus": "S", "to_bus": "R", "x_pu": 0.1}]
    gens = [{"id": "G", "bus": "S", "p_mw": 100.0, "pmax_mw": 200.0}]
    return make_grid(buses, branches, gens, name="cascade")


@pytest.mark.parametrize("mode,worst,mw", [("none", ("branch:L3",), 10.0),
                                          ("trip", ("branch:L1",), 90.0),
                                          ("redispatch", ("branch:L1",), 30.0)])
def test_the_cascade_mode_decides_which_line_is_worst(mode, worst, mw):
    res = attack(cascade_grid(), 1, target="branch", cascade=mode)
    # L1 and L2 tie with a cascade: the first in the grid's order wins
    assert res.best.elements == worst
    assert res.best.shed_mw == pytest.approx(mw, abs=1e-6)


@pytest.mark.parametrize("mode", ["none", "trip", "redispatch"])
@pytest.mark.parametrize("kind,k", [("branch", 2), ("bus", 2)])
def test_exhaustive_equals_brute_force_with_every_cascade_mode(mode, kind, k):
    g = cascade_grid()
    res = attack(g, k, target=kind, cascade=mode, top=10)
    ref = brute_force(g, k, kind, mode=mode)
    assert [s.elements for s in res.attacks] == [r[0] for r in ref]
    assert [s.shed_mw for s in res.attacks] == pytest.approx([r[1]["shed_mw"] for r in ref])


def test_ieee14_substation_pairs_equal_brute_force():
    from gridres.io import load_grid

    g = load_grid("ieee14")
    res = attack(g, 2, target="substation", top=15)
    ref = brute_force(g, 2, "substation")[:15]
    assert [s.elements for s in res.attacks] == [r[0] for r in ref]
    assert [s.customers_out for s in res.attacks] == pytest.approx(
        [r[1]["customers_out"] for r in ref])


def test_ties_go_to_the_targets_first_in_the_grid():
    # four identical spurs from the source: every single strike sheds 10 MW
    buses = [{"id": "S", "ref": True}] + [{"id": f"x{i}", "load_mw": 10.0} for i in range(4)]
    branches = [{"id": f"l{i}", "from_bus": "S", "to_bus": f"x{i}", "x_pu": 0.1}
                for i in range(4)]
    g = make_grid(buses, branches, [{"id": "G", "bus": "S", "pmax_mw": 100.0}])
    res = attack(g, 2, target="branch", top=3)
    assert [s.elements for s in res.attacks] == [("branch:l0", "branch:l1"),
                                                 ("branch:l0", "branch:l2"),
                                                 ("branch:l0", "branch:l3")]


# -- the batched path, the MILP and the bounds on random grids ------------------------------


@SETTINGS
@given(grid=small_grids(), data=st.data())
def test_batched_evaluation_equals_assess_for_every_metric(grid, data):
    net = grid.network
    kind = data.draw(st.sampled_from(["bus", "branch", "gen"]))
    tg = targets(grid, kind)
    if len(tg) == 0:
        return
    k = data.draw(st.integers(1, min(3, len(tg))))
    sets = np.array(sorted({tuple(sorted(data.draw(st.lists(
        st.integers(0, len(tg) - 1), min_size=k, max_size=k, unique=True))))
        for _ in range(5)}))
    got = SetEvaluator(net, tg)(sets)
    for j, row in enumerate(sets):
        imp = assess(net, tg.state(row, net.intact()))
        assert got.shed_mw[j] == pytest.approx(imp.shed_total_mw, abs=1e-9)
        assert got.customers_out[j] == pytest.approx(imp.customers_out, abs=1e-9)
        assert got.people_out[j] == imp.people_out
        assert got.facilities_dark[j] == len(imp.dark_facilities)


@SETTINGS
@given(grid=small_grids(shunts=False, negative_loads=False), data=st.data())
def test_milp_finds_the_exhaustive_optimum_and_its_lp_bounds_it(grid, data):
    kind = data.draw(st.sampled_from(["bus", "branch", "gen", "substation"]))
    tg = targets(grid, kind)
    if len(tg) < 2:
        return
    k = data.draw(st.integers(1, min(3, len(tg))))
    best = attack(grid, k, target=kind, method="exhaustive", top=1).value
    milp = attack(grid, k, target=kind, method="milp", top=1)
    assert milp.optimal and milp.method == "milp"
    assert milp.value == pytest.approx(best, abs=1e-6)
    lp = CutModel(grid.network, tg, k).solve(relax=True).bound_mw
    assert lp >= best - 1e-6


@SETTINGS
@given(grid=small_grids(), data=st.data())
def test_the_cut_bound_holds_with_shunts_and_negative_loads(grid, data):
    kind = data.draw(st.sampled_from(["bus", "branch"]))
    tg = targets(grid, kind)
    if len(tg) < 1:
        return
    k = data.draw(st.integers(1, min(2, len(tg))))
    best = attack(grid, k, target=kind, method="exhaustive", top=1).value
    sol = CutModel(grid.network, tg, k).solve()
    assert sol.bound_mw >= best - 1e-6


@SETTINGS
@given(grid=small_grids(), data=st.data())
def test_search_is_never_worse_than_greedy_and_never_strikes_a_protected_target(grid, data):
    tg = targets(grid, "bus")
    if len(tg) < 3:
        return
    names = list(tg.names)
    shielded = data.draw(st.lists(st.sampled_from(names), max_size=len(names) - 2, unique=True))
    excluded = data.draw(st.lists(st.sampled_from(names), max_size=1, unique=True))
    left = len(set(names) - set(shielded) - set(excluded))
    if left < 2:
        return
    k = data.draw(st.integers(2, min(3, left)))
    res = attack(grid, k, target="bus", method="search", protect=shielded, exclude=excluded,
                 budget=200, seed=data.draw(st.integers(0, 5)))
    assert res.greedy is not None
    assert res.value >= res.greedy.value("shed_mw") - 1e-9
    exact = attack(grid, k, target="bus", protect=shielded, exclude=excluded, top=50)
    assert exact.method == "exhaustive" and exact.value >= res.value - 1e-9
    for s in (*res.attacks, *exact.attacks):
        assert not set(s.elements) & (set(shielded) | set(excluded))


def test_search_beats_the_greedy_attacker_on_the_feeders():
    # greedy builds T, C, B (140 MW); the pairs phase finds A + B + C (150 MW)
    res = attack(feeders(), 3, target="bus", exclude=["bus:S"], method="search", budget=200)
    assert res.greedy.elements == ("bus:B", "bus:C", "bus:T")
    assert res.best.elements == ("bus:A", "bus:B", "bus:C")
    assert res.method == "search" and res.bound is not None


@pytest.mark.slow
def test_same_seed_same_result_and_workers_do_not_matter(dask_scheduler):
    from gridres.io import load_grid

    g = load_grid("ieee118")
    runs = [attack(g, 3, target="bus", method="search", budget=4000, seed=s, workers=1)
            for s in (3, 3)]
    assert runs[0].to_dict()["attacks"] == runs[1].to_dict()["attacks"]
    # the pool evaluates the same blocks: bit-for-bit the same metrics
    tg = targets(g, "branch")
    ev = SetEvaluator(g.network, tg, cascade="trip")
    sets = np.array(list(itertools.islice(itertools.combinations(range(len(tg)), 2), 600)))
    assert len(sets) > ev.chunk  # several blocks
    with (evaluations(ev, 1) as one, evaluations(ev, 2) as two,
          evaluations(ev, scheduler=dask_scheduler) as cluster):
        a, b, c = one(sets), two(sets), cluster(sets)
        assert two.pool is not None and cluster.pool.backend == "dask"
    for m in ("shed_mw", "customers_out", "people_out"):
        assert np.array_equal(getattr(a, m), getattr(b, m))
        assert np.array_equal(getattr(a, m), getattr(c, m))


def test_strikes_on_a_damaged_grid_fall_on_its_state():
    g = feeders()
    net = g.network
    # with A already down, B and C together cut T off: 20 + 30 + 90 + A's 10 = 150
    state = net.intact().fail(buses=g.lookup("buses", ["A"]))
    res = attack(g, 2, target="bus", exclude=["bus:S"], state=state)
    assert res.best.elements == ("bus:B", "bus:C")
    assert res.best.shed_mw == pytest.approx(150.0)
    assert "bus:A" not in {e for s in res.attacks for e in s.elements}  # already dead
    assert res.best.ens_mwh is None


def test_ens_ranks_by_restoration_and_every_row_carries_it():
    g = feeders()
    res = attack(g, 1, target="bus", objective="ens_mwh", exclude=["bus:S"], top=5)
    ens = [s.ens_mwh for s in res.attacks]
    assert ens == sorted(ens, reverse=True) and all(e > 0 for e in ens)
    # one bus repaired in 24 h by a crew: T's 90 MW x 24 h
    assert res.best.elements == ("bus:T",) and res.best.ens_mwh == pytest.approx(90 * 24.0)


# -- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs,words", [
    ({"k": 7, "target": "bus"}, "larger than the 6 bus targets"),
    ({"k": 2, "target": "bus", "protect": ["bus:Q"]}, "no bus with id 'Q'"),
    ({"k": 2, "target": "branch", "exclude": ["gen:G"]}, "shields none of the branch"),
    ({"k": 2, "target": "bus", "objective": "people"}, "'objective' parameter"),
    ({"k": 2, "target": "bus", "method": "milp", "cascade": "trip"}, "method milp"),
    ({"k": 0, "target": "bus"}, "'k' parameter"),
    ({"k": 2, "target": "plant"}, "'target' parameter"),
])
def test_bad_parameters_are_one_clear_usage_error(kwargs, words):
    with pytest.raises(UsageError, match=words):
        attack(feeders(), **kwargs)


def test_an_objective_without_data_is_refused(matpower_grid):
    with pytest.raises(UsageError, match="needs facilities with people"):
        attack(matpower_grid("case14"), 1, objective="people_out")


def test_metrics_blocks_concatenate_in_order():
    a = Metrics(np.array([1.0]), np.array([1]), np.array([0]), np.array([2.0]), np.array([math.nan]))
    b = Metrics.concat([a, a.take(np.array([0]))])
    assert len(b) == 2 and b.shed_mw.tolist() == [1.0, 1.0]


def test_an_enumeration_of_days_is_refused(matpower_grid):
    with pytest.raises(UsageError, match="more than the 200,000,000 that are enumerated"):
        attack(matpower_grid("case118"), 6, target="branch", method="exhaustive")
