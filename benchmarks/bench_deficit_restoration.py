"""Time restoration with demand by the hour, and with rotation, against the static
restoration, on the bundled studies' own scenarios.

Run::

    .venv/bin/python benchmarks/bench_deficit_restoration.py            # both studies
    .venv/bin/python benchmarks/bench_deficit_restoration.py --n 60 --only demo

For each study (``demo``: the windstorm of ``grids/studies/demo.toml``, three policies,
cascade mode trip; ``deficit``: the strikes on power plants of
``grids/studies/deficit.toml``, two policies) the same ``n`` scenarios are restored in
this process (one worker, so that the figures are CPU time of the restoration itself):

* ``static``: the grid's static load (the default);
* ``typical``: the typical demand profile from 2025-01-15T06:00, every clock hour where
  demand changes assessed with the engine (cascade included);
* ``rotation``: the same, every policy run again rotating 8 groups in 4 h blocks (so
  twice the runs).

Target of the deficit issue: demand over time "reasonable" on the demo ensemble; we aim
at under 5 times the static cost per scenario for ``typical`` (an event of two weeks
meets hundreds of clock hours). The machine is shared: the load average is printed with
the figures.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from pathlib import Path

import numpy as np

from gridres.restoration import RestorationEvaluator
from gridres.restoration.demand import DemandSettings, timeline
from gridres.restoration.rotation import RotationSettings
from gridres.study import analyse_study
from gridres.study.plan import combined_generator

STUDIES = Path(__file__).resolve().parents[1] / "grids" / "studies"
START = "2025-01-15T06:00"
TARGET_RATIO = 5.0


def _load() -> str:
    return "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())


def bench(name: str, n: int) -> None:
    checked = analyse_study(STUDIES / f"{name}.toml")
    st, grid = checked.study, checked.grid
    net = grid.network
    gen = combined_generator(checked.generators)
    settings = st.restoration.settings
    policies = st.restoration.policies or ("critical-first", "greedy", "largest-load-first")
    cascade = st.cascade.options
    scenarios = []
    for i in range(n):
        rng = np.random.default_rng([st.seed, i])
        scenarios.append((gen.sample(net, rng), rng.bit_generator.state))
    demand = DemandSettings(profile="typical", start=START)
    variants = {
        "static": None,
        "typical": timeline(grid, demand, horizon_h=settings.horizon_h),
        "rotation": timeline(grid, demand, RotationSettings(groups=8, block_h=4),
                             horizon_h=settings.horizon_h),
    }
    base = None
    print(f"{name}: {n} scenarios, policies {', '.join(policies)}, cascade {cascade.mode}, "
          f"horizon {settings.horizon_h:g} h; {_load()}")
    for label, tl in variants.items():
        ev = RestorationEvaluator.for_grid(grid, settings, policies, cascade=cascade,
                                           timeline=tl)
        ev = dataclasses.replace(ev)  # a fresh evaluator: no state carried between runs
        t0, c0 = time.perf_counter(), time.process_time()
        ens, deficit = [], []
        for sc, state in scenarios:
            rng = np.random.default_rng()
            rng.bit_generator.state = state
            rec = ev(net, sc, rng)
            ens.append(rec[f"ens_mwh__{policies[0]}"])
            deficit.append(rec[f"deficit_mwh__{policies[0]}"])
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        per = cpu / n
        base = base or per
        runs = len(ev.runs)
        print(f"  {label:9s} {per * 1000:8.1f} ms CPU per scenario ({runs} runs; "
              f"{per / runs * 1000:7.1f} ms per run), {wall:6.1f} s wall, "
              f"x{per / base:4.1f} static; mean ENS {np.mean(ens):9,.0f} MWh, "
              f"events with a deficit {int(np.sum(np.array(deficit) > 1e-6))}/{n}"
              + (f"  (target < x{TARGET_RATIO:g}: "
                 f"{'PASS' if per / base < TARGET_RATIO else 'MISS'})"
                 if label == "typical" else ""))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=30)
    ap.add_argument("--only", choices=["demo", "deficit"], default=None)
    args = ap.parse_args()
    for name in ("demo", "deficit"):
        if args.only in (None, name):
            bench(name, args.n)


if __name__ == "__main__":
    main()
