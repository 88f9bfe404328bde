"""Day-2 changes on real processes, under load: two (then three, then two again) local proxies
behind the real HAProxy front door, changed by executing the real rendered scripts in the engine's
order (tests.support.transitions), with the engine's per-step state after a failure
(`state_after`). Every scenario fails on a single failed request and on any server that is not UP
in HAProxy at its end.

The scenarios run in file order against one deployed gateway (each starts from the previous one's
state, kept in `CURRENT`), as a platform team's week would. The gateway is first deployed by the
PREVIOUS release of this project (commit PREVIOUS_RELEASE: four rollout steps per host, files
written in place, one venv), so the first row is the upgrade to this release; then a config change,
a drain-settings-only change, a new release of this project that edits only the restart script, a
restart reason on each host (a new env entry), a host rename, a LiteLLM release that fails its
readiness wait on host 1 followed by a retry, a revert and a fix-forward, an added host and a
removed one, a unit-only change, a LiteLLM upgrade switched host by host, a streaming request
longer than a drain open through a rollout, a host address change, and (with
`frontDoor.with_one_host`) two hosts to one, a restart of that lone host, back to two, and (from
one host again) to two together with a change that restarts host 1. A CA rotation runs on a TLS
gateway of its own: test_ca_rotation.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import threading
import time

import httpx
import pytest

from rendering import host_files as hf
from rendering import host_scripts as hs
from config.litellm_settings import PINNED_LITELLM_VERSION
from tests.support.rollout_rig import MASTER_KEY, PREVIOUS_RELEASE, Load, RolloutRig, read_chat_stream
from tests.support.transitions import StepFailed

HOSTS = [{"name": "proxy-a", "address": "127.0.0.2"}, {"name": "proxy-b", "address": "127.0.0.3"}]
# what every later scenario starts from (each updates it)
CURRENT: dict[str, Any] = {"hosts": HOSTS, "kw": {"routing_timeout": 45}}
# stand-ins for LiteLLM releases (tests.support.rollout_rig: each is its own venv; the rig's
# `broken` directory marks one as a release whose proxy exits at start)
V2, V3, V4 = "1.108.6", "1.108.5", "1.108.4"


@pytest.fixture(scope="module")
def rig():
    r = RolloutRig()
    try:
        # deployed by the previous release of this project (its own program and scripts): the
        # first row upgrades it
        r.apply(r.previous_release(HOSTS, **CURRENT["kw"]))
        r.assert_all_up()
        yield r
    finally:
        r.close()


def _program(rig: RolloutRig, hosts=None, **changes):
    kw = {**CURRENT["kw"], **changes}
    return rig.program(hosts or CURRENT["hosts"], **kw), kw


def _ops(p, suffix):
    return {name: op for name, op in p.ops().items() if name.endswith(suffix)}


def _host_services(p) -> dict[str, str]:
    return {n: op for n, op in _ops(p, "-service").items() if "proxy-" in n}


def _assert_no_failure(stats, at_least: int = 80):
    assert stats.sent >= at_least, stats.sent
    assert stats.failed == 0, f"{stats.failed} of {stats.sent} requests failed: {stats.errors[:5]}"
    print(f"requests: {stats.sent}, failed: {stats.failed}, p99 {stats.p99():.0f} ms")


def _ran(rig: RolloutRig, since: int) -> list[str]:
    return [e.step.name for e in rig.executor.log[since:]]


def _roll(rig: RolloutRig, hosts=None, **changes):
    new, kw = _program(rig, hosts, **changes)
    p, stats = rig.apply_under_load(new)
    CURRENT["kw"] = kw
    if hosts is not None:
        CURRENT["hosts"] = hosts
    return p, stats


def test_upgrade_from_the_previous_release_of_this_project(rig):
    """A stack deployed by the previous release (four steps per host: drain, service, ready,
    enable; files written in place; one venv) moves to this one: each host's service step is
    updated in place into the one-step rollout, the old drain/ready/enable steps are deleted, and
    those deletes run nothing (the previous release gave them no delete: they can neither drain
    nor stop a running host)."""
    old = {r.name: r for r in rig.current.resources}
    assert {f"litellm-local-{h}-{step}" for h in ("proxy-a", "proxy-b") for step in ("drain", "ready", "enable")} <= set(old), sorted(old)
    before = len(rig.executor.log)
    p, stats = _roll(rig)
    assert _host_services(p) == {"litellm-local-proxy-a-service": "update", "litellm-local-proxy-b-service": "update"}, rig.describe(p)
    deleted = sorted(s.name for chain in p.deletes for s in chain)
    assert deleted == sorted(f"litellm-local-{h}-{step}" for h in ("proxy-a", "proxy-b") for step in ("drain", "ready", "enable")), rig.describe(p)
    for name in deleted:
        assert not old[name].inputs.get("delete"), f"{name} of {PREVIOUS_RELEASE[:7]} has a delete: {old[name].inputs['delete'][:200]}"
    executed = rig.executor.log[before:]
    assert not [e.step.name for e in executed if e.command == "delete"], [e.step.name for e in executed]
    ran = _ran(rig, before)
    assert ran.index("litellm-local-proxy-a-service") < ran.index("litellm-local-proxy-b-service")
    for e in executed:
        if e.step.name.endswith("-service") and "proxy-" in e.step.name:
            assert "drained" in e.stdout and "LiteLLM ready" in e.stdout and "serving" in e.stdout, e.stdout
    _assert_no_failure(stats)
    rig.assert_all_up()
    # every host runs this release's layout now: a venv per release, the rollout record
    for address in ("127.0.0.2", "127.0.0.3"):
        assert Path(_venv_record(rig, address)).name.startswith(PINNED_LITELLM_VERSION + "-")


def test_config_change_rolls_in_place_one_host_at_a_time(rig):
    before = len(rig.executor.log)
    p, stats = _roll(rig, routing_timeout=46)
    # the whole rollout of a host is its service step: an update on every host, nothing else
    assert _host_services(p) == {"litellm-local-proxy-a-service": "update", "litellm-local-proxy-b-service": "update"}, rig.describe(p)
    assert not p.deletes and "replace" not in p.ops().values(), rig.describe(p)
    assert not [n for n in p.ops() if n.endswith(("-drain", "-ready", "-enable"))]
    ran = _ran(rig, before)
    assert ran.index("litellm-local-proxy-a-service") < ran.index("litellm-local-proxy-b-service")
    out = {e.step.name: e.stdout for e in rig.executor.log[before:]}
    for h in ("proxy-a", "proxy-b"):
        text = out[f"litellm-local-{h}-service"]
        # drained, restarted, ready, re-enabled, in that order, in the one step
        marks = [text.index(m) for m in (f"rollout {h}: draining", "drained", "LiteLLM ready", "serving", f"rollout {h}: done")]
        assert marks == sorted(marks), text
    _assert_no_failure(stats)
    rig.assert_all_up()


def test_drain_settings_only_change_rolls_every_host(rig):
    """Issue 15: a drain-timeout change used to update only the drain steps (both servers left in
    DRAIN). The drain is part of each host's one rollout step now."""
    before = len(rig.executor.log)
    p, stats = _roll(rig, drain_timeout=60)  # was routing.timeout (46 s), the default
    assert _host_services(p) == {"litellm-local-proxy-a-service": "update", "litellm-local-proxy-b-service": "update"}, rig.describe(p)
    # each host already runs exactly its files and release: nothing to drain or restart
    for e in rig.executor.log[before:]:
        assert "no restart" in e.stdout and "draining" not in e.stdout, e.stdout
    assert set(p.ops().values()) - {"same", "update"} == set()
    assert {n for n, op in p.ops().items() if op == "update"} == set(_host_services(p)), rig.describe(p)
    _assert_no_failure(stats)
    rig.assert_all_up()


