"""Bad input, as a new user would write it, is refused with one message naming the stack, the key
path and the fix (issue 9). Table-driven: each case is one distinct mistake on a committed stack.

A case changes the stack's config as the Pulumi CLI would hand it to the program (JSON text per
top-level key, secrets as secret config) and asserts:
- `load_settings` raises ConfigError (nothing crashes with another exception, nothing passes);
- exactly the expected number of problems (one unless said), each starting with
  "stack '<stack>': <key path>: " and containing the expected fix/expectation text;
- a secret value never appears in any message.
The loader's clock is pinned (NOW), as `expires` checks depend on it.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Optional

import pytest

from config.loader import ConfigError, load_settings
from offline.stack_inputs import PROJECT_DIR, load_stack_inputs
from tests.support.host_keys import placeholder_host_key
from tests.support.tls_material import make_server_cert, make_test_ca

P = "litellm-gateway"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
MASTER = "sk-test-master-key-abcdefghijklmnop"
DELETE = object()


@lru_cache(maxsize=None)
def _base(stack: str) -> tuple[dict[str, str], frozenset[str]]:
    inputs = load_stack_inputs(stack, secrets={"masterKey": MASTER})
    return dict(inputs.config), frozenset(inputs.secret_keys)


def _tokens(path: str) -> list[Any]:
    out: list[Any] = []
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path):
        out.append(int(index) if index else name)
    return out


def _set(container: Any, tokens: list[Any], value: Any) -> None:
    for t in tokens[:-1]:
        if isinstance(t, str) and t not in container:
            container[t] = {}
        container = container[t]
    if value is DELETE:
        del container[tokens[-1]]
    elif isinstance(container, list) and tokens[-1] == len(container):
        container.append(value)
    else:
        container[tokens[-1]] = value


def apply(stack: str, changes: dict[str, Any], secrets: dict[str, str]) -> tuple[dict[str, str], set[str]]:
    config, secret_keys = _base(stack)
    config, secret_keys = dict(config), set(secret_keys)
    for path, value in changes.items():
        tokens = _tokens(path)
        full = f"{P}:{tokens[0]}"
        if len(tokens) == 1:
            if value is DELETE:
                config.pop(full, None)
            else:
                config[full] = value if isinstance(value, str) else json.dumps(value)
            continue
        current = json.loads(config[full]) if full in config else ({} if isinstance(tokens[1], str) else [])
        current = copy.deepcopy(current)
        _set(current, tokens[1:], value)
        config[full] = json.dumps(current)
    for key, value in secrets.items():
        if key.startswith("envSecrets."):
            full = f"{P}:envSecrets"
            current = json.loads(config.get(full, "{}"))
            current[key.split(".", 1)[1]] = value
            config[full] = json.dumps(current)
        else:
            config[f"{P}:{key}"] = value
        secret_keys.add(f"{P}:{key.split('.', 1)[0]}")
    return config, secret_keys


@dataclass
class Case:
    id: str
    stack: str
    key: str  # the key path after "stack '<stack>': ", e.g. "litellm-gateway:litellm.version"
    fix: str  # text the message must contain: what is expected / how to fix it
    changes: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)  # values must never be echoed
    count: int = 1
    now: datetime = NOW
    stack_name: Optional[str] = None  # load under another stack name


def C(id: str, stack: str, key: str, fix: str, changes: Optional[dict] = None, **kw: Any) -> Case:
    return Case(id, stack, key if ":" in key else f"{P}:{key}", fix, changes or {}, **kw)


NL = "\n"
INJECT = "\nExecStartPre=+/bin/sh -c 'touch /tmp/pwned'"
SH = "\ntouch /tmp/pwned"
PATH_FIX = "letters, digits and . _ / + @ : - only"
USER_FIX = "expected a user name of a-z, 0-9, _ and -"
HOST_FIX = "expected a host name or an IP address"
LABEL_FIX = "expected a lower-case DNS label"
ZERO_FIX = "a zero duration is refused by LiteLLM (400)"
POOL = "raise postgres.connection_limit to at least"
ALERT_FIX = "the pinned LiteLLM knows: llm_exceptions, llm_too_slow"
GATEWAY_VAR_FIX = "is one of the gateway's own secrets"
SECRET_LINE_FIX = "contains a line break or NUL"
DEV_KEYS = "config/catalogs/dev.yaml: keys"
# a CA rotation's tls.previous_ca_cert (docs/runbook.md, "CA rotation")
OLD_CA, OLD_CA_KEY = make_test_ca("Old Internal CA (test)")
NEW_CA = make_test_ca("New Internal CA (test)")[0]
LEAF = make_server_cert(OLD_CA, OLD_CA_KEY, ["hx-litellm-server.hx.dev.local"])[0]

CASES: list[Case] = [
    # ---- full matches: a trailing newline is not accepted by any validated field ---------------
    C("version-blocked-with-newline", "dev", "litellm.version", "expected an exact LiteLLM release", {"litellm.version": "1.107.0\n"}),
    C("version-pinned-with-newline", "local", "litellm.version", "expected an exact LiteLLM release", {"litellm.version": "1.108.7\n"}),
    C("version-range", "local", "litellm.version", "no ranges", {"litellm.version": ">=1.108"}),
    C("version-blocked", "local", "litellm.version", "pulled from PyPI after a supply-chain compromise", {"litellm.version": "1.107.0"}),
    C("version-without-lock", "dev", "litellm.version", "LiteLLM 1.108.3 has no hashed lock (locks/litellm-1.108.3.lock); "
      "expected one of the releases with a lock: 1.108.7; add one with `make lock VERSION=1.108.3`", {"litellm.version": "1.108.3"}),
    C("kube-version-without-lock", "kube", "litellm.version", "LiteLLM 1.108.3 has no hashed lock (locks/litellm-1.108.3.lock); "
      "expected one of the releases with a lock: 1.108.7", {"litellm.version": "1.108.3"}),
    C("environment-newline", "dev", "environment", LABEL_FIX, {"environment": "dev\n"}),
    C("environment-upper", "local", "environment", LABEL_FIX, {"environment": "Local"}),
    C("domain-newline", "dev", "domain", "expected a lower-case DNS name", {"domain": "hx.dev.local\n"}),
    C("postgres-database-newline", "dev", "postgres.database", "expected a lower-case SQL identifier", {"postgres.database": "litellm\n"}),
    C("postgres-role-newline", "local", "postgres.role", "expected a lower-case SQL identifier", {"postgres.role": "litellm_local\n"}),
    C("postgres-role-quote", "local", "postgres.role", "expected a lower-case SQL identifier", {"postgres.role": 'lite"llm'}),
    C("model-id-newline", "local", "models[0].id", "expected an id of letters, digits", {"models[0].id": "local-llama3.2\n"}),
    C("model-id-space", "dev", "models[1].id", "expected an id of letters, digits", {"models[1].id": "ollama qwen"}),
    C("key-budget-duration-newline", "local", "keys[0].budget_duration", "expected a LiteLLM duration", {"keys[0].budget_duration": "1d\n"}),
    C("team-id-newline", "local", "teams[0].team_id", "should match pattern", {"teams": [{"team_id": "t1\n"}]}),
    C("key-alias-newline", "local", "keys[0].alias", "should match pattern", {"keys[0].alias": "local-dev\n"}),
    C("key-service-newline", "local", "keys[0].service", "should match pattern", {"keys[0].service": "local-dev\n"}),
    C("env-secret-name-newline", "dev", "envSecrets", "not valid environment variable names (A-Z, 0-9, _): 'EXTRA\\n'", secrets={"envSecrets.EXTRA\n": "v"}),
    C("api-key-env-name-newline", "dev", "models[3].api_key", "is not a valid environment variable name", {"models[3].api_key": "os.environ/OPENAI_API_KEY\n"}),
    C("host-name-newline", "dev", "litellm.hosts[0].name", LABEL_FIX, {"litellm.hosts[0].name": "hx-litellm-server\n"}),
    C("host-address-newline", "dev", "litellm.hosts[0].address", HOST_FIX, {"litellm.hosts[0].address": "192.168.10.20\n"}),
    C("postgres-host-newline", "dev", "postgres.host", HOST_FIX, {"postgres.host": "hx-postgres-server.hx.dev.local\n"}),
    C("redis-host-newline", "local", "redis.host", HOST_FIX, {"redis.host": "127.0.0.1\n"}),
    C("redis-ssh-host-newline", "dev", "redis.ssh_host", HOST_FIX, {"redis.ssh_host": "hx-redis-server\n"}),
    C("dns-zone-newline", "dev", "dns.zone", "expected a lower-case DNS name", {"dns.zone": "hx.dev.local\n"}),
    C("dns-server-newline", "dev", "dns.server", HOST_FIX, {"dns.server": "hx-dc-server.hx.dev.local\n"}),
    # the records are <host>.<domain>: a zone that is not the domain or a parent of it cannot hold them
    C("dns-zone-not-a-parent", "dev", "dns.zone", "expected the stack's domain 'hx.dev.local' or a parent zone of it", {"dns.zone": "corp.example.com"}),
    C("dns-zone-child-of-domain", "dev", "dns.zone", "expected the stack's domain 'hx.dev.local' or a parent zone of it", {"dns.zone": "lab.hx.dev.local"}),
    C("dns-zone-suffix-not-label", "dev", "dns.zone", "expected the stack's domain 'hx.dev.local' or a parent zone of it", {"dns.zone": "x.dev.local"}),
    C("service-name-newline", "dev", "litellm.service_name", LABEL_FIX, {"litellm.service_name": "litellm\n"}),
    C("proxy-budget-duration-newline", "dev", "observability.proxy_budget.budget_duration", "expected a LiteLLM duration", {"observability.proxy_budget.budget_duration": "30d\n"}),
    C("team-budget-duration-newline", "local", "teams[0].budget_duration", "expected a LiteLLM duration", {"teams": [{"team_id": "t1", "budget_duration": "30d\n"}]}),
    C("api-base-newline", "local", "models[0].api_base", "expected an http(s) URL", {"models[0].api_base": "http://127.0.0.1:11434\n"}),
    C("api-base-space", "local", "models[1].api_base", "expected an http(s) URL", {"models[1].api_base": "http://127.0.0.1:11434/ v1"}),
    C("api-base-scheme", "dev", "models[0].api_base", "expected an http(s) URL", {"models[0].api_base": "ollama:11434"}),
    C("stack-name-newline", "local", "stack", "should match pattern", stack_name="local\n"),
    # ---- paths: absolute on ssh hosts, safe characters everywhere -------------------------------
    C("install-dir-relative-ssh", "dev", "litellm.install_dir", "expected an absolute path such as /opt/litellm on an ssh deploy", {"litellm.install_dir": "opt/litellm"}),
    C("config-dir-relative-ssh", "dev", "litellm.config_dir", "expected an absolute path such as /opt/litellm on an ssh deploy", {"litellm.config_dir": "etc/litellm"}),
    C("cert-dir-relative-ssh", "dev", "tls.cert_dir", "relative paths are for deploy: local only", {"tls.cert_dir": "tls"}),
    C("install-dir-unit-injection", "dev", "litellm.install_dir", PATH_FIX, {"litellm.install_dir": "/opt/litellm" + INJECT}),
    C("config-dir-script-injection", "dev", "litellm.config_dir", PATH_FIX, {"litellm.config_dir": "/etc/litellm" + SH}),
    C("cert-dir-script-injection", "dev", "tls.cert_dir", PATH_FIX, {"tls.cert_dir": "/etc/litellm/tls" + SH}),
    C("install-dir-percent", "dev", "litellm.install_dir", PATH_FIX, {"litellm.install_dir": "/opt/%h/litellm"}),
    C("install-dir-space", "dev", "litellm.install_dir", PATH_FIX, {"litellm.install_dir": "/opt/lite llm"}),
    C("config-dir-quote", "dev", "litellm.config_dir", PATH_FIX, {"litellm.config_dir": "/etc/lite'llm"}),
    C("cert-dir-command-substitution", "dev", "tls.cert_dir", PATH_FIX, {"tls.cert_dir": "/etc/$(id)/tls"}),
    C("install-dir-dotdot", "dev", "litellm.install_dir", "must not contain '..'", {"litellm.install_dir": "/opt/../etc"}),
    C("install-dir-root", "dev", "litellm.install_dir", "expected a directory of its own", {"litellm.install_dir": "/"}),
    C("config-dir-backslash", "dev", "litellm.config_dir", PATH_FIX, {"litellm.config_dir": "/etc/lite\\llm"}),
    C("config-dir-glob", "dev", "litellm.config_dir", PATH_FIX, {"litellm.config_dir": "/etc/litellm*"}),
    C("local-install-dir-newline", "local", "litellm.install_dir", PATH_FIX, {"litellm.install_dir": ".litellm-local" + SH}),
    C("local-config-dir-semicolon", "local", "litellm.config_dir", PATH_FIX, {"litellm.config_dir": ".litellm-local/etc;id"}),
    C("local-cert-dir-dotdot", "local", "tls.cert_dir", "must not contain '..'", {"tls.cert_dir": "../tls"}),
    C("local-cert-dir-empty", "local", "tls.cert_dir", PATH_FIX, {"tls.cert_dir": ""}),
    C("local-install-dir-option", "local", "litellm.install_dir", "not starting with - + @", {"litellm.install_dir": "-rf"}),
    # ---- the service account --------------------------------------------------------------------
    C("system-user-root", "dev", "litellm.system_user", "the proxy must not run as root", {"litellm.system_user": "root"}),
    C("system-user-is-ssh-user", "dev", "litellm.system_user", "is the SSH deploy user (ssh.user)", {"litellm.system_user": "ansible"}),
    C("system-user-is-custom-ssh-user", "dev", "litellm.system_user", "use a dedicated account such as 'litellm'", {"litellm.system_user": "deployer", "ssh.user": "deployer"}),
    C("system-user-www-data", "dev", "litellm.system_user", "is an account that already exists on most hosts", {"litellm.system_user": "www-data"}),
    C("system-user-nobody", "dev", "litellm.system_user", "is an account that already exists on most hosts", {"litellm.system_user": "nobody"}),
    C("system-user-postgres", "dev", "litellm.system_user", "is an account that already exists on most hosts", {"litellm.system_user": "postgres"}),
    C("system-user-daemon", "dev", "litellm.system_user", "is an account that already exists on most hosts", {"litellm.system_user": "daemon"}),
    C("system-user-ubuntu", "dev", "litellm.system_user", "is an account that already exists on most hosts", {"litellm.system_user": "ubuntu"}),
    C("system-user-unit-injection", "dev", "litellm.system_user", USER_FIX, {"litellm.system_user": "litellm" + INJECT}),
    C("system-user-space", "dev", "litellm.system_user", USER_FIX, {"litellm.system_user": "lite llm"}),
    C("system-user-upper", "dev", "litellm.system_user", USER_FIX, {"litellm.system_user": "LiteLLM"}),
    C("system-user-percent", "dev", "litellm.system_user", USER_FIX, {"litellm.system_user": "lite%ullm"}),
    C("system-user-too-long", "dev", "litellm.system_user", USER_FIX, {"litellm.system_user": "l" * 33}),
    C("ssh-user-newline", "dev", "ssh.user", "expected a login name", {"ssh.user": "ansible\n"}),
    C("ssh-user-shell", "dev", "ssh.user", "expected a login name", {"ssh.user": "root;id"}),
    C("ssh-user-space", "dev", "ssh.user", "expected a login name", {"ssh.user": "first last"}),
    # ---- values in the unit's command line -------------------------------------------------------
    C("bind-host-unit-injection", "dev", "litellm.bind_host", HOST_FIX, {"litellm.bind_host": "0.0.0.0" + INJECT}),
    C("bind-host-specifier", "dev", "litellm.bind_host", HOST_FIX, {"litellm.bind_host": "%H"}),
    C("bind-host-extra-argument", "local", "litellm.bind_host", HOST_FIX, {"litellm.bind_host": "127.0.0.1 --debug"}),
    C("bind-host-variable", "local", "litellm.bind_host", HOST_FIX, {"litellm.bind_host": "$HOST"}),
    # ---- the gateway's own secrets are never a model's credential -------------------------------
    C("model-master-key", "local", "models[0]", GATEWAY_VAR_FIX, {"models[0].api_key": "os.environ/LITELLM_MASTER_KEY"}),
    C("model-salt-key", "local", "models[1]", GATEWAY_VAR_FIX, {"models[1].api_key": "os.environ/LITELLM_SALT_KEY"}),
    C("model-database-url", "dev", "models[3]", GATEWAY_VAR_FIX, {"models[3].api_key": "os.environ/DATABASE_URL"}),
    C("model-redis-password", "dev", "models[4]", GATEWAY_VAR_FIX, {"models[4].api_key": "os.environ/REDIS_PASSWORD"}),
    C("model-master-key-openai-compatible", "local", "models[0]", "use os.environ/<NAME>",
      {"models[0]": {"id": "x", "model_name": "llama3.2", "provider": "openai_compatible", "model": "m",
                     "api_base": "https://evil.example", "api_key": "os.environ/LITELLM_MASTER_KEY"}}),
    C("model-credential-name-env-ref", "dev", "models[3]", "not an os.environ/ reference",
      {"models[3].api_key": DELETE, "models[3].credential_name": "os.environ/DATABASE_URL"}),
    C("env-secret-overrides-master-key", "dev", "envSecrets.LITELLM_MASTER_KEY", "is set by the gateway itself", secrets={"envSecrets.LITELLM_MASTER_KEY": "sk-other-value-123"}),
    C("env-secret-overrides-database-url", "dev", "envSecrets.DATABASE_URL", "pulumi config rm --path envSecrets.DATABASE_URL", secrets={"envSecrets.DATABASE_URL": "postgresql://x"}),
    C("env-secret-overrides-mode", "local", "envSecrets.LITELLM_MODE", "is set by the gateway itself", secrets={"envSecrets.LITELLM_MODE": "DEV"}),
    C("env-secret-overrides-schema-update", "local", "envSecrets.DISABLE_SCHEMA_UPDATE", "is set by the gateway itself", secrets={"envSecrets.DISABLE_SCHEMA_UPDATE": "False"}),
    C("literal-api-key", "local", "models[0].api_key", "a credential must be a reference 'os.environ/NAME'", secrets={}, changes={"models[0].api_key": "hunter2-literal"}),
    C("secret-looking-plain-value", "local", "models[0].model", "looks like a literal secret", {"models[0].model": "sk-abcdefghijklmnopqrstuvwxyz"}),
    C("expires-not-a-date", "local", "keys[0].expires", "valid datetime", {"keys[0].expires": "next year"}),
    C("expires-go-time-without-zone", "local", "keys[0].expires", "valid datetime", {"keys[0].expires": "2027-06-30 00:00:00 +0000"}),
    # ---- zero durations ---------------------------------------------------------------------------
    C("key-duration-0d", "local", "keys[0].budget_duration", ZERO_FIX, {"keys[0].budget_duration": "0d"}),
    C("key-duration-0s", "local", "keys[0].budget_duration", ZERO_FIX, {"keys[0].budget_duration": "0s"}),
    C("key-duration-00h", "local", "keys[0].budget_duration", ZERO_FIX, {"keys[0].budget_duration": "00h"}),
    C("key-duration-0mo", "local", "keys[0].budget_duration", ZERO_FIX, {"keys[0].budget_duration": "0mo"}),
    C("key-duration-0m", "local", "keys[0].budget_duration", ZERO_FIX, {"keys[0].budget_duration": "0m"}),
    C("team-duration-0w", "local", "teams[0].budget_duration", ZERO_FIX, {"teams": [{"team_id": "t1", "budget_duration": "0w"}]}),
    C("proxy-budget-duration-0d", "dev", "observability.proxy_budget.budget_duration", ZERO_FIX, {"observability.proxy_budget.budget_duration": "0d"}),
    C("key-duration-unit", "local", "keys[0].budget_duration", "such as '30s', '1h', '7d', '1mo'", {"keys[0].budget_duration": "30 days"}),
    # ---- the database pool must fit the role's connection limit ---------------------------------
    C("pool-workers", "dev", "postgres.connection_limit", "8 workers x 10 connections (litellm.database_connection_pool_limit) x 1 host(s) = 80 exceeds connection_limit 50; " + POOL + " 80", {"litellm.workers": 8}),
    C("pool-per-worker", "dev", "postgres.connection_limit", "4 workers x 20 connections", {"litellm.database_connection_pool_limit": 20}),
    C("pool-hosts", "dev", "postgres.connection_limit", "x 2 host(s) = 80 exceeds connection_limit 50",
      {"litellm.hosts[1]": {"name": "hx-litellm-server-2", "address": "192.168.10.21", "host_key": placeholder_host_key("hx-litellm-server-2")},
       "frontDoor": {"address": "192.168.10.30", "host_key": placeholder_host_key("litellm-lb")}}),  # several hosts: the front door (issue 8)
    C("pool-low-limit", "local", "postgres.connection_limit", "1 workers x 10 connections (litellm.database_connection_pool_limit) x 1 host(s) = 10 exceeds connection_limit 5", {"postgres.connection_limit": 5}),
    # ---- a drain shorter than the longest completion (issue 15) -----------------------------------
    C("drain-below-routing-timeout", "dev-ha", "rollout.drain_timeout_seconds",
      "60 s is below routing.timeout (120 s): a rollout would restart a proxy while a completion", {"rollout.drain_timeout_seconds": 60}),
    # ---- TLS off on an ssh deploy -----------------------------------------------------------------
    C("tls-off-ssh", "dev", "tls.enabled", "set tls.allow_plaintext: true to accept that explicitly", {"tls.enabled": False}),
    C("tls-off-ssh-explicit-no", "dev", "tls.enabled", "master key and every virtual key over the network in clear", {"tls": {"enabled": False, "allow_plaintext": False}}),
    C("tls-allow-plaintext-typo", "dev", "tls.allow_plain_text", "unknown key (a typo?)", {"tls.allow_plain_text": True}),
    # ---- alert types --------------------------------------------------------------------------
    C("alert-type-typo", "dev", "observability.alerting.alert_types[0]", ALERT_FIX, {"observability.alerting.alert_types[0]": "llm_exception"}),
    C("alert-type-unknown", "dev", "observability.alerting.alert_types[2]", ALERT_FIX, {"observability.alerting.alert_types[2]": "budget"}),
    C("alert-type-empty", "dev", "observability.alerting.alert_types[1]", "unknown alert type ''", {"observability.alerting.alert_types[1]": ""}),
    C("alert-type-upper", "dev", "observability.alerting.alert_types[3]", ALERT_FIX, {"observability.alerting.alert_types[3]": "DB_EXCEPTIONS"}),
    C("alert-channel-unknown", "dev", "observability.alerting.channels[0]", "'slack' or 'email'", {"observability.alerting.channels[0]": "teams"}),
    # ---- what used to crash -------------------------------------------------------------------
    C("redis-user-default-managed", "dev", "redis", "set user to a dedicated name such as 'litellm'", {"redis.user": "default"}),
    C("redis-user-space", "dev", "redis.user", "expected a Redis ACL user name", {"redis.user": "lite llm"}),
    C("redis-user-newline", "dev", "redis.user", "no spaces", {"redis.user": "litellm\n"}),
    C("redis-user-unmanaged-space", "local", "redis.user", "expected a Redis ACL user name", {"redis.user": "my user"}),
    C("cache-namespace-space", "dev", "cache.namespace", "no spaces or glob characters", {"cache.namespace": "litellm dev"}),
    C("cache-namespace-glob", "dev", "cache.namespace", "which would widen the Redis key pattern", {"cache.namespace": "litellm.*"}),
    C("cache-namespace-newline", "local", "cache.namespace", "e.g. 'litellm.dev.cache'", {"cache.namespace": "ns\n"}),
    C("env-secret-value-newline", "dev", "envSecrets.OPENAI_API_KEY", "pulumi config set --secret --path 'envSecrets.OPENAI_API_KEY'", secrets={"envSecrets.OPENAI_API_KEY": "sk-line-one\nEVIL=1"}),
    C("env-secret-value-cr", "dev", "envSecrets.SLACK_WEBHOOK_URL", SECRET_LINE_FIX, secrets={"envSecrets.SLACK_WEBHOOK_URL": "https://example.invalid/x\rY"}),
    C("env-secret-extra-value-nul", "local", "envSecrets.LANGFUSE_HOST", SECRET_LINE_FIX, secrets={"envSecrets.LANGFUSE_HOST": "http://a\x00b"}),
    C("dns-password-newline", "dev", "dnsAdminPassword", "pulumi config set --secret dnsAdminPassword", secrets={"dnsAdminPassword": "pa55\npassword=other"}),
    C("master-key-newline", "local", "masterKey", SECRET_LINE_FIX, secrets={"masterKey": "sk-abcdef\nLITELLM_MODE=DEV"}),
    C("salt-key-newline", "local", "saltKey", "pulumi config set --secret saltKey", secrets={"saltKey": "s4lt-v4lue\nmore-of-it"}),
    C("redis-password-newline", "dev", "redisPassword", SECRET_LINE_FIX, secrets={"redisPassword": "pw\r\nX=1"}),
    C("dns-admin-user-newline", "dev", "dns.admin_user", "should match pattern", {"dns.admin_user": "Administrator\npassword=x"}),
    C("dns-admin-user-space", "dev", "dns.admin_user", "should match pattern", {"dns.admin_user": "Domain Admin"}),
    # ---- other mistakes a new user makes --------------------------------------------------------
    C("port-zero", "local", "litellm.port", "greater than or equal to 1", {"litellm.port": 0}),
    C("port-text", "dev", "litellm.port", "valid integer", {"litellm.port": "four-thousand"}),
    C("workers-zero", "local", "litellm.workers", "greater than or equal to 1", {"litellm.workers": 0}),
    C("readiness-too-short", "local", "litellm.readiness_timeout_seconds", "greater than or equal to 5", {"litellm.readiness_timeout_seconds": 1}),
    C("deploy-unknown", "local", "litellm.deploy", "'ssh', 'local' or 'kubernetes'", {"litellm.deploy": "docker"}),
    C("hosts-empty", "local", "litellm.hosts", "at least 1 item", {"litellm.hosts": []}),
    C("hosts-duplicate", "dev", "litellm", "host names must be unique; repeated: hx-litellm-server",
      {"litellm.hosts[1]": {"name": "hx-litellm-server", "address": "192.168.10.21"}, "litellm.workers": 1}),
    C("ssh-port-too-big", "dev", "ssh.port", "less than or equal to 65535", {"ssh.port": 70000}),
    C("sslmode-unknown", "dev", "postgres.sslmode", "'require'", {"postgres.sslmode": "on"}),
    C("tls-validity-short", "dev", "tls.validity_hours", "greater than or equal to 24", {"tls.validity_hours": 1}),
    C("tls-renewal-too-late", "dev", "tls", "early_renewal_hours must be shorter than validity_hours", {"tls.early_renewal_hours": 9000}),
    C("tls-issuer-unknown", "dev", "tls.issuer", "Input should be 'internal-ca', 'self-signed' or 'provided' (got 'letsencrypt')", {"tls.issuer": "letsencrypt"}),
    C("redis-acl-without-user", "dev", "redis", "manage_acl needs 'user'", {"redis.user": DELETE}),
    C("redis-admin-user-unmanaged", "local", "redis", "admin_user is the user that manages the ACL user: it needs manage_acl: true",
      {"redis.admin_user": "gw-admin"}),
    C("redis-admin-user-is-the-acl-user", "dev", "redis", "admin_user 'litellm' is the ACL user manage_acl resets (its password "
      "and rules): give the admin user another name", {"redis.admin_user": "litellm"}),
    C("redis-admin-user-space", "dev", "redis.admin_user", "expected a Redis ACL user name", {"redis.admin_user": "gw admin"}),
    C("redis-admin-user-without-password", "dev", "redisAdminPassword", "is the password of the Redis admin user 'gw-admin' "
      "redis-cli logs in as to manage the ACL user (redis.admin_user)", {"redis.admin_user": "gw-admin"}),
    C("redis-admin-password-unmanaged", "local", "redisAdminPassword", "is only used to manage the Redis ACL user "
      "(redis.manage_acl: true); remove it (`pulumi config rm redisAdminPassword`) or set redis.manage_acl: true",
      secrets={"redisAdminPassword": "s3cret-admin"}),
    C("redis-admin-password-newline", "dev", "redisAdminPassword", SECRET_LINE_FIX, secrets={"redisAdminPassword": "adm\nX=1"}),
    C("dns-without-server", "dev", "dns", "'server' (the Samba AD domain controller) is required", {"dns.server": DELETE}),
    C("dns-on-local-deploy", "local", "dns.enabled", "turn DNS off for a local deploy", {"dns": {"enabled": True, "server": "dc.local"}}),
    C("model-provider-unknown", "local", "models[0].provider", "'ollama_chat'", {"models[0].provider": "olama"}),
    C("model-unknown-key", "local", "models[0].rmp", "unknown key (a typo?); expected one of:", {"models[0].rmp": 10}),
    C("ollama-without-api-base", "local", "models[0]", "an Ollama deployment needs 'api_base'", {"models[0].api_base": DELETE}),
    C("fallback-to-itself", "local", "routing.fallbacks.llama3.2", "falls back to itself", {"routing.fallbacks": {"llama3.2": ["llama3.2"]}}),
    C("fallback-list-form", "local", "routing.fallbacks", "expected a map of public model name", {"routing.fallbacks": [{"model": "llama3.2", "fallback": "qwen2.5"}]}),
    C("key-rotation-zero", "local", "keys[0].rotate_after_days", "greater than or equal to 1", {"keys[0].rotate_after_days": 0}),
    C("key-unknown-team", "local", "keys[0].team", "is not a team in the catalog", {"keys[0].team": "nobody"}),
    C("key-negative-budget", "local", "keys[0].max_budget", "greater than or equal to 0", {"keys[0].max_budget": -1}),
    C("api-models-without-postgres", "local", "litellm.model_source", "'api' stores models in the database: enable postgres",
      {"litellm.model_source": "api", "postgres.enabled": False, "keys": []}),
    C("cache-without-redis", "local", "cache.enabled", "the response cache needs redis.enabled: true", {"redis.enabled": False}),
    C("master-key-prefix", "local", "masterKey", "LiteLLM requires the master key to start with 'sk-'", secrets={"masterKey": "not-an-sk-SECRETVALUE"}),
    C("unknown-top-level-key", "local", "litelm", "unknown config key", {"litelm": {"port": 4000}}),
    # ---- issue 16: the front door's inputs and addresses (each was an injection into haproxy.cfg or
    # a root script on the front door host) ----------------------------------------------------
    C("fd-config-dir-injection", "dev-ha", "frontDoor", "config_dir is not a setting", {"frontDoor.config_dir": "/etc/haproxy\ntouch /tmp/pwned"}),
    C("fd-config-dir-etc", "dev-ha", "frontDoor", "always loads /etc/haproxy/haproxy.cfg", {"frontDoor.config_dir": "/etc"}),
    C("fd-admin-socket-tcp", "dev-ha", "frontDoor.admin_socket", "directly under /run/haproxy/",
      {"frontDoor.admin_socket": "/run/haproxy/admin.sock level admin\n    stats socket ipv4@0.0.0.0:9999"}),
    C("fd-admin-socket-elsewhere", "dev-ha", "frontDoor.admin_socket", "directly under /run/haproxy/", {"frontDoor.admin_socket": "/tmp/admin.sock"}),
    C("fd-admin-socket-traversal", "dev-ha", "frontDoor.admin_socket", "directly under /run/haproxy/", {"frontDoor.admin_socket": "/run/haproxy/../admin.sock"}),
    C("fd-admin-socket-space", "dev-ha", "frontDoor.admin_socket", "directly under /run/haproxy/", {"frontDoor.admin_socket": "/run/haproxy/a b.sock"}),
    C("fd-name-space", "dev-ha", "frontDoor.name", LABEL_FIX, {"frontDoor.name": "lb one"}),
    # ---- behind the front door (ssh): each proxy and its drain agent on the host's own address ------
    C("fd-agent-port-is-proxy-port", "dev-ha", "frontDoor.agent_port", "a port number other than 4000", {"frontDoor.agent_port": 4000}),
    C("fd-agent-port-zero", "dev-ha", "frontDoor.agent_port", "greater than or equal to 1", {"frontDoor.agent_port": 0}),
    C("fd-agent-port-high", "dev-ha", "frontDoor.agent_port", "less than or equal to 65535", {"frontDoor.agent_port": 70000}),
    C("fd-agent-port-text", "dev-ha", "frontDoor.agent_port", "valid integer", {"frontDoor.agent_port": "4001 check"}),
    C("fd-host-address-name", "dev-ha", "litellm.hosts[0].address", "must be the host's IP address",
      {"litellm.hosts[0].address": "hx-litellm-server.hx.dev.local"}),
    C("fd-address-name", "dev-ha", "frontDoor.address", "must be the front door host's IP address",
      {"frontDoor.address": "hx-litellm-lb.hx.dev.local"}),
    C("fd-bind-host-ignored", "dev-ha", "litellm.bind_host", "remove litellm.bind_host", {"litellm.bind_host": "192.168.10.20"}),
    C("fd-address-scope-id", "dev-ha", "frontDoor.address", "IPv6 scope ids", {"frontDoor.address": "fe80::1%lo"}),
    C("host-address-scope-id-injection", "dev-ha", "litellm.hosts[0].address", "IPv6 scope ids",
      {"litellm.hosts[0].address": "fe80::1%lo:4000 init-addr none #\n    server evil 203.0.113.9:80"}),
    C("host-address-scope-id-space", "dev", "litellm.hosts[0].address", "IPv6 scope ids", {"litellm.hosts[0].address": "fe80::1%eth0 check"}),
    C("host-address-slash", "dev", "litellm.hosts[0].address", HOST_FIX, {"litellm.hosts[0].address": "192.168.10.20/24"}),
    C("host-address-port", "dev", "litellm.hosts[0].address", HOST_FIX, {"litellm.hosts[0].address": "192.168.10.20:4000"}),
    C("host-address-leading-zero", "dev", "litellm.hosts[0].address", "all-digit", {"litellm.hosts[0].address": "192.168.010.020"}),
    C("host-address-ipv6-upper", "dev", "litellm.hosts[0].address", HOST_FIX, {"litellm.hosts[0].address": "2001:DB8::20"}),
    C("host-address-ipv6-long-form", "dev", "litellm.hosts[0].address", HOST_FIX, {"litellm.hosts[0].address": "2001:0db8:0:0:0:0:0:20"}),
    C("host-address-hash", "dev", "litellm.hosts[0].address", HOST_FIX, {"litellm.hosts[0].address": "hx-litellm-server#x"}),
    C("host-address-backslash-hex", "dev-ha", "litellm.hosts[1].address", HOST_FIX, {"litellm.hosts[1].address": "a\\x2fb"}),
    C("bind-host-scope-id", "dev", "litellm.bind_host", "IPv6 scope ids", {"litellm.bind_host": "::%lo #"}),
    C("postgres-host-scope-id", "dev", "postgres.host", "IPv6 scope ids", {"postgres.host": "fe80::5%eth0\nhost all all 0.0.0.0/0 trust"}),
    C("postgres-host-octal-looking", "dev", "postgres.host", "all-digit", {"postgres.host": "010.0.0.1"}),
    C("redis-host-scope-id", "dev", "redis.host", "IPv6 scope ids", {"redis.host": "fe80::6%lo"}),
    C("redis-ssh-host-space", "dev", "redis.ssh_host", HOST_FIX, {"redis.ssh_host": "hx-redis-server -oProxyCommand=id"}),
    C("dns-server-scope-id", "dev", "dns.server", "IPv6 scope ids", {"dns.server": "fe80::7%lo"}),
    C("dns-server-upper", "dev", "dns.server", HOST_FIX, {"dns.server": "HX-DC.hx.dev.local"}),
    # ---- issue 16: credentials in URLs, the master key in clear, names that look alike -----------
    C("api-base-userinfo", "dev", "models[0].api_base", "must not carry credentials", {"models[0].api_base": "http://user:pw@hx-ollama-server.hx.dev.local:11434"}),
    C("api-base-query-key", "dev", "models[0].api_base", "must not carry a query", {"models[0].api_base": "https://api.example.com/v1?api-key=abc"}),
    C("api-base-fragment", "dev", "models[0].api_base", "must not carry a query or fragment", {"models[0].api_base": "http://hx-ollama-server.hx.dev.local:11434/#x"}),
    C("api-base-percent", "dev", "models[0].api_base", "no %-escapes", {"models[0].api_base": "http://hx-ollama-server.hx.dev.local:11434/a%0Ab"}),
    C("api-base-bad-port", "dev", "models[0].api_base", "the port must be a number", {"models[0].api_base": "http://hx-ollama-server.hx.dev.local:99999"}),
    C("api-base-scope-id-host", "dev", "models[0].api_base", "the URL's host", {"models[0].api_base": "http://[fe80::1%25lo]:11434"}),
    C("admin-url-http-remote", "dev", "adminUrl", "would send the master key over the network in clear", {"adminUrl": "http://litellm.hx.dev.local:4000"}),
    C("admin-url-userinfo", "dev", "adminUrl", "must not carry credentials", {"adminUrl": "https://admin:pw@litellm.hx.dev.local:4000"}),
    C("admin-url-not-a-url", "dev", "adminUrl", "expected an http(s) URL", {"adminUrl": "litellm.hx.dev.local:4000"}),
    C("model-name-zero-width", "local", "models[0].model_name", "expected a model name of", {"models[0].model_name": "llama3.2\u200b"}),
    C("model-name-bidi", "local", "models[0].model_name", "expected a model name of", {"models[0].model_name": "\u202ellama3.2"}),
    C("model-name-space", "local", "models[0].model_name", "no spaces", {"models[0].model_name": "llama 3.2"}),
    C("upstream-model-newline", "local", "models[0].model", "expected a model name of", {"models[0].model": "llama3.2\nx"}),
    C("team-alias-newline", "local", "teams[0].alias", "printable ASCII", {"teams": [{"team_id": "t1", "alias": "Team\nOne"}]}),
    C("key-team-newline", "local", "keys[0].team", "should match pattern", {"keys[0].team": "t1\n"}),
    C("postgres-admin-user-space", "dev", "postgres.admin_user", "no spaces or quotes", {"postgres.admin_user": "postgres admin"}),
    C("postgres-admin-database-quote", "dev", "postgres.admin_database", "no spaces or quotes", {"postgres.admin_database": "post'gres"}),
    C("host-key-comment-with-spaces", "dev", "litellm.hosts[0].host_key", "a one-word comment",
      {"litellm.hosts[0].host_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPbkhVEwUqmtloCDPvW5dCQlP52k8jOrSQpacvO6KNgN two words"}),
    C("tls-ca-cert-trailing-text", "dev", "tlsCaCert", "expected PEM certificates only",
      {"tlsCaCert": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\nx"}),
    C("front-door-with-one-host-ssh", "dev", "frontDoor.with_one_host", "is for litellm.deploy: local, not ssh (an ssh deploy "
      "moves the service name between host 1 and the front door instead", {"frontDoor.with_one_host": True}),
    C("front-door-with-one-host-same-address", "local", "litellm.hosts[0].address", "local hosts behind the front door need "
      "distinct loopback addresses (127.0.0.x) other than the front door's 127.0.0.1", {"frontDoor.with_one_host": True}),
    # ---- a CA rotation: the front door's trust of the CA being replaced (issue 15) ---------------
    C("previous-ca-trailing-text", "dev-ha", "tls.previous_ca_cert", "expected PEM certificates only", {"tls.previous_ca_cert": OLD_CA + "x"}),
    C("previous-ca-unreadable", "dev-ha", "tls.previous_ca_cert", "is not a readable certificate: expected the PEM certificate of the CA being replaced",
      {"tls.previous_ca_cert": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"}),
    C("previous-ca-is-a-leaf", "dev-ha", "tls.previous_ca_cert",
      "'CN=hx-litellm-server.hx.dev.local,O=test' is not a CA certificate (no basicConstraints CA:TRUE): expected the certificate "
      "of the CA being replaced", {"tls.previous_ca_cert": LEAF}),
    C("previous-ca-is-the-current-one", "dev-ha", "tls.previous_ca_cert",
      "'CN=New Internal CA (test),O=test' is the current CA (tlsCaCert): expected the CA being replaced; remove previous_ca_cert "
      "once every host has a certificate from tlsCaCert", {"tls.previous_ca_cert": NEW_CA, "tlsCaCert": NEW_CA}),
    C("previous-ca-without-front-door", "dev", "tls.previous_ca_cert",
      "this stack has no front door (one host or no hosts: nothing verifies a host against it); remove previous_ca_cert",
      {"tls.previous_ca_cert": OLD_CA}),
    C("previous-ca-tls-off", "dev-ha", "tls.previous_ca_cert", "and TLS is off; set tls.enabled: true, or remove previous_ca_cert",
      {"tls": {"enabled": False, "allow_plaintext": True, "previous_ca_cert": OLD_CA}}),
    C("kube-context-space", "kube", "kubernetes.context", "expected one word", {"kubernetes.context": "prod cluster"}),
    C("kube-image-tag-newline", "kube", "kubernetes.image.tag", "expected an image tag", {"kubernetes.image.tag": "main-v1.108.7\n"}),
    # ---- model_info / litellm_params checked against the pinned LiteLLM's types (issue 20) -------
    C("litellm-param-unknown", "dev", "models[0].litellm_params",
      "unknown key 'keepalive' (did you mean keep_alive, keepalive_seconds?); LiteLLM 1.108.7 accepts in litellm_params for provider ollama_chat: ",
      {"models[0].litellm_params.keepalive": "5m"}),
    C("litellm-param-ollama-option-on-openai", "dev", "models[3].litellm_params",
      "'num_ctx' is an Ollama option (providers ollama, ollama_chat), not a litellm_param of provider openai",
      {"models[3].litellm_params": {"num_ctx": 8192}}),
    C("litellm-param-duplicates-field", "dev", "models[3].litellm_params",
      "'api_base' is a field of the deployment itself: set the deployment's `api_base` instead",
      {"models[3].litellm_params": {"api_base": "https://api.openai.com/v1"}}),
    C("litellm-param-model", "dev", "models[0].litellm_params",
      "'model' is a field of the deployment itself: set the deployment's `provider and model` instead",
      {"models[0].litellm_params.model": "ollama_chat/llama3.3"}),
    C("litellm-param-literal-credential", "dev", "models[3].litellm_params",
      "'client_secret' is a credential: give an os.environ/NAME reference (its value set with `pulumi config set --secret --path envSecrets.NAME`), never the value itself",
      {"models[3].litellm_params": {"client_secret": "hunter2-literal-value"}}),
    C("litellm-param-gateway-secret", "dev", "models[3].litellm_params",
      "'aws_secret_access_key': os.environ/LITELLM_SALT_KEY is one of the gateway's own secrets",
      {"models[3].litellm_params": {"aws_secret_access_key": "os.environ/LITELLM_SALT_KEY"}}),
    C("litellm-param-wrong-type", "dev", "models[0].litellm_params", "'num_ctx': expected a whole number",
      {"models[0].litellm_params.num_ctx": "8k"}),
    C("litellm-param-tags-not-list", "dev", "models[3].litellm_params", "'tags': expected a list of words",
      {"models[3].litellm_params": {"tags": "eu"}}),
    C("litellm-param-tag-space", "dev", "models[3].litellm_params", "'tags': expected one word",
      {"models[3].litellm_params": {"tags": ["eu west"]}}),
    C("litellm-param-order-bool", "dev", "models[3].litellm_params", "'order': expected a whole number",
      {"models[3].litellm_params": {"order": True}}),
    C("litellm-param-system-prompt", "dev", "models[0].litellm_params",
      "'system' is a free-text prompt: put it in the request or the Ollama Modelfile",
      {"models[0].litellm_params.system": "You are helpful"}),
    C("model-info-mode-unknown", "dev", "models[2].model_info",
      "'mode': expected one of chat, completion, embedding, audio_speech, audio_transcription, image_generation, image_edit, video_generation, rerank, realtime, batch, responses, anthropic_messages, ocr, decisions",
      {"models[2].model_info.mode": "embeddings"}),
    C("model-info-unknown", "dev", "models[2].model_info",
      "unknown key 'input_cost_per_tokens' (did you mean input_cost_per_token", {"models[2].model_info.input_cost_per_tokens": 0.1}),
    C("model-info-id", "dev", "models[2].model_info", "'id' is the deployment's `id`", {"models[2].model_info.id": "other"}),
    C("model-info-cost-text", "dev", "models[2].model_info", "'input_cost_per_token': expected a number",
      {"models[2].model_info.input_cost_per_token": "free"}),
    C("model-info-env-ref", "dev", "models[2].model_info",
      "'base_model': os.environ/ references are resolved only in litellm_params, not here",
      {"models[2].model_info.base_model": "os.environ/BASE_MODEL"}),
    C("litellm-param-env-ref-needs-secret", "dev", "envSecrets.AZURE_API_VERSION",
      "missing required secret (the rendered config references os.environ/AZURE_API_VERSION)",
      {"models[3].litellm_params": {"api_version": "os.environ/AZURE_API_VERSION"}}),
    # ---- the Admin UI (issue 20) -----------------------------------------------------------------
    C("admin-ui-without-username", "local", "adminUi",
      "an enabled Admin UI needs 'username' (its password: `pulumi config set --secret uiPassword`); LiteLLM would otherwise let 'admin' sign in with the master key",
      {"adminUi": {"enabled": True}}),
    C("admin-ui-username-space", "dev", "adminUi.username", "expected a login name", {"adminUi.username": "gateway admin"}),
    C("admin-ui-username-when-off", "local", "adminUi", "username and sso apply only with enabled: true",
      {"adminUi": {"username": "gateway-admin"}}),
    C("admin-ui-password-missing", "dev", "uiPassword",
      "missing required secret (is the Admin UI password of 'gateway-admin' (adminUi.enabled); never the master key); set it with `pulumi config set --secret uiPassword <value>`",
      {"uiPassword": DELETE}),
    C("admin-ui-password-is-master-key", "dev", "uiPassword",
      "is the master key: the Admin UI password must be its own", secrets={"uiPassword": MASTER}),
    C("admin-ui-password-short", "dev", "uiPassword", "the Admin UI password must have at least 12 characters (value not shown)",
      secrets={"uiPassword": "short-pw1"}),
    C("admin-ui-password-plain", "local", "uiPassword", "is a secret: set it with `pulumi config set --secret uiPassword ...`",
      {"uiPassword": "a-plain-text-ui-password"}),
    C("admin-ui-password-newline", "dev", "uiPassword", "the value contains a line break or NUL",
      secrets={"uiPassword": "first-line-of-it\nsecond"}),
    C("admin-ui-sso-generic-missing-endpoints", "dev", "adminUi.sso",
      "provider generic needs authorization_endpoint, token_endpoint, userinfo_endpoint",
      {"adminUi.sso": {"provider": "generic", "client_id": "litellm"}}),
    C("admin-ui-sso-microsoft-without-tenant", "dev", "adminUi.sso", "provider microsoft needs tenant",
      {"adminUi.sso": {"provider": "microsoft", "client_id": "0000-1111"}}),
    C("admin-ui-sso-endpoint-http", "dev", "adminUi.sso.token_endpoint", "expected an https:// URL",
      {"adminUi.sso": {"provider": "generic", "client_id": "litellm", "authorization_endpoint": "https://idp.example/auth",
                       "token_endpoint": "http://idp.example/token", "userinfo_endpoint": "https://idp.example/userinfo"}}),
    C("admin-ui-sso-unknown-provider", "dev", "adminUi.sso.provider", "'google', 'microsoft' or 'generic'",
      {"adminUi.sso": {"provider": "okta", "client_id": "litellm"}}),
    C("admin-ui-sso-scope-newline", "dev", "adminUi.sso.scope", "expected OAuth scopes separated by single spaces",
      {"adminUi.sso": {"provider": "generic", "client_id": "litellm", "authorization_endpoint": "https://idp.example/auth",
                       "token_endpoint": "https://idp.example/token", "userinfo_endpoint": "https://idp.example/userinfo",
                       "scope": "openid\nemail"}}),
    C("admin-ui-sso-tenant-for-google", "dev", "adminUi.sso", "tenant: not used by provider google",
      {"adminUi.sso": {"provider": "google", "client_id": "x.apps.googleusercontent.com", "tenant": "t1"}}),
    C("admin-ui-sso-secret-missing", "dev", "uiSsoClientSecret",
      "missing required secret (is the OAuth client secret of the Admin UI's google SSO)",
      {"adminUi.sso": {"provider": "google", "client_id": "x.apps.googleusercontent.com"}}),
    C("admin-ui-env-secret-override", "dev", "envSecrets.UI_PASSWORD", "is set by the gateway itself on the host (its env file or unit)",
      secrets={"envSecrets.UI_PASSWORD": "an-override-attempt"}),
    # the UI a stack turned off must not come back through the proxy's UI directory (rendering.admin_ui_dirs)
    C("admin-ui-path-env-secret", "dev", "envSecrets.LITELLM_UI_PATH", "pulumi config rm --path envSecrets.LITELLM_UI_PATH",
      secrets={"envSecrets.LITELLM_UI_PATH": "/opt/litellm/venvs/x/litellm-ui"}),
    C("admin-ui-password-as-model-key", "dev", "models[3]", GATEWAY_VAR_FIX, {"models[3].api_key": "os.environ/UI_PASSWORD"}),
    # ---- issue 19: Kubernetes for production clusters ------------------------------------------
    C("kube-ingress-timeout-given", "kube", "kubernetes.ingress.annotations.nginx.ingress.kubernetes.io/proxy-read-timeout",
      "derived from routing.timeout x (1 + num_retries)", {"kubernetes.ingress.annotations": {"nginx.ingress.kubernetes.io/proxy-read-timeout": "300"}}),
    C("kube-request-window-too-long", "kube", "routing.timeout", "= 3900 s before it stops", {"routing.timeout": 1300}),
    C("kube-graceful-env-secret", "kube", "envSecrets.GRACEFUL_SHUTDOWN_TIMEOUT", "set by the gateway in every pod",
      secrets={"envSecrets.GRACEFUL_SHUTDOWN_TIMEOUT": "999"}),
    C("kube-no-context", "kube", "kubernetes.context", "required: the kubeconfig context this stack deploys to", {"kubernetes.context": DELETE}),
    C("kube-skip-await-text", "kube", "kubernetes.ingress.skip_await", "valid boolean", {"kubernetes.ingress.skip_await": "maybe"}),
    C("kube-service-name-digit", "kube", "litellm.service_name", "names the Service, which must start with a letter (a DNS-1035 label",
      {"litellm.service_name": "1litellm"}),
    C("kube-service-name-job-too-long", "kube", "litellm.service_name",
      "the migration Job 'litellm-gateway-for-the-platform-ai-team-prod-migrate-<digest>' would be 64 characters; a Job name is at most 63",
      {"litellm.service_name": "litellm-gateway-for-the-platform-ai-team-prod"}),
    C("kube-memory-request-above-limit", "kube", "kubernetes.resources", "memory_request (3Gi) must not exceed memory_limit (2Gi)",
      {"kubernetes.resources.memory_request": "3Gi"}),
    C("kube-cpu-request-above-limit", "kube", "kubernetes.resources", "cpu_request (500m) must not exceed cpu_limit (0.25)",
      {"kubernetes.resources.cpu_limit": "0.25"}),
    C("kube-memory-milli-bytes", "kube", "kubernetes.resources.memory_limit", "a lower-case 'm' is milli-bytes: write 'Mi'",
      {"kubernetes.resources.memory_limit": "2048m"}),
    C("kube-memory-quantity-space", "kube", "kubernetes.resources.memory_request", "expected a memory quantity such as '512Mi', '1.5Gi'",
      {"kubernetes.resources.memory_request": "1.5 Gi"}),
    C("kube-image-digest-short", "kube", "kubernetes.image.digest", "expected an image digest 'sha256:' followed by 64 lower-case hex digits",
      {"kubernetes.image.digest": "sha256:abc123"}),
    C("kube-image-digest-upper", "kube", "kubernetes.image.digest", "64 lower-case hex digits",
      {"kubernetes.image.digest": "sha256:" + "A" * 64}),
    C("kube-node-selector-key", "kube", "kubernetes.node_selector", "'node pool': expected a label key name", {"kubernetes.node_selector": {"node pool": "ai"}}),
    C("kube-node-selector-value", "kube", "kubernetes.node_selector", "'ai/gpu': expected a label value", {"kubernetes.node_selector": {"pool": "ai/gpu"}}),
    C("kube-toleration-exists-value", "kube", "kubernetes.tolerations[0]", "operator Exists takes no value",
      {"kubernetes.tolerations": [{"key": "dedicated", "operator": "Exists", "value": "ai"}]}),
    C("kube-toleration-seconds", "kube", "kubernetes.tolerations[0]", "toleration_seconds applies only to effect NoExecute",
      {"kubernetes.tolerations": [{"key": "dedicated", "value": "ai", "effect": "NoSchedule", "toleration_seconds": 60}]}),
    C("kube-toleration-equal-no-key", "kube", "kubernetes.tolerations[0]", "operator Equal needs a key",
      {"kubernetes.tolerations": [{"value": "ai"}]}),
    C("kube-affinity-no-values", "kube", "kubernetes.affinity.node_labels_in.pool", "at least 1 item",
      {"kubernetes.affinity": {"node_labels_in": {"pool": []}}}),
    C("kube-spread-skew-zero", "kube", "kubernetes.topology_spread[0].max_skew", "greater than or equal to 1",
      {"kubernetes.topology_spread": [{"max_skew": 0}]}),
    C("kube-pull-secret-upper", "kube", "kubernetes.image_pull_secrets[0]", "expected a Kubernetes object name",
      {"kubernetes.image_pull_secrets": ["RegCred"]}),
    C("kube-sa-annotations-existing", "kube", "kubernetes.service_account.annotations", "annotations apply to a ServiceAccount this stack creates",
      {"kubernetes.service_account": {"create": False, "name": "litellm-sa", "annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/x"}}}),
    C("kube-pod-annotation-own", "kube", "kubernetes.pod_annotations", "the litellm-gateway/ prefix is the gateway's own",
      {"kubernetes.pod_annotations": {"litellm-gateway/config-sha256": "0"}}),
    C("kube-existing-secret-own-name", "kube", "kubernetes.existing_secret_env.LITELLM_MASTER_KEY", "is set by the gateway itself",
      {"kubernetes.existing_secret_env": {"LITELLM_MASTER_KEY": {"secret": "llm-keys", "key": "master"}}}),
    C("kube-existing-secret-and-env-secret", "kube", "kubernetes.existing_secret_env.OPENAI_API_KEY", "is also in envSecrets: keep one of the two",
      {"kubernetes.existing_secret_env": {"OPENAI_API_KEY": {"secret": "llm-keys", "key": "openai"}}},
      secrets={"envSecrets.OPENAI_API_KEY": "sk-openai-duplicate-0001"}),
    C("kube-existing-secret-env-name", "kube", "kubernetes.existing_secret_env", "not valid environment variable names",
      {"kubernetes.existing_secret_env": {"openai-key": {"secret": "llm-keys", "key": "openai"}}}),
    C("kube-existing-secret-key", "kube", "kubernetes.existing_secret_env.OPENAI_API_KEY.key", "expected a Secret key",
      {"kubernetes.existing_secret_env": {"OPENAI_API_KEY": {"secret": "llm-keys", "key": "open ai"}}}),
    C("kube-front-door", "kube", "frontDoor", "does not apply to litellm.deploy: kubernetes (the HAProxy front door", {"frontDoor": {"name": "lb"}}),
    C("kube-rollout", "kube", "rollout", "does not apply to litellm.deploy: kubernetes (how ssh hosts restart", {"rollout": {"mode": "parallel"}}),
    C("kube-pod-security-privileged", "kube", "kubernetes.pod_security", "'restricted' or 'baseline'", {"kubernetes.pod_security": "privileged"}),
    C("kube-monitor-no-scrape-key", "kube", "kubernetes.monitoring.scrape_key_secret", "/metrics is authenticated: name the Secret",
      {"kubernetes.monitoring": {"kind": "ServiceMonitor"}}),
    C("kube-monitor-without-prometheus", "kube", "kubernetes.monitoring.kind", "LiteLLM serves only with observability.callbacks: [prometheus]",
      {"kubernetes.monitoring": {"kind": "PodMonitor", "scrape_key_secret": {"secret": "s", "key": "k"}}, "observability.callbacks": []}),
    C("kube-monitor-interval", "kube", "kubernetes.monitoring.interval", "expected a scrape interval such as '30s'",
      {"kubernetes.monitoring": {"kind": "PodMonitor", "interval": "30 s", "scrape_key_secret": {"secret": "s", "key": "k"}}}),
    # ---- a database outage (issue 16): litellm.database_outage -------------------------------
    C("outage-unknown-value", "dev", "litellm.database_outage", "Input should be 'refuse' or 'admit_any_key'", {"litellm.database_outage": "allow"}),
    C("outage-boolean", "local", "litellm.database_outage", "Input should be 'refuse' or 'admit_any_key'", {"litellm.database_outage": True}),
    C("outage-litellm-flag-name", "dev", "litellm.database_outage", "Input should be 'refuse' or 'admit_any_key'",
      {"litellm.database_outage": "allow_requests_on_db_unavailable"}),
    C("outage-admit-without-postgres", "dev", "litellm.database_outage", "'admit_any_key' is about an outage of the database: enable postgres",
      {"litellm.database_outage": "admit_any_key", "litellm.workers": 8, "postgres.enabled": False, "litellm.model_source": "config", "catalogFiles": DELETE}),
    # ---- Ingress annotations: an allow-list; NetworkPolicy settings (issue 16) ----------------
    C("kube-ingress-configuration-snippet", "kube", "kubernetes.ingress.annotations.nginx.ingress.kubernetes.io/configuration-snippet", "a snippet injects Ingress controller configuration text",
      {"kubernetes.ingress.annotations": {"nginx.ingress.kubernetes.io/configuration-snippet": "more_set_headers x;"}}),
    C("kube-ingress-server-snippet", "kube", "kubernetes.ingress.annotations.nginx.ingress.kubernetes.io/server-snippet", "CVE-2021-25742", {"kubernetes.ingress.annotations": {"nginx.ingress.kubernetes.io/server-snippet": "location /x {{}}"}}),
    C("kube-ingress-auth-snippet", "kube", "kubernetes.ingress.annotations.nginx.ingress.kubernetes.io/auth-snippet", "refused; ask for a setting instead", {"kubernetes.ingress.annotations": {"nginx.ingress.kubernetes.io/auth-snippet": "x"}}),
    C("kube-ingress-ssl-redirect-false", "kube", "kubernetes.ingress.annotations.nginx.ingress.kubernetes.io/ssl-redirect", "'false' serves the gateway, and every Bearer key, over plain http",
      {"kubernetes.ingress.annotations": {"nginx.ingress.kubernetes.io/ssl-redirect": "false"}}),
    C("kube-ingress-force-ssl-redirect-false", "kube", "kubernetes.ingress.annotations.nginx.ingress.kubernetes.io/force-ssl-redirect", "expected 'true'", {"kubernetes.ingress.annotations": {"nginx.ingress.kubernetes.io/force-ssl-redirect": "false"}}),
    C("kube-ingress-unlisted-auth-url", "kube", "kubernetes.ingress.annotations.nginx.ingress.kubernetes.io/auth-url", "not an annotation this stack allows", {"kubernetes.ingress.annotations": {"nginx.ingress.kubernetes.io/auth-url": "http://auth.corp/check"}}),
    C("kube-ingress-unlisted-backend-protocol", "kube", "kubernetes.ingress.annotations.nginx.ingress.kubernetes.io/backend-protocol", "allowed: cert-manager.io/cluster-issuer",
      {"kubernetes.ingress.annotations": {"nginx.ingress.kubernetes.io/backend-protocol": "GRPC"}}),
    C("kube-ingress-skip-await-annotation", "kube", "kubernetes.ingress.annotations.pulumi.com/skipAwait", "set kubernetes.ingress.skip_await: true instead",
      {"kubernetes.ingress.annotations": {"pulumi.com/skipAwait": "true"}}),
    C("kube-ingress-class-annotation", "kube", "kubernetes.ingress.annotations.kubernetes.io/ingress.class", "set kubernetes.ingress.class_name instead",
      {"kubernetes.ingress.annotations": {"kubernetes.io/ingress.class": "nginx"}}),
    C("kube-ingress-body-size", "kube", "kubernetes.ingress.annotations.nginx.ingress.kubernetes.io/proxy-body-size", "expected a size such as '16m'", {"kubernetes.ingress.annotations": {"nginx.ingress.kubernetes.io/proxy-body-size": "16 mb"}}),
    C("kube-ingress-buffering", "kube", "kubernetes.ingress.annotations.nginx.ingress.kubernetes.io/proxy-buffering", "expected 'on' or 'off'", {"kubernetes.ingress.annotations": {"nginx.ingress.kubernetes.io/proxy-buffering": "yes"}}),
    C("kube-ingress-limit-rps", "kube", "kubernetes.ingress.annotations.nginx.ingress.kubernetes.io/limit-rps", "a positive whole number of requests", {"kubernetes.ingress.annotations": {"nginx.ingress.kubernetes.io/limit-rps": "0"}}),
    C("kube-ingress-allowlist-host-bits", "kube", "kubernetes.ingress.annotations.nginx.ingress.kubernetes.io/allowlist-source-range", "'10.0.0.1/8' is not one", {"kubernetes.ingress.annotations": {"nginx.ingress.kubernetes.io/allowlist-source-range": "10.0.0.1/8"}}),
    C("kube-ingress-allowlist-name", "kube", "kubernetes.ingress.annotations.nginx.ingress.kubernetes.io/whitelist-source-range", "expected comma-separated CIDRs", {"kubernetes.ingress.annotations": {"nginx.ingress.kubernetes.io/whitelist-source-range": "10.0.0.0/8,corp"}}),
    C("kube-ingress-cert-issuer", "kube", "kubernetes.ingress.annotations.cert-manager.io/cluster-issuer", "expected a Kubernetes object name", {"kubernetes.ingress.annotations": {"cert-manager.io/cluster-issuer": "Let's Encrypt"}}),
    C("kube-netpol-controller-namespace", "kube", "kubernetes.network_policy.ingress_controller_namespace", "expected a namespace name (a DNS label",
      {"kubernetes.network_policy": {"ingress_controller_namespace": "Ingress_NGINX"}}),
    C("kube-netpol-controller-labels", "kube", "kubernetes.network_policy.ingress_controller_pod_labels", "expected a label value",
      {"kubernetes.network_policy": {"ingress_controller_pod_labels": {"app.kubernetes.io/name": "ingress nginx"}}}),
    C("kube-netpol-dns-namespace", "kube", "kubernetes.network_policy.dns_namespace", "expected a namespace name",
      {"kubernetes.network_policy": {"dns_namespace": "kube-system\n"}}),
    C("kube-netpol-prometheus-namespace", "kube", "kubernetes.network_policy.prometheus_namespace", "expected a namespace name",
      {"kubernetes.network_policy": {"prometheus_namespace": "-monitoring"}}),
    C("kube-netpol-egress-cidr", "kube", "kubernetes.network_policy.egress_cidrs", "is not one",
      {"kubernetes.network_policy": {"egress_cidrs": ["pg.ai.corp.example"]}}),
    C("kube-netpol-egress-cidr-list", "kube", "kubernetes.network_policy.egress_cidrs", "one CIDR per entry",
      {"kubernetes.network_policy": {"egress_cidrs": ["10.0.0.0/8,10.1.0.0/16"]}}),
    C("kube-netpol-egress-cidr-form", "kube", "kubernetes.network_policy.egress_cidrs", "(the canonical form)",
      {"kubernetes.network_policy": {"egress_cidrs": ["fd00:0::/8"]}}),
    C("kube-netpol-dns-labels", "kube", "kubernetes.network_policy.dns_pod_labels", "expected a label key name",
      {"kubernetes.network_policy": {"dns_pod_labels": {"k8s app": "kube-dns"}}}),
    C("kube-netpol-enabled-text", "kube", "kubernetes.network_policy.enabled", "Input should be a valid boolean",
      {"kubernetes.network_policy": {"enabled": "sometimes"}}),
    C("kube-netpol-unknown-key", "kube", "kubernetes.network_policy.allow_all", "unknown key (a typo?)",
      {"kubernetes.network_policy": {"allow_all": True}}),
    C("kube-prestop-too-long", "kube", "kubernetes.prestop_seconds", "less than or equal to 120", {"kubernetes.prestop_seconds": 600}),
]


def _ids(cases: list[Case]) -> list[str]:
    return [c.id for c in cases]


def test_the_table_is_large_and_distinct():
    assert len(CASES) >= 100
    assert len(set(_ids(CASES))) == len(CASES)
    # no two cases make the same change to the same stack
    shapes = [(c.stack, json.dumps(c.changes, sort_keys=True, default=str), json.dumps(c.secrets, sort_keys=True), c.now, c.stack_name) for c in CASES]
    assert len(set(shapes)) == len(shapes)


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_bad_input_is_refused_with_stack_key_and_fix(case: Case):
    config, secret_keys = apply(case.stack, case.changes, case.secrets)
    stack = case.stack_name or case.stack
    try:
        load_settings(stack, config, secret_keys, project_dir=PROJECT_DIR, now=case.now)
    except ConfigError as exc:
        problems = exc.problems
        assert str(exc).startswith(f"invalid configuration for stack '{stack}'")
    else:
        pytest.fail(f"{case.id}: accepted")
    assert len(problems) == case.count, problems
    prefix = f"stack '{stack}': {case.key}: "
    assert problems[0].startswith(prefix), (prefix, problems)
    assert case.fix in problems[0], (case.fix, problems[0])
    for p in problems:
        for value in case.secrets.values():
            for part in [value, *value.splitlines()]:
                if len(part) >= 4:
                    assert part not in p, f"{case.id}: a secret value appears in: {p}"


# ---- the accepted neighbours of the refused cases (a rule must not refuse what is fine) ---------


@pytest.mark.parametrize(
    "stack,changes,secrets",
    [
        ("dev", {"tls": {"enabled": False, "allow_plaintext": True}}, {}),
        ("local", {"tls.enabled": False}, {}),  # a local deploy talks to 127.0.0.1
        ("dev", {"litellm.workers": 5}, {}),  # 5 x 10 x 1 = 50 = connection_limit
        ("dev", {"litellm.workers": 8, "postgres.enabled": False, "litellm.model_source": "config", "catalogFiles": DELETE}, {}),
        ("local", {"keys[0].expires": "2027-06-30 00:00:00 +0000 UTC"}, {}),
        ("local", {"keys[0].expires": "2027-06-30 12:00:00 +0200 CEST"}, {}),
        ("local", {"keys[0].budget_duration": "10d"}, {}),
        ("dev", {"litellm.system_user": "svc-litellm", "litellm.install_dir": "/srv/litellm-1.0+x"}, {}),
        ("dev", {"ssh.user": "first.last"}, {}),
        ("local", {"redis.user": "default"}, {}),  # the default user, not managed: nothing is reset
        ("dev", {"redis.admin_user": "gw-admin"}, {"redisAdminPassword": "adm1n pass 'q' $x"}),
        ("dev", {}, {"redisAdminPassword": "default-user-requirepass"}),  # requirepass: no admin_user
        ("dev", {"cache.namespace": "litellm.dev:cache_v2"}, {}),
        ("dev", {"observability.alerting.alert_types": ["llm_requests_hanging", "outage_alerts"]}, {}),
        ("dev", {}, {"postgresAdminPassword": "123456", "dnsAdminPassword": "0042"}),  # numeric secrets
        ("dev", {}, {"envSecrets.OPENAI_API_KEY": "p4$$w0rd with spaces \"quoted\" %h"}),
        ("dev-ha", {"tls.previous_ca_cert": OLD_CA, "tlsCaCert": NEW_CA}, {}),  # a CA rotation's first run
        ("local", {"frontDoor.with_one_host": True, "litellm.hosts[0].address": "127.0.0.2"}, {}),  # one local host kept behind the front door
        ("dev-ha", {"dns.zone": "dev.local"}, {}),  # the records go into a parent zone of the domain
    ],
)
def test_neighbours_are_accepted(stack, changes, secrets):
    """Accepted by the loader and then declared by the whole program (under Pulumi's mock engine)
    without an error: nothing the loader lets through crashes later."""
    from offline.engine import run_program

    config, secret_keys = apply(stack, changes, secrets)
    settings = load_settings(stack, config, secret_keys, project_dir=PROJECT_DIR, now=NOW)
    assert settings.stack == stack
    run = run_program(stack, config, secret_keys)
    assert any(r.type == "litellm-gateway:host:LiteLLMHost" for r in run.resources)


def test_numeric_secret_reaches_the_settings_as_the_text_the_cli_sends():
    config, secret_keys = apply("dev", {}, {"postgresAdminPassword": "0123456"})
    settings = load_settings("dev", config, secret_keys, project_dir=PROJECT_DIR, now=NOW)
    assert settings.secrets.postgres_admin_password.get_secret_value() == "0123456"


def test_a_number_under_path_set_reaches_a_string_setting_as_text():
    # `pulumi config set --path envSecrets.X 123` / `--path redis.user 123` store numbers
    config, secret_keys = apply("dev", {"redis.user": 123}, {})
    config[f"{P}:envSecrets"] = json.dumps({**json.loads(config[f"{P}:envSecrets"]), "LANGFUSE_HOST": 8080})
    secret_keys.add(f"{P}:envSecrets")
    settings = load_settings("dev", config, secret_keys, project_dir=PROJECT_DIR, now=NOW)
    assert settings.redis.user == "123"
    assert settings.secrets.env_secrets["LANGFUSE_HOST"].get_secret_value() == "8080"


def test_go_time_expiry_is_the_same_instant():
    config, secret_keys = apply("local", {"keys[0].expires": "2027-06-30 00:00:00 +0000 UTC"}, {})
    settings = load_settings("local", config, secret_keys, project_dir=PROJECT_DIR, now=NOW)
    assert settings.keys[0].expires == datetime(2027, 6, 30, tzinfo=timezone.utc)


def test_alert_types_are_the_pinned_litellms():
    from litellm.types.integrations.slack_alerting import AlertType

    from config.checks import LITELLM_ALERT_TYPES

    assert sorted(LITELLM_ALERT_TYPES) == sorted(a.value for a in AlertType)


def test_every_name_the_env_file_sets_itself_is_reserved():
    from config.checks import host_env_names
    from rendering.host_files import render_env_file, secret_env_names
    from config.host_env import GATEWAY_ENV_VARS

    settings = load_stack_inputs("dev").settings()
    own = {line.split("=", 1)[0] for line in render_env_file(settings, redact=True).splitlines() if line and line[0] != "#"}
    extras = own - set(secret_env_names(settings))
    assert "LITELLM_MODE" in extras and "DISABLE_SCHEMA_UPDATE" in extras
    assert extras <= host_env_names()
    assert GATEWAY_ENV_VARS <= own
