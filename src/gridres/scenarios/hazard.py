"""Hazard footprints: intensity at every asset, and the scenarios fragility draws from it.

A *footprint* maps a place to a hazard intensity (wind gust in m/s, flood depth in m, or a
dimensionless 0-1 scale, see :mod:`gridres.scenarios.fragility`). Assets read it where
they stand: a bus (substation) and a generator at their point (a generator without a
geometry of its own at its bus), a branch at the worst place along its route (its
LineString geometry, else the straight segment between its buses).

:class:`CircleFootprint`
    Intensity falls off with distance ``d`` from a centre given in lon/lat (or as x/y in
    the grid's CRS units, for grids on a local or schematic CRS):
    ``linear``: ``peak * max(0, 1 - d / radius_km)`` (zero beyond the radius);
    ``gaussian``: ``peak * exp(-0.5 * (d / radius_km)**2)`` (the radius is the standard
    deviation). On a geographic CRS (lon/lat) ``d`` is the great-circle (haversine)
    distance on a sphere of radius 6371.0088 km; a branch's distance is the least over its
    route (densified to steps of at most ``min(0.5, radius_km / 50)`` km, the nearest
    point of each step from its great-circle triangle with the centre); on a projected
    CRS the centre is projected and ``d`` is the planar distance in CRS units converted
    to km (the axis unit of the CRS: metres, feet, kilometres ...).
:class:`PolygonFootprint`
    Polygons of a GeoJSON or GeoPackage layer carry the intensity in an attribute; an
    asset takes the largest value among the polygons it touches (0 outside them). The
    layer is reprojected to the grid's CRS.

A grid without bus coordinates is refused with a :class:`~gridres.errors.UsageError`.
A grid with coordinates but no CRS is taken as lon/lat (EPSG:4326) when every coordinate
lies in lon/lat range, with a warning; otherwise refused.

:class:`HazardScenarios` turns a footprint and a :class:`FragilitySet` into a scenario
generator: failure probabilities are computed once; each draw fails every asset whose
uniform falls below its probability (buses of one substation fail together, at the
substation's largest intensity).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapely

from gridres.elements import Substations, substations
from gridres.errors import GridError, InputNotFound, UsageError
from gridres.model import Grid, Network
from gridres.scenarios.base import Scenario, Wave
from gridres.scenarios.elements import check_network, check_param
from gridres.scenarios.fragility import FragilitySet, fragility_set, sample_failures

__all__ = [
    "EARTH_RADIUS_KM",
    "haversine_km",
    "AssetGeometry",
    "AssetIntensity",
    "asset_geometry",
    "CircleFootprint",
    "PolygonFootprint",
    "HazardScenarios",
]

logger = logging.getLogger(__name__)

#: Mean Earth radius (IUGG), km.
EARTH_RADIUS_KM = 6371.0088


def haversine_km(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Great-circle distance in km between points given in degrees (broadcasting).

    Examples
    --------
    >>> round(float(haversine_km(0.0, 0.0, 1.0, 0.0)), 3)
    111.195
    """
    lon1, lat1, lon2, lat2 = (np.radians(np.asarray(v, dtype=float)) for v in (lon1, lat1, lon2, lat2))
    a = (np.sin((lat2 - lat1) / 2) ** 2
         + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2)
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


@dataclass(frozen=True, eq=False)
class AssetGeometry:
    """Where the grid's assets are, in the grid's CRS.

    Attributes
    ----------
    crs : pyproj.CRS
    geographic : bool
        Coordinates are lon/lat degrees.
    km_per_unit : float
        Kilometres per CRS unit (projected CRS; NaN for geographic).
    bus, branch, gen : ndarray of shapely geometries (None where unknown)
        Shapes (n_bus,), (n_branch,), (n_gen,).
    branch_length_km : ndarray of float, shape (n_branch,)
        ``length_km`` of the table, else the route's length.
    """

    crs: object
    geographic: bool
    km_per_unit: float
    bus: np.ndarray
    branch: np.ndarray
    gen: np.ndarray
    branch_length_km: np.ndarray


@dataclass(frozen=True, eq=False)
class AssetIntensity:
    """Hazard intensity at every bus, branch and generator (hazard unit)."""

    bus: np.ndarray
    branch: np.ndarray
    gen: np.ndarray


def _column(df, n: int) -> np.ndarray:
    out = np.empty(n, dtype=object)
    if "geometry" in df.columns:
        vals = df["geometry"].to_numpy(dtype=object)
        ok = np.array([isinstance(v, shapely.Geometry) and not v.is_empty for v in vals],
                      dtype=bool)
        out[ok] = vals[ok]
    return out


