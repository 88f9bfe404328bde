"""components/postgres.py against the real PostgreSQL on 127.0.0.1:5432.

The mocked program (dev stack, with unique role/database names pointed at 127.0.0.1) declares
the Role, Database and Grant; tests/support/postgres_apply.py applies exactly those inputs to the
server as `postgres`; then LiteLLM's Prisma migrations run as the declared role through the
component's own DATABASE_URL.

Never skips: if the server is missing, every test fails with how to start it. The local server
uses trust auth, so the password is not *verified* by a login here (see test_postgres_apply.py
for the stored-verifier check); what is proven is the privilege model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import psycopg
import pytest

from components.postgres import TYPE_TOKEN
from offline.engine import ProgramRun, RecordedResource, default_outputs, run_stack
from offline.stack_inputs import load_stack_inputs
from tests.support import postgres_apply as pa
from tests.support.postgres_apply import (
    DATABASE_TYPE,
    GRANT_TYPE,
    ROLE_TYPE,
    apply_database_grant,
    apply_declared,
    apply_litellm_migrations,
    apply_role,
)
from tests.support.postgres_fixtures import admin_dsn, nothing_left_behind, process_prefix, scratch  # noqa: F401 (fixtures)

PREFIX = process_prefix("pgcomp")  # llmgw_pgcomp<pid>: a concurrent run must not count as our leftovers
PASSWORD_TYPE = "random:index/randomPassword:RandomPassword"


@dataclass
class Declared:
    run: ProgramRun
    role: RecordedResource
    database: RecordedResource
    grant: RecordedResource
    password: str  # what the mocked RandomPassword returned
    url: str  # the component's DATABASE_URL (stack output)


def declare_and_apply(scratch) -> Declared:
    """Run the mocked dev program with scratch names, then apply its declarations for real."""
    role_name, db_name = scratch.role_name("gw"), scratch.database_name("gw")
    run = run_stack(
        "dev",
        secrets={"postgresAdminPassword": "unused-with-trust-auth"},
        overrides={
            "postgres": {
                "host": "127.0.0.1",
                "port": 5432,
                "admin_user": "postgres",
                "sslmode": "disable",
                "database": db_name,
                "role": role_name,
                "connection_limit": 12,
            },
            # 4 workers x 3 pooled connections x 1 host fits the role's limit of 12
            "litellm": {**json.loads(load_stack_inputs("dev").config["litellm-gateway:litellm"]),
                        "database_connection_pool_limit": 3},
        },
    )
    component = run.one(TYPE_TOKEN)
    mine = run.children_of(component.urn)

    def one(token: str) -> RecordedResource:
        found = [r for r in mine if r.type == token]
        assert len(found) == 1, (token, len(found))
        return found[0]

    role, database, grant, pw = one(ROLE_TYPE), one(DATABASE_TYPE), one(GRANT_TYPE), one(PASSWORD_TYPE)
    assert (role.inputs["name"], database.inputs["name"]) == (role_name, db_name)
    # exactly the declared inputs, in dependency order
    for r in (role, database, grant):
        apply_declared(scratch.admin, r.type, r.inputs)
    return Declared(
        run=run,
        role=role,
        database=database,
        grant=grant,
        password=default_outputs(pw.type, pw.name, pw.inputs)["result"],
        url=run.outputs["database_url"],
    )


def test_declared_role_applies_every_litellm_migration_through_the_component_url(scratch):
    d = declare_and_apply(scratch)
    assert d.role.inputs["password"] == d.password  # the role got the generated password

    report = apply_litellm_migrations(d.url)

    assert report.first_error is None, report.first_error
    assert report.ok and report.applied_count == len(pa.list_litellm_migrations()) > 200
    role, db = d.role.inputs["name"], d.database.inputs["name"]
    with psycopg.connect(scratch.dsn("postgres", db)) as conn:
        foreign = conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND pg_get_userbyid(c.relowner) <> %s",
            (role,),
        ).fetchall()
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0]
    assert foreign == [] and tables > 20


def test_declared_role_has_exactly_the_declared_attributes(scratch):
    d = declare_and_apply(scratch)
    role, db = d.role.inputs["name"], d.database.inputs["name"]
    assert scratch.admin.execute(
        "SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolconnlimit "
        "FROM pg_roles WHERE rolname = %s",
        (role,),
    ).fetchone() == (True, False, False, False, False, False, 12)
    assert scratch.admin.execute(
        "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", (db,)
    ).fetchone() == (role,)
    # the Grant took CONNECT and TEMPORARY away from PUBLIC
    public_acl = scratch.admin.execute(
        "SELECT a.privilege_type FROM pg_database d, aclexplode(d.datacl) a WHERE d.datname = %s AND a.grantee = 0",
        (db,),
    ).fetchall()
    assert public_acl == []


def test_connect_only_role_fails_first_migration_and_a_stranger_cannot_connect(scratch):
    d = declare_and_apply(scratch)
    db = d.database.inputs["name"]
    stranger = scratch.role_name("stranger")
    apply_role(scratch.admin, stranger, "stranger-pw")

    # PUBLIC lost CONNECT: a role of the same cluster is refused at login
    with pytest.raises(psycopg.OperationalError) as refused:
        psycopg.connect(scratch.dsn(stranger, db, "stranger-pw")).close()
    assert f'permission denied for database "{db}"' in str(refused.value)

    # with CONNECT only (what a naive setup grants) LiteLLM's first migration fails
    apply_database_grant(scratch.admin, db, stranger, ["CONNECT"])
    report = apply_litellm_migrations(scratch.dsn(stranger, db, "stranger-pw"))
    first = pa.list_litellm_migrations()[0].name
    assert report.applied_count == 0
    assert report.first_error == pa.MigrationError(first, "42501", "permission denied for schema public")

    # the declared owner, on the very same database, then applies them all
    assert apply_litellm_migrations(d.url).ok


def test_database_url_output_parses_back_to_the_declared_role_and_database(scratch):
    d = declare_and_apply(scratch)
    assert "database_url" in d.run.secret_outputs
    parts = urlsplit(d.url)
    role, db = d.role.inputs["name"], d.database.inputs["name"]
    assert (unquote(parts.username), unquote(parts.password)) == (role, d.password)
    assert (parts.scheme, parts.hostname, parts.port) == ("postgresql", "127.0.0.1", 5432)
    assert unquote(parts.path.lstrip("/")) == db and parts.query == "sslmode=disable"
    with psycopg.connect(d.url) as conn:
        assert conn.info.password == d.password
        assert conn.execute("SELECT current_user, current_database()").fetchone() == (role, db)
