"""ModelProvider lifecycle against the admin-API emulator, driven the way the engine drives it."""

from __future__ import annotations

import pytest

from components.litellm_admin import client
from components.litellm_admin.client import AdminApiError
from components.litellm_admin.model_provider import ModelProvider

from .conftest import assert_no_secrets_in_access_log, wait_until_all_requests_answered

PROVIDER_PICKLE = "pickled-provider-placeholder"
INPUTS = {
    "model_id": "llama-local",
    "model_name": "llama-3.2",
    "litellm_params": {
        "model": "ollama_chat/llama3.2",
        "api_base": "http://127.0.0.1:11434",
        "api_key": "os.environ/OLLAMA_API_KEY",
        "rpm": 10.0,  # Pulumi hands ints over as floats
    },
    "model_info": {"mode": "chat"},
}


def engine_inputs(**overrides) -> dict:
    return {**INPUTS, **overrides, "__provider": PROVIDER_PICKLE}


def checked(provider: ModelProvider, olds: dict, news: dict) -> dict:
    result = provider.check(olds, news)
    assert [(f.property, f.reason) for f in result.failures] == []
    return {**result.inputs, "__provider": PROVIDER_PICKLE}


def test_lifecycle_with_request_counts(admin_env):
    emulator = admin_env
    provider = ModelProvider()

    news = checked(provider, {}, engine_inputs())
    created = provider.create(news)
    assert created.id == "llama-local"
    assert created.outs == INPUTS  # what we sent; never the server's encrypted litellm_params
    assert emulator.count() == 1 and emulator.count("POST", "/model/new") == 1
    stored = emulator.models["llama-local"]
    assert stored["litellm_params"]["rpm"] == 10 and stored["model_info"]["mode"] == "chat"

    emulator.reset_counts()
    read = provider.read(created.id, {**created.outs, "__provider": PROVIDER_PICKLE})
    assert emulator.count() == 1
    assert read.id == "llama-local" and read.outs == INPUTS and read.inputs == INPUTS

    diff = provider.diff(created.id, {**read.outs, "__provider": PROVIDER_PICKLE}, news)
    assert diff.changes is False and diff.replaces == []

    emulator.reset_counts()
    more_rpm = checked(provider, news, engine_inputs(litellm_params={**INPUTS["litellm_params"], "rpm": 20.0}))
    diff = provider.diff(created.id, {**created.outs, "__provider": PROVIDER_PICKLE}, more_rpm)
    assert diff.changes is True and diff.replaces == []
    updated = provider.update(created.id, created.outs, more_rpm)
    assert emulator.count() == 1 and emulator.count("PATCH", "/model/llama-local/update") == 1
    assert emulator.access_log[0]["body"] == '{"litellm_params": {"rpm": 20}}'
    assert updated.outs["litellm_params"]["rpm"] == 20.0
    assert emulator.models["llama-local"]["litellm_params"]["rpm"] == 20

    # Dropping a parameter cannot be done in place: replace, deleting first since the id is kept.
    without_rpm = {k: v for k, v in INPUTS["litellm_params"].items() if k != "rpm"}
    fewer_params = checked(provider, more_rpm, engine_inputs(litellm_params=without_rpm))
    diff = provider.diff(created.id, {**updated.outs, "__provider": PROVIDER_PICKLE}, fewer_params)
    assert diff.replaces == ["litellm_params"]
    assert diff.delete_before_replace is True

    emulator.reset_counts()
    provider.delete(created.id, updated.outs)
    assert emulator.count() == 1 and emulator.count("POST", "/model/delete") == 1
    replacement = provider.create(fewer_params)
    assert "rpm" not in emulator.models[replacement.id]["litellm_params"]

    emulator.reset_counts()
    provider.delete(replacement.id, replacement.outs)
    assert emulator.models == {}
    assert emulator.count() == 1
    provider.delete(replacement.id, replacement.outs)  # already gone: success (400 "not found", then a look)
    assert emulator.count("POST", "/model/delete") == 2
    assert_no_secrets_in_access_log(emulator)


def test_a_secret_literal_credential_is_sent_but_never_diffed(admin_env):
    emulator = admin_env
    provider = ModelProvider()
    params = {"model": "openai/gpt-4o", "api_key": "provider-secret-value-123"}
    news = checked(provider, {}, {"model_id": "gpt", "model_name": "gpt-4o", "litellm_params": params,
                                  "credentials_secret": True, "__provider": PROVIDER_PICKLE})
    created = provider.create(news)
    assert emulator.models["gpt"]["litellm_params"]["api_key"] == "provider-secret-value-123"
    read = provider.read("gpt", {**created.outs, "__provider": PROVIDER_PICKLE})
    assert read.outs["litellm_params"]["api_key"] == "provider-secret-value-123"  # masked on read: ours kept
    assert provider.diff("gpt", read.outs, news).changes is False


def test_check_rejects_a_literal_credential_that_was_not_a_secret(admin_env):
    provider = ModelProvider()
    result = provider.check({}, engine_inputs(litellm_params={"model": "openai/gpt-4o", "api_key": "plain"}))
    assert [f.property for f in result.failures] == ["litellm_params.api_key"]
    assert admin_env.count() == 0


