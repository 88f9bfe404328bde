"""The gateway a stack renders boots the real LiteLLM proxy (pinned), with a real Redis, and routes,
balances, falls back and caches as the stack declares.

Two proxies serve the module, both built by ``tests.support.stack_gateway.build_stack_gateway`` from
the committed stack files (its docstring lists every transformation from stack to test run) and
started in parallel once:

- ``local``: Pulumi.local.yaml as declared - TLS on (self-signed CA; the certificate is built from
  what the stack's TlsCertificate declares), response cache on (namespace ``litellm.local.cache``),
  1 worker - with each deployment on its own FakeOllama and, for deterministic cooldowns, the
  routing override ``allowed_fails: 0, cooldown_time: 2, timeout: 4`` (strategy, ``num_retries: 1``
  and the fallback ``llama3.2 -> qwen2.5`` as declared). With litellm's default ``allowed_fails``
  (3, which the stacks declare) the router uses a failure-*rate* rule instead that needs >= 5
  requests a minute before cooling anything down; any other value cools a deployment down at its
  first 5xx.
- ``dev``: Pulumi.dev.yaml + config/catalogs/dev.yaml - 4 workers, prometheus callback, Slack
  alerting (to a loopback sink), proxy budget, routing exactly as declared (num_retries 2,
  allowed_fails 3, cooldown 30 s, fallbacks llama3.2 -> [gpt-4o, claude-sonnet-4], ...) - with
  ``model_source: config`` (api needs the database), TLS off (its certificate names cannot be
  verified on loopback), ``cache: {enabled: false}`` (the "cache off" case), and a second replica
  of llama3.2 (the catalog's way to declare replicas) for the balancing test. Ollama deployments go
  to FakeOllama, gpt-4o to FakeOpenAI, claude-sonnet-4 to FakeAnthropic (LiteLLM's real anthropic
  provider, Messages API).

Tests that make upstreams fail run last on ``dev`` (their failures stay below the failure-rate
rule's 5-a-minute threshold, so nothing is cooled down there); on ``local`` the autouse fixture
waits out the 2 s cooldown after a test that made a fake fail.

Observed with litellm 1.108.7 and used below: ``x-litellm-attempted-retries`` is the retry count of
the call that answered, so a request answered by a fallback shows 0 there and 1 in
``x-litellm-attempted-fallbacks``; the upstream counters show the retries of the failed group.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
import time
import uuid

import httpx
import openai
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from config.loader import ConfigError
from tests.support import proxy_harness
from tests.support import tls_material as tm  # make_test_ca: a CA the proxy's certificate is not from
from tests.support.e2e_fixtures import FakeFleet, wait_for_redis_key
from tests.support.fake_upstreams import FakeUpstream
from tests.support.proxy_harness import RunningProxy
from tests.support.stack_gateway import StackGateway, build_stack_gateway

LOCAL_ROUTING = {"allowed_fails": 0, "cooldown_time": 2, "timeout": 4}
LOCAL_COOLDOWN = LOCAL_ROUTING["cooldown_time"]


class Gateways:
    def __init__(self, local: StackGateway, dev: StackGateway, fleet: FakeFleet) -> None:
        self.local, self.dev, self.fleet = local, dev, fleet
        self.local_proxy = local.proxy("local")
        self.dev_proxy = dev.proxy("dev", startup_timeout=180)

    def pair(self, stack: str) -> tuple[StackGateway, RunningProxy]:
        return (self.local, self.local_proxy) if stack == "local" else (self.dev, self.dev_proxy)


@pytest.fixture(scope="module")
def gateways(fake_factory, redis_endpoint, redis_client):
    local = build_stack_gateway("local", redis=redis_endpoint, make_fake=fake_factory, routing=LOCAL_ROUTING)
    dev = build_stack_gateway(
        "dev", redis=redis_endpoint, make_fake=fake_factory, tls=False, replicas={"llama3.2": 2}, cache={"enabled": False}
    )
    g = Gateways(local, dev, fake_factory.fleet)
    try:
        g.local_proxy.start(wait=False)
        g.dev_proxy.start(wait=False)
        g.local_proxy.wait_ready()
        g.dev_proxy.wait_ready()
        yield g
    finally:
        g.local_proxy.stop()
        g.dev_proxy.stop()
        local.close()
        dev.close()
        # the local stack caches under its real namespace: remove the entries of our fakes' replies
        for key in redis_client.scan_iter(match="litellm.local.cache:*", count=500):
            if b"[fake:local:" in (redis_client.get(key) or b""):
                redis_client.delete(key)


@pytest.fixture(autouse=True)
def isolated_fakes(request):
    """Every test starts with healthy, zeroed fakes and no local cooldown left from the last one."""
    if "gateways" not in request.fixturenames:
        yield
        return
    g: Gateways = request.getfixturevalue("gateways")
    with g.fleet.isolated(LOCAL_COOLDOWN):
        yield


def ask(proxy: RunningProxy, model: str, prompt: str):
    raw = proxy.openai_client().chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": prompt}]
    )
    return raw.parse().choices[0].message.content, raw.headers


def ask_stream(proxy: RunningProxy, model: str, prompt: str) -> tuple[str, int]:
    stream = proxy.openai_client().chat.completions.create(
        model=model, messages=[{"role": "user", "content": prompt}], stream=True
    )
    pieces = [chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices]
    return "".join(pieces), len([p for p in pieces if p])


def handshake(port: int, server_name: str, ca_file) -> Exception | None:
    """A TLS handshake with 127.0.0.1:port verifying ``server_name`` against ``ca_file`` only:
    None when the certificate verifies, else the error."""
    context = ssl.create_default_context(cafile=str(ca_file))
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with context.wrap_socket(raw, server_hostname=server_name):
                return None
    except (ssl.SSLError, OSError) as exc:
        return exc


def answered_by(text: str, *fakes: FakeUpstream) -> FakeUpstream:
    owners = [f for f in fakes if text.startswith(f"[fake:{f.identity}] ")]
    assert len(owners) == 1, f"reply {text[:80]!r} is from none of {[f.identity for f in fakes]}"
    return owners[0]


def upstream_calls(fake: FakeUpstream) -> int:
    """Completion requests a fake received (not the /v1/models or /api/show probes the proxy makes)."""
    return sum(n for path, n in fake.counts.items() if path in ("/api/chat", "/api/generate", "/v1/chat/completions", "/v1/messages"))


STACKS = ["local", "dev"]


# -- what the stack renders is what boots ---------------------------------------------------------


def test_the_rendered_files_are_booted_with_only_the_documented_changes(gateways):
    local, dev = gateways.local, gateways.dev
    assert local.steps == [
        "validate-first", "fake-upstreams", "test-redis",
        "routing:allowed_fails=0,cooldown_time=2,timeout=4", "test-secrets", "render", "program-cross-check",
        "without-database",
    ]  # fmt: skip
    assert dev.steps == [
        "validate-first", "replicas:llama3.2x2", "fake-upstreams", "models-in-config", "test-redis", "plain-http",
        "cache:enabled=False", "test-secrets", "render", "program-cross-check", "without-database",
    ]  # fmt: skip
    # the unit's own flags reach the process: workers from the stack, TLS flags for local
    assert gateways.local_proxy.args[gateways.local_proxy.args.index("--num_workers") + 1] == "1"
    assert gateways.dev_proxy.args[gateways.dev_proxy.args.index("--num_workers") + 1] == "4"
    assert "--ssl_certfile_path" in gateways.local_proxy.args and "--ssl_keyfile_path" in gateways.local_proxy.args
    # what the proxy got is the rendered document minus the database settings, nothing else
    booted = yaml.safe_load(gateways.dev_proxy.config_path.read_text())
    assert booted == dev.config
    assert dev.dropped_database_settings == [
        "general_settings.database_url", "general_settings.store_model_in_db", "env DATABASE_URL", "env STORE_MODEL_IN_DB",
    ]  # fmt: skip
    assert booted["router_settings"]["num_retries"] == 2 and booted["router_settings"]["cooldown_time"] == 30.0
    assert booted["litellm_settings"]["callbacks"] == ["prometheus"] and booted["litellm_settings"]["json_logs"] is True
    assert gateways.local_proxy.config["litellm_settings"]["cache_params"]["namespace"] == "litellm.local.cache"


@pytest.mark.parametrize("stack", STACKS)
def test_models_auth_and_readiness(gateways, stack):
    gw, proxy = gateways.pair(stack)
    ids = [m.id for m in proxy.openai_client().models.list()]
    assert sorted(ids) == sorted(gw.public_names) and len(ids) == len(set(ids))
    expected = {"local": ["llama3.2", "qwen2.5"], "dev": ["llama3.2", "qwen2.5-coder", "nomic-embed-text", "gpt-4o", "claude-sonnet-4"]}
    assert sorted(ids) == sorted(expected[stack])
    with proxy.http_client() as http:
        assert http.get("/v1/models").status_code == 401
        assert http.get("/v1/models", headers=proxy.headers("sk-not-the-master-key")).status_code in (400, 401)
        assert http.get("/v1/models", headers=proxy.headers()).status_code == 200
        readiness = http.get("/health/readiness")
    assert readiness.status_code == 200
    body = readiness.json()
    assert body["status"] == "healthy", body


@pytest.mark.parametrize("stack", STACKS)
def test_each_public_name_reaches_its_catalog_upstream(gateways, stack):
    gw, proxy = gateways.pair(stack)
    for name in gw.public_names:
        own = gw.fakes_of(name)
        others = [f for i, f in gw.fakes.items() if f not in own]
        prompt = f"{name} json {uuid.uuid4().hex}"
        text, headers = ask(proxy, name, prompt)
        fake = answered_by(text, *gw.fakes.values())
        assert fake in own, f"{name} answered by {fake.identity}"
        assert prompt in text
        assert headers["x-litellm-model-id"] in gw.deployments_of(name)
        assert gw.fakes[headers["x-litellm-model-id"]] is fake
        streamed, pieces = ask_stream(proxy, name, f"{name} stream {uuid.uuid4().hex}")
        assert answered_by(streamed, *gw.fakes.values()) in own and pieces > 1, "not streamed"
        assert sum(upstream_calls(f) for f in own) == 2
        assert sum(upstream_calls(f) for f in others) == 0
        for f in own:
            f.reset()


def test_provider_keys_come_from_the_env_file(gateways):
    dev, proxy = gateways.dev, gateways.dev_proxy
    ask(proxy, "gpt-4o", "key check")
    ask(proxy, "claude-sonnet-4", "key check")
    openai_auth = dev.fake("openai-gpt-4o").last_request.headers.get("authorization")
    anthropic_key = dev.fake("anthropic-claude-sonnet-4").last_request.headers.get("x-api-key")
    ok = openai_auth == f"Bearer {dev.env['OPENAI_API_KEY']}" and anthropic_key == dev.env["ANTHROPIC_API_KEY"]
    assert ok, "an upstream did not get its key from the rendered env file"  # values never printed


# -- balancing -------------------------------------------------------------------------------------


def test_two_replicas_both_serve_a_share(gateways):
    # simple-shuffle without weights picks each of the 2 replicas with p = 1/2 per request (each of
    # the 4 workers independently), so a replica's share of N = 40 distinct requests is
    # Binomial(40, 0.5). Tolerance: each must serve >= 20% (8 of 40); P(X <= 7) = 1.1e-5 per replica,
    # ~2e-5 for the test: a failure means the router does not balance, not bad luck.
    dev, proxy = gateways.dev, gateways.dev_proxy
    a, b = dev.fakes_of("llama3.2")
    n = 40
    for i in range(n):
        text, headers = ask(proxy, "llama3.2", f"share {i} {uuid.uuid4().hex}")
        fake = answered_by(text, a, b)
        assert dev.fakes[headers["x-litellm-model-id"]] is fake
    ca, cb = upstream_calls(a), upstream_calls(b)
    assert ca + cb == n
    assert ca >= n * 0.2 and cb >= n * 0.2, f"unbalanced: {ca} / {cb}"


# -- cache -------------------------------------------------------------------------------------------


def test_cache_on_answers_repeats_from_redis_under_the_stack_namespace(gateways, redis_client):
    local, proxy = gateways.local, gateways.local_proxy
    namespace = local.settings.cache.namespace or f"litellm.{local.settings.environment}.cache"
    assert namespace == "litellm.local.cache"
    fake = local.fake("local-llama3.2")
    prompt = f"cache me {uuid.uuid4().hex}"
    first, _ = ask(proxy, "llama3.2", prompt)
    assert upstream_calls(fake) == 1
    second, headers = ask(proxy, "llama3.2", prompt)
    key = headers["x-litellm-cache-key"]  # the Redis key: "<namespace>:<sha256 of the request>"
    try:
        assert key.startswith(f"{namespace}:") and len(key) == len(namespace) + 1 + 64, key
        assert second == first
        assert upstream_calls(fake) == 1, "the repeated request reached the upstream"
        assert wait_for_redis_key(redis_client, key) == [key.encode()], f"no entry {key} in Redis"
        assert first in json.loads(redis_client.get(key))["response"]
        ttl = redis_client.ttl(key)
        assert 0 < ttl <= local.settings.cache.ttl_seconds == 300
    finally:
        redis_client.delete(key)


def test_cache_off_in_the_stack_reaches_the_upstream_every_time(gateways, redis_client):
    dev, proxy = gateways.dev, gateways.dev_proxy
    assert "cache" not in dev.config["litellm_settings"]
    fake = dev.fake("openai-gpt-4o")
    before = set(redis_client.scan_iter(match="litellm.dev.cache*", count=500))
    prompt = f"no cache {uuid.uuid4().hex}"
    first, h1 = ask(proxy, "gpt-4o", prompt)
    second, h2 = ask(proxy, "gpt-4o", prompt)
    assert first == second == fake.reply_text(prompt)
    assert upstream_calls(fake) == 2, "the repeat was answered without the upstream"
    assert h1.get("x-litellm-cache-key") is None and h2.get("x-litellm-cache-key") is None
    # nothing cached: the only keys the two requests may add are the router's per-minute usage
    # counters, shared through the same namespace by the 4 workers (`global_router:<deployment>:
    # rpm|tpm:<HH-MM>`: a request in a new minute makes new ones)
    new = set(redis_client.scan_iter(match="litellm.dev.cache*", count=500)) - before
    assert all(re.fullmatch(rb"litellm\.dev\.cache:global_router:openai-gpt-4o:openai/gpt-4o:[rt]pm:\d\d-\d\d", k) for k in new), new


# -- TLS ---------------------------------------------------------------------------------------------


def test_tls_is_served_with_the_declared_certificate_and_verifies_against_the_ca(gateways):
    local, proxy = gateways.local, gateways.local_proxy
    assert proxy.base_url.startswith("https://")
    # the leaf the proxy serves is the one built from the TlsCertificate's declared inputs
    pem = ssl.get_server_certificate(("127.0.0.1", proxy.port))
    served = x509.load_pem_x509_certificate(pem.encode())
    sans = served.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sorted(sans.get_values_for_type(x509.DNSName)) == ["localhost", "localhost.localhost"]
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert served.public_bytes(serialization.Encoding.PEM) == local.tls.cert_file.read_bytes()

    # a client trusting only the CA bundle: success, over the API and for each declared name
    with proxy.http_client() as http:
        assert http.get("/health/readiness").status_code == 200
    prompt = f"over https {uuid.uuid4().hex}"
    text, _ = ask(proxy, "qwen2.5", prompt)
    assert text == local.fake("local-qwen2.5").reply_text(prompt)
    for name in ("localhost", "localhost.localhost", "127.0.0.1"):
        assert handshake(proxy.port, name, local.tls.ca_file) is None, name
    assert isinstance(handshake(proxy.port, "hx-litellm-server.hx.dev.local", local.tls.ca_file), ssl.SSLCertVerificationError)

    # a client without the CA (system trust store only): certificate verification fails
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{proxy.base_url}/health/readiness", timeout=10, trust_env=False)
    with pytest.raises(openai.APIConnectionError):
        openai.OpenAI(base_url=f"{proxy.base_url}/v1", api_key=proxy.master_key, max_retries=0, timeout=10).models.list()
    # a client trusting another CA fails too; plain HTTP is not served
    other_ca, _ = tm.make_test_ca("Some other CA")
    other = ssl.create_default_context(cadata=other_ca)
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{proxy.base_url}/health/readiness", timeout=10, trust_env=False, verify=other)
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{proxy.port}/health/readiness", timeout=10, trust_env=False)


# -- failure handling: local (1 worker, allowed_fails 0, cooldown 2 s) --------------------------------


def test_primary_failing_falls_back_then_cooldown_skips_it_until_it_expires(gateways):
    local, proxy = gateways.local, gateways.local_proxy
    primary, fallback = local.fake("local-llama3.2"), local.fake("local-qwen2.5")
    assert local.settings.routing.fallbacks == {"llama3.2": ["qwen2.5"]}
    # unique prompts: local's response cache is on and must not answer any of these
    down, during, after = (f"{what} {uuid.uuid4().hex}" for what in ("primary down", "during cooldown", "after cooldown"))
    primary.fail_with(500)
    text, headers = ask(proxy, "llama3.2", down)
    assert text == fallback.reply_text(down), "the declared fallback did not answer"
    assert headers["x-litellm-model-id"] == "local-qwen2.5"
    assert headers["x-litellm-attempted-fallbacks"] == "1"
    # cooled down at its first failure: no retry on it (no healthy deployment left in the group)
    assert primary.failures_served == 1 and upstream_calls(primary) == 1
    failed_at = primary.last_failure_at

    primary.recover()  # healthy again, but still in cooldown: skipped
    text, headers = ask(proxy, "llama3.2", during)
    in_cooldown = time.monotonic() - failed_at < LOCAL_COOLDOWN
    assert upstream_calls(primary) == 1, "the cooled-down deployment was used"
    assert headers["x-litellm-model-id"] == "local-qwen2.5"
    assert in_cooldown, "the check ran after the cooldown had expired: the test proves nothing"

    time.sleep(max(0.0, failed_at + LOCAL_COOLDOWN + 1.0 - time.monotonic()))
    text, headers = ask(proxy, "llama3.2", after)
    assert text == primary.reply_text(after), "the deployment was not used again after cooldown_time"
    assert headers["x-litellm-attempted-fallbacks"] == "0"
    assert upstream_calls(primary) == 2 and upstream_calls(fallback) == 2


# -- failure handling: dev (4 workers, routing as declared) ----------------------------------------


def test_retries_follow_the_declared_num_retries(gateways):
    dev, proxy = gateways.dev, gateways.dev_proxy
    retries = dev.settings.routing.num_retries
    assert retries == 2
    coder, gpt = dev.fake("ollama-qwen2.5-coder"), dev.fake("openai-gpt-4o")
    # fails `retries` times, then answers: the last retry succeeds on the same deployment
    coder.fail_with(500, times=retries)
    text, headers = ask(proxy, "qwen2.5-coder", "flaky")
    assert text == coder.reply_text("flaky")
    assert headers["x-litellm-attempted-retries"] == str(retries)
    assert coder.failures_served == retries and upstream_calls(coder) == retries + 1
    assert upstream_calls(gpt) == 0
    # fails one more time than retries allow: 1 + num_retries attempts, then the declared fallback
    coder.reset()
    coder.fail_with(500, times=retries + 1)
    text, headers = ask(proxy, "qwen2.5-coder", "down")
    assert text == gpt.reply_text("down")
    assert headers["x-litellm-attempted-fallbacks"] == "1"
    assert coder.failures_served == retries + 1 == upstream_calls(coder)


def test_replica_group_failing_falls_back_in_declared_order(gateways):
    dev, proxy = gateways.dev, gateways.dev_proxy
    assert dev.settings.routing.fallbacks["llama3.2"] == ["gpt-4o", "claude-sonnet-4"]
    a, b = dev.fakes_of("llama3.2")
    gpt, claude = dev.fake("openai-gpt-4o"), dev.fake("anthropic-claude-sonnet-4")
    a.fail_with(500)
    b.fail_with(500)
    text, headers = ask(proxy, "llama3.2", "group down")
    assert text == gpt.reply_text("group down"), "the first declared fallback did not answer"
    assert headers["x-litellm-attempted-fallbacks"] == "1"
    # retries spread over the replicas: 1 + num_retries attempts in the group, then the fallback
    assert a.failures_served + b.failures_served == 1 + dev.settings.routing.num_retries
    assert upstream_calls(claude) == 0
    # the first fallback failing too: the second declared one answers
    gpt.fail_with(500)
    text, _ = ask(proxy, "llama3.2", "two down")
    assert text == claude.reply_text("two down")
    streamed, _ = ask_stream(proxy, "llama3.2", "two down, streamed")
    assert streamed == claude.reply_text("two down, streamed")


# -- validation before anything starts ---------------------------------------------------------------


def test_a_broken_stack_config_is_refused_before_any_proxy_starts(fake_factory, redis_endpoint, monkeypatch):
    started: list = []
    monkeypatch.setattr(proxy_harness.subprocess, "Popen", lambda *a, **k: started.append(a) or pytest.fail("a proxy was started"))
    made: list = []
    before = len(fake_factory.fleet)

    def make(*args, **kwargs):
        made.append(args)
        return fake_factory(*args, **kwargs)

    with pytest.raises(ConfigError) as refused:
        gw = build_stack_gateway(
            "local", redis=redis_endpoint, make_fake=make, routing={"fallbacks": [{"model": "llama3.2", "fallback": "qwen2.5"}]}
        )
        gw.proxy("broken").start()
    message = str(refused.value)
    assert "litellm-gateway:routing.fallbacks" in message
    assert "the list form (e.g. [{model: a, fallback: b}]) is not accepted" in message
    assert started == [] and made == [] and len(fake_factory.fleet) == before


# -- the host can run what the stack renders -------------------------------------------------------


CALLBACK_PACKAGES = {"prometheus": "prometheus_client", "langfuse": "langfuse", "otel": "opentelemetry", "datadog": "ddtrace"}


def test_the_host_installs_what_the_rendered_callbacks_import():
    # litellm[proxy]==1.108.7 does not pull prometheus_client (it is in the `proxy-runtime` extra):
    # without it the proxy exits at startup ("No module named 'prometheus_client'") with the dev
    # stack's `callbacks: [prometheus]`. The test venv has it (pinned); the host must install it too.
    from rendering.host_scripts import requirements_text
    from offline.stack_inputs import load_stack_inputs

    stack = "dev"
    settings = load_stack_inputs(stack).settings()
    assert settings.observability.callbacks, "the dev stack declares no callback: this test checks nothing"
    text = requirements_text(settings).lower().replace("-", "_")
    missing = [
        CALLBACK_PACKAGES[c] for c in settings.observability.callbacks if CALLBACK_PACKAGES.get(c) and CALLBACK_PACKAGES[c] not in text
    ]
    assert missing == [], f"stack {stack}: callbacks need {missing}, not in the host's requirements:\n{text}"


# -- the harness's TLS handling (no proxy) -------------------------------------------------------------


def test_harness_replaces_only_the_units_tls_paths_and_refuses_mismatches(tmp_path):
    from tests.support.proxy_harness import ProxyTls, rewrite_cli_args

    unit = ["--config", "/etc/litellm/config.yaml", "--port", "4000", "--num_workers", "4",
            "--ssl_keyfile_path", "/etc/litellm/tls/server.key", "--ssl_certfile_path=/etc/litellm/tls/server.crt"]  # fmt: skip
    out = rewrite_cli_args(unit, config_path="/w/config.yaml", port=5, tls_paths=("/w/k", "/w/c"))
    assert out == ["--config", "/w/config.yaml", "--port", "5", "--num_workers", "4",
                   "--ssl_keyfile_path", "/w/k", "--ssl_certfile_path=/w/c", "--host", "127.0.0.1"]  # fmt: skip
    with pytest.raises(ValueError, match="no test TLS material"):
        rewrite_cli_args(unit, config_path="c", port=5)
    with pytest.raises(ValueError, match="do not enable TLS"):
        rewrite_cli_args(unit[:6], config_path="c", port=5, tls_paths=("k", "c"))
    with pytest.raises(ValueError, match="do not enable TLS"):
        rewrite_cli_args(unit[:8], config_path="c", port=5, tls_paths=("k", "c"))  # the key flag alone

    ca_pem, ca_key = tm.make_test_ca()
    (tmp_path / "ca.pem").write_text(ca_pem)
    (tmp_path / "cert.pem").write_text(ca_pem)
    (tmp_path / "key.pem").write_text(ca_key)
    env = {"LITELLM_MASTER_KEY": "sk-unit-test-key"}
    good = ProxyTls(tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem")
    with pytest.raises(ValueError, match="do not enable TLS"):  # refused at construction, not at start
        RunningProxy({"model_list": []}, env, unit[:6], tls=good)
    with pytest.raises(ValueError, match="no test TLS material"):
        RunningProxy({"model_list": []}, env, unit)
    with pytest.raises(ValueError, match="private key"):
        RunningProxy({"model_list": []}, env, unit, tls=ProxyTls(tmp_path / "key.pem", tmp_path / "key.pem", tmp_path / "ca.pem"))
    proxy = RunningProxy({"model_list": []}, env, unit, tls=good)
    assert proxy.base_url.startswith("https://127.0.0.1:") and not proxy.running
