"""Every observability callback a stack may declare boots with the pinned proxy and the packages
the host installs for it (config.observability.CALLBACK_PACKAGES), and the proxy still serves.

litellm[proxy] does not pull these packages: without them the proxy exits at startup. The test
venv pins the same versions as the host's requirements (tests/config/test_pins.py checks that).
"""

from __future__ import annotations

import socket

import httpx

from config.observability import CALLBACK_PACKAGES
from tests.support.stack_gateway import build_stack_gateway


def closed_loopback_port() -> int:
    """A loopback port nothing listens on: exporters get 'connection refused', never the internet."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_every_allowed_callback_boots_and_serves(fake_factory, redis_endpoint):
    callbacks = sorted(CALLBACK_PACKAGES)
    gw = build_stack_gateway(
        "local",
        redis=redis_endpoint,
        make_fake=fake_factory,
        tls=False,
        extra_overrides={"observability": {"callbacks": callbacks}},
    )
    # Langfuse's default host is its cloud: point the exporter at loopback (an envSecrets entry on
    # a real host, LANGFUSE_HOST, reaches its env file the same way).
    gw.env["LANGFUSE_HOST"] = f"http://127.0.0.1:{closed_loopback_port()}"
    rendered = gw.config["litellm_settings"]
    assert rendered.get("callbacks") == ["prometheus"]
    assert rendered.get("success_callback") == ["langfuse"]
    proxy = gw.proxy("callbacks")
    try:
        proxy.start()
        headers = {"Authorization": f"Bearer {gw.master_key}"}
        reply = httpx.post(
            f"{proxy.base_url}/v1/chat/completions",
            json={"model": "llama3.2", "messages": [{"role": "user", "content": "callbacks?"}]},
            headers=headers,
            timeout=30,
        )
        assert reply.status_code == 200, reply.text[:500]
        assert "[fake:" in reply.json()["choices"][0]["message"]["content"]
        metrics = httpx.get(f"{proxy.base_url}/metrics/", headers=headers, timeout=30)
        assert metrics.status_code == 200
        assert "litellm_" in metrics.text  # the prometheus callback's own series
    finally:
        proxy.stop()
        gw.close()
