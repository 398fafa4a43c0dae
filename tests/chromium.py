"""Open a local HTML file in headless Chromium over the DevTools protocol and report
what happened: every request, console and log errors, image sizes, a screenshot.

Used by the report tests. Needs a ``chromium`` executable and the ``websocket-client``
package; :func:`unavailable` says which is missing.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import shutil
import subprocess
import tempfile
import time
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


def unavailable() -> str | None:
    """Why the browser check cannot run here, or None."""
    if executable() is None:
        return "chromium is not installed (CI installs the Debian package chromium)"
    try:
        import websocket  # noqa: F401
    except ImportError:
        return "the websocket-client package is not installed"
    return None


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
    with tempfile.TemporaryDirectory(prefix="gridres-test-chromium-") as profile:
        proc = subprocess.Popen(
            [exe, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0",
             "--window-size=1100,900", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
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
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def load(path: str | Path, width: int = 1100) -> PageReport:
    """Load ``path`` (a local file) in a fresh headless Chromium and report on it."""
    import websocket

    url = Path(path).resolve().as_uri()
    report = PageReport()
    with _browser() as port:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            targets = json.loads(r.read())
        page = next(t for t in targets if t.get("type") == "page")
        ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=60,
                                         suppress_origin=True)
        try:
            s = _Session(ws)
            for domain in ("Page", "Network", "Runtime", "Log"):
                s.send(f"{domain}.enable")
            s.send("Emulation.setDeviceMetricsOverride",
                   {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False})
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
        finally:
            ws.close()
    return report
