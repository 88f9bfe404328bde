"""The shell scripts of the front door (HAProxy), as text. Pure: no Pulumi imports.

  install  ssh: Debian's `haproxy` (apt-get); local: checks that `haproxy` is on PATH
  file-*   haproxy.cfg staged as haproxy.cfg.<sha12>, the proxies' CA bundle staged as <ca>.next, and
           the front door's own certificate + key staged as <pem>.next: nothing a running or
           restarting HAProxy reads is written before the service step's checks
  service  a staged CA bundle replaces the live one only when every server answering TLS now
           presents a certificate it verifies (TRUST_CHECK: a CA rotation keeps the old CA until no
           host uses it); the staged CA bundle and certificate go in place, `haproxy -c` checks the
           staged config with them, and a refusal puts the previous ones back (the staged ones wait
           for the next run); then haproxy.cfg is replaced; the servers' state is
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


def remove_file_script(*paths: str) -> str:
    """rm -f of each path (a staged file's step removes the live one and the staged one)."""
    return _header(f"remove {', '.join(paths)}") + f"rm -f {' '.join(_q(p) for p in paths)}\n"


def staged_ca_path(plan: FrontDoorPlan) -> str:
    """Where the file-tls-ca step stages the proxies' CA bundle: the service step puts it in place
    only after TRUST_CHECK passed."""
    assert plan.backend_ca_file is not None
    return plan.backend_ca_file + ".next"


def staged_pem_path(plan: FrontDoorPlan) -> str:
    """Where the file-tls-pem step stages the front door's own certificate + key: the service step
    puts it in place only after TRUST_CHECK and `haproxy -c` (a refused reload leaves the live one,
    which a later restart of HAProxy would load)."""
    assert plan.tls_pem_file is not None
    return plan.tls_pem_file + ".next"


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


# Before a new CA bundle replaces the one HAProxy verifies the proxies with: every server of the
# new config that answers TLS now must present a certificate the new bundle verifies (the chain
# only; HAProxy's verifyhost checks the name), else the reload would take it out at once. A server
# that does not answer (not deployed yet, restarting, another address) is left to HAProxy's checks.
# argv: the bundle, then name,address,port,sni per server. Exit 1 with what to do.
TRUST_CHECK = r'''import socket, ssl, sys
bundle, refused = sys.argv[1], []
for spec in sys.argv[2:]:
    name, address, port, sni = spec.split(",")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(bundle)
    try:
        with socket.create_connection((address, int(port)), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname=sni):
                pass
    except ssl.SSLCertVerificationError as exc:
        refused.append(f"{name} ({address}:{port}): {exc.verify_message}")
    except (OSError, ValueError):
        continue  # not serving TLS now: HAProxy's own health checks decide
if refused:
    print("the new CA bundle does not verify the certificate these hosts serve now: " + "; ".join(refused)
          + ". Reloading would take them out of the front door at once. During a CA rotation the front door "
          "must keep trusting the CA being replaced until every host rolled: set tls.previous_ca_cert to it "
          "(docs/runbook.md, 'CA rotation'); remove it only on a later run. The running front door and its "
          "CA bundle are kept.", file=sys.stderr)
    sys.exit(1)
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
    ]
    refused = 'echo "haproxy refused the new config ($STAGED); the running front door and its config are kept" >&2; exit 1'
    if plan.backend_ca_file:
        # the staged CA bundle may go in place only when it verifies every serving host
        servers = " ".join(_q(f"{sv.name},{sv.address},{sv.port},{sv.tls_name}") for sv in plan.servers)
        lines += [
            f"CA={_q(plan.backend_ca_file)}",
            f"CA_NEXT={_q(staged_ca_path(plan))}",
            'if [ -f "$CA_NEXT" ]; then',
            "  TRUST_CHECK=$(cat <<'TRUST_EOF'\n" + TRUST_CHECK.rstrip("\n") + "\nTRUST_EOF\n)",
            f'  python3 -c "$TRUST_CHECK" "$CA_NEXT" {servers}',
            "fi",
        ]
    staged_files = []  # (live, staged): put in place for `haproxy -c` (it reads them), put back on a refusal
    if plan.backend_ca_file:
        staged_files.append(("$CA", "$CA_NEXT"))
    if plan.tls_pem_file:
        lines += [f"PEM={_q(plan.tls_pem_file)}", f"PEM_NEXT={_q(staged_pem_path(plan))}"]
        staged_files.append(("$PEM", "$PEM_NEXT"))
    if staged_files:
        restore, done = [], []
        for live, staged in staged_files:
            flag = f"moved_{live[1:]}"
            lines += [
                f'{flag}=""',
                f'if [ -f "{staged}" ]; then',
                f'  rm -f "{live}.prev"',
                f'  if [ -f "{live}" ]; then cp -p "{live}" "{live}.prev"; fi',
                f'  mv -f "{staged}" "{live}"',
                f"  {flag}=1",
                "fi",
            ]
            restore += [
                f'  if [ -n "${flag}" ]; then',
                f'    mv -f "{live}" "{staged}"',
                f'    if [ -f "{live}.prev" ]; then mv -f "{live}.prev" "{live}"; fi',
                "  fi",
            ]
            done.append(f'rm -f "{live}.prev"')
        lines += ['if ! haproxy -c -q -f "$STAGED"; then', *restore, f"  {refused}", "fi", *done]
    else:
        lines.append(f'haproxy -c -q -f "$STAGED" || {{ {refused}; }}')
    lines += [
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
