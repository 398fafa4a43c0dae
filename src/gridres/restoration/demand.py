"""Demand and capacity over time in a restoration.

Without settings (:class:`DemandSettings` left at its defaults, no rotation) a
restoration assesses every event with the grid's static ``load_mw`` and its generators'
``pmax_mw``: the behaviour of :mod:`gridres.restoration.simulate` before demand had a
time, and still its default. With settings, :func:`timeline` compiles for a grid what
changes by the hour, and every run assesses each step with the engine on a network
derived for that hour (:meth:`gridres.model.Network.with_values`):

Calendar
    The event starts at ``start`` (ISO 8601; default
    :data:`gridres.deficit.DEFAULT_START`, a Monday at midnight in January). Time 0 of
    the simulation is the start; demand is constant within each clock hour, so the
    steps of the run change at every clock hour where the demand (or the capacity
    figure) changes, as well as at every failure and repair.
Demand
    A profile of :mod:`gridres.deficit.profiles` (``typical``, ``winter``,
    ``summer-weekend``, ..., or a file) gives each bus's load in every clock hour;
    ``season`` fixes the season of ``typical``; ``temperature_c`` (built-in profiles
    only) is a constant outside temperature during the event
    (:class:`~gridres.deficit.profiles.TemperatureSensitivity`). A profile file covers
    the hours it lists (every hour from its first to its last, none missing) and
    repeats after its last hour (a file of one day or week is a typical day or week);
    a file of times must cover the start.
Dispatch
    Each hour's generators follow its demand: every intact island's scheduled output is
    scaled by the ratio of its demand to its static demand, within the hour's capacity
    (:func:`gridres.deficit.capacity.follow_schedule`); the reference bus takes the rest
    and the engine redispatches where load is shed, as always.
Capacity
    Generators lost and repaired come from the simulation (they are failed elements).
    On top, in the order of :mod:`gridres.deficit.capacity`: ``derate`` (a share
    unavailable, or per kind or fuel), ``ties`` with ``import_limit_mw`` (the alive
    units beyond the tie branches give at most the limit), and ``capacity_file`` (MW per
    hour for the whole grid: every alive unit is scaled alike so that their total is at
    most the figure; after the file's last hour its last value holds).
Reference and losses
    Lost load is measured against the intact grid serving the hour's demand with all
    its generation, so the energy not served (``ens_mwh``) and customer-hours integrate
    the demand of the hours they fall in: an outage across a winter evening peak loses
    more than the same outage at night. Derating, import limits and a capacity file
    describe the event: their shortfall counts as lost, until the run ends (the last
    repair, or the horizon). ``deficit_mwh`` is the energy of the demand above capacity
    in energised islands.

Exactness and cost: every step is one engine assessment of (state, hour's network),
exactly as at an event. Hours with the same demand and capacity share one derived
network, and with it the engine's cached answers for the states met before
(:mod:`gridres.restoration.supply`): a typical profile has at most 96 distinct hours.
With a flat profile and no capacity settings the network is the grid's own, and every
number equals the static restoration's.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gridres.cascade import CascadeOptions
from gridres.deficit.capacity import (
    derating,
    follow_schedule,
    limit_units,
    outside_buses,
    read_capacity_series,
    tie_branches,
)
from gridres.deficit.profiles import (
    Demand,
    FileProfile,
    Profile,
    TemperatureSensitivity,
    TypicalProfile,
    distinct_demand,
    get_profile,
    hourly_times,
)
from gridres.deficit.schedule import DEFAULT_START
from gridres.errors import GridError, UsageError
from gridres.flow import dc_solver
from gridres.model import Grid, Network, State
from gridres.restoration.customers import bus_out_share, customer_outages
from gridres.restoration.rotation import (
    RotationPlan,
    RotationRun,
    RotationSettings,
    group_table,
    rotation_variant,
)
from gridres.restoration.supply import Supply, supply
from gridres.tolerances import SAME_TIME_H
from gridres.topology import effective, islands

__all__ = ["DemandSettings", "Timeline", "DemandRun", "DeficitRecord", "timeline",
           "static_timeline", "policy_runs"]

#: Derived hourly networks kept per grid network (least recently used dropped first).
NETWORKS_KEPT = 96
_TOL = 1e-9


@dataclass(frozen=True)
class DemandSettings:
    """Demand and capacity over time in a restoration (module notes). The defaults are
    the static behaviour.

    Parameters
    ----------
    profile : str, optional
        A built-in profile (:data:`gridres.deficit.PROFILE_NAMES`) or a CSV/Parquet
        profile file; None: the static load.
    start : str, optional
        When the event starts (ISO 8601); None: :data:`gridres.deficit.DEFAULT_START`.
    season : {"winter", "summer"}, optional
        Season of the ``typical`` profile (default: from the date).
    temperature_c : float, optional
        Outside temperature during the event (built-in profiles only).
    derate : float or mapping of str to float, optional
        Share of generating capacity unavailable, in all or per kind or fuel.
    ties : tuple of str
        Tie branches to an external supply (branch ids), with ``import_limit_mw``.
    import_limit_mw : float, optional
    capacity_file : str, optional
        Available MW per hour (columns ``time`` or ``hour``, ``capacity_mw``).
    """

    profile: str | None = None
    start: str | None = None
    season: str | None = None
    temperature_c: float | None = None
    derate: float | Mapping[str, float] | None = None
    ties: tuple[str, ...] = ()
    import_limit_mw: float | None = None
    capacity_file: str | None = None

    @property
    def capacity_given(self) -> bool:
        return (self.derate is not None or bool(self.ties) or self.import_limit_mw is not None
                or self.capacity_file is not None)


@dataclass(frozen=True, eq=False)
class Timeline:
    """What changes by the hour in a grid's restorations, compiled once (picklable; no
    grid inside). Build with :func:`timeline`; start each run with :meth:`start`.

    Attributes
    ----------
    start : pandas.Timestamp
        When the event starts.
    offset_h : float
        ``start`` minus its clock hour, in hours (run hour ``k`` begins at time
        ``k - offset_h``).
    first_clock_hour : int
        Clock hour (0-23) of run hour 0.
    shape_of : ndarray of int, shape (H,)
        Demand pattern of every run hour (the last holds beyond).
    shapes : Demand
        The distinct patterns (one hour each).
    load_mw : ndarray, shape (S, n_bus)
        The engine's bus loads of every pattern (negative loads kept).
    unit_mw : ndarray, shape (n_gen,)
        Capacity of every generator after derating.
    outside : ndarray of bool, shape (n_gen,)
        Generators beyond the tie branches.
    import_limit_mw : float or None
    figure_mw : ndarray, shape (H,), or None
        System capacity per run hour (a capacity file).
    rotation : RotationPlan or None
    profile, capacity : str
        What the demand and capacity are, in words (``capacity`` empty: the generators'
        own).
    flat : bool
        One demand pattern, the grid's static load.
    notes : tuple of str
    """

    start: pd.Timestamp
    offset_h: float
    first_clock_hour: int
    shape_of: np.ndarray
    shapes: Demand
    load_mw: np.ndarray
    unit_mw: np.ndarray
    outside: np.ndarray
    import_limit_mw: float | None
    figure_mw: np.ndarray | None
    pool: np.ndarray
    pool_static_mw: np.ndarray
    pool_sched_mw: np.ndarray
    bus_pool: np.ndarray
    changes_h: np.ndarray
    rotation: RotationPlan | None
    profile: str
    capacity: str
    flat: bool
    n_bus: int
    n_gen: int
    notes: tuple[str, ...] = ()

    @property
    def hours(self) -> int:
        return len(self.shape_of)

    def hour(self, t: float) -> int:
        """Run hour of time ``t`` (clipped to the hours compiled)."""
        k = math.floor(t + self.offset_h + SAME_TIME_H)
        return min(max(k, 0), self.hours - 1)

    def time_of(self, hour: int) -> float:
        """Time at which run hour ``hour`` begins (0 for hour 0)."""
        return max(0.0, hour - self.offset_h)

    @property
    def static(self) -> bool:
        """The static load and capacity, no rotation: every step on the grid's own
        network."""
        return self.flat and not self.capacity and self.rotation is None

    def without_rotation(self) -> Timeline:
        """The same timeline shedding by the engine's rule instead of rotating."""
        return dataclasses.replace(self, rotation=None)

    def matches(self, net: Network) -> bool:
        return net.n_bus == self.n_bus and net.n_gen == self.n_gen

    def __repr__(self) -> str:
        """Short: what the timeline is and a digest of its numbers (it names the
        evaluator of an ensemble in its manifest)."""
        rot = self.rotation
        rotation = ("None" if rot is None else
                    f"({len(rot.groups)} groups, {rot.block_h} h, {rot.method})")
        return (f"Timeline(profile={self.profile!r}, start={self.start.isoformat()!r}, "
                f"capacity={self.capacity!r}, rotation={rotation}, "
                f"digest={self.digest()!r})")

    def digest(self) -> str:
        """A short hash of everything that changes a run's numbers (for manifests)."""
        h = hashlib.sha256()
        for a in (self.shape_of, self.load_mw, self.unit_mw, self.outside,
                  np.zeros(0) if self.figure_mw is None else self.figure_mw):
            h.update(np.ascontiguousarray(a).tobytes())
        h.update(repr((self.start, self.import_limit_mw)).encode())
        if self.rotation is not None:
            g = self.rotation.groups
            for a in (g.part_bus, g.part_group, g.part_kind, g.protected):
                h.update(np.ascontiguousarray(a).tobytes())
            h.update(repr((self.rotation.block_h, self.rotation.method)).encode())
        return h.hexdigest()[:12]

    def start_run(self, net: Network, cascade: CascadeOptions) -> DemandRun:
        """A run's view of the timeline (its mutable state)."""
        if not self.matches(net):
            raise UsageError(f"the demand timeline was compiled for a grid of {self.n_bus} "
                             f"buses and {self.n_gen} generators, not for network "
                             f"{net.name!r}; build it with timeline(grid, ...) on that grid")
        return DemandRun(self, net, cascade)


