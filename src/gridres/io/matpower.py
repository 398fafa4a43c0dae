"""MATPOWER cases (``.m`` files and the cases the ``matpower`` package ships).

The numeric matrices are read in bulk by numpy's C parser (:func:`parse_matrices`)
with MATLAB's rules: a row ends at a newline or ``;``, values are separated by blanks or
commas, ``%`` starts a comment, ``...`` continues a row, and literal fractions such as
``50/3`` are evaluated (other expressions, such as ``135/sqrt(3)``, are NaN). The unit
statements that distribution cases put after their matrices (kW to MW, ohms to per
unit, ``if FLAG`` blocks) are applied as MATPOWER's ``loadcase`` runs them; any other
statement that changes the matrices is refused with its line number. Parsed grids are
cached (:mod:`gridres.io.cache`).

Ids: bus id = MATPOWER bus number, branch id and generator id = 1-based row number in
``mpc.branch`` / ``mpc.gen``, all strings. Out-of-service rows stay in the grid, out of
service (``in_service`` False); buses of type 4 (isolated) are out of service.
"""

from __future__ import annotations

import io
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gridres.errors import GridError, InputNotFound
from gridres.io.cache import cached_read
from gridres.model import Grid

__all__ = [
    "CaseMatrices",
    "read_matpower",
    "parse_matrices",
    "grid_from_matrices",
]


#: What a matrix without rows (``mpc.gen = [ ];``) leaves the case without.
_NO_ROWS = {"bus": "buses", "gen": "generators", "branch": "branches"}

#: The line the parser needs (MATPOWER case format version 2).
_FUNCTION = re.compile(r"function\s*mpc\s*=")
_FRACTION = re.compile(r"(?<![\w.])(-?\d+(?:\.\d*)?)\s*/\s*(\d+(?:\.\d*)?)(?![\w.])")
_COMMENT = re.compile(r"%[^\n]*")
_CONTINUATION = re.compile(r"\.\.\.[^\n]*\n")
_NAME_LINE = re.compile(r"^[ \t]*'([^'\n]*)'[ \t]*;?[ \t]*$", re.M)
_NON_BLANK_LINE = re.compile(r"^[ \t]*\S", re.M)

#: Matrix columns the reader takes (0-based positions in MATPOWER's ``idx_bus``,
#: ``idx_gen`` and ``idx_brch``).
BUS_I, BUS_TYPE, PD, QD, GS, BUS_AREA, BASE_KV, ZONE = 0, 1, 2, 3, 4, 6, 9, 10
GEN_BUS, PG, GEN_STATUS, PMAX, PMIN = 0, 1, 7, 8, 9
F_BUS, T_BUS, BR_R, BR_X, RATE_A, TAP, SHIFT, BR_STATUS = 0, 1, 2, 3, 5, 8, 9, 10


@dataclass(frozen=True, eq=False)
class CaseMatrices:
    """A MATPOWER case's numbers as parsed, with the file's unit statements applied.

    Attributes
    ----------
    base_mva : float
    bus, gen, branch : ndarray of float, shape (rows, columns)
        The ``mpc.bus``, ``mpc.gen`` and ``mpc.branch`` matrices; an entry MATLAB would
        have to evaluate (``135/sqrt(3)``) is NaN.
    bus_names : list of str or None
        ``mpc.bus_name`` where the file has it.
    """

    base_mva: float
    bus: np.ndarray
    gen: np.ndarray
    branch: np.ndarray
    bus_names: list[str] | None = None


def _fractions(text: str) -> str:
    """Evaluate literal fractions such as ``50/3`` as MATLAB does (``1/0`` is ``Inf``,
    ``0/0`` is ``NaN``: the checks of :mod:`gridres.validate` then refuse them)."""
    return _FRACTION.sub(lambda m: repr(_divide(float(m.group(1)), float(m.group(2)))), text)


def _divide(a: float, b: float) -> float:
    if b:
        return a / b
    return math.copysign(math.inf, a) if a else math.nan


