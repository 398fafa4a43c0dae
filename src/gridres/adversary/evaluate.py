"""The damage of strike sets, on the engine's own rules: the objectives, their metrics,
and one evaluator for blocks of sets.

Objectives (every row carries the first four; ``ens_mwh`` where it is computed)
-----------------------------------------------------------------------------
``shed_mw``
    Load not served once the struck elements are gone, MW: ``Impact.shed_total_mw`` of
    :func:`gridres.impact.assess` (rules 1-4), after the cascade of the ``cascade``
    option (:func:`gridres.cascade.cascade`, mode ``trip`` or ``redispatch``, with its
    margin).
``people_out``
    People served by critical facilities left without grid power and without backup
    (``Impact.people_out``).
``facilities_dark``
    Number of such facilities (``len(Impact.dark_facilities)``).
``customers_out``
    Customers without power, partly shed buses in proportion (``Impact.customers_out``).
``ens_mwh``
    Energy not served, MWh, while crews repair the struck elements:
    :func:`gridres.restoration.simulate` of one wave at 0 h that fails them, with
    :class:`~gridres.restoration.RestorationSettings` defaults (3 crews, default repair
    hours per kind, spare stock and travel; ``repair_sigma = 0``, so repair times are
    deterministic) and the ``greedy`` policy, against the intact served load, until the
    last repair. As in every restoration, each event is assessed by the engine with the
    attack's cascade option (:mod:`gridres.restoration.simulate`), so
    the energy not served at time 0 is that of the struck state's ``shed_mw``.

All are absolute values of the struck state (any load the intact grid already sheds
counts too), so a constant never changes a ranking.

Two paths, the same numbers
---------------------------
Without a cascade, served load does not depend on flows: a block of ``B`` sets is
evaluated at once on a network of ``B`` disjoint copies of the grid, each with its own
strikes, by :func:`gridres.restoration.supply` (the engine's rules 1-3 via
:func:`gridres.impact.balance`, no DC flow). With a cascade every set goes through
:func:`gridres.cascade.cascade`. The reported rows are always recomputed with
:func:`gridres.impact.assess` or :func:`~gridres.cascade.cascade` itself.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gridres.adversary.targets import Targets
from gridres.cascade import CascadeOptions, cascade
from gridres.errors import UsageError
from gridres.impact import Impact, assess, backup_covers
from gridres.model import Network, State
from gridres.restoration.assets import Assets
from gridres.restoration.simulate import simulate
from gridres.restoration.supply import supply
from gridres.scenarios.base import Scenario

__all__ = ["OBJECTIVES", "METRICS", "Metrics", "SetEvaluator", "ENS_POLICY"]

#: What an attack maximises.
OBJECTIVES = ("shed_mw", "people_out", "facilities_dark", "customers_out", "ens_mwh")
#: Metrics every result row carries, in the order used to break ties.
METRICS = ("shed_mw", "people_out", "facilities_dark", "customers_out", "ens_mwh")
#: Restoration policy behind ``ens_mwh``.
ENS_POLICY = "greedy"

#: Decimals a float metric is rounded to before it is compared: values closer than this
#: are ties (rounding noise of different summation orders stays below it).
DECIMALS = 6

#: Buses per block of the batched path (copies x buses), and per block of the per-set
#: path: blocks of about a tenth of a second, fixed by the grid's size alone so that the
#: blocks (and so every result) never depend on the number of workers.
_KERNEL_BUSES = 131_072
_ENGINE_BUSES = 50_000


@dataclass(frozen=True, eq=False)
class Metrics:
    """Metrics of a block of strike sets, one entry per set.

    Attributes
    ----------
    shed_mw, customers_out : ndarray of float
    people_out, facilities_dark : ndarray of int
    ens_mwh : ndarray of float
        NaN where not computed.
    """

    shed_mw: np.ndarray
    people_out: np.ndarray
    facilities_dark: np.ndarray
    customers_out: np.ndarray
    ens_mwh: np.ndarray

    def __len__(self) -> int:
        return len(self.shed_mw)

    @classmethod
    def concat(cls, parts: list[Metrics]) -> Metrics:
        if not parts:
            return cls.empty()
        return cls(*(np.concatenate([getattr(p, m) for p in parts]) for m in METRICS))

    @classmethod
    def empty(cls) -> Metrics:
        f, i = np.zeros(0), np.zeros(0, dtype=np.int64)
        return cls(f, i, i, f, f)

    def take(self, idx: np.ndarray) -> Metrics:
        return Metrics(*(getattr(self, m)[idx] for m in METRICS))

    def value(self, objective: str) -> np.ndarray:
        """The objective per set, floats rounded to :data:`DECIMALS`."""
        v = getattr(self, objective)
        return np.round(v, DECIMALS) if v.dtype.kind == "f" else v.astype(float)

    def order_keys(self, objective: str) -> list[np.ndarray]:
        """Sort keys, most significant first, smaller is worse damage first: the
        objective, then the other immediate metrics in :data:`METRICS` order, all
        descending (``ens_mwh`` only as the objective: it is not computed otherwise)."""
        keys = [-self.value(objective)]
        keys += [-self.value(m) for m in METRICS if m not in (objective, "ens_mwh")]
        return keys


def rank(metrics: Metrics, sets: np.ndarray, objective: str) -> np.ndarray:
    """Order of the rows of ``sets`` (each sorted ascending), worst damage first.

    Ties on every metric go to the set whose sorted candidate positions come first
    lexicographically (the grid's table order).
    """
    keys = metrics.order_keys(objective)
    cols = [sets[:, j] for j in range(sets.shape[1])] if sets.size else []
    # np.lexsort sorts by the last key first
    return np.lexsort(tuple(reversed(keys + cols)))


class SetEvaluator:
    """Evaluates blocks of strike sets (rows of candidate positions) on the engine's rules.

    Picklable: a process pool's workers receive it once. Holds the network, the
    candidates, the state the strikes fall on, the cascade option, and (for ``ens_mwh``)
    the restoration assets.

    Parameters
    ----------
    net : Network
    targets : Targets
    cascade : CascadeOptions or str, optional
        Cascade mode, margin and stage bound (default mode ``none``), as everywhere in
        the API (:class:`gridres.cascade.CascadeOptions`).
    base : State, optional
        State the strikes fall on (default intact).
    assets : Assets, optional
        Restoration assets (from :func:`gridres.restoration.prepare`); needed for
        ``ens_mwh``.
    ens : bool
        Compute ``ens_mwh`` for every set (a restoration simulation each).
    """

    def __init__(self, net: Network, targets: Targets, *,
                 cascade: CascadeOptions | str | None = None, base: State | None = None,
                 assets: Assets | None = None, ens: bool = False) -> None:
        if ens and assets is None:
            raise UsageError("ens_mwh needs restoration assets")
        self.net = net
        self.targets = targets
        self.cascade = CascadeOptions.of(cascade)
        self.mode = self.cascade.mode
        self.base = base if base is not None else net.intact()
        self.assets = assets
        self.ens = ens
        self.batched = self.mode == "none"
        per = _KERNEL_BUSES if self.batched else _ENGINE_BUSES
        self.chunk = int(max(4, min(2048, per // max(net.n_bus, 1))))
        self._tiled: dict[int, Network] = {}
        load = np.where(net.bus_in_service, np.maximum(net.load_mw, 0.0), 0.0)
        self._load = load
        self._customers = np.where(net.bus_in_service, net.customers, 0).astype(float)
        self._covered = backup_covers(net)

    def with_ens(self, ens: bool) -> SetEvaluator:
        """The same evaluator, computing ``ens_mwh`` or not."""
        out = SetEvaluator.__new__(SetEvaluator)
        out.__dict__.update(self.__dict__)
        out.ens = ens
        out._tiled = {}
        return out

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_tiled"] = {}  # rebuilt on first use
        return state

    def __call__(self, sets: np.ndarray) -> Metrics:
        """Metrics of every row of ``sets`` (shape (m, k), candidate positions)."""
        sets = np.asarray(sets, dtype=np.int64)
        if self.batched:
            out = Metrics.concat([self._batched(sets[i:i + self.chunk])
                                  for i in range(0, len(sets), self.chunk)])
        else:
            out = Metrics.concat([self.metrics(self.impact(row)) for row in sets])
        if self.ens:
            out = dataclasses.replace(out, ens_mwh=np.array([self.ens_mwh(r) for r in sets]))
        return out

    # -- one set through the engine itself ------------------------------------------------
    def impact(self, members: np.ndarray) -> Impact:
        """The engine's assessment of one strike set (after the cascade, if any)."""
        state = self.targets.state(members, self.base)
        if self.mode == "none":
            return assess(self.net, state)
        c = self.cascade
        return cascade(self.net, state, mode=c.mode, margin=c.margin,
                       max_stages=c.max_stages).final

    @staticmethod
    def metrics(imp: Impact) -> Metrics:
        return Metrics(np.array([imp.shed_total_mw]), np.array([imp.people_out]),
                       np.array([len(imp.dark_facilities)]), np.array([imp.customers_out]),
                       np.array([np.nan]))

    def ens_mwh(self, members: np.ndarray) -> float:
        """Energy not served over the restoration of one strike set (module notes)."""
        (_, b), (_, br), (_, g) = self.targets.elements(np.asarray(members)[None])
        res = simulate(self.net, self.assets, Scenario.single(b, br, g), ENS_POLICY, seed=0,
                       cascade=self.cascade)
        return float(res.metrics["ens_mwh"])

    # -- a block of sets on disjoint copies -----------------------------------------------
    def _batched(self, sets: np.ndarray) -> Metrics:
        # as many copies as sets, rounded up to a power of two (a search asks for few
        # sets at a time): each copy is independent, so the size never changes a result
        net = self.net
        copies = min(self.chunk, 1 << max(len(sets) - 1, 0).bit_length())
        if copies not in self._tiled:
            self._tiled[copies] = tile(net, copies)
        n, m, g = net.n_bus, net.n_branch, net.n_gen
        bus = np.tile(self.base.bus, copies)
        branch = np.tile(self.base.branch, copies)
        gen = np.tile(self.base.gen, copies)
        (rb, pb), (rl, pl), (rg, pg) = self.targets.elements(sets)
        bus[rb * n + pb] = False
        branch[rl * m + pl] = False
        gen[rg * g + pg] = False
        s = supply(self._tiled[copies], State(bus, branch, gen))
        rows = len(sets)
        served = s.served_mw.reshape(copies, n)[:rows]
        energized = s.energized.reshape(copies, n)[:rows]
        shed = self._load - served
        frac = np.divide(shed, self._load, out=np.zeros_like(shed), where=self._load > 0)
        frac = np.where(energized, frac, 1.0)
        dark = ~s.fac_grid.reshape(copies, -1)[:rows] & ~self._covered
        return Metrics(shed.sum(axis=1), (dark * net.fac_people).sum(axis=1).astype(np.int64),
                       dark.sum(axis=1).astype(np.int64), (frac * self._customers).sum(axis=1),
                       np.full(rows, np.nan))


def tile(net: Network, copies: int) -> Network:
    """A network of ``copies`` disjoint copies of ``net``: copy ``c`` holds buses
    ``c * n_bus .. (c + 1) * n_bus - 1`` and likewise for every element.

    Examples
    --------
    >>> from gridres.io import load_grid
    >>> net = load_grid("ieee14").network
    >>> two = tile(net, 2)
    >>> two.n_bus, int(two.f[net.n_branch]) == int(net.f[0]) + net.n_bus
    (28, True)
    """
    values = {f.name: getattr(net, f.name) for f in dataclasses.fields(net)}
    for name, value in values.items():
        if isinstance(value, np.ndarray):
            values[name] = np.tile(value, copies)
        elif isinstance(value, pd.Index):
            values[name] = pd.RangeIndex(len(value) * copies)
    offset = {"f": net.n_bus, "t": net.n_bus, "gen_bus": net.n_bus, "fac_bus": net.n_bus}
    for name, size in offset.items():
        per = len(getattr(net, name))
        values[name] = values[name] + np.repeat(np.arange(copies, dtype=np.int64) * size, per)
    return Network(**values)
