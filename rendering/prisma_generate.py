"""`prisma generate` on an ssh host: unprivileged, into a staging directory, checked by root. Pure.

What `python -m prisma generate` (prisma-client-py 0.15.0, hash-locked) does, read in its source:
- `prisma/cli/_node.py`: finds Node: the `nodejs-bin` package if installed (PRISMA_USE_NODEJS_BIN),
  else a `node`/`npm` on PATH at least 16.13/6.14 (PRISMA_USE_GLOBAL_NODE), else `python -m nodeenv`
  into PRISMA_NODEENV_CACHE_DIR: the newest Node from nodejs.org, with no checksum (nodeenv 1.12
  verifies none).
- `prisma/cli/prisma.py` `ensure_cached`: the Prisma CLI lives in PRISMA_BINARY_CACHE_DIR (default
  `$PRISMA_HOME_DIR/.cache/prisma-python/binaries/<PRISMA_VERSION>/<PRISMA_EXPECTED_ENGINE_VERSION>`,
  `prisma/_config.py`); when `node_modules/prisma/build/index.js` is missing it runs
  `npm install prisma@5.17.0` there: resolved by the registry, install scripts run (prisma's
  preinstall, @prisma/engines' postinstall that downloads the engines).
- the CLI (`node .../index.js generate`) downloads the query and schema engines of commit 393aa359
  for every `binaryTargets` entry of LiteLLM's schema from Prisma's binary host into
  `node_modules/@prisma/engines/`, checked only against the `.sha256` files of the same host (unless
  PRISMA_QUERY_ENGINE_BINARY / PRISMA_SCHEMA_ENGINE_BINARY name engines already there), then spawns
  the `prisma-client-py` generator (the venv's bin/), which writes the client into the prisma
  package itself (`generator/generator.py`: the schema has no `output`, so the package directory in
  site-packages) with the engines' paths written into `client.py` (BINARY_PATHS).

What the install step does instead (rendered by `ssh_generate_lines`):
1. root copies the venv's prisma package and the Prisma cache (HostLayout.prisma_home) into a fresh
   staging directory under the install dir, owned by `nobody`;
2. the generate runs as `nobody:nogroup` (setpriv: no supplementary groups, no capabilities, empty
   bounding set, no_new_privs) in its own mount and PID namespace (`unshare`), where the staging
   copies are bind-mounted over the package and the cache at their real paths, so the paths written
   into the client are the final ones. Everything else is as the host has it: root-owned, not
   writable by nobody (the venv, /etc, /usr...). When it ends, every process it started is killed
   with its PID namespace (an npm script's daemon cannot outlive it). Node must be the host's
   (`apt-get install nodejs npm`: signature-checked by apt); nodeenv is never used. The Prisma CLI
   comes from a committed npm lock (locks/prisma-cli-5.17.0.package-lock.json: prisma 5.17.0 and its
   five @prisma packages with their sha512 integrity) by `npm ci --ignore-scripts`; npm install
   scripts never run at all (npm_config_ignore_scripts too, should anything reach `npm install`).
3. root takes ownership of the staging copies (chown -R root:root, chmod -R go-w), strips
   `__pycache__` (byte-compiled again by root after the checks), and checks them (`CHECKER`): only regular files and directories in the package,
   none executable, setuid or setgid; every file that is not one of the generator's outputs
   byte-identical to the venv's; the client's files present; in the cache nothing setuid/setgid, no
   device, fifo or socket, no hard link, symlinks only to inside the cache, and every file the cache
   already held byte-identical with the same mode (the run may add, not change: the engines and the
   CLI are pinned to what the host first downloaded). Only then it moves both into place; on any
   failure the venv's previous client and cache stay as they were (the staging directory is removed).

Not checked against a committed hash: Prisma's engine binaries (their sha256 for commit 393aa359 is
published only on Prisma's binary host, which this project's machines cannot reach to record it; the
CLI checks them against that host's own `.sha256` files, and the cache check above pins them on the
host from the first download on). A host without internet access gets them pre-seeded: copy
`<prisma_home>/.cache/prisma-python` from a host of the same platform, or provide engines with
PRISMA_QUERY_ENGINE_BINARY / PRISMA_SCHEMA_ENGINE_BINARY (and a pre-installed CLI with
PRISMA_BINARY_CACHE_DIR) in root's environment: they are passed to the unprivileged run unchanged.
"""

from __future__ import annotations

from pathlib import Path

from rendering.shell import heredoc_assign
from rendering.shell import quote as _q

