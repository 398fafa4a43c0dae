"""`gridres flow GRID`: DC flows of the intact grid."""

from __future__ import annotations

import click
import numpy as np
from rich.table import Table

from gridres.cli.common import console, emit_json, grid_argument, json_option, load
from gridres.report.tables import branch_table, write_tables


@click.command("flow")
@grid_argument
@json_option
@click.option("--out", type=click.Path(dir_okay=False), help="Write flows (.csv, .parquet, .gpkg).")
def command(grid: str, as_json: bool, out: str | None) -> None:
    """DC power flow of the intact GRID."""
    from gridres.impact import assess

    g = load(grid)
    imp = assess(g.network)
    table = branch_table(g, imp)
    if out:
        write_tables(g, {"branches": table}, out)
        console.print(f"wrote {out}")
    if as_json:
        emit_json({
            "grid": g.name,
            "served_mw": imp.served_total_mw,
            "branches": [
                {"id": i, "from_bus": r.from_bus, "to_bus": r.to_bus,
                 "flow_mw": float(r.flow_mw), "rating_mw": r.rating_mw, "loading": r.loading}
                for i, r in zip(table.index, table.itertuples(), strict=True)
            ],
        })
        return
    top = table.reindex(table["flow_mw"].abs().sort_values(ascending=False).index).head(15)
    t = Table(title=f"{g.name}: DC flows, 15 largest of {len(table)}")
    for col in ("id", "from_bus", "to_bus", "flow_mw", "rating_mw", "loading"):
        t.add_column(col, justify="right")
    for i, r in zip(top.index, top.itertuples(), strict=True):
        t.add_row(i, r.from_bus, r.to_bus, f"{r.flow_mw:.2f}",
                  "-" if np.isnan(r.rating_mw) else f"{r.rating_mw:.1f}",
                  "-" if np.isnan(r.loading) else f"{r.loading:.2f}")
    console.print(t)
    n_over = int(table["overloaded"].sum())
    console.print(f"{n_over} branch(es) over rating")
