"""Per-element result tables and their files."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gridres.errors import UsageError
from gridres.impact import Impact
from gridres.io.folder import write_path
from gridres.model import Grid

__all__ = ["bus_table", "branch_table", "facility_table", "write_impact", "write_tables"]


def bus_table(grid: Grid, imp: Impact) -> pd.DataFrame:
    """Per-bus outcome: island, energized, served and shed MW, customers and customers
    out (whole numbers; NaN where the grid has no customer data)."""
    net = imp.net
    unknown = np.nan if not net.has_customers else 1.0
    return pd.DataFrame(
        {
            "alive": imp.state.bus,
            "island": imp.island,
            "energized": imp.energized,
            "load_mw": net.load_mw,
            "served_mw": imp.served_mw,
            "shed_mw": imp.shed_mw,
            "customers": net.customers * unknown,
            "customers_out": np.round(net.customers * imp.shed_fraction) * unknown,
        },
        index=grid.buses.index,
    )


def branch_table(grid: Grid, imp: Impact) -> pd.DataFrame:
    """Per-branch outcome: alive, flow, rating, loading, overloaded."""
    net = imp.net
    finite = np.isfinite(net.rating_mw)
    return pd.DataFrame(
        {
            "from_bus": grid.branches["from_bus"].to_numpy(),
            "to_bus": grid.branches["to_bus"].to_numpy(),
            "alive": imp.state.branch,
            "flow_mw": imp.flow_mw,
            "rating_mw": np.where(finite, net.rating_mw, np.nan),
            "loading": np.where(finite, imp.loading, np.nan),
            "overloaded": imp.overloaded,
        },
        index=grid.branches.index,
    )


def facility_table(grid: Grid, imp: Impact) -> pd.DataFrame:
    """Per-facility outcome: status (grid, backup, dark) and the people it serves."""
    f = grid.facilities
    return pd.DataFrame(
        {
            "bus": f["bus"].to_numpy(),
            "name": f["name"].to_numpy(),
            "kind": f["kind"].to_numpy(),
            "status": imp.facility.astype(str),
            "demand_mw": f["demand_mw"].to_numpy(),
            "backup_mw": f["backup_mw"].to_numpy(),
            "backup_hours": f["backup_hours"].to_numpy(),
            "people": f["people"].to_numpy(),
        },
        index=f.index,
    )


def write_tables(grid: Grid, tables: dict[str, pd.DataFrame], out: str) -> None:
    """Write per-element tables, atomically: a GeoPackage with one layer per table (with
    the grid's geometry where it has one), or the first table as CSV or Parquet.

    Tables must be indexed like the grid table of the same name (``buses``,
    ``branches``, ``generators``, ``facilities``)."""
    suffix = out.rsplit(".", 1)[-1].lower() if "." in out else ""
    first = next(iter(tables.values()))
    with write_path(out) as tmp:
        if suffix == "csv":
            first.to_csv(tmp, index_label="id")
        elif suffix == "parquet":
            first.to_parquet(tmp)
        elif suffix == "gpkg":
            import geopandas as gpd

            for layer, table in tables.items():
                source = getattr(grid, layer)
                df = table.reset_index(names="id")
                if len(df) == 0:
                    continue
                if "geometry" in source.columns:
                    geom = source["geometry"].reindex(table.index).to_numpy()
                    gdf = gpd.GeoDataFrame(df, geometry=geom, crs=grid.crs)
                else:
                    gdf = gpd.GeoDataFrame(df)
                gdf.to_file(tmp, layer=layer, driver="GPKG")
        else:
            raise UsageError(f"{out}: unknown output format; use .gpkg, .csv or .parquet")


def write_impact(grid: Grid, imp: Impact, out: str) -> None:
    """Write an impact: layers ``buses``, ``branches``, ``facilities`` in a GeoPackage,
    or the bus table as CSV/Parquet. Atomic."""
    write_tables(grid, {"buses": bus_table(grid, imp), "branches": branch_table(grid, imp),
                        "facilities": facility_table(grid, imp)}, out)
