"""With DNS not managed by the stack (dns.enabled: false), `make render` writes the records to create
into build/<stack>/dns-records.txt (issue 20); they are exactly the records the stack writes on the
domain controller when DNS is managed."""

from __future__ import annotations

import pytest

from offline.engine import run_program
from offline.render import render_inputs
from offline.stack_inputs import load_stack_inputs
from rendering.dns_records import DnsRecordLine, needed_records, records_text


@pytest.mark.parametrize("stack", ["dev", "dev-ha"])
def test_the_records_are_the_ones_the_stack_writes_when_dns_is_managed(stack):
    inputs = load_stack_inputs(stack)
    settings = inputs.settings()
    assert settings.dns.enabled
    run = run_program(stack, inputs.config, inputs.secret_keys)
    commands = [r for r in run.resources if r.type == "command:remote:Command" and r.name.endswith("-record")]
    declared = sorted((c.inputs["triggers"][2], c.inputs["triggers"][3]) for c in commands)
    wanted = needed_records(settings)
    assert declared == sorted((r.name, r.type) for r in wanted)
    for r in wanted:
        [c] = [c for c in commands if c.inputs["triggers"][2] == r.name]
        assert r.value in c.inputs["create"], (r, c.inputs["create"][:300])


def test_render_writes_the_records_to_create_when_dns_is_off(tmp_path, capsys):
    inputs = load_stack_inputs("dev-ha", overrides={"dns": {"enabled": False}})
    assert render_inputs(inputs, tmp_path) == 0
    assert (tmp_path / "dev-ha" / "dns-records.txt").read_text() == (
        "; stack 'dev-ha': the DNS records the gateway needs in zone hx.dev.local.\n"
        "; dns.enabled is false, so the stack does not write them: create them in your DNS before\n"
        "; consumers (and the admin-API providers, unless litellm-gateway:adminUrl is set) use the names.\n"
        "hx-litellm-server.hx.dev.local. IN A 192.168.10.20\n"
        "hx-litellm-server-2.hx.dev.local. IN A 192.168.10.21\n"
        "hx-litellm-lb.hx.dev.local. IN A 192.168.10.30\n"
        "litellm.hx.dev.local. IN CNAME hx-litellm-lb.hx.dev.local.\n"
    )
    assert "dns-records.txt" in capsys.readouterr().out


def test_no_file_when_dns_is_managed_or_nothing_needs_a_name(tmp_path):
    for stack in ("dev", "local"):
        assert render_inputs(load_stack_inputs(stack), tmp_path) == 0
        assert not (tmp_path / stack / "dns-records.txt").exists()


def test_a_host_given_by_name_or_ipv6_gets_the_matching_record_type():
    # one host per stack: behind a front door (two hosts) an ssh host's address must be its IP,
    # since the proxy listens on it (config.cross_checks)
    ha = load_stack_inputs("dev-ha").settings()
    records = []
    for host in ({"name": "gw-1", "address": "gw-1.infra.example"}, {"name": "gw-2", "address": "fd00::20"}):
        litellm = {**ha.litellm.model_dump(exclude_unset=True), "hosts": [{**host, "host_key": ha.litellm.hosts[0].host_key}]}
        s = load_stack_inputs("dev-ha", overrides={"dns": {"enabled": False}, "litellm": litellm}).settings()
        records.append(needed_records(s)[0])
        if host["name"] == "gw-1":
            assert "gw-1.hx.dev.local. IN CNAME gw-1.infra.example.\n" in records_text(s)
    assert records == [DnsRecordLine("gw-1", "CNAME", "gw-1.infra.example"), DnsRecordLine("gw-2", "AAAA", "fd00::20")]


def test_the_gateway_url_resolves_through_the_service_cname_then_the_front_doors_a_record():
    from rendering.dns_records import admin_url_records, records_behind

    s = load_stack_inputs("dev-ha").settings()  # service name `litellm`, a front door, DNS managed
    fd = s.front_door
    assert admin_url_records(s) == [
        DnsRecordLine(s.litellm.service_name, "CNAME", s.fqdn(fd.name)),
        DnsRecordLine(fd.name, "A", fd.address),
    ]
    # a host's own name: its A record alone; a name the stack has no record for: none
    host = s.litellm.hosts[1]
    assert records_behind(s, s.fqdn(host.name) + ".") == [DnsRecordLine(host.name, "A", host.address)]
    assert records_behind(s, "elsewhere.example.org") == []
    # one host, no front door: the service name is a CNAME of the first host
    one = load_stack_inputs("dev").settings()
    first = one.litellm.hosts[0]
    assert [r.name for r in admin_url_records(one)] == (
        [one.litellm.service_name, first.name] if one.litellm.service_name not in (None, first.name) else [first.name])
    # no records for local deploys
    assert admin_url_records(load_stack_inputs("local").settings()) == []


def test_in_a_parent_zone_the_records_name_the_hosts_under_the_domain():
    """dns.zone dev.local for domain hx.dev.local: every record is `<host>.hx` in that zone, so its
    FQDN is the host's own (what certificates, URLs and clients use); the program writes exactly
    those, and the gateway URL's records are still found (the providers wait for them)."""
    from rendering.dns_records import admin_url_records

    dns = load_stack_inputs("dev-ha").settings().dns.model_dump(exclude_unset=True)  # an override replaces the section
    inputs = load_stack_inputs("dev-ha", overrides={"dns": {**dns, "zone": "dev.local"}})
    s = inputs.settings()
    assert s.dns.enabled
    wanted = needed_records(s)
    assert [r.name for r in wanted] == [f"{h.name}.hx" for h in s.litellm.hosts] + [f"{s.front_door.name}.hx", f"{s.litellm.service_name}.hx"]
    assert [r.name for r in admin_url_records(s)] == [f"{s.litellm.service_name}.hx", f"{s.front_door.name}.hx"]
    run = run_program("dev-ha", inputs.config, inputs.secret_keys)
    commands = [r for r in run.resources if r.type == "command:remote:Command" and r.name.endswith("-record")]
    assert sorted((c.inputs["triggers"][1], c.inputs["triggers"][2]) for c in commands) == sorted(("dev.local", r.name) for r in wanted)
    # what a zone file (dns.enabled: false) gets is the same FQDNs
    off = load_stack_inputs("dev-ha", overrides={"dns": {**dns, "zone": "dev.local", "enabled": False}}).settings()
    assert f"{s.litellm.service_name}.hx.dev.local. IN CNAME {s.front_door.name}.hx.dev.local.\n" in records_text(off)
