"""Worst-case strikes in studies: a [defend] section equals the library's attack, attack
curve and defend called directly, lands in the results directory (tables, summary,
GeoPackage layers), the plan's worst-case objective ranks a protection that caps the
worst case above one that does not (worked by hand), and bad sections are refused."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from gridres.adversary import attack, attack_curve, defend
from gridres.cascade import CascadeOptions
from gridres.io import load_grid
from gridres.redundancy import plan_interventions
from gridres.redundancy.worstcase import Threat
from gridres.restoration import RestorationSettings
from gridres.scenarios.spec import scenario_from_spec
from gridres.study import analyse_study, run_study
from test_attack import feeders
from test_cli_contract import run, strict_json

ROOT = Path(__file__).resolve().parents[1]

STUDY = """
[study]
seed = 7
[grid]
source = "ieee14"
[scenario]
spec = "random:k=1,elements=bus"
[ensemble]
n = 2
workers = 1
[cascade]
mode = "trip"
margin = 0.1
[defend]
k = 2
target = "bus"
protect_budget = 2
top = 3
n_random = 30
"""


def _same(a: dict, b: dict) -> None:
    a, b = dict(a), dict(b)
    a.pop("elapsed_s"), b.pop("elapsed_s")
    assert a == b


def test_a_defend_section_equals_the_library_called_directly(tmp_path: Path) -> None:
    path = tmp_path / "defend.toml"
    path.write_text(STUDY, encoding="utf-8")
    res = run_study(path, tmp_path / "out", workers=1)
    wc = res.strikes
    grid = load_grid("ieee14")
    opts = CascadeOptions("trip", 0.1)
    for p, got in enumerate(wc.protection, start=1):
        _same(got.to_dict(), defend(grid, 2, p, target="bus", cascade=opts, seed=7).to_dict())
    direct = attack(grid, 2, target="bus", cascade=opts, top=3, seed=7)
    assert [s.to_dict() for s in wc.attack.attacks] == [s.to_dict() for s in direct.attacks]
    assert wc.attack.method == direct.method == "exhaustive" and wc.attack.optimal
    curve = attack_curve(grid, 2, target="bus", cascade=opts, n_random=30, seed=7)
    pd.testing.assert_frame_equal(wc.curve_table(), curve.table())
    # the results directory: summary, tables, GeoPackage layers
    out = tmp_path / "out"
    summary = json.loads((out / "summary.json").read_text())["strikes"]
    assert summary["worst"] == [s.to_dict() for s in direct.attacks]
    assert [p["protection"] for p in summary["protection"]] == [
        list(r.protection) for r in wc.protection]
    worst = pd.read_csv(out / "tables" / "strikes_worst.csv")
    assert worst["rank"].tolist() == [1, 2, 3]
    prot = pd.read_csv(out / "tables" / "strikes_protection.csv")
    assert prot["protect"].tolist() == [1, 2]
    assert (prot["worst_after"] <= prot["worst_before"]).all()
    layer = gpd.read_file(out / "results.gpkg", layer="worst_strikes")
    assert len(layer) == 3 * 2 and set(layer["rank"]) == {1, 2, 3}
    assert set(layer.loc[layer["rank"] == 1, "element"]) == set(direct.best.elements)
    assert layer.geometry.notna().all() and (layer.geom_type == "Point").all()
    layer = gpd.read_file(out / "results.gpkg", layer="protection")
    assert sorted(layer["protect"]) == [1, 2, 2]


@pytest.mark.slow
def test_the_bundled_defend_study_runs_small(tmp_path: Path) -> None:
    res = run_study(ROOT / "grids" / "studies" / "defend.toml", tmp_path, n=3, workers=1)
    wc = res.strikes
    assert res.completed == 3 and wc is not None
    assert wc.attack.k == 2 and wc.attack.optimal and len(wc.attack.attacks) == 5
    assert [len(r.protection) for r in wc.protection] == [1, 2]
    # protection never makes the worst case worse, and two sites do at least as well
    # as one
    after = [r.after.shed_mw for r in wc.protection]
    assert wc.worst.shed_mw >= after[0] >= after[1]
    assert all(p.worst >= p.random_max - 1e-6 for p in wc.curve.points)
    assert all(e.startswith("substation:") for e in wc.worst.elements)


def test_the_worst_case_objective_ranks_the_protection_that_caps_it_first() -> None:
    g = feeders()
    # the attacker strikes one bus (S out of reach): the worst is T, 90 MW. Protecting
    # T (hardened: it cannot be struck) leaves C as the worst, 30 MW: a drop of 60 MW.
    # Protecting D (5 MW) leaves T: no drop. Both cost 1; the budget buys one.
    res = plan_interventions(
        g, scenario_from_spec("random:k=1,elements=bus", g), RestorationSettings(crews=1),
        seed=1, n=10, generate=False, objective="worst_case", budget=1.0,
        candidates=[{"kind": "harden", "bus": "D", "id": "harden-D", "cost": 1.0},
                    {"kind": "harden", "bus": "T", "id": "harden-T", "cost": 1.0}],
        threat=Threat(1, "bus", exclude=("bus:S",)))
    r = res.ranking
    assert r.index.tolist() == ["harden-T", "harden-D"]
    assert r.loc["harden-T", "worst_case"] == pytest.approx(30.0)
    assert r.loc["harden-D", "worst_case"] == pytest.approx(90.0)
    assert r["worst_case_reduction"].tolist() == pytest.approx([60.0, 0.0])
    assert res.portfolio.index.tolist() == ["harden-T"]
    assert (res.baseline["worst_case"], res.improved["worst_case"]) == (90.0, 30.0)
    # beside it, the expected energy not served over the random single-bus outages
    assert {"ens_reduction_mwh", "ci_low", "ci_high"} <= set(r.columns)
    # by expected energy not served alone the same protection of T also ranks first
    # (T is the largest load a random failure can hit)
    ens = plan_interventions(
        g, scenario_from_spec("random:k=1,elements=bus", g), RestorationSettings(crews=1),
        seed=1, n=10, generate=False, objective="ens_mwh", budget=1.0,
        candidates=[{"kind": "harden", "bus": "D", "id": "harden-D", "cost": 1.0},
                    {"kind": "harden", "bus": "T", "id": "harden-T", "cost": 1.0}],
        threat=Threat(1, "bus", exclude=("bus:S",)))
    assert ens.ranking["worst_case_reduction"].to_dict() == pytest.approx(
        {"harden-T": 60.0, "harden-D": 0.0})


def test_gridres_plan_ranks_by_the_worst_case(tmp_path: Path, capsys) -> None:
    path = tmp_path / "plan.toml"
    path.write_text(STUDY + """
