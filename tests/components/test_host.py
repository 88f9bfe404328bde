"""LiteLLMHost under Pulumi's mock engine: the whole program (`__main__.py`) per stack, as the
offline engine records it. Nothing here contacts a host: the commands are only recorded."""

from __future__ import annotations

import json
import shlex
import subprocess
from typing import Any, Optional

import pytest

from config.endpoints import base_url
from offline.engine import ProgramRun, RecordedResource, run_program, run_stack
from offline.stack_inputs import StackInputs, load_stack_inputs
from rendering import host_scripts as hs
from rendering.host_files import host_paths, render_env_file, render_systemd_unit, secret_env_names
from tests.support.host_keys import placeholder_host_key

HOST_TYPE = "litellm-gateway:host:LiteLLMHost"
REMOTE = "command:remote:Command"
LOCAL = "command:local:Command"
RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword"

# Distinctive secrets: any of these found outside a secret input is a leak.
DEV_SECRETS = {
    "masterKey": "sk-LEAKCHECK-master-7c1d2e3f4a5b6c7d8e9f",
    "saltKey": "LEAKCHECK-salt-0a1b2c3d4e5f60718293",
    "postgresAdminPassword": "LEAKCHECK-pgadmin-5e6f7a8b9c",
    "redisPassword": "LEAKCHECK-redis-1f2e3d4c5b6a",
    "sshPrivateKey": "-----BEGIN OPENSSH PRIVATE KEY-----\nLEAKCHECK-ssh-key-body\n-----END OPENSSH PRIVATE KEY-----\n",
    "dnsAdminPassword": "LEAKCHECK-dns-9a8b7c6d",
    "tlsCaKey": "-----BEGIN EC PRIVATE KEY-----\nLEAKCHECK-ca-key-body\n-----END EC PRIVATE KEY-----\n",
    "envSecrets.OPENAI_API_KEY": "LEAKCHECK-openai-2b3c4d5e6f",
    "envSecrets.ANTHROPIC_API_KEY": "LEAKCHECK-anthropic-7a6b5c4d",
    "envSecrets.SLACK_WEBHOOK_URL": "https://hooks.example.invalid/LEAKCHECK-slack-3c2b1a",
}
LOCAL_SECRETS = {
    "masterKey": "sk-LEAKCHECK-local-master-1a2b3c4d5e6f",
    "saltKey": "LEAKCHECK-local-salt-6f5e4d3c2b1a",
}

# `service` is the host's whole rollout (files in place, restart, readiness wait; issue 15)
DEV_STEPS = ["trigger-key", "claim", "layout", "install", "file-config", "file-env", "file-unit", "file-tls-key", "file-tls-cert", "file-tls-ca", "migrate", "service"]
LOCAL_STEPS = ["trigger-key", "claim", "layout", "install", "file-config", "file-env", "file-tls-key", "file-tls-cert", "file-tls-ca", "migrate", "service"]
FILE_STEPS = {"file-config": "config_file", "file-env": "env_file", "file-unit": "unit_file", "file-tls-key": "tls_key_file",
              "file-tls-cert": "tls_cert_file", "file-tls-ca": "tls_ca_file"}


def _run(stack: str, secrets: dict[str, str], overrides: Optional[dict[str, Any]] = None) -> tuple[StackInputs, ProgramRun]:
    run = run_stack(stack, secrets=secrets, overrides=overrides)
    return run.inputs, run


def _litellm(stack: str, **changes) -> dict[str, Any]:
    raw = json.loads(load_stack_inputs(stack).config["litellm-gateway:litellm"])
    raw.update(changes)
    return raw


@pytest.fixture(scope="module")
def dev_run():
    return _run("dev", DEV_SECRETS)


@pytest.fixture(scope="module")
def local_run():
    return _run("local", LOCAL_SECRETS)


def hosts_of(run: ProgramRun) -> list[RecordedResource]:
    return run.of_type(HOST_TYPE)


