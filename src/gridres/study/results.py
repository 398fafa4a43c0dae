"""What a study run produces, in one frozen object that the report and the results
directory are written from.

Every table is indexed by string ids. Parts of a study that were not configured (no
restoration, no plan) or could not run are None, and the report leaves their sections
out; ``pending`` says why, in words for the reader.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from gridres.study.core import Study

__all__ = ["PolicyOutcome", "PlanOutcome", "StudyResults", "RESTORATION_METRICS"]

#: Per-scenario restoration metrics and what they mean (units in the names).
RESTORATION_METRICS: dict[str, str] = {
    "ens_mwh": "energy not served",
    "customer_hours": "customer-hours without power",
    "facility_hours_dark": "facility-hours dark (critical sites without grid or backup)",
    "people_hours": "people-hours at dark critical facilities",
    "t50_h": "time until 50 % of the lost load is back",
    "t90_h": "time until 90 % of the lost load is back",
    "t100_h": "time until all load is back (capped at the horizon)",
    "waves_stock_lasted": "waves before a repair had to wait for an ordered spare",
}


@dataclass(frozen=True, eq=False)
class PolicyOutcome:
    """One restoration policy over the ensemble.

    Attributes
    ----------
    policy : str
    metrics : dict
        Metric name (see :data:`RESTORATION_METRICS`) -> tail statistics over the
        scenarios (``mean``, ``median``, ``p95``, ``cvar95``, ``max``).
    curve : pandas.DataFrame
        Restoration curve: ``time_h`` and ``served_fraction`` (mean over scenarios of
        the fraction of load served), and where known ``p05``/``p95`` bands.
    facility_hours : pandas.Series
        Mean hours dark per facility id.
    """

    policy: str
    metrics: dict[str, dict[str, float]]
    curve: pd.DataFrame
    facility_hours: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))


@dataclass(frozen=True, eq=False)
class PlanOutcome:
    """The intervention plan: ranked candidates and the chosen portfolio, or the reason
    it is pending (``status`` other than ``"done"``)."""

    status: str
    budget: float
    ranking: pd.DataFrame | None = None
    portfolio: pd.DataFrame | None = None
    baseline: dict[str, float] = field(default_factory=dict)
    improved: dict[str, float] = field(default_factory=dict)
    message: str = ""


@dataclass(frozen=True, eq=False)
class StudyResults:
    """Everything a study run found.

    Attributes
    ----------
    study : Study
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
        Every facility: ``name``, ``kind``, ``bus``, ``people``, ``p_dark`` and, with
        restoration, ``hours_dark`` under the best policy.
    elements : pandas.DataFrame
        Failed elements, most frequent first (from the ensemble summary).
    contingency : pandas.DataFrame or None
        N-1 ranking of the intact grid.
    restoration : dict of str to PolicyOutcome, or None
    plan : PlanOutcome or None
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
    """

    study: Study
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
    footprints: Any = None
    generators: tuple[Any, ...] = ()
    hazard_labels: tuple[str, ...] = ()
    pending: dict[str, str] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def total_load_mw(self) -> float:
        return float(self.intact.get("total_load_mw", 0.0))

    def best_policy(self, metric: str = "customer_hours") -> str | None:
        """The policy with the lowest mean ``metric``."""
        if not self.restoration:
            return None
        return min(self.restoration,
                   key=lambda p: self.restoration[p].metrics.get(metric, {}).get("mean",
                                                                                 float("inf")))
