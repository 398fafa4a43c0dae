"""The report's "Power deficit" section: when generation falls short of demand, how it
was shared (the engine's shedding of the same feeders, or rotating groups), one event
hour by hour with its published schedule, and hours off per group.

Shown only where a study's events had a deficit (:class:`gridres.study.deficit.
DeficitOutcome`, ``has_deficit``). :func:`deficit_ctx` is the section's template context
(``templates/deficit.html.j2``); :func:`deficit_summary`, :func:`deficit_methods` and
:func:`deficit_engineering` add its paragraph to the executive summary and its parts to
the methods and the appendix.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.dates import DateFormatter, DayLocator, HourLocator, date2num
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from gridres.report.figures import POLICY_COLOURS, data_uri, ranges_json
from gridres.report.narrative import fmt_num, fmt_pct, substation_name
from gridres.restoration.rotation import ROTATION_SUFFIX
from gridres.results import StudyResults

__all__ = ["deficit_ctx", "deficit_summary", "deficit_methods", "deficit_engineering",
           "capacity_figure", "hours_off_figure", "group_sentences", "DAYS_SHOWN",
           "policy_words"]

#: Days of the schedule shown as tables (the rest is in tables/deficit_schedule.csv).
DAYS_SHOWN = 3


def policy_words(name: str) -> str:
    """A run's name for readers: ``greedy+rotation`` -> ``greedy, rotating groups``.

    Examples
    --------
    >>> policy_words("greedy+rotation"), policy_words("critical-first")
    ('greedy, rotating groups', 'critical-first')
    """
    if name.endswith(ROTATION_SUFFIX):
        return name[: -len(ROTATION_SUFFIX)] + ", rotating groups"
    return name


def _shown(res: StudyResults):
    d = getattr(res, "deficit", None)
    return d if d is not None and d.has_deficit else None


def _times(hours: pd.DataFrame) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(pd.to_datetime(hours["time"]))


def _window(hours: pd.DataFrame) -> pd.DataFrame:
    """The first days of the event shown: up to :data:`DAYS_SHOWN` days from its start,
    ending a few hours after its last hour short of capacity within them."""
    t = _times(hours)
    first = t[0].normalize()
    inside = hours[np.asarray(t < first + pd.Timedelta(days=DAYS_SHOWN))]
    short = np.flatnonzero(inside["shortfall_mw"].to_numpy(float) > 1e-6)
    off = (np.flatnonzero(inside["off"].astype(str).str.len().to_numpy() > 0)
           if "off" in inside else np.zeros(0, int))
    last = max([*short, *off, 0]) + 6
    return inside.iloc[: last + 1]


def capacity_figure(hours: pd.DataFrame, rotation: bool) -> Figure:
    """Demand and capacity by the hour in the event shown, with the load served by
    shedding and (with rotation) by rotating groups.

    Parameters
    ----------
    hours : DataFrame
        :attr:`gridres.study.deficit.DeficitOutcome.hours` (its first days).
    rotation : bool

    Notes
    -----
    Hourly means drawn as steps over clock time; the y axis runs from the lowest to the
    highest value drawn, with a margin, so that the shortfall is visible.
    """
    t = _times(hours)
    edges = np.append(date2num(t.to_pydatetime()),
                      date2num((t[-1] + pd.Timedelta(hours=1)).to_pydatetime()))
    fig = Figure(figsize=(7.8, 3.6))
    ax = fig.add_subplot(label="capacity")

    def step(values, **kw):
        v = np.asarray(values, dtype=float)
        return ax.stairs(v, edges, baseline=None, **kw)

    demand = hours["demand_mw"].to_numpy(float)
    cap = hours["capacity_mw"].to_numpy(float)
    short = np.where(demand > cap, demand, cap)
    ax.stairs(short, edges, baseline=cap, fill=True, color="#d6604d", alpha=0.25,
              label="demand above capacity")
    step(hours["served_mw"], color=POLICY_COLOURS[1], linewidth=2.6, alpha=0.85,
         label="served, shedding")
    if rotation and "served_rotation_mw" in hours:
        step(hours["served_rotation_mw"], color=POLICY_COLOURS[2], linewidth=1.6,
             label="served, rotating groups")
    step(cap, color="#0072B2", linewidth=1.6, linestyle="--", label="capacity available")
    step(demand, color="#1d2329", linewidth=1.1, label="demand")
    values = np.concatenate([demand, cap, hours["served_mw"].to_numpy(float)]
                            + ([hours["served_rotation_mw"].to_numpy(float)]
                               if rotation and "served_rotation_mw" in hours else []))
    values = values[np.isfinite(values)]
    lo, hi = float(values.min()), float(values.max())
    pad = 0.06 * max(hi - lo, 1.0)
    ax.set_ylim(max(0.0, lo - pad), hi + pad)
    ax.set_xlim(edges[0], edges[-1])
    ax.xaxis.set_major_locator(DayLocator())
    ax.xaxis.set_minor_locator(HourLocator(byhour=range(0, 24, 6)))
    ax.xaxis.set_major_formatter(DateFormatter("%a %-d %b"))
    ax.set_ylabel("MW (mean over each hour)")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}"))
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=5, fontsize=7.5,
              frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(True, color="#e5e5e5", linewidth=0.6)
    ax.set_axisbelow(True)
    fig.tight_layout()
    return fig


def hours_off_figure(groups: pd.DataFrame, labels: list[str]) -> Figure:
    """Hours off per group: bars for the event shown, dots for the mean over every
    event."""
    g = groups.reset_index(drop=True)
    y = np.arange(len(g))[::-1].astype(float)
    fig = Figure(figsize=(7.2, 0.38 * len(g) + 1.1))
    ax = fig.add_subplot(label="hours off")
    ax.barh(y, g["hours_off"].to_numpy(float), height=0.6, color=POLICY_COLOURS[0],
            label="the event shown")
    if "mean_hours_off" in g:
        ax.scatter(g["mean_hours_off"].to_numpy(float), y, color="#1d2329", zorder=3, s=18,
                   label="mean over all events")
    top = float(np.nanmax(np.r_[g["hours_off"].to_numpy(float),
                                g.get("mean_hours_off", pd.Series([0.0])).to_numpy(float),
                                1.0]))
    ax.set_xlim(0.0, top * 1.08)
    ax.set_ylim(-0.6, len(g) - 0.4)
    ax.set_yticks(y, labels)
    ax.set_xlabel("Hours off")
    ax.legend(loc="lower right", fontsize=7.5, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(True, axis="x", color="#e5e5e5", linewidth=0.6)
    ax.set_axisbelow(True)
    fig.tight_layout()
    return fig


def _figure(make, *args) -> dict[str, str]:
    fig = make(*args)
    try:
        return {"uri": data_uri(fig, dpi=110), "ranges": ranges_json(fig)}
    finally:
        fig.clear()


def _group_names(res: StudyResults, groups: pd.DataFrame) -> list[str]:
    """``Group 3 (around Kaltenfeld)``: the substation of the group's largest load."""
    b = res.grid.buses
    out = []
    for _, r in groups.iterrows():
        buses = [x for x in str(r["buses"]).split(";") if x in b.index]
        where = ""
        if buses:
            top = b.loc[buses, "load_mw"].astype(float).idxmax()
            sub = str(b.at[top, "substation"]) if "substation" in b else ""
            where = substation_name(res, sub or top)
        kind = "Protected group" if bool(r["protected"]) else "Group"
        out.append(f"{kind} {r['group']}" + (f" (around {where})" if where else ""))
    return out


