"""Smoke tests of the e2e harness: the real pinned LiteLLM proxy, driven with the OpenAI SDK as a
consumer would, in front of fake Ollama/OpenAI upstreams and a real Redis.

Two proxies serve this module, started in parallel once (proxy startup is ~10-20 s):

- ``cached``: response cache on (Redis). Only healthy-path tests run against it.
- ``failover``: same model layout, no cache. The tests that make upstreams fail run here, so
  router cooldowns never leak into the healthy-path tests.

What makes routing deterministic enough (learned by experiment with litellm 1.108.7):

- ``allowed_fails: 0`` (any value other than litellm's default 3 selects the "allowed fails" cooldown
  logic): a deployment answering 5xx or timing out (408) is cooled down at its first failure, so the
  router's retry (``num_retries``, retried at once while a healthy deployment is left) goes to the
  other replica, and once both failed, to the ``fallbacks`` group. Without it the router uses a
  failure-rate rule that needs >= 5 requests a minute before cooling anything down.
- ``cooldown_time: 2``: the cooldown (and the fail counter, same TTL) expires 2 s after the failure;
  after a test that made a fake fail on purpose the autouse fixture waits that out
  (``FakeFleet.settle_cooldowns``) so the next test starts with every deployment healthy.
- Connection refused (``FakeUpstream.stop()``) is an ``APIConnectionError``: the router never cools
  down a deployment for that, and its retries pick a deployment at random again, so a request can
  land on the dead replica on every attempt and then be answered by the fallback group. With
  ``num_retries: 2`` that happens to about 1 request in 8; the test asserts accordingly.
- ``timeout`` (router_settings) bounds each upstream attempt; a hung upstream costs ``timeout`` per
  attempt. Both replicas hanging took 3 attempts (a, b, b: the timeout's cooldown is not always
  registered before the immediate retry), so ~3 x timeout, then the fallback answers.
- Response headers tell what the router did: ``x-litellm-model-id`` (the deployment's
  ``model_info.id``), ``x-litellm-attempted-retries``, ``x-litellm-attempted-fallbacks``,
  ``x-litellm-cache-key`` (on a cache hit: ``<request namespace>:<sha256>``).
"""

from __future__ import annotations

import json
import socket
import uuid

import httpx
import openai
import pytest

from tests.support.e2e_fixtures import FakeFleet, wait_for_redis_key
from tests.support.fake_upstreams import FakeOllama, FakeOpenAI, FakeUpstream
from tests.support.proxy_harness import (
    OFFLINE_ENV,
    ProxyPortError,
    ProxyStartupError,
    RunningProxy,
)

# Test-only values (they guard fakes on loopback, nothing real).
MASTER_KEY = f"sk-e2e-master-{uuid.uuid4().hex}"
OPENAI_KEY = f"sk-e2e-openai-{uuid.uuid4().hex}"
COOLDOWN_TIME = 2
UPSTREAM_TIMEOUT = 4
UNIT_ARGS = ["--config", "/etc/litellm/config.yaml", "--port", "4000", "--num_workers", "1"]
PUBLIC_NAMES = ["gpt-4o", "llama3.2"]


def host_env() -> dict[str, str]:
    """What the host's env file would hold (DATABASE_URL included: the harness must drop it)."""
    return {
        "LITELLM_MASTER_KEY": MASTER_KEY,
        "LITELLM_MODE": "PRODUCTION",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "OPENAI_API_KEY": OPENAI_KEY,
        "DATABASE_URL": "postgresql://litellm:unused@127.0.0.1:1/litellm",
    }


