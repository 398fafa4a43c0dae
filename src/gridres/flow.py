"""DC power flow: the susceptance matrix, its factorisation, and low-rank outage updates.

The bus susceptance matrix is built from the sparse incidence matrix,
``B = Kᵀ diag(b) K``, as MATPOWER's ``makeBdc`` does (taps divide ``b``; phase shifts
become injections ``Pfinj = -b·shift``). Each island is *grounded* at one bus (a unit
shunt added to its diagonal) so that the whole-grid matrix is non-singular; with island
injections that sum to zero the ground carries no current and the flows equal those of
the reduced system with the ground bus as angle reference.

:class:`DCSolver` factorises the intact grid's grounded matrix once. An outage changes a
few branches and grounds, a low-rank change ``B' = B + U S Uᵀ``; the Woodbury identity
then needs one solve with ``1 + rank`` right-hand sides instead of a new factorisation.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from gridres.model import Network
from gridres.topology import components, effective

__all__ = ["DCSolver", "Factor", "dc_solver", "factorise", "susceptance_matrix",
           "branch_flows", "shift_injections", "reference_buses", "choose_grounds",
           "first_buses"]

#: Above this many changed branches and grounds, refactorising beats the Woodbury update
#: (measured: a factorisation costs about as much as 100 extra right-hand sides on
#: 2,000-10,000 bus cases). Fixed, not measured at run time, so results are reproducible.
MAX_RANK = 96

#: Memory for cached update columns per factorisation (bytes).
CACHE_BYTES = 256 * 2**20


def susceptance_matrix(net: Network, branch_alive: np.ndarray, ground: np.ndarray) -> sp.csc_matrix:
    """Grounded bus susceptance matrix ``Kᵀ diag(b·alive) K + diag(ground)`` (per unit).

    Parameters
    ----------
    net : Network
    branch_alive : numpy.ndarray of bool, shape (n_branch,)
    ground : numpy.ndarray of bool, shape (n_bus,)
        One bus per island (and every isolated bus) gets a unit shunt.

    Returns
    -------
    scipy.sparse.csc_matrix, shape (n_bus, n_bus)
    """
    w = np.where(branch_alive, net.b_pu, 0.0)
    k = net.incidence
    b = (k.T @ sp.diags(w) @ k).tocsc()
    return (b + sp.diags(ground.astype(float))).tocsc()


def shift_injections(net: Network, branch_alive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Phase-shift injections of alive branches: ``(Pfinj per branch, Pbusinj per bus)``
    in per unit, as in MATPOWER's ``makeBdc``."""
    if not net.has_shift:
        return np.zeros(net.n_branch), np.zeros(net.n_bus)
    pfinj = np.where(branch_alive, -net.b_pu * net.shift_rad, 0.0)
    pbus = np.bincount(net.f, weights=pfinj, minlength=net.n_bus) - np.bincount(
        net.t, weights=pfinj, minlength=net.n_bus
    )
    return pfinj, pbus


def branch_flows(
    net: Network, theta: np.ndarray, branch_alive: np.ndarray, pfinj: np.ndarray | None = None
) -> np.ndarray:
    """Branch flows in MW from the from-bus side; zero on dead branches.

    ``Pf = (b (θ_f − θ_t) + Pfinj) · baseMVA``; pass ``pfinj`` where
    :func:`shift_injections` was already called for the same branches.
    """
    flow = net.b_pu * (theta[net.f] - theta[net.t])
    if net.has_shift:
        flow = flow + (shift_injections(net, branch_alive)[0] if pfinj is None else pfinj)
    return np.where(branch_alive, flow, 0.0) * net.base_mva


def factorise(matrix: sp.csc_matrix):
    """SuperLU factorisation of a grounded susceptance matrix (symmetric positive
    definite, so symmetric mode without pivoting: least fill, fastest solves)."""
    return spla.splu(
        matrix, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
        options={"SymmetricMode": True},
    )


