"""Interventions, costs and common random numbers of the redundancy planner.

Hand-worked values on small grids; every intervention kind under one contract (pure,
deterministic, documented shape); scenarios of every design coupled to the base case's
(same draws, hardened assets failing in a subset, new elements drawn on their own).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import shapely

from builders import make_grid
from gridres.elements import substations
from gridres.errors import UsageError
from gridres.impact import assess
from gridres.model import UnknownIdError
from gridres.redundancy import DEFAULT_COSTS, Design, cost_table, make_intervention
from gridres.redundancy.crn import CommonScenarios, scenario_key
from gridres.redundancy.grid_edits import (
    add_generator,
    add_line,
    add_microgrid,
    line_defaults,
    set_backup,
)
from gridres.redundancy.hardening import hardening_targets
from gridres.redundancy.reuse import design_change
from gridres.redundancy.settings_edits import add_crews, add_spares, faster_repair
from gridres.restoration import RestorationSettings
from gridres.restoration.simulate import repair_multipliers
from gridres.scenarios.hazard import haversine_km
from gridres.scenarios.spec import scenario_from_spec
from gridres.scenarios.waves import WaveSequence

# Ring A-B-C-D with a hospital bus H fed from C only::
#
#     A (10.0, 50.0) ---- B (10.1, 50.0)
#     |                   |
#     D (10.0, 49.95) --- C (10.1, 49.95) --- H (10.15, 49.93)
#
# A and A2 form substation "Alpha" (transformer T-A between them, a generator at A).
POINTS = {"A": (10.0, 50.0), "A2": (10.0, 50.0), "B": (10.1, 50.0), "C": (10.1, 49.95),
          "D": (10.0, 49.95), "H": (10.15, 49.93)}


def ring_grid(backup_mw: float = 0.0) -> object:
    kv = {"A": 380.0}
    load = {"B": 30.0, "C": 30.0, "D": 30.0, "H": 20.0}
    buses = [{"id": b, "base_kv": kv.get(b, 110.0), "load_mw": load.get(b, 0.0),
              "customers": int(100 * load.get(b, 0.0)), "ref": b == "A",
              "substation": "Alpha" if b in ("A", "A2") else "",
              "geometry": shapely.Point(*xy)} for b, xy in POINTS.items()]
    lines = [("T-A", "A", "A2", "transformer", math.nan, 0.02, 400.0),
             ("A2-B", "A2", "B", "line", 8.0, 0.04, 200.0),
             ("B-C", "B", "C", "line", 6.0, 0.03, 100.0),
             ("C-D", "C", "D", "line", 8.0, 0.05, 200.0),
             ("D-A2", "D", "A2", "line", 6.0, 0.02, 300.0),
             ("C-H", "C", "H", "line", 5.0, 0.01, 100.0)]
    branches = [{"id": i, "from_bus": f, "to_bus": t, "kind": k, "length_km": length,
                 "x_pu": x, "r_pu": x / 4, "rating_mw": r,
                 "geometry": shapely.LineString([POINTS[f], POINTS[t]])}
                for i, f, t, k, length, x, r in lines]
    gens = [{"id": "G", "bus": "A", "p_mw": 110.0, "pmax_mw": 300.0}]
    facs = [{"id": "HOSP", "bus": "H", "kind": "hospital", "demand_mw": 3.0,
             "backup_mw": backup_mw, "backup_hours": 12.0, "people": 500}]
    return make_grid(buses, branches, gens, facs, name="ring", crs="EPSG:4326")


def snapshot(grid) -> dict[str, pd.DataFrame]:
    return {t: getattr(grid, t).drop(columns=["geometry"], errors="ignore").copy()
            for t in ("buses", "branches", "generators", "facilities")}


# -- costs ----------------------------------------------------------------------------------
def test_cost_table_defaults_and_overrides() -> None:
    t = cost_table({"line_per_km": 0.8, "backup": 0.4})
    assert t["line_per_km"] == 0.8 and t["backup"] == 0.4
    assert t["line_bays"] == DEFAULT_COSTS["line_bays"]
    with pytest.raises(UsageError, match="did you mean 'line_per_km'"):
        cost_table({"line_per_kms": 1.0})
    with pytest.raises(UsageError, match="finite number >= 0"):
        cost_table({"crew_years": -1})


def test_prices_follow_the_table() -> None:
    d = Design(ring_grid(), RestorationSettings())
    line = make_intervention({"kind": "line", "from_bus": "H", "to_bus": "D",
                              "length_km": 12.0}, d)
    assert line.cost == pytest.approx(12.0 * 1.0 + 1.0)   # per km x length + two bays
    backup = make_intervention({"kind": "backup", "facility": "HOSP"}, d)
    # 3 MW added (0.5 per MW) and 3 MW x 72 h of fuel (0.005 per MWh)
    assert backup.cost == pytest.approx(3 * 0.5 + 0.005 * 3 * 72)
    crews = make_intervention({"kind": "crews", "count": 2}, d)
    assert crews.cost == pytest.approx(2 * 0.6 * 10)
    repair = make_intervention({"kind": "repair", "equipment": "line", "factor": 0.25}, d)
    assert repair.cost == pytest.approx(2 * 0.5)          # two halvings
    line_km = make_intervention({"kind": "harden", "branch": "C-H"}, d)
    assert line_km.cost == pytest.approx(0.15 * 5.0)
    immune = make_intervention({"kind": "harden", "substation": "Alpha", "immune": True}, d)
    assert immune.cost == pytest.approx(2.0 * 2.0) and math.isinf(immune.params["factor"])
    flat = make_intervention({"kind": "backup", "facility": "HOSP"}, d, {"backup": 0.3})
    assert flat.cost == 0.3
    own = make_intervention({"kind": "backup", "facility": "HOSP", "cost": 9.0}, d,
                            {"backup": 0.3})
    assert own.cost == 9.0


@pytest.mark.parametrize("spec, match", [
    ({"kind": "bridge"}, "unknown intervention kind 'bridge'"),
    ({"kind": "line", "from_bus": "H", "to_bus": "D", "lenght_km": 3}, "did you mean 'length_km'"),
    ({"kind": "line", "from_bus": "H", "to_bus": "A"}, "one voltage"),
    ({"kind": "backup", "facility": "NOPE"}, "no facility with id 'NOPE'"),
    ({"kind": "harden", "substation": "Alfa"}, "did you mean Alpha"),
    ({"kind": "harden", "branch": "C-H", "factor": 0.8}, "factor must be a number > 1"),
    ({"kind": "spares", "equipment": "line"}, "need no spare"),
    ({"kind": "repair", "equipment": "line", "factor": 1.5}, r"factor must be a number in \(0, 1\)"),
    ({"kind": "crews", "count": 0}, "count must be an integer >= 1"),
])
def test_bad_candidates_say_what_to_fix(spec, match) -> None:
    d = Design(ring_grid(), RestorationSettings())
    with pytest.raises(UsageError, match=match):
        make_intervention(spec, d)


# -- grid interventions ---------------------------------------------------------------------
def test_new_line_takes_comparable_lines_and_the_distance() -> None:
    g = ring_grid()
    d = line_defaults(g, "H", "D")
    straight = float(haversine_km(10.15, 49.93, 10.0, 49.95))
    assert d["length_km"] == pytest.approx(1.2 * straight)
    # 110 kV lines per km: 0.005, 0.005, 0.00625, 0.00333, 0.002 -> median 0.005
    assert d["x_pu"] == pytest.approx(0.005 * d["length_km"])
    assert d["r_pu"] == pytest.approx(0.00125 * d["length_km"])
    assert d["rating_mw"] == 200.0          # median of 200, 100, 200, 300, 100
    g2 = add_line(g, "H", "D")
    new = g2.branches.iloc[-1]
    assert g2.branches.index[-1] == "new-H-D" and new["kind"] == "line"
    assert new["x_pu"] == pytest.approx(d["x_pu"])
    assert list(new["geometry"].coords) == [POINTS["H"], POINTS["D"]]
    # existing elements keep their positions; the input grid is untouched
    assert g2.branches.index[:-1].equals(g.branches.index)
    assert len(g.branches) == 6
    # given length: reactance scales with it; given values win
    g3 = add_line(g, "H", "D", length_km=20.0, rating_mw=150.0)
    assert g3.branches.iloc[-1]["x_pu"] == pytest.approx(0.005 * 20.0)
    assert g3.branches.iloc[-1]["rating_mw"] == 150.0
    # a second line between the same buses gets its own id
    assert add_line(g2, "H", "D").branches.index[-1] == "new-H-D-2"


def test_backup_generator_and_microgrid() -> None:
    g = ring_grid(backup_mw=1.0)
    f = set_backup(g, "HOSP", None, 48.0).facilities.loc["HOSP"]
    assert (f["backup_mw"], f["backup_hours"]) == (3.0, 48.0)
    f = set_backup(g, "HOSP", 0.5, 6.0).facilities.loc["HOSP"]   # never lowers
    assert (f["backup_mw"], f["backup_hours"]) == (1.0, 12.0)
    g2 = add_generator(g, "H", 25.0)
    row = g2.generators.loc["backup-H"]
    assert (row["p_mw"], row["pmax_mw"], bool(row["blackstart"])) == (0.0, 25.0, True)
    # intact: the same served load and flows; H cut off: it serves its 20 MW itself
    a, b = assess(g.network), assess(g2.network)
    assert b.served_total_mw == a.served_total_mw
    np.testing.assert_allclose(b.flow_mw, a.flow_mw, atol=1e-9)
    cut = g2.network.intact().fail(branches=[5])
    assert assess(g2.network, cut).served_mw[5] == pytest.approx(20.0)
    assert assess(g.network, g.network.intact().fail(branches=[5])).served_mw[5] == 0.0
    g3 = add_microgrid(g, ["HOSP"], hours=72.0)
    assert g3.generators.iloc[-1]["bus"] == "H" and g3.generators.iloc[-1]["pmax_mw"] == 3.0
    assert g3.facilities.loc["HOSP", "backup_mw"] == 3.0
    assert g3.facilities.loc["HOSP", "backup_hours"] == 72.0


def test_restoration_interventions() -> None:
    s = RestorationSettings(crews=2, spare_stock={"transformer": 1})
    assert add_crews(s, 2).crews == 4
    assert add_spares(s, "transformer", 3).spare_stock["transformer"] == 4
    fast = faster_repair(s, "line", 0.5)
    assert (fast.line_fixed_h, fast.line_h_per_km) == (2.0, 0.1)
    assert faster_repair(s, "bus", 0.25).bus_h == 6.0
    assert s.crews == 2 and s.line_fixed_h == 4.0   # unchanged


def test_hardening_targets() -> None:
    g = ring_grid()
    assert hardening_targets(g, bus="A2") == [("substation", "Alpha")]
    whole = hardening_targets(g, substation="Alpha", whole=True)
    assert whole == [("substation", "Alpha"), ("branch", "T-A"), ("gen", "G")]
    assert hardening_targets(g, branch="C-H") == [("branch", "C-H")]
    with pytest.raises(UsageError, match="exactly one target"):
        hardening_targets(g, branch="C-H", bus="C")
    with pytest.raises(UnknownIdError):
        hardening_targets(g, generator="G9")


ALL_KINDS = [
    {"kind": "line", "from_bus": "H", "to_bus": "D"},
    {"kind": "backup", "facility": "HOSP"},
    {"kind": "generator", "bus": "H", "pmax_mw": 10.0},
    {"kind": "storage", "bus": "H", "mw": 5.0, "hours": 4.0},
    {"kind": "microgrid", "facility": "HOSP"},
    {"kind": "harden", "branch": "C-H", "factor": 2.0},
    {"kind": "protect", "substation": "Alpha"},
    {"kind": "spares", "equipment": "transformer"},
    {"kind": "crews"},
    {"kind": "repair", "equipment": "line"},
    {"kind": "fuel_truck"},
    {"kind": "mobile_generator", "mw": 5.0, "depot": "A"},
    {"kind": "reservoir", "facility": "HOSP", "hours": 6.0},
]


@pytest.mark.parametrize("spec", ALL_KINDS, ids=lambda s: s["kind"])
def test_every_intervention_is_pure_and_deterministic(spec) -> None:
    g = ring_grid()
    d = Design(g, RestorationSettings())
    before = snapshot(g)
    iv = make_intervention(spec, d)
    d1, d2 = iv.apply(d), iv.apply(d)
    for t, df in before.items():       # the base is not mutated
        pd.testing.assert_frame_equal(getattr(g, t).drop(columns=["geometry"],
                                                         errors="ignore"), df)
    assert d.settings == RestorationSettings() and dict(d.hardening) == {}
    for t in before:                   # same input, same design
        pd.testing.assert_frame_equal(getattr(d1.grid, t).drop(columns=["geometry"],
                                                               errors="ignore"),
                                      getattr(d2.grid, t).drop(columns=["geometry"],
                                                               errors="ignore"))
    assert d1.settings == d2.settings and dict(d1.hardening) == dict(d2.hardening)
    assert d1.applied == (iv.id,)
    # documented shape: JSON-ready record with id, kind, cost >= 0
    rec = iv.to_dict()
    assert rec["id"] == iv.id and rec["kind"] == spec["kind"] and rec["cost"] >= 0
    # existing elements keep their positions (new ones are appended)
    for t in ("buses", "branches", "generators", "facilities"):
        assert getattr(d1.grid, t).index[:len(before[t])].equals(before[t].index)


def test_design_change_names_what_differs() -> None:
    d = Design(ring_grid(), RestorationSettings())
    ch = design_change(d, make_intervention(ALL_KINDS[0], d).apply(d))
    assert ch.new_branches == ((5, 4),) and not ch.other_grid   # H, D
    ch = design_change(d, make_intervention(ALL_KINDS[1], d).apply(d))
    assert ch.facilities == (0,) and not ch.new_branches
    ch = design_change(d, make_intervention({"kind": "spares"}, d).apply(d))
    assert ch.spares_up == ("transformer",) and not ch.other_settings
    ch = design_change(d, make_intervention({"kind": "repair", "equipment": "line"}, d).apply(d))
    assert ch.repair_kinds == ("line",)
    ch = design_change(d, Design(d.grid, d.settings.replace(speed_kmh=80.0)))
    assert ch.other_settings
    heavier = d.grid.buses.copy()
    heavier.loc["B", "load_mw"] = 50.0
    assert design_change(d, Design(d.grid.replace(buses=heavier), d.settings)).other_grid


@pytest.mark.parametrize("spec", ALL_KINDS, ids=lambda s: s["kind"])
def test_what_an_intervention_says_it_changes_is_what_changes(spec) -> None:
    from gridres.redundancy.reuse import intervention_change

    d = make_intervention({"kind": "line", "from_bus": "H", "to_bus": "B"},
                          Design(ring_grid(), RestorationSettings()))
    base = d.apply(Design(ring_grid(), RestorationSettings()))   # a design with a new line
    iv = make_intervention(spec, base)
    assert intervention_change(iv, base) == design_change(base, iv.apply(base))


# -- common random numbers ------------------------------------------------------------------
def lonlat_ring():
    return ring_grid()


@pytest.mark.parametrize("spec", [
    "random:k=2",
    "circle:lon=10.1,lat=49.95,radius_km=15,peak=60",
    {"kind": "waves", "waves": [
        {"time_h": 0, "kind": "circle", "lon": 10.0, "lat": 50.0, "radius_km": 10, "peak": 55},
        {"time_h": 6, "spec": "random:k=1"}]},
    "strikes:waves=2,every_h=12,k=1,target=bus",
], ids=["random", "circle", "waves", "strikes"])
def test_base_scenarios_are_the_ensembles(spec) -> None:
    g = lonlat_ring()
    gen = scenario_from_spec(spec, g)
    crn = CommonScenarios(g, gen, seed=5, sigma=0.4)
    net = g.network
    for i in range(25):
        rng = np.random.default_rng([5, i])
        ref = gen.sample(net, rng)
        mult = repair_multipliers(ref, 0.4, rng)
        d = crn.draw(i)
        assert scenario_key(d.scenario) == scenario_key(ref)
        np.testing.assert_array_equal(d.multipliers, mult)
        if isinstance(gen, WaveSequence):   # the parts add up to the scenario
            from gridres.scenarios.waves import merge_waves
            merged = [w for part in d.parts for w in part]
            assert scenario_key(type(ref)(merge_waves(merged))) == scenario_key(ref)
        # a design that changes nothing sees the very same scenario
        ctx = crn.context(("same", i), g, {})
        assert crn.scenario(ctx, i)[0] is d.scenario


def _failed(sc, net):
    subs = set()
    branches = set()
    for w in sc.waves:
        branches |= set(w.branches.tolist())
        subs |= set(w.buses.tolist())
    return subs, branches


def test_hardening_fails_a_subset_with_the_lower_probability() -> None:
    g = lonlat_ring()
    gen = scenario_from_spec("circle:lon=10.1,lat=49.95,radius_km=20,peak=50,"
                             "line.median=45,substation.median=48", g)
    crn = CommonScenarios(g, gen, seed=9)
    net = g.network
    ch = int(net.branch_ids.get_loc("C-H"))
    subs = substations(g)
    c_sub = int(subs.names.get_loc("C"))
    c_bus = int(net.bus_ids.get_loc("C"))
    mild = crn.context("mild", g, {("branch", "C-H"): 1.2, ("substation", "C"): 1.2})
    strong = crn.context("strong", g, {("branch", "C-H"): 1.6, ("substation", "C"): 1.6})
    immune = crn.context("immune", g, {("branch", "C-H"): math.inf})
    n = 3000
    hits = {"base": 0, "mild": 0, "strong": 0, "bus_mild": 0}
    for i in range(n):
        base = crn.draw(i).scenario
        b_bus, b_br = _failed(base, net)
        m_bus, m_br = _failed(crn.scenario(mild, i)[0], net)
        s_bus, s_br = _failed(crn.scenario(strong, i)[0], net)
        i_bus, i_br = _failed(crn.scenario(immune, i)[0], net)
        # monotone coupling: strong within mild within base; everything else unchanged
        assert s_br <= m_br <= b_br and s_bus <= m_bus <= b_bus
        assert m_br - {ch} == b_br - {ch} and m_bus - {c_bus} == b_bus - {c_bus}
        assert ch not in i_br and i_bus == b_bus
        hits["base"] += ch in b_br
        hits["mild"] += ch in m_br
        hits["strong"] += ch in s_br
        hits["bus_mild"] += c_bus in m_bus
    # hardening by f multiplies the asset's fragility median by f: its lowered probability
    # is the one of the same storm with the medians times f
    def storm(f: float):
        return scenario_from_spec("circle:lon=10.1,lat=49.95,radius_km=20,peak=50,"
                                  f"line.median={45 * f},substation.median={48 * f}", g)

    mild_storm = storm(1.2)
    p = {"base": gen.p_branch[ch], "mild": mild_storm.p_branch[ch],
         "strong": storm(1.6).p_branch[ch], "bus_mild": mild_storm.p_substation[c_sub]}
    assert p["strong"] < p["mild"] < p["base"]
    for name, prob in p.items():        # the rates are the lowered probabilities
        sd = math.sqrt(prob * (1 - prob) / n)
        assert abs(hits[name] / n - prob) < 4 * sd + 1e-9, (name, hits[name] / n, prob)


def test_hardening_without_fragility_means_the_asset_withstands() -> None:
    g = lonlat_ring()
    gen = scenario_from_spec("random:k=2", g)
    crn = CommonScenarios(g, gen, seed=2)
    ctx = crn.context("h", g, {("branch", "C-H"): 1.5})
    net = g.network
    ch = int(net.branch_ids.get_loc("C-H"))
    seen = 0
    for i in range(60):
        base, hard = crn.draw(i).scenario, crn.scenario(ctx, i)[0]
        b = set(base.waves[0].branches.tolist())
        seen += ch in b
        assert set(hard.waves[0].branches.tolist()) == b - {ch}
    assert seen > 0


def test_new_line_is_exposed_to_the_hazard_with_its_own_draw() -> None:
    g = lonlat_ring()
    gen = scenario_from_spec("circle:lon=10.08,lat=49.94,radius_km=15,peak=50,"
                             "line.median=45", g)
    crn = CommonScenarios(g, gen, seed=4, sigma=0.3)
    d = Design(g, RestorationSettings())
    g2 = make_intervention({"kind": "line", "from_bus": "H", "to_bus": "D"}, d).apply(d).grid
    ctx = crn.context("line", g2, {})
    from gridres.scenarios.hazard import HazardScenarios

    p_new = HazardScenarios(g2, gen.footprint, gen.fragility).p_branch[-1]
    assert 0.05 < p_new < 0.95
    n, hits = 2000, 0
    new = len(g.branches)
    for i in range(n):
        base = crn.draw(i)
        sc, mult = crn.scenario(ctx, i)
        b = set().union(*[set(w.branches.tolist()) for w in base.scenario.waves])
        s = set().union(*[set(w.branches.tolist()) for w in sc.waves])
        assert s - {new} == b                       # every other draw unchanged
        hits += new in s
        if new in s and base.scenario.waves:        # base elements keep their repair factors
            listed = [(e, p) for w in base.scenario.waves
                      for e, arr in ((0, w.buses), (1, w.branches), (2, w.gens)) for p in arr]
            ours = [(e, p) for w in sc.waves
                    for e, arr in ((0, w.buses), (1, w.branches), (2, w.gens)) for p in arr]
            old = dict(zip(listed, base.multipliers, strict=True))
            for key, m in zip(ours, mult, strict=True):
                if key in old:
                    assert m == old[key]
    sd = math.sqrt(p_new * (1 - p_new) / n)
    assert abs(hits / n - p_new) < 4 * sd


def test_service_interventions_by_hand() -> None:
    # HOSP: 3 MW, backup 3 MW for 12 h, 500 people; health care, no storage
    d = Design(ring_grid(backup_mw=3.0), RestorationSettings(fuel_trucks=1))
    tank = make_intervention({"kind": "tank", "facility": "HOSP", "hours": 24}, d)
    # 24 h more at 3 MW = 72 MWh of fuel storage at 0.005 MEUR/MWh
    assert tank.cost == pytest.approx(0.36)
    assert tank.apply(d).grid.facilities.loc["HOSP", "backup_hours"] == 36.0
    truck = make_intervention({"kind": "fuel_truck", "count": 2}, d)
    assert truck.cost == pytest.approx(1.0) and truck.apply(d).settings.fuel_trucks == 3
    gen = make_intervention({"kind": "mobile_generator", "mw": 4.0, "depot": "A"}, d)
    assert gen.cost == pytest.approx(1.4)
    assert gen.apply(d).settings.mobile_generators == ((4.0, "A"),)
    res = make_intervention({"kind": "reservoir", "facility": "HOSP", "hours": 10}, d)
    # 500 people (no towns: its own people) x 10 h x 3e-6 MEUR
    assert res.cost == pytest.approx(0.015)
    assert res.apply(d).grid.facilities.loc["HOSP", "storage_h"] == 10.0
    with pytest.raises(UsageError, match="no backup generator"):
        make_intervention({"kind": "tank", "facility": "HOSP"}, Design(ring_grid(),
                                                                       RestorationSettings()))
    with pytest.raises(UnknownIdError):
        make_intervention({"kind": "mobile_generator", "mw": 1.0, "depot": "nowhere"}, d)
