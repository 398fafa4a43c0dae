"""Restoration: crews, repair times, spare stock, and policies compared.

After the damage, in what order should the grid be repaired, and how fast does power
come back? :func:`simulate` plays a scenario's waves of failures forward with a number
of crews, repair hours per kind of equipment, spare stock with lead times and a policy
that picks each crew's next job; it returns the restoration curve, the crew schedule and
metrics (energy not served, customer-hours, facility hours dark, time to restore 50, 90
and 100 %). :class:`RestorationEvaluator` does the same for every policy inside an
ensemble, on the same scenarios; :func:`paired_difference` and :func:`compare_policies`
compare policies over the ensemble's records.

Examples
--------
>>> from gridres.restoration import RestorationSettings, prepare, simulate, compare
"""

from gridres.restoration.assets import Assets, prepare
from gridres.restoration.evaluator import RestorationEvaluator, compare
from gridres.restoration.metrics import (
    FIELDS,
    PairedDifference,
    compare_policies,
    energy_not_served,
    facility_timeline,
    paired_difference,
    restoration_times,
)
from gridres.restoration.policies import (
    POLICIES,
    PriorityList,
    get_policy,
    policy_names,
    read_priority_file,
)
from gridres.restoration.settings import RestorationSettings
from gridres.restoration.simulate import Decision, RestorationResult, Snapshot, simulate
from gridres.restoration.supply import Supply, supply

__all__ = [
    "Assets",
    "Decision",
    "FIELDS",
    "POLICIES",
    "PairedDifference",
    "PriorityList",
    "RestorationEvaluator",
    "RestorationResult",
    "RestorationSettings",
    "Snapshot",
    "Supply",
    "compare",
    "compare_policies",
    "energy_not_served",
    "facility_timeline",
    "get_policy",
    "paired_difference",
    "policy_names",
    "prepare",
    "read_priority_file",
    "restoration_times",
    "simulate",
    "supply",
]
