"""The drain agent of an ssh host behind the front door, and the rollout's front-door lines for it. Pure.

Why an agent (issue 15): a host's whole rollout must be ONE step on the host (components/host.py
explains the engine semantics: a failed step keeps its old state, the steps that completed keep
their new one). An ssh host cannot reach the front door's admin socket (another machine), so
draining through it meant separate drain/enable steps on the front door, and after a failed host
step the engine kept drain's NEW state and enable's old one (a revert re-drained the host and never
re-enabled it; a retry restarted it undrained). With HAProxy's `agent-check`, the HOST tells the
front door its administrative state, so the host's own rollout step drains and re-enables it:

- `litellm-drain-agent.service` on each host listens on the host's address, port
  `frontDoor.agent_port`, and answers every connection with one word from the state file
  (/run/litellm-gateway/drain-state): `drain` while the host's rollout restarts it, `ready`
  otherwise (also when the file is missing: /run is empty after a reboot, and a host that does not
  serve is kept out by HAProxy's own health check anyway).
- haproxy.cfg polls it (`agent-check agent-port P agent-inter <check_interval_ms>` on every server).
  HAProxy reads `drain` as "administrative state DRAIN" (no new requests, the open ones finish) and
  `ready` as "cancel DRAIN/MAINT" (HAProxy configuration manual, `agent-check`). An agent that
  cannot be reached changes nothing (the manual: connectivity is the health check's business).
- The rollout step (`front_door drain|ready` in rendering.host_scripts.rollout_script):
  drain = refuse if this host serves and no other host answers /health/readiness (never drain the
  last serving server; probed from this host, directly), write `drain`, wait two agent intervals
  (HAProxy has read it) and then until no connection to the proxy's port is established (bounded
  by the drain timeout); ready = write `ready`, wait until HAProxy can have seen it and its health
  check risen (one agent interval + (rise + 1) check intervals + 1 s).
Consequence for operators: on an ssh deploy the agent owns a server's administrative DRAIN/READY
state; `set server ... state drain` on the admin socket is undone at the next agent poll. Write
the state file on the host instead (`echo drain > /run/litellm-gateway/drain-state`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from rendering.shell import heredoc_assign as _heredoc
from rendering.shell import quote as _q

STATE_DIR = "/run/litellm-gateway"
STATE_FILE = f"{STATE_DIR}/drain-state"
AGENT_UNIT = "litellm-drain-agent.service"
AGENT_UNIT_FILE = f"/etc/systemd/system/{AGENT_UNIT}"

# The agent: one word per connection, read from the state file at each connection. Runs as a
# dynamic user; binds with IP_FREEBIND so a boot that brings the address up later does not fail it.
AGENT_PY = r'''import socket, sys
address, port, state_file = sys.argv[1], int(sys.argv[2]), sys.argv[3]
family = socket.AF_INET6 if ":" in address else socket.AF_INET
srv = socket.socket(family, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.setsockopt(socket.SOL_IP, 15, 1)  # IP_FREEBIND
srv.bind((address, port))
srv.listen(16)
while True:
    conn, _ = srv.accept()
    try:
        conn.settimeout(2)
        try:
            with open(state_file) as f:
                word = f.read().strip()
        except OSError:
            word = "ready"
        conn.sendall(((word if word in ("drain", "ready") else "ready") + "\n").encode())
    except OSError:
        pass
    finally:
        conn.close()
'''

# A peer's readiness, as a liveness signal only (no secret is sent, nothing is trusted from the
# answer): TLS unverified, since a self-signed peer certificate is not in this host's CA file.
PEER_PROBE = r'''import socket, ssl, sys
addr, port, tls = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "tls"
try:
    sock = socket.create_connection((addr, port), timeout=5)
    sock.settimeout(10)
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        sock = ctx.wrap_socket(sock)
    sock.sendall(("GET /health/readiness HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n\r\n" % (addr, port)).encode())
    buf = b""
    while b"\r\n" not in buf and len(buf) < 4096:
        chunk = sock.recv(1024)
        if not chunk:
            break
        buf += chunk
    status = buf.split(b"\r\n", 1)[0].split()
    sys.exit(0 if len(status) >= 2 and status[1] == b"200" else 1)
except (OSError, ValueError):
    sys.exit(1)
'''

# A peer's drain agent answering at all (`ready` or `drain`): that host is in the rotation (its
# rollout installed the agent), whatever its proxy does now.
PEER_AGENT_PROBE = r'''import socket, sys
try:
    with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3) as sock:
        sock.settimeout(3)
        word = sock.recv(64).strip()
    sys.exit(0 if word in (b"ready", b"drain") else 1)
except (OSError, ValueError):
    sys.exit(1)
'''


@dataclass(frozen=True)
class AgentControl:
    """What an ssh host's rollout needs to drain itself through its agent (all rollout inputs)."""

    address: str  # the host's address: the proxy and the agent listen there
    agent_port: int
    proxy_port: int
    tls: bool
    interval_ms: int  # agent-inter = the front door's check interval
    rise: int
    peers: tuple[str, ...]  # the other hosts' addresses (never drain the last serving server)
    drain_timeout: int
    enable_timeout: int
    agent_script_file: str  # where the agent's Python lives (root-owned, under install_dir)

    @property
    def seen_wait_s(self) -> float:
        """HAProxy has polled the agent at least once since the state was written."""
        return 2 * self.interval_ms / 1000 + 0.5

    @property
    def rise_wait_s(self) -> float:
        return (self.interval_ms + (self.rise + 1) * self.interval_ms) / 1000 + 1


