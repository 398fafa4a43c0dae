"""GeoPackage, the native grid format, and GeoJSON export.

A grid GeoPackage holds one layer per table and one attribute table:

========== ============ ==========================================================
layer      geometry     columns
========== ============ ==========================================================
buses      Point        ``id`` (text) and :data:`~gridres.model.BUS_COLUMNS`
branches   LineString   ``id`` and :data:`~gridres.model.BRANCH_COLUMNS`
generators Point        ``id`` and :data:`~gridres.model.GENERATOR_COLUMNS`
facilities Point        ``id`` and :data:`~gridres.model.FACILITY_COLUMNS`
towns      Point or     ``id`` and :data:`~gridres.model.TOWN_COLUMNS`; written only
           (Multi)Poly- when the grid has towns. Without it, the towns are those the
           gon          buses name in their ``town`` column
                        (:func:`~gridres.model.towns_from_buses`)
grid       (none)       one row: ``name``, ``base_mva``, ``crs``, ``format``,
                        ``format_version``
========== ============ ==========================================================

Extra columns are kept as they are. Flags are stored as GeoPackage booleans (integer
fields of boolean subtype, shown as check boxes in QGIS). GeoPackage has no infinity
that every tool reads, so an unlimited ``rating_mw`` is stored as NULL and read back as
``inf``. Grids without coordinates (MATPOWER cases) are written as attribute tables
without geometry, so they round-trip as well. Files made by hand (e.g. in QGIS) need the
``buses``, ``branches`` and ``generators`` layers, each with a text ``id`` column;
``facilities`` and ``grid`` may be missing (no critical sites; name from the file name,
100 MVA base).
"""

from __future__ import annotations

import logging
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gridres.errors import GridError, InputNotFound
from gridres.io.folder import write_path
from gridres.model import (
    BRANCH_COLUMNS,
    BUS_COLUMNS,
    FACILITY_COLUMNS,
    GENERATOR_COLUMNS,
    TOWN_COLUMNS,
    Grid,
)

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "LAYERS",
    "GeoJSONExport",
    "crs_label",
    "read_geopackage",
    "write_geopackage",
    "write_geojson",
]

logger = logging.getLogger(__name__)

#: Value of the ``format`` field of the ``grid`` table.
FORMAT = "gridres-grid"
#: Version of the layout described above; readers refuse newer versions.
FORMAT_VERSION = 1

#: Element layers: geometry type and schema columns.
LAYERS: dict[str, tuple[str, dict[str, Any]]] = {
    "buses": ("Point", BUS_COLUMNS),
    "branches": ("LineString", BRANCH_COLUMNS),
    "generators": ("Point", GENERATOR_COLUMNS),
    "facilities": ("Point", FACILITY_COLUMNS),
    "towns": ("Point", TOWN_COLUMNS),
}
#: Geometry types a layer accepts, where more than its LAYERS type.
_GEOMETRIES = {"towns": ("Point", "Polygon", "MultiPolygon")}
_REQUIRED_LAYERS = ("buses", "branches", "generators")
_REQUIRED_COLUMNS = {
    "buses": (),
    "branches": ("from_bus", "to_bus", "x_pu"),
    "generators": ("bus",),
    "facilities": ("bus",),
    "towns": (),
}
#: Float columns where NULL in the file means "no limit" (``inf`` in the grid).
_NULL_IS_INF = {("branches", "rating_mw")}
_RESERVED = {"fid", "geom"}
_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0", ""}


