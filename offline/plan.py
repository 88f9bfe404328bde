"""`make plan STACK=x [BASE=<git ref or build dir>]`: the steps `pulumi up` would take from BASE's render
to the current one, offline (no CLI, no credentials), as markdown a pull request can show.

The engine-step logic (what the transition tests execute, tests/support/transitions.py) lives here.
What is followed, and where it comes from (read in pulumi/pulumi @1b594989 and
pulumi/pulumi-command @010bd8e0, pulumi/pulumi-go-provider @ac69bde0):

- **Diff of a Command** (pulumi-command provider/pkg/provider/common/inputs.go; pulumi-go-provider
  infer/resource.go `derivedResourceController.Diff`): `triggers` is tagged
  `provider:"replaceOnChanges"`, so a change of it is a REPLACE; every other input is an UPDATE,
  because Command implements CustomUpdate. Unchanged inputs: SAME (nothing runs).
- **Diff of the admin objects** (components/litellm_admin/specs.py): a Model is replaced when its
  `model_id` changes, a Team when its `team_id` does, a VirtualKey when its `rotation_trigger` does
  (a rotation); `adopt_id` is never diffed; anything else is an update (`ca_bundle_pem` alone: an
  update that sends nothing to the proxy, so the state holds the CA a later delete must trust).
- The `replaceOnChanges` and `ignoreChanges` resource options are honoured; `import_` on a resource
  that is not in the old run is an IMPORT (read, not created).
- **Replace** (pkg/resource/deploy/step_generator.go `generateStepsFromDiff`): with
  deleteBeforeReplace the old resource's delete runs first, then the new create; otherwise create
  first and the old one's delete later, with the other deletes.
- **Aliases** (step_generator.go `generateAliases`, `collapseAliasToUrn`, `inheritedChildAlias`):
  an old resource is matched by URN, then by each alias; a child of an aliased parent also gets the
  alias whose name has the parent's name prefix replaced by the parent's old name.
- **Deletes** (step_generator.go `ScheduleDeletes`): resources no longer in the program are deleted
  after every create and update, in reverse dependency order (antichains).

A plan computed from two renders (resources.json) sees secret inputs as "[secret]": a change of a
secret shows through what is derived from it without revealing it (the env file's keyed restart
reason `env=`), not as an input diff.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from offline.engine import PROJECT_DIR, ProgramRun, RecordedResource

REPLACE_ON_CHANGES = {"command:local:Command": {"triggers"}, "command:remote:Command": {"triggers"}}
MODEL_TYPE = "pulumi-python:dynamic/litellm:Model"
TEAM_TYPE = "pulumi-python:dynamic/litellm:Team"
KEY_TYPE = "pulumi-python:dynamic/litellm:VirtualKey"
# What the dynamic providers' diff replaces on (specs.diff_model/diff_team/diff_key) and never diffs.
PROVIDER_REPLACES = {MODEL_TYPE: {"model_id"}, TEAM_TYPE: {"team_id"}, KEY_TYPE: {"rotation_trigger"}}
PROVIDER_NEVER_DIFFED = {"__provider", "adopt_id"}
CATALOG_TYPES = {MODEL_TYPE: ("model", "model_id"), TEAM_TYPE: ("team", "team_id"), KEY_TYPE: ("key", "key_alias")}
HOST_TYPE = "litellm-gateway:host:LiteLLMHost"
REASONS_MARK = "# restart reasons: "


@dataclass
class Step:
    op: str  # create | import | update | replace | delete | same
    urn: str
    new: Optional[RecordedResource]
    old: Optional[RecordedResource]
    changed: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return (self.new or self.old).name  # type: ignore[union-attr]

    @property
    def type(self) -> str:
        return (self.new or self.old).type  # type: ignore[union-attr]


@dataclass
class Plan:
    steps: list[Step]  # creates/updates/replaces/sames in program order
    deletes: list[list[Step]]  # antichains, in execution order

    def ops(self) -> dict[str, str]:
        out = {s.name: s.op for s in self.steps}
        for chain in self.deletes:
            out.update({s.name: "delete" for s in chain})
        return out

    def by_name(self, name: str) -> Step:
        for s in [*self.steps, *[d for c in self.deletes for d in c]]:
            if s.name == name:
                return s
        raise KeyError(name)

    def changes(self) -> list[Step]:
        """Every step that does something: creates/imports/updates/replaces, then deletes."""
        return [s for s in self.steps if s.op != "same"] + [s for chain in self.deletes for s in chain]


def _urn_name(urn: str) -> str:
    return urn.split("::")[-1]


def _urn_qualified_type(urn: str) -> str:
    return urn.split("::")[-2]


def _parent_type(urn: str) -> str:
    """The type a child's URN carries for this parent (as the recorded URNs spell it)."""
    return _urn_qualified_type(urn).split("$")[-1]


