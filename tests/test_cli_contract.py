"""The command-line contract, checked on every command: `--help` works; `--json` writes
exactly one strict JSON document (ids as strings) and nothing else on stdout; bad input
(unknown grids, typos, impossible parameters, unwritable or unknown outputs, malformed
files, interruptions) gets one line on stderr, the documented exit code, no traceback and
no result file."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest

from gridres.cli import cli
from gridres.cli.common import run_cli

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

COMMANDS = cli.list_commands(None)
#: Commands whose first argument is a GRID.
GRID_COMMANDS = ["attack", "contingency", "defend", "ensemble", "export", "flow", "info",
                 "outage", "restore", "schedule", "validate"]
#: Extra arguments that make a GRID command runnable (besides GRID).
GRID_ARGS = {
    "attack": ["--k", "2", "--target", "bus"],
    "contingency": ["--elements", "gen"],
    "defend": ["--k", "1", "--protect-budget", "1", "--target", "bus"],
    "ensemble": ["--scenario", "random:k=1", "--n", "4", "--seed", "1", "--workers", "1"],
    "export": ["{tmp}/grid.gpkg"],
    "flow": [],
    "info": [],
    "outage": ["--fail", "bus:4"],
    "restore": ["--fail", "branch:3"],
    "schedule": ["--capacity-share", "0.8", "--hours", "4", "--groups", "3"],
    "validate": [],
}
TINY_STUDY = ('[study]\nname = "tiny"\nseed = 3\n[grid]\nsource = "{grid}"\n'
              '[scenario]\nspec = "random:k=2"\n[ensemble]\nscheduler = "serial"\n'
              '[restoration]\ncrews = 2\n'
              '[outputs]\nhtml = false\ngpkg = false\ntables = ["csv"]\n')
#: Keys whose values are element ids (strings in every output).
ID_KEYS = {"id", "bus", "from_bus", "to_bus", "element"}
ID_LISTS = {"dark_buses", "dark_facilities", "facilities_on_backup"}


def run(capsys, *args: str) -> tuple[int, str, str]:
    """Run the CLI in-process as the console script does: exit code, stdout, stderr."""
    capsys.readouterr()
    code = run_cli(cli, [str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str) -> str:
    """The only non-blank stderr line, which must be an error without a traceback."""
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


def strict_json(text: str):
    """Parse stdout as exactly one JSON document without NaN or Infinity."""
    def refuse(const):
        raise AssertionError(f"non-standard JSON constant {const}")

    return json.loads(text, parse_constant=refuse)


def non_string_ids(doc, path: str = "") -> list[str]:
    """Paths of id values that are not strings."""
    bad = []
    if isinstance(doc, dict):
        for k, v in doc.items():
            if k == "settings":  # restoration settings are keyed by equipment kind
                continue
            if k in ID_KEYS and not (v is None or isinstance(v, str) or isinstance(v, dict)):
                bad.append(f"{path}.{k}={v!r}")
            if k in ID_LISTS and isinstance(v, list) and not all(isinstance(x, str) for x in v):
                bad.append(f"{path}.{k}")
            bad += non_string_ids(v, f"{path}.{k}")
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            bad += non_string_ids(v, f"{path}[{i}]")
    return bad


@pytest.fixture()
def study(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_STUDY.format(grid="ieee14"))
    return path


# -- every command ---------------------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
def test_help_works_and_exits_0(command: str, capsys) -> None:
    code, out, err = run(capsys, command, "--help")
    assert code == 0, err
    assert out.startswith(f"Usage: gridres {command}")
    assert "--json" in out  # every command can answer in JSON


def json_args(command: str, tmp: Path, study: Path) -> list[str]:
    if command in GRID_ARGS:
        return [command, "ieee14", *(a.format(tmp=tmp) for a in GRID_ARGS[command])]
    return {
        "grids": ["grids"],
        "check": ["check", study],
        "run": ["run", study, "--out", tmp / "run", "-n", "3"],
        "demo": ["demo", "--out", tmp / "demo", "-n", "2"],
        "plan": ["plan", study, "--out", tmp / "plan", "-n", "3", "--workers", "1",
                 "--max-candidates", "2"],
    }[command]


@pytest.mark.parametrize("command", [pytest.param(c, marks=pytest.mark.slow) if c == "demo"
                                     else c for c in COMMANDS])
def test_json_is_one_document_alone_on_stdout_with_string_ids(command: str, tmp_path: Path,
                                                              study: Path, capsys) -> None:
    code, out, err = run(capsys, *json_args(command, tmp_path, study), "--json")
    assert code == 0, err
    doc = strict_json(out)
    assert isinstance(doc, dict) and doc
    assert non_string_ids(doc) == []


@pytest.mark.parametrize("command", GRID_COMMANDS)
def test_unknown_grid_is_66_in_one_line(command: str, tmp_path: Path, capsys) -> None:
    extra = [a.format(tmp=tmp_path) for a in GRID_ARGS[command]]
    code, out, err = run(capsys, command, "ieee41", *extra)
    assert code == 66
    assert out == ""
    line = one_line_error(err)
    assert "ieee41" in line and "did you mean ieee14" in line
    assert list(tmp_path.iterdir()) == []  # nothing written


@pytest.mark.parametrize("command", ["check", "run", "plan"])
def test_unknown_study_or_its_grid_is_66_in_one_line(command: str, tmp_path: Path,
                                                     capsys) -> None:
    code, out, err = run(capsys, command, tmp_path / "nope.toml")
    assert (code, out) == (66, "")
    assert "nope.toml: no such study file" in one_line_error(err)
    bad = tmp_path / "bad.toml"
    bad.write_text(TINY_STUDY.format(grid="ieee41"))
    code, out, err = run(capsys, command, bad)
    assert (code, out) == (66, "")
    assert f"{bad}:5: grid.source: ieee41" in one_line_error(err)


# -- usage errors ----------------------------------------------------------------------


@pytest.mark.parametrize("args, words", [
    (["outage", "ieee14", "--margin", "-1"], "'--margin': -1.0 is not in the range x>=0"),
    (["contingency", "ieee14", "--elements", "branch", "--k", "0"], "'--k': 0"),
    (["contingency", "ieee14", "--elements", "line"], "'line' is not one of"),
    (["contingency", "ieee14"],
     "Missing option '--elements'. Choose from: branch, bus, gen, substation"),
    (["flow"], "Missing argument 'GRID'"),
    (["flwo", "ieee14"], "Did you mean 'flow'?"),
    (["restore", "ieee14", "--fail", "bus:4", "--crews", "-1"], "'crews'"),
    (["restore", "ieee14", "--fail", "bus:4", "--policy", "fastest"], "did you mean"),
    (["restore", "ieee14", "--fail", "bus:4", "--speed-kmh", "0"], "'speed_kmh'"),
    (["restore", "ieee14", "--fail", "bus:4", "--spares", "transformer=x"], "not a number"),
    (["restore", "ieee14"], "say what fails"),
    (["outage", "ieee14", "--fail", "bsu:4"], "KIND one of bus, branch, gen, substation"),
    (["outage", "ieee14", "--fail", "bus:44"], "no bus with id '44'; did you mean 4, 14?"),
    (["outage", "ieee14", "--fail", "gen:9"], "`gridres info ieee14 --list generators`"),
    (["outage", "demo_region", "--fail", "substation:Alzbruck"],
     "no substation named 'Alzbruck'; did you mean Alzbruck chemical park"),
    (["info", "ieee14", "--list", "lines"], "'lines' is not one of"),
    (["info", ""], "GRID is empty"),
])
def test_usage_errors_are_2_in_one_line(args: list[str], words: str, capsys) -> None:
    code, out, err = run(capsys, *args)
    assert (code, out) == (2, "")
    assert words in one_line_error(err)


def test_bare_gridres_shows_the_help(capsys) -> None:
    code, out, err = run(capsys)
    assert code == 2
    assert "Commands:" in out + err


def test_debug_anywhere_shows_the_traceback_and_only_then(capsys) -> None:
    code, _, err = run(capsys, "info", "ieee41")
    assert code == 66 and "Traceback" not in err
    for args in (["--debug", "info", "ieee41"], ["info", "ieee41", "--debug"]):
        code, _, err = run(capsys, *args)
        assert code == 66
        assert "Traceback" in err and "ieee41: no such file or bundled grid" in err


# -- outputs ---------------------------------------------------------------------------


@pytest.mark.parametrize("args", [
    ["flow", "ieee14", "--out", "{d}/flows.xlsx"],
    ["flow", "ieee14", "--out", "{d}/flows"],
    ["outage", "ieee14", "--fail", "bus:4", "--out", "{d}/buses.txt"],
    ["contingency", "ieee14", "--elements", "gen", "--out", "{d}/n1.gpkg"],
    ["export", "ieee14", "{d}/grid.shp"],
    ["attack", "ieee14", "--k", "1", "--out", "{d}/worst.parquet"],
    ["defend", "ieee14", "--k", "1", "--protect-budget", "1", "--out", "{d}/protect.txt"],
])
def test_unknown_output_suffix_is_2_before_any_work(args, tmp_path: Path, capsys) -> None:
    target = tmp_path / "not" / "made"
    code, out, err = run(capsys, *(a.format(d=target) for a in args))
    assert (code, out) == (2, "")
    line = one_line_error(err)
    assert str(target) in line
    assert not (tmp_path / "not").exists()  # no folder made for nothing


@pytest.mark.parametrize("args", [
    ["flow", "ieee14", "--out", "{f}/flows.csv"],
    ["outage", "ieee14", "--fail", "bus:4", "--out", "{f}/sub/out.gpkg"],
    ["contingency", "ieee14", "--elements", "gen", "--out", "{f}/n1.parquet"],
    ["attack", "ieee14", "--k", "1", "--out", "{f}/worst.json"],
    ["export", "ieee14", "{f}/grid.gpkg"],
    ["export", "ieee14", "{f}/web.geojson"],
    ["restore", "ieee14", "--fail", "bus:4", "--out", "{f}/restore"],
    ["run", "{study}", "--out", "{f}/run"],
    ["demo", "--out", "{f}/demo"],
])
def test_output_under_a_file_is_2_in_one_line(args, tmp_path: Path, study: Path,
                                              capsys) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    code, out, err = run(capsys, *(a.format(f=blocker, study=study) for a in args))
    assert (code, out) == (2, "")
    assert f"{blocker} is a file, not a folder" in one_line_error(err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "tiny.toml"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")
@pytest.mark.parametrize("args", [
    ["flow", "ieee14", "--out", "/proc/gridres-test/flows.csv"],
    ["restore", "ieee14", "--fail", "bus:4", "--out", "/proc/gridres-test"],
    ["export", "ieee14", "/proc/gridres-test.gpkg"],
])
def test_output_where_nothing_can_be_made_is_2_in_one_line(args, capsys) -> None:
    code, out, err = run(capsys, *args)
    assert (code, out) == (2, "")
    assert "cannot create files in /proc" in one_line_error(err)


def test_output_into_missing_folders_is_made_and_complete(tmp_path: Path, capsys) -> None:
    target = tmp_path / "new" / "deeper" / "flows.csv"
    code, out, err = run(capsys, "flow", "ieee14", "--out", target, "--json")
    assert code == 0, err
    doc = strict_json(out)
    table = pd.read_csv(target, dtype={"id": str, "from_bus": str, "to_bus": str})
    assert table["id"].tolist() == [b["id"] for b in doc["branches"]]
    assert table["flow_mw"].tolist() == pytest.approx([b["flow_mw"] for b in doc["branches"]])
    assert [p.name for p in target.parent.iterdir()] == ["flows.csv"]  # no temporary left


def test_interrupted_write_leaves_no_result_file(tmp_path: Path, capsys,
                                                 monkeypatch) -> None:
    def half_then_ctrl_c(self, path, *args, **kwargs):
        Path(path).write_text("id,flow_mw\n1,")
        raise KeyboardInterrupt

    monkeypatch.setattr(pd.DataFrame, "to_csv", half_then_ctrl_c)
    target = tmp_path / "flows.csv"
    code, out, err = run(capsys, "flow", "ieee14", "--out", target)
    assert (code, out) == (130, "")
    assert one_line_error(err) == "error: interrupted"
    assert list(tmp_path.iterdir()) == []


def test_run_of_an_invalid_study_prints_only_its_error(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(TINY_STUDY.format(grid="ieee14").replace("seed = 3", "seed = -3")
                   .replace("crews = 2", "crews = 0"))
    code, out, err = run(capsys, "run", bad, "--out", tmp_path / "o")
    assert (code, out) == (65, "")
    line = one_line_error(err)  # no blank line left by progress bars that never started
    assert line.startswith(f"error: {bad}:3: study.seed: must be >= 0")
    assert line.endswith(f"(and 1 more; run `gridres check {bad}` to list them)")
    code, out, err = run(capsys, "check", bad)
    assert code == 65
    assert [ln.split(": ")[1] for ln in err.splitlines()[:2]] == [f"{bad}:3", f"{bad}:11"]
    assert err.splitlines()[-1] == f"{bad}: 2 problems"


def test_check_with_one_problem_is_one_line(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(TINY_STUDY.format(grid="ieee14").replace("crews = 2", "crews = 0"))
    code, out, err = run(capsys, "check", bad)
    assert (code, out) == (65, "")
    assert one_line_error(err).startswith(f"error: {bad}:11: restoration.crews:")


# -- malformed input files -------------------------------------------------------------


@pytest.mark.parametrize("content", [b"hello world\n", b"", b"\xff\xfe\x00binary",
                                     b"bus,load_mw\n1,10\n"])
@pytest.mark.parametrize("command", ["info", "validate", "flow"])
def test_a_file_that_is_no_matpower_case_is_65_and_says_why(content: bytes, command: str,
                                                            tmp_path: Path, capsys) -> None:
    path = tmp_path / "case.m"
    path.write_bytes(content)
    code, out, err = run(capsys, command, path)
    assert (code, out) == (65, "")
    line = one_line_error(err)
    assert line.startswith(f"error: {path}: not a readable MATPOWER case: no 'function "
                           "mpc = NAME' line")
    assert "Error:" not in line and "groupdict" not in line  # no parser internals


@pytest.mark.parametrize("command", ["info", "validate", "flow"])
def test_a_folder_or_a_study_given_as_grid_says_what_it_is(command: str, tmp_path: Path,
                                                           study: Path, capsys) -> None:
    code, out, err = run(capsys, command, tmp_path)
    assert (code, out) == (66, "")
    assert f"{tmp_path}: is a folder, not a grid" in one_line_error(err)
    code, out, err = run(capsys, command, study)
    assert (code, out) == (65, "")  # a file that exists but is not a grid
    assert f"is a study file, not a grid; check it with `gridres check {study}`" in \
        one_line_error(err)


def test_validate_json_reports_an_unreadable_grid_as_a_problem(tmp_path: Path,
                                                               capsys) -> None:
    path = tmp_path / "grid.gpkg"
    path.write_text("not a GeoPackage")
    code, out, err = run(capsys, "validate", path, "--json")
    assert code == 65 and err == ""
    doc = strict_json(out)
    assert (doc["valid"], doc["errors"]) == (False, 1)
    assert doc["problems"][0]["message"].startswith(f"{path}: not a GeoPackage")
    code, out, err = run(capsys, "validate", path)
    assert (code, out) == (65, "")
    one_line_error(err)


# -- ids a user can find and use -------------------------------------------------------


@pytest.mark.parametrize("kind, count", [("buses", 14), ("branches", 20),
                                         ("generators", 5), ("facilities", 6)])
def test_info_list_gives_the_ids_that_fail_takes(kind: str, count: int, capsys) -> None:
    from gridres.io import load_grid

    code, out, err = run(capsys, "info", "ieee14", "--list", kind, "--json")
    assert code == 0, err
    doc = strict_json(out)
    ids = [r["id"] for r in doc[kind]]
    assert doc["count"] == count and ids == list(getattr(load_grid("ieee14"), kind).index)
    assert non_string_ids(doc) == []
    if kind != "facilities":
        token = {"buses": "bus", "branches": "branch", "generators": "gen"}[kind]
        code, _, err = run(capsys, "outage", "ieee14", "--fail", f"{token}:{ids[-1]}")
        assert code == 0, err


def test_outage_of_a_substation_equals_its_contingency_row(capsys) -> None:
    code, out, err = run(capsys, "contingency", "demo_region", "--elements", "substation",
                         "--json")
    assert code == 0, err
    rows = strict_json(out)["results"][:3]
    for row in rows:
        code, out, err = run(capsys, "outage", "demo_region", "--fail", row["element"],
                             "--json")
        assert code == 0, err
        doc = strict_json(out)
        assert doc["shed_mw"] == pytest.approx(row["shed_mw"], abs=1e-6)
        assert doc["customers_out"] == pytest.approx(row["customers_out"], abs=1e-3)
        assert doc["islands"] == row["islands"]
        assert sorted(doc["dark_facilities"]) == sorted(row["dark_facilities"])
    assert rows[0]["shed_mw"] > 0  # the check compares real outages


def test_restore_takes_a_substation_as_its_buses(capsys) -> None:
    from gridres.elements import substation_buses
    from gridres.io import load_grid

    grid = load_grid("demo_region")
    name, buses = next((n, b) for n, b in substation_buses(grid).items() if len(b) > 1)
    code, out, err = run(capsys, "restore", "demo_region", "--fail", f"substation:{name}",
                         "--policy", "as-listed", "--json")
    assert code == 0, err
    doc = strict_json(out)
    assert sorted(doc["scenario"][0]["buses"]) == sorted(grid.buses.index[buses])


# -- tables in an 80-column terminal ---------------------------------------------------


@pytest.fixture()
def narrow(monkeypatch):
    """An 80-column terminal."""
    from gridres.cli.common import console, stdout

    monkeypatch.setattr(console, "width", 80)
    monkeypatch.setattr(stdout, "width", 80)


def test_info_list_never_cuts_an_id_in_80_columns(narrow, capsys) -> None:
    from gridres.io import load_grid

    code, out, err = run(capsys, "info", "demo_region", "--list", "branches")
    assert code == 0, err
    assert max(map(len, out.splitlines())) <= 80
    shown = {ln.split("│")[1].strip() for ln in out.splitlines() if ln.startswith("│")}
    assert shown == set(load_grid("demo_region").branches.index)
    assert "left out for width" in err  # and says what the table leaves out


def test_contingency_table_keeps_every_number_in_80_columns(narrow, capsys) -> None:
    code, out, _ = run(capsys, "contingency", "demo_region", "--elements", "branch", "--json")
    rows = strict_json(out)["results"][:20]
    code, table, err = run(capsys, "contingency", "demo_region", "--elements", "branch")
    assert code == 0, err
    assert max(map(len, table.splitlines())) <= 80
    cells = [[c.strip() for c in ln.split("│")[1:-1]] for ln in table.splitlines()
             if ln.startswith("│") and ln.split("│")[1].strip()]
    assert [c[1] for c in cells] == [r["element"].removeprefix("branch:") for r in rows]
    assert [float(c[2]) for c in cells] == pytest.approx([r["shed_mw"] for r in rows],
                                                         abs=0.005)


def test_restore_table_keeps_every_number_in_80_columns(narrow, capsys) -> None:
    args = ["restore", "demo_region", "--fail", "substation:Alzbruck chemical park",
            "--fail", "substation:Kaltenfeld steel works", "--fail", "substation:Brunnwald",
            "--policy", "greedy", "--policy", "nearest", "--policy", "critical-first",
            "--policy", "largest-load-first"]
    code, out, _ = run(capsys, *args, "--json")
    ens = [f"{p['ens_mwh']:,.1f}" for p in strict_json(out)["policies"]]
    assert max(map(len, ens)) >= 7  # numbers wide enough to be cut in a cramped table
    code, table, err = run(capsys, *args)
    assert code == 0, err
    assert max(map(len, table.splitlines())) <= 80
    line = next(ln for ln in table.splitlines() if "ENS MWh" in ln)
    assert [c.strip() for c in line.split("│")[2:-1]] == ens
