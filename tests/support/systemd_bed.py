"""Real systemd hosts for the tests: containers booted with Debian's `systemd-nspawn`, reached
over real OpenSSH with a pinned host key (facts: /work/shared/reference/systemd-test-hosts.md).

Each container (`BedHost`):

- root file system: an overlay of this machine's `/` (`mount -t overlay -o lowerdir=/,upperdir=U,
  workdir=W M`), so every installed package is there and every write stays in U;
- its own identity (`systemd-machine-id-setup --root=M`), booted with
  `systemd-nspawn -D M --register=no --keep-unit -M NAME -b -- systemd.firstboot=off` (there is no
  system bus on this machine: without --register=no/--keep-unit nspawn wants one);
- the machine's network namespace (no private network: nothing but loopback is ever addressed),
  so its sshd listens on its own loopback address, `127.0.1.N:2222` (sshd_config.d drop-in);
- a freshly generated ed25519 host key (the machine's own host keys are removed from the
  container's view); `host_key_line` is the public line a stack uses as `host_key`;
- an SSH deploy user (`DEPLOY_USER`) with passwordless sudo and one ed25519 key pair per bed:
  `private_key` is what a stack gets as `sshPrivateKey` (kept in memory and in a 0600 file in the
  bed's private directory, never on a command line);
- every unit this machine's image enables that would clash on the shared network or fail in a
  container (PostgreSQL, Redis, MariaDB, HAProxy (unless `keep_enabled`), timers...) masked
  before boot (`ln -s /dev/null M/etc/systemd/system/<unit>`);
- pip configured (the container's `/etc/pip.conf`, `/etc/xdg/pip/pip.conf`) for the bed's wheel
  cache only when `pip_config` is given (see tests/systemd/test_ssh_stack.py).

Stop: SIGTERM to the `systemd-nspawn` process we started (by its pid), wait, SIGKILL after a
bound, `umount` the overlay, remove the bed directory (never while something is still mounted
there). `SystemdBed` is a context manager, registers an `atexit` hook, and the pytest fixture in
tests/systemd/conftest.py closes it in a finalizer: containers go away even when a test fails.

What is missing (`systemd-nspawn`, `sshd`, `ssh`, `sudo`) is installed with
`apt-get install -y systemd-container openssh-server openssh-client sudo`; if that fails the bed
fails loudly naming the command. Needs root (overlay mounts, nspawn).
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

DEPLOY_USER = "deploy"
SSH_PORT = 2222
BED_ROOT = Path("/var/tmp/litellm-gateway-bed")
# Where each container sees this checkout's offline Prisma engine (tests/support/prisma_engine).
CONTAINER_ENGINE_DIR = "/opt/litellm-gateway-bed/prisma_engine"
ENGINE_DIR = Path(__file__).resolve().parent / "prisma_engine"  # = tests.support.real_proxy_prisma.ENGINE_DIR
APT_PACKAGES = ("systemd-container", "openssh-server", "openssh-client", "sudo")
REQUIRED_BINARIES = {"systemd-nspawn": "systemd-container", "/usr/sbin/sshd": "openssh-server", "ssh": "openssh-client",
                     "ssh-keygen": "openssh-client", "sudo": "sudo", "systemd-machine-id-setup": "systemd"}
# Units of this image that must not start in a container sharing the machine's network (they
# would clash with the machine's own PostgreSQL/Redis/... or fail without hardware/clock access).
KEEP_ENABLED = {"ssh.service", "getty@tty1.service", "machines.target", "remote-fs.target", "systemd-pstore.service"}


class BedError(RuntimeError):
    """The bed cannot be set up; the message names the command that failed."""


def _run(argv: Sequence[str], *, timeout: float = 120, input: Optional[bytes] = None, what: str = "") -> str:
    try:
        proc = subprocess.run(list(argv), input=input, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BedError(f"{what or argv[0]}: `{' '.join(argv)}` failed: {exc}") from None
    out = proc.stdout.decode("utf-8", "replace")
    if proc.returncode != 0:
        raise BedError(f"{what or argv[0]}: `{' '.join(argv)}` exited {proc.returncode}:\n{out[-3000:]}")
    return out


def ensure_packages() -> None:
    """Install what the bed needs when it is missing (CI runs on a fresh machine, as root)."""
    if os.geteuid() != 0:
        raise BedError("the systemd bed needs root (overlay mounts, systemd-nspawn): run the tests as root")
    missing = sorted({pkg for binary, pkg in REQUIRED_BINARIES.items()
                      if not (os.path.exists(binary) if binary.startswith("/") else shutil.which(binary))})
    if not missing:
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", *APT_PACKAGES]):
        proc = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=900)
        if proc.returncode != 0:
            raise BedError(f"missing {', '.join(missing)}; `{' '.join(argv)}` exited {proc.returncode}:\n"
                           f"{proc.stdout.decode('utf-8', 'replace')[-3000:]}")


def _port_free(address: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((address, port))
        except OSError:
            return False
    return True


def _ssh_answers(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=1) as s:
            s.settimeout(2)
            return s.recv(8).startswith(b"SSH-")
    except OSError:
        return False


@dataclass
class BedHost:
    name: str
    address: str
    port: int
    root: Path  # the container's root (overlay mount point)
    host_key_line: str  # "ssh-ed25519 AAAA... <name>": the stack's host_key
    bed: "SystemdBed" = field(repr=False)
    process: Optional[subprocess.Popen] = field(default=None, repr=False)
    keep_enabled: frozenset = frozenset()

    @property
    def known_hosts_line(self) -> str:
        return f"[{self.address}]:{self.port} {self.host_key_line}"

    def ssh_argv(self, known_hosts: Optional[Path] = None) -> list[str]:
        """OpenSSH as the deploy user with the pinned host key (identity from a 0600 file)."""
        return [
            "ssh", "-F", "/dev/null",
            "-o", "StrictHostKeyChecking=yes",
            "-o", f"UserKnownHostsFile={known_hosts or self.bed.known_hosts_file}",
            "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", "HostKeyAlgorithms=ssh-ed25519",
            "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none",
            "-o", "PasswordAuthentication=no", "-o", "ConnectTimeout=10",
            "-i", str(self.bed.identity_file),
            "-p", str(self.port), "-l", DEPLOY_USER, self.address,
        ]

    def ssh(self, command: str, *, input: Optional[str] = None, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([*self.ssh_argv(), "--", command], input=(input or "").encode(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=timeout)
        result = subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout.decode("utf-8", "replace"),
                                             proc.stderr.decode("utf-8", "replace"))
        if check and proc.returncode != 0:
            raise BedError(f"ssh {self.name} {command!r} exited {proc.returncode}:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
        return result

    def sudo(self, command: str, **kw) -> subprocess.CompletedProcess:
        import shlex
        return self.ssh(f"sudo -n /bin/bash -c {shlex.quote(command)}", **kw)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


class SystemdBed:
    """N booted systemd containers (see the module doc). `with SystemdBed(["a", "b"]) as bed:`"""

    def __init__(self, names: Sequence[str], *, boot_timeout: float = 90, keep_enabled: Optional[dict[str, Sequence[str]]] = None,
                 pip_config: Optional[str] = None, first_address: int = 10):
        self.names = list(names)
        self.boot_timeout = boot_timeout
        self.keep_enabled = {k: frozenset(v) for k, v in (keep_enabled or {}).items()}
        self.pip_config = pip_config
        self.id = uuid.uuid4().hex[:8]
        self.dir = BED_ROOT / self.id
        self.hosts: list[BedHost] = []
        self._first_address = first_address
        self._closed = False
        self._lock = threading.Lock()
        self.private_key = ""
        self.public_key = ""

    # ---- set up ---------------------------------------------------------------------------------
    @property
    def identity_file(self) -> Path:
        return self.dir / "keys" / "deploy_ed25519"

    @property
    def known_hosts_file(self) -> Path:
        return self.dir / "keys" / "known_hosts"

    def host(self, name: str) -> BedHost:
        return next(h for h in self.hosts if h.name == name)

    def _addresses(self) -> list[str]:
        out, n = [], self._first_address
        while len(out) < len(self.names):
            if n > 250:
                raise BedError("no free 127.0.1.N:2222 for the bed's sshd")
            address = f"127.0.1.{n}"
            if _port_free(address, SSH_PORT) and _port_free(address, 4000):
                out.append(address)
            n += 1
        return out

    def start(self) -> "SystemdBed":
        ensure_packages()
        atexit.register(self.close)
        (self.dir / "keys").mkdir(parents=True, mode=0o700)
        os.chmod(self.dir, 0o700)
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"bed-{self.id}-deploy", "-f", str(self.identity_file)],
             what="deploy key")
        self.private_key = self.identity_file.read_text()
        self.public_key = (self.dir / "keys" / "deploy_ed25519.pub").read_text().strip()
        try:
            for name, address in zip(self.names, self._addresses()):
                self.hosts.append(self._prepare(name, address))
            self._write_known_hosts()
            # one after the other: containers booting at the same time on this machine's hybrid
            # cgroup (v1) hierarchy sometimes fail a unit with 219/CGROUP
            for h in self.hosts:
                self._boot(h)
                self._wait_booted(h, time.monotonic() + self.boot_timeout)
        except BaseException:
            self.close()
            raise
        return self

    def _prepare(self, name: str, address: str) -> BedHost:
        base = self.dir / name
        upper, work, root = base / "upper", base / "work", base / "root"
        for d in (upper, work, root):
            d.mkdir(parents=True)
        _run(["mount", "-t", "overlay", "overlay", "-o", f"lowerdir=/,upperdir={upper},workdir={work}", str(root)], what="overlay")
        keep = KEEP_ENABLED | self.keep_enabled.get(name, frozenset())
        # identity
        (root / "etc/machine-id").unlink(missing_ok=True)
        _run(["systemd-machine-id-setup", f"--root={root}"], what="machine id")
        (root / "etc/hostname").write_text(name + "\n")
        # name resolution stays on loopback: nothing on a bed host may reach this machine's
        # (non-loopback) resolver; with --resolv-conf=off nspawn leaves this file alone
        resolv = root / "etc/resolv.conf"
        if resolv.is_symlink() or resolv.exists():
            resolv.unlink()
        resolv.write_text("# litellm-gateway test bed: no resolver beyond loopback\nnameserver 127.0.0.1\n")
        hosts_file = root / "etc/hosts"
        hosts_file.write_text(hosts_file.read_text() + f"{address} {name}\n")
        # mask what clashes (every enabled unit of the image but KEEP_ENABLED)
        sysdir = root / "etc/systemd/system"
        masked = set()
        for wants in sysdir.glob("*.wants"):
            for unit in wants.iterdir():
                if unit.name not in keep and not unit.name.endswith(".target"):
                    masked.add(unit.name)
        for unit in sorted(masked):
            target = sysdir / unit
            if target.is_symlink() or target.exists():
                target.unlink()
            target.symlink_to("/dev/null")
        # the machine's host keys are not the container's: one fresh ed25519 key
        ssh_dir = root / "etc/ssh"
        for old in ssh_dir.glob("ssh_host_*"):
            old.unlink()
        host_key_line = _new_host_key(ssh_dir, name)
        (ssh_dir / "sshd_config.d").mkdir(exist_ok=True)
        (ssh_dir / "sshd_config.d/litellm-bed.conf").write_text(
            f"# litellm-gateway test bed\nListenAddress {address}:{SSH_PORT}\nHostKey /etc/ssh/ssh_host_ed25519_key\n"
            "PasswordAuthentication no\nPermitRootLogin no\n"
        )
        # the deploy user: passwordless sudo, the bed's key
        _run(["chroot", str(root), "useradd", "--create-home", "--shell", "/bin/bash", DEPLOY_USER], what="deploy user")
        home = root / "home" / DEPLOY_USER
        (home / ".ssh").mkdir(mode=0o700)
        (home / ".ssh/authorized_keys").write_text(self.public_key + "\n")
        os.chmod(home / ".ssh/authorized_keys", 0o600)
        _run(["chroot", str(root), "chown", "-R", f"{DEPLOY_USER}:{DEPLOY_USER}", f"/home/{DEPLOY_USER}/.ssh"], what="deploy user")
        sudoers = root / "etc/sudoers.d/litellm-bed"
        sudoers.parent.mkdir(exist_ok=True)
        sudoers.write_text(f"{DEPLOY_USER} ALL=(ALL) NOPASSWD: ALL\n")
        os.chmod(sudoers, 0o440)
        # this machine's own pip configuration (root's, the image's) is not a host's: gone from the
        # container's view, so pip on the host behaves as on a fresh Debian host
        for conf in (root / "root/.config/pip", root / "root/.pip", root / "etc/xdg/pip", root / "etc/pip.conf"):
            if conf.is_dir() and not conf.is_symlink():
                shutil.rmtree(conf)
            elif conf.exists() or conf.is_symlink():
                conf.unlink()
        if self.pip_config is not None:
            for conf in (root / "etc/pip.conf",):
                conf.parent.mkdir(parents=True, exist_ok=True)
                conf.write_text(self.pip_config)
        return BedHost(name=name, address=address, port=SSH_PORT, root=root, host_key_line=host_key_line, bed=self,
                       keep_enabled=frozenset(keep))

    def _boot(self, h: BedHost) -> None:
        log = open(self.dir / f"{h.name}.console.log", "wb")
        h.process = subprocess.Popen(
            ["systemd-nspawn", "-q", "-D", str(h.root), "--register=no", "--keep-unit", "--resolv-conf=off", "-M", f"bed{self.id}{h.name}"[:64],
             # The overlay is of / only: a project checked out under /tmp (or any other mount) is not in
             # it. The offline Prisma engine (substitution S1) is bound read-only at a fixed path.
             f"--bind-ro={ENGINE_DIR}:{CONTAINER_ENGINE_DIR}",
             "-b", "--", "systemd.firstboot=off"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        log.close()

    def console(self, h: BedHost) -> str:
        try:
            return (self.dir / f"{h.name}.console.log").read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def _wait_booted(self, h: BedHost, deadline: float) -> None:
        while not _ssh_answers(h.address, h.port):
            if not h.running:
                raise BedError(f"container {h.name}: systemd-nspawn exited {h.process.returncode}:\n{self.console(h)}")
            if time.monotonic() > deadline:
                raise BedError(f"container {h.name}: sshd on {h.address}:{h.port} not up within {self.boot_timeout}s:\n{self.console(h)}")
            time.sleep(0.3)
        while True:
            answer = h.ssh("systemctl is-system-running", check=False, timeout=30)
            state = answer.stdout.strip()
            if state in ("running", "degraded"):
                return
            if time.monotonic() > deadline:
                raise BedError(f"container {h.name}: systemctl is-system-running says {state!r} after {self.boot_timeout}s "
                               f"(ssh exit {answer.returncode}: {answer.stderr[-1500:]}):\n{self.console(h)}")
            time.sleep(0.5)

    # ---- tear down --------------------------------------------------------------------------------
    def stop_host(self, h: BedHost, timeout: float = 30) -> None:
        """Shut one container down (SIGTERM to our nspawn, by pid), keep its overlay mounted."""
        if h.process is None:
            return
        if h.process.poll() is None:
            h.process.send_signal(signal.SIGTERM)
            try:
                h.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(h.process.pid, signal.SIGKILL)
                h.process.wait(timeout=10)
        h.process = None

    def boot_host(self, h: BedHost) -> None:
        """Boot a stopped container again (same overlay: what was deployed is still there)."""
        self._boot(h)
        self._wait_booted(h, time.monotonic() + self.boot_timeout)

    def rekey_host(self, h: BedHost) -> str:
        """A host whose sshd gets a new ed25519 host key (a reinstalled or re-imaged host keeping its
        address): the key is written into the container's root, the bed's own known_hosts pins it,
        sshd is reloaded over it. Returns the new line."""
        # sshd re-executes itself for every connection, which reads the host key anew: the next
        # connection already presents the new key (found on the bed); the reload is for form's sake
        h.host_key_line = _new_host_key(h.root / "etc/ssh", h.name)
        self._write_known_hosts()
        h.sudo("systemctl reload ssh")
        return h.host_key_line

    def _write_known_hosts(self) -> None:
        """The bed's known_hosts: every host's address and port with its current host key."""
        self.known_hosts_file.write_text("".join(h.known_hosts_line + "\n" for h in self.hosts))

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        errors = []
        for h in self.hosts:
            try:
                self.stop_host(h)
            except Exception as exc:  # keep stopping the others
                errors.append(f"{h.name}: {exc}")
        still_mounted = False
        for h in self.hosts:
            if os.path.ismount(h.root):
                proc = subprocess.run(["umount", str(h.root)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
                if proc.returncode != 0:
                    time.sleep(1)
                    subprocess.run(["umount", "-l", str(h.root)], timeout=60)
            if os.path.ismount(h.root):
                still_mounted = True
                errors.append(f"{h.root} is still mounted")
        if not still_mounted and self.dir.exists():
            shutil.rmtree(self.dir, ignore_errors=True)
        try:
            atexit.unregister(self.close)
        except Exception:
            pass
        if errors:
            raise BedError("bed cleanup: " + "; ".join(errors))

    def __enter__(self) -> "SystemdBed":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def _new_host_key(ssh_dir: Path, name: str) -> str:
    """A fresh ed25519 host key (commented `name`) at ssh_dir/ssh_host_ed25519_key and .pub, in place
    of the one there; returns its public line. Generated beside it (ssh-keygen asks before it
    overwrites), then renamed over it: sshd, which reads its host key at every connection, finds
    the old key or the new one, never a half-written file."""
    key, staged = ssh_dir / "ssh_host_ed25519_key", ssh_dir / "ssh_host_ed25519_key.new"
    pub, staged_pub = Path(f"{key}.pub"), Path(f"{staged}.pub")
    for f in (staged, staged_pub):
        f.unlink(missing_ok=True)
    _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(staged)], what="host key")
    os.replace(staged, key)
    os.replace(staged_pub, pub)
    return pub.read_text().strip()


def write_known_hosts(path: Path, address: str, port: int, host_key: str) -> None:
    """A known_hosts file holding exactly one pinned key (for a connection's `hostKey`)."""
    path.write_text(f"[{address}]:{port} {host_key.strip()}\n" if port != 22 else f"{address} {host_key.strip()}\n")
    os.chmod(path, 0o600)


def private_tempdir() -> str:
    d = tempfile.mkdtemp(prefix="litellm-ssh-")
    os.chmod(d, 0o700)
    return d
