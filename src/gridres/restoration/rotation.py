"""Rotation during restoration: sharing a power deficit by switching whole groups in
turn, block by block, as capacity changes with repairs.

Without rotation the engine sheds a deficit by priority, in proportion within a class,
and the same feeders stay off for as long as it lasts. With rotation
(:class:`RotationSettings`) the load is cut into the groups of
:func:`gridres.deficit.groups.form_groups` (formed once on the intact grid, as an
operator publishes them; protected groups hold the feeders of critical facilities) and
the deficit is shared with the part-1 scheduler, :func:`gridres.deficit.solve_rotation`:

* **Blocks.** Off periods are blocks of ``block_h`` clock hours counted from midnight
  of the day the event starts (00:00-04:00, 04:00-08:00, ... for 4 h blocks). At the
  start of every block, the block is planned with the outage state of that moment: in
  every hour and every energised island, the groups off must carry at least the
  island's demand above its capacity (demand and capacity of
  :mod:`gridres.restoration.demand`, hour by hour).
* **Fairness over the event.** Off blocks of earlier blocks count
  (``prior_off_blocks``): a group that was off before goes off again only when the
  others have had as many turns (the rule of :mod:`gridres.deficit.rotation`: off counts
  of two rotation groups of a pool differ by at most one), and a group off in the block
  before counts as back to back.
* **Within a block.** A repair or a new failure plans the rest of the block again: if
  the groups already off still cover the shortfall, the cheapest of them that do stay
  off and the others come back early; otherwise they stay off and more groups go off.
* **Protected groups** are off only where every rotation group off is not enough
  (hour by hour, the least load); the engine then sheds what even every group off
  leaves.

The rotation is decided on supply and demand; the engine assesses every step with the
groups' load left out, flows and cascade mode included, and sheds what the network
still cannot carry. A group counts as off in a block if it was off at any time in it.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gridres.deficit.groups import CRITICAL, PROTECT_MODES, Groups, form_groups, read_groups
from gridres.deficit.profiles import Demand, FlatProfile, hourly_times
from gridres.deficit.rotation import METHODS, RotationProblem, solve_rotation
from gridres.deficit.schedule import DEFAULT_START
from gridres.errors import UsageError
from gridres.model import Grid

__all__ = ["RotationSettings", "RotationPlan", "RotationRun", "ROTATION_SUFFIX",
           "rotation_variant", "group_table"]

#: The name of a policy's run with rotation: ``greedy+rotation``.
ROTATION_SUFFIX = "+rotation"
#: Solves kept per network for repeated situations (the same scenario under several
#: policies meets the same blocks).
SOLVES_KEPT = 4096
_TOL = 1e-6


def rotation_variant(policy: str) -> str:
    """The name under which a policy's run with rotation is recorded.

    Examples
    --------
    >>> rotation_variant("greedy")
    'greedy+rotation'
    """
    return policy + ROTATION_SUFFIX


@dataclass(frozen=True)
class RotationSettings:
    """How a restoration rotates groups when capacity is short.

    Parameters
    ----------
    groups : int
        Rotation groups to form (protected groups come on top).
    block_h : int
        Length of an off block, hours (1 to 24), counted from midnight.
    protect : {"feeders", "buses"}
        Keep on the feeders of critical facilities only, or their whole buses.
    groups_file : str, optional
        Groups from a file (:func:`gridres.deficit.read_groups`) instead.
    method : {"auto", "milp", "heuristic"}
        Solver of each block (:func:`gridres.deficit.solve_rotation`).
    """

    groups: int = 6
    block_h: int = 4
    protect: str = "feeders"
    groups_file: str | None = None
    method: str = "auto"

    def __post_init__(self) -> None:
        for name, value, top in (("groups", self.groups, None), ("block_h", self.block_h, 24)):
            if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < 1 \
                    or (top is not None and value > top):
                must = "an int >= 1" if top is None else f"an int from 1 to {top}"
                raise UsageError(f"The {name!r} parameter of rotation must be {must}. Got "
                                 f"{value!r} instead.")
        if self.protect not in PROTECT_MODES:
            raise UsageError(f"The 'protect' parameter of rotation must be one of "
                             f"{', '.join(PROTECT_MODES)}. Got {self.protect!r} instead.")
        if self.method not in METHODS:
            raise UsageError(f"The 'method' parameter of rotation must be one of "
                             f"{', '.join(METHODS)}. Got {self.method!r} instead.")


@dataclass(frozen=True, eq=False)
class RotationPlan:
    """The groups of a grid and the demand of their parts: what every run rotates.

    Attributes
    ----------
    groups : Groups
    block_h : int
    method : str
    part_mw : ndarray, shape (S, n_parts)
        Demand of every part of every group in each demand pattern of the timeline.
    holds_customers : ndarray of bool, shape (n_parts,)
        Parts that carry their bus's customers (all but protected feeders).
    table : pandas.DataFrame
        The groups: ``group``, ``protected``, ``buses`` (ids, ``;``-joined), ``load_mw``
        (static), ``customers``.
    """

    groups: Groups
    block_h: int
    method: str
    part_mw: np.ndarray
    holds_customers: np.ndarray
    table: pd.DataFrame

    @classmethod
    def build(cls, grid: Grid, settings: RotationSettings, shapes: Demand) -> RotationPlan:
        """Groups for ``grid`` (formed on the intact grid, or read from the settings'
        file) and their parts' demand in every pattern of ``shapes``."""
        if settings.groups_file:
            g = read_groups(settings.groups_file, grid)
        else:
            g = form_groups(grid, int(settings.groups), protect=settings.protect)
        static = g.part_mw(FlatProfile().demand(grid, hourly_times(DEFAULT_START, 1)))[0]
        bus_ids = grid.network.bus_ids
        table = pd.DataFrame({
            "group": list(g.ids), "protected": g.protected,
            "buses": [";".join(bus_ids[g.buses(j)]) for j in range(len(g))],
            "load_mw": np.bincount(g.part_group, weights=static, minlength=len(g)),
            "customers": g.customers})
        return cls(g, int(settings.block_h), settings.method, g.part_mw(shapes),
                   g.part_kind != CRITICAL, table)


