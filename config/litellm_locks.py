"""The LiteLLM releases a stack may deploy: one hashed lock per release, `locks/litellm-<v>.lock`.

A stack chooses its release with `litellm.version`; the hosts install exactly that release's lock
(`--require-hashes --only-binary=:all:`, rendering.host_scripts) and a Kubernetes stack's image tag
must name it (config.cross_checks). So staging can run the next release before prod from the same
commit: add its lock (`make lock VERSION=<v>`), set it in staging's stack file. A release without a
lock is refused for ssh and kubernetes (the hosts would have nothing hash-checked to install, and the
image would be an unreviewed release); a local deploy (the operator's own machine, not root) falls
back to the release's exact top-level pins, as before.

Pure: reads the repository's locks/ directory, imports nothing of Pulumi.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Optional

LOCKS_DIR = Path(__file__).resolve().parents[1] / "locks"
_LOCK_NAME = re.compile(r"litellm-(?P<version>[0-9][0-9A-Za-z.\-]*)\.lock")


def lock_file(version: str, locks_dir: Optional[Path] = None) -> Path:
    return (locks_dir or LOCKS_DIR) / f"litellm-{version}.lock"


def locked_versions(locks_dir: Optional[Path] = None) -> list[str]:
    """Every release with a lock, oldest first (numeric order)."""
    d = locks_dir or LOCKS_DIR
    found = [m.group("version") for p in (d.iterdir() if d.is_dir() else []) if (m := _LOCK_NAME.fullmatch(p.name))]
    return sorted(found, key=_order)


def lock_text(version: str, locks_dir: Optional[Path] = None) -> Optional[str]:
    """The release's hashed lock, or None when it has none. A lock that does not pin the release it
    is named after is refused: the name is what stacks choose by."""
    path = lock_file(version, locks_dir)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    pinned = re.search(r"^litellm==(\S+) ", text, re.M)
    if pinned is None or pinned.group(1) != version:
        raise ValueError(f"{path} is named after litellm {version} but pins "
                         f"{'no litellm' if pinned is None else 'litellm ' + pinned.group(1)}; re-run `make lock VERSION={version}`")
    return text


def missing_lock_message(version: str, locks_dir: Optional[Path] = None) -> str:
    available = locked_versions(locks_dir)
    return (f"LiteLLM {version} has no hashed lock (locks/litellm-{version}.lock); expected one of the releases with a "
            f"lock: {', '.join(available) or '(none)'}; add one with `make lock VERSION={version}` and commit it")


def _order(version: str) -> tuple:
    return tuple(int(p) if p.isdigit() else -1 for p in re.split(r"[.\-]", version)) + (version,)


def _check_new(version: str) -> None:
    """`make lock`'s guard: the same grammar and block list as litellm.version."""
    from pydantic import ValidationError

    from config.litellm_settings import LiteLLMSettings

    if not version:
        sys.exit("usage: make lock VERSION=<LiteLLM release, e.g. 1.108.7>")
    try:
        LiteLLMSettings(deploy="kubernetes", version=version)
    except ValidationError as e:
        sys.exit(f"make lock VERSION={version}: " + "; ".join(err["msg"].removeprefix("Value error, ") for err in e.errors()))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "check-new":
        _check_new(sys.argv[2])
    else:
        sys.exit("usage: python -m config.litellm_locks check-new <version>")
