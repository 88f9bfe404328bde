"""offline.adopt without a proxy: what a proxy's objects become in the catalog (and what is refused by
name), the adoption list's shape, and the program turning it into `adopt_id` inputs."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from components.gateway import ADOPTED_KEY_OUTPUT, Gateway, GatewayArgs
from config.adoptions import AdoptionListError, parse_adoption_list
from config.litellm_model_schema import allowed_info, allowed_params
from offline.adopt import adopt_objects
from offline.engine import run_program
from offline.plan import catalog_changes, plan
from offline.stack_inputs import load_stack_inputs

NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)
DEFAULT_FLAGS = {"use_in_pass_through": False, "use_litellm_proxy": False, "merge_reasoning_content_in_choices": False}
# Shapes as the pinned proxy answers /v2/model/info, /team/list and /key/list (return_full_object).
MODELS = [
    {"model_name": "llama3.2", "model_info": {"id": "ollama-llama", "db_model": True},
     "litellm_params": {"model": "ollama_chat/llama3.2", "api_base": "http://127.0.0.1:11434", "rpm": 60, **DEFAULT_FLAGS}},
    {"model_name": "gpt-4o", "model_info": {"id": "openai-gpt-4o", "db_model": True},
     "litellm_params": {"model": "openai/gpt-4o", "tpm": 1000, **DEFAULT_FLAGS}},
    {"model_name": "cfg", "model_info": {"id": "from-config", "db_model": False}, "litellm_params": {"model": "openai/gpt-4o"}},
    {"model_name": "co", "model_info": {"id": "cohere", "db_model": True}, "litellm_params": {"model": "cohere/command-r"}},
    {"model_name": "odd", "model_info": {"id": "odd", "db_model": True}, "litellm_params": {"model": "openai/x", "stream_timeout": 30}},
    # not in LiteLLM's cost map (its entry of nulls): its model_info is what was stored, plus the proxy's stamps
    {"model_name": "embed", "model_info": {"id": "ollama-embed", "db_model": True, "mode": "embedding", "base_model": "nomic-embed-text",
                                           "input_cost_per_token": 1e-08, "pricing_overrides": [], "key": "ollama/nomic-embed-text", "created_at": "x",
                                           "supports_vision": None, "supported_openai_params": ["n"], "litellm_provider": "ollama",
                                           "blocked": False, "member_auto_router": False},
     "litellm_params": {"model": "ollama/nomic-embed-text", "api_base": "http://127.0.0.1:11434", "keep_alive": "5m", "num_ctx": 8192,
                        "input_cost_per_token": 1e-08, **DEFAULT_FLAGS}},
    # known to the cost map (its supports_* flags): the map's keys are left out, the router's own ones kept
    {"model_name": "mini", "model_info": {"id": "openai-mini", "db_model": True, "key": "gpt-4o-mini", "mode": "chat", "max_tokens": 16384,
                                          "input_cost_per_token": 1.5e-07, "supports_vision": True, "litellm_provider": "openai", "tier": "paid",
                                          "supported_openai_params": ["n"]},
     "litellm_params": {"model": "openai/gpt-4o-mini", "api_key": "os.environ/OPENAI_API_KEY", "tags": ["fast"], **DEFAULT_FLAGS}},
    # refused as the catalog refuses them, by name
    {"model_name": "typo", "model_info": {"id": "typo", "db_model": True}, "litellm_params": {"model": "ollama_chat/x", "api_base": "http://h:1", "keepalive": "5m"}},
    {"model_name": "cred", "model_info": {"id": "cred", "db_model": True}, "litellm_params": {"model": "bedrock/x", "aws_secret_access_key": "literal"}},
    {"model_name": "badmode", "model_info": {"id": "badmode", "db_model": True, "mode": "telepathy"}, "litellm_params": {"model": "openai/y"}},
]
TEAMS = [
    {"team_id": "platform", "team_alias": "Platform", "models": ["llama3.2"], "max_budget": 100.0, "budget_duration": "30d",
     "rpm_limit": 600, "tpm_limit": None, "metadata": {"owner": "platform-team", "tags": ["a"]}},
]
KEYS = [
    {"token": "a" * 64, "key_alias": "webapp", "team_id": "platform", "models": ["llama3.2"], "max_budget": 10.0,
     "budget_duration": "30d", "rpm_limit": 60, "expires": "2027-03-05T15:24:17.372000Z",
     "metadata": {"repo": "web/app", "service": "web", "litellm_gateway_owner": "x/y/z"}},
    {"token": "b" * 64, "key_alias": "web-2", "metadata": {"service": "web"}},
    {"token": "c" * 64, "key_alias": "old", "expires": "2026-01-01T00:00:00Z"},
    {"token": "d" * 64, "key_alias": "orphan", "team_id": "gone"},
    {"token": "e" * 64, "key_alias": None},
]


def test_what_the_proxy_holds_becomes_the_catalog_and_the_rest_is_refused_by_name():
    adopted = adopt_objects("prod", MODELS, TEAMS, KEYS, now=NOW)
    assert adopted.catalog["models"] == [
        {"id": "odd", "model_name": "odd", "provider": "openai", "model": "x", "litellm_params": {"stream_timeout": 30}},
        {"id": "ollama-embed", "model_name": "embed", "provider": "ollama", "model": "nomic-embed-text", "api_base": "http://127.0.0.1:11434",
         "litellm_params": {"input_cost_per_token": 1e-08, "keep_alive": "5m", "num_ctx": 8192},
         "model_info": {"base_model": "nomic-embed-text", "mode": "embedding"}},
        {"id": "ollama-llama", "model_name": "llama3.2", "provider": "ollama_chat", "model": "llama3.2", "api_base": "http://127.0.0.1:11434", "rpm": 60},
        {"id": "openai-gpt-4o", "model_name": "gpt-4o", "provider": "openai", "model": "gpt-4o", "tpm": 1000},
        {"id": "openai-mini", "model_name": "mini", "provider": "openai", "model": "gpt-4o-mini", "api_key": "os.environ/OPENAI_API_KEY",
         "litellm_params": {"tags": ["fast"]}, "model_info": {"tier": "paid"}},
    ]
    assert adopted.catalog["teams"] == [{"team_id": "platform", "alias": "Platform", "models": ["llama3.2"], "max_budget": 100,
                                         "budget_duration": "30d", "rpm_limit": 600, "metadata": {"owner": "platform-team"}}]
    assert adopted.catalog["keys"] == [
        {"alias": "web-2", "service": "web", "metadata": {"service": "web"}},
        {"alias": "webapp", "service": "web-2", "team": "platform", "models": ["llama3.2"], "max_budget": 10, "budget_duration": "30d",
         "rpm_limit": 60, "expires": "2027-03-05T15:24:17Z", "metadata": {"repo": "web/app", "service": "web"}},
    ]
    assert adopted.ids == {
        "litellm-prod-model-ollama-llama": "ollama-llama", "litellm-prod-model-openai-gpt-4o": "openai-gpt-4o",
        "litellm-prod-model-odd": "odd", "litellm-prod-model-ollama-embed": "ollama-embed", "litellm-prod-model-openai-mini": "openai-mini",
        "litellm-prod-team-platform": "platform", "litellm-prod-key-web-2": "b" * 64, "litellm-prod-key-webapp": "a" * 64,
    }
    assert sorted(adopted.refused) == sorted([
        "model 'cohere': litellm_params.model 'cohere/command-r': provider 'cohere' has no catalog equivalent",
        "model 'from-config': comes from the proxy's config.yaml, not its database (convert that file with --from-config)",
        "model 'typo': not expressible in the catalog: litellm_params: unknown key 'keepalive' (did you mean keep_alive, "
        "keepalive_seconds?); LiteLLM 1.108.7 accepts in litellm_params for provider ollama_chat: " + ", ".join(sorted(allowed_params(True))),
        "model 'cred': not expressible in the catalog: litellm_params: 'aws_secret_access_key' is a credential: give an "
        "os.environ/NAME reference (its value set with `pulumi config set --secret --path envSecrets.NAME`), never the value itself",
        "model 'badmode': not expressible in the catalog: model_info: 'mode': expected one of " + ", ".join(allowed_info()["mode"][1]),
        "team 'platform'.metadata.tags: not a string, number or boolean (left on the proxy, not declared)",
        "key 'old': expired at 2026-01-01T00:00:00+00:00 (nothing to manage)",
        "key 'orphan': its team 'gone' is not adopted",
        "key eeeeeeeeeeee...: no alias of letters, digits and . _ - (the catalog names keys by alias)",
    ])
    assert any("openai-gpt-4o" in n and "credential" in n for n in adopted.notes)
    assert "model 'openai-mini': LiteLLM's cost map knows this model and the proxy's answer mixes the map's values with the stored " \
           "ones, so its model_info (mode, max_tokens, input_cost_per_token, ...: 4 keys) is not declared" in " ".join(adopted.notes)
    # what adopt writes is a catalog the loader accepts as it is (the same validation)
    from config.catalog import ModelDeployment

    for entry in adopted.catalog["models"]:
        assert ModelDeployment.model_validate(entry).model_dump(exclude_defaults=True) == entry


def test_the_adoption_list_is_checked():
    assert parse_adoption_list("resources:\n  litellm-prod-team-a: a\n", "x") == {"litellm-prod-team-a": "a"}
    with pytest.raises(AdoptionListError, match="sha256 token, never by its raw value"):
        parse_adoption_list("resources:\n  litellm-prod-key-a: sk-abc\n", "x")
    with pytest.raises(AdoptionListError, match="one key, 'resources'"):
        parse_adoption_list("models: {}\n", "x")
    with pytest.raises(AdoptionListError, match="expected an id"):
        parse_adoption_list("resources:\n  litellm-prod-team-a: [1]\n", "x")


def _run(adopt: dict[str, str]):
    import pulumi

    inputs = load_stack_inputs("dev")
    settings = inputs.settings()

    def program() -> None:
        gateway = Gateway("litellm-dev", GatewayArgs(settings=settings, adopt=adopt))
        pulumi.export("keys", gateway.key_values)

    return run_program("dev", inputs.config, inputs.secret_keys, program=program)


def test_the_program_turns_the_list_into_adopt_ids_and_an_adopted_key_says_who_holds_it():
    token = "f" * 64
    adopt = {"litellm-dev-team-platform-ai": "platform-ai", "litellm-dev-key-langchain-dev": token,
             "litellm-dev-model-openai-gpt-4o": "openai-gpt-4o"}
    run = _run(adopt)
    admin = [r for r in run.resources if r.type.startswith("pulumi-python:dynamic/litellm:")]
    assert {r.name: r.inputs["adopt_id"] for r in admin if r.inputs.get("adopt_id")} == adopt
    key = run.one("pulumi-python:dynamic/litellm:VirtualKey", "litellm-dev-key-langchain-dev")
    assert "service" not in (key.inputs.get("metadata") or {})  # an adopted key keeps the proxy's metadata
    other = run.one("pulumi-python:dynamic/litellm:VirtualKey", "litellm-dev-key-lightrag-dev")
    assert other.inputs["metadata"]["service"] == "lightrag" and not other.inputs.get("adopt_id")
    assert run.outputs["keys"]["langchain"] == ADOPTED_KEY_OUTPUT
    assert run.outputs["keys"]["lightrag"] == "sk-mock-litellm-dev-key-lightrag-dev"
    p = plan(None, run)
    ops = {s.name: s.op for s in p.steps}
    assert {ops[name] for name in adopt} == {"import"} and ops["litellm-dev-key-lightrag-dev"] == "create"
    assert "team `platform-ai` adopted (import): " in " ".join(catalog_changes(p))


def test_an_adoption_of_a_resource_the_stack_does_not_declare_is_refused():
    with pytest.raises(Exception, match="names resources this stack does not declare: litellm-dev-team-typo"):
        _run({"litellm-dev-team-typo": "typo"})



def test_the_admin_url_is_shown_without_credentials_or_query():
    from offline.adopt import shown_url

    assert shown_url("https://admin:pw@litellm.example:8443/base?token=x") == "https://litellm.example:8443/base"
    assert shown_url("http://127.0.0.1:4000") == "http://127.0.0.1:4000"
