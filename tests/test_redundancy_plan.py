"""Evaluation on common random numbers, the greedy portfolio and ``gridres plan``.

The obvious case: a hospital bus fed by a single line; the plan must close the loop
(energy not served) or give the hospital backup (facility-hours dark). Reuse of the base
case's results must equal simulating everything, scenario by scenario; a redundant line
never raises energy not served in topology-only runs; paired differences reproduce.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builders import make_grid
from gridres.cli import cli
from gridres.cli.common import run_cli
from gridres.errors import UsageError
from gridres.redundancy import PlanEvaluator, make_intervention
from gridres.redundancy.evaluate import benefit
from gridres.redundancy.portfolio import greedy_portfolio, rank_candidates
from gridres.restoration import RestorationSettings
from gridres.scenarios.spec import scenario_from_spec
from gridres.study import load_study, run_plan
from test_redundancy import ALL_KINDS, ring_grid

STUDIES = Path(__file__).resolve().parents[1] / "grids" / "studies"

CANDIDATES = [
    {"kind": "line", "id": "line-H-D", "from_bus": "H", "to_bus": "D"},
    {"kind": "line", "id": "line-H-B", "from_bus": "H", "to_bus": "B"},
    {"kind": "backup", "facility": "HOSP"},
    {"kind": "crews"},
    {"kind": "harden", "branch": "A2-B"},
    {"kind": "spares", "equipment": "transformer"},
]


def evaluator(spec: str = "random:k=1,weight=length_km", n: int = 40, policy: str = "greedy", **kw):
    g = ring_grid()
    return PlanEvaluator(g, scenario_from_spec(spec, g), RestorationSettings(crews=1),
                         seed=17, n=n, policy=policy, **kw)


def candidates(ev, specs=CANDIDATES):
    return [make_intervention(s, ev.base) for s in specs]


# -- the obvious answer ---------------------------------------------------------------------
def test_plan_closes_the_loop_to_the_single_fed_hospital_bus() -> None:
    with evaluator() as ev:
        cands = candidates(ev)
        ranking = rank_candidates(ev, cands, "ens_mwh")
        base = ev.base_result()
        assert base.mean("ens_mwh") > 0
        # lines fail (the transformer has no length, weight 0); only C-H outages lose load
        # (the ring is N-1 secure): a second feed removes it all
        for line in ("line-H-D", "line-H-B"):
            assert ranking.loc[line, "ens_reduction_mwh"] == pytest.approx(base.mean("ens_mwh"))
            assert ranking.loc[line, "ci_low"] > 0
        for other in ("backup:HOSP", "crews+1", "harden:branch:A2-B", "spares:transformer+1"):
            assert ranking.loc[other, "ens_reduction_mwh"] == pytest.approx(0.0, abs=1e-9)
        cheaper = min(("line-H-D", "line-H-B"), key=lambda c: ranking.loc[c, "cost"])
        assert ranking.index[0] == cheaper
        # budget for both lines: the second adds nothing once the first is built
        both = ranking.loc["line-H-D", "cost"] + ranking.loc["line-H-B", "cost"]
        steps = greedy_portfolio(ev, cands, both + 1.0, "ens_mwh", extend=0)
        assert [s.id for s in steps] == [cheaper]
        assert steps[0].cumulative.drop == pytest.approx(base.mean("ens_mwh"))
        assert ev.result(["line-H-D", "line-H-B"]).mean("ens_mwh") == pytest.approx(0.0)


def test_plan_gives_the_hospital_backup_when_dark_hours_count() -> None:
    with evaluator() as ev:
        cands = candidates(ev)
        base = ev.base_result()
        assert base.mean("facility_hours_dark") > 0
        steps = greedy_portfolio(ev, cands, 5.0, "facility_hours_dark")
        assert steps[0].id == "backup:HOSP"   # cheapest that removes the dark hours
        assert steps[0].cumulative.drop == pytest.approx(base.mean("facility_hours_dark"))
        assert all(not s.within_budget for s in steps[1:])


def test_budget_too_small_buys_nothing() -> None:
    with evaluator() as ev:
        steps = greedy_portfolio(ev, candidates(ev), 0.1, "ens_mwh", extend=0)
        assert steps == []


# -- flow relief ----------------------------------------------------------------------------
def test_a_line_that_relieves_an_overload_is_worth_something_under_trip() -> None:
    # G feeds L (100 MW) over lines A and B of 60 MW each; A fails (4 h + 0.2 h/km x 10 km
    # = 6 h to repair). Under trip, B alone would carry 100 MW and trips: L is dark for
    # 6 h, 600 MWh. A new line C beside them (60 MW) shares the flow 50/50: nothing
    # trips, nothing is lost. Without a cascade B runs overloaded and nothing is lost
    # either way, so the line is worth nothing there.
    buses = [{"id": "G", "ref": True}, {"id": "L", "load_mw": 100.0, "customers": 100}]
    branches = [{"id": k, "from_bus": "G", "to_bus": "L", "x_pu": 0.1, "rating_mw": 60.0,
                 "length_km": 10.0} for k in ("A", "B")]
    g = make_grid(buses, branches, [{"id": "g", "bus": "G", "p_mw": 100.0,
                                     "pmax_mw": 200.0, "blackstart": True}])
    drop = {}
    for mode in ("none", "trip", "redispatch"):
        with PlanEvaluator(g, scenario_from_spec("explicit:branch:A", g),
                           RestorationSettings(crews=1), seed=1, n=3, policy="greedy",
                           cascade=mode) as ev:
            line = make_intervention({"kind": "line", "id": "C", "from_bus": "G",
                                      "to_bus": "L", "length_km": 10.0, "x_pu": 0.1,
                                      "rating_mw": 60.0}, ev.base)
            ev.register([line])
            base, more = ev.base_result(), ev.result(["C"])
            drop[mode] = ev.compare(base, more, "ens_mwh").drop
            if mode == "trip":
                assert base.values("ens_mwh").tolist() == [600.0] * 3
                assert more.values("ens_mwh").tolist() == [0.0] * 3
                assert more.n_simulated == 3  # the line changes the flows: simulated
    assert drop["trip"] == pytest.approx(600.0)
    assert drop["none"] == 0.0
    # redispatch: the operator sheds 40 MW at L to keep B at 60 MW (6 h, 240 MWh)
    assert drop["redispatch"] == pytest.approx(240.0, abs=1e-3)


# -- exact reuse ----------------------------------------------------------------------------
def tight_ring_grid():
    """The ring with B-C rated 60 MW: with D-A2 out it would carry 80 MW (trips)."""
    g = ring_grid()
    branches = g.branches.copy()
    branches.loc["B-C", "rating_mw"] = 60.0
    return g.replace(branches=branches)


CIRCLE = "circle:lon=10.1,lat=49.96,radius_km=12,peak=52,line.median=45"


# under trip and redispatch, the rules on islands alone would copy wrong results here
# (tested when they were still applied: the new line H-B, backup and faster repairs)
@pytest.mark.slow
@pytest.mark.parametrize(("policy", "mode", "spec"), [
    ("greedy", "none", CIRCLE), ("critical-first", "none", CIRCLE),
    ("greedy", "trip", "random:k=2"), ("greedy", "trip", "random:k=1,weight=length_km"),
    ("critical-first", "redispatch", "random:k=2")])
def test_reuse_equals_simulating_everything(policy: str, mode: str, spec: str) -> None:
    specs = ALL_KINDS + [{"kind": "line", "id": "line-H-B", "from_bus": "H", "to_bus": "B"},
                         {"kind": "spares", "equipment": "transformer", "count": 2}]
    out = {}
    for reuse in (True, False):
        g = ring_grid() if mode == "none" else tight_ring_grid()
        s = RestorationSettings(crews=1, spare_stock={"transformer": 0}, repair_sigma=0.3)
        with PlanEvaluator(g, scenario_from_spec(spec, g), s, seed=3, n=8, policy=policy,
                           reuse=reuse, cascade=mode) as ev:
            cands = [make_intervention(x, ev.base) for x in specs]
            ev.register(cands)
            ids = [c.id for c in cands]
            ev.base_result()
            ev.evaluate([[i] for i in ids])
            ev.evaluate([[ids[0], i] for i in ids[1:]])
            ev.evaluate([[ids[0], ids[1], i] for i in ids[2:6]])
            out[reuse] = {k: r.metrics.copy() for k, r in ev.results.items()}
            if reuse:
                saved = ev.reused
    assert saved > 0
    assert out[True].keys() == out[False].keys()
    for k in out[True]:
        np.testing.assert_allclose(out[True][k], out[False][k], rtol=1e-12, atol=1e-9,
                                   err_msg=str(sorted(k)))


@pytest.mark.slow
def test_reuse_with_fleets_equals_simulating_everything() -> None:
    # fuel trucks and a mobile generator in the base; more tank hours, a truck more, a
    # generator more and a reservoir: the service metrics too equal full simulation
    specs = [{"kind": "tank", "facility": "HOSP", "hours": 12}, {"kind": "fuel_truck"},
             {"kind": "mobile_generator", "mw": 4.0}, {"kind": "crews"},
             {"kind": "reservoir", "facility": "HOSP", "hours": 6},
             {"kind": "line", "id": "line-H-B", "from_bus": "H", "to_bus": "B"}]
    out = {}
    for reuse in (True, False):
        g = ring_grid(backup_mw=3.0)
        s = RestorationSettings(crews=1, fuel_trucks=1, refuel_call_h=6.0,
                                mobile_generators=(2.0,), repair_sigma=0.3)
        with PlanEvaluator(g, scenario_from_spec(CIRCLE, g), s, seed=3, n=16,
                           policy="critical-first/people-per-mw", reuse=reuse) as ev:
            cands = [make_intervention(x, ev.base) for x in specs]
            ev.register(cands)
            ids = [c.id for c in cands]
            ev.base_result()
            ev.evaluate([[i] for i in ids])
            ev.evaluate([[ids[0], i] for i in ids[1:]])
            out[reuse] = {k: r.metrics.copy() for k, r in ev.results.items()}
            if reuse:
                saved = ev.reused
    assert saved > 0
    for k in out[True]:
        np.testing.assert_allclose(out[True][k], out[False][k], rtol=1e-12, atol=1e-9,
                                   err_msg=str(sorted(k)))


# -- a redundant line never raises energy not served ----------------------------------------
@st.composite
def grids(draw):
    n = draw(st.integers(4, 8))
    parent = [draw(st.integers(0, i - 1)) for i in range(1, n)]
    edges = [(p, i + 1) for i, p in enumerate(parent)]
    extra = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)),
                          max_size=3))
    edges += [(a, b) for a, b in extra if a != b]
    loads = [0.0] + [draw(st.sampled_from([0.0, 5.0, 10.0, 20.0])) for _ in range(n - 1)]
    gen_at = draw(st.lists(st.integers(1, n - 1), max_size=2))
    new = draw(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)).filter(
        lambda e: e[0] != e[1]))
    return n, edges, loads, gen_at, new


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(grids())
def test_a_redundant_line_never_raises_energy_not_served(case) -> None:
    n, edges, loads, gen_at, (a, b) = case
    buses = [{"id": f"b{i}", "load_mw": loads[i], "ref": i == 0} for i in range(n)]
    branches = [{"id": f"l{k}", "from_bus": f"b{f}", "to_bus": f"b{t}", "x_pu": 0.1,
                 "length_km": 5.0 + k} for k, (f, t) in enumerate(edges)]
    gens = [{"id": "g0", "bus": "b0", "pmax_mw": 60.0}] + [
        {"id": f"g{k + 1}", "bus": f"b{i}", "pmax_mw": 8.0} for k, i in enumerate(gen_at)]
    g = make_grid(buses, branches, gens)
    k = min(2, len(edges))
    ev = PlanEvaluator(g, scenario_from_spec(f"random:k={k}", g), RestorationSettings(crews=1),
                       seed=1, n=12, policy="as-listed")
    line = make_intervention({"kind": "line", "from_bus": f"b{a}", "to_bus": f"b{b}",
                              "length_km": 5.0}, ev.base)
    ev.register([line])
    base, more = ev.base_result().values("ens_mwh"), ev.result([line.id]).values("ens_mwh")
    # repairs follow the listing order either way, so every state of the run has the same
    # elements alive plus the new line: served load can only be higher at every instant
    assert np.all(more <= base + 1e-9)


# -- common random numbers --------------------------------------------------------------------
@pytest.mark.slow
def test_paired_differences_reproduce(dask_scheduler) -> None:
    runs = []
    for backend in ({"workers": 1}, {"workers": 2}, {"scheduler": dask_scheduler}):
        with evaluator("circle:lon=10.1,lat=49.96,radius_km=12,peak=52", n=24,
                       **backend) as ev:
            cands = candidates(ev)
            runs.append(rank_candidates(ev, cands, "ens_mwh"))
            assert ev.simulations > 0
    a = runs[0]
    cols = ["ens_reduction_mwh", "ci_low", "ci_high", "customer_hours_reduction",
            "cvar95_reduction_mwh", "cvar95_ci_low", "cvar95_ci_high"]
    for b in runs[1:]:
        assert a.index.tolist() == b.index.tolist()
        np.testing.assert_array_equal(a[cols].to_numpy(), b[cols].to_numpy())


def test_paired_interval_is_narrower_than_unpaired() -> None:
    with evaluator("circle:lon=10.1,lat=49.96,radius_km=12,peak=52", n=40) as ev:
        cands = candidates(ev)
        ev.register(cands)
        before = ev.base_result().values("ens_mwh")
        after = ev.result(["line-H-D"]).values("ens_mwh")
    b = benefit(before, after)
    from scipy.stats import ttest_ind

    unpaired = ttest_ind(before, after, equal_var=False).confidence_interval(0.95)
    assert b.drop == pytest.approx(before.mean() - after.mean())
    assert (b.ci_high - b.ci_low) < (unpaired.high - unpaired.low)


# -- studies and the CLI ----------------------------------------------------------------------
@pytest.mark.slow
def test_plan_demo_picks_the_hospital_on_the_single_line(tmp_path: Path, capsys) -> None:
    out = tmp_path / "plan"
    code = run_cli(cli, ["plan", str(STUDIES / "plan_demo.toml"), "-n", "60", "--workers", "1",
                         "--max-candidates", "10", "--out", str(out), "--json"])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["portfolio"][0]["id"] == "backup:H09"
    for row in doc["interventions"]:
        assert {"id", "kind", "cost", "ens_reduction_mwh", "ci_low", "ci_high"} <= set(row)
    listed = {r["id"] for r in doc["interventions"]}
    assert {"microgrid-H09", "protect-RAIN", "crew-RAIN"} <= listed
    p = doc["portfolio"]
    assert p[0]["cumulative_cost"] == pytest.approx(p[0]["cost"])
    assert all(x["cumulative_cost"] <= doc["budget"] + 1e-9 for x in p)
    assert [x["id"] for x in p] == [r["id"] for r in doc["frontier"][1:len(p) + 1]]
    for name in ("plan.json", "interventions.csv", "portfolio.csv", "frontier.csv"):
        assert (out / name).is_file()
    assert json.loads((out / "plan.json").read_text())["portfolio"] == doc["portfolio"]


def test_run_plan_on_a_study_without_a_plan_table(tmp_path: Path) -> None:
    study = tmp_path / "s.toml"
    study.write_text('[study]\nseed = 5\n[grid]\nsource = "ieee14"\n'
                     '[scenario]\nspec = "random:k=2"\n[ensemble]\nn = 15\n'
                     'scheduler = "serial"\n')
    res = run_plan(load_study(study), budget=8.0, max_candidates=6)
    assert res.objective == "ens_mwh" and res.policy == "greedy" and res.n == 15
    assert len(res.candidates) == 6
    assert (res.portfolio["cumulative_cost"] <= 8.0).all()
    doc = res.to_dict()
    assert doc["baseline"]["ens_mwh"] >= doc["improved"]["ens_mwh"]
    assert math.isclose(doc["baseline"]["ens_mwh"] - doc["improved"]["ens_mwh"],
                        float(res.portfolio["benefit"].iloc[-1]) if len(res.portfolio) else 0.0,
                        abs_tol=1e-6)


@pytest.mark.slow
def test_a_study_plans_on_its_scheduler_only_when_trusted(tmp_path: Path, dask_scheduler,
                                                           caplog) -> None:
    text = ('[study]\nseed = 5\n[grid]\nsource = "ieee14"\n[scenario]\nspec = "random:k=2"\n'
            f'[ensemble]\nn = 15\nscheduler = "{dask_scheduler}"\n')
    study = tmp_path / "s.toml"
    study.write_text(text)
    args = dict(budget=8.0, max_candidates=4)
    with caplog.at_level("INFO"):
        trusted = run_plan(load_study(study), trust_scheduler=True, **args)
    assert "pool: " in caplog.text and "Dask cluster" in caplog.text
    caplog.clear()
    with caplog.at_level("INFO"):
        local = run_plan(load_study(study), workers=1, **args)
    assert "not used without --trust-study-scheduler" in caplog.text
    assert "Dask cluster" not in caplog.text
    assert trusted.to_dict() | {"elapsed_s": 0} == local.to_dict() | {"elapsed_s": 0}
    assert trusted.simulations == local.simulations > 0
    # the command line: --scheduler, and the study's own with --trust-study-scheduler
    docs = []
    for extra in (["--workers", "1"], ["--scheduler", dask_scheduler],
                  ["--trust-study-scheduler"]):
        out = tmp_path / f"plan{len(docs)}"
        r = CliRunner().invoke(cli, ["plan", str(study), "--budget", "8", "--max-candidates",
                                     "4", "--json", "--out", str(out), *extra])
        assert r.exit_code == 0, r.output
        docs.append({k: v for k, v in json.loads(r.stdout).items()
                     if k not in ("elapsed_s", "files")})
    assert docs[1] == docs[0] and docs[2] == docs[0]


def test_cli_errors(tmp_path: Path) -> None:
    assert run_cli(cli, ["plan", str(tmp_path / "missing.toml")]) == 66
    assert run_cli(cli, ["plan", str(STUDIES / "plan_demo.toml"), "--budget", "-3",
                         "-n", "2"]) == 2


@pytest.mark.parametrize("policy", ["priority-list", "priority-list/nearest"])
def test_a_planners_list_policy_without_a_list_is_refused(policy) -> None:
    # it would otherwise repair in listing order and say nothing
    with pytest.raises(UsageError, match="needs a priority list"):
        evaluator(policy=policy)
    with evaluator(policy=policy, priority=("bus:H",)) as ev:
        assert ev.policy == policy
