"""Restoration metrics: pure functions over a run's step curve, and policy comparisons
over ensemble records.

Definitions
-----------
``lost_mw(t)``
    Pre-event served load minus served load at ``t`` (the intact grid's served load is
    the reference; a failure never lets the grid serve more than intact, so it is
    ``>= 0``).
``ens_mwh``
    Energy not served, ``∫ lost_mw dt`` from 0 to the end of the run (full restoration
    after the last wave, or the horizon).
``customer_hours``
    ``∫ customers_out dt``: customers that had power before the event and lack it (a
    partly shed bus counts its customers in proportion).
``facility_hours_dark``
    Hours a facility that had grid power before the event spends with neither grid power
    nor a mobile generator nor fuel in its backup's tank, summed over facilities (per
    facility in the result's ``facilities`` table, with the hours on backup and on a
    mobile generator); ``people_hours`` weighs them by the facility's ``people``, and
    ``people_affected`` counts the people of facilities that were dark at all.
``peak_lost_mw``
    The most load lost at one time during the run (the loss right after the event, or
    after a later wave).
``service_people_hours_{S}``
    ``∫ people without S dt`` for ``S`` in power, water, heat, telecom, health,
    shelter, emergency (:mod:`gridres.restoration.service_hours`; 0 for a grid without
    facilities, and for power in a grid without towns).
``t50_h``, ``t90_h``, ``t100_h``
    Hours from the first wave until half, 90 % and all of the lost load is back: until
    the lost load stays at or below 50 %, 10 % and 0 % of ``peak_lost_mw`` for the rest
    of the run (NaN if that is not reached within the horizon; 0 if no load was lost).
    "Half of the lost load back" is the one meaning of ``t50_h`` everywhere: in the
    JSON documents, the tables, the report's figures and words.
``waves_stock_lasted``
    Waves before the first wave with a repair whose spare was not on hand when the
    element failed (it had to come from an order); the number of waves if that never
    happened.
``longest_outage_h``, ``mean_longest_outage_h``, ``jain_customers``
    Outages per customer (:mod:`gridres.restoration.customers`): the longest continuous
    outage of any customer, each customer's longest averaged over those who lost power,
    and Jain's index of hours without power over customers.
``deficit_mwh``
    ``∫`` of the demand above capacity in energised islands
    (:mod:`gridres.restoration.demand`): what a shortage of generation forces off, by
    shedding or by rotation.

Over the events of an ensemble (:func:`policy_summary`), the losses are averaged over
every event, and the restoration times over the events that lost load only: an event
that lost nothing has nothing to restore, and counting its zero would make restoration
look faster than it is.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gridres.ensemble.summary import tail_stats
from gridres.errors import UsageError
from gridres.restoration.fleets import BACKUP, DARK, GRID, MOBILE
from gridres.restoration.interface import RestorationResult
from gridres.restoration.service_hours import SERVICE_KEYS, RunServices, run_services
from gridres.scenarios.base import as_rng
from gridres.services.model import ServiceModel
from gridres.tolerances import SAME_TIME_H

__all__ = [
    "METRICS",
    "FIELDS",
    "LOSS_METRICS",
    "TIME_METRICS",
    "CUSTOMER_METRICS",
    "policy_summary",
    "time_stats",
    "RunLog",
    "energy_not_served",
    "restoration_times",
    "status_hours",
    "summarize_run",
    "record_fields",
    "PairedDifference",
    "paired_difference",
    "compare_policies",
]

#: Per-scenario restoration metrics, in words for readers (units in the names). An
#: ensemble records each per policy (as ``{metric}__{policy}``).
METRICS: dict[str, str] = {
    "ens_mwh": "energy not served",
    "customer_hours": "customer-hours without power",
    "facility_hours_dark": "facility-hours dark (critical sites without grid or backup)",
    "people_hours": "people-hours at dark critical facilities",
    "peak_lost_mw": "most load lost at one time (MW)",
    "t50_h": "hours until half of the lost load is back",
    "t90_h": "hours until 90 % of the lost load is back",
    "t100_h": "hours until all of the lost load is back",
    "waves_stock_lasted": "waves before a repair had to wait for an ordered spare",
    "longest_outage_h": "longest continuous outage of any customer",
    "mean_longest_outage_h": "longest continuous outage per customer, averaged over the "
                             "customers who lost power",
    "jain_customers": "Jain's index of hours without power over customers (1 = equal)",
    "deficit_mwh": "energy of the demand above capacity in energised islands",
    **{f"service_people_hours_{s}": f"people-hours without {s}" for s in SERVICE_KEYS},
}

#: The metrics' names, in order.
FIELDS = tuple(METRICS)

#: The losses among them, which a plan of interventions can lower.
LOSS_METRICS = ("ens_mwh", "customer_hours", "facility_hours_dark", "people_hours",
                *(f"service_people_hours_{s}" for s in SERVICE_KEYS))

#: The restoration times among them: summarised over the events that lost load.
TIME_METRICS = ("t50_h", "t90_h", "t100_h")

#: Those that count customers: unknown on a grid without customer data.
CUSTOMER_METRICS = ("customer_hours", "longest_outage_h", "mean_longest_outage_h",
                    "jain_customers")

_TOL = 1e-6


def energy_not_served(times: np.ndarray, lost_mw: np.ndarray, t_end: float) -> float:
    """``∫ lost dt`` of a step function: ``lost_mw[k]`` holds from ``times[k]`` to
    ``times[k + 1]`` (the last value until ``t_end``).

    Examples
    --------
    >>> energy_not_served([0.0, 2.0, 5.0], [10.0, 4.0, 0.0], 5.0)
    32.0
    """
    t = np.append(np.asarray(times, dtype=float), float(t_end))
    return float(np.sum(np.asarray(lost_mw, dtype=float) * np.diff(t)))


def restoration_times(times: np.ndarray, lost_mw: np.ndarray, t_start: float = 0.0,
                      fractions: Sequence[float] = (0.5, 0.9, 1.0)) -> list[float]:
    """Hours from ``t_start`` until the lost load stays at or below ``(1 - x)`` of its
    peak, for each fraction ``x``.

    Parameters
    ----------
    times, lost_mw : array-like
        The step function (``lost_mw[k]`` from ``times[k]`` on). A run that ended with
        load still lost has its last value above 0.
    t_start : float
        When the event began (the first wave).
    fractions : sequence of float

    Returns
    -------
    list of float
        NaN where the level is not reached by the end of the curve; 0 for every
        fraction if no load was lost.

    Examples
    --------
    >>> restoration_times([0.0, 2.0, 5.0], [10.0, 4.0, 0.0])
    [2.0, 5.0, 5.0]
    """
    t = np.asarray(times, dtype=float)
    lost = np.asarray(lost_mw, dtype=float)
    peak = float(lost.max(initial=0.0))
    if peak <= _TOL:
        return [0.0 for _ in fractions]
    out = []
    for x in fractions:
        above = np.flatnonzero(lost > (1.0 - x) * peak + _TOL * max(peak, 1.0))
        if not len(above):
            out.append(0.0)
        elif above[-1] + 1 >= len(t):
            out.append(math.nan)
        else:
            out.append(max(0.0, float(t[above[-1] + 1] - t_start)))
    return out


def status_hours(times: np.ndarray, status: np.ndarray, counted: np.ndarray,
                 t_end: float) -> dict[int, np.ndarray]:
    """Hours each facility spends in each power status along a run.

    Parameters
    ----------
    times : ndarray, shape (K,)
        Start of each step (sorted); the last step lasts until ``t_end``.
    status : ndarray of int, shape (K, n_fac)
        Status codes (:data:`gridres.restoration.fleets.STATUS_NAMES`).
    counted : ndarray of bool, shape (n_fac,)
        Facilities counted (those with grid power before the event); 0 h for the rest.
    t_end : float

    Returns
    -------
    dict of int to ndarray, shape (n_fac,)
        Hours per status code.

    Examples
    --------
    >>> import numpy as np
    >>> h = status_hours(np.array([0.0, 4.0, 10.0]), np.array([[1], [3], [0]]),
    ...                  np.array([True]), 12.0)
    >>> float(h[BACKUP][0]), float(h[DARK][0]), float(h[GRID][0])
    (4.0, 6.0, 2.0)
    """
    times = np.asarray(times, dtype=float)
    status = np.asarray(status).reshape(len(times), -1)
    dt = np.clip(np.append(times[1:], float(t_end)) - times, 0.0, None)
    return {code: np.where(counted, dt @ (status == code), 0.0)
            for code in (GRID, BACKUP, MOBILE, DARK)}


def _status_counts(status: np.ndarray, counted: np.ndarray) -> pd.DataFrame:
    s = np.where(counted[None, :], status, GRID)
    return pd.DataFrame({"facilities_dark": (s == DARK).sum(axis=1),
                         "facilities_on_backup": (s == BACKUP).sum(axis=1),
                         "facilities_on_mobile": (s == MOBILE).sum(axis=1)})


@dataclass(frozen=True, eq=False)
class RunLog:
    """What one restoration run recorded, as plain values (the input of
    :func:`summarize_run`).

    Attributes
    ----------
    time_h, served_mw, lost_mw, customers_out : ndarray, shape (K,)
        The step curve: values from each time on.
    fac_status : ndarray of int8, shape (K, n_fac)
        Power status of each facility in each step
        (:data:`gridres.restoration.fleets.STATUS_NAMES`).
    fac_counted : ndarray of bool, shape (n_fac,)
        Facilities with grid power before the event.
    fac_ids : pandas.Index
    fac_kind : sequence of str
    fac_people : ndarray of int
    power_out : ndarray, shape (K, n_area) or None
        People without power per area of ``services`` in each step.
    services : ServiceModel or None
    outside_c : float
    fleets : dict
        Fuel deliveries, mobile generator connections and when the fuel stock ran out
        (:meth:`gridres.restoration.fleets.FacilityPower.log`).
    jobs : list of dict
        One per job: ``crew``, ``element``, ``kind``, ``wave``, ``fail_h``,
        ``travel_start_h``, ``arrive_h``, ``start_h``, ``end_h`` (NaN if not repaired),
        ``repair_h``, ``needs_spare``, ``spare_arrival_h`` (NaN until the spare is taken),
        ``restarts``.
    first_wave_h : float
    waves : int
    end_h : float
        When the run ended (full restoration or the horizon).
    notes : tuple of str
    """

    time_h: np.ndarray
    served_mw: np.ndarray
    lost_mw: np.ndarray
    customers_out: np.ndarray
    fac_status: np.ndarray
    fac_counted: np.ndarray
    fac_ids: pd.Index
    fac_kind: Sequence[str]
    fac_people: np.ndarray
    jobs: list[dict[str, Any]]
    first_wave_h: float
    waves: int
    end_h: float
    notes: tuple[str, ...] = ()
    power_out: np.ndarray | None = None
    services: ServiceModel | None = None
    outside_c: float = 0.0
    fleets: dict[str, Any] | None = None


#: Columns of a run's schedule, in order.
SCHEDULE_COLUMNS = ["crew", "element", "kind", "wave", "fail_h", "travel_start_h", "arrive_h",
                    "start_h", "end_h", "repair_h", "waited_for_spare_h", "spare",
                    "spare_arrival_h", "restarts"]


def summarize_run(log: RunLog, policy: str) -> RestorationResult:
    """The :class:`~gridres.restoration.interface.RestorationResult` of a finished run:
    its curve, schedule, facility hours and every metric of the module notes."""
    times, served, lost, cust = log.time_h, log.served_mw, log.lost_mw, log.customers_out
    t_end = log.end_h
    hours = status_hours(times, log.fac_status, log.fac_counted, t_end)
    dark = hours[DARK]
    curve = pd.DataFrame({"time_h": times, "served_mw": served, "lost_mw": lost,
                          "customers_out": cust})
    curve = pd.concat([curve, _status_counts(log.fac_status, log.fac_counted)], axis=1)
    services: RunServices | None = None
    if log.services is not None and log.power_out is not None and len(times):
        services = run_services(log.services, log.outside_c, times, log.fac_status,
                                log.power_out, max(t_end, float(times[-1])))
    service_hours = (services.people_hours() if services is not None
                     else dict.fromkeys(SERVICE_KEYS, 0.0))

    t50, t90, t100 = restoration_times(times, lost, log.first_wave_h)
    if t_end < (times[-1] if len(times) else 0.0):
        t_end = float(times[-1])
    rows = []
    for j in log.jobs:
        spare = ""
        arrival = math.nan
        if j["needs_spare"] and not math.isnan(j["spare_arrival_h"]):
            spare = "stock" if j["spare_arrival_h"] <= j["fail_h"] + SAME_TIME_H else "ordered"
            arrival = max(0.0, j["spare_arrival_h"])
        waited = (max(0.0, j["start_h"] - j["arrive_h"])
                  if j["needs_spare"] and not math.isnan(j["start_h"]) else 0.0)
        rows.append({**{k: j[k] for k in SCHEDULE_COLUMNS if k in j},
                     "waited_for_spare_h": waited, "spare": spare, "spare_arrival_h": arrival})
    schedule = pd.DataFrame(rows, columns=SCHEDULE_COLUMNS)
    n_waves = log.waves
    ordered = schedule.loc[schedule["spare"] == "ordered", "wave"]
    lasted = int(ordered.min()) if len(ordered) else n_waves
    people = log.fac_people
    facilities = pd.DataFrame({
        "kind": log.fac_kind, "people": people, "hours_dark": dark,
        "hours_on_backup": hours[BACKUP], "hours_on_mobile": hours[MOBILE],
        "people_hours": dark * people,
    }, index=pd.Index(log.fac_ids, name="id"))
    metrics: dict[str, Any] = {
        "ens_mwh": energy_not_served(times, lost, t_end),
        "customer_hours": energy_not_served(times, cust, t_end),
        "facility_hours_dark": float(dark.sum()),
        "people_hours": float((dark * people).sum()),
        "people_affected": int(people[dark > 0].sum()),
        "t50_h": t50,
        "t90_h": t90,
        "t100_h": t100,
        "peak_lost_mw": float(lost.max(initial=0.0)),
        "end_h": float(t_end),
        "repairs": int((schedule["end_h"].notna()).sum()),
        "unfinished": int(schedule["end_h"].isna().sum()),
        "waves": n_waves,
        "waves_stock_lasted": lasted,
        "crew_wait_for_spares_h": float(schedule["waited_for_spare_h"].sum()),
        "facility_hours_dark_by_facility": {
            str(i): float(h) for i, h in zip(log.fac_ids, dark, strict=True) if h > 0},
        **{f"service_people_hours_{k}": v for k, v in service_hours.items()},
        "service_people_hours": service_hours,
    }
    return RestorationResult(policy=policy, curve=curve, schedule=schedule,
                             facilities=facilities, metrics=metrics, notes=log.notes,
                             services=services, fleets=log.fleets or {})


def record_fields(results: Mapping[str, Any]) -> dict[str, float]:
    """Flat ensemble record fields ``{metric}__{policy}`` of :data:`FIELDS` from
    ``{policy: RestorationResult}``."""
    out: dict[str, float] = {}
    for policy, res in results.items():
        for f in FIELDS:
            out[f"{f}__{policy}"] = res.metrics[f]
    return out


# -- summaries over ensemble records ---------------------------------------------------
def time_stats(hours: Any, lost: Any, horizon_h: float | None = None) -> dict[str, float]:
    """Statistics of one restoration time over the events that lost load.

    Parameters
    ----------
    hours : array-like of float, shape (n,)
        The time of every event (NaN: not reached within the horizon).
    lost : array-like of bool, shape (n,)
        Events that lost load; the others are left out.
    horizon_h : float, optional
        Times not reached count as the horizon (a lower bound); None: they are left out
        of the statistics (``share_reached`` still counts them).

    Returns
    -------
    dict
        ``events`` (events that lost load), ``share_reached`` (of those, the share that
        reached the level within the horizon), ``median``, ``p90`` (9 events in 10 are
        back sooner), ``mean``, ``p95``, ``cvar95`` (the mean of the slowest 5 %) and
        ``max``, in hours; NaN where no event lost load.

    Examples
    --------
    >>> s = time_stats([0.0, 10.0, 20.0, float("nan")], [False, True, True, True], 50.0)
    >>> s["events"], round(s["share_reached"], 3), s["median"], s["max"]
    (3, 0.667, 20.0, 50.0)
    """
    x = np.asarray(hours, dtype=float)[np.asarray(lost, dtype=bool)]
    reached = np.isfinite(x)
    share = float(reached.mean()) if len(x) else math.nan
    x = np.where(reached, x, horizon_h) if horizon_h is not None else x[reached]
    stats = tail_stats(x)
    return {"events": int(np.count_nonzero(lost)),
            "share_reached": share, "median": stats["median"],
            "p90": float(np.quantile(x, 0.9)) if len(x) else math.nan,
            "mean": stats["mean"], "p95": stats["p95"], "cvar95": stats["cvar95"],
            "max": stats["max"]}


def _lost_load(df: pd.DataFrame, policy: str) -> np.ndarray:
    """Events in which ``policy``'s run lost load (``peak_lost_mw``; records without
    it: a ``t100_h`` other than 0)."""
    col = f"peak_lost_mw__{policy}"
    if col in df:
        return pd.to_numeric(df[col], errors="coerce").fillna(0.0).to_numpy(float) > _TOL
    t100 = pd.to_numeric(df[f"t100_h__{policy}"], errors="coerce").to_numpy(float)
    return ~(t100 == 0.0)


def policy_summary(records: Any, policy: str, horizon_h: float | None = None, *,
                   customers: bool = True) -> dict[str, dict[str, float]]:
    """Every restoration metric of one policy over the events of an ensemble.

    Parameters
    ----------
    records : pandas.DataFrame or iterable of dict
        Ensemble records with columns ``{metric}__{policy}`` (:func:`record_fields`).
    policy : str
    horizon_h : float, optional
        The simulation's horizon: restoration times not reached count as it.
    customers : bool
        Whether the grid counts customers (:attr:`gridres.model.Network.has_customers`);
        without, ``customer_hours`` is unknown: its statistics are NaN.

    Returns
    -------
    dict
        ``events``: ``n`` (events), ``with_loss`` (events that lost load under this
        policy's run) and ``share_no_loss``. For each loss of :data:`METRICS`
        (``ens_mwh``, ``customer_hours``, ``facility_hours_dark``, ``people_hours``,
        ``peak_lost_mw``, ``waves_stock_lasted``): ``mean``, ``median``, ``p95``,
        ``cvar95`` and ``max`` over every event
        (:func:`gridres.ensemble.tail_stats`). For each time of :data:`TIME_METRICS`:
        :func:`time_stats` over the events that lost load. Metrics without a column are
        left out.

    Examples
    --------
    >>> recs = [{"t50_h__greedy": 0.0, "t90_h__greedy": 0.0, "t100_h__greedy": 0.0,
    ...          "peak_lost_mw__greedy": 0.0, "ens_mwh__greedy": 0.0},
    ...         {"t50_h__greedy": 4.0, "t90_h__greedy": 6.0, "t100_h__greedy": 6.0,
    ...          "peak_lost_mw__greedy": 10.0, "ens_mwh__greedy": 50.0}]
    >>> s = policy_summary(recs, "greedy")
    >>> s["events"], s["t50_h"]["median"], s["ens_mwh"]["mean"]
    ({'n': 2, 'with_loss': 1, 'share_no_loss': 0.5}, 4.0, 25.0)
    """
    df = _frame(records)
    n = len(df)
    out: dict[str, dict[str, float]] = {}
    lost = _lost_load(df, policy) if n else np.zeros(0, bool)
    out["events"] = {"n": n, "with_loss": int(lost.sum()),
                     "share_no_loss": float(1.0 - lost.mean()) if n else math.nan}
    for m in FIELDS:
        col = f"{m}__{policy}"
        if col not in df:
            continue
        values = pd.to_numeric(df[col], errors="coerce").to_numpy(float)
        if m in CUSTOMER_METRICS and not customers:
            values = np.full(len(values), math.nan)
        out[m] = (time_stats(values, lost, horizon_h) if m in TIME_METRICS
                  else tail_stats(values))
    return out


# -- comparisons over ensemble records ------------------------------------------------
@dataclass(frozen=True)
class PairedDifference:
    """Mean of ``metric(a) - metric(b)`` over the same scenarios, with a confidence
    interval. Negative means ``a`` is better for a loss metric such as ENS."""

    metric: str
    a: str
    b: str
    n: int
    mean_a: float
    mean_b: float
    mean_diff: float
    ci_low: float
    ci_high: float
    level: float
    method: str


def _frame(records: Any) -> pd.DataFrame:
    if isinstance(records, pd.DataFrame):
        return records
    return pd.DataFrame(list(records))


def _column(df: pd.DataFrame, metric: str, policy: str) -> np.ndarray:
    col = f"{metric}__{policy}"
    if col not in df.columns:
        have = sorted({c.split("__", 1)[1] for c in df.columns if c.startswith(f"{metric}__")})
        raise UsageError(f"the records have no column {col!r}; policies recorded for "
                         f"{metric}: {', '.join(have) or 'none'}")
    return pd.to_numeric(df[col], errors="coerce").to_numpy(float)


def paired_difference(
    records: Any,
    metric: str,
    a: str,
    b: str,
    *,
    level: float = 0.95,
    method: str = "t",
    n_boot: int = 10_000,
    seed: int | np.random.Generator | None = None,
) -> PairedDifference:
    """Mean paired difference ``a - b`` of a metric over the same scenarios.

    Parameters
    ----------
    records : pandas.DataFrame or iterable of dict
        Ensemble records with columns ``{metric}__{policy}``.
    metric : str
        e.g. ``"ens_mwh"``.
    a, b : str
        Policy names.
    level : float
        Confidence level in (0, 1).
    method : {"t", "bootstrap"}
        Student-t interval of the mean difference, or a percentile bootstrap of it
        (``n_boot`` resamples drawn from ``seed``).
    seed : int or Generator, optional
        Required for ``bootstrap``.

    Returns
    -------
    PairedDifference
        Scenarios where either value is NaN are left out (``n`` counts the rest). With
        fewer than two scenarios the interval is NaN.

    Examples
    --------
    >>> recs = [{"ens_mwh__greedy": 10.0, "ens_mwh__as-listed": 12.0},
    ...         {"ens_mwh__greedy": 20.0, "ens_mwh__as-listed": 23.0},
    ...         {"ens_mwh__greedy": 30.0, "ens_mwh__as-listed": 34.0}]
    >>> d = paired_difference(recs, "ens_mwh", "greedy", "as-listed")
    >>> d.mean_diff, round(d.ci_low, 3), round(d.ci_high, 3)
    (-3.0, -5.484, -0.516)
    """
    if not 0 < level < 1:
        raise UsageError(f"The 'level' parameter of paired_difference must be in (0, 1). "
                         f"Got {level} instead.")
    if method not in ("t", "bootstrap"):
        raise UsageError(f"The 'method' parameter of paired_difference must be 't' or "
                         f"'bootstrap'. Got {method!r} instead.")
    df = _frame(records)
    xa, xb = _column(df, metric, a), _column(df, metric, b)
    ok = np.isfinite(xa) & np.isfinite(xb)
    xa, xb = xa[ok], xb[ok]
    d = xa - xb
    n = len(d)
    mean = float(d.mean()) if n else math.nan
    lo = hi = math.nan
    if n >= 2:
        if method == "t":
            from scipy.stats import t as student_t

            half = float(student_t.ppf(0.5 + level / 2, n - 1) * d.std(ddof=1) / math.sqrt(n))
            lo, hi = mean - half, mean + half
        else:
            rng = as_rng(seed)
            idx = rng.integers(0, n, size=(n_boot, n))
            means = d[idx].mean(axis=1)
            lo, hi = (float(v) for v in np.quantile(means, [0.5 - level / 2, 0.5 + level / 2]))
    return PairedDifference(
        metric=metric, a=a, b=b, n=n,
        mean_a=float(xa.mean()) if n else math.nan,
        mean_b=float(xb.mean()) if n else math.nan,
        mean_diff=mean, ci_low=lo, ci_high=hi, level=level, method=method,
    )


def compare_policies(
    records: Any,
    policies: Iterable[str],
    metric: str = "ens_mwh",
    baseline: str | None = None,
    *,
    level: float = 0.95,
    method: str = "t",
    seed: int | np.random.Generator | None = None,
) -> pd.DataFrame:
    """Expected value, p95 and paired difference against a baseline, per policy.

    Parameters
    ----------
    records : pandas.DataFrame or iterable of dict
    policies : iterable of str
    metric : str
    baseline : str, optional
        Policy the others are compared with (default: the first).
    level, method, seed
        As :func:`paired_difference`.

    Returns
    -------
    pandas.DataFrame
        Index ``policy``; columns ``n``, ``mean``, ``p95``, ``diff``, ``ci_low``,
        ``ci_high`` (the baseline's own row has difference 0 and no interval).
    """
    df = _frame(records)
    policies = list(policies)
    if not policies:
        raise UsageError("compare_policies needs at least one policy")
    baseline = baseline or policies[0]
    rows = []
    for p in policies:
        x = _column(df, metric, p)
        x = x[np.isfinite(x)]
        row = {"policy": p, "n": len(x), "mean": float(x.mean()) if len(x) else math.nan,
               "p95": float(np.quantile(x, 0.95)) if len(x) else math.nan,
               "diff": 0.0, "ci_low": math.nan, "ci_high": math.nan}
        if p != baseline:
            d = paired_difference(df, metric, p, baseline, level=level, method=method,
                                  seed=seed)
            row.update(diff=d.mean_diff, ci_low=d.ci_low, ci_high=d.ci_high)
        rows.append(row)
    return pd.DataFrame(rows).set_index("policy")
