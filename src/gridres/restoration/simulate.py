"""Discrete-event restoration: crews travel, wait for spares and repair, one policy decides.

:func:`simulate` plays one scenario forward in hours. Events (a wave of failures, a crew
arriving on site, a repair done, a spare arriving) sit in a heap; all events of one
instant are applied together, the grid is re-assessed if anything was repaired or
failed, and then every free crew asks the policy for its next job. What a policy sees
(:class:`Decision`, its :class:`PolicyContext`, :class:`Snapshot`) and what a run returns
(:class:`RestorationResult`) are in :mod:`gridres.restoration.interface`; the run's mutable
state stays private to this module, and :func:`~gridres.restoration.metrics.summarize_run`
turns its plain log into the result.

Rules
-----
* **Jobs.** Every element a wave fails is a job: a failed bus, branch or generator
  (out-of-service elements are skipped). A wave that hits an element already repaired
  makes a new job; one that hits an element under repair restarts that repair from the
  wave's time with a new duration; one that hits an element still waiting adds nothing.
* **Crews** start at their depots. A crew the policy sends to a job travels there
  (straight-line distance × road factor / speed; 0 without coordinates), waits on site
  for a spare if the job needs one, repairs, and is then free at the job's location.
  Crews on their way or at work finish their job; every decision after a wave sees the
  new failures (crews re-plan at their next decision).
* **Spares.** Kinds that need a spare (transformers always) draw from a stock per kind.
  Every such failure orders a replacement at once, arriving ``lead_time_h`` later
  (one-for-one replenishment), so there is always a spare on hand or on order for every
  job. A job takes its spare when its crew is sent (the earliest spare not already
  promised to another job; a planning policy may promise spares in its own order); the
  crew waits on site until that spare has arrived.
* **Supply.** After every instant with a repair or a failure the grid is re-assessed
  by the engine with the run's cascade mode and margin
  (:func:`~gridres.restoration.supply.supply`, equal to
  :func:`gridres.cascade.settle`): islands reconnect, generators return, load is picked
  up, flows are solved and overloads trip or are relieved by redispatch and shedding
  exactly as in ``gridres outage``. Served load is piecewise constant between events.
* **Operating rule over time.** Only failures are damage: a branch that a cascade
  trips needs no repair and gets no job. Every assessment starts again from the
  physical state (every element not damaged is closed), so a repair can relieve an
  overload, and a tripped branch is back as soon as it is no longer overloaded.
* **Black start.** An island that went dark is re-energised only by a black-start
  generator (``blackstart`` column) or by reconnection to an energised island: each
  assessment gets the buses energised after the previous one as ``live`` (the rule of
  :mod:`gridres.impact`); before the first failure every bus counts as live, so the
  first assessment is exactly ``gridres outage``'s.
* **Facilities.** A facility without grid power runs on its backup (if its
  ``backup_mw`` covers its ``demand_mw``) until its tank of ``backup_hours`` is empty,
  then goes dark; what is left carries over to later outages. Fuel trucks refill
  tanks and mobile generators power dark facilities (``fuel_trucks``,
  ``mobile_generators``): the rules are in :mod:`gridres.restoration.fleets`, whose
  :class:`~gridres.restoration.fleets.FacilityPower` the loop calls at every instant
  (its events are the fourth kind, after waves). A tank running dry is an instant too,
  so the facility status recorded at each instant holds until the next.
* **Services.** Each recorded instant also counts the people without power in every
  town; the result's ``services`` follows water, heat, telecom, health care, shelter
  and emergency response from the facility status
  (:mod:`gridres.restoration.service_hours`).
* **Chosen waves.** A scenario's waves chosen at their time (an attacker who adapts to
  repairs, :class:`~gridres.scenarios.base.ChosenWaves`) are picked when they fall due,
  after the fixed waves and repairs of that instant, from the run's own damage
  (:mod:`gridres.restoration.chosen`); the result lists them as they struck
  (:attr:`RestorationResult.chosen_waves`).
* **End.** The run ends when every job is repaired and no wave is left, or at
  ``horizon_h``.

Energy not served is measured against the pre-event (intact) served load; see
:mod:`gridres.restoration.metrics` for every metric.
"""

from __future__ import annotations