def test_restart_script_only_change_drains_and_waits(rig, monkeypatch):
    """A release of this project that edits only the restart script: each host's whole rollout
    runs (drain, restart, readiness wait, re-enable), one host after the other."""
    original = hs.restart_script
    monkeypatch.setattr(hs, "restart_script", lambda s: original(s) + "# a new release of litellm-gateway\n")
    before = len(rig.executor.log)
    p, stats = _roll(rig)
    assert _host_services(p) == {"litellm-local-proxy-a-service": "update", "litellm-local-proxy-b-service": "update"}, rig.describe(p)
    assert {n for n, op in p.ops().items() if op == "update"} == set(_host_services(p)), rig.describe(p)
    for e in rig.executor.log[before:]:
        if e.step.name.endswith("-service"):
            assert "drained" in e.stdout and "LiteLLM ready" in e.stdout and "serving" in e.stdout, e.stdout
    _assert_no_failure(stats)
    rig.assert_all_up()


def test_restart_reason_on_each_host(rig):
    p, stats = _roll(rig, env_secrets={"ROLLOUT_MARK": "one"})
    assert _host_services(p) == {"litellm-local-proxy-a-service": "update", "litellm-local-proxy-b-service": "update"}, rig.describe(p)
    assert p.by_name("litellm-local-frontdoor-service").op == "same"  # only the hosts' env changed
    assert _ops(p, "-file-env") and set(_ops(p, "-file-env").values()) == {"update"}
    assert not p.deletes
    _assert_no_failure(stats)
    rig.assert_all_up()


