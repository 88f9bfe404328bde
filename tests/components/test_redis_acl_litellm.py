"""The declared Redis ACL user, on the real Redis (127.0.0.1:6379), with the pinned LiteLLM:

- LiteLLM's own pub/sub (AuthCacheInvalidationSubscriber / ConfigSyncSubscriber, and the publish
  functions next to them in litellm/proxy/common_utils/*_pubsub.py) passes between two "workers"
  (two coordination RedisCache clients built from the rendered `general_settings.coordination_redis`,
  each logged in as the ACL user): a deleted key leaves the other worker's auth cache, a config
  change reaches every worker. With the previous rule set (no channels) the subscription is refused:
  the control that shows the test can fail.
- Another tenant's keys, databases, key names and channels are out of reach.
- The real proxy, several workers, rendered config (router state, response cache and coordination
  Redis all under the namespace), logged in as that user: it serves, writes under the namespace and
  never hits a NOPERM.

Each test uses its own ACL user and namespace (deleted afterwards); the shared Redis is never flushed.
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import time
import uuid

import pytest
import redis

from offline.stack_inputs import load_stack_inputs
from rendering.host_files import proxy_args, render_env_file, secret_env_names
from rendering.litellm_yaml import render_litellm_config
from rendering.redis_acl import acl_setuser_line
from tests.components.test_redis_cache_integration import HOST, PORT, admin, as_user, declare  # noqa: F401
from tests.support.fake_upstreams import FakeOpenAI
from tests.support.host_keys import placeholder_host_key
from tests.support.proxy_harness import RunningProxy, without_database

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


@pytest.fixture
def tenant(admin):  # noqa: F811
    """A unique ACL user and namespace; the user, its keys and the foreign tenant's keys go after."""
    tag = uuid.uuid4().hex[:10]
    user, namespace = f"llmgw_t_{tag}", f"llmgw.t{tag}.cache"
    yield user, namespace
    admin.execute_command("ACL", "DELUSER", user)
    for pattern in (f"{namespace}:*", f"{namespace}x:*", f"other.t{tag}:*"):
        for key in admin.scan_iter(match=pattern, count=500):
            admin.delete(key)
    assert admin.execute_command("ACL", "GETUSER", user) is None


def _create_user(admin, user: str, namespace: str):  # noqa: F811
    d = declare(user, namespace=namespace, workers=2)
    assert f'"&{namespace}:litellm_proxy.auth_cache_invalidation"' in d.stdin
    assert admin.execute_command(*_split(d.stdin)) == b"OK"
    return d


def _split(line: str) -> list[str]:
    """The redis-cli line -> argv (redis_cli_quote's double quotes and backslash escapes)."""
    return shlex.split(line)


def _coordination_params(user: str, namespace: str, password: str) -> dict:
    """What LiteLLM builds its coordination Redis from: the rendered block, env refs resolved."""
    from litellm.proxy._types import CoordinationRedisParams

    settings = load_stack_inputs(
        "dev",
        overrides={
            "redis": {"host": HOST, "port": PORT, "user": user, "manage_acl": True, "host_key": placeholder_host_key("r")},
            "cache": {"enabled": True, "namespace": namespace},
        },
    ).settings()
    block = render_litellm_config(settings)["general_settings"]["coordination_redis"]
    assert block["password"] == "os.environ/REDIS_PASSWORD" and block["namespace"] == namespace
    return CoordinationRedisParams.model_validate({**block, "password": password}).model_dump(exclude_none=True)


def _run(coro):
    loop = asyncio.new_event_loop()  # not asyncio.run: it would leave no current loop for Pulumi
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


async def _wait_for(predicate, what: str, limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.05)


