"""A deployment's extra `litellm_params` / `model_info` are checked against the pinned LiteLLM's own
types (issue 20): the committed tables are what the installed release defines, every key they allow
is one LiteLLM parses, and the credential rule covers every credential parameter the providers know.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from config import litellm_model_schema as schema
from config.catalog import ModelDeployment
from config.litellm_model_tables import LITELLM_PARAMS, MODEL_INFO, OLLAMA_OPTIONS
from tests.support.litellm_model_schema import render_module

TABLES = Path(__file__).resolve().parents[2] / "config" / "litellm_model_tables.py"


def test_the_committed_tables_are_what_the_pinned_litellm_defines():
    assert TABLES.read_text() == render_module(), (
        "LiteLLM's types changed: regenerate with "
        "`.venv/bin/python -m tests.support.litellm_model_schema > config/litellm_model_tables.py`"
    )


def test_the_keys_the_issue_names_are_allowed_and_typed():
    params = schema.allowed_params(ollama=True)
    assert params["keep_alive"] == "number_or_str" and params["num_ctx"] == "int"
    assert params["stream_timeout"] == "number_or_str" and params["order"] == "int"
    assert params["tags"] == "str_list" and params["api_version"] == "str"
    info = schema.allowed_info()
    assert {"chat", "embedding", "completion", "image_generation", "audio_transcription", "rerank"} <= set(info["mode"][1])
    assert info["base_model"] == "str" and info["max_tokens"] == "int"
    assert info["input_cost_per_token"] == info["output_cost_per_token"] == "number"
    # Ollama options only for Ollama providers
    assert "num_ctx" not in schema.allowed_params(ollama=False)


def test_first_class_fields_and_gateway_owned_keys_are_not_settable_twice():
    params = schema.allowed_params(ollama=True)
    for name in ("model", "api_base", "api_key", "litellm_credential_name", "rpm", "tpm", "timeout", "weight", "max_tokens"):
        assert name not in params, name
    # real LiteLLM keys, refused on purpose (the deployment has its own field for each)
    assert {"model", "api_base", "api_key", "litellm_credential_name", "rpm", "tpm", "weight"} <= set(LITELLM_PARAMS)
    assert "id" not in schema.allowed_info() and "id" in MODEL_INFO


def test_every_credential_parameter_the_admin_provider_knows_is_a_credential_here():
    from components.litellm_admin.specs import CREDENTIAL_PARAMS

    allowed = set(schema.allowed_params(ollama=True))
    uncovered = sorted(n for n in CREDENTIAL_PARAMS & allowed if not schema.is_credential(n))
    assert not uncovered
    assert not [n for n in allowed if "cost_per" in n and schema.is_credential(n)]
    for name in ("aws_secret_access_key", "client_secret", "azure_password", "valkey_password", "aws_session_token"):
        assert schema.is_credential(name), name


def _sample(kind: object):
    if kind == "str":
        return "sample-1"
    if kind == "int":
        return 3
    if kind == "number":
        return 0.5
    if kind == "bool":
        return True
    if kind == "number_or_str":
        return 30
    if kind == "str_list":
        return ["a", "b"]
    if kind == "number_map":
        return {"priority": 2.0}
    assert kind[0] == "literal"
    return kind[1][0]


def test_litellm_parses_a_deployment_with_every_allowed_key():
    """Every key we let through is one LiteLLM's own Deployment model takes with a value of that kind,
    and keeps: none is silently dropped or refused by the pinned release."""
    from litellm.types.router import Deployment

    params = {n: _sample(k) for n, k in schema.allowed_params(ollama=False).items() if not schema.is_credential(n)}
    params.update({n: "os.environ/SOME_KEY" for n in schema.allowed_params(ollama=False) if schema.is_credential(n)})
    info = {n: _sample(k) for n, k in schema.allowed_info().items()}
    for ptu in ("ptu_effective_from", "ptu_effective_to"):
        info.pop(ptu, None)  # datetimes: not in the table (no kind)
    dep = Deployment(model_name="m", litellm_params={"model": "openai/x", **params}, model_info={"id": "d1", **info})
    lp = dep.litellm_params.model_dump()
    for name, value in params.items():
        assert lp.get(name, getattr(dep.litellm_params, name, None)) == value, name
    mi = dep.model_info
    for name, value in info.items():
        assert mi.get(name) == value, name


def test_ollama_options_reach_ollamas_request_body():
    from litellm.llms.ollama.chat.transformation import OllamaChatConfig

    config = OllamaChatConfig()
    body = config.transform_request(
        model="llama3.2",
        messages=[{"role": "user", "content": "hi"}],
        optional_params={"keep_alive": "30m", "num_ctx": 8192},
        litellm_params={},
        headers={},
    )
    assert body["keep_alive"] == "30m"
    assert body["options"]["num_ctx"] == 8192
    assert set(OLLAMA_OPTIONS) >= {"keep_alive", "num_ctx"}


@pytest.mark.parametrize("value", [32.0, 32])
def test_a_whole_number_pulumi_hands_over_as_float_stays_an_int(value):
    m = ModelDeployment(id="x", model_name="m", provider="ollama_chat", model="m", api_base="http://127.0.0.1:11434",
                        litellm_params={"num_ctx": value})
    assert m.litellm_params["num_ctx"] == 32 and isinstance(m.litellm_params["num_ctx"], int)


def test_env_references_in_params_reach_the_env_file():
    from offline.stack_inputs import load_stack_inputs

    settings = load_stack_inputs("dev").settings()
    m = settings.models[3].model_copy(update={"litellm_params": {"api_version": "os.environ/AZURE_API_VERSION"}})
    s = settings.model_copy(update={"models": [*settings.models[:3], m, *settings.models[4:]]})
    assert "AZURE_API_VERSION" in s.referenced_env_vars()
