"""Adopt a running LiteLLM gateway: `python -m offline.adopt --stack NAME`.

Reads the running proxy's models, teams and virtual keys through its admin API -- the URL and master
key from the environment (LITELLM_GATEWAY_ADMIN_URL, LITELLM_GATEWAY_MASTER_KEY; LITELLM_GATEWAY_CA_BUNDLE
for an https proxy with a private CA), never from the command line -- and writes

  config/catalogs/<stack>.yaml   the catalog (models, teams, keys) exactly as the proxy holds it
  config/imports/<stack>.yaml    resource name -> id of each object (config.adoptions)

With both in place (`catalogFiles: [config/catalogs/<stack>.yaml]` and `litellm.model_source: api` in
Pulumi.<stack>.yaml), the first `pulumi up` adopts every object: each provider's create reads the object,
checks it matches, and writes nothing. A key's value is never needed (LiteLLM stores hashes): the
adopted key's `keys.<service>` output says its consumer holds it.

What has no equivalent in the catalog is refused by name (the object is left out and stays unmanaged):
models from the proxy's config.yaml (convert that file: `--from-config`), models whose litellm_params or
model_info the catalog refuses (validated as the catalog validates a deployment: the pinned LiteLLM's
own types) or with a provider it does not know, keys without an alias, expired keys, keys
of teams that are not adopted, metadata values that are not scalars.

`--from-config FILE` converts an existing LiteLLM config.yaml instead (offline.litellm_config) into
stack config (models, routing, cache, observability) and prints it.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Optional

import yaml
from pydantic import ValidationError

from config.catalog import OLLAMA_PROVIDERS, ModelDeployment, Provider
from config.litellm_model_schema import RESERVED_INFO
from config.litellm_model_tables import COST_MAP_INFO
from config.adoptions import IMPORTS_DIR
from offline.stack_inputs import PROJECT_DIR

ADMIN_URL_ENV = "LITELLM_GATEWAY_ADMIN_URL"
MASTER_KEY_ENV = "LITELLM_GATEWAY_MASTER_KEY"
CA_BUNDLE_ENV = "LITELLM_GATEWAY_CA_BUNDLE"
PROVIDERS = set(Provider.__args__)  # type: ignore[attr-defined]
# litellm_params the catalog expresses (ModelDeployment), by LiteLLM's name -> the catalog's.
MODEL_PARAMS = {"api_base": "api_base", "api_key": "api_key", "litellm_credential_name": "credential_name",
                "rpm": "rpm", "tpm": "tpm", "timeout": "timeout", "weight": "weight", "max_tokens": "max_tokens"}
# Named first when model_info is left out for a model the cost map knows.
_NOTABLE_COST_MAP_INFO = ("mode", "max_tokens", "max_input_tokens", "input_cost_per_token", "output_cost_per_token")
# The key the pinned proxy stamps into every answered model_info (proxy_server.py PRICING_OVERRIDES_KEY).
PRICING_OVERRIDES_INFO = "pricing_overrides"
# Filled in from the provider's config for every model (litellm.get_model_info), never stored.
SUPPORTED_PARAMS_INFO = "supported_openai_params"
# Set by litellm-gateway itself (specs.RESERVED_METADATA_FIELDS) or by LiteLLM: never declared.
RESERVED_METADATA = {"litellm_gateway_owner", "litellm_gateway_create_id", "litellm_gateway_retired_until"}
_SERVICE = re.compile(r"[^a-z0-9_-]+")
_ALIAS = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_DEPLOYMENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


@dataclass
class Adopted:
    catalog: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {"models": [], "teams": [], "keys": []})
    ids: dict[str, str] = field(default_factory=dict)  # resource name -> id
    refused: list[str] = field(default_factory=list)  # "<what>: <why>"
    notes: list[str] = field(default_factory=list)  # adopted, but worth knowing


def _number(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _scalar_metadata(where: str, metadata: Any, refused: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in sorted((metadata or {}).items()) if isinstance(metadata, Mapping) else []:
        if name in RESERVED_METADATA:
            continue
        if isinstance(value, (str, int, float, bool)) and not isinstance(value, type(None)):
            out[name] = value
        else:
            refused.append(f"{where}.metadata.{name}: not a string, number or boolean (left on the proxy, not declared)")
    return out


def model_entry(row: Mapping[str, Any], refused: list[str], notes: Optional[list[str]] = None) -> Optional[dict[str, Any]]:
    info = row.get("model_info") or {}
    model_id = str(info.get("id") or "")
    where = f"model {model_id or row.get('model_name')!r}"
    if not info.get("db_model"):
        refused.append(f"{where}: comes from the proxy's config.yaml, not its database (convert that file with --from-config)")
        return None
    if not _DEPLOYMENT_ID.fullmatch(model_id):
        refused.append(f"{where}: its id is not letters, digits and . _ : - (at most 128)")
        return None
    params = dict(row.get("litellm_params") or {})
    provider, _, upstream = str(params.pop("model", "")).partition("/")
    if provider not in PROVIDERS or not upstream:
        refused.append(f"{where}: litellm_params.model {provider + '/' + upstream!r}: provider {provider!r} has no catalog equivalent")
        return None
    entry: dict[str, Any] = {"id": model_id, "model_name": row.get("model_name"), "provider": provider, "model": upstream}
    for name, value in params.items():
        if value is None or name not in MODEL_PARAMS:
            continue
        if name == "api_key" and not str(value).startswith("os.environ/"):
            refused.append(f"{where}: litellm_params.api_key is a stored credential (only an os.environ/ reference can be declared)")
            return None
        entry[MODEL_PARAMS[name]] = _number(value)
    # The other litellm_params as the catalog's `litellm_params`. LiteLLM fills in its own flags
    # (use_in_pass_through: false, ...): a default is not a declaration.
    extra = {k: _number(v) for k, v in sorted(params.items()) if k not in MODEL_PARAMS and v is not None and v is not False}
    if extra:
        entry["litellm_params"] = extra
    info_entry, skipped = _declared_model_info(info, extra)
    if info_entry:
        entry["model_info"] = info_entry
    if provider in OLLAMA_PROVIDERS and not entry.get("api_base"):
        refused.append(f"{where}: an Ollama deployment without a readable api_base")
        return None
    # Validated exactly as the catalog validates a deployment (config.catalog.ModelDeployment: the
    # pinned LiteLLM's own types, unknown keys refused by name, credentials only as os.environ/).
    try:
        ModelDeployment.model_validate(entry)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or 'model'}: {err['msg'].removeprefix('Value error, ')}"
                             for err in e.errors())
        refused.append(f"{where}: not expressible in the catalog: {problems}")
        return None
    if skipped and notes is not None:
        shown = [k for k in _NOTABLE_COST_MAP_INFO if k in skipped]
        notes.append(f"{where}: LiteLLM's cost map knows this model and the proxy's answer mixes the map's values with the "
                     f"stored ones, so its model_info ({', '.join(shown + ['...'])}: {len(skipped)} keys) is not declared "
                     "(the map's values apply); add what you set yourself to the catalog's model_info")
    if provider not in OLLAMA_PROVIDERS and "api_key" not in entry and notes is not None:
        notes.append(f"{where}: the proxy does not show its credential (stored encrypted); it keeps it. Declare "
                     "`api_key: os.environ/NAME` (and envSecrets.NAME) before changing this model's litellm_params")
    return entry


def _declared_model_info(info: Mapping[str, Any], params: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The model_info a deployment declares, from the proxy's enriched answer (/v2/model/info), and
    the keys left out because they cannot be told apart from the cost map's.

    The pinned proxy answers with the stored model_info merged with (proxy_server.py
    `_enrich_model_info_with_litellm_data`): LiteLLM's cost-map entry for the model -- for a model
    the map does not know, an entry of nulls (`key`, `litellm_provider` and
    `supported_openai_params` filled in) --, `pricing_overrides` and the cost keys of
    litellm_params (stamps), limits the router discovered, and the router's defaults (`blocked:
    false`). So: nulls, false flags, keys the gateway or the proxy set and stamps that repeat a
    litellm_param are dropped; and when the map knows the model (a `supports_*` flag that is not
    null: the map's entries carry them, the unknown entry does not), its keys are left out (the stored
    value and the map's look the same) and named."""
    known_to_cost_map = any(k.startswith("supports_") and v is not None for k, v in info.items() if k in COST_MAP_INFO)
    out: dict[str, Any] = {}
    skipped: list[str] = []
    for name, value in sorted(info.items()):
        if (value is None or value is False or name in RESERVED_INFO
                or name in (PRICING_OVERRIDES_INFO, SUPPORTED_PARAMS_INFO)):
            continue
        if name in params and params[name] == value:
            continue
        if known_to_cost_map and name in COST_MAP_INFO:
            skipped.append(name)
            continue
        out[name] = _number(value)
    return out, skipped


