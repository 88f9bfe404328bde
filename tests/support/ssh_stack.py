"""A `dev`-shaped ssh stack deployed from nothing onto the systemd bed (tests.support.systemd_bed):
the real program under the mock engine (offline.engine.run_stack) gives the steps, the executor
(tests.support.transitions + tests.support.remote_steps) runs every `command:remote:Command` over
real OpenSSH with the pinned host key, as the SSH deploy user with sudo, on real systemd.

What differs from the committed `Pulumi.dev.yaml` (stack config only, through the stack's own
validation; each one is named in `StackOverrides` below):

- `ssh`: the bed's deploy user and port; `litellm.hosts`: the bed's host(s) with their generated
  host keys; `sshPrivateKey`: the bed's deploy key. `litellm.port`: a free port (the containers
  share this machine's network namespace).
- `models`: one deployment on a FakeOllama on loopback (the catalog's hosts are data only);
  `model_source: config`. `teams`/`keys`: one team and one key of it (BED_TEAM, BED_KEY; the
  committed catalogs name models the bed does not serve). The Team and VirtualKey are created,
  diffed and deleted by the project's dynamic providers inside the real dynamic-provider host over
  gRPC, in the plan's order, against the stack's own admin URL (derived from the stack config: the
  front door's address when there is one), as the engine would (tests.support.dynamic_steps).
- `postgres`: the machine's PostgreSQL 127.0.0.1:5432 with scratch role/database names and
  `sslmode: disable`; the declared Role/Database/Grant are applied for real
  (tests.support.postgres_apply.apply_declared, what pulumi-postgresql runs) before the host steps.
- `redis`: the machine's Redis 127.0.0.1:6379 (no ACL management), `cache` off (no shared keys
  with other test runs); or, with `redis_host`, a Redis 7 of the test's own on that bed host's
  127.0.1.N (started by `start_bed_redis`: an ACL file, a password on `default`, an admin ACL user)
  managed as the stack says: `manage_acl` over SSH to that host (`ssh_host`, `host_key`) as
  `admin_user` with the secret `redisAdminPassword`, the gateway's own password as the secret
  `redisPassword`, `cache` on; `dns` off, `tls` off (the mock engine's certificates are placeholders),
  `observability`: prometheus, no alerting (its webhook would leave loopback).

- `dns` (with `dns_host`): the DNS server is a bed host whose `samba-tool` is the recording
  stand-in of tests/rendering/test_dns_scripts.py (records in a JSON file, every call logged with
  its wall-clock time,
  the auth file's password checked against a sha256 the stand-in holds, never the password); the
  SSH path and the rendered DnsRecord scripts are real, only Samba is not.

Shapes: `hosts` (and `front_door`) are the stack's now; `spare_hosts`/`spare_front_door` are bed
hosts seeded and named in the TLS certificate from the start, which `grow` adds (1 -> 2 hosts) and
`shrink` takes away again (2 -> 1); the next `program` renders the new shape. `DnsFollowingLoad`
is a client that finds the service through the stand-in's records.

Substitutions of what the bed cannot provide (named, everything else runs as rendered):

- **S1 `prisma-offline-engine`**: Prisma's engine download host is unreachable, so the host is
  pre-seeded (as README says an offline host must be) with the offline engine the tests already use
  (tests.support.real_proxy_prisma, /work/shared/reference/litellm-db-offline.md): its variables
  (`PRISMA_QUERY_ENGINE_BINARY`, `PRISMA_SCHEMA_ENGINE_BINARY`, `PRISMA_BINARY_CACHE_DIR`, ...)
  in `/etc/litellm-bed/prisma-offline.env`, read by sudo (`Defaults env_file=`, so the install
  step's `prisma generate` uses them) and by systemd (`DefaultEnvironment=` in
  `/etc/systemd/system.conf.d/`, so the unit and the migrate step's `systemd-run` see them). The
  install script, the unit and their sandbox are unchanged.
- **S2 `migrate`**: the migrate step's `litellm --skip_server_startup` runs `prisma migrate
  deploy`, which needs Prisma's native schema engine (unavailable: only the query engine exists as
  WebAssembly). The stand-in applies LiteLLM's own migration SQL from the HOST's installed
  `litellm_proxy_extras` (read through the container's root) to the declared database as the
  declared role (postgres_apply.apply_litellm_migrations), then runs an `echo` on the host over
  SSH in place of the script.
"""

