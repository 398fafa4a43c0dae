"""TOML text helpers for study files: where each key is, and writing TOML back.

:mod:`tomllib` parses TOML into plain dicts but keeps no positions, so a message about
``restoration.crews`` could not say on which line the value sits. :func:`key_lines`
recovers them by skimming the (already valid) text once: it follows table headers
(``[a.b]``, ``[[a]]`` with a running index per array of tables), dotted keys, inline
tables and arrays, and records the line where every key path begins. A path that is
not found (a default, or a missing key) falls back to its deepest enclosing path that
is, down to the table header; see :func:`line_of`.

:func:`dumps` writes the subset of TOML that resolved studies need (tables, arrays of
tables, strings, numbers, booleans, arrays, inline tables) with stable key order.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["key_lines", "line_of", "format_path", "dumps", "quote"]

Path = tuple[str | int, ...]

_BARE = re.compile(r"[A-Za-z0-9_-]+")


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n",
            "\f": "\\f", "\r": "\\r"}


def quote(text: str) -> str:
    """``text`` as a TOML basic string (control characters escaped).

    Examples
    --------
    >>> print(quote('say "hi"'))
    "say \\"hi\\""
    """
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def format_path(path: Sequence[str | int]) -> str:
    """``("hazard", 0, "fragility", "beta")`` -> ``"hazard[0].fragility.beta"``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            text = part if _BARE.fullmatch(part) else quote(part)
            out += ("." if out else "") + text
    return out


class _Skimmer:
    """Walks valid TOML text and records the line of every key path."""

    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.line = 1
        self.lines: dict[Path, int] = {}
        self.aot: dict[tuple[str, ...], int] = {}  # array-of-tables counters

    # -- low-level -------------------------------------------------------------------
    def peek(self, k: int = 0) -> str:
        j = self.i + k
        return self.s[j] if j < len(self.s) else ""

    def advance(self, n: int = 1) -> None:
        chunk = self.s[self.i:self.i + n]
        self.line += chunk.count("\n")
        self.i += n

    def skip_ws(self, newlines: bool) -> None:
        while self.i < len(self.s):
            c = self.s[self.i]
            if c in " \t\r" or (newlines and c == "\n"):
                self.advance()
            elif c == "#":
                while self.i < len(self.s) and self.s[self.i] != "\n":
                    self.i += 1
            else:
                return

    def string(self) -> str:
        s = self.s
        if s.startswith('"""', self.i) or s.startswith("'''", self.i):
            q = s[self.i:self.i + 3]
            end = s.find(q, self.i + 3)
            while q == '"""' and end > 0 and _escaped(s, end):
                end = s.find(q, end + 1)
            # a closing delimiter may be followed by up to two more quotes
            while s.startswith(q[0], end + 3):
                end += 1
            raw = s[self.i + 3:end]
            self.advance(end + 3 - self.i)
            return raw
        q = s[self.i]
        j = self.i + 1
        while j < len(s) and s[j] != q:
            j += 2 if (q == '"' and s[j] == "\\") else 1
        raw = s[self.i + 1:j]
        self.advance(j + 1 - self.i)
        if q == '"':
            try:
                import json

                return json.loads('"' + raw + '"')
            except ValueError:
                return raw
        return raw

    def key(self) -> list[str]:
        parts = []
        while True:
            self.skip_ws(False)
            c = self.peek()
            if c in "\"'":
                parts.append(self.string())
            else:
                m = _BARE.match(self.s, self.i)
                if not m:
                    break
                parts.append(m.group())
                self.advance(m.end() - self.i)
            self.skip_ws(False)
            if self.peek() == ".":
                self.advance()
                continue
            break
        return parts

    # -- values ----------------------------------------------------------------------
    def value(self, path: Path) -> None:
        c = self.peek()
        if c in "\"'":
            self.string()
        elif c == "[":
            self.advance()
            index = 0
            while True:
                self.skip_ws(True)
                if self.peek() == "]":
                    self.advance()
                    return
                self.lines.setdefault((*path, index), self.line)
                self.value((*path, index))
                index += 1
                self.skip_ws(True)
                if self.peek() == ",":
                    self.advance()
        elif c == "{":
            self.advance()
            while True:
                self.skip_ws(False)
                if self.peek() == "}":
                    self.advance()
                    return
                self.keyval(path)
                self.skip_ws(False)
                if self.peek() == ",":
                    self.advance()
        else:
            while self.i < len(self.s) and self.s[self.i] not in ",]}\n#":
                self.i += 1

    def keyval(self, base: Path) -> None:
        line = self.line
        parts = self.key()
        full = base
        for p in parts:
            full = (*full, p)
            self.lines.setdefault(full, line)
        self.skip_ws(False)
        if self.peek() == "=":
            self.advance()
        self.skip_ws(False)
        self.value(full)

    def header(self) -> Path:
        aot = self.peek(1) == "["
        self.advance(2 if aot else 1)
        parts = self.key()
        self.advance(2 if aot else 1)
        resolved: list[str | int] = []
        for n, part in enumerate(parts):
            resolved.append(part)
            prefix = tuple(parts[: n + 1])
            last = n == len(parts) - 1
            if aot and last:
                self.lines.setdefault(tuple(resolved), self.line)
                self.aot[prefix] = self.aot.get(prefix, 0) + 1
                resolved.append(self.aot[prefix] - 1)
            elif prefix in self.aot:
                resolved.append(self.aot[prefix] - 1)
            self.lines.setdefault(tuple(resolved), self.line)
        if aot:
            # a new element restarts the counters of arrays nested inside it
            for key in [k for k in self.aot if len(k) > len(parts) and k[: len(parts)] == tuple(parts)]:
                del self.aot[key]
        return tuple(resolved)

    def run(self) -> dict[Path, int]:
        table: Path = ()
        while True:
            self.skip_ws(True)
            if self.i >= len(self.s):
                return self.lines
            if self.peek() == "[":
                table = self.header()
            else:
                self.keyval(table)