def test_declared_host_rename_is_an_update(rig):
    renamed = [HOSTS[0], {"name": "proxy-b2", "address": "127.0.0.3", "renamed_from": ["proxy-b"]}]
    p, stats = _roll(rig, renamed)
    assert not p.deletes, rig.describe(p)  # aliases: nothing of the old name is deleted
    assert "create" not in {op for n, op in p.ops().items() if "proxy-b" in n}, rig.describe(p)
    _assert_no_failure(stats)
    rig.assert_all_up()


def _fail_on_host_a(rig: RolloutRig, version: str) -> None:
    """Roll out a release whose proxy does not start: host a's rollout fails (restoring what ran),
    host b is never touched, no request fails, every server ends UP; the engine's state keeps the
    old state of host a's rollout step."""
    (rig.broken / version).touch()
    new, _ = _program(rig, version=version)
    old_state = {r.name: r for r in rig.current.resources}
    load = Load(rig.url, concurrency=4).start()
    before = len(rig.executor.log)
    with pytest.raises(StepFailed) as failed:
        rig.apply(new)
    stats = load.stop()
    assert failed.value.step.name == "litellm-local-proxy-a-service"
    assert "simulated broken release" in str(failed.value) or "not become ready" in str(failed.value), str(failed.value)
    ran = _ran(rig, before)
    assert not [n for n in ran if "proxy-b2" in n and n.endswith("-service")], ran
    stored = {r.name: r for r in rig.current.resources}
    assert stored["litellm-local-proxy-a-service"].inputs == old_state["litellm-local-proxy-a-service"].inputs
    assert stored["litellm-local-proxy-a-file-config"].inputs != old_state["litellm-local-proxy-a-file-config"].inputs or \
        stored["litellm-local-proxy-a-install"].inputs != old_state["litellm-local-proxy-a-install"].inputs
    _assert_no_failure(stats, at_least=10)
    rig.assert_all_up()


def _venv_record(rig: RolloutRig, address: str) -> str:
    return (rig.workdir / "deploy" / "hosts" / address / "rollout" / "venv").read_text().strip()


def test_upgrade_fails_on_host_1_then_retry(rig):
    """A LiteLLM upgrade (a new venv beside the old one) whose first attempt fails on host a; the
    retry (the same program, the cause fixed) rolls both hosts to it."""
    _fail_on_host_a(rig, V2)
    (rig.broken / V2).unlink()
    before = len(rig.executor.log)
    p, stats = _roll(rig, version=V2)
    assert _host_services(p) == {"litellm-local-proxy-a-service": "update", "litellm-local-proxy-b2-service": "update"}, rig.describe(p)
    assert "litellm-local-proxy-a-service" in _ran(rig, before)
    _assert_no_failure(stats)
    rig.assert_all_up()
    for address in ("127.0.0.2", "127.0.0.3"):
        venv = _venv_record(rig, address)
        assert Path(venv).name.startswith(V2 + "-"), venv
        # current and previous release only
        kept = sorted(v.name.split("-")[0] for v in Path(venv).parent.iterdir())
        assert kept == sorted([V2, PINNED_LITELLM_VERSION]), kept


