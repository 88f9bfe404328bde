"""The ssh rollout's `front_door drain` decision (rendering.drain_agent.agent_front_door_lines),
executed by bash against peers served on loopback by this test: a proxy answering
/health/readiness, a drain agent answering `ready`, or nothing.

- a peer serves: this host drains through its agent;
- no peer serves but a peer's agent answers (that host is in the rotation, its proxy is down):
  the rollout stops, never taking out the last server that serves;
- no peer serves and no peer agent answers (the other hosts join in this same run, 1 -> 2, or are
  down): the host restarts without a drain, as a lone host does. Found on the systemd bed: 1 -> 2
  hosts together with a change that restarts host 1 (`tls.issuer: internal-ca` re-issues host 1's
  certificate without the service name; or any config change in the same run) refused at host 1's
  drain on every run, since host 2's rollout comes after host 1's."""

from __future__ import annotations

import socket
import subprocess
import threading
from contextlib import contextmanager

import pytest

from rendering.drain_agent import AgentControl, agent_front_door_lines
from tests.support.fake_upstreams import free_port

pytestmark = pytest.mark.slow

PEER = "127.0.3.7"
ME = "127.0.3.6"


@contextmanager
def _serve(address: str, port: int, answer: bytes):
    """A TCP server on address:port that reads a request (if any) and answers `answer`."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((address, port))
    srv.listen(8)
    srv.settimeout(0.2)
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(1)
                if answer.startswith(b"HTTP/"):
                    try:
                        conn.recv(4096)
                    except OSError:
                        pass
                conn.sendall(answer)

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    try:
        yield
    finally:
        stop.set()
        t.join(timeout=5)
        srv.close()


def _drain(proxy_port: int, agent_port: int) -> subprocess.CompletedProcess:
    c = AgentControl(address=ME, agent_port=agent_port, proxy_port=proxy_port, tls=False, interval_ms=100, rise=1,
                     peers=(PEER,), drain_timeout=5, enable_timeout=5, agent_script_file="/nonexistent/agent.py")
    script = "\n".join([
        "set -euo pipefail",
        "SERVER=lite-a",
        'say() { echo "rollout $SERVER: $*"; }',
        'agent_state() { echo "agent_state $1"; }',  # the real one writes /run/litellm-gateway/drain-state
        *agent_front_door_lines(c, "true"),  # this host serves
        'front_door drain 5',
        'echo "rollout continues"',
    ])
    return subprocess.run(["/bin/bash", "-c", script], capture_output=True, text=True, timeout=60)


def test_a_serving_peer_lets_this_host_drain():
    proxy_port, agent_port = free_port(), free_port()
    with _serve(PEER, proxy_port, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"):
        done = _drain(proxy_port, agent_port)
    assert done.returncode == 0, done.stderr
    assert f"{PEER} serves: draining this host through its agent" in done.stdout
    assert "agent_state drain" in done.stdout and "rollout lite-a: drained" in done.stdout


def test_a_peer_in_the_rotation_with_its_proxy_down_stops_the_rollout():
    proxy_port, agent_port = free_port(), free_port()
    with _serve(PEER, agent_port, b"ready\n"):
        done = _drain(proxy_port, agent_port)
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert (f"refusing to drain: this host serves and no other host answers /health/readiness ({PEER} is in the "
            "rotation: its agent answers, its proxy does not)") in done.stderr
    assert "agent_state" not in done.stdout and "rollout continues" not in done.stdout


def test_no_peer_yet_restarts_this_host_without_a_drain():
    proxy_port, agent_port = free_port(), free_port()
    done = _drain(proxy_port, agent_port)  # nothing listens at the peer
    assert done.returncode == 0, done.stderr
    assert "no other host serves or runs its drain agent yet (hosts joining in this run, or down): restarting without a drain" in done.stdout
    assert "agent_state drain" not in done.stdout and "rollout continues" in done.stdout
