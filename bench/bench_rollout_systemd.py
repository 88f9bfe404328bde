"""Requests lost while a config change rolls out on real systemd hosts (the systemd test bed).

The `dev-ha` shape (the one tests/systemd/test_ssh_stack.py grows its stack into): two LiteLLM hosts (systemd-nspawn
containers booted by tests.support.systemd_bed, each proxy on its own 127.0.1.N), the HAProxy front
door on a third, PostgreSQL and Redis on this machine's 127.0.0.1; deployed from nothing over real
OpenSSH by executing the program's steps (tests.support.ssh_stack, with its named substitutions).
Then `--concurrency` clients send chat completions (to a fake upstream) through the front door,
one after the other: first `--steady` requests with nothing changing (the steady-state p99), then
while a config change (a new routing timeout: config.yaml changes, each host drains through its
agent, restarts, waits ready and is re-enabled, one after the other) is applied, at least
`--requests` in all.

Last line: `rollout: <N> requests, <F> failed, p99 <X> ms, steady p99 <Y> ms`.
Run (as root, no other systemd bed running): .venv/bin/python bench/bench_rollout_systemd.py
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from tests.support.postgres_apply import scratch_cluster_objects  # noqa: E402
from tests.support.postgres_fixtures import ADMIN_DSN, process_prefix  # noqa: E402
from tests.support.rollout_rig import Load  # noqa: E402
from tests.support.ssh_stack import SshStackRig  # noqa: E402
from tests.support.systemd_bed import SystemdBed  # noqa: E402
from tests.systemd.conftest import BED_HOSTS  # noqa: E402
from tests.systemd.wheel_cache import pip_config_for_bed  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=600)
    ap.add_argument("--steady", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=4)
    args = ap.parse_args()
    with SystemdBed(BED_HOSTS, keep_enabled={"door": ["haproxy.service"]}, pip_config=pip_config_for_bed()) as bed:
        with scratch_cluster_objects(ADMIN_DSN, prefix=process_prefix("benchbed")) as scratch:
            rig = SshStackRig(bed, [bed.host("lite-a"), bed.host("lite-b")], scratch, front_door=bed.host("door"))
            try:
                started = time.monotonic()
                rig.apply(rig.program())
                print(f"deployed 2 systemd hosts + front door in {time.monotonic() - started:.0f}s", flush=True)
                rig.assert_all_up()
                steady = Load(rig.url, concurrency=args.concurrency, max_requests=args.steady, key=rig.master_key).start()
                steady_stats = _drain(steady, args.steady)
                load = Load(rig.url, concurrency=args.concurrency, min_requests=args.requests, key=rig.master_key).start()
                while load.stats.sent < 20:
                    time.sleep(0.05)
                started = time.monotonic()
                p = rig.apply(rig.program(routing_timeout=45))
                print(f"change applied in {time.monotonic() - started:.0f}s:\n{rig.describe(p)}", flush=True)
                stats = load.stop()
                rig.assert_all_up()
                for errors in (steady_stats.errors, stats.errors):
                    if errors:
                        print("first errors:", *errors[:3], sep="\n  ")
                print(f"concurrency {args.concurrency}; steady: {steady_stats.sent} requests, {steady_stats.failed} failed")
                print(f"rollout: {stats.sent} requests, {stats.failed} failed, p99 {stats.p99():.0f} ms, "
                      f"steady p99 {steady_stats.p99():.0f} ms")
            finally:
                rig.close()
    return 0


def _drain(load: Load, total: int):
    """Wait until the steady load has sent its `total` requests, then collect them."""
    while load.stats.sent < total:
        time.sleep(0.05)
    return load.stop()


if __name__ == "__main__":
    sys.exit(main())
