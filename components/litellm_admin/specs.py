"""Request bodies, update patches, diffs, drift projection and input validation for the LiteLLM
models, teams and virtual keys that the dynamic providers manage.

Pure functions over plain dicts (no Pulumi, no litellm, no I/O) so they can be tested directly.

Rules that hold for all three resources:

* Only fields the user declared are compared. What the server adds (defaults, cost-map fields,
  metadata it keeps for itself, masked credentials) never causes a diff.
* Numbers compare numerically (Pulumi turns 32 into 32.0); model lists compare as sets.
* A declared field that the user later removes is cleared on the server (explicit null, `[]` for
  `models`, or the key dropped from `metadata`), except where the API cannot clear it in place
  (model `litellm_params` / `model_info` keys): then the resource is replaced.
* Values that are not known yet (preview) are never validated and always count as a change.
* `ca_bundle_pem` (the CA the admin calls verify the proxy's certificate with) is an input of all
  three and kept in their state, but it is connection plumbing, not part of the object: it is never
  sent to the API. A CA change alone is an update that sends nothing (never a replace): the engine
  hands a delete and a refresh only the state, so a state keeping the CA of before a rotation would
  fail them against a proxy that now presents the new CA's certificate (found on the systemd bed:
  the destroy after a CA rotation could not delete the stack's key).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Mapping, Optional

from .client import CREATE_ID_METADATA_FIELD, EXPIRES_TOLERANCE_SECONDS
from .values import is_number, json_ready, parse_timestamp, same_instant, same_unordered, same_value

# pulumi.runtime.rpc.UNKNOWN: the wire sentinel for a value not known yet (preview). Copied so this
# module stays free of Pulumi; a test keeps the two equal. Note that the 3.272 dynamic-provider host
# does not pass this string to check/diff: rpc.deserialize_property(keep_unknowns=True) turns it into a
# `pulumi.output.Unknown()` instance. is_unknown() recognises both.
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"

PROVIDER_KEY = "__provider"

# A key's metadata records which Pulumi resource manages it (project/stack/resource name). It lets a
# replacement take the alias over from its predecessor and from nothing else (see virtual_key_provider).
OWNER_METADATA_FIELD = "litellm_gateway_owner"
# Set on a key that a rotation moved aside: until when it keeps working (its `expires`). A key carrying
# it is left to expire on its own when the engine deletes its resource (see virtual_key_provider).
RETIRED_METADATA_FIELD = "litellm_gateway_retired_until"
RESERVED_METADATA_FIELDS = frozenset({OWNER_METADATA_FIELD, CREATE_ID_METADATA_FIELD, RETIRED_METADATA_FIELD})

# litellm_params entries that hold provider credentials. Anything else is configuration.
CREDENTIAL_PARAMS = frozenset(
    {
        "api_key",
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
        "azure_ad_token",
        "client_secret",
        "vertex_credentials",
    }
)
ENV_REFERENCE_PREFIX = "os.environ/"

# Every resource's optional input: the PEM CA bundle the admin calls trust for an https proxy URL
# (the stack's CA, which may only exist as an output of the TLS component). Not a *_FIELDS entry, so
# it never takes part in a diff, a request body or a patch.
CA_BUNDLE_FIELD = "ca_bundle_pem"
# Every resource's optional input: the id of an object that already exists on the proxy (a model id, a
# team id, a key's sha256 token) to adopt instead of creating one. `create` then reads that object and
# writes nothing: it fails, naming the fields, unless the object already matches the declared inputs.
# (The engine's `import_` cannot reach a dynamic provider: its Read carries no `__provider`, pulumi/pulumi
# #16175.) Like CA_BUNDLE_FIELD it never takes part in a diff, a request body or a patch.
ADOPT_FIELD = "adopt_id"
_PEM_CERTIFICATE_MARKER = "-----BEGIN CERTIFICATE-----"

_DURATION_PATTERN = re.compile(r"[0-9]+(s|m|h|d|w|mo)")
_MODEL_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]*")


# ----------------------------------------------------------------------------------------------------
# Shared vocabulary
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Failure:
    """An input that fails validation: `property` is a path such as `litellm_params.api_key`."""

    property: str
    reason: str


@dataclass(frozen=True)
class Diff:
    changes: bool
    replaces: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    delete_before_replace: Optional[bool] = None


def is_unknown(value: Any) -> bool:
    if isinstance(value, str):
        return value == UNKNOWN
    # pulumi.output.Unknown, matched by name to keep Pulumi out of this module.
    value_type = type(value)
    return value_type.__name__ == "Unknown" and value_type.__module__ == "pulumi.output"


def contains_unknown(value: Any) -> bool:
    if is_unknown(value):
        return True
    if isinstance(value, Mapping):
        return any(contains_unknown(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return any(contains_unknown(item) for item in value)
    return False


def is_env_reference(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(ENV_REFERENCE_PREFIX)


def own_fields(props: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """The declared values among `names` (drops `__provider`, outputs and absent fields)."""
    return {name: props[name] for name in names if name in props and props[name] is not None}


Comparator = Callable[[Any, Any], bool]


def _compare(comparators: Mapping[str, Comparator], name: str, old: Any, new: Any) -> bool:
    return comparators.get(name, same_value)(old, new)


def _diff_fields(
    olds: Mapping[str, Any],
    news: Mapping[str, Any],
    fields: tuple[str, ...],
    immutable: frozenset[str],
    comparators: Mapping[str, Comparator],
) -> tuple[list[str], list[str]]:
    """(changed, replaces) over the declared fields; an unknown new value counts as a change."""
    changed: list[str] = []
    replaces: list[str] = []
    for name in fields:
        in_old, in_new = olds.get(name) is not None, news.get(name) is not None
        if not in_old and not in_new:
            continue
        new = news.get(name)
        if in_new and contains_unknown(new):
            differs = True
        elif in_old != in_new:
            differs = True
        else:
            differs = not _compare(comparators, name, olds[name], new)
        if differs:
            changed.append(name)
            if name in immutable:
                replaces.append(name)
    return changed, replaces


def _project_scalar(declared: Any, current: Any, compare: Comparator = same_value) -> Any:
    """Refresh/import: keep the declared spelling when the server agrees, else report the server's."""
    if current is None:
        return None
    return declared if compare(declared, current) else current


