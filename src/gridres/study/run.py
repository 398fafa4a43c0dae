"""Run a whole study: grid, intact flow, N-1 ranking, the ensemble (with restoration
when configured), the intervention plan and the worst-case strikes (``[defend]``) when
configured, then the results directory.

:func:`run_study` is the library entry point behind ``gridres run`` and
``gridres demo``; it returns :class:`~gridres.results.StudyResults`, which
:func:`gridres.report.write_report` renders as report.html (and report.pdf). Progress is
reported through an optional callback ``progress(step, done, total)``; the library
itself prints nothing.

Results directory
-----------------
::

    OUT/study.resolved.toml   the study with every default filled in (runs again as is)
    OUT/summary.json          headline numbers, for other programs
    OUT/results.gpkg          layers buses, substations, branches, facilities, hazard
    OUT/tables/*.csv|parquet  buses, substations, branches, facilities, scenarios,
                              elements, contingency, restoration, restoration_curves, ...
    OUT/report.html           the report (and report.pdf with --pdf), by the report
    OUT/ensemble/             the ensemble's manifest and Parquet parts
    OUT/plan/                 the plan's files, when the study has one

Running a study again into the same directory reuses the finished ensemble parts when
the ensemble is the same (same grid, scenarios, n, seed and evaluator) and starts the
ensemble afresh when it is not; every other file is rewritten. The directory is an
output folder of :mod:`gridres.io.folder`: locked while the study runs, and refused when
it holds files gridres did not write (unless ``force``, which still never deletes or
overwrites them).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gridres import contingency
from gridres.adversary import WorstCase, worst_case
from gridres.cascade import settle
from gridres.ensemble.evaluate import ImpactEvaluator
from gridres.ensemble.runner import EnsembleInterrupted, run_ensemble
from gridres.ensemble.store import load_records
from gridres.errors import GridresError
from gridres.io.folder import OutputFolder, held
from gridres.limits import enforce, scenarios_estimate
from gridres.pool import resolve_workers
from gridres.restoration import policy_names, prepare
from gridres.restoration.metrics import policy_summary
from gridres.restoration.supply import supply
from gridres.results import (
    PlanOutcome,
    PolicyOutcome,
    StudyResults,
    best_policy,
    plan_outcome,
    software_versions,
)
from gridres.scenarios.footprints import footprints
from gridres.study.check import analyse_study, check_loaded, raise_problems
from gridres.study.core import ENV_SCENARIOS, Study, StudyCheck, scenarios
from gridres.study.deficit import deficit_outcome, study_timeline
from gridres.study.evaluate import (
    StudyEvaluator,
    curve_hours,
    curves_from_records,
    facility_outcomes_from_records,
    service_hours,
    services_from_records,
)
from gridres.study.outputs import write_results
from gridres.study.plan import combined_generator, run_plan
from gridres.study.semantic import hazard_spec

__all__ = ["run_study", "Progress", "scenario_text"]

logger = logging.getLogger(__name__)

#: ``progress(step, done, total)``: ``step`` names the long step (e.g. ``"ensemble"``).
Progress = Callable[[str, int, int], None]


def _noop(step: str, done: int, total: int) -> None:
    return None


def scenario_text(study: Study) -> str:
    """A stable text naming the study's scenarios, for the ensemble's manifest."""
    specs = [hazard_spec(h) for h in study.hazards]
    return json.dumps(specs if len(specs) != 1 else specs[0], sort_keys=True,
                      separators=(",", ":"), default=str)


def _evaluator(study: Study, grid: Any, pending: dict[str, str]) -> tuple[Any, list[str]]:
    """The ensemble's evaluator and the policies it evaluates (empty: impact only)."""
    cascade = study.cascade.options
    impact = ImpactEvaluator(cascade)
    r = study.restoration
    if r is None:
        return StudyEvaluator(impact), []
    if r.settings is None:  # a checked study has settings; kept for a hand-made one
        pending["restoration"] = "the restoration settings are not valid"
        return StudyEvaluator(impact), []
    policies = list(r.policies or DEFAULT_POLICIES)
    known = policy_names()
    policies = [p for p in policies if p in known] or list(known[:1])
    base = supply(grid.network, grid.network.intact(), cascade).total_mw
    assets = prepare(grid, r.settings, outside_c=study.services.outside_temp_c)
    ev = StudyEvaluator(impact, assets, tuple(policies), r.priority, base,
                        curve_hours(r.settings.horizon_h), cascade,
                        service_hours(r.settings.horizon_h) if assets.services else (),
                        study_timeline(study, grid))
    return ev, ev.runs


