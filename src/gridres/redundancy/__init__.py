"""Redundancy planning: which investment buys the most resilience?

* :mod:`~gridres.redundancy.interventions`: what can be bought (a new line, backup at a
  facility, a black-start generator or storage, a microgrid, hardening or protecting
  assets, spares, crews, faster repairs), each a pure function of the grid or the
  restoration settings, priced from :mod:`~gridres.redundancy.costs`.
* :mod:`~gridres.redundancy.candidates`: a study's candidates, and generated ones
  (lines at the grid's weak points, backup where it is short, hardening of the N-1
  ranking's top assets, spares and crews).
* :mod:`~gridres.redundancy.crn` and :mod:`~gridres.redundancy.evaluate`: every design
  scored on the same scenarios (common random numbers) with restoration, reusing the
  base case's result wherever that is exact.
* :mod:`~gridres.redundancy.portfolio`: the greedy portfolio within a budget with
  re-evaluation after each pick, and the efficient frontier.
* :mod:`~gridres.redundancy.plan`: a study's plan end to end (``gridres plan``).

Examples
--------
>>> from gridres.redundancy import run_plan          # doctest: +SKIP
>>> result = run_plan("grids/studies/plan_demo.toml", n=100)   # doctest: +SKIP
>>> result.portfolio                                  # doctest: +SKIP
"""

from gridres.redundancy.candidates import generate_candidates, study_candidates, weak_points
from gridres.redundancy.costs import CURRENCY, DEFAULT_COSTS, KINDS, cost_table
from gridres.redundancy.crn import CommonScenarios
from gridres.redundancy.evaluate import (
    METRICS,
    Benefit,
    DesignResult,
    PlanEvaluator,
    benefit,
    cvar_drop,
    design_change,
)
from gridres.redundancy.interventions import (
    Design,
    Intervention,
    add_crews,
    add_generator,
    add_line,
    add_microgrid,
    add_spares,
    faster_repair,
    hardening_targets,
    line_defaults,
    make_intervention,
    set_backup,
)
from gridres.redundancy.plan import PlanResult, plan_study, run_plan
from gridres.redundancy.portfolio import Step, frontier_table, greedy_portfolio, rank_candidates

__all__ = [
    "CURRENCY",
    "DEFAULT_COSTS",
    "KINDS",
    "METRICS",
    "Benefit",
    "CommonScenarios",
    "Design",
    "DesignResult",
    "Intervention",
    "PlanEvaluator",
    "PlanResult",
    "Step",
    "add_crews",
    "add_generator",
    "add_line",
    "add_microgrid",
    "add_spares",
    "benefit",
    "cost_table",
    "cvar_drop",
    "design_change",
    "faster_repair",
    "frontier_table",
    "generate_candidates",
    "greedy_portfolio",
    "hardening_targets",
    "line_defaults",
    "make_intervention",
    "plan_study",
    "rank_candidates",
    "run_plan",
    "set_backup",
    "study_candidates",
    "weak_points",
]
