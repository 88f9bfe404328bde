"""Shell scripts that keep one DNS record on a Samba AD domain controller with `samba-tool dns`.

Pure (no Pulumi imports): `components.dns.DnsRecord` runs these on the DC through pulumi-command's
`remote.Command`, and the tests run them locally against a fake `samba-tool`.

What samba-tool does that the scripts have to work around (python/samba/netcmd/dns.py, Samba 4.x):
- `add` of a record that already exists fails: "ERROR: Record already exist; record could not be
  added. zone[..] name[..]" (WERR_DNS_ERROR_RECORD_ALREADY_EXISTS; older releases print the raw
  WERROR "(9711, 'WERR_DNS_ERROR_RECORD_ALREADY_EXISTS')", some "Record already exists").
- `delete` of a missing record fails: "ERROR: Record does not exist; record could not be deleted.
  zone[..] name[..]" (WERR_DNS_ERROR_RECORD_DOES_NOT_EXIST, 9701), and for a name that does not
  exist at all "Zone does not exist; record could not be deleted." (WERR_DNS_ERROR_NAME_DOES_NOT_EXIST,
  9714 -- Samba reports a missing name with the zone wording).
- `query` of a missing name fails: "ERROR: Record or zone does not exist." (9714).
- `update <old> <new>` of a missing old value fails: "ERROR: Record or zone does not exist."
- `query` prints `  Name=<n>, Records=<k>, Children=<c>` then one line per record:
  `    A: 192.168.10.20 (flags=f0, serial=110, ttl=900)` / `    CNAME: host.zone (flags=...)`.
- `add` has no TTL option: records get samba-tool's default TTL (900 s); `ttl` is not applied.

So every script queries first and acts on what is there, and additionally accepts exactly the
"already exists" / "does not exist" outcomes of the one step that can race with another writer.
Anything else (wrong password, unreachable DC, missing zone on add) fails the script.

Credentials: never on the command line (`-U user%pass` shows in the process list) and never in
the script. authfile: the auth file's content (`username=`, `password=`[, `domain=`]) arrives on the
script's stdin, is written with umask 077 (mode 0600 from the first byte) into a private temp dir,
passed as `-A <file>`, and removed by an EXIT trap however the script ends. kerberos:
`--use-kerberos=required` with the ccache of the SSH user on the DC; stdin is not read.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from dataclasses import dataclass
from typing import Literal, Optional

from config.fields import is_ip_address

RecordType = Literal["A", "CNAME"]
AuthMode = Literal["authfile", "kerberos"]

_LABEL = r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_NAME_RE = re.compile(rf"^(@|{_LABEL}(\.{_LABEL})*)$")
_HOST_RE = re.compile(rf"^{_LABEL}(\.{_LABEL})*\.?$")

# The outcomes accepted as "already in the desired state" (see the module docstring).
ADD_EXISTS_PATTERN = (
    r"WERR_DNS_ERROR_RECORD_ALREADY_EXISTS|Record already exists?; record could not be added"
)
DELETE_MISSING_PATTERN = (
    r"WERR_DNS_ERROR_RECORD_DOES_NOT_EXIST|WERR_DNS_ERROR_NAME_DOES_NOT_EXIST"
    r"|Record does not exist; record could not be deleted"
    r"|Zone does not exist; record could not be deleted"
)
QUERY_MISSING_PATTERN = r"Record or zone does not exist|WERR_DNS_ERROR_NAME_DOES_NOT_EXIST"
UPDATE_MISSING_PATTERN = r"Record or zone does not exist|WERR_DNS_ERROR_RECORD_DOES_NOT_EXIST"


@dataclass(frozen=True)
class RecordSpec:
    server: str
    zone: str
    name: str
    record_type: RecordType
    value: str
    auth: AuthMode

    def __post_init__(self) -> None:
        if self.record_type not in ("A", "CNAME"):
            raise ValueError(f"record_type must be A or CNAME, not {self.record_type!r}")
        if self.auth not in ("authfile", "kerberos"):
            raise ValueError(f"auth must be authfile or kerberos, not {self.auth!r}")
        if not _HOST_RE.fullmatch(self.server) and not is_ip_address(self.server):
            raise ValueError(f"server {self.server!r} is not a host name or IP address")
        if not _HOST_RE.fullmatch(self.zone):
            raise ValueError(f"zone {self.zone!r} is not a DNS name")
        if not _NAME_RE.fullmatch(self.name):
            raise ValueError(f"record name {self.name!r} is not a DNS name relative to the zone")
        if self.record_type == "A":
            try:
                ipaddress.IPv4Address(self.value)
            except ValueError:
                raise ValueError(f"an A record needs an IPv4 address, not {self.value!r}") from None
        elif not _HOST_RE.fullmatch(self.value):
            raise ValueError(f"a CNAME record needs a host name, not {self.value!r}")

    @property
    def fqdn(self) -> str:
        return record_fqdn(self.name, self.zone)


def record_fqdn(name: str, zone: str) -> str:
    zone = zone.rstrip(".")
    return zone if name == "@" else f"{name}.{zone}"


def auth_file_content(username: str, password: str, domain: Optional[str] = None) -> str:
    """The samba credentials file (`-A`): what goes on the command's stdin, never anywhere else.

    Without `domain`, samba-tool uses the workgroup of the DC's own smb.conf (the scripts run on the
    DC), which is the right domain there.
    """
    for field, value in (("username", username), ("password", password), ("domain", domain or "")):
        if "\n" in value or "\r" in value:
            raise ValueError(f"the DNS admin {field} must not contain a line break")
    if not username:
        raise ValueError("the DNS admin user must not be empty")
    if not password:
        raise ValueError("the DNS admin password must not be empty (auth: authfile)")
    lines = [f"username={username}", f"password={password}"]
    if domain:
        lines.append(f"domain={domain}")
    return "\n".join(lines) + "\n"


_PRELUDE = r"""set -euo pipefail
export LC_ALL=C

