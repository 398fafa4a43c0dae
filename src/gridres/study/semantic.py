"""Checks of a study against its grid: the grid loads, hazard specs build scenario
generators, depots and policies exist, intervention targets name grid elements.

Problems raised by other modules (a scenario spec that names an unknown bus, say) come
as one-line messages without a position; they are attached to the hazard's key path,
narrowed to the deepest key of the spec that the message names, so that the line number
points at the offending key.
"""

from __future__ import annotations

import importlib
import logging
import re
from collections.abc import Mapping
from typing import Any

from gridres.errors import GridresError, InputNotFound
from gridres.study.core import Study, hazard_path, plain_message
from gridres.study.schema import Collector

__all__ = ["check_against_grid", "hazard_spec", "restoration_api", "policy_names"]

logger = logging.getLogger(__name__)

def optional(module: str) -> Any:
    """Import ``module`` if it exists (modules of the package that may be absent)."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and module.startswith(exc.name):
            return None
        raise


def restoration_api() -> Any:
    return optional("gridres.restoration")


def policy_names() -> tuple[str, ...] | None:
    """Names of the restoration policies, or None where restoration is not available."""
    mod = restoration_api()
    if mod is None:
        return None
    names = getattr(mod, "policy_names", None)
    if callable(names):
        return tuple(names())
    reg = getattr(mod, "POLICIES", None)
    return tuple(reg) if reg else None


def hazard_spec(spec: Mapping[str, Any]) -> Any:
    """What goes to ``scenario_from_spec``: the table, or its ``spec`` value when the
    table holds only that (``[scenario] spec = "..."``)."""
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


def check_against_grid(study: Study, raw: Mapping[str, Any],
                       out: Collector) -> tuple[Any, tuple[Any, ...], list[str]]:
    """Load the study's grid and check what refers to it; problems go to ``out``.

    Returns
    -------
    grid : Grid or None
    generators : tuple
        One scenario generator per hazard (empty where a hazard has problems).
    notes : list of str
        Parts of the study that cannot run yet (modules not available).
    """
    from gridres.io import load_grid

    notes: list[str] = []
    source = ("grid", "source")
    try:
        grid = load_grid(study.grid_spec)
    except InputNotFound as exc:
        out.add(source, _strip(str(exc)), 66)
        return None, (), notes
    except (GridresError, OSError, ValueError) as exc:
        out.add(source, f"cannot read the grid: {_strip(str(exc))}")
        return None, (), notes
    if study.grid.validate:
        from gridres import validate

        check = getattr(validate, "check_grid", None)
        if check is not None:
            errors = [p for p in check(grid, strict=False)
                      if getattr(p, "severity", "error") == "error"]
            if errors:
                more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
                out.add(source, f"invalid grid: {_strip(str(errors[0]))}{more}; run "
                        f"`gridres validate {study.grid_spec}`, or set validate = false")
                return grid, (), notes

    generators = _check_hazards(study, grid, out, notes)
    if study.restoration is not None:
        _check_restoration(study, grid, out, notes)
    if study.plan is not None:
        _check_plan(study, raw, grid, out, notes)
    return grid, tuple(generators), notes


def _strip(message: str) -> str:
    return message.strip().rstrip(".")


def _check_hazards(study: Study, grid: Any, out: Collector, notes: list[str]) -> list[Any]:
    spec_mod = optional("gridres.scenarios.spec")
    if spec_mod is None:
        notes.append("hazards not checked: gridres.scenarios.spec is not available")
        return []
    generators = []
    for i, spec in enumerate(study.hazards):
        base = hazard_path(study, i)
        given = hazard_spec(spec)
        try:
            generators.append(spec_mod.scenario_from_spec(given, grid,
                                                          base_dir=study.folder))
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


def _check_restoration(study: Study, grid: Any, out: Collector, notes: list[str]) -> None:
    r = study.restoration
    assert r is not None
    base = ("restoration",)
    depots = r.settings.depots if r.settings is not None else r.given.get("depots", [])
    for i, depot in enumerate(depots):
        if isinstance(depot, str) and not _bus_or_substation(grid, depot):
            import difflib

            names = list(grid.buses.index)
            if "substation" in grid.buses:
                names += [s for s in grid.buses["substation"].unique() if s]
            close = difflib.get_close_matches(depot, names, n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            out.add((*base, "depots", i), f"no bus or substation {depot!r} in grid "
                    f"{grid.name}{hint}")
    if r.priority:
        try:
            from gridres.restoration.policies import PriorityList

            PriorityList(r.priority).check(grid)
        except (GridresError, ValueError, KeyError) as exc:
            bad = next((i for i, t in enumerate(r.priority)
                        if repr(t.split(":", 1)[-1]) in str(exc)), None)
            out.add((*base, "priority") + ((bad,) if bad is not None else ()),
                    plain_message(str(exc)))
        except ImportError:
            pass
    names = policy_names()
    if names is None:
        notes.append("restoration policies not checked: gridres.restoration is not "
                     "available")
        return
    for i, policy in enumerate(r.policies):
        if policy not in names:
            import difflib

            close = difflib.get_close_matches(policy, names, n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            out.add((*base, "policies", i), f"unknown restoration policy {policy!r}{hint} "
                    f"(one of: {', '.join(names)})")


#: Candidate keys that name grid elements, and the table they name.
_TARGETS = {"bus": "buses", "from_bus": "buses", "to_bus": "buses", "branch": "branches",
            "generator": "generators", "facility": "facilities", "substation": "buses"}


def _check_plan(study: Study, raw: Mapping[str, Any], grid: Any, out: Collector,
                notes: list[str]) -> None:
    """Price and check every candidate as the planner will (kinds, keys, values, ids,
    costs); without the planner, only kinds, costs and the ids of grid elements."""
    plan = study.plan
    assert plan is not None
    key = "plan" if "plan" in raw else "interventions"
    red = optional("gridres.redundancy")
    if red is None:
        notes.append("plan not evaluated yet: gridres.redundancy is not available; the "
                     "report shows the plan as pending")
        for i, cand in enumerate(plan.candidates):
            _check_candidate_plainly(cand, (key, "candidates", i), plan.costs, grid, out)
        return
    good: dict[str, float] = {}
    for name, value in plan.costs.items():
        try:
            red.cost_table({name: value})
        except GridresError as exc:
            msg = _strip(str(exc))
            out.add((key, "costs", name),
                    msg.split("; keys:")[0] if "did you mean" in msg else msg)
        else:
            good[name] = value
    costs = red.cost_table(good)
    r = study.restoration
    settings = r.settings if r is not None and r.settings is not None else None
    if settings is None:
        from gridres.restoration import RestorationSettings

        settings = RestorationSettings()
    design = red.Design(grid, settings)
    seen: dict[str, int] = {}
    for i, cand in enumerate(plan.candidates):
        base = (key, "candidates", i)
        try:
            iv = red.make_intervention(cand, design, costs)
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


def _check_candidate_plainly(cand: Mapping[str, Any], base: tuple[str | int, ...],
                             costs: Mapping[str, float], grid: Any, out: Collector) -> None:
    kind = cand.get("kind")
    if not isinstance(kind, str) or not kind:
        out.add(base, "a candidate needs kind = \"...\" (e.g. \"line\", \"backup\", "
                "\"harden\")")
    cost = cand.get("cost", costs.get(kind) if isinstance(kind, str) else None)
    if cost is not None and (isinstance(cost, bool) or not isinstance(cost, int | float)
                             or cost < 0):
        out.add((*base, "cost"), f"cost must be a number >= 0, got {cost!r}")
    for field, table in _TARGETS.items():
        if field in cand:
            ident = str(cand[field])
            index = getattr(grid, table).index
            ok = ident in index or (table == "buses" and _bus_or_substation(grid, ident))
            if not ok:
                out.add((*base, field), f"no {field.replace('_', ' ')} {ident!r} in grid "
                        f"{grid.name}")