def agent_unit(control: AgentControl, stack: str) -> str:
    args = " ".join([control.agent_script_file, control.address, str(control.agent_port), STATE_FILE])
    return f"""# litellm-gateway: drain agent for HAProxy's agent-check (stack '{stack}'). Rendered; do not edit.
[Unit]
Description=LiteLLM drain agent (HAProxy agent-check on {control.address}:{control.agent_port})
After=network.target

[Service]
Type=simple
ExecStart=/usr/bin/python3 {args}
Restart=always
RestartSec=1
DynamicUser=yes
NoNewPrivileges=yes
CapabilityBoundingSet=
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectControlGroups=yes
RestrictAddressFamilies=AF_INET AF_INET6
RestrictNamespaces=yes
SystemCallArchitectures=native
MemoryMax=64M

[Install]
WantedBy=multi-user.target
"""


def _listen_filter(address: str, port: int) -> str:
    src = f"[{address}]" if ":" in address else address
    return f"( sport = :{int(port)} and src {src} )"


def agent_install_lines(control: AgentControl, stack: str) -> list[str]:
    """Shell lines: the agent's script and unit in place (restarted only when they changed), the
    state directory, and `ready` when no state is there yet."""
    return [
        _heredoc("AGENT_PY", AGENT_PY, "AGENT_PY_EOF"),
        _heredoc("AGENT_UNIT", agent_unit(control, stack), "AGENT_UNIT_EOF"),
        f"AGENT_STATE={_q(STATE_FILE)}",
        "install_agent() {",
        "  local changed=0",
        f'  if ! printf "%s\\n" "$AGENT_PY" | cmp -s - {_q(control.agent_script_file)}; then',
        f'    printf "%s\\n" "$AGENT_PY" > {_q(control.agent_script_file + ".tmp")}',
        f"    chmod 0644 {_q(control.agent_script_file + '.tmp')}",
        f"    mv -f {_q(control.agent_script_file + '.tmp')} {_q(control.agent_script_file)}",
        "    changed=1",
        "  fi",
        f'  if ! printf "%s\\n" "$AGENT_UNIT" | cmp -s - {_q(AGENT_UNIT_FILE)}; then',
        f'    printf "%s\\n" "$AGENT_UNIT" > {_q(AGENT_UNIT_FILE + ".tmp")}',
        f"    chmod 0644 {_q(AGENT_UNIT_FILE + '.tmp')}",
        f"    mv -f {_q(AGENT_UNIT_FILE + '.tmp')} {_q(AGENT_UNIT_FILE)}",
        "    systemctl daemon-reload",
        "    changed=1",
        "  fi",
        f"  install -d -m 0755 {_q(STATE_DIR)}",
        '  [ -f "$AGENT_STATE" ] || agent_state ready',
        f"  systemctl enable {_q(AGENT_UNIT)} >/dev/null 2>&1",
        f'  if [ "$changed" = 1 ]; then systemctl restart {_q(AGENT_UNIT)}; else systemctl start {_q(AGENT_UNIT)}; fi',
        "}",
        'agent_state() { printf "%s\\n" "$1" > "$AGENT_STATE.tmp" && chmod 0644 "$AGENT_STATE.tmp" && mv -f "$AGENT_STATE.tmp" "$AGENT_STATE"; }',
    ]


