"""Power deficit over time: demand profiles, capacity per hour, and rotation schedules.

After strikes on generation and transmission a grid can have less capacity than demand
for weeks; operators then ration by rotating planned outages between groups of
customers. This package answers: with this demand over the day and this capacity, which
groups are off in which hour, so that capacity is never exceeded, protected facilities
stay on while supply allows, off periods come in whole blocks, everyone's hours off are
as equal as possible and as little load as possible is switched off?

Modules: :mod:`.profiles` (load classes, typical daily shapes, profile files:
:class:`Demand` per bus and hour), :mod:`.capacity` (capacity per island and hour from
the engine, derating, tie imports, a system figure), :mod:`.groups` (groups of similar
load, compact on the map, protected groups), :mod:`.rotation` (the rotation problem: a
MILP with HiGHS and a heuristic with its LP bound), :mod:`.schedule` (:func:`schedule`:
the pieces joined and every hour checked with the engine's DC flow), :mod:`.metrics`
(hours off, longest outage, switching operations, Jain's index).

Other capabilities call the pieces: a profile gives demand per bus and hour
(``profile.demand(grid, times)``), :func:`solve_rotation` takes loads and needs per hour
and returns which groups are off.

Command line: ``gridres schedule GRID --capacity-share 0.7 --hours 168 --groups 12
--block-h 4 --profile typical [--fail KIND:ID ...] [--json] [--out DIR]``.
"""

from gridres.deficit.capacity import Capacity, available_capacity, read_capacity_file
from gridres.deficit.groups import Groups, form_groups, read_groups
from gridres.deficit.metrics import (
    fairness,
    hours_off,
    jain_index,
    longest_off_h,
    switching_operations,
)
from gridres.deficit.profiles import (
    LOAD_CLASSES,
    PROFILE_NAMES,
    Demand,
    FileProfile,
    FlatProfile,
    Profile,
    TemperatureSensitivity,
    TypicalProfile,
    class_shares,
    get_profile,
    hourly_times,
    read_profile,
    typical_day,
)
from gridres.deficit.rotation import Rotation, RotationProblem, solve_rotation
from gridres.deficit.schedule import DEFAULT_START, NOTHING_TO_SCHEDULE, Schedule, schedule

__all__ = [
    "Capacity",
    "available_capacity",
    "read_capacity_file",
    "Groups",
    "form_groups",
    "read_groups",
    "fairness",
    "hours_off",
    "jain_index",
    "longest_off_h",
    "switching_operations",
    "LOAD_CLASSES",
    "PROFILE_NAMES",
    "Demand",
    "FileProfile",
    "FlatProfile",
    "Profile",
    "TemperatureSensitivity",
    "TypicalProfile",
    "class_shares",
    "get_profile",
    "hourly_times",
    "read_profile",
    "typical_day",
    "Rotation",
    "RotationProblem",
    "solve_rotation",
    "DEFAULT_START",
    "NOTHING_TO_SCHEDULE",
    "Schedule",
    "schedule",
]
