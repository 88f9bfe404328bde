"""The env file and unit a host receives: secrets only in the env file, quoted for systemd."""

import subprocess

import pytest

from offline.stack_inputs import load_stack_inputs
from rendering.host_files import (
    venv_key,
    UNIT_HARDENING,
    proxy_args,
    render_env_file,
    render_systemd_unit,
    secret_env_names,
)


def dev():
    return load_stack_inputs("dev").settings()


def values_for(settings, **extra):
    values = {name: f"value-of-{name}" for name in secret_env_names(settings)}
    values.update(extra)
    return values


def test_secret_env_names_of_dev():
    assert secret_env_names(dev()) == [
        "LITELLM_MASTER_KEY", "LITELLM_SALT_KEY", "DATABASE_URL", "REDIS_PASSWORD", "UI_PASSWORD",
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


@pytest.mark.slow
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
        f"ExecStart=/opt/litellm/venvs/{venv_key(s)}/bin/litellm --config /etc/litellm/config.yaml --host 0.0.0.0 "
        "--port 4000 --num_workers 4 --ssl_keyfile_path /etc/litellm/tls/server.key "
        "--ssl_certfile_path /etc/litellm/tls/server.crt"
    )
    assert "value-of" not in unit and "sk-" not in unit


def test_proxy_args_without_tls():
    s = load_stack_inputs("local", overrides={"tls": {"enabled": False}}).settings()
    assert proxy_args(s) == [
        "--config", ".litellm-local/etc/config.yaml", "--host", "127.0.0.1", "--port", "4000", "--num_workers", "1",
    ]


# ---- the unit format: escaping, and no value can add a directive (issue 9) -------------------


def _directives(unit: str) -> list[str]:
    """Section/key of every setting line, the way systemd reads the file line by line."""
    out, section = [], ""
    for line in unit.splitlines():
        stripped = line.strip()
        if not stripped or stripped[0] in "#;":
            continue
        if stripped.startswith("["):
            section = stripped
            continue
        out.append(f"{section}{stripped.split('=', 1)[0]}")
    return out


def _bypass(settings, **litellm):
    """Settings as validation would never produce them (to test the renderer's own guard)."""
    return settings.model_copy(update={"litellm": settings.litellm.model_copy(update=litellm)})


def test_stop_timeouts_agree_with_routing_timeout():
    """LiteLLM's graceful shutdown waits as long as a request may last (routing.timeout, retries
    included); systemd waits 30 s more (LiteLLM's teardown); HAProxy's server timeout the same."""
    from rendering.haproxy_cfg import front_door_plan

    s = dev()
    unit = render_systemd_unit(s, s.litellm.hosts[0])
    budget = int(s.routing.timeout * (1 + s.routing.num_retries))
    assert f"Environment=GRACEFUL_SHUTDOWN_TIMEOUT={budget}\n" in unit
    assert f"TimeoutStopSec={budget + 30}\n" in unit
    assert front_door_plan(s).timeout_server_s == budget + 30


def test_the_unit_has_exactly_the_expected_directives():
    s = dev()
    assert _directives(render_systemd_unit(s, s.litellm.hosts[0])) == [
        "[Unit]Description", "[Unit]After", "[Unit]Wants",
        "[Service]Type", "[Service]User", "[Service]Group", "[Service]WorkingDirectory",
        # PRISMA_HOME_DIR, PRISMA_NODEENV_CACHE_DIR, GRACEFUL_SHUTDOWN_TIMEOUT, LITELLM_UI_PATH
        "[Service]EnvironmentFile", "[Service]Environment", "[Service]Environment", "[Service]Environment", "[Service]Environment", "[Service]ExecStart",
        "[Service]Restart", "[Service]RestartSec", "[Service]TimeoutStopSec", "[Service]LimitNOFILE",
        # the sandbox (rendering.host_files.UNIT_HARDENING; scored in tests/e2e/test_unit_sandbox.py)
        *[f"[Service]{line.split('=', 1)[0]}" for line in UNIT_HARDENING],
        "[Service]ReadWritePaths", "[Install]WantedBy",
    ]


@pytest.mark.parametrize(
    "field,value",
    [
        ("system_user", "litellm\nExecStartPre=+/bin/sh -c id"),
        ("bind_host", "0.0.0.0\nExecStartPre=+/bin/sh -c id"),
        ("install_dir", "/opt/litellm\nExecStartPre=+/bin/sh -c id"),
        ("config_dir", "/etc/litellm\rExecStartPre=+/bin/sh -c id"),
    ],
)
def test_a_line_break_never_reaches_the_unit(field, value):
    s = _bypass(dev(), **{field: value})
    with pytest.raises(ValueError, match="cannot contain a line break"):
        render_systemd_unit(s, s.litellm.hosts[0])


def test_percent_dollar_quotes_and_spaces_are_escaped_for_systemd():
    from rendering.host_files import unit_exec_word, unit_value

    assert unit_value("/opt/50%/x") == "/opt/50%%/x"
    assert unit_exec_word("/opt/litellm/venv/bin/litellm") == "/opt/litellm/venv/bin/litellm"
    assert unit_exec_word("a b") == '"a b"'
    assert unit_exec_word("%h") == '"%%h"'
    assert unit_exec_word("$HOME") == '"$$HOME"'
    assert unit_exec_word('q"z\\') == '"q\\"z\\\\"'


