"""The real LiteLLM proxy with its database (tests/support/real_proxy.py), through the shared fixture:
what the emulator cannot show is answered by the pinned server itself.

The standalone process and the two-worker proxy start booting before the first test, next to the
shared proxy (fixture ``early_boots``)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
import yaml

from tests.support.fake_upstreams import free_port
from tests.support.postgres_fixtures import ADMIN_DSN
from tests.support.real_proxy import DEFAULT_CONFIG, RealProxy, RedisTarget, hash_token, wait_until
from tests.support.real_proxy_fixtures import real_proxy, real_proxy_factory, unique_name  # noqa: F401


@dataclass
class Standalone:
    proc: subprocess.Popen
    port: int
    master: str
    out: Path


def _two_worker_config(namespace: str) -> dict:
    return {
        "model_list": DEFAULT_CONFIG["model_list"],
        "litellm_settings": {
            "cache": True,
            "cache_params": {"type": "redis", "host": "os.environ/REDIS_HOST", "port": "os.environ/REDIS_PORT", "namespace": namespace},
        },
    }


@pytest.fixture(scope="session", autouse=True)
def early_boots(real_proxy_factory, tmp_path_factory):  # noqa: F811
    """The standalone process and the two-worker proxy of the tests below start booting before this
    module's first test, alongside the shared proxy (`real_proxy`): a boot is mostly CPU in one
    process, so three at once use both cores. Each test waits for its own and checks it as before;
    a boot that failed fails the test that uses it."""
    tmp_path = tmp_path_factory.mktemp("standalone")
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"model_list": DEFAULT_CONFIG["model_list"], "general_settings": {"proxy_batch_write_at": 1}}))
    port, master = free_port(), "sk-standalone-test-" + uuid.uuid4().hex[:8]
    out = tmp_path / "standalone.log"
    env = {k: v for k, v in os.environ.items() if k != "LITELLM_MASTER_KEY"}
    with open(out, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.real_proxy", "--port", str(port), "--master-key", master, "--config", str(config)],
            cwd=Path(__file__).resolve().parents[2],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    namespace = f"ns-two-workers-{uuid.uuid4().hex[:8]}"
    pool = ThreadPoolExecutor(1)
    two_workers = pool.submit(
        real_proxy_factory.start, _two_worker_config(namespace), num_workers=2, redis=RedisTarget(), name="two-workers"
    )
    pool.shutdown(wait=False)
    try:
        yield {"standalone": Standalone(proc, port, master, out), "two-workers": two_workers}
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        with contextlib.suppress(Exception):
            real_proxy_factory.stop(two_workers.result())


def _team(proxy: RealProxy, alias: str, models: list[str]) -> str:
    response = proxy.admin("POST", "/team/new", {"team_alias": alias, "models": models})
    assert response.status_code == 200, response.text
    return response.json()["team_id"]


def test_the_database_is_fresh_migrated_and_owned_by_its_own_role(real_proxy: RealProxy):
    db = real_proxy.database
    assert db is not None and db.name.startswith("llmgw_rp")
    assert db.migrations_applied >= 200
    owner, current = db.query(
        "SELECT pg_get_userbyid(datdba), current_user FROM pg_database WHERE datname = current_database()"
    )[0]
    assert owner == current == db.role
    assert db.query("SELECT rolsuper FROM pg_roles WHERE rolname = current_user") == [(False,)]
    health = real_proxy.admin("GET", "/health/readiness").json()
    assert health["db"] == "connected"


def test_a_generated_key_answers_chat_and_is_stored_hashed(real_proxy: RealProxy, unique_name):
    alias = unique_name("key")
    key = real_proxy.generate_key(models=["mock-gpt"], key_alias=alias, metadata={"owner": "harness"})
    response = real_proxy.chat(key, "mock-gpt")
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "pong from mock-gpt"
    row = real_proxy.key_row(key)
    assert row is not None and row["token"] == hash_token(key) and row["key_alias"] == alias
    assert row["models"] == ["mock-gpt"] and row["metadata"] == {"owner": "harness"}


def test_unknown_key_and_model_outside_the_key_are_refused(real_proxy: RealProxy):
    key = real_proxy.generate_key(models=["mock-gpt"])
    assert real_proxy.chat(key, "mock-gpt-mini").status_code == 403
    assert real_proxy.chat("sk-not-a-key-of-this-proxy", "mock-gpt").status_code == 401


def test_budget_duration_0d_is_refused_with_400(real_proxy: RealProxy):
    response = real_proxy.admin("POST", "/key/generate", {"models": ["mock-gpt"], "budget_duration": "0d"})
    assert response.status_code == 400, response.text


def test_team_move_with_narrowing_in_one_update_is_refused_with_403(real_proxy: RealProxy, unique_name):
    team_a = _team(real_proxy, unique_name("team-a"), ["mock-gpt", "mock-gpt-mini"])
    team_b = _team(real_proxy, unique_name("team-b"), ["mock-gpt-large"])
    key = real_proxy.generate_key(team_id=team_a, models=["mock-gpt", "mock-gpt-mini"])
    response = real_proxy.admin("POST", "/key/update", {"key": key, "team_id": team_b, "models": ["mock-gpt-large"]})
    assert response.status_code == 403, response.text
    row = real_proxy.key_row(key)
    assert row["team_id"] == team_a and row["models"] == ["mock-gpt", "mock-gpt-mini"]  # nothing changed


def test_spend_reaches_postgresql(real_proxy: RealProxy):
    key = real_proxy.generate_key(models=["mock-gpt"], max_budget=5)
    assert real_proxy.chat(key, "mock-gpt").status_code == 200
    spend = real_proxy.wait_for_key_spend(key, timeout=120)
    assert spend > 0
    logs = real_proxy.wait_for_spend_logs(key, timeout=120)
    assert [row["model_group"] for row in logs] == ["mock-gpt"]
    assert logs[0]["spend"] > 0


def _databases_like(prefix: str) -> list[str]:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %(p)s UNION ALL SELECT rolname FROM pg_roles WHERE rolname LIKE %(p)s",
            {"p": prefix.replace("_", "\\_") + "%"},
        ).fetchall()
    return [r[0] for r in rows]


def test_standalone_serves_until_sigterm_then_drops_its_database(early_boots):
    """`python -m tests.support.real_proxy --port P --master-key K --config FILE` (started by
    `early_boots`): the issue's checks through it, then SIGTERM: the process ends and its database
    and role are gone."""
    standalone = early_boots["standalone"]
    proc, port, master, out = standalone.proc, standalone.port, standalone.master, standalone.out
    try:
        ready = f"LiteLLM proxy with database ready: http://127.0.0.1:{port}"

        def booted():
            assert proc.poll() is None, out.read_text()[-3000:]
            return ready in out.read_text()

        wait_until(booted, timeout=420, interval=1.0, what="standalone proxy ready line")
        name = re.search(r"database: (llmgw_rp\d+_\w+) on", out.read_text()).group(1)
        prefix = name.rsplit("_", 2)[0]  # llmgw_rp<pid>_<run id>: the database and its owner role
        assert len(_databases_like(prefix)) == 2
        auth = {"Authorization": f"Bearer {master}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=auth, trust_env=False, timeout=60) as http:
            key = http.post("/key/generate", json={"models": ["mock-gpt"]}).json()["key"]
            chat = http.post(
                "/v1/chat/completions",
                json={"model": "mock-gpt", "messages": [{"role": "user", "content": "ping"}]},
                headers={"Authorization": f"Bearer {key}"},
            )
            assert chat.status_code == 200, chat.text
            assert http.post("/key/generate", json={"budget_duration": "0d"}).status_code == 400
            team_a = http.post("/team/new", json={"models": ["mock-gpt", "mock-gpt-mini"]}).json()["team_id"]
            team_b = http.post("/team/new", json={"models": ["mock-gpt-large"]}).json()["team_id"]
            moved = http.post("/key/generate", json={"team_id": team_a, "models": ["mock-gpt", "mock-gpt-mini"]}).json()["key"]
            update = http.post("/key/update", json={"key": moved, "team_id": team_b, "models": ["mock-gpt-large"]})
            assert update.status_code == 403, update.text
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 0, out.read_text()[-3000:]
        assert "stopped; database dropped" in out.read_text()
        assert _databases_like(prefix) == []
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


def test_several_workers_with_redis_each_with_its_own_engine(real_proxy_factory, early_boots):
    proxy = early_boots["two-workers"].result()  # booted by early_boots with _two_worker_config
    assert proxy.num_workers == 2 and proxy.redis == RedisTarget()
    assert proxy.config["litellm_settings"]["cache_params"]["type"] == "redis"
    try:
        workers = _engine_processes(proxy)
        assert len(workers) == 2, workers  # one translator (engine) per worker, in the proxy's process group
        key = proxy.generate_key(models=["mock-gpt"])
        statuses = [proxy.chat(key, "mock-gpt", content=f"ping {i}").status_code for i in range(8)]
        assert statuses == [200] * 8
        assert proxy.chat(key, "mock-gpt-mini").status_code == 403
        database = proxy.database
    finally:
        real_proxy_factory.stop(proxy)
    assert _engine_processes_alive(workers) == []
    assert _databases_like(database.name) == []


def _engine_processes(proxy: RealProxy) -> list[int]:
    pgid = proxy.proxy.pid
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) != pgid:
                continue
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"translator.mjs" in cmdline:
            found.append(int(entry.name))
    return sorted(found)


def _engine_processes_alive(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        alive.append(pid)
    return alive


def test_the_shared_proxy_is_the_factory_default(real_proxy: RealProxy, real_proxy_factory):
    assert real_proxy_factory.default() is real_proxy
    assert real_proxy.proxy is not None and real_proxy.proxy.running
