"""SSH host keys: format checks (against keys ssh-keygen makes), fingerprints equal to ssh-keygen's,
and the stack-level requirement (every SSH target names its key; the message says how to get it)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from config.loader import ConfigError, load_settings
from config.ssh_host_key import fingerprint, parse_host_key
from offline.stack_inputs import PROJECT_DIR, load_stack_inputs

P = "litellm-gateway"
DEV_SECRETS = {
    "masterKey": "sk-test-master-key-abcdefghijklmnop",
    "postgresAdminPassword": "pw",
    "sshPrivateKey": "KEY",
    "dnsAdminPassword": "pw",
    "tlsCaKey": "KEY",
    "tlsCaCert": "-----BEGIN CERTIFICATE-----\nMIIBtestPlaceholder\n-----END CERTIFICATE-----\n",
    "envSecrets": {"OPENAI_API_KEY": "x", "ANTHROPIC_API_KEY": "y", "SLACK_WEBHOOK_URL": "z"},
}


def keygen(tmp_path: Path, key_type: str, bits: str | None = None) -> tuple[str, str]:
    """(public key line, ssh-keygen -lf fingerprint) of a fresh key."""
    path = tmp_path / f"k-{key_type}-{bits}"
    cmd = ["ssh-keygen", "-q", "-t", key_type, "-N", "", "-C", "root@host", "-f", str(path)]
    if bits:
        cmd[4:4] = ["-b", bits]
    subprocess.run(cmd, check=True)
    line = (path.with_suffix(path.suffix + ".pub") if path.suffix else Path(str(path) + ".pub")).read_text().strip()
    fp = subprocess.run(["ssh-keygen", "-lf", str(path) + ".pub"], check=True, capture_output=True, text=True).stdout.split()[1]
    return line, fp


@pytest.mark.slow
@pytest.mark.parametrize("key_type,bits", [("ed25519", None), ("ecdsa", "256"), ("ecdsa", "384"), ("ecdsa", "521")])
def test_real_keys_parse_and_fingerprint_like_ssh_keygen(tmp_path, key_type, bits):
    line, fp = keygen(tmp_path, key_type, bits)
    parse_host_key(line)
    assert fingerprint(line) == fp
    # without the comment too (ssh-keyscan output minus the host name)
    parse_host_key(" ".join(line.split()[:2]))


def test_dev_placeholders_are_valid_keys():
    settings = load_settings("dev", *_dev_config(), project_dir=PROJECT_DIR)
    keys = [h.host_key for h in settings.litellm.hosts] + [settings.dns.host_key, settings.redis.host_key]
    assert all(k and k.startswith("ssh-ed25519 ") and "placeholder" in k for k in keys)
    assert len({fingerprint(k) for k in keys}) == 3


def _mutations(good: str) -> dict[str, tuple[str, str]]:
    kind, blob, *_ = good.split()
    return {
        "trailing newline": (good + "\n", "one OpenSSH public key line"),
        "newline inside": (f"{kind} {blob}\nExecStartPre=+/bin/true", "one OpenSSH public key line"),
        "two spaces": (f"{kind}  {blob}", "one OpenSSH public key line"),
        "known_hosts form": (f"hx-litellm-server {kind} {blob}", "drop the leading host name"),
        "rsa": ("ssh-rsa " + blob, "ssh-rsa host keys are refused"),
        "dsa": ("ssh-dss " + blob, "unsupported host key type"),
        "bad base64": (f"{kind} {blob[:-3]}", "does not decode"),
        "truncated": (f"{kind} {blob[:-4]}", "not a valid ssh-ed25519 public key: truncated"),
        "type mismatch": (f"ecdsa-sha2-nistp256 {blob}", "is a 'ssh-ed25519' key, not 'ecdsa-sha2-nistp256'"),
        "private key": ("-----BEGIN OPENSSH PRIVATE KEY-----", "one OpenSSH public key line"),
        "empty": ("", "one OpenSSH public key line"),
    }


@pytest.mark.parametrize("case", list(_mutations("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPbkhVEwUqmtloCDPvW5dCQlP52k8jOrSQpacvO6KNgN x")))
def test_malformed_keys_are_refused_with_a_reason(case):
    value, expected = _mutations("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPbkhVEwUqmtloCDPvW5dCQlP52k8jOrSQpacvO6KNgN x")[case]
    with pytest.raises(ValueError) as caught:
        parse_host_key(value)
    assert expected in str(caught.value)


def _dev_config(**overrides) -> tuple[dict, set]:
    inputs = load_stack_inputs("dev", secrets=DEV_SECRETS, overrides=overrides)
    return inputs.config, inputs.secret_keys


def _problems(config, secret_keys) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_settings("dev", config, secret_keys, project_dir=PROJECT_DIR)
    return caught.value.problems


def _section(name: str) -> dict:
    return json.loads(load_stack_inputs("dev", secrets=DEV_SECRETS).config[f"{P}:{name}"])


@pytest.mark.parametrize(
    "section,key_path,target",
    [
        ("litellm", "litellm.hosts[0].host_key", "192.168.10.20"),
        ("dns", "dns.host_key", "hx-dc-server.hx.dev.local"),
        ("redis", "redis.host_key", "hx-redis-server.hx.dev.local"),
    ],
)
def test_every_ssh_target_needs_its_host_key(section, key_path, target):
    value = _section(section)
    if section == "litellm":
        value["hosts"][0].pop("host_key")
    else:
        value.pop("host_key")
    problems = _problems(*_dev_config(**{section: value}))
    assert len(problems) == 1, problems
    message = problems[0]
    assert message.startswith(f"stack 'dev': {P}:{key_path}: required: the SSH host key of {target}")
    assert f"ssh-keyscan -t ed25519 {target}" in message
    assert "ssh-keygen -lf" in message


def test_a_malformed_key_in_config_names_its_path():
    value = _section("litellm")
    value["hosts"][0]["host_key"] = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ"
    problems = _problems(*_dev_config(litellm=value))
    assert len(problems) == 1
    assert problems[0].startswith(f"stack 'dev': {P}:litellm.hosts[0].host_key: ssh-rsa host keys are refused")


def test_local_deploy_needs_no_host_key():
    inputs = load_stack_inputs("local", secrets={"masterKey": DEV_SECRETS["masterKey"]})
    settings = load_settings("local", inputs.config, inputs.secret_keys, project_dir=PROJECT_DIR)
    assert all(h.host_key is None for h in settings.litellm.hosts)
