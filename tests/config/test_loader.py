"""Bad input gets a clear error naming the stack, the config key and what was expected."""

from __future__ import annotations

import json
from typing import Any

import pytest

from config.loader import ConfigError, load_settings, required_secret_keys
from offline.stack_inputs import PROJECT_DIR, load_stack_inputs

P = "litellm-gateway"
MASTER = "sk-test-master-key-abcdefghijklmnop"


def local_config(**overrides: Any) -> tuple[dict[str, str], set[str]]:
    inputs = load_stack_inputs("local", secrets={"masterKey": MASTER}, overrides=overrides)
    return inputs.config, inputs.secret_keys


def problems_of(config: dict, secret_keys: set[str], stack: str = "local") -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_settings(stack, config, secret_keys, project_dir=PROJECT_DIR)
    assert str(caught.value).startswith(f"invalid configuration for stack '{stack}'")
    return caught.value.problems


def one_problem(config: dict, secret_keys: set[str]) -> str:
    problems = problems_of(config, secret_keys)
    assert len(problems) == 1, problems
    return problems[0]


def models(**changes: Any) -> list[dict]:
    base = json.loads(load_stack_inputs("local", secrets={"masterKey": MASTER}).config[f"{P}:models"])
    base[0].update(changes)
    return base


def test_the_committed_stacks_are_valid():
    for stack in ("local", "dev"):
        settings = load_stack_inputs(stack).settings()
        assert settings.stack == stack


def test_unknown_top_level_key():
    config, secret = local_config()
    config[f"{P}:litelm"] = json.dumps({"port": 4000})
    msg = one_problem(config, secret)
    assert msg.startswith("stack 'local': litellm-gateway:litelm: unknown config key (known: ")
    assert "litellm" in msg


def test_unknown_nested_key_names_the_path_and_the_expected_keys():
    config, secret = local_config()
    litellm = json.loads(config[f"{P}:litellm"])
    litellm["wokers"] = 4
    config[f"{P}:litellm"] = json.dumps(litellm)
    msg = one_problem(config, secret)
    assert msg.startswith("stack 'local': litellm-gateway:litellm.wokers: unknown key (a typo?); expected one of: ")
    assert "workers" in msg


def test_unknown_key_in_a_model_entry():
    config, secret = local_config(models=models(rmp=10))
    assert one_problem(config, secret).startswith("stack 'local': litellm-gateway:models[0].rmp: unknown key")


def test_wrong_type_names_the_value():
    config, secret = local_config()
    litellm = json.loads(config[f"{P}:litellm"])
    litellm["port"] = "four-thousand"
    config[f"{P}:litellm"] = json.dumps(litellm)
    msg = one_problem(config, secret)
    assert msg.startswith("stack 'local': litellm-gateway:litellm.port: ")
    assert "valid integer" in msg and "'four-thousand'" in msg


def test_missing_required_secret_names_the_command():
    inputs = load_stack_inputs("local", fill_missing_secrets=False)
    problems = problems_of(inputs.config, inputs.secret_keys)
    assert problems == [
        "stack 'local': litellm-gateway:masterKey: missing required secret (the dynamic providers call "
        "the admin API with it (teams, keys or API-managed models are declared)); set it with "
        "`pulumi config set --secret masterKey <value>`"
    ]


def test_missing_provider_api_key_secret():
    inputs = load_stack_inputs("dev", fill_missing_secrets=False)
    with pytest.raises(ConfigError) as caught:
        inputs.settings()
    assert "envSecrets.OPENAI_API_KEY" in caught.value.missing_secrets
    assert any(
        p.startswith("stack 'dev': litellm-gateway:envSecrets.OPENAI_API_KEY: missing required secret")
        and "pulumi config set --secret --path 'envSecrets.OPENAI_API_KEY'" in p
        for p in caught.value.problems
    )


def test_duplicate_deployment_id():
    m = models()
    m.append(dict(m[0], model_name="other"))
    config, secret = local_config(models=m)
    assert one_problem(config, secret) == (
        "stack 'local': litellm-gateway:models[2].id: duplicate deployment id 'local-llama3.2'"
    )


def test_duplicate_key_alias():
    keys = [
        {"alias": "same", "service": "a", "models": ["llama3.2"]},
        {"alias": "same", "service": "b"},
    ]
    config, secret = local_config(keys=keys)
    assert one_problem(config, secret) == "stack 'local': litellm-gateway:keys[1].alias: duplicate key alias 'same'"


def test_fallback_to_unknown_model():
    config, secret = local_config(routing={"fallbacks": {"llama3.2": ["gpt-5"]}})
    assert one_problem(config, secret) == (
        "stack 'local': litellm-gateway:routing.fallbacks.llama3.2: fallback 'gpt-5' is not a model "
        "in the catalog (known: llama3.2, qwen2.5)"
    )


def test_fallback_cycle():
    config, secret = local_config(routing={"fallbacks": {"llama3.2": ["qwen2.5"], "qwen2.5": ["llama3.2"]}})
    assert one_problem(config, secret) == (
        "stack 'local': litellm-gateway:routing.fallbacks: fallback cycle: llama3.2 -> qwen2.5 -> llama3.2"
    )


