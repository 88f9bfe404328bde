"""The DNS records a stack needs, as data, and as the text a stack without managed DNS hands to
whoever keeps its zone (`build/<stack>/dns-records.txt`, offline/render.py). Pure.

The same records components/gateway.py writes on the Samba AD domain controller when dns.enabled
(tests/rendering/test_dns_records.py checks the two agree on every committed stack): an A record per
host, the front door's A record (several hosts), and the service name as a CNAME of the front door
(or of the first host). `records_behind`: the records a name resolves through (its record, then
its CNAME's target's, ...): the admin-API providers wait for those of the gateway's URL.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from config.endpoints import base_url


@dataclass(frozen=True)
class DnsRecordLine:
    name: str  # relative to the zone
    type: str  # A, AAAA or CNAME
    value: str  # an address, or a CNAME's target FQDN


def dns_zone(settings: Any) -> str:
    """The zone the records go into: `dns.zone`, else the stack's domain."""
    return settings.dns.zone or settings.domain


def zone_relative_name(settings: Any, name: str) -> str:
    """The record of `<name>.<domain>` relative to the zone: `name` when the zone is the domain,
    `name.hx` for domain hx.dev.local in zone dev.local (config.cross_checks refuses a zone that is
    not the domain or a parent of it)."""
    zone, domain = dns_zone(settings), settings.domain
    if domain == zone:
        return name
    return f"{name}.{domain[: -len(zone) - 1]}"


def needed_records(settings: Any) -> list[DnsRecordLine]:
    """Every record an ssh deploy needs (none for local and kubernetes deploys)."""
    s = settings
    if s.litellm.deploy != "ssh":
        return []
    out: list[DnsRecordLine] = []
    for host in s.litellm.hosts:
        out.append(DnsRecordLine(zone_relative_name(s, host.name), _address_type(host.address), host.address))
    service = s.litellm.service_name
    if s.has_front_door:
        fd = s.front_door
        out.append(DnsRecordLine(zone_relative_name(s, fd.name), _address_type(fd.address), fd.address))
        if service and service != fd.name:
            out.append(DnsRecordLine(zone_relative_name(s, service), "CNAME", s.fqdn(fd.name)))
    elif service and service != s.litellm.hosts[0].name:
        out.append(DnsRecordLine(zone_relative_name(s, service), "CNAME", s.fqdn(s.litellm.hosts[0].name)))
    return out


def records_behind(settings: Any, fqdn: str) -> list[DnsRecordLine]:
    """The records of `needed_records` that `fqdn` resolves through, in resolution order: its own
    record, then, while it is a CNAME, its target's. Empty when the stack has no record for it."""
    zone = dns_zone(settings).rstrip(".").lower()
    by_fqdn = {f"{r.name}.{zone}".lower(): r for r in needed_records(settings)}
    out: list[DnsRecordLine] = []
    name = fqdn.rstrip(".").lower()
    while name in by_fqdn and by_fqdn[name] not in out:
        record = by_fqdn[name]
        out.append(record)
        if record.type != "CNAME":
            break
        name = record.value.rstrip(".").lower()
    return out


def admin_url_records(settings: Any) -> list[DnsRecordLine]:
    """The records the gateway's URL (`config.endpoints.base_url`: the admin-API providers' URL
    unless `adminUrl` overrides it) resolves through: with a front door, the service name's CNAME
    and the front door's A record."""
    return records_behind(settings, urlsplit(base_url(settings)).hostname or "")


def _address_type(address: str) -> str:
    """A/AAAA for an address; a host given by name is a CNAME of that name."""
    try:
        return "AAAA" if ipaddress.ip_address(address).version == 6 else "A"
    except ValueError:
        return "CNAME"


def records_text(settings: Any) -> str:
    """Zone-file lines (`<fqdn>. IN <type> <value>`) with what to do, for a stack whose DNS is not
    managed by the stack (dns.enabled: false)."""
    zone = dns_zone(settings)
    lines = [
        f"; stack '{settings.stack}': the DNS records the gateway needs in zone {zone}.",
        "; dns.enabled is false, so the stack does not write them: create them in your DNS before",
        "; consumers (and the admin-API providers, unless litellm-gateway:adminUrl is set) use the names.",
    ]
    for r in needed_records(settings):
        value = r.value.rstrip(".") + "." if r.type == "CNAME" else r.value
        lines.append(f"{r.name}.{zone}. IN {r.type} {value}")
    return "\n".join(lines) + "\n"