#: Policies compared when a study names none.
DEFAULT_POLICIES = ("critical-first", "greedy", "largest-load-first")


def run_study(
    study: Study | str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    n: int | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
    force: bool = False,
    scheduler: str | None = None,
    trust_scheduler: bool = False,
    checked: StudyCheck | None = None,
) -> StudyResults:
    """Run a study end to end and write its results directory.

    Parameters
    ----------
    study : Study or path
        A study file (checked first, every problem reported) or a :class:`Study`
        object, which runs as it is (an edited study runs the edit, not its file),
        checked against its grid first.
    out : path, optional
        Results directory; default :meth:`Study.results_dir`.
    n : int, optional
        Number of scenarios instead of the study's ``ensemble.n`` (also: the
        ``GRIDRES_STUDY_N`` environment variable); the resolved study records it.
    workers : int, optional
        Worker processes instead of ``ensemble.workers`` (no result depends on it; not
        recorded).
    progress : callable, optional
        ``progress(step, done, total)`` for every long step.
    force : bool
        Run more scenarios than :data:`gridres.limits.MAX_SCENARIOS`, and write into a
        results directory that holds files gridres did not write (they are kept).
    scheduler : str, optional
        ``tcp://HOST:PORT`` of a Dask scheduler to run the N-1 ranking, the ensemble and
        the plan on (overrides the study's ``ensemble.scheduler``).
    trust_scheduler : bool
        Use a ``tcp://`` scheduler that the study file names. Without it (or
        ``scheduler``), they run on local processes: Dask exchanges pickles, so a study
        file alone never chooses a remote host.
    checked : StudyCheck, optional
        ``study`` already checked against its grid (:func:`gridres.study.analyse_study`
        or :func:`~gridres.study.check.check_loaded`): its grid and generators are used as
        they are.

    Returns
    -------
    StudyResults
        Render the report with :func:`gridres.report.write_report` (in the same open
        output folder, see :func:`gridres.io.folder.held`, to keep it locked between).

    Raises
    ------
    StudyError, InputNotFound
        If the study has problems (exit codes 65, 66).
    UsageError
        More scenarios than the limit (without ``force``); a results directory that
        cannot be written, is in use, or holds files gridres did not write (exit 2).
    """
    progress = progress or _noop
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    if checked is None:
        checked = check_loaded(study) if isinstance(study, Study) else analyse_study(study)
    raise_problems(checked)
    st = checked.study
    assert st is not None
    if n is not None or os.environ.get(ENV_SCENARIOS):
        st = st.with_scenarios(scenarios(st, n))
    enforce(scenarios_estimate(st.ensemble.n), force=force,
            option="-n" if n is not None else f"ensemble.n of {st.path.name}")
    with held(st.results_dir(out), force=force) as folder:
        folder.delegate("ensemble")  # output folders of their own (gridres ensemble, plan)
        folder.delegate("plan")
        return _run(st, checked, folder.path, timings, t0, progress=progress, force=force,
                    backend=(workers, scheduler, trust_scheduler))


