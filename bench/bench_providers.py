"""Benchmark of the LiteLLM dynamic providers (Model, Team, VirtualKey). Prints figures; not a test.

    .venv/bin/python bench/bench_providers.py            # everything (about a minute on 2 cores)
    .venv/bin/python bench/bench_providers.py --quick    # program runs once each instead of 3 times

(a) the size of `__provider` per resource type, as the real program (`__main__.py`, dev stack) declares it;
(b) admin-API requests per operation, counted by the admin emulator (tests/support/admin_emulator.py)
    while Pulumi's real dynamic-provider host (`python -m pulumi.dynamic`, tests/support/dynamic_host.py)
    runs the providers, configured like the engine does it -- plus lookups in a catalog of 1,000 keys
    and 100 model deployments;
(c) the wall time of a mocked program run (`offline.engine.run_program`) of synthetic stacks with
    100 model deployments, 20 teams and 100 / 300 / 1,000 virtual keys, each in a fresh child process.

All traffic stays on 127.0.0.1. Nothing here asserts: read the tables (docs/benchmarks.md keeps a copy).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import io
import json
import os
import platform
import re
import statistics
import subprocess
import tempfile
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent
if str(PROJECT_DIR) not in sys.path:
    sys.path.insert(0, str(PROJECT_DIR))

# Importing litellm (by the emulator) must not fetch the model cost map.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

MODEL_TYPE = "pulumi-python:dynamic/litellm:Model"
TEAM_TYPE = "pulumi-python:dynamic/litellm:Team"
KEY_TYPE = "pulumi-python:dynamic/litellm:VirtualKey"
TYPES = (MODEL_TYPE, TEAM_TYPE, KEY_TYPE)
MASTER_KEY = "sk-bench-master-key-6c1d0e93a7f2"
CATALOG_KEYS = 1000
CATALOG_MODELS = 100
PROGRAM_RUN_KEYS = (100, 300, 1000)
PROGRAM_RUN_MODELS = 100
PROGRAM_RUN_TEAMS = 20
RENDER_KEYS = (100, 1000)


def table(headers: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


# --- the program's declarations -------------------------------------------------------------------------


def declared_resources() -> dict[str, Any]:
    """A Model, a Team and a VirtualKey (of that team) of the dev stack, as the mocked program run records them."""
    from offline.engine import run_program
    from offline.stack_inputs import load_stack_inputs

    stack = load_stack_inputs("dev", secrets={"masterKey": MASTER_KEY})
    run = run_program("dev", stack.config, stack.secret_keys)
    names = {MODEL_TYPE: "litellm-dev-model-ollama-llama3.2", TEAM_TYPE: "litellm-dev-team-platform-ai",
             KEY_TYPE: "litellm-dev-key-langchain-dev"}
    return {type_token: run.one(type_token, name) for type_token, name in names.items()}


def engine_inputs(resource) -> dict[str, Any]:
    from tests.support.dynamic_host import Secret

    return {k: Secret(v) if k in resource.secret_inputs else v for k, v in resource.inputs.items()}


def provider_sizes(declared: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for type_token in TYPES:
        encoded = declared[type_token].inputs["__provider"]
        rows.append([type_token.rsplit(":", 1)[-1], len(encoded), len(base64.b64decode(encoded))])
    return rows


# --- requests per operation -------------------------------------------------------------------------------


class Counter:
    def __init__(self, emulator) -> None:
        self.emulator = emulator

    def __enter__(self) -> "Counter":
        self.emulator.reset_counts()
        return self

    def __exit__(self, *exc_info) -> None:
        total = self.emulator.count()
        self.reads = self.emulator.count("GET")
        self.writes = total - self.reads
        self.paths = sorted({f"{e['method']} {e['path']}" for e in self.emulator.access_log})

    def row(self, resource: str, operation: str) -> list[Any]:
        return [resource, operation, self.writes, self.reads, self.writes + self.reads, ", ".join(self.paths) or "-"]


def request_counts(declared: dict[str, Any]) -> list[list[Any]]:
    from components.litellm_admin import client
    from tests.support.admin_emulator import AdminEmulator
    from tests.support.dynamic_host import DynamicProviderHost, Secret

    rows: list[list[Any]] = []
    env = {"LITELLM_GATEWAY_ADMIN_BACKOFF_SECONDS": "0.01"}
    with AdminEmulator(master_key=MASTER_KEY) as emulator, DynamicProviderHost(str(PROJECT_DIR), env) as host:
        host.configure({"litellm-gateway:adminUrl": emulator.base_url, "litellm-gateway:masterKey": Secret(MASTER_KEY)})
        team = declared[TEAM_TYPE]

        def lifecycle(resource, label: str, change) -> None:
            with Counter(emulator) as c:
                inputs, failures = host.check(resource.urn, {}, engine_inputs(resource))
            assert not failures, failures
            rows.append(c.row(label, "check"))
            with Counter(emulator) as c:
                id_, outs = host.create(resource.urn, inputs)
            rows.append(c.row(label, "create"))
            with Counter(emulator) as c:
                diff = host.diff(id_, resource.urn, outs, inputs)
            rows.append(c.row(label, f"diff ({diff.changes})"))
            with Counter(emulator) as c:
                host.read(id_, resource.urn, outs, inputs)
            rows.append(c.row(label, "read (refresh)"))
            news, _ = host.check(resource.urn, inputs, change(engine_inputs(resource)))
            with Counter(emulator) as c:
                diff = host.diff(id_, resource.urn, outs, news)
            rows.append(c.row(label, f"diff ({diff.changes})"))
            with Counter(emulator) as c:
                outs = host.update(id_, resource.urn, outs, news, old_inputs=inputs)
            rows.append(c.row(label, "update"))
            with Counter(emulator) as c:
                host.delete(id_, resource.urn, outs, old_inputs=news)
            rows.append(c.row(label, "delete"))
            with Counter(emulator) as c:
                host.delete(id_, resource.urn, outs, old_inputs=news)
            rows.append(c.row(label, "delete (already gone)"))

        def bump_rpm(inputs):
            return {**inputs, "litellm_params": {**inputs["litellm_params"], "rpm": 999}}

        def bump_budget(inputs):
            return {**inputs, "max_budget": inputs["max_budget"] + 25}

        lifecycle(declared[MODEL_TYPE], "Model", bump_rpm)
        lifecycle(team, "Team", bump_budget)
        # The key's team must exist for the key.
        team_inputs, _ = host.check(team.urn, {}, engine_inputs(team))
        host.create(team.urn, team_inputs)
        lifecycle(declared[KEY_TYPE], "VirtualKey", bump_budget)

        # A big catalog: 1,000 keys and 100 model deployments already on the server.
        endpoint = client.AdminEndpoint(base_url=emulator.base_url, master_key=MASTER_KEY)
        began = time.perf_counter()
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(lambda i: client.generate_key(endpoint, {"key_alias": f"bulk-{i:04d}", "metadata": {}}),
                          range(CATALOG_KEYS)))
            list(pool.map(lambda i: client.create_model(endpoint, {
                "model_name": f"bulk-{i % 10}", "litellm_params": {"model": f"openai/bulk-{i}", "api_key": "os.environ/X"},
                "model_info": {"id": f"bulk-{i:03d}"}}), range(CATALOG_MODELS)))
        seeded_in = time.perf_counter() - began
        label = f"VirtualKey among {CATALOG_KEYS:,} keys"
        key = declared[KEY_TYPE]
        inputs, _ = host.check(key.urn, {}, engine_inputs(key))
        id_, outs = host.create(key.urn, inputs)
        with Counter(emulator) as c:
            host.read(id_, key.urn, outs, inputs)
        rows.append(c.row(label, "read / import by token"))
        with Counter(emulator) as c:
            client.find_key_by_alias(endpoint, "bulk-0500")
        rows.append(c.row(label, "lookup by alias (client.find_key_by_alias)"))
        with Counter(emulator) as c:
            client.list_keys(endpoint)
        rows.append(c.row(label, "list every key (client.list_keys, pages of 100)"))
        # Rotation: the replacement is created while its predecessor still holds the alias.
        rotated, _ = host.check(key.urn, inputs, {**engine_inputs(key), "rotation_trigger": "rotated"})
        with Counter(emulator) as c:
            new_id, new_outs = host.create(key.urn, rotated)
        rows.append(c.row(label, "create of a rotation (alias taken over)"))
        with Counter(emulator) as c:
            host.delete(id_, key.urn, outs, old_inputs=inputs)
        rows.append(c.row(label, "delete of the rotated-out key"))
        model = declared[MODEL_TYPE]
        m_inputs, _ = host.check(model.urn, {}, engine_inputs(model))
        m_id, m_outs = host.create(model.urn, m_inputs)
        with Counter(emulator) as c:
            host.read(m_id, model.urn, m_outs, m_inputs)
        rows.append(c.row(f"Model among {CATALOG_MODELS + 1} deployments", "read (refresh)"))
    print(f"(seeded {CATALOG_KEYS:,} keys and {CATALOG_MODELS} models through the admin API in {seeded_in:.1f} s)")
    return rows


# --- the real proxy ---------------------------------------------------------------------------------------------

# The real pinned proxy with its database (tests/support/real_proxy.py): no model in its config, models
# stored in the database; the dev catalog's provider credentials are placeholders in its environment (a
# deployed host has them in its env file), so LiteLLM's router accepts those deployments.
REAL_PROXY_CONFIG = {"model_list": [], "general_settings": {"master_key": "os.environ/LITELLM_MASTER_KEY",
                                                            "store_model_in_db": True}}
REAL_PROXY_ENV = {"STORE_MODEL_IN_DB": "True", "OPENAI_API_KEY": "sk-bench-placeholder",
                  "ANTHROPIC_API_KEY": "sk-ant-bench-placeholder", "TIMEOUT_WORKER_HEALTHCHECK": "600"}
_ACCESS_LINE = re.compile(r'"(GET|POST|PATCH|PUT|DELETE) (/[^ ?"]*)[^"]*" (\d{3})')
_NOT_ADMIN = ("/health/readiness", "/health/liveliness", "/health/liveness")


class AccessLog:
    """Requests the real proxy answered, from its own access log (uvicorn), between two marks."""

    def __init__(self, proxy) -> None:
        self.proxy = proxy
        self.mark = 0

    def entries(self) -> list[tuple[str, str]]:
        return [(m.group(1), m.group(2)) for m in _ACCESS_LINE.finditer(self.proxy.output()) if m.group(2) not in _NOT_ADMIN]

    def __enter__(self) -> "AccessLog":
        time.sleep(0.3)  # let the proxy flush what came before
        self.mark = len(self.entries())
        return self

    def __exit__(self, *exc_info) -> None:
        time.sleep(0.3)
        seen = self.entries()[self.mark:]
        self.reads = sum(1 for method, _ in seen if method == "GET")
        self.writes = len(seen) - self.reads
        self.paths = sorted({f"{method} {path}" for method, path in seen})

    def row(self, resource: str, operation: str) -> list[Any]:
        return [resource, operation, self.writes, self.reads, self.writes + self.reads, ", ".join(self.paths) or "-"]


def real_proxy_figures(declared: dict[str, Any]) -> tuple[list[list[Any]], list[list[Any]], str]:
    """(requests per operation, dev catalog phases, proxy description) against the real proxy."""
    from offline.engine import run_program
    from offline.stack_inputs import load_stack_inputs
    from tests.support.dynamic_host import DynamicProviderHost, Secret
    from tests.support.real_proxy import RealProxy

    began = time.perf_counter()
    proxy = RealProxy(REAL_PROXY_CONFIG, env=REAL_PROXY_ENV, name="bench-providers").start()
    booted = time.perf_counter() - began
    per_operation: list[list[Any]] = []
    phases: list[list[Any]] = []
    try:
        env = {"LITELLM_GATEWAY_ADMIN_BACKOFF_SECONDS": "0.2", "LITELLM_GATEWAY_ADMIN_TIMEOUT": "60"}
        with DynamicProviderHost(str(PROJECT_DIR), env) as host:
            host.configure({"litellm-gateway:adminUrl": proxy.base_url, "litellm-gateway:masterKey": Secret(proxy.master_key)})

            def lifecycle(resource, label: str, change) -> None:
                inputs, failures = host.check(resource.urn, {}, engine_inputs(resource))
                assert not failures, failures
                with AccessLog(proxy) as c:
                    id_, outs = host.create(resource.urn, inputs)
                per_operation.append(c.row(label, "create"))
                with AccessLog(proxy) as c:
                    host.read(id_, resource.urn, outs, inputs)
                per_operation.append(c.row(label, "read (refresh)"))
                news, _ = host.check(resource.urn, inputs, change(engine_inputs(resource)))
                with AccessLog(proxy) as c:
                    outs = host.update(id_, resource.urn, outs, news, old_inputs=inputs)
                per_operation.append(c.row(label, "update"))
                with AccessLog(proxy) as c:
                    host.delete(id_, resource.urn, outs, old_inputs=news)
                per_operation.append(c.row(label, "delete"))
                with AccessLog(proxy) as c:
                    host.delete(id_, resource.urn, outs, old_inputs=news)
                per_operation.append(c.row(label, "delete (already gone)"))

            lifecycle(declared[MODEL_TYPE], "Model", lambda i: {**i, "litellm_params": {**i["litellm_params"], "rpm": 999}})
            team = declared[TEAM_TYPE]
            lifecycle(team, "Team", lambda i: {**i, "max_budget": i["max_budget"] + 25})
            team_inputs, _ = host.check(team.urn, {}, engine_inputs(team))
            team_id, team_outs = host.create(team.urn, team_inputs)
            lifecycle(declared[KEY_TYPE], "VirtualKey", lambda i: {**i, "max_budget": i["max_budget"] + 25})
            key = declared[KEY_TYPE]
            inputs, _ = host.check(key.urn, {}, engine_inputs(key))
            id_, outs = host.create(key.urn, inputs)
            rotated, _ = host.check(key.urn, inputs, {**engine_inputs(key), "rotation_trigger": "rotated"})
            with AccessLog(proxy) as c:
                new_id, new_outs = host.create(key.urn, rotated)
            per_operation.append(c.row("VirtualKey", "create of a rotation (grace 24h)"))
            with AccessLog(proxy) as c:
                host.delete(id_, key.urn, outs, old_inputs=inputs)
            per_operation.append(c.row("VirtualKey", "delete of the rotated-out key (left to expire)"))
            with AccessLog(proxy) as c:
                host.delete(new_id, key.urn, new_outs, old_inputs=rotated)
            per_operation.append(c.row("VirtualKey", "delete (removal: key + predecessor in grace)"))
            host.delete(team_id, team.urn, team_outs, old_inputs=team_inputs)

            # The whole dev catalog, in the engine's order (models, then teams, then the keys of teams).
            stack = load_stack_inputs("dev", secrets={"masterKey": MASTER_KEY})
            run = run_program("dev", stack.config, stack.secret_keys)
            catalog = [r for t in TYPES for r in run.of_type(t)]
            state: dict[str, tuple[str, dict, dict]] = {}

            def phase(label: str, action) -> None:
                with AccessLog(proxy) as c:
                    began = time.perf_counter()
                    for resource in (catalog if "destroy" not in label else list(reversed(catalog))):
                        action(resource)
                    seconds = time.perf_counter() - began
                phases.append([label, len(catalog), f"{seconds:.2f}", c.writes, c.reads, ", ".join(c.paths) or "-"])

            def create(resource) -> None:
                inputs, failures = host.check(resource.urn, {}, engine_inputs(resource))
                assert not failures, failures
                id_, outs = host.create(resource.urn, inputs)
                state[resource.urn] = (id_, outs, inputs)

            def no_change(resource) -> None:
                id_, outs, inputs = state[resource.urn]
                checked, _ = host.check(resource.urn, inputs, engine_inputs(resource))
                assert host.diff(id_, resource.urn, outs, checked, old_inputs=inputs).changes == "DIFF_NONE"

            def refresh(resource) -> None:
                id_, outs, inputs = state[resource.urn]
                assert host.read(id_, resource.urn, outs, inputs)[0] == id_

            def destroy(resource) -> None:
                id_, outs, inputs = state[resource.urn]
                host.delete(id_, resource.urn, outs, old_inputs=inputs)

            phase("`pulumi up` (create every object)", create)
            phase("`pulumi up` again (no change: check + diff)", no_change)
            phase("`pulumi refresh`", refresh)
            phase("`pulumi destroy` (objects only)", destroy)
    finally:
        proxy.stop()
    counts = {t.rsplit(":", 1)[-1]: sum(1 for r in catalog if r.type == t) for t in TYPES}
    return per_operation, phases, (f"booted in {booted:.0f} s, 1 worker; dev catalog: {counts['Model']} models, "
                                    f"{counts['Team']} teams, {counts['VirtualKey']} keys")


# --- program runs ---------------------------------------------------------------------------------------------


def synthetic_catalog(keys: int, models: int = PROGRAM_RUN_MODELS, teams: int = PROGRAM_RUN_TEAMS) -> dict[str, Any]:
    """Overrides for load_stack_inputs("dev"): `models` deployments, `teams` teams and `keys` keys. The dev
    stack's routing fallbacks name llama3.2, qwen2.5-coder, gpt-4o and claude-sonnet-4, so those stay."""
    fixed = [
        {"id": "ollama-llama3.2", "model_name": "llama3.2", "provider": "ollama_chat", "model": "llama3.2",
         "api_base": "http://hx-ollama-server.hx.dev.local:11434", "rpm": 120},
        {"id": "ollama-qwen2.5-coder", "model_name": "qwen2.5-coder", "provider": "ollama_chat",
         "model": "qwen2.5-coder:7b", "api_base": "http://hx-ollama-server.hx.dev.local:11434"},
        {"id": "openai-gpt-4o", "model_name": "gpt-4o", "provider": "openai", "model": "gpt-4o",
         "api_key": "os.environ/OPENAI_API_KEY"},
        {"id": "anthropic-claude-sonnet-4", "model_name": "claude-sonnet-4", "provider": "anthropic",
         "model": "claude-sonnet-4-20250514", "api_key": "os.environ/ANTHROPIC_API_KEY"},
    ]
    model_list = fixed + [
        {"id": f"ollama-synth-{i:03d}", "model_name": f"synth-{i % 25:02d}", "provider": "ollama_chat",
         "model": f"synth{i}", "api_base": f"http://hx-ollama-{i % 4}.hx.dev.local:11434", "rpm": 60}
        for i in range(models - len(fixed))
    ]
    team_list = [
        {"team_id": f"team-{t:02d}", "alias": f"Team {t}", "models": ["llama3.2", "gpt-4o", f"synth-{t:02d}"],
         "max_budget": 100, "budget_duration": "30d", "rpm_limit": 600, "metadata": {"owner": f"owner-{t}"}}
        for t in range(teams)
    ]
    key_list = [
        {"alias": f"svc-{k:04d}-dev", "service": f"svc-{k:04d}", "team": f"team-{k % teams:02d}",
         "models": ["llama3.2", f"synth-{k % teams:02d}"], "max_budget": 10, "budget_duration": "30d",
         "rpm_limit": 60, "rotate_after_days": 90, "metadata": {"repo": f"apps/svc-{k}"}}
        for k in range(keys)
    ]
    return {"catalogFiles": [], "models": model_list, "teams": team_list, "keys": key_list}


