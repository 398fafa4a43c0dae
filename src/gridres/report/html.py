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
from gridres.report.figures import (
    METRIC_LABELS,
    contingency_figure,
    data_uri,
    distribution_figure,
    facility_figure,
    frontier_figure,
    restoration_figure,
)
from gridres.report.maps import can_map, grid_map
from gridres.report.methods import methods
from gridres.report.narrative import (
    denoise,
    executive_summary,
    facility_rows,
    fmt_ci,
    fmt_num,
    fmt_pct,
    objective_words,
)
from gridres.report.pdf import write_pdf
from gridres.restoration.metrics import METRICS
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
    "results.gpkg": "layers for QGIS: buses, substations, branches, facilities, hazard",
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


def _stat_row(label: str, stats: dict[str, float], unit: str = "") -> dict[str, Any]:
    return {"label": label, "values": [fmt_num(stats.get(k), unit)
                                       for k in ("mean", "median", "p95", "cvar95", "max")]}


def _close(fig) -> None:
    fig.clear()


def _figure(make, *args, dpi: int = 110, **kwargs) -> str:
    fig = make(*args, **kwargs)
    try:
        return data_uri(fig, dpi=dpi)
    finally:
        _close(fig)


def _restoration_ctx(res: StudyResults) -> dict[str, Any] | None:
    if not res.restoration:
        return None
    best = res.best_policy()
    multi_wave = "n_waves" in res.records and (res.records["n_waves"] > 1).any()
    metrics = [m for m in METRICS if any(m in o.metrics
                                                    for o in res.restoration.values())
               and (m != "waves_stock_lasted" or multi_wave)]
    units = {"ens_mwh": "MWh", "t50_h": "h", "t90_h": "h", "t100_h": "h"}
    headers = [METRIC_LABELS.get(m, METRICS[m]) if m in METRIC_LABELS
               else {"t50_h": "50 % back (h)", "t90_h": "90 % back (h)",
                     "t100_h": "all back (h)",
                     "waves_stock_lasted": "waves the spare stock lasts"}.get(m, m)
               for m in metrics]
    rows = []
    for policy, o in res.restoration.items():
        vals = []
        for m in metrics:
            s = o.metrics.get(m, {})
            vals.append(f"{fmt_num(s.get('mean'), units.get(m, ''))} "
                        f"({fmt_num(s.get('p95'))})")
        rows.append({"policy": policy, "values": vals, "best": policy == best})
    return {"headers": headers, "rows": rows}


def _facility_ctx(res: StudyResults) -> dict[str, Any] | None:
    f = res.facilities
    if f is None or not len(f):
        return None
    f = facility_rows(res)
    hours = "hours_dark" in f.columns
    headers = ["Facility", "Kind", "Bus", "People", "Backup", "P(dark)"]
    if hours:
        headers += ["Hours dark", "People-hours"]
    rows = []
    for i, r in f.iterrows():
        backup = (f"{fmt_num(r['backup_mw'], 'MW')} for {fmt_num(r['backup_hours'], 'h')}"
                  if r.get("backup_mw", 0) > 0 else "none")
        cells = [f"{r['name'] or i} ({i})" if r.get("name") else str(i), r["kind"], r["bus"],
                 fmt_num(r["people"]), backup, fmt_pct(r["p_dark"])]
        if hours:
            h = float(r["hours_dark"]) if pd.notna(r["hours_dark"]) else math.nan
            cells += [fmt_num(h), fmt_num(h * float(r["people"]))]
        rows.append({"cells": cells, "alert": r["p_dark"] >= 0.1})
    return {"headers": headers, "rows": rows, "hours": hours,
            "policy": res.best_policy() or ""}


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


def _contingency_ctx(res: StudyResults) -> tuple[dict | None, str | None]:
    c = res.contingency
    if c is None or not len(c):
        return None, None
    value = next((col for col in ("shed_mw", "customers_out", "max_loading", "overload_mw")
                  if col in c.columns), None)
    uri = None
    if value is not None and (c[value] > 0).any():
        uri = _figure(contingency_figure, c, value, METRIC_LABELS.get(value, value))
    names = {"shed_mw": "Load lost (MW)", "customers_out": "Customers out",
             "people_out": "People at dark facilities", "dark_facilities": "Dark facilities",
             "islands": "Islands", "max_loading": "Worst loading", "overloaded": "Overloaded"}
    cols = [col for col in names if col in c.columns]
    return _table(c[cols].rename(columns=names), 15, "Outage"), uri


