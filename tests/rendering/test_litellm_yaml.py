"""The rendered config.yaml is what the pinned LiteLLM accepts, byte-stable, and secret-free."""

from __future__ import annotations

import re
from pathlib import Path

import litellm
import pytest
import yaml
from litellm import Router
from litellm.proxy._types import ConfigGeneralSettings
from litellm.types.router import Deployment

from config.settings import GatewaySettings
from offline.stack_inputs import load_stack_inputs
from rendering.litellm_yaml import deployment_entry, render_litellm_config, render_litellm_config_yaml
from tests.support.host_keys import placeholder_host_key

STACKS = ("local", "dev")
PROXY_SERVER_SOURCE = Path(litellm.__file__).parent / "proxy" / "proxy_server.py"


def settings_of(stack: str, **overrides) -> GatewaySettings:
    return load_stack_inputs(stack, overrides=overrides).settings()


def all_deployments(settings: GatewaySettings) -> list[dict]:
    """model_list entries, or for model_source api the same bodies the admin API receives."""
    return [deployment_entry(m) for m in settings.models]


@pytest.mark.parametrize("stack", STACKS)
def test_pinned_router_accepts_the_rendered_model_list_and_router_settings(stack):
    settings = settings_of(stack)
    doc = render_litellm_config(settings)
    router_settings = dict(doc["router_settings"])
    valid = set(Router.get_valid_args())
    assert set(router_settings) <= valid, set(router_settings) - valid
    router = Router(model_list=all_deployments(settings), **router_settings)
    # Router.__init__ ran validate_fallbacks; check the parsed result too.
    assert router.fallbacks == doc["router_settings"].get("fallbacks", [])
    assert sorted(router.get_model_names()) == sorted(settings.public_model_names)
    ids = {d["model_info"]["id"] for d in router.model_list}
    assert ids == {m.id for m in settings.models}
    assert router.routing_strategy == settings.routing.strategy


def test_pinned_router_rejects_the_classic_hand_written_fallback_form():
    # What our renderer never produces, and why: the proxy exits at startup with it.
    settings = settings_of("local")
    with pytest.raises(ValueError, match="exactly one key"):
        Router(
            model_list=all_deployments(settings),
            fallbacks=[{"model": "llama3.2", "fallback": "qwen2.5"}],
        )


@pytest.mark.parametrize("stack", STACKS)
def test_every_deployment_is_a_valid_litellm_deployment(stack):
    for entry in all_deployments(settings_of(stack)):
        parsed = Deployment(**entry)
        assert parsed.model_info.id == entry["model_info"]["id"]
        assert parsed.litellm_params.model == entry["litellm_params"]["model"]
        if entry["litellm_params"]["model"].startswith("ollama"):
            assert entry["litellm_params"]["api_base"].startswith("http")


@pytest.mark.parametrize("stack", STACKS)
def test_general_settings_keys_are_ones_litellm_reads(stack):
    doc = render_litellm_config(settings_of(stack))
    read_by_proxy = set(re.findall(r'general_settings\.get\(\s*"([a-z_]+)"', PROXY_SERVER_SOURCE.read_text()))
    # The outage gate reads its flag in the database exception handler, not in proxy_server.py.
    read_by_proxy |= set(re.findall(r'general_settings\.get\(\s*"([a-z_]+)"', EXCEPTION_HANDLER_SOURCE.read_text()))
    known = set(ConfigGeneralSettings.model_fields) | read_by_proxy
    assert set(doc["general_settings"]) <= known, set(doc["general_settings"]) - known
    assert doc["general_settings"]["master_key"] == "os.environ/LITELLM_MASTER_KEY"
    assert doc["general_settings"]["database_url"] == "os.environ/DATABASE_URL"


@pytest.mark.parametrize("stack", STACKS)
def test_litellm_settings_keys_exist_on_the_litellm_module(stack):
    # The proxy applies litellm_settings with setattr(litellm, key, value) and never complains
    # about unknown keys, so a key that is not a module attribute would be silently ignored.
    doc = render_litellm_config(settings_of(stack))
    handled_specially = {"cache", "cache_params", "callbacks", "success_callback", "failure_callback"}
    for key in doc["litellm_settings"]:
        assert key in handled_specially or hasattr(litellm, key), key
    assert "database_url" not in doc["litellm_settings"]


