"""The checks that span sections of a stack's settings. Pure: no Pulumi imports.

Each section's model checks itself (`config.litellm_settings`, `config.redis_settings`, ...); what
needs two sections or more is here, as functions of the whole stack's settings, and
`config.settings.GatewaySettings` calls `gateway_problems` once every section is valid. The settings
object is taken by duck typing (`Any`): this module must not import `config.settings`, which imports it.

Every function returns (config path, message) pairs; `GatewaySettings` raises them together as one
`CrossCheckError`, so the loader reports every problem at once, each at its key.
"""

from __future__ import annotations

import math

import ipaddress
from datetime import datetime
from typing import Any, Optional

from config import checks
from config.host_env import GATEWAY_ENV_VARS
from config.litellm_locks import lock_text, missing_lock_message
from config.tls_provided import chains_to, check_provided, required_names
from config.kubernetes_settings import (
    DERIVED_POD_ENV_NAMES,
    MAX_REQUEST_WINDOW_SECONDS,
    POD_ENV,
    SURGE_PODS,
    default_image_tag,
    image_tag_names_release,
    name_problems,
    request_window_seconds,
)

# ingress-nginx's proxy timeouts: derived from routing (rendering.kubernetes_objects), never given.
_DERIVED_INGRESS_ANNOTATIONS = ("nginx.ingress.kubernetes.io/proxy-read-timeout", "nginx.ingress.kubernetes.io/proxy-send-timeout")
from config.fields import is_ip_address
from config.ssh_host_key import missing_host_key_message


def gateway_problems(s: Any, now: Optional[datetime]) -> list[tuple[str, str]]:
    """Every cross-section problem of the stack, in a stable order. `now` is the loader's clock
    (config.loader.load_settings; tests pin it), for key expiry dates."""
    problems = catalog_problems(s)
    problems.extend(section_problems(s))
    problems.extend(where_values_land(s))
    problems.extend(kubernetes_problems(s))
    problems.extend(host_key_problems(s))
    problems.extend(alerting_problems(s))
    problems.extend(front_door_problems(s))
    problems.extend(release_problems(s))
    problems.extend(provided_tls_problems(s, now))
    problems.extend(database_tls_problems(s))
    problems.extend(previous_ca_problems(s))
    return problems


def previous_ca_problems(s: Any) -> list[tuple[str, str]]:
    """tls.previous_ca_cert (a CA rotation, docs/runbook.md): the front door's trust of the CA being
    replaced, so it is given only where a front door verifies the hosts, and is a CA other than the
    current one."""
    pem = s.tls.previous_ca_cert
    if pem is None:
        return []
    key = "tls.previous_ca_cert"
    if not s.tls.enabled:
        return [(key, "is trusted by the front door during a CA rotation, and TLS is off; set tls.enabled: true, "
                 "or remove previous_ca_cert")]
    if not s.has_front_door:
        return [(key, "is trusted by the front door during a CA rotation, and this stack has no front door (one host "
                 "or no hosts: nothing verifies a host against it); remove previous_ca_cert")]
    from cryptography import x509

    try:
        certs = x509.load_pem_x509_certificates(pem.encode())
    except ValueError:
        return [(key, "is not a readable certificate: expected the PEM certificate of the CA being replaced")]
    current = set()
    try:
        current = {c.fingerprint(_sha256()) for c in x509.load_pem_x509_certificates((s.tls_ca_cert or "").encode())}
    except ValueError:
        pass  # unset, or unreadable (reported at tlsCaCert where it is used)
    problems: list[tuple[str, str]] = []
    for cert in certs:
        subject = cert.subject.rfc4514_string() or "(empty subject)"
        try:
            is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except x509.ExtensionNotFound:
            is_ca = False
        if not is_ca:
            problems.append((key, f"'{subject}' is not a CA certificate (no basicConstraints CA:TRUE): expected the "
                             "certificate of the CA being replaced, which signed the hosts' current certificates"))
        elif cert.fingerprint(_sha256()) in current:
            problems.append((key, f"'{subject}' is the current CA (tlsCaCert): expected the CA being replaced; remove "
                             "previous_ca_cert once every host has a certificate from tlsCaCert"))
    return problems


def _sha256():
    from cryptography.hazmat.primitives import hashes

    return hashes.SHA256()