def test_failed_rollout_then_revert_is_a_no_op(rig):
    _fail_on_host_a(rig, V3)
    before = len(rig.executor.log)
    p, stats = _roll(rig, version=V2)  # the program of the last successful run
    assert _host_services(p) == {"litellm-local-proxy-a-service": "same", "litellm-local-proxy-b2-service": "same"}, rig.describe(p)
    assert not [n for n in _ran(rig, before) if n.endswith("-service")]
    assert Path(_venv_record(rig, "127.0.0.2")).name.startswith(V2 + "-")
    _assert_no_failure(stats, at_least=40)
    rig.assert_all_up()


def test_failed_rollout_then_fix_forward(rig):
    _fail_on_host_a(rig, V3)
    p, stats = _roll(rig, version=V4)
    assert _host_services(p) == {"litellm-local-proxy-a-service": "update", "litellm-local-proxy-b2-service": "update"}, rig.describe(p)
    _assert_no_failure(stats)
    rig.assert_all_up()
    assert Path(_venv_record(rig, "127.0.0.3")).name.startswith(V4 + "-")


def test_added_host_joins_without_a_failed_request(rig):
    hosts = [*CURRENT["hosts"], {"name": "proxy-c", "address": "127.0.0.4"}]
    p, stats = _roll(rig, hosts)
    assert set(_ops(p, "proxy-c-service").values()) == {"create"}
    assert set(_ops(p, "frontdoor-service").values()) == {"update"}  # reloaded with the new server
    assert not p.deletes
    _assert_no_failure(stats)
    rig.assert_all_up()


def test_removed_host_is_drained_before_it_stops(rig):
    hosts = [h for h in CURRENT["hosts"] if h["name"] != "proxy-c"]
    before = len(rig.executor.log)
    p, stats = _roll(rig, hosts)
    deleted = [s.name for chain in p.deletes for s in chain]
    assert "litellm-local-proxy-c-service" in deleted, rig.describe(p)
    out = {e.step.name: e.stdout for e in rig.executor.log[before:]}
    assert "litellm-local-proxy-c-service" in out
    _assert_no_failure(stats)
    assert set(rig.assert_all_up()) == {"proxy-a", "proxy-b2"}


def test_unit_only_change_drains_and_waits(rig, monkeypatch):
    """A change of only the proxy's launch environment (on ssh: the systemd unit's Environment=;
    local: the launch, the unit's counterpart) rolls every host, drained, one after the other."""
    original = hf.shutdown_environment
    monkeypatch.setattr(hf, "shutdown_environment", lambda s: {**original(s), "PYTHONUNBUFFERED": "1"})
    before = len(rig.executor.log)
    p, stats = _roll(rig)
    b_service = f"litellm-local-{CURRENT['hosts'][1]['name']}-service"
    assert {n for n, op in p.ops().items() if op != "same"} == {"litellm-local-proxy-a-service", b_service}, rig.describe(p)
    ran = _ran(rig, before)
    assert ran.index("litellm-local-proxy-a-service") < ran.index(b_service)
    for e in rig.executor.log[before:]:
        assert "drained" in e.stdout and "LiteLLM ready" in e.stdout and "serving" in e.stdout, e.stdout
    _assert_no_failure(stats)
    rig.assert_all_up()
    for address in ("127.0.0.2", "127.0.0.3"):
        pid = (rig.workdir / "deploy" / "hosts" / address / "litellm.pid").read_text().split()[0]
        assert b"PYTHONUNBUFFERED=1" in Path(f"/proc/{pid}/environ").read_bytes()


