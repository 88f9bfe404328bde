"""The ACL scripts components/redis_cache.py declares, run for real against Redis on 127.0.0.1.

The mocked dev program (Redis pointed at 127.0.0.1 with a unique ACL user) declares the
remote.Command; the tests take its recorded `stdin`, `create`/`update` and `delete` exactly as
declared and run them here (bash + redis-cli, as the SSH session on the Redis host would), then
check with redis-py — and with LiteLLM's own RedisCache — what the user can and cannot do.

Never skips: if Redis is down every test fails with how to start it. A private redis-server with
an ACL file (started and stopped here, on a free 127.0.0.1 port) covers ACL SAVE.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest
import redis

from components.redis_cache import TYPE_TOKEN
from offline.stack_inputs import load_stack_inputs
from offline.engine import default_outputs, run_stack
from tests.support.host_keys import placeholder_host_key

HOST, PORT = "127.0.0.1", 6379
NAMESPACE = "litellm.dev.cache"  # the dev stack's cache namespace; its pattern is NAMESPACE:*
START_HINT = (
    "Redis 7 must run on 127.0.0.1:6379 with an unauthenticated default user (the ACL admin). "
    "Start it with: redis-server --bind 127.0.0.1 --port 6379 --daemonize yes"
)


@pytest.fixture(scope="module")
def admin() -> redis.Redis:
    client = redis.Redis(host=HOST, port=PORT, socket_timeout=5)
    try:
        version = client.info("server")["redis_version"]
    except redis.RedisError as exc:
        pytest.fail(f"cannot reach Redis on {HOST}:{PORT} ({exc}). {START_HINT}", pytrace=False)
    if int(version.split(".")[0]) < 7:
        pytest.fail(f"Redis >= 7 required (ACL selectors, script key checks); server is {version}", pytrace=False)
    for tool in ("redis-cli", "bash", "sed"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is needed on PATH to run the declared scripts", pytrace=False)
    yield client
    client.close()


@pytest.fixture
def user(admin):
    name = f"llmgw_t_{uuid.uuid4().hex[:10]}"
    yield name
    admin.execute_command("ACL", "DELUSER", name)
    for key in admin.scan_iter(match=f"{NAMESPACE}:{name}*"):
        admin.delete(key)
    for key in admin.scan_iter(match=f"outside:{name}*"):
        admin.delete(key)
    assert admin.execute_command("ACL", "GETUSER", name) is None


@dataclass
class Declared:
    stdin: str
    create: str
    update: str
    delete: str
    password: str


ONE_PROXY_PROCESS = {"litellm": {**load_stack_inputs("dev").settings().litellm.model_dump(), "workers": 1}}


def declare(
    user: str, *, port: int = PORT, redis_password: Optional[str] = None, namespace: Optional[str] = None,
    workers: int = 1, admin_user: Optional[str] = None, admin_password: Optional[str] = None,
) -> Declared:
    """Run the mocked dev program with Redis on 127.0.0.1:<port> and return the ACL command."""
    secrets = {"postgresAdminPassword": "unused"}
    if redis_password is not None:
        secrets["redisPassword"] = redis_password
    if admin_password is not None:
        secrets["redisAdminPassword"] = admin_password
    admin = {"admin_user": admin_user} if admin_user is not None else {}
    overrides = {
        "redis": {"host": HOST, "port": port, "user": user, "manage_acl": True, "host_key": placeholder_host_key("r"), **admin},
        "litellm": {**ONE_PROXY_PROCESS["litellm"], "workers": workers},
    }
    if namespace is not None:
        overrides["cache"] = {"enabled": True, "ttl_seconds": 600, "namespace": namespace}
    run = run_stack("dev", secrets=secrets, overrides=overrides)
    mine = run.children_of(run.one(TYPE_TOKEN).urn)
    [cmd] = [r for r in mine if r.type == "command:remote:Command"]
    assert "stdin" in cmd.secret_inputs
    if redis_password is None:
        [pw] = [r for r in mine if r.type == "random:index/randomPassword:RandomPassword"]
        redis_password = default_outputs(pw.type, pw.name, pw.inputs)["result"]
    return Declared(cmd.inputs["stdin"], cmd.inputs["create"], cmd.inputs["update"], cmd.inputs["delete"], redis_password)


def run_script(script: str, stdin: str = "") -> subprocess.CompletedProcess:
    """What the SSH session on the Redis host does: the script by the shell, stdin attached."""
    return subprocess.run(["bash", "-c", script], input=stdin, capture_output=True, text=True, timeout=60)


def as_user(user: str, password: str, port: int = PORT) -> redis.Redis:
    # retry=None: redis-py 8 would otherwise retry a refused AUTH with backoff for seconds
    return redis.Redis(host=HOST, port=port, username=user, password=password, socket_timeout=5, decode_responses=True, retry=None)


def can_login(user: str, password: str, port: int = PORT) -> bool:
    client = as_user(user, password, port)
    try:
        return client.ping() is True
    except redis.AuthenticationError:
        return False
    finally:
        client.close()


# ---------------------------------------------------------------------------------------------


def test_declared_stdin_fed_to_redis_cli_creates_a_user_limited_to_the_cache(admin, user):
    d = declare(user)
    fed = subprocess.run(["redis-cli", "-h", HOST, "-p", str(PORT)], input=d.stdin, capture_output=True, text=True, timeout=30)
    assert (fed.returncode, fed.stdout.strip()) == (0, "OK"), fed.stderr

    c = as_user(user, d.password)
    try:
        mine, other = f"{NAMESPACE}:{user}:k", f"outside:{user}:k"
        # what LiteLLM's cache and router do
        assert c.set(mine, "v", ex=60) is True and c.get(mine) == "v"
        assert c.mget([mine, mine + "2"]) == ["v", None]
        pipe = c.pipeline(transaction=True)
        pipe.incrbyfloat(mine + ":spend", 1.5).expire(mine + ":spend", 60).ttl(mine + ":spend")
        assert pipe.execute()[0] == 1.5
        assert c.eval("return redis.call('INCR', KEYS[1])", 1, mine + ":n") == 1
        assert c.rpush(mine + ":q", "a", "b") == 2 and c.lpop(mine + ":q", 2) == ["a", "b"]
        assert c.info("server")["redis_version"]  # +info: LiteLLM reads the version at startup
        assert c.delete(mine) == 1
        # keys outside the pattern, directly or from Lua
        with pytest.raises(redis.exceptions.NoPermissionError):
            c.set(other, "v")
        with pytest.raises(redis.exceptions.NoPermissionError):
            c.get(other)
        with pytest.raises(redis.exceptions.ResponseError, match="(?i)no permissions|NOPERM"):
            c.eval("return redis.call('SET', KEYS[1], 'x')", 1, other)
        # administration and other dangerous commands: harmless ones really sent...
        for command in (("CONFIG", "GET", "maxmemory"), ("KEYS", "*"), ("ACL", "LIST"), ("CLIENT", "LIST"),
                        ("SLOWLOG", "GET"), ("LASTSAVE",)):
            with pytest.raises(redis.exceptions.NoPermissionError):
                c.execute_command(*command)
    finally:
        c.close()
    # ...destructive ones only asked about (ACL DRYRUN), so a broken ACL cannot wipe the server
    for command in (("FLUSHALL",), ("FLUSHDB",), ("SHUTDOWN",), ("CONFIG", "SET", "maxmemory", "1"),
                    ("REPLICAOF", "127.0.0.1", "1"), ("MONITOR",), ("DEBUG", "SLEEP", "0"), ("SAVE",)):
        verdict = admin.execute_command("ACL", "DRYRUN", user, *command).decode()
        assert "no permissions" in verdict, (command, verdict)
    assert admin.execute_command("ACL", "DRYRUN", user, "SET", f"{NAMESPACE}:x", "1") == b"OK"
    c = as_user(user, d.password)
    try:
        with pytest.raises(redis.exceptions.NoPermissionError):
            c.publish("anything", "x")  # resetchannels: only LiteLLM's own two channels
        assert c.publish(f"{NAMESPACE}:litellm_proxy.config_change", "x") == 0
    finally:
        c.close()
    assert admin.get(f"outside:{user}:k") is None
    assert not can_login(user, d.password + "x")


def test_declared_create_rotate_and_delete_scripts(admin, user):
    first = declare(user, redis_password="first-Pass-0001")
    created = run_script(first.create, first.stdin)
    assert created.returncode == 0, created.stderr
    assert f"ACL user {user} set" in created.stdout
    assert "no ACL file" in created.stderr  # this server has none: tolerated, but said
    assert can_login(user, "first-Pass-0001")

    # a new password only changes stdin; the update script applies it in place
    second = declare(user, redis_password="second-Pass-0002")
    assert (second.create, second.update, second.delete) == (first.create, first.update, first.delete)
    assert second.stdin != first.stdin
    updated = run_script(second.update, second.stdin)
    assert updated.returncode == 0, updated.stderr
    assert can_login(user, "second-Pass-0002")
    assert not can_login(user, "first-Pass-0001")  # `reset`: the old password is gone
    assert admin.acl_getuser(user)["passwords"] == [hashlib.sha256(b"second-Pass-0002").hexdigest()]

    deleted = run_script(second.delete)
    assert deleted.returncode == 0, deleted.stderr
    assert admin.execute_command("ACL", "GETUSER", user) is None
    assert not can_login(user, "second-Pass-0002")
    again = run_script(second.delete)  # already gone: still fine (a re-run after a partial failure)
    assert again.returncode == 0, again.stderr


def test_a_failing_setuser_fails_the_script_without_echoing_the_hash(admin, user):
    d = declare(user)
    digest = hashlib.sha256(d.password.encode()).hexdigest()
    broken = d.stdin.replace(digest, digest[:-1])  # Redis rejects it and quotes the rule
    result = run_script(d.create, broken)
    assert result.returncode == 1
    assert f"ACL SETUSER {user} failed" in result.stderr and "<redacted>" in result.stderr
    assert digest[:-1] not in result.stderr + result.stdout
    assert admin.execute_command("ACL", "GETUSER", user) is None


def test_litellm_redis_cache_works_as_the_acl_user(user):
    from litellm.caching.redis_cache import RedisCache as LiteLLMRedisCache

    d = declare(user)
    assert run_script(d.create, d.stdin).returncode == 0
    cache = LiteLLMRedisCache(host=HOST, port=PORT, username=user, password=d.password, namespace=NAMESPACE)
    assert cache.redis_version.split(".")[0] >= "7"  # read through INFO (+info)
    cache.set_cache(f"{user}:sync", {"a": 1}, ttl=60)
    assert cache.get_cache(f"{user}:sync") == {"a": 1}
    assert cache.increment_cache(f"{user}:count", 2, ttl=60) == 2

    async def async_calls():
        await cache.async_set_cache(f"{user}:async", "hello", ttl=60)
        await cache.async_set_cache_pipeline([(f"{user}:p1", 1), (f"{user}:p2", 2)], ttl=60)
        got = await cache.async_batch_get_cache([f"{user}:async", f"{user}:p1", f"{user}:p2"])
        spent = await cache.async_increment(f"{user}:spend", 0.25, ttl=60)  # Lua (EVAL) inside
        return got, spent

    loop = asyncio.new_event_loop()  # not asyncio.run: it would leave no current loop for Pulumi
    try:
        got, spent = loop.run_until_complete(async_calls())
    finally:
        loop.close()
    assert got == {f"{user}:async": "hello", f"{user}:p1": 1, f"{user}:p2": 2}
    assert spent == 0.25


# ---- ACL SAVE on a server that has an ACL file --------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _start_private_redis(tmp: Path, port: int, probe_as: tuple[Optional[str], Optional[str]] = (None, None)) -> subprocess.Popen:
    proc = subprocess.Popen(
        ["redis-server", "--bind", HOST, "--port", str(port), "--aclfile", str(tmp / "users.acl"),
         "--save", "", "--appendonly", "no", "--dir", str(tmp)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    probe = redis.Redis(host=HOST, port=port, socket_timeout=1, username=probe_as[0], password=probe_as[1])
    for _ in range(100):  # wait for startup (polling, not a timing assertion)
        try:
            if probe.ping():
                return proc
        except redis.ConnectionError:
            if proc.poll() is not None:
                break
            time.sleep(0.1)
    proc.terminate()
    pytest.fail(f"private redis-server on port {port} did not start", pytrace=False)


@pytest.fixture
def private_redis(tmp_path):
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is needed on PATH for the ACL-file test", pytrace=False)
    (tmp_path / "users.acl").write_text("user default on nopass ~* &* +@all\n")
    port = _free_port()
    state = {"proc": _start_private_redis(tmp_path, port)}

    def restart():
        state["proc"].terminate()
        state["proc"].wait(timeout=30)
        state["proc"] = _start_private_redis(tmp_path, port)

    yield port, tmp_path / "users.acl", restart
    state["proc"].terminate()
    state["proc"].wait(timeout=30)


def test_acl_save_persists_the_user_across_a_restart_and_delete_removes_it(private_redis):
    port, acl_file, restart = private_redis
    user = f"llmgw_t_{uuid.uuid4().hex[:10]}"
    d = declare(user, port=port)

    created = run_script(d.create, d.stdin)
    assert created.returncode == 0, created.stderr
    assert "no ACL file" not in created.stderr
    saved = acl_file.read_text()
    assert f"user {user} on" in saved
    assert "#" + hashlib.sha256(d.password.encode()).hexdigest() in saved
    assert d.password not in saved

    restart()
    assert can_login(user, d.password, port)

    deleted = run_script(d.delete)
    assert deleted.returncode == 0, deleted.stderr
    assert f"user {user}" not in acl_file.read_text()
    restart()
    assert not can_login(user, d.password, port)


# ---- admin credentials (redis.admin_user + redisAdminPassword) on a server that requires them -----

ADMIN_USER, ADMIN_PASSWORD = "gw_admin", "adm1n pass with spaces \\ and 'quotes' $HOME"
DEFAULT_PASSWORD = "default-user-requirepass-0123"


@pytest.fixture(scope="module")
def guarded_redis(tmp_path_factory):
    """A private Redis 7 whose default user has a password (what `requirepass` sets) and which has
    an admin ACL user with its own password: nothing can manage ACLs without credentials."""
    tmp = tmp_path_factory.mktemp("guarded-redis")
    (tmp / "users.acl").write_text(
        f"user default on #{hashlib.sha256(DEFAULT_PASSWORD.encode()).hexdigest()} ~* &* +@all\n"
        f"user {ADMIN_USER} on #{hashlib.sha256(ADMIN_PASSWORD.encode()).hexdigest()} ~* &* +@all\n")
    port = _free_port()
    proc = _start_private_redis(tmp, port, probe_as=(ADMIN_USER, ADMIN_PASSWORD))
    admin = redis.Redis(host=HOST, port=port, username=ADMIN_USER, password=ADMIN_PASSWORD, socket_timeout=5)
    yield port, admin, tmp / "users.acl"
    admin.close()
    proc.terminate()
    proc.wait(timeout=30)


def _no_secret_in(result: subprocess.CompletedProcess, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in result.stdout + result.stderr


def test_admin_user_credentials_apply_the_acl_and_delete_it(guarded_redis):
    port, admin, acl_file = guarded_redis
    user = f"llmgw_t_{uuid.uuid4().hex[:10]}"
    d = declare(user, port=port, admin_user=ADMIN_USER, admin_password=ADMIN_PASSWORD)
    # the password is on stdin only: neither script (plain inputs, command lines) carries it
    for script in (d.create, d.update, d.delete):
        assert ADMIN_PASSWORD not in script and "REDISCLI_AUTH" in script and f"--user {ADMIN_USER}" in script
    assert d.stdin.startswith(ADMIN_PASSWORD + "\n")
    created = run_script(d.create, d.stdin)
    assert created.returncode == 0, created.stderr
    _no_secret_in(created, ADMIN_PASSWORD, d.password)
    assert can_login(user, d.password, port)
    assert f"user {user} on" in acl_file.read_text()  # ACL SAVE ran authenticated too
    rotated = declare(user, port=port, admin_user=ADMIN_USER, admin_password=ADMIN_PASSWORD, redis_password="rotated-" + d.password)
    updated = run_script(rotated.update, rotated.stdin)
    assert updated.returncode == 0, updated.stderr
    assert can_login(user, rotated.password, port) and not can_login(user, d.password, port)
    deleted = run_script(rotated.delete, rotated.stdin)  # the provider feeds delete the same stdin
    assert deleted.returncode == 0, deleted.stderr
    assert admin.execute_command("ACL", "GETUSER", user) is None


def test_default_user_password_applies_the_acl(guarded_redis):
    port, admin, _ = guarded_redis
    user = f"llmgw_t_{uuid.uuid4().hex[:10]}"
    d = declare(user, port=port, admin_password=DEFAULT_PASSWORD)  # requirepass: no admin_user
    assert "--user" not in d.create
    created = run_script(d.create, d.stdin)
    assert created.returncode == 0, created.stderr
    assert can_login(user, d.password, port)
    assert run_script(d.delete, d.stdin).returncode == 0
    assert admin.execute_command("ACL", "GETUSER", user) is None


def test_without_or_with_wrong_admin_credentials_the_acl_is_refused(guarded_redis):
    port, admin, _ = guarded_redis
    user = f"llmgw_t_{uuid.uuid4().hex[:10]}"
    bare = declare(user, port=port)
    refused = run_script(bare.create, bare.stdin)
    assert refused.returncode == 1
    # Redis answers the long unauthenticated line with a protocol error; the script says what to set
    assert f"ACL SETUSER {user} failed: ERR Protocol error: unauthenticated multibulk length" in refused.stderr, refused.stderr
    assert "the Redis admin credentials are missing or wrong: set redis.admin_user" in refused.stderr
    wrong = "not-the-admin-password"
    d = declare(user, port=port, admin_user=ADMIN_USER, admin_password=wrong)
    refused = run_script(d.create, d.stdin)
    assert refused.returncode == 1
    assert f"ACL SETUSER {user} failed:" in refused.stderr and "WRONGPASS" in refused.stderr + refused.stdout, refused.stderr
    assert "the Redis admin credentials are missing or wrong" in refused.stderr
    _no_secret_in(refused, wrong, d.password)
    # the stdin without its password line (a state written before the secret was set) fails clearly
    missing = run_script(d.create, "")
    assert missing.returncode == 1 and "the Redis admin password (the first line of stdin) is missing" in missing.stderr
    assert admin.execute_command("ACL", "GETUSER", user) is None
