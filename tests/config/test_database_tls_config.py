"""TLS to PostgreSQL and Redis as rendered (issue 16, item 4): the DATABASE_URL Prisma honours for
each sslmode, what the pulumi-postgresql provider, the hosts, the pods and redis-cli get, and the
bad inputs refused with stack, key and what was expected. The real servers: tests/e2e/test_database_tls.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from components.postgres import database_url
from config.loader import load_settings
from config.redis_settings import RedisSettings
from offline.engine import run_program
from offline.stack_inputs import PROJECT_DIR
from rendering import db_tls
from rendering.host_files import ca_files, plain_env
from rendering.kubernetes_objects import kubernetes_manifests
from rendering.litellm_yaml import render_litellm_config
from rendering.redis_acl import acl_create_script, acl_delete_script
from tests.config.test_bad_inputs import NOW, C, apply
from tests.config.test_bad_inputs import test_bad_input_is_refused_with_stack_key_and_fix as _refused
from tests.support.tls_material import make_test_ca

CA_PEM, _ = make_test_ca("database CA (fast tier)")
OTHER_CA_PEM, _ = make_test_ca("redis CA (fast tier)")
NOT_PEM = "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n"
KEY_AFTER_CERT = CA_PEM + "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
PEM_FIX = "expected PEM certificates only"
VERIFY_FULL = {"postgres.sslmode": "verify-full", "postgres.ca_cert": CA_PEM}


# ---- the URL per sslmode: quaint's parameters --------------------------------------------------


@pytest.mark.parametrize(
    ("sslmode", "ca_file", "query"),
    [
        ("disable", None, {"sslmode": "disable"}),
        ("prefer", None, {"sslmode": "prefer"}),
        ("require", None, {"sslmode": "require"}),
        ("verify-full", "/etc/litellm/staged/postgres-ca.crt.0123456789ab",
         {"sslmode": "require", "sslaccept": "strict", "sslcert": "/etc/litellm/staged/postgres-ca.crt.0123456789ab"}),
    ],
)
def test_database_url_per_sslmode_is_what_prisma_honours(sslmode, ca_file, query):
    url = database_url("litellm", "pw", "db.example", 5432, "litellm", sslmode, ca_file)
    parts = urlsplit(url)
    assert dict(parse_qsl(parts.query, strict_parsing=True)) == query
    # every key quaint's parse_query_params knows; none of libpq's own (sslrootcert, verify-*)
    assert set(query) <= {"sslmode", "sslaccept", "sslcert"}
    assert query["sslmode"] in ("disable", "prefer", "require")


@pytest.mark.parametrize(
    ("sslmode", "ca_file", "message"),
    [
        ("verify-ca", "/ca.crt", "has no chain-only check"),
        ("allow", None, "no 'plaintext first' mode"),
        ("verify-full", None, "needs the CA file's path"),
        ("require", "/ca.crt", "only used with sslmode verify-full"),
        ("verify-full", "-ca.crt", "without whitespace or URL specials"),
        ("verify-full", "/a b/ca.crt", "without whitespace or URL specials"),
        ("verify-full", "/ca.crt&sslaccept=accept_invalid_certs", "URL specials"),
        ("on", None, "must be one of disable, prefer, require, verify-full"),
    ],
)
def test_database_url_refuses_what_prisma_cannot_honour(sslmode, ca_file, message):
    with pytest.raises(ValueError, match=message):
        database_url("u", "p", "h", 5432, "d", sslmode, ca_file)


@pytest.mark.parametrize(
    ("sslmode", "ca_file", "expected"),
    [
        ("disable", None, {"sslmode": "disable"}),
        ("prefer", None, {"sslmode": "require"}),
        ("require", None, {"sslmode": "require"}),
        ("verify-full", "/x/postgres-ca.crt", {"sslmode": "verify-full", "sslrootcert": "/x/postgres-ca.crt"}),
    ],
)
def test_provider_gets_libpq_terms(sslmode, ca_file, expected):
    assert db_tls.provider_ssl(sslmode, ca_file) == expected


# ---- bad inputs: stack, key, what was expected ---------------------------------------------------

CASES = [
    C("pg-sslmode-verify-ca", "dev", "postgres.sslmode", "use verify-full with postgres.ca_cert",
      {"postgres.sslmode": "verify-ca", "postgres.ca_cert": CA_PEM}),
    C("pg-sslmode-allow", "dev", "postgres.sslmode", "use prefer, require or verify-full", {"postgres.sslmode": "allow"}),
    C("pg-verify-full-without-ca", "dev", "postgres.ca_cert", "set postgres.ca_cert", {"postgres.sslmode": "verify-full"}),
    C("pg-ca-with-require", "dev", "postgres.ca_cert", "with 'require' Prisma does not verify the server",
      {"postgres.ca_cert": CA_PEM}),
    C("pg-ca-not-pem", "dev", "postgres.ca_cert", PEM_FIX, {"postgres.sslmode": "verify-full", "postgres.ca_cert": NOT_PEM}),
    # a private key after the certificate: caught as a secret before the PEM check (never stored)
    C("pg-ca-with-private-key", "dev", "postgres.ca_cert", "looks like a literal secret",
      {"postgres.sslmode": "verify-full", "postgres.ca_cert": KEY_AFTER_CERT}),
    C("pg-ca-path-not-pem", "local", "postgres.ca_cert", PEM_FIX,
      {"postgres.sslmode": "verify-full", "postgres.ca_cert": "/etc/ssl/certs/db-ca.pem"}),
    C("redis-ca-without-tls", "dev", "redis.ca_cert", "set redis.tls: true", {"redis.ca_cert": CA_PEM}),
    C("redis-ca-not-pem", "dev", "redis.ca_cert", PEM_FIX, {"redis.tls": True, "redis.ca_cert": "yes"}),
    C("redis-tls-not-bool", "dev", "redis.tls", "valid boolean", {"redis.tls": "rediss"}),
    C("redis-ca-env-reserved", "dev", "envSecrets.REDIS_SSL_CA_CERTS", "is set by the gateway itself",
      secrets={"envSecrets.REDIS_SSL_CA_CERTS": "/tmp/other-ca.crt"}),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_tls_input_is_refused_with_stack_key_and_fix(case):
    _refused(case)


def _settings(stack: str, changes: dict):
    config, secret_keys = apply(stack, changes, {})
    return load_settings(stack, config, secret_keys, project_dir=PROJECT_DIR, now=NOW), config, secret_keys


# ---- what each reader gets -------------------------------------------------------------------------


def test_ssh_stack_delivers_both_cas_and_names_them_in_env_and_url():
    changes = {**VERIFY_FULL, "redis.tls": True, "redis.ca_cert": OTHER_CA_PEM}
    settings, config, secret_keys = _settings("dev", changes)
    cas = ca_files(settings)
    assert cas.postgres and cas.postgres.startswith("/etc/litellm/staged/postgres-ca.crt.")
    assert cas.redis and cas.redis.startswith("/etc/litellm/staged/redis-ca.crt.")
    assert (db_tls.REDIS_CA_NAME and ("REDIS_SSL_CA_CERTS", cas.redis) in plain_env(settings))
    redis_kwargs = render_litellm_config(settings)["general_settings"]["coordination_redis"]
    assert redis_kwargs["ssl_ca_certs"] == "os.environ/REDIS_SSL_CA_CERTS" and redis_kwargs["ssl_check_hostname"] is True

    run = run_program("dev", config, secret_keys)
    provider = run.one("pulumi:providers:postgresql")
    assert provider.inputs["sslmode"] == "verify-full"
    assert Path(provider.inputs["sslrootcert"]).read_text() == CA_PEM  # the operator's copy, for lib/pq
    hosts = [r for r in run.resources if r.type == "litellm-gateway:host:LiteLLMHost"]
    assert hosts
    for host in hosts:
        steps = {r.name.removeprefix(host.name + "-"): r for r in run.children_of(host.urn)}
        assert steps["file-postgres-ca"].inputs["stdin"] == CA_PEM
        assert steps["file-redis-ca"].inputs["stdin"] == OTHER_CA_PEM
        assert cas.postgres in steps["file-postgres-ca"].inputs["create"]
        env = steps["file-env"].inputs["stdin"]
        url_line = next(line for line in env.splitlines() if line.startswith("DATABASE_URL="))
        query = dict(parse_qsl(urlsplit(json.loads(url_line.split("=", 1)[1])).query))
        assert query == {"sslmode": "require", "sslaccept": "strict", "sslcert": cas.postgres}
        assert f'REDIS_SSL_CA_CERTS="{cas.redis}"' in env.splitlines()
        # the migration reads that same env file (its .latest link): the same URL, the same CA copy
        assert "litellm.env.latest" in steps["migrate"].inputs["create"]
        # staged only: the rollout does not copy the CA anywhere (nothing reads a live copy)
        assert "postgres-ca.crt " not in steps["service"].inputs["create"]


def test_local_multi_host_gives_each_host_its_own_copy():
    settings, config, secret_keys = _settings("local", {**VERIFY_FULL, "postgres.host": "127.0.0.1"})
    run = run_program("local", config, secret_keys)
    urls = set()
    for host in [r for r in run.resources if r.type == "litellm-gateway:host:LiteLLMHost"]:
        env = next(r for r in run.children_of(host.urn) if r.name.endswith("-file-env")).inputs["stdin"]
        urls.add(next(line for line in env.splitlines() if line.startswith("DATABASE_URL=")))
    assert urls and all("sslcert=" in u for u in urls)


def test_kubernetes_mounts_both_cas_from_the_config_map():
    changes = {**VERIFY_FULL, "redis.tls": True, "redis.ca_cert": OTHER_CA_PEM}
    settings, config, secret_keys = _settings("kube", changes)
    m = kubernetes_manifests(settings)
    assert m["configmap"]["data"]["postgres-ca.crt"] == CA_PEM
    assert m["configmap"]["data"]["redis-ca.crt"] == OTHER_CA_PEM
    for name in ("deployment", "job-migrate"):
        pod = m[name]["spec"]["template"]["spec"]
        items = next(v for v in pod["volumes"] if v["name"] == "config")["configMap"]["items"]
        assert {"key": "postgres-ca.crt", "path": "ca/postgres-ca.crt"} in items
        env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
        assert env["REDIS_SSL_CA_CERTS"] == "/etc/litellm/ca/redis-ca.crt"
    assert ca_files(settings).postgres == "/etc/litellm/ca/postgres-ca.crt"
    run = run_program("kube", config, secret_keys)
    secret = next(r for r in run.resources if r.type == "kubernetes:core/v1:Secret" and "DATABASE_URL" in r.inputs.get("stringData", {}))
    query = dict(parse_qsl(urlsplit(secret.inputs["stringData"]["DATABASE_URL"]).query))
    assert query == {"sslmode": "require", "sslaccept": "strict", "sslcert": "/etc/litellm/ca/postgres-ca.crt"}


def test_redis_tls_without_ca_uses_system_cas_but_states_verification():
    settings, _, _ = _settings("dev", {"redis.tls": True})
    kwargs = render_litellm_config(settings)["general_settings"]["coordination_redis"]
    assert {k: kwargs[k] for k in ("ssl", "ssl_cert_reqs", "ssl_check_hostname")} == {
        "ssl": True, "ssl_cert_reqs": "required", "ssl_check_hostname": True}
    assert "ssl_ca_certs" not in kwargs
    assert not any(name == "REDIS_SSL_CA_CERTS" for name, _ in plain_env(settings))


def test_manage_acl_redis_cli_uses_tls_and_the_ca():
    s = RedisSettings(host="10.0.0.9", user="gw", manage_acl=True, tls=True, ca_cert=CA_PEM)
    for script in (acl_create_script(s), acl_delete_script(s)):
        assert 'redis-cli -h 10.0.0.9 -p 6379 --tls --cacert "$ca_file"' in script
        assert CA_PEM.strip() in script
        assert script.index("ca_file=$(mktemp)") < script.index("redis-cli")
    plain = RedisSettings(host="10.0.0.9", user="gw", manage_acl=True, tls=True)
    assert "--tls" in acl_create_script(plain) and "--cacert" not in acl_create_script(plain)
