"""The report's map: grid, hazard footprint, the share of events in which each
substation is left without supply, what failed, critical facilities, and the names of
towns and the most exposed substations, drawn with geopandas/matplotlib (no tile
server).

The colour scale runs from 0 to a round number just above the largest value, and says
so; substations never without supply are drawn grey. Where many substations crowd one
spot (a city), a second panel shows that spot enlarged, framed on the main map.
Facility markers that share a place are set around it, each with a thin line to where it
is. Longitude/latitude grids are drawn with the aspect ratio of their mean latitude, so
that distances look right without reprojection; grids in a projected or schematic CRS
are drawn as they are.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib import patheffects
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.ticker import FuncFormatter
from matplotlib.transforms import Bbox

from gridres.results import element_places, substation_points

__all__ = ["grid_map", "strike_map", "FACILITY_MARKERS", "can_map", "colour_limit",
           "FAILURE_CLASSES"]

logger = logging.getLogger(__name__)

#: Marker of each facility kind.
FACILITY_MARKERS = {"hospital": "P", "water": "v", "heating": "^", "telecom": "d",
                    "shelter": "s", "emergency": "X", "other": "o"}

#: Classes of how often a branch failed: (lowest share, colour, line width, words).
FAILURE_CLASSES = ((0.05, "#b9a3d1", 1.6, "failed in 5-25 % of events"),
                   (0.25, "#7b52ab", 2.6, "failed in 25-50 % of events"),
                   (0.50, "#3f007d", 3.6, "failed in over half of the events"))

#: Facilities shown as exposed (red outline) from this share of events on.
EXPOSED = 0.1

_CMAP = "YlOrRd"
_HALO = [patheffects.withStroke(linewidth=2.6, foreground="white")]
_STEPS = (0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0)


def can_map(grid) -> bool:
    """Whether the grid has bus coordinates to draw."""
    return bool(getattr(grid, "has_geometry", False))


def colour_limit(largest: float) -> float:
    """The top of the colour scale: the first round share at or above ``largest``.

    Examples
    --------
    >>> colour_limit(0.31), colour_limit(0.0), colour_limit(0.97)
    (0.4, 0.1, 1.0)
    """
    if not math.isfinite(largest) or largest <= 0:
        return 0.1
    return next((s for s in _STEPS if s >= largest - 1e-12), 1.0)


def _is_geographic(grid) -> bool:
    if not grid.crs:
        return False
    try:
        from pyproj import CRS

        return bool(CRS.from_user_input(grid.crs).is_geographic)
    except Exception:  # an engineering CRS that pyproj cannot read
        return False


def _lines(grid):
    import geopandas as gpd

    branches = grid.branches
    if "geometry" in branches.columns and branches["geometry"].notna().any():
        lines = gpd.GeoSeries(branches["geometry"].to_numpy(), index=branches.index)
    else:
        from shapely.geometry import LineString

        pos = grid.buses["geometry"]
        lines = gpd.GeoSeries([LineString([pos[f], pos[t]]) for f, t in
                               zip(branches["from_bus"], branches["to_bus"], strict=True)],
                              index=branches.index)
    return lines[lines.notna() & ~lines.is_empty]


def _towns(grid, top: int) -> pd.DataFrame:
    """The ``top`` largest towns (``town`` and ``population`` bus columns): name,
    position (mean of their buses) and population; empty where the grid has none."""
    b = grid.buses
    if "town" not in b or "geometry" not in b:
        return pd.DataFrame(columns=["x", "y", "population"])
    town = b["town"].fillna("").astype(str).str.strip()
    keep = (town != "") & b["geometry"].notna()
    if not keep.any():
        return pd.DataFrame(columns=["x", "y", "population"])
    pop = b["population"] if "population" in b else pd.Series(1.0, index=b.index)
    df = pd.DataFrame({"town": town[keep], "x": [g.x for g in b.loc[keep, "geometry"]],
                       "y": [g.y for g in b.loc[keep, "geometry"]],
                       "population": pop[keep].astype(float)})
    out = df.groupby("town").agg(x=("x", "mean"), y=("y", "mean"),
                                 population=("population", "sum"))
    return out.sort_values("population", ascending=False).head(top)


@dataclass(frozen=True)
class _Layers:
    """What the map draws, prepared once for the main panel and the enlarged one."""

    lines: object
    branch_p: pd.Series
    subs: pd.DataFrame
    sub_failed: pd.Series
    footprints: object
    facilities: pd.DataFrame
    towns: pd.DataFrame
    norm: Normalize


def _crowd(subs: pd.DataFrame, extent: float,
           aspect: float = 1.0) -> tuple[float, float, float, float] | None:
    """The window around the most crowded spot: at least four substations within 4 %
    of the map's size of one another; None where none crowd. The window is square on
    the page (``aspect``: the map's y-to-x scale)."""
    if len(subs) < 4 or extent <= 0:
        return None
    xy = subs[["x", "y"]].to_numpy(float)
    d = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    near = d < 0.04 * extent
    counts = near.sum(axis=1)
    k = int(np.argmax(counts))
    if counts[k] < 4:
        return None
    members = xy[d[k] < 0.07 * extent]
    (x0, y0), (x1, y1) = members.min(axis=0), members.max(axis=0)
    half_y = max((y1 - y0) / 2, (x1 - x0) / 2 / aspect) + 0.03 * extent
    half_x = half_y * aspect
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return cx - half_x, cx + half_x, cy - half_y, cy + half_y


def _spread(points: pd.DataFrame, radius: float) -> pd.DataFrame:
    """Facility positions set around the place they share (``x``, ``y`` the place;
    ``mx``, ``my`` where the marker goes): every marker ``radius`` away from its place,
    those of one place evenly around it."""
    out = points.copy()
    out["mx"], out["my"] = out["x"], out["y"]
    keys = list(zip(out["x"].round(9), out["y"].round(9), strict=True))
    for key in dict.fromkeys(keys):
        rows = [i for i, k in zip(out.index, keys, strict=True) if k == key]
        for j, i in enumerate(rows):
            angle = math.pi / 4 + 2 * math.pi * j / len(rows)
            out.at[i, "mx"] = key[0] + radius * math.cos(angle)
            out.at[i, "my"] = key[1] + radius * math.sin(angle)
    return out


def _draw(ax, layers: _Layers, *, marker_scale: float, radius: float, labels: int,
          placed: list, frame) -> object:
    """Draw every layer on ``ax``; return the substations' scatter (for the colour
    bar). ``labels``: substations to name (the most exposed); ``placed``: label boxes
    already drawn on this panel (they are avoided); ``frame()`` sets the panel's limits
    and aspect again before labels are placed (geopandas sets an aspect of its own)."""
    if layers.footprints is not None and len(layers.footprints):
        fp = layers.footprints
        fp = fp[fp.geometry.notna() & ~fp.geometry.is_empty]
        fp.plot(ax=ax, facecolor="#6baed6", edgecolor="none", alpha=0.16, zorder=1)
        fp.boundary.plot(ax=ax, color="#08519c", linewidth=1.0, linestyle="--", zorder=1)
    layers.lines.plot(ax=ax, color="#a8a8a8", linewidth=0.8, zorder=2)
    p = layers.branch_p.reindex(layers.lines.index).fillna(0.0)
    for k, (low, colour, width, _) in enumerate(FAILURE_CLASSES):
        high = FAILURE_CLASSES[k + 1][0] if k + 1 < len(FAILURE_CLASSES) else math.inf
        sel = p.index[(p >= low) & (p < high)]
        if len(sel):
            layers.lines.loc[sel].plot(ax=ax, color=colour, linewidth=width, zorder=3)
    frame()
    subs = layers.subs
    never = subs[subs["p_loss_of_supply"] <= 0]
    hit = subs[subs["p_loss_of_supply"] > 0].sort_values("p_loss_of_supply", kind="stable")
    size = marker_scale * (12 + 150 * np.sqrt(subs["load_mw"] / max(float(
        subs["load_mw"].max()), 1e-9)))
    ax.scatter(never["x"], never["y"], s=size.loc[never.index], color="#e6e6e6",
               edgecolors="#8c8c8c", linewidths=0.5, zorder=4)
    sc = ax.scatter(hit["x"], hit["y"], c=hit["p_loss_of_supply"], cmap=_CMAP,
                    norm=layers.norm, s=size.loc[hit.index], edgecolors="#333333",
                    linewidths=0.6, zorder=5)
    failed = layers.sub_failed.reindex(subs.index).fillna(0.0)
    broken = subs[failed >= 0.05]
    if len(broken):
        ax.scatter(broken["x"], broken["y"], marker="x", s=38 * marker_scale,
                   color="#1b1b1b", linewidths=1.4, zorder=6)
    fac = layers.facilities
    if len(fac):
        fac = _spread(fac, radius)
        for _, r in fac.iterrows():
            ax.plot([r["x"], r["mx"]], [r["y"], r["my"]], color="#555555", linewidth=0.5,
                    zorder=6)
        for kind in sorted(fac["kind"].unique()):
            part = fac[fac["kind"] == kind]
            edge = ["#b2182b" if v >= EXPOSED else "#1b1b1b" for v in part["p_dark"]]
            ax.scatter(part["mx"], part["my"], marker=FACILITY_MARKERS.get(kind, "o"),
                       s=40 * marker_scale, facecolors="white", edgecolors=edge,
                       linewidths=1.3, zorder=7)
    renderer = ax.figure.canvas.get_renderer()
    obstacles = _marker_boxes(ax, subs, size)
    top = hit.sort_values(["p_loss_of_supply", "load_mw"], ascending=False).head(labels)
    for name, r in top.iterrows():
        _label(ax, r["x"], r["y"], f"{name} {_pct(r['p_loss_of_supply'])}", placed,
               renderer, weight="bold", colour="#7f0000", size=8,
               gap=math.sqrt(float(size[name])) / 2 + 2, obstacles=obstacles)
    for town, r in layers.towns.iterrows():
        _label(ax, r["x"], r["y"], str(town), placed, renderer, style="italic",
               colour="#3d3d3d", size=8.5, obstacles=obstacles)
    return sc


def _marker_boxes(ax, subs: pd.DataFrame, size: pd.Series) -> list:
    """Display boxes of the substation markers (``size``: marker areas in points²)."""
    xy = ax.transData.transform(subs[["x", "y"]].to_numpy(float))
    px = ax.figure.dpi / 72.0
    boxes = []
    for (x, y), s in zip(xy, size.loc[subs.index].to_numpy(float), strict=True):
        r = math.sqrt(s) / 2 * px
        boxes.append(Bbox([[x - r, y - r], [x + r, y + r]]))
    return boxes


def _pct(share: float) -> str:
    return f"{100 * share:.0f} %"


def _label(ax, x: float, y: float, text: str, placed: list, renderer, *,
           colour: str, size: float, style: str = "normal", weight: str = "normal",
           gap: float = 5.0, obstacles: list = ()) -> None:
    """Write ``text`` beside (x, y), ``gap`` points away, where it overlaps no label
    already placed and no marker, trying eight places around it; where none is free,
    the first place that overlaps no label; leave it out where it would overlap a label
    everywhere or leave the panel."""
    box_ax = ax.get_window_extent(renderer)
    d = gap
    tries = ((d, d * 0.6, "left", "bottom"), (d, -d * 0.6, "left", "top"),
             (-d, d * 0.6, "right", "bottom"), (-d, -d * 0.6, "right", "top"),
             (0, d, "center", "bottom"), (0, -d, "center", "top"),
             (d * 1.2, 0, "left", "center"), (-d * 1.2, 0, "right", "center"))
    fallback = None
    for dx, dy, ha, va in tries:
        t = ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points",
                        ha=ha, va=va, fontsize=size, color=colour, style=style,
                        weight=weight, zorder=8, path_effects=_HALO, annotation_clip=True)
        box = t.get_window_extent(renderer)
        inside = (box.x0 >= box_ax.x0 and box.x1 <= box_ax.x1 and box.y0 >= box_ax.y0
                  and box.y1 <= box_ax.y1)
        free = inside and not any(box.overlaps(b) for b in placed)
        if free and not any(box.overlaps(b) for b in obstacles):
            placed.append(box)
            return
        t.remove()
        if free and fallback is None:
            fallback = (dx, dy, ha, va)
    if fallback is not None:
        dx, dy, ha, va = fallback
        t = ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points",
                        ha=ha, va=va, fontsize=size, color=colour, style=style,
                        weight=weight, zorder=8, path_effects=_HALO, annotation_clip=True)
        placed.append(t.get_window_extent(renderer))


