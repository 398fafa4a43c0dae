"""Outage scenarios: explicit lists, N-k, random draws, hazard footprints, waves.

Every generator implements :class:`ScenarioGenerator` (``sample(net, rng)``);
:func:`scenario_from_spec` builds one from a CLI string or a study-file table. The
generators are imported on first use, so that ``import gridres.scenarios`` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

from gridres.scenarios.base import Scenario, ScenarioGenerator, Wave, as_rng

_LAZY = {
    "scenario_from_spec": "spec",
    "parse_spec": "spec",
    "ExplicitScenarios": "explicit",
    "RandomOutages": "random",
    "CircleFootprint": "hazard",
    "PolygonFootprint": "hazard",
    "HazardScenarios": "hazard",
    "WaveSequence": "waves",
    "StrikeCampaign": "waves",
    "Fragility": "fragility",
    "FragilitySet": "fragility",
    "fragility_set": "fragility",
}

__all__ = ["Scenario", "ScenarioGenerator", "Wave", "as_rng", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
