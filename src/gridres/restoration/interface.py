"""What a restoration policy sees and what a run returns: the types at the edge of the
event loop of :func:`~gridres.restoration.simulate.simulate`.

* :data:`Policy`: a callable that picks a free crew's next job from a :class:`Decision`.
* :class:`Decision`: the free crew, the jobs waiting for a crew and what each would cost
  it, with lazily computed aids (MW gained, load depending on an element, facility
  ranks).
* :class:`PolicyContext`: what a policy may ask the simulation beyond one decision
  (gains, dependencies, the whole state as a :class:`Snapshot`, promises of spares, a
  read-only view of the jobs); the simulator implements it, policies only call it.
* :class:`RestorationResult`: the curve, schedule, facility hours and metrics of a run.
"""

from __future__ import annotations

import logging
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from gridres.model import Network, State

__all__ = ["Decision", "JobView", "PolicyContext", "Snapshot", "RestorationResult", "Policy",
           "PENDING", "ASSIGNED", "REPAIRING", "DONE"]

logger = logging.getLogger(__name__)

#: A policy: given a :class:`Decision`, the position in ``decision.candidates`` of the
#: job to send the crew to, or ``None`` to leave the crew idle until the next event.
Policy = Callable[["Decision"], "int | None"]

#: Job status in :attr:`JobView.status`.
PENDING, ASSIGNED, REPAIRING, DONE = "pending", "assigned", "repairing", "done"


@dataclass(frozen=True, eq=False)
class Snapshot:
    """The simulation's state at a decision, for planning policies.

    Attributes
    ----------
    time_h : float
    pending : ndarray of int
        Jobs waiting for a crew.
    active : ndarray of int
        Jobs a crew is travelling to, waiting at or repairing.
    active_end_h : ndarray of float
        Expected end of each active job (with the expected repair hours).
    crew_ready_h : ndarray of float, shape (crews,)
        When each crew is free (its active job's expected end, else now).
    crew_xy : ndarray, shape (crews, 2)
        Where each crew is free (its active job's site, else where it is).
    spare_items : dict of str to list of float
        Per kind, arrival times of spares not yet used (sorted), of which the first
        ``spare_held[kind]`` are promised to active jobs.
    spare_held : dict of str to int
    alive : State
        What is alive now (failed elements not yet repaired are dead).
    """

    time_h: float
    pending: np.ndarray
    active: np.ndarray
    active_end_h: np.ndarray
    crew_ready_h: np.ndarray
    crew_xy: np.ndarray
    spare_items: dict
    spare_held: dict
    alive: State


class JobView:
    """A read-only view of one repair job (it follows the job as the run goes on).

    Attributes
    ----------
    id : int
        Position in :attr:`PolicyContext.jobs`.
    element : str
        ``KIND:ID`` token of the failed element.
    kind : str
        Kind of equipment (``line``, ``transformer``, ``bus``, ``generator``).
    etype, position : int
        Element type (0 bus, 1 branch, 2 generator) and its position in the network.
    wave : int
    fail_h, expected_h : float
        When it failed; expected repair hours.
    xy : ndarray, shape (2,)
        Site (NaN without coordinates).
    needs_spare : bool
    status : str
        ``"pending"``, ``"assigned"``, ``"repairing"`` or ``"done"``.
    """

    __slots__ = ("_job",)

    def __init__(self, job: Any) -> None:
        self._job = job

    id = property(lambda self: self._job.id)
    element = property(lambda self: self._job.token)
    kind = property(lambda self: self._job.kind)
    etype = property(lambda self: self._job.etype)
    position = property(lambda self: self._job.pos)
    wave = property(lambda self: self._job.wave)
    fail_h = property(lambda self: self._job.fail_h)
    expected_h = property(lambda self: self._job.expected_h)
    xy = property(lambda self: self._job.xy.copy())
    needs_spare = property(lambda self: self._job.spare)
    status = property(lambda self: self._job.status)

    def __repr__(self) -> str:
        return f"JobView({self.id}, {self.element!r}, {self.status})"


