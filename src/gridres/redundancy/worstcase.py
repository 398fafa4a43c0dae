"""The worst case of a design: how much damage the attacker's best ``k`` strikes do on
the grid after some interventions (the plan objective ``worst_case``).

A :class:`Threat` says what the attacker does (the ``[defend]`` section of a study:
``k``, target, objective, exclusions, sites already protected, the attack budget). A
design changes that worst case in two ways:

* **Protection.** A hardened or protected asset cannot be struck (hardening against a
  hazard and protection against an attacker are the same purchase here: a
  ``harden`` or ``protect`` intervention takes its assets out of the attacker's reach).
  Assets of another kind than the attacker's targets shield the targets a strike on
  which would destroy them (a protected substation's buses); a hardened line shields
  nothing from an attacker who strikes substations.
* **Grid edits.** A new line, generator, storage, microgrid or backup is part of the
  grid the attacker strikes (:func:`gridres.adversary.attack` on the design's grid).
  Settings (crews, spares, repair times) do not change the immediate damage.

Each design's worst case is :func:`gridres.adversary.attack` on its grid with its
protection, the study's cascade option and seed. Designs that share a grid share one
:class:`gridres.adversary.Defender`: where every ``k``-set fits the attack budget, the
sets are evaluated once per grid and every protection's best response is read off that
table (exact); otherwise each design is a search within the budget.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from gridres.adversary import Defender, attack, targets
from gridres.cascade import CascadeOptions
from gridres.errors import UsageError
from gridres.redundancy.interventions import Design

__all__ = ["Threat", "WorstCaseEvaluator", "protection_tokens"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Threat:
    """What the attacker does (see :func:`gridres.adversary.attack`).

    Attributes
    ----------
    k : int
    target : str
    objective : str
    exclude, protect : tuple of str
        Elements out of reach and already protected, as tokens.
    budget : int or None
        Sets evaluated exactly per attack (None: the attack's default).
    seed : int
    """

    k: int
    target: str = "substation"
    objective: str = "shed_mw"
    exclude: tuple[str, ...] = ()
    protect: tuple[str, ...] = ()
    budget: int | None = None
    seed: int = 0

    def describe(self) -> str:
        """In words: ``"the worst 2 substation strikes (shed_mw)"``."""
        return f"the worst {self.k} {self.target} strikes ({self.objective})"


def protection_tokens(design: Design) -> tuple[str, ...]:
    """The design's hardened and protected assets as element tokens, in id order."""
    kinds = {"substation": "substation", "branch": "branch", "gen": "gen"}
    return tuple(sorted(f"{kinds[kind]}:{ident}" for kind, ident in design.hardening))


@dataclass(eq=False)
class WorstCaseEvaluator:
    """The worst case of designs (module notes), cached per design.

    Parameters
    ----------
    threat : Threat
    cascade : CascadeOptions or str, optional
    workers : int
        Processes for the attack's evaluations (no result depends on it).
    """

    threat: Threat
    cascade: Any = None
    workers: int = 1
    _values: dict = field(default_factory=dict, repr=False)
    _defenders: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.cascade = CascadeOptions.of(self.cascade)

    def value(self, design: Design) -> float:
        """The attacker's worst damage on ``design`` (objective of the threat)."""
        key = (id(design.grid), protection_tokens(design))
        hit = self._values.get(key)
        if hit is not None and hit[0] is design.grid:
            return hit[1]
        v = self._worst(design)
        self._values[key] = (design.grid, v)
        return v

    def _shielding(self, design: Design) -> list[str]:
        """The design's protection tokens that shield a target of the threat's kind."""
        t = self.threat
        out = []
        for token in protection_tokens(design):
            try:
                targets(design.grid, t.target, protect=[token])
            except UsageError:
                continue  # e.g. a hardened line, against an attacker of substations
            out.append(token)
        return out

    def _worst(self, design: Design) -> float:
        t = self.threat
        grid = design.grid
        shield = self._shielding(design)
        common = dict(target=t.target, objective=t.objective, cascade=self.cascade,
                      exclude=list(t.exclude), budget=t.budget, seed=t.seed,
                      workers=self.workers)
        d = self._defenders.get(id(grid))
        if d is None or d[0] is not grid:
            d = (grid, Defender(grid, t.k, 0, protect=list(t.protect), **common))
            self._defenders[id(grid)] = d
        defender = d[1]
        if defender.table is not None:
            names = set(targets(grid, t.target, protect=shield).shielded) if shield else set()
            protected = tuple(j for j, name in enumerate(defender.tg.names) if name in names)
            responses, _ = defender.respond(protected)
            if responses:
                return responses[0][1]
        left = len(targets(grid, t.target, exclude=list(t.exclude),
                           protect=[*t.protect, *shield]))
        if left == 0:
            return 0.0
        res = attack(grid, min(t.k, left), protect=[*t.protect, *shield], top=1, **common)
        return res.value
