"""A `dev-ha`-shaped ssh stack from nothing on real systemd hosts, over real OpenSSH: two LiteLLM
hosts (lite-a, lite-b) behind the HAProxy front door on a third (door), PostgreSQL and Redis on
this machine's 127.0.0.1 (tests.support.ssh_stack: what differs from the committed stack and the
named substitutions). Each proxy and its drain agent listen on their host's own 127.0.1.N (the
containers share this machine's network namespace); the front door on door's. TLS everywhere with
`tls.issuer: provided` (a test CA's certificate naming the hosts, the service and the front door):
HAProxy verifies each proxy's certificate against the CA and the host's name, the clients (the
providers, the tests, the load) verify the front door's against the CA and the service's name.

One deployed stack serves every scenario, in file order: deploy, a release the proxy cannot boot
(host 1 fails with its journal while host 2 serves; revert), a config change rolled under load, a
container restart. Every request of the load goes through the front door and must succeed.
"""

from __future__ import annotations

import re
import socket
import time

import httpx
import pytest

from tests.support.postgres_apply import scratch_cluster_objects
from tests.support.postgres_fixtures import ADMIN_DSN, process_prefix
from tests.support.rollout_rig import Load
from tests.support.ssh_stack import SshStackRig
from tests.support.transitions import StepFailed

UNIT = "litellm.service"
AGENT = "litellm-drain-agent.service"


@pytest.fixture(scope="module")
def rig(systemd_bed):
    hosts = [systemd_bed.host("lite-a"), systemd_bed.host("lite-b")]
    with scratch_cluster_objects(ADMIN_DSN, prefix=process_prefix("bedha")) as scratch:
        r = SshStackRig(systemd_bed, hosts, scratch, front_door=systemd_bed.host("door"), tls_provided=True,
                        admin_ui=True)
        r.http = r.client()
        try:
            yield r
        finally:
            r.http.close()
            r.close()


def _chat(rig, key, content="hello"):
    return rig.http.post(f"{rig.url}/v1/chat/completions", headers={"Authorization": f"Bearer {key}"}, extensions=rig.extensions,
                         json={"model": "llama3.2", "messages": [{"role": "user", "content": content}]})


def _load(rig, key):
    return Load(rig.url, concurrency=2, key=key, client=rig.client, extensions=rig.extensions).start()


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


def test_deploy_from_nothing_through_the_front_door(rig):
    started = time.monotonic()
    p = rig.apply(rig.program())
    print(f"deployed in {time.monotonic() - started:.1f}s:\n{rig.describe(p)}")
    names = {s.name for s in p.steps}
    # one rollout step per host, on the host; nothing of the hosts' rollouts on the front door
    assert not [n for n in names if n.endswith("-drain") or n.endswith("-enable")], sorted(names)
    for h in rig.hosts:
        assert _service(rig, h) in names
        # the proxy listens on its host's own address, not 0.0.0.0; so does its drain agent
        listening = h.sudo(f"ss -Hltn 'sport = :{rig.port}'").stdout
        local = {line.split()[3] for line in listening.splitlines()}  # (the bed shares one network namespace)
        assert f"{h.address}:{rig.port}" in local and not {f"0.0.0.0:{rig.port}", f"*:{rig.port}"} & local, listening
        assert _agent_says(h.address, rig.agent_port) == "ready"
    assert rig.assert_all_up() == {h.name: "UP" for h in rig.hosts}
    ready = rig.http.get(f"{rig.url}/health/readiness", extensions=rig.extensions)
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
    # the stack's team and key, made by the project's providers in the dynamic-provider host, after
    # both rollouts, through the front door (the admin URL derived from the stack config)
    order = [e.step.name for e in rig.executor.log]
    made = [(m, n) for m, n in rig.dynamic.calls if n.startswith(("litellm-dev-team-", "litellm-dev-key-"))]
    assert made == [("Check", "litellm-dev-team-bed-platform"), ("Create", "litellm-dev-team-bed-platform"),
                    ("Check", "litellm-dev-key-bed-app"), ("Create", "litellm-dev-key-bed-app")], made
    assert order.index("litellm-dev-team-bed-platform") > max(order.index(_service(rig, h)) for h in rig.hosts), order
    rig.key = rig.key_value()
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


def _bad_release(rig):
    """The env file of every host points the proxy at a database port nothing listens on."""
    bad = rig.program(readiness_timeout=40)
    renames = {}
    for r in bad.resources:
        if r.name.endswith("-file-env"):
            r.inputs["stdin"] = r.inputs["stdin"].replace("@127.0.0.1:5432/", "@127.0.0.1:9/")
            assert "@127.0.0.1:9/" in r.inputs["stdin"]
            [staged] = set(re.findall(r"litellm\.env\.[0-9a-f]{12}", r.inputs["create"]))
            renames[staged] = f"litellm.env.0badc0ffee{len(renames):02d}"
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
        # a revert: the hosts already run the good files (no rollout runs), every server UP
        reverted = rig.apply(good)
        for h in rig.hosts:
            assert reverted.by_name(_service(rig, h)).op == "same", rig.describe(reverted)
        rig.assert_all_up()
        while load.stats.sent < 20:
            time.sleep(0.2)
    finally:
        stats = load.stop()
    print(f"failed release + revert: {stats.sent} requests, {stats.failed} failed, p99 {stats.p99():.0f} ms")
    assert stats.sent >= 20 and stats.failed == 0, stats.errors[:5]


class _StateWatch:
    """HAProxy's server states, read on the front door every second while a change runs."""

    def __init__(self, rig):
        import threading

        self.rig, self.seen, self._stop = rig, [], threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                self.seen.append(self.rig.server_states())
            except Exception as exc:  # noqa: BLE001 - a missed sample is not a result
                self.seen.append({"error": str(exc)})
            self._stop.wait(1)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=120)


def test_a_config_change_rolls_both_hosts_under_load(rig):
    load = _load(rig, rig.master_key)
    try:
        while load.stats.sent < 10:
            time.sleep(0.2)
        log_from = len(rig.executor.log)
        with _StateWatch(rig) as watch:
            p = rig.apply(rig.program(routing_timeout=33))
        target = load.stats.sent + 10
        while load.stats.sent < target:
            time.sleep(0.2)
    finally:
        stats = load.stop()
    # HAProxy itself took each host out (the agent's `drain`), one at a time, never both
    for h in rig.hosts:
        assert any(s.get(h.name, "").startswith("DRAIN") for s in watch.seen), watch.seen
    assert not any(all(not v.startswith("UP") for k, v in s.items() if k != "error") and "error" not in s
                   for s in watch.seen), watch.seen
    print(f"config change: {stats.sent} requests, {stats.failed} failed, p99 {stats.p99():.0f} ms")
    for h in rig.hosts:
        assert p.by_name(_service(rig, h)).op == "update", rig.describe(p)
        rollout = next(e for e in rig.executor.log[log_from:] if e.step.name == _service(rig, h))
        assert "drained" in rollout.stdout and "re-enabled on the front door" in rollout.stdout, rollout.stdout[-2000:]
    assert stats.failed == 0, stats.errors[:5]
    rig.assert_all_up()


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
