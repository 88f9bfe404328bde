"""Converting an existing LiteLLM config.yaml into stack config (offline/litellm_config.py): what has an
equivalent is converted and validated, everything else is refused by name; secrets are never copied."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from offline import adopt
from offline.litellm_config import convert
from offline.stack_inputs import load_stack_inputs
from rendering.litellm_yaml import render_litellm_config

EXAMPLE = Path(__file__).parent / "data" / "litellm-config.yaml"


def test_a_hand_written_config_converts_and_each_refused_part_is_named():
    converted = convert(yaml.safe_load(EXAMPLE.read_text()))
    models = converted.config["litellm-gateway:models"]
    assert [m["id"] for m in models] == ["ollama-1-llama3.2", "ollama_chat-llama3.2", "openai-gpt-4o", "anthropic-claude-sonnet-4-20250514"]
    assert models[0] == {"id": "ollama-1-llama3.2", "model_name": "llama3.2", "provider": "ollama_chat", "model": "llama3.2",
                         "api_base": "http://ollama-1.internal:11434", "rpm": 120, "weight": 3}
    assert models[2]["api_key"] == "os.environ/OPENAI_API_KEY" and "stream_timeout" not in models[2]
    assert converted.config["litellm-gateway:routing"] == {
        "strategy": "simple-shuffle", "num_retries": 3, "timeout": 90,
        "fallbacks": {"llama3.2": ["gpt-4o"], "gpt-4o": ["claude-sonnet-4"]},
    }
    assert converted.config["litellm-gateway:redis"] == {"host": "redis.internal", "port": 6379}
    assert converted.config["litellm-gateway:cache"] == {"enabled": True, "ttl_seconds": 300}
    assert converted.config["litellm-gateway:observability"] == {
        "callbacks": ["langfuse", "prometheus"], "proxy_budget": {"max_budget": 500, "budget_duration": "30d"},
        "alerting": {"channels": ["slack"], "alert_types": ["llm_exceptions", "budget_alerts"], "slow_threshold_seconds": 30},
    }
    assert converted.config["litellm-gateway:litellm"] == {"model_source": "api"}
    refused = "\n".join(converted.refused)
    for named in [
        "environment_variables: secrets go in",
        "model_list[2].litellm_params.stream_timeout: no equivalent",
        "model_list[3].model_info.mode: no equivalent",
        "model_list[4].litellm_params.api_key: a literal secret in the file (model left out)",
        "model_list[5]: litellm_params.model 'cohere/command-r': provider 'cohere' has no equivalent",
        "router_settings.enable_pre_call_checks: no equivalent",
        "litellm_settings.success_callback: callback 'datadog' has no equivalent",
        "litellm_settings.set_verbose: no equivalent",
        "general_settings.database_url: the URL is built from `litellm-gateway:postgres`",
        "general_settings.ui_access_mode: no equivalent",
    ]:
        assert named in refused, named
    assert len(converted.refused) == 10, refused
    assert set(converted.secrets) >= {"masterKey (from general_settings.master_key, os.environ/LITELLM_MASTER_KEY)",
                                      "envSecrets.OPENAI_API_KEY (from model_list[2].litellm_params.api_key)"}
    text = json.dumps(converted.config) + "\n".join(converted.secrets + converted.refused)
    assert "sk-literal-key" not in text and "sk-should-not" not in text


def test_the_config_a_stack_renders_converts_back_to_that_stack(capsys, tmp_path):
    # local's config.yaml (model_source: config) -> its models and routing again
    settings = load_stack_inputs("local").settings()
    rendered = tmp_path / "config.yaml"
    rendered.write_text(yaml.safe_dump(render_litellm_config(settings)))
    assert adopt.main(["--stack", "local", "--from-config", str(rendered)], environ={}) == 0
    printed = yaml.safe_load(capsys.readouterr().out)["config"]
    raw = load_stack_inputs("local").config
    assert printed["litellm-gateway:models"] == json.loads(raw["litellm-gateway:models"])
    routing = printed["litellm-gateway:routing"]
    assert routing["fallbacks"] == json.loads(raw["litellm-gateway:routing"])["fallbacks"]
    assert (routing["num_retries"], routing["timeout"]) == (settings.routing.num_retries, settings.routing.timeout)
    # and the converted stack config validates with the real loader into the same deployments
    reloaded = load_stack_inputs("local", overrides={"models": printed["litellm-gateway:models"], "routing": routing}).settings()
    assert reloaded.models == settings.models and reloaded.routing.fallbacks == settings.routing.fallbacks


@pytest.mark.parametrize("value,expected", [(True, "admit_any_key"), ("True", "admit_any_key"), (False, "refuse"), ("false", "refuse")])
def test_the_outage_flag_converts_to_its_stack_setting(value, expected):
    converted = convert({"general_settings": {"allow_requests_on_db_unavailable": value}})
    assert converted.config["litellm-gateway:litellm"]["database_outage"] == expected
    assert not [r for r in converted.refused if "allow_requests_on_db_unavailable" in r]