class Factor:
    """A factorised grounded system: which branches are in it, where it is grounded, and a
    bounded cache of solved update columns ``B⁻¹(e_f − e_t)`` (per branch) and ``B⁻¹e_i``
    (per ground bus), so that repeated outages of the same elements cost one solve.

    Every column is solved on its own (one right-hand side), so a result never depends on
    what the cache held before: same state, bit-for-bit the same flows.
    """

    __slots__ = ("lu", "branch", "ground", "_slot", "_buf", "_max_cols")

    def __init__(self, net: Network, branch: np.ndarray, ground: np.ndarray) -> None:
        self.branch = branch.copy()
        self.ground = ground.copy()
        self.lu = factorise(susceptance_matrix(net, branch, ground))
        self._slot: OrderedDict[tuple[str, int], int] = OrderedDict()  # key -> row of _buf
        self._max_cols = max(64, int(CACHE_BYTES // (8 * max(net.n_bus, 1))))
        self._buf: np.ndarray | None = None  # (max_cols, n_bus), allocated on first use

    def columns(self, net: Network, keys: list[tuple[str, int]]) -> np.ndarray:
        """Solved update columns, shape (n_bus, len(keys)), for keys ``("b", branch)``
        or ``("g", bus)``; cached in least-recently-used order."""
        if self._buf is None:
            self._buf = np.empty((self._max_cols, net.n_bus))
        rows = np.empty(len(keys), dtype=np.int64)
        slot = self._slot
        for j, key in enumerate(keys):
            r = slot.get(key)
            if r is None:
                r = len(slot) if len(slot) < self._max_cols else slot.popitem(last=False)[1]
                e = np.zeros(net.n_bus)
                kind, k = key
                if kind == "b":
                    e[net.f[k]] += 1.0
                    e[net.t[k]] -= 1.0
                else:
                    e[k] = 1.0
                self._buf[r] = self.lu.solve(e)
                slot[key] = r
            else:
                slot.move_to_end(key)
            rows[j] = r
        return self._buf[rows].T

    @property
    def cached(self) -> int:
        """Number of cached columns."""
        return len(self._slot)


class DCSolver:
    """The intact grid's factorised DC system, with low-rank updates for outages.

    Parameters
    ----------
    net : Network
        The compiled grid. The base system uses every in-service branch between
        in-service buses, grounded at one bus per intact island (the case's reference
        bus where the island holds one, else the bus of its largest generator, else its
        lowest bus) and at every out-of-service bus.

    Notes
    -----
    Factorisation: SuperLU (``scipy.sparse.linalg.splu``), once. :meth:`solve` with ``r``
    changed branches/grounds costs one triangular solve with ``r + 1`` right-hand sides
    and an ``r × r`` dense solve; above :data:`MAX_RANK` it refactorises instead and
    returns the new factor, which a caller (a cascade) can pass back as ``factor`` so
    that later, nearby states are again low-rank updates.
    """

    def __init__(self, net: Network) -> None:
        self.net = net
        eff = effective(net, net.intact())
        _, labels = components(net, eff.branch)
        self.base = Factor(net, eff.branch, choose_grounds(net, labels, eff))

    @property
    def base_branch(self) -> np.ndarray:
        return self.base.branch

    @property
    def base_ground(self) -> np.ndarray:
        return self.base.ground

    def solve(
        self,
        rhs: np.ndarray,
        branch_alive: np.ndarray,
        ground: np.ndarray,
        factor: Factor | None = None,
    ) -> tuple[np.ndarray, Factor]:
        """Solve ``B' θ = rhs`` for the grid with ``branch_alive`` branches and
        ``ground`` grounds.

        Parameters
        ----------
        rhs : numpy.ndarray, shape (n_bus,)
            Net injections in per unit (shift injections already subtracted).
        branch_alive : numpy.ndarray of bool, shape (n_branch,)
        ground : numpy.ndarray of bool, shape (n_bus,)
        factor : Factor, optional
            The factorisation to update from; default the intact grid's.

        Returns
        -------
        theta : numpy.ndarray, shape (n_bus,)
            Bus voltage angles in radians (each island's angles are relative to its
            ground bus only up to a constant; flows are exact).
        factor : Factor
            The factorisation used (a new one if the change was too large).
        """
        net = self.net
        fac = factor or self.base
        removed = np.flatnonzero(fac.branch & ~branch_alive)
        added = np.flatnonzero(~fac.branch & branch_alive)
        g_add = np.flatnonzero(ground & ~fac.ground)
        g_del = np.flatnonzero(~ground & fac.ground)
        rank = len(removed) + len(added) + len(g_add) + len(g_del)
        if rank == 0:
            return fac.lu.solve(rhs), fac
        if rank > MAX_RANK:
            fac = Factor(net, branch_alive, ground)
            return fac.lu.solve(rhs), fac
        br = np.concatenate([removed, added])
        gr = np.concatenate([g_add, g_del])
        s = np.concatenate([
            -net.b_pu[removed], net.b_pu[added], np.ones(len(g_add)), -np.ones(len(g_del))
        ])
        y = fac.lu.solve(rhs)
        z = fac.columns(net, [("b", int(k)) for k in br] + [("g", int(i)) for i in gr])
        # Uᵀ z and Uᵀ y by row picks
        utz = np.vstack([z[net.f[br]] - z[net.t[br]], z[gr]])
        uty = np.concatenate([y[net.f[br]] - y[net.t[br]], y[gr]])
        cap = np.diag(1.0 / s) + utz
        return y - z @ np.linalg.solve(cap, uty), fac


def dc_solver(net: Network) -> DCSolver:
    """The intact grid's factorised DC system, built on first use and kept with ``net``
    for every later outage (a pickled network leaves it behind; it is rebuilt on first
    use after unpickling)."""
    solver = net.__dict__.get("_dc_solver")
    if solver is None:
        solver = net.__dict__["_dc_solver"] = DCSolver(net)
    return solver


def choose_grounds(net: Network, labels: np.ndarray, eff) -> np.ndarray:
    """One ground bus per component: its reference bus (see :func:`reference_buses`)."""
    ground = np.zeros(net.n_bus, dtype=bool)
    ground[reference_buses(net, labels, eff)] = True
    return ground


def first_buses(labels: np.ndarray) -> np.ndarray:
    """Lowest bus of every component, for labels numbered in order of first appearance
    (as :func:`scipy.sparse.csgraph.connected_components` numbers them). ``O(n)``."""
    prev = np.maximum.accumulate(np.r_[-1, labels[:-1]])
    return np.flatnonzero(labels > prev).astype(np.int64)


def reference_buses(net: Network, labels: np.ndarray, eff) -> np.ndarray:
    """Reference bus of every component (rule 4 of the engine semantics).

    The case's reference bus where the component holds an alive one (the first listed
    where it holds several), else the bus of its largest alive generator by ``pmax_mw``
    (among generators of equal ``pmax_mw``, the one listed first in the grid's
    generator table), else its lowest bus. The choice moves the slack, so it changes
    flows and what a cascade trips; it depends on the grid's order only, never on how
    the state was reached.

    Parameters
    ----------
    net : Network
    labels : numpy.ndarray of int, shape (n_bus,)
        Component label of every bus, ``0 .. C-1``.
    eff : State
        Effective state (see :func:`gridres.topology.effective`).

    Returns
    -------
    numpy.ndarray of int, shape (C,)
        Bus position of each component's reference.
    """
    n_comp = int(labels.max()) + 1 if len(labels) else 0
    ref = first_buses(labels)
    g = np.flatnonzero(eff.gen)
    if len(g):
        gl = labels[net.gen_bus[g]]
        # per component: largest pmax first, ties to the generator listed first
        order = np.lexsort((g, -net.gen_pmax_mw[g], gl))
        first = np.r_[True, gl[order][1:] != gl[order][:-1]]
        sel = g[order][first]
        ref[labels[net.gen_bus[sel]]] = net.gen_bus[sel]
    r = np.flatnonzero(net.is_ref & eff.bus)
    if len(r):
        # first case reference bus of each component wins
        rl = labels[r]
        _, firsts = np.unique(rl, return_index=True)
        ref[rl[firsts]] = r[firsts]
    assert len(ref) == n_comp
    return ref
