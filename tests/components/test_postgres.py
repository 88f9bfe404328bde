"""components/postgres.py under Pulumi's mock engine: what the component declares, per stack.

The whole program (`__main__.py`) runs for the dev and local stacks; a few tests run the
component alone (`run_program(program=...)`) to look at the Outputs it returns itself, because
`__main__.py` re-wraps the stack output in `Output.secret` and would hide a non-secret one.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import pulumi
import pytest

from components.postgres import (
    PASSWORD_SPECIALS,
    TYPE_TOKEN,
    PostgresDatabase,
    PostgresDatabaseArgs,
    database_url,
    provider_sslmode,
)
from offline.engine import ProgramRun, default_outputs, run_program, run_stack
from offline.stack_inputs import load_stack_inputs

PROVIDER_TYPE = "pulumi:providers:postgresql"
PASSWORD_TYPE = "random:index/randomPassword:RandomPassword"
ROLE_TYPE = "postgresql:index/role:Role"
DATABASE_TYPE = "postgresql:index/database:Database"
GRANT_TYPE = "postgresql:index/grant:Grant"

ADMIN_PASSWORD = "PgAdmin-Distinct-Secret-4711"
REDIS_PASSWORD = "Redis-Distinct-Secret-0815"
DEV_SECRETS = {"postgresAdminPassword": ADMIN_PASSWORD, "redisPassword": REDIS_PASSWORD}


@pytest.fixture(scope="module")
def stack_secrets() -> dict[str, dict[str, str]]:
    return {"dev": DEV_SECRETS}  # local runs without secrets


@pytest.fixture(params=["dev", "local"])
def run(request, dev, local) -> ProgramRun:
    return {"dev": dev, "local": local}[request.param]


def component(run: ProgramRun):
    return run.one(TYPE_TOKEN)


def children(run: ProgramRun):
    return run.children_of(component(run).urn)


def child(run: ProgramRun, type_token: str):
    found = [r for r in children(run) if r.type == type_token]
    assert len(found) == 1, f"expected one {type_token} under the component, found {len(found)}"
    return found[0]


def role_password(run: ProgramRun) -> str:
    pw = child(run, PASSWORD_TYPE)
    return default_outputs(pw.type, pw.name, pw.inputs)["result"]


# ---- shape -----------------------------------------------------------------------------------


def test_one_component_with_exactly_its_five_children(run):
    assert len(run.of_type(TYPE_TOKEN)) == 1
    kinds = sorted(r.type for r in children(run))
    assert kinds == sorted([PROVIDER_TYPE, PASSWORD_TYPE, ROLE_TYPE, DATABASE_TYPE, GRANT_TYPE])
    # nothing of ours lives outside the component
    for token in (ROLE_TYPE, DATABASE_TYPE, GRANT_TYPE, PROVIDER_TYPE):
        assert len(run.of_type(token)) == 1, token


def test_component_is_a_child_of_the_gateway(run):
    parent = run.by_urn(component(run).parent)
    assert parent.type == "litellm-gateway:index:Gateway"


def test_role_database_and_grant_use_the_explicit_provider(run):
    provider = child(run, PROVIDER_TYPE)
    for token in (ROLE_TYPE, DATABASE_TYPE, GRANT_TYPE):
        ref = child(run, token).provider
        assert ref.startswith(provider.urn + "::"), (token, ref)


def test_dependency_order_role_then_database_then_grant(run):
    role, db, grant = child(run, ROLE_TYPE), child(run, DATABASE_TYPE), child(run, GRANT_TYPE)
    assert role.urn in db.depends_on
    assert db.urn in grant.depends_on
    assert child(run, PASSWORD_TYPE).urn in role.depends_on


# ---- inputs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stack", "expected"),
    [
        ("dev", {"host": "hx-postgres-server.hx.dev.local", "port": "5432", "sslmode": "require", "database": "postgres", "username": "postgres"}),
        ("local", {"host": "127.0.0.1", "port": "5432", "sslmode": "disable", "database": "postgres", "username": "postgres"}),
    ],
)
def test_provider_is_built_from_the_settings(stack, expected, dev, local):
    run = {"dev": dev, "local": local}[stack]
    provider = child(run, PROVIDER_TYPE)
    assert {k: provider.inputs.get(k) for k in expected} == expected
    assert provider.inputs["superuser"] == "false"  # JSON-encoded provider config
    assert int(provider.inputs["connectTimeout"]) > 0


def test_admin_password_only_when_configured_and_then_secret(dev, local):
    dev_provider = child(dev, PROVIDER_TYPE)
    assert dev_provider.inputs["password"] == ADMIN_PASSWORD
    assert "password" in dev_provider.secret_inputs
    assert "password" not in child(local, PROVIDER_TYPE).inputs  # trust auth: omitted, not ""


@pytest.mark.parametrize(("stack", "role", "limit"), [("dev", "litellm", 50), ("local", "litellm_local", 20)])
def test_role_is_a_plain_login_role(stack, role, limit, dev, local):
    r = child({"dev": dev, "local": local}[stack], ROLE_TYPE)
    assert r.inputs["name"] == role
    assert r.inputs["login"] is True
    assert r.inputs["connectionLimit"] == limit
    for flag in ("superuser", "createDatabase", "createRole", "replication", "bypassRowLevelSecurity"):
        assert r.inputs[flag] is False, flag
    assert "password" in r.secret_inputs


def test_role_password_is_generated_long_with_url_safe_specials(run):
    pw = child(run, PASSWORD_TYPE)
    assert pw.inputs["length"] >= 32
    assert pw.inputs["special"] is True
    assert set(pw.inputs["overrideSpecial"]) <= set("-_.~")
    assert child(run, ROLE_TYPE).inputs["password"] == role_password(run)


@pytest.mark.parametrize(("stack", "name"), [("dev", "litellm"), ("local", "litellm_local")])
def test_database_is_owned_by_the_role_and_public_loses_its_privileges(stack, name, dev, local):
    run = {"dev": dev, "local": local}[stack]
    db, grant = child(run, DATABASE_TYPE), child(run, GRANT_TYPE)
    assert db.inputs == {"name": name, "owner": child(run, ROLE_TYPE).inputs["name"]}
    assert grant.inputs == {"database": name, "role": "public", "objectType": "database", "privileges": []}


# ---- protection ------------------------------------------------------------------------------


@pytest.mark.parametrize(("stack", "protected"), [("dev", True), ("local", False)])
def test_role_and_database_protected_per_environment_never_retained(stack, protected, dev, local):
    run = {"dev": dev, "local": local}[stack]
    for token in (ROLE_TYPE, DATABASE_TYPE):
        r = child(run, token)
        assert r.protect is protected, token
        assert r.retain_on_delete is False, token
    for token in (PROVIDER_TYPE, PASSWORD_TYPE, GRANT_TYPE):
        assert child(run, token).protect is False, token


def test_protect_override_false_unprotects_dev():
    run = run_stack("dev", secrets=DEV_SECRETS, overrides={"protect": False})
    assert child(run, ROLE_TYPE).protect is False
    assert child(run, DATABASE_TYPE).protect is False


# ---- secrets ---------------------------------------------------------------------------------


def test_no_secret_value_in_any_non_secret_input_of_the_whole_program(run):
    password = role_password(run)
    needles = {password, database_url("x", password, "h", 1, "d", "disable").split(":", 2)[2].split("@")[0]}
    if run.stack == "dev":
        needles |= {ADMIN_PASSWORD, REDIS_PASSWORD}
    assert run.plain_inputs_carrying(needles) == []


def test_database_url_stack_output_is_secret_and_points_at_the_declared_role(run):
    assert "database_url" in run.secret_outputs
    url = run.outputs["database_url"]
    parts = urlsplit(url)
    role, db = child(run, ROLE_TYPE).inputs["name"], child(run, DATABASE_TYPE).inputs["name"]
    assert unquote(parts.username) == role
    assert unquote(parts.password) == role_password(run)
    assert unquote(parts.path.lstrip("/")) == db
    assert parts.port == 5432


def _component_only(stack: str, admin_password):
    """Build just the component from the stack's settings and export its Outputs unwrapped."""
    settings = load_stack_inputs(stack).settings()

    def program():
        db = PostgresDatabase(
            "pg",
            PostgresDatabaseArgs(settings=settings.postgres, admin_password=admin_password, protect=settings.protected),
        )
        for attr in ("database_url", "role_name", "database_name", "host", "port"):
            pulumi.export(attr, getattr(db, attr))

    return run_program(stack, {}, program=program)


