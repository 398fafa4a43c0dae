"""Studies with ``[demand]`` and ``[deficit]``: the bundled example runs with a small n and
carries its rotation's tables; the event it shows is the ensemble's own; bad input is
one line with exit 65 (66 for a missing file)."""

from __future__ import annotations

import contextlib
import io
import json
import re
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gridres.cli import cli
from gridres.cli.common import run_cli
from gridres.study import analyse_study, run_study

STUDY = Path(__file__).resolve().parents[1] / "grids" / "studies" / "deficit.toml"


def cli_run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run_cli(cli, [str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    return run_study(STUDY, tmp_path_factory.mktemp("deficit") / "out", n=4, workers=1)


def test_the_deficit_study_compares_shedding_with_rotation(results):
    d = results.deficit
    assert d is not None and d.rotation and d.with_deficit >= 1
    cmp = d.comparison.set_index(["policy", "sharing"])
    for policy in ("greedy", "largest-load-first"):
        shed, rot = cmp.loc[(policy, "shedding")], cmp.loc[(policy, "rotation")]
        assert rot["jain_customers"] > shed["jain_customers"]
        assert rot["mean_longest_outage_h"] <= 4.0 + 0.5
    # every run of the ensemble is there: each policy shedding and rotating
    assert set(results.restoration) == {"greedy", "largest-load-first", "greedy+rotation",
                                        "largest-load-first+rotation"}
    doc = json.loads((results.out_dir / "summary.json").read_text())
    assert doc["deficit"]["events_with_deficit"] == d.with_deficit
    assert {r["sharing"] for r in doc["deficit"]["comparison"]} == {"shedding", "rotation"}


def test_the_event_shown_is_the_ensembles_own(results):
    # replayed from default_rng([seed, i]): the same numbers as the ensemble recorded
    d = results.deficit
    rec = results.records.set_index("scenario").loc[d.scenario]
    for run, row in d.event.iterrows():
        for m in ("ens_mwh", "customer_hours", "deficit_mwh"):
            assert row[m] == pytest.approx(float(rec[f"{m}__{run}"]), rel=1e-12, abs=1e-9)
    # the median of the events with a deficit
    deficits = results.records.set_index("scenario")["deficit_mwh__greedy"]
    pos = np.sort(deficits[deficits > 1e-6].to_numpy())
    assert deficits[d.scenario] == pos[(len(pos) - 1) // 2]


def test_the_results_carry_the_schedule_tables(results):
    tables = results.out_dir / "tables"
    schedule = pd.read_csv(tables / "deficit_schedule.csv")
    groups = pd.read_csv(tables / "deficit_groups.csv", dtype={"group": str})
    hours = pd.read_csv(tables / "deficit_hours.csv")
    assert set(schedule["group"].astype(str)) == set(groups["group"])
    assert list(hours.columns[:6]) == ["hour", "time", "demand_mw", "capacity_mw",
                                       "shortfall_mw", "served_mw"]
    # hours off per group from the table equal the group table's (whole hours here)
    off = schedule.groupby(schedule["group"].astype(str))["off_share"].sum()
    assert off.reindex(groups["group"]).to_numpy() == pytest.approx(
        groups["hours_off"].to_numpy(), abs=1e-6)
    # protected groups stay on while supply allows: no note says otherwise
    if not any("protected" in n for n in results.deficit.notes):
        prot = set(groups.loc[groups["protected"], "group"])
        assert not schedule[schedule["group"].astype(str).isin(prot)]["off"].any()
    # the resolved study runs again as is: it keeps [demand] and [deficit]
    resolved = tomllib.loads((results.out_dir / "study.resolved.toml").read_text())
    assert resolved["demand"]["profile"] == "typical"
    assert resolved["deficit"]["groups"] == 8


def _study(tmp_path: Path, demand: str, deficit: str = "", restoration: bool = True) -> Path:
    text = ('[study]\nseed = 1\n[grid]\nsource = "ieee14"\n'
            '[scenario]\nkind = "explicit"\nfail = ["branch:1"]\n'
            + ('[restoration]\ncrews = 1\n' if restoration else "")
            + f"[demand]\n{demand}\n" + (f"[deficit]\n{deficit}\n" if deficit else ""))
    path = tmp_path / "s.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("demand, files, code, key, words", [
    ('profile = "wintr"', {}, 65, "demand.profile", "did you mean winter"),
    ('profile = "p.csv"', {"p.csv": "hour,class,factor\n0,residential,1\n2,residential,1\n"},
     65, "demand.profile", "no factor for class 'residential' at hour 1"),
    ('profile = "p.csv"', {"p.csv": "hour,class,factor\n0,residential,1\n1,residential,-2\n"},
     65, "demand.profile", "row 3: factor '-2' is negative"),
    ('profile = "p.csv"', {}, 66, "demand.profile", "no such profile file"),
    ('start = "soon"', {}, 65, "demand.start", "'soon' is not a date and time"),
    ('profile = "flat"\ntemperature_c = -5.0', {}, 65, "demand.temperature_c",
     "temperature_c applies to the built-in"),
])
def test_bad_demand_is_one_line(tmp_path, demand, files, code, key, words):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    path = _study(tmp_path, demand)
    (p,) = analyse_study(path).problems
    assert (p.path, p.exit_code) == (key, code) and words in p.message
    got, out, err = cli_run("run", str(path), "--out", str(tmp_path / "out"))
    assert got == code and len(err.strip().splitlines()) == 1 and words in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("deficit, key, words", [
    ("groups = 500", "deficit.groups", "500 groups but only"),
    ("block_h = 30", "deficit.block_h", "must be from 1 to 24"),
    ('ties = ["1"]', "deficit.import_limit_mw", "give both"),
    ("derate = 1.5", "deficit.derate", "fraction from 0 to 1"),
])
def test_bad_deficit_is_one_line(tmp_path, deficit, key, words):
    (p,) = analyse_study(_study(tmp_path, 'profile = "typical"', deficit)).problems
    assert p.path == key and words in p.message and p.exit_code == 65


def test_demand_without_restoration_is_refused(tmp_path):
    (p,) = analyse_study(_study(tmp_path, 'profile = "typical"', restoration=False)).problems
    assert p.path == "demand" and "add a [restoration] section" in p.message


@pytest.mark.parametrize("sections", ['[demand]\nprofile = "typical"\n',
                                      "[deficit]\nrotation = true\n"])
def test_a_plan_with_demand_or_deficit_is_refused(tmp_path, sections):
    # the plan scores designs on the static load: its baseline would not be the report's
    path = tmp_path / "s.toml"
    path.write_text('[study]\nseed = 1\n[grid]\nsource = "demo_region"\n'
                    '[scenario]\nkind = "explicit"\nfail = ["substation:Wolfau"]\n'
                    "[restoration]\ncrews = 1\n[plan]\nbudget = 10\n" + sections)
    (p,) = analyse_study(path).problems
    assert p.path == "plan" and p.exit_code == 65 and "[demand] and [deficit]" in p.message
    code, out, err = cli_run("plan", str(path), "--out", str(tmp_path / "out"))
    assert code == 65 and len(err.strip().splitlines()) == 1 and "static load" in err


# -- the report's "Power deficit" section --------------------------------------------------


def test_the_report_has_a_power_deficit_section(results):
    from gridres.report import write_report
    from gridres.report.deficit import group_sentences

    res = write_report(results)
    html = (res.out_dir / "report.html").read_text()
    assert '<section id="deficit">' in html and 'href="#deficit">Power deficit' in html
    d = res.deficit
    schedule = d.schedule
    protected = set(d.groups.loc[d.groups["protected"], "group"].astype(str))
    day, _ = group_sentences(schedule, {}, protected)
    items = re.findall(r"<li>(Group [^<]*)</li>", html.split('<ul class="plain">')[1])
    assert f"In plain words: {day}" in html and items
    # the words agree with the schedule table: hours off and the longest run of the day
    t = pd.to_datetime(schedule["time"])
    today = schedule[(t.dt.strftime("%A %-d %B %Y") == day).to_numpy()]
    for gid, rows in today.groupby("group"):
        if str(gid) in protected:
            continue
        off = rows.sort_values("time")["off"].astype(bool).to_numpy()
        (item,) = [i for i in items if i.startswith(f"Group {gid} ")]
        if not off.any():
            assert item.endswith(f"stays on all {len(off)} hours.")
        else:
            assert f"is off {int(off.sum())} of {len(off)} hours" in item


@pytest.mark.slow
def test_the_power_deficit_section_reads_right_in_a_browser(results):
    import chromium
    from gridres.report import write_report
    from test_report import ARTIFACTS, figure_problems

    chromium.require()
    res = write_report(results)
    page = chromium.content(res.out_dir / "report.html", width=1400)
    assert page.errors == []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "section-deficit.png").write_bytes(page.sections["deficit"])
    figures = [i for i in page.images if i["section"] == "deficit" and i["ranges"]]
    assert len(figures) == 2
    for img in figures:
        assert figure_problems(json.loads(img["ranges"])) == [], img["alt"]
        assert img["complete"] and 300 < img["width"] <= 1400
    assert "Power deficit" in page.text and "rotating groups" in page.text


def test_no_power_deficit_section_without_a_deficit(tmp_path):
    from gridres.report.html import render_report

    path = _study(tmp_path, 'profile = "typical"\nstart = "2025-07-06T03:00"',
                  "rotation = true\ngroups = 3")
    res = run_study(path, tmp_path / "out", workers=1, n=10)  # one failure, ten times
    assert res.deficit is not None and not res.deficit.has_deficit
    assert '<section id="deficit">' not in render_report(res)