def _run(st: Study, checked: StudyCheck, out_dir: Path, timings: dict[str, float],
         t0: float, *, progress: Progress, force: bool,
         backend: tuple[Any, ...]) -> StudyResults:
    grid = checked.grid
    generators = checked.generators
    pending: dict[str, str] = {}
    workers_override, scheduler_override, trust = backend
    # where the ensemble and the plan run, decided once (one warning about an untrusted
    # study scheduler)
    backend = st.workers(workers_override, scheduler=scheduler_override,
                         trust_scheduler=trust)
    timings["check"] = time.perf_counter() - t0

    t = time.perf_counter()
    progress("intact flow", 0, 1)
    net = grid.network
    intact = settle(net, None, st.cascade.options)
    progress("intact flow", 1, 1)
    timings["intact"] = time.perf_counter() - t

    ranking = _contingency(st, grid, progress, backend)
    timings["contingency"] = time.perf_counter() - t - timings["intact"]

    t = time.perf_counter()
    evaluator, policies = _evaluator(st, grid, pending)
    ens = _ensemble(st, grid, generators, evaluator, out_dir / "ensemble", progress,
                    backend, force)
    timings["ensemble"] = time.perf_counter() - t

    records = load_records(out_dir / "ensemble")
    summary = ens.summary
    restoration = (_restoration_outcomes(records, policies, st, grid,
                                         evaluator.base_mw) if policies else None)
    if policies and not restoration:
        pending.setdefault("restoration", "the ensemble gave no restoration results")

    deficit = None
    if policies and evaluator.timeline is not None and len(records):
        progress("power deficit", 0, 1)
        deficit = deficit_outcome(st, evaluator.timeline, records, evaluator, net,
                                  combined_generator(generators))
        progress("power deficit", 1, 1)

    t = time.perf_counter()
    plan = _plan(st, checked, pending, out_dir, backend, progress, force)
    timings["plan"] = time.perf_counter() - t

    t = time.perf_counter()
    strikes = _strikes(st, grid, pending, backend, progress)
    timings["strikes"] = time.perf_counter() - t

    fps = footprints(list(generators), grid.crs) if generators else None
    labels = tuple(str(getattr(g, "label", "") or "") for g in generators)
    res = StudyResults(
        study=st, grid=grid, out_dir=out_dir, intact=intact.summary(), n=summary.n,
        completed=summary.completed, metrics=summary.metrics, p_shed=summary.p_shed,
        records=_scenario_table(records),
        buses=_bus_table(grid, summary, intact),
        substations=_substation_table(grid, summary),
        branches=_branch_table(grid, summary, intact),
        facilities=_facility_table(grid, summary, restoration, st),
        elements=summary.elements, contingency=ranking, restoration=restoration,
        towns=_town_table(grid, restoration, st),
        plan=plan, strikes=strikes, footprints=fps, generators=tuple(generators),
        hazard_labels=labels, pending=pending, timings_s=timings,
        versions=software_versions(), deficit=deficit)

    t = time.perf_counter()
    res = write_results(res, progress=progress)
    timings["outputs"] = time.perf_counter() - t
    return res


# -- steps ------------------------------------------------------------------------------
def _contingency(st: Study, grid: Any, progress: Progress,
                 backend: tuple[Any, ...]) -> pd.DataFrame:
    cases = contingency.contingencies(grid, "branch") + contingency.contingencies(grid, "gen")
    total = len(cases)
    done = 0

    def tick(k: int) -> None:
        nonlocal done
        done += k
        progress("N-1 ranking", done, total)

    progress("N-1 ranking", 0, total)
    workers, scheduler = backend
    df = contingency.sweep(grid, cases, cascade=st.cascade.options, progress=tick,
                           workers=workers, scheduler=scheduler)
    progress("N-1 ranking", total, total)
    df = df.set_index("element")
    df["customers_out"] = _customers(df["customers_out"], grid)
    return df.drop(columns=["dark_facility_ids"], errors="ignore")


def _ensemble(st: Study, grid: Any, generators: tuple[Any, ...], evaluator: Any,
              folder: Path, progress: Progress, backend: tuple[Any, ...],
              force: bool) -> Any:
    workers, scheduler = backend
    n = st.ensemble.n
    # a different ensemble in the folder (the study changed) is deleted, file by file,
    # from the ensemble's own list: this folder is gridres's
    kwargs = dict(workers=workers, out=folder, resume=True, restart=True, force=force,
                  evaluator=evaluator, scheduler=scheduler,
                  batch_size=st.ensemble.batch_size or None, scenario_spec=scenario_text(st),
                  progress=lambda done, total: progress("ensemble", done, total))
    gen = combined_generator(generators)
    try:
        return run_ensemble(grid, gen, n, st.seed, **kwargs)
    except EnsembleInterrupted as exc:
        raise EnsembleInterrupted(
            f"interrupted after {exc.done} of {exc.n} scenarios; finished ones are kept in "
            f"{folder}: run the same study with the same --out again to continue",
            exc.done, exc.n, exc.out) from None


