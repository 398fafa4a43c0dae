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

Repair-time factors are drawn once per scenario and shared by every policy (common
random numbers), exactly as :class:`~gridres.restoration.RestorationEvaluator` does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from gridres.cascade import CascadeOptions
from gridres.ensemble.summary import tail_stats
from gridres.model import Network
from gridres.restoration.metrics import FIELDS, record_fields
from gridres.restoration.policies import get_policy
from gridres.restoration.simulate import repair_multipliers, simulate
from gridres.scenarios.base import Scenario

__all__ = ["StudyEvaluator", "curve_hours", "curves_from_records",
           "facility_hours_from_records", "policy_metrics_from_records", "CURVE_POINTS"]

#: Points of the sampled restoration curve.
CURVE_POINTS = 241
#: Longest span of the sampled curve, hours (a month): beyond that the report's curve
#: would be a flat line; the metrics still cover the whole horizon.
CURVE_SPAN_H = 720.0


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
    """

    impact: Any
    assets: Any = None
    policies: tuple[str, ...] = ()
    priority: tuple[str, ...] = ()
    base_mw: float = 0.0
    times_h: tuple[float, ...] = field(default=())
    cascade: CascadeOptions = CascadeOptions()

    def __repr__(self) -> str:
        settings = self.assets.settings if self.assets is not None else None
        return (f"StudyEvaluator(impact={self.impact!r}, policies={list(self.policies)!r}, "
                f"priority={list(self.priority)!r}, settings={settings!r}, "
                f"cascade={self.cascade!r}, "
                f"curve=({len(self.times_h)} points to {self.times_h[-1] if self.times_h else 0:g} h))")

    def __call__(self, net: Network, scenario: Scenario,
                 rng: np.random.Generator) -> dict[str, Any]:
        rec = dict(self.impact(net, scenario, rng))
        if self.assets is None or not self.policies:
            return rec
        s = self.assets.settings
        mult = repair_multipliers(scenario, s.repair_sigma, rng)
        pri = self.priority if "priority-list" in self.policies else None
        results = {name: simulate(net, self.assets, scenario, get_policy(name, pri),
                                  multipliers=mult, cascade=self.cascade)
                   for name in self.policies}
        rec.update(record_fields(results))
        times = np.asarray(self.times_h, dtype=float)
        for name, res in results.items():
            rec[f"notes__{name}"] = ";".join(res.notes)
            rec.update(_sampled(res.curve, times, self.base_mw, name))
            hours = res.facilities["hours_dark"]
            for fid, h in zip(hours.index, hours.to_numpy(float), strict=True):
                rec[f"hours_dark__{name}__{fid}"] = float(h)
        return rec


def _sampled(curve: pd.DataFrame, times: np.ndarray, base_mw: float,
             policy: str) -> dict[str, float]:
    """Served share of the step curve at ``times`` (the last row before each time)."""
    t = curve["time_h"].to_numpy(float)
    lost = curve["lost_mw"].to_numpy(float)
    idx = np.searchsorted(t, times, side="right") - 1
    lost_at = np.where(idx >= 0, lost[np.clip(idx, 0, None)], 0.0)
    share = 1.0 - lost_at / base_mw if base_mw > 0 else np.ones_like(times)
    return {f"served__{policy}__{k}": float(v) for k, v in enumerate(np.clip(share, 0, 1))}


def policy_metrics_from_records(records: pd.DataFrame, policy: str,
                                horizon_h: float) -> dict[str, dict[str, float]]:
    """Tail statistics of every restoration metric of ``policy``; restoration times not
    reached within the horizon count as the horizon."""
    out: dict[str, dict[str, float]] = {}
    for m in FIELDS:
        col = f"{m}__{policy}"
        if col not in records:
            continue
        values = records[col].astype(float)
        if m.startswith("t") and m.endswith("_h"):
            reached = float(values.notna().mean()) if len(values) else float("nan")
            values = values.fillna(horizon_h)
            stats = tail_stats(values.to_numpy())
            stats["share_reached"] = reached
        else:
            stats = tail_stats(values.to_numpy())
        out[m] = stats
    return out


def curves_from_records(records: pd.DataFrame, policy: str,
                        times_h: tuple[float, ...]) -> pd.DataFrame:
    """Mean, 5th and 95th percentile of the served share over scenarios, per time."""
    cols = [f"served__{policy}__{k}" for k in range(len(times_h))]
    if not cols or cols[0] not in records:
        return pd.DataFrame(columns=["time_h", "served_fraction", "p05", "p95"])
    v = records[cols].to_numpy(float)
    return pd.DataFrame({
        "time_h": np.asarray(times_h, dtype=float),
        "served_fraction": v.mean(axis=0),
        "p05": np.quantile(v, 0.05, axis=0),
        "p95": np.quantile(v, 0.95, axis=0),
    })


def facility_hours_from_records(records: pd.DataFrame, policy: str,
                                facility_ids: Any) -> pd.Series:
    """Mean hours dark per facility under ``policy``."""
    prefix = f"hours_dark__{policy}__"
    data = {str(f): records[prefix + str(f)].astype(float).mean()
            for f in facility_ids if prefix + str(f) in records}
    return pd.Series(data, dtype=float, name="hours_dark")