def _plan_ctx(res: StudyResults) -> dict[str, Any] | None:
    st = res.study.plan
    if st is None:
        return None
    p = res.plan
    ctx: dict[str, Any] = {"budget": fmt_num(st.budget), "objective": st.objective,
                           "n_candidates": len(st.candidates), "status": "pending",
                           "message": "", "ranking": None, "portfolio": None,
                           "candidates": None, "frontier_uri": None, "intro": "",
                           "outcome": "", "beyond": "", "more": 0}
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
    what, unit = objective_words(p.objective)
    cur = p.currency or "cost units"
    budget = (f"{fmt_num(p.budget)} {cur}" if math.isfinite(p.budget)
              else "no budget limit")
    ranking = p.ranking if p.ranking is not None else pd.DataFrame()
    port = p.portfolio if p.portfolio is not None else pd.DataFrame()
    out: dict[str, Any] = {"budget": budget}
    out["intro"] = (f"{len(ranking)} interventions were evaluated, each on the same "
                    f"{p.n:,} events (same seeds) with the {p.policy} restoration policy. "
                    f"The objective is the expected {what} per event"
                    f"{f' ({unit})' if unit else ''}; the budget is {budget}.")
    before, after = p.baseline.get(p.objective), p.improved.get(p.objective)
    if len(port):
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
        out["frontier_uri"] = _figure(frontier_figure, f, p.budget,
                                      f"{what.capitalize()} avoided{f' ({unit})' if unit else ''}"
                                      ", per event", p.currency, before)
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
    for k, (ident, r) in enumerate(ranking.head(PLAN_TOP).iterrows(), start=1):
        cells: list[Any] = [str(k), _named(ident, r["label"]), str(r["kind"]),
                            fmt_num(r["cost"]),
                            _with_ci(r["benefit"], r["benefit_ci_low"], r["benefit_ci_high"],
                                     before)]
        if p.objective != "ens_mwh":
            cells.append(_with_ci(r["ens_reduction_mwh"], r["ens_ci_low"], r["ens_ci_high"],
                                  ens))
        per = r["benefit_per_cost"]
        cells.append(fmt_num(denoise(per, before) if math.isfinite(per) else per))
        rows.append({"cells": cells, "chosen": str(ident) in chosen})
    head = ["#", "Intervention", "Kind", f"Cost ({cur})",
            f"{what.capitalize()} avoided{f' ({unit})' if unit else ''}"]
    if p.objective != "ens_mwh":
        head.append("Energy not served avoided (MWh)")
    head.append(f"Avoided per {cur}" if p.currency else "Avoided per unit cost")
    out["ranking"] = {"headers": head, "rows": rows} if rows else None
    out["more"] = max(0, len(ranking) - PLAN_TOP)
    prow = []
    for k, (ident, r) in enumerate(port.iterrows(), start=1):
        prow.append([str(k), _named(ident, r["label"]), fmt_num(r["cost"]),
                     fmt_num(r["cumulative_cost"]), fmt_num(denoise(r["marginal_benefit"],
                                                                    before)),
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
        "summary": executive_summary(res),
        "pending": res.pending,
    }
    labels = {"shed_mw": ("Load not served", "MW"), "customers_out": ("Customers without "
              "power", ""), "people_out": ("People at dark critical facilities", "")}
    ctx["key_metrics"] = [_stat_row(labels[k][0], res.metrics[k], labels[k][1])
                          for k in labels if k in res.metrics]

    ctx["map_uri"] = None
    ctx["has_footprint"] = res.footprints is not None and len(res.footprints) > 0
    ctx["map_width"] = 760
    if can_map(res.grid):
        p_bus = res.buses["p_loss_of_supply"] if "p_loss_of_supply" in res.buses else \
            pd.Series(dtype=float)
        branch_p = res.branches["p_failure"] if "p_failure" in res.branches else None
        ctx["map_uri"] = _figure(grid_map, res.grid, p_bus, branch_p=branch_p,
                                 footprints=res.footprints, facilities=res.facilities,
                                 dpi=130)

    ctx["restoration"] = _restoration_ctx(res)
    ctx["restoration_uri"] = None
    ctx["restoration_band"] = False
    if res.restoration:
        curves = {p: o.curve for p, o in res.restoration.items() if o.curve is not None
                  and len(o.curve)}
        if curves:
            ctx["restoration_uri"] = _figure(restoration_figure, curves)
            ctx["restoration_band"] = any({"p05", "p95"} <= set(c.columns)
                                          for c in curves.values())

    ctx["distribution_uri"] = (_figure(distribution_figure, res.records, res.metrics)
                               if res.records is not None and len(res.records) else None)
    ctx["facilities"] = _facility_ctx(res)
    ctx["facility_uri"] = None
    f = res.facilities
    if f is not None and len(f):
        col = "hours_dark" if "hours_dark" in f and (f["hours_dark"] > 0).any() else "p_dark"
        if col in f and (f[col] > 0).any():
            ctx["facility_uri"] = _figure(
                facility_figure, f, col,
                "Mean hours dark" if col == "hours_dark" else "Share of events dark")

    subs = res.substations
    ctx["substations"] = None
    if subs is not None and len(subs) and (subs["p_loss_of_supply"] > 0).any():
        top = subs[subs["p_loss_of_supply"] > 0].sort_values(
            ["p_loss_of_supply", "load_mw"], ascending=False).head(15)
        ctx["substations"] = [(str(i), fmt_pct(r.p_loss_of_supply), fmt_num(r.load_mw),
                               fmt_num(r.customers)) for i, r in top.iterrows()]
    el = res.elements
    ctx["elements"] = None
    if el is not None and len(el):
        ctx["elements"] = [(str(i), fmt_pct(r.get("p", math.nan)), fmt_num(r.get("initial")),
                            fmt_num(r.get("tripped"))) for i, r in el.head(10).iterrows()]
    ctx["contingency"], ctx["contingency_uri"] = _contingency_ctx(res)
    ctx["plan"] = _plan_ctx(res)
    ctx["methods"] = methods(res)
    ctx["resolved_toml"] = study.resolved_toml()
    present = set(res.files) | {k.split("/", 1)[0] for k in res.files}
    ctx["files"] = [(k, v) for k, v in _FILES.items() if k in present]

    ctx["sections"] = [{"id": "summary", "title": "Executive summary"}]
    for key, sid, title in (("map_uri", "map", "Map"),
                            ("restoration", "restoration", "Restoration"),
                            ("distribution_uri", "distributions", "Outcome distributions"),
                            ("facilities", "facilities", "Critical facilities"),
                            ("substations", "substations", "Most exposed substations"),
                            ("contingency", "contingency", "Single outages (N-1)"),
                            ("plan", "plan", "Interventions and portfolio")):
        if ctx.get(key) or (sid == "distributions"):
            ctx["sections"].append({"id": sid, "title": title})
    ctx["sections"] += [{"id": "methods", "title": "Methods and assumptions"},
                        {"id": "appendix", "title": "Appendix: the resolved study"}]
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
