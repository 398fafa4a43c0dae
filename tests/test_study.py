"""Study files: key positions, TOML writing, checks with key path and line, exit codes,
the example studies, and whole runs whose numbers are recomputed with the engine."""

from __future__ import annotations

import json
import math
import shutil
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import DEMO_N
from gridres.cli import cli
from gridres.cli.common import run_cli
from gridres.study import analyse_study, check_study, load_study
from gridres.study.tomltext import dumps, format_path, key_lines, line_of

ROOT = Path(__file__).resolve().parent.parent
STUDIES = ROOT / "grids" / "studies"
BAD = Path(__file__).resolve().parent / "data" / "studies"


# -- key positions ----------------------------------------------------------------------
HAND = '''# a comment with [brackets] and key = value
[study]
name = "x"   # trailing comment
seed = 3

[[hazard]]
kind = "circle"
fragility = { line = { median = 30.0, beta = 0.4 } }

[[hazard]]
kind = 'strikes'
targets = [
  "a",   # first
  "b",
]
text = """two
lines"""
[hazard.fragility]
beta = -1

[restoration]
spare_stock.transformer = 2
"odd key" = 1
[[plan.candidates]]
id = "c1"
[[plan.candidates]]
id = "c2"
[plan.candidates.cost]
total = 4
'''


def test_key_lines_of_a_hand_written_file() -> None:
    tomllib.loads(HAND)  # valid TOML
    lines = key_lines(HAND)
    expected = {
        ("study",): 2, ("study", "name"): 3, ("study", "seed"): 4,
        ("hazard", 0): 6, ("hazard", 0, "kind"): 7,
        ("hazard", 0, "fragility", "line", "beta"): 8,
        ("hazard", 1): 10, ("hazard", 1, "kind"): 11, ("hazard", 1, "targets"): 12,
        ("hazard", 1, "targets", 0): 13, ("hazard", 1, "targets", 1): 14,
        ("hazard", 1, "text"): 16, ("hazard", 1, "fragility"): 18,
        ("hazard", 1, "fragility", "beta"): 19,
        ("restoration", "spare_stock", "transformer"): 22,
        ("restoration", "odd key"): 23,
        ("plan", "candidates", 0, "id"): 25, ("plan", "candidates", 1, "id"): 27,
        ("plan", "candidates", 1, "cost", "total"): 29,
    }
    assert {k: lines.get(k) for k in expected} == expected
    # a key that is not in the file falls back to its table's line
    assert line_of(lines, ("restoration", "crews")) == 21
    assert line_of(lines, ("nowhere",)) is None


def test_format_path_quotes_keys_that_are_not_bare() -> None:
    assert format_path(("hazard", 0, "fragility", "beta")) == "hazard[0].fragility.beta"
    assert format_path(("restoration", "odd key")) == 'restoration."odd key"'


_keys = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1,
                max_size=6)
_scalars = (st.integers(-(2**63), 2**63 - 1) | st.booleans()
            | st.floats(allow_nan=False) | st.text(st.characters(codec="utf-8"), max_size=8))
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=3),
    max_leaves=12,
)
_docs = st.dictionaries(_keys, _values | st.lists(st.dictionaries(_keys, _values, max_size=3),
                                                  min_size=1, max_size=3), max_size=5)


@settings(max_examples=150, deadline=None)
@given(_docs)
def test_dumps_round_trips_through_tomllib(doc: dict) -> None:
    text = dumps(doc, header="a header\nof two lines")
    assert tomllib.loads(text) == doc


@settings(max_examples=100, deadline=None)
@given(_docs)
def test_every_written_key_is_found_on_a_line_that_names_it(doc: dict) -> None:
    text = dumps(doc)
    lines = key_lines(text)
    rows = text.split("\n")  # TOML lines end at \n only (not at U+0085 or U+2028)

    def walk(node, path):
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for k, v in items:
            p = (*path, k)
            if isinstance(k, str):
                line = lines.get(p)
                assert line is not None, p
                assert format_path([k]) in rows[line - 1], (p, rows[line - 1])
            if isinstance(v, dict | list):
                walk(v, p)

    walk(doc, ())


# -- the example studies ----------------------------------------------------------------
EXAMPLES = sorted(STUDIES.glob("*.toml"))


