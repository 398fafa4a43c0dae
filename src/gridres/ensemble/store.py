"""The results folder of an ensemble: a manifest, its list of parts, Parquet parts and
per-batch bus counts.

Layout of ``DIR``::

    DIR/manifest.json                          what was asked: grid, scenarios, n, seed, ...
    DIR/parts.jsonl                            the manifest's list of parts: one line per
                                               batch (range, rows, columns, SHA-256 of
                                               its two files), appended as batches finish
    DIR/parts/part-00000000-00000127.parquet   records of scenarios 0..127 (one row each)
    DIR/parts/buses-00000000-00000127.parquet  per-bus counts of the same batch
    DIR/summary.json                           written when a run ends
    DIR/.gridres.json, DIR/.gridres.lock       the output folder's record and lock
                                               (:mod:`gridres.io.folder`)

A batch is committed in this order: both files are written under temporary names, its
line is appended to ``parts.jsonl`` (and synced), then the bus counts and finally the
records part are renamed into place. The records part is the commit mark: a line whose
part is missing was cut short by a crash, and its scenarios run again on ``--resume``.
A run killed at any moment therefore leaves a folder that resumes exactly.

Reading a part checks it against its line: SHA-256 of the file, number of rows, columns
and scenario range; a part that does not match, a part that no line lists, or a manifest
or list that is not gridres's is refused (:class:`~gridres.errors.GridError`, exit 65,
naming the file).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import shutil
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from gridres.errors import GridError, InputNotFound, UsageError
from gridres.io.atomic import atomic_file, is_temporary
from gridres.io.folder import write_file

__all__ = [
    "MANIFEST",
    "JOURNAL",
    "SUMMARY",
    "PARTS",
    "COMPARED_KEYS",
    "Part",
    "PartEntry",
    "resolve_dir",
    "read_journal",
    "list_parts",
    "missing_ranges",
    "write_batch",
    "read_manifest",
    "write_manifest",
    "check_manifest",
    "clean_stale",
    "owned_files",
    "unlisted_files",
    "load_records",
    "load_bus_counts",
    "verify_parts",
]

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
JOURNAL = "parts.jsonl"
SUMMARY = "summary.json"
PARTS = "parts"
#: Manifest keys that a resumed run must match.
COMPARED_KEYS = ("format", "grid", "scenario", "n", "seed", "evaluator", "version")

_PART = re.compile(r"^part-(\d{8,})-(\d{8,})\.parquet$")
_COUNTS = re.compile(r"^buses-(\d{8,})-(\d{8,})\.parquet$")
_SHA = re.compile(r"^[0-9a-f]{64}$")


class Part(NamedTuple):
    """One records part: scenarios ``first..last`` (inclusive) in the file ``path``."""

    first: int
    last: int
    path: Path

    @property
    def counts_path(self) -> Path:
        """The batch's bus-counts file."""
        return self.path.with_name(counts_name(self.first, self.last))


class PartEntry(NamedTuple):
    """One line of ``parts.jsonl``: what a batch's two files must hold."""

    first: int
    last: int
    rows: int
    columns: tuple[str, ...]
    part_sha256: str
    counts_sha256: str

    @property
    def part(self) -> str:
        return part_name(self.first, self.last)

    @property
    def counts(self) -> str:
        return counts_name(self.first, self.last)

    def to_json(self) -> str:
        return json.dumps({"first": self.first, "last": self.last, "rows": self.rows,
                           "columns": list(self.columns), "part": self.part,
                           "part_sha256": self.part_sha256, "counts": self.counts,
                           "counts_sha256": self.counts_sha256}, separators=(",", ":"))


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


# -- the list of parts -------------------------------------------------------------------
def _entry(line: str) -> PartEntry | None:
    try:
        d = json.loads(line)
        first, last, rows = int(d["first"]), int(d["last"]), int(d["rows"])
        columns = tuple(d["columns"])
        entry = PartEntry(first, last, rows, columns, str(d["part_sha256"]),
                          str(d["counts_sha256"]))
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
        return None
    ok = (0 <= first <= last and rows == last - first + 1 and d.get("part") == entry.part
          and d.get("counts") == entry.counts and "scenario" in columns
          and all(isinstance(c, str) for c in columns)
          and _SHA.match(entry.part_sha256) and _SHA.match(entry.counts_sha256))
    return entry if ok else None


def read_journal(root: str | os.PathLike) -> list[PartEntry]:
    """Every line of ``root/parts.jsonl`` in order (an unfinished last line, cut by a
    crash, is left out).

    Raises
    ------
    GridError
        If a finished line is not one of gridres's (exit 65).
    """
    path = Path(root) / JOURNAL
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    lines = data.split(b"\n")
    lines.pop()  # after the last newline: empty, or a line a crash cut short
    out = []
    for number, raw in enumerate(lines, 1):
        entry = _entry(raw.decode("utf-8", "replace"))
        if entry is None:
            raise GridError(f"{path}: line {number} is not a gridres part entry; the folder "
                            "was edited or is not gridres's: use a new --out DIR")
        out.append(entry)
    return out


