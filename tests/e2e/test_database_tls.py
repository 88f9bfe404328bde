"""Verified TLS to PostgreSQL and Redis, on real servers (issue 16, item 4).

A real PostgreSQL 15 and a real Redis 7, both TLS-only, started here on a free loopback port with a
test CA (tests/support/tls_servers.py). For every client the tests can run, with exactly what the
gateway renders for it: the right CA connects; a wrong CA is refused; a wrong name is refused
(where the client checks names at all: redis-cli does not, and the test says so).

- libpq (psycopg) with what the pulumi-postgresql provider is given (rendering.db_tls.provider_ssl:
  sslmode verify-full + sslrootcert): lib/pq inside the provider gives these libpq's meanings.
- The rendered DATABASE_URL (components.postgres.database_url) through the offline Prisma harness's
  TLS handling (translator.mjs prismaTls + node-pg + OpenSSL): a transcription of quaint's parser,
  NOT Prisma's native engine (native-tls), which cannot run here (docs/security.md).
- LiteLLM's own RedisCache (redis-py, sync client and async pool) built from the rendered
  cache_params with the env file's REDIS_SSL_CA_CERTS.
- redis-cli, by running the rendered manage_acl script (rendering.redis_acl) locally: the part
  that runs over SSH on the Redis host.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import ssl
import subprocess
from pathlib import Path

import psycopg
import pytest

from components.postgres import database_url
from config.redis_settings import RedisSettings
from offline.stack_inputs import load_stack_inputs
from rendering import db_tls
from rendering.litellm_yaml import render_litellm_config
from rendering.redis_acl import acl_create_script, acl_setuser_line
from tests.support import real_proxy_prisma
from tests.support.tls_servers import RIGHT_HOST, WRONG_NAME_HOST, make_pki, temp_workdir, tls_postgres, tls_redis

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pki():
    return make_pki()


@pytest.fixture(scope="module")
def ca_files(pki):
    d = temp_workdir("cas")
    (d / "right-ca.crt").write_text(pki.ca_pem)
    (d / "wrong-ca.crt").write_text(pki.other_ca_pem)
    yield {"right": str(d / "right-ca.crt"), "wrong": str(d / "wrong-ca.crt")}
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def pg(pki):
    d = temp_workdir("pg")
    try:
        with tls_postgres(pki, d) as server:
            yield server
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def rds(pki):
    d = temp_workdir("redis")
    try:
        with tls_redis(pki, d) as server:
            yield server
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _run(coro):
    """On a loop of its own, leaving the thread's current event loop alone (asyncio.run would unset
    it, and later modules in the same process call asyncio.get_event_loop())."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


CASES = [("right CA, right name", "right", RIGHT_HOST, True),
         ("wrong CA", "wrong", RIGHT_HOST, False),
         ("right CA, wrong name", "right", WRONG_NAME_HOST, False)]


# ---- PostgreSQL: libpq with the provider's settings ------------------------------------------


@pytest.mark.parametrize(("case", "ca", "host", "ok"), CASES, ids=[c[0] for c in CASES])
def test_libpq_with_the_providers_settings(pg, ca_files, case, ca, host, ok):
    params = db_tls.provider_ssl("verify-full", ca_files[ca])
    assert params == {"sslmode": "verify-full", "sslrootcert": ca_files[ca]}
    kwargs = dict(host=host, port=pg.port, user=pg.role, password=pg.password, dbname=pg.database, connect_timeout=20, **params)
    if ok:
        with psycopg.connect(**kwargs) as conn:
            assert conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone() == (True,)
    else:
        with pytest.raises(psycopg.OperationalError) as err:
            psycopg.connect(**kwargs).close()
        assert "certificate verify failed" in str(err.value) or "does not match host name" in str(err.value), case


# ---- PostgreSQL: the rendered DATABASE_URL, the way Prisma reads it --------------------------

_NODE_PROBE = """
import { poolConfig } from './translator.mjs';
import pg from 'pg';
const { config } = poolConfig(process.env.PROBE_URL);
config.connectionTimeoutMillis = 20000;
const pool = new pg.Pool(config);
try {
  const r = await pool.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
  console.log(JSON.stringify({ ok: true, ssl: r.rows[0].ssl }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, error: String(e && e.message) }));
} finally {
  await pool.end();
}
"""


