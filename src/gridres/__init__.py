"""gridres: model power-grid outages and test restoration and redundancy plans.

The public names below are imported on first use, so that ``import gridres`` (and the
command line's start-up) stays light.

Examples
--------
>>> import gridres
>>> net = gridres.load_grid("ieee14").network
>>> gridres.assess(net).n_islands
1
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "Grid": "gridres.model",
    "Network": "gridres.model",
    "State": "gridres.model",
    "compile_grid": "gridres.model",
    "to_networkx": "gridres.model",
    "GridError": "gridres.errors",
    "GridresError": "gridres.errors",
    "InputNotFound": "gridres.errors",
    "UsageError": "gridres.errors",
    "Impact": "gridres.impact",
    "assess": "gridres.impact",
    "load_grid": "gridres.io",
    "islands": "gridres.topology",
    "unsupplied_buses": "gridres.topology",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'gridres' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
