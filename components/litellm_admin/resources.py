"""Pulumi resources for the objects inside a LiteLLM proxy: models, teams and virtual keys.

Each is a `pulumi.dynamic.Resource` with a custom type token (`pulumi-python:dynamic/litellm:Model`,
`...:Team`, `...:VirtualKey`). Their providers are stateless classes in importable modules, so the
`__provider` stored with every resource is a small by-reference pickle; the admin URL and master key
reach the providers through stack config (`litellm-gateway:adminUrl`, `litellm-gateway:masterKey`) or
the environment (`LITELLM_GATEWAY_ADMIN_URL`, `LITELLM_GATEWAY_MASTER_KEY`), never as inputs; without
`adminUrl` the URL is derived from the stack config (see `connection`).

Each takes `ca_bundle_pem`, the CA the admin calls verify an https proxy with (Gateway.ca_bundle_pem: the
stack's CA may only exist as an output of its TLS component, so config cannot carry it). It is kept in
state for refresh and delete, but never sent to the API and never diffed: a CA change alone changes
nothing. Without it: LITELLM_GATEWAY_CA_BUNDLE (a file), else the system trust store.

Moving or renaming the provider modules/classes breaks refresh and delete of existing resources
(their pickles name them): keep `components.litellm_admin.*_provider` where they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

import pulumi
from pulumi import Input, Output, ResourceOptions
from pulumi.dynamic import Resource

from .model_provider import ModelProvider
from .specs import ADOPT_FIELD, CA_BUNDLE_FIELD, CREDENTIAL_PARAMS, KEY_OWNER_FIELD, MODEL_CREDENTIALS_SECRET_FIELD, is_env_reference
from .team_provider import TeamProvider
from .virtual_key_provider import VirtualKeyProvider


@dataclass
class ModelArgs:
    model_id: Input[str]
    """The deployment's stable id (`model_info.id`); changing it replaces the model."""
    model_name: Input[str]
    """The public model name clients ask for."""
    litellm_params: Input[Mapping[str, Input[Any]]]
    """`model` is required. Credentials as `os.environ/NAME`, `litellm_credential_name`, or a secret."""
    model_info: Optional[Input[Mapping[str, Input[Any]]]] = None
    """Extra model_info entries (not `id`)."""
    ca_bundle_pem: Optional[Input[str]] = None
    """PEM CA certificate(s) that the proxy's TLS certificate is verified with (public, never diffed)."""
    adopt_id: Optional[Input[str]] = None
    """The id of an object already on the proxy to adopt instead of creating one (never diffed): the
    create reads it and writes nothing, failing unless it matches these inputs (offline.adopt)."""


@dataclass
class TeamArgs:
    team_id: Input[str]
    """Chosen id; changing it replaces the team (and LiteLLM deletes a team's keys with it)."""
    team_alias: Optional[Input[str]] = None
    models: Optional[Input[Sequence[Input[str]]]] = None
    max_budget: Optional[Input[float]] = None
    budget_duration: Optional[Input[str]] = None
    rpm_limit: Optional[Input[int]] = None
    tpm_limit: Optional[Input[int]] = None
    metadata: Optional[Input[Mapping[str, Input[Any]]]] = None
    ca_bundle_pem: Optional[Input[str]] = None
    """PEM CA certificate(s) that the proxy's TLS certificate is verified with (public, never diffed)."""
    adopt_id: Optional[Input[str]] = None
    """The id of an object already on the proxy to adopt instead of creating one (never diffed): the
    create reads it and writes nothing, failing unless it matches these inputs (offline.adopt)."""


@dataclass
class VirtualKeyArgs:
    key_alias: Optional[Input[str]] = None
    team_id: Optional[Input[str]] = None
    models: Optional[Input[Sequence[Input[str]]]] = None
    """Model names the key may call; empty or unset means all."""
    max_budget: Optional[Input[float]] = None
    budget_duration: Optional[Input[str]] = None
    rpm_limit: Optional[Input[int]] = None
    tpm_limit: Optional[Input[int]] = None
    expires: Optional[Input[str]] = None
    """ISO 8601 instant with a timezone, e.g. "2030-01-31T00:00:00Z"."""
    metadata: Optional[Input[Mapping[str, Input[Any]]]] = None
    rotation_trigger: Optional[Input[str]] = None
    """Any string; changing it rotates the key (a new key is created before the old one is deleted)."""
    rotation_grace: Optional[Input[str]] = None
    """How long a rotated-out key keeps working ("24h", "7d", "0s"; unset: no grace): it is moved aside
    with `expires` = rotation time + grace instead of being deleted, and stops by LiteLLM's own expiry."""
    ca_bundle_pem: Optional[Input[str]] = None
    """PEM CA certificate(s) that the proxy's TLS certificate is verified with (public, never diffed)."""
    adopt_id: Optional[Input[str]] = None
    """The id of an object already on the proxy to adopt instead of creating one (never diffed): the
    create reads it and writes nothing, failing unless it matches these inputs (offline.adopt)."""


async def _all_secret(values: list[Any]) -> bool:
    for value in values:
        if not await Output.from_input(value).is_secret():
            return False
    return True


