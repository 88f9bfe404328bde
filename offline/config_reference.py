"""The table of every stack config key in docs/configuration.md, generated from the settings models.

`python -m offline.config_reference` prints the table; `--write` replaces the generated block of
docs/configuration.md with it. tests/offline/test_docs.py fails when the block is not what this
module generates, so a field added to a model in config/ without a regenerated reference is caught.

Each row: the key as it is written in a stack file (`litellm-gateway:` omitted, list items as
`[]`, map values as `.*`), its type with the check that applies, its default, and what it does —
taken from the comment that stands above (or beside) the field in its module, or from DESCRIPTIONS
below for fields whose module carries none.
"""

from __future__ import annotations

import ast
import inspect
import re
import sys
import types
import typing
from pathlib import Path
from typing import Any, Iterator, Literal

import annotated_types
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from config import checks
from config.loader import PLAIN_KEYS
from config.settings import GatewaySettings

PROJECT_DIR = Path(__file__).resolve().parent.parent
DOC = PROJECT_DIR / "docs" / "configuration.md"
BEGIN = "<!-- BEGIN GENERATED: python -m offline.config_reference --write -->"
END = "<!-- END GENERATED -->"

# What a field does, where its module has no comment for it (keyed by the path as in the table).
DESCRIPTIONS = {
    "kubernetes.node_selector": "node labels both pods (serving and migration) require",
    "kubernetes.image_pull_secrets": "existing Secrets to pull the image with",
    "ssh": "how the command provider reaches every SSH target (key: secret `sshPrivateKey`)",
    "litellm": "the proxies: release, deploy target, hosts, paths",
    "litellm.config_dir": "config.yaml, litellm.env, staged files and TLS (by default) on a host",
    "postgres": "the database server; the stack creates the gateway's role and database",
    "postgres.enabled": "false: no database (then no teams, keys or API-managed models)",
    "postgres.sslmode": "`disable`, `prefer`, `require` (encrypted, not verified) or `verify-full` (needs `ca_cert`); `verify-ca` and `allow` are refused: Prisma has no equivalent ([security.md](security.md#tls-to-postgresql-and-redis))",
    "postgres.ca_cert": "PEM of the CA that signed the server's certificate; required by and only used with `verify-full` (proxy, migration and provider verify against it)",
    "redis.ca_cert": "PEM of the CA that signed the Redis server's certificate (needs `tls`); without it the system's CAs verify",
    "redis": "the Redis server (cache, router state, coordination)",
    "redis.enabled": "false: no Redis (then no cache and a single proxy process)",
    "cache": "LiteLLM's response cache",
    "cache.namespace": "prefix of every Redis key and channel of the gateway (default `litellm.<environment>.cache`); letters, digits, . _ : -",
    "dns": "A and CNAME records on a Samba AD DC",
    "dns.enabled": "write the records (off for `local`)",
    "tls": "certificates for the proxies and the front door",
    "models": "the deployments (also from `catalogFiles`)",
    "models[].credential_name": "a credential stored in LiteLLM (`litellm_credential_name`) instead of `api_key`",
    "models[].model_info": "LiteLLM's model_info (`mode`, `base_model`, costs, ...), checked against the pinned release's types",
    "routing": "LiteLLM's router settings",
    "teams": "teams on the proxy (also from `catalogFiles`)",
    "keys": "virtual keys (also from `catalogFiles`)",
    "keyDefaults": "defaults of every key",
    "observability": "callbacks, alerting, proxy budget, logs",
    "observability.alerting": "LiteLLM alerting",
    "observability.proxy_budget": "a budget for the whole proxy",
    "rollout": "how hosts restart (several hosts)",
    "kubernetes.namespace": "the namespace of every object",
    "kubernetes.replicas": "pods at creation (then the autoscaler owns it)",
    "kubernetes.min_replicas": "the autoscaler's minimum",
    "kubernetes.max_replicas": "its maximum (> min_replicas: a HorizontalPodAutoscaler)",
    "kubernetes.resources": "the pods' resources (also the migration Job's)",
    "kubernetes.resources.cpu_request": "a Kubernetes quantity",
    "kubernetes.resources.memory_request": "a Kubernetes quantity (`512m` of memory is refused)",
    "kubernetes.resources.memory_limit": "a Kubernetes quantity, ≥ the request",
    "kubernetes.image": "the container image",
    "kubernetes.image.repository": "a mirror of upstream's `litellm-non_root`",
    "kubernetes.image.pull_policy": "the image pull policy",
    "kubernetes.ingress": "the Ingress for `<service_name>.<domain>`",
    "kubernetes.ingress.enabled": "create the Ingress",
    "kubernetes.ingress.annotations": "annotations of the Ingress (not the derived nginx timeouts)",
    "kubernetes.tolerations": "tolerations of both pods",
    "kubernetes.tolerations[].key": "the taint key",
    "kubernetes.tolerations[].operator": "`Equal` or `Exists` (no value with Exists)",
    "kubernetes.tolerations[].value": "the taint value",
    "kubernetes.tolerations[].effect": "the taint effect",
    "kubernetes.tolerations[].toleration_seconds": "only with `NoExecute`",
    "kubernetes.affinity": "node and pod affinity of both pods",
    "kubernetes.topology_spread[].topology_key": "the node label to spread over",
    "kubernetes.topology_spread[].max_skew": "`maxSkew`",
    "kubernetes.topology_spread[].when_unsatisfiable": "`whenUnsatisfiable`",
    "kubernetes.service_account.annotations": "annotations of a created ServiceAccount (e.g. a cloud role)",
    "kubernetes.pod_annotations": "annotations of the pods (`litellm-gateway/` keys are reserved)",
    "kubernetes.existing_secret_env.*.secret": "the existing Secret's name",
    "kubernetes.existing_secret_env.*.key": "the key in it",
    "kubernetes.monitoring": "a prometheus-operator PodMonitor or ServiceMonitor",
    "kubernetes.monitoring.kind": "`PodMonitor` or `ServiceMonitor`",
    "kubernetes.monitoring.interval": "the scrape interval",
    "kubernetes.monitoring.scrape_key_secret": "the existing Secret holding a `/metrics`-only virtual key",
    "kubernetes.monitoring.scrape_key_secret.secret": "the Secret's name",
    "kubernetes.monitoring.scrape_key_secret.key": "the key in it",
    "adminUi.sso": "SSO for the Admin UI (Google, Microsoft or generic OAuth)",
    "adminUi.sso.provider": "`google`, `microsoft` (with `tenant`) or `generic`",
    "environment": "the environment's name, a DNS label: part of host and resource names; `local` is unprotected by default",
    "domain": "the DNS domain of the hosts and of the service name",
    "ssh.user": "the SSH login on every target (passwordless sudo)",
    "ssh.port": "the SSH port of every target",
    "litellm.version": "the exact LiteLLM release the hosts install (a pulled release such as 1.107.0 is refused)",
    "litellm.port": "the proxy's port (and the front door's)",
    "litellm.bind_host": "the address the proxy listens on",
    "litellm.workers": "`--num_workers` (upstream advice: the CPU count; 1 for kubernetes)",
    "litellm.hosts[].name": "the host's short name (DNS label): resource names, its A record and certificate",
    "litellm.hosts[].address": "the IP address or DNS name SSH reaches, and its A record's value",
    "litellm.proxy_batch_write_at": "`general_settings.proxy_batch_write_at`: seconds between spend writes to the database",
    "litellm.readiness_timeout_seconds": "how long a rollout waits for `/health/readiness` (and the pods' startup window)",
    "postgres.host": "the PostgreSQL server",
    "postgres.port": "its port",
    "postgres.admin_user": "the role the postgresql provider connects as (password: secret `postgresAdminPassword`)",
    "postgres.admin_database": "the database the admin connection opens",
    "postgres.database": "the gateway's database, owned by `role`",
    "postgres.role": "the gateway's login role (random password, no superuser/createdb/createrole)",
    "postgres.connection_limit": "the role's connection limit: at least workers × database_connection_pool_limit × hosts",
    "redis.host": "the Redis server",
    "redis.port": "its port",
    "redis.tls": "connect with TLS (redis-py's SSLConnection, as `rediss://`; chain and name verified) and `redis-cli --tls` for manage_acl",
    "cache.enabled": "LiteLLM's response cache in Redis",
    "cache.ttl_seconds": "how long a cached response lives",
    "dns.server": "the Samba AD domain controller that runs `samba-tool` (reached over SSH)",
    "dns.zone": "the DNS zone the records go into: the domain (default) or a parent zone of it; the records are always <host>.<domain>",
    "dns.admin_user": "the Samba account (`DOMAIN\\user` allowed); password: secret `dnsAdminPassword`",
    "dns.host_key": "the DC's SSH host key (required when enabled)",
    "tls.enabled": "HTTPS on the proxies (and the front door)",
    "tls.validity_hours": "a host certificate's validity",
    "tls.early_renewal_hours": "renew this long before expiry",
    "tls.key_algorithm": "the certificate key: ECDSA P-256 or RSA 3072",
    "tls.cert_dir": "where the key and chain go on a host",
    "models[].id": "the deployment's stable id (`model_info.id`, the Model resource's id)",
    "models[].model_name": "the public name clients ask for; the same name several times = replicas",
    "models[].provider": "LiteLLM's provider prefix (`ollama_chat`, `ollama`, `openai`, `anthropic`, `azure`, ..., `openai_compatible`)",
    "models[].model": "the provider's model name",
    "models[].api_base": "the upstream URL (required for Ollama); no credentials, query or fragment",
    "models[].rpm": "requests per minute this deployment takes (the router's limit)",
    "models[].tpm": "tokens per minute",
    "models[].timeout": "this deployment's request timeout (seconds)",
    "models[].weight": "its share of the traffic among replicas of one model_name (simple-shuffle)",
    "models[].max_tokens": "`litellm_params.max_tokens`",
    "routing.strategy": "`router_settings.routing_strategy`",
    "routing.num_retries": "retries of a failed call",
    "routing.timeout": "a call's timeout (seconds); drives the drain, shutdown and slow-alert defaults",
    "routing.allowed_fails": "failures before a deployment cools down",
    "routing.cooldown_time": "seconds a failing deployment is left out",
    "routing.fallbacks": "model_name → the model_names to try next, in order; no cycles",
    "routing.context_window_fallbacks": "as fallbacks, for context-window errors",
    "routing.content_policy_fallbacks": "as fallbacks, for content-policy refusals",
    "teams[].team_id": "the team's id on the proxy (a change replaces the team)",
    "teams[].alias": "its display name",
    "teams[].models": "the model_names its keys may use",
    "teams[].max_budget": "the team's budget (USD)",
    "teams[].budget_duration": "when the budget resets (s, m, h, d, w, mo; never zero)",
    "teams[].rpm_limit": "requests per minute across the team",
    "teams[].tpm_limit": "tokens per minute across the team",
    "teams[].metadata": "scalar metadata stored on the team",
    "keys[].alias": "the key's alias on the proxy (unique)",
    "keys[].service": "the consumer: the key is the secret output `keys.<service>` (unique)",
    "keys[].team": "the team_id it belongs to",
    "keys[].models": "the model_names it may use (allowed by its team)",
    "keys[].max_budget": "the key's budget (USD)",
    "keys[].budget_duration": "when its budget resets",
    "keys[].rpm_limit": "requests per minute",
    "keys[].tpm_limit": "tokens per minute",
    "keys[].expires": "absolute expiry date/time; once passed the key is kept and reported expired",
    "keys[].metadata": "scalar metadata (`service` is added)",
    "keys[].rotate_after_days": "rotate (create-before-delete) when the key is this old",
    "keys[].rotation_trigger": "any string: a new value rotates the key",
    "keys[].rotation_grace": "how long the old key keeps working after a rotation (default: keyDefaults)",
    "keyDefaults.rotation_grace": "the rotation grace of keys that set none; `0s` revokes at once",
    "observability.alerting.channels": "where alerts go (`slack`: secret `envSecrets.SLACK_WEBHOOK_URL`)",
    "observability.alerting.alert_types": "the pinned LiteLLM's AlertType values to send: "
    + ", ".join(f"`{t}`" for t in checks.LITELLM_ALERT_TYPES),
    "observability.proxy_budget.max_budget": "the whole proxy's budget (USD)",
    "observability.proxy_budget.budget_duration": "when it resets",
    "observability.json_logs": "LiteLLM's JSON logs",
    "frontDoor.name": "the front door host's name (A record; the service name becomes a CNAME to it)",
    "frontDoor.address": "its address (local deploy: 127.0.0.1 by default)",
    "frontDoor.host_key": "its SSH host key (ssh deploy)",
    "frontDoor.check_interval_ms": "HAProxy's health-check interval on `/health/readiness`",
    "frontDoor.fall": "failed checks before a proxy is DOWN",
    "frontDoor.rise": "passed checks before it is UP",
    "frontDoor.retries": "HAProxy retries (with redispatch) of a failed connection",
    "adminUi.enabled": "LiteLLM's Admin UI at `/ui`; off: `/ui` answers 404, no environment login",
    "adminUi.username": "`UI_USERNAME`; the password is secret `uiPassword` (never the master key)",
    "adminUi.sso.client_id": "the OAuth client id (client secret: secret `uiSsoClientSecret`)",
    "adminUi.sso.tenant": "the Microsoft tenant",
    "adminUi.sso.authorization_endpoint": "generic OAuth: authorization URL",
    "adminUi.sso.token_endpoint": "generic OAuth: token URL",
    "adminUi.sso.userinfo_endpoint": "generic OAuth: userinfo URL",
    "adminUi.sso.scope": "`GENERIC_SCOPE`",
    "adminUi.sso.password_login": "false: SSO is the only sign-in",
}

