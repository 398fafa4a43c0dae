"""Demand over time: hourly load per bus from load classes and typical daily shapes.

A grid's ``load_mw`` is one figure per bus: the load at the system peak (the bundled
grids' loads are winter weekday peaks). A *profile* turns it into demand per bus and hour,
:class:`Demand`, for a list of hourly time stamps. Without a profile (:class:`FlatProfile`)
every hour has the static load: today's behaviour of the engine.

Load classes
------------
Each bus's load is split into the classes of :data:`LOAD_CLASSES` (residential,
commercial, industrial, critical) by :func:`class_shares`:

1. the part that feeds critical facilities (hospital, water, heating, telecom,
   emergency, shelter: the facilities' ``demand_mw``, at most the bus's load) is
   ``critical``;
2. the rest follows the bus's ``load_class`` column where the grid has one: a class name
   (``industrial``) or a mix (``residential:0.6,commercial:0.4``, shares that add up to 1);
3. without that column: a bus with customers and at least 0.1 MW of load per customer
   (a works, a plant, a data centre: no household averages 100 kW) is ``industrial``;
   any other bus is half ``residential``, half ``commercial`` (households and services
   use about as much electricity as each other in European energy balances, e.g.
   Eurostat's ``nrg_bal_c``).

Typical daily shapes
--------------------
:class:`TypicalProfile` gives each class an hourly factor for a winter or summer weekday
or weekend day. The shapes are *constructed*, not measured: a base level plus smooth
bumps (a Gaussian in the hour of the day, ``height · exp(-½ ((h − centre)/width)²)``,
wrapped around midnight) and plateaus (the product of two logistic steps, 0.5 h wide,
at ``start`` and ``end``), evaluated at the middle of each hour, then divided by the
class's winter-weekday maximum. A bus's load is the sum of its classes; the mix of its
non-critical classes is scaled so that its winter weekday peak is the grid's ``load_mw``
(which stands for the bus's peak load). Their features follow what published standard load profiles
show (for example the German BDEW profiles H0 for households and G0 for trade): a
household night trough near 40 % of the peak, a morning rise and an evening peak that is
highest in winter and later and lower in summer; trade and services high during opening
hours and low at night and on Sundays; industry in two shifts on weekdays, lower at
weekends; critical facilities flat around the clock. No data of those profiles is used.
The parameters (:data:`SHAPES`):

============ ======== ==== =========================================================
class        season   day  base + components (bump: centre h, width h, height;
                                              plateau: start h, end h, height)
============ ======== ==== =========================================================
residential  winter   wd   0.42, bump 7.0 1.0 0.22, plateau 10 16 0.12, bump 18.5 1.8 0.50
residential  winter   we   0.45, bump 9.5 1.8 0.28, plateau 11 16 0.15, bump 18.5 1.8 0.45
residential  summer   wd   0.38, bump 7.0 1.0 0.15, plateau 10 17 0.10, bump 20.5 2.0 0.30
residential  summer   we   0.40, bump 10 2.0 0.20, plateau 11 17 0.12, bump 20.5 2.0 0.28
commercial   winter   wd   0.30, plateau 7.5 18.5 0.65, bump 12.5 2.0 0.05
commercial   winter   we   0.30, plateau 9 17 0.25
commercial   summer   wd   0.28, plateau 7.5 18.5 0.60, bump 14.5 2.5 0.10 (cooling)
commercial   summer   we   0.28, plateau 9 17 0.22
industrial   winter   wd   0.70, plateau 6 22 0.30
industrial   winter   we   0.60, plateau 6 14 0.10
industrial   summer   wd   0.68, plateau 6 22 0.30
industrial   summer   we   0.58, plateau 6 14 0.10
critical     any      any  1.0
============ ======== ==== =========================================================

Winter is October to March, summer April to September; weekdays are Monday to Friday
(public holidays are not known). Optional temperature sensitivity
(:class:`TemperatureSensitivity`) scales each class by a share per degree of heating
below 15 °C and of cooling above 22 °C, relative to the season's reference temperature.

Profile files
-------------
:func:`read_profile` reads a CSV or Parquet file in long form, one row per time and bus
or class: a ``time`` column (ISO date and time; or ``hour``, hours from the start), a
``bus`` or a ``class`` column, and a ``factor`` (times the bus's ``load_mw``, or times
the class's share of it) or ``mw`` column. Every listed bus or class needs a row for
every hour of the horizon; buses or classes not listed keep their static load.
"""

