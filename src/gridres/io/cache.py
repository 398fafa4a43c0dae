"""A cache of parsed grids, so that the second command on a big case starts at once.

A MATPOWER file is parsed once; its Grid tables are stored under the SHA-256 of the
file's bytes (and the gridres version), and the next load of the same bytes reads them
back. The cache lives in the user's cache folder (:func:`gridres.io.cachedir.cache_dir`:
``GRIDRES_CACHE_DIR``, else the platform's cache folder), beside the answers that
commands keep (:mod:`gridres.io.cachedir`).

``GRIDRES_CACHE=0`` turns it off. It holds at most ``GRIDRES_CACHE_MAX_MB`` megabytes
(default 1024); the least recently used grids go first.

An entry is a JSON header and the tables' columns as raw numbers and UTF-8 text: reading
one cannot run code, and a checksum of its contents is verified before use. Each is
written to a temporary file and renamed into place, so concurrent processes see a whole
entry or none. An entry that does not open, does not
carry the expected format, version and hash, or whose tables do not fit together is
ignored (and rewritten): the cache is never trusted over the file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from gridres.io.atomic import atomic_path
from gridres.io.cachedir import answers_path, cache_dir, file_digest, package_version
from gridres.model import Grid

__all__ = ["cached_read"]

log = logging.getLogger(__name__)

#: Version of the entry layout; part of every key.
FORMAT = 1
#: Default size bound of the cache folder (MB).
DEFAULT_MAX_MB = 1024
_TABLES = ("buses", "branches", "generators", "facilities")
#: Temporary files of writers that died are removed after this long (seconds).
_STALE_S = 3600.0


def _max_bytes() -> int:
    try:
        mb = float(os.environ.get("GRIDRES_CACHE_MAX_MB", DEFAULT_MAX_MB))
    except ValueError:
        mb = DEFAULT_MAX_MB
    return int(max(mb, 0.0) * 1e6)


_SUFFIX = ".grid"


def _entry(folder: Path, digest: str) -> Path:
    return folder / f"{digest}-v{package_version()}-f{FORMAT}{_SUFFIX}"


def cached_read(
    data: bytes, read: Callable[[], Grid], *, name: str, source: str
) -> Grid:
    """The grid of a file's bytes: from the cache if an entry for them is there, else
    from ``read()`` (then stored).

    Parameters
    ----------
    data : bytes
        The file's contents (hashed for the key).
    read : callable
        Parses the file; called on a cache miss.
    name, source : str
        The grid's name and source (how the user named it): not part of the entry.

    Returns
    -------
    Grid
    """
    folder = cache_dir()
    if folder is None:
        return read()
    digest = file_digest(data)
    path = _entry(folder, digest)
    grid = _load(path, digest, name, source)
    if grid is not None:
        return grid
    grid = read()
    _store(folder, path, digest, grid)
    return grid


# -- entries ------------------------------------------------------------------------------
#: First bytes of an entry. Then: the header's length (8 bytes, little endian), the
#: header (JSON), and the columns' bytes, each at an offset that is a multiple of 8.
MAGIC = b"GRIDRES-GRID-CACHE\n"
_DTYPES = {"f8": np.dtype("<f8"), "i8": np.dtype("<i8"), "b1": np.dtype("|b1")}
_SEP = "\n"  # joins the strings of a text column (a grid with it in an id is not cached)


def _encode(values) -> tuple[str, bytes] | None:
    """A column as ``(kind, bytes)``: ``f8``, ``i8``, ``b1`` or ``str`` (UTF-8 joined by
    newlines); None if it holds anything else (geometry, mixed objects)."""
    array = np.asarray(values)
    if array.dtype.kind in "fib":
        kind = {"f": "f8", "i": "i8", "b": "b1"}[array.dtype.kind]
        return kind, np.ascontiguousarray(array, dtype=_DTYPES[kind]).tobytes()
    if array.dtype.kind != "O" or pd.api.types.infer_dtype(array, skipna=False) not in (
            "string", "empty"):
        return None
    text = _SEP.join(array.tolist())
    if text.count(_SEP) != max(len(array) - 1, 0):
        return None
    return "str", text.encode()


def _decode(kind: str, raw: memoryview, length: int) -> np.ndarray:
    if kind == "str":
        parts = bytes(raw).decode().split(_SEP) if length else []
        if len(parts) != length:
            raise ValueError("text column of the wrong length")
        return np.fromiter(parts, dtype=object, count=length)
    dtype = _DTYPES[kind]
    if len(raw) != dtype.itemsize * length:
        raise ValueError("numeric column of the wrong length")
    return np.frombuffer(raw, dtype=dtype, count=length)


def _store(folder: Path, path: Path, digest: str, grid: Grid) -> None:
    """Write ``grid``'s tables as an entry; any failure leaves the cache as it was."""
    chunks: list[bytes] = []
    offset = 0
    tables: dict[str, list] = {}
    for table in _TABLES:
        df = getattr(grid, table)
        cols = []
        for key, values in (("", df.index), *((str(c), df[c]) for c in df.columns)):
            encoded = _encode(values)
            if encoded is None:  # geometry or other objects: this grid is not cached
                log.debug("%s: column %r of %s is not cacheable", grid.source, key, table)
                return
            kind, raw = encoded
            pad = -len(raw) % 8
            cols.append([key, kind, offset, len(raw), len(df)])
            chunks.append(raw + b"\0" * pad)
            offset += len(raw) + pad
        tables[table] = cols
    payload = b"".join(chunks)
    header = json.dumps({
        "format": FORMAT, "gridres": package_version(), "sha256": digest,
        "payload_sha256": hashlib.sha256(payload).hexdigest(),
        "base_mva": float(grid.base_mva), "crs": grid.crs, "tables": tables,
    }).encode()
    header += b" " * (-(len(MAGIC) + 8 + len(header)) % 8)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                fh.write(MAGIC + len(header).to_bytes(8, "little") + header)
                fh.write(payload)
        _prune(folder)
    except OSError as exc:  # a read-only or full disk costs the next start, nothing else
        log.debug("grid cache: could not write %s (%s)", path, exc)


