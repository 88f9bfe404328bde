"""Where the admin calls go when `adminUrl` is not set (derived from the stack config, like the program's
`base_url`), and how they trust an https proxy (the resource's `ca_bundle_pem`, LITELLM_GATEWAY_CA_BUNDLE,
the system store; never unverified)."""

from __future__ import annotations

import json
import os
import re
import stat
import tempfile

import pytest
import requests
from pulumi.dynamic import Config, ConfigureRequest

from components.litellm_admin import client, connection, specs
from components.litellm_admin.client import AdminApiError, AdminEndpoint, AdminTrustError
from components.litellm_admin.model_provider import ModelProvider
from components.litellm_admin.team_provider import TeamProvider
from components.litellm_admin.virtual_key_provider import VirtualKeyProvider
from config.endpoints import base_url, gateway_base_url
from offline.engine import run_stack
from offline.stack_inputs import load_stack_inputs

from .conftest import BACKOFF_SECONDS, CLIENT_TIMEOUT_SECONDS, MASTER_KEY, make_tls_files

PROJECT = "litellm-gateway"
ENV_NAMES = (
    connection.ADMIN_URL_ENV,
    connection.MASTER_KEY_ENV,
    connection.CA_BUNDLE_ENV,
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
)


@pytest.fixture
def clean(monkeypatch):
    connection.forget_stack_config()
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(connection.TIMEOUT_ENV, str(CLIENT_TIMEOUT_SECONDS))
    monkeypatch.setenv(connection.BACKOFF_ENV, str(BACKOFF_SECONDS))
    yield monkeypatch
    connection.forget_stack_config()


def engine_config(stack: str, **overrides) -> dict[str, str]:
    """The stack config as the engine hands it to Configure (and the mocked program run holds it):
    namespaced keys, objects as JSON text, secrets as plain strings."""
    inputs = load_stack_inputs(stack, secrets={"masterKey": MASTER_KEY}, overrides=overrides)
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in inputs.config.items()}


def configure(config: dict[str, str]) -> None:
    TeamProvider().configure(ConfigureRequest(Config(config, project_name=PROJECT)))


# --- the admin URL ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "stack, expected",
    [("dev", "https://litellm.hx.dev.local:4000"), ("local", "https://127.0.0.1:4000")],
)
def test_without_admin_url_the_url_is_derived_as_the_program_does(stack, expected, clean):
    run = run_stack(stack, secrets={"masterKey": MASTER_KEY})
    program_config = {k: v if isinstance(v, str) else json.dumps(v) for k, v in run.inputs.config.items()}
    assert f"{PROJECT}:adminUrl" not in program_config
    assert isinstance(program_config[f"{PROJECT}:litellm"], str)  # JSON text, as the engine passes it
    assert run.outputs["base_url"] == expected  # what the program exports as Gateway.base_url...

    configure(program_config)
    endpoint = connection.admin_endpoint()
    assert endpoint.base_url == expected  # ...is where the providers go
    assert endpoint.master_key == MASTER_KEY


def test_base_url_delegates_to_the_shared_function():
    settings = load_stack_inputs("dev").settings()
    assert base_url(settings) == gateway_base_url(settings.litellm, settings.tls.enabled, settings.domain)
    assert base_url(settings, "hx-litellm-server") == "https://hx-litellm-server.hx.dev.local:4000"
    plain = settings.tls.model_copy(update={"enabled": False})
    assert gateway_base_url(settings.litellm, plain.enabled, settings.domain) == "http://litellm.hx.dev.local:4000"
    local = load_stack_inputs("local").settings()
    other_bind = local.litellm.model_copy(update={"bind_host": "10.1.2.3", "port": 4443})
    assert gateway_base_url(other_bind, True, "ignored.example") == "https://10.1.2.3:4443"


def test_admin_url_overrides_the_derived_url_and_the_environment_sits_between(clean):
    config = engine_config("dev")
    clean.setenv(connection.ADMIN_URL_ENV, "https://from-env.example:4443")
    configure({**config, f"{PROJECT}:adminUrl": "https://tunnel.example:14000"})
    assert connection.admin_endpoint().base_url == "https://tunnel.example:14000"

    connection.forget_stack_config()
    configure(config)
    assert connection.admin_endpoint().base_url == "https://from-env.example:4443"
    clean.delenv(connection.ADMIN_URL_ENV)
    assert connection.admin_endpoint().base_url == "https://litellm.hx.dev.local:4000"


