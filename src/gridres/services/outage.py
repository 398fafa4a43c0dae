"""Services after one outage with no repairs: who loses which service, where, and when.

:func:`services_after` follows the engine's facility status at one instant (an
:class:`~gridres.impact.Impact`) forward in time: facilities on backup keep power for
their ``backup_hours``, nothing is repaired, and every storage and buffer runs to its
end. The result answers "after 18 h, 145,000 people in Ostrach lose water".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from gridres.impact import Impact
from gridres.service_data import SERVICES
from gridres.services.evaluate import ServiceResult, evaluate_services, people_without_power
from gridres.services.heat import HeatModel
from gridres.services.model import ServiceModel
from gridres.services.timeline import PowerTimeline

__all__ = ["OutageServices", "services_after"]


@dataclass(frozen=True, eq=False)
class OutageServices:
    """Services after an outage with no repairs.

    Attributes
    ----------
    result : ServiceResult
        Status over time; its last row is the lasting state.
    power_out : ndarray, shape (n_area,)
        People without power in each area (from the first instant on).
    """

    result: ServiceResult
    power_out: np.ndarray

    def losses(self) -> list[dict[str, Any]]:
        """Per town and service (``power`` first) that loses people: ``town``,
        ``service``, ``lost_h``, ``people`` (without it once every buffer has run out),
        ``relying`` and ``steps``, sorted by ``lost_h`` then most people."""
        model = self.result.model
        rows = []
        for a in np.flatnonzero(self.power_out > 0.5):
            people = int(round(float(self.power_out[a])))
            rows.append({"town": str(model.area_ids[a]), "service": "power", "lost_h": 0.0,
                         "people": people,
                         "relying": int(round(float(model.bus_people[:, a].sum()))),
                         "steps": [[float(self.result.times_h[0]), people]]})
        rows += self.result.area_losses()
        rows.sort(key=lambda r: (r["lost_h"], -r["people"], r["town"], r["service"]))
        return rows

    def people_without(self) -> dict[str, int]:
        """People without each service once every buffer has run out (power first)."""
        last = self.result.people_without_total[-1]
        present = set(self.result.model.services_present())
        out = {"power": int(round(float(self.power_out.sum())))}
        out.update({s: int(round(float(last[k]))) for k, s in enumerate(SERVICES)
                    if s in present})
        return out

    def timeline(self) -> list[dict[str, Any]]:
        """People without each service from each time on (a row where any changes)."""
        present = self.result.model.services_present()
        power = int(round(float(self.power_out.sum())))
        rows = []
        for t, row in zip(self.result.times_h, self.result.people_without_total, strict=True):
            rows.append({"time_h": float(t), "power": power,
                         **{s: int(round(float(row[SERVICES.index(s)]))) for s in present}})
        return rows

    def summary(self) -> dict[str, Any]:
        """One JSON-ready document: ``outside_c``, ``people_without``, ``towns``
        (:meth:`losses`), ``facilities`` (the result's ``facility_losses``),
        ``timeline``, ``not_modelled`` (service dependencies nobody provides)."""
        return {
            "outside_c": self.result.outside_c,
            "people_without": self.people_without(),
            "towns": self.losses(),
            "facilities": self.result.facility_losses(),
            "timeline": self.timeline(),
            "not_modelled": list(self.result.model.unmet),
        }


def services_after(model: ServiceModel, impact: Impact, *, outside_c: float | None = None,
                   heat: HeatModel | None = None) -> OutageServices:
    """Services after the outage that ``impact`` describes, with no repairs.

    Parameters
    ----------
    model : ServiceModel
        The grid's service model (its facilities in the network's order).
    impact : Impact
        The engine's result for the outage (after any cascade).
    outside_c : float, optional
        Outside temperature (°C); default
        :data:`~gridres.services.heat.DEFAULT_OUTSIDE_C`.
    heat : HeatModel, optional

    Returns
    -------
    OutageServices

    Examples
    --------
    >>> from gridres.io import load_grid
    >>> from gridres.impact import assess
    >>> from gridres.services.model import compile_services
    >>> g = load_grid("demo_region")
    >>> net = g.network
    >>> imp = assess(net, net.intact().fail(buses=g.lookup("buses", ["KALT1-110"])))
    >>> out = services_after(compile_services(g), imp)
    >>> [(r["service"], round(r["lost_h"], 1)) for r in out.losses() if r["town"] == "Kaltenfeld"]
    [('power', 0.0), ('water', 12.0), ('heat', 17.3), ('health', 24.0)]
    """
    net = impact.net
    timeline = PowerTimeline.from_status(impact.facility, net.fac_backup_hours)
    result = evaluate_services(model, timeline, outside_c=outside_c, heat=heat)
    return OutageServices(result=result,
                          power_out=people_without_power(model, impact.shed_fraction))