[restoration]
crews = 2
[plan]
budget = 1.0
objective = "worst_case"
[[plan.candidates]]
kind = "protect"
bus = "3"
cost = 1.0
[[plan.candidates]]
kind = "protect"
bus = "14"
cost = 1.0
""", encoding="utf-8")
    code, out, err = run(capsys, "plan", str(path), "--out", tmp_path / "plan", "--json",
                         "--workers", "1")
    assert code == 0, err
    doc = strict_json(out)
    assert doc["objective"] == "worst_case" and doc["threat"]["k"] == 2
    first = doc["interventions"][0]
    assert first["id"] == "protect:3" and first["worst_case_reduction"] > 0
    assert doc["portfolio"][0]["id"] == "protect:3"
    assert doc["improved"]["worst_case"] < doc["baseline"]["worst_case"]


@pytest.mark.parametrize(("section", "path", "words"), [
    ("[defend]\ntarget = \"bus\"\n", "defend.k", "missing; add k = ..."),
    ("[defend]\nk = 2\nobjective = \"ens_mwh\"\n", "defend.objective", "unknown value"),
    ("[defend]\nk = 2\ntarget = \"bus\"\nexclude = [\"bus:99\"]\n", "defend.exclude[0]",
     "no bus with id '99'"),
    ("[defend]\nk = 2\ntarget = \"bus\"\nprotect_budget = 13\n", "defend.protect_budget",
     "leaves fewer than k = 2"),
    ("[defend]\nk = 20\ntarget = \"bus\"\n", "defend.k", "more than the 14 bus targets"),
    ("[plan]\nbudget = 1\nobjective = \"worst_case\"\n", "plan.objective",
     "add [defend]"),
])
def test_a_bad_defend_section_is_one_problem(section: str, path: str, words: str,
                                             tmp_path: Path, capsys) -> None:
    base = STUDY.split("[defend]")[0]
    study = tmp_path / "bad.toml"
    study.write_text(base + section, encoding="utf-8")
    problems = analyse_study(study).problems
    assert len(problems) == 1, problems
    assert problems[0].path == path and words in problems[0].message
    assert problems[0].exit_code == 65
    code, out, err = run(capsys, "check", str(study))
    assert code == 65 and out == ""
