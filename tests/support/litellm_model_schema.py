"""Derive the model-deployment schema tables of `config/litellm_model_schema.py` from the installed
(pinned) LiteLLM's own types. Imports litellm: tests and the generator only, never the program.

    .venv/bin/python -m tests.support.litellm_model_schema > config/litellm_model_tables.py

Sources (litellm/types/router.py and types/utils.py, llms/ollama/chat/transformation.py):
- litellm_params: the fields of `GenericLiteLLMParams` (with `CredentialLiteLLMParams` and the
  custom-pricing params it inherits) and the keys of `LiteLLMParamsTypedDict` (which adds `order`,
  `weight`, `max_parallel_requests`...); for Ollama providers also the options of `OllamaChatConfig`
  plus `keep_alive` (popped from the params and sent to Ollama).
- model_info: the fields of the router's `ModelInfo` and the keys of `ModelInfoBase` (the cost map
  entry: `max_tokens`, costs, `supports_*`); `mode` takes the modes `/health` has a probe for
  (`HealthCheckHelpers.get_mode_handlers`).
Each key gets a value kind from its annotation; keys whose type cannot be written in a stack file
(objects, clients, nested structures) get no kind and are left out.
"""

from __future__ import annotations

import inspect
import types
import typing
from typing import Any, Optional


def _strip(annotation: Any) -> list[Any]:
    """Flatten Optional/Union/ReadOnly/Required/Annotated into the member types (None dropped)."""
    origin = typing.get_origin(annotation)
    name = getattr(origin, "_name", None) or getattr(origin, "__name__", None) or ""
    if origin is typing.Annotated:
        return _strip(typing.get_args(annotation)[0])
    if name in ("ReadOnly", "Required", "NotRequired") or str(origin).endswith(("ReadOnly", "Required", "NotRequired")):
        return _strip(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        out: list[Any] = []
        for arg in typing.get_args(annotation):
            out.extend(_strip(arg))
        return out
    if annotation is type(None):
        return []
    return [annotation]


def kind_of(annotation: Any) -> Optional[object]:
    """'str' | 'int' | 'number' | 'bool' | 'number_or_str' | 'str_list' | 'number_map' |
    ('literal', values) | None (not expressible in a stack file)."""
    members = _strip(annotation)
    if not members:
        return None
    plain = set()
    for m in members:
        origin = typing.get_origin(m)
        if m in (str, int, float, bool):
            plain.add(m)
        elif origin is typing.Literal:
            if len(members) == 1 and all(isinstance(v, str) for v in typing.get_args(m)):
                return ("literal", tuple(typing.get_args(m)))
            return None
        elif origin in (list, typing.Sequence, __import__("collections.abc").abc.Sequence) and typing.get_args(m) in ((str,),):
            if len(members) == 1:
                return "str_list"
            return None
        elif origin in (dict, typing.Mapping, __import__("collections.abc").abc.Mapping) and typing.get_args(m)[1:] in ((float,), (int,)):
            if len(members) == 1:
                return "number_map"
            return None
        else:
            return None
    if plain == {str}:
        return "str"
    if plain == {bool}:
        return "bool"
    if plain == {int}:
        return "int"
    if plain <= {int, float} and float in plain:
        return "number"
    if plain == {float, str}:
        return "number_or_str"
    return None


def _model_fields(model: type) -> dict[str, Any]:
    return {name: info.annotation for name, info in model.model_fields.items()}


def _typed_dict(td: type) -> dict[str, Any]:
    return typing.get_type_hints(td, include_extras=True)


def derive() -> dict[str, dict[str, object]]:
    from litellm.litellm_core_utils.health_check_helpers import HealthCheckHelpers
    from litellm.llms.ollama.chat.transformation import OllamaChatConfig
    from litellm.types.router import GenericLiteLLMParams, LiteLLMParamsTypedDict
    from litellm.types.router import ModelInfo as RouterModelInfo
    from litellm.types.utils import ModelInfoBase

    params: dict[str, Any] = {}
    params.update(_typed_dict(LiteLLMParamsTypedDict))
    params.update(_model_fields(GenericLiteLLMParams))
    info: dict[str, Any] = {}
    info.update(_typed_dict(ModelInfoBase))
    info.update(_model_fields(RouterModelInfo))
    ollama: dict[str, Any] = {}
    for name, p in inspect.signature(OllamaChatConfig.__init__).parameters.items():
        if name != "self" and p.kind is p.KEYWORD_ONLY or p.kind is p.POSITIONAL_OR_KEYWORD and name != "self":
            ollama[name] = p.annotation
    # keep_alive is not an OllamaChatConfig option: transform_request pops it from the params and
    # sends it as the request's own field (a duration such as "5m", or seconds).
    src = inspect.getsource(OllamaChatConfig)
    assert 'optional_params.pop("keep_alive"' in src, "OllamaChatConfig no longer takes keep_alive"
    ollama["keep_alive"] = "number_or_str"

    def table(src: dict[str, Any]) -> dict[str, object]:
        out = {}
        for name in sorted(src):
            kind = src[name] if isinstance(src[name], str) and src[name] in ("number_or_str",) else kind_of(src[name])
            if kind is not None:
                out[name] = kind
        return out

    info_table = table(info)
    # /health probes a deployment the way model_info.mode says (proxy/health_check.py
    # resolve_health_check_mode -> HealthCheckHelpers.get_mode_handlers): the modes it has a handler
    # for are what a deployment may declare.
    handlers = typing.get_type_hints(HealthCheckHelpers.get_mode_handlers)["return"]
    modes = typing.get_args(typing.get_args(handlers)[0])
    assert modes and all(isinstance(m, str) for m in modes), handlers
    info_table["mode"] = ("literal", tuple(modes))
    # The cost map's keys: /v2/model/info merges the cost map's entry into each deployment's
    # model_info, so for a model the cost map knows these values may not be the stored ones
    # (offline/adopt.py declares them only for models the cost map does not know).
    # Every key of what litellm.get_model_info returns (types.utils.ModelInfo: ModelInfoBase plus
    # supported_openai_params), whatever its type (a kind this module does not check is "other").
    from litellm.types.utils import ModelInfo as CostMapModelInfo

    cost_map = {k: kind_of(t) or "other" for k, t in sorted(_typed_dict(CostMapModelInfo).items())}
    return {"litellm_params": table(params), "model_info": info_table, "ollama_options": table(ollama),
            "cost_map_info": cost_map}


def render_module() -> str:
    from config.litellm_settings import PINNED_LITELLM_VERSION

    tables = derive()
    lines = [
        f'"""Generated from litellm {PINNED_LITELLM_VERSION}\'s own types by tests/support/litellm_model_schema.py:',
        "do not edit; regenerate when the pinned LiteLLM changes (tests/config/test_litellm_model_schema.py",
        'fails until then). Key -> value kind (see config/litellm_model_schema.py). Pure."""',
        "",
        f"GENERATED_FROM = {PINNED_LITELLM_VERSION!r}",
    ]
    for name, table in tables.items():
        lines.append("")
        lines.append(f"{name.upper()} = {{")
        for key, kind in table.items():
            lines.append(f"    {key!r}: {kind!r},")
        lines.append("}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render_module(), end="")