def step(run: ProgramRun, host: RecordedResource, name: str) -> RecordedResource:
    found = [r for r in run.children_of(host.urn) if r.name == f"{host.name}-{name}"]
    assert len(found) == 1, (name, [r.name for r in run.children_of(host.urn)])
    return found[0]


def reasons_of(command: str) -> list[str]:
    """The labelled restart reasons in a rollout step's command text (`# restart reasons: ...`)."""
    marker = "# restart reasons: "
    assert command.count(marker) == 1, command[-300:]
    return command.split(marker, 1)[1].split("\n", 1)[0].split()


def triggers_by_label(run: ProgramRun, host: RecordedResource) -> dict[str, str]:
    service = step(run, host, "service").inputs
    assert "triggers" not in service  # replace-on-change in pulumi-command: never on the restart step
    trig = reasons_of(service["create"])
    labels = [t.split("=", 1)[0] for t in trig]
    assert len(labels) == len(set(labels)), trig
    return dict(t.split("=", 1) for t in trig)


def secret_values(inputs: StackInputs, run: ProgramRun) -> list[str]:
    """Every secret the program handles: secret config leaves (given or placeholder) and the values
    providers generate (mocked random passwords, private keys)."""
    values: list[str] = []
    for key in inputs.secret_keys:
        raw = inputs.config[key]
        try:
            parsed = json.loads(raw)
        except (json.JSONDecodeError, TypeError):
            parsed = raw
        if isinstance(parsed, dict):
            values.extend(str(v) for v in parsed.values())
        else:
            values.append(str(raw))
    for r in run.resources:
        if r.type == RANDOM_PASSWORD:
            values.append(r.outputs["result"])
        if r.type == "tls:index/privateKey:PrivateKey":
            values.append(r.outputs["privateKeyPem"])
    out = []
    for v in values:
        out.append(v)
        # PEMs: the body alone must not leak either
        out.extend(line for line in v.splitlines() if len(line) >= 8 and not line.startswith("-----"))
    return [v for v in dict.fromkeys(out) if len(v) >= 8]


def _leaks(value: Any, secrets: list[str]) -> list[str]:
    text = json.dumps(value, sort_keys=True)
    return [s for s in secrets if s in text or json.dumps(s)[1:-1] in text]


# --------------------------------------------------------------------------------------------
# Structure
# --------------------------------------------------------------------------------------------


def test_dev_host_resources(dev_run):
    _, run = dev_run
    [host] = hosts_of(run)
    assert host.name == "litellm-dev-hx-litellm-server"
    children = run.children_of(host.urn)
    assert sorted(r.name for r in children) == sorted(f"{host.name}-{s}" for s in DEV_STEPS)
    commands = [r for r in children if r.type.startswith("command:")]
    assert len(commands) == 11 and all(r.type == REMOTE for r in commands)
    assert [r.type for r in children if not r.type.startswith("command:")] == [RANDOM_PASSWORD]
    # the SSH connection (with its key) is secret on every command
    for r in commands:
        assert "connection" in r.secret_inputs
        assert r.inputs["connection"]["host"] == "192.168.10.20"
        assert r.inputs["connection"]["user"] == "ansible"
        assert r.inputs["create"].startswith("sudo -n /bin/bash -c ")


def test_local_host_resources(local_run):
    _, run = local_run
    [host] = hosts_of(run)
    assert host.name == "litellm-local-localhost"
    children = run.children_of(host.urn)
    assert sorted(r.name for r in children) == sorted(f"{host.name}-{s}" for s in LOCAL_STEPS)
    commands = [r for r in children if r.type.startswith("command:")]
    assert len(commands) == 10 and all(r.type == LOCAL for r in commands)
    assert not run.of_type(REMOTE) or all(not r.parent.endswith(host.name) for r in run.of_type(REMOTE))
    for r in commands:
        assert r.inputs["interpreter"] == ["/bin/bash", "-c"]
        assert "sudo" not in r.inputs["create"]
        assert "dir" not in r.inputs  # runs in the project dir: Pulumi.local.yaml's relative paths


