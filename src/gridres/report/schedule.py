"""A rolling-outage schedule as a planner publishes it: tables, a figure, a map layer.

:func:`write_schedule` writes, atomically (:func:`gridres.io.folder.write_path`), into
one folder:

- ``schedule.json``: the whole schedule (:meth:`~gridres.deficit.Schedule.to_dict`);
- ``schedule.csv``: one row per group and hour (off, the group's demand, why it is off);
- ``schedule_grid.csv``: groups × hours, ``off`` where a group is off, as utilities
  publish their tables; ``schedule.txt``: the same grid in plain text, a day per block;
- ``schedule.html``: a printable page (one table per day, landscape A4);
- ``schedule.png``: demand, capacity and served load over time above the groups × hours
  grid;
- ``groups.gpkg`` (where buses have coordinates): layer ``groups`` (the area each group
  covers: the Voronoi cells of its buses clipped to the grid's extent; protected groups
  as small discs around their buses) and layer ``group_buses`` (points).
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from gridres.deficit.schedule import Schedule
from gridres.io.folder import write_path

__all__ = ["schedule_grid", "schedule_text", "schedule_html", "schedule_figure",
           "group_layers", "write_schedule"]

_OFF, _ON = "#", "."


def schedule_grid(s: Schedule) -> pd.DataFrame:
    """Groups × hours: ``"off"`` where a group is off, ``""`` otherwise; index the group
    ids, columns the hours' start times (``YYYY-MM-DD HH:MM``)."""
    cols = s.times.strftime("%Y-%m-%d %H:%M")
    return pd.DataFrame(np.where(s.off.T, "off", ""), index=pd.Index(s.groups.ids, name="group"),
                        columns=cols)


def _days(s: Schedule) -> list[np.ndarray]:
    day = s.times.normalize()
    return [np.flatnonzero(day == d) for d in pd.unique(day)]


def schedule_text(s: Schedule) -> str:
    """The schedule as a plain-text grid: one block per day, a row per group, a column per
    hour (``#`` off, ``.`` on), and the group's hours off that day.

    Examples
    --------
    >>> from gridres.io import load_grid
    >>> from gridres.deficit import schedule
    >>> s = schedule(load_grid("ieee14"), hours=4, capacity_share=0.8, groups=2, block_h=2)
    >>> print(schedule_text(s).splitlines()[1])
    group   00 01 02 03   off h
    """
    width = max(5, *(len(g) for g in s.groups.ids))
    lines: list[str] = []
    for hrs in _days(s):
        t = s.times[hrs]
        lines.append(t[0].strftime("%a %Y-%m-%d"))
        lines.append(f"{'group':<{width}}   " + " ".join(t.strftime("%H")) + "   off h")
        for j, gid in enumerate(s.groups.ids):
            cells = "  ".join(_OFF if o else _ON for o in s.off[hrs, j])
            tag = " (protected)" if s.groups.protected[j] else ""
            lines.append(f"{gid:<{width}}   {cells}   {int(s.off[hrs, j].sum()):>5}{tag}")
        lines.append("")
    return "\n".join(lines)


