"""Where parallel work runs: one pool for every parallel part of gridres (contingency
sweeps, ensembles, strike searches, plans).

A :class:`Pool` runs *tasks* — a module-level function called as ``fn(shared, *args)``
— on one of three backends:

* ``workers=1``: in this process, each task when it is drawn;
* ``workers=N`` (``None``: every core): a process pool;
* ``scheduler="tcp://HOST:PORT"`` (or a ``distributed.Client``): the executor of a Dask
  cluster (``pip install 'gridres[cluster]'``).

The *shared* object (a run's compiled network and settings) reaches every worker once:
inherited (``fork``), as the pool initializer's argument (``forkserver``, ``spawn``), or
scattered to every Dask worker. Workers keep it, and whatever it builds and caches on
first use, for all their tasks; tasks carry only indices. So the grid file is never read
on a worker: only gridres itself must be installed there, in the same version (checked
when the pool connects). :meth:`Pool.map` keeps a few tasks per slot in flight, draws
tasks lazily and gives their results back keyed by their arguments, in order or as they
finish: callers key work by index and reassemble it in order, so no result depends on
the backend, the number of workers or the order in which tasks finish.

A process pool's workers leave Ctrl-C to the parent (it reaches the whole process group),
run BLAS on one thread (one worker per core is the parallelism, and the engine's small
dense products run slower threaded), and end when their parent dies (``kill -9`` of a
run), where they would otherwise wait for work forever. Workers start with ``fork``
where that is safe (Linux, no other thread in this process: they inherit what the
parent loaded for free), else ``forkserver`` or ``spawn``. Dask runs the tasks of one
worker process one at a time (a lock on the shared object), since the engine's caches
are not shared between threads; run ``dask worker --nthreads 1 --nworkers N``.

Every pool measures what parallelism costs: the time its tasks computed and the time
its slots were not computing while :meth:`Pool.map` ran (dispatch, transfers, start-up,
waiting for the last task), logged on close and kept in :attr:`Pool.stats`.
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import contextlib
import dataclasses
import importlib.metadata
import logging
import math
import multiprocessing as mp
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import gridres
from gridres.errors import GridresError, UsageError

__all__ = ["TASK_S", "Pool", "PoolStats", "guided_sizes", "mp_context", "one_blas_thread",
           "resolve_workers"]

log = logging.getLogger(__name__)

Task = tuple

#: Least seconds of work a task should hold, by backend, so that its overhead (a few
#: milliseconds per task on local processes, tens on Dask; measured in
#: benchmarks/README.md) stays under 5 % of it.
TASK_S = {"inline": 0.0, "processes": 0.2, "dask": 0.5}


def resolve_workers(workers: int | None, where: str = "workers") -> int:
    """Local worker processes: ``None`` is every core; otherwise an int ``>= 1``.

    Examples
    --------
    >>> resolve_workers(3)
    3
    """
    if workers is None:
        return os.cpu_count() or 1
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise UsageError(f"The {where!r} parameter must be an int >= 1 (or None for every "
                         f"core). Got {workers!r} instead.")
    return int(workers)


def guided_sizes(n: int, slots: int, least: int, most: int | None = None,
                 per_slot: int = 4) -> list[int]:
    """Task sizes for ``n`` items on ``slots`` workers: each task takes the remaining
    items over ``per_slot × slots``, at least ``least`` and at most ``most``, so tasks
    shrink towards the end and the workers finish together.

    Examples
    --------
    >>> guided_sizes(100, 2, 10)
    [13, 11, 10, 10, 10, 10, 10, 10, 10, 6]
    >>> guided_sizes(5, 4, 10)
    [5]
    """
    least = max(1, int(least))
    sizes = []
    left = int(n)
    while left > 0:
        size = max(least, math.ceil(left / (per_slot * max(slots, 1))))
        if most is not None:
            size = min(size, max(int(most), 1))
        size = min(size, left)
        sizes.append(size)
        left -= size
    return sizes


def one_blas_thread() -> contextlib.AbstractContextManager:
    """Limit BLAS to one thread (for as long as the returned context, or for the life of
    a worker process that never leaves it)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: only speed depends on it
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def mp_context(preload: Sequence[str] = ()) -> Any:
    """``fork`` where it is safe (Linux, no other thread in this process); else
    ``forkserver`` with ``preload`` modules imported once, else ``spawn``."""
    methods = mp.get_all_start_methods()
    if sys.platform.startswith("linux") and "fork" in methods and threading.active_count() == 1:
        return mp.get_context("fork")
    if "forkserver" in methods:
        ctx = mp.get_context("forkserver")
        if preload:
            ctx.set_forkserver_preload(list(preload))
        return ctx
    return mp.get_context("spawn")