def test_every_host_resource_is_parented_to_the_component(dev_run, local_run):
    for (_, run), steps in ((dev_run, DEV_STEPS), (local_run, LOCAL_STEPS)):
        [host] = hosts_of(run)
        gateway = run.one("litellm-gateway:index:Gateway")
        assert host.parent == gateway.urn
        mine = [r for r in run.resources if r.name in {f"{host.name}-{s}" for s in steps}]
        assert len(mine) == len(steps)
        for r in mine:
            assert r.parent == host.urn, r.name
            assert (HOST_TYPE + "$") in r.urn  # the URN carries the parent type


def test_step_order(dev_run):
    _, run = dev_run
    [host] = hosts_of(run)
    urn = {s: step(run, host, s).urn for s in DEV_STEPS}
    deps = {s: set(step(run, host, s).depends_on) for s in DEV_STEPS}
    assert urn["layout"] in deps["install"]
    for f in ("file-config", "file-env", "file-unit", "file-tls-key", "file-tls-cert", "file-tls-ca"):
        assert urn["install"] in deps[f]
        assert urn[f] in deps["migrate"]
        assert urn[f] in deps["service"]
    assert urn["migrate"] in deps["service"]
    for s in DEV_STEPS[1:]:
        assert step(run, host, s).delete_before_replace, s


def staged_of(run: ProgramRun, host: RecordedResource, name: str) -> str:
    """The staged (content-addressed) path a file step writes: its script's TARGET."""
    command = step(run, host, name).inputs["create"]
    script = shlex.split(command)[-1] if command.startswith("sudo -n ") else command
    [target] = [line.split("=", 1)[1] for line in script.splitlines() if line.startswith("TARGET=")]
    return shlex.split(target)[0]


def staged_files(settings, run: ProgramRun, host: RecordedResource, steps) -> list:
    p = host_paths(settings)
    return [hs.StagedFile(live=getattr(p, FILE_STEPS[n]), staged=staged_of(run, host, n)) for n in steps if n in FILE_STEPS]


def test_commands_are_the_host_scripts(dev_run, local_run):
    inputs, run = dev_run
    s = inputs.settings()
    [host] = hosts_of(run)
    spec = s.litellm.hosts[0]
    p = host_paths(s)
    expect = {
        "layout": hs.layout_script(s),
        "install": hs.install_script(s),
        "migrate": hs.migrate_script(s, config_file=hs.latest_staged(s, p.config_file), env_file=hs.latest_staged(s, p.env_file)),
        "file-config": hs.write_staged_script(s, staged_of(run, host, "file-config"), "0640", "root", "litellm",
                                              latest=hs.latest_staged(s, p.config_file)),
        "file-env": hs.write_staged_script(s, staged_of(run, host, "file-env"), "0600", "root", "root",
                                           latest=hs.latest_staged(s, p.env_file)),
        "file-unit": hs.write_staged_script(s, staged_of(run, host, "file-unit"), "0644", "root", "root"),
        "file-tls-key": hs.write_staged_script(s, staged_of(run, host, "file-tls-key"), "0600", "litellm", "litellm"),
        "file-tls-cert": hs.write_staged_script(s, staged_of(run, host, "file-tls-cert"), "0644", "litellm", "litellm"),
        "file-tls-ca": hs.write_staged_script(s, staged_of(run, host, "file-tls-ca"), "0644", "litellm", "litellm"),
    }
    for name, script in expect.items():
        assert step(run, host, name).inputs["create"] == hs.remote_command(script, "ansible"), name
    # every file is staged under its content-addressed name, next to (never over) the live one
    for name in FILE_STEPS:
        staged, live = staged_of(run, host, name), getattr(p, FILE_STEPS[name])
        assert staged.startswith(hs.staged_dir(s) + "/" + live.rsplit("/", 1)[1] + "."), (name, staged)
        assert live not in step(run, host, name).inputs["create"], name
    service = step(run, host, "service").inputs
    reasons = reasons_of(service["create"])
    files = staged_files(s, run, host, DEV_STEPS)
    # the host's own settings: the lone host listens on its address (rendering.host_files.settings_for_host)
    from rendering.host_files import settings_for_host

    hs_ = settings_for_host(s, spec)
    assert hs_.litellm.bind_host == spec.address
    # no front door: a drain agent left from an earlier two-host shape is retired (rendering.drain_agent)
    agent = f"{p.install_dir}/drain-agent.py"
    assert service["create"] == hs.remote_command(
        hs.with_reasons(hs.rollout_script(hs_, spec, files, None, retire_agent=agent), reasons), "ansible")
    assert service["update"] == service["create"]
    assert "triggers" not in service
    assert service["delete"] == hs.remote_command(
        hs.rollout_delete_script(hs_, host.name, [f.live for f in files], None, retire_agent=agent), "ansible")
    assert "systemctl disable --now litellm-drain-agent.service" in service["create"]
    for r in run.children_of(host.urn):
        if r.type == REMOTE:
            assert r.inputs.get("addPreviousOutputInEnv") is False, r.name
    assert step(run, host, "file-unit").inputs["stdin"] == render_systemd_unit(hs_, spec)

    linputs, lrun = local_run
    ls = linputs.settings()
    [lhost] = hosts_of(lrun)
    lservice = step(lrun, lhost, "service").inputs
    lreasons = reasons_of(lservice["create"])
    lfiles = staged_files(ls, lrun, lhost, LOCAL_STEPS)
    assert lservice["create"] == hs.with_reasons(hs.rollout_script(ls, ls.litellm.hosts[0], lfiles, None), lreasons)
    assert lservice["delete"] == hs.rollout_delete_script(ls, lhost.name, [f.live for f in lfiles], None)
    # the rollout carries the restart and the readiness wait of this host
    assert hs.restart_script(ls).rstrip("\n") in lservice["create"]
    assert hs.wait_ready_script(ls, ls.litellm.hosts[0]).rstrip("\n") in lservice["create"]
    assert all(r.inputs.get("addPreviousOutputInEnv") is False for r in lrun.children_of(lhost.urn) if r.type == LOCAL)