from __future__ import annotations

import difflib
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from gridres.deficit.tables import ROW_OFFSET, read_table
from gridres.errors import GridError, UsageError
from gridres.model import Grid, UnknownIdError

__all__ = [
    "LOAD_CLASSES",
    "PROTECTED_KINDS",
    "SHAPES",
    "PROFILE_NAMES",
    "Demand",
    "Profile",
    "FlatProfile",
    "TypicalProfile",
    "TemperatureSensitivity",
    "FileProfile",
    "class_shares",
    "protected_mw",
    "typical_day",
    "hourly_times",
    "get_profile",
    "read_profile",
    "distinct_demand",
]

logger = logging.getLogger(__name__)

#: Load classes, in the column order of :func:`class_shares`.
LOAD_CLASSES = ("residential", "commercial", "industrial", "critical")
#: Facility kinds whose feeders are protected from rotation and count as critical load.
PROTECTED_KINDS = ("hospital", "water", "heating", "telecom", "emergency", "shelter")
#: Load per customer (MW) from which a bus counts as industrial.
INDUSTRIAL_MW_PER_CUSTOMER = 0.1

_SEASONS = ("winter", "summer")
_DAYS = ("weekday", "weekend")

#: Shape parameters per (class, season, day): base, then ("bump", centre_h, width_h,
#: height) and ("plateau", start_h, end_h, height) components. See the module notes.
SHAPES: dict[tuple[str, str, str], tuple] = {
    ("residential", "winter", "weekday"): (0.42, ("bump", 7.0, 1.0, 0.22),
                                           ("plateau", 10, 16, 0.12), ("bump", 18.5, 1.8, 0.50)),
    ("residential", "winter", "weekend"): (0.45, ("bump", 9.5, 1.8, 0.28),
                                           ("plateau", 11, 16, 0.15), ("bump", 18.5, 1.8, 0.45)),
    ("residential", "summer", "weekday"): (0.38, ("bump", 7.0, 1.0, 0.15),
                                           ("plateau", 10, 17, 0.10), ("bump", 20.5, 2.0, 0.30)),
    ("residential", "summer", "weekend"): (0.40, ("bump", 10.0, 2.0, 0.20),
                                           ("plateau", 11, 17, 0.12), ("bump", 20.5, 2.0, 0.28)),
    ("commercial", "winter", "weekday"): (0.30, ("plateau", 7.5, 18.5, 0.65),
                                          ("bump", 12.5, 2.0, 0.05)),
    ("commercial", "winter", "weekend"): (0.30, ("plateau", 9, 17, 0.25)),
    ("commercial", "summer", "weekday"): (0.28, ("plateau", 7.5, 18.5, 0.60),
                                          ("bump", 14.5, 2.5, 0.10)),
    ("commercial", "summer", "weekend"): (0.28, ("plateau", 9, 17, 0.22)),
    ("industrial", "winter", "weekday"): (0.70, ("plateau", 6, 22, 0.30)),
    ("industrial", "winter", "weekend"): (0.60, ("plateau", 6, 14, 0.10)),
    ("industrial", "summer", "weekday"): (0.68, ("plateau", 6, 22, 0.30)),
    ("industrial", "summer", "weekend"): (0.58, ("plateau", 6, 14, 0.10)),
}

#: Built-in profile names for :func:`get_profile`: ``flat`` (the static load),
#: ``typical`` (season and day type from each hour's date), ``winter`` and ``summer``
#: (day type from the date), and the four fixed days.
PROFILE_NAMES = ("flat", "typical", "winter", "summer", "winter-weekday", "winter-weekend",
                 "summer-weekday", "summer-weekend")


