"""The report's "Services" section: who goes without water, heat, telecom, health care,
shelter and emergency response while the grid is repaired, town by town.

:func:`services_ctx` turns a study's :class:`~gridres.results.ServiceOutcome` per policy
(and its towns table) into the template context of ``services.html.j2``: a figure of the
people without each service over time (one line per policy), a map of the towns, the
worst-hit towns, the facilities whose buffers run out first and a few sentences in plain
words ("After 12 hours, 310,000 people in Vellburg lose water when the reservoir of
Vellburg Water Works runs dry, in 1 event in 4"). :func:`services_summary` is the
paragraph of the executive summary. Every number is a mean over the events of the
study, under the policy named, as the tables of the results folder hold it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from gridres.report.figures import POLICY_COLOURS, POLICY_STYLES, data_uri, ranges_json
from gridres.report.narrative import facility_view, fmt_count, fmt_num, fmt_pct
from gridres.results import StudyResults
from gridres.service_data import SERVICES
from gridres.services import compile_services

__all__ = ["services_ctx", "services_summary", "services_figure", "towns_figure",
           "SERVICE_WORDS"]

#: Each service (and power) in words for readers.
SERVICE_WORDS = {"power": "power", "water": "water", "heat": "heat", "telecom": "telecom",
                 "health": "health care", "shelter": "shelter",
                 "emergency": "emergency response"}

#: What runs out when a facility's service stops reaching people.
_RUNS_OUT = {"water": "the reservoir of {f} runs dry",
             "heat": "homes heated by {f} cool below 15 °C",
             "telecom": "the batteries of {f} run flat",
             "health": "{f} can no longer treat patients",
             "shelter": "{f} loses power",
             "emergency": "{f} can no longer dispatch"}

#: Services shown in the town tables and map (the towns layer's).
TOWN_SERVICES = ("power", "water", "heat", "telecom")

#: Services the figure and the sentences speak of. Shelter is left to the tables: its
#: count is the people of the towns a shelter is for, not people who lose a place.
SPOKEN = ("power", "water", "heat", "telecom", "health", "emergency")


def _best(res: StudyResults) -> str | None:
    if res.towns is not None and len(res.towns) and "policy" in res.towns:
        return str(res.towns["policy"].iloc[0])
    if not res.restoration:
        return None
    return next(iter(res.restoration))


def _outcomes(res: StudyResults) -> dict[str, Any]:
    return {p: o.services for p, o in (res.restoration or {}).items()
            if o.services is not None}


def _fmt_thousands(v: float, _pos: Any = None) -> str:
    return f"{v / 1000:g}k" if abs(v) >= 1000 else f"{v:g}"


def services_figure(timelines: dict[str, pd.DataFrame], services: list[str]) -> Figure:
    """People without each service over time, one panel per service, one line per
    policy (colour and line style as the restoration figure's).

    The x axis ends a little after the last time anyone lacks a service; each panel's y
    axis runs from 0 to just above its largest value.
    """
    last = 0.0
    for df in timelines.values():
        t = df["time_h"].to_numpy(float)
        for s in services:
            if s in df:
                v = df[s].to_numpy(float)
                if (v > 0.5).any():
                    last = max(last, float(t[np.flatnonzero(v > 0.5)[-1]]))
    step = float(np.median(np.diff(next(iter(timelines.values()))["time_h"]))) \
        if len(next(iter(timelines.values()))) > 1 else 1.0
    end = last + 2 * step
    cols = min(3, len(services))
    rows = math.ceil(len(services) / cols)
    fig = Figure(figsize=(3.3 * cols, 2.5 * rows + 0.4))
    for k, s in enumerate(services):
        ax = fig.add_subplot(rows, cols, k + 1, label=f"without {s}")
        top = 0.0
        for j, (policy, df) in enumerate(timelines.items()):
            t = df["time_h"].to_numpy(float)
            v = df[s].to_numpy(float) if s in df else np.zeros(len(t))
            keep = t <= end
            ax.step(t[keep], v[keep], where="post", label=policy, linewidth=1.8,
                    color=POLICY_COLOURS[j % len(POLICY_COLOURS)],
                    linestyle=POLICY_STYLES[j % len(POLICY_STYLES)])
            top = max(top, float(v[keep].max(initial=0.0)))
        ax.set_xlim(0.0, end)
        ax.set_ylim(0.0, max(top * 1.08, 1.0))
        ax.set_title(f"Without {SERVICE_WORDS[s]}", fontsize=9.5)
        ax.yaxis.set_major_formatter(FuncFormatter(_fmt_thousands))
        ax.xaxis.set_major_locator(MaxNLocator(5, integer=True))
        ax.tick_params(labelsize=8)
        ax.spines[["top", "right"]].set_visible(False)
        ax.grid(True, color="#e5e5e5", linewidth=0.6)
        if k % cols == 0:
            ax.set_ylabel("People (mean per event)", fontsize=8.5)
        if k >= len(services) - cols:
            ax.set_xlabel("Hours after the event", fontsize=8.5)
    handles, labels = fig.axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), frameon=False,
               fontsize=8.5)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def towns_figure(towns: pd.DataFrame, grid: Any, column: str, label: str) -> Figure:
    """The towns as circles sized by population and coloured by ``column`` as a share
    of their people (the colour scale runs to the largest share), over the grid's
    lines."""
    pts = grid.towns["geometry"].reindex(towns.index)
    xy = np.array([(g.x, g.y) if g is not None and not g.is_empty else (np.nan, np.nan)
                   for g in (p.centroid if p is not None else None for p in pts)], dtype=float)
    ok = np.isfinite(xy).all(axis=1)
    share = (towns[column] / towns["population"].where(towns["population"] > 0)).fillna(
        0.0).to_numpy(float)
    fig = Figure(figsize=(7.0, 4.4))
    ax = fig.add_subplot(label="towns")
    b = grid.branches
    if "geometry" in b and b["geometry"].notna().any():
        for geom in b["geometry"].dropna():
            x, y = geom.xy
            ax.plot(x, y, color="#c8ccd2", linewidth=0.6, zorder=1)
    pop = towns["population"].to_numpy(float)
    size = 12.0 + 380.0 * np.sqrt(pop / max(pop.max(initial=1.0), 1.0))
    vmax = max(float(share[ok].max(initial=0.0)), 1e-6)
    sc = ax.scatter(xy[ok, 0], xy[ok, 1], s=size[ok], c=share[ok],
                    cmap="OrRd", vmin=0.0, vmax=vmax, edgecolors="#555555", linewidths=0.5,
                    zorder=3)
    hit = towns[ok].assign(_s=share[ok]).sort_values(
        ["_s", "population"], ascending=False)
    for ident in hit.index[:6]:
        i = towns.index.get_loc(ident)
        if share[i] > 0:
            ax.annotate(str(towns["name"].iloc[i] or ident), xy[i], xytext=(5, 4),
                        textcoords="offset points", fontsize=7.5, zorder=4)
    pad = 0.06 * max(float(np.ptp(xy[ok, 0])), float(np.ptp(xy[ok, 1])), 1e-6)
    ax.set_xlim(xy[ok, 0].min() - pad, xy[ok, 0].max() + pad)
    ax.set_ylim(xy[ok, 1].min() - pad, xy[ok, 1].max() + pad)
    ax.set_aspect(1.0 / math.cos(math.radians(float(np.nanmean(xy[ok, 1]))))
                  if abs(float(np.nanmean(xy[ok, 1]))) < 80 else "equal")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_color("#dddddd")
    bar = fig.colorbar(sc, ax=ax, fraction=0.035, pad=0.02)
    bar.set_label(label, fontsize=8.5)
    bar.ax.tick_params(labelsize=8)
    bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{100 * v:.0f} %"))
    fig.tight_layout()
    return fig


def _figure(make, *args, **kwargs) -> dict[str, str]:
    fig = make(*args, **kwargs)
    try:
        return {"uri": data_uri(fig, dpi=110), "ranges": ranges_json(fig)}
    finally:
        fig.clear()


def _names(res: StudyResults) -> dict[str, str]:
    f = res.grid.facilities
    return {str(i): (str(r.get("name")) if r.get("name") else str(i)) for i, r in f.iterrows()}


def _served(res: StudyResults) -> tuple[Any, dict[str, tuple[str, float, list[str]]]]:
    """Per facility: its service, the people who rely on it and the towns it serves."""
    model = compile_services(res.grid)
    names = np.array(SERVICES + ("",))
    out = {}
    served = model.served.tocsc()
    for k, fid in enumerate(model.fac_ids.astype(str)):
        col = served[:, k]
        areas = [str(model.area_ids[a]) for a in col.indices if col[a, 0] > 0.5]
        out[fid] = (str(names[model.service[k]]), float(model.people_served[k]), areas)
    return model, out


def _town_name(res: StudyResults, ident: str) -> str:
    t = res.grid.towns
    if ident in t.index and str(t.loc[ident, "name"]):
        return str(t.loc[ident, "name"])
    return ident or "the area without towns"


def _sentences(res: StudyResults, outcome: Any, served: dict, n: int = 3) -> list[str]:
    """Plain-language sentences about the facilities whose service reaches most people
    and stops in the most events."""
    fac = outcome.facilities
    if fac is None or not len(fac):
        return []
    names = _names(res)
    view = facility_view(res)  # what the summary says of each facility's power
    dark = (view.table["p"] if view.during_restoration and view.policy == _best(res)
            else pd.Series(dtype=float))
    rows = []
    for fid, r in fac.iterrows():
        service, people, towns = served.get(str(fid), ("", 0.0, []))
        if service not in SPOKEN or people < 0.5:
            continue
        rows.append((people * r["p_lost"], fid, service, people, towns, r))
    rows.sort(key=lambda x: (-x[0], str(x[1])))
    seen: set[str] = set()
    rows = [x for x in rows if not (x[2] in seen or seen.add(x[2]))]  # one per service
    out = []
    for _, fid, service, people, towns, r in rows[:n]:
        where = (_town_name(res, towns[0]) if len(towns) == 1 else
                 f"{len(towns)} towns" if towns else "its area")
        how = _RUNS_OUT.get(service, "{f} stops").format(f=names.get(str(fid), fid))
        when = ("Right after the event" if r["median_lost_h"] < 0.5 else
                f"After {fmt_num(r['median_lost_h'], 'hours')} (the median event)")
        text = (f"{when}, {fmt_count(people)} people in {where} lose "
                f"{SERVICE_WORDS[service]} when {how}; this happens in "
                f"{fmt_pct(r['p_lost'])} of the events")
        p_dark = float(dark.get(fid, math.nan))
        if fmt_pct(p_dark) != fmt_pct(r["p_lost"]) and p_dark > r["p_lost"]:
            # the summary gives the (higher) share of events the facility is dark
            text += (f" (it is without power in {fmt_pct(p_dark)}; in the others power "
                     "comes back before its buffer runs out)")
        out.append(text + ".")
    return out


def services_ctx(res: StudyResults) -> dict[str, Any] | None:
    """Template context of the Services section (None without services over time)."""
    outcomes = _outcomes(res)
    best = _best(res)
    if not outcomes or best not in outcomes:
        return None
    timelines = {p: o.timeline for p, o in outcomes.items()}
    shown = [s for s in SPOKEN
             if any(s in df and (df[s] > 0.5).any() for df in timelines.values())]
    ctx: dict[str, Any] = {"best": best, "policies": len(outcomes),
                           "outside_c": fmt_num(res.study.services.outside_temp_c, "°C"),
                           "figure": None, "map": None, "towns": None, "facilities": None,
                           "sentences": []}
    if shown:
        ctx["figure"] = _figure(services_figure, timelines, shown)
    _, served = _served(res)
    ctx["sentences"] = _sentences(res, outcomes[best], served)
    hours = list(res.study.services.report_hours)
    towns = res.towns
    if towns is not None and len(towns):
        mid = hours[len(hours) // 2]
        col = next((f"{s}_{mid:g}h" for s in ("water", "heat", "power")
                    if f"{s}_{mid:g}h" in towns and (towns[f"{s}_{mid:g}h"] > 0.5).any()),
                   None)
        if col is not None and "geometry" in res.grid.towns \
                and res.grid.towns["geometry"].notna().all():
            service = col.split("_", 1)[0]
            ctx["map"] = _figure(towns_figure, towns, res.grid, col,
                                 f"Share of people without {SERVICE_WORDS[service]} "
                                 f"after {mid:g} h")
            ctx["map_service"], ctx["map_hour"] = SERVICE_WORDS[service], fmt_num(mid, "h")
        cols = [f"{s}_{h:g}h" for s in TOWN_SERVICES for h in hours if f"{s}_{h:g}h" in towns]
        hit = towns[(towns[cols] > 0.5).any(axis=1)].head(12) if cols else towns.head(0)
        if len(hit):
            ctx["towns"] = {
                "hours": " · ".join(f"{h:g} h" for h in hours),
                "heads": [SERVICE_WORDS[s].capitalize() for s in TOWN_SERVICES],
                "rows": [[_town_name(res, str(i)), fmt_count(r["population"]),
                          *(" · ".join(fmt_count(r.get(f"{s}_{h:g}h", 0.0)) for h in hours)
                            for s in TOWN_SERVICES)] for i, r in hit.iterrows()],
                "more": max(0, int((towns[cols] > 0.5).any(axis=1).sum()) - len(hit))}
    fac = outcomes[best].facilities
    if fac is not None and len(fac):
        names = _names(res)
        model, _ = _served(res)
        storage = dict(zip(model.fac_ids.astype(str), model.storage_h, strict=True))
        f = res.grid.facilities
        first = fac.sort_values(["median_lost_h", "p_lost"], ascending=[True, False]).head(10)
        rows = []
        for fid, r in first.iterrows():
            fid = str(fid)
            service, people, _towns = served.get(fid, ("", 0.0, []))
            backup = float(f.loc[fid, "backup_hours"]) if float(f.loc[fid, "backup_mw"]) \
                >= float(f.loc[fid, "demand_mw"]) - 1e-9 and float(f.loc[fid, "backup_mw"]) > 0 \
                else 0.0
            st = storage.get(fid, 0.0)
            buffer = (f"{fmt_num(backup, 'h')} fuel, "
                      + ("buildings' heat" if not math.isfinite(st) or service == "heat"
                         else f"{fmt_num(st, 'h')} storage"))
            rows.append([f"{names.get(fid, fid)} ({fid})", SERVICE_WORDS.get(service, "-"),
                         fmt_count(people), buffer, fmt_pct(r["p_lost"]),
                         fmt_num(r["median_lost_h"], "h")])
        ctx["facilities"] = rows
    return ctx


def services_summary(res: StudyResults) -> dict[str, str] | None:
    """The executive summary's paragraph on services: the worst-hit towns and the
    first plain-language sentence (None without services over time)."""
    ctx_towns = res.towns
    outcomes = _outcomes(res)
    best = _best(res)
    if not outcomes or best not in outcomes:
        return None
    hours = list(res.study.services.report_hours)
    parts = []
    if ctx_towns is not None and len(ctx_towns):
        mid = hours[len(hours) // 2]
        worst = []
        def lacks(r: pd.Series, services: tuple[str, ...]) -> tuple[float, str]:
            return max((float(r.get(f"{s}_{mid:g}h", 0.0)), s) for s in services)

        svc = ("water", "heat", "telecom")
        order = sorted(ctx_towns.iterrows(), key=lambda x: (-lacks(x[1], svc)[0],
                                                             -lacks(x[1], ("power",))[0]))
        for ident, r in order[:3]:
            people, s = lacks(r, svc)
            if people <= 0.5:
                people, s = lacks(r, ("power",))
            if people > 0.5:
                worst.append(f"{_town_name(res, str(ident))} ({fmt_count(people)} without "
                             f"{SERVICE_WORDS[s]})")
        if worst:
            parts.append(f"The worst-hit towns {fmt_num(mid, 'hours')} after the event, on "
                         f"average under the {best} policy: " + "; ".join(worst) + ".")
    _, served = _served(res)
    sentences = _sentences(res, outcomes[best], served, n=1)
    parts += sentences
    if not parts:
        return None
    return {"heading": "Water, heat and telecom", "text": " ".join(parts)}