def _profile(settings: DemandSettings, times: pd.DatetimeIndex) -> Profile:
    profile = get_profile(settings.profile)
    if settings.season is not None:
        if not isinstance(profile, TypicalProfile) or profile.season not in (None,
                                                                              settings.season):
            raise UsageError(f"season {settings.season!r} applies to the typical profile; "
                             f"profile {profile.name!r} has its own")
        profile = TypicalProfile(settings.season, profile.day)
    if settings.temperature_c is not None:
        t = float(settings.temperature_c)
        if not math.isfinite(t) or not -60.0 <= t <= 60.0:
            raise UsageError(f"The 'temperature_c' parameter must be a temperature from -60 "
                             f"to 60 degrees C. Got {settings.temperature_c!r} instead.")
        if not isinstance(profile, TypicalProfile):
            raise UsageError(f"temperature_c applies to the built-in profiles (typical, "
                             f"winter, ...), not to {profile.name!r}")
        series = pd.Series(t, index=times)
        profile = TypicalProfile(profile.season, profile.day, TemperatureSensitivity(series))
    return profile


def _demand(grid: Grid, profile: Profile, start: pd.Timestamp,
            times: pd.DatetimeIndex) -> tuple[Demand, np.ndarray, list[str]]:
    """Distinct demand patterns and the pattern of every run hour."""
    notes: list[str] = []
    if not isinstance(profile, FileProfile):
        shapes, index = distinct_demand(profile, grid, times)
        return shapes, index, notes
    covered = profile.covered_times(times[0])
    shapes, index = distinct_demand(profile, grid, covered)
    first = int(round((times[0] - covered[0]) / pd.Timedelta(hours=1)))
    if first < 0 or first >= len(covered):
        raise GridError(f"{profile.path}: the profile covers {covered[0]} to {covered[-1]}; "
                        f"the event starts at {start}: give a profile that covers the start")
    pos = (first + np.arange(len(times))) % len(covered)
    if first + len(times) > len(covered):
        notes.append(f"the profile file covers {len(covered)} h; it repeats after its last "
                     "hour")
    return shapes, index[pos], notes


