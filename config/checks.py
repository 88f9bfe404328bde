"""Rules for config values by where they land: a shell script, a systemd unit, a Redis ACL rule, the
env file, an upstream request. Pure (no Pulumi imports); the settings modules apply them. Near a
leaf: of `config` it imports only `config.host_env`, so every settings module may import it.

Every pattern is applied with `re.fullmatch`: `re.match` with `^...$` accepts a trailing newline
(`$` matches before it), which is how "1.107.0\\n" once passed the version check.
"""

from __future__ import annotations

import re
from typing import Callable, Optional

from config.host_env import REDIS_CA_ENV, PLAIN_ENV, UI_PATH_ENV, UI_PLAIN_ENV_NAMES, UI_SECRET_ENV_NAMES

def whole_match(pattern: "re.Pattern[str]", expected: str) -> Callable[[str], str]:
    """A validator: the value must match `pattern` as a whole (never `re.match`: `$` would match
    before a trailing newline), else ValueError("expected ...")."""

    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(expected)
        return value

    return check


# Paths on the host: absolute, made of characters that need no quoting anywhere they land (a shell
# word, a unit file value, a comment line, a YAML scalar): no whitespace, quotes, `%` (a systemd
# specifier), `$`, `\`, `;`, glob characters or control characters.
# The first character is never `-` (an option to mkdir/install) nor `+`/`@` (ExecStart= prefixes).
_PATH = re.compile(r"[A-Za-z0-9._/][A-Za-z0-9._/+@:-]*")
PATH_RULE = (
    "letters, digits and . _ / + @ : - only, not starting with - + @ "
    "(no spaces, quotes, %, $, \\ or line breaks)"
)


def check_path(value: str, *, absolute: bool) -> str:
    """A safe host path; `absolute=False` also allows a path relative to the project directory."""
    if not _PATH.fullmatch(value):
        raise ValueError(f"expected a path of {PATH_RULE}")
    parts = value.split("/")
    if ".." in parts:
        raise ValueError("a path must not contain '..'")
    if absolute and not value.startswith("/"):
        raise ValueError("expected an absolute path such as /opt/litellm (the host resolves nothing relative)")
    if value.rstrip("/") in ("", "."):
        raise ValueError("expected a directory of its own, not / or .")
    return value


# Service account names: what `useradd` accepts by default on Debian/RHEL (NAME_REGEX), at most 32.
_USER = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
# Accounts that already exist on a typical Linux host (base-passwd on Debian, setup on RHEL, plus
# accounts of common services and cloud images): the layout step would take one over (usermod
# --home, chown of its home) and the proxy would run with whatever else that account may do.
RESERVED_SYSTEM_USERS = frozenset(
    {
        "root", "daemon", "bin", "sys", "sync", "games", "man", "lp", "mail", "news", "uucp",
        "proxy", "www-data", "backup", "list", "irc", "gnats", "nobody", "nogroup", "adm",
        "shutdown", "halt", "operator", "ftp", "sshd", "messagebus", "polkitd", "syslog",
        "systemd-network", "systemd-resolve", "systemd-timesync", "systemd-journal", "_apt",
        "postgres", "redis", "mysql", "nginx", "apache", "ubuntu", "debian", "ec2-user",
        "centos", "admin",
    }
)


check_unix_user = whole_match(_USER, "expected a user name of a-z, 0-9, _ and - (starting with a letter or _, at most 32)")


# The SSH login user: a pulumi-command connection parameter, compared with "root" to decide on sudo;
# broader than a service account (directory users such as "first.last"), still no whitespace,
# quotes or shell characters.
_LOGIN_USER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._@-]{0,63}")


check_login_user = whole_match(_LOGIN_USER, "expected a login name of letters, digits and . _ @ - (at most 64)")


def check_service_user(value: str) -> str:
    check_unix_user(value)
    if value == "root":
        raise ValueError(
            "the proxy must not run as root (a network service holding every credential); "
            "use a dedicated account such as 'litellm'"
        )
    if value in RESERVED_SYSTEM_USERS:
        raise ValueError(
            f"'{value}' is an account that already exists on most hosts (a system or service account); "
            "the layout step would take it over: use a dedicated account such as 'litellm'"
        )
    return value


