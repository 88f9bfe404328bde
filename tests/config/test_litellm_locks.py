"""Per-stack LiteLLM releases (issue 20): one hashed lock per release (locks/litellm-<v>.lock), the
stack's litellm.version chooses it, a release without a lock is refused for ssh and kubernetes with
the list of the releases that have one, and two stacks of one commit deploy different releases.

The second release's lock is a fixture (tests/config/locks_fixture/, resolved from PyPI by the real
`make lock VERSION=1.108.6`): it is not in locks/, so no stack can deploy it; the tests point
config.litellm_locks at a directory holding it and the real 1.108.7 lock.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from config import litellm_locks
from config.kubernetes_settings import image_reference
from config.litellm_settings import PINNED_LITELLM_VERSION
from config.loader import ConfigError
from offline.engine import run_program
from offline.stack_inputs import load_stack_inputs
from rendering import host_scripts as hs
from rendering.host_files import host_paths

FIXTURE = Path(__file__).resolve().parent / "locks_fixture"
NEXT = "1.108.6"


@pytest.fixture
def two_locks(tmp_path, monkeypatch):
    d = tmp_path / "locks"
    d.mkdir()
    shutil.copy(litellm_locks.lock_file(PINNED_LITELLM_VERSION), d)
    shutil.copy(FIXTURE / f"litellm-{NEXT}.lock", d)
    monkeypatch.setattr(litellm_locks, "LOCKS_DIR", d)
    return d


def _with_version(stack: str, version: str):
    base = load_stack_inputs(stack)
    litellm = base.settings().litellm.model_dump(exclude_unset=True)
    return load_stack_inputs(stack, overrides={"litellm": {**litellm, "version": version}})


def test_the_committed_locks_are_the_pinned_release_only():
    assert litellm_locks.locked_versions() == [PINNED_LITELLM_VERSION]
    assert litellm_locks.lock_text(NEXT) is None


def test_two_stacks_of_one_commit_deploy_different_releases(two_locks):
    assert litellm_locks.locked_versions() == [NEXT, PINNED_LITELLM_VERSION]
    staging, prod = _with_version("dev-ha", NEXT), _with_version("dev", PINNED_LITELLM_VERSION)
    s_staging, s_prod = staging.settings(), prod.settings()
    assert hs.install_stdin(s_staging) == (FIXTURE / f"litellm-{NEXT}.lock").read_text()
    assert f"\nlitellm=={NEXT} \\" in hs.install_stdin(s_staging)
    assert hs.install_stdin(s_prod) == litellm_locks.lock_file(PINNED_LITELLM_VERSION).read_text()
    assert f"\nlitellm=={PINNED_LITELLM_VERSION} \\" in hs.install_stdin(s_prod)
    assert host_paths(s_staging).venv.split("/")[-1].startswith(NEXT + "-")
    assert host_paths(s_prod).venv.split("/")[-1].startswith(PINNED_LITELLM_VERSION + "-")
    # the whole program under the mock engine: each stack's install steps ship its own lock
    for inputs, version in ((staging, NEXT), (prod, PINNED_LITELLM_VERSION)):
        run = run_program(inputs.stack, inputs.config, inputs.secret_keys)
        installs = [r for r in run.resources if r.name.endswith("-install") and "frontdoor" not in r.name]
        assert len(installs) == len(inputs.settings().litellm.hosts), [r.name for r in run.resources]
        for r in installs:
            assert r.inputs["stdin"] == litellm_locks.lock_text(version), r.name


def test_kubernetes_image_follows_the_same_allow_list(two_locks):
    assert image_reference(_with_version("kube", NEXT).settings()).endswith(f":main-v{NEXT}")
    with pytest.raises(ConfigError) as e:
        _with_version("kube", "1.108.5").settings()
    assert str(e.value).splitlines()[1:] == [
        "  - stack 'kube': litellm-gateway:litellm.version: LiteLLM 1.108.5 has no hashed lock (locks/litellm-1.108.5.lock); "
        f"expected one of the releases with a lock: {NEXT}, {PINNED_LITELLM_VERSION}; add one with `make lock VERSION=1.108.5` and commit it"]


def test_ssh_refuses_a_release_without_a_lock_naming_the_available_ones(two_locks):
    with pytest.raises(ConfigError) as e:
        _with_version("dev", "1.108.5").settings()
    assert f"stack 'dev': litellm-gateway:litellm.version: LiteLLM 1.108.5 has no hashed lock (locks/litellm-1.108.5.lock); " \
           f"expected one of the releases with a lock: {NEXT}, {PINNED_LITELLM_VERSION}" in str(e.value)


def test_a_local_deploy_falls_back_to_the_exact_top_level_pins(two_locks):
    settings = _with_version("local", "1.108.5").settings()
    assert hs.requirements_lock(settings) is None
    assert "litellm[proxy]==1.108.5" in hs.requirements_text(settings)


def test_a_lock_named_after_another_release_is_refused(two_locks):
    (two_locks / "litellm-1.108.9.lock").write_text(litellm_locks.lock_file(PINNED_LITELLM_VERSION).read_text())
    with pytest.raises(ValueError, match=r"litellm-1.108.9.lock is named after litellm 1.108.9 but pins litellm 1.108.7; "
                       r"re-run `make lock VERSION=1.108.9`"):
        litellm_locks.lock_text("1.108.9")
    assert litellm_locks.locked_versions() == [NEXT, PINNED_LITELLM_VERSION, "1.108.9"]
