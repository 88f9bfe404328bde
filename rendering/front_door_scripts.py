"""The shell scripts of the front door (HAProxy), as text. Pure: no Pulumi imports.

  install  ssh: Debian's `haproxy` (apt-get); local: checks that `haproxy` is on PATH
  file-*   haproxy.cfg and the TLS files (the reload checks the config with `haproxy -c` first)
  service  start, or reload in place: ssh `systemctl reload haproxy` (master-worker: the old
           worker finishes its requests, listeners are handed over); local `haproxy -D -sf <old>`
           (the new process takes the listening socket, the old one finishes and exits)
"""

from __future__ import annotations

import shlex

from rendering.haproxy_cfg import FrontDoorPlan


def _q(value: object) -> str:
    return shlex.quote(str(value))


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


def reload_script(plan: FrontDoorPlan) -> str:
    """Start HAProxy, or reload it in place (no listener is ever closed)."""
    if not plan.is_local:
        return _header("start or reload HAProxy") + (
            f"haproxy -c -q -f {_q(plan.config_file)}\n"
        "if systemctl is-active --quiet haproxy; then systemctl reload haproxy; else systemctl restart haproxy; fi\n"
        )
    return _header("start or reload the local HAProxy") + (
        f"CFG={_q(plan.config_file)}\n"
        f"PIDFILE={_q(plan.pid_file)}\n"
        'haproxy -c -q -f "$CFG" || { echo "haproxy refused $CFG; the running front door is kept" >&2; exit 1; }\n'
        'old=""\n'
        'if [ -f "$PIDFILE" ]; then\n'
        '  for pid in $(cat "$PIDFILE"); do\n'
        '    if kill -0 "$pid" 2>/dev/null && ps -o comm= -p "$pid" | grep -q haproxy; then old="$old $pid"; fi\n'
        "  done\n"
        "fi\n"
        "# every fd redirected: the command provider does not wait for the daemon\n"
        'if [ -n "$old" ]; then\n'
        '  haproxy -D -f "$CFG" -p "$PIDFILE" -sf $old </dev/null >/dev/null 2>&1\n'
        "else\n"
        '  haproxy -D -f "$CFG" -p "$PIDFILE" </dev/null >/dev/null 2>&1\n'
        "fi\n"
    )


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
