"""Fragility curves: probability that an asset fails at a given hazard intensity.

Each asset kind has a lognormal fragility curve (one damage state, "fails")::

    P(fail | x) = Φ( ln(x / median) / beta ),   x > 0;   P = 0 for x <= 0

with ``median`` the intensity at which half of such assets fail (in the hazard's unit) and
``beta`` the logarithmic standard deviation (dimensionless). Kinds:

``line``
    Overhead line or cable (every branch whose ``kind`` is not ``transformer``).
``transformer``
    Branch of kind ``transformer``.
``substation``
    A bus, or a substation (its buses fail together); alias ``bus``.
``generator``
    A generating unit; alias ``gen``.

``tower``
    A transmission tower: a study may give the curve of one tower instead of ``line``;
    it becomes the ``line`` curve per span, ``segment_km`` defaulting to
    :data:`TOWER_SPAN_KM` (0.3 km), so a line fails where any of its towers does.

Length scaling. With ``segment_km`` set for ``line`` (or ``transformer``), the curve
gives the failure probability of one segment of that length (a tower span, a pole
section), segments fail independently, and a branch of length ``L`` fails with
``1 - (1 - p)**(L / segment_km)`` where ``p`` is the segment's probability at the
branch's intensity (the maximum along its route, so a conservative estimate for a route
that only crosses the edge of a footprint). A branch without a ``length_km`` uses its
geometry's length, else counts as one segment. Without ``segment_km`` (the default) a
branch is one asset.

Defaults per hazard type (indicative values in the range of published curves, for
screening studies; replace them with the utility's own curves in a study file):

=========  ==========  ============  ============  ============  ============
hazard     unit        line          transformer   substation    generator
=========  ==========  ============  ============  ============  ============
wind       m/s (gust)  45, 0.20      60, 0.25      55, 0.25      60, 0.30
flood      m (depth)   3.0, 0.50     0.8, 0.40     0.6, 0.40     1.2, 0.40
generic    0-1 scale   0.5, 0.35     0.5, 0.35     0.5, 0.35     0.5, 0.35
=========  ==========  ============  ============  ============  ============

(each cell: median, beta.)

Wind is the 3-second gust at 10 m height (overhead lines and towers dominate the
damage); flood is the water depth above ground at the asset (substations and
transformers dominate). ``generic`` is a dimensionless intensity in [0, 1] for hazards
without physical units (an expert-judgement severity map).

Sampling draws one uniform per asset and fails it where ``u < p``: see
:func:`sample_failures`.

References
----------
M. Panteli, C. Pickering, S. Wilkinson, R. Dawson, P. Mancarella, "Power system
resilience to extreme weather: fragility modelling, probabilistic impact assessment,
and adaptation measures", IEEE Trans. Power Systems 32 (5), 2017.
FEMA, Hazus Flood and Hurricane Technical Manuals (utility systems), 2022.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import ndtr

from gridres.errors import UsageError

__all__ = [
    "Fragility",
    "FragilitySet",
    "fragility_set",
    "sample_failures",
    "ASSET_KINDS",
    "HAZARD_TYPES",
    "TOWER_SPAN_KM",
]

#: Default span between towers, km, for a ``tower`` curve.
TOWER_SPAN_KM = 0.3

#: Asset kinds with a curve of their own.
ASSET_KINDS = ("line", "transformer", "substation", "generator")
_ALIASES = {"bus": "substation", "gen": "generator"}

#: Default curves per hazard type: unit and ``{kind: (median, beta)}``.
HAZARD_TYPES: dict[str, dict[str, Any]] = {
    "wind": {
        "unit": "m/s",
        "curves": {"line": (45.0, 0.20), "transformer": (60.0, 0.25),
                   "substation": (55.0, 0.25), "generator": (60.0, 0.30)},
    },
    "flood": {
        "unit": "m",
        "curves": {"line": (3.0, 0.50), "transformer": (0.8, 0.40),
                   "substation": (0.6, 0.40), "generator": (1.2, 0.40)},
    },
    "generic": {
        "unit": "1",
        "curves": {k: (0.5, 0.35) for k in ASSET_KINDS},
    },
}


def _positive(kind: str, name: str, value: Any, optional: bool = False) -> float | None:
    if optional and value is None:
        return None
    ok = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
    if ok:
        value_f = float(value)
        ok = math.isfinite(value_f) and value_f > 0
    if not ok:
        must = "a float > 0" + (" or None" if optional else "")
        raise UsageError(
            f"The {name!r} parameter of fragility {kind!r} must be {must}. Got {value!r} instead."
        )
    return value_f


@dataclass(frozen=True)
class Fragility:
    """A lognormal fragility curve of one asset kind.

    Parameters
    ----------
    kind : str
        Asset kind, for messages (``line``, ``transformer``, ``substation``, ``generator``).
    median : float
        Intensity at which the failure probability is 0.5 (> 0, hazard unit).
    beta : float
        Logarithmic standard deviation (> 0).
    segment_km : float, optional
        Length the curve applies to, for branches (see the module notes).

    Examples
    --------
    >>> f = Fragility("line", median=40.0, beta=0.2)
    >>> float(f.probability(40.0))
    0.5
    >>> Fragility("line", median=40.0, beta=-1)
    Traceback (most recent call last):
    ...
    gridres.errors.UsageError: The 'beta' parameter of fragility 'line' must be a float > 0. Got -1 instead.
    """

    kind: str
    median: float
    beta: float
    segment_km: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "median", _positive(self.kind, "median", self.median))
        object.__setattr__(self, "beta", _positive(self.kind, "beta", self.beta))
        object.__setattr__(self, "segment_km",
                           _positive(self.kind, "segment_km", self.segment_km, optional=True))

    def probability(self, intensity: Any, length_km: Any = None) -> np.ndarray:
        """Failure probability at ``intensity`` (array-like, hazard unit).

        ``length_km`` (array-like, branches only) applies the length scaling when
        ``segment_km`` is set; NaN lengths count as one segment.
        """
        x = np.asarray(intensity, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.log(np.where(x > 0, x, 1.0) / self.median) / self.beta
        p = np.where(x > 0, ndtr(z), 0.0)
        if self.segment_km is not None and length_km is not None:
            length = np.asarray(length_km, dtype=float)
            n_seg = np.where(np.isfinite(length) & (length > 0), length / self.segment_km, 1.0)
            p = -np.expm1(n_seg * np.log1p(-np.minimum(p, 1.0)))
        return p


@dataclass(frozen=True)
class FragilitySet:
    """Curves of every asset kind for one hazard type.

    Use :func:`fragility_set` to build one from the defaults and a study's overrides.
    """

    hazard: str
    unit: str
    curves: Mapping[str, Fragility] = field(default_factory=dict)

    def __getitem__(self, kind: str) -> Fragility:
        return self.curves[_ALIASES.get(kind, kind)]

    def branch_probability(
        self, kind: np.ndarray, intensity: np.ndarray, length_km: np.ndarray
    ) -> np.ndarray:
        """Failure probability of branches: ``transformer`` curve for transformers,
        ``line`` curve for every other kind."""
        is_tr = np.asarray(kind).astype(str) == "transformer"
        p_line = self["line"].probability(intensity, length_km)
        p_tr = self["transformer"].probability(intensity, length_km)
        return np.where(is_tr, p_tr, p_line)


def fragility_set(
    hazard: str = "wind", overrides: Mapping[str, Mapping[str, Any]] | None = None
) -> FragilitySet:
    """The default curves of a hazard type with a study's overrides.

    Parameters
    ----------
    hazard : {"wind", "flood", "generic"}
    overrides : mapping, optional
        ``{kind: {"median": ..., "beta": ..., "segment_km": ...}}``; missing entries keep
        their defaults. Kinds: ``line``, ``transformer``, ``substation`` (``bus``),
        ``generator`` (``gen``), or ``tower`` instead of ``line`` (see the module notes).

    Returns
    -------
    FragilitySet

    Raises
    ------
    UsageError
        On an unknown hazard type, kind or parameter, or a parameter out of range.

    Examples
    --------
    >>> fs = fragility_set("flood", {"substation": {"median": 0.3}})
    >>> fs["bus"].median, fs["bus"].beta
    (0.3, 0.4)
    """
    if hazard not in HAZARD_TYPES:
        raise UsageError(
            f"The 'hazard' parameter must be one of {', '.join(HAZARD_TYPES)}. "
            f"Got {hazard!r} instead."
        )
    spec = HAZARD_TYPES[hazard]
    params: dict[str, dict[str, Any]] = {
        k: {"median": m, "beta": b, "segment_km": None} for k, (m, b) in spec["curves"].items()
    }
    overrides = dict(overrides or {})
    if "tower" in overrides:
        if "line" in overrides:
            raise UsageError("give fragility 'line' or 'tower' (a line's curve per tower span), "
                             "not both")
        tower = overrides.pop("tower")
        if not isinstance(tower, Mapping):
            raise UsageError(f"fragility 'tower': give a table of median, beta, segment_km; "
                             f"got {tower!r}")
        overrides["line"] = {"segment_km": TOWER_SPAN_KM, **tower}
    for raw_kind, values in overrides.items():
        kind = _ALIASES.get(raw_kind, raw_kind)
        if kind not in params:
            raise UsageError(
                f"unknown fragility kind {raw_kind!r}; use one of "
                f"{', '.join(ASSET_KINDS)}, tower (or bus, gen)"
            )
        if not isinstance(values, Mapping):
            raise UsageError(
                f"fragility {raw_kind!r}: give a table of median, beta, segment_km; "
                f"got {values!r}"
            )
        for name, value in values.items():
            if name not in ("median", "beta", "segment_km"):
                raise UsageError(
                    f"fragility {raw_kind!r}: unknown parameter {name!r}; use median, beta, "
                    "segment_km"
                )
            params[kind][name] = value
    curves = {k: Fragility(k, **v) for k, v in params.items()}
    return FragilitySet(hazard, spec["unit"], curves)


def sample_failures(p: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Fail each asset with its probability: one vectorised uniform draw per asset.

    Parameters
    ----------
    p : ndarray of float, shape (n,)
        Failure probabilities in [0, 1].
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of bool, shape (n,)
        ``u < p`` with ``u`` uniform on [0, 1); exactly ``n`` uniforms are drawn, so
        assets keep their draws whatever the probabilities (common random numbers when
        two designs of the same grid are compared).
    """
    return rng.random(len(p)) < np.asarray(p, dtype=float)
