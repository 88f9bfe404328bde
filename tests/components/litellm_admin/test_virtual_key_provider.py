"""VirtualKeyProvider lifecycle against the admin-API emulator, including rotation (create before delete
with a unique alias), import, drift, faults and secrecy."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from components.litellm_admin import client, specs, virtual_key_provider
from components.litellm_admin.client import AdminApiError, token_of
from components.litellm_admin.values import parse_timestamp
from components.litellm_admin.virtual_key_provider import KeyAliasInUse, VirtualKeyProvider, retiring_alias

from .conftest import assert_no_secrets_in_access_log, wait_until_all_requests_answered

PROVIDER_PICKLE = "pickled-provider-placeholder"
OWNER = "litellm-gateway/dev/svc-a-key"
EXPIRES = (datetime.now(timezone.utc) + timedelta(days=90)).replace(microsecond=0).isoformat().replace("+00:00", "Z")
INPUTS = {
    "key_alias": "svc-a",
    "models": ["llama-3.2"],
    "max_budget": 10.0,
    "rpm_limit": 30.0,
    "expires": EXPIRES,
    "metadata": {"app": "svc-a"},
    "rotation_trigger": "2030-01",
    "owner": OWNER,
}


def engine_inputs(**overrides) -> dict:
    merged = {**INPUTS, **overrides, "__provider": PROVIDER_PICKLE}
    return {name: value for name, value in merged.items() if value is not None}


def checked(provider: VirtualKeyProvider, news: dict) -> dict:
    result = provider.check({}, news)
    assert [(f.property, f.reason) for f in result.failures] == []
    return {**result.inputs, "__provider": PROVIDER_PICKLE}


def live_aliases(emulator) -> dict[str, str]:
    return {token: row["key_alias"] for token, row in emulator.keys.items()}


def test_lifecycle_with_request_counts(admin_env, endpoint):
    emulator = admin_env
    provider = VirtualKeyProvider()
    news = checked(provider, engine_inputs())

    created = provider.create(news)
    raw_key = created.outs["key"]
    assert raw_key.startswith("sk-")
    assert created.id == token_of(raw_key) == created.outs["token"]
    assert {k: v for k, v in created.outs.items() if k not in ("key", "token")} == INPUTS
    assert emulator.count() == 1 and emulator.count("POST", "/key/generate") == 1
    sent = json.loads(emulator.access_log[0]["body"])
    assert "expires" not in sent and sent["duration"].endswith("s") and sent["rpm_limit"] == 30
    row = emulator.keys[created.id]
    assert abs((parse_timestamp(row["expires"]) - parse_timestamp(EXPIRES)).total_seconds()) < 60
    assert row["metadata"][specs.OWNER_METADATA_FIELD] == OWNER

    emulator.reset_counts()
    state = {**created.outs, "__provider": PROVIDER_PICKLE}
    read = provider.read(created.id, state)
    assert emulator.count() == 1 and emulator.count("GET", "/key/info") == 1
    assert read.id == created.id
    assert read.outs == created.outs  # the raw key is kept from state, expires within tolerance
    assert read.inputs == INPUTS
    assert provider.diff(created.id, read.outs, news).changes is False

    # Budget change: one write, and no `duration` (re-sending it would extend the key).
    emulator.reset_counts()
    bigger = checked(provider, engine_inputs(max_budget=25.0))
    updated = provider.update(created.id, read.outs, bigger)
    assert emulator.count() == 1
    assert json.loads(emulator.access_log[0]["body"]) == {"max_budget": 25, "key": created.id}
    assert updated.outs["key"] == raw_key and updated.outs["token"] == created.id
    assert emulator.keys[created.id]["expires"] == row["expires"]

    # Metadata change: read the server's metadata (it holds fields we do not own), then one write.
    client.update_key(endpoint, created.id, {"tags": ["prod"]})  # LiteLLM stores tags inside metadata
    emulator.reset_counts()
    relabelled = checked(provider, engine_inputs(max_budget=25.0, metadata={"app": "svc-a2"}))
    updated = provider.update(created.id, updated.outs, relabelled)
    assert emulator.count() == 2 and emulator.count("GET", "/key/info") == 1
    metadata = emulator.keys[created.id]["metadata"]
    assert metadata["app"] == "svc-a2" and metadata["tags"] == ["prod"]
    assert metadata[specs.OWNER_METADATA_FIELD] == OWNER

    # A new expiry is sent as a new duration.
    later = (parse_timestamp(EXPIRES) + timedelta(days=30)).isoformat()
    emulator.reset_counts()
    provider.update(created.id, updated.outs, checked(provider, engine_inputs(max_budget=25.0, metadata={"app": "svc-a2"}, expires=later)))
    assert "duration" in json.loads(emulator.access_log[0]["body"])
    assert abs((parse_timestamp(emulator.keys[created.id]["expires"]) - parse_timestamp(later)).total_seconds()) < 60

    emulator.reset_counts()
    provider.delete(created.id, updated.outs)
    # Look first (a key a rotation moved aside is left to expire), block (LiteLLM broadcasts that
    # eviction to every worker; /key/delete evicts only on the worker that handles it), delete, then
    # look for predecessors of earlier rotations (swept whatever the key's grace is now).
    assert emulator.count() == 4 and emulator.count("GET", "/key/info") == 1 and emulator.keys == {}
    assert emulator.count("POST", "/key/block") == 1 and emulator.count("POST", "/key/delete") == 1
    assert [e["path"] for e in emulator.access_log][1:3] == ["/key/block", "/key/delete"]
    emulator.reset_counts()
    provider.delete(created.id, updated.outs)  # already deleted: success, nothing written
    # (its predecessors are still looked for: a key deleted by hand leaves them otherwise)
    assert emulator.count() == 2 and emulator.count("GET", "/key/info") == 1
    assert all(e["method"] == "GET" for e in emulator.access_log)
    gone = provider.read(created.id, {**updated.outs, "__provider": PROVIDER_PICKLE})
    assert gone.id is None and gone.outs == {}  # status "deleted" counts as gone
    assert_no_secrets_in_access_log(emulator, raw_key)


def test_rotation_creates_the_new_key_before_deleting_the_old_one(admin_env):
    emulator = admin_env
    provider = VirtualKeyProvider()
    old = provider.create(checked(provider, engine_inputs()))

    rotated_inputs = checked(provider, engine_inputs(rotation_trigger="2030-02"))
    diff = provider.diff(old.id, {**old.outs, "__provider": PROVIDER_PICKLE}, rotated_inputs)
    assert diff.replaces == ["rotation_trigger"] and diff.delete_before_replace is None

    # The engine creates the replacement while the old key still exists and holds the alias.
    emulator.reset_counts()
    new = provider.create(rotated_inputs)
    assert new.id != old.id and new.outs["key"] != old.outs["key"]
    assert live_aliases(emulator) == {old.id: retiring_alias("svc-a", old.id), new.id: "svc-a"}
    # generate (alias clash) + look up the holder + rename it + generate
    assert emulator.count("POST", "/key/generate") == 2
    assert emulator.count("GET", "/key/list") == 1 and emulator.count("POST", "/key/update") == 1

    # Both keys work until the engine deletes the old one.
    assert emulator.keys[old.id]["blocked"] is None and emulator.keys[new.id]["blocked"] is None
    provider.delete(old.id, old.outs)
    assert live_aliases(emulator) == {new.id: "svc-a"}
    read = provider.read(new.id, {**new.outs, "__provider": PROVIDER_PICKLE})
    assert read.inputs == {**INPUTS, "rotation_trigger": "2030-02"}
    assert_no_secrets_in_access_log(emulator, old.outs["key"], new.outs["key"])


def test_an_alias_held_by_a_key_we_do_not_manage_is_not_taken(admin_env, endpoint):
    emulator = admin_env
    foreign = client.generate_key(endpoint, {"key_alias": "svc-a", "metadata": {"owner": "someone else"}})
    with pytest.raises(KeyAliasInUse) as raised:
        VirtualKeyProvider().create(checked(VirtualKeyProvider(), engine_inputs()))
    message = str(raised.value)
    assert "'svc-a'" in message and "does not manage" in message
    assert foreign["key"] not in message
    assert live_aliases(emulator) == {foreign["token"]: "svc-a"}


def test_the_alias_goes_back_if_the_replacement_cannot_be_created(admin_env, monkeypatch):
    emulator = admin_env
    provider = VirtualKeyProvider()
    old = provider.create(checked(provider, engine_inputs()))

    real_generate = client.generate_key
    calls = []

    def generate_failing_the_second_time(endpoint, body):
        calls.append(body)
        if len(calls) == 2:
            raise AdminApiError("POST", "/key/generate", 400, "team does not exist")
        return real_generate(endpoint, body)

    monkeypatch.setattr(virtual_key_provider.client, "generate_key", generate_failing_the_second_time)
    with pytest.raises(AdminApiError, match="team does not exist"):
        provider.create(checked(provider, engine_inputs(rotation_trigger="2030-02")))
    assert live_aliases(emulator) == {old.id: "svc-a"}


def test_import_of_a_key_by_token(admin_env, endpoint):
    emulator = admin_env
    out_of_band = client.generate_key(
        endpoint,
        {"key_alias": "svc-a", "models": ["llama-3.2"], "max_budget": 10, "rpm_limit": 30,
         "duration": "90d", "metadata": {"app": "svc-a", "unmanaged": True}},
    )
    provider = VirtualKeyProvider()
    news = checked(provider, engine_inputs(expires=None, rotation_trigger=None))
    emulator.reset_counts()
    read = provider.read(out_of_band["token"], news)
    assert emulator.count() == 1
    assert read.id == out_of_band["token"]
    assert "key" not in read.outs and read.outs["token"] == out_of_band["token"]  # raw value is unreadable
    assert read.inputs == {k: v for k, v in INPUTS.items() if k not in ("expires", "rotation_trigger")}
    assert provider.diff(read.id, {**read.outs, "__provider": PROVIDER_PICKLE}, news).changes is False
    assert_no_secrets_in_access_log(emulator, out_of_band["key"])


def test_refresh_finds_drift_and_deletion(admin_env, endpoint):
    emulator = admin_env
    provider = VirtualKeyProvider()
    news = checked(provider, engine_inputs())
    created = provider.create(news)

    client.update_key(endpoint, created.id, {"max_budget": 999, "models": ["gpt-4o"], "metadata": {"app": "changed"}})
    read = provider.read(created.id, {**created.outs, "__provider": PROVIDER_PICKLE})
    assert read.outs["max_budget"] == 999 and read.outs["models"] == ["gpt-4o"] and read.outs["metadata"] == {"app": "changed"}
    assert read.outs["key"] == created.outs["key"]
    diff = provider.diff(created.id, read.outs, news)
    assert diff.changes and diff.replaces == []
    provider.update(created.id, read.outs, news)
    row = emulator.keys[created.id]
    assert row["max_budget"] == 10 and row["models"] == ["llama-3.2"] and row["metadata"]["app"] == "svc-a"

    client.delete_key(endpoint, created.id)
    gone = provider.read(created.id, {**created.outs, "__provider": PROVIDER_PICKLE})
    assert gone.id is None and gone.outs == {}
    with pytest.raises(AdminApiError, match="pulumi refresh"):
        provider.update(created.id, created.outs, engine_inputs(max_budget=1.0))


@pytest.mark.parametrize("kind", ["500", "500-after-write", "429", "drop", "slow"])
@pytest.mark.parametrize("alias", ["svc-a", None])
def test_generate_recovers_from_each_fault_without_orphans(admin_env, kind, alias):
    emulator = admin_env
    emulator.inject_fault("POST", "/key/generate", kind, seconds=0.2)
    created = VirtualKeyProvider().create(engine_inputs(key_alias=alias))
    assert list(emulator.keys) == [created.id]  # a key saved despite a 500 is deleted: its raw value was lost
    assert emulator.keys[created.id]["key_alias"] == alias
    assert_no_secrets_in_access_log(emulator, created.outs["key"])


def test_generate_slower_than_the_client_timeout_leaves_one_key(admin_env):
    emulator = admin_env
    emulator.inject_fault("POST", "/key/generate", "slow", seconds=2.5)  # the client gives up after 1 s
    created = VirtualKeyProvider().create(engine_inputs())
    wait_until_all_requests_answered(emulator)
    assert list(emulator.keys) == [created.id]  # the late original hit the alias the retry now holds


@pytest.mark.parametrize("kind", ["500", "500-after-write", "429", "drop"])
def test_update_and_delete_recover_from_each_fault(admin_env, kind):
    emulator = admin_env
    provider = VirtualKeyProvider()
    created = provider.create(engine_inputs())
    emulator.inject_fault("POST", "/key/update", kind)
    provider.update(created.id, created.outs, engine_inputs(max_budget=3.0, metadata={"app": "x"}))
    assert emulator.keys[created.id]["max_budget"] == 3 and emulator.keys[created.id]["metadata"]["app"] == "x"
    emulator.inject_fault("POST", "/key/delete", kind)
    provider.delete(created.id, created.outs)
    assert emulator.keys == {}


def test_a_persistent_failure_is_a_clear_error_and_leaves_no_key(admin_env):
    emulator = admin_env
    emulator.inject_fault("POST", "/key/generate", "500-after-write", times=10)
    with pytest.raises(AdminApiError) as raised:
        VirtualKeyProvider().create(engine_inputs())
    message = str(raised.value)
    assert "POST /key/generate" in message and "gave up after 4 attempts" in message
    assert emulator.master_key not in message and "sk-" not in message.replace("sk-***", "")
    assert emulator.keys == {}
    assert_no_secrets_in_access_log(emulator)


def test_preview_inputs_with_unknowns_pass_check_and_diff_as_changes():
    provider = VirtualKeyProvider()
    unknown = specs.UNKNOWN
    news = {**engine_inputs(), "team_id": unknown, "expires": unknown, "rotation_trigger": unknown}
    assert provider.check({}, news).failures == []
    diff = provider.diff("t" * 64, {**INPUTS, "key": "sk-x", "token": "t" * 64}, news)
    assert diff.changes and diff.replaces == ["rotation_trigger"]


def test_a_retry_that_clashes_with_its_own_saved_original_removes_the_original(admin_env):
    emulator = admin_env
    # The original is saved but answered with a 500; the look for it fails too (4 failed lists), so the
    # retry runs into the alias the original holds. The original's raw value is lost: it must go.
    emulator.inject_fault("POST", "/key/generate", "500-after-write")
    emulator.inject_fault("GET", "/key/list", "500", times=4)
    created = VirtualKeyProvider().create(engine_inputs())
    assert list(emulator.keys) == [created.id]
    assert emulator.keys[created.id]["key_alias"] == "svc-a"
    assert emulator.count("POST", "/key/generate") == 3
    assert len(emulator.deleted_keys) == 1


def test_creating_a_key_that_has_already_expired_is_refused_naming_the_alias(emulator, admin_env):
    """Expiry is lifecycle (an existing key past its expiry stays in the stack and is reported), but
    a new key that would be born expired is refused at create time, before any request."""
    provider = VirtualKeyProvider()
    emulator.reset_counts()
    with pytest.raises(ValueError, match=r"key_alias 'svc-a': expires 2020-01-01T00:00:00\+00:00 is in the past"):
        provider.create(checked(provider, engine_inputs(expires="2020-01-01T00:00:00Z")))
    assert emulator.count() == 0 and emulator.keys == {}
