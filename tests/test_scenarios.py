"""Scenario generators: one common test over every spec kind (same rng state, same
scenario; inputs untouched; documented shape; picklable), then each kind's own
contract: explicit lists and files, random N-k, strikes, waves and the spec grammar."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pandas as pd
import pytest

from gridres.elements import substations
from gridres.errors import GridError, InputNotFound, UsageError
from gridres.scenarios.base import Scenario, ScenarioGenerator, Wave
from gridres.scenarios.elements import weighted_choice
from gridres.scenarios.explicit import ExplicitScenarios, ensemble_index
from gridres.scenarios.random import RandomOutages
from gridres.scenarios.spec import parse_spec, scenario_from_spec
from gridres.scenarios.waves import StrikeCampaign, WaveSequence
from scenario_grids import DATA, lonlat_grid, write_flood

GRID = lonlat_grid()
NET = GRID.network


@pytest.fixture(scope="module")
def flood_path(tmp_path_factory):
    return write_flood(tmp_path_factory.mktemp("flood") / "flood.gpkg")


# every kind of the grammar; "{flood}" is replaced by the temporary flood layer
SPECS = {
    "explicit-tokens": "explicit:branch:A2-B,substation:Centre",
    "element": "gen:G2",
    "explicit-csv": {"kind": "explicit", "file": str(DATA / "outages.csv")},
    "explicit-json": "file:" + str(DATA / "outages.json"),
    "explicit-inline": {"kind": "explicit",
                        "scenarios": [{"waves": [{"time_h": 3, "buses": ["C"]}]}]},
    "random-branch": "random:k=2",
    "random-mixed": "random:k=3,elements=mixed",
    "random-bus-weighted": "random:k=2,elements=bus,weight=load_mw",
    "random-substation": "random:k=1,elements=substation,weight=customers",
    "random-length": {"kind": "random", "k": 2, "weight": "length_km", "time_h": 1.5},
    "circle-wind": "circle:lon=10,lat=50,radius_km=40,peak=60",
    "circle-flood": ("circle:lon=10.2,lat=50,radius_km=30,falloff=gaussian,hazard=flood,"
                     "peak=1.5,line.segment_km=1"),
    "polygons": {"kind": "polygons", "path": "{flood}", "layer": "depth", "attr": "depth_m",
                 "fragility": {"substation": {"median": 1.0, "beta": 0.5}}},
    "strikes": "strikes:waves=3,every_h=24,k=1,target=substation,weight=load_mw",
    "waves": {"kind": "waves", "waves": [
        {"time_h": 0, "kind": "circle", "lon": 10.3, "lat": 50.0, "radius_km": 20},
        {"time_h": 12, "spec": "random:k=1,elements=gen"},
        {"time_h": 12, "kind": "explicit", "fail": ["bus:E"]},
    ]},
}
STOCHASTIC = ["random-branch", "random-mixed", "random-bus-weighted", "random-substation",
              "random-length", "circle-wind", "circle-flood", "polygons", "strikes", "waves"]


def resolve(spec, flood_path):
    if isinstance(spec, dict) and spec.get("path") == "{flood}":
        return {**spec, "path": str(flood_path)}
    return spec


def same(a: Scenario, b: Scenario) -> bool:
    return a.label == b.label and len(a.waves) == len(b.waves) and all(
        x.time_h == y.time_h and np.array_equal(x.buses, y.buses)
        and np.array_equal(x.branches, y.branches) and np.array_equal(x.gens, y.gens)
        for x, y in zip(a.waves, b.waves, strict=True)
    )


def grid_snapshot(grid):
    return {t: getattr(grid, t).copy(deep=True)
            for t in ("buses", "branches", "generators", "facilities")}


def check_shape(sc: Scenario, net) -> None:
    assert isinstance(sc, Scenario)
    assert isinstance(sc.label, str)
    assert isinstance(sc.waves, tuple) and len(sc.waves) >= 1
    times = [w.time_h for w in sc.waves]
    assert times == sorted(times) and all(np.isfinite(t) and t >= 0 for t in times)
    for w in sc.waves:
        assert isinstance(w, Wave)
        for arr, n in ((w.buses, net.n_bus), (w.branches, net.n_branch), (w.gens, net.n_gen)):
            assert arr.dtype == np.int64
            assert np.array_equal(arr, np.unique(arr))  # sorted, distinct
            assert ((arr >= 0) & (arr < n)).all()


@pytest.mark.parametrize("name", list(SPECS))
def test_common_generator_contract(name, flood_path):
    spec = resolve(SPECS[name], flood_path)
    spec_before = copy.deepcopy(spec)
    before = grid_snapshot(GRID)
    gen = scenario_from_spec(spec, GRID)
    assert isinstance(gen, ScenarioGenerator)
    clone = pickle.loads(pickle.dumps(gen))
    for i in range(6):
        a = gen.sample(NET, np.random.default_rng([11, i]))
        b = gen.sample(NET, np.random.default_rng([11, i]))
        c = clone.sample(NET, np.random.default_rng([11, i]))
        assert same(a, b) and same(a, c)
        check_shape(a, NET)
    # the same generator state gives the same scenario, also mid-stream
    r1, r2 = np.random.default_rng(5), np.random.default_rng(5)
    r1.random(3)
    r2.random(3)
    assert same(gen.sample(NET, r1), gen.sample(NET, r2))
    # inputs are never mutated
    assert spec == spec_before
    for table, frame in before.items():
        pd.testing.assert_frame_equal(getattr(GRID, table), frame)


@pytest.mark.parametrize("name", STOCHASTIC)
def test_stochastic_generators_vary_with_the_seed(name, flood_path):
    gen = scenario_from_spec(resolve(SPECS[name], flood_path), GRID)
    draws = [gen.sample(NET, np.random.default_rng([3, i])) for i in range(40)]
    distinct = {tuple(tuple(map(tuple, (w.buses, w.branches, w.gens))) for w in d.waves)
                for d in draws}
    assert len(distinct) > 1


@pytest.mark.parametrize("name", ["random-branch", "circle-wind", "explicit-csv", "strikes"])
def test_generator_refuses_another_grids_network(name, flood_path):
    from gridres.io import load_grid

    gen = scenario_from_spec(resolve(SPECS[name], flood_path), GRID)
    other = load_grid("ieee14").network
    with pytest.raises(UsageError, match="build one generator per grid"):
        gen.sample(other, np.random.default_rng(0))
    # a recompiled network of the same grid is fine
    gen.sample(GRID.replace().network, np.random.default_rng(0))


# -- explicit ---------------------------------------------------------------------------


def ids_of(sc: Scenario) -> list[dict]:
    return sc.to_ids(NET)


def test_explicit_tokens_expand_substations():
    gen = scenario_from_spec("explicit:branch:A2-B,substation:Centre,gen:G3", GRID)
    (wave,) = gen.sample(NET, np.random.default_rng(0)).to_ids(NET)
    assert wave == {"time_h": 0.0, "buses": ["A1", "A2"], "branches": ["A2-B"], "gens": ["G3"]}


@pytest.mark.parametrize("fname", ["outages.csv", "outages.json"])
def test_outage_files_read_as_written(fname):
    gen = scenario_from_spec(f"file:{DATA / fname}", GRID)
    assert isinstance(gen, ExplicitScenarios) and len(gen) == 2
    s1, s2 = gen.scenarios
    assert s1.label == "storm-1" and s2.label == "storm-2"
    assert ids_of(s1) == [
        {"time_h": 0.0, "buses": ["A1", "A2"], "branches": ["A2-B"], "gens": []},
        {"time_h": 12.0, "buses": ["D"], "branches": [], "gens": []},
    ]
    assert ids_of(s2) == [{"time_h": 0.0, "buses": [], "branches": [], "gens": ["G3"]}]


def test_bare_path_and_base_dir():
    by_path = scenario_from_spec(str(DATA / "outages.csv"), GRID)
    by_dir = scenario_from_spec({"kind": "explicit", "file": "outages.csv"}, GRID, base_dir=DATA)
    assert all(same(a, b) for a, b in zip(by_path.scenarios, by_dir.scenarios, strict=True))


def test_explicit_list_cycles_with_the_ensemble_index():
    gen = scenario_from_spec(f"file:{DATA / 'outages.json'}", GRID)
    labels = [gen.sample(NET, np.random.default_rng([42, i])).label for i in range(5)]
    assert labels == ["storm-1", "storm-2", "storm-1", "storm-2", "storm-1"]
    assert gen.at(NET, 3).label == "storm-2"
    # a generator not seeded as an ensemble member gets the first scenario
    assert gen.sample(NET, np.random.default_rng(9)).label == "storm-1"
    assert ensemble_index(np.random.default_rng([1, 7])) == 7
    assert ensemble_index(np.random.default_rng(7)) is None


def test_scenario_to_ids_round_trips_through_json(tmp_path):
    import json

    sc = scenario_from_spec(f"file:{DATA / 'outages.csv'}", GRID).scenarios[0]
    path = tmp_path / "back.json"
    path.write_text(json.dumps([{"label": sc.label, "waves": sc.to_ids(NET)}]))
    back = scenario_from_spec(f"file:{path}", GRID).scenarios[0]
    assert same(sc, back)


def test_unknown_ids_name_the_record_and_close_matches(tmp_path):
    with pytest.raises(UsageError, match=r"no branch with id 'A2-X'; did you mean A2-C, A2-B\?"):
        scenario_from_spec("branch:A2-X", GRID)
    with pytest.raises(UsageError, match=r"no substation named 'Centr'; did you mean Centre"):
        scenario_from_spec("explicit:substation:Centr", GRID)
    bad = tmp_path / "bad.csv"
    bad.write_text("scenario,wave_time_h,kind,id\ns1,0,branch,A2-B\ns2,6,bus,Q\n")
    with pytest.raises(UsageError, match=r"bad.csv: scenario 's2' \(rows from 3\).*'Q'"):
        scenario_from_spec(f"file:{bad}", GRID)


def test_malformed_outage_files(tmp_path):
    with pytest.raises(InputNotFound, match="no such outage file"):
        scenario_from_spec("file:" + str(tmp_path / "none.csv"), GRID)
    nocol = tmp_path / "nocol.csv"
    nocol.write_text("scenario,kind\ns,branch\n")
    with pytest.raises(GridError, match="missing column 'id'"):
        scenario_from_spec(f"file:{nocol}", GRID)
    neg = tmp_path / "neg.csv"
    neg.write_text("wave_time_h,kind,id\n-3,bus,C\n")
    with pytest.raises(GridError, match="time_h must be a number of hours >= 0"):
        scenario_from_spec(f"file:{neg}", GRID)
    badjson = tmp_path / "bad.json"
    badjson.write_text('[{"waves": [{"time_h": 0, "lines": ["A2-B"]}]}]')
    with pytest.raises(GridError, match="scenario 0 wave 0: unknown key 'lines'"):
        scenario_from_spec(f"file:{badjson}", GRID)
    with pytest.raises(UsageError, match="is not an element"):
        scenario_from_spec("explicit:A2-B", GRID)


def test_csv_without_scenario_or_time_columns_is_one_wave(tmp_path):
    path = tmp_path / "plain.csv"
    path.write_text("kind,id\nbranch,C-D\nbus,E\n")
    (sc,) = scenario_from_spec(f"file:{path}", GRID).scenarios
    assert ids_of(sc) == [{"time_h": 0.0, "buses": ["E"], "branches": ["C-D"], "gens": []}]


# -- random N-k -------------------------------------------------------------------------


def test_random_draws_k_distinct_in_service_elements():
    grid = lonlat_grid()
    br = grid.branches.copy()
    br.loc["C-D", "in_service"] = False
    grid = grid.replace(branches=br)
    gen = RandomOutages(grid, k=5)  # 5 of the 5 in-service branches
    for i in range(20):
        (w,) = gen.sample(grid.network, np.random.default_rng([1, i])).waves
        assert sorted(grid.network.branch_ids[w.branches]) == ["A2-B", "A2-C", "B-E", "D-E",
                                                                "T-A"]
    with pytest.raises(UsageError, match=r"The 'k' parameter of random must be an int in "
                                         r"\[1, 5\] \(the branch candidates\). Got 6 instead."):
        RandomOutages(grid, k=6)


def test_random_weighted_frequencies_match_the_weights():
    # k=1 over branches weighted by length: P(branch) = length / total; T-A (0 km) never
    gen = RandomOutages(GRID, k=1, weight="length_km")
    n = 6000
    counts = np.zeros(NET.n_branch)
    for i in range(n):
        counts[gen.sample(NET, np.random.default_rng([2024, i])).waves[0].branches] += 1
    length = GRID.branches["length_km"].to_numpy()
    p = length / length.sum()
    assert counts[p == 0].sum() == 0
    z = (counts - n * p) / np.sqrt(n * p * (1 - p) + 1e-12)
    assert np.abs(z[p > 0]).max() < 4.5


def test_weighted_choice_is_successive_sampling():
    # weights 1, 2, 3, 4 with k=2: P(first pick = i) = w_i / 10 and
    # P(i then j) = w_i/10 * w_j/(10 - w_i)
    w = np.array([1.0, 2.0, 3.0, 4.0])
    rng = np.random.default_rng(77)
    n = 20000
    pairs = np.array([weighted_choice(rng, w, 2) for _ in range(n)])
    assert (pairs[:, 0] != pairs[:, 1]).all()
    exp = w[3] / 10 * w[2] / 6  # (3, 2): 0.2
    got = np.mean((pairs[:, 0] == 3) & (pairs[:, 1] == 2))
    assert abs(got - exp) < 4.5 * np.sqrt(exp * (1 - exp) / n)
    first = np.bincount(pairs[:, 0], minlength=4) / n
    assert np.abs(first - w / 10).max() < 4.5 * np.sqrt(0.25 / n)


def test_random_weight_errors():
    with pytest.raises(UsageError, match=r"The 'weight' parameter of random must be a numeric "
                                         r"column of the branches table. Got 'depth' instead"):
        RandomOutages(GRID, k=1, weight="depth")
    br = GRID.branches.copy()
    br.loc["C-D", "length_km"] = -4.0
    with pytest.raises(UsageError, match="but branch 'C-D' has -4.0; fill the column with "
                                         "numbers >= 0"):
        RandomOutages(GRID.replace(branches=br), k=1, weight="length_km")
    with pytest.raises(UsageError, match="The 'elements' parameter of random must be one of"):
        RandomOutages(GRID, k=1, elements="lines")
    with pytest.raises(UsageError, match="The 'k' parameter of random must be an int >= 1"):
        scenario_from_spec("random:k=1.5", GRID)


def test_random_by_critical_load_hits_only_substations_feeding_facilities():
    # only bus C feeds a facility (the hospital, 5 MW)
    gen = RandomOutages(GRID, k=1, elements="substation", weight="critical_mw")
    for i in range(10):
        (w,) = gen.sample(NET, np.random.default_rng([6, i])).waves
        assert NET.bus_ids[w.buses].tolist() == ["C"]
    with pytest.raises(UsageError, match=r"must be an int in \[1, 1\] \(the substation "
                                         r"candidates with critical_mw > 0\)"):
        RandomOutages(GRID, k=2, elements="substation", weight="critical_mw")


def test_blank_weights_are_never_drawn(caplog):
    br = GRID.branches.copy()
    br.loc[["C-D", "D-E"], "length_km"] = np.nan
    grid = GRID.replace(branches=br)
    with caplog.at_level("WARNING", logger="gridres.scenarios.elements"):
        gen = RandomOutages(grid, k=3, weight="length_km")  # A2-B, A2-C, B-E remain
    assert "random: 2 of 6 branches have no length_km; they get weight 0" in caplog.text
    for i in range(20):
        (w,) = gen.sample(grid.network, np.random.default_rng([2, i])).waves
        assert sorted(grid.network.branch_ids[w.branches]) == ["A2-B", "A2-C", "B-E"]


def test_random_substations_fail_all_their_buses():
    gen = RandomOutages(GRID, k=1, elements="substation", weight="load_mw")
    subs = substations(GRID)
    seen = set()
    for i in range(200):
        (w,) = gen.sample(NET, np.random.default_rng([5, i])).waves
        names = set(subs.names[subs.of_bus[w.buses]])
        assert len(names) == 1
        assert (subs.of_bus == subs.names.get_loc(names.pop())).sum() == len(w.buses)
        seen.add(tuple(NET.bus_ids[w.buses]))
    # Centre carries no load: never drawn; North (40 MW), C, D, E are
    assert ("A1", "A2") not in seen and ("B",) in seen


# -- strikes and waves ----------------------------------------------------------------


def test_strikes_hit_distinct_targets_at_the_given_times():
    camp = StrikeCampaign(GRID, waves=4, every_h=24.0, k=1, target="substation",
                          weight="load_mw", start_h=6.0)
    for i in range(30):
        sc = camp.sample(NET, np.random.default_rng([8, i]))
        assert [w.time_h for w in sc.waves] == [6.0, 30.0, 54.0, 78.0]
        hit = [tuple(NET.bus_ids[w.buses]) for w in sc.waves]
        assert len(set(hit)) == 4  # the four loaded substations, each once
        assert ("A1", "A2") not in hit


def test_strikes_focus_picks_the_most_loaded():
    camp = StrikeCampaign(GRID, waves=2, every_h=12.0, k=1, target="bus", weight="load_mw",
                          focus=40.0)
    for i in range(20):
        sc = camp.sample(NET, np.random.default_rng([9, i]))
        assert [NET.bus_ids[w.buses].tolist() for w in sc.waves] == [["C"], ["B"]]


def test_strikes_parameter_errors():
    with pytest.raises(UsageError, match=r"The 'k' parameter of strikes must be at most 1 "
                                         r"\(4 substation targets with load_mw > 0 for 3 "
                                         r"distinct strikes\). Got 2 instead."):
        StrikeCampaign(GRID, waves=3, k=2, target="substation", weight="load_mw")
    StrikeCampaign(GRID, waves=3, k=2, target="substation", weight="load_mw", distinct=False)
    with pytest.raises(UsageError, match="The 'target' parameter of strikes must be one of"):
        scenario_from_spec("strikes:target=tower", GRID)


def test_wave_sequence_shifts_and_merges_waves():
    inner = scenario_from_spec(f"file:{DATA / 'outages.csv'}", GRID)  # storm-1: 0 h and 12 h
    seq = WaveSequence([(6.0, inner), (18.0, scenario_from_spec("gen:G2", GRID))])
    sc = seq.sample(NET, np.random.default_rng([0, 0]))
    assert ids_of(sc) == [
        {"time_h": 6.0, "buses": ["A1", "A2"], "branches": ["A2-B"], "gens": []},
        {"time_h": 18.0, "buses": ["D"], "branches": [], "gens": ["G2"]},
    ]


def test_waves_spec_errors_name_the_wave():
    with pytest.raises(UsageError, match=r"waves\[1\]: unknown key 'radius'"):
        scenario_from_spec({"kind": "waves", "waves": [
            {"time_h": 0, "spec": "random:k=1"},
            {"time_h": 6, "kind": "circle", "lon": 10, "lat": 50, "radius": 5}]}, GRID)
    with pytest.raises(UsageError, match="a waves scenario needs waves"):
        scenario_from_spec("waves", GRID)


# -- spec grammar ---------------------------------------------------------------------


def test_parse_spec_grammar():
    assert parse_spec("random:k=3,elements=branch,weight=length_km") == {
        "kind": "random", "k": 3, "elements": "branch", "weight": "length_km"}
    assert parse_spec("circle:lon=-3.5,lat=5e1,radius_km=20,line.beta=0.3,distinct=true") == {
        "kind": "circle", "lon": -3.5, "lat": 50.0, "radius_km": 20, "distinct": True,
        "fragility": {"line": {"beta": 0.3}}}
    assert parse_spec("substation:North") == {"kind": "explicit", "fail": ["substation:North"]}
    assert parse_spec("file:a b.csv") == {"kind": "explicit", "file": "a b.csv"}
    assert parse_spec('{"kind": "random", "k": 2}') == {"kind": "random", "k": 2}
    table = {"kind": "circle", "line.median": 40, "fragility": {"line": {"beta": 0.2}}}
    assert parse_spec(table)["fragility"] == {"line": {"median": 40, "beta": 0.2}}
    assert table == {"kind": "circle", "line.median": 40, "fragility": {"line": {"beta": 0.2}}}


@pytest.mark.parametrize(("spec", "message"), [
    ("randm:k=2", "unknown scenario kind 'randm' (did you mean 'random'?)"),
    ("random:k=2,weigth=load_mw", "unknown key 'weigth' for a random scenario (did you mean "
                                  "'weight'?)"),
    ("random:k", "'k' is not KEY=VALUE"),
    ("random", "a random scenario needs k"),
    ("", "empty scenario spec"),
    ("{bad json", "scenario spec is not valid JSON"),
    ({"kind": "explicit", "fail": ["bus:B"], "file": "x.csv"},
     "an explicit scenario needs exactly one of fail, file, scenarios"),
    ({"kind": "random", "k": 1, "time_h": "soon"},
     "The 'time_h' parameter of random must be a float. Got 'soon' instead."),
])
def test_spec_errors(spec, message):
    with pytest.raises(UsageError) as err:
        scenario_from_spec(spec, GRID)
    assert message in str(err.value)
