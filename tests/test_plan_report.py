"""The seam between the redundancy planner and study files and the report.

``gridres check`` prices and checks every candidate as the planner will (problems with key
path and line, exit 65); ``[plan] policy`` picks the restoration policy of the
evaluation; the study's plan outcome carries the planner's ranking, portfolio and
efficient frontier, and the report shows them: the frontier figure, the portfolio with
cumulative cost and benefit, the ranking with intervals, and the best intervention in
the executive summary.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import json
import math
import re
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import chromium
from conftest import HARDENING_N
from gridres.cli import cli
from gridres.cli.common import run_cli
from gridres.report.narrative import fmt_ci, fmt_num
from gridres.study import analyse_study, load_study

ROOT = Path(__file__).resolve().parent.parent
STUDIES = ROOT / "grids" / "studies"
ARTIFACTS = ROOT / "out" / "test-artifacts"

HEAD = """[study]
seed = 1
[grid]
source = "demo_region"
[scenario]
spec = "random:k=2"
[restoration]
crews = 2
[plan]
budget = 5.0
"""


def _study(tmp_path: Path, plan_keys: str, candidates: str) -> Path:
    path = tmp_path / "plan.toml"
    path.write_text(HEAD + plan_keys + "\n\n" + candidates + "\n", encoding="utf-8")
    return path


def _cand(body: str, ident: str = "c1") -> str:
    return f'[[plan.candidates]]\nid = "{ident}"\n{body}'


# -- gridres check ----------------------------------------------------------------------
BAD_PLANS = [
    # id, [plan] keys, candidates, key path, words, text on the reported line
    ("unknown_key", "", _cand('kind = "harden"\nsubstation = "Vellburg 1"\nfacter = 1.3'),
     "plan.candidates[0].facter", "unknown key 'facter' for a harden; did you mean 'factor'?",
     "facter = 1.3"),
    ("unknown_bus", "", _cand('kind = "line"\nfrom_bus = "VELL5-110"\nto_bus = "VELL99-110"'),
     "plan.candidates[0].to_bus", "no bus with id 'VELL99-110'", 'to_bus = "VELL99-110"'),
    ("out_of_range", "", _cand('kind = "repair"\nequipment = "line"\nfactor = 1.5'),
     "plan.candidates[0].factor", "factor must be a number in (0, 1), got 1.5",
     "factor = 1.5"),
    ("unknown_kind", "", _cand('kind = "hardn"\nsubstation = "Vellburg 1"'),
     "plan.candidates[0].kind", "unknown intervention kind 'hardn' (did you mean 'harden'?)",
     'kind = "hardn"'),
    ("unknown_substation", "", _cand('kind = "protect"\nsubstation = "Vellburg 9"'),
     "plan.candidates[0].substation", "Vellburg 9", 'substation = "Vellburg 9"'),
    ("same_id", "", _cand('kind = "crews"') + "\n\n" + _cand('kind = "crews"\ncount = 2'),
     "plan.candidates[1].id", "id 'c1' is taken by plan.candidates[0]", 'id = "c1"'),
    ("unknown_cost_key", "costs = { lines_per_km = 1.0 }", _cand('kind = "crews"'),
     "plan.costs.lines_per_km", "unknown cost key 'lines_per_km' (did you mean "
     "'line_per_km'?)", "lines_per_km = 1.0"),
    ("unknown_policy", 'policy = "gredy"', _cand('kind = "crews"'),
     "plan.policy", "unknown restoration policy 'gredy'; did you mean 'greedy'?",
     'policy = "gredy"'),
    ("priority_list_without_list", 'policy = "priority-list"', _cand('kind = "crews"'),
     "plan.policy", "the priority-list policy needs priority = ", 'policy = "priority-list"'),
    ("priority_list_rule_without_list", 'policy = "priority-list/nearest"',
     _cand('kind = "crews"'), "plan.policy", "the priority-list policy needs priority = ",
     'policy = "priority-list/nearest"'),
]


@pytest.mark.parametrize("plan_keys, candidates, path, words, on_line",
                         [c[1:] for c in BAD_PLANS], ids=[c[0] for c in BAD_PLANS])
def test_check_reports_a_bad_plan_with_key_path_and_line(tmp_path: Path, capsys,
                                                         plan_keys: str, candidates: str,
                                                         path: str, words: str,
                                                         on_line: str) -> None:
    file = _study(tmp_path, plan_keys, candidates)
    assert run_cli(cli, ["check", str(file)]) == 65
    out, err = capsys.readouterr()
    errors = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, err
    m = re.match(rf"error: {re.escape(str(file))}:(\d+): {re.escape(path)}: (.*)$", errors[0])
    assert m, errors[0]
    assert words in m.group(2)
    lines = file.read_text().split("\n")
    assert on_line in lines[int(m.group(1)) - 1]
    assert out == ""


#: One candidate of every kind, none with a cost: the default cost table prices them.
EVERY_KIND = [
    {"kind": "line", "from_bus": "VELL5-110", "to_bus": "VELL6-110"},
    {"kind": "backup", "facility": "HT01"},
    {"kind": "generator", "bus": "VELL3-110", "pmax_mw": 20.0},
    {"kind": "storage", "bus": "VELL6-110", "mw": 5.0},
    {"kind": "microgrid", "facility": "H01"},
    {"kind": "harden", "substation": "Vellburg 1"},
    {"kind": "protect", "substation": "Vellburg 3", "immune": True},
    {"kind": "spares", "equipment": "transformer", "count": 2},
    {"kind": "crews"},
    {"kind": "repair", "equipment": "line", "factor": 0.25},
]


def _toml_table(d: dict) -> str:
    return "\n".join(f"{k} = {json.dumps(v)}" if not isinstance(v, bool)
                     else f"{k} = {str(v).lower()}" for k, v in d.items())


def test_candidates_without_a_cost_pass_check_and_are_priced_by_the_defaults(
        tmp_path: Path, capsys) -> None:
    from gridres.redundancy import DEFAULT_COSTS as C
    from gridres.redundancy import Design, make_intervention
    from gridres.restoration import RestorationSettings

    text = "\n\n".join(f"[[plan.candidates]]\n{_toml_table(c)}" for c in EVERY_KIND)
    file = _study(tmp_path, "", text)
    assert run_cli(cli, ["check", str(file)]) == 0, capsys.readouterr().err
    checked = analyse_study(file)
    design = Design(checked.grid, RestorationSettings(crews=2))
    cost = {c["kind"]: make_intervention(c, design).cost for c in EVERY_KIND}
    h01 = checked.grid.facilities.loc["H01"]
    assert cost["microgrid"] == pytest.approx(C["microgrid_fixed"]
                                              + C["microgrid_per_mw"] * h01["demand_mw"])
    assert cost["generator"] == pytest.approx(C["generator_per_mw"] * 20.0)
    assert cost["storage"] == pytest.approx(C["storage_per_mwh"] * 5.0 * 4.0)
    assert cost["harden"] == pytest.approx(C["harden_substation"])
    assert cost["protect"] == pytest.approx(C["protect_substation"] * C["immune_factor"])
    assert cost["spares"] == pytest.approx(2 * C["spare_transformer"])
    assert cost["crews"] == pytest.approx(C["crew_per_year"] * C["crew_years"])
    assert cost["repair"] == pytest.approx(2 * C["faster_repair"])  # two halvings
    assert cost["line"] > C["line_bays"] and cost["backup"] > 0


# -- [plan] policy ------------------------------------------------------------------------
def test_plan_policy_defaults_to_the_first_restoration_policy(tmp_path: Path) -> None:
    def policy(restoration: str, plan: str) -> str:
        path = tmp_path / "p.toml"
        path.write_text('[study]\nseed = 1\n[grid]\nsource = "ieee14"\n[scenario]\n'
                        f'spec = "random:k=2"\n{restoration}\n[plan]\nbudget = 1.0\n{plan}\n')
        st = load_study(path)
        again = tmp_path / "again.resolved.toml"
        again.write_text(st.resolved_toml())
        assert load_study(again).plan == st.plan  # the resolved study names it
        assert tomllib.loads(st.resolved_toml())["plan"]["policy"] == st.plan.policy
        return st.plan.policy

    assert policy('[restoration]\npolicies = ["nearest", "greedy"]', "") == "nearest"
    assert policy("", "") == "greedy"
    assert policy("[restoration]\ncrews = 2", "") == "greedy"
    assert policy('[restoration]\npolicies = ["nearest"]', 'policy = "critical-first"') == \
        "critical-first"


def test_the_plan_is_evaluated_under_its_policy(tmp_path: Path) -> None:
    from gridres.redundancy import PlanEvaluator
    from gridres.study import run_plan

    text = (STUDIES / "hardening.toml").read_text()
    plan = text[text.index("\n[plan]\n"):text.index("\n[outputs]\n")]
    text = text.replace(plan, '\n[plan]\nbudget = 3.0\npolicy = "largest-load-first"\n'
                        '[[plan.candidates]]\nkind = "crews"\n')
    path = tmp_path / "policy.toml"
    path.write_text(text)
    checked = analyse_study(path)
    st = checked.study
    res = run_plan(st, checked=checked, n=6, workers=1)
    assert res.policy == "largest-load-first"
    means = {}
    for pol in ("largest-load-first", "greedy"):
        with PlanEvaluator(checked.grid, checked.generators[0], st.restoration.settings,
                           seed=st.seed, n=6, policy=pol, cascade=st.cascade.options) as ev:
            means[pol] = ev.base_result().mean("customer_hours")
    assert res.baseline["customer_hours"] == pytest.approx(means["largest-load-first"])
    assert means["greedy"] != pytest.approx(means["largest-load-first"])


# -- the report of a plan (``hardening``: the shared run, tests/conftest.py) --------------
def _section(text: str, sid: str) -> str:
    m = re.search(rf'<section id="{sid}">(.*?)</section>', text, re.S)
    assert m, sid
    return m.group(1)


def _text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


@pytest.mark.slow
def test_plan_outcome_carries_the_planners_numbers(hardening) -> None:
    p = hardening.plan
    assert p.status == "done"
    assert (p.objective, p.policy, p.n, p.budget) == ("customer_hours", "greedy", HARDENING_N,
                                                   12.0)
    files = hardening.out_dir / "plan"
    ranking = pd.read_csv(files / "interventions.csv", index_col="id")
    assert list(p.ranking.index) == list(ranking.index)
    col = "customer_hours_reduction"
    np.testing.assert_allclose(p.ranking["benefit"], ranking[col])
    np.testing.assert_allclose(p.ranking["benefit_ci_low"], ranking[f"{col}_ci_low"])
    np.testing.assert_allclose(p.ranking["benefit_ci_high"], ranking[f"{col}_ci_high"])
    np.testing.assert_allclose(p.ranking["ens_reduction_mwh"], ranking["ens_reduction_mwh"])
    np.testing.assert_allclose(p.ranking["ens_ci_low"], ranking["ci_low"])
    # the frontier starts at the base case and runs through the portfolio, in order
    f = p.frontier
    assert f.iloc[0][["cumulative_cost", "benefit"]].tolist() == [0.0, 0.0]
    assert f.iloc[0]["label"] == "no intervention"
    np.testing.assert_allclose(f["cumulative_cost"], f["cost"].cumsum())
    inside = f[f["within_budget"]].iloc[1:]
    assert list(inside["id"]) == list(p.portfolio.index)
    np.testing.assert_allclose(inside["benefit"], p.portfolio["benefit"])
    assert (inside["cumulative_cost"] <= p.budget + 1e-9).all()
    assert list(f["label"].iloc[1:]) == [p.ranking.at[i, "label"] for i in f["id"].iloc[1:]]
    written = pd.read_csv(files / "frontier.csv")
    np.testing.assert_allclose(written["benefit"], f["benefit"])
    # with and without the portfolio: the benefit is the drop of the mean
    drop = p.baseline["customer_hours"] - p.improved["customer_hours"]
    assert p.portfolio["benefit"].iloc[-1] == pytest.approx(drop)
    assert (hardening.out_dir / "tables" / "plan_frontier.csv").is_file()
    summary = json.loads((hardening.out_dir / "summary.json").read_text())["plan"]
    assert (summary["policy"], summary["objective"]) == ("greedy", "customer_hours")
    assert summary["portfolio"] == list(p.portfolio.index)
    assert summary["portfolio_cost"] == pytest.approx(p.portfolio["cost"].sum())


@pytest.mark.slow
def test_plan_section_lists_the_candidates(hardening) -> None:
    """A plan that ran shows its portfolio; a plan that has not run (or could not) lists
    the study's candidates and the budget."""
    from gridres.report.html import render_report

    done = html.unescape(_section((hardening.out_dir / "report.html").read_text(), "plan"))
    assert hardening.plan.status == "done"
    assert "Recommended portfolio" in done and "Pending." not in done
    pending = html.unescape(_section(render_report(dataclasses.replace(hardening, plan=None)),
                                     "plan"))
    assert "Pending." in pending and "Recommended portfolio" not in pending
    for cand in hardening.study.plan.candidates:
        assert cand["id"] in pending
    assert "candidate intervention(s) within a budget of 12:" in pending


