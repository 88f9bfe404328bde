"""The front door's reload script, executed with the real HAProxy on loopback: a staged config is
checked before it replaces the live one (a refused config changes nothing), and a server's admin
state (a drain) survives a reload (`server-state-file`)."""

from __future__ import annotations

import csv
import hashlib
import http.server
import threading
import io
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from offline.stack_inputs import load_stack_inputs
from rendering import front_door_scripts as fds
from rendering.haproxy_cfg import BACKEND, front_door_plan, render_haproxy_cfg
from tests.support.fake_upstreams import free_port

pytestmark = pytest.mark.slow


def _settings(tmp_path: Path, port: int):
    return load_stack_inputs("local", overrides={
        "litellm": {"deploy": "local", "port": port, "bind_host": "127.0.0.1", "workers": 1,
                    "install_dir": str(tmp_path / "i"), "config_dir": str(tmp_path / "i" / "etc"), "model_source": "config",
                    "hosts": [{"name": "proxy-a", "address": "127.0.0.2"}, {"name": "proxy-b", "address": "127.0.0.3"}]},
        "postgres": {"enabled": False, "host": "127.0.0.1"}, "keys": [], "teams": [],
        "cache": {"enabled": False}, "tls": {"enabled": False},
        "frontDoor": {"address": "127.0.0.1", "check_interval_ms": 500},
    }).settings()


def _admin(sock: str, line: str) -> str:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(sock)
        s.sendall((line + "\n").encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data.decode()


def _states(sock: str) -> dict[str, str]:
    rows = csv.DictReader(io.StringIO(_admin(sock, "show stat").lstrip("# ")))
    return {r["svname"]: r["status"] for r in rows if r["pxname"] == BACKEND and r["svname"] not in ("FRONTEND", "BACKEND")}


def _stage_and_reload(plan, text: str, cwd: Path) -> subprocess.CompletedProcess:
    staged = fds.staged_cfg_path(plan, hashlib.sha256(text.encode()).hexdigest())
    subprocess.run(["bash", "-c", fds.write_file_script(plan, staged, "0640")], input=text, text=True, check=True, cwd=cwd)
    return subprocess.run(["bash", "-c", fds.reload_script(plan, staged)], capture_output=True, text=True, cwd=cwd, timeout=60)


class _Ready(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def _wait_up(sock: str) -> None:
    deadline = time.monotonic() + 15
    while not all(st == "UP" for st in _states(sock).values()):
        assert time.monotonic() < deadline, _states(sock)
        time.sleep(0.2)


def test_reload_checks_the_staged_config_and_keeps_a_drain(tmp_path):
    port = free_port()
    s = _settings(tmp_path, port)
    plan = front_door_plan(s)
    # the two "proxies": healthy listeners on their loopback addresses
    servers = [http.server.ThreadingHTTPServer((address, port), _Ready) for address in ("127.0.0.2", "127.0.0.3")]
    for srv in servers:
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    subprocess.run(["bash", "-c", fds.install_script(plan)], check=True, cwd=tmp_path)
    first = render_haproxy_cfg(s, plan)
    try:
        started = _stage_and_reload(plan, first, tmp_path)
        assert started.returncode == 0, started.stderr
        for _ in range(50):
            if os.path.exists(plan.admin_socket):
                break
            time.sleep(0.1)
        _wait_up(plan.admin_socket)
        assert _admin(plan.admin_socket, f"set server {BACKEND}/proxy-a state drain").strip() == ""
        assert "DRAIN" in _states(plan.admin_socket)["proxy-a"]

        # a config HAProxy refuses: the step fails, the live file and the running process stay
        refused = _stage_and_reload(plan, first.replace("balance leastconn", "balance nonsense"), tmp_path)
        assert refused.returncode == 1 and "haproxy refused the new config" in refused.stderr
        assert Path(plan.config_file).read_text() == first

        # a reload (another config): the new process starts with proxy-a still drained
        second = first.replace("timeout check 5s", "timeout check 4s")
        old_pids = Path(plan.pid_file).read_text().split()
        reloaded = _stage_and_reload(plan, second, tmp_path)
        assert reloaded.returncode == 0, reloaded.stderr
        assert Path(plan.config_file).read_text() == second
        deadline = time.monotonic() + 10
        while Path(plan.pid_file).read_text().split() == old_pids and time.monotonic() < deadline:
            time.sleep(0.1)
        assert Path(plan.pid_file).read_text().split() != old_pids
        time.sleep(1.5)  # a few health checks of the new process
        assert _states(plan.admin_socket) == {"proxy-a": "DRAIN", "proxy-b": "UP"}
        # only the current staged config is kept
        staged = sorted(p.name for p in Path(plan.config_dir).glob("haproxy.cfg.*"))
        assert staged == [Path(fds.staged_cfg_path(plan, hashlib.sha256(second.encode()).hexdigest())).name]
    finally:
        for srv in servers:
            srv.shutdown()
            srv.server_close()
        subprocess.run(["bash", "-c", fds.stop_script(plan)], cwd=tmp_path)
        for text in (Path(plan.pid_file).read_text().split() if Path(plan.pid_file).exists() else []):
            try:
                os.kill(int(text), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
