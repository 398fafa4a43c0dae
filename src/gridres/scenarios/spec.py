"""Scenario specifications: one string (``--scenario``) or table (study files) to a generator.

:func:`scenario_from_spec` turns a spec into a :class:`~gridres.scenarios.base.ScenarioGenerator`
for a grid. A string spec is ``KIND:KEY=VALUE,KEY=VALUE,...``; a table spec (TOML, JSON,
a dict) has the same keys plus ``kind``. Values in strings are read as int, float,
``true``/``false`` or text. A string starting with ``{`` is read as a JSON table.

Grammar
-------
``explicit`` — the listed elements fail in one wave at ``time_h`` (default 0)::

    explicit:branch:L1,bus:7,gen:G2,substation:North
    {kind = "explicit", fail = ["branch:L1", "substation:North"], time_h = 0}
    {kind = "explicit", file = "outages.csv"}          # CSV or JSON outage list
    {kind = "explicit", scenarios = [{waves = [...]}, ...]}   # inline JSON form

  Shorthands: ``branch:L1`` (one element token, any of ``bus``, ``branch``, ``gen``,
  ``substation``), ``file:PATH`` and a bare ``PATH.csv`` / ``PATH.json``. Files follow
  :mod:`gridres.scenarios.explicit`; with several listed scenarios, ensemble scenario
  ``i`` is listed scenario ``i mod count``.

``random`` — random N-k (:mod:`gridres.scenarios.random`)::

    random:k=3,elements=branch,weight=length_km
    keys: k (int >= 1), elements (branch | bus | gen | substation | mixed; default branch),
          weight (a numeric column; default uniform), time_h

``circle`` — circular hazard footprint through fragility curves
(:mod:`gridres.scenarios.hazard`)::

    circle:lon=10.2,lat=50.1,radius_km=40,peak=55,falloff=gaussian,hazard=wind
    keys: lon, lat (degrees; or x, y in the grid's CRS units), radius_km (> 0), peak (hazard unit; default 50 m/s for
          wind, 2 m for flood, 1 for generic), falloff (linear | gaussian; default
          linear), hazard (wind | flood | generic; default wind), time_h, and fragility
          overrides as KIND.PARAM=VALUE (line.median=40, substation.beta=0.3,
          line.segment_km=1, tower.median=50) or a table
          ``fragility = {line = {median = 40}}``; kinds and defaults in
          :mod:`gridres.scenarios.fragility`

``polygons`` — polygon layer with an intensity attribute::

    polygons:path=flood.gpkg,layer=depth,attr=depth_m,hazard=flood
    keys: path (GeoJSON or GeoPackage), layer (default the first), attr (default depth_m),
          hazard (default flood), time_h, fragility overrides as for circle

``waves`` — several specs, each at its own start time, as one multi-wave scenario
(tables only, or a JSON string)::

    {kind = "waves", waves = [{time_h = 0, kind = "circle", lon = 10, lat = 50, radius_km = 30},
                              {time_h = 12, spec = "random:k=2"}]}

  Each wave is a spec table with ``time_h`` added, or ``{time_h, spec = "STRING"}``.

``strikes`` — repeated deliberate strikes (:mod:`gridres.scenarios.waves`)::

    strikes:waves=4,every_h=24,k=3,target=substation,weight=load_mw
    keys: waves (int >= 1), every_h, k, target (substation | bus | branch | gen;
          default substation), weight (default uniform), focus (default 1),
          start_h (default 0), distinct (default true)

``adaptive`` — an attacker who picks each wave's ``k`` worst targets at its time,
against the grid as it then stands, repairs included::

    adaptive:waves=4,every_h=24,k=3,target=substation,objective=shed_mw

  It searches with :func:`gridres.adversary.attack`, so it is built by
  :func:`gridres.adversary.scenario_generator` (which takes every other kind too, and
  which ``gridres ensemble``, ``gridres restore`` and study files use); its keys are
  documented in :mod:`gridres.adversary.adaptive`. :func:`scenario_from_spec` refuses it
  with that pointer.

Relative paths are taken from ``base_dir`` (a study file's folder) when given, else from
the working directory.

Examples
--------
>>> import numpy as np
>>> from gridres.io import load_grid
>>> grid = load_grid("ieee14")
>>> gen = scenario_from_spec("random:k=2,elements=branch", grid)
>>> sc = gen.sample(grid.network, np.random.default_rng([7, 0]))
>>> len(sc.waves), len(sc.waves[0].branches)
(1, 2)
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from gridres.elements import ELEMENT_KINDS
from gridres.errors import UsageError
from gridres.limits import MAX_NESTING, nesting_depth
from gridres.model import Grid
from gridres.scenarios.base import ScenarioGenerator
from gridres.scenarios.explicit import (
    ExplicitScenarios,
    explicit,
    read_scenarios,
    scenarios_from_records,
)
from gridres.scenarios.fragility import fragility_set
from gridres.scenarios.hazard import CircleFootprint, HazardScenarios, PolygonFootprint
from gridres.scenarios.random import RandomOutages
from gridres.scenarios.waves import StrikeCampaign, WaveSequence

__all__ = ["scenario_from_spec", "parse_spec", "check_keys", "SPEC_KINDS"]

_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?inf|nan", re.IGNORECASE)


def _value(text: str) -> Any:
    t = text.strip()
    if _INT.fullmatch(t):
        return int(t)
    if _FLOAT.fullmatch(t):
        return float(t)
    if t.lower() in ("true", "false"):
        return t.lower() == "true"
    return t


def parse_spec(spec: str | Mapping[str, Any]) -> dict[str, Any]:
    """Parse a spec string into its table form (a table is copied as is).

    Examples
    --------
    >>> parse_spec("circle:lon=10,lat=50.5,radius_km=30,line.median=40")
    {'kind': 'circle', 'lon': 10, 'lat': 50.5, 'radius_km': 30, 'fragility': {'line': {'median': 40}}}
    >>> parse_spec("branch:L1")
    {'kind': 'explicit', 'fail': ['branch:L1']}
    """
    if isinstance(spec, Mapping):
        return _nest(dict(spec))
    if not isinstance(spec, str):
        raise UsageError(f"a scenario spec is a string or a table, got {type(spec).__name__}")
    text = spec.strip()
    if not text:
        raise UsageError("empty scenario spec; e.g. random:k=2 or circle:lon=..,lat=..,radius_km=..")
    if text.startswith("{"):
        try:
            table = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"scenario spec is not valid JSON: {exc}") from None
        except RecursionError:
            table = None
        if table is None or nesting_depth(table) > MAX_NESTING:
            raise UsageError(f"scenario spec nests lists or objects more than {MAX_NESTING} "
                             "levels deep; a spec is a flat object such as "
                             '{"kind": "random", "k": 2}')
        if not isinstance(table, dict):
            raise UsageError("a JSON scenario spec must be an object with a 'kind'")
        return _nest(table)
    kind, _, rest = text.partition(":")
    kind = kind.strip().lower()
    if kind in ELEMENT_KINDS:
        return {"kind": "explicit", "fail": [text]}
    if kind == "explicit":
        return {"kind": "explicit", "fail": [t.strip() for t in rest.split(",") if t.strip()]}
    if kind == "file":
        return {"kind": "explicit", "file": rest.strip()}
    if not rest and Path(text).suffix.lower() in (".csv", ".json"):
        return {"kind": "explicit", "file": text}
    out: dict[str, Any] = {"kind": kind}
    for item in rest.split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(
                f"scenario spec {spec!r}: {item.strip()!r} is not KEY=VALUE "
                f"(e.g. {kind}:k=2)"
            )
        out[key.strip()] = _value(value)
    return _nest(out)


def _nest(table: dict[str, Any]) -> dict[str, Any]:
    """Move dotted ``KIND.PARAM`` keys into ``fragility``."""
    dotted = [k for k in table if isinstance(k, str) and "." in k]
    if dotted:
        frag = {k: dict(v) for k, v in dict(table.get("fragility") or {}).items()}
        for key in dotted:
            kind, param = key.split(".", 1)
            frag.setdefault(kind, {})[param] = table.pop(key)
        table["fragility"] = frag
    return table


def _float(t: Mapping[str, Any], key: str, default: float, kind: str) -> float:
    value = t.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UsageError(f"The {key!r} parameter of {kind} must be a float. Got {value!r} instead.")
    return float(value)


def check_keys(table: Mapping[str, Any], allowed: set[str], kind: str) -> None:
    """Refuse a key of a ``kind`` spec that is not in ``allowed`` (``kind`` aside), with
    the closest known key as a hint."""
    unknown = sorted(set(table) - allowed - {"kind"})
    if unknown:
        close = difflib.get_close_matches(unknown[0], sorted(allowed), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UsageError(
            f"unknown key {unknown[0]!r} for a {kind} scenario{hint}; keys: "
            + ", ".join(sorted(allowed))
        )


def _path(value: Any, base_dir: Path | None) -> Path:
    p = Path(str(value)).expanduser()
    return p if p.is_absolute() or base_dir is None else base_dir / p


def _explicit(t: dict, grid: Grid, base_dir: Path | None) -> ScenarioGenerator:
    check_keys(t, {"fail", "file", "scenarios", "time_h", "label"}, "explicit")
    given = [k for k in ("fail", "file", "scenarios") if k in t]
    if len(given) != 1:
        raise UsageError("an explicit scenario needs exactly one of fail, file, scenarios")
    if "file" in t:
        return ExplicitScenarios(grid, read_scenarios(_path(t["file"], base_dir), grid))
    if "scenarios" in t:
        return ExplicitScenarios(grid, scenarios_from_records(t["scenarios"], grid))
    fail = t["fail"]
    if isinstance(fail, str):
        fail = [s.strip() for s in fail.split(",") if s.strip()]
    return explicit(grid, fail, time_h=_float(t, "time_h", 0.0, "explicit"),
                    label=str(t.get("label", "")))


def _random(t: dict, grid: Grid, base_dir: Path | None) -> ScenarioGenerator:
    check_keys(t, {"k", "elements", "weight", "time_h"}, "random")
    if "k" not in t:
        raise UsageError("a random scenario needs k (elements per scenario), e.g. random:k=2")
    return RandomOutages(grid, k=t["k"], elements=t.get("elements", "branch"),
                         weight=t.get("weight"), time_h=_float(t, "time_h", 0.0, "random"))


_DEFAULT_PEAK = {"wind": 50.0, "flood": 2.0, "generic": 1.0}


def _fragility(t: dict):
    frag = t.get("fragility") or {}
    if not isinstance(frag, Mapping):
        raise UsageError("fragility must be a table {KIND = {median = .., beta = ..}}")
    return fragility_set(str(t.get("hazard", "wind")), frag)


def _circle(t: dict, grid: Grid, base_dir: Path | None) -> ScenarioGenerator:
    check_keys(t, {"lon", "lat", "x", "y", "radius_km", "peak", "falloff", "hazard",
                    "fragility", "time_h"}, "circle")
    if "radius_km" not in t:
        raise UsageError("a circle hazard needs radius_km, e.g. circle:lon=10,lat=50,radius_km=30")
    t.setdefault("hazard", "wind")
    fs = _fragility(t)
    fp = CircleFootprint(radius_km=t["radius_km"], peak=t.get("peak", _DEFAULT_PEAK[fs.hazard]),
                         falloff=t.get("falloff", "linear"), lon=t.get("lon"), lat=t.get("lat"),
                         x=t.get("x"), y=t.get("y"))
    return HazardScenarios(grid, fp, fs, time_h=_float(t, "time_h", 0.0, "circle"))


def _polygons(t: dict, grid: Grid, base_dir: Path | None) -> ScenarioGenerator:
    check_keys(t, {"path", "layer", "attr", "hazard", "fragility", "time_h"}, "polygons")
    if "path" not in t:
        raise UsageError("a polygons hazard needs path=FILE (GeoJSON or GeoPackage)")
    t.setdefault("hazard", "flood")
    fs = _fragility(t)
    fp = PolygonFootprint(_path(t["path"], base_dir), str(t.get("attr", "depth_m")),
                          t.get("layer"))
    return HazardScenarios(grid, fp, fs, time_h=_float(t, "time_h", 0.0, "polygons"))


def _waves(t: dict, grid: Grid, base_dir: Path | None) -> ScenarioGenerator:
    check_keys(t, {"waves", "label"}, "waves")
    waves = t.get("waves")
    if not isinstance(waves, list) or not waves:
        raise UsageError(
            "a waves scenario needs waves = [{time_h = 0, kind = ..}, ..] (a table or JSON spec)"
        )
    parts = []
    for i, w in enumerate(waves):
        if not isinstance(w, Mapping):
            raise UsageError(f"waves[{i}]: expected a table with time_h and a spec")
        w = dict(w)
        time_h = _float(w, "time_h", 0.0, f"waves[{i}]")
        w.pop("time_h", None)
        if "spec" in w:
            if set(w) != {"spec"}:
                raise UsageError(f"waves[{i}]: give either spec = \"..\" or the spec's keys")
            sub = w["spec"]
        else:
            sub = w
        try:
            parts.append((time_h, scenario_from_spec(sub, grid, base_dir=base_dir)))
        except UsageError as exc:
            raise UsageError(f"waves[{i}]: {exc}") from None
    return WaveSequence(parts, label=str(t.get("label", "")))


def _strikes(t: dict, grid: Grid, base_dir: Path | None) -> ScenarioGenerator:
    keys = {"waves", "every_h", "k", "target", "weight", "focus", "start_h", "distinct"}
    check_keys(t, keys, "strikes")
    args = {k: t[k] for k in keys if k in t}
    for k in ("every_h", "focus", "start_h"):
        if k in args:
            args[k] = _float(args, k, 0.0, "strikes")
    return StrikeCampaign(grid, **args)


#: Spec kinds and their builders ``(table, grid, base_dir) -> generator``.
SPEC_KINDS: dict[str, Callable[[dict, Grid, Path | None], ScenarioGenerator]] = {
    "explicit": _explicit,
    "random": _random,
    "circle": _circle,
    "polygons": _polygons,
    "waves": _waves,
    "strikes": _strikes,
}


def scenario_from_spec(
    spec: str | Mapping[str, Any], grid: Grid, *, base_dir: str | Path | None = None
) -> ScenarioGenerator:
    """Build the scenario generator a spec describes (grammar in the module notes).

    Parameters
    ----------
    spec : str or mapping
        ``"random:k=2"``, ``{"kind": "circle", ...}``, ``"file:outages.csv"`` ...
    grid : Grid
        The grid the generator samples (its network, ``grid.network``).
    base_dir : str or Path, optional
        Folder that relative paths in the spec are taken from.

    Returns
    -------
    ScenarioGenerator
        ``gen.sample(grid.network, rng)`` draws one :class:`Scenario`.

    Raises
    ------
    UsageError
        On an unknown kind or key, a parameter out of range, or an unknown element id.
    InputNotFound
        If a file the spec names does not exist.
    GridError
        If an outage file is malformed.
    """
    table = parse_spec(spec)
    kind = str(table.get("kind", "")).strip().lower()
    if kind == "adaptive":
        raise UsageError("scenario kind 'adaptive' chooses its strikes with the attacker of "
                         "gridres.adversary; build it with gridres.adversary."
                         "scenario_generator(spec, grid, cascade=...) (gridres ensemble, "
                         "restore and study files do), and not inside a waves table")
    if kind not in SPEC_KINDS:
        close = difflib.get_close_matches(kind, [*SPEC_KINDS, "adaptive"], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UsageError(
            f"unknown scenario kind {kind!r}{hint}; use one of {', '.join(SPEC_KINDS)}, "
            "adaptive, file:PATH or an element such as branch:ID"
        )
    base = Path(base_dir) if base_dir is not None else None
    return SPEC_KINDS[kind](dict(table), grid, base)
