"""Dynamic provider for a LiteLLM virtual key (`/key/generate`, `/key/update`, `/key/delete`,
`/key/info`). The resource id is the key's sha256 token, never the raw key; the raw `sk-...` value is
the `key` output, which the resource marks secret.

Rotation and the alias clash
----------------------------
A replacement (changed `rotation_trigger`) is create-before-delete, so consumers can switch to the new
key while the old one still works. But `key_alias` is unique on the server, and during the replacement
the old key still holds it. Creating the new key under a temporary alias and renaming it later does not
work: the only later call is `delete` of the *old* resource, and until then the new resource's state
would claim an alias it does not have (and keep claiming it if that delete never runs).

Instead, `create` takes the alias over from its predecessor:

1. generate the key with the declared alias (the usual case: one request);
2. on a 400, look up the key holding the alias. Every key this provider creates records its owner --
   "<project>/<stack>/<resource name>", set by `resources.VirtualKey` -- in its metadata. Only a holder
   with *our* owner is our predecessor: rename it to "<alias>-replaced-<token prefix>" (its raw value
   keeps working, so nothing breaks) and generate again. Any other holder is someone else's key: fail
   with a clear error rather than take its alias;
3. if that second generate fails, the predecessor gets its alias back (and its expiry and metadata).

Grace window (`rotation_grace`, e.g. "24h"; the stack default is `keyDefaults.rotation_grace`): step 2
also sets the predecessor's `expires` to now + grace (never later than it already expires) and records
that instant in its metadata (`specs.RETIRED_METADATA_FIELD`, for people reading the key). The engine
then deletes the old resource (create-before-delete: in the same deployment, so in this same provider
process); `delete` leaves the key to LiteLLM's own expiry instead of revoking it only when THIS process
moved that very token aside in this deployment (`_moved_aside`) and the key on the server still carries
the retiring alias and a real `expires` no later than that instant. Server-side metadata decides
nothing: any UI admin (or team admin) can write it, and a future `retired_until` planted there must not
keep a key alive that leaves the catalog. Consumers keep working with the old key for the window; the
new key has its final alias from the moment it exists, and at no point is there no working key. A
deployment interrupted between the create and the delete revokes the old key on the next run (the
record is gone): early, never late.

Nothing leaks: a later rotation of the same resource deletes the predecessors whose grace is over
(found by alias prefix and owner), and removing the key from the catalog revokes it and every
predecessor still in grace at once, whatever the key's current `rotation_grace` (a grace set to "0s"
after earlier rotations still sweeps them). Without a grace ("0s" or unset) the old key is revoked by the
same `pulumi up`, as before.

A key adopted with `pulumi import` has no owner marker until its metadata is next written, so the first
rotation after an import fails with the "used by another key" error; re-running after changing its
metadata, or deleting the old key first (`delete_before_replace`), resolves it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

from pulumi.dynamic import ConfigureRequest, CreateResult, ReadResult, ResourceProvider, UpdateResult

from . import client, specs
from .client import AdminApiError, AdminEndpoint
from .connection import endpoint_for, remember_stack_config
from .provider_results import check_result, diff_result, inputs_without_provider

logger = logging.getLogger(__name__)


class KeyAliasInUse(RuntimeError):
    pass


# Tokens this provider process moved aside in a rotation with a grace window -> the instant their grace
# ends. The engine runs the old resource's delete in the same deployment, hence in this process, after
# the replacement's create; only this record (what the deployment itself did) lets that delete leave the
# key to its expiry. Key ids are sha256 tokens (stored plain in state anyway), never raw keys.
_moved_aside: dict[str, datetime] = {}


def retiring_alias(alias: str, token: str) -> str:
    """The alias a predecessor carries between the creation of its replacement and its deletion."""
    return f"{alias}-replaced-{token[:12]}"


def _generate_taking_over_alias(endpoint: AdminEndpoint, body: Mapping[str, Any], owner: Any, grace: int = 0) -> tuple[dict, bool]:
    """(the /key/generate response, whether a predecessor had to give up the alias: a rotation)."""
    try:
        return client.generate_key(endpoint, body), False
    except AdminApiError as error:
        alias = body.get("key_alias")
        if error.status not in (400, 409) or not alias:
            raise
        holder = client.find_key_by_alias(endpoint, alias)
        if holder is None or not holder.get("token"):
            raise
        holder_token = holder["token"]
        holder_owner = (holder.get("metadata") or {}).get(specs.OWNER_METADATA_FIELD)
        if not owner or holder_owner != owner:
            raise KeyAliasInUse(
                f"key_alias {alias!r} is already used by another key (token {holder_token[:12]}...) that this "
                "resource does not manage: choose another alias, or adopt that key with the `import_` option"
            ) from None

    now = datetime.now(timezone.utc)
    patch, expected, restore = specs.retire_patch(holder, retiring_alias(alias, holder_token), grace, now)
    logger.info("key_alias %r: moving it from the key being replaced to its replacement (grace %ds)", alias, grace)
    client.update_key(endpoint, holder_token, patch, expected)
    if grace:
        _moved_aside[holder_token] = specs.parse_timestamp(expected.get("expires")) or now + timedelta(seconds=grace)
    try:
        return client.generate_key(endpoint, body), True
    except Exception:
        _moved_aside.pop(holder_token, None)
        try:
            client.update_key(endpoint, holder_token, restore, {k: v for k, v in restore.items() if k != "duration"})
        except AdminApiError as restore_error:
            logger.error("could not give key_alias %r back to the key being replaced: %s", alias, restore_error)
        raise


def _revoke_retired_predecessors(endpoint: AdminEndpoint, alias: Any, owner: Any, expired_only: bool) -> int:
    """Delete the keys earlier rotations of this resource moved aside: only those whose grace is over
    (`expired_only`, after a rotation), or all of them (the key leaves the catalog: revoke at once)."""
    if not alias or not owner:
        return 0
    doomed = [
        key["token"]
        for key in client.list_keys_with_alias_prefix(endpoint, f"{alias}-replaced-", expired_only=expired_only)
        if key.get("token") and specs.is_retired_predecessor(key, alias, owner)
    ]
    for token in doomed:
        client.delete_key(endpoint, token)
    if doomed:
        logger.info("key_alias %r: removed %d key(s) an earlier rotation had moved aside", alias, len(doomed))
    return len(doomed)


def _gone(id_: str) -> AdminApiError:
    return AdminApiError(
        "POST", "/key/update", 404, f"key {id_[:12]}... no longer exists on the proxy; run `pulumi refresh` so it is created again"
    )


class VirtualKeyProvider(ResourceProvider):
    """Stateless: credentials come from configure()/the environment on every call (see connection)."""

    def configure(self, req: ConfigureRequest) -> None:
        remember_stack_config(req.config)

    def check(self, olds: dict[str, Any], news: dict[str, Any]):
        inputs = inputs_without_provider(news)
        return check_result(inputs, specs.check_key(inputs))

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]):
        return diff_result(specs.diff_key(olds, news))

    def create(self, props: dict[str, Any]) -> CreateResult:
        inputs = specs.own_fields(props, specs.KEY_INPUTS)
        if inputs.get(specs.ADOPT_FIELD):
            return self._adopt(inputs[specs.ADOPT_FIELD], inputs)
        now = datetime.now(timezone.utc)
        expires = specs.parse_timestamp(inputs.get("expires")) if inputs.get("expires") else None
        if expires is not None and expires <= now:
            # Expiry is a normal event for a key that exists (kept, reported by the render); creating
            # one that is already expired is a mistake (e.g. a new environment from an old catalog).
            raise ValueError(
                f"key_alias {inputs.get('key_alias')!r}: expires {expires.isoformat()} is in the past (now "
                f"{now.replace(microsecond=0).isoformat()}): LiteLLM would create a key that is already expired; "
                "set a future expires in the catalog, or remove the key"
            )
        endpoint = endpoint_for(inputs)
        body = specs.key_create_body(inputs, now)
        grace = specs.grace_seconds(inputs.get("rotation_grace") or "0s") or 0
        owner = inputs.get(specs.KEY_OWNER_FIELD)
        response, rotated = _generate_taking_over_alias(endpoint, body, owner, grace)
        token = response["token"]
        if rotated and grace:
            try:
                # Predecessors of earlier rotations whose grace is over: expired already, now removed.
                _revoke_retired_predecessors(endpoint, inputs.get("key_alias"), owner, expired_only=True)
            except AdminApiError as error:
                logger.warning("could not remove expired keys moved aside by earlier rotations: %s", error)
        return CreateResult(token, specs.key_outputs(inputs, response["key"], token))

    def _adopt(self, token: str, inputs: dict[str, Any]) -> CreateResult:
        """The existing key `token` becomes this resource: read, compared, nothing written. Its raw value
        is held by its consumer (LiteLLM stores only the hash): the `key` output stays empty."""
        info = client.get_key(endpoint_for(inputs), token)
        if info is None:
            raise AdminApiError("GET", "/key/info", 404, f"key {token[:12]}... to adopt is not on the proxy")
        state = specs.project_key(info, inputs)
        problem = specs.adoption_problem("key", str(inputs.get("key_alias") or token[:12]), specs.diff_key(state, inputs))
        if problem:
            raise AdminApiError("GET", "/key/info", None, problem)
        return CreateResult(token, specs.key_outputs(inputs, None, token))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        info = client.get_key(endpoint_for(props), id_)
        if info is None:
            return ReadResult(None, {})
        state = specs.project_key(info, props)
        # The raw key cannot be read back: keep the one in state (absent after an import).
        outputs = specs.key_outputs(state, props.get("key"), id_)
        return ReadResult(id_, outputs, dict(state))

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        endpoint = endpoint_for(news)
        server_metadata = None
        if specs.key_metadata_needed(olds, news):
            # LiteLLM replaces metadata whole and keeps fields of its own there: merge onto what it has.
            info = client.get_key(endpoint, id_)
            if info is None:
                raise _gone(id_)
            server_metadata = info.get("metadata") or {}
        patch, expected = specs.key_update_patch(olds, news, datetime.now(timezone.utc), server_metadata)
        if patch:
            for step_patch, step_expected in specs.key_update_steps(patch, expected):
                try:
                    client.update_key(endpoint, id_, step_patch, step_expected)
                except AdminApiError as error:
                    if error.status == 404:
                        raise _gone(id_) from None
                    raise
        return UpdateResult(specs.key_outputs(specs.own_fields(news, specs.KEY_INPUTS), olds.get("key"), id_))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        """Revoke the key at once -- unless a rotation moved it aside with a grace window: then its
        replacement exists and this delete is the engine's create-before-delete; the key is left to
        stop at its `expires` (LiteLLM refuses it from then on) and removed by a later rotation or by
        this resource's removal. A key leaving the catalog takes its predecessors still in grace with it."""
        endpoint = endpoint_for(props)
        info = client.get_key(endpoint, id_)
        until = _left_in_grace(id_, info, props, datetime.now(timezone.utc))
        if until is not None:
            logger.info("key %s... was rotated out: it keeps working until %s, then expires", id_[:12], until.isoformat())
            return
        if info is not None:
            client.delete_key(endpoint, id_)
        # The key leaves the catalog: predecessors of earlier rotations go with it, whatever the grace
        # is now (one request to look).
        _revoke_retired_predecessors(endpoint, props.get("key_alias"), props.get(specs.KEY_OWNER_FIELD), expired_only=False)


def _left_in_grace(id_: str, info: Mapping[str, Any] | None, props: Mapping[str, Any], now: datetime) -> datetime | None:
    """When this delete is the engine's create-before-delete of a rotation with a grace window: the
    instant the key stops working (it is left to LiteLLM's expiry). None: revoke it now.

    Decided by what this deployment did (`_moved_aside`) and what LiteLLM enforces (the key's real
    `expires`, its alias), never by metadata on the server."""
    recorded = _moved_aside.get(id_)
    if info is None or recorded is None or recorded <= now:
        return None
    alias = props.get("key_alias")
    if not alias or info.get("key_alias") != retiring_alias(str(alias), id_):
        return None
    expires = specs.parse_timestamp(str(info.get("expires"))) if info.get("expires") else None
    if expires is None or expires <= now or expires > recorded + timedelta(seconds=1):
        return None
    return expires
