"""`gridres outage GRID --fail KIND:ID ...`: who loses power, and how the rest flows."""

from __future__ import annotations

import click
from rich.table import Table

from gridres.cli.common import (
    cascade_options,
    console,
    emit_json,
    fail_option,
    failed_state,
    grid_argument,
    json_option,
    load,
    output_file,
    outside_temp_option,
    stdout,
)

__all__ = ["command"]

#: Suffixes of --out.
OUT_SUFFIXES = (".gpkg", ".csv", ".parquet")


@click.command("outage")
@grid_argument
@fail_option("An element to fail: bus:ID, branch:ID, gen:ID or substation:NAME "
             "(repeatable; ids as in `gridres info GRID --list buses`).")
@cascade_options
@outside_temp_option
@json_option
@click.option("--out", type=click.Path(dir_okay=False),
              help="Write per-element results: .gpkg (layers buses, branches, facilities) "
                   "or .csv/.parquet (the bus table).")
def command(grid: str, fails: tuple[str, ...], cascade_mode: str, margin: float,
            outside_c: float | None, as_json: bool, out: str | None) -> None:
    """Fail elements of GRID and report who loses power: served and shed load (MW),
    customers out, dark buses and critical facilities, islands and overloads; then,
    with no repairs, who loses water, heat, telecom, health care, shelter and emergency
    services, per town, and when (once backups, storage and buffers run out).

    \b
    gridres outage ieee14 --fail bus:4 --fail branch:7
    gridres outage demo_region --fail bus:KAL-110 --cascade-mode redispatch --json
    gridres outage demo_region --fail bus:OSTR1-110 --outside-temp-c -10
    """
    from gridres.cascade import cascade
    from gridres.services import compile_services, services_after

    if out:
        output_file(out, OUT_SUFFIXES)
    g = load(grid)
    state = failed_state(g, fails, label=grid)
    cascade_doc = None
    result = cascade(g.network, state, mode=cascade_mode, margin=margin)
    imp = result.final
    if cascade_mode != "none":
        cascade_doc = result.summary()
    doc = {"grid": g.name, "failed": list(fails), "cascade_mode": cascade_mode,
           "margin": margin, **imp.summary()}
    if cascade_doc is not None:
        doc["cascade_stages"] = [s["tripped"] for s in cascade_doc["stages"]]
        doc["cascade"] = cascade_doc
    services = services_after(compile_services(g), imp, outside_c=outside_c)
    doc["services"] = services.summary()
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
        t.add_row(key, "n/a" if doc[key] is None else f"{doc[key]:,}" if key.endswith("_out")
                  else str(doc[key]))
    t.add_row("dark buses", str(len(doc["dark_buses"])))
    t.add_row("dark facilities", ", ".join(doc["dark_facilities"]) or "none")
    t.add_row("on backup", ", ".join(doc["facilities_on_backup"]) or "none")
    t.add_row("overloaded branches", ", ".join(b["id"] for b in doc["overloaded_branches"])
              or "none")
    if doc["cascade_stages"]:
        t.add_row("cascade stages", str(len(doc["cascade_stages"])))
    stdout.print(t)
    _print_services(doc["services"])


#: Rows of the services table (the JSON document has them all).
_SERVICE_ROWS = 20


def _print_services(doc: dict) -> None:
    """People without each service once buffers run out, and when each town loses it."""
    from rich.markup import escape

    people = {k: v for k, v in doc["people_without"].items() if v}
    if not people:
        stdout.print("services: nobody loses a service")
        return
    stdout.print("people without, once backups, storage and buffers run out (no repairs, "
                  f"{doc['outside_c']:g} °C outside): "
                  + ", ".join(f"{k} {v:,}" for k, v in people.items()))
    rows = doc["towns"]
    t = Table(title="when towns lose services")
    for col, justify in (("after h", "right"), ("town", "left"), ("service", "left"),
                         ("people without", "right"), ("of", "right")):
        t.add_column(col, justify=justify)
    for r in rows[:_SERVICE_ROWS]:
        t.add_row(f"{r['lost_h']:.1f}", escape(r["town"] or "(no town)"), r["service"],
                  f"{r['people']:,}", f"{r['relying']:,}")
    stdout.print(t)
    if len(rows) > _SERVICE_ROWS:
        stdout.print(f"({len(rows) - _SERVICE_ROWS} more rows; --json lists all)")
