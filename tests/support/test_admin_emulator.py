"""Tests for the LiteLLM admin-API emulator, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from datetime import datetime

import httpx
import pytest

from tests.support.admin_emulator import AdminEmulator


@pytest.fixture
def emulator() -> Iterator[AdminEmulator]:
    with AdminEmulator() as running:
        yield running


@pytest.fixture
def client(emulator: AdminEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=emulator.base_url, headers={"Authorization": f"Bearer {emulator.master_key}"}, timeout=30
    ) as http:
        yield http


def _new_model(client: httpx.Client, model_id: str, **overrides: object) -> httpx.Response:
    body = {
        "model_name": "gpt-4o-public",
        "litellm_params": {"model": "openai/gpt-4o", "api_key": "sk-provider-secret", "api_base": "https://api.openai.com/v1"},
        "model_info": {"id": model_id},
        **overrides,
    }
    return client.post("/model/new", json=body)


def _assert_proxy_error(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) >= {"message", "type", "param", "code"}
    assert error["code"] == str(status)
    return error


def _sha256(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


# ---------------------------------------------------------------------------- lifecycle / health
def test_binds_loopback_and_health_endpoints_need_no_auth(emulator: AdminEmulator) -> None:
    assert emulator.base_url.startswith("http://127.0.0.1:")
    assert httpx.get(f"{emulator.base_url}/health/readiness").json() == {"status": "healthy", "db": "connected"}
    liveliness = httpx.get(f"{emulator.base_url}/health/liveliness")
    assert liveliness.status_code == 200
    assert liveliness.json() == "I'm alive!"


def test_stop_closes_the_port_and_instances_do_not_share_state() -> None:
    first = AdminEmulator().start()
    second = AdminEmulator().start()
    try:
        assert first.base_url != second.base_url
        headers = {"Authorization": f"Bearer {first.master_key}"}
        created = httpx.post(f"{first.base_url}/team/new", json={"team_id": "only-in-first"}, headers=headers)
        assert created.status_code == 200
        assert "only-in-first" in first.teams
        assert second.teams == {}
    finally:
        first.stop()
        second.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{first.base_url}/health/readiness")


def test_generated_values_are_deterministic_per_instance() -> None:
    raw_keys = []
    for _ in range(2):
        with AdminEmulator() as emu:
            response = httpx.post(
                f"{emu.base_url}/key/generate", json={}, headers={"Authorization": f"Bearer {emu.master_key}"}
            )
            raw_keys.append(response.json()["key"])
    assert raw_keys[0] == raw_keys[1]
    assert raw_keys[0].startswith("sk-")


# ---------------------------------------------------------------------------- auth
def test_missing_key_is_401_in_proxy_error_shape(emulator: AdminEmulator) -> None:
    error = _assert_proxy_error(httpx.get(f"{emulator.base_url}/key/list"), 401)
    assert error["message"] == "Authentication Error, No api key passed in."
    assert error["type"] == "auth_error"


def test_wrong_keys_are_401(emulator: AdminEmulator) -> None:
    wrong_virtual = httpx.get(f"{emulator.base_url}/key/list", headers={"Authorization": "Bearer sk-not-the-master"})
    assert _assert_proxy_error(wrong_virtual, 401)["type"] == "token_not_found_in_db"
    not_sk = httpx.get(f"{emulator.base_url}/key/list", headers={"Authorization": "Bearer hunter2-password"})
    assert "expected to start with 'sk-'" in _assert_proxy_error(not_sk, 401)["message"]
    no_bearer = httpx.get(f"{emulator.base_url}/key/list", headers={"Authorization": emulator.master_key})
    assert "Malformed API Key" in _assert_proxy_error(no_bearer, 401)["message"]


def test_x_litellm_api_key_wins_over_authorization(emulator: AdminEmulator) -> None:
    good_custom = httpx.get(
        f"{emulator.base_url}/key/list",
        headers={"x-litellm-api-key": emulator.master_key, "Authorization": "Bearer sk-wrong"},
    )
    assert good_custom.status_code == 200
    bad_custom = httpx.get(
        f"{emulator.base_url}/key/list",
        headers={"x-litellm-api-key": "sk-wrong", "Authorization": f"Bearer {emulator.master_key}"},
    )
    _assert_proxy_error(bad_custom, 401)


# ---------------------------------------------------------------------------- request validation
def test_wrongly_typed_field_is_422_with_public_error_fields(client: httpx.Client, emulator: AdminEmulator) -> None:
    response = client.post("/key/generate", json={"max_budget": "lots"})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert isinstance(detail, list)
    assert detail[0]["loc"] == ["body", "max_budget"]
    assert set(detail[0]) == {"type", "loc", "msg"}
    assert emulator.keys == {}


def test_misnamed_key_field_is_silently_ignored_like_the_real_class(client: httpx.Client, emulator: AdminEmulator) -> None:
    # GenerateKeyRequest does not forbid extras, so the real proxy drops `max_budgett` and creates an unbudgeted key.
    response = client.post("/key/generate", json={"max_budgett": 10})
    assert response.status_code == 200
    stored = emulator.keys[response.json()["token"]]
    assert stored["max_budget"] is None
    assert "max_budgett" not in stored


def test_misnamed_litellm_param_is_kept_as_an_extra(client: httpx.Client, emulator: AdminEmulator) -> None:
    # GenericLiteLLMParams allows extras: a typo becomes a stored parameter rather than an error.
    response = client.post(
        "/model/new",
        json={"model_name": "m", "litellm_params": {"model": "openai/gpt-4o", "api_keyy": "oops"}, "model_info": {"id": "typo"}},
    )
    assert response.status_code == 200
    assert emulator.models["typo"]["litellm_params"]["api_keyy"] == "oops"


def test_missing_required_fields_are_422(client: httpx.Client) -> None:
    assert client.post("/model/new", json={"model_name": "m", "litellm_params": {}}).status_code == 422
    assert client.post("/key/delete", json={}).status_code == 422
    assert client.post("/team/delete", json={}).status_code == 422
    assert client.post("/model/delete", json={}).status_code == 422
    assert client.post("/team/update", json={"team_alias": "no id"}).status_code == 422


# ---------------------------------------------------------------------------- models
def test_model_new_stores_plaintext_and_answers_with_encrypted_params(client: httpx.Client, emulator: AdminEmulator) -> None:
    response = _new_model(client, "model-1")
    assert response.status_code == 200
    row = response.json()
    assert row["model_id"] == "model-1"
    assert row["litellm_params"]["api_key"] != "sk-provider-secret"
    assert row["litellm_params"]["model"] != "openai/gpt-4o"
    stored = emulator.models["model-1"]
    assert stored["litellm_params"]["api_key"] == "sk-provider-secret"
    assert stored["model_name"] == "gpt-4o-public"


def test_model_new_duplicate_id_is_500(client: httpx.Client) -> None:
    assert _new_model(client, "dup").status_code == 200
    error = _assert_proxy_error(_new_model(client, "dup"), 500)
    assert "Failed to add model to db" in error["message"]


def test_v2_model_info_masks_credentials_and_injects_defaults(client: httpx.Client) -> None:
    _new_model(client, "model-1")
    response = client.get("/v2/model/info", params={"modelId": "model-1"})
    assert response.status_code == 200
    body = response.json()
    assert body["total_count"] == 1
    model = body["data"][0]
    assert "api_key" not in model["litellm_params"]
    assert model["litellm_params"]["use_in_pass_through"] is False
    assert model["model_info"]["db_model"] is True
    assert model["model_info"]["mode"] == "chat"
    assert model["model_info"]["input_cost_per_token"] > 0


def test_v2_model_info_unknown_id_is_200_with_empty_data(client: httpx.Client) -> None:
    _new_model(client, "model-1")
    body = client.get("/v2/model/info", params={"modelId": "nope"}).json()
    assert body["data"] == []
    assert body["total_count"] == 0


def test_v2_model_info_paginates(client: httpx.Client) -> None:
    for index in range(3):
        _new_model(client, f"model-{index}")
    first = client.get("/v2/model/info", params={"page": 1, "size": 2}).json()
    second = client.get("/v2/model/info", params={"page": 2, "size": 2}).json()
    assert (first["total_count"], first["total_pages"], len(first["data"])) == (3, 2, 2)
    assert len(second["data"]) == 1
    ids = {m["model_info"]["id"] for m in first["data"] + second["data"]}
    assert ids == {"model-0", "model-1", "model-2"}


def test_model_info_v1_by_id_and_unknown_id(client: httpx.Client) -> None:
    _new_model(client, "model-1")
    found = client.get("/model/info", params={"litellm_model_id": "model-1"})
    assert found.status_code == 200
    assert "api_key" not in found.json()["data"][0]["litellm_params"]
    missing = client.get("/model/info", params={"litellm_model_id": "nope"})
    assert missing.status_code == 400
    assert missing.json() == {"detail": {"error": "Model id = nope not found on litellm proxy"}}


def test_team_model_name_is_rewritten_in_storage_and_restored_on_read(client: httpx.Client, emulator: AdminEmulator) -> None:
    client.post("/team/new", json={"team_id": "team-a"})
    response = _new_model(client, "team-model", model_info={"id": "team-model", "team_id": "team-a"})
    assert response.json()["model_name"].startswith("model_name_team-a_")
    assert emulator.teams["team-a"]["models"] == ["gpt-4o-public"]
    read = client.get("/v2/model/info", params={"modelId": "team-model"}).json()["data"][0]
    assert read["model_name"] == "gpt-4o-public"


def test_patch_model_merges_non_null_fields(client: httpx.Client, emulator: AdminEmulator) -> None:
    _new_model(client, "model-1")
    response = client.patch(
        "/model/model-1/update",
        json={"litellm_params": {"api_base": "https://other.example/v1", "rpm": 5}, "model_info": {"base_model": "gpt-4o"}},
    )
    assert response.status_code == 200
    stored = emulator.models["model-1"]
    assert stored["litellm_params"]["api_base"] == "https://other.example/v1"
    assert stored["litellm_params"]["rpm"] == 5
    assert stored["litellm_params"]["api_key"] == "sk-provider-secret"
    assert stored["model_info"]["base_model"] == "gpt-4o"


def test_patch_model_unknown_id_is_404(client: httpx.Client) -> None:
    error = _assert_proxy_error(client.patch("/model/nope/update", json={"model_name": "x"}), 404)
    assert error["type"] == "not_found_error"
    assert error["message"] == "Model nope not found on proxy."


def test_post_model_update_writes_params_but_not_model_info(client: httpx.Client, emulator: AdminEmulator) -> None:
    _new_model(client, "model-1")
    response = client.post(
        "/model/update",
        json={"model_info": {"id": "model-1", "base_model": "ignored"}, "litellm_params": {"api_base": "https://new.example"}},
    )
    assert response.status_code == 200
    stored = emulator.models["model-1"]
    assert stored["litellm_params"]["api_base"] == "https://new.example"
    assert stored["litellm_params"]["api_key"] == "sk-provider-secret"
    assert "base_model" not in stored["model_info"]


def test_post_model_update_unknown_id_is_400(client: httpx.Client) -> None:
    response = client.post("/model/update", json={"model_info": {"id": "nope"}, "litellm_params": {"model": "x"}})
    assert "model not found" in _assert_proxy_error(response, 400)["message"]


def test_model_delete_and_not_found(client: httpx.Client, emulator: AdminEmulator) -> None:
    _new_model(client, "model-1")
    deleted = client.post("/model/delete", json={"id": "model-1"})
    assert deleted.status_code == 200
    assert deleted.json() == {"message": "Model: model-1 deleted successfully"}
    assert "model-1" not in emulator.models
    error = _assert_proxy_error(client.post("/model/delete", json={"id": "model-1"}), 400)
    assert "not found" in error["message"]


# ---------------------------------------------------------------------------- keys
def test_key_generate_returns_raw_key_once_and_stores_by_hash(client: httpx.Client, emulator: AdminEmulator) -> None:
    response = client.post("/key/generate", json={"key_alias": "ci", "models": [], "metadata": {"owner": "ci"}})
    assert response.status_code == 200
    body = response.json()
    raw_key = body["key"]
    assert raw_key.startswith("sk-")
    assert body["token"] == body["token_id"] == _sha256(raw_key)
    stored = emulator.keys[_sha256(raw_key)]
    assert stored["models"] == []
    assert stored["metadata"] == {"owner": "ci"}
    assert raw_key not in str(stored)


def test_key_generate_custom_key_rules(client: httpx.Client) -> None:
    assert "must start with 'sk-'" in _assert_proxy_error(client.post("/key/generate", json={"key": "pk-0123456789abcdef"}), 400)["message"]
    assert "at least" in _assert_proxy_error(client.post("/key/generate", json={"key": "sk-short"}), 400)["message"]
    custom = client.post("/key/generate", json={"key": "sk-custom-0123456789"})
    assert custom.json()["key"] == "sk-custom-0123456789"


def test_duplicate_custom_key_echoes_request_and_changes_nothing(client: httpx.Client, emulator: AdminEmulator) -> None:
    first = client.post("/key/generate", json={"key": "sk-custom-0123456789", "max_budget": 1.0})
    second = client.post("/key/generate", json={"key": "sk-custom-0123456789", "max_budget": 99.0})
    assert second.status_code == 200
    assert second.json()["max_budget"] == 99.0
    assert emulator.keys[first.json()["token"]]["max_budget"] == 1.0
    assert len(emulator.keys) == 1


def test_duplicate_alias_is_400(client: httpx.Client) -> None:
    assert client.post("/key/generate", json={"key_alias": "shared"}).status_code == 200
    error = _assert_proxy_error(client.post("/key/generate", json={"key_alias": "shared"}), 400)
    assert error["param"] == "key_alias"
    assert "already exists" in error["message"]


def test_duration_sets_expires(client: httpx.Client, emulator: AdminEmulator) -> None:
    body = client.post("/key/generate", json={"duration": "1h"}).json()
    stored = emulator.keys[body["token"]]
    lifetime = datetime.fromisoformat(stored["expires"]) - datetime.fromisoformat(stored["created_at"])
    assert lifetime.total_seconds() == pytest.approx(3600, abs=5)


def test_key_info_by_hash_and_raw_with_injected_defaults(client: httpx.Client) -> None:
    body = client.post("/key/generate", json={"key_alias": "info"}).json()
    by_hash = client.get("/key/info", params={"key": body["token"]})
    by_raw = client.get("/key/info", params={"key": body["key"]})
    assert by_hash.status_code == by_raw.status_code == 200
    info = by_hash.json()["info"]
    assert by_hash.json()["key"] == body["token"]
    assert "token" not in info
    assert info["spend"] == 0.0
    assert info["blocked"] is None
    assert info["status"] == "active"
    assert info["key_alias"] == "info"
    assert by_raw.json()["info"]["key_alias"] == "info"


def test_key_info_never_existed_is_404(client: httpx.Client) -> None:
    error = _assert_proxy_error(client.get("/key/info", params={"key": "0" * 64}), 404)
    assert error["message"] == "Key not found in database"


def test_key_update_is_a_merge_patch(client: httpx.Client, emulator: AdminEmulator) -> None:
    body = client.post(
        "/key/generate", json={"key_alias": "patch", "max_budget": 5.0, "models": ["a"], "metadata": {"x": 1, "y": 2}}
    ).json()
    response = client.post("/key/update", json={"key": body["token"], "max_budget": None, "metadata": {"z": 3}})
    assert response.status_code == 200
    assert response.json()["key"] == body["token"]
    stored = emulator.keys[body["token"]]
    assert stored["max_budget"] is None
    assert stored["models"] == ["a"]
    assert stored["key_alias"] == "patch"
    assert stored["metadata"] == {"z": 3}


def test_key_update_resending_duration_extends_expiry(client: httpx.Client, emulator: AdminEmulator) -> None:
    body = client.post("/key/generate", json={"duration": "1d"}).json()
    before = datetime.fromisoformat(emulator.keys[body["token"]]["expires"])
    client.post("/key/update", json={"key": body["key"], "duration": "1d"})
    after = datetime.fromisoformat(emulator.keys[body["token"]]["expires"])
    assert after > before


def test_key_update_missing_key_is_404_and_alias_clash_is_400(client: httpx.Client) -> None:
    assert _assert_proxy_error(client.post("/key/update", json={"key": "sk-does-not-exist-123"}), 404)["type"] == "not_found_error"
    client.post("/key/generate", json={"key_alias": "one"})
    other = client.post("/key/generate", json={"key_alias": "two"}).json()
    clash = client.post("/key/update", json={"key": other["token"], "key_alias": "one"})
    assert _assert_proxy_error(clash, 400)["param"] == "key_alias"


def test_key_delete_soft_deletes(client: httpx.Client, emulator: AdminEmulator) -> None:
    by_key = client.post("/key/generate", json={}).json()
    by_alias = client.post("/key/generate", json={"key_alias": "doomed"}).json()
    assert client.post("/key/delete", json={"keys": [by_key["key"]]}).json() == {"deleted_keys": [by_key["key"]]}
    assert client.post("/key/delete", json={"key_aliases": ["doomed"]}).json() == {"deleted_keys": ["doomed"]}
    assert emulator.keys == {}
    info = client.get("/key/info", params={"key": by_alias["token"]})
    assert info.status_code == 200
    assert info.json()["info"]["status"] == "deleted"


def test_key_delete_none_found_is_404(client: httpx.Client) -> None:
    error = _assert_proxy_error(client.post("/key/delete", json={"keys": ["sk-never-existed-0000"]}), 404)
    assert "No keys found" in error["message"]
    assert client.post("/key/delete", json={"key_aliases": ["ghost"]}).status_code == 404


def test_key_list_paginates_250_keys(client: httpx.Client, emulator: AdminEmulator) -> None:
    for _ in range(250):
        assert client.post("/key/generate", json={}).status_code == 200
    default_page = client.get("/key/list").json()
    assert len(default_page["keys"]) == 10
    assert (default_page["total_count"], default_page["total_pages"], default_page["current_page"]) == (250, 25, 1)
    seen: list[str] = []
    pages = []
    for page in (1, 2, 3):
        listing = client.get("/key/list", params={"page": page, "size": 100}).json()
        pages.append(len(listing["keys"]))
        seen.extend(listing["keys"])
    assert pages == [100, 100, 50]
    assert len(set(seen)) == 250
    assert set(seen) == set(emulator.keys)
    assert client.get("/key/list", params={"page": 4, "size": 100}).json()["keys"] == []
    assert client.get("/key/list", params={"size": 101}).status_code == 422


def test_key_list_full_objects(client: httpx.Client) -> None:
    client.post("/key/generate", json={"key_alias": "full"})
    listing = client.get("/key/list", params={"return_full_object": "true"}).json()
    assert listing["keys"][0]["key_alias"] == "full"


def test_concurrent_key_generation_is_consistent(emulator: AdminEmulator) -> None:
    def generate(index: int) -> None:
        httpx.post(
            f"{emulator.base_url}/key/generate",
            json={"key_alias": f"parallel-{index}"},
            headers={"Authorization": f"Bearer {emulator.master_key}"},
            timeout=30,
        ).raise_for_status()

    threads = [threading.Thread(target=generate, args=(index,)) for index in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(emulator.keys) == 20
    assert emulator.count("POST", "/key/generate") == 20


# ---------------------------------------------------------------------------- teams
def test_team_lifecycle(client: httpx.Client, emulator: AdminEmulator) -> None:
    created = client.post("/team/new", json={"team_id": "team-a", "team_alias": "A", "max_budget": 10.0})
    assert created.status_code == 200
    assert created.json()["team_id"] == "team-a"
    assert created.json()["spend"] == 0.0
    updated = client.post("/team/update", json={"team_id": "team-a", "models": ["gpt-4o"]})
    assert updated.json()["team_id"] == "team-a"
    assert emulator.teams["team-a"]["models"] == ["gpt-4o"]
    assert emulator.teams["team-a"]["max_budget"] == 10.0
    info = client.get("/team/info", params={"team_id": "team-a"})
    assert info.json()["team_info"]["team_alias"] == "A"
    listed = client.get("/team/list").json()
    assert [team["team_id"] for team in listed] == ["team-a"]


def test_team_new_generates_an_id_and_rejects_duplicates(client: httpx.Client) -> None:
    generated = client.post("/team/new", json={}).json()["team_id"]
    assert generated
    client.post("/team/new", json={"team_id": "team-a"})
    error = _assert_proxy_error(client.post("/team/new", json={"team_id": "team-a"}), 400)
    assert "already exists" in error["message"]


def test_team_not_found_shapes(client: httpx.Client) -> None:
    assert "Team not found" in _assert_proxy_error(client.post("/team/update", json={"team_id": "nope"}), 404)["message"]
    assert "Team not found" in _assert_proxy_error(client.get("/team/info", params={"team_id": "nope"}), 404)["message"]
    deleted = client.post("/team/delete", json={"team_ids": ["nope"]})
    assert deleted.status_code == 404
    assert deleted.json() == {"detail": {"error": "Team not found, passed team_id=nope"}}


def test_team_delete_also_deletes_its_keys(client: httpx.Client, emulator: AdminEmulator) -> None:
    client.post("/team/new", json={"team_id": "team-a"})
    team_key = client.post("/key/generate", json={"team_id": "team-a"}).json()
    other_key = client.post("/key/generate", json={}).json()
    assert client.post("/team/delete", json={"team_ids": ["team-a"]}).json() == {"deleted_teams": ["team-a"]}
    assert emulator.teams == {}
    assert set(emulator.keys) == {other_key["token"]}
    assert client.get("/key/info", params={"key": team_key["token"]}).json()["info"]["status"] == "deleted"


# ---------------------------------------------------------------------------- faults and the access log
def test_fault_500_fails_before_writing(client: httpx.Client, emulator: AdminEmulator) -> None:
    emulator.inject_fault("POST", "/model/new", "500")
    _assert_proxy_error(_new_model(client, "model-1"), 500)
    assert emulator.models == {}
    assert _new_model(client, "model-1").status_code == 200


def test_fault_429_carries_retry_after(client: httpx.Client, emulator: AdminEmulator) -> None:
    emulator.inject_fault("GET", "/key/list", "429", times=2)
    for _ in range(2):
        response = client.get("/key/list")
        assert response.status_code == 429
        assert response.headers["retry-after"] == "0"
    assert client.get("/key/list").status_code == 200


def test_fault_500_after_write_keeps_the_write(client: httpx.Client, emulator: AdminEmulator) -> None:
    emulator.inject_fault("POST", "/model/new", "500-after-write")
    assert _new_model(client, "model-1").status_code == 500
    assert "model-1" in emulator.models
    assert client.get("/v2/model/info", params={"modelId": "model-1"}).json()["total_count"] == 1


def test_fault_slow_still_answers_normally(client: httpx.Client, emulator: AdminEmulator) -> None:
    emulator.inject_fault("POST", "/team/new", "slow", seconds=0.05)
    assert client.post("/team/new", json={"team_id": "slow-team"}).status_code == 200
    assert "slow-team" in emulator.teams


def test_fault_drop_closes_without_response(client: httpx.Client, emulator: AdminEmulator) -> None:
    emulator.inject_fault("POST", "/team/new", "drop")
    with pytest.raises(httpx.RemoteProtocolError):
        client.post("/team/new", json={"team_id": "dropped"})
    assert emulator.teams == {}
    assert client.post("/team/new", json={"team_id": "dropped"}).status_code == 200


def test_unknown_fault_kind_is_rejected(emulator: AdminEmulator) -> None:
    with pytest.raises(ValueError):
        emulator.inject_fault("GET", "/key/list", "teapot")


def test_access_log_and_counts(client: httpx.Client, emulator: AdminEmulator) -> None:
    client.post("/team/new", json={"team_id": "logged"})
    client.get("/team/info", params={"team_id": "logged"})
    entry = emulator.access_log[0]
    assert entry["method"] == "POST"
    assert entry["path"] == "/team/new"
    assert entry["status"] == 200
    assert entry["headers"]["authorization"] == f"Bearer {emulator.master_key}"
    assert '"logged"' in entry["body"]
    assert emulator.access_log[1]["query"] == "team_id=logged"
    assert emulator.count() == 2
    assert emulator.count("GET") == 1
    assert emulator.count(path="/team/new") == 1
    emulator.reset_counts()
    assert emulator.count() == 0


def test_latency_option_still_serves(emulator: AdminEmulator) -> None:
    with AdminEmulator(latency=0.01) as slow:
        assert httpx.get(f"{slow.base_url}/health/readiness").status_code == 200
        assert slow.count("GET", "/health/readiness") == 1
