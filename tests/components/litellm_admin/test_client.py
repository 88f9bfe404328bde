"""The admin client: error parsing, redaction, retry policy, pagination."""

from __future__ import annotations

import json
import threading
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from components.litellm_admin import client
from components.litellm_admin.client import AdminApiError, AdminEndpoint

from .conftest import BACKOFF_SECONDS

RAW_KEY_IN_MESSAGE = "sk-Zq8lRr0dVbqHh2Jf5cWx1A"


class ScriptedServer:
    """A 127.0.0.1 HTTP server answering from a script of (status, headers, json body)."""

    def __init__(self, script: list[tuple[int, dict, object]]) -> None:
        self.script = list(script)
        self.requests: list[tuple[str, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                self.rfile.read(length)
                server.requests.append((self.command, self.path))
                status, headers, body = server.script.pop(0) if server.script else (599, {}, {"error": "script empty"})
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = _answer

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "ScriptedServer":
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def endpoint(self) -> AdminEndpoint:
        host, port = self.httpd.server_address
        return AdminEndpoint(f"http://{host}:{port}", master_key="sk-master-scripted-5d2c", backoff_seconds=BACKOFF_SECONDS)


@pytest.mark.parametrize(
    "status, body, expected",
    [
        (400, {"error": {"message": "Key with alias 'a' already exists.", "type": "bad_request_error"}}, "Key with alias 'a' already exists."),
        (404, {"detail": "Team not found"}, "Team not found"),
        (404, {"detail": {"error": "No keys found"}}, "No keys found"),
        (
            422,
            {"detail": [{"type": "missing", "loc": ["body", "litellm_params", "model"], "msg": "Field required", "input": {"api_key": "hunter2"}}]},
            "request validation failed: litellm_params.model: Field required",
        ),
    ],
)
def test_error_shapes_are_parsed_and_never_retried(status, body, expected):
    with ScriptedServer([(status, {}, body)]) as server:
        with pytest.raises(AdminApiError) as raised:
            client.update_team(server.endpoint, "team-a", {"max_budget": 1})
    assert raised.value.status == status
    assert raised.value.message == expected
    assert "hunter2" not in str(raised.value)  # 422 items echo the input: only loc and msg are kept
    assert len(server.requests) == 1


def test_error_messages_redact_raw_keys_and_the_master_key():
    with ScriptedServer([]) as server:
        leak = f"bad key {RAW_KEY_IN_MESSAGE} for master {server.endpoint.master_key}"
        server.script.append((400, {}, {"error": {"message": leak}}))
        with pytest.raises(AdminApiError) as raised:
            client.update_team(server.endpoint, "team-a", {"max_budget": 1})
    text = str(raised.value)
    assert RAW_KEY_IN_MESSAGE not in text
    assert server.endpoint.master_key not in text
    assert "bad key sk-*** for master ***" in text
    assert server.endpoint.master_key not in repr(server.endpoint)  # field(repr=False)


def test_retry_after_is_honoured_as_seconds_and_as_an_http_date():
    soon = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=1), usegmt=True)
    script = [
        (429, {"Retry-After": "0"}, {"error": {"message": "slow down"}}),
        (429, {"Retry-After": soon}, {"error": {"message": "slow down"}}),
        (200, {}, {"team_id": "team-a", "team_info": {"team_id": "team-a"}}),
    ]
    with ScriptedServer(script) as server:
        assert client.get_team(server.endpoint, "team-a") == {"team_id": "team-a"}
    assert len(server.requests) == 3


def test_retry_after_parsing():
    assert client._retry_after_seconds("3") == 3.0
    assert client._retry_after_seconds(None) is None
    assert client._retry_after_seconds("not a date") is None
    past = format_datetime(datetime.now(timezone.utc) - timedelta(seconds=30), usegmt=True)
    assert client._retry_after_seconds(past) == 0.0


def test_reads_give_up_after_max_attempts_with_a_clear_error(endpoint, emulator):
    emulator.inject_fault("GET", "/team/info", "500", times=10)
    with pytest.raises(AdminApiError) as raised:
        client.get_team(endpoint, "team-a")
    assert raised.value.status == 500
    assert "gave up after 4 attempts" in str(raised.value)
    assert emulator.count("GET", "/team/info") == 4


def test_a_read_recovers_from_a_dropped_connection_and_a_5xx(endpoint, emulator):
    created = client.create_team(endpoint, {"team_id": "team-a"})
    assert created["team_id"] == "team-a"
    emulator.inject_fault("GET", "/team/info", "drop")
    emulator.inject_fault("GET", "/team/info", "500")
    emulator.reset_counts()
    assert client.get_team(endpoint, "team-a")["team_id"] == "team-a"
    assert emulator.count("GET", "/team/info") == 3


def test_a_raw_key_is_refused_where_a_token_belongs(endpoint, emulator):
    with pytest.raises(ValueError, match="sha256 token"):
        client.get_key(endpoint, RAW_KEY_IN_MESSAGE)
    with pytest.raises(ValueError):
        client.delete_key(endpoint, RAW_KEY_IN_MESSAGE)
    assert emulator.count() == 0


def test_generated_key_token_is_its_sha256_and_info_reads_by_token(endpoint, emulator):
    generated = client.generate_key(endpoint, {"key_alias": "svc"})
    assert generated["token"] == client.token_of(generated["key"])
    assert generated["token"] in emulator.keys
    info = client.get_key(endpoint, generated["token"])
    assert info["key_alias"] == "svc"
    assert client.delete_key(endpoint, generated["token"]) is True
    assert client.get_key(endpoint, generated["token"]) is None  # deleted: 200 with status "deleted"
    assert client.get_key(endpoint, "0" * 64) is None  # never existed: 404
    assert client.delete_key(endpoint, generated["token"]) is False


def test_list_keys_reads_every_page(endpoint, emulator):
    tokens = {client.generate_key(endpoint, {"key_alias": f"bulk-{index}"})["token"] for index in range(105)}
    emulator.reset_counts()
    listed = client.list_keys(endpoint)
    assert {key["token"] for key in listed} == tokens
    assert emulator.count("GET", "/key/list") == 2
    found = client.find_key_by_alias(endpoint, "bulk-7")
    assert found is not None and found["key_alias"] == "bulk-7" and found["token"] in tokens
    assert client.find_key_by_alias(endpoint, "bulk-unknown") is None


def test_model_reads_are_none_for_an_unknown_id(endpoint, emulator):
    assert client.get_model(endpoint, "nope") is None
    client.create_model(endpoint, {"model_name": "m", "litellm_params": {"model": "openai/gpt-4o"}, "model_info": {"id": "a"}})
    assert client.get_model(endpoint, "nope") is None
    assert client.get_model(endpoint, "a")["model_info"]["id"] == "a"
