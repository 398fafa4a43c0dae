"""Restoration: crews, repair times, spare stock, and policies compared.

After the damage, in what order should the grid be repaired, and how fast does power
come back? :func:`simulate` plays a scenario's waves of failures forward in hours with a
number of crews (depots, straight-line travel × road factor at a speed), repair hours per
kind of equipment (per-asset overrides, optional lognormal uncertainty), spare stock with
lead times, and a policy that picks each crew's next job. After every failure and repair
the grid is re-assessed by the engine with the run's cascade mode and margin (islands
reconnect, generators return, load is picked up, overloads trip or are relieved, a dark
island restarts only from a black-start unit or an energised neighbour); critical
facilities burn their backup while dark. It returns a
:class:`RestorationResult`: the restoration curve, the crew schedule, per-facility hours
dark and the metrics of :data:`METRICS`. :func:`restore` and :func:`compare` take an
outage as element tokens, a state or a scenario.

Modules: ``settings`` (every parameter and its default, validated), ``assets``
(per-element kinds, repair hours, locations), ``supply`` (what the engine supplies in a
state, and when the flow can be skipped exactly),
``interface`` (what a policy sees), ``simulate`` (the event simulation), ``chosen``
(waves an adaptive attacker picks during the run), ``policies``
(the built-in policies), ``critical`` (the cheapest repairs that bring a facility back),
``optimal`` (the MILP policy, small cases), ``metrics`` (pure metric functions, paired
differences across policies), ``customers`` (outages per customer: longest outage,
Jain's index), ``demand`` (demand and capacity by the hour: :func:`timeline`),
``rotation`` (sharing a deficit by rotating groups), ``evaluator`` (one outage, or every
scenario of an ensemble).

Examples
--------
>>> import pandas as pd
>>> from gridres.model import Grid
>>> g = Grid(buses=pd.DataFrame({"id": ["s", "a"], "ref": [True, False],
...                              "load_mw": [0.0, 10.0]}),
...          branches=pd.DataFrame({"id": ["l1"], "from_bus": ["s"], "to_bus": ["a"],
...                                 "x_pu": [0.1], "length_km": [10.0]}),
...          generators=pd.DataFrame({"id": ["g"], "bus": ["s"], "pmax_mw": [50.0]}))
>>> res = compare(g, ["branch:l1"], ["greedy", "as-listed"], RestorationSettings(crews=1))
>>> {p: r.metrics["ens_mwh"] for p, r in res.items()}
{'greedy': 60.0, 'as-listed': 60.0}
"""

from gridres.restoration.assets import prepare
from gridres.restoration.demand import DemandSettings, Timeline, timeline
from gridres.restoration.evaluator import RestorationEvaluator, compare, restore
from gridres.restoration.interface import Decision, PolicyContext, RestorationResult
from gridres.restoration.metrics import METRICS, compare_policies, paired_difference
from gridres.restoration.policies import (
    POLICIES,
    PriorityList,
    get_policy,
    policy_names,
    read_priority_file,
)
from gridres.restoration.rotation import RotationSettings
from gridres.restoration.settings import RestorationSettings
from gridres.restoration.simulate import simulate

__all__ = [
    "METRICS",
    "POLICIES",
    "Decision",
    "DemandSettings",
    "PolicyContext",
    "PriorityList",
    "RestorationEvaluator",
    "RestorationResult",
    "RestorationSettings",
    "RotationSettings",
    "Timeline",
    "compare",
    "compare_policies",
    "get_policy",
    "paired_difference",
    "policy_names",
    "prepare",
    "read_priority_file",
    "restore",
    "simulate",
    "timeline",
]
