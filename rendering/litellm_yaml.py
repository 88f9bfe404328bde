"""GatewaySettings -> the LiteLLM proxy's config.yaml. Pure: no Pulumi imports.

Rules the pinned LiteLLM (see PINNED_LITELLM_VERSION) imposes, and that hand-written configs get
wrong, are encoded here once:
- `router_settings.fallbacks` is a list of one-key maps `[{"llama3.2": ["gpt-4o"]}]`
  (Router.validate_fallbacks); `[{model: a, fallback: b}]` makes the proxy exit at startup.
- `database_url` belongs in `general_settings` (under `litellm_settings` it is silently ignored).
- Secrets are `os.environ/NAME` references resolved on the host from its env file, so the rendered
  file holds none and can be reviewed, diffed and stored in plain text.
- Every Ollama deployment carries `api_base` (without it LiteLLM tries to run `ollama serve`).
- A deployment's extra `litellm_params` / `model_info` (config.litellm_model_schema) go to config.yaml
  and to the admin API's Model resources alike (`deployment_entry`, `admin_model_info`); `/health`
  probes each deployment the way its `model_info.mode` says (chat when unset).
- Every deployment carries a stable `model_info.id` (otherwise a random uuid per restart, which
  breaks per-deployment cooldowns and spend tracking across restarts).

The output is deterministic: same settings, byte-identical YAML.
"""

from __future__ import annotations

from typing import Any

import yaml

from config.admin_ui import ui_general_settings
from config.catalog import ModelDeployment
from config.observability import metrics_enabled, slow_threshold_seconds
from config.settings import GatewaySettings
from config.host_env import REDIS_CA_ENV
from rendering import db_tls
from rendering.host_files import store_model_in_db_env

MASTER_KEY_REF = "os.environ/LITELLM_MASTER_KEY"
DATABASE_URL_REF = "os.environ/DATABASE_URL"
REDIS_PASSWORD_REF = "os.environ/REDIS_PASSWORD"


def deployment_entry(model: ModelDeployment) -> dict[str, Any]:
    """One model_list entry — also the body the admin API's /model/new receives for model_source api."""
    params: dict[str, Any] = {"model": model.litellm_model}
    if model.api_base:
        params["api_base"] = model.api_base
    if model.api_key:
        params["api_key"] = model.api_key
    if model.credential_name:
        params["litellm_credential_name"] = model.credential_name
    for name in ("rpm", "tpm", "timeout", "weight", "max_tokens"):
        value = getattr(model, name)
        if value is not None:
            params[name] = value
    # The rest of LiteLLM's params, checked against its types (config.litellm_model_schema): they
    # never repeat a key set above.
    params.update(model.litellm_params)
    return {
        "model_name": model.model_name,
        "litellm_params": params,
        "model_info": {"id": model.id, **model.model_info},
    }


def admin_model_info(model: ModelDeployment) -> dict[str, Any] | None:
    """The Model resource's model_info: the declared entries without `id` (the resource sets it from
    model_id). Same entries as config.yaml's, so both sources describe the deployment alike."""
    info = {k: v for k, v in deployment_entry(model)["model_info"].items() if k != "id"}
    return info or None


def _fallback_list(table: dict[str, list[str]]) -> list[dict[str, list[str]]]:
    return [{source: list(targets)} for source, targets in table.items()]


def router_settings(settings: GatewaySettings) -> dict[str, Any]:
    routing = settings.routing
    out: dict[str, Any] = {
        "routing_strategy": routing.strategy,
        "num_retries": routing.num_retries,
        "timeout": routing.timeout,
        "allowed_fails": routing.allowed_fails,
        "cooldown_time": routing.cooldown_time,
    }
    for name in ("fallbacks", "context_window_fallbacks", "content_policy_fallbacks"):
        table = getattr(routing, name)
        if table:
            out[name] = _fallback_list(table)
    if settings.router_shares_state:
        # Several proxies: rpm/tpm usage and cooldowns must be shared or each replica enforces
        # limits alone (N times the intended rate).
        redis = settings.redis
        out["redis_host"] = redis.host
        out["redis_port"] = redis.port
        out["redis_password"] = REDIS_PASSWORD_REF
        # namespace: the router's RedisCache prefixes every key it writes (usage, cooldowns) with
        # it (litellm/caching/redis_cache.py check_and_fix_namespace), so the ACL user stays
        # confined to `<namespace>:*` instead of needing the whole keyspace.
        out["cache_kwargs"] = {**_redis_client_kwargs(settings), "namespace": settings.cache_namespace}
    return out


def coordination_redis(settings: GatewaySettings) -> dict[str, Any]:
    """general_settings.coordination_redis: the Redis LiteLLM uses across workers/hosts (spend
    counters, rate limits, and the pub/sub channels `<namespace>:litellm_proxy.auth_cache_invalidation`
    / `...config_change` that tell every worker about a deleted key or a changed model). Declared
    explicitly with the gateway's namespace so it exists even with the response cache off and its
    keys and channels stay under the namespace (CoordinationRedisParams allows extra params; they
    reach RedisCache(namespace=...))."""
    redis = settings.redis
    return {
        "host": redis.host,
        "port": redis.port,
        "password": REDIS_PASSWORD_REF,
        **_redis_client_kwargs(settings),
        "namespace": settings.cache_namespace,
    }


