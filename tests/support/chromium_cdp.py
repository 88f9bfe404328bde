"""Debian's headless Chromium (/usr/bin/chromium), driven over the Chrome DevTools protocol, for
tests of the Admin UI against the real proxy. No browser download: `prepare_machine.sh` installs
the `chromium` package.

    with Chromium(tmp_path) as browser:
        page = browser.new_page()
        page.navigate("http://127.0.0.1:4100/ui/login")
        page.wait_for("document.querySelector('input[type=password]') !== null")
        page.type_into("input[type=password]", password)   # over the DevTools socket, never argv
        page.screenshot(tmp_path / "login.png")

The browser runs with the flags a CI machine needs (`--headless --no-sandbox --disable-gpu
--disable-quic --no-first-run --disable-background-networking --disable-component-update
--disable-sync`), a fresh `--user-data-dir` under the caller's directory, and
`--remote-debugging-port=0` (the kernel picks a free port; DevTools listens on 127.0.0.1 only and
Chromium writes the port to `<user-data-dir>/DevToolsActivePort`). `close()` ends the process it
started (by its own pid) and nothing else. Uses the `websockets` client the pinned LiteLLM installs.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any, Optional

from websockets.sync.client import connect

CHROMIUM = "/usr/bin/chromium"
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1400,1000",
)


class BrowserError(RuntimeError):
    pass


def chromium_path() -> str:
    path = shutil.which("chromium") or (CHROMIUM if os.access(CHROMIUM, os.X_OK) else None)
    if not path:
        raise BrowserError("Chromium is missing: run tests/support/prepare_machine.sh (Debian package `chromium`)")
    return path


class Chromium:
    def __init__(self, work_dir: Path, *, start_timeout: float = 60.0, extra_flags: tuple[str, ...] = ()) -> None:
        self.profile = Path(work_dir) / "chromium-profile"
        self.profile.mkdir(parents=True, exist_ok=True)
        self.log_path = Path(work_dir) / "chromium.log"
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [chromium_path(), *FLAGS, *extra_flags, f"--user-data-dir={self.profile}", "--remote-debugging-port=0",
             "--remote-debugging-address=127.0.0.1", "about:blank"],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        port_file = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + start_timeout
        while not (port_file.exists() and len(port_file.read_text().splitlines()) >= 2):
            if self.process.poll() is not None:
                raise BrowserError(f"Chromium exited with {self.process.returncode}: {self.log_path.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                self.close()
                raise BrowserError(f"Chromium did not open DevTools within {start_timeout:.0f}s")
            time.sleep(0.2)
        port, path = port_file.read_text().splitlines()[:2]
        self.ws = connect(f"ws://127.0.0.1:{int(port)}{path}", max_size=64 * 1024 * 1024, open_timeout=30)
        self._ids = itertools.count(1)
        self._events: list[dict[str, Any]] = []

    # -- protocol ------------------------------------------------------------------------------
    def send(self, method: str, params: Optional[dict] = None, *, session: Optional[str] = None,
             timeout: float = 60.0) -> dict[str, Any]:
        msg_id = next(self._ids)
        message: dict[str, Any] = {"id": msg_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BrowserError(f"no answer to {method} within {timeout:.0f}s")
            reply = json.loads(self.ws.recv(timeout=remaining))
            if reply.get("id") == msg_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self._events.append(reply)

    def wait_event(self, method: str, *, session: Optional[str] = None, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for i, event in enumerate(self._events):
                if event["method"] == method and (session is None or event.get("sessionId") == session):
                    return self._events.pop(i)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BrowserError(f"no {method} event within {timeout:.0f}s")
            try:
                message = json.loads(self.ws.recv(timeout=remaining))
            except TimeoutError:
                continue
            if "method" in message:
                self._events.append(message)

    def new_page(self) -> "Page":
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session)
        for domain in ("Page", "Runtime", "Network"):
            page.send(f"{domain}.enable")
        return page

    def close(self) -> None:
        try:
            if getattr(self, "ws", None) is not None:
                self.ws.close()
        finally:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout=15)
            self._log.close()

    def __enter__(self) -> "Chromium":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Page:
    def __init__(self, browser: Chromium, session: str) -> None:
        self.browser, self.session = browser, session

    def send(self, method: str, params: Optional[dict] = None, timeout: float = 60.0) -> dict[str, Any]:
        return self.browser.send(method, params, session=self.session, timeout=timeout)

    def navigate(self, url: str, *, timeout: float = 90.0) -> None:
        self.browser._events = [e for e in self.browser._events if e["method"] != "Page.loadEventFired"]
        result = self.send("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise BrowserError(f"navigation to {url} failed: {result['errorText']}")
        self.browser.wait_event("Page.loadEventFired", session=self.session, timeout=timeout)

    def evaluate(self, expression: str, *, timeout: float = 60.0) -> Any:
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True},
                           timeout=timeout)
        if "exceptionDetails" in result:
            raise BrowserError(f"script failed: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def wait_for(self, expression: str, *, timeout: float = 90.0, what: str = "") -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise BrowserError(f"{what or expression}: not true within {timeout:.0f}s; page text: "
                                   f"{str(self.text())[:1500]!r}")
            time.sleep(0.5)

    def text(self) -> str:
        return self.evaluate("document.body ? document.body.innerText : ''") or ""

    def url(self) -> str:
        return self.evaluate("window.location.href")

    def type_into(self, selector: str, text: str) -> None:
        """Focus the element and type `text` as keyboard input (React sees real input events)."""
        found = self.evaluate(f"(() => {{ const e = document.querySelector({json.dumps(selector)}); "
                              "if (!e) return false; e.focus(); e.select && e.select(); return true; })()")
        if not found:
            raise BrowserError(f"no element {selector}")
        self.send("Input.insertText", {"text": text})

    def click(self, selector: str) -> None:
        found = self.evaluate(f"(() => {{ const e = document.querySelector({json.dumps(selector)}); "
                              "if (!e) return false; e.click(); return true; })()")
        if not found:
            raise BrowserError(f"no element {selector}")

    def screenshot(self, path: Path) -> Path:
        data = self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": False})["data"]
        Path(path).write_bytes(base64.b64decode(data))
        return Path(path)
