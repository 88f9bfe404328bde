"""command:remote:Command steps executed over real OpenSSH on the bed, as pulumi-command 1.2.1 runs
them (tests.support.remote_steps): the login shell, stdin, environment (sshd's AcceptEnv decides),
addPreviousOutputInEnv, the provider's error text, the pinned host key, the executor's plan."""

from __future__ import annotations

import pytest

from offline.engine import RecordedResource
from tests.support.remote_steps import RemoteStepError, run_remote
from tests.support.systemd_bed import DEPLOY_USER
from tests.support.transitions import Executor, Plan, Step, StepFailed


def _conn(h, **kw):
    return {"host": h.address, "port": h.port, "user": DEPLOY_USER, "privateKey": h.bed.private_key,
            "hostKey": h.host_key_line, "dialErrorLimit": 2, **kw}


def test_command_runs_through_the_login_shell_with_stdin(systemd_bed):
    h = systemd_bed.hosts[0]
    r = run_remote({"connection": _conn(h), "stdin": "line one\nline two\n"},
                   'echo "shell=$0 user=$(id -un) host=$(hostname)"; wc -l; echo err >&2')
    assert r.stdout == f"shell=bash user={DEPLOY_USER} host={h.name}\n2"  # trailing newline trimmed
    assert r.stderr == "err"
    # no stdin input: the command sees an immediate EOF (not a hanging terminal)
    assert run_remote({"connection": _conn(h)}, "cat; echo done").stdout == "done"


def test_environment_needs_accept_env_and_fails_the_step_otherwise(systemd_bed):
    h = systemd_bed.hosts[0]
    # Debian's sshd_config: AcceptEnv LANG LC_*
    assert run_remote({"connection": _conn(h), "environment": {"LC_BED": "yes"}}, 'echo "$LC_BED"').stdout == "yes"
    with pytest.raises(RemoteStepError) as refused:
        run_remote({"connection": _conn(h), "environment": {"BED_VAR": "x"}}, "touch /tmp/should-not-run; echo ran")
    assert 'could not set environment variable "BED_VAR": ssh: setenv failed' in str(refused.value)
    assert h.ssh("test -e /tmp/should-not-run && echo present || echo absent").stdout.strip() == "absent"


def test_previous_output_is_offered_but_a_refusal_only_warns(systemd_bed):
    h = systemd_bed.hosts[0]
    r = run_remote({"connection": _conn(h)}, 'echo "[${PULUMI_COMMAND_STDOUT-unset}]"', previous=("before", ""))
    assert r.stdout == "[unset]" and any("PULUMI_COMMAND_STDOUT" in w for w in r.warnings)
    r = run_remote({"connection": _conn(h), "addPreviousOutputInEnv": False}, "echo ok", previous=("before", ""))
    assert r.stdout == "ok" and r.warnings == []


def test_a_failure_is_the_providers_message_with_command_and_output(systemd_bed):
    h = systemd_bed.hosts[0]
    with pytest.raises(RemoteStepError) as failed:
        run_remote({"connection": _conn(h)}, "echo to-stdout; echo to-stderr >&2; exit 3")
    text = str(failed.value)
    assert text.startswith('Process exited with status 3: running "echo to-stdout; echo to-stderr >&2; exit 3":\n')
    assert "to-stdout" in text and "to-stderr" in text and failed.value.exit_status == 3


def test_a_wrong_host_key_fails_the_dial_after_the_retries(systemd_bed):
    a, b = systemd_bed.hosts[0], systemd_bed.hosts[1]
    slept = []
    from tests.support import remote_steps

    session = remote_steps.SshSession(_conn(a, hostKey=b.host_key_line, dialErrorLimit=2), dial_sleep=slept.append)
    try:
        with pytest.raises(RemoteStepError) as refused:
            session.dial()
    finally:
        session.close()
    assert session.dial_attempts == 3 and str(refused.value).startswith("after 2 failed attempts: ")
    assert "Host key verification failed" in str(refused.value) or "HOST IDENTIFICATION HAS CHANGED" in str(refused.value)
    assert slept == pytest.approx([0.15, 0.225])


def _cmd(name, h, **inputs):
    urn = f"urn:pulumi:bed::litellm-gateway::command:remote:Command::{name}"
    return RecordedResource(urn=urn, type="command:remote:Command", name=name, parent="", custom=True,
                            inputs={"connection": _conn(h), "addPreviousOutputInEnv": False, **inputs},
                            secret_inputs=["connection"], protect=False, delete_before_replace=True, retain_on_delete=False,
                            depends_on=[], additional_secret_outputs=[], ignore_changes=[], replace_on_changes=[], provider="")


def test_executor_runs_create_update_delete_on_the_host(systemd_bed):
    h = systemd_bed.hosts[1]
    ex = Executor(env={}, cwd="/")
    f = "/tmp/bed-executor-probe"
    v1 = _cmd("probe", h, create=f"sudo -n tee {f} >/dev/null", delete=f"sudo -n rm -f {f}", stdin="one\n")
    ex.execute(Plan([Step("create", v1.urn, v1, None)], []))
    assert h.ssh(f"cat {f}").stdout == "one\n"
    v2 = _cmd("probe", h, create=f"sudo -n tee {f} >/dev/null", update=f"sudo -n tee -a {f} >/dev/null",
              delete=f"sudo -n rm -f {f}", stdin="two\n")
    ex.execute(Plan([Step("update", v2.urn, v2, v1, ["stdin", "update"])], []))
    assert h.ssh(f"cat {f}").stdout == "one\ntwo\n"
    # delete runs the OLD state's delete command
    ex.execute(Plan([], [[Step("delete", v2.urn, None, v2)]]))
    assert h.ssh(f"test -e {f} && echo present || echo absent").stdout.strip() == "absent"
    bad = _cmd("bad", h, create="echo half-done; exit 7")
    with pytest.raises(StepFailed) as failed:
        ex.execute(Plan([Step("create", bad.urn, bad, None)], []))
    assert "create bad: Process exited with status 7" in str(failed.value) and "half-done" in str(failed.value)
