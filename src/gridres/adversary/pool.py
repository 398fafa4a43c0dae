"""Blocks of strike sets evaluated in this process or on the project's process pool.

Sets are cut into blocks of the evaluator's fixed size (set by the grid alone), and the
blocks' results are put back in order, so results never depend on the number of workers.
The pool is the project's (:func:`gridres.pool.process_pool`); each worker receives the
evaluator once.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import os
from collections.abc import Callable, Iterable, Iterator

import numpy as np

from gridres.adversary.evaluate import Metrics, SetEvaluator
from gridres.pool import process_pool

__all__ = ["Evaluations", "evaluations"]

_WORKER: SetEvaluator | None = None


def _init(evaluator: SetEvaluator) -> None:
    global _WORKER
    _WORKER = evaluator


def _run(sets: np.ndarray) -> Metrics:
    assert _WORKER is not None, "worker not initialised"
    return _WORKER(sets)


class Evaluations:
    """Evaluates strike sets and counts them.

    Attributes
    ----------
    evaluator : SetEvaluator
    count : int
        Sets evaluated so far.
    """

    def __init__(self, evaluator: SetEvaluator, pool: cf.Executor | None,
                 progress: Callable[[int], None] | None, workers: int = 1) -> None:
        self.evaluator = evaluator
        self.pool = pool
        self.workers = workers
        self.progress = progress
        self.count = 0

    def blocks(self, blocks: Iterable[np.ndarray]) -> Iterator[tuple[np.ndarray, Metrics]]:
        """Yield ``(sets, metrics)`` block by block, in order; on a pool, a few blocks
        run ahead."""
        if self.pool is None:
            for sets in blocks:
                yield sets, self._count(sets, self.evaluator(sets))
            return
        ahead = 2 * self.workers
        queue: list[tuple[np.ndarray, cf.Future]] = []
        for sets in blocks:
            queue.append((sets, self.pool.submit(_run, sets)))
            if len(queue) >= ahead:
                done, fut = queue.pop(0)
                yield done, self._count(done, fut.result())
        for done, fut in queue:
            yield done, self._count(done, fut.result())

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
                progress: Callable[[int], None] | None = None) -> Iterator[Evaluations]:
    """Yield an :class:`Evaluations` on ``workers`` processes (``1``: this process,
    ``None``: every core)."""
    workers = (os.cpu_count() or 1) if workers is None else int(workers)
    if workers <= 1:
        yield Evaluations(evaluator, None, progress)
        return
    pool = process_pool(workers, _init, (evaluator,))
    try:
        yield Evaluations(evaluator, pool, progress, workers)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
