"""pytest fixtures for end-to-end tests against the real LiteLLM proxy.

Import them into a conftest (``from tests.support.e2e_fixtures import *``). Provided:

- ``redis_endpoint`` (session): a Redis reachable now. The machine's Redis at 127.0.0.1:6379 when it
  answers PING; otherwise a private ``redis-server`` on a free loopback port (own process group,
  nothing persisted, killed at the end). Neither possible => the test run FAILS (never skips).
- ``redis_client`` (session): a ``redis.Redis`` on that endpoint.
- ``module_cache_namespace`` (module): a unique namespace for the proxies of one module
  (``cache_params.namespace``); every key under it is deleted when the module ends.
- ``cache_namespace`` (function): a unique per-test namespace. Send it with a request as
  ``extra_body={"cache": {"namespace": ns}}``: the proxy then stores the response under
  ``<module namespace>:<ns>:<sha256>`` (observed with litellm 1.108.7), so tests never see each
  other's entries. Its keys are deleted after the test.
- ``fake_factory`` (module): ``fake_factory(FakeOllama, "ollama-a")`` starts a fake upstream that
  lives for the module; ``fake_factory.fleet`` is every fake made so far.
- :class:`FakeFleet`: ``recover_and_reset()`` for per-test isolation; ``settle_cooldowns()`` waits
  out the router's cooldown after a test made a fake fail on purpose.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

import pytest
import redis

from tests.support.fake_upstreams import FakeUpstream, free_port

__all__ = [
    "RedisEndpoint",
    "FakeFleet",
    "redis_endpoint",
    "redis_client",
    "module_cache_namespace",
    "cache_namespace",
    "fake_factory",
    "wait_for_redis_key",
]

SYSTEM_REDIS = ("127.0.0.1", 6379)


@dataclass(frozen=True)
class RedisEndpoint:
    host: str
    port: int
    password: str | None = None
    private: bool = False  # True when this run started its own redis-server

    def client(self) -> redis.Redis:
        return redis.Redis(host=self.host, port=self.port, password=self.password, socket_timeout=5)

    def cache_params(self, namespace: str) -> dict:
        """``litellm_settings.cache_params`` for this Redis (host/port, as docs/proxy/prod.md advises).

        The password is always the ``os.environ/REDIS_PASSWORD`` reference, as the renderer writes
        it; put :meth:`env` into the proxy's environment (it is empty when Redis has no password:
        the pinned proxy resolves a missing variable to None and connects without AUTH)."""
        return {
            "type": "redis",
            "host": self.host,
            "port": self.port,
            "password": "os.environ/REDIS_PASSWORD",
            "namespace": namespace,
        }

    def env(self) -> dict[str, str]:
        """The env-file lines for this Redis (none when it has no password)."""
        return {"REDIS_PASSWORD": self.password} if self.password else {}


def _pings(host: str, port: int, password: str | None = None) -> bool:
    try:
        return bool(redis.Redis(host=host, port=port, password=password, socket_timeout=2, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


def _start_private_redis() -> tuple[RedisEndpoint, subprocess.Popen, str]:
    binary = shutil.which("redis-server") or ("/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None)
    if binary is None:
        pytest.fail(
            f"no Redis answers at {SYSTEM_REDIS[0]}:{SYSTEM_REDIS[1]} and no redis-server binary to start a private one",
            pytrace=False,
        )
    workdir = tempfile.mkdtemp(prefix="e2e-redis-")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no", "--dir", workdir],
        stdout=open(os.path.join(workdir, "redis.log"), "wb"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        if _pings("127.0.0.1", port):
            return RedisEndpoint("127.0.0.1", port, private=True), proc, workdir
        time.sleep(0.1)
    _stop_group(proc)
    with open(os.path.join(workdir, "redis.log"), errors="replace") as f:
        tail = "".join(f.readlines()[-20:])
    pytest.fail(f"a private redis-server on 127.0.0.1:{port} did not answer PING:\n{tail}", pytrace=False)


def _stop_group(proc: subprocess.Popen) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=5)
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture(scope="session")
def redis_endpoint() -> Iterator[RedisEndpoint]:
    if _pings(*SYSTEM_REDIS):
        yield RedisEndpoint(*SYSTEM_REDIS)
        return
    endpoint, proc, workdir = _start_private_redis()
    try:
        yield endpoint
    finally:
        _stop_group(proc)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_client(redis_endpoint: RedisEndpoint) -> Iterator[redis.Redis]:
    client = redis_endpoint.client()
    yield client
    client.close()


def _delete_prefix(client: redis.Redis, pattern: str) -> None:
    keys = list(client.scan_iter(match=pattern, count=500))
    if keys:
        client.delete(*keys)


@pytest.fixture(scope="module")
def module_cache_namespace(redis_client: redis.Redis, request: pytest.FixtureRequest) -> Iterator[str]:
    module = request.module.__name__.rsplit(".", 1)[-1]
    namespace = f"e2e-{module}-{uuid.uuid4().hex[:10]}"
    yield namespace
    _delete_prefix(redis_client, f"{namespace}:*")


@pytest.fixture
def cache_namespace(redis_client: redis.Redis) -> Iterator[str]:
    namespace = f"t-{uuid.uuid4().hex[:12]}"
    yield namespace
    _delete_prefix(redis_client, f"*:{namespace}:*")
    _delete_prefix(redis_client, f"{namespace}:*")


def wait_for_redis_key(client: redis.Redis, pattern: str, timeout: float = 10.0) -> list[bytes]:
    """Keys matching ``pattern``, polling until there is at least one (the proxy may write its
    cache entry just after answering). Returns [] when none appeared within ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        keys = list(client.scan_iter(match=pattern, count=500))
        if keys or time.monotonic() > deadline:
            return keys
        time.sleep(0.05)


F = TypeVar("F", bound=FakeUpstream)


class FakeFleet(list):
    """The fakes of a module, with the per-test housekeeping they need."""

    def recover_and_reset(self) -> None:
        for fake in self:
            fake.recover()
            fake.reset()

    def settle_cooldowns(self, cooldown_time: float, since: float) -> None:
        """If some fake failed on purpose after ``since`` (a ``time.monotonic()``), wait until
        ``cooldown_time`` (+1 s margin) has passed since the last such failure: by then the router's
        cooldown entries and allowed-fails counters (TTL = cooldown_time) are gone, and the next
        test sees every deployment healthy again."""
        failures = [f.last_failure_at for f in self if f.last_failure_at is not None and f.last_failure_at >= since]
        if failures:
            remaining = max(failures) + cooldown_time + 1.0 - time.monotonic()
            if remaining > 0:
                time.sleep(remaining)

    @contextmanager
    def isolated(self, cooldown_time: float) -> Iterator[None]:
        """Around one test: healthy, zeroed fakes before; after, end hangs (counted as failures
        when they end), reset, and wait out any cooldown the test caused."""
        self.recover_and_reset()
        since = time.monotonic()
        yield
        self.recover_and_reset()
        self.settle_cooldowns(cooldown_time, since)


@pytest.fixture(scope="module")
def fake_factory() -> Iterator[Callable[..., FakeUpstream]]:
    fleet = FakeFleet()

    def make(cls: type[F], identity: str, **kwargs: object) -> F:
        fake = cls(identity, **kwargs).start()
        fleet.append(fake)
        return fake

    make.fleet = fleet  # type: ignore[attr-defined]
    try:
        yield make
    finally:
        for fake in fleet:
            fake.close()
