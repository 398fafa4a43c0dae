"""`gridres schedule GRID --capacity-share 0.7 --hours 24 --groups 6 --block-h 4`:
rolling-outage schedules when capacity is short."""

from __future__ import annotations

import click
from rich.table import Table

from gridres.cli._deficit import capacity_options, derate_values, group_options, profile_option
from gridres.cli.common import (
    console,
    emit_json,
    fail_option,
    failed_state,
    force_option,
    grid_argument,
    hold_folder,
    json_option,
    load,
    stdout,
)
from gridres.errors import UsageError

__all__ = ["command"]


@click.command("schedule")
@grid_argument
@fail_option("A failed element: bus:ID, branch:ID, gen:ID or substation:NAME (repeatable). "
             "Capacity then comes from the generation left, island by island.")
@click.option("--capacity-share", type=click.FloatRange(min=0), metavar="S",
              help="Available capacity = S x the peak demand of the horizon.")
@click.option("--capacity-mw", type=click.FloatRange(min=0), metavar="MW",
              help="Available capacity in MW, every hour.")
@click.option("--capacity-file", type=click.Path(dir_okay=False), metavar="F",
              help="Available MW per hour: CSV or Parquet with columns time (or hour) and "
                   "capacity_mw.")
@capacity_options
@profile_option
@click.option("--hours", type=click.IntRange(min=1, max=8784), default=24, show_default=True,
              help="Length of the schedule in hours.")
@group_options
@click.option("--start", default=None, metavar="ISO",
              help="First hour, e.g. 2025-01-06T00:00 [default: 2025-01-06T00:00, a "
                   "winter Monday].")
@click.option("--network-relief", type=click.Choice(["groups", "shed"]), default="groups",
              show_default=True,
              help="Where redispatch alone cannot keep branches within their ratings: "
                   "switch whole groups off (a schedule of groups only), or let the engine "
                   "shed load at single buses (less energy lost).")
@click.option("--method", type=click.Choice(["auto", "milp", "heuristic"]), default="auto",
              show_default=True,
              help="milp: exact (HiGHS); heuristic: fast, with its gap to the LP bound; "
                   "auto: milp for day-ahead sizes.")
@click.option("--time-limit-s", type=click.FloatRange(min=0, min_open=True), default=30.0,
              show_default=True, help="Time limit of the MILP.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Tie-breaks among equally good groups (which goes first).")
@json_option
@click.option("--out", type=click.Path(file_okay=False), metavar="DIR",
              help="Folder for schedule.csv, schedule_grid.csv, schedule.txt, "
                   "schedule.html, schedule.png, schedule.json and groups.gpkg.")
@force_option
def command(grid: str, fails: tuple[str, ...], capacity_share: float | None,
            capacity_mw: float | None, capacity_file: str | None, derates: tuple[str, ...],
            ties: tuple[str, ...], import_limit_mw: float | None, profile: str | None,
            hours: int, n_groups: int, block_h: int, start: str | None,
            groups_file: str | None, protect: str, network_relief: str, method: str,
            time_limit_s: float,
            seed: int, as_json: bool, out: str | None, force: bool) -> None:
    """Rotate planned outages between groups of customers when capacity is short.

    Every hour, whole groups are switched off so that the load served stays within the
    available capacity (island by island), in off periods of whole blocks, with hours
    off as equal as possible, critical facilities on while supply allows, the least load
    off, and no branch overloaded (checked with the engine's DC flow). When capacity
    covers demand in every hour there is nothing to schedule: it says so and exits 0.

    \b
    gridres schedule demo_region --capacity-share 0.7 --profile typical --hours 168 \\
        --groups 12 --block-h 4 --out rotation/
    gridres schedule demo_region --fail gen:G-TIE-1 --fail gen:G-HAL-1 --json
    """
    from gridres.deficit import DEFAULT_START, schedule

    given = [n for n, v in (("--capacity-share", capacity_share), ("--capacity-mw", capacity_mw),
                            ("--capacity-file", capacity_file)) if v is not None]
    if len(given) > 1:
        raise UsageError(f"give one of {', '.join(given)}, not several")
    if out:
        hold_folder(out, force=force)
    g = load(grid)
    state = failed_state(g, fails, label=grid)
    with console.status("scheduling…") as status:  # a transient line on a terminal
        s = schedule(g, state, hours=hours, start=start or DEFAULT_START, profile=profile,
                     capacity_share=capacity_share, capacity_mw=capacity_mw,
                     capacity_file=capacity_file, derate=derate_values(derates), ties=ties,
                     import_limit_mw=import_limit_mw, groups=n_groups,
                     groups_file=groups_file, protect=protect, block_h=block_h,
                     network_relief=network_relief, method=method, seed=seed,
                     time_limit_s=time_limit_s,
                     progress=lambda message: status.update(message + "…"))
    doc = s.to_dict()
    if not g.network.has_customers:  # unknown, not zero (a MATPOWER case)
        doc["groups"] = [{**row, "customers": None} for row in doc["groups"]]
    if out:
        from gridres.report.schedule import write_schedule

        write_schedule(s, out)
    for note in doc["notes"]:
        console.print(f"[yellow]note:[/yellow] {note}", soft_wrap=True)
    if as_json:
        emit_json(doc)
        return
    _summary(doc)
    if not s.nothing_to_schedule:
        from gridres.report.schedule import schedule_text

        click.echo(schedule_text(s))
    if out:
        console.print(f"wrote {out}/")


def _summary(doc: dict) -> None:
    """Groups with their load, customers and hours off, then the totals, on stdout."""
    t = Table(title=f"{doc['grid']}: rotation from {doc['start']}, {doc['horizon_h']} h, "
                    f"blocks of {doc['block_h']} h")
    for head in ("group", "kind", "buses", "MW", "customers", "h off", "max run h",
                 "switch ops"):
        t.add_column(head, justify="left" if head in ("group", "kind") else "right",
                     no_wrap=True)
    for row in doc["groups"]:
        t.add_row(row["group"], "protected" if row["protected"] else "rotation",
                  str(len(row["buses"])), f"{row['load_mw']:,.1f}",
                  "n/a" if row["customers"] is None else f"{row['customers']:,}",
                  str(row["hours_off"]), str(row["longest_off_h"]),
                  str(row["switching_operations"]))
    stdout.print(t)
    fair = doc["fairness"]
    gap = f", gap {100 * doc['gap']:.2f} %" if doc["gap"] is not None else ""
    stdout.print(f"capacity: {doc['capacity']}; profile: {doc['profile']}\n"
               f"energy not served: {doc['unserved_mwh']:,.1f} MWh (switched off "
               f"{doc['switched_mwh']:,.1f} MWh)\n"
               f"hours off per rotation group: {fair['min_h']} to {fair['max_h']}; Jain's "
               f"index over customers {fair['jain_customers']:.3f}; "
               f"{doc['switching_operations_total']} switching operations\n"
               f"method: {doc['method']} ({doc['status']}{gap}, {doc['solve_s']:.2f} s)",
               soft_wrap=True)
