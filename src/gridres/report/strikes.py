"""The report's "Worst-case strikes" section, from a study's ``[defend]``
(:class:`gridres.adversary.WorstCase`): what a capable attacker would strike, how much
worse that is than bad luck, and what to protect first.

:func:`strikes_context` gives the section's words, figures and tables for the template
block ``strikes.html.j2``; :func:`strike_summary` its paragraph of the executive
summary; :func:`strike_methods` and :func:`strike_engineering` its parts of the methods
chapter and the engineering appendix. :func:`curve_figure` draws the attack curve
(``gridres attack --curve --out DIR`` saves it as ``curve.png`` too); the map of the
worst sets is :func:`gridres.report.maps.strike_map`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from gridres.report.figures import METRIC_LABELS, data_uri, ranges_json
from gridres.report.maps import can_map, strike_map
from gridres.report.narrative import (
    cascade_words,
    element_names,
    fmt_count,
    fmt_num,
    fmt_pct,
    substation_name,
)
from gridres.results import StudyResults

__all__ = ["STRIKE_LABELS", "curve_figure", "strikes_context", "strike_summary",
           "strike_methods", "strike_engineering", "strike_words"]

#: Axis labels of the strike objectives.
STRIKE_LABELS = {**METRIC_LABELS, "facilities_dark": "Critical facilities dark"}

#: Worst strikes and random failures (Okabe-Ito vermilion and blue).
_WORST, _RANDOM = "#D55E00", "#0072B2"

_TARGETS = {"substation": ("substation", "substations"), "bus": ("busbar", "busbars"),
            "branch": ("line or transformer", "lines or transformers"),
            "gen": ("generator", "generators")}
_KINDS = {"hospital": ("hospital", "hospitals"), "water": ("water works", "water works"),
          "heating": ("heating plant", "heating plants"),
          "telecom": ("telecom site", "telecom sites"), "shelter": ("shelter", "shelters"),
          "emergency": ("emergency service", "emergency services")}
#: The strike objectives in words.
_WORDS = {"shed_mw": "load lost", "people_out": "people at dark critical facilities",
          "facilities_dark": "critical facilities dark", "customers_out": "customers cut off"}
_NUMBERS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
            "ten")


# -- figure ---------------------------------------------------------------------------------
def curve_figure(points: pd.DataFrame, objective: str, target: str = "substation"
                 ) -> Figure:
    """The worst ``k`` strikes beside random ``k``-element failures, ``k = 1..K``.

    Parameters
    ----------
    points : pandas.DataFrame
        One row per ``k``: ``k``, ``worst``, ``random_mean``, ``random_p95``,
        ``random_max`` (and ``optimal``: a worst value that is only the best found is
        drawn hollow).
    objective : str
        The metric of the values (axis label).
    target : str
        What a strike destroys (``substation``, ``bus``, ``branch``, ``gen``).

    Returns
    -------
    Figure

    Examples
    --------
    >>> df = pd.DataFrame({"k": [1, 2], "worst": [90.0, 120.0], "random_mean": [20.0, 41.0],
    ...                    "random_p95": [60.0, 90.0], "random_max": [90.0, 120.0],
    ...                    "optimal": [True, True]})
    >>> fig = curve_figure(df, "shed_mw")
    >>> [ax.get_label() for ax in fig.axes]
    ['attack curve']
    """
    k = points["k"].to_numpy(int)
    worst = points["worst"].to_numpy(float)
    mean = points["random_mean"].to_numpy(float)
    p95 = points["random_p95"].to_numpy(float)
    optimal = (points["optimal"].to_numpy(bool) if "optimal" in points
               else np.ones(len(k), dtype=bool))
    many = _TARGETS.get(target, (target, target))[1]
    fig = Figure(figsize=(6.4, 3.6), layout="constrained")
    ax = fig.add_subplot(label="attack curve")
    ax.fill_between(k, mean, p95, color=_RANDOM, alpha=0.15, linewidth=0,
                    label="random failures: mean to 95th percentile")
    ax.plot(k, mean, color=_RANDOM, marker="o", linestyle="--",
            label=f"{many} failing at random (mean)")
    ax.plot(k, worst, color=_WORST, marker="o", linewidth=2,
            label=f"the worst {many} an attacker strikes")
    if (~optimal).any():
        ax.plot(k[~optimal], worst[~optimal], linestyle="none", marker="o",
                markerfacecolor="white", markeredgecolor=_WORST,
                label="the worst found (not proven worst)")
    for x, w, m in zip(k, worst, mean, strict=True):
        if m > 0 and math.isfinite(w / m) and w / m >= 1.05:
            ax.annotate(f"{w / m:.1f}× random", (x, w), textcoords="offset points",
                        xytext=(-8, 6), ha="right", fontsize=8, color=_WORST)
    ax.set_xlabel(f"{many.capitalize()} lost together (k)")
    ax.set_ylabel(STRIKE_LABELS.get(objective, objective))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlim(k.min() - 0.3, k.max() + 0.3)
    top = float(np.nanmax(np.r_[worst, p95])) if len(k) else 1.0
    ax.set_ylim(0.0, top * 1.15 if top > 0 else 1.0)
    ax.grid(True, alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    return fig


def _figure(fig: Figure, dpi: int = 110) -> dict[str, str]:
    try:
        return {"uri": data_uri(fig, dpi=dpi), "ranges": ranges_json(fig)}
    finally:
        fig.clear()


# -- words ----------------------------------------------------------------------------------
def _count(n: int, one: str, many: str) -> str:
    word = _NUMBERS[n] if 0 <= n < len(_NUMBERS) else f"{n:,}"
    return f"{word} {one if n == 1 else many}"


def _list(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _names(res: StudyResults, tokens: Any) -> list[str]:
    """Readers' names of element tokens: a substation's name, a line by its ends."""
    tokens = [str(t) for t in tokens]
    named = element_names(res, [t for t in tokens if not t.startswith("substation:")])
    return [substation_name(res, t.partition(":")[2]) if t.startswith("substation:")
            else named[t] for t in tokens]


def _facilities(res: StudyResults, ids: Any) -> str:
    """``"1 hospital (St. Anna Hospital) and 2 water works"``; ``""`` for none."""
    f = res.grid.facilities
    ids = [i for i in ids if i in f.index]
    if not ids:
        return ""
    parts = []
    kinds = f.loc[ids, "kind"].astype(str)
    for kind in dict.fromkeys(kinds):
        mine = kinds.index[kinds == kind]
        one, many = _KINDS.get(kind, (kind, kind + "s"))
        text = f"{len(mine):,} {one if len(mine) == 1 else many}"
        if len(mine) <= 2 and "name" in f:
            labels = [str(f.at[i, "name"]) for i in mine if str(f.at[i, "name"]).strip()]
            if labels:
                text += f" ({_list(labels)})"
        parts.append(text)
    return _list(parts)


def strike_words(objective: str, value: float, total_mw: float) -> str:
    """The damage of a strike set in words: ``cut 910 MW, 35 % of the load``."""
    if objective == "shed_mw":
        share = f", {fmt_pct(value / total_mw)} of the load" if total_mw > 0 else ""
        return f"cut {fmt_num(value, 'MW')}{share}"
    if objective == "people_out":
        return f"leave {fmt_count(value)} people served by critical facilities without power"
    if objective == "facilities_dark":
        return f"darken {fmt_num(value)} critical facilities"
    if objective == "customers_out":
        return f"cut off {fmt_count(value)} customers"
    return f"do {fmt_num(value)} of {objective.replace('_', ' ')}"


def _value(o: str, value: float, total_mw: float) -> str:
    """A table cell of the objective: ``910 MW (35 %)``."""
    if o == "shed_mw":
        return f"{fmt_num(value, 'MW')} ({fmt_pct(value / total_mw)})" if total_mw > 0 \
            else fmt_num(value, "MW")
    return fmt_count(value) if o in ("people_out", "customers_out") else fmt_num(value)


def strike_paragraph(res: StudyResults) -> str:
    """The section's plain-language paragraph: the worst strikes, the facilities they
    darken, how much worse than random failures, and what protection caps."""
    wc = res.strikes
    assert wc is not None
    a, o, total = wc.attack, wc.attack.objective, wc.total_load_mw
    one, many = _TARGETS.get(a.target, (a.target, a.target + "s"))
    worst = wc.worst
    text = (f"{_count(a.k, 'strike', 'strikes').capitalize()} on "
            f"{_list(_names(res, worst.elements))} would "
            f"{strike_words(o, worst.value(o), total)}")
    if o != "shed_mw" and worst.shed_mw > 0:
        text += f" and {strike_words('shed_mw', worst.shed_mw, total)}"
    dark = _facilities(res, wc.dark.get("worst", ()))
    text += f", and darken {dark}." if dark else "."
    if a.optimal:
        text += (f" No other {_count(a.k, one, many)} would do worse: every set was "
                 "checked." if a.method == "exhaustive" else
                 f" No other {_count(a.k, one, many)} would do worse (proven).")
    else:
        text += (f" This is the worst of {a.evaluated:,} sets a search checked, not a "
                 "proven worst case.")
    if wc.curve is not None:
        p = wc.curve.points[-1]
        if p.random_mean > 0 and p.ratio is not None:
            text += (f" Losing {_count(p.k, one, many)} at random does "
                     f"{_value(o, p.random_mean, total)} on average: a thinking attacker "
                     f"does {fmt_num(p.ratio)} times the damage of bad luck.")
    cap = wc.capped
    if cap is not None and cap.protection:
        sites = _list(_names(res, cap.protection))
        after = cap.after.value(o)
        if cap.reduction > 0:
            text += (f" Protecting {sites} caps the worst {_count(a.k, 'strike', 'strikes')} "
                     f"at {_value(o, after, total)}, "
                     f"{fmt_pct(cap.reduction)} less; the attacker's best answer is then "
                     f"{_list(_names(res, cap.after.elements))}.")
        else:
            text += (f" No protection of {_count(cap.protect_budget, one, many)} lowers the "
                     "worst case: the attacker has answers elsewhere as strong.")
    return text


def strike_summary(res: StudyResults) -> list[dict[str, str]]:
    """The executive summary's paragraph on the worst case (empty without ``[defend]``)."""
    if res.strikes is None:
        return []
    return [{"heading": "What a capable attacker could do", "text": strike_paragraph(res)}]


