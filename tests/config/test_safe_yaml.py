"""A catalog file or stack config cannot take the loader down (issue 16): alias bombs, recursive
anchors, duplicate keys, huge integers and non-finite numbers are config errors naming the file (or
key) and what is wrong, never a hang, a traceback or a silently dropped value."""

from __future__ import annotations

import shutil

import pytest

from config import safe_yaml
from config.cli_values import load_yaml_v3
from config.loader import ConfigError, load_settings
from offline.stack_inputs import PROJECT_DIR, load_stack_inputs
from tests.config.test_bad_inputs import NOW, apply

BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
)  # 9^9 leaves


def _project_with_catalog(tmp_path, text: str):
    (tmp_path / "config" / "catalogs").mkdir(parents=True)
    shutil.copy(PROJECT_DIR / "config" / "catalogs" / "dev.yaml", tmp_path / "config" / "catalogs" / "dev.yaml")
    (tmp_path / "config" / "catalogs" / "bad.yaml").write_text(text)
    return tmp_path


def _load_dev_with_catalog(tmp_path, text: str) -> list[str]:
    project = _project_with_catalog(tmp_path, text)
    config, secret_keys = apply("dev", {"catalogFiles": ["config/catalogs/dev.yaml", "config/catalogs/bad.yaml"]}, {})
    with pytest.raises(ConfigError) as info:
        load_settings("dev", config, secret_keys, project_dir=project, now=NOW)
    return info.value.problems


@pytest.mark.parametrize(
    "text,expected",
    [
        (BOMB + "models: []\n", "alias bomb"),
        ("models: &m [*m]\n", "recursive anchor"),
        ("models: []\nmodels: []\n", "duplicate key 'models'"),
        ("teams:\n  - team_id: t1\n    max_budget: 1\n    max_budget: 1000\n", "duplicate key 'max_budget'"),
        ("teams:\n  - team_id: t1\n    max_budget: " + "9" * 5000 + "\n", "is not valid YAML"),
        ("teams:\n  - team_id: t1\n    max_budget: .inf\n", "teams[0].max_budget: inf is not a number"),
        ("teams:\n  - team_id: t1\n    max_budget: .nan\n", "teams[0].max_budget: nan is not a number"),
        ("models: [unclosed\n", "is not valid YAML"),
        ("? [a, b]\n: c\n", "is not valid YAML"),
    ],
    ids=["alias-bomb", "recursive-anchor", "duplicate-section", "duplicate-field", "huge-int", "inf", "nan", "syntax", "complex-key"],
)
def test_a_bad_catalog_file_is_a_config_error_naming_the_file(tmp_path, text, expected):
    problems = _load_dev_with_catalog(tmp_path, text)
    assert len(problems) == 1, problems
    assert problems[0].startswith("stack 'dev': config/catalogs/bad.yaml: is not valid YAML: "), problems
    assert expected in problems[0], problems


def test_anchors_within_the_limit_still_work():
    doc = safe_yaml.load("base: &b {provider: ollama_chat, api_base: 'http://h:11434'}\nmodels: [*b, *b]\n")
    assert doc["models"] == [doc["base"], doc["base"]]


@pytest.mark.parametrize(
    "key,raw,expected",
    [
        ("litellm-gateway:routing", '{"timeout": NaN}', "NaN is not a number"),
        ("litellm-gateway:routing", '{"timeout": Infinity}', "Infinity is not a number"),
        ("litellm-gateway:routing", '{"num_retries": ' + "1" * 5000 + "}", "integer string conversion"),
    ],
)
def test_bad_json_in_stack_config_is_a_config_error_naming_the_key(key, raw, expected):
    inputs = load_stack_inputs("local")
    config = {**inputs.config, key: raw}
    with pytest.raises(ConfigError) as info:
        load_settings("local", config, inputs.secret_keys, project_dir=PROJECT_DIR, now=NOW)
    assert any(p.startswith(f"stack 'local': {key}: is not valid: ") and expected in p for p in info.value.problems), info.value.problems


def test_stack_files_refuse_duplicate_keys_and_excessive_aliasing_like_go_yaml_v3():
    with pytest.raises(safe_yaml.YamlProblem, match="already defined"):
        load_yaml_v3("config:\n  a: 1\n  a: 2\n")
    with pytest.raises(safe_yaml.YamlProblem, match="excessive aliasing"):
        load_yaml_v3(BOMB)
