"""The outage engine: islands, balance with load shedding, DC flow, overloads, cascades.

:func:`assess` applies the engine semantics of the design (rules 1-6) to one
:class:`~gridres.model.State` and returns an :class:`Impact`.

Balance and dispatch rule (what users read)
-------------------------------------------
In every island, the available capacity is the sum of ``pmax_mw`` of its alive
generators. An island without capacity is dark. Where demand (load plus shunt
conductance) exceeds capacity, load is shed: lowest bus ``priority`` first, load that
feeds critical facilities last, proportionally within a class, and every generator of the
island runs at ``pmax_mw``. Otherwise generators keep their scheduled ``p_mw`` and the
island's reference bus (the case's reference bus where the island holds it, else the bus
of its largest generator) takes up the imbalance, as MATPOWER's DC power flow does; where
that would push the reference bus's generators past their capacity, or a reference that
is an island's largest generator below zero, the island is re-dispatched in proportion to
available capacity instead. The case's reference bus may absorb any surplus, as MATPOWER's
slack does (in AC cases the DC slack is often negative: it carries the losses). Negative
loads and shunt conductance (``gs_mw``) are fixed injections: never shed, not counted as
load. Two consequences worth knowing: an island whose fixed demand alone exceeds its
capacity collapses (it is dark); an island without the case's reference bus whose
negative loads exceed its demand even with every generator at zero curtails those
injections in proportion. Because shunt demand is never shed, cutting a shunt-heavy bus
off can free capacity and raise the load served elsewhere.

Reference bus
-------------
An island's reference bus (its angle reference, and the bus that takes up the imbalance)
is the case's reference bus where the island holds one (the first listed where it holds
several); else the bus of its largest alive generator by ``pmax_mw``, and among
generators of equal ``pmax_mw`` the one listed first in the generator table; else the
island's lowest bus (:func:`gridres.flow.reference_buses`). The choice moves the slack
and so changes flows and what a cascade trips; it depends only on the grid's order.

Black start (what may re-energise a dark island)
------------------------------------------------
An island with capacity is energised only where something can start it: it holds a
*live* bus (one energised just before this assessment) or an alive generator with
``blackstart`` set. ``live`` is an input of :func:`assess` (default: every bus, the
grid as it ran before an outage, so an outage never darkens an island with capacity
for this reason). Restoration passes the buses energised after the previous event:
an island that went dark comes back only through a black-start unit or by being
reconnected to an energised island, not because a repaired generator without black
start sits in it. Within one cascade, a bus energised at an earlier stage counts as
live (an island split off by a trip keeps running on its own generation).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gridres.elements import as_state
from gridres.errors import UsageError
from gridres.flow import Factor, branch_flows, dc_solver, reference_buses, shift_injections
from gridres.model import CRITICAL_PRIORITY, Grid, Network, State, customer_count
from gridres.tolerances import (
    BACKUP_MW,
    OVERLOAD_MW,
    REL_BALANCE,
    REL_SLACK,
    SHED_FRACTION,
    ZERO_MW,
)
from gridres.topology import components, effective

__all__ = [
    "Impact",
    "Balance",
    "assess",
    "balance",
    "startable",
    "cascade_stages",
    "keeps_schedule",
    "shortfall",
    "backup_covers",
    "facility_on_grid",
    "facility_status",
    "FACILITY_GRID",
    "FACILITY_BACKUP",
    "FACILITY_DARK",
]

FACILITY_GRID, FACILITY_BACKUP, FACILITY_DARK = "grid", "backup", "dark"


@dataclass(frozen=True, eq=False)
class Impact:
    """Result of :func:`assess`. Per-element arrays follow the network's order.

    Attributes
    ----------
    state : State
        Effective alive masks (failed buses' branches and generators removed, cascade
        trips included).
    island : ndarray of int, shape (n_bus,)
        Island of every alive bus (0, 1, ...), -1 for dead buses.
    energized : ndarray of bool, shape (n_bus,)
        Alive bus in an energised island: one with generating capacity that is balanced
        and, under the black-start rule (``live``), can be started.
    served_mw, shed_mw : ndarray, shape (n_bus,)
        Load served and not served at each bus (a dead or dark bus sheds all its load).
    gen_mw : ndarray, shape (n_gen,)
        Dispatch of each generator.
    flow_mw : ndarray, shape (n_branch,)
        DC flow from the from-bus side; 0 on dead branches.
    theta_rad : ndarray, shape (n_bus,)
        Bus voltage angles, relative to each island's reference bus.
    loading : ndarray, shape (n_branch,)
        ``|flow_mw| / rating_mw`` (0 where unlimited).
    overloaded : ndarray of bool, shape (n_branch,)
        Alive branches with ``|flow| > rating × (1 + margin)``.
    facility : ndarray of str, shape (n_fac,)
        ``"grid"``, ``"backup"`` (own backup covers its demand) or ``"dark"``.
    fixed_mw : ndarray, shape (n_bus,)
        Fixed demand in effect at each bus (shunts and negative loads of energized buses,
        after any curtailment of surplus injections; 0 elsewhere).
    stages : list of ndarray of int
        Branch positions tripped in each cascade stage (empty without cascade).
    """

    net: Network
    state: State
    island: np.ndarray
    energized: np.ndarray
    served_mw: np.ndarray
    shed_mw: np.ndarray
    gen_mw: np.ndarray
    flow_mw: np.ndarray
    theta_rad: np.ndarray
    loading: np.ndarray
    overloaded: np.ndarray
    facility: np.ndarray
    fixed_mw: np.ndarray
    stages: list[np.ndarray] = field(default_factory=list)

    # -- scalar metrics ------------------------------------------------------------------
    @property
    def total_load_mw(self) -> float:
        """Load of in-service buses (positive loads; negative loads are injections)."""
        return float(np.maximum(self.net.load_mw, 0.0)[self.net.bus_in_service].sum())

    @property
    def served_total_mw(self) -> float:
        return float(self.served_mw.sum())

    @property
    def shed_total_mw(self) -> float:
        return float(self.shed_mw.sum())

    @property
    def n_islands(self) -> int:
        return int(self.island.max()) + 1 if (self.island >= 0).any() else 0

    @property
    def shed_fraction(self) -> np.ndarray:
        """Fraction of each bus's load not served (1 on dead or dark buses)."""
        load = self.net.load_mw
        frac = np.divide(self.shed_mw, load, out=np.zeros_like(load), where=load > 0)
        return np.where(self.energized, frac, 1.0)

    @property
    def customers_out(self) -> float:
        """Customers without power; on partly shed buses, in proportion to shed load."""
        return float((self.net.customers * self.shed_fraction)[self.net.bus_in_service].sum())

    @property
    def dark_facilities(self) -> np.ndarray:
        return np.flatnonzero(self.facility == FACILITY_DARK)

    @property
    def people_out(self) -> int:
        """People served by facilities without grid power and without backup."""
        return int(self.net.fac_people[self.facility == FACILITY_DARK].sum())

    @property
    def max_loading(self) -> float:
        return float(self.loading.max()) if len(self.loading) else 0.0

    def summary(self) -> dict[str, Any]:
        """The impact as one JSON-ready document with string ids."""
        net = self.net
        over = np.flatnonzero(self.overloaded)
        dark_bus = np.flatnonzero(net.bus_in_service & ~self.energized)
        return {
            "total_load_mw": round(self.total_load_mw, 6),
            "served_mw": round(self.served_total_mw, 6),
            "shed_mw": round(self.shed_total_mw, 6),
            "customers_out": customer_count(self.customers_out, net.has_customers),
            "people_out": self.people_out,
            "islands": self.n_islands,
            "dark_buses": net.bus_ids[dark_bus].tolist(),
            "dark_facilities": net.fac_ids[self.dark_facilities].tolist(),
            "facilities_on_backup": net.fac_ids[self.facility == FACILITY_BACKUP].tolist(),
            "failed_branches": net.branch_ids[net.live_branch & ~self.state.branch].tolist(),
            "max_loading": round(self.max_loading, 6),
            "overloaded_branches": [
                {
                    "id": net.branch_ids[k],
                    "flow_mw": round(float(self.flow_mw[k]), 6),
                    "rating_mw": float(net.rating_mw[k]),
                    "loading": round(float(self.loading[k]), 6),
                }
                for k in over
            ],
            "cascade_stages": [net.branch_ids[s].tolist() for s in self.stages],
        }


