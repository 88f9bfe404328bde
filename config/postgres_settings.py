"""Stack settings of the Postgres server LiteLLM keeps its keys, teams and spend in. Pure.

The pool-size check (workers x pool x hosts within `connection_limit`) spans sections: it is in
`config.cross_checks`.
"""

from __future__ import annotations

from typing import Annotated, Literal, Optional

from pydantic import AfterValidator, Field, field_validator

from config import checks
from config.fields import HostOrIp, Port, SqlIdentifier, StrictModel

# The libpq modes Prisma cannot honour (quaint's parser: rendering/db_tls.py), and the way out.
REFUSED_SSLMODES = {
    "verify-ca": (
        "Prisma (the proxy's and the migration's database client) has no chain-only check: its "
        "sslaccept=strict always verifies the host name too, and it ignores sslmode=verify-ca (falling "
        "back to 'prefer', unverified); use verify-full with postgres.ca_cert"
    ),
    "allow": (
        "Prisma (the proxy's and the migration's database client) has no 'plaintext first' mode and "
        "would silently use 'prefer'; use prefer, require or verify-full (or disable)"
    ),
}

# The admin login and database the pulumi-postgresql provider connects with (role names of the
# server's own: broader than the SqlIdentifier the stack creates, still one plain word).
RoleName = Annotated[str, AfterValidator(checks.check_role_name)]


class PostgresSettings(StrictModel):
    enabled: bool = True
    host: HostOrIp
    port: Port = 5432
    admin_user: RoleName = "postgres"
    admin_database: RoleName = "postgres"
    # libpq's names. The proxy and the migration speak to PostgreSQL through Prisma, which knows
    # fewer (rendering/db_tls.py cites its parser): `allow` and `verify-ca` are refused below.
    sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] = "prefer"
    # The CA that signed the server's certificate (plain PEM, certificates only): required by and
    # only used with verify-full (config.cross_checks.database_tls_problems). Delivered to every
    # host / pod and to the pulumi-postgresql provider on the operator's machine.
    ca_cert: Optional[Annotated[str, AfterValidator(checks.check_pem_certificates)]] = None
    database: SqlIdentifier = "litellm"
    role: SqlIdentifier = "litellm"
    connection_limit: Annotated[int, Field(ge=1, le=10000)] = 50
    # Whether the admin password comes from secret config (postgresAdminPassword). Off only for a
    # server with trust/peer authentication (the local stack).
    admin_password_required: bool = True

    @field_validator("sslmode")
    @classmethod
    def _prisma_can_honour(cls, value: str) -> str:
        if value in REFUSED_SSLMODES:
            raise ValueError(f"sslmode {value!r} is refused: {REFUSED_SSLMODES[value]}")
        return value