def _project_metadata(declared: Mapping[str, Any], current: Any) -> dict[str, Any]:
    """The server's metadata restricted to the keys the user declared."""
    current = current if isinstance(current, Mapping) else {}
    projected = {}
    for name, value in declared.items():
        if name in current and current[name] is not None:
            projected[name] = value if same_value(value, current[name]) else current[name]
    return projected


def merge_metadata(
    server_metadata: Optional[Mapping[str, Any]],
    old_declared: Optional[Mapping[str, Any]],
    new_declared: Optional[Mapping[str, Any]],
) -> dict[str, Any]:
    """Metadata to send on update. `metadata` is replaced whole by LiteLLM and also stores fields the
    server or other tools own (tags, per-model limits, our own markers), so: start from what the server
    has, drop the keys we declared before and no longer declare, overlay what we declare now."""
    old_declared = old_declared or {}
    new_declared = new_declared or {}
    dropped = set(old_declared) - set(new_declared)
    merged = {name: value for name, value in (server_metadata or {}).items() if name not in dropped}
    merged.update(new_declared)
    return merged


# -- validation helpers ------------------------------------------------------------------------------


def _check_string(failures: list[Failure], path: str, value: Any, required: bool = False) -> None:
    if value is None:
        if required:
            failures.append(Failure(path, "is required"))
        return
    if is_unknown(value):
        return
    if not isinstance(value, str) or not value.strip():
        failures.append(Failure(path, "must be a non-empty string"))


def _check_string_list(failures: list[Failure], path: str, value: Any) -> None:
    if value is None or is_unknown(value):
        return
    if not isinstance(value, (list, tuple)):
        failures.append(Failure(path, "must be a list of strings"))
        return
    for index, item in enumerate(value):
        if not is_unknown(item) and (not isinstance(item, str) or not item):
            failures.append(Failure(f"{path}[{index}]", "must be a non-empty string"))


def _check_budget(failures: list[Failure], path: str, value: Any) -> None:
    if value is None or is_unknown(value):
        return
    if not is_number(value) or not math.isfinite(value) or value < 0:
        failures.append(Failure(path, "must be a number >= 0"))


def _check_limit(failures: list[Failure], path: str, value: Any) -> None:
    if value is None or is_unknown(value):
        return
    if not is_number(value) or not math.isfinite(value) or value < 0 or not float(value).is_integer():
        failures.append(Failure(path, "must be a whole number >= 0"))


