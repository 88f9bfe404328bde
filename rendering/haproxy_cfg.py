"""The front door's haproxy.cfg, rendered from validated settings. Pure: no Pulumi imports.

Design (docs/components.md, "FrontDoor"):
- **Where it runs**: one HAProxy on a dedicated host (`frontDoor.address`); the service name
  (`<service_name>.<domain>`) is a CNAME to that host's A record. A local deploy runs it on this
  machine, listening on `frontDoor.address` (default 127.0.0.1) while the proxies listen on their
  own loopback addresses.
- **TLS**: terminated at the front door with its own certificate (issued like the proxies' by the
  stack's issuer, for the service name and the front door's name), and re-encrypted to every proxy,
  verified against the CA bundle of the proxies' certificates with the proxy's own name (SNI +
  verifyhost). Terminating (rather than TCP pass-through) is what lets HAProxy check
  `/health/readiness` per proxy *and* retry a request whose connection failed or came back empty on
  another proxy (`retry-on` works in HTTP mode only).
- **Health**: `GET /health/readiness` every `check_interval_ms`; `fall` failures take a proxy out,
  `rise` successes put it back.
- **Retries**: `retries N` + `option redispatch 1` + `retry-on conn-failure empty-response`: a
  request whose connection is refused/reset or that gets no response is sent again, to another proxy
  (`option http-buffer-request` keeps the body for that). A request that got a response (even 5xx)
  is never replayed: LiteLLM's own router already retried upstreams.
- **Admin UI off** (`adminUi.enabled: false`): the UI's paths (`/ui`, `/login`, `/v2/login`, `/sso/`) answer 404
  at the front door; the proxies themselves would still serve LiteLLM's "Admin UI Disabled" page.
- **Drain**: a local deploy's rollout takes one proxy out through the runtime API (`stats socket
  ... level admin`: `set server litellm_proxies/<host> state drain`) and puts it back (`state
  ready`); an ssh host, which cannot reach that socket, through its drain agent polled by
  `agent-check` (rendering.drain_agent), so its whole rollout stays one step on the host.
- **Reloads** (rendering.front_door_scripts): the old process soft-stops. By default HAProxy 2.6
  then closes every idle keep-alive client connection at once, and a client whose next request is
  already on the wire gets no response (`Server disconnected without sending a response`; a POST
  is never replayed by a client). `option idle-close-on-response` keeps such connections until
  their next request, answered with `Connection: close`, so the client's following request opens a
  connection to the new process. `hard-stop-after` bounds how long an old process may live: the
  longest a request may last (`timeout server`) after the longest an idle connection is kept
  (`timeout http-keep-alive`), so it never cuts a request that could still complete.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Optional

from config.settings import GatewaySettings
from rendering.host_files import shutdown_timeout_s

BACKEND = "litellm_proxies"
FRONTEND = "litellm"
# how long an idle keep-alive client connection is kept (also by an old process after a reload)
KEEP_ALIVE_S = 30


@dataclass(frozen=True)
class FrontDoorServer:
    name: str  # the host's name: the server's name in HAProxy (drain/enable address it)
    address: str
    port: int
    tls_name: Optional[str]  # the name its certificate is verified against (None without TLS)


@dataclass(frozen=True)
class FrontDoorPlan:
    name: str
    bind_address: str
    port: int
    config_dir: str
    config_file: str
    admin_socket: str
    server_state_file: str  # `show servers state` before every reload, loaded by the new process
    pid_file: Optional[str]  # local only (ssh: the haproxy.service unit)
    tls_pem_file: Optional[str]  # certificate + key, 0600
    admin_ui: bool  # adminUi.enabled: off, the front door answers the UI's paths with 404 itself
    backend_ca_file: Optional[str]  # the CA bundle the proxies' certificates are verified against
    servers: tuple[FrontDoorServer, ...]
    check_interval_ms: int
    fall: int
    rise: int
    retries: int
    timeout_server_s: int
    hard_stop_after_s: int  # an old process after a reload: its last requests, then it exits
    is_local: bool
    agent_port: Optional[int] = None  # ssh: each host's drain agent (rendering.drain_agent)


# Debian's haproxy.service runs `haproxy -f $CONFIG` with CONFIG=/etc/haproxy/haproxy.cfg: the one file
# an ssh front door may write (any other place would be checked and never loaded).
DEBIAN_CONFIG_DIR = "/etc/haproxy"


def front_door_plan(settings: GatewaySettings) -> FrontDoorPlan:
    s, fd = settings, settings.front_door
    is_local = s.litellm.deploy == "local"
    if is_local:
        config_dir = str(PurePosixPath(s.litellm.install_dir) / "frontdoor")
        admin_socket = str(PurePosixPath(config_dir) / "admin.sock")
        pid_file: Optional[str] = str(PurePosixPath(config_dir) / "haproxy.pid")
        bind = fd.address or "127.0.0.1"
    else:
        config_dir = DEBIAN_CONFIG_DIR
        admin_socket = fd.admin_socket
        pid_file = None
        # its own address (an IP, config.cross_checks), not 0.0.0.0: the port stays free on the host's
        # other addresses (on the systemd test bed the hosts even share one network namespace)
        bind = fd.address or "0.0.0.0"
    tls = s.tls.enabled
    tls_dir = PurePosixPath(config_dir) / "tls"
    servers = tuple(
        FrontDoorServer(
            name=h.name,
            address=h.address,
            port=s.litellm.port,
            tls_name=(h.name if is_local else s.fqdn(h.name)) if tls else None,
        )
        for h in s.litellm.hosts
    )
    # A completion may legitimately take the whole routing timeout (and LiteLLM's retries of it).
    timeout_server = shutdown_timeout_s(s) + 30
    return FrontDoorPlan(
        name=fd.name,
        bind_address=bind,
        port=s.litellm.port,
        config_dir=config_dir,
        config_file=str(PurePosixPath(config_dir) / "haproxy.cfg"),
        admin_socket=admin_socket,
        # Debian's haproxy package owns /var/lib/haproxy (its state directory)
        server_state_file=str(PurePosixPath(config_dir) / "server-state") if is_local else "/var/lib/haproxy/server-state",
        pid_file=pid_file,
        tls_pem_file=str(tls_dir / "frontdoor.pem") if tls else None,
        admin_ui=s.admin_ui.enabled,
        backend_ca_file=str(tls_dir / "proxies-ca.crt") if tls else None,
        servers=servers,
        check_interval_ms=fd.check_interval_ms,
        fall=fd.fall,
        rise=fd.rise,
        retries=fd.retries,
        timeout_server_s=timeout_server,
        # an idle connection's last request may arrive just before its keep-alive ends, and last
        # as long as any request may
        hard_stop_after_s=KEEP_ALIVE_S + timeout_server,
        is_local=is_local,
        agent_port=None if is_local else fd.agent_port,
    )


def render_haproxy_cfg(settings: GatewaySettings, plan: Optional[FrontDoorPlan] = None) -> str:
    """The whole haproxy.cfg of the front door (HAProxy 2.6, Debian 12's `haproxy`)."""
    p = plan or front_door_plan(settings)
    lines = [
        f"# litellm-gateway: front door of stack '{settings.stack}' ({settings.environment}). Rendered; do not edit.",
        "global",
        "    maxconn 4096",
        f"    stats socket {p.admin_socket} mode 600 level admin expose-fd listeners",
        "    stats timeout 30s",
        # drains and health survive a reload (the reload script dumps them here first)
        f"    server-state-file {p.server_state_file}",
        # a reload's old process finishes its requests, bounded (module docstring, "Reloads")
        f"    hard-stop-after {p.hard_stop_after_s}s",
    ]
    if not p.is_local:
        lines += [
            "    log /dev/log local0",
            "    user haproxy",
            "    group haproxy",
        ]
    if p.tls_pem_file:
        lines += [
            "    ssl-default-bind-options ssl-min-ver TLSv1.2",
            "    ssl-default-server-options ssl-min-ver TLSv1.2",
        ]
    lines += [
        "",
        "defaults",
        "    mode http",
        "    option httplog" if not p.is_local else "    no log",
    ]
    if not p.is_local:
        lines.append("    log global")
    lines += [
        "    load-server-state-from-file global",
        "    option http-buffer-request",
        "    option redispatch 1",
        f"    retries {p.retries}",
        "    retry-on conn-failure empty-response",
        # at a reload the old process answers an idle connection's next request (Connection:
        # close) instead of closing it under a client that is sending (module docstring, "Reloads")
        "    option idle-close-on-response",
        "    timeout connect 2s",
        "    timeout http-request 30s",
        "    timeout client 10m",
        f"    timeout http-keep-alive {KEEP_ALIVE_S}s",
        f"    timeout server {p.timeout_server_s}s",
        "    timeout check 5s",
        "",
        f"frontend {FRONTEND}",
        f"    bind {p.bind_address}:{p.port}" + (f" ssl crt {p.tls_pem_file}" if p.tls_pem_file else ""),
        # What a client says about its own address is never passed on (LiteLLM's IP allow-lists and
        # logs would trust it): drop it, then set X-Forwarded-For and X-Real-IP from the connection.
        "    http-request del-header X-Forwarded-For",
        "    http-request del-header X-Real-IP",
        "    http-request del-header Forwarded",
        "    option forwardfor",
        "    http-request set-header X-Real-IP %[src]",
    ]
    if not p.admin_ui:
        # LiteLLM 1.108.7 with DISABLE_ADMIN_UI still serves /ui's static files (a "disabled" page)
        # and the /login form (config/admin_ui.py): with the UI off, they do not exist for clients.
        lines += [
            "    acl admin_ui_path path /ui /login /v2/login /fallback/login",
            "    acl admin_ui_path path_beg /ui/ /sso/",
            '    http-request return status 404 content-type text/plain string "Not Found" if admin_ui_path',
        ]
    lines += [
        f"    default_backend {BACKEND}",
        "",
        f"backend {BACKEND}",
        "    balance leastconn",
        "    option httpchk",
        "    http-check send meth GET uri /health/readiness",
        "    http-check expect status 200",
        f"    default-server check inter {p.check_interval_ms} fall {p.fall} rise {p.rise}"
        # ssh: each host says `drain`/`ready` itself (rendering.drain_agent; plain TCP, read-only)
        + (f" agent-check agent-port {p.agent_port} agent-inter {p.check_interval_ms}" if p.agent_port else "")
        + (f" ssl verify required ca-file {p.backend_ca_file}" if p.backend_ca_file else ""),
    ]
    for server in p.servers:
        tls = f" sni str({server.tls_name}) verifyhost {server.tls_name}" if server.tls_name else ""
        lines.append(f"    server {server.name} {server.address}:{server.port}{tls}")
    return "\n".join(lines) + "\n"
