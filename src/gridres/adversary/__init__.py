"""Worst-case strikes and what to protect against them.

An attacker with ``k`` strikes picks the buses, branches, generators or substations
whose loss hurts most; a defender who can protect ``P`` sites picks those that cap the
attacker's worst. :func:`attack` finds the worst ``k``-sets for one objective,
:func:`defend` the protection that minimises the attacker's best response, and
:func:`attack_curve` sets the worst ``k`` strikes beside random ``k``-element failures
for ``k = 1 .. K``. Every number comes from the engine's own rules
(:func:`gridres.impact.assess`, :func:`gridres.cascade.cascade`,
:func:`gridres.restoration.simulate`); the objectives are defined in
:mod:`gridres.adversary.evaluate`.

Exact and bounded
-----------------
Exhaustive enumeration is exact. The interdiction MILP (:mod:`gridres.adversary.milp`) is
exact for ``shed_mw`` without a cascade on grids without shunt demand or negative loads,
and an upper bound on it everywhere; its LP relaxation is a (weaker) upper bound too.
Those are the only bounds used. No bound from the damage of single elements or pairs is
valid for any objective on a meshed grid: a town fed over three lines loses nothing to
any one or two strikes on them and everything to the three together (damage is neither
subadditive nor supermodular), and with a cascade or with shunt demand damage is not
even monotone in the strikes. So nothing is pruned; sets are evaluated exactly, in
blocks (:mod:`gridres.adversary.evaluate` explains the batched path that makes ``k = 3``
over a hundred substations take seconds).

The package calls as its function, so that ``gridres.attack(grid, 3)`` is
``gridres.adversary.attack(grid, 3)`` whichever way it was imported.

Waves against repairs
---------------------
``attack(..., state=S)`` strikes a grid that is already damaged. The ``adaptive``
scenario kind (:mod:`gridres.adversary.adaptive`) builds on it: an attacker who strikes
in waves, each against the grid as the restoration has left it, usable in ensembles,
restorations and studies through :func:`scenario_generator`.
:class:`~gridres.adversary.evaluate.SetEvaluator` evaluates any list of strike sets.
"""

from gridres.adversary.adaptive import (
    AdaptiveAttacker,
    AdaptiveStrikes,
    adaptive_strikes,
    scenario_generator,
)
from gridres.adversary.core import METHODS, AttackResult, Strike, attack, default_budget
from gridres.adversary.curve import CurveResult, attack_curve
from gridres.adversary.defend import DefenceResult, Defender, defend, protection_ranking
from gridres.adversary.evaluate import METRICS, OBJECTIVES, SetEvaluator
from gridres.adversary.targets import TARGETS, Targets, targets
from gridres.adversary.worst import WorstCase, worst_case

__all__ = [
    "AdaptiveAttacker",
    "AdaptiveStrikes",
    "adaptive_strikes",
    "scenario_generator",
    "METHODS",
    "METRICS",
    "OBJECTIVES",
    "TARGETS",
    "AttackResult",
    "CurveResult",
    "DefenceResult",
    "Defender",
    "SetEvaluator",
    "Strike",
    "Targets",
    "attack",
    "attack_curve",
    "default_budget",
    "defend",
    "protection_ranking",
    "targets",
    "WorstCase",
    "worst_case",
]

