"""Reading and writing grids: MATPOWER cases, GeoPackage/GeoJSON, bundled grids."""

from gridres.io.load import load_grid

__all__ = ["load_grid"]