@pytest.mark.slow
def test_every_generated_command_passes_bash_n(dev_run, local_run):
    checked = 0
    for _, run in (dev_run, local_run):
        [host] = hosts_of(run)
        for r in run.children_of(host.urn):
            for field in ("create", "update", "delete"):
                text = r.inputs.get(field)
                if text is None:
                    continue
                scripts = [text]
                if r.type == REMOTE:
                    scripts.append(shlex.split(text)[-1])  # the script inside `sudo -n /bin/bash -c`
                for script in scripts:
                    res = subprocess.run(["bash", "-n"], input=script, text=True, capture_output=True)
                    assert res.returncode == 0, (r.name, field, res.stderr)
                    checked += 1
    assert checked >= 30


# --------------------------------------------------------------------------------------------
# Secrets
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["dev", "local"])
def test_no_secret_outside_secret_inputs(which, dev_run, local_run):
    inputs, run = dev_run if which == "dev" else local_run
    secrets = secret_values(inputs, run)
    given = DEV_SECRETS if which == "dev" else LOCAL_SECRETS
    assert all(v in secrets for v in given.values())
    assert len(secrets) > len(given)  # generated ones (db/redis passwords, trigger key, TLS key) too
    assert run.plain_inputs_carrying(secrets) == []


@pytest.mark.parametrize("which", ["dev", "local"])
def test_no_secret_in_command_strings_or_triggers(which, dev_run, local_run):
    """Even where the input is secret (e.g. a command whose create depends on a secret Output),
    command strings and triggers must not hold a secret: pulumi-command prints the command on
    failure, and triggers show in diffs."""
    inputs, run = dev_run if which == "dev" else local_run
    secrets = secret_values(inputs, run)
    [host] = hosts_of(run)
    for r in run.children_of(host.urn):
        for key in ("create", "update", "delete", "triggers", "environment"):
            if key in r.inputs:
                assert not _leaks(r.inputs[key], secrets), (r.name, key)
                assert key not in r.secret_inputs, (r.name, key)
        assert "environment" not in r.inputs, r.name


