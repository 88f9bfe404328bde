"""A guard that refuses to change LiteLLM's salt key by accident.

LiteLLM encrypts the credentials it stores in its database (API-created models, credentials, ...)
with `LITELLM_SALT_KEY`. A new value (`saltKey` changed or removed from config so one is generated,
or the generated RandomPassword replaced) would only restart the proxy, which then cannot decrypt
any of them. So the stack records a fingerprint of the salt key and the guard refuses a changed one
unless the operator says, in plain config, that this is a deliberate rotation:

    pulumi config set saltKeyRotation "2026-12: re-encrypted with the new key (ticket OPS-123)"

A rotation is accepted once per distinct `saltKeyRotation` value, ever: every reason that authorized
a rotation is kept in the guard's state (`rotations`, written by check into the inputs the engine
records), so going back to an earlier reason (A -> B -> A) authorizes nothing. (How to rotate
properly: docs/security.md, "Salt key rotation".)

A salt key that is about to be generated (saltKey removed from config, or the generated one
replaced) has no value yet in a preview: its fingerprint is unknown. With a fingerprint recorded,
an unknown one is a change, refused like any other, so the preview fails before `up` would create
the new (protected, retained) RandomPassword and only then be refused. (`pulumi up --skip-preview`
still creates it first: docs/security.md.)

Pieces:
- the fingerprint is HMAC-SHA256 keyed with a per-stack random secret (a RandomPassword, secret in
  state, protected, retained, never replaced by its own inputs), so the value in state reveals
  nothing about the salt key, even a low-entropy one, without that key;
- `SaltKeyGuard` is a Pulumi dynamic resource whose provider's `check(olds, news)` — the engine
  passes the previous inputs as `olds` — fails when the fingerprint changed and `rotation` is not a
  new non-empty reason. Check runs before any resource is updated, in `preview` as in `up`, and the
  env file that carries the salt key waits for the guard (through its output), so a refused change
  reaches no host.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any, Optional

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, DiffResult, ReadResult, Resource, ResourceProvider, UpdateResult

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # pulumi's unknown sentinel in dynamic providers
ROTATION_KEY = "saltKeyRotation"


def salt_fingerprint(fingerprint_key: str, salt_key: str) -> str:
    return "hmac-sha256:" + hmac.new(fingerprint_key.encode("utf-8"), salt_key.encode("utf-8"), hashlib.sha256).hexdigest()


def used_rotations(olds: dict) -> list[str]:
    """Every reason that authorized a rotation of this guard (older states kept only the last one)."""
    used = [r for r in (olds.get("rotations") or []) if isinstance(r, str)]
    last = olds.get("rotation")
    if last and last != UNKNOWN and last not in used:
        used.append(last)
    return used


def rotation_failure(olds: dict, news: dict) -> Optional[str]:
    """Why a change from `olds` to `news` is refused, or None. Pure (the provider's check)."""
    old_fp, new_fp = olds.get("fingerprint"), news.get("fingerprint")
    if not old_fp or new_fp is None or new_fp == old_fp:
        return None
    new_rotation = news.get("rotation") or ""
    if new_rotation and new_rotation != UNKNOWN and new_rotation not in used_rotations(olds):
        return None
    hint = (
        f"(the value '{new_rotation}' already authorized an earlier rotation; give a new reason)"
        if new_rotation else ""
    )
    what = (
        "saltKey was removed from config, so a generated salt key would replace the configured one"
        if olds.get("source") == "config" and news.get("source") == "generated"
        else "a new salt key would be generated (the generated one replaced)" if new_fp == UNKNOWN
        else "the salt key changed (saltKey set, changed or removed, or the generated one replaced)"
    )
    return (
        f"{what}. LiteLLM "
        "encrypts the credentials stored in its database with it: with a new key it cannot decrypt any of "
        "them. If this is not deliberate, restore the previous saltKey. To rotate on purpose, follow "
        f"docs/security.md (Salt key rotation), then `pulumi config set {ROTATION_KEY} \"<reason>\"` "
        f"and run again {hint}".rstrip()
    )


class SaltKeyGuardProvider(ResourceProvider):
    """Stateless; pickled by reference (module + class), holds nothing on `self`."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        olds = _olds or {}
        reason = rotation_failure(olds, news)
        if reason:
            return CheckResult(news, [CheckFailure("fingerprint", reason)])
        # The inputs returned here are what the engine records: the history of reasons travels in
        # them (the next check sees it as `olds`).
        used = used_rotations(olds)
        rotation = news.get("rotation")
        rotated = bool(olds.get("fingerprint")) and news.get("fingerprint") != olds.get("fingerprint")
        if rotated and rotation and rotation != UNKNOWN and rotation not in used:
            used = [*used, rotation]
        return CheckResult({**news, "rotations": used}, [])

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult("salt-key-guard", _outs(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changes = [k for k in ("fingerprint", "rotation", "rotations", "source") if olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(changes), replaces=[], delete_before_replace=False)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(_outs(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, _outs(props), _outs(props))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None


def _outs(props: dict[str, Any]) -> dict[str, Any]:
    return {k: props.get(k) for k in ("fingerprint", "rotation", "rotations", "source")}


class SaltKeyGuard(Resource, module="gateway", name="SaltKeyGuard"):
    """`pulumi-python:dynamic/gateway:SaltKeyGuard`: fingerprint (HMAC) + rotation reason."""

    fingerprint: pulumi.Output[str]
    rotation: pulumi.Output[Optional[str]]
    rotations: pulumi.Output[Optional[list]]
    source: pulumi.Output[Optional[str]]

    def __init__(
        self,
        name: str,
        fingerprint: pulumi.Input[str],
        rotation: Optional[str],
        opts: Optional[pulumi.ResourceOptions] = None,
        source: Optional[str] = None,
    ):
        # source: "config" (saltKey) or "generated" (the RandomPassword); rotations: filled by check
        super().__init__(
            SaltKeyGuardProvider(), name,
            {"fingerprint": fingerprint, "rotation": rotation, "rotations": None, "source": source}, opts
        )