def _raw_day(spec: tuple) -> np.ndarray:
    h = np.arange(24) + 0.5
    out = np.full(24, float(spec[0]))
    for kind, a, b, height in spec[1:]:
        if kind == "bump":
            d = np.abs(h - a)
            d = np.minimum(d, 24.0 - d)  # around midnight
            out += height * np.exp(-0.5 * (d / b) ** 2)
        else:
            rise = 1.0 / (1.0 + np.exp(-(h - a) / 0.5))
            fall = 1.0 / (1.0 + np.exp((h - b) / 0.5))
            out += height * rise * fall
    return out


def typical_day(load_class: str, season: str, day: str) -> np.ndarray:
    """Hourly factors (24, hours 0-23) of a class on a typical day, relative to the class's
    winter weekday peak.

    Parameters
    ----------
    load_class : {"residential", "commercial", "industrial", "critical"}
    season : {"winter", "summer"}
    day : {"weekday", "weekend"}

    Returns
    -------
    ndarray, shape (24,)

    Examples
    --------
    >>> f = typical_day("residential", "winter", "weekday")
    >>> round(float(f.max()), 6), int(f.argmax()), round(float(f.min()), 2)
    (1.0, 18, 0.46)
    """
    if load_class not in LOAD_CLASSES or season not in _SEASONS or day not in _DAYS:
        raise UsageError(f"no typical day for ({load_class!r}, {season!r}, {day!r}); classes "
                         f"{', '.join(LOAD_CLASSES)}, seasons winter, summer, days weekday, "
                         "weekend")
    if load_class == "critical":
        return np.ones(24)
    peak = _raw_day(SHAPES[(load_class, "winter", "weekday")]).max()
    return _raw_day(SHAPES[(load_class, season, day)]) / peak


@dataclass(frozen=True, eq=False)
class Demand:
    """Demand per bus and hour.

    Attributes
    ----------
    times : pandas.DatetimeIndex, shape (H,)
        Start of every hour.
    bus_mw : ndarray, shape (H, n_bus)
        Load of every bus (positive loads; negative loads are in ``fixed_mw``).
    critical_mw : ndarray, shape (H, n_bus)
        Part of ``bus_mw`` that feeds protected critical facilities (:data:`PROTECTED_KINDS`).
    fixed_mw : ndarray, shape (n_bus,)
        Demand that is never switched: shunt conductance plus negative loads (the engine's
        fixed injections), the same every hour.
    profile : str
        Name of the profile that made it.
    """

    times: pd.DatetimeIndex
    bus_mw: np.ndarray
    critical_mw: np.ndarray
    fixed_mw: np.ndarray
    profile: str

    @property
    def hours(self) -> int:
        return len(self.times)

    def total_mw(self, buses: np.ndarray | None = None) -> np.ndarray:
        """Demand per hour (load plus fixed demand) of the given bus positions, or of all
        buses; shape (H,)."""
        if buses is None:
            return self.bus_mw.sum(axis=1) + self.fixed_mw.sum()
        return self.bus_mw[:, buses].sum(axis=1) + self.fixed_mw[buses].sum()


class Profile(Protocol):
    """What makes demand per bus and hour: a name, and :meth:`demand`."""

    name: str

    def demand(self, grid: Grid, times: pd.DatetimeIndex) -> Demand: ...


def hourly_times(start: str | pd.Timestamp, hours: int) -> pd.DatetimeIndex:
    """``hours`` hourly time stamps from ``start`` (an ISO date and time).

    Examples
    --------
    >>> hourly_times("2025-01-06T22:00", 3).strftime("%a %H:%M").tolist()
    ['Mon 22:00', 'Mon 23:00', 'Tue 00:00']
    """
    if not isinstance(hours, int | np.integer) or hours < 1:
        raise UsageError(f"The 'hours' parameter must be an int >= 1. Got {hours!r} instead.")
    try:
        t0 = pd.Timestamp(start)
    except (ValueError, TypeError):
        raise UsageError(f"start {start!r} is not a date and time; write it as ISO 8601, "
                         "e.g. 2025-01-06T00:00") from None
    if t0 is pd.NaT:
        raise UsageError(f"start {start!r} is not a date and time")
    return pd.date_range(t0, periods=int(hours), freq="h")


