"""The results directory of a study run: resolved study, tables, GeoPackage and
summary.json (the report is the report's: :func:`gridres.report.write_report`). Every
file is written atomically.

GeoPackage layers (open in QGIS):

=================== ========== ========================================================
layer               geometry   what
=================== ========== ========================================================
buses               Point      p_loss_of_supply, scenarios_dark, load, customers
substations         Point      p_loss_of_supply (largest of its buses), load, customers
branches            LineString p_failure (failed or tripped), intact flow and loading
facilities          Point      p_dark, people, demand, backup; with restoration
                               p_dark_restoration and hours_dark
towns               Point/area people without power, water, heat and telecom at the
                               report hours (``[services] report_hours``), with
                               restoration on a grid with towns
hazard_footprints   Polygon    one ring per hazard footprint
worst_strikes       as struck  with [defend]: one row per element of each worst set
                               (rank, set, its metrics and share of the load)
protection          as struck  with [defend]: one row per site of the best protection
                               of each size (protect, worst damage after, reduction)
=================== ========== ========================================================

Strike layers take the geometry of what is struck: a substation's point (the mean of its
buses), a bus's point, a branch's line, a generator's bus.

Grids without coordinates get the same layers as attribute tables.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gridres.io.folder import write_path
from gridres.results import StudyResults, element_places, substation_points, write_summary

__all__ = ["write_results", "write_tables", "write_geopackage", "strike_layers"]

logger = logging.getLogger(__name__)


def _noop(step: str, done: int, total: int) -> None:
    return None


def _frames(res: StudyResults) -> dict[str, pd.DataFrame]:
    frames: dict[str, pd.DataFrame] = {
        "buses": res.buses, "substations": res.substations, "branches": res.branches,
        "facilities": res.facilities, "scenarios": res.records, "elements": res.elements,
    }
    if res.contingency is not None:
        frames["contingency"] = res.contingency
    if res.restoration:
        rows = []
        for policy, o in res.restoration.items():
            for metric, stats in o.metrics.items():
                if metric != "events":  # counts, not a metric: in each time's row
                    rows.append({"policy": policy, "metric": metric, **stats})
        frames["restoration"] = pd.DataFrame(rows).set_index(["policy", "metric"])
        curves = [o.curve.assign(policy=p) for p, o in res.restoration.items()
                  if o.curve is not None and len(o.curve)]
        if curves:
            frames["restoration_curves"] = pd.concat(curves, ignore_index=True)
        svc = {p: o.services for p, o in res.restoration.items() if o.services is not None}
        if svc:
            frames["services_timeline"] = pd.concat(
                [s.timeline.assign(policy=p) for p, s in svc.items()], ignore_index=True)
            frames["services_towns"] = pd.concat(
                [s.towns.assign(policy=p) for p, s in svc.items()], ignore_index=True)
            frames["services_facilities"] = pd.concat(
                [s.facilities.assign(policy=p) for p, s in svc.items()])
    if res.towns is not None:
        frames["towns"] = res.towns
    d = res.deficit
    if d is not None and d.has_deficit:
        frames["deficit_hours"] = d.hours.set_index("hour")
        for name, table in (("deficit_schedule", d.schedule), ("deficit_groups", d.groups),
                            ("deficit_comparison", d.comparison)):
            if table is not None:
                frames[name] = table.reset_index(drop=True)
    if res.strikes is not None:
        frames["strikes_worst"] = res.strikes.worst_table().set_index("rank")
        curve = res.strikes.curve_table()
        if curve is not None:
            frames["strikes_curve"] = curve.set_index("k")
        if res.strikes.protection:
            frames["strikes_protection"] = res.strikes.protection_table().set_index("protect")
    if res.plan is not None:
        if res.plan.ranking is not None:
            frames["plan_ranking"] = res.plan.ranking
        if res.plan.portfolio is not None:
            frames["plan_portfolio"] = res.plan.portfolio
        if res.plan.frontier is not None:
            frames["plan_frontier"] = res.plan.frontier.set_index("step")
    return frames


def _parquet_safe(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object:
            out[c] = out[c].map(lambda v: ";".join(map(str, v)) if isinstance(v, list | tuple)
                                else v).astype(str)
    return out


def write_tables(res: StudyResults, folder: Path, formats: list[str]) -> dict[str, Path]:
    """Write every result table in each of ``formats`` (csv, parquet) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for name, df in _frames(res).items():
        if df is None:
            continue
        for fmt in formats:
            path = folder / f"{name}.{fmt}"
            with write_path(path) as tmp:
                if fmt == "csv":
                    df.to_csv(tmp, index=True)
                else:
                    _parquet_safe(df).to_parquet(tmp)
            written[f"tables/{name}.{fmt}"] = path
    return written


