"""Integration tests for tests/support/postgres_apply.py against the real PostgreSQL.

Needs PostgreSQL >= 15 on 127.0.0.1:5432 reachable as the `postgres` superuser over TCP.
Never skips: if the server is missing, every test fails with how to start it.

The local server uses trust auth, so NO test here proves password authentication; the
password tests check the stored SCRAM verifier against the password instead.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import traceback
from urllib.parse import unquote, urlsplit

import psycopg
import pytest

from tests.support import postgres_apply as pa
from tests.support.postgres_apply import (
    DATABASE_TYPE,
    GRANT_TYPE,
    ROLE_TYPE,
    PostgresApplyError,
    UnsupportedDeclaration,
    apply_database,
    apply_database_grant,
    apply_declared,
    apply_litellm_migrations,
    apply_role,
    litellm_migrations_dir,
    revoke_connect_from_public,
    scratch_cluster_objects,
)
from tests.support.postgres_fixtures import admin_dsn, nothing_left_behind, process_prefix, scratch  # noqa: F401 (fixtures)

PREFIX = process_prefix("pa")  # llmgw_pa<pid>: a concurrent run must not count as our leftovers
# What the Pulumi mocks hand to new_resource for a secret input.
SECRET_SIG = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270"}


def secret(value: str) -> dict[str, str]:
    return {**SECRET_SIG, "value": value}


def scram_verifier_matches(verifier: str, password: str) -> bool:
    """RFC 5802/7677 check of PostgreSQL's 'SCRAM-SHA-256$iter:salt$StoredKey:ServerKey' (ASCII passwords)."""
    method, iter_salt, keys = verifier.split("$")
    assert method == "SCRAM-SHA-256"
    iterations, salt = iter_salt.split(":")
    stored_key, server_key = (base64.b64decode(k) for k in keys.split(":"))
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), int(iterations))
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    return (
        hashlib.sha256(client_key).digest() == stored_key
        and hmac.new(salted, b"Server Key", hashlib.sha256).digest() == server_key
    )


def stored_password(admin, role: str) -> str | None:
    row = admin.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (role,)).fetchone()
    assert row is not None, f"role {role} does not exist"
    return row[0]


def connect_error(dsn: str) -> str:
    with pytest.raises(psycopg.OperationalError) as info:
        psycopg.connect(dsn).close()
    return str(info.value)


# ---------------------------------------------------------------------------------------


def test_database_owner_applies_every_litellm_migration(scratch, capsys):
    admin = scratch.admin
    role, db, password = scratch.role_name("owner"), scratch.database_name("owned"), "owner-pw-1"
    apply_role(scratch.admin, role, password, connection_limit=10)
    apply_database(admin, db, role)
    revoke_connect_from_public(admin, db)

    on_disk = sorted(p.name for p in litellm_migrations_dir().iterdir() if p.is_dir() and p.name != "__pycache__")
    report = apply_litellm_migrations(scratch.dsn(role, db, password))
    with capsys.disabled():
        print(f"\n[postgres_apply] {report.applied_count}/{len(on_disk)} LiteLLM migrations applied in {report.seconds:.2f}s")

    assert report.first_error is None, report.first_error
    assert report.applied_count == len(on_disk) > 0
    assert list(report.applied) == on_disk  # directory-name order, nothing skipped
    with psycopg.connect(scratch.dsn("postgres", db)) as conn:
        owner = conn.execute(
            "SELECT tableowner FROM pg_tables WHERE schemaname = 'public' AND tablename = 'LiteLLM_VerificationToken'"
        ).fetchone()
        foreign = conn.execute(
            "SELECT c.relname, pg_get_userbyid(c.relowner) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND pg_get_userbyid(c.relowner) <> %s",
            (role,),
        ).fetchall()
    assert owner == (role,)
    assert foreign == []


def test_connect_only_role_fails_first_migration_with_permission_denied(scratch):
    admin = scratch.admin
    owner, other, db = scratch.role_name("owner"), scratch.role_name("connonly"), scratch.database_name()
    apply_role(admin, owner, "owner-pw")
    apply_role(admin, other, "other-pw")
    apply_database(admin, db, owner)
    revoke_connect_from_public(admin, db)
    apply_database_grant(admin, db, other, ["CONNECT"])

    report = apply_litellm_migrations(scratch.dsn(other, db, "other-pw"))

    first = pa.list_litellm_migrations()[0].name
    assert report.applied_count == 0
    assert report.first_error == pa.MigrationError(first, "42501", "permission denied for schema public")
    assert len(report.errors) == 1  # stop_on_error


