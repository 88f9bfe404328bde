"""The pinned LiteLLM proxy WITH its database, for tests and for trying things by hand.

What runs (facts: /work/shared/reference/litellm-db-offline.md):

- a fresh PostgreSQL database on 127.0.0.1:5432 (:class:`ProxyDatabase`), owned by a fresh login role
  with a random password (the proxy connects as that role, not as a superuser), with LiteLLM's own
  migration SQL applied in Prisma's order (``postgres_apply.apply_litellm_migrations``); both are
  named ``llmgw_rp<pid>_...`` (``postgres_fixtures.process_prefix``) and dropped at the end;
- the proxy (``proxy_harness.RunningProxy`` with ``keep_database=True``) with ``DATABASE_URL``,
  ``DISABLE_SCHEMA_UPDATE=true`` (nothing migrates at start-up: the schema engine does not exist
  here), ``LITELLM_LOCAL_MODEL_COST_MAP=True``, master and salt keys, ``--num_workers N``, and
  Prisma's query engine replaced by the WebAssembly build behind a translator
  (``real_proxy_prisma``, ``tests/support/prisma_engine/``);
- optionally real Redis (:class:`RedisTarget`: the shared server on 127.0.0.1:6379 or your own).

Readiness means ``/health/readiness`` answers 200 with ``"db": "connected"``.

Standalone (runs until SIGINT/SIGTERM; prints the URL; drops its database on exit)::

    .venv/bin/python -m tests.support.real_proxy --port 4100 --master-key sk-local-1234 --config my.yaml

Without ``--config`` it serves :data:`DEFAULT_CONFIG` (models answering with ``mock_response``).
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import logging
import os
import secrets
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psycopg
import yaml

from tests.support import real_proxy_prisma
from tests.support.postgres_apply import (
    ScratchCluster,
    apply_database,
    apply_litellm_migrations,
    apply_role,
    database_url,
)
from tests.support.postgres_fixtures import ADMIN_DSN, START_HINT, process_prefix
from tests.support.proxy_harness import RunningProxy

__all__ = [
    "DEFAULT_CONFIG",
    "DEFAULT_MODELS",
    "MOCK_PRICES",
    "ProxyDatabase",
    "RealProxy",
    "RealProxyError",
    "RedisTarget",
    "hash_token",
    "wait_until",
    "main",
]

log = logging.getLogger(__name__)

#: Models answering without any upstream (``mock_response``), in the default config.
DEFAULT_MODELS: tuple[str, ...] = ("mock-gpt", "mock-gpt-mini", "mock-gpt-large")

#: Explicit prices so a mocked answer costs something and spend reaches PostgreSQL (an unknown model
#: name costs 0).
MOCK_PRICES: dict[str, float] = {"input_cost_per_token": 0.000001, "output_cost_per_token": 0.000002}

DEFAULT_CONFIG: dict[str, Any] = {
    "model_list": [
        {
            "model_name": name,
            "litellm_params": {"model": f"openai/{name}", "mock_response": f"pong from {name}", **MOCK_PRICES},
        }
        for name in DEFAULT_MODELS
    ],
    "general_settings": {"master_key": "os.environ/LITELLM_MASTER_KEY"},
}

#: general_settings.proxy_batch_write_at the harness sets unless the config sets it: spend reaches
#: PostgreSQL within ~1-6 s (LiteLLM adds 0-5 s of jitter) instead of 10-15 s.
DEFAULT_BATCH_WRITE_AT = 1

T = TypeVar("T")


class RealProxyError(RuntimeError):
    """The real proxy or its database could not be set up."""


def hash_token(key: str) -> str:
    """How LiteLLM stores a virtual key (``LiteLLM_VerificationToken.token``): sha256 hex of the key."""
    return hashlib.sha256(key.encode()).hexdigest()


def wait_until(probe: Callable[[], T | None], *, timeout: float, interval: float = 0.5, what: str = "condition") -> T:
    """Call ``probe`` until it returns something truthy; raise TimeoutError (with ``what``) after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not reached within {timeout:.0f}s")
        time.sleep(interval)


# ------------------------------------------------------------------------------------------------
# the database