def _figure(path: str, times: pd.DatetimeIndex) -> tuple[np.ndarray, list[str]]:
    """Capacity per run hour from a file: every hour from its first to its last, from the
    start on; the last value holds after."""
    series = read_capacity_series(path)
    if pd.api.types.is_integer_dtype(series.index):
        full = pd.Index(np.arange(int(series.index.max()) + 1))
        at = np.arange(len(times))
    else:
        full = pd.date_range(series.index.min(), series.index.max(), freq="h")
        if times[0] < full[0] or times[0] > full[-1]:
            raise GridError(f"{path}: the capacity file covers {full[0]} to {full[-1]}; the "
                            f"event starts at {times[0]}: give capacity from the start")
        at = int(round((times[0] - full[0]) / pd.Timedelta(hours=1))) + np.arange(len(times))
    got = series.reindex(full)
    if got.isna().any():
        k = int(np.flatnonzero(got.isna().to_numpy())[0])
        raise GridError(f"{path}: no capacity_mw for {full[k]}; give a row for every hour "
                        f"from {full[0]} to {full[-1]}")
    values = got.to_numpy(float)
    notes = []
    if at[-1] >= len(values):
        notes.append(f"the capacity file ends after {len(values) - at[0]} h of the event; "
                     "its last value holds after")
    return values[np.minimum(at, len(values) - 1)], notes


