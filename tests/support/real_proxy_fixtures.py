"""pytest fixtures: the pinned LiteLLM proxy WITH its database (tests/support/real_proxy.py).

Import what you use into a test module (or a conftest)::

    from tests.support.real_proxy_fixtures import real_proxy, real_proxy_factory, unique_name

- ``real_proxy`` (session): one proxy with :data:`real_proxy.DEFAULT_CONFIG` (models ``mock-gpt``,
  ``mock-gpt-mini``, ``mock-gpt-large`` answering with ``mock_response``, priced so spend is > 0),
  1 worker, its own fresh database with LiteLLM's migrations. Shared by every module of the session
  that imports it (it is booted once per process even when several modules import the fixture): give
  teams/keys/models names from ``unique_name``.
- ``real_proxy_factory`` (session): ``real_proxy_factory.start(config=..., num_workers=2,
  redis=RedisTarget(), env={...}, database=...)`` boots another proxy (own database unless you pass
  one; several proxies may share a :class:`ProxyDatabase`); everything it started is stopped and
  dropped at the end of the session. ``real_proxy_factory.stop(proxy)`` stops one early.
- ``unique_name`` (function): ``unique_name("team")`` -> ``"team-<test>-<random>"``.

Never skipped: a missing Node/npm/PostgreSQL fails the test with what to install.
"""

from __future__ import annotations

import contextlib
import re
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.support.real_proxy import ProxyDatabase, RealProxy, RedisTarget

__all__ = ["RealProxyFactory", "real_proxy_factory", "real_proxy", "unique_name", "shared_factory"]


class RealProxyFactory:
    """Starts :class:`RealProxy` instances and stops them all at ``close()``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._started: list[RealProxy] = []
        self._default: RealProxy | None = None

    def start(
        self,
        config: Mapping[str, Any] | str | Path | None = None,
        *,
        num_workers: int = 1,
        redis: RedisTarget | None = None,
        env: Mapping[str, str] | None = None,
        database: ProxyDatabase | None = None,
        name: str = "real-proxy",
        **kwargs: Any,
    ) -> RealProxy:
        proxy = RealProxy(config, num_workers=num_workers, redis=redis, env=env, database=database, name=name, **kwargs)
        with self._lock:
            self._started.append(proxy)
        proxy.start()
        return proxy

    def default(self) -> RealProxy:
        """The session's shared default proxy (started on first use)."""
        with self._lock:
            if self._default is not None and self._default.proxy is not None:
                return self._default
        proxy = self.start(name="shared")
        with self._lock:
            self._default = proxy
        return proxy

    def stop(self, proxy: RealProxy) -> None:
        proxy.stop()
        with self._lock:
            if proxy in self._started:
                self._started.remove(proxy)
            if self._default is proxy:
                self._default = None

    def close(self) -> None:
        """Stop every proxy (and drop their databases); raise the first failure after trying all."""
        with self._lock:
            started, self._started, self._default = list(reversed(self._started)), [], None
        errors = []
        for proxy in started:
            try:
                proxy.stop()
            except Exception as exc:  # keep stopping the others
                errors.append(exc)
        if errors:
            raise errors[0]


_SHARED: RealProxyFactory | None = None
_SHARED_LOCK = threading.Lock()
_SHARED_USERS = 0


def shared_factory() -> RealProxyFactory:
    """The process-wide factory behind the fixtures (one per test process)."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            _SHARED = RealProxyFactory()
        return _SHARED


@contextlib.contextmanager
def _using_shared_factory() -> Iterator[RealProxyFactory]:
    # Imported into several modules, each fixture here is several session fixtures: they share one
    # factory, and the last one to finish closes it (stops every proxy, drops their databases).
    global _SHARED_USERS
    factory = shared_factory()
    with _SHARED_LOCK:
        _SHARED_USERS += 1
    try:
        yield factory
    finally:
        with _SHARED_LOCK:
            _SHARED_USERS -= 1
            last = _SHARED_USERS == 0
        if last:
            factory.close()


@pytest.fixture(scope="session")
def real_proxy_factory() -> Iterator[RealProxyFactory]:
    with _using_shared_factory() as factory:
        yield factory


@pytest.fixture(scope="session")
def real_proxy() -> Iterator[RealProxy]:
    """The shared default proxy with its database (see the module docstring); needs no other import."""
    with _using_shared_factory() as factory:
        yield factory.default()


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> Callable[[str], str]:
    test = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:24]

    def make(prefix: str = "x") -> str:
        return f"{prefix}-{test}-{uuid.uuid4().hex[:8]}"

    return make