@pytest.mark.parametrize("stack", ["dev", "local"])
def test_component_outputs_themselves_secret_only_where_needed(stack):
    run = _component_only(stack, pulumi.Output.secret(ADMIN_PASSWORD) if stack == "dev" else None)
    assert run.secret_outputs == {"database_url"}
    settings = load_stack_inputs(stack).settings().postgres
    assert run.outputs["role_name"] == settings.role
    assert run.outputs["database_name"] == settings.database
    assert run.outputs["host"] == settings.host
    assert run.outputs["port"] == settings.port
    pw = child(run, PASSWORD_TYPE)
    expected_pw = default_outputs(pw.type, pw.name, pw.inputs)["result"]
    assert run.outputs["database_url"] == database_url(
        settings.role, expected_pw, settings.host, settings.port, settings.database, settings.sslmode
    )


def test_a_plain_admin_password_still_reaches_the_provider_only_as_a_secret():
    run = _component_only("dev", ADMIN_PASSWORD)  # a plain str, not an Output.secret
    provider = run.one(PROVIDER_TYPE)
    assert "password" in provider.secret_inputs


# ---- pure helpers ----------------------------------------------------------------------------


def test_database_url_percent_encodes_every_part():
    url = database_url("us er@x", "p@ss:w/rd?x#y%25 z~-._", "db.example", 6543, "my/db", "require")
    assert url == (
        "postgresql://us%20er%40x:p%40ss%3Aw%2Frd%3Fx%23y%2525%20z~-._@db.example:6543/my%2Fdb?sslmode=require"
    )
    parts = urlsplit(url)
    assert unquote(parts.password) == "p@ss:w/rd?x#y%25 z~-._"
    assert unquote(parts.username) == "us er@x"