@pytest.mark.parametrize("which", ["dev", "local"])
def test_env_file_reaches_host_only_as_secret_stdin(which, dev_run, local_run):
    inputs, run = dev_run if which == "dev" else local_run
    s = inputs.settings()
    [host] = hosts_of(run)
    env_step = step(run, host, "file-env")
    assert "stdin" in env_step.secret_inputs
    text = env_step.inputs["stdin"]
    assert text.startswith("# litellm-gateway: environment of the LiteLLM proxy")
    given = DEV_SECRETS if which == "dev" else LOCAL_SECRETS
    assert f'LITELLM_MASTER_KEY="{given["masterKey"]}"' in text
    assert f'LITELLM_SALT_KEY="{given["saltKey"]}"' in text
    values = dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))
    assert set(secret_env_names(s)) - {"REDIS_PASSWORD"} <= set(values)
    assert text == render_env_file(s, {k: v.strip('"').replace('\\"', '"').replace("\\\\", "\\") for k, v in values.items() if k in secret_env_names(s)} | {n: "" for n in secret_env_names(s) if n not in values})
    if which == "dev":
        assert values["OPENAI_API_KEY"] == f'"{DEV_SECRETS["envSecrets.OPENAI_API_KEY"]}"'
        assert values["DATABASE_URL"].startswith('"postgresql://')
    # no other resource carries the file
    for r in run.resources:
        if r is env_step:
            continue
        assert "LITELLM_MASTER_KEY=" not in json.dumps(r.inputs), r.name
    # the TLS key travels the same way
    key_step = step(run, host, "file-tls-key")
    assert "stdin" in key_step.secret_inputs and "PRIVATE KEY" in key_step.inputs["stdin"]
    assert "stdin" not in step(run, host, "file-tls-cert").secret_inputs
    assert "stdin" not in step(run, host, "file-config").secret_inputs


def test_config_yaml_is_plain_stdin(dev_run):
    _, run = dev_run
    [host] = hosts_of(run)
    gateway = run.of_type("litellm-gateway:index:Gateway")[0]
    cfg = step(run, host, "file-config")
    assert "model_list" in cfg.inputs["stdin"] or "general_settings" in cfg.inputs["stdin"]
    assert "os.environ/LITELLM_MASTER_KEY" in cfg.inputs["stdin"]
    assert gateway  # the gateway rendered it; the host writes it verbatim


# --------------------------------------------------------------------------------------------
# Restart triggers
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def local_variants():
    """The local stack's host under single changes (one program run each): per variant, the
    service step's labelled triggers, the service step's full inputs (pulumi-command re-runs the
    step, i.e. restarts, when any of them changes) and the ready step's script."""
    def observe(secrets=LOCAL_SECRETS, overrides=None) -> dict[str, Any]:
        _, run = _run("local", secrets, overrides)
        [host] = hosts_of(run)
        service = step(run, host, "service").inputs
        return {
            "triggers": triggers_by_label(run, host),
            "service": {k: service.get(k) for k in ("create", "update", "delete", "triggers", "stdin", "interpreter")},
            "files": {n: step(run, host, n).inputs["create"] for n in FILE_STEPS if n != "file-unit"},
        }

    raw_routing = {"num_retries": 2, "timeout": 60, "fallbacks": {"llama3.2": ["qwen2.5"]}}
    return {
        "base": observe(),
        "again": observe(),
        "port": observe(overrides={"litellm": _litellm("local", port=4001)}),
        "workers": observe(overrides={"litellm": _litellm("local", workers=2)}),
        "version": observe(overrides={"litellm": _litellm("local", version="1.108.6")}),
        "secret": observe(secrets={**LOCAL_SECRETS, "masterKey": "sk-LEAKCHECK-local-master-rotated-99"}),
        "routing": observe(overrides={"routing": raw_routing}),
        "keys": observe(overrides={"keys": [{"alias": "other", "service": "other", "models": ["qwen2.5"]}]}),
        "timeout": observe(overrides={"litellm": _litellm("local", readiness_timeout_seconds=30)}),
    }


