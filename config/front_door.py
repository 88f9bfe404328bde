"""Stack settings of the front door (HAProxy in front of several proxy hosts) and of rollouts. Pure.

Stack config keys (under `litellm-gateway:`):

  frontDoor:                       # needed with more than one host; ignored (no balancer) with one,
                                   # unless with_one_host (local deploy)
    name: litellm-lb               # the front door's host name (DNS label; an A record when DNS is on)
    address: 192.168.10.30         # where HAProxy runs (ssh: a dedicated host; local: a loopback
                                   # address, default 127.0.0.1); it listens on litellm.port
    check_interval_ms: 1000        # health check of every proxy on /health/readiness
    fall: 2                        # failed checks before a proxy is taken out
    rise: 2                        # passed checks before it is put back
    retries: 3                     # connection attempts per request (the last ones on another proxy)
    admin_socket: /run/haproxy/admin.sock  # ssh: the runtime API socket (under /run/haproxy/)
    agent_port: 4001               # ssh: each host's drain agent (HAProxy agent-check), on the host's
                                   # address; never litellm.port (checked)
  rollout:
    mode: one-at-a-time            # one-at-a-time (default) | parallel (throwaway stacks only)
    drain_timeout_seconds: 120     # how long a drain waits for the proxy's open requests to finish;
                                   # default routing.timeout, never below it (checked)
  previousEnvironments: [old-env]  # aliases: renaming `environment` updates the stack in place
"""

from __future__ import annotations

import math
from typing import Annotated, Literal, Optional

import re

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from config.fields import DnsLabel, HostOrIp, Port
from config.ssh_host_key import check_host_key

# The runtime API socket: Debian's haproxy package creates /run/haproxy/ (haproxy:haproxy) for it; a
# plain file name there, so the value is one word in haproxy.cfg and in every script.
_ADMIN_SOCKET = re.compile(r"/run/haproxy/[A-Za-z0-9][A-Za-z0-9._-]{0,63}\.sock")


def _admin_socket(value: str) -> str:
    if not _ADMIN_SOCKET.fullmatch(value):
        raise ValueError("expected a socket file directly under /run/haproxy/ such as /run/haproxy/admin.sock "
                         "(letters, digits and . _ -, ending in .sock)")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class FrontDoorSettings(_Strict):
    name: DnsLabel = "litellm-lb"
    address: Optional[HostOrIp] = None
    # The front-door host's public SSH host key (ssh deploy; required there like every SSH target).
    host_key: Optional[Annotated[str, AfterValidator(check_host_key)]] = None
    check_interval_ms: Annotated[int, Field(ge=100, le=60000)] = 1000
    fall: Annotated[int, Field(ge=1, le=10)] = 2
    rise: Annotated[int, Field(ge=1, le=10)] = 2
    retries: Annotated[int, Field(ge=1, le=10)] = 3
    # The runtime API socket on the front-door host (ssh deploy; a local deploy keeps it under
    # <install_dir>/frontdoor). The config is always /etc/haproxy/haproxy.cfg on an ssh deploy: the file
    # Debian's haproxy.service loads (CONFIG= in the unit), so there is no setting for it.
    admin_socket: Annotated[str, AfterValidator(_admin_socket)] = "/run/haproxy/admin.sock"
    # ssh: the TCP port of each host's drain agent (HAProxy `agent-check`, answered by
    # litellm-drain-agent.service on the host's own address with the word the host's rollout step
    # writes: "drain" during its rollout, "ready" otherwise), so a host drains itself inside its own
    # one rollout step. Never litellm.port (checked).
    agent_port: Port = 4001
    # local deploy: keep the front door with one host (that host behind it on its own loopback
    # address), so going 1 <-> 2 hosts is adding or removing a host in place. A lone host's rollout
    # restarts it without a drain (no other server to serve meanwhile). Switching this on for a
    # running single host is not done in place (that host and the front door want one address).
    with_one_host: bool = False

    @model_validator(mode="before")
    @classmethod
    def _config_dir_is_gone(cls, data: object) -> object:
        if isinstance(data, dict) and "config_dir" in data:
            raise ValueError(
                "config_dir is not a setting: Debian's haproxy.service always loads /etc/haproxy/haproxy.cfg, "
                "which is where the front door's config goes; remove frontDoor.config_dir"
            )
        return data


class RolloutSettings(_Strict):
    # one-at-a-time: drain -> restart -> ready -> re-enable, host after host (Pulumi dependencies);
    # parallel: every host restarts at once (a full outage during the restart: throwaway stacks).
    mode: Literal["one-at-a-time", "parallel"] = "one-at-a-time"
    # None: routing.timeout (a drain waits for the longest completion; it ends once the proxy is idle)
    drain_timeout_seconds: Optional[Annotated[int, Field(ge=0, le=3600)]] = None

    def drain_timeout(self, routing_timeout: float) -> int:
        """The drain's bound: the setting, or routing.timeout rounded up."""
        return self.drain_timeout_seconds if self.drain_timeout_seconds is not None else int(math.ceil(routing_timeout))
