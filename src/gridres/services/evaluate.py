"""Service status over time: power, buffers and dependencies, resolved to a fixed point.

Rule
----
Before the event every facility works. At every time ``t``:

* facility ``f`` *works* while it has power (grid or backup) and every dependency is
  *met*;
* ``f`` *delivers* its service while it works, and for ``storage_h`` hours after it stops
  (reservoirs, batteries, the buildings' heat);
* a dependency is *available* while at least one facility of its group delivers, and
  *met* while available and for ``buffer_h`` hours after it stops being available (the
  dependent's own tank);
* storage and buffers are full again as soon as what they bridge returns (an optimistic
  simplification: tanks and buildings refill in less time than outages last).

Dependencies may be circular: at each time the status is the **greatest fixed point**
of these rules, i.e. everything works unless a chain of failures forces it down. Two
facilities that need each other both stop when one loses power past its buffers, and
both work again as soon as both have power. The greatest fixed point is monotone: more
power never leaves a facility, or a person, with fewer services.

Evaluation is an event sweep: the status changes only when power changes or a storage
or buffer runs out, and at each such time the fixed point is found by iterating the
rules downwards from "everything that has power works" (at most one round per facility
on a chain of zero buffers; usually two).

Cost: ``O((K + X) · r · (n_fac + E))`` for ``K`` power changes, ``X`` expiries, ``r``
rounds and ``E`` dependencies; no loop over facilities, towns or buses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from gridres.errors import UsageError
from gridres.service_data import SERVICES
from gridres.services.heat import DEFAULT_OUTSIDE_C, HeatModel, heat_hours
from gridres.services.model import ServiceModel
from gridres.services.timeline import PowerTimeline

__all__ = ["ServiceResult", "evaluate_services", "people_without_power", "resolved_storage",
           "service_impact"]

_EPS = 1e-9


def resolved_storage(model: ServiceModel, outside_c: float | None = None,
                     heat: HeatModel | None = None) -> np.ndarray:
    """Storage hours of every facility, those of heat services left empty from the
    outside temperature (:func:`~gridres.services.heat.heat_hours`)."""
    outside = DEFAULT_OUTSIDE_C if outside_c is None else float(outside_c)
    storage = model.storage_h.copy()
    storage[np.isnan(storage)] = heat_hours(outside, heat or HeatModel())
    return storage


@dataclass(frozen=True, eq=False)
class ServiceResult:
    """Service status over time (see :func:`evaluate_services`).

    Status arrays have shape ``(K, n_fac)``: row ``k`` holds from ``times_h[k]`` until
    the next time (the last row until ``end_h``). Rows are written where the status
    changes.

    Attributes
    ----------
    model : ServiceModel
    times_h : ndarray, shape (K,)
    end_h : float
        End of the horizon (``inf``: no horizon; the last row is the lasting state).
    powered, works, delivers : ndarray of bool, shape (K, n_fac)
        Power (grid or backup), working (power and dependencies met), service reaching
        people (working or on storage).
    storage_h : ndarray, shape (n_fac,)
        The storage used (heat from the outside temperature).
    outside_c : float
    """

    model: ServiceModel
    times_h: np.ndarray
    end_h: float
    powered: np.ndarray
    works: np.ndarray
    delivers: np.ndarray
    storage_h: np.ndarray
    outside_c: float

    @property
    def impaired(self) -> np.ndarray:
        """Facilities with power that do not work: a dependency failed past its buffer."""
        return self.powered & ~self.works

    @cached_property
    def people_without(self) -> np.ndarray:
        """People without each service in each area, shape ``(K, S, n_area)`` (services
        in :data:`~gridres.service_data.SERVICES` order)."""
        lost = (~self.delivers).astype(float)
        out = np.asarray(lost @ self.model.by_service)
        return out.reshape(len(self.times_h), len(SERVICES), self.model.n_area)

    @cached_property
    def people_without_total(self) -> np.ndarray:
        """People without each service, shape ``(K, S)``."""
        return _totals(self.model, self.delivers)

    def people_hours(self) -> dict[str, float]:
        """``∫ people without the service dt`` from the first time to ``end_h``, per
        service that some facility provides.

        Raises
        ------
        UsageError
            If the result has no finite horizon.
        """
        if not math.isfinite(self.end_h):
            raise UsageError("people_hours needs a finite horizon: evaluate with end_h")
        dt = np.diff(np.append(self.times_h, max(self.end_h, self.times_h[-1])))
        hours = dt @ self.people_without_total
        present = set(self.model.services_present())
        return {s: float(hours[k]) for k, s in enumerate(SERVICES) if s in present}

    def area_losses(self) -> list[dict[str, Any]]:
        """Per area and service that loses people: when it starts and how many lack it.

        Returns
        -------
        list of dict
            ``town`` (area id, ``""`` for people of facilities without a town),
            ``service``, ``lost_h`` (first time anyone there lacks it), ``people`` (people
            without it in the last row: once every buffer has run out when there is no
            horizon), ``relying`` (people there who rely on it) and ``steps``
            (``[time_h, people]`` wherever the count changes). Sorted by ``lost_h``, then
            most people.
        """
        out = self.people_without
        relying = self.model.relying
        rows = []
        k_any = np.flatnonzero((out > 0.5).any(axis=0).ravel())
        n_area = self.model.n_area
        for flat in k_any:
            s, a = divmod(int(flat), n_area)
            series = out[:, s, a]
            change = np.r_[True, np.abs(np.diff(series)) > 0.5]
            first = int(np.flatnonzero(series > 0.5)[0])
            rows.append({
                "town": str(self.model.area_ids[a]),
                "service": SERVICES[s],
                "lost_h": float(self.times_h[first]),
                "people": int(round(float(series[-1]))),
                "relying": int(round(float(relying[s, a]))),
                "steps": [[float(t), int(round(float(v)))]
                          for t, v in zip(self.times_h[change], series[change], strict=True)],
            })
        rows.sort(key=lambda r: (r["lost_h"], -r["people"], r["town"], r["service"]))
        return rows

    def facility_losses(self) -> list[dict[str, Any]]:
        """Per facility whose service stops at some time: ``id``, ``service``,
        ``power_lost_h`` (first time without power, ``None`` if never),
        ``stopped_h`` (first time not working), ``cause`` (``"power"`` or
        ``"dependency"``: it had power then), ``service_lost_h`` (first time its
        service stops reaching people, ``None`` if it never does)."""
        rows = []
        t = self.times_h
        names = np.array(SERVICES + ("",))
        for f in np.flatnonzero((~self.works).any(axis=0)):
            stop = int(np.flatnonzero(~self.works[:, f])[0])
            off = np.flatnonzero(~self.powered[:, f])
            gone = np.flatnonzero(~self.delivers[:, f])
            rows.append({
                "id": str(self.model.fac_ids[f]),
                "service": str(names[self.model.service[f]]) or None,
                "power_lost_h": float(t[off[0]]) if len(off) else None,
                "stopped_h": float(t[stop]),
                "cause": "power" if not self.powered[stop, f] else "dependency",
                "service_lost_h": float(t[gone[0]]) if len(gone) else None,
            })
        rows.sort(key=lambda r: (r["stopped_h"], r["id"]))
        return rows


def _totals(model: ServiceModel, delivers: np.ndarray) -> np.ndarray:
    per_fac = np.zeros((model.n_fac, len(SERVICES)))
    has = model.service >= 0
    per_fac[np.flatnonzero(has), model.service[has]] = model.people_served[has]
    return (~delivers).astype(float) @ per_fac


def evaluate_services(
    model: ServiceModel,
    timeline: PowerTimeline,
    *,
    outside_c: float | None = None,
    heat: HeatModel | None = None,
    end_h: float = math.inf,
) -> ServiceResult:
    """Service status of every facility over time (rules in the module notes).

    Parameters
    ----------
    model : ServiceModel
        From :func:`~gridres.services.model.compile_services`.
    timeline : PowerTimeline
        Facility power over time (``n_fac`` columns in the model's order).
    outside_c : float, optional
        Outside temperature (°C) for the buildings' heat; default
        :data:`~gridres.services.heat.DEFAULT_OUTSIDE_C`.
    heat : HeatModel, optional
        The buildings' cooling model; default :class:`~gridres.services.heat.HeatModel`.
    end_h : float
        End of the horizon; ``inf`` (default) follows every storage and buffer to its
        end, so the last row is the lasting state.

    Returns
    -------
    ServiceResult

    Examples
    --------
    A waterworks (12 h of reservoir) loses power for a day; the hospital that needs its
    water (a 6 h tank) keeps its own power:

    >>> import pandas as pd
    >>> from gridres.model import Grid
    >>> from gridres.services.model import compile_services
    >>> g = Grid(
    ...     buses=pd.DataFrame({"id": ["a"], "ref": [True], "load_mw": [5.0]}),
    ...     branches=pd.DataFrame(columns=["id", "from_bus", "to_bus", "x_pu"]),
    ...     generators=pd.DataFrame({"id": ["g"], "bus": ["a"], "pmax_mw": [9.0]}),
    ...     facilities=pd.DataFrame({"id": ["W", "H"], "bus": ["a", "a"],
    ...                              "kind": ["water", "hospital"],
    ...                              "depends_on": ["", "water@6"], "people": [100, 10]}))
    >>> tl = PowerTimeline(np.array([0.0, 24.0]), np.array([[False, True], [True, True]]))
    >>> res = evaluate_services(compile_services(g), tl)
    >>> res.times_h.tolist(), res.delivers[:, 1].tolist()
    ([0.0, 12.0, 18.0, 24.0], [True, True, False, True])

    The water runs out at 12 h, the hospital's tank at 18 h, and both are back at 24 h.
    """
    if not end_h > timeline.times_h[0]:
        raise UsageError(f"evaluate_services: end_h ({end_h}) must come after the first "
                         f"time ({timeline.times_h[0]})")
    if timeline.n_fac != model.n_fac:
        raise UsageError(f"evaluate_services: the timeline has {timeline.n_fac} facilities, "
                         f"the model {model.n_fac}")
    storage = resolved_storage(model, outside_c, heat)
    n, n_groups = model.n_fac, model.n_groups
    dep_fac, dep_group, buffer_h = model.dep_fac, model.dep_group, model.dep_buffer_h
    member_group, member_fac = model.member_group, model.member_fac
    times = timeline.times_h
    power = timeline.powered

    works = np.ones(n, dtype=bool)
    avail = np.ones(n_groups, dtype=bool)
    stop = np.full(n, np.nan)  # when each facility stopped working
    lost = np.full(n_groups, np.nan)  # when each group stopped being available
    rec_t: list[float] = []
    rec: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    k = 0
    t = float(times[0])
    while t < end_h:
        p = power[k]
        tol = _EPS * max(1.0, abs(t))
        stop_eff = np.where(works, t, stop)
        lost_eff = np.where(avail, t, lost)
        on_store = (t - stop_eff) < storage - tol
        on_buffer = (t - lost_eff[dep_group]) < buffer_h - tol
        w = p.copy()
        while True:
            deliv = w | on_store
            av = np.bincount(member_group, weights=deliv[member_fac],
                             minlength=n_groups) > 0
            met = av[dep_group] | on_buffer
            unmet = np.bincount(dep_fac[~met], minlength=n) > 0
            w_new = p & ~unmet
            if np.array_equal(w_new, w):
                break
            w = w_new
        stop = np.where(w, np.nan, stop_eff)
        lost = np.where(av, np.nan, lost_eff)
        works, avail = w, av
        if not rec or not (np.array_equal(rec[-1][1], w) and np.array_equal(rec[-1][2], deliv)
                           and np.array_equal(rec[-1][0], p)):
            rec_t.append(t)
            rec.append((p, w, deliv))
        # the next change: power, or a storage or buffer running out
        nxt = float(times[k + 1]) if k + 1 < len(times) else math.inf
        ends = stop + storage
        ends = ends[~w & deliv & (ends > t + tol)]
        if len(ends):
            nxt = min(nxt, float(ends.min()))
        bends = lost[dep_group] + buffer_h
        bends = bends[~av[dep_group] & (bends > t + tol)]
        if len(bends):
            nxt = min(nxt, float(bends.min()))
        if not math.isfinite(nxt):
            break
        t = nxt
        while k + 1 < len(times) and times[k + 1] <= t + _EPS * max(1.0, abs(t)):
            k += 1
    powered = np.array([r[0] for r in rec], dtype=bool).reshape(len(rec), n)
    return ServiceResult(
        model=model,
        times_h=np.asarray(rec_t, dtype=float),
        end_h=float(end_h),
        powered=powered,
        works=np.array([r[1] for r in rec], dtype=bool).reshape(len(rec), n),
        delivers=np.array([r[2] for r in rec], dtype=bool).reshape(len(rec), n),
        storage_h=storage,
        outside_c=DEFAULT_OUTSIDE_C if outside_c is None else float(outside_c),
    )


def people_without_power(model: ServiceModel, shed_fraction: np.ndarray) -> np.ndarray:
    """People without power in each area.

    Parameters
    ----------
    model : ServiceModel
    shed_fraction : ndarray, shape (n_bus,) or (K, n_bus)
        Share of each bus's load not served (``Impact.shed_fraction``: 1 on dark buses).

    Returns
    -------
    ndarray, shape (n_area,) or (K, n_area)
        A town's people fed by each bus (:attr:`ServiceModel.bus_people`) times the
        bus's shed share, summed; 0 for the area without towns.
    """
    frac = np.asarray(shed_fraction, dtype=float)
    return np.asarray(model.bus_people.T @ frac.T).T


def service_impact(model: ServiceModel, outside_c: float | None = None) -> np.ndarray:
    """People who lose a service when a facility stays without power for good.

    For each facility ``f``: with ``f`` alone without power and every other facility
    powered, the services no longer delivered once every storage and buffer has run
    out (the lasting state of :func:`~gridres.services.evaluate_services`), counted in
    people per service lost: ``f``'s own service and those of every facility that stops
    because of it through dependencies.

    Returns
    -------
    ndarray, shape (n_fac,)

    Examples
    --------
    >>> from gridres.io import load_grid
    >>> from gridres.services.model import compile_services
    >>> g = load_grid("demo_region")
    >>> imp = service_impact(compile_services(g))
    >>> w = g.facilities.index.get_loc("W02")   # Ostrach's waterworks: its water and
    >>> round(float(imp[w]))                    # the health, heat, shelter that need it
    531400

    Notes
    -----
    One service evaluation per facility with a service or a dependent.
    """
    n = model.n_fac
    out = np.zeros(n)
    needed = set(model.member_fac.tolist()) | set(np.flatnonzero(model.service >= 0).tolist())
    for f in sorted(needed):
        powered = np.ones((1, n), dtype=bool)
        powered[0, f] = False
        res = evaluate_services(model, PowerTimeline(np.zeros(1), powered), outside_c=outside_c)
        out[f] = float(res.people_without_total[-1].sum())
    return out
