"""Stack settings of the Postgres server LiteLLM keeps its keys, teams and spend in. Pure.

The pool-size check (workers x pool x hosts within `connection_limit`) spans sections: it is in
`config.cross_checks`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from config import checks
from config.fields import HostOrIp, Port, SqlIdentifier, StrictModel

# The admin login and database the pulumi-postgresql provider connects with (role names of the
# server's own: broader than the SqlIdentifier the stack creates, still one plain word).
RoleName = Annotated[str, AfterValidator(checks.check_role_name)]


class PostgresSettings(StrictModel):
    enabled: bool = True
    host: HostOrIp
    port: Port = 5432
    admin_user: RoleName = "postgres"
    admin_database: RoleName = "postgres"
    sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] = "prefer"
    database: SqlIdentifier = "litellm"
    role: SqlIdentifier = "litellm"
    connection_limit: Annotated[int, Field(ge=1, le=10000)] = 50
    # Whether the admin password comes from secret config (postgresAdminPassword). Off only for a
    # server with trust/peer authentication (the local stack).
    admin_password_required: bool = True
