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


# -- summaries over events: restoration times over the events that lost load -----------
def test_policy_summary_by_hand():
    """Five events under one policy; two lost nothing, one never got all of its load
    back within the 100-hour horizon.

    ============  ===========  =====  =====  ======  =======
    event         peak lost    t50    t90    t100    ENS
    ============  ===========  =====  =====  ======  =======
    0             0            0      0      0       0
    1             10 MW        4 h    6 h    6 h     50
    2             0            0      0      0       0
    3             20 MW        10 h   30 h   30 h    400
    4             30 MW        20 h   60 h   (NaN)   1,000
    ============  ===========  =====  =====  ======  =======

    Over the three events that lost load: t50 = 4, 10, 20 -> median 10, p90 = 10 + 0.8 *
    (20 - 10) = 18 (linear interpolation), mean 34/3; t100 = 6, 30, 100 (the horizon) ->
    median 30, share reached 2/3. The losses average over all five: ENS 1,450 / 5 = 290.
    Averaging t50 over all five events (the old headline) would give 34 / 5 = 6.8 h.
    """
    from gridres.restoration.metrics import policy_summary

    rows = [(0, 0, 0, 0, 0), (10, 4, 6, 6, 50), (0, 0, 0, 0, 0), (20, 10, 30, 30, 400),
            (30, 20, 60, math.nan, 1000)]
    recs = pd.DataFrame([{"peak_lost_mw__g": p, "t50_h__g": a, "t90_h__g": b,
                          "t100_h__g": c, "ens_mwh__g": e, "customer_hours__g": 10 * e}
                         for p, a, b, c, e in rows])
    s = policy_summary(recs, "g", horizon_h=100.0)
    assert s["events"] == {"n": 5, "with_loss": 3, "share_no_loss": pytest.approx(0.4)}
    t50 = s["t50_h"]
    assert t50["events"] == 3 and t50["share_reached"] == 1.0
    assert t50["median"] == 10.0 and t50["p90"] == pytest.approx(18.0)
    assert t50["mean"] == pytest.approx(34 / 3) and t50["max"] == 20.0
    t100 = s["t100_h"]
    assert t100["median"] == 30.0 and t100["max"] == 100.0
    assert t100["share_reached"] == pytest.approx(2 / 3)
    assert s["ens_mwh"]["mean"] == pytest.approx(290.0)
    assert s["peak_lost_mw"]["max"] == 30.0
    # a grid without customer data: customer-hours unknown, not zero
    blind = policy_summary(recs, "g", horizon_h=100.0, customers=False)
    assert math.isnan(blind["customer_hours"]["mean"])
    assert blind["ens_mwh"] == s["ens_mwh"]
    # nothing lost at all: no restoration time, every event without loss
    none = policy_summary(recs.iloc[[0, 2]], "g", horizon_h=100.0)
    assert none["events"]["share_no_loss"] == 1.0
    assert none["t50_h"]["events"] == 0 and math.isnan(none["t50_h"]["median"])


def test_restoration_curve_over_events_by_hand():
    """Three events sampled at 0, 1 and 2 hours with 200 MW served intact: lost load is
    (1 - served share) x 200 MW; the curve is its mean with the 10th and 90th
    percentiles over events."""
    from gridres.study.evaluate import curves_from_records

    served = [[0.5, 0.75, 1.0], [1.0, 1.0, 1.0], [0.8, 0.9, 1.0]]  # lost 100/50/0, 0, 40/20/0
    recs = pd.DataFrame([{f"served__p__{k}": v for k, v in enumerate(row)} for row in served])
    c = curves_from_records(recs, "p", (0.0, 1.0, 2.0), 200.0)
    assert c["time_h"].tolist() == [0.0, 1.0, 2.0]
    assert np.allclose(c["lost_mw"], [140 / 3, 70 / 3, 0.0])
    # 10th percentile of (100, 0, 40) = 0 + 0.2 * (40 - 0) = 8; 90th = 40 + 0.8 * 60 = 88
    assert np.allclose(c["lost_p10_mw"], [8.0, 4.0, 0.0])
    assert np.allclose(c["lost_p90_mw"], [88.0, 44.0, 0.0])
    assert np.allclose(c["served_fraction"], 1 - c["lost_mw"] / 200.0)


def test_resume_refuses_other_restoration_settings(tmp_path):
    # the manifest names the evaluator; its restoration settings (crews, fleets, repair
    # spread, outside temperature) change every number, so a resume with others must be
    # refused, not mix the records of two runs
    from gridres.ensemble import ImpactEvaluator, run_ensemble
    from gridres.io import load_grid

    g = load_grid("ieee14")

    def ev(outside_c=None, **kw):
        return RestorationEvaluator.for_grid(g, RestorationSettings(**kw),
                                             impact=ImpactEvaluator(), outside_c=outside_c)

    out = tmp_path / "run"
    run_ensemble(g, "random:k=2", 4, 1, workers=1, out=out, evaluator=ev(crews=3))
    run_ensemble(g, "random:k=2", 4, 1, workers=1, out=out, resume=True,
                 evaluator=ev(crews=3))
    for other in (ev(crews=1), ev(crews=3, fuel_trucks=2),
                  ev(crews=3, mobile_generators=((2.0, "1"),)), ev(crews=3, repair_sigma=0.5),
                  ev(outside_c=-10.0, crews=3)):
        with pytest.raises(UsageError, match="evaluator differs"):
            run_ensemble(g, "random:k=2", 4, 1, workers=1, out=out, resume=True,
                         evaluator=other)
