"""``defend``: which ``P`` targets to protect so that the attacker's best ``k`` strikes
hurt least (a defender-attacker min-max).

Decomposition (after Brown, Carlyle, Salmerón and Wood, 2006): keep a list of attack
sets found so far.

* **Master** (a lower bound): the protection set minimising the worst *known* attack it
  leaves open. A protected target blocks every attack that contains it. Solved exactly
  as a small MILP with HiGHS: minimise ``η`` subject to ``Σ z = P`` and, for every known
  attack ``A`` with damage ``d``, ``η >= d (1 - Σ_{e in A} z_e)``. Its optimum is a
  lower bound on the min-max: the attacker can do at least that well against any
  protection.
* **Attacker** (an upper bound): the attacker's best response to the master's
  protection (:func:`gridres.adversary.attack` with those targets protected). Its damage is
  what that protection really achieves; the least such damage so far is the upper bound.
  The response joins the list.

Rounds repeat until the bounds meet (the protection is then optimal) or ``max_rounds``
is reached (the gap is reported). Where ``C(n, k)`` is within the attack budget every set
is evaluated once, up front, and each best response is read off that table (exact);
otherwise each response is a search (a heuristic: the bounds then hold only as far as
the responses are truly best, and the result says it is not exact). Every response's
worst sets beyond the best (up to 20 per round from the table, 4 from a search, those
the protection leaves open) join the list too, which saves rounds without weakening the bounds.

References
----------
G. Brown, M. Carlyle, J. Salmerón and K. Wood, "Defending critical infrastructure",
Interfaces 36 (6), 2006.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from gridres.adversary.core import (
    AttackResult,
    Strike,
    as_grid,
    attack,
    check_objective,
    default_budget,
    pool_size,
    report_rows,
)
from gridres.adversary.evaluate import SetEvaluator
from gridres.adversary.exhaustive import Table, exhaustive
from gridres.adversary.pool import evaluations
from gridres.adversary.targets import targets
from gridres.cascade import CascadeOptions
from gridres.errors import UsageError
from gridres.model import Grid
from gridres.restoration.assets import prepare
from gridres.restoration.settings import RestorationSettings

__all__ = ["Round", "DefenceResult", "Defender", "defend", "protection_ranking"]

logger = logging.getLogger(__name__)

#: Attacks added to the master per round beside the best response: from the table, and
#: from a search or MILP response (each more costs the MILP a re-solve there).
EXTRA_PER_ROUND = 20
EXTRA_PER_SEARCH = 4


@dataclass(frozen=True)
class Round:
    """One round of the decomposition: the master's protection, the attacker's best
    response to it, and the bounds after the round."""

    protection: tuple[str, ...]
    response: tuple[str, ...]
    damage: float
    lower_bound: float
    upper_bound: float

    def to_dict(self) -> dict[str, Any]:
        return {"protection": list(self.protection), "response": list(self.response),
                "damage": round(self.damage, 6), "lower_bound": round(self.lower_bound, 6),
                "upper_bound": round(self.upper_bound, 6)}


@dataclass(frozen=True, eq=False)
class DefenceResult:
    """What :func:`defend` returns.

    Attributes
    ----------
    grid : str
    k, protect_budget : int
    target, objective : str
    cascade : CascadeOptions
    protection : tuple of str
        The targets to protect (beside any given as already protected).
    before : Strike
        The attacker's best ``k`` strikes without the new protection.
    after : Strike
        The attacker's best response to the protection.
    lower_bound, upper_bound : float
        Bounds on the least worst-case damage any protection of that size achieves;
        ``upper_bound`` is ``after``'s damage.
    gap : float
        ``(upper - lower) / upper`` (0 when the bounds meet or the damage is 0).
    exact : bool
        The bounds met and every best response was exact: the protection is optimal.
    method : str
        How the attacker's responses were found: ``exhaustive`` (one table of every
        set), ``milp`` (every response proven by the MILP) or ``search``.
    rounds : tuple of Round
    evaluated : int
        Strike sets evaluated.
    elapsed_s : float
    """

    grid: str
    k: int
    protect_budget: int
    target: str
    objective: str
    cascade: CascadeOptions
    protection: tuple[str, ...]
    before: Strike
    after: Strike
    lower_bound: float
    upper_bound: float
    gap: float
    exact: bool
    method: str
    rounds: tuple[Round, ...]
    evaluated: int
    elapsed_s: float

    @property
    def reduction(self) -> float:
        """Share of the worst-case damage the protection removes (0 when there is none)."""
        b = self.before.value(self.objective)
        a = self.after.value(self.objective)
        return 0.0 if b <= 0 else (b - a) / b

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``gridres defend --json``."""
        return {
            "grid": self.grid, "k": self.k, "protect_budget": self.protect_budget,
            "target": self.target, "objective": self.objective,
            "cascade_mode": self.cascade.mode, "margin": self.cascade.margin,
            "protection": list(self.protection),
            "before": self.before.to_dict(), "after": self.after.to_dict(),
            "reduction": round(self.reduction, 9),
            "lower_bound": round(self.lower_bound, 6),
            "upper_bound": round(self.upper_bound, 6),
            "gap": round(self.gap, 9), "exact": self.exact, "method": self.method,
            "rounds": [r.to_dict() for r in self.rounds],
            "evaluated": self.evaluated, "elapsed_s": round(self.elapsed_s, 3),
        }


