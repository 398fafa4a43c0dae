"""A corpus of hostile inputs (tests/hostile/, written by make_hostile.py, plus folders and
command lines made here): each must end with the documented exit code, exactly one line
on stderr, no traceback, and nothing changed outside the output folder (for a refused
command: nothing changed at all, the output folder included)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from gridres.cli import cli
from gridres.cli.common import run_cli

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

HOSTILE = Path(__file__).resolve().parent / "hostile"
READ_ONLY = "/proc/gridres-hostile"  # no one, root included, creates files under /proc
ENS = ["--n", "4", "--seed", "1", "--workers", "1"]
TINY = ('[study]\nname = "tiny"\nseed = 3\n[grid]\nsource = "ieee14"\n[scenario]\n'
        'spec = "random:k=1"\n[ensemble]\nn = 4\nscheduler = "serial"\n'
        '[outputs]\nhtml = false\ngpkg = false\ntables = ["csv"]\n')

#: (id, arguments, exit code). ``{h}`` is tests/hostile, ``{t}`` the test's folder.
CASES: list[tuple[str, list[str], int]] = [
    # MATPOWER cases
    ("m-empty", ["info", "{h}/empty.m"], 65),
    ("m-no-function", ["info", "{h}/no_function.m"], 65),
    ("m-no-generators", ["info", "{h}/no_generators.m"], 65),
    ("m-no-generators-outage", ["outage", "{h}/no_generators.m", "--fail", "bus:1"], 65),
    ("m-no-buses", ["info", "{h}/no_buses.m"], 65),
    ("m-no-branches", ["info", "{h}/no_branches.m"], 65),
    ("m-load-1e999", ["info", "{h}/load_1e999.m"], 65),
    ("m-load-inf", ["info", "{h}/load_inf.m"], 65),
    ("m-load-minus-inf", ["info", "{h}/load_minus_inf.m"], 65),
    ("m-load-inf-outage", ["outage", "{h}/load_inf.m", "--fail", "bus:2"], 65),
    ("m-load-nan", ["info", "{h}/load_nan.m"], 65),
    ("m-p-inf", ["flow", "{h}/p_inf.m"], 65),
    ("m-x-zero", ["info", "{h}/x_zero.m"], 65),
    ("m-x-inf", ["contingency", "{h}/x_inf.m", "--elements", "branch"], 65),
    ("m-branch-to-nowhere", ["info", "{h}/branch_to_nowhere.m"], 65),
    ("m-self-loop", ["info", "{h}/self_loop.m"], 65),
    ("m-base-negative", ["info", "{h}/base_negative.m"], 65),
    ("m-base-text", ["info", "{h}/base_text.m"], 65),
    ("m-words", ["info", "{h}/words_in_matrix.m"], 65),
    ("m-unclosed", ["info", "{h}/unclosed_matrix.m"], 65),
    ("m-divide-by-zero", ["info", "{h}/divide_by_zero.m"], 65),
    ("m-binary", ["info", "{h}/binary.m"], 65),
    ("m-binary-export", ["export", "{h}/binary.m", "{t}/out/x.gpkg"], 65),
    # files that are not grids, grids that are not there
    ("not-a-grid", ["info", "{h}/not_a_grid.txt"], 65),
    ("not-a-grid-info", ["info", "{h}/not_a_grid.txt"], 65),
    ("gpkg-garbage", ["info", "{h}/garbage.gpkg"], 65),
    ("gpkg-zero-bytes", ["info", "{h}/zero_bytes.gpkg"], 65),
    ("gpkg-empty-layers", ["info", "{t}/empty.gpkg"], 65),
    ("gpkg-empty-layers-info", ["info", "{t}/empty.gpkg"], 65),
    ("gpkg-empty-layers-n-1", ["contingency", "{t}/empty.gpkg", "--elements", "branch"], 65),
    ("gpkg-sqlite", ["info", "{t}/sqlite.gpkg"], 65),
    ("grid-folder", ["info", "{h}"], 66),
    ("grid-missing", ["info", "{t}/nowhere.m"], 66),
    ("grid-empty-name", ["info", ""], 2),
    ("grid-unknown-name", ["info", "ieee15"], 66),
    # study files
    ("s-syntax", ["check", "{h}/syntax.toml"], 65),
    ("s-deep", ["check", "{h}/deep_arrays.toml"], 65),
    ("s-deep-run", ["run", "{h}/deep_arrays.toml", "--out", "{t}/out"], 65),
    ("s-unknown-section", ["check", "{h}/unknown_section.toml"], 65),
    ("s-seed-negative", ["check", "{h}/seed_negative.toml"], 65),
    ("s-seed-text", ["run", "{h}/seed_text.toml", "--out", "{t}/out"], 65),
    ("s-n-zero", ["check", "{h}/n_zero.toml"], 65),
    ("s-n-huge-run", ["run", "{h}/n_huge.toml", "--out", "{t}/out"], 2),
    ("s-n-huge-plan", ["plan", "{h}/n_huge.toml", "--out", "{t}/out"], 2),
    ("s-source-not-grid", ["check", "{h}/source_passwd.toml"], 65),
    ("s-source-missing", ["check", "{h}/source_missing.toml"], 66),
    ("s-source-folder", ["check", "{h}/source_folder.toml"], 66),
    ("s-binary", ["check", "{h}/binary.toml"], 65),
    ("s-scheduler-ftp", ["check", "{h}/scheduler_ftp.toml"], 65),
    ("s-bad-policy", ["check", "{h}/bad_policy.toml"], 65),
    ("s-bad-spec", ["run", "{h}/bad_spec.toml", "--out", "{t}/out"], 65),
    ("s-workers-zero", ["check", "{h}/workers_zero.toml"], 65),
    ("s-duplicate-key", ["check", "{h}/duplicate_key.toml"], 65),
    ("s-grid-garbage", ["check", "{h}/grid_not_grid.toml"], 65),
    ("s-missing", ["check", "{t}/nowhere.toml"], 66),
    ("s-grid-given", ["run", "{h}/ok.m"], 65),
    # scenario specs
    ("spec-empty", ["ensemble", "ieee14", "--scenario", "", *ENS], 2),
    ("spec-k-zero", ["ensemble", "ieee14", "--scenario", "random:k=0", *ENS], 2),
    ("spec-k-huge", ["ensemble", "ieee14", "--scenario", "random:k=1000", *ENS], 2),
    ("spec-k-text", ["ensemble", "ieee14", "--scenario", "random:k=abc", *ENS], 2),
    ("spec-elements", ["ensemble", "ieee14", "--scenario", "random:elements=all", *ENS], 2),
    ("spec-unknown-kind", ["ensemble", "ieee14", "--scenario", "meteor:k=1", *ENS], 2),
    ("spec-json-broken", ["ensemble", "ieee14", "--scenario", "{not json", *ENS], 2),
    ("spec-json-deep", ["ensemble", "ieee14", "--scenario",
                        '{"kind": ' + "[" * 5000 + "]" * 5000 + "}", *ENS], 2),
    ("spec-json-900", ["ensemble", "ieee14", "--scenario", "@{h}/outages_deep_spec.json",
                       *ENS], 2),
    ("spec-strikes-million", ["ensemble", "ieee14", "--scenario", "strikes:waves=1000000",
                              *ENS], 2),
    ("spec-strikes-twenty", ["ensemble", "ieee14", "--scenario", "strikes:waves=20", *ENS], 2),
    ("spec-polygons-not-gis", ["ensemble", "demo_region", "--scenario",
                               "polygons:path={h}/not_gis.geojson,attr=depth_m", *ENS], 65),
    ("spec-polygons-text", ["ensemble", "demo_region", "--scenario",
                            "polygons:path={h}/not_a_grid.txt,attr=depth_m", *ENS], 65),
    ("spec-polygons-missing", ["ensemble", "demo_region", "--scenario",
                               "polygons:path={t}/none.gpkg,attr=depth_m", *ENS], 66),
    ("spec-file-deep", ["ensemble", "ieee14", "--scenario", "file:{h}/outages_deep.json",
                        *ENS], 65),
    ("spec-file-garbage", ["ensemble", "ieee14", "--scenario",
                           "file:{h}/outages_garbage.json", *ENS], 65),
    ("spec-file-unknown-id", ["ensemble", "ieee14", "--scenario",
                              "file:{h}/outages_unknown.csv", *ENS], 2),
    ("spec-file-binary", ["ensemble", "ieee14", "--scenario",
                          "file:{h}/outages_binary.csv", *ENS], 65),
    ("spec-file-not-list", ["ensemble", "ieee14", "--scenario",
                            "file:{h}/outages_not_list.json", *ENS], 65),
    ("spec-file-no-columns", ["ensemble", "ieee14", "--scenario",
                              "file:{h}/outages_no_columns.csv", *ENS], 65),
    ("spec-file-missing", ["ensemble", "ieee14", "--scenario", "file:{t}/none.csv", *ENS], 66),
    ("spec-unknown-branch", ["ensemble", "ieee14", "--scenario", "branch:99999", *ENS], 2),
    ("spec-circle-no-centre", ["restore", "demo_region", "--scenario", "circle:radius_km=10",
                               "--seed", "1"], 2),
    # ensemble options
    ("ens-n-huge", ["ensemble", "ieee14", "--scenario", "random:k=1", "--n",
                    "1000000000000", "--seed", "1"], 2),
    ("ens-n-zero", ["ensemble", "ieee14", "--scenario", "random:k=1", "--n", "0",
                    "--seed", "1"], 2),
    ("ens-seed-negative", ["ensemble", "ieee14", "--scenario", "random:k=1", "--n", "2",
                           "--seed", "-1"], 2),
    ("ens-out-read-only", ["ensemble", "ieee14", "--scenario", "random:k=1", *ENS, "--out",
                           READ_ONLY], 2),
    ("ens-out-file", ["ensemble", "ieee14", "--scenario", "random:k=1", *ENS, "--out",
                      "{h}/ok.m"], 2),
    ("ens-resume-no-out", ["ensemble", "ieee14", "--scenario", "random:k=1", *ENS,
                           "--resume"], 2),
    ("ens-batch-zero", ["ensemble", "ieee14", "--scenario", "random:k=1", *ENS,
                        "--batch-size", "0"], 2),
    # restoration priority files
    ("prio-unknown", ["restore", "ieee14", "--fail", "branch:3", "--policy", "priority-list",
                      "--priority-file", "{h}/priority_unknown.txt"], 2),
    ("prio-words", ["restore", "ieee14", "--fail", "branch:3", "--policy", "priority-list",
                    "--priority-file", "{h}/priority_words.txt"], 2),
    ("prio-binary", ["restore", "ieee14", "--fail", "branch:3", "--policy", "priority-list",
                     "--priority-file", "{h}/priority_binary.txt"], 65),
    ("prio-empty", ["restore", "ieee14", "--fail", "branch:3", "--policy", "priority-list",
                    "--priority-file", "{h}/priority_empty.txt"], 2),
    ("prio-missing", ["restore", "ieee14", "--fail", "branch:3", "--policy", "priority-list",
                      "--priority-file", "{t}/none.txt"], 66),
    # command lines
    ("cli-fail-kind", ["outage", "ieee14", "--fail", "nothing:1"], 2),
    ("cli-fail-id", ["outage", "ieee14", "--fail", "bus:999"], 2),
    ("cli-out-suffix", ["outage", "ieee14", "--fail", "bus:1", "--out", "{t}/x.exe"], 2),
    ("cli-outage-read-only", ["outage", "ieee14", "--fail", "bus:1", "--out",
                              READ_ONLY + "/x.csv"], 2),
    ("cli-flow-read-only", ["flow", "ieee14", "--out", READ_ONLY + "/x.csv"], 2),
    ("cli-n-1-read-only", ["contingency", "ieee14", "--elements", "branch", "--out",
                           READ_ONLY + "/x.csv"], 2),
    ("cli-export-read-only", ["export", "ieee14", READ_ONLY + "/x.gpkg"], 2),
    ("cli-export-geojson-read-only", ["export", "ieee14", READ_ONLY + "/x.geojson"], 2),
    ("cli-export-unknown", ["export", "ieee14", "{t}/x.unknown"], 2),
    ("cli-export-derived-exists", ["export", "ieee14", "{t}/mine", "--format", "gpkg"], 2),
    ("cli-restore-read-only", ["restore", "ieee14", "--fail", "bus:4", "--out", READ_ONLY], 2),
    ("cli-restore-crews", ["restore", "ieee14", "--fail", "bus:4", "--crews", "0"], 2),
    ("cli-run-read-only", ["run", "{t}/tiny.toml", "--out", READ_ONLY], 2),
    ("cli-plan-read-only", ["plan", "{t}/tiny.toml", "--out", READ_ONLY], 2),
    ("cli-demo-read-only", ["demo", "--out", READ_ONLY], 2),
    ("cli-info-list", ["info", "ieee14", "--list", "nothing"], 2),
    ("cli-workers-zero", ["ensemble", "ieee14", "--scenario", "random:k=1", "--n", "2",
                          "--seed", "1", "--workers", "0"], 2),
    ("cli-k-three", ["contingency", "ieee14", "--elements", "branch", "--k", "3"], 2),
    ("cli-n-2-huge", ["contingency", "matpower:case2383wp", "--elements", "branch", "--k",
                      "2", "--top", "100000", "--partners", "100000"], 2),
    ("cli-unknown-option", ["flow", "ieee14", "--rm-rf"], 2),
    # resume folders: a finished run of `ensemble ieee14 ... --out {t}/ens`, then edited
    ("res-tampered-part", ["ensemble", *"ieee14 --scenario random:k=1".split(), *ENS,
                           "--out", "{t}/ens", "--resume"], 65),
    ("res-foreign-part", ["ensemble", *"ieee14 --scenario random:k=1".split(), *ENS,
                          "--out", "{t}/ens", "--resume"], 65),
    ("res-garbage-part", ["ensemble", *"ieee14 --scenario random:k=1".split(), *ENS,
                          "--out", "{t}/ens", "--resume"], 65),
    ("res-forged-list", ["ensemble", *"ieee14 --scenario random:k=1".split(), *ENS,
                         "--out", "{t}/ens", "--resume"], 65),
    ("res-garbage-manifest", ["ensemble", *"ieee14 --scenario random:k=1".split(), *ENS,
                              "--out", "{t}/ens", "--resume"], 65),
    ("res-garbage-list", ["ensemble", *"ieee14 --scenario random:k=1".split(), *ENS,
                          "--out", "{t}/ens", "--resume"], 65),
    ("res-garbage-record", ["ensemble", *"ieee14 --scenario random:k=1".split(), *ENS,
                            "--out", "{t}/ens", "--resume"], 65),
    ("res-other-run", ["ensemble", *"ieee14 --scenario random:k=2".split(), *ENS,
                       "--out", "{t}/ens", "--resume"], 2),
    ("res-no-resume", ["ensemble", *"ieee14 --scenario random:k=1".split(), *ENS,
                       "--out", "{t}/ens"], 2),
    ("res-users-file", ["ensemble", *"ieee14 --scenario random:k=1".split(), *ENS,
                        "--out", "{t}/ens", "--resume"], 2),
    ("res-users-file-in-parts", ["ensemble", *"ieee14 --scenario random:k=1".split(), *ENS,
                                 "--out", "{t}/ens", "--resume"], 2),
    ("res-old-folder", ["ensemble", *"ieee14 --scenario random:k=1".split(), *ENS,
                        "--out", "{t}/ens", "--resume"], 2),
    ("res-run-users-file", ["run", "{t}/tiny.toml", "--out", "{t}/ens"], 2),
    ("res-restore-users-file", ["restore", "ieee14", "--fail", "bus:4", "--out", "{t}/ens"],
     2),
]


@pytest.fixture(scope="module")
def finished_ensemble(tmp_path_factory) -> Path:
    """A finished `gridres ensemble ieee14 --scenario random:k=1 --n 4 ... --out ens`."""
    out = tmp_path_factory.mktemp("ensemble") / "ens"
    code = run_cli(cli, ["ensemble", "ieee14", "--scenario", "random:k=1", *ENS,
                         "--batch-size", "2", "--out", str(out), "--json"])
    assert code == 0
    return out


def _part(ens: Path) -> Path:
    return sorted((ens / "parts").glob("part-*.parquet"))[0]


def _setup(case_id: str, tmp: Path, ensemble: Path) -> None:
    """Make the files a case needs in its folder ``tmp``."""
    (tmp / "tiny.toml").write_text(TINY)
    if case_id.startswith("gpkg-empty"):
        from gridres.io import load_grid
        from gridres.io.geopackage import write_geopackage

        g = load_grid("ieee14")
        write_geopackage(g.replace(buses=g.buses.iloc[:0], branches=g.branches.iloc[:0],
                                   generators=g.generators.iloc[:0],
                                   facilities=g.facilities.iloc[:0]), tmp / "empty.gpkg")
    if case_id == "gpkg-sqlite":
        import sqlite3

        with sqlite3.connect(tmp / "sqlite.gpkg") as db:
            db.execute("create table notes (text)")
            db.execute("insert into notes values ('not a grid')")
    if case_id == "cli-export-derived-exists":
        (tmp / "mine.gpkg").write_text("the user's own file")
    if not case_id.startswith("res-"):
        return
    ens = tmp / "ens"
    shutil.copytree(ensemble, ens)
    part = _part(ens)
    journal = ens / "parts.jsonl"
    if case_id == "res-tampered-part":
        data = bytearray(part.read_bytes())
        data[len(data) // 2] ^= 0xFF
        part.write_bytes(bytes(data))
    elif case_id == "res-foreign-part":
        shutil.copy(part, ens / "parts" / "part-00000100-00000101.parquet")
    elif case_id == "res-garbage-part":
        part.write_bytes(b"PAR1 garbage PAR1")
    elif case_id == "res-forged-list":
        # a part with other columns, and a list line forged to match its hash
        import hashlib

        import pandas as pd

        pd.DataFrame({"scenario": [0, 1], "evil": [1.0, 2.0]}).to_parquet(part, index=False)
        lines = journal.read_text().splitlines()
        first = json.loads(lines[0])
        first["part_sha256"] = hashlib.sha256(part.read_bytes()).hexdigest()
        lines[0] = json.dumps(first)
        journal.write_text("\n".join(lines) + "\n")
    elif case_id == "res-garbage-manifest":
        (ens / "manifest.json").write_text("[" * 4000)
    elif case_id == "res-garbage-list":
        journal.write_text("hello\n" + journal.read_text())
    elif case_id == "res-garbage-record":
        (ens / ".gridres.json").write_text('{"format": 1, "files": ["../../etc/passwd"]}')
    elif case_id in ("res-users-file", "res-run-users-file", "res-restore-users-file"):
        (ens / "precious_notes.txt").write_text("mine")
    elif case_id == "res-users-file-in-parts":
        (ens / "parts" / "notes.txt").write_text("mine")
    elif case_id == "res-old-folder":  # made by a gridres without a record of its files
        (ens / ".gridres.json").unlink()


def _snapshot(*roots: Path) -> dict[str, tuple[int, int]]:
    out = {}
    for root in roots:
        for folder, _, files in os.walk(root):
            for name in files:
                p = Path(folder) / name
                st = p.lstat()
                out[str(p)] = (st.st_size, st.st_mtime_ns)
    return out


@pytest.mark.parametrize("case_id, args, code", CASES, ids=[c[0] for c in CASES])
def test_hostile_input(case_id, args, code, tmp_path, finished_ensemble, capsys,
                       monkeypatch):
    work = tmp_path / "case"
    work.mkdir()
    _setup(case_id, work, finished_ensemble)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)

    def fill(a: str) -> str:
        a = a.replace("{h}", str(HOSTILE)).replace("{t}", str(work))
        return (HOSTILE / "outages_deep_spec.json").read_text() if a.startswith("@") else a

    argv = [fill(a) for a in args]
    before = _snapshot(work, HOSTILE, cwd)
    capsys.readouterr()
    got = run_cli(cli, argv)
    out, err = capsys.readouterr()
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert got == code, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err + out
    if any(a.startswith(READ_ONLY) for a in argv):
        assert "cannot create files in /proc" in err  # every command says it alike
    assert _snapshot(work, HOSTILE, cwd) == before  # refused: nothing written or removed
    assert not list(cwd.iterdir())


def test_the_corpus_is_large_and_its_files_are_used():
    assert len(CASES) >= 80
    named = " ".join(" ".join(args) for _, args, _ in CASES)
    unused = [p.name for p in HOSTILE.iterdir()
              if p.name not in named and p.suffix != ".py" and p.name != "ok.m"]
    assert unused == []


#: Cases of the corpus whose one line must say what is wrong in the input's own words.
MESSAGES = {
    "m-no-generators": "mpc.gen has no rows: the case has no generators",
    "m-load-1e999": "load_mw is inf (not a finite number)",
    "gpkg-empty-layers": "the grid has no buses",
    "not-a-grid": "not a grid (unknown format '.txt')",
    "spec-polygons-text": "not a GIS file gridres can read",
    "spec-strikes-million": "The 'waves' parameter of strikes must be an int from 1 to 1,000",
    "spec-strikes-twenty": "must be at most 14 (14 substation targets",
    "s-deep": "nested more than 32 levels deep",
    "spec-json-deep": "nests lists or objects more than 32 levels deep",
    "ens-n-huge": "1,000,000,000,000 scenarios (about 181.9 TB on disk",
    "cli-n-2-huge": "4,191,960 outage pairs",
    "res-tampered-part": "does not match its SHA-256 in parts.jsonl",
    "res-foreign-part": "part-00000100-00000101.parquet: a part that",
    "res-forged-list": "its columns, rows or scenarios differ",
    "res-users-file": "precious_notes.txt: not written by gridres",
    "res-run-users-file": "precious_notes.txt: not written by gridres",
}


@pytest.mark.parametrize("case_id", sorted(MESSAGES))
def test_the_line_says_what_is_wrong(case_id, tmp_path, finished_ensemble, capsys,
                                     monkeypatch):
    _, args, code = next(c for c in CASES if c[0] == case_id)
    work = tmp_path / "case"
    work.mkdir()
    _setup(case_id, work, finished_ensemble)
    monkeypatch.chdir(tmp_path)
    argv = [a.replace("{h}", str(HOSTILE)).replace("{t}", str(work)) for a in args]
    capsys.readouterr()
    assert run_cli(cli, argv) == code
    assert MESSAGES[case_id] in " ".join(capsys.readouterr().err.split())
