"""The gateway's PostgreSQL database: a login role that owns its own database.

What it declares (all children of the component, all through one explicit provider):

* ``postgresql.Provider`` built from the stack's settings (never the ambient ``PG*`` environment
  of whoever runs ``pulumi up``).
* ``random.RandomPassword`` for the role (40 characters; the only specials are the URL-unreserved
  ``-_.~`` so the password survives env files and shells unharmed; ``database_url`` still
  percent-encodes every part).
* ``postgresql.Role``: LOGIN, connection limit from settings, NOT superuser / CREATEDB /
  CREATEROLE / REPLICATION / BYPASSRLS.
* ``postgresql.Database`` owned by that role (``owner=role.name``: an Output, so the role exists
  first and is deleted last). Ownership is what LiteLLM needs: on PostgreSQL 15+ the ``public``
  schema belongs to ``pg_database_owner``, so the database owner may create tables there, while a
  role with only CONNECT fails LiteLLM's first Prisma migration with ``42501 permission denied for
  schema public`` (tests/components/test_postgres_integration.py proves both on a real server).
* ``postgresql.Grant`` with ``privileges=[]`` for role ``public`` on the database: PUBLIC loses
  the CONNECT and TEMPORARY it gets by default, so no other role of the cluster can connect.

Provider configuration, checked against the terraform provider the Pulumi one wraps
(cyrilgdn/terraform-provider-postgresql, postgresql/resource_postgresql_role.go and
resource_postgresql_database.go):

* ``superuser=False``. The flag only decides whether the provider reads a role's password back
  from ``pg_shadow`` on refresh (which needs a superuser; with SCRAM verifiers it keeps the state's
  password anyway). Creating a database with ``OWNER`` works without it: the provider checks
  ``rolsuper`` itself and, when the admin is not a superuser, temporarily grants itself membership
  of the owner role. So False works both for a superuser admin (the local stack's ``postgres``)
  and for a non-superuser admin with CREATEROLE + CREATEDB (managed servers).
* ``sslmode``/``sslrootcert``: the provider connects with Go's lib/pq (libpq's meanings), which
  refuses ``prefer`` and ``allow`` ("unsupported sslmode"): ``prefer`` is sent as ``require``
  (encrypt, without the silent plaintext fallback); a server without TLS must say ``sslmode:
  disable``. ``verify-full`` is sent as is, with ``sslrootcert`` naming ``postgres.ca_cert`` written
  on this machine (``operator_ca_file``). DATABASE_URL is NOT in libpq's terms: Prisma's parser
  (quaint) knows disable/prefer/require plus its own ``sslaccept``/``sslcert``
  (rendering/db_tls.py cites it and maps each mode).
* ``database=admin_database``, ``username=admin_user``, ``password`` only when given (secret; the
  SDK wraps it too), an explicit ``connect_timeout``.

Protection: the role and the database get ``protect=args.protect`` (dev: on; local: off). They
are NOT ``retain_on_delete``: a retained database keeps tables owned by the role, so the role's own
delete (REASSIGN/DROP OWNED run in the admin database only) would then fail with "role cannot be
dropped because some objects depend on it", unless the role were retained too — which would leave
a live login role whose password exists only in a destroyed stack's state, and a later ``pulumi
up`` would fail on "already exists". ``protect`` is the guard: deleting the data takes an explicit
`pulumi state unprotect` (or protect: false) first.

Secrets: the role's password only travels as a secret input (Role.password, wrapped by the SDK)
and inside the secret ``database_url`` output. Nothing else carries it.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional
from urllib.parse import quote

import pulumi
import pulumi_postgresql as postgresql
import pulumi_random as random

from config.postgres_settings import PostgresSettings
from rendering import db_tls

TYPE_TOKEN = "litellm-gateway:postgres:PostgresDatabase"

PASSWORD_LENGTH = 40
# RFC 3986 "unreserved": never percent-encoded, never special to a shell, env file or libpq.
PASSWORD_SPECIALS = "-_.~"
PROVIDER_CONNECT_TIMEOUT_SECONDS = 30
# Where operator_ca_file writes postgres.ca_cert for the provider (tests point it elsewhere:
# tests/conftest.py).
OPERATOR_CA_DIR = Path(__file__).resolve().parents[1] / ".ca"

provider_sslmode = db_tls.provider_sslmode


def database_url(user: str, password: str, host: str, port: int, database: str, sslmode: str,
                 ca_file: Optional[str] = None) -> str:
    """``postgresql://user:password@host:port/database?<TLS parameters Prisma honours>``; every part
    percent-encoded. ``ca_file``: where ``postgres.ca_cert`` is for whoever reads the URL (verify-full).

    Pure. An IPv6 literal host is bracketed. ``port`` must be an int in 1..65535 (a float from
    the Pulumi wire, e.g. 5432.0, is accepted when integral).
    """
    if isinstance(port, float) and port.is_integer():
        port = int(port)
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ValueError(f"port must be an integer in 1..65535, got {port!r}")
    for label, value in (("user", user), ("host", host), ("database", database), ("sslmode", sslmode)):
        if not isinstance(value, str) or not value:
            raise ValueError(f"{label} must be a non-empty string")
    if not isinstance(password, str):
        raise ValueError("password must be a string")
    host_part = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return (
        f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}@{host_part}:{port}"
        f"/{quote(database, safe='')}?{db_tls.prisma_ssl_query(sslmode, ca_file)}"
    )


def operator_ca_file(pem: str, directory: Optional[str] = None) -> str:
    """``postgres.ca_cert`` as a file on the machine running ``pulumi``: the pulumi-postgresql
    provider takes its CA as a path (``sslrootcert``), never as PEM text. Content-addressed
    (``<dir>/postgres-ca-<sha256[:16]>.crt``), written by every program run (``up``/``preview``), so
    the provider's configuration changes only with the CA. Default directory: ``.ca`` in the
    project directory (git-ignored). A standalone ``pulumi refresh``/``destroy`` on a fresh checkout
    does not run the program: run ``pulumi preview`` first (docs/security.md)."""
    base = Path(directory) if directory else OPERATOR_CA_DIR
    path = base / f"postgres-ca-{hashlib.sha256(pem.encode('utf-8')).hexdigest()[:16]}.crt"
    if not path.is_file() or path.read_text(encoding="utf-8") != pem:
        base.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(pem, encoding="utf-8")
        os.replace(tmp, path)
    return str(path)


@dataclass
class PostgresDatabaseArgs:
    settings: PostgresSettings
    admin_password: Optional[pulumi.Input[str]]
    """The admin's password (secret config postgresAdminPassword); None for trust/peer auth."""
    protect: bool
    """Protect the role and the database from deletion (all environments but local)."""
    operator_ca_dir: Optional[str] = None
    """Where ``operator_ca_file`` writes postgres.ca_cert for the provider (tests: a temp dir)."""


