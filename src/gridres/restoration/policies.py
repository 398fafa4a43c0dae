"""Restoration policies: which job a free crew takes next.

A policy is any callable ``policy(decision) -> int | None`` that returns the position, in
``decision.candidates``, of the job to send the crew to (``None`` leaves the crew idle
until the next event). The :class:`~gridres.restoration.interface.Decision` carries the
candidates and, per candidate, travel, spare-wait and expected repair hours, plus lazily
computed MW gains and dependencies (and, through ``decision.context``, what else a
policy may ask the simulation), so a new policy is a few lines::

    def shortest_first(d):
        return int(np.argmin(d.repair_h))

Built-in policies (:data:`POLICIES`); ties always go to the job listed first:

``as-listed``
    Jobs in the order the scenario lists them (wave, then buses, branches, generators
    in grid order; ``gridres restore --fail`` keeps the order given).
``largest-load-first``
    Largest :attr:`~Decision.dependent_mw` first: the MW lost if the element alone
    were out (on a radial feeder, the load downstream of it).
``critical-first``
    Repairs that bring critical facilities back first, judged on the current damage. A
    facility that had grid power before the event and lacks it now (on backup, on a
    mobile generator or dark) needs the cheapest set of repairs that reconnects its bus
    to generation: fewest repair hours (spare waits included) over the current islands,
    a job under way costing the hours it has left, so that the next crew takes the next
    repair of the same set, or a quicker way round a long repair under way.
    A job ranks with the most critical facility whose set holds it, by the facility's
    real service impact: first the most people who lose a service if it stays without
    power (its own service and every service that depends on it,
    :func:`gridres.services.service_impact`), then the fewest hours before they do
    (fuel left in its tank, ``inf`` on a mobile generator, plus its service's storage:
    reservoir, batteries, the buildings' heat), then the facility kind's rank
    (``facility_priority``), then the smallest set. Jobs of equal rank, and jobs in no
    facility's set, go by ``greedy``'s order. So with meshed damage, where no single
    failed element cuts a facility off, its repairs still come first (rule:
    gridres.restoration.critical).
``greedy``
    Most MW reconnected per crew-hour: what the repair would actually reconnect on top
    of the current state (jobs under way counted as done), divided by travel + wait +
    repair hours. When no single repair reconnects anything (damage in series), the
    dependent MW per crew-hour; when nothing depends on any, the shortest job.
``nearest``
    Shortest travel plus spare wait first (then the largest dependent load).
``priority-list``
    A planner's list of element tokens (:class:`PriorityList`); unlisted jobs follow in
    listing order.
``optimal``
    A plan from a MILP that minimises energy not served (:mod:`.optimal`); small cases
    only.

A name may end in ``/RULE``, the rule that sends mobile generators to dark facilities
(``critical-first``, ``people-per-mw``, ``nearest``; :mod:`.fleets`), so that
``greedy/nearest`` and ``greedy/critical-first`` compare dispatch rules like policies;
without it the settings' ``mobile_dispatch`` applies.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gridres.cascade import CascadeOptions
from gridres.elements import element_token, parse_tokens
from gridres.errors import GridError, InputNotFound, UsageError
from gridres.impact import balance
from gridres.model import Network, State
from gridres.restoration.fleets import split_policy
from gridres.restoration.interface import Decision, Policy
from gridres.restoration.optimal import OptimalPolicy
from gridres.restoration.supply import flows_matter, supply
from gridres.tolerances import ZERO_MW
from gridres.topology import components, effective

__all__ = [
    "POLICIES",
    "needs_priority",
    "as_listed",
    "largest_load_first",
    "critical_first",
    "greedy",
    "nearest",
    "PriorityList",
    "read_priority_file",
    "get_policy",
    "policy_names",
    "Gains",
    "WithDispatch",
]

logger = logging.getLogger(__name__)


def _first(keys: Sequence[np.ndarray], d: Decision) -> int:
    """Position of the smallest key (``np.lexsort`` order: last key primary), ties
    to the earliest-listed job."""
    return int(np.lexsort((d.candidates, *keys))[0])


def as_listed(d: Decision) -> int:
    """The job listed first."""
    return int(np.argmin(d.candidates))


def largest_load_first(d: Decision) -> int:
    """The job with the largest dependent load."""
    return _first([-d.dependent_mw], d)


def critical_first(d: Decision) -> int:
    """Repairs that bring back the most critical facility first (see the module notes).

    Each candidate takes the key of the most critical facility whose cheapest repair set
    (:func:`~gridres.restoration.critical.repair_sets`, on the current state with jobs
    under way costing their expected remaining hours) holds it: most people losing a
    service, then fewest hours of fuel and storage left, then the facility kind's rank,
    then the set's total hours; ties and candidates in no set in ``greedy``'s order,
    then listing order.
    """
    fr = d.facility_rank
    return _first([_greedy_key(d), fr[:, 3], fr[:, 2], fr[:, 1], fr[:, 0]], d)


def _greedy_key(d: Decision) -> np.ndarray:
    """``greedy``'s order as one key (lower first): minus the MW reconnected per
    crew-hour; where no candidate reconnects anything, minus the dependent MW per
    crew-hour; where nothing depends on any, the crew-hours."""
    hours = np.maximum(d.crew_hours, 1e-6)
    gain = d.gain_mw
    if gain.max(initial=0.0) > ZERO_MW:
        return -(gain / hours)
    dep = d.dependent_mw
    if dep.max(initial=0.0) > ZERO_MW:
        return -(dep / hours)
    return hours


def greedy(d: Decision) -> int:
    """Most MW reconnected per crew-hour (see the module notes)."""
    return _first([_greedy_key(d)], d)


def nearest(d: Decision) -> int:
    """Shortest travel plus spare wait, then the largest dependent load."""
    return _first([-d.dependent_mw, d.travel_h + d.wait_h], d)


@dataclass(frozen=True)
class PriorityList:
    """A planner's order of repairs.

    Parameters
    ----------
    elements : sequence of str
        Element tokens ``bus:ID``, ``branch:ID``, ``gen:ID`` in the order to repair;
        jobs for elements not listed come after, in listing order.
    name : str
        Policy name in results (default ``priority-list``).

    Examples
    --------
    >>> PriorityList(["branch:L2", "generator:G1"]).elements
    ('branch:L2', 'gen:G1')
    """

    elements: tuple[str, ...]
    name: str = "priority-list"

    def __post_init__(self) -> None:
        object.__setattr__(self, "elements", tuple(element_token(e) for e in self.elements))

    def __call__(self, d: Decision) -> int:
        rank = {e: i for i, e in enumerate(self.elements)}
        big = len(rank)
        keys = np.array([rank.get(e, big) for e in d.elements], dtype=float)
        return _first([keys], d)

    def check(self, grid) -> None:
        """Raise :class:`~gridres.model.UnknownIdError` for a token naming no element of
        ``grid``."""
        parse_tokens(self.elements, grid)


def read_priority_file(path: str | Path) -> PriorityList:
    """Read a priority list: one element token ``KIND:ID`` per line (``#`` starts a
    comment), or a CSV file with columns ``kind`` and ``id``.

    Raises
    ------
    InputNotFound
        If the file does not exist.
    UsageError
        If a line is not an element token (the message names the file and line), or the
        file names no element.
    GridError
        If the file is not text (exit 65).
    """
    path = Path(path)
    if not path.is_file():
        raise InputNotFound(f"{path}: no such priority file")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise GridError(f"{path}: not a text file; a priority file lists one KIND:ID per "
                        "line") from None
    tokens: list[str] = []
    header = lines[0].strip().lower().replace(" ", "") if lines else ""
    csv_mode = header.startswith("kind,id")
    for n, raw in enumerate(lines[1:] if csv_mode else lines, start=2 if csv_mode else 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if csv_mode:
            kind, _, ident = line.partition(",")
            line = f"{kind.strip()}:{ident.split(',')[0].strip()}"
        try:
            tokens.append(element_token(line))
        except UsageError:
            raise UsageError(f"{path}: line {n}: {raw.strip()!r} is not an element; write "
                             "KIND:ID with KIND one of bus, branch, gen (e.g. branch:L12)"
                             ) from None
    if not tokens:
        raise UsageError(f"{path}: names no element; list the repair order, one KIND:ID per "
                         "line (e.g. branch:L12)")
    return PriorityList(tuple(tokens), name=f"priority-list:{path.name}")


#: Built-in policies by name.
POLICIES: dict[str, Policy] = {
    "as-listed": as_listed,
    "largest-load-first": largest_load_first,
    "critical-first": critical_first,
    "greedy": greedy,
    "nearest": nearest,
    "optimal": OptimalPolicy(fallback=greedy),
}


def policy_names() -> list[str]:
    """Names accepted by :func:`get_policy` (and ``gridres restore --policy``)."""
    return [*POLICIES, "priority-list"]


@dataclass(frozen=True)
class WithDispatch:
    """A crew policy with its own rule for mobile generators (a name ``CREW/RULE``).

    Examples
    --------
    >>> p = get_policy("greedy/nearest")
    >>> p.name, p.mobile_dispatch, p.policy is greedy
    ('greedy/nearest', 'nearest', True)
    """

    policy: Policy
    mobile_dispatch: str
    name: str

    def __call__(self, d: Decision) -> int | None:
        return self.policy(d)


def needs_priority(policies: Iterable[str]) -> bool:
    """Whether any of ``policies`` follows the planner's list (``priority-list``, with or
    without a mobile dispatch rule).

    Examples
    --------
    >>> needs_priority(["greedy", "priority-list/nearest"]), needs_priority(["greedy"])
    (True, False)
    """
    return any(str(p).partition("/")[0] == "priority-list" for p in policies)


def get_policy(name: str, priority: Iterable[str] | None = None) -> Policy:
    """The policy called ``name`` (``CREW`` or ``CREW/RULE``, see the module notes);
    ``priority-list`` needs ``priority`` (tokens).

    Raises
    ------
    UsageError
        For an unknown name (with close matches), an unknown mobile dispatch rule, or
        ``priority-list`` without a list.
    """
    crew, rule = split_policy(name)
    if rule is not None:
        return WithDispatch(get_policy(crew, priority), rule, name)
    if name == "priority-list":
        if priority is None:
            raise UsageError("policy priority-list needs a list of elements "
                             "(gridres restore --priority-file FILE)")
        return PriorityList(tuple(priority))
    if name not in POLICIES:
        close = difflib.get_close_matches(name, policy_names(), n=3, cutoff=0.4)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UsageError(f"unknown restoration policy {name!r}{hint} "
                         f"(policies: {', '.join(policy_names())})")
    return POLICIES[name]


@dataclass(eq=False)
class Gains:
    """What single repairs would reconnect on top of a state: what
    :func:`~gridres.restoration.supply.supply` would serve more with the element
    repaired, under the run's cascade option and from the buses energised now.

    Where flows cannot change the answer (the cheap path of
    :mod:`gridres.restoration.supply`), no new connected-components pass is needed per
    repair: the state's islands are labelled once; a repaired branch merges two labels,
    a repaired bus merges its own with its neighbours', a repaired generator keeps them,
    and the engine's balance rule (:func:`gridres.impact.balance`, black start included)
    runs on the merged labels. Otherwise each gain is one
    :func:`~gridres.restoration.supply.supply` of the repaired state.
    :meth:`bounds` gives a cheap upper bound that is exact where it is 0.

    Parameters
    ----------
    net : Network
    state : State
        What is alive.
    live : ndarray of bool, shape (n_bus,), optional
        Buses energised now (the black-start rule); default every bus.
    cascade : CascadeOptions or str, optional
        The run's cascade mode and margin (default mode ``none``).

    Examples
    --------
    >>> import pandas as pd
    >>> from gridres.model import Grid
    >>> g = Grid(buses=pd.DataFrame({"id": ["s", "a"], "ref": [True, False],
    ...                              "load_mw": [0.0, 10.0]}),
    ...          branches=pd.DataFrame({"id": ["l"], "from_bus": ["s"], "to_bus": ["a"],
    ...                                 "x_pu": [0.1]}),
    ...          generators=pd.DataFrame({"id": ["g"], "bus": ["s"], "pmax_mw": [50.0]}))
    >>> net = g.network
    >>> st = net.intact().fail(branches=[0])
    >>> Gains(net, st).gain(1, 0)
    10.0
    """

    net: Network
    state: State
    live: np.ndarray | None = None
    cascade: CascadeOptions | str | None = None

    def __post_init__(self) -> None:
        net = self.net
        self.cascade = CascadeOptions.of(self.cascade)
        self.eff = effective(net, self.state)
        self.n_comp, self.labels = components(net, self.eff.branch)
        _, ref = np.unique(self.labels, return_index=True)
        self.ref = ref.astype(np.int64)
        self.flows = flows_matter(net, self.state, self.cascade)
        if self.flows:
            served = supply(net, self.state, self.cascade, live=self.live).served_mw
        else:
            served = balance(net, self.labels, self.ref, self.eff, self.live).served_mw
        self.served_mw = float(served.sum())
        load = np.where(self.eff.bus, np.maximum(net.load_mw, 0.0), 0.0)
        n = self.n_comp
        self.lack = np.clip(np.bincount(self.labels, weights=load, minlength=n)
                            - np.bincount(self.labels, weights=served, minlength=n), 0.0, None)
        g = np.flatnonzero(self.eff.gen)
        self.cap = np.bincount(self.labels[net.gen_bus[g]], weights=net.gen_pmax_mw[g],
                               minlength=n)

    def _bus_neighbours(self, p: int) -> tuple[np.ndarray, np.ndarray]:
        net = self.net
        branch = self.state.branch
        inc = np.flatnonzero(((net.f == p) | (net.t == p)) & branch & net.branch_in_service)
        other = np.where(net.f[inc] == p, net.t[inc], net.f[inc])
        ok = self.eff.bus[other]
        return inc[ok], other[ok]

    def bounds(self, etypes: Sequence[int], positions: Sequence[int]) -> np.ndarray:
        """Upper bound on the MW each repair would reconnect, exact where it is 0: a
        branch at most what the two islands it joins lack (0 within one island, at a
        failed bus, or between islands without capacity), a bus its load plus what the
        islands around it lack, a generator what its island lacks.

        Where flows matter a branch within one island may relieve an overload, so it is
        bounded by what that island lacks; in ``trip`` mode islands cascade on their
        own, while in ``redispatch`` mode the operator's choice of stage is one for the
        whole grid, so there every repair is bounded by what the whole grid lacks."""
        net, eff, labels, lack, cap = self.net, self.eff, self.labels, self.lack, self.cap
        gen = self.state.gen
        out = np.zeros(len(etypes))
        if self.flows and self.cascade.mode == "redispatch":
            total = float(lack.sum())
            for i, (e, p) in enumerate(zip(etypes, positions, strict=True)):
                ends = ((net.f[p], net.t[p]) if e == 1 else (p,) if e == 0
                        else (net.gen_bus[p],))
                in_service = (net.bus_in_service, net.branch_in_service,
                              net.gen_in_service)[e][p]
                if in_service and (e == 0 or all(eff.bus[b] for b in ends)):
                    out[i] = total
            return out
        for i, (e, p) in enumerate(zip(etypes, positions, strict=True)):
            if e == 1:
                f, t = net.f[p], net.t[p]
                if not (net.branch_in_service[p] and eff.bus[f] and eff.bus[t]):
                    continue
                a, b = labels[f], labels[t]
                if a == b and self.flows:
                    out[i] = lack[a]
                elif a != b and cap[a] + cap[b] > ZERO_MW:
                    out[i] = lack[a] + lack[b]
            elif e == 0:
                if not net.bus_in_service[p]:
                    continue
                _, other = self._bus_neighbours(p)
                comps = np.unique(labels[other])
                own = (net.gen_bus == p) & gen & net.gen_in_service
                if cap[comps].sum() + net.gen_pmax_mw[own].sum() > ZERO_MW:
                    out[i] = max(net.load_mw[p], 0.0) + lack[comps].sum()
            else:
                b = net.gen_bus[p]
                if net.gen_in_service[p] and eff.bus[b] and net.gen_pmax_mw[p] > ZERO_MW:
                    out[i] = lack[labels[b]]
        return out

    def gain(self, etype: int, pos: int) -> float:
        """MW served more with element ``pos`` (type 0 bus, 1 branch, 2 generator)
        repaired; exactly what :func:`~gridres.restoration.supply.supply` gives."""
        net, eff, labels = self.net, self.eff, self.labels
        if self.flows:
            masks = [self.state.bus.copy(), self.state.branch.copy(), self.state.gen.copy()]
            masks[etype][pos] = True
            after = supply(net, State(*masks), self.cascade, live=self.live).total_mw
            return max(0.0, after - self.served_mw)
        bus, branch, gen = eff.bus, eff.branch, eff.gen
        if etype == 1:
            f, t = net.f[pos], net.t[pos]
            if not (net.branch_in_service[pos] and eff.bus[f] and eff.bus[t]):
                return 0.0
            a, b = labels[f], labels[t]
            if a == b:
                return 0.0
            labels = np.where(labels == b, a, labels)
            branch = branch.copy()
            branch[pos] = True
        elif etype == 2:
            b = net.gen_bus[pos]
            if not (net.gen_in_service[pos] and eff.bus[b]):
                return 0.0
            gen = gen.copy()
            gen[pos] = True
        else:
            if not net.bus_in_service[pos] or eff.bus[pos]:
                return 0.0
            inc, other = self._bus_neighbours(pos)
            merge = np.unique(np.append(labels[other], labels[pos]))
            labels = np.where(np.isin(labels, merge), labels[pos], labels)
            bus, branch, gen = bus.copy(), branch.copy(), gen.copy()
            bus[pos] = True
            branch[inc] = True
            own = (net.gen_bus == pos) & self.state.gen & net.gen_in_service
            gen[own] = True
        served = balance(net, labels, self.ref, State(bus, branch, gen), self.live).served_mw
        return max(0.0, float(served.sum()) - self.served_mw)
