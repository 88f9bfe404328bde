"""Model, Team and VirtualKey driven through Pulumi's real dynamic-provider host, as the engine drives them.

The inputs are not hand-written: a child process runs the real program (`__main__.py`, dev stack) under
the mock engine (`offline.engine.run_program`) and records each resource's registration -- its inputs including the
`__provider` pickle, which inputs were secret, and `additionalSecretOutputs`. Those inputs go, unchanged,
to `python -m pulumi.dynamic` (tests.support.dynamic_host) configured the way the engine configures it:
the whole stack config, `litellm-gateway:adminUrl` plain and `litellm-gateway:masterKey` as a secret. The
providers talk to the admin-API emulator on 127.0.0.1; nothing reaches them through the environment.

Each lifecycle is Check -> Create -> Check/Diff against its own outputs (no-op) -> Read -> Update ->
Diff with a replacement -> Delete -> Delete again, with the emulator's state and request counts asserted
after each step.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import dill
import grpc
import pytest

from components.litellm_admin import connection
from offline.stack_inputs import load_stack_inputs, placeholder_value
from tests.support.admin_emulator import AdminEmulator
from tests.support.dynamic_host import (
    PROVIDER_KEY,
    UNKNOWN,
    DynamicProviderHost,
    ProviderError,
    Secret,
)
from tests.components.litellm_admin.conftest import make_tls_files

PROJECT_DIR = Path(__file__).resolve().parents[3]
MODEL_TYPE = "pulumi-python:dynamic/litellm:Model"
TEAM_TYPE = "pulumi-python:dynamic/litellm:Team"
KEY_TYPE = "pulumi-python:dynamic/litellm:VirtualKey"
PROVIDER_CLASSES = {
    MODEL_TYPE: ("components.litellm_admin.model_provider", "ModelProvider"),
    TEAM_TYPE: ("components.litellm_admin.team_provider", "TeamProvider"),
    KEY_TYPE: ("components.litellm_admin.virtual_key_provider", "VirtualKeyProvider"),
}

# What the program run sees as its stack config and environment. If a provider captured either at
# construction time, it would end up inside `__provider`.
PROGRAM_MASTER_KEY = "sk-program-master-key-a41f9c03d7e2"
PROGRAM_ADMIN_URL = "http://127.0.0.1:4917"

# --- the program run ---------------------------------------------------------------------------------

# The real program (`__main__.py`, dev stack) under Pulumi's mocks. These three of its resources are
# driven through the host: the key belongs to the team, so the team is created first.
MODEL_NAME = "litellm-dev-model-ollama-llama3.2"
TEAM_NAME = "litellm-dev-team-platform-ai"
KEY_NAME = "litellm-dev-key-langchain-dev"

_PROGRAM_RUN = textwrap.dedent(
    """
    import json, sys
    from offline.engine import run_program
    from offline.stack_inputs import load_stack_inputs

    admin_url, master_key = sys.argv[1], sys.argv[2]
    stack = load_stack_inputs("dev", secrets={"masterKey": master_key}, overrides={"adminUrl": admin_url})
    run = run_program("dev", stack.config, stack.secret_keys)
    print("RESOURCES=" + json.dumps([
        {"urn": r.urn, "type": r.type, "name": r.name, "inputs": r.inputs, "secret_inputs": r.secret_inputs,
         "additional_secret_outputs": r.additional_secret_outputs}
        for r in run.resources if r.type.startswith("pulumi-python:dynamic/litellm:")]))
    """
)


@dataclass(frozen=True)
class Declared:
    """One resource as the program registered it."""

    urn: str
    type: str
    name: str
    plain_inputs: dict[str, Any]
    secret_inputs: tuple[str, ...]
    additional_secret_outputs: tuple[str, ...]

    def engine_inputs(self) -> dict[str, Any]:
        """The inputs as the engine holds them: secret ones marked secret (`__provider` among them)."""
        return {k: Secret(v) if k in self.secret_inputs else v for k, v in self.plain_inputs.items()}

    @property
    def provider_value(self) -> str:
        return self.plain_inputs[PROVIDER_KEY]


def run_declaring_program() -> dict[str, Declared]:
    """Run the program under Pulumi's mocks in a child process (set_mocks is process-wide state), with
    the admin URL and master key in its stack config and its environment."""
    env = {
        **os.environ,
        "PYTHONPATH": str(PROJECT_DIR),
        connection.ADMIN_URL_ENV: PROGRAM_ADMIN_URL,
        connection.MASTER_KEY_ENV: PROGRAM_MASTER_KEY,
    }
    run = subprocess.run(
        [sys.executable, "-c", _PROGRAM_RUN, PROGRAM_ADMIN_URL, PROGRAM_MASTER_KEY],
        cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    line = [line for line in run.stdout.splitlines() if line.startswith("RESOURCES=")][-1]
    by_name = {record["name"]: record for record in json.loads(line[len("RESOURCES="):])}
    found: dict[str, Declared] = {}
    for type_token, name in ((MODEL_TYPE, MODEL_NAME), (TEAM_TYPE, TEAM_NAME), (KEY_TYPE, KEY_NAME)):
        record = by_name[name]
        assert record["type"] == type_token
        found[type_token] = Declared(
            urn=record["urn"],
            type=record["type"],
            name=record["name"],
            plain_inputs=record["inputs"],
            secret_inputs=tuple(record["secret_inputs"]),
            additional_secret_outputs=tuple(record["additional_secret_outputs"]),
        )
    assert found[KEY_TYPE].plain_inputs["team_id"] == found[TEAM_TYPE].plain_inputs["team_id"]
    return found


@pytest.fixture(scope="module")
def declared() -> dict[str, Declared]:
    return run_declaring_program()


# --- hosts -------------------------------------------------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch):
    """No admin settings in the environment the host inherits: only Configure can deliver them."""
    for name in (connection.ADMIN_URL_ENV, connection.MASTER_KEY_ENV, connection.CA_BUNDLE_ENV, "REQUESTS_CA_BUNDLE", "PULUMI_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def open_host(clean_env):
    """Start a host (in the project dir, as the engine does) and Configure it with the stack config."""
    started: list[DynamicProviderHost] = []

    def start(emulator: AdminEmulator, *, pulumi_project: Optional[str] = None, config: Optional[dict] = None):
        env = {
            # Retry tuning only (the client retries 5xx four times): keep the fault tests quick.
            connection.BACKOFF_ENV: "0.01",
            connection.TIMEOUT_ENV: "10",
        }
        if pulumi_project is not None:
            env["PULUMI_PROJECT"] = pulumi_project
        host = DynamicProviderHost(str(PROJECT_DIR), env).start()
        started.append(host)
        if config is None:
            config = {
                "litellm-gateway:adminUrl": emulator.base_url,
                "litellm-gateway:masterKey": Secret(emulator.master_key),
                "litellm-gateway:environment": "dev",
            }
        host.configure(config)
        return host

    yield start
    for host in started:
        host.__exit__(None, None, None)  # stop it and close its stderr file


def own(props: dict) -> dict:
    return {k: v for k, v in props.items() if k != PROVIDER_KEY}


def requests_seen(emulator: AdminEmulator) -> tuple[int, int]:
    """(writes, reads) since the last reset. `POST /model/update` counts as a read: the providers only
    send it as the database probe (no litellm_params: it writes nothing; client._model_in_database)."""
    total = emulator.count()
    reads = emulator.count("GET") + emulator.count("POST", "/model/update")
    return total - reads, reads


# --- the lifecycle -----------------------------------------------------------------------------------


@dataclass
class Case:
    type: str
    store: Callable[[AdminEmulator], dict]
    expected_id: Callable[[dict, dict], str]  # (checked inputs, create outputs) -> resource id
    create_path: str
    read_path: str
    update_path: tuple[str, str]
    delete_path: str
    update: Callable[[dict], dict]  # checked inputs -> changed inputs (an in-place update)
    updated_on_server: Callable[[dict, dict], bool]  # (server row, changed inputs) -> applied?
    replace: Callable[[dict], dict]  # checked inputs -> inputs that force a replacement
    replace_field: str
    delete_before_replace: bool


def _bump_budget(inputs: dict) -> dict:
    return {**inputs, "max_budget": inputs["max_budget"] + 25}


def _bump_rpm(inputs: dict) -> dict:
    params = dict(inputs["litellm_params"])
    params["rpm"] = (params.get("rpm") or 0) + 240
    return {**inputs, "litellm_params": params}


CASES = {
    "model": Case(
        type=MODEL_TYPE,
        store=lambda em: em.models,
        expected_id=lambda inputs, outs: inputs["model_id"],
        create_path="/model/new",
        read_path="/v2/model/info",
        update_path=("PATCH", "/model/{id}/update"),
        delete_path="/model/delete",
        update=_bump_rpm,
        updated_on_server=lambda row, news: row["litellm_params"]["rpm"] == news["litellm_params"]["rpm"],
        replace=lambda inputs: {**inputs, "model_id": inputs["model_id"] + "-v2"},
        replace_field="model_id",
        delete_before_replace=False,  # a new id: create the new deployment first
    ),
    "team": Case(
        type=TEAM_TYPE,
        store=lambda em: em.teams,
        expected_id=lambda inputs, outs: inputs["team_id"],
        create_path="/team/new",
        read_path="/team/info",
        update_path=("POST", "/team/update"),
        delete_path="/team/delete",
        update=_bump_budget,
        updated_on_server=lambda row, news: row["max_budget"] == news["max_budget"],
        replace=lambda inputs: {**inputs, "team_id": inputs["team_id"] + "-v2"},
        replace_field="team_id",
        delete_before_replace=False,
    ),
    "key": Case(
        type=KEY_TYPE,
        store=lambda em: em.keys,
        expected_id=lambda inputs, outs: hashlib.sha256(outs["key"].encode()).hexdigest(),
        create_path="/key/generate",
        read_path="/key/info",
        update_path=("POST", "/key/update"),
        delete_path="/key/delete",
        update=_bump_budget,
        updated_on_server=lambda row, news: row["max_budget"] == news["max_budget"],
        replace=lambda inputs: {**inputs, "rotation_trigger": "rotated-" + str(inputs.get("rotation_trigger"))},
        replace_field="rotation_trigger",
        delete_before_replace=False,  # rotation: the new key exists before the old one goes
    ),
}


def create_team_of_key(host: DynamicProviderHost, declared: dict[str, Declared], emulator: AdminEmulator) -> None:
    """A key's team must exist before the key (the engine orders them through the team_id output)."""
    team = declared[TEAM_TYPE]
    inputs, failures = host.check(team.urn, {}, team.engine_inputs())
    assert failures == []
    host.create(team.urn, inputs)
    assert declared[KEY_TYPE].plain_inputs["team_id"] in emulator.teams
    emulator.reset_counts()


