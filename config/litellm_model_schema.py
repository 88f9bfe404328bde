"""What a model deployment may add to LiteLLM's `litellm_params` and `model_info`, checked against
the pinned LiteLLM's own types. Pure (no litellm import: the tables are generated from it into
`config.litellm_model_tables`, and tests/config/test_litellm_model_schema.py fails when the
installed release says otherwise).

Rules on top of LiteLLM's types:
- a key LiteLLM does not define is refused by name, with the keys it does define;
- a key the deployment already has as a first-class field (model, api_base, api_key, rpm, ...) or
  that the gateway sets itself (model_info.id, ...) is refused, naming the field to use;
- a credential (api_key-like, *_secret, *_password, *_token) is only an `os.environ/NAME`
  reference, never literal text, and never one of the gateway's own secrets;
- a string is one word (no spaces, `#`, `%`, `\\`, quotes) or, for URL keys, an http(s) URL:
  these values reach config.yaml and admin-API bodies.
"""

from __future__ import annotations

import difflib
import math
import re
from typing import Any, Mapping, Optional

from config import checks
from config.fields import check_host_or_ip
from config.litellm_model_tables import GENERATED_FROM, LITELLM_PARAMS, MODEL_INFO, OLLAMA_OPTIONS

# litellm_params keys that are first-class fields of a deployment (or derived from them).
FIRST_CLASS_PARAMS: dict[str, str] = {
    "model": "provider and model",
    "custom_llm_provider": "provider",
    "api_base": "api_base",
    "api_key": "api_key",
    "litellm_credential_name": "credential_name",
    "rpm": "rpm",
    "tpm": "tpm",
    "timeout": "timeout",
    "weight": "weight",
    "max_tokens": "max_tokens",
    "model_info": "model_info",
}
# litellm_params keys that are not deployment settings.
NOT_SETTINGS_PARAMS: dict[str, str] = {
    "litellm_trace_id": "is set per request",
    "system": "is a free-text prompt: put it in the request or the Ollama Modelfile",
    "template": "is a free-text prompt template: put it in the Ollama Modelfile",
}
# model_info keys the gateway or the proxy set.
RESERVED_INFO: dict[str, str] = {
    "id": "is the deployment's `id`",
    "db_model": "is set by the proxy",
    "created_at": "is set by the proxy",
    "created_by": "is set by the proxy",
    "updated_at": "is set by the proxy",
    "updated_by": "is set by the proxy",
    "team_id": "is set by the proxy for team models",
    "team_public_model_name": "is set by the proxy for team models",
    "key": "is the cost map's own key",
    "litellm_provider": "follows from `provider`",
    "rpm": "is the deployment's `rpm`",
    "tpm": "is the deployment's `tpm`",
}
_CREDENTIAL = re.compile(r".*(api_key|access_key_id|secret_access_key|_token|secret|password|signing_key_ref|secret_ref)")
_URL = re.compile(r".*(_url|_endpoint)")
ENV_PREFIX = "os.environ/"
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")


def is_credential(name: str) -> bool:
    return "cost_per" not in name and bool(_CREDENTIAL.fullmatch(name))


def allowed_params(ollama: bool) -> dict[str, object]:
    """litellm_params keys a deployment may set -> value kind."""
    table = {k: v for k, v in LITELLM_PARAMS.items() if k not in FIRST_CLASS_PARAMS and k not in NOT_SETTINGS_PARAMS}
    if ollama:
        table.update({k: v for k, v in OLLAMA_OPTIONS.items() if k not in NOT_SETTINGS_PARAMS})
    return table


def allowed_info() -> dict[str, object]:
    return {k: v for k, v in MODEL_INFO.items() if k not in RESERVED_INFO}


