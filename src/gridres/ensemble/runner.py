"""Run many scenarios in parallel, stream their records to disk, resume after a stop.

Scenario ``i`` of an ensemble with seed ``s`` is drawn and evaluated with the random
stream ``numpy.random.default_rng([s, i])`` and nothing else, so its record does not
depend on the number of workers, on the batching or on the order in which batches
finish. Batches of consecutive indices go to the project's pool
(:class:`gridres.pool.Pool`):

* ``workers=1``: in this process;
* otherwise a :class:`~concurrent.futures.ProcessPoolExecutor` (``workers`` processes,
  default all cores); every worker receives the compiled network once, at start-up, and
  keeps its DC factorisation (:func:`gridres.flow.dc_solver`) for all its batches;
* ``scheduler="tcp://HOST:PORT"`` (or a ``distributed.Client``): a Dask cluster
  (``pip install 'gridres[cluster]'``); the job is scattered to every worker once.

Each finished batch is written by this process as a Parquet part (see
:mod:`gridres.ensemble.store`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gridres import __version__
from gridres.ensemble.evaluate import Evaluator, ImpactEvaluator
from gridres.ensemble.store import (
    JOURNAL,
    MANIFEST,
    PARTS,
    SUMMARY,
    check_manifest,
    clean_stale,
    list_parts,
    load_records,
    missing_ranges,
    owned_files,
    read_journal,
    read_manifest,
    unlisted_files,
    verify_parts,
    write_batch,
    write_manifest,
)
from gridres.ensemble.summary import EnsembleSummary, summarize
from gridres.ensemble.workers import Job, run_batch
from gridres.errors import GridError, GridresError, UsageError
from gridres.io.folder import OutputFolder, write_file
from gridres.io.load import load_grid
from gridres.model import Grid, Network
from gridres.pool import Pool
from gridres.scenarios.base import ScenarioGenerator
from gridres.scenarios.spec import scenario_from_spec

__all__ = [
    "run_ensemble",
    "EnsembleResult",
    "EnsembleInterrupted",
    "network_fingerprint",
    "describe",
    "default_batch_size",
]

logger = logging.getLogger(__name__)

#: Manifest format; bump when records change meaning (2: parts listed with SHA-256).
FORMAT = 2


class EnsembleInterrupted(GridresError):
    """A run stopped by Ctrl-C; finished parts are kept (exit code 130)."""

    exit_code = 130

    def __init__(self, message: str, done: int, n: int, out: Path | None) -> None:
        super().__init__(message)
        self.done = done
        self.n = n
        self.out = out


@dataclass(frozen=True, eq=False)
class EnsembleResult:
    """What :func:`run_ensemble` returns.

    Attributes
    ----------
    out : Path or None
        The results folder (``None`` when the run used a temporary one).
    summary : EnsembleSummary
    n_run : int
        Scenarios evaluated by this call.
    n_resumed : int
        Scenarios found finished on disk (``resume=True``).
    elapsed_s : float
        Wall time of the evaluation (seconds), start-up included.
    records : pandas.DataFrame or None
        All records, when ``out`` was ``None``; otherwise read them with
        :func:`gridres.ensemble.load_records`.
    """

    out: Path | None
    summary: EnsembleSummary
    n_run: int
    n_resumed: int
    elapsed_s: float
    records: pd.DataFrame | None = None

    @property
    def scenarios_per_s(self) -> float:
        return self.n_run / self.elapsed_s if self.elapsed_s > 0 else math.nan


# -- the run ------------------------------------------------------------------------------
def network_fingerprint(net: Network) -> str:
    """SHA-256 of a compiled network's ids and arrays: equal for equal grids, whatever
    file or path they came from."""
    h = hashlib.sha256()
    for f in dataclasses.fields(net):
        v = getattr(net, f.name)
        h.update(f.name.encode())
        if isinstance(v, np.ndarray) and v.dtype != object:
            h.update(str(v.dtype).encode() + np.ascontiguousarray(v).tobytes())
        elif isinstance(v, pd.Index | np.ndarray):
            h.update("\x1f".join(map(str, v)).encode())
        else:
            h.update(repr(v).encode())
    return "sha256:" + h.hexdigest()


def describe(obj: Any) -> str:
    """A stable, short text for a generator or evaluator, for the manifest.

    Its ``repr`` where that is one short line without a memory address (a dataclass's, or
    a class's own); otherwise, for dataclasses, the class name and the fields shown in
    ``repr``, with grids and networks by name and arrays and tables by shape and hash
    (the grid itself is checked by its own fingerprint); else the class path.

    Examples
    --------
    >>> from gridres.ensemble import ImpactEvaluator
    >>> describe(ImpactEvaluator("trip"))
    "ImpactEvaluator(cascade=CascadeOptions(mode='trip', margin=0.0, max_stages=1000))"
    """
    text = repr(obj)
    if " at 0x" not in text and "\n" not in text and len(text) <= 400:
        return text
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        shown = [f"{f.name}={_brief(getattr(obj, f.name))}"
                 for f in dataclasses.fields(obj) if f.repr]
        return f"{type(obj).__qualname__}({', '.join(shown)})"
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def _brief(v: Any) -> str:
    if isinstance(v, Grid | Network):
        return f"<{type(v).__name__.lower()} {v.name}>"
    if isinstance(v, np.ndarray):
        digest = hashlib.sha256(np.ascontiguousarray(v).tobytes() if v.dtype != object
                                else "\x1f".join(map(str, v.ravel())).encode()).hexdigest()
        return f"<array {'x'.join(map(str, v.shape))} {digest[:12]}>"
    if isinstance(v, pd.DataFrame | pd.Series):
        digest = hashlib.sha256(pd.util.hash_pandas_object(v).to_numpy().tobytes()).hexdigest()
        return f"<table {'x'.join(map(str, v.shape))} {digest[:12]}>"
    return describe(v)


def default_batch_size(n: int, slots: int) -> int:
    """Scenarios per batch: about 16 batches per worker, between 16 and 128.

    Examples
    --------
    >>> default_batch_size(10_000, 2), default_batch_size(200, 2)
    (128, 16)
    """
    return int(min(128, max(16, math.ceil(n / (16 * max(slots, 1))))))


def _batches(todo: list[tuple[int, int]], size: int | None, slots: int):
    """Inclusive index ranges to run, in order. With a fixed ``size`` every batch has that
    size; by default batches shrink towards the end (down to 16 scenarios) so that all
    workers finish at about the same time."""
    left = sum(b - a + 1 for a, b in todo)
    top = size or default_batch_size(left, slots)
    for lo, hi in todo:
        a = lo
        while a <= hi:
            k = size or max(min(16, top), min(top, math.ceil(left / (4 * slots))))
            b = min(a + k, hi + 1) - 1
            yield a, b
            left -= b - a + 1
            a = b + 1


def _resolve_grid(grid: Any) -> tuple[Grid | None, Network, str]:
    if isinstance(grid, Network):
        return None, grid, ""
    if isinstance(grid, Grid):
        return grid, grid.network, grid.source
    g = load_grid(grid)
    return g, g.network, str(grid)


def _check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise UsageError(
            f"The {name!r} parameter of run_ensemble must be an int >= {low}. Got {value!r} "
            "instead."
        )
    return int(value)


def _manifest(net: Network, source: str, scenario: str, n: int, seed: int,
              evaluator: Any) -> dict[str, Any]:
    load = np.maximum(net.load_mw, 0.0)[net.bus_in_service]
    return {
        "format": FORMAT,
        "grid": {"name": net.name, "fingerprint": network_fingerprint(net)},
        "grid_source": source,
        "scenario": scenario,
        "n": n,
        "seed": seed,
        "evaluator": describe(evaluator),
        "version": __version__,
        "total_load_mw": float(load.sum()),
        "n_bus": net.n_bus,
        "facilities": [str(i) for i in net.fac_ids],
    }


def run_ensemble(
    grid: str | os.PathLike | Grid | Network,
    generator: ScenarioGenerator | str,
    n: int,
    seed: int,
    *,
    workers: int | None = None,
    out: str | os.PathLike | None = None,
    resume: bool = False,
    evaluator: Evaluator | None = None,
    scheduler: Any = None,
    batch_size: int | None = None,
    scenario_spec: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    force: bool = False,
    restart: bool = False,
) -> EnsembleResult:
    """Draw and evaluate ``n`` scenarios in parallel, streaming records to ``out``.

    Parameters
    ----------
    grid : str, path-like, Grid or Network
        A grid spec (as for :func:`gridres.io.load_grid`), a Grid or a compiled Network.
    generator : ScenarioGenerator or str
        Draws scenario ``i`` as ``generator.sample(net, default_rng([seed, i]))``. Must be
        picklable. A string is a scenario spec (``"random:k=3"``, see
        :func:`gridres.scenarios.spec.scenario_from_spec`; not with a bare Network).
    n : int
        Number of scenarios, ``>= 1``.
    seed : int
        Ensemble seed, ``>= 0``.
    workers : int, optional
        Local processes; default ``os.cpu_count()``. ``1`` runs in this process. Ignored
        with ``scheduler``.
    out : path-like, optional
        Results folder (manifest, Parquet parts, summary). Default: a temporary folder,
        removed at the end (records are then returned in memory).
    resume : bool
        Continue the run in ``out``: skip scenarios already on disk. The manifest must
        match (grid, scenario, n, seed, evaluator, version).
    evaluator : Evaluator, optional
        Default :class:`~gridres.ensemble.ImpactEvaluator` (cascade mode ``none``,
        margin 0).
    scheduler : str or distributed.Client, optional
        ``tcp://HOST:PORT`` of a Dask scheduler, or a client: run on that cluster.
    batch_size : int, optional
        Scenarios per batch; default :func:`default_batch_size`.
    scenario_spec : str, optional
        Text that names the generator in the manifest (e.g. ``random:k=3``); default its
        :func:`describe`.
    progress : callable, optional
        Called as ``progress(done, n)`` at start and after every finished batch.
    force : bool
        Write into ``out`` even when it holds files gridres did not write (they are
        kept, never touched; see :mod:`gridres.io.folder`).
    restart : bool
        With ``resume``: when ``out`` holds a *different* ensemble, delete its files
        (only those gridres recorded) and start afresh instead of refusing.

    Returns
    -------
    EnsembleResult

    Raises
    ------
    UsageError
        Bad parameters; ``out`` holds another run (or, with ``resume``, a different
        one), files gridres did not write (without ``force``), or another command holds
        its lock.
    GridError
        A part, list of parts or manifest in ``out`` that is not what gridres wrote
        (exit 65).
    EnsembleInterrupted
        On Ctrl-C: finished batches stay on disk; ``resume=True`` continues.

    Examples
    --------
    >>> import numpy as np
    >>> from gridres.scenarios.base import Scenario
    >>> class OneLine:
    ...     def sample(self, net, rng):
    ...         return Scenario.single(branches=[rng.integers(net.n_branch)])
    >>> res = run_ensemble("ieee14", OneLine(), n=20, seed=1, workers=1)
    >>> res.summary.completed
    20

    Notes
    -----
    Records are identical for every ``workers``, ``batch_size`` and backend, and for a
    run resumed after Ctrl-C or ``kill -9``.
    """
    n = _check_int("n", n, 1)
    seed = _check_int("seed", seed, 0)
    if workers is None:
        workers = os.cpu_count() or 1
    workers = _check_int("workers", workers, 1)
    if batch_size is not None:
        batch_size = _check_int("batch_size", batch_size, 1)
    g, net, source = _resolve_grid(grid)
    if isinstance(generator, str):
        if g is None:
            raise UsageError(f"scenario {generator!r}: a spec needs the Grid (its tables name "
                             "the elements), not its Network")
        scenario_spec = scenario_spec or generator
        generator = scenario_from_spec(generator, g)
    if not callable(getattr(generator, "sample", None)):
        raise UsageError(f"generator {describe(generator)} has no sample(net, rng) method")
    evaluator = evaluator if evaluator is not None else ImpactEvaluator()
    manifest = _manifest(net, source, scenario_spec or describe(generator), n, seed, evaluator)

    if out is None:
        root = Path(tempfile.mkdtemp(prefix="gridres-ensemble-"))
        try:
            return _run(root, True, manifest, net, generator, evaluator, n, seed, workers,
                        scheduler, batch_size, resume, progress)
        finally:
            shutil.rmtree(root, ignore_errors=True)
    with OutputFolder(out, force=force).open(check=False) as folder:
        _prepare(folder, manifest, resume, restart)
        return _run(folder.path, False, manifest, net, generator, evaluator, n, seed,
                    workers, scheduler, batch_size, resume, progress)


def _prepare(folder: OutputFolder, manifest: dict[str, Any], resume: bool,
             restart: bool) -> None:
    """Make ``folder`` ready for this run's batches (it is open and locked): refuse what
    is not gridres's, tidy what a crash left, check or write the manifest."""
    root = folder.path
    parts_dir = root / PARTS
    ours = JOURNAL in folder.recorded
    if ours:
        clean_stale(parts_dir)
        verify_parts(root)  # before any work: a changed part is refused at once
    # the parts belong to the list of parts, not to the folder's record
    folder.check(unlisted_files(root) if ours else ())
    folder.delegate(PARTS)
    existing = read_manifest(root)
    if existing is not None:
        if not resume:
            raise UsageError(
                f"{root}: already holds an ensemble ({existing.get('n')} scenarios, seed "
                f"{existing.get('seed')}); add --resume to continue it or use a new --out DIR"
            )
        try:
            check_manifest(root, existing, manifest)
        except UsageError as exc:
            if not restart or not ours:
                raise
            logger.info("%s: %s; starting the ensemble afresh", root, exc)
            _reset(folder)
            existing = None
    elif ours and read_journal(root):
        raise GridError(f"{root / JOURNAL}: lists parts but {root} has no {MANIFEST}; the "
                        "folder was edited by hand: use a new --out DIR")
    elif resume:
        logger.info("%s: nothing to resume, starting a new run", root)
    # the list before the manifest: a kill -9 between the two leaves a folder that is
    # still ours; a list gridres did not record is never appended to (claim refuses)
    if JOURNAL not in folder.recorded:
        folder.claim(root / JOURNAL)
    if not (root / JOURNAL).exists():
        (root / JOURNAL).touch()
    if existing is None:
        write_manifest(root, manifest)
    parts_dir.mkdir(exist_ok=True)


def _reset(folder: OutputFolder) -> None:
    """Delete the ensemble's files (only those its list and record name)."""
    root = folder.path
    for rel in sorted(owned_files(root)):
        (root / rel).unlink(missing_ok=True)
    for name in (JOURNAL, MANIFEST, SUMMARY):
        if name in folder.recorded:
            folder.remove(root / name)


def _run(root: Path, temporary: bool, manifest: dict[str, Any], net: Network, generator: Any,
         evaluator: Any, n: int, seed: int, workers: int, scheduler: Any,
         batch_size: int | None, resume: bool,
         progress: Callable[[int, int], None] | None) -> EnsembleResult:
    parts_dir = root / PARTS
    if temporary:
        write_manifest(root, manifest)
        parts_dir.mkdir()
    todo = missing_ranges(list_parts(parts_dir), n)
    n_todo = sum(b - a + 1 for a, b in todo)
    n_resumed = n - n_todo
    done = n_resumed
    if progress is not None:
        progress(done, n)
    start = time.perf_counter()
    if n_todo:
        job = Job(net, generator, evaluator, seed)
        try:
            with Pool(job, workers=workers, scheduler=scheduler,
                      preload=["gridres.ensemble.workers"]) as pool:
                batches = _batches(todo, batch_size, pool.slots)
                for _, (first, last, records, counts) in pool.map(run_batch, batches,
                                                                  ordered=False):
                    write_batch(parts_dir, first, last, records, counts)
                    done += last - first + 1
                    if progress is not None:
                        progress(done, n)
        except KeyboardInterrupt:
            where = (
                "nothing kept (no --out DIR)" if temporary
                else f"finished parts kept in {root}; run again with --resume to finish"
            )
            raise EnsembleInterrupted(
                f"interrupted after {done} of {n} scenarios; {where}", done, n,
                None if temporary else root,
            ) from None
    elapsed = time.perf_counter() - start
    summary = summarize(root)
    if not temporary:
        _write_summary(root, summary)
    return EnsembleResult(
        out=None if temporary else root,
        summary=summary,
        n_run=n_todo,
        n_resumed=n_resumed,
        elapsed_s=elapsed,
        records=load_records(root) if temporary else None,
    )


def _write_summary(root: Path, summary: EnsembleSummary) -> None:
    with write_file(root / SUMMARY, "w") as fh:
        fh.write(json.dumps(summary.to_dict(), indent=2, allow_nan=False) + "\n")
