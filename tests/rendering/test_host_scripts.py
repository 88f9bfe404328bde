"""The host-side scripts as text: lint (bash -n), content, quoting, and the two embedded Python
helpers (env-file launcher, readiness probe) exercised on this machine against 127.0.0.1 only.
No generated shell script is executed."""

from __future__ import annotations

import http.server
import json
import os
import re
import shlex
import subprocess
import sys
import threading

import pytest

from tests.support import real_proxy_prisma as rp

from offline.stack_inputs import load_stack_inputs
from rendering import host_scripts as hs
from rendering import prisma_generate as pg
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
    assert '"proxy", "schema.prisma"' in script
    # never the service user's writable home while running as root
    assert "SVC_HOME" not in script and "/opt/litellm/home" not in script
    assert "PRISMA_HOME=/opt/litellm/prisma" in script
    assert 'PRISMA_HOME_DIR="$PRISMA_HOME"' in script
    assert 'chown -R root:root "$GEN_STAGE/work/pkg" "$GEN_STAGE/work/home"' in script
    # wheels only, every distribution hash-checked, from the lock on stdin
    assert '--require-hashes --only-binary=:all: -r "$LOCK"' in script
    assert "sudo" not in script
    local_script = hs.install_script(local)
    assert "SVC_HOME" not in local_script and "chown" not in local_script
    assert "VENV=.litellm-local/venv" in local_script


def _section(script: str, tag: str) -> str:
    return script.split(f"<<'{tag}'\n", 1)[1].split(f"\n{tag}\n", 1)[0]


def test_ssh_prisma_generate_runs_unprivileged_in_a_staging_copy(dev):
    script = hs.install_script(dev)
    unprivileged = _section(script, "PRISMA_GENERATE_EOF")
    enter = _section(script, "PRISMA_ENTER_EOF")
    outside = script.replace(unprivileged, "").replace(enter, "")
    # the generate (and npm, node) only in the part that runs as nobody
    assert '"$VENV/bin/python" -m prisma generate --schema "$SCHEMA"' in unprivileged
    assert "prisma generate --schema" not in outside and "npm ci" not in outside and "node -e" not in outside
    assert 'if [ "$(id -u)" = 0 ]; then echo "prisma generate must not run as root"' in unprivileged
    # root enters fresh mount + PID namespaces, binds the staging copies over the real paths, drops for good
    assert "unshare --mount --propagation private --pid --fork --kill-child --mount-proc /bin/bash -c \"$GEN_ENTER\"" in outside
    assert enter.splitlines()[1:] == [
        'mount --bind "$GEN_STAGE/work/pkg" "$PKG"',
        'mount --bind "$GEN_STAGE/work/home" "$PRISMA_HOME"',
        "exec setpriv --reuid=nobody --regid=nogroup --clear-groups --no-new-privs --inh-caps=-all --bounding-set=-all "
        '-- /bin/bash -c "$GEN_UNPRIVILEGED"',
    ]
    assert 'GEN_STAGE=$(mktemp -d /opt/litellm/.prisma-stage.XXXXXX)' in script
    assert "trap 'rm -rf -- \"$GEN_STAGE\"' EXIT" in script
    assert 'chown -R nobody:nogroup "$GEN_STAGE/work"' in script
    # npm: the committed lock, no install scripts; Node: the host's (never nodeenv)
    assert "npm ci --ignore-scripts" in unprivileged
    assert "npm_config_ignore_scripts=true" in outside
    assert "PRISMA_USE_GLOBAL_NODE=true PRISMA_USE_NODEJS_BIN=false" in outside
    assert "apt-get install nodejs npm" in unprivileged
    assert f"PRISMA_VERSION={pg.PRISMA_CLI_VERSION} PRISMA_EXPECTED_ENGINE_VERSION={pg.ENGINE_COMMIT}" in outside
    assert _section(script, "PRISMA_CLI_LOCK_EOF") == pg.CLI_PACKAGE_LOCK.read_text().rstrip("\n")
    assert _section(script, "PRISMA_CLI_PACKAGE_EOF") == pg.CLI_PACKAGE_JSON.read_text().rstrip("\n")
    # root takes the copies over, checks them, and only then moves them in
    order = [
        'chown -R root:root "$GEN_STAGE/work/pkg" "$GEN_STAGE/work/home"',
        'find "$GEN_STAGE/work/pkg" -depth -name __pycache__ -type d -exec rm -rf -- {} +',
        'python3 -I -c "$GEN_CHECK" package "$PKG" "$GEN_STAGE/work/pkg"',
        'python3 -I -c "$GEN_CHECK" cache "$PRISMA_HOME" "$GEN_STAGE/work/home" "${renewed[@]}"',
        'mv -T -- "$GEN_STAGE/work/home" "$PRISMA_HOME"',
        'mv -T -- "$GEN_STAGE/work/pkg" "$PKG"',
    ]
    positions = [script.index(line) for line in order]
    assert positions == sorted(positions)
    assert _section(script, "PRISMA_CHECK_EOF") == pg.CHECKER.strip("\n")


