"""The files a LiteLLM host receives besides config.yaml: its env file and systemd unit. Pure.

The env file holds every secret the proxy needs (mode 0600, read by systemd through
EnvironmentFile=), so neither the unit, nor the command line, nor config.yaml carries one.
`render_env_file(..., redact=True)` gives the review copy `make render` writes, with every secret
value shown as "[secret]".
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Mapping, Optional

from config.admin_ui import ui_plain_env, ui_secret_env_names
from config.endpoints import base_url
from config.fields import is_ip_address
from config.host_env import PLAIN_ENV, REDIS_CA_ENV
from config.kubernetes_settings import GRACEFUL_SHUTDOWN_ENV, request_window_seconds
from config.litellm_locks import lock_text
from config.litellm_settings import LiteLLMHostSpec
from config.observability import CALLBACK_PACKAGES
from config.settings import GatewaySettings
from rendering import db_tls
from rendering.admin_ui_dirs import UI_PATH_ENV, ui_dir

REDACTED = "[secret]"

# PLAIN_ENV (the env file's fixed non-secret entries) lives in config.host_env: config's checks
# refuse envSecrets entries of those names, and config never imports a renderer.


def store_model_in_db_env(settings: GatewaySettings) -> str:
    """STORE_MODEL_IN_DB for the env file: "True" exactly when models are API-managed.

    The pinned proxy ORs the env var with `general_settings.store_model_in_db`
    (proxy_server.py, `get_secret_bool("STORE_MODEL_IN_DB", store_model_in_db) or store_model_in_db`),
    so a "True" here would silently turn on DB models (and `/model/new`) for a `model_source: config`
    stack whose config.yaml says false. Both come from this one fact (rendering.litellm_yaml renders
    `store_model_in_db` from the same function)."""
    return "True" if settings.litellm.model_source == "api" else "False"


@dataclass(frozen=True)
class HostPaths:
    install_dir: str
    config_dir: str
    venv: str
    config_file: str
    env_file: str
    unit_name: str
    unit_file: str
    requirements_file: str
    tls_cert_file: str
    tls_key_file: str
    tls_ca_file: str
    service_home: str  # the service user's home (ssh): the only directory the proxy writes besides /tmp
    prisma_home: str  # root-owned Prisma CLI/Node/engines cache (ssh; PRISMA_HOME_DIR)
    # The proxy's working directory holds a link to LiteLLM's schema.prisma: the start-up drift check
    # (litellm/proxy/db/check_migration.py) runs `prisma migrate diff --to-schema-datamodel
    # ./schema.prisma` in the proxy's cwd. The install step makes the link (the venv's path depends on
    # the host's Python), the unit's WorkingDirectory and the migration step's run there.
    work_dir: str = ""
    schema_link: str = ""


def venv_key(settings: GatewaySettings) -> str:
    """`<version>-<hash12>`: the venv a release installs into (`<install_dir>/venvs/<key>`).

    A new LiteLLM release or a new lock is a new directory, installed side by side: installing never
    touches the venv a running proxy imports from, and a host switches to it in its own rollout
    turn (its unit / launch command names the venv). The hash is the release's lock's (locks/litellm-<v>.lock)
    when it has one, else that of the exact top-level pins (a local deploy of an unlocked version)."""
    version = settings.litellm.version
    lock = lock_text(version)
    if lock is not None:
        material = lock
    else:
        extras = sorted({pin for cb in settings.observability.callbacks for pin in CALLBACK_PACKAGES[cb]})
        material = "\n".join([f"litellm[proxy]=={version}", *extras])
    return f"{version}-{hashlib.sha256(material.encode('utf-8')).hexdigest()[:12]}"


def host_paths(settings: GatewaySettings) -> HostPaths:
    install = PurePosixPath(settings.litellm.install_dir)
    venv = install / "venvs" / venv_key(settings)
    conf = PurePosixPath(settings.litellm.config_dir)
    tls = PurePosixPath(settings.tls.cert_dir)
    unit_name = "litellm.service"
    return HostPaths(
        install_dir=str(install),
        config_dir=str(conf),
        venv=str(venv),
        config_file=str(conf / "config.yaml"),
        env_file=str(conf / "litellm.env"),
        unit_name=unit_name,
        unit_file=f"/etc/systemd/system/{unit_name}",
        requirements_file=str(install / "requirements.txt"),
        tls_cert_file=str(tls / "server.crt"),
        tls_key_file=str(tls / "server.key"),
        tls_ca_file=str(tls / "ca.crt"),
        service_home=str(install / "home"),
        prisma_home=str(install / "prisma"),
        # per venv: the schema link follows the release the unit starts
        work_dir=str(venv),
        schema_link=str(venv / "schema.prisma"),
    )


def secret_env_names(settings: GatewaySettings) -> list[str]:
    """Names of the env file's secret entries, in file order."""
    names = ["LITELLM_MASTER_KEY", "LITELLM_SALT_KEY"]
    if settings.postgres.enabled:
        names.append("DATABASE_URL")
    if settings.redis.enabled:
        names.append("REDIS_PASSWORD")
    # The Admin UI's password (never the master key) and SSO client secret (config.admin_ui).
    names.extend(ui_secret_env_names(settings.admin_ui))
    names.extend(settings.referenced_env_vars())
    # Every envSecrets entry reaches the host, referenced or not (LANGFUSE_HOST, SSL_CERT_FILE...).
    names.extend(sorted(n for n in settings.secrets.env_secrets if n not in names))
    return names


