"""Stack settings of the front door (HAProxy in front of several proxy hosts) and of rollouts. Pure.

Stack config keys (under `litellm-gateway:`):

  frontDoor:                       # needed with more than one host; ignored (no balancer) with one
    name: litellm-lb               # the front door's host name (DNS label; an A record when DNS is on)
    address: 192.168.10.30         # where HAProxy runs (ssh: a dedicated host; local: a loopback
                                   # address, default 127.0.0.1); it listens on litellm.port
    check_interval_ms: 1000        # health check of every proxy on /health/readiness
    fall: 2                        # failed checks before a proxy is taken out
    rise: 2                        # passed checks before it is put back
    retries: 3                     # connection attempts per request (the last ones on another proxy)
  rollout:
    mode: one-at-a-time            # one-at-a-time (default) | parallel (throwaway stacks only)
    drain_timeout_seconds: 120     # how long a drain waits for the proxy's open requests to finish;
                                   # default routing.timeout, never below it (checked)
  previousEnvironments: [old-env]  # aliases: renaming `environment` updates the stack in place
"""

from __future__ import annotations

import math
from typing import Annotated, Literal, Optional

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from config.ssh_host_key import check_host_key


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class FrontDoorSettings(_Strict):
    name: str = "litellm-lb"
    address: Optional[str] = None
    # The front-door host's public SSH host key (ssh deploy; required there like every SSH target).
    host_key: Optional[Annotated[str, AfterValidator(check_host_key)]] = None
    check_interval_ms: Annotated[int, Field(ge=100, le=60000)] = 1000
    fall: Annotated[int, Field(ge=1, le=10)] = 2
    rise: Annotated[int, Field(ge=1, le=10)] = 2
    retries: Annotated[int, Field(ge=1, le=10)] = 3
    # HAProxy's own config directory and admin socket on the front-door host (ssh deploy; a local
    # deploy keeps both under <install_dir>/frontdoor).
    config_dir: str = "/etc/haproxy"
    admin_socket: str = "/run/haproxy/admin.sock"


class RolloutSettings(_Strict):
    # one-at-a-time: drain -> restart -> ready -> re-enable, host after host (Pulumi dependencies);
    # parallel: every host restarts at once (a full outage during the restart: throwaway stacks).
    mode: Literal["one-at-a-time", "parallel"] = "one-at-a-time"
    # None: routing.timeout (a drain waits for the longest completion; it ends once the proxy is idle)
    drain_timeout_seconds: Optional[Annotated[int, Field(ge=0, le=3600)]] = None

    def drain_timeout(self, routing_timeout: float) -> int:
        """The drain's bound: the setting, or routing.timeout rounded up."""
        return self.drain_timeout_seconds if self.drain_timeout_seconds is not None else int(math.ceil(routing_timeout))
