"""What `pulumi preview` (mocked) shows for day-2 changes of a two-host stack (Pulumi.dev-ha.yaml):
restarts are updates, host 2 restarts only after host 1 is ready and re-enabled, renames are
updates; and the ownership scripts really leave a newer owner's files alone."""

from __future__ import annotations

import json
import subprocess

import pytest

from offline.engine import ProgramRun, run_stack
from offline.stack_inputs import load_stack_inputs
from rendering import host_scripts as hs
from tests.support.transitions import describe, plan

H1, H2 = "litellm-dev-ha-hx-litellm-server", "litellm-dev-ha-hx-litellm-server-2"


def _run(preview: bool = False, **overrides) -> ProgramRun:
    return run_stack("dev-ha", overrides=overrides or None, preview=preview)


def _litellm(**changes):
    raw = json.loads(load_stack_inputs("dev-ha").config["litellm-gateway:litellm"])
    raw.update(changes)
    return raw


def _renamed_hosts(second: str, **extra) -> list[dict]:
    """The dev-ha hosts with the second one renamed: same machines, so the same addresses and SSH
    host keys (every ssh target names its key)."""
    first, old_second = _litellm()["hosts"]
    return [first, {**old_second, "name": second, **extra}]


@pytest.fixture(scope="module")
def base() -> ProgramRun:
    return _run()


def _named(run: ProgramRun, name: str):
    [r] = [r for r in run.resources if r.name == name]
    return r


def test_restart_reason_change_is_an_update_of_the_service_step(base):
    routing = json.loads(load_stack_inputs("dev-ha").config["litellm-gateway:routing"])
    changed = _run(preview=True, routing={**routing, "timeout": 90})
    p = plan(base, changed)
    ops = p.ops()
    for host in (H1, H2):
        for step in ("service", "file-config"):
            assert ops[f"{host}-{step}"] == "update", describe(p)
        # ssh: no drain/enable steps on the front door; the host drains itself in its one step
        assert f"{host}-drain" not in ops and f"{host}-enable" not in ops
        assert "config" in " ".join(hs_reasons(_named(changed, f"{host}-service").inputs["create"]))
    assert "replace" not in ops.values() and not p.deletes, describe(p)
    # the service step's changed inputs are its command texts, never triggers
    assert set(p.by_name(f"{H1}-service").changed) == {"create", "update"}


def hs_reasons(command: str) -> list[str]:
    return command.split("# restart reasons: ", 1)[1].split("\\n", 1)[0].split("\n", 1)[0].split()


def test_host_2_restarts_only_after_host_1_is_ready_and_re_enabled(base):
    urn = {r.name: r.urn for r in base.resources}
    deps = {r.name: set(r.depends_on) for r in base.resources}
    # one rollout step per host (drain through its agent, restart, ready, re-enable): host 2's
    # waits for host 1's
    assert urn[f"{H1}-service"] in deps[f"{H2}-service"]
    assert not [n for n in urn if n.endswith("-drain") or n.endswith("-enable")]
    rollout = _named(base, f"{H1}-service").inputs["create"]
    assert "agent_state drain" in rollout and "agent_state ready" in rollout and "install_agent" in rollout
    assert not [n for n in urn if n.endswith("-ready")]  # the readiness wait is part of the service step

    def reaches(src: str, dst_urn: str) -> bool:
        seen, todo = set(), [urn[src]]
        by_urn = {r.urn: r for r in base.resources}
        while todo:
            u = todo.pop()
            if u == dst_urn:
                return True
            if u in seen:
                continue
            seen.add(u)
            todo.extend(by_urn[u].depends_on)
        return False

    assert reaches(f"{H2}-service", urn[f"{H1}-service"])  # host 2's restart waits for host 1's whole rollout
    assert not reaches(f"{H1}-service", urn[f"{H2}-service"])
    # rollouts (and their drains) wait for the front door to run its current config
    assert urn["litellm-dev-ha-frontdoor-service"] in deps[f"{H1}-service"]


def test_parallel_mode_drops_the_order_between_hosts():
    run = _run(rollout={"mode": "parallel"})
    urn = {r.name: r.urn for r in run.resources}
    deps = {r.name: set(r.depends_on) for r in run.resources}
    assert urn[f"{H1}-service"] not in deps[f"{H2}-service"]


def test_one_host_has_no_front_door():
    run = run_stack("dev")
    assert not run.of_type("litellm-gateway:frontdoor:FrontDoor")
    assert not [r for r in run.resources if r.name.endswith("-drain") or r.name.endswith("-enable")]