def team_entry(team: Mapping[str, Any], refused: list[str]) -> Optional[dict[str, Any]]:
    team_id = str(team.get("team_id") or "")
    where = f"team {team_id!r}"
    if not _ALIAS.fullmatch(team_id):
        refused.append(f"{where}: its id is not letters, digits and . _ - (at most 64): no catalog equivalent")
        return None
    entry: dict[str, Any] = {"team_id": team_id}
    if team.get("team_alias"):
        entry["alias"] = team["team_alias"]
    if team.get("models"):
        entry["models"] = list(team["models"])
    for name in ("max_budget", "budget_duration", "rpm_limit", "tpm_limit"):
        if team.get(name) is not None:
            entry[name] = _number(team[name])
    metadata = _scalar_metadata(where, team.get("metadata"), refused)
    if metadata:
        entry["metadata"] = metadata
    return entry


def _service_of(alias: str, metadata: Mapping[str, Any], taken: set[str]) -> str:
    base = str(metadata.get("service") or "") or _SERVICE.sub("-", alias.lower()).strip("-_") or "key"
    base = _SERVICE.sub("-", base.lower()).strip("-_")[:60] or "key"
    service, n = base, 2
    while service in taken:
        service, n = f"{base}-{n}", n + 1
    taken.add(service)
    return service