def test_prisma_pins_are_prisma_client_py_s_own():
    """The pinned CLI/engine are prisma 0.15.0's defaults (prisma/_config.py, read as text: importing
    the package here would cache it ungenerated), and the CLI lock is the one the offline engine of
    the tests installs (same integrity for each package)."""
    config_py = (rp.prisma_package_dir() / "_config.py").read_text()
    assert f"default='{pg.PRISMA_CLI_VERSION}'" in config_py
    assert f"default='{pg.ENGINE_COMMIT}'" in config_py
    assert f"MIN_NODE_VERSION = {pg.MIN_NODE}" in (rp.prisma_package_dir() / "cli" / "_node.py").read_text()
    assert hs.PRISMA_VERSION == "0.15.0"
    lock = json.loads(pg.CLI_PACKAGE_LOCK.read_text())
    tests_lock = json.loads((rp.ENGINE_DIR / "package-lock.json").read_text())
    packages = {k: v for k, v in lock["packages"].items() if k}
    assert sorted(packages) == ["node_modules/@prisma/debug", "node_modules/@prisma/engines", "node_modules/@prisma/engines-version",
                                "node_modules/@prisma/fetch-engine", "node_modules/@prisma/get-platform", "node_modules/prisma"]
    for name, entry in packages.items():
        assert entry["integrity"].startswith("sha512-") and entry == tests_lock["packages"][name], name
    assert lock["packages"][""]["dependencies"] == {"prisma": pg.PRISMA_CLI_VERSION}
    assert json.loads(pg.CLI_PACKAGE_JSON.read_text())["dependencies"] == {"prisma": pg.PRISMA_CLI_VERSION}
    generated = {str(p.relative_to(rp.prisma_package_dir() / "generator" / "templates")).removesuffix(".jinja")
                 for p in (rp.prisma_package_dir() / "generator" / "templates").rglob("*.py.jinja") if not p.name.startswith("_")}
    assert set(pg.GENERATED_FILES) == generated | {"schema.prisma"}


def test_local_prisma_generate_stays_the_invoking_user_s(local):
    script = hs.install_script(local)
    assert 'PATH="$VENV/bin:$PATH" "$VENV/bin/python" -m prisma generate --schema "$SCHEMA"' in script
    for word in ("unshare", "setpriv", "nobody", "GEN_STAGE", "chown", "mount"):
        assert word not in script


def test_layout_remove_removes_a_left_staging_directory(dev):
    script = hs.layout_remove_script(dev, "id")
    assert "rm -rf -- /opt/litellm/.prisma-stage.*" in script


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


def _check(kind: str, live, staged, *renewed) -> tuple[int, str]:
    """The rendered CHECKER, run in this process (what root runs with `python3 -I -c`)."""
    import contextlib
    import io

    err = io.StringIO()
    argv = sys.argv
    sys.argv = ["-c", kind, str(live), str(staged), *renewed]
    try:
        with contextlib.redirect_stderr(err):
            exec(compile(pg.CHECKER, "<checker>", "exec"), {"__name__": "__main__"})
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        sys.argv = argv
    return code, err.getvalue()