@pytest.mark.parametrize("case_name", sorted(CASES))
def test_lifecycle_through_the_engine_host(case_name, declared, emulator, open_host):
    case = CASES[case_name]
    resource = declared[case.type]
    host = open_host(emulator)
    if case.type == KEY_TYPE:
        create_team_of_key(host, declared, emulator)
    store = case.store(emulator)
    baseline = len(store)

    # Check: the declared inputs pass validation and come back as they went (secrets re-marked).
    emulator.reset_counts()
    inputs, failures = host.check(resource.urn, {}, resource.engine_inputs())
    assert failures == []
    assert own(inputs) == own(resource.engine_inputs())
    assert inputs[PROVIDER_KEY] == Secret(resource.provider_value)
    assert emulator.count() == 0

    # Create: one write, at most one read-back; the object is on the server.
    id_, outs = host.create(resource.urn, inputs)
    assert id_ == case.expected_id(inputs, outs)
    writes, reads = requests_seen(emulator)
    assert (writes, reads <= 1) == (1, True), emulator.access_log
    assert emulator.count("POST", case.create_path) == 1
    assert len(store) == baseline + 1 and id_ in store
    # The engine stores the same small, by-reference provider with the outputs: still no secret in it.
    assert outs[PROVIDER_KEY] == Secret(resource.provider_value)

    # Next `pulumi up` with unchanged code: Check (olds = last inputs) and Diff against the outputs.
    emulator.reset_counts()
    rechecked, failures = host.check(resource.urn, inputs, resource.engine_inputs())
    assert failures == []
    diff = host.diff(id_, resource.urn, outs, rechecked, old_inputs=inputs)
    assert diff.changes == "DIFF_NONE", diff
    assert emulator.count() == 0, emulator.access_log

    # Read (refresh): one request; unchanged server -> unchanged state, and diffing it is a no-op.
    read_id, read_outs, read_inputs = host.read(id_, resource.urn, outs, inputs)
    assert read_id == id_
    assert own(read_outs) == own(outs)
    assert own(read_inputs) == {k: v for k, v in own(outs).items() if k not in ("key", "token")}
    assert emulator.count() == 1 and emulator.count("GET", case.read_path) == 1, emulator.access_log
    emulator.reset_counts()
    assert host.diff(id_, resource.urn, read_outs, rechecked, old_inputs=read_inputs).changes == "DIFF_NONE"
    assert emulator.count() == 0

    # Update in place: Check + Diff (no requests), then one write and at most one read.
    changed, failures = host.check(resource.urn, inputs, case.update(resource.engine_inputs()))
    assert failures == []
    diff = host.diff(id_, resource.urn, outs, changed, old_inputs=inputs)
    assert (diff.changes, diff.replaces) == ("DIFF_SOME", [])
    assert emulator.count() == 0
    updated = host.update(id_, resource.urn, outs, changed, old_inputs=inputs)
    writes, reads = requests_seen(emulator)
    assert (writes, reads <= 1) == (1, True), emulator.access_log
    method, path = case.update_path
    assert emulator.count(method, path.format(id=id_)) == 1
    assert case.updated_on_server(store[id_], changed)
    assert own(updated) == {**own(outs), **{k: v for k, v in own(changed).items()}}
    if case.type == KEY_TYPE:
        assert updated["key"] == outs["key"] and updated["token"] == id_  # the raw key survives an update

    # A change of an immutable field: a replacement, decided without a request.
    emulator.reset_counts()
    replacing, failures = host.check(resource.urn, changed, case.replace(changed))
    assert failures == []
    diff = host.diff(id_, resource.urn, updated, replacing, old_inputs=changed)
    assert diff.changes == "DIFF_SOME"
    assert diff.replaces == [case.replace_field]
    assert diff.delete_before_replace is case.delete_before_replace
    assert emulator.count() == 0

    # Delete: one write (at most one read; a key: a look at its rotation marker, and, with a grace
    # window, one for predecessors still in grace); gone from the server. Again: no error, nothing removed.
    # A key is blocked first (POST /key/block: LiteLLM broadcasts that eviction to every worker,
    # /key/delete does not), then deleted: two writes.
    max_reads = 2 if case.type == KEY_TYPE else 1
    delete_writes = 2 if case.type == KEY_TYPE else 1
    host.delete(id_, resource.urn, updated, old_inputs=changed)
    writes, reads = requests_seen(emulator)
    assert (writes, reads <= max_reads) == (delete_writes, True), emulator.access_log
    assert emulator.count("POST", case.delete_path) == 1
    if case.type == KEY_TYPE:
        assert emulator.count("POST", "/key/block") == 1
    assert id_ not in store and len(store) == baseline
    emulator.reset_counts()
    host.delete(id_, resource.urn, updated, old_inputs=changed)
    writes, reads = requests_seen(emulator)
    # A key already gone is seen gone by its read: nothing to write.
    assert writes == (0 if case.type == KEY_TYPE else 1) and reads <= max_reads, emulator.access_log
    assert len(store) == baseline
    if case.type == KEY_TYPE:
        assert id_ in emulator.deleted_keys
        assert declared[KEY_TYPE].plain_inputs["team_id"] in emulator.teams  # the team is left alone

    # The master key travelled only in the Authorization header.
    for entry in emulator.access_log:
        assert emulator.master_key not in entry["body"] + entry["query"]
        assert entry["headers"]["authorization"] == f"Bearer {emulator.master_key}"


