"""The interdiction MILP for load shed without a cascade: exact where the engine's served
load is a minimum cut, and an upper bound on the worst shed everywhere.

Without a cascade, the engine serves in each island ``min(demand, capacity)`` (rules
1-3; flows play no part), and ``Σ_islands min(D, C)`` is the minimum cut between
generation and load with branches of unlimited capacity (max-flow min-cut). The attacker
minimises served load over its strikes *and* over the cut, one minimisation, so the
interdiction problem is a single MILP (no bilevel duality is needed; Wood, 1993):

* ``x_c`` in {0, 1}: candidate ``c`` is struck; ``Σ x_c = k``. ``X_i``, ``Y_l``, ``Z_g``:
  whether bus ``i``, branch ``l`` or generator ``g`` is destroyed (sums of ``x``).
* ``s_i`` in [0, 1]: bus ``i`` is on the served side of the cut, ``t_i = 1 - X_i - s_i``
  on the unserved (dark or short) side; a struck bus is on neither.
* No alive branch may join the served side to the unserved side:
  ``s_i <= s_j + X_j + Y_l`` and ``s_j <= s_i + X_i + Y_l`` for branch ``l = (i, j)``.
* Served load, minimised: ``Σ D_i s_i + Σ_g pmax_g q_g - Σ F_i t_i`` with
  ``q_g >= t_{bus(g)} - Z_g``, ``q_g >= 0``: an island on the served side serves its
  demand ``D``, one on the other side its capacity less its fixed demand ``F`` (shunts).

With ``x`` integral the ``s`` part is a network matrix (totally unimodular), so only
``x`` is declared integer. On grids without shunt demand or negative loads the optimum
equals the engine's worst shed exactly; with them it is an upper bound (an island whose
shunts exceed its capacity collapses in the engine, while the cut may count a negative
contribution). Every set the MILP proposes is re-evaluated by the engine, and a result
is called optimal only when the engine's value reaches the MILP's bound.

Solved with HiGHS (:func:`scipy.optimize.milp`), with a limit on branch-and-bound nodes
rather than on time, so that results do not depend on the machine.

References
----------
R. K. Wood, "Deterministic network interdiction", Mathematical and Computer Modelling
17 (2), 1993.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from gridres.adversary.targets import Targets
from gridres.model import Network, State
from gridres.topology import effective

__all__ = ["CutModel", "MilpSolution"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class MilpSolution:
    """One solve of :class:`CutModel`.

    Attributes
    ----------
    members : tuple of int or None
        The struck candidates of the best integer solution found (None if none).
    shed_mw : float
        Shed load of that solution in the model (NaN if none).
    bound_mw : float
        Upper bound on the shed load of every ``k``-set the solve allowed.
    optimal : bool
        The solver closed the gap.
    nodes : int
    """

    members: tuple[int, ...] | None
    shed_mw: float
    bound_mw: float
    optimal: bool
    nodes: int


class CutModel:
    """The MILP of the module notes for one grid, state and candidate list.

    Parameters
    ----------
    net : Network
    targets : Targets
    k : int
    base : State, optional
        The state the strikes fall on (default intact).
    """

    def __init__(self, net: Network, targets: Targets, k: int, base: State | None = None) -> None:
        eff = effective(net, base if base is not None else net.intact())
        nc, nb = len(targets), net.n_bus
        self.k = k
        self.nc = nc
        self.exact = not np.any(net.fixed_mw[eff.bus] != 0)
        alive_br = np.flatnonzero(eff.branch)
        alive_g = np.flatnonzero(eff.gen)
        ng = len(alive_g)
        # destroyed-element sums as matrices of x: X = Mb x, Y = Ml x, Z = Mg x
        (rb, pb), (rl, pl), (rg, pg) = targets.elements(np.arange(nc)[:, None])
        mb = sp.csr_matrix((np.ones(len(rb)), (pb, rb)), shape=(nb, nc))
        ml = sp.csr_matrix((np.ones(len(rl)), (pl, rl)), shape=(net.n_branch, nc))[alive_br]
        mg = sp.csr_matrix((np.ones(len(rg)), (pg, rg)), shape=(net.n_gen, nc))[alive_g]
        dead = ~eff.bus  # buses already gone: neither side, X fixed at 1
        demand = np.where(eff.bus, np.maximum(net.load_mw, 0.0), 0.0)
        self.total_mw = float(np.where(net.bus_in_service, np.maximum(net.load_mw, 0.0),
                                       0.0).sum())
        fixed = np.where(eff.bus, np.maximum(net.fixed_mw, 0.0), 0.0)
        # variables: x (nc), s (nb), q (ng)
        nv = nc + nb + ng
        self.nv = nv
        xs, ss, qs = 0, nc, nc + nb
        rows: list[sp.csr_matrix] = []
        lo: list[np.ndarray] = []
        hi: list[np.ndarray] = []

        def block(x_part, s_part, q_part, low, high):
            rows.append(sp.hstack([x_part, s_part, q_part]).tocsr())
            lo.append(np.asarray(low, dtype=float))
            hi.append(np.asarray(high, dtype=float))

        # branches: s_f - s_t - X_t - Y <= 0 and the reverse (X of a dead bus is 1)
        f, t = net.f[alive_br], net.t[alive_br]
        m = len(alive_br)
        r = np.arange(m)
        zq = sp.csr_matrix((m, ng))
        for a, b in ((f, t), (t, f)):
            s_part = sp.csr_matrix((np.r_[np.ones(m), -np.ones(m)], (np.r_[r, r], np.r_[a, b])),
                                   shape=(m, nb))
            x_part = -(mb[b] + ml)
            block(x_part, s_part, zq, np.full(m, -np.inf), dead[b].astype(float))
        # s_i + X_i <= 1 (a struck bus is on neither side; a dead bus has s = 0)
        block(mb, sp.identity(nb, format="csr"), sp.csr_matrix((nb, ng)),
              np.full(nb, -np.inf), np.ones(nb))
        # q_g >= t_i - Z_g = 1 - X_i - s_i - Z_g  ->  -q - X_i - s_i - Z_g <= -1
        if ng:
            gb = net.gen_bus[alive_g]
            sel = sp.csr_matrix((np.ones(ng), (np.arange(ng), gb)), shape=(ng, nb))
            block(-(sel @ mb) - mg, -sel, -sp.identity(ng, format="csr"),
                  np.full(ng, -np.inf), -np.ones(ng) + dead[gb])
        # Σ x = k
        block(sp.csr_matrix(np.ones((1, nc))), sp.csr_matrix((1, nb)), sp.csr_matrix((1, ng)),
              [k], [k])
        self.a = sp.vstack(rows).tocsr()
        self.lo = np.concatenate(lo)
        self.hi = np.concatenate(hi)
        # served = Σ D s + Σ pmax q - Σ F t, t = 1 - X - s  ->  constant - Σ F (1 - X - s)
        cost = np.zeros(nv)
        cost[ss:qs] = demand + fixed
        cost[xs:ss] = mb.T @ fixed
        cost[qs:] = net.gen_pmax_mw[alive_g]
        self.cost = cost
        self.constant = -float(fixed[~dead].sum())
        upper = np.ones(nv)
        upper[ss:qs] = np.where(dead, 0.0, 1.0)
        upper[qs:] = 1.0
        self.bounds = Bounds(np.zeros(nv), upper)
        self.cuts: list[tuple[int, ...]] = []

    def exclude(self, members: tuple[int, ...]) -> None:
        """Forbid one strike set (a no-good cut) in later solves."""
        self.cuts.append(tuple(members))

    def solve(self, nodes: int | None = None, relax: bool = False) -> MilpSolution:
        """Solve with at most ``nodes`` branch-and-bound nodes (the LP relaxation alone
        with ``relax``)."""
        a, lo, hi = self.a, self.lo, self.hi
        if self.cuts:
            rows = np.repeat(np.arange(len(self.cuts)), self.k)
            cols = np.concatenate([np.asarray(c) for c in self.cuts])
            cut = sp.csr_matrix((np.ones(len(cols)), (rows, cols)),
                                shape=(len(self.cuts), self.nv))
            a = sp.vstack([a, cut]).tocsr()
            lo = np.r_[lo, np.full(len(self.cuts), -np.inf)]
            hi = np.r_[hi, np.full(len(self.cuts), self.k - 1.0)]
        integrality = np.zeros(self.nv)
        if not relax:
            integrality[:self.nc] = 1
        options: dict = {"disp": False, "mip_rel_gap": 0.0}
        if nodes is not None and not relax:
            options["node_limit"] = int(nodes)
        res = milp(self.cost, constraints=LinearConstraint(a, lo, hi),
                   integrality=integrality, bounds=self.bounds, options=options)
        if res.x is None:
            infeasible = res.status == 2
            return MilpSolution(None, np.nan, -np.inf if infeasible else self.total_mw,
                                infeasible, int(getattr(res, "mip_node_count", 0) or 0))
        served = float(res.fun) + self.constant
        dual = getattr(res, "mip_dual_bound", None)
        served_lb = served if relax or dual is None or not np.isfinite(dual) else \
            float(dual) + self.constant
        members = None if relax else tuple(int(c) for c in np.flatnonzero(res.x[:self.nc] > 0.5))
        return MilpSolution(members, self.total_mw - served, self.total_mw - served_lb,
                            res.status == 0, int(getattr(res, "mip_node_count", 0) or 0))