#: ``window(hours) -> (group_mw (len, G, I), need_mw (len, I))``: loads and shortfall of
#: the run hours ``hours`` in the outage state of the moment.
Window = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


class RotationRun:
    """One run's rotation: which groups are off in every hour, block by block (module
    notes).

    Parameters
    ----------
    plan : RotationPlan
    first_clock_hour : int
        Clock hour (0-23) of the run's hour 0.
    solves : OrderedDict
        Solutions kept between runs (keyed by the problem's arrays).
    """

    def __init__(self, plan: RotationPlan, first_clock_hour: int, solves: OrderedDict) -> None:
        self.plan = plan
        self.h0 = int(first_clock_hour)
        g = len(plan.groups)
        self.rot = ~plan.groups.protected
        self.counts = np.zeros(g)
        self.prev = np.zeros(g, dtype=bool)
        self.this = np.zeros(g, dtype=bool)
        self.block: int | None = None
        self.rows = np.zeros((plan.block_h, g), dtype=bool)
        self.off = np.zeros(g, dtype=bool)
        self.solves = solves
        self.short_hours: set[int] = set()
        self.uncovered_hours: set[int] = set()
        self.decisions = 0

    def block_of(self, hour: int) -> int:
        return (int(hour) + self.h0) // self.plan.block_h

    def first_hour(self, block: int) -> int:
        """Run hour at which ``block`` starts (negative for the hours before the run)."""
        return block * self.plan.block_h - self.h0

    def step(self, hour: int, event: bool, window: Window) -> np.ndarray:
        """Groups off from run hour ``hour`` on: planned again at a block's start and, with
        ``event``, after a repair or failure; else the plan of the block."""
        block = self.block_of(hour)
        start = block != self.block
        if start:
            if self.block is not None:
                self.counts += self.this & self.rot
                self.prev = self.this.copy() if block == self.block + 1 else \
                    np.zeros_like(self.this)
            self.this = np.zeros_like(self.this)
            self.block = block
            self.rows[:] = False
        if start or event:
            self._plan(hour, not start, window)
        self.off = self.rows[hour - self.first_hour(block)].copy()
        self.this |= self.off
        return self.off

    def _plan(self, hour: int, mid: bool, window: Window) -> None:
        """Plan the rest of the block from run hour ``hour``; ``mid``: within a block,
        with the groups off now kept or released first (module notes)."""
        b = self.plan.block_h
        k0 = self.first_hour(self.block)
        hours = np.arange(k0 - b, k0 + b)
        group_mw, need = window(hours)
        past = b + (hour - k0)
        group_mw[:past] = 0.0
        need[:past] = 0.0
        if not (need > _TOL).any():
            self.rows[hour - k0:] = False
            return
        forced = np.zeros((2, len(self.rot)), dtype=bool)
        forced[0] = self.prev & self.rot
        if mid:
            current = self.off & self.rot
            left = group_mw[:, current, :].sum(axis=1)
            if (left >= need - _TOL * np.maximum(need, 1.0)).all():
                group_mw[:, self.rot & ~current, :] = 0.0  # choose among those off
            else:
                forced[1] = current
        g = self.plan.groups
        problem = RotationProblem(group_mw, need, g.protected, g.island, b, forced, 0,
                                  self.counts.copy())
        key = hashlib.blake2b(b"".join(np.ascontiguousarray(a).tobytes() for a in (
            group_mw, need, forced, self.counts)) + self.plan.method.encode(),
            digest_size=20).digest()
        hit = self.solves.get(key)
        if hit is None:
            self.decisions += 1
            sol = solve_rotation(problem, self.plan.method, bound=False)
            hit = (sol.off[b:].copy(), np.flatnonzero(sol.short[b:].any(axis=1)),
                   np.flatnonzero(sol.uncovered_mw[b:].any(axis=1)))
            self.solves[key] = hit
            if len(self.solves) > SOLVES_KEPT:
                self.solves.popitem(last=False)
        else:
            self.solves.move_to_end(key)
        off, short, uncovered = hit
        keep = hour - k0
        self.rows[keep:] = off[keep:]
        self.short_hours.update(int(k0 + h) for h in short if h >= keep)
        self.uncovered_hours.update(int(k0 + h) for h in uncovered if h >= keep)

    def notes(self) -> list[str]:
        out = []
        if self.short_hours:
            out.append(f"rotation: supply did not allow every protected group in "
                       f"{len(self.short_hours)} hour(s); every rotation group was off and "
                       "protected groups were switched hour by hour")
        if self.uncovered_hours:
            out.append(f"rotation: in {len(self.uncovered_hours)} hour(s) even every group "
                       "off left demand above capacity; the engine shed the rest")
        return out


