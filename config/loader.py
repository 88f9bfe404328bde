"""Turn a stack's raw Pulumi config into `GatewaySettings`, or one error listing every problem.

Pure (no Pulumi imports): `load_settings` takes the config map exactly as the Pulumi runtime holds
it (`"litellm-gateway:litellm" -> JSON text or object`) plus the set of secret keys, so tests and
the offline renderer call it directly. `components.pulumi_source` reads that map from the runtime.

Every message names the stack, the config key (with its path inside the value) and what was
expected, e.g.

    stack 'dev': litellm-gateway:models[2].api_base: expected an http(s) URL ... (got 'ollama:11434')
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

from pydantic import ValidationError

from config import checks, safe_yaml
from config.fields import CrossCheckError, check_host_or_ip, looks_like_secret
from config.settings import GatewaySettings

PROJECT = "litellm-gateway"

# Pulumi config key (without the project prefix) -> GatewaySettings field.
PLAIN_KEYS: dict[str, str] = {
    "environment": "environment",
    "domain": "domain",
    "protect": "protect",
    "ssh": "ssh",
    "litellm": "litellm",
    "postgres": "postgres",
    "redis": "redis",
    "cache": "cache",
    "dns": "dns",
    "tls": "tls",
    "models": "models",
    "routing": "routing",
    "teams": "teams",
    "keys": "keys",
    "observability": "observability",
    "tlsCaCert": "tls_ca_cert",
    "saltKeyRotation": "salt_key_rotation",
    "keyDefaults": "key_defaults",
    "frontDoor": "front_door",
    "rollout": "rollout",
    "previousEnvironments": "previous_environments",
    "kubernetes": "kubernetes",
    "adminUi": "admin_ui",
}
# Keys that must be set with `pulumi config set --secret` -> GatewaySecrets field.
SECRET_KEYS: dict[str, str] = {
    "masterKey": "master_key",
    "saltKey": "salt_key",
    "postgresAdminPassword": "postgres_admin_password",
    "redisPassword": "redis_password",
    "redisAdminPassword": "redis_admin_password",
    "sshPrivateKey": "ssh_private_key",
    "dnsAdminPassword": "dns_admin_password",
    "tlsCaKey": "tls_ca_key",
    "tlsCertChain": "tls_cert_chain",
    "tlsKey": "tls_key",
    "envSecrets": "env_secrets",
    "uiPassword": "ui_password",
    "uiSsoClientSecret": "ui_sso_client_secret",
}
# Keys whose value is a string: what the CLI sends is kept as text, never decoded as JSON (a
# secret set with `pulumi config set --secret postgresAdminPassword 123456` arrives as "123456").
STRING_KEYS = frozenset({"environment", "domain", "tlsCaCert", *(k for k in SECRET_KEYS if k != "envSecrets")})
# Read by other parts of the program (the dynamic providers' configure()), allowed here.
OTHER_KEYS = {"catalogFiles", "adminUrl"}
CATALOG_SECTIONS = ("models", "teams", "keys")


class ConfigError(Exception):
    """All problems of one stack's config, each a complete sentence with stack and key."""

    def __init__(self, stack: str, problems: list[str], missing_secrets: Iterable[str] = ()):
        self.stack = stack
        self.problems = problems
        self.missing_secrets = sorted(set(missing_secrets))
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid configuration for stack '{stack}' ({len(problems)} problem(s)):\n{lines}")


@dataclass
class _Origins:
    """Where each merged catalog entry came from, to name the right file and index in errors."""

    entries: dict[str, list[tuple[str, int]]] = field(default_factory=dict)

    def locate(self, section: str, index: int) -> tuple[str, int]:
        items = self.entries.get(section, [])
        if 0 <= index < len(items):
            return items[index]
        return (f"{PROJECT}:{section}", index)


