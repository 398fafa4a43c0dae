"""Study-file sections as frozen dataclasses, and the checks of their values.

Each section of a study file is one dataclass below. A field's metadata says what TOML
type it takes (``kind``), what values are allowed (``check``, a function that returns an
error message or None) and what it means (``doc``, shown in the report's methods
section). :func:`parse_section` reads one TOML table into a section, collecting every
problem instead of stopping at the first; unknown keys are problems too, with the
closest known key as a hint.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gridres.adversary.evaluate import OBJECTIVES as STRIKE_OBJECTIVES
from gridres.adversary.targets import TARGETS
from gridres.cascade import MODES, CascadeOptions
from gridres.errors import UsageError
from gridres.restoration.fleets import split_policy
from gridres.restoration.metrics import LOSS_METRICS
from gridres.restoration.policies import needs_priority, policy_names
from gridres.restoration.settings import RestorationSettings
from gridres.service_data import SERVICE_COLUMNS

__all__ = [
    "REQUIRED",
    "StudyInfo",
    "GridSection",
    "EnsembleSection",
    "CascadeSection",
    "RestorationSection",
    "ServicesSection",
    "PlanSection",
    "PLAN_POLICY",
    "DemandSection",
    "DeficitSection",
    "WORST_CASE",
    "DefendSection",
    "OutputsSection",
    "Collector",
    "parse_section",
    "parse_restoration",
    "plain_message",
    "section_docs",
    "hazard_path",
]

logger = logging.getLogger(__name__)

Check = Callable[[Any], str | None]


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


#: Default of a key that a study must give.
REQUIRED: Any = _Required()


def _f(default: Any, kind: str, doc: str, check: Check | None = None) -> Any:
    if isinstance(default, list | dict):
        value = default
        return field(default_factory=lambda: type(value)(value),
                     metadata={"kind": kind, "doc": doc, "check": check})
    return field(default=default, metadata={"kind": kind, "doc": doc, "check": check})


# -- value checks -----------------------------------------------------------------------
def ge(bound: float) -> Check:
    return lambda v: None if v >= bound else f"must be >= {bound:g}, got {v!r}"


def one_of(*options: str) -> Check:
    def check(v: Any) -> str | None:
        if v in options:
            return None
        close = difflib.get_close_matches(str(v), options, n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"unknown value {v!r}{hint} (one of: {', '.join(options)})"

    return check


def _restoration_policy(v: str) -> str | None:
    """A name of :func:`gridres.restoration.policy_names`, optionally ``/RULE``."""
    names = policy_names()
    try:
        crew, _ = split_policy(v)
    except UsageError as exc:
        return str(exc)
    if crew in names:
        return None
    close = difflib.get_close_matches(v, names, n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown restoration policy {v!r}{hint} (one of: {', '.join(names)})"


#: Restoration policy of a plan when the study names none (also ``gridres plan``'s).
PLAN_POLICY = "greedy"


def each(check: Check) -> Check:
    def inner(v: Any) -> str | None:
        items = v.items() if isinstance(v, Mapping) else enumerate(v)
        for k, x in items:
            msg = check(x)
            if msg:
                return f"[{k!r}] {msg}" if isinstance(k, str) else f"item {k}: {msg}"
        return None

    return inner


def _scheduler(v: str) -> str | None:
    if v in ("processes", "serial") or v.startswith("tcp://"):
        return None
    return (f"unknown scheduler {v!r}; use processes, serial or tcp://HOST:PORT (a Dask "
            "scheduler)")


def _workers(v: Any) -> str | None:
    if v == "auto" or (isinstance(v, int) and not isinstance(v, bool) and v >= 1):
        return None
    return f"must be an integer >= 1 or \"auto\", got {v!r}"


# -- sections ---------------------------------------------------------------------------
@dataclass(frozen=True)
class StudyInfo:
    """``[study]``: what the study is and the seed that fixes every random draw."""

    name: str = _f("", "str", "Study name (default: the file name without .toml).")
    description: str = _f("", "str", "A sentence or two for the report's title page.")
    seed: int = _f(REQUIRED, "int", "Seed of every random draw: the same seed gives the "
                   "same numbers.", ge(0))


@dataclass(frozen=True)
class GridSection:
    """``[grid]``: which grid the study runs on."""

    source: str = _f(REQUIRED, "str", "A bundled grid name, a .gpkg or MATPOWER .m file "
                     "(relative to the study file), or matpower:NAME.")
    validate: bool = _f(True, "bool", "Refuse grids that fail validation.")


@dataclass(frozen=True)
class EnsembleSection:
    """``[ensemble]``: how many scenarios are drawn and where they run."""

    n: int = _f(100, "int", "Number of scenarios drawn.", ge(1))
    workers: Any = _f("auto", "any", "Worker processes (\"auto\": one per core).", _workers)
    scheduler: str = _f("processes", "str", "processes (local worker processes), serial "
                        "(this process), or tcp://HOST:PORT for a Dask scheduler.", _scheduler)
    batch_size: int = _f(0, "int", "Scenarios per task (0: chosen from n and workers).",
                         ge(0))


def _cascade_mode(v: str) -> str | None:
    if v == "off":
        return 'mode = "off" is the old spelling; write mode = "none"'
    return one_of(*MODES)(v)


@dataclass(frozen=True)
class CascadeSection:
    """``[cascade]``: how the grid reacts to overloads, after the initial failures and at
    every event of a restoration (the same option as ``--cascade-mode`` and
    ``--margin`` of the commands)."""

    mode: str = _f("none", "str", "none: overloads are reported, nothing trips; trip: "
                   "branches above rating x (1 + margin) trip until none is overloaded; "
                   "redispatch: the operator first redispatches generation and sheds load "
                   "to relieve overloads, and only what stays overloaded trips.",
                   _cascade_mode)
    margin: float = _f(0.0, "float", "Overload margin, a fraction: a branch is overloaded "
                       "above rating x (1 + margin); 0.1 = 10 % over.", ge(0))
    max_stages: int = _f(1000, "int", "Safety bound on cascade stages.", ge(1))

    @property
    def options(self) -> CascadeOptions:
        """The section as the engine's :class:`~gridres.cascade.CascadeOptions`."""
        return CascadeOptions(self.mode, self.margin, self.max_stages)


