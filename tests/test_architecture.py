"""The project's layering, read from the source (ast), so a new import that breaks it fails here:

- no import cycle among the project's modules, counting every import: module-level, inside a
  function (a "lazy" import) and under `if TYPE_CHECKING:` (a cycle hidden that way still ties the
  modules together);
- `config` (settings, checks, loader) and `rendering` (pure renderers) never import Pulumi;
- `config` imports nothing from `rendering`, `components` or `offline`;
- `rendering` imports nothing from `components` or `offline`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[1]
PACKAGES = ("config", "rendering", "components", "offline")


def project_modules(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the checked packages."""
    modules: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def imported_names(module: str, path: Path) -> set[str]:
    """Every dotted name `module` imports, wherever the import statement stands. For
    `from pkg import name` both `pkg.name` (a submodule, if it is one) and `pkg` are given."""
    is_package = path.name == "__init__.py"
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            names.add(prefix)
            names.update(f"{prefix}.{alias.name}" for alias in node.names)
    return names


def import_graph(root: Path) -> dict[str, set[str]]:
    """Project module -> the project modules it imports (names that are not modules resolve to the
    module that defines them)."""
    modules = project_modules(root)
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        edges = set()
        for name in imported_names(module, path):
            if name in modules:
                edges.add(name)
            elif name.rsplit(".", 1)[0] in modules:
                edges.add(name.rsplit(".", 1)[0])
        edges.discard(module)
        graph[module] = edges
    return graph


def external_imports(root: Path) -> dict[str, set[str]]:
    """Project module -> the top-level names of everything it imports."""
    return {
        module: {name.split(".")[0] for name in imported_names(module, path) if name}
        for module, path in project_modules(root).items()
    }


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def layering_violations(root: Path) -> list[str]:
    """Every import that crosses a layer the wrong way, as 'module imports name'."""
    forbidden = {
        "config": ("rendering", "components", "offline"),
        "rendering": ("components", "offline"),
    }
    problems = []
    for module, names in sorted(external_imports(root).items()):
        layer = module.split(".")[0]
        for name in sorted(names):
            if layer in ("config", "rendering") and (name == "pulumi" or name.startswith("pulumi_")):
                problems.append(f"{module} imports {name} (config and rendering are pure)")
            if name in forbidden.get(layer, ()):
                problems.append(f"{module} imports {name} ({layer} must not depend on it)")
    return problems


def test_every_package_is_found():
    modules = project_modules(PROJECT_DIR)
    for package in PACKAGES:
        assert package in modules
    assert "config.settings" in modules and "rendering.host_files" in modules


def test_no_import_cycle():
    cycles = import_cycles(import_graph(PROJECT_DIR))
    assert cycles == [], "import cycles (lazy and TYPE_CHECKING imports included): " + "; ".join(
        " <-> ".join(c) for c in cycles
    )


def test_config_and_rendering_are_pure_and_layered():
    assert layering_violations(PROJECT_DIR) == []


@pytest.mark.parametrize(
    "graph, expected",
    [
        ({"a": {"b"}, "b": {"a"}, "c": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"d"}}, [["a", "b", "c"]]),
    ],
)
def test_cycle_finder(graph, expected):
    assert import_cycles(graph) == expected


def test_checker_sees_lazy_type_checking_and_relative_imports(tmp_path):
    """The checks would catch the shapes that once hid the config circle."""
    (tmp_path / "config").mkdir()
    (tmp_path / "rendering").mkdir()
    for package in PACKAGES:
        (tmp_path / package).mkdir(exist_ok=True)
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "config" / "settings.py").write_text("from config import checks\n")
    (tmp_path / "config" / "checks.py").write_text(
        "def names():\n    from rendering.host_files import PLAIN_ENV\n    return PLAIN_ENV\n"
    )
    (tmp_path / "config" / "observability.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .settings import GatewaySettings\n"
    )
    (tmp_path / "rendering" / "host_files.py").write_text("import pulumi\nfrom config.settings import X\n")
    graph = import_graph(tmp_path)
    assert graph["config.observability"] == {"config.settings"}
    assert import_cycles(graph) == [["config.checks", "config.settings", "rendering.host_files"]]
    assert layering_violations(tmp_path) == [
        "config.checks imports rendering (config must not depend on it)",
        "rendering.host_files imports pulumi (config and rendering are pure)",
    ]
