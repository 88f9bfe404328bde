"""Metrics and alerting as the pinned proxy needs them (issue 10 item 6), on the real proxy.

One proxy for the module: Pulumi.dev.yaml + config/catalogs/dev.yaml through
``tests.support.stack_gateway.build_stack_gateway`` (its docstring lists every step from stack to
test run) with these test changes: TLS off (dev's certificate names cannot be verified on
loopback), ``cache: {enabled: false}``, ``routing.timeout: 6`` (so the derived slow threshold,
half of it, is 3 s and a slow upstream can cross it quickly), and 1 worker instead of 4 (the alert
and the metrics endpoint do not depend on the worker count; 4 workers cost a shared test machine
too much). Everything else, including ``alert_types`` with ``llm_too_slow``, the Slack channel (to a
loopback ``AlertSink``) and the prometheus callback, is the stack's.

The drift-check test runs the proxy's CLI the way the rendered unit does (its WorkingDirectory,
after the install step's schema link) with a stand-in ``prisma`` on PATH that records what the
check asked of it: the real Prisma schema engine cannot run on this machine.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import litellm
import pytest

from config.observability import slow_threshold_seconds
from offline.stack_inputs import load_stack_inputs
from rendering.host_files import host_paths, render_env_file, render_systemd_unit, secret_env_names
from rendering.host_scripts import schema_link_lines
from rendering.litellm_yaml import render_litellm_config_yaml
from tests.support.proxy_harness import OFFLINE_ENV, litellm_cli
from tests.support.stack_gateway import StackGateway, build_stack_gateway, parse_env_file

ROUTING = {"timeout": 6}
LITELLM_SCHEMA = Path(litellm.__file__).parent / "proxy" / "schema.prisma"


@pytest.fixture(scope="module")
def dev(fake_factory, redis_endpoint):
    declared = load_stack_inputs("dev").settings()
    litellm_one_worker = {**declared.litellm.model_dump(mode="json", exclude_none=True), "workers": 1}
    gw = build_stack_gateway(
        "dev",
        redis=redis_endpoint,
        make_fake=fake_factory,
        tls=False,
        cache={"enabled": False},
        routing=ROUTING,
        extra_overrides={"litellm": litellm_one_worker},
    )
    proxy = gw.proxy("dev-metrics", startup_timeout=180)
    try:
        proxy.start()
        yield gw, proxy
    finally:
        proxy.stop()
        gw.close()


def test_metrics_refuses_an_unauthenticated_scrape_and_a_wrong_key(dev):
    gw, proxy = dev
    assert gw.config["litellm_settings"]["require_auth_for_metrics_endpoint"] is True
    with proxy.http_client() as http:
        for path in ("/metrics", "/metrics/"):
            anonymous = http.get(path)
            assert anonymous.status_code == 401, (path, anonymous.status_code, anonymous.text[:200])
            assert "Unauthorized access to metrics endpoint" in anonymous.text
            wrong = http.get(path, headers={"Authorization": "Bearer sk-not-a-key-of-this-gateway"})
            assert wrong.status_code == 401, (path, wrong.status_code, wrong.text[:200])
        # The endpoint itself works (the admin credential passes; the scrape credential, a key
        # confined to /metrics, needs the database: tests/e2e/test_consumer_view.py).
        admin = http.get("/metrics/", headers=proxy.headers())
        assert admin.status_code == 200
        assert "litellm_" in admin.text
        # The exporter is mounted at /metrics/ (the scrape config's metrics_path): /metrics redirects.
        bare = http.get("/metrics", headers=proxy.headers(), follow_redirects=False)
        assert bare.status_code == 307 and bare.headers["location"].endswith("/metrics/"), bare.headers


def _slow_alerts(gw: StackGateway) -> list[str]:
    texts = []
    for request in gw.alert_sink.requests:  # type: ignore[union-attr]
        body = request.body if isinstance(request.body, str) else json.dumps(request.body)
        if "Responses are slow" in body:
            texts.append(body)
    return texts


def test_llm_too_slow_fires_for_a_call_slower_than_the_rendered_threshold(dev):
    gw, proxy = dev
    threshold = slow_threshold_seconds(gw.settings)
    assert threshold == 3  # half of routing.timeout 6
    assert gw.config["general_settings"]["alerting_threshold"] == threshold
    assert "llm_too_slow" in gw.config["general_settings"]["alert_types"]
    assert gw.alert_sink is not None
    gw.alert_sink.reset()
    fake = gw.fake("ollama-llama3.2")
    fake.slow(threshold + 1.5)  # slower than the threshold, well inside routing.timeout
    try:
        with proxy.http_client(timeout=60) as http:
            reply = http.post(
                "/v1/chat/completions",
                headers=proxy.headers(),
                json={"model": "llama3.2", "messages": [{"role": "user", "content": "take your time"}]},
            )
        assert reply.status_code == 200, reply.text[:300]
        assert "[fake:" in reply.json()["choices"][0]["message"]["content"]
    finally:
        fake.recover()
    # Slack alerts are batched and flushed every few seconds (DEFAULT_FLUSH_INTERVAL_SECONDS = 5).
    deadline = time.monotonic() + 45
    while not _slow_alerts(gw) and time.monotonic() < deadline:
        time.sleep(0.5)
    alerts = _slow_alerts(gw)
    assert alerts, (
        "no llm_too_slow alert reached the Slack sink; posts seen: "
        f"{[str(r.body)[:200] for r in gw.alert_sink.requests]}"
    )
    assert f"Alerting threshold: {threshold}s" in alerts[0]


def _fake_prisma(bin_dir: Path) -> None:
    bin_dir.mkdir()
    script = bin_dir / "prisma"
    script.write_text(
        "#!/bin/sh\n"
        '{ echo "cwd=$(pwd)"; echo "args=$*";\n'
        '  if [ -f ./schema.prisma ]; then echo "schema=$(sha256sum < ./schema.prisma | cut -d" " -f1)";'
        ' else echo "schema=missing"; fi; } >> "$FAKE_PRISMA_LOG"\n'
        "exit 0\n"
    )
    script.chmod(0o755)


def test_startup_schema_drift_check_finds_schema_prisma_in_the_units_working_directory(tmp_path):
    """The serving proxy (DISABLE_SCHEMA_UPDATE=True from the env file) runs LiteLLM's drift check,
    `prisma migrate diff ... --to-schema-datamodel ./schema.prisma`, in its working directory."""
    install_dir = tmp_path / "opt-litellm"
    install_dir.mkdir()
    base = load_stack_inputs("dev").settings()
    settings = load_stack_inputs(
        "dev",
        overrides={"litellm": {**base.litellm.model_dump(mode="json", exclude_none=True), "install_dir": str(install_dir)}},
    ).settings()
    # The host's venv (a directory per release): this test's own venv seen through links, so the
    # schema link the install makes lands in this directory, not in the test's venv.
    venv = Path(host_paths(settings).venv)
    venv.mkdir(parents=True)
    for entry in ("bin", "lib", "pyvenv.cfg"):
        (venv / entry).symlink_to(Path(sys.prefix) / entry)
    # The install step's schema lines, as rendered, run for real.
    link = subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + f"VENV={venv}\n" + "\n".join(schema_link_lines(settings))],
        capture_output=True, text=True,
    )
    assert link.returncode == 0, link.stderr
    unit = render_systemd_unit(settings, settings.litellm.hosts[0])
    workdir = next(line.split("=", 1)[1] for line in unit.splitlines() if line.startswith("WorkingDirectory="))

    config_file = tmp_path / "config.yaml"
    config_file.write_text(render_litellm_config_yaml(settings))
    values = {name: f"test-{name.lower()}" for name in secret_env_names(settings)}
    values["LITELLM_MASTER_KEY"] = "sk-test-drift-check"
    values["DATABASE_URL"] = "postgresql://litellm:unused@127.0.0.1:1/litellm"  # the stand-in never connects
    values["REDIS_PASSWORD"] = ""
    env = parse_env_file(render_env_file(settings, values))
    assert env["DISABLE_SCHEMA_UPDATE"] == "True"  # the serving proxy checks for drift instead of migrating
    bin_dir = tmp_path / "bin"
    _fake_prisma(bin_dir)
    log = tmp_path / "prisma.log"
    cli = litellm_cli()
    run_env = {
        **OFFLINE_ENV,
        **env,
        "PATH": f"{bin_dir}:{Path(cli).parent}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "FAKE_PRISMA_LOG": str(log),
    }
    done = subprocess.run(
        [cli, "--config", str(config_file), "--skip_server_startup"],
        cwd=workdir, env=run_env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert log.exists(), "the proxy never ran the drift check:\n" + done.stdout[-2000:]
    record = dict(line.split("=", 1) for line in log.read_text().splitlines())
    assert "migrate diff" in record["args"] and "--to-schema-datamodel ./schema.prisma" in record["args"]
    assert record["cwd"] == workdir
    assert record["schema"] == hashlib.sha256(LITELLM_SCHEMA.read_bytes()).hexdigest(), (
        f"the drift check ran in {workdir} and found no schema.prisma there"
    )
    assert "Failed to generate migration diff" not in done.stdout
