"""The validated shape of one litellm-gateway stack.

Everything a stack says is checked here once, at the edge (`config.loader.load_settings`), and
components receive these frozen models instead of raw config. Pure: no Pulumi imports.

Strictness is deliberate: every model forbids unknown keys, because a YAML typo that is silently
ignored (LiteLLM's own `litellm_settings` accepts anything) is how gateways end up without the
budget or cache their owners think they have.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import date, datetime, timezone
from typing import Annotated, Literal, Optional

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from config import checks
from config.cli_values import parse_go_time

# The LiteLLM release deployed to hosts, and the one the tests boot (requirements-test.txt pins the
# same; tests/config/test_pins.py keeps them equal). Exact on purpose: 1.107.0 was pulled from PyPI
# after a supply-chain compromise, so a range could install a bad release.
PINNED_LITELLM_VERSION = "1.108.7"

# Environment variables the gateway itself fills in the host's env file. Config may reference them
# as os.environ/NAME without declaring them in envSecrets.
GATEWAY_ENV_VARS = frozenset(
    {"LITELLM_MASTER_KEY", "LITELLM_SALT_KEY", "DATABASE_URL", "REDIS_PASSWORD"}
)

ENV_REF_PREFIX = "os.environ/"
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_DNS_NAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")
_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_DEPLOYMENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_DURATION = re.compile(r"^[0-9]+(s|m|h|d|w|mo)$")
_VERSION = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+([.-]?(post|rc|a|b)[0-9]+)?$")
# Versions that must never be deployed (pulled from PyPI after a supply-chain compromise).
BLOCKED_LITELLM_VERSIONS = frozenset({"1.107.0"})

from config.kubernetes_settings import KubernetesSettings, kubernetes_problems  # noqa: E402

# Strings that look like credentials: refused anywhere in plain (non-secret) config.
_SECRET_LOOKING = [
    re.compile(r"^sk-[A-Za-z0-9_\-]{16,}$"),
    re.compile(r"^sk-ant-[A-Za-z0-9_\-]{16,}$"),
    re.compile(r"^xox[abprs]-[A-Za-z0-9-]{10,}$"),
    re.compile(r"^https://hooks\.slack\.com/services/\S+$"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"^(pk|sk)-lf-[A-Za-z0-9-]{8,}$"),
]


def looks_like_secret(value: str) -> bool:
    return any(p.search(value) for p in _SECRET_LOOKING)


def env_ref_name(value: str) -> Optional[str]:
    """`os.environ/NAME` -> NAME; anything else -> None."""
    if value.startswith(ENV_REF_PREFIX):
        return value[len(ENV_REF_PREFIX):]
    return None


def _env_reference(value: str) -> str:
    name = env_ref_name(value)
    if name is None:
        raise ValueError(
            "a credential must be a reference 'os.environ/NAME' (its value set with "
            "`pulumi config set --secret --path envSecrets.NAME`), never a literal value"
        )
    if not _ENV_NAME.fullmatch(name):
        raise ValueError(f"'{name}' is not a valid environment variable name (A-Z, 0-9, _)")
    return value


def _dns_label(value: str) -> str:
    if not _DNS_LABEL.fullmatch(value):
        raise ValueError("expected a lower-case DNS label (a-z, 0-9, '-', at most 63 characters)")
    return value


def _dns_name(value: str) -> str:
    if not _DNS_NAME.fullmatch(value):
        raise ValueError("expected a lower-case DNS name such as 'hx.dev.local'")
    return value


def is_ip_address(value: str) -> bool:
    """An IPv4 or IPv6 address (not a host name)."""
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        return False


def _host_or_ip(value: str) -> str:
    if not is_ip_address(value) and not _DNS_NAME.fullmatch(value):
        raise ValueError("expected a host name or an IP address")
    return value


def _sql_identifier(value: str) -> str:
    if not _IDENT.fullmatch(value):
        raise ValueError("expected a lower-case SQL identifier (a-z, 0-9, _; at most 63 characters)")
    return value


def _duration(value: str) -> str:
    if not _DURATION.fullmatch(value):
        raise ValueError("expected a LiteLLM duration such as '30s', '1h', '7d', '1mo'")
    if checks.zero_duration(value):
        raise ValueError("a zero duration is refused by LiteLLM (400); use at least '1s', e.g. '30d'")
    return value


EnvRef = Annotated[str, AfterValidator(_env_reference)]
DnsLabel = Annotated[str, AfterValidator(_dns_label)]
DnsName = Annotated[str, AfterValidator(_dns_name)]
HostOrIp = Annotated[str, AfterValidator(_host_or_ip)]
SqlIdentifier = Annotated[str, AfterValidator(_sql_identifier)]
Duration = Annotated[str, AfterValidator(_duration)]
# A host path (safe characters; absolute where the deploy needs it, checked with the deploy mode).
HostPath = Annotated[str, AfterValidator(lambda v: checks.check_path(v, absolute=False))]
AlertType = Annotated[str, AfterValidator(checks.check_alert_type)]
Port = Annotated[int, Field(ge=1, le=65535)]
PositiveInt = Annotated[int, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]


class _Strict(BaseModel):
    # coerce_numbers_to_str: `pulumi config set --path x.name 123` stores a number (the CLI's
    # `coerce`, see config/cli_values.py); a string setting takes it as the text the user typed.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False, coerce_numbers_to_str=True)


# --------------------------------------------------------------------------------------------
# Infrastructure
# --------------------------------------------------------------------------------------------


class SshSettings(_Strict):
    """How Pulumi's command provider reaches the hosts (key from secret config sshPrivateKey)."""

    user: str = "root"
    port: Port = 22

    @field_validator("user")
    @classmethod
    def _user_name(cls, value: str) -> str:
        return checks.check_login_user(value)