def test_the_examples_are_there() -> None:
    assert {p.stem for p in EXAMPLES} >= {"demo", "storm", "strikes", "hardening"}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_study_passes_check(path: Path, capsys) -> None:
    result = analyse_study(path)
    assert result.problems == []
    assert len(result.generators) == len(result.study.hazards)
    assert run_cli(cli, ["check", str(path)]) == 0
    assert "ok" in capsys.readouterr().out


# -- bad studies: one problem each, with key path, line and exit code ---------------------
BAD_CASES = [
    # file, exit code, key path, line, words of the message, text on that line
    ("unknown_grid", 66, "grid.source", 6, "did you mean demo_region", "demo_regoin"),
    ("unknown_policy", 65, "restoration.policies[1]", 16,
     "unknown restoration policy 'fastest-first'", '"fastest-first"'),
    ("negative_crews", 65, "restoration.crews", 14, "must be an int >= 1, got -3", "crews"),
    ("fragility_beta", 65, "hazard[0].fragility.line.beta", 17,
     "must be in (0, 3], got -0.4", "beta = -0.4"),
    ("syntax_error", 65, "", 6, "TOML syntax error at column 17", '"ieee14'),
    ("unknown_key", 65, "ensemble.worker", 14, "did you mean 'workers'", "worker = 2"),
    ("missing_seed", 65, "study.seed", 2, "missing; add seed = ...", "[study]"),
    ("old_cascade_off", 65, "cascade.mode", 13, 'old spelling; write mode = "none"',
     'mode = "off"'),
]
_IDS = [c[0] for c in BAD_CASES]


@pytest.mark.parametrize("name, code, path, line, words, on_line", BAD_CASES, ids=_IDS)
def test_bad_study_gives_its_problem(name: str, code: int, path: str, line: int,
                                     words: str, on_line: str) -> None:
    file = BAD / f"{name}.toml"
    result = analyse_study(file)
    assert len(result.problems) == 1, result.problems
    p = result.problems[0]
    assert (p.path, p.line, p.exit_code) == (path, line, code)
    assert words in p.message
    assert result.exit_code == code
    assert on_line in file.read_text().split("\n")[line - 1]


@pytest.mark.parametrize("command", ["check", "run"])
@pytest.mark.parametrize("name, code, path, line, words, on_line", BAD_CASES, ids=_IDS)
def test_bad_study_is_one_line_on_the_command_line(command: str, name: str, code: int,
                                                   path: str, line: int, words: str,
                                                   on_line: str, tmp_path: Path,
                                                   capsys) -> None:
    file = BAD / f"{name}.toml"
    args = [command, str(file)] + (["--out", str(tmp_path / "out")] if command == "run" else [])
    assert run_cli(cli, args) == code
    out, err = capsys.readouterr()
    errors = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, err
    where = f"{file}:{line}: {path}: " if path else f"{file}:{line}: "
    assert errors[0].startswith("error: " + where), errors[0]
    assert words in errors[0]
    assert out == ""
    assert not (tmp_path / "out").exists()  # nothing is run or written


def test_missing_study_file_is_66(tmp_path: Path, capsys) -> None:
    missing = tmp_path / "nope.toml"
    assert run_cli(cli, ["check", str(missing)]) == 66
    assert run_cli(cli, ["run", str(missing)]) == 66
    err = capsys.readouterr().err
    assert f"{missing}: no such study file" in err


def test_every_problem_is_reported_in_line_order(tmp_path: Path) -> None:
    path = tmp_path / "many.toml"
    path.write_text(
        '[study]\nsed = 1\n'                                   # 2: unknown key, 1: no seed
        '[grid]\nsource = "ieee14"\n'
        '[ensemble]\nn = 0\nscheduler = "gpu"\n'               # 6, 7
        '[scenario]\nkind = "random"\nk = 0\n'                 # 10
        '[restoration]\ncrews = 0\nspeed_kmh = -1\n'           # 12, 13
        'spare_stock = { transformer = -1, cable = 2 }\n'      # 14 (twice)
        'policies = ["greedy", "greedy"]\n'                    # 15
        '[outputs]\nhtml = "yes"\n')                           # 17
    got = [(p.line, p.path) for p in check_study(path)]
    assert got == [
        (1, "study.seed"), (2, "study.sed"), (6, "ensemble.n"), (7, "ensemble.scheduler"),
        (10, "scenario.k"), (12, "restoration.crews"), (13, "restoration.speed_kmh"),
        (14, "restoration.spare_stock.transformer"), (14, "restoration.spare_stock.cable"),
        (15, "restoration.policies[1]"), (17, "outputs.html"),
    ]


