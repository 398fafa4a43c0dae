"""When a design's run of a scenario is provably its parent's run, so that the parent's
result is copied instead of simulated (used by :class:`~gridres.redundancy.PlanEvaluator`).

A design ``D + x`` is evaluated from a design ``D`` already evaluated (the base, or the
portfolio so far). In scenario ``i`` the restoration of ``D + x`` is *the same run* as
that of ``D`` (same schedule, same curve, same metrics) when the intervention ``x``
cannot change it, and then ``D``'s result is copied. The conditions, each exact:

* The damage is the same: ``x`` changes no failure of scenario ``i`` (hardening that
  spares no asset the scenario failed; a new element that does not fail).
* *No failure*: the scenario fails nothing (both runs lose nothing).

Two conditions rest on islands and balance alone. They hold where flows cannot change
who is supplied in any state of either run: cascade mode ``none``, or no branch of
either design that could overload (:func:`gridres.restoration.supply.flows_matter` of
its intact grid). Under ``trip`` or ``redispatch`` with a branch that could overload,
they do not hold (a new line changes every flow of its island; a fully supplied
``S_min`` says nothing of an intermediate state, where a repair may overload a branch)
and such scenarios are simulated:

* *Nothing lost*: with every failure of the scenario applied at once (``S_min``, the
  worst state any restoration passes through, since every state of a run has at least
  its elements alive), every bus with demand is supplied in full and every facility
  that had grid power keeps it. Then every state of any run is fully supplied, in ``D``
  and in ``D + x`` (extra lines and capacity only merge or strengthen islands; every
  bus energised in ``S_min`` was energised at the event before, so the black-start
  rule darkens none of them): all metrics are 0 in both.
* *A new line between buses already connected* in ``S_min`` (both alive): it joins
  buses that every state of the run already connects, so every island, every served
  load and every policy input is unchanged.

The others hold under any cascade mode: they keep the grid, so when the schedule is the
same every assessment is the same:

* *Backup at a facility* that never lost grid power in ``D``'s run: the backup is never
  used, and nothing else reads it (``critical-first``, fuel trucks and mobile
  generators read the backup only at facilities without grid power). For ``critical-first`` the facility must also depend
  on none of the failed elements, a check that is no longer needed but still correct.
* *One more crew* when no job of ``D``'s run waited for a crew: the new crew comes last
  in the crews' order and never finds a job (not for ``optimal``, whose plan sees every
  crew).
* *More spares of a kind* when the scenario fails no more elements of that kind than
  ``D`` has spares in stock: every job already took a spare from the stock (not for
  ``optimal``).
* *Faster repair of a kind* when the scenario fails no element of that kind.

Anything else (new generation without the *nothing lost* condition, other changes of
the grid or of the settings: more fuel trucks or mobile generators, a facility's
service columns such as a reservoir's ``storage_h``) is simulated. A test checks that results with reuse equal
those without, scenario by scenario.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gridres.redundancy.interventions import Design, Intervention
from gridres.redundancy.settings_edits import REPAIR_FIELDS
from gridres.restoration.fleets import split_policy
from gridres.restoration.metrics import LOSS_METRICS
from gridres.restoration.settings import RestorationSettings
from gridres.scenarios.base import Scenario

__all__ = ["DesignResult", "Change", "design_change", "intervention_change"]

logger = logging.getLogger(__name__)

#: Policies that read facility backups.
_READS_BACKUP = frozenset({"critical-first"})
#: Policies whose plan sees every crew and spare (no crew or spare reuse).
_READS_SNAPSHOT = frozenset({"optimal"})


@dataclass(frozen=True, eq=False)
class DesignResult:
    """Per-scenario results of one design.

    Attributes
    ----------
    key : frozenset of str
        Ids of the interventions applied.
    design : Design
    metrics : ndarray, shape (n, len(LOSS_METRICS))
    labels : ndarray of int32, shape (n, n_bus)
        Island of every bus in ``S_min`` (all of the scenario's failures applied), -1
        for dead buses.
    lossless : ndarray of bool, shape (n,)
        ``S_min`` supplies every bus with demand in full and keeps every facility that
        had grid power on the grid.
    fac_lost : ndarray of bool, shape (n, n_fac)
        Facility without grid power at some time of the run.
    fac_dep : ndarray of bool, shape (n, n_fac)
        Facility that loses grid power if one of the failed elements alone were out
        (computed for policies that read backups only).
    crew_waited : ndarray of bool, shape (n,)
        Some job of the run waited for a free crew.
    simulated : ndarray of bool, shape (n,)
        Scenarios simulated for this design (the others reused an earlier result).
    """

    key: frozenset
    design: Design
    metrics: np.ndarray
    labels: np.ndarray
    lossless: np.ndarray
    fac_lost: np.ndarray
    fac_dep: np.ndarray
    crew_waited: np.ndarray
    simulated: np.ndarray

    def values(self, metric: str) -> np.ndarray:
        """Per-scenario values of ``metric`` (one of
        :data:`~gridres.restoration.metrics.LOSS_METRICS`)."""
        return self.metrics[:, LOSS_METRICS.index(metric)]

    def mean(self, metric: str) -> float:
        return float(self.values(metric).mean())

    @property
    def n_simulated(self) -> int:
        return int(self.simulated.sum())


# -- what changed between two designs -----------------------------------------------------
@dataclass(frozen=True)
class Change:
    """How a design differs from another (see :func:`design_change`)."""

    new_branches: tuple[tuple[int, int], ...] = ()
    new_gens: bool = False
    facilities: tuple[int, ...] = ()
    crews_up: bool = False
    spares_up: tuple[str, ...] = ()
    repair_kinds: tuple[str, ...] = ()
    repair_tokens: tuple[str, ...] = ()
    other_settings: bool = False
    other_grid: bool = False


def _same_rows(a: pd.DataFrame, b: pd.DataFrame, skip: Sequence[str] = ()) -> bool:
    cols = [c for c in a.columns if c != "geometry" and c not in skip]
    if list(cols) != [c for c in b.columns if c != "geometry" and c not in skip]:
        return False
    return a[cols].equals(b[cols])


def design_change(parent: Design, child: Design) -> Change:
    """What ``child`` adds to ``parent``: new branches (their end buses), new generators,
    facilities whose backup changed, and restoration settings changed by kind; anything
    else is ``other_grid`` or ``other_settings``.

    Examples
    --------
    >>> from gridres.io import load_grid
    >>> from gridres.redundancy.settings_edits import add_crews
    >>> g = load_grid("ieee14")
    >>> d = Design(g, RestorationSettings())
    >>> design_change(d, Design(g, add_crews(d.settings))).crews_up
    True
    """
    pg, cg = parent.grid, child.grid
    other_grid = not _same_rows(pg.buses, cg.buses)
    new_branches: list[tuple[int, int]] = []
    nb = len(pg.branches)
    if len(cg.branches) < nb or not cg.branches.index[:nb].equals(pg.branches.index) or \
            not _same_rows(pg.branches, cg.branches.iloc[:nb]):
        other_grid = True
    else:
        extra = cg.branches.iloc[nb:]
        f = cg.buses.index.get_indexer(extra["from_bus"].astype(str))
        t = cg.buses.index.get_indexer(extra["to_bus"].astype(str))
        new_branches = [(int(a), int(b)) for a, b in zip(f, t, strict=True)]
    ng = len(pg.generators)
    if len(cg.generators) < ng or not cg.generators.index[:ng].equals(pg.generators.index) or \
            not _same_rows(pg.generators, cg.generators.iloc[:ng]):
        other_grid = True
    new_gens = len(cg.generators) > ng
    facilities: list[int] = []
    pf, cf_ = pg.facilities, cg.facilities
    if not pf.index.equals(cf_.index) or not _same_rows(pf, cf_, ("backup_mw", "backup_hours")):
        other_grid = True
    else:
        diff = ((pf["backup_mw"].to_numpy(float) != cf_["backup_mw"].to_numpy(float))
                | (pf["backup_hours"].to_numpy(float) != cf_["backup_hours"].to_numpy(float)))
        facilities = np.flatnonzero(diff).tolist()

    ps, cs = parent.settings, child.settings
    crews_up = False
    spares_up: list[str] = []
    repair_kinds: set[str] = set()
    tokens: set[str] = set()
    other = False
    from dataclasses import fields

    for f_ in fields(RestorationSettings):
        a, b = getattr(ps, f_.name), getattr(cs, f_.name)
        if a == b:
            continue
        name = f_.name
        if name == "crews":
            crews_up, other = (True, other) if b > a else (crews_up, True)
        elif name == "spare_stock":
            for kind in set(a) | set(b):
                x, y = int(a.get(kind, 0)), int(b.get(kind, 0))
                if y > x and kind in cs.needs_spare and kind in ps.needs_spare:
                    spares_up.append(kind)
                elif y != x and (kind in cs.needs_spare or kind in ps.needs_spare):
                    other = True
        elif name == "spare_lead_time_h":
            repair_kinds |= {k for k in set(a) | set(b) if a.get(k) != b.get(k)}
        elif name == "repair_h":
            tokens |= {k for k in set(a) | set(b) if a.get(k) != b.get(k)}
        elif name == "default_line_km":
            repair_kinds.add("line")
        else:
            kind = next((k for k, names in REPAIR_FIELDS.items() if name in names), None)
            if kind is None:
                other = True
            else:
                repair_kinds.add(kind)
    return Change(tuple(new_branches), new_gens, tuple(facilities), crews_up,
                  tuple(sorted(spares_up)), tuple(sorted(repair_kinds)),
                  tuple(sorted(tokens)), other, other_grid)


def intervention_change(iv: Intervention, parent: Design) -> Change:
    """What adding ``iv`` to ``parent`` changes, read from the intervention itself; the
    same as :func:`design_change` of ``parent`` and ``iv.apply(parent)`` (tested), without
    comparing tables.

    Examples
    --------
    >>> from gridres.io import load_grid
    >>> from gridres.redundancy.interventions import make_intervention
    >>> d = Design(load_grid("ieee14"), RestorationSettings())
    >>> intervention_change(make_intervention({"kind": "crews"}, d), d).crews_up
    True
    """
    p = iv.params
    grid = parent.grid
    if iv.kind == "line":
        f, t = grid.lookup("buses", [p["from_bus"], p["to_bus"]])
        return Change(new_branches=((int(f), int(t)),))
    if iv.kind in ("backup", "tank", "microgrid"):
        child = iv.apply(parent).grid.facilities
        old = grid.facilities
        diff = ((old["backup_mw"].to_numpy(float) != child["backup_mw"].to_numpy(float))
                | (old["backup_hours"].to_numpy(float)
                   != child["backup_hours"].to_numpy(float)))
        return Change(facilities=tuple(np.flatnonzero(diff).tolist()),
                      new_gens=iv.kind == "microgrid")
    if iv.kind in ("generator", "storage"):
        return Change(new_gens=True)
    if iv.kind == "spares":
        return Change(spares_up=(p["equipment"],))
    if iv.kind == "crews":
        return Change(crews_up=True)
    if iv.kind == "repair":
        return Change(repair_kinds=(p["equipment"],))
    if iv.kind in ("harden", "protect"):
        return Change()
    return design_change(parent, iv.apply(parent))


def _kind_counts(sc: Scenario, branch_kind: np.ndarray) -> dict[str, int]:
    out = {"bus": 0, "line": 0, "transformer": 0, "generator": 0}
    for w in sc.waves:
        out["bus"] += len(w.buses)
        out["generator"] += len(w.gens)
        if len(w.branches):
            tr = int((branch_kind[w.branches] == "transformer").sum())
            out["transformer"] += tr
            out["line"] += len(w.branches) - tr
    return out


def _unchanged(change: Change, parent: DesignResult, i: int, policy: str,
               counts: Callable[[], dict[str, int]], failed_tokens: Callable[[], set[str]],
               flows: bool = False) -> bool:
    """Whether the child's run of scenario ``i`` is the parent's run (same damage
    already checked); see the module notes. ``flows``: flows may change who is supplied
    in the parent's or the child's design (the rules on islands alone do not hold)."""
    if change.other_grid:
        return False
    policy = split_policy(policy)[0]  # a mobile generators' rule reads no backup
    if parent.lossless[i] and not flows:
        return True
    if change.other_settings or change.new_gens:
        return False
    if change.new_branches and flows:
        return False
    lab = parent.labels[i]
    for f, t in change.new_branches:
        if lab[f] < 0 or lab[f] != lab[t]:
            return False
    for fac in change.facilities:
        if parent.fac_lost[i, fac]:
            return False
        if policy in _READS_BACKUP and parent.fac_dep[i, fac]:
            return False
    if change.crews_up and (policy in _READS_SNAPSHOT or parent.crew_waited[i]):
        return False
    if change.spares_up:
        if policy in _READS_SNAPSHOT:
            return False
        stock = parent.design.settings.spare_stock
        c = counts()
        if any(c[k] > int(stock.get(k, 0)) for k in change.spares_up):
            return False
    if change.repair_kinds:
        c = counts()
        if any(c.get(k, 0) > 0 for k in change.repair_kinds):
            return False
    if change.repair_tokens and set(change.repair_tokens) & failed_tokens():
        return False
    return True
