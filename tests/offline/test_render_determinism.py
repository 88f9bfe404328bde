"""Two renders of one stack are byte-identical: resources.json sorted by URN with sorted keys, every
other file stable (issue 18)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from offline.engine import run_stack
from offline.render import dumps_document, render_inputs, resources_document
from offline.stack_inputs import load_stack_inputs


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("stack", ["dev-ha", "kube"])
def test_two_renders_of_one_stack_are_byte_identical(stack, tmp_path, capsys):
    first, second = tmp_path / "a", tmp_path / "b"
    assert render_inputs(load_stack_inputs(stack), first) == 0
    assert render_inputs(load_stack_inputs(stack), second) == 0
    a, b = _files(first), _files(second)
    assert a.keys() == b.keys() and len(a) >= 3
    assert [name for name in a if a[name] != b[name]] == []
    # the printed tree is stable too
    runs = [part.split("wrote:")[0] for part in capsys.readouterr().out.split(f"stack {stack}: ")[1:]]
    assert len(runs) == 2
    assert runs[0].split("note:")[0] == runs[1].split("note:")[0]


def test_resources_json_does_not_depend_on_registration_order():
    run = run_stack("dev-ha")
    before = dumps_document(resources_document(run))
    for seed in range(3):
        random.Random(seed).shuffle(run.resources)
        for r in run.resources:
            random.Random(seed).shuffle(r.depends_on)
        assert dumps_document(resources_document(run)) == before
    doc = json.loads(before)
    urns = [r["urn"] for r in doc["resources"]]
    assert urns == sorted(urns)
    assert before == json.dumps(doc, indent=2, sort_keys=True) + "\n"
    # what a plan needs from a render is in it
    service = next(r for r in doc["resources"] if r["name"].endswith("hx-litellm-server-2-service"))
    assert service["custom"] is True and service["depends_on"]
