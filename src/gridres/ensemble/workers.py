"""Where batches run: the job each worker receives once, the batch function, and the
executors (this process, a process pool, a Dask cluster).

A worker gets the compiled network, the generator, the evaluator and the seed once: by
inheritance (``fork``), as the pool initializer's argument (``forkserver``, ``spawn``),
or scattered to every Dask worker (the pool is :mod:`gridres.pool`'s). It keeps the network's DC factorisation
(:func:`gridres.flow.dc_solver`) for all its batches. :func:`run_batch` draws and evaluates scenarios
``first..last`` and returns their records and the batch's bus counts; the parent writes
them.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd

from gridres.ensemble.evaluate import BUS_COUNTS, SEP, failed_elements
from gridres.errors import GridresError, UsageError
from gridres.model import Network
from gridres.pool import InlineExecutor, one_blas_thread, process_pool

__all__ = ["Job", "ScenarioFailed", "executor", "run_batch"]


class Job:
    """Network, generator, evaluator and seed: sent to each worker once.

    Networks pickle without their cached factorisation (``Network.__getstate__``), and
    one pickle keeps shared networks shared (the job's own and the one a generator's
    grid has compiled); each worker builds its factorisation on first use and keeps it.
    """

    def __init__(self, net: Network, generator: Any, evaluator: Any, seed: int) -> None:
        self.net = net
        self.generator = generator
        self.evaluator = evaluator
        self.seed = seed
        self.lock = threading.Lock()  # Dask workers may run batches in threads

    def __reduce__(self):
        return (Job, (self.net, self.generator, self.evaluator, self.seed))


_WORKER_JOB: Job | None = None  # set once per worker process by _init_worker


def _init_worker(job: Job) -> None:
    global _WORKER_JOB
    _WORKER_JOB = job


def _pool_batch(first: int, last: int):
    assert _WORKER_JOB is not None, "worker not initialised"
    return run_batch(_WORKER_JOB, first, last)


def _value(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, list | tuple | np.ndarray):
        return SEP.join(str(x) for x in v)
    return v


def run_batch(job: Job, first: int, last: int) -> tuple[int, int, pd.DataFrame, pd.DataFrame]:
    """Draw and evaluate scenarios ``first..last``; return their records and the
    batch's bus counts."""
    net = job.net
    rows: list[dict[str, Any]] = []
    counts: dict[str, np.ndarray] = {}
    with job.lock:
        for i in range(first, last + 1):
            rng = np.random.default_rng([job.seed, i])
            try:
                scenario = job.generator.sample(net, rng)
                n_failed, failed = failed_elements(net, scenario)
                rec = job.evaluator(net, scenario, rng)
            except Exception as exc:
                raise _scenario_error(exc, i, job.seed) from exc
            if not isinstance(rec, Mapping):
                raise TypeError(
                    f"evaluator {type(job.evaluator).__qualname__} returned "
                    f"{type(rec).__name__}; it must return a dict of scalars"
                )
            row: dict[str, Any] = {"scenario": i, "label": scenario.label,
                                   "n_waves": scenario.n_waves, "n_failed": n_failed,
                                   "failed": failed}
            for key, v in rec.items():
                if key == BUS_COUNTS:
                    for name, pos in v.items():
                        acc = counts.get(name)
                        if acc is None:
                            acc = counts[name] = np.zeros(net.n_bus, dtype=np.int64)
                        acc[np.unique(np.asarray(pos, dtype=np.int64))] += 1
                else:
                    row[key] = _value(v)
            rows.append(row)
    return first, last, pd.DataFrame(rows), _counts_table(net, counts)


class ScenarioFailed(GridresError):
    """A generator or evaluator raised on one scenario (exit code 1)."""


def _scenario_error(exc: Exception, i: int, seed: int) -> GridresError:
    """The error of scenario ``i``, naming it and its random stream; user errors keep
    their class (and exit code)."""
    where = f"scenario {i} (default_rng([{seed}, {i}]))"
    if isinstance(exc, GridresError):
        try:
            return type(exc)(f"{where}: {exc}")
        except TypeError:
            pass
    return ScenarioFailed(f"{where}: {type(exc).__name__}: {exc}")


def _counts_table(net: Network, counts: dict[str, np.ndarray]) -> pd.DataFrame:
    names = sorted(counts)
    if not names:
        return pd.DataFrame({"id": pd.Series([], dtype=str)})
    keep = np.flatnonzero(np.vstack([counts[k] for k in names]).any(axis=0))
    table = {"id": [str(i) for i in net.bus_ids[keep]]}
    table.update({k: counts[k][keep] for k in names})
    return pd.DataFrame(table)


# -- executors ----------------------------------------------------------------------------
Submit = Callable[[int, int], cf.Future]


@contextlib.contextmanager
def executor(job: Job, workers: int, scheduler: Any) -> Iterator[tuple[Submit, int, Callable]]:
    """Yield ``(submit(first, last), slots, cancel())`` for the chosen backend."""
    if scheduler is not None:
        with _dask(job, scheduler) as backend:
            yield backend
        return
    if workers == 1:
        inline = InlineExecutor()
        with one_blas_thread():
            yield (lambda a, b: inline.submit(run_batch, job, a, b)), 1, (lambda: None)
        return
    pool = process_pool(workers, _init_worker, (job,), preload=[__name__])
    try:
        yield (lambda a, b: pool.submit(_pool_batch, a, b)), workers, (lambda: None)
    finally:
        # running batches finish (one per worker at most); queued ones are dropped
        pool.shutdown(wait=True, cancel_futures=True)


@contextlib.contextmanager
def _dask(job: Job, scheduler: Any) -> Iterator[tuple[Submit, int, Callable]]:
    try:
        import distributed
    except ImportError:
        raise UsageError(
            "--scheduler needs Dask distributed, which is not installed; install it with: "
            "pip install 'gridres[cluster]'"
        ) from None
    own = not isinstance(scheduler, distributed.Client)
    if own:
        try:
            client = distributed.Client(str(scheduler), timeout="10s", set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise GridresError(
                f"{scheduler}: cannot reach the Dask scheduler ({exc}); start one with "
                "`dask scheduler` or leave out --scheduler"
            ) from None
    else:
        client = scheduler
    try:
        job_future = client.scatter(job, broadcast=True, hash=False)
        executor = client.get_executor(pure=False)
        slots = max(1, sum(client.nthreads().values()))
        futures: list[cf.Future] = []

        def submit(a: int, b: int) -> cf.Future:
            fut = executor.submit(run_batch, job_future, a, b)
            futures.append(fut)
            return fut

        def cancel() -> None:
            for fut in futures:
                fut.cancel()

        yield submit, slots, cancel
        executor.shutdown(wait=False)
    finally:
        if own:
            client.close()