def test_litellm_pubsub_passes_between_two_workers_under_the_acl(admin, tenant):  # noqa: F811
    from litellm.caching.in_memory_cache import InMemoryCache
    from litellm.caching.redis_cache import RedisCache
    from litellm.proxy.common_utils import auth_cache_invalidation_pubsub as auth_pubsub
    from litellm.proxy.common_utils import config_sync_pubsub as config_pubsub
    from litellm.proxy.common_utils.user_api_key_cache import UserApiKeyCache

    user, namespace = tenant
    d = _create_user(admin, user, namespace)
    params = _coordination_params(user, namespace, d.password)
    token = "a" * 64  # a hashed-token cache key, as the key endpoints evict
    auth_channel = f"{namespace}:litellm_proxy.auth_cache_invalidation"
    config_channel = f"{namespace}:litellm_proxy.config_change"

    async def scenario():
        workers = []
        for i in range(2):
            rc = RedisCache(**params)
            cache = UserApiKeyCache(in_memory_cache=InMemoryCache())
            cache.in_memory_cache_for(token).set_cache(token, {"token": token})
            resyncs: list[int] = []

            async def resync(resyncs=resyncs):
                resyncs.append(1)

            auth_sub = auth_pubsub.AuthCacheInvalidationSubscriber(redis_cache=rc, user_api_key_cache=cache)
            config_sub = config_pubsub.ConfigSyncSubscriber(
                redis_cache=rc, resync_callbacks=(resync,), debounce_seconds=0, jitter_max_seconds=0,
                min_resync_interval_seconds=0,
            )
            auth_sub.start()
            config_sub.start()
            workers.append((rc, cache, resyncs, auth_sub, config_sub))
        try:
            assert auth_pubsub.auth_cache_invalidation_channel(workers[0][0]) == auth_channel
            assert config_pubsub.config_sync_channel(workers[0][0]) == config_channel

            def subscribed(channel):
                return dict(admin.pubsub_numsub(channel)).get(channel.encode()) == 2

            await _wait_for(lambda: subscribed(auth_channel) and subscribed(config_channel), "both subscriptions")
            # worker 0 deletes a key: LiteLLM's own publish, as evict_and_broadcast does it
            await auth_pubsub._publish_to_redis(
                workers[0][0], token, auth_pubsub._cache_invalidation_message_json(token)
            )
            await _wait_for(
                lambda: all(w[1].in_memory_cache_for(token).get_cache(token) is None for w in workers),
                "the invalidation on both workers",
            )
            await config_pubsub.publish_config_change(workers[0][0], "litellm_proxymodeltable")
            await _wait_for(lambda: all(w[2] for w in workers), "the config change on both workers")
        finally:
            for rc, _, _, auth_sub, config_sub in workers:
                await auth_sub.stop()
                await config_sub.stop()

    _run(scenario())

    # control: the rule set before this change (resetchannels, no channel) refuses LiteLLM's subscribe
    old_line = acl_setuser_line(user, d.password, [f"{namespace}:*"], [])
    assert admin.execute_command(*_split(old_line)) == b"OK"
    c = as_user(user, d.password)
    try:
        p = c.pubsub()
        with pytest.raises(redis.exceptions.NoPermissionError):
            p.subscribe(auth_channel)
            p.get_message(timeout=1)
        p.close()
    finally:
        c.close()


def test_another_tenants_keys_databases_and_channels_are_out_of_reach(admin, tenant):  # noqa: F811
    user, namespace = tenant
    d = _create_user(admin, user, namespace)
    tag = user.split("_")[-1]
    foreign = f"other.t{tag}:secret"
    lookalike = f"{namespace}x:secret"  # shares the namespace as a string prefix, not as `<ns>:`
    admin.set(foreign, "theirs")
    admin.set(lookalike, "theirs")
    c = as_user(user, d.password)
    try:
        assert c.set(f"{namespace}:mine", "v") is True
        for key in (foreign, lookalike):
            for call in (lambda k: c.get(k), lambda k: c.delete(k), lambda k: c.set(k, "x"),
                         lambda k: c.expire(k, 1), lambda k: c.rename(f"{namespace}:mine", k)):
                with pytest.raises(redis.exceptions.NoPermissionError):
                    call(key)
            with pytest.raises(redis.exceptions.ResponseError, match="(?i)no permissions|NOPERM"):
                c.eval("return redis.call('GET', KEYS[1])", 1, key)
        for command in (("SELECT", "1"), ("SCAN", "0"), ("RANDOMKEY",), ("DBSIZE",), ("PUBSUB", "CHANNELS"),
                        ("SCRIPT", "FLUSH"), ("FUNCTION", "LIST"), ("KEYS", "*"), ("FLUSHDB",)):
            verdict = admin.execute_command("ACL", "DRYRUN", user, *command).decode()
            assert "no permissions" in verdict, (command, verdict)
        with pytest.raises(redis.exceptions.NoPermissionError):
            c.execute_command("SELECT", "1")
        with pytest.raises(redis.exceptions.NoPermissionError):
            c.publish(f"other.t{tag}:litellm_proxy.auth_cache_invalidation", "{}")
        p = c.pubsub()
        with pytest.raises(redis.exceptions.NoPermissionError):
            p.psubscribe("*")
            p.get_message(timeout=1)
        p.close()
    finally:
        c.close()
    assert admin.get(foreign) == b"theirs" and admin.get(lookalike) == b"theirs"


