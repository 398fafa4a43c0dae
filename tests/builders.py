"""Small grids built by hand for tests: records in, :class:`~gridres.model.Grid` out."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from gridres.model import (
    BRANCH_COLUMNS,
    BUS_COLUMNS,
    FACILITY_COLUMNS,
    GENERATOR_COLUMNS,
    Grid,
    State,
)

__all__ = ["make_grid", "failed"]


def make_grid(
    buses: Iterable[Mapping[str, Any]],
    branches: Iterable[Mapping[str, Any]],
    generators: Iterable[Mapping[str, Any]] = (),
    facilities: Iterable[Mapping[str, Any]] = (),
    **attrs: Any,
) -> Grid:
    """A :class:`Grid` from lists of records (each with an ``id``); missing columns take
    the schema defaults.

    Examples
    --------
    >>> g = make_grid([{"id": "a", "ref": True}, {"id": "b", "load_mw": 5.0}],
    ...               [{"id": "l", "from_bus": "a", "to_bus": "b", "x_pu": 0.1}],
    ...               [{"id": "g", "bus": "a", "p_mw": 5.0, "pmax_mw": 10.0}])
    >>> g.network.n_bus
    2
    """

    def frame(rows: Iterable[Mapping[str, Any]], schema: Mapping[str, Any]) -> pd.DataFrame | None:
        rows = list(rows)
        if not rows:
            return None
        keys = {k for r in rows for k in r}
        # a key a record leaves out takes the schema default, not NaN
        defaults = {k: v for k, v in schema.items() if k in keys}
        return pd.DataFrame([{**defaults, **r} for r in rows])

    return Grid(
        buses=frame(buses, BUS_COLUMNS),
        branches=frame(branches, BRANCH_COLUMNS),
        generators=frame(generators, GENERATOR_COLUMNS),
        facilities=frame(facilities, FACILITY_COLUMNS),
        **attrs,
    )


def failed(
    grid: Grid,
    buses: Iterable[str] = (),
    branches: Iterable[str] = (),
    gens: Iterable[str] = (),
) -> State:
    """The intact state of ``grid`` with the elements of the given string ids failed."""
    return grid.network.intact().fail(list(buses), list(branches), list(gens))
