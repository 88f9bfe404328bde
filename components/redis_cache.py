"""The gateway's Redis: where LiteLLM finds it, as whom, and (optionally) the ACL user itself.

Without ``settings.manage_acl`` the server is someone else's: the component declares nothing and
hands on host/port/user and the password from secret config (``""`` when the server has no auth).

With ``manage_acl`` it owns one ACL user, created/rotated/deleted by a ``remote.Command`` that runs
``redis-cli`` on the Redis host (over SSH, ``settings.ssh_host`` or ``settings.host``):

* create/update: ``redis-cli`` reads ONE line from the command's **stdin** (a secret input)::

      ACL SETUSER "<user>" reset resetchannels on "#<sha256 of the password>" "~<pattern>"... "&<channel>"... +@all -@dangerous +info -select ...

  then ``ACL SAVE`` when the server has an ACL file (its absence is tolerated, with a warning:
  users defined only in memory vanish when Redis restarts).
* delete: ``ACL DELUSER <user>`` (+ ``ACL SAVE``); nothing secret involved.

How the password travels: secret config or a RandomPassword -> (secret) stdin of the command,
and only as its SHA-256 (``#<hex>``, which ACL SETUSER accepts as a password): the plaintext
never reaches the Redis host at deployment time, and neither plaintext nor hash is ever on a
command line (``ps``), in ``create``/``update``/``delete`` (plain strings in state) or in a
trigger. The SSH channel carries stdin encrypted; Pulumi state stores it encrypted (secret
input). The scripts never echo the reply of ACL SETUSER verbatim (Redis quotes the offending
rule in its errors) and the command's stdout/stderr are secret outputs besides.

Rotation: a new password changes ``stdin``; that is an ordinary input change, so the provider's
diff sees it and, because ``update`` is set, runs the update script in place. No trigger is
declared, on purpose: the pulumi-command SDK marks ``triggers[*]`` replace-on-change, so a
password-derived trigger would delete and re-create the user instead of updating it, and a
trigger visible in state must not be derived from the password at all (its unsalted SHA-256 is
exactly what ACL SETUSER stores). ``reset`` at the start of the
rule list makes each run declarative: the user ends with exactly these rules and only the new
password. A different user name or server changes ``delete``, which is marked replace-on-change
with delete-before-replace: the old user is removed (by its own stored delete script) before
the new one is created, so the same user on the same server is never deleted after creation.

ACL rules, checked against litellm/caching/redis_cache.py (1.108.7): the cache and router use
GET/SET(EX)/MGET/DEL/EXPIRE/TTL/INCR/INCRBYFLOAT/RPUSH/LPOP/LTRIM/SADD, pipelines
(MULTI/EXEC), Lua via EVAL/EVALSHA/SCRIPT LOAD (rate limiters), PING; redis-py sends CLIENT
SETINFO on connect. ``+@all -@dangerous`` keeps all of that and removes every administrative
command (FLUSHALL/FLUSHDB, CONFIG, KEYS, DEBUG, SHUTDOWN, ACL, CLIENT LIST/KILL, MONITOR, SAVE,
REPLICAOF, MODULE, MIGRATE/RESTORE, SORT...; @admin is a subset of @dangerous). ``+info`` is added
back on purpose: LiteLLM reads ``redis_version`` from INFO at startup to choose between native
``LPOP key count`` (Redis >= 7) and a pipelined fallback; without it the version is "Unknown" and
assumed 7. Then the commands that are not @dangerous but reach past the user's own keys on a shared
server are removed: SELECT (other databases), SCAN/RANDOMKEY/DBSIZE (other tenants' key names),
PUBSUB (channel names), SCRIPT FLUSH and FUNCTION (everyone's scripts). LiteLLM's own FLUSHALL
(the /cache/flushall admin endpoint) is refused, which is wanted on a shared server.

Keys: ``<namespace>:*`` only (Lua scripts are checked against it too). Every key the pinned LiteLLM
writes for the gateway goes through ``RedisCache.check_and_fix_namespace``, so the rendered config
gives the same namespace to the response cache (``cache_params.namespace``), the router's shared
state (``router_settings.cache_kwargs.namespace``) and the coordination Redis
(``general_settings.coordination_redis.namespace``). ``~*`` is refused unless
``redis.dedicated: true`` says the server is this gateway's alone.

Channels: exactly LiteLLM's two (``<namespace>:litellm_proxy.auth_cache_invalidation`` — a deleted
or changed key/team/user leaves every worker's in-memory auth cache at once — and
``<namespace>:litellm_proxy.config_change`` — a model added through the API reaches every worker),
after ``resetchannels``: no other channel can be published or subscribed to.

The admin side: ``redis-cli`` connects to ``settings.host:port`` from the Redis host as
``redis.admin_user`` (``--user``; the default user when not set). A server that needs a password
for it gets the secret ``redisAdminPassword``: the first line of the command's (secret) stdin, which
the scripts read into ``REDISCLI_AUTH`` before redis-cli reads the ACL SETUSER line
(rendering.redis_acl.acl_stdin). Not an ``environment`` entry: that would need the Redis host's sshd
to accept the name (AcceptEnv) and is a plain input in state; not an argument: ``ps`` shows those.
Delete runs with the same stdin, so it authenticates the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import pulumi
import pulumi_random as random
from pulumi_command import remote

from config.redis_settings import RedisSettings
from rendering.redis_acl import acl_create_script, acl_delete_script, acl_setuser_line, acl_stdin, check_acl_user

TYPE_TOKEN = "litellm-gateway:redis:RedisCache"

PASSWORD_LENGTH = 40


@dataclass
class RedisCacheArgs:
    settings: RedisSettings
    password: Optional[pulumi.Input[str]]
    """Secret config redisPassword, if set. With manage_acl and None, a password is generated."""
    connection: Optional[remote.ConnectionArgs]
    """SSH to the host that runs redis-cli (needed with manage_acl)."""
    key_patterns: list[str] = field(default_factory=list)
    """Redis key patterns the ACL user may touch (manage_acl only)."""
    channels: list[str] = field(default_factory=list)
    """Pub/sub channel patterns the ACL user may use (LiteLLM's, litellm_channel_patterns)."""
    admin_password: Optional[pulumi.Input[str]] = None
    """Secret config redisAdminPassword: what redis-cli authenticates with (manage_acl only)."""


class RedisCache(pulumi.ComponentResource):
    host: pulumi.Output[str]
    port: pulumi.Output[int]
    username: pulumi.Output[Optional[str]]
    password: pulumi.Output[str]
    """Secret; "" when the server has no auth."""

    def __init__(self, name: str, args: RedisCacheArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE_TOKEN, name, None, opts)
        s = args.settings
        self.host = pulumi.Output.from_input(s.host)
        self.port = pulumi.Output.from_input(s.port)
        self.username = pulumi.Output.from_input(s.user)
        self.acl_user: Optional[remote.Command] = None

        if not s.manage_acl:
            self.password = pulumi.Output.secret(args.password if args.password is not None else "")
        else:
            if args.connection is None:
                raise ValueError("redis.manage_acl needs an SSH connection to the Redis host")
            user = check_acl_user(s.user or "")
            patterns = list(args.key_patterns)
            channels = list(args.channels)
            if not patterns:
                raise ValueError("redis.manage_acl needs at least one key pattern")
            # the same checks the line itself makes (~* only when dedicated), at declaration time
            acl_setuser_line(user, "x", patterns, channels, dedicated=s.dedicated)
            if args.password is not None:
                password = pulumi.Output.secret(args.password)
            else:
                generated = random.RandomPassword(
                    f"{name}-password",
                    length=PASSWORD_LENGTH,
                    special=False,
                    opts=pulumi.ResourceOptions(parent=self),
                )
                # The mock engine (and previews) do not apply RandomPassword's secret outputs.
                password = pulumi.Output.secret(generated.result)
            admin_auth = args.admin_password is not None
            create = acl_create_script(s, admin_auth)
            self.acl_user = remote.Command(
                f"{name}-acl-user",
                connection=args.connection,
                create=create,
                update=create,
                delete=acl_delete_script(s, admin_auth),
                stdin=pulumi.Output.secret(
                    pulumi.Output.all(password, args.admin_password).apply(lambda v: acl_stdin(
                        acl_setuser_line(user, v[0], patterns, channels, dedicated=s.dedicated), v[1]))
                ),
                add_previous_output_in_env=False,
                opts=pulumi.ResourceOptions(
                    parent=self,
                    additional_secret_outputs=["stdin", "stdout", "stderr"],
                    replace_on_changes=["delete"],
                    delete_before_replace=True,
                ),
            )
            # Through the command: whoever reads the password waits until the user has it.
            self.password = pulumi.Output.secret(
                pulumi.Output.all(self.acl_user.id, password).apply(lambda v: v[1])
            )

        self.register_outputs(
            {"host": self.host, "port": self.port, "username": self.username, "password": self.password}
        )