@dataclass(frozen=True)
class CaFiles:
    """Where the database's and Redis' CA certificates are on a host or in a pod (None: not used)."""

    postgres: Optional[str]
    redis: Optional[str]


def ca_file_path(settings: GatewaySettings, name: str, pem: str) -> str:
    """A CA file's path. ssh/local: the content-addressed staged copy
    (`<config_dir>/staged/<name>.<sha256[:12]>`, the name `rendering.host_scripts.staged_path` gives
    it; components.host stages it and checks the two agree). The URL and env name that copy, not a
    live file, because the migration runs before the rollout puts files in place, and a new CA is
    a new file (and a new env file, so a restart) instead of a file changed under a running proxy.
    kubernetes: the mount of the ConfigMap key (rendering.kubernetes_objects)."""
    if settings.litellm.deploy == "kubernetes":
        return str(PurePosixPath(db_tls.KUBE_CA_DIR) / name)
    digest = hashlib.sha256(pem.encode("utf-8")).hexdigest()
    return str(PurePosixPath(host_paths(settings).config_dir) / "staged" / f"{name}.{digest[:12]}")


def ca_files(settings: GatewaySettings) -> CaFiles:
    pg = settings.postgres
    redis = settings.redis
    return CaFiles(
        postgres=ca_file_path(settings, db_tls.POSTGRES_CA_NAME, pg.ca_cert) if pg.enabled and pg.ca_cert else None,
        redis=ca_file_path(settings, db_tls.REDIS_CA_NAME, redis.ca_cert) if redis.enabled and redis.ca_cert else None,
    )


def plain_env(settings: GatewaySettings) -> list[tuple[str, str]]:
    """The env file's non-secret entries, in file order (also the pods' plain env, kubernetes)."""
    entries = list(PLAIN_ENV)
    redis_ca = ca_files(settings).redis
    if redis_ca is not None:
        entries.append((REDIS_CA_ENV, redis_ca))
    entries.append(("STORE_MODEL_IN_DB", store_model_in_db_env(settings)))
    if settings.postgres.enabled:
        # Migrations run as their own step before every (re)start (as the Helm chart's migration
        # job does); the proxy itself must not race them from several workers or hosts.
        entries.append(("DISABLE_SCHEMA_UPDATE", "True"))
    # DISABLE_ADMIN_UI, UI_USERNAME and the SSO provider's public settings (config.admin_ui).
    entries.extend(ui_plain_env(settings.admin_ui, base_url(settings)))
    return entries


def render_env_file(
    settings: GatewaySettings,
    secret_values: Optional[Mapping[str, str]] = None,
    *,
    redact: bool = False,
) -> str:
    """The env file. `secret_values` maps each name of `secret_env_names` to its value; with
    redact=True values are not needed and every secret shows as "[secret]"."""
    lines = [
        f"# litellm-gateway: environment of the LiteLLM proxy, stack '{settings.stack}'.",
        "# Mode 0600, owned by root; read by systemd (EnvironmentFile=). Holds every secret.",
    ]
    for name, value in plain_env(settings):
        lines.append(f"{name}={_quote(value)}")
    for name in secret_env_names(settings):
        if redact:
            value = REDACTED
        else:
            if secret_values is None or name not in secret_values:
                raise KeyError(f"no value for env var {name}")
            value = secret_values[name]
        if value == "" and name == "REDIS_PASSWORD":
            continue  # a Redis without auth: LiteLLM treats an empty password as a wrong one
        lines.append(f"{name}={_quote(value)}")
    return "\n".join(lines) + "\n"


