"""The DNS records a stack needs, as data, and as the text a stack without managed DNS hands to
whoever keeps its zone (`build/<stack>/dns-records.txt`, offline/render.py). Pure.

The same records components/gateway.py writes on the Samba AD domain controller when dns.enabled
(tests/rendering/test_dns_records.py checks the two agree on every committed stack): an A record per
host, the front door's A record (several hosts), and the service name as a CNAME of the front door
(or of the first host).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DnsRecordLine:
    name: str  # relative to the zone
    type: str  # A, AAAA or CNAME
    value: str  # an address, or a CNAME's target FQDN


def needed_records(settings: Any) -> list[DnsRecordLine]:
    """Every record an ssh deploy needs (none for local and kubernetes deploys)."""
    s = settings
    if s.litellm.deploy != "ssh":
        return []
    out: list[DnsRecordLine] = []
    for host in s.litellm.hosts:
        out.append(DnsRecordLine(host.name, _address_type(host.address), host.address))
    service = s.litellm.service_name
    if s.has_front_door:
        fd = s.front_door
        out.append(DnsRecordLine(fd.name, _address_type(fd.address), fd.address))
        if service and service != fd.name:
            out.append(DnsRecordLine(service, "CNAME", s.fqdn(fd.name)))
    elif service and service != s.litellm.hosts[0].name:
        out.append(DnsRecordLine(service, "CNAME", s.fqdn(s.litellm.hosts[0].name)))
    return out


def _address_type(address: str) -> str:
    """A/AAAA for an address; a host given by name is a CNAME of that name."""
    try:
        return "AAAA" if ipaddress.ip_address(address).version == 6 else "A"
    except ValueError:
        return "CNAME"


def records_text(settings: Any) -> str:
    """Zone-file lines (`<fqdn>. IN <type> <value>`) with what to do, for a stack whose DNS is not
    managed by the stack (dns.enabled: false)."""
    zone = settings.dns.zone or settings.domain
    lines = [
        f"; stack '{settings.stack}': the DNS records the gateway needs in zone {zone}.",
        "; dns.enabled is false, so the stack does not write them: create them in your DNS before",
        "; consumers (and the admin-API providers, unless litellm-gateway:adminUrl is set) use the names.",
    ]
    for r in needed_records(settings):
        value = r.value.rstrip(".") + "." if r.type == "CNAME" else r.value
        lines.append(f"{r.name}.{zone}. IN {r.type} {value}")
    return "\n".join(lines) + "\n"
