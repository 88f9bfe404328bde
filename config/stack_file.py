"""Read a Pulumi.<stack>.yaml the way the Pulumi CLI hands it to the program. Pure.

Used where the CLI is not available (the offline render, tests). The file is decoded as the CLI
decodes it (go-yaml v3, not PyYAML's YAML 1.1: `config.cli_values` cites the CLI source followed)
and each value is handed on as the string the CLI gives the program: strings as they are,
numbers/booleans as their JSON text, maps and lists as JSON text, and an unquoted date such as
`expires: 2027-06-30` as Go's `time.Time.String()`, "2027-06-30 00:00:00 +0000 UTC", at any depth.
`secure:` values cannot be decrypted without the CLI and are reported as secret keys whose values
the caller must supply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from config.cli_values import cli_config_string, load_yaml_v3


@dataclass
class StackFile:
    stack: str
    config: dict[str, str] = field(default_factory=dict)
    # keys stored encrypted in the file (values unknown here)
    encrypted_keys: set[str] = field(default_factory=set)


def _has_secure(value: Any) -> bool:
    if isinstance(value, dict):
        return "secure" in value and len(value) == 1 or any(_has_secure(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_secure(v) for v in value)
    return False


def read_stack_file(project_dir: Path | str, stack: str) -> StackFile:
    path = Path(project_dir) / f"Pulumi.{stack}.yaml"
    if not path.exists():
        known = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in Path(project_dir).glob("Pulumi.*.yaml"))
        raise FileNotFoundError(f"no stack file {path.name} (stacks here: {', '.join(known) or 'none'})")
    doc = load_yaml_v3(path.read_text()) or {}
    out = StackFile(stack=stack)
    for key, value in (doc.get("config") or {}).items():
        if _has_secure(value):
            out.encrypted_keys.add(key)
            continue
        out.config[key] = cli_config_string(value)
    return out