def _axes_style(ax, grid, ys: np.ndarray) -> None:
    """Aspect and axis labels (after drawing: geopandas sets an aspect of its own)."""
    if _is_geographic(grid):
        lat = float(np.nanmean(ys)) if len(ys) else 0.0
        ax.set_aspect(1.0 / max(math.cos(math.radians(lat)), 0.1), adjustable="box")
        ax.set_xlabel("Longitude (°)")
        ax.set_ylabel("Latitude (°)")
    else:
        ax.set_aspect("equal", adjustable="box")
        ax.set_xlabel("x (km)" if grid.crs else "x")
        ax.set_ylabel("y (km)" if grid.crs else "y")
    ax.tick_params(labelsize=7.5)


def grid_map(grid, p_bus: pd.Series, *, branch_p: pd.Series | None = None,
             footprints=None, facilities: pd.DataFrame | None = None,
             facility_p: pd.Series | None = None, bus_failed: pd.Series | None = None,
             title: str = "", towns: int = 12, labels: int = 6) -> Figure:
    """Map of the grid under the hazard.

    Parameters
    ----------
    grid : Grid
        With bus geometry (see :func:`can_map`).
    p_bus : Series
        Probability of loss of supply per bus id (0..1); a substation shows the largest
        of its buses.
    branch_p : Series, optional
        Failure frequency per branch id; branches that failed in at least 5 % of the
        events are drawn heavier and darker by :data:`FAILURE_CLASSES`.
    footprints : GeoDataFrame, optional
        Hazard footprint polygons in the grid's CRS.
    facilities : DataFrame, optional
        Facilities with ``kind``, indexed like ``grid.facilities``.
    facility_p : Series, optional
        Share of events in which each facility is dark (default its ``p_dark``); from
        :data:`EXPOSED` on its marker is outlined in red.
    bus_failed : Series, optional
        Share of events in which each bus itself failed; a substation whose buses
        failed in at least 5 % of the events is crossed.
    title : str
    towns, labels : int
        Towns to name (the largest, from the ``town`` and ``population`` bus columns)
        and substations to name (the most exposed, with their share).

    Returns
    -------
    matplotlib.figure.Figure
        Its main panel is labelled ``map`` (see :func:`gridres.report.figures.
        figure_ranges`); the enlarged panel and the key are not data panels.
    """
    subs = substation_points(grid, p_bus).dropna(subset=["x", "y"])
    top = float(subs["p_loss_of_supply"].max()) if len(subs) else 0.0
    norm = Normalize(0.0, colour_limit(top))
    sub_of_bus = grid.buses["substation"].astype(str).where(
        grid.buses["substation"].astype(str) != "", grid.buses.index.to_series())
    failed = (bus_failed.reindex(grid.buses.index).fillna(0.0).groupby(sub_of_bus).max()
              if bus_failed is not None and len(bus_failed) else pd.Series(dtype=float))
    fac = pd.DataFrame(columns=["x", "y", "kind", "p_dark"])
    if facilities is not None and len(facilities) and "geometry" in grid.facilities.columns:
        geom = grid.facilities["geometry"].reindex(facilities.index)
        ok = [g is not None and not g.is_empty for g in geom]
        share = facility_p if facility_p is not None else facilities.get(
            "p_dark", pd.Series(0.0, index=facilities.index))
        fac = pd.DataFrame({"x": [g.x for g in geom[ok]], "y": [g.y for g in geom[ok]],
                            "kind": facilities.loc[ok, "kind"].astype(str).to_numpy(),
                            "p_dark": share.reindex(facilities.index).fillna(0.0)[ok]
                            .to_numpy(float)}, index=facilities.index[ok])
    layers = _Layers(_lines(grid), branch_p if branch_p is not None else pd.Series(
        dtype=float), subs, failed, footprints, fac, _towns(grid, towns), norm)

    xs, ys = subs["x"].to_numpy(float), subs["y"].to_numpy(float)
    extent = float(max(np.ptp(xs), np.ptp(ys))) if len(subs) else 0.0
    aspect = (1.0 / max(math.cos(math.radians(float(np.nanmean(ys)))), 0.1)
              if _is_geographic(grid) and len(ys) else 1.0)
    window = _crowd(subs, extent, aspect)
    fig = Figure(figsize=(9.4, 7.0) if window else (7.4, 7.6))
    FigureCanvasAgg(fig)
    if window:
        grid_spec = fig.add_gridspec(3, 2, width_ratios=(1.5, 1.0),
                                     height_ratios=(1.0, 0.045, 0.26), wspace=0.1,
                                     hspace=0.3)
        ax = fig.add_subplot(grid_spec[0:2, 0], label="map")
        zoom = fig.add_subplot(grid_spec[0, 1], label="<map-zoom>")
        cax = fig.add_subplot(grid_spec[1, 1], label="<colour scale>")
        key = fig.add_subplot(grid_spec[2, :], label="<key>")
    else:
        grid_spec = fig.add_gridspec(3, 1, height_ratios=(1.0, 0.035, 0.22), hspace=0.3)
        ax = fig.add_subplot(grid_spec[0], label="map")
        zoom = None
        cax = fig.add_subplot(grid_spec[1], label="<colour scale>")
        key = fig.add_subplot(grid_spec[2], label="<key>")
    radius = 0.012 * extent
    placed: list = []
    region = (xs.min() - 0.04 * extent, xs.max() + 0.04 * extent,
              ys.min() - 0.04 * extent, ys.max() + 0.04 * extent)
    _frame(ax, grid, ys, region)
    if window is not None:
        x0, x1, y0, y1 = window
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor="#222222",
                               linewidth=1.0, zorder=9))
        note = ax.annotate("enlarged, right", (x1, y1), xytext=(3, 3),
                           textcoords="offset points", fontsize=7, color="#222222",
                           path_effects=_HALO, zorder=9)
        placed.append(note.get_window_extent(fig.canvas.get_renderer()))
    sc = _draw(ax, layers, marker_scale=1.0, radius=radius, labels=labels if not window
               else 0, placed=placed, frame=lambda: _frame(ax, grid, ys, region))
    if window is not None and zoom is not None:
        _draw(zoom, dataclasses.replace(layers, towns=layers.towns.iloc[0:0]),
              marker_scale=1.6, radius=0.05 * (x1 - x0), labels=labels, placed=[],
              frame=lambda: _frame(zoom, grid, ys, window))
        zoom.set_title(f"{_place(layers.towns, window) or 'This area'}, enlarged",
                       fontsize=9)
        # the most exposed substations outside the window are named on the main map
        outside = subs[~subs["x"].between(x0, x1) | ~subs["y"].between(y0, y1)]
        renderer = fig.canvas.get_renderer()
        for name, r in outside[outside["p_loss_of_supply"] > 0].sort_values(
                ["p_loss_of_supply", "load_mw"], ascending=False).head(3).iterrows():
            _label(ax, r["x"], r["y"], f"{name} {_pct(r['p_loss_of_supply'])}", placed,
                   renderer, weight="bold", colour="#7f0000", size=8)
        for side in ("top", "right", "bottom", "left"):
            zoom.spines[side].set_linewidth(1.0)
        zoom.set_xlabel("")
        zoom.set_ylabel("")
    cbar = fig.colorbar(sc, cax=cax, orientation="horizontal")
    cbar.ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _pct(v)))
    cbar.ax.tick_params(labelsize=7.5)
    cbar.set_label(f"Share of events in which a substation is without supply\n"
                   f"(scale 0 to {_pct(norm.vmax)}; grey: never)", fontsize=8.5)
    key.axis("off")
    key.legend(handles=_legend(layers), loc="upper center", ncol=3, frameon=False,
               fontsize=8, bbox_to_anchor=(0.5, 1.0))
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def _frame(ax, grid, ys: np.ndarray, window: tuple[float, float, float, float]) -> None:
    """Limits, aspect and labels of a map panel (again after drawing: geopandas sets
    an aspect of its own)."""
    x0, x1, y0, y1 = window
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    _axes_style(ax, grid, ys)
    ax.apply_aspect()  # now, not at drawing: labels are placed by their boxes on the page