class LiteLLMHostSpec(_Strict):
    name: DnsLabel
    address: HostOrIp


class LiteLLMSettings(_Strict):
    # ssh: remote.Command over SSH to each host; local: local.Command on the machine running pulumi;
    # kubernetes: pods of a Deployment (config.kubernetes_settings, components.kubernetes).
    deploy: Literal["ssh", "local", "kubernetes"] = "ssh"
    version: str = PINNED_LITELLM_VERSION
    port: Port = 4000
    bind_host: HostOrIp = "0.0.0.0"
    workers: Annotated[int, Field(ge=1, le=64)] = 2
    # Required for ssh and local (checked below); absent for kubernetes. The default is not validated,
    # so an explicit empty list is still "at least 1 item".
    hosts: Annotated[list[LiteLLMHostSpec], Field(min_length=1)] = Field(default_factory=list)
    # A CNAME <service_name>.<domain> for the first host, the name consumers use.
    service_name: Optional[DnsLabel] = None
    # A dedicated account the layout step creates: not root, not the SSH user, not a system account.
    system_user: str = "litellm"
    # Absolute for deploy: ssh; relative paths (to the project directory) only for deploy: local.
    install_dir: HostPath = "/opt/litellm"
    config_dir: HostPath = "/etc/litellm"
    # Where deployments live: "config" renders them into config.yaml (restart to change, no DB
    # needed); "api" creates them through the admin API as Model resources (needs the database and
    # STORE_MODEL_IN_DB) so a change is a hot update with an exact preview.
    model_source: Literal["config", "api"] = "config"
    # Per-worker Prisma pool; LiteLLM's default (10) times workers must fit the role's limit.
    database_connection_pool_limit: Annotated[int, Field(ge=1, le=100)] = 10
    proxy_batch_write_at: Annotated[int, Field(ge=1)] = 60
    readiness_timeout_seconds: Annotated[int, Field(ge=5, le=1800)] = 180

    @field_validator("version")
    @classmethod
    def _known_good_version(cls, value: str) -> str:
        if not _VERSION.fullmatch(value):
            raise ValueError("expected an exact LiteLLM release such as '1.108.7' (no ranges)")
        if value in BLOCKED_LITELLM_VERSIONS:
            raise ValueError(f"LiteLLM {value} was pulled from PyPI after a supply-chain compromise")
        return value

    @field_validator("system_user")
    @classmethod
    def _service_user(cls, value: str) -> str:
        return checks.check_service_user(value)

    @model_validator(mode="after")
    def _unique_hosts(self) -> "LiteLLMSettings":
        if self.deploy != "kubernetes" and not self.hosts:
            raise CrossCheckError([("litellm.hosts", f"required for litellm.deploy: {self.deploy} (at least one host)")])
        names = [h.name for h in self.hosts]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"host names must be unique; repeated: {', '.join(dupes)}")
        return self