def smoke_config(a: FakeOllama, b: FakeOllama, o: FakeOpenAI, cache_params: dict | None) -> dict:
    """Hand-written stand-in for rendering.litellm_yaml.render_litellm_config's output."""
    config: dict = {
        "model_list": [
            {
                "model_name": "llama3.2",
                "litellm_params": {"model": "ollama_chat/llama3.2", "api_base": a.base_url},
                "model_info": {"id": f"llama3.2-{a.identity}"},
            },
            {
                "model_name": "llama3.2",
                "litellm_params": {"model": "ollama_chat/llama3.2", "api_base": b.base_url},
                "model_info": {"id": f"llama3.2-{b.identity}"},
            },
            {
                "model_name": "gpt-4o",
                "litellm_params": {"model": "openai/gpt-4o", "api_base": o.api_base, "api_key": "os.environ/OPENAI_API_KEY"},
                "model_info": {"id": f"gpt-4o-{o.identity}"},
            },
        ],
        "router_settings": {
            "routing_strategy": "simple-shuffle",
            "num_retries": 2,
            "allowed_fails": 0,
            "cooldown_time": COOLDOWN_TIME,
            "timeout": UPSTREAM_TIMEOUT,
            "fallbacks": [{"llama3.2": ["gpt-4o"]}],
        },
        "litellm_settings": {"drop_params": True},
        "general_settings": {"master_key": "os.environ/LITELLM_MASTER_KEY", "database_url": "os.environ/DATABASE_URL"},
    }
    if cache_params is not None:
        config["litellm_settings"].update({"cache": True, "cache_params": cache_params})
    return config


class Gateway:
    def __init__(self, fake_factory, redis_endpoint, namespace: str) -> None:
        self.namespace = namespace
        self.a = fake_factory(FakeOllama, "cached-ollama-a")
        self.b = fake_factory(FakeOllama, "cached-ollama-b")
        self.o = fake_factory(FakeOpenAI, "cached-openai")
        self.fa = fake_factory(FakeOllama, "failover-ollama-a")
        self.fb = fake_factory(FakeOllama, "failover-ollama-b")
        self.fo = fake_factory(FakeOpenAI, "failover-openai")
        self.fleet: FakeFleet = fake_factory.fleet
        self.cached = RunningProxy(
            smoke_config(self.a, self.b, self.o, redis_endpoint.cache_params(namespace)),
            {**host_env(), **redis_endpoint.env()},
            UNIT_ARGS,
            name="cached",
        )
        self.failover = RunningProxy(smoke_config(self.fa, self.fb, self.fo, None), host_env(), UNIT_ARGS, name="failover")


@pytest.fixture(scope="module")
def gateway(fake_factory, redis_endpoint, module_cache_namespace):
    s = Gateway(fake_factory, redis_endpoint, module_cache_namespace)
    try:
        s.cached.start(wait=False)
        s.failover.start(wait=False)
        s.cached.wait_ready()
        s.failover.wait_ready()
        yield s
    finally:
        s.cached.stop()
        s.failover.stop()


@pytest.fixture(autouse=True)
def isolated_fakes(request):
    """Every test starts with healthy, zeroed fakes and no router cooldown left from the last one."""
    if "gateway" not in request.fixturenames:
        yield
        return
    s: Gateway = request.getfixturevalue("gateway")
    with s.fleet.isolated(COOLDOWN_TIME):
        yield


def ask(proxy: RunningProxy, prompt: str, model: str = "llama3.2", **kwargs):
    """One chat completion through the proxy; returns (text, raw response headers)."""
    raw = proxy.openai_client().chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": prompt}], **kwargs
    )
    return raw.parse().choices[0].message.content, raw.headers


def ask_stream(proxy: RunningProxy, prompt: str, model: str = "llama3.2", **kwargs) -> tuple[str, int]:
    stream = proxy.openai_client().chat.completions.create(
        model=model, messages=[{"role": "user", "content": prompt}], stream=True, **kwargs
    )
    pieces = [chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices]
    return "".join(pieces), len([p for p in pieces if p])


def answered_by(text: str, *fakes: FakeUpstream) -> FakeUpstream:
    owners = [f for f in fakes if text.startswith(f"[fake:{f.identity}] ")]
    assert len(owners) == 1, f"reply {text!r} is from none of {[f.identity for f in fakes]}"
    return owners[0]


# -- the cached proxy: healthy paths --------------------------------------------------------------


def test_models_lists_exactly_the_public_names(gateway):
    ids = [m.id for m in gateway.cached.openai_client().models.list()]
    assert sorted(ids) == PUBLIC_NAMES