def test_cache_params_construct_a_litellm_cache_object():
    from litellm.caching.caching import Cache

    doc = render_litellm_config(settings_of("local"))
    params = dict(doc["litellm_settings"]["cache_params"])
    assert params["password"] == "os.environ/REDIS_PASSWORD"
    params["password"] = None  # resolved from the env file on the host
    cache = Cache(**params)
    assert cache.cache.__class__.__name__ == "RedisCache"
    assert cache.namespace == "litellm.local.cache"


def test_dev_renders_api_managed_models_budget_alerting_and_router_state():
    settings = settings_of("dev")
    doc = render_litellm_config(settings)
    assert doc["model_list"] == []  # model_source api: Model resources instead
    assert doc["general_settings"]["store_model_in_db"] is True
    assert doc["litellm_settings"]["max_budget"] == 500
    assert doc["litellm_settings"]["budget_duration"] == "30d"
    assert doc["general_settings"]["alerting"] == ["slack"]
    # the CLI hands objects over as Go's json.Marshal writes them: map keys sorted
    # (config/cli_values.py); each source's own list keeps its order
    assert doc["router_settings"]["fallbacks"] == [
        {"gpt-4o": ["claude-sonnet-4"]},
        {"llama3.2": ["gpt-4o", "claude-sonnet-4"]},
        {"qwen2.5-coder": ["gpt-4o"]},
    ]
    # 4 workers, each with its own Router: rpm/tpm usage and cooldowns shared through Redis
    rs = doc["router_settings"]
    assert rs["redis_host"] == "hx-redis-server.hx.dev.local"
    assert rs["redis_port"] == 6379
    assert rs["redis_password"] == "os.environ/REDIS_PASSWORD"
    assert rs["cache_kwargs"] == {"username": "litellm", "namespace": "litellm.dev.cache"}
    # the coordination Redis (pub/sub, spend counters) under the same namespace, cache on or off
    assert doc["general_settings"]["coordination_redis"] == {
        "host": "hx-redis-server.hx.dev.local", "port": 6379, "password": "os.environ/REDIS_PASSWORD",
        "username": "litellm", "namespace": "litellm.dev.cache",
    }

    litellm = settings.model_dump(mode="python")["litellm"]
    # one ssh host with one worker and the stack's Redis shares it all the same: the config it runs
    # behind a front door, so going 1 <-> 2 hosts never restarts it (config.settings.router_shares_state)
    one_process = render_litellm_config(settings_of("dev", litellm={**litellm, "workers": 1}))
    assert one_process["router_settings"]["redis_host"] == "hx-redis-server.hx.dev.local"
    assert one_process["general_settings"]["coordination_redis"] == doc["general_settings"]["coordination_redis"]
    # without Redis, one process has nothing to share
    alone = render_litellm_config(settings_of("dev", litellm={**litellm, "workers": 1}, redis={"enabled": False, "host": "unused.invalid"},
                                              cache={"enabled": False}))
    assert "redis_host" not in alone["router_settings"]
    assert "coordination_redis" not in alone["general_settings"]
    two_hosts = render_litellm_config(settings_of("dev", litellm={**litellm, "workers": 1, "hosts": [
        {"name": "hx-litellm-server", "address": "192.168.10.20", "host_key": placeholder_host_key("hx-litellm-server")},
        {"name": "hx-litellm-server-2", "address": "192.168.10.21", "host_key": placeholder_host_key("hx-litellm-server-2")},
    ]}, frontDoor={"address": "192.168.10.30", "host_key": placeholder_host_key("litellm-lb")}))
    assert two_hosts["router_settings"]["redis_host"] == "hx-redis-server.hx.dev.local"


def test_every_ollama_deployment_has_api_base_and_every_deployment_a_stable_id():
    for stack in STACKS:
        for entry in all_deployments(settings_of(stack)):
            assert entry["model_info"]["id"]
            if entry["litellm_params"]["model"].startswith("ollama"):
                assert "api_base" in entry["litellm_params"]