def test_structured_config_given_as_objects_works_too(clean):
    config = {k: json.loads(v) if v[:1] == "{" else v for k, v in engine_config("local").items()}
    assert isinstance(config[f"{PROJECT}:litellm"], dict)
    configure(config)
    assert connection.admin_endpoint().base_url == "https://127.0.0.1:4000"


@pytest.mark.parametrize(
    "litellm, expected",
    [
        (
            json.dumps({"deploy": "ssh", "port": "four thousand", "hosts": [], "colour": "blue"}),
            [
                "stack config `litellm-gateway:litellm` is invalid",
                "litellm-gateway:litellm.port: Input should be a valid integer",
                "litellm-gateway:litellm.hosts: List should have at least 1 item",
                "litellm-gateway:litellm.colour: Extra inputs are not permitted",
            ],
        ),
        ("{deploy: local", ["stack config `litellm-gateway:litellm` is not valid JSON", "line 1, column 2"]),
        (json.dumps(["local"]), ["litellm-gateway:litellm: Input should be a valid dictionary"]),
    ],
)
def test_a_malformed_litellm_section_is_a_clear_error_naming_the_key(litellm, expected, clean, emulator):
    config = {**engine_config("dev"), f"{PROJECT}:litellm": litellm}
    configure(config)
    with pytest.raises(connection.AdminSettingsInvalid) as raised:
        connection.admin_endpoint()
    message = str(raised.value)
    assert message.startswith("cannot derive the LiteLLM admin URL")
    for part in expected:
        assert part in message, message
    assert "litellm-gateway:adminUrl" in message  # the way out
    assert MASTER_KEY not in message and "four thousand" not in message  # no input echoed

    # Through a provider: the create fails before any request.
    clean.setenv(connection.ADMIN_URL_ENV, "")
    with pytest.raises(connection.AdminSettingsInvalid):
        TeamProvider().create({"team_id": "team-a"})
    assert emulator.count() == 0

    # The override makes the malformed section irrelevant.
    configure({**config, f"{PROJECT}:adminUrl": emulator.base_url})
    assert TeamProvider().create({"team_id": "team-a"}).id == "team-a"


def test_malformed_tls_or_domain_and_a_missing_domain_are_named(clean):
    config = engine_config("dev")
    configure({**config, f"{PROJECT}:tls": json.dumps({"enabled": "sometimes"})})
    with pytest.raises(connection.AdminSettingsInvalid, match=r"litellm-gateway:tls\.enabled: Input should be a valid boolean"):
        connection.admin_endpoint()

    connection.forget_stack_config()
    configure({**config, f"{PROJECT}:domain": "Not A Domain"})
    with pytest.raises(connection.AdminSettingsInvalid, match="stack config `litellm-gateway:domain` is invalid"):
        connection.admin_endpoint()

    connection.forget_stack_config()
    configure({k: v for k, v in config.items() if k != f"{PROJECT}:domain"})
    with pytest.raises(connection.AdminSettingsInvalid, match="`litellm-gateway:domain` is missing"):
        connection.admin_endpoint()

    # A local deploy does not need the domain (it is reached on 127.0.0.1).
    connection.forget_stack_config()
    local = engine_config("local")
    configure({k: v for k, v in local.items() if k != f"{PROJECT}:domain"})
    assert connection.admin_endpoint().base_url == "https://127.0.0.1:4000"


def test_without_litellm_section_or_override_the_settings_are_missing(clean):
    configure({f"{PROJECT}:masterKey": MASTER_KEY, f"{PROJECT}:environment": "dev"})
    with pytest.raises(connection.AdminSettingsMissing) as raised:
        connection.admin_endpoint()
    for option in ("litellm-gateway:litellm", "litellm-gateway:adminUrl", connection.ADMIN_URL_ENV):
        assert option in str(raised.value)


def test_the_gateway_gives_every_admin_resource_its_ca_bundle(clean):
    run = run_stack("local", secrets={"masterKey": MASTER_KEY})
    admin = [r for r in run.resources if r.type.startswith("pulumi-python:dynamic/litellm:")]
    assert admin
    assert run.outputs["ca_bundle_pem"].startswith("-----BEGIN CERTIFICATE-----")  # the in-stack CA
    for resource in admin:
        assert resource.inputs[specs.CA_BUNDLE_FIELD] == run.outputs["ca_bundle_pem"], resource.name
        assert specs.CA_BUNDLE_FIELD not in resource.secret_inputs

    plain = run_stack("local", secrets={"masterKey": MASTER_KEY}, overrides={"tls": {"enabled": False}})
    assert "ca_bundle_pem" not in plain.outputs
    admin = [r for r in plain.resources if r.type.startswith("pulumi-python:dynamic/litellm:")]
    assert admin and all(r.inputs.get(specs.CA_BUNDLE_FIELD) is None for r in admin)