# -- writing ---------------------------------------------------------------------------
def _table_frame(grid: Grid, layer: str) -> tuple[pd.DataFrame, bool]:
    """The layer as a frame ready for pyogrio and whether it is spatial."""
    import geopandas as gpd

    df: pd.DataFrame = getattr(grid, layer)
    where = f"{grid.source or grid.name}: {layer}"
    bad = [c for c in df.columns if str(c).lower() in _RESERVED | {"id"}]
    if bad:
        raise GridError(
            f"{where}: column {bad[0]!r} is reserved in a GeoPackage; rename it"
        )
    spatial = "geometry" in df.columns
    attrs = df.drop(columns="geometry") if spatial else df
    out = attrs.reset_index()
    out["id"] = out["id"].astype(str)
    for col in attrs.columns:
        s = out[col]
        if (layer, col) in _NULL_IS_INF:
            v = pd.to_numeric(s, errors="coerce").astype(float)
            out[col] = v.where(np.isfinite(v), np.nan)
        elif s.dtype == object:
            odd = s[s.notna() & ~s.map(lambda v: isinstance(v, str))]
            if len(odd):
                raise GridError(
                    f"{where} {out['id'].iloc[odd.index[0]]!r}: column {col!r} holds "
                    f"{type(odd.iloc[0]).__name__} values; a GeoPackage field holds text, "
                    "numbers or flags: convert the column"
                )
    if not spatial:
        return out, False
    geom = gpd.GeoSeries(list(df["geometry"]), crs=grid.crs)
    kinds = _GEOMETRIES.get(layer, (LAYERS[layer][0],))
    types = geom.geom_type
    wrong = types.notna() & ~types.isin(kinds)
    if wrong.any():
        k = int(np.flatnonzero(wrong.to_numpy())[0])
        raise GridError(
            f"{where} {out['id'].iloc[k]!r}: geometry is a {types.iloc[k]}; {layer} "
            f"need {' or '.join(kinds)} geometries"
        )
    return gpd.GeoDataFrame(out, geometry=geom.to_numpy(), crs=grid.crs), True


def _written(grid: Grid) -> list[str]:
    """The layers written for ``grid``: every element layer, towns only if it has any."""
    return [layer for layer in LAYERS if layer != "towns" or len(grid.towns)]


def _geometry_type(frame, layer: str) -> str:
    """The layer's geometry type for the writer: its one type, else ``Unknown``."""
    if layer not in _GEOMETRIES:
        return LAYERS[layer][0]
    types = set(frame.geometry.geom_type.dropna())
    return types.pop() if len(types) == 1 else "Unknown"


def _grid_table(grid: Grid) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "name": [str(grid.name)],
            "base_mva": [float(grid.base_mva)],
            "crs": [grid.crs],
            "format": [FORMAT],
            "format_version": [np.int64(FORMAT_VERSION)],
        }
    )


def write_geopackage(grid: Grid, path: str | os.PathLike) -> Path:
    """Write ``grid`` to a GeoPackage, atomically.

    Parameters
    ----------
    grid : Grid
    path : path-like
        Output file (conventionally ``.gpkg``); replaced if it exists.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    GridError
        If a column cannot be stored (reserved name, values that are not text, numbers
        or flags, geometries of the wrong type). Nothing is written then.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from gridres.io import load_grid
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "ieee14.gpkg"
    >>> _ = write_geopackage(load_grid("ieee14"), out)
    >>> len(read_geopackage(out).buses)
    14
    """
    import pyogrio

    path = Path(path)
    frames = {layer: _table_frame(grid, layer) for layer in _written(grid)}
    with write_path(path) as tmp:
        for layer, (frame, spatial) in frames.items():
            kwargs: dict[str, Any] = {"layer": layer, "driver": "GPKG"}
            if spatial:
                kwargs["geometry_type"] = _geometry_type(frame, layer)
            pyogrio.write_dataframe(frame, tmp, **kwargs)
        pyogrio.write_dataframe(_grid_table(grid), tmp, layer="grid", driver="GPKG")
    logger.debug("wrote %s (%d buses)", path, len(grid.buses))
    return path


# -- reading ---------------------------------------------------------------------------
def _show(v: Any) -> str:
    """A field value as the user would write it (``1.5``, ``'abc'``)."""
    return repr(v.item() if isinstance(v, np.generic) else v)


def _fail(path: Path, layer: str, what: str) -> GridError:
    return GridError(f"{path}: layer {layer}{what}")


def _record(df: pd.DataFrame, k: int) -> str:
    if "id" in df.columns:
        return f" record {df['id'].iloc[k]!r}"
    return f" row {k + 1}"