def program_run_child(keys: int, repeats: int) -> None:
    """In a fresh process: warm up (imports) with the dev stack, then time the synthetic stack."""
    from offline.engine import run_program
    from offline.stack_inputs import load_stack_inputs

    dev = load_stack_inputs("dev")
    run_program("dev", dev.config, dev.secret_keys)
    began = time.perf_counter()
    stack = load_stack_inputs("dev", overrides=synthetic_catalog(keys))
    load_seconds = time.perf_counter() - began
    timings, cpu, resources, counts = [], [], 0, {}
    for _ in range(repeats):
        began, began_cpu = time.perf_counter(), time.process_time()
        run = run_program("dev", stack.config, stack.secret_keys)
        timings.append(time.perf_counter() - began)
        cpu.append(time.process_time() - began_cpu)
        resources = len(run.resources)
        counts = {t.rsplit(":", 1)[-1]: len(run.of_type(t)) for t in TYPES}
    print(json.dumps({"keys": keys, "timings": timings, "cpu": cpu, "load_seconds": load_seconds, "resources": resources,
                      "counts": counts}))


def program_runs(repeats: int) -> list[dict[str, Any]]:
    results = []
    for keys in PROGRAM_RUN_KEYS:
        began = time.perf_counter()
        child = subprocess.run(
            [sys.executable, __file__, "--program-run-child", str(keys), "--repeats", str(repeats)],
            cwd=PROJECT_DIR, capture_output=True, text=True, timeout=1800, check=False,
        )
        if child.returncode != 0:
            raise SystemExit(f"program run with {keys} keys failed:\n{child.stderr[-3000:]}")
        result = json.loads(child.stdout.strip().splitlines()[-1])
        result["process_seconds"] = time.perf_counter() - began
        results.append(result)
    return results