@pytest.mark.slow
def test_report_shows_the_frontier_portfolio_and_ranking(hardening) -> None:
    text = (hardening.out_dir / "report.html").read_text()
    section = _section(text, "plan")
    imgs = re.findall(r'<img src="([^"]+)" alt="([^"]+)"', section)
    assert [alt for _, alt in imgs] == ["Efficient frontier: benefit of the best portfolio "
                                        "against its cost"]
    png = base64.b64decode(imgs[0][0].split(",", 1)[1])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    p = hardening.plan
    tables = re.findall(r"<table[^>]*>(.*?)</table>", section, re.S)
    portfolio, ranking = (_rows(t) for t in tables)
    assert len(portfolio) == len(p.portfolio)
    for k, ((ident, r), row) in enumerate(zip(p.portfolio.iterrows(), portfolio,
                                              strict=True), start=1):
        assert row[0] == str(k) and f"({ident})" in row[1]
        assert row[2:5] == [fmt_num(r["cost"]), fmt_num(r["cumulative_cost"]),
                            fmt_num(r["marginal_benefit"])]
        assert row[5] == f"{fmt_num(r['benefit'])} {fmt_ci(r['ci_low'], r['ci_high'])}"
    assert len(ranking) == len(p.ranking)
    for (ident, r), row in zip(p.ranking.iterrows(), ranking, strict=True):
        assert f"({ident})" in row[1] and row[3] == fmt_num(r["cost"])
        ens_ci = fmt_ci(r["ens_ci_low"], r["ens_ci_high"])
        if abs(r["ens_reduction_mwh"]) > 1e-6:
            assert row[5] == f"{fmt_num(r['ens_reduction_mwh'])} {ens_ci}"
    words = _text(section)
    drop = (p.baseline["customer_hours"] - p.improved["customer_hours"]) / \
        p.baseline["customer_hours"]
    assert (f"lowers the expected customer-hours without power from "
            f"{fmt_num(p.baseline['customer_hours'])} to "
            f"{fmt_num(p.improved['customer_hours'])} per event ({round(100 * drop)} %") \
        in words
    assert "12 million EUR" in words and "greedy restoration policy" in words


