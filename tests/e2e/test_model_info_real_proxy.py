"""Models as LiteLLM knows them, on the real proxy with its database (issue 20).

One real proxy for the module, started from the `local` stack's rendered config.yaml with its
models replaced (stack config override, validated by the loader) by:
- `embed`: an openai_compatible deployment on a fake embedding server (answers /v1/embeddings,
  404 on chat completions) declared with `model_info: {mode: embedding, ...}`;
- `embed-undeclared`: a second such server, without `mode` (LiteLLM then probes it as chat).
A third deployment, `embed-api`, is created through the admin API with the body the Model provider
sends (`specs.model_create_body` over `deployment_entry` / `admin_model_info`, as components/gateway.py
does for `model_source: api`).

The stack leaves the Admin UI off (`adminUi` unset): the proxy gets the rendered `DISABLE_ADMIN_UI=True`
and `general_settings.disable_env_credential_login: true`. LiteLLM still serves the static `/ui` files,
so "off" is its documented refusal: the login page shows "Admin UI Disabled" (seen in headless
Chromium), `/.well-known/litellm-ui-config` says `admin_ui_disabled`, and `POST /login` with the
master key is refused.

Shown: `/v1/embeddings` answers through the proxy with the fake's vectors; `/health` calls each
deployment the way its `mode` says: both declared embedding deployments are healthy (the fake saw
/embeddings calls), the undeclared one is unhealthy (probed with a chat completion the fake refuses).
"""

from __future__ import annotations

import secrets

import pytest

from components.litellm_admin.specs import model_create_body
from offline.stack_inputs import load_stack_inputs
from config.host_env import UI_PLAIN_ENV_NAMES
from rendering.host_files import plain_env
from rendering.litellm_yaml import admin_model_info, deployment_entry, render_litellm_config
from tests.support.chromium_cdp import Chromium
from tests.support.fake_upstreams import FakeOpenAI
from tests.support.real_proxy_fixtures import real_proxy_factory  # noqa: F401

pytestmark = pytest.mark.slow

KEY_REF = "os.environ/EMBED_API_KEY"
EMBED_INFO = {"mode": "embedding", "base_model": "text-embedding-3-small", "input_cost_per_token": 0.00000002}


@pytest.fixture(scope="module")
def gateway(fake_factory, real_proxy_factory):
    fake = fake_factory(FakeOpenAI, "embedder", models=("fake-embed",), embeddings_only=True)
    # its own server: the proxy's /health probes identical endpoints once
    # and its own upstream model name: LiteLLM registers a deployment's model_info (mode, costs) for
    # its upstream model name in the cost map, where /health looks up deployments without a mode.
    other = fake_factory(FakeOpenAI, "embedder-undeclared", models=("fake-embed-other",), embeddings_only=True)
    models = [
        {"id": "embed-1", "model_name": "embed", "provider": "openai_compatible", "model": "fake-embed",
         "api_base": fake.api_base, "api_key": KEY_REF, "model_info": EMBED_INFO, "litellm_params": {"tags": ["embeddings"], "order": 1}},
        {"id": "embed-undeclared-1", "model_name": "embed-undeclared", "provider": "openai_compatible",
         "model": "fake-embed-other", "api_base": other.api_base, "api_key": KEY_REF},
        {"id": "embed-api-1", "model_name": "embed-api", "provider": "openai_compatible", "model": "fake-embed",
         "api_base": fake.api_base, "api_key": KEY_REF, "model_info": {"mode": "embedding"}},
    ]
    upstream_key = f"test-embed-{secrets.token_hex(12)}"  # the openai client wants one; the fake ignores it
    settings = load_stack_inputs("local", secrets={"envSecrets.EMBED_API_KEY": upstream_key},
                                 overrides={"models": models, "routing": None, "teams": None, "keys": None}).settings()
    doc = render_litellm_config(settings)
    by_id = {m.id: m for m in settings.models}
    config = {
        "model_list": [e for e in doc["model_list"] if e["model_info"]["id"] != "embed-api-1"],
        "router_settings": {k: v for k, v in doc["router_settings"].items() if not k.startswith("redis") and k != "cache_kwargs"},
        "general_settings": {"master_key": doc["general_settings"]["master_key"],
                             **{k: v for k, v in doc["general_settings"].items() if k.startswith("disable_")}},
    }
    assert config["general_settings"]["disable_env_credential_login"] is True
    ui_env = {name: value for name, value in plain_env(settings) if name in UI_PLAIN_ENV_NAMES}
    assert ui_env == {"DISABLE_ADMIN_UI": "True"}
    proxy = real_proxy_factory.start(config=config, env={"STORE_MODEL_IN_DB": "True", "EMBED_API_KEY": upstream_key, **ui_env},
                                     name="model-info")
    api = by_id["embed-api-1"]
    entry = deployment_entry(api)
    body = model_create_body({"model_id": api.id, "model_name": entry["model_name"],
                              "litellm_params": entry["litellm_params"], "model_info": admin_model_info(api)})
    created = proxy.admin("POST", "/model/new", body)
    assert created.status_code == 200, created.text
    return proxy, fake, doc, other


