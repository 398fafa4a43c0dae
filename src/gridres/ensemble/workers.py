"""What every worker of an ensemble receives once (:class:`Job`) and the task it runs
(:func:`run_batch`), on :class:`gridres.pool.Pool`.

A worker gets the compiled network, the generator, the evaluator and the seed once (by
inheritance, as the pool initializer's argument, or scattered to every Dask worker) and
keeps the network's DC factorisation (:func:`gridres.flow.dc_solver`) for all its
batches. :func:`run_batch` draws and evaluates scenarios ``first..last`` and returns
their records and the batch's bus counts; the parent writes them.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from gridres.ensemble.evaluate import BUS_COUNTS, SEP, failed_elements
from gridres.errors import GridresError
from gridres.model import Network

__all__ = ["Job", "ScenarioFailed", "run_batch"]


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