def database_tls_problems(s: Any) -> list[tuple[str, str]]:
    """A CA certificate must be what verifies the server: given exactly when it is used
    (rendering/db_tls.py: Prisma's sslaccept=strict + sslcert, redis-py's ssl_ca_certs)."""
    problems: list[tuple[str, str]] = []
    pg = s.postgres
    if pg.enabled and pg.sslmode == "verify-full" and pg.ca_cert is None:
        problems.append(("postgres.ca_cert", (
            "sslmode verify-full needs the PEM of the CA that signed the server's certificate (the proxy, the "
            "migration and the pulumi-postgresql provider verify the server against it); set postgres.ca_cert")))
    if pg.enabled and pg.ca_cert is not None and pg.sslmode != "verify-full":
        problems.append(("postgres.ca_cert", (
            f"is only used with sslmode verify-full (with '{pg.sslmode}' Prisma does not verify the server at "
            "all); set postgres.sslmode: verify-full, or remove ca_cert")))
    if s.redis.enabled and s.redis.ca_cert is not None and not s.redis.tls:
        problems.append(("redis.ca_cert", "is only used over TLS; set redis.tls: true, or remove ca_cert"))
    return problems


def provided_tls_problems(s: Any, now: Optional[datetime]) -> list[tuple[str, str]]:
    """tls.issuer provided: the chain and key are what the stack's names need (config.tls_provided)."""
    if not (s.tls.enabled and s.tls.issuer == "provided"):
        return []
    if s.litellm.deploy != "ssh":
        how = ("set kubernetes.ingress.tls_secret to a kubernetes.io/tls Secret holding it" if s.litellm.deploy == "kubernetes"
               else "a local deploy serves 127.0.0.1: use self-signed")
        return [("tls.issuer", f"'provided' is for litellm.deploy: ssh; {how}")]
    chain, key = s.secrets.tls_cert_chain, s.secrets.tls_key
    if chain is None or key is None:
        return []  # the missing-secret check names them
    problems, material = check_provided(chain.get_secret_value(), key.get_secret_value(), required_names(s), now)
    if material is not None and s.tls_ca_cert and not chains_to(material.top_pem, s.tls_ca_cert):
        problems.append(("tlsCaCert", "is what clients and the admin-API providers trust, but the chain in tlsCertChain does "
                         "not lead to it: expected the CA that issued the chain's last certificate (or unset tlsCaCert "
                         "when the chain ends at its root)"))
    return problems


def release_problems(s: Any) -> list[tuple[str, str]]:
    """ssh hosts install only a hashed lock and a Kubernetes image must be a reviewed release: the
    stack's litellm.version needs its locks/litellm-<v>.lock (config.litellm_locks). A local deploy
    (the operator's machine, not root) may fall back to the release's exact top-level pins."""
    if s.litellm.deploy == "local" or lock_text(s.litellm.version) is not None:
        return []
    return [("litellm.version", missing_lock_message(s.litellm.version))]


def catalog_problems(s: Any) -> list[tuple[str, str]]:
    """Duplicate ids, and every name a fallback, team or key gives that the catalog does not have."""
    problems: list[tuple[str, str]] = []
    names = set(s.public_model_names)
    for i in sorted(_repeats([m.id for m in s.models])):
        m = s.models[i]
        problems.append((f"models[{i}].id", f"duplicate deployment id '{m.id}'"))

    for field_name in ("fallbacks", "context_window_fallbacks", "content_policy_fallbacks"):
        table: dict[str, list[str]] = getattr(s.routing, field_name)
        for source, targets in table.items():
            where = f"routing.{field_name}.{source}"
            if source not in names:
                problems.append((where, f"'{source}' is not a model in the catalog ({_known(names)})"))
            for t in targets:
                if t not in names:
                    problems.append((where, f"fallback '{t}' is not a model in the catalog ({_known(names)})"))
                if t == source:
                    problems.append((where, f"'{source}' falls back to itself"))
        cycle = _find_cycle(table)
        if cycle:
            problems.append((f"routing.{field_name}", "fallback cycle: " + " -> ".join(cycle)))

    team_ids = [t.team_id for t in s.teams]
    repeated_team_ids = _repeats(team_ids)
    for i, team in enumerate(s.teams):
        if i in repeated_team_ids:
            problems.append((f"teams[{i}].team_id", f"duplicate team id '{team.team_id}'"))
        for m in team.models:
            if m not in names:
                problems.append((f"teams[{i}].models", f"'{m}' is not a model in the catalog ({_known(names)})"))

    repeated_aliases = _repeats([k.alias for k in s.keys])
    repeated_services = _repeats([k.service for k in s.keys])
    for i, key in enumerate(s.keys):
        if i in repeated_aliases:
            problems.append((f"keys[{i}].alias", f"duplicate key alias '{key.alias}'"))
        if i in repeated_services:
            problems.append((f"keys[{i}].service", f"duplicate service '{key.service}' (one key per service)"))
        if key.team is not None and key.team not in team_ids:
            problems.append((f"keys[{i}].team", f"'{key.team}' is not a team in the catalog ({_known(set(team_ids))})"))
        allowed = names
        if key.team is not None and key.team in team_ids:
            team = s.teams[team_ids.index(key.team)]
            if team.models:
                allowed = set(team.models)
        for m in key.models:
            if m not in names:
                problems.append((f"keys[{i}].models", f"'{m}' is not a model in the catalog ({_known(names)})"))
            elif m not in allowed:
                problems.append((f"keys[{i}].models", f"'{m}' is not allowed for team '{key.team}' ({_known(allowed)})"))
    return problems


