"""Stack settings of Redis (router state, the managed ACL user) and of LiteLLM's response cache in it.
Pure (no Pulumi imports)."""

from __future__ import annotations

from typing import Annotated, Optional

from pydantic import AfterValidator, Field, model_validator

from config import checks
from config.fields import HostOrIp, Port, SshHostKey, StrictModel


def _redis_user(value: Optional[str]) -> Optional[str]:
    return None if value is None else checks.check_redis_user(value)


class RedisSettings(StrictModel):
    enabled: bool = True
    host: HostOrIp
    port: Port = 6379
    # An ACL user for the gateway; None = the default user.
    user: Annotated[Optional[str], AfterValidator(_redis_user)] = None
    # TLS to Redis (redis-py's SSLConnection, as `rediss://` selects; redis-cli --tls for
    # manage_acl). The server's certificate is verified (chain and host name for the proxy) against
    # ca_cert, or the system's CAs without it (rendering/db_tls.py).
    tls: bool = False
    # The CA that signed the Redis server's certificate (plain PEM, certificates only); needs tls.
    ca_cert: Optional[Annotated[str, AfterValidator(checks.check_pem_certificates)]] = None
    # Create/rotate the ACL user with `ACL SETUSER` over SSH on the Redis host (password generated
    # unless redisPassword is set). Off: the server is someone else's; redisPassword is used if set.
    manage_acl: bool = False
    # The host redis-cli runs on for manage_acl; defaults to `host`.
    ssh_host: Optional[HostOrIp] = None
    # The SSH host key of that host (required with manage_acl).
    host_key: Optional[SshHostKey] = None
    # The Redis user redis-cli logs in as to manage the ACL user (manage_acl), with the secret
    # redisAdminPassword; not set: the default user (with redisAdminPassword when the server has
    # `requirepass`). The password reaches redis-cli only as REDISCLI_AUTH, read from the command's
    # stdin (rendering.redis_acl): never on a command line, never in the SSH session's environment.
    admin_user: Annotated[Optional[str], AfterValidator(_redis_user)] = None
    # The server serves this gateway alone: the managed ACL user may then get every key (`~*`).
    # Off (default): it is confined to `<cache namespace>:*`, and `~*` is refused.
    dedicated: bool = False

    @model_validator(mode="after")
    def _acl_needs_user(self) -> "RedisSettings":
        if self.manage_acl and not self.user:
            raise ValueError("manage_acl needs 'user' (the ACL user to create)")
        if self.manage_acl and self.user == "default":
            raise ValueError(
                "manage_acl would reset Redis's 'default' user (every client without a user name "
                "logs in as it); set user to a dedicated name such as 'litellm'"
            )
        if self.admin_user is not None and not self.manage_acl:
            raise ValueError("admin_user is the user that manages the ACL user: it needs manage_acl: true")
        if self.admin_user is not None and self.admin_user == self.user:
            raise ValueError(f"admin_user '{self.admin_user}' is the ACL user manage_acl resets (its password and rules): "
                             "give the admin user another name")
        return self


class CacheSettings(StrictModel):
    """LiteLLM's response cache in Redis (litellm_settings.cache / cache_params)."""

    enabled: bool = True
    ttl_seconds: Annotated[int, Field(ge=1)] = 600
    namespace: Annotated[Optional[str], AfterValidator(lambda v: None if v is None else checks.check_namespace(v))] = None