def _run_length(row: np.ndarray) -> int:
    best = run = 0
    for v in row:
        run = run + 1 if v else 0
        best = max(best, run)
    return best


def group_sentences(schedule: pd.DataFrame, names: dict[str, str],
                    protected: set[str]) -> tuple[str, list[str]]:
    """The plain words of one day of the schedule: the first calendar day on which a
    rotation group is off, for every group ("Group 3 is off 8 of 24 hours, never more
    than 4 in a row").

    Parameters
    ----------
    schedule : DataFrame
        :meth:`gridres.restoration.demand.DeficitRecord.table` rows (``group``,
        ``time``, ``off``).
    names : dict
        Group id -> its name for readers.
    protected : set of str

    Returns
    -------
    day : str
        The day, e.g. ``Thursday 16 January 2025``.
    sentences : list of str
    """
    t = pd.to_datetime(schedule["time"])
    day0 = t.dt.normalize()
    offs = schedule[schedule["off"].astype(bool) & ~schedule["group"].isin(protected)]
    if not len(offs):
        return "", []
    day = day0[offs.index].min()
    today = schedule[(day0 == day).to_numpy()]
    hours = len(today["time"].unique())
    out = []
    for gid, rows in today.groupby("group", sort=False):
        off = rows.sort_values("time")["off"].astype(bool).to_numpy()
        n, run = int(off.sum()), _run_length(off)
        name = names.get(str(gid), f"Group {gid}")
        if n == 0:
            out.append(f"{name} stays on all {hours} hours.")
        elif run == n:
            out.append(f"{name} is off {n} of {hours} hours, in one stretch.")
        else:
            out.append(f"{name} is off {n} of {hours} hours, never more than {run} in a "
                       "row.")
    return day.strftime("%A %-d %B %Y"), out