class ProxyDatabase:
    """A fresh database with LiteLLM's migrations, owned by a fresh login role with a password.

    ``create()`` then ``drop()`` (or use as a context manager). ``url`` is the proxy's
    ``DATABASE_URL`` (secret: it carries the password); ``dsn`` connects as the owner role;
    ``query()`` runs SQL as that role.
    """

    def __init__(self, admin_dsn: str = ADMIN_DSN, *, prefix: str | None = None, label: str = "proxy") -> None:
        self.admin_dsn = admin_dsn
        self.prefix = prefix or process_prefix("rp")
        self.label = label
        self.name: str | None = None
        self.role: str | None = None
        self._password = secrets.token_urlsafe(24)
        self._scratch: ScratchCluster | None = None
        self.migrations_applied = 0
        self.migration_seconds = 0.0

    def __repr__(self) -> str:  # no password
        return f"ProxyDatabase({self.name!r}, role={self.role!r})"

    def create(self) -> "ProxyDatabase":
        if self._scratch is not None:
            raise RealProxyError(f"{self!r} already created")
        try:
            self._scratch = ScratchCluster(self.admin_dsn, self.prefix)
        except psycopg.OperationalError as exc:
            raise RealProxyError(f"cannot reach PostgreSQL ({exc}). {START_HINT}") from None
        try:
            self.role = self._scratch.role_name("owner")
            self.name = self._scratch.database_name(self.label)
            apply_role(self._scratch.admin, self.role, self._password, login=True)
            apply_database(self._scratch.admin, self.name, self.role)
            report = apply_litellm_migrations(self.dsn)
            if not report.ok:
                error = report.first_error
                raise RealProxyError(
                    f"LiteLLM migration {error.migration if error else '?'} failed on {self.name}: "
                    f"[{error.sqlstate if error else '?'}] {error.message if error else 'not all applied'}"
                )
            self.migrations_applied = report.applied_count
            self.migration_seconds = report.seconds
        except BaseException:
            self.drop()
            raise
        log.info("%r: %d migrations applied in %.1fs", self, self.migrations_applied, self.migration_seconds)
        return self

    @property
    def dsn(self) -> str:
        """libpq conninfo for the owner role (carries the password: do not print)."""
        if self._scratch is None or self.name is None or self.role is None:
            raise RealProxyError("database not created")
        return self._scratch.dsn(self.role, self.name, self._password)

    @property
    def admin_database_dsn(self) -> str:
        """libpq conninfo for the admin (superuser) role on this database."""
        if self._scratch is None or self.name is None:
            raise RealProxyError("database not created")
        return self._scratch.dsn("postgres", self.name)

    @property
    def url(self) -> str:
        """The proxy's DATABASE_URL (postgresql://role:password@127.0.0.1:5432/name?sslmode=disable)."""
        if self.name is None or self.role is None:
            raise RealProxyError("database not created")
        from psycopg.conninfo import conninfo_to_dict

        params = conninfo_to_dict(self.admin_dsn)
        return database_url(
            self.role, self._password, params.get("host", "127.0.0.1"), int(params.get("port", 5432)), self.name, "disable"
        )

    def query(self, statement: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Run one statement as the owner role (autocommit); rows, or [] when it returns none."""
        with psycopg.connect(self.dsn, autocommit=True, application_name="real_proxy-test") as conn:
            cur = conn.execute(statement, params)
            return cur.fetchall() if cur.description else []

    def drop(self) -> None:
        """Terminate its sessions, drop the database and the role. Idempotent; raises on leftovers."""
        scratch, self._scratch = self._scratch, None
        if scratch is None:
            return
        problems = scratch.cleanup()
        if problems:
            raise RealProxyError("dropping the proxy's database left objects behind:\n  " + "\n  ".join(problems))

    def __enter__(self) -> "ProxyDatabase":
        return self.create()

    def __exit__(self, *exc: object) -> None:
        self.drop()


# ------------------------------------------------------------------------------------------------
# Redis


@dataclass(frozen=True)
class RedisTarget:
    """A Redis server for the proxy, given to it as REDIS_HOST/REDIS_PORT(/REDIS_USERNAME/REDIS_PASSWORD).
    The config decides what uses it (``litellm_settings.cache``, ``router_settings.redis_*``): refer
    to ``os.environ/REDIS_HOST`` etc. there. On the shared server use a unique cache namespace."""

    host: str = "127.0.0.1"
    port: int = 6379
    username: str | None = None
    password: str | None = None

    def env(self) -> dict[str, str]:
        env = {"REDIS_HOST": self.host, "REDIS_PORT": str(self.port)}
        if self.username:
            env["REDIS_USERNAME"] = self.username
        if self.password:
            env["REDIS_PASSWORD"] = self.password
        return env


# ------------------------------------------------------------------------------------------------
# the proxy


def _load_config(config: Mapping[str, Any] | str | os.PathLike[str] | None) -> dict[str, Any]:
    if config is None:
        return copy.deepcopy(DEFAULT_CONFIG)
    if isinstance(config, (str, os.PathLike)):
        loaded = yaml.safe_load(Path(config).read_text())
        if not isinstance(loaded, dict):
            raise ValueError(f"{config}: not a YAML mapping")
        return loaded
    return copy.deepcopy(dict(config))


class RealProxy:
    """The pinned LiteLLM proxy with a real database (see the module docstring).

    ``RealProxy(config=None, num_workers=1, redis=None, env=None, ...)``, then ``start()`` /
    ``stop()`` or ``with``. Without ``database=`` it creates its own :class:`ProxyDatabase` at start
    and drops it at stop; a given database is left to its owner (e.g. two proxies sharing one DB).
    """

    def __init__(
        self,
        config: Mapping[str, Any] | str | os.PathLike[str] | None = None,
        *,
        master_key: str | None = None,
        salt_key: str | None = None,
        num_workers: int = 1,
        redis: RedisTarget | None = None,
        env: Mapping[str, str] | None = None,
        port: int | None = None,
        database: ProxyDatabase | None = None,
        name: str = "real-proxy",
        startup_timeout: float = 900.0,
        batch_write_at: int | None = DEFAULT_BATCH_WRITE_AT,
        extra_args: Sequence[str] = (),
        schema_drift_check_timeout: float | None = 5.0,
    ) -> None:
        if num_workers < 1:
            raise ValueError("num_workers must be >= 1")
        self.config = _load_config(config)
        general = self.config.setdefault("general_settings", {}) or {}
        self.config["general_settings"] = general
        if batch_write_at is not None:
            general.setdefault("proxy_batch_write_at", batch_write_at)
        self.master_key = master_key or f"sk-master-{secrets.token_hex(16)}"
        if not self.master_key.startswith("sk-"):
            raise ValueError("LiteLLM requires the master key to start with 'sk-'")
        self._salt_key = salt_key or f"sk-salt-{secrets.token_hex(16)}"
        self.num_workers = num_workers
        self.redis = redis
        self._extra_env = dict(env or {})
        self._port = port
        self._own_database = database is None
        self.database = database
        self.name = name
        self.startup_timeout = startup_timeout
        self._extra_args = list(extra_args)
        # At start-up the proxy runs `prisma migrate diff` (litellm/proxy/db/check_migration.py), which
        # needs the schema engine that does not exist here: it can only fail, and reports "no diff"
        # when it does. Its Node CLI costs 10 s of CPU (~50 s wall on a loaded 2-core box), so its
        # budget (LITELLM_PRISMA_COMMAND_TIMEOUT) is cut to this unless None (LiteLLM's 60 s default).
        self.schema_drift_check_timeout = schema_drift_check_timeout
        self.proxy: RunningProxy | None = None

    def __repr__(self) -> str:
        return f"RealProxy({self.name!r}, workers={self.num_workers}, {self.proxy!r}, {self.database!r})"

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> "RealProxy":
        if self.proxy is not None:
            raise RealProxyError(f"{self!r} already started")
        try:
            engine_env = real_proxy_prisma.prepare()
        except real_proxy_prisma.PrismaSetupError as exc:
            raise RealProxyError(str(exc)) from None
        if self.database is None:
            self.database = ProxyDatabase(label=self.name.replace("-", "_")[:16])
        if self.database.name is None:
            self.database.create()
        env = {
            "LITELLM_MASTER_KEY": self.master_key,
            "LITELLM_SALT_KEY": self._salt_key,
            "DATABASE_URL": self.database.url,
            "DISABLE_SCHEMA_UPDATE": "true",
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            **engine_env,
            **(
                {"LITELLM_PRISMA_COMMAND_TIMEOUT": str(self.schema_drift_check_timeout)}
                if self.schema_drift_check_timeout is not None
                else {}
            ),
            # uvicorn (--num_workers > 1) kills a worker that does not answer its supervisor's ping within
            # 5 s and starts another; a worker spawned on a loaded 2-core box needs longer than that to
            # import the proxy, so with the default the workers are replaced forever and none serves.
            "TIMEOUT_WORKER_HEALTHCHECK": "120",
            **(self.redis.env() if self.redis else {}),
            **self._extra_env,
        }
        args = ["--port", "4000", "--num_workers", str(self.num_workers), *self._extra_args]
        self.proxy = RunningProxy(
            self.config, env, args, name=self.name, port=self._port, startup_timeout=self.startup_timeout,
            keep_database=True,
            helper_cmdline=str(real_proxy_prisma.ENGINE_DIR / "translator.mjs"),
        )
        try:
            self.proxy.start()
            self._check_database_connected()
        except BaseException:
            self.stop()
            raise
        return self

    def _check_database_connected(self) -> None:
        assert self.proxy is not None
        with self.proxy.http_client(timeout=10.0) as http:
            response = http.get("/health/readiness")
        body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
        if response.status_code != 200 or body.get("db") != "connected":
            raise RealProxyError(
                f"{self.name}: /health/readiness says db={body.get('db')!r} (HTTP {response.status_code}); "
                f"expected 'connected'.\n--- proxy output ---\n{self.proxy.output_tail(80)}"
            )

    def stop(self) -> None:
        """Stop the proxy (process group), then drop its own database. Idempotent."""
        proxy, self.proxy = self.proxy, None
        if proxy is not None:
            proxy.stop()
        if self._own_database and self.database is not None:
            database, self.database = self.database, None
            database.drop()

    def __enter__(self) -> "RealProxy":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- access --------------------------------------------------------------------------------
    def _running(self) -> RunningProxy:
        if self.proxy is None:
            raise RealProxyError(f"{self.name} is not running")
        return self.proxy

    @property
    def base_url(self) -> str:
        return self._running().base_url

    @property
    def port(self) -> int:
        return self._running().port

    @property
    def database_url(self) -> str:
        """The proxy's DATABASE_URL (carries the role's password: do not print)."""
        assert self.database is not None
        return self.database.url

    @property
    def salt_key(self) -> str:
        """The proxy's LITELLM_SALT_KEY (secret: do not print); another proxy on the same database
        needs it to read what this one stored encrypted."""
        return self._salt_key

    def headers(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key if key is not None else self.master_key}"}

    def client(self, key: str | None = None, **kwargs: Any) -> httpx.Client:
        """httpx client on the proxy, authenticated with ``key`` (default: the master key)."""
        kwargs.setdefault("timeout", 60.0)
        kwargs.setdefault("headers", self.headers(key))
        return self._running().http_client(**kwargs)

    def openai_client(self, api_key: str | None = None, **kwargs: Any):
        return self._running().openai_client(api_key if api_key is not None else self.master_key, **kwargs)

    def output(self) -> str:
        return self._running().output()

    # -- conveniences for tests ----------------------------------------------------------------
    def admin(self, method: str, path: str, json: Any = None, *, key: str | None = None) -> httpx.Response:
        """One request with the master key (or ``key``); the response whatever its status."""
        with self.client(key) as http:
            return http.request(method, path, json=json)

    def generate_key(self, **body: Any) -> str:
        """POST /key/generate; returns the new key (fails on any status but 200)."""
        response = self.admin("POST", "/key/generate", body)
        if response.status_code != 200:
            raise RealProxyError(f"/key/generate answered {response.status_code}: {response.text[:500]}")
        return response.json()["key"]

    def chat(self, key: str, model: str = "mock-gpt", content: str = "ping", **body: Any) -> httpx.Response:
        """POST /v1/chat/completions with ``key``; the response whatever its status."""
        payload = {"model": model, "messages": [{"role": "user", "content": content}], **body}
        with self.client(key) as http:
            return http.post("/v1/chat/completions", json=payload)

    def key_row(self, key: str) -> dict[str, Any] | None:
        """The key's row in LiteLLM_VerificationToken (by its hash), as a dict, or None."""
        assert self.database is not None
        with psycopg.connect(self.database.dsn, autocommit=True) as conn:
            cur = conn.execute('SELECT * FROM "LiteLLM_VerificationToken" WHERE token = %s', (hash_token(key),))
            row = cur.fetchone()
            return dict(zip([c.name for c in cur.description], row)) if row else None

    def wait_for_key_spend(self, key: str, *, timeout: float = 90.0) -> float:
        """Wait until the key's spend in PostgreSQL is > 0 (LiteLLM writes it in batches)."""

        def spend() -> float | None:
            row = self.key_row(key)
            return row["spend"] if row and row["spend"] and row["spend"] > 0 else None

        return wait_until(spend, timeout=timeout, interval=1.0, what=f"spend of the key in {self.database!r}")

    def wait_for_spend_logs(self, key: str, *, rows: int = 1, timeout: float = 120.0) -> list[dict[str, Any]]:
        """Wait until ``LiteLLM_SpendLogs`` holds at least ``rows`` rows for the key (its own queue,
        flushed apart from the key's spend); returns them as dicts, oldest first."""
        assert self.database is not None

        def fetch() -> list[dict[str, Any]] | None:
            with psycopg.connect(self.database.dsn, autocommit=True) as conn:
                cur = conn.execute(
                    'SELECT * FROM "LiteLLM_SpendLogs" WHERE api_key = %s ORDER BY "startTime"', (hash_token(key),)
                )
                found = [dict(zip([c.name for c in cur.description], row)) for row in cur.fetchall()]
            return found if len(found) >= rows else None

        return wait_until(fetch, timeout=timeout, interval=1.0, what=f"{rows} spend log row(s) of the key")