def protected_mw(grid: Grid, load_mw: np.ndarray | None = None) -> np.ndarray:
    """Load of each bus that feeds protected critical facilities: the demand of its
    facilities of :data:`PROTECTED_KINDS`, at most the bus's positive load; shape (n_bus,)."""
    net = grid.network
    load = net.load_mw if load_mw is None else load_mw
    kinds = grid.facilities["kind"].astype(str).str.lower().to_numpy()
    keep = np.isin(kinds, PROTECTED_KINDS)
    fed = np.bincount(net.fac_bus[keep], weights=net.fac_demand_mw[keep], minlength=net.n_bus)
    return np.minimum(np.maximum(fed, 0.0), np.maximum(load, 0.0))


def _parse_class(text: str, where: str) -> dict[str, float]:
    text = text.strip().lower()
    if ":" not in text and "," not in text:
        if text not in LOAD_CLASSES[:3]:
            raise GridError(f"{where}: load_class {text!r} is not a class; use residential, "
                            "commercial or industrial, or a mix like "
                            "residential:0.6,commercial:0.4")
        return {text: 1.0}
    out: dict[str, float] = {}
    for part in text.split(","):
        name, _, share = part.partition(":")
        name = name.strip()
        try:
            value = float(share)
        except ValueError:
            value = math.nan
        if name not in LOAD_CLASSES[:3] or not (value >= 0):
            raise GridError(f"{where}: load_class {text!r}: write CLASS:SHARE pairs with "
                            "classes residential, commercial, industrial and shares >= 0")
        out[name] = out.get(name, 0.0) + value
    total = sum(out.values())
    if abs(total - 1.0) > 1e-6:
        raise GridError(f"{where}: load_class {text!r}: shares add up to {total:g}; make "
                        "them add up to 1")
    return out


def class_shares(grid: Grid) -> np.ndarray:
    """Share of each bus's positive load in each class (see the module notes).

    Returns
    -------
    ndarray, shape (n_bus, 4)
        Columns in the order of :data:`LOAD_CLASSES`; rows add up to 1 (0 for buses
        without load).

    Examples
    --------
    >>> from gridres.io import load_grid
    >>> g = load_grid("demo_region")
    >>> s = class_shares(g)
    >>> s[g.buses.index.get_loc("ALZB-110")].tolist()  # a chemical park, one customer
    [0.0, 0.0, 1.0, 0.0]
    """
    net = grid.network
    load = np.maximum(net.load_mw, 0.0)
    crit = protected_mw(grid)
    crit_share = np.divide(crit, load, out=np.zeros_like(load), where=load > 0)
    rest = np.zeros((net.n_bus, 3))
    if "load_class" in grid.buses.columns:
        col = grid.buses["load_class"]
        for i, value in enumerate(col.to_numpy(dtype=object)):
            if load[i] <= 0:
                continue
            if value is None or (isinstance(value, float) and math.isnan(value)) \
                    or not str(value).strip():
                rest[i] = (0.5, 0.5, 0.0)
                continue
            mix = _parse_class(str(value), f"{grid.source or grid.name}: bus {grid.buses.index[i]!r}")
            rest[i] = [mix.get(c, 0.0) for c in LOAD_CLASSES[:3]]
    else:
        cust = net.customers.astype(float)
        per = np.divide(load, cust, out=np.zeros_like(load), where=cust > 0)
        industrial = (cust > 0) & (per >= INDUSTRIAL_MW_PER_CUSTOMER)
        rest[:] = (0.5, 0.5, 0.0)
        rest[industrial] = (0.0, 0.0, 1.0)
    out = np.column_stack([rest * (1.0 - crit_share)[:, None], crit_share])
    out[load <= 0] = 0.0
    return out


def _fixed_mw(grid: Grid) -> np.ndarray:
    net = grid.network
    return np.where(net.bus_in_service, net.fixed_mw, 0.0)