def _escaped(s: str, pos: int) -> bool:
    n = 0
    while pos - 1 - n >= 0 and s[pos - 1 - n] == "\\":
        n += 1
    return n % 2 == 1


def key_lines(text: str) -> dict[Path, int]:
    """Line (1-based) where each key path of a valid TOML document begins.

    Parameters
    ----------
    text : str
        TOML text that :func:`tomllib.loads` accepts.

    Returns
    -------
    dict
        Maps key paths such as ``("hazard", 0, "fragility", "beta")`` to line numbers.
        Array elements are keyed by their index; tables by their header line.

    Examples
    --------
    >>> lines = key_lines('[a]\\nx = 1\\n[[h]]\\ny = {z = 2}\\n[[h]]\\ny = 3\\n')
    >>> lines[("a", "x")], lines[("h", 0, "y", "z")], lines[("h", 1, "y")]
    (2, 4, 6)

    Notes
    -----
    One pass over the text, ``O(len(text))``.
    """
    try:
        return _Skimmer(text).run()
    except (IndexError, ValueError):  # pragma: no cover - text was validated by tomllib
        return {}


def line_of(lines: Mapping[Path, int], path: Sequence[str | int]) -> int | None:
    """Line of ``path``, or of its deepest enclosing path that has one (None if none)."""
    path = tuple(path)
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return None


# -- writing -----------------------------------------------------------------------------
def _scalar(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return quote(v)
    if isinstance(v, Mapping):
        return "{" + ", ".join(f"{format_path([k])} = {_scalar(x)}" for k, x in v.items()) + "}"
    if isinstance(v, Sequence):
        return "[" + ", ".join(_scalar(x) for x in v) + "]"
    if hasattr(v, "item"):  # numpy scalar
        return _scalar(v.item())
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def _is_aot(v: Any) -> bool:
    return (isinstance(v, Sequence) and not isinstance(v, str) and len(v) > 0
            and all(isinstance(x, Mapping) for x in v))


def _table(lines: list[str], path: list[str], table: Mapping[str, Any], aot: bool) -> None:
    plain = {k: v for k, v in table.items()
             if v is not None and not isinstance(v, Mapping) and not _is_aot(v)}
    subs = {k: v for k, v in table.items() if isinstance(v, Mapping)}
    arrays = {k: v for k, v in table.items() if _is_aot(v)}
    if path and (plain or aot or not (subs or arrays)):
        if lines:
            lines.append("")
        head = format_path(path)
        lines.append(f"[[{head}]]" if aot else f"[{head}]")
    for k, v in plain.items():
        lines.append(f"{format_path([k])} = {_scalar(v)}")
    for k, v in subs.items():
        _table(lines, [*path, k], v, False)
    for k, v in arrays.items():
        for item in v:
            _table(lines, [*path, k], item, True)


def dumps(doc: Mapping[str, Any], header: str = "") -> str:
    """Write a mapping as TOML.

    ``None`` values are left out (TOML has no null). Nested mappings become tables,
    lists of mappings arrays of tables, other lists arrays.

    Examples
    --------
    >>> import tomllib
    >>> doc = {"study": {"seed": 1}, "hazard": [{"kind": "circle", "radius_km": 5.0}]}
    >>> tomllib.loads(dumps(doc)) == doc
    True
    """
    lines: list[str] = [f"# {h}" if h else "#" for h in header.splitlines()] if header else []
    if lines:
        lines.append("")
    body: list[str] = []
    _table(body, [], doc, False)
    return "\n".join(lines + body) + "\n"
