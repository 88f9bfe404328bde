"""Dynamic provider for a LiteLLM team (`/team/new`, `/team/update`, `/team/delete`, `/team/info`).
The resource id is the `team_id` we choose; changing it replaces the team."""

from __future__ import annotations

from typing import Any

from pulumi.dynamic import ConfigureRequest, CreateResult, ReadResult, ResourceProvider, UpdateResult

from . import client, specs
from .client import AdminApiError
from .connection import endpoint_for, remember_stack_config
from .provider_results import adopted, check_result, diff_result, inputs_without_provider


def _gone(id_: str) -> AdminApiError:
    return AdminApiError(
        "POST", "/team/update", 404, f"team {id_!r} no longer exists on the proxy; run `pulumi refresh` so it is created again"
    )


class TeamProvider(ResourceProvider):
    """Stateless: credentials come from configure()/the environment on every call (see connection)."""

    def configure(self, req: ConfigureRequest) -> None:
        remember_stack_config(req.config)

    def check(self, olds: dict[str, Any], news: dict[str, Any]):
        inputs = inputs_without_provider(news)
        return check_result(inputs, specs.check_team(inputs))

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]):
        return diff_result(specs.diff_team(olds, news))

    def create(self, props: dict[str, Any]) -> CreateResult:
        inputs = specs.team_outputs(props)
        if inputs.get(specs.ADOPT_FIELD):
            return self._adopt(inputs[specs.ADOPT_FIELD], inputs)
        client.create_team(endpoint_for(inputs), specs.team_create_body(inputs))
        return CreateResult(inputs["team_id"], inputs)

    def _adopt(self, id_: str, inputs: dict[str, Any]) -> CreateResult:
        """The existing team `id_` becomes this resource: read, compared, nothing written."""
        return adopted("team", id_, inputs, found=client.get_team(endpoint_for(inputs), id_), path="/team/info",
                       project=specs.project_team, diff=specs.diff_team)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        team = client.get_team(endpoint_for(props), id_)
        if team is None:
            return ReadResult(None, {})
        state = specs.project_team(team, {**props, "team_id": id_})
        return ReadResult(id_, state, dict(state))

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        endpoint = endpoint_for(news)
        server_metadata = None
        if specs.metadata_changed(olds, news):
            # LiteLLM replaces metadata whole and keeps its own fields there: merge onto what it has.
            team = client.get_team(endpoint, id_)
            if team is None:
                raise _gone(id_)
            server_metadata = team.get("metadata") or {}
        patch = specs.team_update_patch(olds, news, server_metadata)
        if patch:
            try:
                client.update_team(endpoint, id_, patch)
            except AdminApiError as error:
                if error.status == 404:
                    raise _gone(id_) from None
                raise
        return UpdateResult(specs.team_outputs(news))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        client.delete_team(endpoint_for(props), id_)
