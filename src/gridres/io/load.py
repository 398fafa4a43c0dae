"""One entry point for every way of naming a grid."""

from __future__ import annotations

import os
from pathlib import Path

from gridres.errors import GridError, InputNotFound
from gridres.io.cases import matpower_case_path
from gridres.io.geopackage import read_geopackage
from gridres.io.matpower import read_matpower
from gridres.model import Grid

__all__ = ["load_grid", "bundled_grids", "grids_dir"]


def grids_dir() -> Path:
    """Folder of the bundled grids: inside the installed package, or the repository's
    top-level ``grids/`` in a development checkout."""
    here = Path(__file__).resolve().parent.parent
    packaged = here / "grids"
    if packaged.is_dir():
        return packaged
    return here.parent.parent / "grids"


def bundled_grids() -> dict[str, Path]:
    """Bundled grid names and their files."""
    d = grids_dir()
    return {p.stem: p for p in sorted(d.glob("*.gpkg"))} if d.is_dir() else {}


def load_grid(spec: str | os.PathLike) -> Grid:
    """Load a grid from a file path, a bundled grid name or ``matpower:NAME``.

    Parameters
    ----------
    spec : str or path-like
        ``path/to/case.m`` (MATPOWER), ``path/to/grid.gpkg`` (GeoPackage),
        ``path/to/grid.geojson`` (GeoJSON folder export is write-only), a bundled grid
        name such as ``ieee14`` (see ``gridres grids``), or ``matpower:case118``.

    Returns
    -------
    Grid

    Raises
    ------
    InputNotFound
        If nothing of that name exists (exit code 66).
    GridError
        If the file exists but is not a valid grid, or not a grid at all (exit code 65).

    Examples
    --------
    >>> g = load_grid("ieee14")
    >>> len(g.buses)
    14
    """
    text = str(spec)
    if text.startswith("matpower:"):
        name = text.split(":", 1)[1]
        return read_matpower(matpower_case_path(name), name=name, source=text)
    path = Path(text)
    if path.suffix.lower() == ".m":
        return read_matpower(path)
    if path.suffix.lower() == ".gpkg":
        return read_geopackage(path)
    bundled = bundled_grids()
    if text in bundled:
        return read_geopackage(bundled[text], name=text)
    if path.is_file():
        raise GridError(
            f"{path}: not a grid (unknown format {path.suffix!r}); use a MATPOWER .m file or "
            "a .gpkg"
        )
    if path.exists():
        raise InputNotFound(
            f"{path}: unknown grid format {path.suffix!r}; use a MATPOWER .m file or a .gpkg"
        )
    import difflib

    close = difflib.get_close_matches(text, list(bundled), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise InputNotFound(
        f"{text}: no such file or bundled grid{hint} "
        f"(bundled: {', '.join(bundled) or 'none'}; or use matpower:NAME)"
    )