from __future__ import annotations

import os
import re
import secrets
import shlex
from dataclasses import dataclass, field
from typing import Any, Optional

import httpx

from config.litellm_settings import PINNED_LITELLM_VERSION
from offline.engine import ProgramRun, RecordedResource, run_stack
from tests.support.fake_upstreams import FakeOllama, free_port
from tests.support.postgres_apply import apply_declared, apply_litellm_migrations
from tests.support.systemd_bed import CONTAINER_ENGINE_DIR, DEPLOY_USER, BedHost, SystemdBed
from tests.support.dynamic_steps import DynamicSteps
from tests.support.transitions import Executor, Plan, describe, plan, state_after

POSTGRES_TYPES = ("postgresql:index/role:Role", "postgresql:index/database:Database", "postgresql:index/grant:Grant")
OFFLINE_ENV_FILE = "/etc/litellm-bed/prisma-offline.env"
BED_TEAM = {"team_id": "bed-platform", "alias": "Bed platform", "models": ["llama3.2"], "rpm_limit": 6000}
BED_KEY = {"alias": "bed-app", "service": "bed-app", "team": "bed-platform", "models": ["llama3.2"], "rpm_limit": 6000,
           "metadata": {"owner": "bed"}}


def prisma_offline_env() -> dict[str, str]:
    from tests.support import real_proxy_prisma as rp

    rp.ensure_node_modules()
    env = rp.engine_env(rp.node_binary())
    # the containers see the engine directory at the bed's fixed mount point (SystemdBed._boot)
    return {k: v.replace(str(rp.ENGINE_DIR), CONTAINER_ENGINE_DIR) for k, v in env.items()}


def seed_offline_prisma(h: BedHost) -> None:
    """S1 (see the module doc): done as root on the host, over SSH, before the stack runs."""
    env = prisma_offline_env()
    text = "".join(f"{k}={v}\n" for k, v in sorted(env.items()))
    default_env = " ".join(f'"{k}={v}"' for k, v in sorted(env.items()))
    script = "\n".join([
        "set -euo pipefail",
        f"install -d -m 0755 {shlex.quote(os.path.dirname(OFFLINE_ENV_FILE))} /etc/systemd/system.conf.d",
        f"cat > {OFFLINE_ENV_FILE} <<'EOF'\n{text}EOF",
        f"echo 'Defaults env_file={OFFLINE_ENV_FILE}' > /etc/sudoers.d/zz-prisma-offline",
        "chmod 0440 /etc/sudoers.d/zz-prisma-offline",
        "visudo -c -q",
        f"printf '[Manager]\\nDefaultEnvironment=%s\\n' {shlex.quote(default_env)} > /etc/systemd/system.conf.d/prisma-offline.conf",
        "systemctl daemon-reexec",
    ])
    h.sudo(script, timeout=120)


FRONT_DOOR_NAME = "litellm-lb"
UI_USER = "gateway-admin"
REDIS_DIR = "/var/lib/bed-redis"
REDIS_UNIT = "bed-redis.service"
REDIS_ADMIN = "bed-admin"
REDIS_ACL_USER = "litellm-bed"


