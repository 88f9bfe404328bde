"""Prove the dynamic-provider host harness against Pulumi's real `python -m pulumi.dynamic` process.

Each test starts its own host (about 0.2-0.3 s here: see `host.startup_seconds`). A per-test host is
needed anyway for isolation: the host caches each unpickled provider together with the config it was
first configured with.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import grpc
import pytest

from tests.support.dynamic_host import (
    PROVIDER_KEY,
    UNKNOWN,
    DynamicProviderHost,
    ProviderError,
    Secret,
    dynamic_type_token,
    dynamic_urn,
    pickle_provider,
)
from tests.support.toy_provider import STORE_PATH_KEY, JsonFileProvider

PROJECT_DIR = str(Path(__file__).resolve().parents[2])
URN = dynamic_urn("dev", "litellm-gateway", dynamic_type_token("toy", "Thing"), "thing-a")


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "store.json"


@pytest.fixture
def host(store_path: Path):
    with DynamicProviderHost(PROJECT_DIR) as h:
        h.configure({STORE_PATH_KEY: str(store_path), "litellm-gateway:masterKey": Secret("sk-not-a-real-key")})
        yield h


@pytest.fixture
def provider_value():
    return pickle_provider(JsonFileProvider())


def own(props: dict) -> dict:
    return {k: v for k, v in props.items() if k != PROVIDER_KEY}


def read_store(store_path: Path) -> dict:
    return json.loads(store_path.read_text())


def test_provider_is_pickled_by_reference_as_a_secret(provider_value):
    # Resource makes __provider a secret unless the provider opts out (serialize_as_secret_always).
    assert isinstance(provider_value, Secret)
    pickled = base64.b64decode(provider_value.value)
    # By reference: module and class name, not the class body.
    assert b"tests.support.toy_provider" in pickled
    assert b"JsonFileProvider" in pickled
    assert b"def create" not in pickled and len(pickled) < 200


def test_host_starts_in_the_project_dir_and_answers_like_the_plugin(host):
    assert os.readlink(f"/proc/{host.pid}/cwd") == PROJECT_DIR
    assert host.plugin_version == "0.1.0"
    # What the engine learns from Handshake/Configure, and what drives its secret and preview handling.
    assert host.handshake_supported is False
    assert host.provider_accepts_secrets is False
    assert host.supports_preview is False


def test_check_returns_inputs_and_failure_messages(host, provider_value):
    news = {PROVIDER_KEY: provider_value, "name": "a", "size": 2}
    inputs, failures = host.check(URN, {}, news)
    assert failures == []
    assert own(inputs) == {"name": "a", "size": 2}
    assert inputs[PROVIDER_KEY] == provider_value

    _, failures = host.check(URN, {}, {**news, "name": "a b", "size": -1})
    assert failures == [("name", "name must not contain spaces: 'a b'"), ("size", "size must be a number >= 0")]


def test_check_in_preview_passes_unknowns_through(host, provider_value):
    news = {PROVIDER_KEY: provider_value, "name": UNKNOWN, "size": -1}
    inputs, failures = host.check(URN, {}, news)
    # The unknown name is not validated (and round-trips as the sentinel); the known size still is.
    assert failures == [("size", "size must be a number >= 0")]
    assert inputs["name"] == UNKNOWN


def test_full_lifecycle(host, provider_value, store_path):
    news = {PROVIDER_KEY: provider_value, "name": "a", "size": 2}
    inputs, failures = host.check(URN, {}, news)
    assert failures == []

    id_, outs = host.create(URN, inputs)
    assert id_
    assert own(outs) == {"name": "a", "size": 2, "revision": 1}
    assert read_store(store_path) == {id_: {"name": "a", "size": 2, "revision": 1}}

    # Same inputs: no diff. Size changed: update in place. Name changed: replace.
    assert host.diff(id_, URN, outs, inputs).changes == "DIFF_NONE"
    resized, _ = host.check(URN, inputs, {**inputs, "size": 5})
    diff = host.diff(id_, URN, outs, resized)
    assert (diff.changes, diff.replaces, diff.delete_before_replace) == ("DIFF_SOME", [], False)
    renamed = host.diff(id_, URN, outs, {**inputs, "name": "b"})
    assert (renamed.changes, renamed.replaces, renamed.delete_before_replace) == ("DIFF_SOME", ["name"], True)

    outs = host.update(id_, URN, outs, resized)
    assert own(outs) == {"name": "a", "size": 5, "revision": 2}

    read_id, read_outs, read_inputs = host.read(id_, URN, outs, resized)
    assert read_id == id_
    assert own(read_outs) == {"name": "a", "size": 5, "revision": 2}
    assert own(read_inputs) == {"name": "a", "size": 5}
    # The host puts __provider back on whatever the provider returns.
    assert PROVIDER_KEY in read_outs and PROVIDER_KEY in read_inputs

    host.delete(id_, URN, outs)
    assert read_store(store_path) == {}
    assert host.read(id_, URN, outs, resized) == (None, {}, {})
    host.delete(id_, URN, outs)  # already gone: still success


def test_exception_in_create_surfaces_with_its_message(host, provider_value):
    inputs = {PROVIDER_KEY: provider_value, "name": "dup", "size": 1}
    host.create(URN, inputs)
    with pytest.raises(ProviderError) as caught:
        host.create(URN, inputs)
    err = caught.value
    assert err.method == "Create"
    assert err.code == grpc.StatusCode.UNKNOWN
    assert err.message == "ValueError: an object named 'dup' already exists"
    assert err.details.startswith("Traceback")


def test_secret_inputs_come_back_as_secrets(host, provider_value, store_path):
    news = {PROVIDER_KEY: provider_value, "name": "s", "size": 1, "token": Secret("t0k")}
    inputs, _ = host.check(URN, {}, news)
    assert inputs["token"] == Secret("t0k")
    assert inputs[PROVIDER_KEY] == provider_value

    id_, outs = host.create(URN, inputs)
    assert outs["token"] == Secret("t0k")
    assert outs[PROVIDER_KEY] == provider_value  # still a secret, as it is in the engine's state
    assert outs["name"] == "s" and outs["revision"] == 1  # non-secrets stay plain
    # The provider itself got the plain value (the host declines secrets, so the engine strips them).
    assert read_store(store_path)[id_]["token"] == "t0k"

    _, read_outs, read_inputs = host.read(id_, URN, outs, inputs)
    assert read_outs["token"] == Secret("t0k") and read_inputs["token"] == Secret("t0k")
    assert host.update(id_, URN, outs, {**inputs, "size": 2})["token"] == Secret("t0k")


def test_read_of_a_missing_object_returns_no_id(host, provider_value):
    props = {PROVIDER_KEY: provider_value, "name": "ghost", "size": 1}
    assert host.read("0" * 32, URN, props, props) == (None, {}, {})


def test_create_in_preview_never_reaches_a_provider_without_preview_support(host, provider_value, store_path):
    inputs = {PROVIDER_KEY: provider_value, "name": "p", "size": UNKNOWN}
    id_, outs = host.create(URN, inputs, preview=True)
    # Like the engine: no RPC, the inputs stand in for the state.
    assert (id_, outs) == ("", inputs)
    assert not store_path.exists()


def test_provider_module_is_importable_only_from_the_project_dir(tmp_path, provider_value, store_path):
    with DynamicProviderHost(str(tmp_path)) as elsewhere:
        elsewhere.configure({STORE_PATH_KEY: str(store_path)})
        assert os.readlink(f"/proc/{elsewhere.pid}/cwd") == str(tmp_path)
        with pytest.raises(ProviderError) as caught:
            elsewhere.check(URN, {}, {PROVIDER_KEY: provider_value, "name": "a"})
    assert caught.value.message == "ModuleNotFoundError: No module named 'tests'"


def test_provider_value_captured_from_a_mocked_program_run_drives_the_host(host, store_path):
    # A mocked program run (in a child process: set_mocks replaces process-wide state other test
    # modules rely on) registers a real pulumi.dynamic.Resource; the mock captures its inputs.
    program = textwrap.dedent(
        """
        import json
        import pulumi
        from pulumi.dynamic import Resource
        from tests.support.toy_provider import JsonFileProvider

        captured = {}

        class Mocks(pulumi.runtime.Mocks):
            def new_resource(self, args):
                captured["type"], captured["inputs"] = args.typ, args.inputs
                return args.name + "-id", args.inputs

            def call(self, args):
                return {}, None

        pulumi.runtime.set_mocks(Mocks(), project="litellm-gateway", stack="dev", preview=False)

        class Thing(Resource, module="toy", name="Thing"):
            def __init__(self, name, props):
                super().__init__(JsonFileProvider(), name, props)

        @pulumi.runtime.test
        def program():
            return Thing("m", {"name": "m", "size": 3, "token": pulumi.Output.secret("t0k")}).id

        program()
        print(json.dumps(captured))
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", program], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120, check=False
    )
    assert run.returncode == 0, run.stderr[-2000:]
    captured = json.loads(run.stdout.strip().splitlines()[-1])
    assert captured["type"] == dynamic_type_token("toy", "Thing")

    # Passed on exactly as captured (secrets as Pulumi's wrapped-secret dicts).
    inputs, failures = host.check(URN, {}, captured["inputs"])
    assert failures == []
    assert inputs[PROVIDER_KEY] == pickle_provider(JsonFileProvider())
    id_, outs = host.create(URN, inputs)
    assert own(outs) == {"name": "m", "size": 3, "token": Secret("t0k"), "revision": 1}
    assert read_store(store_path)[id_]["name"] == "m"
