"""Rotation with a grace window, against the emulator (the real proxy: test_real_proxy.py).

A rotation (changed rotation_trigger) is create-before-delete. With `rotation_grace`, the create moves
the old key aside with `expires` = now + grace and a retired marker, and the engine's delete of the old
resource leaves it to stop by LiteLLM's own expiry. Removing a key from the catalog revokes it and its
predecessors still in grace at once; predecessors whose grace is over are removed by the next rotation.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from components.litellm_admin import client, specs
from components.litellm_admin.client import AdminApiError
from components.litellm_admin.values import parse_timestamp
from components.litellm_admin.virtual_key_provider import VirtualKeyProvider, retiring_alias

PROVIDER_PICKLE = "pickled-provider-placeholder"
OWNER = "litellm-gateway/dev/rotating"
INPUTS = {"key_alias": "rot", "models": ["m"], "metadata": {"service": "svc"}, "rotation_trigger": "p1", "rotation_grace": "24h", "owner": OWNER}


def engine(**overrides) -> dict:
    merged = {**INPUTS, **overrides}
    return {**{k: v for k, v in merged.items() if v is not None}, "__provider": PROVIDER_PICKLE}


def state(created) -> dict:
    return {**created.outs, "__provider": PROVIDER_PICKLE}


def rotate(provider: VirtualKeyProvider, old, trigger: str, **overrides):
    """What the engine does for a replacement: diff says replace, create the new one, delete the old."""
    news = engine(rotation_trigger=trigger, **overrides)
    assert provider.diff(old.id, state(old), news).replaces == ["rotation_trigger"]
    new = provider.create(news)
    provider.delete(old.id, state(old))
    return new


def test_rotated_out_key_keeps_working_for_the_grace_window_then_expires(admin_env):
    emulator = admin_env
    provider = VirtualKeyProvider()
    first = provider.create(engine())
    before = datetime.now(timezone.utc)
    second = rotate(provider, first, "p2")

    assert second.outs["key"] != first.outs["key"]
    old_row, new_row = emulator.keys[first.id], emulator.keys[second.id]
    assert new_row["key_alias"] == "rot"
    assert old_row["key_alias"] == retiring_alias("rot", first.id)
    # Still a live key (not deleted) that LiteLLM stops accepting at now + 24h.
    expires = parse_timestamp(old_row["expires"])
    assert before + timedelta(hours=24) - timedelta(minutes=5) <= expires <= datetime.now(timezone.utc) + timedelta(hours=24)
    assert emulator._key_status(old_row) == "active"
    assert abs((parse_timestamp(old_row["metadata"][specs.RETIRED_METADATA_FIELD]) - expires).total_seconds()) < 60
    assert old_row["metadata"]["service"] == "svc"  # its own metadata kept
    assert emulator._key_status(new_row) == "active" and new_row["expires"] is None


def test_removing_a_key_from_the_catalog_revokes_it_and_its_predecessors_at_once(admin_env):
    emulator = admin_env
    provider = VirtualKeyProvider()
    first = provider.create(engine())
    second = rotate(provider, first, "p2")
    assert set(emulator.keys) == {first.id, second.id}
    provider.delete(second.id, state(second))
    assert emulator.keys == {}
    assert set(emulator.deleted_keys) == {first.id, second.id}
    provider.delete(second.id, state(second))  # already gone: fine


def test_a_later_rotation_removes_predecessors_whose_grace_is_over(admin_env):
    emulator = admin_env
    provider = VirtualKeyProvider()
    first = provider.create(engine(rotation_grace="1s"))
    second = rotate(provider, first, "p2", rotation_grace="1s")
    assert first.id in emulator.keys
    # Wait (no assertion on time) until the moved-aside key is past its expiry.
    give_up = time.monotonic() + 30
    while emulator._key_status(emulator.keys[first.id]) != "expired":
        assert time.monotonic() < give_up
        time.sleep(0.2)
    third = rotate(provider, second, "p3", rotation_grace="1s")
    # first: grace over -> removed by the third's create; second: in grace -> kept.
    assert first.id in emulator.deleted_keys and first.id not in emulator.keys
    assert set(emulator.keys) == {second.id, third.id}


def test_without_grace_the_old_key_is_revoked_in_the_same_run(admin_env):
    emulator = admin_env
    provider = VirtualKeyProvider()
    first = provider.create(engine(rotation_grace="0s"))
    second = rotate(provider, first, "p2", rotation_grace="0s")
    assert set(emulator.keys) == {second.id}


def test_a_rotation_never_extends_a_key_that_expires_sooner(admin_env):
    emulator = admin_env
    provider = VirtualKeyProvider()
    soon = (datetime.now(timezone.utc) + timedelta(hours=2)).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    first = provider.create(engine(expires=soon))
    rotate(provider, first, "p2", expires=soon)
    old_row = emulator.keys[first.id]
    assert abs((parse_timestamp(old_row["expires"]) - parse_timestamp(soon)).total_seconds()) < 60


def test_a_failed_replacement_gives_the_old_key_back_its_alias_and_expiry(admin_env, monkeypatch):
    emulator = admin_env
    provider = VirtualKeyProvider()
    first = provider.create(engine())
    # The first generate clashes on the alias; the second (after moving the old key aside) fails.
    real_generate = client.generate_key
    calls = []

    def generate(endpoint, body):
        calls.append(body.get("key_alias"))
        if len(calls) == 2:
            assert emulator.keys[first.id]["expires"] is not None  # moved aside with its grace by now
            raise AdminApiError("POST", "/key/generate", 500, "injected")
        return real_generate(endpoint, body)

    monkeypatch.setattr(client, "generate_key", generate)
    with pytest.raises(AdminApiError):
        provider.create(engine(rotation_trigger="p2"))
    assert len(calls) == 2
    row = emulator.keys[first.id]
    assert row["key_alias"] == "rot" and row["expires"] is None
    assert specs.RETIRED_METADATA_FIELD not in row["metadata"]


@pytest.mark.parametrize("value, seconds", [("0s", 0), ("30m", 1800), ("24h", 86400), ("7d", 604800), ("1w", 604800)])
def test_grace_durations(value, seconds):
    assert specs.grace_seconds(value) == seconds


@pytest.mark.parametrize("value", ["24", "1mo", "-1h", "1.5h", "400d", "", None])
def test_bad_grace_durations_fail_check(value):
    failures = specs.check_key({"rotation_grace": value} if value is not None else {"rotation_grace": 5})
    assert [f.property for f in failures] == ["rotation_grace"]


def test_changing_only_the_grace_is_an_update_that_sends_nothing(admin_env):
    emulator = admin_env
    provider = VirtualKeyProvider()
    first = provider.create(engine())
    news = engine(rotation_grace="48h")
    diff = provider.diff(first.id, state(first), news)
    assert diff.changes and diff.replaces == []
    emulator.reset_counts()
    updated = provider.update(first.id, state(first), news)
    assert emulator.count() == 0 and updated.outs["rotation_grace"] == "48h"


def test_refresh_keeps_the_grace_in_state(admin_env):
    provider = VirtualKeyProvider()
    first = provider.create(engine())
    read = provider.read(first.id, state(first))
    assert read.outs["rotation_grace"] == "24h" and read.inputs["rotation_grace"] == "24h"
    assert provider.diff(first.id, {**read.outs, "__provider": PROVIDER_PICKLE}, engine()).changes is False


# ---- revocation is decided by what the deployment did, never by metadata on the server (issue 16) ----


def test_a_retired_marker_planted_on_the_server_does_not_keep_a_removed_key_alive(admin_env):
    """A UI admin (or team admin) can write a key's metadata: a future `retired_until` there must not
    make the key survive its removal from the catalog."""
    emulator = admin_env
    provider = VirtualKeyProvider()
    created = provider.create(engine(rotation_trigger=None))
    future = (datetime.now(timezone.utc) + timedelta(days=300)).isoformat()
    emulator.keys[created.id]["metadata"][specs.RETIRED_METADATA_FIELD] = future
    provider.delete(created.id, state(created))
    assert created.id not in emulator.keys and created.id in emulator.deleted_keys


def test_a_planted_retiring_alias_and_expiry_do_not_keep_a_removed_key_alive(admin_env):
    """Even a key made to look exactly like a rotated-out one (retiring alias, marker, near expiry) is
    revoked: this provider process did not move it aside."""
    emulator = admin_env
    provider = VirtualKeyProvider()
    created = provider.create(engine(rotation_trigger=None))
    soon = datetime.now(timezone.utc) + timedelta(hours=1)
    row = emulator.keys[created.id]
    row["key_alias"] = retiring_alias("rot", created.id)
    row["expires"] = soon.isoformat()
    row["metadata"][specs.RETIRED_METADATA_FIELD] = soon.isoformat()
    provider.delete(created.id, state(created))
    assert created.id not in emulator.keys


def test_a_rotated_out_key_given_a_later_expiry_is_revoked_by_the_delete(admin_env):
    """After the rotation moved the key aside, someone extends its expiry: the engine's delete revokes
    it instead of leaving a key alive beyond the grace this deployment granted."""
    emulator = admin_env
    provider = VirtualKeyProvider()
    first = provider.create(engine())
    news = engine(rotation_trigger="p2")
    second = provider.create(news)
    emulator.keys[first.id]["expires"] = (datetime.now(timezone.utc) + timedelta(days=30)).isoformat()
    provider.delete(first.id, state(first))
    assert first.id not in emulator.keys and second.id in emulator.keys


def test_removing_a_key_whose_grace_is_now_zero_still_sweeps_its_predecessors(admin_env):
    emulator = admin_env
    provider = VirtualKeyProvider()
    first = provider.create(engine())
    second = rotate(provider, first, "p2")  # first: in its 24 h grace
    assert first.id in emulator.keys
    # The stack later sets the grace to 0s (an update that sends nothing), then removes the key.
    updated = provider.update(second.id, state(second), engine(rotation_trigger="p2", rotation_grace="0s"))
    provider.delete(second.id, {**updated.outs, "__provider": PROVIDER_PICKLE})
    assert emulator.keys == {}


def test_a_predecessor_whose_marker_was_removed_is_still_swept(admin_env):
    emulator = admin_env
    provider = VirtualKeyProvider()
    first = provider.create(engine())
    second = rotate(provider, first, "p2")
    emulator.keys[first.id]["metadata"].pop(specs.RETIRED_METADATA_FIELD)
    provider.delete(second.id, state(second))
    assert emulator.keys == {}


@pytest.mark.parametrize("value", ["24h\n", "\u0662\u0664h", "\uff12\uff14h", " 24h"])
def test_grace_and_duration_grammars_take_ascii_digits_only_and_the_whole_string(value):
    assert specs.grace_seconds(value) is None
    assert [f.property for f in specs.check_key({"rotation_grace": value})] == ["rotation_grace"]
    assert [f.property for f in specs.check_key({"budget_duration": value})] == ["budget_duration"]
