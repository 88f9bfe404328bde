"""Stack settings of metrics, logging and alerting, and what the pinned proxy (litellm 1.108.7)
needs of them. Pure: no Pulumi imports.

Each rule below was read in the pinned release's source (site-packages/litellm):

- **Slow-response alerts** (`llm_too_slow`) fire when one LLM call takes longer than
  `general_settings.alerting_threshold` seconds (`SlackAlerting.response_taking_too_long_callback`;
  the same threshold drives the hanging-request check). The proxy reads it in
  `ProxyConfig._load_alerting_settings` as `general_settings.get("alerting_threshold", 600)`: with
  the default, and the router's timeout (`routing.timeout`, 120 s by default) cancelling every call
  long before 600 s, the alert can never fire. `slow_threshold_seconds(settings)` is the declared
  `observability.alerting.slow_threshold_seconds`, or half of `routing.timeout` (rounded up); a
  declared value must be below `routing.timeout` (`config.cross_checks.alerting_problems`). It is an int because the
  proxy's own model of general_settings (`ConfigGeneralSettings.alerting_threshold`) is `int`.

- **`/metrics` is authenticated** by default (`litellm.require_auth_for_metrics_endpoint = True`;
  `PrometheusAuthMiddleware` runs `user_api_key_auth` on `/metrics` and answers 401 without a valid
  key). A virtual key passes only when its `allowed_routes` admit the route
  (`RouteChecks.non_proxy_admin_allowed_routes_check`, then `is_virtual_key_allowed_to_call_route`,
  which also confines such a key to exactly those routes: a chat request with it gets 403). So the
  scrape credential is a dedicated virtual key whose `allowed_routes` is `["/metrics"]` and nothing
  else (`metrics_scrape_key_request`), never the master key; and the renderer states
  `require_auth_for_metrics_endpoint: true` explicitly so a change of LiteLLM's default cannot open
  the endpoint. `prometheus_scrape_config` is the Prometheus side (docs/configuration.md).
"""

from __future__ import annotations

import math
from typing import Any, Literal, Optional

from pydantic import Field

from config.catalog import ProxyBudget
from config.endpoints import base_url
from config.fields import AlertType, PositiveInt, StrictModel

METRICS_ROUTE = "/metrics"
# LiteLLM's default when general_settings has no alerting_threshold (proxy_server.py).
LITELLM_DEFAULT_ALERTING_THRESHOLD = 600
SCRAPE_KEY_SERVICE = "prometheus-scrape"
# Where the scrape key waits on the Prometheus host (a file, so it is never on a command line).
SCRAPE_CREDENTIALS_FILE = "/etc/prometheus/secrets/litellm-scrape.key"


class AlertingSettings(StrictModel):
    # slack needs envSecrets.SLACK_WEBHOOK_URL; email needs SMTP_* in envSecrets.
    channels: list[Literal["slack", "email"]] = Field(default_factory=list)
    alert_types: list[AlertType] = Field(default_factory=list)
    # llm_too_slow / hanging-request threshold (general_settings.alerting_threshold); default: half
    # of routing.timeout, and below it (the module docstring: LiteLLM's own default, 600 s, never fires).
    slow_threshold_seconds: Optional[PositiveInt] = None


class ObservabilitySettings(StrictModel):
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


def slow_threshold_seconds(settings: Any) -> int:
    """`alerting_threshold` for general_settings: declared, or half the router timeout (>= 1 s)."""
    declared = settings.observability.alerting.slow_threshold_seconds
    if declared is not None:
        return int(declared)
    return max(1, math.ceil(settings.routing.timeout / 2))


def metrics_enabled(settings: Any) -> bool:
    return "prometheus" in settings.observability.callbacks


def metrics_scrape_key_alias(settings: Any) -> str:
    return f"{SCRAPE_KEY_SERVICE}-{settings.environment}"


def metrics_scrape_key_request(settings: Any) -> dict[str, Any]:
    """The `/key/generate` body of the dedicated scrape credential: `/metrics` and nothing else.

    `allowed_routes` is what lets a non-admin key through `/metrics` at all and what confines it
    there; setting it needs the master key (`_check_allowed_routes_caller_permission`)."""
    return {
        "key_alias": metrics_scrape_key_alias(settings),
        "allowed_routes": [METRICS_ROUTE],
        "metadata": {"service": SCRAPE_KEY_SERVICE, "purpose": "prometheus scrape of /metrics"},
    }


def prometheus_scrape_config(settings: Any, ca_file: str = "/etc/prometheus/litellm-ca.crt") -> dict[str, Any]:
    """One Prometheus `scrape_configs` entry for this gateway (every host, its own FQDN).

    The bearer credential is read from `SCRAPE_CREDENTIALS_FILE` (`authorization.credentials_file`),
    the scrape key's value (`pulumi stack output metricsScrapeKey --show-secrets`)."""
    targets = []
    for host in settings.litellm.hosts:
        url = base_url(settings, host.name if settings.litellm.deploy == "ssh" else None)
        targets.append(url.split("://", 1)[1])
    job: dict[str, Any] = {
        "job_name": f"litellm-{settings.environment}",
        "scheme": "https" if settings.tls.enabled else "http",
        "metrics_path": METRICS_ROUTE + "/",  # the proxy mounts the exporter at /metrics/ (307 from /metrics)
        "authorization": {"type": "Bearer", "credentials_file": SCRAPE_CREDENTIALS_FILE},
        "static_configs": [{"targets": list(dict.fromkeys(targets))}],
    }
    if settings.tls.enabled:
        job["tls_config"] = {"ca_file": ca_file}
    return job