# --- TLS trust -----------------------------------------------------------------------------------------


def https_env(clean, tls_emulator) -> None:
    clean.setenv(connection.ADMIN_URL_ENV, tls_emulator.base_url)
    clean.setenv(connection.MASTER_KEY_ENV, tls_emulator.master_key)


def test_create_read_update_delete_over_https_with_the_resource_ca(clean, tls_emulator, stack_ca):
    https_env(clean, tls_emulator)
    provider = TeamProvider()
    inputs = {"team_id": "team-tls", "max_budget": 5, specs.CA_BUNDLE_FIELD: stack_ca.ca_pem, "__provider": "x"}
    assert provider.check({}, inputs).failures == []
    created = provider.create(inputs)
    assert created.id == "team-tls" and "team-tls" in tls_emulator.teams
    assert created.outs[specs.CA_BUNDLE_FIELD] == stack_ca.ca_pem  # kept for refresh and delete
    read = provider.read("team-tls", created.outs)
    assert read.id == "team-tls" and read.outs == created.outs
    updated = provider.update("team-tls", created.outs, {**inputs, "max_budget": 7})
    assert tls_emulator.teams["team-tls"]["max_budget"] == 7 and updated.outs["max_budget"] == 7
    provider.delete("team-tls", updated.outs)
    assert "team-tls" not in tls_emulator.teams

    key_provider = VirtualKeyProvider()
    key = key_provider.create({"key_alias": "tls-key", "owner": "p/s/k", specs.CA_BUNDLE_FIELD: stack_ca.ca_pem})
    assert key.id in tls_emulator.keys
    assert key_provider.read(key.id, key.outs).id == key.id

    model_provider = ModelProvider()
    model_inputs = {
        "model_id": "tls-model",
        "model_name": "llama3.2",
        "litellm_params": {"model": "ollama_chat/llama3.2", "api_base": "http://127.0.0.1:11434"},
        specs.CA_BUNDLE_FIELD: stack_ca.ca_pem,
    }
    model = model_provider.create(model_inputs)
    assert model.id in tls_emulator.models
    assert model_provider.read(model.id, model.outs).id == model.id

    # The CA is never sent to the API.
    assert tls_emulator.access_log
    for entry in tls_emulator.access_log:
        assert "BEGIN CERTIFICATE" not in entry["body"] + entry["query"], entry["path"]


def test_without_the_ca_the_call_fails_with_a_clear_certificate_error(clean, tls_emulator):
    https_env(clean, tls_emulator)
    with pytest.raises(AdminApiError) as raised:
        TeamProvider().create({"team_id": "team-untrusted"})
    error = raised.value
    message = str(error)
    assert error.status is None
    assert f"TLS certificate verification failed for {tls_emulator.base_url}" in message
    # OpenSSL's reason, e.g. "(self-signed certificate in certificate chain)"
    assert re.search(r"verification failed for https://127\.0\.0\.1:\d+ \([^)]*certificate[^)]*\)", message), message
    assert "trusting the system trust store" in message
    assert "ca_bundle_pem" in message and connection.CA_BUNDLE_ENV in message  # how to fix it
    assert tls_emulator.master_key not in message and "gave up" not in message  # not retried
    assert tls_emulator.count() == 0 and "team-untrusted" not in tls_emulator.teams