_KINDS = {
    "check_dns_label": "DNS label", "check_dns_name": "DNS name", "check_host_or_ip": "host name or IP",
    "_sql_identifier": "SQL identifier", "_duration": "duration (s, m, h, d, w, mo)", "check_path": "path",
    "check_alert_type": "LiteLLM alert type", "check_model_name": "model name", "check_host_key": "SSH host key",
    "_env_reference": "`os.environ/NAME`", "check_pem_certificates": "PEM certificates",
}


def _constraints(metadata: list[Any]) -> list[str]:
    out: list[str] = []
    for m in metadata:
        for attr, sym in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            if isinstance(m, getattr(annotated_types, attr.capitalize())):
                out.append(f"{sym} {getattr(m, attr)}")
        if isinstance(m, annotated_types.MinLen) and m.min_length:
            out.append(f"at least {m.min_length}")
        if isinstance(m, annotated_types.MaxLen):
            out.append(f"at most {m.max_length}")
        pattern = getattr(m, "pattern", None)
        if isinstance(pattern, str):
            out.append(f"`{pattern}`")
        func = getattr(m, "func", None)
        if func is not None:
            name = getattr(func, "__name__", "")
            if name in _KINDS:
                out.append(_KINDS[name])
            elif name.startswith("check_"):
                out.append(name[len("check_"):].replace("_", " "))
        if type(m).__name__ == "_PydanticGeneralMetadata":
            for attr in ("pattern",):
                if getattr(m, attr, None):
                    out.append(f"`{getattr(m, attr)}`")
    return list(dict.fromkeys(out))  # a pattern can sit in two metadata objects


