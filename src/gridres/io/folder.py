"""Output folders that gridres owns: a record of the files it wrote there, an exclusive
lock for the life of a command, and the one rule about a user's files.

The rule
--------
gridres deletes or overwrites only files that it recorded as its own. A command that
writes into a folder (``gridres run --out D``, ``ensemble --out D``, ``restore --out D``,
``plan``, ``demo``, ``export D.geojson``) opens it as an :class:`OutputFolder`:

1. it checks that files can be created there (exit 2, "cannot create files in …");
2. it takes the folder's lock, ``D/.gridres.lock``, for the life of the command: a
   second command on the same folder stops at once with exit 2, naming the holder's
   pid. The lock is a POSIX record lock, which the system drops when its process dies,
   so a lock left by ``kill -9`` or a power cut is recognised as stale and taken over;
3. it removes gridres's own temporary files (:func:`gridres.io.atomic.is_temporary`)
   that a killed run may have left;
4. it lists the files that gridres did not write (not in ``D/.gridres.json``). Any such
   file makes the command refuse with exit 2 and the file's name, unless ``--force``;
   with ``--force`` the command goes on and still never deletes or overwrites them.

Every file written through :func:`write_file` or :func:`write_path` is recorded in
``D/.gridres.json`` *before* it is written (a crash can leave a recorded name without its
file, never a file of ours without its name) and then written atomically. Writing onto
an existing file that is not recorded is refused, ``--force`` or not. A subfolder can be
handed to another owner (:meth:`OutputFolder.delegate`: a nested output folder such as a
study's ``ensemble/``, or the Parquet parts an ensemble's manifest lists); the outer
folder neither lists nor touches its content.

A single output *file* named by the user (``--out flows.csv``) needs no lock: it is
written atomically, replacing the file of that exact name if there is one (the user asked
for it). A file whose name gridres derives (``export x --format gpkg`` writes ``x.gpkg``)
is refused if it exists and the user did not name it.

A command that stops before writing anything leaves no folder behind: a folder that
:meth:`OutputFolder.open` had to create is removed again on close when nothing was
recorded in it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from gridres.errors import GridError, UsageError
from gridres.io.atomic import atomic_file, atomic_path, is_temporary

__all__ = [
    "LOCK",
    "RECORD",
    "FolderInUse",
    "OutputFolder",
    "cannot_write",
    "held",
    "owner_of",
    "write_file",
    "write_path",
]

logger = logging.getLogger(__name__)

#: The lock file of an output folder (holds the pid of the command that has it).
LOCK = ".gridres.lock"
#: The record of the files gridres wrote in an output folder.
RECORD = ".gridres.json"
_FORMAT = 1

_OPEN: dict[str, OutputFolder] = {}  # resolved path -> the folder this process has open
_OPEN_LOCK = threading.Lock()


class FolderInUse(UsageError):
    """Another command holds the output folder's lock (exit code 2)."""


def cannot_write(folder: str | os.PathLike) -> str | None:
    """Why nothing can be written in ``folder`` (or in the folders still to be made under
    its nearest existing ancestor); ``None`` when writing can go ahead.

    The only sure test (permissions, read-only mounts, ``/proc``) is to create a file and
    drop it, which this does in the nearest existing folder.

    Examples
    --------
    >>> import tempfile
    >>> cannot_write(tempfile.mkdtemp()) is None
    True
    >>> cannot_write("/proc/gridres-test")[:21]
    'cannot create files i'
    """
    probe = Path(folder).absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        return f"{probe} is a file, not a folder"
    try:
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError as exc:
        return f"cannot create files in {probe} ({exc.strerror or exc})"
    return None


def _real(path: str | os.PathLike) -> str:
    return os.path.realpath(os.path.abspath(path))


def owner_of(path: str | os.PathLike) -> OutputFolder | None:
    """The innermost output folder this process has open that contains ``path``."""
    target = _real(path)
    best: OutputFolder | None = None
    with _OPEN_LOCK:
        for root, folder in _OPEN.items():
            if target == root or target.startswith(root + os.sep):
                if best is None or len(root) > len(best.real):
                    best = folder
    return best