def test_model_dropping_a_parameter_is_replaced_delete_first(declared, emulator, open_host):
    """The PATCH endpoint merges parameters, so a removed one needs a replacement; same id -> delete first."""
    model = declared[MODEL_TYPE]
    host = open_host(emulator)
    inputs, _ = host.check(model.urn, {}, model.engine_inputs())
    id_, outs = host.create(model.urn, inputs)
    emulator.reset_counts()
    params = {k: v for k, v in inputs["litellm_params"].items() if k != "rpm"}
    assert params != inputs["litellm_params"]
    news, failures = host.check(model.urn, inputs, {**inputs, "litellm_params": params})
    assert failures == []
    diff = host.diff(id_, model.urn, outs, news, old_inputs=inputs)
    assert (diff.changes, diff.replaces, diff.delete_before_replace) == ("DIFF_SOME", ["litellm_params"], True)
    assert emulator.count() == 0


# --- __provider ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("type_token", [MODEL_TYPE, TEAM_TYPE, KEY_TYPE])
def test_provider_pickle_is_small_and_holds_no_secret_or_url(type_token, declared, emulator):
    resource = declared[type_token]
    assert PROVIDER_KEY in resource.secret_inputs  # the engine encrypts it anyway
    encoded = resource.provider_value
    pickled = base64.b64decode(encoded)
    print(f"{type_token}: __provider {len(encoded)} bytes base64, {len(pickled)} bytes pickled")
    assert len(encoded) < 1024
    for secret in (PROGRAM_MASTER_KEY, PROGRAM_ADMIN_URL, emulator.master_key, emulator.base_url):
        assert secret not in encoded and secret.encode() not in pickled
    assert b"http" not in pickled and b"127.0.0.1" not in pickled and b"sk-" not in pickled
    # By reference: the module and class name, no code and no captured state.
    provider = dill.loads(pickled)
    module, name = PROVIDER_CLASSES[type_token]
    assert (type(provider).__module__, type(provider).__name__) == (module, name)
    assert provider.__dict__ == {}


