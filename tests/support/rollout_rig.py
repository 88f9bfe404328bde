"""A local gateway with several proxies behind the real HAProxy front door, deployed and changed by
executing the real rendered scripts (tests.support.transitions), while a bounded load generator
sends chat completions through the front door. Used by tests/transitions and bench/bench_rollout.py.

Real: HAProxy (Debian's `haproxy`), the pinned LiteLLM proxy (the test venv's, linked in place of
the `install` step, which would pip-install from the network), Redis on 127.0.0.1:6379 (keys under
a per-run namespace; model ids per run), every other step's script as rendered. Fake: the LLM
upstream (tests.support.fake_upstreams.FakeOllama). No database (postgres disabled).
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import httpx

from config.litellm_settings import PINNED_LITELLM_VERSION
from offline.engine import ProgramRun, RecordedResource, run_stack
from tests.support.fake_upstreams import FakeOllama, free_port
from tests.support.proxy_harness import OFFLINE_ENV
from tests.support.transitions import Executor, Plan, describe, plan

MASTER_KEY = "sk-rollout-rig-master-key-0123456789"


def _install_stand_in(r: RecordedResource) -> Optional[str]:
    if "litellm-gateway:host:LiteLLMHost" not in r.urn:
        return None  # the front door's install runs as rendered
    match = re.search(r"^VENV=(.+)$", r.inputs["create"], re.MULTILINE)
    assert match, "the install script names its venv"
    venv = shlex.split(match.group(1))[0]
    return f"set -e\nmkdir -p {shlex.quote(os.path.dirname(venv))}\nln -sfn {shlex.quote(sys.prefix)} {shlex.quote(venv)}\n"


@dataclass
class LoadStats:
    sent: int = 0
    failed: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def p99(self) -> float:
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]


class Load:
    """`concurrency` clients, each sending one chat completion after the other (constant
    concurrency), until stop() or `max_requests` in total."""

    def __init__(self, url: str, concurrency: int = 4, max_requests: int = 100000, min_requests: int = 0):
        self.url, self.concurrency, self.max_requests, self.min_requests = url, concurrency, max_requests, min_requests
        self.stats = LoadStats()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def _worker(self) -> None:
        with httpx.Client(timeout=60, trust_env=False) as http:
            while True:
                with self._lock:
                    if (self._stop.is_set() and self.stats.sent >= self.min_requests) or self.stats.sent >= self.max_requests:
                        return
                    self.stats.sent += 1
                started = time.monotonic()
                ok, error = False, ""
                try:
                    resp = http.post(
                        f"{self.url}/v1/chat/completions",
                        headers={"Authorization": f"Bearer {MASTER_KEY}"},
                        json={"model": "llama3.2", "messages": [{"role": "user", "content": f"hello {uuid.uuid4().hex}"}]},
                    )
                    ok = resp.status_code == 200 and "[fake:" in resp.text
                    error = "" if ok else f"HTTP {resp.status_code}: {resp.text[:200]}"
                except httpx.HTTPError as exc:
                    error = f"{type(exc).__name__}: {exc}"
                elapsed = (time.monotonic() - started) * 1000
                with self._lock:
                    self.stats.latencies_ms.append(elapsed)
                    if not ok:
                        self.stats.failed += 1
                        self.stats.errors.append(error)
                if not ok:
                    time.sleep(0.1)  # a client backs off a little after an error (same rule in every mode)

    def start(self) -> "Load":
        for _ in range(self.concurrency):
            t = threading.Thread(target=self._worker, daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self) -> LoadStats:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=300)
        return self.stats


class RolloutRig:
    """Deploys `hosts` (name -> loopback address) behind the front door on this machine."""

    def __init__(self, front_door: bool = True):
        self.workdir = Path(tempfile.mkdtemp(prefix="litellm-rollout-"))
        self.port = free_port()
        self.run_id = uuid.uuid4().hex[:8]
        self.fake = FakeOllama(f"rollout-{self.run_id}").start()
        self.front_door = front_door
        self.current: Optional[ProgramRun] = None
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "HOME": str(self.workdir),
            "LANG": "C.UTF-8",
            **OFFLINE_ENV,
            "OLLAMA_API_BASE": self.fake.base_url,
        }
        self.executor = Executor(self.env, str(self.workdir), substitute={"-install": _install_stand_in})

    # ---- the stack config ------------------------------------------------------------------
    def overrides(self, hosts: list[dict[str, Any]], *, routing_timeout: int = 30, rollout: str = "one-at-a-time",
                  readiness_timeout: int = 180) -> dict[str, Any]:
        install = self.workdir / "deploy"
        return {
            "litellm": {
                "deploy": "local", "version": PINNED_LITELLM_VERSION, "port": self.port, "bind_host": "127.0.0.1",
                "workers": 1, "install_dir": str(install), "config_dir": str(install / "etc"),
                "model_source": "config", "readiness_timeout_seconds": readiness_timeout, "hosts": hosts,
            },
            "postgres": {"enabled": False, "host": "127.0.0.1"},
            "redis": {"host": "127.0.0.1", "port": 6379},
            "cache": {"enabled": False},
            "tls": {"enabled": False},
            "models": [{"id": f"rollout-{self.run_id}", "model_name": "llama3.2", "provider": "ollama_chat",
                        "model": "llama3.2", "api_base": self.fake.base_url}],
            "routing": {"num_retries": 1, "timeout": routing_timeout},
            "keys": [],
            "teams": [],
            "frontDoor": {"address": "127.0.0.1", "check_interval_ms": 500, "fall": 2, "rise": 2},
            "rollout": {"mode": rollout, "drain_timeout_seconds": 30},
        }

    def program(self, hosts: list[dict[str, Any]], **kw: Any) -> ProgramRun:
        secrets = {"masterKey": MASTER_KEY}
        for name, value in (kw.pop("env_secrets", None) or {}).items():
            secrets[f"envSecrets.{name}"] = value
        return run_stack("local", secrets=secrets, overrides=self.overrides(hosts, **kw))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # ---- changes ------------------------------------------------------------------------------
    def apply(self, new: Optional[ProgramRun]) -> Plan:
        p = plan(self.current, new)
        self.executor.execute(p)
        self.current = new
        return p

    def apply_under_load(self, new: ProgramRun, concurrency: int = 4, min_requests: int = 0,
                         settle_requests: int = 40) -> tuple[Plan, LoadStats]:
        load = Load(self.url, concurrency=concurrency, min_requests=min_requests).start()
        # some traffic before the change, some after (the restarted proxies serve it too)
        while load.stats.sent < settle_requests:
            time.sleep(0.05)
        p = self.apply(new)
        target = load.stats.sent + settle_requests
        while load.stats.sent < target:
            time.sleep(0.05)
        return p, load.stop()

    def close(self) -> None:
        try:
            if self.current is not None:
                self.apply(None)
        finally:
            # last resort: the pid files of what these scripts started (never anything else)
            for pid_file in list(self.workdir.rglob("litellm.pid")) + list(self.workdir.rglob("haproxy.pid")):
                for text in pid_file.read_text().split():
                    try:
                        os.killpg(int(text), signal.SIGKILL) if pid_file.name == "litellm.pid" else os.kill(int(text), signal.SIGKILL)
                    except (ProcessLookupError, ValueError, PermissionError):
                        pass
            self.fake.close()

    def describe(self, p: Plan) -> str:
        return describe(p)
