"""A release's venv with the Admin UI directories its install builds (rendering.admin_ui_dirs), for
tests that start the proxy from this machine's pinned LiteLLM: `bin/python` is this machine's (as the
rollout rig's install stand-in makes it) and the directories come from the rendered shell lines, run
for real."""

from __future__ import annotations

import shlex
import stat
import subprocess
import sys
from pathlib import Path

from rendering.admin_ui_dirs import build_ui_dirs_lines


def fake_venv(root: Path) -> Path:
    venv = root / "venvs" / "1.108.7-test"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text(f'#!/bin/bash\nexec {shlex.quote(sys.executable)} "$@"\n')
    (venv / "bin" / "python").chmod(0o755)
    return venv


def build_ui_dirs(venv: Path) -> None:
    script = "set -euo pipefail\n" + f"VENV={shlex.quote(str(venv))}\n" + "\n".join(build_ui_dirs_lines()) + "\n"
    subprocess.run(["bash", "-c", script], check=True, timeout=120)


def make_read_only(root: Path) -> None:
    """What a root-owned venv is to the proxy's user: nothing under it writable."""
    for p in [root, *root.rglob("*")]:
        p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def make_writable(root: Path) -> None:
    for p in [root, *root.rglob("*")]:
        p.chmod(p.stat().st_mode | stat.S_IWUSR)


def release_with_ui(root: Path, *, read_only: bool = True) -> Path:
    """A venv under `root` with both UI directories built, read-only by default."""
    venv = fake_venv(root)
    build_ui_dirs(venv)
    if read_only:
        make_read_only(venv)
    return venv
