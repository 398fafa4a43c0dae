"""Hazard footprints as polygons, for the report's map and the results GeoPackage.

Scenario generators that carry a footprint (:class:`~gridres.scenarios.hazard.
HazardScenarios`, also inside a :class:`~gridres.scenarios.waves.WaveSequence`) are
found by walking the generator; a circle becomes a polygon of its radius (for a
``gaussian`` fall-off, the 1 and 2 standard-deviation rings), drawn on the sphere and
expressed in the grid's CRS; polygon footprints keep their polygons.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from typing import Any

import numpy as np

__all__ = ["footprints", "circle_polygon", "hazards_in"]

logger = logging.getLogger(__name__)

_EARTH_KM = 6371.0088


def hazards_in(generator: Any, depth: int = 0) -> Iterator[tuple[float, Any]]:
    """Yield ``(start_h, hazard)`` for every part of ``generator`` that has a
    ``footprint`` attribute."""
    if depth > 8 or generator is None:
        return
    if getattr(generator, "footprint", None) is not None:
        yield float(getattr(generator, "time_h", 0.0) or 0.0), generator
    for part in getattr(generator, "parts", ()) or ():
        if isinstance(part, tuple) and len(part) == 2:
            start, gen = part
            for t, hz in hazards_in(gen, depth + 1):
                yield float(start) + t, hz
        else:
            yield from hazards_in(part, depth + 1)
    for attr in ("generator", "base", "inner"):
        inner = getattr(generator, attr, None)
        if inner is not None and inner is not generator:
            yield from hazards_in(inner, depth + 1)


def circle_polygon(lon: float, lat: float, radius_km: float, n: int = 128):
    """A circle of ``radius_km`` around (lon, lat) on the sphere, as a lon/lat polygon."""
    from shapely.geometry import Polygon

    lat1, lon1 = math.radians(lat), math.radians(lon)
    d = radius_km / _EARTH_KM
    brg = np.linspace(0.0, 2 * math.pi, n, endpoint=False)
    lat2 = np.arcsin(math.sin(lat1) * math.cos(d) + math.cos(lat1) * math.sin(d) * np.cos(brg))
    lon2 = lon1 + np.arctan2(np.sin(brg) * math.sin(d) * math.cos(lat1),
                             math.cos(d) - math.sin(lat1) * np.sin(lat2))
    return Polygon(np.column_stack([np.degrees(lon2), np.degrees(lat2)]))


def footprints(generators: Any, crs: Any):
    """Footprint polygons of the hazards in ``generators``, in ``crs``.

    Parameters
    ----------
    generators : scenario generator or sequence of them
    crs : CRS of the grid (None: lon/lat)

    Returns
    -------
    geopandas.GeoDataFrame or None
        Columns ``hazard`` (index of the generator), ``label``, ``start_h``, ``ring``
        (what the outline means) and ``geometry``; None when no generator has one.
    """
    import geopandas as gpd

    gens = generators if isinstance(generators, list | tuple) else [generators]
    rows: list[dict[str, Any]] = []
    frames = []
    for i, gen in enumerate(gens):
        for start, hz in hazards_in(gen):
            fp = hz.footprint
            label = str(getattr(hz, "label", "") or type(fp).__name__)
            if all(hasattr(fp, a) for a in ("lon", "lat", "radius_km")):
                if getattr(fp, "falloff", "linear") == "gaussian":
                    rings = [(2.0, "2 sigma"), (1.0, "1 sigma")]
                else:
                    rings = [(1.0, "intensity reaches 0")]
                for mult, what in rings:
                    rows.append({"hazard": i, "label": label, "start_h": start, "ring": what,
                                 "geometry": circle_polygon(fp.lon, fp.lat,
                                                            fp.radius_km * mult)})
            else:
                frame = getattr(fp, "_frame", None)
                if frame is None:
                    continue
                part = frame[[frame.geometry.name]].copy()
                attr = getattr(fp, "attr", "")
                part["hazard"] = i
                part["label"] = label
                part["start_h"] = start
                part["ring"] = (f"{attr} = " + frame[attr].astype(str)) if attr in frame else ""
                if part.crs is None:
                    part = part.set_crs(crs) if crs is not None else part
                frames.append(part.to_crs(crs) if crs is not None and part.crs else part)
    out = []
    if rows:
        circles = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")
        if crs is not None:
            try:
                circles = circles.to_crs(crs)
            except Exception as exc:  # a schematic CRS cannot hold lon/lat circles
                logger.warning("footprint not drawn: cannot express it in the grid's CRS "
                               "(%s)", exc)
                circles = None
        if circles is not None:
            out.append(circles)
    out.extend(f.rename_geometry("geometry") if f.geometry.name != "geometry" else f
               for f in frames)
    if not out:
        return None
    import pandas as pd

    result = gpd.GeoDataFrame(pd.concat(out, ignore_index=True), geometry="geometry",
                              crs=out[0].crs)
    return result[["hazard", "label", "start_h", "ring", "geometry"]]
