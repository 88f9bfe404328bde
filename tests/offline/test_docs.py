"""The docs as users read them (issue 20): the configuration reference lists every settings field as
the models in config/ define it, every relative link of README.md and docs/*.md reaches an existing
file and heading, the README stays a README, and the example prod stack the docs point newcomers to
is the stack they promise. Fast tier: files and pydantic only."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from config.loader import SECRET_KEYS
from offline import config_reference
from offline.stack_inputs import PROJECT_DIR, load_stack_inputs

DOCS = [PROJECT_DIR / "README.md", *sorted((PROJECT_DIR / "docs").glob("*.md"))]
CONFIGURATION = PROJECT_DIR / "docs" / "configuration.md"


def test_the_generated_key_table_is_current():
    # `python -m offline.config_reference --write` regenerates it after a model changes.
    assert config_reference.current_block() == config_reference.table(), (
        "docs/configuration.md's key table is not what the settings models give: run "
        "`.venv/bin/python -m offline.config_reference --write`")


def test_every_settings_field_path_and_secret_is_in_the_configuration_reference():
    text = CONFIGURATION.read_text()
    paths = [row[0] for row in config_reference.rows()]
    assert len(paths) > 150  # the walk reached the nested models, not only the sections
    assert "kubernetes.monitoring.scrape_key_secret.key" in paths and "models[].model_info" in paths
    missing = [p for p in paths if f"`{p}`" not in text]
    assert not missing, missing
    missing_secrets = [k for k in SECRET_KEYS if f"`{k}" not in text]
    assert not missing_secrets, missing_secrets


def test_a_field_without_a_description_is_refused(monkeypatch):
    monkeypatch.setitem(config_reference.DESCRIPTIONS, "domain", "")
    monkeypatch.setattr(config_reference, "_comments", lambda model: {})
    with pytest.raises(ValueError, match=r"no comment in their module and no entry in DESCRIPTIONS: .*\bdomain\b"):
        config_reference.rows()


def _outside_code(text: str) -> list[str]:
    lines, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(line)
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip()).lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for line in _outside_code(path.read_text()):
        m = re.match(r"^#{1,6} (.+)$", line)
        if not m:
            continue
        base = slug(m.group(1))
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def links(path: Path) -> list[str]:
    text = "\n".join(_outside_code(path.read_text()))
    text = re.sub(r"`[^`\n]*`", "", text)  # inline code is not a link
    return [t for t in re.findall(r"\]\(([^)\s]+)\)", text) if not re.match(r"^[a-z]+:", t)]


def test_slugs_follow_github():
    assert slug("`make plan`: what a change will do, before `pulumi preview`") == \
        "make-plan-what-a-change-will-do-before-pulumi-preview"
    assert slug("Models, teams and virtual keys (`components/litellm_admin/`)") == \
        "models-teams-and-virtual-keys-componentslitellm_admin"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.relative_to(PROJECT_DIR).as_posix())
def test_every_relative_link_reaches_a_file_and_heading(doc):
    found = links(doc)
    broken = []
    for target in found:
        file_part, _, anchor = target.partition("#")
        dest = (doc.parent / file_part).resolve() if file_part else doc
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{target}: no heading #{anchor} in {dest.relative_to(PROJECT_DIR)}")
    assert not broken, broken


def test_the_docs_link_each_other():
    readme_links = links(PROJECT_DIR / "README.md")
    for name in ("configuration", "runbook", "kubernetes", "security", "testing", "benchmarks", "components"):
        assert f"docs/{name}.md" in readme_links, name


def test_the_readme_stays_short():
    assert len((PROJECT_DIR / "README.md").read_text().splitlines()) <= 300


def test_the_example_prod_stack_is_the_one_the_docs_promise():
    """README "Add your stack": three hosts, two Ollama servers 3:1, fallbacks, an embedding model,
    three teams, twelve keys, Slack alerts — not the reference environment's domain."""
    s = load_stack_inputs("prod-example").settings()
    assert s.domain != "hx.dev.local" and s.litellm.deploy == "ssh"
    assert len(s.litellm.hosts) == 3 and s.front_door.address
    ollama = [m for m in s.models if m.provider.startswith("ollama") and m.model_name == "llama3.1"]
    assert sorted(m.weight for m in ollama) == [1, 3] and len({m.api_base for m in ollama}) == 2
    assert any(m.model_info.get("mode") == "embedding" for m in s.models)
    assert s.routing.fallbacks
    assert len(s.teams) == 3 and len(s.keys) == 12
    assert s.observability.alerting.channels == ["slack"]