def section_problems(s: Any) -> list[tuple[str, str]]:
    """A section that needs another one enabled (the cache needs Redis, teams need Postgres ...)."""
    problems: list[tuple[str, str]] = []
    if s.cache.enabled and not s.redis.enabled:
        problems.append(("cache.enabled", "the response cache needs redis.enabled: true"))
    if s.router_shares_state and not s.redis.enabled and s.litellm.deploy != "kubernetes":
        problems.append(("litellm", "several hosts or workers share router state through Redis: enable redis (or use one worker on one host)"))
    if s.litellm.model_source == "api" and not s.postgres.enabled:
        problems.append(("litellm.model_source", "'api' stores models in the database: enable postgres"))
    if (s.teams or s.keys) and not s.postgres.enabled:
        problems.append(("keys", "teams and virtual keys live in the database: enable postgres"))
    if s.litellm.database_outage == "admit_any_key" and not s.postgres.enabled:
        problems.append(("litellm.database_outage", "'admit_any_key' is about an outage of the database: enable postgres, or leave the default 'refuse'"))
    if s.dns.enabled and s.litellm.deploy == "local":
        problems.append(("dns.enabled", "DNS records are for ssh-deployed hosts; turn DNS off for a local deploy"))
    if s.dns.zone and not (s.domain == s.dns.zone or s.domain.endswith("." + s.dns.zone)):
        # the records are `<host>.<domain>` (what every certificate, URL and client uses), written
        # relative to the zone (rendering.dns_records.zone_relative_name): only a parent zone holds them
        problems.append(("dns.zone", f"expected the stack's domain '{s.domain}' or a parent zone of it (the records are "
                         f"<host>.{s.domain}); '{s.dns.zone}' does not contain them"))
    if s.secrets.redis_admin_password is not None and not (s.redis.enabled and s.redis.manage_acl):
        problems.append(("redisAdminPassword", "is only used to manage the Redis ACL user (redis.manage_acl: true); "
                         "remove it (`pulumi config rm redisAdminPassword`) or set redis.manage_acl: true"))
    return problems


