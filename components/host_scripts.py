"""The shell scripts a LiteLLM host runs, as text. Pure: no Pulumi imports.

`components.host.LiteLLMHost` runs each script as one pulumi-command resource, in this order:

  layout   system user + group with a writable home, install/config/TLS directories
  install  venv, `pip install -r requirements.txt` (exact pins), `prisma generate`
  files    config.yaml, litellm.env (0600, content from stdin only), systemd unit, TLS files
  migrate  `litellm --config ... --skip_server_startup` with the env file's DATABASE_URL
  service  (re)start                     (only when config/env/unit/version/TLS changed)
  ready    wait for /health/readiness on the configured port (after every (re)start)

Two deploy modes (`settings.litellm.deploy`):
  ssh    the script runs as root on the host (`remote_command` wraps it in `sudo -n bash -c` unless
         the SSH user is root), the proxy is the systemd unit from config.host_files;
  local  the script runs as the invoking user on this machine (`/bin/bash -c`, no sudo), in the
         project directory, so the relative paths of Pulumi.local.yaml work; the proxy is a
         background process with a pid file and a log file under install_dir.

Rules every script follows:
- no secret is ever part of a script: secrets reach the host only on the command's stdin
  (`write_file_script`) and are read by the proxy from the env file (systemd EnvironmentFile= or
  `ENV_LAUNCHER`, never `source`: the file's values are data, not shell);
- every interpolated value is shell-quoted;
- `set -euo pipefail`; log output that could carry a credential (journal, migration output) goes
  through `REDACT_FILTER` first.

Hash-checked installs: `pip --require-hashes` needs a hash for every transitive distribution of
litellm[proxy] (well over a hundred, platform- and Python-version-specific wheels), i.e. a lock file
resolved for the host's exact platform. That cannot be produced or verified from here (no index
access at render time, host platform unknown), so the requirements file pins the two top-level
distributions exactly (`litellm[proxy]==<version>`, whose metadata pins litellm-proxy-extras and
litellm-enterprise exactly, and `prisma==PRISMA_VERSION`) and the transitive set is resolved by pip
within litellm's declared ranges. Operators who need hash checking drop a fully hashed lock into
`requirements_lock_file(settings)` on the host; the install script then uses it with
`--require-hashes` instead.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Optional

from config.host_files import host_paths
from config.settings import CALLBACK_PACKAGES, GatewaySettings, LiteLLMHostSpec

# litellm[proxy] does not depend on prisma (only the `extra_proxy` extra does, with much else), but
# the proxy exits at startup with a DATABASE_URL and no Prisma CLI. Exact pin: the release the
# test venv runs the pinned LiteLLM with.
PRISMA_VERSION = "0.15.0"

# Masks credentials in log lines before they reach Pulumi's output: URL userinfo passwords
# (postgresql://user:PASSWORD@host) and sk- keys.
REDACT_FILTER = (
    "sed -E -e 's#(://[^:/@[:space:]]*:)[^@[:space:]]*@#\\1***@#g' "
    "-e 's#sk-[A-Za-z0-9_-]{4,}#sk-***#g'"
)

# Runs argv[2:] with the env file argv[1] added to the environment. Parses exactly what
# config.host_files.render_env_file writes (NAME="value", backslash escapes for \ and ",
# comments): values are data, never evaluated by a shell.
ENV_LAUNCHER = r'''import os, re, sys
env_file, argv = sys.argv[1], sys.argv[2:]
env = dict(os.environ)
with open(env_file, encoding="utf-8") as fh:
    for raw in fh:
        line = raw.rstrip("\n")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep:
            sys.exit("malformed line in env file (no '=')")
        if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
            value = re.sub(r'\\(.)', r'\1', value[1:-1])
        env[name.strip()] = value
os.execve(argv[0], argv, env)
'''

# Exit 0 iff GET /health/readiness answers 200. argv: address port server-name ca-file ("" = http).
# TLS is verified against our CA with the certificate's name (SNI), while connecting to the address.
READINESS_PROBE = r'''import socket, ssl, sys
addr, port, name, ca = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
try:
    sock = socket.create_connection((addr, port), timeout=5)
    sock.settimeout(10)
    if ca:
        sock = ssl.create_default_context(cafile=ca).wrap_socket(sock, server_hostname=name)
    request = "GET /health/readiness HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n\r\n" % (name, port)
    sock.sendall(request.encode())
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


def _q(value: object) -> str:
    return shlex.quote(str(value))


def _heredoc_assign(var: str, text: str, tag: str) -> str:
    """`VAR=$(cat <<'TAG' ... TAG)`: text kept verbatim (quoted heredoc: no expansion)."""
    if f"\n{tag}\n" in f"\n{text}\n":
        raise ValueError(f"heredoc terminator {tag} occurs in the text")
    return f"{var}=$(cat <<'{tag}'\n{text.rstrip(chr(10))}\n{tag}\n)"


def _header(purpose: str) -> str:
    # Paths and names in `purpose` are validated at the edge (config.checks); a line break here
    # would end the comment line and run the rest as a command.
    if any(c in purpose for c in "\r\n\x00"):
        raise ValueError(f"a line break in a script header: {purpose!r}")
    return f"#!/bin/bash\n# litellm-gateway: {purpose}\nset -euo pipefail\n"


# --------------------------------------------------------------------------------------------
# Facts derived from settings
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HostLayout:
    """Paths and identities beyond config.host_files.HostPaths."""

    is_local: bool
    user: Optional[str]  # the service user (ssh); None for local (the invoking user)
    home_dir: Optional[str]  # the service user's home: Prisma's engine/node cache lives here
    pid_file: str  # local only
    log_file: str  # local only
    lock_file: str  # optional hash-locked requirements (see module doc)


def host_layout(settings: GatewaySettings) -> HostLayout:
    install = PurePosixPath(settings.litellm.install_dir)
    is_local = settings.litellm.deploy == "local"
    return HostLayout(
        is_local=is_local,
        user=None if is_local else settings.litellm.system_user,
        home_dir=None if is_local else str(install / "home"),
        pid_file=str(install / "litellm.pid"),
        log_file=str(install / "litellm.log"),
        lock_file=str(install / "requirements.lock"),
    )


def requirements_lock_file(settings: GatewaySettings) -> str:
    return host_layout(settings).lock_file


def requirements_text(settings: GatewaySettings) -> str:
    extras = [pin for callback in settings.observability.callbacks for pin in CALLBACK_PACKAGES[callback]]
    return (
        "# litellm-gateway: what the LiteLLM host installs. Exact pins; see components/host_scripts.py\n"
        "# for why there are no hashes here (and how to add a hashed lock file).\n"
        f"litellm[proxy]=={settings.litellm.version}\n"
        f"prisma=={PRISMA_VERSION}\n"
        + "".join(f"{pin}\n" for pin in sorted(dict.fromkeys(extras)))
    )


def probe_target(settings: GatewaySettings, host: LiteLLMHostSpec) -> tuple[str, str]:
    """(address to connect to, name to ask for / verify the certificate against)."""
    bind = settings.litellm.bind_host
    address = "127.0.0.1" if bind in ("0.0.0.0", "::", "127.0.0.1", "") else bind
    if settings.litellm.deploy == "local":
        name = host.name
    else:
        name = settings.fqdn(host.name)
    return address, name


# --------------------------------------------------------------------------------------------
# Wrappers
# --------------------------------------------------------------------------------------------


def remote_command(script: str, ssh_user: str) -> str:
    """The command string remote.Command runs through the SSH user's login shell: the script as
    root (passwordless sudo unless we are root). stdin is passed through to the script."""
    inner = f"/bin/bash -c {_q(script)}"
    return inner if ssh_user == "root" else f"sudo -n {inner}"


LOCAL_INTERPRETER = ["/bin/bash", "-c"]


# --------------------------------------------------------------------------------------------
# Steps
# --------------------------------------------------------------------------------------------


def layout_script(settings: GatewaySettings) -> str:
    p, lay = host_paths(settings), host_layout(settings)
    tls = settings.tls.enabled
    if lay.is_local:
        lines = [
            _header("local layout (install, config and TLS directories; no system user)"),
            "umask 077",
            f"mkdir -p {_q(p.install_dir)} {_q(p.config_dir)}",
            f"chmod 0700 {_q(p.config_dir)}",
        ]
        if tls:
            lines.append(f"mkdir -p {_q(settings.tls.cert_dir)}")
            lines.append(f"chmod 0700 {_q(settings.tls.cert_dir)}")
        return "\n".join(lines) + "\n"
    user, home = lay.user, lay.home_dir
    lines = [
        _header("system user, home and directories of the LiteLLM proxy"),
        f"SVC_USER={_q(user)}",
        f"SVC_HOME={_q(home)}",
        'NOLOGIN=$(command -v nologin || echo /usr/sbin/nologin)',
        'if ! getent group "$SVC_USER" >/dev/null; then groupadd --system "$SVC_USER"; fi',
        'if ! id -u "$SVC_USER" >/dev/null 2>&1; then',
        '  useradd --system --gid "$SVC_USER" --home-dir "$SVC_HOME" --no-create-home --shell "$NOLOGIN" "$SVC_USER"',
        'elif [ "$(getent passwd "$SVC_USER" | cut -d: -f6)" != "$SVC_HOME" ]; then',
        '  usermod --home "$SVC_HOME" "$SVC_USER"',
        "fi",
        # The venv is root's (the service cannot rewrite its own code); the home is the service's.
        f"install -d -m 0755 -o root -g root {_q(p.install_dir)}",
        'install -d -m 0750 -o "$SVC_USER" -g "$SVC_USER" "$SVC_HOME"',
        f'install -d -m 0750 -o root -g "$SVC_USER" {_q(p.config_dir)}',
    ]
    if tls:
        lines.append(f'install -d -m 0750 -o "$SVC_USER" -g "$SVC_USER" {_q(settings.tls.cert_dir)}')
    return "\n".join(lines) + "\n"


def install_script(settings: GatewaySettings) -> str:
    """venv + pinned requirements + the Prisma client generated against litellm's schema.

    `prisma generate` writes the client into the venv's site-packages (so it runs as the venv's
    owner) and downloads Node (nodeenv), the Prisma CLI and the engines once into
    $HOME/.cache/prisma-python. On ssh hosts HOME is the service user's home for that step, so the
    proxy and the migration step (running as that user) find the cache and download nothing. A host
    without internet access needs that cache pre-seeded (copy ~/.cache/prisma-python from a machine
    with the same platform and PRISMA_VERSION) before the first deploy.
    """
    p, lay = host_paths(settings), host_layout(settings)
    lines = [
        _header(f"install LiteLLM {settings.litellm.version} into a venv, generate the Prisma client"),
        "umask 022",
        f"VENV={_q(p.venv)}",
        f"REQUIREMENTS={_q(p.requirements_file)}",
        f"LOCK={_q(lay.lock_file)}",
        "if ! python3 -c 'import sys, venv; sys.exit(sys.version_info < (3, 9))' 2>/dev/null; then",
        "  echo 'python3 (>= 3.9) with the venv module is required on this host' >&2",
        "  exit 1",
        "fi",
        'tmp=$(mktemp "$REQUIREMENTS.XXXXXX")',
        "cat > \"$tmp\" <<'REQUIREMENTS_EOF'",
        requirements_text(settings).rstrip("\n"),
        "REQUIREMENTS_EOF",
        'chmod 0644 "$tmp"',
        'mv -f "$tmp" "$REQUIREMENTS"',
        'if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV"; fi',
        'PIP=("$VENV/bin/python" -m pip install --disable-pip-version-check --no-input --quiet)',
        'if [ -f "$LOCK" ]; then',
        '  "${PIP[@]}" --require-hashes -r "$LOCK"',
        "else",
        '  "${PIP[@]}" -r "$REQUIREMENTS"',
        "fi",
        'installed=$("$VENV/bin/python" -c \'import importlib.metadata as m; print(m.version("litellm"))\')',
        f'if [ "$installed" != {_q(settings.litellm.version)} ]; then',
        f'  echo "expected litellm {settings.litellm.version}, the venv has $installed" >&2',
        "  exit 1",
        "fi",
        'SCHEMA=$("$VENV/bin/python" -c \'import litellm, os; print(os.path.join(os.path.dirname(litellm.__file__), "proxy", "schema.prisma"))\')',
    ]
    if lay.is_local:
        lines.append('PATH="$VENV/bin:$PATH" "$VENV/bin/python" -m prisma generate --schema "$SCHEMA"')
    else:
        lines += [
            f"SVC_USER={_q(lay.user)}",
            f"SVC_HOME={_q(lay.home_dir)}",
            'HOME="$SVC_HOME" PATH="$VENV/bin:$PATH" "$VENV/bin/python" -m prisma generate --schema "$SCHEMA"',
            'if [ -d "$SVC_HOME/.cache" ]; then chown -R "$SVC_USER:$SVC_USER" "$SVC_HOME/.cache"; fi',
        ]
    return "\n".join(lines) + "\n"


def write_file_script(path: str, mode: str, owner: Optional[str] = None, group: Optional[str] = None) -> str:
    """Atomically replace `path` with this command's stdin (mode/owner set before the rename, so
    the content is never readable with wider permissions). The directory must exist (layout)."""
    if not (len(mode) == 4 and mode.isdigit()):
        raise ValueError(f"mode must look like 0600, got {mode!r}")
    lines = [
        _header(f"write {path} (mode {mode}) from stdin"),
        "umask 077",
        f"TARGET={_q(path)}",
        'DIR=$(dirname "$TARGET")',
        'if [ ! -d "$DIR" ]; then echo "missing directory $DIR (layout step)" >&2; exit 1; fi',
        'tmp=$(mktemp "$DIR/.$(basename "$TARGET").XXXXXX")',
        "trap 'rm -f \"$tmp\"' EXIT",
        'cat > "$tmp"',
        f'chmod {mode} "$tmp"',
    ]
    if owner is not None:
        lines.append(f'chown {_q(owner)}:{_q(group or owner)} "$tmp"')
    lines += ['mv -f "$tmp" "$TARGET"', "trap - EXIT"]
    return "\n".join(lines) + "\n"


def remove_file_script(path: str) -> str:
    return _header(f"remove {path}") + f"rm -f {_q(path)}\n"


def remove_unit_script(settings: GatewaySettings) -> str:
    p = host_paths(settings)
    return (
        _header(f"remove the {p.unit_name} unit")
        + f"systemctl disable --now {_q(p.unit_name)} >/dev/null 2>&1 || true\n"
        + f"rm -f {_q(p.unit_file)}\n"
        + "systemctl daemon-reload\n"
    )


def write_unit_script(settings: GatewaySettings) -> str:
    p = host_paths(settings)
    return write_file_script(p.unit_file, "0644", "root", "root") + "systemctl daemon-reload\n"


# The migration step's environment override: the env file (and a pod's env) says
# DISABLE_SCHEMA_UPDATE=True so serving workers never migrate; the migration step must.
MIGRATION_ENV_OVERRIDE: tuple[tuple[str, str], ...] = (("DISABLE_SCHEMA_UPDATE", "false"),)


def migration_argv(litellm_bin: str, config_file: str) -> list[str]:
    """LiteLLM's own migrations and nothing else: the ssh/local migrate step and the Kubernetes
    migration Job (components/kubernetes_objects.py) both run exactly this."""
    return [litellm_bin, "--config", config_file, "--skip_server_startup"]


def migrate_script(settings: GatewaySettings) -> str:
    """Database migrations as their own step, before the service (re)starts.

    The pinned LiteLLM's `--skip_server_startup` runs exactly what a serving proxy would at start
    (PrismaManager.setup_database -> litellm_proxy_extras' `prisma migrate deploy` with its
    migrations and lock), then builds the request-log indexes, and exits non-zero when either
    fails: the upstream Helm chart's migration job. DATABASE_URL comes from the env file
    (systemd's EnvironmentFile= parser on ssh hosts, ENV_LAUNCHER locally), never a command line.
    """
    p, lay = host_paths(settings), host_layout(settings)
    # The env file sets DISABLE_SCHEMA_UPDATE=True so serving workers never migrate; this step is
    # the one that must (an EnvironmentFile= value would win over systemd's Environment=, so the
    # override is /usr/bin/env on the command itself).
    cmd = " ".join(
        ["/usr/bin/env", *(f"{k}={v}" for k, v in MIGRATION_ENV_OVERRIDE)]
        + [_q(a) for a in migration_argv(p.venv + "/bin/litellm", p.config_file)]
    )
    if lay.is_local:
        return "\n".join(
            [
                _header("database migrations (litellm --skip_server_startup)"),
                _heredoc_assign("LAUNCHER", ENV_LAUNCHER, "LAUNCHER_EOF"),
                f'{_q(p.venv + "/bin/python")} -c "$LAUNCHER" {_q(p.env_file)} {cmd} </dev/null 2>&1 | {REDACT_FILTER}',
            ]
        ) + "\n"
    return "\n".join(
        [
            _header("database migrations (litellm --skip_server_startup) as the service user"),
            "systemd-run --quiet --wait --pipe --collect \\",
            '  --unit="litellm-migrate-$$" \\',
            f"  -p User={_q(lay.user)} -p Group={_q(lay.user)} \\",
            f"  -p EnvironmentFile={_q(p.env_file)} \\",
            f"  -p WorkingDirectory={_q(p.install_dir)} \\",
            f"  -- {cmd} </dev/null 2>&1 | {REDACT_FILTER}",
        ]
    ) + "\n"


def restart_script(settings: GatewaySettings) -> str:
    """(Re)start the proxy. Only this step restarts; `wait_ready_script` runs after it."""
    if settings.litellm.deploy == "local":
        return local_restart_script(settings)
    unit = host_paths(settings).unit_name
    return "\n".join(
        [
            _header(f"(re)start {unit}"),
            f"UNIT={_q(unit)}",
            "systemctl daemon-reload",
            'systemctl enable "$UNIT" >/dev/null 2>&1',
            'systemctl restart "$UNIT"',
        ]
    ) + "\n"


def _local_stop_lines(settings: GatewaySettings) -> list[str]:
    lay = host_layout(settings)
    return [
        f"PIDFILE={_q(lay.pid_file)}",
        'if [ -f "$PIDFILE" ]; then',
        '  old=$(cat "$PIDFILE" || true)',
        '  if [ -n "$old" ] && kill -0 "$old" 2>/dev/null && ps -o args= -p "$old" | grep -q litellm; then',
        # setsid made it a process-group leader: stop the workers with it.
        '    kill -TERM -- "-$old" 2>/dev/null || kill -TERM "$old" 2>/dev/null || true',
        "    for _ in $(seq 1 30); do kill -0 \"$old\" 2>/dev/null || break; sleep 1; done",
        '    if kill -0 "$old" 2>/dev/null; then kill -KILL -- "-$old" 2>/dev/null || kill -KILL "$old" 2>/dev/null || true; fi',
        "  fi",
        '  rm -f "$PIDFILE"',
        "fi",
    ]


def local_stop_script(settings: GatewaySettings) -> str:
    return "\n".join([_header("stop the local LiteLLM proxy"), *_local_stop_lines(settings)]) + "\n"


def local_restart_script(settings: GatewaySettings) -> str:
    from config.host_files import proxy_args

    p, lay = host_paths(settings), host_layout(settings)
    args = " ".join(_q(a) for a in proxy_args(settings))
    return "\n".join(
        [
            _header("(re)start the local LiteLLM proxy: a background process with a pid file"),
            f"LOG={_q(lay.log_file)}",
            *_local_stop_lines(settings),
            _heredoc_assign("LAUNCHER", ENV_LAUNCHER, "LAUNCHER_EOF"),
            # a fresh log per start, so a failure shows this start's last lines
            'if [ -f "$LOG" ]; then mv -f "$LOG" "$LOG.1"; fi',
            "umask 077",
            # setsid: its own session, so it outlives this command; every fd redirected, so the
            # command provider does not wait for it.
            f'nohup setsid {_q(p.venv + "/bin/python")} -c "$LAUNCHER" {_q(p.env_file)} '
            f'{_q(p.venv + "/bin/litellm")} {args} </dev/null >>"$LOG" 2>&1 &',
            'echo $! > "$PIDFILE"',
        ]
    ) + "\n"


def wait_ready_script(settings: GatewaySettings, host: LiteLLMHostSpec) -> str:
    """Wait (bounded by readiness_timeout_seconds) until a process of ours listens on the
    configured port and GET /health/readiness answers 200 there; otherwise fail, printing the last
    50 lines of the proxy's log (journalctl -u <unit> / the local log file), redacted.

    "Of ours": LiteLLM silently picks a random port when its port is busy, and whatever holds the
    port might even answer the probe. ssh: a listener whose /proc/<pid>/cgroup is the unit's;
    local: a listener descending from the pid in the pid file.
    """
    p, lay = host_paths(settings), host_layout(settings)
    address, name = probe_target(settings, host)
    ca = p.tls_ca_file if settings.tls.enabled else ""
    timeout = int(settings.litellm.readiness_timeout_seconds)
    scheme = "https" if settings.tls.enabled else "http"
    url = f"{scheme}://{name}:{settings.litellm.port}/health/readiness"
    lines = [
        _header(f"wait for {url} (at most {timeout}s)"),
        f"PORT={int(settings.litellm.port)}",
        f"URL={_q(url)}",
        _heredoc_assign("PROBE", READINESS_PROBE, "PROBE_EOF"),
    ]
    if lay.is_local:
        lines += [
            f"PIDFILE={_q(lay.pid_file)}",
            f"LOG={_q(lay.log_file)}",
            'PID=$(cat "$PIDFILE" 2>/dev/null || true)',
            "alive() { [ -n \"$PID\" ] && kill -0 \"$PID\" 2>/dev/null; }",
            "show_log() { tail -n 50 \"$LOG\"; }",
            "owns_port() {",
            "  local pid p pids",
            "  if command -v ss >/dev/null; then",
            '    pids=$(ss -H -ltnp "sport = :$PORT" 2>/dev/null | grep -o "pid=[0-9]*" | cut -d= -f2 | sort -u || true)',
            "  elif command -v lsof >/dev/null; then",
            '    pids=$(lsof -nP -t -iTCP:"$PORT" -sTCP:LISTEN 2>/dev/null | sort -u || true)',
            "  else",
            '    echo "warning: neither ss nor lsof found; cannot check who listens on port $PORT" >&2',
            "    return 0",
            "  fi",
            "  for pid in $pids; do",
            "    p=$pid",
            '    while [ -n "$p" ] && [ "$p" -gt 1 ]; do',
            '      if [ "$p" = "$PID" ]; then return 0; fi',
            '      p=$(ps -o ppid= -p "$p" 2>/dev/null | tr -d " ")',
            "    done",
            "  done",
            "  return 1",
            "}",
        ]
    else:
        lines += [
            f"UNIT={_q(p.unit_name)}",
            "command -v ss >/dev/null || { echo 'ss (iproute2) is required on this host' >&2; exit 1; }",
            "alive() { ! systemctl is-failed --quiet \"$UNIT\"; }",
            "show_log() { journalctl -u \"$UNIT\" -n 50 --no-pager; }",
            "owns_port() {",
            "  local pid",
            '  for pid in $(ss -H -ltnp "sport = :$PORT" 2>/dev/null | grep -o "pid=[0-9]*" | cut -d= -f2 | sort -u); do',
            '    if grep -qE "/${UNIT}\\$" "/proc/$pid/cgroup" 2>/dev/null; then return 0; fi',
            "  done",
            "  return 1",
            "}",
        ]
    lines += [
        "fail() {",
        '  echo "LiteLLM did not become ready: $1" >&2',
        '  echo "--- last 50 lines of the proxy log ---" >&2',
        f"  {{ show_log 2>&1 | {REDACT_FILTER} >&2; }} || true",
        "  exit 1",
        "}",
        f"deadline=$((SECONDS + {timeout}))",
        "while :; do",
        '  alive || fail "the proxy process is not running"',
        f'  if owns_port && {_q(p.venv + "/bin/python")} -c "$PROBE" {_q(address)} "$PORT" {_q(name)} {_q(ca)}; then',
        '    echo "LiteLLM ready: $URL"',
        "    exit 0",
        "  fi",
        '  if [ "$SECONDS" -ge "$deadline" ]; then',
        "    if ! owns_port; then",
        '      fail "nothing of ours listens on port $PORT (LiteLLM silently moves to a random port when its port is busy)"',
        "    fi",
        f'    fail "no 200 from $URL within {timeout}s"',
        "  fi",
        "  sleep 2",
        "done",
    ]
    return "\n".join(lines) + "\n"


def stop_script(settings: GatewaySettings) -> str:
    """What deleting the service step does: stop (and on ssh hosts disable) the proxy."""
    if settings.litellm.deploy == "local":
        return local_stop_script(settings)
    unit = host_paths(settings).unit_name
    return _header(f"stop and disable {unit}") + f"systemctl disable --now {_q(unit)} >/dev/null 2>&1 || true\n"


def all_scripts(settings: GatewaySettings, host: LiteLLMHostSpec) -> dict[str, str]:
    """Every script this settings/host combination can run, by step name (for review and lint)."""
    p = host_paths(settings)
    ssh = settings.litellm.deploy == "ssh"
    scripts = {
        "layout": layout_script(settings),
        "install": install_script(settings),
        "write-file": write_file_script(p.config_file, "0640", "root" if ssh else None, settings.litellm.system_user if ssh else None),
        "remove-file": remove_file_script(p.env_file),
        "migrate": migrate_script(settings),
        "restart": restart_script(settings),
        "wait-ready": wait_ready_script(settings, host),
        "stop": stop_script(settings),
    }
    if ssh:
        scripts["unit"] = write_unit_script(settings)
        scripts["remove-unit"] = remove_unit_script(settings)
    return scripts