def _number(token: str) -> float:
    try:
        return float(token)
    except ValueError:  # an expression such as 135/sqrt(3): not evaluated
        return float("nan")


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _assignment(text: str, target: str) -> re.Match | None:
    """The first line that starts with ``target`` (a regular expression such as
    ``mpc\\.bus\\s*=\\s*\\[``), blanks before it allowed. Searching for the newline
    first lets the regex engine skip through the file in C."""
    first = re.match(rf"[ \t]*{target}", text)
    return first or re.search(rf"\n[ \t]*{target}", text)


def _matrix(path: Path, text: str, attr: str) -> np.ndarray | None:
    """Parse ``mpc.<attr> = [ ... ];`` in bulk: rows end at a newline or ``;``, values
    are separated by blanks or commas, ``%`` starts a comment, ``...`` continues a row,
    literal fractions are evaluated. None where the file has no such matrix."""
    start = _assignment(text, rf"mpc\.{attr}\s*=\s*\[")
    if start is None:
        return None
    end = text.find("]", start.end())
    if end < 0:
        raise GridError(f"{path}: line {_line_of(text, start.end())}: mpc.{attr} has no "
                        "closing ']'")
    body = text[start.end():end]
    if "%" in body:
        body = _COMMENT.sub("", body)
    if "..." in body:
        body = _CONTINUATION.sub(" ", body)
    if "/" in body:
        body = _fractions(body)
    body = body.replace(";", "\n").replace(",", " ")
    if not body.strip():
        values = np.zeros((0, 0))
    else:
        try:
            values = np.loadtxt(io.StringIO(body), dtype=float, comments=None, ndmin=2)
        except ValueError:
            values = _matrix_by_token(path, text, attr, body, start.end())
    if values.size == 0:
        raise GridError(
            f"{path}: mpc.{attr} has no rows: the case has no {_NO_ROWS[attr]}; a MATPOWER "
            "case needs at least one bus, one generator (at the reference bus) and one "
            "branch")
    return values


def _matrix_by_token(path: Path, text: str, attr: str, body: str, at: int) -> np.ndarray:
    """The slow path of :func:`_matrix`: rows with expressions (NaN) or of unequal
    length (refused, naming the row)."""
    rows = [[_number(t) for t in line.split()] for line in body.split("\n") if line.strip()]
    width = len(rows[0]) if rows else 0
    for k, row in enumerate(rows):
        if len(row) != width:
            raise GridError(
                f"{path}: mpc.{attr} (line {_line_of(text, at)}) row {k + 1} has {len(row)} "
                f"values where row 1 has {width}; give every row the same columns"
            )
    return np.array(rows, dtype=float).reshape(len(rows), width)


def _bus_names(text: str) -> list[str] | None:
    """``mpc.bus_name = { 'name'; ... };`` as a list, one name per line."""
    start = _assignment(text, r"mpc\.bus_name\s*=\s*\{")
    if start is None:
        return None
    end = text.find("};", start.end())
    if end < 0:
        return None
    data = text[start.end():end].removeprefix("\n").removesuffix("\n")
    data = data.strip("'").strip('"')
    if "%" not in data:  # the usual layout, one 'name'; per line: read in C
        names = _NAME_LINE.findall(data)
        if len(names) == len(_NON_BLANK_LINE.findall(data)):
            return names
    names = []
    for line in data.splitlines():
        line = line.split("%")[0].replace(";", "")
        if line.strip():
            names.append(line.strip().strip("'"))
    return names


def _base_mva(path: Path, text: str) -> float:
    m = _assignment(text, r"mpc\.baseMVA\s*=\s*([^;\n]*)")
    tokens = _fractions(m.group(1).split("%")[0]).split() if m else []
    value = _number(tokens[0]) if tokens else float("nan")
    if not np.isfinite(value):
        raise GridError(f"{path}: mpc.baseMVA is missing or not a number; a case sets it, "
                        "e.g. 'mpc.baseMVA = 100;'")
    return value


