"""What a study run produces, in one frozen object that the results directory and the
report are written from: :class:`StudyResults` (with :class:`PolicyOutcome` per
restoration policy and the :class:`PlanOutcome` of an intervention plan), its headline
numbers as one JSON document (``summary.json``), and the points that stand for
substations on maps and in the results GeoPackage.

Every table is indexed by string ids. Parts of a study that were not configured (no
restoration, no plan) or could not run are None, and the report leaves their sections
out; ``pending`` says why, in words for the reader. The study layer fills it; the report
only reads it.
"""

from __future__ import annotations

import importlib.metadata
import math
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gridres.adversary.worst import WorstCase
from gridres.io.jsondoc import jsonable, write_json
from gridres.model import customer_count
from gridres.redundancy.plan import PlanResult
from gridres.redundancy.portfolio import REDUCTION
from gridres.redundancy.worstcase import Threat

__all__ = ["PolicyOutcome", "ServiceOutcome", "PlanOutcome", "StudyResults", "best_policy",
           "plan_outcome", "summary_document", "write_summary", "substation_points",
           "element_places", "software_versions"]


@dataclass(frozen=True, eq=False)
class ServiceOutcome:
    """People without power and each service under one policy, over the ensemble.

    Attributes
    ----------
    timeline : pandas.DataFrame
        ``time_h`` and, per entry of
        :data:`~gridres.restoration.service_hours.SERVICE_KEYS` that anyone lacked,
        the mean over scenarios of the people without it (and ``{S}_p95``).
    towns : pandas.DataFrame
        Long format: ``town``, ``service``, ``time_h``, ``people`` (mean over
        scenarios), for the towns and services that anyone lacked.
    facilities : pandas.DataFrame
        Index ``id``: ``p_lost`` (share of scenarios in which the facility's service
        stopped reaching people) and ``median_lost_h`` (the hour it did, median over
        those scenarios); most often lost first.
    """

    timeline: pd.DataFrame
    towns: pd.DataFrame
    facilities: pd.DataFrame

    def at(self, service: str, time_h: float) -> pd.Series:
        """Mean people without ``service`` in each town at the sampled time nearest
        ``time_h``."""
        t = self.timeline["time_h"].to_numpy(float)
        near = float(t[np.argmin(np.abs(t - time_h))]) if len(t) else time_h
        sel = self.towns[(self.towns["service"] == service) & (self.towns["time_h"] == near)]
        return sel.set_index("town")["people"]


@dataclass(frozen=True, eq=False)
class PolicyOutcome:
    """One restoration policy over the ensemble.

    Attributes
    ----------
    policy : str
    metrics : dict
        :func:`gridres.restoration.metrics.policy_summary`: ``events`` (``n``,
        ``with_loss``, ``share_no_loss``), each loss's statistics over every event
        (``mean``, ``median``, ``p95``, ``cvar95``, ``max``) and each restoration time's
        over the events that lost load (``events``, ``share_reached``, ``median``,
        ``p90``, ...).
    curve : pandas.DataFrame
        Restoration curve (:func:`gridres.study.evaluate.curves_from_records`):
        ``time_h``, ``lost_mw`` (mean over events) with ``lost_p10_mw`` and
        ``lost_p90_mw``, and ``served_fraction`` with ``p05``/``p95``.
    facilities : pandas.DataFrame
        Per facility id, from this policy's restoration runs: ``hours_dark`` (mean over
        events) and ``p_dark`` (share of events in which it is dark at some time).
    services : ServiceOutcome or None
        People without power and each service over time, per town (None for a grid
        without facilities).
    """

    policy: str
    metrics: dict[str, dict[str, float]]
    curve: pd.DataFrame
    facilities: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        {"hours_dark": pd.Series(dtype=float), "p_dark": pd.Series(dtype=float)}))
    services: ServiceOutcome | None = None


