"""Day-2 changes on real processes, under load: two (then three) local proxies behind the real
HAProxy front door, changed by executing the real rendered scripts in the engine's order
(tests.support.transitions). Every scenario fails on a single failed request.

The scenarios run in file order against one deployed gateway (each starts from the previous one's
state), as a platform team's week would: a config change, a restart reason on each host (a new
env entry), a host rename (declared with renamed_from), an added host.
"""

from __future__ import annotations

import pytest

from tests.support.rollout_rig import RolloutRig

HOSTS = [{"name": "proxy-a", "address": "127.0.0.2"}, {"name": "proxy-b", "address": "127.0.0.3"}]


@pytest.fixture(scope="module")
def rig():
    r = RolloutRig()
    try:
        r.apply(r.program(HOSTS))
        yield r
    finally:
        r.close()


def _ops(p, suffix):
    return {name: op for name, op in p.ops().items() if name.endswith(suffix)}


def _assert_no_failure(stats):
    assert stats.sent >= 80
    assert stats.failed == 0, f"{stats.failed} of {stats.sent} requests failed: {stats.errors[:5]}"


def test_config_change_rolls_in_place_one_host_at_a_time(rig):
    p, stats = rig.apply_under_load(rig.program(HOSTS, routing_timeout=45))
    # the restart is an update of the service step on every host; nothing is deleted or replaced
    assert {n: op for n, op in _ops(p, "-service").items() if "proxy-" in n} == {
        "litellm-local-proxy-a-service": "update", "litellm-local-proxy-b-service": "update"}, rig.describe(p)
    assert not p.deletes and "replace" not in p.ops().values(), rig.describe(p)
    # drained, restarted, ready, re-enabled: host a completely before host b
    order = [(e.step.name, e.command) for e in rig.executor.log[-40:]]
    names = [n for n, _ in order]
    a_enable = max(i for i, n in enumerate(names) if n.endswith("proxy-a-enable"))
    b_drain = max(i for i, n in enumerate(names) if n.endswith("proxy-b-drain"))
    assert a_enable < b_drain
    _assert_no_failure(stats)


def test_restart_reason_on_each_host(rig):
    p, stats = rig.apply_under_load(rig.program(HOSTS, routing_timeout=45, env_secrets={"ROLLOUT_MARK": "one"}))
    assert [_ops(p, f"{h['name']}-service") for h in HOSTS] == [
        {f"litellm-local-{h['name']}-service": "update"} for h in HOSTS
    ], rig.describe(p)
    assert p.by_name("litellm-local-frontdoor-service").op == "same"  # only the hosts' env changed
    assert _ops(p, "-file-env") and set(_ops(p, "-file-env").values()) == {"update"}
    assert not p.deletes
    _assert_no_failure(stats)


def test_declared_host_rename_is_an_update(rig):
    renamed = [HOSTS[0], {"name": "proxy-b2", "address": "127.0.0.3", "renamed_from": ["proxy-b"]}]
    p, stats = rig.apply_under_load(rig.program(renamed, routing_timeout=45, env_secrets={"ROLLOUT_MARK": "one"}))
    assert not p.deletes, rig.describe(p)  # aliases: nothing of the old name is deleted
    assert "create" not in {op for n, op in p.ops().items() if "proxy-b" in n}, rig.describe(p)
    _assert_no_failure(stats)
    global HOSTS_AFTER_RENAME
    HOSTS_AFTER_RENAME = renamed


def test_added_host_joins_without_a_failed_request(rig):
    hosts = [*HOSTS_AFTER_RENAME, {"name": "proxy-c", "address": "127.0.0.4"}]
    p, stats = rig.apply_under_load(rig.program(hosts, routing_timeout=45, env_secrets={"ROLLOUT_MARK": "one"}))
    assert set(_ops(p, "proxy-c-service").values()) == {"create"}
    assert set(_ops(p, "frontdoor-service").values()) == {"update"}  # reloaded with the new server
    assert not p.deletes
    _assert_no_failure(stats)


HOSTS_AFTER_RENAME = HOSTS


def test_failed_readiness_stops_the_rollout_while_the_others_serve(rig):
    """Host a's readiness wait fails (5 s is less than a restart takes): the engine runs nothing
    that depends on it, so b and c are never drained or restarted and keep serving everything."""
    from tests.support.rollout_rig import Load
    from tests.support.transitions import StepFailed, plan

    hosts = [*HOSTS_AFTER_RENAME, {"name": "proxy-c", "address": "127.0.0.4"}]
    good = rig.current
    bad = rig.program(hosts, routing_timeout=50, env_secrets={"ROLLOUT_MARK": "one"}, readiness_timeout=5)
    load = Load(rig.url, concurrency=4).start()
    before = len(rig.executor.log)
    with pytest.raises(StepFailed) as failed:
        rig.executor.execute(plan(good, bad))
    stats = load.stop()
    assert failed.value.step.name.endswith("proxy-a-ready")
    ran = [e.step.name for e in rig.executor.log[before:]]
    assert not [n for n in ran if n.endswith(("proxy-b2-drain", "proxy-b2-service", "proxy-c-drain", "proxy-c-service"))], ran
    assert stats.sent >= 10 and stats.failed == 0, (stats.sent, stats.errors[:5])
    # the next good change rolls through again (host a first)
    p, stats = rig.apply_under_load(rig.program(hosts, routing_timeout=55, env_secrets={"ROLLOUT_MARK": "one"}))
    assert {op for n, op in _ops(p, "-service").items() if "proxy-" in n} == {"update"}
    _assert_no_failure(stats)
