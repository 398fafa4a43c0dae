"""Protection against the worst strikes (defend equals brute force over every protection
set) and the attack curve (worst k beside random failures drawn by the ensemble)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridres.adversary import attack_curve, defend, targets
from gridres.adversary.core import attack
from gridres.adversary.evaluate import SetEvaluator
from gridres.errors import UsageError
from gridres.impact import assess
from gridres.scenarios.random import RandomOutages
from test_attack import cascade_grid, feeders
from test_properties import small_grids

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def brute_force_defence(grid, k, p, kind, protectable=None, objective="shed_mw"):
    """min over every protection of p targets of the attacker's best k-set among the
    rest, from every k-set evaluated by the engine."""
    tg = targets(grid, kind)
    net = grid.network
    ev = SetEvaluator(net, tg)
    sets = list(itertools.combinations(range(len(tg)), k))
    values = getattr(ev(np.array(sets)), objective).astype(float)
    choices = range(len(tg)) if protectable is None else protectable
    best = None
    for prot in itertools.combinations(choices, p):
        open_ = [v for s, v in zip(sets, values, strict=True) if not set(s) & set(prot)]
        worst = max(open_)
        if best is None or worst < best[0] - 1e-9:
            best = (worst, prot)
    return best


def test_protecting_the_town_caps_the_worst_pair_of_strikes():
    # without protection the worst pair is T + C (120 MW); protecting T leaves B + C
    # (50 MW: no pair cuts T off); protecting C leaves T + B (110), B leaves T + C
    res = defend(feeders(), 2, 1, target="bus", exclude=["bus:S"])
    assert res.protection == ("bus:T",)
    assert res.before.elements == ("bus:C", "bus:T")
    assert res.before.shed_mw == pytest.approx(120.0)
    assert res.after.elements == ("bus:B", "bus:C")
    assert res.after.shed_mw == pytest.approx(50.0)
    assert res.exact and res.gap == 0.0 and res.method == "exhaustive"
    assert res.lower_bound == pytest.approx(50.0) and res.upper_bound == pytest.approx(50.0)
    assert res.reduction == pytest.approx(70 / 120)
    assert "bus:T" not in res.after.elements


@pytest.mark.parametrize("k,p", [(1, 1), (2, 1), (2, 2), (3, 2)])
def test_defend_equals_brute_force_over_every_protection_on_ieee14(k, p):
    from gridres.io import load_grid

    g = load_grid("ieee14")
    value, _ = brute_force_defence(g, k, p, "bus")
    res = defend(g, k, p, target="bus")
    assert res.exact
    assert res.upper_bound == pytest.approx(value, abs=1e-6)
    assert res.after.shed_mw == pytest.approx(value, abs=1e-6)
    assert not set(res.after.elements) & set(res.protection)
    # the protection really holds the attacker to that: attack it directly
    check = attack(g, k, target="bus", protect=res.protection)
    assert check.value == pytest.approx(value, abs=1e-6)


@SETTINGS
@given(grid=small_grids(), data=st.data())
def test_defend_equals_brute_force_on_random_grids(grid, data):
    tg = targets(grid, "bus")
    n = len(tg)
    if n < 3:
        return
    k = data.draw(st.integers(1, 2))
    p = data.draw(st.integers(1, min(2, n - k)))
    protectable = sorted(data.draw(st.sets(st.integers(0, n - 1), min_size=p, max_size=n)))
    value, _ = brute_force_defence(grid, k, p, "bus", protectable)
    res = defend(grid, k, p, target="bus", candidates=[tg.names[j] for j in protectable])
    assert res.exact
    assert res.upper_bound == pytest.approx(value, abs=1e-6)
    assert set(res.protection) <= {tg.names[j] for j in protectable}


def test_with_search_responses_the_result_says_it_is_not_proven():
    # budget below C(n, k): each response is a search (trip cascade: no MILP)
    g = cascade_grid()
    res = defend(g, 2, 1, target="branch", cascade="trip", budget=2)
    assert res.method == "search" and not res.exact
    assert res.lower_bound <= res.upper_bound + 1e-9
    assert not set(res.after.elements) & set(res.protection)


def test_defend_refuses_impossible_budgets():
    with pytest.raises(UsageError, match="leaves fewer than k=5"):
        defend(feeders(), 5, 2, target="bus")
    with pytest.raises(UsageError, match="larger than the 1 bus targets that can be"):
        defend(feeders(), 1, 2, target="bus", candidates=["bus:T"])


def test_attack_curve_stands_the_worst_beside_the_ensembles_random_draws():
    g = feeders()
    curve = attack_curve(g, 3, target="bus", n_random=40, seed=5)
    assert [p.k for p in curve.points] == [1, 2, 3]
    # the worst single strike is S (the only source: all 155 MW), then S with anything
    assert curve.points[0].worst == pytest.approx(155.0)
    assert curve.points[0].elements == ("bus:S",)
    net = g.network
    for p in curve.points:
        # the random mean is that of the ensemble's own draws: scenario i of k draws
        # from default_rng([seed + k, i])
        gen = RandomOutages(g, k=p.k, elements="bus")
        shed = [assess(net, gen.sample(net, np.random.default_rng([5 + p.k, i]))
                       .final_state(net)).shed_total_mw for i in range(40)]
        assert p.random_mean == pytest.approx(np.mean(shed))
        assert p.random_max == pytest.approx(np.max(shed))
        assert p.worst >= p.random_max - 1e-9
    table = curve.table()
    assert list(table["k"]) == [1, 2, 3] and "ratio" in table


def test_milp_responses_reach_the_same_optimum_as_the_table():
    # below the budget every response comes from the interdiction MILP, proven each time
    from gridres.io import load_grid

    g = load_grid("ieee118")
    table = defend(g, 2, 1, target="bus")
    milp = defend(g, 2, 1, target="bus", budget=100)
    assert table.method == "exhaustive" and milp.method == "milp"
    assert table.exact and milp.exact
    assert milp.upper_bound == pytest.approx(table.upper_bound, abs=1e-6)


# -- on a Dask cluster: the same strikes, protections and curve -----------------------------
@pytest.mark.slow
def test_attack_defend_and_curve_are_the_same_on_a_dask_cluster(dask_scheduler):
    from gridres.io import load_grid

    g = load_grid("ieee118")
    for kwargs in (dict(k=2, target="substation"),  # exhaustive: every pair
                   dict(k=3, target="bus", method="search", budget=3000, seed=4),
                   dict(k=2, target="branch", cascade="trip", budget=800, seed=1)):
        here = attack(g, workers=1, **kwargs)
        there = attack(g, scheduler=dask_scheduler, **kwargs)
        assert there.to_dict()["attacks"] == here.to_dict()["attacks"]
        assert (there.method, there.evaluated, there.bound) == (here.method, here.evaluated,
                                                                 here.bound)
    here = defend(g, 2, 2, target="substation", workers=1)
    there = defend(g, 2, 2, target="substation", scheduler=dask_scheduler)
    drop = ("elapsed_s",)
    assert ({k: v for k, v in there.to_dict().items() if k not in drop}
            == {k: v for k, v in here.to_dict().items() if k not in drop})
    assert here.exact and len(here.protection) == 2
    feeders_grid = feeders()
    here = attack_curve(feeders_grid, 2, target="bus", n_random=30, seed=2, workers=1)
    there = attack_curve(feeders_grid, 2, target="bus", n_random=30, seed=2,
                         scheduler=dask_scheduler)
    assert there.to_dict() == here.to_dict()