def load_settings(
    stack: str,
    config: Mapping[str, Any],
    secret_keys: Iterable[str] = (),
    *,
    project_dir: Path | str = ".",
    now: Optional[datetime] = None,
) -> GatewaySettings:
    """Validate one stack's config. Raises ConfigError naming every problem.

    `now` is the clock date checks use (an `expires` in the past); default: the current time.
    """
    secret_keys = set(secret_keys)
    problems: list[str] = []
    missing: list[str] = []

    def say(key: str, message: str) -> None:
        problems.append(f"stack '{stack}': {key}: {message}")

    raw: dict[str, Any] = {}
    secrets: dict[str, Any] = {}
    for full_key in sorted(config):
        namespace, _, key = full_key.partition(":")
        if namespace != PROJECT:
            continue  # other namespaces (aws:region, ...) belong to other providers
        try:
            value = config[full_key] if key in STRING_KEYS else _decode(config[full_key])
        except ValueError as exc:
            say(full_key, f"is not valid: {exc}")
            continue
        if key in SECRET_KEYS:
            if full_key not in secret_keys:
                say(full_key, f"is a secret: set it with `pulumi config set --secret {key} ...`, "
                    "never as plain text in a stack file")
                continue
            secrets[SECRET_KEYS[key]] = value
        elif key in PLAIN_KEYS:
            for path, text in _strings(value, f"{full_key}"):
                if looks_like_secret(text):
                    say(path, "looks like a literal secret in a committed file; use an "
                        "os.environ/NAME reference and `pulumi config set --secret --path envSecrets.NAME`")
            raw[PLAIN_KEYS[key]] = value
        elif key == "adminUrl":
            try:
                checks.check_admin_url(str(config[full_key]), host_check=check_host_or_ip)
            except ValueError as exc:
                say(full_key, str(exc))
        elif key in OTHER_KEYS:
            continue
        else:
            say(full_key, f"unknown config key (known: {', '.join(sorted([*PLAIN_KEYS, *SECRET_KEYS, *OTHER_KEYS]))})")

    origins = _Origins()
    for section in CATALOG_SECTIONS:
        inline = raw.get(section) or []
        if not isinstance(inline, list):
            say(f"{PROJECT}:{section}", f"expected a list, got {type(inline).__name__}")
            inline = []
        raw[section] = list(inline)
        origins.entries[section] = [(f"{PROJECT}:{section}", i) for i in range(len(inline))]

    try:
        catalog_files = _decode(config.get(f"{PROJECT}:catalogFiles")) or []
    except ValueError as exc:
        say(f"{PROJECT}:catalogFiles", f"is not valid: {exc}")
        catalog_files = []
    if not isinstance(catalog_files, list) or not all(isinstance(f, str) for f in catalog_files):
        say(f"{PROJECT}:catalogFiles", "expected a list of YAML file paths under config/")
        catalog_files = []
    for rel in catalog_files:
        _merge_catalog_file(Path(project_dir), rel, raw, origins, say)

    if problems:
        raise ConfigError(stack, problems)

    raw["stack"] = stack
    raw["secrets"] = secrets
    try:
        settings = GatewaySettings.model_validate(raw, context={"now": now})
    except ValidationError as exc:
        for err in exc.errors():
            for loc, message in _describe(err):
                say(_key_for(loc, origins), message)
        raise ConfigError(stack, problems) from None

    if (settings.litellm.deploy == "kubernetes" and settings.kubernetes is not None
            and not settings.kubernetes.ingress.enabled and settings.manages_admin_objects
            and not config.get(f"{PROJECT}:adminUrl")):
        say(f"{PROJECT}:adminUrl", "required when kubernetes.ingress is disabled and teams, keys or API-managed "
            "models are declared: the providers reach the admin API there (e.g. a port-forward to the Service)")
    for key, message in _missing_secrets(settings):
        missing.append(key)
        say(f"{PROJECT}:{key}", message)
    if problems:
        raise ConfigError(stack, problems, missing)
    return settings


def required_secret_keys(settings: GatewaySettings) -> list[str]:
    """The secret config keys this stack needs (envSecrets entries as envSecrets.NAME)."""
    return [k for k, _ in _requirements(settings)]


