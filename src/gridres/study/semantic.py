"""Checks of a study against its grid: the grid loads, hazard specs build scenario
generators, depots and policies exist and depots lie on the map, the ``[services]``
facility tables name facilities and give valid service columns, intervention targets
name grid elements.

Problems raised by other modules (a scenario spec that names an unknown bus, say) come
as one-line messages without a position; they are attached to the hazard's key path,
narrowed to the deepest key of the spec that the message names, so that the line number
points at the offending key.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Mapping
from typing import Any

from gridres import redundancy
from gridres.adversary import AdaptiveStrikes, scenario_generator, targets
from gridres.adversary.core import check_objective
from gridres.errors import GridresError, InputNotFound
from gridres.io import load_grid
from gridres.restoration import PriorityList, RestorationSettings, policy_names, prepare
from gridres.restoration.fleets import split_policy
from gridres.service_data import with_service_columns
from gridres.services import compile_services
from gridres.study.core import Study
from gridres.study.deficit import check_deficit
from gridres.study.schema import Collector, hazard_path, plain_message
from gridres.validate import check_grid

__all__ = ["check_against_grid", "hazard_spec"]

logger = logging.getLogger(__name__)


def hazard_spec(spec: Mapping[str, Any]) -> Any:
    """What goes to :func:`gridres.adversary.scenario_generator`: the table, or its
    ``spec`` value when the table holds only that (``[scenario] spec = "..."``)."""
    if set(spec) == {"spec"}:
        return spec["spec"]
    return dict(spec)


def _narrow(spec: Any, message: str, base: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """The deepest key path under ``base`` whose key the message names."""
    best = base
    if not isinstance(spec, Mapping):
        return best

    def walk(node: Any, path: tuple[str | int, ...]) -> None:
        nonlocal best
        items = node.items() if isinstance(node, Mapping) else (
            enumerate(node) if isinstance(node, list) else ())
        for k, v in items:
            p = (*path, k)
            if isinstance(k, str) and re.search(rf"(?<![\w.]){re.escape(k)}(?![\w])", message):
                if len(p) > len(best):
                    best = p
            walk(v, p)

    walk(spec, base)
    return best


def check_against_grid(study: Study, out: Collector) -> tuple[Any, tuple[Any, ...]]:
    """Load the study's grid and check what refers to it; problems go to ``out``.

    Returns
    -------
    grid : Grid or None
        With the ``[services.facilities]`` columns applied.
    generators : tuple
        One scenario generator per hazard (empty where a hazard has problems).
    """
    source = ("grid", "source")
    try:
        grid = load_grid(study.grid_spec)
    except InputNotFound as exc:
        out.add(source, _strip(str(exc)), 66)
        return None, ()
    except (GridresError, OSError, ValueError) as exc:
        out.add(source, f"cannot read the grid: {_strip(str(exc))}")
        return None, ()
    if study.grid.validate:
        errors = [p for p in check_grid(grid, strict=False) if p.severity == "error"]
        if errors:
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            out.add(source, f"invalid grid: {_strip(str(errors[0]))}{more}; run "
                    f"`gridres validate {study.grid_spec}`, or set validate = false")
            return grid, ()

    grid = _services(study, grid, out)
    generators = _check_hazards(study, grid, out)
    if study.restoration is not None:
        _check_restoration(study, grid, out)
    if study.defend is not None and not any(p[:1] == ("defend",) for p, _, _ in out.problems):
        _check_defend(study, grid, out)
    if study.plan is not None:
        _check_plan(study, grid, out)
        if study.demand is not None or study.deficit is not None:
            out.add((study.plan_section,), "the plan scores designs on the grid's static "
                    "load, while [demand] and [deficit] change the restoration's demand "
                    "and capacity by the hour, so its figures would not match the "
                    "report's; plan in a study without [demand] and [deficit]")
        if any(isinstance(g, AdaptiveStrikes) for g in generators):
            also = ("" if study.plan.objective == "worst_case" else
                    ", or rank interventions by the worst case of a [defend] section "
                    "(objective = \"worst_case\")")
            out.add((study.plan_section,), "a plan scores every design on the same fixed "
                    "scenarios, and the adaptive attacker chooses its strikes anew for each "
                    f"design; plan against a strikes scenario{also}")
    check_deficit(study, grid, out)
    return grid, tuple(generators)


def _services(study: Study, grid: Any, out: Collector) -> Any:
    """The grid with the study's service columns, checked by compiling its services."""
    base = ("services", "facilities")
    changes = study.services.facilities
    for fid in changes:
        if fid not in grid.facilities.index:
            close = difflib.get_close_matches(fid, list(grid.facilities.index), n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            out.add((*base, fid), f"no facility {fid!r} in grid {grid.name}{hint}")
    known = {f: c for f, c in changes.items() if f in grid.facilities.index}
    try:
        grid = with_service_columns(grid, known)
        compile_services(grid)
    except (GridresError, ValueError) as exc:
        msg = _strip(str(exc))
        fid = next((f for f in known if repr(f) in msg), None)
        col = next((c for c in known.get(fid, {}) if c in msg), None) if fid else None
        where = (*base, fid, col) if col else (*base, fid) if fid else ("services",)
        out.add(where, msg.split(": ", 1)[-1] if fid else msg)
    return grid


def _strip(message: str) -> str:
    return message.strip().rstrip(".")


def _check_hazards(study: Study, grid: Any, out: Collector) -> list[Any]:
    generators = []
    for i, spec in enumerate(study.hazards):
        base = hazard_path(study, i)
        given = hazard_spec(spec)
        try:
            generators.append(scenario_generator(given, grid, base_dir=study.folder,
                                                 cascade=study.cascade.options))
        except InputNotFound as exc:
            out.add(_narrow(given, str(exc), base), _strip(str(exc)), 66)
        except (GridresError, ValueError, TypeError, KeyError) as exc:
            where = _narrow(given, str(exc), base)
            if not any(p[: len(where)] == where for p, _, _ in out.problems):
                out.add(where, plain_message(str(exc)))
    return generators


def _bus_or_substation(grid: Any, name: str) -> bool:
    if name in grid.buses.index:
        return True
    return "substation" in grid.buses and bool((grid.buses["substation"] == name).any())


def _check_restoration(study: Study, grid: Any, out: Collector) -> None:
    r = study.restoration
    assert r is not None
    base = ("restoration",)
    depots = r.settings.depots if r.settings is not None else r.given.get("depots", [])
    for i, depot in enumerate(depots):
        if isinstance(depot, str) and not _bus_or_substation(grid, depot):
            names = list(grid.buses.index)
            if "substation" in grid.buses:
                names += [s for s in grid.buses["substation"].unique() if s]
            close = difflib.get_close_matches(depot, names, n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            out.add((*base, "depots", i), f"no bus or substation {depot!r} in grid "
                    f"{grid.name}{hint}")
    if r.priority:
        try:
            PriorityList(r.priority).check(grid)
        except (GridresError, ValueError, KeyError) as exc:
            bad = next((i for i, t in enumerate(r.priority)
                        if repr(t.split(":", 1)[-1]) in str(exc)), None)
            out.add((*base, "priority") + ((bad,) if bad is not None else ()),
                    plain_message(str(exc)))
    names = policy_names()
    for i, policy in enumerate(r.policies):
        try:
            crew, _ = split_policy(policy)
        except GridresError as exc:
            out.add((*base, "policies", i), str(exc))
            continue
        if crew not in names:
            close = difflib.get_close_matches(policy, names, n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            out.add((*base, "policies", i), f"unknown restoration policy {policy!r}{hint} "
                    f"(one of: {', '.join(names)}; /RULE after a name sets how mobile "
                    "generators are sent)")
    if r.settings is not None and r.settings.has_fleets:
        _check_fleets(r.settings, grid, out)


def _check_fleets(settings: RestorationSettings, grid: Any, out: Collector) -> None:
    """Fuel and mobile generator depots: bus ids of the grid, coordinates on its map."""
    for key in ("fuel_depots", "mobile_generators"):
        items = getattr(settings, key)
        for i, item in enumerate(items):
            depot = item[1] if key == "mobile_generators" else item
            if depot == "":
                continue
            trial = (RestorationSettings(fuel_depots=(depot,)) if key == "fuel_depots"
                     else RestorationSettings(mobile_generators=((1.0, depot),)))
            try:
                prepare(grid, trial)
            except GridresError as exc:
                msg = _strip(str(exc)).split(": ", 2)[-1]
                out.add(("restoration", key, i) + (("depot",) if key == "mobile_generators"
                                                   else ()), msg)


def _check_defend(study: Study, grid: Any, out: Collector) -> None:
    """The ``[defend]`` section against the grid: an objective the grid has data for,
    tokens that name targets, and a ``k`` and protection the targets allow."""
    d = study.defend
    assert d is not None
    base = ("defend",)
    try:
        check_objective(grid, d.objective)
    except GridresError as exc:
        out.add((*base, "objective"), _strip(str(exc)))
    bad = False
    for key in ("exclude", "protect", "candidates"):
        for i, token in enumerate(getattr(d, key)):
            try:
                targets(grid, d.target, exclude=[token])
            except GridresError as exc:
                msg = re.sub(r"^--exclude:? ", "", _strip(str(exc)))
                out.add((*base, key, i), msg)
                bad = True
    if bad:
        return
    tg = targets(grid, d.target, exclude=d.exclude, protect=d.protect)
    n = len(tg)
    if d.k > n:
        out.add((*base, "k"), f"k = {d.k} is more than the {n} {d.target} targets in reach; "
                f"choose k <= {n}")
        return
    can = n if not d.candidates else len(
        set(targets(grid, d.target, protect=d.candidates).shielded) & set(tg.names))
    if d.protect_budget > can:
        out.add((*base, "protect_budget"), f"{d.protect_budget} sites, but only {can} "
                f"{d.target} targets can be protected; lower protect_budget")
    elif n - d.protect_budget < d.k:
        out.add((*base, "protect_budget"), f"protecting {d.protect_budget} of the {n} "
                f"{d.target} targets leaves fewer than k = {d.k} to strike; lower "
                "protect_budget or k")


#: Candidate keys that name grid elements, and the table they name.
_TARGETS = {"bus": "buses", "from_bus": "buses", "to_bus": "buses", "branch": "branches",
            "generator": "generators", "facility": "facilities", "substation": "buses"}


def _check_plan(study: Study, grid: Any, out: Collector) -> None:
    """Price and check every candidate as the planner will (kinds, keys, values, ids,
    costs)."""
    plan = study.plan
    assert plan is not None
    key = study.plan_section
    good: dict[str, float] = {}
    for name, value in plan.costs.items():
        try:
            redundancy.cost_table({name: value})
        except GridresError as exc:
            msg = _strip(str(exc))
            out.add((key, "costs", name),
                    msg.split("; keys:")[0] if "did you mean" in msg else msg)
        else:
            good[name] = value
    costs = redundancy.cost_table(good)
    r = study.restoration
    settings = r.settings if r is not None and r.settings is not None else None
    if settings is None:
        settings = RestorationSettings()
    design = redundancy.Design(grid, settings)
    seen: dict[str, int] = {}
    for i, cand in enumerate(plan.candidates):
        base = (key, "candidates", i)
        try:
            iv = redundancy.make_intervention(cand, design, costs)
        except (GridresError, ValueError, KeyError, TypeError) as exc:
            msg = _strip(str(exc))
            if not isinstance(exc, GridresError):
                msg = f"cannot use this candidate ({type(exc).__name__}: {msg})"
            field = _candidate_key(cand, msg)
            out.add((*base, field) if field else base, msg)
            continue
        if iv.id in seen:
            out.add((*base, "id") if "id" in cand else base,
                    f"id {iv.id!r} is taken by {key}.candidates[{seen[iv.id]}]; give each "
                    "candidate its own id")
        else:
            seen[iv.id] = i


_WHO = re.compile(r"^candidate '[^']*': ")


def _candidate_key(cand: Mapping[str, Any], message: str) -> str | None:
    """The key of a candidate table that a problem is about: one the message quotes
    (``unknown key 'facter'``), else one whose value it quotes (``no bus with id
    'X'``), else one it names (``facility = "ID"``)."""
    text = _WHO.sub("", message)
    for k in cand:
        if f"'{k}'" in text:
            return k
    for k, v in cand.items():
        if k in ("id", "label") or isinstance(v, bool):
            continue
        if isinstance(v, str) and f"'{v}'" in text:
            return k
        if isinstance(v, int | float) and re.search(rf"got {re.escape(repr(v))}\b", text):
            return k
    for k in cand:
        if re.search(rf"(?<![\w.]){re.escape(k)}(?![\w])", text):
            return k
    return None
