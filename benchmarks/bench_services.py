"""Time the service evaluation against the restoration it will follow in an ensemble.

Run: ``.venv/bin/python benchmarks/bench_services.py [--n 20] [--policies greedy,...]``.

On the demo region, storms of the demo study (``circle`` wind footprint over Vellburg,
cascade ``trip``, 4 crews) are restored under each policy; every run's schedule is
replayed through ``assess`` to get the facilities' power over time (grid power at each
repair, backups running down), and ``evaluate_services`` plus ``people_hours`` is timed
on that timeline: the call an ensemble will make per scenario and policy. The figure is
its cost per scenario (all policies) as a share of the restoration's own cost per
scenario (``simulate`` for all policies); the target of the services issue is under
20 %. Compiling the service model, once per grid, is printed apart. The machine is
shared: the load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from gridres.impact import assess, backup_covers
from gridres.io import load_grid
from gridres.restoration import RestorationSettings, prepare, simulate
from gridres.scenarios.spec import scenario_from_spec
from gridres.services import PowerTimeline, compile_services, evaluate_services

SPEC = "circle:lon=13.58,lat=48.40,radius_km=40,peak=46,hazard=wind"
TARGET = 0.20


def _load() -> str:
    return "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())


def replay(grid, scenario, schedule, horizon_h: float) -> PowerTimeline:
    """Facility power along a restoration run: grid power after each repair (assessed
    with the engine), backup covering a facility for its backup hours of outage."""
    net = grid.network
    state = scenario.final_state(net)
    tables = {"bus": "buses", "branch": "branches", "gen": "generators"}
    done = schedule.dropna(subset=["end_h"]).sort_values("end_h")
    times = [0.0]
    on_grid = [assess(net, state).facility == "grid"]
    for end, group in done.groupby("end_h", sort=True):
        masks = [state.bus.copy(), state.branch.copy(), state.gen.copy()]
        for token in group["element"]:
            kind, _, ident = token.partition(":")
            pos = grid.lookup(tables[kind], [ident])
            masks[("bus", "branch", "gen").index(kind)][pos] = True
        state = type(state)(*masks)
        times.append(float(end))
        on_grid.append(assess(net, state).facility == "grid")
    covered = backup_covers(net)
    # backup use accumulates over outages; insert the instants backups run dry
    grid_rows = np.array(on_grid)
    left = np.where(covered, net.fac_backup_hours, 0.0)
    out_t, out_p, out_g = [], [], []
    ends = [*times[1:], horizon_h]
    for k, (t0, t1) in enumerate(zip(times, ends, strict=True)):
        cuts = np.unique(left[~grid_rows[k] & (left > 0) & (left < t1 - t0)])
        for start in [0.0, *cuts]:
            out_t.append(t0 + start)
            out_p.append(grid_rows[k] | (left - start > 0))
            out_g.append(grid_rows[k])
        left = np.where(grid_rows[k], left, np.maximum(left - (t1 - t0), 0.0))
    keep = np.r_[True, np.diff(out_t) > 0]
    return PowerTimeline(np.array(out_t)[keep], np.array(out_p)[keep], np.array(out_g)[keep])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20, help="storms (default 20)")
    parser.add_argument("--policies", default="greedy,critical-first,nearest")
    parser.add_argument("--repeats", type=int, default=20,
                        help="timed calls per timeline (the median is kept)")
    args = parser.parse_args()
    grid = load_grid("demo_region")
    net = grid.network
    policies = args.policies.split(",")
    t0 = time.perf_counter()
    model = compile_services(grid)
    compile_s = time.perf_counter() - t0
    settings = RestorationSettings(crews=4, depots=("VBS-110", "OST-110"), horizon_h=336.0)
    assets = prepare(grid, settings)
    gen = scenario_from_spec(SPEC, grid)
    restore_s, services_s, rows = [], [], []
    for i in range(args.n):
        rng = np.random.default_rng([20240611, i])
        sc = gen.sample(net, rng)
        per_restore, per_services = 0.0, 0.0
        for policy in policies:
            t0 = time.perf_counter()
            res = simulate(net, assets, sc, policy, seed=np.random.default_rng([7, i]))
            per_restore += time.perf_counter() - t0
            tl = replay(grid, sc, res.schedule, res.metrics["end_h"])
            calls = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                out = evaluate_services(model, tl, end_h=res.metrics["end_h"])
                out.people_hours()
                calls.append(time.perf_counter() - t0)
            per_services += float(np.median(calls))
            rows.append(len(tl.times_h))
        restore_s.append(per_restore)
        services_s.append(per_services)
    restore, services = np.array(restore_s), np.array(services_s)
    share = services.sum() / restore.sum()
    print(f"demo_region: {len(net.fac_ids)} facilities, {len(grid.towns)} towns; "
          f"compile_services {compile_s * 1e3:.1f} ms (once per grid)")
    print(f"{args.n} storms ({SPEC}), policies {', '.join(policies)}: power timelines of "
          f"{np.median(rows):.0f} rows (median, max {max(rows)})")
    print(f"evaluate_services + people_hours: median {np.median(services) / len(policies) * 1e3:.2f}"
          f" ms per call; restoration {np.median(restore) / len(policies) * 1e3:.1f} ms per "
          "policy run (median)")
    verdict = "PASS" if share < TARGET else "MISS"
    print(f"services / restoration per scenario: {share:.1%} (target < {TARGET:.0%}) {verdict}")
    print(_load())


if __name__ == "__main__":
    main()
