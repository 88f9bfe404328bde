"""The host-side scripts as text: lint (bash -n), content, quoting, and the two embedded Python
helpers (env-file launcher, readiness probe) exercised on this machine against 127.0.0.1 only.
No generated shell script is executed."""

from __future__ import annotations

import http.server
import json
import re
import shlex
import subprocess
import sys
import threading

import pytest

from offline.stack_inputs import load_stack_inputs
from rendering import host_scripts as hs
from rendering.host_files import host_paths, proxy_args, render_env_file, secret_env_names


def _settings(stack: str, **overrides):
    return load_stack_inputs(stack, overrides=overrides or None).settings()


@pytest.fixture(scope="module")
def dev():
    return _settings("dev")


@pytest.fixture(scope="module")
def local():
    return _settings("local")


def bash_n(script: str) -> None:
    result = subprocess.run(["bash", "-n"], input=script, text=True, capture_output=True)
    assert result.returncode == 0, f"bash -n failed: {result.stderr}\n---\n{script}"


def _variants():
    no_tls = {"tls": {"enabled": False, "allow_plaintext": True}}
    return [
        ("dev", {}),
        ("local", {}),
        ("dev", no_tls),
        ("local", no_tls),
        ("local", {"postgres": {"enabled": False, "host": "127.0.0.1"}, "keys": [], "cache": {"enabled": True}}),
    ]


@pytest.mark.slow
@pytest.mark.parametrize("stack,overrides", _variants())
def test_every_script_passes_bash_n(stack, overrides):
    s = _settings(stack, **overrides)
    scripts = hs.all_scripts(s, s.litellm.hosts[0])
    assert len(scripts) >= 8
    for name, script in scripts.items():
        assert script.startswith("#!/bin/bash\n"), name
        assert "set -euo pipefail" in script, name
        bash_n(script)
        # the exact string remote.Command runs is valid shell too
        bash_n(hs.remote_command(script, "ansible"))


@pytest.mark.slow
def test_bash_n_catches_a_broken_script():
    # the lint helper itself can fail
    with pytest.raises(AssertionError):
        bash_n("if true; then\n echo x\n")


def test_remote_command_uses_sudo_unless_root():
    assert hs.remote_command("echo hi", "ansible") == "sudo -n /bin/bash -c 'echo hi'"
    assert hs.remote_command("echo hi", "root") == "/bin/bash -c 'echo hi'"
    # a script is one shell word whatever it contains
    script = "echo 'a' \"$b\" `c`"
    assert shlex.split(hs.remote_command(script, "ansible"))[-1] == script


def test_requirements_pin_exactly(dev):
    text = hs.requirements_text(dev)
    reqs = [line for line in text.splitlines() if line and not line.startswith("#")]
    # dev declares the prometheus callback: the proxy imports prometheus_client at startup
    assert reqs == [f"litellm[proxy]=={dev.litellm.version}", f"prisma=={hs.PRISMA_VERSION}", "prometheus-client==0.26.0"]
    assert text in hs.install_script(dev)


def test_requirements_follow_the_declared_callbacks(dev):
    def reqs(callbacks):
        settings = dev.model_copy(update={"observability": dev.observability.model_copy(update={"callbacks": callbacks})})
        return [line for line in hs.requirements_text(settings).splitlines() if line and not line.startswith("#")]

    assert reqs([]) == [f"litellm[proxy]=={dev.litellm.version}", f"prisma=={hs.PRISMA_VERSION}"]
    assert reqs(["langfuse", "prometheus"])[2:] == ["langfuse==4.18.0", "prometheus-client==0.26.0"]


def test_install_script_generates_prisma_client_into_a_root_owned_cache(dev, local):
    script = hs.install_script(dev)
    p = host_paths(dev)
    assert f"VENV={p.venv}" in script
    assert "-m prisma generate --schema \"$SCHEMA\"" in script
    assert '"proxy", "schema.prisma"' in script
    # never the service user's writable home while running as root
    assert "SVC_HOME" not in script and "/opt/litellm/home" not in script
    assert "PRISMA_HOME=/opt/litellm/prisma" in script
    assert 'HOME="$PRISMA_HOME" PRISMA_HOME_DIR="$PRISMA_HOME"' in script
    assert 'chown -R root:root "$PRISMA_HOME"' in script
    # wheels only, every distribution hash-checked, from the lock on stdin
    assert '--require-hashes --only-binary=:all: -r "$LOCK"' in script
    assert "sudo" not in script
    local_script = hs.install_script(local)
    assert "SVC_HOME" not in local_script and "chown" not in local_script
    assert "VENV=.litellm-local/venv" in local_script