def _load(path: Path, digest: str, name: str, source: str) -> Grid | None:
    """The grid of an entry, or None if there is none or it is not a sound entry."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    try:
        if not data.startswith(MAGIC):
            raise ValueError("not an entry of this cache")
        start = len(MAGIC) + 8
        size = int.from_bytes(data[len(MAGIC):start], "little")
        meta = json.loads(data[start:start + size])
        if (meta.get("format") != FORMAT or meta.get("gridres") != package_version()
                or meta.get("sha256") != digest):
            raise ValueError("entry of another file, version or format")
        payload = memoryview(data)[start + size:]
        if hashlib.sha256(payload).hexdigest() != meta["payload_sha256"]:
            raise ValueError("damaged entry")
        frames = {}
        for table in _TABLES:
            cols = meta["tables"][table]
            if not cols or cols[0][0] != "":
                raise ValueError(f"table {table} has no index")
            length = int(cols[0][4])
            values = []
            for _, kind, offset, nbytes, n in cols:
                if n != length or offset < 0 or offset + nbytes > len(payload):
                    raise ValueError(f"column of {table} out of bounds")
                values.append(_decode(kind, payload[offset:offset + nbytes], length))
            frames[table] = pd.DataFrame(
                {c[0]: v for c, v in zip(cols[1:], values[1:], strict=True)},
                index=pd.Index(values[0], dtype=object, name="id"),
            )
        grid = Grid(**frames, name=name, base_mva=float(meta["base_mva"]),
                    crs=meta["crs"], source=source)
    except Exception as exc:  # a corrupt, truncated or foreign entry: parse the file
        log.debug("grid cache: ignoring %s (%s: %s)", path, type(exc).__name__, exc)
        return None
    try:
        os.utime(path)  # most recently used: pruned last
    except OSError:
        pass
    return grid


def _prune(folder: Path) -> None:
    """Remove the least recently used entries until the folder fits its bound, and
    temporary files that writers left behind."""
    limit = _max_bytes()
    entries = []
    now = time.time()
    for p in folder.glob("*" + _SUFFIX):
        try:
            st = p.stat()
        except OSError:
            continue
        if p.name.startswith("."):
            if now - st.st_mtime > _STALE_S:
                p.unlink(missing_ok=True)
            continue
        entries.append((st.st_mtime, st.st_size, p))
    total = sum(size for _, size, _ in entries)
    for _, size, p in sorted(entries, key=lambda e: e[0]):
        if total <= limit:
            break
        try:
            p.unlink()
            total -= size
            answers_path(folder, p.name.split("-", 1)[0]).unlink(missing_ok=True)
        except OSError:
            pass