def _requirements(settings: GatewaySettings) -> list[tuple[str, str]]:
    req: list[tuple[str, str]] = []
    if settings.manages_admin_objects:
        req.append(("masterKey", "the dynamic providers call the admin API with it (teams, keys or "
                    "API-managed models are declared)"))
    if settings.postgres.enabled and settings.postgres.admin_password_required:
        req.append(("postgresAdminPassword", "creates the gateway's role and database"))
    if settings.litellm.deploy == "ssh" or settings.dns.enabled or settings.redis.manage_acl:
        req.append(("sshPrivateKey", "reaches the hosts over SSH"))
    if settings.litellm.deploy == "kubernetes" and settings.redis.enabled and settings.redis.user:
        req.append(("redisPassword", f"is the password of the Redis ACL user '{settings.redis.user}' the pods log in as"))
    if settings.redis.manage_acl and settings.redis.admin_user:
        req.append(("redisAdminPassword", f"is the password of the Redis admin user '{settings.redis.admin_user}' "
                    "redis-cli logs in as to manage the ACL user (redis.admin_user)"))
    if settings.dns.enabled and settings.dns.auth == "authfile":
        req.append(("dnsAdminPassword", "authenticates samba-tool on the domain controller"))
    own_certificate = not (settings.kubernetes is not None and settings.kubernetes.ingress.tls_secret)
    if settings.tls.enabled and settings.tls.issuer == "internal-ca" and own_certificate:
        req.append(("tlsCaCert", "is the internal CA's certificate (PEM) the host certificates chain to"))
        req.append(("tlsCaKey", "signs the host certificates with the internal CA"))
    if settings.tls.enabled and settings.tls.issuer == "provided" and own_certificate:
        req.append(("tlsCertChain", "is your certificate chain (PEM, the server certificate first) for tls.issuer: provided"))
        req.append(("tlsKey", "is the private key (PEM) of that certificate"))
    if settings.admin_ui.enabled:
        req.append(("uiPassword", f"is the Admin UI password of '{settings.admin_ui.username}' (adminUi.enabled); "
                    "never the master key"))
        if settings.admin_ui.sso is not None:
            req.append(("uiSsoClientSecret", f"is the OAuth client secret of the Admin UI's {settings.admin_ui.sso.provider} SSO"))
    from_cluster = set(settings.kubernetes.existing_secret_env) if settings.kubernetes is not None else set()
    for name in settings.referenced_env_vars():
        if name in from_cluster:  # kubernetes.existing_secret_env: an existing Secret's key
            continue
        req.append((f"envSecrets.{name}", f"the rendered config references os.environ/{name}"))
    return req


def _missing_secrets(settings: GatewaySettings) -> list[tuple[str, str]]:
    s = settings.secrets
    present = {
        "masterKey": s.master_key is not None,
        "redisPassword": s.redis_password is not None,
        "redisAdminPassword": s.redis_admin_password is not None,
        "postgresAdminPassword": s.postgres_admin_password is not None,
        "sshPrivateKey": s.ssh_private_key is not None,
        "dnsAdminPassword": s.dns_admin_password is not None,
        "tlsCaKey": s.tls_ca_key is not None,
        "tlsCertChain": s.tls_cert_chain is not None,
        "tlsKey": s.tls_key is not None,
        "tlsCaCert": settings.tls_ca_cert is not None,
        "uiPassword": s.ui_password is not None,
        "uiSsoClientSecret": s.ui_sso_client_secret is not None,
    }
    out = []
    for key, why in _requirements(settings):
        if key.startswith("envSecrets."):
            ok = key.split(".", 1)[1] in s.env_secrets
            how = f"pulumi config set --secret --path '{key}' <value>"
        elif key == "tlsCaCert":
            ok = present[key]
            how = "pulumi config set tlsCaCert -- \"$(cat ca.crt)\""
        else:
            ok = present[key]
            how = f"pulumi config set --secret {key} <value>"
        if not ok:
            out.append((key, f"missing required secret ({why}); set it with `{how}`"))
    return out


def _decode(value: Any) -> Any:
    """Pulumi hands structured config over as JSON text; plain strings stay strings."""
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in ("{", "[") or text in ("true", "false", "null") or _is_number(text):
            try:
                return safe_yaml.load_json(text)
            except json.JSONDecodeError:
                return value
    return value


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _strings(value: Any, path: str):
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, f"{path}[{i}]")


