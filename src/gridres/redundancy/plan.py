"""A study's intervention plan, end to end: candidates, their value, a portfolio.

:func:`run_plan` reads a study file (its grid, scenarios, restoration settings and
``[plan]`` table), scores every candidate on the study's scenarios (same seeds) with
restoration, builds the greedy portfolio within the budget and returns a
:class:`PlanResult`; :meth:`PlanResult.write` saves it for the report. ``gridres plan``
and ``gridres run`` (through :func:`plan_study`) call it.

What a study without a ``[plan]`` table gets: generated candidates, objective
``ens_mwh``, default costs, and the budget given on the command line (none: the
portfolio goes on while a pick helps).

Restoration policy: ``[plan] policy``, else the first policy of ``[restoration]
policies``, else ``greedy``; ``priority-list`` repairs in the order of ``[restoration]
priority``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from gridres.errors import UsageError
from gridres.redundancy.candidates import generate_candidates, study_candidates
from gridres.redundancy.costs import CURRENCY, cost_table
from gridres.redundancy.evaluate import METRICS, PlanEvaluator
from gridres.redundancy.interventions import Intervention
from gridres.redundancy.portfolio import (
    Step,
    frontier_table,
    greedy_portfolio,
    rank_candidates,
)

__all__ = ["PlanResult", "run_plan", "plan_study", "DEFAULT_POLICY"]

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
        portfolio.
    simulations, reused : int
        Restoration runs simulated, and scenario results copied where exact.
    elapsed_s : float
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
        def clean(v: Any) -> Any:
            if isinstance(v, float) and not math.isfinite(v):
                return None
            if hasattr(v, "item"):
                return clean(v.item())
            return v

        interventions = [{"id": str(i), **{k: clean(v) for k, v in row.items()}}
                         for i, row in self.ranking.iterrows()]
        portfolio = [{"id": str(i), **{k: clean(v) for k, v in row.items()}}
                     for i, row in self.portfolio.iterrows()]
        frontier = [{k: clean(v) for k, v in row.items()}
                    for _, row in self.frontier.iterrows()]
        return {
            "study": self.study, "grid": self.grid, "n": self.n, "seed": self.seed,
            "policy": self.policy, "objective": self.objective, "budget": clean(self.budget),
            "currency": self.currency,
            "baseline": {k: clean(v) for k, v in self.baseline.items()},
            "improved": {k: clean(v) for k, v in self.improved.items()},
            "interventions": interventions,
            "portfolio": portfolio,
            "portfolio_cost": clean(float(sum(s.cost for s in self.steps if s.within_budget))),
            "frontier": frontier,
            "simulations": self.simulations, "reused": self.reused,
            "elapsed_s": round(self.elapsed_s, 3),
        }

    def outcome(self):
        """The plan as :class:`gridres.study.results.PlanOutcome` for the study report
        (see :func:`gridres.study.results.plan_outcome`)."""
        from gridres.study.results import plan_outcome

        return plan_outcome(self)

    def write(self, folder: str | os.PathLike) -> dict[str, Path]:
        """Write ``plan.json``, ``interventions.csv``, ``portfolio.csv`` and
        ``frontier.csv`` into ``folder`` (each file atomically); return their paths."""
        from gridres.io.folder import write_path

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        files = {}
        with write_path(folder / "plan.json") as tmp:
            tmp.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n",
                           encoding="utf-8")
        files["plan.json"] = folder / "plan.json"
        for name, df in (("interventions.csv", self.ranking), ("portfolio.csv", self.portfolio),
                         ("frontier.csv", self.frontier)):
            with write_path(folder / name) as tmp:
                df.to_csv(tmp, index=name != "frontier.csv")
            files[name] = folder / name
        return files


def _generator(generators: tuple[Any, ...]) -> Any:
    if len(generators) == 1:
        return generators[0]
    from gridres.scenarios.waves import WaveSequence

    return WaveSequence([(0.0, g) for g in generators])


def _workers(study: Any, override: int | None) -> int:
    if override is not None:
        return int(override)
    e = study.ensemble
    if e.scheduler == "serial":
        return 1
    if e.workers == "auto" or e.scheduler.startswith("tcp://"):
        return os.cpu_count() or 1
    return int(e.workers)


def run_plan(
    study: Any,
    *,
    budget: float | None = None,
    n: int | None = None,
    workers: int | None = None,
    generate: bool | None = None,
    max_candidates: int | None = None,
    progress: Progress | None = None,
) -> PlanResult:
    """Plan the interventions of a study.

    Parameters
    ----------
    study : Study or path
        A study file (checked against its grid first) or a loaded study.
    budget : float, optional
        Instead of ``[plan] budget``.
    n : int, optional
        Scenarios instead of ``ensemble.n`` (also the ``GRIDRES_STUDY_N`` environment
        variable).
    workers : int, optional
        Worker processes instead of the study's (no result depends on it).
    generate : bool, optional
        Add generated candidates (default ``[plan] generate``, or when the study lists
        none).
    max_candidates : int, optional
        Bound on generated candidates (default ``[plan] max_candidates``, 20).
    progress : callable, optional
        ``progress(step, done, total)``.

    Returns
    -------
    PlanResult

    Raises
    ------
    StudyError, InputNotFound
        If the study has problems (exit codes 65, 66).
    UsageError
        On a candidate the grid cannot take (the message names it).
    """
    from gridres.restoration import RestorationSettings
    from gridres.study.core import Study, analyse_study, raise_problems
    from gridres.study.run import ENV_SCENARIOS

    t0 = time.perf_counter()
    path = study.path if isinstance(study, Study) else study
    checked = analyse_study(path, deep=True)
    raise_problems(checked)
    st = study if isinstance(study, Study) else checked.study
    env_n = os.environ.get(ENV_SCENARIOS)
    if n is None and env_n:
        try:
            n = int(env_n)
        except ValueError:
            raise UsageError(f"{ENV_SCENARIOS}={env_n!r}: give a whole number of scenarios"
                             ) from None
    n = int(n if n is not None else st.ensemble.n)
    if n < 1:
        raise UsageError(f"--scenarios must be >= 1, got {n}")
    grid = checked.grid
    generator = _generator(checked.generators)
    r = st.restoration
    settings = r.settings if r is not None and r.settings is not None else RestorationSettings()
    plan = st.plan
    policy = plan.policy if plan is not None else (
        r.policies[0] if r is not None and r.policies else DEFAULT_POLICY)
    priority = r.priority if r is not None else ()
    objective = plan.objective if plan is not None else "ens_mwh"
    costs = cost_table(plan.costs if plan is not None else None)
    if budget is None and plan is not None:
        budget = plan.budget
    if budget is not None and (not math.isfinite(budget) or budget < 0):
        raise UsageError(f"--budget must be a number >= 0, got {budget!r}")
    listed = list(plan.candidates) if plan is not None else []
    if generate is None:
        generate = (plan.generate if plan is not None else True) or not listed
    bound = max_candidates if max_candidates is not None else (
        plan.max_candidates if plan is not None else 20)

    ev = PlanEvaluator(grid, generator, settings, seed=st.seed, n=n, policy=policy,
                       priority=priority, workers=_workers(st, workers),
                       progress=(lambda d, t: progress("plan", d, t)) if progress else None)
    key = "plan" if plan is None or "plan" in _sections(st) else "interventions"
    candidates = study_candidates(listed, ev.base, costs, where=f"{key}.candidates")
    if generate:
        listed_as = {(c.kind, repr(sorted(c.params.items()))) for c in candidates}
        candidates += [g for g in generate_candidates(ev.base, generator, costs,
                                                      max_candidates=bound,
                                                      exclude=[c.id for c in candidates])
                       if (g.kind, repr(sorted(g.params.items()))) not in listed_as]
    if not candidates:
        raise UsageError(f"{st.path}: no candidate interventions: list [[plan.candidates]] "
                         "or set generate = true")
    with ev:
        ranking = rank_candidates(ev, candidates, objective)
        steps = greedy_portfolio(ev, candidates, budget, objective)
        base = ev.base_result()
        chosen = [s.id for s in steps if s.within_budget]
        final = ev.result(chosen)
    baseline = {m: base.mean(m) for m in METRICS}
    improved = {m: final.mean(m) for m in METRICS}
    from gridres.ensemble.summary import tail_stats

    baseline["ens_mwh_cvar95"] = tail_stats(base.values("ens_mwh"))["cvar95"]
    improved["ens_mwh_cvar95"] = tail_stats(final.values("ens_mwh"))["cvar95"]
    return PlanResult(
        study=st.name, grid=grid.name, n=n, seed=st.seed, policy=policy, objective=objective,
        budget=budget, candidates=tuple(candidates), ranking=ranking, steps=tuple(steps),
        baseline=baseline, improved=improved, simulations=ev.simulations, reused=ev.reused,
        elapsed_s=time.perf_counter() - t0)


def _sections(study: Any) -> Mapping[str, Any]:
    import tomllib

    try:
        return tomllib.loads(Path(study.path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def plan_study(study: Any, **kwargs: Any) -> Any:
    """The plan of a study as :class:`gridres.study.results.PlanOutcome` (for
    ``gridres run``); keyword arguments go to :func:`run_plan` (``workers``,
    ``progress``, ...)."""
    return run_plan(study, **kwargs).outcome()