def render_child(keys: int, out: str) -> None:
    """What `make render` does, for a synthetic stack (the whole process is timed by the parent)."""
    from offline.render import render_inputs
    from offline.stack_inputs import load_stack_inputs

    with contextlib.redirect_stdout(io.StringIO()):
        code = render_inputs(load_stack_inputs("dev", overrides=synthetic_catalog(keys)), Path(out))
    if code != 0:
        raise SystemExit(f"render failed with exit code {code}")


def render_runs() -> list[list[Any]]:
    rows = []
    for keys in RENDER_KEYS:
        with tempfile.TemporaryDirectory() as out:
            began = time.perf_counter()
            child = subprocess.run(
                [sys.executable, __file__, "--render-child", str(keys), "--out", out],
                cwd=PROJECT_DIR, capture_output=True, text=True, timeout=1800, check=False,
            )
            seconds = time.perf_counter() - began
            if child.returncode != 0:
                raise SystemExit(f"render with {keys} keys failed:\n{child.stderr[-3000:]}")
            resources = len(json.loads((Path(out) / "dev" / "resources.json").read_text())["resources"])
        rows.append([f"{keys:,}", resources, f"{seconds:.2f}", f"{seconds / resources * 1000:.2f}"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one program run per size instead of three")
    parser.add_argument("--real-only", action="store_true", help="only (e): the real proxy with its database")
    parser.add_argument("--program-run-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=3, help=argparse.SUPPRESS)
    parser.add_argument("--render-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.render_child is not None:
        render_child(args.render_child, args.out)
        return
    if args.program_run_child is not None:
        program_run_child(args.program_run_child, args.repeats)
        return

    print(f"# Dynamic providers benchmark ({platform.python_implementation()} {platform.python_version()}, "
          f"{os.cpu_count()} CPUs)\n")
    declared = declared_resources()

    if args.real_only:
        print_real_proxy_figures(declared)
        return

    print("## (a) `__provider` size per resource type\n")
    print(table(["resource", "base64 bytes (as stored)", "pickle bytes"], provider_sizes(declared)))
    print()

    print("## (b) admin-API requests per operation (through `python -m pulumi.dynamic`)\n")
    rows = request_counts(declared)
    print(table(["resource", "operation", "writes", "reads", "total", "requests"], rows))
    print()

    repeats = 1 if args.quick else args.repeats
    print(f"## (c) mocked program run (`offline.engine.run_program`), {PROGRAM_RUN_MODELS} model deployments, "
          f"{PROGRAM_RUN_TEAMS} teams; median of {repeats}\n")
    load_before = os.getloadavg()[0]
    results = program_runs(repeats)
    base = results[0]
    base_cpu = statistics.median(base["cpu"])
    rows = []
    for result in results:
        median = statistics.median(result["timings"])
        median_cpu = statistics.median(result["cpu"])
        extra_keys = result["keys"] - base["keys"]
        per_key = f"{(median_cpu - base_cpu) / extra_keys * 1000:.2f}" if extra_keys else "-"
        rows.append([
            f"{result['keys']:,}",
            result["resources"],
            f"{result['counts']['Model']} / {result['counts']['Team']} / {result['counts']['VirtualKey']}",
            f"{median:.2f}",
            " / ".join(f"{t:.2f}" for t in result["timings"]),
            f"{median_cpu:.2f}",
            f"{median_cpu / result['resources'] * 1000:.2f}",
            per_key,
        ])
    print(table(
        ["keys", "resources registered", "Model / Team / VirtualKey", "wall s (median)", "all runs wall (s)",
         "CPU s (median)", "CPU ms per resource", f"CPU ms per key added (vs {base['keys']})"],
        rows,
    ))
    print(f"\n(1-minute load average: {load_before:.2f} before the program runs, {os.getloadavg()[0]:.2f} after, "
          f"on {os.cpu_count()} CPUs: wall times on a busy machine stretch, CPU times much less)")
    print("\n(config loading for the synthetic stack, not included above: "
          + ", ".join(f"{r['keys']:,} keys {r['load_seconds']:.2f} s" for r in results) + ")")
    print()

    print(f"## (d) `make render` end to end (a fresh process: imports, validation, mocked program run, files), "
          f"{PROGRAM_RUN_MODELS} model deployments, {PROGRAM_RUN_TEAMS} teams\n")
    print(table(["keys", "resources", "wall s", "ms per resource"], render_runs()))
    print()
    print_real_proxy_figures(declared)


def print_real_proxy_figures(declared: dict[str, Any]) -> None:
    print("## (e) the real LiteLLM proxy with its database (through `python -m pulumi.dynamic`)\n")
    load_before = os.getloadavg()[0]
    per_operation, phases, described = real_proxy_figures(declared)
    print(f"({described}; requests counted from the proxy's own access log)\n")
    print(table(["resource", "operation", "writes", "reads", "total", "requests"], per_operation))
    print()
    print(table(["dev catalog", "resources", "wall s", "writes", "reads", "requests"], phases))
    print(f"\n(1-minute load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after, on {os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
