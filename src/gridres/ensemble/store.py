"""The results folder of an ensemble: a manifest, Parquet parts and per-batch bus counts.

Layout of ``DIR``::

    DIR/manifest.json                          what was asked: grid, scenarios, n, seed, ...
    DIR/parts/part-00000000-00000127.parquet   records of scenarios 0..127 (one row each)
    DIR/parts/buses-00000000-00000127.parquet  per-bus counts of the same batch
    DIR/summary.json                           written when a run ends

Every file is written atomically (a temporary name, then a rename), and a batch's bus
counts are written before its records: a records part is the commit mark of its batch.
A run killed at any moment therefore leaves only complete parts, and resuming runs
exactly the scenarios that have no records part yet.
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from gridres.errors import GridresError, InputNotFound, UsageError
from gridres.io.atomic import atomic_path

__all__ = [
    "MANIFEST",
    "SUMMARY",
    "PARTS",
    "COMPARED_KEYS",
    "Part",
    "resolve_dir",
    "list_parts",
    "missing_ranges",
    "write_batch",
    "read_manifest",
    "write_manifest",
    "check_manifest",
    "clean_stale",
    "load_records",
    "load_bus_counts",
]

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
SUMMARY = "summary.json"
PARTS = "parts"
#: Manifest keys that a resumed run must match.
COMPARED_KEYS = ("grid", "scenario", "n", "seed", "evaluator", "version")

_PART = re.compile(r"^part-(\d+)-(\d+)\.parquet$")
_COUNTS = re.compile(r"^buses-(\d+)-(\d+)\.parquet$")


class Part(NamedTuple):
    """One records part: scenarios ``first..last`` (inclusive) in the file ``path``."""

    first: int
    last: int
    path: Path

    @property
    def counts_path(self) -> Path:
        """The batch's bus-counts file."""
        return self.path.with_name(counts_name(self.first, self.last))


def part_name(first: int, last: int) -> str:
    return f"part-{first:08d}-{last:08d}.parquet"


def counts_name(first: int, last: int) -> str:
    return f"buses-{first:08d}-{last:08d}.parquet"


def resolve_dir(path: str | os.PathLike) -> tuple[Path, Path]:
    """``(root, parts)`` of an ensemble folder, given the folder or its ``parts``
    subfolder.

    Raises
    ------
    InputNotFound
        If neither holds a manifest.
    """
    path = Path(path)
    if (path / MANIFEST).is_file():
        return path, path / PARTS
    if path.name == PARTS and (path.parent / MANIFEST).is_file():
        return path.parent, path
    raise InputNotFound(
        f"{path}: not an ensemble folder (no {MANIFEST}); run `gridres ensemble ... --out "
        f"{path}` first"
    )


def list_parts(parts_dir: str | os.PathLike) -> list[Part]:
    """Records parts in ``parts_dir``, in scenario order.

    Raises
    ------
    GridresError
        If two parts overlap (a folder edited by hand, or two runs writing into it).
    """
    parts_dir = Path(parts_dir)
    if not parts_dir.is_dir():
        return []
    parts = []
    for entry in os.scandir(parts_dir):
        m = _PART.match(entry.name)
        if m:
            parts.append(Part(int(m.group(1)), int(m.group(2)), Path(entry.path)))
    parts.sort()
    for a, b in zip(parts, parts[1:], strict=False):
        if b.first <= a.last:
            raise GridresError(
                f"{b.path}: overlaps {a.path.name}; remove one of them (two runs wrote into "
                "the same folder?)"
            )
    return parts


def missing_ranges(parts: list[Part], n: int) -> list[tuple[int, int]]:
    """Inclusive ranges of scenario indices in ``0..n-1`` that no part holds.

    Examples
    --------
    >>> missing_ranges([Part(0, 9, Path("a")), Part(20, 29, Path("b"))], 40)
    [(10, 19), (30, 39)]
    """
    out = []
    nxt = 0
    for p in parts:
        if p.first > nxt:
            out.append((nxt, min(p.first, n) - 1))
        nxt = max(nxt, p.last + 1)
    if nxt < n:
        out.append((nxt, n - 1))
    return [(a, b) for a, b in out if a <= b]


