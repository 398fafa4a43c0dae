"""Grid (editable tables), Network (compiled arrays) and State (outage masks).

A :class:`Grid` is what users edit and files hold: tables with stable string ids and
units in their column names (buses, branches, generators, facilities, and the towns that
the buses feed). :func:`compile_grid` turns it into an immutable
:class:`Network` of numpy arrays for the engine. A :class:`State` says what is broken, as
boolean masks over the network's buses, branches and generators; a Grid or Network is
never edited in place to model an outage.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from gridres.errors import GridError, UsageError

__all__ = [
    "BUS_COLUMNS",
    "BRANCH_COLUMNS",
    "GENERATOR_COLUMNS",
    "FACILITY_COLUMNS",
    "FACILITY_KINDS",
    "TOWN_COLUMNS",
    "towns_from_buses",
    "CRITICAL_PRIORITY",
    "TOPOLOGY_CACHES",
    "Grid",
    "Network",
    "customer_count",
    "State",
    "compile_grid",
    "to_networkx",
    "lookup_ids",
    "ElementIds",
    "UnknownIdError",
]

#: Columns of each table and the default a reader fills in where a file lacks one.
BUS_COLUMNS: dict[str, Any] = {
    "name": "",
    "base_kv": np.nan,
    "load_mw": 0.0,
    "gs_mw": 0.0,  # shunt conductance at 1 p.u. voltage, a fixed demand (MATPOWER GS)
    "customers": 0,
    "priority": 0,  # load-shedding class: lower is shed first
    "substation": "",
    "ref": False,  # the case's reference (slack) bus
    "in_service": True,
    "town": "",  # id of the town this bus feeds ("" for none)
    "population": 0.0,  # inhabitants of that town fed by this bus
}
BRANCH_COLUMNS: dict[str, Any] = {
    "from_bus": "",
    "to_bus": "",
    "kind": "line",  # line | transformer
    "r_pu": 0.0,
    "x_pu": np.nan,
    "tap": 1.0,
    "shift_deg": 0.0,
    "rating_mw": np.inf,  # inf: no limit (MATPOWER RATE_A = 0)
    "length_km": np.nan,
    "in_service": True,
}
GENERATOR_COLUMNS: dict[str, Any] = {
    "bus": "",
    "p_mw": 0.0,
    "pmax_mw": 0.0,
    "pmin_mw": 0.0,
    "kind": "thermal",
    "blackstart": False,
    "in_service": True,
}
FACILITY_COLUMNS: dict[str, Any] = {
    "bus": "",
    "name": "",
    "kind": "hospital",
    "demand_mw": 0.0,
    "backup_mw": 0.0,
    "backup_hours": 0.0,
    "people": 0,
    # the service model (gridres.service_data documents the columns and their defaults)
    "town": "",  # town where the facility stands ("": its bus's town)
    "service": "",  # service it provides ("": from kind)
    "serves": "",  # towns it serves, ";"-separated ("": its town; "*": every town)
    "depends_on": "",  # services or facilities it needs ("": from kind; "none")
    "storage_h": np.nan,  # hours its service outlasts its stop (NaN: from kind)
    "coverage": 1.0,  # share of each served town's population that relies on it
}
#: Columns of the towns table (geometry, a point or an area, is optional).
TOWN_COLUMNS: dict[str, Any] = {
    "name": "",
    "population": 0.0,
}
FACILITY_KINDS = ("hospital", "water", "heating", "telecom", "shelter", "emergency", "other")

#: Cached views of a Network that depend on its branches and buses only, shared by the
#: networks :meth:`Network.with_values` derives from it (``_dc_solver``: the intact
#: grid's factorisation that :func:`gridres.flow.dc_solver` keeps with a network).
TOPOLOGY_CACHES = ("branch_csr", "live_branch", "has_shift", "incidence", "element_ids",
                   "_dc_solver")

#: Shedding class of load that feeds critical facilities: above every bus priority.
CRITICAL_PRIORITY = 1_000_000

_TABLES = {
    "buses": BUS_COLUMNS,
    "branches": BRANCH_COLUMNS,
    "generators": GENERATOR_COLUMNS,
    "facilities": FACILITY_COLUMNS,
    "towns": TOWN_COLUMNS,
}


class UnknownIdError(UsageError):
    """An id that names no element of the grid; the message lists close matches.

    Attributes
    ----------
    noun : str
        What was looked for (``bus``, ``branch``, ``generator``, ``substation`` ...).
    close : tuple of str
        The close matches the message offers (empty: none).
    """

    def __init__(self, message: str, *, noun: str = "", close: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.noun = noun
        self.close = tuple(close)


def lookup_ids(index: pd.Index, ids: Iterable[str], noun: str, where: str) -> np.ndarray:
    """Positions of ``ids`` in ``index``.

    Raises
    ------
    UnknownIdError
        Naming the first unknown id and its close matches: ``"{where}: no {noun} with
        id 'X'; did you mean ...?"``.
    """
    ids = [str(i) for i in ids]
    pos = index.get_indexer(ids)
    bad = [i for i, p in zip(ids, pos, strict=True) if p < 0]
    if bad:
        close = difflib.get_close_matches(bad[0], index.tolist(), n=5, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UnknownIdError(f"{where}: no {noun} with id {bad[0]!r}{hint}", noun=noun,
                             close=tuple(close))
    return pos.astype(np.int64)


def _conform(table: str, df: pd.DataFrame | None) -> pd.DataFrame:
    """Return ``df`` with string ids as index named ``id`` and every schema column."""
    columns = _TABLES[table]
    if df is None:
        df = pd.DataFrame(columns=list(columns))
    df = df.copy()
    if "id" in df.columns:
        df = df.set_index("id")
    df.index = pd.Index(df.index if _all_str(df.index) else df.index.astype(str), name="id")
    for col, default in columns.items():
        if col not in df.columns:
            df[col] = default
    # dtypes: ids and labels as str, flags as bool, counts as int where possible; columns
    # that already have their type are left as they are (big grids load faster)
    for col, default in columns.items():
        dtype = df[col].dtype
        if isinstance(default, bool):
            if dtype != np.bool_:
                df[col] = df[col].fillna(default).astype(bool)
        elif isinstance(default, str):
            if not _all_str(df[col]):
                df[col] = df[col].fillna(default).astype(str)
        elif isinstance(default, int):
            if dtype != np.int64:
                df[col] = pd.to_numeric(df[col], errors="coerce").fillna(default).astype(
                    np.int64)
        elif dtype != np.float64:
            df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
    return df


def _all_str(values: pd.Index | pd.Series) -> bool:
    """Whether every value is a Python str (a C-level scan)."""
    return values.dtype == object and pd.api.types.infer_dtype(values, skipna=False) in (
        "string", "empty")


@dataclass(frozen=True, eq=False)
class Grid:
    """A power grid as tables with string ids.

    Parameters
    ----------
    buses, branches, generators, facilities : pandas.DataFrame
        Tables indexed by string id (index name ``id``) with the columns of
        :data:`BUS_COLUMNS`, :data:`BRANCH_COLUMNS`, :data:`GENERATOR_COLUMNS` and
        :data:`FACILITY_COLUMNS`; missing columns get their defaults. Tables may be
        :class:`geopandas.GeoDataFrame` with a ``geometry`` column.
    towns : pandas.DataFrame, optional
        Towns by id with the columns of :data:`TOWN_COLUMNS` (``population`` in
        inhabitants) and an optional point or area geometry. The buses that feed a town
        name it in their ``town`` column. Default: :func:`towns_from_buses`, the towns
        the buses name, with the sum of their ``population``; the engine does not use
        towns (the service model does).
    name : str
        Grid name.
    base_mva : float
        System MVA base of the per-unit reactances.
    crs : str or None
        Coordinate reference system of geometries (e.g. ``"EPSG:4326"``).
    source : str
        Where the grid came from (a path or ``matpower:NAME``), used in messages.

    Examples
    --------
    >>> import pandas as pd
    >>> g = Grid(
    ...     buses=pd.DataFrame({"id": ["a", "b"], "load_mw": [0.0, 50.0], "ref": [True, False]}),
    ...     branches=pd.DataFrame({"id": ["l1"], "from_bus": ["a"], "to_bus": ["b"],
    ...                            "x_pu": [0.1], "rating_mw": [100.0]}),
    ...     generators=pd.DataFrame({"id": ["g1"], "bus": ["a"], "p_mw": [50.0],
    ...                              "pmax_mw": [80.0]}),
    ... )
    >>> float(g.network.load_mw.sum())
    50.0
    """

    buses: pd.DataFrame
    branches: pd.DataFrame
    generators: pd.DataFrame = field(default=None)  # type: ignore[assignment]
    facilities: pd.DataFrame = field(default=None)  # type: ignore[assignment]
    towns: pd.DataFrame = field(default=None)  # type: ignore[assignment]
    name: str = "grid"
    base_mva: float = 100.0
    crs: str | None = None
    source: str = ""

    def __post_init__(self) -> None:
        for table in _TABLES:
            if table == "towns" and self.towns is None:
                continue
            object.__setattr__(self, table, _conform(table, getattr(self, table)))
        if self.towns is None:
            object.__setattr__(self, "towns", _conform("towns", towns_from_buses(self.buses)))

    # -- derived views ---------------------------------------------------------------
    @cached_property
    def network(self) -> Network:
        """The compiled :class:`Network` (built once per Grid)."""
        return compile_grid(self)

    def replace(self, **changes: Any) -> Grid:
        """Return a new Grid with some tables or attributes replaced."""
        return dataclasses.replace(self, **changes)

    @property
    def has_geometry(self) -> bool:
        return "geometry" in self.buses.columns and self.buses["geometry"].notna().any()

    def lookup(self, table: str, ids: Iterable[str]) -> np.ndarray:
        """Positions of ``ids`` in ``table``; raise :class:`UnknownIdError` naming the
        first unknown id and its close matches."""
        noun = {"buses": "bus", "branches": "branch", "generators": "generator",
                "facilities": "facility", "towns": "town"}[table]
        return lookup_ids(getattr(self, table).index, ids, noun, self.source or self.name)


def towns_from_buses(buses: pd.DataFrame) -> pd.DataFrame:
    """The towns that ``buses`` name in their ``town`` column, in order of first
    appearance, with the sum of their buses' ``population``; no geometry.

    Examples
    --------
    >>> buses = pd.DataFrame({"town": ["A", "B", "A", ""], "population": [10, 5, 7, 0]},
    ...                      index=pd.Index(["1", "2", "3", "4"], name="id"))
    >>> towns_from_buses(buses)["population"].to_dict()
    {'A': 17.0, 'B': 5.0}
    """
    if "town" not in buses.columns:
        return pd.DataFrame(columns=list(TOWN_COLUMNS), index=pd.Index([], name="id"))
    town = buses["town"].fillna("").astype(str)
    named = town != ""
    pop = pd.to_numeric(buses.get("population", 0.0), errors="coerce")
    pop = pd.Series(pop, index=buses.index).fillna(0.0).astype(float)
    totals = pop[named].groupby(town[named], sort=False).sum()
    return pd.DataFrame({"name": totals.index.astype(str), "population": totals.to_numpy()},
                        index=pd.Index(totals.index.astype(str), name="id"))


@dataclass(frozen=True, eq=False)
class Network:
    """A grid compiled into arrays for the engine. Immutable; build with
    :func:`compile_grid` (or ``grid.network``).

    Bus arrays have shape ``(n_bus,)``, branch arrays ``(n_branch,)``, generator arrays
    ``(n_gen,)``, facility arrays ``(n_fac,)``. Powers are MW; ``b_pu`` is the branch
    series susceptance in per unit on ``base_mva`` divided by the tap ratio, as in
    MATPOWER's ``makeBdc``.
    """

    name: str
    base_mva: float
    bus_ids: pd.Index
    branch_ids: pd.Index
    gen_ids: pd.Index
    fac_ids: pd.Index
    # buses
    load_mw: np.ndarray
    gs_mw: np.ndarray
    customers: np.ndarray
    priority: np.ndarray
    critical_mw: np.ndarray  # part of load_mw that feeds critical facilities
    is_ref: np.ndarray
    bus_in_service: np.ndarray
    # branches
    f: np.ndarray
    t: np.ndarray
    b_pu: np.ndarray
    shift_rad: np.ndarray
    rating_mw: np.ndarray
    branch_in_service: np.ndarray
    # generators
    gen_bus: np.ndarray
    gen_p_mw: np.ndarray
    gen_pmax_mw: np.ndarray
    gen_in_service: np.ndarray
    gen_blackstart: np.ndarray  # can start without grid power (re-energise a dark island)
    # facilities
    fac_bus: np.ndarray
    fac_demand_mw: np.ndarray
    fac_backup_mw: np.ndarray
    fac_backup_hours: np.ndarray
    fac_people: np.ndarray

    @cached_property
    def fixed_mw(self) -> np.ndarray:
        """Demand that is never shed: shunt conductance plus negative loads."""
        return self.gs_mw + np.minimum(self.load_mw, 0.0)

    @cached_property
    def branch_csr(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Branches sorted by (from bus, to bus): ``(order, to_bus, from_bus)`` in that
        order; a branch mask indexes it as ``mask[order]``. Used to build the alive graph's
        CSR matrix without a sort."""
        order = np.lexsort((self.t, self.f))
        return order, self.t[order].astype(np.int32), self.f[order]

    def __getstate__(self) -> dict[str, Any]:
        # cached views (and the DC solver that gridres.flow keeps with a network: a
        # SuperLU factorisation, which does not pickle) are rebuilt on first use
        # after unpickling
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @cached_property
    def live_branch(self) -> np.ndarray:
        """In-service branches between in-service buses: the intact grid's branches."""
        return self.branch_in_service & self.bus_in_service[self.f] & self.bus_in_service[self.t]

    @cached_property
    def has_shift(self) -> bool:
        """Whether any branch has a phase shift."""
        return bool(np.any(self.shift_rad != 0))

    @cached_property
    def has_customers(self) -> bool:
        """Whether the grid counts customers (MATPOWER cases do not: every bus has 0);
        without them, customers without power are unknown, not zero
        (:func:`customer_count`)."""
        return bool(np.any(self.customers[self.bus_in_service] > 0))

    @property
    def n_bus(self) -> int:
        return len(self.bus_ids)

    @property
    def n_branch(self) -> int:
        return len(self.branch_ids)

    @property
    def n_gen(self) -> int:
        return len(self.gen_ids)

    def intact(self) -> State:
        """The state with every in-service element alive (it knows the network's ids, so
        :meth:`State.fail` takes ids as well as positions)."""
        return State(
            bus=self.bus_in_service.copy(),
            branch=self.branch_in_service.copy(),
            gen=self.gen_in_service.copy(),
            ids=self.element_ids,
        )

    @cached_property
    def element_ids(self) -> ElementIds:
        """The ids of the buses, branches and generators."""
        return ElementIds(self.name, self.bus_ids, self.branch_ids, self.gen_ids)

    def with_values(
        self,
        *,
        load_mw: np.ndarray | None = None,
        gen_p_mw: np.ndarray | None = None,
        gen_pmax_mw: np.ndarray | None = None,
    ) -> Network:
        """A new Network with other bus loads or generator values and the same topology.

        For demand that changes by hour, or generators derated or re-dispatched: the
        branches are unchanged, so the new Network shares this one's topology caches
        (:data:`TOPOLOGY_CACHES`), the DC factorisation that :func:`gridres.flow.dc_solver`
        keeps with it included (build it first to share it); ``critical_mw`` is recomputed
        for the new loads. This Network is not changed.

        Parameters
        ----------
        load_mw : ndarray, shape (n_bus,), optional
        gen_p_mw, gen_pmax_mw : ndarray, shape (n_gen,), optional
            Scheduled output and capacity of every generator.

        Returns
        -------
        Network

        Examples
        --------
        >>> import pandas as pd
        >>> g = Grid(buses=pd.DataFrame({"id": ["a", "b"], "load_mw": [0.0, 50.0]}),
        ...          branches=pd.DataFrame({"id": ["l"], "from_bus": ["a"], "to_bus": ["b"],
        ...                                 "x_pu": [0.1]}))
        >>> half = g.network.with_values(load_mw=g.network.load_mw / 2)
        >>> half.load_mw.tolist(), half.live_branch is g.network.live_branch
        ([0.0, 25.0], True)
        """
        changes: dict[str, np.ndarray] = {}
        for name, value, n in (("load_mw", load_mw, self.n_bus), ("gen_p_mw", gen_p_mw, self.n_gen),
                               ("gen_pmax_mw", gen_pmax_mw, self.n_gen)):
            if value is None:
                continue
            arr = np.asarray(value, dtype=float)
            if arr.shape != (n,) or not np.isfinite(arr).all():
                raise UsageError(f"The {name!r} parameter of Network.with_values must be "
                                 f"{n} finite numbers. Got shape {arr.shape} instead.")
            changes[name] = arr
        if "load_mw" in changes:
            changes["critical_mw"] = _critical_mw(self.fac_bus, self.fac_demand_mw,
                                                  changes["load_mw"])
        new = dataclasses.replace(self, **changes)
        self.live_branch  # noqa: B018  (built once here, so that every derived net shares it)
        new.__dict__.update({k: v for k, v in self.__dict__.items() if k in TOPOLOGY_CACHES})
        return new

    @cached_property
    def incidence(self) -> sp.csr_matrix:
        """Branch-bus incidence matrix ``K`` of shape (n_branch, n_bus): +1 at the from
        bus, -1 at the to bus."""
        m = self.n_branch
        rows = np.repeat(np.arange(m), 2)
        cols = np.column_stack([self.f, self.t]).ravel()
        vals = np.tile([1.0, -1.0], m)
        return sp.csr_matrix((vals, (rows, cols)), shape=(m, self.n_bus))