# -- the section ----------------------------------------------------------------------------
def strikes_context(res: StudyResults) -> dict[str, Any] | None:
    """The words, figures and tables of the section (None without ``[defend]``)."""
    wc = res.strikes
    if wc is None:
        return None
    a, o, total = wc.attack, wc.attack.objective, wc.total_load_mw
    one, many = _TARGETS.get(a.target, (a.target, a.target + "s"))
    limit, cascade = cascade_words(res.study)
    rows = []
    for s in a.attacks:
        rows.append([str(s.rank), ", ".join(_names(res, s.elements)),
                     _value("shed_mw", s.shed_mw, total), fmt_count(s.customers_out),
                     fmt_count(s.people_out), fmt_num(s.facilities_dark)])
    ctx: dict[str, Any] = {
        "paragraph": strike_paragraph(res), "k": a.k, "many": many, "one": one,
        "objective": _WORDS.get(o, o), "cascade": cascade, "limit": limit,
        "worst": {"headers": ["Rank", f"{many.capitalize()} struck",
                              "Load lost (share of the load)", "Customers without power",
                              "People at dark critical facilities",
                              "Critical facilities dark"], "rows": rows},
        "exact": a.optimal and a.method == "exhaustive", "evaluated": f"{a.evaluated:,}",
        "sets": f"{a.sets:,}", "curve": None, "curve_table": None, "map": None,
        "protection": None,
    }
    if wc.curve is not None:
        c = wc.curve
        ctx["curve_table"] = {
            "headers": ["k", f"Worst {many} struck (the set)",
                        f"Worst: {_WORDS.get(o, o)}", "Random: mean", "Random: 95th percentile",
                        f"Random: worst of {c.n_random:,}", "Worst ÷ random mean"],
            "rows": [[str(p.k), ", ".join(_names(res, p.elements)), _value(o, p.worst, total),
                      _value(o, p.random_mean, total), _value(o, p.random_p95, total),
                      _value(o, p.random_max, total),
                      "n/a" if p.ratio is None else f"{fmt_num(p.ratio)}×"]
                     for p in c.points]}
        ctx["n_random"] = f"{c.n_random:,}"
        if len(c.points) > 1:
            ctx["curve"] = _figure(curve_figure(c.table(), o, a.target))
    cap = wc.capped
    if can_map(res.grid):
        sets = [(s.rank, s.elements) for s in a.attacks]
        protected = cap.protection if cap is not None else ()
        tokens = list(dict.fromkeys([t for _, e in sets for t in e] + list(protected)))
        ctx["map"] = _figure(strike_map(res.grid, sets, protected,
                                        dict(zip(tokens, _names(res, tokens), strict=True))),
                             dpi=130)
        ctx["map_protected"] = bool(protected)
    if wc.protection:
        prow = []
        for r in wc.protection:
            prow.append({"cells": [str(r.protect_budget), ", ".join(_names(res, r.protection)),
                                   _value(o, r.after.value(o), total), fmt_pct(r.reduction),
                                   ", ".join(_names(res, r.after.elements)),
                                   "yes" if r.exact else f"no (gap {fmt_pct(r.gap)})"],
                         "best": r is cap})
        ctx["protection"] = {"headers": [f"{many.capitalize()} protected", "Which",
                                         f"Worst {_WORDS.get(o, o)} left",
                                         "Worst case lowered by", "The attacker's best answer",
                                         "Proven best"], "rows": prow,
                             "before": _value(o, wc.worst.value(o), total)}
    return ctx


