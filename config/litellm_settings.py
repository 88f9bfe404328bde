"""Stack settings of the LiteLLM proxies: the release, how they are deployed, the hosts, SSH. Pure.

Checks that need other sections (paths on an ssh deploy, the database pool, host keys) are in
`config.cross_checks`.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Optional

from pydantic import Field, field_validator, model_validator

from config import checks
from config.fields import CrossCheckError, DnsLabel, HostOrIp, HostPath, Port, SshHostKey, StrictModel

# The LiteLLM release deployed to hosts, and the one the tests boot (requirements-test.txt pins the
# same; tests/config/test_pins.py keeps them equal). Exact on purpose: 1.107.0 was pulled from PyPI
# after a supply-chain compromise, so a range could install a bad release.
PINNED_LITELLM_VERSION = "1.108.7"
# Versions that must never be deployed (pulled from PyPI after a supply-chain compromise).
BLOCKED_LITELLM_VERSIONS = frozenset({"1.107.0"})
_VERSION = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+([.-]?(post|rc|a|b)[0-9]+)?$")


class SshSettings(StrictModel):
    """How Pulumi's command provider reaches the hosts (key from secret config sshPrivateKey)."""

    user: str = "root"
    port: Port = 22

    @field_validator("user")
    @classmethod
    def _user_name(cls, value: str) -> str:
        return checks.check_login_user(value)


class LiteLLMHostSpec(StrictModel):
    name: DnsLabel
    address: HostOrIp
    # Required with deploy: ssh (config.cross_checks, host keys).
    host_key: Optional[SshHostKey] = None
    # Earlier names of this host (aliases): a rename is an in-place update, not a new host plus the
    # deletion of the old one (see components/host.py, "Renames").
    renamed_from: list[DnsLabel] = Field(default_factory=list)


class LiteLLMSettings(StrictModel):
    # ssh: remote.Command over SSH to each host; local: local.Command on the machine running pulumi;
    # kubernetes: pods of a Deployment (config.kubernetes_settings, components.kubernetes).
    deploy: Literal["ssh", "local", "kubernetes"] = "ssh"
    # The exact LiteLLM release: ssh and kubernetes stacks need its hashed lock locks/litellm-<v>.lock
    # (`make lock VERSION=<v>`; config.litellm_locks), so stacks of one commit may run different
    # releases; a local deploy without one installs its exact top-level pins. 1.107.0 is refused.
    version: str = PINNED_LITELLM_VERSION
    port: Port = 4000
    bind_host: HostOrIp = "0.0.0.0"
    workers: Annotated[int, Field(ge=1, le=64)] = 2
    # Required for ssh and local (checked below); absent for kubernetes. The default is not validated,
    # so an explicit empty list is still "at least 1 item".
    hosts: Annotated[list[LiteLLMHostSpec], Field(min_length=1)] = Field(default_factory=list)
    # A CNAME <service_name>.<domain> for the first host, the name consumers use.
    service_name: Optional[DnsLabel] = None
    # A dedicated account the layout step creates: not root, not the SSH user, not a system account.
    system_user: str = "litellm"
    # Absolute for deploy: ssh; relative paths (to the project directory) only for deploy: local.
    install_dir: HostPath = "/opt/litellm"
    config_dir: HostPath = "/etc/litellm"
    # Where deployments live: "config" renders them into config.yaml (restart to change, no DB
    # needed); "api" creates them through the admin API as Model resources (needs the database and
    # STORE_MODEL_IN_DB) so a change is a hot update with an exact preview.
    model_source: Literal["config", "api"] = "config"
    # Per-worker Prisma pool; LiteLLM's default (10) times workers must fit the role's limit.
    database_connection_pool_limit: Annotated[int, Field(ge=1, le=100)] = 10
    proxy_batch_write_at: Annotated[int, Field(ge=1)] = 60
    readiness_timeout_seconds: Annotated[int, Field(ge=5, le=1800)] = 180
    # What a proxy does with a key it must look up while PostgreSQL is unavailable
    # (general_settings.allow_requests_on_db_unavailable; docs/security.md, "Database outage").
    # "refuse" (default): a key in the proxy's cache keeps working with its cached limits (60 s after
    # its last lookup, LiteLLM's cache TTL); every other key gets 503. "admit_any_key": the pinned
    # LiteLLM may admit ANY bearer starting with "sk-" (revoked, expired, over budget or made up) as
    # an internal user with no model list and no budget: always while the database hangs, and, as
    # timing decides, while it refuses connections. The value says so on purpose.
    database_outage: Literal["refuse", "admit_any_key"] = "refuse"


    @field_validator("version")
    @classmethod
    def _known_good_version(cls, value: str) -> str:
        if not _VERSION.fullmatch(value):
            raise ValueError("expected an exact LiteLLM release such as '1.108.7' (no ranges)")
        if value in BLOCKED_LITELLM_VERSIONS:
            raise ValueError(f"LiteLLM {value} was pulled from PyPI after a supply-chain compromise")
        return value

    @field_validator("system_user")
    @classmethod
    def _service_user(cls, value: str) -> str:
        return checks.check_service_user(value)

    @model_validator(mode="after")
    def _unique_hosts(self) -> "LiteLLMSettings":
        if self.deploy != "kubernetes" and not self.hosts:
            raise CrossCheckError([("litellm.hosts", f"required for litellm.deploy: {self.deploy} (at least one host)")])
        names = [h.name for h in self.hosts]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"host names must be unique; repeated: {', '.join(dupes)}")
        return self


ADMIT_ANY_KEY_WARNING = (
    "litellm.database_outage is admit_any_key: while PostgreSQL is unavailable the proxies may admit ANY "
    "bearer starting with 'sk-' (revoked, over budget or made up) with every model and no budget; "
    "only clients the network in front of the gateway admits can try (docs/security.md, \"Database outage\")"
)
