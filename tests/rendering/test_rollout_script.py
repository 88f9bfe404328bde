"""The host's rollout script (rendering.host_scripts.rollout_script), executed for real on this
machine against a stand-in proxy on 127.0.0.1: staged files are put in place in the host's turn,
a release that does not become ready is rolled back to the previous files (and the step fails),
an unchanged rollout does not restart, and only the current and previous files/venvs are kept.

The stand-in is the venv the script starts (`<install_dir>/venvs/<version>-<hash>/bin/litellm`): a
small HTTP server answering /health/readiness, that exits at start when its config says `broken`.
No front door here (tests/transitions run the real HAProxy)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rendering import host_scripts as hs
from rendering.host_files import host_paths
from offline.stack_inputs import load_stack_inputs
from tests.support.fake_upstreams import free_port

pytestmark = pytest.mark.slow

STAND_IN = r'''import http.server, sys
args = sys.argv[1:]
config = open(args[args.index("--config") + 1]).read()
if "broken" in config:
    sys.exit("stand-in: this release does not start")
host, port = args[args.index("--host") + 1], int(args[args.index("--port") + 1])
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = config.encode()
        self.send_response(200 if self.path == "/health/readiness" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer((host, port), H).serve_forever()
'''


@pytest.fixture()
def host(tmp_path):
    port = free_port()
    s = load_stack_inputs("local", overrides={
        "litellm": {"deploy": "local", "port": port, "bind_host": "127.0.0.1", "workers": 1,
                    "install_dir": str(tmp_path / "i"), "config_dir": str(tmp_path / "i" / "etc"),
                    "readiness_timeout_seconds": 10, "model_source": "config",
                    "hosts": [{"name": "proxy-a", "address": "127.0.0.1"}]},
        "postgres": {"enabled": False, "host": "127.0.0.1"}, "keys": [], "teams": [],
        "cache": {"enabled": False}, "tls": {"enabled": False},
    }).settings()
    p = host_paths(s)
    bin_dir = Path(p.venv) / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").write_text(f"#!/bin/bash\nexec {sys.executable} \"$@\"\n")
    (bin_dir / "litellm").write_text(f"#!{sys.executable}\n" + STAND_IN)
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    subprocess.run(["bash", "-c", hs.layout_script(s)], check=True, cwd=tmp_path)
    yield s
    pid_file = Path(hs.host_layout(s).pid_file)
    if pid_file.exists():
        try:
            os.killpg(int(pid_file.read_text().strip()), 9)
        except (ProcessLookupError, ValueError):
            pass


def _stage(s, config: str, env: str) -> list[hs.StagedFile]:
    p = host_paths(s)
    files = []
    for live, text in ((p.config_file, config), (p.env_file, env)):
        staged = hs.staged_path(s, live, hashlib.sha256(text.encode()).hexdigest())
        subprocess.run(["bash", "-c", hs.write_staged_script(s, staged, "0600")], input=text, text=True, check=True)
        files.append(hs.StagedFile(live=live, staged=staged))
    return files


def _roll(s, files) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", hs.rollout_script(s, s.litellm.hosts[0], files, None)],
                          capture_output=True, text=True, timeout=120)


def _pid(s) -> str:
    return Path(hs.host_layout(s).pid_file).read_text().strip()


def _serves(s) -> str:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{s.litellm.port}/health/readiness", timeout=5) as r:
        return r.read().decode()


def test_rollout_restores_the_previous_files_on_a_failed_readiness_wait(host):
    s = host
    p = host_paths(s)
    first = _stage(s, "config: one\n", "E=1\n")
    ok = _roll(s, first)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert Path(p.config_file).read_text() == "config: one\n" and _serves(s) == "config: one\n"
    pid_one = _pid(s)

    # staging a new version touches nothing that runs
    broken = _stage(s, "config: broken\n", "E=1\n")
    assert Path(p.config_file).read_text() == "config: one\n"

    failed = _roll(s, broken)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "restoring the previous files" in failed.stderr
    assert "this release does not start" in failed.stderr  # the log's last lines
    # the host runs what the engine's (old) state says again
    assert Path(p.config_file).read_text() == "config: one\n"
    assert _serves(s) == "config: one\n"
    record = Path(hs.rollout_state_dir(s)) / "files"
    assert record.read_text().split() == [x for f in first for x in (f.staged, f.live)]

    # a revert (the same files again) finds nothing to do: no restart
    again = _roll(s, first)
    assert again.returncode == 0 and "no restart" in again.stdout, again.stdout + again.stderr
    # the restore restarted the proxy once (a new process); an unchanged rollout leaves it alone
    pid_restored = _pid(s)
    assert pid_restored != pid_one
    assert _roll(s, first).returncode == 0 and _pid(s) == pid_restored

    # fix-forward: rolls, and keeps only the current and the previous staged files
    fixed = _stage(s, "config: three\n", "E=3\n")
    done = _roll(s, fixed)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _serves(s) == "config: three\n" and _pid(s) != pid_restored
    kept = sorted(Path(hs.staged_dir(s)).iterdir())
    assert sorted(str(k) for k in kept) == sorted({f.staged for f in fixed + first})


def test_a_missing_staged_file_fails_before_anything_changes(host):
    s = host
    p = host_paths(s)
    first = _stage(s, "config: one\n", "E=1\n")
    assert _roll(s, first).returncode == 0
    pid = _pid(s)
    missing = [hs.StagedFile(live=p.config_file, staged=hs.staged_path(s, p.config_file, "f" * 64)), first[1]]
    res = _roll(s, missing)
    assert res.returncode == 1 and "is not staged" in res.stderr
    assert _pid(s) == pid and _serves(s) == "config: one\n"