def _changed(a: dict[str, str], b: dict[str, str]) -> set[str]:
    assert a.keys() == b.keys()
    return {k for k in a if a[k] != b[k]}


def test_trigger_labels(local_variants, dev_run):
    assert set(local_variants["base"]["triggers"]) == {"litellm", "config", "launch", "env", "tls"}
    _, run = dev_run
    [host] = hosts_of(run)
    assert set(triggers_by_label(run, host)) == {"litellm", "config", "unit", "env", "tls"}


def test_triggers_are_stable(local_variants):
    assert _changed(local_variants["base"]["triggers"], local_variants["again"]["triggers"]) == set()
    assert local_variants["base"] == local_variants["again"]


@pytest.mark.parametrize(
    "variant,expected",
    [
        ("port", {"launch"}),  # the port is a proxy argument (unit / launch line)
        ("workers", {"launch", "config"}),  # --num_workers, and 2 workers share router state via Redis
        ("version", {"litellm", "launch"}),  # a venv per release: the launch line names it
        ("secret", {"env"}),
        ("routing", {"config"}),
        ("keys", set()),  # virtual keys live in the proxy's DB: no restart
        ("timeout", set()),  # how long we wait is not a reason to restart
    ],
)
def test_triggers_change_exactly_with_their_input(local_variants, variant, expected):
    base, changed = local_variants["base"], local_variants[variant]
    assert _changed(base["triggers"], changed["triggers"]) == expected
    # the rollout step re-runs when a trigger changed, and when only the wait changed (it then
    # finds the host running exactly its files and release: no restart, see test_host_scripts)
    assert (base["service"] != changed["service"]) == (bool(expected) or variant in ("port", "timeout"))
    # a staged file gets a new name exactly when its content (its trigger) changed
    staged_changed = {n for n in base["files"] if base["files"][n] != changed["files"][n]}
    assert staged_changed == {{"config": "file-config", "env": "file-env"}[t] for t in expected if t in ("config", "env")}


def test_trigger_values(local_run):
    inputs, run = local_run
    s = inputs.settings()
    [host] = hosts_of(run)
    trig = triggers_by_label(run, host)
    import hashlib

    assert trig["litellm"] == s.litellm.version
    assert trig["config"] == hashlib.sha256(step(run, host, "file-config").inputs["stdin"].encode()).hexdigest()
    env_text = step(run, host, "file-env").inputs["stdin"]
    # salted: not the plain digest of the env file (which could be brute-forced offline)
    assert trig["env"] != hashlib.sha256(env_text.encode()).hexdigest()
    assert len(trig["env"]) == 64
    key = step(run, host, "trigger-key").outputs["result"]
    import hmac

    assert trig["env"] == hmac.new(key.encode(), env_text.encode(), hashlib.sha256).hexdigest()
    # migrations re-run for a new release or a new env (database URL), not for a config change
    assert step(run, host, "migrate").inputs["triggers"] == [f"litellm={s.litellm.version}", f"env={trig['env']}"]


def test_dev_unit_trigger_follows_the_unit(dev_run):
    inputs, run = dev_run
    s = inputs.settings()
    [host] = hosts_of(run)
    import hashlib

    from rendering.host_files import settings_for_host

    unit = render_systemd_unit(settings_for_host(s, s.litellm.hosts[0]), s.litellm.hosts[0])
    assert f"--host {s.litellm.hosts[0].address} " in unit  # a lone ssh host listens on its own address
    assert triggers_by_label(run, host)["unit"] == hashlib.sha256(unit.encode()).hexdigest()


# --------------------------------------------------------------------------------------------
# Replicas and outputs
# --------------------------------------------------------------------------------------------