def _unknown(name: str, section: str, allowed: Mapping[str, object], reserved: Mapping[str, str], where: str) -> str:
    if name in reserved:
        why = reserved[name]
        if section == "litellm_params" and name in FIRST_CLASS_PARAMS:
            return f"'{name}' is a field of the deployment itself: set the deployment's `{why}` instead"
        return f"'{name}' {why}"
    close = difflib.get_close_matches(name, list(allowed), n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    return (f"unknown key '{name}'{hint}; LiteLLM {GENERATED_FROM} accepts in {section}{where}: "
            f"{', '.join(sorted(allowed))}")


def _check_word_or_url(name: str, value: str) -> Optional[str]:
    try:
        if _URL.fullmatch(name):
            checks.check_http_url(value, host_check=check_host_or_ip)
        else:
            checks.check_word(value)
    except ValueError as exc:
        return f"'{name}': {exc}"
    return None


def _env_name(value: str) -> Optional[str]:
    return value[len(ENV_PREFIX):] if value.startswith(ENV_PREFIX) else None


def _check_value(name: str, kind: object, value: Any, *, env_refs: bool) -> tuple[Any, Optional[str]]:
    """(normalised value, problem or None)."""
    def number(v: Any) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

    def text(v: Any) -> Optional[str]:
        if not isinstance(v, str):
            return f"'{name}': expected text"
        ref = _env_name(v)
        if ref is not None:
            if not env_refs:
                return f"'{name}': os.environ/ references are resolved only in litellm_params, not here"
            if not _ENV_NAME.fullmatch(ref):
                return f"'{name}': '{ref}' is not a valid environment variable name (A-Z, 0-9, _)"
            return None
        return _check_word_or_url(name, v)

    if kind == "str":
        return value, text(value)
    if kind == "bool":
        return value, None if isinstance(value, bool) else f"'{name}': expected true or false"
    if kind == "int":
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # Pulumi hands 32 over as 32.0
        ok = isinstance(value, int) and not isinstance(value, bool)
        return value, None if ok else f"'{name}': expected a whole number"
    if kind == "number":
        return value, None if number(value) else f"'{name}': expected a number"
    if kind == "number_or_str":
        if number(value):
            return value, None
        return value, None if isinstance(value, str) and text(value) is None else (
            f"'{name}': expected a number or one word such as '5m'")
    if kind == "str_list":
        if not isinstance(value, list):
            return value, f"'{name}': expected a list of words"
        for item in value:
            problem = text(item)
            if problem:
                return value, problem
        return list(value), None
    if kind == "number_map":
        if not isinstance(value, dict) or not all(isinstance(k, str) and number(v) for k, v in value.items()):
            return value, f"'{name}': expected a map of names to numbers"
        bad = [k for k in value if _check_word_or_url(name, k)]
        return dict(value), f"'{name}': map keys must be words" if bad else None
    if isinstance(kind, tuple) and kind[0] == "literal":
        return value, None if value in kind[1] else f"'{name}': expected one of {', '.join(kind[1])}"
    return value, f"'{name}': not settable from a stack"


def check_params(params: Mapping[str, Any], provider: str, ollama: bool, gateway_env: frozenset[str]) -> dict[str, Any]:
    """Validated extra litellm_params; raises ValueError with every problem."""
    allowed = allowed_params(ollama)
    reserved = {**FIRST_CLASS_PARAMS, **NOT_SETTINGS_PARAMS}
    where = f" for provider {provider}"
    out: dict[str, Any] = {}
    problems: list[str] = []
    for name, value in params.items():
        if name in OLLAMA_OPTIONS and not ollama:
            problems.append(f"'{name}' is an Ollama option (providers ollama, ollama_chat), not a litellm_param "
                            f"of provider {provider}")
            continue
        if name not in allowed:
            problems.append(_unknown(str(name), "litellm_params", allowed, reserved, where))
            continue
        if is_credential(name):
            ref = _env_name(value) if isinstance(value, str) else None
            if ref is None:
                problems.append(f"'{name}' is a credential: give an os.environ/NAME reference (its value set with "
                                "`pulumi config set --secret --path envSecrets.NAME`), never the value itself")
                continue
            if ref in gateway_env:
                problems.append(f"'{name}': os.environ/{ref} is one of the gateway's own secrets; LiteLLM would send "
                                "it upstream as a credential")
                continue
        value, problem = _check_value(name, allowed[name], value, env_refs=True)
        if problem:
            problems.append(problem)
        else:
            if isinstance(value, str) and _env_name(value) in gateway_env:
                problems.append(f"'{name}': os.environ/{_env_name(value)} is one of the gateway's own secrets")
                continue
            out[name] = value
    if problems:
        raise ValueError("; ".join(problems))
    return out


def check_info(info: Mapping[str, Any]) -> dict[str, Any]:
    allowed = allowed_info()
    out: dict[str, Any] = {}
    problems: list[str] = []
    for name, value in info.items():
        if name not in allowed:
            problems.append(_unknown(str(name), "model_info", allowed, RESERVED_INFO, ""))
            continue
        value, problem = _check_value(name, allowed[name], value, env_refs=False)
        if problem:
            problems.append(problem)
        else:
            out[name] = value
    if problems:
        raise ValueError("; ".join(problems))
    return out


def env_references(params: Mapping[str, Any]) -> list[str]:
    """Every os.environ/NAME in validated litellm_params (LiteLLM resolves them at start-up)."""
    names: list[str] = []
    for value in params.values():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and _env_name(item) is not None:
                names.append(_env_name(item))  # type: ignore[arg-type]
    return names

