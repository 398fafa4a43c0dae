"""Redundancy planning: which investment buys the most resilience?

* ``interventions``: what can be bought (a new line, backup at a facility, a black-start
  generator or storage, a microgrid, hardening or protecting assets, spares, crews,
  faster repairs), each a pure function of the grid or the restoration settings, priced
  from ``costs``.
* ``candidates``: listed candidates checked and priced, and generated ones (lines at the
  grid's weak points, backup where it is short, hardening of the N-1 ranking's top
  assets, spares and crews).
* ``crn``, ``evaluate`` and ``reuse``: every design scored on the same scenarios (common
  random numbers) with restoration, reusing the base case's result wherever that is
  exact.
* ``portfolio``: the greedy portfolio within a budget with re-evaluation after each
  pick, and the efficient frontier.
* ``plan``: the whole plan (:func:`plan_interventions`); a study's ``[plan]`` goes
  through :func:`gridres.study.plan.run_plan` (``gridres plan``).

Examples
--------
>>> from gridres.io import load_grid
>>> from gridres.restoration import RestorationSettings
>>> g = load_grid("ieee14")
>>> iv = make_intervention({"kind": "crews"}, Design(g, RestorationSettings(crews=1)))
>>> iv.kind, iv.apply(Design(g, RestorationSettings(crews=1))).settings.crews
('crews', 2)
"""

from gridres.redundancy.candidates import generate_candidates
from gridres.redundancy.costs import CURRENCY, DEFAULT_COSTS, KINDS, cost_table
from gridres.redundancy.evaluate import PlanEvaluator
from gridres.redundancy.interventions import Design, Intervention, make_intervention
from gridres.redundancy.plan import PlanResult, plan_interventions

__all__ = [
    "CURRENCY",
    "DEFAULT_COSTS",
    "KINDS",
    "Design",
    "Intervention",
    "PlanEvaluator",
    "PlanResult",
    "cost_table",
    "generate_candidates",
    "make_intervention",
    "plan_interventions",
]