def _restoration_outcomes(records: pd.DataFrame, policies: list[str], st: Study,
                          grid: Any, base_mw: float) -> dict[str, PolicyOutcome] | None:
    r = st.restoration
    if r is None or r.settings is None or not len(records):
        return None
    horizon = float(r.settings.horizon_h)
    times = curve_hours(horizon)
    out = {}
    for policy in policies:
        out[policy] = PolicyOutcome(
            policy=policy,
            metrics=policy_summary(records, policy, horizon,
                                   customers=grid.network.has_customers),
            curve=curves_from_records(records, policy, times, base_mw),
            facilities=facility_outcomes_from_records(records, policy,
                                                      grid.facilities.index),
            services=services_from_records(records, policy, service_hours(horizon)))
    return out


#: Services in the towns table and layer, besides power.
TOWN_SERVICES = ("power", "water", "heat", "telecom")


def _town_table(grid: Any, restoration: dict[str, PolicyOutcome] | None,
                st: Study) -> pd.DataFrame | None:
    """People without power, water, heat and telecom per town at the report hours,
    under the policy with the fewest people-hours without water, heat and power."""
    if not restoration or not len(grid.towns):
        return None

    def hours(p: str) -> float:
        m = restoration[p].metrics
        return sum(m.get(f"service_people_hours_{s}", {}).get("mean", 0.0)
                   for s in TOWN_SERVICES)

    best = min(restoration, key=hours)
    svc = restoration[best].services
    towns = grid.towns
    df = pd.DataFrame({"name": towns["name"].astype(str),
                       "population": towns["population"].to_numpy(float)}, index=towns.index)
    df.index.name = "id"
    worst = pd.Series(0.0, index=towns.index)
    for service in TOWN_SERVICES:
        for h in st.services.report_hours:
            col = f"{service}_{h:g}h"
            at = svc.at(service, h) if svc is not None else pd.Series(dtype=float)
            df[col] = at.reindex(towns.index.astype(str)).fillna(0.0).to_numpy()
            worst = np.maximum(worst, df[col])
    df["policy"] = best
    return df.assign(_w=worst).sort_values(["_w", "population"], ascending=False).drop(
        columns="_w")


def _plan(st: Study, checked: StudyCheck, pending: dict[str, str], out_dir: Path,
          backend: tuple[Any, ...], progress: Progress, force: bool) -> PlanOutcome | None:
    """The ``[plan]`` (its files go to ``OUT/plan``), or why it failed."""
    if st.plan is None:
        return None
    workers, scheduler = backend
    try:
        # already decided: a scheduler, or local processes
        result = run_plan(st, checked=checked, n=st.ensemble.n,
                          workers=None if scheduler else resolve_workers(workers),
                          scheduler=scheduler, trust_scheduler=True, progress=progress)
        with OutputFolder(out_dir / "plan", force=force) as folder:
            result.write(folder.path)
    except GridresError as exc:
        pending["plan"] = str(exc)
        return PlanOutcome(status="failed", budget=st.plan.budget, message=str(exc))
    return plan_outcome(result)


def _strikes(st: Study, grid: Any, pending: dict[str, str], backend: tuple[Any, ...],
             progress: Progress) -> WorstCase | None:
    """The ``[defend]`` section (:func:`gridres.adversary.worst_case`), or why it failed."""
    d = st.defend
    if d is None:
        return None
    workers, scheduler = backend
    try:
        return worst_case(
            grid, d.k, d.protect_budget, target=d.target, objective=d.objective,
            cascade=st.cascade.options, exclude=d.exclude, protect=d.protect,
            candidates=d.candidates or None, top=d.top, curve=d.curve, n_random=d.n_random,
            budget=d.budget or None, seed=st.seed, workers=workers,
            scheduler=scheduler, progress=progress)
    except GridresError as exc:
        pending["defend"] = str(exc)
        return None


# -- tables -----------------------------------------------------------------------------
def _scenario_table(records: pd.DataFrame) -> pd.DataFrame:
    """Per-scenario records without the sampled curves and per-facility hours (those
    are summarised in their own tables)."""
    drop = [c for c in records.columns if c.startswith(("served__", "hours_dark__"))]
    return records.drop(columns=drop)


def _customers(values: Any, grid: Any) -> Any:
    """Customers as whole numbers, NaN where the grid has no customer data."""
    values = pd.Series(values, dtype=float) if not isinstance(values, pd.Series) else values
    return values.astype(float).round() if grid.network.has_customers else values * np.nan


