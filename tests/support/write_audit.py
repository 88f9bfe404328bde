"""Which files a process tree writes: run it under ``strace -f`` and list every successful write-ish
filesystem call (open/openat/creat for writing or creating, mkdir, rename, unlink, ...).

Used to check the Kubernetes Deployment's ``readOnlyRootFilesystem: true``: the proxy booted from
the pod's materialized files may only write under the pod's emptyDir mounts (and /dev). A path the
proxy writes anywhere else would be an EROFS error in the pod.

``traced_cli(real_cli, log)`` returns a wrapper script to hand to ``RunningProxy(cli=...)``: it
execs ``strace -f -qq --seccomp-bpf -s 4096 -e trace=<calls> -o <log> <real_cli> "$@"`` (strace
stays in the proxy's process group, so the harness's port checks and stop() cover it).
``written_paths(log)`` parses that log (``<unfinished ...>``/``resumed`` pairs joined per pid) and
returns ``(syscall, path)`` for each call that succeeded and writes; ``chdir`` calls are reported
as well, so a caller resolving relative paths knows whether the cwd moved.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
from pathlib import Path

TRACED = "open,openat,creat,mkdir,mkdirat,rename,renameat,renameat2,unlink,unlinkat,rmdir,link,symlink,truncate,chdir"
_LINE = re.compile(r"^(?P<pid>\d+)\s+(?P<rest>.*)$")
_CALL = re.compile(r"^(?P<name>\w+)\((?P<args>.*)\)\s+=\s+(?P<ret>-?\d+)")
_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
_WRITE_FLAGS = ("O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC", "O_APPEND")


def strace_binary() -> str:
    found = shutil.which("strace")
    if not found:
        raise FileNotFoundError("strace is required for the write audit (apt-get install strace; see .ci/run)")
    return found


def traced_cli(real_cli: str, log: Path, directory: Path) -> str:
    """A wrapper executable (in ``directory``) that runs ``real_cli`` under strace into ``log``."""
    wrapper = directory / "litellm"  # same basename: the harness's PATH gets this directory first
    wrapper.write_text(
        "#!/bin/sh\n"
        f"exec {strace_binary()} -f -qq --seccomp-bpf -s 4096 -e trace={TRACED} -o '{log}' '{real_cli}' \"$@\"\n"
    )
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return str(wrapper)


def _unescape(text: str) -> str:
    return bytes(text, "utf-8").decode("unicode_escape").encode("latin-1").decode("utf-8", "replace")


def written_paths(log: Path) -> list[tuple[str, str]]:
    pending: dict[str, str] = {}
    calls: list[str] = []
    for raw in log.read_text(errors="replace").splitlines():
        m = _LINE.match(raw)
        if not m:
            continue
        pid, rest = m.group("pid"), m.group("rest")
        if rest.endswith("<unfinished ...>"):
            pending[pid] = rest[: -len("<unfinished ...>")].rstrip()
            continue
        resumed = re.match(r"^<\.\.\. \w+ resumed>\s*(.*)$", rest)
        if resumed:
            rest = pending.pop(pid, "") + resumed.group(1)
        calls.append(rest)
    out: list[tuple[str, str]] = []
    for call in calls:
        c = _CALL.match(call)
        if not c or int(c.group("ret")) < 0:
            continue  # failed calls wrote nothing
        name, args = c.group("name"), c.group("args")
        strings = [_unescape(s) for s in _STRING.findall(args)]
        if not strings:
            continue
        if name in ("open", "openat", "creat"):
            if name != "creat" and not any(flag in args for flag in _WRITE_FLAGS):
                continue
            out.append((name, strings[0]))
        elif name == "chdir":
            out.append((name, strings[0]))
        else:
            out.extend((name, s) for s in strings)
    return out


def outside(paths: list[tuple[str, str]], cwd: Path, allowed: list[Path]) -> list[tuple[str, str]]:
    """The writes not under any of ``allowed`` (relative paths resolved against ``cwd``; /dev is allowed)."""
    allowed_real = [Path(os.path.realpath(a)) for a in allowed] + [Path("/dev")]
    bad = []
    for name, path in paths:
        if name == "chdir":
            bad.append((name, path))  # the cwd moved: relative paths can no longer be resolved here
            continue
        full = Path(os.path.realpath(cwd / path))
        if not any(full == a or a in full.parents for a in allowed_real):
            bad.append((name, str(full)))
    return bad