@dataclass(frozen=True, eq=False)
class FlatProfile:
    """The static load in every hour (no profile)."""

    name: str = "flat"

    def demand(self, grid: Grid, times: pd.DatetimeIndex) -> Demand:
        net = grid.network
        load = np.where(net.bus_in_service, np.maximum(net.load_mw, 0.0), 0.0)
        crit = protected_mw(grid, load)
        h = len(times)
        return Demand(times, np.tile(load, (h, 1)), np.tile(crit, (h, 1)), _fixed_mw(grid),
                      self.name)


@dataclass(frozen=True)
class TemperatureSensitivity:
    """Demand change per degree of heating and cooling, by class.

    The factor of class ``c`` at temperature ``T`` is multiplied by
    ``1 + heating[c] · (HD(T) − HD(T_ref)) + cooling[c] · (CD(T) − CD(T_ref))`` with
    ``HD(T) = max(0, heating_below_c − T)``, ``CD(T) = max(0, T − cooling_above_c)`` and
    ``T_ref`` the season's reference temperature the typical shapes stand for; never below
    0.1. The default shares are assumptions for a central European grid with some electric
    heating and cooling (set your own): households and services +1 % per degree of
    heating, services +1.5 % and households +0.5 % per degree of cooling, industry
    ±0.2-0.3 %, critical facilities 0.

    Parameters
    ----------
    temperature_c : pandas.Series
        Air temperature (°C) indexed by hourly time stamps covering the horizon.
    """

    temperature_c: pd.Series
    heating: Mapping[str, float] = field(default_factory=lambda: {
        "residential": 0.010, "commercial": 0.010, "industrial": 0.002, "critical": 0.0})
    cooling: Mapping[str, float] = field(default_factory=lambda: {
        "residential": 0.005, "commercial": 0.015, "industrial": 0.003, "critical": 0.0})
    heating_below_c: float = 15.0
    cooling_above_c: float = 22.0
    reference_c: Mapping[str, float] = field(default_factory=lambda: {
        "winter": 2.0, "summer": 18.0})

    def multipliers(self, times: pd.DatetimeIndex, seasons: np.ndarray) -> np.ndarray:
        """Multipliers per hour and class, shape (H, 4)."""
        temp = self.temperature_c.reindex(times)
        if temp.isna().any():
            missing = times[temp.isna().to_numpy()][0]
            raise UsageError(f"temperature: no value for {missing}; give a temperature for "
                             "every hour of the horizon")
        t = temp.to_numpy(float)
        ref = np.array([self.reference_c[s] for s in seasons])

        def hd(x):
            return np.maximum(0.0, self.heating_below_c - x)

        def cd(x):
            return np.maximum(0.0, x - self.cooling_above_c)

        heat = np.array([self.heating.get(c, 0.0) for c in LOAD_CLASSES])
        cool = np.array([self.cooling.get(c, 0.0) for c in LOAD_CLASSES])
        m = (1.0 + np.outer(hd(t) - hd(ref), heat) + np.outer(cd(t) - cd(ref), cool))
        return np.maximum(m, 0.1)


