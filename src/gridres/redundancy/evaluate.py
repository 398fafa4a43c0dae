"""Score designs on common random numbers, reusing the base case's results where exact.

:class:`PlanEvaluator` holds the base case (grid, restoration settings, scenario
generator, seed, number of scenarios, restoration policy) and evaluates *designs*: the
base with a set of interventions applied (in a canonical order, so that a set names one
design). Every design sees the same scenarios (:mod:`gridres.redundancy.crn`) and is
restored with the same policy; each scenario's record holds energy not served,
customer-hours, facility-hours dark and people-hours
(:data:`gridres.restoration.metrics.LOSS_METRICS`).

Every restoration assesses the grid with the engine under the plan's cascade option
(:class:`~gridres.cascade.CascadeOptions`, a study's ``[cascade]``), flows included, so a
design's benefit counts flow relief too: a new line that keeps a branch from tripping
lowers the energy not served in ``trip`` or ``redispatch`` mode.

Reusing results
---------------
A design ``D + x`` is evaluated from a design ``D`` already evaluated (the base, or the
portfolio so far). In a scenario where ``x`` provably cannot change ``D``'s run, ``D``'s
result is copied; the conditions, each exact, are in :mod:`gridres.redundancy.reuse`
(those that rest on islands alone hold only where flows cannot change who is supplied).
Anything else is simulated. A test checks that results with reuse equal those without,
scenario by scenario.

Parallelism: simulations go out in batches to the project's pool
(:class:`gridres.pool.Pool`: local processes or a Dask cluster); every record depends on
the design and the scenario index only, so results do not depend on the backend or the
number of workers.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gridres.cascade import CascadeOptions
from gridres.ensemble.summary import tail_stats
from gridres.errors import UsageError
from gridres.model import Grid, Network, State
from gridres.pool import Pool
from gridres.redundancy.crn import CommonScenarios, scenario_key
from gridres.redundancy.interventions import Design, Intervention
from gridres.redundancy.reuse import (
    _READS_BACKUP,
    DesignResult,
    _kind_counts,
    _unchanged,
    intervention_change,
)
from gridres.restoration.assets import prepare
from gridres.restoration.fleets import split_policy
from gridres.restoration.metrics import LOSS_METRICS, paired_difference
from gridres.restoration.policies import get_policy, needs_priority
from gridres.restoration.settings import RestorationSettings
from gridres.restoration.simulate import simulate
from gridres.restoration.supply import flows_matter, supply
from gridres.scenarios.base import Scenario, ScenarioGenerator
from gridres.topology import components, effective

__all__ = ["PlanEvaluator", "Benefit", "benefit", "cvar_drop"]

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


# -- the worker side ----------------------------------------------------------------------
def _build(base: Design, interventions: Sequence[Intervention]) -> Design:
    d = base
    for iv in sorted(interventions, key=lambda x: x.id):
        d = iv.apply(d)
    return d


@dataclass(frozen=True, eq=False)
class _Compiled:
    net: Network
    assets: Any
    policy: Any
    base_fac_grid: np.ndarray  # without cascade: the islands-only rules of reuse
    run_fac_grid: np.ndarray  # under the plan's cascade option: the runs' reference


class _PlanJob:
    """What every worker receives once: the base design, the restoration policy, the
    cascade option and the outside temperature. Each worker keeps the designs it compiled
    (not pickled)."""

    def __init__(self, base: Design, policy: str, priority: tuple[str, ...],
                 cascade: CascadeOptions, outside_c: float | None = None) -> None:
        self.base = base
        self.policy = policy
        self.priority = priority
        self.cascade = cascade
        self.outside_c = outside_c
        self.cache: dict[frozenset, _Compiled] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "cache": {}}

    def compiled(self, key: frozenset, interventions: Sequence[Intervention]) -> _Compiled:
        c = self.cache.get(key)
        if c is None:
            design = _build(self.base, interventions)
            net = design.grid.network
            intact = net.intact()
            s = supply(net, intact)
            fn = get_policy(self.policy,
                            self.priority if needs_priority([self.policy]) else None)
            c = _Compiled(net, prepare(design.grid, design.settings,
                                       outside_c=self.outside_c), fn, s.fac_grid,
                          supply(net, intact, self.cascade).fac_grid)
            if len(self.cache) > 64:
                self.cache.clear()
            self.cache[key] = c
        return c


def _simulate(job: _PlanJob, key: frozenset, interventions: Sequence[Intervention],
              items: Sequence[tuple[int, Scenario, np.ndarray]]) -> list[tuple]:
    """Restore each scenario of a batch in one design; metrics and reuse information."""

    c = job.compiled(key, interventions)
    net = c.net
    cascade = job.cascade
    need_dep = split_policy(job.policy)[0] in _READS_BACKUP
    load = np.maximum(net.load_mw, 0.0)
    has_need = ((load > 0) | (net.gs_mw > 0)) & net.bus_in_service
    out = []
    for i, sc, mult in items:
        res = simulate(net, c.assets, sc, c.policy, multipliers=mult, cascade=cascade)
        m = [float(res.metrics[k]) for k in LOSS_METRICS]
        st = sc.final_state(net)
        eff = effective(net, st)
        _, lab = components(net, eff.branch)
        labels = np.where(eff.bus, lab, -1).astype(np.int32)
        s = supply(net, st)
        full = s.served_mw >= load - 1e-9 * np.maximum(load, 1.0)
        lossless = bool(np.all(s.energized[has_need] & full[has_need])
                        and np.all(s.fac_grid[c.base_fac_grid]))
        fac = res.facilities
        fac_lost = ((fac["hours_dark"].to_numpy(float) + fac["hours_on_backup"].to_numpy(float)
                     + fac["hours_on_mobile"].to_numpy(float)) > 0)
        sched = res.schedule
        waited = bool(((sched["crew"].to_numpy() < 0)
                       | (sched["travel_start_h"].to_numpy(float)
                          > sched["fail_h"].to_numpy(float) + 1e-9)).any())
        dep = np.zeros(len(net.fac_ids), dtype=bool)
        if need_dep and not lossless:
            intact = net.intact()
            seen = set()
            for w in sc.waves:
                for etype, arr in enumerate((w.buses, w.branches, w.gens)):
                    for p in arr:
                        if (etype, int(p)) in seen:
                            continue
                        seen.add((etype, int(p)))
                        masks = [intact.bus.copy(), intact.branch.copy(), intact.gen.copy()]
                        masks[etype][p] = False
                        dep |= c.run_fac_grid & ~supply(net, State(*masks), cascade).fac_grid
        out.append((i, m, labels, lossless, fac_lost, dep, waited))
    return out


# -- the evaluator ------------------------------------------------------------------------
class PlanEvaluator:
    """Evaluate designs of one base case on common random numbers.

    Parameters
    ----------
    grid : Grid
        The base grid (the generator's grid).
    generator : ScenarioGenerator
    settings : RestorationSettings
    seed : int
    n : int
        Scenarios ``0 .. n-1``.
    policy : str
        Restoration policy (a name of :func:`gridres.restoration.policy_names`).
    priority : sequence of str
        Element tokens for ``priority-list``.
    workers : int
        Worker processes (1: in this process).
    scheduler : str or distributed.Client, optional
        ``tcp://HOST:PORT`` of a Dask scheduler (or a client): simulate there (see
        :class:`gridres.pool.Pool`).
    cascade : CascadeOptions or str, optional
        Cascade mode and margin of every restoration (default mode ``none``).
    reuse : bool
        Reuse results where exact (see the module notes); ``False`` simulates every
        scenario of every design (for checks).
    progress : callable, optional
        ``progress(done, total)`` over the simulations of each :meth:`evaluate` call.
    outside_c : float, optional
        Outside temperature (°C) for the buildings' heat in the service metrics.

    Examples
    --------
    >>> from gridres.io import load_grid
    >>> from gridres.scenarios.spec import scenario_from_spec
    >>> g = load_grid("ieee14")
    >>> ev = PlanEvaluator(g, scenario_from_spec("random:k=1", g), RestorationSettings(),
    ...                    seed=1, n=20)
    >>> base = ev.base_result()
    >>> base.metrics.shape, base.n_simulated
    ((20, 11), 20)
    """

    def __init__(self, grid: Grid, generator: ScenarioGenerator, settings: RestorationSettings,
                 *, seed: int, n: int, policy: str = "greedy",
                 priority: Sequence[str] = (), workers: int = 1, scheduler: Any = None,
                 cascade: CascadeOptions | str | None = None, reuse: bool = True,
                 progress: Progress | None = None, outside_c: float | None = None) -> None:
        if not (isinstance(n, int) and n >= 1):
            raise UsageError(f"The 'n' parameter of the plan must be an int >= 1. Got {n!r} "
                             "instead.")
        if not (isinstance(workers, int) and workers >= 1):
            raise UsageError(f"The 'workers' parameter of the plan must be an int >= 1. Got "
                             f"{workers!r} instead.")
        if needs_priority([policy]) and not priority:
            raise UsageError(f"The plan's policy {policy!r} needs a priority list (element "
                             "tokens in the order to repair them). Got none.")
        get_policy(policy, priority if needs_priority([policy]) else None)
        self.base = Design(grid.replace(), settings)
        self.crn = CommonScenarios(grid, generator, seed, settings.repair_sigma)
        self.seed = int(seed)
        self.n = n
        self.policy = policy
        self.priority = tuple(priority)
        self.workers = workers
        self.scheduler = scheduler
        self.cascade = CascadeOptions.of(cascade)
        self.reuse = reuse
        self.progress = progress
        self.outside_c = outside_c
        self.interventions: dict[str, Intervention] = {}
        self.results: dict[frozenset, DesignResult] = {}
        self._designs: dict[frozenset, Design] = {frozenset(): self.base}
        self._kinds: dict[frozenset, np.ndarray] = {}
        self._flows: dict[frozenset, bool] = {}
        self._active: Pool | None = None
        self.simulations = 0
        self.reused = 0

    # -- pool ---------------------------------------------------------------------------
    def __enter__(self) -> PlanEvaluator:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Shut the worker pool down (it starts again on the next evaluation)."""
        if self._active is not None:
            self._active.close()
            self._active = None

    def _pool(self) -> Pool:
        if self._active is None:
            self._active = Pool(_PlanJob(self.base, self.policy, self.priority, self.cascade,
                                         self.outside_c),
                                workers=self.workers, scheduler=self.scheduler,
                                preload=[__name__])
        return self._active

    # -- designs ------------------------------------------------------------------------
    def register(self, interventions: Iterable[Intervention]) -> None:
        """Make interventions known by id (ids must be unique)."""
        for iv in interventions:
            old = self.interventions.get(iv.id)
            if old is not None and old is not iv:
                raise UsageError(f"two candidate interventions share the id {iv.id!r}; give "
                                 "each candidate its own id")
            self.interventions[iv.id] = iv

    def design(self, key: Iterable[str]) -> Design:
        """The design with the given interventions applied (canonical order: by id)."""
        key = frozenset(key)
        d = self._designs.get(key)
        if d is None:
            last = max(key)   # canonical order: the largest id is applied last
            d = self.interventions[last].apply(self.design(key - {last}))
            self._designs[key] = d
        return d

    def _context(self, key: frozenset):
        d = self.design(key)
        return self.crn.context(key, d.grid, d.hardening)

    def flows_matter(self, key: Iterable[str]) -> bool:
        """Whether flows may change who is supplied in some state of the design's runs:
        the plan's cascade mode trips or redispatches and some branch of the design
        could overload (:func:`gridres.restoration.supply.flows_matter` of its intact
        grid, which holds every state of a run)."""
        key = frozenset(key)
        f = self._flows.get(key)
        if f is None:
            net = self.design(key).grid.network
            f = self._flows[key] = flows_matter(net, net.intact(), self.cascade)
        return f

    def _branch_kind(self, key: frozenset) -> np.ndarray:
        k = self._kinds.get(key)
        if k is None:
            kinds = self.design(key).grid.branches["kind"].astype(str).str.lower().to_numpy()
            k = self._kinds[key] = np.where(kinds == "transformer", "transformer", "line")
        return k

    def base_result(self) -> DesignResult:
        """Results of the base case."""
        return self.evaluate([frozenset()])[0]

    def result(self, key: Iterable[str]) -> DesignResult:
        """Results of one design (evaluated if needed)."""
        return self.evaluate([frozenset(key)])[0]

    def evaluate(self, keys: Sequence[Iterable[str]]) -> list[DesignResult]:
        """Evaluate designs (each a set of intervention ids), reusing what is exact.

        Every design's parents (the design without one of its interventions) that are
        already evaluated are tried for reuse; the others' scenarios are simulated, all
        designs of one call in one pool session.
        """
        keys = [frozenset(k) for k in keys]
        for k in keys:
            unknown = [x for x in k if x not in self.interventions]
            if unknown:
                raise UsageError(f"unknown intervention id {unknown[0]!r}")
        todo_keys = [k for k in dict.fromkeys(keys) if k not in self.results]
        pending: dict[frozenset, dict[str, Any]] = {}
        jobs: list[tuple[frozenset, list[tuple[int, Scenario, np.ndarray]]]] = []
        for key in todo_keys:
            state = self._prepare(key)
            pending[key] = state
            if state["todo"]:
                jobs.append((key, state["todo"]))
        total = sum(len(t) for _, t in jobs)
        if total:
            self._run(jobs, pending, total)
        for key in todo_keys:
            s = pending[key]
            self.results[key] = DesignResult(
                key=key, design=self.design(key), metrics=s["metrics"], labels=s["labels"],
                lossless=s["lossless"], fac_lost=s["fac_lost"], fac_dep=s["fac_dep"],
                crew_waited=s["waited"], simulated=s["simulated"])
        return [self.results[k] for k in keys]

    def _prepare(self, key: frozenset) -> dict[str, Any]:
        n = self.n
        design = self.design(key)
        net = design.grid.network
        state: dict[str, Any] = {
            "metrics": np.zeros((n, len(LOSS_METRICS))),
            "labels": np.full((n, net.n_bus), -1, dtype=np.int32),
            "lossless": np.zeros(n, dtype=bool),
            "fac_lost": np.zeros((n, len(net.fac_ids)), dtype=bool),
            "fac_dep": np.zeros((n, len(net.fac_ids)), dtype=bool),
            "waited": np.zeros(n, dtype=bool),
            "simulated": np.zeros(n, dtype=bool),
            "todo": [],
        }
        ctx = self._context(key)
        parents = []
        if self.reuse:
            for x in sorted(key):
                pk = key - {x}
                if pk in self.results:
                    parents.append((self.results[pk], self._context(pk),
                                    intervention_change(self.interventions[x],
                                                        self.design(pk)),
                                    self.flows_matter(pk) or self.flows_matter(key)))
        kinds = self._branch_kind(key)
        for i in range(n):
            sc, mult = self.crn.scenario(ctx, i)
            src = None
            if parents:
                empty = all(w.size == 0 for w in sc.waves)
                memo: dict[str, Any] = {}

                def counts(sc=sc, memo=memo) -> dict[str, int]:
                    if "c" not in memo:
                        memo["c"] = _kind_counts(sc, kinds)
                    return memo["c"]

                def tokens(sc=sc, memo=memo, net=net) -> set[str]:
                    if "t" not in memo:
                        memo["t"] = {f"{kind}:{ids[p]}" for w in sc.waves for kind, ids, arr in (
                            ("bus", net.bus_ids, w.buses), ("branch", net.branch_ids, w.branches),
                            ("gen", net.gen_ids, w.gens)) for p in arr}
                    return memo["t"]

                for parent, pctx, change, flows in parents:
                    psc, _ = self.crn.scenario(pctx, i)
                    if psc is not sc:
                        if "k" not in memo:
                            memo["k"] = scenario_key(sc)
                        if scenario_key(psc) != memo["k"]:
                            continue
                    if empty or _unchanged(change, parent, i, self.policy, counts, tokens,
                                           flows):
                        src = parent
                        break
            if src is not None:
                state["metrics"][i] = src.metrics[i]
                state["labels"][i] = src.labels[i]
                state["lossless"][i] = src.lossless[i]
                state["fac_lost"][i] = src.fac_lost[i]
                state["fac_dep"][i] = src.fac_dep[i]
                state["waited"][i] = src.crew_waited[i]
                self.reused += 1
            else:
                state["todo"].append((i, sc, mult))
                state["simulated"][i] = True
        return state

    def _run(self, jobs, pending, total: int) -> None:
        pool = self._pool()
        size = int(min(64, max(4, math.ceil(total / (4 * pool.slots)))))

        def tasks():
            for key, todo in jobs:
                ivs = tuple(self.interventions[k] for k in sorted(key))
                for a in range(0, len(todo), size):
                    yield key, ivs, todo[a:a + size]

        done = 0
        if self.progress:
            self.progress(0, total)
        for (key, _, _), rows in pool.map(_simulate, tasks(), ordered=False):
            s = pending[key]
            for i, m, labels, lossless, fac_lost, dep, waited in rows:
                s["metrics"][i] = m
                s["labels"][i] = labels
                s["lossless"][i] = lossless
                s["fac_lost"][i] = fac_lost
                s["fac_dep"][i] = dep
                s["waited"][i] = waited
            done += len(rows)
            self.simulations += len(rows)
            if self.progress:
                self.progress(done, total)

    # -- comparisons ----------------------------------------------------------------------
    def compare(self, before: DesignResult, after: DesignResult, metric: str,
                level: float = 0.95) -> Benefit:
        """Drop of ``metric`` from ``before`` to ``after`` (see :func:`benefit`)."""
        return benefit(before.values(metric), after.values(metric), metric, level=level)

    def cvar_drop(self, before: DesignResult, after: DesignResult, metric: str = "ens_mwh",
                  level: float = 0.95, n_boot: int = 1000) -> tuple[float, float, float]:
        """Drop of CVaR95 of ``metric`` and a paired percentile-bootstrap interval (the same
        resamples for every design, drawn from the plan's seed)."""
        return cvar_drop(before.values(metric), after.values(metric), self.seed, level, n_boot)


