"""The transition executor's dynamic resources (tests.support.dynamic_steps): the dev stack's Team and
VirtualKey (and its salt-key guard) created, left alone, updated, replaced and deleted through the real
dynamic-provider host, against the admin-API emulator on 127.0.0.1 (`adminUrl`). Only the dynamic
steps of each plan run here; the systemd bed runs them inside whole stack changes."""

from __future__ import annotations

import pytest


from components.litellm_admin import connection
from offline.engine import run_stack
from tests.support.admin_emulator import AdminEmulator
from tests.support.dynamic_steps import DynamicSteps, is_dynamic
from tests.support.transitions import Executor, Plan, StepFailed, plan

pytestmark = pytest.mark.slow  # starts the dynamic-provider host (a process)

TEAM = {"team_id": "t-one", "alias": "T one", "models": ["llama3.2"], "rpm_limit": 60}
KEY = {"alias": "app-one", "service": "app-one", "team": "t-one", "models": ["llama3.2"], "rpm_limit": 60}


@pytest.fixture
def emulator():
    with AdminEmulator(master_key="sk-dynamic-steps-0123456789") as e:
        yield e


def _run(emulator, **key):
    return run_stack("dev", secrets={"masterKey": emulator.master_key}, overrides={
        "adminUrl": emulator.base_url, "catalogFiles": None, "teams": [TEAM], "keys": [{**KEY, **key}]})


def _apply(executor, dynamic, old, new):
    full = plan(old, new)
    only = Plan(steps=[s for s in full.steps if is_dynamic(s.new or s.old)],
                deletes=[[s for s in chain if is_dynamic(s.old)] for chain in full.deletes])
    dynamic.begin((new or old).inputs)
    try:
        executor.execute(only)
    finally:
        dynamic.end()
    return only


def test_create_same_update_replace_delete_through_the_host(emulator):
    dynamic = DynamicSteps(env={connection.BACKOFF_ENV: "0.05"})
    executor = Executor(env={}, cwd="/", dynamic=dynamic)
    first = _run(emulator)
    _apply(executor, dynamic, None, first)
    # dev declares its models through the API (model_source: api): the Model provider creates them
    names = [n for m, n in dynamic.calls if m == "Create"]
    models = {f"litellm-dev-model-{m.id}" for m in first.inputs.settings().models}
    assert sorted(names) == sorted({"litellm-dev-salt-key-guard", "litellm-dev-team-t-one", "litellm-dev-key-app-one"} | models)
    assert set(emulator.models) == {m.split("litellm-dev-model-", 1)[1] for m in models}
    # the key comes after its team (the plan's dependency through the Team's output)
    assert names.index("litellm-dev-team-t-one") < names.index("litellm-dev-key-app-one")
    key = dynamic.outputs_of("litellm-dev-key-app-one")
    assert key.plain("key").startswith("sk-") and [r["key_alias"] for r in emulator.keys.values()] == ["app-one"]
    assert set(emulator.teams) == {"t-one"}
    # unchanged: nothing runs (the host is not even started)
    calls = len(dynamic.calls)
    _apply(executor, dynamic, first, _run(emulator))
    assert len(dynamic.calls) == calls
    # a changed limit: Check, Diff, Update of the key alone, same token
    second = _run(emulator, rpm_limit=30)
    _apply(executor, dynamic, first, second)
    assert [m for m, n in dynamic.calls[calls:]] == ["Check", "Diff", "Update"], dynamic.calls[calls:]
    assert dynamic.outputs_of("litellm-dev-key-app-one").plain("key") == key.plain("key")
    assert [r["rpm_limit"] for r in emulator.keys.values()] == [30]
    # a provider's refusal is the step's error, with the provider's message
    emulator.inject_fault("POST", "/key/update", "500", times=50)
    with pytest.raises(StepFailed) as refused:
        _apply(executor, dynamic, second, _run(emulator, rpm_limit=20))
    assert refused.value.step.name == "litellm-dev-key-app-one" and "HTTP 500" in str(refused.value), str(refused.value)
    assert emulator.master_key not in str(refused.value) and key.plain("key") not in str(refused.value)
    # destroy: the key, then the team, through the host
    calls = len(dynamic.calls)
    _apply(executor, dynamic, second, None)
    deleted = [n for m, n in dynamic.calls[calls:] if m == "Delete"]
    assert deleted.index("litellm-dev-key-app-one") < deleted.index("litellm-dev-team-t-one"), deleted
    assert not emulator.keys and not emulator.teams and not emulator.models
    assert dynamic.state == {}