class PostgresSettings(_Strict):
    enabled: bool = True
    host: HostOrIp
    port: Port = 5432
    admin_user: str = "postgres"
    admin_database: str = "postgres"
    sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] = "prefer"
    database: SqlIdentifier = "litellm"
    role: SqlIdentifier = "litellm"
    connection_limit: Annotated[int, Field(ge=1, le=10000)] = 50
    # Whether the admin password comes from secret config (postgresAdminPassword). Off only for a
    # server with trust/peer authentication (the local stack).
    admin_password_required: bool = True


def _redis_user(value: Optional[str]) -> Optional[str]:
    return None if value is None else checks.check_redis_user(value)


class RedisSettings(_Strict):
    enabled: bool = True
    host: HostOrIp
    port: Port = 6379
    # An ACL user for the gateway; None = the default user.
    user: Annotated[Optional[str], AfterValidator(_redis_user)] = None
    tls: bool = False
    # Create/rotate the ACL user with `ACL SETUSER` over SSH on the Redis host (password generated
    # unless redisPassword is set). Off: the server is someone else's; redisPassword is used if set.
    manage_acl: bool = False
    # The host redis-cli runs on for manage_acl; defaults to `host`.
    ssh_host: Optional[HostOrIp] = None

    @model_validator(mode="after")
    def _acl_needs_user(self) -> "RedisSettings":
        if self.manage_acl and not self.user:
            raise ValueError("manage_acl needs 'user' (the ACL user to create)")
        if self.manage_acl and self.user == "default":
            raise ValueError(
                "manage_acl would reset Redis's 'default' user (every client without a user name "
                "logs in as it); set user to a dedicated name such as 'litellm'"
            )
        return self


class CacheSettings(_Strict):
    """LiteLLM's response cache in Redis (litellm_settings.cache / cache_params)."""

    enabled: bool = True
    ttl_seconds: Annotated[int, Field(ge=1)] = 600
    namespace: Annotated[Optional[str], AfterValidator(lambda v: None if v is None else checks.check_namespace(v))] = None


class DnsSettings(_Strict):
    enabled: bool = False
    # The Samba AD domain controller that runs samba-tool (reached over SSH).
    server: Optional[HostOrIp] = None
    zone: Optional[DnsName] = None
    admin_user: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._@\\$-]{0,255}$")] = "Administrator"
    # authfile: password from secret config dnsAdminPassword, written to a 0600 file for `-A`;
    # kerberos: an existing ccache on the DC (`--use-kerberos=required`).
    auth: Literal["authfile", "kerberos"] = "authfile"
    # No TTL setting on purpose: `samba-tool dns add` cannot set one (records get its default, 900 s),
    # and a setting that is silently not applied is worse than none.

    @model_validator(mode="after")
    def _server_when_enabled(self) -> "DnsSettings":
        if self.enabled and not self.server:
            raise ValueError("'server' (the Samba AD domain controller) is required when enabled")
        return self


class TlsSettings(_Strict):
    enabled: bool = False
    # internal-ca: signed by the environment's CA (tlsCaCert + secret tlsCaKey);
    # self-signed: a CA generated in the stack (local and throwaway stacks).
    issuer: Literal["internal-ca", "self-signed"] = "self-signed"
    validity_hours: Annotated[int, Field(ge=24)] = 24 * 365
    early_renewal_hours: Annotated[int, Field(ge=1)] = 24 * 30
    key_algorithm: Literal["RSA", "ECDSA"] = "ECDSA"
    cert_dir: HostPath = "/etc/litellm/tls"
    # TLS off on an ssh deploy sends the master key (admin API) and every virtual key over the
    # network in clear: refused unless this says so explicitly.
    allow_plaintext: bool = False

    @model_validator(mode="after")
    def _renewal_inside_validity(self) -> "TlsSettings":
        if self.early_renewal_hours >= self.validity_hours:
            raise ValueError("early_renewal_hours must be shorter than validity_hours")
        return self


# --------------------------------------------------------------------------------------------
# Catalog: models, routing, teams, keys
# --------------------------------------------------------------------------------------------

