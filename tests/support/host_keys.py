"""Format-valid SSH host-key lines for test stacks (no SSH server is ever contacted in tests)."""

from __future__ import annotations

import base64
import hashlib
import struct


def placeholder_host_key(name: str) -> str:
    """`ssh-ed25519 <blob> test-<name>`: a well-formed OpenSSH public key line whose 32 key bytes
    are sha256(name), distinct per name (config.ssh_host_key accepts it; it verifies no server)."""

    def string(b: bytes) -> bytes:
        return struct.pack(">I", len(b)) + b

    blob = string(b"ssh-ed25519") + string(hashlib.sha256(name.encode()).digest())
    return f"ssh-ed25519 {base64.b64encode(blob).decode()} test-{name}"
