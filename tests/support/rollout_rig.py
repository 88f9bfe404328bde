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
from typing import Any, Callable, Optional

import httpx

from config.litellm_settings import PINNED_LITELLM_VERSION
from offline.engine import ProgramRun, RecordedResource, run_stack
from rendering.admin_ui_dirs import build_ui_dirs_lines
from tests.support.fake_upstreams import FakeOllama, free_port
from tests.support.proxy_harness import OFFLINE_ENV
from tests.support.tls_material import RealTlsOutputs
from tests.support.transitions import Executor, Plan, describe, plan, state_after

MASTER_KEY = "sk-rollout-rig-master-key-0123456789"
PROJECT_DIR = Path(__file__).resolve().parents[2]
# The last release of this project before issue 15: four rollout steps per host (drain, service,
# ready, enable), files written in place by their own steps, one venv.
PREVIOUS_RELEASE = "5ffc9d73dbacdc358c4dbf17bda17b4d52674709"

_PREVIOUS_PROGRAM = r"""
import dataclasses, json, sys
from offline.engine import run_stack
args = json.loads(sys.stdin.read())
run = run_stack("local", secrets=args["secrets"], overrides=args["overrides"])
json.dump({"stack": run.stack, "outputs": run.outputs, "secret_outputs": sorted(run.secret_outputs),
           "resources": [dataclasses.asdict(r) for r in run.resources]}, sys.stdout, default=str)
"""


