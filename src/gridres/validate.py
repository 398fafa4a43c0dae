"""Grid validation: every problem of a grid's tables, found at once.

:func:`check_grid` inspects a :class:`~gridres.model.Grid`'s tables (it does not compile
them, so it works on grids that :func:`~gridres.model.compile_grid` would refuse) and
returns one :class:`Problem` per faulty record: errors that make results wrong or
impossible, and warnings about data that is legal but probably not what the planner means.
In strict mode (what every command does when it loads a grid) errors raise
:class:`~gridres.errors.GridError` with a one-line summary, and warnings go to this
module's logger; ``gridres validate GRID`` lists them all.

Rules
-----
Errors
    duplicate ids in any table; branch ``from_bus``/``to_bus`` that is not a bus id;
    self-loops; reactance ``x_pu`` that is NaN, zero or infinite (negative finite values
    are series capacitors and allowed); ``rating_mw`` NaN, zero or negative (``inf`` means
    unlimited); NaN or empty geometry where a table has a geometry column; generators and
    facilities on unknown buses; generator ``pmax_mw`` NaN or negative (but see below)
    and ``p_mw`` NaN; NaN ``load_mw``; negative ``customers``; facility ``people``,
    ``demand_mw``, ``backup_mw`` or ``backup_hours`` negative or NaN; facility ``kind``
    not in :data:`~gridres.model.FACILITY_KINDS`; ``base_mva`` not positive; a grid
    without buses; any infinite number (``inf``, ``1e999``) in a numeric column, except
    ``rating_mw`` (``inf``: no limit), ``pmax_mw`` (``inf``: unlimited, as MATPOWER's
    ``PMAX = Inf``), ``backup_hours`` (``inf``: backup that does not run out) and
    ``storage_h`` (``inf``: storage that does not run out).
    Towns and services (:mod:`gridres.service_data`): duplicate town ids; town or bus
    ``population`` NaN or negative; a bus ``town`` that is not a town id; a facility
    ``town`` or a town in ``serves`` that is not a town id; an unknown ``service``; a
    ``depends_on`` item that is neither a service nor ``facility:ID``, names an unknown
    facility or the facility itself, or has a buffer that is negative or not a number;
    ``storage_h`` negative; ``coverage`` outside 0..1.
Warnings
    islands whose in-service buses carry load but which have no in-service generation
    capacity; out-of-service generators at a reference bus; no in-service reference bus;
    more than one in-service reference bus in one island (the first is used);
    generators with ``p_mw == pmin_mw == pmax_mw < 0``, which MATPOWER cases use for
    fixed consumption (the engine counts them as negative output and no capacity);
    a ``depends_on`` written in the file that names a service nobody provides in the
    facility's town (it is not modelled).
Warnings with ``flows=True`` (what ``gridres validate`` does)
    branches that the intact grid's DC flow loads above ``rating_mw``: one warning with
    their count and the worst of them. Every cascade study of such a grid starts by
    tripping them.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from gridres.errors import GridError
from gridres.model import FACILITY_KINDS, Grid
from gridres.service_data import (
    KIND_SERVICE,
    SERVICES,
    facility_towns,
    parse_depends,
    parse_serves,
)

__all__ = ["Problem", "check_grid", "summarise"]

log = logging.getLogger(__name__)

Severity = Literal["error", "warning"]

_NOUN = {"buses": "bus", "branches": "branch", "generators": "generator",
         "facilities": "facility", "towns": "town", "grid": "grid"}

_LAYER_ORDER = {"grid": 0, "buses": 1, "branches": 2, "generators": 3, "facilities": 4,
                "towns": 5}

#: How many warnings strict mode logs one by one before summarising the rest.
_LOGGED_WARNINGS = 3

#: How many bus ids a message about an island lists.
_LISTED_BUSES = 5


@dataclass(frozen=True)
class Problem:
    """One problem in a grid.

    Attributes
    ----------
    severity : {"error", "warning"}
        Errors make a grid unusable; warnings flag data that is legal but suspicious.
    file : str
        Where the grid came from (``grid.source``, else its name).
    layer : str
        The table: ``buses``, ``branches``, ``generators``, ``facilities``, or ``grid``
        for grid-wide attributes such as ``base_mva``.
    id : str
        The record's id (empty where the problem concerns no single record).
    field : str
        The column (or attribute) at fault.
    message : str
        What is wrong.
    fix : str
        How to fix it.
    """

    severity: Severity
    file: str
    layer: str
    id: str
    field: str
    message: str
    fix: str

    def __str__(self) -> str:
        where = f"{_NOUN.get(self.layer, self.layer)} {self.id!r}" if self.id else self.layer
        return f"{self.file}: {where}: {self.message}; {self.fix}"

    def to_dict(self) -> dict[str, Any]:
        """The problem as a JSON-ready dict."""
        return asdict(self)


class _Collector:
    """Accumulates problems for one grid; rows are only touched where a mask flags them."""

    def __init__(self, file: str) -> None:
        self.file = file
        self._found: list[tuple[int, int, int, int, Problem]] = []

    def add(self, severity: Severity, layer: str, id_: str, field: str, message: str,
            fix: str, row: int = -1) -> None:
        """Add one problem; ``row`` is the record's position in its table (for order)."""
        key = (severity != "error", _LAYER_ORDER.get(layer, -1), int(row), len(self._found))
        self._found.append((*key, Problem(severity, self.file, layer, str(id_), field,
                                          message, fix)))

    @property
    def problems(self) -> list[Problem]:
        """Errors, then warnings; each by table, then record, then rule."""
        return [found[-1] for found in sorted(self._found, key=lambda f: f[:4])]

    def flag(self, layer: str, df: pd.DataFrame, mask: np.ndarray, field: str,
             message: str, fix: str, severity: Severity = "error") -> None:
        """Add one problem per flagged row; ``message`` and ``fix`` are format strings
        with ``{id}`` and ``{value}`` (the row's ``field`` value)."""
        rows = np.flatnonzero(mask)
        if not len(rows):
            return
        ids = df.index.to_numpy()[rows]
        values = df[field].to_numpy()[rows] if field in df.columns else [None] * len(rows)
        for row, id_, value in zip(rows, ids, values, strict=True):
            self.add(severity, layer, id_, field, message.format(id=id_, value=value),
                     fix.format(id=id_, value=value), row)


