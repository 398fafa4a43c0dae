"""The ``optimal`` policy: a MILP, solved with HiGHS, that minimises energy not served.

Formulation
-----------
At a planning time ``t0`` (the first decision, and again after every wave) the open
jobs ``N`` are the pending ones ``P`` and those already under way (their expected end is
fixed). For every subset ``S ⊆ N`` the lost load ``g(S)`` with ``S`` repaired is
evaluated with the engine, as the simulation would assess it now (its cascade mode
and margin, from the buses energised now: :meth:`PolicyContext.served_mw`): ``2^|N|``
evaluations, which is what limits the size. With the Möbius transform
``g(S) = Σ_{T⊆S} m(T)`` and ``g(N) = 0``, the energy not served after ``t0`` is exactly

    ENS = Σ_{T≠∅} w(T) · (max_{j∈T} C_j − t0),   w(T) = −m(T),

where ``C_j`` is job ``j``'s completion time. On a radial feeder every ``w(T)`` is
``>= 0`` (a load is back when every failed element on its path is), so ``M_T ≥ C_j``
linearises the maximum. Negative terms (parallel paths, capacity limits) need ``M_T``
to be the completion of the job that is *last* in ``T``; a global completion order
``y[i,j]`` (binary, "i completes no later than j") decides which one, so they add no
binaries of their own.

The schedule: each job is assigned to one crew (``a[j,c]``) and starts after that crew
is free and has travelled there (``s_j ≥ Σ_c a[j,c] (ready_c + τ_cj)``); two jobs of the
same crew are done in their completion order with the travel between them (big-M,
exact since straight-line travel times obey the triangle inequality). Jobs that need a
spare start no earlier than the spare matched to them (``q[j,r]`` over the spares not
yet promised, equivalent to giving them out in order of start). Parallel-machine
inequalities ``Σ_{j∈S} p_j (C_j − t0) ≥ p(S)²/(2·crews) + Σ_{j∈S} p_j²/2`` for every
subset ``S`` tighten the relaxation. The plan's crew sequences are then played through
the same simulator, its spares promised in planned order.

What it solves exactly
----------------------
With deterministic repair times (``repair_sigma = 0``) and one wave, the plan is optimal
among all schedules the simulator can produce, whatever the topology, capacity limits or
spares: the test suite checks that it is never worse than any heuristic. The set
function is the simulator's own assessment (flows and cascade mode included), taken from
the buses energised at the planning time: repairs only join islands, and an island
energised at a later event holds such a bus or a black-start unit, so ``g(S)`` is the
lost load the simulation will find with ``S`` repaired, in whatever order (the one
exception: an island whose fixed demand exceeds its capacity collapses, and joining it
can darken a neighbour). With repair
uncertainty the plan uses expected hours; with several waves it re-plans at each wave
without knowing the next (both then heuristic).

Practical size
--------------
The set function costs ``2^n`` supply evaluations for ``n`` open repairs; the MILP, whose
solve time grows steeply with ``n``, is what limits the size (figures:
``benchmarks/bench_restoration.py --part optimal``, in ``benchmarks/README.md``). Hence
the default ``optimal_max_jobs = 8``; 10 is usable for a single study, not inside an
ensemble. Above the limit, or when the MILP finds no plan within
``optimal_time_limit_s``, the policy uses ``greedy`` (re-checking at every decision, so it
plans the tail once few repairs remain) and the result's notes say so; a time-limited
plan is used and noted.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from gridres.model import State
from gridres.restoration.interface import Decision, Policy, PolicyContext, Snapshot
from gridres.tolerances import SAME_TIME_H

__all__ = ["Plan", "OptimalPolicy", "plan_restoration", "lost_by_subset", "mobius"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Plan:
    """A restoration plan from the MILP.

    Attributes
    ----------
    sequences : tuple of tuple of int
        Job ids per crew, in order.
    start_h : dict of int to float
        Planned start of each pending job.
    ens_mwh : float
        Energy not served from the planning time on, as the MILP computes it.
    status : str
        ``"optimal"`` or ``"time limit"``.
    seconds : float
        Wall time of the set-function evaluations and the solve.
    """

    sequences: tuple[tuple[int, ...], ...]
    start_h: dict
    ens_mwh: float
    status: str
    seconds: float


def lost_by_subset(served_mw: Callable[[State], float], alive: State,
                   elements: list[tuple[int, int]], reference_mw: float) -> np.ndarray:
    """Lost load ``g(S)`` for every subset ``S`` of ``elements`` repaired.

    Parameters
    ----------
    served_mw : callable
        Load served in a state (a simulation's :meth:`PolicyContext.served_mw`).
    alive : State
        What is alive, with every element of ``elements`` failed.
    elements : list of (element type, position)
        Element type 0 bus, 1 branch, 2 generator.
    reference_mw : float
        Pre-event served load.

    Returns
    -------
    ndarray, shape (2**len(elements),)
        Indexed by the bitmask of the repaired subset (bit ``i`` = ``elements[i]``).
    """
    n = len(elements)
    out = np.empty(2**n)
    for mask in range(2**n):
        masks = [alive.bus.copy(), alive.branch.copy(), alive.gen.copy()]
        for i, (e, p) in enumerate(elements):
            if mask >> i & 1:
                masks[e][p] = True
        out[mask] = max(0.0, reference_mw - served_mw(State(*masks)))
    return out


def mobius(values: np.ndarray) -> np.ndarray:
    """Möbius transform ``m`` of a set function: ``values[S] = Σ_{T⊆S} m[T]``.

    Examples
    --------
    >>> mobius(np.array([0.0, 1.0, 2.0, 5.0])).tolist()
    [0.0, 1.0, 2.0, 2.0]
    """
    m = np.asarray(values, dtype=float).copy()
    n = int(round(math.log2(len(m))))
    idx = np.arange(len(m))
    for i in range(n):
        has = (idx >> i & 1).astype(bool)
        m[idx[has]] -= m[idx[has] ^ (1 << i)]
    return m


def plan_restoration(context: PolicyContext, snap: Snapshot, time_limit_s: float
                     ) -> Plan | None:
    """Solve the MILP for the state ``snap`` of a simulation (seen through its policy
    ``context``); ``None`` if no feasible plan was found in time."""
    t_start = time.perf_counter()
    jobs = context.jobs
    t0 = snap.time_h
    pend = [jobs[j] for j in snap.pending]
    act = [jobs[j] for j in snap.active]
    elems = [(j.etype, j.position) for j in pend] + [(j.etype, j.position) for j in act]
    n_p, n = len(pend), len(pend) + len(act)
    g = lost_by_subset(context.served_mw, snap.alive, elems, context.base_mw)
    w = -mobius(g)
    scale = max(1.0, float(np.abs(g).max()))
    terms = [t for t in range(1, 2**n) if abs(w[t]) > 1e-9 * scale]
    fixed_c = {n_p + i: float(e) for i, e in enumerate(snap.active_end_h)}

    crews = len(snap.crew_ready_h)
    p = np.array([j.expected_h for j in pend])
    xy = np.array([j.xy for j in pend], dtype=float).reshape(n_p, 2)
    tau = np.vstack([context.assets.travel_h(xy[i], xy) for i in range(n_p)]) if n_p else \
        np.zeros((0, 0))
    tau_c = np.vstack([context.assets.travel_h(snap.crew_xy[c], xy) for c in range(crews)]) \
        if n_p else np.zeros((crews, 0))
    ready = np.maximum(snap.crew_ready_h, t0)

    # spares: per kind, the pending jobs needing one and the spares not promised yet
    spare_groups = []
    for kind, items in snap.spare_items.items():
        members = [i for i, j in enumerate(pend) if j.needs_spare and j.kind == kind]
        if not members:
            continue
        free = items[snap.spare_held.get(kind, 0):][: len(members)]
        arrivals = [max(float(a), t0) for a in free]
        if max(arrivals) > t0 + SAME_TIME_H:
            spare_groups.append((members, arrivals))
    latest_spare = max([max(a) for _, a in spare_groups], default=t0)
    horizon = (max(ready.max(initial=t0), latest_spare) + p.sum()
               + (tau.max(initial=0.0) + tau_c.max(initial=0.0)) * max(n_p, 1))
    horizon = max(horizon, max(fixed_c.values(), default=t0)) + 1.0

    # -- variables
    names: list[str] = []
    lb: list[float] = []
    ub: list[float] = []
    integ: list[int] = []
    cost: list[float] = []

    def var(name: str, lo: float, hi: float, integer: bool, c: float = 0.0) -> int:
        names.append(name)
        lb.append(lo)
        ub.append(hi)
        integ.append(1 if integer else 0)
        cost.append(c)
        return len(names) - 1

    cmax = horizon + p.max(initial=0.0)
    a = np.array([[var(f"a{j},{c}", 0, 1, True) for c in range(crews)] for j in range(n_p)],
                 dtype=np.int64).reshape(n_p, crews)
    s = np.array([var(f"s{j}", t0, horizon, False) for j in range(n_p)], dtype=np.int64)
    # y[i, j] (i < j): 1 if i completes no later than j (a global order of completions)
    y = {(i, j): var(f"y{i},{j}", 0, 1, True) for i in range(n_p) for j in range(i + 1, n_p)}
    # z[i, j]: i and j are done by the same crew (forced to 1 by the assignments)
    z = {(i, j): var(f"z{i},{j}", 0, 1, False) for i in range(n_p) for j in range(i + 1, n_p)}
    mt = {t: var(f"M{t}", t0, cmax, False, float(w[t])) for t in terms}

    rows: list[dict[int, float]] = []
    lo_: list[float] = []
    hi_: list[float] = []

    def con(coefs: dict[int, float], lo: float, hi: float) -> None:
        rows.append(coefs)
        lo_.append(lo)
        hi_.append(hi)

    inf = np.inf
    # symmetry: among identical crews, job j may only use the first j + 1 of them
    groups: dict[tuple, list[int]] = {}
    for c in range(crews):
        groups.setdefault((round(ready[c], 9), *np.round(snap.crew_xy[c], 9).tolist()), []
                          ).append(c)
    for j in range(n_p):
        con({int(a[j, c]): 1.0 for c in range(crews)}, 1.0, 1.0)
        for members in groups.values():
            for k, c in enumerate(members):
                if k > j:
                    ub[int(a[j, c])] = 0
        coefs = {int(s[j]): 1.0}
        for c in range(crews):
            coefs[int(a[j, c])] = -(ready[c] + tau_c[c, j])
        con(coefs, 0.0, inf)
    # parallel-machine inequalities (valid since no crew is free before t0): for every
    # subset S of pending jobs, Σ p_j (C_j - t0) >= p(S)² / (2 crews) + Σ p_j² / 2. They
    # give the LP relaxation the crews' capacity, which the big-M pairs lack.
    if 1 < n_p <= 12:
        for sub in range(1, 2**n_p):
            members = [j for j in range(n_p) if sub >> j & 1]
            ps = p[members]
            if len(members) < 2 or ps.sum() <= 0:
                continue
            rhs = ps.sum() ** 2 / (2 * crews) + 0.5 * float((ps**2).sum())
            rhs += float(ps.sum()) * t0 - float((ps**2).sum())  # C_j = s_j + p_j
            con({int(s[j]): float(p[j]) for j in members}, rhs, inf)
    span = cmax - t0  # bound on any difference of completion times
    for (i, j), yv in y.items():
        zv = z[i, j]
        # the order of completions: y = 1 -> C_i <= C_j, y = 0 -> C_j <= C_i
        con({int(s[j]): 1.0, int(s[i]): -1.0, yv: -span}, p[i] - p[j] - span, inf)
        con({int(s[i]): 1.0, int(s[j]): -1.0, yv: span}, p[j] - p[i], inf)
        for c in range(crews):
            con({zv: 1.0, int(a[i, c]): -1.0, int(a[j, c]): -1.0}, -1.0, inf)
        # same crew: the one completing first is done first, then the crew travels
        big_ij = span + p[i] + tau[i, j]
        con({int(s[j]): 1.0, int(s[i]): -1.0, yv: -big_ij, zv: -big_ij},
            p[i] + tau[i, j] - 2 * big_ij, inf)
        big_ji = span + p[j] + tau[j, i]
        con({int(s[i]): 1.0, int(s[j]): -1.0, yv: big_ji, zv: -big_ji},
            p[j] + tau[j, i] - big_ji, inf)
    for t, mv in mt.items():
        members = [i for i in range(n) if t >> i & 1]
        for i in members:
            if i < n_p:
                con({mv: 1.0, int(s[i]): -1.0}, p[i], inf)
            else:
                lb[mv] = max(lb[mv], fixed_c[i])
        if w[t] < 0:
            # M_T may not exceed the completion of the job that is last in T; which one
            # is last follows from the order y (exact when T holds pending jobs only)
            has_fixed = any(i >= n_p for i in members)
            last = {i: var(f"l{t},{i}", 0, 1, has_fixed) for i in members}
            con(dict.fromkeys(last.values(), 1.0), 1.0, 1.0)
            for i, lv in last.items():
                if i < n_p:
                    con({mv: 1.0, int(s[i]): -1.0, lv: span}, -inf, p[i] + span)
                else:
                    con({mv: 1.0, lv: span}, -inf, fixed_c[i] + span)
                if has_fixed:
                    continue
                for k in members:
                    if k == i:
                        continue
                    # i last in T needs every other k of T completed before i
                    if k < i:
                        con({lv: 1.0, y[k, i]: -1.0}, -inf, 0.0)
                    else:
                        con({lv: 1.0, y[i, k]: 1.0}, -inf, 1.0)
    for members, arrivals in spare_groups:
        q = {(i, r): var(f"q{i},{r}", 0, 1, True) for i in members for r in range(len(arrivals))}
        for i in members:
            con({q[i, r]: 1.0 for r in range(len(arrivals))}, 1.0, 1.0)
            coefs = {int(s[i]): 1.0}
            for r, arr in enumerate(arrivals):
                coefs[q[i, r]] = -arr
            con(coefs, 0.0, inf)
        for r in range(len(arrivals)):
            con({q[i, r]: 1.0 for i in members}, 0.0, 1.0)

    nv = len(names)
    data, ri, ci = [], [], []
    for r, coefs in enumerate(rows):
        for k, v in coefs.items():
            ri.append(r)
            ci.append(k)
            data.append(v)
    matrix = sp.csr_matrix((data, (ri, ci)), shape=(len(rows), nv))
    constraints = [LinearConstraint(matrix, np.array(lo_), np.array(hi_))] if rows else []
    remaining = max(0.1, time_limit_s - (time.perf_counter() - t_start))
    res = milp(np.array(cost), constraints=constraints, integrality=np.array(integ),
               bounds=Bounds(np.array(lb, dtype=float), np.array(ub, dtype=float)),
               options={"time_limit": remaining, "mip_rel_gap": 1e-9, "presolve": True})
    if res.x is None:
        logger.info("optimal: no plan found (%s)", res.message)
        return None
    x = res.x
    status = "optimal" if res.status == 0 else "time limit"
    starts = {int(pend[j].id): float(x[s[j]]) for j in range(n_p)}
    seqs = []
    for c in range(crews):
        mine = [j for j in range(n_p) if x[a[j, c]] > 0.5]
        mine.sort(key=lambda j: (x[s[j]], j))
        seqs.append(tuple(int(pend[j].id) for j in mine))
    ens = float(res.fun - sum(w[t] * t0 for t in terms))
    return Plan(tuple(seqs), starts, ens, status, time.perf_counter() - t_start)


class OptimalPolicy:
    """The ``optimal`` policy: follow the crew's sequence in the MILP plan, made at the
    first decision and again after every wave (see the module notes); ``fallback`` (the
    registry uses ``greedy``) where the case is too large or no plan is found.

    Parameters
    ----------
    fallback : Policy
    """

    name = "optimal"

    def __init__(self, fallback: Policy) -> None:
        self.fallback = fallback

    def __repr__(self) -> str:
        return f"OptimalPolicy(fallback={getattr(self.fallback, '__name__', self.fallback)})"

    def __call__(self, d: Decision) -> int | None:
        ctx = d.context
        memo = d.memo
        s = d.settings
        mode = memo.get("optimal_mode")
        stale = memo.get("optimal_waves") != ctx.waves_seen
        if mode is None or stale or mode == "greedy":
            open_jobs = ctx.open_jobs
            memo["optimal_waves"] = ctx.waves_seen
            if open_jobs > s.optimal_max_jobs:
                if mode != "greedy" or stale:
                    d.note(f"{open_jobs} open repairs at {d.time_h:g} h is more than "
                           f"optimal_max_jobs = {s.optimal_max_jobs}; used greedy until they "
                           "were few enough")
                memo["optimal_mode"] = "greedy"
            else:
                ctx.reserve({})  # planned spares are promised anew below
                snap = d.snapshot()
                plan = plan_restoration(ctx, snap, s.optimal_time_limit_s)
                if plan is None:
                    d.note(f"no plan found within {s.optimal_time_limit_s:g} s at "
                           f"{d.time_h:g} h; used greedy")
                    memo["optimal_mode"] = "greedy"
                else:
                    if plan.status != "optimal":
                        d.note(f"the MILP at {d.time_h:g} h hit the time limit; "
                               "used the best plan found")
                    memo["optimal_mode"] = "plan"
                    memo["optimal_plan"] = plan
                    ctx.reserve({j: (t, j) for j, t in plan.start_h.items()})
        if memo["optimal_mode"] == "greedy":
            return self.fallback(d)
        plan: Plan = memo["optimal_plan"]
        where = {int(j): i for i, j in enumerate(d.candidates)}
        for jid in plan.sequences[d.crew]:
            if jid in where:
                return where[jid]
        return None
