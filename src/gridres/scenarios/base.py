"""What every scenario generator returns: a :class:`Scenario` of one or more waves.

A wave is a set of element failures at a time (hours from the start of the event). A
single outage is a one-wave scenario at time 0; repeated strikes or storm bands are
several waves. Elements are positions in the compiled :class:`~gridres.model.Network`.

Every generator implements :class:`ScenarioGenerator`: ``sample(net, rng)`` draws one
scenario from an explicit :class:`numpy.random.Generator`, so scenario ``i`` of an
ensemble with seed ``s`` is ``gen.sample(net, numpy.random.default_rng([s, i]))``.

Waves chosen at their time
--------------------------
Most scenarios fix every wave when they are drawn. An attacker who adapts to repairs
does not: a scenario may also hold :class:`ChosenWaves`, waves whose elements a
:class:`WaveChooser` picks at the wave's time from the grid as it then stands. A
restoration simulation asks the chooser at each such time with the state of its own
run (repairs included, see :mod:`gridres.restoration.chosen`); everything that looks
at a scenario without a restoration sees :meth:`Scenario.realised`, the waves the
chooser picks when nothing is repaired in between. Each chosen wave ``j`` draws from
``numpy.random.default_rng([seed, j])`` with the seed the scenario was drawn with, so a
chosen wave depends on the scenario and the state alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from gridres.errors import UsageError
from gridres.model import Network, State

__all__ = ["Wave", "Scenario", "ScenarioGenerator", "WaveChooser", "ChosenWaves", "as_rng"]

_EMPTY = np.zeros(0, dtype=np.int64)


def _ints(values) -> np.ndarray:
    return np.unique(np.asarray(values, dtype=np.int64).ravel())


@dataclass(frozen=True, eq=False)
class Wave:
    """Failures arriving together at ``time_h`` (positions into the network's arrays);
    ``label`` says what they are where the positions alone do not (the targets an
    attacker chose, ``substation:NAME`` tokens joined by ``;``)."""

    time_h: float = 0.0
    buses: np.ndarray = field(default_factory=lambda: _EMPTY)
    branches: np.ndarray = field(default_factory=lambda: _EMPTY)
    gens: np.ndarray = field(default_factory=lambda: _EMPTY)
    label: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "buses", _ints(self.buses))
        object.__setattr__(self, "branches", _ints(self.branches))
        object.__setattr__(self, "gens", _ints(self.gens))

    @property
    def size(self) -> int:
        return len(self.buses) + len(self.branches) + len(self.gens)

    def apply(self, state: State) -> State:
        """The state with this wave's elements failed."""
        return state.fail(self.buses, self.branches, self.gens)


@runtime_checkable
class WaveChooser(Protocol):
    """Picks the elements of a wave at its time from the grid as it then stands.

    ``chooser(net, state, time_h, rng)`` returns the :class:`Wave` that strikes at
    ``time_h`` (its ``time_h`` is set by the caller); ``state`` holds what is damaged and
    not yet repaired, ``rng`` is the wave's own stream. It must be picklable and
    deterministic given its arguments.
    """

    def __call__(self, net: Network, state: State, time_h: float,
                 rng: np.random.Generator) -> Wave:  # pragma: no cover - protocol
        ...


@dataclass(frozen=True, eq=False)
class ChosenWaves:
    """Waves whose elements are chosen at their time (see the module notes).

    Parameters
    ----------
    times_h : tuple of float
        When each chosen wave strikes, hours (ascending, >= 0).
    chooser : WaveChooser
    seed : int
        The scenario's seed of the chooser's draws: wave ``j`` draws from
        ``default_rng([seed, j])``.
    label : str
    """

    times_h: tuple[float, ...]
    chooser: WaveChooser
    seed: int
    label: str = ""

    def __post_init__(self) -> None:
        times = tuple(float(t) for t in self.times_h)
        if any(not (math.isfinite(t) and t >= 0) for t in times) or list(times) != sorted(times):
            raise UsageError(f"chosen waves need finite times >= 0 in ascending order, "
                             f"got {list(times)}")
        object.__setattr__(self, "times_h", times)
        object.__setattr__(self, "seed", int(self.seed))

    def __len__(self) -> int:
        return len(self.times_h)

    def rng(self, j: int, *tag: int) -> np.random.Generator:
        """The stream of chosen wave ``j`` (``tag`` keys further streams of that wave)."""
        return np.random.default_rng([self.seed, int(j), *tag])

    def choose(self, net: Network, state: State, j: int) -> Wave:
        """Chosen wave ``j`` against ``state``, at its time."""
        t = self.times_h[j]
        w = self.chooser(net, state, t, self.rng(j))
        return Wave(t, w.buses, w.branches, w.gens, w.label)

    def shifted(self, offset_h: float) -> ChosenWaves:
        """The same waves ``offset_h`` hours later."""
        return ChosenWaves(tuple(t + offset_h for t in self.times_h), self.chooser,
                           self.seed, self.label)


@dataclass(frozen=True, eq=False)
class Scenario:
    """One draw of an outage event: waves in time order, plus free-form labels.

    ``waves`` are fixed when the scenario is drawn; ``chosen`` (optional) holds waves
    whose elements are chosen at their time (see the module notes).
    """

    waves: tuple[Wave, ...]
    label: str = ""
    chosen: ChosenWaves | None = None
    _realised: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "waves", tuple(sorted(self.waves, key=lambda w: w.time_h)))
        if self.chosen is not None and not len(self.chosen):
            object.__setattr__(self, "chosen", None)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_realised"] = {}  # a cache that holds a network: not worth sending
        return state

    @property
    def n_waves(self) -> int:
        """Waves, fixed and chosen."""
        return len(self.waves) + (len(self.chosen) if self.chosen is not None else 0)

    def realised(self, net: Network) -> Scenario:
        """The scenario with every wave fixed: chosen waves picked, in time order, against
        the damage of every earlier wave with nothing repaired (a fixed wave goes first
        at a shared time). Itself when nothing is chosen. Computed once per scenario and
        network.

        Examples
        --------
        >>> from gridres.io import load_grid
        >>> net = load_grid("ieee14").network
        >>> def first_alive(net, state, time_h, rng):
        ...     return Wave(buses=[int(np.flatnonzero(state.bus)[0])])
        >>> sc = Scenario((), chosen=ChosenWaves((0.0, 24.0), first_alive, seed=1))
        >>> [(w.time_h, w.buses.tolist()) for w in sc.realised(net).waves]
        [(0.0, [0]), (24.0, [1])]
        """
        if self.chosen is None:
            return self
        key = id(net)
        hit = self._realised.get(key)
        if hit is not None and hit[0] is net:
            return hit[1]
        state = net.intact()
        fixed = list(self.waves)
        out: list[Wave] = []
        for j, t in enumerate(self.chosen.times_h):
            while fixed and fixed[0].time_h <= t:
                state = fixed[0].apply(state)
                out.append(fixed.pop(0))
            wave = self.chosen.choose(net, state, j)
            state = wave.apply(state)
            out.append(wave)
        out += fixed
        done = Scenario(tuple(out), self.label)
        self._realised.clear()
        self._realised[key] = (net, done)
        return done

    @classmethod
    def single(cls, buses=(), branches=(), gens=(), label: str = "") -> Scenario:
        """A one-wave scenario at time 0."""
        return cls((Wave(0.0, buses, branches, gens),), label)

    @classmethod
    def from_state(cls, net: Network, state: State, label: str = "") -> Scenario:
        """A one-wave scenario at time 0 that fails what ``state`` has failed (in-service
        elements only)."""
        return cls.single(
            buses=np.flatnonzero(net.bus_in_service & ~state.bus),
            branches=np.flatnonzero(net.branch_in_service & ~state.branch),
            gens=np.flatnonzero(net.gen_in_service & ~state.gen),
            label=label,
        )

    def final_state(self, net: Network) -> State:
        """The intact state with every wave's failures applied (no repair; chosen waves
        as :meth:`realised` picks them)."""
        state = net.intact()
        for wave in self.realised(net).waves:
            state = wave.apply(state)
        return state

    def to_ids(self, net: Network) -> list[dict]:
        """Fixed waves with string ids, for files and JSON (chosen waves are known only
        when they strike)."""
        return [
            {
                "time_h": w.time_h,
                "buses": net.bus_ids[w.buses].tolist(),
                "branches": net.branch_ids[w.branches].tolist(),
                "gens": net.gen_ids[w.gens].tolist(),
                **({"label": w.label} if w.label else {}),
            }
            for w in self.waves
        ]


@runtime_checkable
class ScenarioGenerator(Protocol):
    """Draws scenarios; same ``rng`` state, same scenario."""

    def sample(self, net: Network, rng: np.random.Generator) -> Scenario:  # pragma: no cover
        ...


def as_rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    """Turn a seed into a :class:`numpy.random.Generator`.

    ``None`` is refused: every random draw in gridres takes an explicit seed.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        raise UsageError("a seed is required: pass --seed N (same seed, same result)")
    return np.random.default_rng(seed)