@dataclass(frozen=True, eq=False)
class ElementIds:
    """The ids of a network's buses, branches and generators, carried by the states made
    from it (:meth:`Network.intact`) so that they fail elements by id."""

    name: str
    bus: pd.Index
    branch: pd.Index
    gen: pd.Index

    def positions(self, kind: str, items: Iterable[int | str]) -> np.ndarray:
        """Positions of ``items`` (ids or positions) among the ``kind`` elements
        (``"bus"``, ``"branch"`` or ``"gen"``)."""
        index = getattr(self, kind)
        noun = "generator" if kind == "gen" else kind
        return _positions(items, kind, lambda ids: lookup_ids(index, ids, noun, self.name))


def _positions(items: Iterable[int | str], kind: str, lookup=None) -> np.ndarray:
    """Integer positions from positions and (with ``lookup``) string ids."""
    if isinstance(items, np.ndarray) and items.dtype.kind in "iu":
        return items.astype(np.int64, copy=False)
    items = list(items)
    ids = [x for x in items if isinstance(x, str)]
    if not ids:
        bad = next((x for x in items if isinstance(x, bool | np.bool_)
                    or not isinstance(x, int | np.integer)), None)
        if bad is not None:
            raise UsageError(f"{kind} {bad!r} is neither a position (an integer) nor an id "
                             "(a string)")
        return np.asarray(items, dtype=np.int64)
    if lookup is None:
        raise UsageError(
            f"this State does not know the network's ids, so {kind} {ids[0]!r} cannot be "
            "found: start from net.intact(), whose states fail elements by id, or pass "
            "positions (grid.lookup(table, ids) gives them)")
    found = iter(lookup(ids))
    return _positions([next(found) if isinstance(x, str) else x for x in items], kind)


