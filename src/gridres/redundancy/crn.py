"""Common random numbers: every design is scored on the same scenarios as the base case.

Scenario ``i`` of the base case is exactly what the ensemble draws:
``generator.sample(net, default_rng([seed, i]))``, with repair-time factors drawn from the
same stream afterwards (as :class:`gridres.study.evaluate.StudyEvaluator` does). A design
(the grid after some interventions) sees that same scenario, changed only where the
design itself changes the damage:

Hardening (monotone coupling)
    A hazard fails an asset when its uniform draw ``u`` falls below its failure
    probability ``p``. Hardening lowers ``p`` to ``p'`` (the fragility median times the
    factor, through the same footprint and curves; ``p' = 0`` for an immune asset). The
    hardened asset fails where the base case's asset failed **and** a second, fixed
    uniform ``v`` of that scenario and asset satisfies ``v < p' / p``: probability
    ``p'`` exactly, only in scenarios where it failed before (a subset), and the same
    ``v`` for every design, so stronger hardening fails in a subset of those too. Every
    other asset keeps its draw. Scenario kinds without fragility curves (random N-k,
    strikes, explicit lists) have no intensity to shift: there a hardened asset
    withstands the event (it is treated as immune).
New elements
    A new line or generator is exposed to hazard footprints like any other asset: its
    probability comes from the same footprint and curves (a new line along the straight
    route between its buses), and its own uniform is drawn from a stream keyed by the
    scenario and the element's id, so that adding it changes no other asset's draw and
    two designs that both have it see the same draw. Random N-k, strikes and explicit
    lists keep failing the elements they drew on the base grid (the threat is held
    fixed); new elements do not fail there.
Repair times
    Each failed element keeps the repair-time factor it has in the base scenario; a new
    failure draws its own from a keyed stream.

All keyed streams are ``numpy.random.default_rng([seed, i, TAG, ...])``, so a design's
scenario ``i`` depends on the seed, ``i`` and the design only: not on the order of
evaluation, the number of workers or which other designs are evaluated.

Examples
--------
>>> from gridres.io import load_grid
>>> from gridres.scenarios.spec import scenario_from_spec
>>> grid = load_grid("ieee14")
>>> crn = CommonScenarios(grid, scenario_from_spec("random:k=2", grid), seed=3)
>>> sc = crn.draw(5).scenario
>>> ref = scenario_from_spec("random:k=2", grid).sample(grid.network, np.random.default_rng([3, 5]))
>>> sc.waves[0].branches.tolist() == ref.waves[0].branches.tolist()
True
"""

from __future__ import annotations

import zlib
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from gridres.elements import substations
from gridres.errors import UsageError
from gridres.model import Grid
from gridres.restoration.simulate import repair_multipliers
from gridres.scenarios.base import Scenario, ScenarioGenerator, Wave
from gridres.scenarios.fragility import Fragility, FragilitySet
from gridres.scenarios.hazard import HazardScenarios
from gridres.scenarios.waves import WaveSequence, merge_waves

__all__ = ["CommonScenarios", "Draw", "flatten", "scenario_key", "name_key"]

_THIN, _NEW, _MULT = 101, 102, 103
_BUS, _BRANCH, _GEN = 0, 1, 2


def name_key(name: str) -> int:
    """A stable integer for an element name (CRC-32 of its UTF-8 text)."""
    return zlib.crc32(str(name).encode("utf-8"))


def flatten(generator: ScenarioGenerator, offset_h: float = 0.0) -> list[tuple[float, Any]]:
    """The leaf generators of a (possibly nested) :class:`WaveSequence` with their start
    times, in the order in which it draws them; any other generator is one leaf."""
    if isinstance(generator, WaveSequence):
        out: list[tuple[float, Any]] = []
        for t, g in generator.parts:
            out += flatten(g, offset_h + float(t))
        return out
    return [(offset_h, generator)]


def _is_hazard(gen: Any) -> bool:
    return isinstance(gen, HazardScenarios)


