"""Which groups are off in which hour: the rotation problem and its solvers.

The problem (:class:`RotationProblem`) knows only loads and needs, so that any caller
with capacity per hour (a schedule, a restoration) can use it. Hours are cut into blocks
of ``block_h`` hours from the first hour (the last block may be shorter). In each hour
``h`` and island ``i`` the groups that are off must carry at least ``need_mw[h, i]``
(demand above capacity). Rules, in order of precedence:

1. *Capacity*: every hour, in every island, the load switched off covers the need.
2. *Whole blocks*: a rotation group is off for whole blocks.
3. *Protected groups* are never off while the rotation groups can cover the need. In a
   block where, in some hour, even every rotation group off is not enough (the block is
   *short*), every rotation group with load in that island is off, and protected groups
   are switched hour by hour, only in the hours that need them, the least load that
   covers the rest.
4. *Fairness*: within each pool (a group's home island), the numbers of off blocks of
   any two rotation groups differ by at most one. Blocks that a group must be off for
   network limits (``forced``) do not count. Where that cannot hold (a group whose load
   is needed more often than its pool has need), the excess is penalised, never allowed
   for free.
5. *Least load off, short outages*: the energy switched off (MWh) is as small as
   possible, with a group off in two blocks back to back counted as a quarter of an
   average off block's energy more (:data:`BACK_TO_BACK_SHARE`), so that continuous
   outages stay one block long unless a longer one saves real energy.

:func:`solve_rotation` solves it exactly as a mixed-integer programme with HiGHS
(``scipy.optimize.milp``): binary ``x[g, b]`` (group ``g`` off in block ``b``),
coverage rows per hour and island, and for fairness a level ``m_p`` per pool with
``m_p - s_g <= n_g <= m_p + 1 + s_g`` and a penalty on ``s_g`` larger than any energy
(rule 4 before rule 5). The heuristic walks the blocks in time order, takes groups from
the lowest tier of off counts in their pool (the most useful first: the cheapest group
that alone covers the rest of the block's need, else the one that covers most), drops
groups that turn out not to be needed, and then improves the schedule by local search
(replace a group in a block by a cheaper one, swap two groups between two blocks) while
the rules hold. Its gap is measured against the bound of the programme's linear
relaxation.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from gridres.errors import UsageError

__all__ = ["RotationProblem", "Rotation", "solve_rotation", "METHODS", "MILP_MAX_BINARIES"]

logger = logging.getLogger(__name__)

#: Solver choices: ``auto`` takes the programme up to :data:`MILP_MAX_BINARIES` binary
#: variables (a week of 4-hour blocks for a dozen groups), the heuristic beyond.
METHODS = ("auto", "milp", "heuristic")
MILP_MAX_BINARIES = 600
#: Relative optimality gap at which the programme stops.
MIP_REL_GAP = 1e-6
#: Cost of a group off in two blocks back to back, as a share of the mean energy of an
#: off block: continuous outages stay one block long unless a longer one saves more than
#: a quarter of a block's energy (on the demo region's week: the longest outage 4 h
#: instead of 12 h, for 0.04 % more energy off).
BACK_TO_BACK_SHARE = 0.25
_TOL = 1e-6


@dataclass(frozen=True, eq=False)
class RotationProblem:
    """Loads and needs of a rotation (see the module notes).

    Parameters
    ----------
    group_mw : ndarray, shape (H, G, I)
        Load of every group in every hour and island (MW).
    need_mw : ndarray, shape (H, I)
        Load that must be off in every hour and island (MW, >= 0).
    protected : ndarray of bool, shape (G,)
    pool : ndarray of int, shape (G,)
        Fairness pool of every group (its home island).
    block_h : int
        Length of an off period (hours).
    forced : ndarray of bool, shape (n_blocks, G), optional
        Rotation groups that must be off in a block (network limits).
    seed : int
        Tie-break order of the heuristic among equally good groups.
    prior_off_blocks : ndarray, shape (G,), optional
        Off blocks each group had before the first hour, counted for fairness (a
        rotation that goes on from an earlier one, as in a restoration that plans block
        by block).
    """

    group_mw: np.ndarray
    need_mw: np.ndarray
    protected: np.ndarray
    pool: np.ndarray
    block_h: int
    forced: np.ndarray | None = None
    seed: int = 0
    prior_off_blocks: np.ndarray | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.block_h, int | np.integer) or self.block_h < 1:
            raise UsageError(f"The 'block_h' parameter must be an int >= 1. Got "
                             f"{self.block_h!r} instead.")
        h, g, i = self.group_mw.shape
        if self.need_mw.shape != (h, i):
            raise UsageError(f"need_mw has shape {self.need_mw.shape}; expected {(h, i)}")
        if self.forced is None:
            object.__setattr__(self, "forced", np.zeros((self.n_blocks, g), dtype=bool))

    @property
    def hours(self) -> int:
        return self.group_mw.shape[0]

    @property
    def n_groups(self) -> int:
        return self.group_mw.shape[1]

    @property
    def n_blocks(self) -> int:
        return -(-self.hours // self.block_h)

    @property
    def block_of_hour(self) -> np.ndarray:
        return np.arange(self.hours) // self.block_h

    def block_energy(self) -> np.ndarray:
        """Energy of every group in every block (MWh), shape (n_blocks, G)."""
        e = np.zeros((self.n_blocks, self.n_groups))
        np.add.at(e, self.block_of_hour, self.group_mw.sum(axis=2))
        return e


@dataclass(frozen=True, eq=False)
class Rotation:
    """A solved rotation.

    Attributes
    ----------
    off : ndarray of bool, shape (H, G)
        Groups off in every hour.
    short : ndarray of bool, shape (H, I)
        Hours and islands where every rotation group off was not enough (protected
        groups were needed).
    uncovered_mw : ndarray, shape (H, I)
        Need left even with every group off (the island cannot be balanced).
    method, status : str
    energy_mwh : float
        Energy switched off.
    objective_mwh : float or None
        What the solvers minimise: ``energy_mwh`` plus :data:`BACK_TO_BACK_SHARE` of an
        average off block's energy for each group off in two blocks back to back; None
        where the fairness rule could not hold (the objective then carries a penalty).
    fairness_excess : float
        Off blocks beyond the fairness rule, summed over groups (0 when it holds).
    bound_mwh : float or None
        Lower bound of ``objective_mwh`` (the programme's dual bound, or its LP
        relaxation's for the heuristic); None where nothing was to decide.
    gap : float or None
        ``(objective - bound) / objective`` (0 when both are 0).
    seconds, cpu_s : float
        Wall-clock and CPU time of the solve (the heuristic's without its LP bound).
    notes : tuple of str
    """

    off: np.ndarray
    short: np.ndarray
    uncovered_mw: np.ndarray
    method: str
    status: str
    energy_mwh: float
    objective_mwh: float | None
    fairness_excess: float
    bound_mwh: float | None
    gap: float | None
    seconds: float
    cpu_s: float
    notes: tuple[str, ...] = field(default=())


# -- the fixed part: short blocks and protected groups ------------------------------------


@dataclass(frozen=True, eq=False)
class _Fixed:
    short_block: np.ndarray  # (n_blocks, I) bool
    block_off: np.ndarray  # (n_blocks, G) bool: rotation groups off because a block is short
    hour_off: np.ndarray  # (H, G) bool: protected groups off
    short: np.ndarray  # (H, I) bool
    uncovered: np.ndarray  # (H, I)


def _cover_exact(load: np.ndarray, need: np.ndarray) -> np.ndarray:
    """Cheapest subset of groups (rows of ``load`` (k, I)) covering ``need`` (I,): exact
    for up to 16 groups, greedy beyond. Returns a bool mask (k,)."""
    k = load.shape[0]
    if k == 0:
        return np.zeros(0, dtype=bool)
    cost = load.sum(axis=1)
    if k <= 16:
        masks = ((np.arange(2 ** k)[:, None] >> np.arange(k)) & 1).astype(bool)
        got = masks.astype(float) @ load
        ok = (got >= need[None, :] - _TOL).all(axis=1)
        if ok.any():
            c = np.where(ok, masks.astype(float) @ cost, np.inf)
            return masks[int(np.argmin(c))]
        return np.ones(k, dtype=bool)
    chosen = np.zeros(k, dtype=bool)
    rest = need.copy()
    while (rest > _TOL).any() and not chosen.all():
        gain = np.minimum(load, rest[None, :]).sum(axis=1)
        gain[chosen] = -1
        j = int(np.argmax(gain))
        if gain[j] <= 0:
            break
        chosen[j] = True
        rest = np.maximum(rest - load[j], 0.0)
    return chosen


def _fixed_part(p: RotationProblem) -> _Fixed:
    h_n, g_n, i_n = p.group_mw.shape
    blk = p.block_of_hour
    rot = ~p.protected
    rot_total = p.group_mw[:, rot, :].sum(axis=1)  # (H, I)
    short = p.need_mw > rot_total + _TOL * np.maximum(p.need_mw, 1.0)
    short_block = np.zeros((p.n_blocks, i_n), dtype=bool)
    np.logical_or.at(short_block, blk, short)
    block_off = np.zeros((p.n_blocks, g_n), dtype=bool)
    has = (p.group_mw > 0)  # (H, G, I)
    for b, i in zip(*np.nonzero(short_block), strict=True):
        hrs = blk == b
        block_off[b] |= rot & has[hrs][:, :, i].any(axis=0)
    hour_off = np.zeros((h_n, g_n), dtype=bool)
    uncovered = np.zeros((h_n, i_n))
    prot = np.flatnonzero(p.protected)
    for h in np.flatnonzero(short.any(axis=1)):
        off_rot = block_off[blk[h]]
        rest = np.maximum(p.need_mw[h] - p.group_mw[h][off_rot].sum(axis=0), 0.0)
        chosen = _cover_exact(p.group_mw[h][prot], rest)
        hour_off[h, prot[chosen]] = True
        left = rest - p.group_mw[h][prot[chosen]].sum(axis=0)
        uncovered[h] = np.where(left > _TOL, left, 0.0)
    return _Fixed(short_block, block_off, hour_off, short, uncovered)


# -- the decision part: rotation groups in blocks that are not short ---------------------


@dataclass(frozen=True, eq=False)
class _Model:
    """The rotation groups' decisions: eligible (block, group) pairs, residual needs."""

    free: np.ndarray  # (n_blocks, G) bool: a decision
    const_off: np.ndarray  # (n_blocks, G) bool: off regardless (short or forced)
    residual: np.ndarray  # (H, I): need left for the free decisions (0 in short blocks)
    counted_const: np.ndarray  # (G,) off blocks that count for fairness and are fixed
    energy: np.ndarray  # (n_blocks, G)
    pools: list[np.ndarray]  # rotation groups of every pool with at least two
    adjacent: float  # cost of a back-to-back pair of off blocks of one group (MWh)


def _model(p: RotationProblem, fixed: _Fixed) -> _Model:
    blk = p.block_of_hour
    rot = ~p.protected
    forced = p.forced & rot[None, :]
    const_off = fixed.block_off | forced
    contrib = np.einsum("hgi,hg->hi", p.group_mw, const_off[blk].astype(float))
    residual = np.maximum(p.need_mw - contrib, 0.0)
    residual[fixed.short_block[blk]] = 0.0
    residual[residual <= _TOL * np.maximum(p.need_mw, 1.0)] = 0.0
    need_block = np.zeros((p.n_blocks, p.need_mw.shape[1]), dtype=bool)
    np.logical_or.at(need_block, blk, residual > 0)
    has = np.zeros((p.n_blocks, p.n_groups, p.need_mw.shape[1]), dtype=bool)
    np.logical_or.at(has, blk, p.group_mw > 0)
    free = (has & need_block[:, None, :]).any(axis=2) & rot[None, :] & ~const_off
    counted = (fixed.block_off & rot[None, :]).sum(axis=0).astype(float)
    if p.prior_off_blocks is not None:
        counted = counted + np.where(rot, np.asarray(p.prior_off_blocks, dtype=float), 0.0)
    pools = []
    for q in np.unique(p.pool[rot]):
        members = np.flatnonzero(rot & (p.pool == q))
        if len(members) >= 2:
            pools.append(members)
    energy = p.block_energy()
    adjacent = BACK_TO_BACK_SHARE * float(energy[free].mean()) if free.any() else 0.0
    return _Model(free, const_off, residual, counted, energy, pools, adjacent)


def _penalty(m: _Model) -> float:
    """Cost of one off block beyond the fairness rule: more than any schedule's energy."""
    n_pairs = m.free.size
    return 1.0 + float(m.energy.sum()) + m.adjacent * n_pairs


def _pairs(m: _Model, x: np.ndarray) -> int:
    """Back-to-back off blocks of one group that involve a decision."""
    off = m.const_off | x
    both = off[:-1] & off[1:] & (m.free[:-1] | m.free[1:])
    return int(both.sum())


def _group_pairs(m: _Model, x: np.ndarray, g: int) -> int:
    """:func:`_pairs` of one group."""
    off = m.const_off[:, g] | x[:, g]
    return int((off[:-1] & off[1:] & (m.free[:-1, g] | m.free[1:, g])).sum())


def _objective(m: _Model, x: np.ndarray) -> float:
    """The programme's objective of the decisions ``x`` (n_blocks, G): energy switched
    off, back-to-back pairs, and the fairness penalty."""
    counts = m.counted_const + x.sum(axis=0)
    return (float((m.energy * x).sum()) + m.adjacent * _pairs(m, x)
            + _penalty(m) * _excess(counts, m.pools))


def _excess(counts: np.ndarray, pools: list[np.ndarray]) -> float:
    """Least total slack ``s`` with ``m - s_g <= n_g <= m + 1 + s_g`` over each pool."""
    total = 0.0
    for members in pools:
        n = counts[members]
        best = np.inf
        for m in np.unique(np.r_[n, n - 1]):
            best = min(best, float(np.maximum(n - m - 1, 0).sum() + np.maximum(m - n, 0).sum()))
        total += best
    return total


@contextlib.contextmanager
def _c_stdout_to_stderr() -> Iterator[None]:
    """Send what the solver's C code prints to the process's standard output (HiGHS
    prints a debug line in some MIP runs even with ``disp`` off) to standard error while
    it runs: standard output carries the command line's one JSON document."""
    try:
        out = sys.__stdout__.fileno() if sys.__stdout__ is not None else None
    except (OSError, ValueError):
        out = None
    if out is None:
        yield
        return
    sys.__stdout__.flush()
    saved = os.dup(out)
    try:
        os.dup2(2, out)
        yield
    finally:
        os.dup2(saved, out)
        os.close(saved)


class _Rows:
    """Sparse constraint rows ``lo <= a x <= hi`` collected one at a time."""

    def __init__(self) -> None:
        self.rows: list[int] = []
        self.cols: list[int] = []
        self.vals: list[float] = []
        self.lo: list[float] = []
        self.hi: list[float] = []

    def add(self, cols, vals, lo: float, hi: float) -> None:
        cols = list(cols)
        self.rows += [len(self.lo)] * len(cols)
        self.cols += cols
        self.vals += list(vals)
        self.lo.append(lo)
        self.hi.append(hi)

    def constraint(self, n_var: int) -> list[LinearConstraint]:
        if not self.lo:
            return []
        a = sp.csr_matrix((self.vals, (self.rows, self.cols)), shape=(len(self.lo), n_var))
        return [LinearConstraint(a, np.array(self.lo), np.array(self.hi))]


def _lp(p: RotationProblem, m: _Model, integral: bool, time_limit_s: float):
    """Build and solve the programme (or its relaxation). Returns (x (n_blocks, G) or
    None, objective of the decision part or None, dual bound or None, status text)."""
    blk = p.block_of_hour
    idx = -np.ones(m.free.shape, dtype=np.int64)
    fb, fg = np.nonzero(m.free)
    n_x = len(fb)
    if n_x == 0:
        return np.zeros(m.free.shape), 0.0, 0.0, "optimal"
    idx[fb, fg] = np.arange(n_x)
    rows = _Rows()
    for h, i in zip(*np.nonzero(m.residual > 0), strict=True):
        gs = np.flatnonzero(m.free[blk[h]] & (p.group_mw[h, :, i] > 0))
        rows.add(idx[blk[h], gs], p.group_mw[h, gs, i], m.residual[h, i], np.inf)
    # cardinality cuts: at least as many groups off in a block as its hardest hour needs,
    # largest loads first (valid for whole groups; they tighten the relaxation)
    for b in np.unique(blk[m.residual.any(axis=1)]):
        gs = np.flatnonzero(m.free[b])
        k_min = 0
        for h in np.flatnonzero((blk == b) & m.residual.any(axis=1)):
            for i in np.flatnonzero(m.residual[h] > 0):
                top = np.cumsum(np.sort(p.group_mw[h, gs, i])[::-1])
                k_min = max(k_min, int(np.searchsorted(top, m.residual[h, i] - _TOL)) + 1)
        if k_min > 1:
            rows.add(idx[b, gs], np.ones(len(gs)), float(min(k_min, len(gs))), np.inf)
    cost = list(m.energy[fb, fg])
    ub = [1.0] * n_x
    n_var = n_x
    # back-to-back off blocks: y >= x[g, b] + x[g, b+1] - 1 (a constant 1 where off anyway)
    for b in range(p.n_blocks - 1):
        for g in np.flatnonzero((m.free[b] | m.const_off[b]) & (m.free[b + 1] | m.const_off[b + 1])
                                & (m.free[b] | m.free[b + 1])):
            cols, const = [n_var], -1.0
            for bb in (b, b + 1):
                if m.free[bb, g]:
                    cols.append(int(idx[bb, g]))
                else:
                    const += 1.0
            rows.add(cols, [1.0] + [-1.0] * (len(cols) - 1), const, np.inf)
            cost.append(m.adjacent)
            ub.append(1.0)
            n_var += 1
    pen = _penalty(m)
    levels = []
    for members in m.pools:
        if not m.free[:, members].any():
            continue
        level = n_var
        levels.append(level)
        cost.append(0.0)
        ub.append(float(p.n_blocks))
        n_var += 1
        for g in members:
            xs = idx[m.free[:, g], g]
            c = m.counted_const[g]
            # n_g - m_p - s_g <= 1  and  m_p - n_g - s_g <= 0, with n_g = c + sum x
            rows.add([*xs, level, n_var], [1.0] * len(xs) + [-1.0, -1.0], -np.inf, 1.0 - c)
            rows.add([*xs, level, n_var], [-1.0] * len(xs) + [1.0, -1.0], -np.inf, c)
            cost.append(pen)
            ub.append(np.inf)
            n_var += 1
    integrality = np.zeros(n_var)
    if integral:
        integrality[:n_x] = 1
        integrality[levels] = 1  # the pool's level is a whole number of blocks
    with _c_stdout_to_stderr():
        res = milp(np.array(cost), constraints=rows.constraint(n_var),
                   integrality=integrality, bounds=Bounds(np.zeros(n_var), np.array(ub)),
                   options={"time_limit": float(time_limit_s), "mip_rel_gap": MIP_REL_GAP,
                            "disp": False})
    bound = getattr(res, "mip_dual_bound", None)
    bound = float(bound) if bound is not None and np.isfinite(bound) else None
    if res.x is None:
        return None, None, bound, {1: "time limit"}.get(res.status, str(res.message))
    x = np.zeros(m.free.shape)
    x[fb, fg] = res.x[:n_x]
    obj = float(res.fun)
    if not integral:
        bound = obj
    status = {0: "optimal", 1: "time limit"}.get(res.status, str(res.message))
    return x, obj, bound, status


# -- the heuristic -------------------------------------------------------------------------

#: Up to this many candidate groups in a block, the heuristic chooses the block's groups
#: by enumerating every subset (2**14 = 16,384); beyond, one group at a time.
EXACT_BLOCK_GROUPS = 14


def _covered(load: np.ndarray, need: np.ndarray) -> bool:
    return bool((load >= need - _TOL * np.maximum(need, 1.0)).all())


def _spread(counts: np.ndarray, pools: list[np.ndarray]) -> np.ndarray:
    return np.array([np.ptp(counts[members]) for members in pools])


def _choose(loads: np.ndarray, need: np.ndarray, cost: np.ndarray, cand: np.ndarray,
            counts: np.ndarray, pools: list[np.ndarray], limit: np.ndarray,
            tie: np.ndarray) -> np.ndarray | None:
    """The cheapest subset of ``cand`` (ascending group positions) that covers ``need``
    (Bh, I) with ``loads`` (Bh, G, I) and leaves every pool's off counts (``counts`` plus
    the subset) within ``limit`` of each other; a mask over ``cand``, or None if no
    subset does. Ties: fewer groups, then the seeded order ``tie``."""
    k = len(cand)
    masks = ((np.arange(1, 2 ** k)[:, None] >> np.arange(k)) & 1).astype(bool)
    flat = loads[:, cand, :].transpose(1, 0, 2).reshape(k, -1)
    want = need.reshape(-1)
    ok = (masks.astype(float) @ flat >= want - _TOL * np.maximum(want, 1.0)).all(axis=1)
    for q, members in enumerate(pools):
        inside = np.flatnonzero(np.isin(members, cand))
        if not len(inside):
            continue
        new = np.tile(counts[members].astype(float), (len(masks), 1))
        new[:, inside] += masks[:, np.searchsorted(cand, members[inside])]
        ok &= np.ptp(new, axis=1) <= limit[q] + _TOL
    if not ok.any():
        return None
    c = np.where(ok, masks.astype(float) @ cost[cand], np.inf)
    best = np.flatnonzero(c <= c.min() + _TOL * max(abs(c.min()), 1.0))
    if len(best) > 1:
        size = masks[best].sum(axis=1)
        best = best[size == size.min()]
        first = np.where(masks[best], tie[cand][None, :], len(tie)).min(axis=1)
        best = best[[int(np.argmin(first))]]
    return masks[best[0]]


def _one_at_a_time(loads: np.ndarray, need: np.ndarray, cost: np.ndarray, cand: np.ndarray,
                   counts: np.ndarray, pool_of: dict[int, np.ndarray],
                   tie: np.ndarray) -> np.ndarray:
    """Groups for one block, one at a time from the lowest tier of their pool's counts:
    the cheapest that alone covers the rest, else the one that covers most; then drop
    picks that turn out not to be needed. Returns a mask over ``cand``."""
    counts = counts.copy()
    pick = np.zeros(len(cand), dtype=bool)
    rest = need.copy()
    order: list[int] = []
    while (rest > _TOL).any() and not pick.all():
        open_ = np.flatnonzero(~pick)
        gain = np.minimum(loads[:, cand[open_], :], rest[:, None, :]).sum(axis=(0, 2))
        open_, gain = open_[gain > _TOL], gain[gain > _TOL]
        if not len(open_):
            break
        g_ = cand[open_]
        low = np.array([counts[g] <= counts[pool_of[int(g)]].min() + _TOL
                        if int(g) in pool_of else True for g in g_])
        if not low.any():
            low = counts[g_] <= counts[g_].min() + _TOL
        open_, gain, g_ = open_[low], gain[low], g_[low]
        full = np.array([_covered(loads[:, g, :], rest) for g in g_])
        if full.any():
            key = np.lexsort((tie[g_[full]], cost[g_[full]]))
            j = open_[full][key[0]]
        else:
            key = np.lexsort((tie[g_], cost[g_], -gain))
            j = open_[key[0]]
        pick[j] = True
        counts[cand[j]] += 1
        order.append(int(j))
        rest = np.maximum(rest - loads[:, cand[j], :], 0.0)
    for j in reversed(order):
        others = loads[:, cand[pick & (np.arange(len(cand)) != j)], :].sum(axis=1)
        g = int(cand[j])
        if _covered(others, need) and (g not in pool_of
                                       or counts[g] - 1 >= counts[pool_of[g]].max() - 1):
            pick[j] = False
            counts[g] -= 1
    return pick


def _block_cost(m: _Model, x: np.ndarray, b: int) -> np.ndarray:
    """Cost of each group off in block ``b``: its energy, plus the back-to-back cost for
    each neighbouring block in which it is off."""
    off = m.const_off | x
    near = np.zeros(m.free.shape[1])
    if b > 0:
        near += off[b - 1]
    if b + 1 < len(off):
        near += off[b + 1]
    return m.energy[b] + m.adjacent * near


def _block(p: RotationProblem, m: _Model, x: np.ndarray, b: int, hrs: np.ndarray,
           counts: np.ndarray, limit: np.ndarray, tie: np.ndarray,
           pool_of: dict[int, np.ndarray]) -> np.ndarray:
    """Rotation groups off in block ``b`` given the other blocks (``x``, and ``counts``
    (G,) without block ``b``)."""
    cand = np.flatnonzero(m.free[b])
    loads, need = p.group_mw[hrs], m.residual[hrs]
    cost = _block_cost(m, x, b)
    if len(cand) <= EXACT_BLOCK_GROUPS:
        pick = _choose(loads, need, cost, cand, counts, m.pools, limit, tie)
        if pick is None:  # fairness cannot hold in this block: cover first
            pick = _choose(loads, need, cost, cand, counts, m.pools,
                           np.full(len(m.pools), np.inf), tie)
    else:
        pick = _one_at_a_time(loads, need, cost, cand, counts, pool_of, tie)
    out = np.zeros(p.n_groups, dtype=bool)
    if pick is not None:
        out[cand[pick]] = True
    return out


def _heuristic(p: RotationProblem, m: _Model, passes: int) -> np.ndarray:
    """Blocks in time order, then local search: re-choose a block's groups given all
    the others, and swap two groups between two blocks, while the objective falls (at
    most ``passes`` rounds: a bound on work, not on time, so that results never depend
    on the machine's speed)."""
    tie = np.random.default_rng(p.seed).permutation(p.n_groups)
    blk = p.block_of_hour
    pool_of = {int(g): members for members in m.pools for g in members}
    blocks = [np.flatnonzero(blk == b) for b in range(p.n_blocks)]
    active = [b for b in range(p.n_blocks)
              if m.free[b].any() and (m.residual[blocks[b]] > 0).any()]
    one = np.ones(len(m.pools))
    x = np.zeros(m.free.shape, dtype=bool)
    counts = m.counted_const.copy()
    for b in active:
        x[b] = _block(p, m, x, b, blocks[b], counts, one, tie, pool_of)
        counts = counts + x[b]
    best = _objective(m, x)
    improved = True
    rounds = 0
    while improved and rounds < passes:
        improved = False
        rounds += 1
        for b in active:
            base = counts - x[b]
            limit = np.maximum(one, _spread(counts, m.pools))
            trial = x.copy()
            trial[b] = _block(p, m, x, b, blocks[b], base, limit, tie, pool_of)
            value = _objective(m, trial)
            if value < best - _TOL * max(best, 1.0):
                x, counts, best, improved = trial, base + trial[b], value, True
        for i1, b1 in enumerate(active):  # swaps keep every count
            for b2 in active[i1 + 1:]:
                gs = np.flatnonzero(x[b1] & ~x[b2] & m.free[b2])
                ks = np.flatnonzero(x[b2] & ~x[b1] & m.free[b1])
                if not len(gs) or not len(ks):
                    continue
                e = m.energy
                gain = (e[b1, gs][:, None] + e[b2, ks][None, :]
                        - e[b2, gs][:, None] - e[b1, ks][None, :])
                for a, c in np.argwhere(gain > -2 * m.adjacent - _TOL):
                    g, k = gs[a], ks[c]
                    if not (x[b1, g] and x[b2, k] and not x[b2, g] and not x[b1, k]):
                        continue
                    l1, l2 = p.group_mw[blocks[b1]], p.group_mw[blocks[b2]]
                    n1 = l1[:, x[b1], :].sum(axis=1) - l1[:, g, :] + l1[:, k, :]
                    n2 = l2[:, x[b2], :].sum(axis=1) - l2[:, k, :] + l2[:, g, :]
                    if not (_covered(n1, m.residual[blocks[b1]])
                            and _covered(n2, m.residual[blocks[b2]])):
                        continue
                    # counts stay: only energy and back-to-back pairs of g and k change
                    before = _group_pairs(m, x, g) + _group_pairs(m, x, k)
                    x[b1, g], x[b1, k], x[b2, k], x[b2, g] = False, True, False, True
                    change = -gain[a, c] + m.adjacent * (
                        _group_pairs(m, x, g) + _group_pairs(m, x, k) - before)
                    if change < -_TOL * max(best, 1.0):
                        best, improved = best + change, True
                    else:
                        x[b1, g], x[b1, k], x[b2, k], x[b2, g] = True, False, True, False
    return x


# -- the solver ----------------------------------------------------------------------------


def solve_rotation(problem: RotationProblem, method: str = "auto", *,
                   time_limit_s: float = 30.0, passes: int = 20,
                   bound: bool = True) -> Rotation:
    """Decide which groups are off in which hour (see the module notes).

    Parameters
    ----------
    problem : RotationProblem
    method : {"auto", "milp", "heuristic"}
        ``auto``: the programme up to :data:`MILP_MAX_BINARIES` decisions, else the
        heuristic.
    time_limit_s : float
        Time limit of the programme; at the limit its best schedule is kept (with its
        gap), or the heuristic's where that is better.
    passes : int
        Rounds of the heuristic's local search, at most.
    bound : bool
        Solve the linear relaxation for the heuristic's bound and gap (False: no bound,
        one solve less, for callers that solve many small problems).

    Returns
    -------
    Rotation

    Examples
    --------
    Two groups of 10 and 30 MW in one island; 4 hours in blocks of 2; 5 MW short in the
    first two hours, 25 MW in the last two. The 10 MW group covers the first block; the
    second needs the 30 MW group:

    >>> import numpy as np
    >>> load = np.tile([[[10.0], [30.0]]], (4, 1, 1))
    >>> need = np.array([[5.0], [5.0], [25.0], [25.0]])
    >>> p = RotationProblem(load, need, np.array([False, False]), np.array([0, 0]), 2)
    >>> r = solve_rotation(p, "milp")
    >>> r.off.astype(int).tolist(), r.energy_mwh
    ([[1, 0], [1, 0], [0, 1], [0, 1]], 80.0)
    """
    if method not in METHODS:
        raise UsageError(f"The 'method' parameter must be one of {', '.join(METHODS)}. Got "
                         f"{method!r} instead.")
    t0, c0 = time.perf_counter(), time.process_time()
    p = problem
    fixed = _fixed_part(p)
    m = _model(p, fixed)
    blk = p.block_of_hour
    n_dec = int(m.free.sum())
    use = method
    if method == "auto":
        use = "milp" if n_dec <= MILP_MAX_BINARIES else "heuristic"
    notes: list[str] = []

    def finish(x_blocks: np.ndarray, how: str, status: str, bound_dec: float | None,
               clock: tuple[float, float]) -> Rotation:
        off = (m.const_off | x_blocks)[blk] | fixed.hour_off
        energy = float((p.group_mw.sum(axis=2) * off).sum())
        const = energy - float((m.energy * x_blocks).sum())
        excess = _excess(m.counted_const + x_blocks.sum(axis=0), m.pools)
        objective = const + _objective(m, x_blocks)
        bound = None if bound_dec is None else min(const + bound_dec, objective)
        gap = None
        if bound is not None and excess == 0:
            gap = 0.0 if objective <= _TOL else max(0.0, (objective - bound) / objective)
        return Rotation(off, fixed.short, fixed.uncovered, how, status, energy,
                        objective if excess == 0 else None, excess, bound, gap, *clock,
                        tuple(notes))

    def clock() -> tuple[float, float]:
        return time.perf_counter() - t0, time.process_time() - c0

    if n_dec == 0:
        forced_only = bool(m.const_off.any() or fixed.hour_off.any())
        return finish(np.zeros(m.free.shape, dtype=bool), use,
                      "no choice left: every off block is forced" if forced_only
                      else "nothing to decide", None, clock())
    if use == "heuristic":
        x = _heuristic(p, m, passes)
        secs = clock()
        lp_obj = _lp(p, m, integral=False, time_limit_s=time_limit_s)[1] if bound else None
        return finish(x, "heuristic", "heuristic", lp_obj, secs)
    xf, obj, bound, status = _lp(p, m, integral=True, time_limit_s=time_limit_s)
    secs = clock()
    x = None if xf is None else xf > 0.5
    if status != "optimal":
        h = _heuristic(p, m, passes)
        if x is None or _objective(m, h) < _objective(m, x) - _TOL:
            notes.append(f"the programme stopped ({status}) with a schedule worse than the "
                         "heuristic's; the heuristic's is kept")
            x = h
        else:
            notes.append(f"the programme stopped ({status}); its best schedule is kept, "
                         "within the gap of its bound")
    return finish(x, "milp", status, bound, secs)
