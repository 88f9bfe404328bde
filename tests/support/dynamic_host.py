"""Drive Pulumi's Python dynamic-provider host (`python -m pulumi.dynamic`) over gRPC, as the engine does.

The Pulumi CLI is not available in tests, but the process it starts for Python dynamic providers is plain
Python shipped in the SDK. This module plays the engine's side of that conversation:

* start `python -u -m pulumi.dynamic <engine-address>` with the project directory as cwd (so modules of the
  program are importable, exactly as for the bundled `pulumi-resource-pulumi-python` plugin), read the port
  it prints on stdout, and dial it on 127.0.0.1;
* Handshake / GetPluginInfo / Configure like the engine, then Check, Diff, Create, Read, Update, Delete;
* reproduce the engine-side (Go, pkg/resource/plugin/provider_plugin.go) rules that change what the
  provider sees: the host answers Configure with acceptSecrets=false, so secrets are stripped before each
  call and the secret bit is copied back onto same-named outputs ("annotateSecrets"); Create/Update in
  preview are never sent to a provider that does not support previews.

Values are plain Python. A secret is `Secret(value)`, an unknown (preview) is `UNKNOWN`. `__provider` is
passed inside the property dicts, as a base64 string or `Secret(base64 string)`, exactly as the engine
stores it; `pickle_provider()` produces it the way `pulumi.dynamic.Resource` does.

Pulumi 3.272's host never dials back to the engine (it ignores argv and configures its runtime Settings
with no engine address; `pulumi.log` inside a provider prints to stderr), so no fake Engine service is
needed. We still pass an engine address argument, pointing at a port where nothing listens: a future host
that does dial back then fails loudly instead of silently.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Optional

import grpc
from google.protobuf import empty_pb2, struct_pb2

from pulumi.dynamic.dynamic import ResourceProvider, serialize_provider
from pulumi.output import Unknown
from pulumi.runtime import rpc
from pulumi.runtime._grpc_settings import _GRPC_CHANNEL_OPTIONS
from pulumi.runtime._serialization import _serialize
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

__all__ = [
    "UNKNOWN",
    "PROVIDER_KEY",
    "Secret",
    "DiffResponse",
    "HostError",
    "HostStartError",
    "ProviderError",
    "EngineError",
    "DynamicProviderHost",
    "dynamic_type_token",
    "dynamic_urn",
    "pickle_provider",
]

UNKNOWN = rpc.UNKNOWN
"""Pulumi's unknown sentinel ("04da6b54-..."), as the engine sends a not-yet-known input during preview."""

PROVIDER_KEY = "__provider"

# Nothing listens on port 1 (privileged, unused): see the module docstring.
_UNREACHABLE_ENGINE_ADDRESS = "127.0.0.1:1"
_START_TIMEOUT_S = 60.0
_RPC_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Secret:
    """A secret property value (travels with Pulumi's secret signature on the wire)."""

    value: Any

    def __repr__(self) -> str:
        # Never show the value: test failure output and logs must not leak secrets.
        return "Secret(***)"


@dataclass
class DiffResponse:
    changes: str  # 'DIFF_NONE' | 'DIFF_SOME' | 'DIFF_UNKNOWN'
    replaces: list[str] = field(default_factory=list)
    stables: list[str] = field(default_factory=list)
    delete_before_replace: bool = False
    diffs: list[str] = field(default_factory=list)


class HostError(Exception):
    """Base class for failures of the dynamic-provider host or of this harness."""


class HostStartError(HostError):
    """The host process did not come up (stderr tail included)."""


class EngineError(HostError):
    """A response the real engine would reject (e.g. Create returning an empty id)."""


class ProviderError(HostError):
    """A gRPC call failed. `details` is what the host sent: for provider exceptions, the full traceback."""

    def __init__(self, method: str, code: grpc.StatusCode, details: str):
        self.method = method
        self.code = code
        self.details = details or ""
        super().__init__(f"{method} failed with {code.name}: {self.message}")

    @property
    def message(self) -> str:
        """Last line of the details: for a provider exception, "ExceptionType: message"."""
        lines = [line for line in self.details.strip().splitlines() if line.strip()]
        return lines[-1].strip() if lines else ""


