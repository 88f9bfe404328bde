"""ONE ssh stack on real systemd hosts, over real OpenSSH, through every shape it takes
(tests.support.ssh_stack: what differs from Pulumi.dev.yaml and the two named substitutions).

The scenarios run in file order against one deployed stack, as an operator's first weeks would:

1. `dev`-shaped, one host (lite-a): deploy from nothing with DNS through the recording samba-tool
   stand-in on the door host, Redis with `manage_acl` there, TLS with `tls.issuer: provided` (a
   test CA's certificate naming the hosts, the service and the front door) and the Admin UI; the
   Redis ACL user, the unit's sandbox, the journal, an unchanged re-apply, a host presenting
   another key, a proxy that cannot boot and the fix-forward from that failed run, a reboot.
2. 1 -> 2 hosts under a load that follows DNS (tests.support.ssh_stack.DnsFollowingLoad): lite-b
   and the HAProxy front door (on the door host) join; the service name's CNAME moves from lite-a
   to the front door only once every server is UP; no request fails.
3. `dev-ha`-shaped (two hosts behind the front door): everything through the front door (TLS
   re-encrypted, HAProxy verifying each proxy), the Admin UI in Chromium, a host re-keyed (its
   new host key pinned: its steps update, nothing restarts), a release the proxy cannot boot (then
   the retry, which fails the same way, and the revert), and under load through the front door
   the rest of the transition matrix (docs/runbook.md "What is guaranteed"): a config change with
   a stream open through host 1's drain, a drain-settings-only change, a new release of this
   project's restart script, an env secret, a unit-only change, a CA rotation's two runs, a new
   lock (a new venv) switched host by host, 2 -> 3 -> 2 hosts (lite-c joins, then is drained and
   leaves); then a container restart.
4. 2 -> 1 under the DNS-following load: the name moves back to lite-a before lite-b (drained
   first) and the front door go; no request fails.
5. destroy: what the stack created goes, nothing else.

Each test names what broke; a later one relies on the state the earlier ones leave (the module's
one `rig`), as the two files of one shape each did before.
"""

from __future__ import annotations

import re
import secrets
import socket
import time

import httpx
import pytest

from config.litellm_settings import PINNED_LITELLM_VERSION
from tests.support.postgres_apply import scratch_cluster_objects
from tests.support.postgres_fixtures import ADMIN_DSN, process_prefix
from tests.support.rollout_rig import Load
from tests.support.ssh_stack import (DNS_ZONE, REDIS_ACL_USER, REDIS_ADMIN, DnsFollowingLoad, SshStackRig, bed_redis_cli,
                                     samba_calls, samba_records)
from tests.support.transitions import StepFailed, plan

UNIT = "litellm.service"
AGENT = "litellm-drain-agent.service"


@pytest.fixture(scope="module")
def rig(systemd_bed):
    host = systemd_bed.host("lite-a")
    # something that existed before the stack: destroy must leave it alone
    # (the config directory among them: the layout adopts it, and a destroy must not remove it)
    host.sudo("install -d -m 0755 /opt/preexisting && echo keep > /opt/preexisting/file && useradd --system bystander "
              "&& install -d -m 0755 /etc/litellm")
    door = systemd_bed.host("door")
    with scratch_cluster_objects(ADMIN_DSN, prefix=process_prefix("bed")) as scratch:
        # DNS: the door bed host plays the domain controller (recording samba-tool) and the Redis
        # host (a Redis of the test's own there, its ACL user managed over SSH); it becomes the
        # front door when lite-b joins
        r = SshStackRig(systemd_bed, [host], scratch, dns_host=door, redis_host=door, tls_provided=True, admin_ui=True,
                        spare_hosts=[systemd_bed.host("lite-b"), systemd_bed.host("lite-c")], spare_front_door=door)
        r.host = host
        r.http = r.client()
        try:
            yield r
        finally:
            r.http.close()
            r.close()


def _chat(rig, key, content="hello"):
    return rig.http.post(f"{rig.url}/v1/chat/completions", headers={"Authorization": f"Bearer {key}"}, extensions=rig.extensions,
                         json={"model": "llama3.2", "messages": [{"role": "user", "content": content}]})


def _get(rig, path, timeout=30, **kw):
    """GET on the stack's URL (the lone host's address, or the front door's), TLS verified against
    the test CA for the service's name."""
    return rig.http.get(f"{rig.url}{path}", extensions=rig.extensions, timeout=timeout, **kw)