import bisect
import dataclasses
import heapq
import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from gridres.cascade import CascadeOptions
from gridres.errors import UsageError
from gridres.model import Network, State
from gridres.restoration.assets import Assets
from gridres.restoration.chosen import strike
from gridres.restoration.critical import repair_sets
from gridres.restoration.demand import Timeline, static_timeline
from gridres.restoration.fleets import FacilityPower, split_policy, storage_left_h
from gridres.restoration.interface import (
    ASSIGNED,
    DONE,
    PENDING,
    REPAIRING,
    Decision,
    JobView,
    Policy,
    PolicyContext,
    RestorationResult,
    Snapshot,
)
from gridres.restoration.metrics import RunLog, summarize_run
from gridres.restoration.policies import Gains, as_listed, get_policy
from gridres.restoration.supply import Supply, supply
from gridres.scenarios.base import Scenario, Wave, as_rng
from gridres.tolerances import SAME_TIME_H, ZERO_MW

__all__ = ["simulate", "repair_multipliers"]

logger = logging.getLogger(__name__)

_BUS, _BRANCH, _GEN = 0, 1, 2
# event kinds, in the order they are applied within one instant
_EV_DONE, _EV_SPARE, _EV_ARRIVE, _EV_WAVE, _EV_FLEET = 0, 1, 2, 3, 4


class _Job:
    __slots__ = (
        "id", "etype", "pos", "token", "kind", "wave", "fail_h", "expected_h", "actual_h",
        "xy", "spare", "status", "crew", "travel_start", "arrive", "start", "end",
        "spare_arrival", "version", "claim_key", "restarts",
    )

    def __init__(self, **kw: Any) -> None:
        for k, v in kw.items():
            setattr(self, k, v)


class _Crew:
    __slots__ = ("id", "xy", "job")

    def __init__(self, cid: int, xy: np.ndarray) -> None:
        self.id = cid
        self.xy = xy
        self.job: _Job | None = None


class _Pool:
    """Spares of one kind: arrival times of spares not yet used, and the jobs holding a
    promise of one. The holder of rank ``r`` (by key) gets ``items[r]``."""

    __slots__ = ("items", "holders")

    def __init__(self) -> None:
        self.items: list[float] = []
        self.holders: dict[int, tuple] = {}

    def add(self, arrival: float) -> None:
        bisect.insort(self.items, arrival)

    def ranked(self) -> list[int]:
        return sorted(self.holders, key=self.holders.__getitem__)

    def item_of(self, jid: int) -> float:
        return self.items[self.ranked().index(jid)]

    def preview(self, key: tuple) -> float:
        """Arrival of the spare a new holder with ``key`` would get."""
        rank = sum(1 for k in self.holders.values() if k <= key)
        return self.items[rank] if rank < len(self.items) else math.inf

    def consume(self, jid: int) -> float:
        rank = self.ranked().index(jid)
        del self.holders[jid]
        return self.items.pop(rank)


def repair_multipliers(scenario: Scenario, sigma: float,
                       rng: np.random.Generator | int | None) -> np.ndarray:
    """Repair-time factors, one per (wave, element) in listing order.

    Lognormal with mean 1 and log-standard deviation ``sigma``; all ones (and no draw)
    when ``sigma`` is 0. Drawn in one go so that every policy simulated with the same
    seed sees the same repair times.
    """
    n = sum(w.size for w in scenario.waves)
    if sigma <= 0:
        return np.ones(n)
    return as_rng(rng).lognormal(-0.5 * sigma**2, sigma, size=n)


