"""Convert an existing LiteLLM `config.yaml` into litellm-gateway stack config:
`python -m offline.adopt --stack NAME --from-config config.yaml` prints the `config:` entries to merge
into Pulumi.<stack>.yaml, and names every part that has no equivalent (refused, with the reason).

model_list -> models; router_settings -> routing (+ redis host/port); litellm_settings -> cache,
observability (callbacks, proxy budget, json logs), routing fallbacks; general_settings -> model_source,
alerting, pool and batch settings. Secrets are never copied: an `os.environ/NAME` reference says which
secret config to set; a literal secret in the file is refused (and should be rotated). Each converted
model and the routing table are validated with the catalog's own models before they are printed.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

import yaml
from pydantic import ValidationError

from config.catalog import ModelDeployment, Provider, RoutingSettings
from config.loader import PROJECT
from config.observability import ObservabilitySettings

PROVIDERS = set(Provider.__args__)  # type: ignore[attr-defined]
MODEL_PARAMS = {"api_base": "api_base", "api_key": "api_key", "litellm_credential_name": "credential_name",
                "rpm": "rpm", "tpm": "tpm", "timeout": "timeout", "weight": "weight", "max_tokens": "max_tokens"}
ROUTER_KEYS = {"routing_strategy": "strategy", "num_retries": "num_retries", "timeout": "timeout",
               "allowed_fails": "allowed_fails", "cooldown_time": "cooldown_time"}
FALLBACK_KEYS = ("fallbacks", "context_window_fallbacks", "content_policy_fallbacks")
CALLBACKS = {"prometheus", "langfuse"}
_SLUG = re.compile(r"[^A-Za-z0-9._:-]+")


@dataclass
class Converted:
    config: dict[str, Any] = field(default_factory=dict)  # "litellm-gateway:<key>" -> value
    secrets: list[str] = field(default_factory=list)  # secret config to set, with where it came from
    refused: list[str] = field(default_factory=list)  # "<path>: <why>"

    def section(self, key: str) -> dict[str, Any]:
        return self.config.setdefault(f"{PROJECT}:{key}", {})


def _env_name(value: Any) -> Optional[str]:
    return value[len("os.environ/"):] if isinstance(value, str) and value.startswith("os.environ/") else None


def _fallback_table(path: str, value: Any, out: Converted) -> Optional[dict[str, list[str]]]:
    """LiteLLM's list of one-key maps -> the stack's map."""
    if isinstance(value, Mapping):
        return {str(k): list(v) for k, v in value.items()}
    if not isinstance(value, list):
        out.refused.append(f"{path}: expected a list of {{model: [fallbacks]}} maps")
        return None
    table: dict[str, list[str]] = {}
    for i, item in enumerate(value):
        if not isinstance(item, Mapping) or len(item) != 1:
            out.refused.append(f"{path}[{i}]: expected a one-key map {{model: [fallbacks]}}")
            continue
        (source, targets), = item.items()
        table[str(source)] = [str(t) for t in (targets if isinstance(targets, list) else [targets])]
    return table


def _models(model_list: Any, out: Converted) -> list[dict[str, Any]]:
    models: list[dict[str, Any]] = []
    ids: set[str] = set()
    for i, entry in enumerate(model_list or []):
        path = f"model_list[{i}]"
        if not isinstance(entry, Mapping):
            out.refused.append(f"{path}: not a mapping")
            continue
        for extra in sorted(set(entry) - {"model_name", "litellm_params", "model_info"}):
            out.refused.append(f"{path}.{extra}: no equivalent")
        params = dict(entry.get("litellm_params") or {})
        provider, _, upstream = str(params.pop("model", "")).partition("/")
        if provider not in PROVIDERS or not upstream:
            out.refused.append(f"{path}: litellm_params.model {provider + '/' + upstream!r}: provider {provider!r} has no equivalent (model left out)")
            continue
        info = dict(entry.get("model_info") or {})
        model_id = str(info.pop("id", "") or _SLUG.sub("-", f"{provider}-{upstream}").strip("-"))
        base_id, n = model_id, 2
        while model_id in ids:
            model_id, n = f"{base_id}-{n}", n + 1
        ids.add(model_id)
        for extra in sorted(info):
            out.refused.append(f"{path}.model_info.{extra}: no equivalent")
        model: dict[str, Any] = {"id": model_id, "model_name": entry.get("model_name"), "provider": provider, "model": upstream}
        skip = False
        for name, value in params.items():
            if name not in MODEL_PARAMS:
                out.refused.append(f"{path}.litellm_params.{name}: no equivalent")
                continue
            if name == "api_key":
                env = _env_name(value)
                if env is None:
                    out.refused.append(f"{path}.litellm_params.api_key: a literal secret in the file (model left out): "
                                       "rotate it, set it with `pulumi config set --secret --path envSecrets.NAME` "
                                       "and use os.environ/NAME")
                    skip = True
                    break
                out.secrets.append(f"envSecrets.{env} (from {path}.litellm_params.api_key)")
            model[MODEL_PARAMS[name]] = value
        if skip:
            continue
        try:
            ModelDeployment.model_validate(model)
        except ValidationError as exc:
            out.refused.append(f"{path}: " + "; ".join(e["msg"] for e in exc.errors()) + " (model left out)")
            continue
        models.append(model)
    return models


def _redis(path: str, host: Any, port: Any, password: Any, out: Converted) -> None:
    redis = out.section("redis")
    if host is not None:
        redis["host"] = host
    if port is not None:
        redis["port"] = int(port)
    if password is not None:
        env = _env_name(password)
        if env is None:
            out.refused.append(f"{path}: a literal Redis password in the file: rotate it and set it with "
                               "`pulumi config set --secret redisPassword`")
        elif "redisPassword" not in " ".join(out.secrets):
            out.secrets.append(f"redisPassword (from {path}, os.environ/{env})")


def convert(document: Mapping[str, Any]) -> Converted:
    out = Converted()
    for extra in sorted(set(document) - {"model_list", "router_settings", "litellm_settings", "general_settings"}):
        why = "secrets go in `pulumi config set --secret --path envSecrets.NAME`" if extra == "environment_variables" else "no equivalent"
        out.refused.append(f"{extra}: {why}")
    models = _models(document.get("model_list"), out)
    if models:
        out.config[f"{PROJECT}:models"] = models

    routing: dict[str, Any] = {}
    router = dict(document.get("router_settings") or {})
    for name, value in router.items():
        path = f"router_settings.{name}"
        if name in ROUTER_KEYS:
            routing[ROUTER_KEYS[name]] = value
        elif name in FALLBACK_KEYS:
            table = _fallback_table(path, value, out)
            if table:
                routing[name] = table
        elif name in ("redis_host", "redis_port", "redis_password"):
            continue
        else:
            out.refused.append(f"{path}: no equivalent")
    if {"redis_host", "redis_port", "redis_password"} & set(router):
        _redis("router_settings.redis_*", router.get("redis_host"), router.get("redis_port"), router.get("redis_password"), out)

    observability: dict[str, Any] = {}
    lset = dict(document.get("litellm_settings") or {})
    callbacks: list[str] = []
    for name, value in lset.items():
        path = f"litellm_settings.{name}"
        if name == "drop_params":
            if value is not True:
                out.refused.append(f"{path}: {value!r}: the gateway always drops unsupported params (true)")
        elif name == "json_logs":
            observability["json_logs"] = bool(value)
        elif name == "cache":
            out.section("cache")["enabled"] = bool(value)
        elif name == "cache_params":
            params = dict(value or {})
            if params.get("type", "redis") != "redis":
                out.refused.append(f"{path}.type: {params.get('type')!r}: only a Redis cache has an equivalent")
                continue
            if "ttl" in params:
                out.section("cache")["ttl_seconds"] = int(params["ttl"])
            _redis(path, params.get("host"), params.get("port"), params.get("password"), out)
            for extra in sorted(set(params) - {"type", "ttl", "host", "port", "password"}):
                why = "derived from the stack (cache.namespace sets it)" if extra == "namespace" else "no equivalent"
                out.refused.append(f"{path}.{extra}: {why}")
        elif name in ("callbacks", "success_callback", "failure_callback"):
            for cb in value if isinstance(value, list) else [value]:
                if cb in CALLBACKS:
                    callbacks.append(cb)
                else:
                    out.refused.append(f"{path}: callback {cb!r} has no equivalent (known: {', '.join(sorted(CALLBACKS))})")
        elif name == "max_budget":
            observability.setdefault("proxy_budget", {})["max_budget"] = value
        elif name == "budget_duration":
            observability.setdefault("proxy_budget", {})["budget_duration"] = value
        elif name in ("num_retries",) and "num_retries" not in routing:
            routing["num_retries"] = value
        elif name == "request_timeout" and "timeout" not in routing:
            routing["timeout"] = value
        elif name in FALLBACK_KEYS and name not in routing:
            table = _fallback_table(path, value, out)
            if table:
                routing[name] = table
        elif name == "require_auth_for_metrics_endpoint" and value is True:
            continue  # the gateway states it whenever /metrics exists
        else:
            out.refused.append(f"{path}: no equivalent")
    if callbacks:
        observability["callbacks"] = list(dict.fromkeys(callbacks))

    litellm: dict[str, Any] = {}
    gset = dict(document.get("general_settings") or {})
    alerting: dict[str, Any] = {}
    for name, value in gset.items():
        path = f"general_settings.{name}"
        if name == "master_key":
            if _env_name(value) is None:
                out.refused.append(f"{path}: a literal master key in the file: rotate it and set it with "
                                   "`pulumi config set --secret masterKey`")
            else:
                out.secrets.append(f"masterKey (from {path}, {value})")
        elif name == "database_url":
            out.refused.append(f"{path}: the URL is built from `litellm-gateway:postgres` (host, port, database, role) "
                               "and the role's generated password: declare that section instead")
        elif name == "store_model_in_db":
            litellm["model_source"] = "api" if value else "config"
        elif name in ("database_connection_pool_limit", "proxy_batch_write_at"):
            litellm[name] = value
        elif name == "alerting":
            alerting["channels"] = list(value or [])
        elif name == "alert_types":
            alerting["alert_types"] = list(value or [])
        elif name == "alerting_threshold":
            alerting["slow_threshold_seconds"] = int(value)
        elif name == "allow_requests_on_db_unavailable":
            # LiteLLM reads a bool or a truthy string (db/exception_handler.py, str_to_bool)
            admit = value is True or str(value).strip().lower() in ("true", "1", "yes", "on")
            litellm["database_outage"] = "admit_any_key" if admit else "refuse"
        elif name == "coordination_redis":
            cr = dict(value or {})
            _redis(path, cr.get("host"), cr.get("port"), cr.get("password"), out)
        else:
            out.refused.append(f"{path}: no equivalent")
    if "slack" in alerting.get("channels", []):
        out.secrets.append("envSecrets.SLACK_WEBHOOK_URL (general_settings.alerting: slack)")
    if alerting:
        observability["alerting"] = alerting
    if routing:
        try:
            RoutingSettings.model_validate(routing)
            out.config[f"{PROJECT}:routing"] = routing
        except ValidationError as exc:
            out.refused.append("routing: " + "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))
    if observability:
        try:
            ObservabilitySettings.model_validate(observability)
            out.config[f"{PROJECT}:observability"] = observability
        except ValidationError as exc:
            out.refused.append("observability: " + "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))
    if litellm:
        out.config[f"{PROJECT}:litellm"] = litellm
    return out


def render(converted: Converted, stack: str, source: str) -> str:
    lines = [
        f"# Converted from {source} by `python -m offline.adopt --stack {stack} --from-config`.",
        f"# Merge into Pulumi.{stack}.yaml (litellm-gateway:litellm is partial: add deploy, hosts, ...).",
    ]
    if converted.secrets:
        lines.append("# Secret config to set (`pulumi config set --secret ...`), never in this file:")
        lines += [f"#   {s}" for s in dict.fromkeys(converted.secrets)]
    if converted.refused:
        lines.append("# Refused (no equivalent in the stack config, left out):")
        lines += [f"#   {r}" for r in converted.refused]
    body = yaml.safe_dump({"config": converted.config}, sort_keys=False, default_flow_style=False, width=100)
    return "\n".join(lines) + "\n" + body


def convert_file(path: Path, stack: str) -> int:
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        print(f"adopt: cannot read {path}: {exc}", file=sys.stderr)
        return 2
    if not isinstance(document, Mapping):
        print(f"adopt: {path} is not a LiteLLM config (expected a mapping)", file=sys.stderr)
        return 2
    converted = convert(document)
    print(render(converted, stack, str(path)), end="")
    for line in converted.refused:
        print(f"refused: {line}", file=sys.stderr)
    return 0
