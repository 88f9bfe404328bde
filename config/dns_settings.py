"""Stack settings of the DNS records written on the Samba AD domain controller. Pure."""

from __future__ import annotations

from typing import Annotated, Literal, Optional

from pydantic import Field, model_validator

from config.fields import DnsName, HostOrIp, SshHostKey, StrictModel


class DnsSettings(StrictModel):
    enabled: bool = False
    # The Samba AD domain controller that runs samba-tool (reached over SSH).
    server: Optional[HostOrIp] = None
    zone: Optional[DnsName] = None
    admin_user: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._@\\$-]{0,255}$")] = "Administrator"
    # authfile: password from secret config dnsAdminPassword, written to a 0600 file for `-A`;
    # kerberos: an existing ccache on the DC (`--use-kerberos=required`).
    auth: Literal["authfile", "kerberos"] = "authfile"
    # The SSH host key of `server` (required when enabled).
    host_key: Optional[SshHostKey] = None
    # No TTL setting on purpose: `samba-tool dns add` cannot set one (records get its default, 900 s),
    # and a setting that is silently not applied is worse than none.

    @model_validator(mode="after")
    def _server_when_enabled(self) -> "DnsSettings":
        if self.enabled and not self.server:
            raise ValueError("'server' (the Samba AD domain controller) is required when enabled")
        return self
