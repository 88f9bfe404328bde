"""A CA rotation under load through the front door (issue 15, matrix row "CA rotation"): two local
proxies behind the real HAProxy with TLS everywhere (`tls.issuer: internal-ca`; the certificates
are real, tests.support.tls_material.RealTlsOutputs), changed by executing the real rendered
scripts in the engine's order (tests.support.transitions), as tests/transitions/test_rollout.py
does. Its own gateway (TLS on from the start; the other rows' gateway is plain HTTP): deployed
with CA A, then rotated to CA B by the procedure of docs/runbook.md ("CA rotation"):

  0. the consumers trust B besides A (the front door's own certificate moves to B in step 1);
  1. tlsCaCert/tlsCaKey := B and tls.previous_ca_cert := A: the front door reloads trusting A and
     B, then each host in its turn gets its certificate from B (drained, restarted, re-enabled);
  2. tls.previous_ca_cert removed: the front door alone reloads, trusting B only.

Before step 1, the mistake the procedure exists for: B without previous_ca_cert. The front door's
reload refuses (every host still presents A's certificate), nothing else runs, no request fails,
and the front door's files are as they were: its CA bundle and its own certificate (B's waits,
staged, for the next run; a restart of HAProxy meanwhile loads A's).
Each step fails on one failed request or any server not UP at its end.
"""

from __future__ import annotations

import socket
import ssl

import pytest

from tests.support import tls_material as tm
from tests.support.rollout_rig import Load, RolloutRig
from tests.support.transitions import StepFailed

HOSTS = [{"name": "proxy-a", "address": "127.0.0.2"}, {"name": "proxy-b", "address": "127.0.0.3"}]
KW = {"routing_timeout": 45}
CA_A = tm.make_test_ca("litellm-gateway rotation test CA A")
CA_B = tm.make_test_ca("litellm-gateway rotation test CA B")
HOST_SERVICES = {f"litellm-local-{h['name']}-service" for h in HOSTS}
FRONT_DOOR = "litellm-local-frontdoor-service"


@pytest.fixture(scope="module")
def rig():
    r = RolloutRig(tls=True)
    r.client_cas = [CA_A[0]]
    try:
        r.apply(r.program(HOSTS, tls_ca=CA_A, **KW))
        r.assert_all_up()
        yield r
    finally:
        r.close()


def _assert_no_failure(stats, at_least: int = 80) -> None:
    assert stats.sent >= at_least, stats.sent
    assert stats.failed == 0, f"{stats.failed} of {stats.sent} requests failed: {stats.errors[:5]}"
    print(f"requests: {stats.sent}, failed: {stats.failed}, p99 {stats.p99():.0f} ms")


def _live_bundle(rig: RolloutRig) -> str:
    return (rig.workdir / "deploy" / "frontdoor" / "tls" / "proxies-ca.crt").read_text()


def _front_door_pem(rig: RolloutRig, staged: bool = False) -> str:
    """The front door's own certificate + key as HAProxy loads it (or as staged for the next reload)."""
    path = rig.workdir / "deploy" / "frontdoor" / "tls" / ("frontdoor.pem.next" if staged else "frontdoor.pem")
    return path.read_text()


def _serves_from(rig: RolloutRig, ca_pem: str) -> dict[str, object]:
    """For each host: True when its proxy presents a certificate for its name that `ca_pem` alone
    verifies, else the probe's error."""
    context = ssl.create_default_context(cadata=ca_pem)
    result: dict[str, object] = {}
    for h in HOSTS:
        try:
            with socket.create_connection((h["address"], rig.port), timeout=10) as raw:
                with context.wrap_socket(raw, server_hostname=h["name"]):
                    result[h["name"]] = True  # the handshake verified chain and name
        except (ssl.SSLError, OSError) as exc:
            result[h["name"]] = repr(exc)
    return result


def test_ca_rotation_keeps_every_host_trusted(rig):
    # 0. consumers trust the new CA before the rotation (runbook, step 1)
    rig.client_cas = [CA_A[0], CA_B[0]]
    assert _serves_from(rig, CA_A[0]) == {"proxy-a": True, "proxy-b": True}

    # the new CA without the previous one: the front door refuses to reload, nothing else runs
    own_a = _front_door_pem(rig)
    load = Load(rig.url, concurrency=4, min_requests=40, verify=rig.client_verify()).start()
    before = len(rig.executor.log)
    with pytest.raises(StepFailed) as failed:
        rig.apply(rig.program(HOSTS, tls_ca=CA_B, **KW))
    stats = load.stop()
    assert failed.value.step.name == FRONT_DOOR, failed.value
    message = str(failed.value)
    assert "tls.previous_ca_cert" in message and "proxy-a (127.0.0.2:" in message and "proxy-b (127.0.0.3:" in message, message
    assert not HOST_SERVICES & {e.step.name for e in rig.executor.log[before:]}
    assert _live_bundle(rig) == CA_A[0]
    # its own certificate from B was written, but only staged: the live one is A's
    assert _front_door_pem(rig) == own_a and _front_door_pem(rig, staged=True) != own_a
    _assert_no_failure(stats, at_least=40)
    rig.assert_all_up()

    # 1. new CA + the previous one: the front door trusts both, then the hosts roll one at a time
    before = len(rig.executor.log)
    p, stats = rig.apply_under_load(rig.program(HOSTS, tls_ca=CA_B, previous_ca_cert=CA_A[0], **KW))
    ops = p.ops()
    assert {n: ops[n] for n in HOST_SERVICES} == {n: "update" for n in HOST_SERVICES}, rig.describe(p)
    assert ops[FRONT_DOOR] == "update", rig.describe(p)
    ran = [e.step.name for e in rig.executor.log[before:]]
    assert ran.index(FRONT_DOOR) < ran.index("litellm-local-proxy-a-service") < ran.index("litellm-local-proxy-b-service"), ran
    for e in rig.executor.log[before:]:
        if e.step.name in HOST_SERVICES:
            assert "drained" in e.stdout and "LiteLLM ready" in e.stdout and "serving" in e.stdout, e.stdout
    assert CA_A[0] in _live_bundle(rig) and CA_B[0] in _live_bundle(rig)
    assert _front_door_pem(rig) != own_a
    assert _serves_from(rig, CA_B[0]) == {"proxy-a": True, "proxy-b": True}
    _assert_no_failure(stats)
    rig.assert_all_up()

    # 2. the previous CA dropped: only the front door reloads; every host already serves B's
    before = len(rig.executor.log)
    p, stats = rig.apply_under_load(rig.program(HOSTS, tls_ca=CA_B, **KW))
    changed = {n for n, op in p.ops().items() if op != "same"}
    assert changed == {"litellm-local-frontdoor-file-tls-ca", FRONT_DOOR}, rig.describe(p)
    assert _live_bundle(rig) == CA_B[0]
    _assert_no_failure(stats)
    rig.assert_all_up()

    # consumers may drop A now: a client trusting B alone gets through
    rig.client_cas = [CA_B[0]]
    check = Load(rig.url, concurrency=1, min_requests=5, max_requests=5, verify=rig.client_verify()).start()
    stats = check.stop()
    assert stats.sent == 5 and stats.failed == 0, stats.errors