# --- the virtual key's secret value ----------------------------------------------------------------------


def test_the_raw_key_is_a_secret_output_and_never_the_id(declared, emulator, open_host):
    key = declared[KEY_TYPE]
    # The registration asks the engine to encrypt the `key` output; it is not an input at all.
    assert "key" in key.additional_secret_outputs
    assert "key" not in key.plain_inputs and "token" not in key.plain_inputs

    host = open_host(emulator)
    create_team_of_key(host, declared, emulator)
    inputs, _ = host.check(key.urn, {}, key.engine_inputs())
    id_, outs = host.create(key.urn, inputs)
    raw = outs["key"]
    assert isinstance(raw, str) and raw.startswith("sk-")
    assert id_ == hashlib.sha256(raw.encode()).hexdigest() == outs["token"]
    assert raw not in id_ and not id_.startswith("sk-")
    assert set(emulator.keys) == {id_}
    # After creation the raw value never goes back to the server: reads and writes use the token.
    host.read(id_, key.urn, outs, inputs)
    changed, _ = host.check(key.urn, inputs, _bump_budget(key.engine_inputs()))
    host.update(id_, key.urn, outs, changed, old_inputs=inputs)
    host.delete(id_, key.urn, outs, old_inputs=changed)
    generate_calls = 0
    for entry in emulator.access_log:
        generate_calls += entry["path"] == "/key/generate"
        assert raw not in entry["body"] + entry["query"], entry["path"]
        assert all(raw not in value for value in entry["headers"].values())
    assert generate_calls == 1
    assert raw not in host.stderr_text() + host.stdout_text()


