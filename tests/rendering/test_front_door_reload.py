"""The front door's reload script, executed with the real HAProxy on loopback: a staged config is
checked before it replaces the live one (a refused config changes nothing), a server's admin
state (a drain) survives a reload (`server-state-file`), and a staged CA bundle replaces the live
one only when it verifies every serving host (a CA rotation)."""

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
    return load_stack_inputs("local", overrides=_overrides(tmp_path, port)).settings()


def _overrides(tmp_path: Path, port: int) -> dict:
    return {
        "litellm": {"deploy": "local", "port": port, "bind_host": "127.0.0.1", "workers": 1,
                    "install_dir": str(tmp_path / "i"), "config_dir": str(tmp_path / "i" / "etc"), "model_source": "config",
                    "hosts": [{"name": "proxy-a", "address": "127.0.0.2"}, {"name": "proxy-b", "address": "127.0.0.3"}]},
        "postgres": {"enabled": False, "host": "127.0.0.1"}, "keys": [], "teams": [],
        "cache": {"enabled": False}, "tls": {"enabled": False},
        "frontDoor": {"address": "127.0.0.1", "check_interval_ms": 500},
    }


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


def _wait_for_socket(path: str) -> None:
    """The first start: HAProxy creates its admin socket (up to 5 s)."""
    for _ in range(50):
        if os.path.exists(path):
            return
        time.sleep(0.1)