# The defaults of prisma-client-py 0.15.0 (prisma/_config.py: prisma_version,
# expected_engine_version); set explicitly so nothing in root's environment can move them.
PRISMA_CLI_VERSION = "5.17.0"
ENGINE_COMMIT = "393aa359c9ad4a4bb28630fb5613f9c281cde053"
# prisma/cli/_node.py MIN_NODE_VERSION (the CLI's `engines.node` is >=16.13 too)
MIN_NODE = (16, 13)

UNPRIVILEGED_USER = "nobody"
UNPRIVILEGED_GROUP = "nogroup"

LOCKS_DIR = Path(__file__).resolve().parents[1] / "locks"
CLI_PACKAGE_JSON = LOCKS_DIR / f"prisma-cli-{PRISMA_CLI_VERSION}.package.json"
CLI_PACKAGE_LOCK = LOCKS_DIR / f"prisma-cli-{PRISMA_CLI_VERSION}.package-lock.json"

# What the generator writes into the package (generator/templates/*.py.jinja without the `_`
# partials, and the schema copy); any other file must come back byte-identical.
GENERATED_FILES = (
    "actions.py", "bases.py", "client.py", "engine/abstract.py", "engine/http.py", "engine/query.py",
    "enums.py", "http.py", "metadata.py", "models.py", "partials.py", "types.py", "schema.prisma",
)
REQUIRED_FILES = ("client.py", "models.py", "schema.prisma")

STAGE_PREFIX = ".prisma-stage."


def cli_dir(prisma_home: str) -> str:
    """prisma/_config.py's default binary_cache_dir for PRISMA_HOME_DIR=prisma_home."""
    return f"{prisma_home}/.cache/prisma-python/binaries/{PRISMA_CLI_VERSION}/{ENGINE_COMMIT}"


# Run by root with the system python3 in isolated mode on the staging copies (after chown to root).
# argv: kind ("package" | "cache"), the live tree, the staged tree, then (cache) subtrees the staging
# step renewed on purpose (relative paths: their old files need not come back).
CHECKER = r'''
import hashlib, os, stat, sys
kind, live, staged = sys.argv[1], sys.argv[2], sys.argv[3]
renewed = [p.rstrip("/") + "/" for p in sys.argv[4:]]
GENERATED = set(%(generated)r)
REQUIRED = %(required)r
bad = []
def digest(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
def tree(root):
    out = {}
    for d, dirs, files in os.walk(root):
        if kind == "package":  # root removed the staged copy's; the live one's are pip's
            dirs[:] = [x for x in dirs if x != "__pycache__"]
        for name in dirs + files:
            p = os.path.join(d, name)
            out[os.path.relpath(p, root)] = os.lstat(p)
    return out
new, old = tree(staged), (tree(live) if os.path.isdir(live) else {})
real_root = os.path.realpath(staged)
for rel, st in sorted(new.items()):
    m = st.st_mode
    if m & (stat.S_ISUID | stat.S_ISGID):
        bad.append(f"{rel}: setuid/setgid")
    if stat.S_ISLNK(m):
        target = os.path.realpath(os.path.join(staged, rel))
        if kind == "package" or not (target == real_root or target.startswith(real_root + "/")):
            bad.append(f"{rel}: symlink to {os.readlink(os.path.join(staged, rel))}")
    elif stat.S_ISREG(m):
        if st.st_nlink != 1:
            bad.append(f"{rel}: hard link")
        if kind == "package" and m & 0o111:
            bad.append(f"{rel}: executable")
        if kind == "package" and rel not in GENERATED and rel not in old:
            bad.append(f"{rel}: not in the installed package and not the generator's")
    elif not stat.S_ISDIR(m):
        bad.append(f"{rel}: not a file or directory")
for rel, st in sorted(old.items()):
    if not stat.S_ISREG(st.st_mode) or (kind == "package" and rel in GENERATED):
        continue
    if any((rel + "/").startswith(r) or rel.startswith(r) for r in renewed):
        continue
    ns = new.get(rel)
    if ns is None or not stat.S_ISREG(ns.st_mode):
        bad.append(f"{rel}: removed")
    elif (ns.st_mode & 0o777) != (st.st_mode & 0o777) or digest(os.path.join(staged, rel)) != digest(os.path.join(live, rel)):
        bad.append(f"{rel}: changed")
if kind == "package":
    for rel in REQUIRED:
        p = os.path.join(staged, rel)
        if not (os.path.isfile(p) and os.path.getsize(p) > 0):
            bad.append(f"{rel}: missing (the generator did not write it)")
if bad:
    print(f"the staged prisma {kind} is refused ({len(bad)} findings): " + "; ".join(bad[:20]), file=sys.stderr)
    sys.exit(1)
''' % {"generated": GENERATED_FILES, "required": REQUIRED_FILES}