# --- errors through gRPC ----------------------------------------------------------------------------------


class _EchoingErrors:
    """ASGI wrapper: while armed, answers `POST /key/update` with a 400 whose message repeats the caller's
    Authorization header and a given raw key -- the worst a server could do with an error body."""

    def __init__(self, app, emulator: AdminEmulator) -> None:
        self.app = app
        self.emulator = emulator
        self.echo_raw_key: Optional[str] = None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and self.echo_raw_key and scope["path"] == "/key/update":
            headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
            message = f"cannot update key {self.echo_raw_key}: caller sent '{headers.get('authorization')}'"
            body = json.dumps({"error": {"message": message, "type": "bad_request_error", "param": "key", "code": "400"}})
            await send({"type": "http.response.start", "status": 400,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body.encode()})
            return
        await self.app(scope, receive, send)


def test_a_server_error_reaches_the_engine_with_method_path_status_and_no_secrets(declared, open_host):
    emulator = AdminEmulator(master_key="sk-master-echo-test-9b2f61d0c4e8")
    echoing = _EchoingErrors(emulator.app, emulator)
    emulator.app = echoing  # start() serves self.app
    with emulator:
        host = open_host(emulator)
        create_team_of_key(host, declared, emulator)
        key = declared[KEY_TYPE]
        inputs, _ = host.check(key.urn, {}, key.engine_inputs())
        id_, outs = host.create(key.urn, inputs)
        raw = outs["key"]
        echoing.echo_raw_key = raw
        changed, _ = host.check(key.urn, inputs, _bump_budget(key.engine_inputs()))
        with pytest.raises(ProviderError) as caught:
            host.update(id_, key.urn, outs, changed, old_inputs=inputs)
    error = caught.value
    assert error.method == "Update" and error.code == grpc.StatusCode.UNKNOWN
    assert "LiteLLM admin API POST /key/update failed (HTTP 400)" in error.message
    assert "cannot update key sk-***" in error.message  # the server's words, redacted
    for text in (error.details, str(error), host.stderr_text(), host.stdout_text()):
        assert emulator.master_key not in text
        assert raw not in text
    assert emulator.count("POST", "/key/update") == 1  # a 4xx is not retried