def _days(schedule: pd.DataFrame, ids: list[str], names: list[str]) -> list[dict[str, Any]]:
    """The schedule as utilities publish it: one table per day (groups × 24 hours) for
    the first :data:`DAYS_SHOWN` days with a group off."""
    t = pd.to_datetime(schedule["time"])
    day0 = t.dt.normalize()
    with_off = sorted(day0[schedule["off"].astype(bool)].unique())[:DAYS_SHOWN]
    out = []
    for day in with_off:
        today = schedule[(day0 == day).to_numpy()]
        rows = []
        for gid, name in zip(ids, names, strict=True):
            mine = today[(today["group"].astype(str) == gid).to_numpy()]
            h = pd.to_datetime(mine["time"]).dt.hour.to_numpy()
            cells = ["" for _ in range(24)]
            for k, off in zip(h, mine["off"].astype(bool).to_numpy(), strict=True):
                cells[int(k)] = "off" if off else "on"
            rows.append({"name": name, "cells": cells})
        out.append({"day": pd.Timestamp(day).strftime("%A %-d %B %Y"), "rows": rows})
    return out


def deficit_ctx(res: StudyResults) -> dict[str, Any] | None:
    """The section's context, or None where no event had a deficit."""
    d = _shown(res)
    if d is None:
        return None
    share = d.with_deficit / d.n if d.n else math.nan
    intro = (f"In {d.with_deficit:,} of the {d.n:,} events ({fmt_pct(share)}) the grid had "
             "less generation available than demand at some hour of the restoration, in "
             "at least one part of it that had power: generating units lost and not yet "
             f"back, with demand by the hour of the day ({d.profile} profile, events "
             f"starting {pd.Timestamp(d.start).strftime('%A %-d %B %Y, %H:%M')}).")
    ctx: dict[str, Any] = {"intro": intro, "rotation": d.rotation, "comparison": None}
    if d.rotation and d.comparison is not None and len(d.comparison):
        intro += (" Such a deficit can be shared in two ways. The engine sheds it: the "
                  "least important load first, the same feeders for as long as the "
                  "deficit lasts. Or groups of customers take turns: whole groups "
                  f"switched off in blocks of {d.block_h} hours, as few as cover the "
                  "deficit, each group in turn, critical facilities kept on. Both were "
                  "simulated with the same repairs; the table compares them over the "
                  f"{d.with_deficit:,} events with a deficit.")
        rows = []
        for _, r in d.comparison.iterrows():
            rows.append({"policy": r["policy"], "sharing": "rotating groups"
                         if r["sharing"] == "rotation" else "shedding",
                         "values": [fmt_num(r["customer_hours"]),
                                    fmt_num(r["longest_outage_h"], "h"),
                                    fmt_num(r["mean_longest_outage_h"], "h"),
                                    f"{r['jain_customers']:.2f}",
                                    fmt_num(r["ens_mwh"])]})
        ctx["comparison"] = {"heads": ["Customer-hours without power",
                                       "Longest outage of any customer (mean per event)",
                                       "Longest outage per customer (mean over those "
                                       "affected)", "Fairness (Jain's index, 1 = equal)",
                                       "Energy not served (MWh)"], "rows": rows}
    ctx["intro"] = intro
    hours = _window(d.hours)
    ev = d.event
    ctx["event"] = (f"The event shown is event {d.scenario} of the ensemble, the one whose "
                    "deficit is the median of those with one, under the "
                    f"{d.policy} policy. The figure shows its demand and the capacity "
                    "available hour by hour (means over each hour), the hours short of "
                    "capacity shaded, and the load served"
                    + (" when the deficit is shed and when groups rotate." if d.rotation
                       else "."))
    if d.rotation and len(ev):
        rot = ev.loc[d.policy + ROTATION_SUFFIX]
        shed = ev.loc[d.policy]
        ctx["event"] += (f" In this event shedding leaves {fmt_num(shed['customer_hours'])} "
                         "customer-hours without power and the longest outage of a customer "
                         f"is {fmt_num(shed['longest_outage_h'], 'h')}; rotating groups, "
                         f"{fmt_num(rot['customer_hours'])} customer-hours and at most "
                         f"{fmt_num(rot['longest_outage_h'], 'h')} in a row.")
    ctx["figure"] = _figure(capacity_figure, hours, d.rotation)
    ctx["days"], ctx["sentences"], ctx["day"], ctx["hours_off"] = [], [], "", None
    if d.rotation and d.schedule is not None and d.groups is not None:
        ids = [str(g) for g in d.groups["group"]]
        names = _group_names(res, d.groups)
        ctx["days"] = _days(d.schedule, ids, names)
        protected = {str(g) for g, p in zip(d.groups["group"], d.groups["protected"],
                                            strict=True) if p}
        ctx["day"], ctx["sentences"] = group_sentences(d.schedule, dict(zip(ids, names,
                                                                            strict=True)),
                                                       protected)
        ctx["hours_off"] = _figure(hours_off_figure, d.groups, names)
        ctx["groups_text"] = (
            f"Hours off per group in the event shown (bars) and on average over all "
            f"{d.n:,} events (dots). Groups are of similar load and compact on the map; "
            "protected groups hold the feeders of hospitals, water, heating, telecom, "
            "emergency services and shelters, and are switched off only when even every "
            "other group off is not enough.")
    ctx["notes"] = list(d.notes)
    return ctx