def _master(attacks: list[tuple[tuple[int, ...], float]], n: int, budget: int,
            protectable: np.ndarray) -> tuple[tuple[int, ...], float]:
    """The protection of ``budget`` targets among ``protectable`` that minimises the worst
    known attack it leaves open, and that worst damage (the lower bound)."""
    m = len(attacks)
    # variables: z (n) then eta
    rows, cols, vals = [], [], []
    for j, (members, damage) in enumerate(attacks):
        for e in members:
            if protectable[e]:
                rows.append(j)
                cols.append(e)
                vals.append(damage)
        rows.append(j)
        cols.append(n)
        vals.append(1.0)
    a = sp.csr_matrix((vals, (rows, cols)), shape=(m, n + 1))
    lo = np.array([d for _, d in attacks])
    card = sp.csr_matrix((np.r_[protectable.astype(float), 0.0])[None, :])
    upper = np.r_[protectable.astype(float), np.inf]
    res = milp(np.r_[np.zeros(n), 1.0],
               constraints=[LinearConstraint(a, lo, np.inf), LinearConstraint(card, budget, budget)],
               integrality=np.r_[np.ones(n), 0.0], bounds=Bounds(np.zeros(n + 1), upper),
               options={"disp": False, "mip_rel_gap": 0.0})
    if res.x is None:  # cannot happen: any protection of the right size is feasible
        raise RuntimeError(f"protection master problem failed: {res.message}")
    chosen = tuple(int(e) for e in np.flatnonzero(res.x[:n] > 0.5))
    return chosen, max(float(res.fun), 0.0)


def defend(
    grid: Grid | str | os.PathLike,
    k: int,
    protect_budget: int,
    *,
    target: str = "substation",
    objective: str = "shed_mw",
    cascade: CascadeOptions | str | None = None,
    exclude: Iterable[str] = (),
    protect: Iterable[str] = (),
    candidates: Iterable[str] | None = None,
    budget: int | None = None,
    max_rounds: int = 50,
    seed: int = 0,
    workers: int | None = 1,
    scheduler: Any = None,
    progress: Callable[[int, int], None] | None = None,
) -> DefenceResult:
    """The ``protect_budget`` targets to protect so that the attacker's best ``k``
    strikes do the least damage (see the module notes).

    Parameters
    ----------
    grid : Grid or str or path-like
    k : int
        Strikes of the attacker.
    protect_budget : int
        Targets to protect (``P``), ``>= 0``.
    target, objective, cascade, exclude, seed, workers, scheduler
        As for :func:`gridres.adversary.attack`.
    protect : iterable of str
        Targets already protected (not counted in ``protect_budget``).
    candidates : iterable of str, optional
        Element tokens the defender may protect (a target is protectable when a token
        names one of its elements); default every target the attacker could strike.
    budget : int, optional
        The attack budget (:func:`gridres.adversary.default_budget`): within it, every set
        is evaluated once and the decomposition is exact.
    max_rounds : int
        Rounds of the decomposition before it stops with a gap.
    progress : callable, optional
        ``progress(done, total)`` while sets are evaluated.

    Returns
    -------
    DefenceResult

    Examples
    --------
    >>> res = defend("ieee14", 2, 1, target="bus")
    >>> res.exact, res.protection
    (True, ('bus:3',))
    >>> round(res.before.shed_mw, 1), round(res.after.shed_mw, 1)
    (142.0, 87.7)

    Notes
    -----
    Ties between protections of equal worst case go to the one the master problem
    returns (deterministic: HiGHS is run without a time limit).
    """
    _check_count("protect_budget", protect_budget, 0)
    d = Defender(grid, k, protect_budget, target=target, objective=objective,
                 cascade=cascade, exclude=exclude, protect=protect, candidates=candidates,
                 budget=budget, max_rounds=max_rounds, seed=seed, workers=workers,
                 scheduler=scheduler, progress=progress)
    return d.solve(protect_budget)


