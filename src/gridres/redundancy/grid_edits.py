"""Grid interventions: each returns a new :class:`~gridres.model.Grid`; the input is never
changed, new elements are appended after the existing ones so that every existing element
keeps its position.

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

Limits of the model
-------------------
The engine has no energy limit on generators: a backup generator, a storage unit or a
microgrid's generation runs as long as its bus is islanded (fuel is assumed to be
resupplied); the ``hours`` of a facility's own backup are modelled (its backup runs out).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from gridres.errors import UsageError
from gridres.model import Grid
from gridres.restoration.assets import crs_units, distance_km

__all__ = [
    "ROUTE_FACTOR",
    "BACKUP_HOURS",
    "add_line",
    "line_defaults",
    "set_backup",
    "add_generator",
    "add_microgrid",
    "bus_distance_km",
]

logger = logging.getLogger(__name__)

#: Route length over straight-line distance for a new line.
ROUTE_FACTOR = 1.2
#: Default autonomy of new backup supply, hours (three days: a common target for
#: hospitals and water works in civil-protection guidance).
BACKUP_HOURS = 72.0

# -- geometry helpers ----------------------------------------------------------------------
def crs_kind(grid: Grid) -> tuple[bool, float]:
    """(lon/lat?, km per coordinate unit of a projected CRS); lon/lat without a CRS."""
    return crs_units(grid.crs) if grid.crs else (True, 1.0)


def bus_xy(grid: Grid) -> np.ndarray:
    """Coordinates of every bus, shape (n_bus, 2); NaN where a bus has no geometry."""
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
    pos = grid.lookup("buses", [a, b])
    xy = bus_xy(grid)[pos]
    geographic, unit_km = crs_kind(grid)
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

        xy = bus_xy(grid)[grid.lookup("buses", [from_bus, to_bus])]
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
