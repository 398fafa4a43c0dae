"""How long buildings stay warm without heat supply: a lumped-capacity cooling model.

Rule
----
A heated building cools towards the outside temperature with one time constant
``tau`` (Newton's law of cooling; a lumped-capacitance model of the building):
``T(t) = T_out + (T_in - T_out) · exp(-t / tau)``. Heat counts as lost when the inside
falls below ``threshold_c``, after

    ``t = tau · ln((T_in - T_out) / (threshold_c - T_out))`` hours,

and never when the outside is at or above the threshold. With the defaults (``tau`` =
60 h, a typical value for masonry homes; from 20 °C inside down to 15 °C) that is
10.9 h at -10 °C, 17.3 h at 0 °C, 24.3 h at 5 °C and 41.6 h at 10 °C. The buildings'
heat is the storage of a heat service (``storage_h`` of a district-heating plant left
empty); it is full again as soon as the heat supply returns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gridres.errors import UsageError

__all__ = ["HeatModel", "heat_hours", "DEFAULT_OUTSIDE_C"]

#: Outside temperature (°C) used when none is given: a winter day.
DEFAULT_OUTSIDE_C = 0.0


@dataclass(frozen=True)
class HeatModel:
    """Parameters of the cooling model (see the module notes).

    Attributes
    ----------
    time_constant_h : float
        Hours for the inside-outside difference to fall to 1/e (> 0).
    indoor_c : float
        Inside temperature when the heat supply stops (°C).
    threshold_c : float
        Inside temperature below which heat counts as lost (°C, below ``indoor_c``).
    """

    time_constant_h: float = 60.0
    indoor_c: float = 20.0
    threshold_c: float = 15.0

    def __post_init__(self) -> None:
        if not (self.time_constant_h > 0 and math.isfinite(self.time_constant_h)):
            raise UsageError("The 'time_constant_h' parameter of HeatModel must be a "
                             f"positive number of hours. Got {self.time_constant_h} instead.")
        if not (math.isfinite(self.indoor_c) and math.isfinite(self.threshold_c)
                and self.threshold_c < self.indoor_c):
            raise UsageError("The 'threshold_c' parameter of HeatModel must be below "
                             f"indoor_c ({self.indoor_c}). Got {self.threshold_c} instead.")


def heat_hours(outside_c: float, model: HeatModel | None = None) -> float:
    """Hours until homes without heat supply fall below the threshold temperature.

    Parameters
    ----------
    outside_c : float
        Outside temperature (°C).
    model : HeatModel, optional
        Default :class:`HeatModel`.

    Returns
    -------
    float
        ``inf`` when the outside is at or above ``model.threshold_c``.

    Examples
    --------
    >>> round(heat_hours(0.0), 1), round(heat_hours(-10.0), 1), heat_hours(18.0)
    (17.3, 10.9, inf)
    """
    if not math.isfinite(outside_c):
        raise UsageError(f"The 'outside_c' parameter of heat_hours must be a finite "
                         f"temperature in °C. Got {outside_c} instead.")
    model = model or HeatModel()
    if outside_c >= model.threshold_c:
        return math.inf
    return model.time_constant_h * math.log((model.indoor_c - outside_c)
                                            / (model.threshold_c - outside_c))