def _rows(table: str) -> list[list[str]]:
    body = re.search(r"<tbody>(.*?)</tbody>", table, re.S).group(1)
    return [[_text(c) for c in re.findall(r"<td>(.*?)</td>", tr, re.S)]
            for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)]


@pytest.mark.slow
def test_executive_summary_names_the_best_intervention(hardening) -> None:
    summary = _text(_section((hardening.out_dir / "report.html").read_text(), "summary"))
    p = hardening.plan
    top = p.ranking.index[0]
    r = p.ranking.iloc[0]
    assert r["benefit"] > 0
    assert (f"Of the {len(p.ranking)} interventions evaluated, “{r['label']}” ({top}) gives "
            f"the most for its cost: for {fmt_num(r['cost'])} million EUR it avoids "
            f"{fmt_num(r['benefit'])} customer-hours without power per event on average "
            f"(95 % confidence interval {fmt_ci(r['benefit_ci_low'], r['benefit_ci_high'])}"
            ) in summary
    assert "the recommended portfolio is " + " and ".join(
        [", ".join(f"“{x}”" for x in p.portfolio["label"][:-1]),
         f"“{p.portfolio['label'].iloc[-1]}”"]) in summary
    if r["benefit_ci_low"] <= 0:
        assert "run more events" in summary