def _load(rig, key):
    return Load(rig.url, concurrency=2, key=key, client=rig.client, extensions=rig.extensions).start()


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
    ready = _get(rig, "/health/readiness")
    assert ready.status_code == 200 and ready.json().get("db") == "connected", ready.text
    details = _get(rig, "/health/readiness/details", headers={"Authorization": f"Bearer {rig.master_key}"})
    assert details.status_code == 200 and details.json().get("cache") == "redis", details.text
    assert _chat(rig, rig.master_key).status_code == 200
    # the stack's team and key, made by the project's providers in the dynamic-provider host
    # (adminUrl: the host's address, https verified against the test CA), after the host's rollout
    order = [e.step.name for e in rig.executor.log]
    made = [(m, n) for m, n in rig.dynamic.calls if n.startswith(("litellm-dev-team-", "litellm-dev-key-"))]
    assert made == [("Check", "litellm-dev-team-bed-platform"), ("Create", "litellm-dev-team-bed-platform"),
                    ("Check", "litellm-dev-key-bed-app"), ("Create", "litellm-dev-key-bed-app")], made
    assert order.index("litellm-dev-team-bed-platform") > order.index(f"litellm-dev-{rig.host.name}-service"), order
    rig.key = rig.key_value()
    # the key answers; an unknown key is refused
    answer = _chat(rig, rig.key)
    assert answer.status_code == 200 and "[fake:" in answer.text, answer.text
    refused = _chat(rig, "sk-not-a-key-of-this-stack")
    assert refused.status_code == 401, refused.text
    # DNS over SSH on the DC: the host's A record and the service name's CNAME
    records = samba_records(rig.dns_host)
    assert records.get(f"{DNS_ZONE}|{rig.host.name}|A") == [rig.host.address], records
    assert records.get(f"{DNS_ZONE}|litellm|CNAME") == [f"{rig.host.name}.{DNS_ZONE}"], records
    calls = samba_calls(rig.dns_host)
    assert calls and all(c["password_ok"] and c["auth_mode"] == "600" for c in calls), calls
    # a lone ssh host listens on its own address (the one its A record names), not 0.0.0.0 (so
    # lite-b joining later changes nothing of it); TLS: its certificate verifies for the service name
    listening = rig.host.sudo(f"ss -Hltn 'sport = :{rig.port}'").stdout
    local = {line.split()[3] for line in listening.splitlines()}  # (the bed shares one network namespace)
    assert f"{rig.host.address}:{rig.port}" in local and not {f"0.0.0.0:{rig.port}", f"*:{rig.port}"} & local, listening
    assert _served_name_verifies(rig, rig.host.address, rig.service_name)


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
    assert _get(rig, "/health/readiness").status_code == 200


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
    # the test's own idle keep-alive connection would hold each stop of the proxy 30 s (runbook,
    # Limits: the event loop's TLS shutdown timeout); this row is about the failure, so it lets go
    _fresh_client(rig)
    with pytest.raises(StepFailed) as failed:
        rig.apply(bad)
    text = str(failed.value)
    assert failed.value.step.name.endswith("-service"), text[-2000:]
    assert "LiteLLM did not become ready" in text and "--- last 50 lines of the proxy log ---" in text
    # LiteLLM exits (status 3) when its database is unreachable and systemd restarts it: the wait
    # fails on the exit, not after the readiness timeout
    assert "the proxy process is not running (it exited with status 3;" in text, text[-2000:]
    # the rollout put the previous files back and restarted with them: the host serves again, and
    # the engine keeps the rollout step's old state (tests.support.transitions.state_after)
    assert "restoring the previous files" in text and "running the previous files again" in text, text[-2000:]
    assert _get(rig, "/health/readiness").status_code == 200
    service = f"litellm-dev-{rig.host.name}-service"
    assert {r.name: r for r in rig.current.resources}[service].inputs == {r.name: r for r in good.resources}[service].inputs
    journal = text.split("--- last 50 lines of the proxy log ---", 1)[1]
    assert "litellm" in journal.lower() and len(journal.strip().splitlines()) >= 5, journal
    assert rig.master_key not in text and rig.declared_password() not in text
    # a fix-forward, straight from the failed run (the revert runs on two hosts below): the engine
    # kept the rollout step's old state, so the host rolls from the good files to the fixed ones
    _fresh_client(rig)
    rig.keep(routing_timeout=33)
    p = rig.apply(rig.program())
    assert p.by_name(service).op == "update", rig.describe(p)
    rollout = [e for e in rig.executor.log if e.step.name == service][-1]
    assert "restarting with the new files" in rollout.stdout and "LiteLLM ready" in rollout.stdout, rollout.stdout[-2000:]
    assert _get(rig, "/health/readiness").status_code == 200


def test_a_reboot_brings_the_proxy_back(rig, systemd_bed):
    h = rig.host
    systemd_bed.stop_host(h)
    with pytest.raises(httpx.HTTPError):
        _get(rig, "/health/readiness", timeout=5)
    systemd_bed.boot_host(h)
    assert h.ssh(f"systemctl is-enabled {UNIT}").stdout.strip() == "enabled"
    deadline = time.monotonic() + 180
    while True:
        try:
            if _get(rig, "/health/readiness", timeout=5).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, h.sudo(f"journalctl -u {UNIT} -n 40 --no-pager").stdout
        time.sleep(2)
    assert _chat(rig, rig.master_key).status_code == 200


def _fresh_client(rig) -> None:
    """Close the test's own client (and its idle keep-alive connection) and open a new one."""
    rig.http.close()
    rig.http = rig.client()


def _served_name_verifies(rig, address: str, name: str) -> bool:
    """The proxy on `address` serves a certificate that verifies against the test CA for `name`."""
    import ssl

    ctx = ssl.create_default_context(cadata=rig.tls_ca_pem)
    with socket.create_connection((address, rig.port), timeout=10) as raw, ctx.wrap_socket(raw, server_hostname=name) as tls:
        return tls.version() is not None


def _agent_says(address: str, port: int) -> str:
    with socket.create_connection((address, port), timeout=5) as s:
        return s.recv(64).decode().strip()


def _service(rig, h) -> str:
    return f"litellm-dev-{h.name}-service"


def _pid(h) -> str:
    return h.sudo(f"systemctl show -p MainPID --value {UNIT}").stdout.strip()


def _service_name_calls(rig, since: int) -> list[dict]:
    """The stand-in's calls since `since` that wrote the service name's CNAME (add/update)."""
    return [c for c in samba_calls(rig.dns_host)[since:]
            if len(c["argv"]) > 5 and c["argv"][:2] in (["dns", "add"], ["dns", "update"]) and c["argv"][4:6] == ["litellm", "CNAME"]]


def _ran(rig, since: int, name: str, command: str):
    return next(e for e in rig.executor.log[since:] if e.step.name == name and e.command == command)