class _Run:
    """One simulation's mutable state (internal)."""

    def __init__(self, net: Network, assets: Assets, scenario: Scenario,
                 policy: Policy, mult: np.ndarray, cascade: CascadeOptions,
                 mobile_dispatch: str, timeline: Timeline) -> None:
        self.net, self.assets, self.scenario, self.policy = net, assets, scenario, policy
        self.s = assets.settings
        self.mult = mult
        self.cascade = cascade
        intact = net.intact()
        self.bus, self.branch, self.gen = intact.bus.copy(), intact.branch.copy(), intact.gen.copy()
        self.intact = intact
        self.base: Supply = supply(net, intact, cascade)
        self.now: Supply = self.base
        # demand and capacity by the hour, and rotation (gridres.restoration.demand)
        self.demand = timeline.start_run(net, cascade)
        # buses energised just before the next assessment (the black-start rule); before
        # the first failure every bus counts, as in `gridres outage`
        self.live = np.ones(net.n_bus, dtype=bool)
        self.jobs: list[_Job] = []
        self.open: dict[tuple[int, int], _Job] = {}
        depots = assets.depot_xy
        self.crews = [_Crew(c, depots[c % len(depots)].copy()) for c in range(self.s.crews)]
        self.pools: dict[str, _Pool] = {}
        for kind in self.s.needs_spare:
            pool = _Pool()
            stock, _ = self.s.spares_for(kind)
            for _ in range(stock):
                pool.add(-math.inf)
            self.pools[kind] = pool
        self.heap: list[tuple] = []
        self.seq = 0
        self.memo: dict = {}
        self.notes: list[str] = []
        self.points: list[tuple] = []  # (t, served, lost, customers_out, status, power_out)
        self._dep: dict[tuple[int, int], tuple[float, np.ndarray]] = {}
        self._gain_cache: dict[bytes, dict[int, float]] = {}
        self._fac_memo: tuple | None = None
        self.power = FacilityPower(net, assets, self.base.fac_grid, assets.fac_impact,
                                   mobile_dispatch)
        self.storage_h = storage_left_h(assets)
        model = assets.services
        # people of each town fed by each bus, (n_area, n_bus): people without power
        self._town_buses = None if model is None else model.bus_people.T.tocsr()
        self.t = 0.0
        self.waves_left = scenario.n_waves
        self.waves_seen = 0
        self.chosen: list[Wave] = []  # chosen waves as they struck
        self.context = _Context(self)

    # -- events ---------------------------------------------------------------------
    def push(self, t: float, kind: int, payload: Any = None) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (t, kind, self.seq, payload))

    def _assess(self, event: bool) -> None:
        """Assess the state now with the hour's network (an event: a repair or failure
        happened now); the caller records it."""
        self.now = self.demand.assess(self.t, State(self.bus, self.branch, self.gen),
                                      self.live, event)
        self.live = self.now.energized

    def _record(self) -> None:
        cust = self.demand.record(self.t, self.now)
        lost = max(0.0, self.demand.reference(self.t).total_mw - self.now.total_mw)
        people = (None if self._town_buses is None
                  else self._town_buses @ self.demand.share_now())
        row = (self.t, self.now.total_mw, lost, cust, self.power.status(), people)
        if self.points and abs(self.points[-1][0] - self.t) <= SAME_TIME_H:
            self.points[-1] = row
        else:
            self.points.append(row)

    def _advance(self, t: float) -> None:
        self.power.advance(t - self.t)
        self.t = t

    def _wave(self, chosen: bool, i: int) -> None:
        """Apply fixed wave ``i``, or chosen wave ``i`` (picked now: :mod:`.chosen`)."""
        if chosen:
            wave, mult = strike(self.scenario.chosen, i, self.net, self.alive(),
                                self.s.repair_sigma)
            self.chosen.append(wave)
        else:
            wave = self.scenario.waves[i]
            offset = sum(x.size for x in self.scenario.waves[:i])
            mult = self.mult[offset:offset + wave.size]
        w = self.waves_seen
        net, a = self.net, self.assets
        k = 0
        for etype, positions in ((_BUS, wave.buses), (_BRANCH, wave.branches),
                                 (_GEN, wave.gens)):
            in_service = (net.bus_in_service, net.branch_in_service, net.gen_in_service)[etype]
            mask = (self.bus, self.branch, self.gen)[etype]
            for pos in positions:
                m = float(mult[k])
                k += 1
                if not in_service[pos]:
                    continue
                job = self.open.get((etype, int(pos)))
                if job is None:
                    mask[pos] = False
                    kind = a.kind(etype, pos)
                    expected = a.repair_h(etype, pos)
                    job = _Job(
                        id=len(self.jobs), etype=etype, pos=int(pos),
                        token=a.element(etype, pos), kind=kind, wave=w, fail_h=self.t,
                        expected_h=expected, actual_h=expected * m, xy=a.xy(etype, pos),
                        spare=kind in self.pools, status=PENDING, crew=-1,
                        travel_start=math.nan, arrive=math.nan, start=math.nan,
                        end=math.nan, spare_arrival=math.nan, version=0, claim_key=None,
                        restarts=0,
                    )
                    self.jobs.append(job)
                    self.open[(etype, int(pos))] = job
                    if job.spare:
                        _, lead = self.s.spares_for(kind)
                        self.pools[kind].add(self.t + lead)
                        self.push(self.t + lead, _EV_SPARE, kind)
                elif job.status == REPAIRING:
                    job.version += 1
                    job.restarts += 1
                    job.start = self.t
                    job.actual_h = job.expected_h * m
                    self.push(self.t + job.actual_h, _EV_DONE, (job.id, job.version))
        self.waves_left -= 1
        self.waves_seen += 1

    def _done(self, jid: int, version: int) -> bool:
        job = self.jobs[jid]
        if job.version != version or job.status != REPAIRING:
            return False
        job.status = DONE
        job.end = self.t
        (self.bus, self.branch, self.gen)[job.etype][job.pos] = True
        del self.open[(job.etype, job.pos)]
        crew = self.crews[job.crew]
        crew.job = None
        if np.isfinite(job.xy).all():
            crew.xy = job.xy.copy()
        return True

    def _try_start(self, job: _Job) -> bool:
        if job.spare:
            pool = self.pools[job.kind]
            if pool.item_of(job.id) > self.t + SAME_TIME_H:
                return False
            job.spare_arrival = pool.consume(job.id)
        job.status = REPAIRING
        job.start = self.t
        self.push(self.t + job.actual_h, _EV_DONE, (job.id, job.version))
        return True

    def _sweep(self) -> None:
        waiting = [c.job for c in self.crews
                   if c.job is not None and c.job.status == ASSIGNED
                   and c.job.arrive <= self.t + SAME_TIME_H]
        changed = True
        while changed and waiting:
            changed = False
            for job in list(waiting):
                if self._try_start(job):
                    waiting.remove(job)
                    changed = True

    # -- decisions -----------------------------------------------------------------
    def pending(self) -> list[_Job]:
        return [j for j in self.open.values() if j.status == PENDING]

    def _claim_key(self, job: _Job) -> tuple:
        return (self.t, self.seq + 1, job.id)

    def _decide(self, crew: _Crew, pending: list[_Job]) -> _Job | None:
        pending = sorted(pending, key=lambda j: j.id)
        ids = np.array([j.id for j in pending], dtype=np.int64)
        xy = np.array([j.xy for j in pending], dtype=float).reshape(len(pending), 2)
        travel = self.assets.travel_h(crew.xy, xy)
        wait = np.zeros(len(pending))
        for i, j in enumerate(pending):
            if j.spare:
                pool = self.pools[j.kind]
                item = (pool.item_of(j.id) if j.id in pool.holders
                        else pool.preview(self._claim_key(j)))
                wait[i] = max(0.0, item - (self.t + travel[i]))
        rep = np.array([j.expected_h for j in pending])
        d = Decision(self.t, crew.id, ids, travel, wait, rep, self.context)
        choice = self.policy(d)
        if choice is None:
            return None
        choice = int(choice)
        if not 0 <= choice < len(ids):
            raise UsageError(f"policy returned {choice}, not a position in the "
                             f"{len(ids)} candidates")
        job = pending[choice]
        self._dispatch(crew, job, float(travel[choice]))
        return job

    def _dispatch(self, crew: _Crew, job: _Job, travel: float) -> None:
        job.status = ASSIGNED
        job.crew = crew.id
        job.travel_start = self.t
        job.arrive = self.t + travel
        crew.job = job
        if job.spare and job.id not in self.pools[job.kind].holders:
            self.pools[job.kind].holders[job.id] = self._claim_key(job)
        self.seq += 1
        if travel <= SAME_TIME_H:
            self._try_start(job)
        else:
            self.push(job.arrive, _EV_ARRIVE, job.id)

    def _dispatch_all(self) -> None:
        for crew in self.crews:
            if crew.job is not None:
                continue
            pending = self.pending()
            if not pending:
                return
            self._decide(crew, pending)

    # -- what policies ask ------------------------------------------------------------
    def alive(self) -> State:
        """What is alive now (copies of the run's masks)."""
        return State(self.bus.copy(), self.branch.copy(), self.gen.copy())

    def _anticipated(self) -> State:
        masks = [self.bus.copy(), self.branch.copy(), self.gen.copy()]
        for c in self.crews:
            if c.job is not None:
                masks[c.job.etype][c.job.pos] = True
        return State(*masks)

    def supply(self, state: State) -> Supply:
        """What the engine supplies in ``state`` if it were assessed now (from the buses
        energised now, with the hour's demand)."""
        return supply(self.demand.network(self.t, state.gen), state, self.cascade,
                      live=self.live)

    def gains(self, candidates: np.ndarray, hours: np.ndarray) -> np.ndarray:
        state = self._anticipated()
        key = (state.bus.tobytes() + state.branch.tobytes() + state.gen.tobytes()
               + self.live.tobytes(), self.demand.tl.hour(self.t))
        cache = self._gain_cache.setdefault(key, {})
        if len(self._gain_cache) > 64:  # states never recur once left
            self._gain_cache = {key: cache}
        jobs = [self.jobs[j] for j in candidates]
        todo = [i for i, j in enumerate(jobs) if j.id not in cache]
        if todo:
            ctx = Gains(self.demand.network(self.t, state.gen), state, self.live, self.cascade)
            ub = ctx.bounds([jobs[i].etype for i in todo], [jobs[i].pos for i in todo])
            order = [todo[i] for i in np.argsort(-ub / np.maximum(hours[todo], 1e-6),
                                                  kind="stable") if ub[i] > ZERO_MW]
            for i in todo:
                cache[jobs[i].id] = 0.0
            for i in order[: self.s.greedy_max_candidates]:
                cache[jobs[i].id] = ctx.gain(jobs[i].etype, jobs[i].pos)
        return np.array([cache[j.id] for j in jobs])

    def dependency(self, jid: int) -> tuple[float, np.ndarray]:
        job = self.jobs[jid]
        key = (job.etype, job.pos)
        if key not in self._dep:
            i = self.intact
            masks = [i.bus.copy(), i.branch.copy(), i.gen.copy()]
            masks[job.etype][job.pos] = False
            s = supply(self.net, State(*masks), self.cascade)
            self._dep[key] = (max(0.0, self.base.total_mw - s.total_mw),
                              self.base.fac_grid & ~s.fac_grid)
        return self._dep[key]

    def _spare_delay_h(self, job: _Job) -> float:
        """Hours from now until the spare of a pending job would be on hand if it were
        sent now (0 without a spare)."""
        if not job.spare:
            return 0.0
        pool = self.pools[job.kind]
        item = (pool.item_of(job.id) if job.id in pool.holders
                else pool.preview(self._claim_key(job)))
        return max(0.0, item - self.t)

    def _expected_end_h(self, job: _Job) -> float:
        """Expected end of an active job (with its expected repair hours)."""
        if job.status == REPAIRING:
            return job.start + job.expected_h
        ready = job.arrive
        if job.spare:
            ready = max(ready, self.pools[job.kind].item_of(job.id))
        return ready + job.expected_h

    def facility_keys(self) -> dict[int, tuple[float, float, float, float]]:
        """Per pending job id, the key ``(rank, backup_left_h, -people, set_hours)`` of
        the most critical facility whose cheapest repair set holds the job (see
        :attr:`Decision.facility_rank`); jobs in no set are left out."""
        active = [c.job for c in self.crews if c.job is not None]
        key = (self.bus.tobytes() + self.branch.tobytes() + self.gen.tobytes()
               + self.live.tobytes(), self.t, tuple(sorted(j.id for j in active)))
        if self._fac_memo is not None and self._fac_memo[0] == key:
            return self._fac_memo[1]
        need = np.flatnonzero(self.base.fac_grid)
        best: dict[int, tuple[float, float, float, float]] = {}
        pending = self.pending()
        if len(need) and pending:
            hours = [np.full(n, np.inf) for n in (self.net.n_bus, self.net.n_branch,
                                                   self.net.n_gen)]
            for job in pending:
                hours[job.etype][job.pos] = job.expected_h + self._spare_delay_h(job)
            for job in active:
                hours[job.etype][job.pos] = max(0.0, self._expected_end_h(job) - self.t)
            rs = repair_sets(self.net, State(self.bus, self.branch, self.gen), tuple(hours),
                             need, live=self.live)
            impact, rank = self.assets.fac_impact, self.power.rank
            buffer = self.power.buffer_left_h() + self.storage_h
            for i, f in enumerate(need):
                k = (-float(impact[f]), float(buffer[f]), float(rank[f]), float(rs.hours[i]))
                for el in rs.members[i]:
                    job = self.open[el]
                    if job.status == PENDING and (job.id not in best or k < best[job.id]):
                        best[job.id] = k
        self._fac_memo = (key, best)
        return best

    def snapshot(self) -> Snapshot:
        active = [c.job for c in self.crews if c.job is not None]
        ends = [self._expected_end_h(j) for j in active]
        ready = np.array([self.t if c.job is None else ends[active.index(c.job)]
                          for c in self.crews])
        xy = np.array([c.xy if c.job is None else c.job.xy for c in self.crews], dtype=float)
        held = {k: sum(1 for j in active if j.spare and j.kind == k and j.status == ASSIGNED)
                for k in self.pools}
        return Snapshot(
            time_h=self.t,
            pending=np.array(sorted(j.id for j in self.pending()), dtype=np.int64),
            active=np.array([j.id for j in active], dtype=np.int64),
            active_end_h=np.array(ends, dtype=float),
            crew_ready_h=ready,
            crew_xy=xy,
            spare_items={k: list(p.items) for k, p in self.pools.items()},
            spare_held=held,
            alive=self.alive(),
        )

    def reserve(self, keys: dict[int, tuple]) -> None:
        """Promise spares to pending jobs in the order of ``keys`` (replacing earlier
        promises to pending jobs). Jobs a crew is already on keep their spares, ahead
        of every new promise."""
        for pool in self.pools.values():
            ranked = pool.ranked()
            for jid in ranked:
                if self.jobs[jid].status == PENDING:
                    del pool.holders[jid]
            for r, jid in enumerate(j for j in ranked if j in pool.holders):
                pool.holders[jid] = (-math.inf, r)
        for jid, key in keys.items():
            job = self.jobs[jid]
            if job.spare and job.status == PENDING:
                self.pools[job.kind].holders[jid] = key

    # -- main loop -----------------------------------------------------------------
    def run(self) -> float:
        for w, wave in enumerate(self.scenario.waves):
            self.push(float(wave.time_h), _EV_WAVE, (False, w))
        if self.scenario.chosen is not None:  # after the fixed waves of the same time
            for j, t in enumerate(self.scenario.chosen.times_h):
                self.push(t, _EV_WAVE, (True, j))
        self.now = self.demand.assess(self.t, self.alive(), self.live, False)
        self._record()
        fleet = self.power.active

        def push_fleet(t: float, payload: tuple) -> None:
            self.push(t, _EV_FLEET, payload)

        horizon = float(self.s.horizon_h)
        while True:
            if not self.heap:
                if self.pending():
                    self.note_once("the policy left jobs with no crew sent and nothing left to "
                                   "wait for; they were taken in listing order")
                    policy, self.policy = self.policy, as_listed
                    self._dispatch_all()
                    self.policy = policy
                    continue
                return self.t
            t = self.heap[0][0]
            hour = self.demand.next_change(self.t)  # the hour's demand or block changes
            if hour < min(t, horizon) - SAME_TIME_H:
                self._advance(hour)
                self._assess(event=False)
                if fleet:
                    self.power.settle(self.t, self.now.fac_grid, push_fleet)
                self._record()
                continue
            if t > horizon + SAME_TIME_H:
                self._advance(horizon)
                return horizon
            self._advance(t)
            # the hour's demand or block changes at this very instant too
            hour_due = hour <= t + SAME_TIME_H
            changed = fleet_event = False
            while self.heap and self.heap[0][0] <= t + SAME_TIME_H:
                _, kind, _, payload = heapq.heappop(self.heap)
                if kind == _EV_DONE:
                    changed |= self._done(*payload)
                elif kind == _EV_WAVE:
                    self._wave(*payload)
                    changed = True
                elif kind == _EV_FLEET:
                    fleet_event |= self.power.handle(self.t, payload)
                elif kind == _EV_ARRIVE:
                    pass  # the sweep below starts it if its spare is there
            self._sweep()
            if changed or hour_due:
                self._assess(event=changed)
            if fleet and (changed or fleet_event or hour_due):
                self.power.settle(self.t, self.now.fac_grid, push_fleet)
            if changed or fleet_event or hour_due:
                self._record()
            self._dispatch_all()
            if not self.open and self.waves_left == 0:
                return self.t

    def note_once(self, message: str) -> None:
        if message not in self.notes:
            self.notes.append(message)

    def log(self, t_end: float) -> RunLog:
        """The finished run as a plain log for :func:`summarize_run`."""
        pts = self.points
        n_fac = self.net.fac_ids.size
        times = [w.time_h for w in self.scenario.waves[:1]]
        if self.scenario.chosen is not None:
            times.append(self.scenario.chosen.times_h[0])
        first = float(min(times, default=0.0))
        jobs = [{
            "crew": j.crew, "element": j.token, "kind": j.kind, "wave": j.wave,
            "fail_h": j.fail_h, "travel_start_h": j.travel_start, "arrive_h": j.arrive,
            "start_h": j.start, "end_h": j.end if j.status == DONE else math.nan,
            "repair_h": j.actual_h, "needs_spare": j.spare,
            "spare_arrival_h": j.spare_arrival, "restarts": j.restarts,
        } for j in self.jobs]
        return RunLog(
            time_h=np.array([p[0] for p in pts]),
            served_mw=np.array([p[1] for p in pts]),
            lost_mw=np.array([p[2] for p in pts]),
            customers_out=np.array([p[3] for p in pts]),
            fac_status=np.array([p[4] for p in pts], dtype=np.int8).reshape(len(pts), n_fac),
            fac_counted=self.base.fac_grid, fac_ids=self.net.fac_ids,
            fac_kind=self.assets.fac_kind, fac_people=self.net.fac_people,
            jobs=jobs, first_wave_h=first, waves=self.scenario.n_waves, end_h=t_end,
            notes=tuple(self.notes) + self.power.notes(),
            power_out=(None if self.assets.services is None
                       else np.array([p[5] for p in pts], dtype=float)),
            services=self.assets.services, outside_c=self.assets.outside_c,
            fleets=self.power.log(self.net.fac_ids))


