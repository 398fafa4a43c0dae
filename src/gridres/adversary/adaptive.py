"""An attacker who adapts to repairs: waves of strikes, each aimed at the grid as it then
stands.

A scenario kind for ensembles, restorations and studies::

    adaptive:waves=4,every_h=24,k=3,target=substation,objective=shed_mw

Wave ``j`` strikes at ``start_h + j * every_h``. The first is the worst ``k`` strikes
on the intact grid; every later one is the worst ``k`` strikes on the grid *as it
stands at that time*: inside a restoration, what its crews have not yet repaired is
still dead and what they have repaired can be struck again (see
:mod:`gridres.restoration.chosen`); outside one (an ensemble without ``--restore``, the
``failed`` column of its records), nothing is repaired between waves. So the attacker
answers each policy, crew count and spare stock with the strikes its repairs invite.

Each wave is :func:`gridres.adversary.attack` with ``state`` the grid as it stands, the
scenario's cascade option (the command's ``--cascade-mode``/``--margin`` or the
study's ``[cascade]``), ``method="auto"`` and ``budget`` sets: every set where
``C(n, k)`` fits the budget, else the interdiction MILP for ``shed_mw`` without a cascade
(node-limited), else the search within the budget. Targets already dead count out; when
fewer than ``k`` are left, the wave strikes them all.

Keys
----
``waves``
    Waves, an int from 1 to :data:`~gridres.scenarios.waves.MAX_STRIKE_WAVES`.
``every_h``
    Hours between waves, > 0 (when ``waves > 1``); default 24.
``k``
    Targets per wave, an int >= 1 (required).
``target``
    ``substation`` (default), ``bus``, ``branch`` or ``gen``.
``objective``
    What each wave maximises: ``shed_mw`` (default), ``people_out``,
    ``facilities_dark`` or ``customers_out`` (:mod:`gridres.adversary.evaluate`;
    ``ens_mwh`` is not a per-wave objective: it would restore the grid inside every
    choice).
``start_h``
    Time of the first wave, hours >= 0; default 0.
``budget``
    Sets evaluated per wave, an int >= 1; default :data:`ADAPTIVE_BUDGET` (5,000: every
    pair of the demo region's 91 substations; for ``k = 3`` the MILP without a cascade,
    or the search with ``trip``).
``near``
    A fraction in [0, 1), default 0: the attacker picks uniformly among the distinct sets
    (of the best :data:`NEAR_TOP` found) within ``near`` of the worst, so that an
    ensemble sees an attacker who does not always pick the same among near-equal sets.
    0: always the worst (ties by the ranking rule of :func:`~gridres.adversary.attack`).
``protect``, ``exclude``
    Element tokens out of the attacker's reach (a list, or tokens joined by ``;``).

Randomness: the attacker's pick among near-equal sets in chosen wave ``j`` of a scenario
draws from ``default_rng([s, j])``, ``s`` drawn from the scenario's own stream
(``default_rng([seed, i])`` for ensemble scenario ``i``); repair times of chosen waves
are in :mod:`gridres.restoration.chosen`. Same seed, same strikes, on any number of
workers.

Examples
--------
>>> import numpy as np
>>> from gridres.io import load_grid
>>> grid = load_grid("ieee14")
>>> gen = scenario_generator("adaptive:waves=2,every_h=12,k=1,target=bus", grid)
>>> sc = gen.sample(grid.network, np.random.default_rng([0, 0]))
>>> [(w.time_h, w.label) for w in sc.realised(grid.network).waves]
[(0.0, 'bus:3'), (12.0, 'bus:4')]
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gridres.adversary.core import AttackResult, attack, check_objective
from gridres.adversary.evaluate import OBJECTIVES
from gridres.adversary.targets import TARGETS, targets
from gridres.cascade import CascadeOptions
from gridres.elements import parse_tokens
from gridres.errors import UsageError
from gridres.model import Grid, Network, State
from gridres.scenarios.base import ChosenWaves, Scenario, ScenarioGenerator, Wave
from gridres.scenarios.elements import check_network, check_param
from gridres.scenarios.spec import check_keys, parse_spec, scenario_from_spec
from gridres.scenarios.waves import MAX_STRIKE_WAVES

__all__ = ["ADAPTIVE_BUDGET", "NEAR_TOP", "AdaptiveAttacker", "AdaptiveStrikes",
           "adaptive_strikes", "scenario_generator"]

#: Sets an adaptive attacker evaluates per wave by default.
ADAPTIVE_BUDGET = 5_000
#: Worst sets an attacker with ``near > 0`` draws among.
NEAR_TOP = 10
#: Responses an attacker remembers (per process): states recur across policies and
#: scenarios (the intact grid before the first wave, always).
_MEMO = 64

_WHO = "adaptive"
_OBJECTIVES = tuple(o for o in OBJECTIVES if o != "ens_mwh")


def _tokens(value: Any, name: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(t.strip() for t in value.split(";") if t.strip())
    if isinstance(value, list | tuple) and all(isinstance(t, str) for t in value):
        return tuple(value)
    raise UsageError(f"The {name!r} parameter of {_WHO} must be element tokens (a list, or "
                     f"tokens joined by ';'). Got {value!r} instead.")


@dataclass(frozen=True, eq=False)
class AdaptiveAttacker:
    """Picks each wave's ``k`` worst targets against the grid as it stands (a
    :class:`~gridres.scenarios.base.WaveChooser`; keys in the module notes).

    Parameters
    ----------
    grid : Grid
    k : int
    target, objective : str
    cascade : CascadeOptions or str, optional
    budget : int
    near : float
    protect, exclude : iterable of str

    Raises
    ------
    UsageError
        On a parameter out of range, an objective the grid has no data for, or a token
        that names no target.
    """

    grid: Grid
    k: int
    target: str = "substation"
    objective: str = "shed_mw"
    cascade: CascadeOptions = field(default_factory=CascadeOptions)
    budget: int = ADAPTIVE_BUDGET
    near: float = 0.0
    protect: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    _memo: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        def is_int(v: Any) -> bool:
            return isinstance(v, int | np.integer) and not isinstance(v, bool)

        object.__setattr__(self, "cascade", CascadeOptions.of(self.cascade))
        check_param(is_int(self.k) and self.k >= 1, "k", _WHO, "an int >= 1", self.k)
        check_param(self.target in TARGETS, "target", _WHO, "one of " + ", ".join(TARGETS),
                    self.target)
        check_param(self.objective in _OBJECTIVES, "objective", _WHO,
                    "one of " + ", ".join(_OBJECTIVES), self.objective)
        check_param(is_int(self.budget) and self.budget >= 1, "budget", _WHO, "an int >= 1",
                    self.budget)
        near = self.near
        check_param(isinstance(near, int | float) and not isinstance(near, bool)
                    and math.isfinite(near) and 0 <= near < 1, "near", _WHO,
                    "a fraction in [0, 1)", near)
        object.__setattr__(self, "near", float(near))
        object.__setattr__(self, "protect", _tokens(self.protect, "protect"))
        object.__setattr__(self, "exclude", _tokens(self.exclude, "exclude"))
        check_objective(self.grid, self.objective)
        tg = targets(self.grid, self.target, exclude=self.exclude, protect=self.protect)
        check_param(self.k <= len(tg), "k", _WHO,
                    f"at most {len(tg)} (the {self.target} targets in reach)", self.k)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_memo"] = {}
        return state

    def respond(self, state: State) -> AttackResult | None:
        """The worst strikes on the grid in ``state`` (None when no target is left)."""
        key = state.bus.tobytes() + state.branch.tobytes() + state.gen.tobytes()
        if key in self._memo:
            return self._memo[key]
        left = len(targets(self.grid, self.target, exclude=self.exclude,
                           protect=self.protect, state=state))
        res = None
        if left:
            res = attack(self.grid, min(self.k, left), target=self.target,
                         objective=self.objective, cascade=self.cascade,
                         exclude=self.exclude, protect=self.protect,
                         top=NEAR_TOP if self.near > 0 else 1, budget=self.budget,
                         seed=0, workers=1, state=state)
        if len(self._memo) >= _MEMO:
            self._memo.pop(next(iter(self._memo)))
        self._memo[key] = res
        return res

    def __call__(self, net: Network, state: State, time_h: float,
                 rng: np.random.Generator) -> Wave:
        """The wave that strikes ``state`` (see the module notes)."""
        check_network(net, self.grid, _WHO)
        res = self.respond(state)
        if res is None:
            return Wave(time_h)
        pick = res.best
        if self.near > 0:
            worst = res.value
            close = [s for s in res.attacks
                     if s.value(self.objective) >= worst - self.near * abs(worst)]
            pick = close[int(rng.integers(len(close)))]
        el = parse_tokens(pick.elements, self.grid)
        return Wave(time_h, el["buses"], el["branches"], el["gens"], ";".join(pick.elements))


@dataclass(frozen=True, eq=False)
class AdaptiveStrikes:
    """The ``adaptive`` scenario kind: ``waves`` waves ``every_h`` hours apart from
    ``start_h``, each chosen by ``attacker`` at its time (a
    :class:`~gridres.scenarios.base.ScenarioGenerator`)."""

    attacker: AdaptiveAttacker
    waves: int = 1
    every_h: float = 24.0
    start_h: float = 0.0

    def __post_init__(self) -> None:
        w = self.waves
        check_param(isinstance(w, int | np.integer) and not isinstance(w, bool)
                    and 1 <= w <= MAX_STRIKE_WAVES, "waves", _WHO,
                    f"an int from 1 to {MAX_STRIKE_WAVES:,}", w)
        for name, value, ok in (
                ("every_h", self.every_h, lambda v: v > 0 or self.waves == 1),
                ("start_h", self.start_h, lambda v: v >= 0)):
            check_param(isinstance(value, int | float) and not isinstance(value, bool)
                        and math.isfinite(value) and ok(value), name, _WHO,
                        "a float > 0" if name == "every_h" else "a float >= 0", value)
        object.__setattr__(self, "every_h", float(self.every_h))
        object.__setattr__(self, "start_h", float(self.start_h))

    @property
    def label(self) -> str:
        a = self.attacker
        return (f"adaptive attacker: {self.waves} waves of {a.k} {a.target} strikes every "
                f"{self.every_h:g} h ({a.objective})")

    def sample(self, net: Network, rng: np.random.Generator) -> Scenario:
        """The scenario: no fixed wave, every wave chosen at its time."""
        check_network(net, self.attacker.grid, _WHO)
        times = tuple(self.start_h + j * self.every_h for j in range(self.waves))
        seed = int(rng.integers(2**63))
        return Scenario((), self.label, ChosenWaves(times, self.attacker, seed, self.label))


#: Keys of an ``adaptive`` spec.
KEYS = {"waves", "every_h", "k", "target", "objective", "start_h", "budget", "near",
        "protect", "exclude"}


def adaptive_strikes(spec: str | Mapping[str, Any], grid: Grid, *,
                     cascade: CascadeOptions | str | None = None) -> AdaptiveStrikes:
    """The generator of an ``adaptive`` spec (keys in the module notes).

    Parameters
    ----------
    spec : str or mapping
        ``"adaptive:waves=4,every_h=24,k=3"`` or its table.
    grid : Grid
    cascade : CascadeOptions or str, optional
        The cascade option every wave is judged with (the run's).

    Returns
    -------
    AdaptiveStrikes

    Raises
    ------
    UsageError
        On a missing ``k``, an unknown key or a value out of range.
    """
    t = parse_spec(spec)
    if str(t.get("kind", "")).strip().lower() != _WHO:
        raise UsageError(f"not an adaptive spec: {spec!r}")
    check_keys(t, KEYS, _WHO)
    if "k" not in t:
        raise UsageError("an adaptive attacker needs k (targets per wave), e.g. "
                         "adaptive:waves=4,every_h=24,k=3")
    attacker = AdaptiveAttacker(
        grid, t["k"], target=t.get("target", "substation"),
        objective=t.get("objective", "shed_mw"), cascade=CascadeOptions.of(cascade),
        budget=t.get("budget", ADAPTIVE_BUDGET), near=t.get("near", 0.0),
        protect=t.get("protect", ()), exclude=t.get("exclude", ()))
    return AdaptiveStrikes(attacker, t.get("waves", 1), t.get("every_h", 24.0),
                           t.get("start_h", 0.0))


def scenario_generator(spec: str | Mapping[str, Any], grid: Grid, *,
                       base_dir: str | os.PathLike | None = None,
                       cascade: CascadeOptions | str | None = None) -> ScenarioGenerator:
    """The scenario generator of any spec: :func:`adaptive_strikes` for ``adaptive``,
    :func:`gridres.scenarios.spec.scenario_from_spec` for every other kind.

    Parameters
    ----------
    spec : str or mapping
    grid : Grid
    base_dir : str or path-like, optional
        Folder that relative paths in the spec are taken from.
    cascade : CascadeOptions or str, optional
        The run's cascade option (an adaptive attacker judges its strikes with it).

    Returns
    -------
    ScenarioGenerator
    """
    table = parse_spec(spec)
    if str(table.get("kind", "")).strip().lower() == _WHO:
        return adaptive_strikes(table, grid, cascade=cascade)
    return scenario_from_spec(table, grid,
                              base_dir=Path(base_dir) if base_dir is not None else None)

