"""Services over time from a restoration run: who lacks power, water, heat, telecom,
health care, shelter and emergency response, town by town, while the grid is repaired.

A run records the power status of every facility at every instant it changes (grid,
mobile generator, backup, dark: :mod:`gridres.restoration.fleets`) and the people
without power in every town (the people of each town fed by each bus, times the share
of the bus's load lost since before the event, as customers are counted). From the
facility status, :func:`run_services` builds a
:class:`~gridres.services.PowerTimeline` (a facility has power unless it is dark) and
evaluates the service rules of :func:`gridres.services.evaluate_services` (storage,
dependencies, buffers; heat from the outside temperature) up to the end of the run.

``service_people_hours`` per service is ``∫ people without it dt`` from the start to the
end of the run (full restoration, or the horizon); the ``power`` entry counts people in
towns (a grid without towns has none).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gridres.restoration.fleets import DARK, GRID
from gridres.service_data import SERVICES
from gridres.services.evaluate import evaluate_services
from gridres.services.model import ServiceModel
from gridres.services.timeline import PowerTimeline

__all__ = ["SERVICE_KEYS", "RunServices", "run_services"]

#: What people can lack, in reporting order: power, then the services.
SERVICE_KEYS = ("power", *SERVICES)


@dataclass(frozen=True, eq=False)
class RunServices:
    """People without power and each service over one run.

    Attributes
    ----------
    area_ids : pandas.Index
        Town ids, then ``""`` (people of facilities without a town).
    times_h : ndarray, shape (K,)
        Step times: row ``k`` holds from ``times_h[k]`` to the next (the last to
        ``end_h``).
    end_h : float
    people_without : ndarray, shape (K, len(SERVICE_KEYS), n_area)
    present : tuple of str
        ``power`` and the services some facility provides.
    facilities : tuple of dict
        Facilities whose service stopped, in order of stopping
        (:meth:`gridres.services.ServiceResult.facility_losses`).
    outside_c : float
    """

    area_ids: pd.Index
    times_h: np.ndarray
    end_h: float
    people_without: np.ndarray
    present: tuple[str, ...]
    facilities: tuple[dict[str, Any], ...]
    outside_c: float

    def _dt(self) -> np.ndarray:
        ends = np.append(self.times_h[1:], max(self.end_h, float(self.times_h[-1])))
        return np.clip(ends - self.times_h, 0.0, None)

    def town_hours(self) -> np.ndarray:
        """People-hours without each service per area, shape ``(len(SERVICE_KEYS),
        n_area)``."""
        return np.einsum("k,ksa->sa", self._dt(), self.people_without)

    def people_hours(self) -> dict[str, float]:
        """``∫ people without it dt`` per entry of :data:`SERVICE_KEYS` (0 for a
        service no facility provides)."""
        hours = self.town_hours().sum(axis=1)
        return {s: float(hours[k]) for k, s in enumerate(SERVICE_KEYS)}

    def at(self, times_h: np.ndarray) -> np.ndarray:
        """People without each service per area at ``times_h`` (the step holding at
        each time; 0 before the first), shape ``(T, len(SERVICE_KEYS), n_area)``.
        After ``end_h`` every service is back."""
        t = np.asarray(times_h, dtype=float)
        idx = np.searchsorted(self.times_h, t, side="right") - 1
        out = self.people_without[np.clip(idx, 0, None)].copy()
        out[(idx < 0) | (t >= self.end_h)] = 0.0
        return out

    def totals(self) -> pd.DataFrame:
        """People without each service from each time on: ``time_h`` and a column per
        entry of :attr:`present`."""
        tot = self.people_without.sum(axis=2)
        data = {"time_h": self.times_h}
        for k, s in enumerate(SERVICE_KEYS):
            if s in self.present:
                data[s] = np.round(tot[:, k]).astype(np.int64)
        return pd.DataFrame(data)

    def by_town(self) -> pd.DataFrame:
        """People without each service in each town over time (long format): ``town``,
        ``service``, ``time_h``, ``people``, one row where the count changes (from the
        first time anyone there lacks it)."""
        rows = []
        for k, s in enumerate(SERVICE_KEYS):
            series = self.people_without[:, k, :]
            for a in np.flatnonzero((series > 0.5).any(axis=0)):
                v = np.round(series[:, a])
                change = np.r_[True, np.diff(v) != 0] & (np.cumsum(v > 0.5) > 0)
                rows.extend({"town": str(self.area_ids[a]), "service": s, "time_h": float(t),
                             "people": int(p)}
                            for t, p in zip(self.times_h[change], v[change], strict=True))
        return pd.DataFrame(rows, columns=["town", "service", "time_h", "people"])


def run_services(model: ServiceModel, outside_c: float, times_h: np.ndarray,
                 status: np.ndarray, power_out: np.ndarray, end_h: float) -> RunServices:
    """Services over a run from its facility status and people without power.

    Parameters
    ----------
    model : ServiceModel
    outside_c : float
    times_h : ndarray, shape (K,)
        Step times of the run (strictly increasing).
    status : ndarray of int, shape (K, n_fac)
        Facility status codes (:data:`gridres.restoration.fleets.STATUS_NAMES`).
    power_out : ndarray, shape (K, n_area)
        People without power per area.
    end_h : float
        End of the run.

    Returns
    -------
    RunServices

    Examples
    --------
    A waterworks (12 h of reservoir) without power or backup from 0 to 20 h: its town's
    100 people lose water at 12 h and get it back at 20 h (800 people-hours):

    >>> import pandas as pd
    >>> from gridres.model import Grid
    >>> from gridres.services.model import compile_services
    >>> g = Grid(buses=pd.DataFrame({"id": ["a"], "ref": [True], "town": ["T"]}),
    ...          branches=pd.DataFrame(columns=["id", "from_bus", "to_bus", "x_pu"]),
    ...          facilities=pd.DataFrame({"id": ["W"], "bus": ["a"], "kind": ["water"]}),
    ...          towns=pd.DataFrame({"id": ["T"], "population": [100]}))
    >>> rs = run_services(compile_services(g), 0.0, np.array([0.0, 20.0]),
    ...                   np.array([[3], [0]]), np.zeros((2, 2)), 30.0)
    >>> rs.people_hours()["water"], rs.times_h.tolist()
    (800.0, [0.0, 12.0, 20.0])
    """
    times = np.asarray(times_h, dtype=float)
    status = np.asarray(status).reshape(len(times), model.n_fac)
    power_out = np.asarray(power_out, dtype=float).reshape(len(times), model.n_area)
    present = ("power", *model.services_present())
    n_keys = len(SERVICE_KEYS)
    if not end_h > times[0]:
        return RunServices(model.area_ids, times[:1], float(end_h),
                           np.zeros((1, n_keys, model.n_area)), present, (), float(outside_c))
    res = evaluate_services(model, PowerTimeline(times, status != DARK, status == GRID),
                            outside_c=outside_c, end_h=end_h)
    union = np.union1d(times, res.times_h)
    union = union[union < end_h] if (union < end_h).any() else union[:1]
    i_pow = np.searchsorted(times, union, side="right") - 1
    i_svc = np.searchsorted(res.times_h, union, side="right") - 1
    out = np.zeros((len(union), n_keys, model.n_area))
    out[:, 0, :] = power_out[np.clip(i_pow, 0, None)]
    svc = res.people_without[np.clip(i_svc, 0, None)]
    svc[i_svc < 0] = 0.0
    out[:, 1:, :] = svc
    keep = np.r_[True, np.abs(np.diff(out, axis=0)).reshape(len(union) - 1, -1).max(
        axis=1, initial=0.0) > 1e-9] if len(union) > 1 else np.array([True])
    return RunServices(model.area_ids, union[keep], float(end_h), out[keep], present,
                       tuple(res.facility_losses()), float(outside_c))

