"""`litellm-gateway:keyDefaults` and a key's `rotation_grace` (config/key_defaults.py): validated at the
edge, errors name the stack and the key path."""

from __future__ import annotations

import pytest

from config.key_defaults import DEFAULT_ROTATION_GRACE, KeyDefaults
from config.loader import ConfigError, load_settings
from offline.stack_inputs import PROJECT_DIR, load_stack_inputs

P = "litellm-gateway"
MASTER = "sk-test-master-key-abcdefghijklmnop"


def dev_config(**overrides):
    inputs = load_stack_inputs("dev", secrets={"masterKey": MASTER}, overrides=overrides)
    return inputs.config, inputs.secret_keys


def test_default_grace_is_24h_and_a_key_may_override_it():
    settings = load_stack_inputs("dev", secrets={"masterKey": MASTER}).settings()
    assert settings.key_defaults == KeyDefaults() and settings.key_defaults.rotation_grace == DEFAULT_ROTATION_GRACE == "24h"
    config, secret = dev_config(keyDefaults={"rotation_grace": "7d"})
    settings = load_settings("dev", config, secret, project_dir=PROJECT_DIR)
    assert settings.key_defaults.rotation_grace == "7d"
    assert settings.keys and all(k.rotation_grace is None for k in settings.keys)


@pytest.mark.parametrize("value", ["0s", "30m", "24h", "7d", "2w", "366d"])
def test_good_graces(value):
    assert KeyDefaults(rotation_grace=value).rotation_grace == value


@pytest.mark.parametrize("value", ["24", "1mo", "-1h", "1.5h", "367d", "", "24 h"])
def test_bad_grace_names_stack_key_and_expectation(value):
    config, secret = dev_config(keyDefaults={"rotation_grace": value})
    with pytest.raises(ConfigError) as caught:
        load_settings("dev", config, secret, project_dir=PROJECT_DIR)
    problems = caught.value.problems
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"stack 'dev': {P}:keyDefaults.rotation_grace: "), problems
    assert "grace" in problems[0]


def test_unknown_key_in_key_defaults_is_refused():
    config, secret = dev_config(keyDefaults={"rotation_grase": "1h"})
    with pytest.raises(ConfigError) as caught:
        load_settings("dev", config, secret, project_dir=PROJECT_DIR)
    assert any("rotation_grase" in problem for problem in caught.value.problems)
