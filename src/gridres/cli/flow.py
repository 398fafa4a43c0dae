"""`gridres flow GRID`: DC flows of the intact grid."""

from __future__ import annotations

import click
import numpy as np
from rich.table import Table

from gridres.cli.common import (
    console,
    emit_json_table,
    grid_argument,
    json_option,
    load,
    output_file,
    stdout,
)
from gridres.report.tables import branch_table, write_tables

__all__ = ["command"]

#: Suffixes of --out.
OUT_SUFFIXES = (".csv", ".parquet", ".gpkg")


@click.command("flow")
@grid_argument
@json_option
@click.option("--out", type=click.Path(dir_okay=False),
              help="Write every branch's flow: .csv or .parquet (a table), .gpkg (a map "
                   "layer with the branch lines).")
def command(grid: str, as_json: bool, out: str | None) -> None:
    """DC power flow of the intact GRID: flow of every branch in MW (positive from
    from_bus to to_bus) and its loading, |flow| / rating_mw (branches without a rating
    show '-').

    Prints the 15 largest flows and the number of branches over their rating.
    """
    from gridres.impact import assess

    if out:
        output_file(out, OUT_SUFFIXES)
    g = load(grid)
    imp = assess(g.network)
    table = branch_table(g, imp)
    if out:
        write_tables(g, {"branches": table}, out)
        console.print(f"wrote {out}")
    if as_json:
        rows = table[["from_bus", "to_bus", "flow_mw", "rating_mw", "loading"]]
        emit_json_table({"grid": g.name, "served_mw": imp.served_total_mw}, "branches",
                        rows.rename_axis("id").reset_index())
        return
    top = table.reindex(table["flow_mw"].abs().sort_values(ascending=False).index).head(15)
    t = Table(title=f"{g.name}: DC flows, 15 largest of {len(table)}")
    for col in ("id", "from_bus", "to_bus", "flow_mw", "rating_mw", "loading"):
        t.add_column(col, justify="right")
    for i, r in zip(top.index, top.itertuples(), strict=True):
        t.add_row(i, r.from_bus, r.to_bus, f"{r.flow_mw:.2f}",
                  "-" if np.isnan(r.rating_mw) else f"{r.rating_mw:.1f}",
                  "-" if np.isnan(r.loading) else f"{r.loading:.2f}")
    stdout.print(t)
    n_over = int(table["overloaded"].sum())
    stdout.print(f"{n_over} branch(es) over rating")