def _end_journal_cleanly(root: Path) -> None:
    """Cut an unfinished last line (a crash mid-append) so that appends start afresh."""
    path = root / JOURNAL
    if not path.is_file():
        return
    data = path.read_bytes()
    keep = data.rfind(b"\n") + 1
    if keep != len(data):
        with open(path, "r+b") as fh:
            fh.truncate(keep)
            os.fsync(fh.fileno())


def _append_journal(root: Path, entry: PartEntry) -> None:
    with open(root / JOURNAL, "ab") as fh:
        fh.write(entry.to_json().encode() + b"\n")
        fh.flush()
        os.fsync(fh.fileno())


def _live(root: Path) -> dict[str, PartEntry]:
    """Entries whose records part exists, by part name (the last line of a name wins)."""
    parts_dir = root / PARTS
    out: dict[str, PartEntry] = {}
    for entry in read_journal(root):
        out[entry.part] = entry
    return {k: e for k, e in out.items() if (parts_dir / k).is_file()}


def list_parts(parts_dir: str | os.PathLike) -> list[Part]:
    """Finished records parts in ``parts_dir`` (those its manifest lists and that exist),
    in scenario order. Files are not read (see :func:`load_records`).

    Raises
    ------
    GridError
        If two parts overlap (a folder edited by hand).
    """
    parts_dir = Path(parts_dir)
    parts = sorted(Part(e.first, e.last, parts_dir / name)
                   for name, e in _live(parts_dir.parent).items())
    for a, b in zip(parts, parts[1:], strict=False):
        if b.first <= a.last:
            raise GridError(f"{b.path}: overlaps {a.path.name}; the folder was edited by "
                            "hand: use a new --out DIR")
    return parts


def unlisted_files(root: str | os.PathLike) -> list[str]:
    """Files in ``root/parts`` (relative POSIX paths) that the list of parts does not name
    and that are not gridres's temporary files: a user's, to be left alone."""
    parts_dir = Path(root) / PARTS
    if not parts_dir.is_dir():
        return []
    listed = {name for e in read_journal(root) for name in (e.part, e.counts)}
    return sorted(f"{PARTS}/{e.name}" for e in os.scandir(parts_dir)
                  if e.name not in listed and not is_temporary(e.name))


def owned_files(root: str | os.PathLike) -> set[str]:
    """Files of ``root`` (relative POSIX paths) that the list of parts vouches for."""
    return {f"{PARTS}/{name}" for e in read_journal(root) for name in (e.part, e.counts)}


def clean_stale(parts_dir: Path) -> int:
    """Prepare a folder for more batches: remove temporary files and the bus counts of
    batches whose records part was never renamed into place (both gridres's own), and
    cut an unfinished last line of the list. Returns the number of files removed.

    Raises
    ------
    GridError
        If ``parts_dir`` holds a part or bus-counts file that the list does not name (a
        foreign or hand-copied part; exit 65).
    """
    parts_dir = Path(parts_dir)
    root = parts_dir.parent
    _end_journal_cleanly(root)
    if not parts_dir.is_dir():
        return 0
    listed = read_journal(root)
    names = {n for e in listed for n in (e.part, e.counts)}
    live = {e.counts for e in listed if (parts_dir / e.part).is_file()}
    removed = 0
    for entry in sorted(os.scandir(parts_dir), key=lambda e: e.name):
        name = entry.name
        if is_temporary(name):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                os.unlink(entry.path)
            removed += 1
        elif (_PART.match(name) or _COUNTS.match(name)) and name not in names:
            raise GridError(f"{entry.path}: a part that {root / JOURNAL} does not list (from "
                            "another run, or copied in); remove it or use a new --out DIR")
        elif _COUNTS.match(name) and name not in live:
            os.unlink(entry.path)
            removed += 1
    if removed:
        logger.info("removed %d unfinished file(s) from %s", removed, parts_dir)
    return removed


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