class PolicyContext(ABC):
    """What a policy may ask the simulation beyond its :class:`Decision`.

    The simulator passes one context per run (``decision.context``); every method
    answers for the current state and time. Policies read it and never change the run,
    except through :meth:`reserve` (promising spares in a planned order) and
    :meth:`note`.

    Attributes
    ----------
    net : Network
    assets : Assets
        Kinds, repair hours, sites and travel of the run's elements, with its settings.
    jobs : sequence of JobView
        Every job of the run so far, by id.
    base_mw : float
        Load served before the event (the reference of energy not served).
    open_jobs : int
        Jobs not yet repaired (waiting or under way).
    waves_seen : int
        Waves of failures so far.
    memo : dict
        A dictionary that lives for the run (for policies that plan).
    """

    net: Network
    assets: Any
    jobs: Sequence[JobView]
    base_mw: float
    open_jobs: int
    waves_seen: int
    memo: dict

    @abstractmethod
    def gains(self, candidates: np.ndarray, hours: np.ndarray) -> np.ndarray:
        """MW each candidate job would reconnect if repaired now (see
        :attr:`Decision.gain_mw`), ``hours`` the crew-hours of each."""

    @abstractmethod
    def dependency(self, job: int) -> tuple[float, np.ndarray]:
        """MW lost, and facilities that lose grid power, if the job's element alone were
        out (everything else intact)."""

    @abstractmethod
    def served_mw(self, alive: State) -> float:
        """Load the engine would serve if ``alive`` were assessed now: the run's cascade
        mode and margin, from the buses energised now (the black-start rule)."""

    @abstractmethod
    def facility_keys(self) -> dict[int, tuple[float, float, float, float]]:
        """Per pending job id, the key of the most critical facility whose cheapest repair
        set holds it (see :attr:`Decision.facility_rank`)."""

    @abstractmethod
    def snapshot(self) -> Snapshot:
        """The whole simulation state now."""

    @abstractmethod
    def reserve(self, keys: dict[int, tuple]) -> None:
        """Promise spares to pending jobs in the order of ``keys`` (replacing earlier
        promises to pending jobs); jobs a crew is on keep theirs."""

    @abstractmethod
    def note(self, message: str) -> None:
        """Add a note to the result (once per distinct message)."""


@dataclass(frozen=True, eq=False)
class Decision:
    """What a policy sees when a crew is free. Arrays are aligned with ``candidates``.

    Attributes
    ----------
    time_h : float
        Now.
    crew : int
        The free crew.
    candidates : ndarray of int
        Job ids waiting for a crew (in order of listing: wave, then buses, branches,
        generators in grid order).
    travel_h : ndarray
        Travel hours from the crew to each job.
    wait_h : ndarray
        Hours the crew would wait on site for a spare if sent now (0 without a spare).
    repair_h : ndarray
        Expected repair hours (the realised hours, with uncertainty, are not known to
        policies).
    """

    time_h: float
    crew: int
    candidates: np.ndarray
    travel_h: np.ndarray
    wait_h: np.ndarray
    repair_h: np.ndarray
    context: PolicyContext = field(repr=False)

    @property
    def crew_hours(self) -> np.ndarray:
        """Hours the crew spends on each job if sent now: travel, wait and repair."""
        return self.travel_h + self.wait_h + self.repair_h

    @property
    def elements(self) -> list[str]:
        """Element tokens (``branch:ID``) of the candidates."""
        jobs = self.context.jobs
        return [jobs[j].element for j in self.candidates]

    @property
    def kinds(self) -> list[str]:
        jobs = self.context.jobs
        return [jobs[j].kind for j in self.candidates]

    @property
    def memo(self) -> dict:
        """A dictionary that lives for one simulation (for policies that plan)."""
        return self.context.memo

    @property
    def settings(self):
        return self.context.assets.settings

    @cached_property
    def gain_mw(self) -> np.ndarray:
        """MW each candidate would reconnect if repaired now, on top of the current
        state with every job already under way counted as done (so that two crews do
        not chase the same load). Exact for up to ``greedy_max_candidates``
        candidates with a positive bound, 0 for the rest."""
        return self.context.gains(self.candidates, self.crew_hours)

    @cached_property
    def dependent_mw(self) -> np.ndarray:
        """MW lost if this element alone were out (everything else intact): the load
        that depends on it. Per element, computed once per run."""
        return np.array([self.context.dependency(int(j))[0] for j in self.candidates])

    @cached_property
    def facility_rank(self) -> np.ndarray:
        """Per candidate, the sort key of the most critical facility the repair helps
        bring back: an array of shape (k, 4) with columns ``rank`` (the facility kind's
        rank, ``facility_priority``), ``backup_left_h``, ``-people`` and
        ``set_hours``; lower sorts first, rank ``inf`` where the repair helps no
        facility.

        A repair helps a facility that had grid power before the event and lacks it now
        (on backup or dark) when it is in the facility's cheapest repair set
        (:func:`~gridres.restoration.critical.repair_sets`), judged on the current
        state. A pending job costs its expected repair hours plus the wait for its spare
        if sent now, a job under way the hours it is expected to need still (a set may
        hold jobs under way; they take no crew); ``set_hours`` is the set's total.
        Computed once per state, time and set of jobs under way."""
        keys = self.context.facility_keys()
        none = (math.inf, math.inf, 0.0, math.inf)
        return np.array([keys.get(int(j), none) for j in self.candidates], dtype=float
                        ).reshape(len(self.candidates), 4)

    def snapshot(self) -> Snapshot:
        """The whole simulation state, for planning policies."""
        return self.context.snapshot()

    def note(self, message: str) -> None:
        """Add a note to the result (once per distinct message)."""
        self.context.note(message)


