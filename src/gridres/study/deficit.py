"""A study's power deficit: the ``[demand]`` and ``[deficit]`` sections as a restoration
timeline, their checks against the grid, and what the run found.

:func:`study_timeline` turns the two sections into the
:class:`~gridres.restoration.demand.Timeline` every restoration of the ensemble runs
with; :func:`check_deficit` reports what is wrong with them at their key paths (exit
65, or 66 for a file that does not exist). After the ensemble, :func:`deficit_outcome`
summarises it as a :class:`DeficitOutcome`:

* the events with a deficit (demand above capacity in an energised island, in the
  first policy's shedding run);
* shedding against rotation per policy over those events (customer-hours, longest
  outage per customer, Jain's index, energy not served);
* one event shown hour by hour: the event whose deficit is the median of those with
  one (the lower of two; the first such scenario among equals), replayed exactly as the
  ensemble ran it (its scenario and repair times drawn from ``default_rng([seed, i])``),
  with capacity and demand by the hour, the rotation's schedule table and hours off per
  group; and the mean hours off per group over every event.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gridres.errors import GridresError, InputNotFound
from gridres.restoration.demand import DemandSettings, Timeline, timeline
from gridres.restoration.rotation import RotationSettings, rotation_variant
from gridres.study.core import Study
from gridres.study.schema import Collector

__all__ = ["DeficitOutcome", "study_timeline", "check_deficit", "deficit_outcome",
           "COMPARED"]

logger = logging.getLogger(__name__)

#: Measures compared between shedding and rotation (means over the events with a
#: deficit).
COMPARED = ("customer_hours", "longest_outage_h", "mean_longest_outage_h",
            "jain_customers", "ens_mwh", "deficit_mwh")


def _horizon(study: Study) -> float:
    r = study.restoration
    return float(r.settings.horizon_h) if r is not None and r.settings is not None else 8760.0


def _demand(study: Study, capacity: bool) -> DemandSettings:
    d, f = study.demand, study.deficit
    kwargs: dict[str, Any] = {}
    if d is not None:
        kwargs.update(profile=d.profile, start=d.start or None,
                      season=None if d.season == "auto" else d.season,
                      temperature_c=d.temperature_c)
    if capacity and f is not None:
        kwargs.update(derate=f.derate, ties=tuple(f.ties), import_limit_mw=f.import_limit_mw,
                      capacity_file=f.capacity_file or None)
    return DemandSettings(**kwargs)


def _rotation(study: Study) -> RotationSettings | None:
    f = study.deficit
    if f is None or not f.rotation:
        return None
    return RotationSettings(groups=f.groups, block_h=f.block_h, protect=f.protect,
                            groups_file=f.groups_file or None, method=f.method)


def study_timeline(study: Study, grid: Any) -> Timeline | None:
    """The timeline of a study's restorations; None without ``[demand]`` and
    ``[deficit]`` (the static load)."""
    if study.demand is None and study.deficit is None:
        return None
    return timeline(grid, _demand(study, True), _rotation(study), horizon_h=_horizon(study))


def _key(message: str, keys: dict[str, tuple[str, ...]], default: tuple[str, ...]
         ) -> tuple[str, ...]:
    low = message.lower()
    for word, path in keys.items():
        if word in low:
            return path
    return default


def check_deficit(study: Study, grid: Any, out: Collector) -> None:
    """Build the study's timeline step by step (demand, capacity, groups) and report
    each problem at the key it is about."""
    if study.demand is None and study.deficit is None:
        return
    horizon = _horizon(study)
    steps = [
        (_demand(study, False), None, {"temperature": ("demand", "temperature_c"),
                                       "season": ("demand", "season"),
                                       "date and time": ("demand", "start"),
                                       "event starts": ("demand", "start")},
         ("demand", "profile")),
        (_demand(study, True), None, {"capacity": ("deficit", "capacity_file"),
                                      "import limit": ("deficit", "import_limit_mw"),
                                      "tie": ("deficit", "ties"),
                                      "branch": ("deficit", "ties"),
                                      "derat": ("deficit", "derate")},
         ("deficit",)),
        (_demand(study, True), _rotation(study), {"groups file": ("deficit", "groups_file"),
                                                  "group": ("deficit", "groups")},
         ("deficit", "groups")),
    ]
    if study.deficit is not None and study.deficit.groups_file:
        steps[2][2]["groups"] = ("deficit", "groups_file")
    for demand, rotation, keys, default in steps:
        if demand == DemandSettings() and rotation is None:
            continue
        try:
            timeline(grid, demand, rotation, horizon_h=horizon)
        except InputNotFound as exc:
            out.add(_key(str(exc), keys, default), str(exc).rstrip("."), 66)
            return
        except GridresError as exc:
            out.add(_key(str(exc), keys, default), str(exc).rstrip("."))
            return


@dataclass(frozen=True, eq=False)
class DeficitOutcome:
    """What a study found about power deficits (module notes).

    Attributes
    ----------
    policy : str
        The policy whose runs are shown hour by hour (the study's first).
    rotation : bool
        Whether deficits were also shared by rotating groups.
    n, with_deficit : int
        Events, and events with demand above capacity.
    scenario : int
        The event shown hour by hour (-1: none had a deficit).
    hours : pandas.DataFrame
        That event by clock hour: ``hour``, ``time``, ``demand_mw``, ``capacity_mw``,
        ``shortfall_mw``, ``served_mw`` (shedding) and, with rotation,
        ``served_rotation_mw``, ``switched_mw``, ``off`` (groups off, ``;``-joined).
    schedule : pandas.DataFrame or None
        Its rotation as published: ``group``, ``hour``, ``time``, ``off``,
        ``off_share``.
    groups : pandas.DataFrame or None
        Per group: ``group``, ``protected``, ``buses``, ``load_mw``, ``customers``,
        ``hours_off``, ``longest_off_h``, ``switching_operations`` (the event shown) and
        ``mean_hours_off`` (over every event).
    comparison : pandas.DataFrame or None
        Per policy and ``sharing`` (shedding, rotation): means of :data:`COMPARED` over
        the events with a deficit.
    event : pandas.DataFrame
        The event shown: :data:`COMPARED` of each of its runs (index: run name, as the
        ensemble records them).
    block_h : int or None
    profile, start, capacity : str
    notes : tuple of str
    """

    policy: str
    rotation: bool
    n: int
    with_deficit: int
    scenario: int
    hours: pd.DataFrame
    schedule: pd.DataFrame | None
    groups: pd.DataFrame | None
    comparison: pd.DataFrame | None
    event: pd.DataFrame
    block_h: int | None
    profile: str
    start: str
    capacity: str
    notes: tuple[str, ...] = ()

    @property
    def has_deficit(self) -> bool:
        return self.with_deficit > 0

    def to_dict(self) -> dict[str, Any]:
        """The headline numbers (for ``summary.json``)."""
        doc: dict[str, Any] = {
            "policy": self.policy, "rotation": self.rotation, "events": self.n,
            "events_with_deficit": self.with_deficit, "scenario_shown": self.scenario,
            "profile": self.profile, "start": self.start, "capacity": self.capacity,
            "block_h": self.block_h, "notes": list(self.notes)}
        if self.comparison is not None:
            doc["comparison"] = self.comparison.to_dict(orient="records")
        if self.groups is not None:
            doc["groups"] = self.groups.drop(columns=["buses"]).to_dict(orient="records")
        return doc


def _median_event(values: pd.Series) -> int | None:
    """Index label of the event whose value is the (lower) median of the positive
    values."""
    pos = values[values > 1e-6]
    if not len(pos):
        return None
    order = pos.sort_values(kind="stable")
    return order.index[(len(order) - 1) // 2]


def _comparison(records: pd.DataFrame, policies: list[str], events: pd.Index) -> pd.DataFrame:
    rows = []
    sub = records.loc[events]
    for p in policies:
        for sharing, name in (("shedding", p), ("rotation", rotation_variant(p))):
            if f"ens_mwh__{name}" not in sub:
                continue
            row = {"policy": p, "sharing": sharing}
            for m in COMPARED:
                col = f"{m}__{name}"
                row[m] = float(pd.to_numeric(sub[col], errors="coerce").mean()) \
                    if col in sub and len(sub) else math.nan
            rows.append(row)
    return pd.DataFrame(rows)


def deficit_outcome(study: Study, tl: Timeline, records: pd.DataFrame, evaluator: Any,
                    net: Any, generator: Any) -> DeficitOutcome:
    """Summarise the ensemble's deficits and replay the median event (module notes).

    Parameters
    ----------
    study : Study
    tl : Timeline
        The study's timeline (:func:`study_timeline`).
    records : pandas.DataFrame
        The ensemble's records (one row per scenario, ``scenario`` column).
    evaluator : gridres.study.evaluate.StudyEvaluator
        The ensemble's evaluator (replays the event).
    net : Network
    generator
        The ensemble's scenario generator.
    """
    policies = list(evaluator.policies)
    policy = policies[0]
    rot = tl.rotation is not None
    recs = records.set_index("scenario", drop=False) if "scenario" in records else records
    deficit = pd.to_numeric(recs.get(f"deficit_mwh__{policy}", pd.Series(dtype=float)),
                            errors="coerce").fillna(0.0)
    events = deficit.index[deficit > 1e-6]
    shown = _median_event(deficit)
    hours = pd.DataFrame(columns=["hour", "time", "demand_mw", "capacity_mw",
                                  "shortfall_mw", "served_mw"])
    schedule = groups = comparison = None
    event = pd.DataFrame(columns=list(COMPARED))
    notes: list[str] = []
    if shown is not None:
        rng = np.random.default_rng([study.seed, int(shown)])
        scenario = generator.sample(net, rng)
        runs = evaluator.restorations(net, scenario, rng)
        event = pd.DataFrame({name: {m: r.metrics[m] for m in COMPARED}
                              for name, r in runs.items()}).T
        shed = runs[policy].deficit
        hours = shed.hours[["hour", "time", "demand_mw", "capacity_mw", "shortfall_mw",
                            "served_mw"]].copy()
        if rot:
            rotating = runs[rotation_variant(policy)].deficit
            more = rotating.hours[["hour", "served_mw", "switched_mw", "off"]].rename(
                columns={"served_mw": "served_rotation_mw"})
            hours = hours.merge(more, on="hour", how="outer").sort_values("hour")
            schedule = rotating.table()
            groups = rotating.groups.copy()
            cols = [f"hours_off__{rotation_variant(policy)}__{g}" for g in groups["group"]]
            groups["mean_hours_off"] = [
                float(pd.to_numeric(recs[c], errors="coerce").fillna(0.0).mean())
                if c in recs else math.nan for c in cols]
            notes += [n for n in runs[rotation_variant(policy)].notes if "rotation" in n]
        comparison = _comparison(recs, policies, events) if rot else None
    return DeficitOutcome(
        policy=policy, rotation=rot, n=len(recs), with_deficit=len(events),
        scenario=-1 if shown is None else int(shown), hours=hours.reset_index(drop=True),
        schedule=schedule, groups=groups, comparison=comparison, event=event,
        block_h=tl.rotation.block_h if rot else None, profile=tl.profile,
        start=tl.start.isoformat(), capacity=tl.capacity or "the generators alive",
        notes=tuple(notes + list(tl.notes)))