def parse_matrices(path: str | os.PathLike, text: str | None = None) -> CaseMatrices:
    """Parse a MATPOWER case file into its matrices (no Grid is built).

    Parameters
    ----------
    path : path-like
        The ``.m`` file (named in messages).
    text : str, optional
        Its contents, if already read.

    Returns
    -------
    CaseMatrices

    Raises
    ------
    GridError
        If the file is not a MATPOWER case, a matrix is malformed, or the file changes
        its matrices after defining them in a way the reader cannot evaluate.

    Examples
    --------
    >>> from gridres.io.cases import matpower_case_path
    >>> m = parse_matrices(matpower_case_path("case9"))
    >>> m.bus.shape, m.base_mva
    ((9, 13), 100.0)

    Notes
    -----
    ``O(size of the file)``: each matrix is read by numpy's C parser in one call; only a
    matrix holding expressions falls back to reading token by token.
    """
    path = Path(path)
    if text is None:
        text = path.read_text(errors="replace")
    if not _FUNCTION.search(text):
        raise GridError(
            f"{path}: not a readable MATPOWER case: no 'function mpc = NAME' line; a case "
            "file starts with it and sets mpc.baseMVA, mpc.bus, mpc.gen and mpc.branch"
        )
    bus, gen, branch = (_matrix(path, text, attr) for attr in ("bus", "gen", "branch"))
    if bus is None or branch is None or gen is None:
        raise GridError(f"{path}: a MATPOWER case needs mpc.bus, mpc.gen and mpc.branch")
    base_mva = _base_mva(path, text)
    names = _bus_names(text)
    if names is not None and len(names) != len(bus):
        raise GridError(f"{path}: mpc.bus_name has {len(names)} names for {len(bus)} buses; "
                        "give one name per bus row or drop mpc.bus_name")
    ops = _unit_statements(path, text)
    if ops:
        bus, branch = _apply_unit_statements(ops, bus, branch, base_mva)
    return CaseMatrices(base_mva, bus, gen, branch, names)


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
#: Lines that can be a statement: the first character that is not blank is a letter.
#: Matrix rows and names never are, so the scan skips them in C.
_STATEMENT_LINE = re.compile(r"\n[ \t]*([A-Za-z_][^\n]*)")


def _statement_lines(text: str):
    """``(line number, line)`` of the lines whose first non-blank character is a letter:
    the only ones that can be statements (matrix rows and names never are)."""
    head = re.match(r"[ \t]*[A-Za-z_][^\n]*", text)
    if head:
        yield 1, head.group()
    number, at = 1, 0
    for match in _STATEMENT_LINE.finditer(text):
        number += text.count("\n", at, match.start() + 1)
        at = match.start() + 1
        yield number, match.group(1)


def _unit_statements(path: Path, text: str) -> list[tuple[str, float, int]]:
    """The unit conversions a case applies after its matrices, in file order, as
    ``(operation, value, line number)``. Raises GridError on an assignment to the case's
    matrices that gridres does not know how to apply."""
    ops: list[tuple[str, float, int]] = []
    flags: dict[str, float] = {}
    skipping = 0  # depth inside `if FLAG ... end` blocks whose FLAG is 0
    for number, raw in _statement_lines(text):
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


def _apply_unit_statements(ops, bus: np.ndarray, branch: np.ndarray, base_mva: float):
    """Apply :func:`_unit_statements` operations to the bus and branch matrices."""
    bus, branch = bus.copy(), branch.copy()
    vbase = sbase = pf = None
    for op, value, _ in ops:
        if op == "load_div":
            bus[:, [PD, QD]] /= value
        elif op == "vbase":
            vbase = float(bus[0, BASE_KV]) * value
        elif op == "sbase":
            sbase = base_mva * value
        elif op == "z_base":
            branch[:, [BR_R, BR_X]] /= vbase**2 / sbase
        elif op == "pf":
            pf = value
        elif op == "qd_pf":
            bus[:, QD] = bus[:, PD] * np.sin(np.arccos(pf))
        elif op == "pd_pf":
            bus[:, PD] = bus[:, PD] * pf
    return bus, branch