def test_database_url_brackets_ipv6_and_accepts_wire_floats():
    assert database_url("u", "p", "::1", 5432.0, "d", "disable") == "postgresql://u:p@[::1]:5432/d?sslmode=disable"


@pytest.mark.parametrize("port", [0, 70000, 5432.5, "5432", True])
def test_database_url_rejects_bad_ports(port):
    with pytest.raises(ValueError):
        database_url("u", "p", "h", port, "d", "disable")


def test_password_specials_are_url_unreserved():
    from urllib.parse import quote

    assert quote(PASSWORD_SPECIALS, safe="") == PASSWORD_SPECIALS


@pytest.mark.parametrize(
    ("configured", "provider"),
    [("disable", "disable"), ("allow", "require"), ("prefer", "require"), ("require", "require"),
     ("verify-ca", "verify-ca"), ("verify-full", "verify-full")],
)
def test_provider_sslmode_only_uses_modes_lib_pq_knows(configured, provider):
    assert provider_sslmode(configured) == provider


def test_default_sslmode_prefer_reaches_provider_as_require_but_url_keeps_prefer():
    settings = load_stack_inputs("local").settings().postgres.model_copy(update={"sslmode": "prefer"})

    def program():
        db = PostgresDatabase("pg", PostgresDatabaseArgs(settings=settings, admin_password=None, protect=False))
        pulumi.export("url", db.database_url)

    run = run_program("local", {}, program=program)
    assert run.one(PROVIDER_TYPE).inputs["sslmode"] == "require"
    assert run.outputs["url"].endswith("?sslmode=prefer")