def test_master_key_is_required(gateway):
    # Without a database the pinned proxy can only check the master key:
    # - no key: 401, *provided the `prisma` Python package is importable*. litellm[proxy]==1.108.7
    #   does not pull it (it is in the `extra_proxy` extra); without it the auth error handler
    #   itself fails (`import prisma`) and the answer is a 500.
    # - any other key: 400 "No connected db." (it would be looked up as a virtual key in the DB;
    #   with a database it is a 401).
    proxy = gateway.cached
    body = {"model": "llama3.2", "messages": [{"role": "user", "content": "who are you"}]}
    hint = "500 here means the prisma package is missing from the venv (pin prisma==0.15.0)"
    with httpx.Client(base_url=proxy.base_url, timeout=30, trust_env=False) as http:
        assert http.get("/v1/models").status_code == 401, hint
        assert http.post("/v1/chat/completions", json=body).status_code == 401, hint
        wrong = http.post("/v1/chat/completions", json=body, headers=proxy.headers("sk-not-the-master-key"))
        assert wrong.status_code == 400 and "No connected db" in wrong.text
        assert gateway.a.count + gateway.b.count == 0, "a request without the master key reached an upstream"
        assert http.get("/v1/models", headers=proxy.headers()).status_code == 200
        ok = http.post("/v1/chat/completions", json=body, headers=proxy.headers())
    assert ok.status_code == 200
    assert gateway.a.count + gateway.b.count == 1
    with pytest.raises(openai.APIStatusError) as refused:  # what an SDK consumer with a wrong key sees
        proxy.openai_client(api_key="sk-wrong").models.list()
    assert refused.value.status_code == 400


def test_non_streaming_chat_reaches_one_replica(gateway):
    prompt = f"non-streaming {uuid.uuid4().hex}"
    text, headers = ask(gateway.cached, prompt)
    fake = answered_by(text, gateway.a, gateway.b)
    other = gateway.b if fake is gateway.a else gateway.a
    assert text == fake.reply_text(prompt)
    assert fake.counts == {"/api/chat": 1} and other.count == 0 and gateway.o.count == 0
    body = fake.last_body
    assert body["model"] == "llama3.2" and body["stream"] is False
    assert body["messages"][-1]["content"] == prompt
    assert headers["x-litellm-model-id"] == f"llama3.2-{fake.identity}"


def test_streaming_chat_reaches_one_replica(gateway):
    prompt = f"streaming please {uuid.uuid4().hex}"
    text, nonempty_chunks = ask_stream(gateway.cached, prompt)
    fake = answered_by(text, gateway.a, gateway.b)
    assert text == fake.reply_text(prompt)
    assert nonempty_chunks > 1, "the reply arrived in one piece: not streamed"
    assert fake.count_for("/api/chat") == 1 and fake.last_body["stream"] is True
    assert gateway.o.count == 0


def test_external_provider_gets_the_key_from_env(gateway):
    prompt = f"openai path {uuid.uuid4().hex}"
    text, headers = ask(gateway.cached, prompt, model="gpt-4o")
    assert text == gateway.o.reply_text(prompt)
    request = gateway.o.last_request
    assert request.path == "/v1/chat/completions" and request.body["model"] == "gpt-4o"
    sent_the_env_key = request.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert sent_the_env_key, "the fake did not get OPENAI_API_KEY from the proxy's env"  # no key in the report
    assert gateway.a.count + gateway.b.count == 0
    streamed, _ = ask_stream(gateway.cached, f"{prompt} streamed", model="gpt-4o")
    assert streamed == gateway.o.reply_text(f"{prompt} streamed")


def test_both_replicas_get_a_share(gateway):
    # simple-shuffle without weights picks each of the 2 replicas with p = 1/2 per request, so a
    # replica's share of N=40 distinct (uncached) requests is Binomial(40, 0.5). Requiring >= 20%
    # (8 of 40) of each: P(X <= 7) = 1.1e-5 per replica, ~2e-5 for the test: a failure means the
    # router does not balance, not bad luck.
    n = 40
    for i in range(n):
        text, _ = ask(gateway.cached, f"share {i} {uuid.uuid4().hex}")
        answered_by(text, gateway.a, gateway.b)
    a, b = gateway.a.count_for("/api/chat"), gateway.b.count_for("/api/chat")
    assert a + b == n
    assert a >= n * 0.2 and b >= n * 0.2, f"unbalanced: a={a} b={b}"