def deficit_summary(res: StudyResults) -> list[dict[str, str]]:
    """The executive summary's paragraph on deficits (none without one)."""
    d = _shown(res)
    if d is None:
        return []
    text = (f"In {d.with_deficit:,} of {d.n:,} events ({fmt_pct(d.with_deficit / d.n)}) "
            "generation fell short of demand during the restoration.")
    if d.rotation and d.comparison is not None and len(d.comparison):
        c = d.comparison.set_index(["policy", "sharing"])
        p = d.policy
        if (p, "rotation") in c.index and (p, "shedding") in c.index:
            rot, shed = c.loc[(p, "rotation")], c.loc[(p, "shedding")]
            text += (f" Rotating {int((~d.groups['protected']).sum())} groups in blocks of "
                     f"{d.block_h} hours instead of shedding the same feeders "
                     f"(under the {p} policy, over those events): the longest outage of a "
                     f"customer is {fmt_num(rot['longest_outage_h'], 'h')} instead of "
                     f"{fmt_num(shed['longest_outage_h'], 'h')} on average, the hours off "
                     f"are shared more equally (Jain's index {rot['jain_customers']:.2f} "
                     f"instead of {shed['jain_customers']:.2f}, 1 = everyone equal), at "
                     f"{fmt_num(rot['customer_hours'])} customer-hours instead of "
                     f"{fmt_num(shed['customer_hours'])}: shedding cuts the least "
                     "important load first, which serves few customers, while whole "
                     "groups hold many.")
    return [{"heading": "Power deficit", "text": text}]