def where_values_land(s: Any) -> list[tuple[str, str]]:
    """Checks across sections for values that reach a host, a unit, Redis or an upstream (issue 9)."""
    problems: list[tuple[str, str]] = []
    lit = s.litellm

    if lit.deploy == "ssh":
        for where, path in (("litellm.install_dir", lit.install_dir), ("litellm.config_dir", lit.config_dir),
                            ("tls.cert_dir", s.tls.cert_dir)):
            if not path.startswith("/"):
                problems.append((where, f"expected an absolute path such as /opt/litellm on an ssh deploy "
                                        f"(relative paths are for deploy: local only) (got {path!r})"))
        if lit.system_user == s.ssh.user:
            problems.append(("litellm.system_user", f"'{lit.system_user}' is the SSH deploy user (ssh.user): the "
                             "layout step would change its home and the proxy would run with its sudo rights; "
                             "use a dedicated account such as 'litellm'"))
        if not s.tls.enabled and not s.tls.allow_plaintext:
            problems.append(("tls.enabled", "TLS is off on an ssh deploy: the providers would send the master key "
                             "and every virtual key over the network in clear; turn TLS on, or set "
                             "tls.allow_plaintext: true to accept that explicitly"))

    if s.postgres.enabled and lit.deploy != "kubernetes":  # kubernetes: pods x pool, config.kubernetes_settings
        pool = lit.workers * lit.database_connection_pool_limit * len(lit.hosts)
        if pool > s.postgres.connection_limit:
            problems.append(("postgres.connection_limit", (
                f"{lit.workers} workers x {lit.database_connection_pool_limit} connections "
                f"(litellm.database_connection_pool_limit) x {len(lit.hosts)} host(s) = {pool} exceeds "
                f"connection_limit {s.postgres.connection_limit}; raise postgres.connection_limit to at least "
                f"{pool} or lower litellm.workers / litellm.database_connection_pool_limit")))

    # A key whose `expires` has passed is not a config error: expiry is an event in a key's life (the
    # render reports it, config.catalog.expired_keys). Creating a key that is already expired is refused
    # by the provider at create time (components/litellm_admin/virtual_key_provider.py).

    secrets = s.secrets
    reserved = GATEWAY_ENV_VARS | checks.host_env_names()
    for name in sorted(secrets.env_secrets):
        if name in reserved:
            problems.append((f"envSecrets.{name}", (
                f"{name} is set by the gateway itself on the host (its env file or unit); an envSecrets entry would "
                "replace it: remove it (`pulumi config rm --path envSecrets.{name}`)".replace("{name}", name))))
        if checks.breaks_lines(secrets.env_secrets[name].get_secret_value()):
            problems.append((f"envSecrets.{name}", (
                "the value contains a line break or NUL, which the env file cannot hold (value not shown); "
                f"set it again on one line: `pulumi config set --secret --path 'envSecrets.{name}' <value>`")))
    if (secrets.ui_password is not None and secrets.master_key is not None
            and secrets.ui_password.get_secret_value() == secrets.master_key.get_secret_value()):
        problems.append(("uiPassword", (
            "is the master key: the Admin UI password must be its own (a browser login must never hold the key "
            "that can do everything); set another with `pulumi config set --secret uiPassword <value>`")))
    for key, field_name in (("masterKey", "master_key"), ("saltKey", "salt_key"),
                            ("redisPassword", "redis_password"), ("redisAdminPassword", "redis_admin_password"),
                            ("dnsAdminPassword", "dns_admin_password"),
                            ("uiPassword", "ui_password"), ("uiSsoClientSecret", "ui_sso_client_secret")):
        value = getattr(secrets, field_name)
        if value is not None and checks.breaks_lines(value.get_secret_value()):
            problems.append((key, (
                "the value contains a line break or NUL, which the file it is written to cannot hold "
                f"(value not shown); set it again on one line: `pulumi config set --secret {key} <value>`")))
    return problems


def host_key_problems(s: Any) -> list[tuple[str, str]]:
    """Every SSH target names the host key it must present (no key = no verification).
    Combinations refused elsewhere (DNS on a local deploy, kubernetes) are not asked for one."""
    problems: list[tuple[str, str]] = []
    if s.litellm.deploy == "ssh":
        for i, h in enumerate(s.litellm.hosts):
            if h.host_key is None:
                problems.append((f"litellm.hosts[{i}].host_key", missing_host_key_message(h.address)))
    if s.has_front_door and s.litellm.deploy == "ssh" and s.front_door.host_key is None:
        problems.append(("frontDoor.host_key", missing_host_key_message(s.front_door.address or s.front_door.name)))
    if s.dns.enabled and s.litellm.deploy == "ssh" and s.dns.host_key is None:
        problems.append(("dns.host_key", missing_host_key_message(s.dns.server)))
    if (
        s.redis.enabled and s.redis.manage_acl and s.litellm.deploy in ("ssh", "local")
        and s.redis.host_key is None
    ):
        problems.append(("redis.host_key", missing_host_key_message(s.redis.ssh_host or s.redis.host)))
    return problems