def _num(df: pd.DataFrame, col: str) -> np.ndarray:
    return pd.to_numeric(df[col], errors="coerce").to_numpy(float)


def _check_duplicates(c: _Collector, layer: str, df: pd.DataFrame) -> None:
    index = df.index
    if not index.has_duplicates:
        return
    counts = index.value_counts(sort=False)
    counts = counts[counts > 1]
    rows = np.flatnonzero(index.duplicated(keep=False) & ~index.duplicated(keep="first"))
    for row in rows:
        id_ = index[row]
        c.add("error", layer, id_, "id", f"id {id_!r} appears {int(counts[id_])} times",
              f"give each {_NOUN[layer]} a unique id", row)


def _check_geometry(c: _Collector, layer: str, df: pd.DataFrame) -> None:
    if "geometry" not in df.columns:
        return
    import shapely

    values = np.asarray(df["geometry"].to_numpy(), dtype=object)
    missing = pd.isna(values)
    is_geom = shapely.is_geometry(values)
    empty = np.zeros(len(values), dtype=bool)
    empty[is_geom] = shapely.is_empty(values[is_geom])
    fix = f"draw the {_NOUN[layer]}'s geometry or drop the record"
    c.flag(layer, df, missing, "geometry", "geometry is missing", fix)
    c.flag(layer, df, empty, "geometry", "geometry is empty", fix)
    c.flag(layer, df, ~missing & ~is_geom, "geometry",
           "geometry is not a geometry ({value!r})", fix)


