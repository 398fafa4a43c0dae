"""Every k-set of candidates, evaluated exactly, the worst kept.

Sets are enumerated in lexicographic order of candidate positions
(:func:`itertools.combinations`), in blocks of the evaluator's size; each block's
results are merged into the running top list with the ranking rule of
:func:`gridres.adversary.evaluate.rank`. Nothing is pruned: no bound on a set from its
subsets is valid for these objectives on meshed grids (see :mod:`gridres.adversary`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from gridres.adversary.evaluate import Metrics, rank
from gridres.adversary.pool import Evaluations

__all__ = ["Table", "combination_blocks", "exhaustive"]


@dataclass(frozen=True, eq=False)
class Table:
    """Strike sets and their metrics, ranked worst first.

    Attributes
    ----------
    sets : ndarray of int, shape (m, k)
        Candidate positions, each row sorted ascending.
    metrics : Metrics
    """

    sets: np.ndarray
    metrics: Metrics

    def __len__(self) -> int:
        return len(self.sets)

    def head(self, n: int) -> Table:
        return Table(self.sets[:n], self.metrics.take(np.arange(min(n, len(self)))))


def combination_blocks(n: int, k: int, size: int) -> Iterator[np.ndarray]:
    """All ``k``-subsets of ``range(n)`` in lexicographic order, ``size`` rows a block.

    Examples
    --------
    >>> [b.tolist() for b in combination_blocks(4, 3, 3)]
    [[[0, 1, 2], [0, 1, 3], [0, 2, 3]], [[1, 2, 3]]]
    """
    combos = itertools.combinations(range(n), k)
    total = math.comb(n, k)
    for start in range(0, total, size):
        rows = min(size, total - start)
        flat = np.fromiter(itertools.chain.from_iterable(itertools.islice(combos, rows)),
                           dtype=np.int64, count=rows * k)
        yield flat.reshape(rows, k)


def merge(a: Table, b: Table, objective: str, top: int | None) -> Table:
    """The two tables' rows ranked together, the first ``top`` kept (all if None)."""
    sets = np.concatenate([a.sets, b.sets])
    metrics = Metrics.concat([a.metrics, b.metrics])
    order = rank(metrics, sets, objective)
    if top is not None:
        order = order[:top]
    return Table(sets[order], metrics.take(order))


def exhaustive(evals: Evaluations, n: int, k: int, objective: str, top: int | None) -> Table:
    """Evaluate every ``k``-subset of ``n`` candidates.

    Parameters
    ----------
    evals : Evaluations
    n, k : int
    objective : str
    top : int or None
        Rows to keep; None keeps every set (for :func:`gridres.adversary.defend`).

    Returns
    -------
    Table
        Ranked worst first.

    Notes
    -----
    ``C(n, k)`` evaluations; memory ``O(top)`` (``O(C(n, k))`` with ``top=None``).
    """
    best = Table(np.zeros((0, k), dtype=np.int64), Metrics.empty())
    if top is None:
        blocks = list(evals.blocks(combination_blocks(n, k, evals.evaluator.chunk)))
        return merge(best, Table(np.concatenate([s for s, _ in blocks]) if blocks else best.sets,
                                 Metrics.concat([m for _, m in blocks])), objective, None)
    for sets, metrics in evals.blocks(combination_blocks(n, k, evals.evaluator.chunk)):
        best = merge(best, Table(sets, metrics), objective, top)
    return best