def _parse_env_file(text: str) -> dict[str, str]:
    env = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.partition("=")
        env[name] = re.sub(r"\\(.)", r"\1", value[1:-1])
    return env


def test_the_real_proxy_with_several_workers_stays_inside_its_namespace(admin, tenant):  # noqa: F811
    user, namespace = tenant
    d = _create_user(admin, user, namespace)
    fake = FakeOpenAI("acl-upstream", models=["m1"]).start()
    try:
        settings = load_stack_inputs(
            "dev",
            overrides={
                "redis": {"host": HOST, "port": PORT, "user": user, "manage_acl": True,
                          "host_key": placeholder_host_key("r")},
                "cache": {"enabled": True, "ttl_seconds": 60, "namespace": namespace},
                "tls": {"enabled": False, "allow_plaintext": True},
                "postgres": {"enabled": False, "host": "127.0.0.1"},
                "litellm": {**load_stack_inputs("dev").settings().litellm.model_dump(), "workers": 2,
                            "model_source": "config"},
                "models": [{"id": "m1", "model_name": "m1", "provider": "openai_compatible", "model": "m1",
                            "api_base": fake.base_url + "/v1", "api_key": "os.environ/OPENAI_API_KEY",
                            "rpm": 1000, "tpm": 1000000}],
                "routing": {"strategy": "usage-based-routing-v2"},
                "keys": [], "teams": [], "catalogFiles": [],
                "observability": {},
            },
        ).settings()
        assert settings.router_shares_state
        doc = render_litellm_config(settings)
        assert doc["router_settings"]["cache_kwargs"]["namespace"] == namespace
        values = {n: "" for n in secret_env_names(settings)}
        values.update(LITELLM_MASTER_KEY="sk-acl-" + uuid.uuid4().hex, LITELLM_SALT_KEY="sk-salt-" + uuid.uuid4().hex,
                      REDIS_PASSWORD=d.password, OPENAI_API_KEY="sk-fake-upstream-" + uuid.uuid4().hex)
        env = _parse_env_file(render_env_file(settings, values))
        config, env, _ = without_database(doc, env)
        # --timeout_worker_healthcheck: uvicorn kills a worker that is not ready within 5 s of its
        # spawn; on this shared, loaded test machine importing the proxy in a worker takes longer.
        args = [*proxy_args(settings), "--timeout_worker_healthcheck", "300"]
        with RunningProxy(config, env, args, name="acl-proxy", startup_timeout=400) as proxy:
            client = proxy.openai_client()
            for i in range(4):
                reply = client.chat.completions.create(model="m1", messages=[{"role": "user", "content": f"hi {i % 2}"}])
                assert "[fake:acl-upstream]" in reply.choices[0].message.content
            deadline = time.monotonic() + 30
            while not list(admin.scan_iter(match=f"{namespace}:*", count=1000)) and time.monotonic() < deadline:
                time.sleep(0.2)
            written = [k.decode() for k in admin.scan_iter(match=f"{namespace}:*", count=1000)]
            output = proxy.output()
        assert written, "the proxy wrote nothing under its namespace"
        assert not re.search(r"NOPERM|no permissions", output), [l for l in output.splitlines() if "NOPERM" in l or "no permissions" in l][:5]
    finally:
        fake.close()
