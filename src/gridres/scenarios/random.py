"""Random N-k outages: ``k`` distinct elements, uniformly or weighted by an attribute.

``random:k=3,elements=branch,weight=length_km`` fails 3 distinct in-service branches per
draw, each pick proportional to the remaining branches' ``length_km`` (long lines are hit
more often). ``elements`` is ``branch``, ``bus``, ``gen``, ``substation`` (groups of
buses, see :mod:`gridres.scenarios.elements`) or ``mixed`` (buses, branches and
generators in one pool). ``weight`` is a numeric column of the elements' table
(``mixed`` needs it in all three tables), ``critical_mw`` for buses and substations, or
absent for uniform draws. Elements out of service are never drawn; zero weights never
are either.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gridres.elements import Substations, substations
from gridres.model import Grid, Network
from gridres.scenarios.base import Scenario, Wave
from gridres.scenarios.elements import (
    check_network,
    check_param,
    element_weights,
    weighted_choice,
)

__all__ = ["RandomOutages", "POOLS"]

#: ``elements`` values and the pool of element kinds each draws from.
POOLS = {
    "branch": ("branches",),
    "bus": ("buses",),
    "gen": ("generators",),
    "substation": ("substations",),
    "mixed": ("buses", "branches", "generators"),
}


@dataclass(frozen=True, eq=False)
class RandomOutages:
    """Random N-k: ``k`` distinct elements per scenario, one wave at ``time_h``.

    Parameters
    ----------
    grid : Grid
    k : int
        Elements per scenario, ``1 <= k <=`` the number of candidates with weight > 0.
    elements : {"branch", "bus", "gen", "substation", "mixed"}
    weight : str, optional
        Column whose values the draw is proportional to (see the module notes).
    time_h : float
        Time of the wave, hours.

    Examples
    --------
    >>> import numpy as np
    >>> from gridres.io import load_grid
    >>> grid = load_grid("ieee14")
    >>> gen = RandomOutages(grid, k=2)
    >>> sc = gen.sample(grid.network, np.random.default_rng([1, 0]))
    >>> len(sc.waves[0].branches)
    2

    Notes
    -----
    One draw of one uniform per candidate (see
    :func:`~gridres.scenarios.elements.weighted_choice`); ``O(n)``.
    """

    grid: Grid
    k: int
    elements: str = "branch"
    weight: str | None = None
    time_h: float = 0.0
    _kind: np.ndarray = field(init=False, repr=False)
    _pos: np.ndarray = field(init=False, repr=False)
    _w: np.ndarray = field(init=False, repr=False)
    _subs: Substations | None = field(init=False, repr=False, default=None)

    def __post_init__(self) -> None:
        who = "random"
        check_param(self.elements in POOLS, "elements", who,
                    "one of " + ", ".join(POOLS), self.elements)
        check_param(isinstance(self.k, int | np.integer) and not isinstance(self.k, bool)
                    and self.k >= 1, "k", who, "an int >= 1", self.k)
        check_param(np.isfinite(self.time_h) and self.time_h >= 0, "time_h", who,
                    "a float >= 0", self.time_h)
        net = self.grid.network
        alive = {
            "buses": net.bus_in_service,
            "branches": net.branch_in_service,
            "generators": net.gen_in_service,
        }
        kinds, pos, weights = [], [], []
        for j, table in enumerate(POOLS[self.elements]):
            if table == "substations":
                subs = substations(self.grid)
                object.__setattr__(self, "_subs", subs)
                ok = subs.in_service
            else:
                ok = alive[table]
            w = element_weights(self.grid, table, self.weight, who)
            idx = np.flatnonzero(ok)
            kinds.append(np.full(len(idx), j))
            pos.append(idx)
            weights.append(w[idx])
        w = np.concatenate(weights)
        n_ok = int((w > 0).sum())
        check_param(self.k <= n_ok, "k", who,
                    f"an int in [1, {n_ok}] (the {self.elements} candidates"
                    + (f" with {self.weight} > 0" if self.weight else "") + ")", self.k)
        object.__setattr__(self, "_kind", np.concatenate(kinds))
        object.__setattr__(self, "_pos", np.concatenate(pos))
        object.__setattr__(self, "_w", w)

    def sample(self, net: Network, rng: np.random.Generator) -> Scenario:
        """Draw ``k`` distinct elements; one wave at ``time_h``."""
        check_network(net, self.grid, "random")
        pick = weighted_choice(rng, self._w, self.k)
        kind, pos = self._kind[pick], self._pos[pick]
        parts: dict[str, np.ndarray] = {"buses": np.zeros(0, np.int64),
                                        "branches": np.zeros(0, np.int64),
                                        "gens": np.zeros(0, np.int64)}
        for j, table in enumerate(POOLS[self.elements]):
            sel = pos[kind == j]
            if table == "substations":
                parts["buses"] = np.concatenate([parts["buses"], self._subs.buses(sel)])
            else:
                parts[{"buses": "buses", "branches": "branches",
                       "generators": "gens"}[table]] = sel
        label = f"random N-{self.k} {self.elements}"
        return Scenario((Wave(self.time_h, **parts),), label)
