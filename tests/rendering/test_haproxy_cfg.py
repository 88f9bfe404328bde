"""The front door's haproxy.cfg: rendered from the stack, accepted by the real `haproxy -c`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from config.loader import ConfigError
from offline.engine import PROJECT_DIR
from offline.stack_inputs import load_stack_inputs
from rendering.haproxy_cfg import BACKEND, front_door_plan, render_haproxy_cfg

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"


def _two_local_hosts(**extra):
    raw = json.loads(load_stack_inputs("local").config["litellm-gateway:litellm"])
    raw["hosts"] = [{"name": "proxy-a", "address": "127.0.0.2"}, {"name": "proxy-b", "address": "127.0.0.3"}]
    return load_stack_inputs("local", overrides={"litellm": raw, **extra}).settings()


def _self_signed(tmp_path):
    key, crt = tmp_path / "k.pem", tmp_path / "c.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(key), "-out", str(crt), "-days", "1", "-subj", "/CN=litellm.test"],
                   check=True, capture_output=True)
    pem = tmp_path / "frontdoor.pem"
    pem.write_text(crt.read_text() + key.read_text())
    return pem, crt


def _haproxy_check(cfg_text: str, plan, tmp_path) -> subprocess.CompletedProcess:
    """`haproxy -c` of the exact rendered text, with only the host paths of the certificate, CA and
    admin socket pointed at files of this test (the real ones exist only on the front door host)."""
    text = cfg_text.replace(plan.admin_socket, str(tmp_path / "admin.sock"))
    if plan.tls_pem_file:
        pem, ca = _self_signed(tmp_path)
        text = text.replace(plan.tls_pem_file, str(pem)).replace(plan.backend_ca_file, str(ca))
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(text)
    return subprocess.run([HAPROXY, "-c", "-f", str(cfg)], capture_output=True, text=True)


@pytest.mark.slow
@pytest.mark.parametrize("stack", ["dev-ha", "local-two-hosts", "local-two-hosts-no-tls"])
def test_haproxy_accepts_every_rendered_config(stack, tmp_path):
    if stack == "dev-ha":
        s = load_stack_inputs("dev-ha").settings()
    elif stack == "local-two-hosts":
        s = _two_local_hosts()
    else:
        s = _two_local_hosts(tls={"enabled": False})
    plan = front_door_plan(s)
    text = render_haproxy_cfg(s)
    proc = _haproxy_check(text, plan, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Configuration file is valid" in proc.stdout + proc.stderr


@pytest.mark.slow
def test_a_broken_config_is_refused_by_the_same_check(tmp_path):
    s = _two_local_hosts(tls={"enabled": False})
    plan = front_door_plan(s)
    proc = _haproxy_check(render_haproxy_cfg(s).replace("balance leastconn", "balance nonsense"), plan, tmp_path)
    assert proc.returncode != 0


def test_config_content_dev_ha():
    s = load_stack_inputs("dev-ha").settings()
    text = render_haproxy_cfg(s)
    assert f"backend {BACKEND}" in text
    assert "http-check send meth GET uri /health/readiness" in text
    assert "http-check expect status 200" in text
    assert "option redispatch 1" in text and "retries 3" in text and "retry-on conn-failure empty-response" in text
    assert "stats socket /run/haproxy/admin.sock mode 600 level admin" in text
    # its own address, not 0.0.0.0 (config.cross_checks: an IP); every server polled by its drain agent
    assert "bind 192.168.10.30:4000 ssl crt /etc/haproxy/tls/frontdoor.pem" in text
    assert "agent-check agent-port 4001 agent-inter 1000" in text
    for name, address in (("hx-litellm-server", "192.168.10.20"), ("hx-litellm-server-2", "192.168.10.21")):
        fqdn = f"{name}.hx.dev.local"
        assert f"server {name} {address}:4000 sni str({fqdn}) verifyhost {fqdn}" in text
    assert "ssl verify required ca-file /etc/haproxy/tls/proxies-ca.crt" in text


def test_local_plan_keeps_everything_under_the_install_dir():
    s = _two_local_hosts(tls={"enabled": False})
    plan = front_door_plan(s)
    assert plan.is_local and plan.bind_address == "127.0.0.1" and plan.port == s.litellm.port
    assert plan.admin_socket.startswith(s.litellm.install_dir) and plan.pid_file.startswith(s.litellm.install_dir)
    assert [(x.name, x.address) for x in plan.servers] == [("proxy-a", "127.0.0.2"), ("proxy-b", "127.0.0.3")]
    assert "ssl" not in render_haproxy_cfg(s)


def test_several_ssh_hosts_need_a_front_door_address():
    raw = json.loads(load_stack_inputs("dev").config["litellm-gateway:litellm"])
    raw["hosts"] = raw["hosts"] + [{"name": "hx-litellm-server-2", "address": "192.168.10.21"}]
    with pytest.raises(ConfigError) as err:
        load_stack_inputs("dev", overrides={"litellm": raw}).settings()
    assert "frontDoor.address" in str(err.value) and "stack 'dev'" in str(err.value)


def test_local_hosts_need_distinct_loopback_addresses():
    raw = json.loads(load_stack_inputs("local").config["litellm-gateway:litellm"])
    raw["hosts"] = [{"name": "a", "address": "127.0.0.1"}, {"name": "b", "address": "127.0.0.3"}]
    with pytest.raises(ConfigError) as err:
        load_stack_inputs("local", overrides={"litellm": raw}).settings()
    assert "hosts[0].address" in str(err.value)


@pytest.mark.slow
def test_make_render_writes_the_front_door_config(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "offline.render", "dev-ha", "--out", str(tmp_path)],
                          cwd=PROJECT_DIR, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    written = (tmp_path / "dev-ha" / "frontdoor" / "haproxy.cfg").read_text()
    assert written == render_haproxy_cfg(load_stack_inputs("dev-ha").settings())
    plan = front_door_plan(load_stack_inputs("dev-ha").settings())
    proc = _haproxy_check(written, plan, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


class _FrontDoorOnEcho:
    """The real HAProxy with a stack's rendered config, its servers pointed at one loopback echo
    server that records the headers and path of every request except health checks."""

    def __init__(self, settings, tmp_path):
        import http.server
        import socket
        import threading

        seen = self.seen = []

        class Echo(http.server.BaseHTTPRequestHandler):
            def _answer(self):
                if self.path != "/health/readiness":
                    seen.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
                self.send_response(200)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            do_GET = do_POST = _answer  # noqa: N815 - http.server API

            def log_message(self, *args):
                pass

        self.echo = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
        threading.Thread(target=self.echo.serve_forever, daemon=True).start()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        tmp_path.mkdir(parents=True, exist_ok=True)
        plan = front_door_plan(settings)
        text = render_haproxy_cfg(settings).replace(plan.admin_socket, str(tmp_path / "admin.sock"))
        text = text.replace(f"{plan.bind_address}:{plan.port}", f"127.0.0.1:{self.port}")
        for server in plan.servers:
            text = text.replace(f"{server.address}:{server.port}", f"127.0.0.1:{self.echo.server_address[1]}")
        cfg = tmp_path / "haproxy.cfg"
        cfg.write_text(text)
        self.proc = subprocess.Popen([HAPROXY, "-db", "-f", str(cfg)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def request(self, path, *, method="GET", headers=None):
        """(status, body) of a request through the front door, retried until HAProxy listens."""
        import time
        import urllib.error
        import urllib.request

        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", headers=headers or {}, method=method,
                                         data=b"" if method == "POST" else None)
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(request, timeout=5) as reply:
                    return reply.status, reply.read()
            except urllib.error.HTTPError as error:
                return error.code, error.read()
            except OSError:
                assert time.monotonic() < deadline, "the front door did not answer"
                time.sleep(0.2)

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.echo.shutdown()


@pytest.mark.slow
def test_the_front_door_replaces_client_sent_forwarding_headers_with_the_connections_address(tmp_path):
    """Through the real HAProxy with the rendered config (servers pointed at a loopback echo server):
    a forged X-Forwarded-For / X-Real-IP / Forwarded never reaches a proxy; the connection's address does."""
    door = _FrontDoorOnEcho(_two_local_hosts(tls={"enabled": False}), tmp_path)
    try:
        status, _ = door.request("/v1/models", headers={
            "X-Forwarded-For": "203.0.113.66", "X-Real-IP": "203.0.113.66", "Forwarded": "for=203.0.113.66"})
    finally:
        door.close()
    assert status == 200
    headers = door.seen[-1]
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-real-ip"] == "127.0.0.1"
    assert "forwarded" not in headers
    assert "203.0.113.66" not in json.dumps(door.seen)


