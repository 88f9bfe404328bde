"""One DNS record on a Samba AD domain controller, kept with `samba-tool dns` over SSH.

The record is a `remote.Command` on the DC whose create/update/delete run the idempotent scripts of
`rendering.dns_scripts` (query first; add/update/delete as needed). Credentials travel only as the
command's secret `stdin` (the samba auth file, written 0600 on the DC and removed after) or not at
all (Kerberos ccache on the DC). The command strings, triggers and environment never hold them.

Replacement vs update: the record's identity (server, zone, name, type) is in `triggers`, so a
rename replaces the record (the old one is deleted first: a CNAME cannot coexist with an A record
of the same name); a new value (an IP change) is an in-place update that runs `samba-tool dns
update <old> <new>` against whatever value the DC holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional

import pulumi
from pulumi_command import remote

from rendering.dns_scripts import (
    RecordSpec,
    auth_file_content,
    command_line,
    delete_script,
    ensure_script,
    record_fqdn,
)

TYPE_TOKEN = "litellm-gateway:dns:DnsRecord"


@dataclass
class DnsRecordArgs:
    connection: remote.ConnectionArgs
    """SSH to the domain controller (samba-tool runs there)."""
    server: str
    """The DC samba-tool talks to (its RPC endpoint), normally the DC itself."""
    zone: str
    name: str
    """Relative to the zone ("@" for the apex)."""
    record_type: Literal["A", "CNAME"]
    value: pulumi.Input[str]
    """IPv4 address (A) or target host name (CNAME)."""
    admin_user: str
    admin_password: Optional[pulumi.Input[str]]
    """Needed for auth "authfile"; travels only as the command's secret stdin."""
    auth: Literal["authfile", "kerberos"]
    # No TTL: `samba-tool dns add` has no TTL option (records get its default, 900 s).
    domain: Optional[str] = None
    """`domain=` of the auth file; None = the DC's own workgroup (samba-tool's default there)."""


class DnsRecord(pulumi.ComponentResource):
    fqdn: pulumi.Output[str]
    value: pulumi.Output[str]

    def __init__(self, name: str, args: DnsRecordArgs, opts: Optional[pulumi.ResourceOptions] = None):
        if args.record_type not in ("A", "CNAME"):
            raise ValueError(f"DnsRecord {name}: record_type must be A or CNAME")
        if args.auth not in ("authfile", "kerberos"):
            raise ValueError(f"DnsRecord {name}: auth must be authfile or kerberos")
        if args.auth == "authfile" and args.admin_password is None:
            raise ValueError(
                f"DnsRecord {name}: auth 'authfile' needs the DNS admin password "
                "(secret config dnsAdminPassword)"
            )

        def spec(value: str) -> RecordSpec:
            return RecordSpec(
                server=args.server,
                zone=args.zone,
                name=args.name,
                record_type=args.record_type,
                value=value,
                auth=args.auth,
            )

        # Validate what is known now (the value may be an Output; it is validated in the apply).
        if isinstance(args.value, str):
            spec(args.value)

        super().__init__(TYPE_TOKEN, name, None, opts)

        value = pulumi.Output.from_input(args.value)
        ensure = value.apply(lambda v: command_line(ensure_script(spec(v))))
        delete = value.apply(lambda v: command_line(delete_script(spec(v))))

        stdin: Optional[pulumi.Output[str]] = None
        if args.auth == "authfile":
            user, domain = args.admin_user, args.domain
            stdin = pulumi.Output.secret(args.admin_password).apply(
                lambda password: auth_file_content(user, password, domain)
            )

        command = remote.Command(
            f"{name}-record",
            connection=args.connection,
            create=ensure,
            update=ensure,
            delete=delete,
            stdin=stdin,
            # identity only: a change replaces the record; never credentials here
            triggers=[args.server, args.zone, args.name, args.record_type],
            # the previous stdout/stderr would be sent as SSH env vars (needs AcceptEnv on the DC)
            add_previous_output_in_env=False,
            opts=pulumi.ResourceOptions(
                parent=self,
                delete_before_replace=True,
                additional_secret_outputs=["stdin"],
            ),
        )
        self.command = command

        fqdn = record_fqdn(args.name, args.zone)
        # Resolved once the command has run, so consumers of fqdn wait for the record.
        self.fqdn = pulumi.Output.all(command.id, value).apply(lambda _: fqdn)
        self.value = pulumi.Output.all(command.id, value).apply(lambda parts: parts[1])
        self.register_outputs({"fqdn": self.fqdn, "value": self.value})
