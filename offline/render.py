"""`make render STACK=<stack>`: everything a stack would build, without the Pulumi CLI.

Evaluates the real program with Pulumi's mock engine and writes, under build/<stack>/:
  resources.json            every resource: urn, type, name, parent, inputs, secret_inputs
                            (each secret input's value replaced by "[secret]")
  litellm/config.yaml       the exact file each host receives
  hosts/<host>/litellm.service, hosts/<host>/litellm.env   review copies (secrets as "[secret]")
  frontdoor/haproxy.cfg     the front door's exact config (stacks with more than one host)
  k8s/<nn>-<object>.yaml    litellm.deploy: kubernetes: one manifest per Kubernetes object, from the
                            builders the component uses (secret values as "[secret]")
and prints the resource tree. It never prints or writes a secret value: the written files are
checked for every secret value the run knew before they are kept.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from config.catalog import expired_keys
from config.litellm_settings import ADMIT_ANY_KEY_WARNING
from config.loader import ConfigError
from offline.engine import PROJECT_DIR, REDACTED, ProgramRun, run_program
from offline.stack_inputs import StackInputs, load_stack_inputs
from rendering.dns_records import needed_records, records_text
from rendering.haproxy_cfg import render_haproxy_cfg
from rendering.host_files import render_env_file, render_systemd_unit, settings_for_host
from rendering.litellm_yaml import dump_yaml, render_litellm_config_yaml


def resource_record(r) -> dict[str, Any]:
    """One resource as resources.json holds it: what `offline.plan` needs to plan engine steps from a
    render (custom, dependencies, aliases, replace/delete options), secret inputs as "[secret]"."""
    return {
        "urn": r.urn,
        "type": r.type,
        "name": r.name,
        "parent": r.parent,
        "custom": r.custom,
        "inputs": r.redacted_inputs(),
        "secret_inputs": sorted(r.secret_inputs),
        "depends_on": sorted(set(r.depends_on)),
        **({"aliases": sorted((json.loads(json.dumps(a, sort_keys=True)) for a in r.aliases),
                              key=lambda a: json.dumps(a, sort_keys=True))} if r.aliases else {}),
        **({"protect": True} if r.protect else {}),
        **({"delete_before_replace": True} if r.delete_before_replace else {}),
        **({"replace_on_changes": sorted(r.replace_on_changes)} if r.replace_on_changes else {}),
        **({"ignore_changes": sorted(r.ignore_changes)} if r.ignore_changes else {}),
        **({"import_id": r.import_id} if getattr(r, "import_id", "") else {}),
    }


def resources_document(run: ProgramRun) -> dict[str, Any]:
    """Deterministic: resources sorted by URN (the engine registers independent resources in whatever
    order their inputs resolve), every list that is a set sorted; dumped with sorted keys."""
    return {
        "stack": run.stack,
        "resources": [resource_record(r) for r in sorted(run.resources, key=lambda r: r.urn)],
        "outputs": run.redacted_outputs(),
    }


def dumps_document(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n"


def tree_lines(run: ProgramRun) -> list[str]:
    children: dict[str, list] = {}
    ordered = sorted(run.resources, key=lambda r: r.urn)
    for r in ordered:
        children.setdefault(r.parent, []).append(r)
    roots = [r for r in ordered if r.parent not in {x.urn for x in ordered}]
    lines: list[str] = []

    def walk(resource, prefix: str, last: bool) -> None:
        flags = " [protected]" if resource.protect else ""
        secret = f"  (secret: {', '.join(resource.secret_inputs)})" if resource.secret_inputs else ""
        lines.append(f"{prefix}{'└─ ' if last else '├─ '}{resource.type}  {resource.name}{flags}{secret}")
        kids = children.get(resource.urn, [])
        for i, kid in enumerate(kids):
            walk(kid, prefix + ("   " if last else "│  "), i == len(kids) - 1)

    for i, root in enumerate(roots):
        walk(root, "", i == len(roots) - 1)
    return lines


def _secret_values(inputs_config: dict[str, Any], secret_keys: set[str]) -> list[str]:
    values: list[str] = []
    for key in secret_keys:
        raw = inputs_config.get(key)
        if raw is None:
            continue
        try:
            decoded = json.loads(raw)
        except (TypeError, json.JSONDecodeError):
            decoded = raw
        stack = [decoded]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, str) and len(item) >= 6:
                values.append(item)
    return values


def kubernetes_files(settings, out: Path) -> dict[Path, str]:
    """build/<stack>/k8s/<nn>-<object>.yaml, numbered in creation order (empty unless kubernetes)."""
    if settings.litellm.deploy != "kubernetes":
        return {}
    from rendering.kubernetes_objects import kubernetes_manifests

    manifests = kubernetes_manifests(settings)  # every secret value "[secret]"
    return {
        out / "k8s" / f"{i:02d}-{stem}.yaml": dump_yaml(manifest)
        for i, (stem, manifest) in enumerate(manifests.items(), start=1)
    }


def render(stack: str, out_root: Path) -> int:
    try:
        inputs = load_stack_inputs(stack)
    except (ConfigError, FileNotFoundError) as exc:
        print(exc, file=sys.stderr)
        return 2
    return render_inputs(inputs, out_root)


def render_inputs(inputs: StackInputs, out_root: Path) -> int:
    """Render a stack's already-gathered config (`make render`, and benchmarks of synthetic stacks)."""
    stack = inputs.stack
    try:
        settings = inputs.settings()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    if inputs.placeholders:
        print(f"note: not in Pulumi.{stack}.yaml, so rendered with placeholders: {', '.join(inputs.placeholders)}")
        print("      (set each with `pulumi config set --secret ...` before `pulumi up`; see docs/configuration.md)")

    run = run_program(stack, inputs.config, inputs.secret_keys)

    out = out_root / stack
    if out.exists():
        shutil.rmtree(out)
    files: dict[Path, str] = {
        out / "resources.json": dumps_document(resources_document(run)),
        out / "litellm" / "config.yaml": render_litellm_config_yaml(settings),
    }
    for host in settings.litellm.hosts:
        files[out / "hosts" / host.name / "litellm.service"] = render_systemd_unit(settings_for_host(settings, host), host)
        files[out / "hosts" / host.name / "litellm.env"] = render_env_file(settings, redact=True)
    files.update(kubernetes_files(settings, out))

    if settings.has_front_door:
        files[out / "frontdoor" / "haproxy.cfg"] = render_haproxy_cfg(settings)
    if not settings.dns.enabled and needed_records(settings):
        # DNS not managed by the stack: what to create by hand (rendering.dns_records)
        files[out / "dns-records.txt"] = records_text(settings)

    # Belt and braces: refuse to write anything that contains a secret value the run knew.
    secrets = _secret_values(inputs.config, inputs.secret_keys)
    for path, text in files.items():
        leaked = [v for v in secrets if v in text]
        if leaked:
            print(f"refusing to write {path.relative_to(out_root.parent)}: it would contain a secret value "
                  f"({len(leaked)} found); this is a bug", file=sys.stderr)
            return 3
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    print(f"stack {stack}: {len(run.resources)} resources")
    now = datetime.now(timezone.utc)
    for key in expired_keys(settings.keys, now):
        # Expiry is an event in a key's life, not a config error: its resource stays (LiteLLM refuses
        # the key); a new environment refuses to create it (the provider, at create time).
        print(f"expired: key {key.alias} (service {key.service}) expired at {key.expires.isoformat()}; "
              "LiteLLM refuses it. Rotate it (a new expires / rotation_trigger) or remove it from the catalog")
    if settings.litellm.database_outage == "admit_any_key":
        print(f"warning: {ADMIT_ANY_KEY_WARNING}")
    for line in tree_lines(run):
        print(line)
    print("outputs:")
    for name, value in run.redacted_outputs().items():
        shown = value if value == REDACTED or isinstance(value, (int, float)) else json.dumps(value)
        print(f"  {name}: {shown}")
    print("wrote:")
    for path in files:
        print(f"  {path.relative_to(out_root.parent) if out_root.parent in path.parents else path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stack", nargs="?", default="local")
    parser.add_argument("--out", default=str(PROJECT_DIR / "build"))
    args = parser.parse_args(argv)
    return render(args.stack, Path(args.out))


if __name__ == "__main__":
    sys.exit(main())
