"""Day-2 changes on real processes, under load: two (then three, then two again) local proxies
behind the real HAProxy front door, changed by executing the real rendered scripts in the engine's
order (tests.support.transitions), with the engine's per-step state after a failure
(`state_after`). Every scenario fails on a single failed request and on any server that is not UP
in HAProxy at its end.

The scenarios run in file order against one deployed gateway (each starts from the previous one's
state, kept in `CURRENT`), as a platform team's week would: a config change, a drain-settings-only
change, a new release of this project that edits only the restart script, a restart reason on each
host (a new env entry), a host rename, a LiteLLM release that fails its readiness wait on host 1
followed by a retry, a revert and a fix-forward, an added host and a removed one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rendering import host_scripts as hs
from config.litellm_settings import PINNED_LITELLM_VERSION
from tests.support.rollout_rig import Load, RolloutRig
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
        r.apply(r.program(HOSTS))
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