def _redis_client_kwargs(settings: GatewaySettings) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    if settings.redis.user:
        kwargs["username"] = settings.redis.user
    # TLS: every kwarg stated (rendering/db_tls.py says which LiteLLM/redis-py code reads them);
    # the CA file's path differs per host, so it comes from the env file / pod env.
    kwargs.update(db_tls.redis_tls_kwargs(settings.redis.tls, None))
    if settings.redis.tls and settings.redis.ca_cert:
        kwargs["ssl_ca_certs"] = f"os.environ/{REDIS_CA_ENV}"
    return kwargs


def litellm_settings(settings: GatewaySettings) -> dict[str, Any]:
    obs = settings.observability
    out: dict[str, Any] = {
        # Providers differ in the params they accept; drop unsupported ones instead of failing.
        "drop_params": True,
        "json_logs": obs.json_logs,
    }
    if settings.cache_enabled:
        cache_params: dict[str, Any] = {
            "type": "redis",
            "host": settings.redis.host,
            "port": settings.redis.port,
            "password": REDIS_PASSWORD_REF,
            "ttl": settings.cache.ttl_seconds,
            "namespace": settings.cache_namespace,
        }
        cache_params.update(_redis_client_kwargs(settings))
        out["cache"] = True
        out["cache_params"] = cache_params
    if obs.proxy_budget:
        out["max_budget"] = obs.proxy_budget.max_budget
        out["budget_duration"] = obs.proxy_budget.budget_duration
    callbacks = [c for c in obs.callbacks if c != "langfuse"]
    if callbacks:
        out["callbacks"] = callbacks
    if "langfuse" in obs.callbacks:
        out["success_callback"] = ["langfuse"]
        out["failure_callback"] = ["langfuse"]
    if metrics_enabled(settings):
        # LiteLLM's default already, stated so a changed default cannot open /metrics: scrapes use
        # a key confined to /metrics (config/observability.py).
        out["require_auth_for_metrics_endpoint"] = True
    return out


def general_settings(settings: GatewaySettings) -> dict[str, Any]:
    out: dict[str, Any] = {"master_key": MASTER_KEY_REF}
    if settings.postgres.enabled:
        out["database_url"] = DATABASE_URL_REF
        out["database_connection_pool_limit"] = settings.litellm.database_connection_pool_limit
        out["proxy_batch_write_at"] = settings.litellm.proxy_batch_write_at
        # Stated either way, so LiteLLM's default cannot change what an outage does (config.litellm_settings).
        out["allow_requests_on_db_unavailable"] = settings.litellm.database_outage == "admit_any_key"
    # The env file's STORE_MODEL_IN_DB says the same (rendering.host_files.store_model_in_db_env).
    out["store_model_in_db"] = store_model_in_db_env(settings) == "True"
    if settings.redis.enabled and settings.router_shares_state:
        out["coordination_redis"] = coordination_redis(settings)
    # Admin UI off: no environment credential (nor the master key) signs in at /login (config.admin_ui).
    out.update(ui_general_settings(settings.admin_ui))
    alerting = settings.observability.alerting
    if alerting.channels:
        out["alerting"] = list(alerting.channels)
        if alerting.alert_types:
            out["alert_types"] = list(alerting.alert_types)
        # Without it the proxy uses 600 s, above every timeout: llm_too_slow never fires.
        out["alerting_threshold"] = slow_threshold_seconds(settings)
    return out


def render_litellm_config(settings: GatewaySettings) -> dict[str, Any]:
    """The config.yaml document as a dict (sections in LiteLLM's documented order)."""
    model_list = (
        [deployment_entry(m) for m in settings.models] if settings.litellm.model_source == "config" else []
    )
    return {
        "model_list": model_list,
        "router_settings": router_settings(settings),
        "litellm_settings": litellm_settings(settings),
        "general_settings": general_settings(settings),
    }


def dump_yaml(document: dict[str, Any]) -> str:
    """Stable YAML text: insertion order kept (it is deterministic by construction), no anchors."""

    class _NoAliases(yaml.SafeDumper):
        def ignore_aliases(self, data: Any) -> bool:  # noqa: ARG002 - PyYAML's signature
            return True

    return yaml.dump(document, Dumper=_NoAliases, sort_keys=False, default_flow_style=False, width=100)


def render_litellm_config_yaml(settings: GatewaySettings) -> str:
    env_file = f"{settings.litellm.config_dir.rstrip('/')}/litellm.env"
    if settings.litellm.deploy == "kubernetes":
        env_file = "the pod's environment (its Secret)"
    header = [
        f"# LiteLLM proxy config for stack '{settings.stack}', rendered by litellm-gateway: do not edit on the host.",
        f"# Secrets are os.environ/ references, resolved at startup from {env_file}.",
    ]
    if settings.litellm.model_source == "api":
        header.append("# model_list is empty on purpose: deployments are managed through the admin API (model_source: api).")
    return "\n".join(header) + "\n" + dump_yaml(render_litellm_config(settings))