@dataclass(frozen=True, eq=False)
class RestorationSection:
    """``[restoration]``: the dispatch policies to compare and the parameters of
    :class:`gridres.restoration.RestorationSettings` (crews, depots, speed_kmh,
    road_factor, repair hours, spares, lead times, horizon, ...), which declares, checks
    and documents them; every key of that class is a key of this table.

    Attributes
    ----------
    policies : tuple of str
        Policies to compare (default: critical-first, greedy, largest-load-first).
    priority : tuple of str
        Element tokens (``branch:ID``, ``bus:ID``, ``gen:ID``) in the order the
        ``priority-list`` policy repairs them.
    settings : RestorationSettings or None
        None where the study's values do not make valid settings (the problems say why).
    given : dict
        The keys as written in the study file.
    """

    policies: tuple[str, ...] = ()
    settings: Any = None
    given: dict = field(default_factory=dict)
    priority: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Policies, the priority list and every setting, defaults filled in."""
        values = self.settings.to_dict() if self.settings is not None else dict(self.given)
        return {"policies": list(self.policies), "priority": list(self.priority), **values}


def _hours_list(v: list) -> str | None:
    if not v:
        return "give at least one time in hours"
    if any(x < 0 for x in v):
        return f"hours must be >= 0, got {min(v)!r}"
    return None


def _service_tables(v: dict) -> str | None:
    for fid, cols in v.items():
        for col in cols:
            if col not in SERVICE_COLUMNS:
                close = difflib.get_close_matches(col, list(SERVICE_COLUMNS), n=1, cutoff=0.6)
                hint = f"did you mean {close[0]!r}?" if close else \
                    f"columns: {', '.join(SERVICE_COLUMNS)}"
                return f"[{fid!r}] {col!r} is not a service column; {hint}"
    return None


@dataclass(frozen=True)
class ServicesSection:
    """``[services]``: how services that depend on power are judged (water, heat,
    telecom, health care, shelter, emergency response; rules in
    :mod:`gridres.services`)."""

    outside_temp_c: float = _f(0.0, "float", "Outside temperature (°C) for how long homes "
                               "stay warm without heat supply (17 h at 0 °C, 11 h at "
                               "-10 °C).")
    report_hours: list[float] = _f([12.0, 24.0, 48.0], "float_list", "Times (hours after "
                                   "the event) at which the towns layer of results.gpkg "
                                   "and the towns table give people without each service.",
                                   _hours_list)
    facilities: dict[str, dict[str, Any]] = _f({}, "table_map", "Service columns per "
                                               "facility, [services.facilities.ID] with town, "
                                               "service, serves, coverage, depends_on, "
                                               "storage_h (as in the grid's facilities "
                                               "table, which they replace).",
                                               _service_tables)
#: The plan objective that lowers the worst k-strike damage of ``[defend]``.
WORST_CASE = "worst_case"


@dataclass(frozen=True)
class PlanSection:
    """``[plan]`` (or ``[interventions]``): candidate interventions, costs and budget."""

    budget: float = _f(REQUIRED, "float", "Money available for interventions.", ge(0))
    objective: str = _f("ens_mwh", "str", "What the portfolio minimises: ens_mwh (energy "
                        "not served), customer_hours, facility_hours_dark, people_hours "
                        "(expected values over the scenarios), service_people_hours_S (S: "
                        "power, water, heat, telecom, health, shelter, emergency), or "
                        "worst_case (the attacker's worst strikes of [defend]).",
                        one_of(*LOSS_METRICS, WORST_CASE))
    policy: str = _f(PLAN_POLICY, "str", "Restoration policy every candidate is evaluated "
                     "under (default: the first [restoration] policy, else greedy).",
                     _restoration_policy)
    candidates: list[dict[str, Any]] = _f([], "table_list", "Candidate interventions: "
                                          "kind (line, backup, tank, generator, "
                                          "storage, microgrid, harden, protect, spares, "
                                          "crews, repair, fuel_truck, mobile_generator, "
                                          "reservoir), its keys, optionally id and "
                                          "cost.")
    costs: dict[str, float] = _f({}, "float_map", "Unit costs in the budget's currency "
                                 "(line_per_km, backup_per_mw, harden_substation, ...; "
                                 "defaults in gridres.redundancy.costs) or a flat cost "
                                 "per intervention kind.", each(ge(0)))
    generate: bool = _f(False, "bool", "Add candidates generated from the grid.")
    max_candidates: int = _f(20, "int", "Bound on generated candidates.", ge(1))


def _iso(v: str) -> str | None:
    if not v:
        return None
    try:
        stamp = datetime.fromisoformat(v)
    except ValueError:
        return f"{v!r} is not a date and time; write ISO 8601, e.g. 2025-01-15T17:00"
    return None if stamp.tzinfo is None else "give a local time without a time zone"


def _temperature(v: Any) -> str | None:
    return None if -60.0 <= v <= 60.0 else f"must be from -60 to 60 degrees C, got {v!r}"


@dataclass(frozen=True)
class DemandSection:
    """``[demand]``: demand over the hours of every event of the restoration (without
    it, every hour has the grid's static load)."""

    profile: str = _f("flat", "str", "Demand profile: flat (the static load), typical, "
                      "winter, summer, winter-weekday, winter-weekend, summer-weekday, "
                      "summer-weekend, or a CSV/Parquet file (time or hour, bus or class, "
                      "factor or mw; relative to the study file).")
    start: str = _f("", "str", "When every event starts, ISO 8601 local time such as "
                    "2025-01-15T17:00 (default 2025-01-06T00:00, a winter Monday).", _iso)
    season: str = _f("auto", "str", "Season of the typical profile: auto (from the date), "
                     "winter or summer.", one_of("auto", "winter", "summer"))
    temperature_c: float | None = _f(None, "float", "Outside temperature during the event "
                                     "(built-in profiles; colder raises heating demand).",
                                     _temperature)


def _fraction(v: Any) -> str | None:
    values = v.values() if isinstance(v, Mapping) else [v]
    for x in values:
        if isinstance(x, bool) or not isinstance(x, int | float) or not 0.0 <= x <= 1.0:
            return (f"must be a fraction from 0 to 1, or a table of them per generator "
                    f"kind (wind = 0.7), got {x!r}")
    return None


@dataclass(frozen=True)
class DeficitSection:
    """``[deficit]``: capacity over time during the restoration and how a deficit is
    shared: by the engine's shedding, or also by rotating groups of customers."""

    rotation: bool = _f(True, "bool", "Also share a deficit by rotating groups: every "
                        "policy runs twice, shedding (POLICY) and rotating "
                        "(POLICY+rotation), and the two are compared.")
    groups: int = _f(6, "int", "Rotation groups (protected groups come on top).", ge(1))
    block_h: int = _f(4, "int", "Off blocks of this many hours, from midnight (1 to 24).",
                      lambda v: None if 1 <= v <= 24 else f"must be from 1 to 24, got {v!r}")
    protect: str = _f("feeders", "str", "Keep on the feeders of critical facilities only, "
                      "or their whole buses.", one_of("feeders", "buses"))
    groups_file: str = _f("", "str", "Groups from a CSV or Parquet file (bus, group[, "
                          "protected]) instead of forming them.")
    method: str = _f("auto", "str", "Solver of every block: auto, milp or heuristic.",
                     one_of("auto", "milp", "heuristic"))
    derate: Any = _f(None, "any", "Share of generating capacity unavailable: a fraction, "
                     "or a table per generator kind or fuel.", _fraction)
    ties: list[str] = _f([], "str_list", "Tie branches (ids) to an external supply, with "
                         "import_limit_mw.")
    import_limit_mw: float | None = _f(None, "float", "Limit of the imports through the "
                                       "tie branches (MW).", ge(0))
    capacity_file: str = _f("", "str", "Available MW per hour for the whole grid (columns "
                            "time or hour, capacity_mw), on top of the generators lost "
                            "and repaired.")
#: What a study's attacker may maximise: the immediate damage of the strikes (energy not
#: served needs a restoration inside every choice; ``gridres attack`` offers it).
DEFEND_OBJECTIVES = tuple(o for o in STRIKE_OBJECTIVES if o != "ens_mwh")


@dataclass(frozen=True)
class DefendSection:
    """``[defend]``: the worst strikes a capable attacker could make, how much worse they
    are than random failures, and which sites to protect first (the cascade mode and
    margin are those of ``[cascade]``)."""

    k: int = _f(REQUIRED, "int", "Elements the attacker strikes together.", ge(1))
    target: str = _f("substation", "str", "What a strike destroys: substation (all its "
                     "buses), bus, branch or gen.", one_of(*TARGETS))
    objective: str = _f("shed_mw", "str", "What the attacker maximises: shed_mw (load "
                        "lost), people_out (people at dark critical facilities), "
                        "facilities_dark or customers_out.", one_of(*DEFEND_OBJECTIVES))
    protect_budget: int = _f(2, "int", "Sites the defender can protect (P): the protection "
                             "of 1 .. P sites is ranked (0: none).", ge(0))
    top: int = _f(5, "int", "Worst sets reported and mapped.", ge(1))
    curve: bool = _f(True, "bool", "Set the worst k = 1 .. K strikes beside random "
                     "failures of as many elements (the attack curve).")
    n_random: int = _f(500, "int", "Random failures per k of the attack curve.", ge(1))
    budget: int = _f(0, "int", "Strike sets evaluated exactly per search (every set where "
                     "that many suffice; 0: about a minute of one core).", ge(0))
    exclude: list[str] = _f([], "str_list", "Elements the attacker cannot reach "
                            "(KIND:ID tokens).")
    protect: list[str] = _f([], "str_list", "Elements already protected (KIND:ID), "
                            "beside the P to choose.")
    candidates: list[str] = _f([], "str_list", "Sites the defender may protect (KIND:ID; "
                               "default: every target).")


@dataclass(frozen=True)
class OutputsSection:
    """``[outputs]``: which files the results directory gets."""

    dir: str = _f("", "str", "Results directory (relative to the study file; default "
                  "results/NAME; --out overrides).")
    html: bool = _f(True, "bool", "Write report.html.")
    pdf: bool = _f(False, "bool", "Write report.pdf (also: --pdf).")
    gpkg: bool = _f(True, "bool", "Write results.gpkg for QGIS.")
    tables: list[str] = _f(["csv", "parquet"], "str_list", "Table formats.",
                           each(one_of("csv", "parquet")))


# -- parsing ----------------------------------------------------------------------------
@dataclass
class Collector:
    """Collects problems as (key path, message, exit code)."""

    problems: list[tuple[tuple[str | int, ...], str, int]] = field(default_factory=list)

    def add(self, path: tuple[str | int, ...], message: str, code: int = 65) -> None:
        self.problems.append((tuple(path), message, code))


_KINDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "str": (lambda v: isinstance(v, str), "a string"),
    "int": (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
    "float": (lambda v: isinstance(v, int | float) and not isinstance(v, bool), "a number"),
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "any": (lambda v: True, "a value"),
    "str_list": (lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
                 "a list of strings"),
    "table_list": (lambda v: isinstance(v, list) and all(isinstance(x, dict) for x in v),
                   "a list of tables"),
    "float_map": (lambda v: isinstance(v, dict) and all(
        isinstance(x, int | float) and not isinstance(x, bool) for x in v.values()),
        "a table of numbers"),
    "float_list": (lambda v: isinstance(v, list) and all(
        isinstance(x, int | float) and not isinstance(x, bool) for x in v), "a list of numbers"),
    "table_map": (lambda v: isinstance(v, dict) and all(isinstance(x, dict) for x in v.values()),
                  "a table of tables"),
    "int_map": (lambda v: isinstance(v, dict) and all(
        isinstance(x, int) and not isinstance(x, bool) for x in v.values()),
        "a table of integers"),
}


def _describe(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dict):
        return "a table"
    if isinstance(v, list):
        return "a list"
    return repr(v)


def parse_section(cls: type, raw: Any, path: tuple[str | int, ...], out: Collector,
                  extra: Mapping[str, Any] | None = None) -> Any:
    """Read one TOML table into section ``cls``; problems go to ``out``.

    Values of the wrong type, out of range or missing take the field's default so that
    every later problem is still found; the study is refused as a whole afterwards.
    ``extra`` supplies defaults computed from elsewhere (e.g. the study name).
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        out.add(path, f"must be a table, got {_describe(raw)}")
        raw = {}
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in fields:
            close = difflib.get_close_matches(key, list(fields), n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(fields)}"
            out.add((*path, key), f"unknown key; {hint}")
    values: dict[str, Any] = {}
    for name, f in fields.items():
        default = (f.default if f.default is not dataclasses.MISSING
                   else f.default_factory())  # type: ignore[misc]
        if extra and name in extra and name not in raw:
            values[name] = extra[name]
            continue
        if name not in raw:
            if default is REQUIRED:
                doc = f.metadata["doc"]
                out.add((*path, name), f"missing; add {name} = ... "
                        f"({doc[:1].lower() + doc[1:].rstrip('.')})")
            values[name] = default
            continue
        v = raw[name]
        kind = f.metadata["kind"]
        ok, what = _KINDS[kind]
        if not ok(v):
            out.add((*path, name), f"must be {what}, got {_describe(v)}")
            values[name] = default
            continue
        if kind == "float_list":
            v = [float(x) for x in v]
            if not all(math.isfinite(x) for x in v):
                out.add((*path, name), "must be finite numbers")
                values[name] = default
                continue
        if kind == "float" or kind == "float_map":
            v = {k: float(x) for k, x in v.items()} if kind == "float_map" else float(v)
            bad = [x for x in (v.values() if isinstance(v, dict) else [v]) if not math.isfinite(x)]
            if bad:
                out.add((*path, name), f"must be finite, got {bad[0]!r}")
                values[name] = default
                continue
        check = f.metadata["check"]
        msg = check(v) if check else None
        if msg:
            out.add((*path, name), msg)
            values[name] = default
            continue
        values[name] = v
    return cls(**values)


def hazard_path(study_or_section: Any, i: int) -> tuple[str | int, ...]:
    """Key path of hazard ``i`` of a study (``scenario`` or ``hazard[i]``)."""
    section = getattr(study_or_section, "hazard_section", study_or_section)
    return ("scenario",) if section == "scenario" else ("hazard", i)


def section_docs(cls: type) -> list[tuple[str, str]]:
    """(key, meaning) of every field of a section, for the report's methods section."""
    return [(f.name, f.metadata["doc"]) for f in dataclasses.fields(cls)]


_PARAM = re.compile(r"The '(\w+)' parameter")
_FOR = re.compile(r"\(for ([^)]+)\)")


def parse_restoration(raw: Any, path: tuple[str | int, ...], out: Collector
                      ) -> RestorationSection:
    """Read ``[restoration]``: ``policies`` plus the keys of
    :class:`gridres.restoration.RestorationSettings`, checked by that class; its
    messages name the parameter, which gives the key path."""
    if not isinstance(raw, dict):
        out.add(path, "must be a table")
        raw = {}
    given = dict(raw)
    policies_raw = given.pop("policies", None)
    policies: tuple[str, ...] = ()
    if policies_raw is not None:
        if isinstance(policies_raw, str):
            policies_raw = [policies_raw]
        if not isinstance(policies_raw, list) or not all(isinstance(p, str)
                                                         for p in policies_raw):
            out.add((*path, "policies"), "must be a list of policy names")
        else:
            policies = tuple(policies_raw)
            _unique(list(policies), (*path, "policies"), out)
    priority_raw = given.pop("priority", [])
    priority: tuple[str, ...] = ()
    if not isinstance(priority_raw, list) or not all(isinstance(p, str) for p in priority_raw):
        out.add((*path, "priority"), "must be a list of element tokens such as "
                "\"branch:L12\" (the repair order of the priority-list policy)")
    else:
        priority = tuple(priority_raw)
    if needs_priority(policies) and not priority:
        out.add((*path, "policies"), "the priority-list policy needs priority = "
                "[\"branch:ID\", \"bus:ID\", ...] in [restoration]")
    known = [f.name for f in dataclasses.fields(RestorationSettings)]
    kwargs = {}
    for key, value in given.items():
        if key not in known:
            close = difflib.get_close_matches(key, known + ["policies", "priority"], n=1,
                                              cutoff=0.6)
            hint = (f"did you mean {close[0]!r}?" if close
                    else f"known keys: policies, priority, {', '.join(known)}")
            out.add((*path, key), f"unknown key; {hint}")
            continue
        kwargs[key] = tuple(tuple(v) if isinstance(v, list) else v for v in value) \
            if key in ("depots", "needs_spare") and isinstance(value, list) else value
    settings = None
    # build once to report the first problem; then drop it and retry so that every
    # faulty key is reported, not only the first
    for _ in range(len(kwargs) + 1):
        try:
            settings = RestorationSettings(**kwargs)
            break
        except (ValueError, TypeError) as exc:
            msg = str(exc)
            m = _PARAM.search(msg)
            key = m.group(1) if m and m.group(1) in kwargs else None
            where: tuple[str | int, ...] = (*path, key) if key else path
            item = _item_named(msg, kwargs.get(key)) if key else None
            if item is not None:
                where = (*where, item)
            out.add(where, plain_message(msg, key))
            if key is None:
                break
            if item is not None:
                kwargs[key] = {k: v for k, v in kwargs[key].items() if k != item}
            else:
                kwargs.pop(key)
    return RestorationSection(policies, settings, given, priority)


def _item_named(msg: str, value: Any) -> str | None:
    """The entry of a table-valued parameter that a message is about: ``(for KEY)``, or
    a ``Got 'KEY' instead`` that names one of its keys."""
    if not isinstance(value, dict):
        return None
    f = _FOR.search(msg)
    if f and f.group(1) in value:
        return f.group(1)
    g = re.search(r"Got '([^']*)' instead", msg)
    if g and g.group(1) in value:
        return g.group(1)
    return None


def plain_message(msg: str, key: str | None = None) -> str:
    """``The 'crews' parameter of restoration must be an int >= 1. Got -2 instead.`` ->
    ``must be an int >= 1, got -2``."""
    m = re.match(r"The '\w+' parameter of [\w ]+ must be (.*)\. Got (.*) instead\.?$", msg)
    if m:
        return f"must be {m.group(1)}, got {m.group(2)}"
    return msg.strip().rstrip(".")


def _unique(items: list[str], path: tuple[str | int, ...], out: Collector) -> None:
    seen: set[str] = set()
    for i, item in enumerate(items):
        if item in seen:
            out.add((*path, i), f"{item!r} is listed twice")
        seen.add(item)
