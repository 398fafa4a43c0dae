"""Rolling-outage schedules: which groups are off in which hour when capacity is short.

:func:`schedule` joins the pieces: demand per bus and hour (:mod:`.profiles`), capacity
per island and hour (:mod:`.capacity`), groups (:mod:`.groups`), the rotation
(:mod:`.rotation`), and the engine. Every hour of the schedule is assessed with
:func:`gridres.impact.assess` on the outage state with the hour's loads: a derived
:class:`~gridres.model.Network` (:meth:`~gridres.model.Network.with_values`) whose bus
loads are the hour's demand less the groups switched off, whose generators have the
hour's available capacity and a dispatch that serves the hour's demand
(:meth:`.Capacity.dispatch`). The grid and its network are never changed; an outage is a
mask, a switched-off group is load left out of a derived network.

Where the DC flow overloads a branch (``|flow| > rating_mw``), generation is first
redispatched within the hour's available capacity, as an operator would, by the
engine's corrective programme (:func:`gridres.cascade.redispatch`: least generation
moved, load shed only where no redispatch suffices). In a deficit every unit runs at
its available capacity, so there is little to redispatch, and switching off a compact
group can leave local generation with nowhere to go. Where the programme still has to
shed, ``network_relief`` decides:

- ``"groups"`` (default): the rotation groups holding most of that load are tried, and
  the one that leaves the least shedding in the block is switched off for the block
  (the one with the fewest hours off among equals), while the shedding falls; the
  rotation is then solved again with those groups fixed, and the better of the repaired
  and the re-solved schedule (least energy not served) is kept. Such network offs do
  not count for fairness. The schedule names only whole groups, at the price of energy:
  a group is far larger than the load a network limit usually needs cut.
- ``"shed"``: the engine's redispatch curtails load at single buses (less energy lost;
  an operational instruction beside the published schedule).

What is still curtailed is reported hour by hour (``network_shed_mw``), as is any
overload left. The rotation itself is chosen on supply and demand alone; the network
check adds groups, it does not choose different ones. Imports through tie branches stay
within their limit by construction (:mod:`.capacity`) and are checked too.

When capacity covers demand in every hour there is nothing to schedule: the result has
no group off and says so in its notes (the command line exits 0).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from gridres.cascade import redispatch
from gridres.deficit.capacity import Capacity, available_capacity, read_capacity_file
from gridres.deficit.groups import Groups, form_groups, read_groups
from gridres.deficit.metrics import fairness, hours_off, longest_off_h, switching_operations
from gridres.deficit.profiles import Demand, FlatProfile, Profile, get_profile, hourly_times
from gridres.deficit.rotation import Rotation, RotationProblem, solve_rotation
from gridres.elements import as_state
from gridres.errors import UsageError
from gridres.flow import dc_solver
from gridres.impact import Impact, assess
from gridres.model import Grid, Network, State

__all__ = ["Schedule", "schedule", "DEFAULT_START", "NOTHING_TO_SCHEDULE", "NETWORK_RELIEF"]

logger = logging.getLogger(__name__)

#: Start of the horizon when none is given: a Monday at midnight in January, so that a
#: week runs Monday to Sunday and typical profiles give winter days.
DEFAULT_START = "2025-01-06T00:00"
#: The note of a schedule with nothing to switch off.
NOTHING_TO_SCHEDULE = "capacity covers demand in every hour: nothing to switch off"
#: How the network is relieved where redispatch alone cannot: whole groups, or the
#: engine's shedding of single buses.
NETWORK_RELIEF = ("groups", "shed")
#: Times the rotation is solved again with the network offs fixed, at most.
REPAIR_ROUNDS = 1
_TOL = 1e-6


@dataclass(frozen=True, eq=False)
class Schedule:
    """A rolling-outage schedule and its metrics.

    Attributes
    ----------
    grid : Grid
    demand : Demand
    capacity : Capacity
    groups : Groups
    rotation : Rotation
        The last solve (method, status, bound, gap).
    off : ndarray of bool, shape (H, G)
        Groups off in every hour.
    network_off : ndarray of bool, shape (H, G)
        The part of ``off`` switched off for network limits.
    group_mw : ndarray, shape (H, G)
        Demand of every group.
    served_mw, served_island_mw : ndarray, shape (H,) and (H, n_islands)
        Demand served (load plus fixed demand), as the engine computes it.
    redispatch_mw : ndarray, shape (H,)
        Generation moved in every hour to keep branches within their ratings.
    network_shed_mw : ndarray, shape (H,)
        Load the engine's redispatch still had to shed for the network (0 where the
        groups off suffice).
    overloaded : tuple of tuple of str, length H
        Branches still overloaded in every hour (and ``"import"`` where the imports
        through the ties exceed their limit).
    block_h : int
    notes : tuple of str
    """

    grid: Grid
    demand: Demand
    capacity: Capacity
    groups: Groups
    rotation: Rotation
    off: np.ndarray
    network_off: np.ndarray
    group_mw: np.ndarray
    served_mw: np.ndarray
    served_island_mw: np.ndarray
    redispatch_mw: np.ndarray
    network_shed_mw: np.ndarray
    overloaded: tuple[tuple[str, ...], ...]
    block_h: int
    notes: tuple[str, ...]

    @property
    def times(self) -> pd.DatetimeIndex:
        return self.demand.times

    @property
    def demand_mw(self) -> np.ndarray:
        """Demand per hour (load plus fixed demand of in-service buses), shape (H,)."""
        return self.demand.total_mw()

    @property
    def capacity_mw(self) -> np.ndarray:
        return self.capacity.total_mw

    @property
    def unserved_mwh(self) -> float:
        """Energy not served over the horizon: switched off, dark, or shed by the engine."""
        return float(np.maximum(self.demand_mw - self.served_mw, 0.0).sum())

    @property
    def switched_mwh(self) -> float:
        """Energy of the groups switched off."""
        return float((self.group_mw * self.off).sum())

    @property
    def nothing_to_schedule(self) -> bool:
        return not self.off.any()

    def protected_off(self) -> np.ndarray:
        """Hours in which a protected group is off, shape (H,) bool."""
        return (self.off & self.groups.protected[None, :]).any(axis=1)

    def impact(self, hour: int) -> Impact:
        """The engine's assessment of ``hour`` of the schedule (after the redispatch that
        keeps branches within their ratings, where one was needed)."""
        part_mw = self.groups.part_mw(self.demand)
        in_part = np.zeros(self.grid.network.n_bus, dtype=bool)
        in_part[self.groups.part_bus] = True
        ctx = _Hours(self.grid, self.demand, self.capacity, self.groups, part_mw, in_part)
        return _check_hour(ctx, self.off[hour], hour).impact

    def __repr__(self) -> str:
        """Short: the grid, the hours, the groups and what was switched off."""
        return (f"Schedule(grid={self.grid.name!r}, hours={self.off.shape[0]}, "
                f"groups={self.off.shape[1]}, block_h={self.block_h}, "
                f"unserved_mwh={self.unserved_mwh:.6g}, "
                f"switched_mwh={self.switched_mwh:.6g})")

    def metrics(self) -> dict[str, Any]:
        """Hours off, longest outage and switching operations per group, fairness."""
        ids = self.groups.ids
        hrs, longest = hours_off(self.off), longest_off_h(self.off)
        ops = switching_operations(self.off)
        fair = fairness(self.off, self.groups.customers, self.groups.protected)
        fair["rule_holds"] = bool(self.rotation.fairness_excess == 0)
        return {
            "hours_off": {g: int(v) for g, v in zip(ids, hrs, strict=True)},
            "longest_off_h": {g: int(v) for g, v in zip(ids, longest, strict=True)},
            "switching_operations": {g: int(v) for g, v in zip(ids, ops, strict=True)},
            "switching_operations_total": int(ops.sum()),
            "fairness": fair,
        }

    def table(self) -> pd.DataFrame:
        """One row per group and hour: ``group``, ``hour``, ``time``, ``off`` (bool),
        ``demand_mw`` (the group's), ``reason`` (``rotation``, ``network``, ``supply``
        for a protected group, or empty)."""
        h, g = self.off.shape
        reason = np.where(self.network_off, "network",
                          np.where(self.off & self.groups.protected[None, :], "supply",
                                   np.where(self.off, "rotation", "")))
        return pd.DataFrame({
            "group": np.tile(np.array(self.groups.ids, dtype=object), h),
            "hour": np.repeat(np.arange(h), g),
            "time": np.repeat(self.times.strftime("%Y-%m-%dT%H:%M").to_numpy(), g),
            "off": self.off.reshape(-1),
            "demand_mw": self.group_mw.reshape(-1).round(6),
            "reason": reason.reshape(-1),
        })

    def to_dict(self) -> dict[str, Any]:
        """The schedule as one JSON-ready document (ids as strings)."""
        net = self.grid.network
        ids = self.groups.ids
        bus_ids = net.bus_ids
        met = self.metrics()
        static = self.groups.part_mw(_static(self.grid, self.demand))[0]
        load = np.bincount(self.groups.part_group, weights=static, minlength=len(ids))
        rot = self.rotation
        groups = [{
            "group": gid,
            "buses": bus_ids[self.groups.buses(j)].tolist(),
            "load_mw": round(float(load[j]), 6),
            "customers": int(self.groups.customers[j]),
            "protected": bool(self.groups.protected[j]),
            "island": int(self.groups.island[j]),
            "hours_off": met["hours_off"][gid],
            "longest_off_h": met["longest_off_h"][gid],
            "switching_operations": met["switching_operations"][gid],
        } for j, gid in enumerate(ids)]
        hours = [{
            "hour": h,
            "time": t.isoformat(),
            "demand_mw": round(float(self.demand_mw[h]), 6),
            "capacity_mw": round(float(self.capacity_mw[h]), 6),
            "served_mw": round(float(self.served_mw[h]), 6),
            "off": [ids[j] for j in np.flatnonzero(self.off[h])],
            "network_off": [ids[j] for j in np.flatnonzero(self.network_off[h])],
            "protected_off": bool(self.protected_off()[h]),
            "redispatch_mw": round(float(self.redispatch_mw[h]), 6),
            "network_shed_mw": round(float(self.network_shed_mw[h]), 6),
            "overloaded": list(self.overloaded[h]),
        } for h, t in enumerate(self.times)]
        dark_mwh = float(self.demand.bus_mw[:, self.groups.dark_buses].sum())
        return {
            "grid": self.grid.name,
            "start": self.times[0].isoformat(),
            "horizon_h": len(self.times),
            "block_h": self.block_h,
            "profile": self.demand.profile,
            "capacity": self.capacity.source,
            "peak_demand_mw": round(float(self.demand_mw.max()), 6),
            "groups_method": self.groups.method,
            "method": rot.method,
            "status": rot.status,
            "switched_mwh": round(self.switched_mwh, 6),
            "bound_mwh": None if rot.bound_mwh is None else round(rot.bound_mwh, 6),
            "gap": None if rot.gap is None else round(rot.gap, 6),
            "solve_s": round(rot.seconds, 3),
            "groups": groups,
            "hours": hours,
            "hours_off": met["hours_off"],
            "longest_off_h": met["longest_off_h"],
            "switching_operations": met["switching_operations"],
            "switching_operations_total": met["switching_operations_total"],
            "unserved_mwh": round(self.unserved_mwh, 6),
            "dark_mwh": round(dark_mwh, 6),
            "dark_buses": bus_ids[self.groups.dark_buses].tolist(),
            "fairness": {k: (round(v, 6) if isinstance(v, float) else v)
                         for k, v in met["fairness"].items()},
            "nothing_to_schedule": self.nothing_to_schedule,
            "notes": list(self.notes),
        }


def _static(grid: Grid, demand: Demand) -> Demand:
    """The static load as a one-hour demand (for the groups' ``load_mw``)."""
    return FlatProfile().demand(grid, demand.times[:1])


# -- the engine, hour by hour ---------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Hours:
    """What every hourly assessment shares."""

    grid: Grid
    demand: Demand
    capacity: Capacity
    groups: Groups
    part_mw: np.ndarray  # (H, n_parts)
    in_part: np.ndarray  # (n_bus,) bool
    checked: dict = field(default_factory=dict)  # (hour, groups off) -> _Check


def _assess_hour(ctx: _Hours, off_row: np.ndarray, h: int) -> tuple[Network, Impact]:
    """The engine on the outage state with hour ``h``'s loads, ``off_row`` (G,) groups
    off, and a dispatch that serves the rest: the hour's network and its impact."""
    grid, cap, groups = ctx.grid, ctx.capacity, ctx.groups
    net = grid.network
    on = ~off_row[groups.part_group]
    served = np.bincount(groups.part_bus, weights=ctx.part_mw[h] * on, minlength=net.n_bus)
    load = np.where(ctx.in_part, served, ctx.demand.bus_mw[h])
    load = np.where(net.load_mw < 0, net.load_mw, load)
    alive = cap.island >= 0
    need = np.bincount(cap.island[alive], weights=(np.maximum(load, 0.0)
                                                   + ctx.demand.fixed_mw)[alive],
                       minlength=cap.n_islands)
    p = cap.dispatch(grid, h, need)
    hnet = net.with_values(load_mw=load, gen_p_mw=p, gen_pmax_mw=cap.gen_mw[h])
    return hnet, assess(hnet, cap.state)


@dataclass(frozen=True, eq=False)
class _Check:
    """The engine's view of one hour of a schedule."""

    impact: Impact  # after redispatch where the dispatch overloaded a branch
    redispatch_mw: float  # generation moved to relieve overloads
    network_shed: np.ndarray | None  # (n_bus,) load the redispatch had to shed, or None
    overloaded: tuple[str, ...]  # branches still overloaded (and "import" above its limit)


def _check_hour(ctx: _Hours, off_row: np.ndarray, h: int) -> _Check:
    """Assess hour ``h``; where a branch is overloaded, redispatch generation within the
    hour's available capacity (:func:`gridres.cascade.redispatch`), shedding only what
    no redispatch can avoid."""
    key = (h, np.packbits(off_row).tobytes())
    if key in ctx.checked:  # the same hour with the same groups off: the same answer
        return ctx.checked[key]
    hnet, imp = _assess_hour(ctx, off_row, h)
    moved, shed = 0.0, None
    if imp.overloaded.any():
        new, moved = redispatch(hnet, imp)
        cut = np.maximum(imp.served_mw - new.served_mw, 0.0)
        if cut.sum() > _TOL:
            shed = cut
        imp = new
    names = tuple(ctx.grid.network.branch_ids[imp.overloaded])
    cap = ctx.capacity
    if len(cap.ties):  # the capacity step keeps imports within the limit; verify
        net = ctx.grid.network
        k = cap.ties
        out_f, out_t = cap.outside[net.f[k]], cap.outside[net.t[k]]
        flow = imp.flow_mw[k]
        imports = float(np.where(out_f & ~out_t, flow, 0.0).sum()
                        + np.where(out_t & ~out_f, -flow, 0.0).sum())
        if imports > cap.import_limit_mw + 1e-6:
            names = (*names, "import")
    ctx.checked[key] = _Check(imp, float(moved), shed, names)
    return ctx.checked[key]


#: Groups tried per step of a network repair: those holding most of the load the
#: redispatch had to shed.
REPAIR_CANDIDATES = 3


def _repair_block(ctx: _Hours, off: np.ndarray, hrs: np.ndarray, checks: list[_Check],
                  hours_so_far: np.ndarray) -> tuple[list[int], dict[int, _Check]]:
    """Rotation groups to switch off in the block of hours ``hrs`` because the network
    cannot carry the load. Where the redispatch had to shed, the groups holding most of
    that load are candidates; the one whose switching-off leaves the least overload
    (the engine's flow before redispatch, summed over the block; ties: the fewest hours
    off so far) goes off if the redispatch then sheds less, and so on.
    Returns the groups and the block's hours checked with them off."""
    groups = ctx.groups
    net = ctx.grid.network
    rot = ~groups.protected
    part_rot = rot[groups.part_group]
    added: list[int] = []
    row = off[hrs[0]].copy()
    now = {int(h): checks[h] for h in hrs}

    def shed_of(cs: dict[int, _Check]) -> float:
        return sum(float(c.network_shed.sum()) for c in cs.values() if c.network_shed is not None)

    def overload(trial: np.ndarray) -> float:
        total = 0.0
        for h in now:
            imp = _assess_hour(ctx, trial, h)[1]
            k = imp.overloaded
            total += float((np.abs(imp.flow_mw[k]) - net.rating_mw[k]).sum())
        return total

    current = shed_of(now)
    while current > _TOL:
        score = np.zeros(len(groups))
        for h, c in now.items():
            if c.network_shed is None:
                continue
            take = np.where(part_rot, np.minimum(c.network_shed[groups.part_bus],
                                                 ctx.part_mw[h]), 0.0)
            score += np.bincount(groups.part_group, weights=take, minlength=len(groups))
        cand = np.flatnonzero(rot & ~row & (score > _TOL))
        if not len(cand):
            break
        cand = cand[np.lexsort((hours_so_far[cand], -score[cand]))][:REPAIR_CANDIDATES]
        excess = []
        for g in cand:
            trial = row.copy()
            trial[g] = True
            excess.append(overload(trial))
        g = int(cand[np.lexsort((hours_so_far[cand], np.array(excess)))[0]])
        trial = row.copy()
        trial[g] = True
        checked = {h: _check_hour(ctx, trial, h) for h in now}
        left = shed_of(checked)
        if not left < current - _TOL:
            break
        row = trial
        added.append(g)
        now, current = checked, left
    return added, now


def _problem(groups: Groups, capacity: Capacity, demand: Demand, part_mw: np.ndarray,
             block_h: int, forced: np.ndarray | None, seed: int) -> RotationProblem:
    h_n, n_isl = capacity.island_mw.shape
    part_isl = capacity.island[groups.part_bus]
    group_mw = np.zeros((h_n, len(groups), max(n_isl, 1)))
    for i in range(n_isl):
        sel = part_isl == i
        if sel.any():
            group_mw[:, :, i] = np.stack(
                [np.bincount(groups.part_group[sel], weights=row[sel], minlength=len(groups))
                 for row in part_mw])
    alive = capacity.island >= 0
    fixed_isl = np.bincount(capacity.island[alive], weights=demand.fixed_mw[alive],
                            minlength=n_isl)
    lit = capacity.island_mw.max(axis=0) > 0
    need = np.maximum(group_mw.sum(axis=1)[:, :n_isl] + fixed_isl[None, :]
                      - capacity.island_mw, 0.0)
    need[:, ~lit] = 0.0  # dark islands: nothing to ration
    need[need <= 1e-9 * np.maximum(group_mw.sum(axis=1)[:, :n_isl], 1.0)] = 0.0
    if n_isl == 0:
        need = np.zeros((h_n, 1))
    return RotationProblem(group_mw, need, groups.protected, groups.island, block_h, forced,
                           seed)


def schedule(
    grid: Grid,
    outage: State | str | Sequence[str] | None = None,
    *,
    hours: int = 24,
    start: str | pd.Timestamp = DEFAULT_START,
    profile: str | Profile | None = None,
    capacity_share: float | None = None,
    capacity_mw: float | None = None,
    capacity_per_hour_mw: Sequence[float] | np.ndarray | None = None,
    capacity_file: str | None = None,
    derate: float | Mapping[str, float] | None = None,
    ties: Sequence[str] = (),
    import_limit_mw: float | None = None,
    groups: int | Groups = 6,
    groups_file: str | None = None,
    protect: str = "feeders",
    block_h: int = 4,
    method: str = "auto",
    seed: int = 0,
    time_limit_s: float = 30.0,
    network_relief: str = "groups",
    progress: Callable[[str], None] | None = None,
) -> Schedule:
    """A rolling-outage schedule (see the module notes).

    Parameters
    ----------
    grid : Grid
    outage : State, str, sequence of str, or None
        What is broken: a state, or element tokens (``bus:ID``, ``branch:ID``, ``gen:ID``,
        ``substation:NAME``); None, the intact grid.
    hours : int
        Length of the horizon (hours).
    start : str or Timestamp
        First hour (ISO 8601); see :data:`DEFAULT_START`.
    profile : str, Profile or None
        Demand profile: a built-in name (``typical``, ``winter``, ``summer-weekend``, …),
        a profile file, or None for the static load.
    capacity_share, capacity_mw, capacity_per_hour_mw, capacity_file :
        At most one system capacity figure (see :func:`.available_capacity`); none: the
        generation alive after the outage.
    derate, ties, import_limit_mw :
        See :func:`.available_capacity`.
    groups : int or Groups
        Number of rotation groups to form, or the groups.
    groups_file : str, optional
        Read the groups from a file instead (:func:`.read_groups`).
    protect : {"feeders", "buses"}
        What of a bus with critical facilities is protected (:mod:`.groups`).
    block_h : int
        Off periods are whole blocks of this many hours.
    method : {"auto", "milp", "heuristic"}
    seed : int
        Tie-breaks (which of equally good groups goes first) and, without coordinates,
        the grouping's first landmark.
    time_limit_s : float
        Time limit of the programme (per solve).
    network_relief : {"groups", "shed"}
        Where the redispatch alone cannot keep every branch within its rating:
        ``groups`` switches whole groups off for it (a schedule that names only groups);
        ``shed`` leaves the shedding of single buses to the engine's redispatch (less
        energy lost; the curtailed load is reported hour by hour).
    progress : callable, optional
        Called with a short message as each step starts (for a status line).

    Returns
    -------
    Schedule

    Raises
    ------
    UsageError
        For impossible parameters (more groups than load buses, two capacity figures,
        unknown ids).
    GridError
        For invalid profile, capacity or groups files.

    Examples
    --------
    >>> from gridres.io import load_grid
    >>> s = schedule(load_grid("ieee14"), hours=8, capacity_share=0.8, groups=4, block_h=2)
    >>> s.to_dict()["hours_off"]
    {'1': 2, '2': 2, '3': 2, '4': 4, 'P1': 0}
    >>> bool((s.served_mw <= s.capacity_mw + 1e-6).all())
    True
    """
    net = grid.network
    times = hourly_times(start, hours)
    demand = get_profile(profile).demand(grid, times)
    state = as_state(grid, outage)
    if capacity_file is not None:
        if capacity_per_hour_mw is not None:
            raise UsageError("give capacity per hour or a capacity file, not both")
        capacity_per_hour_mw = read_capacity_file(capacity_file, times)
    cap = available_capacity(grid, demand, state=state, share=capacity_share, mw=capacity_mw,
                             per_hour_mw=capacity_per_hour_mw, derate=derate, ties=ties,
                             import_limit_mw=import_limit_mw)
    lit = cap.island_mw.max(axis=0) > 0 if cap.n_islands else np.zeros(0, dtype=bool)
    if isinstance(groups, Groups):
        grp = groups
    elif groups_file is not None:
        grp = read_groups(groups_file, grid, island=cap.island, energized=lit)
    else:
        grp = form_groups(grid, groups, island=cap.island, energized=lit, protect=protect,
                          seed=seed)
    if not isinstance(block_h, int | np.integer) or block_h < 1:
        raise UsageError(f"The 'block_h' parameter must be an int >= 1. Got {block_h!r} "
                         "instead.")
    if network_relief not in NETWORK_RELIEF:
        raise UsageError(f"The 'network_relief' parameter must be one of "
                         f"{', '.join(NETWORK_RELIEF)}. Got {network_relief!r} instead.")
    dc_solver(net)  # factorised once here: every hour's derived network shares it
    part_mw = grp.part_mw(demand)
    in_part = np.zeros(net.n_bus, dtype=bool)
    in_part[grp.part_bus] = True
    ctx = _Hours(grid, demand, cap, grp, part_mw, in_part)
    notes = list(cap.notes)
    n_blocks = -(-hours // block_h)
    forced = np.zeros((n_blocks, len(grp)), dtype=bool)
    blk = np.arange(hours) // block_h
    t0 = time.perf_counter()
    say = progress or (lambda message: None)
    group_mw = grp.group_mw(demand)
    best = None  # (unserved MWh, rotation, off, forced, checks)
    for round_ in range(REPAIR_ROUNDS + 1):
        problem = _problem(grp, cap, demand, part_mw, int(block_h), forced, seed)
        say(f"solving the rotation of {len(grp)} groups over {hours} h"
            + (f" (network repair, round {round_})" if round_ else ""))
        rot = solve_rotation(problem, method, time_limit_s=time_limit_s)
        say(f"checking {hours} h with the engine's DC flow")
        off = rot.off.copy()
        checks = [_check_hour(ctx, off[h], h) for h in range(hours)]
        added = False
        if network_relief == "groups":
            so_far = off.sum(axis=0).astype(float)
            for b in range(n_blocks):
                hrs = np.flatnonzero(blk == b)
                if all(checks[h].network_shed is None for h in hrs):
                    continue
                extra, fixed = _repair_block(ctx, off, hrs, checks, so_far)
                if extra:
                    forced[b, extra] = True
                    off[np.ix_(hrs, extra)] = True
                    so_far[extra] += len(hrs)
                    for h, c in fixed.items():
                        checks[h] = c
                    added = True
        # the schedule as repaired: rotation groups plus network offs; each repair was
        # checked with the engine, and solving the rotation again with the network offs
        # fixed may do better or worse: the least energy not served wins
        lost = float((group_mw * off).sum()) + sum(
            float(c.network_shed.sum()) for c in checks if c.network_shed is not None)
        if best is None or lost < best[0] - _TOL * max(lost, 1.0):
            best = (lost, rot, off, forced.copy(), checks)
        if not added:
            break
    logger.debug("schedule: %d rounds, %.2f s", round_ + 1, time.perf_counter() - t0)
    _, rot, off, forced, checks = best
    notes += list(rot.notes)
    served_isl = np.zeros((hours, cap.n_islands))
    for h, check in enumerate(checks):
        imp = check.impact
        alive = imp.island >= 0
        served_isl[h] = np.bincount(cap.island[alive], weights=(imp.served_mw
                                                                + imp.fixed_mw)[alive],
                                    minlength=cap.n_islands)
    network_off = forced[blk] & off
    overloaded = tuple(c.overloaded for c in checks)
    redispatch_mw = np.array([c.redispatch_mw for c in checks])
    network_shed = np.array([0.0 if c.network_shed is None else float(c.network_shed.sum())
                             for c in checks])
    if rot.short.any():
        hrs = np.flatnonzero(rot.short.any(axis=1))
        notes.append(f"supply does not allow every protected group in {len(hrs)} hour(s) "
                     f"(first {demand.times[hrs[0]]}): every rotation group is off and "
                     "protected groups are switched hour by hour")
    if rot.uncovered_mw.any():
        hrs = np.flatnonzero(rot.uncovered_mw.any(axis=1))
        notes.append(f"in {len(hrs)} hour(s) even every group off leaves demand above "
                     "capacity (fixed demand such as shunts): the engine sheds what remains")
    if redispatch_mw.any():
        notes.append(f"in {int((redispatch_mw > 0).sum())} hour(s) generation is "
                     "redispatched to keep branches within their ratings (see each hour's "
                     "'redispatch_mw')")
    if network_shed.any():
        notes.append(f"in {int((network_shed > 0).sum())} hour(s) the network cannot carry "
                     "the load even with every useful group off: the engine sheds "
                     f"{network_shed.sum():,.1f} MWh more (see each hour's 'network_shed_mw')")
    if any(overloaded):
        n = sum(1 for o in overloaded if o)
        notes.append(f"{n} hour(s) keep an overload that neither redispatch nor switching "
                     "groups off relieves (see each hour's 'overloaded')")
    if rot.fairness_excess > 0:
        notes.append("equal hours off within one block could not hold in every pool "
                     f"(excess {rot.fairness_excess:g} block(s))")
    if len(grp.dark_buses):
        notes.append(f"{len(grp.dark_buses)} load bus(es) are in islands without generation: "
                     "dark in every hour, in no group")
    if not off.any():
        notes.insert(0, NOTHING_TO_SCHEDULE)
    return Schedule(grid, demand, cap, grp, rot, off, network_off, group_mw,
                    served_isl.sum(axis=1), served_isl, redispatch_mw, network_shed,
                    overloaded, int(block_h), tuple(notes))
