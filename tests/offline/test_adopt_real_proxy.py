"""Adopting a running gateway, on the REAL pinned LiteLLM proxy with its PostgreSQL database.

A proxy is populated by hand through its admin API (models, teams, keys; plus objects the catalog cannot
express). `python -m offline.adopt` reads it and writes the catalog and the adoption list into a copy of
the project; the real program (`__main__.py`, mock engine, in a child process of that copy) then
declares exactly the adopted objects, each with its id as `adopt_id`, and the offline plan shows each as
an import. A planned `up` of those resources through Pulumi's dynamic-provider host (check, create --
which for an adopted object reads and compares --, then diff; and a refresh: read, diff) makes zero
admin-API writes (every request passes a counting forwarder) and leaves every object as it was. A
catalog that differs from the proxy is refused by the create, naming the field, still writing nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from components.gateway import ADOPTED_KEY_OUTPUT
from offline import adopt
from offline.engine import PROJECT_DIR
from tests.support.dynamic_host import DynamicProviderHost, ProviderError, Secret
from tests.support.real_proxy_fixtures import real_proxy_factory  # noqa: F401

pytestmark = pytest.mark.slow

STACK = "adopted"
PROXY_CONFIG = {"model_list": [], "general_settings": {"master_key": "os.environ/LITELLM_MASTER_KEY", "store_model_in_db": True}}
PROXY_ENV = {"STORE_MODEL_IN_DB": "True", "TIMEOUT_WORKER_HEALTHCHECK": "600"}
ADMIN_TYPES = ("pulumi-python:dynamic/litellm:Model", "pulumi-python:dynamic/litellm:Team", "pulumi-python:dynamic/litellm:VirtualKey")


class Forwarder:
    """A loopback HTTP forwarder in front of the proxy that records every request (method, path, body)."""

    def __init__(self, target: str) -> None:
        self.target = target.rstrip("/")
        self.seen: list[tuple[str, str, Any]] = []
        forwarder = self

        class Handler(BaseHTTPRequestHandler):
            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                try:
                    parsed = json.loads(body) if body else None
                except ValueError:
                    parsed = body.decode("utf-8", "replace")
                forwarder.seen.append((self.command, self.path.split("?")[0], parsed))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length", "connection")}
                answer = requests.request(self.command, forwarder.target + self.path, data=body or None, headers=headers, timeout=120)
                self.send_response(answer.status_code)
                for k, v in answer.headers.items():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _forward  # noqa: N815

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def writes(self) -> list[tuple[str, str]]:
        """Every request that could change something. `POST /model/update` without litellm_params is the
        client's read-only database probe (client._model_in_database), not a write."""
        return [
            (m, p) for m, p, body in self.seen
            if m != "GET" and not (p == "/model/update" and isinstance(body, dict) and "litellm_params" not in body)
        ]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def proxy(real_proxy_factory):  # noqa: F811
    return real_proxy_factory.start(config=PROXY_CONFIG, env=PROXY_ENV, name="adopt", startup_timeout=900)


def _admin(proxy, method: str, path: str, body: Any = None, params: Any = None) -> Any:
    answer = requests.request(method, proxy.base_url + path, json=body, params=params,
                              headers={"Authorization": f"Bearer {proxy.master_key}"}, timeout=120)
    assert answer.status_code == 200, (path, answer.status_code, answer.text[:500].replace(proxy.master_key, "***"))
    return answer.json()


def _snapshot(proxy) -> str:
    """Everything the admin API shows of the objects (updated_at included: any write changes it)."""
    models = _admin(proxy, "GET", "/v2/model/info", params={"page": 1, "size": 50})["data"]
    teams = _admin(proxy, "GET", "/team/list")
    keys = _admin(proxy, "GET", "/key/list", params={"return_full_object": "true", "size": 100})["keys"]
    return json.dumps({"models": models, "teams": teams, "keys": keys}, sort_keys=True, default=str)


