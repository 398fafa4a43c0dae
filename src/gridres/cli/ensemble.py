"""`gridres ensemble GRID --scenario SPEC --n N --seed S`: many scenarios, their statistics."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shlex
import signal
import threading
from collections.abc import Iterator

import click
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from gridres.cli._deficit import check_rotation_options, group_options, profile_option
from gridres.cli.common import (
    cascade_options,
    console,
    emit_json,
    fleet_options,
    force_option,
    grid_argument,
    json_option,
    load,
    output_folder,
    scheduler_option,
    stdout,
    workers_option,
)
from gridres.errors import UsageError


class _RateColumn(ProgressColumn):
    """Scenarios per second."""

    def render(self, task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} scen/s" if speed else "-- scen/s", style="progress.data.speed")


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """``kill PID`` stops a run as Ctrl-C does: finished parts kept, resume printed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def scenario_generator(spec: str, grid, cascade=None):
    """The generator of a ``--scenario`` spec (see ``gridres.scenarios.spec``; an
    ``adaptive`` attacker judges its strikes with the command's ``cascade``)."""
    if importlib.util.find_spec("gridres.scenarios.spec") is None:
        raise UsageError(
            f"--scenario {spec!r}: this gridres cannot read scenario specs "
            "(gridres.scenarios.spec is missing); use the library's run_ensemble instead"
        )
    from gridres.adversary import scenario_generator as generator_of

    return generator_of(spec, grid, cascade=cascade)


def _fmt(v, whole: bool = False) -> str:
    """A number for the tables; ``whole`` (customers, people): a whole number; None
    (unknown, such as customers on a grid without customer data): ``n/a``."""
    if v is None:
        return "n/a"
    if whole:
        return f"{round(v):,}"
    if v == 0:
        return "0"
    return f"{v:.3g}" if abs(v) < 1 else f"{v:,.1f}"


def print_summary(doc: dict, top: int = 10) -> None:
    """Rich tables of an ensemble summary document on stdout."""
    grid = (doc.get("grid") or {}).get("name", "grid")
    t = Table(title=f"{grid}: {doc['completed']:,} of {doc['n']:,} scenarios "
                    f"({doc['scenario']}), seed {doc['seed']}")
    t.add_column("metric")
    for col in ("mean", "median", "p95", "CVaR95", "max"):
        t.add_column(col, justify="right")
    for name, st in doc["metrics"].items():
        whole = name in ("customers_out", "people_out")
        t.add_row(name, *(_fmt(st[k], whole) for k in ("mean", "median", "p95", "cvar95",
                                                        "max")))
    stdout.print(t)
    load = doc.get("total_load_mw") or 0.0
    mean_shed = doc["metrics"].get("shed_mw", {}).get("mean") or 0.0
    share = f" ({mean_shed / load:.2%} of {load:,.0f} MW on average)" if load else ""
    stdout.print(f"P(any load shed) = {doc['p_shed']:.4f}{share}; "
                  f"{doc['buses_ever_dark']:,} bus(es) ever without supply")
    facs = [f for f in doc["facilities"] if f["dark"] > 0][:top]
    if facs:
        ft = Table(title="Critical facilities most often dark")
        ft.add_column("facility")
        ft.add_column("P(dark)", justify="right")
        for f in facs:
            ft.add_row(f["id"], f"{f['p_dark']:.4f}")
        stdout.print(ft)
    elif doc["facilities"]:
        stdout.print(f"No critical facility went dark ({len(doc['facilities'])} checked).")
    if doc["buses"]:
        bt = Table(title="Buses most often without supply")
        bt.add_column("bus")
        bt.add_column("P(loss of supply)", justify="right")
        for b in doc["buses"][:top]:
            bt.add_row(b["id"], f"{b['p_dark']:.4f}")
        stdout.print(bt)
    if doc["top_failed"]:
        et = Table(title="Most frequently failed elements")
        for col in ("element", "initial", "tripped", "P(failed)"):
            et.add_column(col, justify="left" if col == "element" else "right")
        for e in doc["top_failed"][:top]:
            et.add_row(e["element"], f"{e['initial']:,}", f"{e['tripped']:,}", f"{e['p']:.4f}")
        stdout.print(et)


@click.command("ensemble")
@grid_argument
@click.option("--scenario", "scenario_spec", required=True, metavar="SPEC",
              help="Scenario generator, e.g. random:k=3.")