@dataclass(frozen=True, eq=False)
class TypicalProfile:
    """Typical daily shapes per load class (see the module notes).

    Parameters
    ----------
    season : {"winter", "summer"} or None
        None: from each hour's month (October-March winter).
    day : {"weekday", "weekend"} or None
        None: from each hour's day of the week.
    temperature : TemperatureSensitivity, optional

    Examples
    --------
    >>> from gridres.io import load_grid
    >>> g = load_grid("demo_region")
    >>> day = hourly_times("2025-01-06", 24)
    >>> peak = g.buses["load_mw"].sum()
    >>> [round(float(TypicalProfile("winter", d).demand(g, day).total_mw().max() / peak), 3)
    ...  for d in ("weekday", "weekend")]
    [1.0, 0.738]
    """

    season: str | None = None
    day: str | None = None
    temperature: TemperatureSensitivity | None = None

    def __post_init__(self) -> None:
        if self.season not in (None, *_SEASONS):
            raise UsageError(f"The 'season' parameter of TypicalProfile must be winter, "
                             f"summer or None. Got {self.season!r} instead.")
        if self.day not in (None, *_DAYS):
            raise UsageError(f"The 'day' parameter of TypicalProfile must be weekday, weekend "
                             f"or None. Got {self.day!r} instead.")

    @property
    def name(self) -> str:
        if self.season and self.day:
            return f"{self.season}-{self.day}"
        return self.season or "typical"

    def factors(self, times: pd.DatetimeIndex) -> np.ndarray:
        """Factor of every class in every hour, shape (H, 4), relative to ``load_mw``."""
        months = times.month.to_numpy()
        seasons = (np.full(len(times), self.season, dtype=object) if self.season else
                   np.where((months >= 4) & (months <= 9), "summer", "winter"))
        days = (np.full(len(times), self.day, dtype=object) if self.day else
                np.where(times.dayofweek.to_numpy() >= 5, "weekend", "weekday"))
        table = {(c, s, d): typical_day(c, s, d) for c in LOAD_CLASSES for s in _SEASONS
                 for d in _DAYS}
        hour = times.hour.to_numpy()
        out = np.empty((len(times), len(LOAD_CLASSES)))
        for j, c in enumerate(LOAD_CLASSES):
            for s in _SEASONS:
                for d in _DAYS:
                    sel = (seasons == s) & (days == d)
                    out[sel, j] = table[(c, s, d)][hour[sel]]
        if self.temperature is not None:
            out = out * self.temperature.multipliers(times, seasons)
        return out

    def demand(self, grid: Grid, times: pd.DatetimeIndex) -> Demand:
        """Demand per bus and hour; each bus's winter weekday peak is its ``load_mw``."""
        peak = np.column_stack([typical_day(c, "winter", "weekday") for c in LOAD_CLASSES])
        return _class_demand(grid, times, self.factors(times), self.name, peak)


def _class_demand(grid: Grid, times: pd.DatetimeIndex, factors: np.ndarray, name: str,
                  peak: np.ndarray | None = None) -> Demand:
    """Demand from class factors (H, 4): the critical part of each bus times the critical
    factor, the rest times its class mix's factor divided by ``peak`` (the mix's highest
    factor on a reference day, shape (24, 4); None: no division)."""
    net = grid.network
    load = np.where(net.bus_in_service, np.maximum(net.load_mw, 0.0), 0.0)
    shares = class_shares(grid)
    crit_share = shares[:, 3]
    mix = np.divide(shares[:, :3], (1.0 - crit_share)[:, None], out=np.zeros((net.n_bus, 3)),
                    where=(1.0 - crit_share)[:, None] > 0)
    rest_factor = factors[:, :3] @ mix.T  # (H, n_bus)
    if peak is not None:
        top = (peak[:, :3] @ mix.T).max(axis=0)
        rest_factor = np.divide(rest_factor, top, out=np.ones_like(rest_factor),
                                where=top > 0)
    crit = factors[:, [3]] * (crit_share * load)[None, :]
    bus_mw = crit + rest_factor * ((1.0 - crit_share) * load)[None, :]
    return Demand(times, bus_mw, crit, _fixed_mw(grid), name)