def test_layout_creates_user_and_dirs(dev, local):
    script = hs.layout_script(dev)
    assert "useradd --system" in script and "SVC_USER=litellm" in script
    assert "install -d -m 0750 -o root -g \"$SVC_USER\" /etc/litellm" in script
    assert "install -d -m 0750 -o \"$SVC_USER\" -g \"$SVC_USER\" /etc/litellm/tls" in script
    local_script = hs.layout_script(local)
    assert "useradd" not in local_script and "sudo" not in local_script
    assert "mkdir -p .litellm-local .litellm-local/etc" in local_script
    assert ".litellm-local/tls" in local_script


def test_write_file_script_reads_stdin_and_sets_mode_before_rename():
    script = hs.write_file_script("/etc/litellm/litellm.env", "0600", "root", "root")
    lines = script.splitlines()
    assert 'cat > "$tmp"' in lines
    i_chmod = lines.index('chmod 0600 "$tmp"')
    i_chown = lines.index('chown root:root "$tmp"')
    i_mv = lines.index('mv -f "$tmp" "$TARGET"')
    assert lines.index('cat > "$tmp"') < i_chmod < i_mv and i_chown < i_mv
    assert "umask 077" in lines
    with pytest.raises(ValueError):
        hs.write_file_script("/x", "600")
    # quoting: a path with a space stays one word
    assert "TARGET='/etc/my dir/x'" in hs.write_file_script("/etc/my dir/x", "0644")


def test_migrate_uses_env_file_not_command_line(dev, local):
    p = host_paths(dev)
    script = hs.migrate_script(dev)
    assert f"-p EnvironmentFile={p.env_file}" in script
    assert f"--config {p.config_file} --skip_server_startup" in script
    assert "-p User=litellm" in script
    # the redaction filter names the env file's secret variables; no value of one is ever in a script
    assert "DATABASE_URL=" not in script and "postgresql://" not in script
    assert f"2>&1 | {hs.redact_filter(dev, p.env_file)}" in script
    local_script = hs.migrate_script(local)
    assert "--skip_server_startup" in local_script and "DATABASE_URL=" not in local_script
    assert '-c "$LAUNCHER" .litellm-local/etc/litellm.env' in local_script


def test_restart_script_ssh(dev):
    script = hs.restart_script(dev)
    assert "UNIT=litellm.service" in script
    assert script.splitlines()[-3:] == ["systemctl daemon-reload", 'systemctl enable "$UNIT" >/dev/null 2>&1', 'systemctl restart "$UNIT"']
    assert "PROBE" not in script  # waiting is the next step's job


def test_wait_ready_script_ssh(dev):
    host = dev.litellm.hosts[0]
    script = hs.wait_ready_script(dev, host)
    assert "systemctl restart" not in script
    assert f"PORT={dev.litellm.port}" in script
    assert f"TIMEOUT=${{READY_TIMEOUT:-{dev.litellm.readiness_timeout_seconds}}}" in script
    assert "deadline=$((SECONDS + TIMEOUT))" in script
    assert 'journalctl -u "$UNIT" -n 50 --no-pager' in script
    assert 'ss -H -ltnp "sport = :$PORT"' in script
    assert "/proc/$pid/cgroup" in script
    assert "LiteLLM silently moves to a random port" in script
    # probe: connect to loopback, verify the cert against our CA for the host's FQDN
    assert "127.0.0.1 \"$PORT\" hx-litellm-server.hx.dev.local /etc/litellm/tls/ca.crt" in script
    assert "URL=https://hx-litellm-server.hx.dev.local:4000/health/readiness" in script
    # the log goes through the redaction filter before it is printed
    assert f"show_log 2>&1 | {hs.redact_filter(dev, host_paths(dev).env_file)} >&2" in script


def test_wait_ready_script_without_tls_uses_http():
    s = _settings("dev", tls={"enabled": False, "allow_plaintext": True})
    script = hs.wait_ready_script(s, s.litellm.hosts[0])
    assert "URL=http://hx-litellm-server.hx.dev.local:4000/health/readiness" in script
    assert "hx-litellm-server.hx.dev.local ''" in script  # no CA file: plain http probe


def test_wait_script_follows_settings():
    s = _settings("dev", litellm={**json.loads(load_stack_inputs("dev").config["litellm-gateway:litellm"]),
                                  "port": 4100, "readiness_timeout_seconds": 42})
    script = hs.wait_ready_script(s, s.litellm.hosts[0])
    assert "PORT=4100" in script and "TIMEOUT=${READY_TIMEOUT:-42}" in script
    assert hs.restart_script(s) == hs.restart_script(_settings("dev"))


