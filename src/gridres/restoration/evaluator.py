"""Policies compared on the same scenarios: one outage under one policy (:func:`restore`)
or several (:func:`compare`), or every scenario of an ensemble
(:class:`RestorationEvaluator`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gridres.cascade import CascadeOptions
from gridres.elements import as_state
from gridres.errors import UsageError
from gridres.model import Grid, Network, State
from gridres.restoration.assets import Assets, prepare
from gridres.restoration.demand import Timeline, policy_runs
from gridres.restoration.interface import RestorationResult
from gridres.restoration.metrics import FIELDS, record_fields
from gridres.restoration.policies import get_policy, needs_priority
from gridres.restoration.settings import RestorationSettings
from gridres.restoration.simulate import repair_multipliers, simulate
from gridres.scenarios.base import Scenario

__all__ = ["RestorationEvaluator", "compare", "restore"]

#: What an outage argument may be: a scenario, a state, or element tokens.
Outage = Scenario | State | str | Iterable[str]


def _scenario(grid: Grid, outage: Outage) -> Scenario:
    if isinstance(outage, Scenario):
        return outage
    return Scenario.from_state(grid.network, as_state(grid, outage))


def _policies(policies: Iterable[str], priority: Sequence[str] | None) -> list[tuple[str, Any]]:
    out = []
    seen = set()
    for name in policies:
        if name in seen:
            continue
        seen.add(name)
        out.append((name, get_policy(name, priority)))
    if not out:
        raise UsageError("give at least one restoration policy (e.g. --policy greedy)")
    return out


def compare(
    grid: Grid,
    scenario: Outage,
    policies: Iterable[str] = ("greedy",),
    settings: RestorationSettings | None = None,
    seed: int | np.random.Generator | None = None,
    *,
    priority: Sequence[str] | None = None,
    assets: Assets | None = None,
    cascade: CascadeOptions | str | None = None,
    timeline: Timeline | None = None,
) -> dict[str, RestorationResult]:
    """Simulate one scenario under several policies with the same repair times.

    Parameters
    ----------
    grid : Grid
    scenario : Scenario, State or iterable of str
        The outage: a scenario (waves of failures), a state, or element tokens
        (``"branch:L7"``, ``"substation:NAME"``) failed at time 0.
    policies : iterable of str
        Policy names (see :func:`gridres.restoration.policies.policy_names`).
    settings : RestorationSettings, optional
    seed : int or Generator, optional
        Needed when ``settings.repair_sigma > 0``; repair times are drawn once and shared
        by every policy.
    priority : sequence of str, optional
        Element tokens for ``priority-list``.
    assets : Assets, optional
        Prepared assets (default ``prepare(grid, settings)``; prepare them with
        ``outside_c`` for another outside temperature).
    cascade : CascadeOptions or str, optional
        Cascade mode and margin of every assessment (default mode ``none``), as
        ``gridres outage --cascade-mode``.
    timeline : Timeline, optional
        Demand and capacity by the hour (:func:`gridres.restoration.demand.timeline`);
        with a rotation, every policy also runs rotating groups, as ``POLICY+rotation``.

    Returns
    -------
    dict of str to RestorationResult
        In the order of ``policies`` (then their rotating runs).
    """
    scenario = _scenario(grid, scenario)
    assets = assets or prepare(grid, settings)
    mult = repair_multipliers(scenario, assets.settings.repair_sigma,
                              seed if assets.settings.repair_sigma > 0 else 0)
    cascade = CascadeOptions.of(cascade)
    fns = dict(_policies(policies, priority))
    return {
        name: simulate(grid.network, assets, scenario, fns[policy], multipliers=mult,
                       cascade=cascade, timeline=tl)
        for name, policy, tl in policy_runs(list(fns), timeline)
    }


def restore(
    grid: Grid,
    outage: Outage,
    policy: str = "greedy",
    settings: RestorationSettings | None = None,
    seed: int | np.random.Generator | None = None,
    *,
    priority: Sequence[str] | None = None,
    cascade: CascadeOptions | str | None = None,
    timeline: Timeline | None = None,
) -> RestorationResult:
    """Restore one outage under one policy: :func:`compare` with a single policy (with a
    rotation in ``timeline``, the rotating run).

    Examples
    --------
    >>> from gridres.io import load_grid
    >>> res = restore(load_grid("ieee14"), ["branch:1", "branch:2"], "greedy",
    ...               RestorationSettings(crews=1))
    >>> res.metrics["repairs"]
    2
    """
    runs = compare(grid, outage, (policy,), settings, seed, priority=priority,
                   cascade=cascade, timeline=timeline)
    return runs[policy_runs([policy], timeline)[-1][0]]


@dataclass(frozen=True)
class RestorationEvaluator:
    """Ensemble evaluator: restoration of each scenario under every policy.

    A picklable callable ``evaluate(net, scenario, rng) -> dict`` for
    :mod:`gridres.ensemble`. Repair-time factors are drawn once per scenario from
    ``rng`` and shared by every policy, so policies are compared on the same scenarios
    and the same repair times (common random numbers).

    Parameters
    ----------
    assets : Assets
        From :func:`gridres.restoration.assets.prepare` (carries the settings); build
        with :meth:`for_grid`.
    policies : tuple of str
        Policy names.
    priority : tuple of str
        Element tokens for ``priority-list``.
    impact : callable, optional
        Another evaluator whose fields are added to each record, typically
        :class:`gridres.ensemble.ImpactEvaluator` (the final state after every wave,
        cascades included), so that an ensemble's summary keeps its shed-load and
        facility statistics. It is called first; it must not draw from ``rng``
        (``ImpactEvaluator`` does not), so the repair times stay those of a run without
        it. Give it the same cascade option as ``cascade``.
    cascade : CascadeOptions or str, optional
        Cascade mode and margin of every assessment of the simulation (default mode
        ``none``).
    timeline : Timeline, optional
        Demand and capacity by the hour, and rotation
        (:func:`gridres.restoration.demand.timeline`); with a rotation every policy is
        recorded twice, shedding (``P``) and rotating (``P+rotation``).

    Record fields
    -------------
    For every policy ``P`` and metric ``m`` of :data:`~gridres.restoration.metrics.FIELDS`
    (``ens_mwh``, ``customer_hours``, ``facility_hours_dark``, ``people_hours``,
    ``t50_h``, ``t90_h``, ``t100_h``, ``waves_stock_lasted``,
    ``service_people_hours_{S}`` for power and every service): ``m__P`` (float; ``t*_h``
    NaN when not reached within the horizon). Plus ``notes__P`` (str, ``;``-joined).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from gridres.model import Grid
    >>> g = Grid(buses=pd.DataFrame({"id": ["s", "a"], "ref": [True, False],
    ...                              "load_mw": [0.0, 10.0]}),
    ...          branches=pd.DataFrame({"id": ["l1"], "from_bus": ["s"], "to_bus": ["a"],
    ...                                 "x_pu": [0.1], "length_km": [10.0]}),
    ...          generators=pd.DataFrame({"id": ["g"], "bus": ["s"], "pmax_mw": [50.0]}))
    >>> ev = RestorationEvaluator.for_grid(g, policies=("greedy", "as-listed"))
    >>> rec = ev(g.network, Scenario.single(branches=[0]), np.random.default_rng(0))
    >>> rec["ens_mwh__greedy"], rec["t100_h__as-listed"]
    (60.0, 6.0)
    """

    assets: Assets
    policies: tuple[str, ...] = ("greedy",)
    priority: tuple[str, ...] = ()
    impact: Any = None
    cascade: CascadeOptions = CascadeOptions()
    timeline: Timeline | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "cascade", CascadeOptions.of(self.cascade))
        object.__setattr__(self, "policies", tuple(dict.fromkeys(self.policies)))
        object.__setattr__(self, "priority", tuple(self.priority))
        _policies(self.policies, self.priority if needs_priority(self.policies) else None)

    @classmethod
    def for_grid(
        cls,
        grid: Grid,
        settings: RestorationSettings | None = None,
        policies: Iterable[str] = ("greedy",),
        priority: Iterable[str] = (),
        impact: Any = None,
        cascade: CascadeOptions | str | None = None,
        outside_c: float | None = None,
        timeline: Timeline | None = None,
    ) -> RestorationEvaluator:
        """The evaluator for ``grid`` (repair hours, locations and services read from it;
        ``outside_c`` the outside temperature for the buildings' heat; ``timeline``
        demand and capacity by the hour)."""
        return cls(prepare(grid, settings, outside_c=outside_c), tuple(policies),
                   tuple(priority), impact, CascadeOptions.of(cascade), timeline)

    def __repr__(self) -> str:
        return (f"RestorationEvaluator(grid={self.assets.grid_name!r}, "
                f"policies={list(self.policies)!r}, priority={list(self.priority)!r}, "
                f"settings={self.assets.settings!r}, impact={self.impact!r}, "
                f"cascade={self.cascade!r}, timeline={self.timeline!r})")

    @property
    def runs(self) -> list[str]:
        """Names of the runs recorded per scenario (policies, then rotating runs)."""
        return [name for name, _, _ in policy_runs(self.policies, self.timeline)]

    def fields(self) -> list[str]:
        """Record columns this evaluator adds."""
        return [f"{m}__{p}" for p in self.runs for m in FIELDS] + [
            f"notes__{p}" for p in self.runs]

    def __call__(self, net: Network, scenario: Scenario,
                 rng: np.random.Generator) -> dict[str, Any]:
        if not self.assets.matches(net):
            raise UsageError(f"the restoration assets were prepared for grid "
                             f"{self.assets.grid_name!r}, not for network {net.name!r}; "
                             "build the evaluator with RestorationEvaluator.for_grid(grid)")
        rec: dict[str, Any] = dict(self.impact(net, scenario, rng)) if self.impact else {}
        s = self.assets.settings
        mult = repair_multipliers(scenario, s.repair_sigma, rng)
        pri = self.priority if needs_priority(self.policies) else None
        fns = dict(_policies(self.policies, pri))
        results = {name: simulate(net, self.assets, scenario, fns[policy], multipliers=mult,
                                  cascade=self.cascade, timeline=tl)
                   for name, policy, tl in policy_runs(self.policies, self.timeline)}
        rec.update(record_fields(results))
        for name, res in results.items():
            rec[f"notes__{name}"] = ";".join(res.notes)
        return rec

