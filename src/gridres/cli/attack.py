"""`gridres attack GRID --k K`: the worst k strikes, exact where affordable; with --curve,
the worst k = 1..K beside random failures."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator

import click
from rich.markup import escape
from rich.table import Table

from gridres.cli.common import (
    cascade_options,
    console,
    emit_json,
    force_option,
    grid_argument,
    hold_folder,
    json_option,
    load,
    output_file,
    scheduler_option,
    stdout,
    whole_customers,
    workers_option,
)
from gridres.io.jsondoc import jsonable

__all__ = ["command", "strike_options", "progress_bar", "write_document", "write_folder"]


_OBJECTIVES = ["shed_mw", "people_out", "facilities_dark", "customers_out", "ens_mwh"]


def strike_options(fn: Callable) -> Callable:
    """Options shared by `attack` and `defend`: what is struck, for what, how."""
    options = [
        click.option("--k", "k", type=click.IntRange(min=1), required=True,
                     help="Elements struck together."),
        click.option("--target", type=click.Choice(["substation", "bus", "branch", "gen"]),
                     default="substation", show_default=True,
                     help="Kind of element a strike destroys (substation: all its buses)."),
        click.option("--objective", type=click.Choice(_OBJECTIVES), default="shed_mw",
                     show_default=True,
                     help="What the attacker maximises (ens_mwh: energy not served while "
                          "3 crews repair the struck elements, greedy policy)."),
        cascade_options,
        click.option("--exclude", multiple=True, metavar="KIND:ID",
                     help="An element the attacker cannot reach (repeat for more)."),
        click.option("--protect", multiple=True, metavar="KIND:ID",
                     help="A protected element: cannot be struck (repeat for more)."),
        click.option("--budget", type=click.IntRange(min=1), default=None,
                     help="Most sets evaluated exactly; C(n, k) within it means every set "
                          "[default: about a minute of one core]."),
        click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
                     help="Seed of the search's random restarts."),
        workers_option,
        scheduler_option,
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


@contextlib.contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr (when it is a terminal): yields ``update(done, total)``."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress("{task.description}", BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=console, transient=True,
                  disable=not console.is_terminal) as bar:
        task = bar.add_task(label, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def write_document(doc: dict, out: str, table=None) -> None:
    """Write the result atomically: the JSON document (``.json``) or the table
    (``.csv``)."""
    from gridres.io.atomic import atomic_path

    with atomic_path(out) as tmp:
        if out.lower().endswith(".csv"):
            table.to_csv(tmp, index=False)
        else:
            tmp.write_text(json.dumps(jsonable(doc), indent=2) + "\n", encoding="utf-8")


#: Suffixes of ``--out`` that name one file; anything else names a folder.
FILE_SUFFIXES = (".json", ".csv")


def is_file(out: str) -> bool:
    """Whether ``--out`` names one result file (a name with a suffix that is not an
    existing folder; an unknown suffix is refused by ``output_file``), else a folder."""
    from pathlib import Path

    path = Path(out)
    return bool(path.suffix) and not path.is_dir()


def write_folder(folder, files: dict) -> None:
    """Write ``{name: document, table or figure}`` into an output folder, each file
    atomically and recorded: ``.json`` documents, ``.csv`` tables, ``.png`` figures."""
    from gridres.io.folder import write_path

    for name, value in files.items():
        with write_path(folder / name) as tmp:
            if name.endswith(".json"):
                tmp.write_text(json.dumps(jsonable(value), indent=2) + "\n", encoding="utf-8")
            elif name.endswith(".csv"):
                value.to_csv(tmp, index=False)
            else:
                value.savefig(tmp, format="png", dpi=130, metadata={"Software": None})


def _num(v: float | None, digits: int) -> str:
    return "-" if v is None else f"{v:,.{digits}f}"


def strike_table(title: str, rows, kind: str, objective: str,
                 customers: bool = True) -> Table:
    """A rich table of ``(label, Strike)`` rows with every metric (the objective's column
    marked *); elements are named by id, their kind in the header; customers ``n/a``
    where the grid has no customer data (``customers`` False)."""
    t = Table(title=title)
    heads = {"shed_mw": "shed\nMW", "people_out": "people\nout",
             "facilities_dark": "fac.\ndark", "customers_out": "cust.\nout",
             "ens_mwh": "ENS\nMWh"}
    t.add_column("#", justify="right")
    t.add_column({"bus": "buses", "branch": "branches", "gen": "generators",
                  "substation": "substations"}[kind], overflow="fold", ratio=1)
    for m, head in heads.items():
        t.add_column(head + (" *" if m == objective else ""), justify="right", no_wrap=True)
    t.add_column("found\nby")
    for label, s in rows:
        names = "\n".join(e.partition(":")[2] for e in s.elements)
        t.add_row(label, escape(names), _num(s.shed_mw, 1), f"{s.people_out:,}",
                  str(s.facilities_dark),
                  _num(s.customers_out, 0) if customers else "n/a", _num(s.ens_mwh, 0),
                  s.method)
    return t


@click.command("attack")
@grid_argument
@strike_options
@click.option("--top", type=click.IntRange(min=1), default=10, show_default=True,
              help="Distinct worst sets to report.")
@click.option("--method", type=click.Choice(["auto", "exhaustive", "milp", "search"]),
              default="auto", show_default=True,
              help="auto: every set if C(n, k) is within --budget, else the MILP (shed_mw "
                   "without cascade) or the search.")
@click.option("--curve", is_flag=True,
              help="Also the worst k = 1..K beside the mean of random K-element failures.")
@click.option("--n-random", type=click.IntRange(1, 1_000_000), default=1000, show_default=True,
              help="Random failures per k for --curve.")
@json_option
@click.option("--out", type=click.Path(),
              help="Write the result: a .json file (the --json document), a .csv file (the "
                   "attacks), or a folder: attack.json and attacks.csv, with --curve also "
                   "curve.csv and curve.png.")
@force_option
def command(grid: str, k: int, target: str, objective: str, cascade_mode: str, margin: float,
            exclude: tuple[str, ...], protect: tuple[str, ...], budget: int | None, seed: int,
            workers: int | None, scheduler: str | None, top: int, method: str, curve: bool,
            n_random: int, as_json: bool, out: str | None, force: bool) -> None:
    """The worst K simultaneous strikes on GRID: which substations (or buses, branches,
    generators) an attacker would hit to shed the most load, darken the most critical
    facilities or leave the most energy unserved, and which to protect first.

    Every set is evaluated with the engine's own rules. Small problems are solved
    exactly (every set, or the interdiction MILP); larger ones by a search that reports
    how many sets it evaluated and, for shed_mw without cascade, a bound and the gap.
    """
    from gridres.adversary import attack, attack_curve
    from gridres.cascade import CascadeOptions

    folder = None
    if out:
        if is_file(out):
            output_file(out, FILE_SUFFIXES)
        else:
            folder = hold_folder(out, force=force)
    g = load(grid)
    common = dict(target=target, objective=objective,
                  cascade=CascadeOptions(cascade_mode, margin), exclude=exclude,
                  protect=protect, budget=budget, seed=seed, workers=workers,
                  scheduler=scheduler)
    with progress_bar(f"attack k={k}") as update:
        res = attack(g, k, top=top, method=method, progress=update, **common)
    curve_res = None
    if curve:
        console.print(f"curve: k = 1..{k}, {n_random} random failures each")
        curve_res = attack_curve(g, k, n_random=n_random, **common)
    known = g.network.has_customers
    doc = whole_customers(res.to_dict(), known)
    if curve_res is not None:
        doc["curve"] = whole_customers(curve_res.to_dict()["points"], known)
    if folder is not None:
        files = {"attack.json": doc, "attacks.csv": res.table()}
        if curve_res is not None:
            from gridres.report.strikes import curve_figure

            files["curve.csv"] = curve_res.table()
            files["curve.png"] = curve_figure(curve_res.table(), objective, target)
        write_folder(folder, files)
        console.print(f"wrote {', '.join(files)} in {out}")
    elif out:
        write_document(doc, out, res.table())
        console.print(f"wrote {out}")
    if as_json:
        emit_json(doc)
        return
    stdout.print(strike_table(
        f"{g.name}: worst {k} {target} strikes by {objective}, cascade {cascade_mode}",
        [(str(s.rank), s) for s in res.attacks], target, objective, known))
    how = {"exhaustive": f"every one of the {res.sets:,} sets",
           "milp": "the interdiction MILP", "search": "search"}[res.method]
    line = f"{how}; {res.evaluated:,} sets evaluated in {res.elapsed_s:.1f} s; "
    if res.optimal:
        line += "the worst set is proven worst"
    elif res.bound is not None:
        line += f"bound {res.bound:,.2f}, gap {100 * res.gap:.1f} %"
    else:
        line += "no bound known (the search is a heuristic)"
    stdout.print(line, soft_wrap=True)
    if res.greedy is not None:
        stdout.print(f"sequential greedy attacker: {res.greedy.value(objective):,.2f} "
                     f"({escape(' + '.join(res.greedy.elements))})", soft_wrap=True)
    if curve_res is not None:
        t = Table(title=f"worst k strikes beside {n_random} random failures ({objective})")
        for head in ("k", "worst", "random mean", "random p95", "random max", "worst / mean"):
            t.add_column(head, justify="right")
        for p in curve_res.points:
            t.add_row(str(p.k), _num(p.worst, 2), _num(p.random_mean, 2),
                      _num(p.random_p95, 2), _num(p.random_max, 2), _num(p.ratio, 1))
        stdout.print(t)