def _as_text(s: pd.Series) -> pd.Series:
    """Text ids from text or integer-valued numbers (``5`` and ``5.0`` become ``"5"``)."""

    def text(v: Any) -> str | None:
        if v is None or (isinstance(v, float | np.floating) and math.isnan(v)):
            return None
        if isinstance(v, str):
            return v
        if isinstance(v, float | np.floating) and float(v).is_integer():
            return str(int(v))
        return str(v.item() if isinstance(v, np.generic) else v)

    if s.dtype == object and s.map(lambda v: isinstance(v, str)).all():
        return s
    return s.map(text).astype(object)


def _check_columns(path: Path, layer: str, df: pd.DataFrame) -> pd.DataFrame:
    """Check and convert the schema columns of one layer; raise GridError on bad data."""
    columns = LAYERS[layer][1]
    if "id" not in df.columns:
        raise _fail(path, layer, ": no 'id' column; add a text column id with a unique "
                    "id per record")
    df = df.copy()
    df["id"] = _as_text(df["id"])
    missing = df["id"].isna() | (df["id"].astype(str).str.strip() == "")
    if missing.any():
        k = int(np.flatnonzero(missing.to_numpy())[0])
        raise _fail(path, layer, f" row {k + 1}: empty id; give every record an id")
    dup = df["id"].duplicated()
    if dup.any():
        k = int(np.flatnonzero(dup.to_numpy())[0])
        raise _fail(path, layer, f" record {df['id'].iloc[k]!r}: id appears twice; ids "
                    "must be unique")
    for col in _REQUIRED_COLUMNS[layer]:
        if col not in df.columns:
            raise _fail(path, layer, f": required column {col!r} is missing; add it")
    _warn_lookalikes(path, layer, df, columns)
    for col, default in columns.items():
        if col not in df.columns:
            continue
        s = df[col]
        if isinstance(default, bool):
            df[col] = _as_flag(path, layer, df, col)
        elif isinstance(default, str):
            df[col] = _as_text(s)
            if col in _REQUIRED_COLUMNS[layer]:
                empty = df[col].isna() | (df[col].astype(str) == "")
                if empty.any():
                    k = int(np.flatnonzero(empty.to_numpy())[0])
                    raise _fail(path, layer, f"{_record(df, k)}: field {col!r} is empty; "
                                "give the bus id")
        else:
            num = pd.to_numeric(s, errors="coerce")
            bad = s.notna() & num.isna()
            if bad.any():
                k = int(np.flatnonzero(bad.to_numpy())[0])
                raise _fail(path, layer, f"{_record(df, k)}: field {col!r} is "
                            f"{_show(s.iloc[k])}, not a number; store a number")
            if isinstance(default, int):
                frac = num.notna() & (num != np.floor(num))
                if frac.any():
                    k = int(np.flatnonzero(frac.to_numpy())[0])
                    raise _fail(path, layer, f"{_record(df, k)}: field {col!r} is "
                                f"{_show(s.iloc[k])}, not a whole number; store an integer")
                if not pd.api.types.is_integer_dtype(s):
                    df[col] = num.fillna(default).astype(np.int64)
            else:
                df[col] = num.astype(float)
            if (layer, col) in _NULL_IS_INF:
                df[col] = df[col].fillna(np.inf)
    return df


def _as_flag(path: Path, layer: str, df: pd.DataFrame, col: str) -> pd.Series:
    s = df[col]
    if pd.api.types.is_bool_dtype(s):
        return s
    default = LAYERS[layer][1][col]

    def flag(v: Any) -> bool | None:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return default
        if isinstance(v, bool | np.bool_):
            return bool(v)
        if isinstance(v, int | np.integer | float | np.floating) and v in (0, 1):
            return bool(v)
        text = str(v).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        return None

    out = s.map(flag)
    bad = out.isna()
    if bad.any():
        k = int(np.flatnonzero(bad.to_numpy())[0])
        raise _fail(path, layer, f"{_record(df, k)}: field {col!r} is {_show(s.iloc[k])}, not "
                    "a flag; store true/false (or 1/0)")
    return out.astype(bool)