@dataclass(frozen=True, eq=False)
class FileProfile:
    """A profile read from a file (:func:`read_profile`).

    Attributes
    ----------
    path : str
    key : {"bus", "class"}
    value : {"factor", "mw"}
    table : pandas.DataFrame
        Columns ``time`` (Timestamp or hour offset as int), ``key`` (str), ``value``
        (float >= 0), ``row`` (row number in the file, for messages).
    """

    path: str
    key: str
    value: str
    table: pd.DataFrame

    @property
    def name(self) -> str:
        return Path(self.path).name

    def _pivot(self, times: pd.DatetimeIndex) -> pd.DataFrame:
        t = self.table
        if pd.api.types.is_integer_dtype(t["time"]):
            index = pd.Index(np.arange(len(times)))
        else:
            index = times
        wide = t.pivot(index="time", columns="key", values="value")
        wide = wide.reindex(index)
        gaps = wide.isna().to_numpy()
        if gaps.any():
            r, c = np.argwhere(gaps)[0]
            what = f"hour {index[r]}" if index is not times else f"{times[r]}"
            raise GridError(f"{self.path}: no {self.value} for {self.key} {wide.columns[c]!r} "
                            f"at {what}; give a row for every hour of the horizon "
                            f"({times[0]} to {times[-1]})")
        return wide

    def covered_times(self, start: str | pd.Timestamp) -> pd.DatetimeIndex:
        """Every hour the file covers, first to last: from ``start`` for a file of hour
        offsets, as written for a file of times."""
        t = self.table["time"]
        if pd.api.types.is_integer_dtype(t):
            return hourly_times(start, int(t.max()) + 1)
        return pd.date_range(t.min(), t.max(), freq="h")

    def demand(self, grid: Grid, times: pd.DatetimeIndex) -> Demand:
        net = grid.network
        wide = self._pivot(times)
        load = np.where(net.bus_in_service, np.maximum(net.load_mw, 0.0), 0.0)
        if self.key == "class":
            unknown = [c for c in wide.columns if c not in LOAD_CLASSES]
            if unknown:
                raise GridError(f"{self.path}: unknown class {unknown[0]!r}; use "
                                f"{', '.join(LOAD_CLASSES)}")
            factors = np.ones((len(times), len(LOAD_CLASSES)))
            if self.value == "factor":
                for c in wide.columns:
                    factors[:, LOAD_CLASSES.index(c)] = wide[c].to_numpy(float)
            else:  # MW per class, spread over the class's buses in proportion to their load
                class_mw = class_shares(grid) * load[:, None]
                totals = class_mw.sum(axis=0)
                for c in wide.columns:
                    j = LOAD_CLASSES.index(c)
                    if totals[j] <= 0:
                        raise GridError(f"{self.path}: class {c!r} has MW but no bus of the "
                                        "grid has load of that class")
                    factors[:, j] = wide[c].to_numpy(float) / totals[j]
            return _class_demand(grid, times, factors, self.name)
        try:
            pos = grid.lookup("buses", [str(c) for c in wide.columns])
        except UnknownIdError as exc:
            raise UnknownIdError(f"{self.path}: {exc}") from None
        bus_mw = np.tile(load, (len(times), 1))
        values = wide.to_numpy(float)
        bus_mw[:, pos] = values if self.value == "mw" else values * load[pos][None, :]
        crit = np.minimum(protected_mw(grid)[None, :], bus_mw)
        return Demand(times, bus_mw, crit, _fixed_mw(grid), self.name)


def read_profile(path: str | Path) -> FileProfile:
    """Read a profile file (CSV or Parquet; see the module notes).

    Raises
    ------
    InputNotFound
        If the file does not exist.
    GridError
        If it is not a profile file: missing columns, unreadable times, negative or
        non-numeric values, duplicate rows (the message names the row).
    """
    path = Path(path)
    df = read_table(path, "profile")
    time_col = "time" if "time" in df.columns else "hour" if "hour" in df.columns else None
    key = [c for c in ("bus", "class") if c in df.columns]
    value = [c for c in ("factor", "mw") if c in df.columns]
    if time_col is None or len(key) != 1 or len(value) != 1:
        raise GridError(f"{path}: a profile file has columns time (or hour), bus or class, "
                        f"and factor or mw; found {', '.join(df.columns) or 'none'}")
    if df.empty:
        raise GridError(f"{path}: no profile rows")
    rows = np.arange(len(df)) + ROW_OFFSET
    values = pd.to_numeric(df[value[0]], errors="coerce").to_numpy(float)
    bad = np.flatnonzero(~np.isfinite(values) | (values < 0))
    if len(bad):
        k = bad[0]
        raise GridError(f"{path}: row {rows[k]}: {value[0]} {df[value[0]].iloc[k]!r} is "
                        f"{'negative' if values[k] < 0 else 'not a number'}; {value[0]} "
                        "values must be numbers >= 0")
    if time_col == "hour":
        hours = pd.to_numeric(df["hour"], errors="coerce").to_numpy(float)
        badh = np.flatnonzero(~np.isfinite(hours) | (hours < 0) | (hours != np.round(hours)))
        if len(badh):
            raise GridError(f"{path}: row {rows[badh[0]]}: hour {df['hour'].iloc[badh[0]]!r} "
                            "is not a whole number >= 0")
        times = pd.Series(hours.astype(np.int64))
    else:
        times = pd.to_datetime(df["time"], errors="coerce")
        badt = np.flatnonzero(times.isna().to_numpy())
        if len(badt):
            raise GridError(f"{path}: row {rows[badt[0]]}: time {df['time'].iloc[badt[0]]!r} is "
                            "not a date and time; write ISO 8601, e.g. 2025-01-06T18:00")
    keys = df[key[0]].astype(str).str.strip()
    if key[0] == "class":
        keys = keys.str.lower()
    table = pd.DataFrame({"time": times.to_numpy(), "key": keys.to_numpy(),
                          "value": values, "row": rows})
    dup = table.duplicated(["time", "key"]).to_numpy()
    if dup.any():
        k = int(np.flatnonzero(dup)[0])
        raise GridError(f"{path}: row {rows[k]}: a second row for {key[0]} {keys.iloc[k]!r} at "
                        f"{df[time_col].iloc[k]}; give one row per time and {key[0]}")
    return FileProfile(str(path), key[0], value[0], table)