# ------------------------------------------------------------------------------------------------
# standalone


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.real_proxy",
        description="Serve the pinned LiteLLM proxy with a fresh PostgreSQL database until killed.",
    )
    parser.add_argument("--port", type=int, default=None, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument(
        "--master-key",
        default=None,
        help="master key (must start with sk-); default: $LITELLM_MASTER_KEY, else a random one (printed)",
    )
    parser.add_argument("--config", default=None, help="LiteLLM config.yaml (default: mock models, see DEFAULT_CONFIG)")
    parser.add_argument("--num-workers", type=int, default=1)
    parser.add_argument("--redis", default=None, metavar="HOST:PORT", help="give the proxy REDIS_HOST/REDIS_PORT")
    parser.add_argument("--startup-timeout", type=float, default=900.0)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # should anything here import litellm
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    master_key = args.master_key or os.environ.get("LITELLM_MASTER_KEY")
    generated_key = master_key is None
    redis = None
    if args.redis:
        host, _, port = args.redis.rpartition(":")
        redis = RedisTarget(host=host or "127.0.0.1", port=int(port))
    proxy = RealProxy(
        args.config,
        master_key=master_key,
        num_workers=args.num_workers,
        redis=redis,
        port=args.port,
        name="standalone",
        startup_timeout=args.startup_timeout,
    )
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        proxy.start()
        assert proxy.database is not None and proxy.proxy is not None
        print(f"LiteLLM proxy with database ready: {proxy.base_url}", flush=True)
        print(f"  workers: {proxy.num_workers}; log: {proxy.proxy.log_path}", flush=True)
        print(
            f"  database: {proxy.database.name} on 127.0.0.1:5432 "
            f"(psql -h 127.0.0.1 -U postgres -d {proxy.database.name}); dropped on exit",
            flush=True,
        )
        if generated_key:
            print(f"  master key (generated): {proxy.master_key}", flush=True)
        print("Ctrl-C or SIGTERM stops it.", flush=True)
        while not stop.wait(1.0):
            if proxy.proxy is None or not proxy.proxy.running:
                print("the proxy exited; its output:\n" + (proxy.proxy.output_tail(80) if proxy.proxy else ""), file=sys.stderr)
                return 1
        return 0
    finally:
        proxy.stop()
        print("stopped; database dropped", flush=True)


if __name__ == "__main__":
    sys.exit(main())