def timeline(grid: Grid, demand: DemandSettings | None = None,
             rotation: RotationSettings | None = None, *,
             horizon_h: float = 8760.0) -> Timeline:
    """Compile demand, capacity and rotation over time for ``grid`` (module notes).

    Parameters
    ----------
    grid : Grid
    demand : DemandSettings, optional
        None: the static load and capacity.
    rotation : RotationSettings, optional
        Share a deficit by rotating groups (:mod:`gridres.restoration.rotation`).
    horizon_h : float
        Hours a run may last (the restoration's ``horizon_h``).

    Returns
    -------
    Timeline

    Raises
    ------
    UsageError
        Unknown profile, bad start, season or temperature, impossible capacity options
        or groups.
    GridError
        An invalid profile, capacity or groups file (a negative factor, a missing hour).
    InputNotFound
        A file that does not exist.

    Examples
    --------
    >>> from gridres.io import load_grid
    >>> tl = timeline(load_grid("ieee14"), DemandSettings(profile="winter",
    ...               start="2025-01-08T17:30"), horizon_h=48)
    >>> tl.hours, len(tl.load_mw), tl.offset_h, tl.first_clock_hour
    (50, 24, 0.5, 17)
    """
    net = grid.network
    settings = demand or DemandSettings()
    if not (isinstance(horizon_h, int | float) and math.isfinite(horizon_h) and horizon_h > 0):
        raise UsageError(f"The 'horizon_h' parameter must be a number > 0. Got {horizon_h!r} "
                         "instead.")
    start = hourly_times(settings.start or DEFAULT_START, 1)[0]
    hour0 = start.floor("h")
    offset = float((start - hour0) / pd.Timedelta(hours=1))
    n_hours = int(math.ceil(horizon_h + offset)) + 1
    times = hourly_times(hour0, n_hours)
    profile = _profile(settings, times)
    shapes, shape_of, notes = _demand(grid, profile, start, times)
    use = net.bus_in_service & (net.load_mw >= 0)
    load = np.where(use[None, :], shapes.bus_mw, net.load_mw[None, :])

    unit = net.gen_pmax_mw * derating(grid, settings.derate)
    words = []
    if settings.derate is not None:
        words.append("derated")
    outside = np.zeros(net.n_gen, dtype=bool)
    if settings.ties or settings.import_limit_mw is not None:
        tie_pos = tie_branches(grid, settings.ties, settings.import_limit_mw)
        buses = outside_buses(grid, net.intact(), tie_pos, shapes)
        outside = buses[net.gen_bus] & net.gen_in_service
        words.append(f"imports through {len(tie_pos)} tie branch(es) at most "
                     f"{settings.import_limit_mw:g} MW")
    figure = None
    if settings.capacity_file is not None:
        figure, more = _figure(settings.capacity_file, times)
        notes += more
        words.append("capacity per hour from a file")

    island = islands(net, net.intact())
    pool = np.where(net.gen_in_service, island[net.gen_bus], -1)
    n_pool = int(island.max()) + 1 if (island >= 0).any() else 0
    alive = island >= 0
    static_bus = np.where(net.bus_in_service, np.maximum(net.load_mw, 0.0) + net.fixed_mw, 0.0)
    pool_static = np.bincount(island[alive], weights=static_bus[alive], minlength=n_pool)
    on = pool >= 0
    pool_sched = np.bincount(pool[on], weights=np.maximum(net.gen_p_mw[on], 0.0),
                             minlength=n_pool)
    key = shape_of if figure is None else shape_of * (len(np.unique(figure)) + 1) + \
        np.unique(figure, return_inverse=True)[1]
    changes = np.flatnonzero(np.diff(key) != 0) + 1
    plan = None
    if rotation is not None:
        plan = RotationPlan.build(grid, rotation, shapes)
    flat = len(load) == 1 and np.array_equal(load[0], net.load_mw)
    return Timeline(start, offset, int(hour0.hour), shape_of.astype(np.int64), shapes, load,
                    unit, outside, settings.import_limit_mw, figure, pool, pool_static,
                    pool_sched, island, changes.astype(float) - offset, plan,
                    profile.name, ", ".join(words), flat, net.n_bus, net.n_gen, tuple(notes))


def static_timeline(net: Network) -> Timeline:
    """The static load and capacity of ``net``: the timeline of a restoration without
    demand settings (kept with the network)."""
    hit = net.__dict__.get("_static_timeline")
    if hit is None:
        hit = net.__dict__["_static_timeline"] = _static(net)
    return hit


