"""`gridres check STUDY.toml`: every problem of a study file, one line each."""

from __future__ import annotations

import click

from gridres.cli.common import console, emit_json, json_option, stdout
from gridres.errors import UsageError

__all__ = ["command"]


def _warnings(study) -> list[str]:
    """What a valid study may still do that its reader should know before running it."""
    if study is None:
        return []
    from gridres.limits import enforce, scenarios_estimate

    out = []
    scheduler = study.ensemble.scheduler
    if scheduler.startswith("tcp://"):
        out.append(f"ensemble.scheduler = {scheduler!r}: running this study would send "
                   "pickled jobs to that host (and run what it returns); gridres run uses it "
                   "only with --trust-study-scheduler, otherwise local processes")
    try:
        enforce(scenarios_estimate(study.ensemble.n), force=False, option="ensemble.n")
    except UsageError as exc:
        out.append(f"{exc}; gridres run needs --force or -n N")
    if study.outputs.dir:
        out.append(f"outputs.dir = {study.outputs.dir!r}: results go to "
                   f"{study.results_dir()} (a folder holding files gridres did not write is "
                   "refused)")
    return out


@click.command("check")
@click.argument("study", metavar="STUDY.toml")
@click.option("--shallow", is_flag=True,
              help="Check the file only; do not load the grid or build the scenarios.")
@json_option
def command(study: str, shallow: bool, as_json: bool) -> int:
    """Check STUDY.toml and list every problem with its key path and line.

    Exit codes: 0 valid, 65 invalid values (syntax, unknown keys, types, ranges, unknown
    policies or ids), 66 a study or grid file that does not exist.
    """
    from rich.markup import escape

    from gridres.study.check import analyse_study

    result = analyse_study(study, deep=not shallow)
    warnings = _warnings(result.study)
    if as_json:
        emit_json({
            "study": study, "valid": not result.problems, "exit_code": result.exit_code,
            "problems": [{"file": p.file, "line": p.line, "path": p.path,
                          "message": p.message, "exit_code": p.exit_code}
                         for p in result.problems],
            "notes": [],  # the document keeps its shape: every part of a study runs
            "warnings": warnings,
        })
        return result.exit_code
    for w in warnings:
        console.print(f"[yellow]warning:[/yellow] {escape(w)}", soft_wrap=True)
    for p in result.problems:
        console.print(f"[red]error:[/red] {escape(str(p))}", soft_wrap=True)
    if result.problems:
        n = len(result.problems)
        if n > 1:  # one problem is its own summary: one line, as for every error
            console.print(f"{escape(study)}: {n} problems", soft_wrap=True)
        return result.exit_code
    s = result.study
    assert s is not None
    parts = [f"grid {s.grid.source}", f"{len(s.hazards)} hazard{'s' if len(s.hazards) != 1 else ''}",
             f"{s.ensemble.n:,} scenarios, seed {s.seed}"]
    if s.restoration is not None:
        parts.append(f"restoration with {s.restoration.settings.crews if s.restoration.settings else '?'} crews")
    if s.plan is not None:
        parts.append(f"plan within a budget of {s.plan.budget:,.0f}")
    if s.defend is not None:
        d = s.defend
        parts.append(f"worst {d.k} {d.target} strikes, protection of up to "
                     f"{d.protect_budget} site{'s' if d.protect_budget != 1 else ''}")
    stdout.print(f"{escape(study)}: ok ({escape('; '.join(parts))})", soft_wrap=True)
    return 0