def test_cache_hit_skips_the_upstream_and_lives_in_redis(gateway, cache_namespace, redis_client):
    prompt = f"cache me {uuid.uuid4().hex}"
    extra = {"extra_body": {"cache": {"namespace": cache_namespace}}}
    first, _ = ask(gateway.cached, prompt, **extra)
    assert gateway.a.count + gateway.b.count == 1
    keys = wait_for_redis_key(redis_client, f"{gateway.namespace}:{cache_namespace}:*")
    assert len(keys) == 1, f"expected one cache entry under {gateway.namespace}:{cache_namespace}:, got {keys}"
    assert first in json.loads(redis_client.get(keys[0]))["response"], "the entry does not hold the reply"

    second, headers = ask(gateway.cached, prompt, **extra)
    assert second == first
    assert gateway.a.count + gateway.b.count == 1, "the repeated request reached an upstream"
    assert keys[0].decode() == f"{gateway.namespace}:{headers['x-litellm-cache-key']}"

    # A streaming request has its own cache key (stream is part of it): one miss, then a hit.
    streamed_first, _ = ask_stream(gateway.cached, prompt, **extra)
    streamed_again, _ = ask_stream(gateway.cached, prompt, **extra)
    assert streamed_first.endswith(prompt) and streamed_again == streamed_first
    assert gateway.a.count + gateway.b.count == 2, "the repeated streaming request reached an upstream"


# -- the failover proxy: no cache, upstreams failing ----------------------------------------------


def test_without_cache_repeats_reach_the_upstream(gateway, cache_namespace, redis_client):
    prompt = f"no cache {uuid.uuid4().hex}"
    extra = {"extra_body": {"cache": {"namespace": cache_namespace}}}
    first, _ = ask(gateway.failover, prompt, **extra)
    second, _ = ask(gateway.failover, prompt, **extra)
    answered_by(first, gateway.fa, gateway.fb)
    answered_by(second, gateway.fa, gateway.fb)
    assert gateway.fa.count + gateway.fb.count == 2
    assert list(redis_client.scan_iter(match=f"*{cache_namespace}*")) == []


def test_retry_moves_to_the_healthy_replica(gateway):
    gateway.fa.fail_with(500)
    answers = []
    # Ask until the router has tried the failing replica once (each request picks it with p >= 1/2:
    # 20 requests without it has p = 1e-6).
    for i in range(20):
        text, headers = ask(gateway.failover, f"retry {i}")
        answers.append(answered_by(text, gateway.fa, gateway.fb, gateway.fo))
        if gateway.fa.failures_served:
            assert int(headers["x-litellm-attempted-retries"]) >= 1
            break
    assert gateway.fa.failures_served >= 1, "the failing replica was never tried"
    assert set(answers) == {gateway.fb}, "a request was not answered by the healthy replica"
    assert gateway.fo.count == 0


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_fallback_answers_when_every_replica_fails(gateway, stream):
    gateway.fa.fail_with(500)
    gateway.fb.fail_with(500)
    prompt = f"fallback {uuid.uuid4().hex}"
    if stream:
        text, _ = ask_stream(gateway.failover, prompt)
    else:
        text, headers = ask(gateway.failover, prompt)
        assert int(headers["x-litellm-attempted-fallbacks"]) >= 1
    assert text == gateway.fo.reply_text(prompt)
    assert gateway.fa.failures_served + gateway.fb.failures_served >= 1
    assert gateway.fo.last_body["model"] == "gpt-4o"


def test_fallback_answers_when_replicas_hang(gateway):
    gateway.fa.fail_with(timeout=UPSTREAM_TIMEOUT * 10)
    gateway.fb.fail_with(timeout=UPSTREAM_TIMEOUT * 10)
    prompt = f"hang {uuid.uuid4().hex}"
    text, headers = ask(gateway.failover, prompt)
    assert text == gateway.fo.reply_text(prompt)
    assert int(headers["x-litellm-attempted-fallbacks"]) >= 1
    assert gateway.fa.count + gateway.fb.count >= 1, "no replica was tried before the fallback"


