"""The cache of parsed grids: hits give the same tables as a fresh parse, damaged or
foreign entries are ignored, the folder stays within its bound, and concurrent
processes share it safely. Every test uses its own cache folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from gridres.io import cachedir
from gridres.io.cases import matpower_case_path
from gridres.io.matpower import read_matpower

TABLES = ("buses", "branches", "generators", "facilities")


@pytest.fixture
def folder(tmp_path, monkeypatch) -> Path:
    out = tmp_path / "cache"
    monkeypatch.setenv("GRIDRES_CACHE_DIR", str(out))
    monkeypatch.delenv("GRIDRES_CACHE", raising=False)
    monkeypatch.delenv("GRIDRES_CACHE_MAX_MB", raising=False)
    return out


@pytest.fixture
def case(tmp_path) -> Path:
    """A copy of case118 that the test may edit."""
    path = tmp_path / "case118.m"
    path.write_bytes(matpower_case_path("case118").read_bytes())
    return path


def _same(a, b) -> None:
    for table in TABLES:
        pd.testing.assert_frame_equal(getattr(a, table), getattr(b, table), check_exact=True)
    assert (a.base_mva, a.crs, a.name, a.source) == (b.base_mva, b.crs, b.name, b.source)


def _entries(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.grid") if not p.name.startswith("."))


def _parses(monkeypatch) -> list[int]:
    """Count the parses (cache misses) from now on."""
    from gridres.io import matpower

    calls: list[int] = []
    real = matpower.parse_matrices
    monkeypatch.setattr(matpower, "parse_matrices",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    return calls


def test_second_read_is_a_hit_with_identical_tables(folder, case, monkeypatch):
    calls = _parses(monkeypatch)
    first = read_matpower(case)
    assert len(_entries(folder)) == 1 and len(calls) == 1
    second = read_matpower(case)
    assert len(calls) == 1  # no second parse
    _same(first, second)
    _same(read_matpower(case, cache=False), second)


def test_name_and_source_follow_the_request_not_the_entry(folder, case):
    read_matpower(case)
    again = read_matpower(case, name="other", source="matpower:other")
    assert (again.name, again.source) == ("other", "matpower:other")


def test_an_edited_file_is_parsed_again(folder, case):
    read_matpower(case)
    case.write_text(case.read_text().replace("mpc.baseMVA = 100;", "mpc.baseMVA = 50;"))
    assert read_matpower(case).base_mva == 50.0
    assert len(_entries(folder)) == 2


def test_turned_off_writes_nothing(folder, case, monkeypatch):
    monkeypatch.setenv("GRIDRES_CACHE", "0")
    assert cachedir.cache_dir() is None
    read_matpower(case)
    assert not folder.exists()


def test_default_folder_is_the_users_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("GRIDRES_CACHE_DIR", raising=False)
    monkeypatch.delenv("GRIDRES_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if sys.platform.startswith("linux"):
        assert cachedir.cache_dir() == tmp_path / "xdg" / "gridres"


def _damage(entry: Path, how: str) -> None:
    data = bytearray(entry.read_bytes())
    if how == "truncated":
        entry.write_bytes(bytes(data[: len(data) // 2]))
    elif how == "flipped":
        data[-100] ^= 0xFF
        entry.write_bytes(bytes(data))
    elif how == "garbage":
        entry.write_bytes(os.urandom(4096))
    elif how == "pickle":
        import pickle

        entry.write_bytes(pickle.dumps({"buses": "not a table"}))
    elif how == "other version":
        entry.write_bytes(bytes(data).replace(b'"gridres": "', b'"gridres": "0.0.0-', 1))
    elif how == "empty":
        entry.write_bytes(b"")


@pytest.mark.parametrize("how", ["truncated", "flipped", "garbage", "pickle",
                                 "other version", "empty"])
def test_damaged_or_foreign_entries_are_ignored_and_rewritten(folder, case, monkeypatch, how):
    fresh = read_matpower(case, cache=False)
    read_matpower(case)
    (entry,) = _entries(folder)
    _damage(entry, how)
    calls = _parses(monkeypatch)
    _same(read_matpower(case), fresh)
    assert len(calls) == 1  # parsed again ...
    _same(read_matpower(case), fresh)
    assert len(calls) == 1  # ... and the rewritten entry is used


def test_the_folder_stays_within_its_bound(folder, tmp_path, monkeypatch):
    """Least recently used entries go first; the one just used stays."""
    paths = []
    for k in range(4):
        p = tmp_path / f"case14_{k}.m"
        p.write_text(matpower_case_path("case14").read_text() + f"\n% copy {k}\n")
        paths.append(p)
    read_matpower(paths[0])
    size = _entries(folder)[0].stat().st_size
    monkeypatch.setenv("GRIDRES_CACHE_MAX_MB", str(2.5 * size / 1e6))
    read_matpower(paths[1])
    os.utime(_entries(folder)[0], (1, 1))  # make an old entry ...
    read_matpower(paths[0])  # ... and use it: it becomes the most recent
    read_matpower(paths[2])
    entries = _entries(folder)
    assert len(entries) == 2
    digests = {cachedir.file_digest(p.read_bytes()) for p in (paths[0], paths[2])}
    assert {e.name.split("-")[0] for e in entries} == digests


def test_a_grid_that_cannot_be_stored_is_still_returned(folder, case, monkeypatch):
    monkeypatch.setenv("GRIDRES_CACHE_DIR", str(case))  # a file, not a folder
    grid = read_matpower(case)
    assert len(grid.buses) == 118


@pytest.mark.slow
def test_concurrent_processes_share_the_cache(folder, tmp_path):
    """Four processes load the same uncached case at once: all get the same grid, one
    sound entry is left, no temporary file."""
    path = tmp_path / "case2383wp.m"
    path.write_bytes(matpower_case_path("case2383wp").read_bytes())
    code = ("import sys; from gridres.io.matpower import read_matpower; "
            "g = read_matpower(sys.argv[1]); "
            "print(len(g.buses), g.branches['x_pu'].sum().round(9), g.buses['name'].iloc[-1])")
    env = {**os.environ, "GRIDRES_CACHE_DIR": str(folder)}
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path)], env=env,
                              stdout=subprocess.PIPE, text=True) for _ in range(4)]
    outputs = {p.communicate(timeout=120)[0] for p in procs}
    assert all(p.returncode == 0 for p in procs)
    assert len(outputs) == 1
    assert len(_entries(folder)) == 1
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]
    _same(read_matpower(path), read_matpower(path, cache=False))


# -- answers kept beside the grids: gridres info ----------------------------------------------
def _info(folder: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """`gridres info ARGS` as a process that also says whether it imported pandas."""
    code = ("import sys\nfrom gridres.cli import main\ntry:\n    main(sys.argv[1:])\n"
            "except SystemExit as e:\n    code = e.code\nelse:\n    code = 0\n"
            "print('PANDAS', 'pandas' in sys.modules, file=sys.stderr)\nsys.exit(code)\n")
    return subprocess.run([sys.executable, "-c", code, "info", *args], capture_output=True,
                          text=True, env={**os.environ, "GRIDRES_CACHE_DIR": str(folder),
                                          "COLUMNS": "100", **(env or {})}, check=True)


def test_info_asked_again_prints_the_same_without_loading_the_grid(folder, case):
    for spec in (str(case), "matpower:case9"):
        first, again = _info(folder, spec), _info(folder, spec)
        assert "PANDAS True" in first.stderr and "PANDAS False" in again.stderr
        assert again.stdout == first.stdout and "total_load_mw" in again.stdout
        kept = _info(folder, spec, "--json")  # the same answer, as JSON
        fresh = _info(folder, spec, "--json", env={"GRIDRES_CACHE": "0"})
        assert "PANDAS False" in kept.stderr and "PANDAS True" in fresh.stderr
        assert kept.stdout == fresh.stdout and json.loads(kept.stdout)["source"] == spec
    # another file, or the same file changed, is another answer
    text = case.read_text()
    case.write_text(text.replace("mpc.baseMVA = 100;", "mpc.baseMVA = 100;\n% edited"))
    changed = _info(folder, str(case), "--json")
    assert "PANDAS True" in changed.stderr
    assert changed.stdout == _info(folder, str(case), "--json").stdout


def test_info_keeps_no_answer_without_a_cache_or_with_warnings(folder, case):
    off = _info(folder, str(case), env={"GRIDRES_CACHE": "0"})
    assert "PANDAS True" in _info(folder, str(case), env={"GRIDRES_CACHE": "0"}).stderr
    assert not list(folder.glob("*.answers.json"))  # nothing kept (the folder may not exist)
    assert off.stdout == _info(folder, str(case)).stdout
    # no reference bus: a warning on every load, so the answer is worked out every time
    lines = case.read_text().splitlines()
    at = next(i for i, ln in enumerate(lines) if ln.split()[:2] == ["69", "3"])
    lines[at] = lines[at].replace("\t3\t", "\t2\t", 1)
    case.write_text("\n".join(lines) + "\n")
    for _ in range(2):
        run = _info(folder, str(case))
        assert "no in-service reference bus" in run.stderr and "PANDAS True" in run.stderr
