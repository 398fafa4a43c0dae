"""Run a whole study: grid, intact flow, N-1 ranking, the ensemble (with restoration
when configured), the intervention plan when available, then the results directory
and the report.

:func:`run_study` is the library entry point behind ``gridres run`` and
``gridres demo``. Progress is reported through an optional callback
``progress(step, done, total)``; the library itself prints nothing.

Results directory
-----------------
::

    OUT/study.resolved.toml   the study with every default filled in (runs again as is)
    OUT/summary.json          headline numbers, for other programs
    OUT/results.gpkg          layers buses, substations, branches, facilities, hazard
    OUT/tables/*.csv|parquet  buses, substations, branches, facilities, scenarios,
                              elements, contingency, restoration, restoration_curves, ...
    OUT/report.html           the report (and report.pdf with --pdf)
    OUT/ensemble/             the ensemble's manifest and Parquet parts

Running a study again into the same directory reuses the finished ensemble parts when
the ensemble is the same (same grid, scenarios, n, seed and evaluator) and starts the
ensemble afresh when it is not; every other file is rewritten. The directory is an
output folder of :mod:`gridres.io.folder`: locked while the study runs, and refused when
it holds files gridres did not write (unless ``force``, which still never deletes or
overwrites them).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gridres.errors import GridresError, UsageError
from gridres.io.folder import OutputFolder
from gridres.limits import enforce, scenarios_estimate
from gridres.study.core import Study, StudyCheck, analyse_study, raise_problems
from gridres.study.results import PlanOutcome, PolicyOutcome, StudyResults, plan_outcome
from gridres.study.semantic import hazard_spec, optional

__all__ = ["run_study", "Progress", "ENV_SCENARIOS", "scenario_text"]

logger = logging.getLogger(__name__)

#: ``progress(step, done, total)``: ``step`` names the long step (e.g. ``"ensemble"``).
Progress = Callable[[str, int, int], None]

#: Environment variable that overrides every study's ensemble size (CI, quick looks).
ENV_SCENARIOS = "GRIDRES_STUDY_N"


def _noop(step: str, done: int, total: int) -> None:
    return None


def scenario_text(study: Study) -> str:
    """A stable text naming the study's scenarios, for the ensemble's manifest."""
    specs = [hazard_spec(h) for h in study.hazards]
    return json.dumps(specs if len(specs) != 1 else specs[0], sort_keys=True,
                      separators=(",", ":"), default=str)


def _combined(generators: tuple[Any, ...]) -> Any:
    if len(generators) == 1:
        return generators[0]
    from gridres.scenarios.waves import WaveSequence

    return WaveSequence([(0.0, g) for g in generators])


def _workers(study: Study, trust_scheduler: bool = False) -> tuple[int | None, Any]:
    e = study.ensemble
    if e.scheduler.startswith("tcp://"):
        if trust_scheduler:
            return None, e.scheduler
        # Dask exchanges pickles: a study file must not choose where this machine sends
        # them (or what it runs in return)
        logger.warning("the study names the Dask scheduler %s; it is not used without "
                       "--trust-study-scheduler (or --scheduler), local processes run "
                       "instead", e.scheduler)
        return None, None
    if e.scheduler == "serial":
        return 1, None
    return (None if e.workers == "auto" else int(e.workers)), None


def _evaluator(study: Study, grid: Any, pending: dict[str, str]) -> tuple[Any, list[str]]:
    """The ensemble's evaluator and the policies it evaluates (empty: impact only)."""
    from gridres.ensemble.evaluate import ImpactEvaluator
    from gridres.study.evaluate import StudyEvaluator, curve_hours

    cascade = study.cascade.mode != "off"
    kwargs: dict[str, Any] = {"cascade": cascade, "margin": study.cascade.margin}
    if study.cascade.mode == "redispatch":
        if "mode" in {f.name for f in dataclasses.fields(ImpactEvaluator)}:
            kwargs["mode"] = "redispatch"
        else:
            pending["cascade"] = ("redispatch cascades are not available in ensembles yet; "
                                  "overloaded branches trip instead")
    impact = ImpactEvaluator(**kwargs)
    r = study.restoration
    if r is None:
        return StudyEvaluator(impact), []
    if r.settings is None:
        pending["restoration"] = "the restoration module is not available"
        return StudyEvaluator(impact), []
    from gridres.restoration import prepare
    from gridres.study.semantic import policy_names

    policies = list(r.policies or DEFAULT_POLICIES)
    known = policy_names() or ()
    policies = [p for p in policies if p in known] or list(known[:1])
    from gridres.impact import assess

    base = assess(grid.network).served_total_mw
    ev = StudyEvaluator(impact, prepare(grid, r.settings), tuple(policies), r.priority, base,
                        curve_hours(r.settings.horizon_h))
    return ev, policies


