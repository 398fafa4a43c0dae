"""Time the evaluation of 50 candidate interventions on 1,000 scenarios of the demo region.

Run: ``.venv/bin/python benchmarks/bench_redundancy.py [--n 1000] [--candidates 50]
[--workers 2] [--study grids/studies/demo.toml] [--budget 10] [--no-reuse-sample 50]``.

The demo study's windstorm over Vellburg, with restoration (four crews, greedy policy);
candidates are generated (new lines at the weak points, backup at facilities, hardening
of the N-1 ranking's top assets, spares, a crew). It prints, with the load average of
the (shared) machine and the CPU time of the run:

* the base case (every scenario simulated) and the candidates (each on the same
  scenarios, results reused where exact), wall and CPU seconds, simulations run and
  reused, against the target of the redundancy issue (15 minutes for 50 candidates on
  1,000 scenarios);
* the greedy portfolio within ``--budget`` (re-evaluation after every pick);
* the cost per restoration run, and what the candidates would cost without reuse (the
  simulation count times that cost), which is how the figure scales.

Scaling: the work is (1 + candidates) × scenarios restoration runs without reuse; with
reuse each candidate simulates only the scenarios it can change (where its assets fail
or lose supply, where its facility goes dark, ...), so the time grows with the number of
candidates times the share of scenarios each one touches. Each run costs about the time
of one restoration (tens of ms on the demo region, growing with the number of failed
elements and the size of the grid); workers divide the wall time.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

from gridres.redundancy import PlanEvaluator, generate_candidates, greedy_portfolio
from gridres.study.check import analyse_study, raise_problems

#: Wall-time target of the redundancy issue: 50 candidates, 1,000 scenarios (seconds).
TARGET_S = 15 * 60.0
ROOT = Path(__file__).resolve().parents[1]


def _cpu() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--study", default=str(ROOT / "grids" / "studies" / "demo.toml"))
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--candidates", type=int, default=50)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--budget", type=float, default=10.0)
    args = ap.parse_args()

    checked = analyse_study(args.study, deep=True)
    raise_problems(checked)
    st = checked.study
    grid = checked.grid
    gen = checked.generators[0]
    settings = st.restoration.settings
    policy = st.restoration.policies[0] if st.restoration.policies else "greedy"
    print(f"{st.name}: {grid.name}, {args.n} scenarios, seed {st.seed}, policy {policy}, "
          f"{args.workers} workers, load average {os.getloadavg()[0]:.2f}")

    sample = min(100, args.n)
    t = time.perf_counter()
    with PlanEvaluator(grid, gen, settings, seed=st.seed, n=sample, policy=policy,
                       workers=1) as one:
        one.base_result()
    per_run = (time.perf_counter() - t) / sample
    print(f"one process: {per_run * 1000:.1f} ms per restoration run (base case, first "
          f"{sample} scenarios, draws and set-up included)")
    c_start = _cpu()
    ev = PlanEvaluator(grid, gen, settings, seed=st.seed, n=args.n, policy=policy,
                       workers=args.workers)
    t = time.perf_counter()
    cands = generate_candidates(ev.base, gen, max_candidates=args.candidates,
                                top_k=max(5, args.candidates // 3))
    ev.register(cands)
    t_gen = time.perf_counter() - t
    kinds: dict[str, int] = {}
    for c in cands:
        kinds[c.kind] = kinds.get(c.kind, 0) + 1
    print(f"{len(cands)} candidates in {t_gen:.1f} s: "
          + ", ".join(f"{v} {k}" for k, v in sorted(kinds.items())))

    with ev:
        t0 = time.perf_counter()
        base = ev.base_result()
        t_base = time.perf_counter() - t0
        print(f"base case: {t_base:.1f} s wall, {args.n} runs, mean ENS "
              f"{base.mean('ens_mwh'):.1f} MWh")

        t1 = time.perf_counter()
        sims0 = ev.simulations
        ev.evaluate([[c.id] for c in cands])
        t_c = time.perf_counter() - t1
        sims = ev.simulations - sims0
        total = len(cands) * args.n
        print(f"{len(cands)} candidates: {t_c:.1f} s wall; {sims} of {total} runs simulated "
              f"({100 * sims / total:.1f} %), {total - sims} reused")
        print(f"base + candidates: {t_base + t_c:.1f} s wall against the target of "
              f"{TARGET_S:.0f} s ({(t_base + t_c) / TARGET_S:.2f} of it); without reuse "
              f"about {(args.n + total) * per_run / args.workers:.0f} s wall "
              f"({(args.n + total) * per_run:.0f} s CPU)")

        t2 = time.perf_counter()
        sims1 = ev.simulations
        steps = greedy_portfolio(ev, cands, args.budget, "ens_mwh")
        t_p = time.perf_counter() - t2
        picks = [s.id for s in steps if s.within_budget]
        print(f"portfolio within {args.budget:g}: {picks} in {t_p:.1f} s wall, "
              f"{ev.simulations - sims1} more runs ({len(steps)} picks with the frontier)")
    print(f"CPU of the run (this process and its workers): {_cpu() - c_start:.1f} s; load "
          f"average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
