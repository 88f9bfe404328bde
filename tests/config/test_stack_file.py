"""The offline reader hands the program what the Pulumi CLI would (go-yaml v3 + Pulumi's config
stringification, see config/cli_values.py), and the loader accepts what the CLI sends."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from config.cli_values import (
    GoTime,
    cli_config_string,
    format_go_time,
    go_json_marshal,
    load_yaml_v3,
    parse_go_time,
    resolve_plain_scalar,
)
from config.loader import load_settings
from config.stack_file import read_stack_file
from offline.stack_inputs import PROJECT_DIR, load_stack_inputs

NOW = datetime(2026, 11, 30, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "text,expected",
    [
        # yaml.v3 resolve(): YAML 1.2-ish, unlike PyYAML's 1.1
        ("yes", "yes"), ("on", "on"), ("No", "No"), ("y", "y"),
        ("true", True), ("False", False), ("TRUE", True),
        ("~", None), ("null", None), ("", None),
        ("123", 123), ("0x1F", 31), ("0o17", 15), ("0755", 493), ("0b101", 5), ("1_000", 1000), ("-12", -12),
        ("1e3", 1000.0), ("1.5", 1.5), (".5", 0.5), ("3.0", 3.0),
        ("1.108.7", "1.108.7"), ("12:30", "12:30"), ("2027-13-45", "2027-13-45"),
    ],
)
def test_plain_scalars_resolve_like_yaml_v3(text, expected):
    value = resolve_plain_scalar(text)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(
    "text,go_string",
    [
        ("2027-06-30", "2027-06-30 00:00:00 +0000 UTC"),
        ("2027-6-3", "2027-06-03 00:00:00 +0000 UTC"),
        ("2027-06-30T12:30:00Z", "2027-06-30 12:30:00 +0000 UTC"),
        ("2027-06-30t12:30:00.25Z", "2027-06-30 12:30:00.25 +0000 UTC"),
        ("2027-06-30 12:30:00", "2027-06-30 12:30:00 +0000 UTC"),
        ("2027-06-30T12:30:00+02:00", "2027-06-30 12:30:00 +0200 +0200"),
    ],
)
def test_timestamps_become_go_time_strings(text, go_string):
    value = resolve_plain_scalar(text)
    assert isinstance(value, GoTime)
    assert str(value) == go_string == cli_config_string(value)
    assert parse_go_time(go_string) == value.value
    assert format_go_time(value.value) == go_string


def test_quoted_literal_and_tagged_scalars_stay_strings():
    doc = load_yaml_v3("a: '2027-06-30'\nb: \"123\"\nc: !!str 2027-06-30\nd: |\n  yes\ne: 2027-06-30\n")
    assert doc["a"] == "2027-06-30" and doc["b"] == "123" and doc["c"] == "2027-06-30" and doc["d"] == "yes\n"
    assert isinstance(doc["e"], GoTime)


def test_objects_are_json_as_go_marshals_them():
    doc = load_yaml_v3("z: 1\na: {when: 2027-06-30, n: 120.0, tags: [x, '<b>'], 1: one}\n")
    assert go_json_marshal(doc) == (
        '{"a":{"1":"one","n":120,"tags":["x","\\u003cb\\u003e"],"when":"2027-06-30 00:00:00 +0000 UTC"},"z":1}'
    )
    assert cli_config_string(True) == "true" and cli_config_string(5) == "5" and cli_config_string("s") == "s"
    with pytest.raises(ValueError):
        go_json_marshal({"x": float("nan")})  # json.Marshal refuses it; so does the CLI


def _stack_file(tmp_path, body: str):
    (tmp_path / "Pulumi.t.yaml").write_text("config:\n" + body)
    return read_stack_file(tmp_path, "t")


def test_the_reader_hands_over_what_the_cli_would(tmp_path):
    sf = _stack_file(
        tmp_path,
        "  litellm-gateway:protect: yes\n"
        "  litellm-gateway:environment: 2027-06-30\n"
        "  litellm-gateway:port: 0x10\n"
        "  litellm-gateway:keys:\n"
        "    - {alias: a, service: s, expires: 2027-06-30}\n"
        "  litellm-gateway:masterKey:\n"
        "    secure: v1:abc\n",
    )
    assert sf.config["litellm-gateway:protect"] == "yes"  # a string for the CLI, not a YAML 1.1 bool
    assert sf.config["litellm-gateway:environment"] == "2027-06-30 00:00:00 +0000 UTC"
    assert sf.config["litellm-gateway:port"] == "16"
    assert json.loads(sf.config["litellm-gateway:keys"]) == [
        {"alias": "a", "expires": "2027-06-30 00:00:00 +0000 UTC", "service": "s"}
    ]
    assert sf.encrypted_keys == {"litellm-gateway:masterKey"}


def test_an_unquoted_expiry_in_the_stack_file_is_accepted_as_the_cli_sends_it():
    """The README's `expires: 2027-06-30` (unquoted), as `pulumi up` delivers it."""
    key = {"alias": "k", "service": "svc", "models": ["llama3.2"], "expires": "2027-06-30 00:00:00 +0000 UTC"}
    inputs = load_stack_inputs("local", secrets={"masterKey": "sk-test-master-key-abcdefghijklmnop"}, overrides={"keys": [key]})
    settings = load_settings("local", inputs.config, inputs.secret_keys, project_dir=PROJECT_DIR, now=NOW)
    assert settings.keys[0].expires == datetime(2027, 6, 30, tzinfo=timezone.utc)


def test_numeric_secrets_reach_the_loader_as_strings(tmp_path):
    inputs = load_stack_inputs("dev", secrets={"postgresAdminPassword": "123456", "dnsAdminPassword": "42", "saltKey": "0.5"})
    assert inputs.config["litellm-gateway:postgresAdminPassword"] == "123456"  # what the CLI decrypts
    settings = load_settings("dev", inputs.config, inputs.secret_keys, project_dir=PROJECT_DIR, now=NOW)
    assert settings.secrets.postgres_admin_password.get_secret_value() == "123456"
    assert settings.secrets.dns_admin_password.get_secret_value() == "42"
    assert settings.secrets.salt_key.get_secret_value() == "0.5"


def test_the_committed_stacks_read_the_same_through_the_cli_view():
    for stack in ("dev", "local"):
        settings = load_stack_inputs(stack).settings()
        assert settings.stack == stack