def _check_bus_refs(c: _Collector, layer: str, df: pd.DataFrame, col: str,
                    bus_ids: pd.Index) -> np.ndarray:
    """Flag rows whose ``col`` names no bus; return the mask of rows that do."""
    known = df[col].astype(str).isin(bus_ids).to_numpy()
    c.flag(layer, df, ~known, col, f"{col} {{value!r}} is not a bus id",
           f"correct {col} or add bus {{value!r}} to the buses")
    return known


def _check_buses(c: _Collector, buses: pd.DataFrame) -> None:
    _check_duplicates(c, "buses", buses)
    load = _num(buses, "load_mw")
    c.flag("buses", buses, np.isnan(load), "load_mw", "load_mw is NaN",
           "set load_mw to the bus demand in MW (0 for none)")
    c.flag("buses", buses, _num(buses, "customers") < 0, "customers",
           "customers is negative ({value})", "set customers to a count of 0 or more")
    _check_geometry(c, "buses", buses)


def _check_branches(c: _Collector, branches: pd.DataFrame, bus_ids: pd.Index) -> None:
    _check_duplicates(c, "branches", branches)
    _check_bus_refs(c, "branches", branches, "from_bus", bus_ids)
    _check_bus_refs(c, "branches", branches, "to_bus", bus_ids)
    loop = (branches["from_bus"].astype(str) == branches["to_bus"].astype(str)).to_numpy()
    c.flag("branches", branches, loop, "to_bus",
           "self-loop: from_bus and to_bus are both {value!r}",
           "connect the branch to a different bus or delete it")
    x = _num(branches, "x_pu")
    c.flag("branches", branches, np.isnan(x), "x_pu", "reactance x_pu is NaN",
           "give the branch's series reactance in per unit on base_mva")
    c.flag("branches", branches, x == 0, "x_pu", "reactance x_pu is zero",
           "give the branch a non-zero reactance (e.g. 1e-4) or merge its two buses")
    c.flag("branches", branches, np.isinf(x), "x_pu", "reactance x_pu is {value}",
           "give the branch's finite series reactance, or set in_service to false")
    rating = _num(branches, "rating_mw")
    c.flag("branches", branches, np.isnan(rating), "rating_mw", "rating_mw is missing (NaN)",
           "give the thermal rating in MW, or inf for no limit")
    c.flag("branches", branches, rating <= 0, "rating_mw",
           "rating_mw is {value} (not positive)",
           "give the thermal rating in MW (a positive number), or inf for no limit")
    _check_geometry(c, "branches", branches)


def _check_generators(c: _Collector, gens: pd.DataFrame, bus_ids: pd.Index) -> None:
    _check_duplicates(c, "generators", gens)
    _check_bus_refs(c, "generators", gens, "bus", bus_ids)
    pmax = _num(gens, "pmax_mw")
    c.flag("generators", gens, np.isnan(pmax), "pmax_mw", "pmax_mw is NaN",
           "give the generator's capacity in MW")
    # MATPOWER cases put fixed consumption on generator rows (PG = PMIN = PMAX < 0): legal,
    # but worth a warning; any other negative capacity is an error
    fixed = (pmax < 0) & (_num(gens, "p_mw") == pmax) & (_num(gens, "pmin_mw") == pmax)
    c.flag("generators", gens, (pmax < 0) & ~fixed, "pmax_mw",
           "pmax_mw is negative ({value})",
           "give the generator's capacity in MW (0 or more)")
    c.flag("generators", gens, fixed, "pmax_mw",
           "pmax_mw is negative ({value}): a fixed consumption on a generator row, "
           "counted as negative output and no capacity",
           "move it to the bus's load_mw", severity="warning")
    c.flag("generators", gens, np.isnan(_num(gens, "p_mw")), "p_mw", "p_mw is NaN",
           "give the scheduled output in MW")
    _check_geometry(c, "generators", gens)