def previous_release_program(secrets: dict[str, str], overrides: dict[str, Any], commit: str = PREVIOUS_RELEASE) -> ProgramRun:
    """The program of an earlier release of this project (its own code, checked out of git into a
    temporary tree and run under the mock engine in a child process), as the engine's state of a
    stack deployed with it. The secrets travel on the child's stdin, the program on its stdout."""
    import json
    import subprocess

    with tempfile.TemporaryDirectory(prefix="litellm-previous-release-") as tree:
        git = ["git", "-C", str(PROJECT_DIR)]
        if subprocess.run([*git, "cat-file", "-e", f"{commit}^{{commit}}"], capture_output=True).returncode != 0:
            # a shallow clone (CI's may be) lacks the old release: fetch that one commit from origin
            fetched = subprocess.run([*git, "fetch", "--quiet", "--depth", "1", "origin", commit], capture_output=True, text=True)
            if fetched.returncode != 0:
                raise RuntimeError(f"commit {commit[:7]} (the previous release this row deploys first) is not in this "
                                   f"clone and `git fetch origin {commit}` failed: {fetched.stderr.strip()[-500:]}")
        archive = subprocess.run([*git, "archive", commit], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", tree], input=archive, check=True)
        proc = subprocess.run(
            [sys.executable, "-c", _PREVIOUS_PROGRAM], cwd=tree, input=json.dumps({"secrets": secrets, "overrides": overrides}).encode(),
            capture_output=True, timeout=600, env={**os.environ, "PYTHONPATH": tree},
        )
        if proc.returncode != 0:
            raise RuntimeError(f"the program of {commit[:7]} failed:\n{proc.stderr.decode()[-3000:]}")
    data = json.loads(proc.stdout)
    known = {f.name for f in RecordedResource.__dataclass_fields__.values()}
    resources = [RecordedResource(**{k: v for k, v in r.items() if k in known}) for r in data["resources"]]
    return ProgramRun(stack=data["stack"], resources=resources, outputs=data["outputs"], secret_outputs=set(data["secret_outputs"]))


def _install_stand_in(broken_dir: Path):
    """The host's install, without the network: the venv the install would make (one per release,
    `<install_dir>/venvs/<version>-<hash>`) holds `bin/python` and `bin/litellm` wrappers that exec
    the test venv's. `bin/litellm` exits 1 instead while `<broken_dir>/<version>` exists: a broken
    release, as the rollout tests need one (the readiness wait fails: the process is gone)."""

    def stand_in(r: RecordedResource) -> Optional[str]:
        if "litellm-gateway:host:LiteLLMHost" not in r.urn:
            return None  # the front door's install runs as rendered
        match = re.search(r"^VENV=(.+)$", r.inputs["create"], re.MULTILINE)
        assert match, "the install script names its venv"
        venv = shlex.split(match.group(1))[0]
        version = os.path.basename(venv).split("-", 1)[0]
        flag = shlex.quote(str(broken_dir / version))
        real = shlex.quote(sys.prefix + "/bin")
        v = shlex.quote(venv)
        return (
            "set -e\n"
            f"mkdir -p {v}/bin\n"
            f"printf '#!/bin/bash\\nexec %s/python \"$@\"\\n' {real} > {v}/bin/python\n"
            f"printf '#!/bin/bash\\nif [ -e %s ]; then echo \"simulated broken release\" >&2; exit 1; fi\\nexec %s/litellm \"$@\"\\n' {flag} {real} > {v}/bin/litellm\n"
            f"chmod 0755 {v}/bin/python {v}/bin/litellm\n"
            # the Admin UI directories LITELLM_UI_PATH names, as the rendered install builds them
            f"VENV={v}\n" + "\n".join(build_ui_dirs_lines()) + "\n"
        )

    return stand_in


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

    def __init__(self, url: str, concurrency: int = 4, max_requests: int = 100000, min_requests: int = 0, key: str = MASTER_KEY,
                 verify: Any = True, client: Optional[Callable[[], httpx.Client]] = None, extensions: Optional[dict] = None):
        self.url, self.concurrency, self.max_requests, self.min_requests = url, concurrency, max_requests, min_requests
        self.key = key
        self.verify = verify  # https: an ssl.SSLContext trusting the stack's CA(s)
        # or the clients themselves (e.g. verifying TLS against a test CA), and per-request
        # extensions (sni_hostname: the name verified when the URL holds an address)
        self.client = client or (lambda: httpx.Client(timeout=60, trust_env=False, verify=self.verify))
        self.extensions = dict(extensions or {})
        self.stats = LoadStats()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def _worker(self) -> None:
        with self.client() as http:
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
                        headers={"Authorization": f"Bearer {self.key}"},
                        json={"model": "llama3.2", "messages": [{"role": "user", "content": f"hello {uuid.uuid4().hex}"}]},
                        extensions=self.extensions,
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


def read_chat_stream(resp: httpx.Response) -> tuple[str, bool]:
    """A streamed chat completion's text and whether it ended with `data: [DONE]`."""
    import json

    content, done = "", False
    for line in resp.iter_lines():
        if line == "data: [DONE]":
            done = True
        elif line.startswith("data: "):
            choices = json.loads(line[6:]).get("choices") or [{}]
            content += (choices[0].get("delta") or {}).get("content") or ""
    return content, done


class RolloutRig:
    """Deploys `hosts` (name -> loopback address) behind the front door on this machine.

    tls=True: HTTPS everywhere with `tls.issuer: internal-ca`; each program run names its CA
    (`program(..., tls_ca=(cert, key), previous_ca_cert=...)`), the tls resources are computed for
    real (tests.support.tls_material.RealTlsOutputs), and the load trusts `client_cas`."""

    def __init__(self, front_door: bool = True, tls: bool = False):
        self.workdir = Path(tempfile.mkdtemp(prefix="litellm-rollout-"))
        self.port = free_port()
        self.run_id = uuid.uuid4().hex[:8]
        self.fake = FakeOllama(f"rollout-{self.run_id}").start()
        self.front_door = front_door
        self.tls = tls
        self.tls_outputs = RealTlsOutputs() if tls else None
        self.client_cas: list[str] = []  # PEM of the CAs the load's clients trust (tls)
        self.current: Optional[ProgramRun] = None
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "HOME": str(self.workdir),
            "LANG": "C.UTF-8",
            **OFFLINE_ENV,
            "OLLAMA_API_BASE": self.fake.base_url,
        }
        self.broken = self.workdir / "broken-releases"
        self.broken.mkdir()
        self.executor = Executor(self.env, str(self.workdir), substitute={"-install": _install_stand_in(self.broken)})

    # ---- the stack config ------------------------------------------------------------------
    def overrides(self, hosts: list[dict[str, Any]], *, routing_timeout: int = 30, rollout: str = "one-at-a-time",
                  readiness_timeout: int = 180, drain_timeout: Optional[int] = None,
                  version: str = PINNED_LITELLM_VERSION, previous_ca_cert: Optional[str] = None,
                  with_one_host: bool = False) -> dict[str, Any]:
        install = self.workdir / "deploy"
        return {
            "litellm": {
                "deploy": "local", "version": version, "port": self.port, "bind_host": "127.0.0.1",
                "workers": 1, "install_dir": str(install), "config_dir": str(install / "etc"),
                "model_source": "config", "readiness_timeout_seconds": readiness_timeout, "hosts": hosts,
            },
            "postgres": {"enabled": False, "host": "127.0.0.1"},
            "redis": {"host": "127.0.0.1", "port": 6379},
            "cache": {"enabled": False},
            "tls": ({"enabled": True, "issuer": "internal-ca",
                     **({"previous_ca_cert": previous_ca_cert} if previous_ca_cert else {})} if self.tls else {"enabled": False}),
            "models": [{"id": f"rollout-{self.run_id}", "model_name": "llama3.2", "provider": "ollama_chat",
                        "model": "llama3.2", "api_base": self.fake.base_url}],
            "routing": {"num_retries": 1, "timeout": routing_timeout},
            "keys": [],
            "teams": [],
            "frontDoor": {"address": "127.0.0.1", "check_interval_ms": 500, "fall": 2, "rise": 2,
                          **({"with_one_host": True} if with_one_host else {})},
            # the drain timeout defaults to routing.timeout (config/front_door.py)
            "rollout": {"mode": rollout, **({"drain_timeout_seconds": drain_timeout} if drain_timeout is not None else {})},
        }

    def program(self, hosts: list[dict[str, Any]], **kw: Any) -> ProgramRun:
        secrets = {"masterKey": MASTER_KEY}
        for name, value in (kw.pop("env_secrets", None) or {}).items():
            secrets[f"envSecrets.{name}"] = value
        tls_ca = kw.pop("tls_ca", None)
        if self.tls:
            assert tls_ca is not None, "a TLS rig's program names its CA: tls_ca=(cert PEM, key PEM)"
            secrets["tlsCaCert"], secrets["tlsCaKey"] = tls_ca
        return run_stack("local", secrets=secrets, overrides=self.overrides(hosts, **kw), outputs_for=self.tls_outputs)

    def previous_release(self, hosts: list[dict[str, Any]], **kw: Any) -> ProgramRun:
        """`program` as the previous release of this project (PREVIOUS_RELEASE) renders it."""
        return previous_release_program({"masterKey": MASTER_KEY}, self.overrides(hosts, **kw))

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def client_verify(self) -> Any:
        """What the load's clients verify the front door with: the CAs of `client_cas` (tls)."""
        if not self.tls:
            return True
        import ssl

        context = ssl.create_default_context(cadata="".join(self.client_cas))
        return context

    # ---- changes ------------------------------------------------------------------------------
    def apply(self, new: Optional[ProgramRun]) -> Plan:
        """Plan from the engine's state (`current`) and execute; on a failed step `current`
        becomes what the engine would store (tests.support.transitions.state_after) and the
        failure is raised."""
        p = plan(self.current, new)
        try:
            self.executor.execute(p)
        except BaseException:
            self.current = state_after(p, self.current, new, self.executor.completed)
            raise
        self.current = new
        return p

    # ---- the front door's view --------------------------------------------------------------
    @property
    def admin_socket(self) -> Path:
        return self.workdir / "deploy" / "frontdoor" / "admin.sock"

    def _stat(self) -> list[dict[str, str]]:
        """HAProxy's `show stat` rows of the backend's servers."""
        import csv
        import io
        import socket as socketlib

        from rendering.haproxy_cfg import BACKEND

        with socketlib.socket(socketlib.AF_UNIX, socketlib.SOCK_STREAM) as sock:
            sock.settimeout(10)
            sock.connect(str(self.admin_socket))
            sock.sendall(b"show stat\n")
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        rows = csv.DictReader(io.StringIO(data.decode().lstrip("# ")))
        return [r for r in rows if r["pxname"] == BACKEND and r["svname"] not in ("FRONTEND", "BACKEND")]

    def server_states(self) -> dict[str, str]:
        """HAProxy's status of every server of the backend (UP, DOWN, DRAIN, MAINT, ...)."""
        return {r["svname"]: r["status"] for r in self._stat()}

    def server_sessions(self) -> dict[str, int]:
        """The sessions each server of the backend has open now (`scur`)."""
        return {r["svname"]: int(r.get("scur") or 0) for r in self._stat()}

    def assert_all_up(self, settle_seconds: float = 20.0) -> dict[str, str]:
        """Every server UP. DRAIN/MAINT are admin states nothing clears by itself: they fail at
        once; a server coming UP (HAProxy's rise) gets `settle_seconds`."""
        deadline = time.monotonic() + settle_seconds
        while True:
            states = self.server_states()
            admin = {n: st for n, st in states.items() if st.startswith(("DRAIN", "MAINT")) or "DRAIN" in st}
            assert not admin, f"servers left out by an admin state: {states}"
            if states and all(st.startswith("UP") and "/" not in st for st in states.values()):
                return states
            assert time.monotonic() < deadline, f"not every server UP: {states}"
            time.sleep(0.5)

    def apply_under_load(self, new: ProgramRun, concurrency: int = 4, min_requests: int = 0,
                         settle_requests: int = 40) -> tuple[Plan, LoadStats]:
        load = Load(self.url, concurrency=concurrency, min_requests=min_requests, verify=self.client_verify()).start()
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