def test_one_to_two_hosts_moves_the_service_name_to_the_front_door_under_dns_following_load(rig):
    """lite-b and the front door join. The load resolves the service name from the DC's records
    every 0.5 s and connects where it points (TLS verified for the service name): first lite-a,
    then the front door. The CNAME moves only after the front door's service step and every host's
    rollout, when HAProxy shows every server UP; lite-a runs on (same files: not restarted)."""
    h1, h2 = rig.hosts[0], rig.spare_hosts[0]
    pid = _pid(h1)
    load = DnsFollowingLoad(rig, rig.key).start()
    assert load.address == h1.address, load.switches
    try:
        load.wait_for(10)
        since, calls_from = len(rig.executor.log), len(samba_calls(rig.dns_host))
        rig.grow()
        started = time.monotonic()
        with _StateWatch(rig, every=0.2) as watch:
            # the stack as the fix-forward above left it (routing.timeout 33), plus lite-b and the front door
            p = rig.apply(rig.program())
        took = time.monotonic() - started
        deadline = time.monotonic() + 30
        while load.address != rig.front_door.address:
            assert time.monotonic() < deadline, load.switches
            time.sleep(0.2)
        load.wait_for(20)
    finally:
        load.stop()
    print(f"1 -> 2 hosts (DNS-following load): {load.sent} requests, {load.failed} failed, p99 {load.p99_ms():.0f} ms, "
          f"by address {load.by_address}, apply {took:.1f}s\n{rig.describe(p)}")
    assert load.failed == 0, load.errors[:5]
    assert load.by_address.get(h1.address, 0) > 0 and load.by_address.get(rig.front_door.address, 0) > 0, load.by_address
    assert [a for _, a in load.switches] == [h1.address, rig.front_door.address], load.switches
    # one rollout step per host, on the host; nothing of the hosts' rollouts on the front door
    names = {s.name for s in p.steps}
    assert not [n for n in names if n.endswith("-drain") or n.endswith("-enable")], sorted(names)
    # lite-a: none of its files changed (it listened on its address and shared router state
    # already), its rollout step ran for the drain agent and restarted nothing
    changed = {s.name: s.op for s in p.steps if s.name.startswith(f"litellm-dev-{h1.name}-") and s.op != "same"}
    assert changed == {f"litellm-dev-{h1.name}-service": "update"}, rig.describe(p)
    assert _pid(h1) == pid
    assert p.by_name(f"litellm-dev-{h2.name}-service").op == "create", rig.describe(p)
    # the switch: the stand-in's CNAME write came after the front door's service step and every
    # host's rollout ended, and after HAProxy showed every server UP
    [switch] = _service_name_calls(rig, calls_from)
    assert switch["argv"][6 if switch["argv"][1] == "add" else 7].startswith("litellm-lb."), switch["argv"]
    after = [_ran(rig, since, n, c) for n, c in (("litellm-dev-frontdoor-service", "create"),
                                                  (f"litellm-dev-{h1.name}-service", "update"),
                                                  (f"litellm-dev-{h2.name}-service", "create"))]
    assert all(e.ended <= switch["time"] for e in after), [(e.step.name, e.ended, switch["time"]) for e in after]
    up_before = [t for t, s in watch.timed if t < switch["time"] and s.get(h1.name) == "UP" and s.get(h2.name) == "UP"]
    assert up_before, [(round(t - switch["time"], 1), s) for t, s in watch.timed][-15:]
    # and nobody was ever taken out after the name moved
    assert all(set(s.values()) == {"UP"} for t, s in watch.timed if t > switch["time"] + 0.5 and "error" not in s), watch.timed[-10:]
    assert samba_records(rig.dns_host).get(f"{DNS_ZONE}|litellm|CNAME") == [f"litellm-lb.{DNS_ZONE}"]
    assert rig.assert_all_up() == {h.name: "UP" for h in rig.hosts}


def test_two_hosts_serve_through_the_front_door(rig):
    """The dev-ha shape, grown from dev: every proxy and its drain agent on its host's own address,
    HAProxy re-encrypting with `verify required`, the stack's key through the front door."""
    for h in rig.hosts:
        # the proxy listens on its host's own address, not 0.0.0.0; so does its drain agent
        listening = h.sudo(f"ss -Hltn 'sport = :{rig.port}'").stdout
        local = {line.split()[3] for line in listening.splitlines()}  # (the bed shares one network namespace)
        assert f"{h.address}:{rig.port}" in local and not {f"0.0.0.0:{rig.port}", f"*:{rig.port}"} & local, listening
        assert _agent_says(h.address, rig.agent_port) == "ready"
    assert rig.assert_all_up() == {h.name: "UP" for h in rig.hosts}
    ready = _get(rig, "/health/readiness")
    assert ready.status_code == 200 and ready.json().get("db") == "connected", ready.text
    # TLS: HAProxy checks each proxy (UP above) with `verify required` against the CA and the host's
    # name; the front door's certificate verifies for the service's name only
    cfg = rig.front_door.sudo("cat /etc/haproxy/haproxy.cfg").stdout
    assert "ssl verify required ca-file" in cfg, cfg
    for h in rig.hosts:
        assert f"sni str({h.name}.hx.dev.local) verifyhost {h.name}.hx.dev.local" in cfg, cfg
        assert _served_name_verifies(rig, h.address, f"{h.name}.hx.dev.local")
    with rig.client() as fresh, pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):  # a new connection
        fresh.get(f"{rig.url}/health/readiness", extensions={"sni_hostname": "not-the-service.hx.dev.local"})
    # the stack's team and key (made by the providers when the stack had one host) through the front door
    info = rig.http.get(f"{rig.url}/key/info", params={"key": rig.key}, headers={"Authorization": f"Bearer {rig.master_key}"},
                        extensions=rig.extensions)
    assert info.status_code == 200, info.text
    assert {k: info.json()["info"].get(k) for k in ("key_alias", "team_id", "models")} == {
        "key_alias": "bed-app", "team_id": "bed-platform", "models": ["llama3.2"]}, info.text
    # that key answers through the front door; an unknown key is refused
    answer = _chat(rig, rig.key)
    assert answer.status_code == 200 and "[fake:" in answer.text, answer.text
    assert _chat(rig, "sk-not-a-key-of-this-stack").status_code == 401


