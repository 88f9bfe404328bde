"""The ssh deploy's rendered wait-ready script, executed by bash against a scripted `systemctl`:
a proxy that exits while starting fails the wait at once (systemd's Restart=on-failure would
restart it and never call the unit `failed`, so the old check waited out the whole readiness
timeout: 40 s of the systemd bed's "cannot boot" rows). Found on the bed: LiteLLM exits with status
3 when its database is unreachable, and the unit sat in `activating/auto-restart` for the timeout."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from rendering import host_scripts as hs
from tests.rendering.test_host_scripts import _settings

pytestmark = pytest.mark.slow

FAKE_SYSTEMCTL = """#!/bin/bash
# Every call is logged to $STATE_DIR/calls. The values come from $STATE_DIR/<P> (the test writes them).
# `systemctl show -p <P> --value <unit>`: the value alone.
# `systemctl show -p <P> -p <Q> ... <unit>`: KEY=VALUE lines in systemctl's own order (as the real
# one: a service's properties before its unit's), not the order of the -p flags.
echo "$*" >> "$STATE_DIR/calls"
if [ "$1" = show ]; then
  shift; props=(); value=0
  while [ $# -gt 1 ]; do
    case "$1" in
      -p) props+=("$2"); shift 2 ;;
      --value) value=1; shift ;;
      *) echo "unexpected: systemctl show ... $1" >&2; exit 2 ;;
    esac
  done
  if [ $value = 1 ] && [ ${#props[@]} = 1 ]; then cat "$STATE_DIR/${props[0]}"; exit 0; fi
  if [ $value = 0 ]; then
    for known in ExecMainStatus NRestarts ActiveState SubState; do
      for p in "${props[@]}"; do
        if [ "$p" = "$known" ]; then printf '%s=%s\n' "$p" "$(cat "$STATE_DIR/$p")"; fi
      done
    done
    exit 0
  fi
fi
echo "unexpected: systemctl $*" >&2; exit 2
"""
FAKE_JOURNALCTL = """#!/bin/bash
printf 'litellm[934]: Application startup failed. Exiting.\\n'
"""


def _run(tmp_path: Path, state: dict[str, str], timeout: int = 6, change_after: tuple[float, dict[str, str]] | None = None):
    bin_dir, state_dir = tmp_path / "bin", tmp_path / "state"
    bin_dir.mkdir(exist_ok=True)
    state_dir.mkdir(exist_ok=True)
    for name, text in (("systemctl", FAKE_SYSTEMCTL), ("journalctl", FAKE_JOURNALCTL)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    for k, v in state.items():
        (state_dir / k).write_text(v + "\n")
    s = _settings("dev", tls={"enabled": False, "allow_plaintext": True})
    script = hs.wait_ready_script(s, s.litellm.hosts[0])
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "STATE_DIR": str(state_dir), "READY_TIMEOUT": str(timeout)}
    started = time.monotonic()
    proc = subprocess.Popen(["/bin/bash", "-c", script], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if change_after:
        time.sleep(change_after[0])
        for k, v in change_after[1].items():
            (state_dir / k).write_text(v + "\n")
    out, err = proc.communicate(timeout=60)
    return proc.returncode, err, time.monotonic() - started


RUNNING = {"ActiveState": "activating", "SubState": "start", "NRestarts": "0", "ExecMainStatus": "0"}


def test_a_proxy_that_exited_and_waits_for_its_auto_restart_fails_at_once(tmp_path):
    rc, err, took = _run(tmp_path, {**RUNNING, "ActiveState": "activating", "SubState": "auto-restart", "ExecMainStatus": "3"}, timeout=30)
    assert rc == 1 and took < 10, (rc, took, err)
    assert "LiteLLM did not become ready: the proxy process is not running (it exited with status 3; unit activating/auto-restart)" in err
    # the journal's lines follow (withheld here: the redaction filter cannot read the env file, which
    # this test does not write; tests/rendering/test_log_redaction.py covers what it prints)
    assert "--- last 50 lines of the proxy log ---" in err


def test_a_restart_counted_since_the_wait_began_fails_it(tmp_path):
    # the proxy exited and systemd already restarted it between two probes: NRestarts went up
    rc, err, took = _run(tmp_path, {**RUNNING, "NRestarts": "2"}, timeout=30, change_after=(1.0, {"NRestarts": "3"}))
    assert rc == 1 and took < 10, (rc, took, err)
    assert "the proxy process is not running (it exited with status 0; unit activating/start)" in err


def test_restarts_before_the_wait_began_do_not_count(tmp_path):
    # a crash long ago (NRestarts 2, running now) is not this start's failure: the wait runs its course
    rc, err, took = _run(tmp_path, {**RUNNING, "ActiveState": "active", "SubState": "running", "NRestarts": "2"}, timeout=3)
    assert rc == 1 and took >= 3, (rc, took, err)
    assert "nothing of ours listens on port" in err


def test_one_systemctl_call_per_poll(tmp_path):
    # a consistent snapshot of the unit and one fork per 2 s poll (it was four: ActiveState,
    # SubState, NRestarts, then ExecMainStatus); the count of restarts at the start is read once
    rc, err, took = _run(tmp_path, {**RUNNING, "ActiveState": "active", "SubState": "running"}, timeout=2)
    assert rc == 1 and "nothing of ours listens on port" in err, (rc, err)
    calls = (tmp_path / "state" / "calls").read_text().splitlines()
    unit = hs.host_paths(_settings("dev", tls={"enabled": False, "allow_plaintext": True})).unit_name
    assert calls[0] == f"show -p NRestarts --value {unit}"
    assert len(calls) >= 2 and set(calls[1:]) == {f"show -p ActiveState -p SubState -p NRestarts -p ExecMainStatus {unit}"}, calls


@pytest.mark.parametrize("active", ["failed", "inactive"])
def test_a_stopped_or_failed_unit_fails_it(tmp_path, active):
    rc, err, took = _run(tmp_path, {**RUNNING, "ActiveState": active, "SubState": "dead" if active == "inactive" else "failed"}, timeout=30)
    assert rc == 1 and took < 10, (rc, took, err)
    assert f"the proxy process is not running (it exited with status 0; unit {active}/" in err