def type_text(ann: Any, metadata: list[Any] = ()) -> str:
    origin = typing.get_origin(ann)
    args = typing.get_args(ann)
    if origin is typing.Annotated:
        return type_text(args[0], list(ann.__metadata__) + list(metadata))
    extra = _constraints(list(metadata))
    suffix = f" ({', '.join(extra)})" if extra else ""
    if origin in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        return " or ".join(type_text(a) for a in rest) + suffix
    if origin is Literal:
        return "one of " + " \\| ".join(f"`{a}`" for a in args) + suffix
    if origin is list:
        return f"list of {type_text(args[0])}" + suffix
    if origin is dict:
        return f"map of {type_text(args[0])} → {type_text(args[1])}" + suffix
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return "object" + suffix
    if ann is SecretStr:
        return "secret string" + suffix
    if ann is Any:
        return "any" + suffix
    return getattr(ann, "__name__", str(ann)) + suffix


def _default(f: FieldInfo) -> str:
    if f.is_required():
        return "required"
    if f.default_factory is not None:
        value = f.default_factory()
        if isinstance(value, BaseModel):
            return "(object defaults)"
        if isinstance(value, list) and value and isinstance(value[0], BaseModel):
            return "`" + repr([v.model_dump() for v in value]) + "`"
        return f"`{value!r}`" if value not in ([], {}) else ("`[]`" if value == [] else "`{}`")
    if f.default is None:
        return "unset"
    if isinstance(f.default, bool):
        return f"`{str(f.default).lower()}`"
    return f"`{f.default}`"