def test_the_admin_ui_renders_through_the_front_door_in_chromium(rig, tmp_path):
    """Headless Chromium (tests.support.chromium_cdp) at the service's https URL: the name mapped to
    the front door's address (the bed has no DNS), its certificate accepted by the pin of its public
    key only (`--ignore-certificate-errors-spki-list`: no other certificate passes). The login page,
    the stack's UI credentials reaching the dashboard, the provider-created key listed."""
    import base64
    import hashlib

    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from tests.support.chromium_cdp import Chromium
    from tests.support.ssh_stack import UI_USER

    leaf = x509.load_pem_x509_certificate(rig.tls_chain_pem.encode())
    spki = leaf.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    pin = base64.b64encode(hashlib.sha256(spki).digest()).decode()
    base = f"https://{rig.service_name}:{rig.port}"
    flags = (f"--host-resolver-rules=MAP {rig.service_name} {rig.front_door.address}", f"--ignore-certificate-errors-spki-list={pin}")
    with Chromium(tmp_path, extra_flags=flags) as browser:
        page = browser.new_page()
        page.send("Network.clearBrowserCookies")
        page.navigate(f"{base}/ui/login")
        page.wait_for("!!document.querySelector('input[type=password]')", what="the login form")
        assert page.screenshot(tmp_path / "login.png").stat().st_size > 5000
        page.type_into("input[name=username], input[placeholder='Enter your username']", UI_USER)
        page.type_into("input[type=password]", rig.ui_password)
        page.click("button[type=submit]")
        page.wait_for("!location.pathname.endsWith('/login') && !location.pathname.endsWith('/login/')",
                      what="leaving the login page")
        cookies = page.send("Network.getCookies", {"urls": [f"{base}/"]})["cookies"]
        assert any(c["name"] == "token" for c in cookies), [c["name"] for c in cookies]
        page.navigate(f"{base}/ui/?page=api-keys")
        page.wait_for("document.body.innerText.includes('bed-app')", timeout=120, what="the provider-created key listed")
        assert page.screenshot(tmp_path / "keys.png").stat().st_size > 20000
        assert rig.ui_password not in page.evaluate("document.documentElement.outerHTML")


def test_a_host_key_change_updates_that_host_without_a_restart_under_load(rig, systemd_bed):
    """lite-b is re-imaged and keeps its address: its sshd presents a new host key, the stack's
    `host_key` follows. The pinned key is an input of every step on that host, so all of them
    update (over the new key); the rollout finds the host already runs these files and restarts
    nothing. The other host and the front door run nothing; load through the front door: 0 failed."""
    h1, h2 = rig.hosts
    pids = {h.name: _pid(h) for h in rig.hosts}
    old_key = h2.host_key_line

    def rekey() -> None:
        assert systemd_bed.rekey_host(h2) != old_key

    p, stats, watch, log_from = _roll_under_load(rig, before=rekey)
    print(f"host key change: {stats.sent} requests, {stats.failed} failed, p99 {stats.p99():.0f} ms")
    by_host: dict[str, set] = {}
    for r in rig.current.resources:
        if r.type == "command:remote:Command":
            by_host.setdefault(r.inputs["connection"]["host"], set()).add(r.name)
    changed = {s.name for s in p.steps if s.op != "same"}
    assert changed == by_host[h2.address], rig.describe(p)
    assert all(s.op == "update" for s in p.steps if s.name in changed), rig.describe(p)
    rollout = next(e for e in rig.executor.log[log_from:] if e.step.name == _service(rig, h2))
    assert "already runs these files and this release: no restart" in rollout.stdout, rollout.stdout[-2000:]
    assert {h.name: _pid(h) for h in rig.hosts} == pids
    assert all(v.startswith("UP") for s in watch.seen for k, v in s.items() if k != "error"), watch.seen
    assert stats.failed == 0, stats.errors[:5]
    rig.assert_all_up()


def _bad_release(rig):
    """The env file of every host points the proxy at a database port nothing listens on."""
    bad = rig.program(readiness_timeout=40)
    renames = {}
    for r in bad.resources:
        if r.name.endswith("-file-env"):
            r.inputs["stdin"] = r.inputs["stdin"].replace("@127.0.0.1:5432/", "@127.0.0.1:9/")
            assert "@127.0.0.1:9/" in r.inputs["stdin"]
            [staged] = set(re.findall(r"litellm\.env\.[0-9a-f]{12}", r.inputs["create"]))
            # a name of its own, derived from the good one's (hosts with the same env share one)
            renames[staged] = f"litellm.env.0badc0{staged[-6:]}"
    # files are staged under the digest of their content: each edited env gets its own name
    for r in bad.resources:
        if r.type == "command:remote:Command":
            for k in ("create", "update"):
                if isinstance(r.inputs.get(k), str):
                    for old, new in renames.items():
                        r.inputs[k] = r.inputs[k].replace(old, new)
    return bad


def test_a_release_the_proxy_cannot_boot_fails_host_1_while_host_2_serves(rig):
    good = rig.current
    load = _load(rig, rig.master_key)
    try:
        with pytest.raises(StepFailed) as failed:
            rig.apply(_bad_release(rig))
        text = str(failed.value)
        h1, h2 = rig.hosts
        assert failed.value.step.name == _service(rig, h1), text[-2000:]
        assert "LiteLLM did not become ready" in text and "--- last 50 lines of the proxy log ---" in text
        assert "draining this host through its agent" in text and "restoring the previous files" in text, text[-3000:]
        journal = text.split("--- last 50 lines of the proxy log ---", 1)[1]
        assert "litellm" in journal.lower() and len(journal.strip().splitlines()) >= 5, journal
        assert rig.master_key not in text and rig.declared_password() not in text
        # host 2 never started its rollout; host 1 runs the previous files again, and says `ready`
        assert not any(u.endswith("::" + _service(rig, h2)) for u in rig.executor.completed)
        assert _agent_says(h1.address, rig.agent_port) == "ready"
        # a retry (the same program again): the engine kept the old state of host 1's rollout step
        # (it failed) and the new state of the staged files (they were written), so only host 1's
        # rollout runs again, and fails the same way; host 2 is still not touched
        since = len(rig.executor.log)
        with pytest.raises(StepFailed) as again:
            rig.apply(_bad_release(rig))
        assert again.value.step.name == _service(rig, h1), str(again.value)[-2000:]
        assert "restoring the previous files" in str(again.value), str(again.value)[-2000:]
        assert [e.step.name for e in rig.executor.log[since:]] == [_service(rig, h1)], rig.executor.log[since:]
        assert _agent_says(h1.address, rig.agent_port) == "ready"
        rig.assert_all_up()
        # a revert: the hosts already run the good files (no rollout runs), every server UP
        reverted = rig.apply(good)
        for h in rig.hosts:
            assert reverted.by_name(_service(rig, h)).op == "same", rig.describe(reverted)
        rig.assert_all_up()
        while load.stats.sent < 20:
            time.sleep(0.2)
    finally:
        stats = load.stop()
    print(f"failed release, retry, revert: {stats.sent} requests, {stats.failed} failed, p99 {stats.p99():.0f} ms")
    assert stats.sent >= 20 and stats.failed == 0, stats.errors[:5]