@dataclass(frozen=True, eq=False)
class PlanOutcome:
    """The intervention plan: ranked candidates, the chosen portfolio and the efficient
    frontier, or the reason it is pending (``status`` other than ``"done"``).

    Attributes
    ----------
    status : str
        ``"done"``, ``"pending"`` (the planner is not available) or ``"failed"``.
    budget : float
        NaN: no limit.
    ranking : pandas.DataFrame or None
        Every candidate alone against the base case, best benefit per cost first; index
        ``id``; ``kind``, ``label``, ``cost``, ``benefit`` (drop of the objective's mean)
        with ``benefit_ci_low``/``benefit_ci_high``, ``ens_reduction_mwh`` with
        ``ens_ci_low``/``ens_ci_high``, ``benefit_per_cost``; with a ``[defend]``
        attacker, ``worst_case`` and ``worst_case_reduction`` (the attacker's worst
        damage with the candidate, and its drop).
    portfolio : pandas.DataFrame or None
        The chosen interventions in order; index ``id``; ``kind``, ``label``, ``cost``,
        ``cumulative_cost``, ``marginal_benefit``, ``benefit`` (cumulative) with
        ``ci_low``/``ci_high``.
    frontier : pandas.DataFrame or None
        The greedy path: one row per pick after a first row for the base case (cost 0),
        ``step``, ``id``, ``label``, ``cost``, ``cumulative_cost``,
        ``marginal_benefit``, ``benefit`` with ``ci_low``/``ci_high`` (against the base
        case), ``within_budget`` (False: what more money would buy).
    baseline, improved : dict
        Mean of every metric without and with the portfolio.
    objective : str
        The metric the portfolio lowers.
    policy : str
        Restoration policy the plan was evaluated under.
    currency : str
        Unit of costs and budget.
    n : int
        Scenarios each candidate was evaluated on.
    message : str
        Why the plan is pending or failed.
    threat : Threat or None
        The attacker of a ``[defend]`` section whose worst case the ranking also shows
        (and the ``worst_case`` objective lowers).
    """

    status: str
    budget: float
    ranking: pd.DataFrame | None = None
    portfolio: pd.DataFrame | None = None
    baseline: dict[str, float] = field(default_factory=dict)
    improved: dict[str, float] = field(default_factory=dict)
    message: str = ""
    frontier: pd.DataFrame | None = None
    objective: str = ""
    policy: str = ""
    currency: str = ""
    n: int = 0
    threat: Threat | None = None


def plan_outcome(result: PlanResult) -> PlanOutcome:
    """A :class:`gridres.redundancy.PlanResult` as the report's :class:`PlanOutcome`.

    Parameters
    ----------
    result : PlanResult

    Returns
    -------
    PlanOutcome
        ``status="done"``.
    """
    r = result.ranking
    objective = result.objective
    col = REDUCTION[objective]
    lo, hi = ("ci_low", "ci_high") if objective == "ens_mwh" else (f"{col}_ci_low",
                                                                    f"{col}_ci_high")
    cols = ["kind", "label", "cost", "benefit", "benefit_ci_low", "benefit_ci_high",
            "ens_reduction_mwh", "ens_ci_low", "ens_ci_high", "benefit_per_cost"]
    if len(r):
        ranking = pd.DataFrame({
            "kind": r["kind"], "label": r["label"], "cost": r["cost"],
            "benefit": r["benefit"], "benefit_ci_low": r[lo], "benefit_ci_high": r[hi],
            "ens_reduction_mwh": r[REDUCTION["ens_mwh"]], "ens_ci_low": r["ci_low"],
            "ens_ci_high": r["ci_high"], "benefit_per_cost": r["benefit_per_cost"]},
            index=r.index)
        if REDUCTION["worst_case"] in r:
            ranking["worst_case"] = r["worst_case"]
            ranking["worst_case_reduction"] = r[REDUCTION["worst_case"]]
    else:
        ranking = pd.DataFrame(columns=cols, index=pd.Index([], name="id"))
    frontier = result.frontier.copy()
    labels = {c.id: c.label for c in result.candidates}
    frontier.insert(2, "label", [labels.get(i, "") if i else "no intervention"
                                 for i in frontier["id"]])
    budget = result.budget
    return PlanOutcome(
        status="done", budget=math.nan if budget is None else float(budget),
        ranking=ranking, portfolio=result.portfolio, baseline=dict(result.baseline),
        improved=dict(result.improved), frontier=frontier, objective=objective,
        policy=result.policy, currency=result.currency, n=int(result.n),
        threat=result.threat)


