"""Restoration sees what the outage engine sees: every assessment of a restoration run is
the engine's (flows, cascade mode and margin, black start), so the lost load at time 0
is ``gridres outage``'s shed load, and the run equals the engine after every event.

Also: the black-start rule on a grid worked by hand, the reference-bus tie rule, and the
one cascade option of every command.
"""

from __future__ import annotations

import contextlib
import io
import json
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from builders import make_grid
from gridres.cascade import MODES, CascadeOptions, settle
from gridres.cli import cli
from gridres.cli.common import run_cli
from gridres.contingency import contingencies, sweep
from gridres.errors import UsageError
from gridres.impact import assess
from gridres.io import load_grid
from gridres.model import State
from gridres.restoration import PriorityList, RestorationSettings, compare, prepare, simulate
from gridres.restoration.supply import flows_matter, supply
from gridres.scenarios.base import Scenario, Wave
from test_restoration_properties import random_grid

TOL_MW = 1e-6


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run_cli(cli, [str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def rated(grid, seed: int, low: float = 0.7, high: float = 1.6, floor_mw: float = 5.0):
    """``grid`` with every branch rated at a random multiple of its intact flow (at least
    ``floor_mw``), so that outages overload and cascades happen."""
    flows = np.abs(assess(grid.network).flow_mw)
    rng = np.random.default_rng(seed)
    branches = grid.branches.copy()
    branches["rating_mw"] = np.maximum(flows * rng.uniform(low, high, len(flows)), floor_mw)
    return grid.replace(branches=branches)


def replay(grid, scenario: Scenario, res, opts: CascadeOptions) -> list[tuple[float, float]]:
    """The engine on the physical state after every event of a run, rebuilt from its
    schedule (an element is failed from its job's failure until its repair): (time,
    served MW) per event, each assessment from the buses the one before energised."""
    net = grid.network
    rows = []
    for r in res.schedule.itertuples(index=False):
        kind, ident = r.element.split(":", 1)
        etype = {"bus": 0, "branch": 1, "gen": 2}[kind]
        pos = (net.bus_ids, net.branch_ids, net.gen_ids)[etype].get_loc(ident)
        end = r.end_h if np.isfinite(r.end_h) else np.inf
        rows.append((etype, int(pos), float(r.fail_h), end))
    times = sorted({float(w.time_h) for w in scenario.waves}
                   | {e for *_, e in rows if np.isfinite(e)})
    live, out = None, []
    for t in times:
        masks = [m.copy() for m in (net.intact().bus, net.intact().branch, net.intact().gen)]
        for etype, pos, fail, end in rows:
            if fail <= t + 1e-9 and not end <= t + 1e-9:
                masks[etype][pos] = False
        imp = settle(net, State(*masks), opts, live=live)
        live = imp.energized
        out.append((t, imp.served_total_mw))
    return out


def curve_at(curve: pd.DataFrame, t: float, column: str = "served_mw") -> float:
    times = curve["time_h"].to_numpy(float)
    return float(curve[column].to_numpy(float)[np.searchsorted(times, t + 1e-9) - 1])


def assert_time_zero_is_outage(grid, tokens, opts: CascadeOptions, policy="greedy") -> float:
    """The first point of the curve is outage's shed load (the intact grid sheds nothing
    here; otherwise the loss is counted against the intact grid's served load)."""
    net = grid.network
    intact = settle(net, None, opts)
    outage = settle(grid, list(tokens), opts)
    res = compare(grid, list(tokens), (policy,), RestorationSettings(crews=2),
                  cascade=opts)[policy]
    lost0 = curve_at(res.curve, 0.0, "lost_mw")
    assert lost0 == pytest.approx(max(0.0, outage.shed_total_mw - intact.shed_total_mw),
                                  abs=TOL_MW)
    return lost0


# -- time 0 is outage -----------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_kal_110_restore_json_starts_at_outage_shed_load(mode: str) -> None:
    code, out, err = run("outage", "demo_region", "--fail", "bus:KAL-110", "--cascade-mode",
                         mode, "--json")
    assert code == 0, err
    shed = json.loads(out)["shed_mw"]
    code, out, err = run("restore", "demo_region", "--fail", "bus:KAL-110", "--cascade-mode",
                         mode, "--policy", "greedy", "--policy", "as-listed", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["cascade_mode"] == mode and doc["margin"] == 0.0
    for row in doc["policies"]:
        assert row["peak_lost_mw"] == pytest.approx(shed, abs=TOL_MW)
        assert doc["details"][row["policy"]]["curve"][0]["lost_mw"] == pytest.approx(
            shed, abs=TOL_MW)
    # losing KAL-110 overloads lines to 134 %: nothing is cut off without a cascade, the
    # trips cut 164.85 MW off, and the operator's redispatch saves most of it
    assert shed == pytest.approx({"none": 0.0, "trip": 164.85, "redispatch": 41.85}[mode],
                                 abs=1e-3)


DEMO_OUTAGES = [
    ("bus:KAL-110",),
    ("bus:RAIN-110", "branch:L-OST-380-VBS-380"),
    ("substation:Kaltenfeld-Heide",),
    ("bus:OST-380", "branch:L-OST-380-VBS-380"),
    ("bus:VBS-110",),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("tokens", DEMO_OUTAGES, ids=lambda t: "+".join(t))
def test_lost_load_at_time_zero_equals_outage_on_the_demo(tokens, mode: str) -> None:
    grid = load_grid("demo_region")
    for margin in (0.0, 0.1):
        assert_time_zero_is_outage(grid, tokens, CascadeOptions(mode, margin))


@pytest.mark.parametrize("mode", MODES)
def test_lost_load_at_time_zero_equals_outage_on_random_demo_outages(mode: str) -> None:
    grid = load_grid("demo_region")
    net = grid.network
    rng = np.random.default_rng(11)
    lost = []
    for _ in range(6):
        br = rng.choice(net.n_branch, 3, replace=False)
        tokens = [f"branch:{net.branch_ids[k]}" for k in br]
        lost.append(assert_time_zero_is_outage(grid, tokens, CascadeOptions(mode)))
    assert len(lost) == 6


@pytest.mark.parametrize("mode", [pytest.param(m, marks=pytest.mark.slow)
                                  if m == "redispatch" else m for m in MODES])
def test_lost_load_at_time_zero_equals_outage_on_ieee118(mode: str) -> None:
    plain = load_grid("ieee118")  # unlimited ratings: every mode is the cheap path
    tight = rated(plain, seed=4, low=0.9, high=1.3, floor_mw=30.0)
    for grid in (plain, tight):
        net = grid.network
        rng = np.random.default_rng(5)
        for _ in range(4):
            br = rng.choice(net.n_branch, 3, replace=False)
            tokens = [f"branch:{net.branch_ids[k]}" for k in br] + [
                f"bus:{net.bus_ids[int(rng.integers(net.n_bus))]}"]
            assert_time_zero_is_outage(grid, tokens, CascadeOptions(mode))
    assert not flows_matter(plain.network, plain.network.intact(), "trip")
    assert flows_matter(tight.network, tight.network.intact(), "trip")


# -- the run equals the engine after every event ---------------------------------------------
def random_rated_case(seed: int):
    rng = np.random.default_rng(seed)
    g = random_grid(rng, int(rng.integers(4, 10)), int(rng.integers(1, 4)), 120.0)
    g = rated(g, seed)
    gens = g.generators.copy()
    gens["blackstart"] = rng.random(len(gens)) < 0.5
    gens["p_mw"] = gens["pmax_mw"] * rng.uniform(0.0, 0.6, len(gens))
    g = g.replace(generators=gens)
    net = g.network
    waves = []
    for w in range(int(rng.integers(1, 3))):
        br = rng.choice(net.n_branch, min(net.n_branch, int(rng.integers(1, 4))), replace=False)
        gen = [int(rng.integers(net.n_gen))] if rng.random() < 0.4 else []
        bus = [int(rng.integers(1, net.n_bus))] if rng.random() < 0.3 else []
        waves.append(Wave(float(w * rng.uniform(3, 30)), bus, br, gen))
    return g, Scenario(tuple(waves))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("seed", range(8))
def test_restoration_equals_the_engine_after_every_event(seed: int, mode: str) -> None:
    g, sc = random_rated_case(seed)
    net = g.network
    opts = CascadeOptions(mode, margin=0.05 * (seed % 3))
    assets = prepare(g, RestorationSettings(crews=1 + seed % 2))
    for policy in ("greedy", "critical-first", "largest-load-first", "as-listed"):
        res = simulate(net, assets, sc, policy, cascade=opts)
        events = replay(g, sc, res, opts)
        assert events, "a run has at least its first wave"
        for t, served in events:
            assert curve_at(res.curve, t) == pytest.approx(served, abs=TOL_MW), (policy, t)
        # time 0: outage's shed load counted against the intact grid's served load
        base = settle(net, None, opts).served_total_mw
        assert sc.waves[0].time_h == 0
        first = settle(net, sc.waves[0].apply(net.intact()), opts).served_total_mw
        assert curve_at(res.curve, 0.0, "lost_mw") == pytest.approx(max(0.0, base - first),
                                                                    abs=TOL_MW)


def test_optimal_plans_and_runs_on_the_engine() -> None:
    g, sc = random_rated_case(3)
    net = g.network
    opts = CascadeOptions("trip")
    assets = prepare(g, RestorationSettings(crews=1))
    res = simulate(net, assets, sc, "optimal", cascade=opts)
    for t, served in replay(g, sc, res, opts):
        assert curve_at(res.curve, t) == pytest.approx(served, abs=TOL_MW)


# -- the cheap path ------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(6))
def test_the_cheap_path_is_exact_where_no_branch_can_overload(seed: int) -> None:
    g, _ = random_rated_case(seed)
    net = g.network
    # no branch carries more than the positive injections: the generators' capacity
    # (and schedules), plus negative loads (none here)
    bound = float(np.maximum(np.maximum(net.gen_pmax_mw, net.gen_p_mw), 0).sum())
    branches = g.branches.copy()
    branches["rating_mw"] = bound * 1.001
    safe = g.replace(branches=branches).network
    assert not flows_matter(safe, safe.intact(), "trip")
    branches.iloc[0, branches.columns.get_loc("rating_mw")] = 0.9 * bound
    assert flows_matter(g.replace(branches=branches).network, safe.intact(), "trip")
    rng = np.random.default_rng(seed)
    for _ in range(12):
        st = State(rng.random(net.n_bus) > 0.15, rng.random(net.n_branch) > 0.3,
                   rng.random(net.n_gen) > 0.3)
        live = rng.random(net.n_bus) > 0.5
        for mode in MODES:
            for lv in (None, live):
                cheap = supply(safe, st, mode, live=lv)
                full = settle(safe, st, mode, live=lv)
                assert full.max_loading <= 1.0 and not full.stages
                assert np.array_equal(cheap.energized, full.energized)
                np.testing.assert_allclose(cheap.served_mw, full.served_mw, atol=1e-9)
                assert np.array_equal(cheap.fac_grid, full.facility == "grid")


# -- the operating rule over time --------------------------------------------------------
def parallel_grid(blackstart: bool = True):
    """G (reference, 200 MW) feeds L (100 MW) over two parallel lines rated 60 MW each:
    50 MW each when both are in; one alone would carry 100 MW."""
    buses = [{"id": "G", "ref": True}, {"id": "L", "load_mw": 100.0, "customers": 1000}]
    branches = [{"id": k, "from_bus": "G", "to_bus": "L", "x_pu": 0.1, "rating_mw": 60.0,
                 "length_km": 10.0} for k in ("A", "B")]
    gens = [{"id": "g", "bus": "G", "p_mw": 100.0, "pmax_mw": 200.0,
             "blackstart": blackstart}]
    return make_grid(buses, branches, gens)


def test_a_repair_relieves_the_overload_and_the_tripped_line_comes_back() -> None:
    g = parallel_grid()
    net = g.network
    sc = Scenario.single(branches=[0])  # A fails
    assets = prepare(g, RestorationSettings(crews=1))  # A: 4 h + 0.2 h/km x 10 km = 6 h
    trip = simulate(net, assets, sc, "greedy", cascade="trip")
    none = simulate(net, assets, sc, "greedy", cascade="none")
    # trip: B carries 100 MW > 60 MW and trips, L is dark until A is back at 6 h; then
    # both lines are closed again (B was tripped, not damaged: no job of its own)
    assert trip.schedule["element"].tolist() == ["branch:A"]
    assert trip.curve["lost_mw"].tolist() == [100.0, 0.0]
    assert trip.curve["time_h"].tolist() == [0.0, 6.0]
    assert trip.metrics["ens_mwh"] == pytest.approx(100.0 * 6.0)
    assert trip.metrics["customer_hours"] == pytest.approx(1000 * 6.0)
    # none: B runs at 167 % and nothing is lost
    assert none.metrics["ens_mwh"] == 0.0
    # the state after the repair is the intact grid, flows 50/50
    after = settle(net, None, "trip")
    assert after.shed_total_mw == 0.0 and np.allclose(after.flow_mw, [50.0, 50.0])


# -- black start ----------------------------------------------------------------------------
def black_start_grid(blackstart: bool):
    """M (reference, 200 MW black-start unit, 10 MW) -- ML -- L (10 MW) -- X -- I (20 MW
    load, unit G2 of 50 MW, black start as given)."""
    buses = [{"id": "M", "ref": True, "load_mw": 10.0}, {"id": "L", "load_mw": 10.0},
             {"id": "I", "load_mw": 20.0}]
    branches = [{"id": "ML", "from_bus": "M", "to_bus": "L", "x_pu": 0.1},
                {"id": "X", "from_bus": "L", "to_bus": "I", "x_pu": 0.1}]
    gens = [{"id": "G1", "bus": "M", "p_mw": 20.0, "pmax_mw": 200.0, "blackstart": True},
            {"id": "G2", "bus": "I", "p_mw": 20.0, "pmax_mw": 50.0, "blackstart": blackstart}]
    return make_grid(buses, branches, gens)


@pytest.mark.parametrize("blackstart", [False, True])
def test_a_dark_island_needs_a_black_start_unit_or_a_reconnection(blackstart: bool) -> None:
    g = black_start_grid(blackstart)
    net = g.network
    # X and G2 fail: island {I} has no capacity and goes dark (20 MW lost)
    both = net.intact().fail(branches=["X"], gens=["G2"])
    first = assess(net, both)
    assert first.shed_total_mw == 20.0
    live = first.energized  # M and L
    assert live.tolist() == [True, True, False]
    # G2 repaired, X still out: {I} has 50 MW of capacity but no live bus
    g2_back = net.intact().fail(branches=["X"])
    dark = assess(net, g2_back, live=live)
    assert dark.shed_total_mw == (0.0 if blackstart else 20.0)
    assert bool(dark.energized[2]) is blackstart
    # an outage is assessed with every bus live: the island runs on G2
    assert assess(net, g2_back).shed_total_mw == 0.0
    # X repaired too: {I} is reconnected to the energised island and comes back either way
    assert assess(net, net.intact(), live=dark.energized).shed_total_mw == 0.0

    # the simulation: one crew repairs G2 (50 h) first, then X (4 h, no length: 30 km
    # default, 4 + 0.2 x 30 = 10 h)
    sc = Scenario.single(branches=[1], gens=[1])
    assets = prepare(g, RestorationSettings(crews=1))
    res = simulate(net, assets, sc, PriorityList(("gen:G2", "branch:X")))
    ends = res.schedule.set_index("element")["end_h"]
    assert ends.to_dict() == {"gen:G2": 50.0, "branch:X": 60.0}
    back_h = 50.0 if blackstart else 60.0
    assert res.metrics["ens_mwh"] == pytest.approx(20.0 * back_h)
    assert curve_at(res.curve, 55.0, "lost_mw") == (0.0 if blackstart else 20.0)
    for mode in MODES:  # no branch can overload here: the cheap path equals the engine
        assert not flows_matter(net, net.intact(), mode)
        again = simulate(net, assets, sc, PriorityList(("gen:G2", "branch:X")), cascade=mode)
        assert again.metrics["ens_mwh"] == res.metrics["ens_mwh"]
        assert supply(net, g2_back, mode, live=live).total_mw == dark.served_total_mw


def test_within_a_cascade_a_split_off_island_keeps_running() -> None:
    # I (non-black-start 50 MW unit, 20 MW load) is joined to the energised main grid
    # by a repair; the tie then trips, and I keeps running on its own unit
    buses = [{"id": "M", "ref": True, "load_mw": 0.0}, {"id": "I", "load_mw": 20.0},
             {"id": "J", "load_mw": 100.0}]
    branches = [{"id": "MJ", "from_bus": "M", "to_bus": "J", "x_pu": 0.1},
                {"id": "IJ", "from_bus": "I", "to_bus": "J", "x_pu": 0.1, "rating_mw": 10.0}]
    gens = [{"id": "G1", "bus": "M", "p_mw": 80.0, "pmax_mw": 200.0, "blackstart": True},
            {"id": "G2", "bus": "I", "p_mw": 50.0, "pmax_mw": 50.0}]
    net = make_grid(buses, branches, gens).network
    live = np.array([True, False, True])  # I was dark
    # stage 0: I joins, G2 keeps its 50 MW schedule and sends 30 MW to J over IJ (10 MW
    # rating): IJ trips; I was energised at stage 0, so at stage 1 it runs on G2 alone
    imp = assess(net, net.intact(), cascade=True, live=live)
    assert [s.tolist() for s in imp.stages] == [[1]]
    assert imp.energized.tolist() == [True, True, True]
    assert imp.shed_total_mw == 0.0


# -- the reference bus when generators tie ------------------------------------------------
def tie_grid(order: tuple[str, str]):
    """Main island (reference R, 100 MW) -- T -- island A - B - C: units of 50 MW at A and
    C, both scheduled at 0, and 30 MW of load at B."""
    buses = [{"id": "R", "ref": True}, {"id": "A"}, {"id": "B", "load_mw": 30.0}, {"id": "C"}]
    branches = [{"id": "T", "from_bus": "R", "to_bus": "A", "x_pu": 0.1},
                {"id": "AB", "from_bus": "A", "to_bus": "B", "x_pu": 0.1},
                {"id": "BC", "from_bus": "B", "to_bus": "C", "x_pu": 0.1}]
    units = {"gA": "A", "gC": "C"}
    gens = [{"id": "gR", "bus": "R", "p_mw": 30.0, "pmax_mw": 100.0}] + [
        {"id": u, "bus": units[u], "p_mw": 0.0, "pmax_mw": 50.0} for u in order]
    return make_grid(buses, branches, gens)


@pytest.mark.parametrize(("order", "flows"), [
    (("gA", "gC"), [0.0, 30.0, 0.0]),   # gA listed first: A is the reference, A -> B
    (("gC", "gA"), [0.0, 0.0, -30.0]),  # gC listed first: C is the reference, C -> B
])
def test_equal_generators_the_first_listed_is_the_reference(order, flows) -> None:
    g = tie_grid(order)
    net = g.network
    imp = assess(net, net.intact().fail(branches=["T"]))
    # the island keeps the schedule of 0 MW, its reference takes the 30 MW of load
    ref_unit = order[0]
    assert imp.gen_mw[net.gen_ids.get_loc(ref_unit)] == pytest.approx(30.0)
    assert np.allclose(imp.flow_mw, flows)
    # the sweep's fast path chooses the same reference
    df = sweep(g, contingencies(g, "branch")).set_index("element")
    assert df.loc["branch:T", "shed_mw"] == 0.0
    assert df.loc["branch:T", "method"] != "" and df.loc["branch:T", "islands"] == 2


# -- one cascade option ---------------------------------------------------------------------
@pytest.mark.parametrize("command", ["outage", "contingency", "ensemble", "restore", "attack",
                                     "defend"])
def test_every_command_takes_one_cascade_option(command: str) -> None:
    params = {p.name: p for p in cli.get_command(None, command).params}
    assert params["cascade_mode"].default == "none"
    assert list(params["cascade_mode"].type.choices) == list(MODES)
    assert params["margin"].default == 0.0
    assert params["old_cascade"].hidden
    text = CliRunner().invoke(cli, [command, "--help"]).output
    assert "--cascade-mode [none|trip|redispatch]" in text and "--margin" in text


@pytest.mark.parametrize(("args", "new"), [
    (["outage", "demo_region", "--fail", "bus:KAL-110", "--cascade"], "--cascade-mode trip"),
    (["outage", "demo_region", "--cascade", "--fail", "bus:KAL-110"], "--cascade-mode trip"),
    (["contingency", "ieee14", "--elements", "branch", "--cascade"], "--cascade-mode trip"),
    (["ensemble", "ieee14", "--scenario", "random:k=1", "--n", "2", "--seed", "1",
      "--cascade", "off"], "--cascade-mode none"),
    (["ensemble", "ieee14", "--scenario", "random:k=1", "--n", "2", "--seed", "1",
      "--cascade", "redispatch"], "--cascade-mode redispatch"),
])
def test_old_cascade_spellings_are_refused_naming_the_new_one(args, new) -> None:
    code, out, err = run(*args)
    assert code == 2 and out == ""
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and new in lines[0], err


def test_cascade_options_are_checked() -> None:
    assert CascadeOptions() == CascadeOptions("none", 0.0, 1000)
    assert CascadeOptions.of("trip") == CascadeOptions("trip")
    with pytest.raises(UsageError, match="off is now none"):
        CascadeOptions("off")
    with pytest.raises(UsageError, match="margin"):
        CascadeOptions("trip", margin=-0.1)
    with pytest.raises(UsageError, match="max_stages"):
        CascadeOptions("trip", max_stages=0)
    with pytest.raises(UsageError, match="CascadeOptions or a mode name"):
        CascadeOptions.of(True)


def test_bundled_studies_state_their_cascade_mode() -> None:
    studies = Path(__file__).resolve().parents[1] / "grids" / "studies"
    for path in sorted(studies.glob("*.toml")):
        doc = tomllib.loads(path.read_text())
        assert doc["cascade"]["mode"] == "trip", path.name


@pytest.mark.parametrize("mode", MODES)
def test_an_attacks_energy_not_served_is_restored_under_its_cascade_mode(mode: str) -> None:
    from gridres.adversary.evaluate import ENS_POLICY, SetEvaluator
    from gridres.adversary.targets import targets

    grid = load_grid("demo_region")
    net = grid.network
    tg = targets(grid, "bus")
    k = list(tg.names).index("bus:KAL-110")
    assets = prepare(grid, RestorationSettings())
    ev = SetEvaluator(net, tg, cascade=mode, assets=assets, ens=True)
    got = ev(np.array([[k]]))
    direct = simulate(net, assets, Scenario.single(buses=[net.bus_ids.get_loc("KAL-110")]),
                      ENS_POLICY, seed=0, cascade=mode)
    assert got.ens_mwh[0] == pytest.approx(direct.metrics["ens_mwh"])
    assert curve_at(direct.curve, 0.0, "lost_mw") == pytest.approx(got.shed_mw[0], abs=TOL_MW)
