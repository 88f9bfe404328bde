"""`make plan BASE=<git ref>`: the ref is rendered in a temporary worktree (a child process), which is
removed afterwards; `BASE=<build dir>` reads that render."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from offline.engine import PROJECT_DIR
from offline.plan import base_document

pytestmark = pytest.mark.slow


def _worktrees() -> str:
    return subprocess.run(["git", "worktree", "list", "--porcelain"], cwd=PROJECT_DIR, capture_output=True, text=True, check=True).stdout


def test_a_git_ref_is_rendered_in_a_temporary_worktree_and_a_build_dir_is_read(tmp_path):
    before = _worktrees()
    doc = base_document("HEAD", "local")
    assert _worktrees() == before  # the temporary worktree is gone
    assert doc["stack"] == "local"
    assert any(r["type"] == "litellm-gateway:index:Gateway" for r in doc["resources"])
    rendered = subprocess.run([sys.executable, "-m", "offline.render", "local", "--out", str(tmp_path)],
                              cwd=PROJECT_DIR, capture_output=True, text=True, timeout=300, check=False)
    assert rendered.returncode == 0, rendered.stderr[-2000:]
    assert base_document(str(tmp_path), "local")["stack"] == "local"
    with pytest.raises(SystemExit, match="neither a build directory nor a git ref"):
        base_document("no-such-ref-xyz", "local")


def test_make_plan_prints_markdown_for_an_unchanged_build_dir(tmp_path):
    subprocess.run([sys.executable, "-m", "offline.render", "dev-ha", "--out", str(tmp_path)],
                   cwd=PROJECT_DIR, capture_output=True, text=True, timeout=300, check=True)
    out = subprocess.run([sys.executable, "-m", "offline.plan", "dev-ha", "--base", str(tmp_path)],
                         cwd=PROJECT_DIR, capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    count = len(json.loads((tmp_path / "dev-ha" / "resources.json").read_text())["resources"])
    assert out.stdout.startswith("### `pulumi up` plan for stack `dev-ha`")
    assert f"No changes ({count} resources unchanged)." in out.stdout, out.stdout