def test_after_revoke_an_unrelated_role_cannot_connect_but_the_owner_can(scratch):
    admin = scratch.admin
    owner, stranger, db = scratch.role_name("owner"), scratch.role_name("stranger"), scratch.database_name()
    apply_role(admin, owner, "owner-pw")
    apply_role(admin, stranger, "stranger-pw")
    apply_database(admin, db, owner)
    psycopg.connect(scratch.dsn(stranger, db, "stranger-pw")).close()  # control: PUBLIC has CONNECT by default

    revoke_connect_from_public(admin, db)

    message = connect_error(scratch.dsn(stranger, db, "stranger-pw"))
    assert f'FATAL:  permission denied for database "{db}"' in message
    assert "User does not have CONNECT privilege." in message
    psycopg.connect(scratch.dsn(owner, db, "owner-pw")).close()
    public_acl = admin.execute(
        "SELECT a.privilege_type FROM pg_database d, aclexplode(d.datacl) a WHERE d.datname = %s AND a.grantee = 0", (db,)
    ).fetchall()
    assert public_acl == []  # PUBLIC lost CONNECT and TEMPORARY, as the provider's Grant(privileges=[]) does


def test_declared_resources_apply_attributes_and_connection_limits(scratch):
    """Inputs shaped exactly like the Pulumi mocks receive them (camelCase, floats, secrets)."""
    admin = scratch.admin
    role, db = scratch.role_name("app"), scratch.database_name()
    apply_declared(admin, ROLE_TYPE, {
        "name": role, "password": secret("app-pw"), "login": True, "connectionLimit": 1.0,
        "superuser": False, "createDatabase": False, "createRole": False,
    })
    apply_declared(admin, DATABASE_TYPE, {"name": db, "owner": role, "connectionLimit": 7.0})
    apply_declared(admin, GRANT_TYPE, {"database": db, "role": "public", "objectType": "database", "privileges": []})

    assert admin.execute(
        "SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolinherit, rolreplication, rolbypassrls, rolconnlimit "
        "FROM pg_roles WHERE rolname = %s", (role,)
    ).fetchone() == (True, False, False, False, True, False, False, 1)
    assert admin.execute(
        "SELECT pg_get_userbyid(datdba), datconnlimit, pg_encoding_to_char(encoding), datcollate, datctype "
        "FROM pg_database WHERE datname = %s", (db,)
    ).fetchone() == (role, 7, "UTF8", "C", "C")  # provider defaults: template0, UTF8, C/C
    # the role limit is enforced for real (non-superuser): a second session is refused
    with psycopg.connect(scratch.dsn(role, db, "app-pw")):
        message = connect_error(scratch.dsn(role, db, "app-pw"))
    assert f'too many connections for role "{role}"' in message


def test_password_is_stored_as_scram_verifier_and_never_leaks(scratch, caplog):
    # Trust auth: connecting with any password succeeds here, so authentication is NOT
    # verified. What is verified: the catalogue holds a SCRAM verifier of exactly this
    # password, and the plaintext shows up in no log record and no exception.
    admin = scratch.admin
    role, password = scratch.role_name("pw"), "Sekr1t-Do-Not-Leak-42"
    caplog.set_level(logging.DEBUG, logger=pa.__name__)
    apply_role(admin, role, password)

    verifier = stored_password(admin, role)
    assert verifier is not None and verifier.startswith("SCRAM-SHA-256$")
    assert password not in verifier
    assert scram_verifier_matches(verifier, password)
    assert not scram_verifier_matches(verifier, password + "x")
    assert "PASSWORD '********'" in caplog.text  # the statement was logged, redacted

    with pytest.raises(PostgresApplyError) as info:
        apply_role(admin, role, password)  # duplicate: the server rejects it
    assert info.value.sqlstate == "42710"
    rendered = "".join(traceback.format_exception(info.value)) + repr(info.value)
    for text in (rendered, caplog.text):
        assert password not in text
        assert verifier not in text


