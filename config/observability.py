"""Metrics and alerting as the pinned proxy (litellm 1.108.7) needs them. Pure: no Pulumi imports.

Each rule below was read in the pinned release's source (site-packages/litellm):

- **Slow-response alerts** (`llm_too_slow`) fire when one LLM call takes longer than
  `general_settings.alerting_threshold` seconds (`SlackAlerting.response_taking_too_long_callback`;
  the same threshold drives the hanging-request check). The proxy reads it in
  `ProxyConfig._load_alerting_settings` as `general_settings.get("alerting_threshold", 600)`: with
  the default, and the router's timeout (`routing.timeout`, 120 s by default) cancelling every call
  long before 600 s, the alert can never fire. `slow_threshold_seconds(settings)` is the declared
  `observability.alerting.slow_threshold_seconds`, or half of `routing.timeout` (rounded up); a
  declared value must be below `routing.timeout` (`alerting_problems`). It is an int because the
  proxy's own model of general_settings (`ConfigGeneralSettings.alerting_threshold`) is `int`.

- **`/metrics` is authenticated** by default (`litellm.require_auth_for_metrics_endpoint = True`;
  `PrometheusAuthMiddleware` runs `user_api_key_auth` on `/metrics` and answers 401 without a valid
  key). A virtual key passes only when its `allowed_routes` admit the route
  (`RouteChecks.non_proxy_admin_allowed_routes_check`, then `is_virtual_key_allowed_to_call_route`,
  which also confines such a key to exactly those routes: a chat request with it gets 403). So the
  scrape credential is a dedicated virtual key whose `allowed_routes` is `["/metrics"]` and nothing
  else (`metrics_scrape_key_request`), never the master key; and the renderer states
  `require_auth_for_metrics_endpoint: true` explicitly so a change of LiteLLM's default cannot open
  the endpoint. `prometheus_scrape_config` is the Prometheus side (documented in the README).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - typing only (config.settings imports this module)
    from config.settings import GatewaySettings

METRICS_ROUTE = "/metrics"
# LiteLLM's default when general_settings has no alerting_threshold (proxy_server.py).
LITELLM_DEFAULT_ALERTING_THRESHOLD = 600
SCRAPE_KEY_SERVICE = "prometheus-scrape"
# Where the scrape key waits on the Prometheus host (a file, so it is never on a command line).
SCRAPE_CREDENTIALS_FILE = "/etc/prometheus/secrets/litellm-scrape.key"


def slow_threshold_seconds(settings: "GatewaySettings") -> int:
    """`alerting_threshold` for general_settings: declared, or half the router timeout (>= 1 s)."""
    declared = settings.observability.alerting.slow_threshold_seconds
    if declared is not None:
        return int(declared)
    return max(1, math.ceil(settings.routing.timeout / 2))


def alerting_problems(settings: "GatewaySettings") -> list[tuple[str, str]]:
    """(config path, message) for an alerting setup that cannot work as declared."""
    problems: list[tuple[str, str]] = []
    declared = settings.observability.alerting.slow_threshold_seconds
    if declared is not None and declared >= settings.routing.timeout:
        problems.append(
            (
                "observability.alerting.slow_threshold_seconds",
                f"{declared} s is not below routing.timeout ({settings.routing.timeout:g} s): every call is "
                "cancelled before it could count as slow, so llm_too_slow would never fire; expected a "
                f"number of seconds below {settings.routing.timeout:g} (default: half of routing.timeout)",
            )
        )
    return problems


def metrics_enabled(settings: "GatewaySettings") -> bool:
    return "prometheus" in settings.observability.callbacks


def metrics_scrape_key_alias(settings: "GatewaySettings") -> str:
    return f"{SCRAPE_KEY_SERVICE}-{settings.environment}"


def metrics_scrape_key_request(settings: "GatewaySettings") -> dict[str, Any]:
    """The `/key/generate` body of the dedicated scrape credential: `/metrics` and nothing else.

    `allowed_routes` is what lets a non-admin key through `/metrics` at all and what confines it
    there; setting it needs the master key (`_check_allowed_routes_caller_permission`)."""
    return {
        "key_alias": metrics_scrape_key_alias(settings),
        "allowed_routes": [METRICS_ROUTE],
        "metadata": {"service": SCRAPE_KEY_SERVICE, "purpose": "prometheus scrape of /metrics"},
    }


def prometheus_scrape_config(settings: "GatewaySettings", ca_file: str = "/etc/prometheus/litellm-ca.crt") -> dict[str, Any]:
    """One Prometheus `scrape_configs` entry for this gateway (every host, its own FQDN).

    The bearer credential is read from `SCRAPE_CREDENTIALS_FILE` (`authorization.credentials_file`),
    the scrape key's value (`pulumi stack output metricsScrapeKey --show-secrets`)."""
    from rendering.host_files import base_url

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
