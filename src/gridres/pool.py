"""One worker-pool setup for every parallel part of gridres (ensembles, plans).

A process pool's workers leave Ctrl-C to the parent (it reaches the whole process group),
run BLAS on one thread (one worker per core is the parallelism, and the engine's small
dense products run slower threaded), and end when their parent dies (``kill -9`` of a
run), where they would otherwise wait for work forever. Workers start with ``fork``
where that is safe (Linux, no other thread in this process: they inherit what the
parent loaded for free), else ``forkserver`` or ``spawn``. ``workers=1`` runs each task
at submit time in this process instead.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["InlineExecutor", "mp_context", "one_blas_thread", "process_pool"]


class InlineExecutor(cf.Executor):
    """Runs each call at submit time, in this process (``workers=1``)."""

    def submit(self, fn, /, *args, **kwargs):
        fut: cf.Future = cf.Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except Exception as exc:  # KeyboardInterrupt propagates at once
            fut.set_exception(exc)
        return fut


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


def _exit_with_parent(every_s: float = 1.0) -> None:
    """End this worker when its parent dies."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(every_s)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="gridres-parent-watch", daemon=True).start()


def _start_worker(initializer: Callable[..., None] | None, initargs: tuple) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    one_blas_thread()  # for the life of the worker process
    _exit_with_parent()
    if initializer is not None:
        initializer(*initargs)


def process_pool(workers: int, initializer: Callable[..., None] | None = None,
                 initargs: tuple = (), preload: Sequence[str] = ()) -> cf.ProcessPoolExecutor:
    """A process pool of ``workers`` workers set up as the module notes say, each then
    running ``initializer(*initargs)`` (a module-level function, so that it pickles)."""
    return cf.ProcessPoolExecutor(max_workers=workers, mp_context=mp_context(preload),
                                  initializer=_start_worker,
                                  initargs=(initializer, tuple(initargs)))
