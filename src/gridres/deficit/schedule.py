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

Where the DC flow overloads a branch (``|flow| > rating_mw``) or the imports through
tie branches exceed their limit, more rotation groups are switched off in that block,
each time the one whose switching-off most reduces the excess (measured with the
engine), and the rotation is solved again with them fixed; these network offs do not
count for fairness. Overloads that switching cannot relieve are reported hour by hour.

When capacity covers demand in every hour there is nothing to schedule: the result has
no group off and says so in its notes (the command line exits 0).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gridres.deficit.capacity import Capacity, available_capacity, read_capacity_file
from gridres.deficit.groups import Groups, form_groups, read_groups
from gridres.deficit.metrics import fairness, hours_off, longest_off_h, switching_operations
from gridres.deficit.profiles import Demand, Profile, get_profile, hourly_times
from gridres.deficit.rotation import Rotation, RotationProblem, solve_rotation
from gridres.errors import UsageError
from gridres.impact import Impact, assess
from gridres.model import Grid, State

__all__ = ["Schedule", "schedule", "DEFAULT_START", "NOTHING_TO_SCHEDULE"]

logger = logging.getLogger(__name__)

#: Start of the horizon when none is given: a Monday at midnight in January, so that a
#: week runs Monday to Sunday and typical profiles give winter days.
DEFAULT_START = "2025-01-06T00:00"
#: The note of a schedule with nothing to switch off.
NOTHING_TO_SCHEDULE = "capacity covers demand in every hour: nothing to switch off"
#: Rounds of network repair (switch off more, solve the rotation again) at most.
REPAIR_ROUNDS = 3
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
    from gridres.deficit.profiles import FlatProfile

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


def _assess_hour(ctx: _Hours, off_row: np.ndarray, h: int) -> Impact:
    """The engine on the outage state with hour ``h``'s loads, ``off_row`` (G,) groups
    off, and a dispatch that serves the rest."""
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
    return assess(hnet, cap.state)


def _excess_mw(ctx: _Hours, imp: Impact) -> tuple[float, tuple[str, ...]]:
    """MW above ratings summed over overloaded branches, plus imports above their limit;
    and the names of what is over."""
    net = ctx.grid.network
    over = np.flatnonzero(imp.overloaded)
    excess = float((np.abs(imp.flow_mw[over]) - net.rating_mw[over]).sum())
    names = tuple(net.branch_ids[over])
    cap = ctx.capacity
    if len(cap.ties):
        k = cap.ties
        out_f, out_t = cap.outside[net.f[k]], cap.outside[net.t[k]]
        flow = imp.flow_mw[k]
        imports = float(np.where(out_f & ~out_t, flow, 0.0).sum()
                        + np.where(out_t & ~out_f, -flow, 0.0).sum())
        if imports > cap.import_limit_mw + 1e-6:
            excess += imports - cap.import_limit_mw
            names = (*names, "import")
    return excess, names


