"""The whole LiteLLM gateway of one stack: the top-level component `__main__.py` builds.

Order (each arrow is a Pulumi dependency through outputs, not a string):
  TLS certificate ─┐
  DNS records ─────┤
  Postgres db/role ┼─> LiteLLM host(s) (ready = /health/readiness answered) ─> models, teams, keys
  Redis cache ─────┘

With a front door the service name's CNAME to it is made after the front door serves and host 1
rolled; the models, teams and keys wait for every host and for the records the gateway's URL
resolves through (that CNAME, the front door's A record), the way they reach the proxy.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Mapping, Optional

import pulumi
import pulumi_random as random

from components.connection import ssh_connection
from components.dns import DnsRecord, DnsRecordArgs
from components.front_door import FrontDoor, FrontDoorArgs, FrontDoorTls
from components.host import LiteLLMHost, LiteLLMHostArgs, TlsFiles
from components.kubernetes import LiteLLMKubernetes, LiteLLMKubernetesArgs
from components.litellm_admin.resources import (
    Model,
    ModelArgs,
    Team,
    TeamArgs,
    VirtualKey,
    VirtualKeyArgs,
)
from components.postgres import PostgresDatabase, PostgresDatabaseArgs
from components.redis_cache import RedisCache, RedisCacheArgs
from components.salt_guard import SaltKeyGuard, salt_fingerprint
from components.tls import TlsCertificate, TlsCertificateArgs
from config.admin_ui import SSO_SECRET_ENV
from config.catalog import VirtualKeySpec
from config.endpoints import base_url
from config.fields import is_ip_address
from config.litellm_settings import ADMIT_ANY_KEY_WARNING
from config.settings import GatewaySettings
from config.tls_provided import check_provided, required_names
from rendering.dns_records import admin_url_records, dns_zone, zone_relative_name
from rendering.host_files import ca_files, secret_env_names
from rendering.litellm_yaml import admin_model_info, deployment_entry, render_litellm_config_yaml
from rendering.redis_acl import litellm_channel_patterns, namespace_key_pattern


@dataclass
class GatewayArgs:
    settings: GatewaySettings
    """Already validated (config.loader): components never see raw config."""
    now: Optional[datetime] = None
    """The clock for key rotation periods (tests pin it)."""
    adopt: Mapping[str, str] = field(default_factory=dict)
    """Resource name -> id of the model/team/key already on the proxy that the resource adopts
    (config/imports/<stack>.yaml, written by offline.adopt; see config.adoptions)."""


# The `keys.<service>` output of an adopted key: LiteLLM stores only the key's hash, so the value was
# never known here; the consumer that uses the key holds it.
ADOPTED_KEY_OUTPUT = "adopted: the key's value is held by its consumer (LiteLLM stores only its hash)"


def _secret(value) -> Optional[pulumi.Output[str]]:
    return pulumi.Output.secret(value.get_secret_value()) if value is not None else None


def rotation_trigger(spec: VirtualKeySpec, now: datetime) -> Optional[str]:
    """A value that changes once every rotate_after_days (and whenever rotation_trigger does).

    Periods count from the Unix epoch, so every stack run inside one period yields the same value
    and `pulumi preview` shows a rotation only when a period has passed.
    """
    parts = []
    if spec.rotation_trigger:
        parts.append(spec.rotation_trigger)
    if spec.rotate_after_days:
        period = int(now.timestamp() // (spec.rotate_after_days * 86400))
        parts.append(f"every-{spec.rotate_after_days}d-period-{period}")
    return "/".join(parts) or None


class Gateway(pulumi.ComponentResource):
    base_url: pulumi.Output[str]
    ui_url: pulumi.Output[str]
    docs_url: pulumi.Output[str]
    health_url: pulumi.Output[str]
    master_key: pulumi.Output[str]
    database_url: Optional[pulumi.Output[str]]
    ca_bundle_pem: Optional[pulumi.Output[str]]
    config_yaml: str
    key_values: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: GatewayArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("litellm-gateway:index:Gateway", name, None, opts)
        s = args.settings
        now = args.now or datetime.now(timezone.utc)
        child = pulumi.ResourceOptions(parent=self)
        protect = s.protected

        if s.litellm.database_outage == "admit_any_key":
            # shown by every preview and up, so the choice never goes unnoticed
            pulumi.log.warn(ADMIT_ANY_KEY_WARNING, resource=self)

        # ---- keys the proxy itself needs ----------------------------------------------------
        if s.secrets.master_key is not None:
            self.master_key = _secret(s.secrets.master_key)
        else:
            generated = random.RandomPassword(
                f"{name}-master-key", length=48, special=False, opts=child
            )
            self.master_key = pulumi.Output.concat("sk-", generated.result)
        if s.secrets.salt_key is not None:
            salt_key = _secret(s.secrets.salt_key)
        else:
            # LiteLLM encrypts stored credentials with it: a new salt key makes them unreadable.
            # Protected, and blind to changes of its own arguments, so no ordinary edit replaces it.
            salt_key = random.RandomPassword(
                f"{name}-salt-key",
                length=48,
                special=False,
                opts=pulumi.ResourceOptions(
                    parent=self,
                    protect=protect,
                    retain_on_delete=True,
                    ignore_changes=["length", "special", "keepers"],
                ),
            ).result
        # A changed salt key is refused unless saltKeyRotation gives a new reason (salt_guard); the
        # env file gets the salt key only through the guard, so a refused change reaches no host.
        fingerprint_key = random.RandomPassword(
            f"{name}-salt-fingerprint-key",
            length=64,
            special=False,
            opts=pulumi.ResourceOptions(
                parent=self, protect=protect, retain_on_delete=True, ignore_changes=["length", "special", "keepers"]
            ),
        )
        self.salt_key_guard = SaltKeyGuard(
            f"{name}-salt-key-guard",
            # keyed with a random secret: reveals nothing about the salt key, so shown in previews
            pulumi.Output.unsecret(
                pulumi.Output.all(fingerprint_key.result, salt_key).apply(lambda v: salt_fingerprint(v[0], v[1]))
            ),
            s.salt_key_rotation,
            opts=child,
            source="config" if s.secrets.salt_key is not None else "generated",
        )
        salt_key = pulumi.Output.secret(pulumi.Output.all(self.salt_key_guard.id, salt_key).apply(lambda v: v[1]))

        # ---- database and cache -----------------------------------------------------------
        depends: list[pulumi.Resource] = []
        self.database_url = None
        self._database_url_for = None
        if s.postgres.enabled:
            db = PostgresDatabase(
                f"{name}-db",
                PostgresDatabaseArgs(
                    settings=s.postgres,
                    admin_password=_secret(s.secrets.postgres_admin_password),
                    protect=protect,
                ),
                opts=child,
            )
            self.database_url = db.database_url
            self._database_url_for = db.url_for
            depends.append(db)

        redis_password: pulumi.Input[str] = pulumi.Output.secret("")
        if s.redis.enabled:
            cache = RedisCache(
                f"{name}-redis",
                RedisCacheArgs(
                    settings=s.redis,
                    password=_secret(s.secrets.redis_password),
                    admin_password=_secret(s.secrets.redis_admin_password),
                    connection=(
                        ssh_connection(s, s.redis.ssh_host or s.redis.host, s.redis.host_key)
                        if s.redis.manage_acl
                        else None
                    ),
                    key_patterns=redis_key_patterns(s),
                    channels=litellm_channel_patterns(s.cache_namespace),
                ),
                opts=child,
            )
            redis_password = cache.password
            depends.append(cache)

        # ---- config.yaml (no secrets: os.environ/ references only) ------------------------
        self.config_yaml = render_litellm_config_yaml(s)

        env_values: dict[str, pulumi.Input[str]] = {
            "LITELLM_MASTER_KEY": self.master_key,
            "LITELLM_SALT_KEY": salt_key,
            "REDIS_PASSWORD": redis_password,
        }
        if self.database_url is not None:
            # hosts and pods: the URL naming their own copy of postgres.ca_cert (ca_files)
            env_values["DATABASE_URL"] = (
                self._database_url_for(ca_files(s).postgres) if self._database_url_for is not None else self.database_url
            )
        for env_name, value in s.secrets.env_secrets.items():
            env_values[env_name] = pulumi.Output.secret(value.get_secret_value())
        # The Admin UI's own password and SSO client secret (config.admin_ui; secret_env_names keeps
        # only the ones the stack uses).
        if s.secrets.ui_password is not None:
            env_values["UI_PASSWORD"] = pulumi.Output.secret(s.secrets.ui_password.get_secret_value())
        if s.secrets.ui_sso_client_secret is not None and s.admin_ui.sso is not None:
            env_values[SSO_SECRET_ENV[s.admin_ui.sso.provider]] = pulumi.Output.secret(
                s.secrets.ui_sso_client_secret.get_secret_value())
        wanted = set(secret_env_names(s))
        env_values = {k: v for k, v in env_values.items() if k in wanted}

        # ---- TLS and DNS, then the hosts -------------------------------------------------------
        self.ca_bundle_pem = None
        hosts: list[LiteLLMHost] = []
        if s.litellm.deploy == "kubernetes":  # pods instead of hosts (s.litellm.hosts is empty)
            cluster = LiteLLMKubernetes(
                f"{name}-k8s",
                LiteLLMKubernetesArgs(settings=s, env_values=env_values, tls_ca_private_key=_secret(s.secrets.tls_ca_key)),
                opts=pulumi.ResourceOptions(parent=self, depends_on=depends),
            )
            self.ca_bundle_pem = cluster.ca_bundle_pem
            hosts.append(cluster)  # type: ignore[arg-type] - the admin objects wait for it as for hosts
        pending: list[tuple] = []  # (host, its dependencies, its TLS files): built after the front door
        dns_resources: dict[str, DnsRecord] = {}  # record name (relative to the zone) -> its resource
        service_cname: Optional[tuple] = None  # the service name -> front door record, made after the front door serves
        host_aliases = {h.name: [pulumi.Alias(name=f"{name}-{old}") for old in h.renamed_from] for h in s.litellm.hosts}
        for index, host in enumerate(s.litellm.hosts):
            host_depends = list(depends)
            tls_files = None
            if s.tls.enabled:
                dns_names = [s.fqdn(host.name), host.name]
                # Behind a front door the public name is the front door's alone: a proxy's certificate
                # naming it would let that proxy (or its stolen key) pass as the whole service.
                if s.litellm.service_name and not s.has_front_door:
                    dns_names.append(s.service_fqdn)
                if s.litellm.deploy == "local":
                    dns_names.append("localhost")
                cert = self._certificate(
                    f"{name}-{host.name}-tls",
                    s,
                    common_name=s.fqdn(host.name) if s.litellm.deploy == "ssh" else host.name,
                    dns_names=dns_names,
                    address=host.address,
                    aliases=[pulumi.Alias(name=f"{name}-{old}-tls") for old in host.renamed_from],
                )
                tls_files = TlsFiles(cert_pem=cert.cert_pem, private_key_pem=cert.private_key_pem, ca_pem=cert.ca_cert_pem)
                if self.ca_bundle_pem is None:
                    self.ca_bundle_pem = cert.ca_cert_pem
                host_depends.append(cert)
            if s.dns.enabled:
                dns_conn = ssh_connection(s, s.dns.server, s.dns.host_key)  # type: ignore[arg-type]

                def dns_record(resource_name: str, record_name: str, record_type: str, value: str, aliases=(),
                               depends_on: Optional[list] = None) -> DnsRecord:
                    dns_resources[record_name] = DnsRecord(
                        resource_name,
                        DnsRecordArgs(
                            connection=dns_conn,
                            server=s.dns.server,  # type: ignore[arg-type]
                            zone=dns_zone(s),
                            name=record_name,
                            record_type=record_type,
                            value=value,
                            admin_user=s.dns.admin_user,
                            admin_password=_secret(s.secrets.dns_admin_password),
                            auth=s.dns.auth,
                        ),
                        opts=pulumi.ResourceOptions(parent=self, aliases=list(aliases), depends_on=depends_on),
                    )
                    return dns_resources[record_name]

                records = [dns_record(f"{name}-{host.name}-a", zone_relative_name(s, host.name), "A", host.address,
                                      [pulumi.Alias(name=f"{name}-{old}-a") for old in host.renamed_from])]
                if index == 0 and s.has_front_door:
                    # the service name points at the front door, never at one proxy
                    fd = s.front_door
                    records.append(dns_record(f"{name}-{fd.name}-a", zone_relative_name(s, fd.name), "A", fd.address))
                    if s.litellm.service_name and s.litellm.service_name != fd.name:
                        # created below, once the front door serves (1 -> 2 hosts: the name moves
                        # from host 1 to the front door only after it reloaded and every host's
                        # rollout re-enabled it there, i.e. every server is UP)
                        service_cname = (dns_record, f"{name}-{s.litellm.service_name}-cname",
                                         zone_relative_name(s, s.litellm.service_name), s.fqdn(fd.name))
                elif index == 0 and s.litellm.service_name and s.litellm.service_name != host.name:
                    records.append(
                        dns_record(f"{name}-{s.litellm.service_name}-cname", zone_relative_name(s, s.litellm.service_name), "CNAME",
                                   s.fqdn(host.name))
                    )
                host_depends.extend(records)

            pending.append((host, host_depends, tls_files))

        # ---- the front door (several hosts), then the hosts, each restarting after the previous ----
        front_door: Optional[FrontDoor] = None
        if s.has_front_door:
            front_door = self._front_door(name, s, [t for _, _, t in pending if t is not None])
        previous: Optional[pulumi.Resource] = None
        rollouts: list[pulumi.Resource] = []
        for host, host_depends, tls_files in pending:
            built = LiteLLMHost(
                f"{name}-{host.name}",
                LiteLLMHostArgs(
                    settings=s,
                    host=host,
                    connection=ssh_connection(s, host.address, host.host_key) if s.litellm.deploy == "ssh" else None,
                    config_yaml=self.config_yaml,
                    env_values=env_values,
                    tls=tls_files,
                    restart_after=previous,
                    front_door=front_door,
                    previous_names=[f"{name}-{old}" for old in host.renamed_from],
                    database_url_for=self._database_url_for,
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=host_depends, aliases=host_aliases[host.name]),
            )
            hosts.append(built)
            previous = built.rollout_done
            rollouts.append(built.rollout_done)
        if service_cname is not None and front_door is not None:
            make, resource_name, record_name, target = service_cname
            # the front door runs its current config and every host's rollout (also with rollout.mode
            # parallel) re-enabled it there: the name moves only to an endpoint whose servers are all UP
            make(resource_name, record_name, "CNAME", target, depends_on=[front_door.service, *rollouts])

        self.base_url = pulumi.Output.from_input(base_url(s))
        self.ui_url = self.base_url.apply(lambda u: f"{u}/ui")
        self.docs_url = self.base_url.apply(lambda u: f"{u}/docs")
        self.health_url = self.base_url.apply(lambda u: f"{u}/health/readiness")

        # ---- objects inside the proxy, after every host is ready ------------------------------
        # The admin calls verify the proxy's certificate against the stack's CA (None without TLS);
        # the URL they use follows from the same stack config as base_url (rendering.host_files).
        # They also wait for the DNS records the gateway's URL resolves through when the stack writes
        # them: with a front door the service name's CNAME is made only after every host's rollout,
        # while the hosts' rollouts alone would let them run before it (rendering.dns_records).
        admin_dns: list[pulumi.Resource] = []
        if s.dns.enabled:
            for record in admin_url_records(s):
                if record.name not in dns_resources:
                    raise ValueError(f"stack '{s.stack}': the gateway URL resolves through DNS record "
                                     f"'{record.name}', which the stack does not write")
                admin_dns.append(dns_resources[record.name])
        after_ready = pulumi.ResourceOptions(parent=self, depends_on=[*hosts, *admin_dns])
        used_adoptions: set[str] = set()

        def adopt(resource_name: str) -> Optional[str]:
            if resource_name in args.adopt:
                used_adoptions.add(resource_name)
                return args.adopt[resource_name]
            return None

        if s.litellm.model_source == "api":
            for m in s.models:
                entry = deployment_entry(m)
                Model(
                    f"{name}-model-{m.id}",
                    ModelArgs(
                        model_id=m.id,
                        model_name=entry["model_name"],
                        litellm_params=entry["litellm_params"],
                        model_info=admin_model_info(m),
                        ca_bundle_pem=self.ca_bundle_pem,
                        adopt_id=adopt(f"{name}-model-{m.id}"),
                    ),
                    opts=after_ready,
                )
        teams: dict[str, Team] = {}
        for t in s.teams:
            teams[t.team_id] = Team(
                f"{name}-team-{t.team_id}",
                TeamArgs(
                    team_id=t.team_id,
                    team_alias=t.alias,
                    models=list(t.models) or None,
                    max_budget=t.max_budget,
                    budget_duration=t.budget_duration,
                    rpm_limit=t.rpm_limit,
                    tpm_limit=t.tpm_limit,
                    metadata=dict(t.metadata) or None,
                    ca_bundle_pem=self.ca_bundle_pem,
                    adopt_id=adopt(f"{name}-team-{t.team_id}"),
                ),
                opts=after_ready,
            )
        self.key_values = {}
        for k in s.keys:
            adopted = adopt(f"{name}-key-{k.alias}")
            key = VirtualKey(
                f"{name}-key-{k.alias}",
                VirtualKeyArgs(
                    key_alias=k.alias,
                    # through the Team's output, so the key is created after (deleted before) it
                    team_id=teams[k.team].team_id if k.team else None,
                    models=list(k.models) or None,
                    max_budget=k.max_budget,
                    budget_duration=k.budget_duration,
                    rpm_limit=k.rpm_limit,
                    tpm_limit=k.tpm_limit,
                    expires=k.expires.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if k.expires else None,
                    # an adopted key keeps the metadata it has on the proxy (offline.adopt wrote it)
                    metadata=(dict(k.metadata) or None) if adopted else {"service": k.service, **k.metadata},
                    rotation_trigger=rotation_trigger(k, now),
                    rotation_grace=k.rotation_grace or s.key_defaults.rotation_grace,
                    ca_bundle_pem=self.ca_bundle_pem,
                    adopt_id=adopted,
                ),
                opts=after_ready,
            )
            # A rotation of an adopted key creates a new one whose value is known from then on.
            self.key_values[k.service] = pulumi.Output.secret(
                key.key.apply(lambda value: value or ADOPTED_KEY_OUTPUT) if adopted else key.key
            )
        unknown = sorted(set(args.adopt) - used_adoptions)
        if unknown:
            raise ValueError(
                f"config/imports/{s.stack}.yaml names resources this stack does not declare: {', '.join(unknown)} "
                "(a model, team or key must be in the catalog to be adopted)"
            )

        self.register_outputs(
            {
                "base_url": self.base_url,
                "ui_url": self.ui_url,
                "docs_url": self.docs_url,
                "health_url": self.health_url,
                "master_key": pulumi.Output.secret(self.master_key),
                "config_sha256": hashlib.sha256(self.config_yaml.encode()).hexdigest(),
            }
        )


    def _certificate(
        self,
        resource_name: str,
        s: GatewaySettings,
        *,
        common_name: str,
        dns_names: list[str],
        address: Optional[str],
        aliases: Optional[list[pulumi.Alias]] = None,
    ) -> TlsCertificate:
        """A server certificate from the stack's TLS settings (issuer, CA, validity, key algorithm).
        issuer provided: the operator's chain and key, the same for every call (checked at config time
        to name everything each call asks for, config.tls_provided)."""
        provided = {}
        if s.tls.issuer == "provided":
            assert s.secrets.tls_cert_chain is not None and s.secrets.tls_key is not None
            problems, material = check_provided(s.secrets.tls_cert_chain.get_secret_value(),
                                                s.secrets.tls_key.get_secret_value(), required_names(s))
            if material is None:
                raise ValueError("; ".join(f"{key}: {message}" for key, message in problems))
            provided = {"provided_chain_pem": material.chain_pem, "provided_top_pem": material.top_pem,
                        "provided_key_pem": _secret(s.secrets.tls_key)}
        return TlsCertificate(
            resource_name,
            TlsCertificateArgs(
                common_name=common_name,
                dns_names=list(dict.fromkeys(dns_names)),
                ip_addresses=[address] if address and is_ip_address(address) else [],
                issuer=s.tls.issuer,
                ca_cert_pem=s.tls_ca_cert,
                ca_private_key_pem=_secret(s.secrets.tls_ca_key),
                validity_hours=s.tls.validity_hours,
                early_renewal_hours=s.tls.early_renewal_hours,
                key_algorithm=s.tls.key_algorithm,
                **provided,
            ),
            opts=pulumi.ResourceOptions(parent=self, aliases=aliases or None),
        )

    def _front_door(self, name: str, s: GatewaySettings, host_tls: list[TlsFiles]) -> FrontDoor:
        fd_tls = None
        if s.tls.enabled:
            fd = s.front_door
            local = s.litellm.deploy == "local"
            address = fd.address or ("127.0.0.1" if local else None)
            names = [s.service_fqdn, s.fqdn(fd.name), fd.name] + (["localhost"] if local else [])
            cert = self._certificate(
                f"{name}-{fd.name}-tls", s, common_name=s.service_fqdn if not local else fd.name, dns_names=names, address=address
            )
            # Self-signed proxies are each their own CA: the bundle holds every one (deduplicated),
            # and during a CA rotation the CA being replaced (tls.previous_ca_cert, docs/runbook.md).
            previous = [s.tls.previous_ca_cert] if s.tls.previous_ca_cert else []
            bundle = pulumi.Output.all(*[t.ca_pem for t in host_tls], *previous).apply(
                lambda pems: "".join(p.rstrip("\n") + "\n" for p in dict.fromkeys(pems))
            )
            self.ca_bundle_pem = cert.ca_cert_pem  # clients (and the admin providers) meet the front door
            fd_tls = FrontDoorTls(cert_pem=cert.cert_pem, private_key_pem=cert.private_key_pem, proxies_ca_pem=bundle)
        connection = ssh_connection(s, s.front_door.address, s.front_door.host_key) if s.litellm.deploy == "ssh" else None  # type: ignore[arg-type]
        return FrontDoor(
            f"{name}-frontdoor",
            FrontDoorArgs(settings=s, connection=connection, tls=fd_tls),
            opts=pulumi.ResourceOptions(parent=self),
        )


def redis_key_patterns(s: GatewaySettings) -> list[str]:
    """Keys the gateway's Redis user may touch: everything LiteLLM writes for this gateway lives
    under `<namespace>:` (response cache, router usage/cooldowns and coordination state: the
    rendered config gives the router and the coordination Redis the same namespace). The whole
    keyspace only when the stack says the Redis is this gateway's alone (redis.dedicated)."""
    if s.redis.dedicated:
        return ["*"]
    return [namespace_key_pattern(s.cache_namespace)]