def _static(net: Network) -> Timeline:
    island = islands(net, net.intact())
    pool = np.where(net.gen_in_service, island[net.gen_bus], -1)
    d = Demand(pd.DatetimeIndex([pd.Timestamp(DEFAULT_START)]),
               np.maximum(net.load_mw, 0.0)[None, :], np.zeros((1, net.n_bus)),
               net.fixed_mw.copy(), "flat")
    return Timeline(pd.Timestamp(DEFAULT_START), 0.0, 0, np.zeros(1, dtype=np.int64), d,
                    net.load_mw[None, :].copy(), net.gen_pmax_mw.copy(),
                    np.zeros(net.n_gen, dtype=bool), None, None, pool, np.zeros(0),
                    np.zeros(0), island, np.zeros(0), None, "flat", "", True, net.n_bus,
                    net.n_gen)


def policy_runs(policies: Sequence[str],
                tl: Timeline | None) -> list[tuple[str, str, Timeline | None]]:
    """The runs that compare ``policies`` under ``tl``: ``(name, policy, timeline)``.

    Each policy sheds a deficit by the engine's rule under its own name; with a rotation
    in ``tl`` it runs again rotating groups, as ``POLICY+rotation``
    (:func:`gridres.restoration.rotation.rotation_variant`), with the same repair times.

    Examples
    --------
    >>> [r[0] for r in policy_runs(["greedy"], None)]
    ['greedy']
    """
    if tl is None or tl.rotation is None:
        return [(p, p, tl) for p in policies]
    shed = tl.without_rotation()
    return ([(p, p, shed) for p in policies]
            + [(rotation_variant(p), p, tl) for p in policies])


# -- one run ------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class DeficitRecord:
    """Demand, capacity and rotation of one run, hour by hour.

    Attributes
    ----------
    hours : pandas.DataFrame
        One row per clock hour the run spans: ``hour`` (run hour), ``time`` (ISO),
        ``demand_mw``, ``capacity_mw`` (alive generation in energised islands),
        ``served_mw``, ``shortfall_mw`` (demand above capacity in energised islands),
        ``switched_mw`` (load switched off by rotation) as means over the hour, and
        ``off`` (groups off at some time in the hour, ``;``-joined).
    groups : pandas.DataFrame or None
        With rotation: per group ``group``, ``protected``, ``buses``, ``load_mw``,
        ``customers``, ``hours_off``, ``longest_off_h``, ``switching_operations``.
    off_share : ndarray, shape (hours, G), or None
        Share of every clock hour each group is off.
    block_h : int or None
    profile, capacity : str
    """

    hours: pd.DataFrame
    groups: pd.DataFrame | None
    off_share: np.ndarray | None
    block_h: int | None
    profile: str
    capacity: str

    def table(self) -> pd.DataFrame:
        """The rotation as published: one row per group and hour, ``group``, ``hour``,
        ``time``, ``off`` (bool: off at some time in the hour), ``off_share``."""
        if self.groups is None or self.off_share is None:
            return pd.DataFrame(columns=["group", "hour", "time", "off", "off_share"])
        h, g = self.off_share.shape
        return pd.DataFrame({
            "group": np.tile(self.groups["group"].to_numpy(dtype=object), h),
            "hour": np.repeat(self.hours["hour"].to_numpy(), g),
            "time": np.repeat(self.hours["time"].to_numpy(), g),
            "off": self.off_share.reshape(-1) > 0,
            "off_share": self.off_share.reshape(-1).round(6),
        })

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"profile": self.profile, "capacity": self.capacity or "generation alive",
                               "hours": self.hours.round(6).to_dict(orient="records")}
        if self.groups is not None:
            doc["block_h"] = self.block_h
            doc["groups"] = self.groups.round(6).to_dict(orient="records")
        return doc


