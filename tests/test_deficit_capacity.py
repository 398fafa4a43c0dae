"""Capacity over time: from the engine's islands, derated, a system figure, tie imports;
and the hourly dispatch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from builders import failed, make_grid
from gridres.deficit.capacity import available_capacity, read_capacity_file
from gridres.deficit.profiles import FlatProfile, hourly_times
from gridres.errors import GridError, UsageError

TIMES = hourly_times("2025-01-06", 3)


def two_areas():
    """Area west (buses a, b: wind 40 MW at a, load 30 at b) and east (c, d: gas 100 MW
    at c, load 50 at d), joined by line bc; an external supply x (coal 200 MW, no load)
    tied to c by line xc."""
    return make_grid(
        [{"id": "a"}, {"id": "b", "load_mw": 30.0}, {"id": "c", "ref": True},
         {"id": "d", "load_mw": 50.0}, {"id": "x"}],
        [{"id": "ab", "from_bus": "a", "to_bus": "b", "x_pu": 0.1},
         {"id": "bc", "from_bus": "b", "to_bus": "c", "x_pu": 0.1},
         {"id": "cd", "from_bus": "c", "to_bus": "d", "x_pu": 0.1},
         {"id": "xc", "from_bus": "x", "to_bus": "c", "x_pu": 0.1}],
        [{"id": "wind", "bus": "a", "p_mw": 10.0, "pmax_mw": 40.0, "kind": "wind"},
         {"id": "gas", "bus": "c", "p_mw": 40.0, "pmax_mw": 100.0},
         {"id": "coal", "bus": "x", "p_mw": 30.0, "pmax_mw": 200.0}],
    )


def demand(grid):
    return FlatProfile().demand(grid, TIMES)


def test_capacity_of_the_intact_grid_is_its_generation() -> None:
    g = two_areas()
    cap = available_capacity(g, demand(g))
    assert cap.island_mw.tolist() == [[340.0]] * 3
    assert cap.source == "the grid's generation"


def test_an_outage_splits_capacity_by_island() -> None:
    g = two_areas()
    cap = available_capacity(g, demand(g), state=failed(g, branches=["bc"]))
    # island 0: a, b with the wind farm; island 1: c, d, x with gas and coal
    assert cap.island.tolist() == [0, 0, 1, 1, 1]
    assert cap.island_mw[0].tolist() == [40.0, 300.0]
    assert cap.source == "generation alive after the outage"


def test_derating_by_kind_and_in_total() -> None:
    g = two_areas()
    assert available_capacity(g, demand(g), derate={"wind": 0.75}).total_mw[0] == 310.0
    assert available_capacity(g, demand(g), derate=0.5).total_mw[0] == 170.0
    with pytest.raises(UsageError, match="no generator of kind 'nuclear'"):
        available_capacity(g, demand(g), derate={"nuclear": 0.5})
    with pytest.raises(UsageError, match="fraction from 0 to 1"):
        available_capacity(g, demand(g), derate=1.5)


def test_a_system_figure_scales_every_generator_alike_and_is_capped() -> None:
    g = two_areas()
    # share 0.5 x peak demand 80 MW = 40 MW: every unit at 40 / 340 of its capacity
    cap = available_capacity(g, demand(g), share=0.5)
    assert cap.total_mw.tolist() == pytest.approx([40.0] * 3)
    assert cap.gen_mw[0] == pytest.approx(np.array([40.0, 100.0, 200.0]) * 40 / 340)
    big = available_capacity(g, demand(g), mw=1000.0)
    assert big.total_mw[0] == 340.0
    assert "capacity capped at the 340.0 MW" in big.notes[0]
    per_hour = available_capacity(g, demand(g), per_hour_mw=[10.0, 20.0, 30.0])
    assert per_hour.total_mw.tolist() == pytest.approx([10.0, 20.0, 30.0])
    with pytest.raises(UsageError, match="give one capacity figure"):
        available_capacity(g, demand(g), share=0.5, mw=10.0)


def test_imports_through_tie_branches_count_up_to_their_limit() -> None:
    g = two_areas()
    # cutting tie xc leaves bus x with the coal unit and no load: the external supply
    cap = available_capacity(g, demand(g), ties=["xc"], import_limit_mw=25.0)
    assert cap.outside.tolist() == [False, False, False, False, True]
    assert cap.total_mw[0] == pytest.approx(40.0 + 100.0 + 25.0)
    with pytest.raises(UsageError, match="give both"):
        available_capacity(g, demand(g), ties=["xc"])
    with pytest.raises(UsageError, match="no part of the grid with generation and"):
        available_capacity(g, demand(g), ties=["cd"], import_limit_mw=10.0)


@pytest.mark.parametrize("need", [[20.0], [60.0], [80.0], [340.0]])
def test_dispatch_serves_the_need_within_each_units_capacity(need) -> None:
    g = two_areas()
    cap = available_capacity(g, demand(g))
    p = cap.dispatch(g, 0, np.array(need))
    assert p.sum() == pytest.approx(need[0])
    assert (p >= -1e-12).all() and (p <= cap.gen_mw[0] + 1e-9).all()
    sched = np.array([10.0, 40.0, 30.0])
    if need[0] <= 80.0:  # below the schedule (80 MW): every unit scaled down alike
        assert p == pytest.approx(sched * need[0] / 80.0)
    else:  # above: the rest shared by headroom (30, 60, 170 MW)
        room = np.array([30.0, 60.0, 170.0])
        assert p == pytest.approx(sched + room * (need[0] - 80.0) / 260.0)


def test_capacity_file(tmp_path: Path) -> None:
    path = tmp_path / "cap.csv"
    path.write_text("hour,capacity_mw\n0,10\n1,20\n2,30\n")
    assert read_capacity_file(path, TIMES).tolist() == [10.0, 20.0, 30.0]
    path.write_text("time,capacity_mw\n2025-01-06T00:00,10\n2025-01-06T02:00,30\n")
    with pytest.raises(GridError, match=r"no capacity_mw for 2025-01-06 01:00:00 \(hour 1\)"):
        read_capacity_file(path, TIMES)
    path.write_text("hour,capacity_mw\n0,10\n1,-5\n2,30\n")
    with pytest.raises(GridError, match="row 3: capacity_mw '-5' is negative"):
        read_capacity_file(path, TIMES)