def test_a_certificate_error_is_not_retried(clean, tls_emulator, monkeypatch):
    https_env(clean, tls_emulator)
    attempts = []
    original = requests.Session.request

    def counting(self, *args, **kwargs):
        attempts.append(kwargs.get("verify"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "request", counting)
    with pytest.raises(AdminApiError, match="TLS certificate verification failed"):
        client.get_team(connection.admin_endpoint(), "team-a")
    assert attempts == [True]


def test_another_ca_or_another_name_fails_verification(clean, tls_emulator, tmp_path):
    https_env(clean, tls_emulator)
    other = make_tls_files(tmp_path / "other", ca_name="Some Other CA")
    with pytest.raises(AdminApiError) as raised:
        TeamProvider().create({"team_id": "t", specs.CA_BUNDLE_FIELD: other.ca_pem})
    assert "TLS certificate verification failed" in str(raised.value)
    assert "trusting the resource's ca_bundle_pem" in str(raised.value)

    # Right CA, wrong name: the hostname is checked too.
    from tests.support.admin_emulator import AdminEmulator

    wrong_name = make_tls_files(tmp_path / "wrong-name", ip_addresses=(), dns_names=("proxy.example",))
    with AdminEmulator(master_key=MASTER_KEY, tls_files=(wrong_name.chain_file, wrong_name.key_file)) as server:
        endpoint = AdminEndpoint(server.base_url, MASTER_KEY, timeout=CLIENT_TIMEOUT_SECONDS, ca_bundle_pem=wrong_name.ca_pem)
        with pytest.raises(AdminApiError) as raised:
            client.get_team(endpoint, "t")
        assert "mismatch" in str(raised.value).lower(), str(raised.value)
        assert server.count() == 0


def test_the_environment_ca_bundle_is_trusted_with_the_resource_ca(clean, tls_emulator, stack_ca, tmp_path):
    https_env(clean, tls_emulator)
    bundle = tmp_path / "bundle.pem"
    bundle.write_text(stack_ca.ca_pem)
    clean.setenv(connection.CA_BUNDLE_ENV, str(bundle))
    assert TeamProvider().create({"team_id": "team-env"}).id == "team-env"

    # The resource's CA and the environment's are trusted together: after a CA renewal the engine
    # still hands read/delete the OLD CA from state, and the env bundle bridges that.
    other = make_tls_files(tmp_path / "other", ca_name="Some Other CA")
    renewed = TeamProvider().create({"team_id": "team-x", specs.CA_BUNDLE_FIELD: other.ca_pem})
    assert renewed.id == "team-x"
    assert TeamProvider().read("team-x", renewed.outs).id == "team-x"
    # ...and neither alone is needed to be right: a good resource CA works with a wrong file here.
    bundle.write_text(other.ca_pem)
    assert TeamProvider().create({"team_id": "team-res", specs.CA_BUNDLE_FIELD: stack_ca.ca_pem}).id == "team-res"
    # Both wrong: refused, and the message names both sources.
    with pytest.raises(AdminApiError, match=f"trusting the resource's ca_bundle_pem and {connection.CA_BUNDLE_ENV}"):
        TeamProvider().create({"team_id": "team-w", specs.CA_BUNDLE_FIELD: other.ca_pem})
    with pytest.raises(AdminApiError, match=f"trusting the CA bundle in {connection.CA_BUNDLE_ENV}"):
        TeamProvider().create({"team_id": "team-y"})

    clean.setenv(connection.CA_BUNDLE_ENV, str(tmp_path / "missing.pem"))
    with pytest.raises(AdminTrustError, match=f"{connection.CA_BUNDLE_ENV} names no readable file"):
        TeamProvider().create({"team_id": "team-z"})


def test_requests_ca_bundle_cannot_replace_the_resource_ca(clean, tls_emulator, stack_ca, tmp_path):
    https_env(clean, tls_emulator)
    other = make_tls_files(tmp_path / "other", ca_name="Some Other CA")
    wrong = tmp_path / "wrong.pem"
    wrong.write_text(other.ca_pem)
    clean.setenv("REQUESTS_CA_BUNDLE", str(wrong))
    assert TeamProvider().create({"team_id": "team-a", specs.CA_BUNDLE_FIELD: stack_ca.ca_pem}).id == "team-a"


def test_the_ca_goes_to_a_private_temporary_file_that_is_removed(clean, tls_emulator, stack_ca, tmp_path, monkeypatch):
    https_env(clean, tls_emulator)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    seen = []
    original = requests.Session.request

    def looking(self, *args, **kwargs):
        path = kwargs["verify"]
        seen.append((os.path.dirname(path), stat.S_IMODE(os.stat(path).st_mode), open(path).read()))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "request", looking)
    TeamProvider().create({"team_id": "team-a", specs.CA_BUNDLE_FIELD: stack_ca.ca_pem})
    assert seen and all(entry == (str(scratch), 0o600, stack_ca.ca_pem) for entry in seen)
    assert list(scratch.iterdir()) == []

    # Also after a failure.
    seen.clear()
    with pytest.raises(AdminApiError):
        TeamProvider().create({"team_id": "team-a", specs.CA_BUNDLE_FIELD: stack_ca.ca_pem})  # 400: exists
    assert seen and list(scratch.iterdir()) == []