def test_two_hosts_give_two_components():
    hosts = [
        {"name": "hx-litellm-server", "address": "192.168.10.20", "host_key": placeholder_host_key("hx-litellm-server")},
        {"name": "hx-litellm-server-2", "address": "192.168.10.21", "host_key": placeholder_host_key("hx-litellm-server-2")},
    ]
    # 4 workers x 5 pooled connections x 2 hosts fits the role's connection_limit (50)
    inputs, run = _run("dev", DEV_SECRETS, {"litellm": _litellm("dev", hosts=hosts, database_connection_pool_limit=5),
                                            "frontDoor": {"address": "192.168.10.30", "host_key": placeholder_host_key("litellm-lb")}})
    found = hosts_of(run)
    assert sorted(h.name for h in found) == ["litellm-dev-hx-litellm-server", "litellm-dev-hx-litellm-server-2"]
    for h, spec in zip(sorted(found, key=lambda h: h.name), hosts):
        children = run.children_of(h.urn)
        # no step on the front door: the host drains itself (its agent) inside its one rollout step
        assert sorted(r.name for r in children) == sorted(f"{h.name}-{s}" for s in DEV_STEPS)
        assert {r.inputs["connection"]["host"] for r in children if r.type == REMOTE} == {spec["address"]}
        # behind the front door the proxy listens on the host's own address (not 0.0.0.0)
        unit = step(run, h, "file-unit").inputs["stdin"]
        assert f"--host {spec['address']} --port" in unit and "0.0.0.0" not in unit
    # each replica gets its own trigger key, and the config tells the routers to share state
    keys = [r for r in run.of_type(RANDOM_PASSWORD) if r.name.endswith("-trigger-key")]
    assert len(keys) == 2
    cfg = step(run, found[0], "file-config").inputs["stdin"]
    assert "redis_host" in cfg


def test_component_outputs():
    """Build a LiteLLMHost directly (under the same mock engine) and read its outputs."""
    import pulumi

    results: dict[str, Any] = {}

    def program():
        from components.host import LiteLLMHost, LiteLLMHostArgs, TlsFiles

        s = load_stack_inputs("dev", secrets=DEV_SECRETS).settings()
        env = {n: pulumi.Output.secret(f"value-of-{n}") for n in secret_env_names(s)}
        tls = TlsFiles(cert_pem="CERT", private_key_pem=pulumi.Output.secret("KEY"), ca_pem="CA")
        from components.connection import ssh_connection

        h = LiteLLMHost(
            "h",
            LiteLLMHostArgs(settings=s, host=s.litellm.hosts[0], connection=ssh_connection(s, "192.168.10.20", s.litellm.hosts[0].host_key),
                            config_yaml="model_list: []\n", env_values=env, tls=tls),
        )
        for name in ("base_url", "ui_url", "docs_url", "health_url", "ready"):
            pulumi.export(name, getattr(h, name))
        results["settings"] = s

    run = run_program("dev", {}, (), program=program)
    s = results["settings"]
    url = base_url(s, "hx-litellm-server")
    assert url == "https://hx-litellm-server.hx.dev.local:4000"
    assert run.outputs["base_url"] == url
    assert run.outputs["ui_url"] == url + "/ui"
    assert run.outputs["docs_url"] == url + "/docs"
    assert run.outputs["health_url"] == url + "/health/readiness"
    assert run.outputs["ready"] is True
    [host] = hosts_of(run)
    assert host.type == HOST_TYPE
    service = step(run, host, "service")
    assert service.parent == host.urn


def test_component_rejects_inconsistent_args():
    import pulumi

    errors: list[str] = []

    def program():
        from components.host import LiteLLMHost, LiteLLMHostArgs

        s = load_stack_inputs("local").settings()
        env = {n: pulumi.Output.secret("v") for n in secret_env_names(s)}
        for kwargs in (
            {"connection": None, "env_values": {}, "tls": None},  # missing env entries
            {"connection": None, "env_values": env, "tls": None},  # tls.enabled without files
        ):
            try:
                LiteLLMHost(f"bad{len(errors)}", LiteLLMHostArgs(settings=s, host=s.litellm.hosts[0], config_yaml="x", **kwargs))
            except ValueError as exc:
                errors.append(str(exc))

    run_program("local", {}, (), program=program)
    assert len(errors) == 2
    assert "no value for env file entries" in errors[0]
    assert "no TLS files" in errors[1]