def test_url_encoded_password_with_special_characters_gives_working_database_url(scratch):
    # The URL the gateway really hands to LiteLLM: components.postgres.database_url.
    from components.postgres import database_url as component_database_url

    admin = scratch.admin
    role, db = scratch.role_name("url"), scratch.database_name("url")
    password = "p@ss:w/rd?x#y%25 z"
    apply_role(admin, role, password)
    apply_database(admin, db, role)
    revoke_connect_from_public(admin, db)

    url = component_database_url(role, password, "127.0.0.1", 5432, db, "disable")

    parts = urlsplit(url)
    assert (unquote(parts.username), unquote(parts.password), parts.hostname, parts.port) == (role, password, "127.0.0.1", 5432)
    assert unquote(parts.path.lstrip("/")) == db and parts.query == "sslmode=disable"
    with psycopg.connect(url) as conn:
        assert conn.info.password == password  # what libpq decoded from the URL
        assert conn.info.get_parameters()["sslmode"] == "disable"
        assert conn.execute("SELECT current_user, current_database()").fetchone() == (role, db)
    assert scram_verifier_matches(stored_password(admin, role), password)


@pytest.mark.parametrize(
    ("resource_type", "inputs", "complaint"),
    [
        ("postgresql:index/schema:Schema", {"name": "x"}, "does not support resource type"),
        (ROLE_TYPE, {"name": "NAME", "login": True, "searchPaths": ["public"]}, "'search_paths'"),
        (ROLE_TYPE, {"name": "NAME", "connectionLimit": 2.5}, "must be an integer"),
        (ROLE_TYPE, {"name": "NAME", "password": "04da6b54-80e4-46f7-96ec-b56ff0331ba9"}, "unknown (preview)"),
        (ROLE_TYPE, {"name": "NAME", "encryptedPassword": False}, "encrypted_password=false"),
        (ROLE_TYPE, {"name": "NAME", "login": "yes"}, "must be a bool"),
        (DATABASE_TYPE, {"name": "NAME", "owner": "postgres", "isTemplate": False, "bogus": 1}, "'bogus'"),
        (GRANT_TYPE, {"database": "NAME", "role": "public", "objectType": "schema", "schema": "public", "privileges": []}, "object_type 'schema'"),
        (GRANT_TYPE, {"database": "NAME", "role": "public", "objectType": "database", "privileges": [], "schema": "public"}, "'schema'"),
        (GRANT_TYPE, {"database": "NAME", "role": "public", "objectType": "database", "privileges": ["SELECT"]}, "unsupported database privileges"),
        (GRANT_TYPE, {"database": "NAME", "objectType": "database", "privileges": []}, "'role' is missing"),
    ],
)
def test_adapter_rejects_what_it_does_not_understand_before_touching_the_server(scratch, resource_type, inputs, complaint):
    name = scratch.role_name("rej")
    inputs = {k: (name if v == "NAME" else v) for k, v in inputs.items()}
    with pytest.raises(UnsupportedDeclaration, match=re.escape(complaint)):
        apply_declared(scratch.admin, resource_type, inputs)
    assert scratch.admin.execute(
        "SELECT count(*) FROM pg_roles WHERE rolname = %(n)s UNION ALL SELECT count(*) FROM pg_database WHERE datname = %(n)s",
        {"n": name},
    ).fetchall() == [(0,), (0,)]


def test_adapter_uses_provider_defaults_a_role_without_login_cannot_log_in(scratch):
    role = scratch.role_name("nologin")
    apply_declared(scratch.admin, ROLE_TYPE, {"name": role, "password": secret("pw")})
    assert scratch.admin.execute(
        "SELECT rolcanlogin, rolconnlimit, rolvaliduntil = 'infinity' FROM pg_roles WHERE rolname = %s", (role,)
    ).fetchone() == (False, -1, True)
    assert f'role "{role}" is not permitted to log in' in connect_error(scratch.dsn(role, "postgres", "pw"))


def test_scratch_objects_are_dropped_even_when_the_test_fails_with_a_live_session(admin_dsn):
    with pytest.raises(RuntimeError, match="simulated test failure"):
        with scratch_cluster_objects(admin_dsn, prefix=PREFIX) as s:
            role, db = s.role_name("doomed"), s.database_name("doomed")
            s.role_name("nevercreated")  # registered but never created: cleanup must cope
            apply_role(s.admin, role, "pw")
            apply_database(s.admin, db, role)
            session = psycopg.connect(s.dsn(role, db, "pw"))  # would block a plain DROP DATABASE
            raise RuntimeError("simulated test failure")
    with psycopg.connect(admin_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM pg_roles WHERE rolname = %s", (role,)).fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM pg_database WHERE datname = %s", (db,)).fetchone() == (0,)
    with pytest.raises(psycopg.OperationalError):
        session.execute("SELECT 1")
    session.close()