def test_replicas_of_one_name_stay_separate_deployments():
    settings = settings_of(
        "local",
        models=[
            {"id": "a", "model_name": "llama3.2", "provider": "ollama_chat", "model": "llama3.2", "api_base": "http://127.0.0.1:11434"},
            {"id": "b", "model_name": "llama3.2", "provider": "ollama_chat", "model": "llama3.2", "api_base": "http://127.0.0.2:11434"},
        ],
        routing={"strategy": "least-busy"},
        keys=[],
    )
    doc = render_litellm_config(settings)
    assert [d["model_info"]["id"] for d in doc["model_list"]] == ["a", "b"]
    router = Router(model_list=doc["model_list"], **doc["router_settings"])
    assert len(router.get_model_list(model_name="llama3.2")) == 2
    assert doc["router_settings"]["routing_strategy"] == "least-busy"


@pytest.mark.parametrize("stack", STACKS)
def test_rendering_is_deterministic(stack):
    first = render_litellm_config_yaml(settings_of(stack))
    second = render_litellm_config_yaml(settings_of(stack))
    assert first == second
    assert yaml.safe_load(first) == render_litellm_config(settings_of(stack))


@pytest.mark.parametrize("stack", STACKS)
def test_no_secret_in_the_rendered_file(stack):
    secrets = {"masterKey": "sk-distinctive-master-1234567890", "envSecrets.OPENAI_API_KEY": "sk-distinctive-openai-1234567890"}
    settings = load_stack_inputs(stack, secrets=secrets).settings()
    text = render_litellm_config_yaml(settings)
    for value in secrets.values():
        assert value not in text
    for secret_value in [s.get_secret_value() for s in settings.secrets.env_secrets.values()]:
        assert secret_value not in text


def test_model_info_and_extra_params_reach_config_yaml_and_health_follows_mode():
    """dev declares nomic-embed-text as an embedding model and llama3.2 with Ollama options (issue 20):
    both reach the deployment entry, and LiteLLM's /health picks its probe from model_info.mode."""
    from litellm.proxy.health_check import resolve_health_check_mode

    settings = settings_of("dev")
    model_list = all_deployments(settings)  # config.yaml's model_list with model_source: config
    by_id = {d["model_info"]["id"]: d for d in model_list}
    embed = by_id["ollama-nomic-embed"]
    assert embed["model_info"] == {"id": "ollama-nomic-embed", "mode": "embedding", "base_model": "nomic-embed-text",
                                   "input_cost_per_token": 0}
    llama = by_id["ollama-llama3.2"]
    assert llama["litellm_params"]["keep_alive"] == "30m" and llama["litellm_params"]["num_ctx"] == 8192
    assert resolve_health_check_mode(embed["model_info"], embed["litellm_params"]) == "embedding"
    assert resolve_health_check_mode(llama["model_info"], llama["litellm_params"]) == "chat"
    # the rendered entries are what the pinned Router builds deployments from
    router = Router(model_list=model_list)
    dep = next(d for d in router.model_list if d["model_info"]["id"] == "ollama-nomic-embed")
    assert dep["model_info"]["mode"] == "embedding"


def test_admin_model_info_is_config_yamls_without_the_id():
    from rendering.litellm_yaml import admin_model_info

    settings = settings_of("dev")
    embed = next(m for m in settings.models if m.id == "ollama-nomic-embed")
    assert admin_model_info(embed) == {"mode": "embedding", "base_model": "nomic-embed-text", "input_cost_per_token": 0}
    plain = next(m for m in settings.models if m.id == "openai-gpt-4o")
    assert admin_model_info(plain) is None


EXCEPTION_HANDLER_SOURCE = Path(litellm.__file__).parent / "proxy" / "db" / "exception_handler.py"


@pytest.mark.parametrize("stack", STACKS)
def test_a_database_outage_refuses_uncached_keys_unless_the_stack_says_otherwise(stack):
    """`litellm.database_outage` (issue 16): the flag is stated either way, under the name the pinned
    LiteLLM's outage gate reads (tests/e2e/test_database_outage.py shows what each value does)."""
    assert 'general_settings.get("allow_requests_on_db_unavailable", False)' in EXCEPTION_HANDLER_SOURCE.read_text()
    settings = settings_of(stack)
    assert settings.litellm.database_outage == "refuse"
    assert render_litellm_config(settings)["general_settings"]["allow_requests_on_db_unavailable"] is False
    litellm_section = settings.litellm.model_dump(mode="json", exclude_defaults=True)
    admit = settings_of(stack, litellm={**litellm_section, "database_outage": "admit_any_key"})
    assert render_litellm_config(admit)["general_settings"]["allow_requests_on_db_unavailable"] is True
