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

import secrets
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest
from pydantic import SecretStr

from config.redis_settings import RedisSettings
from offline.stack_inputs import load_stack_inputs
from rendering import kubernetes_objects as ko
from tests.support import real_proxy_prisma
from tests.support.pod_view import materialize_pod
from tests.support.proxy_harness import RunningProxy
from tests.support.real_proxy import ProxyDatabase
from tests.support.stack_gateway import fake_class_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pod_with_database(fake_factory, redis_endpoint):
    database = ProxyDatabase(label="kube_pod").create()
    root = Path(tempfile.mkdtemp(prefix="kube-pod-db-"))
    proxy = None
    try:
        declared = load_stack_inputs("kube").settings()
        fakes, models = {}, []
        for m in declared.models:
            entry = m.model_dump(mode="json", exclude_none=True)
            fake = fake_factory(fake_class_for(m.provider), f"kube-db:{m.id}", models=(m.model,))
            fakes[m.id] = fake
            entry["api_base"] = fake.api_base if m.provider in ("openai", "openai_compatible") else fake.base_url
            models.append(entry)
        stack_secrets = {"masterKey": f"sk-test-kube-{secrets.token_hex(16)}",
                         "envSecrets.OPENAI_API_KEY": f"test-openai-{secrets.token_hex(12)}"}
        if redis_endpoint.password:
            stack_secrets["redisPassword"] = redis_endpoint.password
        declared = load_stack_inputs("kube", secrets=stack_secrets, overrides={"models": models}).settings()
        settings = declared.model_copy(update={
            "redis": RedisSettings(host=redis_endpoint.host, port=int(redis_endpoint.port)),
            "secrets": declared.secrets.model_copy(update={
                "redis_password": SecretStr(redis_endpoint.password) if redis_endpoint.password else None}),
        })
        values = {
            "LITELLM_MASTER_KEY": stack_secrets["masterKey"],
            "LITELLM_SALT_KEY": f"sk-test-salt-{secrets.token_hex(16)}",
            "DATABASE_URL": database.url,  # what the component puts in the Secret: here the test database
            "OPENAI_API_KEY": stack_secrets["envSecrets.OPENAI_API_KEY"],
        }
        if redis_endpoint.password:
            values["REDIS_PASSWORD"] = redis_endpoint.password
        manifests = ko.kubernetes_manifests(settings, secret_values={n: values[n] for n in ko.pod_secret_env_names(settings)},
                                            secrets_checksum="0" * 64)
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
