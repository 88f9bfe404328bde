"""Unit tests of the pure request-body / patch / diff / drift logic (no server)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from components.litellm_admin import specs
from components.litellm_admin.client import CREATE_ID_METADATA_FIELD
from components.litellm_admin.values import json_ready, same_instant, same_unordered, same_value

NOW = datetime(2030, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
UNKNOWN = specs.UNKNOWN


def test_unknown_sentinel_is_pulumis():
    from pulumi.runtime import rpc

    assert specs.UNKNOWN == rpc.UNKNOWN


def test_the_hosts_unknown_object_counts_as_unknown():
    """The 3.272 host deserializes the sentinel with keep_unknowns=True into pulumi.output.Unknown()."""
    from google.protobuf import struct_pb2
    from pulumi.output import Unknown
    from pulumi.runtime import rpc

    wire = struct_pb2.Struct()
    wire.update({"team_id": rpc.UNKNOWN, "metadata": {"app": rpc.UNKNOWN}})
    news = rpc.deserialize_properties(wire, keep_unknowns=True)
    assert isinstance(news["team_id"], Unknown)
    assert specs.is_unknown(news["team_id"]) and specs.contains_unknown(news["metadata"])
    assert specs.check_key({**news, "rotation_trigger": Unknown()}) == []
    assert not specs.is_unknown("04da6b54") and not specs.is_unknown(None)


# ---------------------------------------------------------------------------------------------- values


def test_numbers_compare_numerically_but_bools_are_not_numbers():
    assert same_value(32, 32.0)
    assert same_value({"rpm": 10, "nested": [1, 2.0]}, {"rpm": 10.0, "nested": [1.0, 2]})
    assert not same_value(True, 1)
    assert not same_value(10, 11.0)
    assert not same_value({"a": 1}, {"a": 1, "b": 2})


def test_model_lists_compare_without_order():
    assert same_unordered(["b", "a"], ["a", "b"])
    assert not same_unordered(["a"], ["a", "b"])


def test_instants_compare_across_spellings():
    assert same_instant("2030-01-01T00:00:00Z", "2030-01-01T00:00:00+00:00")
    assert same_instant("2030-01-01T01:00:00+01:00", "2030-01-01T00:00:00Z")
    assert not same_instant("2030-01-01T00:00:00Z", "2030-01-01T00:00:01Z")
    assert same_instant("2030-01-01T00:00:00Z", "2030-01-01T00:00:03.5+00:00", tolerance_seconds=5)


def test_json_ready_turns_pulumi_floats_back_into_ints():
    assert json_ready({"rpm": 10.0, "budget": 1.5, "flag": True, "list": [3.0]}) == {
        "rpm": 10,
        "budget": 1.5,
        "flag": True,
        "list": [3],
    }
    assert isinstance(json_ready(10.0), int)


# ---------------------------------------------------------------------------------------------- models

MODEL = {
    "model_id": "llama-local",
    "model_name": "llama-3.2",
    "litellm_params": {"model": "ollama_chat/llama3.2", "api_base": "http://127.0.0.1:11434", "rpm": 10},
    "model_info": {"mode": "chat"},
}


def with_changes(base: dict, **changes) -> dict:
    merged = {**base, **changes}
    return {name: value for name, value in merged.items() if value is not None}


def test_model_create_body_puts_the_chosen_id_in_model_info():
    body = specs.model_create_body({**MODEL, "litellm_params": {**MODEL["litellm_params"], "rpm": 10.0}})
    assert body == {
        "model_name": "llama-3.2",
        "litellm_params": {"model": "ollama_chat/llama3.2", "api_base": "http://127.0.0.1:11434", "rpm": 10},
        "model_info": {"mode": "chat", "id": "llama-local"},
    }
    assert isinstance(body["litellm_params"]["rpm"], int)


def test_model_no_diff_when_pulumi_turned_ints_into_floats():
    olds = {**MODEL, "__provider": "old-pickle"}
    news = {**MODEL, "litellm_params": {**MODEL["litellm_params"], "rpm": 10.0}, "__provider": "new-pickle"}
    diff = specs.diff_model(olds, news)
    assert diff.changes is False and diff.replaces == []


def test_model_changed_parameter_is_an_update_with_a_minimal_patch():
    news = {**MODEL, "litellm_params": {**MODEL["litellm_params"], "rpm": 20}}
    diff = specs.diff_model(MODEL, news)
    assert diff.changes and diff.replaces == [] and diff.changed == ["litellm_params"]
    assert specs.model_update_patch(MODEL, news) == {"litellm_params": {"rpm": 20}}


def test_model_added_parameter_and_renamed_model_patch_only_those():
    news = {**MODEL, "model_name": "llama", "litellm_params": {**MODEL["litellm_params"], "timeout": 30}}
    assert specs.diff_model(MODEL, news).replaces == []
    assert specs.model_update_patch(MODEL, news) == {"model_name": "llama", "litellm_params": {"timeout": 30}}


def test_model_removed_parameter_replaces_deleting_first_because_the_id_is_reused():
    params = dict(MODEL["litellm_params"])
    del params["rpm"]
    diff = specs.diff_model(MODEL, {**MODEL, "litellm_params": params})
    assert diff.replaces == ["litellm_params"]
    assert diff.delete_before_replace is True


def test_model_removed_model_info_entry_replaces():
    diff = specs.diff_model(MODEL, with_changes(MODEL, model_info=None))
    assert diff.replaces == ["model_info"]


def test_model_new_id_replaces_create_before_delete():
    diff = specs.diff_model(MODEL, {**MODEL, "model_id": "llama-local-2"})
    assert diff.replaces == ["model_id"]
    assert diff.delete_before_replace is None


def test_model_unknown_values_in_preview_count_as_changes():
    assert specs.diff_model(MODEL, {**MODEL, "model_id": UNKNOWN}).replaces == ["model_id"]
    diff = specs.diff_model(MODEL, {**MODEL, "litellm_params": {**MODEL["litellm_params"], "api_base": UNKNOWN}})
    assert diff.changes and diff.replaces == []


def test_model_check_accepts_env_references_and_secret_literals():
    assert specs.check_model({**MODEL, "litellm_params": {**MODEL["litellm_params"], "api_key": "os.environ/KEY"}}) == []
    secret_literal = {**MODEL, "litellm_params": {**MODEL["litellm_params"], "api_key": "abc"}, "credentials_secret": True}
    assert specs.check_model(secret_literal) == []
    credential_name = {**MODEL, "litellm_params": {**MODEL["litellm_params"], "litellm_credential_name": "openai"}}
    assert specs.check_model(credential_name) == []


def test_model_check_rejects_a_plain_literal_credential():
    plain = {**MODEL, "litellm_params": {**MODEL["litellm_params"], "api_key": "abc"}, "credentials_secret": False}
    failures = specs.check_model(plain)
    assert [failure.property for failure in failures] == ["litellm_params.api_key"]
    assert "secret" in failures[0].reason and "os.environ/" in failures[0].reason
    # Without the flag at all (e.g. a hand-built resource) the literal is refused too.
    no_flag = {**MODEL, "litellm_params": {**MODEL["litellm_params"], "aws_secret_access_key": "abc"}}
    assert [failure.property for failure in specs.check_model(no_flag)] == ["litellm_params.aws_secret_access_key"]


def test_model_check_reports_each_bad_property():
    failures = specs.check_model(
        {"model_id": "has space", "litellm_params": {"rpm": 1}, "model_info": {"id": "x"}, "colour": "red"}
    )
    assert {failure.property for failure in failures} == {
        "colour",
        "model_id",
        "model_name",
        "litellm_params.model",
        "model_info.id",
    }


def test_model_check_skips_unknown_values():
    news = {
        "model_id": UNKNOWN,
        "model_name": UNKNOWN,
        "litellm_params": {"model": UNKNOWN, "api_key": UNKNOWN},
        "model_info": UNKNOWN,
        "credentials_secret": UNKNOWN,
    }
    assert specs.check_model(news) == []
    assert specs.check_model({**MODEL, "litellm_params": UNKNOWN}) == []


def test_model_projection_ignores_masked_credentials_and_server_added_fields():
    declared = {**MODEL, "litellm_params": {**MODEL["litellm_params"], "api_key": "os.environ/KEY"}}
    row = {
        "model_name": "llama-3.2",
        "litellm_params": {"model": "ollama_chat/llama3.2", "api_base": "http://127.0.0.1:11434", "rpm": 10,
                           "use_in_pass_through": False},
        "model_info": {"id": "llama-local", "mode": "chat", "input_cost_per_token": 0.0, "db_model": True},
    }
    state = specs.project_model(row, declared)
    assert state == declared
    assert specs.diff_model(state, declared).changes is False


def test_model_projection_reports_drift_in_declared_fields():
    row = {
        "model_name": "llama-3.2",
        "litellm_params": {"model": "ollama_chat/llama3.2", "api_base": "http://127.0.0.1:11434", "rpm": 99},
        "model_info": {"id": "llama-local"},
    }
    state = specs.project_model(row, MODEL)
    assert state["litellm_params"]["rpm"] == 99
    assert "mode" not in state["model_info"]
    diff = specs.diff_model(state, MODEL)
    assert diff.changes and diff.replaces == []  # re-adding and re-setting are both updates
    assert specs.model_update_patch(state, MODEL) == {"litellm_params": {"rpm": 10}, "model_info": {"mode": "chat", "id": MODEL["model_id"]}}


def test_team_model_public_name_is_read_from_model_info():
    row = {
        "model_name": "model_name_team-a_1234",
        "litellm_params": dict(MODEL["litellm_params"]),
        "model_info": {"id": "llama-local", "mode": "chat", "team_public_model_name": "llama-3.2"},
    }
    assert specs.project_model(row, MODEL)["model_name"] == "llama-3.2"


# ---------------------------------------------------------------------------------------------- teams

TEAM = {
    "team_id": "team-a",
    "team_alias": "Team A",
    "models": ["llama-3.2", "gpt-4o"],
    "max_budget": 100,
    "rpm_limit": 60,
    "metadata": {"cost_center": "42"},
}


def test_team_no_diff_for_float_numbers_and_reordered_models():
    news = {**TEAM, "max_budget": 100.0, "rpm_limit": 60.0, "models": ["gpt-4o", "llama-3.2"]}
    assert specs.diff_team(TEAM, news).changes is False


def test_team_id_change_replaces():
    diff = specs.diff_team(TEAM, {**TEAM, "team_id": "team-b"})
    assert diff.replaces == ["team_id"] and diff.delete_before_replace is None


def test_team_patch_holds_only_changed_fields_and_clears_removed_ones():
    news = with_changes(TEAM, max_budget=150, rpm_limit=None, models=None)
    patch = specs.team_update_patch(TEAM, news)
    assert patch == {"max_budget": 150, "rpm_limit": None, "models": []}


def test_team_metadata_patch_merges_onto_the_servers_metadata():
    server_metadata = {"cost_center": "42", "owner_note": "x", "model_rpm_limit": {"gpt-4o": 5}, "guardrails": ["g"]}
    olds = {**TEAM, "metadata": {"cost_center": "42", "owner_note": "x"}}
    news = {**TEAM, "metadata": {"cost_center": "43"}}
    patch = specs.team_update_patch(olds, news, server_metadata)
    assert patch == {"metadata": {"cost_center": "43", "model_rpm_limit": {"gpt-4o": 5}, "guardrails": ["g"]}}


def test_team_check():
    assert specs.check_team(TEAM) == []
    failures = specs.check_team(
        {"team_alias": 3, "models": "gpt", "max_budget": -1, "rpm_limit": 1.5, "budget_duration": "monthly"}
    )
    assert {failure.property for failure in failures} == {
        "team_id",
        "team_alias",
        "models",
        "max_budget",
        "rpm_limit",
        "budget_duration",
    }
    assert specs.check_team({"team_id": UNKNOWN, "max_budget": UNKNOWN, "models": [UNKNOWN]}) == []


def test_team_projection_restricts_metadata_to_declared_keys():
    team = {**TEAM, "max_budget": 100.0, "metadata": {"cost_center": "42", "guardrails": ["g"]}, "spend": 3.2,
            "tpm_limit": 7}
    state = specs.project_team(team, TEAM)
    assert state == TEAM
    drifted = specs.project_team({**team, "max_budget": 5.0}, TEAM)
    assert drifted["max_budget"] == 5.0


# ---------------------------------------------------------------------------------------------- keys

KEY = {
    "key_alias": "svc-a",
    "team_id": "team-a",
    "models": ["llama-3.2"],
    "max_budget": 10,
    "expires": "2030-06-01T00:00:00Z",
    "metadata": {"app": "svc-a"},
    "owner": "litellm-gateway/dev/svc-a-key",
}
KEY_STATE = {**KEY, "key": "sk-raw-value-never-compared", "token": "ab" * 32}


def test_key_create_body_turns_expires_into_a_duration_and_records_the_owner():
    body = specs.key_create_body(KEY, NOW)
    assert "expires" not in body and "owner" not in body and "rotation_trigger" not in body
    expected_seconds = int((datetime(2030, 6, 1, tzinfo=timezone.utc) - NOW).total_seconds())
    assert body["duration"] == f"{expected_seconds}s"
    assert body["metadata"] == {"app": "svc-a", specs.OWNER_METADATA_FIELD: KEY["owner"]}
    assert body["max_budget"] == 10 and body["key_alias"] == "svc-a"


def test_key_create_refuses_an_expiry_in_the_past():
    with pytest.raises(ValueError, match="in the past"):
        specs.key_create_body({**KEY, "expires": "2029-12-31T00:00:00Z"}, NOW)


def test_key_no_diff_between_state_and_the_same_inputs():
    news = {**KEY, "max_budget": 10.0, "expires": "2030-06-01T00:00:00+00:00", "models": ["llama-3.2"]}
    assert specs.diff_key(KEY_STATE, news).changes is False


def test_key_rotation_trigger_replaces_create_before_delete():
    diff = specs.diff_key({**KEY_STATE, "rotation_trigger": "2030-01"}, {**KEY, "rotation_trigger": "2030-02"})
    assert diff.replaces == ["rotation_trigger"]
    assert diff.delete_before_replace is None  # the engine default: create the new key first
    assert specs.diff_key(KEY_STATE, {**KEY, "rotation_trigger": "first"}).replaces == ["rotation_trigger"]


def test_key_patch_never_resends_an_unchanged_duration():
    patch, expected = specs.key_update_patch(KEY_STATE, {**KEY, "max_budget": 20}, NOW)
    assert patch == {"max_budget": 20}
    assert expected == {"max_budget": 20}


def test_key_patch_sends_a_new_duration_when_expires_changes_and_null_when_removed():
    later = "2030-07-01T00:00:00Z"
    patch, expected = specs.key_update_patch(KEY_STATE, {**KEY, "expires": later}, NOW)
    seconds = int((datetime(2030, 7, 1, tzinfo=timezone.utc) - NOW).total_seconds())
    assert patch == {"duration": f"{seconds}s"}
    assert expected == {"expires": later}
    patch, expected = specs.key_update_patch(KEY_STATE, with_changes(KEY, expires=None), NOW)
    assert patch == {"duration": None} and expected == {"expires": None}


def test_key_metadata_patch_keeps_server_fields_and_our_markers():
    server_metadata = {
        "app": "svc-a",
        "tags": ["prod"],
        specs.OWNER_METADATA_FIELD: KEY["owner"],
        CREATE_ID_METADATA_FIELD: "abc",
    }
    news = {**KEY, "metadata": {"app": "svc-b", "tier": "gold"}}
    assert specs.key_metadata_needed(KEY_STATE, news)
    patch, expected = specs.key_update_patch(KEY_STATE, news, NOW, server_metadata)
    assert patch == {
        "metadata": {
            "app": "svc-b",
            "tier": "gold",
            "tags": ["prod"],
            specs.OWNER_METADATA_FIELD: KEY["owner"],
            CREATE_ID_METADATA_FIELD: "abc",
        }
    }
    assert expected == patch


def test_key_metadata_patch_drops_a_key_we_stopped_declaring_only():
    server_metadata = {"app": "svc-a", "team_note": "theirs"}
    patch, _ = specs.key_update_patch(KEY_STATE, with_changes(KEY, metadata=None), NOW, server_metadata)
    assert patch == {"metadata": {"team_note": "theirs", specs.OWNER_METADATA_FIELD: KEY["owner"]}}


def test_key_removed_fields_are_cleared():
    news = with_changes(KEY, key_alias=None, models=None, max_budget=None)
    patch, _ = specs.key_update_patch(KEY_STATE, news, NOW)
    assert patch == {"key_alias": None, "models": [], "max_budget": None}


def test_key_owner_change_is_an_update_that_rewrites_the_marker():
    news = {**KEY, "owner": "litellm-gateway/prod/svc-a-key"}
    diff = specs.diff_key(KEY_STATE, news)
    assert diff.changes and diff.replaces == []
    patch, _ = specs.key_update_patch(KEY_STATE, news, NOW, {"app": "svc-a", specs.OWNER_METADATA_FIELD: KEY["owner"]})
    assert patch == {"metadata": {"app": "svc-a", specs.OWNER_METADATA_FIELD: "litellm-gateway/prod/svc-a-key"}}


def test_key_check():
    assert specs.check_key(KEY) == []
    failures = specs.check_key(
        {
            "expires": "next tuesday",
            "metadata": {specs.OWNER_METADATA_FIELD: "x"},
            "tpm_limit": -5,
            "key": "sk-not-an-input",
        }
    )
    assert {failure.property for failure in failures} == {
        "expires",
        f"metadata.{specs.OWNER_METADATA_FIELD}",
        "tpm_limit",
        "key",
    }
    naive = specs.check_key({"expires": "2030-01-01T00:00:00"})
    assert [failure.property for failure in naive] == ["expires"] and "timezone" in naive[0].reason
    assert specs.check_key({"expires": UNKNOWN, "metadata": UNKNOWN, "key_alias": UNKNOWN}) == []


def test_key_projection_tolerates_the_duration_rounding_of_expires():
    info = {
        "key_alias": "svc-a",
        "team_id": "team-a",
        "models": ["llama-3.2"],
        "max_budget": 10.0,
        "expires": (datetime(2030, 6, 1, tzinfo=timezone.utc) + timedelta(seconds=2)).isoformat(),
        "metadata": {"app": "svc-a", specs.OWNER_METADATA_FIELD: KEY["owner"], "tags": []},
        "spend": 1.0,
    }
    state = specs.project_key(info, KEY_STATE)
    assert state == KEY
    moved = specs.project_key({**info, "expires": "2031-01-01T00:00:00+00:00"}, KEY_STATE)
    assert moved["expires"] == "2031-01-01T00:00:00+00:00"
    assert specs.diff_key(moved, KEY).changed == ["expires"]


def test_diffs_treat_the_hosts_unknown_objects_as_changes():
    from pulumi.output import Unknown

    key_diff = specs.diff_key(KEY_STATE, {**KEY, "rotation_trigger": Unknown()})
    assert key_diff.changes and key_diff.replaces == ["rotation_trigger"]
    model_diff = specs.diff_model(MODEL, {**MODEL, "litellm_params": Unknown()})
    assert model_diff.changes and model_diff.replaces == []
    team_diff = specs.diff_team(TEAM, {**TEAM, "team_id": Unknown()})
    assert team_diff.replaces == ["team_id"]