def key_entry(key: Mapping[str, Any], teams: set[str], services: set[str], now: datetime, refused: list[str]) -> Optional[dict[str, Any]]:
    token = str(key.get("token") or "")
    alias = key.get("key_alias")
    where = f"key {alias!r}" if alias else f"key {token[:12]}..."
    if not alias or not _ALIAS.fullmatch(str(alias)):
        refused.append(f"{where}: no alias of letters, digits and . _ - (the catalog names keys by alias)")
        return None
    expires = key.get("expires")
    when = None
    if expires:
        when = datetime.fromisoformat(str(expires).replace("Z", "+00:00"))
        when = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
        if when <= now:
            refused.append(f"{where}: expired at {when.isoformat()} (nothing to manage)")
            return None
    if key.get("team_id") and key["team_id"] not in teams:
        refused.append(f"{where}: its team {key['team_id']!r} is not adopted")
        return None
    raw_metadata = key.get("metadata") if isinstance(key.get("metadata"), Mapping) else {}
    metadata = _scalar_metadata(where, raw_metadata, refused)
    entry: dict[str, Any] = {"alias": str(alias), "service": _service_of(str(alias), metadata, services)}
    if key.get("team_id"):
        entry["team"] = key["team_id"]
    if key.get("models"):
        entry["models"] = list(key["models"])
    for name in ("max_budget", "budget_duration", "rpm_limit", "tpm_limit"):
        if key.get(name) is not None:
            entry[name] = _number(key[name])
    if when is not None:
        entry["expires"] = when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if metadata:
        entry["metadata"] = metadata  # the proxy's, as it is (an adopted key's metadata is sent as declared)
    return entry


