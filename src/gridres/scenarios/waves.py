"""Multi-wave events: storm sequences and repeated strikes.

:class:`WaveSequence` combines generators of any kind, each shifted to its own start time,
into one scenario with several waves (a storm band at 0 h and a second at 12 h, a flood
after a wind storm). Each part draws from the same ``rng`` in turn, so the whole
sequence is reproducible from one seed. Parts that land at the same time are merged
into one wave.

:class:`StrikeCampaign` models deliberate attacks: ``waves`` strikes ``every_h`` hours
apart, each failing ``k`` targets (substations by default). An attacker picks the
targets that hurt most more often: each pick is drawn with probability proportional to
``weight ** focus`` over the targets not struck yet (``weight=load_mw``: the most loaded
substations; ``critical_mw``: those feeding hospitals and water works; ``uniform``: any;
``focus=0`` ignores the weight, large ``focus`` picks almost surely the heaviest). With
``distinct`` (default) no target is struck twice, so ``waves * k`` targets are needed.

A wave may list an element that an earlier wave already failed (a storm hits a repaired
line again); a consumer that has not repaired it treats it as still failed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from gridres.elements import Substations, substations
from gridres.errors import UsageError
from gridres.model import Grid, Network
from gridres.scenarios.base import Scenario, ScenarioGenerator, Wave
from gridres.scenarios.elements import (
    check_network,
    check_param,
    element_weights,
    weighted_choice,
)

__all__ = ["WaveSequence", "StrikeCampaign", "merge_waves", "MAX_STRIKE_WAVES"]

#: Most strikes in one campaign (1,000 strikes a day apart is close to three years).
MAX_STRIKE_WAVES = 1_000

_TARGETS = {"substation": "substations", "bus": "buses", "branch": "branches", "gen": "generators"}


def merge_waves(waves: Sequence[Wave]) -> tuple[Wave, ...]:
    """Merge waves that share a time into one (union of their elements), in time order."""
    by_time: dict[float, list[Wave]] = {}
    for w in waves:
        by_time.setdefault(float(w.time_h), []).append(w)
    out = []
    for t in sorted(by_time):
        group = by_time[t]
        out.append(Wave(
            t,
            np.concatenate([w.buses for w in group]),
            np.concatenate([w.branches for w in group]),
            np.concatenate([w.gens for w in group]),
        ))
    return tuple(out)


@dataclass(frozen=True, eq=False)
class WaveSequence:
    """Several generators, each starting at its own time, as one multi-wave scenario.

    Parameters
    ----------
    parts : sequence of (time_h, ScenarioGenerator)
        Start time in hours and the generator of that wave; a part's own wave times are
        added to its start time.
    label : str

    Examples
    --------
    >>> import numpy as np
    >>> from gridres.io import load_grid
    >>> from gridres.scenarios.random import RandomOutages
    >>> grid = load_grid("ieee14")
    >>> seq = WaveSequence([(0.0, RandomOutages(grid, k=2)), (12.0, RandomOutages(grid, k=1))])
    >>> [w.time_h for w in seq.sample(grid.network, np.random.default_rng([3, 0])).waves]
    [0.0, 12.0]
    """

    parts: Sequence[tuple[float, ScenarioGenerator]]
    label: str = ""

    def __post_init__(self) -> None:
        parts = tuple((float(t), g) for t, g in self.parts)
        check_param(len(parts) > 0, "waves", "waves", "a non-empty list", list(self.parts))
        for t, g in parts:
            check_param(math.isfinite(t) and t >= 0, "time_h", "waves", "a float >= 0", t)
            check_param(isinstance(g, ScenarioGenerator), "waves", "waves",
                        "a list of scenario generators", g)
        object.__setattr__(self, "parts", parts)

    def sample(self, net: Network, rng: np.random.Generator) -> Scenario:
        """Draw every part in order from ``rng`` and combine their waves (one part may
        choose its waves at their time, see :class:`~gridres.scenarios.base.ChosenWaves`;
        its times are shifted with it)."""
        waves, labels = [], []
        chosen = None
        for t, gen in self.parts:
            sc = gen.sample(net, rng)
            labels.append(f"{t:g} h: {sc.label}" if sc.label else f"{t:g} h")
            waves += [Wave(t + w.time_h, w.buses, w.branches, w.gens) for w in sc.waves]
            if sc.chosen is not None:
                if chosen is not None:
                    raise UsageError("a sequence of waves takes at most one part that "
                                     "chooses its targets at their time (one adaptive "
                                     "attacker)")
                chosen = sc.chosen.shifted(t)
        return Scenario(merge_waves(waves), self.label or "; ".join(labels), chosen)


@dataclass(frozen=True, eq=False)
class StrikeCampaign:
    """Repeated deliberate strikes (see the module notes).

    Parameters
    ----------
    grid : Grid
    waves : int
        Number of strikes, >= 1.
    every_h : float
        Hours between strikes, > 0 when ``waves > 1``.
    k : int
        Targets per strike, >= 1.
    target : {"substation", "bus", "branch", "gen"}
    weight : str
        ``uniform``, a numeric column of the target's table, or ``critical_mw``.
    focus : float
        Exponent on the weight, >= 0.
    start_h : float
        Time of the first strike, hours.
    distinct : bool
        Never strike a target twice.

    Examples
    --------
    >>> import numpy as np
    >>> from gridres.io import load_grid
    >>> grid = load_grid("ieee14")
    >>> camp = StrikeCampaign(grid, waves=4, every_h=24.0, k=2, target="bus", weight="load_mw")
    >>> sc = camp.sample(grid.network, np.random.default_rng([0, 0]))
    >>> [w.time_h for w in sc.waves], [len(w.buses) for w in sc.waves]
    ([0.0, 24.0, 48.0, 72.0], [2, 2, 2, 2])
    """

    grid: Grid
    waves: int = 1
    every_h: float = 24.0
    k: int = 1
    target: str = "substation"
    weight: str = "uniform"
    focus: float = 1.0
    start_h: float = 0.0
    distinct: bool = True
    _w: np.ndarray = field(init=False, repr=False)
    _subs: Substations | None = field(init=False, repr=False, default=None)

    def __post_init__(self) -> None:
        who = "strikes"

        def is_int(v) -> bool:
            return isinstance(v, int | np.integer) and not isinstance(v, bool)

        check_param(is_int(self.waves) and 1 <= self.waves <= MAX_STRIKE_WAVES, "waves", who,
                    f"an int from 1 to {MAX_STRIKE_WAVES:,}", self.waves)
        check_param(is_int(self.k) and self.k >= 1, "k", who, "an int >= 1", self.k)
        check_param(self.target in _TARGETS, "target", who, "one of " + ", ".join(_TARGETS),
                    self.target)
        check_param(math.isfinite(self.every_h) and (self.every_h > 0 or self.waves == 1),
                    "every_h", who, "a float > 0", self.every_h)
        check_param(math.isfinite(self.focus) and self.focus >= 0, "focus", who, "a float >= 0",
                    self.focus)
        check_param(math.isfinite(self.start_h) and self.start_h >= 0, "start_h", who,
                    "a float >= 0", self.start_h)
        table = _TARGETS[self.target]
        net = self.grid.network
        w = element_weights(self.grid, table, self.weight, who)
        if table == "substations":
            subs = substations(self.grid)
            object.__setattr__(self, "_subs", subs)
            alive = subs.in_service
        else:
            alive = {"buses": net.bus_in_service, "branches": net.branch_in_service,
                     "generators": net.gen_in_service}[table]
        w = np.where(alive, w, 0.0)
        n_ok = int((w > 0).sum())
        if self.distinct:  # the real limit first: waves alone may ask for too many
            check_param(self.waves <= n_ok, "waves", who,
                        f"at most {n_ok} ({n_ok} {self.target} targets with {self.weight} > 0, "
                        "each struck once; or distinct=false)", self.waves)
        need = self.waves * self.k if self.distinct else self.k
        check_param(need <= n_ok, "k", who,
                    f"at most {n_ok // (self.waves if self.distinct else 1)} "
                    f"({n_ok} {self.target} targets with {self.weight} > 0"
                    + (f" for {self.waves} distinct strikes" if self.distinct else "") + ")",
                    self.k)
        object.__setattr__(self, "_w", w)

    def sample(self, net: Network, rng: np.random.Generator) -> Scenario:
        """Draw the strikes' targets; one wave per strike."""
        check_network(net, self.grid, "strikes")
        if self.distinct:
            picks = weighted_choice(rng, self._w, self.waves * self.k, self.focus)
            per_wave = picks.reshape(self.waves, self.k)
        else:
            per_wave = np.stack([weighted_choice(rng, self._w, self.k, self.focus)
                                 for _ in range(self.waves)])
        waves = []
        for i, sel in enumerate(per_wave):
            t = self.start_h + i * self.every_h
            if self.target == "substation":
                waves.append(Wave(t, buses=self._subs.buses(sel)))
            elif self.target == "bus":
                waves.append(Wave(t, buses=sel))
            elif self.target == "branch":
                waves.append(Wave(t, branches=sel))
            else:
                waves.append(Wave(t, gens=sel))
        label = (f"{self.waves} strikes of {self.k} {self.target} every {self.every_h:g} h "
                 f"(weight {self.weight})")
        return Scenario(tuple(waves), label)
