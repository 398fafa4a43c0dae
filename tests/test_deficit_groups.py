"""Groups of similar load, compact, islands respected, protected feeders; groups files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from builders import make_grid
from gridres.deficit.groups import bus_positions_km, form_groups, read_groups
from gridres.deficit.profiles import FlatProfile, hourly_times
from gridres.errors import GridError, UsageError
from gridres.io import load_grid
from gridres.model import UnknownIdError
from gridres.topology import islands

ONE_HOUR = hourly_times("2025-01-06", 1)


def static_mw(grid, groups) -> np.ndarray:
    return groups.group_mw(FlatProfile().demand(grid, ONE_HOUR))[0]


def test_demo_region_groups_cover_every_load_once_and_are_balanced() -> None:
    grid = load_grid("demo_region")
    gr = form_groups(grid, 12)
    load = static_mw(grid, gr)
    net = grid.network
    assert load.sum() == pytest.approx(np.maximum(net.load_mw, 0).sum())
    rot = load[~gr.protected]
    assert len(rot) == 12 and gr.ids[:12] == tuple(str(i) for i in range(1, 13))
    # the largest bus carries 110 MW of a 174 MW target: within a third of it
    assert rot.max() / rot.min() < 1.35
    # every load bus is in one rotation group, or split between one and a protected one
    rot_parts = ~gr.protected[gr.part_group]
    assert len(np.unique(gr.part_bus[rot_parts])) == int((net.load_mw > 0).sum())


def test_demo_region_groups_are_compact_on_the_map() -> None:
    grid = load_grid("demo_region")
    gr = form_groups(grid, 12)
    xy = bus_positions_km(grid)
    spans = []
    for j in np.flatnonzero(~gr.protected):
        p = xy[gr.buses(j)]
        spans.append(np.linalg.norm(p - p.mean(axis=0), axis=1).max())
    # the region is about 150 x 130 km; a group lies within 60 km of its centre
    assert max(spans) < 60.0


def test_protected_feeders_are_split_from_their_buses() -> None:
    grid = load_grid("demo_region")
    net = grid.network
    feeders = form_groups(grid, 6)
    prot = np.flatnonzero(feeders.protected)
    assert [feeders.ids[j] for j in prot] == ["P1"]
    # P1 holds the hospitals', water works', ... demand (kind 'other' is not protected)
    kinds = grid.facilities["kind"].to_numpy()
    keep = kinds != "other"
    expect = np.minimum(np.bincount(net.fac_bus[keep], weights=net.fac_demand_mw[keep],
                                    minlength=net.n_bus), net.load_mw).sum()
    assert static_mw(grid, feeders)[prot].sum() == pytest.approx(expect)
    buses = form_groups(grid, 6, protect="buses")
    whole = static_mw(grid, buses)[buses.protected].sum()
    assert whole > 5 * expect  # whole substations protected: much more load


def test_groups_never_span_islands() -> None:
    grid = make_grid(
        [{"id": f"b{i}", "load_mw": 10.0 + i, "ref": i == 0} for i in range(6)],
        [{"id": "l01", "from_bus": "b0", "to_bus": "b1", "x_pu": 0.1},
         {"id": "l12", "from_bus": "b1", "to_bus": "b2", "x_pu": 0.1},
         {"id": "l23", "from_bus": "b2", "to_bus": "b3", "x_pu": 0.1},
         {"id": "l34", "from_bus": "b3", "to_bus": "b4", "x_pu": 0.1},
         {"id": "l45", "from_bus": "b4", "to_bus": "b5", "x_pu": 0.1}],
        [{"id": "g0", "bus": "b0", "pmax_mw": 50.0}, {"id": "g5", "bus": "b5", "pmax_mw": 50.0}],
    )
    net = grid.network
    isl = islands(net, net.intact().fail(branches=[2]))  # b0-b2 | b3-b5
    gr = form_groups(grid, 4, island=isl)
    for j in range(len(gr)):
        assert len(np.unique(isl[gr.buses(j)])) == 1
    # 63 MW in two islands of 33 and 42 MW: 4 groups shared 2 and 2
    assert sorted(np.bincount(gr.island).tolist()) == [2, 2]
    # without coordinates the groups follow the graph: contiguous chains here
    for j in range(len(gr)):
        b = gr.buses(j)
        assert b.max() - b.min() == len(b) - 1
    with pytest.raises(UsageError, match="islands with load"):
        form_groups(grid, 1, island=isl)


def test_more_groups_than_load_buses_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="14 groups but only 11 load buses can rotate; give "
                                         "--groups 11 or fewer"):
        form_groups(load_grid("ieee14"), 14)


def test_dark_islands_are_in_no_group() -> None:
    grid = load_grid("ieee14")
    net = grid.network
    state = net.intact().fail(branches=np.flatnonzero(
        (net.f == grid.lookup("buses", ["14"])[0]) | (net.t == grid.lookup("buses", ["14"])[0])))
    isl = islands(net, state)
    lit = np.bincount(isl[net.gen_bus], minlength=isl.max() + 1) > 0
    gr = form_groups(grid, 3, island=isl, energized=lit)
    assert net.bus_ids[gr.dark_buses].tolist() == ["14"]
    assert 13 not in gr.part_bus


def test_a_groups_file(tmp_path: Path) -> None:
    grid = load_grid("ieee14")
    load_buses = grid.buses.index[grid.buses["load_mw"] > 0]
    rows = [f"{b},{'Q1' if i % 2 else 'Q2'},{'false'}" for i, b in enumerate(load_buses)]
    rows[0] = f"{load_buses[0]},H,true"
    path = tmp_path / "g.csv"
    path.write_text("bus,group,protected\n" + "\n".join(rows) + "\n")
    gr = read_groups(path, grid)
    assert set(gr.ids) == {"H", "Q1", "Q2"}
    assert gr.protected[gr.ids.index("H")] and not gr.protected[gr.ids.index("Q1")]
    assert static_mw(grid, gr).sum() == pytest.approx(grid.buses["load_mw"].sum())


@pytest.mark.parametrize("rows, error, words", [
    ("bus,group\n2,A\n", GridError, "load bus '3' has no group"),
    ("bus,group\nx9,A\n", UnknownIdError, "no bus with id 'x9'"),
    ("bus,group\n2,A\n2,B\n", GridError, "row 3: bus '2' is listed twice"),
    ("bus,queue\n2,A\n", GridError, "a groups file has columns bus, group"),
    ("bus,group,protected\n2,A,maybe\n", GridError, "protected 'maybe' is not true or false"),
])
def test_bad_groups_files(tmp_path: Path, rows: str, error, words: str) -> None:
    path = tmp_path / "g.csv"
    path.write_text(rows)
    with pytest.raises(error) as exc:
        read_groups(path, load_grid("ieee14"))
    assert words in str(exc.value)