def protection_ranking(
    grid: Grid | str | os.PathLike,
    k: int,
    protect_budget: int,
    **kwargs: Any,
) -> tuple[DefenceResult, ...]:
    """The best protection of ``1, 2, ..., protect_budget`` targets against ``k``
    strikes: what to protect first, and what each further site buys.

    Each entry is :func:`defend` with that budget (the best sets need not be nested:
    the best two sites may not hold the best single one). Where every ``k``-set fits
    the attack budget, all sets are evaluated once and every entry is read off that one
    table.

    Parameters
    ----------
    grid, k : as for :func:`defend`
    protect_budget : int
        The largest protection, ``>= 1``.
    **kwargs
        The keyword arguments of :func:`defend`.

    Returns
    -------
    tuple of DefenceResult
        Entry ``p - 1`` protects ``p`` targets.

    Examples
    --------
    >>> path = protection_ranking("ieee14", 2, 2, target="bus")
    >>> [(r.protection, round(r.after.shed_mw, 1)) for r in path]
    [(('bus:3',), 87.7), (('bus:3', 'bus:9'), 69.5)]
    """
    _check_count("protect_budget", protect_budget, 1)
    d = Defender(grid, k, protect_budget, **kwargs)
    return tuple(d.solve(p) for p in range(1, protect_budget + 1))


