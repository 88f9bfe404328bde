"""The whole program under Pulumi's mock engine: what each stack declares, in which order."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from components.gateway import rotation_trigger
from config.catalog import VirtualKeySpec
from offline.engine import ProgramRun, run_stack
from offline.stack_inputs import load_stack_inputs
from tests.support.host_keys import placeholder_host_key

GATEWAY = "litellm-gateway:index:Gateway"
HOST = "litellm-gateway:host:LiteLLMHost"
DB = "litellm-gateway:postgres:PostgresDatabase"
REDIS = "litellm-gateway:redis:RedisCache"
DNS = "litellm-gateway:dns:DnsRecord"
TLS = "litellm-gateway:tls:TlsCertificate"
MODEL = "pulumi-python:dynamic/litellm:Model"
TEAM = "pulumi-python:dynamic/litellm:Team"
KEY = "pulumi-python:dynamic/litellm:VirtualKey"
RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword"


def counts(run: ProgramRun) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in run.resources:
        out[r.type] = out.get(r.type, 0) + 1
    return out


def test_dev_declares_the_whole_gateway(dev):
    c = counts(dev)
    assert c[GATEWAY] == 1 and c[HOST] == 1 and c[DB] == 1 and c[REDIS] == 1 and c[TLS] == 1
    assert c[DNS] == 2  # A record for hx-litellm-server + CNAME litellm
    assert c[MODEL] == 5 and c[TEAM] == 2 and c[KEY] == 6


def test_local_has_no_dns_and_models_in_the_config_file(local):
    c = counts(local)
    assert c[GATEWAY] == 1 and c[HOST] == 1 and c[DB] == 1 and c[REDIS] == 1 and c[TLS] == 1
    assert DNS not in c
    assert MODEL not in c and TEAM not in c
    assert c[KEY] == 1


@pytest.mark.parametrize("stack", ["dev", "local"])
def test_everything_hangs_under_the_gateway(stack, dev, local):
    run = dev if stack == "dev" else local
    gateway = run.one(GATEWAY)
    assert gateway.parent.endswith("::pulumi:pulumi:Stack::litellm-gateway-" + stack)
    for r in run.resources:
        if r is gateway:
            continue
        chain, parent = [], r.parent
        while parent and parent != gateway.urn:
            chain.append(parent)
            parent = run.by_urn(parent).parent if any(x.urn == parent for x in run.resources) else ""
        assert parent == gateway.urn, f"{r.type} {r.name} is not under the Gateway"


def test_dev_outputs(dev):
    assert dev.outputs["base_url"] == "https://litellm.hx.dev.local:4000"
    assert dev.outputs["ui_url"] == "https://litellm.hx.dev.local:4000/ui"
    assert dev.outputs["docs_url"] == "https://litellm.hx.dev.local:4000/docs"
    assert dev.outputs["health_url"] == "https://litellm.hx.dev.local:4000/health/readiness"
    assert dev.outputs["models"] == ["llama3.2", "qwen2.5-coder", "nomic-embed-text", "gpt-4o", "claude-sonnet-4"]
    assert {"master_key", "keys", "database_url"} <= dev.secret_outputs
    assert set(dev.outputs["keys"]) == {"langchain", "lightrag", "open-webui", "copilotkit", "nextjs-app", "fastapi-app"}
    assert "base_url" not in dev.secret_outputs


def test_local_outputs(local):
    assert local.outputs["base_url"] == "https://127.0.0.1:4000"
    assert "master_key" in local.secret_outputs
    assert local.outputs["master_key"] == "sk-placeholder-master-key-0000000000"


def custom_descendants(run: ProgramRun, urn: str) -> set[str]:
    """A dependency on a component is a dependency on every custom resource under it (the SDK
    expands it so), which is what the engine orders by."""
    out: set[str] = set()
    for r in run.children_of(urn):
        if r.custom:
            out.add(r.urn)
        out |= custom_descendants(run, r.urn)
    return out


def waits_for(run: ProgramRun, resource, component) -> bool:
    needed = custom_descendants(run, component.urn)
    assert needed, f"{component.name} has no resources"
    return component.urn in resource.depends_on or needed <= set(resource.depends_on)


def test_host_waits_for_database_cache_certificate_and_dns(dev):
    host = dev.one(HOST)
    for component in [dev.one(DB), dev.one(REDIS), dev.one(TLS), *dev.of_type(DNS)]:
        assert waits_for(dev, host, component), component.name


def test_admin_objects_wait_for_the_host(dev):
    host = dev.one(HOST)
    for r in dev.of_type(MODEL) + dev.of_type(TEAM) + dev.of_type(KEY):
        assert waits_for(dev, r, host), r.name


def test_admin_objects_wait_for_the_dns_records_the_gateway_url_resolves_through():
    """A front door and DNS written by the stack (dev-ha): the service name's CNAME to the front door
    is made only after host 1's rollout, so waiting for the hosts does not order the models, teams
    and keys after it; they reach the proxy through that name, so they wait for it and for the
    front door's A record themselves."""
    run = run_stack("dev-ha")
    admin = run.of_type(MODEL) + run.of_type(TEAM) + run.of_type(KEY)
    assert admin and run.of_type(KEY)
    records = {r.name: r for r in run.of_type(DNS)}
    cname, fd_a = records["litellm-dev-ha-litellm-cname"], records["litellm-dev-ha-hx-litellm-lb-a"]
    for r in admin:
        assert waits_for(run, r, cname), r.name
        assert waits_for(run, r, fd_a), r.name
        for host in run.of_type(HOST):
            assert waits_for(run, r, host), r.name
    # the other hosts' A records are not on the way to the gateway URL: no order on them
    other = records["litellm-dev-ha-hx-litellm-server-2-a"]
    assert not any(other.urn in r.depends_on for r in admin)