def _check_facilities(c: _Collector, facs: pd.DataFrame, bus_ids: pd.Index) -> None:
    _check_duplicates(c, "facilities", facs)
    _check_bus_refs(c, "facilities", facs, "bus", bus_ids)
    kind = facs["kind"].astype(str)
    c.flag("facilities", facs, ~kind.isin(FACILITY_KINDS).to_numpy(), "kind",
           "unknown facility kind {value!r}",
           f"use one of {', '.join(FACILITY_KINDS)}")
    for col, what in (("demand_mw", "demand in MW"), ("backup_mw", "backup capacity in MW"),
                      ("backup_hours", "backup duration in hours"),
                      ("people", "number of people served")):
        v = _num(facs, col)
        c.flag("facilities", facs, np.isnan(v), col, f"{col} is NaN",
               f"give the {what} (0 for none)")
        c.flag("facilities", facs, v < 0, col, f"{col} is negative ({{value}})",
               f"give the {what} (0 or more)")
    _check_geometry(c, "facilities", facs)


#: Columns where ``+inf`` means something (no limit); everywhere else a number is finite.
_INF_ALLOWED = {"rating_mw", "pmax_mw", "backup_hours", "storage_h"}


def _check_finite(c: _Collector, layer: str, df: pd.DataFrame) -> None:
    """Flag infinite values in every numeric column (NaN has its own rules; the columns
    where ``+inf`` means no limit refuse ``-inf`` through their own sign rules)."""
    for col in df.columns:
        if col in _INF_ALLOWED or col in ("x_pu", "geometry") \
                or not pd.api.types.is_numeric_dtype(df[col]) \
                or pd.api.types.is_bool_dtype(df[col]):
            continue
        c.flag(layer, df, np.isinf(_num(df, col)), col,
               f"{col} is {{value}} (not a finite number)", f"give {col} as a finite number")


def _check_population(c: _Collector, layer: str, df: pd.DataFrame) -> None:
    pop = _num(df, "population")
    c.flag(layer, df, np.isnan(pop), "population", "population is missing (NaN)",
           "give the number of inhabitants (0 for none)")
    c.flag(layer, df, np.isfinite(pop) & (pop < 0), "population",
           "population is negative ({value})",
           "give the number of inhabitants (0 or more)")


def _check_towns(c: _Collector, grid: Grid) -> None:
    towns, buses = grid.towns, grid.buses
    _check_duplicates(c, "towns", towns)
    _check_population(c, "towns", towns)
    _check_geometry(c, "towns", towns)
    _check_population(c, "buses", buses)
    town = buses["town"].fillna("").astype(str)
    c.flag("buses", buses, ((town != "") & ~town.isin(towns.index)).to_numpy(), "town",
           "town {value!r} is not in the towns table",
           "add town {value!r} to the towns layer or correct the bus's town")