@dataclass(frozen=True)
class Benefit:
    """Mean drop of a metric from one design to another over the same scenarios.

    Attributes
    ----------
    metric : str
    n : int
    before, after : float
        Means.
    drop : float
        ``before - after`` (positive: the second design is better).
    ci_low, ci_high : float
        Paired Student-t confidence interval of ``drop``.
    level : float
    """

    metric: str
    n: int
    before: float
    after: float
    drop: float
    ci_low: float
    ci_high: float
    level: float = 0.95


def benefit(before: np.ndarray, after: np.ndarray, metric: str = "ens_mwh",
            level: float = 0.95) -> Benefit:
    """Mean paired drop ``before - after`` with a Student-t interval, by
    :func:`gridres.restoration.paired_difference`.

    Examples
    --------
    >>> b = benefit(np.array([10.0, 20.0, 30.0]), np.array([7.0, 17.0, 26.0]))
    >>> round(b.drop, 6), round(b.ci_low, 3), round(b.ci_high, 3)
    (3.333333, 1.899, 4.768)
    """

    records = pd.DataFrame({f"{metric}__after": np.asarray(after, dtype=float),
                            f"{metric}__before": np.asarray(before, dtype=float)})
    d = paired_difference(records, metric, "after", "before", level=level)
    lo, hi = -d.ci_high, -d.ci_low
    if d.n >= 2 and not math.isfinite(lo) and d.mean_diff == 0:
        lo = hi = 0.0
    return Benefit(metric, d.n, d.mean_b, d.mean_a, -d.mean_diff, lo, hi, level)


