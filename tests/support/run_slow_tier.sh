#!/usr/bin/env bash
# The slow tier (`make test`'s second half) as two pytest processes at once:
#   - tests/systemd: the real systemd hosts (tests.support.systemd_bed). Most of its time is spent
#     waiting: LiteLLM booting inside a container, a drain, HAProxy's rise, a DNS-following load;
#   - everything else marked slow (the real proxies, the local rollout rig, Kubernetes pods, ...).
# Run one after the other they took about 31 minutes on the 2-core CI machine, the bed about 9 of
# them; side by side the bed's waits overlap the rest. Both must pass: the exit status is the first
# failure's. The bed's output goes to build/slow-systemd.log and is printed when both have ended
# (two pytest progress streams interleaved would be unreadable).
set -uo pipefail
PY=${1:?usage: run_slow_tier.sh <python>}
cd "$(dirname "$0")/../.."
mkdir -p build
BED_LOG=build/slow-systemd.log
: > "$BED_LOG"

"$PY" -m pytest -m slow tests/systemd --durations=10 >"$BED_LOG" 2>&1 &
BED_PID=$!
# an interrupted `make test` must not leave the bed's containers booting behind it
trap 'kill -INT "$BED_PID" 2>/dev/null; wait "$BED_PID" 2>/dev/null' INT TERM

echo "slow tier: tests/systemd runs alongside (pid $BED_PID, output in $BED_LOG, printed at the end)"
"$PY" -m pytest -m slow --ignore=tests/systemd --durations=10
REST_RC=$?

wait "$BED_PID"
BED_RC=$?
trap - INT TERM
echo
echo "================ tests/systemd (ran alongside the above) ================"
cat "$BED_LOG"
echo "slow tier: everything but tests/systemd exited $REST_RC; tests/systemd exited $BED_RC"
if [ "$REST_RC" -ne 0 ]; then exit "$REST_RC"; fi
exit "$BED_RC"