def start_bed_redis(h: BedHost, port: int, default_password: str, admin_password: str) -> None:
    """A redis-server of the test's own on `h`'s own address (a transient unit, as user redis), with an
    ACL file (so `ACL SAVE` works), `default` behind a password and an admin user allowed everything.
    The passwords travel on stdin as SHA-256 only."""
    import hashlib

    sha = lambda pw: hashlib.sha256(pw.encode()).hexdigest()  # noqa: E731
    acl = (f"user default on #{sha(default_password)} ~* &* +@all\n"
           f"user {REDIS_ADMIN} on #{sha(admin_password)} ~* &* +@all\n")
    conf = "\n".join([f"bind {h.address}", f"port {port}", "protected-mode yes", f"dir {REDIS_DIR}",
                      f"aclfile {REDIS_DIR}/users.acl", 'save ""', "appendonly no", "daemonize no", ""])
    h.sudo(f"install -d -m 0700 -o redis -g redis {REDIS_DIR} && cat > {REDIS_DIR}/users.acl && chown redis: {REDIS_DIR}/users.acl "
           f"&& chmod 0600 {REDIS_DIR}/users.acl", input=acl)
    h.sudo(f"cat > {REDIS_DIR}/redis.conf && chown redis: {REDIS_DIR}/redis.conf", input=conf)
    h.sudo(f"systemctl stop {REDIS_UNIT} 2>/dev/null; systemctl reset-failed {REDIS_UNIT} 2>/dev/null; "
           f"systemd-run --unit={REDIS_UNIT} -p User=redis -p Group=redis /usr/bin/redis-server {REDIS_DIR}/redis.conf "
           f"&& for i in $(seq 1 50); do redis-cli -h {h.address} -p {port} ping 2>&1 | grep -q NOAUTH && exit 0; sleep 0.2; done; "
           f"journalctl -u {REDIS_UNIT} -n 20 --no-pager; exit 1")


def bed_redis_cli(h: BedHost, port: int, user: str, password: str, command: str, check: bool = True) -> str:
    """One redis-cli command on `h` as `user`; the password on stdin into REDISCLI_AUTH (never an argument)."""
    script = (f"IFS= read -r REDISCLI_AUTH; export REDISCLI_AUTH; "
              f"redis-cli --no-auth-warning -h {h.address} -p {port} --user {shlex.quote(user)} {command} 2>&1")
    return h.ssh(f"bash -c {shlex.quote(script)}", input=password + "\n", check=check).stdout


DNS_ZONE = "hx.dev.local"
SAMBA_DIR = "/var/lib/fake-samba"


def install_samba_stand_in(h: BedHost, password: str) -> None:
    """The recording samba-tool on the DNS host (see the module doc)."""
    import hashlib

    from tests.rendering.test_dns_scripts import FAKE_SAMBA_TOOL

    tool = FAKE_SAMBA_TOOL.replace("__PYTHON__", "/usr/bin/python3")
    tool = tool.replace('PASSWORD = os.environ.get("FAKE_SAMBA_PASSWORD", "")',
                        'import hashlib\nPASSWORD_SHA = os.environ.get("FAKE_SAMBA_PASSWORD_SHA256", "")')
    tool = tool.replace('creds.get("password") == PASSWORD', 'hashlib.sha256(creds.get("password", "").encode()).hexdigest() == PASSWORD_SHA')
    tool = tool.replace('creds.get("password") != PASSWORD', 'hashlib.sha256(creds.get("password", "").encode()).hexdigest() != PASSWORD_SHA')
    assert "PASSWORD_SHA" in tool and "== PASSWORD\n" not in tool and "!= PASSWORD:" not in tool
    # every call logged with its wall-clock time (the containers share this machine's clock)
    tool = tool.replace('entry = {"argv": sys.argv[1:],', 'entry = {"time": __import__("time").time(), "argv": sys.argv[1:],')
    assert '"time": __import__("time").time()' in tool
    digest = hashlib.sha256(password.encode()).hexdigest()
    wrapper = (f"#!/bin/sh\nFAKE_SAMBA_DB={SAMBA_DIR}/records.json FAKE_SAMBA_LOG={SAMBA_DIR}/calls.jsonl "
               f"FAKE_SAMBA_ZONES={DNS_ZONE} FAKE_SAMBA_PASSWORD_SHA256={digest} exec /usr/bin/python3 {SAMBA_DIR}/samba_tool.py \"$@\"\n")
    # the DnsRecord scripts run as the SSH user (no sudo): the stand-in's files are that user's
    h.sudo(f"install -d -m 0700 -o {DEPLOY_USER} -g {DEPLOY_USER} {SAMBA_DIR} && cat > {SAMBA_DIR}/samba_tool.py "
           f"&& chown {DEPLOY_USER}: {SAMBA_DIR}/samba_tool.py", input=tool)
    h.sudo("cat > /usr/local/bin/samba-tool && chmod 0755 /usr/local/bin/samba-tool", input=wrapper)


