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
