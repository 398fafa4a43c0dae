"""`gridres defend GRID --protect-budget P --k K`: the P sites to protect so that the
attacker's best k strikes hurt least."""

from __future__ import annotations

import click
from rich.markup import escape

from gridres.cli.attack import progress_bar, strike_options, strike_table, write_document
from gridres.cli.common import (
    console,
    emit_json,
    grid_argument,
    json_option,
    load,
    output_file,
    stdout,
    whole_customers,
)

__all__ = ["command"]


@click.command("defend")
@grid_argument
@click.option("--protect-budget", "protect_budget", type=click.IntRange(min=0), required=True,
              help="Sites to protect (protected sites cannot be struck).")
@strike_options
@click.option("--candidates", multiple=True, metavar="KIND:ID",
              help="A site the defender may protect (repeat for more) [default: every "
                   "target].")
@click.option("--max-rounds", type=click.IntRange(min=1), default=50, show_default=True,
              help="Rounds of the decomposition before it stops with a gap.")
@json_option
@click.option("--out", type=click.Path(dir_okay=False),
              help="Write the result: .json (the --json document) or .csv (rounds).")
def command(grid: str, protect_budget: int, k: int, target: str, objective: str,
            cascade_mode: str, margin: float, exclude: tuple[str, ...],
            protect: tuple[str, ...], budget: int | None, seed: int, workers: int | None,
            scheduler: str | None, candidates: tuple[str, ...], max_rounds: int, as_json: bool,
            out: str | None) -> None:
    """Which --protect-budget sites of GRID to protect so that the attacker's best --k
    strikes do the least damage (a defender-attacker min-max).

    Each round protects the sites that block the worst attacks found so far, then finds
    the attacker's best response to that protection; the bounds meet at the optimum.
    Exact where every k-set can be evaluated (see --budget); otherwise the responses
    come from the search and the result says it is not proven.
    """
    import pandas as pd

    from gridres.adversary import defend
    from gridres.cascade import CascadeOptions

    if out:
        output_file(out, (".json", ".csv"))
    g = load(grid)
    with progress_bar(f"defend P={protect_budget} k={k}") as update:
        res = defend(g, k, protect_budget, target=target, objective=objective,
                     cascade=CascadeOptions(cascade_mode, margin), exclude=exclude,
                     protect=protect, candidates=candidates or None, budget=budget,
                     max_rounds=max_rounds, seed=seed, workers=workers,
                     scheduler=scheduler, progress=update)
    known = g.network.has_customers
    doc = whole_customers(res.to_dict(), known)
    if out:
        rows = pd.DataFrame([{**r.to_dict(), "protection": "+".join(r.protection),
                              "response": "+".join(r.response)} for r in res.rounds])
        write_document(doc, out, rows)
        console.print(f"wrote {out}")
    if as_json:
        emit_json(doc)
        return
    stdout.print(f"{g.name}: protect {protect_budget} {target} site(s) against {k} strikes "
                 f"({objective}, cascade {cascade_mode})", soft_wrap=True)
    stdout.print("protect: " + (escape(", ".join(res.protection)) or "nothing"), soft_wrap=True)
    stdout.print(strike_table("the attacker's best strikes, before and after",
                              [("before", res.before), ("after", res.after)], target,
                              objective, known))
    b, a = res.before.value(objective), res.after.value(objective)
    state = ("optimal" if res.exact else
             f"bounds [{res.lower_bound:,.2f}, {res.upper_bound:,.2f}], gap "
             f"{100 * res.gap:.1f} %" + ("" if res.method == "exhaustive" else
                                         ", responses found by search"))
    stdout.print(f"worst case {b:,.2f} -> {a:,.2f} ({100 * res.reduction:.1f} % less); "
                 f"{len(res.rounds)} round(s), {res.evaluated:,} sets evaluated, {state}",
                 soft_wrap=True)