def test_without_managed_dns_the_admin_objects_wait_for_the_hosts_alone():
    run = run_stack("dev-ha", overrides={"dns": {"enabled": False}})
    assert not run.of_type(DNS)
    admin = run.of_type(MODEL) + run.of_type(TEAM) + run.of_type(KEY)
    assert admin
    for r in admin:
        for host in run.of_type(HOST):
            assert waits_for(run, r, host), r.name


def test_keys_reference_their_team_through_its_output(dev):
    key = next(r for r in dev.of_type(KEY) if r.inputs["key_alias"] == "langchain-dev")
    assert key.inputs["team_id"] == "platform-ai"
    team = next(r for r in dev.of_type(TEAM) if r.inputs["team_id"] == "platform-ai")
    assert team.urn in key.depends_on  # an Output dependency, so the key follows its team


def test_salt_key_is_protected_and_blind_to_argument_changes(dev, local):
    salt = next(r for r in dev.of_type(RANDOM_PASSWORD) if r.name.endswith("-salt-key"))
    assert salt.protect is True
    assert set(salt.ignore_changes) >= {"length", "special"}
    local_salt = next(r for r in local.of_type(RANDOM_PASSWORD) if r.name.endswith("-salt-key"))
    assert local_salt.protect is False


def test_a_given_master_key_is_used_and_none_generated():
    run = run_stack("local", secrets={"masterKey": "sk-given-master-key-0123456789"})
    assert run.outputs["master_key"] == "sk-given-master-key-0123456789"
    assert not any(r.name.endswith("-master-key") for r in run.of_type(RANDOM_PASSWORD))


def test_master_key_is_generated_when_no_admin_objects_need_it():
    run = run_stack("local", overrides={"keys": []}, fill_missing_secrets=True)
    generated = [r for r in run.of_type(RANDOM_PASSWORD) if r.name.endswith("-master-key")]
    assert len(generated) == 1
    assert run.outputs["master_key"].startswith("sk-")
    assert "master_key" in run.secret_outputs


