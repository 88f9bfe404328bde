"""The ssh install step's `prisma generate` part, as rendered, run for real on this machine (as root,
like the step on a host) against a throwaway install dir: a venv made with the system python3 whose
prisma package is a copy of this venv's, the offline engine of tests/support/prisma_engine as the
pre-provided CLI and engines (PRISMA_BINARY_CACHE_DIR, PRISMA_*_ENGINE_BINARY in root's environment:
nothing is downloaded; for the last two tests the CLI is not provided and the step installs it from
the committed lock with `npm ci`, from an npm registry on 127.0.0.1). The venv's `prisma-client-py` (the generator the Prisma CLI spawns) is a
probe: it records who it runs as and what it may write and, when told to, does what a hostile npm
script or download could do (change a package file, plant a link in the cache, change a cached
file, fail) before it generates.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import io
import json
import os
import tarfile
import threading
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

from offline.stack_inputs import load_stack_inputs
from rendering import host_scripts as hs
from rendering import prisma_generate as pg
from rendering.host_files import host_paths
from tests.support import real_proxy_prisma as rp

pytestmark = pytest.mark.slow

PREVIOUS = "# the previous generation (test marker)\n"

# the venv's `prisma-client-py`: the generator the Prisma CLI spawns (the process that writes the
# client): records who it runs as and what it may write, then does what it is told, then generates
PROBE = r'''#!/bin/sh
{
  printf '{"uid": %s, "gid": %s, "groups": "%s", ' "$(id -u)" "$(id -g)" "$(id -G)"
  if [ -w "$VENV/bin" ]; then printf '"venv_bin_writable": true, '; else printf '"venv_bin_writable": false, '; fi
  if [ -w "$PKG" ]; then printf '"pkg_writable": true, '; else printf '"pkg_writable": false, '; fi
  if [ -w "$PRISMA_HOME" ]; then printf '"cache_writable": true, '; else printf '"cache_writable": false, '; fi
  printf '"pids": %s}\n' "$(ls /proc | grep -c '^[0-9]')"
} >> __LOG__
case "$(cat __MODE__)" in
  fail) exit 3 ;;
  plant-pyc) mkdir -p "$PKG/__pycache__"; echo planted > "$PKG/__pycache__/planted.cpython-311.pyc"; echo planted > "$PKG/__pycache__/_config.cpython-311.pyc" ;;
  tamper-package) echo '# injected' >> "$PKG/_config.py" ;;
  tamper-cache) ln -s /etc/shadow "$PRISMA_HOME/innocent"; echo changed > "$PRISMA_HOME/seeded.txt" ;;
esac
exec __PYTHON__ -c 'import sys; from prisma.cli import main; sys.exit(main())' "$@"
'''


def _prisma_part(script: str) -> str:
    lines = script.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("PRISMA_HOME="))
    return "\n".join(lines[start:]) + "\n"


@pytest.fixture(scope="module")
def bed():
    assert os.geteuid() == 0, "this test runs the install step as root, as on a host (CI runs as root)"
    rp.ensure_node_modules()
    # not under pytest's tmp dir (0700): nobody must reach the venv, the probe and its log
    root = Path(tempfile.mkdtemp(prefix="prisma-gen-", dir="/var/tmp"))
    os.chmod(root, 0o755)
    install_dir = root / "opt-litellm"
    litellm = json.loads(load_stack_inputs("dev").config["litellm-gateway:litellm"])
    settings = load_stack_inputs("dev", overrides={"litellm": {**litellm, "install_dir": str(install_dir)}}).settings()
    p = host_paths(settings)
    venv = Path(p.venv)
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next((venv / "lib").glob("python3*/site-packages"))
    # the dependencies (pydantic, click, jinja2, nodeenv...) from this venv, after the venv's own
    (site / "deps.pth").write_text(str(rp.prisma_package_dir().parent) + "\n")
    # this venv's python lives under /root (0700): the venv's must be one nobody can run
    assert os.path.realpath(venv / "bin" / "python").startswith("/usr/")
    schema = rp.litellm_schema_path()
    prisma_home = Path(hs.host_layout(settings).prisma_home)
    log, mode = root / "probe.jsonl", root / "probe-mode"
    probe = venv / "bin" / "prisma-client-py"
    probe.write_text(PROBE.replace("__LOG__", str(log)).replace("__MODE__", str(mode)).replace("__PYTHON__", str(venv / "bin" / "python")))
    os.chmod(probe, 0o755)
    env = {**{k: v for k, v in os.environ.items() if k in ("LANG",)}, "PATH": "/usr/local/bin:/usr/bin:/bin",
           **rp.engine_env(rp.node_binary())}
    script = "#!/bin/bash\nset -euo pipefail\numask 022\n" + f"VENV={venv}\nSCHEMA={schema}\n" + _prisma_part(hs.install_script(settings))

    def reset() -> None:
        """A previous client in the venv (this venv's generated one, marked) and a seeded cache."""
        pkg = site / "prisma"
        if pkg.exists():
            shutil.rmtree(pkg)
        shutil.copytree(rp.prisma_package_dir(), pkg, ignore=shutil.ignore_patterns("__pycache__", ".litellm-gateway-generated"))
        with open(pkg / "client.py", "a") as f:
            f.write(PREVIOUS)
        if prisma_home.exists():
            shutil.rmtree(prisma_home)
        prisma_home.mkdir(mode=0o755, parents=True)
        (prisma_home / "seeded.txt").write_text("downloaded by an earlier install\n")
        log.write_text("")

    def run(probe_mode: str = "", extra_env: dict | None = None, drop_env: tuple = ()) -> subprocess.CompletedProcess:
        mode.write_text(probe_mode)
        os.chmod(mode, 0o644)
        os.chmod(log, 0o666)
        run_env = {**{k: v for k, v in env.items() if k not in drop_env}, **(extra_env or {})}
        return subprocess.run(["/bin/bash", "-c", script], env=run_env, cwd=str(root), capture_output=True, text=True, timeout=600)

    yield dict(run=run, reset=reset, pkg=site / "prisma", prisma_home=prisma_home, install_dir=install_dir,
                log=log, venv=venv, script=script)
    shutil.rmtree(root)


def _probes(bed) -> list[dict]:
    return [json.loads(line) for line in bed["log"].read_text().splitlines() if line.strip()]


def _no_stage_left(bed) -> None:
    assert not list(bed["install_dir"].glob(pg.STAGE_PREFIX + "*"))


def test_generate_runs_as_nobody_and_the_client_lands_in_the_venv(bed):
    bed["reset"]()
    before = (bed["pkg"] / "_config.py").read_bytes()
    # bytecode planted by the unprivileged run is dropped, root compiles the package itself
    proc = bed["run"]("plant-pyc")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    probes = _probes(bed)
    assert probes, "the Prisma CLI ran the generator (probe)"
    for probe in probes:
        assert (probe["uid"], probe["gid"], probe["groups"]) == (65534, 65534, "65534"), probe
        # the staging copies are writable at the real paths, the venv is not; own PID namespace
        assert probe["pkg_writable"] and probe["cache_writable"] and not probe["venv_bin_writable"], probe
        assert probe["pids"] < 20, probe
    client = (bed["pkg"] / "client.py").read_text()
    assert "class Prisma" in client and PREVIOUS not in client
    assert (bed["pkg"] / "_config.py").read_bytes() == before
    for path in [bed["pkg"], *bed["pkg"].rglob("*"), bed["prisma_home"], *bed["prisma_home"].rglob("*")]:
        st = os.lstat(path)
        assert (st.st_uid, st.st_gid) == (0, 0), path
        assert not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH | stat.S_ISUID | stat.S_ISGID), path
    pyc = bed["pkg"] / "__pycache__"
    assert not (pyc / "planted.cpython-311.pyc").exists()
    assert b"planted" not in (pyc / "_config.cpython-311.pyc").read_bytes()
    assert (pyc / "client.cpython-311.pyc").is_file()
    # the pinned CLI lock is in the cache; the seeded file kept
    cli = Path(pg.cli_dir(str(bed["prisma_home"])))
    assert (cli / "package-lock.json").read_text() == pg.CLI_PACKAGE_LOCK.read_text()
    assert (bed["prisma_home"] / "seeded.txt").read_text() == "downloaded by an earlier install\n"
    _no_stage_left(bed)
    # the venv's python imports the generated client
    check = subprocess.run([str(bed["venv"] / "bin" / "python"), "-c", "from prisma import Prisma; print(Prisma.__name__)"],
                           capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"})
    assert check.stdout.strip() == "Prisma", check.stderr[-2000:]
    # a second install: the cache (lock files now in place) is accepted as it is
    proc = bed["run"]()
    assert proc.returncode == 0, proc.stderr[-3000:]
    _no_stage_left(bed)


@pytest.mark.parametrize("mode, refusals", [
    ("fail", ["failed: the venv's prisma client and the Prisma cache are unchanged"]),
    ("tamper-package", ["the staged prisma package is refused", "_config.py: changed"]),
    ("tamper-cache", ["the staged prisma cache is refused", "innocent: symlink to /etc/shadow", "seeded.txt: changed"]),
])
def test_a_failed_or_tampered_generate_leaves_the_previous_client(bed, mode, refusals):
    bed["reset"]()
    pkg_before = {p.relative_to(bed["pkg"]): p.read_bytes() for p in bed["pkg"].rglob("*") if p.is_file()}
    proc = bed["run"](mode)
    assert proc.returncode != 0
    for refusal in refusals:
        assert refusal in proc.stderr, proc.stderr[-3000:]
    assert _probes(bed) and _probes(bed)[0]["uid"] == 65534
    after = {p.relative_to(bed["pkg"]): p.read_bytes() for p in bed["pkg"].rglob("*") if p.is_file()}
    assert after == pkg_before
    assert (bed["pkg"] / "client.py").read_text().endswith(PREVIOUS)
    assert sorted(p.name for p in bed["prisma_home"].iterdir()) == ["seeded.txt"]
    assert (bed["prisma_home"] / "seeded.txt").read_text() == "downloaded by an earlier install\n"
    _no_stage_left(bed)


# ---- the Prisma CLI from the committed npm lock, installed by `npm ci` as nobody ------------------


class LoopbackRegistry:
    """An npm registry on 127.0.0.1 serving the six packages of the CLI lock, packed from this
    machine's npm cache (`npm pack --offline`: filled by the offline engine's `npm ci`). With
    `tamper`, it serves a changed prisma tarball and metadata that vouches for it (a lying registry)."""

    def __init__(self, workdir: Path) -> None:
        lock = json.loads(pg.CLI_PACKAGE_LOCK.read_text())
        self.tarballs: dict[str, bytes] = {}
        self.manifests: dict[str, dict] = {}
        self.requests: list[str] = []
        self.tamper = False
        workdir.mkdir()
        for key, entry in lock["packages"].items():
            if not key:
                continue
            name = key.removeprefix("node_modules/")
            packed = subprocess.run(["npm", "pack", f"{name}@{entry['version']}", "--offline", "--silent"], cwd=workdir,
                                    capture_output=True, text=True, timeout=120)
            assert packed.returncode == 0, packed.stderr
            data = (workdir / packed.stdout.strip().splitlines()[-1]).read_bytes()
            assert _integrity(data) == entry["integrity"], name
            with tarfile.open(fileobj=io.BytesIO(data)) as tar:
                manifest = json.load(tar.extractfile("package/package.json"))
            self.tarballs[name] = data
            self.manifests[name] = manifest

    def tarball(self, name: str) -> bytes:
        data = self.tarballs[name]
        if self.tamper and name == "prisma":
            out = io.BytesIO()
            with tarfile.open(fileobj=io.BytesIO(data)) as src, tarfile.open(fileobj=out, mode="w:gz") as dst:
                for member in src.getmembers():
                    f = src.extractfile(member) if member.isfile() else None
                    body = f.read() if f else None
                    if member.name == "package/build/index.js":
                        body += b"\n// injected by the registry\n"
                        member.size = len(body)
                    dst.addfile(member, io.BytesIO(body) if body is not None else None)
            data = out.getvalue()
        return data

    def start(self) -> "LoopbackRegistry":
        registry = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                from urllib.parse import unquote

                path = unquote(self.path.split("?")[0]).lstrip("/")
                registry.requests.append(path)
                if path.startswith("tarballs/"):
                    name = path.removeprefix("tarballs/").rsplit("/-/", 1)[0]
                    body, kind = registry.tarball(name), "application/octet-stream"
                elif path in registry.manifests:
                    m = registry.manifests[path]
                    data = registry.tarball(path)
                    version = {**m, "dist": {"tarball": f"{registry.url}tarballs/{path}/-/x.tgz", "integrity": _integrity(data)}}
                    body = json.dumps({"name": path, "dist-tags": {"latest": m["version"]}, "versions": {m["version"]: version}}).encode()
                    kind = "application/json"
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()


def _integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


@pytest.fixture(scope="module")
def registry(bed):
    workdir = Path(tempfile.mkdtemp(prefix="npm-packs-"))
    reg = LoopbackRegistry(workdir / "packs").start()
    yield reg
    reg.stop()
    shutil.rmtree(workdir)


def _npm_env(registry) -> dict:
    # the CLI is not pre-provided (no PRISMA_BINARY_CACHE_DIR): the step installs it from the lock;
    # should any install script run, Prisma's engine download would go to a closed loopback port
    return {"npm_config_registry": registry.url, "PRISMA_ENGINES_MIRROR": "http://127.0.0.1:9"}


def test_the_cli_comes_from_the_committed_lock_by_npm_ci_as_nobody_without_scripts(bed, registry):
    bed["reset"]()
    registry.tamper, registry.requests[:] = False, []
    proc = bed["run"](extra_env=_npm_env(registry), drop_env=("PRISMA_BINARY_CACHE_DIR",))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert any(r.startswith("tarballs/prisma/") for r in registry.requests), registry.requests
    assert all(p["uid"] == 65534 for p in _probes(bed)) and _probes(bed)
    cli = Path(pg.cli_dir(str(bed["prisma_home"])))
    assert json.loads((cli / "node_modules" / "prisma" / "package.json").read_text())["version"] == pg.PRISMA_CLI_VERSION
    assert (cli / "node_modules" / "prisma" / "build" / "index.js").read_bytes() == _packed_file(registry, "prisma", "package/build/index.js")
    # @prisma/engines' postinstall (the engine download) did not run: nothing beside its package files
    engines = cli / "node_modules" / "@prisma" / "engines"
    shipped = _packed_names(registry, "@prisma/engines")
    assert {str(p.relative_to(engines)) for p in engines.rglob("*") if p.is_file()} == shipped
    assert "class Prisma" in (bed["pkg"] / "client.py").read_text()
    assert all(os.lstat(p).st_uid == 0 for p in [cli, *cli.rglob("*")])
    _no_stage_left(bed)


def test_a_registry_serving_another_cli_is_refused_by_the_lock(bed, registry):
    bed["reset"]()
    registry.tamper, registry.requests[:] = True, []
    try:
        proc = bed["run"](extra_env=_npm_env(registry), drop_env=("PRISMA_BINARY_CACHE_DIR",))
    finally:
        registry.tamper = False
    assert proc.returncode != 0
    assert "EINTEGRITY" in proc.stdout + proc.stderr, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "the venv's prisma client and the Prisma cache are unchanged" in proc.stderr
    assert _probes(bed) == []  # the generator never ran
    assert (bed["pkg"] / "client.py").read_text().endswith(PREVIOUS)
    assert sorted(p.name for p in bed["prisma_home"].iterdir()) == ["seeded.txt"]
    _no_stage_left(bed)


def _packed_file(registry, name: str, member: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(registry.tarballs[name])) as tar:
        return tar.extractfile(member).read()


def _packed_names(registry, name: str) -> set[str]:
    with tarfile.open(fileobj=io.BytesIO(registry.tarballs[name])) as tar:
        return {m.name.removeprefix("package/") for m in tar.getmembers() if m.isfile()}