def customer_count(value: float | None, known: bool = True) -> int | None:
    """Customers as reported: a whole number, or None where the grid has no customer
    data (``known`` False; see :attr:`Network.has_customers`) or the value is missing.
    Customers of a partly shed bus count in proportion to the load shed, so the engine's
    count can be fractional; reports and JSON documents show it rounded.

    Examples
    --------
    >>> customer_count(84176.8), customer_count(3.0, known=False), customer_count(float("nan"))
    (84177, None, None)
    """
    if not known or value is None or not np.isfinite(value):
        return None
    return int(round(float(value)))


@dataclass(frozen=True, eq=False)
class State:
    """What is alive: boolean masks over buses, branches and generators.

    A failed bus takes its branches, loads, generators and facilities with it; the masks
    need not repeat that, the engine applies it.

    Examples
    --------
    >>> from gridres.io import load_grid
    >>> net = load_grid("ieee14").network
    >>> s = net.intact().fail(branches=[0, "2"], buses=["9"])
    >>> int((~s.branch).sum()), bool(s.bus[net.bus_ids.get_loc("9")])
    (2, False)
    """

    bus: np.ndarray
    branch: np.ndarray
    gen: np.ndarray
    ids: ElementIds | None = field(default=None, repr=False)

    def fail(
        self,
        buses: Iterable[int | str] = (),
        branches: Iterable[int | str] = (),
        gens: Iterable[int | str] = (),
    ) -> State:
        """Return a new State with the given elements failed.

        Parameters
        ----------
        buses, branches, gens : iterable of int or str
            Positions, or ids where the state knows its network's (every state that
            starts from :meth:`Network.intact` does).

        Raises
        ------
        UnknownIdError
            For an id the network does not have (the message lists close matches).
        """
        return self._with(False, buses, branches, gens)

    def restore(
        self,
        buses: Iterable[int | str] = (),
        branches: Iterable[int | str] = (),
        gens: Iterable[int | str] = (),
    ) -> State:
        """Return a new State with the given elements alive again (positions or ids, as
        :meth:`fail`)."""
        return self._with(True, buses, branches, gens)

    def _with(self, alive: bool, buses, branches, gens) -> State:
        masks = [self.bus.copy(), self.branch.copy(), self.gen.copy()]
        for kind, mask, items in zip(("bus", "branch", "gen"), masks, (buses, branches, gens),
                                     strict=True):
            lookup = None if self.ids is None else (
                lambda ids, k=kind: self.ids.positions(k, ids))
            mask[_positions(items, kind, lookup)] = alive
        return State(*masks, ids=self.ids)


