"""`gridres outage GRID --fail KIND:ID ...`: who loses power, and how the rest flows."""

from __future__ import annotations

import click
from rich.table import Table

from gridres.cli.common import (
    console,
    emit_json,
    grid_argument,
    json_option,
    load,
    output_file,
)
from gridres.errors import UsageError

__all__ = ["command", "failure_tokens", "parse_failures"]

_KINDS = {"bus": "buses", "branch": "branches", "gen": "generators", "generator": "generators"}
_TOKEN = {"buses": "bus", "branches": "branch", "generators": "gen"}
#: Suffixes of --out.
OUT_SUFFIXES = (".gpkg", ".csv", ".parquet")


def failure_tokens(grid, specs: tuple[str, ...], option: str = "--fail",
                   label: str | None = None) -> tuple[str, ...]:
    """Check ``KIND:ID`` strings against ``grid`` and normalise them to ``bus:ID``,
    ``branch:ID`` or ``gen:ID`` in the order given; ``substation:NAME`` (as listed by
    ``gridres contingency --elements substation``) becomes the tokens of its buses.
    ``label`` names the grid as the user gave it, for the hints in messages.

    Raises
    ------
    UsageError
        On a malformed string or an id the grid does not have, with close matches.
    """
    from gridres.model import UnknownIdError

    out: list[str] = []
    subs = None
    label = label or grid.source or grid.name
    for spec in specs:
        kind, sep, ident = str(spec).partition(":")
        kind, ident = kind.strip().lower(), ident.strip()
        if kind == "substation" and ident:
            from gridres.contingency import substations

            subs = substations(grid) if subs is None else subs
            if ident not in subs:
                import difflib

                close = difflib.get_close_matches(ident, list(subs), n=5, cutoff=0.5)
                hint = f"; did you mean {', '.join(close)}?" if close else ""
                raise UsageError(
                    f"{grid.source or grid.name}: no substation named {ident!r}{hint} (list "
                    f"them with `gridres contingency {label} --elements substation`)"
                )
            out.extend(f"bus:{grid.buses.index[i]}" for i in subs[ident])
            continue
        if not sep or kind not in _KINDS or not ident:
            raise UsageError(
                f"{option} {spec!r}: write KIND:ID with KIND one of bus, branch, gen, "
                f"substation (e.g. {option} branch:12)"
            )
        try:
            grid.lookup(_KINDS[kind], [ident])
        except UnknownIdError as exc:
            if "did you mean" in str(exc):
                raise
            raise UsageError(
                f"{exc}; list them with `gridres info {label} --list {_KINDS[kind]}`"
            ) from None
        out.append(f"{_TOKEN[_KINDS[kind]]}:{ident}")
    return tuple(out)


def parse_failures(grid, specs: tuple[str, ...], label: str | None = None):
    """Turn ``bus:ID`` / ``branch:ID`` / ``gen:ID`` / ``substation:NAME`` strings into a
    failed State (see :func:`failure_tokens`)."""
    buses, branches, gens = [], [], []
    lists = {"bus": buses, "branch": branches, "gen": gens}
    tables = {"bus": "buses", "branch": "branches", "gen": "generators"}
    for token in failure_tokens(grid, specs, label=label):
        kind, _, ident = token.partition(":")
        lists[kind].extend(grid.lookup(tables[kind], [ident]))
    return grid.network.intact().fail(buses, branches, gens)


@click.command("outage")
@grid_argument
@click.option("--fail", "fails", multiple=True, metavar="KIND:ID",
              help="An element to fail: bus:ID, branch:ID, gen:ID or substation:NAME "
                   "(repeatable; ids as in `gridres info GRID --list buses`).")
@click.option("--cascade", is_flag=True, help="Trip overloaded branches until stable.")
@click.option("--cascade-mode", type=click.Choice(["trip", "redispatch"]), default=None,
              help="trip: no operator action; redispatch: redispatch and shed at least cost "
                   "(an LP) before tripping what stays overloaded. Implies --cascade.")
@click.option("--margin", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Overload margin, a fraction: a branch is overloaded (and trips in a "
                   "cascade) above rating_mw x (1 + margin); 0.1 = 10 % over.")
@json_option
@click.option("--out", type=click.Path(dir_okay=False),
              help="Write per-element results: .gpkg (layers buses, branches, facilities) "
                   "or .csv/.parquet (the bus table).")
def command(grid: str, fails: tuple[str, ...], cascade: bool, cascade_mode: str | None,
            margin: float, as_json: bool, out: str | None) -> None:
    """Fail elements of GRID and report who loses power: served and shed load (MW),
    customers out, dark buses and critical facilities, islands and overloads.

    \b
    gridres outage ieee14 --fail bus:4 --fail branch:7
    gridres outage demo_region --fail bus:KAL-110 --cascade-mode redispatch --json
    """
    from gridres.impact import assess

    if out:
        output_file(out, OUT_SUFFIXES)
    g = load(grid)
    state = parse_failures(g, fails, label=grid)
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
