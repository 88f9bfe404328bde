"""The Admin UI directories each release's install builds (rendering.admin_ui_dirs), run for real:
the rendered shell lines against a venv of this machine's pinned LiteLLM, then LiteLLM's own
`proxy_server` module imported with `LITELLM_UI_PATH` naming each directory, read-only, and asked
for the UI's pages through its ASGI app (no socket: Starlette's TestClient).

Shown: with the "off" directory `/ui/`, `/ui/login` and `/ui/index.html` answer 404 on the proxy
itself, and `/ui` too after Starlette's 307 to `/ui/` (what a browser ends on) (not only at the front door); with the built one, `/ui/` and the extensionless route
`/ui/login` answer 200 from a directory nobody may write (an ssh host's root-owned venv under
`ProtectSystem=strict`), and LiteLLM wrote nothing into it. The unit, the local launch and the pods
name the right directory for `adminUi.enabled` (tests/rendering/test_host_files.py style, below).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from offline.stack_inputs import load_stack_inputs
from rendering.admin_ui_dirs import UI_OFF_DIR, UI_ON_DIR, UI_PATH_ENV, UI_READY_MARKER, build_ui_dirs_lines, ui_dir
from rendering.host_files import host_paths, render_systemd_unit, ui_environment
from rendering.host_scripts import install_script
from tests.support.proxy_harness import OFFLINE_ENV
from tests.support.ui_dirs import build_ui_dirs, fake_venv, make_read_only, make_writable


def _stack(name: str, ui_on: bool):
    s = load_stack_inputs(name).settings()
    return s.model_copy(update={"admin_ui": s.admin_ui.model_copy(update={"enabled": ui_on, "username": "ui-admin" if ui_on else None})})


@pytest.mark.parametrize("ui_on", [True, False])
def test_the_unit_names_the_releases_ui_directory(ui_on):
    s = _stack("dev", ui_on)
    venv = host_paths(s).venv
    expected = f"{venv}/{UI_ON_DIR if ui_on else UI_OFF_DIR}"
    assert ui_environment(s) == {UI_PATH_ENV: expected}
    assert f"\nEnvironment={UI_PATH_ENV}={expected}\n" in render_systemd_unit(s, s.litellm.hosts[0])


def test_the_install_builds_both_directories_whatever_the_setting():
    # turning the UI on or off restarts the proxy with another directory; it never re-runs the install
    assert install_script(_stack("dev", True)) == install_script(_stack("dev", False))
    assert "\n".join(build_ui_dirs_lines()) in install_script(_stack("dev", True))


def test_the_local_launch_names_it_from_the_deploys_directory():
    s = _stack("local", False)
    from rendering.host_scripts import local_restart_script
    script = local_restart_script(s)
    relative = ui_dir(host_paths(s).venv, False)
    assert not relative.startswith("/")
    assert f'"{UI_PATH_ENV}=$PWD/"{shlex.quote(relative)}' in script


def _snapshot(root: Path) -> dict[str, tuple[int, float]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime) for p in root.rglob("*")}


# LiteLLM's module-level UI selection runs at import; its app then answers what a browser would ask.
ASK_THE_PROXY = r'''
import json, sys
from starlette.testclient import TestClient
from litellm.proxy import proxy_server
client = TestClient(proxy_server.app)
out = {}
for path in sys.argv[1:]:
    r = client.get(path)  # as a browser: `/ui` is Starlette's 307 to `/ui/` (the mount), then that page
    out[path] = [r.status_code, r.text[:2000], [h.status_code for h in r.history]]
print("ANSWERS " + json.dumps(out))
'''


def _ask(*asks: tuple[Path, list[str]], home: Path) -> list[dict[str, list]]:
    """For each (UI directory, paths): the proxy's answers, from its own interpreter (the UI is chosen
    at import). The interpreters run side by side: each import of the proxy is seconds of CPU."""
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), **OFFLINE_ENV}
    running = [
        subprocess.Popen([sys.executable, "-c", ASK_THE_PROXY, *paths], env={**base, UI_PATH_ENV: str(ui_path)},
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=home)
        for ui_path, paths in asks
    ]
    answers = []
    for proc in running:
        try:
            stdout, stderr = proc.communicate(timeout=300)
        finally:
            proc.kill()
        line = next((l for l in stdout.splitlines() if l.startswith("ANSWERS ")), None)
        assert proc.returncode == 0 and line, stderr[-3000:]
        answers.append(json.loads(line[len("ANSWERS "):]))
    return answers


@pytest.mark.slow
def test_built_directories_serve_the_ui_or_nothing_read_only(tmp_path):
    venv = fake_venv(tmp_path)
    build_ui_dirs(venv)
    on, off = venv / UI_ON_DIR, venv / UI_OFF_DIR
    assert (on / UI_READY_MARKER).is_file() and (on / "index.html").is_file() and (on / "_next").is_dir()
    # restructured as LiteLLM would: every exported page is <route>/index.html
    assert (on / "login" / "index.html").is_file() and [p.name for p in on.glob("*.html")] == ["index.html"]
    assert sorted(p.relative_to(off).as_posix() for p in off.rglob("*")) == [UI_READY_MARKER, "_next"]
    # a second install (the same release re-installed) replaces them whole and leaves nothing behind
    build_ui_dirs(venv)
    assert sorted(p.name for p in venv.iterdir()) == ["bin", UI_ON_DIR, UI_OFF_DIR]

    make_read_only(venv)
    before = _snapshot(on)
    home = tmp_path / "home"
    home.mkdir()
    try:
        off_answers, on_answers = _ask((off, ["/ui", "/ui/", "/ui/login", "/ui/index.html", "/ui/?page=api-keys"]),
                                       (on, ["/ui/", "/ui/login"]), home=home)
        assert {p: a[0] for p, a in off_answers.items()} == dict.fromkeys(off_answers, 404), off_answers
        for path, (status, body, _) in on_answers.items():
            assert status == 200 and "<html" in body.lower(), (path, status, body[:300])
        assert _snapshot(on) == before  # LiteLLM served it as it is: no restructuring, no copy
    finally:
        make_writable(venv)
