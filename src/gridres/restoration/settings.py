"""Parameters of a restoration simulation, declared and checked in one place.

:class:`RestorationSettings` holds everything a planner sets: repair hours by kind of
equipment, per-asset overrides, repair-time uncertainty, crews and their travel, spare
stock and lead times, the horizon, and the knobs of the ``greedy`` and ``optimal``
policies. Every value is validated when the settings are built; an impossible value
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

    def __post_init__(self) -> None:
        check_param(_is_int(self.crews) and self.crews >= 1, "crews", "an int >= 1", self.crews)
        depots = tuple(self.depots) if not isinstance(self.depots, str) else (self.depots,)
        for d in depots:
            ok = isinstance(d, str) and d != "" or (
                isinstance(d, tuple | list) and len(d) == 2 and all(_is_num(v) for v in d)
            )
            check_param(ok, "depots", "a list of bus ids or (x, y) pairs", d)
        depots = tuple(d if isinstance(d, str) else (float(d[0]), float(d[1])) for d in depots)
        object.__setattr__(self, "depots", depots)
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
            elif isinstance(v, tuple):
                v = [list(x) if isinstance(x, tuple) else x for x in v]
            out[f.name] = v
        return out