def _sub_names(grid: Any) -> pd.Series:
    b = grid.buses
    sub = b["substation"].astype(str)
    return sub.where(sub != "", pd.Series(b.index, index=b.index))


def _bus_table(grid: Any, summary: Any, intact: Any) -> pd.DataFrame:
    b = grid.buses
    p = summary.buses["p_dark"].reindex(b.index).fillna(0.0) if len(summary.buses) else \
        pd.Series(0.0, index=b.index)
    dark = summary.buses["dark"].reindex(b.index).fillna(0).astype("int64") \
        if len(summary.buses) else pd.Series(0, index=b.index)
    return pd.DataFrame({
        "name": b["name"].astype(str), "substation": _sub_names(grid),
        "base_kv": b["base_kv"], "load_mw": b["load_mw"],
        "customers": _customers(b["customers"], grid),
        "intact_served_mw": intact.served_mw, "scenarios_dark": dark,
        "p_loss_of_supply": p.astype(float),
    }, index=b.index)


def _substation_table(grid: Any, summary: Any) -> pd.DataFrame:
    b = grid.buses
    p = summary.buses["p_dark"].reindex(b.index).fillna(0.0) if len(summary.buses) else \
        pd.Series(0.0, index=b.index)
    df = pd.DataFrame({"substation": _sub_names(grid), "p": p.to_numpy(float),
                       "load_mw": b["load_mw"].clip(lower=0).to_numpy(float),
                       "customers": _customers(b["customers"], grid).to_numpy(float)},
                      index=b.index)
    out = df.groupby("substation", sort=True).agg(
        p_loss_of_supply=("p", "max"), load_mw=("load_mw", "sum"),
        customers=("customers", lambda c: c.sum(min_count=1)), buses=("p", "size"))
    out.index.name = "id"
    return out


def _branch_table(grid: Any, summary: Any, intact: Any) -> pd.DataFrame:
    br = grid.branches
    el = summary.elements
    ids = pd.Index("branch:" + br.index.astype(str))
    get = (lambda col: el[col].reindex(ids).fillna(0).to_numpy()) if len(el) else \
        (lambda col: np.zeros(len(br)))
    net = grid.network
    rating = np.where(np.isfinite(net.rating_mw), net.rating_mw, np.nan)
    return pd.DataFrame({
        "from_bus": br["from_bus"].astype(str), "to_bus": br["to_bus"].astype(str),
        "kind": br["kind"].astype(str), "rating_mw": rating,
        "intact_flow_mw": intact.flow_mw,
        "intact_loading": np.where(np.isfinite(net.rating_mw), intact.loading, np.nan),
        "failed_initially": get("initial").astype("int64"),
        "tripped": get("tripped").astype("int64"),
        "p_failure": get("p").astype(float),
    }, index=br.index)


def _facility_table(grid: Any, summary: Any, restoration: dict[str, PolicyOutcome] | None,
                    st: Study) -> pd.DataFrame:
    """Per facility: what it is, its demand and backup, ``p_dark`` (share of events in
    which it is dark right after the event) and, with restoration, from the best
    policy's restoration runs: ``p_dark_restoration`` (share of events in which it is
    dark at some time), ``hours_dark`` (mean over events) and ``people_hours``."""
    f = grid.facilities
    fac = summary.facilities
    p = fac["p_dark"].reindex(f.index).fillna(0.0) if len(fac) else pd.Series(0.0, index=f.index)
    df = pd.DataFrame({
        "name": f["name"].astype(str), "kind": f["kind"].astype(str),
        "bus": f["bus"].astype(str), "people": f["people"],
        "demand_mw": f["demand_mw"], "backup_mw": f["backup_mw"],
        "backup_hours": f["backup_hours"], "p_dark": p.astype(float),
    }, index=f.index)
    if restoration:
        run = restoration[best_policy(restoration)].facilities
        if run is not None and len(run):
            df["p_dark_restoration"] = run["p_dark"].reindex(f.index).fillna(0.0).astype(float)
            df["hours_dark"] = run["hours_dark"].reindex(f.index).fillna(0.0).astype(float)
            df["people_hours"] = df["hours_dark"] * df["people"]
    return df
