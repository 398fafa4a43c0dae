"""The exact superposition fast path behind :func:`gridres.contingency.sweep`.

The sweep never rebuilds or refactorises the network per case. One depth-first search
of the intact grid (:func:`gridres.sensitivity.bus_tree`) finds every bridge and
articulation bus and, for each outage, the buses it cuts off (a contiguous range of the
search's preorder). Per cut-off part, prefix sums over that order give load, capacity and
schedule, and the part is balanced by the same rule as :func:`gridres.impact.balance`:
dark without capacity, else its reference bus takes up its imbalance, or, where that
reference cannot, every generator of the part runs at the same share of its capacity;
the rest of the island's reference bus takes up the lost exchange. Flows then follow
from the intact factorisation by superposition: each cut-off part gets its balancing
injection changes, every removed branch that does not cut anything off is compensated by
its LODF (rank-``r`` for a bus with ``r + 1`` branches), and the branches that do cut
parts off carry no flow. Right-hand sides for a block of outages are solved together;
only branches with a rating are screened for the worst loading, a chunk of rows at a
time.

Outages outside that rule — load shedding, re-dispatch of the island that stays, a
reference bus or a case reference bus inside a cut-off part, several buses at once,
cascades — go through :func:`gridres.impact.assess` itself. Either way every figure
equals assess's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from gridres.impact import Impact, assess, backup_covers, keeps_schedule, shortfall
from gridres.model import Network
from gridres.sensitivity import IntactFactor, bus_tree, intact_factor
from gridres.tolerances import OVERLOAD_MW, ZERO_MW

__all__ = ["Rows", "SuperpositionSweep"]

log = logging.getLogger(__name__)

_EMPTY = np.zeros(0, dtype=np.int64)
_NO_MW = np.zeros(0)
#: Rated rows screened together: a chunk of rows times a block of cases stays in cache.
_ROW_CHUNK = 4096

Progress = Callable[[int], None]


@dataclass
class Rows:
    """Per-case results of a sweep, filled by the fast path and by assess (internal)."""

    n: int
    served: np.ndarray = field(init=False)
    shed: np.ndarray = field(init=False)
    customers: np.ndarray = field(init=False)
    people: np.ndarray = field(init=False)
    islands: np.ndarray = field(init=False)
    max_loading: np.ndarray = field(init=False)
    overloaded: np.ndarray = field(init=False)
    dark: list = field(init=False)
    method: np.ndarray = field(init=False)

    _ARRAYS = ("served", "shed", "customers", "people", "islands", "max_loading",
               "overloaded", "method")

    def __post_init__(self) -> None:
        self.served = np.full(self.n, np.nan)
        self.shed = np.full(self.n, np.nan)
        self.customers = np.full(self.n, np.nan)
        self.people = np.zeros(self.n, dtype=np.int64)
        self.islands = np.zeros(self.n, dtype=np.int64)
        self.max_loading = np.zeros(self.n)
        self.overloaded = np.zeros(self.n, dtype=np.int64)
        self.dark = [()] * self.n
        self.method = np.full(self.n, "assess", dtype=object)

    def from_impact(self, j: int, imp: Impact) -> None:
        self.served[j] = imp.served_total_mw
        self.shed[j] = imp.shed_total_mw
        self.customers[j] = imp.customers_out
        self.people[j] = imp.people_out
        self.islands[j] = imp.n_islands
        self.max_loading[j] = imp.max_loading
        self.overloaded[j] = int(imp.overloaded.sum())
        self.dark[j] = tuple(imp.dark_facilities.tolist())
        self.method[j] = "assess"

    def head(self, m: int) -> Rows:
        """The first ``m`` rows."""
        out = Rows(m)
        for name in self._ARRAYS:
            getattr(out, name)[:] = getattr(self, name)[:m]
        out.dark = self.dark[:m]
        return out

    def put(self, at: np.ndarray, part: Rows) -> None:
        """Copy ``part``'s rows into rows ``at`` (one position per row of ``part``)."""
        for name in self._ARRAYS:
            getattr(self, name)[at] = getattr(part, name)
        for j, d in zip(at.tolist(), part.dark, strict=True):
            self.dark[j] = d