def _prisma_probe(url: str) -> dict:
    """The rendered URL through the harness's Prisma-semantics TLS (the URL, with its password, goes
    by environment, never on a command line)."""
    engine = real_proxy_prisma.ENGINE_DIR
    real_proxy_prisma.ensure_node_modules()
    proc = subprocess.run(["node", "--input-type=module", "-e", _NODE_PROBE], cwd=engine, capture_output=True,
                          text=True, timeout=120, env={"PATH": os.environ["PATH"], "PROBE_URL": url})
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(("case", "ca", "host", "ok"), CASES, ids=[c[0] for c in CASES])
def test_rendered_database_url_verify_full(pg, ca_files, case, ca, host, ok):
    url = database_url(pg.role, pg.password, host, pg.port, pg.database, "verify-full", ca_files[ca])
    assert url.endswith(f"?sslmode=require&sslaccept=strict&sslcert={ca_files[ca]}")
    result = _prisma_probe(url)
    if ok:
        assert result == {"ok": True, "ssl": True}
    else:
        assert result["ok"] is False, case
        assert ("self-signed certificate" in result["error"] or "unable to verify" in result["error"]
                or "does not match certificate's altnames" in result["error"]
                or "IP: 127.0.0.2 is not in the cert's list" in result["error"]), result


def test_litellm_keeps_the_tls_parameters_when_it_adds_its_pool_parameters(pg, ca_files):
    """The proxy does not hand DATABASE_URL to Prisma as is: proxy_cli rewrites it with its pool
    parameters (append_query_params(_build_db_connection_url_params(...)): parse_qs + urlencode).
    The rewritten URL still verifies: the right CA connects, a wrong CA is refused."""
    from litellm.proxy.proxy_cli import _build_db_connection_url_params, append_query_params

    params = _build_db_connection_url_params(connection_limit=10, pool_timeout=60)
    for ca, ok in (("right", True), ("wrong", False)):
        url = append_query_params(
            database_url(pg.role, pg.password, RIGHT_HOST, pg.port, pg.database, "verify-full", ca_files[ca]), params)
        assert "connection_limit=10" in url and "sslaccept=strict" in url
        assert _prisma_probe(url)["ok"] is ok, ca


def test_rendered_database_url_require_encrypts_but_verifies_nothing(pg):
    """What `require` means to Prisma (sslaccept defaults to accept_invalid_certs): encrypted, but a
    server with any certificate (here: under a name it does not carry) is accepted. The reason
    verify-full exists, shown rather than claimed."""
    url = database_url(pg.role, pg.password, WRONG_NAME_HOST, pg.port, pg.database, "require")
    assert url.endswith("?sslmode=require")
    assert _prisma_probe(url) == {"ok": True, "ssl": True}


# ---- Redis: LiteLLM's own client with the rendered settings -----------------------------------


def _redis_settings(rds, host: str, ca_pem: str):
    base = load_stack_inputs("local").settings()
    redis = base.redis.model_copy(update={"host": host, "port": rds.port, "tls": True, "ca_cert": ca_pem, "user": None})
    return base.model_copy(update={"redis": redis})


@pytest.mark.parametrize(("case", "ca", "host", "ok"), CASES, ids=[c[0] for c in CASES])
def test_litellm_redis_clients_with_rendered_settings(rds, pki, ca_files, monkeypatch, case, ca, host, ok):
    """LiteLLM's client factories (litellm/_redis.py), as RedisCache.__init__ / init_async_client
    call them: the sync client, and the async client on its BlockingConnectionPool (SSLConnection)."""
    import redis
    from litellm._redis import get_redis_async_client, get_redis_client, get_redis_connection_pool

    s = _redis_settings(rds, host, pki.ca_pem)
    params = dict(render_litellm_config(s)["litellm_settings"]["cache_params"])
    assert {k: params[k] for k in ("ssl", "ssl_cert_reqs", "ssl_check_hostname", "ssl_ca_certs")} == {
        "ssl": True, "ssl_cert_reqs": "required", "ssl_check_hostname": True, "ssl_ca_certs": "os.environ/REDIS_SSL_CA_CERTS"}
    for litellm_only in ("type", "ttl", "namespace"):
        params.pop(litellm_only)
    # what the env file gives the proxy: the CA path (here: the right or the wrong CA) and the password
    monkeypatch.setenv("REDIS_SSL_CA_CERTS", ca_files[ca])
    monkeypatch.setenv("REDIS_PASSWORD", rds.password)

    async def async_ping():
        client = get_redis_async_client(connection_pool=get_redis_connection_pool(**params), **params)
        try:
            return await client.ping()
        finally:
            await client.aclose()

    if ok:
        assert get_redis_client(**params).ping() is True
        assert _run(async_ping()) is True
    else:
        with pytest.raises(redis.ConnectionError) as err:
            get_redis_client(**params).ping()
        assert "certificate verify failed" in str(err.value), (case, str(err.value))
        with pytest.raises(redis.ConnectionError) as err:
            _run(async_ping())
        assert "certificate verify failed" in str(err.value), (case, str(err.value))