#: Policies compared when a study names none.
DEFAULT_POLICIES = ("critical-first", "greedy", "largest-load-first")


def _check(study_or_path: Study | str | os.PathLike) -> StudyCheck:
    path = study_or_path.path if isinstance(study_or_path, Study) else study_or_path
    result = analyse_study(path, deep=True)
    raise_problems(result)
    return result


def run_study(
    study: Study | str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    n: int | None = None,
    pdf: bool | None = None,
    html: bool | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
    force: bool = False,
    scheduler: str | None = None,
    trust_scheduler: bool = False,
) -> StudyResults:
    """Run a study end to end and write its results directory.

    Parameters
    ----------
    study : Study or path
        A study file (checked first, every problem reported) or a loaded
        :class:`Study` (its file is checked again against the grid).
    out : path, optional
        Results directory; default :meth:`Study.results_dir`.
    n : int, optional
        Number of scenarios instead of the study's ``ensemble.n`` (also: the
        ``GRIDRES_STUDY_N`` environment variable); the resolved study records it.
    pdf, html : bool, optional
        Write report.pdf / report.html; default from ``[outputs]``.
    workers : int, optional
        Worker processes instead of ``ensemble.workers`` (no result depends on it; not
        recorded).
    progress : callable, optional
        ``progress(step, done, total)`` for every long step.
    force : bool
        Run more scenarios than :data:`gridres.limits.MAX_SCENARIOS`, and write into a
        results directory that holds files gridres did not write (they are kept).
    scheduler : str, optional
        ``tcp://HOST:PORT`` of a Dask scheduler to run the ensemble on (overrides the
        study's ``ensemble.scheduler``).
    trust_scheduler : bool
        Use a ``tcp://`` scheduler that the study file names. Without it (or
        ``scheduler``), the ensemble runs on local processes: Dask exchanges pickles, so
        a study file alone never chooses a remote host.

    Returns
    -------
    StudyResults

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
    checked = _check(study)
    st = checked.study if not isinstance(study, Study) else study
    assert st is not None
    env_n = os.environ.get(ENV_SCENARIOS)
    if n is None and env_n:
        try:
            n = int(env_n)
        except ValueError:
            raise UsageError(f"{ENV_SCENARIOS}={env_n!r}: give a whole number of scenarios"
                             ) from None
    if n is not None:
        if n < 1:
            raise UsageError(f"--scenarios must be >= 1, got {n}")
        st = st.with_scenarios(n)
    enforce(scenarios_estimate(st.ensemble.n), force=force,
            option="-n" if n is not None else f"ensemble.n of {st.path.name}")
    with OutputFolder(st.results_dir(out), force=force) as folder:
        folder.delegate("ensemble")  # output folders of their own (gridres ensemble, plan)
        folder.delegate("plan")
        return _run(st, checked, folder.path, timings, t0, pdf=pdf, html=html,
                    workers=workers, progress=progress, force=force,
                    backend=(workers, scheduler, trust_scheduler))


def _run(st: Study, checked: StudyCheck, out_dir: Path, timings: dict[str, float],
         t0: float, *, pdf: bool | None, html: bool | None, workers: int | None,
         progress: Progress, force: bool, backend: tuple[Any, ...]) -> StudyResults:
    grid = checked.grid
    generators = checked.generators
    pending: dict[str, str] = {}
    for note in checked.notes:
        logger.info(note)
    timings["check"] = time.perf_counter() - t0

    from gridres.impact import assess

    t = time.perf_counter()
    progress("intact flow", 0, 1)
    net = grid.network
    intact = assess(net)
    progress("intact flow", 1, 1)
    timings["intact"] = time.perf_counter() - t

    contingency = _contingency(st, grid, progress, pending)
    timings["contingency"] = time.perf_counter() - t - timings["intact"]

    t = time.perf_counter()
    evaluator, policies = _evaluator(st, grid, pending)
    ens = _ensemble(st, grid, generators, evaluator, out_dir / "ensemble", progress,
                    backend, force)
    timings["ensemble"] = time.perf_counter() - t

    from gridres.ensemble.store import load_records

    records = load_records(out_dir / "ensemble")
    summary = ens.summary
    restoration = _restoration_outcomes(records, policies, st, grid) if policies else None
    if policies and not restoration:
        pending.setdefault("restoration", "the ensemble gave no restoration results")

    t = time.perf_counter()
    plan = _plan(st, pending, out_dir, workers, progress, force)
    timings["plan"] = time.perf_counter() - t

    from gridres.report.footprints import footprints

    fps = footprints(list(generators), grid.crs) if generators else None
    labels = tuple(str(getattr(g, "label", "") or "") for g in generators)
    from gridres.report.narrative import versions

    res = StudyResults(
        study=st, grid=grid, out_dir=out_dir, intact=intact.summary(), n=summary.n,
        completed=summary.completed, metrics=summary.metrics, p_shed=summary.p_shed,
        records=_scenario_table(records),
        buses=_bus_table(grid, summary, intact),
        substations=_substation_table(grid, summary),
        branches=_branch_table(grid, summary, intact),
        facilities=_facility_table(grid, summary, restoration, st),
        elements=summary.elements, contingency=contingency, restoration=restoration,
        plan=plan, footprints=fps, generators=tuple(generators), hazard_labels=labels,
        pending=pending, timings_s=timings, versions=versions())

    t = time.perf_counter()
    from gridres.study.outputs import write_results

    res = write_results(res, pdf=pdf, html=html, progress=progress)
    timings["outputs"] = time.perf_counter() - t
    return res


# -- steps ------------------------------------------------------------------------------
def _contingency(st: Study, grid: Any, progress: Progress,
                 pending: dict[str, str]) -> pd.DataFrame | None:
    mod = optional("gridres.contingency")
    if mod is None:
        pending["contingency"] = "the N-1 ranking is not available"
        return None
    cases = mod.contingencies(grid, "branch") + mod.contingencies(grid, "gen")
    total = len(cases)
    done = 0

    def tick(k: int) -> None:
        nonlocal done
        done += k
        progress("N-1 ranking", done, total)

    progress("N-1 ranking", 0, total)
    df = mod.sweep(grid, cases, cascade=st.cascade.mode != "off", margin=st.cascade.margin,
                   progress=tick)
    progress("N-1 ranking", total, total)
    df = df.set_index("element")
    return df.drop(columns=["dark_facility_ids"], errors="ignore")


def _ensemble(st: Study, grid: Any, generators: tuple[Any, ...], evaluator: Any,
              folder: Path, progress: Progress, backend: tuple[Any, ...],
              force: bool) -> Any:
    from gridres.ensemble.runner import run_ensemble

    workers_override, scheduler_override, trust = backend
    workers, scheduler = _workers(st, trust or scheduler_override is not None)
    if scheduler_override is not None:
        workers, scheduler = None, scheduler_override
    elif workers_override is not None:
        workers, scheduler = workers_override, None
    n = st.ensemble.n
    # a different ensemble in the folder (the study changed) is deleted, file by file,
    # from the ensemble's own list: this folder is gridres's
    kwargs = dict(workers=workers, out=folder, resume=True, restart=True, force=force,
                  evaluator=evaluator, scheduler=scheduler,
                  batch_size=st.ensemble.batch_size or None, scenario_spec=scenario_text(st),
                  progress=lambda done, total: progress("ensemble", done, total))
    gen = _combined(generators)
    from gridres.ensemble.runner import EnsembleInterrupted

    try:
        return run_ensemble(grid, gen, n, st.seed, **kwargs)
    except EnsembleInterrupted as exc:
        raise EnsembleInterrupted(
            f"interrupted after {exc.done} of {exc.n} scenarios; finished ones are kept in "
            f"{folder}: run the same study with the same --out again to continue",
            exc.done, exc.n, exc.out) from None


def _restoration_outcomes(records: pd.DataFrame, policies: list[str], st: Study,
                          grid: Any) -> dict[str, PolicyOutcome] | None:
    from gridres.study.evaluate import (
        curve_hours,
        curves_from_records,
        facility_hours_from_records,
        policy_metrics_from_records,
    )

    r = st.restoration
    if r is None or r.settings is None or not len(records):
        return None
    horizon = float(r.settings.horizon_h)
    times = curve_hours(horizon)
    out = {}
    for policy in policies:
        out[policy] = PolicyOutcome(
            policy=policy,
            metrics=policy_metrics_from_records(records, policy, horizon),
            curve=curves_from_records(records, policy, times),
            facility_hours=facility_hours_from_records(records, policy, grid.facilities.index))
    return out


def _plan(st: Study, pending: dict[str, str], out_dir: Path, workers: int | None,
          progress: Progress, force: bool) -> PlanOutcome | None:
    """The ``[plan]`` through :mod:`gridres.redundancy` (its files go to ``OUT/plan``),
    or a pending plan where that module is not available."""
    if st.plan is None:
        return None
    mod = optional("gridres.redundancy")
    if mod is None or not (hasattr(mod, "run_plan") or hasattr(mod, "plan_study")):
        msg = ("the intervention planner (gridres plan) is not available in this version; "
               "the candidates and budget below are checked and kept for when it is")
        pending["plan"] = msg
        return PlanOutcome(status="pending", budget=st.plan.budget, message=msg)
    try:
        if hasattr(mod, "run_plan"):
            result = mod.run_plan(st, workers=workers, progress=progress)
            with OutputFolder(out_dir / "plan", force=force) as folder:
                result.write(folder.path)
            return plan_outcome(result)
        return mod.plan_study(st)
    except GridresError as exc:
        pending["plan"] = str(exc)
        return PlanOutcome(status="failed", budget=st.plan.budget, message=str(exc))


# -- tables -----------------------------------------------------------------------------
def _scenario_table(records: pd.DataFrame) -> pd.DataFrame:
    """Per-scenario records without the sampled curves and per-facility hours (those
    are summarised in their own tables)."""
    drop = [c for c in records.columns if c.startswith(("served__", "hours_dark__"))]
    return records.drop(columns=drop)


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
        "base_kv": b["base_kv"], "load_mw": b["load_mw"], "customers": b["customers"],
        "intact_served_mw": intact.served_mw, "scenarios_dark": dark,
        "p_loss_of_supply": p.astype(float),
    }, index=b.index)


def _substation_table(grid: Any, summary: Any) -> pd.DataFrame:
    b = grid.buses
    p = summary.buses["p_dark"].reindex(b.index).fillna(0.0) if len(summary.buses) else \
        pd.Series(0.0, index=b.index)
    df = pd.DataFrame({"substation": _sub_names(grid), "p": p.to_numpy(float),
                       "load_mw": b["load_mw"].clip(lower=0).to_numpy(float),
                       "customers": b["customers"].to_numpy(float)}, index=b.index)
    out = df.groupby("substation", sort=True).agg(
        p_loss_of_supply=("p", "max"), load_mw=("load_mw", "sum"),
        customers=("customers", "sum"), buses=("p", "size"))
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
        best = min(restoration, key=lambda k: restoration[k].metrics.get(
            "customer_hours", {}).get("mean", math.inf))
        hours = restoration[best].facility_hours
        if hours is not None and len(hours):
            df["hours_dark"] = hours.reindex(f.index).fillna(0.0).astype(float)
            df["people_hours"] = df["hours_dark"] * df["people"]
    return df