def test_frontier_figure_draws_the_greedy_path() -> None:
    from gridres.report.figures import frontier_figure

    f = pd.DataFrame({"step": [0, 1, 2, 3], "id": ["", "a", "b", "c"],
                      "cumulative_cost": [0.0, 2.0, 5.0, 9.0],
                      "benefit": [0.0, 10.0, 14.0, 15.0], "ci_low": [0.0, 6.0, 9.0, 8.0],
                      "ci_high": [0.0, 14.0, 19.0, 22.0],
                      "within_budget": [True, True, True, False]})
    fig = frontier_figure(f, 6.0, "ENS avoided (MWh)", "million EUR", baseline=30.0)
    ax = fig.axes[0]
    path = next(ln for ln in ax.lines if len(ln.get_xdata()) == 4)
    np.testing.assert_allclose(path.get_xydata(), [[0, 0], [2, 10], [5, 14], [9, 15]])
    filled, hollow = ax.collections[-2:]
    np.testing.assert_allclose(hollow.get_offsets(), [[9.0, 15.0]])
    assert len(filled.get_offsets()) == 3
    budget = [ln for ln in ax.lines if list(ln.get_xdata()) == [6.0, 6.0]]
    assert budget, "the budget line"
    assert [t.get_text() for t in ax.texts] == ["1", "2", "3"]
    assert ax.get_xlabel() == "Cumulative cost (million EUR)"


