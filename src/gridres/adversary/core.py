"""``attack``: the worst ``k`` strikes on a grid, exact where affordable.

How a run proceeds (``method="auto"``):

1. **Exhaustive** when ``C(n, k)`` is within ``budget``: every set, exactly.
2. Else, for ``shed_mw`` without a cascade on grids of up to :data:`MILP_MAX_BUSES`
   buses, the **interdiction MILP** (:mod:`gridres.adversary.milp`); when it proves its
   optimum, further rows come from re-solving with each found set forbidden.
3. Otherwise (or when the MILP stops at its node limit) the **search**
   (:mod:`gridres.adversary.search`) within ``budget`` evaluations; for ``shed_mw`` without
   a cascade the MILP's bound (or its LP relaxation's, on larger grids) bounds the gap.

The reported rows are recomputed one by one with the engine itself
(:func:`gridres.impact.assess` or :func:`gridres.cascade.cascade`), and carry every
metric, ``ens_mwh`` included (one restoration simulation each).
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from gridres.adversary.evaluate import METRICS, OBJECTIVES, Metrics, SetEvaluator, rank
from gridres.adversary.exhaustive import Table, exhaustive
from gridres.adversary.milp import CutModel
from gridres.adversary.pool import Evaluations, evaluations
from gridres.adversary.search import Search, neighbours
from gridres.adversary.targets import Targets, targets
from gridres.cascade import CascadeOptions
from gridres.errors import UsageError
from gridres.io import load_grid
from gridres.model import Grid, Network, State
from gridres.pool import resolve_workers
from gridres.restoration.assets import prepare
from gridres.restoration.settings import RestorationSettings

__all__ = ["METHODS", "MILP_MAX_BUSES", "MILP_NODES", "LP_MAX_BUSES", "Strike", "AttackResult",
           "attack", "default_budget", "check_objective", "as_grid", "report_rows",
           "pool_size"]

logger = logging.getLogger(__name__)

#: Ways to find the worst sets.
METHODS = ("auto", "exhaustive", "milp", "search")
#: Largest grid (buses) on which ``auto`` tries the MILP before searching.
MILP_MAX_BUSES = 1000
#: Branch-and-bound nodes per MILP solve (a node limit, not a time limit: reproducible).
MILP_NODES = 2000
#: Largest grid (buses) on which the search's LP-relaxation bound is computed.
LP_MAX_BUSES = 20_000
#: Most sets ``method="exhaustive"`` takes on (about an hour of one core on the demo
#: region): beyond it the request is refused rather than left to run for days.
MAX_EXHAUSTIVE = 200_000_000
#: Default budgets, in bus-evaluations (sets × buses): about a minute of one core.
WORK = {"batched": 200_000_000, "engine": 20_000_000, "ens": 5_000_000}


@dataclass(frozen=True)
class Strike:
    """One strike set and what it does.

    Attributes
    ----------
    rank : int
        1 for the worst (0 for a reference set such as the greedy attacker's).
    elements : tuple of str
        ``KIND:ID`` tokens of the struck elements, in the grid's order.
    shed_mw, people_out, facilities_dark, customers_out, ens_mwh
        The metrics of :mod:`gridres.adversary.evaluate` (``ens_mwh`` None where not
        computed).
    method : str
        How the set was found: ``exhaustive``, ``milp``, ``search`` or ``greedy``.
    """

    rank: int
    elements: tuple[str, ...]
    shed_mw: float
    people_out: int
    facilities_dark: int
    customers_out: float
    ens_mwh: float | None
    method: str

    def value(self, objective: str) -> float:
        v = getattr(self, objective)
        return math.nan if v is None else float(v)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "elements": list(self.elements),
            "shed_mw": round(self.shed_mw, 6),
            "people_out": self.people_out,
            "facilities_dark": self.facilities_dark,
            "customers_out": round(self.customers_out, 3),
            "ens_mwh": None if self.ens_mwh is None else round(self.ens_mwh, 6),
            "method": self.method,
        }


@dataclass(frozen=True, eq=False)
class AttackResult:
    """What :func:`attack` returns.

    Attributes
    ----------
    grid : str
    k : int
    target, objective : str
    cascade : CascadeOptions
        The cascade option every set was judged with.
    attacks : tuple of Strike
        The worst distinct sets found, worst first.
    method : str
        ``exhaustive``, ``milp`` or ``search``: how the worst set was found.
    evaluated : int
        Sets evaluated exactly (sets of other sizes that the search looked at included).
    sets : int
        ``C(n, k)``, the sets there are.
    candidates : int
        Targets the attacker could strike (``n``).
    bound : float or None
        An upper bound on the objective of every ``k``-set (the optimum when
        ``optimal``); None where no valid bound is known.
    gap : float or None
        ``(bound - best) / bound`` (0 when optimal or when the bound is 0).
    optimal : bool
        The worst set is proven worst.
    greedy : Strike or None
        The sequential greedy attacker's set, where the search ran.
    shielded, excluded : tuple of str
        Targets out of reach by ``protect`` and ``exclude``.
    seed : int
    elapsed_s : float
    notes : tuple of str
    """

    grid: str
    k: int
    target: str
    objective: str
    cascade: CascadeOptions
    attacks: tuple[Strike, ...]
    method: str
    evaluated: int
    sets: int
    candidates: int
    bound: float | None
    gap: float | None
    optimal: bool
    greedy: Strike | None
    shielded: tuple[str, ...]
    excluded: tuple[str, ...]
    seed: int
    elapsed_s: float
    notes: tuple[str, ...] = ()

    @property
    def best(self) -> Strike:
        return self.attacks[0]

    @property
    def value(self) -> float:
        """The objective of the worst set."""
        return self.best.value(self.objective)

    def table(self) -> pd.DataFrame:
        """The attacks as a table, one row per set (elements joined by ``+``)."""
        rows = [s.to_dict() for s in self.attacks]
        for r in rows:
            r["elements"] = "+".join(r["elements"])
        return pd.DataFrame(rows, columns=["rank", "elements", *METRICS, "method"])

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``gridres attack --json``."""
        return {
            "grid": self.grid,
            "k": self.k,
            "target": self.target,
            "objective": self.objective,
            "cascade_mode": self.cascade.mode,
            "margin": self.cascade.margin,
            "attacks": [s.to_dict() for s in self.attacks],
            "method": self.method,
            "evaluated": self.evaluated,
            "sets": self.sets,
            "candidates": self.candidates,
            "bound": None if self.bound is None else round(self.bound, 6),
            "gap": None if self.gap is None else round(self.gap, 9),
            "optimal": self.optimal,
            "greedy": None if self.greedy is None else self.greedy.to_dict(),
            "protected": list(self.shielded),
            "excluded": list(self.excluded),
            "seed": self.seed,
            "elapsed_s": round(self.elapsed_s, 3),
            "notes": list(self.notes),
        }


# -- checks ---------------------------------------------------------------------------------
def as_grid(grid: Grid | str | os.PathLike) -> Grid:
    """A Grid from a Grid or a grid spec (:func:`gridres.io.load_grid`)."""
    if isinstance(grid, Grid):
        return grid
    if isinstance(grid, Network):
        raise UsageError("attack needs the Grid, not its compiled Network: substations and "
                         "ids come from the grid's tables (pass grid, not grid.network)")
    return load_grid(grid)


def check_objective(grid: Grid, objective: str) -> None:
    """Refuse an unknown objective, or one the grid has no data for."""
    if objective not in OBJECTIVES:
        raise UsageError(f"The 'objective' parameter of attack must be one of "
                         f"{', '.join(OBJECTIVES)}. Got {objective!r} instead.")
    net = grid.network
    need = {
        "people_out": (int(net.fac_people.sum()) > 0, "facilities with people"),
        "facilities_dark": (len(net.fac_ids) > 0, "critical facilities"),
        "customers_out": (int(net.customers.sum()) > 0, "bus customer counts"),
    }
    if objective in need and not need[objective][0]:
        raise UsageError(
            f"objective {objective} needs {need[objective][1]}, and grid "
            f"{grid.source or grid.name} has none; choose shed_mw or ens_mwh, or add them "
            "to the grid"
        )


def _check_int(value: Any, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise UsageError(f"The {name!r} parameter of attack must be an int >= {low}. "
                         f"Got {value!r} instead.")
    return int(value)


def pool_size(workers: int | None, work: int, evaluator: SetEvaluator,
              scheduler: Any = None) -> int | None:
    """Processes for ``work`` evaluations: ``workers`` (``None``: every core), but one
    where the work is a few blocks (a pool would cost more than it saves). A named
    Dask ``scheduler`` is always used (it makes local ``workers`` moot)."""
    if scheduler is not None:
        return workers
    if work <= 8 * evaluator.chunk:
        return 1
    return resolve_workers(workers)


def default_budget(net: Network, objective: str, cascade: CascadeOptions | str | None) -> int:
    """Sets evaluated exactly by default: :data:`WORK` bus-evaluations over the grid's
    buses (about a minute of one core), so on the demo region (103 buses) 1.9 million
    sets without a cascade, 194,000 with one, 48,000 for ``ens_mwh``."""
    mode = CascadeOptions.of(cascade).mode
    kind = "ens" if objective == "ens_mwh" else "batched" if mode == "none" else "engine"
    return max(1000, WORK[kind] // max(net.n_bus, 1))


# -- the attack -----------------------------------------------------------------------------
def attack(
    grid: Grid | str | os.PathLike,
    k: int,
    *,
    target: str = "substation",
    objective: str = "shed_mw",
    cascade: CascadeOptions | str | None = None,
    exclude: Iterable[str] = (),
    protect: Iterable[str] = (),
    top: int = 10,
    budget: int | None = None,
    method: str = "auto",
    seed: int = 0,
    workers: int | None = 1,
    scheduler: Any = None,
    state: State | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> AttackResult:
    """The worst ``k`` simultaneous strikes on a grid, for one objective.

    Parameters
    ----------
    grid : Grid or str or path-like
        The grid, or a spec for :func:`gridres.io.load_grid`.
    k : int
        Elements struck together, ``1 <= k <=`` the targets in reach.
    target : {"substation", "bus", "branch", "gen"}
    objective : {"shed_mw", "people_out", "facilities_dark", "customers_out", "ens_mwh"}
        What the attacker maximises (see :mod:`gridres.adversary.evaluate`).
    cascade : CascadeOptions or str, optional
        How the grid reacts to the overloads after the strikes: mode ``none`` (default),
        ``trip`` or ``redispatch`` with a margin (:class:`gridres.cascade.CascadeOptions`,
        or a mode name), as in :func:`gridres.restore` and the ensemble.
    exclude, protect : iterable of str
        Element tokens the attacker cannot destroy (see :func:`~gridres.adversary.targets`).
    top : int
        Distinct sets to report.
    budget : int, optional
        Most sets to evaluate exactly; ``C(n, k)`` within it means an exhaustive run.
        Default :func:`default_budget`. A search always completes the sequential greedy
        attacker (at most ``n k`` evaluations), even beyond it.
    method : {"auto", "exhaustive", "milp", "search"}
        ``milp`` needs ``objective="shed_mw"`` and cascade mode ``none``.
    seed : int
        Seed of the search's random restarts.
    workers : int or None
        Processes evaluating sets (``None``: every core). Results do not depend on it.
    scheduler : str or distributed.Client, optional
        ``tcp://HOST:PORT`` of a Dask scheduler (or a client): blocks of sets are
        evaluated there (see :class:`gridres.pool.Pool`). Results do not depend on it.
    state : State, optional
        The grid as it stands (default intact): strikes fall on it. Not with
        ``ens_mwh`` (restoration starts from the intact grid).
    progress : callable, optional
        Called as ``progress(done, total)`` while sets are evaluated.

    Returns
    -------
    AttackResult

    Raises
    ------
    UsageError
        Bad parameters, unknown ids, ``k`` above the targets in reach, or an objective
        the grid has no data for.

    Examples
    --------
    >>> res = attack("ieee14", 2, target="bus")
    >>> res.method, res.optimal, res.best.elements
    ('exhaustive', True, ('bus:3', 'bus:4'))
    >>> round(res.value, 1)
    142.0

    Notes
    -----
    Ranking: the objective, then the other metrics in the order ``shed_mw``,
    ``people_out``, ``facilities_dark``, ``customers_out``, all descending (floats
    compared after rounding to 6 decimals); remaining ties go to the set whose targets
    come first in the grid's order.
    """
    start = time.perf_counter()
    grid = as_grid(grid)
    net = grid.network
    k = _check_int(k, "k", 1)
    top = _check_int(top, "top", 1)
    seed = _check_int(seed, "seed", 0)
    opts = CascadeOptions.of(cascade)
    if method not in METHODS:
        raise UsageError(f"The 'method' parameter of attack must be one of "
                         f"{', '.join(METHODS)}. Got {method!r} instead.")
    check_objective(grid, objective)
    if objective == "ens_mwh" and state is not None:
        raise UsageError("objective ens_mwh restores the intact grid; it cannot start from "
                         "a given state (leave state out or choose another objective)")
    cut_ok = objective == "shed_mw" and opts.mode == "none"
    if method == "milp" and not cut_ok:
        raise UsageError("method milp needs objective shed_mw and cascade mode none (the "
                         "cut model has no flows); use method auto or search")
    budget = default_budget(net, objective, opts) if budget is None else \
        _check_int(budget, "budget", 1)
    tg = targets(grid, target, exclude=exclude, protect=protect, state=state)
    n = len(tg)
    if k > n:
        left = " left after protect/exclude" if (tg.shielded or tg.excluded) else ""
        raise UsageError(f"k={k} is larger than the {n} {target} targets{left} of "
                         f"{grid.source or grid.name}; choose k <= {n}")
    assets = prepare(grid, RestorationSettings()) if state is None else None
    evaluator = SetEvaluator(net, tg, cascade=opts, base=state, assets=assets,
                             ens=objective == "ens_mwh")
    total = math.comb(n, k)
    if method == "exhaustive" and total > MAX_EXHAUSTIVE:
        raise UsageError(f"method exhaustive: C({n}, {k}) = {total:,} sets is more than the "
                         f"{MAX_EXHAUSTIVE:,} that are enumerated; use method auto or search, "
                         "or a smaller k")
    if method == "auto":
        method = ("exhaustive" if total <= budget
                  else "milp" if cut_ok and net.n_bus <= MILP_MAX_BUSES else "search")
    work = total if method == "exhaustive" else budget
    workers = pool_size(workers, work, evaluator, scheduler)
    done = [0]

    def tick(m: int) -> None:
        done[0] += m
        if progress:
            progress(done[0], work)

    notes: list[str] = []
    found: dict[tuple[int, ...], str] = {}
    bound: float | None = None
    greedy = None
    with evaluations(evaluator, workers, tick, scheduler) as evals:
        if method == "exhaustive":
            table = exhaustive(evals, n, k, objective, top)
            found.update({tuple(s): "exhaustive" for s in table.sets.tolist()})
        else:
            table = Table(np.zeros((0, k), dtype=np.int64), Metrics.empty())
            proven = False
            if method == "milp":
                table, bound, proven = _milp(evals, net, tg, k, top, state, found, notes)
            if not proven:
                method = "search"
                # the greedy attacker is always completed (at most n k evaluations)
                search = Search(evals, n, k, objective, max(budget - evals.count, n * k),
                                _near(net, tg) if k > 1 else sp.csr_matrix((n, n)), seed)
                search.run()
                from_search = search.result(top)
                for s in from_search.sets.tolist():
                    found.setdefault(tuple(s), "search")
                table = _merge(table, from_search, objective, top)
                greedy = search.greedy
                if cut_ok and bound is None and net.n_bus <= LP_MAX_BUSES:
                    bound = CutModel(net, tg, k, state).solve(relax=True).bound_mw
                    notes.append("bound: LP relaxation of the interdiction MILP")
        evaluated = evals.count
    rows = report_rows(evaluator, tg, table.sets, objective, found)
    best = rows[0].value(objective)
    if method == "exhaustive":
        bound = best
    tol = 1e-6 * max(1.0, abs(best))
    optimal = bound is not None and best >= bound - tol
    if optimal and method == "search" and found.get(_key(tg, rows[0])) == "milp":
        method = "milp"
    gap = None if bound is None else (0.0 if optimal or bound <= 0 else (bound - best) / bound)
    greedy_row = None
    if greedy is not None:
        greedy_row = report_rows(evaluator, tg, np.array([greedy]), objective,
                                 {tuple(greedy): "greedy"}, ranks=False)[0]
    return AttackResult(
        grid=grid.name, k=k, target=target, objective=objective, cascade=opts,
        attacks=tuple(rows), method=method, evaluated=evaluated,
        sets=total, candidates=n, bound=bound, gap=gap, optimal=optimal, greedy=greedy_row,
        shielded=tg.shielded, excluded=tg.excluded, seed=seed,
        elapsed_s=time.perf_counter() - start, notes=tuple(notes),
    )


def _key(tg: Targets, strike: Strike) -> tuple[int, ...]:
    pos = {name: j for j, name in enumerate(tg.names)}
    return tuple(sorted(pos[e] for e in strike.elements))


def _near(net: Network, tg: Targets) -> sp.csr_matrix:
    """Targets within two buses of each other."""
    live = np.flatnonzero(net.live_branch)
    adj = sp.csr_matrix((np.ones(2 * len(live)), (np.r_[net.f[live], net.t[live]],
                                                  np.r_[net.t[live], net.f[live]])),
                        shape=(net.n_bus, net.n_bus))
    return neighbours(tg.touch(net), adj, hops=2)


def _merge(a: Table, b: Table, objective: str, top: int) -> Table:
    """Rows of both tables, duplicates dropped, ranked, the first ``top``."""
    sets = np.concatenate([a.sets, b.sets])
    metrics = Metrics.concat([a.metrics, b.metrics])
    _, first = np.unique(sets, axis=0, return_index=True)
    first = np.sort(first)
    sets, metrics = sets[first], metrics.take(first)
    order = rank(metrics, sets, objective)[:top]
    return Table(sets[order], metrics.take(order))


def _milp(evals: Evaluations, net: Network, tg: Targets, k: int, top: int,
          state: State | None, found: dict, notes: list[str]) -> tuple[Table, float, bool]:
    """Solve the cut MILP; when proven, re-solve with found sets forbidden for more rows
    (and for every set tied with the last one, up to ``4 × top`` more solves)."""
    model = CutModel(net, tg, k, state)
    first = model.solve(MILP_NODES)
    bound = first.bound_mw
    sets: list[tuple[int, ...]] = []
    sol, last, extra = first, math.inf, 4 * top
    while sol.members is not None:
        if len(sets) >= top:  # beyond top, only sets tied with the last one kept
            if sol.shed_mw < last - 1e-6 or extra == 0:
                break
            extra -= 1
        sets.append(sol.members)
        found.setdefault(sol.members, "milp")
        last = sol.shed_mw
        if not (sol.optimal and model.exact):
            break
        model.exclude(sol.members)
        sol = model.solve(MILP_NODES)
        if not sol.optimal:
            break
    proven = first.optimal and model.exact
    if not first.optimal:
        notes.append(f"MILP stopped at its node limit ({MILP_NODES}); bound from its "
                     "best dual bound")
    elif not model.exact:
        notes.append("MILP is an upper bound here (the grid has shunt demand or "
                     "negative loads)")
    if not sets:
        return Table(np.zeros((0, k), dtype=np.int64), Metrics.empty()), bound, False
    arr = np.array(sorted(set(sets)), dtype=np.int64)
    metrics = evals(arr)
    order = rank(metrics, arr, "shed_mw")
    keep = order[:top]
    return Table(arr[keep], metrics.take(keep)), bound, proven


def report_rows(evaluator: SetEvaluator, tg: Targets, sets: np.ndarray, objective: str,
                found: dict, ranks: bool = True) -> list[Strike]:
    """Strike sets (rows of candidate positions) recomputed with the engine itself, every
    metric, as :class:`Strike` rows ranked worst first (``rank`` 0 and the given order
    with ``ranks=False``); ``found`` names the method that found each set."""
    parts = []
    for row in sets:
        m = SetEvaluator.metrics(evaluator.impact(row))
        if evaluator.assets is not None:
            m = Metrics(m.shed_mw, m.people_out, m.facilities_dark, m.customers_out,
                        np.array([evaluator.ens_mwh(row)]))
        parts.append(m)
    metrics = Metrics.concat(parts)
    order = rank(metrics, sets, objective) if ranks else np.arange(len(sets))
    out = []
    for r, j in enumerate(order, start=1):
        members = tuple(int(x) for x in sets[j])
        ens = metrics.ens_mwh[j]
        out.append(Strike(
            rank=r if ranks else 0,
            elements=tuple(tg.names[c] for c in members),
            shed_mw=float(metrics.shed_mw[j]),
            people_out=int(metrics.people_out[j]),
            facilities_dark=int(metrics.facilities_dark[j]),
            customers_out=float(metrics.customers_out[j]),
            ens_mwh=None if np.isnan(ens) else float(ens),
            method=found.get(members, "search"),
        ))
    return out
