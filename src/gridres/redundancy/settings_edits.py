"""Restoration interventions: each returns new
:class:`~gridres.restoration.RestorationSettings` (more spares, more crews, faster repairs,
more fuel trucks, another mobile generator).
"""

from __future__ import annotations

import logging
from typing import Any

from gridres.errors import UsageError
from gridres.restoration.settings import EQUIPMENT_KINDS, RestorationSettings

__all__ = ["REPAIR_FIELDS", "add_spares", "add_crews", "faster_repair", "add_fuel_trucks",
           "add_mobile_generator"]

logger = logging.getLogger(__name__)


def _kind(kind: str) -> str:
    if kind not in EQUIPMENT_KINDS:
        raise UsageError(f"unknown equipment kind {kind!r}; use one of "
                         f"{', '.join(EQUIPMENT_KINDS)}")
    return kind


def add_spares(settings: RestorationSettings, kind: str = "transformer",
               count: int = 1) -> RestorationSettings:
    """``count`` more spares of ``kind`` in stock.

    Raises
    ------
    UsageError
        If ``kind`` needs no spare in these settings (extra stock would change nothing).

    Examples
    --------
    >>> add_spares(RestorationSettings(), "transformer", 2).spare_stock["transformer"]
    4
    """
    _kind(kind)
    if kind not in settings.needs_spare:
        raise UsageError(f"{kind} repairs need no spare in these settings (needs_spare: "
                         f"{', '.join(settings.needs_spare)}); extra {kind} spares change "
                         "nothing")
    if not (isinstance(count, int) and not isinstance(count, bool) and count >= 1):
        raise UsageError(f"spares: count must be an int >= 1, got {count!r}")
    stock = dict(settings.spare_stock)
    stock[kind] = int(stock.get(kind, 0)) + count
    return settings.replace(spare_stock=stock)


def add_crews(settings: RestorationSettings, count: int = 1) -> RestorationSettings:
    """``count`` more repair crews.

    Examples
    --------
    >>> add_crews(RestorationSettings(crews=3)).crews
    4
    """
    if not (isinstance(count, int) and not isinstance(count, bool) and count >= 1):
        raise UsageError(f"crews: count must be an int >= 1, got {count!r}")
    return settings.replace(crews=settings.crews + count)


#: Settings that set the repair hours of each equipment kind.
REPAIR_FIELDS = {"line": ("line_fixed_h", "line_h_per_km"), "transformer": ("transformer_h",),
                 "bus": ("bus_h",), "generator": ("generator_h",)}


def faster_repair(settings: RestorationSettings, kind: str,
                  factor: float = 0.5) -> RestorationSettings:
    """Repairs of ``kind`` take ``factor`` times their hours (per-asset overrides too).

    Examples
    --------
    >>> faster_repair(RestorationSettings(), "transformer", 0.5).transformer_h
    36.0
    """
    _kind(kind)
    if not (isinstance(factor, int | float) and 0 < factor < 1):
        raise UsageError(f"repair: factor must be a number in (0, 1), got {factor!r}")
    changes: dict[str, Any] = {f: getattr(settings, f) * factor for f in REPAIR_FIELDS[kind]}
    return settings.replace(**changes)


def add_fuel_trucks(settings: RestorationSettings, count: int = 1) -> RestorationSettings:
    """``count`` more fuel trucks (based at the fuel depots in turn).

    Examples
    --------
    >>> add_fuel_trucks(RestorationSettings(fuel_trucks=1)).fuel_trucks
    2
    """
    if not (isinstance(count, int) and not isinstance(count, bool) and count >= 1):
        raise UsageError(f"fuel_truck: count must be an int >= 1, got {count!r}")
    return settings.replace(fuel_trucks=settings.fuel_trucks + count)


def add_mobile_generator(settings: RestorationSettings, mw: float,
                         depot: Any = "") -> RestorationSettings:
    """One more mobile generator of ``mw`` at ``depot`` (a bus id, ``(x, y)``, or ``""``
    for the crews' first depot).

    Examples
    --------
    >>> add_mobile_generator(RestorationSettings(), 2.0, "B1").mobile_generators
    ((2.0, 'B1'),)
    """
    return settings.replace(mobile_generators=(*settings.mobile_generators, (mw, depot)))
