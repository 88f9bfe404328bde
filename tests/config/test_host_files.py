"""The env file and unit a host receives: secrets only in the env file, quoted for systemd."""

import subprocess

import pytest

from config.host_files import (
    proxy_args,
    render_env_file,
    render_systemd_unit,
    secret_env_names,
)
from offline.stack_inputs import load_stack_inputs


def dev():
    return load_stack_inputs("dev").settings()


def values_for(settings, **extra):
    values = {name: f"value-of-{name}" for name in secret_env_names(settings)}
    values.update(extra)
    return values


def test_secret_env_names_of_dev():
    assert secret_env_names(dev()) == [
        "LITELLM_MASTER_KEY", "LITELLM_SALT_KEY", "DATABASE_URL", "REDIS_PASSWORD",
        "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "SLACK_WEBHOOK_URL",
    ]


def test_env_file_has_production_settings_and_every_secret():
    s = dev()
    text = render_env_file(s, values_for(s))
    for line in ('LITELLM_MODE="PRODUCTION"', 'LITELLM_LOCAL_MODEL_COST_MAP="True"', 'STORE_MODEL_IN_DB="True"',
                 'DISABLE_SCHEMA_UPDATE="True"'):
        assert line in text.splitlines()
    assert 'OPENAI_API_KEY="value-of-OPENAI_API_KEY"' in text.splitlines()


def test_redacted_env_file_shows_no_value():
    s = dev()
    text = render_env_file(s, redact=True)
    assert "value-of" not in text
    assert 'LITELLM_MASTER_KEY="[secret]"' in text.splitlines()


def test_env_file_quoting_survives_systemd_parsing(tmp_path):
    # systemd-style parsing, checked with bash (same double-quote and backslash rules for these)
    s = dev()
    tricky = 'p@ss "quoted" \\back $HOME'
    path = tmp_path / "env"
    path.write_text(render_env_file(s, values_for(s, DATABASE_URL=tricky)))
    out = subprocess.run(["bash", "-c", f'set -a; . "{path}"; printf %s "$DATABASE_URL"'],
                         capture_output=True, text=True, check=True).stdout
    # bash expands $HOME inside double quotes where systemd does not; everything else must match
    assert out.startswith('p@ss "quoted" \\back ')


def test_newlines_in_values_are_refused():
    s = dev()
    with pytest.raises(ValueError, match="newlines"):
        render_env_file(s, values_for(s, OPENAI_API_KEY="a\nb"))


def test_missing_value_is_an_error_not_an_empty_line():
    s = dev()
    values = values_for(s)
    del values["ANTHROPIC_API_KEY"]
    with pytest.raises(KeyError, match="ANTHROPIC_API_KEY"):
        render_env_file(s, values)


def test_unit_runs_the_proxy_with_the_configured_flags_and_no_secret():
    s = dev()
    unit = render_systemd_unit(s, s.litellm.hosts[0])
    assert "EnvironmentFile=/etc/litellm/litellm.env" in unit
    exec_line = next(l for l in unit.splitlines() if l.startswith("ExecStart="))
    assert exec_line == (
        "ExecStart=/opt/litellm/venv/bin/litellm --config /etc/litellm/config.yaml --host 0.0.0.0 "
        "--port 4000 --num_workers 4 --ssl_keyfile_path /etc/litellm/tls/server.key "
        "--ssl_certfile_path /etc/litellm/tls/server.crt"
    )
    assert "value-of" not in unit and "sk-" not in unit


def test_proxy_args_without_tls():
    s = load_stack_inputs("local", overrides={"tls": {"enabled": False}}).settings()
    assert proxy_args(s) == [
        "--config", ".litellm-local/etc/config.yaml", "--host", "127.0.0.1", "--port", "4000", "--num_workers", "1",
    ]