_CSS = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.3em; margin-bottom: 0.2em; }
p.meta { color: #555; margin-top: 0; }
table { border-collapse: collapse; margin: 0.8em 0 1.6em; font-size: 0.8em; }
th, td { border: 1px solid #bbb; padding: 2px 4px; text-align: center; }
th.g, td.g { text-align: left; white-space: nowrap; }
td.off { background: #444; color: #fff; }
td.sup { background: #b2182b; color: #fff; }
td.net { background: #777; color: #fff; }
td.n { text-align: right; }
caption { text-align: left; font-weight: bold; padding: 0.3em 0; }
.legend span { display: inline-block; width: 1.2em; height: 0.9em; vertical-align: middle;
  border: 1px solid #bbb; margin: 0 0.3em 0 0.8em; }
@media print { @page { size: A4 landscape; margin: 10mm; } table { page-break-inside: avoid; } }
"""


def schedule_html(s: Schedule) -> str:
    """A printable, self-contained HTML page of the schedule: a summary, then one table
    per day (groups × hours, shaded where off)."""
    doc = s.to_dict()
    esc = html.escape
    met = doc["fairness"]
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Rotation schedule: {esc(doc['grid'])}</title><style>{_CSS}</style></head><body>",
        f"<h1>Rotation schedule: {esc(doc['grid'])}</h1>",
        f"<p class='meta'>From {esc(s.times[0].strftime('%a %d %b %Y %H:%M'))}, "
        f"{doc['horizon_h']} hours in blocks of {doc['block_h']} h. Capacity: "
        f"{esc(doc['capacity'])}. Demand profile: {esc(doc['profile'])}. "
        f"{len(s.groups)} groups ({esc(doc['groups_method'])}).</p>",
        f"<p class='meta'>Energy not served {doc['unserved_mwh']:,.0f} MWh; hours off per "
        f"rotation group {met['min_h']}–{met['max_h']}; Jain's index over customers "
        f"{met['jain_customers']:.3f}; {doc['switching_operations_total']} switching "
        f"operations. Method: {esc(doc['method'])} ({esc(doc['status'])}"
        + (f", gap {100 * doc['gap']:.2f} %" if doc["gap"] is not None else "") + ").</p>",
    ]
    for note in doc["notes"]:
        parts.append(f"<p class='meta'>{esc(note)}</p>")
    parts.append("<p class='legend'>Off:<span style='background:#444'></span>rotation"
                 "<span style='background:#777'></span>network limits"
                 "<span style='background:#b2182b'></span>protected group, supply short</p>")
    for hrs in _days(s):
        t = s.times[hrs]
        parts.append(f"<table><caption>{esc(t[0].strftime('%A %d %B %Y'))}</caption><tr>"
                     "<th class='g'>group</th><th>customers</th>"
                     + "".join(f"<th>{h}</th>" for h in t.strftime("%H"))
                     + "<th>off h</th></tr>")
        for j, gid in enumerate(s.groups.ids):
            cells = []
            for h in hrs:
                if not s.off[h, j]:
                    cells.append("<td></td>")
                elif s.groups.protected[j]:
                    cells.append("<td class='sup'>P</td>")
                elif s.network_off[h, j]:
                    cells.append("<td class='net'>N</td>")
                else:
                    cells.append("<td class='off'>&#9632;</td>")
            name = esc(gid) + (" (protected)" if s.groups.protected[j] else "")
            parts.append(f"<tr><td class='g'>{name}</td>"
                         f"<td class='n'>{int(s.groups.customers[j]):,}</td>"
                         + "".join(cells)
                         + f"<td class='n'>{int(s.off[hrs, j].sum())}</td></tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def schedule_figure(s: Schedule) -> Figure:
    """Demand, capacity and served load over time (top), and the groups × hours grid
    (bottom; dark where off)."""
    h = len(s.times)
    fig = Figure(figsize=(min(16.0, 4.0 + 0.09 * h), 3.0 + 0.22 * len(s.groups)))
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[2.0, max(1.0, 0.2 * len(s.groups))])
    x = np.arange(h + 1)
    for values, label, colour, style in (
            (s.demand_mw, "demand", "#333333", "-"), (s.capacity_mw, "capacity", "#D55E00", "--"),
            (s.served_mw, "served", "#0072B2", "-")):
        top.stairs(values, x, label=label, color=colour, linestyle=style, linewidth=1.6,
                   baseline=None)
    top.set_ylabel("MW")
    top.set_ylim(bottom=0)
    top.legend(frameon=False, loc="lower right", ncols=3)
    top.spines[["top", "right"]].set_visible(False)
    top.grid(True, color="#e5e5e5", linewidth=0.6)
    grid = np.where(s.off.T, 1.0, 0.0)
    grid[s.groups.protected] *= 2.0
    bottom.pcolormesh(x, np.arange(len(s.groups) + 1), grid,
                      cmap=ListedColormap(["#f7f7f7", "#444444", "#b2182b"]), vmin=0, vmax=2,
                      edgecolors="white", linewidth=0.3)
    bottom.set_yticks(np.arange(len(s.groups)) + 0.5, labels=s.groups.ids)
    bottom.invert_yaxis()
    bottom.set_ylabel("group")
    step = 24 if h > 72 else 6 if h > 24 else 3
    ticks = np.arange(0, h, step)
    fmt = "%a" if step == 24 else "%a %H:%M"
    bottom.set_xticks(ticks, labels=[s.times[t].strftime(fmt) for t in ticks])
    bottom.set_xlim(0, h)
    fig.suptitle(f"{s.grid.name}: rotation from {s.times[0].strftime('%Y-%m-%d %H:%M')}",
                 fontsize=11)
    return fig


def group_layers(s: Schedule) -> dict[str, object] | None:
    """GeoDataFrames ``groups`` (areas) and ``group_buses`` (points); None where the
    grid's buses have no coordinates."""
    import geopandas as gpd  # heavy: only where a layer is written

    grid = s.grid
    if not grid.has_geometry:
        return None
    geom = grid.buses["geometry"].to_numpy(dtype=object)
    bus = s.groups.part_bus
    pts = geom[bus]
    if any(p is None or getattr(p, "is_empty", True) for p in pts):
        return None
    doc = s.to_dict()
    ids = s.groups.ids
    all_pts = [p for p in geom if p is not None and not getattr(p, "is_empty", True)]
    hull = shapely.MultiPoint(all_pts).convex_hull
    minx, miny, maxx, maxy = hull.bounds
    pad = 0.05 * max(maxx - minx, maxy - miny, 1e-9)
    frame = hull.buffer(pad)
    rot_parts = ~s.groups.protected[s.groups.part_group]
    rot_bus = np.unique(bus[rot_parts])
    cells = {}
    if len(rot_bus) >= 2:
        seeds = shapely.MultiPoint([geom[b] for b in rot_bus])
        regions = shapely.voronoi_polygons(seeds, extend_to=frame)
        for poly in shapely.get_parts(regions):
            inside = [b for b in rot_bus if poly.covers(geom[b])]
            for b in inside:
                cells[b] = poly.intersection(frame)
    elif len(rot_bus) == 1:
        cells[rot_bus[0]] = frame
    disc = 0.01 * max(maxx - minx, maxy - miny, 1e-9)
    rows, shapes = [], []
    for j, gid in enumerate(ids):
        members = s.groups.buses(j)
        if s.groups.protected[j]:
            shape = shapely.union_all([geom[b].buffer(disc) for b in members])
        else:
            shape = shapely.union_all([cells[b] for b in members if b in cells])
        rows.append({"group": gid, "protected": bool(s.groups.protected[j]),
                     "buses": len(members), "customers": int(s.groups.customers[j]),
                     "load_mw": doc["groups"][j]["load_mw"],
                     "hours_off": doc["hours_off"][gid],
                     "longest_off_h": doc["longest_off_h"][gid]})
        shapes.append(shapely.geometry.MultiPolygon(
            [p for p in shapely.get_parts(shape) if p.geom_type == "Polygon"]))
    groups = gpd.GeoDataFrame(rows, geometry=shapes, crs=grid.crs)
    net = grid.network
    points = gpd.GeoDataFrame({
        "bus": net.bus_ids[bus].to_numpy(),
        "group": np.array(ids, dtype=object)[s.groups.part_group],
        "protected": s.groups.protected[s.groups.part_group],
        "load_mw": s.groups.part_mw(s.demand).max(axis=0).round(6),
        "hours_off": s.off[:, s.groups.part_group].sum(axis=0),
    }, geometry=list(pts), crs=grid.crs)
    return {"groups": groups, "group_buses": points}


def write_schedule(s: Schedule, folder: str | Path) -> list[Path]:
    """Write the schedule's files into ``folder`` (made if missing), each atomically and
    recorded in the folder's record where a command holds it as an output folder
    (:mod:`gridres.io.folder`); returns their paths (see the module notes)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def put(name: str, write) -> None:
        path = folder / name
        with write_path(path) as tmp:
            write(tmp)
        written.append(path)

    doc = s.to_dict()
    put("schedule.json", lambda p: p.write_text(json.dumps(doc, indent=2), encoding="utf-8"))
    put("schedule.csv", lambda p: s.table().to_csv(p, index=False))
    put("schedule_grid.csv", lambda p: schedule_grid(s).to_csv(p))
    put("schedule.txt", lambda p: p.write_text(schedule_text(s), encoding="utf-8"))
    put("schedule.html", lambda p: p.write_text(schedule_html(s), encoding="utf-8"))
    fig = schedule_figure(s)
    put("schedule.png", lambda p: fig.savefig(p, format="png", dpi=110, bbox_inches="tight",
                                              metadata={"Software": None}))
    layers = group_layers(s)
    if layers is not None:
        def gpkg(p: Path) -> None:
            for name, frame in layers.items():
                frame.to_file(p, layer=name, driver="GPKG")

        put("groups.gpkg", gpkg)
    return written
