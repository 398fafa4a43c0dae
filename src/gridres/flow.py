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

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from gridres.model import Network

__all__ = ["DCSolver", "susceptance_matrix", "branch_flows", "shift_injections"]

#: Above this many changed branches and grounds, refactorising beats Woodbury.
MAX_RANK = 48


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
    pfinj = np.where(branch_alive, -net.b_pu * net.shift_rad, 0.0)
    pbus = np.bincount(net.f, weights=pfinj, minlength=net.n_bus) - np.bincount(
        net.t, weights=pfinj, minlength=net.n_bus
    )
    return pfinj, pbus


def branch_flows(net: Network, theta: np.ndarray, branch_alive: np.ndarray) -> np.ndarray:
    """Branch flows in MW from the from-bus side; zero on dead branches.

    ``Pf = (b (θ_f − θ_t) + Pfinj) · baseMVA``.
    """
    pfinj, _ = shift_injections(net, branch_alive)
    flow = net.b_pu * (theta[net.f] - theta[net.t]) + pfinj
    return np.where(branch_alive, flow, 0.0) * net.base_mva


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
    and an ``r × r`` dense solve; above :data:`MAX_RANK` it refactorises instead.
    """

    def __init__(self, net: Network) -> None:
        from gridres.topology import components, effective

        self.net = net
        eff = effective(net, net.intact())
        self.base_branch = eff.branch
        _, labels = components(net, eff.branch)
        self.base_ground = choose_grounds(net, labels, eff)
        self.lu = spla.splu(
            susceptance_matrix(net, self.base_branch, self.base_ground),
            permc_spec="MMD_AT_PLUS_A",
        )

    def solve(self, rhs: np.ndarray, branch_alive: np.ndarray, ground: np.ndarray) -> np.ndarray:
        """Solve ``B' θ = rhs`` for the grid with ``branch_alive`` branches and
        ``ground`` grounds.

        Parameters
        ----------
        rhs : numpy.ndarray, shape (n_bus,)
            Net injections in per unit (shift injections already subtracted).
        branch_alive : numpy.ndarray of bool, shape (n_branch,)
        ground : numpy.ndarray of bool, shape (n_bus,)

        Returns
        -------
        numpy.ndarray, shape (n_bus,)
            Bus voltage angles in radians (relative to each island's ground bus only up to
            a constant; flows are exact).
        """
        net = self.net
        removed = np.flatnonzero(self.base_branch & ~branch_alive)
        added = np.flatnonzero(~self.base_branch & branch_alive)
        g_add = np.flatnonzero(ground & ~self.base_ground)
        g_del = np.flatnonzero(~ground & self.base_ground)
        br = np.concatenate([removed, added])
        gr = np.concatenate([g_add, g_del])
        rank = len(br) + len(gr)
        if rank == 0:
            return self.lu.solve(rhs)
        if rank > MAX_RANK:
            lu = spla.splu(susceptance_matrix(net, branch_alive, ground), permc_spec="MMD_AT_PLUS_A")
            return lu.solve(rhs)
        n = net.n_bus
        nb = len(br)
        # U: columns e_f - e_t for branches, e_i for grounds; S: -b removed, +b added, ±1
        u = np.zeros((n, rank + 1))
        u[:, 0] = rhs
        cols = np.arange(1, nb + 1)
        u[net.f[br], cols] += 1.0
        u[net.t[br], cols] -= 1.0
        u[gr, np.arange(nb + 1, rank + 1)] = 1.0
        s = np.concatenate([
            -net.b_pu[removed], net.b_pu[added], np.ones(len(g_add)), -np.ones(len(g_del))
        ])
        sol = self.lu.solve(u)
        y, z = sol[:, 0], sol[:, 1:]
        # Uᵀ z and Uᵀ y by row picks
        utz = np.vstack([z[net.f[br]] - z[net.t[br]], z[gr]])
        uty = np.concatenate([y[net.f[br]] - y[net.t[br]], y[gr]])
        cap = np.diag(1.0 / s) + utz
        return y - z @ np.linalg.solve(cap, uty)


def choose_grounds(net: Network, labels: np.ndarray, eff) -> np.ndarray:
    """One ground bus per component: its reference bus (see :func:`reference_buses`)."""
    ground = np.zeros(net.n_bus, dtype=bool)
    ground[reference_buses(net, labels, eff)] = True
    return ground


def reference_buses(net: Network, labels: np.ndarray, eff) -> np.ndarray:
    """Reference bus of every component (rule 4 of the engine semantics).

    The case's reference bus where the component holds an alive one, else the bus of
    its largest alive generator (by ``pmax_mw``), else its lowest bus.

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
    _, first = np.unique(labels, return_index=True)
    ref = first.astype(np.int64)
    g = np.flatnonzero(eff.gen)
    if len(g):
        gl = labels[net.gen_bus[g]]
        order = np.lexsort((net.gen_pmax_mw[g], gl))
        last = np.r_[gl[order][1:] != gl[order][:-1], True]
        sel = g[order][last]
        ref[labels[net.gen_bus[sel]]] = net.gen_bus[sel]
    r = np.flatnonzero(net.is_ref & eff.bus)
    if len(r):
        # first case reference bus of each component wins
        rl = labels[r]
        _, firsts = np.unique(rl, return_index=True)
        ref[rl[firsts]] = r[firsts]
    assert len(ref) == n_comp
    return ref
