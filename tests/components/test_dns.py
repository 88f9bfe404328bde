"""DnsRecord under Pulumi's mock engine: what the stacks declare, and that no credential leaks."""

from __future__ import annotations

import json
import shlex

import pytest

from offline.engine import ProgramRun, run_program, run_stack
from rendering.dns_scripts import auth_file_content
from tests.support.host_keys import placeholder_host_key

DNS = "litellm-gateway:dns:DnsRecord"
GATEWAY = "litellm-gateway:index:Gateway"
REMOTE_COMMAND = "command:remote:Command"

DNS_PASSWORD = "Zq9-dnsAdmin-uniq-4471"
CA_KEY = "-----BEGIN EC PRIVATE KEY-----\nuniq-ca-key-material-8812\n-----END EC PRIVATE KEY-----\n"
SECRETS = {"dnsAdminPassword": DNS_PASSWORD, "tlsCaKey": CA_KEY}


@pytest.fixture(scope="module")
def stack_secrets() -> dict[str, dict[str, str]]:
    return {"dev": SECRETS, "local": SECRETS}


def record_command(run: ProgramRun, record) -> object:
    children = run.children_of(record.urn)
    assert [c.type for c in children] == [REMOTE_COMMAND], f"{record.name}: {[c.type for c in children]}"
    return children[0]


def script_of(command_line: str) -> str:
    words = shlex.split(command_line)
    assert words[:2] == ["/bin/bash", "-c"] and len(words) == 3, command_line[:80]
    return words[2]


def test_local_declares_no_dns(local):
    assert local.of_type(DNS) == []
    assert not [r for r in local.of_type(REMOTE_COMMAND) if "samba-tool" in json.dumps(r.inputs)]


def test_dev_declares_an_a_record_per_host_and_the_service_cname(dev):
    records = {r.name: r for r in dev.of_type(DNS)}
    assert sorted(records) == ["litellm-dev-hx-litellm-server-a", "litellm-dev-litellm-cname"]
    gateway = dev.one(GATEWAY)
    for record in records.values():
        assert record.parent == gateway.urn

    a = record_command(dev, records["litellm-dev-hx-litellm-server-a"])
    cname = record_command(dev, records["litellm-dev-litellm-cname"])

    a_script = script_of(a.inputs["create"])
    assert "rtype=A" in a_script and "want=192.168.10.20" in a_script and "name=hx-litellm-server" in a_script
    assert "server=hx-dc-server.hx.dev.local" in a_script and "zone=hx.dev.local" in a_script
    c_script = script_of(cname.inputs["create"])
    assert "rtype=CNAME" in c_script and "name=litellm" in c_script
    assert "want=hx-litellm-server.hx.dev.local" in c_script

    for command in (a, cname):
        # the DC, over SSH as the stack's user
        assert command.inputs["connection"]["host"] == "hx-dc-server.hx.dev.local"
        assert command.inputs["connection"]["user"] == "ansible"
        # update runs the same idempotent ensure script; delete its own script
        assert command.inputs["update"] == command.inputs["create"]
        assert "---- delete:" in script_of(command.inputs["delete"])
        assert "---- ensure:" in script_of(command.inputs["create"])
        assert command.inputs["addPreviousOutputInEnv"] is False
        assert command.delete_before_replace is True
        assert "stdin" in command.additional_secret_outputs


def test_record_identity_is_in_triggers_and_the_value_is_not(dev):
    a = record_command(dev, dev.one(DNS, "litellm-dev-hx-litellm-server-a"))
    assert a.inputs["triggers"] == ["hx-dc-server.hx.dev.local", "hx.dev.local", "hx-litellm-server", "A"]


def test_credentials_travel_only_as_secret_stdin(dev):
    for record in dev.of_type(DNS):
        command = record_command(dev, record)
        assert command.secret_inputs == sorted(["connection", "stdin"])
        # exactly the samba auth file, and it is what the script writes to the 0600 file
        assert command.inputs["stdin"] == auth_file_content("Administrator", DNS_PASSWORD)
        for key in ("create", "update", "delete", "triggers", "environment"):
            assert DNS_PASSWORD not in json.dumps(command.inputs.get(key))
        script = script_of(command.inputs["create"])
        assert "-A \"$authdir/auth\"" in script and "-U" not in shlex.split(script, comments=True)
        assert "environment" not in command.inputs


@pytest.mark.parametrize("stack", ["dev", "local"])
def test_no_secret_in_any_non_secret_input(stack, dev, local):
    run = dev if stack == "dev" else local
    assert run.plain_inputs_carrying([DNS_PASSWORD, "uniq-ca-key-material-8812"]) == []
    assert DNS_PASSWORD not in json.dumps(run.redacted_outputs(), default=str)


def test_kerberos_needs_no_password_and_sends_no_stdin():
    run = run_stack("dev", secrets=SECRETS, overrides={"dns": {
        "enabled": True, "server": "hx-dc-server.hx.dev.local", "zone": "hx.dev.local",
        "admin_user": "Administrator", "auth": "kerberos",
        "host_key": placeholder_host_key("hx-dc-server"),
    }})
    records = run.of_type(DNS)
    assert len(records) == 2
    for record in records:
        command = record_command(run, record)
        assert "stdin" not in command.inputs
        assert "--use-kerberos=required" in script_of(command.inputs["create"])
        assert "auth=kerberos" in script_of(command.inputs["create"])


def test_component_outputs_and_validation():
    import pulumi
    from pulumi_command import remote

    from components.dns import DnsRecord, DnsRecordArgs

    conn = remote.ConnectionArgs(host="dc.example.test", user="ops")

    def program():
        rec = DnsRecord(
            "web",
            DnsRecordArgs(
                connection=conn, server="dc.example.test", zone="example.test", name="web",
                record_type="A", value=pulumi.Output.from_input("10.1.2.3"), admin_user="Administrator",
                admin_password=pulumi.Output.secret("pw-xyz-123"), auth="authfile",
            ),
        )
        pulumi.export("fqdn", rec.fqdn)
        pulumi.export("value", rec.value)
        with pytest.raises(ValueError, match="needs the DNS admin password"):
            DnsRecord("nopw", DnsRecordArgs(
                connection=conn, server="dc.example.test", zone="example.test", name="x", record_type="A",
                value="10.0.0.1", admin_user="a", admin_password=None, auth="authfile"))
        with pytest.raises(ValueError, match="IPv4"):
            DnsRecord("badip", DnsRecordArgs(
                connection=conn, server="dc.example.test", zone="example.test", name="x", record_type="A",
                value="10.0.0.999", admin_user="a", admin_password="p", auth="authfile"))

    run = run_program("unit", {}, program=program)
    assert run.outputs == {"fqdn": "web.example.test", "value": "10.1.2.3"}
    record = run.one(DNS, "web")
    command = record_command(run, record)
    assert command.name == "web-record"
    assert "pw-xyz-123" not in json.dumps(command.redacted_inputs())
    assert command.inputs["stdin"] == "username=Administrator\npassword=pw-xyz-123\n"