Provider = Literal[
    "ollama_chat",
    "ollama",
    "openai",
    "anthropic",
    "azure",
    "bedrock",
    "vertex_ai",
    "gemini",
    "mistral",
    "groq",
    "hosted_vllm",
    "openai_compatible",
]
OLLAMA_PROVIDERS = frozenset({"ollama_chat", "ollama"})


class ModelDeployment(_Strict):
    """One upstream deployment behind a public model name. Several with one name are replicas."""

    id: str
    model_name: str = Field(description="the public name clients ask for")
    provider: Provider
    model: str = Field(description="the upstream model name, e.g. llama3.2 or gpt-4o")
    api_base: Optional[str] = None
    # os.environ/NAME of a provider key (never one of GATEWAY_ENV_VARS: see _provider_rules).
    api_key: Optional[EnvRef] = None
    credential_name: Optional[str] = None
    rpm: Optional[PositiveInt] = None
    tpm: Optional[PositiveInt] = None
    timeout: Optional[Annotated[float, Field(gt=0)]] = None
    # simple-shuffle picks replicas in proportion to weight.
    weight: Optional[PositiveInt] = None
    max_tokens: Optional[PositiveInt] = None

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not _DEPLOYMENT_ID.fullmatch(value):
            raise ValueError("expected an id of letters, digits and . _ : - (at most 128)")
        return value

    @field_validator("model_name", "model")
    @classmethod
    def _non_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("api_base")
    @classmethod
    def _http_url(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not re.fullmatch(r"https?://[^\s/]+[^\s]*", value):
            raise ValueError("expected an http(s) URL such as http://hx-ollama-server:11434")
        return value

    @model_validator(mode="after")
    def _provider_rules(self) -> "ModelDeployment":
        if self.provider in OLLAMA_PROVIDERS and not self.api_base:
            # Without api_base LiteLLM tries to run `ollama serve` on the proxy host itself.
            raise ValueError("an Ollama deployment needs 'api_base' (e.g. http://host:11434)")
        if self.provider == "openai_compatible" and not self.api_base:
            raise ValueError("an openai_compatible deployment needs 'api_base'")
        if self.api_key and self.credential_name:
            raise ValueError("give either 'api_key' or 'credential_name', not both")
        if self.credential_name is not None and env_ref_name(self.credential_name) is not None:
            # LiteLLM resolves os.environ/ in every litellm_params string: only api_key may be one.
            raise ValueError(
                "credential_name is the name of a credential stored in LiteLLM, not an os.environ/ "
                "reference; put an environment reference in api_key instead"
            )
        if self.api_key and env_ref_name(self.api_key) in GATEWAY_ENV_VARS:
            raise ValueError(
                f"api_key {self.api_key} is one of the gateway's own secrets "
                f"({', '.join(sorted(GATEWAY_ENV_VARS))}): LiteLLM would send it to the model's "
                "upstream as its credential; put the provider's key in "
                "`pulumi config set --secret --path envSecrets.<NAME>` and use os.environ/<NAME>"
            )
        return self

    @property
    def litellm_model(self) -> str:
        prefix = "openai" if self.provider == "openai_compatible" else self.provider
        return f"{prefix}/{self.model}"


class ProxyBudget(_Strict):
    max_budget: NonNegativeFloat
    budget_duration: Duration = "30d"


class RoutingSettings(_Strict):
    strategy: Literal[
        "simple-shuffle",
        "least-busy",
        "usage-based-routing",
        "usage-based-routing-v2",
        "latency-based-routing",
        "cost-based-routing",
    ] = "simple-shuffle"
    num_retries: Annotated[int, Field(ge=0, le=10)] = 2
    timeout: Annotated[float, Field(gt=0)] = 120.0
    allowed_fails: Annotated[int, Field(ge=0)] = 3
    cooldown_time: Annotated[float, Field(ge=0)] = 30.0
    # public name -> ordered public names to try when it fails
    fallbacks: dict[str, list[str]] = Field(default_factory=dict)
    context_window_fallbacks: dict[str, list[str]] = Field(default_factory=dict)
    content_policy_fallbacks: dict[str, list[str]] = Field(default_factory=dict)

    @field_validator("fallbacks", "context_window_fallbacks", "content_policy_fallbacks", mode="before")
    @classmethod
    def _fallback_shape(cls, value: object) -> object:
        # The classic mistake `[{model: a, fallback: b}]` (or LiteLLM's own list-of-one-key-maps
        # form): say exactly what we expect instead of a generic type error.
        if isinstance(value, list):
            raise ValueError(
                "expected a map of public model name -> list of fallback names, e.g. "
                "{llama3.2: [gpt-4o]}; the list form (e.g. [{model: a, fallback: b}]) is not accepted"
            )
        if isinstance(value, dict):
            for name, targets in value.items():
                if not isinstance(targets, list):
                    raise ValueError(
                        f"fallbacks for '{name}' must be a list of model names, e.g. [{targets!r}]"
                    )
        return value


class TeamSpec(_Strict):
    team_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    alias: Optional[str] = None
    models: list[str] = Field(default_factory=list)
    max_budget: Optional[NonNegativeFloat] = None
    budget_duration: Optional[Duration] = None
    rpm_limit: Optional[PositiveInt] = None
    tpm_limit: Optional[PositiveInt] = None
    metadata: dict[str, str | int | float | bool] = Field(default_factory=dict)


class VirtualKeySpec(_Strict):
    alias: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    # The consuming service; its key is exported as output `keys.<service>`.
    service: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
    team: Optional[str] = None
    models: list[str] = Field(default_factory=list)
    max_budget: Optional[NonNegativeFloat] = None
    budget_duration: Optional[Duration] = None
    rpm_limit: Optional[PositiveInt] = None
    tpm_limit: Optional[PositiveInt] = None
    # An absolute expiry (stored and diffed; re-sending a duration would extend the key).
    expires: Optional[datetime] = None
    metadata: dict[str, str | int | float | bool] = Field(default_factory=dict)
    # Replace the key (create-before-delete) every N days, or whenever rotation_trigger changes.
    rotate_after_days: Optional[Annotated[int, Field(ge=1, le=3650)]] = None
    rotation_trigger: Optional[str] = None

    @field_validator("expires", mode="before")
    @classmethod
    def _date_is_midnight_utc(cls, value: object) -> object:
        # What the Pulumi CLI sends for an unquoted YAML date: Go's time.Time.String().
        if isinstance(value, str) and parse_go_time(value) is not None:
            return parse_go_time(value)
        if isinstance(value, date) and not isinstance(value, datetime):
            return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
        return value

    @field_validator("expires")
    @classmethod
    def _aware(cls, value: Optional[datetime]) -> Optional[datetime]:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value


class AlertingSettings(_Strict):
    # slack needs envSecrets.SLACK_WEBHOOK_URL; email needs SMTP_* in envSecrets.
    channels: list[Literal["slack", "email"]] = Field(default_factory=list)
    alert_types: list[AlertType] = Field(default_factory=list)


class ObservabilitySettings(_Strict):
    # LiteLLM callbacks, e.g. prometheus (/metrics), langfuse (needs LANGFUSE_* in envSecrets).
    callbacks: list[Literal["prometheus", "langfuse"]] = Field(default_factory=list)
    alerting: AlertingSettings = Field(default_factory=AlertingSettings)
    proxy_budget: Optional[ProxyBudget] = None
    json_logs: bool = True


CALLBACK_ENV_VARS: dict[str, tuple[str, ...]] = {
    # LANGFUSE_HOST (a self-hosted Langfuse) may be added to envSecrets too: every envSecrets entry
    # reaches the host's env file.
    "langfuse": ("LANGFUSE_PUBLIC_KEY", "LANGFUSE_SECRET_KEY"),
}
# What a host must install besides litellm[proxy] for each callback: litellm[proxy] does not pull
# them (they sit in its `proxy-runtime` extra) and the proxy exits at startup without them. Exact
# pins inside LiteLLM's own ranges, each booted with the pinned proxy.
CALLBACK_PACKAGES: dict[str, tuple[str, ...]] = {
    "prometheus": ("prometheus-client==0.26.0",),
    "langfuse": ("langfuse==4.18.0",),
}
ALERTING_ENV_VARS: dict[str, tuple[str, ...]] = {
    "slack": ("SLACK_WEBHOOK_URL",),
    "email": ("SMTP_HOST", "SMTP_USERNAME", "SMTP_PASSWORD", "SMTP_SENDER_EMAIL"),
}


# --------------------------------------------------------------------------------------------
# Secrets (only ever from Pulumi secret config)
# --------------------------------------------------------------------------------------------


class GatewaySecrets(_Strict):
    """Values that only come from `pulumi config set --secret`. SecretStr keeps them out of reprs."""

    master_key: Optional[SecretStr] = None
    salt_key: Optional[SecretStr] = None
    postgres_admin_password: Optional[SecretStr] = None
    redis_password: Optional[SecretStr] = None
    ssh_private_key: Optional[SecretStr] = None
    dns_admin_password: Optional[SecretStr] = None
    tls_ca_key: Optional[SecretStr] = None
    # NAME -> value for every os.environ/NAME the rendered config references.
    env_secrets: dict[str, SecretStr] = Field(default_factory=dict)

    @field_validator("master_key")
    @classmethod
    def _sk_prefix(cls, value: Optional[SecretStr]) -> Optional[SecretStr]:
        if value is not None and not value.get_secret_value().startswith("sk-"):
            raise ValueError("LiteLLM requires the master key to start with 'sk-'")
        return value

    @field_validator("env_secrets", mode="before")
    @classmethod
    def _numbers_as_text(cls, value: object) -> object:
        # `pulumi config set --path envSecrets.X 123` without --secret stores a number.
        if isinstance(value, dict):
            return {k: str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v for k, v in value.items()}
        return value

    @field_validator("env_secrets")
    @classmethod
    def _env_names(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        bad = [k for k in value if not _ENV_NAME.fullmatch(k)]
        if bad:
            raise ValueError(f"not valid environment variable names (A-Z, 0-9, _): {', '.join(repr(b) for b in sorted(bad))}")
        return value


# --------------------------------------------------------------------------------------------
# The stack
# --------------------------------------------------------------------------------------------


class GatewaySettings(_Strict):
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
    observability: ObservabilitySettings = Field(default_factory=ObservabilitySettings)
    secrets: GatewaySecrets = Field(default_factory=GatewaySecrets)
    # The TLS CA certificate (public) for issuer internal-ca.
    tls_ca_cert: Optional[str] = None
    # litellm.deploy: kubernetes (config/kubernetes_settings.py).
    kubernetes: Optional[KubernetesSettings] = None

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
        return len(self.litellm.hosts) > 1 or self.litellm.workers > 1

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
        for cb in self.observability.callbacks:
            names.extend(CALLBACK_ENV_VARS.get(cb, ()))
        for channel in self.observability.alerting.channels:
            names.extend(ALERTING_ENV_VARS.get(channel, ()))
        return list(dict.fromkeys(n for n in names if n not in GATEWAY_ENV_VARS))

    # ---- cross-checks ------------------------------------------------------------------------

    @model_validator(mode="after")
    def _cross_checks(self, info: ValidationInfo) -> "GatewaySettings":
        problems: list[tuple[str, str]] = []
        names = set(self.public_model_names)

        for i in sorted(_repeats([m.id for m in self.models])):
            m = self.models[i]
            problems.append((f"models[{i}].id", f"duplicate deployment id '{m.id}'"))

        for field_name in ("fallbacks", "context_window_fallbacks", "content_policy_fallbacks"):
            table: dict[str, list[str]] = getattr(self.routing, field_name)
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

        team_ids = [t.team_id for t in self.teams]
        repeated_team_ids = _repeats(team_ids)
        for i, team in enumerate(self.teams):
            if i in repeated_team_ids:
                problems.append((f"teams[{i}].team_id", f"duplicate team id '{team.team_id}'"))
            for m in team.models:
                if m not in names:
                    problems.append((f"teams[{i}].models", f"'{m}' is not a model in the catalog ({_known(names)})"))

        repeated_aliases = _repeats([k.alias for k in self.keys])
        repeated_services = _repeats([k.service for k in self.keys])
        for i, key in enumerate(self.keys):
            if i in repeated_aliases:
                problems.append((f"keys[{i}].alias", f"duplicate key alias '{key.alias}'"))
            if i in repeated_services:
                problems.append((f"keys[{i}].service", f"duplicate service '{key.service}' (one key per service)"))
            if key.team is not None and key.team not in team_ids:
                problems.append((f"keys[{i}].team", f"'{key.team}' is not a team in the catalog ({_known(set(team_ids))})"))
            allowed = names
            if key.team is not None and key.team in team_ids:
                team = self.teams[team_ids.index(key.team)]
                if team.models:
                    allowed = set(team.models)
            for m in key.models:
                if m not in names:
                    problems.append((f"keys[{i}].models", f"'{m}' is not a model in the catalog ({_known(names)})"))
                elif m not in allowed:
                    problems.append((f"keys[{i}].models", f"'{m}' is not allowed for team '{key.team}' ({_known(allowed)})"))

        if self.cache.enabled and not self.redis.enabled:
            problems.append(("cache.enabled", "the response cache needs redis.enabled: true"))
        if self.router_shares_state and not self.redis.enabled and self.litellm.deploy != "kubernetes":
            problems.append(("litellm", "several hosts or workers share router state through Redis: enable redis (or use one worker on one host)"))
        if self.litellm.model_source == "api" and not self.postgres.enabled:
            problems.append(("litellm.model_source", "'api' stores models in the database: enable postgres"))
        if (self.teams or self.keys) and not self.postgres.enabled:
            problems.append(("keys", "teams and virtual keys live in the database: enable postgres"))
        if self.dns.enabled and self.litellm.deploy == "local":
            problems.append(("dns.enabled", "DNS records are for ssh-deployed hosts; turn DNS off for a local deploy"))
        problems.extend(_where_values_land(self, (info.context or {}).get("now") if info else None))
        problems.extend(kubernetes_problems(self))

        if problems:
            raise CrossCheckError(problems)
        return self


def _where_values_land(s: GatewaySettings, now: Optional[datetime]) -> list[tuple[str, str]]:
    """Checks across sections for values that reach a host, a unit, Redis or an upstream (issue 9).
    `now` is the loader's clock (config.loader.load_settings; tests pin it)."""
    problems: list[tuple[str, str]] = []
    now = now or datetime.now(timezone.utc)
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

    if s.postgres.enabled:
        pool = lit.workers * lit.database_connection_pool_limit * len(lit.hosts)
        if pool > s.postgres.connection_limit:
            problems.append(("postgres.connection_limit", (
                f"{lit.workers} workers x {lit.database_connection_pool_limit} connections "
                f"(litellm.database_connection_pool_limit) x {len(lit.hosts)} host(s) = {pool} exceeds "
                f"connection_limit {s.postgres.connection_limit}; raise postgres.connection_limit to at least "
                f"{pool} or lower litellm.workers / litellm.database_connection_pool_limit")))

    for i, key in enumerate(s.keys):
        if key.expires is not None and key.expires <= now:
            problems.append((f"keys[{i}].expires", (
                f"{key.expires.isoformat()} is in the past (now {now.replace(microsecond=0).isoformat()}): "
                "LiteLLM would create a key that is already expired; set a future date or remove expires")))

    secrets = s.secrets
    reserved = GATEWAY_ENV_VARS | checks.host_env_names()
    for name in sorted(secrets.env_secrets):
        if name in reserved:
            problems.append((f"envSecrets.{name}", (
                f"{name} is set by the gateway itself in the host's env file; an envSecrets entry would "
                "replace it: remove it (`pulumi config rm --path envSecrets.{name}`)".replace("{name}", name))))
        if checks.breaks_lines(secrets.env_secrets[name].get_secret_value()):
            problems.append((f"envSecrets.{name}", (
                "the value contains a line break or NUL, which the env file cannot hold (value not shown); "
                f"set it again on one line: `pulumi config set --secret --path 'envSecrets.{name}' <value>`")))
    for key, field_name in (("masterKey", "master_key"), ("saltKey", "salt_key"),
                            ("redisPassword", "redis_password"), ("dnsAdminPassword", "dns_admin_password")):
        value = getattr(secrets, field_name)
        if value is not None and checks.breaks_lines(value.get_secret_value()):
            problems.append((key, (
                "the value contains a line break or NUL, which the file it is written to cannot hold "
                f"(value not shown); set it again on one line: `pulumi config set --secret {key} <value>`")))
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


class CrossCheckError(ValueError):
    """Several located problems at once; the loader turns each into a message with its path."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{p}: {m}" for p, m in problems))
