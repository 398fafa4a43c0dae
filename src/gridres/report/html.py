"""The study report: one self-contained HTML file (figures embedded, no external CSS,
scripts or fonts; a Content-Security-Policy forbids any request), rendered from
:class:`~gridres.results.StudyResults` with the jinja2 templates in
``report/templates``. :func:`write_report` is the report's entry point: it writes
report.html (and report.pdf) into the results directory of a study run.

Sections whose data a study does not have (no coordinates, no restoration, no plan, no
N-1 ranking) are left out.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from gridres.io.folder import held, write_path
from gridres.report.deficit import (
    deficit_ctx,
    deficit_engineering,
    deficit_methods,
    deficit_summary,
)
from gridres.report.figures import (
    contingency_figure,
    data_uri,
    distribution_figure,
    facility_figure,
    frontier_figure,
    ranges_json,
    restoration_figure,
)
from gridres.report.maps import EXPOSED, can_map, colour_limit, grid_map
from gridres.report.methods import engineering, methods
from gridres.report.narrative import (
    READING_GUIDE,
    cascade_words,
    denoise,
    element_names,
    executive_summary,
    facility_view,
    fmt_ci,
    fmt_count,
    fmt_num,
    fmt_pct,
    objective_words,
    start_gap,
    substation_name,
)
from gridres.report.pdf import write_pdf
from gridres.report.services import services_ctx, services_summary
from gridres.report.strikes import strike_summary, strikes_context
from gridres.results import StudyResults, write_summary

__all__ = ["render_report", "write_html", "write_report", "TEMPLATES"]

logger = logging.getLogger(__name__)

#: Folder of the report templates.
TEMPLATES = Path(__file__).resolve().parent / "templates"

_FILES = {
    "report.html": "this report",
    "report.pdf": "this report as PDF",
    "study.resolved.toml": "the study with every default filled in",
    "summary.json": "headline numbers for other programs",
    "results.gpkg": "layers for QGIS: buses, substations, branches, facilities, towns, "
                    "hazard",
    "tables": "CSV/Parquet tables: buses, substations, branches, facilities, scenarios, ...",
    "ensemble": "the ensemble's manifest and per-batch Parquet parts (resumable)",
    "plan": "the intervention plan: plan.json, interventions, portfolio, frontier",
}


def _env():
    import jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                              autoescape=jinja2.select_autoescape(["html", "j2"]),
                              undefined=jinja2.StrictUndefined, trim_blocks=True,
                              lstrip_blocks=True, keep_trailing_newline=True)


#: The statistics of the summary table, in order, with their column heads.
_STATS = (("mean", "mean"), ("median", "median"), ("p95", "95th percentile"),
          ("cvar95", "worst 5 % average"), ("max", "worst"))


def _stat_row(label: str, stats: dict[str, float], unit: str = "",
              count: bool = False) -> dict[str, Any]:
    cell = fmt_count if count else (lambda v: fmt_num(v, unit))
    return {"label": label, "values": [cell(stats.get(k)) for k, _ in _STATS]}


def _figure(make, *args, dpi: int = 110, **kwargs) -> dict[str, str]:
    """A figure as ``{"uri": data URI, "ranges": JSON of what its panels show}``."""
    fig = make(*args, **kwargs)
    try:
        return {"uri": data_uri(fig, dpi=dpi), "ranges": ranges_json(fig)}
    finally:
        fig.clear()


def _hours(stats: dict[str, Any]) -> str:
    """A restoration time: median, and within how long 9 events in 10 are back."""
    if not stats or stats.get("events", 1) == 0:
        return "no event lost load"
    return f"{fmt_num(stats.get('median'), 'h')} ({fmt_num(stats.get('p90'), 'h')})"


def _restoration_ctx(res: StudyResults) -> dict[str, Any] | None:
    if not res.restoration:
        return None
    best = res.best_policy()
    multi_wave = "n_waves" in res.records and (res.records["n_waves"] > 1).any()
    losses = [m for m in ("ens_mwh", "customer_hours", "facility_hours_dark",
                          "people_hours", "waves_stock_lasted")
              if any(m in o.metrics for o in res.restoration.values())
              and (m != "waves_stock_lasted" or multi_wave)
              and (m not in ("facility_hours_dark", "people_hours") or len(res.grid.facilities))]
    heads = {"ens_mwh": "Energy not served (MWh)",
             "customer_hours": "Customer-hours without power",
             "facility_hours_dark": "Facility-hours dark",
             "people_hours": "People-hours at dark facilities",
             "waves_stock_lasted": "Waves the spare stock lasts"}
    loss_rows, time_rows = [], []
    for policy, o in res.restoration.items():
        cells = []
        for m in losses:
            st = o.metrics.get(m, {})
            cells.append(f"{fmt_num(st.get('mean'))} ({fmt_num(st.get('p95'))})"
                         if st.get("mean") is not None and math.isfinite(st["mean"])
                         else "n/a")
        loss_rows.append({"policy": policy, "values": cells, "best": policy == best})
        time_rows.append({"policy": policy, "best": policy == best,
                          "values": [_hours(o.metrics.get(m, {}))
                                     for m in ("t50_h", "t90_h", "t100_h")]})
    events = res.restoration[best].metrics.get("events", {})
    n, lost = events.get("n", res.completed), events.get("with_loss", res.completed)
    reached = min((o.metrics.get("t100_h", {}).get("share_reached", 1.0) or 1.0)
                  for o in res.restoration.values())
    st = res.study.restoration
    horizon = st.settings.horizon_h if st is not None and st.settings is not None else None
    curves = {p: o.curve for p, o in res.restoration.items()
              if o.curve is not None and len(o.curve) and "lost_mw" in o.curve}
    figure, start, note = None, None, ""
    if curves and any((c["lost_mw"] > 0).any() for c in curves.values()):
        figure = _figure(restoration_figure, curves, band=best, total_mw=res.total_load_mw)
        start = fmt_num(float(curves[best]["lost_mw"].iloc[0]) if best in curves
                        else math.nan, "MW")
        gap = start_gap(res, res.restoration[best])
        if gap is not None:
            note = (f" The assessment right after the event, whose numbers the summary "
                    f"gives, finds {fmt_num(gap[0], 'MW')} lost on average: the restoration "
                    "simulation starts from another state of the grid.")
    counted = (f"all {n:,} events (every event lost load)" if lost == n else
               f"the {lost:,} events that lost load ({fmt_pct(events.get('share_no_loss'))} "
               "of the events lost none and are not counted)")
    return {"loss_heads": [heads[m] for m in losses], "loss_rows": loss_rows,
            "time_rows": time_rows, "events": f"{n:,}", "counted": counted, "best": best,
            "figure": figure, "start": start, "note": note,
            "unreached": fmt_pct(1.0 - reached) if reached < 1.0 else "",
            "horizon": fmt_num(horizon, "hours") if horizon else ""}


def _backup(r: pd.Series) -> str:
    if not r.get("backup_mw", 0) > 0:
        return "none"
    text = f"{fmt_num(r['backup_mw'], 'MW')} for {fmt_num(r['backup_hours'], 'h')}"
    if r["backup_mw"] < r.get("demand_mw", 0) - 1e-9:
        text += ", too small"
    return text


def _facility_ctx(res: StudyResults) -> dict[str, Any] | None:
    if res.facilities is None or not len(res.facilities):
        return None
    view = facility_view(res)
    f = view.table
    headers = ["Facility", "Kind", "People served", "Demand", "Backup",
               "Dark in (share of events)"]
    if view.during_restoration:
        headers += ["Hours dark (mean per event)", "People-hours dark (mean)"]
    rows = []
    for i, r in f.iterrows():
        cells = [f"{r['name']} ({i})" if r.get("name") else str(i), r["kind"],
                 fmt_count(r["people"]), fmt_num(r.get("demand_mw"), "MW"), _backup(r),
                 fmt_pct(r["p"])]
        if view.during_restoration:
            cells += [fmt_num(r["hours"]), fmt_num(r["people_hours"])]
        rows.append({"cells": cells, "alert": r["p"] >= EXPOSED})
    figure = None
    col = "hours" if view.during_restoration else "p"
    if (f[col] > 0).any():
        label = (f"Hours dark, mean per event ({view.policy} policy)"
                 if view.during_restoration else "Share of events dark right after the event")
        figure = _figure(facility_figure, f, col, label)
    return {"headers": headers, "rows": rows, "during": view.during_restoration,
            "policy": view.policy, "source": view.source, "figure": figure,
            "exposed": fmt_pct(EXPOSED)}


def _contingency_ctx(res: StudyResults) -> dict[str, Any] | None:
    c = res.contingency
    if c is None or not len(c):
        return None
    names = element_names(res, c.index[:15])
    limit, what = cascade_words(res.study)
    figure = None
    if "shed_mw" in c and (c["shed_mw"] > 0).any():
        figure = _figure(contingency_figure, c, "shed_mw", "Load lost (MW)",
                         names=element_names(res, c.sort_values("shed_mw", ascending=False)
                                             .index[:10]))
    over = f"Branches over {fmt_num(100 * (1 + float(res.study.cascade.margin)))} %"
    rows = []
    for ident, r in c.head(15).iterrows():
        rows.append([names.get(str(ident), str(ident)), fmt_num(r.get("shed_mw")),
                     fmt_count(r.get("customers_out")), fmt_count(r.get("people_out")),
                     fmt_num(r.get("dark_facilities")), fmt_num(r.get("islands")),
                     f"{fmt_num(100 * float(r.get('max_loading', math.nan)))} %",
                     fmt_num(r.get("overloaded"))])
    return {"headers": ["Outage", "Load lost (MW)", "Customers without power",
                        "People at dark facilities", "Dark facilities", "Islands",
                        "Worst loading (% of rating)", over],
            "rows": rows, "figure": figure, "limit": limit, "what": what,
            "count": f"{len(c):,}"}


def _table(df: pd.DataFrame | None, top: int = 20, index_name: str = "id") -> dict | None:
    if df is None or not len(df):
        return None
    part = df.head(top)
    headers = [index_name] + [str(c).replace("_", " ") for c in part.columns]
    rows = []
    for i, r in part.iterrows():
        rows.append([str(i)] + [_cell(v) for v in r.tolist()])
    return {"headers": headers, "rows": rows}


def _cell(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int | float) and not isinstance(v, bool):
        return fmt_num(v) if math.isfinite(float(v)) else "n/a"
    return str(v)


def _plan_ctx(res: StudyResults) -> dict[str, Any] | None:
    st = res.study.plan
    if st is None:
        return None
    p = res.plan
    ctx: dict[str, Any] = {"budget": fmt_num(st.budget), "objective": st.objective,
                           "n_candidates": len(st.candidates), "status": "pending",
                           "message": "", "ranking": None, "portfolio": None,
                           "candidates": None, "frontier": None, "intro": "",
                           "outcome": "", "beyond": "", "more": 0, "exact": False}
    if p is not None:
        ctx.update(status=p.status, message=p.message, budget=fmt_num(p.budget))
    if p is not None and p.status == "done":
        ctx.update(_plan_done(p))
    if ctx["status"] != "done" and st.candidates:
        keys: list[str] = []
        for cand in st.candidates:
            keys += [k for k in cand if k not in keys]
        df = pd.DataFrame([{k: cand.get(k, "") for k in keys} for cand in st.candidates])
        df.index = [str(c.get("id", i + 1)) for i, c in enumerate(st.candidates)]
        ctx["candidates"] = _table(df.drop(columns=["id"], errors="ignore"), 50, "candidate")
    if not ctx["message"]:
        ctx["message"] = "the intervention planner has not run for this study."
    return ctx


#: Rows of the ranked interventions shown in the report (all are in plan/).
PLAN_TOP = 20


def _plan_done(p: Any) -> dict[str, Any]:
    """Words, figure and tables of a plan that ran."""
    what, unit = objective_words(p.objective, p.threat)
    worst = p.objective == "worst_case"  # exact numbers, not expected values
    cur = p.currency or "cost units"
    budget = (f"{fmt_num(p.budget)} {cur}" if math.isfinite(p.budget)
              else "no budget limit")
    ranking = p.ranking if p.ranking is not None else pd.DataFrame()
    port = p.portfolio if p.portfolio is not None else pd.DataFrame()
    out: dict[str, Any] = {"budget": budget, "exact": worst}
    out["intro"] = (f"{len(ranking)} interventions were evaluated, each on the same "
                    f"{p.n:,} events (same seeds) with the {p.policy} restoration policy. "
                    f"The objective is the expected {what} per event"
                    f"{f' ({unit})' if unit else ''}; the budget is {budget}.")
    if worst:
        out["intro"] = (f"{len(ranking)} interventions were evaluated. The objective is the "
                        f"{what}{f' ({unit})' if unit else ''}: the worst an attacker can do "
                        "(see Worst-case strikes; a hardened or protected site cannot be "
                        f"struck), not an expected value; the budget is {budget}. The "
                        f"expected energy not served is evaluated on {p.n:,} events beside "
                        f"it, with the {p.policy} restoration policy.")
    before, after = p.baseline.get(p.objective), p.improved.get(p.objective)
    if len(port) and worst:
        out["outcome"] = (
            f"The portfolio costs {fmt_num(float(port['cost'].sum()))} {cur} and lowers the "
            f"{what} from {fmt_num(before, unit)} to {fmt_num(after, unit)} "
            f"({fmt_pct((before - after) / before) if before else 'n/a'}).")
    elif worst:
        out["outcome"] = f"No intervention within the budget lowers the {what}."
    elif len(port):
        spent = float(port["cost"].sum())
        last = port.iloc[-1]
        out["outcome"] = (
            f"The portfolio costs {fmt_num(spent)} {cur} and lowers the expected {what} "
            f"from {fmt_num(before, unit)} to {fmt_num(after, unit)} per event "
            f"({fmt_pct((before - after) / before) if before else 'n/a'}; 95 % confidence "
            f"interval of the saving {fmt_ci(last['ci_low'], last['ci_high'], unit)}).")
    else:
        out["outcome"] = (f"No intervention within the budget lowers the expected {what} "
                          "in these events.")
    f = p.frontier
    if f is not None and len(f) > 1:
        out["frontier"] = _figure(frontier_figure, f, p.budget,
                                  f"{what.capitalize()} avoided{f' ({unit})' if unit else ''}"
                                  + ("" if worst else ", per event"), p.currency, before)
        beyond = f[~f["within_budget"].astype(bool)]
        if len(beyond):
            items = [f"“{r['label'] or r['id']}” (+{fmt_num(r['marginal_benefit'], unit)} at "
                     f"{fmt_num(r['cumulative_cost'])} {cur} in all)"
                     for _, r in beyond.iterrows()]
            out["beyond"] = ("Beyond the budget the frontier goes on with "
                             + "; then ".join(items) + ".")
    chosen = set(map(str, port.index))
    ens = p.baseline.get("ens_mwh")
    rows = []
    beside = not worst and "worst_case_reduction" in ranking  # a [defend] attacker too
    for k, (ident, r) in enumerate(ranking.head(PLAN_TOP).iterrows(), start=1):
        cells: list[Any] = [str(k), _named(ident, r["label"]), str(r["kind"]),
                            fmt_num(r["cost"]),
                            fmt_num(r["benefit"]) if worst else
                            _with_ci(r["benefit"], r["benefit_ci_low"], r["benefit_ci_high"],
                                     before)]
        if p.objective != "ens_mwh":
            cells.append(_with_ci(r["ens_reduction_mwh"], r["ens_ci_low"], r["ens_ci_high"],
                                  ens))
        if beside:
            cells.append(fmt_num(r["worst_case_reduction"]))
        per = r["benefit_per_cost"]
        cells.append(fmt_num(denoise(per, before) if math.isfinite(per) else per))
        rows.append({"cells": cells, "chosen": str(ident) in chosen})
    head = ["#", "Intervention", "Kind", f"Cost ({cur})",
            f"{what.capitalize()} avoided{f' ({unit})' if unit else ''}"]
    if p.objective != "ens_mwh":
        head.append("Energy not served avoided (MWh)")
    if beside:
        w_what, w_unit = objective_words("worst_case", p.threat)
        head.append(f"{w_what.capitalize()} avoided{f' ({w_unit})' if w_unit else ''}")
    head.append(f"Avoided per {cur}" if p.currency else "Avoided per unit cost")
    out["ranking"] = {"headers": head, "rows": rows} if rows else None
    out["more"] = max(0, len(ranking) - PLAN_TOP)
    prow = []
    for k, (ident, r) in enumerate(port.iterrows(), start=1):
        prow.append([str(k), _named(ident, r["label"]), fmt_num(r["cost"]),
                     fmt_num(r["cumulative_cost"]), fmt_num(denoise(r["marginal_benefit"],
                                                                    before)),
                     fmt_num(r["benefit"]) if worst else
                     _with_ci(r["benefit"], r["ci_low"], r["ci_high"], before)])
    out["portfolio"] = {"headers": ["Step", "Intervention", f"Cost ({cur})",
                                    f"Cumulative cost ({cur})", "Avoided by this pick",
                                    "Avoided by the portfolio so far"],
                        "rows": prow} if prow else None
    return out


def _named(ident: Any, label: Any) -> str:
    return f"{label} ({ident})" if label else str(ident)


def _with_ci(value: Any, low: Any, high: Any, scale: Any = None) -> dict[str, str]:
    """A table cell with a value and, below it, its 95 % confidence interval (noise
    next to ``scale`` shown as 0)."""
    return {"value": fmt_num(denoise(value, scale)),
            "ci": fmt_ci(denoise(low, scale), denoise(high, scale))}


def _map_ctx(res: StudyResults) -> dict[str, Any] | None:
    if not can_map(res.grid):
        return None
    p_bus = res.buses["p_loss_of_supply"] if "p_loss_of_supply" in res.buses else \
        pd.Series(dtype=float)
    branch_p = res.branches["p_failure"] if "p_failure" in res.branches else None
    el = res.elements
    bus_failed = None
    if el is not None and len(el) and "p" in el:
        buses = el[el.index.astype(str).str.startswith("bus:")]
        bus_failed = pd.Series(buses["p"].to_numpy(float),
                               index=[i.split(":", 1)[1] for i in buses.index])
    view = facility_view(res)
    top = float(p_bus.max()) if len(p_bus) else 0.0
    figure = _figure(grid_map, res.grid, p_bus, branch_p=branch_p, footprints=res.footprints,
                     facilities=res.facilities, facility_p=view.table["p"]
                     if len(view.table) else None, bus_failed=bus_failed, dpi=130)
    return {"figure": figure, "scale": fmt_pct(colour_limit(top)), "top": fmt_pct(top),
            "has_footprint": res.footprints is not None and len(res.footprints) > 0,
            "facility_source": view.source, "exposed": fmt_pct(EXPOSED),
            "has_facilities": res.facilities is not None and len(res.facilities) > 0}


def render_report(res: StudyResults) -> str:
    """The report as one HTML document (str)."""
    study = res.study
    ctx: dict[str, Any] = {
        "title": study.name.replace("_", " ").capitalize() if study.name else "Study",
        "description": study.info.description,
        "grid_name": res.grid.name,
        "completed": f"{res.completed:,}",
        "seed": study.seed,
        "versions": res.versions or {"gridres": "?"},
        "summary": (executive_summary(res) + [p for p in [services_summary(res)] if p]
                    + deficit_summary(res) + strike_summary(res)),
        "pending": res.pending,
        "stat_heads": [h for _, h in _STATS],
        "guide": READING_GUIDE,
    }
    rows = []
    if "shed_mw" in res.metrics:
        rows.append(_stat_row("Load lost (MW)", res.metrics["shed_mw"]))
    if "customers_out" in res.metrics:
        rows.append(_stat_row("Customers without power", res.metrics["customers_out"],
                              count=True))
    if "people_out" in res.metrics:
        rows.append(_stat_row("People at dark critical facilities",
                              res.metrics["people_out"], count=True))
    ctx["key_metrics"] = rows
    ctx["map"] = _map_ctx(res)
    ctx["restoration"] = _restoration_ctx(res)
    ctx["services"] = services_ctx(res)
    ctx["deficit"] = deficit_ctx(res)
    cols = [c for c in ("shed_mw", "customers_out", "people_out")
            if res.records is not None and c in res.records]
    ctx["distribution"] = (_figure(distribution_figure, res.records, res.metrics)
                           if cols and len(res.records) else None)
    ctx["facilities"] = _facility_ctx(res)

    subs = res.substations
    ctx["substations"] = None
    if subs is not None and len(subs) and (subs["p_loss_of_supply"] > 0).any():
        top = subs[subs["p_loss_of_supply"] > 0].sort_values(
            ["p_loss_of_supply", "load_mw"], ascending=False).head(15)
        ctx["substations"] = [(substation_name(res, i), fmt_pct(r.p_loss_of_supply),
                               fmt_num(r.load_mw), fmt_count(r.customers))
                              for i, r in top.iterrows()]
    el = res.elements
    ctx["elements"] = None
    if el is not None and len(el):
        names = element_names(res, el.head(10).index)
        ctx["elements"] = [(names[str(i)], fmt_pct(r.get("p", math.nan)),
                            fmt_num(r.get("initial")), fmt_num(r.get("tripped")))
                           for i, r in el.head(10).iterrows()]
    ctx["contingency"] = _contingency_ctx(res)
    ctx["strikes"] = strikes_context(res)
    ctx["plan"] = _plan_ctx(res)
    ctx["methods"] = methods(res)
    ctx["methods"][-1:-1] = deficit_methods(res)  # before "The measures"
    ctx["engineering"] = engineering(res)
    ctx["engineering"][-1:-1] = deficit_engineering(res)  # before "Software"
    ctx["resolved_toml"] = study.resolved_toml()
    present = set(res.files) | {k.split("/", 1)[0] for k in res.files}
    ctx["files"] = [(k, v) for k, v in _FILES.items() if k in present]

    ctx["sections"] = [{"id": "summary", "title": "Executive summary"}]
    for key, sid, title in (("map", "map", "Map"),
                            ("restoration", "restoration", "Restoration"),
                            ("services", "services", "Services"),
                            ("deficit", "deficit", "Power deficit"),
                            ("distribution", "distributions", "Outcome distributions"),
                            ("facilities", "facilities", "Critical facilities"),
                            ("substations", "substations", "Most exposed substations"),
                            ("contingency", "contingency", "Single outages (N-1)"),
                            ("strikes", "strikes", "Worst-case strikes"),
                            ("plan", "plan", "Interventions and portfolio")):
        if ctx.get(key):
            ctx["sections"].append({"id": sid, "title": title})
    ctx["sections"] += [{"id": "methods", "title": "How the numbers were made"},
                        {"id": "engineering", "title": "Appendix A: engineering detail"},
                        {"id": "appendix", "title": "Appendix B: the resolved study"}]
    return _env().get_template("report.html.j2").render(**ctx)


def write_html(res: StudyResults, path: str | os.PathLike) -> Path:
    """Render the report and write it atomically to ``path``; return the path."""
    html = render_report(res)
    path = Path(path)
    with write_path(path) as tmp:
        tmp.write_text(html, encoding="utf-8")
    return path


def write_report(res: StudyResults, *, html: bool | None = None, pdf: bool | None = None,
                 progress: Callable[[str, int, int], None] | None = None,
                 force: bool = False) -> StudyResults:
    """Write the report of a study run into its results directory: report.html and, with
    ``pdf``, report.pdf (printed from the HTML); summary.json is written again to list
    them.

    Parameters
    ----------
    res : StudyResults
        What :func:`gridres.study.run_study` returned.
    html, pdf : bool, optional
        Write report.html / report.pdf; default from the study's ``[outputs]``. A PDF is
        printed from the HTML, which is then written too.
    progress : callable, optional
        ``progress(step, done, total)``.
    force : bool
        Write into a results directory that holds files gridres did not write (they are
        kept); the directory is held as an output folder of :mod:`gridres.io.folder`
        (the one already open, when the run that made it holds it still).

    Returns
    -------
    StudyResults
        ``res`` with ``files`` listing the report.
    """
    o = res.study.outputs
    want_pdf = o.pdf if pdf is None else pdf
    want_html = (o.html if html is None else html) or want_pdf
    if not want_html:
        return res
    out = res.out_dir
    report = {"report.html": out / "report.html"}
    if want_pdf:
        report["report.pdf"] = out / "report.pdf"
    files: dict[str, Path] = {}
    for key, path in res.files.items():
        files[key] = path
        if key == "summary.json":
            files.update(report)
    files.update({k: v for k, v in report.items() if k not in files})
    res = dataclasses.replace(res, files=files)
    steps = 2 + int(want_pdf)
    progress = progress or (lambda step, done, total: None)
    progress("writing report", 0, steps)
    with held(out, force=force):
        write_html(res, report["report.html"])
        progress("writing report", 1, steps)
        if want_pdf:
            engine = write_pdf(res, report["report.html"], report["report.pdf"])
            logger.info("report.pdf written with %s", engine)
            progress("writing report", 2, steps)
        write_summary(res)
    progress("writing report", steps, steps)
    return res
