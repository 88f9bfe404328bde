"""The Redis ACL user's text: the `ACL SETUSER` line redis-cli reads and the create/delete scripts
run over SSH on the Redis host. Pure: no Pulumi imports.

`components.redis_cache.RedisCache` runs them (its docstring explains the rules, the key and
channel patterns, and how the password travels: only as its SHA-256, only on stdin).
"""

from __future__ import annotations

import hashlib
import shlex
from typing import Optional, Sequence

from config.redis_settings import RedisSettings
# Command categories/commands after the key patterns; components/redis_cache.py's docstring says why.
ACL_COMMAND_RULES = (
    "+@all", "-@dangerous", "+info",
    # Not @dangerous, yet they reach beyond the user's own keys on a shared server: other
    # databases (SELECT), other tenants' key names (SCAN, RANDOMKEY, DBSIZE) and channel names
    # (PUBSUB), everyone's Lua scripts and functions (SCRIPT FLUSH, FUNCTION ...). LiteLLM's
    # default paths use none of them (SCAN only in the optional batch_redis_requests hook).
    "-select", "-scan", "-randomkey", "-dbsize", "-pubsub", "-script|flush", "-function",
)
# The pub/sub channels of the pinned LiteLLM (litellm/proxy/common_utils/
# auth_cache_invalidation_pubsub.py AUTH_CACHE_INVALIDATION_CHANNEL, config_sync_pubsub.py
# CONFIG_SYNC_CHANNEL), each prefixed with the coordination Redis' namespace + ":".
LITELLM_CHANNELS = ("litellm_proxy.auth_cache_invalidation", "litellm_proxy.config_change")
NO_ACL_FILE_MARKER = "not configured to use an ACL file"
# sed program for error text: drops '#<hash>' / '>password' rules and any 64-hex run.
_REDACT = "sed -e \"s/[#>][^' ]*/<redacted>/g\" -e 's/[0-9a-fA-F]\\{64\\}/<redacted>/g'"


