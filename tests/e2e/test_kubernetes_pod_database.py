"""The rendered pod with its database (issue 19, towards point 5): the `kube` stack's Deployment and
migration Job rendered with a real PostgreSQL database's DATABASE_URL in the Secret, the serving
container booted as tests/e2e/test_kubernetes_boot.py boots it (ConfigMap and Secret materialized,
the container's command, args and env) but WITHOUT dropping the database, with Prisma's query engine
from the real-proxy harness (tests/support/real_proxy.py): readiness reports the database connected,
and a virtual key created through the admin API (stored in PostgreSQL, hashed with the pod's salt key)
authenticates a completion.

What this does not do: run the migration Job's command. `litellm --skip_server_startup` migrates with
Prisma's schema engine, which cannot be downloaded here; the harness applies LiteLLM's migration SQL
itself when it creates the database (postgres_apply.apply_litellm_migrations). The Job's pod is only
materialized, to show the kubelet could start it with what its env references (DATABASE_URL alone).
Nor does it run as uid 65534 with a read-only root (the venv's LiteLLM runs as the test user; the
write audit of the boot test covers the read-only root for the proxy without a database).
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from pathlib import Path

import pytest

from tests.support import real_proxy_prisma
from tests.support.kube_pod import render_kube_stack
from tests.support.pod_view import materialize_pod
from tests.support.proxy_harness import RunningProxy
from tests.support.real_proxy import ProxyDatabase

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pod_with_database(fake_factory, redis_endpoint):
    database = ProxyDatabase(label="kube_pod").create()
    root = Path(tempfile.mkdtemp(prefix="kube-pod-db-"))
    proxy = None
    try:
        # DATABASE_URL: what the component puts in the Secret, here the test database
        stack = render_kube_stack(fake_factory, redis_endpoint, name="kube-db", database_url=database.url, validate="none")
        settings, manifests, fakes, values = stack.settings, stack.manifests, stack.fakes, stack.values
        job_view = materialize_pod(manifests["job-migrate"], manifests, root / "job")
        view = materialize_pod(manifests["deployment"], manifests, root / "pod")
        config_path = Path(view.args[view.args.index("--config") + 1])
        env = {
            **view.env,
            **real_proxy_prisma.prepare(),  # Prisma's query engine here (the image has its own)
            "LITELLM_PRISMA_COMMAND_TIMEOUT": "5",  # the drift check needs the absent schema engine
        }
        proxy = RunningProxy(str(config_path), env, view.args, name="kube-pod-db", startup_timeout=900, keep_database=True,
                             helper_cmdline=str(real_proxy_prisma.ENGINE_DIR / "translator.mjs"))
        proxy.start()
        yield settings, manifests, view, job_view, fakes, proxy, values
    finally:
        if proxy is not None:
            proxy.stop()
        database.drop()
        shutil.rmtree(root, ignore_errors=True)


def test_the_pod_is_ready_with_its_database_connected(pod_with_database):
    settings, manifests, view, job_view, fakes, proxy, values = pod_with_database
    assert proxy.dropped_database_settings == []
    assert proxy.env()["DATABASE_URL"] == values["DATABASE_URL"] and proxy.env()["DISABLE_SCHEMA_UPDATE"] == "True"
    c = manifests["deployment"]["spec"]["template"]["spec"]["containers"][0]
    with proxy.http_client(timeout=30.0) as http:
        response = http.get(c["readinessProbe"]["httpGet"]["path"])
    assert response.status_code == 200 and response.json().get("db") == "connected", response.text[:300]


def test_the_migration_pod_starts_with_the_database_url_alone(pod_with_database):
    settings, manifests, view, job_view, fakes, proxy, values = pod_with_database
    secret_refs = [e["name"] for e in manifests["job-migrate"]["spec"]["template"]["spec"]["containers"][0]["env"] if "valueFrom" in e]
    assert secret_refs == ["DATABASE_URL"]
    assert job_view.env["DATABASE_URL"] == values["DATABASE_URL"] and job_view.env["DISABLE_SCHEMA_UPDATE"] == "false"
    assert "LITELLM_MASTER_KEY" not in job_view.env and "OPENAI_API_KEY" not in job_view.env
    assert job_view.args == ["--config", str(job_view.local_path("/etc/litellm/config.yaml")), "--skip_server_startup"]


def test_a_virtual_key_stored_in_the_database_authenticates_a_completion(pod_with_database):
    settings, manifests, view, job_view, fakes, proxy, values = pod_with_database
    with proxy.http_client(timeout=60.0) as http:
        created = http.post("/key/generate", headers=proxy.headers(values["LITELLM_MASTER_KEY"]),
                            json={"models": ["gpt-4o"], "key_alias": f"kube-db-{uuid.uuid4().hex[:8]}"})
        assert created.status_code == 200, created.text[:300]
        key = created.json()["key"]
        info = http.get("/key/info", params={"key": key}, headers=proxy.headers(values["LITELLM_MASTER_KEY"]))
        assert info.status_code == 200  # read back from PostgreSQL
    (gpt,) = [fakes[m.id] for m in settings.models if m.model_name == "gpt-4o"]
    prompt = f"kube db {uuid.uuid4().hex}"
    reply = proxy.openai_client(key).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": prompt}])
    assert reply.choices[0].message.content == gpt.reply_text(prompt)
    denied = proxy.openai_client(key).with_options(max_retries=0)
    with pytest.raises(Exception) as raised:
        denied.chat.completions.create(model="llama3.2", messages=[{"role": "user", "content": prompt}])
    assert getattr(raised.value, "status_code", None) in (401, 403), raised.value
