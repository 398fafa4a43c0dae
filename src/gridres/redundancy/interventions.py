"""Interventions: what a planner can buy, each a pure function of a grid (or of the
restoration settings) that returns a new one.

Grid interventions (each returns a new :class:`~gridres.model.Grid`; the input is never
changed, new elements are appended after the existing ones so that every existing
element keeps its position):

:func:`add_line`
    A new line between two buses of one voltage level. Reactance, resistance and rating
    default to those of comparable lines (in-service lines of the same voltage: the
    median per-km reactance and resistance times the length, the median rating); the
    length defaults to the straight-line distance between the buses times a route factor
    (1.2: routes are longer than the crow flies). Every value can be given instead.
:func:`set_backup`
    Backup supply at a critical facility: its ``backup_mw`` and ``backup_hours`` are
    raised to the given values (default: its demand, 72 hours).
:func:`add_generator`
    A generator at a bus that normally does not run (``p_mw = 0``) and picks up load
    when its bus is cut off from the grid (black start). With ``kind="storage"`` it stands
    for a battery.
:func:`add_microgrid`
    Critical facilities that can island with local generation: a generator at each of
    their buses sized to the facilities' demand there, and on-site backup that carries
    each facility when its bus itself is lost.

Restoration interventions (each returns new
:class:`~gridres.restoration.RestorationSettings`): :func:`add_spares`,
:func:`add_crews`, :func:`faster_repair`.

Hardening acts on the hazard, not on the grid: :func:`hardening_targets` names the
assets, and a :class:`Design` records for each one the factor on its fragility median
(``inf``: immune). How that changes the scenarios, keeping common random numbers, is in
:mod:`gridres.redundancy.crn`.

An :class:`Intervention` is one priced option (an id, a kind, its parameters and its
cost) and :meth:`Intervention.apply` turns a :class:`Design` (grid, settings, hardening)
into the design with that option added. Build one with :func:`make_intervention`.

Limits of the model
-------------------
The engine has no energy limit on generators: a backup generator, a storage unit or a
microgrid's generation runs as long as its bus is islanded (fuel is assumed to be
resupplied); the ``hours`` of a facility's own backup are modelled (its backup runs out).
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from gridres.errors import UsageError
from gridres.model import Grid, UnknownIdError
from gridres.redundancy.costs import KINDS, cost_table
from gridres.restoration.settings import EQUIPMENT_KINDS, RestorationSettings
from gridres.scenarios.elements import substations

__all__ = [
    "IMMUNE",
    "ROUTE_FACTOR",
    "BACKUP_HOURS",
    "Design",
    "Intervention",
    "add_line",
    "line_defaults",
    "set_backup",
    "add_generator",
    "add_microgrid",
    "add_spares",
    "add_crews",
    "faster_repair",
    "hardening_targets",
    "make_intervention",
    "bus_distance_km",
]

logger = logging.getLogger(__name__)

#: Factor on the fragility median that stands for an immune asset.
IMMUNE = math.inf
#: Route length over straight-line distance for a new line.
ROUTE_FACTOR = 1.2
#: Default autonomy of new backup supply, hours (three days: a common target for
#: hospitals and water works in civil-protection guidance).
BACKUP_HOURS = 72.0

HardKey = tuple[str, str]


@dataclass(frozen=True, eq=False)
class Design:
    """The grid as it would be after some interventions.

    Attributes
    ----------
    grid : Grid
    settings : RestorationSettings
    hardening : mapping of (str, str) to float
        ``("substation", NAME)``, ``("branch", ID)`` or ``("gen", ID)`` to the factor on
        that asset's fragility median (``inf``: immune).
    applied : tuple of str
        Ids of the interventions applied, in order.
    """

    grid: Grid
    settings: RestorationSettings
    hardening: Mapping[HardKey, float] = field(default_factory=dict)
    applied: tuple[str, ...] = ()

    def harden(self, keys: Iterable[HardKey], factor: float) -> Design:
        """The design with ``keys`` hardened to at least ``factor``."""
        hard = dict(self.hardening)
        for k in keys:
            hard[k] = max(hard.get(k, 1.0), float(factor))
        return dataclasses.replace(self, hardening=hard)


# -- geometry helpers ----------------------------------------------------------------------
def _geographic(grid: Grid) -> tuple[bool, float]:
    """(lon/lat?, km per coordinate unit of a projected CRS)."""
    if grid.crs:
        from pyproj import CRS

        crs = CRS.from_user_input(grid.crs)
        if crs.is_geographic:
            return True, 1.0
        factor = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
        return False, float(factor) / 1000.0
    return True, 1.0


def _bus_xy(grid: Grid) -> np.ndarray:
    xy = np.full((len(grid.buses), 2), np.nan)
    if "geometry" not in grid.buses.columns:
        return xy
    for i, g in enumerate(grid.buses["geometry"].to_numpy(dtype=object)):
        if g is not None and not getattr(g, "is_empty", True) and g.geom_type == "Point":
            xy[i] = (g.x, g.y)
    return xy


def bus_distance_km(grid: Grid, a: str, b: str) -> float:
    """Straight-line distance in km between two buses (NaN without coordinates).

    Great-circle on a geographic CRS (or a grid without CRS), planar otherwise.
    """
    from gridres.restoration.assets import distance_km

    pos = grid.lookup("buses", [a, b])
    xy = _bus_xy(grid)[pos]
    geographic, unit_km = _geographic(grid)
    return float(distance_km(xy[0], xy[1:], geographic, unit_km)[0])


# -- grid interventions -------------------------------------------------------------------
def _new_id(index: pd.Index, base: str) -> str:
    if base not in index:
        return base
    k = 2
    while f"{base}-{k}" in index:
        k += 1
    return f"{base}-{k}"


def _kv(grid: Grid, bus: str) -> float:
    return float(grid.buses.at[bus, "base_kv"])


def line_defaults(grid: Grid, from_bus: str, to_bus: str, *,
                  route_factor: float = ROUTE_FACTOR,
                  length_km: float | None = None) -> dict[str, float]:
    """Length, reactance, resistance and rating of a new line from comparable lines.

    Parameters
    ----------
    grid : Grid
    from_bus, to_bus : str
        Bus ids (one voltage level).
    route_factor : float
        Route length over straight-line distance.
    length_km : float, optional
        The route length, instead of the distance times ``route_factor``.

    Returns
    -------
    dict
        ``length_km``, ``x_pu``, ``r_pu``, ``rating_mw`` (``length_km``, ``x_pu`` and
        ``r_pu`` NaN without bus coordinates and without ``length_km``).

    Raises
    ------
    UsageError
        If the buses have different voltages, or the grid has no comparable line.

    Notes
    -----
    Comparable lines are the in-service branches of kind ``line`` whose ends have the
    new line's voltage (all lines when none has); per-km values use those with a
    positive ``length_km``.
    """
    grid.lookup("buses", [from_bus, to_bus])
    kv_f, kv_t = _kv(grid, from_bus), _kv(grid, to_bus)
    if math.isfinite(kv_f) and math.isfinite(kv_t) and abs(kv_f - kv_t) > 1e-6 * max(kv_f, 1.0):
        raise UsageError(
            f"a new line joins buses of one voltage: {from_bus} is {kv_f:g} kV and {to_bus} "
            f"{kv_t:g} kV; pick buses of one level (a transformer is not a line)"
        )
    br = grid.branches
    lines = br[(br["kind"].astype(str) != "transformer") & br["in_service"]]
    if not len(lines):
        raise UsageError(f"{grid.source or grid.name}: no line to take a new line's "
                         "reactance and rating from; give x_pu and rating_mw")
    kv = grid.buses["base_kv"]
    if math.isfinite(kv_f):
        same = lines[np.isclose(kv.reindex(lines["from_bus"].astype(str)).to_numpy(float), kv_f)
                     & np.isclose(kv.reindex(lines["to_bus"].astype(str)).to_numpy(float), kv_f)]
        if len(same):
            lines = same
    length = lines["length_km"].to_numpy(float)
    ok = np.isfinite(length) & (length > 0)
    x = lines["x_pu"].to_numpy(float)
    r = lines["r_pu"].to_numpy(float)
    rating = lines["rating_mw"].to_numpy(float)
    dist = (bus_distance_km(grid, from_bus, to_bus) * route_factor if length_km is None
            else float(length_km))
    if ok.any():
        x_km = float(np.median(x[ok] / length[ok]))
        r_km = float(np.median(r[ok] / length[ok]))
        x_new, r_new = x_km * dist, r_km * dist
    else:
        x_new, r_new = float(np.median(x)), float(np.median(r))
    finite = rating[np.isfinite(rating) & (rating > 0)]
    return {"length_km": dist, "x_pu": x_new, "r_pu": r_new,
            "rating_mw": float(np.median(finite)) if len(finite) else math.inf}


def _append(df: pd.DataFrame, row: dict[str, Any], ident: str) -> pd.DataFrame:
    new = pd.DataFrame([{c: row.get(c, _blank(df[c])) for c in df.columns}],
                       index=pd.Index([ident], name=df.index.name))
    for c in df.columns:
        if c != "geometry":
            try:
                new[c] = new[c].astype(df[c].dtype)
            except (TypeError, ValueError):
                pass
    out = pd.concat([df, new])
    if hasattr(df, "crs") and hasattr(out, "set_crs") and getattr(out, "crs", None) is None:
        out = out.set_crs(df.crs) if df.crs is not None else out
    return out


def _blank(col: pd.Series) -> Any:
    if col.dtype == bool:
        return False
    if pd.api.types.is_integer_dtype(col.dtype):
        return 0
    if pd.api.types.is_float_dtype(col.dtype):
        return np.nan
    return None if col.name == "geometry" else ""


def add_line(
    grid: Grid,
    from_bus: str,
    to_bus: str,
    *,
    id: str | None = None,  # noqa: A002 - the grid's column name
    length_km: float | None = None,
    x_pu: float | None = None,
    r_pu: float | None = None,
    rating_mw: float | None = None,
    route_factor: float = ROUTE_FACTOR,
) -> Grid:
    """A new line between two buses (see :func:`line_defaults` for the defaults).

    Parameters
    ----------
    grid : Grid
    from_bus, to_bus : str
    id : str, optional
        Branch id (default ``new-FROM-TO``, numbered if taken).
    length_km, x_pu, r_pu, rating_mw : float, optional
        Override the defaults; with ``length_km`` alone, reactance and resistance scale
        with it.
    route_factor : float

    Returns
    -------
    Grid
        A new grid with the line appended to ``branches``.

    Examples
    --------
    >>> import pandas as pd
    >>> g = Grid(buses=pd.DataFrame({"id": ["a", "b", "c"], "base_kv": 110.0,
    ...                              "ref": [True, False, False]}),
    ...          branches=pd.DataFrame({"id": ["l1", "l2"], "from_bus": ["a", "b"],
    ...                                 "to_bus": ["b", "c"], "x_pu": [0.1, 0.3],
    ...                                 "length_km": [10.0, 30.0], "rating_mw": [100.0, 80.0]}))
    >>> g2 = add_line(g, "a", "c", length_km=20.0)
    >>> row = g2.branches.loc["new-a-c"]
    >>> round(float(row["x_pu"]), 6), float(row["rating_mw"]), len(g.branches)
    (0.2, 90.0, 2)
    """
    if from_bus == to_bus:
        raise UsageError(f"a new line needs two different buses, got {from_bus!r} twice")
    if length_km is not None and not (isinstance(length_km, int | float)
                                      and math.isfinite(length_km) and length_km > 0):
        raise UsageError(f"a new line's length_km must be a number > 0, got {length_km!r}")
    defaults = line_defaults(grid, from_bus, to_bus, route_factor=route_factor,
                             length_km=length_km)
    if not math.isfinite(defaults["length_km"]):
        raise UsageError(f"buses {from_bus} and {to_bus} have no coordinates: give the new "
                         "line's length_km")
    values = {"x_pu": x_pu, "r_pu": r_pu, "rating_mw": rating_mw}
    for key, v in values.items():
        if v is not None:
            if not (isinstance(v, int | float) and not isinstance(v, bool) and v > 0):
                raise UsageError(f"a new line's {key} must be a number > 0, got {v!r}")
            defaults[key] = float(v)
    if not defaults["x_pu"] > 0:
        raise UsageError(f"cannot derive a reactance for the line {from_bus}-{to_bus}; give x_pu")
    br = grid.branches
    ident = _new_id(br.index, str(id) if id else f"new-{from_bus}-{to_bus}")
    row: dict[str, Any] = {
        "from_bus": from_bus, "to_bus": to_bus, "kind": "line", "r_pu": defaults["r_pu"],
        "x_pu": defaults["x_pu"], "tap": 1.0, "shift_deg": 0.0,
        "rating_mw": defaults["rating_mw"], "length_km": defaults["length_km"],
        "in_service": True,
    }
    if "voltage_kv" in br.columns:
        row["voltage_kv"] = _kv(grid, from_bus)
    if "geometry" in br.columns:
        import shapely

        xy = _bus_xy(grid)[grid.lookup("buses", [from_bus, to_bus])]
        row["geometry"] = (shapely.LineString(xy) if np.isfinite(xy).all() else None)
    return grid.replace(branches=_append(br, row, ident))


def set_backup(grid: Grid, facility: str, backup_mw: float | None = None,
               backup_hours: float = BACKUP_HOURS) -> Grid:
    """Backup supply at a facility: ``backup_mw`` and ``backup_hours`` raised to at least
    the given values.

    Parameters
    ----------
    grid : Grid
    facility : str
        Facility id.
    backup_mw : float, optional
        Default: the facility's demand (what it takes to cover it).
    backup_hours : float
        Autonomy, hours.

    Returns
    -------
    Grid

    Examples
    --------
    >>> import pandas as pd
    >>> g = Grid(buses=pd.DataFrame({"id": ["a"]}), branches=None,
    ...          facilities=pd.DataFrame({"id": ["H"], "bus": ["a"], "demand_mw": [1.1],
    ...                                   "backup_mw": [0.8], "backup_hours": [12.0]}))
    >>> f = set_backup(g, "H").facilities.loc["H"]
    >>> float(f["backup_mw"]), float(f["backup_hours"])
    (1.1, 72.0)
    """
    grid.lookup("facilities", [facility])
    fac = grid.facilities.copy()
    demand = float(fac.at[facility, "demand_mw"])
    mw = demand if backup_mw is None else backup_mw
    for name, v in (("backup_mw", mw), ("backup_hours", backup_hours)):
        if not (isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                and v >= 0):
            raise UsageError(f"backup at {facility}: {name} must be a number >= 0, got {v!r}")
    fac.at[facility, "backup_mw"] = max(float(fac.at[facility, "backup_mw"]), float(mw))
    fac.at[facility, "backup_hours"] = max(float(fac.at[facility, "backup_hours"]),
                                          float(backup_hours))
    return grid.replace(facilities=fac)


def add_generator(grid: Grid, bus: str, pmax_mw: float, *, id: str | None = None,  # noqa: A002
                  kind: str = "backup", blackstart: bool = True) -> Grid:
    """A generator at ``bus`` that runs only when needed (``p_mw = 0``, ``pmax_mw``).

    In the intact grid it changes no flow; in an island short of capacity (its bus cut
    off from the grid) it supplies up to ``pmax_mw``.

    Examples
    --------
    >>> import pandas as pd
    >>> g = Grid(buses=pd.DataFrame({"id": ["a"]}), branches=None)
    >>> float(add_generator(g, "a", 5.0).generators.loc["backup-a", "pmax_mw"])
    5.0
    """
    grid.lookup("buses", [bus])
    if not (isinstance(pmax_mw, int | float) and not isinstance(pmax_mw, bool)
            and math.isfinite(pmax_mw) and pmax_mw > 0):
        raise UsageError(f"a new generator at {bus} needs pmax_mw > 0, got {pmax_mw!r}")
    gens = grid.generators
    ident = _new_id(gens.index, str(id) if id else f"{kind}-{bus}")
    row = {"bus": bus, "p_mw": 0.0, "pmax_mw": float(pmax_mw), "pmin_mw": 0.0, "kind": kind,
           "blackstart": bool(blackstart), "in_service": True}
    return grid.replace(generators=_append(gens, row, ident))


def add_microgrid(grid: Grid, facilities: Iterable[str], mw: float | None = None,
                  hours: float = BACKUP_HOURS, *, id: str | None = None) -> Grid:  # noqa: A002
    """Facilities that island with local generation.

    A generator at each of the facilities' buses, sized to the facilities' demand there
    (``mw`` in total, split in proportion to that demand, when given), and each
    facility's own backup raised to cover its demand for ``hours`` (it carries the
    facility when its bus itself fails).

    Returns
    -------
    Grid
    """
    ids = [str(f) for f in facilities]
    if not ids:
        raise UsageError("a microgrid needs at least one facility")
    grid.lookup("facilities", ids)
    fac = grid.facilities.loc[ids]
    demand = fac.groupby(fac["bus"].astype(str))["demand_mw"].sum()
    total = float(demand.sum())
    if mw is not None and not (isinstance(mw, int | float) and mw > 0):
        raise UsageError(f"a microgrid's mw must be a number > 0, got {mw!r}")
    if total <= 0 and mw is None:
        raise UsageError(f"facilities {', '.join(ids)} have no demand_mw; give the microgrid's mw")
    out = grid
    name = str(id) if id else "microgrid"
    for bus, d in demand.items():
        share = (float(mw) * d / total if total > 0 else float(mw) / len(demand)) \
            if mw is not None else float(d)
        if share > 0:
            out = add_generator(out, str(bus), share, id=f"{name}-{bus}", kind="microgrid")
    for f in ids:
        out = set_backup(out, f, None, hours)
    return out


# -- restoration interventions ------------------------------------------------------------
def _kind(kind: str) -> str:
    if kind not in EQUIPMENT_KINDS:
        raise UsageError(f"unknown equipment kind {kind!r}; use one of "
                         f"{', '.join(EQUIPMENT_KINDS)}")
    return kind


def add_spares(settings: RestorationSettings, kind: str = "transformer",
               count: int = 1) -> RestorationSettings:
    """``count`` more spares of ``kind`` in stock.

    Raises
    ------
    UsageError
        If ``kind`` needs no spare in these settings (extra stock would change nothing).

    Examples
    --------
    >>> add_spares(RestorationSettings(), "transformer", 2).spare_stock["transformer"]
    4
    """
    _kind(kind)
    if kind not in settings.needs_spare:
        raise UsageError(f"{kind} repairs need no spare in these settings (needs_spare: "
                         f"{', '.join(settings.needs_spare)}); extra {kind} spares change "
                         "nothing")
    if not (isinstance(count, int) and not isinstance(count, bool) and count >= 1):
        raise UsageError(f"spares: count must be an int >= 1, got {count!r}")
    stock = dict(settings.spare_stock)
    stock[kind] = int(stock.get(kind, 0)) + count
    return settings.replace(spare_stock=stock)


def add_crews(settings: RestorationSettings, count: int = 1) -> RestorationSettings:
    """``count`` more repair crews.

    Examples
    --------
    >>> add_crews(RestorationSettings(crews=3)).crews
    4
    """
    if not (isinstance(count, int) and not isinstance(count, bool) and count >= 1):
        raise UsageError(f"crews: count must be an int >= 1, got {count!r}")
    return settings.replace(crews=settings.crews + count)


#: Settings that set the repair hours of each equipment kind.
REPAIR_FIELDS = {"line": ("line_fixed_h", "line_h_per_km"), "transformer": ("transformer_h",),
                 "bus": ("bus_h",), "generator": ("generator_h",)}


def faster_repair(settings: RestorationSettings, kind: str,
                  factor: float = 0.5) -> RestorationSettings:
    """Repairs of ``kind`` take ``factor`` times their hours (per-asset overrides too).

    Examples
    --------
    >>> faster_repair(RestorationSettings(), "transformer", 0.5).transformer_h
    36.0
    """
    _kind(kind)
    if not (isinstance(factor, int | float) and 0 < factor < 1):
        raise UsageError(f"repair: factor must be a number in (0, 1), got {factor!r}")
    changes: dict[str, Any] = {f: getattr(settings, f) * factor for f in REPAIR_FIELDS[kind]}
    return settings.replace(**changes)


# -- hardening ----------------------------------------------------------------------------
def hardening_targets(grid: Grid, *, substation: str | None = None, bus: str | None = None,
                      branch: str | None = None, generator: str | None = None,
                      whole: bool = False) -> list[HardKey]:
    """The assets a hardening acts on.

    Parameters
    ----------
    grid : Grid
    substation, bus, branch, generator : str, optional
        Exactly one: a substation name (a bus names its substation), a branch or a
        generator id.
    whole : bool
        For a substation: also the branches inside it (both ends in it, its
        transformers) and its generators.

    Returns
    -------
    list of (str, str)
        ``("substation", NAME)``, ``("branch", ID)``, ``("gen", ID)``.

    Raises
    ------
    UsageError
        Without exactly one target, or for an unknown id.
    """
    given = {k: v for k, v in (("substation", substation), ("bus", bus), ("branch", branch),
                               ("generator", generator)) if v is not None}
    if len(given) != 1:
        raise UsageError("hardening needs exactly one target: substation, bus, branch or "
                         "generator")
    (what, ident), = given.items()
    ident = str(ident)
    if what == "branch":
        grid.lookup("branches", [ident])
        return [("branch", ident)]
    if what == "generator":
        grid.lookup("generators", [ident])
        return [("gen", ident)]
    subs = substations(grid)
    if what == "bus":
        pos = grid.lookup("buses", [ident])[0]
        name = str(subs.names[subs.of_bus[pos]])
    else:
        name = ident
        if name not in subs.names:
            close = difflib.get_close_matches(name, subs.names.tolist(), n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise UnknownIdError(f"{grid.source or grid.name}: no substation named {name!r}{hint}")
    keys: list[HardKey] = [("substation", name)]
    if whole:
        k = int(subs.names.get_loc(name))
        inside = set(grid.buses.index[subs.of_bus == k])
        br = grid.branches
        both = br["from_bus"].astype(str).isin(inside) & br["to_bus"].astype(str).isin(inside)
        keys += [("branch", str(b)) for b in br.index[both]]
        gens = grid.generators
        keys += [("gen", str(g)) for g in gens.index[gens["bus"].astype(str).isin(inside)]]
    return keys


# -- priced options -----------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Intervention:
    """One priced option.

    Attributes
    ----------
    id : str
    kind : str
        One of :data:`gridres.redundancy.costs.KINDS`.
    params : dict
        The resolved parameters (defaults filled in, so applying it is deterministic).
    cost : float
    label : str
        What it is, in words.
    """

    id: str
    kind: str
    params: dict
    cost: float
    label: str = ""

    def apply(self, design: Design) -> Design:
        """The design with this intervention added (a new :class:`Design`)."""
        p = self.params
        grid, settings = design.grid, design.settings
        if self.kind == "line":
            grid = add_line(grid, p["from_bus"], p["to_bus"], id=p["branch_id"],
                            length_km=p["length_km"], x_pu=p["x_pu"], r_pu=p["r_pu"],
                            rating_mw=p["rating_mw"])
        elif self.kind == "backup":
            grid = set_backup(grid, p["facility"], p["backup_mw"], p["backup_hours"])
        elif self.kind in ("generator", "storage"):
            grid = add_generator(grid, p["bus"], p["pmax_mw"], id=p["generator_id"],
                                 kind=self.kind if self.kind == "storage" else "backup",
                                 blackstart=True)
        elif self.kind == "microgrid":
            grid = add_microgrid(grid, p["facilities"], p["mw"], p["hours"], id=self.id)
        elif self.kind == "spares":
            settings = add_spares(settings, p["equipment"], p["count"])
        elif self.kind == "crews":
            settings = add_crews(settings, p["count"])
        elif self.kind == "repair":
            settings = faster_repair(settings, p["equipment"], p["factor"])
        elif self.kind in ("harden", "protect"):
            design = design.harden([tuple(k) for k in p["targets"]], p["factor"])
        else:  # pragma: no cover - make_intervention refuses unknown kinds
            raise UsageError(f"unknown intervention kind {self.kind!r}")
        return dataclasses.replace(design, grid=grid, settings=settings,
                                   applied=(*design.applied, self.id))

    def to_dict(self) -> dict[str, Any]:
        """Id, kind, cost, label and parameters as JSON-ready values."""
        params = {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.params.items()}
        return {"id": self.id, "kind": self.kind, "cost": self.cost, "label": self.label,
                **{k: v for k, v in params.items() if k not in ("id", "kind", "cost")}}


_KEYS = {
    "line": {"from_bus", "to_bus", "length_km", "x_pu", "r_pu", "rating_mw", "route_factor",
             "branch_id"},
    "backup": {"facility", "backup_mw", "backup_hours"},
    "generator": {"bus", "pmax_mw", "generator_id", "blackstart"},
    "storage": {"bus", "mw", "hours", "generator_id"},
    "microgrid": {"facility", "facilities", "mw", "hours"},
    "harden": {"substation", "bus", "branch", "generator", "factor", "immune"},
    "protect": {"substation", "bus", "factor", "immune"},
    "spares": {"equipment", "count"},
    "crews": {"count"},
    "repair": {"equipment", "factor"},
}

#: Default factor on the fragility median of a hardened asset.
HARDEN_FACTOR = 1.5


def _num(spec: Mapping[str, Any], key: str, default: Any, who: str, *, low: float = 0.0,
         strict: bool = False) -> Any:
    v = spec.get(key, default)
    if v is None:
        return None
    ok = isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    if not ok or (v <= low if strict else v < low):
        rel = ">" if strict else ">="
        raise UsageError(f"{who}: {key} must be a number {rel} {low:g}, got {v!r}")
    return float(v)


def make_intervention(spec: Mapping[str, Any], design: Design,
                      costs: Mapping[str, float] | None = None) -> Intervention:
    """Check a candidate's table against a design and price it.

    Parameters
    ----------
    spec : mapping
        ``kind`` and that kind's keys (see ``grids/studies/plan_demo.toml`` and the
        module notes); ``id`` and ``cost`` are optional.
    design : Design
        The base design the ids are checked against.
    costs : mapping, optional
        Unit costs (:func:`gridres.redundancy.costs.cost_table`); default the defaults.

    Returns
    -------
    Intervention

    Raises
    ------
    UsageError
        On an unknown kind or key, a value out of range, or an unknown id.

    Examples
    --------
    >>> from gridres.io import load_grid
    >>> d = Design(load_grid("demo_region"), RestorationSettings())
    >>> iv = make_intervention({"kind": "backup", "facility": "H09"}, d)
    >>> iv.id, iv.params["backup_mw"], round(iv.cost, 4)
    ('backup:H09', 1.1, 0.498)
    """
    table = cost_table(costs)
    kind = spec.get("kind")
    if kind not in KINDS:
        close = difflib.get_close_matches(str(kind), KINDS, n=1, cutoff=0.5)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UsageError(f"unknown intervention kind {kind!r}{hint}; kinds: {', '.join(KINDS)}")
    who = f"candidate {spec.get('id', kind)!r}"
    allowed = _KEYS[kind] | {"id", "kind", "cost", "label"}
    for key in spec:
        if key not in allowed:
            close = difflib.get_close_matches(key, sorted(allowed), n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else f"keys: {', '.join(sorted(allowed))}"
            raise UsageError(f"{who}: unknown key {key!r} for a {kind}; {hint}")
    grid, settings = design.grid, design.settings
    params: dict[str, Any]
    try:
        params, ident, label, cost = _RESOLVE[kind](spec, grid, settings, table, who)
    except UnknownIdError as exc:
        raise UnknownIdError(f"{who}: {exc}") from None
    if "id" in spec:
        ident = str(spec["id"])
    if "label" in spec:
        label = str(spec["label"])
    if kind in table:
        cost = table[kind]
    if "cost" in spec:
        cost = _num(spec, "cost", None, who)
    iv = Intervention(ident, kind, params, float(cost), label)
    iv.apply(design)  # refuse now what would fail later
    return iv


def _resolve_line(spec, grid, settings, table, who):
    for key in ("from_bus", "to_bus"):
        if key not in spec:
            raise UsageError(f"{who}: a line needs from_bus and to_bus")
    a, b = str(spec["from_bus"]), str(spec["to_bus"])
    rf = _num(spec, "route_factor", ROUTE_FACTOR, who, low=1.0)
    d = line_defaults(grid, a, b, route_factor=rf)
    length = _num(spec, "length_km", None, who, strict=True)
    if length is None:
        length = d["length_km"]
    if not math.isfinite(length):
        raise UsageError(f"{who}: buses {a} and {b} have no coordinates; give length_km")
    params = {"from_bus": a, "to_bus": b, "length_km": length,
              "x_pu": _num(spec, "x_pu", None, who, strict=True),
              "r_pu": _num(spec, "r_pu", None, who),
              "rating_mw": _num(spec, "rating_mw", None, who, strict=True),
              "branch_id": str(spec.get("branch_id") or f"new-{a}-{b}")}
    kv = _kv(grid, a)
    per_km = table["line_per_km_ehv"] if math.isfinite(kv) and kv >= 220 else table["line_per_km"]
    cost = per_km * length + table["line_bays"]
    return params, f"line:{a}-{b}", f"new line {a} - {b} ({length:.1f} km)", cost


def _resolve_backup(spec, grid, settings, table, who):
    if "facility" not in spec:
        raise UsageError(f"{who}: a backup needs facility = \"ID\"")
    f = str(spec["facility"])
    grid.lookup("facilities", [f])
    row = grid.facilities.loc[f]
    mw = _num(spec, "backup_mw", float(row["demand_mw"]), who)
    hours = _num(spec, "backup_hours", BACKUP_HOURS, who)
    old_mw, old_h = float(row["backup_mw"]), float(row["backup_hours"])
    new_mw, new_h = max(mw, old_mw), max(hours, old_h)
    cost = (table["backup_per_mw"] * max(0.0, new_mw - old_mw)
            + table["backup_per_mwh"] * max(0.0, new_mw * new_h - old_mw * old_h))
    name = str(row.get("name", "")) or f
    return ({"facility": f, "backup_mw": mw, "backup_hours": hours}, f"backup:{f}",
            f"backup {new_mw:g} MW for {new_h:g} h at {name}", cost)


def _resolve_generator(spec, grid, settings, table, who):
    if "bus" not in spec or "pmax_mw" not in spec:
        raise UsageError(f"{who}: a generator needs bus and pmax_mw")
    bus = str(spec["bus"])
    grid.lookup("buses", [bus])
    pmax = _num(spec, "pmax_mw", None, who, strict=True)
    params = {"bus": bus, "pmax_mw": pmax,
              "generator_id": str(spec.get("generator_id") or f"backup-{bus}")}
    return (params, f"generator:{bus}", f"black-start generator {pmax:g} MW at {bus}",
            table["generator_per_mw"] * pmax)


def _resolve_storage(spec, grid, settings, table, who):
    if "bus" not in spec or "mw" not in spec:
        raise UsageError(f"{who}: storage needs bus and mw (and hours)")
    bus = str(spec["bus"])
    grid.lookup("buses", [bus])
    mw = _num(spec, "mw", None, who, strict=True)
    hours = _num(spec, "hours", 4.0, who, strict=True)
    params = {"bus": bus, "pmax_mw": mw, "hours": hours,
              "generator_id": str(spec.get("generator_id") or f"storage-{bus}")}
    return (params, f"storage:{bus}", f"storage {mw:g} MW / {mw * hours:g} MWh at {bus}",
            table["storage_per_mwh"] * mw * hours)


def _resolve_microgrid(spec, grid, settings, table, who):
    facs = spec.get("facilities", spec.get("facility"))
    if facs is None:
        raise UsageError(f"{who}: a microgrid needs facility = \"ID\" or facilities = [..]")
    facs = [facs] if isinstance(facs, str) else [str(f) for f in facs]
    grid.lookup("facilities", facs)
    demand = float(grid.facilities.loc[facs, "demand_mw"].sum())
    mw = _num(spec, "mw", None, who, strict=True)
    hours = _num(spec, "hours", BACKUP_HOURS, who)
    size = demand if mw is None else mw
    cost = table["microgrid_fixed"] + table["microgrid_per_mw"] * size
    return ({"facilities": tuple(facs), "mw": mw, "hours": hours},
            "microgrid:" + "+".join(facs), f"microgrid {size:g} MW for {', '.join(facs)}", cost)


def _hardening(spec, grid, table, who, whole: bool):
    immune = spec.get("immune", False)
    if not isinstance(immune, bool):
        raise UsageError(f"{who}: immune must be true or false, got {immune!r}")
    factor = IMMUNE if immune else _num(spec, "factor", HARDEN_FACTOR, who, low=1.0, strict=True)
    if immune and "factor" in spec:
        raise UsageError(f"{who}: give factor or immune = true, not both")
    targets = hardening_targets(
        grid, substation=spec.get("substation"), bus=spec.get("bus"),
        branch=spec.get("branch"), generator=spec.get("generator"), whole=whole)
    what, ident = targets[0]
    scale = table["immune_factor"] if immune else 1.0
    how = "immune" if immune else f"median x {factor:g}"
    if whole:
        return targets, factor, f"protect:{ident}", \
            f"protect substation {ident} ({how})", table["protect_substation"] * scale
    if what == "substation":
        cost = table["harden_substation"]
    elif what == "gen":
        cost = table["harden_generator"]
    else:
        row = grid.branches.loc[ident]
        if str(row["kind"]) == "transformer":
            cost = table["harden_transformer"]
        else:
            length = float(row["length_km"])
            if not (math.isfinite(length) and length > 0):
                length = bus_distance_km(grid, str(row["from_bus"]), str(row["to_bus"]))
            cost = table["harden_line_per_km"] * (length if math.isfinite(length) else 30.0)
    return targets, factor, f"harden:{what}:{ident}", f"harden {what} {ident} ({how})", \
        cost * scale


def _resolve_harden(spec, grid, settings, table, who):
    targets, factor, ident, label, cost = _hardening(spec, grid, table, who, whole=False)
    return {"targets": tuple(targets), "factor": factor}, ident, label, cost


def _resolve_protect(spec, grid, settings, table, who):
    targets, factor, ident, label, cost = _hardening(spec, grid, table, who, whole=True)
    return {"targets": tuple(targets), "factor": factor}, ident, label, cost


def _count(spec, who) -> int:
    c = spec.get("count", 1)
    if not (isinstance(c, int) and not isinstance(c, bool) and c >= 1):
        raise UsageError(f"{who}: count must be an integer >= 1, got {c!r}")
    return c


def _resolve_spares(spec, grid, settings, table, who):
    kind = str(spec.get("equipment", "transformer"))
    _kind(kind)
    count = _count(spec, who)
    return ({"equipment": kind, "count": count}, f"spares:{kind}+{count}",
            f"{count} more spare {kind}{'s' if count > 1 else ''}",
            table[f"spare_{kind}"] * count)


def _resolve_crews(spec, grid, settings, table, who):
    count = _count(spec, who)
    return ({"count": count}, f"crews+{count}",
            f"{count} more repair crew{'s' if count > 1 else ''}",
            table["crew_per_year"] * table["crew_years"] * count)


def _resolve_repair(spec, grid, settings, table, who):
    if "equipment" not in spec:
        raise UsageError(f"{who}: a faster repair needs equipment = \"transformer\" (or line, "
                         "bus, generator)")
    kind = _kind(str(spec["equipment"]))
    factor = _num(spec, "factor", 0.5, who, strict=True)
    if not factor < 1:
        raise UsageError(f"{who}: factor must be a number in (0, 1), got {factor!r}")
    halvings = math.log2(1.0 / factor)
    return ({"equipment": kind, "factor": factor}, f"repair:{kind}x{factor:g}",
            f"{kind} repairs in {factor:g} x the hours", table["faster_repair"] * halvings)


_RESOLVE = {
    "line": _resolve_line, "backup": _resolve_backup, "generator": _resolve_generator,
    "storage": _resolve_storage, "microgrid": _resolve_microgrid, "harden": _resolve_harden,
    "protect": _resolve_protect, "spares": _resolve_spares, "crews": _resolve_crews,
    "repair": _resolve_repair,
}
