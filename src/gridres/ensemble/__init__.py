"""Ensembles: many seeded scenarios in parallel, results streamed to disk, resumable.

:func:`run_ensemble` draws scenario ``i`` with ``numpy.random.default_rng([seed, i])``,
evaluates it (default :class:`ImpactEvaluator`: the outage engine, cascade mode
``none``) on a process pool or a Dask cluster, and writes each finished batch as a Parquet
part. :func:`summarize` turns a results folder into tail statistics of shed load and
customers out, the probability that each facility or bus goes dark, and the elements that
fail most often.
"""

from gridres.ensemble.evaluate import BUS_COUNTS, Evaluator, ImpactEvaluator
from gridres.ensemble.runner import (
    EnsembleInterrupted,
    EnsembleResult,
    default_batch_size,
    describe,
    network_fingerprint,
    run_ensemble,
)
from gridres.ensemble.store import load_bus_counts, load_records
from gridres.ensemble.summary import (
    EnsembleSummary,
    element_counts,
    facility_dark,
    summarize,
    tail_stats,
)
from gridres.ensemble.workers import ScenarioFailed

__all__ = [
    "BUS_COUNTS",
    "EnsembleInterrupted",
    "EnsembleResult",
    "EnsembleSummary",
    "Evaluator",
    "ImpactEvaluator",
    "ScenarioFailed",
    "default_batch_size",
    "describe",
    "element_counts",
    "facility_dark",
    "load_bus_counts",
    "load_records",
    "network_fingerprint",
    "run_ensemble",
    "summarize",
    "tail_stats",
]
