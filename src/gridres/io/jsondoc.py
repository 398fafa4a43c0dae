"""JSON documents: the one cleaner that makes results JSON-safe, and a writer that
records the file in its output folder and writes it atomically
(:func:`gridres.io.folder.write_path`)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from gridres.io.folder import write_path

__all__ = ["jsonable", "write_json"]


def jsonable(obj: Any) -> Any:
    """A JSON-safe copy of ``obj``: mappings with string keys, lists for tuples and
    arrays, numpy scalars unwrapped, paths as strings, NaN and infinities as ``None``.

    Examples
    --------
    >>> jsonable({1: (np.float64(2.5), float("nan")), "p": Path("a") / "b"})
    {'1': [2.5, None], 'p': 'a/b'}
    """
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [jsonable(v) for v in obj.tolist()]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_json(path: str | os.PathLike, doc: Any) -> Path:
    """Write ``jsonable(doc)`` to ``path`` through :func:`gridres.io.folder.write_path`
    (indented, UTF-8, ending in a newline); return the path."""
    path = Path(path)
    with write_path(path) as tmp:
        tmp.write_text(json.dumps(jsonable(doc), indent=2, ensure_ascii=False) + "\n",
                       encoding="utf-8")
    return path