@pytest.mark.slow
def test_plan_report_renders_offline_in_chromium(hardening) -> None:
    chromium.require()
    from test_report import MARKUP, figure_problems

    report = hardening.out_dir / "report.html"
    seen = chromium.content(report, width=1400)
    for img in (i for i in seen.images if i["ranges"]):  # the frontier among them
        assert figure_problems(json.loads(img["ranges"])) == [], img["alt"]
    assert any(i["section"] == "plan" and i["ranges"] for i in seen.images)
    assert [m for m in MARKUP if m in seen.text] == []
    page = chromium.load(report)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "plan_report.png").write_bytes(page.screenshot)
    assert page.errors == []
    outside = [u[:80] for u in page.requests
               if not (u == report.resolve().as_uri() or u.startswith("data:"))]
    assert outside == []
    assert all(i["complete"] and i["naturalWidth"] > 0 for i in page.images), page.images
    assert not math.isnan(page.height) and page.height > 4000


@pytest.mark.slow
def test_pdf_without_a_browser_has_the_frontier_and_portfolio_pages(hardening,
                                                                     tmp_path: Path) -> None:
    from gridres.report.pdf import write_pdf

    def pages(res, name: str) -> int:
        out = tmp_path / name
        assert write_pdf(res, hardening.out_dir / "report.html", out,
                         engine="matplotlib") == "matplotlib"
        return len(re.findall(rb"/Type\s*/Page[^s]", out.read_bytes()))

    assert pages(hardening, "plan.pdf") == pages(dataclasses.replace(hardening, plan=None),
                                                 "none.pdf") + 2