@contextlib.contextmanager
def held(path: str | os.PathLike, *, force: bool = False,
         option: str = "--out") -> Iterator[OutputFolder]:
    """The output folder at ``path``: the one this process has open there already (left
    open), else an :class:`OutputFolder` opened for the block. Steps of one command that
    write into one folder (a study's run, then its report) hold it once, so it stays
    locked between them.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> root = pathlib.Path(tempfile.mkdtemp()) / "out"
    >>> with OutputFolder(root) as outer, held(root) as inner:
    ...     inner is outer
    True
    """
    folder = owner_of(path)
    if folder is not None and folder.real == _real(path):
        yield folder
        return
    with OutputFolder(path, force=force, option=option) as folder:
        yield folder


def _claim(path: str | os.PathLike) -> None:
    folder = owner_of(path)
    if folder is not None:
        folder.claim(path)


@contextlib.contextmanager
def write_file(path: str | os.PathLike, mode: str = "wb", *,
               encoding: str | None = None) -> Iterator[IO]:
    """:func:`gridres.io.atomic.atomic_file`, recording ``path`` first in the open output
    folder that holds it (if any), which refuses to overwrite a file it did not record.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> root = pathlib.Path(tempfile.mkdtemp()) / "out"
    >>> with OutputFolder(root) as folder:
    ...     with write_file(root / "a.txt", "w") as fh:
    ...         _ = fh.write("done")
    >>> sorted(p.name for p in root.iterdir()), folder.recorded
    (['.gridres.json', 'a.txt'], ('a.txt',))
    """
    _claim(path)
    with atomic_file(path, mode, encoding=encoding) as fh:
        yield fh


@contextlib.contextmanager
def write_path(path: str | os.PathLike) -> Iterator[Path]:
    """:func:`gridres.io.atomic.atomic_path`, recording ``path`` first in the open output
    folder that holds it (if any), as :func:`write_file` does."""
    _claim(path)
    with atomic_path(path) as tmp:
        yield tmp


