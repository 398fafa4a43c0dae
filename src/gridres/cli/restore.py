"""`gridres restore GRID --fail KIND:ID ... | --scenario SPEC --crews 3 --policy greedy`:
how fast power comes back, and in what order to repair."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import click
import numpy as np
from rich.markup import escape
from rich.table import Table

from gridres.cli._deficit import (
    capacity_options,
    check_rotation_options,
    demand_temperature,
    derate_values,
    group_options,
    profile_option,
)
from gridres.cli.common import (
    cascade_options,
    console,
    emit_json,
    fail_option,
    failed_elements,
    failed_state,
    fleet_options,
    force_option,
    grid_argument,
    hold_folder,
    json_option,
    load,
    place,
    stdout,
)
from gridres.errors import UsageError
from gridres.io.jsondoc import jsonable

__all__ = ["command"]

_COLUMNS = ("ens_mwh", "customer_hours", "facility_hours_dark", "people_hours", "t50_h",
            "t90_h", "t100_h", "waves_stock_lasted")
#: How a deficit was shared, per run (and compared between shedding and rotation).
_SHARING = ("customer_hours", "longest_outage_h", "mean_longest_outage_h", "jain_customers",
            "customers_affected", "deficit_mwh", "switched_mwh", "ens_mwh")


def _pairs(values: tuple[str, ...], option: str, cast) -> dict:
    out = {}
    for v in values:
        kind, sep, num = v.partition("=")
        if not sep:
            raise UsageError(f"{option} {v!r}: write KIND=VALUE (e.g. {option} transformer=3)")
        try:
            out[kind.strip()] = cast(num)
        except ValueError:
            raise UsageError(f"{option} {v!r}: {num!r} is not a number") from None
    return out


def _scenario(g, fails: tuple[str, ...], spec: str | None, rng, label: str, cascade):
    from gridres.scenarios.base import Scenario

    if fails and spec:
        raise UsageError("give either --fail or --scenario, not both")
    if fails:
        return Scenario.from_state(g.network, failed_state(g, fails, label), label="--fail")
    if not spec:
        raise UsageError("say what fails: --fail KIND:ID (repeatable) or --scenario SPEC")
    if rng is None:
        raise UsageError("--scenario needs --seed N (the scenario is drawn from it)")
    from gridres.cli.ensemble import scenario_generator

    gen = scenario_generator(spec, g, cascade)
    return gen if isinstance(gen, Scenario) else gen.sample(g.network, rng)


def _fail_order(g, fails: tuple[str, ...], label: str) -> tuple[str, ...]:
    """The --fail elements as repair-order tokens (a substation: its buses, in order)."""
    return tuple(dict.fromkeys(failed_elements(g, fails, label)))


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def _fmt(v) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float) and math.isnan(v):
        return "not reached"
    if isinstance(v, float):
        return f"{v:,.1f}"
    return str(v)


@click.command("restore")
@grid_argument
@fail_option("A failed element: bus:ID, branch:ID, gen:ID or substation:NAME "
             "(repeatable; as-listed follows this order).")
@click.option("--scenario", "spec", metavar="SPEC",
              help="Instead of --fail: a scenario spec drawn with --seed (as scenario 0 of "
                   "gridres ensemble), e.g. random:k=3,elements=branch or "
                   "circle:lon=13.6,lat=48.4,radius_km=30,peak=45 (wind gusts in m/s).")
@click.option("--seed", type=click.IntRange(min=0), default=None,
              help="Seed of the scenario draw and of repair-time uncertainty.")
@click.option("--policy", "policies", multiple=True, metavar="NAME",
              help="Policy to simulate (repeatable): as-listed, largest-load-first, "
                   "critical-first, greedy, nearest, optimal, priority-list; NAME/RULE also "
                   "sets how mobile generators are sent (critical-first, people-per-mw, "
                   "nearest), e.g. greedy/nearest. [default: greedy]")
@click.option("--priority-file", type=click.Path(dir_okay=False),
              help="Repair order for priority-list: one KIND:ID per line.")
@click.option("--crews", type=int, default=3, show_default=True,
              help="Repair crews working at the same time (1 or more).")
@click.option("--depot", "depots", multiple=True, metavar="BUS|X,Y",
              help="Crew depot: a bus id or x,y in the grid's CRS (repeatable).")
@click.option("--speed-kmh", type=float, default=40.0, show_default=True,
              help="Crew travel speed in km/h.")
@click.option("--road-factor", type=float, default=1.3, show_default=True,
              help="Road distance over straight-line distance.")
@click.option("--repair-sigma", type=float, default=0.0, show_default=True,
              help="Spread of repair times: the log standard deviation of lognormal "
                   "factors on the nominal hours, 0 to 3 (needs --seed when > 0).")
@click.option("--spares", "spares", multiple=True, metavar="KIND=N",
              help="Spares in stock per kind, e.g. transformer=3 [default: transformer=2].")
@click.option("--lead-time", "lead", multiple=True, metavar="KIND=HOURS",
              help="Spare lead time per kind, e.g. transformer=500 [default: 768].")
@click.option("--needs-spare", "needs", multiple=True, metavar="KIND",
              help="Another kind whose repair needs a spare: bus, generator or line.")
@click.option("--horizon-h", type=float, default=8760.0, show_default=True,
              help="Hours after the first failure at which the simulation stops, even if "
                   "repairs remain.")
@fleet_options
@profile_option
@click.option("--start", metavar="ISO",
              help="When the event starts, e.g. 2025-01-15T17:00: with --profile, the hours "
                   "of the day and the season it falls in [default: 2025-01-06T00:00, a "
                   "winter Monday].")
@capacity_options
@click.option("--capacity-file", type=click.Path(dir_okay=False), metavar="F",
              help="Available MW per hour for the whole grid (columns time or hour, "
                   "capacity_mw), on top of the generators lost and repaired.")
@click.option("--rotation", is_flag=True,
              help="Also share a deficit by rotating groups of customers (published "
                   "blocks) instead of shedding the same ones: every policy runs twice, "
                   "as POLICY and POLICY+rotation, compared in customer-hours, longest "
                   "outage per customer and fairness.")
@group_options
@cascade_options
@json_option
@click.option("--out", type=click.Path(file_okay=False),
              help="Folder for curves, schedules (CSV and JSON), facilities, services and "
                   "summary.")
@force_option
def command(grid: str, fails: tuple[str, ...], spec: str | None, seed: int | None,
            policies: tuple[str, ...], priority_file: str | None, crews: int,
            depots: tuple[str, ...], speed_kmh: float, road_factor: float, repair_sigma: float,
            spares: tuple[str, ...], lead: tuple[str, ...], needs: tuple[str, ...],
            horizon_h: float, outside_c: float | None, profile: str | None,
            start: str | None, derates: tuple[str, ...], ties: tuple[str, ...],
            import_limit_mw: float | None, capacity_file: str | None, rotation: bool,
            n_groups: int, block_h: int, groups_file: str | None, protect: str,
            cascade_mode: str, margin: float, as_json: bool, out: str | None,
            force: bool, fleet: dict | None = None) -> None:
    """Simulate repairs after the failures and compare restoration policies.

    Crews travel to failed elements, wait for spares where needed and repair; after each
    repair the grid is re-assessed by the engine with --cascade-mode and --margin, as
    `gridres outage` does (the lost load at time 0 is outage's shed load). Prints energy
    not served, customer-hours, facility hours dark and the hours until half, 90 % and
    all of the lost load is back (t50_h, t90_h, t100_h; 0 when no load was lost) per
    policy, and the people-hours without power, water, heat, telecom, health care,
    shelter and emergency response. Backup generators run on their tanks
    (backup_hours at their demand), refilled by --fuel-trucks; --mobile-gen units power
    dark facilities.

    With --profile (and --start) demand follows the hours of the event; --derate, --tie
    with --import-limit-mw and --capacity-file limit the capacity; --rotation compares
    shedding with rotating groups when capacity is short.

    \b
    gridres restore demo_region --fail gen:G-HAL-1 --fail gen:G-TIE-1 --fail gen:G-TIE-2 \\
        --profile typical --start 2025-01-15T16:00 --rotation --groups 8 --block-h 4
    """
    from gridres.cascade import CascadeOptions
    from gridres.restoration import (
        PriorityList,
        RestorationSettings,
        get_policy,
        prepare,
        read_priority_file,
        simulate,
    )
    from gridres.restoration.policies import WithDispatch, needs_priority
    from gridres.restoration.simulate import repair_multipliers

    check_rotation_options(rotation)
    if out:
        hold_folder(out, force=force)
    g = load(grid)
    settings = RestorationSettings().replace(
        crews=crews, depots=tuple(place(d) for d in depots), speed_kmh=speed_kmh,
        road_factor=road_factor, repair_sigma=repair_sigma, horizon_h=horizon_h,
        **(fleet or {}),
        **({"spare_stock": {**RestorationSettings().spare_stock,
                            **_pairs(spares, "--spares", int)}} if spares else {}),
        **({"spare_lead_time_h": {**RestorationSettings().spare_lead_time_h,
                                  **_pairs(lead, "--lead-time", float)}} if lead else {}),
        **({"needs_spare": tuple(needs)} if needs else {}),
    )
    rng = np.random.default_rng([seed, 0]) if seed is not None else None
    cascade = CascadeOptions(cascade_mode, margin)
    scenario = _scenario(g, fails, spec, rng, label=grid, cascade=cascade)
    if repair_sigma > 0 and rng is None:
        raise UsageError("--repair-sigma needs --seed N (repair times are drawn from it)")
    mult = repair_multipliers(scenario, repair_sigma, rng)
    priority = read_priority_file(priority_file) if priority_file else None
    if priority is not None:
        priority.check(g)
    names = list(dict.fromkeys(policies or ("greedy",)))
    if priority is not None and not needs_priority(names):
        names.append("priority-list")
    chosen = []
    for name in names:
        if name.partition("/")[0] == "priority-list":
            if priority is None:
                raise UsageError(f"--policy {name} needs --priority-file FILE")
            rule = get_policy(name, ()) if "/" in name else None
            chosen.append((name, priority if rule is None
                           else WithDispatch(priority, rule.mobile_dispatch, name)))
        elif name.partition("/")[0] == "as-listed" and fails:
            listed = PriorityList(_fail_order(g, fails, grid), name="as-listed")
            rule = get_policy(name) if "/" in name else None
            chosen.append((name, listed if rule is None
                           else WithDispatch(listed, rule.mobile_dispatch, name)))
        else:
            chosen.append((name, get_policy(name)))

    assets = prepare(g, settings, outside_c=outside_c)
    net = g.network
    tl = None
    if (profile or start or derates or ties
            or import_limit_mw is not None or capacity_file or rotation):
        from gridres.restoration.demand import DemandSettings, timeline
        from gridres.restoration.rotation import RotationSettings

        demand = DemandSettings(profile=profile, start=start,
                                temperature_c=demand_temperature(profile, outside_c),
                                derate=derate_values(derates), ties=tuple(ties),
                                import_limit_mw=import_limit_mw, capacity_file=capacity_file)
        rot = (RotationSettings(groups=n_groups, block_h=block_h, protect=protect,
                                groups_file=groups_file) if rotation else None)
        tl = timeline(g, demand, rot, horizon_h=horizon_h)
    from gridres.restoration.demand import policy_runs

    fns = dict(chosen)
    results = {}
    for name, policy, run_tl in policy_runs(list(fns), tl):
        results[name] = simulate(net, assets, scenario, fns[policy], multipliers=mult,
                                 cascade=cascade, timeline=run_tl)

    rows = []
    for name, res in results.items():
        m = dict(res.metrics)
        if not net.has_customers:  # unknown, not zero
            m["customer_hours"] = None
        rows.append({"policy": name, **{k: m[k] for k in _COLUMNS},
                     "people_affected": m["people_affected"],
                     "peak_lost_mw": m["peak_lost_mw"], "end_h": m["end_h"],
                     "repairs": m["repairs"], "unfinished": m["unfinished"],
                     "service_people_hours": m["service_people_hours"],
                     **{k: m[k] for k in _SHARING if k not in _COLUMNS},
                     "notes": list(res.notes)})
    doc = {
        "grid": g.name,
        "scenario": scenario.to_ids(net),
        "seed": seed,
        "settings": settings.to_dict(),
        "cascade_mode": cascade_mode,
        "margin": margin,
        "outside_c": assets.outside_c,
        "travel": "straight-line" if np.isfinite(assets.bus_xy).any() else "none (no geometry)",
        "policies": rows,
        "details": {
            name: {
                "facility_hours_dark_by_facility":
                    res.metrics["facility_hours_dark_by_facility"],
                "schedule": res.schedule.to_dict(orient="records"),
                "curve": res.curve.to_dict(orient="records"),
                **{k: v for k, v in res.to_dict().items() if k in ("fleets", "services")},
                **({"deficit": res.deficit.to_dict()} if tl is not None else {}),
                **({"chosen_waves": [dict(w) for w in res.chosen_waves]}
                   if res.chosen_waves else {}),
            }
            for name, res in results.items()
        },
    }
    if tl is not None:
        doc["demand"] = {"profile": tl.profile, "start": tl.start.isoformat(),
                         # None: the profile's own seasonal temperature
                         "temperature_c": demand_temperature(profile, outside_c),
                         "capacity": tl.capacity or "the generators alive",
                         "notes": list(tl.notes)}
    if tl is not None and tl.rotation is not None:
        doc["rotation"] = _rotation_doc(tl, list(fns), results)
    if out:
        _write(Path(out), doc, results)
    if as_json:
        emit_json(doc)
        return
    _table(g.name, scenario, rows)
    _services_table(rows)
    if "rotation" in doc:
        _sharing_table(doc["rotation"])
    for name, res in results.items():
        for w in res.chosen_waves:
            console.print(f"{escape(name)}: at {w['time_h']:g} h the attacker strikes "
                          f"{escape(', '.join(w['targets']))}", soft_wrap=True)
    for name, res in results.items():
        for note in res.notes:
            console.print(f"[yellow]{name}:[/yellow] {note}")
    if not np.isfinite(assets.bus_xy).any():
        console.print("no bus coordinates: travel time is 0")
    if out:
        console.print(f"wrote {out}/")


_HEADS = ("ENS MWh", "customer-h", "facility-h dark", "people-h", "half of lost load back h",
          "90 % back h", "all back h", "waves stock lasted")


def _table(grid_name: str, scenario, rows: list[dict]) -> None:
    """The comparison table: one row per policy where that fits the terminal, else one
    column per policy; numbers are never cut (they wrap as a last resort)."""
    n = sum(w.size for w in scenario.waves)
    title = (f"{grid_name}: restoration of {n} failed element(s) in "
             f"{len(scenario.waves)} wave(s)")
    if scenario.chosen is not None:
        title = f"{grid_name}: restoration against an {scenario.label}"
    best = min(r["ens_mwh"] for r in rows)
    names = [r["policy"] for r in rows]
    values = [[_fmt(r[k]) for k in _COLUMNS] for r in rows]
    shown = [f"[bold]{escape(name)}[/bold]" if r["ens_mwh"] <= best + 1e-9 else escape(name)
             for name, r in zip(names, rows, strict=True)]
    width = console.width
    wide = 1 + max(map(len, names + ["policy"])) + 3 + sum(
        max(max(map(len, h.split())), *(len(v[j]) for v in values)) + 3
        for j, h in enumerate(_HEADS))
    if wide <= width:
        t = Table(title=title)
        t.add_column("policy", no_wrap=True)
        for h in _HEADS:
            t.add_column(h, justify="right", no_wrap=False)
        for name, v in zip(shown, values, strict=True):
            t.add_row(name, *v)
        stdout.print(t)
        return
    tall = 1 + max(map(len, _HEADS)) + 3 + sum(
        max(len(name), *map(len, v)) + 3 for name, v in zip(names, values, strict=True))
    t = Table(title=title)
    t.add_column("metric", no_wrap=True)
    for name in shown:
        t.add_column(name, justify="right", no_wrap=tall <= width, overflow="fold")
    for j, h in enumerate(_HEADS):
        t.add_row(h, *(v[j] for v in values))
    stdout.print(t)


def _services_table(rows: list[dict]) -> None:
    """People-hours without power and each service, per policy (where anyone lacked one)."""
    keys = [k for k in rows[0]["service_people_hours"]
            if any(r["service_people_hours"][k] > 0 for r in rows)]
    if not keys:
        return
    t = Table(title="People-hours without each service")
    t.add_column("policy", no_wrap=True)
    for k in keys:
        t.add_column(k, justify="right")
    for r in rows:
        t.add_row(escape(r["policy"]), *(f"{r['service_people_hours'][k]:,.0f}" for k in keys))
    stdout.print(t)


def _rotation_doc(tl, policies: list[str], results: dict) -> dict:
    """Groups, and shedding against rotation per policy (same repairs, same hours)."""
    from gridres.restoration.rotation import rotation_variant

    plan = tl.rotation
    return {
        "block_h": plan.block_h,
        "groups": plan.table.to_dict(orient="records"),
        "comparison": [{
            "policy": p,
            "shedding": {k: results[p].metrics[k] for k in _SHARING},
            "rotation": {k: results[rotation_variant(p)].metrics[k] for k in _SHARING},
            "hours_off": {r["group"]: r["hours_off"] for r in
                          results[rotation_variant(p)].deficit.groups.to_dict("records")},
        } for p in policies],
    }


_SHARING_HEADS = {"customer_hours": "customer-h", "longest_outage_h": "longest out h",
                  "mean_longest_outage_h": "mean longest h",
                  "jain_customers": "Jain (1 = equal)", "ens_mwh": "ENS MWh"}


def _sharing_table(rot: dict) -> None:
    """Shedding against rotation: customer-hours, longest outage, fairness."""
    t = Table(title=f"sharing the deficit: shedding or rotating groups (blocks of "
                    f"{rot['block_h']} h)")
    t.add_column("policy", no_wrap=True)
    t.add_column("sharing", no_wrap=True)
    for head in _SHARING_HEADS.values():
        t.add_column(head, justify="right")
    for row in rot["comparison"]:
        for how in ("shedding", "rotation"):
            m = row[how]
            t.add_row(escape(row["policy"]), how,
                      *(f"{m[k]:.3f}" if k == "jain_customers" else _fmt(float(m[k]))
                        for k in _SHARING_HEADS))
    stdout.print(t)


def _write(folder: Path, doc: dict, results: dict) -> None:
    """Write every file atomically: summary.json, comparison.csv, and per policy
    curve_*.csv, schedule_*.csv, schedule_*.json, facilities_*.csv and services_*.csv
    (people without each service per town over time)."""
    import pandas as pd

    from gridres.io.folder import write_path

    folder.mkdir(parents=True, exist_ok=True)
    summary = {k: v for k, v in doc.items() if k != "details"}
    with write_path(folder / "summary.json") as tmp:
        tmp.write_text(json.dumps(jsonable(summary), indent=2), encoding="utf-8")
    table = pd.DataFrame(doc["policies"]).drop(columns=["notes"])
    with write_path(folder / "comparison.csv") as tmp:
        table.to_csv(tmp, index=False)
    for name, res in results.items():
        stem = _safe(name)
        with write_path(folder / f"curve_{stem}.csv") as tmp:
            res.curve.to_csv(tmp, index=False)
        with write_path(folder / f"schedule_{stem}.csv") as tmp:
            res.schedule.to_csv(tmp, index=False)
        with write_path(folder / f"schedule_{stem}.json") as tmp:
            tmp.write_text(json.dumps(jsonable(res.schedule.to_dict(orient="records")),
                                      indent=2), encoding="utf-8")
        with write_path(folder / f"facilities_{stem}.csv") as tmp:
            res.facilities.to_csv(tmp, index_label="id")
        if res.services is not None:
            with write_path(folder / f"services_{stem}.csv") as tmp:
                res.services.by_town().to_csv(tmp, index=False)
        if res.deficit is not None and "demand" in doc:
            with write_path(folder / f"hours_{stem}.csv") as tmp:
                res.deficit.hours.to_csv(tmp, index=False)
            if res.deficit.groups is not None:
                with write_path(folder / f"rotation_{stem}.csv") as tmp:
                    res.deficit.table().to_csv(tmp, index=False)
                with write_path(folder / f"groups_{stem}.csv") as tmp:
                    res.deficit.groups.to_csv(tmp, index=False)