def asset_geometry(grid: Grid, who: str = "hazard") -> AssetGeometry:
    """Locate the grid's assets (see the module notes).

    Raises
    ------
    UsageError
        If the grid has no bus coordinates, or coordinates outside lon/lat range and no CRS.
    """
    import pyproj

    name = grid.source or grid.name
    if not grid.has_geometry:
        raise UsageError(
            f"{name}: the grid has no bus coordinates, which a {who} footprint needs; use a "
            "grid with geometry (a GeoPackage such as demo_region) or random/explicit scenarios"
        )
    net = grid.network
    bus = _column(grid.buses, net.n_bus)
    if not all(isinstance(b, shapely.Point) for b in bus if b is not None):
        raise UsageError(f"{name}: bus geometries must be Points for a {who} footprint")
    missing = sum(b is None for b in bus)
    if missing:
        logger.warning("%s: %d buses have no coordinates; the %s footprint misses them",
                       name, missing, who)
    crs = grid.crs or getattr(grid.buses, "crs", None)
    xy = shapely.get_coordinates(bus[_present(bus)])
    if crs is None:
        if len(xy) and (np.abs(xy[:, 0]) <= 180).all() and (np.abs(xy[:, 1]) <= 90).all():
            logger.warning("%s: no CRS given; taking coordinates as lon/lat (EPSG:4326)", name)
            crs = "EPSG:4326"
        else:
            raise UsageError(
                f"{name}: bus coordinates have no CRS and are not lon/lat; set the grid's CRS "
                "(e.g. the GeoPackage layer's) to use a hazard footprint"
            )
    crs = pyproj.CRS.from_user_input(crs)
    geographic = bool(crs.is_geographic)
    km_per_unit = math.nan if geographic else crs.axis_info[0].unit_conversion_factor / 1000.0

    branch = _column(grid.branches, net.n_branch)
    need = np.flatnonzero(~_present(branch))
    if len(need):
        has_bus = _present(bus)
        k = need[has_bus[net.f[need]] & has_bus[net.t[need]]]
        if len(k):
            a = shapely.get_coordinates(bus[net.f[k]].astype(object))
            b = shapely.get_coordinates(bus[net.t[k]].astype(object))
            branch[k] = shapely.linestrings(np.stack([a, b], axis=1))
    gen = _column(grid.generators, net.n_gen)
    g_need = np.flatnonzero(~_present(gen))
    gen[g_need] = bus[net.gen_bus[g_need]]

    length = grid.branches["length_km"].to_numpy(float).copy()
    fill = np.flatnonzero(~np.isfinite(length) & _present(branch))
    if len(fill):
        length[fill] = _route_length_km(branch[fill], geographic, km_per_unit)
    return AssetGeometry(crs, geographic, km_per_unit, bus, branch, gen, length)


def _route_length_km(geoms: np.ndarray, geographic: bool, km_per_unit: float) -> np.ndarray:
    geoms = geoms.astype(object)
    if not geographic:
        return shapely.length(geoms) * km_per_unit
    # sum of great-circle legs between consecutive vertices of each part
    out = np.zeros(len(geoms))
    parts, gidx = shapely.get_parts(geoms, return_index=True)
    xy, pidx = shapely.get_coordinates(parts, return_index=True)
    same = pidx[1:] == pidx[:-1]
    legs = haversine_km(xy[:-1, 0], xy[:-1, 1], xy[1:, 0], xy[1:, 1])
    np.add.at(out, gidx[pidx[1:][same]], legs[same])
    return out


def _present(geoms: np.ndarray) -> np.ndarray:
    return np.array([g is not None for g in geoms], dtype=bool)


