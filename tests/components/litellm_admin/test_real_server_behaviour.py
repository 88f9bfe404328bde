"""What the pinned LiteLLM server does that the emulator used to skip, and the provider fixes it forced.

Each test here failed on the code before issue 10 (emulator or provider), and each behaviour is also
proven against the real proxy with its database in test_real_proxy.py:

* a team move that also narrows a key's models (or lowers a limit) is refused (403) as one /key/update:
  the server checks the key's STORED models and limits against the new team (KME
  validate_key_team_change, called by the emulator itself); the provider now sends two requests;
* `budget_duration: 0d` is refused (400) by LiteLLM's own validate_budget_duration;
* renaming a model rewrites the `models` of the teams and keys that named the old name;
* /model/new answers 500 after saving a model its router cannot serve; the provider removes the row and
  fails with the server's reason instead of reading it back as a success;
* a model update without `model_info.id` gets a random id over the stored one; the provider sends it;
* /v2/model/info answers an empty page from a worker that has not loaded any model yet; refresh no
  longer drops a model that exists.
"""

from __future__ import annotations

import json

import pytest
import requests

from components.litellm_admin import client, specs
from components.litellm_admin.client import AdminApiError
from components.litellm_admin.model_provider import ModelProvider
from components.litellm_admin.team_provider import TeamProvider
from components.litellm_admin.virtual_key_provider import VirtualKeyProvider

PROVIDER_PICKLE = "pickled-provider-placeholder"
OWNER = "litellm-gateway/dev/mover"


def engine(props: dict) -> dict:
    return {**{k: v for k, v in props.items() if v is not None}, "__provider": PROVIDER_PICKLE}


def seed_models(endpoint, *names: str) -> None:
    for name in names:
        client.create_model(
            endpoint,
            {"model_name": name, "litellm_params": {"model": f"openai/{name}", "api_key": "os.environ/OPENAI_API_KEY"}, "model_info": {"id": f"id-{name}"}},
        )


def key_bodies(emulator) -> list[dict]:
    return [json.loads(entry["body"]) for entry in emulator.access_log if entry["path"] == "/key/update"]


# --------------------------------------------------------------------------------------------------
# Team move
# --------------------------------------------------------------------------------------------------


def test_server_refuses_a_team_move_checked_against_the_stored_models(endpoint, emulator):
    seed_models(endpoint, "m-a", "m-b")
    client.create_team(endpoint, {"team_id": "old", "models": ["m-a", "m-b"]})
    client.create_team(endpoint, {"team_id": "new", "models": ["m-a"]})
    key = client.generate_key(endpoint, {"key_alias": "k", "team_id": "old", "models": ["m-a", "m-b"]})

    with pytest.raises(AdminApiError) as refused:
        client.update_key(endpoint, key["token"], {"team_id": "new", "models": ["m-a"]})
    assert refused.value.status == 403
    assert emulator.keys[key["token"]]["team_id"] == "old"

    # The same change in two requests is accepted: narrow first, then move.
    client.update_key(endpoint, key["token"], {"models": ["m-a"]})
    client.update_key(endpoint, key["token"], {"team_id": "new"})
    assert emulator.keys[key["token"]]["team_id"] == "new"


def test_server_refuses_a_team_move_when_the_stored_tpm_limit_exceeds_the_new_teams(endpoint, emulator):
    seed_models(endpoint, "m-a")
    client.create_team(endpoint, {"team_id": "old", "models": ["m-a"]})
    client.create_team(endpoint, {"team_id": "small", "models": ["m-a"], "tpm_limit": 1000, "rpm_limit": 10})
    key = client.generate_key(endpoint, {"key_alias": "k", "team_id": "old", "tpm_limit": 5000, "rpm_limit": 50})
    with pytest.raises(AdminApiError) as refused:
        client.update_key(endpoint, key["token"], {"team_id": "small", "tpm_limit": 500, "rpm_limit": 5})
    assert refused.value.status == 403 and "tpm_limit" in refused.value.message


