"""`gridres info GRID`: counts, totals, islands and bounds."""

from __future__ import annotations

import click
from rich.table import Table

from gridres.cli.common import console, emit_json, grid_argument, json_option, load


@click.command("info")
@grid_argument
@json_option
def command(grid: str, as_json: bool) -> None:
    """Summarise GRID: counts, total load and capacity, islands, bounds."""
    summary = load(grid).summary()
    if as_json:
        emit_json(summary)
        return
    table = Table(title=f"{summary['name']}", show_header=False)
    for k, v in summary.items():
        table.add_row(k, str(v))
    console.print(table)