@dataclass(frozen=True, eq=False)
class StudyResults:
    """Everything a study run found.

    Attributes
    ----------
    study : gridres.study.Study
        The checked study that was run.
    grid : Grid
    out_dir : Path
    intact : dict
        :meth:`gridres.impact.Impact.summary` of the intact grid.
    n, completed : int
        Scenarios asked for and finished.
    metrics : dict
        Record column (``shed_mw``, ``customers_out``, ``people_out``) -> tail stats.
    p_shed : float
        Fraction of scenarios that shed any load.
    records : pandas.DataFrame
        One row per scenario (the ensemble's records).
    buses : pandas.DataFrame
        Every bus: ``p_loss_of_supply`` (0 for buses never dark), ``load_mw``,
        ``customers``, ``substation``.
    substations : pandas.DataFrame
        Per substation: ``p_loss_of_supply`` (largest of its buses), ``load_mw``,
        ``customers``.
    branches : pandas.DataFrame
        Every branch: ``p_failure`` (fraction of scenarios in which it failed or
        tripped), ``initial``, ``tripped`` counts.
    facilities : pandas.DataFrame
        Every facility: ``name``, ``kind``, ``bus``, ``people``, ``demand_mw``,
        ``backup_mw``, ``backup_hours``, ``p_dark`` (share of events in which it is dark
        right after the event: the outage engine) and, with restoration, from the best
        policy's restoration runs: ``p_dark_restoration`` (share of events in which it
        is dark at some time), ``hours_dark`` (mean over every event) and
        ``people_hours``.
    elements : pandas.DataFrame
        Failed elements, most frequent first (from the ensemble summary).
    contingency : pandas.DataFrame or None
        N-1 ranking of the intact grid.
    restoration : dict of str to PolicyOutcome, or None
    towns : pandas.DataFrame or None
        With restoration on a grid with towns: per town (index id) ``name``,
        ``population`` and the mean people without power, water, heat and telecom at
        each of ``[services] report_hours`` under the best policy (columns
        ``{service}_{H}h``), worst hit first; ``policy`` names the policy.
    plan : PlanOutcome or None
    strikes : WorstCase or None
        The ``[defend]`` section: worst strikes, attack curve, protection ranking.
    footprints : geopandas.GeoDataFrame or None
        Hazard footprints (one row per hazard, ``hazard`` and ``label`` columns).
    generators : tuple
        The scenario generators (one per hazard), for the methods section.
    hazard_labels : tuple of str
        What each hazard is, in words.
    pending : dict
        Part of the study -> why it did not run.
    timings_s : dict
        Step -> wall-clock seconds (for the log, not the report's numbers).
    versions : dict
        Package -> version.
    deficit : gridres.study.deficit.DeficitOutcome or None
        Power deficits over the events, with ``[demand]`` or ``[deficit]``: shedding
        against rotation, and one event hour by hour.
    """

    study: Any
    grid: Any
    out_dir: Path
    intact: dict[str, Any]
    n: int
    completed: int
    metrics: dict[str, dict[str, float]]
    p_shed: float
    records: pd.DataFrame
    buses: pd.DataFrame
    substations: pd.DataFrame
    branches: pd.DataFrame
    facilities: pd.DataFrame
    elements: pd.DataFrame
    contingency: pd.DataFrame | None = None
    restoration: dict[str, PolicyOutcome] | None = None
    plan: PlanOutcome | None = None
    towns: pd.DataFrame | None = None
    strikes: WorstCase | None = None
    footprints: Any = None
    generators: tuple[Any, ...] = ()
    hazard_labels: tuple[str, ...] = ()
    pending: dict[str, str] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    deficit: Any = None

    @property
    def total_load_mw(self) -> float:
        return float(self.intact.get("total_load_mw", 0.0))

    def best_policy(self, metric: str = "customer_hours") -> str | None:
        """The policy with the lowest mean ``metric`` (:func:`best_policy`)."""
        return best_policy(self.restoration, metric)