# Redis ACL user names and the cache namespace become ACL rules (`~<namespace>:*`) and key
# prefixes: no whitespace (redis-cli splits on it) and no glob characters (`*?[]` would widen the
# key pattern the ACL user is confined to).
_REDIS_USER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
_NAMESPACE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


def check_redis_user(value: str) -> str:
    if not _REDIS_USER.fullmatch(value):
        raise ValueError(
            "expected a Redis ACL user name of letters, digits and . _ @ - (no spaces, at most 64)"
        )
    return value


def check_namespace(value: str) -> str:
    if not _NAMESPACE.fullmatch(value):
        raise ValueError(
            "expected a key prefix of letters, digits and . _ : - (no spaces or glob characters "
            "such as * ? [ ], which would widen the Redis key pattern), e.g. 'litellm.dev.cache'"
        )
    return value


# What a line-based file (the env file, the samba auth file, a unit) cannot hold in a value.
_LINE_BREAKING = re.compile(r"[\r\n\x00]")


def breaks_lines(value: str) -> bool:
    return bool(_LINE_BREAKING.search(value))


def host_env_names() -> frozenset[str]:
    """Names the host's env file defines itself besides the gateway's secrets (config.host_env
    PLAIN_ENV, STORE_MODEL_IN_DB, DISABLE_SCHEMA_UPDATE and the Admin UI's, config.admin_ui), or
    that the unit and the local launch set beside it (LITELLM_UI_PATH): an envSecrets entry of that
    name would replace it."""
    return frozenset({name for name, _ in PLAIN_ENV} | {"STORE_MODEL_IN_DB", "DISABLE_SCHEMA_UPDATE"}
                     | UI_PLAIN_ENV_NAMES | UI_SECRET_ENV_NAMES | {REDIS_CA_ENV, UI_PATH_ENV})


# The pinned LiteLLM's alert types (litellm/types/integrations/slack_alerting.py, AlertType, in
# 1.108.7; tests/config check this list against that enum in the venv).
LITELLM_ALERT_TYPES = (
    "llm_exceptions", "llm_too_slow", "llm_requests_hanging",
    "budget_alerts", "spend_reports", "failed_tracking_spend", "user_spend_thresholds",
    "user_spend_anomalies", "db_exceptions", "daily_reports", "cooldown_deployment",
    "new_model_added", "model_deprecation_warnings", "outage_alerts", "region_outage_alerts",
    "fallback_reports", "new_virtual_key_created", "virtual_key_updated", "virtual_key_deleted",
    "new_team_created", "team_updated", "team_deleted", "new_internal_user_created",
    "internal_user_updated", "internal_user_deleted", "mcp_tool_description_blocked",
    "mcp_pinned_tools_changed",
)


def check_alert_type(value: str) -> str:
    if value not in LITELLM_ALERT_TYPES:
        raise ValueError(
            f"unknown alert type '{value}'; the pinned LiteLLM knows: {', '.join(LITELLM_ALERT_TYPES)}"
        )
    return value


def zero_duration(value: str) -> Optional[str]:
    """'0d' -> '0d' (LiteLLM answers 400 to a zero budget_duration); anything else -> None."""
    m = re.fullmatch(r"([0-9]+)(s|m|h|d|w|mo)", value)
    if m and int(m.group(1)) == 0:
        return value
    return None


# Model names: the public name clients ask for and the upstream's own name. They reach config.yaml,
# admin-API bodies, metrics labels and URLs (/v1/models/<name>): printable ASCII without whitespace,
# quotes or the characters that mean something in a URL or a config line (`#`, `%`, `\`, `?`), which
# also keeps out zero-width and bidi characters that make two names look alike.
_MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+=-]{0,255}")
MODEL_NAME_RULE = "letters, digits and . _ : / @ + = - (starting with a letter or digit, at most 256; no spaces)"


check_model_name = whole_match(_MODEL_NAME, f"expected a model name of {MODEL_NAME_RULE}, e.g. 'llama3.2' or 'qwen2.5-coder:7b'")


