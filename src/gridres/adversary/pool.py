"""Blocks of strike sets evaluated in this process or on the project's pool.

Sets are cut into blocks of the evaluator's fixed size (set by the grid alone), and the
blocks' results are put back in order, so results never depend on the backend or the
number of workers. The pool is the project's (:class:`gridres.pool.Pool`: local
processes or a Dask cluster); each worker receives the evaluator once, and a task
carries as many consecutive blocks as make up the pool's least work per task
(:attr:`gridres.pool.Pool.task_s`); the evaluator cuts them into the same blocks again.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from gridres.adversary.evaluate import Metrics, SetEvaluator
from gridres.pool import Pool

__all__ = ["Evaluations", "evaluations"]

#: Seconds one block takes, about: on the batched kernel (no cascade), and through the
#: engine (a cascade; measured on demo_region and case_ACTIVSg2000).
BLOCK_S = {"batched": 0.05, "engine": 1.0}


def _evaluate(evaluator: SetEvaluator, blocks: list[np.ndarray]) -> Metrics:
    return evaluator(np.concatenate(blocks))


def _groups(blocks: Iterable[np.ndarray], per: int) -> Iterator[list[np.ndarray]]:
    group: list[np.ndarray] = []
    for sets in blocks:
        group.append(sets)
        if len(group) == per:
            yield group
            group = []
    if group:
        yield group


class Evaluations:
    """Evaluates strike sets and counts them.

    Attributes
    ----------
    evaluator : SetEvaluator
    count : int
        Sets evaluated so far.
    """

    def __init__(self, evaluator: SetEvaluator, pool: Pool | None,
                 progress: Callable[[int], None] | None) -> None:
        self.evaluator = evaluator
        self.pool = pool
        self.progress = progress
        self.count = 0
        kind = "batched" if evaluator.batched and not evaluator.ens else "engine"
        self.per_task = 1 if pool is None else max(1, math.ceil(pool.task_s / BLOCK_S[kind]))

    def blocks(self, blocks: Iterable[np.ndarray]) -> Iterator[tuple[np.ndarray, Metrics]]:
        """Yield ``(sets, metrics)`` block by block, in order; on a pool, a few blocks
        run ahead."""
        if self.pool is None:
            for sets in blocks:
                yield sets, self._count(sets, self.evaluator(sets))
            return
        for (group,), metrics in self.pool.map(_evaluate, ((g,) for g in
                                                           _groups(blocks, self.per_task))):
            at = 0
            for sets in group:
                part = metrics.take(np.arange(at, at + len(sets)))
                at += len(sets)
                yield sets, self._count(sets, part)

    def __call__(self, sets: np.ndarray) -> Metrics:
        """Metrics of every row of ``sets``."""
        sets = np.asarray(sets, dtype=np.int64)
        if not len(sets):
            return Metrics.empty()
        size = self.evaluator.chunk
        if len(sets) <= size:  # one block: here, without a round trip to the pool
            return self._count(sets, self.evaluator(sets))
        parts = [m for _, m in self.blocks(sets[i:i + size] for i in range(0, len(sets), size))]
        return Metrics.concat(parts)

    def _count(self, sets: np.ndarray, metrics: Metrics) -> Metrics:
        self.count += len(sets)
        if self.progress:
            self.progress(len(sets))
        return metrics


@contextlib.contextmanager
def evaluations(evaluator: SetEvaluator, workers: int | None = 1,
                progress: Callable[[int], None] | None = None,
                scheduler: Any = None) -> Iterator[Evaluations]:
    """Yield an :class:`Evaluations` on ``workers`` processes (``1``: this process,
    ``None``: every core) or on the Dask cluster of ``scheduler``."""
    with Pool(evaluator, workers=workers, scheduler=scheduler,
              preload=[__name__]) as pool:
        yield Evaluations(evaluator, None if pool.inline else pool, progress)