class DemandRun:
    """One run's view of a :class:`Timeline`: the network of every hour, the reference,
    the rotation's state, and what the run recorded (module notes)."""

    def __init__(self, tl: Timeline, net: Network, cascade: CascadeOptions) -> None:
        self.tl, self.net, self.cascade = tl, net, cascade
        self._refs: dict[int, Supply] = {}
        self._nets: OrderedDict = net.__dict__.setdefault("_timeline_networks", OrderedDict())
        if cascade.flows_matter and not tl.static:
            dc_solver(net)  # factorised once: every derived network shares it
        self.rotation = None
        if tl.rotation is not None:
            self.rotation = RotationRun(tl.rotation, tl.first_clock_hour,
                                        net.__dict__.setdefault("_rotation_solves",
                                                                OrderedDict()))
            g = tl.rotation.groups
            self._part_bus, self._part_group = g.part_bus, g.part_group
        self.times: list[float] = []
        self.shares: list[tuple[np.ndarray, np.ndarray]] = []
        self.rows: list[tuple] = []  # (demand, capacity, served, shortfall, switched, off)
        self._now: dict[str, Any] = {}
        self._topo: tuple | None = None
        self._share = np.zeros(net.n_bus)  # of the last step recorded

    # -- hours --------------------------------------------------------------------------
    def next_change(self, t: float) -> float:
        """The first time after ``t`` at which the hour's demand, capacity or (with
        rotation) block changes; inf if none."""
        tl = self.tl
        out = math.inf
        i = int(np.searchsorted(tl.changes_h, t + SAME_TIME_H, side="right"))
        if i < len(tl.changes_h):
            out = float(tl.changes_h[i])
        if self.rotation is not None:
            k = tl.hour(t)
            nxt = self.rotation.first_hour(self.rotation.block_of(k) + 1)
            if nxt < tl.hours:
                out = min(out, tl.time_of(nxt))
        return out

    def _capacity(self, hour: int, gen_alive: np.ndarray) -> np.ndarray:
        tl = self.tl
        figure = None if tl.figure_mw is None else tl.figure_mw[[hour]]
        cap, _ = limit_units(tl.unit_mw[None, :], gen_alive & self.net.gen_in_service,
                             tl.outside, tl.import_limit_mw, figure)
        return cap[0]

    def _derived(self, load: np.ndarray, cap: np.ndarray) -> Network:
        net, tl = self.net, self.tl
        if np.array_equal(load, net.load_mw) and np.array_equal(cap, net.gen_pmax_mw):
            return net
        key = hashlib.blake2b(load.tobytes() + cap.tobytes(), digest_size=20).digest()
        hit = self._nets.get(key)
        if hit is not None:
            self._nets.move_to_end(key)
            return hit
        alive = tl.bus_pool >= 0
        pool_now = np.bincount(tl.bus_pool[alive], weights=np.where(
            net.bus_in_service, np.maximum(load, 0.0) + net.fixed_mw, 0.0)[alive],
            minlength=len(tl.pool_static_mw))
        ratio = np.divide(pool_now, tl.pool_static_mw, out=np.ones_like(pool_now),
                          where=tl.pool_static_mw > 0)
        on = tl.pool >= 0
        p = net.gen_p_mw.copy()
        p[on] = follow_schedule(net.gen_p_mw[on], cap[on], tl.pool[on],
                                tl.pool_sched_mw * ratio)
        hit = net.with_values(load_mw=load, gen_p_mw=p, gen_pmax_mw=cap)
        self._nets[key] = hit
        if len(self._nets) > NETWORKS_KEPT:
            self._nets.popitem(last=False)
        return hit

    def network(self, t: float, gen_alive: np.ndarray) -> Network:
        """The network of the hour of ``t`` with the capacity of the generators alive,
        without rotation (what a repair policy weighs)."""
        if self.tl.static:
            return self.net
        k = self.tl.hour(t)
        return self._derived(self.tl.load_mw[self.tl.shape_of[k]], self._capacity(k, gen_alive))

    def reference(self, t: float) -> Supply:
        """The intact grid serving the demand of the hour of ``t`` with all its
        generation: what lost load is measured against."""
        s = int(self.tl.shape_of[self.tl.hour(t)])
        hit = self._refs.get(s)
        if hit is None:
            # shared by every run on this network with the same demand and cascade option
            # (read only; kept with the network, as its derived networks are, not pickled)
            row = self.tl.load_mw[s]
            shared = self.net.__dict__.setdefault("_timeline_references", OrderedDict())
            key = (row.tobytes(), self.cascade)
            hit = shared.get(key)
            if hit is None:
                net = self.net
                if not np.array_equal(row, net.load_mw):
                    net = self._derived(row, net.gen_pmax_mw.copy())
                hit = shared[key] = supply(net, net.intact(), self.cascade)
                if len(shared) > 64:
                    shared.popitem(last=False)
            self._refs[s] = hit
        return hit

    # -- assessments ----------------------------------------------------------------------
    def _topology(self, state: State) -> tuple[State, np.ndarray]:
        """Effective state and island labels of ``state`` (the last state's kept: hours
        change more often than states)."""
        key = state.bus.tobytes() + state.branch.tobytes() + state.gen.tobytes()
        if self._topo is None or self._topo[0] != key:
            self._topo = (key, effective(self.net, state), islands(self.net, state))
        return self._topo[1], self._topo[2]

    def _window(self, state: State, energized: np.ndarray, gen_alive: np.ndarray):
        """Loads and shortfall per island of given run hours in ``state`` (for the
        rotation)."""
        tl, net = self.tl, self.net
        eff, label = self._topology(state)
        lit_isl = np.unique(label[energized & (label >= 0)])
        col = np.full(int(label.max()) + 2 if len(label) else 1, -1)
        col[lit_isl] = np.arange(len(lit_isl))
        plan = tl.rotation
        part_col = col[label[self._part_bus]] if len(self._part_bus) else np.zeros(0, int)
        bus_col = np.where(label >= 0, col[label], -1)
        gen_col = np.where(eff.gen, bus_col[net.gen_bus], -1)
        n_i, n_g = len(lit_isl), len(plan.groups)
        fixed = np.where(net.bus_in_service, net.fixed_mw, 0.0)

        def window(hours: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            gm = np.zeros((len(hours), n_g, max(n_i, 1)))
            need = np.zeros((len(hours), max(n_i, 1)))
            if n_i == 0:
                return gm, need
            inside = part_col >= 0
            for r, k in enumerate(hours):
                if k < 0 or k >= tl.hours:
                    continue
                s = tl.shape_of[k]
                np.add.at(gm[r], (self._part_group[inside], part_col[inside]),
                          plan.part_mw[s][inside])
                dem = np.where(bus_col >= 0, np.maximum(tl.load_mw[s], 0.0) + fixed, 0.0)
                d_isl = np.bincount(bus_col[bus_col >= 0], weights=dem[bus_col >= 0],
                                    minlength=n_i)
                cap = self._capacity(int(k), gen_alive)
                c_isl = np.bincount(gen_col[gen_col >= 0], weights=cap[gen_col >= 0],
                                    minlength=n_i)
                need[r] = np.maximum(d_isl - c_isl, 0.0)
                need[r][need[r] <= 1e-9 * np.maximum(d_isl, 1.0)] = 0.0
            return gm, need

        return window

    def assess(self, t: float, state: State, live: np.ndarray, event: bool) -> Supply:
        """The engine's answer at ``t`` in ``state`` (from the buses energised ``live``):
        the hour's network, and with rotation the groups off left out. ``event``: a
        failure or repair happened at ``t`` (the rotation plans the rest of the block
        again)."""
        tl = self.tl
        gen_alive = state.gen
        k = tl.hour(t)
        hnet = self.network(t, gen_alive)
        off = None
        switched = None
        if self.rotation is not None:
            plain = supply(hnet, state, self.cascade, live=live)
            window = self._window(state, plain.energized, gen_alive)
            off = self.rotation.step(k, event, window)
            if off.any():
                part_off = off[self._part_group]
                s = tl.shape_of[k]
                switched = np.bincount(self._part_bus[part_off],
                                       weights=tl.rotation.part_mw[s][part_off],
                                       minlength=self.net.n_bus)
                load = np.where(switched > 0, hnet.load_mw - switched, hnet.load_mw)
                rnet = self._derived(load, hnet.gen_pmax_mw)
                now = supply(rnet, state, self.cascade, live=live)
            else:
                now = plain
        else:
            now = supply(hnet, state, self.cascade, live=live)
        self._now = {"state": state, "hnet": hnet, "off": off, "switched": switched,
                     "hour": k}
        return now

    def record(self, t: float, now: Supply) -> float:
        """Record the step from ``t`` on (replacing a step at the same time, as the run's
        curve does); return the customers without power."""
        tl, net = self.tl, self.net
        ref = self.reference(t)
        ctx = self._now
        hnet = ctx.get("hnet", net)
        switched, off = ctx.get("switched"), ctx.get("off")
        out_bus = None
        if switched is not None:
            part_off = off[self._part_group] & tl.rotation.holds_customers
            out_bus = np.zeros(net.n_bus, dtype=bool)
            out_bus[self._part_bus[part_off]] = True
        share = self._share = bus_out_share(net, ref.served_mw, ref.energized,
                                            now.served_mw, now.energized, hnet.load_mw,
                                            switched, out_bus)
        pos = np.flatnonzero(share > 0)
        k = ctx.get("hour", tl.hour(t))
        demand = float(np.where(net.bus_in_service, np.maximum(tl.load_mw[tl.shape_of[k]], 0.0)
                                + net.fixed_mw, 0.0).sum())
        state = ctx.get("state")
        capacity = shortfall = 0.0
        if state is not None:
            eff, label = self._topology(state)
            on = eff.gen & now.energized[net.gen_bus]
            capacity = float(hnet.gen_pmax_mw[on].sum())
            lit = now.energized & (label >= 0)
            if lit.any():
                n_i = int(label.max()) + 1
                dem = np.where(lit, np.maximum(hnet.load_mw, 0.0) + net.fixed_mw, 0.0)
                d_isl = np.bincount(label[lit], weights=dem[lit], minlength=n_i)
                c_isl = np.bincount(label[net.gen_bus[on]], weights=hnet.gen_pmax_mw[on],
                                    minlength=n_i)
                shortfall = float(np.maximum(d_isl - c_isl, 0.0)[np.unique(label[lit])].sum())
        row = (demand, capacity, now.total_mw, shortfall,
               0.0 if switched is None else float(switched.sum()),
               None if off is None else off.copy())
        item = (pos, share[pos])
        if self.times and abs(self.times[-1] - t) <= SAME_TIME_H:
            self.shares[-1], self.rows[-1] = item, row
        else:
            self.times.append(t)
            self.shares.append(item)
            self.rows.append(row)
        return float((net.customers[pos] * share[pos]).sum())

    def share_now(self) -> np.ndarray:
        """Share of each bus's customers without power at the last step recorded, shape
        (n_bus,); read only."""
        return self._share

    # -- the end ------------------------------------------------------------------------
    def finish(self, result: Any, counted: np.ndarray) -> Any:
        """``result`` (a :class:`~gridres.restoration.interface.RestorationResult`) with
        the measures per customer (:mod:`gridres.restoration.customers`; ``counted``:
        buses energised before the event), ``deficit_mwh``, ``switched_mwh`` and the
        run's :class:`DeficitRecord`."""
        tl, net = self.tl, self.net
        t_end = float(result.metrics["end_h"])
        times = np.asarray(self.times, dtype=float)
        dt = np.maximum(np.diff(np.append(times, t_end)), 0.0)
        vals = np.array([r[:5] for r in self.rows], dtype=float).reshape(len(self.rows), 5)
        metrics = dict(result.metrics)
        metrics.update(customer_outages(times, self.shares, t_end, net.customers, counted))
        metrics["deficit_mwh"] = float(dt @ vals[:, 3])
        metrics["switched_mwh"] = float(dt @ vals[:, 4])
        notes = list(result.notes)
        # the last clock hour the run reaches into
        last = min(max(math.ceil(t_end + tl.offset_h - SAME_TIME_H) - 1, 0), tl.hours - 1)
        hours = pd.DataFrame(_hour_means(tl, times, vals, t_end, last),
                             columns=["demand_mw", "capacity_mw", "served_mw", "shortfall_mw",
                                      "switched_mw"])
        hours.insert(0, "time", (tl.start.floor("h") + pd.to_timedelta(
            np.arange(last + 1), unit="h")).strftime("%Y-%m-%dT%H:%M"))
        hours.insert(0, "hour", np.arange(last + 1))
        groups = off_share = block = None
        if self.rotation is not None:
            plan = tl.rotation
            n_g = len(plan.groups)
            off = np.array([np.zeros(n_g, bool) if r[5] is None else r[5] for r in self.rows],
                           dtype=bool).reshape(len(self.rows), n_g)
            off_share = _hour_means(tl, times, off.astype(float), t_end, last)
            hours["off"] = [";".join(plan.groups.ids[j] for j in np.flatnonzero(r > _TOL))
                            for r in off_share]
            groups = group_table(plan, times, off, t_end)
            block = plan.block_h
            notes += self.rotation.notes()
        record = DeficitRecord(hours, groups, off_share, block, tl.profile, tl.capacity)
        return dataclasses.replace(result, metrics=metrics, deficit=record,
                                   notes=tuple(dict.fromkeys(notes + list(tl.notes))))


def _hour_means(tl: Timeline, times: np.ndarray, vals: np.ndarray, t_end: float,
                last: int) -> np.ndarray:
    """Means of the step values ``vals`` (K, m) (from each of ``times`` on, until
    ``t_end``) over run hours 0..``last``, each within the run; shape (last + 1, m)."""
    edges = np.clip([tl.time_of(k) for k in range(last + 1)] + [t_end], 0.0, t_end)
    out = np.zeros((last + 1, vals.shape[1]))
    if not len(times):
        return out
    cuts = np.unique(np.concatenate([times, edges]))
    cuts = cuts[cuts < t_end]
    idx = np.searchsorted(times, cuts, side="right") - 1
    step = np.where(idx[:, None] >= 0, vals[np.clip(idx, 0, None)], 0.0)
    seg = np.diff(np.append(cuts, t_end))
    which = np.clip(np.searchsorted(edges, cuts, side="right") - 1, 0, last)
    np.add.at(out, which, step * seg[:, None])
    width = np.diff(edges)[:, None]
    return np.divide(out, width, out=np.zeros_like(out), where=width > 0)