def _comments(model: type[BaseModel]) -> dict[str, str]:
    """The comment above (or beside) each field of `model`'s own class body."""
    try:
        source, start = inspect.getsourcelines(model)
    except (OSError, TypeError):
        return {}
    out: dict[str, str] = {}
    tree = ast.parse(inspect.cleandoc("".join(source)) if source[0].startswith(" ") else "".join(source))
    cls = tree.body[0]
    for node in getattr(cls, "body", []):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            line = node.lineno - 1
            text = []
            code, sep, trailing = source[line].partition("  # ")
            if sep:
                text.append(trailing.strip())
            i = line - 1
            above = []
            while i >= 0 and source[i].strip().startswith("#"):
                above.insert(0, source[i].strip().lstrip("#").strip())
                i -= 1
            out[node.target.id] = " ".join(above + text).strip()
    return out


def _models_in(ann: Any) -> list[tuple[type[BaseModel], str]]:
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return [(ann, "")]
    origin = typing.get_origin(ann)
    out = []
    for a in typing.get_args(ann):
        if a is type(None) or not (isinstance(a, type) or typing.get_origin(a) is not None):
            continue
        for m, suf in _models_in(a):
            out.append((m, ("[]" if origin is list else ".*" if origin is dict else "") + suf))
    return out


