"""Restoration: crews, repair times, spare stock, and policies compared.

After the damage, in what order should the grid be repaired, and how fast does power
come back? :func:`simulate` plays a scenario's waves of failures forward in hours with a
number of crews (depots, straight-line travel × road factor at a speed), repair hours per
kind of equipment (per-asset overrides, optional lognormal uncertainty), spare stock with
lead times, and a policy that picks each crew's next job. After every repair the grid is
re-assessed with the engine's rules (islands reconnect, generators return, load is picked
up); critical facilities burn their backup while dark. It returns a
:class:`RestorationResult`: the restoration curve, the crew schedule, per-facility hours
dark and the metrics of :mod:`.metrics` (energy not served against the pre-event load,
customer-hours, facility hours dark, people-hours, time to restore 50/90/100 %, waves the
spare stock lasted).

Modules: :mod:`.settings` (every parameter and its default, validated), :mod:`.assets`
(per-element kinds, repair hours, locations), :mod:`.supply` (served load of a state),
:mod:`.simulate` (the event simulation and the policy interface), :mod:`.policies`
(``as-listed``, ``largest-load-first``, ``critical-first``, ``greedy``, ``nearest``,
``priority-list``), :mod:`.critical` (the cheapest repairs that bring a facility back),
:mod:`.optimal` (the MILP policy, small cases), :mod:`.metrics` (pure metric functions,
paired differences across policies), :mod:`.evaluator` (:func:`compare` for one
scenario, :class:`RestorationEvaluator` for ensembles).

Critical facilities first: ``critical-first`` judges every decision on the current
damage. Each facility that had grid power before the event and lacks it now needs the
cheapest set of repairs, in repair hours, that reconnects its bus to generation
(:func:`repair_sets`; a job under way counts with the hours it has left, a pending job
with its repair hours plus any wait for a spare). A crew goes to a repair in the set of
the most critical such facility: kind (``facility_priority``: hospital, emergency,
water, telecom, heating, shelter), then least backup left, then most people, then the
smallest set; repairs in no facility's set follow ``greedy``. With meshed damage, where
no single failed element cuts a facility off, the set still names its repairs.

Command line: ``gridres restore GRID --fail branch:L7 --fail bus:B3 --crews 3 --policy
greedy --policy critical-first [--json] [--out DIR]`` or ``--scenario SPEC --seed S``
(the same draw as scenario 0 of an ensemble with that seed).

Performance (``benchmarks/bench_restoration.py``, shared 2-core machine): ``greedy``
restoration of 50 damaged elements (``random:k=50,elements=mixed``) with 4 crews on
case_ACTIVSg2000 takes 0.09 s (median of 20, max 0.11 s; 0.33 s in an earlier
measurement on a busier machine); an ensemble of 1,000 such scenarios on 2 workers 128 s.
``critical-first`` adds one repair-set search per decision (islands, balance and a
Dijkstra over the failed elements): with 200 facilities placed on that grid, 0.13 s
against greedy's 0.10 s on the same 20 scenarios.

Examples
--------
>>> import pandas as pd
>>> from gridres.model import Grid
>>> from gridres.scenarios.base import Scenario
>>> g = Grid(buses=pd.DataFrame({"id": ["s", "a"], "ref": [True, False],
...                              "load_mw": [0.0, 10.0]}),
...          branches=pd.DataFrame({"id": ["l1"], "from_bus": ["s"], "to_bus": ["a"],
...                                 "x_pu": [0.1], "length_km": [10.0]}),
...          generators=pd.DataFrame({"id": ["g"], "bus": ["s"], "pmax_mw": [50.0]}))
>>> res = compare(g, Scenario.single(branches=[0]), ["greedy", "as-listed"],
...               RestorationSettings(crews=1))
>>> {p: r.metrics["ens_mwh"] for p, r in res.items()}
{'greedy': 60.0, 'as-listed': 60.0}
"""

from gridres.restoration.assets import Assets, prepare
from gridres.restoration.critical import RepairSets, repair_sets
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
    "RepairSets",
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
    "repair_sets",
    "restoration_times",
    "simulate",
    "supply",
]
