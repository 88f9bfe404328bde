"""Requests lost while a config change rolls out: the config-change scenario of tests/transitions.

Two local proxies (127.0.0.2/.3) behind the real HAProxy front door, deployed and then changed by
executing the real rendered scripts in the engine's order (tests.support.rollout_rig). While the
change (a new routing timeout: config.yaml changes, every host restarts) is applied, `--concurrency`
clients send chat completions (to a fake upstream) one after the other, at least `--requests` in all.

  --mode rolling  (default) the front door, hosts one at a time: drain -> restart -> ready -> enable
  --mode old      the old behaviour: every host restarts at once (rollout.mode: parallel) and the
                  clients talk to the first host directly (the service name was a CNAME to it)

Last line: `rollout: <N> requests, <F> failed, p99 <X> ms`.
Run: .venv/bin/python bench/bench_rollout.py [--mode old] [--requests 1000] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from tests.support.rollout_rig import Load, RolloutRig  # noqa: E402

HOSTS = [{"name": "proxy-a", "address": "127.0.0.2"}, {"name": "proxy-b", "address": "127.0.0.3"}]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=["rolling", "old"], default="rolling")
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=8)
    args = ap.parse_args()
    rollout = "one-at-a-time" if args.mode == "rolling" else "parallel"
    rig = RolloutRig()
    try:
        started = time.monotonic()
        rig.apply(rig.program(HOSTS, rollout=rollout))
        print(f"deployed 2 proxies + front door in {time.monotonic() - started:.0f}s", flush=True)
        url = rig.url if args.mode == "rolling" else f"http://127.0.0.2:{rig.port}"
        load = Load(url, concurrency=args.concurrency, min_requests=args.requests).start()
        while load.stats.sent < 50:
            time.sleep(0.05)
        started = time.monotonic()
        p = rig.apply(rig.program(HOSTS, rollout=rollout, routing_timeout=45))
        print(f"change applied in {time.monotonic() - started:.0f}s:\n{rig.describe(p)}", flush=True)
        stats = load.stop()
        if stats.errors:
            print("first errors:", *stats.errors[:3], sep="\n  ")
        print(f"mode {args.mode}, concurrency {args.concurrency}")
        print(f"rollout: {stats.sent} requests, {stats.failed} failed, p99 {stats.p99():.0f} ms")
    finally:
        rig.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
