"""How much work a command takes on without ``--force``: estimates and limits.

A typo (``--n 1000000000000``, ``--top 100000``) should not start a run that lasts
centuries or fills the disk. Before a long step starts, gridres estimates its size and
refuses anything beyond these limits with exit 2, the estimate and the way to lift the
limit (``--force``):

======================= ============ ===================================================
what                    limit        where
======================= ============ ===================================================
scenarios of a run      1,000,000    ``ensemble --n``, ``run -n``, a study's
                                     ``ensemble.n``, ``plan -n``
outage pairs (N-2)      200,000      ``contingency --k 2 --top T --partners P``
nesting of JSON/TOML    32 levels    study files, JSON scenario specs and outage files
                                     (refused: exit 65 in a file, 2 on the command line;
                                     no ``--force``)
======================= ============ ===================================================

The estimates are deliberately rough (bytes per record measured on the bundled grids);
they say how big, not how long to the second.
"""

from __future__ import annotations

from dataclasses import dataclass

from gridres.errors import UsageError

__all__ = ["MAX_SCENARIOS", "MAX_PAIRS", "MAX_NESTING", "nesting_depth", "Estimate", "scenarios_estimate", "pairs_estimate",
           "enforce", "human_bytes"]

#: Scenarios a run takes on without ``--force``.
MAX_SCENARIOS = 1_000_000
#: Outage pairs an N-2 sweep takes on without ``--force``.
MAX_PAIRS = 200_000

#: Levels of nested lists and tables that study files and JSON inputs may have.
MAX_NESTING = 32

#: Rough sizes: a scenario's record on disk (Parquet) and in memory when summarised;
#: a ranked outage row in memory.
_RECORD_DISK_B = 200
_RECORD_MEMORY_B = 1_000
_PAIR_MEMORY_B = 400


@dataclass(frozen=True)
class Estimate:
    """The size of a piece of work.

    Attributes
    ----------
    what : str
        What is counted (``"scenarios"``, ``"outage pairs"``).
    count : int
        How many.
    limit : int
        The most taken on without ``--force``.
    disk_b, memory_b : int
        Rough bytes written and held in memory.
    """

    what: str
    count: int
    limit: int
    disk_b: int = 0
    memory_b: int = 0

    @property
    def beyond(self) -> bool:
        return self.count > self.limit

    def __str__(self) -> str:
        sizes = []
        if self.disk_b:
            sizes.append(f"about {human_bytes(self.disk_b)} on disk")
        if self.memory_b:
            sizes.append(f"about {human_bytes(self.memory_b)} of memory")
        extra = f" ({', '.join(sizes)})" if sizes else ""
        return f"{self.count:,} {self.what}{extra}"


def nesting_depth(obj: object, stop: int = MAX_NESTING + 1) -> int:
    """How deep lists and dicts nest in ``obj`` (a scalar is 0), counted without
    recursion; counting stops at ``stop``.

    Examples
    --------
    >>> nesting_depth({"a": [1, [2]]}), nesting_depth(3)
    (3, 0)
    """
    deepest = 0
    stack = [(obj, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list | tuple):
            deepest = max(deepest, level)
            if deepest >= stop:
                return deepest
            values = item.values() if isinstance(item, dict) else item
            stack.extend((v, level + 1) for v in values)
    return deepest


def human_bytes(n: float) -> str:
    """``1536`` → ``'1.5 KB'``.

    Examples
    --------
    >>> human_bytes(1536), human_bytes(2e15)
    ('1.5 KB', '1.8 PB')
    """
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PB"


def scenarios_estimate(n: int) -> Estimate:
    """The size of a run of ``n`` scenarios.

    Examples
    --------
    >>> str(scenarios_estimate(10**12))
    '1,000,000,000,000 scenarios (about 181.9 TB on disk, about 909.5 TB of memory)'
    """
    return Estimate("scenarios", int(n), MAX_SCENARIOS, int(n) * _RECORD_DISK_B,
                    int(n) * _RECORD_MEMORY_B)


def pairs_estimate(count: int) -> Estimate:
    """The size of an N-2 screen of ``count`` outage pairs (see
    :func:`gridres.contingency.n_minus_2_size`).

    Examples
    --------
    >>> str(pairs_estimate(4_192_267))
    '4,192,267 outage pairs (about 1.6 GB of memory)'
    """
    return Estimate("outage pairs", int(count), MAX_PAIRS, 0, int(count) * _PAIR_MEMORY_B)


def enforce(estimate: Estimate, *, force: bool, option: str) -> None:
    """Refuse work beyond its limit unless ``force``.

    Raises
    ------
    UsageError
        With the estimate, the limit and how to lift it (exit 2).

    Examples
    --------
    >>> enforce(scenarios_estimate(10), force=False, option="--n")
    >>> enforce(scenarios_estimate(2_000_000), force=False, option="--n")
    Traceback (most recent call last):
    ...
    gridres.errors.UsageError: --n: 2,000,000 scenarios (about 381.5 MB on disk, about 1.9 GB \
of memory) is beyond the limit of 1,000,000 scenarios; lower --n, or add --force to run it \
anyway
    """
    if estimate.beyond and not force:
        raise UsageError(f"{option}: {estimate} is beyond the limit of {estimate.limit:,} "
                         f"{estimate.what}; lower {option}, or add --force to run it anyway")