def _check_duration(failures: list[Failure], path: str, value: Any) -> None:
    if value is None or is_unknown(value):
        return
    if not isinstance(value, str) or not _DURATION_PATTERN.fullmatch(value):
        failures.append(Failure(path, 'must be a duration such as "30s", "15m", "1h", "30d", "1w" or "1mo"'))


def _check_access_and_limits(failures: list[Failure], news: Mapping[str, Any]) -> None:
    """The fields a team and a virtual key share: allowed models, budget and rate limits."""
    _check_string_list(failures, "models", news.get("models"))
    _check_budget(failures, "max_budget", news.get("max_budget"))
    _check_duration(failures, "budget_duration", news.get("budget_duration"))
    _check_limit(failures, "rpm_limit", news.get("rpm_limit"))
    _check_limit(failures, "tpm_limit", news.get("tpm_limit"))


def _check_mapping(failures: list[Failure], path: str, value: Any) -> bool:
    """True when `value` is a known mapping whose entries can be inspected."""
    if value is None or is_unknown(value):
        return False
    if not isinstance(value, Mapping):
        failures.append(Failure(path, "must be a mapping"))
        return False
    return True


def _check_ca_bundle(failures: list[Failure], news: Mapping[str, Any]) -> None:
    """Shape only (a PEM text holding a certificate); the client parses it when it is used."""
    value = news.get(CA_BUNDLE_FIELD)
    if value is None or is_unknown(value):
        return
    if not isinstance(value, str) or _PEM_CERTIFICATE_MARKER not in value:
        failures.append(Failure(CA_BUNDLE_FIELD, f"must be PEM text holding at least one certificate ({_PEM_CERTIFICATE_MARKER} ...)"))


def _check_adopt_id(failures: list[Failure], news: Mapping[str, Any]) -> None:
    value = news.get(ADOPT_FIELD)
    if value is None or is_unknown(value):
        return
    if not isinstance(value, str) or not value:
        failures.append(Failure(ADOPT_FIELD, "must be the id of the object to adopt (a non-empty string)"))
    elif value.startswith("sk-"):
        failures.append(Failure(ADOPT_FIELD, "must be a key's sha256 token, never the raw key"))


