"""Contingency sweeps: every row equals the single-outage engine (assess), the LODF path
equals a full re-solve, bridges and substations are found right, and the CLI's shape."""

from __future__ import annotations

import json

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from builders import failed, make_grid
from gridres.cascade import CascadeOptions, settle
from gridres.cli import cli
from gridres.contingency import (
    RESULT_COLUMNS,
    contingencies,
    n_minus_1,
    n_minus_2,
    sweep,
)
from gridres.elements import substation_buses
from gridres.errors import UsageError
from gridres.impact import assess
from gridres.model import Grid
from gridres.sensitivity import bus_tree, lodf, lodf_blocks, ptdf

METRICS = ["served_mw", "shed_mw", "customers_out", "people_out", "dark_facilities",
           "islands", "max_loading", "overloaded"]


# -- helpers -----------------------------------------------------------------------------
def assert_rows_equal_assess(grid: Grid, df: pd.DataFrame, cases, *,
                             cascade: CascadeOptions | None = None) -> None:
    """Every row of a sweep equals assess() (settle() under a cascade mode) on that
    case's state."""
    net = grid.network
    rows = df.set_index("element")
    for case in cases:
        imp = settle(net, case.state(net), cascade)
        row = rows.loc[case.element]
        expected = {
            "served_mw": imp.served_total_mw, "shed_mw": imp.shed_total_mw,
            "customers_out": imp.customers_out, "people_out": imp.people_out,
            "dark_facilities": len(imp.dark_facilities), "islands": imp.n_islands,
            "max_loading": imp.max_loading, "overloaded": int(imp.overloaded.sum()),
        }
        for key, value in expected.items():
            assert row[key] == pytest.approx(value, rel=1e-7, abs=1e-6), (case.element, key)
        assert list(row["dark_facility_ids"]) == net.fac_ids[imp.dark_facilities].tolist()


def rated(grid: Grid, headroom: float = 1.05) -> Grid:
    """The grid with every branch rated just above its intact flow, so that most
    outages overload something and the loading screen is exercised."""
    p0 = assess(grid.network).flow_mw
    br = grid.branches.copy()
    br["rating_mw"] = np.abs(p0) * headroom + 1.0
    return grid.replace(branches=br)


def hand_grid() -> Grid:
    """A triangle A-B-C (x = 0.1 each) with bus D hanging on C by branch cd.

    A is the reference with G1 (100 MW scheduled, 200 MW max); loads B 50, C 20, D 30;
    a hospital (5 MW, no backup) at D. Intact flows: ab 50, ac 50, bc 0, cd 30.
    """
    return make_grid(
        [{"id": "A", "ref": True},
         {"id": "B", "load_mw": 50.0, "customers": 5000},
         {"id": "C", "load_mw": 20.0, "customers": 2000},
         {"id": "D", "load_mw": 30.0, "customers": 1000}],
        [{"id": "ab", "from_bus": "A", "to_bus": "B", "x_pu": 0.1, "rating_mw": 50.0},
         {"id": "ac", "from_bus": "A", "to_bus": "C", "x_pu": 0.1, "rating_mw": 50.0},
         {"id": "bc", "from_bus": "B", "to_bus": "C", "x_pu": 0.1, "rating_mw": 20.0},
         {"id": "cd", "from_bus": "C", "to_bus": "D", "x_pu": 0.1, "rating_mw": 40.0}],
        [{"id": "G1", "bus": "A", "p_mw": 100.0, "pmax_mw": 200.0},
         {"id": "G2", "bus": "B", "p_mw": 0.0, "pmax_mw": 20.0}],
        [{"id": "hosp", "bus": "D", "kind": "hospital", "demand_mw": 5.0, "people": 800}],
        name="hand",
    )


