"""Picking the elements that scenarios fail: attribute weights, weighted sampling without
replacement, and the check that a generator samples the network of the grid it was
built for. Element tokens and substations are :mod:`gridres.elements`.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from gridres.elements import substations
from gridres.errors import UsageError
from gridres.model import Grid, Network

__all__ = [
    "element_weights",
    "weighted_choice",
    "check_network",
    "check_param",
]

logger = logging.getLogger(__name__)

def element_weights(grid: Grid, table: str, weight: str | None, who: str) -> np.ndarray:
    """Non-negative sampling weights of a table's elements from one of its columns.

    Parameters
    ----------
    grid : Grid
    table : {"buses", "branches", "generators", "substations"}
        Substation weights are the sum of the bus column over the substation's buses.
    weight : str or None
        A numeric column of the table (``length_km``, ``load_mw``, ``pmax_mw``,
        ``customers`` ...) or ``critical_mw`` (load that feeds critical facilities, for
        buses and substations); ``None`` or ``"uniform"`` gives equal weights. Blank
        values (a transformer's ``length_km``) weigh 0, with a warning.
    who : str
        The generator's name, for error messages.

    Returns
    -------
    ndarray of float, shape (n_elements,)

    Raises
    ------
    UsageError
        If the column does not exist or has a negative, infinite or non-numeric value
        (the message names the first such element).
    """
    base = "buses" if table == "substations" else table
    df = getattr(grid, base)
    if weight is None or weight == "uniform":
        values = np.ones(len(df))
    elif weight == "critical_mw" and base == "buses":
        values = grid.network.critical_mw.copy()
    elif weight in df.columns and weight != "geometry":
        col = df[weight]
        if col.dtype == bool:
            col = col.astype(float)
        values = pd.to_numeric(col, errors="coerce").to_numpy(float)
        blank = np.flatnonzero(col.isna().to_numpy())
        if len(blank):
            logger.warning("%s: %d of %d %s have no %s; they get weight 0 (never drawn)",
                           who, len(blank), len(df), base, weight)
            values[blank] = 0.0
        bad = np.flatnonzero(~np.isfinite(values) | (values < 0))
        if len(bad):
            noun = {"buses": "bus", "branches": "branch", "generators": "generator"}[base]
            value = df[weight].iloc[bad[0]]
            shown = repr(value) if isinstance(value, str) else str(value)
            raise UsageError(
                f"The 'weight' parameter of {who} names column {weight!r}, but {noun} "
                f"{df.index[bad[0]]!r} has {shown}; fill the column with numbers >= 0 or "
                "drop weight="
            )
    else:
        numeric = [c for c in df.columns if c != "geometry" and pd.api.types.is_numeric_dtype(df[c])]
        extra = ["critical_mw"] if base == "buses" else []
        raise UsageError(
            f"The 'weight' parameter of {who} must be a numeric column of the {base} table. "
            f"Got {weight!r} instead (choose from: uniform, {', '.join(numeric + extra)})."
        )
    if table == "substations":
        values = substations(grid).total(values)
    return values


def weighted_choice(
    rng: np.random.Generator, weights: np.ndarray, k: int, focus: float = 1.0
) -> np.ndarray:
    """Draw ``k`` distinct positions with probability proportional to ``weights**focus``,
    in draw order.

    Successive sampling without replacement (each pick proportional to the remaining
    weights), done in one vectorised draw of ``len(weights)`` uniforms with the
    exponential-keys method (Efraimidis and Spirakis, 2006): the ``k`` largest
    ``log(u) / w`` win. Zero weights are never drawn.

    Parameters
    ----------
    rng : numpy.random.Generator
    weights : ndarray of float, shape (n,)
        Non-negative.
    k : int
        ``0 <= k <=`` number of positive weights.
    focus : float
        Exponent on the weights: 0 is uniform over positive weights, 1 proportional,
        larger values concentrate the picks on the heaviest elements.

    Returns
    -------
    ndarray of int, shape (k,)

    References
    ----------
    P. S. Efraimidis and P. G. Spirakis, "Weighted random sampling with a reservoir",
    Information Processing Letters 97 (5), 2006.
    """
    w = np.asarray(weights, dtype=float)
    positive = w > 0
    if focus != 1.0:
        w = np.where(positive, w ** focus, 0.0)
    u = rng.random(len(w))
    with np.errstate(divide="ignore"):
        keys = np.where(positive, np.log(u) / np.where(positive, w, 1.0), -np.inf)
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    top = np.argpartition(-keys, k - 1)[:k] if k < len(w) else np.arange(len(w))
    return top[np.argsort(-keys[top], kind="stable")].astype(np.int64)


def check_network(net: Network, grid: Grid, who: str) -> None:
    """Refuse to sample a network other than the one compiled from ``grid``."""
    gnet = grid.network
    if net is gnet:
        return
    if (
        net.bus_ids.equals(gnet.bus_ids)
        and net.branch_ids.equals(gnet.branch_ids)
        and net.gen_ids.equals(gnet.gen_ids)
    ):
        return
    raise UsageError(
        f"{who} was built for grid {grid.name!r} and cannot sample network {net.name!r}; "
        "build one generator per grid with scenario_from_spec(spec, grid)"
    )


def check_param(ok: bool, name: str, who: str, must: str, got: object) -> None:
    """Raise the standard parameter error: "The 'k' parameter of random must be an int
    >= 1. Got 0 instead." unless ``ok``."""
    if not ok:
        raise UsageError(f"The {name!r} parameter of {who} must be {must}. Got {got!r} instead.")