def _warn_lookalikes(path: Path, layer: str, df: pd.DataFrame, columns: dict) -> None:
    """Warn where a schema column is absent but an extra column looks like it (``load``
    for ``load_mw``): the default would silently stand in for the planner's data."""
    import difflib

    extra = [c for c in df.columns if c not in columns and c not in ("id", "geometry")]
    for col in columns:
        if col in df.columns:
            continue
        stem = col.rsplit("_", 1)[0] if col.endswith(("_mw", "_kv", "_km", "_pu", "_h")) else col
        close = [c for c in extra if c.lower() == stem or c.lower().startswith(stem + "_")]
        close = close or difflib.get_close_matches(col, extra, n=1, cutoff=0.8)
        if close:
            logger.warning("%s: layer %s has no column %r but has %r; rename it to %r, "
                           "or the default %r is used", path, layer, col, close[0], col,
                           columns[col])


def _read_layer(path: Path, layer: str) -> pd.DataFrame:
    import pyogrio

    try:
        df = pyogrio.read_dataframe(path, layer=layer)
    except Exception as exc:  # GDAL reports many kinds; one line for the user
        raise _fail(path, layer, f": cannot be read ({exc}); open it in QGIS and save the "
                    "layer again") from None
    if "geometry" in df.columns:
        kinds = _GEOMETRIES.get(layer, (LAYERS[layer][0],))
        types = df.geometry.geom_type
        wrong = types.notna() & ~types.isin(kinds)
        if wrong.any():
            k = int(np.flatnonzero(wrong.to_numpy())[0])
            raise _fail(path, layer, f"{_record(df, k)}: geometry is a {types.iloc[k]}; "
                        f"{layer} need {' or '.join(kinds)} geometries")
    return df


def _grid_attributes(path: Path, layers: set[str]) -> dict[str, Any]:
    import pyogrio

    attrs: dict[str, Any] = {"name": path.stem, "base_mva": 100.0, "crs": None}
    if "grid" not in layers:
        logger.info("%s: no grid table; name %r, 100 MVA base", path, path.stem)
        return attrs
    try:
        t = pyogrio.read_dataframe(path, layer="grid", read_geometry=False)
    except Exception as exc:
        raise _fail(path, "grid", f": cannot be read ({exc})") from None
    if len(t) != 1:
        raise _fail(path, "grid", f": has {len(t)} rows; it needs exactly one row "
                    "(name, base_mva)")
    row = t.iloc[0]
    version = row.get("format_version")
    if version is not None and pd.notna(version):
        try:
            version = int(version)
        except (TypeError, ValueError):
            raise _fail(path, "grid", f" field 'format_version' is {_show(version)}, not an "
                        "integer") from None
        if version > FORMAT_VERSION:
            raise _fail(path, "grid", f": format version {version} is newer than this "
                        f"gridres reads ({FORMAT_VERSION}); upgrade gridres")
    if "name" in t.columns and pd.notna(row["name"]) and str(row["name"]):
        attrs["name"] = str(row["name"])
    if "base_mva" in t.columns and pd.notna(row["base_mva"]):
        base = pd.to_numeric(pd.Series([row["base_mva"]]), errors="coerce").iloc[0]
        if not (pd.notna(base) and base > 0):
            raise _fail(path, "grid", f" field 'base_mva' is {_show(row['base_mva'])}; store "
                        "the system MVA base as a positive number")
        attrs["base_mva"] = float(base)
    if "crs" in t.columns and pd.notna(row["crs"]) and str(row["crs"]):
        attrs["crs"] = str(row["crs"])
    return attrs


def _layer_crs(frames: dict[str, pd.DataFrame], path: Path):
    """The one CRS of the spatial layers (pyproj CRS or None)."""
    found = None
    first = None
    for layer, df in frames.items():
        crs = getattr(df, "crs", None) if "geometry" in df.columns else None
        if crs is None:
            continue
        if found is None:
            found, first = crs, layer
        elif crs != found:
            raise _fail(path, layer, f": CRS {crs.to_string()} differs from layer {first}'s "
                        f"{found.to_string()}; reproject it to one CRS")
    return found