def shortfall(need: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """Load to shed per island: demand above capacity, rounding noise ignored."""
    deficit = np.clip(need - cap, 0.0, None)
    deficit[deficit < REL_BALANCE * np.maximum(need, 1.0)] = 0.0
    return deficit


def keeps_schedule(
    cap: np.ndarray,
    need: np.ndarray,
    deficit: np.ndarray,
    ref_cap: np.ndarray,
    ref_sched: np.ndarray,
    sched: np.ndarray,
    case_ref: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The reference bus's output per island, and whether the island keeps its schedule
    with the reference taking the slack (rule 4); otherwise it is re-dispatched.

    The case's reference bus stands for MATPOWER's slack: it may absorb any surplus (the
    loss allocation of AC cases shows up as a negative DC slack); a reference chosen as
    an island's largest generator stays within [0, pmax]. Nothing may be shed.

    Parameters
    ----------
    cap, need, deficit : ndarray, shape (C,)
        Capacity, demand (load plus fixed demand) and shortfall (:func:`shortfall`).
    ref_cap, ref_sched : ndarray, shape (C,)
        Capacity and schedule of the generators at each island's reference bus.
    sched : ndarray, shape (C,)
        Schedule of all the island's generators.
    case_ref : ndarray of bool, shape (C,)
        Whether the island's reference is the case's reference bus.
    """
    ref_out = ref_sched + need - deficit - sched
    tol = REL_SLACK * np.maximum(cap, 1.0)
    lower = np.where(case_ref, -np.inf, -tol)
    ok = ((cap > ZERO_MW) & (deficit == 0) & (ref_cap > ZERO_MW) & (ref_out >= lower)
          & (ref_out <= ref_cap + tol))
    return ref_out, ok


@dataclass(frozen=True, eq=False)
class Balance:
    """Result of :func:`balance`.

    Attributes
    ----------
    served_mw : ndarray, shape (n_bus,)
    gen_mw : ndarray, shape (n_gen,)
    energized : ndarray of bool, shape (C,)
        Per component: it has capacity and is balanced.
    crit_shed_frac : ndarray, shape (n_bus,)
        Fraction of each bus's critical-facility load that is shed.
    fixed_mw : ndarray, shape (n_bus,)
        Fixed demand (shunts, negative loads) in effect at each energized bus, after any
        curtailment of surplus injections.
    """

    served_mw: np.ndarray
    gen_mw: np.ndarray
    energized: np.ndarray
    crit_shed_frac: np.ndarray
    fixed_mw: np.ndarray


def balance(net: Network, labels: np.ndarray, ref: np.ndarray, eff: State,
            live: np.ndarray | None = None) -> Balance:
    """Generation/load balance per component with priority load shedding (rule 3, 4).

    Parameters
    ----------
    net : Network
    labels : ndarray of int, shape (n_bus,)
        Component of every bus, ``0 .. C-1`` (dead buses are their own components).
    ref : ndarray of int, shape (C,)
        Reference bus of every component.
    eff : State
        Effective state.
    live : ndarray of bool, shape (n_bus,), optional
        Buses energised just before (the black-start rule of the module notes): a
        component with capacity is energised only if it holds a live bus or an alive
        black-start generator. ``None``: every bus is live.

    Returns
    -------
    Balance

    Notes
    -----
    ``O(n log n)``: one sort of the load segments; no loop over islands.
    """
    n_comp = len(ref)
    bus_alive = eff.bus
    load = np.where(bus_alive, np.maximum(net.load_mw, 0.0), 0.0)
    fixed = np.where(bus_alive, net.fixed_mw, 0.0)
    g = np.flatnonzero(eff.gen)
    gcomp = labels[net.gen_bus[g]]
    pmax = net.gen_pmax_mw[g]
    cap = np.bincount(gcomp, weights=pmax, minlength=n_comp)
    demand = np.bincount(labels, weights=load, minlength=n_comp)
    need = demand + np.bincount(labels, weights=fixed, minlength=n_comp)
    fixed_need = need - demand
    # an island whose fixed demand (shunts, negative loads) alone exceeds its capacity
    # cannot be balanced by shedding: it collapses and is dark
    energized = (cap > ZERO_MW) & (fixed_need <= cap + REL_BALANCE * np.maximum(cap, 1.0))
    if live is not None:
        energized &= startable(net, labels, eff, live, n_comp)
    deficit = np.where(energized, shortfall(need, cap), 0.0)

    # -- load shedding by class: segments (bus, class, mw), non-critical and critical
    crit = np.minimum(net.critical_mw, load)
    seg_bus = np.concatenate([np.arange(net.n_bus), np.arange(net.n_bus)])
    seg_cls = np.concatenate([net.priority, np.full(net.n_bus, CRITICAL_PRIORITY)])
    seg_mw = np.concatenate([load - crit, crit])
    shed_seg = np.zeros_like(seg_mw)
    short = deficit > 0
    sel = np.flatnonzero(short[labels[seg_bus]] & (seg_mw > 0)) if short.any() else seg_bus[:0]
    if len(sel):
        comp = labels[seg_bus[sel]]
        order = np.lexsort((seg_cls[sel], comp))
        sel, comp = sel[order], comp[order]
        cls = seg_cls[sel]
        # groups of equal (comp, class) in sorted order
        new = np.r_[True, (comp[1:] != comp[:-1]) | (cls[1:] != cls[:-1])]
        gid = np.cumsum(new) - 1
        gtot = np.bincount(gid, weights=seg_mw[sel])
        gcomp_of = comp[new]
        csum = np.cumsum(gtot)
        comp_start = np.r_[True, gcomp_of[1:] != gcomp_of[:-1]]
        base = np.maximum.accumulate(np.where(comp_start, csum - gtot, 0.0))
        before = csum - gtot - base  # load of lower classes in the same component
        gshed = np.clip(deficit[gcomp_of] - before, 0.0, gtot)
        frac = np.divide(gshed, gtot, out=np.zeros_like(gtot), where=gtot > 0)
        shed_seg[sel] = seg_mw[sel] * frac[gid]
    n = net.n_bus
    shed_bus = shed_seg[:n] + shed_seg[n:]
    energized_bus = energized[labels] & bus_alive
    served = np.where(energized_bus, load - shed_bus, 0.0)
    crit_frac = np.divide(shed_seg[n:], crit, out=np.zeros(n), where=crit > 0)

    # -- dispatch
    gen_mw = np.zeros(net.n_gen)
    sched = net.gen_p_mw[g]
    total_sched = np.bincount(gcomp, weights=sched, minlength=n_comp)
    at_ref = net.gen_bus[g] == ref[gcomp]
    ref_cap = np.bincount(gcomp, weights=np.where(at_ref, pmax, 0.0), minlength=n_comp)
    ref_sched = np.bincount(gcomp, weights=np.where(at_ref, sched, 0.0), minlength=n_comp)
    served_need = need - deficit
    ref_out, slack_ok = keeps_schedule(cap, need, deficit, ref_cap, ref_sched, total_sched,
                                       net.is_ref[ref])
    ok = slack_ok[gcomp]
    # the reference bus's total output is shared by its generators in proportion to pmax,
    # so each stays within [0, pmax] whenever the total is within [0, capacity]
    share = np.divide(pmax, ref_cap[gcomp], out=np.zeros_like(pmax), where=ref_cap[gcomp] > 0)
    scheduled = np.where(at_ref, ref_out[gcomp] * share, sched)
    scale = np.divide(served_need, cap, out=np.zeros(n_comp), where=cap > 0)
    proportional = pmax * np.clip(scale[gcomp], 0.0, 1.0)
    gen_mw[g] = np.where(energized[gcomp], np.where(ok, scheduled, proportional), 0.0)

    # -- an island whose fixed injections (negative loads) exceed its demand even with its
    # generators at zero curtails those injections in proportion (embedded generation
    # backs off); the case's reference bus instead absorbs the surplus (handled above)
    neg = np.minimum(fixed, 0.0)
    surplus = np.where(energized & ~slack_ok, np.clip(-served_need, 0.0, None), 0.0)
    neg_c = -np.bincount(labels, weights=neg, minlength=n_comp)
    keep = np.clip(1.0 - np.divide(surplus, neg_c, out=np.zeros(n_comp), where=neg_c > 0),
                   0.0, 1.0)
    fixed_eff = np.where(energized_bus, np.maximum(fixed, 0.0) + neg * keep[labels], 0.0)
    return Balance(served, gen_mw, energized, crit_frac, fixed_eff)


def startable(net: Network, labels: np.ndarray, eff: State, live: np.ndarray,
              n_comp: int) -> np.ndarray:
    """Components that can be energised under the black-start rule (module notes): they
    hold a live alive bus or an alive black-start generator with capacity.

    Parameters
    ----------
    net : Network
    labels : ndarray of int, shape (n_bus,)
        Component of every bus, ``0 .. n_comp-1``.
    eff : State
        Effective state.
    live : ndarray of bool, shape (n_bus,)
        Buses energised just before.
    n_comp : int

    Returns
    -------
    ndarray of bool, shape (n_comp,)
    """
    lit = np.zeros(n_comp, dtype=bool)
    lit[labels[np.asarray(live, dtype=bool) & eff.bus]] = True
    bs = eff.gen & net.gen_blackstart & (net.gen_pmax_mw > ZERO_MW)
    lit[labels[net.gen_bus[bs]]] = True
    return lit


def backup_covers(net: Network) -> np.ndarray:
    """Facilities whose own backup carries them without grid power: ``backup_mw`` covers
    ``demand_mw`` and ``backup_hours > 0``. Shape (n_fac,)."""
    return (net.fac_backup_mw >= net.fac_demand_mw - BACKUP_MW) & (net.fac_backup_hours > 0)


def facility_on_grid(net: Network, energized: np.ndarray, crit_shed_frac: np.ndarray,
                     tol: float = SHED_FRACTION) -> np.ndarray:
    """Facilities the grid serves in full: their bus is energized and none of the load
    that feeds critical facilities there is shed (up to ``tol``).

    Parameters
    ----------
    net : Network
    energized : ndarray of bool, shape (n_bus,)
    crit_shed_frac : ndarray, shape (n_bus,)
        Shed fraction of each bus's critical-facility load (:class:`Balance`).
    tol : float
        Shed fraction that still counts as none.
    """
    return energized[net.fac_bus] & (crit_shed_frac[net.fac_bus] <= tol)


def facility_status(net: Network, energized: np.ndarray, crit_shed_frac: np.ndarray,
                    tol: float = SHED_FRACTION) -> np.ndarray:
    """Status of every facility: ``"grid"`` where the grid serves it
    (:func:`facility_on_grid`), else ``"backup"`` where its backup covers it
    (:func:`backup_covers`), else ``"dark"``. Object array, shape (n_fac,)."""
    on_grid = facility_on_grid(net, energized, crit_shed_frac, tol)
    status = np.where(on_grid, FACILITY_GRID,
                      np.where(backup_covers(net), FACILITY_BACKUP, FACILITY_DARK))
    return status.astype(object)


def _grounds(net: Network, labels: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """One ground per component, keeping the intact solver's grounds where possible so
    that the low-rank update stays small."""
    base = dc_solver(net).base_ground
    ground = np.zeros(net.n_bus, dtype=bool)
    bg = np.flatnonzero(base)
    has = np.zeros(len(ref), dtype=bool)
    if len(bg):
        _, first = np.unique(labels[bg], return_index=True)
        keep = bg[first]
        ground[keep] = True
        has[labels[keep]] = True
    ground[ref[~has]] = True
    return ground


@dataclass(frozen=True, eq=False)
class _Solution:
    """One balance and DC flow of an effective state (see :func:`_solve`)."""

    labels: np.ndarray  # component of every bus
    energized: np.ndarray  # per bus
    served_mw: np.ndarray
    gen_mw: np.ndarray
    flow_mw: np.ndarray
    theta_rad: np.ndarray
    loading: np.ndarray
    overloaded: np.ndarray
    crit_shed_frac: np.ndarray
    fixed_mw: np.ndarray
    factor: Factor  # the factorisation used, for the next stage of a cascade


def _solve(net: Network, eff: State, margin: float, factor: Factor | None = None,
           live: np.ndarray | None = None) -> _Solution:
    _, labels = components(net, eff.branch)
    ref = reference_buses(net, labels, eff)
    bal = balance(net, labels, ref, eff, live)
    energized = bal.energized[labels] & eff.bus
    inj = np.bincount(net.gen_bus, weights=bal.gen_mw, minlength=net.n_bus) - bal.served_mw
    inj = inj - bal.fixed_mw
    # dark islands carry no flow: their shift injections are dropped too
    branch_live = eff.branch & energized[net.f]
    pfinj, pbusinj = shift_injections(net, branch_live)
    rhs = inj / net.base_mva - pbusinj
    theta, factor = dc_solver(net).solve(rhs, eff.branch, _grounds(net, labels, ref), factor)
    # angles relative to each component's reference bus
    theta = theta - theta[ref][labels]
    flow = branch_flows(net, theta, branch_live, pfinj)
    with np.errstate(divide="ignore", invalid="ignore"):
        loading = np.where(np.isfinite(net.rating_mw), np.abs(flow) / net.rating_mw, 0.0)
    overloaded = branch_live & (np.abs(flow) > net.rating_mw * (1.0 + margin) + OVERLOAD_MW)
    return _Solution(labels, energized, bal.served_mw, bal.gen_mw, flow, theta, loading,
                     overloaded, bal.crit_shed_frac, bal.fixed_mw, factor)


def _trip_loop(net: Network, eff: State, margin: float, max_stages: int,
               live: np.ndarray | None = None
               ) -> Iterator[tuple[State, _Solution, tuple[np.ndarray, ...]]]:
    """The cascade of rule 5, the one loop behind :func:`assess` and
    :func:`gridres.cascade.cascade`: yields the effective state, its solution and the
    branches tripped so far (one array per stage), first for the outage and then after
    every stage, until nothing is overloaded or ``max_stages`` stages have tripped. Each
    stage starts from the previous stage's factorisation; buses energised at a stage
    count as live at the next (the black-start rule)."""
    stages: list[np.ndarray] = []
    factor = None
    while True:
        sol = _solve(net, eff, margin, factor, live)
        factor = sol.factor
        if live is not None:
            live = live | sol.energized
        yield eff, sol, tuple(stages)
        if not sol.overloaded.any() or len(stages) >= max_stages:
            return
        tripped = np.flatnonzero(sol.overloaded)
        stages.append(tripped)
        branch = eff.branch.copy()
        branch[tripped] = False
        eff = State(eff.bus, branch, eff.gen, eff.ids)


def _impact(net: Network, eff: State, sol: _Solution, stages: tuple[np.ndarray, ...]
            ) -> Impact:
    labels = sol.labels
    # islands: components of alive buses, numbered in order of their lowest bus (the
    # components' own order: dead buses are single-bus components and drop out)
    comp_alive = np.zeros(int(labels.max()) + 1 if len(labels) else 0, dtype=bool)
    comp_alive[labels[eff.bus]] = True
    island = np.where(eff.bus, (np.cumsum(comp_alive) - 1)[labels], -1).astype(np.int64)
    load = np.where(net.bus_in_service, np.maximum(net.load_mw, 0.0), 0.0)
    return Impact(
        net=net,
        state=eff,
        island=island,
        energized=sol.energized,
        served_mw=sol.served_mw,
        shed_mw=load - sol.served_mw,
        gen_mw=sol.gen_mw,
        flow_mw=sol.flow_mw,
        theta_rad=sol.theta_rad,
        loading=sol.loading,
        overloaded=sol.overloaded,
        facility=facility_status(net, sol.energized, sol.crit_shed_frac),
        fixed_mw=sol.fixed_mw,
        stages=list(stages),
    )


def _check_margin(margin: float, who: str) -> None:
    if margin < 0:
        raise UsageError(f"The 'margin' parameter of {who} must be >= 0. Got {margin} instead.")


def cascade_stages(
    net: Network | Grid,
    state: State | str | Iterable[str] | None = None,
    margin: float = 0.0,
    max_stages: int = 1000,
    *,
    live: np.ndarray | None = None,
) -> Iterator[Impact]:
    """The stages of a cascade of overload trips (rule 5), one :class:`Impact` each.

    The first is the outage itself; each next one follows the trip of every branch the
    previous one overloads, until no branch is overloaded or ``max_stages`` stages have
    tripped. An impact's ``stages`` lists the branches tripped so far, per stage.
    :func:`assess` with ``cascade=True`` returns the last; stop early to act between
    stages (as :func:`gridres.cascade.cascade` does). ``live`` as for :func:`assess`.

    Examples
    --------
    >>> from gridres.io import load_grid
    >>> net = load_grid("ieee14").network
    >>> [len(imp.stages) for imp in cascade_stages(net, net.intact().fail(branches=[0]))]
    [0]
    """
    _check_margin(margin, "cascade_stages")
    state = as_state(net, state)
    net = net.network if isinstance(net, Grid) else net
    eff = effective(net, state)
    for eff_k, sol, stages in _trip_loop(net, eff, margin, max_stages, _live(net, live)):
        yield _impact(net, eff_k, sol, stages)


def _live(net: Network, live: np.ndarray | None) -> np.ndarray | None:
    if live is None:
        return None
    live = np.asarray(live, dtype=bool)
    if live.shape != (net.n_bus,):
        raise UsageError(f"The 'live' parameter must be a bool mask over the {net.n_bus} "
                         f"buses. Got shape {live.shape} instead.")
    return live


def assess(
    net: Network | Grid,
    state: State | str | Iterable[str] | None = None,
    *,
    cascade: bool = False,
    margin: float = 0.0,
    max_stages: int = 1000,
    live: np.ndarray | None = None,
) -> Impact:
    """Assess one outage state: islands, balance, DC flows, overloads, and optionally the
    cascade of overload trips.

    Parameters
    ----------
    net : Network or Grid
    state : State, str or iterable of str, optional
        What is alive (default the intact grid), or the elements that fail as tokens
        (``"branch:ID"``, ``"bus:ID"``, ``"gen:ID"``; ``"substation:NAME"`` with a Grid).
    cascade : bool
        Trip every branch with ``|flow| > rating × (1 + margin)`` and re-assess until no
        overload remains (rule 5); each stage's trips are recorded.
    margin : float
        Overload margin, ``>= 0``.
    max_stages : int
        Safety bound on cascade stages.
    live : ndarray of bool, shape (n_bus,), optional
        Buses energised just before (the black-start rule of the module notes): an
        island with capacity is energised only if it holds a live bus or an alive
        black-start generator. Default: every bus is live, as before an outage.

    Returns
    -------
    Impact

    Examples
    --------
    >>> from gridres.io import load_grid
    >>> net = load_grid("ieee14").network
    >>> imp = assess(net, net.intact().fail(branches=[0]))
    >>> imp.n_islands
    1

    Notes
    -----
    Reuses the intact grid's factorisation through a low-rank (Woodbury) update: one
    triangular solve with ``r + 1`` right-hand sides for ``r`` changed branches and
    islands. ``O(n log n)`` otherwise.
    """
    _check_margin(margin, "assess")
    state = as_state(net, state)
    net = net.network if isinstance(net, Grid) else net
    eff = effective(net, state)
    live = _live(net, live)
    if not cascade:
        return _impact(net, eff, _solve(net, eff, margin, None, live), ())
    *_, last = _trip_loop(net, eff, margin, max_stages, live)
    return _impact(net, *last)
