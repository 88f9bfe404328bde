"""Stack settings of the catalog: model deployments, routing, teams and virtual keys. Pure.

Checks between catalog entries (duplicate ids, fallbacks and team models naming catalog models,
fallback cycles) are in `config.cross_checks`; key defaults (`keyDefaults`) are `config.key_defaults`.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from typing import Annotated, Any, Literal, Optional

from pydantic import AfterValidator, Field, ValidationInfo, field_validator, model_validator

from config import checks, litellm_model_schema
from config.cli_values import parse_go_time
from config.fields import Duration, EnvRef, ModelName, NonNegativeFloat, PositiveInt, StrictModel, check_host_or_ip, env_ref_name
from config.admin_ui import UI_SECRET_ENV_NAMES
from config.host_env import GATEWAY_ENV_VARS
from config.key_defaults import GraceDuration

_DEPLOYMENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")

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
# What a deployment must never send upstream as a credential: the gateway's own secrets and the
# Admin UI's.
GATEWAY_SECRET_ENV = GATEWAY_ENV_VARS | UI_SECRET_ENV_NAMES


class ModelDeployment(StrictModel):
    """One upstream deployment behind a public model name. Several with one name are replicas."""

    id: str
    model_name: str = Field(description="the public name clients ask for")
    provider: Provider
    model: str = Field(description="the upstream model name, e.g. llama3.2 or gpt-4o")
    api_base: Optional[str] = None
    # os.environ/NAME of a provider key (never one of GATEWAY_ENV_VARS: see _provider_rules).
    api_key: Optional[EnvRef] = None
    credential_name: Optional[ModelName] = None
    rpm: Optional[PositiveInt] = None
    tpm: Optional[PositiveInt] = None
    timeout: Optional[Annotated[float, Field(gt=0)]] = None
    # simple-shuffle picks replicas in proportion to weight.
    weight: Optional[PositiveInt] = None
    max_tokens: Optional[PositiveInt] = None
    # More of LiteLLM's litellm_params (keep_alive, num_ctx, stream_timeout, order, tags,
    # api_version...) and its model_info (mode, base_model, costs, max_tokens...), checked against the
    # pinned release's own types (config.litellm_model_schema).
    litellm_params: dict[str, Any] = Field(default_factory=dict)
    model_info: dict[str, Any] = Field(default_factory=dict)

    @field_validator("litellm_params")
    @classmethod
    def _litellm_params(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        provider = info.data.get("provider")
        if provider is None:
            return value  # the provider's own error is reported
        return litellm_model_schema.check_params(
            value, provider, provider in OLLAMA_PROVIDERS, GATEWAY_SECRET_ENV
        )

    @field_validator("model_info")
    @classmethod
    def _model_info(cls, value: dict[str, Any]) -> dict[str, Any]:
        return litellm_model_schema.check_info(value)

    @property
    def mode(self) -> str:
        """How /health probes it (LiteLLM's default without model_info.mode: chat)."""
        return str(self.model_info.get("mode", "chat"))

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not _DEPLOYMENT_ID.fullmatch(value):
            raise ValueError("expected an id of letters, digits and . _ : - (at most 128)")
        return value

    @field_validator("model_name", "model")
    @classmethod
    def _model_names(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return checks.check_model_name(value)

    @field_validator("api_base")
    @classmethod
    def _http_url(cls, value: Optional[str]) -> Optional[str]:
        return None if value is None else checks.check_http_url(value, host_check=check_host_or_ip)

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
        if self.api_key and env_ref_name(self.api_key) in GATEWAY_SECRET_ENV:
            raise ValueError(
                f"api_key {self.api_key} is one of the gateway's own secrets "
                f"({', '.join(sorted(GATEWAY_SECRET_ENV))}): LiteLLM would send it to the model's "
                "upstream as its credential; put the provider's key in "
                "`pulumi config set --secret --path envSecrets.<NAME>` and use os.environ/<NAME>"
            )
        return self

    @property
    def litellm_model(self) -> str:
        prefix = "openai" if self.provider == "openai_compatible" else self.provider
        return f"{prefix}/{self.model}"


class ProxyBudget(StrictModel):
    max_budget: NonNegativeFloat
    budget_duration: Duration = "30d"


class RoutingSettings(StrictModel):
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


class TeamSpec(StrictModel):
    team_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    alias: Optional[Annotated[str, AfterValidator(checks.check_display_name)]] = None
    models: list[ModelName] = Field(default_factory=list)
    max_budget: Optional[NonNegativeFloat] = None
    budget_duration: Optional[Duration] = None
    rpm_limit: Optional[PositiveInt] = None
    tpm_limit: Optional[PositiveInt] = None
    metadata: dict[str, str | int | float | bool] = Field(default_factory=dict)


class VirtualKeySpec(StrictModel):
    alias: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    # The consuming service; its key is exported as output `keys.<service>`.
    service: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
    team: Optional[Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]] = None
    models: list[ModelName] = Field(default_factory=list)
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
    # How long the rotated-out key keeps working (default: keyDefaults.rotation_grace).
    rotation_grace: Optional[GraceDuration] = None

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


def expired_keys(keys: list[VirtualKeySpec], now: datetime) -> list[VirtualKeySpec]:
    """The declared keys whose `expires` has passed at `now`: LiteLLM refuses them (401). Kept in the
    stack (their resources stay; a new environment refuses to create them) and reported by the render."""
    return [k for k in keys if k.expires is not None and k.expires <= now]