def test_provider_moves_a_key_while_narrowing_its_models_and_limits(admin_env, endpoint):
    emulator = admin_env
    seed_models(endpoint, "m-a", "m-b")
    client.create_team(endpoint, {"team_id": "old", "models": ["m-a", "m-b"]})
    client.create_team(endpoint, {"team_id": "new", "models": ["m-a"], "tpm_limit": 1000})
    provider = VirtualKeyProvider()
    olds_inputs = {"key_alias": "mover", "team_id": "old", "models": ["m-a", "m-b"], "tpm_limit": 5000.0, "owner": OWNER}
    created = provider.create(engine(olds_inputs))
    news = engine({**olds_inputs, "team_id": "new", "models": ["m-a"], "tpm_limit": 800.0})

    diff = provider.diff(created.id, {**created.outs, "__provider": PROVIDER_PICKLE}, news)
    assert diff.changes and diff.replaces == []  # an in-place update in `pulumi preview`
    emulator.reset_counts()
    provider.update(created.id, {**created.outs, "__provider": PROVIDER_PICKLE}, news)

    assert key_bodies(emulator) == [
        {"models": ["m-a"], "tpm_limit": 800, "key": created.id},
        {"team_id": "new", "key": created.id},
    ]
    row = emulator.keys[created.id]
    assert (row["team_id"], row["models"], row["tpm_limit"]) == ("new", ["m-a"], 800)


def test_key_update_steps_put_a_team_move_last_and_alone():
    patch = {"team_id": "t2", "models": ["a"], "metadata": {"x": 1}}
    expected = {"team_id": "t2", "models": ["a"], "metadata": {"x": 1}}
    assert specs.key_update_steps(patch, expected) == [
        ({"models": ["a"], "metadata": {"x": 1}}, {"models": ["a"], "metadata": {"x": 1}}),
        ({"team_id": "t2"}, {"team_id": "t2"}),
    ]
    assert specs.key_update_steps({"team_id": "t2"}, {"team_id": "t2"}) == [({"team_id": "t2"}, {"team_id": "t2"})]
    # Leaving a team is not checked by the server: one request.
    assert specs.key_update_steps({"team_id": None, "models": []}, {"team_id": None, "models": []}) == [
        ({"team_id": None, "models": []}, {"team_id": None, "models": []})
    ]


# --------------------------------------------------------------------------------------------------
# budget_duration
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("duration", ["0d", "0s", "-1d", "30x"])
def test_budget_duration_is_validated_by_litellms_own_function(endpoint, emulator, duration):
    with pytest.raises(AdminApiError) as on_generate:
        client.generate_key(endpoint, {"key_alias": "k", "budget_duration": duration})
    assert on_generate.value.status in (400, 422)
    with pytest.raises(AdminApiError) as on_team:
        client.create_team(endpoint, {"team_id": "t", "budget_duration": duration})
    assert on_team.value.status in (400, 422)
    client.create_team(endpoint, {"team_id": "t"})
    key = client.generate_key(endpoint, {"key_alias": "k"})
    with pytest.raises(AdminApiError) as on_key_update:
        client.update_key(endpoint, key["token"], {"budget_duration": duration})
    assert on_key_update.value.status in (400, 422)
    with pytest.raises(AdminApiError) as on_team_update:
        client.update_team(endpoint, "t", {"budget_duration": duration})
    assert on_team_update.value.status in (400, 422)
    if duration == "0d":
        for failure in (on_generate, on_team, on_key_update, on_team_update):
            assert failure.value.status == 400 and "Invalid budget_duration '0d'" in failure.value.message
    assert emulator.keys[key["token"]]["budget_duration"] is None and emulator.teams["t"]["budget_duration"] is None


# --------------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------------


def test_renaming_a_model_rewrites_the_allowlists_that_named_it(endpoint, emulator):
    seed_models(endpoint, "old-name", "other")
    client.create_team(endpoint, {"team_id": "t", "models": ["old-name", "other"]})
    key = client.generate_key(endpoint, {"key_alias": "k", "models": ["old-name"]})
    client.update_model(endpoint, "id-old-name", {"model_name": "new-name"})
    assert emulator.teams["t"]["models"] == ["new-name", "other"]
    assert emulator.keys[key["token"]]["models"] == ["new-name"]

    # A name another deployment still carries stays, and the new one is added beside it.
    client.create_model(endpoint, {"model_name": "shared", "litellm_params": {"model": "openai/x"}, "model_info": {"id": "r1"}})
    client.create_model(endpoint, {"model_name": "shared", "litellm_params": {"model": "openai/x"}, "model_info": {"id": "r2"}})
    client.update_team(endpoint, "t", {"models": ["shared"]})
    client.update_model(endpoint, "r2", {"model_name": "split"})
    assert emulator.teams["t"]["models"] == ["shared", "split"]


