"""A PostgreSQL outage, on the real proxy with its database: what consumers get under each value of
`litellm.database_outage` (issue 16, item 7; docs/security.md, "Database outage").

One PostgreSQL of this module's own (tests/support/own_postgres.py: a free loopback port, so the
shared server is never touched) and two real proxies on the same database: one rendered with
`database_outage: refuse` (the default), one with `admit_any_key`. The rendered general_settings of
the local stack decide `allow_requests_on_db_unavailable`, not the test. While a stream of
requests with a cached key runs against both, the database goes away twice:

- **refused**: `pg_ctl stop -m fast` (what `systemctl stop postgresql` does): connections are refused;
- **stalled**: the server's processes are SIGSTOPped (a hung database host): a connection is accepted
  by the kernel and never answered.

In each, every proxy is asked with a key it has never looked up (known), a key deleted before the
outage (revoked), a made-up `sk-` key (unknown), the made-up key for another model, and a bearer
that is not an `sk-` key. Then the database comes back and both proxies serve a key they had never
seen, from the same process (no restart).

What this proves and what it does not: the proxy is the pinned LiteLLM and its decisions are its
own; the database engine is Prisma's WASM engine behind the harness translator, which reports a
refused server with the native engine's P1001 "Can't reach database server" (translator.mjs,
`asNative`), as LiteLLM's classifier keys on that text. The stalled case is decided by LiteLLM's own
10 s lookup deadline (PROXY_DB_LOOKUP_DEADLINE_SECONDS), which fires before either engine answers
(the native engine's connect_timeout is 5 s, retried after a reconnect). The native engine's own
reconnect (LiteLLM restarts the engine process on a transport error) is not exercised.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx
import pytest

from config.loader import load_settings
from offline.stack_inputs import PROJECT_DIR, load_stack_inputs
from rendering.litellm_yaml import general_settings
from tests.support.own_postgres import OwnPostgres
from tests.support.postgres_fixtures import process_prefix
from tests.support.real_proxy import DEFAULT_CONFIG, ProxyDatabase, RealProxy, wait_until

MODES = ("refuse", "admit_any_key")
PHASES = ("refused", "stalled")
PROBES = ("known", "revoked", "unknown", "unknown-other-model", "not-sk", "cached-other-model")


def rendered_general_settings(mode: str) -> dict:
    """general_settings the product renders for the local stack with litellm.database_outage = mode."""
    inputs = load_stack_inputs("local", secrets={"masterKey": "sk-outage-test-master-0000000000"})
    config = dict(inputs.config)
    litellm = json.loads(config["litellm-gateway:litellm"])
    litellm["database_outage"] = mode
    config["litellm-gateway:litellm"] = json.dumps(litellm)
    settings = load_settings("local", config, set(inputs.secret_keys), project_dir=PROJECT_DIR)
    return general_settings(settings)


def proxy_config(mode: str) -> dict:
    config = json.loads(json.dumps(DEFAULT_CONFIG))
    rendered = rendered_general_settings(mode)
    config["general_settings"]["allow_requests_on_db_unavailable"] = rendered["allow_requests_on_db_unavailable"]
    # LiteLLM keeps a looked-up key for 60 s; the test's outages are shorter than that on an idle
    # machine but not on a loaded one, and what a cached key does must not depend on timing.
    config["general_settings"]["user_api_key_cache_ttl"] = 900
    return config


@dataclass
class Observed:
    probes: dict = field(default_factory=dict)  # (mode, phase, probe) -> status
    load: dict = field(default_factory=dict)  # (mode, phase) -> Counter of statuses with the cached key
    recovered: dict = field(default_factory=dict)  # (mode, phase) -> seconds until a new key answered 200
    pids: dict = field(default_factory=dict)  # mode -> (pid before, pid after)
    rendered: dict = field(default_factory=dict)


def _chat(proxy: RealProxy, key: str, model: str = "mock-gpt") -> int:
    with httpx.Client(base_url=proxy.base_url, timeout=120.0) as http:
        r = http.post("/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                      json={"model": model, "messages": [{"role": "user", "content": "ping"}]})
        return r.status_code


class Load:
    """A consumer with a cached key, on every proxy, for as long as the outage lasts."""

    def __init__(self, proxies: dict, key: str) -> None:
        self.proxies, self.key = proxies, key
        self.phase = "warm"
        self.counts: dict = {}
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(m,), daemon=True) for m in proxies]

    def _run(self, mode: str) -> None:
        while not self._stop.is_set():
            phase = self.phase
            try:
                status = _chat(self.proxies[mode], self.key)
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            self.counts.setdefault((mode, phase), Counter())[status] += 1
            time.sleep(0.2)

    def __enter__(self) -> "Load":
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=180)


@pytest.fixture(scope="module")
def observed() -> Observed:
    out = Observed(rendered={m: rendered_general_settings(m)["allow_requests_on_db_unavailable"] for m in MODES})
    with OwnPostgres() as pg:
        db = ProxyDatabase(admin_dsn=pg.admin_dsn, prefix=process_prefix("outage"), label="outage")
        db.create()
        proxies = {m: RealProxy(proxy_config(m), database=db, name=f"outage-{m.replace('_', '-')}") for m in MODES}
        try:
            with ThreadPoolExecutor(len(proxies)) as pool:
                list(pool.map(lambda p: p.start(), proxies.values()))
            out.pids = {m: [p.proxy.pid] for m, p in proxies.items()}
            admin = proxies["refuse"]
            cached = admin.generate_key(models=["mock-gpt"])
            keys = {}
            for phase in PHASES:
                for m in MODES:
                    revoked = admin.generate_key(models=["mock-gpt"])
                    assert admin.admin("POST", "/key/delete", {"keys": [revoked]}).status_code == 200
                    keys[(m, phase)] = {
                        "known": admin.generate_key(models=["mock-gpt"]),
                        "revoked": revoked,
                        "unknown": f"sk-made-up-{m}-{phase}",
                        "unknown-other-model": f"sk-made-up-too-{m}-{phase}",
                        "not-sk": f"made-up-{m}-{phase}",
                        "cached-other-model": cached,
                    }
            for p in proxies.values():
                assert _chat(p, cached) == 200
            with Load(proxies, cached) as load:
                for phase in PHASES:
                    load.phase = phase
                    pg.stop() if phase == "refused" else pg.freeze()
                    jobs = [
                        (m, probe, proxies[m], keys[(m, phase)][probe], "mock-gpt-large" if probe.endswith("other-model") else "mock-gpt")
                        for m in MODES for probe in PROBES
                    ]
                    with ThreadPoolExecutor(len(jobs)) as pool:
                        statuses = list(pool.map(lambda j: _chat(j[2], j[3], j[4]), jobs))
                    for (m, probe, *_), status in zip(jobs, statuses):
                        out.probes[(m, phase, probe)] = status
                    load.phase = f"{phase}-recovery"
                    pg.start() if phase == "refused" else pg.thaw()
                    for m, p in proxies.items():
                        start = time.monotonic()
                        key = wait_until(lambda: _try_generate(admin), timeout=120, interval=1.0,
                                         what="a key generated after the outage")
                        wait_until(lambda: _chat(p, key) == 200 or None, timeout=120, interval=1.0,
                                   what=f"{m}: a new key answers after the {phase} outage")
                        out.recovered[(m, phase)] = time.monotonic() - start
            out.load = load.counts
            for m, p in proxies.items():
                out.pids[m].append(p.proxy.pid)
        finally:
            for p in proxies.values():
                p.stop()
            # The whole cluster goes with `pg`; the database's admin connection died with the first
            # stop, so dropping objects one by one is neither needed nor possible.
            if db._scratch is not None:  # noqa: SLF001 - see above
                db._scratch.admin.close()  # noqa: SLF001
                db._scratch = None  # noqa: SLF001
    return out


def _try_generate(admin: RealProxy):
    try:
        return admin.generate_key(models=["mock-gpt"])
    except Exception:  # noqa: BLE001 - the database may still be coming back
        return None


def test_the_product_renders_the_setting_both_ways(observed: Observed):
    assert observed.rendered == {"refuse": False, "admit_any_key": True}


@pytest.mark.parametrize("phase", PHASES)
def test_refuse_lets_no_uncached_key_in(observed: Observed, phase: str):
    got = {probe: observed.probes[("refuse", phase, probe)] for probe in PROBES}
    assert got == {"known": 503, "revoked": 503, "unknown": 503, "unknown-other-model": 503, "not-sk": 401, "cached-other-model": 403}, got


def test_admit_any_key_may_admit_any_sk_bearer_when_the_server_refuses_connections(observed: Observed):
    """A refused server's error ("can't reach database server", P1001) is not on LiteLLM's outage
    allow-list, but it makes LiteLLM reconnect its engine, and a lookup that meets the engine
    restarting (a transport error) or runs past the 10 s deadline is: under concurrent requests some
    made-up keys pass, and which ones depends on timing. Sequentially every probe got 503. So the
    only promise is: nothing but 200 or 503, and never a bearer that is not an sk- key."""
    got = {probe: observed.probes[("admit_any_key", "refused", probe)] for probe in PROBES}
    assert got["not-sk"] == 401, got
    assert {got[p] for p in ("known", "revoked", "unknown", "unknown-other-model")} <= {200, 503}, got
    assert got["cached-other-model"] in (200, 403), got


def test_admit_any_key_admits_every_sk_bearer_when_the_server_hangs(observed: Observed):
    """A hung server: every lookup runs into LiteLLM's 10 s deadline, which is on the allow-list: a
    revoked key and made-up ones pass, for any model. A cached key asking for a model it may not use
    is refused or, when its access check meets the deadline too, admitted (seen both ways)."""
    got = {probe: observed.probes[("admit_any_key", "stalled", probe)] for probe in PROBES}
    assert {p: got[p] for p in PROBES[:5]} == {"known": 200, "revoked": 200, "unknown": 200, "unknown-other-model": 200, "not-sk": 401}, got
    assert got["cached-other-model"] in (200, 403), got


@pytest.mark.parametrize("mode", MODES)
def test_a_cached_key_keeps_working_through_both_outages(observed: Observed, mode: str):
    for phase in PHASES:
        counts = observed.load.get((mode, phase), Counter())
        assert counts and set(counts) == {200}, (mode, phase, counts)


@pytest.mark.parametrize("mode", MODES)
def test_the_proxy_recovers_without_a_restart(observed: Observed, mode: str):
    before, after = observed.pids[mode]
    assert before == after
    assert set(observed.recovered) >= {(mode, p) for p in PHASES}
