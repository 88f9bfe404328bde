"""Requests lost while a change rolls out: the transition scenarios of tests/transitions, timed.

Two local proxies (127.0.0.2/.3) behind the real HAProxy front door, deployed and then changed by
executing the real rendered scripts in the engine's order (tests.support.rollout_rig). `--concurrency`
clients send chat completions (to a fake upstream) one after the other, first for a steady window
(`--steady` requests, nothing changing), then while the change is applied, at least `--requests` in
all during the change.

  --scenario config     (default) a new routing timeout: config.yaml changes, every host restarts
  --scenario upgrade    a LiteLLM upgrade: a new venv installed beside the running one on every
                        host, each host switched to it in its own turn
  --scenario streaming  the config change, while `--streams` more clients each hold a streamed
                        completion of about 8 s open after the other (longer than a host's restart:
                        the drain waits for them); a stream counts as failed unless it ends whole
  --mode rolling  (default) the front door, hosts one at a time: drain -> restart -> ready -> enable
  --mode old      the old behaviour: every host restarts at once (rollout.mode: parallel) and the
                  clients talk to the first host directly (the service name was a CNAME to it)

Last line: `rollout: <N> requests, <F> failed, p99 <X> ms, steady p99 <Y> ms`: N and F count the
chat completions from the start of the change until at least `--requests` of them (plus, in the
streaming scenario, every stream of the run); the p99 is that of those chat completions (streams
last about 8 s by design: their figures have a line of their own), the steady p99 that of the
steady window before the change, same run, same clients.
Run: .venv/bin/python bench/bench_rollout.py [--scenario upgrade] [--mode old] [--requests 1000]
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

import httpx  # noqa: E402

from config.litellm_settings import PINNED_LITELLM_VERSION  # noqa: E402
from tests.support.rollout_rig import MASTER_KEY, Load, LoadStats, RolloutRig, read_chat_stream  # noqa: E402

HOSTS = [{"name": "proxy-a", "address": "127.0.0.2"}, {"name": "proxy-b", "address": "127.0.0.3"}]
# a stand-in release to upgrade from (rollout_rig: each release is its own venv)
FROM_VERSION = "1.108.6"
STREAM_GAP = 2.0  # the fake's streamed answer: 4 pieces, 2 s apart


class Streams:
    """`n` clients, each holding one streamed completion open after the other."""

    def __init__(self, url: str, n: int):
        self.url, self.n = url, n
        self.stats = LoadStats()
        self.ended: list[float] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._worker, daemon=True) for _ in range(n)]

    def _one(self, http: httpx.Client) -> str:
        with http.stream("POST", f"{self.url}/v1/chat/completions", headers={"Authorization": f"Bearer {MASTER_KEY}"},
                         json={"model": "llama3.2", "stream": True, "messages": [{"role": "user", "content": "stream"}]}) as resp:
            if resp.status_code != 200:
                return f"HTTP {resp.status_code}"
            content, done = read_chat_stream(resp)
            return "" if done and content.endswith("echo: stream") else f"incomplete stream: {content!r} done={done}"

    def _worker(self) -> None:
        with httpx.Client(timeout=120, trust_env=False) as http:
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    error = self._one(http)
                except (httpx.HTTPError, ValueError) as exc:
                    error = f"{type(exc).__name__}: {exc}"
                with self._lock:
                    self.stats.sent += 1
                    self.stats.latencies_ms.append((time.monotonic() - started) * 1000)
                    self.ended.append(time.monotonic())
                    if error:
                        self.stats.failed += 1
                        self.stats.errors.append(error)
                if error:
                    time.sleep(0.1)

    def start(self) -> "Streams":
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> LoadStats:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=300)
        return self.stats


def p99(values: list[float]) -> float:
    return LoadStats(latencies_ms=values).p99()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", choices=["config", "upgrade", "streaming"], default="config")
    ap.add_argument("--mode", choices=["rolling", "old"], default="rolling")
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--steady", type=int, default=300)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--streams", type=int, default=2)
    args = ap.parse_args()
    rollout = "one-at-a-time" if args.mode == "rolling" else "parallel"
    first = {"version": FROM_VERSION} if args.scenario == "upgrade" else {}
    change = {"version": PINNED_LITELLM_VERSION} if args.scenario == "upgrade" else {"routing_timeout": 45}
    rig = RolloutRig()
    streams = None
    try:
        started = time.monotonic()
        rig.apply(rig.program(HOSTS, rollout=rollout, **first))
        print(f"deployed 2 proxies + front door in {time.monotonic() - started:.0f}s", flush=True)
        url = rig.url if args.mode == "rolling" else f"http://127.0.0.2:{rig.port}"
        load = Load(url, concurrency=args.concurrency).start()
        if args.scenario == "streaming":
            rig.fake.stream_slowly(STREAM_GAP)
            streams = Streams(url, args.streams).start()
        while len(load.stats.latencies_ms) < args.steady:
            time.sleep(0.05)
        steady = list(load.stats.latencies_ms)
        steady_failed = load.stats.failed
        mark, began = len(load.stats.latencies_ms), time.monotonic()
        failed_mark = load.stats.failed
        p = rig.apply(rig.program(HOSTS, rollout=rollout, **change))
        ended = time.monotonic()
        print(f"change applied in {ended - began:.0f}s:\n{rig.describe(p)}", flush=True)
        # at least --requests during the change: the load keeps going until then (after the
        # change they count, as in the first version of this bench)
        while len(load.stats.latencies_ms) - mark < args.requests:
            time.sleep(0.05)
        stats = load.stop()
        during = stats.latencies_ms[mark:]
        n, failed = len(during), stats.failed - failed_mark
        errors = stats.errors[:]
        if streams is not None:
            sstats = streams.stop()
            n += sstats.sent
            failed += sstats.failed
            errors += sstats.errors
            print(f"streams: {sstats.sent} streamed completions ({args.streams} clients), {sstats.failed} failed, "
                  f"p50 {sorted(sstats.latencies_ms)[len(sstats.latencies_ms) // 2]:.0f} ms", flush=True)
        if errors:
            print("first errors:", *errors[:3], sep="\n  ")
        print(f"scenario {args.scenario}, mode {args.mode}, concurrency {args.concurrency}, steady window "
              f"{len(steady)} requests ({steady_failed} failed)")
        print(f"rollout: {n} requests, {failed} failed, p99 {p99(during):.0f} ms, steady p99 {p99(steady):.0f} ms")
    finally:
        if streams is not None:
            streams.stop()
        rig.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