def _stop_all(plan, servers, tmp_path) -> None:
    """The stand-in backends, then HAProxy by the rendered stop script (SIGKILL for what it left)."""
    for srv in servers:
        srv.shutdown()
        srv.server_close()
    subprocess.run(["bash", "-c", fds.stop_script(plan)], cwd=tmp_path)
    for text in (Path(plan.pid_file).read_text().split() if Path(plan.pid_file).exists() else []):
        try:
            os.kill(int(text), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass


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
        _wait_for_socket(plan.admin_socket)
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
        _stop_all(plan, servers, tmp_path)


def test_a_staged_ca_bundle_replaces_the_live_one_only_when_every_serving_host_verifies(tmp_path):
    """A CA rotation at the front door (issue 15): a staged bundle that would not verify the
    certificate a serving host presents now is refused (the step fails, the live bundle and the
    running HAProxy are kept, the staged one waits for the next run); the old CA + the new one is
    accepted; once the hosts present the new CA's certificates the old CA can go; a config HAProxy
    refuses puts the previous bundle back. The front door's own certificate + key is staged the
    same way: a refused reload leaves the live one (which a restart of HAProxy would load) as it was."""
    import ssl

    from tests.support.tls_material import make_server_cert, make_test_ca

    port = free_port()
    s = load_stack_inputs("local", overrides={**_overrides(tmp_path, port), "tls": {"enabled": True}}).settings()
    plan = front_door_plan(s)
    ca_a, key_a = make_test_ca("front door test CA A")
    ca_b, key_b = make_test_ca("front door test CA B")
    contexts = {}
    servers = []
    for name, address in (("proxy-a", "127.0.0.2"), ("proxy-b", "127.0.0.3")):
        contexts[name] = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        _load_cert(contexts[name], *make_server_cert(ca_a, key_a, [name]), tmp_path / name)
        srv = http.server.ThreadingHTTPServer((address, port), _Ready)
        srv.socket = contexts[name].wrap_socket(srv.socket, server_side=True)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
    subprocess.run(["bash", "-c", fds.install_script(plan)], check=True, cwd=tmp_path)
    # the front door's own certificates: A's at first, B's from the rotation on, then another of B's
    own = {tag: "".join(make_server_cert(ca, key, ["localhost"])) for tag, ca, key in
           (("a", ca_a, key_a), ("b", ca_b, key_b), ("b2", ca_b, key_b))}
    cfg = render_haproxy_cfg(s, plan)
    live, staged = Path(plan.backend_ca_file), Path(fds.staged_ca_path(plan))
    live_pem, staged_pem = Path(plan.tls_pem_file), Path(fds.staged_pem_path(plan))

    def stage_ca(pem: str) -> None:
        subprocess.run(["bash", "-c", fds.write_file_script(plan, str(staged), "0644")], input=pem, text=True, check=True, cwd=tmp_path)

    def stage_pem(pem: str) -> None:
        subprocess.run(["bash", "-c", fds.write_file_script(plan, str(staged_pem), "0600")], input=pem, text=True, check=True, cwd=tmp_path)

    def served() -> str:
        """The certificate the front door presents now (PEM)."""
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
            with context.wrap_socket(raw, server_hostname="localhost") as tls:
                return ssl.DER_cert_to_PEM_cert(tls.getpeercert(binary_form=True))

    def same_cert(a: str, b: str) -> bool:
        """Two PEM texts start with the same certificate (b: certificate + key)."""
        end = "-----END CERTIFICATE-----"
        return ssl.PEM_cert_to_DER_cert(a.split(end)[0] + end) == ssl.PEM_cert_to_DER_cert(b.split(end)[0] + end)

    try:
        stage_ca(ca_a)
        stage_pem(own["a"])
        started = _stage_and_reload(plan, cfg, tmp_path)
        assert started.returncode == 0, started.stderr
        assert live.read_text() == ca_a and not staged.exists()
        assert live_pem.read_text() == own["a"] and not staged_pem.exists()
        assert oct(live_pem.stat().st_mode & 0o777) == "0o600"
        _wait_for_socket(plan.admin_socket)
        _wait_up(plan.admin_socket)

        assert same_cert(served(), own["a"])

        # the new CA alone (and the front door's own certificate from B): both hosts still present
        # A's certificates: refused, the live CA bundle and certificate are kept, the staged ones wait
        stage_ca(ca_b)
        stage_pem(own["b"])
        refused = _stage_and_reload(plan, cfg, tmp_path)
        assert refused.returncode == 1, refused.stderr
        assert "proxy-a (127.0.0.2:" in refused.stderr and "proxy-b (127.0.0.3:" in refused.stderr, refused.stderr
        assert "set tls.previous_ca_cert" in refused.stderr, refused.stderr
        assert live.read_text() == ca_a and staged.read_text() == ca_b
        assert live_pem.read_text() == own["a"] and staged_pem.read_text() == own["b"]
        assert _states(plan.admin_socket) == {"proxy-a": "UP", "proxy-b": "UP"}

        # old + new: accepted, with the staged certificate; then the hosts move to B's certificates, still UP
        stage_ca(ca_a + ca_b)
        both = _stage_and_reload(plan, cfg, tmp_path)
        assert both.returncode == 0, both.stderr
        assert live.read_text() == ca_a + ca_b and not staged.exists()
        assert live_pem.read_text() == own["b"] and not staged_pem.exists()
        assert not Path(plan.tls_pem_file + ".prev").exists() and not Path(plan.backend_ca_file + ".prev").exists()
        deadline = time.monotonic() + 10
        while not same_cert(served(), own["b"]):
            assert time.monotonic() < deadline, "the reloaded front door does not present its new certificate"
            time.sleep(0.1)
        for name in contexts:
            _load_cert(contexts[name], *make_server_cert(ca_b, key_b, [name]), tmp_path / name)
        time.sleep(1.5)
        _wait_up(plan.admin_socket)

        # a config HAProxy refuses, with a staged bundle and certificate: the live ones are put back,
        # the staged ones kept
        stage_ca(ca_b)
        stage_pem(own["b2"])
        broken = _stage_and_reload(plan, cfg.replace("balance leastconn", "balance nonsense"), tmp_path)
        assert broken.returncode == 1 and "haproxy refused the new config" in broken.stderr, broken.stderr
        assert live.read_text() == ca_a + ca_b and staged.read_text() == ca_b
        assert live_pem.read_text() == own["b"] and staged_pem.read_text() == own["b2"]
        assert not Path(plan.tls_pem_file + ".prev").exists() and not Path(plan.backend_ca_file + ".prev").exists()
        assert same_cert(served(), own["b"])

        # no host presents A's certificate any more: A goes
        dropped = _stage_and_reload(plan, cfg, tmp_path)
        assert dropped.returncode == 0, dropped.stderr
        assert live.read_text() == ca_b and not staged.exists()
        assert live_pem.read_text() == own["b2"] and not staged_pem.exists()
        time.sleep(1.5)
        _wait_up(plan.admin_socket)
    finally:
        _stop_all(plan, servers, tmp_path)


def _load_cert(context, cert_pem: str, key_pem: str, directory: Path) -> None:
    """(Re)load a server context's certificate: later handshakes present the new one."""
    directory.mkdir(exist_ok=True)
    (directory / "cert.pem").write_text(cert_pem)
    (directory / "key.pem").write_text(key_pem)
    context.load_cert_chain(str(directory / "cert.pem"), str(directory / "key.pem"))


class _KeepAlive(http.server.BaseHTTPRequestHandler):
    """A proxy stand-in that keeps its connections (HTTP/1.1) and answers health checks and POSTs."""

    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a reload's old process closes its connections to the proxies: not this test's subject


def _haproxy_pids(config_file: str) -> set[int]:
    """The HAProxy processes of this test's front door (their command line names its config)."""
    out = subprocess.run(["ps", "-ww", "-eo", "pid=,args="], capture_output=True, text=True, check=True).stdout
    return {int(line.split(None, 1)[0]) for line in out.splitlines() if "haproxy" in line and config_file in line}


RELOADS = 25
CLIENTS = 32


def test_reloads_under_keep_alive_load_fail_no_request(tmp_path):
    """The keep-alive race at a reload (issue 15; seen once in CI as `Server disconnected without
    sending a response` during a CA rotation): many clients, each on its own keep-alive connection,
    send one POST after the other while the front door is reloaded RELOADS times in a tight loop by
    its rendered reload script (`-x <socket> -sf <old>`, as every deploy does). A soft-stopping
    HAProxy 2.6 closes its idle client connections at once unless `option idle-close-on-response`;
    a client whose next request is on the wire at that moment gets no response (a POST is never
    replayed by a client). Fails on the first failed request."""
    import httpx

    port = free_port()
    s = _settings(tmp_path, port)
    plan = front_door_plan(s)
    servers = [_QuietServer((address, port), _KeepAlive) for address in ("127.0.0.2", "127.0.0.3")]
    for srv in servers:
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    subprocess.run(["bash", "-c", fds.install_script(plan)], check=True, cwd=tmp_path)
    cfg = render_haproxy_cfg(s, plan)
    stop = threading.Event()
    lock = threading.Lock()
    sent, failed, errors = [0], [0], []

    def client() -> None:
        with httpx.Client(timeout=30, trust_env=False) as http_client:
            while not stop.is_set():
                try:
                    resp = http_client.post(f"http://127.0.0.1:{port}/v1/chat/completions", json={"n": 1})
                    ok, error = resp.status_code == 200, f"HTTP {resp.status_code}"
                except httpx.HTTPError as exc:
                    ok, error = False, f"{type(exc).__name__}: {exc}"
                with lock:
                    sent[0] += 1
                    if not ok:
                        failed[0] += 1
                        errors.append(error)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(CLIENTS)]
    try:
        started = _stage_and_reload(plan, cfg, tmp_path)
        assert started.returncode == 0, started.stderr
        _wait_for_socket(plan.admin_socket)
        _wait_up(plan.admin_socket)
        for t in threads:
            t.start()
        time.sleep(0.5)
        began = time.monotonic()
        for i in range(RELOADS):
            old = Path(plan.pid_file).read_text().split()
            # two configs in turn: every reload is a real one, with another config
            text = cfg if i % 2 else cfg.replace("timeout check 5s", "timeout check 4s")
            reloaded = _stage_and_reload(plan, text, tmp_path)
            assert reloaded.returncode == 0, reloaded.stderr
            deadline = time.monotonic() + 10
            while Path(plan.pid_file).read_text().split() == old:
                assert time.monotonic() < deadline, "the new HAProxy did not start"
                time.sleep(0.02)
        took = time.monotonic() - began
        # the old processes do not linger on their idle connections: each one's next request
        # closes it, and the clients move to the new process
        current = {int(p) for p in Path(plan.pid_file).read_text().split()}
        assert current <= _haproxy_pids(plan.config_file), "the processes are found by their config"
        deadline = time.monotonic() + 10
        while _haproxy_pids(plan.config_file) - current:
            assert time.monotonic() < deadline, f"old HAProxy processes still run: {_haproxy_pids(plan.config_file) - current}"
            time.sleep(0.1)
        time.sleep(0.3)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
        _stop_all(plan, servers, tmp_path)
    print(f"{RELOADS} reloads in {took:.1f} s, {CLIENTS} keep-alive clients: {sent[0]} requests, {failed[0]} failed")
    assert sent[0] >= 20 * RELOADS, sent[0]
    assert failed[0] == 0, f"{failed[0]} of {sent[0]} requests failed across {RELOADS} reloads: {errors[:5]}"
