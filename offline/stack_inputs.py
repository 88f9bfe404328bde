"""A stack's config as the Pulumi CLI would hand it to the program, without the CLI. Pure.

Secrets a stack needs but that are not in its committed file (they are set per machine with
`pulumi config set --secret`) are filled with recognisable placeholders, so the offline render
and the tests can evaluate the whole program. The placeholders are secret config too, so they
go through exactly the code paths real secrets do, and are redacted the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

from config.loader import PROJECT, ConfigError, load_settings
from config.settings import GatewaySettings
from config.stack_file import read_stack_file

PROJECT_DIR = Path(__file__).resolve().parent.parent

_PLACEHOLDER_CA_CERT = (
    "-----BEGIN CERTIFICATE-----\nMIIBrenderPlaceholderCaCertificate\n-----END CERTIFICATE-----\n"
)


def placeholder_value(key: str) -> str:
    if key == "masterKey":
        return "sk-placeholder-master-key-0000000000"
    if key == "tlsCaCert":
        return _PLACEHOLDER_CA_CERT
    if key == "tlsCaKey":
        return "-----BEGIN PLACEHOLDER KEY-----\nnot-a-key\n-----END PLACEHOLDER KEY-----\n"
    return f"placeholder-{key.replace('.', '-').lower()}"


@dataclass
class StackInputs:
    stack: str
    config: dict[str, Any]
    secret_keys: set[str]
    placeholders: list[str] = field(default_factory=list)  # keys filled with placeholders

    def settings(self, project_dir: Path = PROJECT_DIR) -> GatewaySettings:
        return load_settings(self.stack, self.config, self.secret_keys, project_dir=project_dir)


def load_stack_inputs(
    stack: str,
    *,
    project_dir: Path = PROJECT_DIR,
    secrets: Optional[Mapping[str, str]] = None,
    overrides: Optional[Mapping[str, Any]] = None,
    fill_missing_secrets: bool = True,
) -> StackInputs:
    """Pulumi.<stack>.yaml (+ `overrides`, + `secrets` as secret config) -> program config.

    `secrets` keys are config keys without the project prefix; `envSecrets.NAME` entries are
    gathered into the envSecrets object as `pulumi config set --secret --path` would.
    """
    sf = read_stack_file(project_dir, stack)
    config: dict[str, Any] = dict(sf.config)
    for key, value in (overrides or {}).items():
        full = key if ":" in key else f"{PROJECT}:{key}"
        if value is None:
            config.pop(full, None)
        else:
            config[full] = value if isinstance(value, str) else json.dumps(value, default=str)
    secret_keys = set(sf.encrypted_keys)
    inputs = StackInputs(stack=stack, config=config, secret_keys=secret_keys)
    for key, value in (secrets or {}).items():
        _set_secret(inputs, key, value)
    if fill_missing_secrets:
        try:
            inputs.settings(project_dir)
        except ConfigError as exc:
            if not exc.missing_secrets or len(exc.missing_secrets) != len(exc.problems):
                return inputs  # other problems: the caller's own validation reports them all
            for key in exc.missing_secrets:
                _set_secret(inputs, key, placeholder_value(key))
                inputs.placeholders.append(key)
    return inputs


def _set_secret(inputs: StackInputs, key: str, value: str) -> None:
    if key.startswith("envSecrets."):
        full = f"{PROJECT}:envSecrets"
        current = json.loads(inputs.config.get(full, "{}"))
        current[key.split(".", 1)[1]] = value
        inputs.config[full] = json.dumps(current)
    else:
        inputs.config[f"{PROJECT}:{key}"] = value
    if key != "tlsCaCert":  # the CA's certificate is public: plain config like the stack file's
        inputs.secret_keys.add(f"{PROJECT}:{key.split('.', 1)[0]}")
