"""pytest fixtures for tests that apply declarations to the real PostgreSQL on 127.0.0.1:5432.

Import them into a test module (`from tests.support.postgres_fixtures import admin_dsn,
nothing_left_behind, scratch`) and define `PREFIX` there, made with `process_prefix(...)`: every
role and database the module's `scratch` creates is named `<PREFIX>_...`, and
`nothing_left_behind` (autouse) fails the module if any such object survives it.

Never skips: if the server is missing, every test fails with how to start it.
"""

from __future__ import annotations

import os

import psycopg
import pytest

from tests.support.postgres_apply import scratch_cluster_objects

ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=5"
START_HINT = (
    "PostgreSQL must run on 127.0.0.1:5432 with the `postgres` superuser reachable over TCP. "
    "Start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
)


def process_prefix(tag: str) -> str:
    """`llmgw_<tag><pid>`: per process, so a concurrent run on the same server does not count
    as our leftovers."""
    return f"llmgw_{tag}{os.getpid()}"


def _module_prefix(request) -> str:
    prefix = getattr(request.module, "PREFIX", None)
    if not prefix:
        pytest.fail(f"{request.module.__name__} uses the postgres fixtures but defines no PREFIX", pytrace=False)
    return prefix


@pytest.fixture(scope="module")
def admin_dsn() -> str:
    try:
        with psycopg.connect(ADMIN_DSN) as conn:
            superuser, version = conn.execute(
                "SELECT rolsuper, current_setting('server_version_num')::int FROM pg_roles WHERE rolname = current_user"
            ).fetchone()
    except psycopg.OperationalError as exc:
        pytest.fail(f"cannot reach PostgreSQL ({exc}). {START_HINT}", pytrace=False)
    if not superuser:
        pytest.fail(f"`postgres` on 127.0.0.1:5432 is not a superuser. {START_HINT}", pytrace=False)
    if version < 150000:
        pytest.fail(f"PostgreSQL >= 15 required (public-schema privileges changed in 15); server is {version}", pytrace=False)
    return ADMIN_DSN


@pytest.fixture(scope="module", autouse=True)
def nothing_left_behind(admin_dsn, request):
    prefix = _module_prefix(request)
    yield
    with psycopg.connect(admin_dsn) as conn:
        leftovers = conn.execute(
            "SELECT rolname FROM pg_roles WHERE rolname LIKE %(p)s UNION ALL SELECT datname FROM pg_database WHERE datname LIKE %(p)s",
            {"p": prefix + "\\_%"},
        ).fetchall()
    assert leftovers == [], f"scratch objects left behind: {leftovers}"


@pytest.fixture
def scratch(admin_dsn, request):
    with scratch_cluster_objects(admin_dsn, prefix=_module_prefix(request)) as s:
        yield s