class _Context(PolicyContext):
    """The policy's view of a :class:`_Run`."""

    def __init__(self, run: _Run) -> None:
        self._run = run
        self.net = run.net
        self.assets = run.assets
        self.jobs = _Jobs(run.jobs)
        self.base_mw = run.base.total_mw
        self.memo = run.memo

    @property
    def open_jobs(self) -> int:  # type: ignore[override]
        return len(self._run.open)

    @property
    def waves_seen(self) -> int:  # type: ignore[override]
        return self._run.waves_seen

    def gains(self, candidates: np.ndarray, hours: np.ndarray) -> np.ndarray:
        return self._run.gains(candidates, hours)

    def dependency(self, job: int) -> tuple[float, np.ndarray]:
        return self._run.dependency(job)

    def served_mw(self, alive: State) -> float:
        return self._run.supply(alive).total_mw

    def facility_keys(self) -> dict[int, tuple[float, float, float, float]]:
        return self._run.facility_keys()

    def snapshot(self) -> Snapshot:
        return self._run.snapshot()

    def reserve(self, keys: dict[int, tuple]) -> None:
        self._run.reserve(keys)

    def note(self, message: str) -> None:
        self._run.note_once(message)


class _Jobs(Sequence):
    """Read-only views of a run's jobs."""

    def __init__(self, jobs: list[_Job]) -> None:
        self._jobs = jobs

    def __len__(self) -> int:
        return len(self._jobs)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [JobView(j) for j in self._jobs[i]]
        return JobView(self._jobs[i])