# Runs as nobody inside the namespaces; its environment is set by the caller (see ssh_generate_lines).
UNPRIVILEGED = r'''
set -euo pipefail
cd "$GEN_RUN"
if [ "$(id -u)" = 0 ]; then echo "prisma generate must not run as root" >&2; exit 1; fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "prisma generate needs Node.js >= %(major)d.%(minor)d and npm on this host (Debian: apt-get install nodejs npm); litellm-gateway does not download Node (nodeenv checks no hash)" >&2
  exit 1
fi
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > %(major)d || (a === %(major)d && b >= %(minor)d) ? 0 : 1)'; then
  echo "prisma generate needs Node.js >= %(major)d.%(minor)d; this host has $(node --version)" >&2
  exit 1
fi
CLI_DIR=${PRISMA_BINARY_CACHE_DIR:-$GEN_CLI_DIR}
if [ ! -f "$CLI_DIR/node_modules/prisma/build/index.js" ]; then
  (cd "$CLI_DIR" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
fi
"$VENV/bin/python" -m prisma generate --schema "$SCHEMA"
''' % {"major": MIN_NODE[0], "minor": MIN_NODE[1]}

# Runs as root inside the new mount namespace: the two bind mounts, then drops to nobody for good.
ENTER = r'''
set -euo pipefail
mount --bind "$GEN_STAGE/work/pkg" "$PKG"
mount --bind "$GEN_STAGE/work/home" "$PRISMA_HOME"
exec setpriv --reuid=%(user)s --regid=%(group)s --clear-groups --no-new-privs --inh-caps=-all --bounding-set=-all -- /bin/bash -c "$GEN_UNPRIVILEGED"
''' % {"user": UNPRIVILEGED_USER, "group": UNPRIVILEGED_GROUP}


def cli_lock_files() -> tuple[str, str]:
    return CLI_PACKAGE_JSON.read_text(encoding="utf-8"), CLI_PACKAGE_LOCK.read_text(encoding="utf-8")


