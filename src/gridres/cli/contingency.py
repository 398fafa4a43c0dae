"""`gridres contingency GRID --elements KIND`: every N-1 (or screened N-2) outage, ranked
by impact: the hardening priority list."""

from __future__ import annotations

import click
import numpy as np
import pandas as pd
from rich.table import Table

from gridres.cli.common import (
    cascade_options,
    console,
    emit_json_table,
    force_option,
    grid_argument,
    json_option,
    load,
    output_file,
    scheduler_option,
    stdout,
    workers_option,
)
from gridres.errors import UsageError

__all__ = ["command", "write_results"]

#: Rows of the ranked table printed on stderr.
TABLE_ROWS = 20


def _short(element: str) -> str:
    """``branch:1+branch:7`` as ``1+7``: the ids without their kind prefixes."""
    return "+".join(part.partition(":")[2] or part for part in element.split("+"))


def write_results(df, out: str) -> None:
    """Write a sweep's results atomically as ``.parquet`` or ``.csv`` (dark facility ids
    joined by ``;`` in CSV)."""
    from gridres.io.folder import write_path

    suffix = out.rsplit(".", 1)[-1].lower() if "." in out else ""
    if suffix not in ("parquet", "csv"):
        raise UsageError(f"--out {out}: unknown output format; use .parquet or .csv")
    with write_path(out) as tmp:
        if suffix == "parquet":
            df.to_parquet(tmp, index=False)
        else:
            flat = df.assign(dark_facility_ids=df["dark_facility_ids"].map(";".join))
            flat.to_csv(tmp, index=False)


@click.command("contingency")
@grid_argument
@click.option("--elements", "kind", required=True,
              type=click.Choice(["branch", "bus", "gen", "substation"]),
              help="Which elements fail, one at a time (substation: every bus sharing one).")
@click.option("--k", "k", type=click.IntRange(1, 2), default=1, show_default=True,
              help="1: every single outage; 2: screened double outages (see --top).")
@cascade_options
@click.option("--top", type=click.IntRange(min=1), default=20, show_default=True,
              help="N-2: pair up the TOP most severe single outages.")
@click.option("--partners", type=click.IntRange(min=0), default=5, show_default=True,
              help="N-2 of branches: also pair each candidate with the PARTNERS branches "
                   "that take over most of its flow (largest |LODF|).")
@click.option("--exact", is_flag=True,
              help="Assess every case with the full engine (same results, slower).")
@json_option
@click.option("--out", type=click.Path(dir_okay=False),
              help="Write all ranked results (.parquet or .csv).")
@force_option
@workers_option
@scheduler_option
def command(grid: str, kind: str, k: int, cascade_mode: str, margin: float, top: int,
            partners: int, exact: bool, as_json: bool, out: str | None, force: bool,
            workers: int | None, scheduler: str | None) -> None:
    """Fail every element of one kind in GRID, one at a time (or in screened pairs with
    --k 2), and rank the outages by impact: shed MW, then customers out, then worst
    post-outage loading.

    Each row equals what `gridres outage GRID --fail KIND:ID` reports for that element
    with the same --cascade-mode and --margin.
    N-2 screening: all pairs among the --top worst single outages, plus for branches
    each candidate with its --partners largest-LODF branches; every pair assessed exactly.
    """
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from gridres.cascade import CascadeOptions
    from gridres.contingency import contingencies, n_minus_2, n_minus_2_size, sweep
    from gridres.limits import enforce, pairs_estimate
    from gridres.model import customer_count

    if out:
        output_file(out, (".parquet", ".csv"))
    g = load(grid)
    cascade = CascadeOptions(cascade_mode, margin)
    cases = contingencies(g, kind)
    if k == 2:  # before any work: --top 100000 on a big grid is millions of pairs
        size = n_minus_2_size(g, kind, top=top, partners=partners)
        enforce(pairs_estimate(size), force=force, option="--top/--partners")
    # no refresh thread: local workers are forked from this process
    with Progress("{task.description}", BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=console, transient=True, auto_refresh=False,
                  disable=not console.is_terminal) as bar:
        task = bar.add_task(f"N-1 {kind}", total=len(cases))

        def advance(n: int) -> None:
            bar.advance(task, n)
            bar.refresh()

        backend = dict(workers=workers, scheduler=scheduler)
        df = sweep(g, cases, cascade=cascade, fast=not exact, progress=advance, **backend)
        if k == 2:
            bar.update(task, description=f"N-2 {kind}", completed=0, total=size)
            df = n_minus_2(g, kind, top=top, partners=partners, first=df, cascade=cascade,
                           progress=advance, **backend)
    if out:
        write_results(df, out)
        console.print(f"wrote {out}")
    known = g.network.has_customers
    if as_json:
        results = pd.DataFrame({
            "rank": df["rank"].to_numpy(np.int64),
            "element": df["element"],
            "served_mw": df["served_mw"].round(6),
            "shed_mw": df["shed_mw"].round(6),
            "customers_out": (df["customers_out"].round().astype("Int64") if known else
                              pd.Series(pd.NA, index=df.index, dtype="Int64")),
            "people_out": df["people_out"].to_numpy(np.int64),
            "dark_facilities": df["dark_facility_ids"].map(list),
            "islands": df["islands"].to_numpy(np.int64),
            "max_loading": df["max_loading"].round(6),
            "overloaded": df["overloaded"].to_numpy(np.int64),
        })
        emit_json_table({"grid": g.name, "elements": kind, "k": k,
                         "cascade_mode": cascade_mode, "margin": margin, "count": len(df)},
                        "results", results)
        return
    label = "N-1" if k == 1 else "N-2"
    t = Table(title=f"{g.name}: {label} {kind} outages, {min(TABLE_ROWS, len(df))} worst "
                    f"of {len(df)}")
    # Numbers are never cut: narrow two-line headers; the element column takes the rest
    # and wraps a long id. Elements are named without their KIND: prefix (the header).
    heads = ("#", kind, "shed\nMW", "cust.\nout", "dark\nfac.", "isl.", "max\nload",
             "over-\nloads")
    rows = [(str(r.rank), _short(r.element), f"{r.shed_mw:.2f}",
             "n/a" if not known else f"{customer_count(r.customers_out):,}",
             str(r.dark_facilities), str(r.islands), f"{r.max_loading:.3f}",
             str(r.overloaded)) for r in df.head(TABLE_ROWS).itertuples(index=False)]
    for j, head in enumerate(heads):
        if j == 1:
            t.add_column(head, overflow="fold", ratio=1)
        else:
            width = max(*map(len, head.split("\n")), *(len(r[j]) for r in rows), 1)
            t.add_column(head, justify="right", no_wrap=True, min_width=width)
    for r in rows:
        t.add_row(*r[:1], escape(r[1]), *r[2:])
    stdout.print(t)
