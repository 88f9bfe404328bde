"""The Gateway hands each VirtualKey its rotation grace: the key's own, else keyDefaults.rotation_grace."""

from __future__ import annotations

import json

from offline.engine import run_stack
from offline.stack_inputs import load_stack_inputs

KEY = "pulumi-python:dynamic/litellm:VirtualKey"


def test_keys_get_the_stack_default_or_their_own_grace():
    base = load_stack_inputs("local", secrets={"masterKey": "sk-test-master-key-abcdefghijklmnop"})
    keys = json.loads(base.config["litellm-gateway:keys"])
    keys.append({**keys[0], "alias": "own-grace", "service": "own-grace", "rotation_grace": "2h"})
    run = run_stack(
        "local",
        secrets={"masterKey": "sk-test-master-key-abcdefghijklmnop"},
        overrides={"keys": keys, "keyDefaults": {"rotation_grace": "36h"}},
    )
    graces = {r.inputs["key_alias"]: r.inputs.get("rotation_grace") for r in run.of_type(KEY)}
    assert graces == {keys[0]["alias"]: "36h", "own-grace": "2h"}