class PostgresDatabase(pulumi.ComponentResource):
    database_url: pulumi.Output[str]
    """Secret. What LiteLLM reads as DATABASE_URL."""
    role_name: pulumi.Output[str]
    database_name: pulumi.Output[str]
    host: pulumi.Output[str]
    port: pulumi.Output[int]

    def __init__(self, name: str, args: PostgresDatabaseArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE_TOKEN, name, None, opts)
        s = args.settings
        self._settings = s
        child = pulumi.ResourceOptions(parent=self)
        self.operator_ca_file: Optional[str] = (
            operator_ca_file(s.ca_cert, args.operator_ca_dir) if s.sslmode == "verify-full" and s.ca_cert else None
        )

        provider_args = dict(
            host=s.host,
            port=s.port,
            username=s.admin_user,
            database=s.admin_database,
            **db_tls.provider_ssl(s.sslmode, self.operator_ca_file),
            superuser=False,
            connect_timeout=PROVIDER_CONNECT_TIMEOUT_SECONDS,
        )
        if args.admin_password is not None:
            provider_args["password"] = pulumi.Output.secret(args.admin_password)
        self.admin_provider = postgresql.Provider(f"{name}-admin", **provider_args, opts=child)
        via_admin = pulumi.ResourceOptions(parent=self, provider=self.admin_provider)
        stateful = pulumi.ResourceOptions(parent=self, provider=self.admin_provider, protect=args.protect)

        self.password = random.RandomPassword(
            f"{name}-password",
            length=PASSWORD_LENGTH,
            special=True,
            override_special=PASSWORD_SPECIALS,
            min_lower=1,
            min_upper=1,
            min_numeric=1,
            opts=child,
        )
        # The mock engine (and a preview) do not mark RandomPassword.result secret by themselves.
        secret_password = pulumi.Output.secret(self.password.result)

        self.role = postgresql.Role(
            f"{name}-role",
            name=s.role,
            login=True,
            password=secret_password,
            connection_limit=s.connection_limit,
            superuser=False,
            create_database=False,
            create_role=False,
            replication=False,
            bypass_row_level_security=False,
            opts=stateful,
        )
        self.database = postgresql.Database(
            f"{name}-database",
            name=s.database,
            owner=self.role.name,
            opts=stateful,
        )
        self.revoke_public = postgresql.Grant(
            f"{name}-revoke-public",
            database=self.database.name,
            role="public",
            object_type="database",
            privileges=[],
            opts=via_admin,
        )

        self.role_name = self.role.name
        self.database_name = self.database.name
        self.host = pulumi.Output.from_input(s.host)
        self.port = pulumi.Output.from_input(s.port)
        self._url_parts = pulumi.Output.all(self.role.name, secret_password, self.database.name)
        # The stack output names this machine's CA copy; hosts and pods get their own (url_for).
        self.database_url = self.url_for(self.operator_ca_file)
        self.register_outputs(
            {
                "database_url": self.database_url,
                "role_name": self.role_name,
                "database_name": self.database_name,
                "host": self.host,
                "port": self.port,
            }
        )

    def url_for(self, ca_file: Optional[str]) -> pulumi.Output[str]:
        """Secret. DATABASE_URL for a reader that finds postgres.ca_cert at ``ca_file`` (None when
        sslmode is not verify-full). Through the role's and the database's outputs, so whoever
        reads the URL waits for both."""
        s = self._settings
        return pulumi.Output.secret(
            self._url_parts.apply(lambda v: database_url(v[0], v[1], s.host, s.port, v[2], s.sslmode, ca_file))
        )
