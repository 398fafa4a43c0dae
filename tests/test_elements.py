"""Element tokens, substations and the outage state they name (gridres.elements)."""

from __future__ import annotations

import numpy as np
import pytest

from builders import make_grid
from gridres.elements import (
    as_state,
    element_token,
    expand_tokens,
    outage_state,
    parse_tokens,
    split_token,
)
from gridres.errors import UsageError
from gridres.impact import assess
from gridres.model import UnknownIdError


@pytest.fixture(scope="module")
def grid():
    # substation "North" holds a1 and a2; a3 is out of service but in "North" too
    return make_grid(
        [{"id": "a1", "substation": "North", "ref": True},
         {"id": "a2", "substation": "North", "load_mw": 10.0},
         {"id": "a3", "substation": "North", "in_service": False},
         {"id": "b", "load_mw": 20.0}],
        [{"id": "L1", "from_bus": "a1", "to_bus": "a2", "x_pu": 0.1},
         {"id": "L2", "from_bus": "a2", "to_bus": "b", "x_pu": 0.1}],
        [{"id": "G", "bus": "a1", "p_mw": 30.0, "pmax_mw": 50.0}],
    )


def test_tokens_normalise_kinds_and_spaces():
    assert split_token(" Generator : G ") == ("gen", "G")
    assert element_token("branch:L1") == "branch:L1"
    with pytest.raises(UsageError, match="is not an element: write KIND:ID"):
        element_token("substation:North")  # one element only
    with pytest.raises(UsageError, match=r"--fail: 'L1' is not an element"):
        split_token("L1", "--fail")


def test_substation_is_its_buses_in_service_or_all(grid):
    assert expand_tokens(["substation:North", "gen:G"], grid) == ("bus:a1", "bus:a2", "gen:G")
    assert parse_tokens(["substation:North"], grid)["buses"].tolist() == [0, 1, 2]


def test_unknown_ids_name_close_matches(grid):
    with pytest.raises(UnknownIdError, match=r"no branch with id 'L3'; did you mean L2, L1\?"
                       ) as info:
        parse_tokens(["branch:L3"], grid, where="f.csv: row 2")
    assert str(info.value).startswith("f.csv: row 2: ")
    assert info.value.noun == "branch" and info.value.close == ("L2", "L1")
    with pytest.raises(UnknownIdError, match="no substation named 'Nort'; did you mean North"):
        outage_state(grid, ["substation:Nort"])


def test_as_state_takes_tokens_ids_or_a_state(grid):
    net = grid.network
    by_tokens = as_state(grid, ["branch:L2", "bus:b"])
    by_ids = net.intact().fail(buses=["b"], branches=["L2"])
    assert np.array_equal(by_tokens.bus, by_ids.bus)
    assert np.array_equal(by_tokens.branch, by_ids.branch)
    assert as_state(grid, by_ids) is by_ids
    assert as_state(net, None).bus.tolist() == [True, True, False, True]
    # 20 MW at b cut off by L2: served 10 of 30 MW
    assert assess(net, as_state(net, "branch:L2")).served_total_mw == pytest.approx(10.0)
    with pytest.raises(UsageError, match="pass the Grid"):
        as_state(net, ["substation:North"])


# -- names for readers -------------------------------------------------------------------
def test_element_labels_name_what_a_reader_knows():
    """A reader sees names, not ids: lines by voltage and the substations at their ends
    (circuits told apart), transformers by their substation and voltages, generators by
    their plant, buses by their name; ids only where the grid has no names."""
    from gridres.elements import element_labels
    from gridres.io import load_grid

    g = load_grid("demo_region")
    assert element_labels(g, ["branch:L-OST-380-VBS-380", "branch:L-KAL-110-KALT2-110-1",
                              "branch:L-KAL-110-KALT2-110-2", "branch:T-VBS-380-VBS-220-1",
                              "gen:G-NORD-1", "bus:RAIN-110", "substation:Vellburg 6"]) == [
        "380 kV line Ostrach-Ost – Vellburg Sued",
        "110 kV line Kaltenfeld-Heide – Kaltenfeld 2 (circuit 1)",
        "110 kV line Kaltenfeld-Heide – Kaltenfeld 2 (circuit 2)",
        "transformer at Vellburg Sued (380/220 kV, unit 1)",
        "generator Nordhoehe wind farm", "Rainkirchen 110 kV", "Vellburg 6"]
    bare = make_grid([{"id": "1", "ref": True}, {"id": "2"}],
                     [{"id": "7", "from_bus": "1", "to_bus": "2", "x_pu": 0.1}],
                     [{"id": "g1", "bus": "1", "pmax_mw": 10.0}])
    assert element_labels(bare, ["branch:7", "bus:2", "gen:g1", "branch:7+bus:1", "bus:9"]) \
        == ["line 7 (bus 1 – bus 2)", "bus 2", "generator g1",
            "line 7 (bus 1 – bus 2) and bus 1", "bus:9"]
