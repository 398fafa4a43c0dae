"""Outage scenarios: explicit lists, N-k, random draws, hazard footprints, waves."""

from gridres.scenarios.base import Scenario, ScenarioGenerator, Wave, as_rng

__all__ = ["Scenario", "ScenarioGenerator", "Wave", "as_rng"]