def _place(towns: pd.DataFrame, window: tuple[float, float, float, float]) -> str:
    """The largest town inside ``window``, or ''."""
    x0, x1, y0, y1 = window
    inside = towns[towns["x"].between(x0, x1) & towns["y"].between(y0, y1)]
    return str(inside.index[0]) if len(inside) else ""


def _legend(layers: _Layers) -> list:
    handles: list = []
    if layers.footprints is not None and len(layers.footprints):
        handles.append(Line2D([], [], color="#08519c", linestyle="--",
                              label="hazard footprint"))
    handles.append(Line2D([], [], color="#a8a8a8", label="line or transformer"))
    p = layers.branch_p
    for low, colour, width, words in FAILURE_CLASSES:
        if len(p) and (p >= low).any():
            handles.append(Line2D([], [], color=colour, linewidth=width, label=words))
    if len(layers.sub_failed) and (layers.sub_failed >= 0.05).any():
        handles.append(Line2D([], [], marker="x", linestyle="", color="#1b1b1b",
                              markeredgewidth=1.4, label="substation damaged in >= 5 %"))
    handles.append(Line2D([], [], marker="o", linestyle="", markerfacecolor="#e6e6e6",
                          markeredgecolor="#8c8c8c", label="substation, never without "
                          "supply (size: load)"))
    fac = layers.facilities
    for kind in sorted(fac["kind"].unique()) if len(fac) else ():
        handles.append(Line2D([], [], marker=FACILITY_MARKERS.get(kind, "o"), linestyle="",
                              markerfacecolor="white", markeredgecolor="#1b1b1b", label=kind))
    if len(fac):
        handles.append(Line2D([], [], marker="o", linestyle="", markerfacecolor="white",
                              markeredgecolor="#b2182b", markeredgewidth=1.5,
                              label=f"facility dark in >= {_pct(EXPOSED)} of events"))
    return handles


