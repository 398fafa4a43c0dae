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

__all__ = ["make_grid", "failed", "service_grid"]


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


def service_grid(facilities: list[dict], towns: dict[str, float] | None = None) -> Grid:
    """One bus per town (``s`` carries the generator), the given facilities on ``s``
    unless they name a bus; towns default to A (1,000 people) and B (3,000)."""
    towns = {"A": 1000.0, "B": 3000.0} if towns is None else towns
    ids = list(towns)
    buses = pd.DataFrame({"id": ["s", *[f"bus-{t}" for t in ids]],
                          "ref": [True] + [False] * len(ids),
                          "load_mw": [0.0] + [10.0] * len(ids),
                          "customers": [0] + [100] * len(ids),
                          "town": ["", *ids], "population": [0.0, *towns.values()]})
    branches = pd.DataFrame({"id": [f"l-{t}" for t in ids], "from_bus": ["s"] * len(ids),
                             "to_bus": [f"bus-{t}" for t in ids], "x_pu": [0.1] * len(ids)})
    facs = pd.DataFrame([{"bus": "s", "demand_mw": 0.1, **f} for f in facilities])
    return Grid(buses=buses, branches=branches,
                generators=pd.DataFrame({"id": ["g"], "bus": ["s"], "pmax_mw": [100.0]}),
                facilities=facs, name="svc", source="svc.gpkg")
