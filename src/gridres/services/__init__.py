"""Services that depend on power: water, heat, telecom, health, shelter, emergency.

A facility provides a service to towns, needs power and possibly other services, and
bridges their loss with buffers; people in the towns lose a service when the facilities
that provide it stop and their storage runs out.

* :func:`~gridres.services.model.compile_services`: a grid's towns and service columns
  (:mod:`gridres.service_data`) as a :class:`~gridres.services.model.ServiceModel`.
* :class:`~gridres.services.timeline.PowerTimeline`: facility power over time (from a
  restoration run, or one ``assess`` instant with :meth:`PowerTimeline.from_status`).
* :func:`~gridres.services.evaluate.evaluate_services`: service status over time, people
  without each service per town, people-hours per service.
* :func:`~gridres.services.outage.services_after`: who loses which service after one
  outage with no repairs (``gridres outage``).
* :func:`~gridres.services.evaluate.service_impact`: people who lose a service when a
  facility stays without power (what ``critical-first`` restores first).
* :func:`~gridres.services.heat.heat_hours`: how long homes stay warm.

This package sits above the engine beside restoration; it imports neither restoration,
study, report nor cli.
"""

from gridres.services.evaluate import (
    ServiceResult,
    evaluate_services,
    people_without_power,
    resolved_storage,
    service_impact,
)
from gridres.services.heat import DEFAULT_OUTSIDE_C, HeatModel, heat_hours
from gridres.services.model import ServiceModel, compile_services
from gridres.services.outage import OutageServices, services_after
from gridres.services.timeline import PowerTimeline

__all__ = [
    "DEFAULT_OUTSIDE_C",
    "HeatModel",
    "OutageServices",
    "PowerTimeline",
    "ServiceModel",
    "ServiceResult",
    "compile_services",
    "evaluate_services",
    "heat_hours",
    "people_without_power",
    "resolved_storage",
    "service_impact",
    "services_after",
]
