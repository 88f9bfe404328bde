"""components/redis_cache.py under Pulumi's mock engine (no Redis needed; see
test_redis_cache_integration.py for the declared scripts run against the real server)."""

from __future__ import annotations

import hashlib

import pulumi
import pytest
from pulumi_command import remote

from components.redis_cache import TYPE_TOKEN, RedisCache, RedisCacheArgs
from config.redis_settings import RedisSettings
from offline.engine import ProgramRun, default_outputs, run_program, run_stack
from offline.stack_inputs import load_stack_inputs
from rendering.redis_acl import acl_create_script, acl_delete_script, acl_setuser_line, check_acl_user, redis_cli_quote
from tests.support.host_keys import placeholder_host_key

COMMAND_TYPE = "command:remote:Command"
PASSWORD_TYPE = "random:index/randomPassword:RandomPassword"
REDIS_PASSWORD = "Redis-Distinct-Secret-0815"
ADMIN_PASSWORD = "PgAdmin-Distinct-Secret-4711"
SSH_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\ndistinct-ssh-key-material-2323\n-----END OPENSSH PRIVATE KEY-----\n"
# dev as one proxy process (one host, one worker): no shared router state, so the Redis user is
# confined to the cache namespace. With several processes it needs every key (tests below).
ONE_PROXY_PROCESS = {"litellm": {**load_stack_inputs("dev").settings().litellm.model_dump(), "workers": 1}}
DEV_SECRETS = {"postgresAdminPassword": ADMIN_PASSWORD, "sshPrivateKey": SSH_KEY}  # no redisPassword: generated
# `local` (tests/components/conftest.py) runs without secrets.


@pytest.fixture(scope="module")
def dev_generated() -> ProgramRun:
    return run_stack("dev", secrets=DEV_SECRETS, overrides=ONE_PROXY_PROCESS)


@pytest.fixture(scope="module")
def dev_given() -> ProgramRun:
    return run_stack("dev", secrets={**DEV_SECRETS, "redisPassword": REDIS_PASSWORD}, overrides=ONE_PROXY_PROCESS)


def children(run: ProgramRun):
    return run.children_of(run.one(TYPE_TOKEN).urn)


def acl_command(run: ProgramRun):
    found = [r for r in children(run) if r.type == COMMAND_TYPE]
    assert len(found) == 1
    return found[0]


def generated_password(run: ProgramRun) -> str:
    [pw] = [r for r in children(run) if r.type == PASSWORD_TYPE]
    return default_outputs(pw.type, pw.name, pw.inputs)["result"]


# ---- shape per stack -------------------------------------------------------------------------


def test_dev_manages_the_acl_user_with_a_generated_password(dev_generated):
    assert len(dev_generated.of_type(TYPE_TOKEN)) == 1
    assert sorted(r.type for r in children(dev_generated)) == [COMMAND_TYPE, PASSWORD_TYPE]
    [pw] = [r for r in children(dev_generated) if r.type == PASSWORD_TYPE]
    assert pw.inputs["length"] >= 32 and pw.inputs["special"] is False


def test_dev_with_redis_password_uses_it_and_generates_nothing(dev_given):
    assert [r.type for r in children(dev_given)] == [COMMAND_TYPE]
    stdin = acl_command(dev_given).inputs["stdin"]
    assert "#" + hashlib.sha256(REDIS_PASSWORD.encode()).hexdigest() in stdin
    assert REDIS_PASSWORD not in stdin  # only its hash travels, even inside the secret


def test_local_declares_nothing_and_has_no_password(local):
    assert len(local.of_type(TYPE_TOKEN)) == 1
    assert children(local) == []


def test_every_child_is_parented_to_the_component_under_the_gateway(dev_generated):
    comp = dev_generated.one(TYPE_TOKEN)
    assert dev_generated.by_urn(comp.parent).type == "litellm-gateway:index:Gateway"
    mine = [r for r in dev_generated.resources if r.type in (COMMAND_TYPE, PASSWORD_TYPE) and "-redis-" in r.name]
    assert mine and all(r.parent == comp.urn for r in mine)


# ---- the command -----------------------------------------------------------------------------


