"""Worst-case strikes in figures: the attack curve (how much worse a thinking attacker is
than bad luck).

:func:`curve_figure` draws the table of :meth:`gridres.adversary.CurveResult.table`
(one row per ``k``) as a :class:`matplotlib.figure.Figure`, with matplotlib's object
API (no pyplot state); ``gridres attack --curve --out DIR`` saves it as ``curve.png``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from gridres.report.figures import METRIC_LABELS

__all__ = ["STRIKE_LABELS", "curve_figure"]

#: Axis labels of the strike objectives.
STRIKE_LABELS = {**METRIC_LABELS, "facilities_dark": "Critical facilities dark"}

#: Worst strikes and random failures (Okabe-Ito vermilion and blue).
_WORST, _RANDOM = "#D55E00", "#0072B2"


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
    fig = Figure(figsize=(6.4, 3.6), layout="constrained")
    ax = fig.add_subplot(label="attack curve")
    ax.fill_between(k, mean, p95, color=_RANDOM, alpha=0.15, linewidth=0,
                    label="random failures: mean to 95th percentile")
    ax.plot(k, mean, color=_RANDOM, marker="o", linestyle="--",
            label=f"{_plural(target)} failing at random (mean)")
    ax.plot(k, worst, color=_WORST, marker="o", linewidth=2,
            label=f"worst {_plural(target)} an attacker strikes")
    if (~optimal).any():
        ax.plot(k[~optimal], worst[~optimal], linestyle="none", marker="o",
                markerfacecolor="white", markeredgecolor=_WORST,
                label="best found (not proven worst)")
    for x, w, m in zip(k, worst, mean, strict=True):
        if m > 0 and math.isfinite(w / m) and w / m >= 1.05:
            ax.annotate(f"{w / m:.1f}× random", (x, w), textcoords="offset points", xytext=(0, 7),
                        ha="center", fontsize=8, color=_WORST)
    ax.set_xlabel("Elements lost together (k)")
    ax.set_ylabel(STRIKE_LABELS.get(objective, objective))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlim(k.min() - 0.3, k.max() + 0.3)
    top = float(np.nanmax(np.r_[worst, p95])) if len(k) else 1.0
    ax.set_ylim(0.0, top * 1.15 if top > 0 else 1.0)
    ax.grid(True, alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    return fig


def _plural(target: str) -> str:
    return {"substation": "substations", "bus": "buses", "branch": "branches",
            "gen": "generators"}.get(target, target)