def ssh_generate_lines(install_dir: str, prisma_home: str) -> list[str]:
    """The install step's `prisma generate` on an ssh host (as root; module doc). Needs VENV and
    SCHEMA set (install_script)."""
    package_json, package_lock = cli_lock_files()
    user, group = UNPRIVILEGED_USER, UNPRIVILEGED_GROUP
    return [
        f"PRISMA_HOME={_q(prisma_home)}",
        # root-owned, not writable by the service (layout made it; re-asserted here)
        'chown root:root "$PRISMA_HOME"; chmod 0755 "$PRISMA_HOME"',
        'PKG=$("$VENV/bin/python" -I -c \'import importlib.util, os; print(os.path.dirname(importlib.util.find_spec("prisma").origin))\')',
        'if [ ! -d "$PKG" ] || [ -L "$PKG" ] || [ "$(stat -c %u "$PKG")" != 0 ]; then echo "the venv\'s prisma package is not a root-owned directory: $PKG" >&2; exit 1; fi',
        "for cmd in unshare setpriv mount; do command -v \"$cmd\" >/dev/null || { echo \"$cmd (util-linux / mount) is required to run prisma generate unprivileged\" >&2; exit 1; }; done",
        f"getent passwd {_q(user)} >/dev/null && getent group {_q(group)} >/dev/null || {{ echo {_q(f'the unprivileged identity {user}:{group} prisma generate runs as is missing on this host')} >&2; exit 1; }}",
        # the staging directory: root's (0711), on the install dir's file system; removed on exit
        f"GEN_STAGE=$(mktemp -d {_q(install_dir + '/' + STAGE_PREFIX)}XXXXXX)",
        "trap 'rm -rf -- \"$GEN_STAGE\"' EXIT",
        'chmod 0711 "$GEN_STAGE"',
        'install -d -m 0700 "$GEN_STAGE/work"',
        'cp -a -- "$PKG" "$GEN_STAGE/work/pkg"',
        'cp -a -- "$PRISMA_HOME" "$GEN_STAGE/work/home"',
        'install -d "$GEN_STAGE/work/run" "$GEN_STAGE/work/tmp" "$GEN_STAGE/work/npm-home" "$GEN_STAGE/work/npm-cache"',
        # the Prisma CLI's pinned lock; a CLI installed from anything else (an earlier release's
        # `npm install`) is renewed by `npm ci`
        f'GEN_CLI_DIR={_q(cli_dir(prisma_home))}',
        'staged_cli="$GEN_STAGE/work/home/${GEN_CLI_DIR#"$PRISMA_HOME"/}"',
        'mkdir -p "$staged_cli"',
        heredoc_assign("cli_package", package_json, "PRISMA_CLI_PACKAGE_EOF"),
        heredoc_assign("cli_lock", package_lock, "PRISMA_CLI_LOCK_EOF"),
        'renewed=()',
        'if [ "$(cat "$staged_cli/package-lock.json" 2>/dev/null)" != "$cli_lock" ] || [ "$(cat "$staged_cli/package.json" 2>/dev/null)" != "$cli_package" ]; then',
        '  rm -rf -- "$staged_cli/node_modules" "$staged_cli/package.json" "$staged_cli/package-lock.json"',
        '  printf \'%s\\n\' "$cli_package" > "$staged_cli/package.json"',
        '  printf \'%s\\n\' "$cli_lock" > "$staged_cli/package-lock.json"',
        '  renewed=("${GEN_CLI_DIR#"$PRISMA_HOME"/}")',
        "fi",
        f'chown -R {_q(user)}:{_q(group)} "$GEN_STAGE/work"',
        heredoc_assign("GEN_UNPRIVILEGED", UNPRIVILEGED.strip("\n"), "PRISMA_GENERATE_EOF"),
        heredoc_assign("GEN_ENTER", ENTER.strip("\n"), "PRISMA_ENTER_EOF"),
        'GEN_RUN="$GEN_STAGE/work/run"',
        "export VENV SCHEMA PKG PRISMA_HOME GEN_STAGE GEN_RUN GEN_CLI_DIR GEN_UNPRIVILEGED",
        # Root's environment passes through (PRISMA_QUERY_ENGINE_BINARY, PRISMA_SCHEMA_ENGINE_BINARY,
        # PRISMA_BINARY_CACHE_DIR: pre-provided engines/CLI); these are set here:
        "if ! HOME=\"$GEN_STAGE/work/npm-home\" TMPDIR=\"$GEN_STAGE/work/tmp\" PATH=\"$VENV/bin:/usr/local/bin:/usr/bin:/bin\" \\",
        '  npm_config_cache="$GEN_STAGE/work/npm-cache" npm_config_ignore_scripts=true npm_config_update_notifier=false \\',
        f"  PRISMA_VERSION={PRISMA_CLI_VERSION} PRISMA_EXPECTED_ENGINE_VERSION={ENGINE_COMMIT} \\",
        '  PRISMA_HOME_DIR="$PRISMA_HOME" PRISMA_NODEENV_CACHE_DIR="$PRISMA_HOME/.cache/prisma-python/nodeenv" \\',
        "  PRISMA_USE_GLOBAL_NODE=true PRISMA_USE_NODEJS_BIN=false PRISMA_HIDE_UPDATE_MESSAGE=true CHECKPOINT_DISABLE=1 PYTHONDONTWRITEBYTECODE=1 \\",
        '  unshare --mount --propagation private --pid --fork --kill-child --mount-proc /bin/bash -c "$GEN_ENTER"; then',
        '  echo "prisma generate (as nobody, in $GEN_STAGE) failed: the venv\'s prisma client and the Prisma cache are unchanged" >&2',
        "  exit 1",
        "fi",
        # root's from here: nothing the unprivileged run left can change what is checked and moved
        'chown -R root:root "$GEN_STAGE/work/pkg" "$GEN_STAGE/work/home"',
        'chmod -R go-w "$GEN_STAGE/work/pkg" "$GEN_STAGE/work/home"',
        'find "$GEN_STAGE/work/pkg" -depth -name __pycache__ -type d -exec rm -rf -- {} +',
        heredoc_assign("GEN_CHECK", CHECKER.strip("\n"), "PRISMA_CHECK_EOF"),
        'python3 -I -c "$GEN_CHECK" package "$PKG" "$GEN_STAGE/work/pkg"',
        'python3 -I -c "$GEN_CHECK" cache "$PRISMA_HOME" "$GEN_STAGE/work/home" "${renewed[@]}"',
        # byte-compiled by root (compiling runs none of it; the service cannot write __pycache__)
        '"$VENV/bin/python" -I -m compileall -q -d "$PKG" "$GEN_STAGE/work/pkg" >/dev/null',
        # into place, the cache first (a superset of the previous one: the previous client works
        # with it); the previous trees go to the staging directory (removed on exit), or back
        'mv -T -- "$PRISMA_HOME" "$GEN_STAGE/home.previous"',
        'mv -T -- "$GEN_STAGE/work/home" "$PRISMA_HOME" || { mv -T -- "$GEN_STAGE/home.previous" "$PRISMA_HOME"; exit 1; }',
        'mv -T -- "$PKG" "$GEN_STAGE/pkg.previous"',
        'mv -T -- "$GEN_STAGE/work/pkg" "$PKG" || { mv -T -- "$GEN_STAGE/pkg.previous" "$PKG"; exit 1; }',
        'chmod 0755 "$PKG" "$PRISMA_HOME"',
    ]
