"""A portfolio within a budget: greedy by benefit per cost, re-evaluated after each pick.

:func:`rank_candidates` scores every candidate alone against the base case.
:func:`greedy_portfolio` then builds the portfolio one pick at a time: among the
candidates that still fit the budget it takes the one with the largest drop of the
objective per unit cost *on top of the picks so far* (every remaining candidate is
re-evaluated with the portfolio in place, on the same scenarios), and stops when nothing
that fits helps. Interactions are therefore counted: a second line into a substation
that the first already made double-fed is worth what it adds, not what it was worth
alone. Re-evaluation is cheap because a candidate's result in a scenario is copied
wherever it provably equals an earlier one (see :mod:`gridres.redundancy.evaluate`).

The efficient frontier is the sequence of portfolios the greedy builds (cumulative cost
against cumulative benefit, with paired confidence intervals against the base case).
It continues past the budget (up to ``extend`` times the budget) so that a planner sees
what more money would buy; those points are marked ``within_budget = False``.

Greedy by benefit per cost is the classic heuristic for budgeted selection; it is
optimal only when benefits add up, so the portfolio is a good plan, not a proven
optimum.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from gridres.errors import UsageError
from gridres.redundancy.evaluate import Benefit, PlanEvaluator
from gridres.redundancy.interventions import Intervention
from gridres.redundancy.reuse import DesignResult
from gridres.redundancy.worstcase import WorstCaseEvaluator
from gridres.restoration.metrics import LOSS_METRICS

__all__ = ["Step", "rank_candidates", "greedy_portfolio", "frontier_table", "REDUCTION",
           "WORST_CASE", "OBJECTIVES"]

logger = logging.getLogger(__name__)

#: The objective that lowers the attacker's worst damage (:mod:`.worstcase`) instead of
#: an expected value over the scenarios.
WORST_CASE = "worst_case"
#: What a portfolio can lower.
OBJECTIVES = (*LOSS_METRICS, WORST_CASE)
#: Column of the ranking for each metric's drop.
REDUCTION = {"ens_mwh": "ens_reduction_mwh", "customer_hours": "customer_hours_reduction",
             "facility_hours_dark": "facility_hours_reduction",
             "people_hours": "people_hours_reduction", WORST_CASE: "worst_case_reduction",
             **{m: f"{m}_reduction" for m in LOSS_METRICS if m.startswith("service_")}}


@dataclass(frozen=True)
class Step:
    """One pick of the greedy portfolio.

    Attributes
    ----------
    id : str
    cost : float
    cumulative_cost : float
    marginal : Benefit
        Drop of the objective from the portfolio before this pick.
    cumulative : Benefit
        Drop of the objective from the base case.
    cvar_drop : tuple of float
        Drop of CVaR95 of energy not served from the base case, with its interval.
    within_budget : bool
    simulated : int
        Scenarios simulated to evaluate the candidates of this round.
    """

    id: str
    cost: float
    cumulative_cost: float
    marginal: Benefit
    cumulative: Benefit
    cvar_drop: tuple[float, float, float]
    within_budget: bool
    simulated: int


def _tol(x: float) -> float:
    return 1e-9 * max(1.0, abs(x))


def _check_objective(objective: str, worst: WorstCaseEvaluator | None) -> None:
    if objective not in OBJECTIVES:
        raise UsageError(f"unknown objective {objective!r}; one of {', '.join(OBJECTIVES)}")
    if objective == WORST_CASE and worst is None:
        raise UsageError("objective worst_case needs the attacker's threat (a [defend] "
                         "section: k, target, objective)")


def _sure(metric: str, before: float, after: float) -> Benefit:
    """A drop known exactly (the worst case is a number, not an estimate)."""
    return Benefit(metric, 1, before, after, before - after, before - after, before - after)


def rank_candidates(ev: PlanEvaluator, candidates: Sequence[Intervention],
                    objective: str = "ens_mwh", level: float = 0.95,
                    worst: WorstCaseEvaluator | None = None) -> pd.DataFrame:
    """Every candidate alone against the base case.

    Parameters
    ----------
    ev : PlanEvaluator
    candidates : sequence of Intervention
    objective : str
        One of :data:`OBJECTIVES`; ``worst_case`` needs ``worst``.
    level : float
        Confidence level of the intervals.
    worst : WorstCaseEvaluator, optional
        The attacker's worst case: adds its columns (and makes ``worst_case`` an
        objective).

    Returns
    -------
    pandas.DataFrame
        Index ``id``; columns ``kind``, ``label``, ``cost``, for each metric its drop
        (``ens_reduction_mwh``, ``customer_hours_reduction``, ``facility_hours_reduction``,
        ``people_hours_reduction``, ``service_people_hours_{S}_reduction``) with
        ``*_ci_low``/``*_ci_high`` (``ci_low`` and
        ``ci_high`` for energy not served), ``cvar95_reduction_mwh`` with its interval,
        with ``worst``: ``worst_case`` (the attacker's worst damage with the candidate)
        and ``worst_case_reduction`` (its drop from the base case; its interval is the
        value itself), then ``benefit`` (drop of the objective), ``benefit_per_cost``
        and ``scenarios_simulated``; best benefit per cost first (ties by id).
    """
    _check_objective(objective, worst)
    ev.register(candidates)
    base = ev.base_result()
    results = ev.evaluate([[c.id] for c in candidates])
    rows = []
    for c, r in zip(candidates, results, strict=True):
        row: dict[str, object] = {"id": c.id, "kind": c.kind, "label": c.label, "cost": c.cost}
        for m in LOSS_METRICS:
            b = ev.compare(base, r, m, level)
            col = REDUCTION[m]
            row[col] = b.drop
            lo, hi = ("ci_low", "ci_high") if m == "ens_mwh" else (f"{col}_ci_low",
                                                                   f"{col}_ci_high")
            row[lo], row[hi] = b.ci_low, b.ci_high
        drop, lo, hi = ev.cvar_drop(base, r, "ens_mwh")
        row.update(cvar95_reduction_mwh=drop, cvar95_ci_low=lo, cvar95_ci_high=hi)
        if worst is not None:
            before, after = worst.value(ev.design([])), worst.value(ev.design([c.id]))
            col = REDUCTION[WORST_CASE]
            row.update({WORST_CASE: after, col: before - after, f"{col}_ci_low": before - after,
                        f"{col}_ci_high": before - after})
        ben = row[REDUCTION[objective]]
        row["benefit"] = ben
        row["benefit_per_cost"] = _ratio(float(ben), c.cost)
        row["scenarios_simulated"] = r.n_simulated
        rows.append(row)
    df = pd.DataFrame(rows)
    if not len(df):
        return df
    df = df.sort_values(["benefit_per_cost", "benefit", "id"], ascending=[False, False, True],
                        kind="stable")
    return df.set_index("id")


def _ratio(benefit: float, cost: float) -> float:
    if benefit <= _tol(benefit):
        return 0.0 if benefit >= -_tol(benefit) else benefit / max(cost, 1e-12)
    return math.inf if cost <= 0 else benefit / cost


def greedy_portfolio(
    ev: PlanEvaluator,
    candidates: Sequence[Intervention],
    budget: float | None,
    objective: str = "ens_mwh",
    *,
    extend: float = 2.0,
    level: float = 0.95,
    worst: WorstCaseEvaluator | None = None,
) -> list[Step]:
    """Greedy picks by benefit per cost with re-evaluation after each pick.

    Parameters
    ----------
    ev : PlanEvaluator
    candidates : sequence of Intervention
    budget : float or None
        Money available; ``None``: no limit (picks go on while they help).
    objective : str
        One of :data:`OBJECTIVES`: an expected value over the scenarios, or
        ``worst_case`` (the attacker's worst damage, from ``worst``; a pick's benefit is
        then exact, its interval the value itself).
    extend : float
        The frontier goes on past the budget up to ``extend × budget`` (0: stop at the
        budget).
    level : float
        Confidence level of the intervals.
    worst : WorstCaseEvaluator, optional
        Needed for ``worst_case``.

    Returns
    -------
    list of Step
        In order of picking; the portfolio is the steps ``within_budget``.
    """
    _check_objective(objective, worst)
    if budget is not None and (not math.isfinite(budget) or budget < 0):
        raise UsageError(f"the budget must be a finite number >= 0, got {budget!r}")
    ev.register(candidates)
    base = ev.base_result()
    by_id = {c.id: c for c in candidates}
    chosen: list[str] = []
    current: DesignResult = base
    spent = 0.0
    limit = math.inf if budget is None else float(budget)
    within = True
    steps: list[Step] = []
    remaining = sorted(by_id)
    on_worst = objective == WORST_CASE
    while remaining:
        fits = [c for c in remaining if spent + by_id[c].cost <= limit + _tol(limit)]
        best = None
        if fits:
            before = ev.simulations
            keys = [[*chosen, c] for c in fits]
            if on_worst:
                assert worst is not None
                cur = worst.value(ev.design(chosen))
                values = [worst.value(ev.design(k)) for k in keys]
                results: list = [None] * len(keys)
            else:
                cur = current.mean(objective)
                results = ev.evaluate(keys)
                values = [r.mean(objective) for r in results]
            simulated = ev.simulations - before
            scored = []
            for c, v, r in zip(fits, values, results, strict=True):
                gain = cur - v
                if gain > _tol(cur):
                    scored.append((-_ratio(gain, by_id[c].cost), -gain, c, r))
            if scored:
                scored.sort(key=lambda x: (x[0], x[1], x[2]))
                _, _, best, r_best = scored[0]
                if r_best is None:  # the expected values of the picked design only
                    before = ev.simulations
                    r_best = ev.result([*chosen, best])
                    simulated += ev.simulations - before
        if best is None:
            if within and budget is not None and extend > 0 and limit < extend * budget:
                within = False
                limit = extend * budget
                continue
            break
        iv = by_id[best]
        spent += iv.cost
        if on_worst:
            assert worst is not None
            w_base, w_cur, w_new = (worst.value(ev.design(k))
                                    for k in ([], chosen, [*chosen, best]))
            marginal = _sure(objective, w_cur, w_new)
            cumulative = _sure(objective, w_base, w_new)
        else:
            marginal = ev.compare(current, r_best, objective, level)
            cumulative = ev.compare(base, r_best, objective, level)
        steps.append(Step(best, iv.cost, spent, marginal, cumulative,
                          ev.cvar_drop(base, r_best, "ens_mwh"), within, simulated))
        chosen.append(best)
        remaining.remove(best)
        current = r_best
        logger.info("pick %s: cost %.3g, %s drop %.4g", best, iv.cost, objective,
                    marginal.drop)
    return steps


def frontier_table(steps: Sequence[Step], objective: str) -> pd.DataFrame:
    """The greedy path as a table: one row per pick with the cumulative cost and the
    benefit against the base case (and its interval), plus a first row for the base
    case itself (cost 0, benefit 0)."""
    rows = [{"step": 0, "id": "", "cost": 0.0, "cumulative_cost": 0.0,
             "marginal_benefit": 0.0, "benefit": 0.0, "ci_low": 0.0, "ci_high": 0.0,
             "cvar95_reduction_mwh": 0.0, "within_budget": True}]
    for k, s in enumerate(steps, start=1):
        rows.append({"step": k, "id": s.id, "cost": s.cost, "cumulative_cost": s.cumulative_cost,
                     "marginal_benefit": s.marginal.drop, "benefit": s.cumulative.drop,
                     "ci_low": s.cumulative.ci_low, "ci_high": s.cumulative.ci_high,
                     "cvar95_reduction_mwh": s.cvar_drop[0], "within_budget": s.within_budget})
    df = pd.DataFrame(rows)
    df.attrs["objective"] = objective
    return df
