"""`gridres plan STUDY.toml [--budget X] [--json] [--out DIR]`: which interventions buy the
most resilience, and the portfolio within the budget."""

from __future__ import annotations

import math

import click
from rich.table import Table

from gridres.cli.common import (
    console,
    emit_json,
    force_option,
    hold_folder,
    json_option,
    scheduler_option,
    stdout,
)

__all__ = ["command"]


def _num(v: object, digits: int = 1) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    if isinstance(v, float):
        text = f"{v:,.{digits if abs(v) < 100 else 0}f}"
        return text[1:] if text.startswith("-") and not text.strip("-0.,") else text
    return str(v)


def _half(lo: float, hi: float) -> str:
    """Half-width of a (symmetric, Student-t) interval."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "-"
    return _num((hi - lo) / 2.0)


#: Units of the worst case by the attacker's objective.
_STRIKE_UNITS = {"shed_mw": "MW", "people_out": "people", "facilities_dark": "facilities",
                 "customers_out": "customers"}


def _print(res, top: int) -> None:
    worst_unit = _STRIKE_UNITS[res.threat.objective] if res.threat is not None else ""
    unit = {"ens_mwh": "MWh", "customer_hours": "customer-h", "facility_hours_dark":
            "facility-h", "people_hours": "people-h", "worst_case": worst_unit}[res.objective]
    t = Table(title=f"{res.study}: {len(res.candidates)} interventions on {res.n:,} scenarios "
                    f"(seed {res.seed}, policy {res.policy}), by {res.objective} drop per cost")
    t.add_column("intervention", no_wrap=True)
    for col in ("cost", "ENS drop MWh", "95 % CI ±"):
        t.add_column(col, justify="right")
    if res.objective not in ("ens_mwh", "worst_case"):
        t.add_column(f"drop {unit}", justify="right")
    worst = "worst_case_reduction" in res.ranking
    if worst:
        t.add_column(f"worst-case drop {worst_unit}", justify="right")
    t.add_column("per cost", justify="right")
    for ident, row in res.ranking.head(top).iterrows():
        cells = [str(ident), _num(row["cost"], 2), _num(row["ens_reduction_mwh"]),
                 _half(row["ci_low"], row["ci_high"])]
        if res.objective not in ("ens_mwh", "worst_case"):
            cells.append(_num(row["benefit"]))
        if worst:
            cells.append(_num(row["worst_case_reduction"]))
        t.add_row(*cells, _num(row["benefit_per_cost"]))
    stdout.print(t)
    if len(res.ranking) > top:
        stdout.print(f"... and {len(res.ranking) - top} more (see interventions.csv)")
    p = res.portfolio
    budget = "no budget limit" if res.budget is None else f"budget {_num(res.budget, 2)}"
    t = Table(title=f"Portfolio ({budget}, {res.currency} by default)")
    t.add_column("intervention", no_wrap=True)
    for col in ("cost", "total cost", f"drop {unit}", "95 % CI ±"):
        t.add_column(col, justify="right")
    for ident, row in p.iterrows():
        t.add_row(str(ident), _num(row["cost"], 2), _num(row["cumulative_cost"], 2),
                  _num(row["benefit"]), _half(row["ci_low"], row["ci_high"]))
    stdout.print(t)
    if not len(p):
        stdout.print("no intervention within the budget lowers the objective")
    before, after = res.baseline[res.objective], res.improved[res.objective]
    what = (f"worst case ({res.threat.describe()})" if res.objective == "worst_case"
            else f"expected {res.objective}")
    stdout.print(f"{what}: {_num(before)} -> {_num(after)} {unit}; ENS CVaR95: "
                  f"{_num(res.baseline['ens_mwh_cvar95'])} -> "
                  f"{_num(res.improved['ens_mwh_cvar95'])} MWh", soft_wrap=True)
    if worst and res.objective != "worst_case":
        stdout.print(f"worst case ({res.threat.describe()}): "
                      f"{_num(res.baseline['worst_case'])} -> "
                      f"{_num(res.improved['worst_case'])} {worst_unit}", soft_wrap=True)
    beyond = [s for s in res.steps if not s.within_budget]
    if beyond:
        more = ", ".join(f"{s.id} (+{_num(s.marginal.drop)} at {_num(s.cumulative_cost, 2)})"
                         for s in beyond)
        stdout.print(f"beyond the budget the frontier goes on with: {more}", soft_wrap=True)
    stdout.print(f"{res.simulations:,} restorations simulated, {res.reused:,} scenario "
                  f"results reused where exact; {res.elapsed_s:,.1f} s")


@click.command("plan")
@click.argument("study", metavar="STUDY.toml")
@click.option("--budget", type=float, default=None,
              help="Money available [default: the study's plan.budget; none: no limit].")
@click.option("--out", type=click.Path(file_okay=False),
              help="Folder for plan.json, interventions.csv, portfolio.csv, frontier.csv "
                   "[default: the study's results directory /plan].")
@click.option("--scenarios", "-n", "scenarios", type=click.IntRange(min=1), default=None,
              help="Number of scenarios instead of the study's ensemble.n.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes [default: the study's ensemble.workers].")
@scheduler_option
@click.option("--trust-study-scheduler", "trust_scheduler", is_flag=True,
              help="Use the Dask scheduler the study file names (not used without this: "
                   "Dask exchanges pickles with that host).")
@click.option("--generate/--no-generate", default=None,
              help="Add generated candidates [default: plan.generate, or when the study "
                   "lists none].")
@click.option("--max-candidates", type=click.IntRange(min=1), default=None,
              help="Bound on generated candidates [default: plan.max_candidates, 20].")
@click.option("--top", type=click.IntRange(min=1), default=20, show_default=True,
              help="Interventions shown in the ranking.")
@force_option
@json_option
def command(study: str, budget: float | None, out: str | None, scenarios: int | None,
            workers: int | None, scheduler: str | None, trust_scheduler: bool,
            generate: bool | None, max_candidates: int | None, top: int, force: bool,
            as_json: bool) -> int:
    """Rank interventions for STUDY.toml and choose a portfolio within the budget.

    Every candidate (the study's [[plan.candidates]], and generated ones) is scored on
    the study's scenarios (same seeds) with restoration; the portfolio is picked greedily
    by benefit per cost, re-evaluating after each pick. Results are saved for the report.
    """
    from gridres.cli.run import progress_bars
    from gridres.limits import enforce, scenarios_estimate
    from gridres.study import analyse_study, run_plan
    from gridres.study.check import raise_problems

    checked = analyse_study(study)
    raise_problems(checked)
    st = checked.study
    enforce(scenarios_estimate(scenarios or st.ensemble.n), force=force,
            option="-n" if scenarios else f"ensemble.n of {st.path.name}")
    folder = hold_folder(out or st.results_dir() / "plan", force=force,
                         option="--out" if out else "")
    with progress_bars(enabled=console.is_terminal and not as_json) as progress:
        res = run_plan(st, checked=checked, budget=budget, n=scenarios, workers=workers,
                       scheduler=scheduler, trust_scheduler=trust_scheduler,
                       generate=generate, max_candidates=max_candidates, progress=progress)
    files = res.write(folder)
    if as_json:
        doc = res.to_dict()
        doc["files"] = {k: str(v) for k, v in files.items()}
        emit_json(doc)
        return 0
    _print(res, top)
    console.print(f"results in {folder}")
    return 0