# -- the worker side ----------------------------------------------------------------------
class _Shared:
    """The shared object and a lock: Dask may run one worker process's tasks in threads."""

    def __init__(self, value: Any) -> None:
        self.value = value
        self.lock = threading.Lock()

    def __reduce__(self):
        return (_Shared, (self.value,))


_WORKER_SHARED: _Shared | None = None  # a process pool worker's, set by _start_worker


#: Names the worker a task ran on (host, process, thread): its tasks' times are compared
#: with each other only, on that worker's own clock.
_HOST = socket.gethostname()


def _run(fn: Callable[..., Any], shared: _Shared, args: Task) -> tuple[Any, _Timing]:
    """``fn(shared, *args)``, and when it ran on which worker."""
    start, cpu = time.perf_counter(), time.thread_time()
    with shared.lock:
        out = fn(shared.value, *args)
    where = f"{_HOST}:{os.getpid()}:{threading.get_ident()}"
    return out, _Timing(where, start, time.perf_counter(), time.thread_time() - cpu)


def _pool_task(fn: Callable[..., Any], args: Task) -> tuple[Any, _Timing]:
    assert _WORKER_SHARED is not None, "worker not initialised"
    return _run(fn, _WORKER_SHARED, args)


def _exit_with_parent(every_s: float = 1.0) -> None:
    """End this worker when its parent dies."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(every_s)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="gridres-parent-watch", daemon=True).start()


def _start_worker(shared: _Shared) -> None:
    global _WORKER_SHARED
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    one_blas_thread()  # for the life of the worker process
    _exit_with_parent()
    _WORKER_SHARED = shared


@dataclass(frozen=True)
class _Timing:
    """Where a task ran, when it started and ended (that worker's clock), and the CPU
    seconds it used."""

    worker: str
    start: float
    end: float
    cpu: float


# -- the pool -----------------------------------------------------------------------------
@dataclass(frozen=True)
class PoolStats:
    """What a pool's parallelism cost.

    Attributes
    ----------
    backend : {"inline", "processes", "dask"}
    slots : int
        Tasks that run at once.
    tasks : int
    busy_s : float
        Seconds the tasks computed (summed over workers).
    cpu_s : float
        CPU seconds they used: less than ``busy_s`` where other work shared the cores.
    gaps : int
        Times a worker went from one task to the next within one :meth:`Pool.map`.
    gap_s : float
        Seconds those steps took: sending a result back, receiving and unpacking the
        next task's arguments, and any wait for the parent: the overhead per task.
    idle_s : float
        The rest of the time the busy slots did not compute while :meth:`Pool.map` ran:
        start-up, shipping the shared object, and the wait for the last tasks.
    """

    backend: str
    slots: int
    tasks: int = 0
    busy_s: float = 0.0
    cpu_s: float = 0.0
    gaps: int = 0
    gap_s: float = 0.0
    idle_s: float = 0.0

    @property
    def per_task_s(self) -> float:
        """Mean compute seconds of a task."""
        return self.busy_s / self.tasks if self.tasks else math.nan

    @property
    def overhead_per_task_s(self) -> float:
        """Mean seconds from the end of a task to the start of the next on its worker."""
        return self.gap_s / self.gaps if self.gaps else math.nan

    @property
    def overhead_share(self) -> float:
        """Overhead per task over compute per task: below 0.05 is below 5 %."""
        return self.overhead_per_task_s / self.per_task_s if self.tasks else math.nan

    def describe(self) -> str:
        where = {"inline": "this process", "processes": f"{self.slots} processes",
                 "dask": f"a Dask cluster ({self.slots} threads)"}[self.backend]
        return (f"pool: {self.tasks} tasks on {where}: {self.per_task_s:.4f} s per task, "
                f"overhead {self.overhead_per_task_s:.4f} s per task "
                f"({100 * self.overhead_share:.2f} %); start-up and tail "
                f"{self.idle_s:.2f} s over all slots; the tasks had "
                f"{100 * self.cpu_s / self.busy_s if self.busy_s else 0:.0f} % of a core")


class Pool:
    """Runs tasks ``fn(shared, *args)`` in this process, on local processes or on a Dask
    cluster (see the module notes).

    Parameters
    ----------
    shared : object
        What every task receives first (picklable for processes without ``fork`` and
        for Dask). Workers keep it for the life of the pool.
    workers : int or None
        Local processes (``None``: every core, ``1``: this process). Ignored with
        ``scheduler``.
    scheduler : str or distributed.Client, optional
        ``tcp://HOST:PORT`` of a Dask scheduler, or a client.
    prepare : callable, optional
        Called as ``prepare(shared)`` in this process before local workers are forked
        (only then): what it builds, they inherit instead of each building it.
    preload : sequence of str
        Modules a ``forkserver`` imports once for all its workers.

    Examples
    --------
    >>> def add(shared, x):
    ...     return shared + x
    >>> with Pool(10, workers=1) as pool:
    ...     [out for _, out in pool.map(add, [(1,), (2,)])]
    [11, 12]
    """

    def __init__(self, shared: Any = None, *, workers: int | None = None,
                 scheduler: Any = None, prepare: Callable[[Any], None] | None = None,
                 preload: Sequence[str] = ()) -> None:
        self._shared = _Shared(shared)
        self._stack = contextlib.ExitStack()
        self._executor: cf.Executor | None = None
        self._client: Any = None
        self._own_client = False
        self._remote: Any = None
        self._stats = PoolStats("inline", 1)
        if scheduler is not None:
            self.backend = "dask"
            self.slots = self._connect(scheduler)
            return
        n = resolve_workers(workers)
        if n == 1:
            self.backend, self.slots = "inline", 1
            self._stack.enter_context(one_blas_thread())
            return
        ctx = mp_context(preload)
        if prepare is not None and ctx.get_start_method() == "fork":
            prepare(shared)
        self.backend, self.slots = "processes", n
        self._executor = cf.ProcessPoolExecutor(max_workers=n, mp_context=ctx,
                                                initializer=_start_worker,
                                                initargs=(self._shared,))

    @property
    def task_s(self) -> float:
        """Least seconds of work a task should hold on this backend (:data:`TASK_S`)."""
        return TASK_S[self.backend]

    @property
    def inline(self) -> bool:
        """Whether tasks run in this process."""
        return self.backend == "inline"

    @property
    def stats(self) -> PoolStats:
        return dataclasses.replace(self._stats, backend=self.backend, slots=self.slots)

    # -- Dask ---------------------------------------------------------------------------
    def _connect(self, scheduler: Any) -> int:
        try:
            import distributed
        except ImportError:
            raise UsageError(
                "--scheduler needs Dask distributed, which is not installed; install it "
                "with: pip install 'gridres[cluster]'"
            ) from None
        if isinstance(scheduler, distributed.Client):
            client = scheduler
        else:
            address = str(scheduler)
            if "://" not in address:
                raise UsageError(f"--scheduler {address}: give the scheduler's address as "
                                 "tcp://HOST:PORT (what `dask scheduler` prints)")
            try:
                client = distributed.Client(address, timeout="10s", set_as_default=False)
            except (OSError, TimeoutError, ValueError) as exc:
                raise GridresError(
                    f"{address}: cannot reach the Dask scheduler ({exc}); start one with "
                    "`dask scheduler` or leave out --scheduler"
                ) from None
            self._own_client = True
        self._client = client
        try:
            _check_workers(client)
            self._remote = client.scatter(self._shared, broadcast=True, hash=False)
            self._executor = client.get_executor(pure=False)
            return max(1, sum(client.nthreads().values()))
        except BaseException:
            self.close()
            raise

    # -- running ------------------------------------------------------------------------
    def submit(self, fn: Callable[..., Any], *args: Any) -> cf.Future:
        """Start ``fn(shared, *args)``; the future's result is ``(result, timing)``."""
        if self.backend == "inline":
            fut: cf.Future = cf.Future()
            try:
                fut.set_result(_run(fn, self._shared, args))
            except Exception as exc:  # KeyboardInterrupt propagates at once
                fut.set_exception(exc)
            return fut
        assert self._executor is not None, "pool closed"
        if self.backend == "dask":
            return self._executor.submit(_run, fn, self._remote, args)
        return self._executor.submit(_pool_task, fn, args)

    def map(self, fn: Callable[..., Any], tasks: Iterable[Task], *, ordered: bool = True,
            ahead: int | None = None) -> Iterator[tuple[Task, Any]]:
        """Run ``fn(shared, *task)`` for every task; yield ``(task, result)``.

        Tasks are drawn from ``tasks`` as slots free up (at most ``ahead``, default two
        per slot, in flight). With ``ordered`` results come in the order of ``tasks``,
        else as they finish. An error in a task, or closing the iterator early, cancels
        the tasks not yet started and raises.
        """
        ahead = max(1, ahead or 2 * self.slots)
        it = iter(tasks)
        timings: list[_Timing] = []
        if self.backend == "inline":
            try:
                for task in it:
                    out, timing = _run(fn, self._shared, tuple(task))
                    timings.append(timing)
                    yield task, out
            finally:
                self._account(timings, 0.0)
            return
        pending: collections.OrderedDict[cf.Future, Task] = collections.OrderedDict()
        start = time.perf_counter()
        try:
            while True:
                while len(pending) < ahead:
                    task = next(it, None)
                    if task is None:
                        break
                    task = tuple(task)
                    pending[self.submit(fn, *task)] = task
                if not pending:
                    break
                if ordered:
                    done = [next(iter(pending))]
                    done[0].result()
                else:
                    finished, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
                    done = [f for f in pending if f in finished]  # in submission order
                for fut in done:
                    task = pending.pop(fut)
                    out, timing = fut.result()
                    timings.append(timing)
                    yield task, out
        except BaseException:
            for fut in pending:
                fut.cancel()
            raise
        finally:
            self._account(timings, time.perf_counter() - start)

    def _account(self, timings: list[_Timing], wall: float) -> None:
        """Add one map's tasks to :attr:`stats` (see :class:`PoolStats`)."""
        if not timings:
            return
        busy = sum(t.end - t.start for t in timings)
        gaps, gap_s = 0, 0.0
        by_worker: dict[str, list[_Timing]] = collections.defaultdict(list)
        for t in timings:
            by_worker[t.worker].append(t)
        for runs in by_worker.values():
            runs.sort(key=lambda t: t.start)
            gaps += len(runs) - 1
            gap_s += sum(max(0.0, b.start - a.end) for a, b in zip(runs[:-1], runs[1:], strict=True))
        used = min(self.slots, len(timings))
        s = self._stats
        self._stats = dataclasses.replace(
            s, tasks=s.tasks + len(timings), busy_s=s.busy_s + busy,
            cpu_s=s.cpu_s + sum(t.cpu for t in timings), gaps=s.gaps + gaps,
            gap_s=s.gap_s + gap_s,
            idle_s=s.idle_s + (max(0.0, used * wall - busy - gap_s) if wall else 0.0))

    # -- closing ------------------------------------------------------------------------
    def close(self) -> None:
        """Stop the workers: running tasks finish (one per worker at most), queued ones
        are dropped. Logs :attr:`stats`."""
        if self._stats.tasks and self.backend != "inline":
            log.info("%s", self.stats.describe())
        executor, self._executor = self._executor, None
        if self.backend == "processes" and executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
        elif self.backend == "dask":
            if executor is not None:
                executor.shutdown(wait=False)
            client, self._client = self._client, None
            if client is not None and self._own_client:
                client.close()
        self._stack.close()

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _check_workers(client: Any) -> None:
    """Refuse a cluster whose workers lack this gridres: tasks name its functions, and
    its results must equal this machine's."""
    here = gridres.__version__
    try:
        found = client.run(importlib.metadata.version, "gridres", on_error="return")
    except Exception as exc:  # the scheduler went away, say
        raise GridresError(f"cannot ask the Dask workers for their gridres version "
                           f"({type(exc).__name__}: {exc})") from None
    wrong = {addr: v for addr, v in found.items() if v != here}
    if wrong:
        addr, v = sorted(wrong.items())[0]
        have = "no gridres" if isinstance(v, BaseException) else f"gridres {v}"
        raise GridresError(
            f"Dask worker {addr} has {have}, this machine gridres {here} "
            f"({len(wrong)} of {len(found)} workers differ); install the same version on "
            f"every worker: pip install 'gridres[cluster]=={here}'"
        )
