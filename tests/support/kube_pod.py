"""The `kube` stack's serving pod as a process on this machine (tests/e2e): rendered, materialized
(tests/support/pod_view.py), ready to start with the container's command, args and env."""

from __future__ import annotations

import json
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml
from pydantic import SecretStr

from config.redis_settings import RedisSettings
from offline.stack_inputs import load_stack_inputs
from rendering import kubernetes_objects as ko
from tests.support.pod_view import materialize_pod
from tests.support.proxy_harness import RunningProxy
from tests.support.stack_gateway import fake_class_for

KUBERNETES_VERSION = "1.33.0"


@dataclass
class RenderedKubeStack:
    """The `kube` stack rendered for a test: its models pointed at fake upstreams, test secrets, the
    test Redis in place of the cluster's, and the manifests with those secret values."""
    declared: Any          # the stack as declared (fake upstreams substituted), before the test Redis
    settings: Any          # what the manifests were rendered from
    manifests: dict
    fakes: dict            # model id -> fake upstream
    values: dict           # Secret values by env name


def render_kube_stack(fake_factory, redis_endpoint, *, name, database_url=None, validate="deployment"):
    """The steps every pod test shares: fake upstreams per model, test secrets, the test Redis,
    render. `database_url`: what the component would put in the Secret (default: an address that
    refuses, for tests that drop the database); `validate`: "deployment" or "all" manifests checked
    by kubernetes-validate --strict, or "none"."""
    declared = load_stack_inputs("kube").settings()
    fakes, models = {}, []
    for m in declared.models:
        entry = m.model_dump(mode="json", exclude_none=True)
        fake = fake_factory(fake_class_for(m.provider), f"{name}:{m.id}", models=(m.model,))
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
        "DATABASE_URL": database_url or f"postgresql://litellm_kube:{secrets.token_hex(8)}@127.0.0.1:1/litellm_kube",
        "OPENAI_API_KEY": stack_secrets["envSecrets.OPENAI_API_KEY"],
    }
    if redis_endpoint.password:
        values["REDIS_PASSWORD"] = redis_endpoint.password
    manifests = ko.kubernetes_manifests(settings, secret_values={n: values[n] for n in ko.pod_secret_env_names(settings)},
                                        secrets_checksum="0" * 64)
    checked = {"all": list(manifests.values()), "deployment": [manifests["deployment"]], "none": []}[validate]
    for manifest in checked:
        kubernetes_validate.validate(yaml.safe_load(yaml.safe_dump(manifest)), KUBERNETES_VERSION, strict=True)
    return RenderedKubeStack(declared, settings, manifests, fakes, values)


def boot_kube_pod(fake_factory, redis_endpoint, *, name, drop_env=(), extra_env=None, cli=None):
    """The `kube` stack's Deployment rendered (render_kube_stack), its container materialized under
    a temp root, and a RunningProxy (not started) for the container's command, args and env.
    `drop_env`: names removed from the container's env (a control); `extra_env`: what the image's
    ENV would add. Returns (settings, manifests, fakes, proxy, root, view)."""
    stack = render_kube_stack(fake_factory, redis_endpoint, name=name)
    settings, manifests, fakes = stack.settings, stack.manifests, stack.fakes
    deployment = manifests["deployment"]
    if drop_env:
        deployment = json.loads(json.dumps(deployment))
        c = deployment["spec"]["template"]["spec"]["containers"][0]
        c["env"] = [e for e in c["env"] if e["name"] not in drop_env]
    root = Path(tempfile.mkdtemp(prefix=f"{name}-"))
    view = materialize_pod(deployment, manifests, root)
    config_path = Path(view.args[view.args.index("--config") + 1])
    proxy = RunningProxy(str(config_path), {**view.env, **(extra_env or {})}, view.args, name=name, startup_timeout=300, cli=cli)
    return settings, manifests, fakes, proxy, root, view
