"""A host's rollout is one unit of change (issue 15), checked on the planned engine steps (mock
engine, no process): whatever can restart or re-route a host changes its whole rollout, and after a
failed rollout the next run (retry, revert, fix-forward) plans what it should from the state the
engine keeps (tests.support.transitions.state_after, with the sources it follows)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from rendering import host_scripts as hs
from config.litellm_settings import PINNED_LITELLM_VERSION
from offline.engine import ProgramRun, run_stack
from offline.stack_inputs import load_stack_inputs
from tests.support.transitions import Plan, describe, plan, state_after

LOCAL_HOSTS = [{"name": "proxy-a", "address": "127.0.0.2"}, {"name": "proxy-b", "address": "127.0.0.3"}]
ROLLOUT_STEP = re.compile(r"-(drain|service|ready|enable)$")


def _overrides_with_hosts(hosts, drain_timeout: int = 60, version: str = PINNED_LITELLM_VERSION, routing_timeout: int = 30,
                         **extra: Any) -> dict[str, Any]:
    return {
        "litellm": {"deploy": "local", "version": version, "port": 4999, "bind_host": "127.0.0.1", "workers": 1,
                    "install_dir": "/tmp/never-used/deploy", "config_dir": "/tmp/never-used/deploy/etc",
                    "model_source": "config", "hosts": hosts},
        "postgres": {"enabled": False, "host": "127.0.0.1"},
        "cache": {"enabled": False},
        "tls": {"enabled": False},
        "routing": {"num_retries": 1, "timeout": routing_timeout},
        "frontDoor": {"address": "127.0.0.1"},
        "keys": [], "teams": [],
        "rollout": {"mode": "one-at-a-time", "drain_timeout_seconds": drain_timeout},
        **extra,
    }


def _local(**kw: Any) -> ProgramRun:
    """The local stack with two loopback proxies behind the front door (the rollout rig's shape)."""
    return run_stack("local", overrides=_overrides_with_hosts(LOCAL_HOSTS, **kw))


def _dev_ha(**overrides: Any) -> ProgramRun:
    return run_stack("dev-ha", overrides=overrides or None)


def _rollout_ops(p: Plan) -> dict[str, dict[str, str]]:
    """Per host component: the op of each of its rollout steps."""
    out: dict[str, dict[str, str]] = {}
    for name, op in p.ops().items():
        m = ROLLOUT_STEP.search(name)
        if m and "frontdoor" not in name:
            out.setdefault(name[: m.start()], {})[m.group(1)] = op
    return out


def _assert_whole_rollouts(p: Plan, expected_op: str) -> None:
    """Every host's rollout steps all have `expected_op` (never a part of a rollout)."""
    ops = _rollout_ops(p)
    assert ops, describe(p)
    for host, steps in ops.items():
        assert set(steps.values()) == {expected_op}, (host, steps, describe(p))


@pytest.fixture(scope="module")
def local_base() -> ProgramRun:
    return _local()


@pytest.fixture(scope="module")
def dev_ha_base() -> ProgramRun:
    return _dev_ha()


def test_drain_only_change_updates_the_whole_rollout_of_every_host(local_base, dev_ha_base):
    p = plan(local_base, _local(drain_timeout=61))
    _assert_whole_rollouts(p, "update")
    # and nothing else: no file is restaged, the front door is not reloaded
    assert {n for n, op in p.ops().items() if op != "same"} == {f"litellm-local-{h['name']}-service" for h in LOCAL_HOSTS}, describe(p)

    rollout = json.loads(load_stack_inputs("dev-ha").config["litellm-gateway:rollout"]) if "litellm-gateway:rollout" in load_stack_inputs("dev-ha").config else {}
    q = plan(dev_ha_base, _dev_ha(rollout={**rollout, "drain_timeout_seconds": 121}))
    _assert_whole_rollouts(q, "update")  # ssh: drain, service and enable of every host


def test_restart_script_only_change_updates_the_whole_rollout(local_base, dev_ha_base, monkeypatch):
    """A release of this project that edits only the restart script (simulated)."""
    original = hs.restart_script
    monkeypatch.setattr(hs, "restart_script", lambda s: original(s) + "# a new release of litellm-gateway\n")
    p = plan(local_base, _local())
    _assert_whole_rollouts(p, "update")
    assert {n for n, op in p.ops().items() if op != "same"} == {f"litellm-local-{h['name']}-service" for h in LOCAL_HOSTS}, describe(p)
    _assert_whole_rollouts(plan(dev_ha_base, _dev_ha()), "update")


def test_a_front_door_setting_re_runs_the_rollouts(local_base):
    """The admin socket / server name / drain settings are inputs of the rollout step."""
    p = plan(local_base, _local(rollout={"mode": "one-at-a-time", "drain_timeout_seconds": 45}))
    _assert_whole_rollouts(p, "update")


def _fail_at(p: Plan, failing: str) -> set[str]:
    """The steps the engine completes before `failing` fails: every step that does something
    and does not (transitively) depend on it, except itself (step_executor: nothing that depends
    on a failed step starts; deletes never run after a failure)."""
    by_urn = {s.urn: s for s in p.steps}
    [bad] = [s for s in p.steps if s.name == failing]

    def depends_on_bad(s, seen=()) -> bool:
        if s.urn == bad.urn:
            return True
        deps = [*s.new.depends_on, *([s.new.parent] if s.new.parent else [])]
        return any(d in by_urn and d not in seen and depends_on_bad(by_urn[d], (*seen, d)) for d in deps)

    return {s.urn for s in p.steps if s.op != "same" and not depends_on_bad(s)}


@pytest.mark.parametrize("change", ["version", "config"])
def test_after_a_failed_rollout_the_next_run_does_what_it_should(local_base, change):
    good = local_base
    bad = _local(version="1.108.6") if change == "version" else _local(routing_timeout=31)
    first = plan(good, bad)
    failing = "litellm-local-proxy-a-service"
    assert first.by_name(failing).op == "update"
    completed = _fail_at(first, failing)
    stored = state_after(first, good, bad, completed)
    assert stored is not None
    names = {r.name: r for r in stored.resources}
    # the failed rollout step keeps its old state (what the host runs again after its restore);
    # host b's rollout never started; the file steps that completed hold the new (staged) files
    assert names[failing].inputs == good.by_urn(names[failing].urn).inputs
    assert names["litellm-local-proxy-b-service"].inputs == {r.name: r for r in good.resources}["litellm-local-proxy-b-service"].inputs
    staged = "install" if change == "version" else "file-config"
    assert names[f"litellm-local-proxy-a-{staged}"].inputs == {r.name: r for r in bad.resources}[f"litellm-local-proxy-a-{staged}"].inputs

    # retry (same program): host a's whole rollout runs again, then host b's
    retry = plan(stored, bad)
    _assert_whole_rollouts(retry, "update")
    # revert (the last good program): nothing restarts, nothing is drained; a host already runs it
    revert = plan(stored, good)
    _assert_whole_rollouts(revert, "same")
    assert not revert.deletes
    # fix-forward (a third program): every host rolls to it
    fixed = _local(version="1.108.4") if change == "version" else _local(routing_timeout=32)
    _assert_whole_rollouts(plan(stored, fixed), "update")


def test_a_failed_first_create_is_created_again(local_base):
    """A host whose very first rollout failed has no state for it (a failed create leaves
    nothing): the next run creates it again."""
    first = plan(None, local_base)
    failing = "litellm-local-proxy-a-service"
    stored = state_after(first, None, local_base, _fail_at(first, failing))
    again = plan(stored, local_base)
    assert again.by_name(failing).op == "create"
    assert again.by_name("litellm-local-proxy-b-service").op == "create"
    assert again.by_name("litellm-local-proxy-a-file-config").op == "same"


def test_removing_a_host_drains_it_before_it_stops(local_base):
    """3 -> 2 local hosts: the removed host's rollout step's delete drains it (admin socket), waits
    for its open connections, and only then stops it."""
    three = run_stack("local", overrides=_overrides_with_hosts([*LOCAL_HOSTS, {"name": "proxy-c", "address": "127.0.0.4"}]))
    p = plan(three, local_base)
    deleted = {s.name: s.old for chain in p.deletes for s in chain}
    script = deleted["litellm-local-proxy-c-service"].inputs["delete"]
    drain, wait, stop = (script.index(m) for m in (" drain litellm_proxies proxy-c ", "ss -Htn state established", "kill -TERM"))
    assert drain < wait < stop, script[-800:]


def test_ssh_removal_drains_through_the_agent_before_the_stop(dev_ha_base):
    """ssh: the leaving host's service step's delete says `drain` to its agent, waits for its open
    connections, stops the proxy, then removes the agent (no step on the front door)."""
    first = json.loads(load_stack_inputs("dev-ha").config["litellm-gateway:litellm"])
    one = _dev_ha(litellm={**first, "hosts": first["hosts"][:1]})
    p = plan(dev_ha_base, one)
    order = [s.name for chain in p.deletes for s in chain]
    h2 = "litellm-dev-ha-hx-litellm-server-2"
    assert f"{h2}-service" in order and f"{h2}-enable" not in order, order
    delete = {s.name: s.old for chain in p.deletes for s in chain}[f"{h2}-service"].inputs["delete"]
    drain, wait = delete.index("drain"), delete.index("state established")
    stop, agent = delete.index("systemctl disable --now litellm.service"), delete.index("systemctl disable --now litellm-drain-agent.service")
    assert drain < wait < stop < agent, delete
    assert "src 192.168.10.21" in delete  # its own address's connections


def test_the_service_name_moves_to_the_front_door_only_once_it_serves(dev_ha_base):
    """1 -> 2 hosts: the service name's CNAME to the front door is written after the front door runs
    its config and host 1's rollout re-enabled it there (not before, when it served nothing)."""
    urn = {r.name: r.urn for r in dev_ha_base.resources}
    [record] = [r for r in dev_ha_base.resources if r.name == "litellm-dev-ha-litellm-cname"]
    assert urn["litellm-dev-ha-frontdoor-service"] in record.depends_on
    assert urn["litellm-dev-ha-hx-litellm-server-service"] in record.depends_on


def test_a_config_change_stages_and_rolls_but_does_not_migrate_again():
    """migrate reads the just-staged files through stable links: a new config alone leaves it
    alone (its triggers, the release and the env digest, decide), while the host rolls."""
    routing = json.loads(load_stack_inputs("dev").config["litellm-gateway:routing"])
    p = plan(run_stack("dev"), run_stack("dev", overrides={"routing": {**routing, "timeout": 90}}))
    ops = p.ops()
    assert ops["litellm-dev-hx-litellm-server-migrate"] == "same", describe(p)
    assert ops["litellm-dev-hx-litellm-server-file-config"] == "update"
    assert ops["litellm-dev-hx-litellm-server-service"] == "update"


def test_address_change_is_an_update_whose_rollout_stops_the_proxy_left_at_the_old_address():
    """Local deploy: a host's directory follows its address; after a new address the host's
    rollout (an update, no replace, nothing deleted) stops the proxy its marker names in another
    host directory, after the new one serves. A proxy of another identity is never touched."""
    old = _local()
    moved = [LOCAL_HOSTS[0], {**LOCAL_HOSTS[1], "address": "127.0.0.5"}]
    new = run_stack("local", overrides=_overrides_with_hosts(moved))
    p = plan(old, new)
    assert not p.deletes and "replace" not in p.ops().values(), describe(p)
    assert p.by_name("litellm-local-proxy-b-service").op == "update", describe(p)
    script = new.one("command:local:Command", "litellm-local-proxy-b-service").inputs["update"]
    stop_at = script.index("stopping its proxy at the previous address")
    # after the new one is ready and re-enabled, before the step reports done
    assert script.index('front_door ready "$ENABLE_TIMEOUT"') < stop_at < script.index('say "done"')
    assert "for me in litellm-local-proxy-b; do" in script
    assert "/tmp/never-used/deploy/hosts/*/.litellm-gateway-owner" in script
    assert '[ "$dir" != /tmp/never-used/deploy/hosts/127.0.0.5 ] || continue' in script
    # a single local host has no host directories: nothing of the kind
    single = run_stack("local", overrides=_overrides_with_hosts(LOCAL_HOSTS[:1]))
    assert "previous address" not in single.one("command:local:Command", "litellm-local-proxy-a-service").inputs["update"]


def test_local_two_to_one_to_two_hosts_behind_a_kept_front_door():
    """frontDoor.with_one_host (local): 2 -> 1 removes host b (its delete drains it before the stop)
    and reloads the front door, which stays with host a behind it (same address and directory, not
    restarted); 1 -> 2 adds host b behind it. Nothing replaced in either."""
    two = _local(frontDoor={"address": "127.0.0.1", "with_one_host": True})
    one = run_stack("local", overrides=_overrides_with_hosts(LOCAL_HOSTS[:1], frontDoor={"address": "127.0.0.1", "with_one_host": True}))
    assert any(r.name == "litellm-local-frontdoor-service" for r in one.resources)
    down = plan(two, one)
    assert "replace" not in down.ops().values(), describe(down)
    assert down.by_name("litellm-local-frontdoor-service").op == "update", describe(down)
    assert {s.name for chain in down.deletes for s in chain} >= {"litellm-local-proxy-b-service"}, describe(down)
    assert not [s.name for chain in down.deletes for s in chain if "proxy-a" in s.name or "frontdoor" in s.name], describe(down)
    a_files = {n: op for n, op in down.ops().items() if n.startswith("litellm-local-proxy-a-file-")}
    assert set(a_files.values()) == {"same"}, describe(down)  # host a's directory and files stay
    a_rollout = one.one("command:local:Command", "litellm-local-proxy-a-service").inputs["update"]
    assert "/tmp/never-used/deploy/hosts/127.0.0.2" in a_rollout
    up = plan(one, two)
    assert "replace" not in up.ops().values() and not up.deletes, describe(up)
    assert up.by_name("litellm-local-proxy-b-service").op == "create"
    assert up.by_name("litellm-local-frontdoor-service").op == "update"
    # without the setting one local host has no front door (the service address is its own)
    assert not any("frontdoor" in r.name for r in run_stack("local", overrides=_overrides_with_hosts(LOCAL_HOSTS[:1])).resources)


def test_a_changed_host_key_rolls_that_host_alone_as_one_whole_rollout(dev_ha_base):
    """A re-imaged (or re-keyed) ssh host: its pinned `host_key` changes. Every command on that host
    is an update of its `connection` alone: none replaced, none deleted (a replace's delete would
    remove its files and stop its proxy undrained), its rollout step included, which runs its
    whole rollout (drain through its agent, restart, ready, re-enable: the same script) after host
    1's rollout step; nothing of host 1, the front door or DNS changes. The local transition rig
    cannot run this row: a local deploy has no SSH and no host key."""
    from tests.support.host_keys import placeholder_host_key

    raw = json.loads(load_stack_inputs("dev-ha").config["litellm-gateway:litellm"])
    first, second = raw["hosts"]
    rekeyed = _dev_ha(litellm={**raw, "hosts": [first, {**second, "host_key": placeholder_host_key("hx-litellm-server-2-reimaged")}]})
    p = plan(dev_ha_base, rekeyed)
    h2 = "litellm-dev-ha-hx-litellm-server-2-"
    on_h2 = {r.name for r in rekeyed.resources if r.type == "command:remote:Command" and r.inputs["connection"]["host"] == second["address"]}
    assert {f"{h2}service", f"{h2}install", f"{h2}file-config", f"{h2}layout"} <= on_h2
    changed = {n: op for n, op in p.ops().items() if op != "same"}
    assert changed == {n: "update" for n in on_h2}, describe(p)
    assert not p.deletes, describe(p)
    for name in on_h2:
        assert p.by_name(name).changed == ["connection"], (name, p.by_name(name).changed)
    service = rekeyed.one("command:remote:Command", f"{h2}service")
    assert "agent_state drain" in service.inputs["update"] and "agent_state ready" in service.inputs["update"]
    # in its turn: after host 1's rollout step
    host1 = rekeyed.one("command:remote:Command", "litellm-dev-ha-hx-litellm-server-service")
    assert host1.urn in service.depends_on
    # the new key is what the connection verifies
    assert service.inputs["connection"]["hostKey"] == placeholder_host_key("hx-litellm-server-2-reimaged")


def test_a_changed_front_door_host_key_reloads_the_front_door_alone(dev_ha_base):
    """The front door's machine re-keyed: its commands update (the reload in place, never a stop),
    no host rolls."""
    from tests.support.host_keys import placeholder_host_key

    fd = json.loads(load_stack_inputs("dev-ha").config["litellm-gateway:frontDoor"])
    p = plan(dev_ha_base, _dev_ha(frontDoor={**fd, "host_key": placeholder_host_key("hx-litellm-lb-reimaged")}))
    changed = {n: op for n, op in p.ops().items() if op != "same"}
    assert changed and set(changed.values()) == {"update"} and not p.deletes, describe(p)
    assert all(n.startswith("litellm-dev-ha-frontdoor-") for n in changed), describe(p)
    assert "litellm-dev-ha-frontdoor-service" in changed


def _dev_grown(hosts: int) -> ProgramRun:
    """dev (one ssh host, DNS, Redis) with dev-ha's second host and front door when hosts == 2."""
    dev = load_stack_inputs("dev").config
    ha = load_stack_inputs("dev-ha").config
    # room for both hosts' connection pools either way (the role is not what this is about)
    postgres = {**json.loads(dev["litellm-gateway:postgres"]), "connection_limit": 100}
    # without TLS: a certificate the stack issues drops the service name behind a front door
    # (components.gateway), so host 1 gets a new one and restarts (docs/runbook.md, 1 -> 2 hosts);
    # with `tls.issuer: provided` its certificate stays (the bed's 1 -> 2 row)
    tls = {"enabled": False, "allow_plaintext": True}
    if hosts == 1:
        return run_stack("dev", overrides={"postgres": postgres, "tls": tls})
    grown = {**json.loads(dev["litellm-gateway:litellm"]), "hosts": json.loads(ha["litellm-gateway:litellm"])["hosts"]}
    return run_stack("dev", overrides={"litellm": grown, "postgres": postgres, "tls": tls,
                                       "frontDoor": json.loads(ha["litellm-gateway:frontDoor"])})


def test_one_to_two_ssh_hosts_leaves_host_1_running_what_it_runs():
    """1 -> 2 ssh hosts: host 1 already listens on its own address and shares router state through
    the stack's Redis, so none of its files changes (its rollout step runs for the new drain agent,
    and restarts nothing: the host runs these files). A changed file would restart the only host
    while the service name still points at it: every request to it would fail meanwhile."""
    p = plan(_dev_grown(1), _dev_grown(2))
    ops = p.ops()
    h1 = "litellm-dev-hx-litellm-server"
    assert {n: op for n, op in ops.items() if n.startswith(h1 + "-") and not n.startswith(h1 + "-2") and op != "same"} == {f"{h1}-service": "update"}, describe(p)
    assert ops["litellm-dev-litellm-cname-record"] == "update" and not p.deletes, describe(p)


def test_the_service_name_moves_to_the_front_door_after_every_host_rolled():
    """1 -> 2 ssh hosts: the CNAME's update waits for the front door's service step and for the
    rollout of EVERY host (the new one included): the name moves only once every server is UP."""
    grown = _dev_grown(2)
    urn = {r.name: r.urn for r in grown.resources}
    [record] = [r for r in grown.resources if r.name == "litellm-dev-litellm-cname"]
    assert {urn["litellm-dev-frontdoor-service"], urn["litellm-dev-hx-litellm-server-service"],
            urn["litellm-dev-hx-litellm-server-2-service"]} <= set(record.depends_on), record.depends_on


def test_two_to_one_ssh_hosts_moves_the_name_back_before_the_front_door_goes():
    """2 -> 1: the CNAME goes back to host 1 in the plan's updates, before any delete (the engine
    runs deletes of resources gone from the program last: tests.support.transitions); host 2's
    rollout step is deleted (its delete drains it through its agent, then stops it) before the
    front door's service step stops HAProxy; host 1's files are unchanged (no restart)."""
    p = plan(_dev_grown(2), _dev_grown(1))
    ops = p.ops()
    h1, h2 = "litellm-dev-hx-litellm-server", "litellm-dev-hx-litellm-server-2"
    assert ops["litellm-dev-litellm-cname-record"] == "update", describe(p)
    assert {n: op for n, op in ops.items() if n.startswith(h1 + "-") and not n.startswith(h1 + "-2") and op != "same"} == {f"{h1}-service": "update"}, describe(p)
    deleted = [s.name for chain in p.deletes for s in chain]
    assert deleted.index(f"{h2}-service") < deleted.index("litellm-dev-frontdoor-service"), deleted
    # host 1's rollout (it runs: the front door's reason went) retires the drain agent it ran behind
    # the front door; with the front door it had none of that
    retire = "no front door: its drain agent stopped and removed"
    assert retire in p.by_name(f"{h1}-service").new.inputs["update"]
    assert retire not in p.by_name(f"{h1}-service").old.inputs["update"]
    cname = p.by_name("litellm-dev-litellm-cname-record")
    assert "hx-litellm-server.hx.dev.local" in cname.new.inputs["create"], cname.new.inputs["create"][-400:]