def test_replicas_get_one_host_each():
    hosts = [
        {"name": "hx-litellm-server", "address": "192.168.10.20", "host_key": placeholder_host_key("hx-litellm-server")},
        {"name": "hx-litellm-server-2", "address": "192.168.10.21", "host_key": placeholder_host_key("hx-litellm-server-2")},
    ]
    litellm = load_stack_inputs("dev").settings().model_dump(mode="json")["litellm"]
    # 4 workers x 5 pooled connections x 2 hosts fits the role's connection_limit (50)
    run = run_stack("dev", overrides={"litellm": {**litellm, "hosts": hosts, "database_connection_pool_limit": 5},
                                      "frontDoor": {"name": "hx-litellm-lb", "address": "192.168.10.30", "host_key": placeholder_host_key("hx-litellm-lb")}})
    assert len(run.of_type(HOST)) == 2
    assert len(run.of_type(TLS)) == 3  # one per proxy, one for the front door
    assert len(run.of_type(DNS)) == 4  # two A records, the front door's A record, the service CNAME to it
    for r in run.of_type(MODEL):
        for h in run.of_type(HOST):
            assert waits_for(run, r, h)


def test_rotation_trigger_changes_once_per_period():
    spec = VirtualKeySpec(alias="a", service="svc", rotate_after_days=30)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    period_start = datetime.fromtimestamp((int(start.timestamp()) // (30 * 86400)) * 30 * 86400, tz=timezone.utc)
    same = rotation_trigger(spec, period_start + timedelta(days=29, hours=23))
    assert rotation_trigger(spec, period_start) == same
    assert rotation_trigger(spec, period_start + timedelta(days=30)) != same
    assert rotation_trigger(VirtualKeySpec(alias="a", service="svc"), start) is None
    manual = VirtualKeySpec(alias="a", service="svc", rotation_trigger="2026-q1")
    assert rotation_trigger(manual, start) == "2026-q1"


@pytest.mark.parametrize("stack", ["dev", "local"])
def test_preview_declares_the_same_resources_as_an_update(stack, dev, local):
    # `pulumi preview` runs the program with unknown outputs; it must not fail or change the plan
    update = dev if stack == "dev" else local
    preview = run_stack(stack, preview=True)
    assert sorted(r.urn for r in preview.resources) == sorted(r.urn for r in update.resources)


def test_api_managed_models_carry_model_info_and_extra_params(dev):
    """The Model resources get the same model_info / litellm_params config.yaml would (issue 20)."""
    models = {r.inputs["model_id"]: r for r in dev.of_type(MODEL)}
    assert models["ollama-nomic-embed"].inputs["model_info"] == {
        "mode": "embedding", "base_model": "nomic-embed-text", "input_cost_per_token": 0}
    llama = models["ollama-llama3.2"].inputs
    assert llama["model_info"] == {"mode": "chat", "max_tokens": 8192}
    assert llama["litellm_params"]["keep_alive"] == "30m" and llama["litellm_params"]["num_ctx"] == 8192
    assert "model_info" not in models["openai-gpt-4o"].inputs or not models["openai-gpt-4o"].inputs["model_info"]


def test_admit_any_key_is_announced_by_every_run(caplog):
    """litellm.database_outage: admit_any_key lets any sk- bearer in during an outage
    (docs/security.md): the program says so on every preview and up; the default says nothing."""
    import json as _json

    from config.litellm_settings import ADMIT_ANY_KEY_WARNING
    from offline.engine import run_stack as _run
    from offline.stack_inputs import load_stack_inputs as _inputs

    # Pulumi's mock engine hands the program's log calls to Python logging
    _run("dev")
    assert ADMIT_ANY_KEY_WARNING not in caplog.text
    litellm = _json.loads(_inputs("dev").config["litellm-gateway:litellm"])
    _run("dev", overrides={"litellm": {**litellm, "database_outage": "admit_any_key"}})
    assert ADMIT_ANY_KEY_WARNING in caplog.text
