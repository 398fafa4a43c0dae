"""Atomic file writes: a result file is either complete or absent, never half written.

Two primitives, both staging the new content beside the target (same folder, so the
final :func:`os.replace` is one atomic rename on the same file system):

* :func:`atomic_file` opens one temporary file, exclusively (``O_EXCL``, a fresh random
  name), yields it for writing, then flushes it, ``fsync``\\ s it, renames it onto the
  target and ``fsync``\\ s the folder, so the result survives a power cut once the call
  returns. The temporary name is never closed, removed and reused.
* :func:`atomic_path` is for writers that need a file *name* rather than an open file
  (GDAL opening a GeoPackage, Chromium printing a PDF): it makes a private temporary
  folder (``mkdtemp``, mode 0700) beside the target and yields a path inside it with the
  target's own name, so format-sniffing writers pick the right driver and nobody else
  can create or swap that name. The file is then moved onto the target as above.

Temporary names look like ``.NAME.gridres-XXXXXXXX.tmp`` (:func:`is_temporary`): a run
killed with ``kill -9`` may leave one behind, and gridres removes it from its own output
folders the next time (see :mod:`gridres.io.folder`).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

__all__ = ["atomic_file", "atomic_path", "is_temporary", "fsync_folder"]

_TEMP = re.compile(r"^\..+\.gridres-[A-Za-z0-9_]+\.tmp$")


def is_temporary(name: str) -> bool:
    """Whether a file name is one of :mod:`gridres.io.atomic`'s temporary names.

    Examples
    --------
    >>> is_temporary(".summary.json.gridres-k3j9x0ab.tmp"), is_temporary("summary.json")
    (True, False)
    """
    return _TEMP.match(name) is not None


def _prefix(path: Path) -> str:
    return f".{path.name}.gridres-"


def _file_mode() -> int:
    """``0o666`` less the process umask: the mode ``open()`` would give a new file."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def fsync_folder(folder: str | os.PathLike) -> None:
    """Make a rename in ``folder`` durable (where the platform allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on folders: nothing more to do
        pass
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike, mode: str = "wb", *,
                encoding: str | None = None) -> Iterator[IO]:
    """Yield an open temporary file beside ``path``; on success make it ``path``.

    Parameters
    ----------
    path : path-like
        The target. Missing parent folders are made.
    mode : {"wb", "w"}
        Binary or text.
    encoding : str, optional
        Text encoding (default UTF-8 in text mode).

    On any exception the temporary file is removed and ``path`` is left as it was.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> with atomic_file(out, "w") as fh:
    ...     _ = fh.write("done")
    >>> out.read_text(), [p.name for p in out.parent.iterdir()]
    ('done', ['a.txt'])
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_file writes new files: mode 'wb' or 'w', not {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=_prefix(path), suffix=".tmp", dir=path.parent)
    tmp = Path(name)
    kwargs = {"encoding": encoding or "utf-8", "newline": ""} if mode == "w" else {}
    try:
        fh = os.fdopen(fd, mode, **kwargs)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    try:
        with fh:
            os.fchmod(fh.fileno(), _file_mode())
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_folder(path.parent)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a fresh path (in a private temporary folder beside ``path``, with
    ``path``'s own name); on success move the file written there onto ``path``.

    For writers that need a name rather than an open file. On any exception the
    temporary folder is removed and ``path`` is left as it was.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> with atomic_path(out) as tmp:
    ...     _ = tmp.write_text("done")
    >>> out.read_text(), [p.name for p in out.parent.iterdir()]
    ('done', ['a.txt'])
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=_prefix(path), suffix=".tmp", dir=path.parent))
    tmp = folder / path.name
    try:
        yield tmp
        if not tmp.is_file():
            raise FileNotFoundError(f"{path}: the writer produced no file")
        os.chmod(tmp, _file_mode())
        _fsync_file(tmp)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    fsync_folder(path.parent)