def _credentials_secret_flag(litellm_params: Any) -> Optional[Output[bool]]:
    """Whether every literal credential in litellm_params is a Pulumi secret.

    The engine strips secretness before a dynamic provider sees its inputs, so the provider's check
    cannot tell; the program can, and passes the answer along. None when there is nothing to judge."""
    if litellm_params is None:
        return None
    if isinstance(litellm_params, Mapping):
        literal = [
            value
            for name, value in litellm_params.items()
            if name in CREDENTIAL_PARAMS and value is not None and not is_env_reference(value)
        ]
        if not literal:
            return None
        return Output.from_input(_all_secret(literal))
    return Output.from_input(_all_secret([litellm_params]))


def _has_literal_credentials(litellm_params: Any) -> bool:
    return isinstance(litellm_params, Mapping) and any(
        name in CREDENTIAL_PARAMS and value is not None and not is_env_reference(value)
        for name, value in litellm_params.items()
    )


class Model(Resource, module="litellm", name="Model"):
    model_id: Output[str]
    model_name: Output[str]
    litellm_params: Output[dict]
    model_info: Output[Optional[dict]]
    credentials_secret: Output[Optional[bool]]
    ca_bundle_pem: Output[Optional[str]]
    adopt_id: Output[Optional[str]]

    def __init__(self, resource_name: str, args: ModelArgs, opts: Optional[ResourceOptions] = None) -> None:
        props = {
            "model_id": args.model_id,
            "model_name": args.model_name,
            "litellm_params": args.litellm_params,
            "model_info": args.model_info,
            MODEL_CREDENTIALS_SECRET_FIELD: _credentials_secret_flag(args.litellm_params),
            CA_BUNDLE_FIELD: args.ca_bundle_pem,
            ADOPT_FIELD: args.adopt_id,
        }
        if _has_literal_credentials(args.litellm_params):
            # The provider echoes litellm_params as its output: keep the credential in it encrypted.
            opts = ResourceOptions.merge(ResourceOptions(additional_secret_outputs=["litellm_params"]), opts)
        super().__init__(ModelProvider(), resource_name, props, opts)


class Team(Resource, module="litellm", name="Team"):
    team_id: Output[str]
    team_alias: Output[Optional[str]]
    models: Output[Optional[list]]
    max_budget: Output[Optional[float]]
    budget_duration: Output[Optional[str]]
    rpm_limit: Output[Optional[int]]
    tpm_limit: Output[Optional[int]]
    metadata: Output[Optional[dict]]
    ca_bundle_pem: Output[Optional[str]]
    adopt_id: Output[Optional[str]]

    def __init__(self, resource_name: str, args: TeamArgs, opts: Optional[ResourceOptions] = None) -> None:
        props = {
            "team_id": args.team_id,
            "team_alias": args.team_alias,
            "models": args.models,
            "max_budget": args.max_budget,
            "budget_duration": args.budget_duration,
            "rpm_limit": args.rpm_limit,
            "tpm_limit": args.tpm_limit,
            "metadata": args.metadata,
            CA_BUNDLE_FIELD: args.ca_bundle_pem,
            ADOPT_FIELD: args.adopt_id,
        }
        super().__init__(TeamProvider(), resource_name, props, opts)


class VirtualKey(Resource, module="litellm", name="VirtualKey"):
    key: Output[str]
    """The raw `sk-...` value (secret). Empty for an adopted key (`adopt_id`): its consumer holds it."""
    token: Output[str]
    """sha256 hex of the key; also the resource id."""
    key_alias: Output[Optional[str]]
    team_id: Output[Optional[str]]
    models: Output[Optional[list]]
    max_budget: Output[Optional[float]]
    budget_duration: Output[Optional[str]]
    rpm_limit: Output[Optional[int]]
    tpm_limit: Output[Optional[int]]
    expires: Output[Optional[str]]
    metadata: Output[Optional[dict]]
    rotation_trigger: Output[Optional[str]]
    rotation_grace: Output[Optional[str]]
    owner: Output[str]
    ca_bundle_pem: Output[Optional[str]]
    adopt_id: Output[Optional[str]]

    def __init__(
        self, resource_name: str, args: Optional[VirtualKeyArgs] = None, opts: Optional[ResourceOptions] = None
    ) -> None:
        args = args or VirtualKeyArgs()
        props = {
            "key_alias": args.key_alias,
            "team_id": args.team_id,
            "models": args.models,
            "max_budget": args.max_budget,
            "budget_duration": args.budget_duration,
            "rpm_limit": args.rpm_limit,
            "tpm_limit": args.tpm_limit,
            "expires": args.expires,
            "metadata": args.metadata,
            "rotation_trigger": args.rotation_trigger,
            "rotation_grace": args.rotation_grace,
            # Recorded in the key's metadata: lets a rotation take the alias over from its predecessor.
            KEY_OWNER_FIELD: f"{pulumi.get_project()}/{pulumi.get_stack()}/{resource_name}",
            CA_BUNDLE_FIELD: args.ca_bundle_pem,
            ADOPT_FIELD: args.adopt_id,
            "key": None,
            "token": None,
        }
        opts = ResourceOptions.merge(ResourceOptions(additional_secret_outputs=["key"]), opts)
        super().__init__(VirtualKeyProvider(), resource_name, props, opts)
