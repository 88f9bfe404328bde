"""The offline Prisma engine (tests/support/prisma_engine: WASM engine + GraphQL->JSON translator) on
its own: prisma-client-py's generated client for LiteLLM's schema -> translator -> PostgreSQL, for
every kind of operation LiteLLM's key, team, model and auth paths use, and the error codes the client
turns into its own exceptions."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import subprocess
import uuid

import pytest

from tests.support import real_proxy_prisma
from tests.support.real_proxy import ProxyDatabase

UTC = dt.timezone.utc


@pytest.fixture(scope="module")
def engine_env():
    env = real_proxy_prisma.prepare()
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # prisma-client-py spawns the engine with a copy of os.environ
    yield env
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="module")
def database():
    with ProxyDatabase(label="translator") as db:
        yield db


@pytest.fixture(scope="module")
def loop():
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture(scope="module")
def db(engine_env, database, loop):
    from prisma import Prisma

    client = Prisma(datasource={"url": database.url})
    loop.run_until_complete(client.connect())
    yield client
    loop.run_until_complete(client.disconnect())


@pytest.fixture
def run(loop):
    return loop.run_until_complete


def _token() -> str:
    return uuid.uuid4().hex


def test_launcher_answers_version_with_the_engine_commit():
    out = subprocess.run([str(real_proxy_prisma.QUERY_ENGINE), "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"query-engine {real_proxy_prisma.ENGINE_COMMIT}"


def test_create_and_find_unique_round_trip_json_lists_datetime_bigint(db, run):
    from prisma import Json

    token = _token()
    expires = dt.datetime(2031, 5, 4, 3, 2, 1, 123000, tzinfo=UTC)
    created = run(
        db.litellm_verificationtoken.create(
            data={
                "token": token,
                "models": ["gpt-a", "gpt-b"],
                "metadata": Json({"team": "x", "nested": {"n": [1, 2, None]}, "quote": 'a "b" \\ c'}),
                "expires": expires,
                "tpm_limit": 2**40,
                "max_budget": 1.5,
                "key_alias": "ünïcode ✓",
            }
        )
    )
    assert created.metadata == {"team": "x", "nested": {"n": [1, 2, None]}, "quote": 'a "b" \\ c'}
    found = run(db.litellm_verificationtoken.find_unique(where={"token": token}))
    assert found is not None
    assert found.models == ["gpt-a", "gpt-b"]
    assert found.expires == expires
    assert found.tpm_limit == 2**40
    assert found.max_budget == 1.5 and found.key_alias == "ünïcode ✓"
    assert found.aliases == {} and found.spend == 0.0
    assert isinstance(found.created_at, dt.datetime)


def test_find_first_and_find_many_with_filters_order_take(db, run):
    from prisma import Json

    team = f"team-{_token()}"
    for i in range(3):
        run(
            db.litellm_verificationtoken.create(
                data={"token": _token(), "team_id": team, "models": [f"m{i}"], "spend": float(i), "metadata": Json({"i": i})}
            )
        )
    many = run(
        db.litellm_verificationtoken.find_many(where={"team_id": team, "spend": {"gte": 1.0}}, order={"spend": "desc"}, take=5)
    )
    assert [t.spend for t in many] == [2.0, 1.0]
    first = run(db.litellm_verificationtoken.find_first(where={"team_id": team, "models": {"has": "m0"}}))
    assert first is not None and first.models == ["m0"]
    by_json = run(db.litellm_verificationtoken.find_many(where={"team_id": team, "metadata": {"equals": Json({"i": 1})}}))
    assert [t.metadata for t in by_json] == [{"i": 1}]
    ors = run(db.litellm_verificationtoken.find_many(where={"OR": [{"team_id": team, "spend": 0.0}, {"team_id": team, "spend": 2.0}]}))
    assert sorted(t.spend for t in ors) == [0.0, 2.0]
    assert run(db.litellm_verificationtoken.count(where={"team_id": team})) == 3
    assert run(db.litellm_verificationtoken.find_first(where={"team_id": "no-such-team"})) is None


def test_update_update_many_upsert_delete_delete_many(db, run):
    from prisma import Json

    token, team = _token(), f"team-{_token()}"
    run(db.litellm_verificationtoken.create(data={"token": token, "team_id": team, "models": ["a"]}))
    updated = run(
        db.litellm_verificationtoken.update(
            where={"token": token}, data={"spend": {"increment": 0.25}, "metadata": Json({"u": 1}), "models": {"set": ["b", "c"]}}
        )
    )
    assert updated.spend == 0.25 and updated.metadata == {"u": 1} and updated.models == ["b", "c"]
    assert run(db.litellm_verificationtoken.update_many(where={"team_id": team}, data={"blocked": True})) == 1
    assert run(db.litellm_verificationtoken.find_unique(where={"token": token})).blocked is True
    other = _token()
    made = run(
        db.litellm_verificationtoken.upsert(
            where={"token": other},
            data={"create": {"token": other, "team_id": team, "models": []}, "update": {"key_alias": "never"}},
        )
    )
    assert made.key_alias is None
    changed = run(
        db.litellm_verificationtoken.upsert(
            where={"token": other},
            data={"create": {"token": other, "models": []}, "update": {"key_alias": "now", "metadata": Json([1, "two"])}},
        )
    )
    assert changed.key_alias == "now" and changed.metadata == [1, "two"]
    deleted = run(db.litellm_verificationtoken.delete(where={"token": token}))
    assert deleted is not None and deleted.token == token
    assert run(db.litellm_verificationtoken.delete(where={"token": token})) is None  # already gone
    assert run(db.litellm_verificationtoken.update(where={"token": token}, data={"key_alias": "x"})) is None
    assert run(db.litellm_verificationtoken.delete_many(where={"team_id": team})) == 1
    assert run(db.litellm_verificationtoken.count(where={"team_id": team})) == 0


def test_unique_violation_and_record_not_found_raise_prismas_exceptions(db, run):
    from prisma import errors

    token = _token()
    run(db.litellm_verificationtoken.create(data={"token": token, "models": []}))
    with pytest.raises(errors.UniqueViolationError):
        run(db.litellm_verificationtoken.create(data={"token": token, "models": []}))
    with pytest.raises(errors.RecordNotFoundError):
        run(db.litellm_verificationtoken.find_unique_or_raise(where={"token": _token()}))
    with pytest.raises(errors.RecordNotFoundError):
        run(db.litellm_verificationtoken.find_first_or_raise(where={"token": _token()}))
    with pytest.raises(errors.ForeignKeyViolationError):
        run(db.litellm_verificationtoken.create(data={"token": _token(), "models": [], "budget_id": "no-such-budget"}))


def test_nested_relation_write_with_json_and_include(db, run):
    from prisma import Json

    token, budget = _token(), f"budget-{_token()}"
    run(
        db.litellm_verificationtoken.create(
            data={
                "token": token,
                "models": [],
                "litellm_budget_table": {
                    "create": {
                        "budget_id": budget,
                        "created_by": "t",
                        "updated_by": "t",
                        "model_max_budget": Json({"gpt-a": {"budget_limit": 1}}),
                        "tpm_limit": 10,
                    }
                },
            }
        )
    )
    found = run(
        db.litellm_verificationtoken.find_unique(where={"token": token}, include={"litellm_budget_table": True})
    )
    assert found.budget_id == budget
    assert found.litellm_budget_table.model_max_budget == {"gpt-a": {"budget_limit": 1}}
    assert found.litellm_budget_table.tpm_limit == 10
    by_relation = run(
        db.litellm_verificationtoken.find_many(where={"litellm_budget_table": {"is": {"budget_id": budget}}})
    )
    assert [t.token for t in by_relation] == [token]
    budget_row = run(
        db.litellm_budgettable.find_unique(where={"budget_id": budget}, include={"keys": {"where": {"token": token}}})
    )
    assert [k.token for k in budget_row.keys] == [token]


def test_a_json_field_named_data_inside_the_data_argument(db, run):
    from prisma import Json

    lens = f"lens-{_token()}"
    created = run(db.litellm_lens.create(data={"id": lens, "data": Json({"data": {"where": 1}})}))
    assert created.data == {"data": {"where": 1}}
    run(db.litellm_lens.update(where={"id": lens}, data={"data": Json({"v": 2})}))
    assert run(db.litellm_lens.find_unique(where={"id": lens})).data == {"v": 2}


def test_enum_field(db, run):
    cron = run(
        db.litellm_cronjob.create(data={"pod_id": "p", "status": "ACTIVE", "ttl": dt.datetime(2030, 1, 1, tzinfo=UTC)})
    )
    assert cron.status == "ACTIVE" and cron.cronjob_id
    found = run(db.litellm_cronjob.find_many(where={"cronjob_id": cron.cronjob_id, "status": "ACTIVE"}))
    assert [c.cronjob_id for c in found] == [cron.cronjob_id]


def test_query_raw_execute_raw_and_types_adapter_pg_refuses(db, run):
    team = f"team-{_token()}"
    token = _token()
    run(db.litellm_verificationtoken.create(data={"token": token, "team_id": team, "models": ["a"], "spend": 3.5}))
    rows = run(
        db.query_raw('SELECT token, spend, models, created_at FROM "LiteLLM_VerificationToken" WHERE team_id = $1', team)
    )
    assert len(rows) == 1 and rows[0]["token"] == token and rows[0]["spend"] == 3.5 and rows[0]["models"] == ["a"]
    # LiteLLM's start-up view check: ARRAY_AGG(viewname) is name[]; the others are also refused by adapter-pg 5.17
    odd = run(
        db.query_raw(
            "SELECT ARRAY_AGG(viewname) AS views, 'x'::name AS n, 'c'::\"char\" AS ch, "
            "'pg_class'::regclass AS rc, 26::oid AS o, pg_sleep(0) AS v FROM pg_views WHERE schemaname = 'pg_catalog'"
        )
    )
    assert odd[0]["n"] == "x" and odd[0]["ch"] == "c" and odd[0]["rc"] == "pg_class" and odd[0]["o"] == "26"
    assert "pg_views" in odd[0]["views"] and odd[0]["v"] == ""
    assert run(db.execute_raw('UPDATE "LiteLLM_VerificationToken" SET spend = spend + $1 WHERE team_id = $2', 1.0, team)) == 1
    first = run(db.query_first('SELECT spend FROM "LiteLLM_VerificationToken" WHERE token = $1', token))
    assert first == {"spend": 4.5}


def test_transaction_commits_and_rolls_back(db, run):
    team = f"team-{_token()}"

    async def commit():
        async with db.tx() as tx:
            await tx.litellm_verificationtoken.create(data={"token": _token(), "team_id": team, "models": []})
            await tx.litellm_verificationtoken.create(data={"token": _token(), "team_id": team, "models": []})

    run(commit())
    assert run(db.litellm_verificationtoken.count(where={"team_id": team})) == 2

    async def rollback():
        async with db.tx() as tx:
            await tx.litellm_verificationtoken.create(data={"token": _token(), "team_id": team, "models": []})
            raise RuntimeError("abort")

    with pytest.raises(RuntimeError, match="abort"):
        run(rollback())
    assert run(db.litellm_verificationtoken.count(where={"team_id": team})) == 2


def test_batch_is_one_transaction(db, run):
    from prisma import errors

    team, token = f"team-{_token()}", _token()

    async def good():
        async with db.batch_() as batch:
            batch.litellm_verificationtoken.create(data={"token": token, "team_id": team, "models": []})
            batch.litellm_verificationtoken.update_many(where={"team_id": team}, data={"key_alias": "batched"})

    run(good())
    assert run(db.litellm_verificationtoken.find_unique(where={"token": token})).key_alias == "batched"

    async def bad():
        async with db.batch_() as batch:
            batch.litellm_verificationtoken.create(data={"token": _token(), "team_id": team, "models": []})
            batch.litellm_verificationtoken.create(data={"token": token, "team_id": team, "models": []})  # duplicate

    with pytest.raises(errors.UniqueViolationError):
        run(bad())
    assert run(db.litellm_verificationtoken.count(where={"team_id": team})) == 1


def test_group_by_and_aggregate_count(db, run):
    team = f"team-{_token()}"
    for spend in (1.0, 2.0, 4.0):
        run(db.litellm_verificationtoken.create(data={"token": _token(), "team_id": team, "models": [], "spend": spend}))
    groups = run(
        db.litellm_verificationtoken.group_by(by=["team_id"], where={"team_id": team}, sum={"spend": True}, count=True)
    )
    assert len(groups) == 1 and groups[0]["_sum"]["spend"] == 7.0 and groups[0]["_count"]["_all"] == 3


def test_translator_refuses_what_it_cannot_translate_with_an_engine_error(engine_env, database):
    """An unknown model in the GraphQL root field: an error body, not a crash (the server keeps serving)."""
    import httpx

    from tests.support.fake_upstreams import free_port

    port = free_port()
    env = {**os.environ, **engine_env, "PRISMA_DML_PATH": str(real_proxy_prisma.litellm_schema_path()), "DATABASE_URL": database.url}
    proc = subprocess.Popen([str(real_proxy_prisma.QUERY_ENGINE), "-p", str(port), "--enable-raw-queries"], env=env)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=10) as http:
            from tests.support.real_proxy import wait_until

            def status():
                try:
                    return http.get("/status").json()
                except httpx.HTTPError:
                    return None

            assert wait_until(status, timeout=120, interval=0.2, what="translator /status") == {"status": "ok"}
            bad = http.post("/", content=json.dumps({"query": "query {\n result: findManyNoSuchModel\n {\n id\n }\n}", "variables": {}}))
            assert bad.status_code == 200
            error = bad.json()["errors"][0]
            assert "unknown model" in error["user_facing_error"]["message"]
            good = http.post("/", content=json.dumps({"query": "query {\n result: aggregateLiteLLM_TeamTable\n {\n _count {\n _all\n }\n }\n}", "variables": {}}))
            assert good.json() == {"data": {"result": {"_count": {"_all": 0}}}}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_translator_exits_when_the_process_that_spawned_it_dies(engine_env, database):
    """A proxy worker killed outright (SIGKILL) cannot stop its engine: the translator notices that its
    parent is gone and exits, as the native engine does, instead of lingering with open connections."""
    import signal
    import sys

    from tests.support.fake_upstreams import free_port
    from tests.support.real_proxy import wait_until

    import httpx

    port = free_port()
    env = {**os.environ, **engine_env, "PRISMA_DML_PATH": str(real_proxy_prisma.litellm_schema_path()), "DATABASE_URL": database.url}
    spawner = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, sys, time; p = subprocess.Popen(sys.argv[1:]); print(p.pid, flush=True); time.sleep(3600)",
            str(real_proxy_prisma.QUERY_ENGINE),
            "-p",
            str(port),
        ],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    engine_pid = int(spawner.stdout.readline())
    try:
        def serving() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/status", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(serving, timeout=120, interval=0.5, what="the translator serving")
        os.kill(spawner.pid, signal.SIGKILL)
        spawner.wait(timeout=30)

        def gone() -> bool:
            try:
                state = open(f"/proc/{engine_pid}/stat").read().rsplit(")", 1)[1].split()[0]
            except OSError:
                return True
            return state == "Z"  # exited, waiting for init to reap it

        assert wait_until(gone, timeout=120, interval=0.5, what="the orphaned translator exiting")
    finally:
        try:
            os.killpg(spawner.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_an_unreachable_server_is_reported_as_the_native_engine_does(engine_env, loop):
    """Nothing listens: the WASM engine says P2036 "Error in external connector"; the native engine of
    the same commit says P1001 "Can't reach database server at `host`:`port`", and LiteLLM's outage
    handling keys on that text (litellm/proxy/db/exception_handler.py). The translator says P1001
    while the pool's last attempt failed to reach the server, and the engine's own answer again once
    it succeeds (tests/e2e/test_database_outage.py runs the proxy through a real outage)."""
    import socket

    import prisma
    from prisma import Prisma

    with socket.socket() as s:  # a free loopback port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = Prisma(datasource={"url": f"postgresql://nobody:pw@127.0.0.1:{port}/none?sslmode=disable"})
    loop.run_until_complete(client.connect())
    try:
        with pytest.raises(prisma.errors.DataError) as caught:
            loop.run_until_complete(client.litellm_verificationtoken.find_first(where={"token": "x"}))
    finally:
        loop.run_until_complete(client.disconnect())
    assert caught.value.code == "P1001"
    assert f"Can't reach database server at `127.0.0.1`:`{port}`" in str(caught.value)


def test_connection_failures_map_to_the_native_engines_codes(engine_env):
    """The mapping on its own (node, the translator's module): refused/unroutable/timed out -> P1001
    with host and port; a connection the server closed -> P1017; anything else, and any error that is
    not the adapter's P2036, stays as the engine answered."""
    script = r"""
import { connectionFailure, asNative } from './translator.mjs';
const p2036 = { errors: [{ error: 'x', user_facing_error: { is_panic: false, message: 'Error in external connector (id 1)', error_code: 'P2036' } }] };
const p2002 = { errors: [{ error: 'x', user_facing_error: { is_panic: false, message: 'Unique', error_code: 'P2002' } }] };
const out = {
  refused: connectionFailure({ code: 'ECONNREFUSED' }), reset: connectionFailure({ code: 'ECONNRESET' }),
  terminated: connectionFailure({ message: 'Connection terminated unexpectedly' }), sql: connectionFailure({ code: '23505' }),
  p1001: asNative(p2036, { host: 'db', port: '5433', failure: 'P1001' }).errors[0].user_facing_error,
  p1017: asNative(p2036, { host: 'db', port: '5433', failure: 'P1017' }).errors[0].user_facing_error.error_code,
  healthy: asNative(p2036, { host: 'db', port: '5433', failure: null }).errors[0].user_facing_error.error_code,
  other: asNative(p2002, { host: 'db', port: '5433', failure: 'P1001' }).errors[0].user_facing_error.error_code,
};
process.stdout.write(JSON.stringify(out));
"""
    done = subprocess.run([real_proxy_prisma.node_binary(), "--experimental-wasm-modules", "--input-type=module", "-e", script],
                          cwd=real_proxy_prisma.ENGINE_DIR, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert (out["refused"], out["reset"], out["terminated"], out["sql"]) == ("P1001", "P1017", "P1017", None)
    assert out["p1001"]["error_code"] == "P1001"
    assert out["p1001"]["message"].startswith("Can't reach database server at `db`:`5433`")
    assert (out["p1017"], out["healthy"], out["other"]) == ("P1017", "P2036", "P2002")
