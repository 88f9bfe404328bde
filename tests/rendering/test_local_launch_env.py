"""The local proxy (deploy: local) starts with the env file's variables and what Python needs, never
with the environment of `pulumi up`.

The rendered local launch script (host_scripts.local_restart_script) is run with bash exactly as
local.Command runs it, from an environment that carries canary credentials; the real pinned proxy
(the venv's litellm, reached through a venv directory of symlinks) must become ready (the rendered
wait-ready script) and neither it nor its worker may hold a canary in /proc/<pid>/environ.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest

from offline.stack_inputs import load_stack_inputs
from rendering import host_scripts
from rendering.host_files import host_paths, render_env_file, secret_env_names, shutdown_environment, ui_environment
from rendering.litellm_yaml import render_litellm_config_yaml
from tests.support.fake_upstreams import free_port

VENV_BIN = Path(__file__).resolve().parents[2] / ".venv" / "bin"
MASTER = "sk-local-env-test-" + uuid.uuid4().hex


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode().split("\0") if "=" in item)


def _descendants(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout.split()
    kids = [int(p) for p in out]
    return kids + [d for k in kids for d in _descendants(k)]


@pytest.mark.slow
def test_local_proxy_gets_only_env_file_and_python_basics(tmp_path):
    port = free_port()
    install = tmp_path / "inst"
    settings = load_stack_inputs(
        "local",
        secrets={"masterKey": MASTER},
        overrides={
            "litellm": {
                "deploy": "local", "version": "1.108.7", "port": port, "bind_host": "127.0.0.1", "workers": 1,
                "install_dir": str(install), "config_dir": str(install / "etc"), "model_source": "config",
                "readiness_timeout_seconds": 120,
                "hosts": [{"name": "localhost", "address": "127.0.0.1"}],
            },
            "postgres": {"enabled": False, "host": "127.0.0.1"},
            "redis": {"enabled": False, "host": "127.0.0.1"},
            "cache": {"enabled": False},
            "tls": {"enabled": False},
            "keys": [], "teams": [], "catalogFiles": [],
            "models": [{"id": "m1", "model_name": "m1", "provider": "openai_compatible", "model": "m1",
                        "api_base": f"http://127.0.0.1:{free_port()}"}],
            "routing": {},
        },
    ).settings()
    p = host_paths(settings)
    # the "venv": the project's own, through symlinks, at the path the scripts use
    venv_bin = Path(p.venv) / "bin"  # <install>/venvs/<version>-<hash>: a venv per release
    venv_bin.mkdir(parents=True)
    for tool in ("python", "litellm"):
        os.symlink(VENV_BIN / tool, venv_bin / tool)
    subprocess.run(["bash", "-c", host_scripts.layout_script(settings)], check=True)
    Path(p.config_file).write_text(render_litellm_config_yaml(settings))
    values = {n: "" for n in secret_env_names(settings)}
    values["LITELLM_MASTER_KEY"] = MASTER
    values["LITELLM_SALT_KEY"] = "sk-salt-" + uuid.uuid4().hex
    Path(p.env_file).write_text(render_env_file(settings, values))

    canary = "canary-" + uuid.uuid4().hex
    parent_env = {
        "PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8",
        "AWS_SECRET_ACCESS_KEY": canary, "PULUMI_ACCESS_TOKEN": canary, "GATEWAY_TEST_CANARY": canary,
        "OPENAI_API_KEY": canary,
    }
    lay = host_scripts.host_layout(settings)
    try:
        subprocess.run(["/bin/bash", "-c", host_scripts.local_restart_script(settings)], env=parent_env, check=True, timeout=60)
        ready = subprocess.run(
            ["/bin/bash", "-c", host_scripts.wait_ready_script(settings, settings.litellm.hosts[0])],
            env=parent_env, capture_output=True, text=True, timeout=200,
        )
        assert ready.returncode == 0, ready.stderr[-3000:]
        pid = int(Path(lay.pid_file).read_text())
        procs = [pid, *_descendants(pid)]
        assert len(procs) >= 1
        assert "litellm" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        for proc in procs:
            env = _environ(proc)
            assert canary not in "\0".join(f"{k}={v}" for k, v in env.items()), (proc, sorted(env))
            assert "AWS_SECRET_ACCESS_KEY" not in env and "PULUMI_ACCESS_TOKEN" not in env
        env = _environ(pid)
        # from the env file
        assert env["LITELLM_MASTER_KEY"] == MASTER and env["LITELLM_MODE"] == "PRODUCTION"
        # and only what Python needs besides
        in_env_file = {l.split("=", 1)[0] for l in Path(p.env_file).read_text().splitlines() if "=" in l and not l.startswith("#")}
        # + the graceful-shutdown bound and the Admin UI directory the launch sets
        # (rendering.host_files.shutdown_environment / ui_environment)
        allowed = (set(host_scripts.LOCAL_KEPT_ENV) | {"PATH"} | in_env_file | set(shutdown_environment(settings))
                   | set(ui_environment(settings)))
        assert set(env) <= allowed, sorted(set(env) - allowed)
        assert env["GRACEFUL_SHUTDOWN_TIMEOUT"] == shutdown_environment(settings)["GRACEFUL_SHUTDOWN_TIMEOUT"]
        # the release's UI directory, made absolute from the deploy's working directory
        ui_path = ui_environment(settings)["LITELLM_UI_PATH"]
        assert env["LITELLM_UI_PATH"] == (ui_path if ui_path.startswith("/") else str(Path.cwd() / ui_path)), env["LITELLM_UI_PATH"]
        assert env["PATH"].startswith(str(venv_bin) + ":")
        assert env["HOME"] == parent_env["HOME"] and env["LANG"] == "C.UTF-8"
    finally:
        subprocess.run(["/bin/bash", "-c", host_scripts.local_stop_script(settings)], env=parent_env, timeout=60)
    assert not Path(lay.pid_file).exists()