def agent_front_door_lines(control: AgentControl, ready_probe: Optional[str]) -> list[str]:
    """Shell lines defining `front_door drain|ready <timeout>` for the rollout (after
    agent_install_lines). `ready_probe`: a command that succeeds when THIS host serves now."""
    scheme = "tls" if control.tls else "plain"
    peers = " ".join(_q(p) for p in control.peers)
    selector = _listen_filter(control.address, control.proxy_port)
    return [
        _heredoc("PEER_PROBE", PEER_PROBE, "PEER_PROBE_EOF"),
        _heredoc("PEER_AGENT_PROBE", PEER_AGENT_PROBE, "PEER_AGENT_PROBE_EOF"),
        f"PEERS=({peers})",
        # `first_peer <probe variable> <port> [args...]`: the first peer the probe (a Python
        # script held in that variable) accepts, printed; fails when none does.
        "first_peer() {",
        '  local probe=$1 port=$2 peer',
        "  shift 2",
        '  for peer in "${PEERS[@]}"; do',
        '    if python3 -c "${!probe}" "$peer" "$port" "$@"; then echo "$peer"; return 0; fi',
        "  done",
        "  return 1",
        "}",
        # a peer whose proxy answers /health/readiness
        f"peer_serves() {{ first_peer PEER_PROBE {int(control.proxy_port)} {scheme}; }}",
        # a peer whose drain agent answers: that host is in the rotation
        f"peer_in_rotation() {{ first_peer PEER_AGENT_PROBE {int(control.agent_port)}; }}",
        "open_connections() {",
        f"  ss -Htn state established {_q(selector)} 2>/dev/null | wc -l",
        "}",
        "front_door() {",
        '  case "$1" in',
        "  drain)",
        f'    if {ready_probe or "false"}; then',
        "      if ! peer=$(peer_serves); then",
        # A peer whose agent answers is in the rotation with its proxy down: taking this host
        # out too would leave none, so the rollout stops here. No peer agent at all: the other
        # hosts are joining in this same run (1 -> 2 hosts: their rollouts come after this one's,
        # and the service name still points at this host) or entirely down; waiting would never
        # end, so this host restarts as a lone host does (its clients see the restart).
        "        if peer=$(peer_in_rotation); then",
        '          echo "rollout $SERVER: refusing to drain: this host serves and no other host answers /health/readiness ($peer is in the rotation: its agent answers, its proxy does not)" >&2',
        "          exit 1",
        "        fi",
        '        say "no other host serves or runs its drain agent yet (hosts joining in this run, or down): restarting without a drain"',
        "        return 0",
        "      fi",
        '      say "$peer serves: draining this host through its agent"',
        "    fi",
        "    agent_state drain",
        # HAProxy has read `drain` (it polls every agent-inter)
        f"    sleep {control.seen_wait_s:g}",
        '    local deadline=$((SECONDS + $2))',
        '    while [ "$(open_connections)" -gt 0 ]; do',
        '      if [ "$SECONDS" -ge "$deadline" ]; then say "$(open_connections) connection(s) still open after $2 s; restarting anyway"; break; fi',
        "      sleep 0.5",
        "    done",
        '    say "drained"',
        "    ;;",
        "  ready)",
        "    agent_state ready",
        # HAProxy has read `ready` and its health check has risen (the proxy answers already)
        f"    sleep {control.rise_wait_s:g}",
        '    say "re-enabled on the front door"',
        "    ;;",
        "  esac",
        "}",
    ]


def agent_leave_lines(control: AgentControl) -> list[str]:
    """A host leaving the stack, before its proxy stops: `drain` (when the agent runs, or ran
    since the boot), then its open connections finish (bounded by the drain timeout). The front
    door's reload may have dropped the server already (updates run before deletes): then this
    waits for the requests its old process still has on this proxy. After a reboot /run is empty
    but the (enabled) agent answers again: the agent running is what counts, not its directory
    (found on the systemd bed: a host removed after a restart was stopped undrained)."""
    return [
        f"AGENT_STATE={_q(STATE_FILE)}",
        f'if [ -d "$(dirname "$AGENT_STATE")" ] || systemctl is-active --quiet {_q(AGENT_UNIT)}; then',
        f"  install -d -m 0755 {_q(STATE_DIR)}",
        '  echo "leaving the stack: its agent says drain"',
        '  printf "drain\\n" > "$AGENT_STATE.tmp" && chmod 0644 "$AGENT_STATE.tmp" && mv -f "$AGENT_STATE.tmp" "$AGENT_STATE"',
        f"  sleep {control.seen_wait_s:g}",
        "fi",
        f"deadline=$((SECONDS + {int(control.drain_timeout)}))",
        f'while [ "$(ss -Htn state established {_q(_listen_filter(control.address, control.proxy_port))} 2>/dev/null | wc -l)" -gt 0 ]'
        ' && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.5; done',
    ]


def _agent_teardown_lines(agent_script_file: str) -> list[str]:
    """Stop and disable the agent, remove its unit, script and state."""
    return [
        f"systemctl disable --now {_q(AGENT_UNIT)} >/dev/null 2>&1 || true",
        f"rm -f {_q(AGENT_UNIT_FILE)} {_q(agent_script_file)} {_q(STATE_FILE)}",
    ]


def agent_remove_lines(control: AgentControl) -> list[str]:
    """A host leaving the stack: the agent and its state go with the proxy (after the stop)."""
    return _agent_teardown_lines(control.agent_script_file)


def agent_retire_lines(agent_script_file: str) -> list[str]:
    """An ssh host with no front door (any more: 2 -> 1 hosts): the drain agent it ran behind the
    front door is stopped and removed, with its unit and state (nothing when there is none). Its
    rollout runs this before the front door's own delete: HAProxy does not count an agent that
    refuses the connection against the server (its health check decides)."""
    return [
        f"if [ -e {_q(AGENT_UNIT_FILE)} ] || [ -e {_q(agent_script_file)} ]; then",
        *("  " + line for line in _agent_teardown_lines(agent_script_file)),
        "  systemctl daemon-reload",
        '  echo "no front door: its drain agent stopped and removed"',
        "fi",
    ]
