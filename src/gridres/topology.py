"""Islands and unsupplied buses: the topology primitives a planner's question starts from,
and a grid's summary (counts, totals, islands, extent)."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from gridres.io.geopackage import crs_label
from gridres.model import Grid, Network, State

__all__ = ["effective", "components", "islands", "unsupplied_buses", "grid_summary"]


def effective(net: Network, state: State) -> State:
    """Apply the engine's rule 1 to a state: a failed bus takes its branches and
    generators with it, and out-of-service elements are never alive.

    Parameters
    ----------
    net : Network
    state : State

    Returns
    -------
    State
        Masks with ``branch[k]`` False where either end bus is dead and ``gen[g]`` False
        where its bus is dead.
    """
    bus = state.bus & net.bus_in_service
    branch = state.branch & net.branch_in_service & bus[net.f] & bus[net.t]
    gen = state.gen & net.gen_in_service & bus[net.gen_bus]
    return State(bus, branch, gen, state.ids)


def components(net: Network, branch_alive: np.ndarray) -> tuple[int, np.ndarray]:
    """Connected components of all buses over the alive branches.

    Dead buses (no alive branch) come out as single-bus components. Returns the count
    and a label per bus. ``O(n + m)``.
    """
    order, indices, from_sorted = net.branch_csr
    alive = branch_alive[order]
    indptr = np.zeros(net.n_bus + 1, dtype=np.int32)
    np.cumsum(np.bincount(from_sorted[alive], minlength=net.n_bus), out=indptr[1:])
    graph = sp.csr_matrix((np.ones(int(alive.sum())), indices[alive], indptr),
                          shape=(net.n_bus, net.n_bus))
    # rows hold sorted, unique-per-branch indices already: spare scipy the re-sort
    graph.has_sorted_indices = True
    return connected_components(graph, directed=False)


def islands(net: Network, state: State) -> np.ndarray:
    """Island label of every bus: connected components of alive buses over alive
    branches (rule 2), numbered 0, 1, ... in order of their lowest bus; -1 for dead
    buses.

    Parameters
    ----------
    net : Network
    state : State

    Returns
    -------
    numpy.ndarray of int, shape (n_bus,)

    Examples
    --------
    >>> from gridres.io import load_grid
    >>> net = load_grid("ieee14").network
    >>> int(islands(net, net.intact()).max()) + 1
    1

    Notes
    -----
    ``O(n + m)`` with :func:`scipy.sparse.csgraph.connected_components`.
    """
    eff = effective(net, state)
    _, labels = components(net, eff.branch)
    out = np.full(net.n_bus, -1, dtype=np.int64)
    alive = np.flatnonzero(eff.bus)
    if len(alive):
        _, first, inv = np.unique(labels[alive], return_index=True, return_inverse=True)
        rank = np.empty(len(first), dtype=np.int64)
        rank[np.argsort(first, kind="stable")] = np.arange(len(first))
        out[alive] = rank[inv]
    return out


def unsupplied_buses(net: Network, state: State) -> np.ndarray:
    """Alive buses whose island has no alive generating capacity.

    Returns
    -------
    numpy.ndarray of int
        Bus positions, ascending.
    """
    eff = effective(net, state)
    labels = islands(net, state)
    n_isl = int(labels.max()) + 1 if len(labels) else 0
    g = np.flatnonzero(eff.gen)
    cap = np.bincount(labels[net.gen_bus[g]], weights=net.gen_pmax_mw[g], minlength=n_isl)
    alive = labels >= 0
    supplied = np.zeros(net.n_bus, dtype=bool)
    supplied[alive] = cap[labels[alive]] > 0
    return np.flatnonzero(alive & ~supplied)


def grid_summary(grid: Grid) -> dict[str, Any]:
    """Counts, totals, islands of the intact grid, CRS and bounds, as plain Python values
    (what ``gridres info`` shows). ``customers`` is None where the grid has no customer
    data.

    Examples
    --------
    >>> from gridres.io import load_grid
    >>> s = grid_summary(load_grid("ieee14"))
    >>> s["buses"], s["islands"], s["total_load_mw"]
    (14, 1, 259.0)
    """
    net = grid.network
    labels = islands(net, net.intact())
    n_islands = int(labels[labels >= 0].max() + 1) if (labels >= 0).any() else 0
    buses, gens = grid.buses, grid.generators
    out: dict[str, Any] = {
        "name": grid.name,
        "source": grid.source,
        "buses": len(buses),
        "branches": len(grid.branches),
        "generators": len(gens),
        "facilities": len(grid.facilities),
        "total_load_mw": round(float(buses.loc[buses["in_service"], "load_mw"]
                                     .clip(lower=0).sum()), 6),
        "total_capacity_mw": round(float(gens.loc[gens["in_service"], "pmax_mw"]
                                         .clip(lower=0).sum()), 6),
        "customers": int(buses["customers"].sum()) if net.has_customers else None,
        "people_at_facilities": int(grid.facilities["people"].sum()),
        "islands": n_islands,
        "crs": None if grid.crs is None else crs_label(grid.crs),
        "bounds": None,
    }
    if grid.has_geometry:
        points = buses["geometry"].dropna()
        xs = [p.x for p in points]
        ys = [p.y for p in points]
        out["bounds"] = [min(xs), min(ys), max(xs), max(ys)]
    return out
