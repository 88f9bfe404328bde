"""Where the providers find the admin URL and master key, inside the dynamic-provider process.

Never on the provider object (it is pickled into every resource's state) and never a resource input:
`configure()` hands the stack config to `remember_stack_config`, which keeps the two values in a
process-local module variable; the environment is the fallback. Importing this module has no effect.
"""

from __future__ import annotations

import os
from typing import Any

from .client import AdminEndpoint

ADMIN_URL_CONFIG_KEY = "litellm-gateway:adminUrl"
MASTER_KEY_CONFIG_KEY = "litellm-gateway:masterKey"
ADMIN_URL_ENV = "LITELLM_GATEWAY_ADMIN_URL"
MASTER_KEY_ENV = "LITELLM_GATEWAY_MASTER_KEY"
# Optional tuning for slow proxies (seconds).
TIMEOUT_ENV = "LITELLM_GATEWAY_ADMIN_TIMEOUT"
BACKOFF_ENV = "LITELLM_GATEWAY_ADMIN_BACKOFF_SECONDS"

# Filled by configure() in the provider process; module state is not part of a pickled provider
# (the provider classes are pickled by reference to their module).
_stack_settings: dict[str, str] = {}


class AdminSettingsMissing(RuntimeError):
    pass


def remember_stack_config(config: Any) -> None:
    """Keep the admin URL and master key from a `pulumi.dynamic.Config` (secrets arrive as plain strings)."""
    for key in (ADMIN_URL_CONFIG_KEY, MASTER_KEY_CONFIG_KEY):
        value = config.get(key)
        if isinstance(value, str) and value:
            _stack_settings[key] = value


def forget_stack_config() -> None:
    _stack_settings.clear()


def admin_endpoint() -> AdminEndpoint:
    base_url = _stack_settings.get(ADMIN_URL_CONFIG_KEY) or os.environ.get(ADMIN_URL_ENV)
    master_key = _stack_settings.get(MASTER_KEY_CONFIG_KEY) or os.environ.get(MASTER_KEY_ENV)
    missing = []
    if not base_url:
        missing.append(f"the admin URL (stack config `{ADMIN_URL_CONFIG_KEY}` or environment variable {ADMIN_URL_ENV})")
    if not master_key:
        missing.append(
            f"the master key (secret stack config `{MASTER_KEY_CONFIG_KEY}`, e.g. "
            f"`pulumi config set --secret masterKey ...`, or environment variable {MASTER_KEY_ENV})"
        )
    if missing:
        raise AdminSettingsMissing("LiteLLM admin API settings are missing: " + "; ".join(missing))
    options: dict[str, float] = {}
    if os.environ.get(TIMEOUT_ENV):
        options["timeout"] = float(os.environ[TIMEOUT_ENV])
    if os.environ.get(BACKOFF_ENV):
        options["backoff_seconds"] = float(os.environ[BACKOFF_ENV])
    return AdminEndpoint(base_url=base_url, master_key=master_key, **options)