def test_new_model_the_router_cannot_serve_is_a_500_and_the_provider_removes_it(admin_env, endpoint):
    emulator = admin_env
    body = {"model_name": "bad", "litellm_params": {"model": "nonexistent-provider/foo"}, "model_info": {"id": "bad-1"}}
    raw = requests.post(
        f"{emulator.base_url}/model/new", json=body, headers={"Authorization": f"Bearer {emulator.master_key}"}, timeout=30
    )
    assert raw.status_code == 500
    assert "saved to the database, but" in client.error_message_from_body(raw.json())
    assert "bad-1" in emulator.models  # the server kept the row
    client.delete_model(endpoint, "bad-1")

    emulator.reset_counts()
    provider = ModelProvider()
    with pytest.raises(AdminApiError) as failed:
        provider.create(engine({"model_id": "bad-2", "model_name": "bad", "litellm_params": {"model": "nonexistent-provider/foo"}}))
    assert failed.value.status == 500 and "cannot serve this model" in failed.value.message
    assert "the saved row was removed again" in failed.value.message
    assert "bad-2" not in emulator.models
    assert emulator.count("POST", "/model/new") == 1  # not retried: the answer was not ambiguous


def test_model_update_keeps_the_stored_id(admin_env, endpoint):
    emulator = admin_env
    provider = ModelProvider()
    inputs = {"model_id": "keep-me", "model_name": "m", "litellm_params": {"model": "openai/gpt-4o"}, "model_info": {"mode": "chat"}}
    created = provider.create(engine(inputs))
    emulator.reset_counts()
    provider.update(created.id, {**created.outs, "__provider": PROVIDER_PICKLE}, engine({**inputs, "model_info": {"mode": "completion"}}))
    sent = json.loads(emulator.access_log[0]["body"])
    assert sent["model_info"] == {"mode": "completion", "id": "keep-me"}
    assert emulator.models["keep-me"]["model_info"]["id"] == "keep-me"
    assert emulator.models["keep-me"]["model_info"]["mode"] == "completion"


def test_refresh_keeps_a_model_a_lagging_worker_does_not_show(admin_env, endpoint, monkeypatch):
    emulator = admin_env
    provider = ModelProvider()
    inputs = {"model_id": "first", "model_name": "m", "litellm_params": {"model": "openai/gpt-4o"}}
    created = provider.create(engine(inputs))
    state = {**created.outs, "__provider": PROVIDER_PICKLE}

    stored = json.dumps(emulator.models["first"], sort_keys=True)
    # Two workers that have not reloaded yet answer before one that has.
    emulator.empty_router_answers = 2
    emulator.reset_counts()
    read = provider.read(created.id, state)
    assert read.id == "first" and read.outs == inputs
    assert emulator.count("GET", "/v2/model/info") == 3
    assert emulator.count("POST", "/model/update") == 2  # asked the database each time
    assert json.dumps(emulator.models["first"], sort_keys=True) == stored  # the probe wrote nothing

    # A lagging worker's empty page is not trusted for a model that is really gone either: the
    # database says so, and only then is the model dropped from state.
    del emulator.models["first"]
    emulator.empty_router_answers = 1
    assert provider.read(created.id, state).id is None

    # Exists but never shown within the wait: an error, not a dropped model.
    provider.create(engine(inputs))
    monkeypatch.setattr(client, "MODEL_VISIBILITY_WAIT_SECONDS", 0.2)
    emulator.empty_router_answers = 10_000
    with pytest.raises(client.ModelNotVisible):
        provider.read(created.id, state)
    emulator.empty_router_answers = 0


def test_delete_of_a_model_asks_the_database_not_a_lagging_worker(admin_env, endpoint):
    emulator = admin_env
    provider = ModelProvider()
    inputs = {"model_id": "gone", "model_name": "m", "litellm_params": {"model": "openai/gpt-4o"}}
    created = provider.create(engine(inputs))
    emulator.empty_router_answers = 5
    provider.delete(created.id, {**created.outs, "__provider": PROVIDER_PICKLE})
    provider.delete(created.id, {**created.outs, "__provider": PROVIDER_PICKLE})  # already gone: fine
    assert "gone" not in emulator.models


def test_team_provider_surfaces_a_refused_budget_duration(admin_env):
    provider = TeamProvider()
    with pytest.raises(AdminApiError) as refused:
        provider.create(engine({"team_id": "t", "budget_duration": "0d"}))
    assert refused.value.status == 400
