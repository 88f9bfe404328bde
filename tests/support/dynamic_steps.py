"""The dynamic resources of a stack change (`pulumi-python:dynamic/...`: the admin API's Model, Team
and VirtualKey, the salt-key guard), executed the way the engine executes them: through Pulumi's real
dynamic-provider host (`python -m pulumi.dynamic`, tests.support.dynamic_host) over gRPC, inside the
transition executor (tests.support.transitions.Executor, `dynamic=`), in the plan's order and with its
parallelism.

What the engine does, and so what this does (pulumi/pulumi pkg/resource/deploy/step.go,
step_generator.go; pkg/resource/plugin/provider_plugin.go; the Python host sdk/python/lib/pulumi/dynamic/
__main__.py):

- one host process per `pulumi up` (per `execute`), started only when the plan has a dynamic step to
  run, Configured once with the whole stack config the program ran with (namespaced keys, objects as
  JSON text, secret config as secrets: `masterKey` among them), before any resource call. Nothing
  reaches the providers through the environment: the admin URL and master key come from that config
  alone (components/litellm_admin/connection.py derives the URL from `litellm`/`tls`/`dns`/
  `frontDoor` unless `adminUrl` is set);
- create: Check(olds={}, news=the registered inputs, `__provider` and the secret inputs as secrets),
  then Create(checked). The engine keeps id, outputs and the checked inputs;
- update: Check(olds=the old inputs, news), Diff(id, old outputs, checked, old inputs); DIFF_NONE ->
  nothing; otherwise Update (the plan already made it a replace when the provider's diff replaces:
  offline.plan.PROVIDER_REPLACES, and the Diff here must agree);
- replace: the new one created (Check + Create) and the old one deleted with the other deletes
  (create-before-delete, the executor's `_pending_replace_deletes`), or delete first when the resource
  says deleteBeforeReplace;
- delete: Delete(id, old outputs, old inputs).

A provider's failure is the step's failure (StepFailed with the provider's own message, the last line
of what the host sent). The state (id, outputs, inputs) is kept per URN for the next run, like the
engine's snapshot; it holds secrets (the keys' values) and is never printed.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from offline.engine import RecordedResource
from offline.stack_inputs import StackInputs
from tests.support.dynamic_host import DynamicProviderHost, ProviderError, Secret

DYNAMIC_PREFIX = "pulumi-python:dynamic"
PROJECT_DIR = Path(__file__).resolve().parents[2]


def is_dynamic(r: RecordedResource) -> bool:
    return r.type.startswith(DYNAMIC_PREFIX + "/") or r.type.startswith(DYNAMIC_PREFIX + ":")


@dataclass
class DynamicState:
    id: str
    outputs: dict[str, Any]  # as the host returned them (secrets as Secret)
    inputs: dict[str, Any]  # the checked inputs the engine keeps

    def plain(self, name: str) -> Any:
        value = self.outputs.get(name)
        return value.value if isinstance(value, Secret) else value


class DynamicProviderError(RuntimeError):
    def __init__(self, method: str, name: str, error: ProviderError):
        super().__init__(f"{method} of {name} failed: {error.message}")
        self.method, self.error = method, error


class DynamicSteps:
    """Runs the dynamic resources' steps through one host per execute() (see the module doc)."""

    def __init__(self, env: Optional[dict[str, str]] = None):
        self.env = dict(env or {})
        self.state: dict[str, DynamicState] = {}
        self._retiring: dict[str, DynamicState] = {}  # replaced olds awaiting their delete
        self._inputs: Optional[StackInputs] = None
        self._host: Optional[DynamicProviderHost] = None
        self._lock = threading.Lock()
        self.calls: list[tuple[str, str]] = []  # (method, resource name), in order

    # ---- one `pulumi up` -----------------------------------------------------------------------
    def begin(self, inputs: StackInputs) -> None:
        """The stack config the providers get when the host is Configured (the run's own)."""
        self._inputs = inputs

    def end(self) -> None:
        host, self._host = self._host, None
        if host is not None:
            host.__exit__(None, None, None)

    def _started(self) -> DynamicProviderHost:
        with self._lock:
            if self._host is None:
                assert self._inputs is not None, "begin() with the run's stack config first"
                from components.litellm_admin import connection

                leaked = [n for n in (connection.ADMIN_URL_ENV, connection.MASTER_KEY_ENV) if n in os.environ]
                assert not leaked, f"the providers must get their settings from the stack config alone: {leaked} set"
                host = DynamicProviderHost(str(PROJECT_DIR), self.env).start()
                try:
                    host.configure({k: Secret(v) if k in self._inputs.secret_keys else v
                                    for k, v in self._inputs.config.items()})
                except BaseException:
                    host.__exit__(None, None, None)
                    raise
                self._host = host
            return self._host

    # ---- steps ------------------------------------------------------------------------------------
    @staticmethod
    def _engine_inputs(r: RecordedResource) -> dict[str, Any]:
        return {k: Secret(v) if k in r.secret_inputs else v for k, v in r.inputs.items() if v is not None}

    def _call(self, method: str, r: RecordedResource, fn, *args, **kwargs):
        self.calls.append((method, r.name))
        try:
            return fn(*args, **kwargs)
        except ProviderError as exc:
            raise DynamicProviderError(method, r.name, exc) from None

    def _create(self, r: RecordedResource) -> DynamicState:
        host = self._started()
        checked, failures = self._call("Check", r, host.check, r.urn, {}, self._engine_inputs(r))
        if failures:
            raise RuntimeError(f"Check of {r.name} failed: {failures}")
        rid, outs = self._call("Create", r, host.create, r.urn, checked)
        return DynamicState(rid, outs, checked)

    def run(self, op: str, r: RecordedResource, which: str) -> str:
        """Execute `which` (create | update | delete) of the plan step `op` for `r`; returns a line
        for the executor's log (no values)."""
        if which == "create":
            if op == "replace" and r.urn in self.state:
                self._retiring[r.urn] = self.state.pop(r.urn)
            self.state[r.urn] = self._create(r)
            return f"created {r.name} ({r.type})"
        if which == "update":
            old = self.state[r.urn]
            host = self._started()
            checked, failures = self._call("Check", r, host.check, r.urn, old.inputs, self._engine_inputs(r))
            if failures:
                raise RuntimeError(f"Check of {r.name} failed: {failures}")
            diff = self._call("Diff", r, host.diff, old.id, r.urn, old.outputs, checked, old_inputs=old.inputs)
            if diff.changes == "DIFF_NONE":
                old.inputs = checked
                return f"{r.name}: no change (the provider's diff)"
            if diff.replaces:
                raise AssertionError(f"{r.name}: the provider replaces on {diff.replaces} but the plan said update")
            outs = self._call("Update", r, host.update, old.id, r.urn, old.outputs, checked, old_inputs=old.inputs)
            self.state[r.urn] = DynamicState(old.id, outs, checked)
            return f"updated {r.name} ({', '.join(diff.diffs)})"
        if which == "delete":
            old = self._retiring.pop(r.urn, None) or self.state.pop(r.urn)
            host = self._started()
            self._call("Delete", r, host.delete, old.id, r.urn, old.outputs, old_inputs=old.inputs)
            return f"deleted {r.name}"
        raise ValueError(which)

    def outputs_of(self, name: str) -> DynamicState:
        found = [s for urn, s in self.state.items() if urn.endswith("::" + name)]
        assert len(found) == 1, f"{name}: {len(found)} states"
        return found[0]