# -- resolution of defaults and paths -----------------------------------------------------
def test_resolved_study_fills_every_default_and_loads_back(tmp_path: Path) -> None:
    path = tmp_path / "small.toml"
    path.write_text('[study]\nseed = 5\n[grid]\nsource = "ieee14"\n'
                    '[scenario]\nspec = "random:k=2"\n[restoration]\ncrews = 2\n')
    study = load_study(path)
    doc = tomllib.loads(study.resolved_toml())
    assert doc["study"] == {"name": "small", "description": "", "seed": 5}
    assert doc["ensemble"]["n"] == 100
    assert doc["cascade"] == {"mode": "none", "margin": 0.0, "max_stages": 1000}
    from gridres.restoration import RestorationSettings

    defaults = RestorationSettings(crews=2).to_dict()
    assert {k: doc["restoration"][k] for k in defaults} == defaults
    assert doc["outputs"]["tables"] == ["csv", "parquet"]
    again = tmp_path / "again.toml"
    again.write_text(study.resolved_toml())
    assert load_study(again).to_dict() == study.to_dict()


def test_relative_paths_resolve_against_the_study_folder(tmp_path: Path,
                                                         monkeypatch) -> None:
    from gridres.io.load import bundled_grids

    folder = tmp_path / "project"
    (folder / "data").mkdir(parents=True)
    shutil.copy(bundled_grids()["ieee14"], folder / "data" / "grid.gpkg")
    (folder / "data" / "outages.csv").write_text("kind,id\nbranch,1\n")
    (folder / "s.toml").write_text(
        '[study]\nseed = 1\n[grid]\nsource = "data/grid.gpkg"\n'
        '[scenario]\nkind = "explicit"\nfile = "data/outages.csv"\n'
        '[outputs]\ndir = "results"\n')
    monkeypatch.chdir(tmp_path)  # not the study's folder
    check = analyse_study("project/s.toml")
    assert check.problems == []
    study = check.study
    assert study.grid_spec == str((folder / "data" / "grid.gpkg").resolve())
    assert study.hazards[0]["file"] == str((folder / "data" / "outages.csv").resolve())
    assert study.results_dir() == folder / "results"
    assert study.results_dir("elsewhere") == Path("elsewhere")


# -- whole runs (``demo``: the shared run of the demo study, tests/conftest.py) -------------
def test_demo_results_directory(demo) -> None:
    import pyogrio

    out = demo.out_dir
    for name in ("study.resolved.toml", "summary.json", "report.html", "results.gpkg",
                 "tables/buses.csv", "tables/buses.parquet", "tables/facilities.csv",
                 "tables/scenarios.parquet", "tables/restoration.csv",
                 "tables/restoration_curves.csv", "tables/contingency.csv"):
        assert (out / name).is_file(), name
    layers = dict(pyogrio.list_layers(out / "results.gpkg"))
    assert layers == {"buses": "Point", "branches": "LineString", "substations": "Point",
                      "facilities": "Point", "towns": "Point", "hazard_footprints": "Polygon"}
    resolved = tomllib.loads((out / "study.resolved.toml").read_text())
    assert demo.n == DEMO_N and resolved["ensemble"]["n"] == DEMO_N  # the override, recorded

    summary = json.loads((out / "summary.json").read_text())
    records = pd.read_parquet(out / "tables" / "scenarios.parquet")
    assert len(records) == DEMO_N == summary["scenarios"]["completed"]
    assert summary["metrics"]["shed_mw"]["mean"] == pytest.approx(records["shed_mw"].mean())
    assert summary["p_shed"] == pytest.approx((records["shed_mw"] > 1e-6).mean())
    buses = pd.read_csv(out / "tables" / "buses.csv", index_col=0)
    import geopandas as gpd

    layer = gpd.read_file(out / "results.gpkg", layer="buses").set_index("id")
    assert np.allclose(layer.loc[buses.index, "p_loss_of_supply"], buses["p_loss_of_supply"])