def _make_urn(like: str, qualified_type: str, name: str) -> str:
    parts = like.split("::")
    return "::".join([parts[0], parts[1], qualified_type, name])


def _alias_urns(r: RecordedResource, resolved_parent_alias: dict[str, str]) -> list[str]:
    """The engine's generateAliases for the recorded alias specs (name-only specs, as this program
    uses, plus inherited child aliases)."""
    out: list[str] = []
    own_type = r.type
    for a in r.aliases:
        if "urn" in a:
            out.append(a["urn"])
            continue
        spec = a.get("spec", a)
        name = spec.get("name") or r.name
        parent = r.parent
        qt = own_type if not parent or "pulumi:pulumi:Stack" in _urn_qualified_type(parent) else f"{_parent_type(parent)}${own_type}"
        out.append(_make_urn(r.urn, qt, name))
    parent_alias = resolved_parent_alias.get(r.parent)
    if parent_alias:
        parent_name = _urn_name(r.parent)
        for child_name in [r.name, *[_urn_name(u) for u in list(out)]]:
            alias_name = parent_alias.split("::")[-1] + child_name[len(parent_name):] if child_name.startswith(parent_name) else child_name
            out.append(_make_urn(r.urn, f"{_parent_type(parent_alias)}${own_type}", alias_name))
    return list(dict.fromkeys(out))


def _changed_inputs(o: RecordedResource, r: RecordedResource) -> list[str]:
    ignored = set(r.ignore_changes) | (PROVIDER_NEVER_DIFFED if r.type in PROVIDER_REPLACES else set())
    return sorted(k for k in set(o.inputs) | set(r.inputs) if k not in ignored and o.inputs.get(k) != r.inputs.get(k))


def plan(old: Optional[ProgramRun], new: Optional[ProgramRun]) -> Plan:
    olds = {r.urn: r for r in (old.resources if old else [])}
    matched: dict[str, str] = {}  # new urn -> old urn (engine: sg.aliases when via alias)
    steps: list[Step] = []
    for r in new.resources if new else []:
        candidates = [r.urn, *_alias_urns(r, {k: v for k, v in matched.items() if k != v})]
        found = next((u for u in candidates if u in olds and u not in matched.values()), None)
        if found is None:
            adopting = getattr(r, "import_id", "") or (r.type in PROVIDER_REPLACES and r.inputs.get("adopt_id"))
            steps.append(Step("import" if adopting else "create", r.urn, r, None))
            continue
        matched[r.urn] = found
        o = olds[found]
        changed = _changed_inputs(o, r)
        replaces_on = REPLACE_ON_CHANGES.get(r.type, set()) | PROVIDER_REPLACES.get(r.type, set()) | set(r.replace_on_changes)
        if not r.custom or not changed:
            op = "same"
        elif set(changed) & replaces_on:
            op = "replace"
        else:
            op = "update"
        steps.append(Step(op, r.urn, r, o, changed))
    gone = [o for u, o in olds.items() if u not in matched.values()]
    return Plan(steps=steps, deletes=_schedule_deletes(gone))


def _schedule_deletes(gone: list[RecordedResource]) -> list[list[Step]]:
    """step_generator.go ScheduleDeletes: antichains of resources nothing condemned depends on,
    reversed (dependents are deleted before their dependencies; children before parents)."""
    condemned = {r.urn: r for r in gone}
    deps = {u: ({d for d in r.depends_on} | ({r.parent} if r.parent else set())) & set(condemned) for u, r in condemned.items()}
    chains: list[list[Step]] = []
    remaining = dict(condemned)
    while remaining:
        layer = sorted(u for u in remaining if not (deps[u] & set(remaining)))
        if not layer:  # a cycle (cannot happen with real dependencies): delete the rest together
            layer = sorted(remaining)
        chains.append([Step("delete", u, None, remaining[u]) for u in layer])
        for u in layer:
            del remaining[u]
    chains.reverse()
    return chains


def describe(p: Plan) -> str:
    """A preview-like listing: op and name of every step that does something."""
    lines = [f"{s.op:8} {s.name}" + (f"  [{', '.join(s.changed)}]" if s.changed else "") for s in p.steps if s.op != "same"]
    lines += [f"delete   {s.name}" for chain in p.deletes for s in chain]
    return "\n".join(lines)