def _merge_catalog_file(project_dir: Path, rel: str, raw: dict, origins: _Origins, say) -> None:
    path = (project_dir / rel).resolve()
    config_dir = (project_dir / "config").resolve()
    if config_dir not in path.parents:
        say(f"{PROJECT}:catalogFiles", f"'{rel}' must be a file under config/")
        return
    try:
        doc = safe_yaml.load(path.read_text()) or {}
    except FileNotFoundError:
        say(f"{PROJECT}:catalogFiles", f"'{rel}' does not exist")
        return
    except (safe_yaml.YamlProblem, UnicodeDecodeError) as exc:
        say(rel, f"is not valid YAML: {exc}")
        return
    if not isinstance(doc, dict):
        say(rel, "expected a mapping with models, teams and/or keys")
        return
    for key in doc:
        if key not in CATALOG_SECTIONS:
            say(f"{rel}: {key}", f"unknown catalog section (known: {', '.join(CATALOG_SECTIONS)})")
    for section in CATALOG_SECTIONS:
        items = doc.get(section) or []
        if not isinstance(items, list):
            say(f"{rel}: {section}", "expected a list")
            continue
        for path_, text in _strings(items, f"{rel}: {section}"):
            if looks_like_secret(text):
                say(path_, "looks like a literal secret in a committed file; use an os.environ/NAME reference")
        for i, item in enumerate(items):
            origins.entries[section].append((f"{rel}: {section}", i))
            raw[section].append(item)


def _describe(err: dict) -> list[tuple[tuple, str]]:
    """One pydantic error -> located messages (a cross-check error carries several)."""
    ctx_error = (err.get("ctx") or {}).get("error")
    if isinstance(ctx_error, CrossCheckError):
        return [(tuple(_split_path(p)), m) for p, m in ctx_error.problems]
    loc = tuple(err["loc"])
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    kind = err["type"]
    if kind == "extra_forbidden":
        msg = "unknown key (a typo?)"
        allowed = _allowed_keys(loc[:-1])
        if allowed:
            msg += f"; expected one of: {', '.join(allowed)}"
    elif kind == "missing":
        msg = "required key is missing"
    inp = err.get("input")
    if kind not in ("missing", "extra_forbidden") and not _may_hold_secret(loc) and _printable(inp):
        msg += f" (got {inp!r})"
    return [(loc, msg)]


_SECRETISH = ("key", "password", "secret", "token", "credential")


def _may_hold_secret(loc: tuple) -> bool:
    """Never echo a value that may be a credential, even a malformed one."""
    if loc[:1] == ("secrets",):
        return True
    return any(isinstance(p, str) and any(w in p.lower() for w in _SECRETISH) for p in loc)


def _printable(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool)) and len(repr(value)) <= 80


def _split_path(path: str) -> list:
    parts: list = []
    for chunk in path.replace("]", "").split("."):
        name, *indices = chunk.split("[")
        if name:
            parts.append(name)
        parts.extend(int(i) for i in indices)
    return parts


def _key_for(loc: tuple, origins: _Origins) -> str:
    """A pydantic location -> 'litellm-gateway:models[2].api_base' or 'config/x.yaml: keys[1].alias'."""
    if not loc:
        return f"{PROJECT}"
    head, rest = loc[0], list(loc[1:])
    if head == "secrets":
        secret_key = {v: k for k, v in SECRET_KEYS.items()}.get(str(rest[0]) if rest else "", "secrets")
        prefix, rest = f"{PROJECT}:{secret_key}", rest[1:]
        # never echo secret values; env_secrets paths are names, safe to show
    elif head in CATALOG_SECTIONS and rest and isinstance(rest[0], int):
        prefix, index = origins.locate(head, rest[0])
        prefix, rest = f"{prefix}[{index}]", rest[1:]
    else:
        key = {v: k for k, v in PLAIN_KEYS.items()}.get(str(head), str(head))
        prefix = f"{PROJECT}:{key}"
    out = prefix
    for part in rest:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _allowed_keys(loc: tuple) -> list[str]:
    """Field names of the model at a location, for 'unknown key' messages."""
    model: Any = GatewaySettings
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(model, "model_fields", None)
        if not fields or part not in fields:
            return []
        annotation = fields[part].annotation
        model = _inner_model(annotation)
        if model is None:
            return []
    fields = getattr(model, "model_fields", None)
    return sorted(fields) if fields else []


def _inner_model(annotation: Any) -> Optional[type]:
    from typing import get_args

    if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
        return annotation
    for arg in get_args(annotation):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None