def _shift(sc: Scenario, t: float) -> list[Wave]:
    return [Wave(t + w.time_h, w.buses, w.branches, w.gens) for w in sc.waves]


def scenario_key(sc: Scenario) -> tuple:
    """A hashable form of a scenario's failures (waves merged by time), for equality."""
    return tuple((float(w.time_h), w.buses.tobytes(), w.branches.tobytes(), w.gens.tobytes())
                 for w in merge_waves(sc.waves))


@dataclass(frozen=True, eq=False)
class Draw:
    """Scenario ``i`` of the base case.

    Attributes
    ----------
    scenario : Scenario
        As the ensemble draws it.
    parts : tuple of list of Wave
        The waves each leaf generator drew (start times added).
    multipliers : ndarray
        Repair-time factors of the scenario's (wave, element) entries in listing order.
    """

    scenario: Scenario
    parts: tuple[list[Wave], ...]
    multipliers: np.ndarray
    failed: frozenset = frozenset()  # (etype, position) of every failure (buses by substation)


@dataclass(frozen=True, eq=False)
class _Context:
    """What turns a base draw into a design's scenario (see :meth:`CommonScenarios.context`)."""

    identity: bool
    ratio: tuple  # per part: (sub, branch, gen) arrays of p'/p (1: not hardened), or None
    new: tuple  # per part: list of (etype, position, name, p) of new elements
    hardened: frozenset = frozenset()  # (etype, position) of hardened assets (bus: substation)
    signature: Hashable = ()  # what the scenarios depend on: hardening and new elements


