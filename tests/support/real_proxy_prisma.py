"""Make the pinned LiteLLM proxy's database layer (prisma-client-py 0.15.0) work offline.

Facts (verified on this machine type: /work/shared/reference/litellm-db-offline.md):

- prisma (PyPI) 0.15.0 -> Prisma CLI 5.17.0 -> engine commit ``393aa359``. No native engine can be
  installed here; npm has that engine compiled to WebAssembly. ``tests/support/prisma_engine/`` holds
  the pinned npm packages (``package.json`` + ``package-lock.json``; ``node_modules`` is gitignored
  and installed with ``npm ci --ignore-scripts``: no postinstall script ever reaches Prisma's binary
  host), the translator that speaks prisma-client-py's GraphQL engine protocol
  (``translator.mjs``) and two launchers answering ``--version`` (``query-engine``,
  ``schema-engine``).
- The Prisma CLI itself is ``prisma@5.17.0`` from that same lock file: prisma-client-py looks for it
  at ``$PRISMA_BINARY_CACHE_DIR/node_modules/prisma/build/index.js`` (``prisma/cli/prisma.py``
  ``ensure_cached``) and only runs ``npm install`` when it is missing, so pointing
  ``PRISMA_BINARY_CACHE_DIR`` at ``prisma_engine/`` makes the CLI come from our lock file.
- ``prisma generate`` writes the generated client into the *venv's* ``site-packages/prisma``, which
  every test process shares: :func:`ensure_prisma_client` does it once, under an exclusive file lock,
  and records a marker keyed by the schema's hash, prisma's version and the engine commit, so
  concurrent sessions neither race nor regenerate.

Everything fails loudly (:class:`PrismaSetupError`) with what to install; nothing is skipped.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "ENGINE_DIR",
    "ENGINE_COMMIT",
    "PRISMA_VERSION",
    "QUERY_ENGINE",
    "SCHEMA_ENGINE",
    "PrismaSetupError",
    "node_binary",
    "ensure_node_modules",
    "node_modules_mismatches",
    "litellm_schema_path",
    "prisma_package_dir",
    "ensure_prisma_client",
    "engine_env",
    "prepare",
]

ENGINE_DIR = Path(__file__).resolve().parent / "prisma_engine"
QUERY_ENGINE = ENGINE_DIR / "query-engine"
SCHEMA_ENGINE = ENGINE_DIR / "schema-engine"
ENGINE_COMMIT = "393aa359c9ad4a4bb28630fb5613f9c281cde053"
PRISMA_VERSION = "5.17.0"
MIN_NODE = (20, 0)

_NODE_HINT = (
    "Node.js >= 20 and npm are required for the real-proxy-with-database harness "
    "(Debian: `apt-get install -y nodejs npm`; .ci/run installs them in CI)"
)


class PrismaSetupError(RuntimeError):
    """The offline Prisma route cannot be set up; the message says what is missing."""


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _sha256(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def node_binary() -> str:
    """Absolute path of a Node.js >= 20 on PATH (or $PRISMA_TRANSLATOR_NODE)."""
    candidate = os.environ.get("PRISMA_TRANSLATOR_NODE") or shutil.which("node")
    if not candidate:
        raise PrismaSetupError(f"no `node` on PATH. {_NODE_HINT}")
    try:
        out = subprocess.run([candidate, "--version"], capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise PrismaSetupError(f"`{candidate} --version` failed: {exc}. {_NODE_HINT}") from None
    match = re.match(r"v(\d+)\.(\d+)", out.strip())
    if not match or (int(match.group(1)), int(match.group(2))) < MIN_NODE:
        raise PrismaSetupError(f"{candidate} is {out.strip() or 'of unknown version'}. {_NODE_HINT}")
    return str(Path(candidate).resolve())


def _npm_binary() -> str:
    npm = shutil.which("npm")
    if not npm:
        raise PrismaSetupError(f"no `npm` on PATH. {_NODE_HINT}")
    return npm


def node_modules_mismatches() -> list[str]:
    """Packages of package-lock.json missing from node_modules or installed at another version."""
    lock_file = ENGINE_DIR / "package-lock.json"
    if not lock_file.is_file():
        raise PrismaSetupError(f"{lock_file} is missing: the npm packages must be pinned by a lock file")
    packages = json.loads(lock_file.read_text())["packages"]
    wrong = []
    for where, meta in packages.items():
        if not where:  # the root project
            continue
        installed = ENGINE_DIR / where / "package.json"
        try:
            version = json.loads(installed.read_text()).get("version")
        except (OSError, ValueError):
            version = None
        if version != meta.get("version"):
            wrong.append(f"{where}@{meta.get('version')} (installed: {version or 'none'})")
    return wrong


def ensure_node_modules() -> Path:
    """``npm ci --ignore-scripts`` in prisma_engine/ unless node_modules already holds exactly the
    lock file's versions (checked package by package), under a file lock. Returns node_modules."""
    modules = ENGINE_DIR / "node_modules"
    if not node_modules_mismatches():
        return modules
    with _file_lock(ENGINE_DIR / ".npm-ci.lock"):
        if not node_modules_mismatches():
            return modules
        node = node_binary()
        env = {**os.environ, "PATH": f"{Path(node).parent}:{os.environ.get('PATH', '')}"}
        proc = subprocess.run(
            [_npm_binary(), "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=ENGINE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if proc.returncode != 0:
            raise PrismaSetupError(
                f"`npm ci` in {ENGINE_DIR} failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
            )
        wrong = node_modules_mismatches()
        if wrong:
            raise PrismaSetupError(f"`npm ci` succeeded but node_modules does not match the lock file: {wrong[:5]}")
    return modules


def litellm_schema_path() -> Path:
    """The pinned proxy's schema.prisma (site-packages/litellm/proxy/schema.prisma)."""
    import importlib.util

    spec = importlib.util.find_spec("litellm")  # not imported: that would load the whole library
    if spec is None or not spec.submodule_search_locations:
        raise PrismaSetupError("litellm is not installed in this venv")
    path = Path(next(iter(spec.submodule_search_locations))).resolve() / "proxy" / "schema.prisma"
    if not path.is_file():
        raise PrismaSetupError(f"{path} not found: is litellm[proxy] installed in this venv?")
    return path


def prisma_package_dir() -> Path:
    """site-packages/prisma of this interpreter, found without importing it (the import would cache
    the ungenerated package in this process)."""
    import importlib.util

    spec = importlib.util.find_spec("prisma")
    if spec is None or not spec.submodule_search_locations:
        raise PrismaSetupError("the `prisma` Python package is not installed (pinned in requirements: prisma==0.15.0)")
    return Path(next(iter(spec.submodule_search_locations))).resolve()


def _installed_prisma_version() -> str:
    from importlib.metadata import version

    return version("prisma")


def engine_env(node: str | None = None) -> dict[str, str]:
    """Variables a process needs to use the offline engine (the proxy, or `prisma generate`)."""
    node = node or node_binary()
    return {
        "PRISMA_QUERY_ENGINE_BINARY": str(QUERY_ENGINE),
        "PRISMA_SCHEMA_ENGINE_BINARY": str(SCHEMA_ENGINE),
        # the Prisma CLI from our lock file (prisma-client-py never runs `npm install` then)
        "PRISMA_BINARY_CACHE_DIR": str(ENGINE_DIR),
        "PRISMA_TRANSLATOR_NODE": node,
        "PRISMA_HIDE_UPDATE_MESSAGE": "true",
        "CHECKPOINT_DISABLE": "1",  # Prisma CLI's update check / telemetry
        "PRISMA_ENGINES_CHECKSUM_IGNORE_MISSING": "1",
        # prisma-client-py must never install its own Node (nodeenv) when ours is on PATH
        "PRISMA_USE_GLOBAL_NODE": "true",
    }


def ensure_prisma_client(schema: Path | None = None) -> Path:
    """Generate the prisma-client-py client for LiteLLM's schema into the venv, once.

    Marker ``site-packages/prisma/.litellm-gateway-generated`` holds the sha256 of (schema, prisma
    version, engine commit); generation runs under an exclusive lock next to the package, so any
    number of concurrent test sessions end up with one generation. Returns the package dir.
    """
    schema = Path(schema) if schema is not None else litellm_schema_path()
    package = prisma_package_dir()
    installed = _installed_prisma_version()
    if installed != "0.15.0":
        raise PrismaSetupError(f"prisma {installed} is installed; the offline engine route is pinned to prisma 0.15.0")
    wanted = _sha256(schema.read_bytes(), installed.encode(), ENGINE_COMMIT.encode())
    marker = package / ".litellm-gateway-generated"

    def done() -> bool:
        return (
            marker.is_file()
            and marker.read_text().strip() == wanted
            and (package / "client.py").is_file()
            and (package / "schema.prisma").is_file()
        )

    if done():
        return package
    ensure_node_modules()
    with _file_lock(package.parent / ".litellm-gateway-prisma-generate.lock"):
        if done():
            return package
        node = node_binary()
        bin_dir = Path(sys.executable).parent
        env = {
            "HOME": os.environ.get("HOME", "/tmp"),
            "PATH": f"{bin_dir}:{Path(node).parent}:/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            **engine_env(node),
        }
        proc = subprocess.run(
            [sys.executable, "-m", "prisma", "generate", "--schema", str(schema)],
            env=env,
            cwd=schema.parent,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if proc.returncode != 0 or not (package / "client.py").is_file():
            raise PrismaSetupError(
                f"`prisma generate --schema {schema}` failed (exit {proc.returncode}):\n"
                f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
            )
        check = subprocess.run(
            [sys.executable, "-c", "from prisma import Prisma; print(Prisma.__name__)"],
            env={**env, "PYTHONDONTWRITEBYTECODE": "1"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check.returncode != 0:
            raise PrismaSetupError(f"the generated client does not import:\n{check.stderr[-3000:]}")
        marker.write_text(wanted + "\n")
    return package


def forget_ungenerated_client() -> None:
    """Drop a `prisma` package this process imported before the client was generated, so the next
    `from prisma import Prisma` loads the generated one (an earlier test may have imported LiteLLM,
    which imports the ungenerated package; the import system would keep serving that one)."""
    loaded = sys.modules.get("prisma")
    if loaded is None or "Prisma" in vars(loaded):
        return
    for name in [n for n in sys.modules if n == "prisma" or n.startswith("prisma.")]:
        del sys.modules[name]


def prepare() -> dict[str, str]:
    """Everything the real proxy with a database needs: node modules, generated client. Returns
    :func:`engine_env`."""
    node = node_binary()
    ensure_node_modules()
    ensure_prisma_client()
    forget_ungenerated_client()
    return engine_env(node)


if __name__ == "__main__":  # python -m tests.support.real_proxy_prisma: prepare (CI's generate step)
    print(json.dumps({"prepared": sorted(prepare())}))