class _StateWatch:
    """HAProxy's server states, read on the front door every `every` seconds while a change runs."""

    def __init__(self, rig, every: float = 1.0, door=None):
        import threading

        self.rig, self.seen, self.timed, self.every, self._stop = rig, [], [], every, threading.Event()
        self.door = door or rig.front_door or rig.spare_front_door  # the host, whatever shape the stack is taking
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                states = self.rig.server_states(self.door)
            except Exception as exc:  # noqa: BLE001 - a missed sample is not a result
                states = {"error": str(exc)}
            # stamped when the read returned: the state held at some moment before that
            self.seen.append(states)
            self.timed.append((time.time(), states))
            self._stop.wait(self.every)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=120)


def _roll_under_load(rig, program=None, *, before=None, every: float = 1.0):
    """`program` (default: the stack as it now is, rendered once the load runs and `before` ran)
    applied under load through the front door while HAProxy's states are watched every `every`
    seconds: the plan, the load's stats, the watch and where this change's entries of the
    executor's log begin."""
    load = _load(rig, rig.master_key)
    try:
        while load.stats.sent < 10:
            time.sleep(0.2)
        if before is not None:
            before()
        log_from = len(rig.executor.log)
        with _StateWatch(rig, every=every) as watch:
            p = rig.apply(program or rig.program())
        target = load.stats.sent + 10
        while load.stats.sent < target:
            time.sleep(0.2)
    finally:
        stats = load.stop()
    return p, stats, watch, log_from


def _assert_rolled_one_host_at_a_time(rig, what, p, stats, watch, log_from):
    """Each host's whole rollout ran (drained through its agent, restarted, ready, re-enabled), host 1
    before host 2; HAProxy took each out (DRAIN) and never both; 0 failed; every server UP."""
    print(f"{what}: {stats.sent} requests, {stats.failed} failed, p99 {stats.p99():.0f} ms")
    rollouts = []
    for h in rig.hosts:
        assert p.by_name(_service(rig, h)).op == "update", rig.describe(p)
        rollout = next(e for e in rig.executor.log[log_from:] if e.step.name == _service(rig, h))
        assert "drained" in rollout.stdout and "LiteLLM ready" in rollout.stdout, rollout.stdout[-2000:]
        assert "re-enabled on the front door" in rollout.stdout, rollout.stdout[-2000:]
        rollouts.append(rollout)
    assert rollouts[0].ended <= rollouts[1].started, [(r.step.name, r.started, r.ended) for r in rollouts]
    for h in rig.hosts:
        assert any(s.get(h.name, "").startswith("DRAIN") for s in watch.seen), watch.seen
    assert not any(all(not v.startswith("UP") for k, v in s.items() if k != "error") and "error" not in s
                   for s in watch.seen), watch.seen
    assert stats.failed == 0, stats.errors[:5]
    rig.assert_all_up()


def _stream(rig, result: dict) -> None:
    """One streamed chat completion through the front door; `result`: status, the streamed content,
    whether [DONE] came, when it ended (wall clock)."""
    from tests.support.rollout_rig import read_chat_stream

    started = time.monotonic()
    try:
        with rig.client() as http, http.stream(
                "POST", f"{rig.url}/v1/chat/completions", headers={"Authorization": f"Bearer {rig.key}"}, extensions=rig.extensions,
                timeout=120, json={"model": "llama3.2", "stream": True, "messages": [{"role": "user", "content": "a long answer"}]}) as resp:
            result["status"] = resp.status_code
            result["content"], result["done"] = read_chat_stream(resp)
    except (httpx.HTTPError, ValueError) as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
    result["seconds"], result["ended"] = time.monotonic() - started, time.time()


STREAM_GAP = 8.0  # seconds after each of the fake's 4 streamed pieces: about 32 s in all


def test_a_config_change_rolls_both_hosts_under_load_and_waits_for_a_stream(rig):
    """A config change (routing.timeout 33 -> 60) rolls both hosts, one at a time, under load.
    Two streamed completions (about 32 s each: longer than a host's drain takes without them)
    are open when it starts, one on each host (HAProxy balances leastconn): host 1's drain begins
    while its stream is open and waits for it; both streams end whole."""
    import threading

    rig.fake.stream_slowly(STREAM_GAP)
    streams = []
    try:
        for _ in range(2):
            result: dict = {}
            t = threading.Thread(target=_stream, args=(rig, result), daemon=True)
            t.start()
            streams.append((t, result))
        deadline = time.monotonic() + 20
        while sum(rig.server_sessions().values()) < 2:
            assert time.monotonic() < deadline and not any("error" in r for _, r in streams), (rig.server_sessions(), streams)
            time.sleep(0.2)
        assert rig.server_sessions() == {h.name: 1 for h in rig.hosts}, rig.server_sessions()
        rig.keep(routing_timeout=60)
        p, stats, watch, log_from = _roll_under_load(rig)
        for t, _ in streams:
            t.join(timeout=120)
    finally:
        rig.fake.recover()
    _assert_rolled_one_host_at_a_time(rig, "config change with two streams open", p, stats, watch, log_from)
    for _, result in streams:
        assert not result.get("error") and result.get("status") == 200 and result.get("done"), result
        assert result["content"].endswith("echo: a long answer") and result["seconds"] >= 3 * STREAM_GAP, result
    h1 = rig.hosts[0]
    rollout = next(e for e in rig.executor.log[log_from:] if e.step.name == _service(rig, h1))
    assert "still open" not in rollout.stdout, rollout.stdout[-2000:]
    # host 1 was DRAIN while its stream was still open, and its rollout ended only after the stream
    # did: the drain (and so the stop) waited for it instead of cutting it
    drained_at = next(t for t, st in watch.timed if st.get(h1.name, "").startswith("DRAIN"))
    ended = [r["ended"] for _, r in streams]
    assert drained_at < min(ended) and max(ended) <= rollout.ended, (drained_at, ended, rollout.started, rollout.ended)