# -- methods --------------------------------------------------------------------------------
def strike_methods(res: StudyResults) -> list[dict[str, Any]]:
    """The methods chapter's part on worst-case strikes (empty without ``[defend]``)."""
    wc = res.strikes
    if wc is None:
        return []
    a = wc.attack
    one, many = _TARGETS.get(a.target, (a.target, a.target + "s"))
    _, cascade = cascade_words(res.study)
    text = [
        f"The attacker strikes {_count(a.k, one, many)} at once; a struck {one} is "
        f"destroyed with everything on it. It picks the set that does the most damage "
        f"(here: {_WORDS.get(a.objective, a.objective)}), judged by the "
        f"same engine as the events, after which {cascade}.",
        ("Every possible set was evaluated, so the worst set is exact." if a.method ==
         "exhaustive" else "There are too many sets to evaluate them all; the worst set "
         "comes from an optimisation model or a search, and the report says whether it "
         "is proven worst.")]
    if wc.curve is not None:
        text.append(f"The attack curve sets the worst strikes on 1 to {a.k} {many} beside "
                    f"{wc.curve.n_random:,} random failures of as many {many}, drawn with the "
                    "study's seed: how much worse a thinking attacker is than bad luck.")
    if wc.protection:
        text.append("A protected site (passive protection, air-defence cover) cannot be "
                    "struck. For each number of sites, the protection chosen is the one "
                    "whose worst remaining attack does the least damage: a defender-"
                    "attacker problem, solved by adding the attacker's best answer to "
                    "each tried protection until the best protection and the attacker's "
                    "best answer to it agree.")
    return [{"title": "Worst-case strikes", "paragraphs": text, "items": []}]


