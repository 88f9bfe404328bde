"""The consumer's view of the dev gateway, end to end on the real proxy WITH its database (issue 10 item 3).

What runs (once for the module, fixture ``gateway``):

1. **The stack.** Pulumi.dev.yaml + config/catalogs/dev.yaml through the project's loader
   (``offline.stack_inputs.load_stack_inputs``) with these overrides, each a stack-config key that
   then goes through the stack's own validation and renderers (as in tests/support/stack_gateway.py):
   - ``models``: each deployment's ``api_base`` -> its own fake upstream on loopback (FakeOllama,
     FakeOpenAI for gpt-4o, FakeAnthropic for claude-sonnet-4); ``model_source`` stays ``api``: the
     deployments are created by the Model provider;
   - ``redis``: the real Redis on 127.0.0.1:6379 with an ACL user of this run (unique name), created
     by the stack's own ACL script (``rendering.redis_acl.acl_create_script``) fed the rendered
     ``ACL SETUSER`` line (``acl_setuser_line`` with ``gateway.redis_key_patterns``), deleted at the
     end with ``acl_delete_script``; ``cache.namespace``: unique per run (its keys are deleted at
     the end);
   - ``tls: {enabled: false, allow_plaintext: true}`` (dev's certificate names cannot be verified on loopback);
   - ``litellm.proxy_batch_write_at: 1`` (spend reaches PostgreSQL within seconds);
   - ``teams``/``keys``: probe entries *added* to the dev catalog, each validated by the loader like
     any catalog entry: a key with a tiny ``max_budget``, one with ``rpm_limit: 2``, a team with a
     tiny ``max_budget`` and a key in it, a key whose ``expires`` is 60 s after both proxies are up;
   - secrets: a random master key, ``OPENAI_API_KEY``/``ANTHROPIC_API_KEY`` random,
     ``SLACK_WEBHOOK_URL`` a loopback sink.
2. **Two proxy processes on one database and one Redis** (tests/support/real_proxy.py: a fresh
   PostgreSQL database with LiteLLM's migrations, the offline Prisma engine), each booted from the
   rendered config.yaml and env file (``render_litellm_config``, ``render_env_file``), sharing the
   salt key. They stand for the dev host's several workers (each worker is a process with its own
   in-memory auth cache; two processes make "the other worker" addressable). One worker each.
3. **The providers apply the catalog.** The real program (``__main__.py``) runs under Pulumi's mock
   engine with the same config; the inputs it registers for every Model, Team and VirtualKey go,
   unchanged, through Pulumi's dynamic-provider host (``python -m pulumi.dynamic``,
   tests/support/dynamic_host.py) -- Check then Create, models, then teams, then keys, as the engine
   orders them -- against proxy A. Key values come from the Create outputs.

Then each consumer's key is used as the consumer would, and the server's answers are asserted.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Optional

import httpx
import psycopg
import pytest

from components.gateway import redis_key_patterns
from components.litellm_admin import connection
from config.observability import metrics_scrape_key_request
from config.settings import GatewaySettings
from offline.stack_inputs import load_stack_inputs
from rendering.host_files import render_env_file, secret_env_names
from rendering.litellm_yaml import render_litellm_config
from rendering.redis_acl import acl_create_script, acl_delete_script, acl_setuser_line
from tests.support.dynamic_host import DynamicProviderHost, Secret
from tests.support.fake_upstreams import FakeOpenAI
from tests.support.real_proxy import ProxyDatabase, RealProxy, hash_token, wait_until
from tests.support.stack_gateway import AlertSink, fake_class_for, parse_env_file

PROJECT_DIR = Path(__file__).resolve().parents[2]
MODEL_TYPE = "pulumi-python:dynamic/litellm:Model"
TEAM_TYPE = "pulumi-python:dynamic/litellm:Team"
KEY_TYPE = "pulumi-python:dynamic/litellm:VirtualKey"
APPLY_ORDER = (MODEL_TYPE, TEAM_TYPE, KEY_TYPE)

TINY_BUDGET = 0.000001  # USD: one gpt-4o answer of the fake costs more
# From just after both proxies are up (the boot is not in it): the program run, the providers' creates and
# the probe key's check before its time took 7 s at a load average of 3 on 2 cores (about 25 s at 7).
# The expiry test waits for what is left of it after the other tests.
EXPIRES_AFTER = timedelta(seconds=60)
REVOKED_WITHIN_SECONDS = 10.0  # LiteLLM's in-memory auth cache would keep a deleted key 60 s

PROBE_TEAMS = [
    {"team_id": "probe-team-budget", "alias": "probe: team budget", "models": ["gpt-4o"], "max_budget": TINY_BUDGET},
]


def probe_keys(expires: datetime) -> list[dict[str, Any]]:
    return [
        {"alias": "probe-budget", "service": "probe-budget", "team": "product-apps", "models": ["gpt-4o"],
         "max_budget": TINY_BUDGET},
        {"alias": "probe-rpm", "service": "probe-rpm", "team": "product-apps", "models": ["llama3.2"], "rpm_limit": 2},
        {"alias": "probe-team-budget", "service": "probe-team-budget", "team": "probe-team-budget", "models": ["gpt-4o"]},
        {"alias": "probe-expiry", "service": "probe-expiry", "team": "product-apps", "models": ["llama3.2"],
         "expires": expires.strftime("%Y-%m-%dT%H:%M:%SZ")},
    ]


PROBE_SERVICES = {"probe-budget", "probe-rpm", "probe-team-budget", "probe-expiry"}


# ------------------------------------------------------------------------------------------------
# the program run (child process: Pulumi's mocks are process-wide)

_PROGRAM_RUN = textwrap.dedent(
    """
    import json, sys
    from offline.engine import run_program
    from offline.stack_inputs import load_stack_inputs

    request = json.loads(sys.stdin.read())
    stack = load_stack_inputs("dev", secrets=request["secrets"], overrides=request["overrides"])
    run = run_program("dev", stack.config, stack.secret_keys)
    print("RESOURCES=" + json.dumps([
        {"urn": r.urn, "type": r.type, "name": r.name, "inputs": r.inputs, "secret_inputs": r.secret_inputs}
        for r in run.resources if r.type.startswith("pulumi-python:dynamic/litellm:")]))
    """
)


@dataclass
class Declared:
    urn: str
    type: str
    name: str
    inputs: dict[str, Any]
    secret_inputs: tuple[str, ...]

    def engine_inputs(self) -> dict[str, Any]:
        return {k: Secret(v) if k in self.secret_inputs else v for k, v in self.inputs.items()}


def declare(secrets_: dict[str, str], overrides: dict[str, Any]) -> list[Declared]:
    """The Model/Team/VirtualKey registrations of the real program for this config (secrets via stdin)."""
    env = {k: v for k, v in os.environ.items() if k not in (connection.ADMIN_URL_ENV, connection.MASTER_KEY_ENV)}
    env["PYTHONPATH"] = str(PROJECT_DIR)
    run = subprocess.run(
        [sys.executable, "-c", _PROGRAM_RUN],
        input=json.dumps({"secrets": secrets_, "overrides": overrides}),
        cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    line = [x for x in run.stdout.splitlines() if x.startswith("RESOURCES=")][-1]
    return [
        Declared(r["urn"], r["type"], r["name"], r["inputs"], tuple(r["secret_inputs"]))
        for r in json.loads(line[len("RESOURCES="):])
    ]


# ------------------------------------------------------------------------------------------------
# the gateway


@dataclass
class Applied:
    declared: Declared
    id: str
    inputs: dict[str, Any]
    outs: dict[str, Any]


@dataclass
class Gateway:
    settings: GatewaySettings
    master_key: str
    a: RealProxy
    b: RealProxy
    database: ProxyDatabase
    host: DynamicProviderHost
    applied: dict[str, Applied] = field(default_factory=dict)  # resource name -> applied
    keys: dict[str, str] = field(default_factory=dict)  # service -> raw key (secret: never print)
    expires_at: Optional[datetime] = None
    probe_expiry_answered_before: Optional[int] = None
    probe_expiry_checked_at: Optional[datetime] = None
    acl_user: str = ""
    namespace: str = ""

    def key_resource(self, service: str) -> Applied:
        for applied in self.applied.values():
            if applied.declared.type == KEY_TYPE and (applied.inputs.get("metadata") or {}).get("service") == service:
                return applied
        raise KeyError(service)

    def consumers(self) -> list:
        return [k for k in self.settings.keys if k.service not in PROBE_SERVICES]


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Secret) else value


def _models_on_fakes(settings: GatewaySettings, fake_factory) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    models, fakes = [], {}
    for m in settings.models:
        entry = m.model_dump(mode="json", exclude_none=True)
        fake = fake_factory(fake_class_for(m.provider), f"consumer:{m.id}", models=(m.model,))
        entry["api_base"] = fake.api_base if isinstance(fake, FakeOpenAI) else fake.base_url
        fakes[m.id] = fake
        models.append(entry)
    return models, fakes


def rendered_acl_line(settings: GatewaySettings, user: str, password: str) -> str:
    """The `ACL SETUSER` line with exactly the arguments components/gateway.py gives RedisCache.

    Helper C's least-privilege ACL (issue 9) adds LiteLLM's pub/sub channels and the `dedicated`
    flag; when that code is present, pass them as gateway.py does (keep the two in step)."""
    try:
        from rendering.redis_acl import litellm_channel_patterns
    except ImportError:
        return acl_setuser_line(user, password, redis_key_patterns(settings))
    return acl_setuser_line(
        user,
        password,
        redis_key_patterns(settings),
        channels=litellm_channel_patterns(settings.cache_namespace),  # type: ignore[call-arg]
        dedicated=settings.redis.dedicated,  # type: ignore[attr-defined,call-arg]
    )


def _run_script(script: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", script], input=stdin, capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def gateway(fake_factory, redis_endpoint, redis_client):
    declared_dev = load_stack_inputs("dev").settings()
    run_id = uuid.uuid4().hex[:10]
    namespace = f"e2e-consumer-{run_id}"
    acl_user = f"llmgw-f-{run_id}"
    acl_password = secrets.token_hex(24)
    master_key = f"sk-test-master-{secrets.token_hex(16)}"
    salt_key = f"sk-test-salt-{secrets.token_hex(16)}"

    models, _fakes = _models_on_fakes(declared_dev, fake_factory)
    sink = fake_factory(AlertSink, "consumer:slack-webhook")
    overrides: dict[str, Any] = {
        "models": models,
        "redis": {"host": redis_endpoint.host, "port": int(redis_endpoint.port), "user": acl_user},
        "cache": {**declared_dev.cache.model_dump(mode="json", exclude_none=True), "namespace": namespace},
        "tls": {**declared_dev.tls.model_dump(mode="json"), "enabled": False, "allow_plaintext": True},
        "litellm": {**declared_dev.litellm.model_dump(mode="json", exclude_none=True), "proxy_batch_write_at": 1},
    }
    stack_secrets = {
        "masterKey": master_key,
        "redisPassword": acl_password,
        "envSecrets.OPENAI_API_KEY": f"test-{secrets.token_hex(8)}",
        "envSecrets.ANTHROPIC_API_KEY": f"test-{secrets.token_hex(8)}",
        "envSecrets.SLACK_WEBHOOK_URL": f"{sink.base_url}/services/test",
    }
    settings = load_stack_inputs("dev", secrets=stack_secrets, overrides=overrides).settings()
    assert settings.litellm.model_source == "api"

    # The Redis ACL user, as the stack renders and applies it.
    acl = _run_script(acl_create_script(settings.redis), rendered_acl_line(settings, acl_user, acl_password))
    assert acl.returncode == 0, acl.stderr

    # The host's files.
    config = render_litellm_config(settings)
    values = {
        "LITELLM_MASTER_KEY": master_key,
        "LITELLM_SALT_KEY": salt_key,
        "DATABASE_URL": "set-by-real-proxy",
        "REDIS_PASSWORD": acl_password,
        **{name: v.get_secret_value() for name, v in settings.secrets.env_secrets.items()},
        "UI_PASSWORD": settings.secrets.ui_password.get_secret_value(),  # dev has the Admin UI on
    }
    env = parse_env_file(render_env_file(settings, {k: v for k, v in values.items() if k in secret_env_names(settings)}))
    for name in ("LITELLM_MASTER_KEY", "LITELLM_SALT_KEY", "DATABASE_URL"):
        env.pop(name)  # RealProxy gives these (its own database's URL)

    database = ProxyDatabase(label="consumer")
    host: Optional[DynamicProviderHost] = None
    proxies: list[RealProxy] = []
    try:
        database.create()
        for name in ("consumer-a", "consumer-b"):
            proxies.append(
                RealProxy(config, master_key=master_key, salt_key=salt_key, num_workers=1, env=env,
                          database=database, name=name, batch_write_at=None)
            )
        errors: list[BaseException] = []

        def boot(proxy: RealProxy) -> None:
            try:
                proxy.start()
            except BaseException as exc:  # noqa: BLE001 - re-raised below
                errors.append(exc)

        threads = [threading.Thread(target=boot, args=(p,)) for p in proxies]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        a, b = proxies

        # The program's registrations for this config, with the expiring probe key.
        expires_at = (datetime.now(timezone.utc) + EXPIRES_AFTER).replace(microsecond=0)
        full_overrides = {
            **overrides,
            "teams": PROBE_TEAMS,
            "keys": probe_keys(expires_at),
            "adminUrl": a.base_url,
        }
        declared = declare(stack_secrets, full_overrides)
        full_settings = load_stack_inputs("dev", secrets=stack_secrets, overrides=full_overrides).settings()

        host = DynamicProviderHost(str(PROJECT_DIR), {connection.BACKOFF_ENV: "0.2", connection.TIMEOUT_ENV: "60"}).start()
        host.configure(
            {
                "litellm-gateway:adminUrl": a.base_url,
                "litellm-gateway:masterKey": Secret(master_key),
                "litellm-gateway:environment": "dev",
            }
        )
        gw = Gateway(full_settings, master_key, a, b, database, host, expires_at=expires_at,
                     acl_user=acl_user, namespace=namespace)
        for type_ in APPLY_ORDER:
            for resource in [d for d in declared if d.type == type_]:
                inputs, failures = host.check(resource.urn, {}, resource.engine_inputs())
                assert failures == [], (resource.name, failures)
                id_, outs = host.create(resource.urn, inputs)
                gw.applied[resource.name] = Applied(resource, id_, inputs, outs)
                if type_ == KEY_TYPE:
                    gw.keys[resource.inputs["metadata"]["service"]] = _plain(outs["key"])
        counts = {t: sum(1 for d in declared if d.type == t) for t in APPLY_ORDER}
        assert counts == {
            MODEL_TYPE: len(full_settings.models),
            TEAM_TYPE: len(full_settings.teams),
            KEY_TYPE: len(full_settings.keys),
        }
        # The expiring key works before its time (checked now: the expiry test waits for it).
        gw.probe_expiry_answered_before = a.chat(gw.keys["probe-expiry"], model="llama3.2").status_code
        gw.probe_expiry_checked_at = datetime.now(timezone.utc)
        yield gw
    finally:
        if host is not None:
            host.__exit__(None, None, None)
        for proxy in proxies:
            proxy.stop()
        database.drop()
        gone = _run_script(acl_delete_script(settings.redis))
        keys = list(redis_client.scan_iter(match=f"{namespace}:*", count=500))
        if keys:
            redis_client.delete(*keys)
        assert gone.returncode == 0, gone.stderr


# ------------------------------------------------------------------------------------------------
# helpers


def chat(proxy: RealProxy, key: str, model: str) -> httpx.Response:
    return proxy.chat(key, model=model, content=f"consumer check {uuid.uuid4().hex[:8]}")


def error_message(response: httpx.Response) -> str:
    try:
        return str(((response.json() or {}).get("error") or {}).get("message"))[:400]
    except (ValueError, AttributeError):
        return response.text[:400]


def error_type(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    error = body.get("error") if isinstance(body, dict) else None
    return str((error or {}).get("type") or (error or {}).get("message") or body)[:300]


def refused_eventually(proxy: RealProxy, key: str, model: str, timeout: float) -> httpx.Response:
    """Send requests until one is refused (LiteLLM applies spend asynchronously after each answer)."""
    return wait_until(
        lambda: (lambda r: r if r.status_code != 200 else None)(chat(proxy, key, model)),
        timeout=timeout, interval=0.5, what=f"a refusal on {model}",
    )


# ------------------------------------------------------------------------------------------------
# the consumer's view


def test_every_catalog_object_was_created_by_the_providers(gateway):
    a = gateway.a
    with a.client() as http:
        teams = {t.team_id for t in gateway.settings.teams}
        for team_id in teams:
            info = http.get("/team/info", params={"team_id": team_id})
            assert info.status_code == 200, (team_id, info.text[:200])
        models = http.get("/v2/model/info").json()
    ids = {m["model_info"]["id"] for m in models.get("data", [])}
    assert {m.id for m in gateway.settings.models} <= ids
    for k in gateway.settings.keys:
        row = a.key_row(gateway.keys[k.service])
        assert row is not None and row["key_alias"] == k.alias and row["team_id"] == k.team


def test_each_consumer_key_answers_on_its_models_and_is_refused_on_the_others(gateway):
    names = gateway.settings.public_model_names
    for consumer in gateway.consumers():
        key = gateway.keys[consumer.service]
        for model in names:
            reply = chat(gateway.a, key, model)
            if model in consumer.models:
                assert reply.status_code == 200, (consumer.alias, model, reply.status_code, error_type(reply))
                assert "[fake:consumer:" in reply.json()["choices"][0]["message"]["content"]
            else:
                assert reply.status_code == 403, (consumer.alias, model, reply.status_code, error_type(reply))
                assert error_type(reply) == "key_model_access_denied", (consumer.alias, model)


def test_an_unknown_key_is_refused(gateway):
    reply = chat(gateway.a, "sk-not-a-key-of-this-gateway", "llama3.2")
    assert reply.status_code == 401, error_type(reply)


def test_max_budget_exhausted_refuses_the_key(gateway):
    key = gateway.keys["probe-budget"]
    first = chat(gateway.a, key, "gpt-4o")
    assert first.status_code == 200, error_type(first)
    refused = refused_eventually(gateway.a, key, "gpt-4o", timeout=60)
    # litellm.budget_exceeded_status_code: 422 in the pinned release (429 before it)
    assert (refused.status_code, error_type(refused)) == (422, "budget_exceeded"), error_message(refused)
    assert "key" in error_message(refused).lower(), error_message(refused)


def test_rpm_limit_exceeded_answers_429(gateway):
    key = gateway.keys["probe-rpm"]
    statuses = []
    for _ in range(6):
        statuses.append(chat(gateway.a, key, "llama3.2").status_code)
        if statuses[-1] == 429:
            break
    assert 429 in statuses, statuses
    assert statuses[:2] == [200, 200], statuses  # rpm_limit 2: the first two of the minute pass


def test_team_budget_applies_to_its_keys(gateway):
    key = gateway.keys["probe-team-budget"]
    row = gateway.a.key_row(key)
    assert row["max_budget"] is None and row["team_id"] == "probe-team-budget"  # no budget of its own
    first = chat(gateway.a, key, "gpt-4o")
    assert first.status_code == 200, error_type(first)
    refused = refused_eventually(gateway.a, key, "gpt-4o", timeout=60)
    assert (refused.status_code, error_type(refused)) == (422, "budget_exceeded"), error_message(refused)
    assert "team" in error_message(refused).lower(), error_message(refused)


def test_spend_lands_in_postgresql(gateway):
    key = gateway.keys["lightrag"]
    reply = chat(gateway.a, key, "gpt-4o")
    assert reply.status_code == 200, error_type(reply)
    spend = gateway.a.wait_for_key_spend(key, timeout=90)
    assert spend > 0
    token = hash_token(key)

    def logged() -> Optional[int]:
        rows = gateway.database.query('SELECT count(*) FROM "LiteLLM_SpendLogs" WHERE api_key = %s AND spend > 0', (token,))
        return rows[0][0] or None

    assert wait_until(logged, timeout=90, interval=1.0, what="spend log rows of the key") >= 1

    def team_spend() -> Optional[float]:
        rows = gateway.database.query('SELECT spend FROM "LiteLLM_TeamTable" WHERE team_id = %s', ("platform-ai",))
        return rows[0][0] if rows and rows[0][0] and rows[0][0] > 0 else None

    assert wait_until(team_spend, timeout=90, interval=1.0, what="spend of team platform-ai") > 0


def test_metrics_scrape_key_reads_metrics_and_nothing_else(gateway):
    a = gateway.a
    body = metrics_scrape_key_request(gateway.settings)
    scrape_key = a.generate_key(**body)
    with httpx.Client(base_url=a.base_url, trust_env=False, timeout=30) as http:
        anonymous = http.get("/metrics/")
        assert anonymous.status_code == 401
        scraped = http.get("/metrics/", headers={"Authorization": f"Bearer {scrape_key}"})
        assert scraped.status_code == 200, scraped.text[:300]
        assert "litellm_" in scraped.text
        consumer = http.get("/metrics/", headers={"Authorization": f"Bearer {gateway.keys['langchain']}"})
        assert consumer.status_code == 401, consumer.text[:300]
    as_chat = chat(a, scrape_key, "llama3.2")
    assert as_chat.status_code == 403, (as_chat.status_code, error_type(as_chat))


def _acl_denials(gateway) -> list[str]:
    """Redis's ACL LOG entries for this run's user (what the ACL refused LiteLLM)."""
    import redis as redis_lib

    client = redis_lib.Redis(host="127.0.0.1", port=6379, socket_timeout=5)
    try:
        entries = client.execute_command("ACL", "LOG", "128")
    finally:
        client.close()
    found = []
    for entry in entries:
        item = {}
        if isinstance(entry, dict):
            item = {(k.decode() if isinstance(k, bytes) else k): v for k, v in entry.items()}
        else:
            it = iter(entry)
            item = {(k.decode() if isinstance(k, bytes) else k): v for k, v in zip(it, it)}
        user = item.get("username")
        user = user.decode() if isinstance(user, bytes) else user
        if user == gateway.acl_user:
            obj = item.get("object")
            reason = item.get("reason")
            found.append(f"{(reason or b'').decode() if isinstance(reason, bytes) else reason}: "
                         f"{(obj or b'').decode() if isinstance(obj, bytes) else obj}")
    return found


def test_a_deleted_key_is_refused_on_every_other_worker_within_seconds(gateway):
    """A key removed from the catalog (the VirtualKey provider's Delete, through proxy A) must stop
    working on proxy B within seconds, not after B's in-memory auth cache TTL (60 s).

    How the pinned proxy propagates it (read in its source): `delete_cache_key_object` (used by
    `/key/update` and `/key/block`, not by `/key/delete`) drops the key object locally and publishes
    its hash on the Redis channel `<cache namespace>:litellm_proxy.auth_cache_invalidation`, which
    every process subscribes to (`AuthCacheInvalidationSubscriber`). Two things stop that today,
    both shown by this test's failure message:
    - the rendered Redis ACL (`resetchannels`, no `&` pattern) refuses LiteLLM's channels: Redis's
      ACL LOG lists `channel: <ns>:litellm_proxy.auth_cache_invalidation` and `...config_change`
      (components/redis_cache.py: helper C's change);
    - `/key/delete` (`delete_verification_tokens`) evicts the token on the handling process only and
      broadcasts nothing for it: the provider must block (or update) the key before deleting it
      (components/litellm_admin: helper E's change).
    With both changed (checked by hand: the ACL line plus `"&<ns>:litellm_proxy.*"`, and a
    `/key/block` before the provider's Delete), B refused the key within 10 s; this test then passes
    unchanged, since it uses the rendered ACL and the provider as they are.
    """
    key = gateway.keys["copilotkit"]
    applied = gateway.key_resource("copilotkit")
    a, b = gateway.a, gateway.b
    # B learns API-managed models from the database on its own schedule: wait until it serves.
    wait_until(lambda: chat(b, key, "llama3.2").status_code == 200, timeout=120, interval=2.0,
               what="proxy B answering the consumer's key")
    assert chat(a, key, "llama3.2").status_code == 200
    assert chat(b, key, "llama3.2").status_code == 200  # B holds the key in its in-memory auth cache

    # The key leaves the catalog: the provider deletes it (through proxy A).
    gateway.host.delete(applied.id, applied.declared.urn, applied.outs, old_inputs=applied.inputs)
    assert a.key_row(key) is None
    on_a = chat(a, key, "llama3.2")
    assert on_a.status_code == 401, (on_a.status_code, error_type(on_a))

    deadline = time.monotonic() + REVOKED_WITHIN_SECONDS
    statuses = []
    while time.monotonic() < deadline:
        statuses.append(chat(b, key, "llama3.2").status_code)
        if statuses[-1] == 401:
            break
        time.sleep(0.5)
    assert statuses and statuses[-1] == 401, (
        f"proxy B still accepted the deleted key {len(statuses)} times over {REVOKED_WITHIN_SECONDS:.0f}s "
        f"(statuses {statuses}); LiteLLM invalidates other workers' auth caches over Redis pub/sub "
        f"(channel '{gateway.namespace}:litellm_proxy.auth_cache_invalidation'); Redis ACL denials for "
        f"the rendered user: {_acl_denials(gateway) or 'none'}"
    )


def test_a_key_past_its_expiry_is_refused(gateway):
    # it worked before its time (checked that many seconds before it)
    ahead = (gateway.expires_at - gateway.probe_expiry_checked_at).total_seconds()
    print(f"the probe key answered {ahead:.1f}s before its expiry")
    assert gateway.probe_expiry_answered_before == 200, f"probe key checked {ahead:.1f}s before its expiry"
    remaining = (gateway.expires_at - datetime.now(timezone.utc)).total_seconds()
    if remaining > -1:
        time.sleep(remaining + 1.5)
    reply = chat(gateway.a, gateway.keys["probe-expiry"], "llama3.2")
    assert reply.status_code == 401, (reply.status_code, error_type(reply))
    assert "expired" in reply.text.lower(), reply.text[:300]