def _repair_block(ctx: _Hours, off: np.ndarray, hrs: np.ndarray, bad: np.ndarray,
                  excess: float, hours_so_far: np.ndarray) -> list[int]:
    """Rotation groups to switch off in the block of hours ``hrs`` so that the excess of
    its ``bad`` hours falls, one at a time (engine-measured). Among the groups that
    relieve nearly as much as the best one (within 10 % of its relief), the one with the
    fewest hours off so far goes, so that network offs rotate too."""
    rot = ~ctx.groups.protected
    added: list[int] = []
    off = off.copy()
    energy = ctx.part_mw[hrs].sum(axis=0)
    group_energy = np.bincount(ctx.groups.part_group, weights=energy,
                               minlength=len(ctx.groups))
    while excess > _TOL:
        cand = np.flatnonzero(rot & ~off[hrs[0]])
        if not len(cand):
            break
        trial = np.empty(len(cand))
        for j, g in enumerate(cand):
            row = off.copy()
            row[hrs, g] = True
            trial[j] = sum(_excess_mw(ctx, _assess_hour(ctx, row[h], h))[0] for h in bad)
        best = trial.min()
        if best >= excess - _TOL:
            break
        near = np.flatnonzero(trial <= best + 0.1 * (excess - best))
        j = near[np.lexsort((group_energy[cand[near]], hours_so_far[cand[near]]))[0]]
        off[hrs, cand[j]] = True
        added.append(int(cand[j]))
        excess = float(trial[j])
    return added


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
    *,
    hours: int = 24,
    start: str | pd.Timestamp = DEFAULT_START,
    profile: str | Profile | None = None,
    fail: Sequence[str] = (),
    state: State | None = None,
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
    repair_flows: bool = True,
    progress: Callable[[str], None] | None = None,
) -> Schedule:
    """A rolling-outage schedule (see the module notes).

    Parameters
    ----------
    grid : Grid
    hours : int
        Length of the horizon (hours).
    start : str or Timestamp
        First hour (ISO 8601); see :data:`DEFAULT_START`.
    profile : str, Profile or None
        Demand profile: a built-in name (``typical``, ``winter``, ``summer-weekend``, …),
        a profile file, or None for the static load.
    fail : sequence of str
        Failed elements as ``bus:ID``, ``branch:ID``, ``gen:ID``, ``substation:NAME``.
    state : State, optional
        Instead of (or before) ``fail``: the outage state.
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
    repair_flows : bool
        Switch off more groups where the DC flow overloads a branch (default).
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
    if state is None:
        state = net.intact()
    if fail:
        from gridres.scenarios.elements import parse_tokens

        pos = parse_tokens(fail, grid, where="fail")
        state = state.fail(pos["buses"], pos["branches"], pos["gens"])
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
    for round_ in range(REPAIR_ROUNDS + 1):
        problem = _problem(grp, cap, demand, part_mw, int(block_h), forced, seed)
        say(f"solving the rotation of {len(grp)} groups over {hours} h"
            + (f" (network repair, round {round_})" if round_ else ""))
        rot = solve_rotation(problem, method, time_limit_s=time_limit_s)
        say(f"checking {hours} h with the engine's DC flow")
        impacts = [_assess_hour(ctx, rot.off[h], h) for h in range(hours)]
        checks = [_excess_mw(ctx, imp) for imp in impacts]
        if not repair_flows or round_ == REPAIR_ROUNDS:
            break
        added = False
        so_far = rot.off.sum(axis=0).astype(float)
        for b in range(n_blocks):
            hrs = np.flatnonzero(blk == b)
            bad = hrs[[checks[h][0] > _TOL for h in hrs]]
            if not len(bad):
                continue
            extra = _repair_block(ctx, rot.off, hrs, bad, sum(checks[h][0] for h in bad),
                                  so_far)
            if extra:
                forced[b, extra] = True
                so_far[extra] += len(hrs)
                added = True
        if not added:
            break
    logger.debug("schedule: %d rounds, %.2f s", round_ + 1, time.perf_counter() - t0)
    notes += list(rot.notes)
    served_isl = np.zeros((hours, cap.n_islands))
    for h, imp in enumerate(impacts):
        alive = imp.island >= 0
        served_isl[h] = np.bincount(cap.island[alive], weights=(imp.served_mw
                                                                + imp.fixed_mw)[alive],
                                    minlength=cap.n_islands)
    network_off = forced[blk] & rot.off
    overloaded = tuple(c[1] for c in checks)
    if rot.short.any():
        hrs = np.flatnonzero(rot.short.any(axis=1))
        notes.append(f"supply does not allow every protected group in {len(hrs)} hour(s) "
                     f"(first {demand.times[hrs[0]]}): every rotation group is off and "
                     "protected groups are switched hour by hour")
    if rot.uncovered_mw.any():
        hrs = np.flatnonzero(rot.uncovered_mw.any(axis=1))
        notes.append(f"in {len(hrs)} hour(s) even every group off leaves demand above "
                     "capacity (fixed demand such as shunts): the engine sheds what remains")
    if any(overloaded):
        n = sum(1 for o in overloaded if o)
        notes.append(f"{n} hour(s) keep an overload that switching groups off does not "
                     "relieve (see each hour's 'overloaded')")
    if rot.fairness_excess > 0:
        notes.append("equal hours off within one block could not hold in every pool "
                     f"(excess {rot.fairness_excess:g} block(s))")
    if len(grp.dark_buses):
        notes.append(f"{len(grp.dark_buses)} load bus(es) are in islands without generation: "
                     "dark in every hour, in no group")
    off = rot.off
    if not off.any():
        notes.insert(0, NOTHING_TO_SCHEDULE)
    return Schedule(grid, demand, cap, grp, rot, off, network_off, grp.group_mw(demand),
                    served_isl.sum(axis=1), served_isl, overloaded, int(block_h),
                    tuple(notes))
