"""The real LiteLLM proxy with its database (tests/support/real_proxy.py), through the shared fixture:
what the emulator cannot show is answered by the pinned server itself."""

from __future__ import annotations

from tests.support.real_proxy import RealProxy, hash_token
from tests.support.real_proxy_fixtures import real_proxy, real_proxy_factory, unique_name  # noqa: F401


def _team(proxy: RealProxy, alias: str, models: list[str]) -> str:
    response = proxy.admin("POST", "/team/new", {"team_alias": alias, "models": models})
    assert response.status_code == 200, response.text
    return response.json()["team_id"]


def test_the_database_is_fresh_migrated_and_owned_by_its_own_role(real_proxy: RealProxy):
    db = real_proxy.database
    assert db is not None and db.name.startswith("llmgw_rp")
    assert db.migrations_applied >= 200
    owner, current = db.query(
        "SELECT pg_get_userbyid(datdba), current_user FROM pg_database WHERE datname = current_database()"
    )[0]
    assert owner == current == db.role
    assert db.query("SELECT rolsuper FROM pg_roles WHERE rolname = current_user") == [(False,)]
    health = real_proxy.admin("GET", "/health/readiness").json()
    assert health["db"] == "connected"


def test_a_generated_key_answers_chat_and_is_stored_hashed(real_proxy: RealProxy, unique_name):
    alias = unique_name("key")
    key = real_proxy.generate_key(models=["mock-gpt"], key_alias=alias, metadata={"owner": "harness"})
    response = real_proxy.chat(key, "mock-gpt")
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "pong from mock-gpt"
    row = real_proxy.key_row(key)
    assert row is not None and row["token"] == hash_token(key) and row["key_alias"] == alias
    assert row["models"] == ["mock-gpt"] and row["metadata"] == {"owner": "harness"}


def test_unknown_key_and_model_outside_the_key_are_refused(real_proxy: RealProxy):
    key = real_proxy.generate_key(models=["mock-gpt"])
    assert real_proxy.chat(key, "mock-gpt-mini").status_code == 403
    assert real_proxy.chat("sk-not-a-key-of-this-proxy", "mock-gpt").status_code == 401


def test_budget_duration_0d_is_refused_with_400(real_proxy: RealProxy):
    response = real_proxy.admin("POST", "/key/generate", {"models": ["mock-gpt"], "budget_duration": "0d"})
    assert response.status_code == 400, response.text


def test_team_move_with_narrowing_in_one_update_is_refused_with_403(real_proxy: RealProxy, unique_name):
    team_a = _team(real_proxy, unique_name("team-a"), ["mock-gpt", "mock-gpt-mini"])
    team_b = _team(real_proxy, unique_name("team-b"), ["mock-gpt-large"])
    key = real_proxy.generate_key(team_id=team_a, models=["mock-gpt", "mock-gpt-mini"])
    response = real_proxy.admin("POST", "/key/update", {"key": key, "team_id": team_b, "models": ["mock-gpt-large"]})
    assert response.status_code == 403, response.text
    row = real_proxy.key_row(key)
    assert row["team_id"] == team_a and row["models"] == ["mock-gpt", "mock-gpt-mini"]  # nothing changed


def test_spend_reaches_postgresql(real_proxy: RealProxy):
    key = real_proxy.generate_key(models=["mock-gpt"], max_budget=5)
    assert real_proxy.chat(key, "mock-gpt").status_code == 200
    spend = real_proxy.wait_for_key_spend(key, timeout=120)
    assert spend > 0
    logs = real_proxy.wait_for_spend_logs(key, timeout=120)
    assert [row["model_group"] for row in logs] == ["mock-gpt"]
    assert logs[0]["spend"] > 0
