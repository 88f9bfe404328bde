"""The pulumi.dynamic.Resource subclasses, under Pulumi's mocks (no engine, no server)."""

from __future__ import annotations

import pulumi
import pytest
from pulumi.dynamic import Resource

from components.litellm_admin import resources
from components.litellm_admin.resources import (
    Model,
    ModelArgs,
    Team,
    TeamArgs,
    VirtualKey,
    VirtualKeyArgs,
)


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.registered: dict[str, pulumi.runtime.MockResourceArgs] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        self.registered[args.name] = args
        outputs = dict(args.inputs)
        if args.typ.endswith(":VirtualKey"):
            outputs.update({"key": "sk-mock-raw-key-0000", "token": "f" * 64})
        return (outputs.get("model_id") or outputs.get("team_id") or outputs.get("token"), outputs)

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}, None


@pytest.fixture
def mocks():
    recording = RecordingMocks()
    pulumi.runtime.set_mocks(recording, project="litellm-gateway", stack="dev", preview=False)
    return recording


@pytest.fixture
def recorded_options(monkeypatch):
    """The ResourceOptions each dynamic resource hands to the engine."""
    seen: dict[str, pulumi.ResourceOptions] = {}
    original_init = Resource.__init__

    def recording_init(self, provider, name, props, opts=None):
        seen[name] = opts
        original_init(self, provider, name, props, opts)

    monkeypatch.setattr(Resource, "__init__", recording_init)
    return seen


def test_type_tokens():
    assert f"pulumi-python:{Model._resource_type_name}" == "pulumi-python:dynamic/litellm:Model"
    assert f"pulumi-python:{Team._resource_type_name}" == "pulumi-python:dynamic/litellm:Team"
    assert f"pulumi-python:{VirtualKey._resource_type_name}" == "pulumi-python:dynamic/litellm:VirtualKey"


@pulumi.runtime.test
def test_virtual_key_registers_its_inputs_owner_and_secret_key(mocks, recorded_options):
    key = VirtualKey(
        "svc-a-key",
        VirtualKeyArgs(key_alias="svc-a", models=["llama-3.2"], max_budget=10, rotation_trigger="2030-01"),
        opts=pulumi.ResourceOptions(additional_secret_outputs=["metadata"], protect=True),
    )
    options = recorded_options["svc-a-key"]
    assert sorted(options.additional_secret_outputs) == ["key", "metadata"]  # merged, not replaced
    assert options.protect is True

    def check(values):
        token, raw_key, alias = values
        registered = mocks.registered["svc-a-key"]
        assert registered.typ == "pulumi-python:dynamic/litellm:VirtualKey"
        assert registered.inputs["owner"] == "litellm-gateway/dev/svc-a-key"
        assert registered.inputs["key_alias"] == "svc-a" and registered.inputs["rotation_trigger"] == "2030-01"
        assert "key" not in registered.inputs and "token" not in registered.inputs
        assert "__provider" in registered.inputs
        assert token == "f" * 64 and raw_key == "sk-mock-raw-key-0000" and alias == "svc-a"

    return pulumi.Output.all(key.token, key.key, key.key_alias).apply(check)


@pulumi.runtime.test
def test_team_and_model_register_their_inputs(mocks, recorded_options):
    team = Team("team-a", TeamArgs(team_id="team-a", models=["llama-3.2"], metadata={"cost_center": "42"}))
    model = Model(
        "llama",
        ModelArgs(
            model_id="llama-local",
            model_name="llama-3.2",
            litellm_params={"model": "ollama_chat/llama3.2", "api_key": "os.environ/OLLAMA_API_KEY"},
        ),
    )
    assert recorded_options["llama"] is None  # no literal credential: no extra secret outputs

    def check(values):
        team_id, model_id = values
        assert team_id == "team-a" and model_id == "llama-local"
        assert mocks.registered["team-a"].typ == "pulumi-python:dynamic/litellm:Team"
        assert mocks.registered["team-a"].inputs["metadata"] == {"cost_center": "42"}
        model_inputs = mocks.registered["llama"].inputs
        assert mocks.registered["llama"].typ == "pulumi-python:dynamic/litellm:Model"
        assert "credentials_secret" not in model_inputs  # only env references: nothing to judge

    return pulumi.Output.all(team.team_id, model.model_id).apply(check)


@pulumi.runtime.test
def test_model_reports_whether_its_literal_credential_is_secret(mocks, recorded_options):
    secret = Model(
        "gpt-secret",
        ModelArgs(model_id="gpt-a", model_name="gpt-4o",
                  litellm_params={"model": "openai/gpt-4o", "api_key": pulumi.Output.secret("provider-key")}),
    )
    plain = Model(
        "gpt-plain",
        ModelArgs(model_id="gpt-b", model_name="gpt-4o", litellm_params={"model": "openai/gpt-4o", "api_key": "provider-key"}),
    )
    assert recorded_options["gpt-secret"].additional_secret_outputs == ["litellm_params"]

    def check(values):
        secret_flag, plain_flag = values
        assert secret_flag is True
        assert plain_flag is False  # the provider's check then refuses it
        assert mocks.registered["gpt-plain"].inputs["credentials_secret"] is False

    return pulumi.Output.all(secret.credentials_secret, plain.credentials_secret).apply(check)


def test_the_args_fields_match_the_providers_inputs():
    from dataclasses import fields

    from components.litellm_admin import specs

    # The user fields (the ones diffed and sent), then the CA the admin calls trust and the id of an
    # object to adopt (neither).
    assert [f.name for f in fields(ModelArgs)] == [*specs.MODEL_FIELDS, specs.CA_BUNDLE_FIELD, specs.ADOPT_FIELD]
    assert [f.name for f in fields(TeamArgs)] == [*specs.TEAM_FIELDS, specs.CA_BUNDLE_FIELD, specs.ADOPT_FIELD]
    assert [f.name for f in fields(VirtualKeyArgs)] == [*specs.KEY_FIELDS, specs.CA_BUNDLE_FIELD, specs.ADOPT_FIELD]
    assert resources.VirtualKey.__annotations__.keys() >= {"key", "token", *specs.KEY_INPUTS}
    assert resources.Model.__annotations__.keys() >= set(specs.MODEL_INPUTS)
    assert resources.Team.__annotations__.keys() >= set(specs.TEAM_INPUTS)