def random_grid(seed: int) -> Grid:
    """A random connected grid: a random tree (so many bridges and cut-off parts) plus
    extra and parallel branches, phase shifters, negative loads, priorities,
    generators with a reference bus, facilities, customers and ratings."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(6, 28))
    edges = [(int(rng.integers(0, i)), i) for i in range(1, n)]
    for _ in range(int(rng.integers(0, n))):
        a, b = rng.choice(n, 2, replace=False)
        edges.append((int(a), int(b)))
    if rng.random() < 0.5:
        edges.append(edges[int(rng.integers(0, len(edges)))])  # a parallel branch
    load = np.round(rng.uniform(0, 40, n) * (rng.random(n) < 0.8), 1)
    load[rng.random(n) < 0.1] = -5.0  # embedded generation as negative load
    buses = [{"id": f"b{i}", "load_mw": float(load[i]), "customers": int(rng.integers(0, 900)),
              "priority": int(rng.integers(0, 3)), "ref": i == 0} for i in range(n)]
    branches = [{"id": f"l{k}", "from_bus": f"b{a}", "to_bus": f"b{b}",
                 "x_pu": float(rng.uniform(0.02, 0.3)),
                 "shift_deg": float(rng.choice([0.0, 0.0, 0.0, 3.0])),
                 "rating_mw": float(rng.uniform(10, 120))} for k, (a, b) in enumerate(edges)]
    gen_bus = np.unique(np.r_[0, rng.choice(n, max(1, n // 4))])
    total = max(float(np.clip(load, 0, None).sum()), 1.0)
    gens = [{"id": f"g{j}", "bus": f"b{i}", "p_mw": float(total / len(gen_bus) * 0.8),
             "pmax_mw": float(total / len(gen_bus) * rng.uniform(0.6, 2.5))}
            for j, i in enumerate(gen_bus)]
    gens[0]["pmax_mw"] = total * 3  # the reference can take up the slack
    facs = [{"id": f"f{j}", "bus": f"b{int(i)}", "demand_mw": float(min(load[i], 5.0)),
             "backup_mw": float(rng.choice([0.0, 10.0])), "backup_hours": 8.0,
             "people": int(rng.integers(1, 500))}
            for j, i in enumerate(rng.choice(n, 3)) if load[i] > 0]
    return make_grid(buses, branches, gens, facs, name=f"random{seed}")


# -- hand-worked numbers -----------------------------------------------------------------
def test_hand_grid_branch_outages_exact_numbers():
    g = hand_grid()
    df = n_minus_1(g, "branch").set_index("element")
    cd = df.loc["branch:cd"]
    # D is cut off and dark: its 30 MW, 1000 customers and the hospital are lost;
    # the triangle then carries A 70 -> B 50, C 20: ab 40, ac 30, bc -10
    assert cd["served_mw"] == pytest.approx(70.0)
    assert cd["shed_mw"] == pytest.approx(30.0)
    assert cd["customers_out"] == pytest.approx(1000.0)
    assert cd["islands"] == 2
    assert list(cd["dark_facility_ids"]) == ["hosp"]
    assert cd["people_out"] == 800
    assert cd["max_loading"] == pytest.approx(40.0 / 50.0)
    assert cd["overloaded"] == 0
    # losing ab sends all 100 MW for B, C, D through ac (100 on 50 MW), B's 50 MW
    # then over bc (50 on 20 MW)
    ab = df.loc["branch:ab"]
    assert ab["shed_mw"] == pytest.approx(0.0)
    assert ab["max_loading"] == pytest.approx(50.0 / 20.0)
    assert ab["overloaded"] == 2  # ac at 100/50 and bc at 50/20
    assert df.index[0] == "branch:cd"  # the only outage that sheds load ranks first


def test_hand_grid_bus_outages_exact_numbers():
    g = hand_grid()
    df = n_minus_1(g, "bus")
    # A takes G1 with it: G2's 20 MW serve 20 of 100 MW; B and C shed 50 MW each, B
    # with more customers
    assert df["element"].tolist()[:3] == ["bus:A", "bus:B", "bus:C"]
    rows = df.set_index("element")
    assert rows.loc["bus:A", "shed_mw"] == pytest.approx(80.0)
    c = rows.loc["bus:C"]
    assert c["shed_mw"] == pytest.approx(50.0)  # C's 20 MW and D's 30 MW, cut off behind C
    assert c["customers_out"] == pytest.approx(3000.0)
    assert c["islands"] == 2  # A-B and the dark D
    assert c["max_loading"] == pytest.approx(1.0)  # ab carries B's 50 MW
    b = rows.loc["bus:B"]
    assert b["shed_mw"] == pytest.approx(50.0)
    assert b["max_loading"] == pytest.approx(1.0)  # ac carries C and D: 50 MW
    assert_rows_equal_assess(g, df, contingencies(g, "bus"))


def test_fast_path_is_used_and_matches_assess_on_hand_grid():
    g = hand_grid()
    for kind in ("branch", "bus", "gen", "substation"):
        cases = contingencies(g, kind)
        df = sweep(g, cases)
        assert_rows_equal_assess(g, df, cases)
    df = sweep(g, contingencies(g, "branch"))
    assert set(df["method"]) == {"lodf"}


def test_cut_off_part_redispatched_in_proportion_takes_the_fast_path():
    """Cutting off a part whose largest generator cannot take up its import: the engine
    runs the part's generators at one share of their capacity, need / cap.

    Main: m1 (reference, 200 MW) feeds 50 MW at m2. Part behind bridge m2-p1: G1 at p1
    (pmax 50, scheduled 45), G2 at p2 (pmax 40, scheduled 5), 60 MW at p2; intact, the
    part imports 10 MW. Without the bridge, G1 would have to run at 45 + 10 = 55 > 50:
    both run at 60 / 90 of pmax instead, G1 at 33.33 MW, which all flows to p2 over a
    line rated 40 MW (loading 0.8333); m1-m2 carries 50 MW of its 100 (0.5)."""
    g = make_grid(
        [{"id": "m1", "ref": True}, {"id": "m2", "load_mw": 50.0}, {"id": "p1"},
         {"id": "p2", "load_mw": 60.0}],
        [{"id": "mm", "from_bus": "m1", "to_bus": "m2", "x_pu": 0.1, "rating_mw": 100.0},
         {"id": "bridge", "from_bus": "m2", "to_bus": "p1", "x_pu": 0.1, "rating_mw": 100.0},
         {"id": "pp", "from_bus": "p1", "to_bus": "p2", "x_pu": 0.1, "rating_mw": 40.0}],
        [{"id": "G0", "bus": "m1", "p_mw": 60.0, "pmax_mw": 200.0},
         {"id": "G1", "bus": "p1", "p_mw": 45.0, "pmax_mw": 50.0},
         {"id": "G2", "bus": "p2", "p_mw": 5.0, "pmax_mw": 40.0}],
    )
    cases = contingencies(g, "branch")
    df = sweep(g, cases).set_index("element")
    row = df.loc["branch:bridge"]
    assert row["method"] == "lodf"
    assert (row["islands"], row["shed_mw"]) == (2, 0.0)
    assert row["max_loading"] == pytest.approx((60.0 / 90.0 * 50.0) / 40.0)
    imp = assess(g.network, cases[1].state(g.network))
    assert imp.gen_mw.tolist() == pytest.approx([50.0, 100.0 / 3.0, 80.0 / 3.0])
    assert_rows_equal_assess(g, df.reset_index(), cases)
    bus = contingencies(g, "bus")
    assert_rows_equal_assess(g, sweep(g, bus), bus)


# -- sweeps equal single outages ---------------------------------------------------------
@pytest.mark.parametrize("name", ["case14", "case118", "case300"])
@pytest.mark.parametrize("kind", ["branch", "bus", "gen"])
def test_sweep_equals_assess_on_matpower_cases(matpower_grid, name, kind):
    g = rated(matpower_grid(name))
    cases = contingencies(g, kind)
    df = sweep(g, cases)
    assert len(df) == len(cases)
    assert (df["method"] == "lodf").mean() >= 0.8  # the fast path carries the sweep
    assert df["overloaded"].sum() > 0
    assert_rows_equal_assess(g, df, cases)


def test_sweep_equals_assess_on_bundled_grid_with_facilities():
    from gridres.io import load_grid

    g = load_grid("demo_region")
    for kind in ("bus", "branch", "gen", "substation"):
        cases = contingencies(g, kind)
        df = sweep(g, cases, cascade=CascadeOptions(margin=0.1))
        assert_rows_equal_assess(g, df, cases, cascade=CascadeOptions(margin=0.1))
    bus = n_minus_1(g, "bus")
    assert (bus["dark_facilities"] > 0).any() and (bus["islands"] > 1).any()


def test_cascade_sweep_equals_cascading_assess():
    g = rated(hand_grid(), headroom=1.2)
    from gridres.io import load_grid

    for grid in (g, load_grid("demo_region")):
        cases = contingencies(grid, "branch")
        for mode in ("trip", "redispatch"):
            opts = CascadeOptions(mode, margin=0.05)
            df = sweep(grid, cases, cascade=opts)
            assert_rows_equal_assess(grid, df, cases, cascade=opts)
            if mode == "trip":  # every cascade ran until nothing was overloaded
                assert (df["overloaded"] == 0).all()


@pytest.mark.parametrize("seed", range(14))
def test_sweep_equals_assess_on_random_grids(seed):
    g = random_grid(seed)
    for kind in ("branch", "bus", "gen"):
        cases = contingencies(g, kind)
        df = sweep(g, cases, block=7)  # small blocks: several blocks per rank group
        assert_rows_equal_assess(g, df, cases)


def test_fast_and_exact_sweeps_agree_on_large_case(matpower_grid):
    g = matpower_grid("case2869pegase")
    cases = contingencies(g, "branch")
    df = sweep(g, cases).set_index("element")
    rng = np.random.default_rng(7)
    sample = [cases[i] for i in rng.choice(len(cases), 60, replace=False)]
    bridge = bus_tree(g.network).bridge
    sample += [c for c in cases if bridge[c.branches[0]]][:40]
    exact = sweep(g, sample, fast=False).set_index("element")
    for col in METRICS:
        np.testing.assert_allclose(df.loc[exact.index, col].to_numpy(float),
                                   exact[col].to_numpy(float), rtol=1e-7, atol=1e-6)


# -- the LODF path equals a full re-solve ------------------------------------------------
@pytest.mark.parametrize("seed", range(10))
def test_lodf_equals_full_resolve_on_random_grids(seed):
    g = random_grid(100 + seed)
    net = g.network
    p0 = assess(net).flow_mw
    tree = bus_tree(net)
    L = lodf(net)
    for k in range(net.n_branch):
        if tree.bridge[k]:
            assert np.isnan(L[:, k]).all()
            continue
        post = assess(net, net.intact().fail(branches=[k])).flow_mw
        expected = p0 + L[:, k] * p0[k]
        np.testing.assert_allclose(expected, post, atol=1e-7)
        assert L[k, k] == -1.0


def test_lodf_blocks_equal_dense_and_superlu_equals_default(matpower_grid):
    net = matpower_grid("case118").network
    dense = lodf(net)
    cols = np.concatenate([c for _, c in lodf_blocks(net, block=50)], axis=1)
    np.testing.assert_allclose(cols, dense, atol=1e-12, equal_nan=True)
    from gridres.sensitivity import intact_factor

    slu = lodf(net, factor=intact_factor(net, backend="superlu"))
    np.testing.assert_allclose(slu, dense, atol=1e-9, equal_nan=True)


def test_ptdf_reproduces_intact_flows(matpower_grid):
    # no phase shifters in case118: intact flows are the PTDF times the injections
    net = matpower_grid("case118").network
    imp = assess(net)
    inj = (np.bincount(net.gen_bus, weights=imp.gen_mw, minlength=net.n_bus)
           - imp.served_mw - net.fixed_mw)
    np.testing.assert_allclose(ptdf(net) @ inj, imp.flow_mw, atol=1e-8)


# -- topology ----------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(8))
def test_bridges_and_articulation_buses_match_networkx(seed):
    g = random_grid(200 + seed)
    net = g.network
    tree = bus_tree(net)
    mg = nx.MultiGraph()
    mg.add_nodes_from(range(net.n_bus))
    for k in np.flatnonzero(net.branch_in_service):
        mg.add_edge(int(net.f[k]), int(net.t[k]), key=int(k))
    n_comp = nx.number_connected_components(mg)
    for k in np.flatnonzero(net.branch_in_service):
        h = mg.copy()
        h.remove_edge(int(net.f[k]), int(net.t[k]), key=int(k))
        assert tree.bridge[k] == (nx.number_connected_components(h) > n_comp)
    simple = nx.Graph(mg)
    arts = set(nx.articulation_points(simple))
    for v in range(net.n_bus):
        kids = np.flatnonzero(tree.parent == v)
        cut = len(kids) >= 2 if tree.parent[v] < 0 else len(tree.separated_children(v, kids)) > 0
        assert cut == (v in arts)
    # subtrees are preorder ranges and every non-tree branch joins ancestor and descendant
    for k in np.flatnonzero(net.branch_in_service):
        a, b = sorted((int(net.f[k]), int(net.t[k])), key=lambda v: tree.pre[v])
        assert tree.pre[a] <= tree.pre[b] < tree.pre[a] + tree.size[a]


def test_substations_group_by_name_then_location_then_bus():
    from shapely.geometry import Point

    g = make_grid(
        [{"id": "a1", "substation": "North", "ref": True}, {"id": "a2", "substation": "North"},
         {"id": "b1"}, {"id": "b2"}, {"id": "c"}],
        [{"id": "x", "from_bus": "a1", "to_bus": "a2", "x_pu": 0.1}],
    )
    assert {k: v.tolist() for k, v in substation_buses(g).items()} == {
        "North": [0, 1], "b1": [2], "b2": [3], "c": [4]}
    buses = g.buses.copy()
    buses["geometry"] = [Point(0, 0), Point(0, 0), Point(1, 1), Point(1, 1), Point(2, 2)]
    g2 = g.replace(buses=buses)
    assert sorted(v.tolist() for v in substation_buses(g2).values()) == [[0, 1], [2, 3], [4]]


# -- N-2 ---------------------------------------------------------------------------------
def test_n_minus_2_pairs_follow_the_screening_rule_and_equal_assess(matpower_grid):
    g = rated(matpower_grid("case118"))
    first = n_minus_1(g, "branch")
    df = n_minus_2(g, "branch", top=5, partners=2, first=first)
    top = first["element"].head(5).tolist()
    names = set(df["element"])
    for i, a in enumerate(top):
        for b in top[i + 1:]:
            assert "+".join(sorted((a, b))) in names
    assert 10 <= len(df) <= 10 + 5 * 2
    net = g.network
    for row in df.head(8).itertuples():
        ids = [e.split(":", 1)[1] for e in row.element.split("+")]
        imp = assess(net, failed(g, branches=ids))
        assert row.shed_mw == pytest.approx(imp.shed_total_mw, abs=1e-6)
        assert row.max_loading == pytest.approx(imp.max_loading, rel=1e-9)


def test_usage_errors():
    g = hand_grid()
    with pytest.raises(UsageError, match="kind"):
        contingencies(g, "transformer")
    with pytest.raises(UsageError, match="margin"):
        sweep(g, contingencies(g, "bus"), cascade=CascadeOptions(margin=-1))
    with pytest.raises(UsageError, match="block"):
        sweep(g, contingencies(g, "bus"), block=0)
    with pytest.raises(UsageError, match="batch_size"):
        sweep(g, contingencies(g, "bus"), batch_size=0)
    with pytest.raises(UsageError, match="'workers' parameter must be an int >= 1"):
        sweep(g, contingencies(g, "bus"), workers=0)


# -- in parallel: the same rows on one worker, on local processes and on Dask ---------
@pytest.mark.parametrize("kind", ["branch", "bus"])
@pytest.mark.slow
def test_sweeps_are_the_same_on_workers_and_on_a_dask_cluster(matpower_grid, dask_scheduler,
                                                             kind):
    g = matpower_grid("case_ACTIVSg2000")
    cases = contingencies(g, kind)
    one = sweep(g, cases, workers=1)
    # islanding outages (superposition) and some through assess are both in it
    assert (one["islands"] > one["islands"].min()).any()
    assert kind == "branch" or (one["method"] == "assess").any()
    for backend in ({"workers": 2, "batch_size": 400},
                    {"scheduler": dask_scheduler, "batch_size": 700},
                    {"workers": 1, "batch_size": 333}):
        pd.testing.assert_frame_equal(sweep(g, cases, **backend), one, check_exact=True)


@pytest.mark.slow
def test_cascade_and_n_minus_2_are_the_same_in_parallel(matpower_grid, dask_scheduler):
    g = rated(matpower_grid("case118"))
    cases = contingencies(g, "branch")[:80]
    trip = CascadeOptions("trip", margin=0.05)
    one = sweep(g, cases, cascade=trip, workers=1)
    plain = sweep(g, cases, cascade=CascadeOptions(margin=0.05), workers=1).set_index("element")
    # most outages overload a branch here, and the cascade that follows sheds load
    assert (plain["overloaded"] > 0).sum() > 50
    shed = one.set_index("element")["shed_mw"]
    assert (shed > plain.loc[shed.index, "shed_mw"] + 1).sum() > 50
    for backend in ({"workers": 2, "batch_size": 25}, {"scheduler": dask_scheduler}):
        pd.testing.assert_frame_equal(sweep(g, cases, cascade=trip, **backend), one,
                                      check_exact=True)
    pairs = n_minus_2(g, "branch", top=8, partners=3, first=one, cascade=trip, workers=1)
    assert len(pairs) > 28  # the 28 pairs among 8 candidates, and partners
    for backend in ({"workers": 2, "batch_size": 6}, {"scheduler": dask_scheduler}):
        pd.testing.assert_frame_equal(
            n_minus_2(g, "branch", top=8, partners=3, first=one, cascade=trip, **backend),
            pairs, check_exact=True)


def test_progress_counts_every_case_once_in_parallel(matpower_grid):
    g = matpower_grid("case118")
    cases = contingencies(g, "branch")
    for backend in ({"workers": 1}, {"workers": 2, "batch_size": 40}):
        seen = []
        sweep(g, cases, progress=seen.append, **backend)
        assert sum(seen) == len(cases)


# -- CLI ---------------------------------------------------------------------------------
def test_cli_json_shape_and_equal_to_outage_command(matpower_grid):
    runner = CliRunner()
    res = runner.invoke(cli, ["contingency", "matpower:case14", "--elements", "bus", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["count"] == 14 and len(doc["results"]) == 14
    first = doc["results"][0]
    assert {"element", "served_mw", "shed_mw", "customers_out", "islands",
            "max_loading"} <= set(first)
    assert [r["rank"] for r in doc["results"]] == list(range(1, 15))
    one = runner.invoke(cli, ["outage", "matpower:case14", "--fail", first["element"], "--json"])
    assert one.exit_code == 0, one.output
    single = json.loads(one.stdout)
    for key in ("served_mw", "shed_mw", "islands", "max_loading"):
        assert first[key] == pytest.approx(single[key], abs=1e-6)


def test_cli_out_files_and_k2(tmp_path):
    runner = CliRunner()
    out = tmp_path / "n1.parquet"
    res = runner.invoke(cli, ["contingency", "matpower:case14", "--elements", "branch",
                              "--out", str(out)])
    assert res.exit_code == 0, res.output
    df = pd.read_parquet(out)
    assert list(df.columns) == RESULT_COLUMNS and len(df) == 20
    csv = tmp_path / "n2.csv"
    res = runner.invoke(cli, ["contingency", "matpower:case14", "--elements", "branch",
                              "--k", "2", "--top", "4", "--partners", "1", "--out", str(csv),
                              "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["k"] == 2 and all("+" in r["element"] for r in doc["results"])
    assert len(pd.read_csv(csv)) == doc["count"]


@pytest.mark.slow
def test_cli_workers_and_scheduler_give_the_same_document(dask_scheduler):
    runner = CliRunner()
    args = ["contingency", "matpower:case_ACTIVSg2000", "--elements", "bus", "--json"]
    docs = []
    for extra in (["--workers", "1"], ["--workers", "2"], ["--scheduler", dask_scheduler]):
        res = runner.invoke(cli, args + extra)
        assert res.exit_code == 0, res.output
        docs.append(json.loads(res.stdout))
    assert docs[0]["count"] == 2000
    assert docs[1] == docs[0] and docs[2] == docs[0]
    res = runner.invoke(cli, ["contingency", "matpower:case118", "--elements", "branch",
                              "--k", "2", "--top", "6", "--json", "--scheduler",
                              dask_scheduler])
    local = runner.invoke(cli, ["contingency", "matpower:case118", "--elements", "branch",
                                "--k", "2", "--top", "6", "--json", "--workers", "1"])
    assert res.exit_code == local.exit_code == 0, res.output
    assert json.loads(res.stdout) == json.loads(local.stdout)


def test_cli_exit_codes(tmp_path):
    runner = CliRunner()
    from gridres.cli.common import run_cli

    assert run_cli(cli, ["contingency", "matpower:case14", "--elements", "feeder"]) == 2
    assert run_cli(cli, ["contingency", "matpower:case14", "--elements", "bus",
                         "--out", str(tmp_path / "x.txt")]) == 2
    assert not (tmp_path / "x.txt").exists()
    assert run_cli(cli, ["contingency", str(tmp_path / "none.m"), "--elements", "bus"]) == 66
    res = runner.invoke(cli, ["contingency", "matpower:case14", "--elements", "gen"])
    assert res.exit_code == 0