def adopt_objects(
    environment: str,
    models: list[Mapping[str, Any]],
    teams: list[Mapping[str, Any]],
    keys: list[Mapping[str, Any]],
    now: Optional[datetime] = None,
) -> Adopted:
    """The catalog and adoption list for what the proxy holds (pure)."""
    now = now or datetime.now(timezone.utc)
    out = Adopted()
    name = f"litellm-{environment}"
    seen_models: set[str] = set()
    for row in sorted(models, key=lambda r: str((r.get("model_info") or {}).get("id"))):
        entry = model_entry(row, out.refused, out.notes)
        if entry is not None and entry["id"] not in seen_models:
            seen_models.add(entry["id"])
            out.catalog["models"].append(entry)
            out.ids[f"{name}-model-{entry['id']}"] = entry["id"]
    team_ids: set[str] = set()
    for team in sorted(teams, key=lambda t: str(t.get("team_id"))):
        entry = team_entry(team, out.refused)
        if entry is not None:
            team_ids.add(entry["team_id"])
            out.catalog["teams"].append(entry)
            out.ids[f"{name}-team-{entry['team_id']}"] = entry["team_id"]
    services: set[str] = set()
    for key in sorted(keys, key=lambda k: (str(k.get("key_alias")), str(k.get("token")))):
        entry = key_entry(key, team_ids, services, now, out.refused)
        if entry is not None:
            out.catalog["keys"].append(entry)
            out.ids[f"{name}-key-{entry['alias']}"] = str(key["token"])
    return out


# ---- reading the proxy ---------------------------------------------------------------------------


def read_proxy(base_url: str, master_key: str, ca_bundle_file: Optional[str] = None) -> tuple[list[dict], list[dict], list[dict]]:
    """(model rows, teams, keys) through the admin API; GETs only."""
    from components.litellm_admin.client import MODEL_INFO_PAGE_SIZE, AdminEndpoint, _Call, _list_keys

    options: dict[str, Any] = {"timeout": 30.0}
    if ca_bundle_file:
        options["ca_bundle_file"] = ca_bundle_file
    endpoint = AdminEndpoint(base_url=base_url, master_key=master_key, **options)
    models: list[dict] = []
    with _Call(endpoint) as call:
        page = 1
        while True:
            payload = call.read("/v2/model/info", {"page": page, "size": MODEL_INFO_PAGE_SIZE}, absent_statuses=()) or {}
            rows = payload.get("data") or []
            models.extend(dict(r) for r in rows)
            if not rows or page >= (payload.get("total_pages") or 1):
                break
            page += 1
        teams_payload = call.read("/team/list", {}, absent_statuses=()) or []
        teams = [dict(t) for t in (teams_payload if isinstance(teams_payload, list) else teams_payload.get("teams") or [])]
        keys = [k for k in _list_keys(call) if isinstance(k, dict) and k.get("token")]
    return models, teams, keys


# ---- writing -------------------------------------------------------------------------------------


def _dump(document: Any) -> str:
    return yaml.safe_dump(document, sort_keys=False, default_flow_style=False, width=100, allow_unicode=True)