@pytest.fixture(scope="module")
def populated(proxy):
    """Populated by hand, as a team runs LiteLLM before litellm-gateway."""
    _admin(proxy, "POST", "/model/new", {"model_name": "llama3.2", "model_info": {"id": "ollama-llama"},
                                         "litellm_params": {"model": "ollama_chat/llama3.2", "api_base": "http://127.0.0.1:11434", "rpm": 60}})
    _admin(proxy, "POST", "/model/new", {"model_name": "gpt-4o", "model_info": {"id": "openai-gpt-4o"},
                                         "litellm_params": {"model": "openai/gpt-4o", "api_key": "os.environ/OPENAI_API_KEY", "tpm": 1000}})
    _admin(proxy, "POST", "/model/new", {"model_name": "odd", "model_info": {"id": "odd-model"},
                                         "litellm_params": {"model": "openai/gpt-4o-mini", "stream_timeout": 30}})
    # model_info and extra litellm_params (issue 20): adopted, validated as the catalog validates them
    # a model LiteLLM's cost map does not know (the proxy looks up base_model when set, and asks
    # Ollama about an Ollama model): its model_info is exactly what was stored
    _admin(proxy, "POST", "/model/new", {"model_name": "embed", "model_info": {"id": "acme-embed", "mode": "embedding",
                                                                             "base_model": "acme-embed-base"},
                                         "litellm_params": {"model": "openai/acme-embed-v1", "api_base": "http://127.0.0.1:11434/v1",
                                                            "stream_timeout": 20, "tags": ["embeddings"]}})
    # an Ollama embedding model with Ollama's options
    _admin(proxy, "POST", "/model/new", {"model_name": "nomic", "model_info": {"id": "ollama-nomic", "mode": "embedding"},
                                         "litellm_params": {"model": "ollama/nomic-embed-text", "api_base": "http://127.0.0.1:11434",
                                                            "keep_alive": "5m", "num_ctx": 2048}})
    _admin(proxy, "POST", "/model/new", {"model_name": "typo", "model_info": {"id": "typo-model"},
                                         "litellm_params": {"model": "ollama_chat/llama3.2", "api_base": "http://127.0.0.1:11434",
                                                            "keepalive": "5m"}})
    _admin(proxy, "POST", "/team/new", {"team_id": "platform", "team_alias": "Platform", "models": ["llama3.2", "gpt-4o"],
                                        "max_budget": 100, "budget_duration": "30d", "rpm_limit": 600, "metadata": {"owner": "platform-team"}})
    _admin(proxy, "POST", "/team/new", {"team_id": "research", "tpm_limit": 20000})
    keys = {
        "webapp": _admin(proxy, "POST", "/key/generate", {"key_alias": "webapp", "team_id": "platform", "models": ["llama3.2"], "max_budget": 10,
                                                         "budget_duration": "30d", "rpm_limit": 60, "duration": "90d", "metadata": {"repo": "web/app"}}),
        "batch": _admin(proxy, "POST", "/key/generate", {"key_alias": "batch", "tpm_limit": 5000}),
        "notebook": _admin(proxy, "POST", "/key/generate", {"key_alias": "notebook", "team_id": "research"}),
        None: _admin(proxy, "POST", "/key/generate", {"models": ["gpt-4o"]}),
    }
    return {alias: answer["token"] for alias, answer in keys.items()}


@pytest.fixture(scope="module")
def project(tmp_path_factory, proxy, populated):
    """A copy of the project with an `adopted` stack, after `python -m offline.adopt --stack adopted`."""
    root = tmp_path_factory.mktemp("adopt") / "project"
    shutil.copytree(PROJECT_DIR, root, ignore=shutil.ignore_patterns(
        ".venv", ".git", "build", "__pycache__", ".pytest_cache", ".litellm-local", "tests", "bench", "docs"))
    stack = yaml.safe_load((PROJECT_DIR / "Pulumi.local.yaml").read_text())
    config = stack["config"]
    config["litellm-gateway:environment"] = STACK
    config["litellm-gateway:litellm"]["model_source"] = "api"
    for key in ("litellm-gateway:models", "litellm-gateway:keys"):
        config.pop(key, None)
    config["litellm-gateway:routing"].pop("fallbacks", None)
    config["litellm-gateway:catalogFiles"] = [f"config/catalogs/{STACK}.yaml"]
    (root / f"Pulumi.{STACK}.yaml").write_text(yaml.safe_dump(stack, sort_keys=False))
    return root


