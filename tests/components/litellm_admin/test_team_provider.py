"""TeamProvider lifecycle against the admin-API emulator."""

from __future__ import annotations

import json

import pytest

from components.litellm_admin import client
from components.litellm_admin.client import AdminApiError
from components.litellm_admin.team_provider import TeamProvider

from .conftest import assert_no_secrets_in_access_log

PROVIDER_PICKLE = "pickled-provider-placeholder"
INPUTS = {
    "team_id": "team-a",
    "team_alias": "Team A",
    "models": ["llama-3.2", "gpt-4o"],
    "max_budget": 100.0,
    "budget_duration": "30d",
    "rpm_limit": 60.0,
    "metadata": {"cost_center": "42"},
}


def engine_inputs(**overrides) -> dict:
    merged = {**INPUTS, **overrides, "__provider": PROVIDER_PICKLE}
    return {name: value for name, value in merged.items() if value is not None}


def checked(provider: TeamProvider, news: dict) -> dict:
    result = provider.check({}, news)
    assert [(f.property, f.reason) for f in result.failures] == []
    return {**result.inputs, "__provider": PROVIDER_PICKLE}


def test_lifecycle_with_request_counts(admin_env, endpoint):
    emulator = admin_env
    provider = TeamProvider()
    news = checked(provider, engine_inputs())

    created = provider.create(news)
    assert created.id == "team-a" and created.outs == INPUTS
    assert emulator.count() == 1 and emulator.count("POST", "/team/new") == 1
    assert json.loads(emulator.access_log[0]["body"])["rpm_limit"] == 60  # sent as an int

    emulator.reset_counts()
    read = provider.read("team-a", {**created.outs, "__provider": PROVIDER_PICKLE})
    assert emulator.count() == 1
    assert read.outs == INPUTS and read.inputs == INPUTS
    assert provider.diff("team-a", read.outs, news).changes is False

    # A field LiteLLM keeps inside metadata, set by someone else: our metadata change must keep it.
    client.update_team(endpoint, "team-a", {"model_rpm_limit": {"gpt-4o": 5}})
    assert emulator.teams["team-a"]["metadata"]["model_rpm_limit"] == {"gpt-4o": 5}

    emulator.reset_counts()
    new_metadata = checked(provider, engine_inputs(metadata={"cost_center": "43", "owner": "ml"}))
    updated = provider.update("team-a", created.outs, new_metadata)
    assert emulator.count() == 2  # read the server's metadata, then one write
    assert emulator.count("GET", "/team/info") == 1 and emulator.count("POST", "/team/update") == 1
    assert json.loads(emulator.access_log[1]["body"]) == {
        "team_id": "team-a",
        "metadata": {"cost_center": "43", "owner": "ml", "model_rpm_limit": {"gpt-4o": 5}},
    }
    assert updated.outs["metadata"] == {"cost_center": "43", "owner": "ml"}

    emulator.reset_counts()
    smaller = checked(provider, engine_inputs(metadata={"cost_center": "43", "owner": "ml"}, max_budget=50.0, rpm_limit=None))
    provider.update("team-a", updated.outs, smaller)
    assert emulator.count() == 1
    assert json.loads(emulator.access_log[0]["body"]) == {"team_id": "team-a", "max_budget": 50, "rpm_limit": None}
    assert emulator.teams["team-a"]["rpm_limit"] is None and emulator.teams["team-a"]["max_budget"] == 50

    renamed = checked(provider, engine_inputs(team_id="team-b"))
    diff = provider.diff("team-a", {**created.outs, "__provider": PROVIDER_PICKLE}, renamed)
    assert diff.replaces == ["team_id"] and diff.delete_before_replace is None
    replacement = provider.create(renamed)  # create before delete: the ids differ
    provider.delete("team-a", created.outs)
    assert list(emulator.teams) == [replacement.id] == ["team-b"]

    emulator.reset_counts()
    provider.delete("team-b", replacement.outs)
    assert emulator.count() == 1 and emulator.teams == {}
    provider.delete("team-b", replacement.outs)  # already gone
    assert_no_secrets_in_access_log(emulator)


def test_import_and_drift(admin_env, endpoint):
    emulator = admin_env
    client.create_team(
        endpoint,
        {"team_id": "team-a", "team_alias": "Team A", "models": ["gpt-4o", "llama-3.2"], "max_budget": 100,
         "budget_duration": "30d", "rpm_limit": 60, "tpm_limit": 1000, "metadata": {"cost_center": "42", "x": 1}},
    )
    provider = TeamProvider()
    news = checked(provider, engine_inputs())
    read = provider.read("team-a", news)
    assert read.id == "team-a" and read.inputs == INPUTS  # undeclared tpm_limit and metadata.x are not ours
    assert provider.diff("team-a", read.outs, news).changes is False

    client.update_team(endpoint, "team-a", {"max_budget": 1, "team_alias": "hijacked"})
    drifted = provider.read("team-a", {**read.outs, "__provider": PROVIDER_PICKLE})
    assert drifted.outs["max_budget"] == 1 and drifted.outs["team_alias"] == "hijacked"
    diff = provider.diff("team-a", drifted.outs, news)
    assert diff.changes and diff.replaces == []
    provider.update("team-a", drifted.outs, news)
    assert emulator.teams["team-a"]["max_budget"] == 100 and emulator.teams["team-a"]["team_alias"] == "Team A"

    client.delete_team(endpoint, "team-a")
    gone = provider.read("team-a", {**read.outs, "__provider": PROVIDER_PICKLE})
    assert gone.id is None and gone.outs == {}
    with pytest.raises(AdminApiError, match="pulumi refresh"):
        provider.update("team-a", read.outs, engine_inputs(max_budget=5.0))


@pytest.mark.parametrize("kind", ["500", "500-after-write", "429", "drop", "slow"])
def test_every_write_recovers_from_each_fault(admin_env, kind):
    emulator = admin_env
    provider = TeamProvider()
    emulator.inject_fault("POST", "/team/new", kind, seconds=0.2)
    created = provider.create(engine_inputs())
    assert list(emulator.teams) == ["team-a"]
    emulator.inject_fault("POST", "/team/update", kind, seconds=0.2)
    provider.update("team-a", created.outs, engine_inputs(max_budget=7.0))
    assert emulator.teams["team-a"]["max_budget"] == 7
    emulator.inject_fault("POST", "/team/delete", kind, seconds=0.2)
    provider.delete("team-a", created.outs)
    assert emulator.teams == {}


def test_check_failures_name_the_property():
    result = TeamProvider().check({}, {"team_alias": "x", "rpm_limit": -1, "__provider": PROVIDER_PICKLE})
    assert sorted((f.property, f.reason) for f in result.failures) == [
        ("rpm_limit", "must be a whole number >= 0"),
        ("team_id", "is required"),
    ]
