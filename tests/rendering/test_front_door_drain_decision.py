"""The local rollout's `front_door drain` decision (rendering.host_scripts.ADMIN_CLIENT, called as
the rendered rollout script calls it), executed against a fake HAProxy admin socket that answers
`show stat` with the rows a test gives and records every `set server`:

- another server UP and rolled out: this host drains;
- none UP, but another rolled out (its host directory holds the rollout record or a pid file: its
  proxy is down, or an operator set it to MAINT): the rollout stops, naming it, nothing touched;
- none rolled out (hosts joining in this same run: 1 -> 2 hosts together with a change that
  restarts host 1, whose rollout comes before host 2's): the host restarts without a drain, and
  says so. The local twin refused here on every run (the ssh path: tests/rendering/test_drain_decision.py);
- a joining server that HAProxy still shows `UP 1/2` right after the reload that added it (check
  INI: up until its first check fails) does not count as serving: nothing runs there yet.
"""

from __future__ import annotations

import re
import socketserver
import subprocess
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest

from rendering import host_scripts as hs
from rendering.host_files import local_host_dirs, settings_for_host
from tests.rendering.test_host_scripts import _settings

pytestmark = pytest.mark.slow

BACKEND = "litellm_proxies"
ME = ("proxy-a", "127.0.0.2")
PEER = ("proxy-b", "127.0.0.3")


