"""The shell scripts of the front door (HAProxy), as text. Pure: no Pulumi imports.

  install  ssh: Debian's `haproxy` (apt-get); local: checks that `haproxy` is on PATH
  file-*   haproxy.cfg staged as haproxy.cfg.<sha12>, and the TLS files
  service  `haproxy -c` of the staged config, then it replaces haproxy.cfg; the servers' state is
           dumped (`server-state-file`) so the new process keeps drains and health;
           start, or reload in place: ssh `systemctl reload haproxy` (master-worker: the old
           worker finishes its requests, listeners are handed over); local `haproxy -D -x <socket>
           -sf <old>` (the new process takes the listening sockets over, the old one finishes and exits)
"""

from __future__ import annotations

from rendering.haproxy_cfg import FrontDoorPlan
from rendering.shell import quote as _q


def _header(purpose: str) -> str:
    return f"#!/bin/bash\n# litellm-gateway front door: {purpose}\nset -euo pipefail\n"


def install_script(plan: FrontDoorPlan) -> str:
    if plan.is_local:
        return _header("check that haproxy is installed") + (
            "command -v haproxy >/dev/null || { echo 'haproxy is required (apt-get install haproxy)' >&2; exit 1; }\n"
            f"mkdir -p {_q(plan.config_dir)}/tls\nchmod 0700 {_q(plan.config_dir)} {_q(plan.config_dir)}/tls\n"
        )
    return _header("install HAProxy (Debian package)") + (
        "if ! command -v haproxy >/dev/null; then\n"
        "  DEBIAN_FRONTEND=noninteractive apt-get install -y -q haproxy\n"
        "fi\n"
        f"install -d -m 0750 -o root -g haproxy {_q(plan.config_dir)} {_q(plan.config_dir)}/tls\n"
        "systemctl enable haproxy >/dev/null 2>&1\n"
    )


def write_file_script(plan: FrontDoorPlan, path: str, mode: str, check_config: bool = False) -> str:
    """Atomically replace `path` with stdin; haproxy.cfg is checked with `haproxy -c` first (a
    config HAProxy refuses never replaces the running one)."""
    group = "" if plan.is_local else 'chown root:haproxy "$tmp"\n'
    check = 'haproxy -c -q -f "$tmp" || { echo "haproxy refused the new config; the running one is kept" >&2; exit 1; }\n' if check_config else ""
    return _header(f"write {path} (mode {mode}) from stdin") + (
        "umask 077\n"
        f"TARGET={_q(path)}\n"
        'tmp=$(mktemp "$(dirname "$TARGET")/.$(basename "$TARGET").XXXXXX")\n'
        "trap 'rm -f \"$tmp\"' EXIT\n"
        'cat > "$tmp"\n'
        f'chmod {mode} "$tmp"\n'
        f"{group}{check}"
        'mv -f "$tmp" "$TARGET"\n'
        "trap - EXIT\n"
    )


def remove_file_script(path: str) -> str:
    return _header(f"remove {path}") + f"rm -f {_q(path)}\n"


def staged_cfg_path(plan: FrontDoorPlan, cfg_sha256: str) -> str:
    """Where the file-cfg step stages a haproxy.cfg (content-addressed): the live file is replaced
    only by the service step, after `haproxy -c` accepted the staged one."""
    return f"{plan.config_file}.{cfg_sha256[:12]}"


# Dumps `show servers state` (HAProxy management guide, "show servers state") to argv[2] through
# the admin socket argv[1], so the next process starts with each server's admin state (DRAIN,
# MAINT) and health as they were (`server-state-file` + `load-server-state-from-file global` in
# haproxy.cfg): a reload neither clears a drain nor sends traffic to a server not yet checked.
STATE_DUMP = r'''import os, socket, sys
sock_path, target = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
try:
    s.connect(sock_path)
except OSError:
    sys.exit(0)  # nothing runs yet: nothing to keep
s.sendall(b"show servers state\n")
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
tmp = target + ".tmp"
with open(tmp, "wb") as fh:
    fh.write(data)
os.replace(tmp, target)
'''


def reload_script(plan: FrontDoorPlan, staged_cfg: str) -> str:
    """Check the staged config (`haproxy -c`), put it in place, keep the servers' state, then start
    HAProxy or reload it in place (no listener is ever closed). A config HAProxy refuses never
    replaces the running one."""
    state = _q(plan.server_state_file)
    lines = [
        f"STAGED={_q(staged_cfg)}",
        f"CFG={_q(plan.config_file)}",
        f"SOCK={_q(plan.admin_socket)}",
        'haproxy -c -q -f "$STAGED" || { echo "haproxy refused the new config ($STAGED); the running front door and its config are kept" >&2; exit 1; }',
        'tmp=$(mktemp "$(dirname "$CFG")/.$(basename "$CFG").XXXXXX")',
        'cp -p "$STAGED" "$tmp"',
        'mv -f "$tmp" "$CFG"',
        "STATE_DUMP=$(cat <<'STATE_EOF'\n" + STATE_DUMP.rstrip("\n") + "\nSTATE_EOF\n)",
        f'python3 -c "$STATE_DUMP" "$SOCK" {state}',
    ]
    if not plan.is_local:
        lines += [
            f"chown root:haproxy {state} 2>/dev/null || true",
            "if systemctl is-active --quiet haproxy; then systemctl reload haproxy; else systemctl restart haproxy; fi",
        ]
    else:
        lines += [
            f"PIDFILE={_q(plan.pid_file)}",
            'old=""',
            'if [ -f "$PIDFILE" ]; then',
            '  for pid in $(cat "$PIDFILE"); do',
            '    if kill -0 "$pid" 2>/dev/null && ps -o comm= -p "$pid" | grep -q haproxy; then old="$old $pid"; fi',
            "  done",
            "fi",
            "# every fd redirected: the command provider does not wait for the daemon. -x: the new",
            "# process takes the listening sockets over from the old one (no moment without a listener)",
            'if [ -n "$old" ]; then',
            '  haproxy -D -f "$CFG" -p "$PIDFILE" -x "$SOCK" -sf $old </dev/null >/dev/null 2>&1',
            "else",
            '  haproxy -D -f "$CFG" -p "$PIDFILE" </dev/null >/dev/null 2>&1',
            "fi",
        ]
    # the staged configs but the current one are no longer needed
    lines += [
        'for f in "$CFG".*; do',
        '  case "$f" in "$STAGED"|*.tmp) ;; *) [[ "$f" =~ \.[0-9a-f]{12}$ ]] && rm -f -- "$f" ;; esac',
        "done",
    ]
    title = "start or reload HAProxy" if not plan.is_local else "start or reload the local HAProxy"
    return _header(title) + "\n".join(lines) + "\n"


def stop_script(plan: FrontDoorPlan) -> str:
    if not plan.is_local:
        return _header("stop HAProxy") + "systemctl disable --now haproxy >/dev/null 2>&1 || true\n"
    return _header("stop the local HAProxy") + (
        f"PIDFILE={_q(plan.pid_file)}\n"
        'if [ -f "$PIDFILE" ]; then\n'
        '  for pid in $(cat "$PIDFILE"); do\n'
        '    if kill -0 "$pid" 2>/dev/null && ps -o comm= -p "$pid" | grep -q haproxy; then kill -USR1 "$pid" || true; fi\n'
        "  done\n"
        '  rm -f "$PIDFILE"\n'
        "fi\n"
    )
