"""`make keys STACK=x`: one line per virtual key of the stack -- alias, team, models, budget, limits,
expiry -- with expired keys and keys expiring within 30 days marked; with the admin URL and master key
in the environment (LITELLM_GATEWAY_ADMIN_URL, LITELLM_GATEWAY_MASTER_KEY; LITELLM_GATEWAY_CA_BUNDLE for
an https proxy with a private CA), each key's spend too, read from the proxy by alias.

Offline otherwise: the catalog is the stack's validated config. A key that already expired still loads
here (the `up` check that refuses a past `expires` is about creating keys, not listing them).
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping, Optional

from config.catalog import VirtualKeySpec
from config.loader import ConfigError, load_settings
from config.settings import GatewaySettings
from offline.stack_inputs import PROJECT_DIR, _set_secret, load_stack_inputs, placeholder_value

SOON = timedelta(days=30)
ADMIN_URL_ENV = "LITELLM_GATEWAY_ADMIN_URL"
MASTER_KEY_ENV = "LITELLM_GATEWAY_MASTER_KEY"
CA_BUNDLE_ENV = "LITELLM_GATEWAY_CA_BUNDLE"
_LONG_AGO = datetime(2000, 1, 1, tzinfo=timezone.utc)


def stack_settings(stack: str, overrides: Optional[Mapping[str, Any]] = None) -> GatewaySettings:
    """The stack's settings, secrets it lacks filled with placeholders (none is shown), keys that
    already expired accepted."""
    inputs = load_stack_inputs(stack, overrides=overrides, fill_missing_secrets=False)
    try:
        return load_settings(stack, inputs.config, inputs.secret_keys, project_dir=PROJECT_DIR, now=_LONG_AGO)
    except ConfigError as exc:
        if not exc.missing_secrets or len(exc.missing_secrets) != len(exc.problems):
            raise
        for key in exc.missing_secrets:
            _set_secret(inputs, key, placeholder_value(key))
        return load_settings(stack, inputs.config, inputs.secret_keys, project_dir=PROJECT_DIR, now=_LONG_AGO)


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def expiry_mark(expires: Optional[datetime], now: datetime) -> str:
    if expires is None:
        return ""
    if expires <= now:
        return "EXPIRED"
    if expires - now <= SOON:
        days = (expires - now).days
        return f"EXPIRES SOON (in {days} day{'s' if days != 1 else ''})"
    return ""


def key_line(k: VirtualKeySpec, now: datetime, spend: Optional[float] = None, spend_known: bool = False) -> str:
    budget = "unlimited" if k.max_budget is None else f"${_number(k.max_budget)}" + (f"/{k.budget_duration}" if k.budget_duration else "")
    limits = " ".join(x for x in (f"rpm={k.rpm_limit}" if k.rpm_limit else "", f"tpm={k.tpm_limit}" if k.tpm_limit else "") if x) or "no limits"
    expires = k.expires.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%MZ") if k.expires else "never"
    parts = [
        k.alias,
        f"service={k.service}",
        f"team={k.team or '-'}",
        f"models={','.join(k.models) or 'all'}",
        f"budget={budget}",
        limits,
        f"expires={expires}",
    ]
    if k.rotate_after_days:
        parts.append(f"rotates every {k.rotate_after_days}d")
    if spend_known:
        parts.append("spend=" + ("not on the proxy" if spend is None else f"${spend:.4f}"))
    mark = expiry_mark(k.expires, now)
    return "  ".join(parts) + (f"  [{mark}]" if mark else "")


def live_spend(base_url: str, master_key: str, ca_bundle_file: Optional[str] = None) -> dict[str, float]:
    """alias -> spend of every live key on the proxy (GET /key/list, all pages)."""
    from components.litellm_admin.client import AdminEndpoint, list_keys

    options: dict[str, Any] = {"timeout": 15.0}
    if ca_bundle_file:
        options["ca_bundle_file"] = ca_bundle_file
    keys = list_keys(AdminEndpoint(base_url=base_url, master_key=master_key, **options))
    out: dict[str, float] = {}
    for key in keys:
        alias = key.get("key_alias")
        if alias:
            out[str(alias)] = float(key.get("spend") or 0.0)
    return out


def report(settings: GatewaySettings, now: datetime, spend: Optional[Mapping[str, float]] = None) -> list[str]:
    lines = [key_line(k, now, (spend or {}).get(k.alias), spend is not None) for k in settings.keys]
    expired = sum(1 for k in settings.keys if expiry_mark(k.expires, now) == "EXPIRED")
    soon = sum(1 for k in settings.keys if expiry_mark(k.expires, now).startswith("EXPIRES SOON"))
    lines.append(f"{len(settings.keys)} key(s): {expired} expired, {soon} expiring within 30 days")
    return lines


def main(
    argv: Optional[list[str]] = None,
    environ: Optional[Mapping[str, str]] = None,
    now: Optional[datetime] = None,
    overrides: Optional[Mapping[str, Any]] = None,
) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stack", nargs="?", default="local")
    args = parser.parse_args(argv)
    env = os.environ if environ is None else environ
    now = now or datetime.now(timezone.utc)
    try:
        settings = stack_settings(args.stack, overrides)
    except (ConfigError, FileNotFoundError) as exc:
        print(exc, file=sys.stderr)
        return 2
    spend = None
    if env.get(ADMIN_URL_ENV) and env.get(MASTER_KEY_ENV):
        from components.litellm_admin.client import AdminApiError, AdminTrustError

        try:
            spend = live_spend(env[ADMIN_URL_ENV], env[MASTER_KEY_ENV], env.get(CA_BUNDLE_ENV))
        except (AdminApiError, AdminTrustError, OSError) as exc:  # messages are redacted by the client
            from offline.adopt import shown_url

            print(f"note: spend not shown: the proxy at {shown_url(env[ADMIN_URL_ENV])} did not answer ({exc})", file=sys.stderr)
    for line in report(settings, now, spend):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
