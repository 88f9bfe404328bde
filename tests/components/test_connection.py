"""Every SSH connection the program declares carries the target's host key from config."""

from __future__ import annotations

import pytest

from components.connection import ssh_connection
from offline.stack_inputs import load_stack_inputs
from tests.support.host_keys import placeholder_host_key

REMOTE = "command:remote:Command"


def test_every_remote_command_verifies_its_host(dev):
    commands = dev.of_type(REMOTE)
    assert commands
    by_host: dict[str, set[str]] = {}
    for c in commands:
        conn = c.inputs["connection"]
        assert conn.get("hostKey"), f"{c.name}: no hostKey in its connection"
        by_host.setdefault(conn["host"], set()).add(conn["hostKey"])
    settings = load_stack_inputs("dev", secrets={"sshPrivateKey": "K"}).settings()
    expected = {h.address: {h.host_key} for h in settings.litellm.hosts}
    expected[settings.dns.server] = {settings.dns.host_key}
    expected[settings.redis.host] = {settings.redis.host_key}
    assert by_host == expected


def test_a_connection_without_host_key_is_refused():
    settings = load_stack_inputs("dev", secrets={"sshPrivateKey": "K"}).settings()
    with pytest.raises(ValueError, match="ssh-keyscan -t ed25519 10.0.0.9"):
        ssh_connection(settings, "10.0.0.9", None)
    conn = ssh_connection(settings, "10.0.0.9", placeholder_host_key("x"))
    assert conn.host_key == placeholder_host_key("x")
