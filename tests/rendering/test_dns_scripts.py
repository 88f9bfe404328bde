"""The samba-tool scripts of DnsRecord, run for real (locally, bash) against a fake samba-tool.

The fake keeps records in a JSON file and answers like samba-tool's `dns` subcommands
(python/samba/netcmd/dns.py): the same output format for `query` and the same error texts and exit
status (255, "ERROR: ...") for an existing record on add, a missing one on delete/update and a
missing name on query -- in the wording of current releases ("modern") and of older ones that let
the raw WERROR escape ("legacy"). It also records how it was called: argv, and the auth file's mode
and content at the moment samba-tool read it.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from rendering.dns_scripts import (
    RecordSpec,
    auth_file_content,
    command_line,
    delete_script,
    ensure_script,
)

SERVER = "hx-dc-server.hx.dev.local"
ZONE = "hx.dev.local"
USER = "Administrator"
PASSWORD = "Dns-Adm1n-p4ss-9d1c"

FAKE_SAMBA_TOOL = r'''#!__PYTHON__
import json, os, sys

DB = os.environ["FAKE_SAMBA_DB"]
LOG = os.environ["FAKE_SAMBA_LOG"]
STYLE = os.environ.get("FAKE_SAMBA_STYLE", "modern")
ZONES = [z for z in os.environ.get("FAKE_SAMBA_ZONES", "").split(",") if z]
PASSWORD = os.environ.get("FAKE_SAMBA_PASSWORD", "")
HIDE_QUERY = os.environ.get("FAKE_SAMBA_HIDE_QUERY") == "1"
PHANTOM = os.environ.get("FAKE_SAMBA_PHANTOM", "")

WERR = {
    "RECORD_ALREADY_EXISTS": 9711,
    "RECORD_DOES_NOT_EXIST": 9701,
    "NAME_DOES_NOT_EXIST": 9714,
}


def fail(message, code=255):
    sys.stderr.write(message + "\n")
    sys.exit(code)


def werr(name, modern_message):
    if STYLE == "legacy":
        fail("ERROR(runtime): uncaught exception - (%d, 'WERR_DNS_ERROR_%s')" % (WERR[name], name))
    fail("ERROR: " + modern_message)


args = sys.argv[1:]
auth_file, kerberos, positional = None, False, []
i = 0
while i < len(args):
    a = args[i]
    if a in ("-A", "--authentication-file"):
        auth_file = args[i + 1]
        i += 2
        continue
    if a == "--use-kerberos=required":
        kerberos = True
    elif a.startswith(("-U", "--username", "--password", "--user")):
        fail("fake samba-tool: credentials on the command line are forbidden", 99)
    elif a.startswith("-"):
        fail("fake samba-tool: unexpected option " + a, 98)
    else:
        positional.append(a)
    i += 1

entry = {"argv": sys.argv[1:], "auth_file": auth_file, "kerberos": kerberos}
creds = {}
if auth_file is not None:
    st = os.stat(auth_file)
    entry["auth_mode"] = "%o" % (st.st_mode & 0o777)
    with open(auth_file) as fh:
        for line in fh.read().splitlines():
            if "=" in line:
                k, v = line.split("=", 1)
                creds[k.strip()] = v.strip()
    entry["username"] = creds.get("username")
    entry["password_ok"] = creds.get("password") == PASSWORD
with open(LOG, "a") as fh:
    fh.write(json.dumps(entry) + "\n")

if auth_file is None and not kerberos:
    fail("ERROR: no credentials given (the fake does not prompt)")
if auth_file is not None and creds.get("password") != PASSWORD:
    fail("ERROR(ldb): uncaught exception - LDAP client internal error: NT_STATUS_LOGON_FAILURE")

if len(positional) < 6 or positional[0] != "dns":
    fail("fake samba-tool: usage: dns <query|add|delete|update> server zone name type [data]", 97)
sub, server, zone, name, rtype = positional[1:6]
data = positional[6:]
rtype = rtype.upper()
name = name.lower()

# A DC serializes its own updates: one invocation at a time (the engine runs independent DnsRecord
# steps in parallel), and the store replaced atomically.
import fcntl

_lock = open(DB + ".lock", "a")
fcntl.flock(_lock, fcntl.LOCK_EX)
try:
    with open(DB) as fh:
        db = json.load(fh)
except FileNotFoundError:
    db = {}


def save():
    with open(DB + ".tmp", "w") as fh:
        json.dump(db, fh, indent=1, sort_keys=True)
    os.replace(DB + ".tmp", DB)


key = "%s|%s|%s" % (zone, name, rtype)
values = db.setdefault(key, [])
name_exists = any(k.startswith("%s|%s|" % (zone, name)) and v for k, v in db.items())

if sub == "query":
    shown = list(values) + ([PHANTOM] if PHANTOM else [])
    if zone not in ZONES or HIDE_QUERY or (not name_exists and not shown):
        fail("ERROR: Record or zone does not exist.")
    print("  Name=, Records=%d, Children=0" % len(shown))
    for v in shown:
        print("    %s: %s (flags=f0, serial=110, ttl=900)" % (rtype, v))
elif sub == "add":
    if zone not in ZONES:
        werr("NAME_DOES_NOT_EXIST", "Zone does not exist; record could not be added. zone[%s] name[%s]" % (zone, name))
    if data[0] in values:
        werr("RECORD_ALREADY_EXISTS", "Record already exist; record could not be added. zone[%s] name[%s]" % (zone, name))
    values.append(data[0])
    save()
    print("Record added successfully")
elif sub == "delete":
    if zone not in ZONES or not name_exists:
        werr("NAME_DOES_NOT_EXIST", "Zone does not exist; record could not be deleted. zone[%s] name[%s]" % (zone, name))
    if data[0] not in values:
        werr("RECORD_DOES_NOT_EXIST", "Record does not exist; record could not be deleted. zone[%s] name[%s]" % (zone, name))
    values.remove(data[0])
    save()
    print("Record deleted successfully")
elif sub == "update":
    old, new = data[0], data[1]
    if zone not in ZONES or old not in values:
        fail("ERROR: Record or zone does not exist.")
    values[values.index(old)] = new
    save()
    print("Record updated successfully")
else:
    fail("fake samba-tool: unknown subcommand " + sub, 96)
'''


class FakeDc:
    """A tmp dir with the fake samba-tool first on PATH, its record store and call log."""

    def __init__(self, root: Path):
        self.root = root
        self.bin = root / "bin"
        self.bin.mkdir()
        self.tmp = root / "tmp"  # TMPDIR of the scripts: where the auth dir goes
        self.tmp.mkdir()
        self.db = root / "records.json"
        self.log = root / "calls.jsonl"
        tool = self.bin / "samba-tool"
        tool.write_text(FAKE_SAMBA_TOOL.replace("__PYTHON__", sys.executable))
        tool.chmod(0o755)
        self.env_extra: dict[str, str] = {}

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            PATH=f"{self.bin}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            TMPDIR=str(self.tmp),
            FAKE_SAMBA_DB=str(self.db),
            FAKE_SAMBA_LOG=str(self.log),
            FAKE_SAMBA_ZONES=ZONE,
            FAKE_SAMBA_PASSWORD=PASSWORD,
        )
        env.update(self.env_extra)
        return env

    def records(self) -> dict[str, list[str]]:
        if not self.db.exists():
            return {}
        return {k: v for k, v in json.loads(self.db.read_text()).items() if v}

    def seed(self, records: dict[str, list[str]]) -> None:
        self.db.write_text(json.dumps(records))

    def calls(self) -> list[dict]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def run(self, script: str, stdin: str = "") -> subprocess.CompletedProcess:
        # Exactly what the SSH server does with remote.Command's `create`: <login shell> -c <cmd>,
        # with the command's stdin on the process's stdin.
        return subprocess.run(
            ["/bin/sh", "-c", command_line(script)],
            input=stdin,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=60,
        )


@pytest.fixture
def dc(tmp_path) -> FakeDc:
    return FakeDc(tmp_path)


def spec(value: str = "192.168.10.20", *, name: str = "hx-litellm-server", rtype: str = "A", auth: str = "authfile") -> RecordSpec:
    return RecordSpec(server=SERVER, zone=ZONE, name=name, record_type=rtype, value=value, auth=auth)  # type: ignore[arg-type]


AUTH = auth_file_content(USER, PASSWORD)


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


# ------------------------------------------------------------------------------------------------
# As text
# ------------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("make", [ensure_script, delete_script])
@pytest.mark.parametrize("auth", ["authfile", "kerberos"])
def test_scripts_are_valid_bash(make, auth, tmp_path):
    script = make(spec(auth=auth))
    path = tmp_path / "script.sh"
    path.write_text(script)
    check = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    # the wrapped command line parses too, and unwraps to the same script
    line = command_line(script)
    assert shlex.split(line) == ["/bin/bash", "-c", script]


@pytest.mark.parametrize("make", [ensure_script, delete_script])
def test_scripts_never_carry_credentials_on_a_command_line(make):
    script = make(spec())
    assert PASSWORD not in script
    assert not re.search(r"(^|\s)(-U|--user(name)?\b)", script)
    assert "--password" not in script
    assert '-A "$authdir/auth"' in script
    assert "cat > \"$authdir/auth\"" in script  # the file is filled from stdin
    lines = [line.strip() for line in script.splitlines()]
    # the umask comes before the file is created (0600 from the first byte), chmod after
    assert lines.index("umask 077") < lines.index('cat > "$authdir/auth"') < lines.index('chmod 0600 "$authdir/auth"')
    assert "trap cleanup EXIT" in script and 'rm -rf -- "$authdir"' in script


def test_kerberos_scripts_require_kerberos():
    script = ensure_script(spec(auth="kerberos"))
    assert "--use-kerberos=required" in script


def test_exact_samba_tool_invocations_in_the_script():
    script = ensure_script(spec())
    for sub in (
        'samba-tool dns "$@" "${creds[@]}"',
        'st query "$server" "$zone" "$name" "$rtype"',
        'st add "$server" "$zone" "$name" "$rtype" "$1"',
        'st update "$server" "$zone" "$name" "$rtype" "$old" "$want"',
        'st delete "$server" "$zone" "$name" "$rtype" "$1"',
    ):
        assert sub in script
    assert "server=hx-dc-server.hx.dev.local" in script
    assert "want=192.168.10.20" in script


@pytest.mark.parametrize(
    "bad",
    [
        dict(value="not-an-ip"),
        dict(value="192.168.10.20; rm -rf /"),
        dict(name="a b"),
        dict(name="$(reboot)"),
        dict(rtype="CNAME", value="x y"),
        dict(rtype="TXT"),
        dict(auth="password"),
    ],
)
def test_spec_refuses_values_that_are_not_dns_data(bad):
    with pytest.raises(ValueError):
        spec(**bad)


def test_auth_file_content_shape():
    assert auth_file_content("Administrator", "pw") == "username=Administrator\npassword=pw\n"
    assert auth_file_content("a", "pw", "HX") == "username=a\npassword=pw\ndomain=HX\n"
    with pytest.raises(ValueError):
        auth_file_content("a", "pw\nusername=evil")
    with pytest.raises(ValueError):
        auth_file_content("a", "")


# ------------------------------------------------------------------------------------------------
# Run against the fake samba-tool
# ------------------------------------------------------------------------------------------------


def assert_auth_file_handled(dc: FakeDc) -> None:
    calls = dc.calls()
    assert calls, "samba-tool was never called"
    for call in calls:
        assert call["auth_file"], call
        assert call["auth_mode"] == "600", call  # 0600 while samba-tool reads it
        assert call["username"] == USER
        assert call["password_ok"] is True
        assert PASSWORD not in " ".join(call["argv"])
        assert not Path(call["auth_file"]).exists(), "the auth file outlived the script"
    assert list(dc.tmp.iterdir()) == [], "the script left its temp dir behind"


@pytest.mark.slow
@pytest.mark.parametrize("style", ["modern", "legacy"])
def test_a_record_lifecycle_is_idempotent(dc, style):
    dc.env_extra["FAKE_SAMBA_STYLE"] = style
    key = f"{ZONE}|hx-litellm-server|A"

    first = ok(dc.run(ensure_script(spec()), AUTH))
    assert "added A hx-litellm-server.hx.dev.local -> 192.168.10.20" in first.stdout
    assert dc.records() == {key: ["192.168.10.20"]}

    again = ok(dc.run(ensure_script(spec()), AUTH))
    assert "unchanged" in again.stdout
    assert dc.records() == {key: ["192.168.10.20"]}
    assert [c["argv"][1] for c in dc.calls()] == ["query", "add", "query"]

    # an IP change: updated in place with the value the DC holds
    moved = ok(dc.run(ensure_script(spec("192.168.10.21")), AUTH))
    assert "updated A hx-litellm-server.hx.dev.local: 192.168.10.20 -> 192.168.10.21" in moved.stdout
    assert dc.records() == {key: ["192.168.10.21"]}
    update_call = dc.calls()[-1]
    assert update_call["argv"][:8] == [
        "dns", "update", SERVER, ZONE, "hx-litellm-server", "A", "192.168.10.20", "192.168.10.21",
    ]

    gone = ok(dc.run(delete_script(spec("192.168.10.21")), AUTH))
    assert "deleted A" in gone.stdout
    assert dc.records() == {}
    gone_again = ok(dc.run(delete_script(spec("192.168.10.21")), AUTH))
    assert "absent" in gone_again.stdout
    assert dc.records() == {}

    assert_auth_file_handled(dc)


@pytest.mark.slow
def test_cname_lifecycle_and_trailing_dot(dc):
    key = f"{ZONE}|litellm|CNAME"
    cname = spec("hx-litellm-server.hx.dev.local", name="litellm", rtype="CNAME")
    ok(dc.run(ensure_script(cname), AUTH))
    assert dc.records() == {key: ["hx-litellm-server.hx.dev.local"]}
    # the DC shows the target with a trailing dot / other case: still the same record
    dc.seed({key: ["HX-LiteLLM-Server.hx.dev.local."]})
    assert "unchanged" in ok(dc.run(ensure_script(cname), AUTH)).stdout
    retarget = spec("hx-litellm-2.hx.dev.local", name="litellm", rtype="CNAME")
    ok(dc.run(ensure_script(retarget), AUTH))
    assert dc.records() == {key: ["hx-litellm-2.hx.dev.local"]}
    ok(dc.run(delete_script(retarget), AUTH))
    ok(dc.run(delete_script(retarget), AUTH))
    assert dc.records() == {}
    assert_auth_file_handled(dc)


@pytest.mark.slow
def test_several_unknown_old_values_are_replaced(dc):
    key = f"{ZONE}|hx-litellm-server|A"
    dc.seed({key: ["10.0.0.1", "10.0.0.2"]})
    ok(dc.run(ensure_script(spec()), AUTH))
    assert dc.records() == {key: ["192.168.10.20"]}
    # and stale values next to the wanted one are removed
    dc.seed({key: ["192.168.10.20", "10.0.0.9"]})
    ok(dc.run(ensure_script(spec()), AUTH))
    assert dc.records() == {key: ["192.168.10.20"]}


@pytest.mark.slow
def test_delete_leaves_other_values_alone(dc):
    key = f"{ZONE}|hx-litellm-server|A"
    dc.seed({key: ["10.0.0.1"]})
    ok(dc.run(delete_script(spec()), AUTH))
    assert dc.records() == {key: ["10.0.0.1"]}


@pytest.mark.slow
@pytest.mark.parametrize("style", ["modern", "legacy"])
def test_add_accepts_exactly_already_exists(dc, style):
    # The query misses the record (another writer added it meanwhile): add fails with
    # "already exists", which is the wanted state.
    key = f"{ZONE}|hx-litellm-server|A"
    dc.seed({key: ["192.168.10.20"]})
    dc.env_extra.update(FAKE_SAMBA_HIDE_QUERY="1", FAKE_SAMBA_STYLE=style)
    result = ok(dc.run(ensure_script(spec()), AUTH))
    assert "already present" in result.stdout
    assert [c["argv"][1] for c in dc.calls()] == ["query", "add"]
    assert dc.records() == {key: ["192.168.10.20"]}


@pytest.mark.slow
@pytest.mark.parametrize("style", ["modern", "legacy"])
def test_delete_accepts_exactly_does_not_exist(dc, style):
    # The query still lists the value (another writer deleted it meanwhile): delete fails with
    # "does not exist", which is the wanted state.
    dc.env_extra.update(FAKE_SAMBA_PHANTOM="192.168.10.20", FAKE_SAMBA_STYLE=style)
    dc.seed({f"{ZONE}|hx-litellm-server|A": ["10.0.0.1"]})
    result = ok(dc.run(delete_script(spec()), AUTH))
    assert "already gone" in result.stdout
    assert [c["argv"][1] for c in dc.calls()] == ["query", "delete"]


@pytest.mark.slow
def test_other_failures_fail_the_script_and_still_remove_the_auth_file(dc):
    bad_auth = auth_file_content(USER, "wrong-password")
    result = dc.run(ensure_script(spec()), bad_auth)
    assert result.returncode != 0
    assert "samba-tool dns query failed" in result.stderr
    assert dc.records() == {}
    assert dc.calls()[0]["auth_mode"] == "600"
    assert not Path(dc.calls()[0]["auth_file"]).exists()
    assert list(dc.tmp.iterdir()) == []


@pytest.mark.slow
def test_missing_zone_fails_add(dc):
    other_zone = RecordSpec(server=SERVER, zone="nowhere.local", name="x", record_type="A", value="10.0.0.1", auth="authfile")
    result = dc.run(ensure_script(other_zone), AUTH)
    assert result.returncode != 0
    assert "Zone does not exist; record could not be added" in result.stderr
    # but deleting from a missing zone is nothing to do
    ok(dc.run(delete_script(other_zone), AUTH))


@pytest.mark.slow
def test_no_credentials_on_stdin_fails_before_samba_tool(dc):
    result = dc.run(ensure_script(spec()), "")
    assert result.returncode == 2
    assert "no credentials on stdin" in result.stderr
    assert dc.calls() == []
    assert list(dc.tmp.iterdir()) == []


@pytest.mark.slow
def test_kerberos_mode_reads_no_stdin_and_writes_no_file(dc):
    result = ok(dc.run(ensure_script(spec(auth="kerberos")), "username=should-not-be-read\n"))
    assert "added" in result.stdout
    calls = dc.calls()
    assert calls and all(c["kerberos"] and c["auth_file"] is None for c in calls)
    assert list(dc.tmp.iterdir()) == []
    ok(dc.run(delete_script(spec(auth="kerberos"))))
    ok(dc.run(delete_script(spec(auth="kerberos"))))
    assert dc.records() == {}