def deficit_methods(res: StudyResults) -> list[dict[str, Any]]:
    """The methods chapter's part on demand over time and deficits."""
    st = res.study
    if getattr(st, "demand", None) is None and getattr(st, "deficit", None) is None:
        return []
    d = st.demand
    paras = []
    if d is not None:
        paras.append(
            f"Demand follows the hours of the event ({d.profile} profile): every "
            "customer's load changes with the hour of the day, the day of the week and "
            "the season, households peaking in the evening, trade during opening hours, "
            "industry in shifts, critical facilities around the clock; lost load and "
            "customer-hours count the demand of the hours in which they fall.")
    f = st.deficit
    if f is not None and f.rotation:
        paras.append(
            f"When generation falls short, the load is also shared by rotation: "
            f"{f.groups} groups of customers of similar load, compact on the map, take "
            f"turns in blocks of {f.block_h} hours counted from midnight; at the start "
            "of each block as few groups as cover the shortfall go off, those off least "
            "often so far first; a repair in the block switches groups back on early. "
            "Critical facilities' feeders stay on unless nothing else is enough. A "
            "customer shed by the engine is taken to stay off for as long as its bus "
            "sheds (the same feeders first).")
    items = [("customer-hours", "customers without power times the hours, summed."),
             ("longest outage of a customer", "the longest time any one customer is "
              "without power in a row."),
             ("fairness (Jain's index)", "how equally the hours without power are shared "
              "among all customers: 1 when everyone has as many, close to 0 when a few "
              "carry them all.")]
    return [{"title": "Power deficit: demand by the hour, and sharing a shortfall",
             "paragraphs": paras, "items": items}]


def deficit_engineering(res: StudyResults) -> list[dict[str, Any]]:
    """The appendix's part on ``[demand]`` and ``[deficit]``, every key with its value."""
    st = res.study
    rows = []
    for key in ("demand", "deficit"):
        section = getattr(st, key, None)
        if section is None:
            continue
        for f in dataclasses.fields(section):
            v = getattr(section, f.name)
            shown = ("(none)" if v is None or v == "" or v == [] else
                     ", ".join(map(str, v)) if isinstance(v, list) else
                     ", ".join(f"{k}: {x:g}" for k, x in v.items()) if isinstance(v, dict)
                     else ("true" if v is True else "false" if v is False else str(v)))
            rows.append((f"{key}.{f.name}", shown, f.metadata["doc"]))
    if not rows:
        return []
    text = ("Demand per bus and hour comes from load classes and typical daily shapes "
            "(constructed in the spirit of published standard load profiles, not their "
            "data) or a profile file; every clock hour where demand changes is assessed "
            "with the engine, as every failure and repair is. Capacity is the alive "
            "generators' pmax_mw after derating, import limits and a capacity file. "
            "Rotation plans each block with the part-1 scheduler (a MILP with HiGHS, or "
            "its heuristic) on supply and demand; the engine then assesses every step "
            "with the groups' load left out.")
    return [{"title": "Power deficit", "text": text, "rows": rows}]
