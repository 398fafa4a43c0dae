"""What an ensemble records for each scenario: the :class:`Evaluator` protocol and the
default :class:`ImpactEvaluator`.

An evaluator is a picklable callable ``evaluate(net, scenario, rng) -> dict``. The
runner calls it once per scenario, in a worker process, with the compiled network, the
drawn :class:`~gridres.scenarios.base.Scenario` and the scenario's own random stream
(the one the scenario was drawn from, continued), and stores the returned values as one
row of the results.

Values must be scalars (``int``, ``float``, ``bool``, ``str``); a list or tuple of
strings is stored as one string with items separated by ``;``. The optional key
:data:`BUS_COUNTS` maps a name to the bus positions that count for this scenario (for
example ``{"dark": [3, 17]}``); the runner does not store these per scenario but adds
them up per batch, so that the probability of, say, loss of supply at every bus costs one
small table per batch instead of a list per scenario.

Record columns
--------------
Added by the runner for every evaluator:

``scenario`` (int)
    Scenario index ``i``; its random stream is ``numpy.random.default_rng([seed, i])``.
``label`` (str)
    The scenario's label.
``n_waves`` (int), ``n_failed`` (int), ``failed`` (str)
    Waves, and the elements failed by the scenario itself (all waves), written as
    ``KIND:ID`` items joined by ``;`` (``bus:7;branch:12;gen:3``), the syntax of
    ``gridres outage --fail``. Waves chosen at their time (an adaptive attacker) count
    as :meth:`~gridres.scenarios.base.Scenario.realised` picks them, with nothing
    repaired in between; a restoration's own strikes are in its results.

Added by :class:`ImpactEvaluator` (the final state after every wave):

``served_mw``, ``shed_mw`` (float)
    Load served and not served, MW.
``customers_out`` (float)
    Customers without power (partly shed buses count in proportion), rounded to a whole
    number; NaN where the grid has no customer data (MATPOWER cases).
``people_out`` (int)
    People at critical facilities that have neither grid power nor backup.
``islands`` (int), ``dark_buses`` (int)
    Islands of alive buses; in-service buses without supply (failed or in an island
    without capacity).
``max_loading`` (float)
    Largest ``|flow| / rating`` after the cascade (or redispatch).
``cascade_stages`` (int), ``n_tripped`` (int), ``tripped`` (str)
    Cascade stages, and the branches they tripped (``branch:ID`` joined by ``;``).
``dark_facilities`` (str)
    Ids of facilities that went dark, joined by ``;``.

and the per-batch bus count ``dark`` (in-service buses without supply).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from gridres.cascade import CascadeOptions, settle
from gridres.model import Network, customer_count
from gridres.scenarios.base import Scenario

__all__ = ["BUS_COUNTS", "SEP", "Evaluator", "ImpactEvaluator", "join_ids", "failed_elements"]

#: Key of an evaluator's result that holds per-bus counts (name -> bus positions).
BUS_COUNTS = "bus_counts"

#: Separator of ids inside one record value.
SEP = ";"


@runtime_checkable
class Evaluator(Protocol):
    """Turns one scenario into one record (a flat mapping of scalars).

    Implementations must be picklable (module-level classes, frozen dataclasses) and
    deterministic given ``rng``; their ``repr`` goes into the ensemble's manifest, so a
    resumed run refuses an evaluator with different parameters.
    """

    def __call__(
        self, net: Network, scenario: Scenario, rng: np.random.Generator
    ) -> Mapping[str, Any]:  # pragma: no cover - protocol
        ...


def join_ids(kind: str, ids: Iterable[str]) -> str:
    """``KIND:ID`` items joined by ``;``.

    Examples
    --------
    >>> join_ids("branch", ["12", "40"])
    'branch:12;branch:40'
    """
    return SEP.join(f"{kind}:{i}" for i in ids)


def failed_elements(net: Network, scenario: Scenario) -> tuple[int, str]:
    """Number of elements a scenario fails (over all its waves) and their ``KIND:ID``
    string, buses first, then branches, then generators, each in network order (chosen
    waves as :meth:`~gridres.scenarios.base.Scenario.realised` picks them)."""
    waves = scenario.realised(net).waves
    if not waves:
        return 0, ""
    buses = np.unique(np.concatenate([w.buses for w in waves]))
    branches = np.unique(np.concatenate([w.branches for w in waves]))
    gens = np.unique(np.concatenate([w.gens for w in waves]))
    parts = [
        join_ids("bus", net.bus_ids[buses]),
        join_ids("branch", net.branch_ids[branches]),
        join_ids("gen", net.gen_ids[gens]),
    ]
    return len(buses) + len(branches) + len(gens), SEP.join(p for p in parts if p)


def _customers(value: float, net: Network) -> float:
    count = customer_count(value, net.has_customers)
    return math.nan if count is None else float(count)


@dataclass(frozen=True)
class ImpactEvaluator:
    """Assess each scenario's final state with the engine under one cascade option
    (:func:`gridres.cascade.settle`).

    Parameters
    ----------
    cascade : CascadeOptions or str, optional
        Mode and margin (default mode ``none``, margin 0): ``none`` reports overloads
        and trips nothing; ``trip``: overloaded branches trip until none is left (no
        operator action); ``redispatch``: generation is redispatched and load shed at
        least cost before tripping what stays overloaded (:mod:`gridres.cascade`). A
        mode name stands for that mode with margin 0.

    Examples
    --------
    >>> import numpy as np
    >>> from gridres.io import load_grid
    >>> from gridres.scenarios.base import Scenario
    >>> net = load_grid("ieee14").network
    >>> ev = ImpactEvaluator("trip")
    >>> rec = ev(net, Scenario.single(branches=[0]), np.random.default_rng(0))
    >>> rec["islands"], rec["cascade_stages"] >= 0
    (1, True)
    """

    cascade: CascadeOptions = CascadeOptions()

    def __post_init__(self) -> None:
        object.__setattr__(self, "cascade", CascadeOptions.of(self.cascade))

    def __call__(
        self, net: Network, scenario: Scenario, rng: np.random.Generator
    ) -> dict[str, Any]:
        imp = settle(net, scenario.final_state(net), self.cascade)
        dark_bus = np.flatnonzero(net.bus_in_service & ~imp.energized)
        tripped = (
            np.unique(np.concatenate(imp.stages)) if imp.stages else np.zeros(0, dtype=np.int64)
        )
        return {
            "served_mw": imp.served_total_mw,
            "shed_mw": imp.shed_total_mw,
            "customers_out": _customers(imp.customers_out, net),
            "people_out": imp.people_out,
            "islands": imp.n_islands,
            "dark_buses": len(dark_bus),
            "max_loading": imp.max_loading,
            "cascade_stages": len(imp.stages),
            "n_tripped": len(tripped),
            "tripped": join_ids("branch", net.branch_ids[tripped]),
            "dark_facilities": SEP.join(net.fac_ids[imp.dark_facilities]),
            BUS_COUNTS: {"dark": dark_bus},
        }
