"""The worst case of a grid in one call: the worst ``k`` strikes, the attack curve and
what to protect first. This is what a study's ``[defend]`` section runs
(:func:`gridres.study.run_study`), and what its report section and results layers show.

:func:`worst_case` returns a :class:`WorstCase`:

* ``attack``: :func:`~gridres.adversary.attack` with ``top`` distinct worst sets;
* ``curve``: :func:`~gridres.adversary.attack_curve` for ``k = 1..K`` (or None);
* ``protection``: :func:`~gridres.adversary.protection_ranking`, the best protection of
  ``1 .. P`` sites (empty when ``P = 0``);
* the facilities each headline set leaves dark, and the intact grid's load, so that a
  report can say "three strikes on X, Y and Z cut 41 % of the load and darken 3
  hospitals; protecting X and Y caps the worst three strikes at 12 %".

Every part uses the same grid, targets, objective, cascade option, exclusions, attack
budget and seed, so each part equals the function called alone with those arguments;
where every ``k``-set fits the budget, they are evaluated once for all three
(:class:`~gridres.adversary.defend.Defender`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from gridres.adversary.core import AttackResult, Strike, as_grid
from gridres.adversary.curve import CurveResult, attack_curve
from gridres.adversary.defend import DefenceResult, Defender
from gridres.cascade import CascadeOptions, settle
from gridres.elements import as_state
from gridres.model import Grid

__all__ = ["STEP", "WorstCase", "worst_case"]

#: Name of the step in progress reports.
STEP = "worst-case strikes"


@dataclass(frozen=True, eq=False)
class WorstCase:
    """What :func:`worst_case` found (see the module notes).

    Attributes
    ----------
    attack : AttackResult
    curve : CurveResult or None
    protection : tuple of DefenceResult
        Entry ``p - 1`` protects ``p`` sites.
    total_load_mw : float
        Load of the intact grid, MW (the base of the shares).
    dark : dict of str to tuple of str
        ``"worst"``: facility ids the worst set leaves dark (without power and backup);
        ``"protected"``: those the attacker's best response to the largest protection
        leaves dark.
    elapsed_s : float
    """

    attack: AttackResult
    curve: CurveResult | None
    protection: tuple[DefenceResult, ...]
    total_load_mw: float
    dark: dict[str, tuple[str, ...]]
    elapsed_s: float

    @property
    def worst(self) -> Strike:
        """The worst set."""
        return self.attack.best

    @property
    def capped(self) -> DefenceResult | None:
        """The largest protection (None without protection)."""
        return self.protection[-1] if self.protection else None

    def share(self, mw: float) -> float:
        """``mw`` as a share of the intact grid's load (0 when it has none)."""
        return mw / self.total_load_mw if self.total_load_mw > 0 else 0.0

    def worst_table(self) -> pd.DataFrame:
        """The worst sets, one row per set: ``rank``, ``elements`` (joined by ``+``),
        every metric and ``method``."""
        return self.attack.table()

    def curve_table(self) -> pd.DataFrame | None:
        """One row per ``k`` (:meth:`CurveResult.table`), or None."""
        return None if self.curve is None else self.curve.table()

    def protection_table(self) -> pd.DataFrame:
        """One row per protection size ``protect``: the sites, the attacker's best
        response, its damage (``worst_after``) against ``worst_before``, the share of
        the worst case removed (``reduction``), and whether it is proven optimal."""
        o = self.attack.objective
        rows = [{"protect": r.protect_budget, "protection": "+".join(r.protection),
                 "response": "+".join(r.after.elements), "worst_before": r.before.value(o),
                 "worst_after": r.after.value(o), "reduction": r.reduction,
                 "exact": r.exact, "gap": r.gap, "method": r.method}
                for r in self.protection]
        cols = ["protect", "protection", "response", "worst_before", "worst_after",
                "reduction", "exact", "gap", "method"]
        return pd.DataFrame(rows, columns=cols)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready document (the ``strikes`` part of a study's summary.json)."""
        a = self.attack
        return {
            "k": a.k, "target": a.target, "objective": a.objective,
            "cascade_mode": a.cascade.mode, "margin": a.cascade.margin,
            "total_load_mw": round(self.total_load_mw, 6),
            "worst": [s.to_dict() for s in a.attacks], "method": a.method,
            "optimal": a.optimal, "evaluated": a.evaluated,
            "dark_facilities": {k: list(v) for k, v in self.dark.items()},
            "curve": None if self.curve is None else self.curve.to_dict()["points"],
            "protection": [r.to_dict() for r in self.protection],
            "elapsed_s": round(self.elapsed_s, 3),
        }


def _dark(grid: Grid, elements: Iterable[str], cascade: CascadeOptions) -> tuple[str, ...]:
    net = grid.network
    imp = settle(net, as_state(grid, list(elements)), cascade)
    return tuple(str(x) for x in net.fac_ids[imp.dark_facilities])


def worst_case(
    grid: Grid | str | os.PathLike,
    k: int,
    protect_budget: int = 0,
    *,
    target: str = "substation",
    objective: str = "shed_mw",
    cascade: CascadeOptions | str | None = None,
    exclude: Iterable[str] = (),
    protect: Iterable[str] = (),
    candidates: Iterable[str] | None = None,
    top: int = 5,
    curve: bool = True,
    n_random: int = 500,
    budget: int | None = None,
    seed: int = 0,
    workers: int | None = 1,
    scheduler: Any = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> WorstCase:
    """The worst ``k`` strikes, the attack curve and the protection ranking.

    Parameters
    ----------
    grid : Grid or str or path-like
    k : int
        Strikes of the attacker.
    protect_budget : int
        Largest protection ranked (``P``); 0: none.
    target, objective, cascade, exclude, protect, budget, seed, workers, scheduler
        As for :func:`~gridres.adversary.attack` (``protect``: sites already protected).
    candidates : iterable of str, optional
        Sites the defender may protect (:func:`~gridres.adversary.defend`).
    top : int
        Distinct worst sets reported.
    curve : bool
        Compute the attack curve ``k = 1..K``.
    n_random : int
        Random failures per ``k`` of the curve.
    progress : callable, optional
        ``progress("worst-case strikes", done, total)`` over the parts (the worst sets,
        the curve, the protection ranking).

    Returns
    -------
    WorstCase

    Examples
    --------
    >>> wc = worst_case("ieee14", 2, 1, target="bus", n_random=20)
    >>> wc.worst.elements, [r.protection for r in wc.protection]
    (('bus:3', 'bus:4'), [('bus:3',)])
    >>> round(wc.share(wc.worst.shed_mw), 3)
    0.548
    """
    start = time.perf_counter()
    grid = as_grid(grid)
    opts = CascadeOptions.of(cascade)
    exclude, protect = list(exclude), list(protect)
    common: dict[str, Any] = dict(target=target, objective=objective, cascade=opts,
                                  exclude=exclude, protect=protect, budget=budget, seed=seed,
                                  workers=workers, scheduler=scheduler)
    steps = 1 + int(curve) + int(protect_budget > 0)
    done = [0]

    def tell() -> None:
        if progress:
            progress(STEP, done[0], steps)
        done[0] += 1

    tell()
    defender = Defender(grid, k, protect_budget, candidates=candidates, **common)
    att = defender.worst(top)
    tell()
    cur = attack_curve(grid, k, n_random=n_random, known=att, **common) if curve else None
    if curve:
        tell()
    ranking = tuple(defender.solve(p) for p in range(1, protect_budget + 1))
    if ranking:
        tell()
    dark = {"worst": _dark(grid, att.best.elements, opts)}
    if ranking:
        dark["protected"] = _dark(grid, ranking[-1].after.elements, opts)
    total = settle(grid.network, None, opts).total_load_mw
    return WorstCase(att, cur, ranking, float(total), dark, time.perf_counter() - start)