def test_front_door_component_and_dns(base):
    [fd] = base.of_type("litellm-gateway:frontdoor:FrontDoor")
    assert fd.name == "litellm-dev-ha-frontdoor"
    names = {r.name for r in base.children_of(fd.urn)}
    assert names == {f"{fd.name}-{s}" for s in ("install", "file-cfg", "file-tls-pem", "file-tls-ca", "service")}
    pem = _named(base, f"{fd.name}-file-tls-pem")
    assert "stdin" in pem.secret_inputs
    # the service name is a CNAME to the front door, which has its own A record
    cname = _named(base, "litellm-dev-ha-litellm-cname")
    a = _named(base, "litellm-dev-ha-hx-litellm-lb-a")
    assert cname and a


def test_declared_host_rename_is_an_in_place_update(base):
    hosts = _renamed_hosts("hx-litellm-other", renamed_from=["hx-litellm-server-2"])
    renamed = _run(preview=True, litellm=_litellm(hosts=hosts))
    p = plan(base, renamed)
    assert not p.deletes, describe(p)
    assert "create" not in p.ops().values(), describe(p)
    assert p.by_name("litellm-dev-ha-hx-litellm-other-claim").op == "update"


def test_declared_environment_rename_is_an_in_place_update():
    old = run_stack("dev-ha")
    new = run_stack("dev-ha", overrides={"environment": "dev-hb", "previousEnvironments": ["dev-ha"]})
    p = plan(old, new)
    assert not p.deletes, describe(p)
    assert "create" not in p.ops().values(), describe(p)


def test_undeclared_rename_deletes_only_what_the_marker_says_is_theirs(base):
    hosts = _renamed_hosts("hx-litellm-other")
    renamed = _run(litellm=_litellm(hosts=hosts))
    p = plan(base, renamed)
    deleted = {s.name: s.old for chain in p.deletes for s in chain}
    assert f"{H2}-file-config" in deleted and f"{H2}-service" in deleted
    for name in (f"{H2}-file-config", f"{H2}-file-env", f"{H2}-file-unit", f"{H2}-service", f"{H2}-claim"):
        assert hs.OWNER_MARKER in deleted[name].inputs["delete"], name
    # deletes run after every create/update: the new claim (which refuses: see below) runs first
    assert p.by_name("litellm-dev-ha-hx-litellm-other-claim").op == "create"


# ---- the ownership scripts, run for real in a temp dir ------------------------------------------


def _settings(tmp_path):
    s = load_stack_inputs("local").settings()
    return s.model_copy(update={"litellm": s.litellm.model_copy(update={"install_dir": str(tmp_path / "i")})})


def _bash(script: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True)


@pytest.mark.slow
def test_claim_refuses_an_undeclared_rename_with_how_to(tmp_path):
    s = _settings(tmp_path)
    assert _bash(hs.claim_script(s, "gw-old", [])).returncode == 0
    refused = _bash(hs.claim_script(s, "gw-new", []))
    assert refused.returncode == 1
    assert "renamed_from" in refused.stderr and "gw-old" in refused.stderr
    assert _bash(hs.claim_script(s, "gw-new", ["gw-old"])).returncode == 0  # declared: accepted
    assert (tmp_path / "i" / hs.OWNER_MARKER).read_text() == "gw-new\n"


@pytest.mark.slow
def test_delete_scripts_leave_a_newer_owners_files(tmp_path):
    s = _settings(tmp_path)
    target = tmp_path / "i" / "config.yaml"
    assert _bash(hs.claim_script(s, "gw-new", ["gw-old"])).returncode == 0
    target.write_text("new")
    res = _bash(hs.owned_remove_file_script(s, "gw-old", str(target)))
    assert res.returncode == 0 and target.exists() and "belongs to gw-new" in res.stdout
    assert _bash(hs.release_script(s, "gw-old")).returncode == 0
    assert (tmp_path / "i" / hs.OWNER_MARKER).exists()
    assert _bash(hs.owned_remove_file_script(s, "gw-new", str(target))).returncode == 0
    assert not target.exists()
    assert _bash(hs.release_script(s, "gw-new")).returncode == 0
    assert not (tmp_path / "i" / hs.OWNER_MARKER).exists()


@pytest.mark.slow
def test_every_command_of_the_two_host_stack_passes_bash_n(base):
    import shlex

    checked = 0
    for r in base.resources:
        if not r.type.startswith("command:"):
            continue
        for field in ("create", "update", "delete"):
            text = r.inputs.get(field)
            if text is None:
                continue
            script = shlex.split(text)[-1] if text.startswith("sudo -n ") else text
            res = subprocess.run(["bash", "-n"], input=script, text=True, capture_output=True)
            assert res.returncode == 0, (r.name, field, res.stderr)
            checked += 1
    assert checked >= 60