def test_demo_probabilities_equal_the_engine_on_the_same_draws(demo) -> None:
    """Regenerate every scenario from the seed and assess it: the study's P(loss of
    supply) per bus, P(dark) per facility and failure frequency per branch follow."""
    from gridres.impact import FACILITY_DARK, assess
    from gridres.scenarios.spec import scenario_from_spec

    st_ = demo.study
    grid = demo.grid
    net = grid.network
    gen = scenario_from_spec(dict(st_.hazards[0]), grid)
    dark_bus = np.zeros(net.n_bus)
    dark_fac = np.zeros(len(net.fac_ids))
    failed_branch = np.zeros(net.n_branch)
    shed = []
    for i in range(demo.n):
        sc = gen.sample(net, np.random.default_rng([st_.seed, i]))
        state = sc.final_state(net)
        imp = assess(net, state, cascade=True, margin=st_.cascade.margin)
        dark_bus += net.bus_in_service & ~imp.energized
        dark_fac += imp.facility == FACILITY_DARK
        tripped = np.zeros(net.n_branch, dtype=bool)
        for stage in imp.stages:
            tripped[stage] = True
        failed_branch += (net.branch_in_service & ~state.branch) | tripped
        shed.append(imp.shed_total_mw)
    assert np.allclose(demo.buses["p_loss_of_supply"].to_numpy(), dark_bus / demo.n)
    assert np.allclose(demo.facilities["p_dark"].to_numpy(), dark_fac / demo.n)
    assert np.allclose(demo.branches["p_failure"].to_numpy(), failed_branch / demo.n)
    assert demo.metrics["shed_mw"]["mean"] == pytest.approx(np.mean(shed))
    # substations carry the largest probability of their buses
    subs = demo.buses.groupby("substation")["p_loss_of_supply"].max()
    assert np.allclose(demo.substations.loc[subs.index, "p_loss_of_supply"], subs)


def test_demo_restoration_metrics_equal_a_direct_simulation(demo) -> None:
    from gridres.restoration import compare, prepare
    from gridres.scenarios.spec import scenario_from_spec

    st_ = demo.study
    grid = demo.grid
    gen = scenario_from_spec(dict(st_.hazards[0]), grid)
    assets = prepare(grid, st_.restoration.settings)
    policies = list(demo.restoration)
    ens = {p: [] for p in policies}
    for i in range(demo.n):
        rng = np.random.default_rng([st_.seed, i])
        sc = gen.sample(grid.network, rng)
        results = compare(grid, sc, policies, assets=assets, seed=rng,
                          cascade=st_.cascade.options)
        for p in policies:
            ens[p].append(results[p].metrics["ens_mwh"])
    for p in policies:
        assert demo.restoration[p].metrics["ens_mwh"]["mean"] == pytest.approx(np.mean(ens[p]))
        curve = demo.restoration[p].curve
        assert curve["served_fraction"].iloc[0] <= curve["served_fraction"].iloc[-1] + 1e-12
        assert ((curve["served_fraction"] >= 0) & (curve["served_fraction"] <= 1)).all()


@pytest.mark.slow
def test_same_study_file_and_seed_give_the_same_numbers(demo, tmp_path: Path) -> None:
    from gridres.study import run_study

    again = run_study(demo.out_dir / "study.resolved.toml", tmp_path / "again", workers=2)
    a = json.loads((demo.out_dir / "summary.json").read_text())
    b = json.loads((tmp_path / "again" / "summary.json").read_text())
    for key in ("metrics", "p_shed", "substations", "facilities", "restoration", "n_minus_1"):
        assert a[key] == b[key], key
    pd.testing.assert_frame_equal(demo.buses, again.buses)


def test_scenario_count_from_the_environment(tmp_path: Path, monkeypatch) -> None:
    from gridres.report import write_report
    from gridres.study import run_study
    from gridres.study.core import ENV_SCENARIOS

    path = tmp_path / "tiny.toml"
    path.write_text('[study]\nseed = 3\n[grid]\nsource = "ieee14"\n'
                    '[scenario]\nspec = "random:k=1"\n[ensemble]\nn = 1000\n'
                    '[cascade]\nmode = "none"\n[outputs]\nhtml = false\ngpkg = false\n'
                    'tables = ["csv"]\n')
    monkeypatch.setenv(ENV_SCENARIOS, "4")
    res = write_report(run_study(path, tmp_path / "out", workers=1))
    assert res.completed == 4
    assert not (tmp_path / "out" / "report.html").exists()  # [outputs] html = false
    assert tomllib.loads((tmp_path / "out" / "study.resolved.toml").read_text())[
        "ensemble"]["n"] == 4
    # one random branch per scenario: the element counts add up to the scenarios
    assert res.elements["initial"].sum() == 4


@pytest.mark.parametrize("name", ["storm", "strikes",
                                  pytest.param("hardening", marks=pytest.mark.slow)])
