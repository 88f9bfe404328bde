"""Fast tests of the e2e support code itself (no proxy process): fake upstreams, CLI-arg rewriting,
the explicit no-database step, and the harness's refusals."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time

import httpx
import openai
import pytest

from tests.support.fake_upstreams import FakeOllama, FakeOpenAI, free_port
from tests.support.proxy_harness import (
    RunningProxy,
    listening_ports_of_group,
    rewrite_cli_args,
    without_database,
)

# -- fake upstreams ------------------------------------------------------------------------------


@pytest.fixture
def ollama():
    with FakeOllama("unit-ollama") as fake:
        yield fake


@pytest.fixture
def oai():
    with FakeOpenAI("unit-openai") as fake:
        yield fake


def test_ollama_chat_json_and_ndjson_stream(ollama):
    body = {"model": "llama3.2", "messages": [{"role": "user", "content": "hello there"}], "stream": False}
    reply = httpx.post(f"{ollama.base_url}/api/chat", json=body).json()
    assert reply["message"] == {"role": "assistant", "content": "[fake:unit-ollama] echo: hello there"}
    assert reply["done"] is True and reply["eval_count"] > 0 and reply["prompt_eval_count"] > 0

    with httpx.stream("POST", f"{ollama.base_url}/api/chat", json={**body, "stream": True}) as response:
        assert response.headers["content-type"] == "application/x-ndjson"
        lines = [json.loads(line) for line in response.iter_lines() if line]
    assert len(lines) >= 3 and [line["done"] for line in lines] == [False] * (len(lines) - 1) + [True]
    assert "".join(line["message"]["content"] for line in lines) == ollama.reply_text("hello there")
    assert ollama.counts == {"/api/chat": 2} and ollama.last_body["stream"] is True


def test_ollama_generate_tags_show(ollama):
    gen = httpx.post(f"{ollama.base_url}/api/generate", json={"model": "llama3.2", "prompt": "p", "stream": False}).json()
    assert gen["response"] == ollama.reply_text("p") and gen["done"] is True
    with httpx.stream("POST", f"{ollama.base_url}/api/generate", json={"model": "llama3.2", "prompt": "a b c"}) as r:
        lines = [json.loads(line) for line in r.iter_lines() if line]
    assert "".join(line["response"] for line in lines) == ollama.reply_text("a b c") and lines[-1]["done"]
    assert [m["name"] for m in httpx.get(f"{ollama.base_url}/api/tags").json()["models"]] == ["llama3.2:latest"]
    show = httpx.post(f"{ollama.base_url}/api/show", json={"name": "llama3.2"}).json()
    assert show["model_info"]["llama.context_length"] == 131072
    assert ollama.count == 4 and ollama.count_for("/api/generate") == 2


def test_openai_fake_speaks_to_the_openai_sdk(oai):
    client = openai.OpenAI(base_url=oai.api_base, api_key="sk-unit", max_retries=0)
    done = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert done.choices[0].message.content == oai.reply_text("hi") and done.usage.total_tokens > 0
    stream = client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "one two three"}], stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == oai.reply_text("one two three")
    assert chunks[-1].usage is not None
    assert [m.id for m in client.models.list()] == ["gpt-4o"]
    assert oai.counts == {"/v1/chat/completions": 2, "/v1/models": 1}
    assert oai.last_request.headers["authorization"] == "Bearer sk-unit"


def test_fail_with_status_times_then_recover(oai):
    client = openai.OpenAI(base_url=oai.api_base, api_key="sk-unit", max_retries=0)
    oai.fail_with(503, times=1)
    with pytest.raises(openai.InternalServerError) as failure:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    assert failure.value.status_code == 503 and "[fake:unit-openai]" in str(failure.value)
    assert client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}]).choices
    oai.fail_with(500)
    for _ in range(2):
        assert httpx.post(f"{oai.api_base}/chat/completions", json={}).status_code == 500
    oai.recover()
    assert httpx.post(f"{oai.api_base}/chat/completions", json={"messages": []}).status_code == 200
    assert oai.failures_served == 3 and oai.count == 5


def test_fail_with_timeout_hangs_until_released(ollama):
    ollama.fail_with(timeout=30)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{ollama.base_url}/api/chat", json={"stream": False}, timeout=0.5)
    ollama.recover()  # wakes the hanging handler
    assert httpx.post(f"{ollama.base_url}/api/chat", json={"stream": False}, timeout=5).status_code == 200
    assert ollama.failures_served == 1


def test_slow_answers_after_the_delay(ollama):
    ollama.slow(0.5)
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{ollama.base_url}/api/tags", timeout=0.1)
    assert httpx.get(f"{ollama.base_url}/api/tags", timeout=5).status_code == 200
    ollama.recover()
    assert ollama.failures_served == 0


def test_stop_refuses_connections_and_recover_keeps_the_port(ollama):
    port = ollama.port
    ollama.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{ollama.base_url}/api/tags", timeout=2)
    assert ollama.count == 0
    ollama.recover()
    assert ollama.port == port and httpx.get(f"{ollama.base_url}/api/tags", timeout=2).status_code == 200


def test_unknown_path_is_404(ollama):
    assert httpx.get(f"{ollama.base_url}/nope").status_code == 404


# -- harness pieces -------------------------------------------------------------------------------


def test_rewrite_cli_args_touches_only_config_port_host():
    unit = ["--config", "/etc/litellm/config.yaml", "--port", "4000", "--num_workers", "2", "--max_requests_before_restart", "100"]
    assert rewrite_cli_args(unit, config_path="/tmp/c.yaml", port=5555) == [
        "--config", "/tmp/c.yaml", "--port", "5555", "--num_workers", "2", "--max_requests_before_restart", "100",
        "--host", "127.0.0.1",
    ]  # fmt: skip
    assert rewrite_cli_args(["--port=4000", "-c", "x", "--host", "0.0.0.0"], config_path="c", port=1) == [
        "--port=1", "-c", "c", "--host", "127.0.0.1",
    ]  # fmt: skip
    assert rewrite_cli_args([], config_path="c", port=2) == ["--config", "c", "--port", "2", "--host", "127.0.0.1"]
    with pytest.raises(ValueError, match="ssl"):
        rewrite_cli_args(["--ssl_keyfile_path", "k"], config_path="c", port=3)


def test_without_database_is_explicit_and_does_not_mutate(caplog):
    config = {"general_settings": {"master_key": "os.environ/K", "database_url": "os.environ/DATABASE_URL", "store_model_in_db": True}}
    env = {"DATABASE_URL": "postgresql://u:p@h/db", "DATABASE_HOST": "h:5432", "LITELLM_MASTER_KEY": "sk-x"}
    with caplog.at_level(logging.WARNING):
        new_config, new_env, dropped = without_database(config, env)
    assert new_config == {"general_settings": {"master_key": "os.environ/K"}}
    assert new_env == {"LITELLM_MASTER_KEY": "sk-x"}
    assert dropped == ["general_settings.database_url", "general_settings.store_model_in_db", "env DATABASE_URL", "env DATABASE_HOST"]
    assert "database_url" in config["general_settings"] and "DATABASE_URL" in env  # inputs untouched
    assert "WITHOUT a database" in caplog.text and "postgresql://" not in caplog.text
    assert without_database({"model_list": []}, {})[2] == []


def test_harness_refuses_secrets_on_the_command_line_and_a_remote_cost_map():
    env = {"LITELLM_MASTER_KEY": "sk-unit-secret-123", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    with pytest.raises(ValueError, match="secret"):
        RunningProxy({}, env, ["--port", "4000", "--api_key", "sk-unit-secret-123"])
    with pytest.raises(ValueError, match="LITELLM_LOCAL_MODEL_COST_MAP"):
        RunningProxy({}, {**env, "LITELLM_LOCAL_MODEL_COST_MAP": "False"})
    proxy = RunningProxy({}, env)
    assert "sk-unit-secret-123" not in repr(proxy) and proxy.port != 4000


def test_listening_ports_of_group_sees_only_that_group():
    port = free_port()
    code = f"import socket,time; s=socket.socket(); s.bind(('127.0.0.1',{port})); s.listen(); print('up',flush=True); time.sleep(60)"
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, start_new_session=True)
    try:
        assert child.stdout.readline().strip() == b"up"
        assert listening_ports_of_group(child.pid) == {port}
        assert port not in listening_ports_of_group(os.getpgid(0))
    finally:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    deadline = time.monotonic() + 5
    while listening_ports_of_group(child.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert listening_ports_of_group(child.pid) == set()
