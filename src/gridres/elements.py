"""Naming grid elements: ``KIND:ID`` tokens, substations, and the outage state they name.

One place turns what a user writes into positions and a :class:`~gridres.model.State`:
``gridres outage --fail``, scenario files, study files, priority lists and the Python API
all go through it, and an unknown id gets the same one-line message with close matches
everywhere.

Tokens are ``bus:ID``, ``branch:ID``, ``gen:ID`` (``generator:ID`` also) and
``substation:NAME``. A *substation* is the set of buses that share a non-empty
``substation`` name in the bus table; buses without a name that stand at the same
location form one (named by its first bus's id); any other bus is a substation of its
own (named by its bus id). Contingency sweeps, scenario generators and
``--fail substation:NAME`` all use this one grouping; failing a substation fails its
buses.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gridres.errors import UsageError
from gridres.model import Grid, Network, State, UnknownIdError

__all__ = [
    "ELEMENT_KINDS",
    "Substations",
    "substations",
    "substation_buses",
    "split_token",
    "element_token",
    "parse_tokens",
    "expand_tokens",
    "outage_state",
    "as_state",
    "element_label",
    "element_labels",
]

#: Token kinds and the grid table they name (``substation`` names groups of buses).
ELEMENT_KINDS = {
    "bus": "buses",
    "branch": "branches",
    "gen": "generators",
    "generator": "generators",
    "substation": "buses",
}

#: The short kind of each table, as tokens and job lists write it.
_SHORT = {"buses": "bus", "branches": "branch", "generators": "gen"}


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


def substation_buses(grid: Grid) -> dict[str, np.ndarray]:
    """In-service bus positions of every substation that has any (see the module notes).

    Examples
    --------
    >>> from gridres.io import load_grid
    >>> len(substation_buses(load_grid("matpower:case14")))
    14
    """
    subs = substations(grid)
    on = grid.buses["in_service"].to_numpy(bool)
    out = {}
    for k, name in enumerate(subs.names):
        buses = np.flatnonzero((subs.of_bus == k) & on)
        if len(buses):
            out[str(name)] = buses.astype(np.int64)
    return out


def split_token(token: str, where: str = "", *, substation: bool = True) -> tuple[str, str]:
    """``(kind, id)`` of a token, the kind normalised to ``bus``, ``branch``, ``gen`` or
    ``substation``.

    Parameters
    ----------
    token : str
    where : str
        Where the token comes from (a file and row, an option), prefixed to the message.
    substation : bool
        Whether ``substation:NAME`` is allowed.

    Raises
    ------
    UsageError
        On a malformed token or an unknown kind.

    Examples
    --------
    >>> split_token(" Generator : G1 ")
    ('gen', 'G1')
    """
    kind, sep, ident = str(token).partition(":")
    kind, ident = kind.strip().lower(), ident.strip()
    kinds = "bus, branch, gen, substation" if substation else "bus, branch, gen"
    if not sep or kind not in ELEMENT_KINDS or not ident or (
            kind == "substation" and not substation):
        prefix = f"{where}: " if where else ""
        raise UsageError(f"{prefix}{token!r} is not an element: write KIND:ID with KIND one "
                         f"of {kinds} (e.g. branch:12)")
    return ("substation" if kind == "substation" else _SHORT[ELEMENT_KINDS[kind]]), ident


def element_token(token: str) -> str:
    """Normalise a single-element token to ``bus:ID``, ``branch:ID`` or ``gen:ID``.

    Examples
    --------
    >>> element_token("generator:G1")
    'gen:G1'
    """
    kind, ident = split_token(token, substation=False)
    return f"{kind}:{ident}"


def _prefixed(exc: UnknownIdError, where: str) -> UnknownIdError:
    if not where:
        return exc
    return UnknownIdError(f"{where}: {exc}", noun=exc.noun, close=exc.close)


def _substation(subs: Substations, ident: str, grid: Grid, where: str) -> int:
    pos = subs.names.get_indexer([ident])[0]
    if pos < 0:
        close = difflib.get_close_matches(ident, subs.names.tolist(), n=5, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        prefix = f"{where}: " if where else ""
        raise UnknownIdError(
            f"{prefix}{grid.source or grid.name}: no substation named {ident!r}{hint}",
            noun="substation", close=tuple(close))
    return int(pos)


def _resolve(tokens: Iterable[str], grid: Grid, where: str, in_service: bool
             ) -> list[tuple[str, int]]:
    """``(kind, position)`` of every element the tokens name, in order; a substation
    gives its buses (only the in-service ones with ``in_service``)."""
    out: list[tuple[str, int]] = []
    subs: Substations | None = None
    for token in tokens:
        kind, ident = split_token(token, where)
        if kind == "substation":
            subs = subs or substations(grid)
            k = _substation(subs, ident, grid, where)
            buses = np.flatnonzero(subs.of_bus == k)
            if in_service:
                buses = buses[grid.buses["in_service"].to_numpy(bool)[buses]]
            out.extend(("bus", int(i)) for i in buses)
            continue
        try:
            pos = grid.lookup({v: k for k, v in _SHORT.items()}[kind], [ident])
        except UnknownIdError as exc:
            raise _prefixed(exc, where) from None
        out.append((kind, int(pos[0])))
    return out


def parse_tokens(tokens: Iterable[str], grid: Grid, where: str = "") -> dict[str, np.ndarray]:
    """Turn element tokens into positions.

    Parameters
    ----------
    tokens : iterable of str
        ``bus:ID``, ``branch:ID``, ``gen:ID`` (or ``generator:ID``), ``substation:NAME``
        (all of its buses).
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
        On a malformed token or an unknown kind.
    UnknownIdError
        On an id the grid does not have (the message lists close matches).
    """
    found = _resolve(tokens, grid, where, in_service=False)
    return {table: np.array([p for k, p in found if k == kind], dtype=np.int64)
            for kind, table in (("bus", "buses"), ("branch", "branches"), ("gen", "gens"))}


def expand_tokens(tokens: Iterable[str], grid: Grid, where: str = "") -> tuple[str, ...]:
    """Check tokens against ``grid`` and normalise them to ``bus:ID``, ``branch:ID`` or
    ``gen:ID`` in the order given; ``substation:NAME`` becomes the tokens of its
    in-service buses.

    Raises
    ------
    UsageError, UnknownIdError
        As :func:`parse_tokens`.

    Examples
    --------
    >>> from gridres.io import load_grid
    >>> expand_tokens(["generator:1", "substation:2"], load_grid("ieee14"))
    ('gen:1', 'bus:2')
    """
    index = {"bus": grid.buses.index, "branch": grid.branches.index,
             "gen": grid.generators.index}
    return tuple(f"{k}:{index[k][p]}" for k, p in _resolve(tokens, grid, where, True))


def outage_state(grid: Grid, tokens: Iterable[str], where: str = "") -> State:
    """The intact state of ``grid`` with the elements the tokens name failed (a
    substation: its in-service buses).

    Examples
    --------
    >>> from gridres.io import load_grid
    >>> g = load_grid("ieee14")
    >>> s = outage_state(g, ["bus:9", "branch:2"])
    >>> int((~s.bus).sum()), int((~s.branch).sum())
    (1, 1)
    """
    found = _resolve(tokens, grid, where, in_service=True)
    return grid.network.intact().fail(*([p for k, p in found if k == kind]
                                        for kind in ("bus", "branch", "gen")))


def as_state(grid: Grid | Network, outage: State | str | Iterable[str] | None) -> State:
    """What an outage argument of the Python API names, as a :class:`State`.

    Parameters
    ----------
    grid : Grid or Network
    outage : State, str, iterable of str, or None
        A state (returned as is), ``None`` (the intact grid), or element tokens
        (``"bus:ID"``, ``"branch:ID"``, ``"gen:ID"``; ``"substation:NAME"`` needs a
        :class:`~gridres.model.Grid`).

    Raises
    ------
    UsageError, UnknownIdError
        As :func:`parse_tokens`.

    Examples
    --------
    >>> from gridres.io import load_grid
    >>> g = load_grid("ieee14")
    >>> int((~as_state(g.network, "branch:3").branch).sum())
    1
    """
    net = grid.network if isinstance(grid, Grid) else grid
    if outage is None:
        return net.intact()
    if isinstance(outage, State):
        return outage
    tokens = [outage] if isinstance(outage, str) else list(outage)
    if isinstance(grid, Grid):
        return outage_state(grid, tokens)
    buses: list[str] = []
    branches: list[str] = []
    gens: list[str] = []
    lists = {"bus": buses, "branch": branches, "gen": gens}
    for token in tokens:
        kind, ident = split_token(token)
        if kind == "substation":
            raise UsageError(f"{token!r}: substations are named in the grid's tables; pass "
                             "the Grid (gridres.load_grid(...)), not its Network")
        lists[kind].append(ident)
    return net.intact().fail(buses, branches, gens)


# -- names for readers ----------------------------------------------------------------
def _text(v: object) -> str:
    return "" if v is None or (isinstance(v, float) and np.isnan(v)) else " ".join(str(v).split())


def _kv(v: object) -> str:
    try:
        x = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""
    return f"{x:g} kV" if np.isfinite(x) and x > 0 else ""


def element_labels(grid: Grid, tokens: Iterable[str]) -> list[str]:
    """Names of elements for readers of a report, one per token.

    A bus is named by its ``name`` (else ``bus ID``); a line by its voltage and the
    substations (or bus names) at its ends, with the circuit where several run in
    parallel (``110 kV line Kaltenfeld-Heide – Kaltenfeld 2 (circuit 1)``); a
    transformer by its substation and voltages; a generator by its ``plant`` (else
    ``generator ID``); a substation by its name. Where the buses have neither names nor
    substations (MATPOWER cases), the id stays: ``line 7 (bus 4 – bus 5)``. Several
    elements joined by ``+`` (an N-2 pair) are named together. An unknown id is
    returned as it is.

    Examples
    --------
    >>> import pandas as pd
    >>> from gridres.model import Grid
    >>> g = Grid(buses=pd.DataFrame({"id": ["a", "b", "c"], "base_kv": [110.0, 110.0, 20.0],
    ...                              "substation": ["North", "South", "South"]}),
    ...          branches=pd.DataFrame({"id": ["l1", "l2", "t1"], "from_bus": ["a", "a", "b"],
    ...                                 "to_bus": ["b", "b", "c"], "x_pu": [0.1] * 3,
    ...                                 "kind": ["line", "line", "transformer"]}))
    >>> element_labels(g, ["branch:l2", "branch:t1", "bus:c", "branch:l1+bus:a"])
    ['110 kV line North – South (circuit 2)', 'transformer at South (110/20 kV)', 'bus c', '110 kV line North – South (circuit 1) and bus a']
    """
    b, br, gen = grid.buses, grid.branches, grid.generators
    names = b["name"].map(_text) if "name" in b else pd.Series("", index=b.index)
    subs = b["substation"].map(_text) if "substation" in b else pd.Series("", index=b.index)
    place = subs.where(subs != "", names)
    named = bool((place != "").any())
    pairs = pd.Series([tuple(sorted(p)) for p in zip(br["from_bus"].astype(str),
                                                    br["to_bus"].astype(str), strict=True)],
                      index=br.index, dtype=object)
    circuit = pairs.groupby(pairs).cumcount() + 1
    parallel = pairs.map(pairs.value_counts()) > 1

    def end(bus: str) -> str:
        return place.get(bus, "") or f"bus {bus}"

    def one(token: str) -> str:
        kind, _, ident = token.partition(":")
        if kind == "substation":
            return ident
        if kind == "bus":
            return (names.get(ident, "") or f"bus {ident}") if ident in b.index else token
        if kind in ("gen", "generator"):
            if ident not in gen.index:
                return token
            plant = _text(gen.at[ident, "plant"]) if "plant" in gen else ""
            return f"generator {plant}" if plant else f"generator {ident}"
        if kind != "branch" or ident not in br.index:
            return token
        f, t = str(br.at[ident, "from_bus"]), str(br.at[ident, "to_bus"])
        transformer = "kind" in br and str(br.at[ident, "kind"]) == "transformer"
        noun = "transformer" if transformer else "line"
        if not named:
            return f"{noun} {ident} (bus {f} – bus {t})"
        more = f" (circuit {circuit[ident]})" if parallel[ident] else ""
        if transformer:
            kvs = "/".join(k.removesuffix(" kV") for k in (_kv(b["base_kv"].get(f)),
                                                          _kv(b["base_kv"].get(t))) if k)
            notes = [f"{kvs} kV"] if kvs else []
            notes += [f"unit {circuit[ident]}"] if parallel[ident] else []
            more = f" ({', '.join(notes)})" if notes else ""
            where = f"at {end(f)}" if end(f) == end(t) else f"{end(f)} – {end(t)}"
            return f"transformer {where}{more}"
        kv = _kv(br.at[ident, "voltage_kv"]) if "voltage_kv" in br else ""
        kv = kv or _kv(b["base_kv"].get(f)) if "base_kv" in b else kv
        return f"{kv + ' ' if kv else ''}line {end(f)} – {end(t)}{more}"

    return [" and ".join(one(part) for part in str(tok).split("+")) for tok in tokens]


def element_label(grid: Grid, token: str) -> str:
    """The name of one element for readers (:func:`element_labels`)."""
    return element_labels(grid, [token])[0]