@contextmanager
def _admin_socket(path: Path, rows: list[dict[str, str]]):
    """A stand-in for HAProxy's admin socket: `show stat` lists `rows` (as CSV, HAProxy's header
    line first), `set server` answers nothing (accepted) and is recorded."""
    commands: list[str] = []
    fields = ["pxname", "svname", "scur", "status", "addr", "check_status"]

    class Handler(socketserver.StreamRequestHandler):
        def handle(self):
            line = self.rfile.readline().decode().strip()
            commands.append(line)
            if line == "show stat":
                out = "# " + ",".join(fields) + ",\n"
                for r in [*rows, {"svname": "BACKEND", "status": "UP"}]:
                    out += ",".join(str({"pxname": BACKEND, "scur": "0", **r}.get(f, "")) for f in fields) + ",\n"
                self.wfile.write(out.encode() + b"\n")

    server = socketserver.ThreadingUnixStreamServer(str(path), Handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield commands
    finally:
        server.shutdown()
        server.server_close()


def _front_door_line(tmp_path: Path) -> tuple[str, Path]:
    """The `front_door` function of proxy-a's rendered local rollout, and its hosts directory."""
    install = tmp_path / "deploy"
    s = _settings("local", litellm={
        "deploy": "local", "port": 4000, "bind_host": "127.0.0.1", "workers": 1, "install_dir": str(install),
        "config_dir": str(install / "etc"), "model_source": "config",
        "hosts": [{"name": ME[0], "address": ME[1]}, {"name": PEER[0], "address": PEER[1]}]},
        frontDoor={"address": "127.0.0.1"}, tls={"enabled": False, "allow_plaintext": True})
    host = s.litellm.hosts[0]
    host_dirs = local_host_dirs(s)
    assert host_dirs == str(install / "hosts")
    fd = hs.FrontDoorControl(admin_socket=str(tmp_path / "admin.sock"), backend=BACKEND, server=ME[0],
                             drain_timeout=5, enable_timeout=5)
    script = hs.rollout_script(settings_for_host(s, host), host, [], fd, identities=["litellm-local-proxy-a"], host_dirs=host_dirs)
    [line] = [x for x in script.splitlines() if x.startswith("front_door() {")]
    return line, Path(host_dirs)


def _drain(tmp_path: Path, peer_status: str, peer_marks: tuple[str, ...], peer_check: str = "L4CON"):
    line, host_dirs = _front_door_line(tmp_path)
    for address, marks in ((ME[1], ("rollout", "litellm.pid")), (PEER[1], peer_marks)):
        d = host_dirs / address
        # what a joining host's earlier steps (claim, layout, staging) made already: never a mark
        (d / "staged").mkdir(parents=True)
        (d / ".litellm-gateway-owner").write_text("someone\n")
        for m in marks:
            if m == "rollout":
                (d / m).mkdir()
            else:
                (d / m).write_text("4242\n")
    rows = [
        {"svname": ME[0], "status": "UP", "addr": f"{ME[1]}:4000", "check_status": "L7OK"},
        {"svname": PEER[0], "status": peer_status, "addr": f"{PEER[1]}:4000", "check_status": peer_check},
    ]
    script = "\n".join(["set -euo pipefail", hs._heredoc_assign("ADMIN", hs.ADMIN_CLIENT, "ADMIN_EOF"), line,
                        "front_door drain 5", 'echo "rollout continues"'])
    with _admin_socket(tmp_path / "admin.sock", rows) as commands:
        proc = subprocess.run(["/bin/bash", "-c", script], capture_output=True, text=True, timeout=60)
    return proc, [c for c in commands if c.startswith("set server")]


def test_the_rendered_rollout_names_the_hosts_directory_and_the_marks(tmp_path):
    line, host_dirs = _front_door_line(tmp_path)
    assert re.search(rf'"\$2" {re.escape(str(host_dirs))} rollout litellm\.pid; }}$', line), line


@pytest.mark.parametrize("marks", [("rollout",), ("rollout", "litellm.pid")])
def test_another_server_up_drains_this_one(tmp_path, marks):
    proc, sets = _drain(tmp_path, "UP", marks, "L7OK")
    assert proc.returncode == 0, proc.stderr
    assert sets == [f"set server {BACKEND}/{ME[0]} state drain"]
    assert "front door: proxy-a drained" in proc.stdout and "rollout continues" in proc.stdout


@pytest.mark.parametrize("status,marks", [
    ("DOWN", ("rollout", "litellm.pid")),  # rolled out, its proxy down
    ("DOWN", ("litellm.pid",)),  # started by an earlier release of this project (no rollout record)
    ("MAINT", ("rollout",)),  # set to maintenance by an operator
])
def test_a_rolled_out_server_not_up_refuses_naming_it(tmp_path, status, marks):
    proc, sets = _drain(tmp_path, status, marks)
    assert proc.returncode == 1 and sets == [], (proc.stdout, proc.stderr, sets)
    assert (f"front door: refusing to drain proxy-a: it is the only server UP in {BACKEND} "
            f"(proxy-b is {status} in the rotation: rolled out, not UP)") in proc.stderr
    assert "rollout continues" not in proc.stdout


@pytest.mark.parametrize("status,check", [("DOWN", "L4CON"), ("UP 1/2", "INI")])
def test_no_server_rolled_out_restarts_without_a_drain(tmp_path, status, check):
    # proxy-b joins in this run: the front door was reloaded with it, its rollout comes after proxy-a's
    proc, sets = _drain(tmp_path, status, (), check)
    assert proc.returncode == 0 and sets == [], (proc.stdout, proc.stderr, sets)
    assert (f"front door: no other server of {BACKEND} serves or was rolled out yet (hosts joining in this run): "
            "proxy-a restarts without a drain") in proc.stdout
    assert "rollout continues" in proc.stdout


def test_without_the_hosts_directory_every_other_server_counts(tmp_path):
    # a leaving host's drain (rollout_delete_script) passes no hosts directory: the old rule
    line, _ = _front_door_line(tmp_path)
    line = re.sub(r'"\$2" .*; }$', '"$2"; }', line)
    rows = [{"svname": ME[0], "status": "UP", "addr": f"{ME[1]}:4000"}, {"svname": PEER[0], "status": "DOWN", "addr": f"{PEER[1]}:4000"}]
    script = "\n".join([hs._heredoc_assign("ADMIN", hs.ADMIN_CLIENT, "ADMIN_EOF"), line, "front_door drain 5"])
    with _admin_socket(tmp_path / "admin.sock", rows) as commands:
        proc = subprocess.run(["/bin/bash", "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and not [c for c in commands if c.startswith("set server")], proc.stderr
    assert "refusing to drain proxy-a: it is the only server UP" in proc.stderr
