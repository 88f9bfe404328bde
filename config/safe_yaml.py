"""Reading YAML a stack points at (catalog files) without letting the file take the loader down.

PyYAML's `safe_load` is safe from code execution, not from these: an alias bomb (a few lines whose
anchors expand to 9^9 nodes: every later walk of the document is exponential), recursive anchors
(`&a [*a]`: a walk never ends), duplicate keys (the last one silently wins), a 5,000-digit integer
(ValueError from Python's int limit), `.inf`/`.nan` (a budget of infinity). Each is refused here with
a `YamlProblem` naming the place; the loader turns it into a config error naming the file and key.
Pure: no Pulumi imports.
"""

from __future__ import annotations

import json
import math
from typing import Any

import yaml

# Nodes after alias expansion: a catalog of a few hundred models, teams and keys is a few thousand.
MAX_EXPANDED_NODES = 100_000


class YamlProblem(ValueError):
    """A document refused, with where and why."""


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys."""

    def construct_mapping(self, node, deep=False):  # noqa: D401 - PyYAML hook
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, Any] = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                try:
                    hashable = key in seen
                except TypeError:
                    raise YamlProblem(f"line {key_node.start_mark.line + 1}: a mapping key must be a plain value") from None
                if hashable:
                    raise YamlProblem(
                        f"line {key_node.start_mark.line + 1}: duplicate key {key!r} (first on line "
                        f"{seen[key].start_mark.line + 1}); YAML would silently keep only the last one"
                    )
                seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


def expanded_size(root: yaml.Node) -> int:
    """Nodes of the document with every alias expanded (memoized: linear in the distinct nodes);
    YamlProblem for a recursive anchor."""
    sizes: dict[int, int] = {}
    visiting: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in visiting:
            raise YamlProblem(f"line {node.start_mark.line + 1}: a recursive anchor (an alias inside the node it names)")
        visiting.add(key)
        if isinstance(node, yaml.SequenceNode):
            total = 1 + sum(size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total = 1 + sum(size(k) + size(v) for k, v in node.value)
        else:
            total = 1
        visiting.discard(key)
        sizes[key] = min(total, MAX_EXPANDED_NODES + 1)
        return sizes[key]

    return size(root)


def _refuse_non_finite(value: Any, path: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise YamlProblem(f"{path or 'the document'}: {value!r} is not a number a setting can take")
    if isinstance(value, dict):
        for k, v in value.items():
            _refuse_non_finite(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _refuse_non_finite(v, f"{path}[{i}]")


def load(text: str) -> Any:
    """One YAML document, refused with YamlProblem (a ValueError) for everything above and for any
    parse error."""
    loader = _StrictLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.YAMLError as exc:
            raise YamlProblem(str(exc).replace("\n", " ")) from None
        if node is None:
            return None
        if expanded_size(node) > MAX_EXPANDED_NODES:
            raise YamlProblem(f"expands to more than {MAX_EXPANDED_NODES:,} nodes through its aliases (an alias bomb?)")
        try:
            document = loader.construct_document(node)
        except YamlProblem:
            raise
        except (yaml.YAMLError, ValueError, TypeError, RecursionError) as exc:
            raise YamlProblem(str(exc).replace("\n", " ")) from None
    finally:
        loader.dispose()
    _refuse_non_finite(document, "")
    return document


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number a setting can take")


def load_json(text: str) -> Any:
    """JSON as Pulumi hands structured config over, without NaN/Infinity (Python's json accepts them)
    and with Python's integer limit turned into a ValueError like any other parse error."""
    return json.loads(text, parse_constant=_no_constant)
