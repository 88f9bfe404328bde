"""A PostgreSQL server of the test's own, on a free loopback port, that the test may stop and start.

The shared server on 127.0.0.1:5432 belongs to every test (and engineer) on the machine: a test
that needs the database to go away (an outage) starts its own cluster instead. ``initdb`` into a
temporary directory, ``pg_ctl start`` listening on 127.0.0.1 only (no Unix socket outside the
directory), ``stop()`` = ``pg_ctl stop -m fast`` (what a ``systemctl stop postgresql`` does: the
server refuses new connections and terminates the sessions), ``start()`` again on the same port.

The server runs as the ``postgres`` account (PostgreSQL refuses to run as root) and trusts local
connections: it listens on loopback only and lives as long as the test. The process is ours: the
``postmaster.pid`` of our data directory names it, and ``close()`` stops it and removes the directory.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

__all__ = ["OwnPostgres", "OwnPostgresError", "postgres_bin_dir"]


class OwnPostgresError(RuntimeError):
    pass


def postgres_bin_dir() -> Path:
    """The newest installed PostgreSQL's bin directory (Debian layout: /usr/lib/postgresql/<major>/bin)."""
    root = Path("/usr/lib/postgresql")
    majors = sorted((p for p in root.glob("*") if (p / "bin" / "pg_ctl").exists()), key=lambda p: int(p.name))
    if not majors:
        raise OwnPostgresError(
            "no PostgreSQL server binaries under /usr/lib/postgresql: run `make prepare` "
            "(tests/support/prepare_machine.sh installs postgresql)"
        )
    return majors[-1] / "bin"


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OwnPostgres:
    """``OwnPostgres().create()`` ... ``stop()`` / ``start()`` ... ``close()`` (or ``with``)."""

    def __init__(self, *, user: str = "postgres") -> None:
        self.user = user
        self.port = _free_loopback_port()
        self._root: Path | None = None
        self.bin = postgres_bin_dir()

    @property
    def data_dir(self) -> Path:
        if self._root is None:
            raise OwnPostgresError("not created")
        return self._root / "data"

    @property
    def admin_dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres connect_timeout=5"

    def _run(self, *argv: str, timeout: float = 120.0) -> str:
        as_user = [] if os.geteuid() != 0 else ["runuser", "-u", self.user, "--"]
        done = subprocess.run(
            [*as_user, *argv], capture_output=True, text=True, timeout=timeout, cwd="/", check=False
        )
        if done.returncode != 0:
            raise OwnPostgresError(f"{Path(argv[0]).name} failed ({done.returncode}): {done.stdout}{done.stderr}")
        return done.stdout

    def create(self) -> "OwnPostgres":
        self._root = Path(tempfile.mkdtemp(prefix="llmgw-own-pg-"))
        try:
            uid = pwd.getpwnam(self.user).pw_uid if os.geteuid() == 0 else os.geteuid()
            os.chown(self._root, uid, -1)
            self._run(
                str(self.bin / "initdb"), "-D", str(self.data_dir), "-U", "postgres", "--auth=trust",
                "--encoding=UTF8", "--no-sync",
            )
            # Loopback only, socket in our own directory, small: this server lives for one test.
            with open(self.data_dir / "postgresql.auto.conf", "a") as conf:
                conf.write(
                    f"listen_addresses = '127.0.0.1'\nport = {self.port}\n"
                    f"unix_socket_directories = '{self._root}'\nfsync = off\nmax_connections = 60\n"
                    "shared_buffers = 16MB\n"
                )
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def start(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self._root / "log"), "-w", "-t", "120", "start")
        deadline = time.monotonic() + 60
        while True:
            try:
                with psycopg.connect(self.admin_dsn) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise OwnPostgresError(f"own PostgreSQL on port {self.port} did not accept connections")
                time.sleep(0.3)

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data_dir), "-m", mode, "-w", "-t", "120", "stop")

    def pids(self) -> list[int]:
        """The postmaster (first line of our postmaster.pid) and its children: the processes we started."""
        postmaster = int((self.data_dir / "postmaster.pid").read_text().split()[0])
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == postmaster:
                children.append(int(stat.parent.name))
        return [postmaster, *children]

    def freeze(self) -> None:
        """A hung database host: SIGSTOP our server's processes. The kernel still completes TCP
        handshakes on the listening socket, so a client connects and then waits for an answer
        that never comes (a stalled host or an overloaded server, not a refused port)."""
        for pid in self.pids():
            os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        for pid in self.pids():
            os.kill(pid, signal.SIGCONT)

    def running(self) -> bool:
        return self._root is not None and (self.data_dir / "postmaster.pid").exists()

    def log(self) -> str:
        path = self._root / "log" if self._root else None
        return path.read_text(errors="replace") if path and path.exists() else ""

    def close(self) -> None:
        root, self._root = self._root, None
        if root is None:
            return
        self._root = root
        try:
            if self.running():
                self.thaw()
                self.stop("immediate")
        finally:
            self._root = None
            shutil.rmtree(root, ignore_errors=True)

    def __enter__(self) -> "OwnPostgres":
        return self.create()

    def __exit__(self, *exc: object) -> None:
        self.close()
