"""Apply what our pulumi-postgresql resources declare to a real PostgreSQL server.

Test support only; depends on psycopg 3 and the standard library, never on Pulumi.

* ``apply_role`` / ``apply_database`` / ``apply_database_grant`` (and
  ``revoke_connect_from_public``) run the statements pulumi-postgresql's ``Role``,
  ``Database`` and ``Grant`` (object_type "database") run when they create the object.
* ``apply_declared`` maps a mocked Pulumi resource (type token + inputs as the mocks see
  them: camelCase keys, numbers as floats, secrets wrapped) onto those calls and fails
  loudly on any input it does not understand.
* ``apply_litellm_migrations`` applies the installed litellm_proxy_extras Prisma
  migrations the way ``prisma migrate deploy`` does on an empty database.
* ``scratch_cluster_objects`` hands out uniquely named roles/databases and drops them
  all afterwards, even when the test fails.

Passwords: ``apply_role`` never sends the plaintext. It asks libpq to compute the verifier
the server would store (``PQencryptPasswordConn``, honouring the server's
``password_encryption``), so neither the server log, nor our log, nor any exception
message can contain the password. The catalogue ends up with exactly what
``CREATE ROLE ... PASSWORD '<plaintext>'`` would store.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import re
import sys
import time
import tomllib
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

__all__ = [
    "PostgresApplyError",
    "UnsupportedDeclaration",
    "Migration",
    "MigrationError",
    "MigrationReport",
    "ScratchCluster",
    "ScratchCleanupError",
    "apply_role",
    "apply_database",
    "apply_database_grant",
    "revoke_connect_from_public",
    "apply_declared",
    "litellm_migrations_dir",
    "list_litellm_migrations",
    "apply_litellm_migrations",
    "scratch_cluster_objects",
    "database_url",
    "ROLE_TYPE",
    "DATABASE_TYPE",
    "GRANT_TYPE",
]

log = logging.getLogger(__name__)

ROLE_TYPE = "postgresql:index/role:Role"
DATABASE_TYPE = "postgresql:index/database:Database"
GRANT_TYPE = "postgresql:index/grant:Grant"

# Wire sentinels of the Pulumi SDK (pulumi.runtime.rpc), copied so this module needs no Pulumi.
_PULUMI_SIG_KEY = "4dabf18193072939515e22adb298388d"
_PULUMI_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
_PULUMI_UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"

_DATABASE_PRIVILEGES = frozenset({"CREATE", "CONNECT", "TEMPORARY"})
_REDACTED = "********"


class PostgresApplyError(RuntimeError):
    """A statement failed on the server. Carries SQLSTATE; never carries a password."""

    def __init__(self, message: str, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


class UnsupportedDeclaration(ValueError):
    """apply_declared met a resource type or an input it does not know how to apply."""


# --------------------------------------------------------------------------------------
# helpers


def _require_autocommit(conn: psycopg.Connection[Any]) -> None:
    # CREATE DATABASE cannot run in a transaction block; every apply_* runs its own unit of
    # work (like the provider), so the caller's connection must not hold one open.
    if not conn.autocommit:
        raise ValueError("postgres_apply needs an autocommit connection (psycopg.connect(..., autocommit=True))")


def _check_int(label: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{label} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{label} must be >= {minimum}, got {value}")
    return value


def _check_bool(label: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{label} must be a bool, got {type(value).__name__}")
    return value


def _check_name(label: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{label} must be a non-empty string")
    if len(value.encode()) > 63:
        # PostgreSQL would silently truncate it (NOTICE) and we'd test a different name.
        raise ValueError(f"{label} {value!r} is longer than 63 bytes (NAMEDATALEN)")
    return value


def _scrub(text: str, *secrets: str | None) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, _REDACTED)
    return text


def _server_error(what: str, exc: psycopg.Error, *secrets: str | None) -> PostgresApplyError:
    primary = exc.diag.message_primary or str(exc)
    return PostgresApplyError(_scrub(f"{what} failed [{exc.sqlstate}]: {primary}", *secrets), exc.sqlstate)


def _flag(on: bool, yes: str, no: str) -> sql.SQL:
    return sql.SQL(yes if on else no)


# --------------------------------------------------------------------------------------
# Role / Database / Grant


def apply_role(
    conn: psycopg.Connection[Any],
    name: str,
    password: str | None,
    *,
    login: bool = True,
    connection_limit: int = -1,
    superuser: bool = False,
    create_database: bool = False,
    create_role: bool = False,
    inherit: bool = True,
    replication: bool = False,
    bypass_row_level_security: bool = False,
    valid_until: str = "infinity",
) -> None:
    """CREATE ROLE as pulumi-postgresql's Role does (every attribute spelled out).

    ``password=None`` creates the role with ``PASSWORD NULL``. The password is turned into
    the server's verifier client-side, so the plaintext never leaves this process.
    """
    _require_autocommit(conn)
    _check_name("role name", name)
    for label, flag in (
        ("login", login),
        ("superuser", superuser),
        ("create_database", create_database),
        ("create_role", create_role),
        ("inherit", inherit),
        ("replication", replication),
        ("bypass_row_level_security", bypass_row_level_security),
    ):
        _check_bool(label, flag)
    _check_int("connection_limit", connection_limit, -1)
    if not isinstance(valid_until, str) or not valid_until:
        raise ValueError("valid_until must be a non-empty string ('infinity' for none)")

    verifier: str | None = None
    if password is not None:
        if not isinstance(password, str):
            raise TypeError("password must be a str or None")
        if password == "":
            # The server turns '' into "no password" with only a NOTICE; refuse instead.
            raise ValueError("password must not be empty (use None for no password)")
        try:
            # algorithm=None: libpq asks the server for password_encryption (scram-sha-256
            # on PG >= 14, md5 on older configs) — exactly what the server would apply to a
            # plaintext PASSWORD clause. For md5 the role name is the salt.
            verifier = conn.pgconn.encrypt_password(password.encode(), name.encode(), None).decode()
        except psycopg.Error as exc:
            raise PostgresApplyError(_scrub(f"computing the password verifier for role {name!r} failed: {exc}", password)) from None

    def statement(secret: str | None) -> sql.Composed:
        return sql.SQL(" ").join(
            [
                sql.SQL("CREATE ROLE"),
                sql.Identifier(name),
                sql.SQL("WITH"),
                _flag(login, "LOGIN", "NOLOGIN"),
                _flag(superuser, "SUPERUSER", "NOSUPERUSER"),
                _flag(create_database, "CREATEDB", "NOCREATEDB"),
                _flag(create_role, "CREATEROLE", "NOCREATEROLE"),
                _flag(inherit, "INHERIT", "NOINHERIT"),
                _flag(replication, "REPLICATION", "NOREPLICATION"),
                _flag(bypass_row_level_security, "BYPASSRLS", "NOBYPASSRLS"),
                sql.SQL("CONNECTION LIMIT"),
                sql.Literal(connection_limit),
                sql.SQL("PASSWORD"),
                sql.Literal(secret) if secret is not None else sql.SQL("NULL"),
                sql.SQL("VALID UNTIL"),
                sql.Literal(valid_until),
            ]
        )

    if log.isEnabledFor(logging.DEBUG):
        log.debug("%s", statement(_REDACTED if verifier is not None else None).as_string(conn))
    try:
        conn.execute(statement(verifier))
    except psycopg.Error as exc:
        raise _server_error(f"CREATE ROLE {name!r}", exc, password, verifier) from None


def apply_database(
    conn: psycopg.Connection[Any],
    name: str,
    owner: str | None,
    *,
    connection_limit: int = -1,
    encoding: str | None = "UTF8",
    template: str | None = "template0",
    lc_collate: str | None = None,
    lc_ctype: str | None = None,
    allow_connections: bool = True,
    is_template: bool = False,
    tablespace_name: str | None = None,
) -> None:
    """CREATE DATABASE as pulumi-postgresql's Database does.

    ``None`` for owner/encoding/template/lc_*/tablespace omits the clause (server default:
    the connecting user, or the template's setting).
    """
    _require_autocommit(conn)
    _check_name("database name", name)
    _check_int("connection_limit", connection_limit, -1)
    _check_bool("allow_connections", allow_connections)
    _check_bool("is_template", is_template)
    parts: list[sql.Composable] = [sql.SQL("CREATE DATABASE"), sql.Identifier(name)]
    if owner is not None:
        parts += [sql.SQL("OWNER"), sql.Identifier(_check_name("owner", owner))]
    if template is not None:
        parts += [sql.SQL("TEMPLATE"), sql.Identifier(_check_name("template", template))]
    if encoding is not None:
        parts += [sql.SQL("ENCODING"), sql.Literal(encoding)]
    if lc_collate is not None:
        parts += [sql.SQL("LC_COLLATE"), sql.Literal(lc_collate)]
    if lc_ctype is not None:
        parts += [sql.SQL("LC_CTYPE"), sql.Literal(lc_ctype)]
    if tablespace_name is not None:
        parts += [sql.SQL("TABLESPACE"), sql.Identifier(tablespace_name)]
    parts += [
        sql.SQL("ALLOW_CONNECTIONS"),
        sql.Literal(allow_connections),
        sql.SQL("CONNECTION LIMIT"),
        sql.Literal(connection_limit),
        sql.SQL("IS_TEMPLATE"),
        sql.Literal(is_template),
    ]
    statement = sql.SQL(" ").join(parts)
    log.debug("%s", statement.as_string(conn))
    try:
        conn.execute(statement)
    except psycopg.Error as exc:
        raise _server_error(f"CREATE DATABASE {name!r}", exc) from None


def _grantee(role: str) -> sql.Composable:
    # The provider spells the pseudo-role "public" as the PUBLIC keyword.
    return sql.SQL("PUBLIC") if role == "public" else sql.Identifier(_check_name("role", role))


def apply_database_grant(
    conn: psycopg.Connection[Any],
    database: str,
    role: str,
    privileges: Sequence[str],
    *,
    with_grant_option: bool = False,
) -> None:
    """pulumi-postgresql Grant(object_type="database"): the role ends with exactly ``privileges``.

    Like the provider: REVOKE ALL, then GRANT the listed privileges, in one transaction.
    ``privileges=[]`` therefore means "no privileges on this database".
    """
    _require_autocommit(conn)
    _check_name("database", database)
    _check_bool("with_grant_option", with_grant_option)
    if isinstance(privileges, str):
        raise TypeError("privileges must be a list of strings, not a string")
    wanted = [str(p).upper() for p in privileges]
    unknown = sorted(set(wanted) - _DATABASE_PRIVILEGES)
    if unknown:
        raise ValueError(f"unsupported database privileges {unknown}; allowed: {sorted(_DATABASE_PRIVILEGES)}")
    if with_grant_option and role == "public":
        raise ValueError("WITH GRANT OPTION cannot be granted to PUBLIC")
    statements = [
        sql.SQL("REVOKE ALL PRIVILEGES ON DATABASE {} FROM {}").format(sql.Identifier(database), _grantee(role))
    ]
    if wanted:
        statements.append(
            sql.SQL("GRANT {} ON DATABASE {} TO {}{}").format(
                sql.SQL(", ").join(sql.SQL(p) for p in sorted(set(wanted))),
                sql.Identifier(database),
                _grantee(role),
                sql.SQL(" WITH GRANT OPTION") if with_grant_option else sql.SQL(""),
            )
        )
    try:
        with conn.transaction():
            for statement in statements:
                log.debug("%s", statement.as_string(conn))
                conn.execute(statement)
    except psycopg.Error as exc:
        raise _server_error(f"grant on database {database!r} to {role!r}", exc) from None


def revoke_connect_from_public(conn: psycopg.Connection[Any], database: str) -> None:
    """Grant(database, role="public", object_type="database", privileges=[]).

    Note: that resource revokes ALL of PUBLIC's database privileges (CONNECT and TEMPORARY),
    not CONNECT alone — this function does the same.
    """
    apply_database_grant(conn, database, "public", [])


# --------------------------------------------------------------------------------------
# adapter: mocked Pulumi resource -> apply_* call

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def _snake(key: str) -> str:
    return _CAMEL.sub("_", key).lower()


def _plain(path: str, value: Any) -> Any:
    """Unwrap Pulumi secrets, refuse unknowns, recurse into lists."""
    if isinstance(value, Mapping):
        if value.get(_PULUMI_SIG_KEY) == _PULUMI_SECRET_SIG:
            if set(value) != {_PULUMI_SIG_KEY, "value"}:
                raise UnsupportedDeclaration(f"{path}: malformed Pulumi secret wrapper")
            return _plain(path, value["value"])
        if _PULUMI_SIG_KEY in value:
            raise UnsupportedDeclaration(f"{path}: Pulumi resource reference/asset values are not supported")
        raise UnsupportedDeclaration(f"{path}: mapping values are not supported")
    if value == _PULUMI_UNKNOWN:
        raise UnsupportedDeclaration(f"{path}: value is unknown (preview); run the mocks with preview=False")
    if isinstance(value, (list, tuple)):
        return [_plain(f"{path}[{i}]", v) for i, v in enumerate(value)]
    return value


class _Inputs:
    """Normalised inputs: snake_case keys, plain values; tracks which keys were consumed."""

    def __init__(self, resource_type: str, inputs: Mapping[str, Any]) -> None:
        self._type = resource_type
        self._values: dict[str, Any] = {}
        for raw_key, raw_value in inputs.items():
            key = _snake(raw_key)
            if key in self._values:
                raise UnsupportedDeclaration(f"{resource_type}: input {raw_key!r} given twice (camelCase and snake_case)")
            if raw_value is None:
                continue  # an unset input: the provider default applies
            self._values[key] = _plain(f"{resource_type}.{raw_key}", raw_value)
        self._used: set[str] = set()

    def __contains__(self, key: str) -> bool:
        return key in self._values

    def get(self, key: str, default: Any = None) -> Any:
        self._used.add(key)
        return self._values.get(key, default)

    def required(self, key: str) -> Any:
        self._used.add(key)
        if key not in self._values:
            raise UnsupportedDeclaration(f"{self._type}: required input {key!r} is missing")
        return self._values[key]

    def integer(self, key: str, default: int) -> int:
        value = self.get(key, default)
        # The Pulumi wire format has one number type: ints arrive as floats (5 -> 5.0).
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise UnsupportedDeclaration(f"{self._type}: input {key!r} must be an integer, got {value!r}")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self.get(key, default)
        if not isinstance(value, bool):
            raise UnsupportedDeclaration(f"{self._type}: input {key!r} must be a bool, got {type(value).__name__}")
        return value

    def string(self, key: str, default: str | None = None, *, required: bool = False) -> str | None:
        value = self.required(key) if required else self.get(key, default)
        if value is not None and not isinstance(value, str):
            raise UnsupportedDeclaration(f"{self._type}: input {key!r} must be a string, got {type(value).__name__}")
        return value

    def reject_unused(self) -> None:
        left = sorted(set(self._values) - self._used)
        if left:
            raise UnsupportedDeclaration(f"{self._type}: apply_declared does not understand input(s) {left}")


# Inputs that only change what the provider does on update/delete, never what it creates.
_ROLE_CREATE_NOOP = ("skip_drop_role", "skip_reassign_owned", "password_wo_version")
_DATABASE_CREATE_NOOP = ("alter_object_ownership",)


def _default_or_none(value: str | None, default: str) -> str | None:
    """Provider rule for Database strings: unset/'' -> its default; 'DEFAULT' -> server default."""
    if value is None or value == "":
        return default
    if value.upper() == "DEFAULT":
        return None
    return value


def _declared_role(conn: psycopg.Connection[Any], i: _Inputs) -> str:
    name = i.string("name", required=True)
    password = i.string("password")
    password_wo = i.string("password_wo")
    if password is not None and password_wo is not None:
        raise UnsupportedDeclaration(f"{ROLE_TYPE}: both password and password_wo are set")
    if i.get("encrypted_password", True) is not True:
        raise UnsupportedDeclaration(f"{ROLE_TYPE}: encrypted_password=false (unencrypted passwords) is not supported by PostgreSQL >= 10")
    for key in _ROLE_CREATE_NOOP:
        i.get(key)
    kwargs = dict(
        # provider defaults, NOT apply_role's: a Role without login=True is NOLOGIN.
        login=i.boolean("login", False),
        connection_limit=i.integer("connection_limit", -1),
        superuser=i.boolean("superuser", False),
        create_database=i.boolean("create_database", False),
        create_role=i.boolean("create_role", False),
        inherit=i.boolean("inherit", True),
        replication=i.boolean("replication", False),
        bypass_row_level_security=i.boolean("bypass_row_level_security", False),
        valid_until=i.string("valid_until", "infinity") or "infinity",
    )
    i.reject_unused()
    apply_role(conn, name, password if password is not None else password_wo, **kwargs)
    return name


def _declared_database(conn: psycopg.Connection[Any], i: _Inputs) -> str:
    name = i.string("name", required=True)
    owner = i.string("owner")
    tablespace = i.string("tablespace_name")
    for key in _DATABASE_CREATE_NOOP:
        i.get(key)
    kwargs = dict(
        owner=None if owner is None or owner.upper() == "DEFAULT" else owner,
        connection_limit=i.integer("connection_limit", -1),
        encoding=_default_or_none(i.string("encoding"), "UTF8"),
        template=_default_or_none(i.string("template"), "template0") or "template0",
        lc_collate=_default_or_none(i.string("lc_collate"), "C"),
        lc_ctype=_default_or_none(i.string("lc_ctype"), "C"),
        allow_connections=i.boolean("allow_connections", True),
        is_template=i.boolean("is_template", False),
        tablespace_name=None if tablespace is None or tablespace.upper() == "DEFAULT" else tablespace,
    )
    i.reject_unused()
    apply_database(conn, name, **kwargs)
    return name


def _declared_grant(conn: psycopg.Connection[Any], i: _Inputs) -> str:
    object_type = i.string("object_type", required=True)
    if object_type != "database":
        raise UnsupportedDeclaration(f"{GRANT_TYPE}: object_type {object_type!r} is not supported (only 'database')")
    database = i.string("database", required=True)
    role = i.string("role", required=True)
    privileges = i.required("privileges")
    if not isinstance(privileges, list) or not all(isinstance(p, str) for p in privileges):
        raise UnsupportedDeclaration(f"{GRANT_TYPE}: privileges must be a list of strings")
    with_grant_option = i.boolean("with_grant_option", False)
    i.reject_unused()  # schema / objects / columns are meaningless for object_type database
    try:
        apply_database_grant(conn, database, role, privileges, with_grant_option=with_grant_option)
    except ValueError as exc:
        raise UnsupportedDeclaration(f"{GRANT_TYPE}: {exc}") from None
    return database


_HANDLERS = {ROLE_TYPE: _declared_role, DATABASE_TYPE: _declared_database, GRANT_TYPE: _declared_grant}


def apply_declared(conn: psycopg.Connection[Any], resource_type: str, inputs: Mapping[str, Any]) -> str:
    """Apply one mocked pulumi-postgresql resource; returns the role/database name it touched.

    ``inputs`` may use the wire (camelCase) or Python (snake_case) names; ints may arrive
    as floats; Pulumi-wrapped secrets are unwrapped. Anything else (another type token,
    an input not listed in the module docs, an unknown/preview value) raises
    UnsupportedDeclaration before anything is sent to the server.
    """
    handler = _HANDLERS.get(resource_type)
    if handler is None:
        raise UnsupportedDeclaration(f"apply_declared does not support resource type {resource_type!r}; supported: {sorted(_HANDLERS)}")
    return handler(conn, _Inputs(resource_type, inputs))


# --------------------------------------------------------------------------------------
# LiteLLM's Prisma migrations


@dataclasses.dataclass(frozen=True)
class Migration:
    name: str
    path: Path

    def script(self) -> str:
        return self.path.read_text(encoding="utf-8")


@dataclasses.dataclass(frozen=True)
class MigrationError:
    migration: str
    sqlstate: str | None
    message: str


@dataclasses.dataclass(frozen=True)
class MigrationReport:
    available: tuple[str, ...]
    applied: tuple[str, ...]
    errors: tuple[MigrationError, ...]
    seconds: float

    @property
    def applied_count(self) -> int:
        return len(self.applied)

    @property
    def first_error(self) -> MigrationError | None:
        return self.errors[0] if self.errors else None

    @property
    def ok(self) -> bool:
        return not self.errors and self.applied == self.available


def litellm_migrations_dir() -> Path:
    import litellm_proxy_extras  # the installed package, whatever version is pinned

    return Path(litellm_proxy_extras.__file__).resolve().parent / "migrations"


def list_litellm_migrations(migrations_dir: Path | None = None) -> list[Migration]:
    """The migrations in the order ``prisma migrate deploy`` applies them.

    Prisma: the lock file must name the provider; every sub-directory is a migration,
    ordered by directory name (byte order), and must contain ``migration.sql``.
    """
    root = Path(migrations_dir) if migrations_dir is not None else litellm_migrations_dir()
    lock = root / "migration_lock.toml"
    if lock.exists():
        provider = tomllib.loads(lock.read_text(encoding="utf-8")).get("provider")
        if provider != "postgresql":
            raise RuntimeError(f"{lock} names provider {provider!r}, not 'postgresql'")
    dirs = sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "__"))), key=lambda p: p.name.encode())
    migrations = []
    for d in dirs:
        script = d / "migration.sql"
        if not script.is_file():
            raise RuntimeError(f"migration directory {d.name!r} has no migration.sql (prisma migrate deploy fails on it too)")
        migrations.append(Migration(d.name, script))
    if not migrations:
        raise RuntimeError(f"no migrations found under {root}")
    return migrations


def apply_litellm_migrations(
    dsn: str, *, stop_on_error: bool = True, migrations_dir: Path | None = None
) -> MigrationReport:
    """Apply every migration, in Prisma's order, as the role ``dsn`` connects as.

    Like Prisma on PostgreSQL, each migration.sql is sent as ONE simple-protocol query on
    an autocommit connection, so the server runs it as one implicit transaction (all or
    nothing) — and a single-statement migration such as ``CREATE INDEX CONCURRENTLY`` runs
    outside a transaction block, which an explicit BEGIN/COMMIT wrapper would break.
    The ``_prisma_migrations`` ledger is not written.
    """
    migrations = list_litellm_migrations(migrations_dir)
    applied: list[str] = []
    errors: list[MigrationError] = []
    started = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True, application_name="postgres_apply-migrations") as conn:
        for migration in migrations:
            try:
                conn.execute(migration.script())  # no params -> simple query protocol
            except psycopg.Error as exc:
                errors.append(MigrationError(migration.name, exc.sqlstate, exc.diag.message_primary or str(exc)))
                if stop_on_error:
                    break
            else:
                applied.append(migration.name)
    return MigrationReport(
        available=tuple(m.name for m in migrations),
        applied=tuple(applied),
        errors=tuple(errors),
        seconds=time.perf_counter() - started,
    )


# --------------------------------------------------------------------------------------
# scratch objects


class ScratchCleanupError(RuntimeError):
    pass


class ScratchCluster:
    """Hands out unique role/database names and owns their removal.

    Names are registered before anything is created, so whatever a test managed to
    create is dropped even if it failed half-way.
    """

    def __init__(self, admin_dsn: str, prefix: str) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,30}", prefix):
            raise ValueError("prefix must be lowercase [a-z0-9_], at most 31 characters")
        self.admin_dsn = admin_dsn
        self.prefix = prefix
        self.run_id = uuid.uuid4().hex[:8]
        self.roles: list[str] = []
        self.databases: list[str] = []
        self.admin: psycopg.Connection[Any] = psycopg.connect(admin_dsn, autocommit=True, application_name="postgres_apply-scratch")

    def _name(self, label: str) -> str:
        if not re.fullmatch(r"[a-z0-9_]{1,16}", label):
            raise ValueError("label must be lowercase [a-z0-9_], at most 16 characters")
        return f"{self.prefix}_{self.run_id}_{label}_{uuid.uuid4().hex[:6]}"

    def role_name(self, label: str = "role") -> str:
        name = self._name(label)
        self.roles.append(name)
        return name

    def database_name(self, label: str = "db") -> str:
        name = self._name(label)
        self.databases.append(name)
        return name

    def dsn(self, user: str, database: str, password: str | None = None) -> str:
        """A conninfo on the admin DSN's host/port for ``user`` on ``database``."""
        base = conninfo_to_dict(self.admin_dsn)
        params = {k: v for k, v in base.items() if k in ("host", "hostaddr", "port", "sslmode", "connect_timeout")}
        params.update(user=user, dbname=database)
        if password is not None:
            params["password"] = password
        return make_conninfo(**params)

    def cleanup(self) -> list[str]:
        problems: list[str] = []
        conn = self.admin
        if conn.closed:
            try:
                conn = self.admin = psycopg.connect(self.admin_dsn, autocommit=True)
            except psycopg.Error as exc:
                return [f"cannot reconnect as admin to clean up: {exc}"]
        for db in reversed(self.databases):
            try:
                conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (db,))
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db)))
            except psycopg.Error as exc:
                problems.append(f"DROP DATABASE {db}: [{exc.sqlstate}] {exc.diag.message_primary or exc}")
        for role in reversed(self.roles):
            try:
                conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (role,))
                exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
                if exists:
                    with conn.transaction():
                        # shared objects (databases) and anything in the admin database
                        conn.execute(sql.SQL("REASSIGN OWNED BY {} TO CURRENT_USER").format(sql.Identifier(role)))
                        conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
                        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
            except psycopg.Error as exc:
                problems.append(f"DROP ROLE {role}: [{exc.sqlstate}] {exc.diag.message_primary or exc}")
        conn.close()
        return problems


@contextlib.contextmanager
def scratch_cluster_objects(admin_dsn: str, *, prefix: str = "llmgw_t") -> Iterator[ScratchCluster]:
    """Yield a ScratchCluster; drop every role/database it named afterwards, even on failure.

    Databases are dropped first (backends terminated, then DROP DATABASE ... WITH (FORCE)),
    then roles. A cleanup problem raises ScratchCleanupError — or, if the body already
    failed, is attached to that exception as a note so it is not masked.
    """
    scratch = ScratchCluster(admin_dsn, prefix)
    try:
        yield scratch
    finally:
        problems = scratch.cleanup()
        if problems:
            message = "scratch cleanup left objects behind:\n  " + "\n  ".join(problems)
            current = sys.exc_info()[1]
            if current is None:
                raise ScratchCleanupError(message)
            current.add_note(message)


# --------------------------------------------------------------------------------------
# DATABASE_URL


def database_url(user: str, password: str, host: str, port: int, database: str, sslmode: str) -> str:
    """postgresql:// URL with every component percent-encoded (RFC 3986 userinfo/path)."""
    host_part = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return (
        f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}@{host_part}:{int(port)}"
        f"/{quote(database, safe='')}?sslmode={quote(sslmode, safe='')}"
    )
