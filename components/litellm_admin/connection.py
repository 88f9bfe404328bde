"""Where the providers find the admin URL, the master key and the CA to trust, inside the dynamic-provider
process.

Never on the provider object (it is pickled into every resource's state) and never a resource input
(except the CA, which is public and may only exist as an output of the stack's TLS component: see
`specs.CA_BUNDLE_FIELD`): `configure()` hands the stack config to `remember_stack_config`, which keeps
the values it needs in a process-local module variable; the environment is the fallback. Importing
this module has no effect.

The admin URL, first found wins:
  1. stack config `litellm-gateway:adminUrl` (an override: e.g. an SSH tunnel),
  2. environment variable LITELLM_GATEWAY_ADMIN_URL,
  3. derived from the stack config the engine passes anyway (`litellm-gateway:litellm`, `:tls`,
     `:domain`), with the very function the program uses for `Gateway.base_url`
     (`config.endpoints.gateway_base_url`), so the two cannot disagree. When the stack does not write
     its DNS records (an ssh deploy with `dns.enabled: false`: build/<stack>/dns-records.txt lists
     them), the first `up` may run before anyone created them: the providers then connect to the
     address that name will point at (the front door's, else the first host's) and still verify
     the certificate against the name (`AdminEndpoint.connect_address`).

The CA for an https URL: the resource's `ca_bundle_pem`, else the file named by
LITELLM_GATEWAY_CA_BUNDLE, else the system trust store. Verification is never turned off.
"""

from __future__ import annotations

import json
import os
from typing import Any, Callable, Mapping, Optional

from .client import CA_BUNDLE_ENV, AdminEndpoint
from .specs import CA_BUNDLE_FIELD

PROJECT = "litellm-gateway"
ADMIN_URL_CONFIG_KEY = f"{PROJECT}:adminUrl"
MASTER_KEY_CONFIG_KEY = f"{PROJECT}:masterKey"
# The stack config the gateway's URL follows from (as the engine passes it: JSON text for objects).
LITELLM_CONFIG_KEY = f"{PROJECT}:litellm"
TLS_CONFIG_KEY = f"{PROJECT}:tls"
DOMAIN_CONFIG_KEY = f"{PROJECT}:domain"
DNS_CONFIG_KEY = f"{PROJECT}:dns"
FRONT_DOOR_CONFIG_KEY = f"{PROJECT}:frontDoor"
ADMIN_URL_ENV = "LITELLM_GATEWAY_ADMIN_URL"
MASTER_KEY_ENV = "LITELLM_GATEWAY_MASTER_KEY"
# Optional tuning for slow proxies (seconds).
TIMEOUT_ENV = "LITELLM_GATEWAY_ADMIN_TIMEOUT"
BACKOFF_ENV = "LITELLM_GATEWAY_ADMIN_BACKOFF_SECONDS"

_REMEMBERED_KEYS = (ADMIN_URL_CONFIG_KEY, MASTER_KEY_CONFIG_KEY, LITELLM_CONFIG_KEY, TLS_CONFIG_KEY, DOMAIN_CONFIG_KEY,
                    DNS_CONFIG_KEY, FRONT_DOOR_CONFIG_KEY)

# Filled by configure() in the provider process; module state is not part of a pickled provider
# (the provider classes are pickled by reference to their module).
_stack_settings: dict[str, Any] = {}


class AdminSettingsMissing(RuntimeError):
    pass


class AdminSettingsInvalid(RuntimeError):
    """The stack config the admin URL is derived from is malformed (the message names the key)."""


def remember_stack_config(config: Any) -> None:
    """Keep what the providers need from a `pulumi.dynamic.Config` (secrets arrive as plain strings):
    the admin URL override, the master key, and the sections the gateway URL follows from."""
    for key in _REMEMBERED_KEYS:
        value = config.get(key)
        if isinstance(value, str) and value:
            _stack_settings[key] = value
        elif isinstance(value, Mapping) and key in (LITELLM_CONFIG_KEY, TLS_CONFIG_KEY):
            _stack_settings[key] = dict(value)


def forget_stack_config() -> None:
    _stack_settings.clear()


def _section(key: str, raw: Any) -> Any:
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            # The position only: never echo the config text back.
            raise AdminSettingsInvalid(
                f"cannot derive the LiteLLM admin URL: stack config `{key}` is not valid JSON "
                f"(line {exc.lineno}, column {exc.colno}: {exc.msg}); fix it, or set `{ADMIN_URL_CONFIG_KEY}`"
            ) from None
    return raw


def _validated(key: str, validate: Callable[[Any], Any], value: Any) -> Any:
    from pydantic import ValidationError

    try:
        return validate(value)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            location = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"])
            problems.append(f"{key}{location}: {error['msg']}")
        raise AdminSettingsInvalid(
            f"cannot derive the LiteLLM admin URL: stack config `{key}` is invalid ({'; '.join(problems)}); "
            f"fix it, or set `{ADMIN_URL_CONFIG_KEY}`"
        ) from None