def _parquet(df: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    return buf.getvalue()


def write_batch(
    parts_dir: Path, first: int, last: int, records: pd.DataFrame, counts: pd.DataFrame
) -> Path:
    """Write one batch and list it (see the module docstring for the order)."""
    parts_dir = Path(parts_dir)
    rec, cnt = _parquet(records), _parquet(counts)
    entry = PartEntry(first, last, len(records), tuple(map(str, records.columns)),
                      hashlib.sha256(rec).hexdigest(), hashlib.sha256(cnt).hexdigest())
    path = parts_dir / entry.part
    with atomic_file(path) as part_file, atomic_file(parts_dir / entry.counts) as counts_file:
        part_file.write(rec)
        counts_file.write(cnt)
        _append_journal(parts_dir.parent, entry)
    # leaving the block renamed the bus counts, then the records part (the commit mark)
    return path


# -- the manifest ------------------------------------------------------------------------
def read_manifest(root: str | os.PathLike) -> dict[str, Any] | None:
    """The manifest of an ensemble folder, or ``None`` if it has none.

    Raises
    ------
    GridError
        If the file is not a gridres manifest (exit 65).
    """
    path = Path(root) / MANIFEST
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_bytes())
    except (ValueError, RecursionError) as exc:
        raise GridError(f"{path}: not a gridres ensemble manifest ({exc}); use a new --out "
                        "DIR") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("n"), int) or "grid" not in doc:
        raise GridError(f"{path}: not a gridres ensemble manifest (no n or grid); use a new "
                        "--out DIR")
    return doc


def write_manifest(root: Path, manifest: dict[str, Any]) -> None:
    """Write ``root/manifest.json`` (recorded in the open output folder, if any)."""
    with write_file(root / MANIFEST, "w") as fh:
        fh.write(json.dumps(manifest, indent=2) + "\n")


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


# -- reading -----------------------------------------------------------------------------
def _read_checked(path: Path, sha256: str, what: str) -> pd.DataFrame:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise GridError(f"{path}: {what} listed in {JOURNAL} is missing; the folder was "
                        "edited by hand: use a new --out DIR") from None
    if hashlib.sha256(data).hexdigest() != sha256:
        raise GridError(f"{path}: does not match its SHA-256 in {JOURNAL} (changed or "
                        "replaced after gridres wrote it); use a new --out DIR")
    try:
        return pd.read_parquet(io.BytesIO(data))
    except Exception as exc:  # pyarrow's errors have no common base
        raise GridError(f"{path}: not a readable Parquet part ({type(exc).__name__})"
                        ) from None


def _checked_part(parts_dir: Path, entry: PartEntry) -> pd.DataFrame:
    path = parts_dir / entry.part
    df = _read_checked(path, entry.part_sha256, "a records part")
    scen = df["scenario"] if "scenario" in df.columns else None
    if (tuple(map(str, df.columns)) != entry.columns or len(df) != entry.rows
            or scen is None or len(scen) == 0
            or not (scen.to_numpy() == range(entry.first, entry.last + 1)).all()):
        raise GridError(f"{path}: its columns, rows or scenarios differ from {JOURNAL} "
                        f"(scenarios {entry.first}..{entry.last}); use a new --out DIR")
    return df


def load_records(path: str | os.PathLike) -> pd.DataFrame:
    """All records of an ensemble folder, one row per finished scenario, in scenario
    order (see :mod:`gridres.ensemble.evaluate` for the columns). Every part is checked
    against its line in ``parts.jsonl``.

    Parameters
    ----------
    path : path-like
        The ensemble folder (``--out DIR``) or its ``parts`` subfolder.

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    GridError
        A part that does not match its line, or a list that is not gridres's (exit 65).
    """
    root, parts_dir = resolve_dir(path)
    live = _live(root)
    list_parts(parts_dir)  # overlaps
    if not live:
        return pd.DataFrame({"scenario": pd.Series([], dtype="int64")})
    frames = [_checked_part(parts_dir, e) for e in sorted(live.values())]
    df = pd.concat(frames, ignore_index=True)
    return df.sort_values("scenario", kind="stable").reset_index(drop=True)


def verify_parts(root: str | os.PathLike) -> int:
    """Check every finished part and its bus counts against ``parts.jsonl`` (as
    :func:`load_records` does, without keeping them); return the scenarios they hold.

    Raises
    ------
    GridError
        Naming the first file that does not match (exit 65).
    """
    root = Path(root)
    parts_dir = root / PARTS
    list_parts(parts_dir)  # overlaps
    done = 0
    for entry in sorted(_live(root).values()):
        done += len(_checked_part(parts_dir, entry))
        _read_checked(parts_dir / entry.counts, entry.counts_sha256, "a bus-counts file")
    return done


def load_bus_counts(path: str | os.PathLike) -> pd.DataFrame:
    """Per-bus counts summed over the finished batches: index bus id, one int column per
    count name (e.g. ``dark``: scenarios in which the bus had no supply). Buses that
    never counted are absent."""
    root, parts_dir = resolve_dir(path)
    frames = [_read_checked(parts_dir / e.counts, e.counts_sha256, "a bus-counts file")
              for e in sorted(_live(root).values())]
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(index=pd.Index([], name="id", dtype=object))
    df = pd.concat(frames, ignore_index=True).fillna(0)
    out = df.groupby("id", sort=True).sum().astype("int64")
    out.index = out.index.astype(str)
    return out