def front_door_problems(s: Any) -> list[tuple[str, str]]:
    """Several hosts need a front door address; local hosts need distinct loopback addresses."""
    problems: list[tuple[str, str]] = []
    fd = s.front_door  # its name and address are checked by their field types (config.front_door)
    names = [h.name for h in s.litellm.hosts]
    for i, h in enumerate(s.litellm.hosts):
        for old in h.renamed_from:
            if old in names:
                problems.append((f"litellm.hosts[{i}].renamed_from", f"'{old}' is the name of a current host"))
    if s.environment in s.previous_environments:
        problems.append(("previousEnvironments", f"'{s.environment}' is the current environment"))
    if fd.with_one_host and s.litellm.deploy != "local":
        problems.append(("frontDoor.with_one_host", f"is for litellm.deploy: local, not {s.litellm.deploy} (an ssh deploy "
                         "moves the service name between host 1 and the front door instead: docs/runbook.md, 'Add or "
                         "remove a host'); remove with_one_host"))
    if not s.has_front_door:
        return problems
    drain, timeout = s.rollout.drain_timeout_seconds, s.routing.timeout
    if drain is not None and drain < timeout:
        problems.append(("rollout.drain_timeout_seconds", f"{drain} s is below routing.timeout ({timeout:g} s): a rollout "
                         "would restart a proxy while a completion that may legitimately last routing.timeout is still "
                         f"running; set it to at least {math.ceil(timeout)} (the drain ends as soon as the proxy is idle)"))
    if s.litellm.deploy == "ssh" and fd.address is None:
        problems.append(("frontDoor.address", "several hosts are served through the HAProxy front door: "
                         "set the address of the host it runs on (see docs/components.md, 'FrontDoor')"))
    if s.litellm.deploy == "ssh":
        problems.extend(_ssh_front_door_problems(s))
    if s.litellm.deploy == "local":
        addresses = [h.address for h in s.litellm.hosts]
        front = fd.address or "127.0.0.1"
        for i, h in enumerate(s.litellm.hosts):
            if not h.address.startswith("127.") or addresses.count(h.address) > 1 or h.address == front:
                problems.append((f"litellm.hosts[{i}].address", "local hosts behind the front door need "
                                 f"distinct loopback addresses (127.0.0.x) other than the front door's {front}"))
    return problems


def _ssh_front_door_problems(s: Any) -> list[tuple[str, str]]:
    """Behind a front door each ssh host's proxy listens on the host's own address (never
    0.0.0.0: only HAProxy is meant to reach it, and two services on one machine may share the
    port on distinct addresses), and its drain agent listens there on frontDoor.agent_port."""
    problems: list[tuple[str, str]] = []
    fd = s.front_door
    if s.litellm.bind_host not in ("0.0.0.0", "::"):
        # 0.0.0.0 (the default) means "the host's address" here; any other value would be ignored
        problems.append(("litellm.bind_host", f"'{s.litellm.bind_host}': behind the front door each proxy listens on "
                         "its host's own address (litellm.hosts[].address); remove litellm.bind_host"))
    for i, h in enumerate(s.litellm.hosts):
        if not is_ip_address(h.address):
            problems.append((f"litellm.hosts[{i}].address", f"'{h.address}': behind the front door the proxy listens on "
                             "this address and HAProxy connects to it, so it must be the host's IP address (a name may "
                             "resolve differently on the host, e.g. Debian maps its own name to 127.0.1.1)"))
    if fd.address is not None and not is_ip_address(fd.address):
        problems.append(("frontDoor.address", f"'{fd.address}': HAProxy listens on this address, so it must be the "
                         "front door host's IP address"))
    if fd.agent_port == s.litellm.port:
        problems.append(("frontDoor.agent_port", f"{fd.agent_port} is litellm.port: the drain agent needs its own port "
                         f"on each host; expected a port number other than {s.litellm.port} (default 4001)"))
    return problems


def alerting_problems(s: Any) -> list[tuple[str, str]]:
    """(config path, message) for an alerting setup that cannot work as declared."""
    problems: list[tuple[str, str]] = []
    declared = s.observability.alerting.slow_threshold_seconds
    if declared is not None and declared >= s.routing.timeout:
        problems.append(
            (
                "observability.alerting.slow_threshold_seconds",
                f"{declared} s is not below routing.timeout ({s.routing.timeout:g} s): every call is "
                "cancelled before it could count as slow, so llm_too_slow would never fire; expected a "
                f"number of seconds below {s.routing.timeout:g} (default: half of routing.timeout)",
            )
        )
    return problems


def _loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# Host-side settings of the ssh/local targets that mean nothing for pods.
_HOST_ONLY_LITELLM_KEYS = ("hosts", "bind_host", "system_user", "install_dir", "config_dir")


