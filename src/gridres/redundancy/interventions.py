"""Interventions: what a planner can buy, each a pure function of a grid (or of the
restoration settings) that returns a new one.

* :mod:`~gridres.redundancy.grid_edits`: a new line, backup at a facility, a black-start
  generator or storage, a microgrid (:func:`add_line`, :func:`set_backup`,
  :func:`add_generator`, :func:`add_microgrid`), each returning a new grid.
* :mod:`~gridres.redundancy.settings_edits`: more spares, more crews, faster repairs,
  more fuel trucks, another mobile generator (:func:`add_spares`, :func:`add_crews`,
  :func:`faster_repair`, :func:`add_fuel_trucks`, :func:`add_mobile_generator`), each
  returning new :class:`~gridres.restoration.RestorationSettings`.
* Services: more tank hours at a facility's backup generator (``tank``: its
  ``backup_hours``) and a reservoir (``reservoir``: more ``storage_h`` for a facility's
  service, e.g. drinking-water tanks), each returning a new grid.
* :mod:`~gridres.redundancy.hardening`: hardening acts on the hazard, not on the grid;
  :func:`hardening_targets` names the assets, and a :class:`Design` records for each one
  the factor on its fragility median (``inf``: immune). How that changes the scenarios,
  keeping common random numbers, is in :mod:`gridres.redundancy.crn`.

This module holds what ties them together: an :class:`Intervention` is one priced option
(an id, a kind, its parameters and its cost) and :meth:`Intervention.apply` turns a
:class:`Design` (grid, settings, hardening) into the design with that option added. Build
one with :func:`make_intervention`.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gridres.errors import UsageError
from gridres.model import Grid, UnknownIdError
from gridres.redundancy.costs import KINDS, cost_table
from gridres.redundancy.grid_edits import (
    BACKUP_HOURS,
    ROUTE_FACTOR,
    _kv,
    add_generator,
    add_line,
    add_microgrid,
    bus_distance_km,
    line_defaults,
    set_backup,
)
from gridres.redundancy.hardening import HARDEN_FACTOR, IMMUNE, HardKey, hardening_targets
from gridres.redundancy.settings_edits import (
    _kind,
    add_crews,
    add_fuel_trucks,
    add_mobile_generator,
    add_spares,
    faster_repair,
)
from gridres.restoration.settings import RestorationSettings
from gridres.service_data import with_service_columns
from gridres.services.model import compile_services

__all__ = ["Design", "Intervention", "make_intervention"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Design:
    """The grid as it would be after some interventions.

    Attributes
    ----------
    grid : Grid
    settings : RestorationSettings
    hardening : mapping of (str, str) to float
        ``("substation", NAME)``, ``("branch", ID)`` or ``("gen", ID)`` to the factor on
        that asset's fragility median (``inf``: immune).
    applied : tuple of str
        Ids of the interventions applied, in order.
    """

    grid: Grid
    settings: RestorationSettings
    hardening: Mapping[HardKey, float] = field(default_factory=dict)
    applied: tuple[str, ...] = ()

    def harden(self, keys: Iterable[HardKey], factor: float) -> Design:
        """The design with ``keys`` hardened to at least ``factor``."""
        hard = dict(self.hardening)
        for k in keys:
            hard[k] = max(hard.get(k, 1.0), float(factor))
        return dataclasses.replace(self, hardening=hard)


# -- priced options -----------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Intervention:
    """One priced option.

    Attributes
    ----------
    id : str
    kind : str
        One of :data:`gridres.redundancy.costs.KINDS`.
    params : dict
        The resolved parameters (defaults filled in, so applying it is deterministic).
    cost : float
    label : str
        What it is, in words.
    """

    id: str
    kind: str
    params: dict
    cost: float
    label: str = ""

    def apply(self, design: Design) -> Design:
        """The design with this intervention added (a new :class:`Design`)."""
        p = self.params
        grid, settings = design.grid, design.settings
        if self.kind == "line":
            grid = add_line(grid, p["from_bus"], p["to_bus"], id=p["branch_id"],
                            length_km=p["length_km"], x_pu=p["x_pu"], r_pu=p["r_pu"],
                            rating_mw=p["rating_mw"])
        elif self.kind in ("backup", "tank"):
            grid = set_backup(grid, p["facility"], p["backup_mw"], p["backup_hours"])
        elif self.kind == "reservoir":
            grid = with_service_columns(grid, {p["facility"]: {"storage_h": p["storage_h"]}})
        elif self.kind in ("generator", "storage"):
            grid = add_generator(grid, p["bus"], p["pmax_mw"], id=p["generator_id"],
                                 kind=self.kind if self.kind == "storage" else "backup",
                                 blackstart=True)
        elif self.kind == "microgrid":
            grid = add_microgrid(grid, p["facilities"], p["mw"], p["hours"], id=self.id)
        elif self.kind == "spares":
            settings = add_spares(settings, p["equipment"], p["count"])
        elif self.kind == "crews":
            settings = add_crews(settings, p["count"])
        elif self.kind == "repair":
            settings = faster_repair(settings, p["equipment"], p["factor"])
        elif self.kind == "fuel_truck":
            settings = add_fuel_trucks(settings, p["count"])
        elif self.kind == "mobile_generator":
            settings = add_mobile_generator(settings, p["mw"], p["depot"])
        elif self.kind in ("harden", "protect"):
            design = design.harden([tuple(k) for k in p["targets"]], p["factor"])
        else:  # pragma: no cover - make_intervention refuses unknown kinds
            raise UsageError(f"unknown intervention kind {self.kind!r}")
        return dataclasses.replace(design, grid=grid, settings=settings,
                                   applied=(*design.applied, self.id))

    def to_dict(self) -> dict[str, Any]:
        """Id, kind, cost, label and parameters as JSON-ready values."""
        params = {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.params.items()}
        return {"id": self.id, "kind": self.kind, "cost": self.cost, "label": self.label,
                **{k: v for k, v in params.items() if k not in ("id", "kind", "cost")}}


_KEYS = {
    "line": {"from_bus", "to_bus", "length_km", "x_pu", "r_pu", "rating_mw", "route_factor",
             "branch_id"},
    "backup": {"facility", "backup_mw", "backup_hours"},
    "generator": {"bus", "pmax_mw", "generator_id", "blackstart"},
    "storage": {"bus", "mw", "hours", "generator_id"},
    "microgrid": {"facility", "facilities", "mw", "hours"},
    "harden": {"substation", "bus", "branch", "generator", "factor", "immune"},
    "protect": {"substation", "bus", "factor", "immune"},
    "spares": {"equipment", "count"},
    "crews": {"count"},
    "repair": {"equipment", "factor"},
    "tank": {"facility", "hours"},
    "fuel_truck": {"count"},
    "mobile_generator": {"mw", "depot"},
    "reservoir": {"facility", "hours"},
}


def _num(spec: Mapping[str, Any], key: str, default: Any, who: str, *, low: float = 0.0,
         strict: bool = False) -> Any:
    v = spec.get(key, default)
    if v is None:
        return None
    ok = isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    if not ok or (v <= low if strict else v < low):
        rel = ">" if strict else ">="
        raise UsageError(f"{who}: {key} must be a number {rel} {low:g}, got {v!r}")
    return float(v)


def make_intervention(spec: Mapping[str, Any], design: Design,
                      costs: Mapping[str, float] | None = None) -> Intervention:
    """Check a candidate's table against a design and price it.

    Parameters
    ----------
    spec : mapping
        ``kind`` and that kind's keys (see ``grids/studies/plan_demo.toml`` and the
        module notes); ``id`` and ``cost`` are optional.
    design : Design
        The base design the ids are checked against.
    costs : mapping, optional
        Unit costs (:func:`gridres.redundancy.costs.cost_table`); default the defaults.

    Returns
    -------
    Intervention

    Raises
    ------
    UsageError
        On an unknown kind or key, a value out of range, or an unknown id.

    Examples
    --------
    >>> from gridres.io import load_grid
    >>> d = Design(load_grid("demo_region"), RestorationSettings())
    >>> iv = make_intervention({"kind": "backup", "facility": "H09"}, d)
    >>> iv.id, iv.params["backup_mw"], round(iv.cost, 4)
    ('backup:H09', 1.1, 0.498)
    """
    table = cost_table(costs)
    kind = spec.get("kind")
    if kind not in KINDS:
        close = difflib.get_close_matches(str(kind), KINDS, n=1, cutoff=0.5)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UsageError(f"unknown intervention kind {kind!r}{hint}; kinds: {', '.join(KINDS)}")
    who = f"candidate {spec.get('id', kind)!r}"
    allowed = _KEYS[kind] | {"id", "kind", "cost", "label"}
    for key in spec:
        if key not in allowed:
            close = difflib.get_close_matches(key, sorted(allowed), n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else f"keys: {', '.join(sorted(allowed))}"
            raise UsageError(f"{who}: unknown key {key!r} for a {kind}; {hint}")
    grid, settings = design.grid, design.settings
    params: dict[str, Any]
    try:
        params, ident, label, cost = _RESOLVE[kind](spec, grid, settings, table, who)
    except UnknownIdError as exc:
        raise UnknownIdError(f"{who}: {exc}") from None
    if "id" in spec:
        ident = str(spec["id"])
    if "label" in spec:
        label = str(spec["label"])
    if kind in table:
        cost = table[kind]
    if "cost" in spec:
        cost = _num(spec, "cost", None, who)
    iv = Intervention(ident, kind, params, float(cost), label)
    iv.apply(design)  # refuse now what would fail later
    return iv


def _resolve_line(spec, grid, settings, table, who):
    for key in ("from_bus", "to_bus"):
        if key not in spec:
            raise UsageError(f"{who}: a line needs from_bus and to_bus")
    a, b = str(spec["from_bus"]), str(spec["to_bus"])
    rf = _num(spec, "route_factor", ROUTE_FACTOR, who, low=1.0)
    d = line_defaults(grid, a, b, route_factor=rf)
    length = _num(spec, "length_km", None, who, strict=True)
    if length is None:
        length = d["length_km"]
    if not math.isfinite(length):
        raise UsageError(f"{who}: buses {a} and {b} have no coordinates; give length_km")
    params = {"from_bus": a, "to_bus": b, "length_km": length,
              "x_pu": _num(spec, "x_pu", None, who, strict=True),
              "r_pu": _num(spec, "r_pu", None, who),
              "rating_mw": _num(spec, "rating_mw", None, who, strict=True),
              "branch_id": str(spec.get("branch_id") or f"new-{a}-{b}")}
    kv = _kv(grid, a)
    per_km = table["line_per_km_ehv"] if math.isfinite(kv) and kv >= 220 else table["line_per_km"]
    cost = per_km * length + table["line_bays"]
    return params, f"line:{a}-{b}", f"new line {a} - {b} ({length:.1f} km)", cost


def _resolve_backup(spec, grid, settings, table, who):
    if "facility" not in spec:
        raise UsageError(f"{who}: a backup needs facility = \"ID\"")
    f = str(spec["facility"])
    grid.lookup("facilities", [f])
    row = grid.facilities.loc[f]
    mw = _num(spec, "backup_mw", float(row["demand_mw"]), who)
    hours = _num(spec, "backup_hours", BACKUP_HOURS, who)
    old_mw, old_h = float(row["backup_mw"]), float(row["backup_hours"])
    new_mw, new_h = max(mw, old_mw), max(hours, old_h)
    cost = (table["backup_per_mw"] * max(0.0, new_mw - old_mw)
            + table["backup_per_mwh"] * max(0.0, new_mw * new_h - old_mw * old_h))
    name = str(row.get("name", "")) or f
    return ({"facility": f, "backup_mw": mw, "backup_hours": hours}, f"backup:{f}",
            f"backup {new_mw:g} MW for {new_h:g} h at {name}", cost)


def _resolve_generator(spec, grid, settings, table, who):
    if "bus" not in spec or "pmax_mw" not in spec:
        raise UsageError(f"{who}: a generator needs bus and pmax_mw")
    bus = str(spec["bus"])
    grid.lookup("buses", [bus])
    pmax = _num(spec, "pmax_mw", None, who, strict=True)
    params = {"bus": bus, "pmax_mw": pmax,
              "generator_id": str(spec.get("generator_id") or f"backup-{bus}")}
    return (params, f"generator:{bus}", f"black-start generator {pmax:g} MW at {bus}",
            table["generator_per_mw"] * pmax)


def _resolve_storage(spec, grid, settings, table, who):
    if "bus" not in spec or "mw" not in spec:
        raise UsageError(f"{who}: storage needs bus and mw (and hours)")
    bus = str(spec["bus"])
    grid.lookup("buses", [bus])
    mw = _num(spec, "mw", None, who, strict=True)
    hours = _num(spec, "hours", 4.0, who, strict=True)
    params = {"bus": bus, "pmax_mw": mw, "hours": hours,
              "generator_id": str(spec.get("generator_id") or f"storage-{bus}")}
    return (params, f"storage:{bus}", f"storage {mw:g} MW / {mw * hours:g} MWh at {bus}",
            table["storage_per_mwh"] * mw * hours)


def _resolve_microgrid(spec, grid, settings, table, who):
    facs = spec.get("facilities", spec.get("facility"))
    if facs is None:
        raise UsageError(f"{who}: a microgrid needs facility = \"ID\" or facilities = [..]")
    facs = [facs] if isinstance(facs, str) else [str(f) for f in facs]
    grid.lookup("facilities", facs)
    demand = float(grid.facilities.loc[facs, "demand_mw"].sum())
    mw = _num(spec, "mw", None, who, strict=True)
    hours = _num(spec, "hours", BACKUP_HOURS, who)
    size = demand if mw is None else mw
    cost = table["microgrid_fixed"] + table["microgrid_per_mw"] * size
    return ({"facilities": tuple(facs), "mw": mw, "hours": hours},
            "microgrid:" + "+".join(facs), f"microgrid {size:g} MW for {', '.join(facs)}", cost)


def _hardening(spec, grid, table, who, whole: bool):
    immune = spec.get("immune", False)
    if not isinstance(immune, bool):
        raise UsageError(f"{who}: immune must be true or false, got {immune!r}")
    factor = IMMUNE if immune else _num(spec, "factor", HARDEN_FACTOR, who, low=1.0, strict=True)
    if immune and "factor" in spec:
        raise UsageError(f"{who}: give factor or immune = true, not both")
    targets = hardening_targets(
        grid, substation=spec.get("substation"), bus=spec.get("bus"),
        branch=spec.get("branch"), generator=spec.get("generator"), whole=whole)
    what, ident = targets[0]
    scale = table["immune_factor"] if immune else 1.0
    how = "immune" if immune else f"median x {factor:g}"
    if whole:
        return targets, factor, f"protect:{ident}", \
            f"protect substation {ident} ({how})", table["protect_substation"] * scale
    if what == "substation":
        cost = table["harden_substation"]
    elif what == "gen":
        cost = table["harden_generator"]
    else:
        row = grid.branches.loc[ident]
        if str(row["kind"]) == "transformer":
            cost = table["harden_transformer"]
        else:
            length = float(row["length_km"])
            if not (math.isfinite(length) and length > 0):
                length = bus_distance_km(grid, str(row["from_bus"]), str(row["to_bus"]))
            cost = table["harden_line_per_km"] * (length if math.isfinite(length) else 30.0)
    return targets, factor, f"harden:{what}:{ident}", f"harden {what} {ident} ({how})", \
        cost * scale


def _resolve_harden(spec, grid, settings, table, who):
    targets, factor, ident, label, cost = _hardening(spec, grid, table, who, whole=False)
    return {"targets": tuple(targets), "factor": factor}, ident, label, cost


def _resolve_protect(spec, grid, settings, table, who):
    targets, factor, ident, label, cost = _hardening(spec, grid, table, who, whole=True)
    return {"targets": tuple(targets), "factor": factor}, ident, label, cost


def _count(spec, who) -> int:
    c = spec.get("count", 1)
    if not (isinstance(c, int) and not isinstance(c, bool) and c >= 1):
        raise UsageError(f"{who}: count must be an integer >= 1, got {c!r}")
    return c


def _resolve_spares(spec, grid, settings, table, who):
    kind = str(spec.get("equipment", "transformer"))
    _kind(kind)
    count = _count(spec, who)
    return ({"equipment": kind, "count": count}, f"spares:{kind}+{count}",
            f"{count} more spare {kind}{'s' if count > 1 else ''}",
            table[f"spare_{kind}"] * count)


def _resolve_crews(spec, grid, settings, table, who):
    count = _count(spec, who)
    return ({"count": count}, f"crews+{count}",
            f"{count} more repair crew{'s' if count > 1 else ''}",
            table["crew_per_year"] * table["crew_years"] * count)


def _resolve_repair(spec, grid, settings, table, who):
    if "equipment" not in spec:
        raise UsageError(f"{who}: a faster repair needs equipment = \"transformer\" (or line, "
                         "bus, generator)")
    kind = _kind(str(spec["equipment"]))
    factor = _num(spec, "factor", 0.5, who, strict=True)
    if not factor < 1:
        raise UsageError(f"{who}: factor must be a number in (0, 1), got {factor!r}")
    halvings = math.log2(1.0 / factor)
    return ({"equipment": kind, "factor": factor}, f"repair:{kind}x{factor:g}",
            f"{kind} repairs in {factor:g} x the hours", table["faster_repair"] * halvings)


def _resolve_tank(spec, grid, settings, table, who):
    if "facility" not in spec:
        raise UsageError(f"{who}: a tank needs facility = \"ID\" (and hours to add)")
    f = str(spec["facility"])
    grid.lookup("facilities", [f])
    row = grid.facilities.loc[f]
    mw, demand = float(row["backup_mw"]), float(row["demand_mw"])
    if not (mw > 0 and mw >= demand - 1e-9):
        raise UsageError(f"{who}: facility {f} has no backup generator that carries its "
                         "demand; a tank needs one (propose kind = \"backup\" instead)")
    add = _num(spec, "hours", 24.0, who, strict=True)
    old = float(row["backup_hours"])
    name = str(row.get("name", "")) or f
    return ({"facility": f, "backup_mw": mw, "backup_hours": old + add},
            f"tank:{f}+{add:g}h", f"{add:g} h more fuel at {name} ({old + add:g} h)",
            table["backup_per_mwh"] * mw * add)


def _resolve_reservoir(spec, grid, settings, table, who):
    if "facility" not in spec:
        raise UsageError(f"{who}: a reservoir needs facility = \"ID\" (and hours to add)")
    f = str(spec["facility"])
    grid.lookup("facilities", [f])
    add = _num(spec, "hours", 12.0, who, strict=True)
    model = compile_services(grid)
    i = grid.facilities.index.get_loc(f)
    if model.service[i] < 0:
        raise UsageError(f"{who}: facility {f} provides no service; a reservoir stores a "
                         "service for the people it serves")
    old = float(model.storage_h[i])
    if not math.isfinite(old):
        raise UsageError(f"{who}: the storage of facility {f} is the buildings' heat (or "
                         "never runs out); give storage_h in its service columns first")
    people = float(model.people_served[i])
    name = str(grid.facilities.loc[f].get("name", "")) or f
    return ({"facility": f, "storage_h": old + add}, f"reservoir:{f}+{add:g}h",
            f"{add:g} h more storage at {name} ({old + add:g} h for {people:,.0f} people)",
            table["reservoir_per_person_h"] * people * add)


def _resolve_fuel_truck(spec, grid, settings, table, who):
    count = _count(spec, who)
    return ({"count": count}, f"fuel_truck+{count}",
            f"{count} more fuel truck{'s' if count > 1 else ''}", table["fuel_tanker"] * count)


def _resolve_mobile_generator(spec, grid, settings, table, who):
    mw = _num(spec, "mw", None, who, strict=True)
    if mw is None:
        raise UsageError(f"{who}: a mobile generator needs mw (and optionally depot)")
    depot = spec.get("depot", "")
    if isinstance(depot, list):
        depot = tuple(depot)
    if isinstance(depot, str) and depot:
        grid.lookup("buses", [depot])
    where = f" at {depot}" if isinstance(depot, str) and depot else ""
    return ({"mw": mw, "depot": depot}, f"mobile_generator:{mw:g}MW{where.replace(' at ', '@')}",
            f"mobile generator {mw:g} MW{where}", table["mobile_generator_per_mw"] * mw)


_RESOLVE = {
    "line": _resolve_line, "backup": _resolve_backup, "generator": _resolve_generator,
    "storage": _resolve_storage, "microgrid": _resolve_microgrid, "harden": _resolve_harden,
    "protect": _resolve_protect, "spares": _resolve_spares, "crews": _resolve_crews,
    "repair": _resolve_repair,
    "tank": _resolve_tank,
    "reservoir": _resolve_reservoir,
    "fuel_truck": _resolve_fuel_truck,
    "mobile_generator": _resolve_mobile_generator,
}
