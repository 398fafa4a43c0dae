"""A study's intervention plan: the study's ``[plan]`` through
:func:`gridres.redundancy.plan_interventions`.

What a study without a ``[plan]`` table gets: generated candidates, objective
``ens_mwh``, default costs, and the budget given on the command line (none: the
portfolio goes on while a pick helps).

Restoration policy: ``[plan] policy``, else the first policy of ``[restoration]
policies``, else ``greedy``; ``priority-list`` repairs in the order of ``[restoration]
priority``.

With a ``[defend]`` section, every candidate is also ranked by how much it lowers the
attacker's worst damage (its ``k``, target, objective, exclusions and protected sites;
the study's cascade and seed), and ``[plan] objective = "worst_case"`` builds the
portfolio on that instead of an expected value.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from gridres.pool import resolve_workers
from gridres.redundancy.plan import DEFAULT_POLICY, PlanResult, plan_interventions
from gridres.redundancy.worstcase import Threat
from gridres.restoration import RestorationSettings
from gridres.scenarios.waves import WaveSequence
from gridres.study.check import analyse_study, check_loaded, raise_problems
from gridres.study.core import Study, StudyCheck, scenarios

__all__ = ["run_plan", "combined_generator"]

Progress = Callable[[str, int, int], None]


def combined_generator(generators: tuple[Any, ...]) -> Any:
    """One generator of a study's hazards: the hazard itself, or every hazard at once
    (a :class:`~gridres.scenarios.waves.WaveSequence` starting together)."""
    if len(generators) == 1:
        return generators[0]
    return WaveSequence([(0.0, g) for g in generators])


def run_plan(
    study: Study | str | os.PathLike,
    *,
    checked: StudyCheck | None = None,
    budget: float | None = None,
    n: int | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    trust_scheduler: bool = False,
    generate: bool | None = None,
    max_candidates: int | None = None,
    progress: Progress | None = None,
) -> PlanResult:
    """Plan the interventions of a study.

    Parameters
    ----------
    study : Study or path
        A study file (checked first, every problem reported) or a :class:`Study`
        object, which is planned as it is, not the file it was read from.
    checked : StudyCheck, optional
        The study already checked against its grid (its grid and scenario generators
        are used as they are); default: :func:`gridres.study.check.check_loaded`.
    budget : float, optional
        Instead of ``[plan] budget``.
    n : int, optional
        Scenarios instead of ``ensemble.n`` (see :func:`gridres.study.core.scenarios`).
    workers : int, optional
        Worker processes instead of the study's (no result depends on it).
    scheduler : str, optional
        ``tcp://HOST:PORT`` of a Dask scheduler to simulate on (instead of the study's
        ``ensemble.scheduler``; no result depends on it).
    trust_scheduler : bool
        Use a ``tcp://`` scheduler that the study file names (see
        :meth:`gridres.study.core.Study.workers`); without it, local processes run.
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
    if checked is None:
        checked = check_loaded(study) if isinstance(study, Study) else analyse_study(study)
        raise_problems(checked)
    study = checked.study
    r = study.restoration
    settings = r.settings if r is not None and r.settings is not None else RestorationSettings()
    plan = study.plan
    policy = plan.policy if plan is not None else (
        r.policies[0] if r is not None and r.policies else DEFAULT_POLICY)
    listed = list(plan.candidates) if plan is not None else []
    if budget is None and plan is not None:
        budget = plan.budget
    if generate is None:
        generate = (plan.generate if plan is not None else True) or not listed
    bound = max_candidates if max_candidates is not None else (
        plan.max_candidates if plan is not None else 20)
    workers, scheduler = study.workers(workers, scheduler=scheduler,
                                       trust_scheduler=trust_scheduler)
    d = study.defend
    threat = None if d is None else Threat(
        d.k, d.target, d.objective, tuple(d.exclude), tuple(d.protect), d.budget or None,
        study.seed)
    return plan_interventions(
        checked.grid, combined_generator(checked.generators), settings,
        seed=study.seed, n=scenarios(study, n), policy=policy,
        priority=r.priority if r is not None else (),
        objective=plan.objective if plan is not None else "ens_mwh",
        costs=plan.costs if plan is not None else None, budget=budget, candidates=listed,
        generate=generate, max_candidates=bound, workers=resolve_workers(workers),
        scheduler=scheduler, cascade=study.cascade.options, progress=progress,
        where=f"{study.plan_section}.candidates", name=study.name,
        outside_c=study.services.outside_temp_c, threat=threat)