def _check_services(c: _Collector, grid: Grid) -> None:
    """The service columns of the facilities (:mod:`gridres.service_data`)."""
    facs, towns = grid.facilities, grid.towns
    known_towns = set(towns.index.astype(str))
    fac_ids = set(facs.index.astype(str))
    own = facs["town"].fillna("").astype(str)
    c.flag("facilities", facs, ((own != "") & ~own.isin(towns.index)).to_numpy(), "town",
           "town {value!r} is not in the towns table",
           "add town {value!r} to the towns layer or correct the facility's town")
    service = facs["service"].fillna("").astype(str).str.strip().str.lower()
    c.flag("facilities", facs, ~service.isin([*SERVICES, "", "none"]).to_numpy(), "service",
           "unknown service {value!r}", f"use one of {', '.join(SERVICES)} or none (empty: "
           "from kind)")
    storage = _num(facs, "storage_h")
    c.flag("facilities", facs, storage < 0, "storage_h", "storage_h is negative ({value})",
           "give hours of 0 or more (empty: the service's default)")
    cover = _num(facs, "coverage")
    c.flag("facilities", facs, np.isfinite(cover) & ((cover < 0) | (cover > 1)), "coverage",
           "coverage is {value}, not a share", "give a share from 0 to 1 of the towns' "
           "people who rely on this facility")
    where = facility_towns(grid).to_numpy()
    kind = facs["kind"].astype(str).to_numpy()
    svc = np.where(service == "", [KIND_SERVICE.get(k, "") for k in kind], service)
    provides: dict[str, set[str]] = {}  # service -> towns it is provided to ("": no town)
    for i in np.flatnonzero(np.isin(svc, SERVICES)):
        area = parse_serves(facs["serves"].iloc[i], where[i])
        served = known_towns if area is None else set(area) if area else {""}
        provides.setdefault(str(svc[i]), set()).update(served)
        written_area = str(facs["serves"].iloc[i]).strip()  # else its town, checked above
        bad = sorted(t for t in (area or ()) if t not in known_towns) if written_area else []
        if bad:
            c.add("error", "facilities", facs.index[i], "serves",
                  f"serves town {bad[0]!r}, which is not in the towns table",
                  f"add town {bad[0]!r} to the towns layer or correct the facility's serves",
                  i)
    written = facs["depends_on"].fillna("").astype(str).str.strip()
    for i, text in enumerate(written):
        try:
            deps = parse_depends(text, kind[i])
        except ValueError as exc:
            c.add("error", "facilities", facs.index[i], "depends_on", f"depends_on {exc}",
                  "write services (" + ", ".join(SERVICES) + ") or facility:ID, each "
                  "optionally @HOURS of buffer, separated by ;", i)
            continue
        for d in deps:
            if d.facility and d.facility not in fac_ids:
                c.add("error", "facilities", facs.index[i], "depends_on",
                      f"depends_on names facility {d.facility!r}, which does not exist",
                      "give the id of a facility in the facilities table", i)
            elif d.facility and d.facility == str(facs.index[i]):
                c.add("error", "facilities", facs.index[i], "depends_on",
                      "depends_on names the facility itself",
                      "remove the item (a facility always needs itself)", i)
            elif d.service and text and where[i] in known_towns | {""} \
                    and where[i] not in provides.get(d.service, set()):
                c.add("warning", "facilities", facs.index[i], "depends_on",
                      f"depends_on {d.service} but no facility provides {d.service} to "
                      f"{'town ' + repr(where[i]) if where[i] else 'facilities without a town'}"
                      "; the dependency is not modelled",
                      f"add the town to the serves of a {d.service} facility, or remove "
                      "the item", i)


