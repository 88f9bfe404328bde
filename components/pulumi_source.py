"""Read the running stack's config from the Pulumi runtime and validate it (the program's edge).

With the components, not in `config`: it is the one part of loading that needs the Pulumi runtime,
and `config` stays importable without Pulumi (the offline renderer, the tests)."""

from __future__ import annotations

from pathlib import Path

import pulumi
from pulumi.runtime import config as runtime_config

from config.adoptions import load_adoption_list
from config.loader import PROJECT, load_settings
from config.settings import GatewaySettings

PROJECT_DIR = Path(__file__).resolve().parent.parent


def raw_stack_config() -> tuple[dict[str, object], set[str]]:
    """Every config key of this project and which of them are secret, as the runtime holds them.

    pulumi.Config only answers for keys we already know; reading the whole map is what lets the
    loader reject an unknown (mistyped) key instead of ignoring it.
    """
    merged: dict[str, object] = dict(runtime_config.get_config_env())
    merged.update(runtime_config.CONFIG.get())
    secret = set(runtime_config.get_config_secret_keys_env())
    secret.update(k for k in merged if runtime_config.is_config_secret(k))
    mine = {k: v for k, v in merged.items() if k.startswith(f"{PROJECT}:")}
    return mine, secret


def load_stack_settings() -> GatewaySettings:
    config, secret_keys = raw_stack_config()
    return load_settings(pulumi.get_stack(), config, secret_keys, project_dir=PROJECT_DIR)


def load_stack_adoptions() -> dict[str, str]:
    """config/imports/<stack>.yaml (resource name -> id of the object to adopt), empty without one."""
    return load_adoption_list(PROJECT_DIR, pulumi.get_stack())