def samba_records(h: BedHost) -> dict[str, list[str]]:
    import json

    text = h.sudo(f"cat {SAMBA_DIR}/records.json 2>/dev/null || echo '{{}}'").stdout
    return {k: v for k, v in json.loads(text).items() if v}


def samba_calls(h: BedHost) -> list[dict]:
    """The stand-in's call log (calls.jsonl): one entry per samba-tool invocation, with its time."""
    import json

    return [json.loads(line) for line in h.sudo(f"cat {SAMBA_DIR}/calls.jsonl").stdout.splitlines() if line.strip()]


def resolve_service(records: dict[str, list[str]], name: str = "litellm") -> Optional[str]:
    """`name` in DNS_ZONE as a resolver would answer from the stand-in's records: its A record, or
    its CNAME followed (within the zone) to the target's A record; None when there is none."""
    for _ in range(8):
        a = records.get(f"{DNS_ZONE}|{name}|A")
        if a:
            return a[0]
        cname = records.get(f"{DNS_ZONE}|{name}|CNAME")
        if not cname or not cname[0].endswith("." + DNS_ZONE):
            return None
        name = cname[0][: -len(DNS_ZONE) - 1]
    return None


class DnsFollowingLoad:
    """Chat completions to the service NAME, as a client behind a resolver would send them: a
    resolver thread reads the stand-in's records every `poll` seconds (`samba_records`, the CNAME
    followed to its A record) and the workers connect to the address it last resolved (keeping the
    last answer when a read fails or finds no record, as a cache would), verifying TLS against the
    service name. Every request counts; `switches` is [(time, address)] as the resolver saw them."""

    def __init__(self, rig: "SshStackRig", key: str, concurrency: int = 2, poll: float = 0.5):
        import threading

        self.rig, self.key, self.concurrency, self.poll = rig, key, concurrency, poll
        self.sent = self.failed = 0
        self.errors: list[str] = []
        self.by_address: dict[str, int] = {}
        self.switches: list[tuple[float, str]] = []
        self.resolve_errors = 0
        self.latencies: list[float] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.address: Optional[str] = None
        self._threads = [threading.Thread(target=self._resolve, daemon=True)]
        self._threads += [threading.Thread(target=self._work, daemon=True) for _ in range(concurrency)]

    def _resolve_once(self) -> None:
        import time

        try:
            address = resolve_service(samba_records(self.rig.dns_host))
        except Exception:  # noqa: BLE001 - a failed read keeps the cached answer
            self.resolve_errors += 1
            return
        if address is None:
            self.resolve_errors += 1
            return
        if address != self.address:
            self.switches.append((time.time(), address))
            self.address = address

    def _resolve(self) -> None:
        while not self._stop.wait(self.poll):
            self._resolve_once()

    def _work(self) -> None:
        import time

        with self.rig.client() as http:
            n = 0
            while not self._stop.is_set():
                address, n = self.address, n + 1
                started = time.monotonic()
                try:
                    r = http.post(f"{'https' if self.rig.tls_provided else 'http'}://{address}:{self.rig.port}/v1/chat/completions",
                                  headers={"Authorization": f"Bearer {self.key}"}, extensions=self.rig.extensions, timeout=60,
                                  json={"model": "llama3.2", "messages": [{"role": "user", "content": f"dns load {n}"}]})
                    ok, why = r.status_code == 200, f"{address}: HTTP {r.status_code} {r.text[:200]}"
                except httpx.HTTPError as exc:
                    ok, why = False, f"{address}: {type(exc).__name__}: {exc}"
                with self._lock:
                    self.sent += 1
                    self.by_address[address] = self.by_address.get(address, 0) + 1
                    self.latencies.append(time.monotonic() - started)
                    if not ok:
                        self.failed += 1
                        self.errors.append(why)
                time.sleep(0.05)

    def start(self) -> "DnsFollowingLoad":
        self._resolve_once()
        assert self.address is not None, f"the service name resolves to nothing: {samba_records(self.rig.dns_host)}"
        for t in self._threads:
            t.start()
        return self

    def wait_for(self, n: int, timeout: float = 120) -> None:
        import time

        deadline, target = time.monotonic() + timeout, self.sent + n
        while self.sent < target:
            assert time.monotonic() < deadline, f"the load sent {self.sent} of {target} requests in {timeout}s"
            time.sleep(0.2)

    def stop(self) -> "DnsFollowingLoad":
        self._stop.set()
        for t in self._threads:
            t.join(timeout=90)
        return self

    def p99_ms(self) -> float:
        xs = sorted(self.latencies)
        return 1000 * xs[min(len(xs) - 1, int(0.99 * len(xs)))] if xs else 0.0