def test_a_failing_server_is_retried_then_reported(declared, emulator, open_host):
    host = open_host(emulator)
    team = declared[TEAM_TYPE]
    inputs, _ = host.check(team.urn, {}, team.engine_inputs())
    id_, outs = host.create(team.urn, inputs)
    emulator.reset_counts()
    emulator.inject_fault("POST", "/team/update", "500", times=4)
    changed, _ = host.check(team.urn, inputs, _bump_budget(team.engine_inputs()))
    with pytest.raises(ProviderError) as caught:
        host.update(id_, team.urn, outs, changed, old_inputs=inputs)
    message = caught.value.message
    assert "POST /team/update failed (HTTP 500)" in message and "gave up after 4 attempts" in message
    assert emulator.master_key not in caught.value.details
    assert emulator.count("POST", "/team/update") == 4
    assert emulator.teams[id_]["max_budget"] == inputs["max_budget"]  # nothing applied


def test_create_without_admin_settings_fails_clearly_and_sends_nothing(declared, emulator, open_host):
    host = open_host(emulator, config={"litellm-gateway:environment": "dev"})
    team = declared[TEAM_TYPE]
    inputs, failures = host.check(team.urn, {}, team.engine_inputs())
    assert failures == []  # check needs no server
    with pytest.raises(ProviderError) as caught:
        host.create(team.urn, inputs)
    assert "AdminSettingsMissing" in caught.value.message
    assert "litellm-gateway:adminUrl" in caught.value.message
    assert emulator.count() == 0


# --- configuration: with or without PULUMI_PROJECT -----------------------------------------------------


@pytest.mark.parametrize("pulumi_project", [None, "litellm-gateway", "another-project"])
def test_stack_config_reaches_the_providers_whatever_pulumi_project_is(pulumi_project, declared, emulator, open_host):
    # The host namespaces un-prefixed Config keys with $PULUMI_PROJECT (default "project"); the providers
    # ask for the fully qualified keys, so it must not matter whether or what the engine sets.
    host = open_host(emulator, pulumi_project=pulumi_project)
    with open(f"/proc/{host.pid}/environ", "rb") as environ:
        variables = dict(item.split(b"=", 1) for item in environ.read().split(b"\0") if b"=" in item)
    assert variables.get(b"PULUMI_PROJECT") == (pulumi_project.encode() if pulumi_project else None)
    assert connection.ADMIN_URL_ENV.encode() not in variables and connection.MASTER_KEY_ENV.encode() not in variables
    team = declared[TEAM_TYPE]
    inputs, _ = host.check(team.urn, {}, team.engine_inputs())
    id_, _ = host.create(team.urn, inputs)
    assert id_ in emulator.teams
    assert emulator.access_log[-1]["headers"]["authorization"] == f"Bearer {emulator.master_key}"


# --- preview -------------------------------------------------------------------------------------------


PREVIEW_UNKNOWNS = {
    # What is not known before the first deployment: a key's team id (the Team's output), ...
    KEY_TYPE: lambda inputs: {**inputs, "team_id": UNKNOWN, "metadata": {"service": UNKNOWN}},
    TEAM_TYPE: lambda inputs: {**inputs, "team_alias": UNKNOWN, "max_budget": UNKNOWN},
    MODEL_TYPE: lambda inputs: {
        **inputs, "model_name": UNKNOWN, "litellm_params": {**inputs["litellm_params"], "api_base": UNKNOWN}
    },
}