def test_small_example_studies_run(name: str, tmp_path: Path) -> None:
    from gridres.study import run_study

    res = run_study(STUDIES / f"{name}.toml", tmp_path, n=3, workers=1)
    assert res.completed == 3
    assert set(res.restoration) == set(res.study.restoration.policies)
    summary = json.loads((tmp_path / "summary.json").read_text())
    if name == "strikes":
        assert (res.records["n_waves"] == 4).all()
        lasted = summary["restoration"]["greedy"]["waves_stock_lasted"]
        assert 1 <= lasted["mean"] <= 4
    if name == "hardening":
        import importlib.util

        planner = importlib.util.find_spec("gridres.redundancy") is not None
        assert summary["plan"]["status"] == ("done" if planner else "pending")
        assert math.isclose(summary["plan"]["budget"], 12.0)
        if planner:
            assert (tmp_path / "plan" / "plan.json").is_file()
            cost = pd.read_csv(tmp_path / "tables" / "plan_portfolio.csv")["cost"].sum()
            assert cost <= 12.0
            assert set(summary["plan"]["portfolio"]) <= {
                c["id"] for c in res.study.plan.candidates}


@pytest.mark.slow
def test_demo_command_prints_where_the_report_is(tmp_path: Path, capsys,
                                                 monkeypatch) -> None:
    """The demo ends with what to do next: the report, how to open it, and four commands
    that run as printed."""
    import shlex

    out = tmp_path / "demo"
    assert run_cli(cli, ["demo", "--out", str(out), "--scenarios", "2"]) == 0
    stdout, stderr = capsys.readouterr()
    report = (out / "report.html").resolve()
    lines = stdout.splitlines()
    assert "load lost (MW)" in stdout  # the headline numbers, on stdout
    at = lines.index(f"Report: {report}")
    assert lines[at + 1] == f"Open it in a browser: {report.as_uri()}"
    assert lines[at + 2] == "Next, try:"
    commands = [ln.strip() for ln in lines[at + 3:] if ln.startswith("    gridres ")]
    assert len(commands) == 4
    assert "ensemble" in stderr  # a progress bar per long step
    assert (out / "report.html").is_file()
    restore = shlex.split(commands[0])
    assert restore[:2] == ["gridres", "restore"]
    assert run_cli(cli, restore[1:] + ["--json"]) == 0
    assert json.loads(capsys.readouterr().out)["policies"][0]["peak_lost_mw"] > 0
    monkeypatch.chdir(Path(__file__).resolve().parents[1])
    for command in commands[1:]:  # the storm, worst-case strikes and deficit studies
        study = shlex.split(command)
        assert study[:2] == ["gridres", "run"] and Path(study[2]).is_file()
        assert run_cli(cli, ["check", study[2]]) == 0


