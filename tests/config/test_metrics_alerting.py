"""Metrics and alerting settings rendered as the pinned proxy reads them (issue 10 item 6).

Each rule is checked against LiteLLM's own code where it can be called (get_secret_bool, the
ConfigGeneralSettings model, the module default of require_auth_for_metrics_endpoint).
"""

from __future__ import annotations

import os
from pathlib import Path

import litellm
import pytest
from litellm.proxy._types import ConfigGeneralSettings
from litellm.secret_managers.main import get_secret_bool

from config.loader import ConfigError
from config.observability import (
    LITELLM_DEFAULT_ALERTING_THRESHOLD,
    METRICS_ROUTE,
    metrics_scrape_key_request,
    prometheus_scrape_config,
    slow_threshold_seconds,
)
from offline.stack_inputs import load_stack_inputs
from rendering.host_files import host_paths, render_env_file, render_systemd_unit, store_model_in_db_env
from rendering.host_scripts import install_script, migrate_script, schema_link_lines
from rendering.litellm_yaml import render_litellm_config
from tests.support.stack_gateway import parse_env_file

PROXY_SERVER = Path(litellm.__file__).parent / "proxy" / "proxy_server.py"


def settings_of(stack: str, **overrides):
    return load_stack_inputs(stack, overrides=overrides).settings()


def with_litellm(stack: str, **fields):
    base = settings_of(stack).litellm.model_dump(mode="json", exclude_none=True)
    return settings_of(stack, litellm={**base, **fields})


def with_alerting(stack: str, routing: dict | None = None, **alerting):
    declared = settings_of(stack)
    obs = declared.observability.model_dump(mode="json", exclude_none=True)
    obs["alerting"] = {**obs["alerting"], **alerting}
    overrides = {"observability": obs}
    if routing:
        overrides["routing"] = {**declared.routing.model_dump(mode="json"), **routing}
    return settings_of(stack, **overrides)


def env_of(settings) -> dict[str, str]:
    return parse_env_file(render_env_file(settings, redact=True))


# ---- store_model_in_db / STORE_MODEL_IN_DB ----------------------------------------------------


def effective_store_model_in_db(settings) -> bool:
    """What the pinned proxy computes at start-up (proxy_server.py: the env var ORed with
    general_settings.store_model_in_db), from the rendered env file and config."""
    general = render_litellm_config(settings)["general_settings"].get("store_model_in_db", False)
    env = env_of(settings)
    saved = os.environ.get("STORE_MODEL_IN_DB")
    try:
        os.environ["STORE_MODEL_IN_DB"] = env["STORE_MODEL_IN_DB"]
        return bool(get_secret_bool("STORE_MODEL_IN_DB", general) or general)
    finally:
        if saved is None:
            os.environ.pop("STORE_MODEL_IN_DB", None)
        else:
            os.environ["STORE_MODEL_IN_DB"] = saved


def test_the_proxy_combines_the_env_var_and_the_setting_with_or():
    text = PROXY_SERVER.read_text()
    assert 'get_secret_bool("STORE_MODEL_IN_DB", store_model_in_db) or store_model_in_db' in text


@pytest.mark.parametrize("stack,source", [("local", "config"), ("local", "api"), ("dev", "api"), ("dev", "config")])
def test_store_model_in_db_and_env_agree_and_follow_model_source(stack, source):
    settings = with_litellm(stack, model_source=source)
    expected = source == "api"
    assert render_litellm_config(settings)["general_settings"]["store_model_in_db"] is expected
    assert env_of(settings)["STORE_MODEL_IN_DB"] == ("True" if expected else "False")
    assert store_model_in_db_env(settings) == ("True" if expected else "False")
    assert effective_store_model_in_db(settings) is expected


# ---- llm_too_slow threshold --------------------------------------------------------------------


def test_litellm_default_threshold_is_above_every_routing_timeout_of_the_stacks():
    assert f'general_settings.get("alerting_threshold", {LITELLM_DEFAULT_ALERTING_THRESHOLD})' in PROXY_SERVER.read_text()
    for stack in ("local", "dev"):
        assert settings_of(stack).routing.timeout < LITELLM_DEFAULT_ALERTING_THRESHOLD


