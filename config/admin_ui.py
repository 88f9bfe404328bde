"""Stack setting `adminUi`: LiteLLM's Admin UI (`/ui`) off, or on with its own credentials. Pure.

What the pinned proxy (litellm 1.108.7) does, read in its source:
- `/login` (the UI's sign-in form, proxy_server.py) accepts `UI_USERNAME` / `UI_PASSWORD`, and
  without `UI_PASSWORD` the **master key** as the password (auth/login_utils.py
  `get_ui_credentials`): with LiteLLM's defaults the key that can do everything is typed into
  browsers. Here the UI is either off or has its own password (secret config `uiPassword`, refused
  when equal to the master key), so the master-key fallback never applies.
- `DISABLE_ADMIN_UI=True` (common_utils/admin_ui_utils.py) makes the SSO sign-in and the UI's
  discovery endpoint (`/.well-known/litellm-ui-config`: `admin_ui_disabled: true`) refuse the UI,
  but the static `/ui` files and `POST /login` stay served. So "off" also sets
  `general_settings.disable_env_credential_login: true`: no environment credential (neither a
  UI password nor the master key) signs in at `/login` (`_admin_credentials_match`).
- SSO (management_endpoints/ui_sso.py, auth/auth_utils.py `is_sso_provider_fully_configured`):
  Google (`GOOGLE_CLIENT_ID`/`GOOGLE_CLIENT_SECRET`), Microsoft (`MICROSOFT_CLIENT_ID`/
  `MICROSOFT_CLIENT_SECRET`/`MICROSOFT_TENANT`) or a generic OAuth/OIDC provider (`GENERIC_CLIENT_ID`/
  `GENERIC_CLIENT_SECRET`/`GENERIC_AUTHORIZATION_ENDPOINT`/`GENERIC_TOKEN_ENDPOINT`/
  `GENERIC_USERINFO_ENDPOINT`, optional `GENERIC_SCOPE`), with `PROXY_BASE_URL` (the gateway's URL,
  where the provider sends users back). The client secret is secret config `uiSsoClientSecret`.
  LiteLLM allows SSO for at most 5 users without an enterprise licence (`LITELLM_LICENSE`).
  `sso.password_login: false` sets `general_settings.disable_password_login_when_sso_enabled`.
"""

from __future__ import annotations

import re
from typing import Literal, Optional

from pydantic import field_validator, model_validator

from config import checks
from config.fields import StrictModel, check_host_or_ip

from config.host_env import SSO_SECRET_ENV, UI_PLAIN_ENV_NAMES, UI_SECRET_ENV_NAMES  # noqa: F401 (re-exported)

UI_PASSWORD_MIN_LENGTH = 12

_SCOPE = re.compile(r"[A-Za-z0-9._:/-]+( [A-Za-z0-9._:/-]+)*")


class SsoSettings(StrictModel):
    provider: Literal["google", "microsoft", "generic"]
    client_id: str
    # microsoft: the Entra tenant id (required)
    tenant: Optional[str] = None
    # generic: the provider's OAuth endpoints (required) and scopes
    authorization_endpoint: Optional[str] = None
    token_endpoint: Optional[str] = None
    userinfo_endpoint: Optional[str] = None
    scope: Optional[str] = None
    # false: only SSO signs in (LiteLLM's disable_password_login_when_sso_enabled)
    password_login: bool = True

    @field_validator("client_id", "tenant")
    @classmethod
    def _word(cls, value: Optional[str]) -> Optional[str]:
        return None if value is None else checks.check_word(value)

    @field_validator("authorization_endpoint", "token_endpoint", "userinfo_endpoint")
    @classmethod
    def _https(cls, value: Optional[str]) -> Optional[str]:
        if value is None:
            return None
        checks.check_http_url(value, host_check=check_host_or_ip)
        if not value.startswith("https://"):
            raise ValueError("expected an https:// URL (the client secret and users' tokens travel there)")
        return value

    @field_validator("scope")
    @classmethod
    def _scope(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not _SCOPE.fullmatch(value):
            raise ValueError("expected OAuth scopes separated by single spaces, e.g. 'openid email profile'")
        return value

    @model_validator(mode="after")
    def _provider_needs(self) -> "SsoSettings":
        need = {"microsoft": ("tenant",), "generic": ("authorization_endpoint", "token_endpoint", "userinfo_endpoint"),
                "google": ()}[self.provider]
        missing = [n for n in need if getattr(self, n) is None]
        if missing:
            raise ValueError(f"provider {self.provider} needs {', '.join(missing)} (LiteLLM's SSO does not start without)")
        extra = [n for n in ("tenant", "authorization_endpoint", "token_endpoint", "userinfo_endpoint", "scope")
                 if n not in need and not (n == "scope" and self.provider == "generic") and getattr(self, n) is not None]
        if extra:
            raise ValueError(f"{', '.join(extra)}: not used by provider {self.provider}")
        return self


class AdminUiSettings(StrictModel):
    """Off by default: LiteLLM's default would take the master key as the UI password."""

    enabled: bool = False
    # The UI's admin login name (UI_USERNAME); its password is secret config `uiPassword`.
    username: Optional[str] = None
    sso: Optional[SsoSettings] = None

    @field_validator("username")
    @classmethod
    def _login(cls, value: Optional[str]) -> Optional[str]:
        return None if value is None else checks.check_login_user(value)

    @model_validator(mode="after")
    def _on_needs_a_user(self) -> "AdminUiSettings":
        if self.enabled and self.username is None:
            raise ValueError("an enabled Admin UI needs 'username' (its password: `pulumi config set --secret uiPassword`); "
                             "LiteLLM would otherwise let 'admin' sign in with the master key")
        if not self.enabled and (self.username is not None or self.sso is not None):
            raise ValueError("username and sso apply only with enabled: true")
        return self


def ui_plain_env(ui: AdminUiSettings, proxy_base_url: str) -> list[tuple[str, str]]:
    """The env file's / pods' non-secret Admin UI entries, in file order."""
    if not ui.enabled:
        return [("DISABLE_ADMIN_UI", "True")]
    out = [("DISABLE_ADMIN_UI", "False"), ("UI_USERNAME", str(ui.username))]
    sso = ui.sso
    if sso is not None:
        prefix = sso.provider.upper()
        out.append((f"{prefix}_CLIENT_ID", sso.client_id))
        if sso.provider == "microsoft":
            out.append(("MICROSOFT_TENANT", str(sso.tenant)))
        if sso.provider == "generic":
            out.append(("GENERIC_AUTHORIZATION_ENDPOINT", str(sso.authorization_endpoint)))
            out.append(("GENERIC_TOKEN_ENDPOINT", str(sso.token_endpoint)))
            out.append(("GENERIC_USERINFO_ENDPOINT", str(sso.userinfo_endpoint)))
            if sso.scope:
                out.append(("GENERIC_SCOPE", sso.scope))
        out.append(("PROXY_BASE_URL", proxy_base_url))
    return out


def ui_secret_env_names(ui: AdminUiSettings) -> list[str]:
    if not ui.enabled:
        return []
    names = ["UI_PASSWORD"]
    if ui.sso is not None:
        names.append(SSO_SECRET_ENV[ui.sso.provider])
    return names


def ui_general_settings(ui: AdminUiSettings) -> dict[str, bool]:
    """config.yaml general_settings entries of the Admin UI."""
    if not ui.enabled:
        return {"disable_env_credential_login": True}
    if ui.sso is not None and not ui.sso.password_login:
        return {"disable_password_login_when_sso_enabled": True}
    return {}
