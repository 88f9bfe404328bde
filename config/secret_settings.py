"""The stack's secrets: values that only ever come from Pulumi secret config. Pure."""

from __future__ import annotations

from typing import Optional

from pydantic import Field, SecretStr, field_validator

from config.fields import ENV_NAME, StrictModel


class GatewaySecrets(StrictModel):
    """Values that only come from `pulumi config set --secret`. SecretStr keeps them out of reprs."""

    master_key: Optional[SecretStr] = None
    salt_key: Optional[SecretStr] = None
    postgres_admin_password: Optional[SecretStr] = None
    redis_password: Optional[SecretStr] = None
    # The password redis-cli authenticates with to manage the ACL user (redis.manage_acl): of
    # redis.admin_user, or of the default user (requirepass) when admin_user is not set.
    redis_admin_password: Optional[SecretStr] = None
    ssh_private_key: Optional[SecretStr] = None
    dns_admin_password: Optional[SecretStr] = None
    tls_ca_key: Optional[SecretStr] = None
    # tls.issuer provided: the certificate chain (server certificate first) and its key, PEM.
    tls_cert_chain: Optional[SecretStr] = None
    tls_key: Optional[SecretStr] = None
    # The Admin UI's password (UI_PASSWORD) and its SSO client secret (config/admin_ui.py).
    ui_password: Optional[SecretStr] = None
    ui_sso_client_secret: Optional[SecretStr] = None
    # NAME -> value for every os.environ/NAME the rendered config references.
    env_secrets: dict[str, SecretStr] = Field(default_factory=dict)

    @field_validator("master_key")
    @classmethod
    def _sk_prefix(cls, value: Optional[SecretStr]) -> Optional[SecretStr]:
        if value is not None and not value.get_secret_value().startswith("sk-"):
            raise ValueError("LiteLLM requires the master key to start with 'sk-'")
        return value

    @field_validator("ui_password")
    @classmethod
    def _ui_password_length(cls, value: Optional[SecretStr]) -> Optional[SecretStr]:
        from config.admin_ui import UI_PASSWORD_MIN_LENGTH

        if value is not None and len(value.get_secret_value()) < UI_PASSWORD_MIN_LENGTH:
            raise ValueError(f"the Admin UI password must have at least {UI_PASSWORD_MIN_LENGTH} characters "
                             "(value not shown)")
        return value

    @field_validator("env_secrets", mode="before")
    @classmethod
    def _numbers_as_text(cls, value: object) -> object:
        # `pulumi config set --path envSecrets.X 123` without --secret stores a number.
        if isinstance(value, dict):
            return {k: str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v for k, v in value.items()}
        return value

    @field_validator("env_secrets")
    @classmethod
    def _env_names(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        bad = [k for k in value if not ENV_NAME.fullmatch(k)]
        if bad:
            raise ValueError(f"not valid environment variable names (A-Z, 0-9, _): {', '.join(repr(b) for b in sorted(bad))}")
        return value