def _column(matrix: np.ndarray, j: int, default: float = 0.0) -> np.ndarray:
    if j < matrix.shape[1]:
        return matrix[:, j].copy()
    return np.full(len(matrix), default)


def read_matpower(
    path: str | os.PathLike, name: str | None = None, source: str | None = None,
    *, cache: bool = True,
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
    cache : bool, default True
        Use the cache of parsed grids (:mod:`gridres.io.cache`): the same file's bytes
        are parsed once.

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

    Examples
    --------
    >>> from gridres.io.cases import matpower_case_path
    >>> g = read_matpower(matpower_case_path("case9"))
    >>> len(g.buses), len(g.branches), g.base_mva
    (9, 9, 100.0)
    """
    path = Path(path)
    if not path.is_file():
        raise InputNotFound(f"{path}: no such file")
    data = path.read_bytes()
    name, source = name or path.stem, source or str(path)

    def parse() -> Grid:
        text = data.decode("utf-8", errors="replace")
        if "\r" in text:  # as reading in text mode would: every line ends in \n
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        return grid_from_matrices(parse_matrices(path, text), path, name=name, source=source)

    if not cache:
        return parse()
    return cached_read(data, parse, name=name, source=source)


def grid_from_matrices(
    m: CaseMatrices, path: str | os.PathLike, name: str | None = None,
    source: str | None = None,
) -> Grid:
    """Build the :class:`Grid` of a parsed case (see :func:`read_matpower`)."""
    path = Path(path)
    bus, branch, gen = m.bus, m.branch, m.gen
    bus_num = _column(bus, BUS_I, np.nan)
    if np.isnan(bus_num).any():
        k = int(np.flatnonzero(np.isnan(bus_num))[0])
        raise GridError(f"{path}: mpc.bus row {k + 1}: bus number is not a number")
    bus_ids = pd.Index(bus_num.astype(np.int64).astype(str), name="id")
    names = np.array(m.bus_names if m.bus_names is not None else [""] * len(bus), dtype=object)
    btype = _column(bus, BUS_TYPE, 1)
    buses = pd.DataFrame(
        {
            "name": names,
            "base_kv": _column(bus, BASE_KV, np.nan),
            "load_mw": _column(bus, PD),
            "gs_mw": _column(bus, GS),
            "zone": _column(bus, ZONE, 1).astype(np.int64),
            "area": _column(bus, BUS_AREA, 1).astype(np.int64),
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

    tap = _column(branch, TAP, 0.0)
    shift = _column(branch, SHIFT, 0.0)
    rate = _column(branch, RATE_A, 0.0)
    fb = as_bus_ids(_column(branch, F_BUS, np.nan), "mpc.branch")
    tb = as_bus_ids(_column(branch, T_BUS, np.nan), "mpc.branch")
    branches = pd.DataFrame(
        {
            "from_bus": fb,
            "to_bus": tb,
            "kind": np.where((tap != 0) | (shift != 0), "transformer", "line"),
            "r_pu": _column(branch, BR_R),
            "x_pu": _column(branch, BR_X, np.nan),
            "tap": np.where(tap == 0, 1.0, tap),
            "shift_deg": shift,
            "rating_mw": np.where(rate == 0, np.inf, rate),
            "in_service": _column(branch, BR_STATUS, 1) > 0,
        },
        index=pd.Index(np.arange(1, len(branch) + 1).astype(str), name="id"),
    )
    gens = pd.DataFrame(
        {
            "bus": as_bus_ids(_column(gen, GEN_BUS, np.nan), "mpc.gen"),
            "p_mw": _column(gen, PG),
            "pmax_mw": _column(gen, PMAX),
            "pmin_mw": _column(gen, PMIN),
            "in_service": _column(gen, GEN_STATUS, 1) > 0,
        },
        index=pd.Index(np.arange(1, len(gen) + 1).astype(str), name="id"),
    )
    return Grid(
        buses=buses,
        branches=branches,
        generators=gens,
        facilities=None,
        name=name or path.stem,
        base_mva=m.base_mva,
        source=source or str(path),
    )
