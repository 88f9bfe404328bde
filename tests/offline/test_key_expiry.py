"""Expiry is an event in a key's life (issue 20): a key whose `expires` has passed is kept in the
stack, reported by the render, and never turns every preview and up into a config error. Creating a
key that is already expired stays refused, by the provider at create time
(tests/components/litellm_admin/test_virtual_key_provider.py)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from config.catalog import expired_keys
from config.loader import load_settings
from offline.engine import run_program
from offline.render import render_inputs
from offline.stack_inputs import PROJECT_DIR, load_stack_inputs

AFTER_THE_DEV_CATALOG_EXPIRES = datetime(2027, 7, 1, tzinfo=timezone.utc)  # a dev key expires 2027-06-30


def test_the_dev_stack_loads_and_declares_every_key_after_one_expired():
    inputs = load_stack_inputs("dev")
    settings = load_settings("dev", inputs.config, inputs.secret_keys, project_dir=PROJECT_DIR, now=AFTER_THE_DEV_CATALOG_EXPIRES)
    expired = expired_keys(settings.keys, AFTER_THE_DEV_CATALOG_EXPIRES)
    assert expired and all(k.expires <= AFTER_THE_DEV_CATALOG_EXPIRES for k in expired)
    run = run_program("dev", inputs.config, inputs.secret_keys)
    declared = {r.inputs["key_alias"] for r in run.resources if r.type == "pulumi-python:dynamic/litellm:VirtualKey"}
    assert {k.alias for k in settings.keys} == declared  # the expired key stays a resource


def test_the_render_reports_an_expired_key(tmp_path, capsys):
    keys = json.loads(load_stack_inputs("local").config["litellm-gateway:keys"])
    keys[0]["expires"] = "2020-01-01T00:00:00Z"
    inputs = load_stack_inputs("local", overrides={"keys": keys})
    assert render_inputs(inputs, tmp_path) == 0
    out = capsys.readouterr().out
    alias = inputs.settings().keys[0].alias
    assert f"expired: key {alias} " in out and "expired at 2020-01-01T00:00:00+00:00" in out


def test_a_key_not_yet_expired_is_not_reported():
    settings = load_stack_inputs("dev").settings()
    assert expired_keys(settings.keys, datetime(2026, 1, 1, tzinfo=timezone.utc)) == []
