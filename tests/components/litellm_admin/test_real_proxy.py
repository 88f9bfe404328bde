"""Model, Team and VirtualKey on the REAL pinned LiteLLM proxy with its database, driven through Pulumi's
dynamic-provider host (`python -m pulumi.dynamic`) exactly as the engine drives them.

The proxy (tests/support/real_proxy.py) runs with a fresh migrated PostgreSQL database and
`STORE_MODEL_IN_DB=True`, no model in its config: every model comes from the Model provider.

* `test_lifecycle_on_the_real_proxy_matches_the_emulator`: one scenario -- create, refresh, every field
  updated (a model rename included), import, a team move that also narrows the key, a rejected
  `budget_duration: 0d`, rotation with a grace window, removal, delete of something already gone -- run
  against the emulator and against the real proxy; the observable results (provider outputs, diffs,
  errors' statuses, the objects as the admin API shows them) must be the same. Real-only checks ride
  along: the keys answer chat requests (old key during grace, new key at once), a removed key is refused.
* a worker that has not reloaded its models (a second proxy on the same database with a long reload
  interval) answers /v2/model/info with an empty page: the provider does not drop the model.
* the probe the client relies on (`POST /model/update` without litellm_params) is side-effect free and
  answers as the client expects; model updates keep `model_info.id` in the stored row.
* a rotated-out key stops by LiteLLM's own expiry when its grace is over.

The emulator stays for the faults a real server cannot be made to produce on demand (5xx after a write,
429, dropped connections, timeouts: test_*_provider.py, test_through_engine_host.py).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

import pytest

from components.litellm_admin import client, connection
from components.litellm_admin.client import AdminEndpoint, token_of
from components.litellm_admin.model_provider import ModelProvider
from components.litellm_admin.team_provider import TeamProvider
from components.litellm_admin.virtual_key_provider import VirtualKeyProvider, retiring_alias
from components.litellm_admin.values import parse_timestamp
from tests.support.admin_emulator import AdminEmulator
from tests.support.dynamic_host import PROVIDER_KEY, DynamicProviderHost, ProviderError, Secret, dynamic_type_token, dynamic_urn, pickle_provider
from tests.support.real_proxy import RealProxy, wait_until
from tests.support.real_proxy_fixtures import real_proxy_factory  # noqa: F401

from .test_through_engine_host import PROJECT_DIR

MODEL_TYPE = dynamic_type_token("litellm", "Model")
TEAM_TYPE = dynamic_type_token("litellm", "Team")
KEY_TYPE = dynamic_type_token("litellm", "VirtualKey")
PROVIDERS = {MODEL_TYPE: ModelProvider(), TEAM_TYPE: TeamProvider(), KEY_TYPE: VirtualKeyProvider()}

# No model in the config: every model is the Model provider's (STORE_MODEL_IN_DB). A short key cache so
# a change reaches the other worker quickly (each worker caches keys for user_api_key_cache_ttl).
PROXY_CONFIG = {
    "model_list": [],
    "general_settings": {"master_key": "os.environ/LITELLM_MASTER_KEY", "store_model_in_db": True, "user_api_key_cache_ttl": 1,
                         # workers converge on model changes within seconds (the lag itself: see below)
                         "proxy_config_reload_interval_seconds": 5},
}
# Several workers on a loaded machine: uvicorn kills a worker that has not answered its health check
# within 5 s, and importing LiteLLM takes longer than that here (every worker then dies in a loop).
PROXY_ENV = {"STORE_MODEL_IN_DB": "True", "TIMEOUT_WORKER_HEALTHCHECK": "600"}


@dataclass
class Backend:
    name: str
    base_url: str
    master_key: str

    def endpoint(self) -> AdminEndpoint:
        return AdminEndpoint(base_url=self.base_url, master_key=self.master_key, timeout=60.0, backoff_seconds=0.2)


@pytest.fixture(scope="module")
def real_backend(real_proxy_factory) -> tuple[Backend, RealProxy]:  # noqa: F811
    # One worker: the lag between workers is staged deterministically below (two proxies, one database).
    proxy = real_proxy_factory.start(config=PROXY_CONFIG, env=PROXY_ENV, name="providers", startup_timeout=900)
    return Backend("real", proxy.base_url, proxy.master_key), proxy


@pytest.fixture
def emulator_backend():
    with AdminEmulator(master_key="sk-emulator-differential-0123") as emulator:
        yield Backend("emulator", emulator.base_url, emulator.master_key), emulator


def start_host(backend: Backend, monkeypatch) -> DynamicProviderHost:
    for name in (connection.ADMIN_URL_ENV, connection.MASTER_KEY_ENV, connection.CA_BUNDLE_ENV, "REQUESTS_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    host = DynamicProviderHost(str(PROJECT_DIR), {connection.BACKOFF_ENV: "0.2", connection.TIMEOUT_ENV: "60"}).start()
    host.configure(
        {
            "litellm-gateway:adminUrl": backend.base_url,
            "litellm-gateway:masterKey": Secret(backend.master_key),
            "litellm-gateway:environment": "dev",
        }
    )
    return host


class Driver:
    """The engine's side for one resource at a time: Check, Diff, Create, Read, Update, Delete, with
    the state (outputs) and inputs it would keep."""

    def __init__(self, host: DynamicProviderHost, type_token: str, name: str) -> None:
        self.host = host
        self.type = type_token
        self.urn = dynamic_urn("dev", "litellm-gateway", type_token, name)
        self.provider = pickle_provider(PROVIDERS[type_token])
        self.id: Optional[str] = None
        self.outs: dict = {}
        self.inputs: dict = {}

    def _engine(self, props: dict) -> dict:
        return {**{k: v for k, v in props.items() if v is not None}, PROVIDER_KEY: self.provider}

    def check(self, props: dict) -> dict:
        checked, failures = self.host.check(self.urn, self.inputs, self._engine(props))
        assert failures == [], failures
        return checked

    def create(self, props: dict) -> dict:
        checked = self.check(props)
        self.id, self.outs = self.host.create(self.urn, checked)
        self.inputs = checked
        return own(self.outs)

    def diff(self, props: dict):
        return self.host.diff(self.id, self.urn, self.outs, self.check(props), old_inputs=self.inputs)

    def read(self) -> tuple[Optional[str], dict]:
        read_id, outs, inputs = self.host.read(self.id, self.urn, self.outs, self.inputs)
        if read_id is not None:
            self.outs, self.inputs = outs, {**inputs, PROVIDER_KEY: self.provider}
        return read_id, own(outs)

    def update(self, props: dict) -> dict:
        checked = self.check(props)
        self.outs = self.host.update(self.id, self.urn, self.outs, checked, old_inputs=self.inputs)
        self.inputs = checked
        return own(self.outs)

    def replace(self, props: dict) -> "Driver":
        """Create-before-delete, as the engine does for a replacement that is not delete-first."""
        successor = Driver(self.host, self.type, self.urn.rsplit("::", 1)[1])
        successor.create(props)
        self.delete()
        return successor

    def delete(self) -> None:
        self.host.delete(self.id, self.urn, self.outs, old_inputs=self.inputs)

    def import_(self, id_: str) -> tuple[Optional[str], dict]:
        """`pulumi import`: Read with only the id (and the provider) known."""
        read_id, outs, inputs = self.host.read(id_, self.urn, {PROVIDER_KEY: self.provider}, {PROVIDER_KEY: self.provider})
        return read_id, own(outs)


def own(props: dict) -> dict:
    return {k: (v.value if isinstance(v, Secret) else v) for k, v in props.items() if k != PROVIDER_KEY}


def failure_status(error: ProviderError) -> Optional[int]:
    match = re.search(r"failed \(HTTP (\d{3})\)", error.details)
    return int(match.group(1)) if match else None


# --------------------------------------------------------------------------------------------------
# The scenario, the same for both backends
# --------------------------------------------------------------------------------------------------


def scenario(backend: Backend, host: DynamicProviderHost, suffix: str, real_checks: Optional[Callable[[str, dict], None]] = None) -> list:
    """Returns the observations both backends must agree on. `real_checks(step, facts)` runs checks only
    the real proxy can answer (chat with a key)."""
    endpoint = backend.endpoint()
    seen: list = []
    note = seen.append
    mock = lambda text: {"model": "openai/gpt-4o-mini", "mock_response": text}  # noqa: E731

    # ---- models ----------------------------------------------------------------------------------
    model_a = Driver(host, MODEL_TYPE, "model-a")
    model_b = Driver(host, MODEL_TYPE, "model-b")
    name_a, name_b = f"pub-a-{suffix}", f"pub-b-{suffix}"
    a_inputs = {"model_id": f"ma-{suffix}", "model_name": name_a, "litellm_params": {**mock("from a"), "rpm": 60}, "model_info": {"owner_team": "gold"}}
    note(("model create", model_a.create(a_inputs) == {**a_inputs}))
    note(("model create", model_b.create({"model_id": f"mb-{suffix}", "model_name": name_b, "litellm_params": mock("from b")}) is not None))
    note(("model read", model_a.read() == (a_inputs["model_id"], a_inputs)))
    note(("model diff unchanged", model_a.diff(a_inputs).changes))

    # ---- teams -----------------------------------------------------------------------------------
    team_old, team_new = Driver(host, TEAM_TYPE, "team-old"), Driver(host, TEAM_TYPE, "team-new")
    old_inputs = {"team_id": f"old-{suffix}", "team_alias": f"Old {suffix}", "models": [name_a, name_b], "max_budget": 100, "budget_duration": "30d", "rpm_limit": 600, "tpm_limit": 100000, "metadata": {"owner": "x"}}
    new_inputs = {"team_id": f"new-{suffix}", "models": [name_a], "tpm_limit": 1000}
    team_old.create(old_inputs)
    team_new.create(new_inputs)
    note(("team read", team_old.read()[1] == old_inputs))
    try:
        Driver(host, TEAM_TYPE, "team-bad").create({"team_id": f"bad-{suffix}", "budget_duration": "0d"})
        note(("team 0d", "accepted"))
    except ProviderError as error:
        note(("team 0d", failure_status(error)))

    # ---- key -------------------------------------------------------------------------------------
    key = Driver(host, KEY_TYPE, "key")
    owner = f"litellm-gateway/dev/key-{suffix}"
    expires = "2031-01-01T00:00:00Z"
    k_inputs = {"key_alias": f"k-{suffix}", "team_id": team_old.id, "models": [name_a, name_b], "max_budget": 10, "budget_duration": "30d", "rpm_limit": 60, "tpm_limit": 5000, "expires": expires, "metadata": {"service": "svc"}, "rotation_trigger": "p1", "rotation_grace": "1h", "owner": owner}
    created = key.create(k_inputs)
    raw_first = created["key"]
    note(("key create", {k: v for k, v in created.items() if k not in ("key", "token")} == k_inputs, created["token"] == token_of(raw_first) == key.id))
    note(("key read", key.read()[1] == created))
    if real_checks:
        real_checks("key created", {"key": raw_first, "model": name_a})

    # Every field of the team, and of the model (a rename included), updated in place.
    renamed_a = f"pub-a2-{suffix}"
    a_changed = {**a_inputs, "model_name": renamed_a, "litellm_params": {**mock("from a, renamed"), "rpm": 120}, "model_info": {"owner_team": "silver"}}
    note(("model diff", (lambda d: (d.changes, d.replaces))(model_a.diff(a_changed))))
    model_a.update(a_changed)
    row = client.get_model(endpoint, a_inputs["model_id"])
    note(("model row", row["model_name"], row["model_info"]["id"], row["model_info"]["owner_team"], row["litellm_params"].get("rpm")))
    # LiteLLM rewrote the allowlists that named the old public name.
    note(("rename sync", sorted(client.get_team(endpoint, team_old.id)["models"]), sorted(client.get_key(endpoint, key.id)["models"])))
    old_changed = {**old_inputs, "team_alias": f"Old2 {suffix}", "models": [renamed_a, name_b], "max_budget": 200, "budget_duration": "7d", "rpm_limit": 300, "tpm_limit": 50000, "metadata": {"owner": "y"}}
    team_old.update(old_changed)
    note(("team read after update", team_old.read()[1] == old_changed))
    new_changed = {**new_inputs, "models": [renamed_a]}
    team_new.update(new_changed)

    # Every key field: moved to the other team while narrowing models and lowering tpm below its limit.
    k_changed = {**k_inputs, "key_alias": f"k2-{suffix}", "team_id": team_new.id, "models": [renamed_a], "max_budget": 20, "budget_duration": "7d", "rpm_limit": 30, "tpm_limit": 800, "expires": "2032-06-30T00:00:00Z", "metadata": {"service": "svc", "repo": "r"}}
    note(("key diff", (lambda d: (d.changes, d.replaces))(key.diff(k_changed))))
    updated = key.update(k_changed)
    info = client.get_key(endpoint, key.id)
    note(("key row", info["key_alias"], info["team_id"] == team_new.id, info["models"], info["tpm_limit"], info["rpm_limit"], info["max_budget"], info["budget_duration"], abs((parse_timestamp(str(info["expires"])) - parse_timestamp("2032-06-30T00:00:00Z")).total_seconds()) < 600, info["metadata"]["repo"]))
    note(("key read after update", key.read()[1] == updated))
    if real_checks:
        real_checks("key moved", {"key": raw_first, "model": renamed_a})

    # Import: a Read with only the id.
    importer = Driver(host, TEAM_TYPE, "team-imported")
    imported_id, imported = importer.import_(team_new.id)
    note(("team import", imported_id == team_new.id, imported.get("team_id") == team_new.id))

    # Rotation with a grace window: the old key keeps working, the new one works at once.
    rotated = key.replace({**k_changed, "rotation_trigger": "p2"})
    raw_second = rotated.outs["key"].value if isinstance(rotated.outs["key"], Secret) else rotated.outs["key"]
    old_info, new_info = client.get_key(endpoint, key.id), client.get_key(endpoint, rotated.id)
    note(("rotation", old_info is not None, old_info["key_alias"] == retiring_alias(k_changed["key_alias"], key.id), new_info["key_alias"], new_info["team_id"] == team_new.id))
    grace_end = parse_timestamp(str(old_info["expires"]))
    note(("grace", 3000 < (grace_end - parse_timestamp(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))).total_seconds() <= 3700))
    if real_checks:
        real_checks("rotated", {"old": raw_first, "new": raw_second, "model": renamed_a})

    # Removal from the catalog: the key and its predecessor in grace are revoked at once.
    rotated.delete()
    note(("removed", client.get_key(endpoint, rotated.id), client.get_key(endpoint, key.id)))
    rotated.delete()  # already gone
    if real_checks:
        real_checks("removed", {"old": raw_first, "new": raw_second, "model": renamed_a})

    # Teardown, then delete of what is already gone.
    for driver in (team_new, team_old, model_a, model_b):
        driver.delete()
        driver.delete()
    note(("gone", client.get_team(endpoint, team_old.id), client.get_model(endpoint, a_inputs["model_id"]), client.get_model(endpoint, f"mb-{suffix}")))
    return seen


def test_lifecycle_on_the_real_proxy_matches_the_emulator(real_backend, emulator_backend, monkeypatch):
    real, proxy = real_backend
    emulated, _emulator = emulator_backend

    def real_checks(step: str, facts: dict) -> None:
        if step == "key created":
            # A worker serves a new model after its next reload (up to 30 s).
            wait_until(lambda: proxy.chat(facts["key"], facts["model"]).status_code == 200, timeout=90, what="new key answers")
        elif step == "key moved":
            # Narrowed to the renamed model, in its new team: it answers there (possibly after the other
            # worker's short key cache expired) and nowhere else.
            wait_until(lambda: proxy.chat(facts["key"], facts["model"]).status_code == 200, timeout=90, what="moved key answers")
        elif step == "rotated":
            # Both keys answer (the wait covers only a worker still reloading the renamed model).
            wait_until(lambda: proxy.chat(facts["new"], facts["model"]).status_code == 200, timeout=60, what="the new key answers")
            wait_until(lambda: proxy.chat(facts["old"], facts["model"]).status_code == 200, timeout=60, what="the old key answers in grace")
        elif step == "removed":
            wait_until(
                lambda: proxy.chat(facts["new"], facts["model"]).status_code == 401
                and proxy.chat(facts["old"], facts["model"]).status_code == 401,
                timeout=60,
                what="removed keys refused",
            )

    host = start_host(real, monkeypatch)
    try:
        on_real = scenario(real, host, "r", real_checks)
    finally:
        host.stop()
    host = start_host(emulated, monkeypatch)
    try:
        on_emulator = scenario(emulated, host, "r")
    finally:
        host.stop()

    # What the real proxy showed (the emulator must show the same):
    assert ("team 0d", 400) in on_real
    assert ("key diff", ("DIFF_SOME", [])) in on_real  # the team move is an in-place update in preview
    assert ("rename sync", ["pub-a2-r", "pub-b-r"], ["pub-a2-r", "pub-b-r"]) in on_real
    assert on_emulator == on_real


def test_probe_and_stored_model_id_on_the_real_proxy(real_backend, monkeypatch):
    real, proxy = real_backend
    monkeypatch.setenv(connection.ADMIN_URL_ENV, real.base_url)
    monkeypatch.setenv(connection.MASTER_KEY_ENV, real.master_key)
    connection.forget_stack_config()
    endpoint = real.endpoint()
    client.create_model(endpoint, {"model_name": "probe-m", "litellm_params": {"model": "openai/gpt-4o-mini", "mock_response": "x"}, "model_info": {"id": "probe-1", "mode": "chat"}})
    before = proxy.database.query('SELECT model_name, litellm_params::text, model_info::text, updated_at FROM "LiteLLM_ProxyModelTable" WHERE model_id = %s', ("probe-1",))
    with client._Call(endpoint) as call:
        assert client._model_in_database(call, "probe-1") is True
        assert client._model_in_database(call, "no-such-model") is False
    after = proxy.database.query('SELECT model_name, litellm_params::text, model_info::text, updated_at FROM "LiteLLM_ProxyModelTable" WHERE model_id = %s', ("probe-1",))
    assert before == after  # the probe wrote nothing

    # An update through the provider keeps the stored id; the raw API without it does not.
    params = {"model": "openai/gpt-4o-mini", "mock_response": "x"}
    ModelProvider().update(
        "probe-1",
        {"model_id": "probe-1", "model_name": "probe-m", "litellm_params": params, "model_info": {"mode": "chat"}},
        {"model_id": "probe-1", "model_name": "probe-m", "litellm_params": params, "model_info": {"mode": "completion"}},
    )
    stored = json.loads(proxy.database.query('SELECT model_info::text FROM "LiteLLM_ProxyModelTable" WHERE model_id = %s', ("probe-1",))[0][0])
    assert stored["id"] == "probe-1" and stored["mode"] == "completion"
    response = proxy.admin("PATCH", "/model/probe-1/update", {"model_info": {"mode": "chat"}})
    assert response.status_code == 200, response.text
    stored = json.loads(proxy.database.query('SELECT model_info::text FROM "LiteLLM_ProxyModelTable" WHERE model_id = %s', ("probe-1",))[0][0])
    assert stored["id"] != "probe-1"  # the divergence the provider avoids: a random id over the stored one
    client.delete_model(endpoint, "probe-1")


def test_model_new_that_cannot_be_served_on_the_real_proxy(real_backend, monkeypatch):
    real, proxy = real_backend
    monkeypatch.setenv(connection.ADMIN_URL_ENV, real.base_url)
    monkeypatch.setenv(connection.MASTER_KEY_ENV, real.master_key)
    connection.forget_stack_config()
    raw = proxy.admin("POST", "/model/new", {"model_name": "bad", "litellm_params": {"model": "nonexistent-provider/foo"}, "model_info": {"id": "bad-raw"}})
    assert raw.status_code == 500 and client.MODEL_SAVED_NOT_SERVED_MARKER in raw.text, raw.text
    client.delete_model(real.endpoint(), "bad-raw")
    with pytest.raises(client.AdminApiError) as failed:
        ModelProvider().create({"model_id": "bad-provider", "model_name": "bad", "litellm_params": {"model": "nonexistent-provider/foo"}})
    assert failed.value.status == 500 and "the saved row was removed again" in failed.value.message
    assert proxy.database.query('SELECT count(*) FROM "LiteLLM_ProxyModelTable" WHERE model_id = %s', ("bad-provider",)) == [(0,)]


def test_refresh_through_a_worker_that_has_not_reloaded(real_backend, real_proxy_factory, monkeypatch):  # noqa: F811
    """Two proxies on one database: the module's proxy (the writer) and a lagging one booted on its
    database, with its keys, that reloads only every 10 minutes, so its router never learns a model
    created after it booted: /v2/model/info answers it an empty page even for a modelId the database
    holds. The provider must not drop that model; a model that is really gone still goes."""
    _, writer = real_backend
    lagging = real_proxy_factory.start(
        config={"model_list": [], "general_settings": {"master_key": "os.environ/LITELLM_MASTER_KEY", "store_model_in_db": True, "proxy_config_reload_interval_seconds": 600}},
        env=PROXY_ENV, database=writer.database, name="lagging", startup_timeout=900,
        master_key=writer.master_key, salt_key=writer.salt_key,
    )
    try:
        write, read = Backend("writer", writer.base_url, writer.master_key).endpoint(), Backend("lagging", lagging.base_url, lagging.master_key).endpoint()
        client.create_model(write, {"model_name": "lag", "litellm_params": {"model": "openai/gpt-4o-mini", "mock_response": "x"}, "model_info": {"id": "lag-1"}})

        page = lagging.admin("GET", "/v2/model/info?modelId=lag-1").json()
        assert page["data"] == [] and page["total_count"] == 0  # the real divergence

        monkeypatch.setattr(client, "MODEL_VISIBILITY_WAIT_SECONDS", 1.0)
        with pytest.raises(client.ModelNotVisible):
            client.get_model(read, "lag-1")  # exists: an error, never "gone"
        assert client.get_model(read, "never-created") is None  # the database says it is gone
        assert client.get_model(write, "lag-1")["model_info"]["id"] == "lag-1"
        client.delete_model(write, "lag-1")
    finally:
        real_proxy_factory.stop(lagging)  # the database stays: it is the module proxy's


def test_rotated_out_key_stops_by_litellms_own_expiry(real_backend, monkeypatch):
    real, proxy = real_backend
    monkeypatch.setenv(connection.ADMIN_URL_ENV, real.base_url)
    monkeypatch.setenv(connection.MASTER_KEY_ENV, real.master_key)
    connection.forget_stack_config()
    endpoint = real.endpoint()
    client.create_model(endpoint, {"model_name": "exp-m", "litellm_params": {"model": "openai/gpt-4o-mini", "mock_response": "x"}, "model_info": {"id": "exp-1"}})
    provider = VirtualKeyProvider()
    inputs = {"key_alias": "exp-key", "models": ["exp-m"], "rotation_trigger": "p1", "rotation_grace": "20s", "owner": "litellm-gateway/dev/exp"}
    first = provider.create(dict(inputs))
    second = provider.create({**inputs, "rotation_trigger": "p2"})
    provider.delete(first.id, dict(first.outs))
    assert proxy.chat(second.outs["key"], "exp-m").status_code == 200
    assert proxy.chat(first.outs["key"], "exp-m").status_code == 200  # in grace
    wait_until(lambda: proxy.chat(first.outs["key"], "exp-m").status_code in (400, 401, 403), timeout=120, what="the old key expires")
    assert client.get_key(endpoint, first.id)["status"] == "expired"  # stopped by LiteLLM's expiry, not deleted
    assert proxy.chat(second.outs["key"], "exp-m").status_code == 200
    # The next rotation removes the expired predecessor.
    third = provider.create({**inputs, "rotation_trigger": "p3"})
    assert client.get_key(endpoint, first.id) is None
    provider.delete(third.id, dict(third.outs))
    provider.delete(second.id, dict(second.outs))
    client.delete_model(endpoint, "exp-1")
