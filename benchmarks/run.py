"""Run every ``benchmarks/bench_*.py`` script in turn (``make bench``).

Usage, from the repository root::

    .venv/bin/python benchmarks/run.py              # all benchmarks
    .venv/bin/python benchmarks/run.py engine scen  # those whose name contains a word
    .venv/bin/python benchmarks/run.py --list       # what would run

Each script runs in its own interpreter with its default options, its output streamed
as it comes; a summary of wall times and exit codes follows. Exits 1 if any script
failed (a missed target is reported by the script itself, not as a failure).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def scripts(words: list[str]) -> list[Path]:
    """The benchmark scripts, by name, optionally only those containing one of ``words``."""
    found = sorted(HERE.glob("bench_*.py"))
    if words:
        found = [p for p in found if any(w in p.stem for w in words)]
    return found


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Run every benchmarks/bench_*.py in turn.")
    ap.add_argument("words", nargs="*", help="run only scripts whose name contains a word")
    ap.add_argument("--list", action="store_true", help="list the scripts and exit")
    args = ap.parse_args(argv)

    todo = scripts(args.words)
    if args.list or not todo:
        for p in todo:
            print(p.relative_to(HERE.parent))
        if not todo:
            print("no benchmark matches", " ".join(args.words), file=sys.stderr)
            return 2
        return 0

    results = []
    for path in todo:
        rel = path.relative_to(HERE.parent)
        print(f"\n=== {rel} ===", flush=True)
        t0 = time.perf_counter()
        code = subprocess.call([sys.executable, str(path)], cwd=HERE.parent)
        results.append((rel, code, time.perf_counter() - t0))

    print("\n=== summary ===")
    for rel, code, secs in results:
        status = "ok" if code == 0 else f"FAILED (exit {code})"
        print(f"{str(rel):<40} {secs:8.1f} s  {status}")
    return 1 if any(code for _, code, _ in results) else 0


if __name__ == "__main__":
    sys.exit(main())
