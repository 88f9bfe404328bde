"""A small dynamic provider over a JSON file, used to prove the dynamic-provider host harness.

It lives in an importable module so dill pickles it by reference (module + class name), as a real
project's providers should be. The store path comes from stack config in configure(); configure runs in
the host process after unpickling, so the value set on self there is never pickled into state.

Resource inputs: name (str, no spaces, changing it replaces), size (number >= 0), token (optional,
typically secret). Outputs: the inputs plus revision (1 on create, +1 per update).
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from typing import Any

from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)
from pulumi.output import Unknown
from pulumi.runtime.rpc import UNKNOWN

STORE_PATH_KEY = "toy:storePath"
INPUT_KEYS = ("name", "size", "token")


def _is_unknown(value: Any) -> bool:
    # The host deserializes Check/Diff properties with keep_unknowns=True, which yields Unknown objects;
    # accept the raw sentinel string as well.
    return isinstance(value, Unknown) or value == UNKNOWN


def _own_inputs(props: dict[str, Any]) -> dict[str, Any]:
    # Olds and news also carry __provider: compare and store only our own keys.
    return {k: props[k] for k in INPUT_KEYS if k in props}


class JsonFileProvider(ResourceProvider):
    def configure(self, req: ConfigureRequest) -> None:
        self._store_path = req.config.require(STORE_PATH_KEY)

    def _load(self) -> dict[str, dict[str, Any]]:
        try:
            with open(self._store_path, encoding="utf-8") as f:
                return json.load(f)
        except FileNotFoundError:
            return {}

    def _save(self, store: dict[str, dict[str, Any]]) -> None:
        # Write-then-rename so a crash mid-write never leaves a truncated store.
        directory = os.path.dirname(os.path.abspath(self._store_path))
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".toy-store-")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(store, f, sort_keys=True)
        os.replace(tmp, self._store_path)

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = []
        name = news.get("name")
        if not _is_unknown(name):
            if not isinstance(name, str) or not name:
                failures.append(CheckFailure("name", "name is required"))
            elif " " in name:
                failures.append(CheckFailure("name", f"name must not contain spaces: {name!r}"))
        size = news.get("size", 0)
        if not _is_unknown(size) and (not isinstance(size, (int, float)) or size < 0):
            failures.append(CheckFailure("size", "size must be a number >= 0"))
        return CheckResult(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        old, new = _own_inputs(olds), _own_inputs(news)
        changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        replaces = [k for k in changed if k == "name"]
        return DiffResult(changes=bool(changed), replaces=replaces, stables=[], delete_before_replace=bool(replaces))

    def create(self, props: dict[str, Any]) -> CreateResult:
        store = self._load()
        inputs = _own_inputs(props)
        if any(record["name"] == inputs["name"] for record in store.values()):
            raise ValueError(f"an object named {inputs['name']!r} already exists")
        id_ = uuid.uuid4().hex
        store[id_] = {**inputs, "revision": 1}
        self._save(store)
        return CreateResult(id_, dict(store[id_]))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        record = self._load().get(id_)
        if record is None:
            # Gone: an empty id tells the engine to drop the resource from state.
            return ReadResult(None, {})
        return ReadResult(id_, dict(record), _own_inputs(record))

    def update(self, id_: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        store = self._load()
        if id_ not in store:
            raise KeyError(f"object {id_} no longer exists")
        store[id_] = {**_own_inputs(news), "revision": store[id_]["revision"] + 1}
        self._save(store)
        return UpdateResult(dict(store[id_]))

    def delete(self, id_: str, _props: dict[str, Any]) -> None:
        store = self._load()
        if store.pop(id_, None) is not None:
            self._save(store)
