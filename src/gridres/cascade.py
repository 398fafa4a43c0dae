"""Cascading overload trips, with or without corrective redispatch: the cascade modes.

:func:`cascade` follows an outage through the stages of a cascade and records each;
:func:`settle` gives the settled operating point alone, for any mode. Every part of
gridres that assesses an outage (``gridres outage``, ``contingency``, ``ensemble``,
``restore``, studies' ``[cascade]``, the planner) takes the same
:class:`CascadeOptions`: a mode and a margin.

``mode="none"``
    The outage as the engine assesses it (rules 1-4): overloads are reported, nothing
    trips and nothing is redispatched. The default everywhere.
``mode="trip"``
    The engine's rule 5 (as :func:`gridres.impact.assess` with ``cascade=True``): every
    branch whose ``|flow|`` exceeds ``rating × (1 + margin)`` trips, the grid re-balances
    (rules 2-4), and this repeats until no branch is overloaded.
``mode="redispatch"``
    The operator can stop the cascade: in every island with an overloaded branch a linear
    programme (below) moves generation within ``[0, pmax_mw]`` and sheds load at least
    cost to bring every branch within ``rating × (1 + margin)``; then nothing trips.
    Saving an overloaded branch can cost more load than losing it (the rest of the grid
    may carry its flow), so the operator acts at the stage of the trip sequence where
    that costs least: before any trip (stage 0), or after the first ``s`` stages have
    tripped. The shed cost (below) decides; ties go to the earliest stage, and without
    any stage that can be secured the cascade runs as in ``trip`` mode. So
    ``redispatch`` mode never sheds at a higher cost than ``trip`` mode, and with a
    single priority class never serves less.

Redispatch programme (per island)
---------------------------------
Variables: each alive generator's increase ``u`` and decrease ``d`` from the engine's
dispatch ``p0`` (so ``p = p0 + u - d`` stays in ``[0, pmax]``), and the shed load of every
bus in two segments: the part that feeds critical facilities and the rest. Minimise::

    redispatch_cost × Σ (u + d)  +  Σ shed_cost(class) × shed

subject to the island's balance ``Σ p + Σ shed = load + fixed demand`` and, for each
monitored branch ``k``, ``|a_k + PTDF_k · Δinjection| <= rating_k × (1 + margin)``.
Costs per MW: ``redispatch_cost_per_mw`` (default 1) for moving generation;
``shed_cost_per_mw × (1 + r)`` (default 1,000) for load of the ``r``-th lowest bus
``priority`` class of the grid, so lower classes go first; ``critical_cost_per_mw``
(default 1,000,000) for load that feeds critical facilities. With one priority class
the programme keeps as much load as the limits allow; across classes it minimises
cost, not MW (it may shed more low-priority MW to keep a critical MW). The same shed
costs, summed over every unserved MW of the grid, compare the stages.

PTDFs come from the island's current topology: its susceptance matrix reduced at a
reference bus is factorised once (sparse LU) and one solve per monitored branch gives
that branch's PTDF row. Constraint generation keeps the programme small: it starts with
the branches the engine's dispatch overloads or loads above ``near_limit × limit``, adds
any branch the solution overloads, and solves again until none is. Solved with HiGHS
(:func:`scipy.optimize.linprog`, ``method="highs"``). An island whose programme is
infeasible (its fixed demand alone overloads a branch) cannot be secured at that stage.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.optimize import linprog

from gridres.elements import as_state
from gridres.errors import UsageError
from gridres.flow import shift_injections
from gridres.impact import Impact, assess, cascade_stages, facility_status
from gridres.model import Grid, Network, State
from gridres.tolerances import LP_SHED_FRACTION, OVERLOAD_MW

__all__ = ["CascadeOptions", "CascadeStage", "CascadeResult", "cascade", "settle", "redispatch",
           "shed_cost", "MODES"]

logger = logging.getLogger(__name__)

#: The cascade modes, in the order of the module notes.
MODES = ("none", "trip", "redispatch")
_BACKOFF = 1e-6  # MW the programme keeps below a limit, so that solver tolerance never trips


@dataclass(frozen=True)
class CascadeOptions:
    """How the grid reacts to the overloads of an outage: the one cascade option of every
    command (``--cascade-mode``, ``--margin``) and of a study's ``[cascade]`` table.

    Parameters
    ----------
    mode : {"none", "trip", "redispatch"}
        See the module notes; default ``"none"``.
    margin : float
        A branch is overloaded (and trips, in ``trip`` mode) above
        ``rating_mw × (1 + margin)``; a fraction ``>= 0``, default 0.
    max_stages : int
        Safety bound on the stages of a cascade, ``>= 1``.

    Raises
    ------
    UsageError
        On an unknown mode or a parameter out of range.

    Examples
    --------
    >>> CascadeOptions("trip", margin=0.1).flows_matter
    True
    >>> CascadeOptions().mode, CascadeOptions().margin
    ('none', 0.0)
    """

    mode: str = "none"
    margin: float = 0.0
    max_stages: int = 1000

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            hint = " (off is now none)" if self.mode == "off" else ""
            raise UsageError(f"The 'mode' parameter of the cascade must be one of "
                             f"{', '.join(MODES)}{hint}. Got {self.mode!r} instead.")
        _check("margin", self.margin, 0.0, strict=False)
        object.__setattr__(self, "margin", float(self.margin))
        if isinstance(self.max_stages, bool) or not (isinstance(self.max_stages, int | np.integer)
                                                      and self.max_stages >= 1):
            raise UsageError(f"The 'max_stages' parameter of the cascade must be an int >= 1. "
                             f"Got {self.max_stages!r} instead.")
        object.__setattr__(self, "max_stages", int(self.max_stages))

    @property
    def flows_matter(self) -> bool:
        """Whether flows can change served load: a cascade trips or redispatches
        (``mode`` is not ``"none"``)."""
        return self.mode != "none"

    @classmethod
    def of(cls, value: CascadeOptions | str | None) -> CascadeOptions:
        """``value`` as options: ``None`` the defaults, a mode name that mode with
        margin 0.

        Examples
        --------
        >>> CascadeOptions.of("redispatch")
        CascadeOptions(mode='redispatch', margin=0.0, max_stages=1000)
        """
        if value is None:
            return cls()
        if isinstance(value, str):
            return cls(value)
        if isinstance(value, cls):
            return value
        raise UsageError(f"The cascade option must be a CascadeOptions or a mode name (one "
                         f"of {', '.join(MODES)}). Got {value!r} instead.")


@dataclass(frozen=True, eq=False)
class CascadeStage:
    """One stage of a cascade: the branches that tripped and the load served once the
    grid has re-balanced after them (the engine's balance, before any redispatch).

    Attributes
    ----------
    tripped : ndarray of int
        Branch positions that tripped at this stage.
    served_mw, shed_mw : float
    """

    tripped: np.ndarray
    served_mw: float
    shed_mw: float


@dataclass(frozen=True, eq=False)
class CascadeResult:
    """Outcome of :func:`cascade`.

    Attributes
    ----------
    mode : {"none", "trip", "redispatch"}
    margin : float
    outage : Impact
        The outage state as the engine balances it, before any redispatch or trip.
    stages : tuple of CascadeStage
        Stages that tripped something, in order (empty when nothing tripped).
    intervention : int or None
        ``redispatch`` mode: number of stages that tripped before the redispatch secured
        the grid (0: before any trip); ``None`` when no redispatch took place.
    redispatch_mw : float
        Generation moved by the redispatch, ``Σ |p - p0|`` (0 without one).
    final : Impact
        The settled operating point: its ``stages`` are the tripped branch lists; in
        ``redispatch`` mode its ``served_mw``, ``gen_mw`` and ``flow_mw`` are the
        redispatched ones.
    """

    mode: str
    margin: float
    outage: Impact
    stages: tuple[CascadeStage, ...]
    intervention: int | None
    redispatch_mw: float
    final: Impact

    @property
    def served_mw(self) -> float:
        return self.final.served_total_mw

    @property
    def shed_mw(self) -> float:
        return self.final.shed_total_mw

    @property
    def tripped(self) -> np.ndarray:
        """Every branch the cascade tripped, in stage order."""
        if not self.stages:
            return np.zeros(0, dtype=np.int64)
        return np.concatenate([s.tripped for s in self.stages])

    def summary(self) -> dict[str, Any]:
        """JSON-ready document with string ids."""
        ids = self.final.net.branch_ids
        return {
            "mode": self.mode,
            "margin": self.margin,
            "outage_served_mw": round(self.outage.served_total_mw, 6),
            "stages": [
                {"tripped": ids[s.tripped].tolist(), "served_mw": round(s.served_mw, 6),
                 "shed_mw": round(s.shed_mw, 6)}
                for s in self.stages
            ],
            "intervention": self.intervention,
            "redispatch_mw": round(self.redispatch_mw, 6),
            "served_mw": round(self.served_mw, 6),
            "shed_mw": round(self.shed_mw, 6),
        }


def _check(name: str, value: float, lo: float, strict: bool) -> None:
    ok = np.isfinite(value) and (value > lo if strict else value >= lo)
    if not ok:
        raise UsageError(f"The {name!r} parameter of cascade must be a float "
                         f"{'>' if strict else '>='} {lo:g}. Got {value!r} instead.")


def shed_cost(net: Network, served_mw: np.ndarray, costs: tuple[float, float, float]) -> float:
    """Cost of the load not served, with the classes of the module notes: a bus's
    non-critical load is shed before its critical load.

    Parameters
    ----------
    net : Network
    served_mw : ndarray, shape (n_bus,)
    costs : (redispatch, shed, critical) costs per MW; the first is not used.
    """
    load = np.where(net.bus_in_service, np.maximum(net.load_mw, 0.0), 0.0)
    shed = np.clip(load - served_mw, 0.0, None)
    crit = np.minimum(net.critical_mw, load)
    non_crit_shed = np.minimum(shed, load - crit)
    rank = np.searchsorted(np.unique(net.priority), net.priority)
    _, c_shed, c_crit = costs
    return float((c_shed * (1.0 + rank) * non_crit_shed).sum()
                 + c_crit * (shed - non_crit_shed).sum())


def cascade(
    net: Network | Grid,
    state: State | str | Iterable[str] | None = None,
    mode: str = "trip",
    margin: float = 0.0,
    *,
    max_stages: int = 1000,
    live: np.ndarray | None = None,
    redispatch_cost_per_mw: float = 1.0,
    shed_cost_per_mw: float = 1000.0,
    critical_cost_per_mw: float = 1e6,
    near_limit: float = 0.9,
) -> CascadeResult:
    """Follow an outage through a cascade of overload trips (see the module notes).

    Parameters
    ----------
    net : Network or Grid
    state : State, str or iterable of str, optional
        The outage (default the intact grid), or the elements that fail as tokens, as
        for :func:`gridres.impact.assess`.
    mode : {"trip", "redispatch", "none"}
        ``"none"``: the outage itself, nothing trips.
    margin : float
        Branches trip above ``rating × (1 + margin)``; ``>= 0``.
    max_stages : int
        Safety bound on the number of stages.
    live : ndarray of bool, shape (n_bus,), optional
        Buses energised just before (the black-start rule of
        :func:`gridres.impact.assess`); default every bus.
    redispatch_cost_per_mw, shed_cost_per_mw, critical_cost_per_mw : float
        Costs of the redispatch programme (``redispatch`` mode), > 0.
    near_limit : float
        Branches loaded above this fraction of their limit are constrained from the
        start (others join when a solution overloads them), in (0, 1].

    Returns
    -------
    CascadeResult

    Raises
    ------
    UsageError
        On an unknown mode or a parameter out of range.

    Examples
    --------
    >>> from gridres.io import load_grid
    >>> net = load_grid("ieee14").network
    >>> out = net.intact().fail(branches=[0])
    >>> cascade(net, out, mode="redispatch").served_mw >= cascade(net, out).served_mw
    True

    Notes
    -----
    ``trip`` mode costs one :func:`~gridres.impact.assess` per stage. ``redispatch`` mode
    adds, per stage examined and island with an overload, one sparse LU of the island's
    susceptance matrix, one solve per monitored branch and a few small LPs; it stops
    examining stages once no later stage can cost less (trips only remove supply).
    """
    if mode not in MODES:
        raise UsageError(f"The 'mode' parameter of cascade must be one of "
                         f"{', '.join(MODES)}. Got {mode!r} instead.")
    _check("margin", margin, 0.0, strict=False)
    for name, value in (("redispatch_cost_per_mw", redispatch_cost_per_mw),
                        ("shed_cost_per_mw", shed_cost_per_mw),
                        ("critical_cost_per_mw", critical_cost_per_mw)):
        _check(name, value, 0.0, strict=True)
    if not 0 < near_limit <= 1:
        raise UsageError(f"The 'near_limit' parameter of cascade must be a float in (0, 1]. "
                         f"Got {near_limit!r} instead.")
    costs = (redispatch_cost_per_mw, shed_cost_per_mw, critical_cost_per_mw)
    state = as_state(net, state)
    net = net.network if isinstance(net, Grid) else net
    stages: list[CascadeStage] = []
    best: tuple[float, int, Impact, float] | None = None  # (cost, stage, impact, moved)
    for imp in cascade_stages(net, state, margin, 0 if mode == "none" else max_stages,
                              live=live):
        if imp.stages:
            stages.append(CascadeStage(imp.stages[-1], imp.served_total_mw, imp.shed_total_mw))
            logger.debug("cascade stage %d: %d branches tripped, %.3f MW served",
                         len(stages), len(imp.stages[-1]), imp.served_total_mw)
        else:
            outage = imp
        if mode == "redispatch" and imp.overloaded.any():
            floor = shed_cost(net, imp.served_mw, costs)  # no later stage costs less
            if best is not None and best[0] <= floor * (1 + 1e-9) + 1e-9:
                break
            secured, moved = redispatch(net, imp, margin, costs=costs, near_limit=near_limit)
            if not secured.overloaded.any():
                cost = shed_cost(net, secured.served_mw, costs)
                if best is None or cost < best[0] - 1e-9 * max(1.0, abs(best[0])):
                    best = (cost, len(stages), secured, moved)
    intervention, moved, final = None, 0.0, imp
    if best is not None and (imp.overloaded.any()
                             or best[0] <= shed_cost(net, imp.served_mw, costs) + 1e-9):
        _, intervention, final, moved = best
        stages = stages[:intervention]
    final = dataclasses.replace(final, stages=[s.tripped for s in stages])
    return CascadeResult(mode, float(margin), outage, tuple(stages), intervention, moved, final)


def settle(
    net: Network | Grid,
    state: State | str | Iterable[str] | None = None,
    options: CascadeOptions | str | None = None,
    *,
    live: np.ndarray | None = None,
) -> Impact:
    """The settled operating point of an outage under a cascade mode: what
    ``gridres outage --cascade-mode MODE --margin M`` reports.

    ``none``: :func:`gridres.impact.assess`; ``trip``: ``assess`` with its cascade;
    ``redispatch``: the ``final`` impact of :func:`cascade`.

    Parameters
    ----------
    net : Network or Grid
    state : State, str or iterable of str, optional
        As for :func:`gridres.impact.assess`.
    options : CascadeOptions or str, optional
        Mode and margin (default: mode ``none``, margin 0).
    live : ndarray of bool, shape (n_bus,), optional
        Buses energised just before (the black-start rule); default every bus.

    Returns
    -------
    Impact

    Examples
    --------
    >>> from gridres.io import load_grid
    >>> g = load_grid("demo_region")
    >>> [round(settle(g, ["bus:KAL-110"], mode).shed_total_mw, 2)
    ...  for mode in ("none", "trip")]
    [0.0, 164.85]
    """
    opts = CascadeOptions.of(options)
    if opts.mode == "redispatch":
        return cascade(net, state, "redispatch", opts.margin, max_stages=opts.max_stages,
                       live=live).final
    return assess(net, state, cascade=opts.mode == "trip", margin=opts.margin,
                  max_stages=opts.max_stages, live=live)


def redispatch(
    net: Network,
    imp: Impact,
    margin: float = 0.0,
    *,
    costs: tuple[float, float, float] = (1.0, 1000.0, 1e6),
    near_limit: float = 0.9,
    max_rounds: int = 50,
) -> tuple[Impact, float]:
    """Corrective redispatch of an assessed state (see the module notes).

    Parameters
    ----------
    net : Network
    imp : Impact
        The engine's assessment of the state (no cascade).
    margin : float
    costs : (redispatch, shed, critical) costs per MW
    near_limit : float
    max_rounds : int
        Bound on constraint-generation rounds per island.

    Returns
    -------
    impact : Impact
        ``imp`` with served, shed, dispatch, flows, loading, overload and facility
        status of the redispatched islands replaced (their angles relative to the
        island's first bus); islands without an overload are
        unchanged. ``overloaded`` is non-empty only in islands that cannot be secured.
    redispatch_mw : float
        ``Σ |p - p0|`` over generators.
    """
    limit = net.rating_mw * (1.0 + margin)
    islands = np.unique(imp.island[net.f[imp.overloaded]])
    if not len(islands):
        return imp, 0.0
    served = imp.served_mw.copy()
    gen_mw = imp.gen_mw.copy()
    flow = imp.flow_mw.copy()
    theta = imp.theta_rad.copy()
    crit_shed = np.zeros(net.n_bus)
    touched = np.zeros(net.n_bus, dtype=bool)
    moved = 0.0
    for isl in islands:
        out = _island_lp(net, imp, int(isl), limit, costs, near_limit, max_rounds)
        if out is None:
            continue
        buses, br, s_served, s_crit_shed, g, p, f, th = out
        moved += float(np.abs(p - gen_mw[g]).sum())
        served[buses] = s_served
        crit_shed[buses] = s_crit_shed
        touched[buses] = True
        gen_mw[g] = p
        flow[br] = f
        theta[buses] = th
    load = np.where(net.bus_in_service, np.maximum(net.load_mw, 0.0), 0.0)
    live = imp.state.branch & imp.energized[net.f]
    with np.errstate(divide="ignore", invalid="ignore"):
        loading = np.where(np.isfinite(net.rating_mw), np.abs(flow) / net.rating_mw, 0.0)
    overloaded = live & (np.abs(flow) > limit + OVERLOAD_MW)
    facility = imp.facility.copy()
    redo = touched[net.fac_bus]
    if redo.any():
        crit = np.minimum(net.critical_mw, load)
        frac = np.divide(crit_shed, crit, out=np.zeros(net.n_bus), where=crit > 0)
        status = facility_status(net, imp.energized, frac, tol=LP_SHED_FRACTION)
        facility[redo] = status[redo]
    new = dataclasses.replace(
        imp, served_mw=served, shed_mw=load - served, gen_mw=gen_mw, flow_mw=flow,
        theta_rad=theta, loading=loading, overloaded=overloaded, facility=facility,
    )
    return new, moved


def _island_lp(net: Network, imp: Impact, isl: int, limit: np.ndarray,
               costs: tuple[float, float, float], near_limit: float, max_rounds: int):
    """Redispatch programme of one island; ``None`` when infeasible (or trivial)."""
    eff = imp.state
    buses = np.flatnonzero(imp.island == isl)
    n = len(buses)
    loc = np.full(net.n_bus, -1, dtype=np.int64)
    loc[buses] = np.arange(n)
    br = np.flatnonzero(eff.branch & (imp.island[net.f] == isl))
    g = np.flatnonzero(eff.gen & (imp.island[net.gen_bus] == isl))
    if n < 2 or not len(g) or not len(br):
        return None
    fl, tl = loc[net.f[br]], loc[net.t[br]]
    b = net.b_pu[br]
    # reduced susceptance matrix (reference: local bus 0), factorised once
    kmat = sp.csr_matrix((np.r_[np.ones(len(br)), -np.ones(len(br))],
                          (np.r_[np.arange(len(br)), np.arange(len(br))], np.r_[fl, tl])),
                         shape=(len(br), n))
    bbus = (kmat.T @ sp.diags(b) @ kmat).tocsc()[1:, 1:]
    try:
        lu = spla.splu(bbus.tocsc())
    except RuntimeError:  # singular: not connected (cannot happen for an island)
        logger.warning("island %d: singular susceptance matrix; no redispatch", isl)
        return None

    def solve(rhs: np.ndarray) -> np.ndarray:
        """Angles (n,) or (n, k) with the reference at 0."""
        x = lu.solve(np.ascontiguousarray(rhs[1:]))
        return np.concatenate([np.zeros((1,) + x.shape[1:]), x])

    base = net.base_mva
    pfinj, pbusinj = shift_injections(net, eff.branch & imp.energized[net.f])
    pfinj_l = pfinj[br] * base  # MW
    pbus_l = pbusinj[buses] * base

    def flows_of(inj_mw: np.ndarray) -> np.ndarray:
        th = solve((inj_mw - pbus_l) / base)
        return b * (th[fl] - th[tl]) * base + pfinj_l, th

    # decision variables: u (G), d (G), shed (2n: non-critical, critical)
    ng = len(g)
    pmax = net.gen_pmax_mw[g]
    p0 = np.clip(imp.gen_mw[g], 0.0, pmax)
    load = np.maximum(net.load_mw[buses], 0.0)
    crit = np.minimum(net.critical_mw[buses], load)
    seg_mw = np.r_[load - crit, crit]
    fixed = imp.fixed_mw[buses]  # as the engine balanced it (surplus injections curtailed)
    classes = np.unique(net.priority)
    rank = np.searchsorted(classes, net.priority[buses])
    red_c, shed_c, crit_c = costs
    cost = np.r_[np.full(2 * ng, red_c), shed_c * (1.0 + rank), np.full(n, crit_c)]
    gl = loc[net.gen_bus[g]]
    bounds = [(0.0, hi) for hi in pmax - p0] + [(0.0, hi) for hi in p0] + [
        (0.0, hi) for hi in seg_mw]
    a_eq = np.r_[np.ones(ng), -np.ones(ng), np.ones(2 * n)][None, :]
    b_eq = np.array([load.sum() + fixed.sum() - p0.sum()])
    inj0 = np.bincount(gl, weights=p0, minlength=n) - load - fixed
    f0, _ = flows_of(inj0)
    lim = limit[br]
    tight = np.minimum(_BACKOFF, 1e-3 * lim)
    # start with the branches the engine's point overloads and those near their limit
    monitored = np.flatnonzero((np.abs(f0) >= near_limit * lim) | imp.overloaded[br])
    ptdf_rows: dict[int, np.ndarray] = {}
    for _ in range(max_rounds):
        new = [k for k in monitored if k not in ptdf_rows]
        if new:
            rhs = np.zeros((n, len(new)))
            rhs[fl[new], np.arange(len(new))] += 1.0
            rhs[tl[new], np.arange(len(new))] -= 1.0
            x = solve(rhs)
            for j, k in enumerate(new):
                ptdf_rows[k] = b[k] * x[:, j]
        ks = np.array(sorted(ptdf_rows), dtype=np.int64)
        ptdf = np.vstack([ptdf_rows[k] for k in ks])  # (m, n) MW per MW
        # flow = f0 + PTDF (G (u - d) + shed)
        pg = ptdf[:, gl]
        a_flow = np.hstack([pg, -pg, ptdf, ptdf])
        a_ub = np.vstack([a_flow, -a_flow])
        b_ub = np.r_[lim[ks] - tight[ks] - f0[ks], lim[ks] - tight[ks] + f0[ks]]
        res = linprog(cost, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=bounds,
                      method="highs")
        if res.status != 0:
            logger.info("island %d: redispatch infeasible (%s); overloaded branches trip",
                        isl, res.message)
            return None
        x = res.x
        u, d, shed = x[:ng], x[ng:2 * ng], x[2 * ng:]
        p = p0 + u - d
        inj = inj0 + np.bincount(gl, weights=u - d, minlength=n) + shed[:n] + shed[n:]
        f, th = flows_of(inj)
        over = np.flatnonzero(np.abs(f) > lim - 0.5 * tight)
        missing = np.setdiff1d(over, ks)
        if not len(missing):
            break
        monitored = np.union1d(ks, missing)
    else:
        logger.warning("island %d: constraint generation did not settle in %d rounds",
                       isl, max_rounds)
    served = load - shed[:n] - shed[n:]
    return buses, br, served, shed[n:], g, np.clip(p, 0.0, pmax), f, th