def strike_engineering(res: StudyResults) -> list[dict[str, Any]]:
    """The engineering appendix's part on ``[defend]`` (empty without it)."""
    d = res.study.defend
    if d is None:
        return []
    rows = [(f"defend.{f.name}", _show(getattr(d, f.name)), f.metadata["doc"])
            for f in dataclasses.fields(d)]
    wc = res.strikes
    text = ("Strike sets are judged by the engine of the events with the study's cascade "
            "option. The attack evaluates every set where their number is within the "
            "budget, else the interdiction MILP (load lost without a cascade) or a search "
            "of greedy, pair, swap and random-restart moves; the protection is the "
            "decomposition of Brown, Carlyle, Salmerón and Wood (2006).")
    if wc is not None:
        a = wc.attack
        how = {"exhaustive": "evaluating every set", "milp": "the interdiction MILP",
               "search": "the search"}.get(a.method, a.method)
        text += (f" The worst set of {a.k} was found by {how} ({a.evaluated:,} of "
                 f"{a.sets:,} sets evaluated){'; proven worst' if a.optimal else ''}.")
    elif "defend" in res.pending:
        text += f" Not run: {res.pending['defend']}."
    return [{"title": "Worst-case strikes", "text": text, "rows": rows}]


def _show(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list | tuple):
        return ", ".join(map(str, v)) if v else "(none)"
    return str(v)
