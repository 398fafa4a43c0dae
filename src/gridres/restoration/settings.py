"""Parameters of a restoration simulation, declared and checked in one place.

:class:`RestorationSettings` holds everything a planner sets: repair hours by kind of
equipment, per-asset overrides, repair-time uncertainty, crews and their travel, spare
stock and lead times, the horizon, the knobs of the ``greedy`` and ``optimal``
policies, and the fleets that keep critical facilities powered while the grid is down
(fuel trucks for their backup generators, mobile generators; the rules are in
:mod:`gridres.restoration.fleets`). Every value is validated when the settings are built; an impossible value
raises :class:`~gridres.errors.UsageError` with a message like "The 'crews' parameter
of restoration must be an int >= 1. Got 0 instead."
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from gridres.elements import element_token
from gridres.errors import UsageError

__all__ = [
    "EQUIPMENT_KINDS",
    "DEFAULT_FACILITY_PRIORITY",
    "MOBILE_DISPATCH",
    "RestorationSettings",
    "check_param",
]

#: Kinds of equipment a repair is for. Branches are ``line`` or ``transformer`` (the
#: grid's ``kind`` column); a failed bus is a ``bus`` (a substation bus bar and its bay);
#: a failed generator is a ``generator``.
EQUIPMENT_KINDS = ("line", "transformer", "bus", "generator")

#: Rank of a facility kind for the ``critical-first`` policy: lower is restored first.
DEFAULT_FACILITY_PRIORITY: dict[str, int] = {
    "hospital": 1,
    "emergency": 2,
    "water": 3,
    "telecom": 4,
    "heating": 5,
    "shelter": 6,
    "other": 7,
}

#: Rules that send mobile generators to dark facilities (see
#: :mod:`gridres.restoration.fleets`).
MOBILE_DISPATCH = ("critical-first", "people-per-mw", "nearest")


def check_param(ok: bool, name: str, must: str, got: object) -> None:
    """Raise the standard parameter error unless ``ok``.

    Examples
    --------
    >>> check_param(False, "crews", "an int >= 1", 0)
    Traceback (most recent call last):
    ...
    gridres.errors.UsageError: The 'crews' parameter of restoration must be an int >= 1. Got 0 instead.
    """
    if not ok:
        raise UsageError(
            f"The {name!r} parameter of restoration must be {must}. Got {got!r} instead."
        )


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and not math.isnan(v)


def _place(d: Any) -> bool:
    return isinstance(d, str) and d != "" or (
        isinstance(d, tuple | list) and len(d) == 2 and all(_is_num(v) for v in d))


def _places(value: Any, name: str) -> tuple:
    """Depots as a tuple of bus ids and ``(x, y)`` pairs (checked)."""
    depots = tuple(value) if not isinstance(value, str) else (value,)
    for d in depots:
        check_param(_place(d), name, "a list of bus ids or (x, y) pairs", d)
    return tuple(d if isinstance(d, str) else (float(d[0]), float(d[1])) for d in depots)


def _mobile_unit(u: Any) -> tuple[float, Any]:
    """One mobile generator as ``(mw, depot)``, depot ``""`` for the crews' first."""
    must = "ratings in MW > 0 or tables {mw = MW, depot = BUS or [x, y]}"
    if isinstance(u, Mapping):
        unknown = set(u) - {"mw", "depot"}
        check_param(not unknown and "mw" in u, "mobile_generators", must, dict(u))
        mw, depot = u["mw"], u.get("depot", "")
    elif isinstance(u, tuple | list) and len(u) == 2 and _is_num(u[0]):
        mw, depot = u
    else:
        mw, depot = u, ""
    check_param(_is_num(mw) and 0 < mw < math.inf, "mobile_generators", must, u)
    if depot != "":
        check_param(_place(depot), "mobile_generators",
                    "given a depot that is a bus id or an (x, y) pair", depot)
        depot = depot if isinstance(depot, str) else (float(depot[0]), float(depot[1]))
    return float(mw), depot


