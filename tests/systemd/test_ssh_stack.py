"""The `dev`-shaped ssh stack from nothing on a real systemd host, over real OpenSSH
(tests.support.ssh_stack: what differs from Pulumi.dev.yaml and the two named substitutions).

The scenarios run in file order against one deployed stack, as an operator's first week would:
deploy, check the unit's sandbox and journal, re-apply, a failed update, a host reboot, destroy.
"""

from __future__ import annotations

import re
import time

import httpx
import pytest

from tests.support.postgres_apply import scratch_cluster_objects
from tests.support.postgres_fixtures import ADMIN_DSN, process_prefix
from tests.support.ssh_stack import DNS_ZONE, REDIS_ACL_USER, REDIS_ADMIN, SshStackRig, bed_redis_cli, samba_records
from tests.support.transitions import StepFailed, plan

UNIT = "litellm.service"


@pytest.fixture(scope="module")
def rig(systemd_bed):
    host = systemd_bed.host("lite-a")
    # something that existed before the stack: destroy must leave it alone
    # (the config directory among them: the layout adopts it, and a destroy must not remove it)
    host.sudo("install -d -m 0755 /opt/preexisting && echo keep > /opt/preexisting/file && useradd --system bystander "
              "&& install -d -m 0755 /etc/litellm")
    with scratch_cluster_objects(ADMIN_DSN, prefix=process_prefix("bed")) as scratch:
        # DNS: the front-door bed host plays the domain controller (recording samba-tool)
        # and the Redis host: a Redis of the test's own there, its ACL user managed over SSH
        r = SshStackRig(systemd_bed, [host], scratch, dns_host=systemd_bed.host("door"), redis_host=systemd_bed.host("door"))
        r.host = host
        try:
            yield r
        finally:
            r.close()


def _chat(rig, key, content="hello"):
    return httpx.post(f"{rig.url}/v1/chat/completions", headers={"Authorization": f"Bearer {key}"}, timeout=60,
                      json={"model": "llama3.2", "messages": [{"role": "user", "content": content}]})


def test_deploy_from_nothing(rig):
    started = time.monotonic()
    run = rig.program()
    p = rig.apply(run)
    print(f"deployed in {time.monotonic() - started:.1f}s:\n{rig.describe(p)}")
    remote = [s for s in p.steps if s.new.type == "command:remote:Command"]
    assert remote and {s.op for s in remote} == {"create"}
    ran = [e.step.name.rsplit("-", 1)[-1] for e in rig.executor.log]
    for step in ("claim", "layout", "install", "config", "env", "unit", "migrate", "service", "user"):
        assert step in ran, (step, ran)
    # the host's rollout (one step): staged files in place, restart, readiness wait
    rollout = next(e for e in rig.executor.log if e.step.name.endswith("-service"))
    assert "restarting with the new files" in rollout.stdout and "LiteLLM ready" in rollout.stdout, rollout.stdout[-2000:]
    install = next(e for e in rig.executor.log if e.step.name.endswith("-install"))
    assert "Generated Prisma Client Python" in install.stdout
    # generated as nobody into a staging copy (rendering.prisma_generate), checked, moved in as root's
    staged = rig.host.sudo(
        "ls -d /opt/litellm/.prisma-stage.* 2>/dev/null; pkg=$(ls -d /opt/litellm/venvs/*/lib/python3*/site-packages/prisma); "
        "test -s $pkg/client.py && echo client; find $pkg /opt/litellm/prisma ! -user root -o -perm /022 -o -perm /6000", check=False).stdout.split()
    assert staged == ["client"], staged
    # the install never imports litellm (its import fetches the price map from GitHub)
    assert "model cost map" not in install.stdout, install.stdout[-2000:]
    # the hashed lock, installed as rendered (its file on the host is the committed lock)
    from config.litellm_locks import lock_text
    from config.litellm_settings import PINNED_LITELLM_VERSION

    assert rig.host.sudo("cat /opt/litellm/requirements.lock").stdout == lock_text(PINNED_LITELLM_VERSION)
    ready = httpx.get(f"{rig.url}/health/readiness", timeout=30)
    assert ready.status_code == 200 and ready.json().get("db") == "connected", ready.text
    details = httpx.get(f"{rig.url}/health/readiness/details", headers={"Authorization": f"Bearer {rig.master_key}"}, timeout=30)
    assert details.status_code == 200 and details.json().get("cache") == "redis", details.text
    assert _chat(rig, rig.master_key).status_code == 200
    # the stack's key, made by the VirtualKey provider in the dynamic-provider host (adminUrl: the
    # host), answers; an unknown key is refused
    assert ("Create", "litellm-dev-key-bed-app") in rig.dynamic.calls, rig.dynamic.calls
    answer = _chat(rig, rig.key_value())
    assert answer.status_code == 200 and "[fake:" in answer.text, answer.text
    refused = _chat(rig, "sk-not-a-key-of-this-stack")
    assert refused.status_code == 401, refused.text
    # DNS over SSH on the DC: the host's A record and the service name's CNAME
    records = samba_records(rig.dns_host)
    assert records.get(f"{DNS_ZONE}|{rig.host.name}|A") == [rig.host.address], records
    assert records.get(f"{DNS_ZONE}|litellm|CNAME") == [f"{rig.host.name}.{DNS_ZONE}"], records
    calls = [__import__("json").loads(line) for line in rig.dns_host.sudo("cat /var/lib/fake-samba/calls.jsonl").stdout.splitlines()]
    assert calls and all(c["password_ok"] and c["auth_mode"] == "600" for c in calls), calls


