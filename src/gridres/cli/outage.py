"""`gridres outage GRID --fail KIND:ID ...`: who loses power, and how the rest flows."""

from __future__ import annotations

import click
from rich.table import Table

from gridres.cli.common import console, emit_json, grid_argument, json_option, load
from gridres.errors import UsageError

_KINDS = {"bus": "buses", "branch": "branches", "gen": "generators", "generator": "generators"}


def parse_failures(grid, specs: tuple[str, ...]):
    """Turn ``bus:ID`` / ``branch:ID`` / ``gen:ID`` strings into a failed State."""
    buses, branches, gens = [], [], []
    for spec in specs:
        kind, sep, ident = spec.partition(":")
        if not sep or kind not in _KINDS or not ident:
            raise UsageError(
                f"--fail {spec!r}: write KIND:ID with KIND one of bus, branch, gen "
                "(e.g. --fail branch:12)"
            )
        pos = grid.lookup(_KINDS[kind], [ident])
        {"buses": buses, "branches": branches, "generators": gens}[_KINDS[kind]].extend(pos)
    return grid.network.intact().fail(buses, branches, gens)


@click.command("outage")
@grid_argument
@click.option("--fail", "fails", multiple=True, metavar="KIND:ID",
              help="An element to fail: bus:ID, branch:ID or gen:ID (repeatable).")
@click.option("--cascade", is_flag=True, help="Trip overloaded branches until stable.")
@click.option("--cascade-mode", type=click.Choice(["trip", "redispatch"]), default=None,
              help="trip: no operator action; redispatch: redispatch and shed at least cost "
                   "(an LP) before tripping what stays overloaded. Implies --cascade.")
@click.option("--margin", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Overload margin: trip above rating x (1 + margin).")
@json_option
@click.option("--out", type=click.Path(dir_okay=False),
              help="Write per-bus and per-branch results (.gpkg, or .csv/.parquet for buses).")
def command(grid: str, fails: tuple[str, ...], cascade: bool, cascade_mode: str | None,
            margin: float, as_json: bool, out: str | None) -> None:
    """Fail elements of GRID and report who loses power."""
    from gridres.impact import assess

    g = load(grid)
    state = parse_failures(g, fails)
    cascade_doc = None
    if cascade or cascade_mode:
        from gridres.cascade import cascade as run_cascade

        result = run_cascade(g.network, state, mode=cascade_mode or "trip", margin=margin)
        imp, cascade_doc = result.final, result.summary()
    else:
        imp = assess(g.network, state, margin=margin)
    doc = {"grid": g.name, "failed": list(fails), **imp.summary()}
    if cascade_doc is not None:
        doc["cascade_stages"] = [s["tripped"] for s in cascade_doc["stages"]]
        doc["cascade"] = cascade_doc
    if out:
        from gridres.report.tables import write_impact

        write_impact(g, imp, out)
        console.print(f"wrote {out}")
    if as_json:
        emit_json(doc)
        return
    t = Table(title=f"{g.name}: outage of {', '.join(fails) or 'nothing'}", show_header=False)
    for key in ("total_load_mw", "served_mw", "shed_mw", "customers_out", "people_out",
                "islands", "max_loading"):
        t.add_row(key, str(doc[key]))
    t.add_row("dark buses", str(len(doc["dark_buses"])))
    t.add_row("dark facilities", ", ".join(doc["dark_facilities"]) or "none")
    t.add_row("on backup", ", ".join(doc["facilities_on_backup"]) or "none")
    t.add_row("overloaded branches", ", ".join(b["id"] for b in doc["overloaded_branches"])
              or "none")
    if doc["cascade_stages"]:
        t.add_row("cascade stages", str(len(doc["cascade_stages"])))
    console.print(t)
