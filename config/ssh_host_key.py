"""SSH host keys: the public key every SSH target must present (pure, no Pulumi imports).

pulumi-command (1.2.1, `provider/pkg/provider/remote/connection.go`, `SSHConfig`) verifies the
server only when the connection's `hostKey` is set: it parses it with Go's
`ssh.ParseAuthorizedKey`, pins it with `ssh.FixedHostKey` and restricts the negotiated host-key
algorithm to the key's own type; without it, `ssh.InsecureIgnoreHostKey()` accepts anyone who
answers on the address. So the stack names the public host key of every SSH target (a LiteLLM host,
the DNS server, the Redis host) and `components.connection.ssh_connection` always passes it.

Accepted format: one OpenSSH public key line, `<type> <base64 blob> [comment]`, as `ssh-keyscan`
prints it without the leading host name, or the host's `/etc/ssh/ssh_host_ed25519_key.pub`. The
type must be ssh-ed25519 or ecdsa-sha2-nistp256/384/521 and the blob must decode to a key of that
same type. ssh-rsa is refused: pulumi-command pins the algorithm to the key type, `ssh-rsa`
(RSA with SHA-1), which OpenSSH >= 8.8 no longer offers, so the connection would fail.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from typing import Optional

ALLOWED_HOST_KEY_TYPES = ("ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521")
# An optional comment is one word such as ssh-keygen's `root@host` (the line is printed in messages and
# written to known_hosts files; free text there has no use).
_LINE = re.compile(r"(?P<type>[a-z0-9@.-]+) (?P<blob>[A-Za-z0-9+/]+={0,2})(?: (?P<comment>[A-Za-z0-9._@+=:-]+))?")


def how_to_get(host: str) -> str:
    """The instructions every host-key message ends with."""
    return (
        f"read it with `ssh-keyscan -t ed25519 {host}` (drop the leading host name), verify it out of band: "
        "`ssh-keygen -lf <file with that line>` must print the same SHA256 fingerprint as "
        "`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` run on the host's console; then set the line "
        "'ssh-ed25519 AAAA...' here"
    )


def _read_string(blob: bytes, offset: int) -> tuple[bytes, int]:
    if offset + 4 > len(blob):
        raise ValueError("truncated key blob")
    (length,) = struct.unpack(">I", blob[offset:offset + 4])
    end = offset + 4 + length
    if end > len(blob):
        raise ValueError("truncated key blob")
    return blob[offset + 4:end], end


def parse_host_key(value: str) -> tuple[str, bytes]:
    """(type, blob) of a valid host-key line, else ValueError saying what is wrong."""
    if not isinstance(value, str):
        raise ValueError("expected an OpenSSH public key line such as 'ssh-ed25519 AAAA...'")
    m = _LINE.fullmatch(value)
    parts = value.split(" ")
    if len(parts) >= 3 and parts[1] in (*ALLOWED_HOST_KEY_TYPES, "ssh-rsa") and "\n" not in value:
        raise ValueError("this looks like ssh-keyscan/known_hosts output: drop the leading host name, keep '<type> <base64>'")
    if m is None:
        raise ValueError(
            "expected one OpenSSH public key line '<type> <base64> [comment]' (single spaces, a one-word "
            "comment such as root@host, no newline), e.g. 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA...'"
        )
    key_type = m.group("type")
    if key_type == "ssh-rsa":
        raise ValueError(
            "ssh-rsa host keys are refused: pulumi-command pins the algorithm to the key's type and "
            "OpenSSH >= 8.8 no longer offers ssh-rsa (SHA-1); use the host's ed25519 (or ecdsa) key"
        )
    if key_type not in ALLOWED_HOST_KEY_TYPES:
        raise ValueError(f"unsupported host key type '{key_type}' (expected one of: {', '.join(ALLOWED_HOST_KEY_TYPES)})")
    try:
        blob = base64.b64decode(m.group("blob"), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the key's base64 part does not decode") from None
    try:
        inner_type, offset = _read_string(blob, 0)
        if inner_type.decode("ascii", "replace") != key_type:
            raise ValueError(f"the key's data is a '{inner_type.decode('ascii', 'replace')}' key, not '{key_type}'")
        if key_type == "ssh-ed25519":
            point, offset = _read_string(blob, offset)
            if len(point) != 32:
                raise ValueError("an ed25519 key must be 32 bytes")
        else:
            curve, offset = _read_string(blob, offset)
            if curve.decode("ascii", "replace") != key_type.rsplit("-", 1)[1]:
                raise ValueError("the key's curve does not match its type")
            point, offset = _read_string(blob, offset)
            if not point or point[0] != 4:
                raise ValueError("the key's curve point is not an uncompressed point")
        if offset != len(blob):
            raise ValueError("trailing data after the key")
    except ValueError as exc:
        raise ValueError(f"not a valid {key_type} public key: {exc}") from None
    return key_type, blob


def check_host_key(value: str) -> str:
    """Validator: the line itself, unchanged, once it parses."""
    parse_host_key(value)
    return value


def fingerprint(value: str) -> str:
    """`SHA256:<base64, no padding>`, exactly what `ssh-keygen -lf` prints for the key."""
    _, blob = parse_host_key(value)
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def missing_host_key_message(host: Optional[str]) -> str:
    return "required: the SSH host key of " + (host or "the SSH target") + "; " + how_to_get(host or "<host>")