def test_litellm_upgrade_switches_host_by_host(rig):
    """A LiteLLM upgrade: the new venv is installed beside the running one on every host, and each
    host moves to it in its own turn (host b still runs the old release, from its old venv, while
    host a rolls)."""
    old_venvs = {a: _venv_record(rig, a) for a in ("127.0.0.2", "127.0.0.3")}
    # to the pinned release (the earlier rows leave a stand-in one), or away from it
    target = V2 if CURRENT["kw"].get("version", PINNED_LITELLM_VERSION) == PINNED_LITELLM_VERSION else PINNED_LITELLM_VERSION
    b_name = CURRENT["hosts"][1]["name"]
    seen: dict[str, Any] = {}

    def watch(executed) -> None:
        if executed.step.name == "litellm-local-proxy-a-service":
            seen["b_record"] = _venv_record(rig, "127.0.0.3")
            seen["b_venv_exists"] = Path(old_venvs["127.0.0.3"]).is_dir()
            seen["a_record"] = _venv_record(rig, "127.0.0.2")

    rig.executor.on_step = watch
    try:
        p, stats = _roll(rig, version=target)
    finally:
        rig.executor.on_step = None
    assert {n: op for n, op in _ops(p, "-install").items() if "proxy-" in n} == {
        "litellm-local-proxy-a-install": "replace", f"litellm-local-{b_name}-install": "replace"}, rig.describe(p)
    assert _host_services(p) == {"litellm-local-proxy-a-service": "update", f"litellm-local-{b_name}-service": "update"}, rig.describe(p)
    # while host a rolled: a on the new venv, b still on (and with) its old one
    assert Path(seen["a_record"]).name.startswith(target + "-"), seen
    assert seen["b_record"] == old_venvs["127.0.0.3"] and seen["b_venv_exists"], seen
    _assert_no_failure(stats)
    rig.assert_all_up()
    for address in ("127.0.0.2", "127.0.0.3"):
        assert Path(_venv_record(rig, address)).name.startswith(target + "-")


def _stream(rig: RolloutRig, result: dict[str, Any]) -> None:
    """One streamed chat completion through the front door; `result`: status, the streamed
    content, whether [DONE] came, when it ended."""
    started = time.monotonic()
    try:
        with httpx.Client(timeout=120, trust_env=False) as http:
            with http.stream("POST", f"{rig.url}/v1/chat/completions", headers={"Authorization": f"Bearer {MASTER_KEY}"},
                             json={"model": "llama3.2", "stream": True, "messages": [{"role": "user", "content": "a long answer"}]}) as resp:
                result["status"] = resp.status_code
                result["content"], result["done"] = read_chat_stream(resp)
    except (httpx.HTTPError, ValueError) as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
    result["seconds"] = time.monotonic() - started
    result["ended"] = time.monotonic()


STREAM_GAP = 5.0  # seconds between the 4 pieces of the fake's streamed answer: about 20 s in all


def test_streaming_request_longer_than_a_drain_survives_the_rollout(rig):
    """A streamed completion (about 20 s: within routing.timeout, and so within the drain timeout
    and the proxy's graceful shutdown, which config validation keeps at or above it) is open on
    the first host to roll when the rollout starts: its drain begins while the stream is open and
    waits for it, then the host restarts; the stream completes whole; the load through the front
    door sees no failure."""
    rig.fake.stream_slowly(STREAM_GAP)
    streams: list[tuple[threading.Thread, dict[str, Any]]] = []
    drain_seen: dict[str, float] = {}
    watching = threading.Event()

    def watch_drains() -> None:
        while not watching.is_set():
            for name, status in rig.server_states().items():
                if "DRAIN" in status:
                    drain_seen.setdefault(name, time.monotonic())
            time.sleep(0.2)

    def open_stream() -> dict[str, Any]:
        result: dict[str, Any] = {}
        t = threading.Thread(target=_stream, args=(rig, result), daemon=True)
        t.start()
        streams.append((t, result))
        return result

    watcher = threading.Thread(target=watch_drains, daemon=True)
    try:
        # round robin: a second stream lands on the other server; keep opening until proxy-a,
        # the first host to roll, holds one
        on_a: Optional[dict[str, Any]] = None
        for _ in range(3):
            sessions_before = rig.server_sessions().get("proxy-a", 0)
            result = open_stream()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and sum(rig.server_sessions().values()) < len(streams):
                time.sleep(0.1)
            if rig.server_sessions().get("proxy-a", 0) > sessions_before:
                on_a = result
                break
        assert on_a is not None, f"no stream landed on proxy-a: {rig.server_sessions()}"
        done_at: dict[str, float] = {}
        rig.executor.on_step = lambda e: done_at.setdefault(e.step.name, time.monotonic())
        watcher.start()
        before = len(rig.executor.log)
        p, stats = _roll(rig, env_secrets={"ROLLOUT_MARK": "stream"})
        for t, _ in streams:
            t.join(timeout=120)
    finally:
        watching.set()
        rig.executor.on_step = None
        rig.fake.recover()
    for _, result in streams:
        assert not result.get("error") and result.get("status") == 200 and result.get("done"), result
        assert result["content"].endswith("echo: a long answer"), result
    assert on_a["seconds"] >= 3 * STREAM_GAP, on_a
    out = {e.step.name: e.stdout for e in rig.executor.log[before:]}
    step = "litellm-local-proxy-a-service"
    assert "drained" in out[step] and "still has" not in out[step], out[step]
    # the drain began while the stream was open, and the host finished rolling only after it
    # ended: the drain (and so the stop) waited for it instead of cutting it
    assert drain_seen["proxy-a"] < on_a["ended"] < done_at[step], (drain_seen, on_a, done_at)
    _assert_no_failure(stats)
    rig.assert_all_up()