def _quote(value: str) -> str:
    """systemd EnvironmentFile quoting: double quotes, backslash escapes; no newlines allowed."""
    if "\n" in value or "\r" in value:
        raise ValueError("environment values cannot contain newlines")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def proxy_args(settings: GatewaySettings) -> list[str]:
    """The proxy's command-line arguments (no secret ever goes here)."""
    paths = host_paths(settings)
    args = [
        "--config", paths.config_file,
        "--host", settings.litellm.bind_host,
        "--port", str(settings.litellm.port),
        "--num_workers", str(settings.litellm.workers),
    ]
    if settings.tls.enabled:
        args += ["--ssl_keyfile_path", paths.tls_key_file, "--ssl_certfile_path", paths.tls_cert_file]
    return args


# A word systemd takes verbatim in ExecStart= (no quoting, no escapes, no specifiers/variables).
_UNIT_PLAIN_WORD = re.compile(r"[A-Za-z0-9_./:=@+,-]+")


def unit_value(value: str) -> str:
    """A value for a unit setting that expands specifiers (User=, WorkingDirectory=, ...): `%`
    doubled (systemd.unit(5), "Specifiers"). A line break or NUL would end the setting and start
    a new directive (e.g. `ExecStartPre=+...`, run as root): refused, never escaped."""
    if re.search(r"[\r\n\x00]", value):
        raise ValueError(f"a systemd unit value cannot contain a line break: {value!r}")
    return value.replace("%", "%%")


def unit_exec_word(word: str) -> str:
    """One ExecStart= argument (systemd.service(5), "Command lines"): `%` -> `%%` (specifiers),
    `$` -> `$$` (environment variable substitution), and a word with anything beyond plain
    characters double-quoted with C-style backslash escapes for `\\` and `"`."""
    word = unit_value(word).replace("$", "$$")
    if _UNIT_PLAIN_WORD.fullmatch(word):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


# Sandboxing of the proxy's unit, measured with `systemd-analyze security --offline=true` (systemd
# 252): 8.7 EXPOSED without these lines; see docs/security.md for the score with them and for
# what was and was not enforced in the tests. Each keeps what the pinned proxy needs: it writes only
# its home (HOME: Prisma/Node caches of the user, pip/npm leftovers) and /tmp (private; the
# Prometheus multiprocess directory lives there), talks TCP/UDP over IPv4/IPv6 and Unix sockets,
# never needs a capability (port >= 1024 as a plain user), a device, another namespace, realtime,
# setuid files, or the kernel's tunables. MemoryDenyWriteExecute is left out: not provable here
# (seccomp is not enforced in the test container) and libffi closures (cffi/ctypes callbacks)
# need writable+executable memory on some builds.
UNIT_HARDENING: tuple[str, ...] = (
    "UMask=0077",
    "NoNewPrivileges=yes",
    "CapabilityBoundingSet=",
    "AmbientCapabilities=",
    "ProtectSystem=strict",
    "ProtectHome=yes",
    "PrivateTmp=yes",
    "PrivateDevices=yes",
    "ProtectKernelTunables=yes",
    "ProtectKernelModules=yes",
    "ProtectKernelLogs=yes",
    "ProtectControlGroups=yes",
    "ProtectClock=yes",
    "ProtectHostname=yes",
    "ProtectProc=invisible",
    "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
    "RestrictNamespaces=yes",
    "RestrictRealtime=yes",
    "RestrictSUIDSGID=yes",
    "LockPersonality=yes",
    "RemoveIPC=yes",
    "PrivateMounts=yes",
    "SystemCallArchitectures=native",
    "SystemCallFilter=@system-service",
    "SystemCallFilter=~@privileged",
    "SystemCallErrorNumber=EPERM",
)


def prisma_environment(settings: GatewaySettings) -> dict[str, str]:
    """What the service user's processes need to find the root-owned Prisma cache (ssh only)."""
    if settings.litellm.deploy == "local":
        return {}
    prisma_home = host_paths(settings).prisma_home
    return {"PRISMA_HOME_DIR": prisma_home, "PRISMA_NODEENV_CACHE_DIR": prisma_home + "/.cache/prisma-python/nodeenv"}


def shutdown_timeout_s(settings: GatewaySettings) -> int:
    """How long a stopping proxy may take to finish its requests: the longest a request may
    legitimately last (routing.timeout per attempt, LiteLLM's retries included; HAProxy's `timeout
    server` is this plus 30 s). LiteLLM's graceful shutdown (GRACEFUL_SHUTDOWN_TIMEOUT, read by
    litellm/proxy/shutdown/graceful_shutdown_manager.py) waits this long, systemd's TimeoutStopSec
    and the local stop 30 s more (LiteLLM's teardown headroom)."""
    # the same window the Kubernetes pods drain for (config.kubernetes_settings)
    return request_window_seconds(settings)


