"""What interventions cost: a table of unit costs with documented defaults.

Every intervention has a cost in one currency unit; the budget of a plan is in the same
unit. The defaults below are in **million EUR** and are indicative screening values, of
the order of the unit costs that European network operators and regulators publish for
network development plans and that equipment vendors quote; they are meant to rank
options, not to price a project. A study overrides any of them in ``[plan] costs``
(same unit as its budget), and a candidate's own ``cost = ...`` wins over everything.

Unit costs (key, default, unit, what it covers)
----------------------------------------------
``line_per_km``         1.0   MEUR/km   new overhead line up to 150 kV (110 kV typical)
``line_per_km_ehv``     2.0   MEUR/km   new overhead line at 220 kV and above
``line_bays``           1.0   MEUR      two line bays (breakers, disconnectors, protection)
``backup_per_mw``       0.5   MEUR/MW   stationary diesel set with switchgear, installed
``backup_per_mwh``      0.005 MEUR/MWh  fuel storage for the autonomy (tank and first fill)
``storage_per_mwh``     0.4   MEUR/MWh  battery storage with inverter
``generator_per_mw``    0.9   MEUR/MW   black-start capable gas engine or turbine at a bus
``microgrid_fixed``     0.5   MEUR      islanding switchgear and controls of one microgrid
``microgrid_per_mw``    1.2   MEUR/MW   local generation of a microgrid
``harden_substation``   2.0   MEUR      flood walls, reinforced buildings, raised equipment
``protect_substation``  3.5   MEUR      a whole substation: the above plus its transformers
                                        and generator connections
``harden_line_per_km``  0.15  MEUR/km   stronger towers, shorter spans, vegetation clearing
``harden_transformer``  0.3   MEUR      bunding, fire walls, raised plinth
``harden_generator``    0.5   MEUR      protection of a generating unit
``immune_factor``       2.0   x         cost multiplier for making an asset immune instead
                                        of shifting its fragility curve
``spare_transformer``   1.5   MEUR      one spare power transformer (HV/MV, 40-100 MVA)
``spare_bus``           2.5   MEUR      one mobile substation (stands in for a bus bar/bay)
``spare_line``          0.3   MEUR      one set of emergency restoration towers
``spare_generator``     1.0   MEUR      one spare generating unit part set
``crew_per_year``       0.6   MEUR/yr   one repair crew (five line workers, vehicles, tools)
``crew_years``          10    years     years a new crew is paid for in a plan
``faster_repair``       0.5   MEUR      pre-positioned equipment and contracts that make
                                        one kind of repair faster (per halving of its hours)
``fuel_tanker``         0.5   MEUR      one road tanker (30 m³) with standby drivers for
                                        ``crew_years`` years, dispatched in emergencies
``mobile_generator_per_mw`` 0.35 MEUR/MW a trailer-mounted diesel generator with cables
                                        and connection kit, kept ready at a depot
``reservoir_per_person_h`` 3e-6 MEUR    drinking-water storage per person served and hour
                                        of supply: 150 l per person and day (6.25 l/h) at
                                        about 500 EUR/m³ of tank built

A key that names an intervention kind (``line``, ``backup``, ``tank``, ``generator``,
``storage``, ``microgrid``, ``harden``, ``protect``, ``spares``, ``crews``, ``repair``,
``fuel_truck``, ``mobile_generator``, ``reservoir``) sets a flat cost
for every candidate of that kind, as ``grids/studies/hardening.toml`` does.

Examples
--------
>>> table = cost_table({"line_per_km": 0.8})
>>> table["line_per_km"], table["line_bays"]
(0.8, 1.0)
>>> cost_table({"lines_per_km": 1.0})
Traceback (most recent call last):
...
gridres.errors.UsageError: unknown cost key 'lines_per_km' (did you mean 'line_per_km'?); keys: line_per_km, line_per_km_ehv, line_bays, backup_per_mw, backup_per_mwh, storage_per_mwh, generator_per_mw, microgrid_fixed, microgrid_per_mw, harden_substation, protect_substation, harden_line_per_km, harden_transformer, harden_generator, immune_factor, spare_transformer, spare_bus, spare_line, spare_generator, crew_per_year, crew_years, faster_repair, fuel_tanker, mobile_generator_per_mw, reservoir_per_person_h, or a kind: line, backup, tank, generator, storage, microgrid, harden, protect, spares, crews, repair, fuel_truck, mobile_generator, reservoir
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from gridres.errors import UsageError

__all__ = ["DEFAULT_COSTS", "KINDS", "CURRENCY", "cost_table"]

#: Unit the defaults are in.
CURRENCY = "million EUR"

#: Intervention kinds (each may be given a flat cost in the table).
KINDS = ("line", "backup", "tank", "generator", "storage", "microgrid", "harden", "protect",
         "spares", "crews", "repair", "fuel_truck", "mobile_generator", "reservoir")

#: Default unit costs (million EUR); see the module notes for what each covers.
DEFAULT_COSTS: Mapping[str, float] = MappingProxyType({
    "line_per_km": 1.0,
    "line_per_km_ehv": 2.0,
    "line_bays": 1.0,
    "backup_per_mw": 0.5,
    "backup_per_mwh": 0.005,
    "storage_per_mwh": 0.4,
    "generator_per_mw": 0.9,
    "microgrid_fixed": 0.5,
    "microgrid_per_mw": 1.2,
    "harden_substation": 2.0,
    "protect_substation": 3.5,
    "harden_line_per_km": 0.15,
    "harden_transformer": 0.3,
    "harden_generator": 0.5,
    "immune_factor": 2.0,
    "spare_transformer": 1.5,
    "spare_bus": 2.5,
    "spare_line": 0.3,
    "spare_generator": 1.0,
    "crew_per_year": 0.6,
    "crew_years": 10.0,
    "faster_repair": 0.5,
    "fuel_tanker": 0.5,
    "mobile_generator_per_mw": 0.35,
    "reservoir_per_person_h": 3e-6,
})


def cost_table(overrides: Mapping[str, Any] | None = None) -> Mapping[str, float]:
    """The default unit costs with a study's overrides.

    Parameters
    ----------
    overrides : mapping, optional
        Unit-cost keys of :data:`DEFAULT_COSTS` or intervention kinds of :data:`KINDS`
        (a flat cost per candidate of that kind), each a finite number ``>= 0``.

    Returns
    -------
    mapping of str to float
        Read-only.

    Raises
    ------
    UsageError
        On an unknown key or a value that is not a finite number ``>= 0``.
    """
    table = dict(DEFAULT_COSTS)
    for key, value in dict(overrides or {}).items():
        if key not in table and key not in KINDS:
            known = list(DEFAULT_COSTS) + list(KINDS)
            close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UsageError(
                f"unknown cost key {key!r}{hint}; keys: {', '.join(DEFAULT_COSTS)}, or a "
                f"kind: {', '.join(KINDS)}"
            )
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or not math.isfinite(float(value)) or float(value) < 0:
            raise UsageError(f"cost {key!r} must be a finite number >= 0, got {value!r}")
        table[key] = float(value)
    return MappingProxyType(table)