def shown_url(url: str) -> str:
    """The admin URL as the written files and the output name it: scheme, host, port and path only
    (never credentials or a query, should the environment's URL carry any)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}{parts.path}"


def write_files(project_dir: Path, stack: str, adopted: Adopted, base_url: str) -> tuple[Path, Path]:
    catalog_path = project_dir / "config" / "catalogs" / f"{stack}.yaml"
    imports_path = project_dir / IMPORTS_DIR / f"{stack}.yaml"
    catalog_path.parent.mkdir(parents=True, exist_ok=True)
    imports_path.parent.mkdir(parents=True, exist_ok=True)
    header = f"# Adopted from the LiteLLM proxy at {shown_url(base_url)} by `python -m offline.adopt --stack {stack}`.\n"
    catalog = {section: items for section, items in adopted.catalog.items() if items}
    catalog_path.write_text(header + "# The proxy's models, teams and keys as it holds them; edit after the first `pulumi up`.\n" + _dump(catalog))
    imports_path.write_text(
        header + "# Resource name -> id on the proxy: the first `pulumi up` adopts these objects and writes nothing\n"
        "# (config/adoptions.py). Keys are named by their sha256 token, never their value.\n" + _dump({"resources": adopted.ids})
    )
    return catalog_path, imports_path


def main(argv: Optional[list[str]] = None, environ: Optional[Mapping[str, str]] = None, project_dir: Path = PROJECT_DIR) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True)
    parser.add_argument("--environment", help="the stack's `environment` (default: Pulumi.<stack>.yaml's, else the stack name)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing catalog/adoption list of this stack")
    parser.add_argument("--from-config", metavar="CONFIG_YAML", help="convert a LiteLLM config.yaml into stack config instead")
    args = parser.parse_args(argv)
    env = os.environ if environ is None else environ

    if args.from_config:
        from offline.litellm_config import convert_file

        return convert_file(Path(args.from_config), args.stack)

    base_url, master_key = env.get(ADMIN_URL_ENV), env.get(MASTER_KEY_ENV)
    if not base_url or not master_key:
        print(f"adopt: set {ADMIN_URL_ENV} and {MASTER_KEY_ENV} (the proxy's admin URL and master key) in the environment",
              file=sys.stderr)
        return 2
    environment = args.environment or _stack_environment(project_dir, args.stack) or args.stack
    targets = [project_dir / "config" / "catalogs" / f"{args.stack}.yaml", project_dir / IMPORTS_DIR / f"{args.stack}.yaml"]
    existing = [str(p.relative_to(project_dir)) for p in targets if p.exists()]
    if existing and not args.force:
        print(f"adopt: {', '.join(existing)} already exist(s); --force overwrites", file=sys.stderr)
        return 2
    from components.litellm_admin.client import AdminApiError, AdminTrustError

    try:
        models, teams, keys = read_proxy(base_url, master_key, env.get(CA_BUNDLE_ENV))
    except (AdminApiError, AdminTrustError) as exc:  # the client redacts its messages
        print(f"adopt: reading the proxy failed: {exc}", file=sys.stderr)
        return 1
    adopted = adopt_objects(environment, models, teams, keys)
    catalog_path, imports_path = write_files(project_dir, args.stack, adopted, base_url)
    counts = {s: len(v) for s, v in adopted.catalog.items()}
    print(f"adopted {counts['models']} model(s), {counts['teams']} team(s), {counts['keys']} key(s) "
          f"(resource names litellm-{environment}-...)")
    print(f"wrote {catalog_path.relative_to(project_dir)} and {imports_path.relative_to(project_dir)}")
    for line in adopted.notes:
        print(f"note: {line}")
    for line in adopted.refused:
        print(f"refused: {line}")
    print(f"next: in Pulumi.{args.stack}.yaml set `litellm-gateway:catalogFiles: [config/catalogs/{args.stack}.yaml]`"
          + (" and `litellm.model_source: api`" if counts["models"] else "")
          + f"; `make plan STACK={args.stack}` shows each object as an import")
    return 0


def _stack_environment(project_dir: Path, stack: str) -> Optional[str]:
    path = project_dir / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        return None
    doc = yaml.safe_load(path.read_text()) or {}
    value = (doc.get("config") or {}).get("litellm-gateway:environment")
    return str(value) if value else None


if __name__ == "__main__":
    sys.exit(main())
