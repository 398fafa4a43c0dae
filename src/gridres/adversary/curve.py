"""``attack_curve``: how much worse a thinking attacker is than bad luck, for ``k = 1..K``.

For each ``k`` the worst ``k`` strikes (:func:`gridres.adversary.attack`, top 1) stand beside
the damage of ``n_random`` random ``k``-element failures of the same kind: the scenario
generator ``random:k=K,elements=TARGET`` (uniform over every in-service element of the
kind; random failures do not respect ``protect`` or ``exclude``) run by the ensemble
machinery (:func:`gridres.ensemble.run_ensemble`) with the same engine rules and cascade
mode. Scenario ``i`` of ``k`` draws from ``default_rng([seed + k, i])``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gridres.adversary.core import AttackResult, as_grid, attack
from gridres.adversary.evaluate import ENS_POLICY
from gridres.cascade import CascadeOptions
from gridres.ensemble import ImpactEvaluator, run_ensemble
from gridres.errors import UsageError
from gridres.model import Grid
from gridres.restoration.evaluator import RestorationEvaluator
from gridres.restoration.settings import RestorationSettings
from gridres.scenarios.spec import scenario_from_spec

__all__ = ["CurvePoint", "CurveResult", "attack_curve"]


@dataclass(frozen=True)
class CurvePoint:
    """One ``k`` of the curve.

    Attributes
    ----------
    k : int
    worst : float
        The objective of the worst ``k`` strikes found.
    elements : tuple of str
        That set.
    optimal : bool
        The worst set is proven worst.
    random_mean, random_p95, random_max : float
        Mean, 95th percentile and maximum of the objective over the random failures.
    ratio : float or None
        ``worst / random_mean`` (None when the random mean is 0).
    """

    k: int
    worst: float
    elements: tuple[str, ...]
    optimal: bool
    random_mean: float
    random_p95: float
    random_max: float
    ratio: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"k": self.k, "worst": round(self.worst, 6), "elements": list(self.elements),
                "optimal": self.optimal, "random_mean": round(self.random_mean, 6),
                "random_p95": round(self.random_p95, 6), "random_max": round(self.random_max, 6),
                "ratio": None if self.ratio is None else round(self.ratio, 6)}


@dataclass(frozen=True, eq=False)
class CurveResult:
    """What :func:`attack_curve` returns: one :class:`CurvePoint` per ``k``, and the
    attacks behind them."""

    grid: str
    target: str
    objective: str
    cascade: CascadeOptions
    n_random: int
    seed: int
    points: tuple[CurvePoint, ...]
    attacks: tuple[AttackResult, ...]

    def table(self) -> pd.DataFrame:
        """One row per ``k`` (elements joined by ``+``): a table, or the data of a figure
        of worst and random damage against ``k``."""
        rows = [p.to_dict() for p in self.points]
        for r in rows:
            r["elements"] = "+".join(r["elements"])
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        return {"grid": self.grid, "target": self.target, "objective": self.objective,
                "cascade_mode": self.cascade.mode, "margin": self.cascade.margin,
                "n_random": self.n_random,
                "seed": self.seed, "points": [p.to_dict() for p in self.points]}


def _random_values(grid: Grid, k: int, target: str, objective: str,
                   cascade: CascadeOptions, n: int, seed: int,
                   workers: int | None, scheduler: Any = None) -> np.ndarray:
    """The objective of ``n`` random ``k``-element failures, by the ensemble runner."""
    gen = scenario_from_spec(f"random:k={k},elements={target}", grid)
    impact = ImpactEvaluator(cascade)
    evaluator: Any = impact
    if objective == "ens_mwh":
        evaluator = RestorationEvaluator.for_grid(grid, RestorationSettings(), (ENS_POLICY,),
                                                  impact=impact, cascade=cascade)
    res = run_ensemble(grid, gen, n, seed, workers=workers, scheduler=scheduler,
                       evaluator=evaluator,
                       scenario_spec=f"random:k={k},elements={target}")
    rec = res.records
    if objective == "ens_mwh":
        return rec[f"ens_mwh__{ENS_POLICY}"].to_numpy(float)
    if objective == "facilities_dark":
        return rec["dark_facilities"].fillna("").map(
            lambda s: len([x for x in str(s).split(";") if x])).to_numpy(float)
    return rec[objective].to_numpy(float)


def attack_curve(
    grid: Grid | str | os.PathLike,
    k_max: int,
    *,
    target: str = "substation",
    objective: str = "shed_mw",
    cascade: CascadeOptions | str | None = None,
    exclude: Iterable[str] = (),
    protect: Iterable[str] = (),
    n_random: int = 1000,
    budget: int | None = None,
    seed: int = 0,
    workers: int | None = 1,
    scheduler: Any = None,
    known: AttackResult | None = None,
) -> CurveResult:
    """Worst ``k`` strikes beside random ``k``-element failures, ``k = 1 .. k_max``.

    Parameters
    ----------
    grid : Grid or str or path-like
    k_max : int
    target, objective, cascade, exclude, protect, budget, seed, workers, scheduler
        As for :func:`gridres.adversary.attack`.
    n_random : int
        Random failures per ``k``.
    known : AttackResult, optional
        The attack at ``k_max`` with these arguments, already made: its worst set is
        used instead of a new search.

    Returns
    -------
    CurveResult

    Examples
    --------
    >>> c = attack_curve("ieee14", 2, target="bus", n_random=50)
    >>> [p.k for p in c.points], all(p.worst >= p.random_max for p in c.points)
    ([1, 2], True)
    """
    grid = as_grid(grid)
    opts = CascadeOptions.of(cascade)
    if isinstance(k_max, bool) or not isinstance(k_max, int) or k_max < 1:
        raise UsageError(f"The 'k_max' parameter of attack_curve must be an int >= 1. "
                         f"Got {k_max!r} instead.")
    if isinstance(n_random, bool) or not isinstance(n_random, int) or n_random < 1:
        raise UsageError(f"The 'n_random' parameter of attack_curve must be an int >= 1. "
                         f"Got {n_random!r} instead.")
    if known is not None and (known.k, known.target, known.objective, known.cascade) != (
            k_max, target, objective, opts):
        raise UsageError("attack_curve: the known attack was made with other arguments "
                         f"(k={known.k}, target {known.target}, objective {known.objective})")
    points, attacks = [], []
    for k in range(1, k_max + 1):
        res = known if known is not None and k == k_max else attack(
            grid, k, target=target, objective=objective, cascade=opts, exclude=exclude,
            protect=protect, top=1, budget=budget, seed=seed, workers=workers,
            scheduler=scheduler)
        values = _random_values(grid, k, target, objective, opts, n_random, seed + k,
                                workers, scheduler)
        mean = float(values.mean())
        points.append(CurvePoint(
            k=k, worst=res.value, elements=res.best.elements, optimal=res.optimal,
            random_mean=mean, random_p95=float(np.quantile(values, 0.95)),
            random_max=float(values.max()),
            ratio=None if mean <= 0 or not math.isfinite(mean) else res.value / mean,
        ))
        attacks.append(res)
    return CurveResult(grid.name, target, objective, opts, n_random, seed, tuple(points),
                       tuple(attacks))
