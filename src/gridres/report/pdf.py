"""The report as PDF, with the best engine at hand.

1. WeasyPrint, where it imports (``pip install weasyprint``): prints the HTML report
   with its print stylesheet.
2. Headless Chromium, where a ``chromium`` (or ``chromium-browser``, ``google-chrome``)
   executable is on PATH: the same HTML, printed by the browser, with networking and
   background services off and a throw-away profile. Chromium keeps its sandbox
   (the report is trusted, but names in it come from grid and study files); only when
   gridres runs as root, where Chromium refuses to start sandboxed, is ``--no-sandbox``
   added (:func:`chromium_flags`).
3. Otherwise a figures-and-tables PDF drawn with matplotlib: the executive summary,
   every figure of the report and its main tables (with a plan: the efficient frontier
   and the portfolio), one page each.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
import textwrap
from pathlib import Path

from gridres.errors import GridresError
from gridres.io.folder import write_path
from gridres.report import figures
from gridres.report.maps import can_map, grid_map
from gridres.report.narrative import (
    executive_summary,
    facility_view,
    fmt_num,
    objective_words,
)

__all__ = ["write_pdf", "chromium_executable", "chromium_flags", "CHROMIUM_FLAGS", "pdf_engine"]

logger = logging.getLogger(__name__)

#: Flags for a headless Chromium that makes no request of its own (sandboxed).
CHROMIUM_FLAGS = ("--headless", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync")


def chromium_flags(euid: int | None = None) -> tuple[str, ...]:
    """:data:`CHROMIUM_FLAGS`, plus ``--no-sandbox`` only when running as root (``euid``
    0), where Chromium will not start its sandbox.

    Examples
    --------
    >>> "--no-sandbox" in chromium_flags(1000), "--no-sandbox" in chromium_flags(0)
    (False, True)
    """
    if euid is None:
        euid = os.geteuid() if hasattr(os, "geteuid") else -1
    return CHROMIUM_FLAGS + (("--no-sandbox",) if euid == 0 else ())

_CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def chromium_executable() -> str | None:
    """Path of a Chromium/Chrome executable on PATH (``GRIDRES_CHROMIUM`` overrides)."""
    env = os.environ.get("GRIDRES_CHROMIUM")
    if env:
        return env if Path(env).exists() or shutil.which(env) else None
    for name in _CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def pdf_engine() -> str:
    """Which engine :func:`write_pdf` will use: ``weasyprint``, ``chromium`` or
    ``matplotlib``."""
    try:
        import weasyprint  # noqa: F401

        return "weasyprint"
    except (ImportError, OSError):  # OSError: missing pango/cairo libraries
        pass
    return "chromium" if chromium_executable() else "matplotlib"


def write_pdf(res, html_path: str | os.PathLike, pdf_path: str | os.PathLike,
              engine: str | None = None) -> str:
    """Write ``pdf_path`` from the HTML report (or from ``res`` with matplotlib).

    Returns
    -------
    str
        The engine used.
    """
    engine = engine or pdf_engine()
    html_path, pdf_path = Path(html_path), Path(pdf_path)
    if engine == "weasyprint":
        import weasyprint

        with write_path(pdf_path) as tmp:
            weasyprint.HTML(filename=str(html_path)).write_pdf(str(tmp))
        return engine
    if engine == "chromium":
        try:
            _chromium_pdf(html_path, pdf_path)
            return engine
        except GridresError as exc:
            logger.warning("%s; drawing a figures-and-tables PDF instead", exc)
    _matplotlib_pdf(res, pdf_path)
    return "matplotlib"


def _chromium_pdf(html_path: Path, pdf_path: Path) -> None:
    exe = chromium_executable()
    if exe is None:
        raise GridresError("no chromium executable on PATH")
    with tempfile.TemporaryDirectory(prefix="gridres-chromium-") as profile, \
            write_path(pdf_path) as tmp:
        cmd = [exe, *chromium_flags(), f"--user-data-dir={profile}", "--no-pdf-header-footer",
               f"--print-to-pdf={tmp}", html_path.resolve().as_uri()]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise GridresError(f"chromium could not print the report: {exc}") from None
        if proc.returncode != 0 or not tmp.exists() or tmp.stat().st_size == 0:
            tail = (proc.stderr or "").strip().splitlines()[-1:] or [""]
            raise GridresError(f"chromium could not print the report (exit "
                               f"{proc.returncode}): {tail[0]}")


def _text_page(pdf, title: str, paragraphs: list[tuple[str, str]]) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8.27, 11.69))
    y = 0.95
    fig.text(0.07, y, title, fontsize=16, weight="bold", va="top")
    y -= 0.05
    for heading, text in paragraphs:
        if heading:
            fig.text(0.07, y, heading, fontsize=11, weight="bold", va="top")
            y -= 0.025
        for line in textwrap.wrap(text, 95) or [""]:
            fig.text(0.07, y, line, fontsize=9, va="top", family="DejaVu Sans")
            y -= 0.018
        y -= 0.012
        if y < 0.05:
            break
    pdf.savefig(fig)


def _table_page(pdf, title: str, df) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8.27, 11.69))
    ax = fig.add_axes((0.05, 0.05, 0.9, 0.85))
    ax.axis("off")
    fig.text(0.05, 0.95, title, fontsize=14, weight="bold", va="top")
    part = df.head(35)
    cells = [[str(i)] + [_cell(v) for v in row] for i, row in
             zip(part.index, part.itertuples(index=False), strict=True)]
    if cells:
        table = ax.table(cellText=cells, colLabels=["id"] + [str(c) for c in part.columns],
                         loc="upper center", cellLoc="right")
        table.auto_set_font_size(False)
        table.set_fontsize(6.5)
        table.scale(1.0, 1.2)
    pdf.savefig(fig)


def _cell(v) -> str:

    if isinstance(v, float | int) and not isinstance(v, bool):
        return fmt_num(v)
    return str(v)[:28]


def _matplotlib_pdf(res, pdf_path: Path) -> None:
    from matplotlib.backends.backend_pdf import PdfPages

    with write_path(pdf_path) as tmp, PdfPages(tmp, metadata={"Creator": "gridres"}) as pdf:
        _text_page(pdf, res.study.name, [(p["heading"], p["text"])
                                         for p in executive_summary(res)])
        if can_map(res.grid):
            pdf.savefig(grid_map(res.grid, res.buses["p_loss_of_supply"],
                                 branch_p=res.branches["p_failure"],
                                 footprints=res.footprints, facilities=res.facilities,
                                 title=f"{res.grid.name}: probability of loss of supply"))
        curves = {p: o.curve for p, o in (res.restoration or {}).items()
                  if o.curve is not None and "lost_mw" in o.curve}
        if curves:
            pdf.savefig(figures.restoration_figure(curves, band=res.best_policy(),
                                                   total_mw=res.total_load_mw))
        if res.records is not None and len(res.records):
            pdf.savefig(figures.distribution_figure(res.records, res.metrics))
        view = facility_view(res)
        cols = [c for c in ("name", "kind", "people", "demand_mw", "backup_mw", "p", "hours")
                if c in view.table]
        _table_page(pdf, f"Critical facilities ({view.source})", view.table[cols])
        if res.contingency is not None:
            cols = [c for c in ("shed_mw", "customers_out", "islands", "max_loading")
                    if c in res.contingency]
            _table_page(pdf, "Single outages (N-1)", res.contingency[cols])
        plan = res.plan
        if plan is not None and plan.status == "done":
            what, unit = objective_words(plan.objective, plan.threat)
            per = "" if plan.objective == "worst_case" else ", per event"
            if plan.frontier is not None and len(plan.frontier) > 1:
                pdf.savefig(figures.frontier_figure(
                    plan.frontier, plan.budget,
                    f"{what.capitalize()} avoided{f' ({unit})' if unit else ''}{per}",
                    plan.currency, plan.baseline.get(plan.objective)))
            if plan.portfolio is not None and len(plan.portfolio):
                _table_page(pdf, f"Portfolio within the budget ({plan.currency})",
                            plan.portfolio[["label", "cost", "cumulative_cost", "benefit",
                                            "ci_low", "ci_high"]])