def _acl(rig, command, user=REDIS_ADMIN, password=None, check=True):
    return bed_redis_cli(rig.redis_host, rig.redis_port, user, rig.redis_admin_password if password is None else password,
                         command, check=check)


def test_the_redis_acl_user_is_managed_over_ssh_and_the_proxy_caches_as_it(rig):
    """`manage_acl`: the stack's ACL step ran on the Redis host over SSH as `admin_user` (its password
    from the secret stdin); the proxy uses that user, whose rules confine it to the cache namespace."""
    acl_step = next(e for e in rig.executor.log if e.step.name.endswith("-redis-acl-user"))
    assert acl_step.command == "create" and rig.redis_password not in acl_step.stdout and rig.redis_admin_password not in acl_step.stdout
    user = _acl(rig, f"ACL GETUSER {REDIS_ACL_USER}")
    namespace = "litellm.dev.cache"
    assert "on" in user.split() and f"~{namespace}:*" in user, user
    assert "-flushall" in user or "-@dangerous" in user, user
    # the gateway's password works for its user, a wrong one is refused
    assert _acl(rig, "PING", user=REDIS_ACL_USER, password=rig.redis_password).strip() == "PONG"
    wrong = _acl(rig, "PING", user=REDIS_ACL_USER, password="not-the-password", check=False)
    assert "WRONGPASS" in wrong, wrong
    # the proxy's response cache: a repeated request is answered from this Redis, under the namespace
    prompt = f"cache me {time.monotonic_ns()}"
    before = rig.fake.count
    first = _chat(rig, rig.master_key, prompt)
    second = _chat(rig, rig.master_key, prompt)
    assert first.status_code == second.status_code == 200, (first.text, second.text)
    key = second.headers.get("x-litellm-cache-key", "")
    assert key.startswith(f"{namespace}:"), dict(second.headers)
    assert rig.fake.count == before + 1, "the repeated request reached the upstream"
    # the entry is there, readable by the gateway's user; outside its namespace it is refused
    assert _acl(rig, f"EXISTS {key}", user=REDIS_ACL_USER, password=rig.redis_password).strip() == "1"
    outside = _acl(rig, "GET someone-else:key", user=REDIS_ACL_USER, password=rig.redis_password, check=False)
    assert "NOPERM" in outside, outside