def test_run_json_is_the_summary(tmp_path: Path, capsys) -> None:
    path = tmp_path / "tiny.toml"
    path.write_text('[study]\nseed = 3\n[grid]\nsource = "ieee14"\n'
                    '[scenario]\nspec = "random:k=2"\n[ensemble]\nscheduler = "serial"\n'
                    '[outputs]\nhtml = false\ngpkg = false\ntables = ["csv"]\n')
    assert run_cli(cli, ["run", str(path), "--out", str(tmp_path / "o"), "-n", "5",
                         "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc == json.loads((tmp_path / "o" / "summary.json").read_text())
    assert doc["scenarios"] == {"n": 5, "completed": 5}


def test_priority_list_policy_needs_a_list_of_known_elements(tmp_path: Path) -> None:
    head = ('[study]\nseed = 1\n[grid]\nsource = "ieee14"\n[scenario]\nspec = "random:k=2"\n'
            '[restoration]\n')
    path = tmp_path / "p.toml"
    path.write_text(head + 'policies = ["priority-list"]\n')
    assert [(p.line, p.path) for p in check_study(path)] == [(8, "restoration.policies")]
    path.write_text(head + 'policies = ["priority-list"]\npriority = ["branch:1", "bus:99"]\n')
    [problem] = check_study(path)
    assert (problem.line, problem.path) == (9, "restoration.priority[1]")
    assert "no bus with id '99'" in problem.message


def test_default_results_dir_is_in_the_working_directory(tmp_path, monkeypatch):
    """A bundled example study lives inside the installed package: its results must not
    be written there by default."""
    from gridres.study import load_study

    monkeypatch.chdir(tmp_path)
    study = load_study(STUDIES / "hardening.toml")
    assert study.results_dir() == tmp_path / "results" / study.name


def test_an_edited_study_runs_the_edit_not_its_file(tmp_path: Path) -> None:
    """run_study given a Study object runs that object: its file draws one random branch
    per scenario; the edited study fails branch 3 every time, and the resolved study
    says so."""
    from gridres.study import run_study

    path = tmp_path / "tiny.toml"
    path.write_text('[study]\nseed = 5\n[grid]\nsource = "ieee14"\n'
                    '[scenario]\nspec = "random:k=1,elements=bus"\n[ensemble]\nn = 3\n'
                    '[cascade]\nmode = "none"\n[outputs]\ngpkg = false\ntables = ["csv"]\n')
    edited = load_study(path).replace(hazards=({"spec": "branch:3"},))
    res = run_study(edited, tmp_path / "out", workers=1)
    assert res.study is edited or res.study.hazards == edited.hazards
    assert res.elements.index.tolist() == ["branch:3"]
    assert int(res.elements.loc["branch:3", "initial"]) == 3
    resolved = tomllib.loads((tmp_path / "out" / "study.resolved.toml").read_text())
    assert resolved["scenario"]["spec"] == "branch:3"
    assert res.intact["shed_mw"] == 0.0


def test_demo_services_tables_and_towns_layer(demo) -> None:
    import pyogrio

    out = demo.out_dir
    towns = pd.read_csv(out / "tables" / "towns.csv", index_col="id")
    assert len(towns) == len(demo.grid.towns)
    for svc in ("power", "water", "heat", "telecom"):
        for h in (12, 24, 48):
            assert f"{svc}_{h}h" in towns.columns
    layer = pyogrio.read_dataframe(out / "results.gpkg", layer="towns")
    assert len(layer) == len(towns) and "water_24h" in layer.columns
    # the totals over time are the sums over towns, policy by policy and time by time
    timeline = pd.read_csv(out / "tables" / "services_timeline.csv")
    by_town = pd.read_csv(out / "tables" / "services_towns.csv")
    sums = by_town.groupby(["policy", "service", "time_h"])["people"].sum()
    for _, row in timeline.iterrows():
        for svc in ("power", "water", "heat"):
            if svc in timeline.columns and not math.isnan(row[svc]):
                got = sums.get((row["policy"], svc, row["time_h"]), 0.0)
                assert got == pytest.approx(row[svc], rel=1e-9, abs=1e-6)
    # the towns table is the best policy's at the report hours
    best = towns["policy"].iloc[0]
    at24 = by_town[(by_town["policy"] == best) & (by_town["service"] == "water")
                   & (by_town["time_h"] == 24.0)].set_index("town")["people"]
    assert towns["water_24h"].to_numpy() == pytest.approx(
        at24.reindex(towns.index).fillna(0.0).to_numpy())
    # people-hours without each service are restoration metrics with their statistics
    rest = pd.read_csv(out / "tables" / "restoration.csv")
    assert {"service_people_hours_water", "service_people_hours_power"} <= set(rest["metric"])
    # the fleets and the outside temperature survive the resolved study
    again = load_study(out / "study.resolved.toml")
    assert again.restoration.settings == demo.study.restoration.settings
    assert again.restoration.settings.mobile_generators == ((2.0, "VBS-110"), (1.0, "OST-110"))
    assert again.services.outside_temp_c == -5.0


def test_bad_fleet_and_services_input_is_exit_65(tmp_path, capsys) -> None:
    base = (STUDIES / "demo.toml").read_text()
    cases = {
        'fuel_depots = ["VBS-110"]': ('fuel_depots = [[48.4, 13.5]]', "off the map"),
        "fuel_stock_l = 60000.0": ("fuel_stock_l = -1.0", "fuel_stock_l"),
        "[outputs]": ("[services.facilities.W99]\nstorage_h = 4\n[outputs]",
                      "no facility 'W99'"),
    }
    for old, (new, text) in cases.items():
        path = tmp_path / "s.toml"
        assert old in base
        path.write_text(base.replace(old, new))
        code = run_cli(cli, ["run", str(path), "--out", str(tmp_path / "o"), "-n", "2"])
        err = capsys.readouterr().err
        assert code == 65, err
        assert text in err and len(err.strip().splitlines()) == 1, err
        assert not (tmp_path / "o" / "summary.json").exists()
