"""`gridres schedule`: the JSON contract, the files of --out, the human table, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from test_cli_contract import one_line_error, run, strict_json


def test_json_document_and_files_of_two_days_on_the_demo_region(tmp_path: Path,
                                                             capsys) -> None:
    out = tmp_path / "rotation"
    code, stdout, err = run(capsys, "schedule", "demo_region", "--capacity-share", "0.75",
                            "--profile", "typical", "--hours", "48", "--groups", "8",
                            "--block-h", "4", "--json", "--out", out)
    assert code == 0, err
    doc = strict_json(stdout)
    assert [g["group"] for g in doc["groups"]] == [*map(str, range(1, 9)), "P1"]
    assert len(doc["hours"]) == 48 and doc["method"] == "milp"
    assert doc["hours_off"] == {g["group"]: g["hours_off"] for g in doc["groups"]}
    for h in doc["hours"]:
        assert h["served_mw"] <= h["capacity_mw"] + 1e-6
    files = ["groups.gpkg", "schedule.csv", "schedule.html", "schedule.json",
             "schedule.png", "schedule.txt", "schedule_grid.csv"]
    assert sorted(p.name for p in out.iterdir()) == [".gridres.json", *files]
    from gridres.io.folder import OutputFolder

    with OutputFolder(out) as folder:  # every file recorded as gridres's own
        assert sorted(folder.recorded) == files
    assert json.loads((out / "schedule.json").read_text()) == doc
    table = pd.read_csv(out / "schedule.csv", dtype={"group": str})
    assert len(table) == 48 * 9
    assert table.groupby("group")["off"].sum().to_dict() == doc["hours_off"]
    grid = pd.read_csv(out / "schedule_grid.csv", index_col=0, dtype=str, keep_default_na=False)
    assert grid.shape == (9, 48) and (grid == "off").sum(axis=1).to_dict() == doc["hours_off"]
    html = (out / "schedule.html").read_text()
    assert html.count("<table>") == 2 and "Monday 06 January 2025" in html
    assert (out / "schedule.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    import geopandas as gpd

    layer = gpd.read_file(out / "groups.gpkg", layer="groups")
    assert sorted(layer["group"]) == sorted(g["group"] for g in doc["groups"])
    assert layer.geometry.notna().all() and not layer.geometry.is_empty.any()
    points = gpd.read_file(out / "groups.gpkg", layer="group_buses")
    assert set(points["group"]) == set(layer["group"])


def test_human_table_goes_to_stdout(capsys) -> None:
    code, out, err = run(capsys, "schedule", "ieee14", "--capacity-share", "0.8", "--hours",
                         "8", "--groups", "4", "--block-h", "2")
    assert code == 0, err
    assert "hours off per rotation group: 2 to 4" in out
    assert "group   00 01 02 03 04 05 06 07   off h" in out
    assert "error" not in err


def test_capacity_above_demand_says_nothing_to_schedule_and_exits_0(capsys) -> None:
    code, out, err = run(capsys, "schedule", "ieee14", "--hours", "4", "--json")
    assert code == 0
    doc = strict_json(out)
    assert doc["nothing_to_schedule"] and doc["unserved_mwh"] == 0.0
    assert all(h["off"] == [] for h in doc["hours"])
    assert "capacity covers demand in every hour: nothing to switch off" in err


@pytest.mark.parametrize("args, code, words", [
    (["--groups", "12"], 2, "12 groups but only 11 load buses can rotate; give --groups 11 "
                            "or fewer"),
    (["--capacity-share", "0.5", "--capacity-mw", "100"], 2,
     "give one of --capacity-share, --capacity-mw, not several"),
    (["--profile", "wintr"], 2, "did you mean winter"),
    (["--fail", "gen:99"], 2, "no generator with id '99'"),
    (["--start", "soon"], 2, "start 'soon' is not a date and time"),
    (["--block-h", "0"], 2, "'--block-h': 0 is not in the range 1<=x<=24"),
    (["--derate", "wind=lots"], 2, "--derate 'wind=lots'"),
    (["--capacity-file", "{tmp}/none.csv"], 66, "none.csv: no such capacity file"),
])
def test_bad_input_is_one_line(args, code: int, words: str, tmp_path: Path,
                               capsys) -> None:
    args = [a.format(tmp=tmp_path) for a in args]
    got, out, err = run(capsys, "schedule", "ieee14", "--hours", "4", *args)
    assert (got, out) == (code, "")
    assert words in one_line_error(err)


@pytest.mark.parametrize("text, words", [
    ("hour,class,factor\n0,residential,1\n1,residential,1\n3,residential,1\n",
     "no factor for class 'residential' at hour 2; give a row for every hour"),
    ("hour,class,factor\n0,residential,1\n1,residential,-1\n2,residential,1\n"
     "3,residential,1\n", "row 3: factor '-1' is negative"),
])
def test_bad_profile_files_are_65_in_one_line(text: str, words: str, tmp_path: Path,
                                              capsys) -> None:
    path = tmp_path / "profile.csv"
    path.write_text(text)
    out_dir = tmp_path / "out"
    code, out, err = run(capsys, "schedule", "ieee14", "--hours", "4", "--capacity-share",
                         "0.8", "--profile", path, "--out", out_dir)
    assert (code, out) == (65, "")
    assert words in one_line_error(err)
    assert not out_dir.exists() or not any(out_dir.iterdir())  # no result file


def test_a_groups_file_and_failed_generators(tmp_path: Path, capsys) -> None:
    from gridres.io import load_grid

    grid = load_grid("ieee14")
    loads = grid.buses.index[grid.buses["load_mw"] > 0]
    path = tmp_path / "groups.csv"
    path.write_text("bus,group\n" + "\n".join(f"{b},{'north' if i < 5 else 'south'}"
                                             for i, b in enumerate(loads)) + "\n")
    code, out, err = run(capsys, "schedule", "ieee14", "--fail", "gen:2", "--fail", "gen:3",
                         "--groups-file", path, "--hours", "6", "--block-h", "3", "--json")
    assert code == 0, err
    doc = strict_json(out)
    assert [g["group"] for g in doc["groups"]] == ["north", "south"]
    assert doc["capacity"] == "generation alive after the outage"


@pytest.mark.parametrize("args, named", [
    (["restore", "demo_region", "--fail", "bus:KAL-110", "--groups", "3"], "--groups"),
    (["ensemble", "demo_region", "--scenario", "random:k=1", "--n", "2", "--seed", "1",
      "--restore", "--block-h", "2", "--protect", "buses"], "--block-h, --protect"),
])
def test_group_options_without_rotation_are_refused(args, named: str, capsys) -> None:
    # they would be ignored without --rotation: say so instead
    code, out, err = run(capsys, *args)
    assert (code, out) == (2, "")
    assert named in one_line_error(err) and "add --rotation" in err


def test_restore_prints_the_sharing_table_on_stdout(capsys) -> None:
    code, out, err = run(capsys, "restore", "demo_region", "--fail", "gen:G-HAL-1",
                         "--fail", "gen:G-TIE-1", "--fail", "gen:G-TIE-2", "--profile",
                         "typical", "--start", "2025-01-15T16:00", "--rotation")
    assert code == 0 and "sharing the deficit" in out and "sharing the deficit" not in err
