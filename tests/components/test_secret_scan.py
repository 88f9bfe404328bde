"""Secret scan with hostile secrets: values full of shell, YAML, URL and systemd special characters
(`$()`, backticks, quotes, `%h`/`%%` specifiers, `#`, `: `, `&`, `@`, `/`, `?`, `+`, spaces,
backslashes, non-ASCII) must not appear - raw, JSON-escaped, env-file-quoted, URL-encoded (quote / quote_plus) or
base64 (standard and URL-safe, at every byte alignment, so a secret inside a longer encoded blob
is found too) - in any non-secret input of any resource of the whole program, in any command
string or trigger (even where that input is secret: pulumi-command prints commands, triggers show
in diffs), in a non-secret stack output, or in any file `make render` writes.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from offline.engine import run_stack
from offline.render import render_inputs
from offline.stack_inputs import load_stack_inputs

SPECIAL = "$(touch /tmp/pwn)`id`'\"%h%%%i;&|<>#: {a: b}[]!*?~\\ @/:?+=é"


def _hostile(tag: str) -> str:
    """SPECIAL between a distinct tag on each side, so each secret's encodings are its own."""
    return f"{tag}{SPECIAL}{tag[::-1]}"


SECRETS = {
    "masterKey": "sk-" + _hostile("MasterK1"),
    "saltKey": _hostile("SaltKey2"),
    "postgresAdminPassword": _hostile("PgAdmin3"),
    "redisPassword": _hostile("RedisPw4"),
    "sshPrivateKey": "-----BEGIN OPENSSH PRIVATE KEY-----\n" + _hostile("SshKey05") + "\n-----END OPENSSH PRIVATE KEY-----\n",
    "dnsAdminPassword": _hostile("DnsPass6"),
    "tlsCaKey": "-----BEGIN PRIVATE KEY-----\n" + _hostile("TlsCaKy7") + "\n-----END PRIVATE KEY-----\n",
    "envSecrets.OPENAI_API_KEY": "sk-" + _hostile("OpenAi08"),
    "envSecrets.ANTHROPIC_API_KEY": "sk-ant-" + _hostile("Anthro09"),
    "envSecrets.SLACK_WEBHOOK_URL": "https://hooks.example/" + _hostile("SlackHk0"),
    "uiPassword": _hostile("UiPassw1"),  # dev has the Admin UI on (issue 20)
}


def forms(secret: str) -> set[str]:
    """Every encoding of `secret` the scan looks for (long enough to be unambiguous)."""
    raw = secret.encode("utf-8")
    env_quoted = secret.replace("\\", "\\\\").replace('"', '\\"')  # EnvironmentFile / env file quoting
    out = {secret, json.dumps(secret)[1:-1], quote(secret, safe=""), quote_plus(secret), quote(secret),
           env_quoted, json.dumps(env_quoted)[1:-1],
           json.dumps(secret, ensure_ascii=False)[1:-1], json.dumps(env_quoted, ensure_ascii=False)[1:-1]}
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        for shift in range(3):  # the secret at each byte offset inside a longer blob
            text = encode(b"\0" * shift + raw).decode()
            out.add(text[4 if shift else 0: -4])  # drop the chars mixing in neighbouring bytes
    return {f for f in out if len(f) >= 12}


def needles() -> dict[str, set[str]]:
    return {name: forms(value) for name, value in SECRETS.items()}


def hits(text: str) -> list[str]:
    return sorted({name for name, fs in needles().items() if any(f in text for f in fs)})


@pytest.fixture(scope="module")
def run():
    return run_stack("dev", secrets=SECRETS)


def test_forms_find_what_they_should():
    s = SECRETS["redisPassword"]
    blob = base64.b64encode(b"prefix-" + s.encode() + b"-suffix").decode()
    for text in (s, json.dumps({"a": s}), quote(s, safe=""), quote_plus(s), blob,
                 base64.urlsafe_b64encode(b"xy" + s.encode()).decode()):
        assert hits(text) == ["redisPassword"], text
    assert hits("nothing here") == []


def test_no_secret_form_in_any_plain_input_command_trigger_or_output(run):
    problems = []
    for r in run.resources:
        for key, value in r.inputs.items():
            text = json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)
            ascii_text = json.dumps(value, sort_keys=True, default=str)
            if key in r.secret_inputs and key not in ("create", "update", "delete", "triggers", "environment"):
                continue
            found = hits(text) + hits(ascii_text)
            if found:
                problems.append((r.type, r.name, key, found))
    for name, value in run.outputs.items():
        if name in run.secret_outputs:
            continue
        found = hits(json.dumps(value, default=str, ensure_ascii=False))
        if found:
            problems.append(("output", name, found))
    assert problems == []


def test_secrets_do_reach_their_secret_inputs(run):
    """The scan is not vacuous: the values are in the program's secret inputs."""
    secret_text = "".join(
        json.dumps(r.inputs[k], default=str, ensure_ascii=False) for r in run.resources for k in r.secret_inputs if k in r.inputs
    )
    for name in ("masterKey", "saltKey", "envSecrets.OPENAI_API_KEY", "envSecrets.SLACK_WEBHOOK_URL"):
        assert any(f in secret_text for f in forms(SECRETS[name])), name


def test_no_secret_form_in_any_rendered_file(tmp_path):
    inputs = load_stack_inputs("dev", secrets=SECRETS)
    render_inputs(inputs, tmp_path)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "litellm.service" for p in files) and any(p.name == "config.yaml" for p in files)
    leaked = {str(p.relative_to(tmp_path)): hits(p.read_text(errors="replace")) for p in files}
    assert {k: v for k, v in leaked.items() if v} == {}