def test_a_drain_settings_only_change_restarts_nothing(rig):
    """`rollout.drain_timeout_seconds` alone: each host's rollout step updates (the drain is part of
    it) and finds the host already running exactly its files and release: no drain, no restart."""
    pids = {h.name: _pid(h) for h in rig.hosts}
    rig.keep(drain_timeout=90)  # was routing.timeout (60 s), the default
    p, stats, watch, log_from = _roll_under_load(rig)
    print(f"drain settings only: {stats.sent} requests, {stats.failed} failed, p99 {stats.p99():.0f} ms")
    assert {s.name for s in p.steps if s.op != "same"} == {_service(rig, h) for h in rig.hosts}, rig.describe(p)
    for e in rig.executor.log[log_from:]:
        assert "no restart" in e.stdout and "draining" not in e.stdout, e.stdout[-2000:]
    assert {h.name: _pid(h) for h in rig.hosts} == pids
    assert all(v.startswith("UP") for s in watch.seen for k, v in s.items() if k != "error"), watch.seen
    assert stats.failed == 0, stats.errors[:5]
    rig.assert_all_up()


def test_a_new_release_of_this_projects_restart_script_rolls_each_host_drained(rig):
    """A release of litellm-gateway that edits only the restart script: nothing else of the stack
    changes, yet each host's whole rollout runs (drain, restart, readiness wait, re-enable), host 1
    then host 2; the release stays (every later program renders it)."""
    from rendering import host_scripts

    rig.release_patches.append((host_scripts, "restart_script", lambda original: lambda s: original(s) + "# litellm-gateway, a new release\n"))
    p, stats, watch, log_from = _roll_under_load(rig)
    assert {s.name for s in p.steps if s.op != "same"} == {_service(rig, h) for h in rig.hosts}, rig.describe(p)
    _assert_rolled_one_host_at_a_time(rig, "restart script only (a new release of this project)", p, stats, watch, log_from)


def test_an_env_secret_change_rolls_both_hosts(rig):
    """A new value of an `envSecrets` entry: the env files are staged on both hosts, and each host
    takes its new env in its own turn, drained; the secret never reaches a log."""
    value = "rotated-" + secrets.token_urlsafe(12)
    rig.keep(env_secrets={"ROLLOUT_MARK": value})
    p, stats, watch, log_from = _roll_under_load(rig)
    # the migrate step runs with the env file too: it runs again, before host 1's rollout
    changed = {s.name for s in p.steps if s.op != "same"}
    assert changed == {f"litellm-dev-{h.name}-{step}" for h in rig.hosts for step in ("file-env", "migrate", "service")}, rig.describe(p)
    _assert_rolled_one_host_at_a_time(rig, "env secret", p, stats, watch, log_from)
    for h in rig.hosts:
        pid = _pid(h)
        # (a failure must not print the environment: it holds the master key and the database URL)
        found = f"ROLLOUT_MARK={value}" in h.sudo(f"tr '\\0' '\\n' < /proc/{pid}/environ").stdout.splitlines()
        assert found, f"{h.name}: the proxy's environment lacks the new ROLLOUT_MARK (values not shown)"
    assert not any(value in e.stdout for e in rig.executor.log[log_from:])


def test_a_unit_only_change_rolls_both_hosts(rig):
    """Only the systemd unit changes (an Environment= line, as a release of this project may add):
    each host's new unit is staged, and put in place, daemon-reloaded and restarted in the host's
    own turn, drained."""
    from rendering import host_files

    rig.release_patches.append((host_files, "shutdown_environment", lambda original: lambda s: {**original(s), "PYTHONUNBUFFERED": "1"}))
    p, stats, watch, log_from = _roll_under_load(rig)
    changed = {s.name for s in p.steps if s.op != "same"}
    assert changed == {_service(rig, h) for h in rig.hosts} | {f"litellm-dev-{h.name}-file-unit" for h in rig.hosts}, rig.describe(p)
    _assert_rolled_one_host_at_a_time(rig, "unit only", p, stats, watch, log_from)
    for h in rig.hosts:
        assert "PYTHONUNBUFFERED=1" in h.sudo(f"systemctl show -p Environment --value {UNIT}").stdout


def _front_door_bundle(rig) -> str:
    """The CA bundle HAProxy verifies the proxies with (its `ca-file`), as on the front door."""
    cfg = rig.front_door.sudo("cat /etc/haproxy/haproxy.cfg").stdout
    path = re.search(r"ca-file (\S+)", cfg).group(1)
    return rig.front_door.sudo(f"cat {path}").stdout