# A login or role name that a provider or a script receives (PostgreSQL admin, SSH user).
_ROLE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._@-]{0,62}")


check_role_name = whole_match(_ROLE, "expected a name of letters, digits and . _ @ - (at most 63; no spaces or quotes)")


def check_http_url(value: str, *, host_check) -> str:
    """An upstream base URL: http(s), a host that passes `host_check`, an optional port and a plain
    path; no user info, query or fragment (a credential in a URL is logged and cached everywhere;
    credentials go in api_key as os.environ/NAME)."""
    from urllib.parse import urlsplit

    example = "expected an http(s) URL such as http://hx-ollama-server:11434 or https://api.openai.com/v1"
    if not re.fullmatch(r"https?://[A-Za-z0-9.\[\]:/_~@?=&#%+-]+", value):
        raise ValueError(f"{example} (no spaces, quotes, backslashes or line breaks)")
    parts = urlsplit(value)
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise ValueError("a URL must not carry credentials (user:password@); put the key in api_key as os.environ/NAME")
    if parts.query or parts.fragment or "?" in value or "#" in value:
        raise ValueError("a URL must not carry a query or fragment (e.g. ?api-key=...); put credentials in api_key "
                         "as os.environ/NAME")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{example}: the port must be a number from 1 to 65535") from None
    if port == 0:
        raise ValueError(f"{example}: the port must be a number from 1 to 65535")
    host = parts.hostname or ""
    try:
        host_check(host)
    except ValueError as exc:
        raise ValueError(f"the URL's host {host!r}: {exc}") from None
    if not re.fullmatch(r"[A-Za-z0-9._~/-]*", parts.path):
        raise ValueError(f"{example}: the path may hold letters, digits and . _ ~ / - only (no %-escapes)")
    return value


# PEM certificates given as plain config (a CA certificate): only BEGIN/END CERTIFICATE blocks of
# base64 lines, nothing before, between or after them.
_PEM_CERTIFICATES = re.compile(r"(?:-----BEGIN CERTIFICATE-----\n(?:[A-Za-z0-9+/=]{1,76}\n)+-----END CERTIFICATE-----\n?)+")


check_pem_certificates = whole_match(_PEM_CERTIFICATES, "expected PEM certificates only ('-----BEGIN CERTIFICATE-----' ... "
                                     "'-----END CERTIFICATE-----', LF line ends), with nothing else before, between or after them")


# A name handed to a provider or API as one value (a kubeconfig context such as
# `arn:aws:eks:eu-west-1:123456789012:cluster/prod` or `kubernetes-admin@kubernetes`): one word of
# printable ASCII, none of the characters that mean something in a config line or a URL.
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@/+=-]{0,252}")


check_word = whole_match(_WORD, "expected one word of letters, digits and . _ : @ / + = - (no spaces, #, %, \\ or quotes)")


# A display name shown by LiteLLM's UI (a team's alias): printable ASCII, spaces allowed, at most 64.
_DISPLAY_NAME = re.compile(r"[ -~]{1,64}")


def check_display_name(value: str) -> str:
    if not _DISPLAY_NAME.fullmatch(value) or value != value.strip():
        raise ValueError("expected printable ASCII of at most 64 characters, without leading or trailing spaces "
                         "(no line breaks, tabs, or zero-width and bidi characters)")
    return value


_LOOPBACK_NAMES = frozenset({"localhost", "ip6-localhost"})


def is_loopback_host(host: str) -> bool:
    import ipaddress

    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_admin_url(value: str, *, host_check) -> str:
    """The admin URL override (`adminUrl`): the providers send the master key there on every call, so
    it is https, or http only to a loopback address (an SSH tunnel or a port-forward on this machine)."""
    from urllib.parse import urlsplit

    check_http_url(value, host_check=lambda h: h if is_loopback_host(h) else host_check(h))
    host = urlsplit(value).hostname or ""
    if value.startswith("http://") and not is_loopback_host(host):
        raise ValueError(
            f"http:// to {host} would send the master key over the network in clear: use https://, or a "
            "tunnel to a loopback address (e.g. `ssh -L 14000:localhost:4000 ...` and http://127.0.0.1:14000)"
        )
    return value
