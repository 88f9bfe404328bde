"""A pod's shutdown during a streamed completion (issue 19): the `kube` stack's rendered Deployment,
booted as tests/e2e/test_kubernetes_boot.py boots it (ConfigMap and Secret materialized, the
container's command and args, its env), gets SIGTERM — what the kubelet sends the container after the
preStop sleep — while a streamed completion is in flight. The stream must complete, new connections
must be refused from then on (why the preStop sleep exists: the endpoint has to be gone from the
Service and the Ingress before this point), and the process must exit by itself before
terminationGracePeriodSeconds.

The stream lasts longer than LiteLLM's default drain (GRACEFUL_SHUTDOWN_TIMEOUT unset: 30 s), so the
control case — the same pod without the rendered GRACEFUL_SHUTDOWN_TIMEOUT, i.e. the pods of main
before issue 19 — must see the stream cut: the test can fail, and fails without the setting.

The two pods (the rendered one and the control) boot and stream side by side: their streams are
mostly waits, so the module costs one stream's time, not two.

Differences from a pod (as in the boot test): the venv's pinned LiteLLM instead of the image, loopback
Redis and fake upstreams instead of cluster DNS, no database (the harness drops it), SIGTERM sent by
the test instead of the kubelet (no preStop sleep: nothing here routes to the pod through endpoints).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
import uuid

import httpx
import pytest

from tests.support.kube_pod import boot_kube_pod

pytestmark = pytest.mark.slow

GAP = 8.0  # seconds after each of the 6 SSE writes: a 48 s stream, past LiteLLM's default 30 s drain


def _stream_during_sigterm(settings, fakes, proxy):
    """Start a streamed completion, SIGTERM the container's process once the first event is in,
    read the rest. Returns (complete: every piece + finish_reason stop + [DONE], the transport error
    that cut it if any, new connections refused after SIGTERM, seconds from SIGTERM to exit)."""
    (openai_fake,) = [fakes[m.id] for m in settings.models if m.model_name == "gpt-4o"]
    openai_fake.stream_slowly(GAP)
    prompt = f"kube drain {uuid.uuid4().hex}"
    content, finish, saw_done, error = [], None, False, None
    refused = None
    sigterm_at = None
    body = {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": prompt}]}
    with proxy.http_client(timeout=httpx.Timeout(30.0, read=120.0)) as http:
        try:
            with http.stream("POST", "/v1/chat/completions", json=body, headers=proxy.headers(proxy.master_key)) as response:
                assert response.status_code == 200, response.status_code
                for line in response.iter_lines():
                    if not line.startswith("data: "):
                        continue
                    data = line[len("data: "):]
                    if data == "[DONE]":
                        saw_done = True
                        continue
                    event = json.loads(data)
                    choice = event["choices"][0] if event.get("choices") else {}
                    content.append((choice.get("delta") or {}).get("content") or "")
                    finish = choice.get("finish_reason") or finish
                    if sigterm_at is None:
                        # the kubelet signals the container's main process (PID 1 in the pod)
                        os.kill(proxy.pid, signal.SIGTERM)
                        sigterm_at = time.monotonic()
                        time.sleep(1.0)
                        try:
                            with proxy.http_client(timeout=5.0) as fresh:
                                fresh.get("/health/liveliness")
                            refused = False
                        except httpx.TransportError:
                            refused = True
        except httpx.HTTPError as exc:  # the stream cut mid-way
            error = exc
    deadline = time.monotonic() + 120
    while proxy.running and time.monotonic() < deadline:
        time.sleep(0.2)
    exit_seconds = time.monotonic() - sigterm_at if not proxy.running else None
    complete = "".join(content) == openai_fake.reply_text(prompt) and finish == "stop" and saw_done
    return complete, error, refused, exit_seconds


class _Pod:
    """One booted pod and what its stream saw (filled in by `pods`)."""

    def __init__(self, boot) -> None:
        self.settings, self.manifests, self.fakes, self.proxy, self.root, _ = boot
        self.env_at_start: dict | None = None
        self.result: tuple | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.proxy.wait_ready()
            self.env_at_start = self.proxy.env()
            self.result = _stream_during_sigterm(self.settings, self.fakes, self.proxy)
        except BaseException as exc:  # noqa: BLE001 - re-raised by the test that reads it
            self.error = exc

    def outcome(self) -> tuple:
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


@pytest.fixture(scope="module")
def pods(fake_factory, redis_endpoint):
    """The rendered pod and the control (no GRACEFUL_SHUTDOWN_TIMEOUT), booted side by side, each
    taken through its stream and SIGTERM at the same time: two processes, two fake upstreams, two
    ports; nothing is shared but the machine. Their streams are mostly waits (6 x GAP), so running
    them together costs one stream's time instead of two."""
    rendered = _Pod(boot_kube_pod(fake_factory, redis_endpoint, name="kube-stop"))
    control = _Pod(boot_kube_pod(fake_factory, redis_endpoint, name="kube-stop-control",
                                 drop_env=("GRACEFUL_SHUTDOWN_TIMEOUT",)))
    try:
        for pod in (rendered, control):
            pod.proxy.start(wait=False)
        threads = [threading.Thread(target=pod.run) for pod in (rendered, control)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        yield rendered, control
    finally:
        for pod in (rendered, control):
            pod.proxy.stop()
            shutil.rmtree(pod.root, ignore_errors=True)


def test_sigterm_during_a_stream_lets_it_complete_then_the_pod_exits(pods):
    pod_view, _ = pods
    pod = pod_view.manifests["deployment"]["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert float(env["GRACEFUL_SHUTDOWN_TIMEOUT"]) > 6 * GAP > 30  # the stream outlasts LiteLLM's default drain
    complete, error, refused, exit_seconds = pod_view.outcome()
    assert pod_view.env_at_start["GRACEFUL_SHUTDOWN_TIMEOUT"] == env["GRACEFUL_SHUTDOWN_TIMEOUT"]
    assert error is None, f"the stream was cut: {error!r}"
    assert complete, "the stream ended without all its pieces, finish_reason stop and [DONE]"
    assert refused is True, "the proxy still accepted new connections after SIGTERM"
    assert exit_seconds is not None, "the proxy did not exit after the stream"
    assert exit_seconds < pod["terminationGracePeriodSeconds"] - pod["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"]


def test_control_without_the_rendered_drain_the_stream_is_cut(pods):
    """The pods as rendered before issue 19 (no GRACEFUL_SHUTDOWN_TIMEOUT): LiteLLM's 30 s default."""
    _, control = pods
    complete, error, refused, exit_seconds = control.outcome()
    assert "GRACEFUL_SHUTDOWN_TIMEOUT" not in control.env_at_start
    # cut at LiteLLM's default 30 s: the last events (finish_reason, [DONE], at 32 s and 40 s) never come
    assert not complete, "the stream completed: this control proves nothing"
    assert exit_seconds is not None and exit_seconds < 6 * GAP
