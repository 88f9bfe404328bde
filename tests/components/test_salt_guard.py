"""The salt-key guard: a changed salt key is refused unless saltKeyRotation gives a new reason.

Under the mock engine: the real program declares the guard with an HMAC fingerprint (never the
value), the env file's salt key waits for the guard, the generated salt key and the fingerprint key
are protected and retained. Through Pulumi's real dynamic-provider host (`python -m pulumi.dynamic`,
tests/support/dynamic_host.py) with the `__provider` the program produces: check() refuses a changed
fingerprint, accepts it with a new rotation reason, refuses a second change with the same reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from components.salt_guard import ROTATION_KEY, UNKNOWN, rotation_failure, salt_fingerprint
from offline.engine import default_outputs, run_stack
from tests.support.dynamic_host import PROVIDER_KEY, DynamicProviderHost, Secret, dynamic_type_token, dynamic_urn

GUARD = dynamic_type_token("gateway", "SaltKeyGuard")
PASSWORD = "random:index/randomPassword:RandomPassword"
PROJECT_DIR = str(Path(__file__).resolve().parents[2])
SALT_A = "salt-A-$(touch /tmp/x)'\"%\\"
SALT_B = "salt-B-0123456789"


def run_with(salt: str | None, rotation: str | None = None):
    secrets = {"saltKey": salt} if salt is not None else {}
    overrides = {ROTATION_KEY: rotation} if rotation is not None else {}
    return run_stack("dev", secrets=secrets, overrides=overrides)


def guard_of(run):
    return run.one(GUARD)


def fingerprint_key_of(run) -> str:
    [key] = [r for r in run.of_type(PASSWORD) if r.name.endswith("-salt-fingerprint-key")]
    return default_outputs(key.type, key.name, key.inputs)["result"]


@pytest.fixture(scope="module")
def run_a():
    return run_with(SALT_A)


def test_the_guard_records_an_hmac_fingerprint_never_the_value(run_a):
    guard = guard_of(run_a)
    fp = guard.inputs["fingerprint"]
    assert fp == salt_fingerprint(fingerprint_key_of(run_a), SALT_A)
    assert fp.startswith("hmac-sha256:") and SALT_A not in fp
    assert "fingerprint" not in guard.secret_inputs  # keyed: reveals nothing, so previews show it
    assert guard.inputs.get("rotation") is None
    assert run_a.plain_inputs_carrying({SALT_A}) == []


def test_fingerprint_follows_the_salt_key_only(run_a):
    again = run_with(SALT_A)
    other = run_with(SALT_B)
    assert guard_of(again).inputs["fingerprint"] == guard_of(run_a).inputs["fingerprint"]
    assert guard_of(other).inputs["fingerprint"] != guard_of(run_a).inputs["fingerprint"]


def test_env_file_waits_for_the_guard_and_generated_keys_are_kept(run_a):
    env_files = [r for r in run_a.of_type("command:remote:Command") if r.name.endswith("-file-env")]
    quoted = SALT_A.replace("\\", "\\\\").replace('"', '\\"')
    # the salt key reaches the env file (through the guard's output: gateway.py), as a secret
    assert env_files and all(f'LITELLM_SALT_KEY="{quoted}"' in r.inputs["stdin"] for r in env_files)
    assert all("stdin" in r.secret_inputs for r in env_files)
    generated = run_with(None)
    by_suffix = {r.name.rsplit("-", 2)[-2] + "-" + r.name.rsplit("-", 1)[-1]: r for r in generated.of_type(PASSWORD)}
    for suffix in ("salt-key", "fingerprint-key"):
        res = by_suffix[suffix]
        assert res.protect is True and res.retain_on_delete is True, suffix
        assert set(res.ignore_changes) >= {"length", "special", "keepers"}


def test_rotation_reason_reaches_the_guard():
    assert guard_of(run_with(SALT_B, "2026-12 re-encrypt OPS-1")).inputs["rotation"] == "2026-12 re-encrypt OPS-1"


@pytest.mark.parametrize(
    "olds,news,refused",
    [
        ({}, {"fingerprint": "f1"}, False),  # first deploy
        ({"fingerprint": "f1"}, {"fingerprint": "f1"}, False),
        ({"fingerprint": "f1"}, {"fingerprint": "f2"}, True),
        ({"fingerprint": "f1"}, {"fingerprint": "f2", "rotation": "r1"}, False),
        ({"fingerprint": "f1", "rotation": "r1"}, {"fingerprint": "f2", "rotation": "r1"}, True),
        ({"fingerprint": "f1", "rotation": "r1"}, {"fingerprint": "f2", "rotation": "r2"}, False),
        ({"fingerprint": "f1", "rotation": "r1"}, {"fingerprint": "f2"}, True),
        # a preview of a salt key about to be generated (unknown): a change like any other (issue 16)
        ({"fingerprint": "f1"}, {"fingerprint": "04da6b54-80e4-46f7-96ec-b56ff0331ba9"}, True),
        ({"fingerprint": "f1", "source": "config"}, {"fingerprint": "04da6b54-80e4-46f7-96ec-b56ff0331ba9", "source": "generated"}, True),
        ({"fingerprint": "f1", "source": "config"}, {"fingerprint": "04da6b54-80e4-46f7-96ec-b56ff0331ba9", "source": "generated",
                                                     "rotation": "r1"}, False),
        ({}, {"fingerprint": "04da6b54-80e4-46f7-96ec-b56ff0331ba9"}, False),  # first deploy, generated
        # every reason that ever authorized a rotation is spent: A -> B -> A is refused (issue 16)
        ({"fingerprint": "f1", "rotation": "r2", "rotations": ["r1", "r2"]}, {"fingerprint": "f3", "rotation": "r1"}, True),
        ({"fingerprint": "f1", "rotation": "r2", "rotations": ["r1", "r2"]}, {"fingerprint": "f3", "rotation": "r3"}, False),
    ],
)
def test_rotation_rule(olds, news, refused):
    assert (rotation_failure(olds, news) is not None) is refused


@pytest.mark.slow
def test_check_through_the_real_dynamic_provider_host(run_a):
    guard = guard_of(run_a)
    provider = guard.inputs[PROVIDER_KEY]
    urn = dynamic_urn("dev", "litellm-gateway", GUARD, guard.name)
    fp_a = guard.inputs["fingerprint"]
    fp_b = guard_of(run_with(SALT_B)).inputs["fingerprint"]

    def props(fp, rotation=None):
        return {"fingerprint": fp, "rotation": rotation, PROVIDER_KEY: Secret(provider)}

    with DynamicProviderHost(PROJECT_DIR) as host:
        host.configure({})
        _, failures = host.check(urn, {}, props(fp_a))
        assert failures == []
        id_, outs = host.create(urn, props(fp_a))
        assert outs["fingerprint"] == fp_a
        # same salt: fine
        assert host.check(urn, props(fp_a), props(fp_a))[1] == []
        # changed salt, no flag: refused, and the message says how to proceed
        _, failures = host.check(urn, props(fp_a), props(fp_b))
        assert len(failures) == 1 and failures[0][0] == "fingerprint"
        assert "cannot decrypt" in failures[0][1] and f"pulumi config set {ROTATION_KEY}" in failures[0][1]
        # with a reason: accepted and recorded
        assert host.check(urn, props(fp_a), props(fp_b, "r1"))[1] == []
        outs = host.update(id_, urn, props(fp_a), props(fp_b, "r1"))
        assert outs["rotation"] == "r1"
        # the same reason does not authorize the next change
        _, failures = host.check(urn, props(fp_b, "r1"), props(fp_a, "r1"))
        assert len(failures) == 1 and "already authorized an earlier rotation" in failures[0][1]


@pytest.mark.slow
def test_no_reason_authorizes_twice_and_a_generated_key_fails_the_preview(run_a):
    """Issue 16, through Pulumi's dynamic-provider host, each step's olds being the inputs the
    previous check returned (what the engine records): r1 then r2 then r1 again is refused; and
    removing saltKey (the program then declares source "generated"; the new key's fingerprint is
    unknown in the preview) is refused in the preview, before `up` creates that key."""
    guard = guard_of(run_a)
    provider = guard.inputs[PROVIDER_KEY]
    urn = dynamic_urn("dev", "litellm-gateway", GUARD, guard.name)
    assert guard.inputs["source"] == "config"
    fp_a = guard.inputs["fingerprint"]
    fp_b = guard_of(run_with(SALT_B)).inputs["fingerprint"]
    generated_preview = guard_of(run_stack("dev", preview=True))
    assert generated_preview.inputs["source"] == "generated"
    # (the mock engine resolves a new RandomPassword even in a preview; the real engine does not: a
    # resource to be created has unknown outputs in a preview, so check sees UNKNOWN, as below)

    def props(fp, rotation=None, source="config"):
        return {"fingerprint": fp, "rotation": rotation, "rotations": None, "source": source, PROVIDER_KEY: Secret(provider)}

    with DynamicProviderHost(PROJECT_DIR) as host:
        host.configure({})
        recorded, failures = host.check(urn, {}, props(fp_a))
        assert failures == []
        id_, _ = host.create(urn, recorded)
        for fp, reason in ((fp_b, "r1"), (fp_a, "r2")):
            news, failures = host.check(urn, recorded, props(fp, reason))
            assert failures == [], failures
            host.update(id_, urn, recorded, news)
            recorded = news
        assert recorded["rotations"] == ["r1", "r2"]
        _, failures = host.check(urn, recorded, props(fp_b, "r1"))
        assert len(failures) == 1 and "'r1' already authorized an earlier rotation" in failures[0][1]
        # saltKey removed: the preview's fingerprint is unknown and the source says why
        _, failures = host.check(urn, recorded, props(UNKNOWN, None, "generated"))
        assert len(failures) == 1 and "saltKey was removed from config" in failures[0][1]
        # deliberate: a new reason lets it through
        assert host.check(urn, recorded, props(UNKNOWN, "r3", "generated"))[1] == []


@pytest.mark.parametrize("value,expected", [
    ("", "at least 1 character"),
    ("line one\nExecStartPre=+/bin/sh", "should match pattern"),
    ("x" * 201, "at most 200 characters"),
])
def test_a_bad_rotation_reason_is_refused_with_its_key(value, expected):
    from config.loader import ConfigError, load_settings
    from offline.stack_inputs import PROJECT_DIR, load_stack_inputs

    inputs = load_stack_inputs("dev", overrides={ROTATION_KEY: value})
    with pytest.raises(ConfigError) as caught:
        load_settings("dev", inputs.config, inputs.secret_keys, project_dir=PROJECT_DIR)
    [problem] = caught.value.problems
    assert problem.startswith(f"stack 'dev': litellm-gateway:{ROTATION_KEY}: ") and expected in problem, problem
