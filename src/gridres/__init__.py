"""gridres: model power-grid outages and test restoration and redundancy plans."""

from gridres.errors import GridError, GridresError, InputNotFound, UsageError
from gridres.impact import Impact, assess
from gridres.io import load_grid
from gridres.model import Grid, Network, State, compile_grid, to_networkx
from gridres.topology import islands, unsupplied_buses

__all__ = [
    "Grid",
    "GridError",
    "GridresError",
    "Impact",
    "InputNotFound",
    "Network",
    "State",
    "UsageError",
    "assess",
    "compile_grid",
    "islands",
    "load_grid",
    "to_networkx",
    "unsupplied_buses",
]
__version__ = "0.1.0"