def test_a_ca_rotation_keeps_every_host_trusted_under_load(rig):
    """`tls.issuer: provided`, the operator's CA replaced by the runbook's two runs, under load
    through the front door (its consumers trust both CAs: step 0). Run 1, the new chain with the
    old CA as `previous_ca_cert`: the front door reloads trusting both, then each host takes the
    new certificate in its own turn, drained. Run 2, `previous_ca_cert` removed: only the front
    door changes (it trusts the new CA alone); no host restarts."""
    old_ca = rig.tls_ca_pem
    rig.rotate_ca("Bed test CA B")
    p, stats, watch, log_from = _roll_under_load(rig)
    door_steps = {s.name for s in p.steps if s.op != "same" and "-frontdoor-" in s.name}
    assert "litellm-dev-frontdoor-service" in door_steps, rig.describe(p)
    ran = [e.step.name for e in rig.executor.log[log_from:]]
    assert ran.index("litellm-dev-frontdoor-service") < ran.index(_service(rig, rig.hosts[0])), ran
    _assert_rolled_one_host_at_a_time(rig, "CA rotation, run 1", p, stats, watch, log_from)
    # the stack's team and key store the new CA (an update that sends nothing): the destroy below
    # deletes them through the proxy's new certificate
    for name in ("litellm-dev-team-bed-platform", "litellm-dev-key-bed-app"):
        assert p.by_name(name).op == "update", rig.describe(p)
        assert rig.dynamic.outputs_of(name).plain("ca_bundle_pem") == rig.tls_ca_pem
    for h in rig.hosts:  # each proxy presents the new CA's certificate
        assert _served_name_verifies(rig, h.address, f"{h.name}.{DNS_ZONE}")
    assert old_ca.strip() in _front_door_bundle(rig) and rig.tls_ca_pem.strip() in _front_door_bundle(rig)

    pids = {h.name: _pid(h) for h in rig.hosts}
    rig.end_ca_rotation()
    p, stats, watch, log_from = _roll_under_load(rig)
    print(f"CA rotation, run 2: {stats.sent} requests, {stats.failed} failed, p99 {stats.p99():.0f} ms")
    changed = {s.name for s in p.steps if s.op != "same"}
    assert changed and all("-frontdoor-" in n for n in changed), rig.describe(p)
    assert {h.name: _pid(h) for h in rig.hosts} == pids
    assert old_ca.strip() not in _front_door_bundle(rig) and rig.tls_ca_pem.strip() in _front_door_bundle(rig)
    assert stats.failed == 0, stats.errors[:5]
    rig.assert_all_up()
    # the consumers may drop the old CA now: a client trusting only the new one gets through
    rig.client_cas = [rig.tls_ca_pem]
    _fresh_client(rig)
    assert _get(rig, "/health/readiness").status_code == 200


def _venv_running(h) -> str:
    """The venv the host's proxy runs from (its main process's command line)."""
    argv = h.sudo(f"tr '\\0' ' ' < /proc/{_pid(h)}/cmdline").stdout
    return re.search(r"(/\S+/venvs/[^/\s]+)/", argv).group(1)


def test_a_new_lock_installs_beside_the_running_venv_and_switches_host_by_host(rig, tmp_path):
    """A new hashed lock (what a LiteLLM upgrade or a dependency's security fix brings; the bed's
    wheel cache holds one release's files, so the stand-in is the same release's lock with a line
    added: a new lock is a new venv all the same, `<version>-<lock hash>`). The install puts the
    new venv beside the running one on every host, never touching the venv a proxy runs; each host
    switches to it in its own turn, drained: while host 1 rolls, host 2 still runs the old one.
    Each host keeps the previous venv."""
    import config.litellm_locks as locks

    lock = locks.lock_file(PINNED_LITELLM_VERSION)
    (tmp_path / lock.name).write_text(lock.read_text() + "# rebuilt: a new lock of the same release (bed stand-in)\n")
    rig.release_patches.append((locks, "LOCKS_DIR", lambda _original: tmp_path))
    old = {h.name: _venv_running(h) for h in rig.hosts}
    h1, h2 = rig.hosts
    seen: dict = {}

    def watch(executed) -> None:
        if executed.step.name == _service(rig, h1):
            seen["h2 runs"] = _venv_running(h2)
            seen["h2 old venv there"] = h2.sudo(f"test -x {old[h2.name]}/bin/litellm && echo yes", check=False).stdout.strip()
            seen["h1 runs"] = _venv_running(h1)

    rig.executor.on_step = watch
    try:
        p, stats, watch_, log_from = _roll_under_load(rig)
    finally:
        rig.executor.on_step = None
    installs = {s.name: s.op for s in p.steps if s.name.endswith("-install") and s.op != "same"}
    assert set(installs) == {f"litellm-dev-{h.name}-install" for h in rig.hosts} and set(installs.values()) <= {"update", "replace"}, rig.describe(p)
    _assert_rolled_one_host_at_a_time(rig, "a new lock (LiteLLM upgrade stand-in)", p, stats, watch_, log_from)
    new = {h.name: _venv_running(h) for h in rig.hosts}
    assert all(new[n] != old[n] and new[n].rsplit("/", 1)[1].startswith(PINNED_LITELLM_VERSION + "-") for n in new), (old, new)
    assert seen == {"h2 runs": old[h2.name], "h2 old venv there": "yes", "h1 runs": new[h1.name]}, seen
    for h in rig.hosts:  # the current and the previous venv, nothing else
        assert sorted(h.sudo(f"ls -d {new[h.name].rsplit('/', 1)[0]}/*").stdout.split()) == sorted([old[h.name], new[h.name]])


def test_two_to_three_hosts_the_third_joins_under_load(rig, systemd_bed):
    """lite-c joins: installed, its A record written, the front door reloaded with it before its
    rollout starts it and HAProxy sees it UP; lite-a and lite-b run on (not restarted). Load
    through the front door: 0 failed."""
    h3 = systemd_bed.host("lite-c")
    pids = {h.name: _pid(h) for h in rig.hosts}
    rig.join(h3)
    p, stats, watch, log_from = _roll_under_load(rig)
    print(f"2 -> 3 hosts: {stats.sent} requests, {stats.failed} failed, p99 {stats.p99():.0f} ms")
    assert p.by_name(_service(rig, h3)).op == "create", rig.describe(p)
    # lite-a's and lite-b's rollout steps update (their drain agents' list of peers gains lite-c)
    # and find each host already running its files: nothing restarts there
    for h in rig.hosts[:2]:
        assert "no restart" in _ran(rig, log_from, _service(rig, h), "update").stdout
    ran = [e.step.name for e in rig.executor.log[log_from:]]
    assert ran.index("litellm-dev-frontdoor-service") < ran.index(_service(rig, h3)), ran
    assert {h.name: _pid(h) for h in rig.hosts[:2]} == pids
    assert samba_records(rig.dns_host).get(f"{DNS_ZONE}|{h3.name}|A") == [h3.address]
    assert stats.failed == 0, stats.errors[:5]
    assert rig.assert_all_up() == {h.name: "UP" for h in rig.hosts}


