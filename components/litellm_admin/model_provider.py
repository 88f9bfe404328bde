"""Dynamic provider for a LiteLLM model deployment (`/model/new`, `PATCH /model/{id}/update`,
`/model/delete`, `/v2/model/info`). The resource id is the `model_info.id` we choose (`model_id`)."""

from __future__ import annotations

from typing import Any

from pulumi.dynamic import ConfigureRequest, CreateResult, ReadResult, ResourceProvider, UpdateResult

from . import client, specs
from .client import AdminApiError
from .connection import endpoint_for, remember_stack_config
from .provider_results import adopted, check_result, diff_result, inputs_without_provider


class ModelProvider(ResourceProvider):
    """Stateless: credentials come from configure()/the environment on every call (see connection)."""

    def configure(self, req: ConfigureRequest) -> None:
        remember_stack_config(req.config)

    def check(self, olds: dict[str, Any], news: dict[str, Any]):
        inputs = inputs_without_provider(news)
        return check_result(inputs, specs.check_model(inputs))

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]):
        return diff_result(specs.diff_model(olds, news))

    def create(self, props: dict[str, Any]) -> CreateResult:
        inputs = specs.model_outputs(props)
        if inputs.get(specs.ADOPT_FIELD):
            return self._adopt(inputs[specs.ADOPT_FIELD], inputs)
        client.create_model(endpoint_for(inputs), specs.model_create_body(inputs))
        return CreateResult(inputs["model_id"], inputs)

    def _adopt(self, id_: str, inputs: dict[str, Any]) -> CreateResult:
        """The existing model `id_` becomes this resource: read, compared, nothing written."""
        return adopted("model", id_, inputs, found=client.get_model(endpoint_for(inputs), id_), path="/v2/model/info",
                       project=specs.project_model, diff=specs.diff_model)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        row = client.get_model(endpoint_for(props), id_)
        if row is None:
            return ReadResult(None, {})
        state = specs.project_model(row, {**props, "model_id": id_})
        return ReadResult(id_, state, dict(state))

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        patch = specs.model_update_patch(olds, news)
        if patch:
            try:
                client.update_model(endpoint_for(news), id_, patch)
            except AdminApiError as error:
                if error.status == 404:
                    raise AdminApiError(
                        error.method, error.path, error.status,
                        f"model {id_!r} no longer exists on the proxy; run `pulumi refresh` so it is created again",
                    ) from None
                raise
        return UpdateResult(specs.model_outputs(news))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        client.delete_model(endpoint_for(props), id_)