def _tree(root, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


PACKAGE = {"__init__.py": "init\n", "_config.py": "config\n", "cli/prisma.py": "cli\n"}
GENERATED = {"client.py": "class Prisma: ...\n", "models.py": "models\n", "schema.prisma": "schema\n", "engine/query.py": "q\n"}


def test_checker_accepts_a_generation_and_refuses_what_the_generator_does_not_write(tmp_path):
    live, staged = tmp_path / "live", tmp_path / "staged"
    _tree(live, {**PACKAGE, "__pycache__/_config.cpython-311.pyc": "pip's"})
    _tree(staged, {**PACKAGE, **GENERATED})
    assert _check("package", live, staged) == (0, "")
    # a previous generation in the venv: regenerated files may differ
    _tree(live, {"client.py": "old client\n"})
    assert _check("package", live, staged) == (0, "")
    cases = {
        "changed": lambda: (staged / "_config.py").write_text("evil\n"),
        "removed": lambda: (staged / "cli" / "prisma.py").unlink(),
        "unknown": lambda: (staged / "sitecustomize.py").write_text("x\n"),
        "executable": lambda: os.chmod(staged / "client.py", 0o755),
        "setuid": lambda: os.chmod(staged / "models.py", 0o4644),
        "symlink": lambda: os.symlink("/etc/passwd", staged / "engine" / "http.py"),
        "hard link": lambda: os.link(staged / "models.py", staged / "enums.py"),
        "missing": lambda: (staged / "client.py").unlink(),
    }
    expected = {
        "changed": "_config.py: changed", "removed": "cli/prisma.py: removed",
        "unknown": "sitecustomize.py: not in the installed package and not the generator's",
        "executable": "client.py: executable", "setuid": "models.py: setuid/setgid",
        "symlink": "engine/http.py: symlink to /etc/passwd", "hard link": "enums.py: hard link",
        "missing": "client.py: missing (the generator did not write it)",
    }
    for name, damage in cases.items():
        import shutil

        shutil.rmtree(staged)
        _tree(staged, {**PACKAGE, **GENERATED})
        damage()
        code, err = _check("package", live, staged)
        assert code == 1 and err.startswith("the staged prisma package is refused") and expected[name] in err, (name, err)


def test_checker_lets_the_cache_grow_but_not_change(tmp_path):
    live, staged = tmp_path / "live", tmp_path / "staged"
    _tree(live, {"engines/query-engine": "engine v1\n", "cli/node_modules/prisma/index.js": "cli\n"})
    _tree(staged, {"engines/query-engine": "engine v1\n", "cli/node_modules/prisma/index.js": "cli\n",
                   "engines/schema-engine": "new download\n"})
    os.symlink("../prisma/index.js", staged / "cli" / "node_modules" / "prisma" / "bin")
    assert _check("cache", live, staged) == (0, "")
    (staged / "engines" / "query-engine").write_text("engine v2\n")
    code, err = _check("cache", live, staged)
    assert code == 1 and "engines/query-engine: changed" in err
    (staged / "engines" / "query-engine").write_text("engine v1\n")
    os.chmod(staged / "engines" / "query-engine", 0o755)
    assert "engines/query-engine: changed" in _check("cache", live, staged)[1]  # the mode is part of it
    os.chmod(staged / "engines" / "query-engine", 0o644)
    # a subtree the staging step renewed (a CLI from another lock) need not come back
    (staged / "cli" / "node_modules" / "prisma" / "index.js").write_text("pinned cli\n")
    assert _check("cache", live, staged)[0] == 1
    assert _check("cache", live, staged, "cli") == (0, "")
    os.symlink("/usr/bin", staged / "escape")
    code, err = _check("cache", live, staged, "cli")
    assert code == 1 and "escape: symlink to /usr/bin" in err
    os.unlink(staged / "escape")
    os.mkfifo(staged / "fifo")
    assert "fifo: not a file or directory" in _check("cache", live, staged, "cli")[1]