#: Colours of the strike map: the worst set, the other worst sets, protected sites
#: (Okabe-Ito vermilion, orange and blue).
_STRUCK, _STRUCK_OTHER, _PROTECTED = "#D55E00", "#E69F00", "#0072B2"


def strike_map(grid, sets: list[tuple[int, tuple[str, ...]]], protected: tuple[str, ...] = (),
               names: dict[str, str] | None = None) -> Figure:
    """Map of the worst strike sets and the sites to protect.

    Parameters
    ----------
    grid : Grid
        With bus geometry (see :func:`can_map`).
    sets : list of (rank, element tokens)
        The worst sets, worst first; the first is drawn in vermilion and named, the
        others in orange, each element numbered with the ranks of the sets it is in.
    protected : tuple of str
        Element tokens of the protection (blue squares, named).
    names : dict, optional
        Readers' names of the tokens (default: their ids).

    Returns
    -------
    matplotlib.figure.Figure
        Its map panel is labelled ``strike map``; where the sites crowd one spot, a
        second panel shows it enlarged (not a data panel), as on the report's main map.
    """
    names = names or {}
    subs = substation_points(grid, pd.Series(0.0, index=grid.buses.index)).dropna(
        subset=["x", "y"])
    tokens = list(dict.fromkeys([t for _, s in sets for t in s] + list(protected)))
    places = element_places(grid, tokens)
    spots = []
    for t, geom in places["geometry"].items():
        if geom is not None:
            mid = geom.interpolate(0.5, normalized=True) if geom.geom_type != "Point" else geom
            spots.append((t, geom, float(mid.x), float(mid.y)))
    xs, ys = subs["x"].to_numpy(float), subs["y"].to_numpy(float)
    extent = float(max(np.ptp(xs), np.ptp(ys))) if len(subs) else 1.0
    aspect = (1.0 / max(math.cos(math.radians(float(np.nanmean(ys)))), 0.1)
              if _is_geographic(grid) and len(ys) else 1.0)
    marked = pd.DataFrame([(x, y) for _, _, x, y in spots], columns=["x", "y"])
    window = _crowd(marked, extent, aspect) if len(marked) >= 4 else None
    if window is None and len(marked) >= 2:
        window = _crowd(subs, extent, aspect)
        if window is not None:
            x0, x1, y0, y1 = window
            inside = marked["x"].between(x0, x1) & marked["y"].between(y0, y1)
            window = window if inside.sum() >= 2 else None
    fig = Figure(figsize=(9.4, 6.6) if window else (7.4, 7.2))
    FigureCanvasAgg(fig)
    if window:
        spec = fig.add_gridspec(2, 2, width_ratios=(1.5, 1.0), height_ratios=(1.0, 0.14),
                                wspace=0.1, hspace=0.14)
        ax = fig.add_subplot(spec[0, 0], label="strike map")
        zoom = fig.add_subplot(spec[0, 1], label="<strike map zoom>")
        key = fig.add_subplot(spec[1, :], label="<key>")
    else:
        spec = fig.add_gridspec(2, 1, height_ratios=(1.0, 0.13), hspace=0.12)
        ax = fig.add_subplot(spec[0], label="strike map")
        zoom = None
        key = fig.add_subplot(spec[1], label="<key>")
    ranks: dict[str, list[int]] = {}
    for rank, members in sets:
        for t in members:
            ranks.setdefault(t, []).append(rank)
    first = set(sets[0][1]) if sets else set()
    region = (xs.min() - 0.05 * extent, xs.max() + 0.05 * extent,
              ys.min() - 0.05 * extent, ys.max() + 0.05 * extent)

    def draw(panel, frame: tuple, scale: float, label: bool) -> None:
        _frame(panel, grid, ys, frame)
        _lines(grid).plot(ax=panel, color="#bdbdbd", linewidth=0.8, zorder=2)
        _frame(panel, grid, ys, frame)
        size = scale * (10 + 90 * np.sqrt(subs["load_mw"] / max(float(
            subs["load_mw"].max()), 1e-9)))
        panel.scatter(xs, ys, s=size, color="#eeeeee", edgecolors="#9e9e9e",
                      linewidths=0.5, zorder=3)
        renderer = fig.canvas.get_renderer()
        placed: list = []
        obstacles: list = []
        px = fig.dpi / 72.0
        for t, geom, mx, my in spots:
            colour = _PROTECTED if t not in ranks else (
                _STRUCK if t in first else _STRUCK_OTHER)
            if geom.geom_type != "Point":
                for part in getattr(geom, "geoms", [geom]):
                    gx, gy = part.xy
                    panel.plot(gx, gy, color=colour, linewidth=3.2, zorder=4)
            area = 0.0
            if t in protected:
                area = 230 * scale
                panel.scatter([mx], [my], marker="s", s=area, facecolors="none",
                              edgecolors=_PROTECTED, linewidths=2.2, zorder=6)
            if t in ranks:
                area = max(area, (150 if t in first else 90) * scale)
                panel.scatter([mx], [my], s=area if t not in protected else area * 0.55,
                              color=colour, edgecolors="#333333", linewidths=0.8, zorder=5)
            x, y = panel.transData.transform((mx, my))
            r = math.sqrt(area) / 2 * px
            obstacles.append(Bbox([[x - r, y - r], [x + r, y + r]]))
        for t, _geom, mx, my in spots:
            if t in ranks and label(mx, my):
                text = panel.annotate("#" + ", ".join(str(r) for r in ranks[t]), (mx, my),
                                      xytext=(0, -8 * math.sqrt(scale)), ha="center",
                                      va="top", textcoords="offset points", fontsize=7,
                                      weight="bold", color="#1b1b1b", zorder=8,
                                      path_effects=_HALO, annotation_clip=True)
                placed.append(text.get_window_extent(renderer))
        for t, _geom, mx, my in spots:
            if label(mx, my) and (t in first or t in protected):
                _label(panel, mx, my, names.get(t, t.partition(":")[2]), placed, renderer,
                       colour="#7f2704" if t in first else _PROTECTED, size=8,
                       weight="bold", gap=9 * math.sqrt(scale), obstacles=obstacles)
        _frame(panel, grid, ys, frame)

    if window is None:
        draw(ax, region, 1.0, lambda x, y: True)
    else:
        x0, x1, y0, y1 = window
        def outside(x: float, y: float) -> bool:
            return not (x0 <= x <= x1 and y0 <= y <= y1)

        draw(ax, region, 1.0, outside)
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor="#222222",
                               linewidth=1.0, zorder=9))
        ax.annotate("enlarged, right", (x1, y1), xytext=(3, 3), textcoords="offset points",
                    fontsize=7, color="#222222", path_effects=_HALO, zorder=9)
        assert zoom is not None
        draw(zoom, window, 1.6, lambda x, y: True)
        zoom.set_xlabel("")
        zoom.set_ylabel("")
        zoom.set_title(f"{_place(_towns(grid, 12), window) or 'This area'}, enlarged",
                       fontsize=9)
    key.axis("off")
    handles = [Line2D([], [], color="#bdbdbd", label="line or transformer"),
               Line2D([], [], marker="o", linestyle="", markerfacecolor="#eeeeee",
                      markeredgecolor="#9e9e9e", label="substation (size: load)")]
    if sets:
        handles.append(Line2D([], [], marker="o", linestyle="", markerfacecolor=_STRUCK,
                              markeredgecolor="#333333", markersize=9,
                              label="the worst strikes (named)"))
    if len(sets) > 1:
        handles.append(Line2D([], [], marker="o", linestyle="",
                              markerfacecolor=_STRUCK_OTHER, markeredgecolor="#333333",
                              label=f"the next worst (#: ranks of the sets, 1-{len(sets)})"))
    if protected:
        handles.append(Line2D([], [], marker="s", linestyle="", markerfacecolor="none",
                              markeredgecolor=_PROTECTED, markeredgewidth=2.0, markersize=9,
                              label="site to protect (cannot be struck; named)"))
    key.legend(handles=handles, loc="upper center", ncol=3, frameon=False, fontsize=8)
    return fig