def read_geopackage(path: str | os.PathLike, name: str | None = None) -> Grid:
    """Read a grid GeoPackage.

    Parameters
    ----------
    path : path-like
        A ``.gpkg`` file written by :func:`write_geopackage` or by hand (see the module
        documentation for the layers and columns).
    name : str, optional
        Grid name; default: the ``grid`` table's name, else the file stem.

    Returns
    -------
    Grid
        Tables are :class:`geopandas.GeoDataFrame` where the layer has geometry.
        ``source`` is ``path``.

    Raises
    ------
    InputNotFound
        If ``path`` does not exist.
    GridError
        If the file is not a GeoPackage, a required layer or column is missing, ids are
        missing or repeated, a field has the wrong type, a geometry has the wrong type,
        or the layers disagree on the CRS. The message names the file, layer, record and
        field.

    Examples
    --------
    >>> from gridres.io.load import bundled_grids
    >>> g = read_geopackage(bundled_grids()["demo_region"])
    >>> g.crs
    'EPSG:4326'
    """
    import pyogrio

    path = Path(path)
    if not path.exists():
        raise InputNotFound(f"{path}: no such file")
    if path.is_dir():
        raise GridError(f"{path}: is a folder, not a GeoPackage file")
    try:
        info = pyogrio.list_layers(path)
        driver = pyogrio.read_info(path, layer=str(info[0][0]))["driver"] if len(info) else ""
    except Exception:
        raise GridError(f"{path}: not a GeoPackage (GDAL cannot open it); export the grid "
                        "as GeoPackage (.gpkg)") from None
    if not len(info):
        raise GridError(f"{path}: the file has no layers; write the grid with "
                        "gridres export or see the layer list in the documentation")
    if driver != "GPKG":
        raise GridError(f"{path}: is a {driver or 'empty'} file, not a GeoPackage; export "
                        "the grid as GeoPackage (.gpkg)")
    layers = {str(r[0]) for r in info}
    for layer in _REQUIRED_LAYERS:
        if layer not in layers:
            raise GridError(f"{path}: layer {layer} is missing (layers: "
                            f"{', '.join(sorted(layers))}); add it, empty if need be")
    attrs = _grid_attributes(path, layers)
    raw = {layer: _read_layer(path, layer) for layer in LAYERS if layer in layers}
    crs = _layer_crs(raw, path)
    if crs is not None:
        from pyproj import CRS

        stored = attrs["crs"]
        if stored is None or CRS.from_user_input(stored) != crs:
            if stored is not None:
                logger.warning("%s: layers are in %s, not %s as the grid table says; using "
                               "the layers' CRS", path, crs.to_string(), stored)
            attrs["crs"] = crs.to_string()
    tables = {}
    for layer, df in raw.items():
        df = _check_columns(path, layer, df)
        tables[layer] = df.set_index("id")
    return Grid(
        buses=tables["buses"],
        branches=tables["branches"],
        generators=tables["generators"],
        facilities=tables.get("facilities"),
        towns=tables.get("towns"),
        name=name or attrs["name"],
        base_mva=attrs["base_mva"],
        crs=attrs["crs"],
        source=str(path),
    )


# -- GeoJSON ---------------------------------------------------------------------------
@dataclass(frozen=True)
class GeoJSONExport:
    """What :func:`write_geojson` wrote.

    Attributes
    ----------
    folder : Path
    files : tuple of Path
        One ``.geojson`` per layer: buses, branches, generators, facilities, towns (where
        the grid has towns), grid.
    reprojected : bool
        Coordinates were transformed to longitude/latitude (EPSG:4326).
    note : str
        Why coordinates were written as they are, when not reprojected (else empty).
    """

    folder: Path
    files: tuple[Path, ...]
    reprojected: bool
    note: str = ""


