"""Who is supplied in a state: the engine's answer, for a restoration that asks many times.

Restoration asks one question many times per simulated event: with these elements
alive, and these buses energised just before, which load is served and which
facilities have grid power? :func:`supply` answers it exactly as
:func:`gridres.cascade.settle` does (the engine with the run's cascade mode and margin,
and the black-start rule of :mod:`gridres.impact` through ``live``), and returns the
three things a restoration records: served load, energised buses and facility grid
status.

The cheap path, and why it is exact
-----------------------------------
Where flows cannot change the answer, :func:`supply` skips the DC power flow and runs
the engine's rules 1-3 only (failed buses take their elements, islands, balance with
priority shedding and the black-start rule, through :func:`gridres.impact.balance`).
That is exact in two cases:

* **Mode ``none``.** Nothing trips and nothing is redispatched, so served load,
  energised buses and facility status are fixed by islands and balance; the flow only
  adds loadings and angles, which a restoration does not record.
* **No branch can overload.** In every island the DC flow is a potential flow: with
  positive susceptances and no phase shift it has no cycle, so it splits into paths
  from injecting to absorbing buses and no branch carries more than the sum of the
  positive injections of the grid, at most ``G = Σ max(pmax_mw, p_mw, 0)`` of the
  generators plus ``Σ max(-fixed demand, 0)`` of the buses. A branch whose limit
  ``rating × (1 + margin)`` is at least ``G`` can therefore never overload, and when
  every alive branch is such a branch (or unlimited), the cascade of ``trip`` and
  ``redispatch`` has nothing to act on: the engine's answer is that of balance. A grid
  with a phase shifter or a negative susceptance anywhere gets no such bound: there
  only unlimited branches count as safe.

Anything else goes through :func:`~gridres.cascade.settle`. Its results are kept, per
network and cascade option, for the last few hundred states (a restoration meets the
same state again: the outage under every policy, a single element out for every
scenario, the states a planning policy enumerates), keyed by a digest of the masks.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from gridres.cascade import CascadeOptions, settle
from gridres.flow import first_buses
from gridres.impact import FACILITY_GRID, balance, facility_on_grid
from gridres.model import Network, State
from gridres.tolerances import OVERLOAD_MW, REL_SLACK
from gridres.topology import components, effective

__all__ = ["Supply", "supply", "flows_matter", "customers_out", "shed_share"]

#: Memory for cached engine answers per network and cascade option (bytes).
CACHE_BYTES = 16 * 2**20


@dataclass(frozen=True, eq=False)
class Supply:
    """Served load, energised buses and facility grid status of one state.

    Attributes
    ----------
    served_mw : ndarray, shape (n_bus,)
        Load served at each bus, MW.
    energized : ndarray of bool, shape (n_bus,)
        Alive bus in an energised island (capacity and, under the black-start rule, a
        live bus or a black-start unit).
    fac_grid : ndarray of bool, shape (n_fac,)
        Facility whose demand the grid fully serves (``assess``'s ``"grid"`` status).
    total_mw : float
        ``served_mw.sum()``.
    """

    served_mw: np.ndarray
    energized: np.ndarray
    fac_grid: np.ndarray
    total_mw: float


def _limiting(net: Network, margin: float) -> np.ndarray:
    """Branches that could overload in some state (see the module notes), per network
    and margin."""
    store = net.__dict__.setdefault("_limiting", {})
    out = store.get(margin)
    if out is None:
        finite = np.isfinite(net.rating_mw)
        live = net.live_branch
        if (net.has_shift and (net.shift_rad[live] != 0).any()) or (net.b_pu[live] < 0).any():
            out = finite.copy()
        else:
            gens = net.gen_in_service
            bound = (np.maximum(np.maximum(net.gen_pmax_mw, net.gen_p_mw), 0.0)[gens].sum()
                     + np.maximum(-net.fixed_mw, 0.0)[net.bus_in_service].sum())
            # a reference bus may run past its capacity by REL_SLACK of its island's
            bound = bound * (1.0 + REL_SLACK) + REL_SLACK * (net.n_bus + 1)
            out = finite & (net.rating_mw * (1.0 + margin) + OVERLOAD_MW < bound)
        store[margin] = out
    return out


def flows_matter(net: Network, state: State, cascade: CascadeOptions | str | None = None
                 ) -> bool:
    """Whether flows may change who is supplied in ``state`` under ``cascade``: the mode
    trips or redispatches and some alive branch could overload (module notes). Where
    this is False, :func:`supply` takes the cheap path.

    Examples
    --------
    >>> from gridres.io import load_grid
    >>> net = load_grid("demo_region").network
    >>> flows_matter(net, net.intact(), "none"), flows_matter(net, net.intact(), "trip")
    (False, True)
    """
    opts = CascadeOptions.of(cascade)
    if not opts.flows_matter:
        return False
    eff = effective(net, state)
    return bool((_limiting(net, opts.margin) & eff.branch).any())


class _Cache:
    """Engine answers by digest of (state, live), least recently used dropped first."""

    def __init__(self, net: Network) -> None:
        per = 9 * net.n_bus + net.fac_ids.size + 200
        self.size = max(16, CACHE_BYTES // per)
        self.items: OrderedDict[bytes, Supply] = OrderedDict()

    def get(self, key: bytes) -> Supply | None:
        hit = self.items.get(key)
        if hit is not None:
            self.items.move_to_end(key)
        return hit

    def put(self, key: bytes, value: Supply) -> None:
        self.items[key] = value
        if len(self.items) > self.size:
            self.items.popitem(last=False)


def _cache(net: Network, opts: CascadeOptions) -> _Cache:
    caches = net.__dict__.setdefault("_supply_cache", {})
    c = caches.get(opts)
    if c is None:
        c = caches[opts] = _Cache(net)
    return c


def supply(net: Network, state: State, cascade: CascadeOptions | str | None = None, *,
           live: np.ndarray | None = None) -> Supply:
    """Served load, energised buses and facility grid status with the given elements
    alive, as :func:`gridres.cascade.settle` finds them.

    Parameters
    ----------
    net : Network
    state : State
        What is alive (rule 1 is applied here).
    cascade : CascadeOptions or str, optional
        Cascade mode and margin (default mode ``none``).
    live : ndarray of bool, shape (n_bus,), optional
        Buses energised just before (the black-start rule); default every bus.

    Returns
    -------
    Supply

    Examples
    --------
    >>> from gridres.io import load_grid
    >>> net = load_grid("demo_region").network
    >>> out = net.intact().fail(buses=["KAL-110"])
    >>> base = supply(net, net.intact(), "trip").total_mw
    >>> round(base - supply(net, out, "trip").total_mw, 2)
    164.85

    Notes
    -----
    Cheap path: ``O(n + m)`` plus one sort for shedding. Otherwise one
    :func:`~gridres.cascade.settle` (its cost), unless the state was seen recently.
    """
    opts = CascadeOptions.of(cascade)
    eff = effective(net, state)
    if opts.flows_matter and (_limiting(net, opts.margin) & eff.branch).any():
        key = hashlib.blake2b(
            eff.bus.tobytes() + eff.branch.tobytes() + eff.gen.tobytes()
            + (b"" if live is None else b"L" + np.asarray(live, dtype=bool).tobytes()),
            digest_size=20).digest()
        cache = _cache(net, opts)
        hit = cache.get(key)
        if hit is None:
            imp = settle(net, eff, opts, live=live)
            arrays = (imp.served_mw.copy(), imp.energized.copy(), imp.facility == FACILITY_GRID)
            for a in arrays:
                a.setflags(write=False)  # shared by every caller that meets this state
            hit = Supply(*arrays, imp.served_total_mw)
            cache.put(key, hit)
        return hit
    _, labels = components(net, eff.branch)
    # served load does not depend on the reference bus (only the dispatch does)
    bal = balance(net, labels, first_buses(labels), eff, live)
    energized = bal.energized[labels] & eff.bus
    fac_grid = facility_on_grid(net, energized, bal.crit_shed_frac)
    return Supply(bal.served_mw, energized, fac_grid, float(bal.served_mw.sum()))


def shed_share(net: Network, base: Supply, now: Supply) -> np.ndarray:
    """Share of each bus's supply lost in ``now`` since ``base``, shape (n_bus,): 1 on a
    bus that ``base`` energised and ``now`` does not, the share of its load lost on a
    bus partly shed, 0 on buses ``base`` did not energise (or out of service)."""
    load = np.maximum(net.load_mw, 0.0)
    lost = np.clip(base.served_mw - now.served_mw, 0.0, None)
    frac = np.divide(lost, load, out=np.zeros_like(load), where=load > 0)
    frac = np.where(now.energized, np.minimum(frac, 1.0), 1.0)
    return np.where(base.energized & net.bus_in_service, frac, 0.0)


def customers_out(net: Network, base: Supply, now: Supply) -> float:
    """Customers without power in ``now`` that had power in ``base``.

    A bus that ``base`` energised and ``now`` does not counts all its customers; a bus
    that is partly shed counts them in proportion to its load lost since ``base``
    (:func:`shed_share`).
    """
    return float(net.customers @ shed_share(net, base, now))