@pytest.mark.parametrize("type_token", [MODEL_TYPE, TEAM_TYPE, KEY_TYPE])
def test_preview_check_with_unknown_inputs_passes(type_token, declared, emulator, open_host):
    resource = declared[type_token]
    host = open_host(emulator)
    news = PREVIEW_UNKNOWNS[type_token](resource.engine_inputs())
    inputs, failures = host.check(resource.urn, {}, news)
    assert failures == []
    assert own(inputs) == own(news)  # unknowns pass through as unknowns
    # Preview of an update with unknowns: a diff, still without a request (and Create/Update are never
    # sent in preview: the host does not support it).
    assert host.supports_preview is False
    known, _ = host.check(resource.urn, {}, resource.engine_inputs())
    diff = host.diff("some-id", resource.urn, own(known), inputs, old_inputs=known)
    assert diff.changes == "DIFF_SOME"
    assert emulator.count() == 0


# --- https, at the URL derived from the stack config -----------------------------------------------------


def test_https_at_the_derived_url_trusting_the_resources_ca(declared, open_host, tmp_path):
    """The local stack's config as the engine passes it -- no adminUrl, its port pointed at the emulator
    served over HTTPS: the providers derive https://127.0.0.1:<port> and verify the certificate with the
    resource's ca_bundle_pem; without it the create fails with a certificate error and sends nothing."""
    team = declared[TEAM_TYPE]
    for resource in declared.values():  # wired from Gateway.ca_bundle_pem (dev: the internal CA from config)
        assert resource.plain_inputs["ca_bundle_pem"] == placeholder_value("tlsCaCert")
    ca = make_tls_files(tmp_path / "ca")
    with AdminEmulator(master_key="sk-master-https-test-51c07e9a", tls_files=(ca.chain_file, ca.key_file)) as emulator:
        port = int(emulator.base_url.rsplit(":", 1)[1])
        config: dict[str, Any] = dict(load_stack_inputs("local").config)
        litellm = json.loads(config["litellm-gateway:litellm"])
        assert litellm["deploy"] == "local" and json.loads(config["litellm-gateway:tls"])["enabled"] is True
        config["litellm-gateway:litellm"] = json.dumps({**litellm, "port": port})
        config["litellm-gateway:masterKey"] = Secret(emulator.master_key)
        assert "litellm-gateway:adminUrl" not in config
        host = open_host(emulator, config=config)

        with_ca = {**team.engine_inputs(), "ca_bundle_pem": ca.ca_pem}
        inputs, failures = host.check(team.urn, {}, with_ca)
        assert failures == []
        id_, outs = host.create(team.urn, inputs)
        assert id_ in emulator.teams and outs["ca_bundle_pem"] == ca.ca_pem
        assert host.read(id_, team.urn, outs, inputs)[0] == id_
        assert emulator.count("POST", "/team/new") == 1 and emulator.count("GET", "/team/info") >= 1
        for entry in emulator.access_log:  # the CA is connection plumbing: never sent
            assert "BEGIN CERTIFICATE" not in entry["body"] + entry["query"]

        # A renewed CA alone: an update (never a replacement) that sends nothing, so that the state
        # holds the CA a later delete or refresh must trust (the engine gives them only the state).
        renewed = make_tls_files(tmp_path / "renewed", ca_name="Renewed CA")
        news, failures = host.check(team.urn, inputs, {**with_ca, "ca_bundle_pem": renewed.ca_pem})
        assert failures == []
        diff = host.diff(id_, team.urn, outs, news, old_inputs=inputs)
        assert diff.changes == "DIFF_SOME" and not list(diff.replaces), diff
        emulator.reset_counts()
        renewed_outs = host.update(id_, team.urn, outs, news, old_inputs=inputs)
        assert renewed_outs["ca_bundle_pem"] == renewed.ca_pem and emulator.count() == 0
        # the same CA again: no diff
        assert host.diff(id_, team.urn, renewed_outs, news, old_inputs=news).changes == "DIFF_NONE"

        # Without the CA: the system trust store does not know the test CA.
        emulator.reset_counts()
        without = {k: v for k, v in team.engine_inputs().items() if k != "ca_bundle_pem"}
        inputs, failures = host.check(team.urn, {}, {**without, "team_id": "team-without-ca"})
        assert failures == []
        with pytest.raises(ProviderError) as caught:
            host.create(team.urn, inputs)
        message = caught.value.message
        assert f"TLS certificate verification failed for https://127.0.0.1:{port}" in message
        assert "trusting the system trust store" in message
        for text in (caught.value.details, host.stderr_text(), host.stdout_text()):
            assert emulator.master_key not in text
        assert emulator.count() == 0 and "team-without-ca" not in emulator.teams
