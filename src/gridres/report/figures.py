"""Figures of the study report, drawn with matplotlib's object API (no pyplot state, no
display needed) and embedded as ``data:`` URIs so that the report is one offline file.

Every function takes plain tables and returns a :class:`matplotlib.figure.Figure`;
:func:`data_uri` turns a figure into a base64 PNG.
"""

from __future__ import annotations

import base64
import io
import logging
import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from gridres.report.narrative import fmt_num

__all__ = [
    "data_uri",
    "restoration_figure",
    "distribution_figure",
    "contingency_figure",
    "facility_figure",
    "frontier_figure",
    "METRIC_LABELS",
    "POLICY_COLOURS",
]

logger = logging.getLogger(__name__)

#: Axis labels of record metrics.
METRIC_LABELS = {
    "shed_mw": "Load not served (MW)",
    "customers_out": "Customers without power",
    "people_out": "People at dark critical facilities",
    "ens_mwh": "Energy not served (MWh)",
    "customer_hours": "Customer-hours without power",
    "facility_hours_dark": "Facility-hours dark",
    "people_hours": "People-hours at dark facilities",
}

#: Colour-blind-safe palette (Okabe-Ito) for policies.
POLICY_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9",
                  "#F0E442", "#000000")


def data_uri(fig: Figure, dpi: int = 110) -> str:
    """The figure as a ``data:image/png;base64,...`` URI."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight",
                metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _style(ax) -> None:
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(True, color="#e5e5e5", linewidth=0.6)
    ax.set_axisbelow(True)


def restoration_figure(curves: Mapping[str, pd.DataFrame]) -> Figure:
    """Restoration curves: share of load served over time, one line per policy.

    Parameters
    ----------
    curves : mapping of str to DataFrame
        Policy -> ``time_h`` and ``served_fraction`` (0..1) columns; optional ``p05``
        and ``p95`` columns are drawn as a band.
    """
    fig = Figure(figsize=(7.2, 3.6))
    ax = fig.add_subplot()
    for k, (policy, df) in enumerate(curves.items()):
        colour = POLICY_COLOURS[k % len(POLICY_COLOURS)]
        t = df["time_h"].to_numpy(float)
        ax.step(t, 100 * df["served_fraction"].to_numpy(float), where="post", color=colour,
                linewidth=1.8, label=policy)
        if {"p05", "p95"} <= set(df.columns):
            ax.fill_between(t, 100 * df["p05"].to_numpy(float), 100 * df["p95"].to_numpy(float),
                            step="post", color=colour, alpha=0.15, linewidth=0)
    for level in (50, 90):
        ax.axhline(level, color="#999999", linewidth=0.8, linestyle=":")
    ends = [_settled(df) for df in curves.values()]
    finite = [e for e in ends if e is not None]
    if finite:
        ax.set_xlim(right=max(max(finite) * 1.15, 1.0))
    ax.set_xlabel("Hours after the event")
    ax.set_ylabel("Load served (% of normal)")
    ax.set_ylim(bottom=max(0.0, ax.get_ylim()[0]), top=101)
    ax.set_xlim(left=0)
    _style(ax)
    ax.legend(title="Policy", frameon=False, loc="lower right")
    return fig


def _settled(df: pd.DataFrame) -> float | None:
    """First time after which the mean served share stays at (or above) 99.9 %."""
    t = df["time_h"].to_numpy(float)
    v = df["served_fraction"].to_numpy(float)
    if not len(t):
        return None
    below = np.flatnonzero(v < 0.999)
    if not len(below):
        return float(t[min(1, len(t) - 1)])
    k = below[-1] + 1
    return float(t[k]) if k < len(t) else None


def distribution_figure(records: pd.DataFrame, metrics: Mapping[str, Mapping[str, float]],
                        columns: tuple[str, ...] = ("shed_mw", "customers_out", "people_out")
                        ) -> Figure:
    """Histograms of per-scenario outcomes with the mean, 95th percentile and CVaR95
    (mean of the worst 5 %) marked.

    Parameters
    ----------
    records : DataFrame
        One row per scenario.
    metrics : mapping
        Column -> tail statistics (``mean``, ``p95``, ``cvar95``).
    columns : tuple of str
        Record columns to draw (those missing are skipped).
    """
    cols = [c for c in columns if c in records.columns]
    fig = Figure(figsize=(3.4 * max(len(cols), 1), 3.0))
    for k, col in enumerate(cols):
        ax = fig.add_subplot(1, len(cols), k + 1)
        values = records[col].to_numpy(float)
        values = values[np.isfinite(values)]
        bins = _bins(values)
        ax.hist(values, bins=bins, color="#8da0cb", edgecolor="white", linewidth=0.5)
        stats = metrics.get(col, {})
        for key, style, label in (("mean", "-", "mean"), ("p95", "--", "95th pct."),
                                  ("cvar95", ":", "CVaR95")):
            v = stats.get(key)
            if v is not None and math.isfinite(v):
                ax.axvline(v, color="#333333", linestyle=style, linewidth=1.2,
                           label=f"{label} {_fmt(v)}")
        ax.set_xlabel(METRIC_LABELS.get(col, col))
        ax.set_ylabel("Events" if k == 0 else "")
        ax.xaxis.set_major_locator(MaxNLocator(nbins=4))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _fmt(v)))
        _style(ax)
        ax.legend(fontsize=7, framealpha=0.85, edgecolor="none")
    fig.tight_layout()
    return fig


def _bins(values: np.ndarray) -> int | np.ndarray:
    if len(values) == 0:
        return 1
    lo, hi = float(values.min()), float(values.max())
    if hi - lo < 1e-9:
        return np.array([lo - 0.5, hi + 0.5])
    return int(min(40, max(5, math.ceil(math.sqrt(len(values))))))


def _fmt(v: float) -> str:
    return fmt_num(v)


def contingency_figure(ranking: pd.DataFrame, value: str, label: str, top: int = 10) -> Figure:
    """Horizontal bars of the ``top`` worst single outages by ``value``."""
    part = ranking.sort_values(value, ascending=False).head(top).iloc[::-1]
    fig = Figure(figsize=(7.2, 0.32 * len(part) + 1.0))
    ax = fig.add_subplot()
    names = [str(i) for i in part.index]
    ax.barh(names, part[value].to_numpy(float), color="#fc8d62")
    ax.set_xlabel(label)
    _style(ax)
    fig.tight_layout()
    return fig


def facility_figure(facilities: pd.DataFrame, column: str, label: str, top: int = 15) -> Figure:
    """Horizontal bars of the ``top`` facilities by ``column`` (hours dark or P(dark)),
    labelled with name and kind."""
    part = facilities[facilities[column] > 0].sort_values(column, ascending=False).head(top)
    part = part.iloc[::-1]
    fig = Figure(figsize=(7.2, 0.3 * max(len(part), 1) + 1.0))
    ax = fig.add_subplot()
    names = [f"{r.get('name') or i} ({r.get('kind', '')})" for i, r in part.iterrows()]
    ax.barh(names, part[column].to_numpy(float), color="#e78ac3")
    ax.set_xlabel(label)
    _style(ax)
    fig.tight_layout()
    return fig


def frontier_figure(frontier: pd.DataFrame, budget: float, ylabel: str, currency: str = "",
                    baseline: float | None = None) -> Figure:
    """The efficient frontier: benefit against cumulative cost along the greedy path.

    Parameters
    ----------
    frontier : DataFrame
        One row per portfolio (the first: no intervention): ``cumulative_cost``,
        ``benefit`` with ``ci_low``/``ci_high`` (drawn as error bars) and
        ``within_budget`` (False: drawn hollow, what more money would buy). Points are
        numbered by their row (the step of the greedy path).
    budget : float
        Drawn as a dashed vertical line (NaN: none).
    ylabel : str
        What the benefit is.
    currency : str
        Unit of the costs.
    baseline : float, optional
        The objective's mean without interventions: a right-hand axis shows the
        benefit as a share of it.
    """
    df = frontier.reset_index(drop=True)
    x = df["cumulative_cost"].to_numpy(float)
    y = df["benefit"].to_numpy(float)
    lo = df["ci_low"].to_numpy(float) if "ci_low" in df else y
    hi = df["ci_high"].to_numpy(float) if "ci_high" in df else y
    within = df["within_budget"].to_numpy(bool) if "within_budget" in df else \
        np.ones(len(df), bool)
    fig = Figure(figsize=(7.2, 3.8))
    ax = fig.add_subplot()
    ax.plot(x, y, color="#0072B2", linewidth=1.6, zorder=2)
    err = np.vstack([np.maximum(y - lo, 0.0), np.maximum(hi - y, 0.0)])
    ax.errorbar(x[1:], y[1:], yerr=err[:, 1:], fmt="none", ecolor="#7f7f7f",
                elinewidth=1.0, capsize=3, zorder=1, label="95 % confidence interval")
    ax.scatter(x[within], y[within], s=36, color="#0072B2", zorder=3,
               label="within the budget")
    if (~within).any():
        ax.scatter(x[~within], y[~within], s=36, facecolor="white", edgecolor="#0072B2",
                   linewidth=1.4, zorder=3, label="beyond the budget")
    for k in range(1, len(df)):  # step numbers, alternately above and below the path
        above = k % 2 == 1
        ax.annotate(str(k), (x[k], y[k]), xytext=(-9 if above else 5, 5 if above else -12),
                    textcoords="offset points", fontsize=8, color="#333333")
    if budget is not None and math.isfinite(budget):
        ax.axvline(budget, color="#D55E00", linestyle="--", linewidth=1.2,
                   label=f"budget {_fmt(budget)}")
    ax.axhline(0, color="#999999", linewidth=0.8)
    unit = f" ({currency})" if currency else ""
    ax.set_xlabel(f"Cumulative cost{unit}")
    ax.set_ylabel(ylabel)
    right = max([float(np.nanmax(x)) if len(x) else 0.0]
                + ([budget] if budget is not None and math.isfinite(budget) else []))
    ax.set_xlim(left=0, right=max(right * 1.12, 1e-9))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _fmt(v)))
    if baseline is not None and math.isfinite(baseline) and baseline > 0:
        sec = ax.secondary_yaxis("right", functions=(lambda v: 100.0 * v / baseline,
                                                     lambda p: p * baseline / 100.0))
        sec.set_ylabel("% of the base case")
    _style(ax)
    ax.legend(fontsize=7, frameon=False, loc="best")
    fig.tight_layout()
    return fig