def test_the_rendered_config_carries_model_info_and_params(gateway):
    _, _, doc, _ = gateway
    embed = next(e for e in doc["model_list"] if e["model_info"]["id"] == "embed-1")
    assert embed["model_info"] == {"id": "embed-1", **EMBED_INFO}
    assert embed["litellm_params"]["tags"] == ["embeddings"] and embed["litellm_params"]["order"] == 1


@pytest.mark.parametrize("model", ["embed", "embed-api"])
def test_the_embedding_deployment_answers_v1_embeddings(gateway, model):
    proxy, fake, _, _ = gateway
    before = fake.count_for("/v1/embeddings")
    with proxy.client() as http:
        response = http.post("/v1/embeddings", json={"model": model, "input": ["hello world", "second"]})
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert [d["embedding"] for d in data] == [FakeOpenAI.embedding_of("hello world"), FakeOpenAI.embedding_of("second")]
    assert fake.count_for("/v1/embeddings") == before + 1


def test_health_probes_each_deployment_the_way_its_mode_says(gateway):
    proxy, fake, _, other = gateway
    before_embed, before_chat = fake.count_for("/v1/embeddings"), other.count_for("/v1/chat/completions")
    with proxy.client(timeout=180.0) as http:
        response = http.get("/health")
    assert response.status_code == 200, response.text
    health = response.json()
    healthy = sorted(e.get("model_id") or e["model"] for e in health["healthy_endpoints"])
    unhealthy = sorted(e.get("model_id") or e["model"] for e in health["unhealthy_endpoints"])
    assert healthy == ["embed-1", "embed-api-1"], (health, fake.counts, other.counts)
    assert unhealthy == ["embed-undeclared-1"], health
    assert fake.count_for("/v1/embeddings") >= before_embed + 1  # probed as embedding (identical endpoints once)
    assert fake.count_for("/v1/chat/completions") == 0  # never probed as chat
    assert other.count_for("/v1/chat/completions") >= before_chat + 1  # the undeclared one, probed as chat
    assert other.count_for("/v1/embeddings") == 0


# ---- the Admin UI off (the stack's default) ---------------------------------------------------------


def test_the_admin_ui_is_off(gateway, tmp_path):
    proxy = gateway[0]
    with proxy.client(headers={}, follow_redirects=False) as http:
        discovery = http.get("/.well-known/litellm-ui-config")
        assert discovery.status_code == 200 and discovery.json()["admin_ui_disabled"] is True
        for user in ("admin", "gateway-admin"):
            form = http.post("/login", data={"username": user, "password": proxy.master_key})
            assert form.status_code in (400, 401, 403), (user, form.status_code)
            assert "token" not in form.cookies
            api = http.post("/v2/login", json={"username": user, "password": proxy.master_key})
            assert api.status_code in (400, 401, 403), (user, api.status_code)
    with Chromium(tmp_path) as browser:
        page = browser.new_page()
        page.navigate(f"{proxy.base_url}/ui/login")
        page.wait_for("document.body && document.body.innerText.includes('Admin UI Disabled')",
                      what="LiteLLM's 'Admin UI Disabled' page")
        assert not page.evaluate("!!document.querySelector('input[type=password]')")
        assert page.screenshot(tmp_path / "ui-off.png").stat().st_size > 5000