class OutputFolder:
    """A folder that one gridres command writes into: locked, recorded, guarded.

    Use as a context manager (or :meth:`open` / :meth:`close`). See the module
    docstring for the rules.

    Parameters
    ----------
    path : path-like
        The folder (made with its parents if missing).
    force : bool
        Go on when the folder holds files that gridres did not write (they are kept).
    option : str
        How the user named the folder, for messages (``--out``).

    Raises
    ------
    UsageError
        On :meth:`open`: the folder cannot be written, is a file, or holds files gridres
        did not write (without ``force``); :class:`FolderInUse` when another command
        holds its lock.
    GridError
        On :meth:`open`: its record is not gridres's (exit 65).
    """

    def __init__(self, path: str | os.PathLike, *, force: bool = False,
                 option: str = "--out") -> None:
        self.path = Path(path)
        self.force = force
        self.option = option
        self.real = ""
        self._files: set[str] = set()
        self._folders: set[str] = set()
        self._fd: int | None = None
        self._made: list[Path] = []
        self.took_over: int | None = None

    # -- life ------------------------------------------------------------------------
    def __enter__(self) -> OutputFolder:
        if self._fd is None:
            self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self, *, check: bool = True) -> OutputFolder:
        """Make the folder, lock it, read its record, drop stale temporary files and
        (with ``check``) refuse it if it holds files gridres did not write."""
        where = f"{self.option} {self.path}" if self.option else str(self.path)
        if self.path.exists() and not self.path.is_dir():
            raise UsageError(f"{where}: is a file; give a folder (it is made if missing)")
        why = cannot_write(self.path)
        if why:
            raise UsageError(f"{where}: {why}; choose a folder you can write to")
        self._make()
        self.real = _real(self.path)
        with _OPEN_LOCK:
            if self.real in _OPEN:
                raise FolderInUse(f"{where}: in use by this command already (pid "
                                  f"{os.getpid()}); give each output its own folder")
            _OPEN[self.real] = self
        try:
            self._lock(where)
            self._read_record()
            self._drop_temporaries()
            if check:
                self.check()
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Release the lock (and remove a folder made for nothing)."""
        with _OPEN_LOCK:
            if _OPEN.get(self.real) is self:
                del _OPEN[self.real]
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.unlink(self.path / LOCK)
        os.close(self._fd)  # releases the lock
        self._fd = None
        if self._made and not self._files and not self._folders:
            for folder in reversed(self._made):
                with contextlib.suppress(OSError):
                    folder.rmdir()

    def _make(self) -> None:
        missing = []
        probe = self.path.absolute()
        while not probe.exists():
            missing.append(probe)
            probe = probe.parent
        self.path.mkdir(parents=True, exist_ok=True)
        self._made = list(reversed(missing))

    def _lock(self, where: str) -> None:
        path = self.path / LOCK
        for _ in range(10):
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
                os.close(fd)
                if exc.errno in (errno.EACCES, errno.EAGAIN):
                    raise FolderInUse(
                        f"{where}: in use by another gridres command (pid {holder}); wait "
                        "for it to finish or choose another folder") from None
                raise
            try:  # the file we locked must still be the lock (not unlinked meanwhile)
                same = os.fstat(fd).st_ino == os.stat(path).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            previous = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            if previous and previous != str(os.getpid()):
                self.took_over = int(previous) if previous.isdigit() else -1
                logger.info("%s: took over the lock of pid %s, which is no longer running",
                            self.path, previous)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            self._fd = fd
            return
        raise FolderInUse(f"{where}: its lock keeps changing hands; try again")

    # -- the record ------------------------------------------------------------------
    @property
    def recorded(self) -> tuple[str, ...]:
        """Files gridres recorded here (relative POSIX paths), sorted."""
        return tuple(sorted(self._files))

    @property
    def delegated(self) -> tuple[str, ...]:
        """Subfolders whose content belongs to another owner, sorted."""
        return tuple(sorted(self._folders))

    def _read_record(self) -> None:
        path = self.path / RECORD
        if not path.exists():
            return
        try:
            doc = json.loads(path.read_bytes())
            files = doc["files"]
            folders = doc.get("folders", [])
            ok = (doc.get("format") == _FORMAT and isinstance(files, list)
                  and isinstance(folders, list)
                  and all(isinstance(f, str) and _relative_ok(f) for f in files + folders))
        except (ValueError, TypeError, KeyError, RecursionError, UnicodeDecodeError):
            ok = False
        if not ok:
            raise GridError(f"{path}: not a gridres record of written files; remove it only "
                            f"if you know what wrote {self.path}, or choose another folder")
        self._files = set(files)
        self._folders = set(folders)

    def _write_record(self) -> None:
        doc: dict[str, Any] = {"format": _FORMAT, "files": sorted(self._files),
                               "folders": sorted(self._folders)}
        with atomic_file(self.path / RECORD, "w") as fh:
            fh.write(json.dumps(doc, indent=1) + "\n")

    def relative(self, path: str | os.PathLike) -> str:
        """``path`` relative to this folder, as a POSIX path.

        Raises
        ------
        UsageError
            If ``path`` is not inside this folder.
        """
        target = _real(path)
        if not target.startswith(self.real + os.sep):
            raise UsageError(f"{path}: outside the output folder {self.path}")
        return Path(os.path.relpath(target, self.real)).as_posix()

    def _in_delegated(self, rel: str) -> str | None:
        for folder in self._folders:
            if rel == folder or rel.startswith(folder + "/"):
                return folder
        return None

    def claim(self, path: str | os.PathLike) -> Path:
        """Record ``path`` (inside this folder) as gridres's before it is written.

        Raises
        ------
        UsageError
            If a file of that name exists and is not recorded (gridres never overwrites
            a user's file), or it lies in a delegated subfolder.
        """
        rel = self.relative(path)
        full = self.path / rel
        if rel in (LOCK, RECORD) or self._in_delegated(rel):
            raise UsageError(f"{full}: belongs to another part of gridres; not written here")
        if rel not in self._files:
            if full.exists() or full.is_symlink():
                raise UsageError(
                    f"{full}: not written by gridres, which never overwrites it; move it away "
                    f"or choose another {self.option or 'folder'}")
            self._files.add(rel)
            self._write_record()
        return full

    def delegate(self, sub: str) -> Path:
        """Hand the subfolder ``sub`` to another owner (a nested :class:`OutputFolder`
        or a store with its own list of files); this folder no longer lists its content.

        Raises
        ------
        UsageError
            If ``sub`` already exists here, holds files, and is neither recorded here nor
            an output folder of gridres's own (with a record).
        """
        rel = self.relative(self.path / sub)
        full = self.path / rel
        if rel not in self._folders:
            inside = [f for f in self._files if f.startswith(rel + "/")]
            ours = bool(inside) or (full / RECORD).is_file()
            if full.is_symlink() or (full.exists() and not ours and any(full.iterdir())):
                raise UsageError(
                    f"{full}: not made by gridres, which never writes into it; move it away "
                    f"or choose another {self.option or 'folder'}")
            self._folders.add(rel)
            self._files.difference_update(inside)
            self._write_record()
        return full

    def remove(self, path: str | os.PathLike) -> bool:
        """Delete a recorded file (and forget it); ``False`` if it was not there.

        Raises
        ------
        UsageError
            If ``path`` is not recorded: gridres deletes only its own files.
        """
        rel = self.relative(path)
        if rel not in self._files:
            raise UsageError(f"{self.path / rel}: not written by gridres; not removed")
        existed = (self.path / rel).exists()
        (self.path / rel).unlink(missing_ok=True)
        self._files.discard(rel)
        self._write_record()
        return existed

    # -- what is here ----------------------------------------------------------------
    def _walk(self) -> Iterator[tuple[str, bool]]:
        """``(relative path, is_folder)`` of every entry outside delegated subfolders;
        folders are yielded but not entered when they are symbolic links."""
        stack = [""]
        while stack:
            base = stack.pop()
            try:
                entries = list(os.scandir(self.path / base if base else self.path))
            except FileNotFoundError:
                continue
            for entry in entries:
                rel = f"{base}/{entry.name}" if base else entry.name
                if not base and entry.name in (LOCK, RECORD):
                    continue
                if rel in self._folders:
                    continue
                is_dir = entry.is_dir(follow_symlinks=False)
                yield rel, is_dir
                if is_dir:
                    stack.append(rel)

    def _drop_temporaries(self) -> None:
        dropped = 0
        for rel, is_dir in list(self._walk()):
            if is_temporary(rel.rsplit("/", 1)[-1]):
                full = self.path / rel
                if is_dir:
                    shutil.rmtree(full, ignore_errors=True)
                else:
                    full.unlink(missing_ok=True)
                dropped += 1
        if dropped:
            logger.info("%s: removed %d unfinished temporary file(s)", self.path, dropped)

    def foreign(self) -> list[str]:
        """Files here (relative paths, sorted), outside delegated subfolders, that gridres
        did not record."""
        out = []
        for rel, is_dir in self._walk():
            if is_temporary(rel.rsplit("/", 1)[-1]):
                continue
            if not is_dir and rel not in self._files:
                out.append(rel)
            elif is_dir and (self.path / rel).is_symlink():
                out.append(rel)
        return sorted(out)

    def check(self, also: Iterable[str] = ()) -> list[str]:
        """Refuse (without ``force``) a folder holding files gridres did not write;
        return those files (kept, never touched, with ``force``).

        Parameters
        ----------
        also : iterable of str
            More such files (relative paths) that the owner of a delegated subfolder
            found in it.

        Raises
        ------
        UsageError
            Naming the first such file and how many more there are.
        """
        found = sorted(set(self.foreign()) | set(also))
        if found and not self.force:
            more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
            raise UsageError(
                f"{self.path / found[0]}{more}: not written by gridres; {self.path} holds "
                "files of yours, so gridres will not write there: choose another folder, or "
                "add --force to write beside them (gridres never deletes or overwrites a "
                "file it did not write)")
        if found:
            logger.info("%s: keeping %d file(s) gridres did not write", self.path, len(found))
        return found


def _relative_ok(rel: str) -> bool:
    parts = rel.split("/")
    return bool(rel) and not rel.startswith("/") and ".." not in parts and "" not in parts