def dynamic_type_token(module: str = "", name: str = "Resource") -> str:
    """The type token `pulumi.dynamic.Resource` registers, e.g. ("litellm", "Model") -> pulumi-python:dynamic/litellm:Model."""
    return f"pulumi-python:dynamic{'/' + module if module else ''}:{name}"


def dynamic_urn(stack: str, project: str, type_token: str, name: str, parent_type: Optional[str] = None) -> str:
    """A URN as the engine builds it. Children of the root stack carry only their own type; children of a
    component carry `parentType$type` (pass the parent's qualified type as `parent_type`)."""
    qualified = f"{parent_type}${type_token}" if parent_type else type_token
    return f"urn:pulumi:{stack}::{project}::{qualified}::{name}"


def pickle_provider(provider: ResourceProvider) -> "str | Secret":
    """`__provider` exactly as `pulumi.dynamic.Resource.__init__` computes it (same function, same
    serialization context), wrapped in `Secret` when the Resource would make it a secret."""
    serialized, contains_secrets = _serialize(True, serialize_provider, provider)
    if getattr(provider, "serialize_as_secret_always", True) or contains_secrets:
        return Secret(serialized)
    return serialized


# --- value conversion -------------------------------------------------------------------------------


def _run_coroutine(coro):
    """Run one of Pulumi's async serializers, also when the caller already runs an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _run_on_private_loop(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(_run_on_private_loop, coro).result()


def _run_on_private_loop(coro):
    # Like the host itself: a throwaway loop that is never installed as the thread's current loop, so
    # Pulumi mock tests running later in this process still find theirs (asyncio.run would unset it).
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


def _contains_secrets(value: Any) -> bool:
    if isinstance(value, Secret):
        return True
    if isinstance(value, dict):
        return any(_contains_secrets(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_contains_secrets(v) for v in value)
    return False


def _strip_secrets(value: Any) -> Any:
    """What the engine sends to a provider that did not accept secrets (MarshalOptions.KeepSecrets=false)."""
    if isinstance(value, Secret):
        return _strip_secrets(value.value)
    if isinstance(value, dict):
        return {k: _strip_secrets(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strip_secrets(v) for v in value]
    return value


def _annotate_secrets(outs: Optional[dict], ins: Optional[dict]) -> None:
    """Port of the engine's annotateSecrets: copy secretness from inputs to same-named outputs, recursing
    only where both sides are plain objects."""
    if outs is None or ins is None:
        return
    for key, in_value in ins.items():
        if key not in outs:
            continue
        out_value = outs[key]
        if isinstance(out_value, dict) and isinstance(in_value, dict):
            _annotate_secrets(out_value, in_value)
        elif not isinstance(out_value, Secret) and _contains_secrets(in_value):
            outs[key] = Secret(out_value)


def _to_rpc_form(value: Any) -> Any:
    """Secret markers -> Pulumi's wrapped-secret dicts, which serialize to the secret signature."""
    if isinstance(value, Secret):
        return rpc.wrap_rpc_secret(_to_rpc_form(value.value))
    if isinstance(value, dict):
        return {k: _to_rpc_form(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_rpc_form(v) for v in value]
    return value


def _from_rpc_form(value: Any) -> Any:
    if rpc.is_rpc_secret(value):
        return Secret(_from_rpc_form(rpc.unwrap_rpc_secret(value)))
    if isinstance(value, Unknown):
        return UNKNOWN
    if isinstance(value, dict):
        return {k: _from_rpc_form(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_rpc_form(v) for v in value]
    return value


def _to_struct(props: dict[str, Any]) -> struct_pb2.Struct:
    # The same serializer the Python SDK uses to send resource inputs to the engine. Note: it drops
    # top-level None values, and numbers become floats on the wire.
    return _run_coroutine(rpc.serialize_properties(_to_rpc_form(props), {}))


def _from_struct(struct: struct_pb2.Struct) -> dict[str, Any]:
    # Pulumi's own deserializer: secrets nested in an object or list mark the whole containing value
    # secret ("pushed up"), and None values are dropped.
    return _from_rpc_form(rpc.deserialize_properties(struct, keep_unknowns=True))


def _urn_name_and_type(urn: str) -> tuple[str, str]:
    parts = urn.split("::")
    if len(parts) < 4:
        return "", ""
    return parts[-1], parts[-2].split("$")[-1]


# --- the host ---------------------------------------------------------------------------------------


class DynamicProviderHost:
    """Starts `python -m pulumi.dynamic` as a subprocess, from a given working directory (the project dir,
    as the engine does), connects over gRPC, and exposes typed calls."""

    def __init__(self, cwd: str, env: Optional[dict[str, str]] = None, *, python: Optional[str] = None):
        self.cwd = os.path.abspath(cwd)
        self.env = dict(env or {})
        self.python = python or sys.executable
        self.process: Optional[subprocess.Popen] = None
        self.port: Optional[int] = None
        self.startup_seconds: Optional[float] = None
        self.plugin_version: Optional[str] = None
        self.handshake_supported: Optional[bool] = None
        # Filled by Configure; until then the engine would not send any resource call.
        self.provider_accepts_secrets: Optional[bool] = None
        self.supports_preview: Optional[bool] = None
        self._channel: Optional[grpc.Channel] = None
        self._stub: Optional[provider_pb2_grpc.ResourceProviderStub] = None
        self._stderr_file = None
        self._stdout_chunks: list[str] = []
        self._stdout_thread: Optional[threading.Thread] = None

    # lifecycle

    def start(self) -> "DynamicProviderHost":
        if self.process is not None:
            raise HostError("host already started")
        began = time.monotonic()
        # stderr goes to a file, not a pipe: nobody must have to drain it for the host to make progress.
        self._stderr_file = tempfile.TemporaryFile(mode="w+b")
        env = {**os.environ, **self.env}
        try:
            self.process = subprocess.Popen(
                [self.python, "-u", "-m", "pulumi.dynamic", _UNREACHABLE_ENGINE_ADDRESS],
                cwd=self.cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=self._stderr_file,
            )
            self.port = self._read_port()
            self._channel = grpc.insecure_channel(f"127.0.0.1:{self.port}", options=_GRPC_CHANNEL_OPTIONS)
            grpc.channel_ready_future(self._channel).result(timeout=_START_TIMEOUT_S)
            self._stub = provider_pb2_grpc.ResourceProviderStub(self._channel)
            self._handshake()
            self.plugin_version = self._call("GetPluginInfo", empty_pb2.Empty()).version
        except BaseException as exc:
            stderr = self.stderr_text()
            self.stop()
            if isinstance(exc, HostError):
                raise
            raise HostStartError(f"dynamic provider host failed to start: {exc!r}\n--- host stderr ---\n{stderr[-4000:]}") from exc
        self.startup_seconds = time.monotonic() - began
        return self

    def _read_port(self) -> int:
        # Like the engine, take the first stdout line as the port; keep draining stdout afterwards so a
        # provider that print()s can never block on a full pipe.
        assert self.process is not None and self.process.stdout is not None
        first_line: "concurrent.futures.Future[str]" = concurrent.futures.Future()
        stdout = self.process.stdout

        def drain() -> None:
            line = stdout.readline().decode(errors="replace")
            first_line.set_result(line)
            for chunk in iter(lambda: stdout.readline(), b""):
                self._stdout_chunks.append(chunk.decode(errors="replace"))

        self._stdout_thread = threading.Thread(target=drain, name="dynamic-host-stdout", daemon=True)
        self._stdout_thread.start()
        try:
            line = first_line.result(timeout=_START_TIMEOUT_S)
        except concurrent.futures.TimeoutError as exc:
            raise HostStartError(f"no port on stdout within {_START_TIMEOUT_S}s\n--- host stderr ---\n{self.stderr_text()[-4000:]}") from exc
        if not line.strip().isdigit():
            raise HostStartError(
                f"host exited or printed no port (exit code {self.process.poll()}, first line {line!r})\n"
                f"--- host stderr ---\n{self.stderr_text()[-4000:]}"
            )
        return int(line.strip())

    def _handshake(self) -> None:
        # Newer engines send Handshake first and accept UNIMPLEMENTED from older plugins; 3.272's Python
        # host does not implement it.
        request = provider_pb2.ProviderHandshakeRequest(
            engine_address=_UNREACHABLE_ENGINE_ADDRESS, root_directory=self.cwd, program_directory=self.cwd
        )
        try:
            self._call("Handshake", request)
            self.handshake_supported = True
        except ProviderError as err:
            if err.code != grpc.StatusCode.UNIMPLEMENTED:
                raise
            self.handshake_supported = False

    def stop(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None
            self._stub = None
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            # By PID only: the host has no children of its own.
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        if process is not None and process.stdout is not None:
            process.stdout.close()
        if self._stdout_thread is not None:
            self._stdout_thread.join(timeout=5)

    def __enter__(self) -> "DynamicProviderHost":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
        if self._stderr_file is not None:
            self._stderr_file.close()
            self._stderr_file = None

    @property
    def pid(self) -> Optional[int]:
        return self.process.pid if self.process is not None else None

    def stderr_text(self) -> str:
        """Everything the host wrote to stderr so far (tracebacks, `pulumi.log` output, warnings)."""
        if self._stderr_file is None:
            return ""
        self._stderr_file.flush()
        self._stderr_file.seek(0)
        return self._stderr_file.read().decode(errors="replace")

    def stdout_text(self) -> str:
        """What the host printed after its port line (e.g. print() calls inside a provider)."""
        return "".join(self._stdout_chunks)

    # RPCs

    def _call(self, method: str, request):
        if self._stub is None:
            raise HostError("host is not running; call start() or use it as a context manager")
        try:
            return getattr(self._stub, method)(request, timeout=_RPC_TIMEOUT_S)
        except grpc.RpcError as err:
            raise ProviderError(method, err.code(), err.details()) from None

    def _outgoing(self, props: Optional[dict[str, Any]]) -> struct_pb2.Struct:
        # Also accept values as a mocked program run captures them (MockResourceArgs.inputs holds
        # Pulumi's wrapped-secret dicts, e.g. for `__provider`).
        props = _from_rpc_form(dict(props or {}))
        if not self.provider_accepts_secrets:
            props = _strip_secrets(props)
        return _to_struct(props)

    def _require_configured(self) -> None:
        if self.provider_accepts_secrets is None:
            raise HostError("configure() first: the engine always configures a provider before using it")

    def configure(self, variables: dict[str, Any], *, accept_secrets: bool = True) -> None:
        """Configure with the stack config, e.g. {"litellm-gateway:masterKey": Secret("sk-...")}.

        The engine gives dynamic providers the whole stack config with namespaced keys; `args` carries
        it with secure values as secrets (the host unwraps them), `variables` the older
        "<pkg>:config:<key>" spelling with plain strings (the Python host ignores it).

        The host configures each distinct `__provider` once, on first use, with the config current at
        that moment; calling configure() again does not reconfigure a provider already used. The engine
        never does that anyway (one Configure per host process): use a fresh host for other config.
        """
        args = _from_rpc_form(dict(variables))
        request = provider_pb2.ConfigureRequest(
            variables={f"pulumi-python:config:{k}": str(_strip_secrets(v)) for k, v in args.items()},
            args=_to_struct(args),
            acceptSecrets=accept_secrets,
            acceptResources=True,
            sends_old_inputs=True,
            sends_old_inputs_to_delete=True,
        )
        response = self._call("Configure", request)
        self.provider_accepts_secrets = response.acceptSecrets
        self.supports_preview = response.supportsPreview

    def check(self, urn: str, olds: dict, news: dict) -> tuple[dict, list[tuple[str, str]]]:
        self._require_configured()
        name, type_ = _urn_name_and_type(urn)
        request = provider_pb2.CheckRequest(
            urn=urn, olds=self._outgoing(olds), news=self._outgoing(news), randomSeed=os.urandom(32), name=name, type=type_
        )
        response = self._call("Check", request)
        inputs = _from_struct(response.inputs)
        if not self.provider_accepts_secrets:
            _annotate_secrets(inputs, _from_rpc_form(news))
        return inputs, [(f.property, f.reason) for f in response.failures]

    def diff(self, id: str, urn: str, olds: dict, news: dict, *, old_inputs: Optional[dict] = None) -> DiffResponse:
        """`olds` are the old outputs (state), `news` the checked new inputs, as the engine sends them."""
        self._require_configured()
        name, type_ = _urn_name_and_type(urn)
        request = provider_pb2.DiffRequest(
            id=id,
            urn=urn,
            olds=self._outgoing(olds),
            news=self._outgoing(news),
            old_inputs=self._outgoing(old_inputs if old_inputs is not None else olds),
            name=name,
            type=type_,
        )
        response = self._call("Diff", request)
        return DiffResponse(
            changes=provider_pb2.DiffResponse.DiffChanges.Name(response.changes),
            replaces=list(response.replaces),
            stables=list(response.stables),
            delete_before_replace=response.deleteBeforeReplace,
            diffs=list(response.diffs),
        )

    def create(self, urn: str, properties: dict, preview: bool = False) -> tuple[str, dict]:
        self._require_configured()
        if preview and not self.supports_preview:
            # What the engine does for a provider without preview support: no RPC, inputs become state.
            return "", _from_rpc_form(dict(properties))
        name, type_ = _urn_name_and_type(urn)
        request = provider_pb2.CreateRequest(
            urn=urn, properties=self._outgoing(properties), preview=preview, name=name, type=type_
        )
        response = self._call("Create", request)
        if not response.id and not preview:
            raise EngineError(f"provider returned an empty resource ID from create {urn!r}")
        outputs = _from_struct(response.properties)
        if not self.provider_accepts_secrets:
            _annotate_secrets(outputs, _from_rpc_form(properties))
        return response.id, outputs

    def read(self, id: str, urn: str, properties: dict, inputs: Optional[dict] = None) -> tuple[Optional[str], dict, dict]:
        """Refresh. Returns (None, {}, {}) when the provider reports the object gone; the returned inputs
        are {} when the provider returned none (the engine then keeps the old inputs)."""
        self._require_configured()
        name, type_ = _urn_name_and_type(urn)
        request = provider_pb2.ReadRequest(
            id=id,
            urn=urn,
            properties=self._outgoing(properties),
            inputs=self._outgoing(inputs) if inputs is not None else None,
            name=name,
            type=type_,
        )
        response = self._call("Read", request)
        if not response.id:
            return None, {}, {}
        outputs = _from_struct(response.properties)
        new_inputs = _from_struct(response.inputs) if response.HasField("inputs") else {}
        if not self.provider_accepts_secrets:
            _annotate_secrets(new_inputs, _from_rpc_form(inputs) if inputs is not None else None)
            _annotate_secrets(outputs, _from_rpc_form(properties))
        return response.id, outputs, new_inputs

    def update(
        self, id: str, urn: str, olds: dict, news: dict, *, old_inputs: Optional[dict] = None, preview: bool = False
    ) -> dict:
        """`olds` are the old outputs, `news` the checked new inputs."""
        self._require_configured()
        if preview and not self.supports_preview:
            return _from_rpc_form(dict(news))
        name, type_ = _urn_name_and_type(urn)
        request = provider_pb2.UpdateRequest(
            id=id,
            urn=urn,
            olds=self._outgoing(olds),
            news=self._outgoing(news),
            old_inputs=self._outgoing(old_inputs if old_inputs is not None else olds),
            preview=preview,
            name=name,
            type=type_,
        )
        response = self._call("Update", request)
        outputs = _from_struct(response.properties)
        if not self.provider_accepts_secrets:
            _annotate_secrets(outputs, _from_rpc_form(news))
        return outputs

    def delete(self, id: str, urn: str, properties: dict, *, old_inputs: Optional[dict] = None) -> None:
        """`properties` are the old outputs (the Python host reads `__provider` from them)."""
        self._require_configured()
        name, type_ = _urn_name_and_type(urn)
        request = provider_pb2.DeleteRequest(
            id=id,
            urn=urn,
            properties=self._outgoing(properties),
            old_inputs=self._outgoing(old_inputs if old_inputs is not None else properties),
            name=name,
            type=type_,
        )
        self._call("Delete", request)
