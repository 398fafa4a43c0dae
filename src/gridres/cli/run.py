"""`gridres run STUDY.toml`: the whole study, its results directory and its report."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from gridres.cli.common import (
    console,
    emit_json,
    force_option,
    json_option,
    output_folder,
    stdout,
)

__all__ = ["command", "progress_bars", "run_and_report"]


@contextlib.contextmanager
def progress_bars(enabled: bool = True) -> Iterator:
    """A ``progress(step, done, total)`` callback drawing one rich bar per step on
    stderr (nothing when disabled). The bars appear with the first step, so a run that
    stops before any (an invalid study) prints nothing but its error."""
    if not enabled:
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    bars = Progress(TextColumn("{task.description:<16}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=console,
                    transient=False)
    tasks: dict[str, int] = {}

    def update(step: str, done: int, total: int) -> None:
        if not tasks:
            bars.start()
        if step not in tasks:
            tasks[step] = bars.add_task(step, total=max(total, 1))
        bars.update(tasks[step], completed=done, total=max(total, 1))

    try:
        yield update
    finally:
        if tasks:
            bars.stop()


def run_and_report(study: str | Path, out: str | None, scenarios: int | None, pdf: bool,
                   as_json: bool, *, force: bool = False, scheduler: str | None = None,
                   trust_scheduler: bool = False, next_steps: Any = None) -> int:
    """Run a study with progress bars, then print its headline numbers and where its
    report is (or its summary as JSON); ``next_steps(res)`` gives commands to suggest
    after that."""
    from gridres.io.folder import held
    from gridres.report import write_report
    from gridres.results import summary_document
    from gridres.study import analyse_study, run_study
    from gridres.study.check import raise_problems

    if out is not None:
        output_folder(str(out))
    with progress_bars(enabled=console.is_terminal or not as_json) as progress:
        checked = analyse_study(study)
        raise_problems(checked)
        with held(checked.study.results_dir(out), force=force):
            res = run_study(checked.study, out, checked=checked, n=scenarios,
                            progress=progress, force=force, scheduler=scheduler,
                            trust_scheduler=trust_scheduler)
            res = write_report(res, pdf=pdf or None, progress=progress)
    if as_json:
        emit_json(summary_document(res))
        return 0
    _print_summary(res)
    report = res.files.get("report.html")
    target = res.files.get("report.pdf") if report is None else report
    path = Path(target).resolve() if target else res.out_dir.resolve()
    click.echo(f"Report: {path}")
    if target:
        click.echo(f"Open it in a browser: {path.as_uri()}")
    steps = next_steps(res) if next_steps is not None else []
    if steps:
        click.echo("Next, try:")
        for what, cmd in steps:
            click.echo(f"  {what}:")
            click.echo(f"    {cmd}")
    return 0


def _print_summary(res) -> None:
    from rich.table import Table

    from gridres.report.narrative import fmt_num, fmt_pct

    t = Table(title=f"{res.study.name}: {res.completed:,} events on {res.grid.name}, "
                    f"seed {res.study.seed}")
    t.add_column("outcome")
    for col in ("mean", "95th percentile", "worst 5 % average"):
        t.add_column(col, justify="right")
    for key, label in (("shed_mw", "load lost (MW)"),
                       ("customers_out", "customers without power"),
                       ("people_out", "people at dark facilities")):
        s = res.metrics.get(key)
        if s:
            t.add_row(label, *(fmt_num(s.get(k)) for k in ("mean", "p95", "cvar95")))
    stdout.print(t)
    stdout.print(f"P(any load lost) = {fmt_pct(res.p_shed)}")
    if res.restoration:
        best = res.best_policy()
        m = res.restoration[best].metrics
        hours = m.get("customer_hours", {}).get("mean")
        why = (f"mean customer-hours {fmt_num(hours)}" if hours is not None
               and math.isfinite(hours) else
               f"mean energy not served {fmt_num(m.get('ens_mwh', {}).get('mean'), 'MWh')}")
        stdout.print(f"best restoration policy: {best} ({why})")
    for part, why in res.pending.items():
        console.print(f"note: {part}: {why}", soft_wrap=True)
    console.print(f"results in {res.out_dir}")


@click.command("run")
@click.argument("study", metavar="STUDY.toml")
@click.option("--out", type=click.Path(file_okay=False),
              help="Results directory [default: the study's [outputs] dir, else "
                   "./results/NAME in the working directory].")
@click.option("--scenarios", "-n", "scenarios", type=click.IntRange(min=1), default=None,
              help="Number of scenarios instead of the study's ensemble.n (recorded in "
                   "study.resolved.toml).")
@click.option("--pdf", is_flag=True, help="Also write report.pdf.")
@click.option("--scheduler", metavar="tcp://HOST:PORT",
              help="Run the ensemble on this Dask scheduler.")
@click.option("--trust-study-scheduler", "trust_scheduler", is_flag=True,
              help="Use the Dask scheduler the study file names (not used without this: "
                   "Dask exchanges pickles with that host).")
@force_option
@json_option
def command(study: str, out: str | None, scenarios: int | None, pdf: bool,
            scheduler: str | None, trust_scheduler: bool, force: bool, as_json: bool) -> int:
    """Run STUDY.toml: grid, intact flow, N-1 ranking, the ensemble with restoration,
    then write the results directory and report.html.

    The study is checked first; every problem is reported as FILE:LINE: KEY: MESSAGE
    (exit 65; 66 for a missing study or grid file). A results directory that holds files
    gridres did not write is refused unless --force (they are never deleted).
    """
    return run_and_report(study, out, scenarios, pdf, as_json, force=force,
                          scheduler=scheduler, trust_scheduler=trust_scheduler)