def test_stopped_replica_is_refused_and_requests_still_succeed(gateway):
    gateway.fa.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{gateway.fa.base_url}/api/tags", timeout=5)
    answers = [answered_by(ask(gateway.failover, f"refused {i}")[0], gateway.fb, gateway.fo) for i in range(8)]
    # Connection refused never cools a deployment down and retries re-pick at random: a request
    # falls back only when all 3 attempts pick the dead replica (p = 1/8). b answering none of 8:
    # p = (1/8)^8 = 6e-8.
    assert gateway.fb in answers
    assert gateway.fa.count == 0


# -- the harness itself ----------------------------------------------------------------------------


def test_database_is_dropped_explicitly_and_the_proxy_runs_without_one(gateway):
    proxy = gateway.cached
    assert proxy.dropped_database_settings == ["general_settings.database_url", "env DATABASE_URL"]
    assert "database_url" not in proxy.config_path.read_text()
    readiness = httpx.get(f"{proxy.base_url}/health/readiness", timeout=10, trust_env=False).json()
    assert readiness["status"] == "healthy" and readiness["db"] == "Not connected"


def test_proxy_process_has_a_clean_env_and_no_secret_on_its_command_line(gateway, monkeypatch):
    proxy = gateway.cached
    environ = dict(
        item.split("=", 1) for item in open(f"/proc/{proxy.pid}/environ", "rb").read().decode().split("\0") if "=" in item
    )
    expected = {"PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE"}
    expected |= set(OFFLINE_ENV) | (set(host_env()) - {"DATABASE_URL"})
    assert set(environ) <= expected | {"PROMETHEUS_MULTIPROC_DIR", "NUM_WORKERS"}, set(environ) - expected
    assert environ["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"
    assert "PYTEST_CURRENT_TEST" not in environ
    cmdline = open(f"/proc/{proxy.pid}/cmdline", "rb").read().decode()
    leaked = MASTER_KEY in cmdline or OPENAI_KEY in cmdline
    assert not leaked, "a secret is on the proxy's command line"
    assert proxy.port in proxy.listening_ports() and proxy.port != 4000


def test_startup_failure_raises_with_the_output_tail():
    config = {
        "model_list": [{"model_name": "m", "litellm_params": {"model": "openai/m", "api_base": "http://127.0.0.1:9/v1"}}],
        # the wrong fallbacks form: the pinned router raises at startup and the proxy exits
        "router_settings": {"fallbacks": [{"model": "m", "fallback": "n"}]},
        "general_settings": {"master_key": "os.environ/LITELLM_MASTER_KEY"},
    }
    proxy = RunningProxy(config, host_env(), UNIT_ARGS, name="broken", startup_timeout=90, keep_workdir_on_failure=False)
    with pytest.raises(ProxyStartupError) as failure:
        proxy.start()
    message = str(failure.value)
    assert "exactly one key" in message
    assert "last 50 lines" in message
    leaked = MASTER_KEY in message
    assert not leaked, "the master key appears in the startup error"
    assert not proxy.running and proxy.pid is None


def test_port_moved_off_a_busy_4000_is_detected():
    # LiteLLM only moves when the port it is given is 4000 and busy: hold 4000 (if someone else
    # already holds it the proxy moves all the same), give the proxy 4000 and expect the harness to
    # notice it listening elsewhere.
    blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        try:
            blocker.bind(("127.0.0.1", 4000))
            # a deep backlog: the harness's probes queue up here unanswered; with a full backlog
            # the proxy's own is-4000-busy check would hang in connect() for minutes
            blocker.listen(128)
        except OSError:
            pass  # 4000 is busy already: that is the condition under test
        config = {
            "model_list": [{"model_name": "m", "litellm_params": {"model": "openai/m", "api_base": "http://127.0.0.1:9/v1"}}],
            "general_settings": {"master_key": "os.environ/LITELLM_MASTER_KEY"},
        }
        proxy = RunningProxy(config, host_env(), UNIT_ARGS, name="moved", port=4000, startup_timeout=90, keep_workdir_on_failure=False)
        with pytest.raises(ProxyPortError) as failure:
            proxy.start()
        assert "instead of 4000" in str(failure.value) or "not on the requested port 4000" in str(failure.value)
        assert not proxy.running
    finally:
        blocker.close()
