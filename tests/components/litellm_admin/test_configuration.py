"""How the providers get the admin URL and master key, and what ends up in `__provider`."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import dill
import pytest
from pulumi.dynamic import Config, ConfigureRequest
from pulumi.dynamic.dynamic import serialize_provider

from components.litellm_admin import connection
from components.litellm_admin.model_provider import ModelProvider
from components.litellm_admin.team_provider import TeamProvider
from components.litellm_admin.virtual_key_provider import VirtualKeyProvider

PROJECT_DIR = Path(__file__).resolve().parents[3]
PROVIDER_CLASSES = [ModelProvider, TeamProvider, VirtualKeyProvider]


@pytest.fixture
def no_settings(monkeypatch):
    connection.forget_stack_config()
    for name in (connection.ADMIN_URL_ENV, connection.MASTER_KEY_ENV, connection.TIMEOUT_ENV, connection.BACKOFF_ENV):
        monkeypatch.delenv(name, raising=False)
    yield
    connection.forget_stack_config()


def stack_config(url: str, master_key: str) -> ConfigureRequest:
    return ConfigureRequest(
        Config({"litellm-gateway:adminUrl": url, "litellm-gateway:masterKey": master_key}, project_name="litellm-gateway")
    )


@pytest.mark.parametrize("provider_class", PROVIDER_CLASSES)
def test_the_pickled_provider_is_tiny_and_stays_so_after_configure(provider_class, no_settings):
    provider = provider_class()
    before = serialize_provider(provider)
    print(f"{provider_class.__name__}: __provider is {len(before)} bytes (base64)")
    assert len(before) < 1024
    provider.configure(stack_config("http://127.0.0.1:9", "sk-master-configured-1234"))
    assert provider.__dict__ == {}  # nothing captured on the instance...
    assert serialize_provider(provider) == before  # ...so nothing secret is pickled into state
    assert b"sk-master-configured-1234" not in base64.b64decode(before)


def test_missing_settings_name_both_options(no_settings):
    with pytest.raises(connection.AdminSettingsMissing) as raised:
        connection.admin_endpoint()
    message = str(raised.value)
    for option in ("litellm-gateway:adminUrl", "LITELLM_GATEWAY_ADMIN_URL", "litellm-gateway:masterKey", "LITELLM_GATEWAY_MASTER_KEY"):
        assert option in message


def test_stack_config_wins_over_the_environment(no_settings, monkeypatch):
    monkeypatch.setenv(connection.ADMIN_URL_ENV, "http://127.0.0.1:1")
    monkeypatch.setenv(connection.MASTER_KEY_ENV, "sk-from-env-000000")
    assert connection.admin_endpoint().base_url == "http://127.0.0.1:1"
    TeamProvider().configure(stack_config("http://127.0.0.1:2", "sk-from-config-0000"))
    endpoint = connection.admin_endpoint()
    assert endpoint.base_url == "http://127.0.0.1:2" and endpoint.master_key == "sk-from-config-0000"
    assert "sk-from-config-0000" not in repr(endpoint)


def test_configure_is_enough_to_reach_the_proxy(admin_env, no_settings):
    emulator = admin_env
    provider = TeamProvider()
    provider.configure(stack_config(emulator.base_url, emulator.master_key))
    created = provider.create({"team_id": "team-a", "__provider": "x"})
    assert created.id == "team-a" and "team-a" in emulator.teams
    assert emulator.access_log[0]["headers"]["authorization"] == f"Bearer {emulator.master_key}"


@pytest.mark.slow
def test_a_pickled_provider_works_in_a_fresh_process_without_litellm(admin_env):
    """As in the dynamic-provider host: unpickle in a new interpreter whose cwd is the project, configure,
    create. The runtime must not import litellm (a test-only dependency)."""
    emulator = admin_env
    pickled = serialize_provider(VirtualKeyProvider())
    script = textwrap.dedent(
        """
        import base64, json, sys
        import dill
        from pulumi.dynamic import Config, ConfigureRequest
        provider = dill.loads(base64.b64decode(sys.argv[1]))
        provider.configure(ConfigureRequest(Config(
            {"litellm-gateway:adminUrl": sys.argv[2], "litellm-gateway:masterKey": sys.argv[3]}, "litellm-gateway")))
        created = provider.create({"key_alias": "fresh", "owner": "p/s/fresh", "__provider": sys.argv[1]})
        print(json.dumps({
            "id": created.id,
            "class": type(provider).__module__ + "." + type(provider).__name__,
            "litellm_imported": any(name == "litellm" or name.startswith("litellm.") for name in sys.modules),
        }))
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("LITELLM_GATEWAY_")}
    env.pop("PYTHONPATH", None)
    completed = subprocess.run(
        [sys.executable, "-c", script, pickled, emulator.base_url, emulator.master_key],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["class"] == "components.litellm_admin.virtual_key_provider.VirtualKeyProvider"
    assert result["litellm_imported"] is False
    assert result["id"] in emulator.keys and emulator.keys[result["id"]]["key_alias"] == "fresh"


def test_unpickling_in_this_process_gives_the_same_class():
    restored = dill.loads(base64.b64decode(serialize_provider(ModelProvider())))
    assert type(restored) is ModelProvider
