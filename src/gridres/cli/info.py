"""`gridres info GRID`: counts, totals, islands and bounds; `--list KIND` lists the ids
that `--fail KIND:ID` and study files take."""

from __future__ import annotations

import math

import click
from rich.markup import escape
from rich.table import Table

from gridres.cli.common import console, emit_json, grid_argument, json_option, load

__all__ = ["command", "LIST_COLUMNS", "element_rows"]

#: Columns shown by --list, per element kind (those the grid has).
LIST_COLUMNS: dict[str, tuple[str, ...]] = {
    "buses": ("name", "substation", "base_kv", "load_mw", "customers", "priority",
              "in_service"),
    "branches": ("from_bus", "to_bus", "kind", "rating_mw", "length_km", "in_service"),
    "generators": ("bus", "kind", "p_mw", "pmax_mw", "blackstart", "in_service"),
    "facilities": ("bus", "name", "kind", "demand_mw", "backup_mw", "backup_hours",
                   "people"),
}


def _plain(v):
    """A JSON- and table-ready value: numpy scalars to Python, NaN to None."""
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def element_rows(grid, kind: str) -> list[dict]:
    """One dict per element of ``kind`` (``buses``, ``branches``, ``generators`` or
    ``facilities``): ``id`` (a string) and the columns of :data:`LIST_COLUMNS` that the
    grid has. Unlimited ratings are ``inf`` (``null`` in JSON)."""
    table = getattr(grid, kind)
    cols = [c for c in LIST_COLUMNS[kind] if c in table.columns]
    return [{"id": str(i), **{c: _plain(v) for c, v in zip(cols, row, strict=True)}}
            for i, row in zip(table.index, table[cols].itertuples(index=False), strict=True)]


def _cell(v) -> str:
    if v is None:
        return "-"
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
    """
    g = load(grid)
    if kind is not None:
        rows = element_rows(g, kind)
        if as_json:
            emit_json({"grid": g.name, "kind": kind, "count": len(rows), kind: rows})
            return
        if not rows:
            console.print(f"{escape(g.name)}: no {kind}")
            return
        cols = list(rows[0])
        table = Table(title=f"{g.name}: {len(rows)} {kind}")
        for c in cols:
            table.add_column(c, justify="left" if c in ("id", "name", "substation", "bus",
                                                         "from_bus", "to_bus", "kind")
                             else "right")
        for r in rows:
            table.add_row(*(_cell(r[c]) for c in cols))
        console.print(table)
        return
    summary = g.summary()
    if as_json:
        emit_json(summary)
        return
    table = Table(title=f"{summary['name']}", show_header=False)
    for k, v in summary.items():
        table.add_row(k, escape(str(v)))
    console.print(table)