@dataclass(frozen=True, kw_only=True)
class CircleFootprint:
    """A circular footprint (storm cell, blast, wildfire front).

    Parameters
    ----------
    lon, lat : float
        Centre, degrees (WGS84); or
    x, y : float
        Centre in the grid's CRS units (for grids on a local or schematic CRS).
    radius_km : float
        ``linear``: distance where the intensity reaches 0; ``gaussian``: the standard
        deviation of the bell.
    peak : float
        Intensity at the centre, in the hazard's unit (e.g. 50 m/s gust).
    falloff : {"linear", "gaussian"}

    Examples
    --------
    >>> c = CircleFootprint(lon=10.0, lat=50.0, radius_km=40.0, peak=50.0)
    >>> c.at_distance([0.0, 20.0, 60.0]).tolist()
    [50.0, 25.0, 0.0]
    """

    radius_km: float
    peak: float
    falloff: str = "linear"
    lon: float | None = None
    lat: float | None = None
    x: float | None = None
    y: float | None = None

    def __post_init__(self) -> None:
        who = "circle"
        geo = self.lon is not None or self.lat is not None
        xy = self.x is not None or self.y is not None
        if geo == xy or (geo and (self.lon is None or self.lat is None)) or (
                xy and (self.x is None or self.y is None)):
            raise UsageError("a circle hazard needs its centre as lon=..,lat=.. (degrees) or "
                             "x=..,y=.. (grid CRS units), not both")
        for name in ("lon", "lat", "x", "y", "radius_km", "peak"):
            v = getattr(self, name)
            if v is None:
                continue
            check_param(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v),
                        name, who, "a finite float", v)
        if geo:
            check_param(-180 <= self.lon <= 180, "lon", who, "a float in [-180, 180]", self.lon)
            check_param(-90 <= self.lat <= 90, "lat", who, "a float in [-90, 90]", self.lat)
        check_param(self.radius_km > 0, "radius_km", who, "a float > 0", self.radius_km)
        check_param(self.peak >= 0, "peak", who, "a float >= 0", self.peak)
        check_param(self.falloff in ("linear", "gaussian"), "falloff", who,
                    "one of linear, gaussian", self.falloff)

    def centre(self, where: AssetGeometry) -> tuple[float, float]:
        """The centre in the grid's CRS (lon/lat on a geographic CRS)."""
        if self.x is not None:
            return float(self.x), float(self.y)
        if where.geographic:
            return float(self.lon), float(self.lat)
        import pyproj

        try:
            tr = pyproj.Transformer.from_crs("EPSG:4326", where.crs, always_xy=True)
            cx, cy = tr.transform(self.lon, self.lat, errcheck=True)
        except pyproj.exceptions.ProjError:
            raise UsageError(
                f"the grid's CRS ({where.crs.name}) is not tied to the Earth, so lon/lat cannot "
                "be placed on it; give the circle's centre as x=..,y=.. in its units"
            ) from None
        return float(cx), float(cy)

    def at_distance(self, d_km) -> np.ndarray:
        """Intensity at distances ``d_km`` (array-like, km) from the centre."""
        d = np.asarray(d_km, dtype=float)
        if self.falloff == "linear":
            return self.peak * np.clip(1.0 - d / self.radius_km, 0.0, None)
        return self.peak * np.exp(-0.5 * (d / self.radius_km) ** 2)

    def distances_km(self, geoms: np.ndarray, where: AssetGeometry) -> np.ndarray:
        """Least distance in km from the centre to each geometry (inf where None)."""
        out = np.full(len(geoms), np.inf)
        have = np.flatnonzero(_present(geoms))
        if not len(have):
            return out
        g = geoms[have].astype(object)
        cx, cy = self.centre(where)
        if where.geographic:
            step = min(0.5, self.radius_km / 50.0) / 111.0  # degrees (~ km / 111)
            dense = g.copy()
            long = shapely.length(g) > 0  # GEOS refuses to densify a zero-length line
            dense[long] = shapely.segmentize(g[long], max_segment_length=step)
            xy, idx = shapely.get_coordinates(dense, return_index=True)
            d = haversine_km(xy[:, 0], xy[:, 1], cx, cy)
            best = np.full(len(g), np.inf)
            np.minimum.at(best, idx, d)
            # nearer than the vertices: the foot of the perpendicular on a short segment,
            # from the triangle of the centre and the segment's ends (their great-circle
            # sides; the segments are short, so the planar formula holds)
            seg = np.flatnonzero(idx[1:] == idx[:-1])
            if len(seg):
                dp, dq = d[seg], d[seg + 1]
                length = haversine_km(xy[seg, 0], xy[seg, 1], xy[seg + 1, 0], xy[seg + 1, 1])
                ok = length > 0
                a = np.divide(dp**2 - dq**2 + length**2, 2 * length,
                              out=np.zeros_like(dp), where=ok)
                inside = ok & (a > 0) & (a < length)
                h = np.sqrt(np.clip(dp**2 - a**2, 0.0, None))
                np.minimum.at(best, idx[seg[inside]], h[inside])
            out[have] = best
        else:
            out[have] = shapely.distance(shapely.Point(cx, cy), g) * where.km_per_unit
        return out

    def intensity(self, where: AssetGeometry) -> AssetIntensity:
        """Intensity at every asset."""
        return AssetIntensity(
            bus=self.at_distance(self.distances_km(where.bus, where)),
            branch=self.at_distance(self.distances_km(where.branch, where)),
            gen=self.at_distance(self.distances_km(where.gen, where)),
        )

    def describe(self, unit: str) -> str:
        at = (self.lon, self.lat) if self.x is None else (self.x, self.y)
        return (f"circle {self.peak:g} {unit} at ({at[0]:g}, {at[1]:g}), "
                f"{self.falloff} r={self.radius_km:g} km")