def test_a_ca_that_is_not_pem_is_refused_before_anything_is_sent(clean, tls_emulator):
    https_env(clean, tls_emulator)
    placeholder = "-----BEGIN CERTIFICATE-----\nnot-base64-at-all\n-----END CERTIFICATE-----\n"
    with pytest.raises(AdminTrustError, match="ca_bundle_pem is not a usable PEM CA certificate bundle"):
        TeamProvider().create({"team_id": "team-a", specs.CA_BUNDLE_FIELD: placeholder})
    assert tls_emulator.count() == 0


def test_over_plain_http_the_ca_is_not_used(clean, emulator, stack_ca):
    clean.setenv(connection.ADMIN_URL_ENV, emulator.base_url)
    clean.setenv(connection.MASTER_KEY_ENV, emulator.master_key)
    placeholder = "-----BEGIN CERTIFICATE-----\nnot-base64-at-all\n-----END CERTIFICATE-----\n"
    assert TeamProvider().create({"team_id": "team-a", specs.CA_BUNDLE_FIELD: placeholder}).id == "team-a"


# --- the CA as an input: allowed, never a change --------------------------------------------------------

CASES = {
    "model": (
        ModelProvider,
        {"model_id": "m-1", "model_name": "llama3.2", "litellm_params": {"model": "ollama_chat/llama3.2"}},
    ),
    "team": (TeamProvider, {"team_id": "team-a", "max_budget": 5}),
    "key": (VirtualKeyProvider, {"key_alias": "svc", "owner": "p/s/k", "token": "t" * 64, "key": "sk-x"}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_check_allows_the_ca_and_refuses_what_is_not_pem(case, stack_ca):
    provider_class, props = CASES[case]
    news = {k: v for k, v in props.items() if k not in ("token", "key")}
    assert provider_class().check({}, {**news, specs.CA_BUNDLE_FIELD: stack_ca.ca_pem}).failures == []
    failures = provider_class().check({}, {**news, specs.CA_BUNDLE_FIELD: "/etc/ssl/ca.pem"}).failures
    assert [(f.property, "PEM" in f.reason) for f in failures] == [(specs.CA_BUNDLE_FIELD, True)]


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_ca_change_alone_is_an_update_that_sends_nothing(case, stack_ca, tmp_path):
    """A CA change (a rotation, or the CA added or removed) is an update, never a replace: the engine
    hands delete and refresh only the state, which must hold the CA the proxy is verified with now.
    The update sends nothing (an emulator that refuses every request stands in for the proxy)."""
    provider_class, props = CASES[case]
    other = make_tls_files(tmp_path / "other", ca_name="Renewed CA")
    olds = {**props, specs.CA_BUNDLE_FIELD: stack_ca.ca_pem}
    for new_ca in (other.ca_pem, None):
        news = {k: v for k, v in {**props, specs.CA_BUNDLE_FIELD: new_ca}.items() if v is not None and k not in ("token", "key")}
        diff = provider_class().diff("id", olds, news)
        assert (diff.changes, diff.replaces) == (True, []), (case, diff)
        spec_diff = {"model": specs.diff_model, "team": specs.diff_team, "key": specs.diff_key}[case](olds, news)
        assert spec_diff.changed == [specs.CA_BUNDLE_FIELD], (case, spec_diff)
    # Adding one where there was none: an update too; the same CA (whitespace aside): no change.
    news = {k: v for k, v in olds.items() if k not in ("token", "key")}
    assert provider_class().diff("id", props, news).changes is True
    same = {**news, specs.CA_BUNDLE_FIELD: stack_ca.ca_pem.rstrip("\n") + "\n\n"}
    assert provider_class().diff("id", olds, same).changes is False


def test_a_ca_only_update_sends_nothing_and_keeps_the_new_ca(stack_ca, tmp_path, monkeypatch):
    """The update of a CA change alone makes no admin call (none is needed: nothing of the object
    changed) and returns the new CA as state."""
    from components.litellm_admin import client as admin_client

    other = make_tls_files(tmp_path / "other", ca_name="Renewed CA")

    def refuse(*args, **kwargs):
        raise AssertionError(f"an admin call for a CA change alone: {args[:2]}")

    for name in ("update_team", "update_key", "update_model", "get_team", "get_key", "get_model"):
        monkeypatch.setattr(admin_client, name, refuse)
    monkeypatch.setenv("LITELLM_GATEWAY_ADMIN_URL", "https://127.0.0.1:9")  # (never reached)
    monkeypatch.setenv("LITELLM_GATEWAY_MASTER_KEY", "sk-never-sent")
    for case in sorted(CASES):
        provider_class, props = CASES[case]
        olds = {**props, specs.CA_BUNDLE_FIELD: stack_ca.ca_pem}
        news = {k: v for k, v in {**props, specs.CA_BUNDLE_FIELD: other.ca_pem}.items() if k not in ("token", "key")}
        outs = provider_class().update("id", olds, news).outs
        assert outs[specs.CA_BUNDLE_FIELD] == other.ca_pem, case


# --- a stack whose DNS records are not written by the stack (dns.enabled: false) --------------------


def _dev_without_dns(port: int, address: str = "127.0.0.1", **more) -> dict[str, str]:
    dev = load_stack_inputs("dev").settings()
    litellm = {**dev.litellm.model_dump(mode="json", exclude_unset=True), "port": port,
               "hosts": [{**dev.litellm.hosts[0].model_dump(mode="json", exclude_unset=True), "address": address}]}
    return engine_config("dev", dns={"enabled": False}, litellm=litellm, **more)


@pytest.mark.parametrize(
    "stack, overrides, address",
    [
        ("dev", {}, None),  # DNS written by the stack: resolve the name
        ("dev", {"dns": {"enabled": False}}, "192.168.10.20"),  # the first host's address
        ("dev-ha", {"dns": {"enabled": False}}, "192.168.10.30"),  # the front door's
        ("local", {}, None),
        ("kube", {}, None),  # the Ingress: not the stack's to know
    ],
)
def test_without_dns_the_providers_connect_to_the_address_the_name_will_have(stack, overrides, address, clean):
    configure(engine_config(stack, **overrides))
    endpoint = connection.admin_endpoint()
    assert endpoint.connect_address == address
    assert endpoint.base_url == base_url(load_stack_inputs(stack, overrides=overrides).settings())  # the URL keeps the name


def test_an_admin_url_override_is_used_as_it_is(clean):
    configure({**engine_config("dev", dns={"enabled": False}), f"{PROJECT}:adminUrl": "https://127.0.0.1:9999"})
    assert connection.admin_endpoint().connect_address is None


def test_before_the_records_exist_the_first_up_reaches_the_proxy_and_verifies_its_name(clean, tmp_path):
    """The proxy's certificate names only litellm.hx.dev.local (no IP): the call connects to the
    host's address (127.0.0.1 here) and speaks TLS to the name, which nothing resolves."""
    from tests.support.admin_emulator import AdminEmulator

    named = make_tls_files(tmp_path / "named", ip_addresses=(), dns_names=("litellm.hx.dev.local",))
    with AdminEmulator(master_key=MASTER_KEY, tls_files=(named.chain_file, named.key_file)) as server:
        port = int(server.base_url.rsplit(":", 1)[1])
        configure(_dev_without_dns(port))
        endpoint = connection.admin_endpoint()
        assert endpoint.base_url == f"https://litellm.hx.dev.local:{port}" and endpoint.connect_address == "127.0.0.1"
        created = TeamProvider().create({"team_id": "before-dns", specs.CA_BUNDLE_FIELD: named.ca_pem})
        assert created.id == "before-dns"
        assert server.count("POST", "/team/new") == 1
        assert {e["headers"]["host"] for e in server.access_log} == {f"litellm.hx.dev.local:{port}"}

    # the name is still what is verified: a certificate for another name is refused
    other = make_tls_files(tmp_path / "other-name", ip_addresses=("127.0.0.1",), dns_names=("proxy.example",))
    with AdminEmulator(master_key=MASTER_KEY, tls_files=(other.chain_file, other.key_file)) as server:
        configure(_dev_without_dns(int(server.base_url.rsplit(":", 1)[1])))
        with pytest.raises(AdminApiError) as raised:
            TeamProvider().create({"team_id": "t", specs.CA_BUNDLE_FIELD: other.ca_pem})
        assert "TLS certificate verification failed for https://litellm.hx.dev.local:" in str(raised.value)
        assert "mismatch" in str(raised.value).lower(), str(raised.value)
        assert server.count() == 0


def test_before_the_records_exist_plain_http_sends_the_name_as_host(clean, emulator):
    port = int(emulator.base_url.rsplit(":", 1)[1])
    configure(_dev_without_dns(port, tls={"enabled": False, "allow_plaintext": True}))
    assert connection.admin_endpoint().base_url == f"http://litellm.hx.dev.local:{port}"
    assert TeamProvider().create({"team_id": "plain"}).id == "plain"
    assert {e["headers"]["host"] for e in emulator.access_log} == {f"litellm.hx.dev.local:{port}"}