def _walk(model: type[BaseModel], prefix: str) -> Iterator[tuple[str, FieldInfo, str]]:
    comments = {}
    for klass in reversed(model.__mro__):
        if isinstance(klass, type) and issubclass(klass, BaseModel) and klass is not BaseModel:
            comments.update(_comments(klass))
    for name, f in model.model_fields.items():
        path = f"{prefix}.{name}"
        yield path, f, comments.get(name, "")
        for sub, suf in _models_in(f.annotation):
            yield from _walk(sub, path + suf)


def rows() -> list[tuple[str, str, str, str]]:
    """(key path, type, default, what it does) for every settings field, in declaration order."""
    key_of = {field: key for key, field in PLAIN_KEYS.items()}
    top = _comments(GatewaySettings)
    out, missing = [], []
    for name, f in GatewaySettings.model_fields.items():
        if name in ("stack", "secrets"):  # the stack's name; secrets are the table below
            continue
        key = key_of[name]
        entries = [(key, f, top.get(name, ""))]
        for sub, suf in _models_in(f.annotation):
            entries += list(_walk(sub, key + suf))
        for path, field, comment in entries:
            what = DESCRIPTIONS.get(path) or comment
            if not what:
                missing.append(path)
            out.append((path, type_text(field.annotation, field.metadata), _default(field), what))
    out += [
        ("catalogFiles", "list of str (files under `config/`)", "`[]`",
         "YAML files with more `models`, `teams`, `keys` (catalogs)"),
        ("adminUrl", "str (https, or http to loopback)", "the gateway's `base_url`",
         "the URL the dynamic providers call (e.g. a tunnel)"),
    ]
    if missing:
        raise ValueError(f"no comment in their module and no entry in DESCRIPTIONS: {', '.join(missing)}")
    return out


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\\\\|", "\\|")


def table() -> str:
    lines = [BEGIN, "", "| key | type | default | what it does |", "|---|---|---|---|"]
    for path, typ, default, what in rows():
        lines.append(f"| `{path}` | {_cell(typ)} | {default} | {_cell(what)} |")
    lines += ["", END]
    return "\n".join(lines)


def write(doc: Path = DOC) -> None:
    text = doc.read_text()
    start, end = text.index(BEGIN), text.index(END) + len(END)
    doc.write_text(text[:start] + table() + text[end:])


def current_block(doc: Path = DOC) -> str:
    text = doc.read_text()
    return text[text.index(BEGIN):text.index(END) + len(END)]


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        write()
    else:
        print(table())
