"""Candidate interventions: the ones a study lists, and the ones a planner would start from.

:func:`study_candidates` checks and prices the ``[[plan.candidates]]`` tables of a study.
:func:`generate_candidates` proposes candidates from the grid and its weak points:

Lines
    For every bridge of the intact grid (a branch whose outage splits it; a single-fed
    substation's feeder is one) the side it cuts off (the side with less generating
    capacity) is a weak point; a new line from a bus of that side to the nearest bus of
    the same voltage outside it, within ``line_km`` straight-line kilometres and not
    already connected to it, closes the loop. Weak points come in order of the load
    they cut off (critical facilities' people first); one whose bridge a line chosen
    earlier already bypasses (its ends on both sides) gets no line of its own.
Backup
    Every critical facility whose backup does not carry its demand for
    :data:`~gridres.redundancy.grid_edits.BACKUP_HOURS` hours gets backup that does
    (facilities without any covering backup first, those behind a bridge (single-fed)
    first among them, then by people served).
Hardening
    The ``top_k`` substations and branches of the N-1 ranking (load lost when each one
    alone fails, times its failure probability under the study's hazards where they have
    fragility curves; then, under such hazards, the most exposed assets, whose failures
    matter in events that fail several at once).
Restoration
    One more crew, one more spare of every kind whose repairs need one, and line and
    transformer repairs in half the time.
Services
    Where backups carry facilities (a tank to refill): one more fuel truck, and 24 h
    more fuel at the two facilities whose loss costs the most people a service
    (:func:`gridres.services.service_impact`); where facilities have no backup that
    carries them: one more mobile generator, rated for the largest such demand (rounded
    up to 0.5 MW) at the crews' first depot; and 12 h more water storage at the
    waterworks that serves the most people.

Categories are interleaved (line, backup, hardening, restoration, services, line, ...) until
``max_candidates`` are chosen, so that a small bound still offers every kind of option.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from gridres import contingency as cg
from gridres.elements import substation_buses, substations
from gridres.errors import UsageError
from gridres.impact import backup_covers
from gridres.redundancy.crn import flatten
from gridres.redundancy.grid_edits import BACKUP_HOURS, bus_xy, crs_kind
from gridres.redundancy.interventions import Design, Intervention, make_intervention
from gridres.restoration.assets import distance_km
from gridres.scenarios.base import ScenarioGenerator
from gridres.scenarios.hazard import HazardScenarios
from gridres.sensitivity import bridges
from gridres.service_data import SERVICES
from gridres.services import compile_services, service_impact
from gridres.topology import components

__all__ = ["study_candidates", "generate_candidates", "weak_points", "LINE_KM"]

logger = logging.getLogger(__name__)

#: Longest straight-line distance of a generated new line, km.
LINE_KM = 30.0


def study_candidates(tables: Sequence[Mapping[str, Any]], design: Design,
                     costs: Mapping[str, float] | None = None,
                     where: str = "plan.candidates") -> list[Intervention]:
    """Check and price a study's candidate tables.

    Raises
    ------
    UsageError
        Naming the candidate (``plan.candidates[2]``) and the problem; also for two
        candidates with one id.
    """
    out: list[Intervention] = []
    seen: dict[str, int] = {}
    for k, table in enumerate(tables):
        try:
            iv = make_intervention(table, design, costs)
        except UsageError as exc:
            raise type(exc)(f"{where}[{k}]: {exc}") from None
        if iv.id in seen:
            raise UsageError(f"{where}[{k}]: id {iv.id!r} is taken by {where}[{seen[iv.id]}]; "
                             "give each candidate its own id")
        seen[iv.id] = k
        out.append(iv)
    return out


def weak_points(design: Design) -> list[dict[str, Any]]:
    """Bridges of the intact grid and the buses each one cuts off.

    Returns
    -------
    list of dict
        ``branch`` (id), ``buses`` (positions cut off), ``load_mw`` and ``people`` (at
        critical facilities) cut off; in order of people, then load, then branch id.
    """
    grid = design.grid
    net = grid.network
    intact = net.intact()
    br = np.flatnonzero(bridges(net, intact))
    load = np.maximum(net.load_mw, 0.0)
    fac_people = np.bincount(net.fac_bus, weights=net.fac_people.astype(float),
                             minlength=net.n_bus)
    cap = np.bincount(net.gen_bus, weights=np.where(net.gen_in_service, net.gen_pmax_mw, 0.0),
                      minlength=net.n_bus)
    out = []
    for k in br:
        mask = intact.branch.copy()
        mask[k] = False
        _, labels = components(net, mask)
        a, b = labels[net.f[k]], labels[net.t[k]]
        side_a, side_b = labels == a, labels == b
        cut = side_a if cap[side_a].sum() < cap[side_b].sum() else side_b
        out.append({"branch": str(net.branch_ids[k]), "buses": np.flatnonzero(cut),
                    "load_mw": float(load[cut].sum()), "people": float(fac_people[cut].sum())})
    out.sort(key=lambda w: (-w["people"], -w["load_mw"], w["branch"]))
    return out


def _line_candidates(design: Design, line_km: float, limit: int) -> list[dict[str, Any]]:
    grid = design.grid
    net = grid.network
    if not grid.has_geometry:
        return []
    kv = grid.buses["base_kv"].to_numpy(float)
    connected = {tuple(sorted((int(f), int(t)))) for f, t in zip(net.f, net.t, strict=True)}
    ids = net.bus_ids
    tables: list[dict[str, Any]] = []
    pairs: set[tuple[int, int]] = set()

    xy = bus_xy(grid)
    geographic, unit_km = crs_kind(grid)
    points = weak_points(design)
    sides = []
    for wp in points:
        inside = np.zeros(net.n_bus, dtype=bool)
        inside[wp["buses"]] = True
        sides.append(inside)
    covered = np.zeros(len(points), dtype=bool)
    for n_wp, wp in enumerate(points):
        cut = wp["buses"]
        if covered[n_wp] or (wp["load_mw"] <= 0 and wp["people"] <= 0):
            continue
        inside = sides[n_wp]
        best = None
        for u in cut:
            if not np.isfinite(xy[u]).all() or not net.bus_in_service[u]:
                continue
            same = ~inside & net.bus_in_service & np.isfinite(xy).all(axis=1)
            if math.isfinite(kv[u]):
                same &= np.isclose(kv, kv[u])
            cand = np.flatnonzero(same)
            if not len(cand):
                continue
            d = distance_km(xy[u], xy[cand], geographic, unit_km)
            for j in np.argsort(d, kind="stable"):
                v = int(cand[j])
                if d[j] > line_km:
                    break
                if tuple(sorted((int(u), v))) in connected:
                    continue
                if best is None or d[j] < best[0]:
                    best = (float(d[j]), int(u), v)
                break
        if best is None:
            continue
        _, u, v = best
        pair = tuple(sorted((u, v)))
        if pair in pairs:
            continue
        pairs.add(pair)
        # a line whose ends lie on both sides of a bridge removes that weak point too
        covered |= np.array([side[u] != side[v] for side in sides], dtype=bool)
        tables.append({"kind": "line", "from_bus": str(ids[u]), "to_bus": str(ids[v])})
        if len(tables) >= limit:
            break
    return tables


def _backup_candidates(design: Design, hours: float) -> list[dict[str, Any]]:
    fac = design.grid.facilities
    net = design.grid.network
    demand = fac["demand_mw"].to_numpy(float)
    mw = fac["backup_mw"].to_numpy(float)
    h = fac["backup_hours"].to_numpy(float)
    short = (demand > 0) & ((mw < demand - 1e-9) | (h < hours - 1e-9))
    uncovered = mw < demand - 1e-9
    single = np.zeros(net.n_bus, dtype=bool)
    for wp in weak_points(design):
        single[wp["buses"]] = True
    single_fed = single[net.fac_bus]
    order = sorted(np.flatnonzero(short),
                   key=lambda i: (not uncovered[i], not single_fed[i],
                                  -int(fac["people"].iloc[i]), fac.index[i]))
    return [{"kind": "backup", "facility": str(fac.index[i]), "backup_hours": hours}
            for i in order]


def _exposure(design: Design, generator: ScenarioGenerator | None) -> tuple[dict, dict] | None:
    """Largest failure probability of each substation and branch under the hazards with
    fragility curves (None when no hazard has them)."""
    if generator is None:
        return None

    hz = [g for _, g in flatten(generator) if isinstance(g, HazardScenarios)]
    if not hz or len(hz) < len(flatten(generator)):
        return None
    subs = substations(design.grid)
    p_sub = np.max([h.p_substation for h in hz], axis=0)
    p_br = np.max([h.p_branch for h in hz], axis=0)
    return ({str(n): float(p) for n, p in zip(subs.names, p_sub, strict=True)},
            {str(b): float(p) for b, p in zip(design.grid.branches.index, p_br, strict=True)})


def _harden_candidates(design: Design, generator: ScenarioGenerator | None,
                       top_k: int) -> list[dict[str, Any]]:
    grid = design.grid
    cases = cg.contingencies(grid, "substation") + cg.contingencies(grid, "branch")
    df = cg.sweep(grid, cases)
    sub_of = substation_buses(grid)
    names = substations(grid)
    exposure = _exposure(design, generator)
    rows = []
    for _, r in df.iterrows():
        kind, _, ident = str(r["element"]).partition(":")
        impact = float(r["shed_mw"])
        if impact <= 0 and exposure is None:
            continue
        if kind == "substation":
            bus = int(sub_of[ident][0])
            name = str(names.names[names.of_bus[bus]])
            p = exposure[0].get(name, 0.0) if exposure else 1.0
            table = {"kind": "harden", "substation": name}
        else:
            p = exposure[1].get(ident, 0.0) if exposure else 1.0
            table = {"kind": "harden", "branch": ident}
        if p <= 1e-3:
            continue
        # expected load lost alone first; then the most exposed assets, whose failures
        # matter in the events that fail several at once
        rows.append((-impact * p, -p, str(r["element"]), table))
    rows.sort(key=lambda x: (x[0], x[1], x[2]))
    return [t for *_, t in rows[:top_k]]


def _service_candidates(design: Design) -> list[dict[str, Any]]:
    grid = design.grid
    fac = grid.facilities
    if not len(fac):
        return []
    net = grid.network
    model = compile_services(grid)
    impact = service_impact(model)
    covers = backup_covers(net) & (net.fac_demand_mw > 0)
    out: list[dict[str, Any]] = []
    if covers.any():
        out.append({"kind": "fuel_truck"})
        for i in sorted(np.flatnonzero(covers), key=lambda i: (-impact[i], fac.index[i]))[:2]:
            out.append({"kind": "tank", "facility": str(fac.index[i]), "hours": 24.0})
    bare = ~backup_covers(net) & (net.fac_demand_mw > 0)
    if bare.any():
        mw = math.ceil(float(net.fac_demand_mw[bare].max()) * 2.0) / 2.0
        out.append({"kind": "mobile_generator", "mw": mw})
    water = np.flatnonzero((model.service == SERVICES.index("water"))
                           & np.isfinite(model.storage_h))
    if len(water):
        w = max(water, key=lambda i: (model.people_served[i], -i))
        out.append({"kind": "reservoir", "facility": str(fac.index[w]), "hours": 12.0})
    return out


def generate_candidates(
    design: Design,
    generator: ScenarioGenerator | None = None,
    costs: Mapping[str, float] | None = None,
    *,
    max_candidates: int = 20,
    line_km: float = LINE_KM,
    top_k: int = 5,
    backup_hours: float = BACKUP_HOURS,
    exclude: Sequence[str] = (),
) -> list[Intervention]:
    """Candidates a planner would start from (see the module notes).

    Parameters
    ----------
    design : Design
        The base design.
    generator : ScenarioGenerator, optional
        The study's scenarios: hardening favours assets its hazards can fail.
    costs : mapping, optional
        Unit costs.
    max_candidates : int
    line_km : float
        Longest straight-line distance of a new line, km.
    top_k : int
        Hardening candidates from the N-1 ranking.
    backup_hours : float
        Autonomy a facility's backup should have.
    exclude : sequence of str
        Ids not to propose (e.g. those a study lists already).

    Returns
    -------
    list of Intervention

    Examples
    --------
    >>> from gridres.io import load_grid
    >>> from gridres.restoration import RestorationSettings
    >>> d = Design(load_grid("demo_region"), RestorationSettings())
    >>> ids = [iv.id for iv in generate_candidates(d, max_candidates=8)]
    >>> "backup:H09" in ids, "crews+1" in ids
    (True, True)
    """
    if not (isinstance(max_candidates, int) and max_candidates >= 1):
        raise UsageError(f"The 'max_candidates' parameter must be an int >= 1. Got "
                         f"{max_candidates!r} instead.")
    lines = _line_candidates(design, line_km, max_candidates)
    backups = _backup_candidates(design, backup_hours)
    harden = _harden_candidates(design, generator, top_k)
    restore: list[dict[str, Any]] = [{"kind": "crews"}]
    restore += [{"kind": "spares", "equipment": k} for k in design.settings.needs_spare]
    restore += [{"kind": "repair", "equipment": k} for k in ("line", "transformer")]
    groups = [lines, backups, harden, restore, _service_candidates(design)]
    chosen: list[Intervention] = []
    seen = set(exclude)
    depth = 0
    while len(chosen) < max_candidates and any(depth < len(g) for g in groups):
        for g in groups:
            if depth < len(g) and len(chosen) < max_candidates:
                try:
                    iv = make_intervention(g[depth], design, costs)
                except UsageError as exc:
                    logger.info("generated candidate %s skipped: %s", g[depth], exc)
                    continue
                if iv.id not in seen:
                    seen.add(iv.id)
                    chosen.append(iv)
        depth += 1
    return chosen
