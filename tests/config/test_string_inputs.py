"""Every string a stack sets is checked by a validator of its kind before it can reach a script, a
unit, haproxy.cfg, a manifest or a URL (issue 16): a line break, a space, `#`, `%` or `\\` appended
to any string of any committed stack is refused with a message naming that key, unless the key is in
FREE_TEXT (with the reason it never lands in such a file). And no validator uses `re.match` (which
lets `$` match before a trailing newline) or a `\\d` class (which takes non-ASCII digits).
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any, Iterator

import pytest

from config.loader import ConfigError, load_settings
from offline.stack_inputs import PROJECT_DIR
from tests.config.test_bad_inputs import NOW, P, apply

STACKS = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in PROJECT_DIR.glob("Pulumi.*.yaml"))

# Keys whose text never reaches a shell script, a unit, haproxy.cfg, a manifest or a URL (each goes
# only into LiteLLM's config.yaml through a YAML dumper, or into an admin-API JSON body), so free text
# is fine there. Matched against the key path with list indices and map keys replaced by `*`.
FREE_TEXT = {
    "saltKeyRotation": "a reason, kept as a resource input; printable ASCII checked by its own field",
    "kubernetes.annotations.*": "Kubernetes annotation values are free text (the manifest is YAML-dumped)",
    "kubernetes.ingress_annotations.*": "as above",
}

# What is appended to a valid value: each is harmless in YAML/JSON and an injection elsewhere.
SUFFIXES = ["\nx", " x", "#x", "%x", "\\x"]
# Suffixes a key legitimately takes, and why they are safe where the key lands.
ALLOWED_SUFFIXES = {
    "dns.admin_user": ({"\\x"}, "DOMAIN\\user is how Samba names an account; it reaches samba-tool as one "
                       "shell-quoted argument (rendering/dns_scripts.py), never a config line"),
    "teams[*].alias": ({" x", "#x", "%x", "\\x"}, "a display name for LiteLLM's UI, sent only in admin-API JSON; "
                       "printable ASCII (config.checks.check_display_name)"),
}


def _leaves(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaves(v, f"{path}[{i}]")
    elif isinstance(value, str):
        yield path, value


def _pattern(path: str) -> str:
    return re.sub(r"\[\d+\]", "[*]", path)


def _free(path: str) -> bool:
    generic = _pattern(path)
    return any(re.fullmatch(re.escape(k).replace(r"\*", r"[^.]+"), generic) for k in FREE_TEXT)


def _string_keys(stack: str) -> list[tuple[str, str]]:
    config, secret_keys = apply(stack, {}, {})
    out = []
    for full, raw in sorted(config.items()):
        if full in secret_keys or not full.startswith(f"{P}:"):
            continue
        key = full[len(P) + 1:]
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        if not isinstance(value, (dict, list, str)):
            continue
        for path, text in _leaves(value, key):
            path = path.replace(f"{key}.", f"{key}.", 1)
            if not _free(path) and text:
                out.append((path, text))
    return out


CASES = [(stack, path, text) for stack in STACKS for path, text in _string_keys(stack)]


def test_every_stack_has_strings_to_try():
    assert len(CASES) >= 40, CASES
    assert {stack for stack, _, _ in CASES} == set(STACKS)


@pytest.mark.parametrize("stack,path,text", CASES, ids=[f"{s}:{p}" for s, p, _ in CASES])
def test_a_string_with_a_line_break_space_or_special_character_is_refused_by_name(stack, path, text):
    allowed = ALLOWED_SUFFIXES.get(_pattern(path), (set(), ""))[0]
    for suffix in SUFFIXES:
        if suffix in allowed:
            continue
        config, secret_keys = apply(stack, {path: text + suffix}, {})
        try:
            load_settings(stack, config, secret_keys, project_dir=PROJECT_DIR, now=NOW)
        except ConfigError as exc:
            named = [p for p in exc.problems if p.startswith(f"stack '{stack}': ")]
            assert named, exc.problems
            key = path.split("[")[0].split(".")[0]
            assert any(p.startswith(f"stack '{stack}': {P}:{key}") for p in named), (path, suffix, exc.problems)
        else:
            pytest.fail(f"{stack}: {path} accepted {text + suffix!r}")


# ---- patterns ----------------------------------------------------------------------------------

SOURCES = [p for d in ("config", "rendering", "components") for p in sorted((PROJECT_DIR / d).rglob("*.py"))]


def _calls(tree: ast.AST) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "match":
            yield node.lineno, ast.unparse(node.func)


@pytest.mark.parametrize("path", SOURCES, ids=[str(p.relative_to(PROJECT_DIR)) for p in SOURCES])
def test_no_validator_uses_re_match_or_unicode_digits(path):
    text = path.read_text()
    tree = ast.parse(text)
    matches = [f"{path.name}:{line}: {call}(...)" for line, call in _calls(tree)]
    assert not matches, "use fullmatch (`$` matches before a trailing newline): " + ", ".join(matches)
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "compile"
                and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            pattern = node.args[0].value
            assert "\\d" not in pattern, f"{path.name}:{node.lineno}: \\d takes any Unicode digit; write [0-9]"


# ---- every string field of every settings model, set in a committed stack or not --------------

# Fields that hold secrets (SecretStr: never in a file but the env file, which quotes them) or free
# text by design, with the reason.
UNCHECKED_FIELDS = {
    ("GatewaySecrets", "*"): "secrets: SecretStr, written only quoted into the env file or onto stdin",
    ("TeamSpec", "metadata"): "metadata values go only into admin-API JSON",
    ("VirtualKeySpec", "metadata"): "as above",
    ("VirtualKeySpec", "rotation_trigger"): "an opaque trigger value, compared only (never written to a file)",
}


def _str_fields():
    import typing

    from pydantic import BaseModel

    from config.settings import GatewaySettings

    seen: set[type] = set()
    out = []

    def strings_in(annotation) -> bool:
        origin = typing.get_origin(annotation)
        if annotation is str:
            return True
        if origin is typing.Literal:
            return False
        if origin is typing.Annotated:
            return False  # the Annotated metadata is the field's validator (checked below)
        return any(strings_in(a) for a in typing.get_args(annotation))

    def models_in(annotation):
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield annotation
        for a in typing.get_args(annotation):
            yield from models_in(a)

    def visit(model: type) -> None:
        if model in seen:
            return
        seen.add(model)
        validators = model.__pydantic_decorators__.field_validators.values()
        validated = {f for v in validators for f in v.info.fields}
        for name, info in model.model_fields.items():
            for sub in models_in(info.annotation):
                visit(sub)
            if not strings_in(info.annotation):
                continue
            checked = bool(info.metadata) or name in validated or "*" in validated
            out.append((model.__name__, name, checked))

    visit(GatewaySettings)
    return out


def test_every_string_field_of_the_settings_has_a_validator():
    fields = _str_fields()
    assert len(fields) >= 20
    unchecked = [
        f"{model}.{name}" for model, name, checked in fields
        if not checked and (model, name) not in UNCHECKED_FIELDS and (model, "*") not in UNCHECKED_FIELDS
    ]
    assert not unchecked, "string settings without a validator of their kind: " + ", ".join(unchecked)
