"""The adaptive attacker: each wave is the worst strike on the grid as the restoration has
left it (worked by hand on the feeders grid), a repaired site is struck again when that
is worst, the same seed gives the same run on any number of workers, and bad input is
one line."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gridres.adversary import AdaptiveStrikes, attack, scenario_generator
from gridres.ensemble import ImpactEvaluator, run_ensemble
from gridres.errors import UsageError
from gridres.restoration import RestorationEvaluator, RestorationSettings, compare
from gridres.scenarios.spec import scenario_from_spec
from test_attack import feeders
from test_cli_contract import one_line_error, run, strict_json

ONE_CREW = RestorationSettings(crews=1)


def draw(grid, spec, i=0, seed=0):
    gen = scenario_generator(spec, grid)
    return gen.sample(grid.network, np.random.default_rng([seed, i]))


def state_at(grid, result, t):
    """The damage a run holds at ``t`` (a wave at ``t`` not counted), from its schedule:
    an element is down from its failure until its repair ends (a repair ending at ``t``
    counts as done)."""
    state = grid.network.intact()
    for _, job in result.schedule.iterrows():
        if job["fail_h"] < t and not job["end_h"] <= t:
            kind, _, ident = job["element"].partition(":")
            state = state.fail(**{{"bus": "buses", "branch": "branches",
                                   "gen": "gens"}[kind]: [ident]})
    return state


def test_wave_two_is_the_attack_on_the_state_the_restoration_left():
    g = feeders()
    spec = "adaptive:waves=2,every_h=30,k=2,target=bus,exclude=bus:S"
    res = compare(g, draw(g, spec), ["greedy"], ONE_CREW)["greedy"]
    first, second = res.chosen_waves
    # wave 1 at 0 h on the intact grid: T (90 MW) and C (30 MW), 120 MW; no pair cuts
    # T off (it is fed over A, B and C)
    assert first["time_h"] == 0.0 and first["targets"] == ["bus:C", "bus:T"]
    # one crew, no coordinates (no travel), 24 h per bus: greedy repairs T first
    # (90 MW back), 0-24 h, then C, 24-48 h; at 30 h only C is down, and striking A and
    # B cuts T off too: 10 + 20 + 90 + 30 = 150 MW shed, more than any pair with T
    # (T + B: 90 + 20 + 30 = 140)
    state = state_at(g, res, 30.0)
    assert (~state.bus).sum() == 1 and not state.bus[g.network.bus_ids.get_loc("C")]
    ref = attack(g, 2, target="bus", exclude=["bus:S"], state=state, top=1,
                 budget=5000, seed=0)
    assert ref.best.elements == ("bus:A", "bus:B") and ref.best.shed_mw == pytest.approx(150.0)
    assert second["time_h"] == 30.0 and second["targets"] == list(ref.best.elements)
    assert second["failed"] == ["bus:A", "bus:B"]


def test_a_repaired_site_is_struck_again_when_that_is_worst():
    g = feeders()
    # T is the worst single strike (90 MW); its repair takes 24 h (one crew, no travel)
    again = compare(g, draw(g, "adaptive:waves=2,every_h=24,k=1,target=bus,exclude=bus:S"),
                    ["greedy"], ONE_CREW)["greedy"]
    assert [w["targets"] for w in again.chosen_waves] == [["bus:T"], ["bus:T"]]
    jobs = again.schedule[again.schedule["element"] == "bus:T"]
    assert jobs["fail_h"].tolist() == [0.0, 24.0] and jobs["end_h"].tolist() == [24.0, 48.0]
    # energy not served: T's 90 MW for 48 h
    assert again.metrics["ens_mwh"] == pytest.approx(90.0 * 48)
    # at 12 h T is still down: the next worst is C (30 MW more)
    early = compare(g, draw(g, "adaptive:waves=2,every_h=12,k=1,target=bus,exclude=bus:S"),
                    ["greedy"], ONE_CREW)["greedy"]
    assert [w["targets"] for w in early.chosen_waves] == [["bus:T"], ["bus:C"]]


def test_without_repairs_each_wave_strikes_what_the_earlier_ones_left():
    g = feeders()
    sc = draw(g, "adaptive:waves=3,every_h=10,k=1,target=bus,exclude=bus:S")
    waves = sc.realised(g.network).waves
    # T (90 MW), then C (30 MW more: T is dark already), then B, the largest load left
    # (20 MW; A 10, D 5): 140 MW shed in the end
    assert [w.label for w in waves] == ["bus:T", "bus:C", "bus:B"]
    assert [w.time_h for w in waves] == [0.0, 10.0, 20.0]
    state = g.network.intact()
    for w in waves[:2]:
        state = w.apply(state)
    ref = attack(g, 1, target="bus", exclude=["bus:S"], state=state, budget=5000)
    assert waves[2].label == ref.best.elements[0]
    imp = ImpactEvaluator()(g.network, sc, np.random.default_rng(0))
    assert imp["shed_mw"] == pytest.approx(140.0)


def test_same_seed_same_run_on_one_and_two_workers():
    g = feeders()
    gen = scenario_generator("adaptive:waves=3,every_h=20,k=1,target=bus,exclude=bus:S,"
                             "near=0.9", g)
    ev = RestorationEvaluator.for_grid(g, RestorationSettings(crews=1, repair_sigma=0.5),
                                       ("greedy", "largest-load-first"),
                                       impact=ImpactEvaluator())
    runs = [run_ensemble(g, gen, 8, 5, workers=w, evaluator=ev, batch_size=2).records
            for w in (1, 2)]
    pd.testing.assert_frame_equal(runs[0], runs[1])
    rec = runs[0]
    # near=0.9 lets the attacker pick among sets within 90 % of the worst: the waves
    # differ between scenarios, and so does the energy not served
    assert rec["failed"].nunique() > 1
    assert rec["ens_mwh__greedy"].nunique() > 1
    assert (rec["n_waves"] == 3).all()


def test_the_attacker_uses_the_runs_cascade_option():
    g = feeders()
    gen = scenario_generator("adaptive:waves=1,k=1,target=bus", g, cascade="trip")
    assert isinstance(gen, AdaptiveStrikes) and gen.attacker.cascade.mode == "trip"
    assert scenario_generator("random:k=1", g).__class__.__name__ == "RandomOutages"


@pytest.mark.parametrize(("spec", "message"), [
    ("adaptive:waves=2", "needs k"),
    ("adaptive:k=1,wave=2", "did you mean 'waves'"),
    ("adaptive:k=1,objective=ens_mwh", "'objective' parameter of adaptive"),
    ("adaptive:k=1,near=1", "'near' parameter"),
    ("adaptive:k=99,target=bus", "at most 6"),
    ("adaptive:k=1,waves=2,every_h=0", "'every_h' parameter"),
    ("adaptive:k=1,protect=bus:NOPE", "NOPE"),
    ("adaptive:k=1,objective=people_out,target=branch", None),
])
def test_bad_adaptive_specs_are_refused_with_one_line(spec, message):
    g = feeders()
    if message is None:
        scenario_generator(spec, g)
        return
    with pytest.raises(UsageError, match=message):
        scenario_generator(spec, g)


def test_scenario_from_spec_points_to_the_attacker():
    with pytest.raises(UsageError, match="gridres.adversary.scenario_generator"):
        scenario_from_spec("adaptive:k=1", feeders())


def test_cli_restore_against_the_adaptive_attacker(capsys):
    code, out, err = run(capsys, "restore", "ieee14", "--scenario",
                         "adaptive:waves=2,every_h=24,k=1,target=bus", "--seed", "1",
                         "--json")
    assert code == 0, err
    doc = strict_json(out)
    waves = doc["details"]["greedy"]["chosen_waves"]
    assert [w["time_h"] for w in waves] == [0.0, 24.0]
    assert waves[0]["targets"] == list(attack("ieee14", 1, target="bus").best.elements)
    code, out, err = run(capsys, "restore", "ieee14", "--scenario", "adaptive:waves=2,k=0",
                         "--seed", "1")
    assert code == 2 and "'k' parameter of adaptive" in one_line_error(err)
    code, out, err = run(capsys, "ensemble", "ieee14", "--scenario",
                         "adaptive:k=1,target=bus,objective=ens_mwh", "--n", "2", "--seed", "1")
    assert code == 2 and "'objective' parameter" in one_line_error(err)


STUDY = """
[study]
seed = 3
[grid]
source = "ieee14"
[scenario]
kind = "adaptive"
waves = 2
every_h = 24
k = 1
target = "bus"
[ensemble]
n = 2
workers = 1
[restoration]
policies = ["greedy"]
"""


def test_a_study_takes_the_adaptive_attacker_but_not_in_a_plan(tmp_path, capsys):
    study = tmp_path / "adaptive.toml"
    study.write_text(STUDY, encoding="utf-8")
    code, out, err = run(capsys, "check", str(study))
    assert code == 0, err
    planned = tmp_path / "planned.toml"
    planned.write_text(STUDY + "[plan]\nbudget = 10\n", encoding="utf-8")
    code, out, err = run(capsys, "check", str(planned))
    assert code == 65 and "plan" in err and "adaptive attacker" in err
    wrong = tmp_path / "wrong.toml"
    wrong.write_text(STUDY.replace("k = 1", "k = 1\nnear = 2"), encoding="utf-8")
    code, out, err = run(capsys, "check", str(wrong))
    assert code == 65 and "scenario.near: must be a fraction in [0, 1), got 2" in err
