"""Gateway overhead: requests through the real LiteLLM proxy vs straight to the fake upstream.

Prints figures; it is not a test. Everything runs on 127.0.0.1: a FakeOpenAI upstream in its own
process (so it does not share a GIL with the load generator), the proxy (tests.support.proxy_harness,
without a database), and the machine's Redis at 127.0.0.1:6379 for the rendered stack's cache.

Scenarios, each measured with the same bounded loop (``--requests`` requests, ``--concurrency`` in
flight, every prompt unique so a response cache never answers; ``--warmup`` requests first, not
counted), all against the dev catalog's ``gpt-4o`` deployment (an ``openai/gpt-4o`` deployment whose
api_base is the fake):

- ``direct``: the load generator -> the fake upstream (the baseline);
- ``rendered``: the dev stack rendered by tests/support/stack_gateway.py (workers from the stack (4),
  json logs, local cost map, prometheus callback, Slack alerting to a loopback sink, proxy budget,
  the stack's routing, Redis response cache), served over plain HTTP (step ``plain-http``);
- ``rendered, 1 worker`` and ``rendered, 1 worker, cache off``: the same with ``litellm.workers: 1``
  (and ``cache.enabled: false``), to attribute a difference to a setting;
- ``litellm defaults``: a config with the same ``model_list`` and nothing else but the master key
  (the pinned proxy refuses to start without one), 1 worker: LiteLLM's own defaults (text logs,
  no cache, no callbacks, default router settings).

Run: ``.venv/bin/python bench/bench_gateway.py`` (options: --requests, --concurrency, --warmup,
--only SCENARIO[,SCENARIO]).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import httpx  # noqa: E402

from tests.support.e2e_fixtures import RedisEndpoint  # noqa: E402
from tests.support.fake_upstreams import FakeOpenAI  # noqa: E402
from tests.support.proxy_harness import RunningProxy  # noqa: E402
from offline.stack_inputs import load_stack_inputs  # noqa: E402
from tests.support.stack_gateway import build_stack_gateway  # noqa: E402

REDIS = RedisEndpoint("127.0.0.1", 6379)
MODEL = "gpt-4o"

_FAKE_SERVER = r"""
import sys, time
sys.path.insert(0, sys.argv[1])
from tests.support.fake_upstreams import FakeOpenAI
fake = FakeOpenAI(sys.argv[2], models=("gpt-4o",)).start()
print(fake.port, flush=True)
sys.stdin.read()  # until the parent closes our stdin
fake.close()
"""


class ProcessFakeOpenAI(FakeOpenAI):
    """FakeOpenAI served from a child process (own GIL); same URLs and replies."""

    def start(self) -> "ProcessFakeOpenAI":
        if getattr(self, "_child", None) is None:
            self._child = subprocess.Popen(
                [sys.executable, "-c", _FAKE_SERVER, str(PROJECT_DIR), self.identity],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True,
            )  # fmt: skip
            self._port = int(self._child.stdout.readline())
        return self

    @property
    def running(self) -> bool:
        return getattr(self, "_child", None) is not None and self._child.poll() is None

    def close(self) -> None:
        child, self._child = getattr(self, "_child", None), None
        if child is not None:
            child.stdin.close()
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()

    stop = close


def make_fake(cls, identity, **kwargs):
    """gpt-4o's fake in its own process; the deployments the bench does not call in-process."""
    fake = (ProcessFakeOpenAI if cls is FakeOpenAI else cls)(identity, **kwargs).start()
    _FAKES.append(fake)
    return fake


_FAKES: list = []
_BUILT: list = []