@dataclass(frozen=True, eq=False)
class RestorationResult:
    """Outcome of one restoration run.

    Attributes
    ----------
    policy : str
    curve : pandas.DataFrame
        Step function, one row per change: ``time_h`` (from this time until the next
        row), ``served_mw``, ``lost_mw`` (pre-event served load not served),
        ``customers_out``, ``facilities_dark``, ``facilities_on_backup``,
        ``facilities_on_mobile``.
    schedule : pandas.DataFrame
        One row per job: ``crew`` (-1 if never started), ``element`` (``KIND:ID``),
        ``kind``, ``wave``, ``fail_h``, ``travel_start_h``, ``arrive_h``, ``start_h``,
        ``end_h``, ``repair_h`` (realised), ``waited_for_spare_h``, ``spare``
        (``""``, ``"stock"``: on hand at the failure, ``"ordered"``: arrived after it),
        ``spare_arrival_h``, ``restarts``.
    facilities : pandas.DataFrame
        Per facility (index id): ``kind``, ``people``, ``hours_dark``,
        ``hours_on_backup``, ``hours_on_mobile``, ``people_hours``.
    metrics : dict
        See :func:`gridres.restoration.metrics.summarize_run`.
    notes : tuple of str
        What the run could not do as asked (e.g. ``optimal`` falling back).
    services : RunServices or None
        People without power and each service over time, per town
        (:mod:`gridres.restoration.service_hours`); None for a grid without facilities.
    fleets : dict
        ``deliveries`` (fuel truck trips), ``connections`` (mobile generators) and
        ``fuel_stock_out_h`` (:mod:`gridres.restoration.fleets`).
    deficit : gridres.restoration.demand.DeficitRecord or None
        Demand, capacity and (with rotation) groups off, hour by hour.
    chosen_waves : tuple of dict
        Waves chosen during the run (an adaptive attacker), in the order they struck:
        ``time_h``, ``targets`` (what the chooser named, e.g. ``substation:NAME``) and
        ``failed`` (``KIND:ID`` tokens of the elements). Empty for fixed scenarios.
    """

    policy: str
    curve: pd.DataFrame
    schedule: pd.DataFrame
    facilities: pd.DataFrame
    metrics: dict
    notes: tuple[str, ...] = ()
    services: Any = None
    fleets: dict = field(default_factory=dict)
    deficit: Any = None
    chosen_waves: tuple[dict, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready document: policy, metrics, notes, curve and schedule records,
        fleets, services over time (totals and by town) and the chosen waves, where
        there are any."""
        doc = {
            "policy": self.policy,
            "metrics": self.metrics,
            "notes": list(self.notes),
            "curve": self.curve.to_dict(orient="records"),
            "schedule": self.schedule.to_dict(orient="records"),
            "fleets": self.fleets,
        }
        if self.services is not None:
            doc["services"] = {
                "outside_c": self.services.outside_c,
                "timeline": self.services.totals().to_dict(orient="records"),
                "towns": self.services.by_town().to_dict(orient="records"),
                "facilities": list(self.services.facilities),
            }
        if self.chosen_waves:
            doc["chosen_waves"] = [dict(w) for w in self.chosen_waves]
        return doc