def _check_count(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise UsageError(f"The {name!r} parameter of defend must be an int >= {low}. "
                         f"Got {value!r} instead.")


class Defender:
    """The attacker's side of a defence, shared by protections of several sizes: the
    checked inputs, the evaluator and, where ``C(n, k)`` is within the attack budget,
    the table of every set (evaluated once).

    Parameters are those of :func:`defend`, with ``most`` the largest protection that
    will be asked for. :meth:`solve` gives the best protection of one size;
    :meth:`worst` the attacker's worst sets without protection.
    """

    def __init__(self, grid: Grid | str | os.PathLike, k: int, most: int, *,
                 target: str = "substation", objective: str = "shed_mw",
                 cascade: CascadeOptions | str | None = None, exclude: Iterable[str] = (),
                 protect: Iterable[str] = (), candidates: Iterable[str] | None = None,
                 budget: int | None = None, max_rounds: int = 50, seed: int = 0,
                 workers: int | None = 1, scheduler: Any = None,
                 progress: Callable[[int, int], None] | None = None) -> None:
        self.start = time.perf_counter()
        grid = self.grid = as_grid(grid)
        net = grid.network
        for name, value, low in (("k", k, 1), ("max_rounds", max_rounds, 1), ("seed", seed, 0)):
            _check_count(name, value, low)
        self.opts = CascadeOptions.of(cascade)
        check_objective(grid, objective)
        self.k, self.target, self.objective, self.max_rounds = k, target, objective, max_rounds
        self.protect = list(protect)
        tg = self.tg = targets(grid, target, exclude=exclude, protect=self.protect)
        n = self.n = len(tg)
        if candidates is None:
            protectable = np.ones(n, dtype=bool)
        else:
            chosen = targets(grid, target, protect=list(candidates))
            shield = set(chosen.shielded)
            protectable = np.array([name in shield for name in tg.names])
        self.protectable = protectable
        if most > int(protectable.sum()):
            raise UsageError(f"protect_budget={most} is larger than the "
                             f"{int(protectable.sum())} {target} targets that can be protected")
        if n - most < k:
            raise UsageError(f"protecting {most} of the {n} {target} targets leaves "
                             f"fewer than k={k} to strike; lower protect_budget or k")
        budget = default_budget(net, objective, self.opts) if budget is None else budget
        assets = prepare(grid, RestorationSettings())
        self.evaluator = SetEvaluator(net, tg, cascade=self.opts, assets=assets,
                                      ens=objective == "ens_mwh")
        total = math.comb(n, k)
        self.kwargs = dict(target=target, objective=objective, cascade=self.opts,
                           exclude=list(exclude), seed=seed, workers=workers,
                           scheduler=scheduler, budget=budget)
        self.evaluated = 0
        self.methods: set[str] = set()
        self.table: Table | None = None
        if total <= budget:
            workers = pool_size(workers, total, self.evaluator, scheduler)

            def tick(m: int, done=[0]) -> None:  # noqa: B006 - a running count
                done[0] += m
                if progress:
                    progress(done[0], total)

            with evaluations(self.evaluator, workers, tick, scheduler) as evals:
                self.table = exhaustive(evals, n, k, objective, None)
                self.evaluated = evals.count
            self.values = self.table.metrics.value(objective)
        self.setup_s = time.perf_counter() - self.start
        self.solved = 0

    def worst(self, top: int) -> AttackResult:
        """The ``top`` worst sets without the new protection: read off the table where
        there is one (what :func:`~gridres.adversary.attack` with ``method="exhaustive"``
        returns), else :func:`~gridres.adversary.attack` itself."""
        if self.table is None:
            return attack(self.grid, self.k, protect=self.protect, top=top, **self.kwargs)
        start = time.perf_counter()
        tg, table = self.tg, self.table
        sets = table.sets[:top]
        found = {tuple(int(x) for x in row): "exhaustive" for row in sets}
        rows = report_rows(self.evaluator, tg, sets, self.objective, found)
        best = rows[0].value(self.objective)
        return AttackResult(
            grid=self.grid.name, k=self.k, target=self.target, objective=self.objective,
            cascade=self.opts, attacks=tuple(rows), method="exhaustive",
            evaluated=self.evaluated, sets=len(table.sets), candidates=self.n, bound=best,
            gap=0.0, optimal=True, greedy=None, shielded=tg.shielded, excluded=tg.excluded,
            seed=int(self.kwargs["seed"]), elapsed_s=self.setup_s + time.perf_counter() - start)

    def respond(self, protected: tuple[int, ...]
                ) -> tuple[list[tuple[tuple[int, ...], float]], bool]:
        """The attacker's best responses to a protection, best first, and whether the
        first is proven best."""
        table, tg = self.table, self.tg
        if table is not None:
            open_ = ~np.isin(table.sets, list(protected)).any(axis=1)
            rows = np.flatnonzero(open_)[:1 + EXTRA_PER_ROUND]
            return [(tuple(int(x) for x in table.sets[r]), float(self.values[r]))
                    for r in rows], True
        res = attack(self.grid, self.k, protect=[*self.protect,
                                                 *(tg.names[e] for e in protected)],
                     top=1 + EXTRA_PER_SEARCH, **self.kwargs)
        self.evaluated += res.evaluated
        self.methods.add(res.method)
        pos = {name: j for j, name in enumerate(tg.names)}
        return [(tuple(sorted(pos[e] for e in s.elements)), s.value(self.objective))
                for s in res.attacks], res.optimal

    def solve(self, protect_budget: int) -> DefenceResult:
        """The best protection of ``protect_budget`` targets (the decomposition)."""
        start = time.perf_counter()
        tg, n, objective = self.tg, self.n, self.objective
        first, exact_responses = self.respond(())
        attacks = list(first)
        known = {m for m, _ in attacks}
        upper, best_p, best_r = first[0][1], (), first[0][0]
        lower = 0.0
        rounds: list[Round] = []
        tol = 1e-6 * max(1.0, abs(upper))
        for _ in range(self.max_rounds):
            if protect_budget == 0:
                lower = upper
                break
            chosen, lower = _master(attacks, n, protect_budget, self.protectable)
            response, proven = self.respond(chosen)
            exact_responses &= proven
            damage = response[0][1]
            if damage < upper - tol:
                upper, best_p, best_r = damage, chosen, response[0][0]
            rounds.append(Round(tuple(tg.names[e] for e in chosen),
                                tuple(tg.names[e] for e in response[0][0]), damage, lower,
                                upper))
            logger.info("round %d: protect %s, response %.6g, bounds [%.6g, %.6g]",
                        len(rounds), chosen, damage, lower, upper)
            if lower >= upper - tol:
                break
            for members, d in response:
                if members not in known:
                    known.add(members)
                    attacks.append((members, d))
        lower = min(lower, upper)
        gap = 0.0 if upper <= 0 or lower >= upper - tol else (upper - lower) / upper
        method = ("exhaustive" if self.table is not None
                  else "milp" if self.methods == {"milp"} else "search")
        before, after = (
            dataclasses.replace(report_rows(self.evaluator, tg, np.array([m]), objective,
                                            {m: method}, ranks=False)[0], rank=1)
            for m in (first[0][0], best_r))
        # the time of the shared table counts for the first protection solved
        elapsed = time.perf_counter() - start + (self.setup_s if not self.solved else 0.0)
        self.solved += 1
        return DefenceResult(
            grid=self.grid.name, k=self.k, protect_budget=protect_budget, target=self.target,
            objective=objective, cascade=self.opts,
            protection=tuple(tg.names[e] for e in best_p), before=before, after=after,
            lower_bound=lower, upper_bound=upper, gap=gap,
            exact=exact_responses and gap == 0.0, method=method, rounds=tuple(rounds),
            evaluated=self.evaluated, elapsed_s=elapsed,
        )
