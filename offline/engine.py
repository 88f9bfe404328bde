"""Run the real Pulumi program under Pulumi's mock engine and record what it declares.

This is what `make render` and the unit tests use instead of the Pulumi CLI (which cannot run
everywhere): the program (`__main__.py`) executes unchanged; every resource registration is
captured with its type, name, parent, inputs, options and which inputs are secret.

Secrets: a registration's inputs arrive serialized with Pulumi's secret signature; we keep the
plain value only in memory (tests may inspect it) and `redacted()` gives the safe view.
"""

from __future__ import annotations

import asyncio
import json
import runpy
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional

if TYPE_CHECKING:  # offline/stack_inputs.py must not import this module; the reverse is fine
    from offline.stack_inputs import StackInputs

PROJECT_DIR = Path(__file__).resolve().parent.parent
PROJECT = "litellm-gateway"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
SIG_KEY = "4dabf18193072939515e22adb298388d"
REDACTED = "[secret]"


@dataclass
class RecordedResource:
    urn: str
    type: str
    name: str
    parent: str
    custom: bool
    inputs: dict[str, Any]  # plain values (secrets unwrapped): never print these
    secret_inputs: list[str]  # top-level input names that were secret or contained a secret
    protect: bool
    delete_before_replace: bool
    retain_on_delete: bool
    depends_on: list[str]
    additional_secret_outputs: list[str]
    ignore_changes: list[str]
    replace_on_changes: list[str]
    provider: str
    outputs: dict[str, Any] = field(default_factory=dict)
    aliases: list[dict[str, Any]] = field(default_factory=list)  # alias specs ({"name": ...}) or {"urn": ...}
    custom_timeouts: dict[str, str] = field(default_factory=dict)  # {"create": "5m", ...}: only those set
    import_id: str = ""  # the `import_` option: the id of an existing object to adopt

    def redacted_inputs(self) -> dict[str, Any]:
        return {k: (REDACTED if k in self.secret_inputs else v) for k, v in sorted(self.inputs.items())}


@dataclass
class ProgramRun:
    stack: str
    resources: list[RecordedResource]
    outputs: dict[str, Any]  # stack outputs, plain values (never print)
    secret_outputs: set[str]
    inputs: Optional[StackInputs] = None  # the StackInputs it ran with, when run_stack loaded them (never print)

    def of_type(self, type_token: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.type == type_token]

    def one(self, type_token: str, name: Optional[str] = None) -> RecordedResource:
        found = [r for r in self.of_type(type_token) if name is None or r.name == name]
        if len(found) != 1:
            raise AssertionError(f"expected one {type_token} {name or ''}, found {len(found)}")
        return found[0]

    def by_urn(self, urn: str) -> RecordedResource:
        for r in self.resources:
            if r.urn == urn:
                return r
        raise KeyError(urn)

    def children_of(self, urn: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.parent == urn]

    def plain_inputs_carrying(self, needles) -> list[str]:
        """Where any of `needles` (secret values) appears in a NON-secret input, as
        "<type> <name>.<input>" (also as JSON-escaped text, e.g. inside a multi-line PEM)."""
        found: list[str] = []
        for r in self.resources:
            for key, value in r.inputs.items():
                if key in r.secret_inputs:
                    continue
                text = json.dumps(value, sort_keys=True, default=str)
                if any(n in text or json.dumps(n)[1:-1] in text for n in needles if n):
                    found.append(f"{r.type} {r.name}.{key}")
        return found

    def redacted_outputs(self) -> dict[str, Any]:
        return {k: (REDACTED if k in self.secret_outputs else v) for k, v in sorted(self.outputs.items())}


def real_engine_urn(urn: str) -> str:
    """The mock monitor prefixes the type of the stack's direct children with
    `pulumi:pulumi:Stack$`; the real engine does not. Record URNs as `pulumi up` would show them."""
    return urn.replace("::pulumi:pulumi:Stack$", "::")


def _unwrap_secrets(value: Any) -> tuple[Any, bool]:
    """Pulumi's wire form -> (plain value, contained a secret)."""
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG:
            inner, _ = _unwrap_secrets(value.get("value"))
            return inner, True
        out, secret = {}, False
        for k, v in value.items():
            out[k], s = _unwrap_secrets(v)
            secret = secret or s
        return out, secret
    if isinstance(value, list):
        items = [_unwrap_secrets(v) for v in value]
        return [v for v, _ in items], any(s for _, s in items)
    return value, False


