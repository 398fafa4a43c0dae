"""Which repairs bring a facility back: the shortest set of repairs that re-energises it.

In a damaged grid, a critical facility without grid power usually needs several
repairs before it is supplied again (a failed bus and the line to it, two lines in
series, a line or a generator for an island without capacity), and with meshed damage
no single failed element is the one it depends on. :func:`repair_sets` answers, for
every facility, with the cheapest set of repairs, in hours of repair work, after
which its bus is connected to generation again; the ``critical-first`` policy sends
crews to the repairs in the sets of the most critical facilities.

Rule
----
The grid is contracted to its islands (rule 2 of the engine, with failed buses as
single-bus islands). An island is a *source* when the engine's balance energises it
(with the black-start rule of :mod:`gridres.impact`: from the buses energised now).
The contracted graph has

* an edge between two islands for every in-service branch that joins them: a failed
  branch costs its repair hours, an alive one (at a failed bus) costs nothing;
* a cost on every failed bus (its repair hours), paid on entering it;
* an edge from a virtual source to every source island (cost 0), to the island of every
  failed generator with capacity (its repair hours), and to a failed bus carrying an
  alive generator with capacity (the bus's hours); under the black-start rule only
  black-start generators start an island, so the last two edges are those of
  black-start units (or of an island that holds a live bus).

One Dijkstra pass from the virtual source gives, for every island, the cheapest path;
the failed elements on the path to a facility's bus are its *repair set*, and their
hours add up to the set's ``hours``. Every set of repairs that re-energises a bus
contains a path from generation to it, so the path is a cheapest set (in total repair
hours: the crew-hours of the work, not the elapsed time with several crews). The
criterion is topological, as the engine's islands are: an island counts as re-energised
once joined to generation; where its capacity then falls short, the engine's shedding
serves critical facilities last, and a facility that is cut off by a shortage of
capacity alone (its bus energised, its demand shed) has an empty set. Flows are not
considered: under a cascade mode a set reconnects the facility's bus, and an overload
may still trip it (the set is the policy's guide, the simulation assesses with flows).

Cost: one connected-components pass and one balance (``O(n + m)``) plus a Dijkstra over
the islands and the branches between them (``O(k log k)`` for ``k`` failed elements).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from gridres.impact import balance, facility_on_grid, startable
from gridres.model import Network, State
from gridres.tolerances import ZERO_MW
from gridres.topology import components, effective

__all__ = ["RepairSets", "repair_sets"]

logger = logging.getLogger(__name__)

_BUS, _BRANCH, _GEN = 0, 1, 2
# added to every edge so that scipy keeps zero-cost edges (and ties go to fewer hops)
_HOP = 1e-9


@dataclass(frozen=True, eq=False)
class RepairSets:
    """Cheapest repair sets of some facilities.

    Attributes
    ----------
    facilities : ndarray of int
        Facility positions (in ``net.fac_ids``) the sets are for.
    supplied : ndarray of bool
        Facility whose demand the grid serves in full in the given state (``assess``'s
        ``"grid"`` status); its set is empty.
    hours : ndarray of float
        Total repair hours of each facility's set: 0 when supplied or when no repair
        is needed to connect it to generation, ``inf`` when no set of the given repairs
        reconnects it (its bus is out of service, or cut off by elements that cannot
        be repaired).
    members : tuple of tuple of (int, int)
        Per facility, the failed elements of its set as ``(type, position)`` with type
        0 bus, 1 branch, 2 generator, in order from the generation to the facility.
    """

    facilities: np.ndarray
    supplied: np.ndarray
    hours: np.ndarray
    members: tuple[tuple[tuple[int, int], ...], ...]


def repair_sets(
    net: Network,
    alive: State,
    hours: tuple[np.ndarray, np.ndarray, np.ndarray],
    facilities: Sequence[int] | np.ndarray | None = None,
    *,
    live: np.ndarray | None = None,
) -> RepairSets:
    """The cheapest set of repairs that reconnects each facility to generation.

    Parameters
    ----------
    net : Network
    alive : State
        What is alive in the damaged state.
    hours : tuple of ndarray of float
        Repair hours of every bus, branch and generator (shapes as the masks); read where
        the element is failed; ``inf`` marks a failed element that cannot be repaired.
    facilities : sequence of int, optional
        Facility positions to answer for (default all).
    live : ndarray of bool, shape (n_bus,), optional
        Buses energised now (the black-start rule); default every bus, so that any
        island with capacity is a source.

    Returns
    -------
    RepairSets

    Examples
    --------
    >>> import pandas as pd
    >>> from gridres.model import Grid
    >>> g = Grid(
    ...     buses=pd.DataFrame({"id": ["s", "a", "h"], "ref": [True, False, False],
    ...                         "load_mw": [0.0, 5.0, 1.0]}),
    ...     branches=pd.DataFrame({"id": ["l1", "l2", "l3"], "from_bus": ["s", "a", "s"],
    ...                            "to_bus": ["a", "h", "h"], "x_pu": [0.1] * 3}),
    ...     generators=pd.DataFrame({"id": ["g"], "bus": ["s"], "pmax_mw": [50.0]}),
    ...     facilities=pd.DataFrame({"id": ["H"], "bus": ["h"], "kind": ["hospital"],
    ...                              "demand_mw": [1.0]}))
    >>> net = g.network
    >>> st = net.intact().fail(branches=[0, 1, 2])     # h is fed two ways, both cut
    >>> rs = repair_sets(net, st, (np.zeros(3), np.array([4.0, 4.0, 10.0]), np.zeros(1)))
    >>> float(rs.hours[0]), [net.branch_ids[p] for _, p in rs.members[0]]
    (8.0, ['l1', 'l2'])

    Notes
    -----
    See the module notes for the rule. ``O(n + m)`` for the islands, then
    ``O(k log k)`` for ``k`` failed elements.
    """
    branch, gen = alive.branch, alive.gen
    bus_h, branch_h, gen_h = (np.asarray(h, dtype=float) for h in hours)
    fac = (np.arange(len(net.fac_ids)) if facilities is None
           else np.asarray(facilities, dtype=np.int64).reshape(-1))
    eff = effective(net, alive)
    n, labels = components(net, eff.branch)
    _, ref = np.unique(labels, return_index=True)
    bal = balance(net, labels, ref.astype(np.int64), eff, live)
    energized = bal.energized  # per island
    fbus = net.fac_bus[fac]
    supplied = facility_on_grid(net, energized[labels] & eff.bus, bal.crit_shed_frac)[fac]
    out_hours = np.zeros(len(fac))
    members: list[tuple[tuple[int, int], ...]] = [()] * len(fac)
    todo = np.flatnonzero(~supplied)
    if not len(todo):
        return RepairSets(fac, supplied, out_hours, tuple(members))

    # failed buses: their own single-bus islands, entered at the cost of their repair
    dead = np.flatnonzero(net.bus_in_service & ~eff.bus)
    node_cost = np.zeros(n)
    node_bus = np.full(n, -1, dtype=np.int64)
    node_cost[labels[dead]] = bus_h[dead]
    node_bus[labels[dead]] = dead

    src, dst, cost, etype, epos = [], [], [], [], []

    def add(s, d, c, t, p):
        keep = np.isfinite(c)
        src.append(np.asarray(s, dtype=np.int64)[keep])
        dst.append(np.asarray(d, dtype=np.int64)[keep])
        cost.append(np.asarray(c, dtype=float)[keep])
        etype.append(np.broadcast_to(np.asarray(t, dtype=np.int64), keep.shape)[keep])
        epos.append(np.broadcast_to(np.asarray(p, dtype=np.int64), keep.shape)[keep])

    # branches between islands: failed ones cost their repair, alive ones (at a failed
    # bus) nothing
    c = np.flatnonzero(net.branch_in_service & ~eff.branch & net.bus_in_service[net.f]
                       & net.bus_in_service[net.t])
    u, v = labels[net.f[c]], labels[net.t[c]]
    c, u, v = c[u != v], u[u != v], v[u != v]
    needs = ~branch[c]
    bc = np.where(needs, branch_h[c], 0.0)
    bt = np.where(needs, _BRANCH, -1)
    add(u, v, bc + node_cost[v], bt, c)
    add(v, u, bc + node_cost[u], bt, c)
    # the virtual source: energised islands, failed generators, failed buses with an
    # alive generator
    s = n
    e = np.flatnonzero(energized)
    add(np.full(len(e), s), e, np.zeros(len(e)), -1, -1)
    able = net.gen_in_service & (net.gen_pmax_mw > ZERO_MW) & net.bus_in_service[net.gen_bus]
    if live is not None:
        # a unit starts its island if it can black-start, or if the island holds a
        # live bus (a failed bus is never live once failed)
        able &= net.gen_blackstart | startable(net, labels, eff, live & eff.bus, n)[
            labels[net.gen_bus]]
    g = np.flatnonzero(able & ~gen)
    lg = labels[net.gen_bus[g]]
    add(np.full(len(g), s), lg, gen_h[g] + node_cost[lg], _GEN, g)
    g = np.flatnonzero(able & gen & ~eff.bus[net.gen_bus])
    lg = labels[net.gen_bus[g]]
    add(np.full(len(g), s), lg, node_cost[lg], -1, -1)

    src_a, dst_a, cost_a = np.concatenate(src), np.concatenate(dst), np.concatenate(cost)
    et_a, ep_a = np.concatenate(etype), np.concatenate(epos)
    # the cheapest of parallel edges (ties: the first listed)
    order = np.lexsort((cost_a, dst_a, src_a))
    first = np.r_[True, (src_a[order][1:] != src_a[order][:-1])
                  | (dst_a[order][1:] != dst_a[order][:-1])]
    k = order[first]
    graph = sp.csr_matrix((cost_a[k] + _HOP, (src_a[k], dst_a[k])), shape=(n + 1, n + 1))
    _, pred = dijkstra(graph, directed=True, indices=s, return_predecessors=True)
    edge = {(int(a), int(b)): (int(t), int(p))
            for a, b, t, p in zip(src_a[k], dst_a[k], et_a[k], ep_a[k], strict=True)
            if t >= 0}
    hours_of = (bus_h, branch_h, gen_h)

    paths: dict[int, tuple[tuple[tuple[int, int], ...], float]] = {}
    for i in todo:
        b = int(fbus[i])
        if not net.bus_in_service[b]:
            out_hours[i] = np.inf
            continue
        node = int(labels[b])
        if node not in paths:
            if node != s and pred[node] < 0:
                paths[node] = ((), np.inf)
            else:
                walk: list[tuple[int, int]] = []
                x = node
                while x != s:
                    if node_bus[x] >= 0:
                        walk.append((_BUS, int(node_bus[x])))
                    y = int(pred[x])
                    if (y, x) in edge:
                        walk.append(edge[(y, x)])
                    x = y
                walk.reverse()
                paths[node] = (tuple(walk), float(sum(hours_of[t][p] for t, p in walk)))
        members[i], out_hours[i] = paths[node]
    return RepairSets(fac, supplied, out_hours, tuple(members))