def test_the_unit_runs_under_the_rendered_sandbox(rig, record_property):
    h = rig.host
    security = h.sudo(f"systemd-analyze security --no-pager {UNIT}").stdout
    print(security)
    record_property("systemd_analyze_security", security)
    overall = [line for line in security.splitlines() if line.startswith("→ Overall exposure level")]
    assert overall, security
    score = float(overall[0].split(":")[1].split()[0])
    assert score <= 2.0, overall[0]
    pid = h.sudo(f"systemctl show -p MainPID --value {UNIT}").stdout.strip()
    status = h.sudo(f"grep -E '^(NoNewPrivs|CapEff|Seccomp):' /proc/{pid}/status").stdout.split()
    assert status == ["NoNewPrivs:", "1", "Seccomp:", "2", "CapEff:", "0000000000000000"] or (
        dict(zip(status[::2], status[1::2])) == {"NoNewPrivs:": "1", "Seccomp:": "2", "CapEff:": "0000000000000000"}), status
    # inside the unit's own mount namespace, as its user: only the home is writable
    enter = f"nsenter --target {pid} --mount --setuid $(id -u litellm) --setgid $(id -g litellm) --"
    probe = h.sudo(
        f"for d in /opt/litellm/venvs /etc/litellm /opt/litellm/prisma /usr/local /var/lib /opt/litellm/home; do "
        f"  if {enter} touch $d/.sandbox-probe 2>/dev/null; then echo \"$d writable\"; {enter} rm -f $d/.sandbox-probe; "
        f"  else echo \"$d refused\"; fi; done", check=False).stdout.splitlines()
    assert probe == ["/opt/litellm/venvs refused", "/etc/litellm refused", "/opt/litellm/prisma refused",
                     "/usr/local refused", "/var/lib refused", "/opt/litellm/home writable"], probe


def test_logs_reach_the_journal(rig):
    log = rig.host.sudo(f"journalctl -u {UNIT} --no-pager -o cat").stdout
    assert "Uvicorn running on" in log or "Application startup complete" in log, log[-2000:]
    assert rig.master_key not in log


def test_reapplying_an_unchanged_stack_runs_nothing(rig):
    before = len(rig.executor.log)
    p = rig.apply(rig.program())
    assert {s.op for s in p.steps} == {"same"} and not p.deletes, rig.describe(p)
    assert len(rig.executor.log) == before


def test_a_host_presenting_another_key_is_refused_before_anything_runs(rig, systemd_bed):
    """The stack pins lite-a's key; a server presenting another one (here: the key of another bed
    host pinned for lite-a's address) fails the first step at the dial, after the connection's
    dialErrorLimit retries, and nothing on the host changes."""
    other = systemd_bed.host("door").host_key_line
    wrong = rig.program()
    for r in wrong.resources:
        if r.type == "command:remote:Command" and r.inputs["connection"]["host"] == rig.host.address:
            r.inputs["connection"]["hostKey"] = other
    before = len(rig.executor.log)
    with pytest.raises(StepFailed) as refused:
        rig.executor.execute(plan(rig.current, wrong))
    text = str(refused.value)
    assert refused.value.step.name.endswith("-claim"), text[-1500:]
    limit = int(next(r for r in wrong.resources if r.name.endswith("-claim")).inputs["connection"]["dialErrorLimit"])
    assert f"after {limit} failed attempts:" in text and "Host key verification failed" in text, text[-1500:]
    assert [e.step.name for e in rig.executor.log[before:]] == [refused.value.step.name]
    assert httpx.get(f"{rig.url}/health/readiness", timeout=30).status_code == 200


