"""`gridres validate GRID`: every problem of a grid, with how to fix it."""

from __future__ import annotations

import click
from rich.markup import escape
from rich.table import Table

from gridres.cli.common import emit_json, grid_argument, json_option, stdout

__all__ = ["command"]

#: Exit code of a grid with at least one error (as for every GridError).
EXIT_INVALID = 65


@click.command("validate")
@grid_argument
@json_option
@click.pass_context
def command(ctx: click.Context, grid: str, as_json: bool) -> None:
    """List every problem of GRID (errors and warnings) and how to fix each, including
    branches that the intact DC flow loads above their rating (a warning).

    Exits 65 if there is any error, 0 if there are none (warnings alone pass); 66 if
    GRID does not exist. A file that cannot be read as a grid at all (not a GeoPackage,
    a missing layer, a duplicate id) is one error: with --json it is reported in the
    same document, under problems.
    """
    from gridres.cli.common import read_grid
    from gridres.errors import GridError
    from gridres.validate import check_grid

    try:
        g = read_grid(grid)  # no strict check here: an invalid grid is reported, not refused
    except GridError as exc:
        if not as_json:
            raise
        emit_json({
            "grid": grid, "valid": False, "errors": 1, "warnings": 0,
            "problems": [{"severity": "error", "file": grid, "layer": "", "id": "",
                          "field": "", "message": str(exc), "fix": ""}],
        })
        ctx.exit(EXIT_INVALID)
    problems = check_grid(g, strict=False, flows=True)
    n_err = sum(p.severity == "error" for p in problems)
    n_warn = len(problems) - n_err
    if as_json:
        emit_json({
            "grid": g.source or g.name,
            "valid": n_err == 0,
            "errors": n_err,
            "warnings": n_warn,
            "problems": [p.to_dict() for p in problems],
        })
    else:
        if problems:
            table = Table(title=f"{g.name}: {n_err} error(s), {n_warn} warning(s)")
            for col in ("severity", "file", "layer", "id", "field", "problem", "fix"):
                table.add_column(col, overflow="fold")
            for p in problems:
                style = "red" if p.severity == "error" else "yellow"
                table.add_row(f"[{style}]{p.severity}[/{style}]", escape(p.file),
                              p.layer, escape(p.id), p.field, escape(p.message),
                              escape(p.fix))
            stdout.print(table)
        verdict = "[red]invalid[/red]" if n_err else "[green]valid[/green]"
        stdout.print(f"{escape(g.source or g.name)}: {verdict} "
                      f"({n_err} error(s), {n_warn} warning(s))", soft_wrap=True)
    if n_err:
        ctx.exit(EXIT_INVALID)