def test_litellm_redis_cache_with_rendered_settings(rds, pki, ca_files, monkeypatch):
    """The response cache itself (RedisCache, from the rendered cache_params) sets and reads a key."""
    from litellm.caching.redis_cache import RedisCache

    params = dict(render_litellm_config(_redis_settings(rds, RIGHT_HOST, pki.ca_pem))["litellm_settings"]["cache_params"])
    params.pop("type")
    params.pop("ttl")
    monkeypatch.setenv("REDIS_SSL_CA_CERTS", ca_files["right"])
    monkeypatch.setenv("REDIS_PASSWORD", rds.password)
    cache = RedisCache(**params)
    cache.set_cache("tls-probe", {"over": "TLS"})
    assert cache.get_cache("tls-probe") == {"over": "TLS"}


# ---- Redis: redis-cli in the rendered manage_acl script ------------------------------------------


def _acl_script_run(rds, host: str, ca_pem: str):
    settings = RedisSettings(host=host, port=rds.port, user="gw_tls", manage_acl=True, tls=True, ca_cert=ca_pem)
    script = acl_create_script(settings)
    line = acl_setuser_line("gw_tls", "pw-not-used-elsewhere", ["gwtls:*"])
    # REDISCLI_AUTH: how a server whose default user needs a password gives it to redis-cli there
    return subprocess.run(["bash", "-c", script], input=line, capture_output=True, text=True, timeout=60,
                          env={"PATH": os.environ["PATH"], "REDISCLI_AUTH": rds.password})


def test_redis_cli_manage_acl_script_right_ca(rds, pki):
    proc = _acl_script_run(rds, RIGHT_HOST, pki.ca_pem)
    assert proc.returncode == 0, proc.stderr
    assert "ACL user gw_tls set" in proc.stdout


def test_redis_cli_manage_acl_script_wrong_ca_is_refused(rds, pki):
    proc = _acl_script_run(rds, RIGHT_HOST, pki.other_ca_pem)
    assert proc.returncode != 0
    assert "certificate verify failed" in proc.stderr, proc.stderr


def test_redis_cli_does_not_check_the_name(rds, pki):
    """hiredis (redis-cli 7.0) verifies the chain only: the same server under a name its certificate
    does not carry is accepted. Stated in docs/security.md; redis-cli runs on the Redis host itself
    (manage_acl), the proxy's client (redis-py) checks names (test above)."""
    proc = _acl_script_run(rds, WRONG_NAME_HOST, pki.ca_pem)
    assert proc.returncode == 0, proc.stderr


def test_python_ssl_agrees_the_server_certificate_names_only_127_0_0_1(pki, ca_files, rds):
    """The wrong-name cases are wrong for the name alone: a plain TLS handshake trusting the right CA
    succeeds at 127.0.0.1 and fails the name check at 127.0.0.2 against the same server."""
    import socket

    ctx = ssl.create_default_context(cafile=ca_files["right"])
    with socket.create_connection((RIGHT_HOST, rds.port), timeout=20) as sock:
        with ctx.wrap_socket(sock, server_hostname=RIGHT_HOST):
            pass
    with socket.create_connection((WRONG_NAME_HOST, rds.port), timeout=20) as sock:
        with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
            ctx.wrap_socket(sock, server_hostname=WRONG_NAME_HOST)
