"""`gridres attack` and `gridres defend`: the JSON contract, the human tables on stdout,
result files, and bad input in one line with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from gridres.adversary import attack, attack_curve, defend
from gridres.cli.common import whole_customers
from test_cli_contract import one_line_error, run, strict_json


def test_attack_json_is_the_documented_contract(capsys):
    code, out, err = run(capsys, "attack", "demo_region", "--k", "2", "--top", "3", "--json")
    assert code == 0, err
    doc = strict_json(out)
    assert doc["method"] == "exhaustive" and doc["evaluated"] == 4095 and doc["sets"] == 4095
    assert doc["optimal"] is True and doc["gap"] == 0.0
    assert [a["rank"] for a in doc["attacks"]] == [1, 2, 3]
    first = doc["attacks"][0]
    assert set(first) >= {"rank", "elements", "shed_mw", "people_out", "facilities_dark",
                          "customers_out", "ens_mwh", "method"}
    assert all(e.startswith("substation:") for e in first["elements"])
    assert doc["bound"] == pytest.approx(first["shed_mw"])
    # the same numbers as the library, customers whole as every document shows them
    lib = attack("demo_region", 2, top=3)
    assert doc["attacks"] == [whole_customers(s.to_dict(), True) for s in lib.attacks]
    assert all(isinstance(a["customers_out"], int) for a in doc["attacks"])


def test_attack_table_goes_to_stdout_and_progress_never_does(capsys):
    code, out, err = run(capsys, "attack", "ieee14", "--k", "2", "--target", "bus")
    assert code == 0, err
    assert "worst 2 bus strikes" in out and "proven worst" in out
    assert "Traceback" not in err


def test_attack_search_reports_the_greedy_attacker_and_a_bound(capsys):
    code, out, err = run(capsys, "attack", "ieee118", "--k", "3", "--target", "bus",
                         "--method", "search", "--budget", "3000", "--json")
    assert code == 0, err
    doc = strict_json(out)
    assert doc["method"] == "search" and doc["bound"] >= doc["attacks"][0]["shed_mw"] - 1e-6
    assert doc["attacks"][0]["shed_mw"] >= doc["greedy"]["shed_mw"]
    assert 0 <= doc["gap"] <= 1


def test_attack_out_writes_the_document_or_the_table(tmp_path: Path, capsys):
    code, out, err = run(capsys, "attack", "ieee14", "--k", "1", "--target", "bus", "--json",
                         "--out", tmp_path / "worst.json")
    assert code == 0, err
    assert json.loads((tmp_path / "worst.json").read_text()) == strict_json(out)
    code, _, err = run(capsys, "attack", "ieee14", "--k", "1", "--target", "bus",
                       "--out", tmp_path / "worst.csv")
    assert code == 0, err
    table = pd.read_csv(tmp_path / "worst.csv")
    assert list(table.columns) == ["rank", "elements", "shed_mw", "people_out",
                                   "facilities_dark", "customers_out", "ens_mwh", "method"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["worst.csv", "worst.json"]


def test_attack_curve_joins_the_document(capsys):
    code, out, err = run(capsys, "attack", "ieee14", "--k", "2", "--target", "bus", "--curve",
                         "--n-random", "20", "--json")
    assert code == 0, err
    curve = strict_json(out)["curve"]
    assert [p["k"] for p in curve] == [1, 2]
    assert all(p["worst"] >= p["random_max"] - 1e-6 for p in curve)


def test_attack_curve_out_folder_writes_the_table_and_the_figure(tmp_path: Path, capsys):
    folder = tmp_path / "curve"
    code, out, err = run(capsys, "attack", "ieee14", "--k", "2", "--target", "bus", "--curve",
                         "--n-random", "30", "--seed", "4", "--out", folder)
    assert code == 0, err
    names = sorted(p.name for p in folder.iterdir())
    assert names == [".gridres.json", "attack.json", "attacks.csv", "curve.csv", "curve.png"]
    table = pd.read_csv(folder / "curve.csv")
    lib = attack_curve("ieee14", 2, target="bus", n_random=30, seed=4).table()
    pd.testing.assert_frame_equal(table, lib, check_dtype=False)
    # the worst k strikes against bad luck: 94.2 MW (bus 3 alone), 142 MW (buses 3 and 4)
    assert table["worst"].tolist() == pytest.approx([94.2, 142.0])
    assert (table["worst"] >= table["random_max"] - 1e-9).all()
    assert (folder / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    recorded = json.loads((folder / ".gridres.json").read_text())["files"]
    assert {"curve.csv", "curve.png", "attack.json", "attacks.csv"} <= set(recorded)
    (folder / "notes.txt").write_text("mine")
    code, out, err = run(capsys, "attack", "ieee14", "--k", "1", "--target", "bus",
                         "--out", folder)
    assert code == 2 and "notes.txt" in one_line_error(err)


def test_defend_json_names_the_protection_and_both_worst_cases(capsys):
    code, out, err = run(capsys, "defend", "ieee14", "--k", "2", "--protect-budget", "1",
                         "--target", "bus", "--json")
    assert code == 0, err
    doc = strict_json(out)
    lib = defend("ieee14", 2, 1, target="bus")
    assert doc["protection"] == list(lib.protection) == ["bus:3"]
    assert doc["exact"] is True and doc["gap"] == 0.0
    assert doc["after"]["shed_mw"] < doc["before"]["shed_mw"]
    assert not set(doc["after"]["elements"]) & set(doc["protection"])
    code, out, err = run(capsys, "defend", "ieee14", "--k", "2", "--protect-budget", "1",
                         "--target", "bus")
    assert code == 0 and "protect: bus:3" in out and "optimal" in out


@pytest.mark.parametrize("args,words", [
    (["attack", "ieee14", "--k", "15", "--target", "bus"], "k=15 is larger than the 14 bus"),
    (["attack", "ieee14", "--k", "2", "--exclude", "bus:99"], "no bus with id '99'"),
    (["attack", "ieee14", "--k", "2", "--protect", "substation:Nowhere"],
     "no substation named 'Nowhere'"),
    (["attack", "ieee14", "--k", "2", "--protect", "bsu:4"], "is not an element"),
    (["attack", "matpower:case14", "--k", "2", "--objective", "people_out"],
     "objective people_out needs facilities with people"),
    (["attack", "ieee14", "--k", "0"], "'--k': 0 is not in the range x>=1"),
    (["attack", "ieee14", "--k", "2", "--objective", "people"], "'--objective'"),
    (["attack", "ieee14", "--k", "2", "--method", "milp", "--cascade-mode", "trip"],
     "method milp needs objective shed_mw"),
    (["defend", "ieee14", "--k", "13", "--protect-budget", "2", "--target", "bus"],
     "leaves fewer than k=13"),
    (["defend", "ieee14", "--k", "2", "--protect-budget", "1", "--candidates", "bus:77"],
     "no bus with id '77'"),
])
def test_bad_input_is_one_line_with_exit_2(args, words, capsys):
    code, out, err = run(capsys, *args)
    assert (code, out) == (2, "")
    assert words in one_line_error(err)


def test_top_level_attack_is_the_function_whatever_was_imported() -> None:
    import gridres
    import gridres.adversary  # importing the package must not shadow the function

    assert gridres.attack is gridres.adversary.attack
    res = gridres.attack("ieee14", 1, target="bus")
    assert res.attacks[0].elements and res.attacks[0].shed_mw > 0


def test_attack_and_defend_take_a_scheduler(capsys, dask_scheduler):
    for args in (["attack", "demo_region", "--k", "2", "--json"],
                 ["defend", "ieee14", "--protect-budget", "1", "--k", "2", "--target", "bus",
                  "--json"]):
        code, out, err = run(capsys, *args, "--workers", "1")
        assert code == 0, err
        local = strict_json(out)
        code, out, err = run(capsys, *args, "--scheduler", dask_scheduler)
        assert code == 0, err
        remote = strict_json(out)
        for doc in (local, remote):
            doc.pop("elapsed_s", None)
        assert remote == local