def _check_supply(c: _Collector, grid: Grid) -> None:
    """Warnings about reference buses and islands that have load but no generation."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    buses, branches, gens = grid.buses, grid.branches, grid.generators
    if not len(buses):
        return
    first = ~buses.index.duplicated(keep="first")
    ub = buses.index[first]  # unique bus ids; duplicates are reported elsewhere
    n = len(ub)
    alive = buses["in_service"].to_numpy(bool)[first]
    ref = buses["ref"].to_numpy(bool)[first] & alive
    load = np.nan_to_num(_num(buses, "load_mw")[first])

    if not ref.any():
        c.add("warning", "buses", "", "ref", "no in-service reference bus",
              "mark the slack bus with ref = true (MATPOWER bus type 3)")
    ref_rows = np.flatnonzero(ref)

    gbus = ub.get_indexer(gens["bus"].astype(str))
    g_in = gens["in_service"].to_numpy(bool)
    at_ref = np.zeros(len(gens), dtype=bool)
    at_ref[gbus >= 0] = ref[gbus[gbus >= 0]]
    rows = np.flatnonzero(~g_in & at_ref)
    for k in rows:
        c.add("warning", "generators", gens.index[k], "in_service",
              f"generator at reference bus {str(gens['bus'].iloc[k])!r} is out of service",
              "put it in service or move the reference to a bus with running generation", k)

    f = ub.get_indexer(branches["from_bus"].astype(str))
    t = ub.get_indexer(branches["to_bus"].astype(str))
    x = _num(branches, "x_pu")
    ok = (branches["in_service"].to_numpy(bool) & (f >= 0) & (t >= 0) & (f != t)
          & np.isfinite(x) & (x != 0))
    ok[ok] = alive[f[ok]] & alive[t[ok]]
    graph = csr_matrix((np.ones(int(ok.sum()), dtype=np.int8), (f[ok], t[ok])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    if len(ref_rows) > 1:  # the engine takes the first reference bus of each island
        table_rows = np.flatnonzero(first)
        for lab in np.unique(labels[ref_rows]):
            refs = ref_rows[labels[ref_rows] == lab]
            if len(refs) > 1:
                others = ", ".join(repr(str(ub[k])) for k in refs[1:])
                c.add("warning", "buses", ub[refs[0]], "ref",
                      f"{len(refs)} reference buses in one island: {str(ub[refs[0]])!r} is "
                      f"used, {others} count as ordinary buses",
                      "keep ref = true on one bus per island (MATPOWER bus type 3)",
                      table_rows[refs[0]])

    g_ok = g_in & (gbus >= 0)
    g_ok[g_ok] = alive[gbus[g_ok]]
    pmax = np.nan_to_num(_num(gens, "pmax_mw")).clip(min=0)
    n_lab = int(labels.max()) + 1
    capacity = np.bincount(labels[gbus[g_ok]], weights=pmax[g_ok], minlength=n_lab)
    live_load = np.where(alive, load.clip(min=0), 0.0)
    island_load = np.bincount(labels, weights=live_load, minlength=n_lab)
    dark = np.flatnonzero((island_load > 0) & (capacity <= 0))
    if not len(dark):
        return
    # buses of each dark island, in bus order
    sel = np.flatnonzero(alive & np.isin(labels, dark))
    order = np.argsort(labels[sel], kind="stable")
    sel = sel[order]
    starts = np.searchsorted(labels[sel], dark)
    ends = np.searchsorted(labels[sel], dark, side="right")
    table_row = np.flatnonzero(first)
    for lab, s, e in zip(dark, starts, ends, strict=True):
        members = ub[sel[s:e]]
        shown = ", ".join(members[:_LISTED_BUSES])
        more = f" and {len(members) - _LISTED_BUSES} more" if len(members) > _LISTED_BUSES else ""
        c.add("warning", "buses", members[0], "load_mw",
              f"island of {len(members)} bus(es) ({shown}{more}) has "
              f"{island_load[lab]:.6g} MW of load and no in-service generation",
              "connect the island with a branch, add a generator, or set its buses "
              "out of service", table_row[sel[s]])


def _check_intact_flow(c: _Collector, grid: Grid) -> None:
    """One warning if the intact DC flow overloads branches: how many, and the worst."""
    from gridres.impact import assess  # the engine: only when flows are asked for

    imp = assess(grid.network)
    over = np.flatnonzero(imp.overloaded)
    if not len(over):
        return
    worst = int(over[np.argmax(imp.loading[over])])
    flow, rating = abs(float(imp.flow_mw[worst])), float(grid.network.rating_mw[worst])
    s = "" if len(over) == 1 else "es"
    c.add("warning", "branches", grid.branches.index[worst], "rating_mw",
          f"the intact DC flow overloads {len(over)} branch{s}; the worst carries "
          f"{flow:.6g} MW on a rating_mw of {rating:.6g} ({flow / rating:.3g}x)",
          "check ratings and dispatch: every cascade study of this grid starts by "
          "tripping these branches", worst)


def check_grid(grid: Grid, strict: bool = True, flows: bool = False) -> list[Problem]:
    """Every problem of a grid, found at once.

    Parameters
    ----------
    grid : Grid
        The grid to check. It need not compile: the check works on its tables.
    strict : bool, default True
        Raise :class:`~gridres.errors.GridError` if there is any error, and log warnings
        to this module's logger. With ``False`` only return the problems.
    flows : bool, default False
        Also solve the intact grid's DC flow (where there is no error) and warn about
        branches loaded above their rating.

    Returns
    -------
    list of Problem
        Errors first, then warnings; each in table order (grid, buses, branches,
        generators, facilities, towns), then record order. Empty for a clean grid.

    Raises
    ------
    GridError
        In strict mode, if any problem is an error. The one-line message states the
        first error, its fix, and how many more problems there are.

    Examples
    --------
    >>> import pandas as pd
    >>> from gridres.model import Grid
    >>> g = Grid(
    ...     buses=pd.DataFrame({"id": ["a", "b"], "load_mw": [0.0, 5.0], "ref": [True, False]}),
    ...     branches=pd.DataFrame({"id": ["l1"], "from_bus": ["a"], "to_bus": ["c"],
    ...                            "x_pu": [0.1]}),
    ...     generators=pd.DataFrame({"id": ["g1"], "bus": ["a"], "pmax_mw": [10.0]}),
    ... )
    >>> [(p.layer, p.id, p.field) for p in check_grid(g, strict=False)]
    [('branches', 'l1', 'to_bus'), ('buses', 'b', 'load_mw')]

    Notes
    -----
    ``O(n + m)`` array operations over the tables; Python only touches flagged rows.
    ``flows`` adds one factorisation of the grid's susceptance matrix.
    """
    c = _Collector(grid.source or grid.name)
    base = float(grid.base_mva) if grid.base_mva is not None else float("nan")
    if not base > 0:
        c.add("error", "grid", grid.name, "base_mva", f"base_mva is {base:g} (not positive)",
              "give the system MVA base, usually 100")
    bus_ids = grid.buses.index
    if not len(bus_ids):
        c.add("error", "grid", grid.name, "buses", "the grid has no buses",
              "give a grid with at least one bus (an empty or missing buses layer?)")
    for layer in ("buses", "branches", "generators", "facilities", "towns"):
        _check_finite(c, layer, getattr(grid, layer))
    _check_buses(c, grid.buses)
    _check_branches(c, grid.branches, bus_ids)
    _check_generators(c, grid.generators, bus_ids)
    _check_facilities(c, grid.facilities, bus_ids)
    _check_towns(c, grid)
    _check_services(c, grid)
    _check_supply(c, grid)
    if flows and not any(p.severity == "error" for p in c.problems):
        _check_intact_flow(c, grid)
    problems = c.problems
    if strict:
        _raise_or_log(problems)
    return problems


def summarise(problems: list[Problem]) -> str:
    """One line: the first problem (errors first) and how many more there are.

    Examples
    --------
    >>> p = Problem("error", "case.m", "branches", "3", "x_pu", "reactance x_pu is zero",
    ...             "give the branch a non-zero reactance")
    >>> summarise([p, p])
    "case.m: branch '3': reactance x_pu is zero; give the branch a non-zero reactance \
(and 1 more problem; run `gridres validate case.m`)"
    """
    if not problems:
        return "no problems"
    first = min(problems, key=lambda p: p.severity != "error")
    more = len(problems) - 1
    if not more:
        return str(first)
    s = "" if more == 1 else "s"
    return f"{first} (and {more} more problem{s}; run `gridres validate {first.file}`)"


def _raise_or_log(problems: list[Problem]) -> None:
    errors = [p for p in problems if p.severity == "error"]
    warnings = [p for p in problems if p.severity == "warning"]
    for p in warnings[:_LOGGED_WARNINGS]:
        log.warning("%s", p)
    if len(warnings) > _LOGGED_WARNINGS:
        rest = len(warnings) - _LOGGED_WARNINGS
        log.warning("%s: %d more warning(s); run `gridres validate %s`",
                    warnings[0].file, rest, warnings[0].file)
    if errors:
        raise GridError(summarise(problems))
