"""What a repair needs to know about each element of a grid: its kind, its repair hours,
where it is, and where the crews start.

:func:`prepare` reads a :class:`~gridres.model.Grid` once and returns :class:`Assets`,
plain numpy arrays indexed like the compiled network (picklable, so that an ensemble
worker gets them without the grid).

Locations
---------
A bus is at its ``geometry`` point. A branch is at its midpoint: the middle of its own
line geometry where it has one, else the midpoint of its two buses. A generator is at its
bus. Coordinates are in the grid's CRS; distances are great-circle kilometres for a
geographic CRS (lon/lat) and Euclidean in the CRS's unit (converted to km) for a
projected one. A grid without a CRS but with coordinates inside lon/lat bounds is taken
as lon/lat. **Where an element or a crew has no location (a grid without geometry, a
MATPOWER case), travel time is 0.**

Depots of crews, fuel trucks and mobile generators are bus ids or coordinates; a
coordinate depot must lie on the map: within the bounding box of the grid's buses,
widened on every side by half its larger side (a depot beyond that is a typing error, such as
swapped longitude and latitude). A facility is at its own ``geometry`` point where it
has one, else at its bus.

Services
--------
:attr:`Assets.services` is the grid's service model
(:func:`gridres.services.compile_services`) and :attr:`Assets.outside_c` the outside
temperature the buildings' heat is judged at: a run then also reports who loses which
service over time (:mod:`gridres.restoration.fleets`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gridres.errors import UsageError
from gridres.model import Grid
from gridres.restoration.settings import RestorationSettings
from gridres.services.evaluate import service_impact
from gridres.services.heat import DEFAULT_OUTSIDE_C
from gridres.services.model import ServiceModel, compile_services

__all__ = ["Assets", "prepare", "distance_km", "crs_units", "EARTH_RADIUS_KM"]

logger = logging.getLogger(__name__)

EARTH_RADIUS_KM = 6371.0088
_KIND_CODES = {"bus": 0, "branch": 1, "gen": 2}


@dataclass(frozen=True, eq=False)
class Assets:
    """Per-element repair data of one grid, in the order of its compiled network.

    Attributes
    ----------
    settings : RestorationSettings
    grid_name : str
    bus_ids, branch_ids, gen_ids : pandas.Index of str
    bus_kind, branch_kind, gen_kind : ndarray of str
        Equipment kind of each element (``bus``; ``line`` or ``transformer``;
        ``generator``).
    bus_repair_h, branch_repair_h, gen_repair_h : ndarray of float
        Expected repair hours of each element (before any uncertainty).
    bus_xy, branch_xy, gen_xy : ndarray of float, shape (n, 2)
        Location of each element; NaN where unknown.
    depot_xy : ndarray of float, shape (n_depots, 2)
        Where crews start; NaN where unknown.
    geographic : bool
        Coordinates are lon/lat degrees (great-circle distances).
    unit_km : float
        Kilometres per coordinate unit of a projected CRS.
    fac_kind : ndarray of str
        Kind of each facility (for ``critical-first``).
    fac_xy : ndarray of float, shape (n_fac, 2)
        Location of each facility (its geometry, else its bus); NaN where unknown.
    fuel_depot_xy : ndarray of float, shape (n_fuel_depots, 2)
        Where fuel trucks load (the crews' depots unless ``fuel_depots`` is given).
    mobile_xy : ndarray of float, shape (n_mobile, 2)
        Depot of each mobile generator.
    mobile_mw : ndarray of float, shape (n_mobile,)
    services : ServiceModel or None
        The grid's services (None for a grid without facilities).
    outside_c : float
        Outside temperature (°C) for the buildings' heat.
    fac_impact : ndarray, shape (n_fac,)
        People who lose a service when each facility stays without power
        (:func:`gridres.services.service_impact`); the facility's ``people`` for a grid
        without a service model.
    """

    settings: RestorationSettings
    grid_name: str
    bus_ids: pd.Index
    branch_ids: pd.Index
    gen_ids: pd.Index
    bus_kind: np.ndarray
    branch_kind: np.ndarray
    gen_kind: np.ndarray
    bus_repair_h: np.ndarray
    branch_repair_h: np.ndarray
    gen_repair_h: np.ndarray
    bus_xy: np.ndarray
    branch_xy: np.ndarray
    gen_xy: np.ndarray
    depot_xy: np.ndarray
    geographic: bool
    unit_km: float
    fac_kind: np.ndarray
    fac_xy: np.ndarray | None = None
    fuel_depot_xy: np.ndarray | None = None
    mobile_xy: np.ndarray | None = None
    mobile_mw: np.ndarray | None = None
    services: ServiceModel | None = None
    outside_c: float = DEFAULT_OUTSIDE_C
    fac_impact: np.ndarray | None = None

    def __repr__(self) -> str:
        return (f"Assets(grid={self.grid_name!r}, buses={len(self.bus_ids)}, "
                f"branches={len(self.branch_ids)}, generators={len(self.gen_ids)}, "
                f"settings={self.digest()!r})")

    def digest(self) -> str:
        """A short hash of the settings and outside temperature: the repr names them, so
        that an ensemble's manifest (which names its evaluator by a short text) tells
        runs with other crews, fleets or repair times apart."""
        text = json.dumps([self.settings.to_dict(), float(self.outside_c)], sort_keys=True,
                          default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def element(self, etype: int, pos: int) -> str:
        """Element token ``bus:ID``, ``branch:ID`` or ``gen:ID``."""
        ids = (self.bus_ids, self.branch_ids, self.gen_ids)[etype]
        return f"{('bus', 'branch', 'gen')[etype]}:{ids[pos]}"

    def kind(self, etype: int, pos: int) -> str:
        return str((self.bus_kind, self.branch_kind, self.gen_kind)[etype][pos])

    def repair_h(self, etype: int, pos: int) -> float:
        return float((self.bus_repair_h, self.branch_repair_h, self.gen_repair_h)[etype][pos])

    def xy(self, etype: int, pos: int) -> np.ndarray:
        return (self.bus_xy, self.branch_xy, self.gen_xy)[etype][pos]

    def travel_h(self, origin: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """Travel hours from one point to each of ``targets`` (shape (k, 2)); 0 where a
        location is unknown."""
        s = self.settings
        d = distance_km(origin, targets, self.geographic, self.unit_km)
        return np.nan_to_num(d, nan=0.0) * (s.road_factor / s.speed_kmh)

    def matches(self, net) -> bool:
        """Whether ``net`` was compiled from the grid these assets were prepared for."""
        return (
            self.bus_ids.equals(net.bus_ids)
            and self.branch_ids.equals(net.branch_ids)
            and self.gen_ids.equals(net.gen_ids)
        )


def distance_km(origin: np.ndarray, targets: np.ndarray, geographic: bool,
                unit_km: float = 0.001) -> np.ndarray:
    """Straight-line distance in km from ``origin`` (x, y) to each row of ``targets``.

    Great-circle (haversine) distance for lon/lat degrees, else Euclidean distance times
    ``unit_km``. NaN where a coordinate is missing.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(distance_km(np.array([0.0, 0.0]), np.array([[0.0, 1.0]]), True)[0]), 1)
    111.2
    """
    targets = np.atleast_2d(np.asarray(targets, dtype=float))
    origin = np.asarray(origin, dtype=float)
    if geographic:
        lon1, lat1 = np.radians(origin[0]), np.radians(origin[1])
        lon2, lat2 = np.radians(targets[:, 0]), np.radians(targets[:, 1])
        a = (np.sin((lat2 - lat1) / 2) ** 2
             + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2)
        return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
    return np.hypot(targets[:, 0] - origin[0], targets[:, 1] - origin[1]) * unit_km


def _points(series: pd.Series | None, n: int) -> np.ndarray:
    xy = np.full((n, 2), np.nan)
    if series is None:
        return xy
    for i, geom in enumerate(series.to_numpy()):
        if geom is None or getattr(geom, "is_empty", True):
            continue
        if geom.geom_type == "Point":
            xy[i] = (geom.x, geom.y)
        else:  # a line: its middle
            p = geom.interpolate(0.5, normalized=True)
            xy[i] = (p.x, p.y)
    return xy


def crs_units(crs: object) -> tuple[bool, float]:
    """Whether coordinates in ``crs`` are lon/lat degrees, and the km per coordinate unit
    of a projected CRS (1.0 for a geographic one).

    Examples
    --------
    >>> crs_units("EPSG:4326"), crs_units("EPSG:25832")
    ((True, 1.0), (False, 0.001))
    """
    from pyproj import CRS

    crs = CRS.from_user_input(crs)
    if crs.is_geographic:
        return True, 1.0
    factor = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    return False, float(factor) / 1000.0


def _crs_kind(grid: Grid, bus_xy: np.ndarray) -> tuple[bool, float]:
    if grid.crs:
        return crs_units(grid.crs)
    ok = np.isfinite(bus_xy).all(axis=1)
    if ok.any():
        x, y = bus_xy[ok, 0], bus_xy[ok, 1]
        if np.all(np.abs(x) <= 180) and np.all(np.abs(y) <= 90):
            return True, 1.0
        logger.warning("%s: no CRS; taking coordinates as metres", grid.source or grid.name)
    return False, 0.001


def _override(table: pd.DataFrame, base: np.ndarray, kind: str,
              mapping: dict[str, float], where: str) -> np.ndarray:
    out = base.copy()
    if "repair_h" in table.columns:
        col = pd.to_numeric(table["repair_h"], errors="coerce").to_numpy(float)
        bad = np.flatnonzero(np.isfinite(col) & (col < 0))
        if len(bad):
            raise UsageError(f"{where}: {kind} {table.index[bad[0]]!r}: repair_h "
                             f"{col[bad[0]]} is negative; give hours >= 0 or leave it empty")
        out = np.where(np.isfinite(col), col, out)
    prefix = f"{kind}:"
    for token, hours in mapping.items():
        if token.startswith(prefix):
            pos = table.index.get_indexer([token[len(prefix):]])[0]
            if pos < 0:
                raise UsageError(f"{where}: repair_h names {token}, which is not in the grid; "
                                 "fix the id or remove the override")
            out[pos] = hours
    return out


def prepare(grid: Grid, settings: RestorationSettings | None = None, *,
            outside_c: float | None = None) -> Assets:
    """Per-element kinds, repair hours and locations of ``grid`` for restoration.

    Parameters
    ----------
    grid : Grid
    settings : RestorationSettings, optional
        Default :class:`RestorationSettings` ().
    outside_c : float, optional
        Outside temperature (°C) for the buildings' heat in the service evaluation
        (default :data:`gridres.services.DEFAULT_OUTSIDE_C`).

    Returns
    -------
    Assets

    Raises
    ------
    UsageError
        If a depot names an unknown bus or lies off the map, or an override names an
        unknown element, or ``outside_c`` is not a finite temperature.
    GridError
        If the grid's service columns are invalid (:func:`gridres.services.compile_services`).

    Examples
    --------
    >>> import pandas as pd
    >>> from gridres.model import Grid
    >>> g = Grid(buses=pd.DataFrame({"id": ["a", "b"], "ref": [True, False]}),
    ...          branches=pd.DataFrame({"id": ["l"], "from_bus": ["a"], "to_bus": ["b"],
    ...                                 "x_pu": [0.1], "length_km": [10.0]}))
    >>> float(prepare(g).branch_repair_h[0])    # 4 h + 0.2 h/km x 10 km
    6.0
    """
    s = settings or RestorationSettings()
    where = grid.source or grid.name
    buses, branches, gens = grid.buses, grid.branches, grid.generators
    nb, nl, ng = len(buses), len(branches), len(gens)

    kind = branches["kind"].astype(str).str.lower().to_numpy()
    branch_kind = np.where(kind == "transformer", "transformer", "line").astype(object)
    length = branches["length_km"].to_numpy(float)
    length = np.where(np.isfinite(length) & (length >= 0), length, s.default_line_km)
    branch_h = np.where(branch_kind == "transformer", s.transformer_h,
                        s.line_fixed_h + s.line_h_per_km * length)
    bus_h = np.full(nb, s.bus_h)
    gen_h = np.full(ng, s.generator_h)
    overrides = dict(s.repair_h)
    bus_h = _override(buses, bus_h, "bus", overrides, where)
    branch_h = _override(branches, branch_h.astype(float), "branch", overrides, where)
    gen_h = _override(gens, gen_h, "gen", overrides, where)

    bus_xy = _points(buses["geometry"] if "geometry" in buses.columns else None, nb)
    pos = {b: i for i, b in enumerate(buses.index)}
    f = np.array([pos.get(b, -1) for b in branches["from_bus"].astype(str)], dtype=np.int64)
    t = np.array([pos.get(b, -1) for b in branches["to_bus"].astype(str)], dtype=np.int64)
    branch_xy = np.full((nl, 2), np.nan)
    if nl and nb:
        ok = (f >= 0) & (t >= 0)
        branch_xy[ok] = (bus_xy[f[ok]] + bus_xy[t[ok]]) / 2.0
    if "geometry" in branches.columns:
        own = _points(branches["geometry"], nl)
        has = np.isfinite(own).all(axis=1)
        branch_xy[has] = own[has]
    gb = np.array([pos.get(b, -1) for b in gens["bus"].astype(str)], dtype=np.int64)
    gen_xy = np.full((ng, 2), np.nan)
    if ng:
        gen_xy[gb >= 0] = bus_xy[gb[gb >= 0]]

    geographic, unit_km = _crs_kind(grid, bus_xy)
    depot_xy = _depots(s.depots, "depots", bus_xy, buses.index, where, _centre(bus_xy))
    fuel_xy = (_depots(s.fuel_depots, "fuel_depots", bus_xy, buses.index, where, None)
               if s.fuel_depots else depot_xy.copy())
    mobile_xy = np.full((len(s.mobile_generators), 2), np.nan)
    for i, (_, d) in enumerate(s.mobile_generators):
        mobile_xy[i] = (_depots((d,), "mobile_generators", bus_xy, buses.index, where,
                                None)[0] if d != "" else depot_xy[0])
    facs = grid.facilities
    fac_xy = _points(facs["geometry"] if "geometry" in facs.columns else None, len(facs))
    fb = np.array([pos.get(b, -1) for b in facs["bus"].astype(str)], dtype=np.int64)
    own = np.isfinite(fac_xy).all(axis=1)
    use_bus = ~own & (fb >= 0)
    fac_xy[use_bus] = bus_xy[fb[use_bus]]
    if outside_c is not None and not (isinstance(outside_c, int | float)
                                      and np.isfinite(outside_c)):
        raise UsageError(f"outside temperature {outside_c!r}: give a finite number of °C")
    outside = DEFAULT_OUTSIDE_C if outside_c is None else float(outside_c)
    services = compile_services(grid) if len(facs) else None
    impact = (service_impact(services, outside) if services is not None
              else facs["people"].to_numpy(float))
    return Assets(
        settings=s,
        grid_name=grid.name,
        bus_ids=buses.index,
        branch_ids=branches.index,
        gen_ids=gens.index,
        bus_kind=np.full(nb, "bus", dtype=object),
        branch_kind=branch_kind,
        gen_kind=np.full(ng, "generator", dtype=object),
        bus_repair_h=bus_h.astype(float),
        branch_repair_h=branch_h.astype(float),
        gen_repair_h=gen_h.astype(float),
        bus_xy=bus_xy,
        branch_xy=branch_xy,
        gen_xy=gen_xy,
        depot_xy=depot_xy,
        geographic=geographic,
        unit_km=unit_km,
        fac_kind=grid.facilities["kind"].astype(str).to_numpy(),
        fac_xy=fac_xy,
        fuel_depot_xy=fuel_xy,
        mobile_xy=mobile_xy,
        mobile_mw=np.array([mw for mw, _ in s.mobile_generators], dtype=float),
        services=services,
        outside_c=outside,
        fac_impact=impact,
    )


def _centre(bus_xy: np.ndarray) -> np.ndarray:
    """The bus nearest the centroid of the bus locations (NaN without any)."""
    ok = np.isfinite(bus_xy).all(axis=1)
    if not ok.any():
        return np.full((1, 2), np.nan)
    centre = bus_xy[ok].mean(axis=0)
    cand = np.flatnonzero(ok)
    k = cand[np.argmin(np.hypot(*(bus_xy[cand] - centre).T))]
    return bus_xy[[k]].copy()


def _on_map(xy: tuple[float, float], bus_xy: np.ndarray) -> bool:
    """Whether ``xy`` lies within the buses' bounding box widened by half its size on
    every side (see the module notes); True for a grid without bus locations."""
    ok = np.isfinite(bus_xy).all(axis=1)
    if not ok.any():
        return True
    lo, hi = bus_xy[ok].min(axis=0), bus_xy[ok].max(axis=0)
    pad = max(float((hi - lo).max()) / 2.0, 1e-9)
    return bool(np.all(np.asarray(xy) >= lo - pad) and np.all(np.asarray(xy) <= hi + pad))


def _depots(depots: tuple, name: str, bus_xy: np.ndarray, bus_ids: pd.Index,
            where: str, default: np.ndarray | None) -> np.ndarray:
    if not depots:
        return default
    out = np.full((len(depots), 2), np.nan)
    for i, d in enumerate(depots):
        if isinstance(d, str):
            k = bus_ids.get_indexer([d])[0]
            if k < 0:
                import difflib

                close = difflib.get_close_matches(d, bus_ids.tolist(), n=3, cutoff=0.5)
                hint = f"; did you mean {', '.join(close)}?" if close else ""
                raise UsageError(f"{where}: {name}: depot {d!r} is not a bus id{hint}")
            out[i] = bus_xy[k]
        else:
            if not _on_map(d, bus_xy):
                raise UsageError(f"{where}: {name}: depot ({d[0]:g}, {d[1]:g}) lies off the "
                                 "map of the grid's buses; give coordinates in the grid's CRS "
                                 "(x, y: longitude before latitude) or a bus id")
            out[i] = d
    if not np.isfinite(out).all() and np.isfinite(bus_xy).any():
        logger.warning("%s: a depot bus has no location; crews starting there travel 0 h "
                       "to their first job", where)
    return out