def crs_label(crs: str | None) -> str:
    """A short name for a CRS: ``EPSG:4326`` where it has a code, else its name.

    Examples
    --------
    >>> crs_label("epsg:32633")
    'EPSG:32633'
    >>> crs_label('LOCAL_CS["site grid",UNIT["metre",1]]')
    'site grid'
    >>> crs_label(None)
    'none'
    """
    if crs is None:
        return "none"
    from pyproj import CRS

    try:
        c = CRS.from_user_input(crs)
    except Exception:  # not a CRS pyproj knows: show it as given
        return str(crs)
    auth = c.to_authority(min_confidence=90)
    if auth:
        return f"{auth[0]}:{auth[1]}"
    return c.name if c.name and c.name != "unknown" else str(crs)


def _to_lonlat(frame, crs: str | None):
    """``frame`` in EPSG:4326 and a note when that is not possible."""
    from pyproj import CRS

    if crs is None:
        return frame, False, "the grid has no CRS: coordinates written as they are"
    try:
        if CRS.from_user_input(crs) == CRS.from_epsg(4326):
            return frame, True, ""
        return frame.to_crs("EPSG:4326"), True, ""
    except Exception as exc:  # an engineering or otherwise untransformable CRS
        logger.debug("no transformation from %s to EPSG:4326: %s", crs, exc)
        return frame, False, (f"CRS {crs_label(crs)!r} cannot be transformed to "
                              "longitude/latitude: coordinates written as they are")


def write_geojson(grid: Grid, folder: str | os.PathLike) -> GeoJSONExport:
    """Write each table of ``grid`` as ``FOLDER/<layer>.geojson``.

    GeoJSON wants longitude/latitude (EPSG:4326, RFC 7946), so projected coordinates are
    transformed with geopandas. Grids without a CRS, or with one that cannot be
    transformed (a schematic's engineering CRS), are written as they are and the returned
    ``note`` says so. Tables without geometry become features with null geometry. JSON has
    no infinity: ``inf`` values (unlimited ``rating_mw``) become null. The grid's name,
    MVA base and CRS go to ``grid.geojson``. Each file is written atomically; other files
    in the folder are left alone.

    Parameters
    ----------
    grid : Grid
    folder : path-like
        Created if missing.

    Returns
    -------
    GeoJSONExport

    Examples
    --------
    >>> import tempfile
    >>> from gridres.io import load_grid
    >>> out = write_geojson(load_grid("demo_region"), tempfile.mkdtemp())
    >>> [p.name for p in out.files][:2], out.reprojected
    (['buses.geojson', 'branches.geojson'], True)
    """
    import geopandas as gpd
    import pyogrio

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    reprojected, notes = None, set()
    for layer in _written(grid):
        frame, spatial = _table_frame(grid, layer)
        ok = False
        if spatial:
            frame, ok, note = _to_lonlat(frame, grid.crs)
            reprojected = ok if reprojected is None else reprojected and ok
            if note:
                notes.add(note)
        else:
            frame = gpd.GeoDataFrame(frame, geometry=[None] * len(frame))
        for col in frame.columns:
            if col != "geometry" and pd.api.types.is_float_dtype(frame[col]):
                frame[col] = frame[col].where(np.isfinite(frame[col]), np.nan)
        out = folder / f"{layer}.geojson"
        options = {"RFC7946": "YES"} if spatial and ok else {}
        with write_path(out) as tmp, warnings.catch_warnings():
            warnings.filterwarnings("ignore", "'crs' was not provided", UserWarning)
            pyogrio.write_dataframe(frame, tmp, layer=layer, driver="GeoJSON",
                                    layer_options=options or None)
        files.append(out)
    meta = _grid_table(grid)
    out = folder / "grid.geojson"
    with write_path(out) as tmp, warnings.catch_warnings():
        warnings.filterwarnings("ignore", "'crs' was not provided", UserWarning)
        pyogrio.write_dataframe(gpd.GeoDataFrame(meta, geometry=[None]), tmp, layer="grid",
                                driver="GeoJSON")
    files.append(out)
    if reprojected is None:
        notes.add("the grid has no geometry: features written with null geometry")
    note = "; ".join(sorted(notes))
    if note:
        logger.info("%s: %s", folder, note)
    return GeoJSONExport(folder=folder, files=tuple(files), reprojected=bool(reprojected),
                         note=note)
