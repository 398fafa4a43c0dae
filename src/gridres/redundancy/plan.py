"""An intervention plan, end to end: candidates, their value, a portfolio.

:func:`plan_interventions` scores every candidate (listed ones and, if asked, generated
ones) on the same scenarios (same seeds) with restoration, builds the greedy portfolio
within the budget and returns a :class:`PlanResult`; :meth:`PlanResult.write` saves it
for the report. A study's ``[plan]`` reaches it through
:func:`gridres.study.plan.run_plan` (``gridres plan``, ``gridres run``).
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from gridres.cascade import CascadeOptions
from gridres.ensemble.summary import tail_stats
from gridres.errors import UsageError
from gridres.io.folder import write_path
from gridres.io.jsondoc import jsonable, write_json
from gridres.model import Grid
from gridres.redundancy.candidates import generate_candidates, study_candidates
from gridres.redundancy.costs import CURRENCY, cost_table
from gridres.redundancy.evaluate import PlanEvaluator
from gridres.redundancy.interventions import Intervention
from gridres.redundancy.portfolio import (
    WORST_CASE,
    Step,
    frontier_table,
    greedy_portfolio,
    rank_candidates,
)
from gridres.redundancy.worstcase import Threat, WorstCaseEvaluator
from gridres.restoration.metrics import LOSS_METRICS
from gridres.restoration.settings import RestorationSettings
from gridres.scenarios.base import ScenarioGenerator

__all__ = ["PlanResult", "plan_interventions", "DEFAULT_POLICY"]

logger = logging.getLogger(__name__)

#: Restoration policy of a plan whose study names none.
DEFAULT_POLICY = "greedy"

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, eq=False)
class PlanResult:
    """Everything a plan found.

    Attributes
    ----------
    study : str
        Study name.
    grid : str
        Grid name.
    n, seed : int
        Scenarios and seed (scenario ``i`` is ``default_rng([seed, i])``).
    policy : str
        Restoration policy.
    objective : str
        Metric the portfolio lowers.
    budget : float or None
    candidates : tuple of Intervention
    ranking : pandas.DataFrame
        Each candidate alone (see :func:`~gridres.redundancy.portfolio.rank_candidates`).
    steps : tuple of Step
        The greedy path (portfolio and, past the budget, the rest of the frontier).
    baseline, improved : dict
        Mean of every metric (and ``ens_mwh_cvar95``) in the base case and with the
        portfolio; with a ``threat``, also ``worst_case`` (the attacker's worst damage).
    simulations, reused : int
        Restoration runs simulated, and scenario results copied where exact.
    elapsed_s : float
    cascade : CascadeOptions
        Cascade mode and margin of every restoration.
    threat : Threat or None
        The attacker whose worst case the ranking (and the ``worst_case`` objective)
        measures.
    """

    study: str
    grid: str
    n: int
    seed: int
    policy: str
    objective: str
    budget: float | None
    candidates: tuple[Intervention, ...]
    ranking: pd.DataFrame
    steps: tuple[Step, ...]
    baseline: dict[str, float]
    improved: dict[str, float]
    simulations: int
    reused: int
    elapsed_s: float
    currency: str = CURRENCY
    files: dict[str, Path] = field(default_factory=dict)
    cascade: CascadeOptions = CascadeOptions()
    threat: Threat | None = None

    @property
    def portfolio(self) -> pd.DataFrame:
        """The chosen interventions in order: ``kind``, ``label``, ``cost``,
        ``cumulative_cost``, ``marginal_benefit``, ``benefit`` (cumulative, against the
        base case) with ``ci_low``/``ci_high``; index ``id``."""
        kinds = {c.id: c for c in self.candidates}
        rows = [{"id": s.id, "kind": kinds[s.id].kind, "label": kinds[s.id].label,
                 "cost": s.cost, "cumulative_cost": s.cumulative_cost,
                 "marginal_benefit": s.marginal.drop, "benefit": s.cumulative.drop,
                 "ci_low": s.cumulative.ci_low, "ci_high": s.cumulative.ci_high}
                for s in self.steps if s.within_budget]
        cols = ["kind", "label", "cost", "cumulative_cost", "marginal_benefit", "benefit",
                "ci_low", "ci_high"]
        if not rows:
            return pd.DataFrame(columns=cols, index=pd.Index([], name="id"))
        return pd.DataFrame(rows).set_index("id")[cols]

    @property
    def frontier(self) -> pd.DataFrame:
        """Cumulative cost against benefit along the greedy path (see
        :func:`~gridres.redundancy.portfolio.frontier_table`)."""
        return frontier_table(self.steps, self.objective)

    def to_dict(self) -> dict[str, Any]:
        """The plan as one JSON-ready document.

        ``interventions`` (best benefit per cost first) has at least ``id``, ``kind``,
        ``cost``, ``ens_reduction_mwh``, ``ci_low``, ``ci_high``; ``portfolio`` lists
        the chosen ids in order with ``cost``, ``cumulative_cost`` and the cumulative
        ``benefit`` (drop of the objective) and its interval.
        """
        interventions = [{"id": str(i), **{k: jsonable(v) for k, v in row.items()}}
                         for i, row in self.ranking.iterrows()]
        portfolio = [{"id": str(i), **{k: jsonable(v) for k, v in row.items()}}
                     for i, row in self.portfolio.iterrows()]
        frontier = [{k: jsonable(v) for k, v in row.items()}
                    for _, row in self.frontier.iterrows()]
        return {
            "study": self.study, "grid": self.grid, "n": self.n, "seed": self.seed,
            "policy": self.policy, "objective": self.objective, "budget": jsonable(self.budget),
            "cascade": {"mode": self.cascade.mode, "margin": self.cascade.margin},
            "threat": None if self.threat is None else {
                "k": self.threat.k, "target": self.threat.target,
                "objective": self.threat.objective},
            "currency": self.currency,
            "baseline": {k: jsonable(v) for k, v in self.baseline.items()},
            "improved": {k: jsonable(v) for k, v in self.improved.items()},
            "interventions": interventions,
            "portfolio": portfolio,
            "portfolio_cost": jsonable(float(sum(s.cost for s in self.steps if s.within_budget))),
            "frontier": frontier,
            "simulations": self.simulations, "reused": self.reused,
            "elapsed_s": round(self.elapsed_s, 3),
        }

    def write(self, folder: str | os.PathLike) -> dict[str, Path]:
        """Write ``plan.json``, ``interventions.csv``, ``portfolio.csv`` and
        ``frontier.csv`` into ``folder`` (each file atomically); return their paths."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        files = {"plan.json": write_json(folder / "plan.json", self.to_dict())}
        for name, df in (("interventions.csv", self.ranking), ("portfolio.csv", self.portfolio),
                         ("frontier.csv", self.frontier)):
            with write_path(folder / name) as tmp:
                df.to_csv(tmp, index=name != "frontier.csv")
            files[name] = folder / name
        return files


def plan_interventions(
    grid: Grid,
    generator: ScenarioGenerator,
    settings: RestorationSettings,
    *,
    seed: int,
    n: int,
    policy: str = DEFAULT_POLICY,
    priority: Sequence[str] = (),
    objective: str = "ens_mwh",
    costs: Mapping[str, float] | None = None,
    budget: float | None = None,
    candidates: Sequence[Mapping[str, Any]] = (),
    generate: bool = True,
    max_candidates: int = 20,
    workers: int = 1,
    cascade: CascadeOptions | str | None = None,
    scheduler: Any = None,
    progress: Progress | None = None,
    where: str = "plan.candidates",
    name: str = "",
    outside_c: float | None = None,
    threat: Threat | None = None,
) -> PlanResult:
    """Plan interventions: score each candidate on the same scenarios with restoration,
    then pick a portfolio within the budget.

    Parameters
    ----------
    grid : Grid
    generator : ScenarioGenerator
        The scenarios (scenario ``i`` is drawn from ``default_rng([seed, i])``).
    settings : RestorationSettings
    seed, n : int
        Seed and number of scenarios.
    policy : str
        Restoration policy every design is evaluated under; ``priority-list`` repairs in
        the order of ``priority``.
    priority : sequence of str
    objective : str
        What the portfolio lowers: an expected value (one of
        :data:`gridres.restoration.metrics.LOSS_METRICS`) or ``worst_case``, the
        attacker's worst damage (needs ``threat``; :mod:`gridres.redundancy.worstcase`).
    costs : mapping, optional
        Unit costs (see :func:`gridres.redundancy.cost_table`).
    budget : float, optional
        None: no limit (the portfolio goes on while a pick helps).
    candidates : sequence of mapping
        Candidate tables (``kind`` and its keys).
    generate : bool
        Add candidates generated from the grid and scenarios.
    max_candidates : int
        Bound on generated candidates.
    workers : int
        Worker processes (no result depends on it).
    cascade : CascadeOptions or str, optional
        Cascade mode and margin of every restoration (default mode ``none``); with
        ``trip`` or ``redispatch`` a line that relieves an overload has a benefit.
    scheduler : str or distributed.Client, optional
        ``tcp://HOST:PORT`` of a Dask scheduler (or a client) to simulate on (no result
        depends on it).
    progress : callable, optional
        ``progress(step, done, total)``.
    where : str
        Where the candidates come from, for messages (``plan.candidates``).
    name : str
        Name of the study, recorded in the result.
    outside_c : float, optional
        Outside temperature (°C) for the buildings' heat in the service metrics.
    threat : Threat, optional
        An attacker: every candidate is also ranked by how much it lowers the worst
        damage of the attacker's best strikes (a protected or hardened site cannot be
        struck).

    Returns
    -------
    PlanResult

    Raises
    ------
    UsageError
        On a candidate the grid cannot take (the message names it), a negative budget,
        or no candidate at all.
    """
    t0 = time.perf_counter()
    if n < 1:
        raise UsageError(f"--scenarios must be >= 1, got {n}")
    if budget is not None and (not math.isfinite(budget) or budget < 0):
        raise UsageError(f"--budget must be a number >= 0, got {budget!r}")
    table = cost_table(costs)
    ev = PlanEvaluator(grid, generator, settings, seed=seed, n=n, policy=policy,
                       priority=tuple(priority), workers=workers, scheduler=scheduler,
                       cascade=cascade,
                       progress=(lambda d, t: progress("plan", d, t)) if progress else None,
                       outside_c=outside_c)
    chosen_from = study_candidates(list(candidates), ev.base, table, where=where)
    if generate:
        listed_as = {(c.kind, repr(sorted(c.params.items()))) for c in chosen_from}
        chosen_from += [g for g in generate_candidates(ev.base, generator, table,
                                                       max_candidates=max_candidates,
                                                       exclude=[c.id for c in chosen_from])
                        if (g.kind, repr(sorted(g.params.items()))) not in listed_as]
    if not chosen_from:
        raise UsageError(f"{name or grid.name}: no candidate interventions: list "
                         "[[plan.candidates]] or set generate = true")
    worst = (WorstCaseEvaluator(threat, ev.cascade, workers) if threat is not None
             else None)
    with ev:
        ranking = rank_candidates(ev, chosen_from, objective, worst=worst)
        steps = greedy_portfolio(ev, chosen_from, budget, objective, worst=worst)
        base = ev.base_result()
        chosen = [s.id for s in steps if s.within_budget]
        final = ev.result(chosen)
    baseline = {m: base.mean(m) for m in LOSS_METRICS}
    improved = {m: final.mean(m) for m in LOSS_METRICS}
    if worst is not None:
        baseline[WORST_CASE] = worst.value(ev.design([]))
        improved[WORST_CASE] = worst.value(ev.design(chosen))
    baseline["ens_mwh_cvar95"] = tail_stats(base.values("ens_mwh"))["cvar95"]
    improved["ens_mwh_cvar95"] = tail_stats(final.values("ens_mwh"))["cvar95"]
    return PlanResult(
        study=name, grid=grid.name, n=n, seed=seed, policy=policy, objective=objective,
        budget=budget, candidates=tuple(chosen_from), ranking=ranking, steps=tuple(steps),
        baseline=baseline, improved=improved, simulations=ev.simulations, reused=ev.reused,
        elapsed_s=time.perf_counter() - t0, cascade=ev.cascade, threat=threat)