def test_dev_renders_a_threshold_below_its_timeout_that_litellm_accepts():
    settings = settings_of("dev")
    general = render_litellm_config(settings)["general_settings"]
    assert general["alerting_threshold"] == 60  # half of routing.timeout 120
    assert general["alerting_threshold"] < settings.routing.timeout
    parsed = ConfigGeneralSettings(**{k: v for k, v in general.items() if k in ConfigGeneralSettings.model_fields})
    assert parsed.alerting_threshold == 60


@pytest.mark.parametrize("timeout,expected", [(120, 60), (7, 4), (4, 2), (1.5, 1), (0.5, 1)])
def test_default_threshold_is_half_the_router_timeout_rounded_up(timeout, expected):
    assert slow_threshold_seconds(with_alerting("dev", routing={"timeout": timeout})) == expected


def test_declared_threshold_is_rendered():
    settings = with_alerting("dev", slow_threshold_seconds=30)
    assert render_litellm_config(settings)["general_settings"]["alerting_threshold"] == 30


@pytest.mark.parametrize("value", [120, 600])
def test_threshold_not_below_the_timeout_is_refused_with_its_path(value):
    with pytest.raises(ConfigError) as err:
        with_alerting("dev", slow_threshold_seconds=value)
    message = str(err.value)
    assert "stack 'dev'" in message
    assert "observability.alerting.slow_threshold_seconds" in message
    assert "routing.timeout (120 s)" in message and "llm_too_slow would never fire" in message


@pytest.mark.parametrize("value", [0, -5, "soon"])
def test_threshold_must_be_a_positive_integer(value):
    with pytest.raises(ConfigError) as err:
        with_alerting("dev", slow_threshold_seconds=value)
    assert "observability.alerting.slow_threshold_seconds" in str(err.value)


def test_no_alerting_no_threshold():
    settings = settings_of("local")
    assert not settings.observability.alerting.channels
    assert "alerting_threshold" not in render_litellm_config(settings)["general_settings"]


# ---- /metrics ----------------------------------------------------------------------------------


def test_metrics_auth_is_stated_explicitly_when_prometheus_is_on():
    assert litellm.require_auth_for_metrics_endpoint is True  # the pinned default
    dev = render_litellm_config(settings_of("dev"))["litellm_settings"]
    assert "prometheus" in dev["callbacks"]
    assert dev["require_auth_for_metrics_endpoint"] is True
    local = render_litellm_config(settings_of("local"))["litellm_settings"]
    assert "require_auth_for_metrics_endpoint" not in local or local["require_auth_for_metrics_endpoint"] is True


def test_scrape_key_is_confined_to_metrics_and_accepted_by_litellms_request_model():
    from litellm.proxy._types import GenerateKeyRequest

    body = metrics_scrape_key_request(settings_of("dev"))
    assert body["allowed_routes"] == [METRICS_ROUTE] == ["/metrics"]
    parsed = GenerateKeyRequest(**body)
    assert parsed.allowed_routes == ["/metrics"]
    assert parsed.key_alias == "prometheus-scrape-dev"


def test_prometheus_scrape_config_uses_a_credentials_file_and_the_stack_ca():
    job = prometheus_scrape_config(settings_of("dev"))
    assert job["scheme"] == "https"
    assert job["static_configs"] == [{"targets": ["hx-litellm-server.hx.dev.local:4000"]}]
    assert job["authorization"]["type"] == "Bearer"
    assert "credentials_file" in job["authorization"] and "credentials" not in job["authorization"]
    assert "ca_file" in job["tls_config"]
    assert job["metrics_path"] == "/metrics/"


# ---- schema.prisma for the start-up drift check ------------------------------------------------


def test_unit_and_migration_run_where_the_install_step_links_schema_prisma():
    settings = settings_of("dev")
    paths = host_paths(settings)
    assert paths.schema_link == f"{paths.work_dir}/schema.prisma"
    unit = render_systemd_unit(settings, settings.litellm.hosts[0])
    assert f"WorkingDirectory={paths.work_dir}" in unit.splitlines()
    assert f"-p WorkingDirectory={paths.work_dir}" in migrate_script(settings)
    script = install_script(settings)
    for line in schema_link_lines(settings):
        assert line in script
    assert f'ln -sfn "$SCHEMA" {paths.schema_link}' in script
    # linked before prisma generate uses $SCHEMA, after the venv and the version check
    assert script.index("ln -sfn") < script.index("prisma generate")
    assert script.index("expected litellm") < script.index("ln -sfn")
