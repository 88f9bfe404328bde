"""Logs the host scripts print are redacted by the values the host's env file actually holds, plus the
shapes of known credentials (issue 16): the real rendered bash scripts, run with bash, under the awk
this machine has and under mawk (Debian's default awk, what a host most likely runs)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from offline.stack_inputs import load_stack_inputs
from rendering import host_scripts
from rendering.host_files import host_paths, render_env_file, secret_env_names

pytestmark = pytest.mark.slow

# One of each kind the pattern-only filter missed, plus the gateway's own secrets.
SECRETS = {
    "LITELLM_MASTER_KEY": "sk-master-Redact0001abcdef",
    "LITELLM_SALT_KEY": "salt-without-a-shape-5b2f9e1c7d",
    "REDIS_PASSWORD": "r3dis pw with \"quotes\" and \\ back",
    "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0001/B0002/XyZ1234567890abcdefghij",
    "LANGFUSE_PUBLIC_KEY": "pk-lf-11112222-3333-4444-5555-666677778888",
    "LANGFUSE_SECRET_KEY": "sk-lf-aaaabbbb-cccc-dddd-eeee-ffff00001111",
    "OPENAI_API_KEY": "sk-proj-AbC/dEf+GhI=jKl0123456789",
    "VENDOR_TOKEN": "plain0token0without0any0known0prefix",
}


def _settings(tmp_path: Path):
    install = tmp_path / "inst"
    return load_stack_inputs(
        "local",
        secrets={"masterKey": SECRETS["LITELLM_MASTER_KEY"], "redisPassword": SECRETS["REDIS_PASSWORD"],
                 **{f"envSecrets.{k}": v for k, v in SECRETS.items() if k not in ("LITELLM_MASTER_KEY", "LITELLM_SALT_KEY", "REDIS_PASSWORD")}},
        overrides={"litellm": {
            "deploy": "local", "version": "1.108.7", "port": 4999, "bind_host": "127.0.0.1", "workers": 1,
            "install_dir": str(install), "config_dir": str(install / "etc"), "model_source": "config",
            "hosts": [{"name": "localhost", "address": "127.0.0.1"}]}},
    ).settings()


def _env_values(settings) -> dict[str, str]:
    values = {n: f"other-value-of-{n.lower()}" for n in secret_env_names(settings)}
    values.update({k: v for k, v in SECRETS.items() if k in values})
    values["DATABASE_URL"] = "postgresql://litellm_local:Pg%2Fpass%40word99@127.0.0.1:5432/litellm_local"
    return values


def _log_lines(values: dict[str, str]) -> str:
    lines = [f"request failed: {name} is {value!r} (raw: {value})" for name, value in values.items()]
    lines.append("prisma: P1001 Can't reach database server; retrying")
    return "\n".join(lines) + "\n"


@pytest.fixture
def host(tmp_path):
    settings = _settings(tmp_path)
    p = host_paths(settings)
    subprocess.run(["bash", "-c", host_scripts.layout_script(settings)], check=True)
    values = _env_values(settings)
    assert set(SECRETS) <= set(values), set(SECRETS) - set(values)  # every kind reaches the env file
    Path(p.env_file).write_text(render_env_file(settings, values))
    return settings, values


def _assert_redacted(out: str, values: dict[str, str]) -> None:
    for name, value in values.items():
        assert value not in out, f"{name}'s value printed"
        assert json.dumps(value)[1:-1] not in out and repr(value)[1:-1] not in out, f"{name}'s value printed escaped"
    assert "Pg%2Fpass%40word99" not in out
    assert "[secret]" in out and "prisma: P1001 Can't reach database server; retrying" in out


def test_the_failed_readiness_wait_prints_the_log_tail_without_any_env_file_secret(host):
    """The real rendered wait-ready script of a local deploy, with a proxy that died: it prints the
    last 50 lines of its log, each secret the env file holds replaced by [secret]."""
    settings, values = host
    lay = host_scripts.host_layout(settings)
    Path(lay.log_file).write_text(_log_lines(values))
    Path(lay.pid_file).write_text("999999999\n")  # no such process: "not running"
    done = subprocess.run(["/bin/bash", "-c", host_scripts.wait_ready_script(settings, settings.litellm.hosts[0])],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "the proxy process is not running" in done.stderr
    _assert_redacted(done.stderr, values)
    # the secret values are read on the host: the script names the file and the variables, nothing else
    script = host_scripts.wait_ready_script(settings, settings.litellm.hosts[0])
    for value in values.values():
        assert value not in script


@pytest.mark.parametrize("awk", ["awk", "mawk"])
def test_the_filter_masks_each_value_and_shape(host, awk):
    settings, values = host
    if shutil.which(awk) is None:
        pytest.fail(f"{awk} is not installed: `make prepare` installs it (tests/support/prepare_machine.sh)")
    stage = host_scripts.redact_filter(settings, host_paths(settings).env_file)
    assert stage.startswith("awk ")
    done = subprocess.run(["bash", "-c", awk + stage[len("awk"):]], input=_log_lines(values), capture_output=True, text=True, check=True)
    _assert_redacted(done.stdout, values)
    # a line with no secret is untouched
    done = subprocess.run(["bash", "-c", awk + stage[len("awk"):]], input="listening on 127.0.0.1:4999\n",
                          capture_output=True, text=True, check=True)
    assert done.stdout == "listening on 127.0.0.1:4999\n"


def test_an_unreadable_env_file_withholds_the_log(host, tmp_path):
    settings, values = host
    stage = host_scripts.redact_filter(settings, str(tmp_path / "missing.env"))
    done = subprocess.run(["bash", "-c", stage], input=_log_lines(values), capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == [f"[log withheld: cannot read {tmp_path / 'missing.env'} to redact its secrets]"]


def test_shapes_are_masked_without_the_env_file():
    line = ("x postgresql://litellm:s3cr3t-pw@db:5432/litellm sk-abc/def+ghi=jkl pk-lf-1234-5678 "
            "https://hooks.slack.com/services/T01/B02/abcdef ok\n")
    out = subprocess.run(["bash", "-c", host_scripts.REDACT_FILTER], input=line, capture_output=True, text=True, check=True).stdout
    for leaked in ("s3cr3t-pw", "def+ghi", "jkl", "1234-5678", "T01/B02/abcdef"):
        assert leaked not in out, leaked
    assert out == "x postgresql://litellm:***@db:5432/litellm sk-*** pk-lf-*** https://hooks.slack.com/*** ok\n"