def test_three_to_two_hosts_the_third_is_drained_before_it_stops(rig):
    """lite-c leaves. Updates run before deletes: the front door reloads without it first (HAProxy
    sends it nothing new; the old process finishes what it has there), then lite-c's delete says
    `drain` through its agent, waits for its open connections and stops it; its A record goes.
    HAProxy never shows it DOWN (it is never stopped while in the config); lite-a and lite-b run
    on. Load through the front door: 0 failed."""
    h3 = rig.hosts[2]
    pids = {h.name: _pid(h) for h in rig.hosts[:2]}
    rig.leave(h3)
    p, stats, watch, since = _roll_under_load(rig, every=0.2)
    print(f"3 -> 2 hosts: {stats.sent} requests, {stats.failed} failed, p99 {stats.p99():.0f} ms")
    left = _ran(rig, since, _service(rig, h3), "delete")
    assert "leaving the stack: its agent says drain" in left.stdout, left.stdout[-1500:]
    reloaded = _ran(rig, since, "litellm-dev-frontdoor-service", "update")
    assert reloaded.ended <= left.started, (reloaded.ended, left.started)
    states = [s[h3.name] for _, s in watch.timed if "error" not in s and h3.name in s]
    assert all(st.startswith(("UP", "DRAIN")) for st in states), states
    assert h3.name not in rig.server_states()
    assert h3.sudo(f"systemctl is-active {UNIT}", check=False).stdout.strip() in ("inactive", "unknown")
    assert f"{DNS_ZONE}|{h3.name}|A" not in samba_records(rig.dns_host)
    for h in rig.hosts:  # their agents' peers lose lite-c; nothing restarts there
        assert p.by_name(_service(rig, h)).op == "update", rig.describe(p)
        assert "no restart" in _ran(rig, since, _service(rig, h), "update").stdout
    assert {h.name: _pid(h) for h in rig.hosts} == pids
    assert stats.failed == 0, stats.errors[:5]
    assert rig.assert_all_up() == {h.name: "UP" for h in rig.hosts}


def test_a_container_restart_brings_its_proxy_back_and_the_front_door_marks_it_up(rig, systemd_bed):
    h = rig.hosts[1]
    systemd_bed.stop_host(h)
    deadline = time.monotonic() + 60
    while rig.server_states().get(h.name, "").startswith("UP"):
        assert time.monotonic() < deadline, rig.server_states()
        time.sleep(1)
    # the other host serves alone meanwhile
    assert _chat(rig, rig.key).status_code == 200
    systemd_bed.boot_host(h)
    assert h.ssh(f"systemctl is-enabled {UNIT} {AGENT}").stdout.split() == ["enabled", "enabled"]
    rig.assert_all_up(settle_seconds=240)
    assert _agent_says(h.address, rig.agent_port) == "ready"  # /run is empty after a boot: `ready`
    assert _chat(rig, rig.key).status_code == 200


def test_two_to_one_hosts_moves_the_service_name_back_before_the_front_door_goes(rig):
    """lite-b and the front door leave. The CNAME moves back to lite-a in the plan's updates, before
    the deletes; lite-b is drained (HAProxy shows it DRAIN, never DOWN first) before it stops;
    the front door stops last; lite-a runs on. The DNS-following load: 0 failed."""
    h1, h2, door = rig.hosts[0], rig.hosts[1], rig.front_door
    pid = _pid(h1)
    load = DnsFollowingLoad(rig, rig.key).start()
    assert load.address == door.address, load.switches
    try:
        load.wait_for(10)
        since, calls_from = len(rig.executor.log), len(samba_calls(rig.dns_host))
        started = time.monotonic()
        with _StateWatch(rig, every=0.2) as watch:
            rig.shrink()
            p = rig.apply(rig.program())  # as the earlier rows left it
        took = time.monotonic() - started
        deadline = time.monotonic() + 30
        while load.address != h1.address:
            assert time.monotonic() < deadline, load.switches
            time.sleep(0.2)
        load.wait_for(20)
    finally:
        load.stop()
    print(f"2 -> 1 hosts (DNS-following load): {load.sent} requests, {load.failed} failed, p99 {load.p99_ms():.0f} ms, "
          f"by address {load.by_address}, apply {took:.1f}s\n{rig.describe(p)}")
    assert load.failed == 0, load.errors[:5]
    assert load.by_address.get(h1.address, 0) > 0 and load.by_address.get(door.address, 0) > 0, load.by_address
    assert [a for _, a in load.switches] == [door.address, h1.address], load.switches
    [switch] = _service_name_calls(rig, calls_from)
    assert switch["argv"][7].startswith(f"{h1.name}."), switch["argv"]
    left = _ran(rig, since, f"litellm-dev-{h2.name}-service", "delete")
    stopped = _ran(rig, since, "litellm-dev-frontdoor-service", "delete")
    assert switch["time"] < left.started < left.ended <= stopped.started, (switch["time"], left.started, stopped.started)
    # lite-b drained before it stopped (it was restarted above: its agent's /run directory is new):
    # HAProxy's first state of it other than UP is DRAIN
    assert "leaving the stack: its agent says drain" in left.stdout, left.stdout[-1500:]
    states = [s.get(h2.name, "") for _, s in watch.timed if "error" not in s]
    first_out = next((st for st in states if st != "UP"), None)
    assert first_out is not None and first_out.startswith("DRAIN"), states
    assert _pid(h1) == pid
    # lite-a's rollout retired the drain agent it ran behind the front door
    assert "no front door: its drain agent stopped and removed" in _ran(rig, since, f"litellm-dev-{h1.name}-service", "update").stdout
    assert h1.sudo(f"systemctl is-active {AGENT}; ls /opt/litellm/drain-agent.py 2>&1", check=False).stdout.split()[0] in ("inactive", "unknown")
    assert samba_records(rig.dns_host).get(f"{DNS_ZONE}|litellm|CNAME") == [f"{h1.name}.{DNS_ZONE}"]
    assert h2.sudo(f"systemctl is-active {UNIT}", check=False).stdout.strip() in ("inactive", "unknown")
    assert door.sudo("systemctl is-active haproxy.service", check=False).stdout.strip() in ("inactive", "unknown")
    assert _get(rig, "/health/readiness").status_code == 200


def test_destroy_removes_what_the_stack_created_and_nothing_else(rig):
    h = rig.host
    assert h.sudo("id -un litellm").stdout.strip() == "litellm"
    rig.apply(None)
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
