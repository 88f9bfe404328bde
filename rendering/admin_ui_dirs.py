"""Where the proxy finds LiteLLM's Admin UI files (`LITELLM_UI_PATH`), per release. Pure.

What the pinned proxy does (litellm 1.108.7, proxy_server.py, the module-level block around
`_try_populate_ui_directory`): it serves `/ui` (and mounts `<ui>/_next`) from `ui_path`, its packaged
`litellm/proxy/_experimental/out` unless `LITELLM_UI_PATH` names another directory. A directory
holding `.litellm_ui_ready` is served as it is ("pre-restructured"); one with content but no marker
is restructured in place (each exported `x.html` moved to `x/index.html`, which the UI's
extensionless routes such as `/ui/login` need); an empty or missing one is populated by copying the
packaged UI into it. On an ssh host the venv is root's and the unit's sandbox is read-only
(`ProtectSystem=strict`): restructuring in place fails and `/ui/login` breaks; and with the UI off,
`DISABLE_ADMIN_UI` alone still serves the static files (a "disabled" page) to anyone reaching the
proxy directly (config/admin_ui.py).

So every release's install builds two directories in its venv, owned by the venv's owner and never
written by the proxy, and the proxy is started with `LITELLM_UI_PATH` naming one of them:

- `<venv>/litellm-ui`: the packaged UI, restructured as LiteLLM would, with the marker (UI on);
- `<venv>/litellm-ui-off`: only the marker and an empty `_next/` (LiteLLM mounts `<ui>/_next`
  whatever the setting): `/ui` and everything under it answer 404 on the proxy itself, not only at
  the front door (UI off).

Both are built whatever `adminUi.enabled` says, so turning the UI on or off changes the unit (and the
local launch), not the install. The Kubernetes pods get the "off" directory from their ConfigMap
(rendering.kubernetes_objects); with the UI on they use the image's pre-built UI.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from config.host_env import UI_PATH_ENV  # noqa: F401 (re-exported: the name these directories go with)

UI_READY_MARKER = ".litellm_ui_ready"  # LiteLLM's own name (`_is_ui_pre_restructured`)
UI_ON_DIR = "litellm-ui"
UI_OFF_DIR = "litellm-ui-off"

# Directories LiteLLM's restructuring skips (`_restructure_ui_html_files`): Next.js assets.
_NOT_RESTRUCTURED = ("_next", "litellm-asset-prefix")


def ui_dir(venv: str, enabled: bool) -> str:
    """The directory `LITELLM_UI_PATH` names for a release's venv."""
    return str(PurePosixPath(venv) / (UI_ON_DIR if enabled else UI_OFF_DIR))


# Run by the venv's Python with the venv's directory as its argument. Finds the packaged UI without
# importing litellm (its import fetches the model price map from the network and runs the package's
# import-time code, here as root), builds each directory beside its final place and renames it in,
# so a proxy starting meanwhile sees the old directory or the new one, never half of one.
BUILD_UI_DIRS_PY = f'''\
import importlib.util, os, shutil, sys, tempfile
venv = sys.argv[1]
spec = importlib.util.find_spec("litellm")
src = os.path.join(os.path.dirname(spec.origin), "proxy", "_experimental", "out")
if not (os.path.isfile(os.path.join(src, "index.html")) and os.path.isdir(os.path.join(src, "_next"))):
    sys.exit("LiteLLM's packaged Admin UI is missing or incomplete: " + src)

def restructure(root):
    # LiteLLM's _restructure_ui_html_files: every x.html (but index.html) becomes x/index.html
    for here, _dirs, files in os.walk(root):
        rel = os.path.relpath(here, root)
        if rel != "." and rel.split(os.sep)[0] in {_NOT_RESTRUCTURED!r}:
            continue
        for name in files:
            if name.endswith(".html") and name != "index.html":
                target = os.path.join(here, name[:-len(".html")])
                os.makedirs(target, exist_ok=True)
                os.replace(os.path.join(here, name), os.path.join(target, "index.html"))

def ui_on(tmp):
    shutil.copytree(src, tmp, dirs_exist_ok=True, ignore=shutil.ignore_patterns({UI_READY_MARKER!r}))
    restructure(tmp)

def ui_off(tmp):
    os.mkdir(os.path.join(tmp, "_next"))

for name, fill in (({UI_ON_DIR!r}, ui_on), ({UI_OFF_DIR!r}, ui_off)):
    final = os.path.join(venv, name)
    tmp = tempfile.mkdtemp(prefix="." + name + ".", dir=venv)
    fill(tmp)
    open(os.path.join(tmp, {UI_READY_MARKER!r}), "w").close()
    os.chmod(tmp, 0o755)
    old = None
    if os.path.lexists(final):
        old = tempfile.mkdtemp(prefix="." + name + ".old.", dir=venv)
        os.rename(final, os.path.join(old, name))
    os.rename(tmp, final)
    if old is not None:
        shutil.rmtree(old)
'''


def build_ui_dirs_lines(venv_var: str = "$VENV") -> list[str]:
    """Shell lines (needing `venv_var` set) that build both UI directories of that venv."""
    return [
        f'"{venv_var}/bin/python" - "{venv_var}" <<\'BUILD_UI_DIRS_EOF\'',
        BUILD_UI_DIRS_PY.rstrip("\n"),
        "BUILD_UI_DIRS_EOF",
    ]
