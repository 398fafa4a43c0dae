"""gridres: model power-grid outages and test restoration and redundancy plans.

The public names below are imported on first use, so that ``import gridres`` (and the
command line's start-up) stays light. Wherever they take elements they take ids as well
as positions: ``"branch:L7"``, ``"substation:NAME"``, or a :class:`State`.

Examples
--------
>>> import gridres
>>> grid = gridres.load_grid("ieee14")
>>> gridres.assess(grid, ["branch:1"]).n_islands
1
>>> int(gridres.n_minus_1(grid, "branch")["islands"].max())
2
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: Public name -> the module that defines it (or ``(module, attribute)`` where the top
#: level calls it otherwise). Add a row to expose a name.
_LAZY: dict[str, str | tuple[str, str]] = {
    # model and errors
    "Grid": "gridres.model",
    "Network": "gridres.model",
    "State": "gridres.model",
    "compile_grid": "gridres.model",
    "to_networkx": "gridres.model",
    "UnknownIdError": "gridres.model",
    "GridError": "gridres.errors",
    "GridresError": "gridres.errors",
    "InputNotFound": "gridres.errors",
    "UsageError": "gridres.errors",
    # grids in, outages, the engine
    "load_grid": "gridres.io.load",
    "outage_state": "gridres.elements",
    "Impact": "gridres.impact",
    "assess": "gridres.impact",
    "islands": "gridres.topology",
    "unsupplied_buses": "gridres.topology",
    "grid_summary": "gridres.topology",
    "n_minus_1": "gridres.contingency",
    "n_minus_2": "gridres.contingency",
    "sweep": "gridres.contingency",
    # scenarios, ensembles, restoration, plans, studies
    "scenario_from_spec": "gridres.scenarios.spec",
    "run_ensemble": "gridres.ensemble.runner",
    "schedule": "gridres.deficit.schedule",
    "restore": "gridres.restoration.evaluator",
    "compare": "gridres.restoration.evaluator",
    "plan": ("gridres.study.plan", "run_plan"),
    "load_study": "gridres.study.check",
    "run_study": "gridres.study.run",
    "write_report": "gridres.report.html",
    # worst-case strikes and protection
    "attack": "gridres.adversary",
    "defend": "gridres.adversary",
    "attack_curve": "gridres.adversary",
}

#: Subpackages and modules reachable as attributes (``gridres.cascade.cascade(...)``);
#: ``contingency``, ``cascade`` and ``ensemble`` name modules, so their functions are
#: ``n_minus_1``/``sweep``, ``gridres.cascade.cascade`` and ``run_ensemble``.
_MODULES = ("adversary", "cascade", "contingency", "ensemble", "restoration", "redundancy",
            "deficit", "scenarios", "study", "report")

__all__ = sorted([*_LAZY, *_MODULES])


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        where = _LAZY[name]
        module, attr = where if isinstance(where, tuple) else (where, name)
        return getattr(importlib.import_module(module), attr)
    if name in _MODULES:
        return importlib.import_module(f"gridres.{name}")
    raise AttributeError(f"module 'gridres' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY, *_MODULES])