def test_command_runs_redis_cli_on_the_redis_host_over_ssh(dev_generated):
    cmd = acl_command(dev_generated)
    conn = cmd.inputs["connection"]
    assert conn["host"] == "hx-redis-server.hx.dev.local"
    assert conn["user"] == "ansible"
    assert "connection" in cmd.secret_inputs  # carries the SSH private key
    settings = RedisSettings(host="hx-redis-server.hx.dev.local", user="litellm", manage_acl=True)
    assert cmd.inputs["create"] == acl_create_script(settings)
    assert cmd.inputs["update"] == cmd.inputs["create"]
    assert cmd.inputs["delete"] == acl_delete_script(settings)
    assert "redis-cli -h hx-redis-server.hx.dev.local -p 6379" in cmd.inputs["create"]
    assert "ACL DELUSER litellm" in cmd.inputs["delete"]
    assert cmd.inputs["addPreviousOutputInEnv"] is False


def test_stdin_is_the_secret_setuser_line_with_the_gateway_key_pattern(dev_generated):
    cmd = acl_command(dev_generated)
    assert "stdin" in cmd.secret_inputs
    channels = ["litellm.dev.cache:litellm_proxy.auth_cache_invalidation", "litellm.dev.cache:litellm_proxy.config_change"]
    assert cmd.inputs["stdin"] == acl_setuser_line(
        "litellm", generated_password(dev_generated), ["litellm.dev.cache:*"], channels
    )
    assert cmd.inputs["stdin"].startswith('ACL SETUSER "litellm" reset resetchannels on "#')
    assert cmd.inputs["stdin"].endswith(
        '"~litellm.dev.cache:*" "&litellm.dev.cache:litellm_proxy.auth_cache_invalidation" '
        '"&litellm.dev.cache:litellm_proxy.config_change" +@all -@dangerous +info '
        "-select -scan -randomkey -dbsize -pubsub -script|flush -function\n"
    )


def test_password_change_is_an_in_place_update_and_rename_a_replacement(dev_generated):
    cmd = acl_command(dev_generated)
    assert "triggers" not in cmd.inputs  # the (secret) stdin change is what the diff sees
    assert cmd.inputs["update"]  # so a new password runs update, not create-after-delete
    # The SDK itself marks triggers[*] replace-on-change, so a password-derived trigger would
    # delete and re-create the user; without one the stdin diff updates it in place.
    assert set(cmd.replace_on_changes) == {"delete", "triggers[*]"}
    assert cmd.delete_before_replace is True
    assert {"stdin", "stdout", "stderr"} <= set(cmd.additional_secret_outputs)
    assert cmd.protect is False and cmd.retain_on_delete is False


def test_several_hosts_share_router_state_yet_the_user_stays_in_the_namespace():
    base = load_stack_inputs("dev").settings().litellm.model_dump()
    base["hosts"] = base["hosts"] + [{"name": "hx-litellm-server2", "address": "192.168.10.21", "host_key": placeholder_host_key("hx-litellm-server2")}]
    run = run_stack("dev", secrets=DEV_SECRETS, overrides={"litellm": {**base, "workers": 1}, "frontDoor": {"address": "192.168.10.30", "host_key": placeholder_host_key("litellm-lb")}})
    assert '"~litellm.dev.cache:*" "&' in acl_command(run).inputs["stdin"]
    assert '"~*"' not in acl_command(run).inputs["stdin"]


def test_several_workers_share_router_state_yet_the_user_stays_in_the_namespace():
    # the committed dev stack: one host, 4 workers (each worker process has its own Router)
    run = run_stack("dev", secrets=DEV_SECRETS)
    assert '"~litellm.dev.cache:*" "&' in acl_command(run).inputs["stdin"]
    assert '"~*"' not in acl_command(run).inputs["stdin"]


def test_whole_keyspace_only_for_a_dedicated_redis():
    redis = load_stack_inputs("dev").settings().redis.model_dump()
    run = run_stack("dev", secrets=DEV_SECRETS, overrides={"redis": {**redis, "dedicated": True}})
    line = acl_command(run).inputs["stdin"]
    assert '"~*" "&litellm.dev.cache:litellm_proxy.auth_cache_invalidation"' in line
    with pytest.raises(ValueError, match="redis.dedicated: true"):
        acl_setuser_line("litellm", "pw", ["*"], [])
    with pytest.raises(ValueError, match="redis.dedicated: true"):
        acl_setuser_line("litellm", "pw", ["ns:*", "**"], [])
    assert '"~*"' in acl_setuser_line("litellm", "pw", ["*"], [], dedicated=True)