def distinct_demand(profile: Profile, grid: Grid,
                    times: pd.DatetimeIndex) -> tuple[Demand, np.ndarray]:
    """Demand of the distinct hours of ``times``, and which of them every hour is.

    Many hours share one load pattern (a typical profile has at most 96: two seasons,
    two day types, 24 hours); a caller that assesses each pattern once keeps one of each.

    Returns
    -------
    demand : Demand
        One hour per distinct pattern, in order of first appearance (its times are those
        first hours).
    index : ndarray of int, shape (H,)
        The pattern of every hour of ``times``.

    Examples
    --------
    >>> from gridres.io import load_grid
    >>> d, index = distinct_demand(TypicalProfile(), load_grid("ieee14"),
    ...                            hourly_times("2025-01-06", 24 * 14))
    >>> d.hours, index[:3].tolist(), bool(index[24 * 7] == index[0])
    (48, [0, 1, 2], True)
    """
    if isinstance(profile, FlatProfile):
        return profile.demand(grid, times[:1]), np.zeros(len(times), dtype=np.int64)
    if isinstance(profile, TypicalProfile):
        factors = profile.factors(times)
        rows, index = _distinct_rows(factors)
        peak = np.column_stack([typical_day(c, "winter", "weekday") for c in LOAD_CLASSES])
        return _class_demand(grid, times[rows], factors[rows], profile.name, peak), index
    full = profile.demand(grid, times)
    rows, index = _distinct_rows(np.hstack([full.bus_mw, full.critical_mw]))
    return Demand(times[rows], full.bus_mw[rows], full.critical_mw[rows], full.fixed_mw,
                  full.profile), index


def _distinct_rows(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first row of each distinct row of ``values`` (in order of appearance), and the
    rank of every row's pattern among them."""
    _, first, inverse = np.unique(values, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return first[order], rank[np.asarray(inverse).reshape(-1)].astype(np.int64)


def get_profile(spec: str | Profile | None) -> Profile:
    """A profile from a built-in name (:data:`PROFILE_NAMES`), a file path, an existing
    profile, or None (the static load).

    Examples
    --------
    >>> get_profile("summer").name, get_profile(None).name
    ('summer', 'flat')
    """
    if spec is None:
        return FlatProfile()
    if not isinstance(spec, str):
        return spec
    name = spec.strip().lower()
    if name == "flat":
        return FlatProfile()
    if name == "typical":
        return TypicalProfile()
    if name in _SEASONS:
        return TypicalProfile(season=name)
    season, _, day = name.partition("-")
    if season in _SEASONS and day in _DAYS:
        return TypicalProfile(season=season, day=day)
    if Path(spec).suffix.lower() in (".csv", ".parquet") or Path(spec).exists():
        return read_profile(spec)
    close = difflib.get_close_matches(name, PROFILE_NAMES, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise UsageError(f"profile {spec!r} is neither a built-in profile ({', '.join(PROFILE_NAMES)}) "
                     f"nor a .csv or .parquet file{hint}")