@dataclass(frozen=True, eq=False)
class PolygonFootprint:
    """Polygons with an intensity attribute (flood depth zones, wind bands, fire areas).

    Parameters
    ----------
    path : str or Path
        GeoJSON or GeoPackage file.
    attr : str
        Numeric attribute holding the intensity (e.g. ``depth_m``).
    layer : str, optional
        Layer name (GeoPackage with several layers); default the first layer.

    Notes
    -----
    The layer is read once. Point-in-polygon and line-polygon tests use a
    :class:`shapely.STRtree`: ``O((n + m) log p)`` for ``p`` polygons.
    """

    path: str | Path
    attr: str
    layer: str | None = None
    _frame: object = field(init=False, repr=False, default=None)

    def __post_init__(self) -> None:
        import geopandas as gpd
        import pyogrio

        path = Path(self.path)
        if not path.is_file():
            raise InputNotFound(f"{path}: no such polygon file (GeoJSON or GeoPackage)")
        try:
            layers = [str(x) for x in pyogrio.list_layers(path)[:, 0]]
        except Exception:  # noqa: BLE001 - any driver error means "not a layer file"
            raise GridError(f"{path}: not a GIS file gridres can read; give polygons as "
                            "GeoJSON or GeoPackage") from None
        if self.layer is not None and self.layer not in layers:
            raise UsageError(
                f"{path}: no layer {self.layer!r}; layers: {', '.join(layers)}"
            )
        try:
            frame = gpd.read_file(path, layer=self.layer)
        except Exception as exc:  # noqa: BLE001 - a damaged layer: one line, exit 65
            raise GridError(f"{path}: its polygon layer cannot be read "
                            f"({type(exc).__name__}); give polygons as GeoJSON or "
                            "GeoPackage") from None
        if self.attr not in frame.columns or self.attr == "geometry":
            cols = [c for c in frame.columns if c != "geometry"]
            raise UsageError(
                f"{path}: layer has no attribute {self.attr!r}; attributes: "
                f"{', '.join(cols) or 'none'} (set attr=)"
            )
        kinds = set(frame.geometry.geom_type.dropna())
        if not kinds <= {"Polygon", "MultiPolygon"}:
            raise GridError(f"{path}: expected polygons, found {', '.join(sorted(kinds))}")
        values = frame[self.attr]
        import pandas as pd

        numeric = pd.to_numeric(values, errors="coerce")
        bad = np.flatnonzero(numeric.isna() & values.notna())
        if len(bad):
            raise GridError(
                f"{path}: polygon {int(bad[0])} has {self.attr}={values.iloc[bad[0]]!r}, not a "
                "number"
            )
        frame = frame.assign(**{self.attr: numeric.fillna(0.0)})
        object.__setattr__(self, "_frame", frame[frame.geometry.notna()])

    def intensity(self, where: AssetGeometry) -> AssetIntensity:
        """Largest attribute value among the polygons each asset touches."""
        frame = self._frame
        if frame.crs is None:
            logger.warning("%s: polygons have no CRS; taking the grid's (%s)", self.path,
                           where.crs.to_string())
            frame = frame.set_crs(where.crs)
        else:
            frame = frame.to_crs(where.crs)
        polys = frame.geometry.to_numpy()
        vals = frame[self.attr].to_numpy(float)
        tree = shapely.STRtree(polys)

        def at(geoms: np.ndarray) -> np.ndarray:
            out = np.zeros(len(geoms))
            have = np.flatnonzero(_present(geoms))
            if len(have) and len(polys):
                src, hit = tree.query(geoms[have].astype(object), predicate="intersects")
                best = np.full(len(have), -np.inf)
                np.maximum.at(best, src, vals[hit])
                out[have] = np.where(np.isfinite(best), best, 0.0)
            return out

        return AssetIntensity(bus=at(where.bus), branch=at(where.branch), gen=at(where.gen))

    def describe(self, unit: str) -> str:
        layer = f":{self.layer}" if self.layer else ""
        return f"polygons {Path(self.path).name}{layer} {self.attr} ({unit})"


