"""The ensemble evaluator of a study: impact right after the event, then restoration
under every policy, with restoration curves and hours dark per facility.

:class:`StudyEvaluator` records, for each scenario, the fields of
:class:`~gridres.ensemble.evaluate.ImpactEvaluator` and, with restoration, the fields
of :class:`~gridres.restoration.RestorationEvaluator` (``{metric}__{policy}``) plus:

``served__{policy}__{k}`` (float)
    Share of the pre-event served load that is served at ``curve_hours[k]``
    (the restoration curve, sampled on a fixed grid of times so that curves can be
    averaged over scenarios).
``hours_dark__{policy}__{facility}`` (float)
    Hours the facility spends with neither grid power nor backup.
``services__{policy}`` (str)
    People without power and each service, sampled at ``service_hours`` (every 3 h up
    to a week), as JSON: ``{"total": {S: [...]}, "towns": {S: {town: [...]}},
    "lost_h": {facility: hours}}`` with only the series that are not all 0, and the
    hour each facility's service stopped reaching people.
``hours_off__{policy}+rotation__{group}`` (float)
    With a rotation: hours the group is switched off (for every rotating run).

Repair-time factors are drawn once per scenario and shared by every policy (common
random numbers), exactly as :class:`~gridres.restoration.RestorationEvaluator` does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from gridres.cascade import CascadeOptions
from gridres.model import Network
from gridres.restoration.demand import Timeline, policy_runs
from gridres.restoration.interface import RestorationResult
from gridres.restoration.metrics import record_fields
from gridres.restoration.policies import get_policy, needs_priority
from gridres.restoration.service_hours import SERVICE_KEYS
from gridres.restoration.simulate import repair_multipliers, simulate
from gridres.results import ServiceOutcome
from gridres.scenarios.base import Scenario

__all__ = ["StudyEvaluator", "curve_hours", "curves_from_records",
           "facility_outcomes_from_records", "CURVE_POINTS", "service_hours",
           "services_from_records"]

#: Points of the sampled restoration curve.
CURVE_POINTS = 241
#: Longest span of the sampled curve, hours (a month): beyond that the report's curve
#: would be a flat line; the metrics still cover the whole horizon.
CURVE_SPAN_H = 720.0


#: Step and span of the sampled services (hours).
SERVICE_STEP_H, SERVICE_SPAN_H = 3.0, 168.0


def service_hours(horizon_h: float) -> tuple[float, ...]:
    """Times at which people without each service are sampled: every 3 h from 0 to
    ``min(horizon_h, 168)`` hours."""
    span = float(min(horizon_h, SERVICE_SPAN_H))
    return tuple(np.arange(0.0, span + 1e-9, SERVICE_STEP_H).tolist())


def curve_hours(horizon_h: float) -> tuple[float, ...]:
    """Times at which restoration curves are sampled: ``CURVE_POINTS`` evenly spaced
    from 0 to ``min(horizon_h, 720)`` hours."""
    span = float(min(horizon_h, CURVE_SPAN_H))
    return tuple(np.round(np.linspace(0.0, span, CURVE_POINTS), 6).tolist())


@dataclass(frozen=True, eq=False)
class StudyEvaluator:
    """Impact and, when ``assets`` is given, restoration of every policy.

    Parameters
    ----------
    impact : ImpactEvaluator
    assets : gridres.restoration.Assets, optional
        Prepared restoration assets (carry the settings); None: impact only.
    policies : tuple of str
    priority : tuple of str
        Element tokens for the ``priority-list`` policy.
    base_mw : float
        Served load of the intact grid (the reference of the curves).
    times_h : tuple of float
        Where curves are sampled (see :func:`curve_hours`).
    cascade : CascadeOptions, optional
        Cascade mode and margin of the restoration's assessments (those of ``impact``).
    service_times_h : tuple of float
        Where services are sampled (see :func:`service_hours`); empty: not recorded.
    timeline : Timeline, optional
        Demand and capacity by the hour, and rotation
        (:func:`gridres.restoration.demand.timeline`); with a rotation, every policy
        also runs rotating groups (``P+rotation``).
    """

    impact: Any
    assets: Any = None
    policies: tuple[str, ...] = ()
    priority: tuple[str, ...] = ()
    base_mw: float = 0.0
    times_h: tuple[float, ...] = field(default=())
    cascade: CascadeOptions = CascadeOptions()
    service_times_h: tuple[float, ...] = ()
    timeline: Timeline | None = None

    def __repr__(self) -> str:
        settings = self.assets.settings if self.assets is not None else None
        return (f"StudyEvaluator(impact={self.impact!r}, policies={list(self.policies)!r}, "
                f"priority={list(self.priority)!r}, settings={settings!r}, "
                f"cascade={self.cascade!r}, timeline={self.timeline!r}, "
                f"curve=({len(self.times_h)} points to {self.times_h[-1] if self.times_h else 0:g} h))")

    @property
    def runs(self) -> list[str]:
        """Names of the restoration runs of every scenario: the policies, then (with a
        rotation) their rotating runs."""
        return [name for name, _, _ in policy_runs(self.policies, self.timeline)]

    def restorations(self, net: Network, scenario: Scenario,
                     rng: np.random.Generator) -> dict[str, RestorationResult]:
        """The restoration runs of one scenario, by name (what a record summarises; the
        repair times are drawn from ``rng`` as :meth:`__call__` draws them)."""
        mult = repair_multipliers(scenario, self.assets.settings.repair_sigma, rng)
        pri = self.priority if needs_priority(self.policies) else None
        return {name: simulate(net, self.assets, scenario, get_policy(policy, pri),
                               multipliers=mult, cascade=self.cascade, timeline=tl)
                for name, policy, tl in policy_runs(self.policies, self.timeline)}

    def __call__(self, net: Network, scenario: Scenario,
                 rng: np.random.Generator) -> dict[str, Any]:
        rec = dict(self.impact(net, scenario, rng))
        if self.assets is None or not self.policies:
            return rec
        results = self.restorations(net, scenario, rng)
        rec.update(record_fields(results))
        times = np.asarray(self.times_h, dtype=float)
        for name, res in results.items():
            rec[f"notes__{name}"] = ";".join(res.notes)
            rec.update(_sampled(res.curve, times, self.base_mw, name))
            hours = res.facilities["hours_dark"]
            for fid, h in zip(hours.index, hours.to_numpy(float), strict=True):
                rec[f"hours_dark__{name}__{fid}"] = float(h)
            if self.service_times_h and res.services is not None:
                rec[f"services__{name}"] = _services_blob(res.services, self.service_times_h)
            groups = res.deficit.groups if res.deficit is not None else None
            if groups is not None:
                for gid, h in zip(groups["group"], groups["hours_off"], strict=True):
                    rec[f"hours_off__{name}__{gid}"] = float(h)
        return rec


def _services_blob(services: Any, times: tuple[float, ...]) -> str:
    """The JSON text of ``services__{policy}`` (module notes)."""
    at = np.rint(services.at(np.asarray(times, dtype=float)))  # (T, keys, areas)
    total = at.sum(axis=2)
    doc: dict[str, Any] = {"total": {}, "towns": {}, "lost_h": {}}
    for k, key in enumerate(SERVICE_KEYS):
        if total[:, k].any():
            doc["total"][key] = total[:, k].astype(int).tolist()
            towns = {str(services.area_ids[a]): at[:, k, a].astype(int).tolist()
                     for a in np.flatnonzero(at[:, k, :].any(axis=0))}
            doc["towns"][key] = towns
    for row in services.facilities:
        if row["service_lost_h"] is not None:
            doc["lost_h"][row["id"]] = row["service_lost_h"]
    return json.dumps(doc, separators=(",", ":"))


def _sampled(curve: pd.DataFrame, times: np.ndarray, base_mw: float,
             policy: str) -> dict[str, float]:
    """Served share of the step curve at ``times`` (the last row before each time)."""
    t = curve["time_h"].to_numpy(float)
    lost = curve["lost_mw"].to_numpy(float)
    idx = np.searchsorted(t, times, side="right") - 1
    lost_at = np.where(idx >= 0, lost[np.clip(idx, 0, None)], 0.0)
    share = 1.0 - lost_at / base_mw if base_mw > 0 else np.ones_like(times)
    return {f"served__{policy}__{k}": float(v) for k, v in enumerate(np.clip(share, 0, 1))}


def curves_from_records(records: pd.DataFrame, policy: str, times_h: tuple[float, ...],
                        base_mw: float) -> pd.DataFrame:
    """The restoration curve of ``policy`` over the events, per time.

    Parameters
    ----------
    records : DataFrame
        Ensemble records with the sampled curve ``served__{policy}__{k}``.
    policy : str
    times_h : tuple of float
        The sampling times (:func:`curve_hours`).
    base_mw : float
        Served load of the intact grid (the curve's reference).

    Returns
    -------
    DataFrame
        ``time_h``; ``lost_mw`` (mean over events of the load still lost),
        ``lost_p10_mw`` and ``lost_p90_mw`` (10th and 90th percentile over events);
        ``served_fraction`` (mean share of the intact grid's load served) with ``p05``
        and ``p95``. At time 0 ``lost_mw`` is the mean load lost right after the event;
        its integral over time is the mean energy not served (within the sampled span).
    """
    cols = [f"served__{policy}__{k}" for k in range(len(times_h))]
    names = ["time_h", "lost_mw", "lost_p10_mw", "lost_p90_mw", "served_fraction", "p05",
             "p95"]
    if not cols or cols[0] not in records or not len(records):
        return pd.DataFrame(columns=names)
    v = records[cols].to_numpy(float)
    lost = (1.0 - v) * float(base_mw)
    return pd.DataFrame({
        "time_h": np.asarray(times_h, dtype=float),
        "lost_mw": lost.mean(axis=0),
        "lost_p10_mw": np.quantile(lost, 0.1, axis=0),
        "lost_p90_mw": np.quantile(lost, 0.9, axis=0),
        "served_fraction": v.mean(axis=0),
        "p05": np.quantile(v, 0.05, axis=0),
        "p95": np.quantile(v, 0.95, axis=0),
    }, columns=names)


def facility_outcomes_from_records(records: pd.DataFrame, policy: str,
                                   facility_ids: Any) -> pd.DataFrame:
    """Per facility under ``policy``: ``hours_dark`` (mean over every event of the
    hours without grid power and without backup) and ``p_dark`` (share of events in
    which it is dark at some time), indexed by facility id."""
    prefix = f"hours_dark__{policy}__"
    ids = [str(f) for f in facility_ids if prefix + str(f) in records]
    hours = {f: records[prefix + f].astype(float) for f in ids}
    return pd.DataFrame({
        "hours_dark": pd.Series({f: h.mean() for f, h in hours.items()}, dtype=float),
        "p_dark": pd.Series({f: float((h > 0).mean()) if len(h) else 0.0
                             for f, h in hours.items()}, dtype=float),
    }, index=pd.Index(ids, name="id"))


def services_from_records(records: pd.DataFrame, policy: str,
                          times_h: tuple[float, ...]) -> ServiceOutcome | None:
    """Aggregate the ``services__{policy}`` records (None where there are none)."""
    col = f"services__{policy}"
    if col not in records or not len(records):
        return None
    docs = [json.loads(x) if isinstance(x, str) and x else {} for x in records[col]]
    n = len(docs)
    times = np.asarray(times_h, dtype=float)
    data: dict[str, Any] = {"time_h": times}
    for key in SERVICE_KEYS:
        rows = np.array([d.get("total", {}).get(key, [0] * len(times)) for d in docs],
                        dtype=float).reshape(n, len(times))
        if rows.any():
            data[key] = rows.mean(axis=0)
            data[f"{key}_p95"] = np.quantile(rows, 0.95, axis=0)
    sums: dict[tuple[str, str], np.ndarray] = {}
    for d in docs:
        for key, towns in d.get("towns", {}).items():
            for town, series in towns.items():
                acc = sums.setdefault((town, key), np.zeros(len(times)))
                acc += np.asarray(series, dtype=float)
    town_rows = [{"town": town, "service": key, "time_h": float(t), "people": float(v / n)}
                 for (town, key), acc in sorted(sums.items()) for t, v in zip(times, acc,
                                                                            strict=True)]
    lost: dict[str, list[float]] = {}
    for d in docs:
        for fid, h in d.get("lost_h", {}).items():
            lost.setdefault(fid, []).append(float(h))
    fac = pd.DataFrame([{"id": f, "p_lost": len(h) / n, "median_lost_h": float(np.median(h))}
                        for f, h in lost.items()], columns=["id", "p_lost", "median_lost_h"])
    fac = fac.sort_values(["p_lost", "median_lost_h"], ascending=[False, True]).set_index("id")
    return ServiceOutcome(pd.DataFrame(data),
                          pd.DataFrame(town_rows, columns=["town", "service", "time_h",
                                                           "people"]), fac)
