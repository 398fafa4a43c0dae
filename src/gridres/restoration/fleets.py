"""What keeps critical facilities powered while the grid is down: backup tanks, fuel
trucks and mobile generators, inside the restoration event loop.

:class:`FacilityPower` holds the state of one run (fuel in every tank, where each truck
and mobile generator is, the fuel stock) and answers the event loop of
:mod:`gridres.restoration.simulate` through four calls: :meth:`~FacilityPower.advance`
(fuel burns as time passes), :meth:`~FacilityPower.handle` (a truck or generator
arrives, a tank runs dry), :meth:`~FacilityPower.settle` (after every instant: release
generators from facilities back on the grid, dispatch free trucks and generators,
schedule the next instant something happens) and :meth:`~FacilityPower.status`.

Rules
-----
* **Status.** A facility that had grid power before the event is, at every time, on
  ``grid`` power, on a ``mobile`` generator, on its ``backup`` (while its tank holds
  fuel) or ``dark``. A facility without grid power before the event is not counted and
  keeps the status ``grid`` (the event took nothing from it).
* **Tanks.** A backup that covers the facility's ``demand_mw`` has a tank of
  ``backup_hours`` at that demand (``backup_hours × demand_mw × fuel_l_per_mwh``
  litres). It burns only while the facility runs on it; what is left carries over to
  later outages. The instant a tank runs dry is an event: the facility goes dark then.
* **Fuel trucks** (``fuel_trucks``) are based at ``fuel_depots`` (default the crews'
  depots). A facility running on its backup *calls for fuel* once its tank holds
  ``refuel_call_h`` hours or less; a dark facility whose tank ran dry calls too. The
  calls are served most urgent first (least fuel left, then the most people who would
  lose a service, then the facility listed first), each by the free truck nearest to
  it. A truck travels as crews do (straight line × ``road_factor`` / ``speed_kmh``),
  refills for ``refuel_h`` hours and fills the tank at the end, with at most
  ``fuel_truck_l`` litres and what is left of ``fuel_stock_l``; then it drives back to
  its depot and is free there. The facility keeps running on its backup while the
  truck is on its way and refilling. When the stock is used up, no truck leaves again.
* **Mobile generators** (``mobile_generators``: rating and depot) go to dark
  facilities whose ``demand_mw`` they cover. A free generator is sent, by the rule of
  the run (``mobile_dispatch``, or the ``/RULE`` of the policy name), to

  - ``critical-first``: the facility whose loss costs the most people a service
    (:func:`gridres.services.service_impact`), then the kind's rank (``facility_priority``);
  - ``people-per-mw``: the most such people per MW of the facility's demand;
  - ``nearest``: the nearest facility;

  ties go to the nearest generator, then the facility listed first. It travels as
  crews do, powers the facility ``mobile_connect_h`` after arriving and stays until
  the facility has grid power again; then it is free at that site. Mobile generators
  carry their own fuel (they are not refuelled by the trucks in this model).

Everything happens at event instants, so that the status between two events is
constant; the simulation records the status at every instant it changes.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np

from gridres.errors import UsageError
from gridres.impact import backup_covers
from gridres.model import Network
from gridres.restoration.assets import Assets
from gridres.restoration.settings import MOBILE_DISPATCH
from gridres.services.evaluate import resolved_storage
from gridres.tolerances import BACKUP_MW, SAME_TIME_H

__all__ = [
    "GRID",
    "BACKUP",
    "MOBILE",
    "DARK",
    "STATUS_NAMES",
    "FacilityPower",
    "split_policy",
    "storage_left_h",
]

logger = logging.getLogger(__name__)

#: Facility power status codes (see the module notes).
GRID, BACKUP, MOBILE, DARK = 0, 1, 2, 3
#: Names of the status codes, by code.
STATUS_NAMES = ("grid", "backup", "mobile", "dark")

_TRUCK_DONE, _TRUCK_HOME, _MOBILE_ON, _TICK = "truck_done", "truck_home", "mobile_on", "tick"


def split_policy(name: str) -> tuple[str, str | None]:
    """A policy name ``CREW`` or ``CREW/RULE`` as the crew policy's name and the mobile
    generators' dispatch rule (None where the name gives none).

    Raises
    ------
    UsageError
        For a rule that is not one of
        :data:`~gridres.restoration.settings.MOBILE_DISPATCH`.

    Examples
    --------
    >>> split_policy("greedy/nearest"), split_policy("critical-first")
    (('greedy', 'nearest'), ('critical-first', None))
    """
    crew, sep, rule = str(name).partition("/")
    if not sep:
        return crew, None
    if rule not in MOBILE_DISPATCH:
        raise UsageError(f"policy {name!r}: {rule!r} is not a mobile generator dispatch rule "
                         f"(after the /: {', '.join(MOBILE_DISPATCH)})")
    return crew, rule


class FacilityPower:
    """Tanks, fuel trucks and mobile generators of one restoration run (rules in the
    module notes). Internal to the event loop; its :meth:`log` is plain data.

    Parameters
    ----------
    net : Network
    assets : Assets
    counted : ndarray of bool, shape (n_fac,)
        Facilities with grid power before the event.
    impact : ndarray, shape (n_fac,)
        :func:`gridres.services.service_impact` of each facility.
    rule : str
        The mobile generators' dispatch rule.
    """

    def __init__(self, net: Network, assets: Assets, counted: np.ndarray,
                 impact: np.ndarray, rule: str) -> None:
        s = assets.settings
        self.assets = assets
        self.s = s
        n = net.fac_ids.size
        self.n = n
        self.counted = np.asarray(counted, dtype=bool).copy()
        self.on_grid = self.counted.copy()
        covered = backup_covers(net)
        self.full_h = np.where(covered, net.fac_backup_hours, 0.0).astype(float)
        self.left = self.full_h.copy()
        self.demand = np.maximum(net.fac_demand_mw, 0.0)
        self.people = net.fac_people
        self.impact = (np.asarray(impact, dtype=float) if impact is not None
                       else net.fac_people.astype(float))
        self.rule = rule
        unlisted = max(s.facility_priority.values(), default=0) + 1
        self.rank = np.array([s.facility_priority.get(str(k), unlisted)
                              for k in assets.fac_kind], dtype=float)
        self.xy = assets.fac_xy if assets.fac_xy is not None else np.full((n, 2), np.nan)
        # fuel trucks
        depots = assets.fuel_depot_xy if assets.fuel_depot_xy is not None \
            else np.full((1, 2), np.nan)
        self.truck_home = np.array([depots[k % len(depots)] for k in range(s.fuel_trucks)],
                                   dtype=float).reshape(s.fuel_trucks, 2)
        self.truck_free = np.ones(s.fuel_trucks, dtype=bool)
        self.truck_target = np.full(s.fuel_trucks, -1)
        self.fueling = np.zeros(n, dtype=bool)  # a truck is on its way or refilling
        self.stock_l = float(s.fuel_stock_l)
        self.stock_out_h = math.nan
        # mobile generators
        m = 0 if assets.mobile_mw is None else len(assets.mobile_mw)
        self.unit_mw = assets.mobile_mw if m else np.zeros(0)
        self.unit_xy = assets.mobile_xy.copy() if m else np.zeros((0, 2))
        self.unit_target = np.full(m, -1)  # facility it travels to or powers
        self.mobile_on = np.zeros(n, dtype=bool)
        self.mobile_to = np.full(n, -1)
        # what happened
        self.deliveries: list[dict[str, Any]] = []
        self.connections: list[dict[str, Any]] = []
        self.tick = 0

    # -- state ---------------------------------------------------------------------------
    @property
    def active(self) -> bool:
        """Anything to model beyond the grid status (facilities that can lose it)."""
        return bool(self.counted.any())

    def status(self) -> np.ndarray:
        """Status code of every facility now (:data:`STATUS_NAMES`)."""
        off = self.counted & ~self.on_grid
        st = np.full(self.n, GRID, dtype=np.int8)
        st[off & self.mobile_on] = MOBILE
        rest = off & ~self.mobile_on
        st[rest & (self.left > 0)] = BACKUP
        st[rest & (self.left <= 0)] = DARK
        return st

    def buffer_left_h(self) -> np.ndarray:
        """Hours of fuel left in each tank (``inf`` where a mobile generator powers it)."""
        return np.where(self.mobile_on, math.inf, self.left)

    def advance(self, dt: float) -> None:
        """Burn fuel for ``dt`` hours at the current status."""
        if dt <= 0:
            return
        burn = self.status() == BACKUP
        left = self.left[burn] - dt
        self.left[burn] = np.where(left <= SAME_TIME_H, 0.0, left)

    # -- events --------------------------------------------------------------------------
    def handle(self, t: float, payload: tuple) -> bool:
        """Apply one fleet event; returns True (the status may have changed)."""
        kind = payload[0]
        if kind == _TICK:
            return payload[1] == self.tick
        if kind == _TRUCK_DONE:
            self._fill(t, *payload[1:])
            return True
        if kind == _TRUCK_HOME:
            self.truck_free[payload[1]] = True
            return True
        if kind == _MOBILE_ON:
            u, f, row = payload[1:]
            if self.on_grid[f]:
                self._release(u, f)
            else:
                self.mobile_on[f] = True
                self.connections[row]["connected_h"] = t
            return True
        raise UsageError(f"unknown fleet event {payload!r}")  # pragma: no cover

    def _fill(self, t: float, k: int, f: int, row: int) -> None:
        self.fueling[f] = False
        need_h = max(0.0, self.full_h[f] - self.left[f])
        per_h = self.demand[f] * self.s.fuel_l_per_mwh
        litres = min(need_h * per_h, self.s.fuel_truck_l, max(self.stock_l, 0.0))
        got_h = need_h if per_h <= 0 else litres / per_h
        self.left[f] = min(self.full_h[f], self.left[f] + got_h)
        self.stock_l -= litres
        if self.stock_l <= 1e-9 and math.isnan(self.stock_out_h) and math.isfinite(self.stock_l):
            self.stock_out_h = t
        self.deliveries[row].update(done_h=t, litres=float(litres))

    def _release(self, u: int, f: int) -> None:
        self.unit_target[u] = -1
        self.mobile_on[f] = False
        self.mobile_to[f] = -1
        if np.isfinite(self.xy[f]).all():
            self.unit_xy[u] = self.xy[f]

    def settle(self, t: float, fac_grid: np.ndarray, push) -> None:
        """After an instant: take the grid status, release generators from facilities
        back on the grid, dispatch free trucks and generators, and schedule the next
        instant a tank runs dry or calls for fuel (``push(time, payload)``)."""
        self.on_grid = self.counted & np.asarray(fac_grid, dtype=bool)
        for f in np.flatnonzero(self.on_grid & (self.mobile_to >= 0)):
            u = int(self.mobile_to[f])
            if self.mobile_on[f]:
                self._release(u, int(f))
        self._dispatch_trucks(t, push)
        self._dispatch_mobiles(t, push)
        st = self.status()
        burning = st == BACKUP
        nxt = math.inf
        if burning.any():
            nxt = float(self.left[burning].min())
            if self._trucks_can_go():
                wait = self.left - self.s.refuel_call_h
                call = burning & ~self.fueling & (wait > SAME_TIME_H)
                if call.any():
                    nxt = min(nxt, float(wait[call].min()))
        if math.isfinite(nxt):
            self.tick += 1
            push(t + nxt, (_TICK, self.tick))

    # -- dispatch ------------------------------------------------------------------------
    def _trucks_can_go(self) -> bool:
        return len(self.truck_free) > 0 and self.stock_l > 1e-9

    def _travel(self, origin: np.ndarray, f: np.ndarray) -> np.ndarray:
        return self.assets.travel_h(origin, self.xy[f])

    def _dispatch_trucks(self, t: float, push) -> None:
        if not self._trucks_can_go() or not self.truck_free.any():
            return
        off = self.counted & ~self.on_grid & ~self.mobile_on & (self.full_h > 0)
        calls = np.flatnonzero(off & ~self.fueling
                               & (self.left <= self.s.refuel_call_h + SAME_TIME_H)
                               & (self.left < self.full_h - SAME_TIME_H))
        if not len(calls):
            return
        order = calls[np.lexsort((calls, -self.impact[calls], self.left[calls]))]
        for f in order:
            free = np.flatnonzero(self.truck_free)
            if not len(free) or not self._trucks_can_go():
                return
            go = np.array([self.assets.travel_h(self.truck_home[k], self.xy[[f]])[0]
                           for k in free])
            k = int(free[int(np.argmin(go))])
            travel = float(go.min())
            self.truck_free[k] = False
            self.truck_target[k] = f
            self.fueling[f] = True
            done = t + travel + self.s.refuel_h
            self.deliveries.append({"truck": k, "facility": int(f), "sent_h": t,
                                    "arrive_h": t + travel, "done_h": math.nan,
                                    "litres": math.nan})
            push(done, (_TRUCK_DONE, k, int(f), len(self.deliveries) - 1))
            push(done + travel, (_TRUCK_HOME, k))

    def _dispatch_mobiles(self, t: float, push) -> None:
        free = np.flatnonzero(self.unit_target < 0)
        if not len(free):
            return
        st = self.status()
        cands = np.flatnonzero((st == DARK) & self.counted & (self.mobile_to < 0))
        while len(free) and len(cands):
            best = None
            for u in free:
                ok = cands[self.unit_mw[u] >= self.demand[cands] - BACKUP_MW]
                if not len(ok):
                    continue
                travel = self._travel(self.unit_xy[u], ok)
                if self.rule == "nearest":
                    first = travel
                elif self.rule == "people-per-mw":
                    first = -self.impact[ok] / np.maximum(self.demand[ok], 1e-3)
                else:
                    first = -self.impact[ok]
                second = self.rank[ok] if self.rule == "critical-first" else travel
                i = int(np.lexsort((ok, travel, second, first))[0])
                key = (float(first[i]), float(second[i]), float(travel[i]), int(u), int(ok[i]))
                if best is None or key < best[0]:
                    best = (key, int(u), int(ok[i]), float(travel[i]))
            if best is None:
                return
            _, u, f, travel = best
            self.unit_target[u] = f
            self.mobile_to[f] = u
            self.connections.append({"unit": u, "mw": float(self.unit_mw[u]), "facility": f,
                                     "sent_h": t, "arrive_h": t + travel,
                                     "connected_h": math.nan})
            push(t + travel + self.s.mobile_connect_h,
                 (_MOBILE_ON, u, f, len(self.connections) - 1))
            free = free[free != u]
            cands = cands[cands != f]

    # -- results -------------------------------------------------------------------------
    def notes(self) -> tuple[str, ...]:
        """What the fleets could not do (the fuel stock running out)."""
        if math.isnan(self.stock_out_h):
            return ()
        return (f"the fuel stock ran out at {self.stock_out_h:.1f} h; no truck left after",)

    def log(self, fac_ids: Any) -> dict[str, Any]:
        """Deliveries and connections as plain records with facility ids, and when the
        fuel stock ran out (NaN if it did not)."""
        ids = [str(x) for x in fac_ids]
        return {
            "deliveries": [{**d, "facility": ids[d["facility"]]} for d in self.deliveries],
            "connections": [{**c, "facility": ids[c["facility"]]} for c in self.connections],
            "fuel_stock_out_h": self.stock_out_h,
        }


def storage_left_h(assets: Assets) -> np.ndarray:
    """Hours each facility's service outlasts its stop (its storage at the run's outside
    temperature); 0 for a grid without services."""
    if assets.services is None:
        return np.zeros(len(assets.fac_kind))
    return resolved_storage(assets.services, assets.outside_c)