# ---- renders (resources.json) as program runs ------------------------------------------------------


def run_from_document(doc: dict[str, Any]) -> ProgramRun:
    """A render's resources.json as a ProgramRun (secret inputs stay "[secret]"). Renders older than the
    recorded dependencies/options plan without them (custom inferred from the type)."""
    resources = []
    for rec in doc.get("resources", []):
        resources.append(
            RecordedResource(
                urn=rec["urn"],
                type=rec["type"],
                name=rec["name"],
                parent=rec.get("parent", ""),
                custom=rec.get("custom", not rec["type"].startswith("litellm-gateway:")),
                inputs=dict(rec.get("inputs") or {}),
                secret_inputs=list(rec.get("secret_inputs") or []),
                protect=bool(rec.get("protect")),
                delete_before_replace=bool(rec.get("delete_before_replace")),
                retain_on_delete=bool(rec.get("retain_on_delete")),
                depends_on=list(rec.get("depends_on") or []),
                additional_secret_outputs=[],
                ignore_changes=list(rec.get("ignore_changes") or []),
                replace_on_changes=list(rec.get("replace_on_changes") or []),
                provider="",
                aliases=list(rec.get("aliases") or []),
                import_id=rec.get("import_id", ""),
            )
        )
    return ProgramRun(stack=doc.get("stack", ""), resources=resources, outputs=dict(doc.get("outputs") or {}), secret_outputs=set())


def document_of(run: ProgramRun) -> dict[str, Any]:
    from offline.render import dumps_document, resources_document

    return json.loads(dumps_document(resources_document(run)))


# ---- the report ------------------------------------------------------------------------------------


def restart_reasons(r: Optional[RecordedResource]) -> dict[str, str]:
    """label -> value of the `# restart reasons:` line of a rollout step's command."""
    if r is None:
        return {}
    command = r.inputs.get("create")
    if not isinstance(command, str) or REASONS_MARK not in command:
        return {}
    line = command.split(REASONS_MARK, 1)[1].split("\n", 1)[0]
    return dict(item.split("=", 1) if "=" in item else (item, "") for item in line.split())


def _host_of(step: Step, hosts: dict[str, str]) -> Optional[str]:
    r = step.new or step.old
    return hosts.get(r.parent) if r is not None else None  # type: ignore[union-attr]


def host_restarts(p: Plan) -> list[tuple[str, str, list[str]]]:
    """(host component name, op of its service step, reasons) for every host whose proxy (re)starts,
    in rollout order (a host after every host its restart waits for)."""
    runs = [s.new or s.old for s in [*p.steps, *[d for c in p.deletes for d in c]]]
    hosts = {r.urn: r.name for r in runs if r is not None and r.type == HOST_TYPE}
    services = [s for s in p.changes() if s.name.endswith("-service") and _host_of(s, hosts)]
    by_urn = {r.urn: r for r in runs if r is not None}

    def ancestors(urn: str) -> set[str]:
        seen: set[str] = set()
        todo = list(by_urn[urn].depends_on) if urn in by_urn else []
        while todo:
            u = todo.pop()
            if u in seen or u not in by_urn:
                continue
            seen.add(u)
            todo.extend(by_urn[u].depends_on)
        return seen

    service_urns = {s.urn for s in services}
    order = sorted(services, key=lambda s: (len(ancestors(s.urn) & service_urns), s.urn))
    out = []
    for s in order:
        host = _host_of(s, hosts) or s.name
        if s.op == "delete":
            out.append((host, "stop", ["host removed"]))
            continue
        old, new = restart_reasons(s.old), restart_reasons(s.new)
        reasons = ["new host"] if s.old is None else [k for k in new if old.get(k) != new[k]] + [f"{k} removed" for k in old if k not in new]
        out.append((host, "restart" if s.old is not None else "start", reasons or ["restart script"]))
    return out


def _value(v: Any) -> str:
    return "unset" if v is None else json.dumps(v, sort_keys=True, separators=(", ", ": "))


