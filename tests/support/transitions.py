"""Execute a stack change the way the Pulumi engine would: plan the steps between two program runs
(recorded by offline.engine under the mock engine) and run the real rendered `local.Command` scripts.

What is followed, and where it comes from (read in pulumi/pulumi @1b594989 and
pulumi/pulumi-command @010bd8e0, pulumi/pulumi-go-provider @ac69bde0):

- **Diff of a Command** (pulumi-command provider/pkg/provider/common/inputs.go; pulumi-go-provider
  infer/resource.go `derivedResourceController.Diff`): `triggers` is tagged
  `provider:"replaceOnChanges"`, so a change of it is a REPLACE; every other input (`create`,
  `update`, `delete`, `stdin`, `environment`, `interpreter`, `addPreviousOutputInEnv`, ...) is an
  UPDATE, because Command implements CustomUpdate. Unchanged inputs: SAME (nothing runs).
- **What runs** (provider/pkg/provider/local/commandController.go): create -> the new `create`;
  update -> the new `update`, or the new `create` when there is none; delete -> the `delete` stored
  with the OLD state (the command of the run that created/updated it). `addPreviousOutputInEnv`
  unset/true adds PULUMI_COMMAND_STDOUT/STDERR of the previous run (local/commandOutputs.go).
- **Replace** (pkg/resource/deploy/step_generator.go `generateStepsFromDiff`): with
  deleteBeforeReplace the old resource's delete runs first, then the new create; otherwise create
  first and the old one's delete later, with the other deletes.
- **Aliases** (step_generator.go `generateAliases`, `collapseAliasToUrn`, `inheritedChildAlias`):
  an old resource is matched by URN, then by each alias; a child of an aliased parent also gets the
  alias whose name has the parent's name prefix replaced by the parent's old name.
- **Order** (step_executor.go, deployment_executor.go `performPostSteps`, step_generator.go
  `ScheduleDeletes`): a resource's step runs once its dependencies' steps completed; independent
  steps run in parallel; deletes of resources no longer in the program run after every create and
  update, in reverse dependency order (antichains); on a failed step no new step starts
  (`cancelDueToError`) and no delete runs.
- **State after a failure** (`state_after`): pulumi-command's Create/Update return the provider's
  error without partial state (provider/pkg/provider/local/commandController.go returns `run`'s
  plain error, commandOutputs.go; pulumi-go-provider infer/resource.go sets `PartialState` only for
  a `ResourceInitFailedError`), so the engine sees no `StatusPartialFailure`
  (pkg/resource/plugin/provider_plugin.go `parseError`), the UpdateStep/CreateStep returns the
  error without a completion (pkg/resource/deploy/step.go `UpdateStep.Apply`), and the snapshot
  keeps the OLD state of a failed update and nothing of a failed create
  (pkg/backend/snapshot.go `updateSnapshotMutation.End`/`createSnapshotMutation.End` only mark the
  new state when `successful`). Steps that completed keep their new state; steps never started keep
  the old one; no init errors are recorded, so the next run diffs against that mixed state and
  re-runs exactly what differs (step_generator.go runs an update without a diff only `if
  hasInitErrors`).

`command:local:Command` steps execute on this machine; `command:remote:Command` steps (the ssh
deploy) execute over real OpenSSH against their `connection`, exactly as pulumi-command's remote
provider runs them (tests.support.remote_steps, which cites the provider's files), with the
previous run's stdout/stderr kept per resource for `addPreviousOutputInEnv`; the error of a failed
remote step is the provider's message. With `dynamic=` (tests.support.dynamic_steps.DynamicSteps),
`pulumi-python:dynamic/...` resources (the admin API's Model/Team/VirtualKey, the salt-key guard) run
through Pulumi's real dynamic-provider host over gRPC, as the engine runs them; without it they are
no-ops. Other custom resources (random, tls) keep the values the mock engine gave them and are
no-ops, as are component resources.
`substitute` replaces a named step's script with a stand-in (the transition tests replace the
host's `install`, which would pip-install LiteLLM from the network into the venv, by a link to the
test venv that already holds the pinned release); every other script runs exactly as rendered.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Callable, Optional

from offline.engine import ProgramRun, RecordedResource
# The engine-step planning (Step, Plan, plan, aliases, replace-on-changes, delete order) is the product's.
from offline.plan import REPLACE_ON_CHANGES, Plan, Step, describe, plan  # noqa: F401
from tests.support.dynamic_steps import DynamicSteps, is_dynamic

LOCAL_COMMAND = "command:local:Command"
REMOTE_COMMAND = "command:remote:Command"


class StepFailed(RuntimeError):
    def __init__(self, step: Step, rc: Optional[int], output: str, message: Optional[str] = None):
        super().__init__(message or f"{step.op} {step.name} failed (exit {rc}):\n{output[-3000:]}")
        self.step = step
        self.rc = rc
        self.output = output


@dataclass
class Executed:
    step: Step
    command: str  # which command ran: create | update | delete
    stdout: str
    started: float = 0.0  # wall clock (time.time()) when a remote step's command started (0: not recorded)
    ended: float = field(default_factory=time.time)  # when the entry was made: the step's end


class Executor:
    """Runs a Plan's local.Command steps for real (see the module doc)."""

    def __init__(
        self,
        env: dict[str, str],
        cwd: str,
        substitute: Optional[dict[str, Callable[[RecordedResource], Optional[str]]]] = None,
        parallelism: int = 8,
        on_step: Optional[Callable[[Executed], None]] = None,
        dynamic: Optional["DynamicSteps"] = None,
    ):
        self.env, self.cwd = env, cwd
        self.substitute = substitute or {}
        self.parallelism = parallelism
        self.on_step = on_step
        self.dynamic = dynamic
        self.log: list[Executed] = []
        self._lock = threading.Lock()
        # the provider state's stdout/stderr of each remote Command (by URN), for the next run's
        # addPreviousOutputInEnv (remote/commandController.go: Update keeps olds.BaseOutputs)
        self.outputs: dict[str, tuple[str, str]] = {}

    def _run(self, step: Step, r: RecordedResource, which: str) -> None:
        if self.dynamic is not None and is_dynamic(r):
            self._run_dynamic(step, r, which)
            return
        if r.type not in (LOCAL_COMMAND, REMOTE_COMMAND):
            return
        command = r.inputs.get(which)
        if which == "update" and command is None:
            command = r.inputs.get("create")
        for suffix, stand_in in self.substitute.items():
            if r.name.endswith(suffix) and which != "delete":
                command = stand_in(r) or command
        if command is None:
            return
        if r.type == REMOTE_COMMAND:
            self._run_remote(step, r, which, command)
            return
        env = dict(self.env)
        if r.inputs.get("environment"):
            env.update(r.inputs["environment"])
        interpreter = r.inputs.get("interpreter") or ["/bin/sh", "-c"]
        stdin = r.inputs.get("stdin")
        proc = subprocess.run(
            [*interpreter, command],
            input=(stdin or "").encode(),
            cwd=self.cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=900,
        )
        out = proc.stdout.decode("utf-8", "replace")
        executed = Executed(step, which, out)
        with self._lock:
            self.log.append(executed)
        if self.on_step:
            self.on_step(executed)
        if proc.returncode != 0:
            raise StepFailed(step, proc.returncode, out)

    def _run_dynamic(self, step: Step, r: RecordedResource, which: str) -> None:
        from tests.support.dynamic_steps import DynamicProviderError

        try:
            line = self.dynamic.run(step.op, r, which)  # type: ignore[union-attr]
        except DynamicProviderError as exc:
            executed = Executed(step, which, str(exc))
            with self._lock:
                self.log.append(executed)
            raise StepFailed(step, None, str(exc), message=f"{step.op} {step.name}: {exc}") from None
        executed = Executed(step, which, line)
        with self._lock:
            self.log.append(executed)
        if self.on_step:
            self.on_step(executed)

    def _run_remote(self, step: Step, r: RecordedResource, which: str, command: str) -> None:
        from tests.support.remote_steps import RemoteStepError, run_remote

        # create: a fresh state (no previous output); update/delete: the old state's outputs
        previous = self.outputs.get(step.old.urn, ("", "")) if (which != "create" and step.old is not None) else ("", "")
        started = time.time()
        try:
            result = run_remote(r.inputs, command, previous)
        except RemoteStepError as exc:
            executed = Executed(step, which, exc.output, started)
            with self._lock:
                self.log.append(executed)
            if self.on_step:
                self.on_step(executed)
            raise StepFailed(step, exc.exit_status, exc.output, message=f"{step.op} {step.name}: {exc}") from None
        executed = Executed(step, which, result.combined, started)
        with self._lock:
            self.log.append(executed)
            if which == "delete":
                self.outputs.pop(r.urn, None)
            else:
                self.outputs[r.urn] = (result.stdout, result.stderr)
        if self.on_step:
            self.on_step(executed)

    def _execute_step(self, step: Step) -> None:
        if step.op == "same":
            return
        if step.op == "create":
            self._run(step, step.new, "create")  # type: ignore[arg-type]
        elif step.op == "update":
            self._run(step, step.new, "update")  # type: ignore[arg-type]
        elif step.op == "replace":
            if step.new.delete_before_replace:  # type: ignore[union-attr]
                self._run(step, step.old, "delete")  # type: ignore[arg-type]
                self._run(step, step.new, "create")  # type: ignore[arg-type]
            else:
                self._run(step, step.new, "create")  # type: ignore[arg-type]
                self._pending_replace_deletes.append(step)
        elif step.op == "delete":
            self._run(step, step.old, "delete")  # type: ignore[arg-type]

    def execute(self, p: Plan) -> None:
        self.completed: set[str] = set()  # urns whose step completed (state_after: their new state)
        self._pending_replace_deletes: list[Step] = []
        by_urn = {s.urn: s for s in p.steps}
        done: set[str] = set()
        waiting = list(p.steps)
        failure: Optional[BaseException] = None
        with ThreadPoolExecutor(self.parallelism) as pool:
            running: dict[Future, Step] = {}
            while waiting or running:
                if failure is None:
                    ready = [
                        s for s in waiting
                        if all(d in done or d not in by_urn for d in s.new.depends_on)  # type: ignore[union-attr]
                        and (s.new.parent in done or s.new.parent not in by_urn)  # type: ignore[union-attr]
                    ]
                    for s in ready:
                        waiting.remove(s)
                        running[pool.submit(self._execute_step, s)] = s
                if not running:
                    break
                finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for f in finished:
                    s = running.pop(f)
                    if f.exception() is not None and failure is None:
                        failure = f.exception()
                    elif f.exception() is None:
                        done.add(s.urn)
                        self.completed.add(s.urn)
        if failure is not None:
            raise failure
        if waiting:
            raise RuntimeError(f"steps never became ready (a dependency cycle?): {[s.name for s in waiting]}")
        # deletes after every create and update; replaced (create-before-delete) olds with them
        for s in self._pending_replace_deletes:
            self._run(s, s.old, "delete")  # type: ignore[arg-type]
        for chain in p.deletes:
            with ThreadPoolExecutor(self.parallelism) as pool:
                futures = {pool.submit(self._execute_step, s): s for s in chain}
                errors = []
                for f, s in futures.items():
                    if f.exception() is None:
                        self.completed.add(s.urn)
                    else:
                        errors.append(f.exception())
                if errors:
                    raise errors[0]


def state_after(p: Plan, old: Optional[ProgramRun], new: Optional[ProgramRun], completed: set[str]) -> Optional[ProgramRun]:
    """The engine's state after executing `p` (from `old` to `new`) up to a failure: a step that
    completed keeps its new state (a delete: gone), every other step (the failed one, those never
    started) keeps its old state (a create: absent). See the module doc for the sources."""
    template = new or old
    if template is None:
        return None
    resources: list[RecordedResource] = []
    for s in p.steps:
        if s.op == "same" or s.urn in completed or not (s.new and s.new.custom):
            resources.append(s.new)  # type: ignore[arg-type]
        elif s.old is not None:
            resources.append(s.old)
    for chain in p.deletes:
        resources.extend(s.old for s in chain if s.urn not in completed)  # type: ignore[misc]
    return ProgramRun(stack=template.stack, resources=resources, outputs=dict(template.outputs),
                      secret_outputs=set(template.secret_outputs), inputs=template.inputs)


def dumps_inputs(r: RecordedResource) -> str:
    return json.dumps(r.inputs, sort_keys=True, default=str)
