"""SSH connection arguments for pulumi-command, built from validated settings."""

from __future__ import annotations

import pulumi
from pulumi_command import remote

from config.settings import GatewaySettings
from config.ssh_host_key import check_host_key, missing_host_key_message


def ssh_connection(settings: GatewaySettings, host: str, host_key: str | None) -> remote.ConnectionArgs:
    """Connection to `host` as the stack's SSH user, verified against `host_key`.

    The private key is a secret input of the command resources (encrypted in state), never a
    command-line argument. `host_key` (the target's public OpenSSH key line, plain config) is always
    passed: pulumi-command 1.2.1 checks the server with `ssh.FixedHostKey` only when `hostKey` is
    set and otherwise accepts any server (`InsecureIgnoreHostKey`), so a connection without one is
    refused here rather than built (config.ssh_host_key)."""
    if not host_key:
        raise ValueError(f"SSH to {host}: {missing_host_key_message(host)}")
    key = settings.secrets.ssh_private_key
    return remote.ConnectionArgs(
        host=host,
        port=settings.ssh.port,
        user=settings.ssh.user,
        host_key=check_host_key(host_key),
        private_key=pulumi.Output.secret(key.get_secret_value()) if key is not None else None,
        dial_error_limit=5,
    )