def catalog_changes(p: Plan) -> list[str]:
    """One line per changed model/team/key field (creates and deletes as one line with their fields)."""
    lines = []
    for s in p.changes():
        if s.type not in CATALOG_TYPES:
            continue
        kind, id_field = CATALOG_TYPES[s.type]
        r = s.new or s.old
        ident = r.inputs.get(id_field) or r.name  # type: ignore[union-attr]
        fields = lambda rr: {k: v for k, v in sorted(rr.inputs.items()) if k not in PROVIDER_NEVER_DIFFED | {"owner", "key", "token"} and v is not None}  # noqa: E731
        if s.op in ("create", "import"):
            verb = "adopted (import)" if s.op == "import" else "added"
            lines.append(f"{kind} `{ident}` {verb}: " + ", ".join(f"{k}={_value(v)}" for k, v in fields(s.new).items()))
        elif s.op == "delete":
            lines.append(f"{kind} `{ident}` removed")
        else:
            for k in s.changed:
                if k in ("owner",):
                    continue
                what = " (rotation: a new key replaces the old one)" if s.op == "replace" and k == "rotation_trigger" else ""
                lines.append(f"{kind} `{ident}` {k}: {_value(s.old.inputs.get(k))} → {_value(s.new.inputs.get(k))}{what}")  # type: ignore[union-attr]
    return lines


def markdown(p: Plan, stack: str, base: str) -> str:
    changes = p.changes()
    counts = {op: sum(1 for s in changes if s.op == op) for op in ("create", "import", "update", "replace", "delete")}
    unchanged = sum(1 for s in p.steps if s.op == "same")
    out = [f"### `pulumi up` plan for stack `{stack}` (from {base})", ""]
    if not changes:
        out += [f"No changes ({unchanged} resources unchanged).", ""]
        return "\n".join(out)
    out.append(", ".join(f"{n} to {op}" for op, n in counts.items() if n) + f", {unchanged} unchanged")
    out.append("")
    restarts = host_restarts(p)
    if restarts:
        out += ["**Host restarts** (rollout order):", ""]
        out += [f"{i}. `{h}`: {op} ({', '.join(reasons)})" for i, (h, op, reasons) in enumerate(restarts, 1)]
        out.append("")
    catalog = catalog_changes(p)
    if catalog:
        out += ["**Catalog changes:**", ""] + [f"- {line}" for line in catalog] + [""]
    out += ["**Steps:**", "", "| op | resource | type | changed inputs |", "|---|---|---|---|"]
    for s in changes:
        out.append(f"| {s.op} | `{s.name}` | `{s.type}` | {', '.join(s.changed)} |")
    out.append("")
    return "\n".join(out)


# ---- BASE: a build dir or a git ref ----------------------------------------------------------------


def _document_in_dir(path: Path, stack: str) -> Optional[Path]:
    for candidate in (path / stack / "resources.json", path / "resources.json"):
        if candidate.is_file():
            return candidate
    return None


def base_document(base: str, stack: str, project_dir: Path = PROJECT_DIR) -> dict[str, Any]:
    """BASE's resources.json: from a build directory (build/ or build/<stack>/), else by rendering the
    git ref in a temporary worktree (with this interpreter)."""
    found = _document_in_dir(Path(base), stack) if Path(base).is_dir() else None
    if found is not None:
        return json.loads(found.read_text())
    if Path(base).exists():
        raise SystemExit(f"plan: {base} has no resources.json for stack {stack} (run `make render STACK={stack}` there)")
    commit = subprocess.run(["git", "rev-parse", "--verify", f"{base}^{{commit}}"], cwd=project_dir,
                            capture_output=True, text=True, check=False)
    if commit.returncode != 0:
        raise SystemExit(f"plan: BASE {base!r} is neither a build directory nor a git ref")
    with tempfile.TemporaryDirectory(prefix="plan-base-") as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(tree), commit.stdout.strip()],
                       cwd=project_dir, check=True, capture_output=True, text=True)
        try:
            env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
            rendered = subprocess.run([sys.executable, "-m", "offline.render", stack, "--out", str(Path(tmp) / "build")],
                                      cwd=tree, env=env, capture_output=True, text=True, timeout=600, check=False)
            if rendered.returncode != 0:
                raise SystemExit(f"plan: rendering {base} failed:\n{rendered.stderr[-3000:]}")
            return json.loads((Path(tmp) / "build" / stack / "resources.json").read_text())
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=project_dir, capture_output=True, check=False)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stack")
    parser.add_argument("--base", default="HEAD", help="a git ref (rendered in a temporary worktree) or a build directory")
    args = parser.parse_args(argv)
    from config.loader import ConfigError
    from offline.engine import run_stack

    try:
        current = document_of(run_stack(args.stack))
    except (ConfigError, FileNotFoundError) as exc:
        print(exc, file=sys.stderr)
        return 2
    base = base_document(args.base, args.stack)
    print(markdown(plan(run_from_document(base), run_from_document(current)), args.stack, f"`{args.base}`"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
