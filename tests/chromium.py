"""Open a local HTML file in headless Chromium over the DevTools protocol and report
what happened: every request, console and log errors, image sizes, a screenshot.

Used by the report tests. Needs only a ``chromium`` executable: the DevTools websocket
is spoken with the standard library (:class:`_WebSocket`, the small part of RFC 6455
a local client needs). Tests call :func:`require` first: without Chromium they are
skipped with the reason (and fail where ``CI`` is set).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         # a request that gets out anyway resolves nowhere: the test sees it, nobody else
         "--host-resolver-rules=MAP * ~NOTFOUND")


def executable() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


#: Why the browser tests did not run, for the test summary.
MISSING = ("chromium is not installed: the browser tests of the report need it (Debian and "
           "Ubuntu: apt-get install chromium; see the README's Quick start)")


def unavailable() -> str | None:
    """Why the browser check cannot run here, or None."""
    if executable() is None:
        return MISSING
    return None


def require() -> None:
    """Skip the calling test where Chromium is missing, saying why; where the ``CI``
    environment variable is set (``.ci/run`` installs Chromium), fail instead: a CI run
    must not pass without the browser tests."""
    import pytest

    why = unavailable()
    if why is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{why}; CI is set, so the browser tests must run", pytrace=False)
    pytest.skip(why)


class _WebSocket:
    """A minimal websocket client (RFC 6455): text frames, fragmentation, ping/pong."""

    def __init__(self, url: str, timeout: float = 60.0) -> None:
        u = urllib.parse.urlparse(url)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {u.path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\n"
                           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
                           ).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1024)
            if not chunk:
                raise ConnectionError("websocket handshake: connection closed")
            head += chunk
        head, self.buf = head.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise ConnectionError(f"websocket handshake refused: {head[:80]!r}")

    def _read(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.sock.recv(max(65536, n - len(self.buf)))
            if not chunk:
                raise ConnectionError("websocket closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _frame(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(head + mask + masked)

    def send(self, text: str) -> None:
        self._frame(0x1, text.encode())

    def recv(self) -> str:
        parts: list[bytes] = []
        while True:
            b0, b1 = self._read(2)
            opcode, n = b0 & 0x0F, b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read(8))[0]
            mask = self._read(4) if b1 & 0x80 else b""
            data = self._read(n)
            if mask:
                data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
            if opcode == 0x9:  # ping
                self._frame(0xA, data)
                continue
            if opcode == 0x8:
                raise ConnectionError("websocket closed by chromium")
            if opcode in (0x0, 0x1, 0x2):
                parts.append(data)
                if b0 & 0x80:
                    return b"".join(parts).decode()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._frame(0x8, b"")
        self.sock.close()


@dataclass
class PageReport:
    """What loading a page did."""

    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    images: list[dict] = field(default_factory=list)
    title: str = ""
    height: int = 0
    screenshot: bytes = b""


class _Session:
    def __init__(self, ws) -> None:
        self.ws = ws
        self.next_id = 0
        self.events: list[dict] = []

    def send(self, method: str, params: dict | None = None, timeout: float = 30.0) -> dict:
        self.next_id += 1
        msg_id = self.next_id
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params or {}}))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)
        raise TimeoutError(method)

    def wait_for(self, method: str, timeout: float = 60.0) -> dict:
        for ev in self.events:
            if ev.get("method") == method:
                return ev
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = json.loads(self.ws.recv())
            self.events.append(msg)
            if msg.get("method") == method:
                return msg
        raise TimeoutError(method)


@contextlib.contextmanager
def _browser():
    exe = executable()
    assert exe is not None
    # the browser runs in its own process group, ended whole, so that its helpers
    # (renderer, GPU, crash handler) stop writing to the profile before it is removed;
    # whatever one leaves there anyway does not fail the test
    with tempfile.TemporaryDirectory(prefix="gridres-test-chromium-",
                                     ignore_cleanup_errors=True) as profile:
        proc = subprocess.Popen(
            [exe, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0",
             "--window-size=1100,900", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            start_new_session=True)
        try:
            port = None
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and port is None:
                line = proc.stderr.readline()
                if not line and proc.poll() is not None:
                    break
                m = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
                if m:
                    port = int(m.group(1))
            if port is None:
                raise RuntimeError("chromium did not start its DevTools server")
            yield port
        finally:
            _end_group(proc)


def _end_group(proc: subprocess.Popen) -> None:
    """Terminate the browser's process group, kill what is left after 10 s, and wait
    until none of its processes is left."""
    def signal_group(sig: int) -> bool:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return False
        return True

    signal_group(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    deadline = time.monotonic() + 10
    while signal_group(0) and time.monotonic() < deadline:  # helpers still exiting
        time.sleep(0.05)
    if signal_group(signal.SIGKILL):
        time.sleep(0.1)
    proc.wait()


@dataclass
class PageContent:
    """What a reader sees of a page: its text, every image with where it lies and the
    data ranges the report attached to it, and a screenshot of every section."""

    text: str = ""
    images: list[dict] = field(default_factory=list)
    sections: dict[str, bytes] = field(default_factory=dict)
    boxes: dict[str, dict] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


_CONTENT = """JSON.stringify({
  text: document.body.innerText,
  images: Array.from(document.images).map(i => {
    const r = i.getBoundingClientRect();
    return {alt: i.alt, ranges: i.dataset.ranges || null, complete: i.complete,
            naturalWidth: i.naturalWidth, naturalHeight: i.naturalHeight,
            x: r.left + window.scrollX, y: r.top + window.scrollY, width: r.width,
            height: r.height,
            section: (i.closest('section') || {id: ''}).id};
  }),
  sections: Array.from(document.querySelectorAll('section[id]')).map(s => {
    const r = s.getBoundingClientRect();
    return {id: s.id, x: r.left + window.scrollX, y: r.top + window.scrollY,
            width: r.width, height: r.height};
  })
})"""


@contextlib.contextmanager
def _page(width: int, domains: tuple[str, ...]):
    """A DevTools session on the page of a fresh headless Chromium, ``width`` CSS pixels
    wide, with ``domains`` enabled."""
    with _browser() as port:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            targets = json.loads(r.read())
        page = next(t for t in targets if t.get("type") == "page")
        ws = _WebSocket(page["webSocketDebuggerUrl"])
        try:
            s = _Session(ws)
            for domain in domains:
                s.send(f"{domain}.enable")
            s.send("Emulation.setDeviceMetricsOverride",
                   {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False})
            yield s
        finally:
            ws.close()


def content(path: str | Path, width: int = 1400) -> PageContent:
    """Load ``path`` in a fresh headless Chromium ``width`` CSS pixels wide and return
    what a reader sees: text, images (with their ``data-ranges``) and one screenshot per
    ``<section id=...>``."""
    out = PageContent()
    with _page(width, ("Page", "Runtime")) as s:
        s.send("Page.navigate", {"url": Path(path).resolve().as_uri()})
        s.wait_for("Page.loadEventFired")
        found = s.send("Runtime.evaluate", {"expression": _CONTENT, "returnByValue": True})
        doc = json.loads(found["result"]["value"])
        out.text, out.images = doc["text"], doc["images"]
        for sec in doc["sections"]:
            out.boxes[sec["id"]] = sec
            height = max(1, min(int(sec["height"]) + 16, 16000))
            shot = s.send("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True,
                "clip": {"x": 0, "y": max(0, sec["y"] - 8), "width": width,
                         "height": height, "scale": 1}}, timeout=60)
            out.sections[sec["id"]] = base64.b64decode(shot["data"])
        out.errors = [ev["params"]["exceptionDetails"].get("text", "exception")
                      for ev in s.events if ev.get("method") == "Runtime.exceptionThrown"]
    return out


def load(path: str | Path, width: int = 1100) -> PageReport:
    """Load ``path`` (a local file) in a fresh headless Chromium and report on it."""
    url = Path(path).resolve().as_uri()
    report = PageReport()
    with _page(width, ("Page", "Network", "Runtime", "Log")) as s:
        s.events.clear()
        s.send("Page.navigate", {"url": url})
        s.wait_for("Page.loadEventFired")
        time.sleep(0.5)  # let late console messages arrive
        s.send("Runtime.evaluate", {"expression": "1", "returnByValue": True})
        images = s.send("Runtime.evaluate", {
            "expression": "JSON.stringify(Array.from(document.images).map(i => "
                          "({src: i.src.slice(0, 40), complete: i.complete, "
                          "naturalWidth: i.naturalWidth, naturalHeight: i.naturalHeight})))",
            "returnByValue": True})
        report.images = json.loads(images["result"]["value"])
        title = s.send("Runtime.evaluate", {"expression": "document.title",
                                            "returnByValue": True})
        report.title = title["result"]["value"]
        metrics = s.send("Page.getLayoutMetrics")
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        report.height = int(size["height"])
        shot = s.send("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": min(report.height, 16000),
                     "scale": 1}}, timeout=60)
        report.screenshot = base64.b64decode(shot["data"])
        for ev in s.events:
            method, params = ev.get("method"), ev.get("params", {})
            if method == "Network.requestWillBeSent":
                report.requests.append(params["request"]["url"])
            elif method == "Runtime.consoleAPICalled" and params.get("type") in (
                    "error", "assert"):
                report.errors.append(" ".join(str(a.get("value", a.get("description")))
                                              for a in params.get("args", [])))
            elif method == "Runtime.exceptionThrown":
                report.errors.append(params["exceptionDetails"].get("text", "exception"))
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                report.errors.append(params["entry"].get("text", ""))
    return report