UI_PATHS = ("/ui", "/ui/", "/ui/?page=api-keys", "/ui/login/index.html", "/sso/key/generate", "/fallback/login")


@pytest.mark.slow
def test_with_the_admin_ui_off_its_paths_are_404_at_the_front_door(tmp_path):
    """adminUi off (the default): through the real HAProxy, the UI's pages and sign-in endpoints
    answer 404 and never reach a proxy (which would serve LiteLLM's "Admin UI Disabled" page and
    the /login form); the API passes. With the UI on, the same paths reach the proxies."""
    off = _FrontDoorOnEcho(_two_local_hosts(tls={"enabled": False}), tmp_path / "off")
    try:
        answers = {path: off.request(path)[0] for path in UI_PATHS}
        answers.update({f"POST {path}": off.request(path, method="POST")[0] for path in ("/login", "/v2/login")})
        api = off.request("/v1/models")[0], off.request("/user/login-hints")[0]
    finally:
        off.close()
    assert set(answers.values()) == {404}, answers
    assert api == (200, 200) and [r["path"] for r in off.seen] == ["/v1/models", "/user/login-hints"]

    on_settings = _two_local_hosts(tls={"enabled": False}, adminUi={"enabled": True, "username": "gateway-admin"})
    assert on_settings.admin_ui.enabled
    on = _FrontDoorOnEcho(on_settings, tmp_path / "on")
    try:
        answers = {path: on.request(path)[0] for path in UI_PATHS}
    finally:
        on.close()
    assert set(answers.values()) == {200}, answers
    assert [r["path"] for r in on.seen] == list(UI_PATHS)


