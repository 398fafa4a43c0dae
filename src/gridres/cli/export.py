"""`gridres export GRID OUT`: write a grid as GeoPackage or as a folder of GeoJSON."""

from __future__ import annotations

from pathlib import Path

import click

from gridres.cli.common import (
    console,
    emit_json,
    force_option,
    grid_argument,
    hold_folder,
    json_option,
    load,
    output_file,
    output_folder,
)
from gridres.errors import UsageError

__all__ = ["command", "output_target"]

_FORMATS = ("gpkg", "geojson")


def output_target(out: str, fmt: str | None) -> tuple[str, Path]:
    """The format and the file or folder to write, from OUT and ``--format``.

    ``OUT.gpkg`` is a GeoPackage; ``OUT.geojson`` is the folder ``OUT`` (suffix dropped)
    of GeoJSON files; any other OUT needs ``--format``.
    """
    path = Path(out)
    suffix = path.suffix.lower()
    inferred = {".gpkg": "gpkg", ".geojson": "geojson"}.get(suffix)
    if fmt is None:
        if inferred is None:
            raise UsageError(
                f"{out}: cannot tell the format from the name; end OUT in .gpkg or "
                ".geojson, or give --format gpkg|geojson"
            )
        fmt = inferred
    if fmt == "gpkg":
        if inferred == "geojson":
            raise UsageError(f"{out}: --format gpkg needs OUT ending in .gpkg")
        if inferred is None:
            path = path.with_name(path.name + ".gpkg")
            if path.exists() or path.is_symlink():  # a name the user did not give
                raise UsageError(f"{out}: would write {path}, which exists; name {path} "
                                 "itself to replace it")
        if path.is_dir():
            raise UsageError(f"{path}: is a folder; give a .gpkg file name")
        return fmt, output_file(str(path), (".gpkg",), option="OUT")
    if inferred == "gpkg":
        raise UsageError(f"{out}: --format geojson writes a folder; drop the .gpkg suffix")
    if inferred == "geojson":
        path = path.with_suffix("")
    if path.exists() and not path.is_dir():
        raise UsageError(f"{path}: is a file; GeoJSON export writes a folder")
    return fmt, output_folder(str(path), option="OUT")


@click.command("export")
@grid_argument
@click.argument("out", metavar="OUT")
@click.option("--format", "fmt", type=click.Choice(_FORMATS), default=None,
              help="gpkg: one GeoPackage file (the native format); geojson: a folder with "
                   "one .geojson per layer, in longitude/latitude. Default: from OUT's "
                   "suffix.")
@force_option
@json_option
def command(grid: str, out: str, fmt: str | None, force: bool, as_json: bool) -> None:
    """Write GRID to OUT as a GeoPackage (.gpkg) or a folder of GeoJSON files.

    \b
    gridres export ieee14 ieee14.gpkg
    gridres export demo_region region.geojson      # folder region/ of GeoJSON
    gridres export matpower:case118 case118 --format geojson

    The GeoPackage opens in QGIS and reads back with every column; GeoJSON is for web
    maps (reprojected to EPSG:4326; unlimited ratings become null). A GeoJSON folder that
    holds files gridres did not write is refused unless --force (they are kept).
    """
    from rich.markup import escape

    from gridres.io.geopackage import crs_label

    fmt, path = output_target(out, fmt)
    g = load(grid, validate=False)
    doc = {"grid": g.name, "format": fmt, "buses": len(g.buses), "branches": len(g.branches),
           "generators": len(g.generators), "facilities": len(g.facilities),
           "crs": crs_label(g.crs)}
    if fmt == "gpkg":
        from gridres.io.geopackage import write_geopackage

        write_geopackage(g, path)
        if as_json:
            emit_json({**doc, "path": str(path), "files": [str(path)]})
            return
        console.print(f"wrote {escape(str(path))} (GeoPackage: {len(g.buses)} buses, "
                      f"{len(g.branches)} branches, {len(g.generators)} generators, "
                      f"{len(g.facilities)} facilities; CRS {escape(crs_label(g.crs))})",
                      soft_wrap=True)
        return
    from gridres.io.geopackage import write_geojson

    hold_folder(path, force=force, option="OUT")
    done = write_geojson(g, path)
    if as_json:
        emit_json({**doc, "path": str(done.folder), "files": [str(p) for p in done.files],
                   "reprojected": done.reprojected, "note": done.note})
        return
    names = ", ".join(p.name for p in done.files)
    console.print(f"wrote {len(done.files)} GeoJSON files to {escape(str(done.folder))}/: "
                  f"{names}", soft_wrap=True)
    if done.note:
        console.print(f"[yellow]note:[/yellow] {escape(done.note)}", soft_wrap=True)