def strike_layers(res: StudyResults) -> dict[str, pd.DataFrame]:
    """The ``worst_strikes`` and ``protection`` layers of a study with ``[defend]``, as
    tables with a ``geometry`` column (see the module notes)."""
    wc = res.strikes
    assert wc is not None
    load = wc.total_load_mw
    rows = []
    for s in wc.attack.attacks:
        for e in s.elements:
            rows.append({"rank": s.rank, "element": e, "set": "+".join(s.elements),
                         **{m: getattr(s, m) for m in ("shed_mw", "people_out",
                                                       "facilities_dark", "customers_out")},
                         "share_of_load": s.shed_mw / load if load > 0 else 0.0})
    worst = pd.DataFrame(rows)
    o = wc.attack.objective
    prot = pd.DataFrame([{"protect": r.protect_budget, "element": e,
                          "protection": "+".join(r.protection),
                          "worst_after": r.after.value(o), "reduction": r.reduction}
                         for r in wc.protection for e in r.protection],
                        columns=["protect", "element", "protection", "worst_after",
                                 "reduction"])
    out = {}
    for name, table in (("worst_strikes", worst), ("protection", prot)):
        places = element_places(res.grid, table["element"].unique()) if len(table) else None
        if places is None:
            continue
        table = table.assign(name=table["element"].map(places["name"]),
                             geometry=table["element"].map(places["geometry"]))
        out[name] = table
    return out


def write_geopackage(res: StudyResults, path: Path) -> Path:
    """Write the GeoPackage of a study's results (layers in the module notes)."""
    import geopandas as gpd  # the GIS stack loads only where a GeoPackage is written
    from shapely.geometry import Point

    grid = res.grid
    crs = grid.crs

    def layer(df: pd.DataFrame, geom: Any) -> gpd.GeoDataFrame:
        data = _parquet_safe(df).reset_index(names="id")
        data["id"] = data["id"].astype(str)
        if geom is None:
            return gpd.GeoDataFrame(data)
        return gpd.GeoDataFrame(data, geometry=list(geom), crs=crs)

    def geometry(table: pd.DataFrame, index: pd.Index) -> Any:
        if "geometry" not in table.columns or not table["geometry"].notna().any():
            return None
        return table["geometry"].reindex(index).to_numpy()

    layers: dict[str, gpd.GeoDataFrame] = {
        "buses": layer(res.buses, geometry(grid.buses, res.buses.index)),
        "branches": layer(res.branches, geometry(grid.branches, res.branches.index)),
    }
    if grid.has_geometry:
        pts = substation_points(grid, res.buses["p_loss_of_supply"])
        geom = [Point(x, y) if np.isfinite(x) and np.isfinite(y) else None
                for x, y in zip(pts["x"].reindex(res.substations.index),
                                pts["y"].reindex(res.substations.index), strict=True)]
        layers["substations"] = layer(res.substations, geom)
    else:
        layers["substations"] = layer(res.substations, None)
    if len(res.facilities):
        layers["facilities"] = layer(res.facilities,
                                     geometry(grid.facilities, res.facilities.index))
    if res.towns is not None and len(res.towns):
        layers["towns"] = layer(res.towns, geometry(grid.towns, res.towns.index))
    if res.footprints is not None and len(res.footprints):
        layers["hazard_footprints"] = res.footprints.reset_index(drop=True)
    if res.strikes is not None:
        for name, table in strike_layers(res).items():
            geom = table.pop("geometry")
            layers[name] = gpd.GeoDataFrame(
                _parquet_safe(table), crs=crs,
                geometry=list(geom) if geom.notna().any() else None)
    with write_path(path) as tmp:
        for name, gdf in layers.items():
            if len(gdf) == 0:
                continue
            gdf.to_file(tmp, layer=name, driver="GPKG")
    return path


def write_results(res: StudyResults, *,
                  progress: Callable[[str, int, int], None] | None = None) -> StudyResults:
    """Write the results directory of ``res`` (resolved study, tables, GeoPackage,
    summary.json) and return it with ``files`` filled in."""
    progress = progress or _noop
    out = res.out_dir
    out.mkdir(parents=True, exist_ok=True)
    o = res.study.outputs
    steps = 3 + int(o.gpkg)
    k = 0

    def tick() -> None:
        nonlocal k
        k += 1
        progress("writing results", k, steps)

    progress("writing results", 0, steps)
    files: dict[str, Path] = {}
    resolved = out / "study.resolved.toml"
    with write_path(resolved) as tmp:
        tmp.write_text(res.study.resolved_toml(), encoding="utf-8")
    files["study.resolved.toml"] = resolved
    tick()
    files.update(write_tables(res, out / "tables", list(o.tables)))
    tick()
    if o.gpkg:
        files["results.gpkg"] = write_geopackage(res, out / "results.gpkg")
        tick()
    files["summary.json"] = out / "summary.json"
    files["ensemble"] = out / "ensemble"
    if (out / "plan" / "plan.json").is_file() and res.plan is not None \
            and res.plan.status == "done":
        files["plan"] = out / "plan"
    res = dataclasses.replace(res, files=files)
    write_summary(res)
    tick()
    return res