@pytest.mark.slow
def test_systemd_analyze_accepts_the_escaped_unit_and_refuses_it_unescaped(tmp_path):
    """`systemd-analyze verify` parses the rendered unit: with a `%` in every path (possible only
    past validation) the escaped unit is valid; the same text without escaping is not."""
    install = tmp_path / "opt%litellm"
    venv = install / "venvs" / venv_key(dev())
    (venv / "bin").mkdir(parents=True)
    exe = venv / "bin" / "litellm"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    conf = tmp_path / "etc%litellm"
    conf.mkdir()
    (conf / "litellm.env").write_text("")
    s = _bypass(dev(), install_dir=str(install), config_dir=str(conf), system_user="root")
    unit = render_systemd_unit(s, s.litellm.hosts[0])
    assert f"WorkingDirectory={tmp_path}/opt%%litellm/venvs/{venv_key(s)}\n" in unit
    assert f'ExecStart="{tmp_path}/opt%%litellm/venvs/{venv_key(s)}/bin/litellm" --config "{tmp_path}/etc%%litellm/config.yaml"' in unit

    def verify(text: str) -> subprocess.CompletedProcess:
        path = tmp_path / "units" / "litellm.service"
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
        return subprocess.run(["systemd-analyze", "verify", str(path)], capture_output=True, text=True)

    ok = verify(unit)
    assert ok.returncode == 0, ok.stderr
    # unescaped, systemd expands `%l` (the host name) inside the path: another, missing file
    bad = verify(unit.replace("%%", "%"))
    assert bad.returncode != 0, bad.stderr
    assert "is not executable" in bad.stderr and "opt%litellm" not in bad.stderr, bad.stderr


# ---- the Admin UI (issue 20) ----------------------------------------------------------------------

SSO = {"provider": "generic", "client_id": "litellm-gw", "authorization_endpoint": "https://idp.example/auth",
       "token_endpoint": "https://idp.example/token", "userinfo_endpoint": "https://idp.example/userinfo",
       "scope": "openid email profile", "password_login": False}
UI_PW = "ui-password-of-the-test-0123"
SSO_SECRET = "sso-client-secret-of-the-test-4567"


def _env_lines(text):
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_admin_ui_off_by_default_disables_the_ui_and_every_env_login():
    from rendering.litellm_yaml import render_litellm_config

    s = load_stack_inputs("local").settings()
    assert not s.admin_ui.enabled
    lines = _env_lines(render_env_file(s, values_for(s)))
    assert 'DISABLE_ADMIN_UI="True"' in lines
    assert not [line for line in lines if line.startswith(("UI_USERNAME=", "UI_PASSWORD="))]
    general = render_litellm_config(s)["general_settings"]
    # the static /ui and POST /login stay served by LiteLLM: no env credential (nor the master key) signs in
    assert general["disable_env_credential_login"] is True


def test_admin_ui_on_has_its_own_user_and_secret_password():
    from rendering.litellm_yaml import render_litellm_config

    s = dev()
    assert s.admin_ui.enabled and s.admin_ui.username == "gateway-admin"
    text = render_env_file(s, values_for(s, UI_PASSWORD=UI_PW))
    lines = _env_lines(text)
    assert 'DISABLE_ADMIN_UI="False"' in lines and 'UI_USERNAME="gateway-admin"' in lines
    assert f'UI_PASSWORD="{UI_PW}"' in lines
    redacted = render_env_file(s, redact=True)
    assert UI_PW not in redacted and 'UI_PASSWORD="[secret]"' in redacted
    general = render_litellm_config(s)["general_settings"]
    assert "disable_env_credential_login" not in general and "disable_password_login_when_sso_enabled" not in general


def test_admin_ui_sso_settings_pass_through_with_the_client_secret_as_a_secret():
    from rendering.litellm_yaml import render_litellm_config

    s = load_stack_inputs("dev", overrides={"adminUi": {"enabled": True, "username": "gateway-admin", "sso": SSO}},
                          secrets={"uiPassword": UI_PW, "uiSsoClientSecret": SSO_SECRET}).settings()
    assert secret_env_names(s)[4:6] == ["UI_PASSWORD", "GENERIC_CLIENT_SECRET"]
    lines = _env_lines(render_env_file(s, values_for(s, UI_PASSWORD=UI_PW, GENERIC_CLIENT_SECRET=SSO_SECRET)))
    for line in ('GENERIC_CLIENT_ID="litellm-gw"', 'GENERIC_AUTHORIZATION_ENDPOINT="https://idp.example/auth"',
                 'GENERIC_TOKEN_ENDPOINT="https://idp.example/token"',
                 'GENERIC_USERINFO_ENDPOINT="https://idp.example/userinfo"', 'GENERIC_SCOPE="openid email profile"',
                 'PROXY_BASE_URL="https://litellm.hx.dev.local:4000"', f'GENERIC_CLIENT_SECRET="{SSO_SECRET}"'):
        assert line in lines, line
    assert render_litellm_config(s)["general_settings"]["disable_password_login_when_sso_enabled"] is True
    redacted = render_env_file(s, redact=True)
    assert SSO_SECRET not in redacted and UI_PW not in redacted


def test_the_env_names_the_ui_uses_are_the_pinned_litellms():
    """Every name rendered is one the pinned proxy reads (ui_sso.py, login_utils.py, admin_ui_utils.py)."""
    from pathlib import Path

    import litellm

    from config.host_env import UI_PLAIN_ENV_NAMES, UI_SECRET_ENV_NAMES

    proxy = Path(litellm.__file__).parent / "proxy"
    sources = "".join(p.read_text() for p in [
        proxy / "management_endpoints" / "ui_sso.py", proxy / "auth" / "login_utils.py",
        proxy / "common_utils" / "admin_ui_utils.py", proxy / "auth" / "auth_utils.py"])
    for name in sorted(UI_PLAIN_ENV_NAMES | UI_SECRET_ENV_NAMES):
        assert f'"{name}"' in sources, name
