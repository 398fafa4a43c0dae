"""Figures of the study report, drawn with matplotlib's object API (no pyplot state, no
display needed) and embedded as ``data:`` URIs so that the report is one offline file.

Every function takes plain tables and returns a :class:`matplotlib.figure.Figure`;
:func:`data_uri` turns a figure into a base64 PNG and :func:`figure_ranges` says what
each panel shows: its axis limits and the extent of the data drawn inside them (the
report puts them beside the image, where the browser test checks that every figure's
data fill its visible range).
"""

from __future__ import annotations

import base64
import io
import json
import logging
import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.collections import Collection
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from gridres.report.narrative import fmt_num

__all__ = [
    "data_uri",
    "figure_ranges",
    "restoration_figure",
    "distribution_figure",
    "contingency_figure",
    "facility_figure",
    "frontier_figure",
    "METRIC_LABELS",
    "POLICY_COLOURS",
    "POLICY_STYLES",
    "ranges_json",
]

logger = logging.getLogger(__name__)

#: Axis labels of record metrics.
METRIC_LABELS = {
    "shed_mw": "Load lost (MW)",
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
#: Line styles of policies: a policy is told apart by its style as well as its colour.
POLICY_STYLES = ("-", "--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 3)))


def data_uri(fig: Figure, dpi: int = 110) -> str:
    """The figure as a ``data:image/png;base64,...`` URI."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight",
                metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _points(ax) -> np.ndarray:
    """Every data point drawn in ``ax`` in data coordinates, shape (N, 2): line
    vertices, scatter offsets, polygon and bar corners. Reference lines drawn in axes
    coordinates (``axhline``, ``axvline``) and text are not data."""
    data = ax.transData
    out: list[np.ndarray] = []
    for line in ax.get_lines():
        if line.get_transform() is data:
            out.append(np.asarray(line.get_xydata(), dtype=float).reshape(-1, 2))
    for coll in ax.collections:
        if not isinstance(coll, Collection):
            continue
        offsets = np.asarray(coll.get_offsets(), dtype=float).reshape(-1, 2)
        if len(offsets) and coll.get_offset_transform() is data and len(coll.get_paths()) \
                and coll.get_transform() is not data:
            out.append(offsets)  # markers (scatter): their positions
        elif coll.get_transform() is data:
            out += [np.asarray(p.vertices, dtype=float).reshape(-1, 2)
                    for p in coll.get_paths()]
    for patch in ax.patches:
        if patch.get_data_transform() is data:
            verts = patch.get_patch_transform().transform(patch.get_path().vertices)
            out.append(np.asarray(verts, dtype=float).reshape(-1, 2))
    pts = np.concatenate(out) if out else np.zeros((0, 2))
    return pts[np.isfinite(pts).all(axis=1)]


def figure_ranges(fig: Figure) -> list[dict]:
    """What every data panel of ``fig`` shows (the panels a figure function named with
    ``ax.set_label``): its axis limits, and the extent of the data drawn within its
    visible x range.

    Returns
    -------
    list of dict
        ``name``; ``xlim`` and ``ylim`` (the axis limits); ``x`` and ``y``
        (``[min, max]`` of the data points whose x lies within ``xlim``, None when
        there are none); ``points`` (their number); and, for a panel coloured by a
        value, ``clim`` (the colour scale's limits) and ``c`` (``[min, max]`` of the
        values coloured).

    Examples
    --------
    >>> fig = Figure()
    >>> ax = fig.add_subplot(label="curve")
    >>> _ = ax.plot([0, 1, 2], [5, 3, 0])
    >>> _ = ax.set_xlim(0, 1.5)
    >>> r = figure_ranges(fig)[0]
    >>> r["name"], r["x"], r["y"], r["points"]
    ('curve', [0.0, 1.0], [3.0, 5.0], 2)
    """
    out = []
    for ax in fig.axes:
        name = ax.get_label()
        if not name or name.startswith("<"):  # colour bars and unnamed helper axes
            continue
        x0, x1 = sorted(ax.get_xlim())
        y0, y1 = sorted(ax.get_ylim())
        pts = _points(ax)
        pts = pts[(pts[:, 0] >= x0 - 1e-9 * max(1.0, abs(x0)))
                  & (pts[:, 0] <= x1 + 1e-9 * max(1.0, abs(x1)))]
        entry: dict = {"name": name, "xlim": [float(x0), float(x1)],
                       "ylim": [float(y0), float(y1)], "points": int(len(pts)),
                       "x": [float(pts[:, 0].min()), float(pts[:, 0].max())] if len(pts) else None,
                       "y": [float(pts[:, 1].min()), float(pts[:, 1].max())] if len(pts) else None}
        for coll in ax.collections:
            values = coll.get_array()
            if values is None or coll.norm is None or coll.norm.vmin is None:
                continue
            v = np.asarray(values, dtype=float)
            v = v[np.isfinite(v)]
            if len(v):
                entry["clim"] = [float(coll.norm.vmin), float(coll.norm.vmax)]
                entry["c"] = [float(v.min()), float(v.max())]
        out.append(entry)
    return out


def ranges_json(fig: Figure) -> str:
    """:func:`figure_ranges` as compact JSON (for a ``data-ranges`` attribute)."""
    return json.dumps(figure_ranges(fig), separators=(",", ":"))


def _style(ax) -> None:
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(True, color="#e5e5e5", linewidth=0.6)
    ax.set_axisbelow(True)


def _lost(df: pd.DataFrame, column: str) -> np.ndarray:
    return df[column].to_numpy(float) if column in df else np.full(len(df), np.nan)


def restoration_figure(curves: Mapping[str, pd.DataFrame], *, band: str | None = None,
                       total_mw: float | None = None) -> Figure:
    """Restoration curves: load still without power over time, one line per policy
    (colour and line style), each labelled on the plot, with the spread over events
    shaded for one policy.

    Parameters
    ----------
    curves : mapping of str to DataFrame
        Policy -> ``time_h``, ``lost_mw`` (mean over events) and, where known,
        ``lost_p10_mw`` and ``lost_p90_mw`` (:func:`gridres.study.evaluate.
        curves_from_records`).
    band : str, optional
        The policy whose 10th to 90th percentile over events is shaded (default: the
        first with those columns).
    total_mw : float, optional
        The intact grid's load: a right-hand axis shows the loss as a share of it.

    Notes
    -----
    The y axis runs from 0 to just above the largest value drawn (the band included);
    the x axis ends a little after the last curve reaches zero (or at the end of the
    curves). Curves that coincide are labelled together.
    """
    fig = Figure(figsize=(7.6, 3.9))
    ax = fig.add_subplot(label="restoration")
    if band is None or band not in curves:
        band = next((p for p, df in curves.items()
                     if {"lost_p10_mw", "lost_p90_mw"} <= set(df.columns)), None)
    means = {p: _lost(df, "lost_mw") for p, df in curves.items()}
    top = max([float(np.nanmax(v)) for v in means.values() if len(v) and
               np.isfinite(v).any()] + [0.0])
    if band is not None:
        df = curves[band]
        t = df["time_h"].to_numpy(float)
        lo, hi = _lost(df, "lost_p10_mw"), _lost(df, "lost_p90_mw")
        if np.isfinite(hi).any():
            ax.fill_between(t, lo, hi, step="post", color="#9aa5b1", alpha=0.22,
                            linewidth=0, zorder=1,
                            label=f"8 in 10 events lie in the band ({band})")
            ax.legend(loc="upper right", fontsize=7.5, frameon=False)
            top = max(top, float(np.nanmax(hi)))
    end = _settled(curves, top)
    groups = _same_curves(curves, means, top)
    for k, (policy, df) in enumerate(curves.items()):
        ax.step(df["time_h"].to_numpy(float), means[policy], where="post",
                color=POLICY_COLOURS[k % len(POLICY_COLOURS)],
                linestyle=POLICY_STYLES[k % len(POLICY_STYLES)], linewidth=2.0, zorder=3)
    ax.set_xlim(0.0, end)
    ax.set_ylim(0.0, max(top * 1.08, 1e-6))
    _direct_labels(ax, curves, means, groups, end, top)
    ax.set_xlabel("Hours after the event")
    ax.set_ylabel("Load still without power (MW)")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _fmt(v)))
    if total_mw is not None and total_mw > 0:
        sec = ax.secondary_yaxis("right", functions=(lambda v: 100.0 * v / total_mw,
                                                     lambda p: p * total_mw / 100.0))
        sec.set_ylabel("Share of normal demand")
        sec.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g} %"))
    _style(ax)
    fig.tight_layout()
    return fig


def _settled(curves: Mapping[str, pd.DataFrame], top: float) -> float:
    """A little after the last time any curve (or band) is above 0.5 % of ``top``;
    the end of the curves where they never settle."""
    last, span = 0.0, 0.0
    for df in curves.values():
        t = df["time_h"].to_numpy(float)
        if not len(t):
            continue
        span = max(span, float(t[-1]))
        high = np.zeros(len(t), dtype=bool)
        for col in ("lost_mw", "lost_p90_mw"):
            v = _lost(df, col)
            high |= np.nan_to_num(v) > 0.005 * top
        above = np.flatnonzero(high)
        if len(above):
            k = above[-1] + 1
            last = max(last, float(t[k]) if k < len(t) else span)
    if span <= 0:
        return 1.0
    return float(min(span, max(last * 1.12, span / 50.0, 1.0)))


def _same_curves(curves, means, top) -> list[tuple[list[str], bool]]:
    """Policies whose mean curves coincide (exactly, or within 1 % of ``top``
    everywhere), grouped in order, each group with whether it coincides exactly."""
    groups: list[tuple[list[str], bool]] = []
    for p in curves:
        for g, exact in groups:
            a, b = means[p], means[g[0]]
            if len(a) == len(b) and np.allclose(a, b, atol=0.01 * max(top, 1e-9),
                                                rtol=0.0, equal_nan=True):
                g.append(p)
                if not np.allclose(a, b, atol=1e-6 * max(top, 1.0), rtol=0.0,
                                   equal_nan=True):
                    groups[groups.index((g, exact))] = (g, False)
                break
        else:
            groups.append(([p], True))
    return groups


def _direct_labels(ax, curves, means, groups, end: float, top: float) -> None:
    """Write each policy's name beside its curve, where it stands furthest from the
    others, on the side away from the nearest one; curves that coincide share a label.
    Labels that would overlap are moved apart, with a thin line to their curve."""
    if top <= 0:
        return
    placed: list[tuple[float, float]] = []
    order = {p: k for k, p in enumerate(curves)}
    firsts = [g[0] for g, _ in groups]
    for (group, exact), p in zip(groups, firsts, strict=True):
        t = curves[p]["time_h"].to_numpy(float)
        y = np.nan_to_num(means[p])
        cand = np.flatnonzero((t > 0.02 * end) & (t < 0.8 * end))
        if not len(cand):
            cand = np.arange(len(t))
        others = [np.nan_to_num(means[q]) for q in firsts if q != p]
        sep = (np.min([np.abs(y[cand] - o[cand]) for o in others], axis=0) if others
               else np.full(len(cand), top))
        lifted = y[cand] > 0.03 * top
        score = np.minimum(sep, 0.15 * top) + 0.02 * y[cand] + 0.1 * top * lifted
        k = cand[int(np.argmax(score))]
        x_at, y_at = float(t[k]), float(y[k])
        above = [o[k] - y_at for o in others if o[k] > y_at]
        below = [y_at - o[k] for o in others if o[k] <= y_at]
        down = bool(above) and (not below or min(above) < min(below)) and y_at > 0.15 * top
        ty = y_at - 0.07 * top if down else y_at + 0.07 * top
        for px, py in sorted(placed, key=lambda q: q[1]):
            if abs(px - x_at) < 0.25 * end and abs(py - ty) < 0.07 * top:
                ty = py - 0.08 * top if down else py + 0.08 * top
        ty = float(np.clip(ty, 0.03 * top, 1.0 * top))
        placed.append((x_at, ty))
        name = (", ".join(group[:-1]) + " and " + group[-1]) if len(group) > 1 else group[0]
        if len(group) > 1:
            name += " (same curve)" if exact else " (almost the same)"
        colour = POLICY_COLOURS[order[p] % len(POLICY_COLOURS)]
        ax.annotate(name, xy=(x_at, y_at), xytext=(x_at + 0.015 * end, ty),
                    textcoords="data", fontsize=8.5, color=colour, weight="bold",
                    va="top" if down else "bottom", ha="left",
                    arrowprops={"arrowstyle": "-", "color": colour, "linewidth": 0.7,
                                "shrinkA": 0, "shrinkB": 1},
                    bbox={"boxstyle": "round,pad=0.15", "facecolor": "white",
                          "edgecolor": "none", "alpha": 0.85})


def distribution_figure(records: pd.DataFrame, metrics: Mapping[str, Mapping[str, float]],
                        columns: tuple[str, ...] = ("shed_mw", "customers_out", "people_out")
                        ) -> Figure:
    """Histograms of per-scenario outcomes with the mean, the 95th percentile and the
    average of the worst 5 % of events marked.

    Parameters
    ----------
    records : DataFrame
        One row per scenario.
    metrics : mapping
        Column -> tail statistics (``mean``, ``p95``, ``cvar95``).
    columns : tuple of str
        Record columns to draw (those missing, or unknown in every event, such as
        customers on a grid without customer data, are skipped).
    """
    cols = [c for c in columns if c in records.columns
            and np.isfinite(records[c].to_numpy(float)).any()]
    fig = Figure(figsize=(3.4 * max(len(cols), 1), 3.0))
    for k, col in enumerate(cols):
        ax = fig.add_subplot(1, len(cols), k + 1, label=col)
        values = records[col].to_numpy(float)
        values = values[np.isfinite(values)]
        bins = _bins(values)
        ax.hist(values, bins=bins, color="#8da0cb", edgecolor="white", linewidth=0.5)
        stats = metrics.get(col, {})
        for key, style, label in (("mean", "-", "mean"), ("p95", "--", "95th percentile"),
                                  ("cvar95", ":", "worst 5 % average")):
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


def contingency_figure(ranking: pd.DataFrame, value: str, label: str, top: int = 10,
                       names: Mapping[str, str] | None = None) -> Figure:
    """Horizontal bars of the ``top`` worst single outages by ``value``, each named by
    ``names`` (outage id -> name; default the id)."""
    part = ranking.sort_values(value, ascending=False).head(top).iloc[::-1]
    fig = Figure(figsize=(7.6, 0.32 * len(part) + 1.0))
    ax = fig.add_subplot(label="outages")
    names = [(names or {}).get(str(i), str(i)) for i in part.index]
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
    ax = fig.add_subplot(label="facilities")
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
    ax = fig.add_subplot(label="frontier")
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
