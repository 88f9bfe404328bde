"""Read a Pulumi.<stack>.yaml the way the Pulumi CLI hands it to the program. Pure.

Used where the CLI is not available (the offline render, tests). Structured values become JSON
text, as the runtime passes them; `secure:` values cannot be decrypted without the CLI and are
reported as secret keys whose values the caller must supply.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


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
    doc = yaml.safe_load(path.read_text()) or {}
    out = StackFile(stack=stack)
    for key, value in (doc.get("config") or {}).items():
        if _has_secure(value):
            out.encrypted_keys.add(key)
            continue
        out.config[key] = value if isinstance(value, str) else json.dumps(value, default=str)
    return out
