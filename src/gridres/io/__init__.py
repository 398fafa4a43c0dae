"""Reading and writing grids (MATPOWER cases, GeoPackage/GeoJSON, bundled grids), atomic
file writes and JSON documents.

``load_grid`` is imported on first use, so that the light modules here (``atomic``,
``jsondoc``) do not load the grid readers.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["load_grid"]


def __getattr__(name: str) -> Any:
    if name == "load_grid":
        return importlib.import_module("gridres.io.load").load_grid
    raise AttributeError(f"module 'gridres.io' has no attribute {name!r}")
