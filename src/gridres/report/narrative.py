"""The report's words: an executive summary written from the numbers (the methods and
assumptions are :mod:`gridres.report.methods`).

Numbers are rounded for reading (two significant figures for quantities, whole
percentages) and every sentence is built only from results present in the study; a
part that did not run is said to be missing, never guessed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gridres.elements import element_labels
from gridres.results import StudyResults
from gridres.topology import grid_summary

__all__ = ["executive_summary", "fmt_num", "fmt_pct", "fmt_ci", "fmt_count", "hazard_text",
           "objective_words", "denoise", "element_names", "facility_view", "FacilityView",
           "cascade_words", "start_gap", "substation_name", "READING_GUIDE"]


# -- number formatting ----------------------------------------------------------------
def fmt_num(v: Any, unit: str = "") -> str:
    """A number for reading: two significant figures, thousands separated.

    Examples
    --------
    >>> fmt_num(123456.0), fmt_num(0.0), fmt_num(3.14159, "MW"), fmt_num(float("nan"))
    ('120,000', '0', '3.1 MW', 'n/a')
    """
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    v = float(v)
    if v == 0:
        text = "0"
    elif v.is_integer() and abs(v) < 1000:
        text = f"{int(v):,}"
    else:
        digits = 2 - int(math.floor(math.log10(abs(v)))) - 1
        r = round(v, digits)
        text = f"{r:,.0f}" if digits <= 0 else f"{r:,.{digits}f}"
    return f"{text} {unit}".strip()


def fmt_pct(fraction: Any) -> str:
    """A fraction as a percentage for reading (``0.004`` -> ``"0.4 %"``)."""
    if fraction is None or (isinstance(fraction, float) and not math.isfinite(fraction)):
        return "n/a"
    p = 100.0 * float(fraction)
    if p == 0:
        return "0 %"
    if p < 1:
        return f"{p:.1f} %"
    return f"{p:.0f} %"


def fmt_count(v: Any) -> str:
    """A count of customers or people for reading: whole, rounded like :func:`fmt_num`;
    ``n/a`` where unknown (a grid without customer data).

    Examples
    --------
    >>> fmt_count(84176.8), fmt_count(2.5), fmt_count(None)
    ('84,000', '2', 'n/a')
    """
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    return fmt_num(float(round(float(v))))


def fmt_ci(low: Any, high: Any, unit: str = "") -> str:
    """A confidence interval for reading.

    Examples
    --------
    >>> fmt_ci(-4407.5, 37370.7), fmt_ci(0.57, 5.77, "h")
    ('-4,400 to 37,000', '0.57 to 5.8 h')
    """
    return f"{fmt_num(low)} to {fmt_num(high, unit)}"


#: Plan objectives in words, with their unit.
_OBJECTIVES = {"ens_mwh": ("energy not served", "MWh"),
               "customer_hours": ("customer-hours without power", ""),
               "facility_hours_dark": ("facility-hours dark", ""),
               "people_hours": ("people-hours at dark facilities", "")}


#: What an attacker's worst case measures, in words, with its unit.
_THREATS = {"shed_mw": ("load lost", "MW"),
            "people_out": ("people at dark critical facilities", ""),
            "facilities_dark": ("critical facilities dark", ""),
            "customers_out": ("customers cut off", "")}


def objective_words(objective: str, threat: Any = None) -> tuple[str, str]:
    """A plan objective in words and its unit (``"ens_mwh"`` -> ``("energy not
    served", "MWh")``); ``worst_case`` in the words of the plan's ``threat``
    (:class:`gridres.redundancy.worstcase.Threat`): ``("load lost to the worst 2
    substation strikes", "MW")``.

    Examples
    --------
    >>> from gridres.redundancy.worstcase import Threat
    >>> objective_words("worst_case", Threat(2, "substation"))
    ('load lost to the worst 2 substation strikes', 'MW')
    """
    if objective == "worst_case":
        what, unit = _THREATS.get(getattr(threat, "objective", ""), ("damage", ""))
        if threat is None:
            return f"worst-case {what}", unit
        return f"{what} to the worst {threat.k} {threat.target} strikes", unit
    return _OBJECTIVES.get(objective, (objective.replace("_", " "), ""))


def _list(items: list[str]) -> str:
    if not items:
        return ""
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


def _plural(n: Any, word: str) -> str:
    """``2 buses``, ``1 transformer``."""
    if n == 1:
        return f"{n:g} {word}"
    return f"{n:g} {word}" + ("es" if word.endswith(("s", "x", "ch", "sh")) else "s")


def _the(name: str) -> str:
    """A common noun gets an article (``the 110 kV line A – B``), a proper name none
    (``Bus 11 LV``)."""
    return f"the {name}" if name[:1].islower() or name[:1].isdigit() else name


def describe_generator(gen: Any) -> str:
    """A scenario generator in plain words (its label where it is of an unknown kind).

    Examples
    --------
    >>> from types import SimpleNamespace as NS
    >>> camp = type("StrikeCampaign", (), {})()
    >>> camp.waves, camp.k, camp.every_h, camp.target, camp.weight = 4, 2, 24.0, "substation", "load_mw"
    >>> describe_generator(camp)
    '4 strikes 24 hours apart, each on 2 substations, the most loaded ones likelier'
    """
    kind = type(gen).__name__
    if kind == "HazardScenarios":
        fp, fs = gen.footprint, gen.fragility
        if hasattr(fp, "radius_km"):
            what = {"wind": f"a windstorm with gusts of up to {fp.peak:g} {fs.unit}",
                    "flood": f"a flood up to {fp.peak:g} {fs.unit} deep"}.get(
                fs.hazard, f"a {fs.hazard} hazard of intensity up to {fp.peak:g} {fs.unit}")
            if getattr(fp, "lon", None) is not None:
                where = f"{fp.lat:.2f}° N, {fp.lon:.2f}° E"
            else:
                where = f"({fp.x:g}, {fp.y:g})"
            if fp.falloff == "gaussian":
                return (f"{what}, fading with distance from {where} (bell-shaped, "
                        f"{fp.radius_km:g} km standard deviation)")
            return f"{what} at {where}, fading to nothing {fp.radius_km:g} km away"
        return f"{fs.hazard} zones from {Path(str(fp.path)).name}"
    if kind == "StrikeCampaign":
        targets = _plural(gen.k, str(gen.target))
        how = {"uniform": "any of them alike", "load_mw": "the most loaded ones likelier",
               "critical_mw": "those feeding critical facilities likelier"}.get(
            str(gen.weight), f"weighted by {gen.weight}")
        return (f"{_plural(gen.waves, 'strike')} {gen.every_h:g} hours apart, each on "
                f"{targets}, {how}")
    if kind == "AdaptiveStrikes":
        a = gen.attacker
        return (f"an attacker who strikes the {_plural(a.k, str(a.target))} whose loss hurts "
                f"most, {_plural(gen.waves, 'time')} {gen.every_h:g} hours apart, each time "
                "against the grid as the repairs have left it")
    if kind == "RandomOutages":
        return f"{_plural(gen.k, 'random ' + str(gen.elements))} out at once"
    if kind == "ExplicitScenarios":
        n = len(getattr(gen, "scenarios", ()))
        return "the listed outage" + ("s" if n != 1 else "")
    if kind == "WaveSequence":
        parts = [f"{describe_generator(g)}" + (f" after {t:g} hours" if t else "")
                 for t, g in gen.parts]
        return "; then ".join(parts)
    return str(getattr(gen, "label", "") or kind)


def hazard_text(res: StudyResults) -> str:
    """What was simulated, in a phrase."""
    if res.generators:
        return "; and ".join(describe_generator(g) for g in res.generators)
    labels = [x for x in res.hazard_labels if x]
    if labels:
        return "; ".join(labels)
    kinds = [str(h.get("kind") or h.get("type") or h.get("spec") or "scenario")
             for h in res.study.hazards]
    return ", ".join(kinds) or "outage scenarios"


def element_names(res: StudyResults, tokens: Any) -> dict[str, str]:
    """Readers' names of element tokens (``branch:ID`` -> ``380 kV line A – B``), see
    :func:`gridres.elements.element_labels`."""
    tokens = [str(t) for t in tokens]
    return dict(zip(tokens, element_labels(res.grid, tokens), strict=True))


def substation_name(res: StudyResults, name: Any) -> str:
    """A substation as readers know it: its name, or where it is a lone bus named by its
    id (MATPOWER cases), that bus's name."""
    name = str(name)
    b = res.grid.buses
    if name in b.index and "name" in b and str(b.at[name, "name"]).strip():
        return " ".join(str(b.at[name, "name"]).split())
    return name


@dataclass(frozen=True, eq=False)
class FacilityView:
    """The one measure of critical facilities that the report shows everywhere (summary,
    table, figure, map): from the restoration runs of the best policy where the study
    simulated restoration, else right after the event.

    Attributes
    ----------
    table : DataFrame
        The facilities worst first, with ``p`` (share of events in which the facility is
        dark: without grid power and without a backup that covers its demand) and, from
        restoration, ``hours`` (mean hours dark per event) and ``people_hours``.
    during_restoration : bool
    policy : str
        The restoration policy (empty without restoration).
    source : str
        Where the numbers come from, in words.
    """

    table: pd.DataFrame
    during_restoration: bool
    policy: str
    source: str


def facility_view(res: StudyResults) -> FacilityView:
    """The critical-facility measure of the report (:class:`FacilityView`)."""
    f = res.facilities.copy() if res.facilities is not None else pd.DataFrame()
    policy = res.best_policy() or ""
    if "p_dark_restoration" in f and policy:
        f["p"] = f["p_dark_restoration"]
        f["hours"] = f["hours_dark"]
        f["people_hours"] = f["hours"] * f["people"]
        source = (f"dark at some time before power is back, in the restoration simulation "
                  f"under the {policy} policy")
        order = ["p", "hours", "people"]
        during = True
    else:
        f["p"] = f["p_dark"] if "p_dark" in f else 0.0
        source = "dark right after the event, before any repair"
        order = ["p", "people"]
        during = False
    if len(f):
        f = f.sort_values(order, ascending=False)
    return FacilityView(f, during, policy if during else "", source)


#: How to read the statistics, said once in the report (beside the first table).
READING_GUIDE = (
    ("mean", "the average over all events."),
    ("median", "half of the events are better, half worse."),
    ("95th percentile", "1 event in 20 is worse than this."),
    ("worst 5 % average", "the average of the worst 1 event in 20: what to prepare for in "
     "a bad case (also called CVaR95)."),
    ("worst", "the worst event simulated."),
)


def cascade_words(study: Any) -> tuple[str, str]:
    """The study's overload rule in words: ``(limit, what happens)``, e.g.
    ``("110 % of its rating (the rating plus the study's 10 % margin)", "overloaded
    branches trip, one stage after another, until none is left")``."""
    c = study.cascade
    margin = float(c.margin)
    limit = (f"{fmt_num(100 * (1 + margin))} % of its rating (the rating plus the study's "
             f"{fmt_num(100 * margin)} % margin)" if margin else "100 % of its rating")
    mode = str(c.mode)
    what = {"trip": "overloaded branches trip, one stage after another, until none is left",
            "redispatch": "operators first shift generation and, where that is not enough, "
                          "cut load at least cost; branches still overloaded then trip"}.get(
        mode, "overloads are reported but nothing trips (no cascade)")
    return limit, what


# -- executive summary ----------------------------------------------------------------
def executive_summary(res: StudyResults) -> list[dict[str, str]]:
    """Paragraphs of the executive summary, each ``{"heading": ..., "text": ...}``.

    The four questions of a decision maker (what fails, who is affected, for how long,
    what helps most), answered from the study's numbers; every number is one that a
    table or figure of the report shows, with the same meaning.
    """
    g = grid_summary(res.grid)
    total = res.total_load_mw
    paras: list[dict[str, str]] = []
    shed = res.metrics.get("shed_mw", {})
    cust = _known(res.metrics.get("customers_out", {}))
    people = res.metrics.get("people_out", {})
    n_cust = g.get("customers")

    intro = (f"We simulated {res.completed:,} events on the {res.grid.name} grid "
             f"({g.get('buses', '?')} buses, {fmt_num(total, 'MW')} of demand")
    intro += f", {fmt_count(n_cust)} customers)" if n_cust else ")"
    intro += f". Each event is {hazard_text(res)}"
    drawn = any(type(gen).__name__ != "ExplicitScenarios" for gen in res.generators)
    intro += ("; what fails is drawn at random and differs from one event to the next."
              if drawn else ".")
    if res.completed < res.n:
        intro += (f" The run stopped after {res.completed:,} of {res.n:,} planned events; "
                  "the numbers cover those only.")
    if not n_cust:
        intro += (" The grid has no customer data: customer numbers are shown as n/a, "
                  "not as zero.")
    paras.append({"heading": "The study", "text": intro})

    # what fails
    text = f"In {fmt_pct(res.p_shed)} of the events some load is lost. "
    el = res.elements
    if el is not None and len(el):
        col = "p" if "p" in el.columns else el.columns[-1]
        names = element_names(res, el.head(3).index)
        top = [f"{_the(names[str(i)])} ({fmt_pct(r[col])} of events)"
               for i, r in el.head(3).iterrows()]
        text += f"The elements that fail most often are {_list(top)}. "
    subs = res.substations
    if subs is not None and len(subs) and subs["p_loss_of_supply"].max() > 0:
        hot = subs[subs["p_loss_of_supply"] > 0].sort_values(
            ["p_loss_of_supply", "load_mw"], ascending=False).head(3)
        items = [f"{substation_name(res, i)} ({fmt_pct(r.p_loss_of_supply)})"
                 for i, r in hot.iterrows()]
        text += ("The substations most often left without supply are "
                 f"{_list(items)} of the events.")
    else:
        text += "No substation lost supply in any simulated event."
    paras.append({"heading": "What fails", "text": text.strip()})

    # who is affected
    text = ""
    if shed:
        text = (f"Right after the event, {fmt_num(shed.get('mean'), 'MW')} of demand is "
                f"without power on average "
                f"({fmt_pct(shed.get('mean', 0) / total if total else math.nan)} of the "
                "grid's demand)")
        if cust:
            text += f", leaving {fmt_count(cust.get('mean'))} customers without power"
        text += (f". In the worst 5 % of events it is {fmt_num(shed.get('cvar95'), 'MW')}"
                 + (f" and {fmt_count(cust.get('cvar95'))} customers" if cust else "")
                 + " on average. ")
    view = facility_view(res)
    fac = view.table
    if len(fac):
        exposed = fac[fac["p"] >= 0.1]
        when = (f"at some time before power is back (under the {view.policy} restoration "
                "policy)" if view.during_restoration else "right after the event")
        if len(exposed):
            worst = exposed.assign(risk=exposed["p"] * exposed["people"]).sort_values(
                "risk", ascending=False).head(3)
            items = [f"{r['name'] or i} ({r['kind']}, {fmt_pct(r['p'])})"
                     for i, r in worst.iterrows()]
            text += (f"{len(exposed)} of {len(fac)} critical facilities are dark {when} in "
                     "at least 1 event in 10: without grid power and without a backup "
                     f"that covers their demand. They serve {fmt_count(exposed['people'].sum())}"
                     f" people. Most people at stake (the share of events dark times "
                     f"the people served): {_list(items)}.")
        else:
            text += (f"None of the {len(fac)} critical facilities is dark {when} in 1 event "
                     "in 10 or more.")
        if people:
            text += (f" Right after the event, {fmt_count(people.get('mean'))} people on "
                     "average depend on critical facilities that are dark.")
    paras.append({"heading": "Who is affected", "text": text.strip() or "No load was lost."})
    paras.append({"heading": "For how long", "text": _restoration_words(res)})
    paras.append({"heading": "What helps most", "text": _helps_words(res)})
    return paras


def _mean(metrics: dict, metric: str) -> float:
    v = metrics.get(metric, {}).get("mean")
    return math.nan if v is None else float(v)


def _known(stats: Any) -> dict:
    """Statistics that are known (customers on a grid without customer data are not)."""
    if not stats:
        return {}
    mean = stats.get("mean")
    return stats if mean is not None and math.isfinite(float(mean)) else {}


def _restoration_words(res: StudyResults) -> str:
    r = res.restoration
    st = res.study.restoration
    if not r or st is None:
        if st is not None:
            return ("Restoration was configured but could not be simulated: "
                    + res.pending.get("restoration", "the restoration module is not "
                                      "available") + ".")
        return ("Restoration was not simulated in this study (add a [restoration] section "
                "to see how long outages last).")
    best = res.best_policy()
    m = r[best].metrics
    crews = st.settings.crews if st.settings is not None else "the"
    events = m.get("events", {})
    n, lost = events.get("n", res.completed), events.get("with_loss")
    t50, t100 = m.get("t50_h", {}), m.get("t100_h", {})
    head = (f"With {crews} repair crew{'s' if crews != 1 else ''}, the best policy "
            f"({best}) ")
    if lost == 0:
        text = head + "has nothing to restore: no event lost load."
    else:
        text = (head + f"brings half of the lost load back {_within(t50)}, and all of it "
                f"{_within(t100)}.")
        text += (" Every event lost load." if lost == n else
                 f" These times count the {lost:,} events that lost load; in the other "
                 f"{n - lost:,} ({fmt_pct(events.get('share_no_loss'))}) no load was lost.")
        text += _model_gap(res, r[best])
    ens = m.get("ens_mwh", {})
    text += (f" Energy not served (ENS: the electricity that customers would have used "
             f"while without power) averages {fmt_num(ens.get('mean'), 'MWh')} per event")
    if len(res.grid.facilities):
        text += (f"; critical facilities spend "
                 f"{fmt_num(m.get('facility_hours_dark', {}).get('mean'))} facility-hours in "
                 "the dark")
    text += "."
    reached = t100.get("share_reached")
    if (reached is not None and math.isfinite(reached) and reached < 1.0
            and st.settings is not None):
        text += (f" In {fmt_pct(1.0 - reached)} of the events that lost load some load is "
                 f"still off at the end of the {fmt_num(st.settings.horizon_h)}-hour "
                 "horizon (counted as restored at the horizon).")
    stock_lasted = m.get("waves_stock_lasted", {})
    spares = dict(st.settings.spare_stock) if st.settings is not None else {}
    if spares:
        stock = ", ".join(_plural(v, {"bus": "bus spare"}.get(k, k))
                          for k, v in spares.items())
        text += f" Spares in stock at the start: {stock}."
        waves = res.records["n_waves"].mean() if "n_waves" in res.records else None
        if waves and waves > 1 and stock_lasted:
            text += (f" The stock lasts {fmt_num(stock_lasted.get('mean'))} of "
                     f"{fmt_num(waves)} waves on average before repairs wait for "
                     "ordered spares.")
    return text


def _within(stats: dict) -> str:
    """``within 20 hours in half of the events and within 26 hours in 9 of 10``."""
    median, p90 = fmt_num(stats.get("median"), "hours"), fmt_num(stats.get("p90"), "hours")
    if median == p90:
        return f"within {p90} in 9 events of 10"
    return f"within {median} in half of the events and within {p90} in 9 of 10"


def start_gap(res: StudyResults, outcome: Any) -> tuple[float, float] | None:
    """The mean load lost right after the event and at the start of ``outcome``'s
    restoration curve, where they differ by more than 1 % (or 1 MW): two numbers for
    one moment that the report must name both; None where they agree."""
    shed = res.metrics.get("shed_mw", {}).get("mean")
    curve = outcome.curve
    if shed is None or curve is None or not len(curve) or "lost_mw" not in curve:
        return None
    start = float(curve["lost_mw"].iloc[0])
    if abs(start - shed) <= max(1.0, 0.01 * abs(shed)):
        return None
    return float(shed), start


def _model_gap(res: StudyResults, outcome: Any) -> str:
    """Say so where the restoration simulation starts from another loss than the
    outage assessment right after the event, or counts other events with loss."""
    out = ""
    lost = outcome.metrics.get("events", {}).get("with_loss")
    if lost is not None and "shed_mw" in res.records:
        shed_events = int((res.records["shed_mw"] > 1e-6).sum())
        if shed_events != lost:
            out += (f" The restoration simulation finds load lost at some time in {lost:,} "
                    f"events, counting losses during the repairs too; right after the event "
                    f"load is lost in {shed_events:,}.")
    gap = start_gap(res, outcome)
    if gap is not None:
        out += (f" {'It' if out else 'The restoration simulation'} starts from "
                f"{fmt_num(gap[1], 'MW')} lost on average, where the assessment right after "
                f"the event finds {fmt_num(gap[0], 'MW')}; the restoration numbers follow "
                "the simulation.")
    return out


def _helps_words(res: StudyResults) -> str:
    parts = []
    r = res.restoration
    if r and len(r) > 1:
        metric = "customer_hours"
        value = {p: _mean(r[p].metrics, metric) for p in r}
        if not any(math.isfinite(v) for v in value.values()):
            metric = "ens_mwh"
            value = {p: _mean(r[p].metrics, metric) for p in r}
        what = {"customer_hours": "customer-hours without power",
                "ens_mwh": "energy not served"}[metric]
        b = res.best_policy(metric) or next(iter(r))
        vb = value[b]
        vw = max(value.values())
        worst = [p for p, v in value.items() if math.isclose(v, vw, rel_tol=1e-9)]
        if vw and math.isfinite(vw) and vw > 0 and b not in worst:
            parts.append(f"Among the restoration policies, {b} cuts {what} by "
                         f"{fmt_pct((vw - vb) / vw)} compared with {_list(worst)}.")
        elif b in worst:
            parts.append(f"The restoration policies compared give the same {what} in these "
                         "events.")
    plan = res.plan
    if plan is not None and plan.status == "done":
        parts += _plan_words(plan)
    elif plan is not None and plan.status == "failed":
        parts.append(f"The intervention plan could not be made: {plan.message}")
    elif plan is not None:
        parts.append(f"The intervention plan is pending: {plan.message}")
    c = res.contingency
    if c is not None and len(c) and "shed_mw" in c and c["shed_mw"].max() > 0:
        worst_mw = float(c["shed_mw"].max())
        tops = c.index[np.isclose(c["shed_mw"], worst_mw, rtol=1e-9, atol=1e-9)]
        names = element_names(res, tops)
        items = [_the(names[str(t)]) for t in tops]
        either = "either of " if len(items) > 1 else ""
        parts.append(f"In the intact grid, the single outage that costs most is {either}"
                     f"{_list(items)} ({fmt_num(worst_mw, 'MW')} lost); redundancy "
                     "there protects against ordinary failures as well.")
    return " ".join(parts) or "No policies or interventions were compared in this study."


def denoise(value: Any, scale: Any) -> float:
    """``value``, or 0 where it is floating-point noise next to ``scale`` (below a
    billionth of it): a saving of 2.8e-14 MWh on a base of 1,800 MWh is none.

    Examples
    --------
    >>> denoise(2.8e-14, 1800.0), denoise(-0.0, 5.0), denoise(0.61, 1800.0)
    (0.0, 0.0, 0.61)
    """
    v = float(value)
    s = abs(float(scale)) if scale is not None and math.isfinite(float(scale)) else 1.0
    return 0.0 if abs(v) <= 1e-9 * max(1.0, s) else v


def _amount(value: float, what: str, unit: str) -> str:
    """``57 MWh of energy not served``, ``16,000 customer-hours without power``."""
    return f"{fmt_num(value, unit)} of {what}" if unit else f"{fmt_num(value)} {what}"


def _worst_plan_words(plan: Any) -> list[str]:
    """What a plan that lowers the attacker's worst case found (exact numbers: no
    interval)."""
    what, unit = objective_words(plan.objective, plan.threat)
    cur = plan.currency or "cost units"
    before = plan.baseline.get("worst_case")
    after = plan.improved.get("worst_case")
    ranking = plan.ranking if plan.ranking is not None else pd.DataFrame()
    port = plan.portfolio if plan.portfolio is not None else pd.DataFrame()
    helps = ranking[ranking["benefit"] > 1e-9 * max(1.0, abs(before or 0))] if len(ranking) \
        else ranking
    if not len(helps):
        return [f"None of the {len(ranking)} interventions evaluated lowers the {what} "
                f"({fmt_num(before, unit)})."]
    ident, top = next(helps.iterrows())
    name = f"“{top['label']}” ({ident})" if top["label"] else str(ident)
    out = [f"Of the {len(ranking)} interventions evaluated, {name} lowers the {what} most "
           f"for its cost: by {fmt_num(top['benefit'], unit)} (from {fmt_num(before, unit)}) "
           f"for {fmt_num(top['cost'])} {cur}."]
    budget = (f"the budget of {fmt_num(plan.budget)} {cur}" if math.isfinite(plan.budget)
              else "no budget limit")
    if len(port):
        labels = port["label"] if "label" in port else pd.Series(port.index, index=port.index)
        items = [f"“{lab or i}”" for i, lab in labels.items()]
        out.append(f"Within {budget}, the recommended portfolio is {_list(items)} (cost "
                   f"{fmt_num(float(port['cost'].sum()))} {cur}), lowering the {what} from "
                   f"{fmt_num(before, unit)} to {fmt_num(after, unit)}.")
    else:
        out.append(f"No intervention that lowers it fits within {budget}.")
    return out


def _plan_words(plan: Any) -> list[str]:
    """What the plan found, in sentences: the best intervention for its cost with its
    benefit and interval, then the portfolio within the budget."""
    if plan.objective == "worst_case":
        return _worst_plan_words(plan)
    what, unit = objective_words(plan.objective)
    cur = plan.currency or "cost units"
    before = plan.baseline.get(plan.objective)
    after = plan.improved.get(plan.objective)
    ranking = plan.ranking if plan.ranking is not None else pd.DataFrame()
    port = plan.portfolio if plan.portfolio is not None else pd.DataFrame()
    if len(ranking):
        helps = ranking[[denoise(b, before) > 0 for b in ranking["benefit"]]]
    else:
        helps = ranking
    out: list[str] = []
    if not len(helps):
        out.append(f"None of the {len(ranking)} interventions evaluated lowers the expected "
                   f"{what} in these events.")
        return out
    ident, top = next(helps.iterrows())
    name = f"“{top['label']}” ({ident})" if top["label"] else str(ident)
    share = (f"; that is {fmt_pct(top['benefit'] / before)} of the expected "
             f"{fmt_num(before, unit)}" if before else "")
    text = (f"Of the {len(ranking)} interventions evaluated, {name} gives the most for its "
            f"cost: for {fmt_num(top['cost'])} {cur} it avoids "
            f"{_amount(top['benefit'], what, unit)} per event on average (95 % "
            f"confidence interval {fmt_ci(top['benefit_ci_low'], top['benefit_ci_high'], unit)}"
            f"{share}).")
    if not top["benefit_ci_low"] > 0:
        text += (f" With {plan.n:,} events the interval still includes no gain; run more "
                 "events to be sure of it.")
    out.append(text)
    budget = (f"the budget of {fmt_num(plan.budget)} {cur}" if math.isfinite(plan.budget)
              else "no budget limit")
    if len(port):
        labels = port["label"] if "label" in port else pd.Series(port.index, index=port.index)
        items = [f"“{lab or i}”" for i, lab in labels.items()]
        spent = float(port["cost"].sum())
        last = port.iloc[-1]
        gain = ""
        if before:
            gain = (f", lowering the expected {what} from {fmt_num(before, unit)} to "
                    f"{fmt_num(after, unit)} per event ({fmt_pct((before - after) / before)}"
                    f"; 95 % confidence interval of the saving "
                    f"{fmt_ci(last['ci_low'], last['ci_high'], unit)})")
        out.append(f"Within {budget}, the recommended portfolio is {_list(items)} (cost "
                   f"{fmt_num(spent)} {cur}){gain}.")
    else:
        out.append(f"No intervention that helps fits within {budget}.")
    return out
