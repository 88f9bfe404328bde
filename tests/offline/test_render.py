"""`make render`: the real program under the mock engine writes the review files, never a secret."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from offline.engine import PROJECT_DIR, default_outputs
from offline.stack_inputs import load_stack_inputs
from rendering.litellm_yaml import render_litellm_config_yaml


def render(stack: str, out: Path) -> subprocess.CompletedProcess:
    # A child process, as `make render` runs it (Pulumi's runtime state is process-global).
    return subprocess.run(
        [sys.executable, "-m", "offline.render", stack, "--out", str(out)],
        cwd=PROJECT_DIR, capture_output=True, text=True, timeout=300, check=False,
    )


# Every committed stack renders (CI runs no `make render` of its own: this is that check).
STACKS = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in PROJECT_DIR.glob("Pulumi.*.yaml"))


def test_the_committed_stacks_are_the_documented_ones():
    assert {"local", "dev", "dev-ha", "kube"} <= set(STACKS)


@pytest.fixture(scope="module", params=STACKS)
def rendered(request, tmp_path_factory):
    out = tmp_path_factory.mktemp(f"build-{request.param}")
    proc = render(request.param, out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return request.param, out / request.param, proc.stdout


def test_writes_resources_json_with_the_documented_shape(rendered):
    stack, out, _ = rendered
    doc = json.loads((out / "resources.json").read_text())
    assert doc["stack"] == stack
    assert doc["resources"], "no resources"
    for r in doc["resources"]:
        assert {"urn", "type", "name", "parent", "inputs", "secret_inputs"} <= set(r)
        assert r["urn"].startswith(f"urn:pulumi:{stack}::litellm-gateway::")
        for name in r["secret_inputs"]:
            assert r["inputs"][name] == "[secret]", (r["name"], name)
    types = {r["type"] for r in doc["resources"]}
    assert "litellm-gateway:index:Gateway" in types
    if load_stack_inputs(stack).settings().litellm.deploy != "kubernetes":
        assert "litellm-gateway:host:LiteLLMHost" in types


def test_config_yaml_is_the_exact_file_a_host_receives(rendered):
    stack, out, _ = rendered
    text = (out / "litellm" / "config.yaml").read_text()
    assert text == render_litellm_config_yaml(load_stack_inputs(stack).settings())
    assert yaml.safe_load(text)["general_settings"]["master_key"] == "os.environ/LITELLM_MASTER_KEY"


def test_host_review_files(rendered):
    stack, out, _ = rendered
    settings = load_stack_inputs(stack).settings()
    for host in settings.litellm.hosts:
        env = (out / "hosts" / host.name / "litellm.env").read_text()
        unit = (out / "hosts" / host.name / "litellm.service").read_text()
        assert 'LITELLM_MASTER_KEY="[secret]"' in env
        assert "ExecStart=" in unit


def test_no_secret_value_anywhere_in_the_output(rendered):
    stack, out, stdout = rendered
    inputs = load_stack_inputs(stack)
    secret_values = []
    for key in inputs.secret_keys:
        raw = inputs.config[key]
        try:
            decoded = json.loads(raw)
        except json.JSONDecodeError:
            decoded = raw
        secret_values.extend(decoded.values() if isinstance(decoded, dict) else [decoded])
    assert secret_values
    texts = [stdout] + [p.read_text() for p in out.rglob("*") if p.is_file()]
    for value in secret_values:
        for text in texts:
            assert value not in text
    # Generated secrets (the mock's random passwords) never appear either. The mock engine does
    # not apply additional_secret_outputs, so this proves the components mark them secret themselves.
    doc = json.loads((out / "resources.json").read_text())
    for r in doc["resources"]:
        if r["type"] == "random:index/randomPassword:RandomPassword":
            generated = default_outputs(r["type"], r["name"], {"length": r["inputs"].get("length", 32)})["result"]
            for text in texts:
                assert generated not in text, r["name"]


def test_prints_a_tree(rendered):
    stack, _, stdout = rendered
    assert f"stack {stack}: " in stdout
    assert "litellm-gateway:index:Gateway" in stdout
    assert "└─ " in stdout


def test_dev_lists_every_model_team_and_key_of_the_catalog(rendered):
    stack, out, _ = rendered
    if stack != "dev":
        return
    settings = load_stack_inputs("dev").settings()
    doc = json.loads((out / "resources.json").read_text())
    by_type: dict[str, list] = {}
    for r in doc["resources"]:
        by_type.setdefault(r["type"], []).append(r)
    assert sorted(r["inputs"]["model_id"] for r in by_type["pulumi-python:dynamic/litellm:Model"]) == sorted(m.id for m in settings.models)
    assert sorted(r["inputs"]["team_id"] for r in by_type["pulumi-python:dynamic/litellm:Team"]) == sorted(t.team_id for t in settings.teams)
    assert sorted(r["inputs"]["key_alias"] for r in by_type["pulumi-python:dynamic/litellm:VirtualKey"]) == sorted(k.alias for k in settings.keys)
    assert doc["outputs"]["keys"] == "[secret]"
    assert doc["outputs"]["master_key"] == "[secret]"


def test_bad_config_fails_with_the_message_and_writes_nothing(tmp_path):
    proc = render("no-such-stack", tmp_path / "out")
    assert proc.returncode == 2
    assert "no stack file Pulumi.no-such-stack.yaml" in proc.stderr
    assert not (tmp_path / "out").exists()