def kubernetes_problems(s: Any) -> list[tuple[str, str]]:
    """(config path, message) for every setting a Kubernetes deploy cannot honour, and for a
    `kubernetes:` section on a stack that does not deploy there."""
    problems: list[tuple[str, str]] = []
    k = s.kubernetes
    if s.litellm.deploy != "kubernetes":
        if k is not None:
            problems.append(("kubernetes", f"applies only to litellm.deploy: kubernetes (this stack deploys with '{s.litellm.deploy}'); remove it"))
        return problems
    if k is None:
        problems.append(("kubernetes", "litellm.deploy: kubernetes needs a 'kubernetes' section (at least {namespace: ...})"))
        return problems

    if k.context is None:
        problems.append(("kubernetes.context", "required: the kubeconfig context this stack deploys to (e.g. platform-prod); "
                         "without it `pulumi up` would follow whatever context is current"))
    for field_name, key, what in (("front_door", "frontDoor", "the HAProxy front door of ssh hosts; the Service and Ingress front the pods"),
                                  ("rollout", "rollout", "how ssh hosts restart one by one; the Deployment's RollingUpdate rolls the pods")):
        if field_name in s.model_fields_set:
            problems.append((key, f"does not apply to litellm.deploy: kubernetes ({what}); remove it"))
    if s.litellm.service_name:
        for message in name_problems(s.litellm.service_name):
            problems.append(("litellm.service_name", message))
    own_env = set(GATEWAY_ENV_VARS) | {n for n, _ in POD_ENV} | set(DERIVED_POD_ENV_NAMES) | {
        "LITELLM_MASTER_KEY", "LITELLM_SALT_KEY", "DATABASE_URL", "REDIS_PASSWORD"} | checks.host_env_names()
    for name in sorted(k.existing_secret_env):
        if name in own_env:
            problems.append((f"kubernetes.existing_secret_env.{name}", f"{name} is set by the gateway itself; remove the entry"))
        elif name in s.secrets.env_secrets:
            problems.append((f"kubernetes.existing_secret_env.{name}", f"{name} is also in envSecrets: keep one of the two"))
    if k.service_account is not None and not k.service_account.create and k.service_account.annotations:
        problems.append(("kubernetes.service_account.annotations", "annotations apply to a ServiceAccount this stack creates (create: true); "
                         "annotate the existing one where it is managed"))
    if k.monitoring.kind != "none":
        if "prometheus" not in s.observability.callbacks:
            problems.append(("kubernetes.monitoring.kind", f"a {k.monitoring.kind} scrapes /metrics/, which LiteLLM serves only with "
                             "observability.callbacks: [prometheus]; add it or set kind: none"))
        if k.monitoring.scrape_key_secret is None:
            problems.append(("kubernetes.monitoring.scrape_key_secret", "/metrics is authenticated: name the Secret and key holding the "
                             "scrape key (docs/runbook.md, 'Metrics and alerting'), e.g. {secret: litellm-scrape, key: token}"))
    for key in _HOST_ONLY_LITELLM_KEYS:
        if key in s.litellm.model_fields_set:
            problems.append((f"litellm.{key}", "does not apply to litellm.deploy: kubernetes (pods are scheduled by the cluster); remove it"))
    if "ssh" in s.model_fields_set:
        problems.append(("ssh", "does not apply to litellm.deploy: kubernetes (nothing is reached over SSH); remove it"))
    if s.litellm.workers != 1:
        problems.append(("litellm.workers", f"must be 1 for litellm.deploy: kubernetes (one worker per pod, as upstream advises; scale with kubernetes.max_replicas), got {s.litellm.workers}"))
    if s.dns.enabled:
        problems.append(("dns.enabled", "DNS records are written over SSH for ssh-deployed hosts; for kubernetes point <service_name>.<domain> at the Ingress controller (external-dns or your DNS team) and set dns.enabled: false"))
    if s.redis.manage_acl:
        problems.append(("redis.manage_acl", "the Redis ACL user is managed over SSH; for kubernetes Redis is an external service: create the user there and set redisPassword, manage_acl: false"))
    if "cert_dir" in s.tls.model_fields_set:
        problems.append(("tls.cert_dir", "does not apply to litellm.deploy: kubernetes (TLS ends at the Ingress, the certificate lives in a Secret); remove it"))
    if s.postgres.enabled and _loopback(s.postgres.host):
        problems.append(("postgres.host", f"'{s.postgres.host}' is loopback: inside a pod that is the pod itself; give the address the cluster reaches Postgres at"))
    if s.redis.enabled and _loopback(s.redis.host):
        problems.append(("redis.host", f"'{s.redis.host}' is loopback: inside a pod that is the pod itself; give the address the cluster reaches Redis at"))
    if k.max_replicas > 1 and not s.redis.enabled:
        problems.append(("kubernetes.max_replicas", f"{k.max_replicas} pods share router state (rpm/tpm usage, cooldowns) through Redis: enable redis, or set max_replicas: 1"))
    if s.postgres.enabled:
        pods = k.max_replicas + SURGE_PODS
        need = s.litellm.database_connection_pool_limit * pods
        if need > s.postgres.connection_limit:
            problems.append((
                "kubernetes.max_replicas",
                f"{pods} pods (max_replicas {k.max_replicas} + {SURGE_PODS} surging during a rollout) x "
                f"database_connection_pool_limit {s.litellm.database_connection_pool_limit} = {need} connections "
                f"exceed postgres.connection_limit {s.postgres.connection_limit}; lower one or raise the limit",
            ))
    if k.image.tag is not None and not image_tag_names_release(k.image.tag, s.litellm.version):
        problems.append(("kubernetes.image.tag", f"'{k.image.tag}' does not name the pinned release v{s.litellm.version} (e.g. {default_image_tag(s.litellm.version)}); floating tags such as main-latest are refused"))
    window = request_window_seconds(s)
    if window > MAX_REQUEST_WINDOW_SECONDS:
        problems.append(("routing.timeout", f"a pod drains in-flight requests for routing.timeout x (1 + num_retries) = {window} s "
                         f"before it stops (terminationGracePeriodSeconds follows); at most {MAX_REQUEST_WINDOW_SECONDS} s: "
                         "lower routing.timeout, a deployment's timeout or routing.num_retries"))
    for key in sorted(set(k.ingress.annotations) & set(_DERIVED_INGRESS_ANNOTATIONS)):
        problems.append((f"kubernetes.ingress.annotations.{key}", f"derived from routing.timeout x (1 + num_retries) "
                         f"(the Ingress must outlast the proxy's own timeout, {window} s + 5); remove it"))
    for name in sorted(set(s.secrets.env_secrets) & ({n for n, _ in POD_ENV} | set(DERIVED_POD_ENV_NAMES))):
        problems.append((f"envSecrets.{name}", f"{name} is set by the gateway in every pod's environment; remove the envSecrets entry"))
    if k.ingress.enabled and not s.tls.enabled and not s.tls.allow_plaintext:
        problems.append(("tls.enabled", "TLS is off at the Ingress: the providers would send the master key and every "
                         "virtual key over the network in clear; turn TLS on, or set tls.allow_plaintext: true to accept that explicitly"))
    if k.ingress.enabled and not s.litellm.service_name:
        problems.append(("litellm.service_name", "the Ingress serves <service_name>.<domain>: set litellm.service_name (e.g. litellm)"))
    if not k.ingress.enabled:
        if s.tls.enabled:
            problems.append(("tls.enabled", "TLS ends at the Ingress: enable kubernetes.ingress, or set tls.enabled: false"))
        if k.ingress.tls_secret or k.ingress.class_name or k.ingress.annotations:
            problems.append(("kubernetes.ingress", "class_name, tls_secret and annotations need ingress.enabled: true"))
    elif k.ingress.tls_secret and not s.tls.enabled:
        problems.append(("kubernetes.ingress.tls_secret", "an Ingress TLS secret needs tls.enabled: true"))
    return problems


def _repeats(values: list[str]) -> set[int]:
    """Indices of the entries that repeat an earlier one (the first occurrence is not reported)."""
    seen: set[str] = set()
    out: set[int] = set()
    for i, value in enumerate(values):
        if value in seen:
            out.add(i)
        seen.add(value)
    return out


def _known(names: set[str]) -> str:
    return "known: " + (", ".join(sorted(names)) if names else "none")


def _find_cycle(graph: dict[str, list[str]]) -> Optional[list[str]]:
    """A cycle in a fallback graph, as a path that returns to its start, or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> Optional[list[str]]:
        state[node] = 1
        path.append(node)
        for nxt in graph.get(node, []):
            if nxt == node:
                continue  # reported separately as "falls back to itself"
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if state.get(nxt) is None:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if state.get(start) is None:
            found = visit(start)
            if found:
                return found
    return None
