"""The `make check` tier's promise, enforced: a test outside the `slow` marker starts no process and
connects to no socket but one this test process itself listens on (an in-process emulator or fake).

`make check` runs `pytest -m "not slow"` with this guard installed for the whole session (fixtures of
any scope included), so a test that needs a real process or service and is not marked `slow` fails
with the reason instead of silently making the fast tier slow. `tests/conftest.py` marks `slow` by
directory, module and fixture; see SLOW_* there.
"""

from __future__ import annotations

import os
import socket
import threading
from typing import Any

_installed = False
_listening: set[Any] = set()
_lock = threading.Lock()


class CheckTierViolation(RuntimeError):
    """A fast-tier test did something only `slow` tests may do."""


def _advice(what: str) -> str:
    return (f"{what} in the fast tier (`make check` = pytest -m 'not slow'): mark the test "
            "`@pytest.mark.slow` (or add its module/fixture to SLOW_* in tests/conftest.py)")


def _key(sock: socket.socket, address: Any) -> Any:
    if sock.family == socket.AF_UNIX:
        return ("unix", address if isinstance(address, (str, bytes)) else str(address))
    host, port = address[0], address[1]
    try:
        infos = socket.getaddrinfo(host, port, sock.family, socket.SOCK_STREAM)
        host = infos[0][4][0]
    except OSError:
        pass
    return (sock.family, host, port)


def install() -> None:
    """Patch process creation and outgoing connections for the rest of this interpreter's life."""
    global _installed
    if _installed:
        return
    _installed = True

    import _posixsubprocess
    import subprocess

    def refuse_process(*_args: Any, **_kwargs: Any) -> Any:
        raise CheckTierViolation(_advice("a process was started"))

    # subprocess.Popen, asyncio's subprocesses and multiprocessing all go through fork_exec.
    _posixsubprocess.fork_exec = refuse_process
    subprocess._fork_exec = refuse_process  # type: ignore[attr-defined]  (3.12+ binds it here)
    for name in ("fork", "forkpty", "system", "posix_spawn", "posix_spawnp", "spawnv", "spawnve", "spawnvp", "spawnvpe"):
        if hasattr(os, name):
            setattr(os, name, refuse_process)

    original_bind = socket.socket.bind
    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex

    def bind(self: socket.socket, address: Any) -> None:
        original_bind(self, address)
        try:
            bound = self.getsockname()
        except OSError:
            bound = address
        with _lock:
            _listening.add(_key(self, bound))

    def allowed(self: socket.socket, address: Any) -> bool:
        if self.family not in (socket.AF_INET, socket.AF_INET6, socket.AF_UNIX):
            return True
        with _lock:
            return _key(self, address) in _listening

    def connect(self: socket.socket, address: Any) -> None:
        if not allowed(self, address):
            raise CheckTierViolation(_advice(f"a connection to {address!r} (not served by this test process)"))
        return original_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if not allowed(self, address):
            raise CheckTierViolation(_advice(f"a connection to {address!r} (not served by this test process)"))
        return original_connect_ex(self, address)

    socket.socket.bind = bind  # type: ignore[method-assign]
    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