def best_policy(outcomes: dict[str, PolicyOutcome] | None,
                metric: str = "customer_hours") -> str | None:
    """The policy with the lowest mean ``metric`` (the first listed among equals); by
    energy not served where ``metric`` is unknown (customer-hours on a grid without
    customer data). None without outcomes."""
    if not outcomes:
        return None

    def mean(p: str, m: str) -> float:
        v = outcomes[p].metrics.get(m, {}).get("mean", math.nan)
        return math.nan if v is None else float(v)

    if not any(math.isfinite(mean(p, metric)) for p in outcomes):
        metric = "ens_mwh"
    return min(outcomes, key=lambda p: mean(p, metric) if math.isfinite(mean(p, metric))
               else math.inf)


def summary_document(res: StudyResults) -> dict[str, Any]:
    """The headline numbers of a study as one JSON-ready document (its keys are
    described in the README, "What a study writes")."""
    st = res.study
    subs = res.substations.sort_values(["p_loss_of_supply", "load_mw"], ascending=False)
    fac = res.facilities
    during = "p_dark_restoration" in fac
    order = (["p_dark_restoration", "hours_dark"] if during else ["p_dark"]) + ["people"]
    fac = fac.sort_values(order, ascending=False)
    metrics = {k: ({s: customer_count(v) for s, v in stats.items()}
                   if k == "customers_out" else stats) for k, stats in res.metrics.items()}
    doc: dict[str, Any] = {
        "study": st.name,
        "description": st.info.description,
        "seed": st.seed,
        "grid": res.grid.name,
        "grid_source": st.grid_spec,
        "scenarios": {"n": res.n, "completed": res.completed},
        "intact": {k: res.intact[k] for k in ("total_load_mw", "served_mw", "shed_mw",
                                               "max_loading") if k in res.intact},
        "p_shed": res.p_shed,
        "metrics": metrics,
        "substations": [{"id": str(i), "p_loss_of_supply": float(r.p_loss_of_supply),
                         "load_mw": float(r.load_mw)}
                        for i, r in subs.head(20).iterrows()],
        "facilities": [_facility_doc(i, r, during) for i, r in fac.iterrows()],
        "top_failed": [{"element": str(i), "p": float(r["p"])}
                       for i, r in res.elements.head(20).iterrows()] if len(res.elements)
        else [],
    }
    if res.restoration:
        doc["restoration"] = {p: o.metrics for p, o in res.restoration.items()}
        doc["best_policy"] = res.best_policy()
        if during:
            doc["facility_policy"] = res.best_policy()
    if res.plan is not None:
        p = res.plan
        doc["plan"] = {"status": p.status, "budget": p.budget, "message": p.message}
        if p.status == "done":
            doc["plan"].update(objective=p.objective, policy=p.policy, currency=p.currency,
                               n=p.n)
        if p.portfolio is not None:
            doc["plan"]["portfolio"] = [str(i) for i in p.portfolio.index]
            doc["plan"]["portfolio_cost"] = float(p.portfolio["cost"].sum()) \
                if "cost" in p.portfolio and len(p.portfolio) else 0.0
        if p.baseline and p.objective in p.baseline:
            doc["plan"]["objective_mean"] = {"baseline": p.baseline[p.objective],
                                             "with_portfolio": p.improved.get(p.objective)}
    if res.strikes is not None:
        doc["strikes"] = res.strikes.to_dict()
    if res.contingency is not None and len(res.contingency):
        top = res.contingency.head(10)
        doc["n_minus_1"] = [
            {"element": str(i),
             **{c: (customer_count(top.at[i, c]) if c == "customers_out"
                    else jsonable(top.at[i, c]))
                for c in ("shed_mw", "customers_out", "max_loading") if c in top}}
            for i in top.index]
    if res.deficit is not None:
        doc["deficit"] = res.deficit.to_dict()
    doc["pending"] = res.pending
    doc["files"] = {k: str(v) for k, v in res.files.items()}
    doc["versions"] = res.versions
    return jsonable(doc)


def _facility_doc(ident: Any, r: pd.Series, during: bool) -> dict[str, Any]:
    """One facility of summary.json: what it is, its demand and backup, ``p_dark``
    right after the event and, with restoration, ``p_dark_restoration`` and
    ``hours_dark`` from the best policy's runs (``facility_policy``)."""
    out = {"id": str(ident), "name": r["name"], "kind": r["kind"],
           "people": int(r["people"]), "demand_mw": float(r["demand_mw"]),
           "backup_mw": float(r["backup_mw"]), "backup_hours": float(r["backup_hours"]),
           "p_dark": float(r["p_dark"])}
    if during:
        out.update(p_dark_restoration=float(r["p_dark_restoration"]),
                   hours_dark=float(r["hours_dark"]))
    return out