@click.option("--n", "n", type=click.IntRange(min=1), required=True, help="Number of scenarios.")
@click.option("--seed", type=click.IntRange(min=0), required=True,
              help="Seed: scenario i draws from default_rng([seed, i]).")
@workers_option
@scheduler_option
@click.option("--out", type=click.Path(file_okay=False),
              help="Results folder (manifest, Parquet parts, summary.json); needed to resume.")
@click.option("--resume", is_flag=True, help="Continue an interrupted run in --out.")
@cascade_options
@click.option("--batch-size", type=click.IntRange(min=1), default=None,
              help="Scenarios per batch [default: 16..128, about 16 batches per worker].")
@click.option("--restore", is_flag=True,
              help="Simulate restoration of every scenario and compare policies on them.")
@click.option("--policy", "policies", multiple=True, metavar="NAME",
              help="Restoration policy to compare (repeatable; with --restore) "
                   "[default: greedy]. The first is the baseline of the paired differences.")
@click.option("--crews", type=click.IntRange(min=1), default=3, show_default=True,
              help="Repair crews (with --restore).")
@click.option("--repair-sigma", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Lognormal sigma of repair-time uncertainty (with --restore).")
@click.option("--priority-file", type=click.Path(dir_okay=False),
              help="Planner's repair order, one KIND:ID per line (adds policy priority-list).")
@fleet_options
@profile_option
@click.option("--start", metavar="ISO",
              help="When every event starts (with --restore and --profile) [default: "
                   "2025-01-06T00:00, a winter Monday].")
@click.option("--rotation", is_flag=True,
              help="With --restore: also share deficits by rotating groups; every policy "
                   "runs twice (POLICY and POLICY+rotation).")
@group_options
@force_option
@json_option
def command(grid: str, scenario_spec: str, n: int, seed: int, workers: int | None,
            scheduler: str | None, out: str | None, resume: bool, cascade_mode: str, margin: float,
            batch_size: int | None, restore: bool, policies: tuple[str, ...], crews: int,
            repair_sigma: float, priority_file: str | None, outside_c: float | None,
            profile: str | None, start: str | None, rotation: bool, n_groups: int,
            block_h: int, groups_file: str | None, protect: str, force: bool, as_json: bool,
            fleet: dict | None = None) -> None:
    """Run N seeded outage scenarios on GRID in parallel and summarise them.

    Scenario i uses default_rng([seed, i]): results do not depend on --workers. With
    --out, every finished batch is written at once; after Ctrl-C or a crash, the same
    command with --resume finishes the run with the same totals. The --out folder is
    locked while the run lasts; one that holds files gridres did not write is refused
    unless --force (they are kept). More than 1,000,000 scenarios need --force.
    """
    from gridres.cascade import CascadeOptions
    from gridres.ensemble import EnsembleInterrupted, ImpactEvaluator, run_ensemble
    from gridres.limits import enforce, scenarios_estimate

    if resume and not out:
        raise UsageError("--resume needs --out DIR (the folder of the run to continue)")
    check_rotation_options(rotation)
    enforce(scenarios_estimate(n), force=force, option="--n")
    if out:
        output_folder(out)
    g = load(grid)
    cascade = CascadeOptions(cascade_mode, margin)
    generator = scenario_generator(scenario_spec, g, cascade)
    evaluator = ImpactEvaluator(cascade)
    names: tuple[str, ...] = ()
    demand = (profile, start, rotation, (n_groups, block_h, groups_file, protect))
    if restore:
        evaluator, names = _restoration(g, evaluator, policies, crews, repair_sigma,
                                        priority_file, cascade, fleet or {}, outside_c,
                                        demand)
    elif (policies or priority_file or fleet or outside_c is not None or profile or start
          or rotation):
        raise UsageError("--policy, --priority-file, the fleet options, --outside-temp-c, "
                         "--profile, --start and --rotation are for restoration; add --restore")
    columns = (TextColumn("[progress.description]{task.description}"), BarColumn(),
               MofNCompleteColumn(), _RateColumn(), TimeElapsedColumn(), TextColumn("ETA"),
               TimeRemainingColumn())
    # no refresh thread: local workers are forked from this process
    with Progress(*columns, console=console, auto_refresh=False, transient=True,
                  disable=not console.is_terminal) as bar:
        task = bar.add_task("scenarios", total=n)
        started = []

        def progress(done: int, total: int) -> None:
            if not started:
                started.append(done)
                bar.reset(task, total=total, completed=done)
            else:
                bar.update(task, completed=done)
            bar.refresh()

        try:
            with _sigterm_as_interrupt():
                res = run_ensemble(g, generator, n, seed, workers=workers, out=out,
                                   resume=resume, evaluator=evaluator, scheduler=scheduler,
                                   batch_size=batch_size, scenario_spec=scenario_spec,
                                   progress=progress, force=force)
        except EnsembleInterrupted as exc:
            if exc.out is not None:
                cmd = ["gridres", "ensemble", grid, "--scenario", scenario_spec, "--n", str(n),
                       "--seed", str(seed), "--out", str(out), "--cascade-mode", cascade_mode,
                       "--margin", str(margin), "--resume"]
                if restore:
                    cmd += ["--restore", "--crews", str(crews), "--repair-sigma",
                            str(repair_sigma)]
                    cmd += [a for p in policies for a in ("--policy", p)]
                    cmd += ["--priority-file", priority_file] if priority_file else []
                    cmd += _fleet_args(fleet or {}, outside_c)
                    cmd += ["--profile", profile] if profile else []
                    cmd += ["--start", start] if start else []
                    cmd += (["--rotation", "--groups", str(n_groups), "--block-h",
                             str(block_h), "--protect", protect] if rotation else [])
                    cmd += ["--groups-file", groups_file] if rotation and groups_file else []
                exc.args = (f"{exc.args[0]}: {shlex.join(cmd)}",)
            raise
    doc = res.summary.to_dict()
    if names:
        doc["restoration"] = _compare(res, names, seed, g.network.has_customers)
    if res.n_resumed:
        console.print(f"resumed: {res.n_resumed:,} scenarios were already done")
    if res.n_run:
        backend = f"scheduler {scheduler}" if scheduler else f"{workers or os.cpu_count()} worker(s)"
        console.print(f"{res.n_run:,} scenarios in {res.elapsed_s:.1f} s "
                      f"({res.scenarios_per_s:,.0f}/s, {backend})")
    if as_json:
        emit_json({**doc, "out": str(res.out) if res.out else None, "n_run": res.n_run,
                   "n_resumed": res.n_resumed, "elapsed_s": round(res.elapsed_s, 3)})
        return
    print_summary(doc)
    if names:
        print_restoration(doc["restoration"])
    if res.out:
        console.print(f"wrote {res.out}/summary.json and {res.out}/parts/")


def _fleet_args(fleet: dict, outside_c: float | None) -> list[str]:
    """The fleet options and outside temperature again, for the command that resumes."""
    def where(d) -> str:
        return d if isinstance(d, str) else f"{d[0]},{d[1]}"

    args = [*(["--fuel-trucks", str(fleet["fuel_trucks"])] if "fuel_trucks" in fleet else []),
            *(a for d in fleet.get("fuel_depots", ()) for a in ("--fuel-depot", where(d))),
            *(["--fuel-stock-l", str(fleet["fuel_stock_l"])] if "fuel_stock_l" in fleet
              else []),
            *(a for mw, d in fleet.get("mobile_generators", ())
              for a in ("--mobile-gen", f"{mw}@{where(d)}" if d else str(mw)))]
    return args + (["--outside-temp-c", str(outside_c)] if outside_c is not None else [])


def _restoration(grid, impact, policies, crews, sigma, priority_file, cascade, fleet,
                 outside_c, demand):
    """Wrap the impact evaluator with restoration under every policy (and, with a
    rotation, every policy rotating)."""
    from gridres.cli._deficit import demand_temperature
    from gridres.restoration import (
        RestorationEvaluator,
        RestorationSettings,
        policy_names,
        read_priority_file,
    )
    from gridres.restoration.fleets import split_policy
    from gridres.restoration.policies import needs_priority

    names = tuple(policies or ("greedy",))
    unknown = [p for p in names if split_policy(p)[0] not in policy_names()]
    if unknown:
        raise UsageError(f"--policy {unknown[0]!r}: unknown policy; choose from "
                         f"{', '.join(policy_names())} (optionally /RULE for mobile "
                         "generators)")
    priority = read_priority_file(priority_file).elements if priority_file else ()
    if priority and not needs_priority(names):
        names += ("priority-list",)
    settings = RestorationSettings(crews=crews, repair_sigma=sigma, **fleet)
    profile, start, rotation, (n_groups, block_h, groups_file, protect) = demand
    tl = None
    if profile or start or rotation:
        from gridres.restoration.demand import DemandSettings, timeline
        from gridres.restoration.rotation import RotationSettings

        rot = (RotationSettings(groups=n_groups, block_h=block_h, protect=protect,
                                groups_file=groups_file) if rotation else None)
        demand_settings = DemandSettings(
            profile=profile, start=start, temperature_c=demand_temperature(profile, outside_c))
        tl = timeline(grid, demand_settings, rot, horizon_h=settings.horizon_h)
    evaluator = RestorationEvaluator.for_grid(grid, settings, names, priority, impact=impact,
                                              cascade=cascade, outside_c=outside_c,
                                              timeline=tl)
    return evaluator, tuple(evaluator.runs)


_METRICS = (("ens_mwh", "energy not served (MWh)"), ("customer_hours", "customer-hours"),
            ("facility_hours_dark", "facility-hours dark"),
            ("longest_outage_h", "longest outage of a customer (h)"),
            ("jain_customers", "fairness: Jain's index over customers (1 = equal)"),
            *((f"service_people_hours_{s}", f"people-hours without {s}")
              for s in ("power", "water", "heat", "telecom", "health")))


def _compare(res, names: tuple[str, ...], seed: int, customers: bool = True) -> dict:
    """Per-metric comparison of policies on the ensemble's common scenarios: expected
    value, p95 and the paired difference against the first policy with its 95 % CI
    (customer-hours null where the grid has no customer data); and per policy every
    metric of :func:`gridres.restoration.metrics.policy_summary` (restoration times over
    the events that lost load)."""
    from gridres.ensemble import load_records
    from gridres.restoration import RestorationSettings, compare_policies
    from gridres.restoration.metrics import CUSTOMER_METRICS, policy_summary

    records = load_records(res.out) if res.out else res.records
    out = {"baseline": names[0], "metrics": {}, "policies": {}}
    for metric, _ in _METRICS:
        table = compare_policies(records, names, metric, baseline=names[0], seed=seed)
        rows = table.reset_index().to_dict(orient="records")
        if metric in CUSTOMER_METRICS and not customers:
            rows = [{k: (v if k in ("policy", "n") else None) for k, v in r.items()}
                    for r in rows]
        out["metrics"][metric] = rows
    horizon = RestorationSettings().horizon_h
    for p in names:
        out["policies"][p] = policy_summary(records, p, horizon, customers=customers)
    return out


def print_restoration(doc: dict) -> None:
    """Rich tables of a policy comparison on stdout: the losses, paired, then the
    restoration times over the events that lost load (people-hours without a service
    only where someone lacked it)."""
    for metric, title in _METRICS:
        rows = doc["metrics"][metric]
        if metric.startswith("service_") and not any((r["mean"] or 0) > 0 for r in rows):
            continue
        t = Table(title=f"Restoration: {title} (paired against {doc['baseline']})")
        for col in ("policy", "mean", "p95", "difference", "95 % CI"):
            t.add_column(col, justify="left" if col == "policy" else "right")
        for r in rows:
            ci = ("-" if r["policy"] == doc["baseline"]
                  else f"[{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]")
            t.add_row(r["policy"], _fmt(r["mean"]), _fmt(r["p95"]), _fmt(r["diff"]), ci)
        stdout.print(t)
    times = Table(title="Restoration times over the events that lost load: median "
                        "(9 in 10 within), hours")
    for col in ("policy", "events with loss", "half of the lost load back",
                "90 % back", "all back"):
        times.add_column(col, justify="left" if col == "policy" else "right")
    for policy, m in doc.get("policies", {}).items():
        ev = m.get("events", {})
        cells = [f"{_fmt(m[t]['median'])} ({_fmt(m[t]['p90'])})" if ev.get("with_loss")
                 else "-" for t in ("t50_h", "t90_h", "t100_h") if t in m]
        times.add_row(policy, f"{ev.get('with_loss', 0):,} of {ev.get('n', 0):,}", *cells)
    stdout.print(times)
