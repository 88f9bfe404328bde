"""The LiteLLM deployed to hosts is the one the tests boot, and every dependency is pinned exactly."""

import re
from importlib.metadata import version
from pathlib import Path

from config.litellm_settings import BLOCKED_LITELLM_VERSIONS, PINNED_LITELLM_VERSION, LiteLLMSettings
from offline.stack_inputs import load_stack_inputs

ROOT = Path(__file__).resolve().parents[2]


def requirement_lines(name: str) -> list[str]:
    lines = [l.split("#")[0].strip() for l in (ROOT / name).read_text().splitlines()]
    return [l for l in lines if l and not l.startswith("-r")]


def test_host_default_equals_the_tested_release():
    pins = dict(re.match(r"^([A-Za-z0-9_.\-\[\]]+)==(\S+)$", l).groups() for l in requirement_lines("requirements-test.txt"))
    assert pins["litellm[proxy]"] == PINNED_LITELLM_VERSION
    assert version("litellm") == PINNED_LITELLM_VERSION  # the release actually installed for the tests
    assert LiteLLMSettings.model_fields["version"].default == PINNED_LITELLM_VERSION
    assert PINNED_LITELLM_VERSION not in BLOCKED_LITELLM_VERSIONS


def test_committed_stacks_deploy_the_tested_release():
    for stack in ("dev", "local"):
        assert load_stack_inputs(stack).settings().litellm.version == PINNED_LITELLM_VERSION


def test_every_requirement_is_an_exact_pin():
    for name in ("requirements.txt", "requirements-test.txt"):
        for line in requirement_lines(name):
            assert re.match(r"^[A-Za-z0-9_.\-\[\]]+==[0-9][0-9A-Za-z.\-]*$", line), f"{name}: {line!r} is not an exact pin"


def test_runtime_requirements_cover_what_the_program_imports():
    names = {l.split("==")[0].lower() for l in requirement_lines("requirements.txt")}
    assert {"pulumi", "pulumi-command", "pulumi-random", "pulumi-postgresql", "pydantic", "pyyaml"} <= names
    assert not any(n.startswith("litellm") for n in names)  # the program never imports litellm


def test_callback_packages_are_the_ones_the_tests_boot():
    from config.observability import CALLBACK_PACKAGES

    pins = set(requirement_lines("requirements-test.txt"))
    for callback, packages in CALLBACK_PACKAGES.items():
        for package in packages:
            assert package in pins, f"{callback}: {package} is installed on hosts but not booted by the tests"
            name, wanted = package.split("==")
            assert version(name) == wanted
