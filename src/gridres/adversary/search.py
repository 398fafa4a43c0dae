"""A strong attacker where enumeration is out of reach: greedy, pairs, swaps and random
chemistry, within a budget of exact evaluations.

Every set the search looks at is evaluated exactly and remembered (a set is never
evaluated twice), and the result is the ranked list of everything evaluated. Phases, in
order, until the budget of evaluations runs out:

1. **Singles** and the **sequential greedy attacker**: the worst single strike, then the
   worst second strike beside it, and so on up to ``k`` (the baseline every search must
   beat).
2. **Swaps** from the greedy set: replace one member by any other candidate, take the
   best improving swap, repeat until no swap improves (a local optimum).
3. **Pairs** (``k >= 2``): every pair among the worst singles, and every pair of
   candidates within two buses of each other in the grid (strikes that together cut a
   region off, which neither does alone). The worst pairs and those whose joint damage
   most exceeds the sum of their parts are completed greedily to ``k`` and improved by
   swaps.
4. **Random chemistry** restarts (after Eppstein and Hines, 2012): draw a larger set,
   half of the time the candidates nearest a random one, half of the time uniformly;
   shrink it one member at a time, always dropping the member whose loss costs the least
   damage, down to ``k``; improve it by swaps among the worst singles and the
   candidates near the set.

Draws come from ``numpy.random.default_rng(seed)``; evaluations are exact and ordered, so
the same seed and budget give the same result on any number of workers.

References
----------
M. J. Eppstein and P. D. H. Hines, "A 'random chemistry' algorithm for identifying
collections of multiple contingencies that initiate cascading failure", IEEE Trans.
Power Systems 27 (3), 2012.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import scipy.sparse as sp

from gridres.adversary.evaluate import Metrics, rank
from gridres.adversary.exhaustive import Table
from gridres.adversary.pool import Evaluations

__all__ = ["Search", "neighbours"]

logger = logging.getLogger(__name__)

#: Candidates in the pool of worst singles that pairs and restricted swaps draw from.
POOL = 60
#: Pairs completed to k in phase 3: the worst and the most synergetic.
PAIR_STARTS = 4
#: Restarts in a row that evaluate nothing new before the search gives up.
STALL = 20


def neighbours(touch: sp.csr_matrix, adjacency: sp.csr_matrix, hops: int = 2) -> sp.csr_matrix:
    """Candidates within ``hops`` buses of each other (boolean, symmetric, no diagonal).

    Parameters
    ----------
    touch : sparse matrix, shape (n_candidates, n_bus)
        Buses each candidate touches (:meth:`gridres.adversary.targets.Targets.touch`).
    adjacency : sparse matrix, shape (n_bus, n_bus)
        Bus adjacency of the grid.
    hops : int
    """
    reach = touch.copy().astype(bool).astype(float)
    step = (adjacency + sp.identity(adjacency.shape[0], format="csr")).astype(bool).astype(float)
    for _ in range(hops):
        reach = (reach @ step).astype(bool).astype(float)
    near = (reach @ touch.T).astype(bool).tocsr()
    near.setdiag(False)
    near.eliminate_zeros()
    return near


class _Store:
    """Every set evaluated, with its metrics; set -> row."""

    def __init__(self, k: int) -> None:
        self.k = k
        self.rows: dict[tuple[int, ...], int] = {}
        self.sets = np.zeros((1024, k), dtype=np.int64)
        self.cols = {m: np.zeros(1024) for m in ("shed_mw", "customers_out", "ens_mwh")}
        self.ints = {m: np.zeros(1024, dtype=np.int64) for m in ("people_out", "facilities_dark")}
        self.n = 0

    def add(self, sets: list[tuple[int, ...]], metrics: Metrics) -> None:
        need = self.n + len(sets)
        if need > len(self.sets):
            cap = max(need, 2 * len(self.sets))
            self.sets = np.resize(self.sets, (cap, self.k))
            for d in (self.cols, self.ints):
                for m in d:
                    d[m] = np.resize(d[m], cap)
        lo = self.n
        self.sets[lo:need] = np.array(sets, dtype=np.int64).reshape(len(sets), self.k)
        for d in (self.cols, self.ints):
            for m in d:
                d[m][lo:need] = getattr(metrics, m)
        for j, s in enumerate(sets):
            self.rows[s] = lo + j
        self.n = need

    def metrics(self, rows: np.ndarray) -> Metrics:
        return Metrics(self.cols["shed_mw"][rows], self.ints["people_out"][rows],
                       self.ints["facilities_dark"][rows], self.cols["customers_out"][rows],
                       self.cols["ens_mwh"][rows])


class Search:
    """The search of the module notes over ``n`` candidates for ``k``-sets.

    Parameters
    ----------
    evals : Evaluations
    n, k : int
    objective : str
    budget : int
        Most sets to evaluate (sets of every size count).
    near : sparse matrix, shape (n, n)
        Candidate neighbourhood (:func:`neighbours`).
    seed : int

    Attributes
    ----------
    greedy : tuple of int or None
        The sequential greedy attacker's set.
    """

    def __init__(self, evals: Evaluations, n: int, k: int, objective: str, budget: int,
                 near: sp.csr_matrix, seed: int) -> None:
        self.evals = evals
        self.n, self.k = n, k
        self.objective = objective
        self.budget = budget
        self.near = near.tocsr()
        self.rng = np.random.default_rng(seed)
        self.store = _Store(k)
        self.spent = 0  # evaluations of sets of other sizes than k
        self.greedy: tuple[int, ...] | None = None

    # -- evaluation --------------------------------------------------------------------
    @property
    def evaluated(self) -> int:
        return self.store.n + self.spent

    @property
    def left(self) -> int:
        return self.budget - self.evaluated

    def rows(self, sets: list[tuple[int, ...]]) -> np.ndarray:
        """Store rows of the ``k``-sets ``sets`` (sorted tuples), evaluating those not
        seen yet while the budget lasts; -1 for sets left unevaluated."""
        new = list(dict.fromkeys(s for s in sets if s not in self.store.rows))[:max(self.left, 0)]
        if new:
            self.store.add(new, self.evals(np.array(new, dtype=np.int64)))
        return np.array([self.store.rows.get(s, -1) for s in sets], dtype=np.int64)

    def best(self, rows: np.ndarray) -> int | None:
        """The worst-damage row among ``rows`` (ranking rule), None if none evaluated."""
        rows = np.unique(rows[rows >= 0])
        if not len(rows):
            return None
        order = rank(self.store.metrics(rows), self.store.sets[rows], self.objective)
        return int(rows[order[0]])

    def as_set(self, row: int) -> tuple[int, ...]:
        return tuple(int(x) for x in self.store.sets[row])

    def worst(self, sets: list[tuple[int, ...]]) -> tuple[int, ...] | None:
        """The worst of ``sets`` (all of one size), None if the budget does not reach.
        Sets of size ``k`` go through the store; others are evaluated and counted."""
        if not sets:
            return None
        if len(sets[0]) == self.k:
            best = self.best(self.rows(sets))
            return None if best is None else self.as_set(best)
        if self.left < len(sets):
            return None
        arr = np.array(sets, dtype=np.int64)
        metrics = self.evals(arr)
        self.spent += len(sets)
        return sets[int(rank(metrics, arr, self.objective)[0])]

    def result(self, top: int) -> Table:
        """The ``top`` worst ``k``-sets evaluated, ranked."""
        rows = np.arange(self.store.n)
        order = rank(self.store.metrics(rows), self.store.sets[rows], self.objective)[:top]
        return Table(self.store.sets[order].copy(), self.store.metrics(order))

    # -- moves -------------------------------------------------------------------------
    def complete(self, start: tuple[int, ...]) -> tuple[int, ...] | None:
        """Add members greedily, the worst addition each time, up to ``k``."""
        cur: tuple[int, ...] | None = tuple(sorted(start))
        while cur is not None and len(cur) < self.k:
            members = set(cur)
            cur = self.worst([tuple(sorted((*cur, e))) for e in range(self.n)
                              if e not in members])
        return cur

    def improve(self, cur: tuple[int, ...], pool: np.ndarray | None = None) -> tuple[int, ...]:
        """Best-improvement swaps (one member out, one candidate of ``pool`` in; default
        every candidate) until no swap improves or the budget runs out."""
        cands = range(self.n) if pool is None else [int(e) for e in pool]
        here = self.rows([cur])[0]
        while here >= 0 and self.left > 0:
            members = set(cur)
            sets = [tuple(sorted((*(m for m in cur if m != out), e)))
                    for out in cur for e in cands if e not in members]
            best = self.best(np.r_[self.rows(sets), here])
            if best is None or best == here:
                break
            here, cur = best, self.as_set(best)
        return cur

    def shrink(self, big: tuple[int, ...]) -> tuple[int, ...] | None:
        """Drop members one at a time, the one whose loss keeps the most damage, down to
        ``k`` (random chemistry's reduction)."""
        cur: tuple[int, ...] | None = tuple(sorted(big))
        while cur is not None and len(cur) > self.k:
            cur = self.worst([tuple(m for m in cur if m != out) for out in cur])
        return cur

    # -- the phases --------------------------------------------------------------------
    def run(self) -> None:
        """All phases of the module notes, until the budget runs out."""
        n, k = self.n, self.k
        everyone = np.arange(n)[:, None]
        if k == 1:
            self.greedy = self.worst([(e,) for e in range(n)])
            return
        # 1. singles, and the sequential greedy attacker
        single = self.evals(everyone)
        self.spent += n
        value = single.value(self.objective)
        order = rank(single, everyone, self.objective)
        pool = np.sort(order[:min(POOL, n)])
        self.greedy = self.complete((int(order[0]),))
        if self.greedy is None:
            return
        logger.info("greedy attacker: %s", self.greedy)
        # 2. swaps from greedy
        self.improve(self.greedy)
        # 3. pairs among the worst singles and between near candidates
        pairs = {(int(a), int(b)) for i, a in enumerate(pool) for b in pool[i + 1:]}
        near = sp.triu(self.near, k=1).tocoo()
        close = sorted(zip(near.row.tolist(), near.col.tolist(), strict=True),
                       key=lambda p: (-(value[p[0]] + value[p[1]]), p))
        pairs.update(close[:max(self.left // 3 - len(pairs), 0)])
        pair_list = sorted(pairs)[:max(self.left, 0)]
        if not pair_list:
            return
        if k == 2:
            self.rows(pair_list)
            return
        arr = np.array(pair_list, dtype=np.int64)
        pm = self.evals(arr)
        self.spent += len(pair_list)
        synergy = pm.value(self.objective) - value[arr[:, 0]] - value[arr[:, 1]]
        by_value = rank(pm, arr, self.objective)[:PAIR_STARTS]
        by_synergy = np.lexsort((arr[:, 1], arr[:, 0], -synergy))[:PAIR_STARTS]
        for j in dict.fromkeys([*by_value.tolist(), *by_synergy.tolist()]):
            if self.left <= 0:
                break
            done = self.complete(pair_list[j])
            if done is not None:
                self.improve(done)
        # 4. random chemistry restarts, swaps among the worst singles and near candidates
        size = min(n, 4 * k + 4)
        every = math.comb(n, k)
        stalled = 0
        while self.left > size * size and self.store.n < every and stalled < STALL:
            before = self.evaluated
            small = self.shrink(self._draw(size))
            if small is None:
                break
            local = np.union1d(pool, self.near[list(small)].indices)
            self.improve(small, local)
            stalled = stalled + 1 if self.evaluated == before else 0

    def _draw(self, size: int) -> tuple[int, ...]:
        """A random set of ``size`` candidates: those nearest a random candidate (breadth
        first over the neighbourhood), or uniform, half of the time each."""
        if self.rng.random() < 0.5:
            return tuple(sorted(self.rng.choice(self.n, size, replace=False).tolist()))
        seen = [int(self.rng.integers(self.n))]
        frontier = list(seen)
        while frontier and len(seen) < size:
            nxt = []
            for c in frontier:
                for d in self.near.indices[self.near.indptr[c]:self.near.indptr[c + 1]].tolist():
                    if d not in seen:
                        seen.append(d)
                        nxt.append(d)
            frontier = nxt
        seen = seen[:size]
        if len(seen) < size:
            rest = np.setdiff1d(np.arange(self.n), seen)
            seen += self.rng.choice(rest, size - len(seen), replace=False).tolist()
        return tuple(sorted(seen))