async def run_load(url: str, headers: dict, requests: int, concurrency: int, warmup: int, tag: str) -> dict:
    """Bounded: exactly warmup + requests requests, `concurrency` at a time; stops by itself."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    latencies: list[float] = []
    errors = 0
    async with httpx.AsyncClient(limits=limits, timeout=60, trust_env=False) as client:

        async def one(i: int, record: bool) -> None:
            nonlocal errors
            body = {"model": MODEL, "messages": [{"role": "user", "content": f"bench {tag} {i} {uuid.uuid4().hex}"}]}
            t0 = time.perf_counter()
            r = await client.post(url, json=body, headers=headers)
            dt = time.perf_counter() - t0
            if r.status_code != 200:
                errors += 1
            elif record:
                latencies.append(dt)

        async def batch(total: int, record: bool) -> float:
            queue = iter(range(total))

            async def worker() -> None:
                for i in queue:
                    await one(i, record)

            t0 = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            return time.perf_counter() - t0

        await batch(warmup, False)
        elapsed = await batch(requests, True)
    lat = sorted(latencies)
    return {
        "ok": len(lat),
        "errors": errors,
        "rps": len(lat) / elapsed if elapsed else 0.0,
        "p50": statistics.median(lat) * 1000 if lat else float("nan"),
        "p99": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000 if lat else float("nan"),
    }


def measure_direct(fake: FakeOpenAI, args) -> dict:
    return asyncio.run(run_load(f"{fake.api_base}/chat/completions", {"Authorization": "Bearer sk-bench"},
                                args.requests, args.concurrency, args.warmup, "direct"))  # fmt: skip


def measure_proxy(proxy: RunningProxy, args, tag: str) -> dict:
    headers = proxy.headers() if _has_master_key(proxy) else {}
    return asyncio.run(run_load(f"{proxy.base_url}/v1/chat/completions", headers,
                                args.requests, args.concurrency, args.warmup, tag))  # fmt: skip


def _has_master_key(proxy: RunningProxy) -> bool:
    try:
        proxy.master_key
        return True
    except KeyError:
        return False


def workers_of(proxy: RunningProxy) -> str:
    a = proxy.args
    return a[a.index("--num_workers") + 1] if "--num_workers" in a else "1"


def cleanup_cache() -> None:
    client = REDIS.client()
    for key in client.scan_iter(match="litellm.dev.cache*", count=1000):
        if b"[fake:" in (client.get(key) or b"") or b"bench" in key:
            client.delete(key)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=64)
    parser.add_argument("--only", default="")
    parser.add_argument("--ablation", action="store_true",
                        help="1 worker, cache off, then each other rendered setting removed in turn")  # fmt: skip
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if not REDIS.client().ping():
        raise SystemExit("no Redis at 127.0.0.1:6379")

    scenarios = {
        "rendered": {},
        "rendered, 1 worker": {"workers": 1},
        "rendered, 1 worker, cache off": {"workers": 1, "cache": False},
        "litellm defaults": None,
    }
    if args.ablation:
        declared = load_stack_inputs("dev").settings()
        obs = declared.observability.model_dump(mode="json", exclude_none=True)
        no_rpm = [{k: v for k, v in m.model_dump(mode="json", exclude_none=True).items() if k != "rpm"} for m in declared.models]
        base_variant = {"workers": 1, "cache": False}
        scenarios = {
            "rendered, 1 worker, cache off": base_variant,
            "  - prometheus callback": {**base_variant, "observability": {**obs, "callbacks": []}},
            "  - slack alerting": {**base_variant, "observability": {**obs, "alerting": {}}},
            "  - proxy budget": {**base_variant, "observability": {k: v for k, v in obs.items() if k != "proxy_budget"}},
            "  - json logs": {**base_variant, "observability": {**obs, "json_logs": False}},
            "  - rpm limits": {**base_variant, "models": no_rpm},
            "  - all four observability settings": {**base_variant, "observability": {"callbacks": [], "json_logs": False}},
            "litellm defaults": None,
        }
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    results: list[tuple[str, str, dict]] = []
    try:
        base = build_stack_gateway("dev", redis=REDIS, make_fake=make_fake, tls=False, identity_prefix="bench")
        fake = base.fake("openai-gpt-4o")
        direct = measure_direct(fake, args)
        results.append(("direct -> fake upstream", "-", direct))
        for name, variant in scenarios.items():
            if only and name not in only:
                continue
            if variant is None:
                # The pinned proxy refuses to start without a master key: that is the one setting added.
                config = {
                    "model_list": [m for m in base.config["model_list"] if m["model_name"] == MODEL],
                    "general_settings": {"master_key": "os.environ/LITELLM_MASTER_KEY"},
                }
                env = {
                    "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # the harness insists (no price-map download)
                    "LITELLM_MASTER_KEY": base.env["LITELLM_MASTER_KEY"],
                    "OPENAI_API_KEY": base.env["OPENAI_API_KEY"],
                }
                proxy = RunningProxy(config, env, ["--port", "4000", "--num_workers", "1"], name="bench-defaults")
            else:
                extra = {k: variant[k] for k in ("observability", "models") if k in variant}
                if "workers" in variant:
                    extra["litellm"] = {**base.settings.litellm.model_dump(mode="json", exclude_none=True),
                                        "workers": variant["workers"]}  # fmt: skip
                gw = build_stack_gateway(
                    "dev", redis=REDIS, tls=False, identity_prefix="bench",
                    make_fake=lambda cls, ident, **kw: fake if cls is FakeOpenAI else make_fake(cls, ident, **kw),
                    cache={"enabled": False} if variant.get("cache") is False else None,
                    extra_overrides=extra,
                )  # fmt: skip
                proxy = gw.proxy(f"bench-{len(results)}", startup_timeout=240)
                _BUILT.append(gw)
            with proxy:
                results.append((name, workers_of(proxy), measure_proxy(proxy, args, name)))
    finally:
        for f in _FAKES:
            f.close()
        for gw in _BUILT + ([base] if "base" in locals() else []):
            gw.close()
        cleanup_cache()

    print(f"\nGateway overhead: {args.requests} requests, concurrency {args.concurrency}, warm-up {args.warmup}, "
          f"model {MODEL} (FakeOpenAI in its own process), loopback, {os.cpu_count()} CPUs")  # fmt: skip
    print(f"{'scenario':34} {'workers':>7} {'ok':>5} {'err':>4} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'+p50 ms':>8} {'+p99 ms':>8}")  # fmt: skip
    d = results[0][2]
    for name, workers, r in results:
        extra_p50 = r["p50"] - d["p50"] if r is not d else 0.0
        extra_p99 = r["p99"] - d["p99"] if r is not d else 0.0
        print(f"{name:34} {workers:>7} {r['ok']:>5} {r['errors']:>4} {r['rps']:>8.1f} {r['p50']:>8.1f} {r['p99']:>8.1f} "
              f"{extra_p50:>8.1f} {extra_p99:>8.1f}")  # fmt: skip
    print("(+p50/+p99: latency the gateway adds over the direct request)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
