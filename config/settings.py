"""The validated shape of one litellm-gateway stack: every section, composed.

Everything a stack says is checked once, at the edge (`config.loader.load_settings`), and
components receive these frozen models instead of raw config. Pure: no Pulumi imports.

Each section is its own module with its model and its own checks (`config.litellm_settings`,
`config.postgres_settings`, `config.redis_settings`, `config.dns_settings`, `config.tls_settings`,
`config.front_door`, `config.kubernetes_settings`, `config.catalog`, `config.key_defaults`,
`config.observability`, `config.secret_settings`); the shared field types are `config.fields`.
This module composes them and adds the facts derived from several sections; the checks across
sections are `config.cross_checks`.
"""

from __future__ import annotations

from typing import Annotated, Optional

from pydantic import AfterValidator, Field, ValidationInfo, model_validator

from config import checks, litellm_model_schema

from config.admin_ui import AdminUiSettings
from config.catalog import ModelDeployment, RoutingSettings, TeamSpec, VirtualKeySpec
from config.cross_checks import gateway_problems
from config.dns_settings import DnsSettings
from config.fields import CrossCheckError, DnsLabel, DnsName, StrictModel, env_ref_name
from config.front_door import FrontDoorSettings, RolloutSettings
from config.host_env import GATEWAY_ENV_VARS
from config.key_defaults import KeyDefaults
from config.kubernetes_settings import KubernetesSettings
from config.litellm_settings import LiteLLMSettings, SshSettings
from config.observability import ALERTING_ENV_VARS, CALLBACK_ENV_VARS, ObservabilitySettings
from config.postgres_settings import PostgresSettings
from config.redis_settings import CacheSettings, RedisSettings
from config.secret_settings import GatewaySecrets
from config.tls_settings import TlsSettings


class GatewaySettings(StrictModel):
    stack: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,100}$")]
    environment: DnsLabel
    domain: DnsName
    # Protect stateful resources (database, salt key) from deletion; default: all but local.
    protect: Optional[bool] = None
    ssh: SshSettings = Field(default_factory=SshSettings)
    litellm: LiteLLMSettings
    postgres: PostgresSettings
    redis: RedisSettings
    cache: CacheSettings = Field(default_factory=CacheSettings)
    dns: DnsSettings = Field(default_factory=DnsSettings)
    tls: TlsSettings = Field(default_factory=TlsSettings)
    models: list[ModelDeployment] = Field(default_factory=list)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    teams: list[TeamSpec] = Field(default_factory=list)
    keys: list[VirtualKeySpec] = Field(default_factory=list)
    key_defaults: KeyDefaults = Field(default_factory=KeyDefaults)
    observability: ObservabilitySettings = Field(default_factory=ObservabilitySettings)
    secrets: GatewaySecrets = Field(default_factory=GatewaySecrets)
    # The TLS CA certificate (public) for issuer internal-ca.
    tls_ca_cert: Optional[Annotated[str, AfterValidator(checks.check_pem_certificates)]] = None
    # A deliberate salt-key rotation: its reason (components.salt_guard). Each distinct value
    # authorizes one change of the salt key's fingerprint; without it a change is refused.
    salt_key_rotation: Optional[Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[ -~]+$")]] = None
    # Several hosts: the HAProxy front door, and how restarts roll (config/front_door.py).
    front_door: FrontDoorSettings = Field(default_factory=FrontDoorSettings)
    rollout: RolloutSettings = Field(default_factory=RolloutSettings)
    # Earlier values of `environment` (aliases: the rename is an in-place update).
    previous_environments: list[DnsLabel] = Field(default_factory=list)
    # litellm.deploy: kubernetes (config/kubernetes_settings.py).
    kubernetes: Optional[KubernetesSettings] = None
    # LiteLLM's Admin UI: off, or on with its own login (config/admin_ui.py).
    admin_ui: AdminUiSettings = Field(default_factory=AdminUiSettings)

    # ---- derived facts components use -------------------------------------------------------

    @property
    def protected(self) -> bool:
        return self.protect if self.protect is not None else self.environment != "local"

    @property
    def public_model_names(self) -> list[str]:
        """Public names in catalog order, each once."""
        return list(dict.fromkeys(m.model_name for m in self.models))

    @property
    def router_shares_state(self) -> bool:
        """Several proxy processes (hosts, or workers of one host: each has its own Router) must
        share rpm/tpm usage and cooldowns through Redis, or each enforces the limits alone."""
        if self.litellm.deploy == "kubernetes" and self.kubernetes is not None:
            return self.kubernetes.max_replicas > 1
        # a lone host kept behind the front door shares it too, and so does a lone ssh host when the
        # stack has Redis: going 1 <-> 2 hosts leaves its config alone (a changed config restarts
        # the only host while the service name still points at it)
        return (len(self.litellm.hosts) > 1 or self.litellm.workers > 1 or self.has_front_door
                or (self.litellm.deploy == "ssh" and self.redis.enabled))

    @property
    def cache_enabled(self) -> bool:
        return self.cache.enabled and self.redis.enabled

    @property
    def cache_namespace(self) -> str:
        """The prefix of every key LiteLLM writes in Redis for this gateway."""
        return self.cache.namespace or f"litellm.{self.environment}.cache"

    @property
    def manages_admin_objects(self) -> bool:
        return bool(self.teams or self.keys or (self.models and self.litellm.model_source == "api"))

    @property
    def has_front_door(self) -> bool:
        """More than one host (or one local host with frontDoor.with_one_host): clients reach the
        proxies through the HAProxy front door."""
        return len(self.litellm.hosts) > 1 or (
            len(self.litellm.hosts) == 1 and self.litellm.deploy == "local" and self.front_door.with_one_host)

    def fqdn(self, host_name: str) -> str:
        return f"{host_name}.{self.domain}"

    @property
    def service_fqdn(self) -> str:
        name = self.litellm.service_name or self.litellm.hosts[0].name
        return self.fqdn(name)

    def referenced_env_vars(self) -> list[str]:
        """Every os.environ/NAME the host must define, in a stable order."""
        names: list[str] = []
        for m in self.models:
            if m.api_key:
                names.append(env_ref_name(m.api_key))  # type: ignore[arg-type]
            names.extend(litellm_model_schema.env_references(m.litellm_params))
        for cb in self.observability.callbacks:
            names.extend(CALLBACK_ENV_VARS.get(cb, ()))
        for channel in self.observability.alerting.channels:
            names.extend(ALERTING_ENV_VARS.get(channel, ()))
        return list(dict.fromkeys(n for n in names if n not in GATEWAY_ENV_VARS))

    # ---- cross-checks ------------------------------------------------------------------------

    @model_validator(mode="after")
    def _cross_checks(self, info: ValidationInfo) -> "GatewaySettings":
        problems = gateway_problems(self, (info.context or {}).get("now") if info else None)
        if problems:
            raise CrossCheckError(problems)
        return self
