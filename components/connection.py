"""SSH connection arguments for pulumi-command, built from validated settings."""

from __future__ import annotations

import pulumi
from pulumi_command import remote

from config.settings import GatewaySettings


def ssh_connection(settings: GatewaySettings, host: str) -> remote.ConnectionArgs:
    """Connection to `host` as the stack's SSH user. The private key is a secret input of the
    command resources (encrypted in state), never a command-line argument."""
    key = settings.secrets.ssh_private_key
    return remote.ConnectionArgs(
        host=host,
        port=settings.ssh.port,
        user=settings.ssh.user,
        private_key=pulumi.Output.secret(key.get_secret_value()) if key is not None else None,
        dial_error_limit=5,
    )