def test_import_of_a_model_created_out_of_band(admin_env, endpoint):
    emulator = admin_env
    client.create_model(
        endpoint,
        {
            "model_name": "llama-3.2",
            "litellm_params": {"model": "ollama_chat/llama3.2", "api_base": "http://127.0.0.1:11434",
                               "api_key": "os.environ/OLLAMA_API_KEY", "rpm": 10},
            "model_info": {"id": "llama-local", "mode": "chat"},
        },
    )
    provider = ModelProvider()
    news = checked(provider, {}, engine_inputs())
    emulator.reset_counts()
    read = provider.read("llama-local", news)  # import: the engine passes the program's inputs
    assert emulator.count() == 1
    assert read.id == "llama-local" and read.inputs == INPUTS
    assert provider.diff("llama-local", {**read.outs, "__provider": PROVIDER_PICKLE}, news).changes is False

    other = checked(provider, {}, engine_inputs(model_name="llama"))
    assert provider.diff("llama-local", read.outs, other).changes is True


def test_refresh_finds_drift_and_deletion(admin_env, endpoint):
    emulator = admin_env
    provider = ModelProvider()
    news = checked(provider, {}, engine_inputs())
    created = provider.create(news)

    client.update_model(endpoint, "llama-local", {"litellm_params": {"rpm": 99}, "model_name": "renamed"})
    read = provider.read(created.id, {**created.outs, "__provider": PROVIDER_PICKLE})
    assert read.outs["litellm_params"]["rpm"] == 99 and read.outs["model_name"] == "renamed"
    diff = provider.diff(created.id, read.outs, news)
    assert diff.changes is True and diff.replaces == []
    provider.update(created.id, read.outs, news)
    assert emulator.models["llama-local"]["litellm_params"]["rpm"] == 10
    assert emulator.models["llama-local"]["model_name"] == "llama-3.2"

    client.delete_model(endpoint, "llama-local")
    gone = provider.read(created.id, {**created.outs, "__provider": PROVIDER_PICKLE})
    assert gone.id is None and gone.outs == {}


def test_update_of_a_model_deleted_out_of_band_says_to_refresh(admin_env, endpoint):
    provider = ModelProvider()
    news = checked(provider, {}, engine_inputs())
    created = provider.create(news)
    client.delete_model(endpoint, "llama-local")
    with pytest.raises(AdminApiError, match="pulumi refresh"):
        provider.update(created.id, created.outs, engine_inputs(model_name="other"))


@pytest.mark.parametrize(
    "kind, writes, reads",
    [
        ("500", 2, 1),  # not saved: look, then write again
        ("500-after-write", 1, 1),  # saved despite the 500: the look finds it, no second write
        ("429", 2, 0),  # refused: wait Retry-After and write again, nothing to look for
        ("drop", 2, 1),  # no answer at all: look, then write again
        ("slow", 1, 0),  # slower than usual but within the client timeout
    ],
)
def test_create_recovers_from_each_fault_without_duplicates(admin_env, kind, writes, reads):
    emulator = admin_env
    emulator.inject_fault("POST", "/model/new", kind, seconds=0.2)
    created = ModelProvider().create(engine_inputs())
    assert created.id == "llama-local"
    assert list(emulator.models) == ["llama-local"]
    assert emulator.count("POST", "/model/new") == writes
    assert emulator.count("GET", "/v2/model/info") == reads


def test_create_slower_than_the_client_timeout_leaves_one_model(admin_env):
    emulator = admin_env
    emulator.inject_fault("POST", "/model/new", "slow", seconds=2.5)  # the client gives up after 1 s
    created = ModelProvider().create(engine_inputs())
    wait_until_all_requests_answered(emulator)
    assert created.id == "llama-local"
    assert list(emulator.models) == ["llama-local"]  # the late original hit the duplicate id


@pytest.mark.parametrize("kind", ["500", "500-after-write", "429", "drop"])
def test_update_and_delete_recover_from_each_fault(admin_env, kind):
    emulator = admin_env
    provider = ModelProvider()
    created = provider.create(engine_inputs())
    emulator.inject_fault("PATCH", "/model/llama-local/update", kind)
    provider.update(created.id, created.outs, engine_inputs(model_name="llama"))
    assert emulator.models["llama-local"]["model_name"] == "llama"
    emulator.inject_fault("POST", "/model/delete", kind)
    provider.delete(created.id, created.outs)
    assert emulator.models == {}


def test_a_persistent_failure_is_a_clear_error_and_leaves_nothing(admin_env):
    emulator = admin_env
    emulator.inject_fault("POST", "/model/new", "500", times=10)
    with pytest.raises(AdminApiError) as raised:
        ModelProvider().create(engine_inputs())
    message = str(raised.value)
    assert "POST /model/new" in message and "HTTP 500" in message and "gave up after 4 attempts" in message
    assert emulator.master_key not in message
    assert emulator.models == {}
    assert emulator.count("POST", "/model/new") == 4
