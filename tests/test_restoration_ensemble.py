"""Policies compared on the same random scenarios: the ensemble evaluator through the
ensemble runner, paired differences and their confidence intervals."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pandas as pd
import pytest

from gridres.errors import UsageError
from gridres.restoration import (
    RestorationEvaluator,
    RestorationSettings,
    compare_policies,
    paired_difference,
    prepare,
    simulate,
)
from gridres.restoration.metrics import FIELDS
from gridres.scenarios.base import Scenario


def test_paired_difference_t_interval_by_hand():
    # differences -2, -3, -4: mean -3, sd 1, t(0.975, 2) = 4.302653 -> half 2.484138
    recs = pd.DataFrame({"ens_mwh__a": [10.0, 20.0, 30.0, np.nan],
                         "ens_mwh__b": [12.0, 23.0, 34.0, 1.0]})
    d = paired_difference(recs, "ens_mwh", "a", "b")
    assert d.n == 3 and d.mean_diff == pytest.approx(-3.0)
    assert d.ci_low == pytest.approx(-3.0 - 4.302653 / math.sqrt(3), abs=1e-6)
    assert d.ci_high == pytest.approx(-3.0 + 4.302653 / math.sqrt(3), abs=1e-6)
    assert (d.mean_a, d.mean_b) == (20.0, 23.0)
    one = paired_difference(recs.iloc[:1], "ens_mwh", "a", "b")
    assert one.n == 1 and math.isnan(one.ci_low)


def test_paired_difference_bootstrap_is_seeded():
    rng = np.random.default_rng(0)
    a = rng.gamma(2.0, 50.0, 200)
    recs = pd.DataFrame({"ens_mwh__a": a, "ens_mwh__b": a + rng.normal(5.0, 3.0, 200)})
    b1 = paired_difference(recs, "ens_mwh", "a", "b", method="bootstrap", seed=4)
    b2 = paired_difference(recs, "ens_mwh", "a", "b", method="bootstrap", seed=4)
    t = paired_difference(recs, "ens_mwh", "a", "b")
    assert (b1.ci_low, b1.ci_high) == (b2.ci_low, b2.ci_high)
    assert b1.ci_low < b1.mean_diff < b1.ci_high
    # the bootstrap and t intervals of a mean of 200 near-normal differences agree
    assert b1.ci_low == pytest.approx(t.ci_low, abs=0.15)
    assert b1.ci_high == pytest.approx(t.ci_high, abs=0.15)
    with pytest.raises(UsageError, match="seed"):
        paired_difference(recs, "ens_mwh", "a", "b", method="bootstrap")
    with pytest.raises(UsageError, match="policies recorded for ens_mwh: a, b"):
        paired_difference(recs, "ens_mwh", "a", "greedy")
    with pytest.raises(UsageError, match="'level'"):
        paired_difference(recs, "ens_mwh", "a", "b", level=95)


def test_compare_policies_table():
    recs = [{"ens_mwh__greedy": float(v), "ens_mwh__as-listed": float(v + 1 + (v % 3))}
            for v in range(20)]
    table = compare_policies(recs, ["greedy", "as-listed"], baseline="as-listed")
    assert list(table.index) == ["greedy", "as-listed"]
    assert table.loc["greedy", "mean"] == pytest.approx(9.5)
    assert table.loc["greedy", "p95"] == pytest.approx(np.quantile(np.arange(20.0), 0.95))
    # greedy - as-listed = -(1 + v mod 3): mean -(1 + 19/20)
    assert table.loc["greedy", "diff"] == pytest.approx(-(1 + 19 / 20))
    assert table.loc["greedy", "ci_high"] < 0
    assert table.loc["as-listed", "diff"] == 0.0


def test_evaluator_records_and_pickles(matpower_grid):
    g = matpower_grid("case30")
    ev = RestorationEvaluator.for_grid(g, RestorationSettings(crews=2, repair_sigma=0.4),
                                       policies=("greedy", "as-listed", "greedy"))
    assert ev.policies == ("greedy", "as-listed")
    assert "RestorationEvaluator(grid='case30'" in repr(ev) and "repair_sigma=0.4" in repr(ev)
    ev2 = pickle.loads(pickle.dumps(ev))
    net = g.network
    sc = Scenario.single(branches=[0, 5, 9], buses=[7])
    r1 = ev(net, sc, np.random.default_rng([1, 0]))
    r2 = ev2(net, sc, np.random.default_rng([1, 0]))
    assert r1 == r2
    assert set(r1) == set(ev.fields())
    assert {f"{m}__greedy" for m in FIELDS} <= set(r1)
    # the same as simulating each policy with the same repair-time draws
    from gridres.restoration.simulate import repair_multipliers

    mult = repair_multipliers(sc, 0.4, np.random.default_rng([1, 0]))
    one = simulate(net, ev.assets, sc, "as-listed", multipliers=mult)
    assert r1["ens_mwh__as-listed"] == pytest.approx(one.metrics["ens_mwh"])
    with pytest.raises(UsageError, match="prepared for grid 'case30'"):
        ev(matpower_grid("case14").network, Scenario.single(branches=[0]),
           np.random.default_rng(0))
    with pytest.raises(UsageError, match="unknown restoration policy"):
        RestorationEvaluator(prepare(g), ("greedy", "fastest"))


def test_policies_compared_on_the_same_ensemble(matpower_grid):
    from gridres.ensemble import run_ensemble
    from gridres.scenarios.spec import scenario_from_spec

    g = matpower_grid("case30")
    gen = scenario_from_spec("random:k=4,elements=mixed", g)
    ev = RestorationEvaluator.for_grid(g, RestorationSettings(crews=2),
                                       policies=("greedy", "as-listed", "nearest"))
    res = run_ensemble(g, gen, 24, seed=9, workers=1, evaluator=ev)
    recs = res.records
    assert len(recs) == 24
    # scenario 3 again, by hand: the same record
    rng = np.random.default_rng([9, 3])
    sc = gen.sample(g.network, rng)
    by_hand = ev(g.network, sc, rng)
    row = recs.set_index("scenario").loc[3]
    for k, v in by_hand.items():
        if isinstance(v, float) and math.isnan(v):
            assert math.isnan(row[k])
        else:
            assert row[k] == pytest.approx(v) if isinstance(v, float) else row[k] == v
    table = compare_policies(recs, ["greedy", "as-listed", "nearest"], baseline="as-listed")
    assert (table["n"] == 24).all()
    d = paired_difference(recs, "ens_mwh", "greedy", "as-listed")
    diff = recs["ens_mwh__greedy"] - recs["ens_mwh__as-listed"]
    assert d.mean_diff == pytest.approx(diff.mean())


def test_evaluator_with_impact_fields_keeps_the_ensemble_summary(matpower_grid):
    from gridres.ensemble import ImpactEvaluator, run_ensemble
    from gridres.scenarios.spec import scenario_from_spec

    g = matpower_grid("case30")
    settings = RestorationSettings(crews=2, repair_sigma=0.3)
    plain = RestorationEvaluator.for_grid(g, settings, policies=("greedy",))
    both = RestorationEvaluator.for_grid(g, settings, policies=("greedy",),
                                         impact=ImpactEvaluator())
    sc = Scenario.single(branches=[1, 2, 3])
    r_plain = plain(g.network, sc, np.random.default_rng([2, 0]))
    r_both = both(g.network, sc, np.random.default_rng([2, 0]))
    assert {"shed_mw", "customers_out", "bus_counts"} <= set(r_both)
    assert {k: r_both[k] for k in r_plain} == r_plain  # same repair times
    gen = scenario_from_spec("random:k=3", g)
    res = run_ensemble(g, gen, 8, seed=1, workers=1, evaluator=both)
    assert "shed_mw" in res.summary.to_dict()["metrics"]
    assert res.records["ens_mwh__greedy"].notna().all()