authdir=""
cleanup() {
    if [ -n "$authdir" ]; then rm -rf -- "$authdir"; fi
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

if [ "$auth" = authfile ]; then
    # The credentials arrive on stdin; umask 077 makes the file 0600 before a byte is written.
    umask 077
    authdir="$(mktemp -d "${TMPDIR:-/tmp}/litellm-dns.XXXXXXXXXX")"
    cat > "$authdir/auth"
    chmod 0600 "$authdir/auth"
    if ! grep -q '^password=' "$authdir/auth"; then
        echo "litellm-gateway dns: no credentials on stdin (expected the samba auth file)" >&2
        exit 2
    fi
    creds=(-A "$authdir/auth")
else
    creds=(--use-kerberos=required)
fi

norm() {
    # compare values case-insensitively and without a trailing dot (CNAME targets)
    tr '[:upper:]' '[:lower:]' | sed -e 's/\.$//'
}

st() {
    # st <subcommand> <args...>: run samba-tool dns, output in $out, exit status in $rc
    rc=0
    out="$(samba-tool dns "$@" "${creds[@]}" 2>&1)" || rc=$?
}

current_values() {
    # The values of the record type at the name, one per line (nothing when the name is absent).
    st query "$server" "$zone" "$name" "$rtype"
    if [ "$rc" -ne 0 ]; then
        if printf '%s\n' "$out" | grep -Eq "$QUERY_MISSING"; then
            return 0
        fi
        printf 'litellm-gateway dns: samba-tool dns query failed (exit %s):\n%s\n' "$rc" "$out" >&2
        return 1
    fi
    # Only the first node block is the name itself (later blocks would be child nodes).
    # Values are printed as the DC holds them (act on them verbatim, compare them with norm).
    printf '%s\n' "$out" | awk -v t="$rtype" '
        /^[[:space:]]*Name=/ { blocks++; next }
        blocks <= 1 && $1 == t":" { print $2 }'
}

split_values() {
    # split_values <newline-separated raw values>: sets $match (the raw value equal to $want_n,
    # if any) and $others (the rest, newline-separated)
    match=""
    others=""
    local v
    while IFS= read -r v; do
        [ -n "$v" ] || continue
        if [ -z "$match" ] && [ "$(printf '%s\n' "$v" | norm)" = "$want_n" ]; then
            match="$v"
        else
            others="${others:+$others
}$v"
        fi
    done <<< "$1"
}