def test_restart_and_wait_scripts_local(local):
    host = local.litellm.hosts[0]
    lay = hs.host_layout(local)
    restart = hs.restart_script(local)
    wait = hs.wait_ready_script(local, host)
    for script in (restart, wait):
        assert "systemctl" not in script and "sudo" not in script and "journalctl" not in script
        assert f"PIDFILE={lay.pid_file}" in script and f"LOG={lay.log_file}" in script
    assert "nohup setsid" in restart and '</dev/null >>"$LOG" 2>&1 &' in restart
    assert 'echo $! > "$PIDFILE"' in restart
    expected_args = " ".join(shlex.quote(a) for a in proxy_args(local))
    assert expected_args in restart
    assert 'tail -n 50 "$LOG"' in wait
    assert "127.0.0.1 \"$PORT\" localhost .litellm-local/tls/ca.crt" in wait
    assert 'if [ "$p" = "$PID" ]; then return 0; fi' in wait  # listener descends from our pid
    stop = hs.stop_script(local)
    assert 'kill -TERM -- "-$old"' in stop


def test_stop_script_ssh(dev):
    assert "systemctl disable --now litellm.service" in hs.stop_script(dev)


def test_embedded_helpers_are_verbatim(dev, local):
    """The heredoc-assigned Python in the scripts is exactly the module constants."""
    def heredoc(script: str, tag: str) -> str:
        m = re.search(rf"<<'{tag}'\n(.*?)\n{tag}\n", script, re.S)
        assert m, tag
        return m.group(1)

    assert heredoc(hs.restart_script(local), "LAUNCHER_EOF") == hs.ENV_LAUNCHER.rstrip("\n")
    assert heredoc(hs.wait_ready_script(dev, dev.litellm.hosts[0]), "PROBE_EOF") == hs.READINESS_PROBE.rstrip("\n")
    assert heredoc(hs.wait_ready_script(local, local.litellm.hosts[0]), "PROBE_EOF") == hs.READINESS_PROBE.rstrip("\n")
    assert heredoc(hs.migrate_script(local), "LAUNCHER_EOF") == hs.ENV_LAUNCHER.rstrip("\n")
    with pytest.raises(ValueError):
        hs._heredoc_assign("X", "a\nEOF\nb", "EOF")


@pytest.mark.slow
def test_env_launcher_parses_rendered_env_file_exactly(tmp_path, local):
    tricky = {
        name: f'v-{name}-$HOME `id` "q" \\back\\ $(x) \'s\''
        for name in secret_env_names(local)
    }
    env_file = tmp_path / "litellm.env"
    env_file.write_text(render_env_file(local, tricky))
    dump = "import json, os, sys; json.dump(dict(os.environ), sys.stdout)"
    out = subprocess.run(
        [sys.executable, "-c", hs.ENV_LAUNCHER, str(env_file), sys.executable, "-c", dump],
        capture_output=True, text=True, check=True, env={"PATH": "/usr/bin:/bin"},
    ).stdout
    env = json.loads(out)
    for name, value in tricky.items():
        assert env[name] == value
    assert env["LITELLM_MODE"] == "PRODUCTION"


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self):  # noqa: N802
        code = self.status if self.path == "/health/readiness" else 404
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.mark.slow
@pytest.mark.parametrize("status,expected_rc", [(200, 0), (503, 1)])
def test_readiness_probe_against_loopback(status, expected_rc):
    handler = type("H", (_Health,), {"status": status})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        rc = subprocess.run([sys.executable, "-c", hs.READINESS_PROBE, "127.0.0.1", str(port), "localhost", ""]).returncode
        assert rc == expected_rc
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.slow
def test_readiness_probe_fails_when_nothing_listens():
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # the port is free now: nothing answers
    rc = subprocess.run([sys.executable, "-c", hs.READINESS_PROBE, "127.0.0.1", str(port), "localhost", ""]).returncode
    assert rc == 1


@pytest.mark.slow
def test_redact_filter_masks_credentials():
    line = "error: postgresql://litellm:s3cr3t-pw@db:5432/litellm key sk-abcdef123456 ok"
    out = subprocess.run(["bash", "-c", hs.REDACT_FILTER], input=line, capture_output=True, text=True, check=True).stdout
    assert "s3cr3t-pw" not in out and "abcdef123456" not in out
    assert "postgresql://litellm:***@db:5432/litellm" in out and "sk-***" in out


def test_no_script_mentions_secret_env_values(dev):
    # scripts are built from settings only; the env var names may appear, never a value
    host = dev.litellm.hosts[0]
    for script in hs.all_scripts(dev, host).values():
        assert "LITELLM_MASTER_KEY=" not in script and "DATABASE_URL=" not in script