def _critical_mw(fac_bus: np.ndarray, fac_demand_mw: np.ndarray, load_mw: np.ndarray) -> np.ndarray:
    """Part of each bus's load that feeds critical facilities: their demand, at most the
    bus's (positive) load."""
    fed = np.bincount(fac_bus, weights=fac_demand_mw, minlength=len(load_mw))
    return np.minimum(fed, np.maximum(load_mw, 0.0))


def compile_grid(grid: Grid) -> Network:
    """Compile a :class:`Grid` into a :class:`Network`.

    Parameters
    ----------
    grid : Grid

    Returns
    -------
    Network

    Raises
    ------
    gridres.validate.GridError
        If a branch, generator or facility names an unknown bus.

    Notes
    -----
    ``O(n + m)``; no Python loop over elements.
    """
    buses, branches, gens, facs = grid.buses, grid.branches, grid.generators, grid.facilities
    bus_ids = buses.index

    def positions(table: str, col: str, df: pd.DataFrame) -> np.ndarray:
        pos = bus_ids.get_indexer(df[col].astype(str))
        if (pos < 0).any():
            k = int(np.flatnonzero(pos < 0)[0])
            raise GridError(
                f"{grid.source or grid.name}: {table} {df.index[k]!r}: {col} "
                f"{df[col].iloc[k]!r} is not a bus id; fix the {col} or add the bus"
            )
        return pos.astype(np.int64)

    f = positions("branch", "from_bus", branches)
    t = positions("branch", "to_bus", branches)
    gen_bus = positions("generator", "bus", gens)
    fac_bus = positions("facility", "bus", facs)

    tap = branches["tap"].to_numpy(float).copy()
    tap[~np.isfinite(tap) | (tap == 0)] = 1.0
    x = branches["x_pu"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        b = np.where(np.isfinite(x) & (x != 0), 1.0 / (x * tap), 0.0)
    rating = branches["rating_mw"].to_numpy(float).copy()
    rating[~np.isfinite(rating) | (rating <= 0)] = np.inf

    def finite(table: str, df: pd.DataFrame, col: str, allow_inf: bool = False) -> np.ndarray:
        values = df[col].to_numpy(float)
        bad = np.isnan(values) if allow_inf else ~np.isfinite(values)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise GridError(
                f"{grid.source or grid.name}: {table} {df.index[k]!r}: {col} is "
                f"{values[k]}; give a number (run `gridres validate` for every problem)"
            )
        return values

    load = finite("bus", buses, "load_mw")
    finite("bus", buses, "gs_mw")
    finite("generator", gens, "p_mw")
    pmax = np.maximum(finite("generator", gens, "pmax_mw", allow_inf=True), 0.0)
    if np.isinf(pmax).any():
        # MATPOWER's PMAX = Inf: unlimited, i.e. more than the grid could ever ask for
        big = 10.0 * (np.abs(load).sum() + np.abs(buses["gs_mw"].to_numpy(float)).sum()
                      + np.abs(gens["p_mw"].to_numpy(float)).sum() + pmax[np.isfinite(pmax)].sum())
        pmax = np.where(np.isinf(pmax), max(big, 1e4), pmax)
    fac_demand = facs["demand_mw"].to_numpy(float)
    crit = _critical_mw(fac_bus, fac_demand, load)

    return Network(
        name=grid.name,
        base_mva=float(grid.base_mva),
        bus_ids=bus_ids,
        branch_ids=branches.index,
        gen_ids=gens.index,
        fac_ids=facs.index,
        load_mw=load,
        gs_mw=buses["gs_mw"].to_numpy(float),
        customers=buses["customers"].to_numpy(np.int64),
        priority=buses["priority"].to_numpy(np.int64),
        critical_mw=crit,
        is_ref=buses["ref"].to_numpy(bool),
        bus_in_service=buses["in_service"].to_numpy(bool),
        f=f,
        t=t,
        b_pu=b,
        shift_rad=np.deg2rad(branches["shift_deg"].fillna(0.0).to_numpy(float)),
        rating_mw=rating,
        branch_in_service=branches["in_service"].to_numpy(bool) & (b != 0) & (f != t),
        gen_bus=gen_bus,
        gen_p_mw=gens["p_mw"].to_numpy(float),
        gen_pmax_mw=pmax,
        gen_in_service=gens["in_service"].to_numpy(bool),
        gen_blackstart=gens["blackstart"].to_numpy(bool),
        fac_bus=fac_bus,
        fac_demand_mw=fac_demand,
        fac_backup_mw=facs["backup_mw"].to_numpy(float),
        fac_backup_hours=facs["backup_hours"].to_numpy(float),
        fac_people=facs["people"].to_numpy(np.int64),
    )


def to_networkx(net: Network, state: State | None = None):
    """The network as a :class:`networkx.MultiGraph` with string bus ids as nodes.

    Parameters
    ----------
    net : Network
    state : State, optional
        Only alive buses and branches are included; default: the intact state.

    Returns
    -------
    networkx.MultiGraph
        Nodes carry ``load_mw``; edges carry ``id``, ``b_pu`` and ``rating_mw``.
    """
    import networkx as nx

    state = state or net.intact()
    g = nx.MultiGraph(name=net.name)
    ids = net.bus_ids.to_numpy()
    for i in np.flatnonzero(state.bus):
        g.add_node(ids[i], load_mw=float(net.load_mw[i]))
    alive = state.branch & state.bus[net.f] & state.bus[net.t]
    for k in np.flatnonzero(alive):
        g.add_edge(
            ids[net.f[k]], ids[net.t[k]], key=net.branch_ids[k],
            id=net.branch_ids[k], b_pu=float(net.b_pu[k]), rating_mw=float(net.rating_mw[k]),
        )
    return g