@dataclass
class _Case:
    """What the flow kernel needs for one fast case."""

    j: int
    removed: np.ndarray  # branches compensated by LODF (S)
    delta_bus: np.ndarray  # balancing injection changes (MW)
    delta_mw: np.ndarray
    zero: np.ndarray  # branches carrying no flow afterwards (failed ones)
    dark: list  # preorder ranges of dark cut-off parts


class SuperpositionSweep:
    """Intact-grid data shared by all fast cases of a sweep.

    Parameters
    ----------
    net : Network
    margin : float
        Overload margin.
    backend : str
        Factorisation backend (see :func:`gridres.sensitivity.intact_factor`).
    """

    def __init__(self, net: Network, margin: float, backend: str) -> None:
        self.net = net
        self.margin = margin
        self.backend = backend
        self.imp0 = imp0 = assess(net)
        self.tree = tree = bus_tree(net)
        eff = imp0.state
        self.eff = eff
        order = tree.order
        n = net.n_bus
        alive_gen = np.flatnonzero(eff.gen)
        gb = net.gen_bus[alive_gen]
        self.cap = np.bincount(gb, weights=net.gen_pmax_mw[alive_gen], minlength=n)
        self.sched = np.bincount(gb, weights=net.gen_p_mw[alive_gen], minlength=n)
        self.demand = np.where(eff.bus, np.maximum(net.load_mw, 0.0), 0.0)
        self.fixed = np.where(eff.bus, net.fixed_mw, 0.0)
        self.cust = np.where(net.bus_in_service, net.customers, 0).astype(float)
        self.p0_inj = (np.bincount(net.gen_bus, weights=imp0.gen_mw, minlength=n)
                       - imp0.served_mw - imp0.fixed_mw)
        # prefix sums over the preorder: sum over pre-range [lo, hi) = cs[hi] - cs[lo]
        stack = np.vstack([self.cap, self.sched, self.demand, self.fixed, self.cust,
                           self.p0_inj, (net.is_ref & eff.bus).astype(float)])
        self.cs = np.zeros((stack.shape[0], len(order) + 1))
        self.cs[:, 1:] = np.cumsum(stack[:, order], axis=1)
        # largest generator of a pre-range: sparse table of per-bus best generator rank
        # (the highest rank is the largest pmax; among equals the generator listed first,
        # as gridres.flow.reference_buses chooses)
        g_rank = np.empty(len(alive_gen), dtype=np.int64)
        g_rank[np.lexsort((-alive_gen, net.gen_pmax_mw[alive_gen]))] = np.arange(len(alive_gen))
        self.gen_by_rank = alive_gen[np.argsort(g_rank)]
        best = np.full(n, -1, dtype=np.int64)
        np.maximum.at(best, gb, g_rank)
        self.range_max = _RangeMax(best[order])
        # alive generators by the preorder of their bus: a cut-off part's are a slice
        gpre = tree.pre[gb]
        srt = np.argsort(gpre, kind="stable")
        self.gen_in_pre, self.gen_pre = alive_gen[srt], gpre[srt]
        # children lists and incident branches
        par = tree.parent
        kids = np.flatnonzero(par >= 0)
        kids = kids[np.argsort(par[kids], kind="stable")]
        self.kid_ptr = np.searchsorted(par[kids], np.arange(n + 1))
        self.kids = kids
        alive_br = np.flatnonzero(eff.branch)
        ends = np.concatenate([net.f[alive_br], net.t[alive_br]])
        brs = np.concatenate([alive_br, alive_br])
        srt = np.argsort(ends, kind="stable")
        self.inc = brs[srt]
        self.inc_ptr = np.searchsorted(ends[srt], np.arange(n + 1))
        # facilities in preorder of their bus
        fpre = tree.pre[net.fac_bus]
        self.fac_sorted = np.argsort(fpre, kind="stable")
        self.fac_pre = fpre[self.fac_sorted]
        self.fac_covered = backup_covers(net)
        self.dark0 = tuple(imp0.dark_facilities.tolist())
        self.totals = (imp0.served_total_mw, imp0.shed_total_mw, imp0.customers_out,
                       imp0.n_islands)
        # islands fit for the fast path: energized, nothing shed, reference takes the slack
        self.island_ok = self._islands_ok()
        # buses renumbered in preorder (dead ones last): solutions come out in that order
        self.perm = np.concatenate([order, np.flatnonzero(tree.pre < 0)])
        self.new_of = np.empty(n, dtype=np.int64)
        self.new_of[self.perm] = np.arange(n)
        # screened rows: alive branches with a finite rating, ordered by the preorder of
        # their first end so that a cut-off part's branches are a contiguous slice and
        # reading flows off the solutions walks memory forwards
        rated = np.flatnonzero(eff.branch & np.isfinite(net.rating_mw))
        a, b = self.new_of[net.f[rated]], self.new_of[net.t[rated]]
        key = np.minimum(a, b)
        srt = np.lexsort((np.maximum(a, b), key))
        self.rows = rated[srt]
        self.row_key = key[srt]
        self.row_lo = self.row_key.copy()
        self.row_hi = np.maximum(a, b)[srt]
        rating = net.rating_mw[self.rows]
        sign = np.where(self.new_of[net.f[self.rows]] == self.row_lo, 1.0, -1.0)
        self.row_scale = sign * net.b_pu[self.rows] / rating
        self.row_base = imp0.flow_mw[self.rows] / rating
        self.row_thr = (1.0 + margin) + OVERLOAD_MW / rating
        self.row_of = np.full(net.n_branch, -1, dtype=np.int64)
        self.row_of[self.rows] = np.arange(len(self.rows))
        # the rows' post-outage flows over ratings, base + scale · (θ_lo − θ_hi), as
        # sparse matrices of _ROW_CHUNK rows; column n holds the base and multiplies a
        # row of ones under the angles, so one product gives the whole expression
        mr = len(self.rows)
        diff = sp.csr_matrix(
            (np.concatenate([self.row_scale, -self.row_scale, self.row_base]),
             (np.tile(np.arange(mr), 3),
              np.concatenate([self.row_lo, self.row_hi, np.full(mr, n)]))),
            shape=(mr, n + 1))
        self.row_chunks = [(s, min(s + _ROW_CHUNK, mr)) for s in range(0, mr, _ROW_CHUNK)]
        self.row_diff = [diff[s:e] for s, e in self.row_chunks]
        self._factor: IntactFactor | None = None
        self._buffers: dict[str, np.ndarray] = {}

    # -- aggregates ---------------------------------------------------------------------
    def rsum(self, lo, hi) -> np.ndarray:
        """Sums over pre-range(s): rows cap, sched, demand, fixed, cust, p0_inj, n_ref."""
        return self.cs[:, hi] - self.cs[:, lo]

    def _islands_ok(self) -> np.ndarray:
        """Per bus: whether its island qualifies for the fast path."""
        net, tree = self.net, self.tree
        ok = np.zeros(net.n_bus, dtype=bool)
        roots = np.flatnonzero((tree.parent < 0) & (tree.pre >= 0))
        if not len(roots):
            return ok
        agg = self.rsum(tree.pre[roots], tree.pre[roots] + tree.size[roots])
        cap, sched, demand, fixed = agg[0], agg[1], agg[2], agg[3]
        alive = tree.order
        shed_isl = np.bincount(tree.root[alive], weights=self.imp0.shed_mw[alive],
                               minlength=net.n_bus)[roots]
        good = _dispatch_ok(cap, demand + fixed, self.cap[roots], self.sched[roots], sched,
                            net.is_ref[roots])
        good &= (shed_isl <= ZERO_MW) & self.imp0.energized[roots] & (agg[6] <= 1)
        good &= self.imp0.state.bus[roots]
        ok_root = np.zeros(net.n_bus, dtype=bool)
        ok_root[roots] = good
        ok[alive] = ok_root[tree.root[alive]]
        return ok

    def _part(self, c: int, case_dark: list, deltas: list, add: dict) -> bool:
        """Balance the cut-off subtree of ``c``; False if outside the fast rule."""
        tree = self.tree
        lo, hi = int(tree.pre[c]), int(tree.pre[c] + tree.size[c])
        cap, sched, demand, fixed, cust, inj, nref = self.rsum(lo, hi)
        if nref > 0:
            return False
        exchange = -inj  # injection that balances the part
        if cap <= ZERO_MW:
            case_dark.append((lo, hi))
            deltas.append((c, exchange))
            add["demand"] += demand
            add["cust"] += cust
            add["fac"].append((lo, hi))
        else:
            g = self.gen_by_rank[self.range_max.query(lo, hi)]
            ref = int(self.net.gen_bus[g])
            need = demand + fixed
            if _dispatch_ok(np.array([cap]), np.array([need]), self.cap[ref:ref + 1],
                            self.sched[ref:ref + 1], np.array([sched]), np.array([False]))[0]:
                deltas.append((ref, exchange))
            elif need >= 0 and not shortfall(np.array([need]), np.array([cap]))[0]:
                # its reference cannot take the slack: the engine runs every generator of
                # the part at the same share of its capacity, need / cap (nothing shed,
                # no surplus to curtail), which leaves the part's net injection at zero
                a, b = np.searchsorted(self.gen_pre, [lo, hi])
                gens = self.gen_in_pre[a:b]
                new = self.net.gen_pmax_mw[gens] * min(max(need / cap, 0.0), 1.0)
                deltas.extend(zip(self.net.gen_bus[gens].tolist(),
                                  (new - self.imp0.gen_mw[gens]).tolist(), strict=True))
            else:
                return False
        add["islands"] += 1
        add["cap"] += cap
        add["need"] += demand + fixed
        add["sched"] += sched
        return True

    def _main_ok(self, root: int, cap_lost: float, need_lost: float, sched_lost: float,
                 ref_cap_lost: float = 0.0, ref_sched_lost: float = 0.0) -> bool:
        tree = self.tree
        lo, hi = int(tree.pre[root]), int(tree.pre[root] + tree.size[root])
        cap, sched, demand, fixed = self.rsum(lo, hi)[:4]
        return bool(_dispatch_ok(
            np.array([cap - cap_lost]), np.array([demand + fixed - need_lost]),
            np.array([self.cap[root] - ref_cap_lost]),
            np.array([self.sched[root] - ref_sched_lost]),
            np.array([sched - sched_lost]), np.array([bool(self.net.is_ref[root])]),
        )[0])

    # -- per kind -----------------------------------------------------------------------
    def plan(self, j: int, case):
        """A fast plan for one case: ``(_Case, served, shed, customers, islands,
        dark facility list)``, or None if the case needs assess."""
        single = len(case.buses) + len(case.branches) + len(case.gens) == 1
        if not single:
            return None
        net, tree = self.net, self.tree
        imp0 = self.imp0
        add = {"demand": 0.0, "cust": 0.0, "islands": 0, "cap": 0.0, "need": 0.0,
               "sched": 0.0, "fac": []}
        dark: list = []
        deltas: list = []
        if len(case.branches):
            k = int(case.branches[0])
            if not self.eff.branch[k] or not self.island_ok[net.f[k]]:
                return None
            zero = np.array([k])
            if not tree.bridge[k]:
                removed = zero
            else:
                removed = _EMPTY
                c = int(net.t[k] if tree.parent_branch[net.t[k]] == k else net.f[k])
                if not self._part(c, dark, deltas, add):
                    return None
                if not self._main_ok(int(tree.root[c]), add["cap"], add["need"], add["sched"]):
                    return None
        elif len(case.buses):
            i = int(case.buses[0])
            if not self.eff.bus[i] or not self.island_ok[i] or tree.parent[i] < 0:
                return None
            kids = self.kids[self.kid_ptr[i]:self.kid_ptr[i + 1]]
            sep = tree.separated_children(i, kids)
            for c in sep.tolist():
                if not self._part(c, dark, deltas, add):
                    return None
            root = int(tree.root[i])
            if not self._main_ok(root, add["cap"] + self.cap[i],
                                 add["need"] + self.demand[i] + self.fixed[i],
                                 add["sched"] + self.sched[i]):
                return None
            deltas.append((i, -self.p0_inj[i]))
            add["demand"] += self.demand[i]
            add["cust"] += self.cust[i]
            add["fac"].append((int(tree.pre[i]), int(tree.pre[i]) + 1))
            zero = self.inc[self.inc_ptr[i]:self.inc_ptr[i + 1]]
            keep = np.concatenate([[tree.parent_branch[i]], tree.parent_branch[sep]])
            removed = zero[~np.isin(zero, keep)]
        else:
            g = int(case.gens[0])
            if not self.eff.gen[g]:
                return None
            b = int(net.gen_bus[g])
            if not self.island_ok[b]:
                return None
            root = int(tree.root[b])
            at_root = b == root
            if at_root and not net.is_ref[root]:
                return None  # the island's reference may move to another generator
            pmax, p = float(net.gen_pmax_mw[g]), float(net.gen_p_mw[g])
            if not self._main_ok(root, pmax, 0.0, p, pmax if at_root else 0.0,
                                 p if at_root else 0.0):
                return None
            zero = removed = _EMPTY
            if not at_root:
                deltas.append((b, -float(imp0.gen_mw[g])))
        served0, shed0, cust0, islands0 = self.totals
        served = served0 - add["demand"]
        shed = shed0 + add["demand"]
        cust = cust0 + add["cust"]
        islands = islands0 + add["islands"]
        fac = list(self.dark0)
        for lo, hi in add["fac"]:
            a, b2 = np.searchsorted(self.fac_pre, [lo, hi])
            sel = self.fac_sorted[a:b2]
            fac.extend(sel[~self.fac_covered[sel]].tolist())
        if deltas:
            db = np.array([d[0] for d in deltas], dtype=np.int64)
            dm = np.array([d[1] for d in deltas], dtype=float)
        else:
            db, dm = _EMPTY, np.zeros(0)
        return (_Case(j, np.asarray(removed, dtype=np.int64), db, dm,
                      np.asarray(zero, dtype=np.int64), dark),
                served, shed, cust, islands, sorted(set(fac)))

    # -- driver -------------------------------------------------------------------------
    def factor(self) -> IntactFactor:
        """The intact grid's factorisation in the preorder numbering, built once."""
        if self._factor is None:
            self._factor = intact_factor(self.net, self.backend, self.perm)
        return self._factor

    def run(self, cases: Sequence, rows: Rows, block: int,
            progress: Progress | None) -> list[int]:
        """Fill ``rows`` for every case the fast path covers; return the others."""
        general: list[int] = []
        groups: dict[tuple[int, bool], list[_Case]] = {}
        people = self.net.fac_people
        # plain branch outages (no islanding) first, vectorised: dispatch and supply are
        # the intact ones, only flows change
        net = self.net
        simple = np.zeros(len(cases), dtype=bool)
        branch = np.full(len(cases), -1, dtype=np.int64)
        for j, case in enumerate(cases):
            if len(case.branches) == 1 and not len(case.buses) and not len(case.gens):
                branch[j] = case.branches[0]
        cand = np.flatnonzero(branch >= 0)
        ks = branch[cand]
        ok = self.eff.branch[ks] & ~self.tree.bridge[ks] & self.island_ok[net.f[ks]]
        cand, ks = cand[ok], ks[ok]
        simple[cand] = True
        served0, shed0, cust0, islands0 = self.totals
        rows.served[cand], rows.shed[cand], rows.customers[cand] = served0, shed0, cust0
        rows.islands[cand] = islands0
        people0 = int(people[list(self.dark0)].sum()) if self.dark0 else 0
        rows.people[cand] = people0
        rows.method[cand] = "lodf"
        plain = []
        for j, k in zip(cand.tolist(), ks.tolist(), strict=True):
            rows.dark[j] = self.dark0
            one = np.array([k])
            plain.append(_Case(j, one, _EMPTY, _NO_MW, one, []))
        if plain:
            groups[(1, False)] = plain
        for j, case in enumerate(cases):
            if simple[j]:
                continue
            plan = self.plan(j, case)
            if plan is None:
                general.append(j)
                continue
            kc, served, shed, cust, islands, fac = plan
            rows.served[j], rows.shed[j], rows.customers[j] = served, shed, cust
            rows.islands[j] = islands
            rows.dark[j] = tuple(fac)
            rows.people[j] = int(people[fac].sum()) if fac else 0
            rows.method[j] = "lodf"
            has_delta = bool(len(kc.delta_bus)) and bool(np.any(kc.delta_mw != 0))
            groups.setdefault((len(kc.removed), has_delta), []).append(kc)
        if len(self.rows) == 0:
            # nothing rated: loading is 0 everywhere
            if progress:
                progress(len(cases) - len(general))
            return general
        self.factor()
        for (r, has_delta), group in sorted(groups.items(), key=lambda kv: kv[0]):
            per = max(1, block // (r + int(has_delta))) if (r or has_delta) else block
            for start in range(0, len(group), per):
                part = group[start:start + per]
                ml, no = self._screen(part, r, has_delta)
                idx = np.array([c.j for c in part])
                rows.max_loading[idx] = ml
                rows.overloaded[idx] = no
                if progress:
                    progress(len(part))
        return general

    def _screen(self, part: list[_Case], r: int, has_delta: bool) -> tuple[np.ndarray, np.ndarray]:
        """Post-outage worst loading and overload count of a block of same-rank cases."""
        net = self.net
        k = len(part)
        n = net.n_bus
        base = net.base_mva
        p0 = self.imp0.flow_mw
        new_of = self.new_of
        idx = np.arange(k)
        ncol = k * r + (k if has_delta else 0)
        rhs = self._buffer("rhs", (n, ncol), order="F")
        rhs[...] = 0.0
        if r:
            rem = np.array([c.removed for c in part], dtype=np.int64).reshape(k, r)
            fs, ts = new_of[net.f[rem]], new_of[net.t[rem]]  # (k, r)
            for q in range(r):
                rhs[fs[:, q], q * k + idx] += 1.0
                rhs[ts[:, q], q * k + idx] -= 1.0
        if has_delta:
            cj = np.concatenate([np.full(len(c.delta_bus), i) for i, c in enumerate(part)])
            db = new_of[np.concatenate([c.delta_bus for c in part])]
            dm = np.concatenate([c.delta_mw for c in part])
            np.add.at(rhs, (db, k * r + cj), dm / base)
        # (ncol, n), C-contiguous: one solution per row
        xt = self._factor.solve(rhs, overwrite=True).T if ncol else rhs.T
        # angle changes per case, scaled so that flow changes are b (θ_f − θ_t) in MW
        theta, col_scale = None, None
        if has_delta:
            xd = xt[k * r:]
            theta = xd * base
        if r:
            bs = net.b_pu[rem]
            hss = np.empty((k, r, r))
            for q in range(r):
                xq = xt[q * k:(q + 1) * k]
                hss[:, :, q] = bs * (xq[idx[:, None], fs] - xq[idx[:, None], ts])
            flow_s = p0[rem]
            if has_delta:
                flow_s = flow_s + base * bs * (xd[idx[:, None], fs] - xd[idx[:, None], ts])
            coef = np.linalg.solve(np.eye(r)[None] - hss, flow_s[:, :, None])[:, :, 0]
            if r == 1 and theta is None:
                # one branch, no balancing change (most outages): scale the flow
                # changes per case after the screen instead of the angles before it
                theta, col_scale = xt[:k], coef[:, 0]
            else:
                if theta is None:
                    theta = np.multiply(xt[:k], coef[:, :1],
                                        out=self._buffer("theta", (k, n)))
                    start = 1
                else:
                    start = 0
                for q in range(start, r):
                    theta += xt[q * k:(q + 1) * k] * coef[:, q:q + 1]
        # zeroed entries: failed branches and the branches of dark parts
        zi = np.concatenate([np.full(len(c.zero), i) for i, c in enumerate(part)])
        zr = self.row_of[np.concatenate([c.zero for c in part])]
        zi, zr = zi[zr >= 0], zr[zr >= 0]
        dark = [(i, *np.searchsorted(self.row_key, [lo, hi]))
                for i, c in enumerate(part) for lo, hi in c.dark]
        if theta is None:
            return self._screen_intact(k, zi, zr, dark)
        theta_t = self._buffer("theta_t", (n + 1, k))
        _transpose(theta, theta_t[:n], col_scale)
        theta_t[n] = 1.0
        return self._screen_rows(theta_t, zi, zr, dark)

    def _screen_intact(self, k: int, zi, zr, dark) -> tuple[np.ndarray, np.ndarray]:
        """Loadings of outages that change no angle (say, of a generator at zero
        output): the intact ones, with zeroed entries."""
        d = np.tile(np.abs(self.row_base), (k, 1))
        d[zi, zr] = 0.0
        for i, a, b in dark:
            d[i, a:b] = 0.0
        ml = d.max(axis=1) if d.shape[1] else np.zeros(k)
        no = (d > self.row_thr).sum(axis=1) if d.shape[1] else np.zeros(k, dtype=np.int64)
        return np.maximum(ml, 0.0), no.astype(np.int64)

    def _screen_rows(self, theta_t: np.ndarray, zi, zr, dark):
        """Worst loading and overload count per case (column of ``theta_t``: angle
        changes in the preorder numbering, then a 1; shape (n + 1, k)) over the rated
        rows, a chunk of rows at a time: ``|base + scale · (θ_lo − θ_hi)|`` is one
        sparse product per chunk, and the chunk stays in cache for the rest."""
        k = theta_t.shape[1]
        ml = np.zeros(k)
        no = np.zeros(k, dtype=np.int64)
        for (s, e), diff in zip(self.row_chunks, self.row_diff, strict=True):
            d = diff @ theta_t  # (rows, k): post-outage flows over ratings
            sel = (zr >= s) & (zr < e)
            if sel.any():
                d[zr[sel] - s, zi[sel]] = 0.0
            for i, a, b in dark:
                if a < e and b > s:
                    d[max(a, s) - s:min(b, e) - s, i] = 0.0
            np.abs(d, out=d)
            top = d.max(axis=0)
            np.maximum(ml, top, out=ml)
            thr = self.row_thr[s:e]
            hot = np.flatnonzero(top > thr.min())
            if len(hot):
                no[hot] += (d[:, hot] > thr[:, None]).sum(axis=0)
        return ml, no

    def _buffer(self, name: str, shape: tuple[int, int], order: str = "C") -> np.ndarray:
        """A reused work array: big blocks are allocated once per sweep, not per block
        (fresh pages cost more than the arithmetic on them)."""
        size = shape[0] * shape[1]
        buf = self._buffers.get(name)
        if buf is None or len(buf) < size:
            buf = self._buffers[name] = np.empty(max(size, 1))
        view = buf[:size]
        return view.reshape(shape[::-1]).T if order == "F" else view.reshape(shape)


def _transpose(a: np.ndarray, out: np.ndarray, scale: np.ndarray | None = None,
               rows: int = 256) -> np.ndarray:
    """``a.T`` (times ``scale`` per column of the result) copied into the C-ordered
    ``out``, a band of columns at a time (a plain copy strides across all of ``a`` for
    every output row)."""
    for s in range(0, a.shape[1], rows):
        if scale is None:
            out[s:s + rows] = a[:, s:s + rows].T
        else:
            np.multiply(a[:, s:s + rows].T, scale, out=out[s:s + rows])
    return out


def _dispatch_ok(cap, need, ref_cap, ref_sched, sched, case_ref) -> np.ndarray:
    """Whether a component keeps its schedule with its reference bus taking the slack
    and nothing shed: the engine's own rule, :func:`gridres.impact.keeps_schedule`."""
    return keeps_schedule(cap, need, shortfall(need, cap), ref_cap, ref_sched, sched,
                          case_ref)[1]


class _RangeMax:
    """Sparse table for range-maximum queries over a fixed integer array."""

    def __init__(self, values: np.ndarray) -> None:
        self.levels = [np.asarray(values, dtype=np.int64)]
        span = 1
        while 2 * span <= len(values):
            prev = self.levels[-1]
            self.levels.append(np.maximum(prev[:-span], prev[span:]))
            span *= 2

    def query(self, lo: int, hi: int) -> int:
        """Maximum over ``values[lo:hi]`` (``hi > lo``)."""
        level = (hi - lo).bit_length() - 1
        tab = self.levels[level]
        return int(max(tab[lo], tab[hi - (1 << level)]))
