"""Numerical tolerances, in one place.

Every comparison that must ignore floating-point noise uses one of these constants, so
that the engine, its fast paths and the restoration simulator draw the same lines: an
island with no more capacity than :data:`ZERO_MW` is dark everywhere, a flow overloads a
branch by more than :data:`OVERLOAD_MW` everywhere. Absolute values are in the unit their
name carries; relative ones are fractions.
"""

from __future__ import annotations

__all__ = [
    "ZERO_MW",
    "OVERLOAD_MW",
    "BACKUP_MW",
    "REL_BALANCE",
    "REL_SLACK",
    "SHED_FRACTION",
    "LP_SHED_FRACTION",
    "SAME_TIME_H",
]

#: Power at or below which capacity, a gain or a load counts as none (MW).
ZERO_MW = 1e-9

#: Flow above a branch's limit, in MW, before the branch counts as overloaded.
OVERLOAD_MW = 1e-9

#: Backup that falls short of a facility's demand by no more than this still covers it (MW).
BACKUP_MW = 1e-9

#: Shortfall or surplus below this fraction of an island's demand (or capacity) is rounding.
REL_BALANCE = 1e-9

#: How far, as a fraction of the island's capacity, the reference bus's output may leave
#: ``[0, capacity]`` before the island is re-dispatched.
REL_SLACK = 1e-6

#: Shed fraction of a facility's critical load up to which the grid still serves it.
SHED_FRACTION = 1e-12

#: The same for a shed that a linear programme chose (solver tolerance is coarser).
LP_SHED_FRACTION = 1e-9

#: Events less than this many hours apart happen at the same instant.
SAME_TIME_H = 1e-9