def test_namespace_glob_characters_are_escaped():
    from rendering.redis_acl import litellm_channel_patterns, namespace_key_pattern

    assert namespace_key_pattern("a*b?[c]") == "a\\*b\\?\\[c\\]:*"
    assert litellm_channel_patterns("n?") == [
        "n\\?:litellm_proxy.auth_cache_invalidation", "n\\?:litellm_proxy.config_change"
    ]


# ---- secrets ---------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["dev_generated", "dev_given", "local"])
def test_no_password_or_hash_in_any_non_secret_input_of_the_whole_program(which, request):
    run = request.getfixturevalue(which)
    needles = {REDIS_PASSWORD, ADMIN_PASSWORD, "distinct-ssh-key-material-2323", hashlib.sha256(REDIS_PASSWORD.encode()).hexdigest()}
    if which == "dev_generated":
        pw = generated_password(run)
        needles |= {pw, hashlib.sha256(pw.encode()).hexdigest()}
    assert run.plain_inputs_carrying(needles) == []


def _component_only(settings: RedisSettings, password, connection, patterns):
    def program():
        cache = RedisCache("rc", RedisCacheArgs(settings=settings, password=password, connection=connection, key_patterns=patterns))
        for attr in ("host", "port", "username", "password"):
            pulumi.export(attr, getattr(cache, attr))

    return run_program("dev", {}, program=program)


def _ssh():
    return remote.ConnectionArgs(host="10.0.0.9", user="ops", private_key=pulumi.Output.secret("k"))


def test_outputs_managed_generated_password_is_secret_and_waits_for_the_command():
    s = RedisSettings(host="10.0.0.9", port=6380, user="gw", manage_acl=True)
    run = _component_only(s, None, _ssh(), ["gw:*"])
    assert run.secret_outputs == {"password"}
    pw = run.one(PASSWORD_TYPE)
    assert run.outputs == {
        "host": "10.0.0.9",
        "port": 6380,
        "username": "gw",
        "password": default_outputs(pw.type, pw.name, pw.inputs)["result"],
    }


def test_outputs_managed_given_plain_password_still_secret():
    s = RedisSettings(host="10.0.0.9", user="gw", manage_acl=True)
    run = _component_only(s, "given-plain-pw", _ssh(), ["gw:*"])
    assert run.secret_outputs == {"password"}
    assert run.outputs["password"] == "given-plain-pw"
    assert "stdin" in run.one(COMMAND_TYPE).secret_inputs


@pytest.mark.parametrize(("password", "expected"), [(None, ""), ("theirs", "theirs")])
def test_outputs_unmanaged_server(password, expected):
    s = RedisSettings(host="cache.example", user=None)
    run = _component_only(s, password, None, [])
    assert run.resources and [r.type for r in run.resources] == [TYPE_TOKEN]
    assert run.secret_outputs == {"password"}
    assert run.outputs == {"host": "cache.example", "port": 6379, "username": None, "password": expected}


def test_manage_acl_without_a_connection_is_refused():
    s = RedisSettings(host="10.0.0.9", user="gw", manage_acl=True)
    with pytest.raises(Exception, match="SSH connection"):
        _component_only(s, None, None, ["gw:*"])


# ---- pure helpers ----------------------------------------------------------------------------


def test_redis_cli_quote_escapes_quotes_backslashes_and_bytes():
    assert redis_cli_quote('a"b\\c d') == '"a\\"b\\\\c d"'
    assert redis_cli_quote("é\n") == '"\\xc3\\xa9\\x0a"'


@pytest.mark.parametrize("user", ["default", "", "two words", "tab\tuser"])
def test_refuses_dangerous_or_unparseable_user_names(user):
    with pytest.raises(ValueError):
        check_acl_user(user)


def test_setuser_line_needs_patterns_and_a_password():
    with pytest.raises(ValueError):
        acl_setuser_line("gw", "pw", [])
    with pytest.raises(ValueError):
        acl_setuser_line("gw", "", ["gw:*"])
    with pytest.raises(ValueError):
        acl_setuser_line("gw", "pw", ["has space*"])


def test_scripts_never_put_a_password_on_a_command_line():
    s = RedisSettings(host="10.0.0.9", user="gw", manage_acl=True)
    for script in (acl_create_script(s), acl_delete_script(s)):
        cli_lines = [line for line in script.splitlines() if "redis-cli" in line]
        assert cli_lines
        for line in cli_lines:
            assert "SETUSER" not in line  # the rule line only ever comes from stdin
            assert " -a " not in line and "--pass" not in line and "AUTH" not in line
            assert "#" not in line
