"""Reading a study file and checking it, with every problem at once.

:func:`analyse_study` reads a file (TOML syntax, then every section and value, see
:mod:`gridres.study.core`) and, with ``deep``, checks it against its grid
(:mod:`gridres.study.semantic`); :func:`check_loaded` does the second part for a
:class:`~gridres.study.core.Study` object, which is how a run of an edited study checks
the edit. :func:`load_study` raises the first problem (exit code 65, or 66 for a file
that does not exist), :func:`check_study` lists them all.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gridres.limits import MAX_NESTING, nesting_depth
from gridres.study.core import (
    Problem,
    Study,
    StudyCheck,
    StudyError,
    StudyNotFound,
    build_study,
)
from gridres.study.schema import Collector
from gridres.study.semantic import check_against_grid
from gridres.study.tomltext import format_path, key_lines, line_of

__all__ = ["analyse_study", "check_loaded", "check_study", "load_study", "raise_problems"]


def _read(path: Path) -> tuple[str | None, Problem | None]:
    if not path.is_file():
        hint = "" if path.suffix == ".toml" else " (study files end in .toml)"
        return None, Problem(str(path), None, "", f"no such study file{hint}", 66)
    try:
        return path.read_text(encoding="utf-8"), None
    except UnicodeDecodeError as exc:
        return None, Problem(str(path), None, "", f"not UTF-8 text ({exc.reason}); "
                             "save the study as UTF-8", 65)


_TOML_POS = re.compile(r"\(at line (\d+), column (\d+)\)")


def analyse_study(path: str | os.PathLike, *, deep: bool = True) -> StudyCheck:
    """Read and check a study file; collect every problem.

    Parameters
    ----------
    path : str or path-like
        The study file.
    deep : bool
        Also load the grid and check what refers to it (hazard specs, depots,
        policies, interventions). Without it, only the file itself is checked.

    Returns
    -------
    StudyCheck
    """
    path = Path(path)
    text, problem = _read(path)
    if problem:
        return StudyCheck(None, [problem])
    assert text is not None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = _TOML_POS.search(msg)
        line = int(m.group(1)) if m else None
        msg = _TOML_POS.sub("", msg).strip().rstrip(".")
        if "'\\n'" in msg or "\\n" in msg:
            msg += " (a string or bracket is not closed on this line?)"
        col = f" at column {m.group(2)}" if m else ""
        return StudyCheck(None, [Problem(str(path), line, "",
                                         f"TOML syntax error{col}: {msg}")])
    except RecursionError:
        raw = None
    if raw is None or nesting_depth(raw) > MAX_NESTING:
        return StudyCheck(None, [Problem(str(path), None, "",
                                         f"arrays or tables nested more than {MAX_NESTING} "
                                         "levels deep; a study needs a few levels at most")])
    out = Collector()
    study = build_study(path, raw, out)
    grid = None
    generators: tuple[Any, ...] = ()
    if deep and not any(p[0][:1] == ("grid",) for p in out.problems):
        grid, generators = check_against_grid(study, out)
    return StudyCheck(study, _problems(path, key_lines(text), out), grid, generators)


def _problems(path: Path, lines: Mapping, out: Collector) -> list[Problem]:
    problems = [
        Problem(str(path), line_of(lines, p) or None, format_path(p), msg, code)
        for p, msg, code in out.problems
    ]
    problems.sort(key=lambda p: (p.line or 0))
    return problems


def check_loaded(study: Study) -> StudyCheck:
    """Check a study object against its grid (the grid is loaded, hazard specs build
    scenario generators; see :func:`gridres.study.semantic.check_against_grid`).

    This is what a run of a :class:`Study` object checks: the object, edits included,
    not the file it was read from (whose lines, where it still exists, only place the
    problems).

    Returns
    -------
    StudyCheck
    """
    out = Collector()
    grid, generators = check_against_grid(study, out)
    try:
        lines = key_lines(study.path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        lines = {}
    return StudyCheck(study, _problems(study.path, lines, out), grid, generators)


def check_study(path: str | os.PathLike, *, deep: bool = True) -> list[Problem]:
    """Every problem of a study file, in line order (empty: the study is valid).

    Parameters
    ----------
    path : str or path-like
    deep : bool
        Also load the grid and check hazard specs, depots, policies and interventions
        against it.

    Returns
    -------
    list of Problem

    Examples
    --------
    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.toml"
    >>> _ = p.write_text('[study]\\nseed = 1\\n[grid]\\nsource = "ieee14"\\n'
    ...                  '[ensemble]\\nn = -5\\n[scenario]\\nkind = "explicit"\\n')
    >>> [str(x).split(": ", 1)[1] for x in check_study(p, deep=False)]
    ['ensemble.n: must be >= 1, got -5']
    """
    return analyse_study(path, deep=deep).problems


def load_study(path: str | os.PathLike, *, deep: bool = False) -> Study:
    """Read a study file and fill every default.

    Parameters
    ----------
    path : str or path-like
    deep : bool
        Also check it against its grid (see :func:`check_study`).

    Returns
    -------
    Study

    Raises
    ------
    StudyError
        If the study has problems (exit code 65); the message is the first problem,
        ``problems`` holds all of them.
    InputNotFound
        If the study file (or, with ``deep``, its grid) does not exist (exit code 66).
    """
    result = analyse_study(path, deep=deep)
    raise_problems(result)
    assert result.study is not None
    return result.study


def raise_problems(result: StudyCheck) -> None:
    """Raise the error that fits ``result``'s problems, if it has any."""
    if not result.problems:
        return
    if result.exit_code == 66:
        raise StudyNotFound(result.problems)
    raise StudyError([p for p in result.problems if p.exit_code == 65])
