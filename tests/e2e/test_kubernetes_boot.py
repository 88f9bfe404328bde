"""The Deployment's container boots: the `kube` stack's rendered Deployment, with its ConfigMap and
Secret materialized as the pod would see them (tests/support/pod_view.py: mounted files, env from
secretKeyRefs), started as the pinned proxy from the venv with the container's exact command and
arguments on loopback, in front of fake upstreams and the real Redis; models, routing, auth and the
cache are checked against it.

From "the stack as committed" to "the pod that boots", each change is one named step:

1. ``fake-upstreams``: each deployment's api_base points at its own fake (stack config override,
   validated by the loader like any stack config). Ids, providers, models, rpm: as committed.
2. ``test-secrets``: random masterKey, envSecrets.OPENAI_API_KEY, salt key, a DATABASE_URL.
3. ``cluster-dns``: the validated settings' `redis` becomes the test Redis (host/port, no ACL user,
   its password or none; the stack's redisPassword is for the ACL user the test Redis lacks):
   in the cluster `redis.ai.corp.example` resolves to the gateway's Redis; here the name does not
   resolve, and the loader (rightly) refuses a loopback Redis for pods, so this step is applied
   after validation with `model_copy`, and it is the only difference in config.yaml (asserted).
4. ``render``: `rendering.kubernetes_objects.kubernetes_manifests` with those values; every
   manifest passes kubernetes-validate --strict.
5. ``materialize``: pod_view.materialize_pod (ConfigMap file at /etc/litellm/config.yaml under a
   temp root, env from the Secret).
7. ``write-audit`` (with 6): the CLI runs under ``strace -f`` (tests/support/write_audit.py), so the
   last test can check ``readOnlyRootFilesystem: true``: every file the proxy wrote during boot and
   the other tests lies under the pod's emptyDir mounts (or the harness's TMPDIR, which stands for the
   pod's /tmp emptyDir; the harness's HOME and working directory are *not* allowed: in the pod they are
   the image's read-only /app).
6. ``harness``: `RunningProxy` runs the container's command (`litellm`, the venv's pinned CLI = the
   image's entrypoint binary) with the container's args; it changes --port (a free one), --host
   (127.0.0.1) and points --config at its copy of the materialized file minus the database settings
   (`without_database`: Prisma's engines cannot be downloaded here, so the migration Job cannot run
   either — its command is checked against the ssh step in tests/rendering/test_kubernetes_objects.py).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest
import yaml

from rendering.litellm_yaml import render_litellm_config_yaml
from tests.support.e2e_fixtures import wait_for_redis_key
from tests.support.kube_pod import render_kube_stack
from tests.support.pod_view import materialize_pod
from tests.support.proxy_harness import RunningProxy, litellm_cli
from tests.support.write_audit import outside, traced_cli, written_paths


class KubePod:
    def __init__(self, settings, declared, manifests, view, fakes, proxy, root, values):
        self.settings, self.declared, self.manifests, self.view = settings, declared, manifests, view
        self.fakes, self.proxy, self.root, self.values = fakes, proxy, root, values

    def fakes_of(self, public_name):
        return [self.fakes[m.id] for m in self.settings.models if m.model_name == public_name]


@pytest.fixture(scope="module")
def pod(fake_factory, redis_endpoint, redis_client):
    # 1-4. fake upstreams, test secrets, the test Redis for the cluster's, render (every manifest validated)
    stack = render_kube_stack(fake_factory, redis_endpoint, name="kube", validate="all")
    declared, settings, manifests, fakes, values = stack.declared, stack.settings, stack.manifests, stack.fakes, stack.values
    # 5. materialize
    root = Path(tempfile.mkdtemp(prefix="kube-pod-"))
    view = materialize_pod(manifests["deployment"], manifests, root)
    # 6. harness: the container's command is the image's litellm; here the venv's pinned one
    assert view.command == ["litellm"] and Path(litellm_cli()).name == "litellm"
    config_path = Path(view.args[view.args.index("--config") + 1])  # already the materialized file
    assert config_path == view.local_path("/etc/litellm/config.yaml")
    # 7. write-audit: the same CLI under strace, to see every file the proxy writes
    trace_dir = Path(tempfile.mkdtemp(prefix="kube-pod-trace-"))
    trace_log = trace_dir / "strace.log"
    cli = traced_cli(litellm_cli(), trace_log, trace_dir)
    proxy = RunningProxy(str(config_path), view.env, view.args, name="kube-pod", cli=cli, startup_timeout=240)
    try:
        proxy.start()
        pod = KubePod(settings, declared, manifests, view, fakes, proxy, root, values)
        pod.trace_log = trace_log
        yield pod
    finally:
        proxy.stop()
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(trace_dir, ignore_errors=True)
        for key in redis_client.scan_iter(match=f"{settings.cache_namespace}:*", count=500):
            if b"[fake:kube:" in (redis_client.get(key) or b""):
                redis_client.delete(key)


def ask(proxy, model, prompt):
    raw = proxy.openai_client().chat.completions.with_raw_response.create(model=model, messages=[{"role": "user", "content": prompt}])
    return raw.parse().choices[0].message.content, raw.headers


def answered_by(text, *fakes):
    owners = [f for f in fakes if text.startswith(f"[fake:{f.identity}] ")]
    assert len(owners) == 1, f"reply {text[:80]!r} is from none of {[f.identity for f in fakes]}"
    return owners[0]


def completions(fake) -> int:
    return sum(n for path, n in fake.counts.items() if path in ("/api/chat", "/api/generate", "/v1/chat/completions"))


def test_the_pod_boots_with_the_containers_command_args_and_files(pod):
    c = pod.manifests["deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert pod.view.args == [pod.view.translated.get(a, a) for a in c["args"]]
    assert list(pod.view.translated) == ["/etc/litellm/config.yaml"]  # the only path in the args
    # the mounted file is the ConfigMap's, which is the ssh target's renderer's output
    mounted = pod.view.local_path("/etc/litellm/config.yaml").read_text()
    assert mounted == pod.manifests["configmap"]["data"]["config.yaml"] == render_litellm_config_yaml(pod.settings)
    # the harness changed only --config (its copy), --port and --host; workers as the container says
    args = pod.proxy.args
    assert args[args.index("--num_workers") + 1] == "1"
    assert args[args.index("--host") + 1] == "127.0.0.1" and args[args.index("--port") + 1] == str(pod.proxy.port)
    booted = yaml.safe_load(pod.proxy.config_path.read_text())
    expected = yaml.safe_load(mounted)
    del expected["general_settings"]["database_url"], expected["general_settings"]["store_model_in_db"]
    assert booted == expected
    # the env the process got: exactly the pod's (secretKeyRefs resolved), minus the database variables
    env = pod.proxy.env()
    for name, value in pod.view.env.items():
        if name in ("DATABASE_URL", "STORE_MODEL_IN_DB"):
            assert name not in env
        else:
            assert env[name] == value, name
    assert env["DISABLE_SCHEMA_UPDATE"] == "True" and env["LITELLM_MODE"] == "PRODUCTION"


def test_cluster_dns_is_the_only_change_to_config_yaml(pod):
    declared = yaml.safe_load(render_litellm_config_yaml(pod.declared))
    booted = yaml.safe_load(pod.manifests["configmap"]["data"]["config.yaml"])
    d_cache, b_cache = declared["litellm_settings"].pop("cache_params"), booted["litellm_settings"].pop("cache_params")
    assert {k: v for k, v in d_cache.items() if k not in ("host", "port", "username")} == \
        {k: v for k, v in b_cache.items() if k not in ("host", "port", "username")}
    for key in ("redis_host", "redis_port"):
        declared["router_settings"].pop(key), booted["router_settings"].pop(key)
    declared["router_settings"].pop("cache_kwargs", None)
    booted["router_settings"].pop("cache_kwargs", None)
    # the coordination Redis (several pods) points at the same Redis as the cache
    d_coord = declared["general_settings"].pop("coordination_redis", None)
    b_coord = booted["general_settings"].pop("coordination_redis", None)
    assert (d_coord is None) == (b_coord is None)
    if d_coord is not None:
        assert {k: v for k, v in d_coord.items() if k not in ("host", "port", "username")} == \
            {k: v for k, v in b_coord.items() if k not in ("host", "port", "username")}
        assert b_coord["host"] == b_cache["host"]
    assert booted == declared
    assert d_cache["host"] == "redis.ai.corp.example" and b_cache["host"] == pod.settings.redis.host


def test_probes_answer_on_the_paths_the_deployment_declares(pod):
    c = pod.manifests["deployment"]["spec"]["template"]["spec"]["containers"][0]
    with pod.proxy.http_client() as http:
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            response = http.get(c[probe]["httpGet"]["path"])
            assert response.status_code == 200, (probe, response.status_code)


def test_the_admin_ui_is_off_in_the_pod_itself(pod):
    # adminUi off (the kube stack): LITELLM_UI_PATH names the ConfigMap's empty UI directory
    # (rendering.admin_ui_dirs), so the pod serves no UI file, not only the Ingress
    assert not pod.settings.admin_ui.enabled
    assert pod.view.env["LITELLM_UI_PATH"] == str(pod.view.local_path("/etc/litellm/litellm-ui-off"))
    with pod.proxy.http_client(follow_redirects=True) as http:
        for path in ("/ui", "/ui/", "/ui/login", "/ui/index.html", "/ui/?page=api-keys"):
            assert http.get(path).status_code == 404, path


def test_models_and_auth(pod):
    ids = sorted(m.id for m in pod.proxy.openai_client().models.list())
    assert ids == sorted(pod.settings.public_model_names) == ["gpt-4o", "llama3.2"]
    with pod.proxy.http_client() as http:
        assert http.get("/v1/models").status_code == 401
        assert http.get("/v1/models", headers=pod.proxy.headers("sk-not-the-master-key")).status_code in (400, 401)
        assert http.get("/v1/models", headers=pod.proxy.headers(pod.values["LITELLM_MASTER_KEY"])).status_code == 200


def test_routing_replicas_and_provider_key_from_the_secret(pod):
    a, b = pod.fakes_of("llama3.2")
    (openai_fake,) = pod.fakes_of("gpt-4o")
    for fake in (a, b, openai_fake):
        fake.reset()
    # simple-shuffle over the two declared replicas: each serves a share of 30 distinct requests,
    # Binomial(30, 0.5); each must serve >= 5 (P(X <= 4) = 2.8e-5 per replica).
    n = 30
    for i in range(n):
        text, headers = ask(pod.proxy, "llama3.2", f"kube share {i} {uuid.uuid4().hex}")
        fake = answered_by(text, a, b)
        assert pod.fakes[headers["x-litellm-model-id"]] is fake
    assert completions(a) + completions(b) == n and min(completions(a), completions(b)) >= 5, (completions(a), completions(b))
    assert completions(openai_fake) == 0
    text, headers = ask(pod.proxy, "gpt-4o", f"kube openai {uuid.uuid4().hex}")
    assert answered_by(text, a, b, openai_fake) is openai_fake and headers["x-litellm-model-id"] == "openai-gpt-4o"
    ok = openai_fake.last_request.headers.get("authorization") == f"Bearer {pod.values['OPENAI_API_KEY']}"
    assert ok, "the upstream did not get the key the Secret holds"  # value never printed


def test_cache_answers_repeats_from_redis_under_the_stack_namespace(pod, redis_client):
    namespace = pod.settings.cache_namespace
    assert namespace == "litellm.kube.cache"
    a, b = pod.fakes_of("llama3.2")
    prompt = f"kube cache me {uuid.uuid4().hex}"
    first, _ = ask(pod.proxy, "llama3.2", prompt)
    before = completions(a) + completions(b)
    second, headers = ask(pod.proxy, "llama3.2", prompt)
    key = headers["x-litellm-cache-key"]
    try:
        assert key.startswith(f"{namespace}:") and second == first
        assert completions(a) + completions(b) == before, "the repeated request reached an upstream"
        assert wait_for_redis_key(redis_client, key) == [key.encode()]
        assert first in json.loads(redis_client.get(key))["response"]
        assert 0 < redis_client.ttl(key) <= pod.settings.cache.ttl_seconds
    finally:
        redis_client.delete(key)


def test_replica_group_failing_falls_back_as_declared(pod):
    """After the healthy-path tests (a failure here cools the replicas down for the rest)."""
    assert pod.settings.routing.fallbacks["llama3.2"] == ["gpt-4o"]
    a, b = pod.fakes_of("llama3.2")
    (gpt,) = pod.fakes_of("gpt-4o")
    a.fail_with(500)
    b.fail_with(500)
    try:
        prompt = f"kube group down {uuid.uuid4().hex}"
        text, headers = ask(pod.proxy, "llama3.2", prompt)
        assert text == gpt.reply_text(prompt), "the declared fallback did not answer"
        assert headers["x-litellm-attempted-fallbacks"] == "1"
        assert a.failures_served + b.failures_served == 1 + pod.settings.routing.num_retries
    finally:
        a.recover()
        b.recover()


def test_zz_the_proxy_writes_only_to_the_pods_emptydirs(pod):
    """Runs last (file order): the trace covers boot, probes, auth, routing and cache traffic."""
    writes = written_paths(pod.trace_log)
    assert writes, "the trace recorded no write at all: the audit is not seeing the proxy"
    emptydirs = [pod.view.mounts[m["mountPath"]] for m in
                 pod.manifests["deployment"]["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
                 if "readOnly" not in m]
    assert {str(p.relative_to(pod.root)) for p in emptydirs} == {"tmp", "var/lib/litellm/migrations"}
    harness_tmp = pod.proxy.workdir / "tmp"  # the pod's TMPDIR is /tmp, an emptyDir
    bad = outside(writes, pod.proxy.workdir, [*emptydirs, harness_tmp])
    assert bad == [], f"writes outside the emptyDirs (EROFS in the pod): {bad[:20]}"
