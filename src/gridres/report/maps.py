"""The report's map: grid, hazard footprint, probability of loss of supply per
substation and critical facilities, drawn with geopandas/matplotlib (no tile server).

Longitude/latitude grids are drawn with the aspect ratio of their mean latitude, so
that distances look right without reprojection; grids in a projected or schematic CRS
are drawn as they are.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from gridres.results import substation_points

__all__ = ["grid_map", "FACILITY_MARKERS", "can_map"]

logger = logging.getLogger(__name__)

#: Marker of each facility kind.
FACILITY_MARKERS = {"hospital": "P", "water": "v", "heating": "^", "telecom": "d",
                    "shelter": "s", "emergency": "X", "other": "o"}

_CMAP = "YlOrRd"


def can_map(grid) -> bool:
    """Whether the grid has bus coordinates to draw."""
    return bool(getattr(grid, "has_geometry", False))


def _is_geographic(grid) -> bool:
    if not grid.crs:
        return False
    try:
        from pyproj import CRS

        return bool(CRS.from_user_input(grid.crs).is_geographic)
    except Exception:  # an engineering CRS that pyproj cannot read
        return False


def grid_map(grid, p_bus: pd.Series, *, branch_p: pd.Series | None = None,
             footprints=None, facilities: pd.DataFrame | None = None,
             title: str = "") -> Figure:
    """Map of the grid under the hazard.

    Parameters
    ----------
    grid : Grid
        With bus geometry (see :func:`can_map`).
    p_bus : Series
        Probability of loss of supply per bus id (0..1).
    branch_p : Series, optional
        Failure frequency per branch id; branches that failed in at least 5 % of the
        scenarios are drawn heavier, in purple.
    footprints : GeoDataFrame, optional
        Hazard footprint polygons in the grid's CRS.
    facilities : DataFrame, optional
        Facilities with ``kind`` and ``p_dark``, indexed like ``grid.facilities``.
    title : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    import geopandas as gpd

    fig = Figure(figsize=(7.6, 6.4))
    ax = fig.add_subplot()
    branches = grid.branches
    if "geometry" in branches.columns and branches["geometry"].notna().any():
        lines = gpd.GeoSeries(branches["geometry"].to_numpy(), index=branches.index)
    else:
        from shapely.geometry import LineString

        pos = grid.buses["geometry"]
        lines = gpd.GeoSeries([LineString([pos[f], pos[t]]) for f, t in
                               zip(branches["from_bus"], branches["to_bus"], strict=True)],
                              index=branches.index)
    lines = lines[lines.notna() & ~lines.is_empty]
    handles: list = []
    if footprints is not None and len(footprints):
        fp = footprints[footprints.geometry.notna() & ~footprints.geometry.is_empty]
        fp.plot(ax=ax, facecolor="#6baed6", edgecolor="#08519c", alpha=0.18, linewidth=1.2,
                zorder=1)
        fp.boundary.plot(ax=ax, color="#08519c", linewidth=1.0, linestyle="--", zorder=1)
        handles.append(Line2D([], [], color="#08519c", linestyle="--",
                              label="hazard footprint"))
    lines.plot(ax=ax, color="#9e9e9e", linewidth=0.8, zorder=2)
    handles.append(Line2D([], [], color="#9e9e9e", label="line / transformer"))
    if branch_p is not None and len(branch_p):
        hot = branch_p.reindex(lines.index).fillna(0.0)
        hot = hot[hot >= 0.05]
        if len(hot):
            lines.loc[hot.index].plot(ax=ax, color="#6a3d9a", linewidth=1.0 + 3.0 * hot.values,
                                      alpha=0.75, zorder=3)
            handles.append(Line2D([], [], color="#6a3d9a", linewidth=2.5,
                                  label="failed in >= 5 % of events"))

    subs = substation_points(grid, p_bus).dropna(subset=["x", "y"])
    norm = Normalize(0.0, 1.0)
    size = 18 + 160 * np.sqrt(subs["load_mw"] / max(float(subs["load_mw"].max()), 1e-9))
    order = subs["p_loss_of_supply"].sort_values(kind="stable").index
    sc = ax.scatter(subs.loc[order, "x"], subs.loc[order, "y"],
                    c=subs.loc[order, "p_loss_of_supply"], cmap=_CMAP, norm=norm,
                    s=size.loc[order], edgecolors="#333333", linewidths=0.6, zorder=4)
    cbar = fig.colorbar(sc, ax=ax, shrink=0.7, pad=0.02)
    cbar.set_label("P(loss of supply) per substation")

    if facilities is not None and len(facilities) and "geometry" in grid.facilities.columns:
        fgeom = grid.facilities["geometry"].reindex(facilities.index)
        kinds = facilities["kind"].astype(str)
        p_dark = facilities.get("p_dark", pd.Series(0.0, index=facilities.index)).fillna(0.0)
        for kind in sorted(kinds.unique()):
            sel = kinds.index[kinds == kind]
            pts = [g for g in fgeom.loc[sel] if g is not None and not g.is_empty]
            if not pts:
                continue
            edge = ["#b2182b" if p_dark.loc[i] >= 0.1 else "#1b1b1b" for i in sel]
            marker = FACILITY_MARKERS.get(kind, "o")
            ax.scatter([g.x for g in pts], [g.y for g in pts], marker=marker, s=46,
                       facecolors="white", edgecolors=edge[: len(pts)], linewidths=1.3,
                       zorder=5)
            handles.append(Line2D([], [], marker=marker, linestyle="", markerfacecolor="white",
                                  markeredgecolor="#1b1b1b", label=kind))
        handles.append(Line2D([], [], marker="o", linestyle="", markerfacecolor="white",
                              markeredgecolor="#b2182b", markeredgewidth=1.5,
                              label="facility dark in >= 10 % of events"))

    if _is_geographic(grid):
        ys = subs["y"].to_numpy(float)
        lat = float(np.nanmean(ys)) if len(ys) else 0.0
        ax.set_aspect(1.0 / max(math.cos(math.radians(lat)), 0.1))
        ax.set_xlabel("Longitude (°)")
        ax.set_ylabel("Latitude (°)")
    else:
        ax.set_aspect("equal")
        ax.set_xlabel("x (km)" if grid.crs else "x")
        ax.set_ylabel("y (km)" if grid.crs else "y")
    ax.tick_params(labelsize=7)
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.0, -0.08), ncol=3,
              frameon=False, fontsize=7)
    if title:
        ax.set_title(title, fontsize=10)
    return fig