def test_classic_fallback_list_form_is_rejected_with_the_expected_shape():
    config, secret = local_config(routing={"fallbacks": [{"model": "llama3.2", "fallback": "qwen2.5"}]})
    msg = one_problem(config, secret)
    assert msg.startswith("stack 'local': litellm-gateway:routing.fallbacks: expected a map of public model name")
    assert "{llama3.2: [gpt-4o]}" in msg


def test_key_allowed_an_unknown_model():
    config, secret = local_config(keys=[{"alias": "k", "service": "svc", "models": ["gpt-4o"]}])
    assert one_problem(config, secret) == (
        "stack 'local': litellm-gateway:keys[0].models: 'gpt-4o' is not a model in the catalog "
        "(known: llama3.2, qwen2.5)"
    )


def test_team_allowed_an_unknown_model_and_key_outside_its_team():
    teams = [{"team_id": "t1", "models": ["llama3.2", "mystery"]}]
    keys = [{"alias": "k", "service": "svc", "team": "t1", "models": ["qwen2.5"]}]
    config, secret = local_config(teams=teams, keys=keys)
    assert problems_of(config, secret) == [
        "stack 'local': litellm-gateway:teams[0].models: 'mystery' is not a model in the catalog (known: llama3.2, qwen2.5)",
        "stack 'local': litellm-gateway:keys[0].models: 'qwen2.5' is not allowed for team 't1' (known: llama3.2, mystery)",
    ]


def test_literal_api_key_in_a_model_is_rejected():
    config, secret = local_config(models=models(api_key="hunter2-literal"))
    msg = one_problem(config, secret)
    assert msg.startswith("stack 'local': litellm-gateway:models[0].api_key: a credential must be a reference 'os.environ/NAME'")
    assert "hunter2-literal" not in msg


def test_secret_looking_value_anywhere_is_rejected():
    config, secret = local_config(keys=[{"alias": "k", "service": "svc", "metadata": {"note": "sk-abcdefghijklmnopqrstuvwx"}}])
    msg = one_problem(config, secret)
    assert msg.startswith("stack 'local': litellm-gateway:keys[0].metadata.note: looks like a literal secret")


def test_secret_key_given_as_plain_config_is_rejected():
    config, secret = local_config()
    secret.discard(f"{P}:masterKey")
    msg = problems_of(config, secret)[0]
    assert msg.startswith("stack 'local': litellm-gateway:masterKey: is a secret: set it with `pulumi config set --secret masterKey")


def test_blocked_litellm_release():
    config, secret = local_config()
    litellm = json.loads(config[f"{P}:litellm"])
    litellm["version"] = "1.107.0"
    config[f"{P}:litellm"] = json.dumps(litellm)
    assert "pulled from PyPI after a supply-chain compromise" in one_problem(config, secret)


def test_ollama_without_api_base():
    m = models()
    del m[0]["api_base"]
    config, secret = local_config(models=m)
    assert one_problem(config, secret).startswith(
        "stack 'local': litellm-gateway:models[0]: an Ollama deployment needs 'api_base'"
    )


def test_errors_in_a_catalog_file_name_the_file(tmp_path):
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "extra.yaml").write_text("keys:\n  - alias: x\n    service: svc\n    max_budgt: 3\n")
    config, secret = local_config()
    config[f"{P}:catalogFiles"] = json.dumps(["config/extra.yaml"])
    with pytest.raises(ConfigError) as caught:
        load_settings("local", config, secret, project_dir=tmp_path)
    assert caught.value.problems == [
        "stack 'local': config/extra.yaml: keys[0].max_budgt: unknown key (a typo?); expected one of: "
        "alias, budget_duration, expires, max_budget, metadata, models, rotate_after_days, rotation_grace, rotation_trigger, "
        "rpm_limit, service, team, tpm_limit"
    ]


def test_all_problems_are_reported_at_once():
    config, secret = local_config(
        routing={"fallbacks": {"llama3.2": ["nope"]}}, keys=[{"alias": "k", "service": "s", "models": ["nah"]}]
    )
    assert len(problems_of(config, secret)) == 2


def test_secret_values_never_appear_in_messages():
    config, secret = local_config()
    config[f"{P}:masterKey"] = "not-starting-with-sk-SECRETVALUE"
    msg = one_problem(config, secret)
    assert msg.startswith("stack 'local': litellm-gateway:masterKey: ")
    assert "SECRETVALUE" not in msg


def test_required_secret_keys_of_dev():
    settings = load_stack_inputs("dev").settings()
    assert required_secret_keys(settings) == [
        "masterKey",
        "postgresAdminPassword",
        "sshPrivateKey",
        "dnsAdminPassword",
        "tlsCaCert",
        "tlsCaKey",
        "uiPassword",
        "envSecrets.OPENAI_API_KEY",
        "envSecrets.ANTHROPIC_API_KEY",
        "envSecrets.SLACK_WEBHOOK_URL",
    ]
