"""`make plan` (offline/plan.py): the steps `pulumi up` would take between two renders, as markdown."""

from __future__ import annotations

import json

import pytest

from offline.engine import run_stack
from offline.plan import catalog_changes, document_of, host_restarts, markdown, plan, run_from_document
from offline.stack_inputs import load_stack_inputs

H1, H2 = "litellm-dev-ha-hx-litellm-server", "litellm-dev-ha-hx-litellm-server-2"


def _doc(stack: str, **overrides) -> dict:
    return document_of(run_stack(stack, overrides=overrides or None))


def _plan(old: dict, new: dict):
    # through resources.json, exactly as the command plans from BASE's render
    return plan(run_from_document(json.loads(json.dumps(old))), run_from_document(json.loads(json.dumps(new))))


@pytest.fixture(scope="module")
def dev_ha() -> dict:
    return _doc("dev-ha")


def test_an_unchanged_stack_prints_no_change(dev_ha):
    p = _plan(dev_ha, _doc("dev-ha"))
    assert p.changes() == []
    text = markdown(p, "dev-ha", "`HEAD`")
    # a host's rollout is one step on the host, front door included (issues 15, 14): no drain/enable steps
    assert f"No changes ({len(dev_ha['resources'])} resources unchanged)." in text
    assert not any(r["name"].endswith(("-drain", "-enable")) for r in dev_ha["resources"])
    assert "restart" not in text.lower() and "|" not in text


def test_a_one_line_catalog_edit_prints_exactly_that_change():
    keys = json.loads(load_stack_inputs("local").config["litellm-gateway:keys"])
    assert keys[0]["alias"] == "local-dev" and keys[0]["max_budget"] == 5
    edited = [{**keys[0], "max_budget": 7.5}, *keys[1:]]
    p = _plan(_doc("local"), _doc("local", keys=edited))
    assert [(s.op, s.name, s.changed) for s in p.changes()] == [("update", "litellm-local-key-local-dev", ["max_budget"])]
    assert host_restarts(p) == []
    assert catalog_changes(p) == ["key `local-dev` max_budget: 5.0 → 7.5"]
    text = markdown(p, "local", "`main`")
    assert "1 to update, " in text and "- key `local-dev` max_budget: 5.0 → 7.5" in text
    assert "Host restarts" not in text


def test_a_routing_change_restarts_each_host_once_in_rollout_order(dev_ha):
    routing = json.loads(load_stack_inputs("dev-ha").config["litellm-gateway:routing"])
    p = _plan(dev_ha, _doc("dev-ha", routing={**routing, "timeout": 90}))
    # the unit too: its stop timeouts follow routing.timeout (rendering.host_files.shutdown_timeout_s)
    assert host_restarts(p) == [(H1, "restart", ["config", "unit"]), (H2, "restart", ["config", "unit"])]
    assert {s.op for s in p.changes()} == {"update"} and catalog_changes(p) == []
    text = markdown(p, "dev-ha", "`main`")
    assert f"1. `{H1}`: restart (config, unit)\n2. `{H2}`: restart (config, unit)" in text
    assert text.count(": restart (") == 2


def test_a_rotation_is_a_replace_and_a_removed_team_a_delete_after_its_keys():
    old = _doc("dev")
    import yaml
    from offline.engine import PROJECT_DIR

    catalog = yaml.safe_load((PROJECT_DIR / "config/catalogs/dev.yaml").read_text())
    teams = [t for t in catalog["teams"] if t["team_id"] != "product-apps"]
    keys = [k for k in catalog["keys"] if k.get("team") != "product-apps"]
    keys[0] = {**keys[0], "rotation_trigger": "leaked-2026-12"}
    for k in keys:  # dates as the CLI would hand them over
        k.pop("expires", None)
    new = _doc("dev", catalogFiles=[], teams=teams, keys=keys)
    p = _plan(old, new)
    ops = p.ops()
    assert ops["litellm-dev-key-langchain-dev"] == "replace"
    assert ops["litellm-dev-team-product-apps"] == "delete" and ops["litellm-dev-key-copilotkit-dev"] == "delete"
    order = [s.name for chain in p.deletes for s in chain]
    assert order.index("litellm-dev-key-copilotkit-dev") < order.index("litellm-dev-team-product-apps")
    lines = catalog_changes(p)
    assert "team `product-apps` removed" in lines
    assert any(line.startswith("key `langchain-dev` rotation_trigger:") and "rotation" in line for line in lines)


def test_a_base_render_without_dependencies_still_plans(dev_ha):
    # a render from before resources.json recorded dependencies (older BASE commits)
    legacy = {**dev_ha, "resources": [{k: v for k, v in r.items() if k not in ("custom", "depends_on", "aliases")} for r in dev_ha["resources"]]}
    assert _plan(legacy, dev_ha).changes() == []
