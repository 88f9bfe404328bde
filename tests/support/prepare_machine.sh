#!/usr/bin/env bash
# What `make test` needs on this machine, made so before any test runs (the README's test command
# is self-sufficient on a fresh clone of a fresh machine; .ci/run is `make test` and nothing else):
#   - the Debian packages the tests use (installed with apt-get when run as root; otherwise the error
#     names the exact command to run);
#   - PostgreSQL 15+ and Redis 7 answering on 127.0.0.1 (started when they are not running);
#   - the offline Prisma engine's pinned npm packages and the generated Prisma client in the venv
#     (tests/support/real_proxy_prisma.py; the fixtures that need them also call it, idempotently).
# Usage: prepare_machine.sh <venv python>. Idempotent: a second run checks and changes nothing.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV_PYTHON=${1:?usage: prepare_machine.sh <venv python>}

fail() { echo "prepare: $*" >&2; exit 1; }

# command -> Debian package that provides it.
declare -A NEEDS=(
  [redis-server]=redis-server [redis-cli]=redis-tools
  [pg_ctlcluster]=postgresql [psql]=postgresql-client [pg_isready]=postgresql-client
  [openssl]=openssl [haproxy]=haproxy
  [systemd-analyze]=systemd      # `systemd-analyze verify` of the rendered unit
  [strace]=strace                # the Kubernetes pod's write audit
  [node]=nodejs [npm]=npm        # the real proxy's database engine (Prisma's WASM engine)
  [ssh-keygen]=openssh-client [ssh]=openssh-client
  [sshd]=openssh-server          # the systemd test hosts' SSH servers
  [systemd-nspawn]=systemd-container  # the systemd test hosts
  [unshare]=util-linux [setpriv]=util-linux [mount]=mount
  [useradd]=passwd [sudo]=sudo  # the systemd test hosts' deploy user
  [chromium]=chromium            # the Admin UI tests (headless, driven over the DevTools protocol)
  [mawk]=mawk                    # log redaction under Debian's default awk (tests/rendering/test_log_redaction.py)
  [runuser]=util-linux           # a PostgreSQL of a test's own runs as postgres (tests/support/own_postgres.py)
)
missing=()
for cmd in "${!NEEDS[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || missing+=("${NEEDS[$cmd]}")
done
if ((${#missing[@]})); then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  if [ "$(id -u)" -ne 0 ]; then
    fail "missing Debian packages: ${missing[*]}; run: sudo apt-get update && sudo apt-get install -y ${missing[*]}"
  fi
  echo "prepare: installing ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null \
    || fail "apt-get install -y ${missing[*]} failed"
fi

node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' \
  || fail "Node.js >= 20 is required for the real-proxy harness (found $(node --version 2>&1)); Debian 12's nodejs is 18: take Node 20 from Debian 13 or NodeSource"

# PostgreSQL on 127.0.0.1:5432, reachable as postgres without a password (trust auth).
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  cluster=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1)
  [ -n "$cluster" ] || fail "no PostgreSQL cluster in /etc/postgresql; run: apt-get install -y postgresql"
  echo "prepare: starting PostgreSQL $cluster"
  pg_ctlcluster --skip-systemctl-redirect "$cluster" main start || true
fi
for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
pg_isready -q -h 127.0.0.1 -p 5432 || fail "PostgreSQL is not answering on 127.0.0.1:5432"
psql -h 127.0.0.1 -U postgres -d postgres -tAc 'select 1' >/dev/null \
  || fail "cannot connect to PostgreSQL as postgres on 127.0.0.1:5432 without a password (the tests expect trust auth on loopback)"

# Redis on 127.0.0.1:6379 (nothing kept on disk).
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "prepare: starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi
for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 1; done
[ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>&1)" = "PONG" ] || fail "Redis is not answering on 127.0.0.1:6379"

# The offline Prisma engine (npm ci from the lock, no install scripts) and the generated client.
"$VENV_PYTHON" -m tests.support.real_proxy_prisma >/dev/null || fail "preparing the offline Prisma engine failed (see above)"
echo "prepare: machine ready"