def write_summary(res: StudyResults) -> Path:
    """Write ``summary.json`` (:func:`summary_document`) into the results directory,
    atomically; return its path."""
    return write_json(res.out_dir / "summary.json", summary_document(res))


def substation_points(grid, p_bus: pd.Series) -> pd.DataFrame:
    """One point per substation: mean position of its buses, the largest P(loss of
    supply) of its buses, its load and its customers.

    Returns
    -------
    DataFrame
        Indexed by substation name: ``x``, ``y``, ``p_loss_of_supply``, ``load_mw``,
        ``customers``, ``buses``.
    """
    b = grid.buses
    geom = b["geometry"]
    sub = b["substation"].where(b["substation"].astype(str) != "", b.index.to_series())
    df = pd.DataFrame({
        "substation": sub.astype(str).to_numpy(),
        "x": [g.x if g is not None and not g.is_empty else np.nan for g in geom],
        "y": [g.y if g is not None and not g.is_empty else np.nan for g in geom],
        "p": p_bus.reindex(b.index).fillna(0.0).to_numpy(float),
        "load_mw": b["load_mw"].clip(lower=0).to_numpy(float),
        "customers": b["customers"].to_numpy(float),
    }, index=b.index)
    out = df.groupby("substation", sort=False).agg(
        x=("x", "mean"), y=("y", "mean"), p_loss_of_supply=("p", "max"),
        load_mw=("load_mw", "sum"), customers=("customers", "sum"), buses=("p", "size"))
    return out


def element_places(grid, tokens) -> pd.DataFrame:
    """Where element tokens are, and what they are called: one row per token (index),
    ``name`` (the element's or substation's name where the grid has one, else its id)
    and ``geometry`` (a substation's mean bus position, a bus's point, a branch's line, a
    generator's bus; None without coordinates).

    Examples
    --------
    >>> from gridres.io import load_grid
    >>> places = element_places(load_grid("demo_region"), ["substation:Vellburg Nord"])
    >>> places.loc["substation:Vellburg Nord", "name"], places["geometry"].iloc[0].geom_type
    ('Vellburg Nord', 'Point')
    """
    from shapely.geometry import Point

    b, br, gens = grid.buses, grid.branches, grid.generators
    has = grid.has_geometry
    subs = substation_points(grid, pd.Series(0.0, index=b.index)) if has else None
    rows = []
    for token in tokens:
        kind, _, ident = str(token).partition(":")
        name, geom = ident, None
        if kind == "substation":
            if subs is not None and ident in subs.index:
                x, y = subs.at[ident, "x"], subs.at[ident, "y"]
                geom = Point(x, y) if np.isfinite(x) and np.isfinite(y) else None
        elif kind == "bus" and ident in b.index:
            name = str(b.at[ident, "name"] or ident) if "name" in b else ident
            geom = b.at[ident, "geometry"] if has else None
        elif kind == "branch" and ident in br.index:
            row = br.loc[ident]
            name = f"{ident} ({row['from_bus']} - {row['to_bus']})"
            geom = row.get("geometry") if "geometry" in br else None
        elif kind == "gen" and ident in gens.index:
            bus = str(gens.at[ident, "bus"])
            geom = b.at[bus, "geometry"] if has and bus in b.index else None
        rows.append({"element": str(token), "name": name,
                     "geometry": geom if geom is not None and not geom.is_empty else None})
    return pd.DataFrame(rows, columns=["element", "name", "geometry"]).set_index("element")


def software_versions() -> dict[str, str]:
    """Versions of gridres, Python and the libraries that produce the numbers."""
    out = {"python": platform.python_version(), "platform": platform.platform(terse=True)}
    for pkg in ("gridres", "numpy", "scipy", "pandas", "networkx", "geopandas", "shapely",
                "pyogrio", "pyproj", "pyarrow", "matplotlib", "jinja2"):
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            continue
    try:
        import pyogrio

        out["GDAL"] = pyogrio.__gdal_version_string__
    except (ImportError, AttributeError):
        pass
    return out