def default_outputs(type_token: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """What a provider would compute, for the few outputs the program reads back."""
    out = dict(inputs)
    if type_token == "random:index/randomPassword:RandomPassword":
        length = int(inputs.get("length", 32))
        out["result"] = ("mock-" + name + "-" + "x" * length)[:max(length, 8)]
        out["bcryptHash"] = "$2a$10$mock"
    elif type_token == "random:index/randomId:RandomId":
        out["hex"] = "0123456789abcdef"
        out["b64Url"] = "mockid"
    elif type_token == "tls:index/privateKey:PrivateKey":
        out["privateKeyPem"] = "-----BEGIN MOCK PRIVATE KEY-----\n" + name + "\n-----END MOCK PRIVATE KEY-----\n"
        out["publicKeyPem"] = "-----BEGIN PUBLIC KEY-----\nmock\n-----END PUBLIC KEY-----\n"
    elif type_token in ("tls:index/selfSignedCert:SelfSignedCert", "tls:index/locallySignedCert:LocallySignedCert"):
        out["certPem"] = "-----BEGIN CERTIFICATE-----\nmock-" + name + "\n-----END CERTIFICATE-----\n"
        out["validityEndTime"] = "2027-11-26T00:00:00Z"
    elif type_token == "tls:index/certRequest:CertRequest":
        out["certRequestPem"] = "-----BEGIN CERTIFICATE REQUEST-----\nmock\n-----END CERTIFICATE REQUEST-----\n"
    elif type_token.startswith("command:"):
        out.setdefault("stdout", "")
        out.setdefault("stderr", "")
    elif type_token == "pulumi-python:dynamic/litellm:VirtualKey":
        if not inputs.get("adopt_id"):  # an adopted key's value is never known (the provider's create)
            out["key"] = "sk-mock-" + name
        out["token"] = inputs.get("adopt_id") or "mocktoken-" + name
    return out


def run_program(
    stack: str,
    config: dict[str, Any],
    secret_keys: set[str] | list[str] = (),
    *,
    preview: bool = False,
    program: Optional[Callable[[], Any]] = None,
    outputs_for: Optional[Callable[[str, str, dict], dict]] = None,
) -> ProgramRun:
    """Run `__main__.py` (or `program`) under mocks with this config; return what it declared.

    Pulumi's runtime is process-global: call this once per process, or accept that it resets the
    runtime settings each time (it does; tests run it repeatedly).
    """
    import pulumi
    from google.protobuf import json_format
    from pulumi.runtime import mocks as pmocks
    from pulumi.runtime import settings as psettings
    from pulumi.runtime.config import set_all_config
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    recorded: list[RecordedResource] = []
    compute = outputs_for or default_outputs

    class _Mocks(pulumi.runtime.Mocks):
        def new_resource(self, args: pmocks.MockResourceArgs):
            plain, _ = _unwrap_secrets(args.inputs)
            outs = compute(args.typ, args.name, plain)
            return f"{args.name}-id", outs

        def call(self, args: pmocks.MockCallArgs):
            return {}, None

    class _RecordingMonitor(pmocks.MockMonitor):
        def RegisterResource(self, request):  # noqa: N802 - gRPC method name
            response = super().RegisterResource(request)
            if request.type != "pulumi:pulumi:Stack":
                wire = json_format.MessageToDict(request.object)
                inputs, secret_names = {}, []
                for k, v in wire.items():
                    inputs[k], is_secret = _unwrap_secrets(v)
                    if is_secret:
                        secret_names.append(k)
                outputs, _ = _unwrap_secrets(json_format.MessageToDict(response.object))
                recorded.append(
                    RecordedResource(
                        urn=real_engine_urn(response.urn),
                        type=request.type,
                        name=request.name,
                        parent=real_engine_urn(request.parent),
                        custom=request.custom,
                        inputs=inputs,
                        secret_inputs=sorted(secret_names),
                        protect=request.protect,
                        delete_before_replace=request.deleteBeforeReplace,
                        retain_on_delete=request.retainOnDelete,
                        depends_on=[real_engine_urn(u) for u in request.dependencies],
                        additional_secret_outputs=list(request.additionalSecretOutputs),
                        ignore_changes=list(request.ignoreChanges),
                        replace_on_changes=list(request.replaceOnChanges),
                        provider=request.provider,
                        outputs=outputs,
                        aliases=[json_format.MessageToDict(a) for a in request.aliases],
                        custom_timeouts={k: v for k, v in (("create", request.customTimeouts.create),
                                                           ("update", request.customTimeouts.update),
                                                           ("delete", request.customTimeouts.delete)) if v},
                        import_id=request.importId,
                    )
                )
            return response

    # A fresh runtime per run: the previous run's root stack and outputs must not leak in.
    psettings.SETTINGS.rpc_manager.clear()
    psettings.SETTINGS.outputs.clear()
    psettings.ROOT.set(None)
    set_all_config({k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}, list(secret_keys))
    mocks = _Mocks()
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=preview, monitor=_RecordingMonitor(mocks))

    if str(PROJECT_DIR) not in sys.path:
        sys.path.insert(0, str(PROJECT_DIR))

    def _program() -> None:
        if program is not None:
            program()
        else:
            runpy.run_path(str(PROJECT_DIR / "__main__.py"), run_name="__main__")

    try:
        asyncio.get_event_loop()
    except RuntimeError:
        asyncio.set_event_loop(asyncio.new_event_loop())
    _sync_await(run_pulumi_func(_program))

    root = psettings.get_root_resource()
    outputs: dict[str, Any] = {}
    secret_outputs: set[str] = set()
    for name, value in (root.outputs if root is not None else {}).items():
        out = pulumi.Output.from_input(value)
        outputs[name] = _sync_await(out.future())
        if _sync_await(out.is_secret()):
            secret_outputs.add(name)
    return ProgramRun(stack=stack, resources=recorded, outputs=outputs, secret_outputs=secret_outputs)


def run_stack(
    stack: str,
    *,
    secrets: Optional[Mapping[str, str]] = None,
    overrides: Optional[Mapping[str, Any]] = None,
    fill_missing_secrets: bool = True,
    preview: bool = False,
    outputs_for: Optional[Callable[[str, str, dict], dict]] = None,
) -> ProgramRun:
    """Pulumi.<stack>.yaml (+ `overrides`, + `secrets`; see `load_stack_inputs`) run under mocks.

    The StackInputs it ran with are kept on the result as `run.inputs`. `outputs_for`: as for
    `run_program` (what the providers compute; default_outputs when None).
    """
    from offline.stack_inputs import load_stack_inputs  # stack_inputs must not import engine

    inputs = load_stack_inputs(stack, secrets=secrets, overrides=overrides, fill_missing_secrets=fill_missing_secrets)
    run = run_program(stack, inputs.config, inputs.secret_keys, preview=preview, outputs_for=outputs_for)
    run.inputs = inputs
    return run