@dataclass
class SshStackRig:
    bed: SystemdBed
    hosts: list[BedHost]
    scratch: Any  # tests.support.postgres_apply.ScratchCluster
    master_key: str = field(default_factory=lambda: "sk-bed-" + secrets.token_hex(16))
    current: Optional[ProgramRun] = None
    port: int = field(default_factory=free_port)
    dns_host: Optional[BedHost] = None
    dns_password: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    # dev-ha shape: HAProxy on this bed host in front of `hosts` (each proxy and its drain agent on
    # the host's own 127.0.1.N; the containers share this machine's network namespace)
    front_door: Optional[BedHost] = None
    agent_port: int = field(default_factory=free_port)
    # bed hosts that may join the stack later (1 -> 2 hosts): seeded like `hosts`, named in the TLS certificate
    spare_hosts: list[BedHost] = field(default_factory=list)
    # the bed host that becomes the front door when the stack grows (`grow`)
    spare_front_door: Optional[BedHost] = None
    # a Redis of the test's own on this bed host, its ACL user managed by the stack (module doc)
    redis_host: Optional[BedHost] = None
    redis_port: int = field(default_factory=free_port)
    redis_default_password: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    redis_admin_password: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    redis_password: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    # `tls.issuer: provided`: a test CA and one server certificate naming every host, the service and
    # the front door (tests.support.tls_material), as an operator's own chain; everything else as rendered
    tls_provided: bool = False
    # `adminUi: {enabled: true, username: UI_USER}` with the secret `uiPassword`
    admin_ui: bool = False
    ui_password: str = field(default_factory=lambda: "ui-" + secrets.token_urlsafe(18))
    # changes that stay made (as on a real stack): `program`'s keyword arguments every later
    # program starts from (`keep`), and stand-ins for a new release of this project
    # (`release_patches`: (module, attribute, wrap), patched while each program runs, so every later
    # program renders that release too; undoing one would be a change of its own)
    kept: dict[str, Any] = field(default_factory=dict)
    release_patches: list[tuple[Any, str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.model_id = f"bed-{secrets.token_hex(3)}"
        self.fake = FakeOllama(self.model_id).start()
        self.role = self.scratch.role_name("bed")
        self.database = self.scratch.database_name("bed")
        self.dynamic = DynamicSteps()
        self.executor = Executor(env={}, cwd="/", substitute={"-migrate": self._migrate_stand_in}, dynamic=self.dynamic)
        self.migration_reports: list = []
        import threading

        self._migrate_lock = threading.Lock()
        for h in [*self.hosts, *self.spare_hosts]:
            seed_offline_prisma(h)
        if self.dns_host is not None:
            install_samba_stand_in(self.dns_host, self.dns_password)
        # the consumers' trust: the stack's CA, and during a CA rotation the previous one too
        self.client_cas: list[str] = []
        self.previous_ca_pem: Optional[str] = None
        if self.tls_provided:
            self._issue("Bed test CA")
        if self.redis_host is not None:
            start_bed_redis(self.redis_host, self.redis_port, self.redis_default_password, self.redis_admin_password)

    def _issue(self, ca_name: str) -> None:
        """A new test CA and one server certificate from it naming every host, the service and the
        front door (`tls.issuer: provided`: the operator's own chain); the consumers trust it."""
        from tests.support.tls_material import make_server_cert, make_test_ca

        self.tls_ca_pem, ca_key = make_test_ca(ca_name)
        everyone = [*self.hosts, *self.spare_hosts]
        names = [f"{h.name}.{DNS_ZONE}" for h in everyone] + [self.service_name]
        if self.front_door is not None or self.spare_front_door is not None:
            names.append(f"{FRONT_DOOR_NAME}.{DNS_ZONE}")
        # the hosts' addresses too: with DNS on, the providers' adminUrl is host 1's address
        self.tls_chain_pem, self.tls_key_pem = make_server_cert(self.tls_ca_pem, ca_key, names,
                                                                ip_addresses=[h.address for h in everyone])
        self.client_cas.append(self.tls_ca_pem)

    def rotate_ca(self, ca_name: str) -> None:
        """Run 1 of a CA rotation (docs/runbook.md "CA rotation"): a new CA and chain, the old CA as
        `tls.previous_ca_cert`; the consumers already trust both (step 0)."""
        previous = self.tls_ca_pem
        self._issue(ca_name)
        self.previous_ca_pem = previous

    def end_ca_rotation(self) -> None:
        """Run 2: `tls.previous_ca_cert` removed; the consumers may drop the old CA afterwards."""
        self.previous_ca_pem = None

    # ---- the stack ------------------------------------------------------------------------------
    def overrides(self, **kw: Any) -> dict[str, Any]:
        litellm = {
            "deploy": "ssh", "version": PINNED_LITELLM_VERSION, "port": self.port, "workers": kw.get("workers", 1),
            "service_name": "litellm", "model_source": "config",
            "readiness_timeout_seconds": kw.get("readiness_timeout", 240),
            "hosts": [{"name": h.name, "address": h.address, "host_key": h.host_key_line} for h in self.hosts],
        }
        front_door = {}
        if self.front_door is not None:
            front_door = {"frontDoor": {"name": FRONT_DOOR_NAME, "address": self.front_door.address,
                                        "host_key": self.front_door.host_key_line, "agent_port": self.agent_port}}
        return {
            **front_door,
            "ssh": {"user": DEPLOY_USER, "port": self.bed.hosts[0].port},
            "litellm": litellm,
            "postgres": {"host": "127.0.0.1", "port": 5432, "admin_user": "postgres", "sslmode": "disable",
                         "database": self.database, "role": self.role,
                         # room for two hosts from the start: 1 <-> 2 hosts leaves the role alone
                         "connection_limit": 10 * max(2, len(self.hosts)) * kw.get("workers", 1)},
            "redis": ({"host": self.redis_host.address, "port": self.redis_port, "user": REDIS_ACL_USER, "manage_acl": True,
                       "ssh_host": self.redis_host.address, "host_key": self.redis_host.host_key_line, "admin_user": REDIS_ADMIN}
                      if self.redis_host is not None else {"host": "127.0.0.1", "port": 6379}),
            "cache": {"enabled": self.redis_host is not None},
            "dns": ({"enabled": True, "server": self.dns_host.address, "zone": DNS_ZONE, "admin_user": "Administrator",
                     "auth": "authfile", "host_key": self.dns_host.host_key_line}
                    if self.dns_host is not None else {"enabled": False}),
            "tls": ({"enabled": True, "issuer": "provided",
                     **({"previous_ca_cert": self.previous_ca_pem} if self.previous_ca_pem else {})} if self.tls_provided
                    else {"enabled": False, "allow_plaintext": True}),
            "observability": {"callbacks": ["prometheus"]},
            "models": [{"id": self.model_id, "model_name": "llama3.2", "provider": "ollama_chat",
                        "model": "llama3.2", "api_base": self.fake.base_url}],
            "routing": {"num_retries": 1, "timeout": kw.get("routing_timeout", 30)},
            # the drain timeout defaults to routing.timeout (config/front_door.py)
            **({"rollout": {"drain_timeout_seconds": kw["drain_timeout"]}} if kw.get("drain_timeout") else {}),
            "catalogFiles": None,
            "keys": [BED_KEY],
            "teams": [BED_TEAM],
            "protect": False,
            "adminUi": {"enabled": True, "username": UI_USER} if self.admin_ui else None,
            # the bed's names resolve nowhere (the DNS server is the recording stand-in): with DNS on,
            # the providers are pointed at the host (the operator's override, e.g. for a tunnel);
            # without, they derive the front door's (else the host's) address from the stack config
            "adminUrl": (f"{'https' if self.tls_provided else 'http'}://{self.hosts[0].address}:{self.port}"
                         if self.dns_host is not None else None),
        }

    def keep(self, **kw: Any) -> None:
        """Every later `program` starts from these keyword arguments (a change that stays made)."""
        self.kept.update(kw)

    def program(self, **kw: Any) -> ProgramRun:
        kw = {**self.kept, **kw}
        secrets_ = {"masterKey": self.master_key, "sshPrivateKey": self.bed.private_key,
                    "postgresAdminPassword": "unused-with-trust-auth", "dnsAdminPassword": self.dns_password}
        for name, value in (kw.get("env_secrets") or {}).items():
            secrets_[f"envSecrets.{name}"] = value
        if self.admin_ui:
            secrets_["uiPassword"] = self.ui_password
        if self.tls_provided:
            secrets_.update(tlsCertChain=self.tls_chain_pem, tlsKey=self.tls_key_pem, tlsCaCert=self.tls_ca_pem)
        if self.redis_host is not None:
            secrets_.update(redisAdminPassword=self.redis_admin_password, redisPassword=self.redis_password)
        import pytest

        with pytest.MonkeyPatch.context() as patches:
            for module, attribute, wrap in self.release_patches:
                patches.setattr(module, attribute, wrap(getattr(module, attribute)))
            return run_stack("dev", secrets=secrets_, overrides=self.overrides(**kw))

    # ---- substitutions ----------------------------------------------------------------------------
    def _migrate_stand_in(self, r: RecordedResource) -> Optional[str]:
        """S2 (module doc)."""
        host = next(h for h in self.hosts if f"-{h.name}-migrate" in r.name)
        venv = re.search(r"'?(/[^ ']+)/bin/litellm'? --config", r.inputs["create"])
        assert venv, "the migrate step names the venv's litellm"
        with self._migrate_lock:
            # `prisma migrate deploy` skips what its ledger says is applied; the stand-in's SQL is
            # not idempotent, so a second host's migrate of the same release applies nothing
            if self.migration_reports and self.migration_reports[-1].ok:
                return "echo 'S2: LiteLLM migrations already applied by another host'"
            return self._apply_migrations(host, venv)

    def _apply_migrations(self, host: BedHost, venv: "re.Match[str]") -> str:
        site = host.root / venv.group(1).lstrip("/") / "lib"
        migrations = next(site.glob("python3*/site-packages/litellm_proxy_extras/migrations"))
        report = apply_litellm_migrations(self.database_url(), migrations_dir=migrations)
        self.migration_reports.append(report)
        if not report.ok:
            return f"echo {shlex.quote(f'migrations failed: {report.first_error}')} >&2; exit 1"
        return f"echo {shlex.quote(f'S2: {report.applied_count} LiteLLM migrations applied from the host venv')}"

    def database_url(self) -> str:
        from urllib.parse import quote

        pw = self.declared_password()
        return f"postgresql://{quote(self.role, safe='')}:{quote(pw, safe='')}@127.0.0.1:5432/{quote(self.database, safe='')}?sslmode=disable"

    def declared_password(self) -> str:
        role = next(r for r in self.current_or_pending.resources if r.type == POSTGRES_TYPES[0])
        return role.inputs["password"]

    # ---- changes ------------------------------------------------------------------------------------
    def apply(self, new: Optional[ProgramRun]) -> Plan:
        p = plan(self.current, new)
        self.current_or_pending = new or self.current
        for step in p.steps:
            if step.op == "create" and step.new.type in POSTGRES_TYPES:
                apply_declared(self.scratch.admin, step.new.type, step.new.inputs)
        self.dynamic.begin((new or self.current).inputs)  # type: ignore[union-attr]
        try:
            self.executor.execute(p)
        except BaseException:
            # what the engine stores after a failed step (tests.support.transitions.state_after)
            self.current = state_after(p, self.current, new, self.executor.completed)
            raise
        finally:
            self.dynamic.end()
        self.current = new
        return p

    def key_value(self, alias: str = BED_KEY["alias"]) -> str:
        """The value of a key the VirtualKey provider created (its secret output `key`)."""
        return self.dynamic.outputs_of(f"litellm-dev-key-{alias}").plain("key")

    def describe(self, p: Plan) -> str:
        return describe(p)

    def grow(self) -> None:
        """1 -> 2 hosts: the first spare host joins, behind the spare front door (the next `program`)."""
        assert self.spare_front_door is not None and self.spare_hosts and self.front_door is None
        self.join(self.spare_hosts[0])
        self.front_door, self.spare_front_door = self.spare_front_door, None

    def join(self, h: BedHost) -> None:
        """A spare host joins the stack, after the others (the next `program`)."""
        self.spare_hosts.remove(h)
        self.hosts = [*self.hosts, h]

    def leave(self, h: BedHost) -> None:
        """A host other than host 1 leaves the stack (the next `program`); it stays a spare."""
        assert h in self.hosts[1:]
        self.hosts = [x for x in self.hosts if x is not h]
        self.spare_hosts = [*self.spare_hosts, h]

    def shrink(self) -> None:
        """2 -> 1 hosts: host 1 alone again, no front door (the next `program`)."""
        assert self.front_door is not None and len(self.hosts) > 1
        self.hosts, self.spare_hosts = self.hosts[:1], [*self.spare_hosts, *self.hosts[1:]]
        self.front_door, self.spare_front_door = None, self.front_door

    @property
    def url(self) -> str:
        """Where consumers go: the front door when there is one, else the (only) proxy, on its own
        address (a lone ssh host listens there: rendering.host_files.settings_for_host)."""
        address = self.front_door.address if self.front_door is not None else self.hosts[0].address
        return f"{'https' if self.tls_provided else 'http'}://{address}:{self.port}"

    @property
    def service_name(self) -> str:
        return f"litellm.{DNS_ZONE}"

    def client(self) -> "httpx.Client":
        """An HTTP client for `url`: with TLS it verifies against the test CA only (the name: see
        `extensions`); never an HTTP proxy from the environment."""
        import ssl

        verify = ssl.create_default_context(cadata="".join(self.client_cas)) if self.tls_provided else True
        return httpx.Client(timeout=60, trust_env=False, verify=verify)

    @property
    def extensions(self) -> dict[str, str]:
        """Per request: with TLS the name the certificate is verified against (and SNI) is the
        service's, while the connection goes to the front door's address (the bed has no DNS)."""
        return {"sni_hostname": self.service_name} if self.tls_provided else {}

    def server_states(self, door: Optional[BedHost] = None) -> dict[str, str]:
        """HAProxy's status of every server of the backend, read on the front door's admin socket
        (`door`: that bed host, also while the stack is changing shape)."""
        return {name: row["status"] for name, row in self._server_stats(door).items()}

    def server_sessions(self, door: Optional[BedHost] = None) -> dict[str, int]:
        """The sessions (requests in flight) HAProxy has open on each server of the backend."""
        return {name: int(row["scur"] or 0) for name, row in self._server_stats(door).items()}

    def _server_stats(self, door: Optional[BedHost] = None) -> dict[str, dict[str, str]]:
        import csv
        import io

        from rendering.haproxy_cfg import BACKEND

        door = door or self.front_door
        assert door is not None
        script = ("import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.settimeout(10)\ns.connect('/run/haproxy/admin.sock')\n"
                  "s.sendall(b'show stat\\n')\nd=b''\nwhile True:\n    c=s.recv(65536)\n    if not c: break\n    d+=c\n"
                  "sys.stdout.write(d.decode())\n")
        out = door.sudo(f"python3 -c {shlex.quote(script)}", timeout=60).stdout
        rows = csv.DictReader(io.StringIO(out.lstrip("# ")))
        return {r["svname"]: r for r in rows if r["pxname"] == BACKEND and r["svname"] not in ("FRONTEND", "BACKEND")}

    def assert_all_up(self, settle_seconds: float = 60.0) -> dict[str, str]:
        """Every server UP (no DRAIN/MAINT left), given `settle_seconds` for HAProxy's rise."""
        import time

        deadline = time.monotonic() + settle_seconds
        while True:
            states = self.server_states()
            if states and all(st == "UP" for st in states.values()):
                return states
            assert time.monotonic() < deadline, f"not every server UP: {states}"
            time.sleep(1)

    def close(self) -> None:
        try:
            if self.current is not None:
                self.apply(None)
        finally:
            self.fake.close()
            if self.redis_host is not None and self.redis_host.running:
                self.redis_host.sudo(f"systemctl stop {REDIS_UNIT}; rm -rf {REDIS_DIR}", check=False)