add_value() {
    st add "$server" "$zone" "$name" "$rtype" "$1"
    if [ "$rc" -eq 0 ]; then
        echo "added $rtype $fqdn -> $1"
    elif printf '%s\n' "$out" | grep -Eq "$ADD_EXISTS"; then
        echo "kept $rtype $fqdn -> $1 (already present)"
    else
        printf 'litellm-gateway dns: samba-tool dns add failed (exit %s):\n%s\n' "$rc" "$out" >&2
        exit 1
    fi
}

delete_value() {
    st delete "$server" "$zone" "$name" "$rtype" "$1"
    if [ "$rc" -eq 0 ]; then
        echo "deleted $rtype $fqdn -> $1"
    elif printf '%s\n' "$out" | grep -Eq "$DELETE_MISSING"; then
        echo "already gone: $rtype $fqdn -> $1"
    else
        printf 'litellm-gateway dns: samba-tool dns delete failed (exit %s):\n%s\n' "$rc" "$out" >&2
        exit 1
    fi
}
"""

_ENSURE = r"""
# ---- ensure: afterwards the name holds exactly one record of this type, the wanted value ------
want_n="$(printf '%s\n' "$want" | norm)"
have="$(current_values)"
split_values "$have"
n_others=0
if [ -n "$others" ]; then n_others="$(printf '%s\n' "$others" | wc -l | tr -d ' ')"; fi

if [ -n "$match" ]; then
    echo "unchanged $rtype $fqdn -> $match"
elif [ "$n_others" -eq 1 ]; then
    # one old value: change it in place
    old="$others"
    others=""
    st update "$server" "$zone" "$name" "$rtype" "$old" "$want"
    if [ "$rc" -eq 0 ]; then
        echo "updated $rtype $fqdn: $old -> $want"
    elif printf '%s\n' "$out" | grep -Eq "$UPDATE_MISSING"; then
        add_value "$want"
    else
        printf 'litellm-gateway dns: samba-tool dns update failed (exit %s):\n%s\n' "$rc" "$out" >&2
        exit 1
    fi
else
    # several unknown old values (or none): remove them, then add
    if [ -n "$others" ]; then
        while IFS= read -r old; do
            delete_value "$old"
        done <<< "$others"
        others=""
    fi
    add_value "$want"
fi
# stale values next to the wanted one: the name/type is owned by this record
if [ -n "$others" ]; then
    while IFS= read -r old; do
        delete_value "$old"
    done <<< "$others"
fi
"""

_DELETE = r"""
# ---- delete: remove the wanted value if it is there; absent is success -----------------------
want_n="$(printf '%s\n' "$want" | norm)"
have="$(current_values)"
split_values "$have"
if [ -n "$match" ]; then
    delete_value "$match"
else
    echo "absent $rtype $fqdn -> $want"
fi
"""


def _header(spec: RecordSpec, action: str) -> str:
    q = shlex.quote
    comment = f"{action}: {spec.record_type} {spec.fqdn} -> {spec.value}"
    if any(c in comment for c in "\r\n\x00"):  # validated by RecordSpec; never let a value end the comment
        raise ValueError(f"a line break in a DNS record value: {comment!r}")
    return "\n".join(
        [
            f"# litellm-gateway DnsRecord {action}: {spec.record_type} {spec.fqdn} -> {spec.value}",
            f"server={q(spec.server)}",
            f"zone={q(spec.zone)}",
            f"name={q(spec.name)}",
            f"rtype={q(spec.record_type)}",
            f"want={q(spec.value)}",
            f"fqdn={q(spec.fqdn)}",
            f"auth={q(spec.auth)}",
            f"ADD_EXISTS={q(ADD_EXISTS_PATTERN)}",
            f"DELETE_MISSING={q(DELETE_MISSING_PATTERN)}",
            f"QUERY_MISSING={q(QUERY_MISSING_PATTERN)}",
            f"UPDATE_MISSING={q(UPDATE_MISSING_PATTERN)}",
            "",
        ]
    )


def ensure_script(spec: RecordSpec) -> str:
    """Create or update (idempotent): the bash script text."""
    return _header(spec, "ensure") + _PRELUDE + _ENSURE


def delete_script(spec: RecordSpec) -> str:
    """Delete (idempotent): the bash script text."""
    return _header(spec, "delete") + _PRELUDE + _DELETE


def command_line(script: str) -> str:
    """What the SSH server runs (through the login shell): the script under bash, stdin untouched."""
    return "/bin/bash -c " + shlex.quote(script)
