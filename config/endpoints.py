"""Where consumers reach the gateway: the one definition of its URL. Pure: no Pulumi imports.

In `config` (not `rendering`) because settings-side helpers need it too (`config.observability`'s
Prometheus targets); the renderers, the components and the admin-API providers import it from here.
"""

from __future__ import annotations

from typing import Any, Optional

from config.litellm_settings import LiteLLMSettings


def gateway_base_url(
    litellm: LiteLLMSettings, tls_enabled: bool, domain: str, host_name: Optional[str] = None
) -> str:
    """How consumers reach the gateway: the service name (or a host's FQDN) on the proxy port.

    The one definition of the gateway URL, from the parts of the stack config it depends on: the
    program (`base_url`) and the admin-API providers (`components.litellm_admin.connection`, which
    only get the raw stack config) both call it. A local deploy is reached on 127.0.0.1 (or the
    specific address it binds); an ssh deploy on `<service_name or first host>.<domain>`.
    """
    scheme = "https" if tls_enabled else "http"
    if litellm.deploy == "kubernetes":
        # The Ingress (config.kubernetes_settings): <service_name>.<domain> on the default port.
        return f"{scheme}://{litellm.service_name or 'litellm'}.{domain}"
    if litellm.deploy == "local":
        name = "127.0.0.1" if litellm.bind_host in ("0.0.0.0", "127.0.0.1") else litellm.bind_host
    else:
        label = host_name or litellm.service_name or litellm.hosts[0].name
        name = f"{label}.{domain}"
    return f"{scheme}://{name}:{litellm.port}"


def base_url(settings: Any, host_name: Optional[str] = None) -> str:
    """`gateway_base_url` for validated settings (a host's own URL with `host_name`)."""
    return gateway_base_url(settings.litellm, settings.tls.enabled, settings.domain, host_name)