def test_the_ui_rule_follows_the_setting():
    off = render_haproxy_cfg(_two_local_hosts(tls={"enabled": False}))
    on = render_haproxy_cfg(_two_local_hosts(tls={"enabled": False}, adminUi={"enabled": True, "username": "gateway-admin"}))
    rule = 'http-request return status 404 content-type text/plain string "Not Found" if admin_ui_path'
    assert rule in off and "acl admin_ui_path path /ui /login /v2/login /fallback/login" in off
    assert "admin_ui_path" not in on


def test_a_reload_answers_idle_connections_and_its_old_process_ends_bounded():
    """At a reload the old process keeps an idle keep-alive connection until its next request
    (answered with `Connection: close`) instead of closing it under a client that is sending
    (tests/rendering/test_front_door_reload.py, the keep-alive race); it exits at the latest once
    a request that came just before the keep-alive timeout could have run its whole `timeout server`."""
    from rendering.haproxy_cfg import KEEP_ALIVE_S

    for s in (load_stack_inputs("dev-ha").settings(), _two_local_hosts()):
        plan = front_door_plan(s)
        lines = [line.strip() for line in render_haproxy_cfg(s).splitlines()]
        defaults, frontend = lines.index("defaults"), lines.index("frontend litellm")
        assert "option idle-close-on-response" in lines[defaults:frontend]
        assert f"timeout http-keep-alive {KEEP_ALIVE_S}s" in lines[defaults:frontend]
        assert f"hard-stop-after {KEEP_ALIVE_S + plan.timeout_server_s}s" in lines[:defaults]
        assert plan.timeout_server_s > 60  # the bound is the request budget's, not a short fixed one