def group_table(plan: RotationPlan, times: np.ndarray, off: np.ndarray,
                t_end: float) -> pd.DataFrame:
    """Per group of a run: :attr:`RotationPlan.table` plus ``hours_off`` (exact),
    ``longest_off_h`` (longest continuous time off) and ``switching_operations`` (each
    switch-off and switch-on within the run).

    ``off`` (K, G) holds the groups off from each of ``times`` (K,) on, until ``t_end``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> plan = RotationPlan(None, 4, "auto", np.zeros((1, 0)), np.zeros(0, bool),
    ...                     pd.DataFrame({"group": ["1", "2"]}))
    >>> off = np.array([[1, 0], [0, 1], [1, 0]], dtype=bool)
    >>> group_table(plan, np.array([0.0, 4.0, 8.0]), off, 10.0)[
    ...     ["hours_off", "longest_off_h", "switching_operations"]].to_numpy().tolist()
    [[6.0, 4.0, 3.0], [4.0, 4.0, 2.0]]
    """
    table = plan.table.copy()
    times = np.asarray(times, dtype=float)
    g = len(table)
    off = np.asarray(off, dtype=bool).reshape(len(times), g)
    dt = np.maximum(np.diff(np.append(times, float(t_end))), 0.0)
    c = np.cumsum(off * dt[:, None], axis=0)
    runs = c - np.maximum.accumulate(np.where(off, 0.0, c), axis=0)
    before = np.vstack([np.zeros((1, g), dtype=bool), off])
    table["hours_off"] = dt @ off if len(times) else np.zeros(g)
    table["longest_off_h"] = runs.max(axis=0) if len(times) else np.zeros(g)
    table["switching_operations"] = (before[1:] != before[:-1]).sum(axis=0)
    return table