def _server_addresses(rig: RolloutRig) -> dict[str, str]:
    import socket as socketlib

    with socketlib.socket(socketlib.AF_UNIX, socketlib.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(str(rig.admin_socket))
        sock.sendall(b"show servers state\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    lines = [line.split() for line in data.decode().splitlines()[1:] if line and not line.startswith("#")]
    # be_id be_name srv_id srv_name srv_addr ...
    return {f[3]: f[4] for f in lines if len(f) > 4}


def test_host_address_change_moves_the_proxy_and_stops_the_old_one(rig):
    """A host's address changes (locally: another loopback address, so another directory and
    listener, as a re-addressed or re-keyed machine gets a new connection): the front door is
    reloaded with the new address first (the proxy there is DOWN until it starts), the host's
    rollout starts the proxy at the new address and waits until HAProxy sees it UP, and only then
    stops (gracefully) the proxy it left at the old address."""
    old_dir = rig.workdir / "deploy" / "hosts" / "127.0.0.3"
    old_pid = int((old_dir / "litellm.pid").read_text().split()[0])
    hosts = [CURRENT["hosts"][0], {**CURRENT["hosts"][1], "address": "127.0.0.5"}]
    moved = hosts[1]["name"]
    before = len(rig.executor.log)
    p, stats = _roll(rig, hosts)
    assert _ops(p, "frontdoor-service") == {"litellm-local-frontdoor-service": "update"}, rig.describe(p)
    assert _host_services(p)[f"litellm-local-{moved}-service"] == "update", rig.describe(p)
    assert not [s.name for chain in p.deletes for s in chain if moved in s.name], rig.describe(p)
    assert "replace" not in {op for n, op in p.ops().items() if moved in n}, rig.describe(p)
    out = {e.step.name: e.stdout for e in rig.executor.log[before:]}
    assert "stopping its proxy at the previous address (127.0.0.3)" in out[f"litellm-local-{moved}-service"], out[f"litellm-local-{moved}-service"]
    _assert_no_failure(stats)
    rig.assert_all_up()
    assert _server_addresses(rig)[moved] == "127.0.0.5"
    assert not Path(f"/proc/{old_pid}").exists(), f"the proxy at the old address (pid {old_pid}) still runs"
    assert not (old_dir / ".litellm-gateway-owner").exists()
    CURRENT["hosts"] = hosts


def _pid(rig: RolloutRig, address: str) -> int:
    return int((rig.workdir / "deploy" / "hosts" / address / "litellm.pid").read_text().split()[0])


def test_two_to_one_host_keeps_the_front_door(rig):
    """A local deploy with `frontDoor.with_one_host` goes from two hosts to one in place: the front
    door stays (reloaded without host b), host b is drained before it stops, host a keeps running
    behind the front door (same address and directory: not restarted)."""
    hosts = CURRENT["hosts"][:1]
    leaving = CURRENT["hosts"][1]["name"]
    a_pid = _pid(rig, "127.0.0.2")
    before = len(rig.executor.log)
    p, stats = _roll(rig, hosts, with_one_host=True)
    deleted = [s.name for chain in p.deletes for s in chain]
    assert f"litellm-local-{leaving}-service" in deleted, rig.describe(p)
    assert not [n for n in deleted if "proxy-a" in n or "frontdoor" in n], rig.describe(p)
    assert p.by_name("litellm-local-frontdoor-service").op == "update", rig.describe(p)
    assert "replace" not in p.ops().values(), rig.describe(p)
    assert f"litellm-local-{leaving}-service" in _ran(rig, before)
    _assert_no_failure(stats)
    assert set(rig.assert_all_up()) == {"proxy-a"}
    assert _pid(rig, "127.0.0.2") == a_pid


def test_a_lone_host_behind_the_front_door_restarts_without_a_drain(rig):
    """One host behind the kept front door, and a change that restarts it: there is no other server
    to take its requests, so its rollout does not drain it (the rule "never drain the last server
    UP" would otherwise refuse every restart): it restarts, becomes ready and is UP again. Requests
    during the restart may fail, as with one host without a front door; not run under load."""
    before = len(rig.executor.log)
    p, _ = _program(rig, routing_timeout=47)
    rig.apply(p)
    CURRENT["kw"]["routing_timeout"] = 47
    out = {e.step.name: e.stdout for e in rig.executor.log[before:]}
    text = out["litellm-local-proxy-a-service"]
    assert "is the only server of litellm_proxies: it restarts without a drain" in text, text
    assert "LiteLLM ready" in text and "serving" in text, text
    assert set(rig.assert_all_up()) == {"proxy-a"}


def test_one_to_two_hosts_behind_the_kept_front_door(rig):
    """... and back to two: the new host is created behind the front door (reloaded with it first);
    host a is not restarted."""
    hosts = [*CURRENT["hosts"], {"name": "proxy-d", "address": "127.0.0.6"}]
    a_pid = _pid(rig, "127.0.0.2")
    p, stats = _roll(rig, hosts)
    assert set(_ops(p, "proxy-d-service").values()) == {"create"}, rig.describe(p)
    assert p.by_name("litellm-local-frontdoor-service").op == "update", rig.describe(p)
    assert not p.deletes and "replace" not in p.ops().values(), rig.describe(p)
    _assert_no_failure(stats)
    assert set(rig.assert_all_up()) == {"proxy-a", "proxy-d"}
    assert _pid(rig, "127.0.0.2") == a_pid


def test_one_to_two_hosts_with_a_change_that_restarts_host_1(rig):
    """One host behind the kept front door goes to two together with a change that restarts host a
    (an env secret). The front door is reloaded with the new host first; host a's rollout comes
    before the new host's, so no other server serves or was rolled out yet (its host directory has
    no rollout record or pid file): host a restarts without a drain and says so, instead of
    refusing on every run; then the new host rolls out. Both end UP. Requests during host a's
    restart may fail (nothing else serves): not run under load. The new host takes the address the
    host removed just before had (its delete removed its rollout record: it is joining again)."""
    one = CURRENT["hosts"][:1]
    if len(CURRENT["hosts"]) > 1:
        rig.apply(_program(rig, one, with_one_host=True)[0])
        CURRENT["hosts"] = one
    assert set(rig.assert_all_up()) == {"proxy-a"}
    hosts = [*one, {"name": "proxy-e", "address": "127.0.0.6"}]
    a_pid = _pid(rig, "127.0.0.2")
    before = len(rig.executor.log)
    new, kw = _program(rig, hosts, env_secrets={"ROLLOUT_MARK": "joined"})
    p = rig.apply(new)
    CURRENT["kw"], CURRENT["hosts"] = kw, hosts
    assert set(_ops(p, "proxy-e-service").values()) == {"create"}, rig.describe(p)
    assert _host_services(p)["litellm-local-proxy-a-service"] == "update", rig.describe(p)
    ran = _ran(rig, before)
    assert ran.index("litellm-local-frontdoor-service") < ran.index("litellm-local-proxy-a-service") < ran.index("litellm-local-proxy-e-service")
    out = {e.step.name: e.stdout for e in rig.executor.log[before:]}
    text = out["litellm-local-proxy-a-service"]
    assert ("front door: no other server of litellm_proxies serves or was rolled out yet (hosts joining in this run): "
            "proxy-a restarts without a drain") in text, text
    assert "drained" not in text and "LiteLLM ready" in text and "serving" in text, text
    assert _pid(rig, "127.0.0.2") != a_pid
    assert set(rig.assert_all_up()) == {"proxy-a", "proxy-e"}