@dataclass(frozen=True, eq=False)
class HazardScenarios:
    """Scenario generator: a footprint's intensity through fragility curves.

    Parameters
    ----------
    grid : Grid
        A grid with bus coordinates.
    footprint : CircleFootprint or PolygonFootprint
    fragility : FragilitySet, optional
        Default: the ``wind`` defaults for a circle, ``flood`` for polygons.
    time_h : float
        Time of the wave, hours.

    Attributes
    ----------
    intensity : AssetIntensity
        Intensity at every asset.
    p_substation, p_branch, p_gen : ndarray of float
        Failure probability of every substation (see
        :func:`~gridres.elements.substations`), branch and generator.

    Examples
    --------
    >>> import numpy as np, pandas as pd, shapely
    >>> from gridres.model import Grid
    >>> grid = Grid(
    ...     buses=pd.DataFrame({"id": ["a", "b"], "ref": [True, False],
    ...                         "geometry": [shapely.Point(10, 50), shapely.Point(11, 50)]}),
    ...     branches=pd.DataFrame({"id": ["l"], "from_bus": ["a"], "to_bus": ["b"],
    ...                            "x_pu": [0.1]}), crs="EPSG:4326")
    >>> hz = HazardScenarios(grid, CircleFootprint(lon=10.0, lat=50.0, radius_km=30.0, peak=80.0))
    >>> hz.p_branch.round(3).tolist(), hz.intensity.bus.round(1).tolist()
    ([0.998], [80.0, 0.0])

    Notes
    -----
    Each draw takes three seeds from ``rng`` and draws one uniform per substation, per
    branch and per generator from three independent streams, so adding an element to a
    grid (a redundancy option) leaves every other element's draw unchanged.
    """

    grid: Grid
    footprint: CircleFootprint | PolygonFootprint
    fragility: FragilitySet | None = None
    time_h: float = 0.0
    intensity: AssetIntensity = field(init=False, repr=False)
    p_substation: np.ndarray = field(init=False, repr=False)
    p_branch: np.ndarray = field(init=False, repr=False)
    p_gen: np.ndarray = field(init=False, repr=False)
    _subs: Substations = field(init=False, repr=False)

    def __post_init__(self) -> None:
        check_param(math.isfinite(self.time_h) and self.time_h >= 0, "time_h", "hazard",
                    "a float >= 0", self.time_h)
        if self.fragility is None:
            default = "flood" if isinstance(self.footprint, PolygonFootprint) else "wind"
            object.__setattr__(self, "fragility", fragility_set(default))
        where = asset_geometry(self.grid, "circle" if isinstance(self.footprint, CircleFootprint)
                               else "polygon")
        inten = self.footprint.intensity(where)
        subs = substations(self.grid)
        sub_x = np.full(len(subs), -np.inf)
        np.maximum.at(sub_x, subs.of_bus, inten.bus)
        fs = self.fragility
        object.__setattr__(self, "intensity", inten)
        object.__setattr__(self, "_subs", subs)
        object.__setattr__(self, "p_substation", fs["substation"].probability(sub_x))
        object.__setattr__(self, "p_branch", fs.branch_probability(
            self.grid.branches["kind"].to_numpy(str), inten.branch, where.branch_length_km))
        object.__setattr__(self, "p_gen", fs["generator"].probability(inten.gen))

    @property
    def label(self) -> str:
        return self.footprint.describe(self.fragility.unit) + f" ({self.fragility.hazard})"

    def expected_failures(self) -> dict[str, float]:
        """Expected number of failed substations, branches and generators per draw."""
        return {"substations": float(self.p_substation.sum()),
                "branches": float(self.p_branch.sum()),
                "gens": float(self.p_gen.sum())}

    def sample(self, net: Network, rng: np.random.Generator) -> Scenario:
        """Fail each asset with its probability; one wave at ``time_h``."""
        check_network(net, self.grid, "hazard")
        seeds = rng.integers(0, 2**62, size=3)
        sub = sample_failures(self.p_substation, np.random.default_rng(seeds[0]))
        br = sample_failures(self.p_branch, np.random.default_rng(seeds[1]))
        gen = sample_failures(self.p_gen, np.random.default_rng(seeds[2]))
        wave = Wave(self.time_h, self._subs.buses(np.flatnonzero(sub)),
                    np.flatnonzero(br), np.flatnonzero(gen))
        return Scenario((wave,), self.label)