def _resolve(policy: str | Policy) -> tuple[str, Policy]:
    if isinstance(policy, str):
        return policy, get_policy(policy)
    name = getattr(policy, "name", None) or getattr(policy, "__name__", None) or repr(policy)
    return str(name), policy


def _mobile_rule(name: str, policy: Policy, assets: Assets) -> str:
    """The mobile generators' rule of a run: the policy's own (``CREW/RULE``), else the
    settings' ``mobile_dispatch``."""
    rule = getattr(policy, "mobile_dispatch", None) or split_policy(name)[1]
    return rule or assets.settings.mobile_dispatch


def simulate(
    net: Network,
    assets: Assets,
    scenario: Scenario,
    policy: str | Policy = "greedy",
    seed: int | np.random.Generator | None = None,
    *,
    multipliers: np.ndarray | None = None,
    cascade: CascadeOptions | str | None = None,
    timeline: Timeline | None = None,
) -> RestorationResult:
    """Simulate the restoration of one scenario under one policy.

    Parameters
    ----------
    net : Network
        The compiled grid (``grid.network``).
    assets : Assets
        From :func:`gridres.restoration.assets.prepare` on the same grid; carries the
        settings.
    scenario : Scenario
        Waves of failures (a single outage is one wave at 0 h).
    policy : str or callable
        A name of :data:`gridres.restoration.policies.POLICIES` (optionally followed by
        ``/RULE``, the mobile generators' dispatch rule, e.g. ``greedy/nearest``) or a
        callable ``policy(decision) -> int | None``.
    seed : int or numpy.random.Generator, optional
        Needed when ``repair_sigma > 0`` (repair times are drawn from it); the same seed
        gives the same repair times for every policy, and the same schedule.
    multipliers : ndarray, optional
        Repair-time factors per (wave, element), as :func:`repair_multipliers` returns;
        overrides ``seed``.
    cascade : CascadeOptions or str, optional
        Cascade mode and margin of every assessment (default mode ``none``), as
        ``gridres outage --cascade-mode``.
    timeline : Timeline, optional
        Demand and capacity by the hour, and rotation
        (:func:`gridres.restoration.demand.timeline` on the same grid); default the
        static load and capacity.

    Returns
    -------
    RestorationResult
        With the measures per customer of :mod:`gridres.restoration.customers`,
        ``deficit_mwh`` and ``switched_mwh`` in its metrics, and its ``deficit`` record.

    Raises
    ------
    UsageError
        If ``assets`` were prepared for another grid, or a seed is needed and missing.

    Examples
    --------
    >>> import pandas as pd
    >>> from gridres.model import Grid
    >>> from gridres.restoration import RestorationSettings, prepare
    >>> g = Grid(
    ...     buses=pd.DataFrame({"id": ["s", "a"], "ref": [True, False],
    ...                         "load_mw": [0.0, 10.0]}),
    ...     branches=pd.DataFrame({"id": ["l1"], "from_bus": ["s"], "to_bus": ["a"],
    ...                            "x_pu": [0.1], "length_km": [10.0]}),
    ...     generators=pd.DataFrame({"id": ["g"], "bus": ["s"], "pmax_mw": [50.0]}))
    >>> assets = prepare(g, RestorationSettings(crews=1))
    >>> res = simulate(g.network, assets, Scenario.single(branches=[0]), "greedy")
    >>> res.metrics["ens_mwh"]     # 10 MW for the 6 h repair (4 h + 0.2 h/km x 10 km)
    60.0

    Notes
    -----
    Each decision costs one supply evaluation per candidate that could reconnect load
    (``greedy``) or nothing (the other heuristics); each instant with a repair costs one
    supply evaluation: ``O(n + m)`` on the cheap path of
    :mod:`gridres.restoration.supply` (mode ``none``, or no branch that could overload),
    one engine assessment with flows and cascade otherwise.
    """
    if not assets.matches(net):
        raise UsageError(f"the restoration assets were prepared for grid {assets.grid_name!r}, "
                         f"not for network {net.name!r}; call prepare(grid, settings) on it")
    name, fn = _resolve(policy)
    mult = multipliers
    if mult is None:
        mult = repair_multipliers(scenario, assets.settings.repair_sigma,
                                  seed if assets.settings.repair_sigma > 0 else 0)
    run = _Run(net, assets, scenario, fn, np.asarray(mult, dtype=float),
               CascadeOptions.of(cascade), _mobile_rule(name, fn, assets),
               timeline or static_timeline(net))
    t_end = run.run()
    result = run.demand.finish(summarize_run(run.log(t_end), name),
                               run.base.energized & net.bus_in_service)
    if run.chosen:
        result = dataclasses.replace(result, chosen_waves=tuple(
            _wave_record(net, w) for w in run.chosen))
    return result


def _wave_record(net: Network, wave: Wave) -> dict:
    """A chosen wave as it struck: ``time_h``, ``targets`` (its label's tokens) and the
    ``failed`` elements as ``KIND:ID`` tokens."""
    failed = ([f"bus:{i}" for i in net.bus_ids[wave.buses]]
              + [f"branch:{i}" for i in net.branch_ids[wave.branches]]
              + [f"gen:{i}" for i in net.gen_ids[wave.gens]])
    return {"time_h": float(wave.time_h),
            "targets": [t for t in wave.label.split(";") if t] or failed, "failed": failed}
