"""Naming and picking the elements that scenarios fail.

Shared by every generator: element tokens (``bus:ID``, ``branch:ID``, ``gen:ID``,
``substation:NAME``), substations as groups of buses, attribute weights, weighted
sampling without replacement, and the check that a generator samples the network of the
grid it was built for.

A *substation* is the set of buses that share a non-empty ``substation`` name in the bus
table; buses without a name that stand at the same location form one (named by its first
bus's id); any other bus is a substation of its own (named by its bus id). Contingency sweeps, scenario
generators and ``--fail substation:NAME`` all use this one grouping.
Failing a substation fails all of its buses.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gridres.errors import UsageError
from gridres.model import Grid, Network, UnknownIdError

__all__ = [
    "ELEMENT_KINDS",
    "Substations",
    "substations",
    "parse_tokens",
    "element_weights",
    "weighted_choice",
    "check_network",
    "check_param",
]

logger = logging.getLogger(__name__)

#: Token kinds and the grid table they name (``substation`` names groups of buses).
ELEMENT_KINDS = {
    "bus": "buses",
    "branch": "branches",
    "gen": "generators",
    "generator": "generators",
    "substation": "buses",
}


@dataclass(frozen=True, eq=False)
class Substations:
    """Buses grouped by substation.

    Attributes
    ----------
    names : pandas.Index of str, shape (n_sub,)
        Substation names (a lone bus's substation is named by its bus id).
    of_bus : ndarray of int, shape (n_bus,)
        Substation of every bus.
    in_service : ndarray of bool, shape (n_sub,)
        Substation with at least one in-service bus.
    """

    names: pd.Index
    of_bus: np.ndarray
    in_service: np.ndarray

    def __len__(self) -> int:
        return len(self.names)

    def buses(self, subs: Iterable[int]) -> np.ndarray:
        """Bus positions of the given substation positions."""
        return np.flatnonzero(np.isin(self.of_bus, np.asarray(list(subs), dtype=np.int64)))

    def total(self, per_bus: np.ndarray) -> np.ndarray:
        """Sum a per-bus array over each substation."""
        return np.bincount(self.of_bus, weights=per_bus, minlength=len(self.names))


def substations(grid: Grid) -> Substations:
    """Group the grid's buses into substations (see the module notes).

    Examples
    --------
    >>> import pandas as pd
    >>> from gridres.model import Grid
    >>> g = Grid(buses=pd.DataFrame({"id": ["a", "b", "c"], "substation": ["S", "S", ""]}),
    ...          branches=None)
    >>> s = substations(g)
    >>> list(s.names), s.of_bus.tolist()
    (['S', 'c'], [0, 0, 1])
    """
    b = grid.buses
    keys = b["substation"].astype(str).str.strip().to_numpy(dtype=object)
    empty = keys == ""
    if empty.any() and grid.has_geometry:
        # buses at the same location form a substation, named "x,y"
        geom = b["geometry"].to_numpy()
        for i in np.flatnonzero(empty):
            g = geom[i]
            if g is not None and not getattr(g, "is_empty", True):
                p = g.representative_point() if g.geom_type != "Point" else g
                keys[i] = f"{p.x:.9g},{p.y:.9g}"
        empty = keys == ""
    keys[empty] = b.index.to_numpy()[empty]
    codes, uniques = pd.factorize(pd.Series(keys, dtype=object), sort=False)
    # a group found by location is named by its first bus's id
    named = b["substation"].astype(str).str.strip().to_numpy() != ""
    first = np.unique(codes, return_index=True)[1]
    uniques = np.where(named[first], np.asarray(uniques, dtype=object),
                       b.index.to_numpy()[first])
    codes = codes.astype(np.int64)
    alive = np.zeros(len(uniques), dtype=bool)
    np.logical_or.at(alive, codes, grid.buses["in_service"].to_numpy(bool))
    return Substations(pd.Index(uniques.astype(str), name="substation"), codes, alive)


def parse_tokens(tokens: Iterable[str], grid: Grid, where: str = "") -> dict[str, np.ndarray]:
    """Turn element tokens into positions.

    Parameters
    ----------
    tokens : iterable of str
        ``bus:ID``, ``branch:ID``, ``gen:ID`` (or ``generator:ID``), ``substation:NAME``.
    grid : Grid
    where : str
        Where the tokens come from (a file and row), prefixed to error messages.

    Returns
    -------
    dict
        ``{"buses": ..., "branches": ..., "gens": ...}`` arrays of positions.

    Raises
    ------
    UsageError
        On a malformed token, an unknown kind, or an id the grid does not have.
    """
    out: dict[str, list[int]] = {"buses": [], "branches": [], "gens": []}
    prefix = f"{where}: " if where else ""
    subs: Substations | None = None
    for token in tokens:
        kind, sep, ident = str(token).partition(":")
        kind, ident = kind.strip().lower(), ident.strip()
        if not sep or kind not in ELEMENT_KINDS or not ident:
            raise UsageError(
                f"{prefix}{token!r} is not an element: write KIND:ID with KIND one of "
                "bus, branch, gen, substation (e.g. branch:12)"
            )
        if kind == "substation":
            subs = subs or substations(grid)
            pos = subs.names.get_indexer([ident])
            if pos[0] < 0:
                close = difflib.get_close_matches(ident, subs.names.tolist(), n=5, cutoff=0.5)
                hint = f"; did you mean {', '.join(close)}?" if close else ""
                raise UnknownIdError(
                    f"{prefix}{grid.source or grid.name}: no substation named {ident!r}{hint}"
                )
            out["buses"].extend(subs.buses(pos).tolist())
            continue
        table = ELEMENT_KINDS[kind]
        try:
            pos = grid.lookup(table, [ident])
        except UnknownIdError as exc:
            raise UnknownIdError(f"{prefix}{exc}") from None
        out[{"buses": "buses", "branches": "branches", "generators": "gens"}[table]].extend(
            pos.tolist()
        )
    return {k: np.asarray(v, dtype=np.int64) for k, v in out.items()}


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
