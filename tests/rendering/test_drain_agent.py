"""The ssh hosts' drain agent behind the front door (rendering.drain_agent) and the proxies' own
addresses, as rendered for dev-ha (fast tier: text only; the bed runs them,
tests/systemd/test_ssh_stack.py)."""

from __future__ import annotations

from offline.engine import run_stack
from rendering.drain_agent import AGENT_PY, PEER_PROBE, STATE_FILE

H1 = "litellm-dev-ha-hx-litellm-server"
H2 = "litellm-dev-ha-hx-litellm-server-2"


def _named(run, name):
    [r] = [r for r in run.resources if r.name == name]
    return r


def test_agent_and_probe_are_python():
    compile(AGENT_PY, "drain-agent.py", "exec")
    compile(PEER_PROBE, "peer-probe", "exec")
    # it answers only the two words the rollout writes, `ready` when in doubt
    assert 'word in ("drain", "ready") else "ready"' in AGENT_PY and 'word = "ready"' in AGENT_PY


def test_each_host_listens_and_drains_on_its_own_address():
    run = run_stack("dev-ha")
    for name, address, peer in ((H1, "192.168.10.20", "192.168.10.21"), (H2, "192.168.10.21", "192.168.10.20")):
        unit = _named(run, f"{name}-file-unit").inputs["stdin"]
        assert f"--host {address} --port 4000" in unit
        rollout = _named(run, f"{name}-service").inputs["create"]
        # the agent's unit: its address, frontDoor.agent_port, the state file; sandboxed
        assert f"ExecStart=/usr/bin/python3 /opt/litellm/drain-agent.py {address} 4001 {STATE_FILE}" in rollout
        assert "DynamicUser=yes" in rollout and "ProtectSystem=strict" in rollout
        # never the last serving server: its peers (not itself) are probed directly
        assert f"PEERS=({peer})" in rollout
        # the order of one rollout: agent installed -> drain -> files in place -> restart/wait -> ready
        order = [rollout.index(s) for s in (
            "\ninstall_agent\n", 'front_door drain "$DRAIN_TIMEOUT"', 'put_in_place "$NEW_FILES"',
            'bash -c "$RESTART" && bash -c "$WAIT"')]
        order.append(rollout.index('front_door ready "$ENABLE_TIMEOUT"', order[-1]))
        assert order == sorted(order), order
        # the drain waits for its own connections on its own address, bounded
        assert f"sport = :4000 and src {address}" in rollout
        # a failed readiness wait restores and says `ready` again (HAProxy's check keeps it out)
        assert rollout.rindex('front_door ready "$ENABLE_TIMEOUT" >&2 || true') > rollout.index("restoring the previous files")
        # the reasons name the agent's settings: a change re-runs the whole rollout
        assert "frontdoor=agent@" + address + ":4001,drain=120s,inter=1000ms,rise=2" in rollout
        # no admin socket from a host: it cannot reach the front door's
        assert "/run/haproxy/admin.sock" not in rollout


def test_waits_follow_the_front_door_settings():
    from rendering.drain_agent import AgentControl

    c = AgentControl(address="10.0.0.1", agent_port=4001, proxy_port=4000, tls=False, interval_ms=500, rise=3, peers=(),
                     drain_timeout=60, enable_timeout=60, agent_script_file="/opt/litellm/drain-agent.py")
    assert c.seen_wait_s == 1.5  # two polls and a margin
    assert c.rise_wait_s == 0.5 + 4 * 0.5 + 1  # a poll, (rise + 1) checks, a margin


def test_local_hosts_keep_the_admin_socket():
    import json

    from offline.stack_inputs import load_stack_inputs

    litellm = json.loads(load_stack_inputs("local").config["litellm-gateway:litellm"])
    hosts = [{"name": "a", "address": "127.0.0.2"}, {"name": "b", "address": "127.0.0.3"}]
    run = run_stack("local", overrides={"litellm": {**litellm, "hosts": hosts, "database_connection_pool_limit": 5}})
    rollout = next(r for r in run.resources if r.name.endswith("-service") and "frontdoor" not in r.name).inputs["create"]
    assert "admin.sock" in rollout and "install_agent" not in rollout


def test_a_leaving_host_drains_when_its_agent_runs_even_after_a_reboot():
    """Removing a host (its service step's delete): `drain` is written when the agent runs, not only
    when its /run directory exists (a boot empties /run while the enabled agent answers again), and
    before the proxy stops."""
    run = run_stack("dev-ha")
    delete = _named(run, f"{H2}-service").inputs["delete"]
    guard = delete.index("systemctl is-active --quiet litellm-drain-agent.service; then")
    assert delete.index("install -d -m 0755 /run/litellm-gateway", guard) < delete.index("leaving the stack: its agent says drain")
    assert delete.index("leaving the stack: its agent says drain") < delete.index("systemctl disable --now litellm.service")


def test_a_host_without_a_front_door_retires_a_leftover_agent():
    """2 -> 1: the remaining ssh host's rollout (and its delete) stop and remove a drain agent left
    from the two-host shape; behind a front door the rollout installs it instead."""
    single = run_stack("dev")
    rollout = _named(single, "litellm-dev-hx-litellm-server-service").inputs["create"]
    retire = rollout.index("no front door: its drain agent stopped and removed")
    assert rollout.index("systemctl disable --now litellm-drain-agent.service") < retire
    assert rollout.index("rm -f /etc/systemd/system/litellm-drain-agent.service /opt/litellm/drain-agent.py") < retire
    assert retire < rollout.index('put_in_place "$NEW_FILES"')  # before anything of the proxy changes
    assert "no front door: its drain agent stopped and removed" in _named(single, "litellm-dev-hx-litellm-server-service").inputs["delete"]
    ha = _named(run_stack("dev-ha"), f"{H1}-service").inputs["create"]
    assert "no front door" not in ha and "\ninstall_agent\n" in ha
