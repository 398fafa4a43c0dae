"""The service data of a grid: what each facility provides, to whom, and what it needs.

These are columns of the facilities table (:data:`~gridres.model.FACILITY_COLUMNS`),
stored in the grid file like any other; an empty field takes the default of the
facility's ``kind`` below. This module reads and checks them; :mod:`gridres.services`
computes with them.

Columns
-------
``town``
    The town where the facility stands, a town id; empty: its bus's ``town``.
``service``
    The service it provides, one of :data:`SERVICES`; empty: from ``kind``
    (:data:`KIND_SERVICE`); ``none`` for a facility that provides none of them.
``serves``
    The towns it serves, town ids separated by ``;``; ``*`` for every town; empty: its
    own ``town``. Several facilities of one service serving a town share its people
    equally.
``coverage``
    The share (0 to 1) of each served town's population that relies on this facility's
    service: 1 for a waterworks supplying the whole town, 0.3 for a district-heating
    plant that heats 30 % of its homes. Default 1.
``depends_on``
    What it needs besides power, as ``;``-separated items, each optionally followed by
    ``@HOURS``, the buffer that bridges its loss (a hospital's own water tank):

    * a service name (``water@12``): met while at least one facility providing that
      service to this facility's town delivers it (a facility without a town: one
      providing it to the facilities without a town);
    * ``facility:ID`` (``facility:W01@6``): met while that facility delivers its
      service.

    Empty: the kind's defaults (:data:`DEFAULT_DEPENDS`); ``none``: power only. A
    buffer left out takes :data:`DEFAULT_BUFFER_H`. Power is always needed: a facility
    works while it has power from the grid or its backup.
``storage_h``
    Hours its service still reaches people after the facility stops: a waterworks'
    reservoirs, telecom site batteries beyond the facility's backup. Empty (NaN): the
    service's default (:data:`DEFAULT_STORAGE_H`); for heat, the hours the buildings
    stay warm at the outside temperature (:func:`gridres.services.heat.heat_hours`).
    ``inf``: it never runs out.

Defaults by kind
----------------
========= ========= ================================ =============================
kind      service   depends on (buffer, hours)       storage (hours)
========= ========= ================================ =============================
hospital  health    water 12, telecom 4              0
water     water     (power only)                     12 (reservoirs)
heating   heat      water 24 (make-up water)         buildings' heat (temperature)
telecom   telecom   (power only)                     2 (site batteries)
shelter   shelter   water 24                         0
emergency emergency telecom 2                        0
other     none      (power only)                     0
========= ========= ================================ =============================
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from gridres.errors import UsageError
from gridres.model import Grid

__all__ = [
    "SERVICES",
    "KIND_SERVICE",
    "DEFAULT_DEPENDS",
    "DEFAULT_BUFFER_H",
    "DEFAULT_STORAGE_H",
    "ALL_TOWNS",
    "NO_DEPENDENCIES",
    "Dependency",
    "facility_towns",
    "parse_depends",
    "parse_serves",
    "SERVICE_COLUMNS",
    "with_service_columns",
]

#: The services a facility can provide, in reporting order.
SERVICES = ("water", "heat", "telecom", "health", "shelter", "emergency")

#: Service of each facility kind ("" for none).
KIND_SERVICE = {"hospital": "health", "water": "water", "heating": "heat",
                "telecom": "telecom", "shelter": "shelter", "emergency": "emergency",
                "other": ""}

#: Dependencies of each kind besides power (the ``depends_on`` an empty field means).
DEFAULT_DEPENDS = {"hospital": "water@12; telecom@4", "water": "", "heating": "water@24",
                   "telecom": "", "shelter": "water@24", "emergency": "telecom@2",
                   "other": ""}

#: Buffer of a dependency written without ``@HOURS``.
DEFAULT_BUFFER_H = 0.0

#: Storage of each service (hours its supply outlasts the facility's stop); NaN for heat:
#: the buildings' heat, from the outside temperature.
DEFAULT_STORAGE_H = {"water": 12.0, "heat": math.nan, "telecom": 2.0, "health": 0.0,
                     "shelter": 0.0, "emergency": 0.0, "": 0.0}

#: ``serves`` value for every town.
ALL_TOWNS = "*"
#: ``depends_on`` value for power only.
NO_DEPENDENCIES = "none"

_FACILITY = "facility:"

#: The service columns of the facilities table, and the type of each.
SERVICE_COLUMNS = {"town": str, "service": str, "serves": str, "coverage": float,
                   "depends_on": str, "storage_h": float}


@dataclass(frozen=True)
class Dependency:
    """One item of ``depends_on``.

    Attributes
    ----------
    service : str
        The service needed (empty for a facility dependency).
    facility : str
        The facility needed (empty for a service dependency).
    buffer_h : float
        Hours the dependent keeps working without it.
    """

    service: str = ""
    facility: str = ""
    buffer_h: float = DEFAULT_BUFFER_H


def parse_depends(text: str, kind: str = "other") -> tuple[Dependency, ...]:
    """Read a ``depends_on`` field.

    Parameters
    ----------
    text : str
        The field; empty for the defaults of ``kind``, ``none`` for power only.
    kind : str
        The facility's kind (for the defaults).

    Returns
    -------
    tuple of Dependency

    Raises
    ------
    ValueError
        With a message that says what is wrong with which item: an unknown service, an
        empty facility id, a buffer that is not a number of hours of 0 or more.

    Examples
    --------
    >>> parse_depends("water@12; facility:T01")
    (Dependency(service='water', facility='', buffer_h=12.0), Dependency(service='', \
facility='T01', buffer_h=0.0))
    >>> [d.service for d in parse_depends("", "hospital")]
    ['water', 'telecom']
    >>> parse_depends("none")
    ()
    """
    text = str(text).strip()
    if not text:
        text = DEFAULT_DEPENDS.get(kind, "")
    if text.lower() == NO_DEPENDENCIES:
        return ()
    out = []
    for item in (s.strip() for s in text.split(";")):
        if not item:
            continue
        target, at, hours = item.partition("@")
        target = target.strip()
        buffer_h = DEFAULT_BUFFER_H
        if at:
            try:
                buffer_h = float(hours)
            except ValueError:
                raise ValueError(f"item {item!r}: buffer {hours.strip()!r} is not a number "
                                 "of hours") from None
            if math.isnan(buffer_h) or buffer_h < 0:
                raise ValueError(f"item {item!r}: buffer {hours.strip()} h is negative or "
                                 "NaN; give hours of 0 or more")
        if target.lower().startswith(_FACILITY):
            fid = target[len(_FACILITY):].strip()
            if not fid:
                raise ValueError(f"item {item!r}: no facility id after 'facility:'")
            out.append(Dependency(facility=fid, buffer_h=buffer_h))
        elif target.lower() in SERVICES:
            out.append(Dependency(service=target.lower(), buffer_h=buffer_h))
        else:
            raise ValueError(f"item {item!r}: {target!r} is not a service "
                             f"({', '.join(SERVICES)}) nor facility:ID")
    return tuple(out)


def parse_serves(text: str, town: str) -> tuple[str, ...] | None:
    """Read a ``serves`` field: the town ids it names, ``None`` for every town (``*``).

    Examples
    --------
    >>> parse_serves("", "Ostrach"), parse_serves("A; B", "A"), parse_serves("*", "A")
    (('Ostrach',), ('A', 'B'), None)
    >>> parse_serves("", "")
    ()
    """
    text = str(text).strip()
    if text == ALL_TOWNS:
        return None
    if not text:
        return (town,) if town else ()
    return tuple(dict.fromkeys(t.strip() for t in text.split(";") if t.strip()))


def facility_towns(grid: Grid) -> pd.Series:
    """The town of every facility: its ``town`` field, else its bus's ``town`` (empty
    where neither names one, or the bus is unknown)."""
    facs = grid.facilities
    own = facs["town"].fillna("").astype(str)
    buses = grid.buses[~grid.buses.index.duplicated()]
    bus_town = buses["town"].reindex(facs["bus"].astype(str)).fillna("").astype(str)
    return own.where(own != "", bus_town.to_numpy())


def with_service_columns(grid: Grid, changes: Mapping[str, Mapping[str, Any]]) -> Grid:
    """The grid with some facilities' service columns replaced (a study's
    ``[services.facilities.ID]`` tables).

    Parameters
    ----------
    grid : Grid
    changes : mapping
        Facility id -> ``{column: value}`` for columns of :data:`SERVICE_COLUMNS`.

    Returns
    -------
    Grid
        A new grid; ``grid`` is not changed. The values are checked when the service
        model is compiled (:func:`gridres.services.compile_services`).

    Raises
    ------
    UnknownIdError
        For a facility that is not in the grid.
    UsageError
        For a column that is not a service column, or a value of the wrong type.

    Examples
    --------
    >>> from gridres.io import load_grid
    >>> g = with_service_columns(load_grid("demo_region"), {"W02": {"storage_h": 24}})
    >>> float(g.facilities.loc["W02", "storage_h"])
    24.0
    """
    if not changes:
        return grid
    grid.lookup("facilities", list(changes))
    facs = grid.facilities.copy()
    for fid, cols in changes.items():
        for col, value in cols.items():
            kind = SERVICE_COLUMNS.get(col)
            if kind is None:
                raise UsageError(f"facility {fid!r}: {col!r} is not a service column "
                                 f"({', '.join(SERVICE_COLUMNS)})")
            if kind is float:
                ok = isinstance(value, int | float) and not isinstance(value, bool)
            else:
                ok = isinstance(value, str)
            if not ok:
                what = "a number" if kind is float else "a string"
                raise UsageError(f"facility {fid!r}: {col} must be {what}, got {value!r}")
            facs.loc[fid, col] = kind(value)
    return grid.replace(facilities=facs)
