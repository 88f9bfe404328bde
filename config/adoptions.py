"""The adoption list of a stack: `config/imports/<stack>.yaml`, written by `python -m offline.adopt`. Pure.

    # resource name -> the id of the object already on the proxy
    resources:
      litellm-prod-model-gpt-4o: gpt-4o              # a model: its model_info.id
      litellm-prod-team-platform: platform           # a team: its team_id
      litellm-prod-key-webapp: 3f1c...e9             # a key: its sha256 token (never the raw key)

The program gives each named Model, Team and VirtualKey that id as its `adopt_id` input: the first
`pulumi up` reads each object, checks it matches the catalog and writes nothing (the provider's create
adopts instead of creating). A name the stack does not declare is an error (a typo would otherwise
create a duplicate). Once adopted the entries change nothing and may stay or go.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

IMPORTS_DIR = "config/imports"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,255}")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,255}")


class AdoptionListError(ValueError):
    pass


def adoption_list_path(project_dir: Path | str, stack: str) -> Path:
    return Path(project_dir) / IMPORTS_DIR / f"{stack}.yaml"


def parse_adoption_list(text: str, where: str) -> dict[str, str]:
    try:
        doc = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise AdoptionListError(f"{where}: is not valid YAML: {exc}") from None
    if not isinstance(doc, dict) or set(doc) - {"resources"}:
        raise AdoptionListError(f"{where}: expected a mapping with one key, 'resources' (resource name -> id)")
    resources = doc.get("resources") or {}
    if not isinstance(resources, dict):
        raise AdoptionListError(f"{where}: resources: expected a mapping of resource name -> id")
    problems = []
    for name, id_ in resources.items():
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            problems.append(f"{name!r} is not a resource name")
        elif not isinstance(id_, str) or not _ID.fullmatch(id_):
            problems.append(f"{name}: expected an id of letters, digits and . _ : @ - (got {type(id_).__name__})")
        elif id_.startswith("sk-"):
            problems.append(f"{name}: a key is adopted by its sha256 token, never by its raw value")
    if problems:
        raise AdoptionListError(f"{where}: " + "; ".join(problems))
    return dict(resources)


def load_adoption_list(project_dir: Path | str, stack: str) -> dict[str, str]:
    """resource name -> id, empty when the stack has no adoption list."""
    path = adoption_list_path(project_dir, stack)
    if not path.is_file():
        return {}
    return parse_adoption_list(path.read_text(), f"{IMPORTS_DIR}/{stack}.yaml")
