"""Summary statistics of an ensemble, computed from its results folder.

Pure functions over the records (:func:`tail_stats`, :func:`element_counts`,
:func:`facility_dark`) and :func:`summarize`, which reads a folder and returns an
:class:`EnsembleSummary`. The report and the redundancy planner read ensembles through
these.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gridres.ensemble.evaluate import SEP
from gridres.ensemble.store import load_bus_counts, load_records, read_manifest, resolve_dir
from gridres.io.jsondoc import jsonable
from gridres.model import customer_count

__all__ = [
    "EnsembleSummary",
    "METRICS",
    "tail_stats",
    "element_counts",
    "facility_dark",
    "bus_dark",
    "summarize",
]

#: Record columns that get tail statistics, where present.
METRICS = ("shed_mw", "customers_out", "people_out")


def tail_stats(values: Any, level: float = 0.95) -> dict[str, float]:
    """Mean, median, ``p95`` and ``cvar95`` (and max) of a sample.

    Parameters
    ----------
    values : array-like of float
    level : float
        Tail level; the keys keep the names ``p95`` and ``cvar95``.

    Returns
    -------
    dict
        ``mean``, ``median``, ``p95`` (the ``level`` quantile with linear interpolation,
        as :meth:`pandas.Series.quantile`), ``cvar95`` (the mean of the worst
        ``k = ceil((1 - level) n)`` values: the expected loss in the worst 5 % of
        scenarios) and ``max``. NaN for an empty sample.

    Examples
    --------
    >>> tail_stats(range(1, 101))["cvar95"]
    98.0
    """
    x = np.sort(np.asarray(values, dtype=float))
    n = len(x)
    if n == 0:
        return dict.fromkeys(("mean", "median", "p95", "cvar95", "max"), math.nan)
    k = max(1, math.ceil(round((1.0 - level) * n, 9)))
    return {
        "mean": float(x.mean()),
        "median": float(np.median(x)),
        "p95": float(np.quantile(x, level)),
        "cvar95": float(x[n - k:].mean()),
        "max": float(x[-1]),
    }


def _count_items(column: pd.Series) -> pd.Series:
    """Scenarios in which each ``;``-separated item of ``column`` occurs."""
    s = column[column.astype(str) != ""].astype(str)
    if s.empty:
        return pd.Series(dtype="int64")
    return s.str.split(SEP).explode().value_counts()


def _ranked(df: pd.DataFrame, by: str) -> pd.DataFrame:
    """Rows by ``by`` descending, ties by id: the same order on every run."""
    order = np.lexsort((df.index.to_numpy(dtype=str), -df[by].to_numpy()))
    return df.iloc[order]


def element_counts(records: pd.DataFrame) -> pd.DataFrame:
    """How often each element failed: as part of the scenario (``initial``, from the
    ``failed`` column) or tripped by the cascade (``tripped``).

    Returns
    -------
    pandas.DataFrame
        Index ``element`` (``KIND:ID``), columns ``initial``, ``tripped``, ``scenarios``
        (their sum: an element that failed initially cannot trip) and ``p``
        (``scenarios / len(records)``), most frequent first.
    """
    none = pd.Series(dtype="int64")
    initial = _count_items(records["failed"]) if "failed" in records else none
    tripped = _count_items(records["tripped"]) if "tripped" in records else none
    df = pd.DataFrame({"initial": initial, "tripped": tripped}).fillna(0).astype("int64")
    df.index = df.index.astype(str)
    df.index.name = "element"
    df["scenarios"] = df["initial"] + df["tripped"]
    df["p"] = df["scenarios"] / max(len(records), 1)
    return _ranked(df, "scenarios")


def facility_dark(records: pd.DataFrame, facility_ids: list[str]) -> pd.DataFrame:
    """Scenarios in which each facility went dark (``dark``) and its probability
    (``p_dark``), for every facility in ``facility_ids``, most exposed first."""
    counts = (
        _count_items(records["dark_facilities"]) if "dark_facilities" in records
        else pd.Series(dtype="int64")
    )
    ids = pd.Index([str(i) for i in facility_ids], name="id")
    dark = counts.reindex(ids.union(counts.index.astype(str))).fillna(0).astype("int64")
    df = pd.DataFrame({"dark": dark})
    df.index.name = "id"
    df["p_dark"] = df["dark"] / max(len(records), 1)
    return _ranked(df, "dark")


def bus_dark(counts: pd.DataFrame, n: int) -> pd.DataFrame:
    """Probability of loss of supply per bus from summed bus counts (``dark`` column):
    columns ``dark`` and ``p_dark``, buses that were ever dark only, most exposed first."""
    if "dark" not in counts or n == 0:
        return pd.DataFrame({"dark": pd.Series(dtype="int64"), "p_dark": pd.Series(dtype=float)},
                            index=pd.Index([], name="id", dtype=object))
    df = counts[["dark"]][counts["dark"] > 0].copy()
    df["p_dark"] = df["dark"] / n
    return _ranked(df, "dark")


@dataclass(frozen=True, eq=False)
class EnsembleSummary:
    """What an ensemble says, computed by :func:`summarize`.

    Attributes
    ----------
    manifest : dict
        The run's manifest (grid, scenario, n, seed, evaluator, version, ...).
    n : int
        Scenarios asked for.
    completed : int
        Scenarios with results (``n`` unless the run was interrupted).
    total_load_mw : float
        Load of the intact grid.
    metrics : dict
        Record column -> :func:`tail_stats` (``shed_mw``, ``customers_out``,
        ``people_out``). Customer statistics are whole numbers, NaN (null in JSON) where
        the grid has no customer data.
    p_shed : float
        Fraction of scenarios that shed any load.
    facilities : pandas.DataFrame
        Per facility: ``dark`` (scenarios) and ``p_dark``.
    buses : pandas.DataFrame
        Per bus ever without supply: ``dark`` (scenarios) and ``p_dark``, the
        probability of loss of supply.
    elements : pandas.DataFrame
        Per failed element: ``initial``, ``tripped``, ``scenarios``, ``p``
        (see :func:`element_counts`), most frequent first.
    """

    manifest: dict[str, Any]
    n: int
    completed: int
    total_load_mw: float
    metrics: dict[str, dict[str, float]]
    p_shed: float
    facilities: pd.DataFrame
    buses: pd.DataFrame
    elements: pd.DataFrame

    @property
    def complete(self) -> bool:
        return self.completed >= self.n

    def to_dict(self, top: int = 20) -> dict[str, Any]:
        """The summary as one JSON-ready document; the per-bus and per-element tables
        are cut to their ``top`` rows."""
        m = self.manifest

        def rows(df: pd.DataFrame, name: str, k: int | None = None) -> list[dict[str, Any]]:
            part = df if k is None else df.head(k)
            return [{name: str(i), **{c: jsonable(v) for c, v in r.items()}}
                    for i, r in zip(part.index, part.to_dict("records"), strict=True)]

        return {
            "grid": m.get("grid"),
            "grid_source": m.get("grid_source"),
            "scenario": m.get("scenario"),
            "evaluator": m.get("evaluator"),
            "seed": m.get("seed"),
            "n": self.n,
            "completed": self.completed,
            "complete": self.complete,
            "total_load_mw": jsonable(self.total_load_mw),
            "p_shed": jsonable(self.p_shed),
            "metrics": {k: {s: customer_count(v) if k == "customers_out" else jsonable(v)
                            for s, v in st.items()}
                        for k, st in self.metrics.items()},
            "facilities": rows(self.facilities, "id"),
            "buses_ever_dark": len(self.buses),
            "buses": rows(self.buses, "id", top),
            "top_failed": rows(self.elements, "element", top),
        }


def summarize(path: str | os.PathLike) -> EnsembleSummary:
    """Summarise an ensemble folder (finished or not) from its parts.

    Parameters
    ----------
    path : path-like
        The ensemble folder (``--out DIR``) or its ``parts`` subfolder.

    Returns
    -------
    EnsembleSummary

    Raises
    ------
    InputNotFound
        If ``path`` is not an ensemble folder.

    Notes
    -----
    Reads every part once: ``O(records)``. The numbers depend only on the finished
    scenarios, not on how they were batched or on how many workers ran them.
    """
    root, _ = resolve_dir(path)
    manifest = read_manifest(root) or {}
    records = load_records(root)
    done = len(records)
    metrics = {c: tail_stats(records[c]) for c in METRICS if c in records}
    if "customers_out" in metrics:  # whole customers; unknown (NaN) without customer data
        metrics["customers_out"] = {k: float(round(v)) if math.isfinite(v) else math.nan
                                    for k, v in metrics["customers_out"].items()}
    p_shed = float((records["shed_mw"] > 1e-6).mean()) if "shed_mw" in records and done else 0.0
    return EnsembleSummary(
        manifest=manifest,
        n=int(manifest.get("n", done)),
        completed=done,
        total_load_mw=float(manifest.get("total_load_mw", math.nan)),
        metrics=metrics,
        p_shed=p_shed,
        facilities=facility_dark(records, manifest.get("facilities", [])),
        buses=bus_dark(load_bus_counts(root), done),
        elements=element_counts(records),
    )