@dataclass(frozen=True)
class RestorationSettings:
    """How repairs, crews and spares behave. Frozen; validated on construction.

    Parameters
    ----------
    crews : int
        Repair crews working at once (default 3).
    depots : tuple
        Where crews start: bus ids (``"B12"``) or ``(x, y)`` coordinates in the grid's
        CRS (lon/lat for EPSG:4326). Crews are spread over the depots in turn (crew
        ``c`` starts at depot ``c mod len(depots)``). Empty (default): the bus nearest
        the centroid of the grid's bus locations.
    speed_kmh : float
        Average travel speed of a crew (default 40 km/h: utility trucks on a mix of
        rural and urban roads after a storm, below posted limits).
    road_factor : float
        Road distance over straight-line distance (default 1.3; road-network circuity
        factors are typically 1.2-1.4, Ballou, Rahardja & Sakai 2002). Travel time is
        ``distance_km × road_factor / speed_kmh``. Without coordinates travel is 0.
    line_fixed_h, line_h_per_km : float
        Repair hours of a line: ``line_fixed_h + line_h_per_km × length_km`` (defaults
        4 h + 0.2 h/km, so a 30 km line takes 10 h, the permanent-outage duration the
        IEEE Reliability Test System (1979) gives for most of its lines).
    default_line_km : float
        Length used where ``length_km`` is missing, as in MATPOWER cases (default 30 km).
    transformer_h : float
        Hours to replace a transformer with a spare on site (default 72 h).
    bus_h : float
        Hours to repair a failed bus or substation bay (default 24 h; an assumption of
        one working day for switchgear, not taken from a standard).
    generator_h : float
        Hours to return a failed generating unit (default 50 h, typical of the unit
        repair times of the IEEE Reliability Test System, 20-150 h).
    repair_h : mapping of str to float
        Per-asset repair hours by element token (``{"branch:L7": 36.0}``). A column
        ``repair_h`` in the grid's bus, branch or generator table does the same (NaN:
        no override); this mapping wins over the column.
    repair_sigma : float
        Spread of repair-time uncertainty: each repair's hours are multiplied by a
        lognormal factor with mean 1 and log-standard deviation ``repair_sigma``, drawn
        from the simulation's seed (default 0: deterministic).
    spare_stock : mapping of str to int
        Spares on hand at the start, per equipment kind (default 2 transformers).
    spare_lead_time_h : mapping of str to float
        Hours from ordering a spare to its arrival, per kind (default: transformer
        768 h, the transformer repair time of the IEEE Reliability Test System (1979),
        i.e. the time to get a unit back without a spare; bus 168 h; line and
        generator 72 h). Replenishment is one-for-one: each failure that needs a spare
        orders one at the time of failure.
    needs_spare : tuple of str
        Kinds whose repair consumes a spare. Transformers always do; add ``"bus"``
        (substations), ``"generator"`` or ``"line"`` as needed.
    horizon_h : float
        The simulation stops here even if repairs remain (default 8760 h, a year).
    facility_priority : mapping of str to int
        Rank of each facility kind for ``critical-first`` (lower first); kinds not
        listed rank after every listed kind. Default :data:`DEFAULT_FACILITY_PRIORITY`.
    greedy_max_candidates : int
        ``greedy`` evaluates at most this many candidate repairs exactly per decision,
        the most promising by a bound on the MW they could reconnect (default 60).
    optimal_max_jobs : int
        ``optimal`` solves its MILP when at most this many repairs are open (pending
        or under way) at a planning time; above it falls back to ``greedy`` and says so
        in the result's notes (default 8).
    optimal_time_limit_s : float
        Time limit of one MILP solve (default 60 s); on reaching it the best plan
        found is used and the notes say so.
    fuel_trucks : int
        Fuel trucks that refill the tanks of facilities' backup generators (default 0:
        no refuelling, a backup runs for its ``backup_hours`` in all). A facility's tank
        holds ``backup_hours`` at its ``demand_mw``.
    fuel_depots : tuple
        Where fuel trucks load, as ``depots`` (bus ids or ``(x, y)``); truck ``k`` is
        based at depot ``k mod len(fuel_depots)`` and returns there after every delivery.
        Empty (default): the crews' depots.
    fuel_truck_l : float
        Litres one truck delivers per trip at most (default 30,000 l, a road tanker).
    fuel_stock_l : float
        Fuel in the depots at the start, litres, shared by every truck (default ``inf``);
        when it is used up, trucks stop delivering.
    fuel_l_per_mwh : float
        Diesel burnt per MWh a backup generator produces (default 270 l/MWh, a
        generator set at full load, about 0.27 l/kWh).
    refuel_h : float
        Hours a truck spends on site to refill a tank (default 1 h).
    refuel_call_h : float
        A facility running on its backup calls for fuel when its tank holds this many
        hours or less (default 24 h; at once when the tank holds less).
    mobile_generators : tuple
        Mobile generators, each a rating in MW, a table ``{mw = 2.0, depot = "B12"}``
        or a pair ``(mw, depot)`` (depot as in ``depots``; empty: the crews' first
        depot). A unit powers one facility whose ``demand_mw`` it covers.
    mobile_connect_h : float
        Hours from a mobile generator's arrival on site until it powers the facility
        (default 2 h).
    mobile_dispatch : str
        How free mobile generators choose among dark facilities, one of
        :data:`MOBILE_DISPATCH` (default ``critical-first``); a policy name
        ``CREW/RULE`` (``greedy/nearest``) sets it per policy.

    Examples
    --------
    >>> s = RestorationSettings(crews=4, spare_stock={"transformer": 1})
    >>> s.spares_for("transformer")
    (1, 768.0)
    >>> RestorationSettings(crews=0)
    Traceback (most recent call last):
    ...
    gridres.errors.UsageError: The 'crews' parameter of restoration must be an int >= 1. Got 0 instead.
    """

    crews: int = 3
    depots: tuple = ()
    speed_kmh: float = 40.0
    road_factor: float = 1.3
    line_fixed_h: float = 4.0
    line_h_per_km: float = 0.2
    default_line_km: float = 30.0
    transformer_h: float = 72.0
    bus_h: float = 24.0
    generator_h: float = 50.0
    repair_h: Mapping[str, float] = field(default_factory=dict)
    repair_sigma: float = 0.0
    spare_stock: Mapping[str, int] = field(default_factory=lambda: {"transformer": 2})
    spare_lead_time_h: Mapping[str, float] = field(
        default_factory=lambda: {"transformer": 768.0, "bus": 168.0, "line": 72.0,
                                 "generator": 72.0}
    )
    needs_spare: tuple[str, ...] = ("transformer",)
    horizon_h: float = 8760.0
    facility_priority: Mapping[str, int] = field(
        default_factory=lambda: dict(DEFAULT_FACILITY_PRIORITY)
    )
    greedy_max_candidates: int = 60
    optimal_max_jobs: int = 8
    optimal_time_limit_s: float = 60.0
    fuel_trucks: int = 0
    fuel_depots: tuple = ()
    fuel_truck_l: float = 30000.0
    fuel_stock_l: float = math.inf
    fuel_l_per_mwh: float = 270.0
    refuel_h: float = 1.0
    refuel_call_h: float = 24.0
    mobile_generators: tuple = ()
    mobile_connect_h: float = 2.0
    mobile_dispatch: str = "critical-first"

    def __post_init__(self) -> None:
        check_param(_is_int(self.crews) and self.crews >= 1, "crews", "an int >= 1", self.crews)
        object.__setattr__(self, "depots", _places(self.depots, "depots"))
        for name in ("speed_kmh", "road_factor"):
            v = getattr(self, name)
            check_param(_is_num(v) and v > 0 and math.isfinite(v), name,
                        "a finite number > 0", v)
        check_param(_is_num(self.road_factor) and self.road_factor >= 1, "road_factor",
                    "a number >= 1", self.road_factor)
        for name in ("line_fixed_h", "line_h_per_km", "transformer_h", "bus_h", "generator_h"):
            v = getattr(self, name)
            check_param(_is_num(v) and 0 <= v < math.inf, name, "a finite number >= 0", v)
        check_param(_is_num(self.default_line_km) and 0 <= self.default_line_km < math.inf,
                    "default_line_km", "a finite number >= 0", self.default_line_km)
        check_param(isinstance(self.repair_h, Mapping), "repair_h",
                    "a mapping of element tokens to hours", self.repair_h)
        overrides = {}
        for token, hours in self.repair_h.items():
            try:
                key = element_token(token)
            except UsageError:
                check_param(False, "repair_h", "keyed by KIND:ID element tokens", token)
            check_param(_is_num(hours) and 0 <= hours < math.inf, "repair_h",
                        f"finite hours >= 0 (for {token})", hours)
            overrides[key] = float(hours)
        object.__setattr__(self, "repair_h", overrides)
        check_param(_is_num(self.repair_sigma) and 0 <= self.repair_sigma <= 3, "repair_sigma",
                    "a number in [0, 3]", self.repair_sigma)
        stock = dict(self.spare_stock)
        for k, v in stock.items():
            check_param(k in EQUIPMENT_KINDS, "spare_stock",
                        f"keyed by one of {', '.join(EQUIPMENT_KINDS)}", k)
            check_param(_is_int(v) and v >= 0, "spare_stock", f"an int >= 0 (for {k})", v)
        object.__setattr__(self, "spare_stock", stock)
        lead = dict(self.spare_lead_time_h)
        for k, v in lead.items():
            check_param(k in EQUIPMENT_KINDS, "spare_lead_time_h",
                        f"keyed by one of {', '.join(EQUIPMENT_KINDS)}", k)
            check_param(_is_num(v) and 0 <= v < math.inf, "spare_lead_time_h",
                        f"finite hours >= 0 (for {k})", v)
        object.__setattr__(self, "spare_lead_time_h", {k: float(v) for k, v in lead.items()})
        needs = (self.needs_spare,) if isinstance(self.needs_spare, str) else self.needs_spare
        needs = tuple(needs)
        for k in needs:
            check_param(k in EQUIPMENT_KINDS, "needs_spare",
                        f"a list of kinds among {', '.join(EQUIPMENT_KINDS)}", k)
        needs = tuple(k for k in EQUIPMENT_KINDS if k in needs or k == "transformer")
        object.__setattr__(self, "needs_spare", needs)
        for k in needs:
            check_param(k in self.spare_lead_time_h, "spare_lead_time_h",
                        f"given for every kind that needs a spare ({k} is missing)",
                        dict(self.spare_lead_time_h))
        check_param(_is_num(self.horizon_h) and self.horizon_h > 0, "horizon_h",
                    "a number > 0", self.horizon_h)
        prio = dict(self.facility_priority)
        for k, v in prio.items():
            check_param(_is_int(v), "facility_priority", f"an int rank (for {k})", v)
        object.__setattr__(self, "facility_priority", prio)
        check_param(_is_int(self.greedy_max_candidates) and self.greedy_max_candidates >= 1,
                    "greedy_max_candidates", "an int >= 1", self.greedy_max_candidates)
        check_param(_is_int(self.optimal_max_jobs) and 1 <= self.optimal_max_jobs <= 14,
                    "optimal_max_jobs", "an int in [1, 14]", self.optimal_max_jobs)
        check_param(_is_num(self.optimal_time_limit_s) and self.optimal_time_limit_s > 0,
                    "optimal_time_limit_s", "a number > 0", self.optimal_time_limit_s)
        self._check_fleets()

    def _check_fleets(self) -> None:
        check_param(_is_int(self.fuel_trucks) and self.fuel_trucks >= 0, "fuel_trucks",
                    "an int >= 0", self.fuel_trucks)
        object.__setattr__(self, "fuel_depots", _places(self.fuel_depots, "fuel_depots"))
        for name in ("fuel_truck_l", "fuel_l_per_mwh"):
            v = getattr(self, name)
            check_param(_is_num(v) and 0 < v < math.inf, name, "a finite number > 0", v)
        check_param(_is_num(self.fuel_stock_l) and self.fuel_stock_l >= 0, "fuel_stock_l",
                    "litres >= 0 (inf: no limit)", self.fuel_stock_l)
        for name in ("refuel_h", "refuel_call_h", "mobile_connect_h"):
            v = getattr(self, name)
            check_param(_is_num(v) and 0 <= v < math.inf, name, "finite hours >= 0", v)
        units = self.mobile_generators
        if isinstance(units, Mapping) or _is_num(units):
            units = (units,)
        check_param(isinstance(units, tuple | list), "mobile_generators",
                    "a list of ratings in MW or tables {mw, depot}", units)
        out = []
        for u in units:
            mw, depot = _mobile_unit(u)
            out.append((mw, depot))
        object.__setattr__(self, "mobile_generators", tuple(out))
        check_param(self.mobile_dispatch in MOBILE_DISPATCH, "mobile_dispatch",
                    f"one of {', '.join(MOBILE_DISPATCH)}", self.mobile_dispatch)

    @property
    def has_fleets(self) -> bool:
        """Fuel trucks or mobile generators are modelled."""
        return self.fuel_trucks > 0 or bool(self.mobile_generators)

    def spares_for(self, kind: str) -> tuple[int, float]:
        """Initial stock and lead time (hours) of spares of ``kind``."""
        return int(self.spare_stock.get(kind, 0)), float(self.spare_lead_time_h.get(kind, 0.0))

    def replace(self, **changes: Any) -> RestorationSettings:
        """Return new settings with some parameters changed (validated again)."""
        known = {f.name for f in fields(self)}
        for name in changes:
            if name not in known:
                raise UsageError(
                    f"restoration has no parameter {name!r}; parameters: {', '.join(sorted(known))}"
                )
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return RestorationSettings(**values)

    def to_dict(self) -> dict[str, Any]:
        """The settings as plain JSON-ready values."""
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, Mapping):
                v = dict(v)
            elif f.name == "mobile_generators":
                v = [{"mw": mw, "depot": list(d) if isinstance(d, tuple) else d}
                     for mw, d in v]
            elif isinstance(v, tuple):
                v = [list(x) if isinstance(x, tuple) else x for x in v]
            out[f.name] = v
        return out