def shutdown_environment(settings: GatewaySettings) -> dict[str, str]:
    return {GRACEFUL_SHUTDOWN_ENV: str(shutdown_timeout_s(settings))}


def ui_environment(settings: GatewaySettings) -> dict[str, str]:
    """LITELLM_UI_PATH: the release's built Admin UI directory, or its empty "off" one
    (rendering.admin_ui_dirs). Per venv, so it follows the release the unit / launch starts."""
    return {UI_PATH_ENV: ui_dir(host_paths(settings).venv, settings.admin_ui.enabled)}


def render_systemd_unit(settings: GatewaySettings, host: LiteLLMHostSpec) -> str:
    for value in (host.name, settings.stack, settings.environment):
        unit_value(value)  # interpolated below as they are: validated names, refused if not
    raw_paths = host_paths(settings)
    paths = dataclasses.replace(raw_paths, **{f.name: unit_value(getattr(raw_paths, f.name)) for f in dataclasses.fields(raw_paths)})
    user = unit_value(settings.litellm.system_user)
    home = paths.service_home
    exec_start = " ".join(unit_exec_word(w) for w in [f"{raw_paths.venv}/bin/litellm", *proxy_args(settings)])
    env_items = {**prisma_environment(settings), **shutdown_environment(settings), **ui_environment(settings)}
    environment = "".join(f"Environment={unit_value(k + '=' + v)}\n" for k, v in env_items.items())
    hardening = "\n".join(UNIT_HARDENING)
    return f"""# litellm-gateway: LiteLLM proxy on {host.name} (stack '{settings.stack}'). Rendered; do not edit.
[Unit]
Description=LiteLLM proxy ({settings.environment})
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User={user}
Group={user}
WorkingDirectory={paths.work_dir}
EnvironmentFile={paths.env_file}
{environment}ExecStart={exec_start}
Restart=on-failure
RestartSec=5
TimeoutStopSec={shutdown_timeout_s(settings) + 30}
LimitNOFILE=65536
{hardening}
ReadWritePaths={home}

[Install]
WantedBy=multi-user.target
"""


def local_host_dirs(settings: GatewaySettings) -> Optional[str]:
    """Local deploy behind the front door (several hosts, or one with frontDoor.with_one_host): the
    directory holding one directory per host address (settings_for_host); None otherwise."""
    if settings.litellm.deploy != "local" or not settings.has_front_door:
        return None
    return str(PurePosixPath(settings.litellm.install_dir) / "hosts")


def settings_for_host(settings: GatewaySettings, host: LiteLLMHostSpec) -> GatewaySettings:
    """The settings one host's files and scripts are rendered from.

    ssh: the same directories on every host (each is its own machine); behind a front door (several
    hosts) each proxy listens on its host's own address (config.cross_checks: an IP, and no
    litellm.bind_host then), not 0.0.0.0: HAProxy is the only client meant to reach it, and the
    port stays free on the host's other addresses. A lone ssh host whose address is an IP listens
    there too unless the stack sets litellm.bind_host: the address its DNS record and every client
    use, and the same unit it runs behind a front door, so going 1 <-> 2 hosts never restarts it
    (a restart of the only host, while the service name still points at it, fails requests). local with several hosts (the front door's
    loopback replicas): each host gets its own directories, `<install_dir>/hosts/<address>`, and
    binds its own loopback address, so two proxies on this machine never share a file, a pid file
    or a port. The directory follows the address, not the name: a renamed host keeps its directory
    (and its running proxy)."""
    if settings.litellm.deploy == "ssh" and (
        len(settings.litellm.hosts) >= 2
        or ("bind_host" not in settings.litellm.model_fields_set and is_ip_address(host.address))
    ):
        return settings.model_copy(update={"litellm": settings.litellm.model_copy(update={"bind_host": host.address})})
    dirs = local_host_dirs(settings)
    if dirs is None:
        return settings
    base = PurePosixPath(dirs) / host.address
    litellm = settings.litellm.model_copy(
        update={"install_dir": str(base), "config_dir": str(base / "etc"), "bind_host": host.address}
    )
    tls = settings.tls.model_copy(update={"cert_dir": str(base / "tls")})
    return settings.model_copy(update={"litellm": litellm, "tls": tls})
