"""The cache folder, its key, and the answers kept in it beside the parsed grids.

:mod:`gridres.io.cache` stores parsed grids in this folder under the SHA-256 of the
file's bytes. Beside an entry, a small JSON file keeps what a command answered from that
grid (``gridres info``'s summary), keyed again by how the user named the grid: asking
again needs neither the model nor pandas, so it answers at once. An answer is written
only after the command's full path (load, strict check, no warning) gave it, and it
depends on the file's bytes, the gridres version and the name alone.

This module uses the standard library only, so that reading an answer stays light.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from gridres.io.atomic import atomic_path

__all__ = ["cache_dir", "file_digest", "package_version", "read_answer", "write_answer",
           "answers_path"]

#: Names kept per answers file (the ways one file was named); the oldest go first.
_MAX_NAMES = 32


def package_version() -> str:
    """The gridres version (part of every key)."""
    from gridres import __version__

    return __version__


def cache_dir() -> Path | None:
    """The cache folder, or None when ``GRIDRES_CACHE=0`` turns the cache off.

    ``GRIDRES_CACHE_DIR`` if set; else ``$XDG_CACHE_HOME/gridres`` or
    ``~/.cache/gridres`` (Linux and other POSIX), ``~/Library/Caches/gridres`` (macOS),
    ``%LOCALAPPDATA%\\gridres\\cache`` (Windows).
    """
    if os.environ.get("GRIDRES_CACHE", "1").strip().lower() in ("0", "false", "no", "off"):
        return None
    explicit = os.environ.get("GRIDRES_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "gridres" / "cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "gridres"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gridres"


def file_digest(data: bytes) -> str:
    """SHA-256 of a file's bytes, in hex (the cache key)."""
    return hashlib.sha256(data).hexdigest()


def answers_path(folder: Path, digest: str) -> Path:
    """The answers file of the grid whose file has SHA-256 ``digest``."""
    return folder / f"{digest}-v{package_version()}.answers.json"


def _read(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def read_answer(digest: str, command: str, spec: str) -> Any:
    """What ``command`` answered for the file whose bytes have SHA-256 ``digest``
    (:func:`file_digest`), named ``spec``; None without a cache, where nothing is kept,
    or where the answers file does not read as expected."""
    folder = cache_dir()
    if folder is None:
        return None
    names = _read(answers_path(folder, digest)).get(command)
    if not isinstance(names, dict):
        return None
    return names.get(spec)


def write_answer(digest: str, command: str, spec: str, answer: Any) -> None:
    """Keep ``answer`` (JSON-ready) of ``command`` for the file whose bytes have SHA-256
    ``digest``, named ``spec``; does nothing without a cache, and never fails the
    command."""
    folder = cache_dir()
    if folder is None:
        return
    path = answers_path(folder, digest)
    doc = _read(path)
    names = doc.get(command)
    names = dict(names) if isinstance(names, dict) else {}
    names.pop(spec, None)
    names[spec] = answer
    while len(names) > _MAX_NAMES:
        names.pop(next(iter(names)))
    doc[command] = names
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            Path(tmp).write_text(json.dumps(doc), encoding="utf-8")
    except OSError:
        pass  # a read-only cache: the next command computes the answer again