def write_batch(
    parts_dir: Path, first: int, last: int, records: pd.DataFrame, counts: pd.DataFrame
) -> Path:
    """Write one batch: its bus counts, then its records part (the commit mark)."""
    with atomic_path(parts_dir / counts_name(first, last)) as tmp:
        counts.to_parquet(tmp, index=False)
    path = parts_dir / part_name(first, last)
    with atomic_path(path) as tmp:
        records.to_parquet(tmp, index=False)
    return path


def read_manifest(root: str | os.PathLike) -> dict[str, Any] | None:
    """The manifest of an ensemble folder, or ``None`` if it has none."""
    path = Path(root) / MANIFEST
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise GridresError(
            f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}); remove the folder or "
            "restore the file"
        ) from None


def write_manifest(root: Path, manifest: dict[str, Any]) -> None:
    with atomic_path(root / MANIFEST) as tmp:
        tmp.write_text(json.dumps(manifest, indent=2) + "\n")


def _short(value: Any) -> str:
    if isinstance(value, dict) and "fingerprint" in value:
        value = f"{value.get('name')} {str(value['fingerprint'])[:19]}"
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_manifest(root: Path, on_disk: dict[str, Any], given: dict[str, Any]) -> None:
    """Refuse to resume into a folder made by a different run.

    Raises
    ------
    UsageError
        Naming the first key of :data:`COMPARED_KEYS` that differs.
    """
    given = json.loads(json.dumps(given))
    for key in COMPARED_KEYS:
        if on_disk.get(key) != given.get(key):
            raise UsageError(
                f"{root / MANIFEST}: {key} differs from this run ({_short(on_disk.get(key))} "
                f"on disk, {_short(given.get(key))} now); resume with the same arguments or "
                "use a new --out DIR"
            )


def clean_stale(parts_dir: Path) -> int:
    """Remove what an interrupted run may leave: temporary files and bus counts whose
    records part was never written. Returns the number of files removed."""
    if not parts_dir.is_dir():
        return 0
    names = {e.name for e in os.scandir(parts_dir)}
    removed = 0
    for name in names:
        m = _COUNTS.match(name)
        stale = name.startswith((".part-", ".buses-")) or (
            m is not None and part_name(int(m.group(1)), int(m.group(2))) not in names
        )
        if stale:
            (parts_dir / name).unlink(missing_ok=True)
            removed += 1
    if removed:
        logger.info("removed %d unfinished file(s) from %s", removed, parts_dir)
    return removed


def load_records(path: str | os.PathLike) -> pd.DataFrame:
    """All records of an ensemble folder, one row per finished scenario, in scenario
    order (see :mod:`gridres.ensemble.evaluate` for the columns).

    Parameters
    ----------
    path : path-like
        The ensemble folder (``--out DIR``) or its ``parts`` subfolder.

    Returns
    -------
    pandas.DataFrame
    """
    _, parts_dir = resolve_dir(path)
    parts = list_parts(parts_dir)
    if not parts:
        return pd.DataFrame({"scenario": pd.Series([], dtype="int64")})
    frames = [pd.read_parquet(p.path) for p in parts]
    df = pd.concat(frames, ignore_index=True)
    return df.sort_values("scenario", kind="stable").reset_index(drop=True)


def load_bus_counts(path: str | os.PathLike) -> pd.DataFrame:
    """Per-bus counts summed over the finished batches: index bus id, one int column per
    count name (e.g. ``dark``: scenarios in which the bus had no supply). Buses that
    never counted are absent."""
    _, parts_dir = resolve_dir(path)
    frames = []
    for p in list_parts(parts_dir):
        if p.counts_path.is_file():
            frames.append(pd.read_parquet(p.counts_path))
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(index=pd.Index([], name="id", dtype=object))
    df = pd.concat(frames, ignore_index=True).fillna(0)
    out = df.groupby("id", sort=True).sum().astype("int64")
    out.index = out.index.astype(str)
    return out
