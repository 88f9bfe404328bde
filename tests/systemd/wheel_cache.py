"""The wheel cache the bed's hosts install LiteLLM from: every file of the pinned release's lock
(locks/litellm-<PINNED_LITELLM_VERSION>.lock),
downloaded once from the package index with `pip download --require-hashes` into a directory
outside the repository (on the machine's root file system, so every container sees it through its
overlay), and the containers' pip configured to use only it (`no-index`, `find-links`). The
install step itself runs as rendered: `pip install --require-hashes --only-binary=:all: -r <lock>`
still checks every file's sha256 against the lock."""

from __future__ import annotations

import fcntl
import hashlib
import subprocess
import sys
from pathlib import Path

from config.litellm_locks import lock_file
from config.litellm_settings import PINNED_LITELLM_VERSION

LOCK_FILE = lock_file(PINNED_LITELLM_VERSION)

WHEEL_CACHE = Path("/var/cache/litellm-gateway-bed/wheels")


def ensure_wheel_cache() -> Path:
    """Fill WHEEL_CACHE from the index once (per lock content), under a file lock."""
    WHEEL_CACHE.mkdir(parents=True, exist_ok=True)
    marker = WHEEL_CACHE / (".complete-" + hashlib.sha256(LOCK_FILE.read_bytes()).hexdigest()[:16])
    if marker.exists():
        return WHEEL_CACHE
    with open(WHEEL_CACHE.parent / ".download.lock", "a+") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        if marker.exists():
            return WHEEL_CACHE
        # /usr/bin/python3 is the interpreter the hosts' venvs are made from (Debian's 3.11)
        argv = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--no-deps", "--require-hashes",
                "--only-binary=:all:", "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311", "--abi", "abi3",
                "--abi", "none", *[a for p in ("manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux_2_28_x86_64",
                                               "manylinux_2_34_x86_64", "linux_x86_64", "any") for a in ("--platform", p)],
                "-d", str(WHEEL_CACHE), "-r", str(LOCK_FILE)]
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=1800)
        if proc.returncode != 0:
            raise RuntimeError(f"filling the wheel cache failed: `{' '.join(argv)}` exited {proc.returncode}:\n"
                               f"{proc.stdout.decode('utf-8', 'replace')[-3000:]}")
        marker.write_text("ok\n")
    return WHEEL_CACHE


def pip_config_for_bed() -> str:
    cache = ensure_wheel_cache()
    return f"# litellm-gateway test bed: the lock's wheels only\n[global]\nno-index = true\nfind-links = {cache}\n"