def _adopt(project: Path, proxy, capsys) -> str:
    env = {adopt.ADMIN_URL_ENV: proxy.base_url, adopt.MASTER_KEY_ENV: proxy.master_key}
    assert adopt.main(["--stack", STACK, "--force"], environ=env, project_dir=project) == 0
    out = capsys.readouterr().out
    assert proxy.master_key not in out
    return out


_PROGRAM = """
import json, os, sys
sys.path.insert(0, os.getcwd())
from components.gateway import ADOPTED_KEY_OUTPUT
from offline.engine import run_stack
from offline.plan import plan
run = run_stack("adopted", secrets={"masterKey": os.environ["ADOPT_TEST_MASTER_KEY"]})
admin = [r for r in run.resources if r.type.startswith("pulumi-python:dynamic/litellm:")]
print("RESULT=" + json.dumps({
    "resources": [{"urn": r.urn, "type": r.type, "name": r.name, "inputs": r.inputs, "secret_inputs": r.secret_inputs} for r in admin],
    "ops": {s.name: s.op for s in plan(None, run).steps if s.type.startswith("pulumi-python:dynamic/litellm:")},
    "adopted_key_outputs": sorted(service for service, value in run.outputs["keys"].items() if value == ADOPTED_KEY_OUTPUT),
}))
"""


