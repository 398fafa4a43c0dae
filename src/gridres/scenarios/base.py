"""What every scenario generator returns: a :class:`Scenario` of one or more waves.

A wave is a set of element failures at a time (hours from the start of the event). A
single outage is a one-wave scenario at time 0; repeated strikes or storm bands are
several waves. Elements are positions in the compiled :class:`~gridres.model.Network`.

Every generator implements :class:`ScenarioGenerator`: ``sample(net, rng)`` draws one
scenario from an explicit :class:`numpy.random.Generator`, so scenario ``i`` of an
ensemble with seed ``s`` is ``gen.sample(net, numpy.random.default_rng([s, i]))``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from gridres.errors import UsageError
from gridres.model import Network, State

__all__ = ["Wave", "Scenario", "ScenarioGenerator", "as_rng"]

_EMPTY = np.zeros(0, dtype=np.int64)


def _ints(values) -> np.ndarray:
    return np.unique(np.asarray(values, dtype=np.int64).ravel())


@dataclass(frozen=True, eq=False)
class Wave:
    """Failures arriving together at ``time_h`` (positions into the network's arrays)."""

    time_h: float = 0.0
    buses: np.ndarray = field(default_factory=lambda: _EMPTY)
    branches: np.ndarray = field(default_factory=lambda: _EMPTY)
    gens: np.ndarray = field(default_factory=lambda: _EMPTY)

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


@dataclass(frozen=True, eq=False)
class Scenario:
    """One draw of an outage event: waves in time order, plus free-form labels."""

    waves: tuple[Wave, ...]
    label: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "waves", tuple(sorted(self.waves, key=lambda w: w.time_h)))

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
        """The intact state with every wave's failures applied (no repair)."""
        state = net.intact()
        for wave in self.waves:
            state = wave.apply(state)
        return state

    def to_ids(self, net: Network) -> list[dict]:
        """Waves with string ids, for files and JSON."""
        return [
            {
                "time_h": w.time_h,
                "buses": net.bus_ids[w.buses].tolist(),
                "branches": net.branch_ids[w.branches].tolist(),
                "gens": net.gen_ids[w.gens].tolist(),
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