def _check_token(label: str, value: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{label} must be a non-empty string")
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise ValueError(f"{label} {value!r} must not contain whitespace or control characters")
    return value


def check_acl_user(user: str) -> str:
    _check_token("Redis ACL user", user)
    if user == "default":
        # `reset` would strip the default user of everything and lock every client out.
        raise ValueError("refusing to manage the Redis 'default' user; choose a dedicated user name")
    return user


def redis_cli_quote(arg: str) -> str:
    """One argument for redis-cli's line parser (sdssplitargs): double-quoted, escaped."""
    out = ['"']
    for byte in arg.encode("utf-8"):
        ch = chr(byte)
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif 0x20 <= byte < 0x7F:
            out.append(ch)
        else:
            out.append(f"\\x{byte:02x}")
    out.append('"')
    return "".join(out)


def password_sha256(password: str) -> str:
    return hashlib.sha256(password.encode("utf-8")).hexdigest()


def glob_escape(text: str) -> str:
    """`text` as a literal inside a Redis glob pattern (ACL key and channel patterns are globs)."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def namespace_key_pattern(namespace: str) -> str:
    return glob_escape(namespace) + ":*"


def litellm_channel_patterns(namespace: str) -> list[str]:
    """The exact channels LiteLLM publishes/subscribes on under `namespace` (escaped globs)."""
    return [glob_escape(f"{namespace}:{channel}") for channel in LITELLM_CHANNELS]


def _is_whole_keyspace(pattern: str) -> bool:
    """A pattern made only of unescaped wildcards (`*`, `**`, ...): every key."""
    return bool(pattern) and set(pattern) <= {"*"}


def acl_setuser_line(
    user: str,
    password: str,
    key_patterns: Sequence[str],
    channels: Sequence[str] = (),
    *,
    dedicated: bool = False,
) -> str:
    """The line redis-cli reads from stdin. Contains the password's SHA-256: treat as secret.

    `channels` are ACL channel patterns (`&...`); without any the user has no pub/sub at all.
    `~*` (every key of the server) is refused unless `dedicated` (redis.dedicated: the Redis serves
    this gateway alone)."""
    check_acl_user(user)
    if not key_patterns:
        raise ValueError("at least one key pattern is needed (e.g. 'litellm.dev.cache:*')")
    if not password:
        raise ValueError("the ACL user's password must not be empty")
    if not dedicated and any(_is_whole_keyspace(p) for p in key_patterns):
        raise ValueError(
            "refusing key pattern '*' (every key of the server, other tenants' included): confine the "
            "user to the gateway's namespace, or set redis.dedicated: true if this Redis serves this "
            "gateway alone"
        )
    rules = ["reset", "resetchannels", "on", redis_cli_quote("#" + password_sha256(password))]
    rules += [redis_cli_quote("~" + _check_token("key pattern", p)) for p in key_patterns]
    rules += [redis_cli_quote("&" + _check_token("channel pattern", c)) for c in channels]
    rules += list(ACL_COMMAND_RULES)
    return " ".join(["ACL", "SETUSER", redis_cli_quote(user), *rules]) + "\n"


def _redis_cli(settings: RedisSettings) -> str:
    parts = ["redis-cli", "-h", shlex.quote(settings.host), "-p", str(int(settings.port))]
    if settings.admin_user:
        # the name only (not secret); the password is REDISCLI_AUTH (_admin_auth_snippet)
        parts += ["--user", shlex.quote(settings.admin_user)]
    if settings.tls:
        # hiredis verifies the server's chain against --cacert (the system's CAs without it); it
        # does not check the host name (rendering/db_tls.py, docs/security.md).
        parts.append("--tls")
        if settings.ca_cert:
            parts += ["--cacert", '"$ca_file"']
    return " ".join(parts)


def acl_stdin(setuser_line: str, admin_password: Optional[str]) -> str:
    """The create/update/delete command's stdin: the admin password on the first line when the
    server needs one (the scripts read it first, see _admin_auth_snippet), then the ACL SETUSER line
    redis-cli reads. Secret as a whole."""
    if admin_password is None:
        return setuser_line
    if not admin_password or any(c in admin_password for c in "\r\n\0"):
        raise ValueError("the Redis admin password must be one non-empty line")
    return admin_password + "\n" + setuser_line


def _admin_auth_snippet(admin_auth: bool) -> str:
    """With admin credentials, the script's first act: the password's line from stdin into
    REDISCLI_AUTH, which redis-cli sends as AUTH [<--user>] <password> (never an argument, so never
    in `ps`; never in the SSH session's environment, which would need sshd's AcceptEnv and be logged
    as a plain input). redis-cli then reads the rest of stdin (the ACL SETUSER line)."""
    if not admin_auth:
        return ""
    return (
        "if ! IFS= read -r REDISCLI_AUTH || [ -z \"$REDISCLI_AUTH\" ]; then\n"
        "  echo 'the Redis admin password (the first line of stdin) is missing' >&2; exit 1\n"
        "fi\n"
        "export REDISCLI_AUTH\n"
    )


# Redis answers an unauthenticated ACL SETUSER with "NOAUTH" or, the line being long, "Protocol
# error: unauthenticated multibulk length"; a wrong password with WRONGPASS, a user without ACL
# rights with NOPERM. Each means the same fix.
_AUTH_HINT = (
    '  case "$reply" in\n'
    "    *NOAUTH*|*unauthenticated*|*WRONGPASS*|*NOPERM*)\n"
    "      echo 'the Redis admin credentials are missing or wrong: set redis.admin_user (a user allowed ACL "
    "SETUSER/SAVE) and its password with `pulumi config set --secret redisAdminPassword` (the default "
    "user'\\''s requirepass password when admin_user is not set)' >&2 ;;\n"
    "  esac\n"
)


def _ca_file_snippet(settings: RedisSettings) -> str:
    """redis.ca_cert for redis-cli: written (public, from a quoted heredoc: stdin carries the ACL
    line) to a private temporary file removed when the script ends. The SSH user needs no write
    access anywhere, and the script's text changes with the CA."""
    if not (settings.tls and settings.ca_cert):
        return ""
    return (
        "ca_file=$(mktemp)\n"
        "trap 'rm -f \"$ca_file\"' EXIT\n"
        "cat > \"$ca_file\" <<'LITELLM_GATEWAY_CA_EOF'\n"
        + settings.ca_cert.rstrip("\n") + "\n"
        "LITELLM_GATEWAY_CA_EOF\n"
    )


def _acl_save_snippet(cli: str) -> str:
    return (
        f"saved=$({cli} ACL SAVE </dev/null 2>&1)\n"
        'case "$saved" in\n'
        "  OK) ;;\n"
        f'  *"{NO_ACL_FILE_MARKER}"*)\n'
        "    echo 'warning: this Redis has no ACL file: the user lives in memory only and is lost when "
        "Redis restarts (configure aclfile, then run pulumi up again)' >&2 ;;\n"
        '  *) printf \'ACL SAVE failed: %s\\n\' "$saved" >&2; exit 1 ;;\n'
        "esac\n"
    )


def acl_create_script(settings: RedisSettings, admin_auth: bool = False) -> str:
    """Shell run over SSH for create and update. redis-cli reads ACL SETUSER from stdin (after the
    admin password's line, with `admin_auth`: acl_stdin)."""
    user = check_acl_user(settings.user or "")
    cli = _redis_cli(settings)
    return (
        "set -u\n"
        + _admin_auth_snippet(admin_auth)
        + _ca_file_snippet(settings)
        # redis-cli inherits the command's stdin: the one secret line, never an argument.
        + f"reply=$({cli} 2>&1)\n"
        'if [ "$reply" != "OK" ]; then\n'
        # Redis quotes the failing rule (the password hash) in its error: redact before printing.
        "  printf 'ACL SETUSER %s failed: %s\\n' "
        f"{shlex.quote(user)} \"$(printf '%s\\n' \"$reply\" | head -n 3 | {_REDACT})\" >&2\n"
        + _AUTH_HINT
        + "  exit 1\n"
        "fi\n"
        + _acl_save_snippet(cli)
        + f"echo {shlex.quote('ACL user ' + user + ' set')}\n"
    )


def acl_delete_script(settings: RedisSettings, admin_auth: bool = False) -> str:
    """Shell run over SSH on delete: ACL DELUSER (0 = already gone is fine), then ACL SAVE. The
    provider feeds delete the same stdin as create: with `admin_auth` its first line is the admin
    password."""
    user = check_acl_user(settings.user or "")
    cli = _redis_cli(settings)
    return (
        "set -u\n"
        + _admin_auth_snippet(admin_auth)
        + _ca_file_snippet(settings)
        + f"reply=$({cli} ACL DELUSER {shlex.quote(user)} </dev/null 2>&1)\n"
        'case "$reply" in\n'
        "  0|1) ;;\n"
        "  *) printf 'ACL DELUSER %s failed: %s\\n' "
        f"{shlex.quote(user)} \"$reply\" >&2; exit 1 ;;\n"
        "esac\n"
        + _acl_save_snippet(cli)
        + f"echo {shlex.quote('ACL user ' + user + ' deleted')}\n"
    )