_BOOT = 104
_BOOT_CACHE: dict[tuple[int, int, int], np.ndarray] = {}


def cvar_drop(before: np.ndarray, after: np.ndarray, seed: int, level: float = 0.95,
              n_boot: int = 1000) -> tuple[float, float, float]:
    """``CVaR(before) - CVaR(after)`` at ``level`` (the mean of the worst
    ``ceil((1 - level) n)`` scenarios, as :func:`gridres.ensemble.tail_stats`) and a 95 %
    paired percentile-bootstrap interval.

    Examples
    --------
    >>> x = np.arange(100.0)
    >>> cvar_drop(x, x * 0.5, seed=1)[0]
    48.5
    """

    a = np.asarray(before, dtype=float)
    b = np.asarray(after, dtype=float)
    n = len(a)
    drop = tail_stats(a, level)["cvar95"] - tail_stats(b, level)["cvar95"]
    if n < 2:
        return float(drop), math.nan, math.nan
    k = max(1, math.ceil(round((1.0 - level) * n, 9)))
    ck = (int(seed), n, n_boot)
    idx = _BOOT_CACHE.get(ck)
    if idx is None:
        idx = np.random.default_rng([int(seed), _BOOT, n]).integers(0, n, size=(n_boot, n))
        _BOOT_CACHE.clear()
        _BOOT_CACHE[ck] = idx

    def tail(x: np.ndarray) -> np.ndarray:
        s = x[idx]
        return np.partition(s, n - k, axis=1)[:, n - k:].mean(axis=1)

    boots = tail(a) - tail(b)
    lo, hi = np.quantile(boots, [0.025, 0.975])
    return float(drop), float(lo), float(hi)