class CommonScenarios:
    """Base scenarios and their counterparts in every design.

    Parameters
    ----------
    grid : Grid
        The base grid the generator was built for.
    generator : ScenarioGenerator
    seed : int
    sigma : float
        ``repair_sigma`` of the restoration settings (0: no repair-time draws).
    """

    def __init__(self, grid: Grid, generator: ScenarioGenerator, seed: int,
                 sigma: float = 0.0) -> None:
        self.grid = grid
        self.net = grid.network
        self.generator = generator
        self.seed = int(seed)
        self.sigma = float(sigma)
        self.parts = flatten(generator)
        self.subs = substations(grid)
        self._draws: dict[int, Draw] = {}
        self._hard_p: dict[tuple[int, float], Any] = {}
        self._new_p: dict[tuple[int, int, str], float] = {}
        self._changed: dict[tuple[Hashable, int], tuple[Scenario, np.ndarray]] = {}
        self._contexts: dict[Hashable, _Context] = {}

    # -- the base case --------------------------------------------------------------------
    def draw(self, i: int) -> Draw:
        """Scenario ``i`` of the base case (cached)."""
        d = self._draws.get(i)
        if d is not None:
            return d
        rng = np.random.default_rng([self.seed, i])
        sc = self.generator.sample(self.net, rng)
        if sc.chosen is not None:
            raise UsageError(
                "a plan scores every design on the same fixed scenarios, and an adaptive "
                "attacker chooses its strikes anew for each design; plan against a "
                "strikes scenario, or rank interventions by the worst case of a [defend] "
                "section (objective = \"worst_case\")")
        mult = repair_multipliers(sc, self.sigma, rng)
        if len(self.parts) == 1:
            parts: tuple[list[Wave], ...] = (list(sc.waves),)
        else:
            again = np.random.default_rng([self.seed, i])
            parts = tuple(_shift(g.sample(self.net, again), t) for t, g in self.parts)
        failed = set()
        for part in parts:
            for w in part:
                failed.update((_BUS, int(s)) for s in self.subs.of_bus[w.buses])
                failed.update((_BRANCH, int(b)) for b in w.branches)
                failed.update((_GEN, int(g)) for g in w.gens)
        d = Draw(sc, parts, mult, frozenset(failed))
        self._draws[i] = d
        return d

    # -- designs --------------------------------------------------------------------------
    def _hardened_p(self, k: int, factor: float):
        """Probabilities of part ``k`` with every fragility median times ``factor``."""
        key = (k, factor)
        if key not in self._hard_p:
            hz = self.parts[k][1]
            fs = hz.fragility
            curves = {kind: Fragility(kind, c.median * factor, c.beta, c.segment_km)
                      for kind, c in fs.curves.items()}
            scaled = FragilitySet(fs.hazard, fs.unit, curves)
            h = HazardScenarios(self.grid, hz.footprint, scaled, hz.time_h)
            self._hard_p[key] = (h.p_substation, h.p_branch, h.p_gen)
        return self._hard_p[key]

    def context(self, key: Hashable, grid: Grid, hardening: Mapping[tuple[str, str], float]
                ) -> _Context:
        """How scenarios change in the design ``key`` (cached by ``key``).

        Parameters
        ----------
        key : hashable
            Identifies the design (same key, same grid and hardening).
        grid : Grid
            The design's grid: the base grid with elements appended.
        hardening : mapping
            ``(table, id) -> factor`` (see :class:`~gridres.redundancy.interventions.Design`).
        """
        ctx = self._contexts.get(key)
        if ctx is not None:
            return ctx
        net = self.net
        n_br, n_gen = net.n_branch, net.n_gen
        new_br = np.arange(n_br, len(grid.branches))
        new_gen = np.arange(n_gen, len(grid.generators))
        hard = {k: float(f) for k, f in hardening.items() if float(f) > 1.0}
        ratios, news = [], []
        hardened: set[tuple[int, int]] = set()
        for k, (_, gen) in enumerate(self.parts):
            hazard = _is_hazard(gen)
            if hard:
                sub_r = np.ones(len(self.subs))
                br_r = np.ones(n_br)
                gen_r = np.ones(n_gen)
                for (table, ident), factor in sorted(hard.items()):
                    if table == "substation":
                        pos, arr, which = int(self.subs.names.get_loc(ident)), sub_r, 0
                    elif table == "branch":
                        pos, arr, which = int(net.branch_ids.get_loc(ident)), br_r, 1
                    else:
                        pos, arr, which = int(net.gen_ids.get_loc(ident)), gen_r, 2
                    hardened.add((which, pos))
                    if not hazard or not np.isfinite(factor):
                        arr[pos] = 0.0
                        continue
                    base = (gen.p_substation, gen.p_branch, gen.p_gen)[which][pos]
                    lower = self._hardened_p(k, factor)[which][pos]
                    arr[pos] = min(1.0, lower / base) if base > 0 else 1.0
                ratios.append((sub_r, br_r, gen_r))
            else:
                ratios.append(None)
            items = []
            if hazard and (len(new_br) or len(new_gen)):
                elements = [(_BRANCH, int(b), str(grid.branches.index[b])) for b in new_br] + \
                    [(_GEN, int(g), str(grid.generators.index[g])) for g in new_gen]
                if any((k, et, name) not in self._new_p for et, _, name in elements):
                    # a new element's probability depends on it and the hazard only: one
                    # footprint pass over this design's grid serves every later design
                    hz = HazardScenarios(grid, gen.footprint, gen.fragility, gen.time_h)
                    for et, pos, name in elements:
                        p = hz.p_branch[pos] if et == _BRANCH else hz.p_gen[pos]
                        self._new_p[(k, et, name)] = float(p)
                for et, pos, name in elements:
                    p = self._new_p[(k, et, name)]
                    if p > 0:
                        items.append((et, pos, name, p))
            news.append(tuple(items))
        identity = not hard and not any(news)
        sig = (tuple(sorted(hard.items())), tuple(tuple((et, name) for et, _, name, _ in items)
                                                  for items in news))
        ctx = _Context(identity, tuple(ratios), tuple(news), frozenset(hardened), sig)
        self._contexts[key] = ctx
        return ctx

    def _u(self, i: int, tag: int, k: int, etype: int, name: str) -> float:
        return float(np.random.default_rng(
            [self.seed, i, tag, k, etype, name_key(name)]).random())

    def scenario(self, ctx: _Context, i: int) -> tuple[Scenario, np.ndarray]:
        """Scenario ``i`` in a design and its repair-time factors."""
        d = self.draw(i)
        if ctx.identity or (not any(ctx.new) and not (ctx.hardened & d.failed)):
            return d.scenario, d.multipliers
        memo = self._changed.get((ctx.signature, i))
        if memo is None:
            memo = self._transform(ctx, i, d)
            if len(self._changed) > 500_000:
                self._changed.clear()
            self._changed[(ctx.signature, i)] = memo
        return memo

    def _transform(self, ctx: _Context, i: int, d: Draw) -> tuple[Scenario, np.ndarray]:
        net, subs = self.net, self.subs
        waves: list[Wave] = []
        changed = False
        for k, part in enumerate(d.parts):
            ratio = ctx.ratio[k]
            t0 = self.parts[k][0]
            for w in part:
                buses, branches, gens = w.buses, w.branches, w.gens
                if ratio is not None:
                    sub_r, br_r, gen_r = ratio
                    failed_subs = np.unique(subs.of_bus[buses])
                    drop = [s for s in failed_subs[sub_r[failed_subs] < 1.0]
                            if not self._u(i, _THIN, k, _BUS, str(subs.names[s])) < sub_r[s]]
                    if drop:
                        buses = buses[~np.isin(subs.of_bus[buses], drop)]
                    keep_br = [b for b in branches if br_r[b] >= 1.0 or self._u(
                        i, _THIN, k, _BRANCH, str(net.branch_ids[b])) < br_r[b]]
                    keep_gen = [g for g in gens if gen_r[g] >= 1.0 or self._u(
                        i, _THIN, k, _GEN, str(net.gen_ids[g])) < gen_r[g]]
                    if len(keep_br) < len(branches) or len(keep_gen) < len(gens) or drop:
                        changed = True
                        branches = np.asarray(keep_br, dtype=np.int64)
                        gens = np.asarray(keep_gen, dtype=np.int64)
                waves.append(Wave(w.time_h, buses, branches, gens))
            if ctx.new[k]:
                hz = self.parts[k][1]
                hit_br = [pos for et, pos, name, p in ctx.new[k]
                          if et == _BRANCH and self._u(i, _NEW, k, et, name) < p]
                hit_gen = [pos for et, pos, name, p in ctx.new[k]
                           if et == _GEN and self._u(i, _NEW, k, et, name) < p]
                if hit_br or hit_gen:
                    changed = True
                    waves.append(Wave(t0 + hz.time_h, branches=hit_br, gens=hit_gen))
        if not changed:
            return d.scenario, d.multipliers
        sc = Scenario(merge_waves(waves), d.scenario.label)
        return sc, self._multipliers(d, sc, i, ctx)

    def _multipliers(self, d: Draw, sc: Scenario, i: int, ctx: _Context) -> np.ndarray:
        n = sum(w.size for w in sc.waves)
        if self.sigma <= 0:
            return np.ones(n)
        base: dict[tuple[float, int, int], float] = {}
        k = 0
        for w in d.scenario.waves:
            for etype, arr in ((_BUS, w.buses), (_BRANCH, w.branches), (_GEN, w.gens)):
                for pos in arr:
                    base.setdefault((float(w.time_h), etype, int(pos)), float(d.multipliers[k]))
                    k += 1
        out = np.empty(n)
        k = 0
        s = self.sigma
        for w in sc.waves:
            for etype, arr in ((_BUS, w.buses), (_BRANCH, w.branches), (_GEN, w.gens)):
                for pos in arr:
                    m = base.get((float(w.time_h), etype, int(pos)))
                    if m is None:
                        rng = np.random.default_rng([self.seed, i, _MULT, etype, int(pos),
                                                     int(round(w.time_h * 1000))])
                        m = float(rng.lognormal(-0.5 * s * s, s))
                    out[k] = m
                    k += 1
        return out