def test_a_proxy_that_cannot_boot_fails_the_update_with_the_journal(rig):
    good = rig.current
    bad = rig.program(readiness_timeout=40, routing_timeout=31)
    # the env file points the proxy at a database port nothing listens on
    for r in bad.resources:
        if r.name.endswith("-file-env"):
            r.inputs["stdin"] = r.inputs["stdin"].replace("@127.0.0.1:5432/", "@127.0.0.1:9/")
            assert "@127.0.0.1:9/" in r.inputs["stdin"]
            [staged_env] = set(re.findall(r"litellm\.env\.[0-9a-f]{12}", r.inputs["create"]))
    # files are staged under the digest of their content: the edited env gets its own name
    for r in bad.resources:
        if r.type == "command:remote:Command":
            for k in ("create", "update"):
                if isinstance(r.inputs.get(k), str):
                    r.inputs[k] = r.inputs[k].replace(staged_env, "litellm.env.0badc0ffee00")
    with pytest.raises(StepFailed) as failed:
        rig.apply(bad)
    text = str(failed.value)
    assert failed.value.step.name.endswith("-service"), text[-2000:]
    assert "LiteLLM did not become ready" in text and "--- last 50 lines of the proxy log ---" in text
    # the rollout put the previous files back and restarted with them: the host serves again, and
    # the engine keeps the rollout step's old state (tests.support.transitions.state_after)
    assert "restoring the previous files" in text and "running the previous files again" in text, text[-2000:]
    assert httpx.get(f"{rig.url}/health/readiness", timeout=30).status_code == 200
    service = f"litellm-dev-{rig.host.name}-service"
    assert {r.name: r for r in rig.current.resources}[service].inputs == {r.name: r for r in good.resources}[service].inputs
    journal = text.split("--- last 50 lines of the proxy log ---", 1)[1]
    assert "litellm" in journal.lower() and len(journal.strip().splitlines()) >= 5, journal
    assert rig.master_key not in text and rig.declared_password() not in text
    # a revert is a no-op for the host (it already runs the good files); a fix-forward rolls
    reverted = rig.apply(good)
    assert reverted.by_name(service).op == "same", rig.describe(reverted)
    p = rig.apply(rig.program(routing_timeout=33))
    assert httpx.get(f"{rig.url}/health/readiness", timeout=30).status_code == 200
    assert p.by_name(f"litellm-dev-{rig.host.name}-service").op == "update"


def test_a_reboot_brings_the_proxy_back(rig, systemd_bed):
    h = rig.host
    systemd_bed.stop_host(h)
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{rig.url}/health/readiness", timeout=5)
    systemd_bed.boot_host(h)
    assert h.ssh(f"systemctl is-enabled {UNIT}").stdout.strip() == "enabled"
    deadline = time.monotonic() + 180
    while True:
        try:
            if httpx.get(f"{rig.url}/health/readiness", timeout=5).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, h.sudo(f"journalctl -u {UNIT} -n 40 --no-pager").stdout
        time.sleep(2)
    assert _chat(rig, rig.master_key).status_code == 200


def test_destroy_removes_what_the_stack_created_and_nothing_else(rig):
    h = rig.host
    assert h.sudo("id -un litellm").stdout.strip() == "litellm"
    p = rig.apply(None)
    rig.current = None
    ran = [e.step.name for e in rig.executor.log if e.command == "delete"]
    print("destroy ran:", ran)
    left = h.sudo(
        "for p in /etc/systemd/system/litellm.service /etc/litellm/config.yaml /etc/litellm/litellm.env /opt/litellm "
        "/opt/litellm/venv /opt/litellm/.litellm-gateway-owner; do [ -e $p ] && echo \"left $p\"; done; "
        "id litellm >/dev/null 2>&1 && echo 'left account litellm'; getent group litellm >/dev/null && echo 'left group litellm'; "
        "systemctl is-active litellm.service || true", check=False).stdout.split("\n")
    assert [line for line in left if line] in (["inactive"], ["unknown"]), left
    assert samba_records(rig.dns_host) == {}  # the records went with the stack
    assert _acl(rig, f"ACL GETUSER {REDIS_ACL_USER}").strip() == ""  # and the Redis ACL user
    assert ("Delete", "litellm-dev-key-bed-app") in rig.dynamic.calls and ("Delete", "litellm-dev-team-bed-platform") in rig.dynamic.calls
    # what existed before the stack: left alone (the adopted config directory too)
    assert h.sudo("cat /opt/preexisting/file; id -un bystander; id -un deploy; test -d /etc/litellm && echo etc-litellm").stdout.split() == [
        "keep", "bystander", "deploy", "etc-litellm"]