def _check_no_extra_properties(failures: list[Failure], news: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    for name in news:
        if name != PROVIDER_KEY and name not in allowed:
            failures.append(Failure(name, f"is not a property of this resource (expected one of: {', '.join(allowed)})"))


# ----------------------------------------------------------------------------------------------------
# Models
# ----------------------------------------------------------------------------------------------------

MODEL_FIELDS = ("model_id", "model_name", "litellm_params", "model_info")
# Set by resources.Model, not by users: True when every literal credential in litellm_params was a
# Pulumi secret in the program (the engine strips secretness before the provider sees the inputs).
MODEL_CREDENTIALS_SECRET_FIELD = "credentials_secret"
MODEL_INPUTS = MODEL_FIELDS + (MODEL_CREDENTIALS_SECRET_FIELD, CA_BUNDLE_FIELD, ADOPT_FIELD)


def check_model(news: Mapping[str, Any]) -> list[Failure]:
    failures: list[Failure] = []
    _check_no_extra_properties(failures, news, MODEL_INPUTS)
    _check_ca_bundle(failures, news)
    _check_adopt_id(failures, news)
    model_id = news.get("model_id")
    _check_string(failures, "model_id", model_id, required=True)
    if isinstance(model_id, str) and not is_unknown(model_id) and model_id and not _MODEL_ID_PATTERN.fullmatch(model_id):
        failures.append(Failure("model_id", "may contain only letters, digits and . _ : @ - (it is used in URLs)"))
    _check_string(failures, "model_name", news.get("model_name"), required=True)

    params = news.get("litellm_params")
    if params is None:
        failures.append(Failure("litellm_params", "is required (at least {'model': 'provider/model-name'})"))
    elif _check_mapping(failures, "litellm_params", params):
        _check_string(failures, "litellm_params.model", params.get("model"), required=True)
        credentials_secret = news.get(MODEL_CREDENTIALS_SECRET_FIELD)
        for name in sorted(CREDENTIAL_PARAMS & set(params)):
            value = params[name]
            if value is None or is_unknown(value) or is_env_reference(value):
                continue
            if credentials_secret is True or is_unknown(credentials_secret):
                continue
            failures.append(
                Failure(
                    f"litellm_params.{name}",
                    "a literal credential must be a Pulumi secret (pulumi.Output.secret or config.require_secret); "
                    f"better, reference a variable on the proxy host ('{ENV_REFERENCE_PREFIX}NAME') or a stored "
                    "credential (litellm_credential_name)",
                )
            )

    model_info = news.get("model_info")
    if _check_mapping(failures, "model_info", model_info) and "id" in model_info:
        failures.append(Failure("model_info.id", "is set from model_id; do not set it in model_info"))
    return failures


def model_create_body(inputs: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "model_name": inputs["model_name"],
        "litellm_params": json_ready(dict(inputs["litellm_params"])),
        "model_info": {**json_ready(dict(inputs.get("model_info") or {})), "id": inputs["model_id"]},
    }


def _removed_keys(old: Any, new: Any) -> set[str]:
    if not isinstance(old, Mapping):
        return set()
    if new is None:
        return set(old)
    if not isinstance(new, Mapping):
        return set()
    return set(old) - set(new)


def ca_bundle_changed(olds: Mapping[str, Any], news: Mapping[str, Any]) -> bool:
    """The CA to verify the proxy with changed (an update that sends nothing: see the module doc)."""
    new = news.get(CA_BUNDLE_FIELD)
    if is_unknown(new):
        return True
    return (olds.get(CA_BUNDLE_FIELD) or "").strip() != (new or "").strip()


def diff_model(olds: Mapping[str, Any], news: Mapping[str, Any]) -> Diff:
    changed, replaces = _diff_fields(olds, news, MODEL_FIELDS, frozenset({"model_id"}), {})
    if ca_bundle_changed(olds, news):
        changed.append(CA_BUNDLE_FIELD)
    # The PATCH endpoint merges parameters: one that is no longer declared cannot be removed in place.
    for section in ("litellm_params", "model_info"):
        if section in changed and not is_unknown(news.get(section)) and _removed_keys(olds.get(section), news.get(section)):
            replaces.append(section)
    # Two models cannot share an id: when the replacement keeps the id, the old one must go first.
    same_id = not is_unknown(news.get("model_id")) and olds.get("model_id") == news.get("model_id")
    return Diff(
        changes=bool(changed),
        replaces=replaces,
        changed=changed,
        delete_before_replace=True if replaces and same_id else None,
    )


def model_update_patch(olds: Mapping[str, Any], news: Mapping[str, Any]) -> dict[str, Any]:
    """The fields that changed; within litellm_params / model_info only changed or added entries.

    A `model_info` in the patch always carries the stored `id`: the server parses it as ModelInfo,
    whose `id` defaults to a fresh random one, and merges that over the stored id (MME update_db_model:
    `merged_model_info.update(...)`)."""
    patch: dict[str, Any] = {}
    if not same_value(olds.get("model_name"), news.get("model_name")):
        patch["model_name"] = news["model_name"]
    for section in ("litellm_params", "model_info"):
        old_section = olds.get(section) or {}
        new_section = news.get(section) or {}
        changed = {
            name: json_ready(value)
            for name, value in new_section.items()
            if name not in old_section or not same_value(old_section[name], value)
        }
        if changed:
            patch[section] = changed
    if "model_info" in patch:
        patch["model_info"]["id"] = news.get("model_id", olds.get("model_id"))
    return patch


def model_outputs(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """State = what we sent. The server's row holds encrypted litellm_params: never keep it."""
    return own_fields(inputs, MODEL_INPUTS)


def project_model(row: Mapping[str, Any], declared: Mapping[str, Any]) -> dict[str, Any]:
    """The live model as state, restricted to what the user declared (refresh and import)."""
    state = own_fields(declared, MODEL_INPUTS)
    row_info = row.get("model_info") or {}
    state["model_id"] = row_info.get("id", declared.get("model_id"))

    # A team model's model_name is rewritten by the server; its public name is kept in model_info.
    public_name = row_info.get("team_public_model_name") or row.get("model_name")
    if public_name is not None:
        state["model_name"] = _project_scalar(declared.get("model_name"), public_name)

    declared_params = declared.get("litellm_params") or {}
    row_params = row.get("litellm_params") or {}
    params = {}
    for name, value in declared_params.items():
        if name in CREDENTIAL_PARAMS or is_env_reference(value) or name not in row_params:
            # Masked on read (credentials, api_base) or resolved from the proxy's environment:
            # the server's answer says nothing about what we set, so keep ours.
            params[name] = value
        else:
            params[name] = _project_scalar(value, row_params[name]) if row_params[name] is not None else value
    state["litellm_params"] = params

    if "model_info" in declared:
        projected_info = _project_metadata(declared["model_info"] or {}, row_info)
        state["model_info"] = projected_info
    return state


# ----------------------------------------------------------------------------------------------------
# Teams
# ----------------------------------------------------------------------------------------------------

TEAM_FIELDS = ("team_id", "team_alias", "models", "max_budget", "budget_duration", "rpm_limit", "tpm_limit", "metadata")
TEAM_INPUTS = TEAM_FIELDS + (CA_BUNDLE_FIELD, ADOPT_FIELD)
_TEAM_COMPARATORS: Mapping[str, Comparator] = {"models": same_unordered}


def check_team(news: Mapping[str, Any]) -> list[Failure]:
    failures: list[Failure] = []
    _check_no_extra_properties(failures, news, TEAM_INPUTS)
    _check_ca_bundle(failures, news)
    _check_adopt_id(failures, news)
    _check_string(failures, "team_id", news.get("team_id"), required=True)
    _check_string(failures, "team_alias", news.get("team_alias"))
    _check_access_and_limits(failures, news)
    _check_mapping(failures, "metadata", news.get("metadata"))
    return failures


def team_create_body(inputs: Mapping[str, Any]) -> dict[str, Any]:
    return json_ready(own_fields(inputs, TEAM_FIELDS))


def diff_team(olds: Mapping[str, Any], news: Mapping[str, Any]) -> Diff:
    changed, replaces = _diff_fields(olds, news, TEAM_FIELDS, frozenset({"team_id"}), _TEAM_COMPARATORS)
    if ca_bundle_changed(olds, news):
        changed.append(CA_BUNDLE_FIELD)
    return Diff(changes=bool(changed), replaces=replaces, changed=changed)


def _cleared_value(name: str) -> Any:
    # `models: []` means "all models", the server's default; every other field is cleared by null.
    return [] if name == "models" else None


def metadata_changed(olds: Mapping[str, Any], news: Mapping[str, Any]) -> bool:
    return not same_value(olds.get("metadata") or {}, news.get("metadata") or {})


def team_update_patch(
    olds: Mapping[str, Any], news: Mapping[str, Any], server_metadata: Optional[Mapping[str, Any]] = None
) -> dict[str, Any]:
    """Changed fields only. When metadata changed, `server_metadata` (the team's current metadata) is
    required so the fields LiteLLM keeps there survive."""
    changed, _ = _diff_fields(olds, news, TEAM_FIELDS, frozenset(), _TEAM_COMPARATORS)
    patch: dict[str, Any] = {}
    for name in changed:
        if name == "team_id":
            continue
        if name == "metadata":
            patch["metadata"] = json_ready(merge_metadata(server_metadata, olds.get("metadata"), news.get("metadata")))
        elif news.get(name) is None:
            patch[name] = _cleared_value(name)
        else:
            patch[name] = json_ready(news[name])
    return patch


def team_outputs(inputs: Mapping[str, Any]) -> dict[str, Any]:
    return own_fields(inputs, TEAM_INPUTS)


def project_team(team: Mapping[str, Any], declared: Mapping[str, Any]) -> dict[str, Any]:
    state: dict[str, Any] = {"team_id": team.get("team_id", declared.get("team_id"))}
    state.update(own_fields(declared, (CA_BUNDLE_FIELD, ADOPT_FIELD)))
    for name in TEAM_FIELDS:
        if name == "team_id" or name not in declared:
            continue
        if name == "metadata":
            state["metadata"] = _project_metadata(declared["metadata"] or {}, team.get("metadata"))
            continue
        value = _project_scalar(declared[name], team.get(name), _TEAM_COMPARATORS.get(name, same_value))
        if value is not None:
            state[name] = value
    return state


# ----------------------------------------------------------------------------------------------------
# Virtual keys
# ----------------------------------------------------------------------------------------------------

# Fields stored on the server.
KEY_SERVER_FIELDS = ("key_alias", "team_id", "models", "max_budget", "budget_duration", "rpm_limit", "tpm_limit", "expires", "metadata")
# rotation_trigger only lives in Pulumi state: changing it replaces the key (rotation). rotation_grace
# (how long the replaced key keeps working) too: a change of it alone is an update that sends nothing.
KEY_FIELDS = KEY_SERVER_FIELDS + ("rotation_trigger", "rotation_grace")
# Set by resources.VirtualKey (project/stack/resource name), recorded in the key's metadata.
KEY_OWNER_FIELD = "owner"
KEY_INPUTS = KEY_FIELDS + (KEY_OWNER_FIELD, CA_BUNDLE_FIELD, ADOPT_FIELD)
KEY_OUTPUT_ONLY = ("key", "token")
_KEY_COMPARATORS: Mapping[str, Comparator] = {"models": same_unordered, "expires": same_instant}


def check_key(news: Mapping[str, Any]) -> list[Failure]:
    failures: list[Failure] = []
    _check_no_extra_properties(failures, news, KEY_INPUTS)
    _check_ca_bundle(failures, news)
    _check_adopt_id(failures, news)
    _check_string(failures, "key_alias", news.get("key_alias"))
    _check_string(failures, "team_id", news.get("team_id"))
    _check_access_and_limits(failures, news)
    _check_string(failures, "rotation_trigger", news.get("rotation_trigger"))
    grace = news.get("rotation_grace")
    if grace is not None and not is_unknown(grace) and grace_seconds(grace) is None:
        failures.append(Failure("rotation_grace", 'must be a duration such as "0s", "30m", "24h", "7d" or "1w" (0 = no grace)'))
    _check_string(failures, KEY_OWNER_FIELD, news.get(KEY_OWNER_FIELD))
    expires = news.get("expires")
    if expires is not None and not is_unknown(expires):
        parsed = datetime.fromisoformat(expires.replace("Z", "+00:00")) if _is_iso(expires) else None
        if parsed is None:
            failures.append(Failure("expires", "must be an ISO 8601 timestamp such as 2030-01-31T00:00:00Z"))
        elif parsed.tzinfo is None:
            failures.append(Failure("expires", "must include a timezone (e.g. a trailing Z for UTC)"))
    metadata = news.get("metadata")
    if _check_mapping(failures, "metadata", metadata):
        for name in sorted(RESERVED_METADATA_FIELDS & set(metadata)):
            failures.append(Failure(f"metadata.{name}", "is reserved for the provider's own bookkeeping"))
    return failures


_GRACE_PATTERN = re.compile(r"([0-9]+)(s|m|h|d|w)")
_GRACE_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# Longer than any sensible window; also keeps `duration` far from LiteLLM's date-overflow limits.
MAX_GRACE_SECONDS = 366 * 86400


def grace_seconds(value: Any) -> Optional[int]:
    """`rotation_grace` in seconds (None: not a valid grace duration). "0s" means no grace."""
    match = _GRACE_PATTERN.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return None
    seconds = int(match.group(1)) * _GRACE_UNIT_SECONDS[match.group(2)]
    return seconds if seconds <= MAX_GRACE_SECONDS else None


def retire_patch(
    holder: Mapping[str, Any], retiring_alias: str, grace: int, now: datetime
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(patch, expected, restore) for moving a rotated-out key aside for `grace` seconds.

    The key takes `retiring_alias`, records in its metadata until when it keeps working, and gets
    `expires` = now + grace through `duration` -- unless it already expires sooner (a rotation never
    extends a key). With no grace, only the alias moves (the engine's delete then revokes it).
    `restore` puts alias, metadata and expiry back if the replacement cannot be created."""
    metadata = dict(holder.get("metadata") or {})
    patch: dict[str, Any] = {"key_alias": retiring_alias}
    expected: dict[str, Any] = {"key_alias": retiring_alias}
    restore: dict[str, Any] = {"key_alias": holder.get("key_alias"), "metadata": json_ready(metadata)}
    if grace <= 0:
        return patch, expected, {"key_alias": holder.get("key_alias")}
    until = now + timedelta(seconds=grace)
    current_expiry = parse_timestamp(_iso(holder.get("expires")))
    if current_expiry is None or current_expiry > until:
        patch["duration"] = f"{grace}s"
        expected["expires"] = until.isoformat()
        restore["duration"] = duration_until(current_expiry.isoformat(), now) if current_expiry is not None else None
    else:
        until = current_expiry
    retired_metadata = {**metadata, RETIRED_METADATA_FIELD: until.isoformat()}
    patch["metadata"] = json_ready(retired_metadata)
    expected["metadata"] = patch["metadata"]
    return patch, expected, restore


def retired_until(info: Optional[Mapping[str, Any]]) -> Optional[datetime]:
    """Until when a key moved aside by a rotation keeps working; None for any other key."""
    metadata = (info or {}).get("metadata") or {}
    return parse_timestamp(metadata.get(RETIRED_METADATA_FIELD)) if isinstance(metadata, Mapping) else None


def is_retired_predecessor(info: Mapping[str, Any], alias: Optional[str], owner: Optional[str]) -> bool:
    """A key that a rotation of *this* resource (same alias, same owner) moved aside. Found by its alias
    and owner only: a retired marker removed by someone must not hide a predecessor from the sweep."""
    metadata = info.get("metadata") or {}
    return (
        bool(alias)
        and bool(owner)
        and isinstance(metadata, Mapping)
        and str(info.get("key_alias") or "").startswith(f"{alias}-replaced-")
        and metadata.get(OWNER_METADATA_FIELD) == owner
    )


def _is_iso(text: Any) -> bool:
    if not isinstance(text, str):
        return False
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def duration_until(expires: str, now: datetime) -> str:
    """LiteLLM takes a key's lifetime as a duration from the moment it handles the request; turn the
    declared instant into seconds from now (rounded up, so the key never expires early)."""
    when = parse_timestamp(expires)
    if when is None:
        raise ValueError(f"expires {expires!r} is not an ISO 8601 timestamp")
    seconds = math.ceil((when - now).total_seconds())
    if seconds < 1:
        raise ValueError(f"expires {expires!r} is in the past: a key cannot be created or extended to it")
    return f"{seconds}s"


def key_create_body(inputs: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """/key/generate body. `expires` goes as `duration` (GenerateKeyRequest has no `expires`)."""
    body = json_ready(own_fields(inputs, tuple(name for name in KEY_SERVER_FIELDS if name != "expires")))
    if inputs.get("expires") is not None:
        body["duration"] = duration_until(inputs["expires"], now)
    metadata = dict(body.get("metadata") or {})
    if inputs.get(KEY_OWNER_FIELD):
        metadata[OWNER_METADATA_FIELD] = inputs[KEY_OWNER_FIELD]
    body["metadata"] = metadata
    return body


def diff_key(olds: Mapping[str, Any], news: Mapping[str, Any]) -> Diff:
    changed, replaces = _diff_fields(olds, news, KEY_FIELDS, frozenset({"rotation_trigger"}), _KEY_COMPARATORS)
    if _owner_changed(olds, news):
        changed.append(KEY_OWNER_FIELD)  # the marker in the key's metadata must follow (an update)
    if ca_bundle_changed(olds, news):
        changed.append(CA_BUNDLE_FIELD)
    # Create-before-delete (the default) is what a rotation needs: the new key exists before the old
    # one goes. The alias clash that causes is handled in VirtualKeyProvider.create.
    return Diff(changes=bool(changed), replaces=replaces, changed=changed)


def key_update_patch(
    olds: Mapping[str, Any],
    news: Mapping[str, Any],
    now: datetime,
    server_metadata: Optional[Mapping[str, Any]] = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(patch, expected): the changed fields for /key/update, and what a read-back must show.

    `duration` is sent only when `expires` changed: LiteLLM sets expires = now + duration, so
    re-sending an unchanged one would silently extend the key. A removed `expires` sends
    `duration: null` (never expires)."""
    changed, _ = _diff_fields(olds, news, KEY_SERVER_FIELDS, frozenset(), _KEY_COMPARATORS)
    if _owner_changed(olds, news) and "metadata" not in changed:
        changed.append("metadata")
    patch: dict[str, Any] = {}
    expected: dict[str, Any] = {}
    for name in changed:
        if name == "expires":
            new_expires = news.get("expires")
            patch["duration"] = duration_until(new_expires, now) if new_expires is not None else None
            expected["expires"] = new_expires
        elif name == "metadata":
            metadata = merge_metadata(server_metadata, olds.get("metadata"), news.get("metadata"))
            if news.get(KEY_OWNER_FIELD):
                metadata[OWNER_METADATA_FIELD] = news[KEY_OWNER_FIELD]
            patch["metadata"] = json_ready(metadata)
            expected["metadata"] = patch["metadata"]
        else:
            value = json_ready(news[name]) if news.get(name) is not None else _cleared_value(name)
            patch[name] = value
            expected[name] = value
    return patch, expected


def key_update_steps(patch: Mapping[str, Any], expected: Mapping[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """The /key/update requests a patch takes, in order, as (patch, expected read-back) pairs.

    A move to another team goes last and alone. The server checks a team change against the key's
    *stored* models and limits, not the ones in the same request (KME `validate_key_team_change`:
    every `key.models` entry must be callable by the new team, and a stored tpm/rpm limit above the
    team's is refused, 403), so a move that also narrows the models or lowers a limit is refused when
    sent as one request. Sent first, on its own, the other fields are not checked against either team;
    the move that follows is then judged on the values the key will keep. Leaving a team
    (`team_id: null`) is not checked and needs no second step."""
    if "team_id" not in patch or patch["team_id"] is None or len(patch) == 1:
        return [(dict(patch), dict(expected))]
    first = {name: value for name, value in patch.items() if name != "team_id"}
    first_expected = {name: value for name, value in expected.items() if name != "team_id"}
    return [(first, first_expected), ({"team_id": patch["team_id"]}, {"team_id": expected.get("team_id", patch["team_id"])})]


def _owner_changed(olds: Mapping[str, Any], news: Mapping[str, Any]) -> bool:
    old_owner, new_owner = olds.get(KEY_OWNER_FIELD), news.get(KEY_OWNER_FIELD)
    return bool(old_owner) and bool(new_owner) and not is_unknown(new_owner) and old_owner != new_owner


def key_metadata_needed(olds: Mapping[str, Any], news: Mapping[str, Any]) -> bool:
    """Whether an update rewrites metadata (and so needs the server's current metadata first)."""
    return metadata_changed(olds, news) or _owner_changed(olds, news)


def key_outputs(inputs: Mapping[str, Any], key: Optional[str], token: str) -> dict[str, Any]:
    outputs = own_fields(inputs, KEY_INPUTS)
    if key is not None:
        outputs["key"] = key
    outputs["token"] = token
    return outputs


def project_key(info: Mapping[str, Any], declared: Mapping[str, Any]) -> dict[str, Any]:
    """The live key as inputs-shaped state, restricted to what the user declared."""
    state = own_fields(declared, ("rotation_trigger", "rotation_grace", KEY_OWNER_FIELD, CA_BUNDLE_FIELD, ADOPT_FIELD))
    for name in KEY_SERVER_FIELDS:
        if name not in declared or declared[name] is None:
            continue
        if name == "metadata":
            state["metadata"] = _project_metadata(declared["metadata"] or {}, info.get("metadata"))
            continue
        if name == "expires":
            # Created from a duration, the stored instant is a few seconds off the declared one.
            compare: Comparator = lambda a, b: same_instant(a, b, EXPIRES_TOLERANCE_SECONDS)  # noqa: E731
            value = _project_scalar(declared[name], _iso(info.get("expires")), compare)
        else:
            value = _project_scalar(declared[name], info.get(name), _KEY_COMPARATORS.get(name, same_value))
        if value is not None:
            state[name] = value
    return state


def _iso(value: Any) -> Any:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).isoformat()
    return value


# ----------------------------------------------------------------------------------------------------
# Adoption (ADOPT_FIELD)
# ----------------------------------------------------------------------------------------------------


def adoption_problem(kind: str, object_id: str, diff: Diff) -> Optional[str]:
    """None when the live object matches the declared inputs (adopting it writes nothing), else why not."""
    if not diff.changes:
        return None
    return (
        f"cannot adopt {kind} {object_id!r}: the object on the proxy differs from the declared inputs in "
        f"{', '.join(sorted(set(diff.changed)))}; adoption never writes -- declare what the proxy holds "
        "(re-run `python -m offline.adopt`), adopt, then change it in a later `pulumi up`"
    )