def _run_program(project: Path, proxy) -> dict:
    env = {**os.environ, "ADOPT_TEST_MASTER_KEY": proxy.master_key, "PYTHONPATH": str(project)}
    run = subprocess.run([sys.executable, "-c", _PROGRAM], cwd=project, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr[-3000:].replace(proxy.master_key, "***")
    return json.loads([line for line in run.stdout.splitlines() if line.startswith("RESULT=")][-1][len("RESULT="):])


def _engine_inputs(resource: dict) -> dict:
    return {k: Secret(v) if k in resource["secret_inputs"] else v for k, v in resource["inputs"].items()}


def test_adopt_then_a_planned_up_makes_zero_admin_writes(project, proxy, populated, capsys):
    out = _adopt(project, proxy, capsys)
    assert "adopted 5 model(s), 2 team(s), 3 key(s)" in out, out
    assert "refused: model 'typo-model': not expressible in the catalog: litellm_params: unknown key 'keepalive' (did you mean keep_alive" in out
    catalog = yaml.safe_load((project / "config" / "catalogs" / f"{STACK}.yaml").read_text())
    models = {m["id"]: m for m in catalog["models"]}
    rows = {r["model_info"]["id"]: r for r in _admin(proxy, "GET", "/v2/model/info", params={"page": 1, "size": 50})["data"]}
    assert models["acme-embed"] == {"id": "acme-embed", "model_name": "embed", "provider": "openai", "model": "acme-embed-v1",
                                    "api_base": "http://127.0.0.1:11434/v1", "litellm_params": {"stream_timeout": 20, "tags": ["embeddings"]},
                                    "model_info": {"base_model": "acme-embed-base", "mode": "embedding"}}, json.dumps(rows["acme-embed"], default=str)
    assert models["ollama-nomic"] == {"id": "ollama-nomic", "model_name": "nomic", "provider": "ollama", "model": "nomic-embed-text",
                                      "api_base": "http://127.0.0.1:11434", "litellm_params": {"keep_alive": "5m", "num_ctx": 2048},
                                      "model_info": {"mode": "embedding"}}
    assert models["odd-model"]["litellm_params"] == {"stream_timeout": 30} and "model_info" not in models["odd-model"]
    assert "model 'odd-model': LiteLLM's cost map knows this model" in out
    assert f"refused: key {populated[None][:12]}...: no alias" in out
    listed = yaml.safe_load((project / "config" / "imports" / f"{STACK}.yaml").read_text())["resources"]
    assert listed == {
        "litellm-adopted-model-ollama-llama": "ollama-llama",
        "litellm-adopted-model-openai-gpt-4o": "openai-gpt-4o",
        "litellm-adopted-model-odd-model": "odd-model",
        "litellm-adopted-model-acme-embed": "acme-embed",
        "litellm-adopted-model-ollama-nomic": "ollama-nomic",
        "litellm-adopted-team-platform": "platform",
        "litellm-adopted-team-research": "research",
        "litellm-adopted-key-batch": populated["batch"],
        "litellm-adopted-key-notebook": populated["notebook"],
        "litellm-adopted-key-webapp": populated["webapp"],
    }

    # The program declares exactly the adopted objects, each with its id; the plan imports each one.
    declared = _run_program(project, proxy)
    by_name = {r["name"]: r for r in declared["resources"]}
    assert set(by_name) == set(listed)
    assert {name: r["inputs"]["adopt_id"] for name, r in by_name.items()} == listed
    assert declared["ops"] == {name: "import" for name in listed}
    assert declared["adopted_key_outputs"] == ["batch", "notebook", "webapp"]

    # A planned `up` through the dynamic-provider host, every admin call through the forwarder.
    before = _snapshot(proxy)
    forwarder = Forwarder(proxy.base_url)
    host = DynamicProviderHost(str(project), {"LITELLM_GATEWAY_TIMEOUT_SECONDS": "60"}).start()
    try:
        host.configure({"litellm-gateway:adminUrl": forwarder.url, "litellm-gateway:masterKey": Secret(proxy.master_key)})
        order = sorted(by_name.values(), key=lambda r: ADMIN_TYPES.index(r["type"]))
        for resource in order:
            checked, failures = host.check(resource["urn"], {}, _engine_inputs(resource))
            assert failures == [], (resource["name"], failures)
            id_, outs = host.create(resource["urn"], checked)
            assert id_ == listed[resource["name"]]
            assert "key" not in outs  # an adopted key's value is its consumer's
            assert host.diff(id_, resource["urn"], outs, checked).changes == "DIFF_NONE", resource["name"]
            read_id, read_outs, read_inputs = host.read(id_, resource["urn"], outs, checked)
            assert read_id == id_
            assert host.diff(id_, resource["urn"], read_outs, checked).changes == "DIFF_NONE", resource["name"]
        assert len([s for s in forwarder.seen if s[0] == "GET"]) >= 2 * len(order)  # it did read every object
        assert forwarder.writes() == []
    finally:
        host.stop()
        forwarder.close()
    assert _snapshot(proxy) == before


def test_a_catalog_that_differs_from_the_proxy_is_refused_without_a_write(project, proxy, populated, capsys):
    _adopt(project, proxy, capsys)
    catalog_path = project / "config" / "catalogs" / f"{STACK}.yaml"
    catalog = yaml.safe_load(catalog_path.read_text())
    platform = next(t for t in catalog["teams"] if t["team_id"] == "platform")
    platform["max_budget"] = 150
    catalog_path.write_text(yaml.safe_dump(catalog, sort_keys=False))
    team = next(r for r in _run_program(project, proxy)["resources"] if r["name"] == "litellm-adopted-team-platform")

    before = _snapshot(proxy)
    forwarder = Forwarder(proxy.base_url)
    host = DynamicProviderHost(str(project), {"LITELLM_GATEWAY_TIMEOUT_SECONDS": "60"}).start()
    try:
        host.configure({"litellm-gateway:adminUrl": forwarder.url, "litellm-gateway:masterKey": Secret(proxy.master_key)})
        checked, failures = host.check(team["urn"], {}, _engine_inputs(team))
        assert failures == []
        with pytest.raises(ProviderError) as refused:
            host.create(team["urn"], checked)
        assert "cannot adopt team 'platform'" in refused.value.details and "max_budget" in refused.value.details
        assert proxy.master_key not in refused.value.details
        assert forwarder.writes() == []
    finally:
        host.stop()
        forwarder.close()
    assert _snapshot(proxy) == before