def derived_admin_url(stack_config: Mapping[str, Any]) -> Optional[str]:
    """The gateway URL from the stack config (`litellm`, `tls`, `domain`) exactly as the program computes
    `Gateway.base_url`; None when there is no `litellm` section to derive it from.

    Imports `config` lazily: it is the project's own package, importable because the engine starts the
    provider process in the project directory, and only needed when no override is set."""
    if stack_config.get(LITELLM_CONFIG_KEY) is None:
        return None
    from pydantic import TypeAdapter

    from config.endpoints import gateway_base_url
    from config.fields import DnsName
    from config.litellm_settings import LiteLLMSettings
    from config.tls_settings import TlsSettings

    litellm = _validated(
        LITELLM_CONFIG_KEY, LiteLLMSettings.model_validate, _section(LITELLM_CONFIG_KEY, stack_config[LITELLM_CONFIG_KEY])
    )
    tls = _validated(TLS_CONFIG_KEY, TlsSettings.model_validate, _section(TLS_CONFIG_KEY, stack_config.get(TLS_CONFIG_KEY) or {}))
    domain = stack_config.get(DOMAIN_CONFIG_KEY)
    if domain is None:
        if litellm.deploy != "local":
            raise AdminSettingsInvalid(
                f"cannot derive the LiteLLM admin URL: stack config `{DOMAIN_CONFIG_KEY}` is missing "
                f"(an ssh deploy is reached at <service>.<domain>); set it, or set `{ADMIN_URL_CONFIG_KEY}`"
            )
        domain = ""
    else:
        domain = _validated(DOMAIN_CONFIG_KEY, TypeAdapter(DnsName).validate_python, domain)
    return gateway_base_url(litellm, tls.enabled, domain)


def derived_connect_address(stack_config: Mapping[str, Any]) -> Optional[str]:
    """Where the derived admin URL's name will point once its DNS records exist, when the stack does
    not write them itself (ssh deploy, `dns.enabled` false): the front door's address with several
    hosts, else the first host's (rendering.dns_records). None otherwise."""
    if stack_config.get(LITELLM_CONFIG_KEY) is None:
        return None
    from config.dns_settings import DnsSettings
    from config.front_door import FrontDoorSettings
    from config.litellm_settings import LiteLLMSettings

    litellm = _validated(
        LITELLM_CONFIG_KEY, LiteLLMSettings.model_validate, _section(LITELLM_CONFIG_KEY, stack_config[LITELLM_CONFIG_KEY])
    )
    dns = _validated(DNS_CONFIG_KEY, DnsSettings.model_validate, _section(DNS_CONFIG_KEY, stack_config.get(DNS_CONFIG_KEY) or {}))
    if litellm.deploy != "ssh" or dns.enabled:
        return None
    if len(litellm.hosts) > 1:
        front_door = _validated(FRONT_DOOR_CONFIG_KEY, FrontDoorSettings.model_validate,
                                _section(FRONT_DOOR_CONFIG_KEY, stack_config.get(FRONT_DOOR_CONFIG_KEY) or {}))
        return front_door.address
    return litellm.hosts[0].address


def admin_endpoint(ca_bundle_pem: Optional[str] = None) -> AdminEndpoint:
    """The endpoint for one operation; `ca_bundle_pem` is the resource's input of that name."""
    override = _stack_settings.get(ADMIN_URL_CONFIG_KEY) or os.environ.get(ADMIN_URL_ENV)
    base_url = override or derived_admin_url(_stack_settings)
    connect_address = None if override else derived_connect_address(_stack_settings)
    master_key = _stack_settings.get(MASTER_KEY_CONFIG_KEY) or os.environ.get(MASTER_KEY_ENV)
    missing = []
    if not base_url:
        missing.append(
            f"the admin URL (stack config `{LITELLM_CONFIG_KEY}`, from which it is derived, or the override: "
            f"stack config `{ADMIN_URL_CONFIG_KEY}` or environment variable {ADMIN_URL_ENV})"
        )
    if not master_key:
        missing.append(
            f"the master key (secret stack config `{MASTER_KEY_CONFIG_KEY}`, e.g. "
            f"`pulumi config set --secret masterKey ...`, or environment variable {MASTER_KEY_ENV})"
        )
    if missing:
        raise AdminSettingsMissing("LiteLLM admin API settings are missing: " + "; ".join(missing))
    options: dict[str, Any] = {}
    if os.environ.get(TIMEOUT_ENV):
        options["timeout"] = float(os.environ[TIMEOUT_ENV])
    if os.environ.get(BACKOFF_ENV):
        options["backoff_seconds"] = float(os.environ[BACKOFF_ENV])
    # Trusted together (see client._Call): the resource's CA and the operator's bundle.
    if isinstance(ca_bundle_pem, str) and ca_bundle_pem:
        options["ca_bundle_pem"] = ca_bundle_pem
    if os.environ.get(CA_BUNDLE_ENV):
        options["ca_bundle_file"] = os.environ[CA_BUNDLE_ENV]
    if connect_address:
        options["connect_address"] = connect_address
    return AdminEndpoint(base_url=base_url, master_key=master_key, **options)


def endpoint_for(props: Mapping[str, Any]) -> AdminEndpoint:
    """`admin_endpoint` trusting the CA of this resource's inputs/state (its `ca_bundle_pem`), if any."""
    return admin_endpoint(props.get(CA_BUNDLE_FIELD))
