"""Run `command:remote:Command` steps over real OpenSSH, the way pulumi-command 1.2.1 runs them.

Read in pulumi/pulumi-command at tag v1.2.1 (commit 7f3eb6f3b77cd0fa3895ba437a695dd393f7dd25, the
version requirements.txt pins), provider/pkg/provider/remote/:

- **What runs** (commandController.go `Create`/`Update`/`Delete`): create runs `create` (nothing
  when it is unset); update runs the new `update`, else the new `create`, with the OLD state's
  stdout/stderr as the "previous output"; delete runs the `delete` stored in the old state (with
  that state's stdout/stderr). The engine side (diff, order, replace) is tests.support.transitions.
- **One connection per run** (commandOutputs.go `run` -> connection.go `Connection.Dial`): a new
  SSH client is dialled for every command, `ssh.Dial("tcp", host:port)` retried by
  `dialWithRetry` until it succeeds or `dials > dialErrorLimit` (default 10; -1 = unlimited; the
  error then reads `after N failed attempts: <dial error>`), waiting between attempts as
  pulumi/sdk go/common/util/retry `Until` does (100 ms, x1.5, at most 5 s). Each dial is bounded by
  `perDialTimeout` (default 15 s; x/crypto/ssh ClientConfig.Timeout = the TCP connect: OpenSSH's
  `ConnectTimeout`). Here the dial is an OpenSSH control master (`ssh -M -N -f`, which returns
  once authenticated); every session of the run goes through it (`-S`), and it is closed after.
- **Host key** (connection.go `SSHConfig`): with `hostKey` set, `ssh.FixedHostKey(key)` and
  `HostKeyAlgorithms = [key.Type()]`; a mismatch is a dial error (so it is retried, then fails).
  OpenSSH: `StrictHostKeyChecking=yes`, `UserKnownHostsFile=<a file holding only that key>`,
  `HostKeyAlgorithms=<its type>`. Without `hostKey` the provider accepts any key
  (`InsecureIgnoreHostKey`): refused here, as the program refuses it (components/connection.py).
- **Authentication** (`SSHConfig`): `privateKey` (publickey auth; `privateKeyPassword` for an
  encrypted one), `password` (password + keyboard-interactive), and an agent (`agentSocketPath` or
  SSH_AUTH_SOCK). Here: the private key only (written to a 0600 file in a 0700 directory, given
  with `-i`, never on a command line; `IdentitiesOnly`, no agent, no password); the other methods
  are refused (this project uses none of them).
- **Environment** (commandOutputs.go `run`): each `environment` entry is sent with
  `session.Setenv` (an SSH "env" request with want-reply); sshd refuses a name its `AcceptEnv`
  does not list, and then the step FAILS: `could not set environment variable "K": ssh: setenv
  failed` (logged with the AcceptEnv hint). OpenSSH's client sends `SetEnv` without want-reply and
  ignores a refusal, so each variable is first probed over the same connection (a session with
  that one variable running `/usr/bin/env`: accepted iff it shows up) and a refused one fails the
  step with the provider's message.
- **addPreviousOutputInEnv** (same function): unset or true -> PULUMI_COMMAND_STDOUT /
  PULUMI_COMMAND_STDERR set to the previous output when it is non-empty, but a refusal only logs a
  warning and the command still runs. false -> nothing is sent.
- **The command** (`session.Run(cmd)`): one SSH "exec" request with the string as given, no pty;
  sshd runs it as `<the user's login shell> -c <string>`. OpenSSH: `ssh -T ... -- <string>` (one
  argument: sent verbatim).
- **stdin** (`run`): the `stdin` input when non-empty; otherwise the session's stdin is empty
  (x/crypto/ssh gives a nil Stdin an empty reader: immediate EOF). Both: the bytes, then EOF.
- **Result** (`run`): stdout and stderr are captured separately (outputs `stdout`/`stderr`, one
  trailing newline trimmed) and together (in arrival order) for the error: a non-zero exit is
  `Process exited with status N: running "<cmd>":\n<stdout and stderr>` (x/crypto/ssh
  `ExitError.Error()`, then `fmt.Errorf("%w: running %q:\n%s", ...)`), which names the whole
  command: why no secret may ever be part of a command string (components/host.py).
- **No timeout** of its own: the provider runs until the command ends (the engine's context).
  Here every run is bounded (`command_timeout`, 900 s) so a test cannot hang.

`logging` (what reaches Pulumi's log) changes nothing observable here and is not modelled.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Optional

REMOTE_COMMAND = "command:remote:Command"
PULUMI_COMMAND_STDOUT = "PULUMI_COMMAND_STDOUT"
PULUMI_COMMAND_STDERR = "PULUMI_COMMAND_STDERR"
DIAL_ERROR_DEFAULT = 10
PER_DIAL_TIMEOUT_DEFAULT = 15


class RemoteStepError(RuntimeError):
    """What the provider reports for a failed run (message in the provider's words)."""

    def __init__(self, message: str, *, exit_status: Optional[int] = None, output: str = ""):
        super().__init__(message)
        self.exit_status = exit_status
        self.output = output


@dataclass
class RemoteResult:
    stdout: str  # trailing newline trimmed, as the provider's output
    stderr: str
    combined: str
    exit_status: int
    warnings: list[str]


def go_quote(text: str) -> str:
    """Go's %q of a string (strconv.Quote) for the error message: JSON escaping is the same for
    the printable ASCII and the control characters a shell script holds."""
    return json.dumps(text, ensure_ascii=False)


def _read_stream(pipe, sink: list, combined: list, lock: threading.Lock) -> None:
    for chunk in iter(lambda: pipe.read1(65536), b""):
        sink.append(chunk)
        with lock:
            combined.append(chunk)


class SshSession:
    """One dialled connection (an OpenSSH control master) to `connection`; closed by close()."""

    def __init__(self, connection: dict[str, Any], *, dial_sleep=time.sleep):
        for unsupported in ("password", "privateKeyPassword", "agentSocketPath", "proxy"):
            if connection.get(unsupported):
                raise RemoteStepError(f"connection.{unsupported} is not supported by this executor (the project never sets it)")
        if not connection.get("hostKey"):
            raise RemoteStepError("connection without hostKey: the provider would accept any server (InsecureIgnoreHostKey); refused")
        if not connection.get("privateKey"):
            raise RemoteStepError("connection without privateKey: no other authentication is supported here")
        self.host = connection["host"]
        self.port = int(connection.get("port") or 22)
        self.user = connection.get("user") or "root"
        self.dial_error_limit = int(connection.get("dialErrorLimit", DIAL_ERROR_DEFAULT))
        self.per_dial_timeout = int(connection.get("perDialTimeout", PER_DIAL_TIMEOUT_DEFAULT))
        self._dial_sleep = dial_sleep
        self.dir = tempfile.mkdtemp(prefix="litellm-ssh-")
        os.chmod(self.dir, 0o700)
        self.identity = os.path.join(self.dir, "id")
        fd = os.open(self.identity, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            key = connection["privateKey"]
            fh.write(key if key.endswith("\n") else key + "\n")
        host_key = connection["hostKey"].strip()
        self.key_type = host_key.split()[0]
        self.known_hosts = os.path.join(self.dir, "known_hosts")
        entry = self.host if self.port == 22 else f"[{self.host}]:{self.port}"
        with open(self.known_hosts, "w") as fh:
            fh.write(f"{entry} {host_key}\n")
        self.control = os.path.join(self.dir, "ctl")
        self.dial_attempts = 0

    def _base(self) -> list[str]:
        return [
            "ssh", "-F", "/dev/null", "-T",
            "-o", "StrictHostKeyChecking=yes",
            "-o", f"UserKnownHostsFile={self.known_hosts}",
            "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", f"HostKeyAlgorithms={self.key_type}",
            "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none",
            "-o", "PasswordAuthentication=no", "-o", "KbdInteractiveAuthentication=no",
            "-o", f"ConnectTimeout={self.per_dial_timeout}" if self.per_dial_timeout > 0 else "ConnectTimeout=none",
            "-o", "ServerAliveInterval=15",
            "-i", self.identity, "-p", str(self.port), "-l", self.user,
            "-o", f"ControlPath={self.control}",
        ]

    def dial(self) -> None:
        """connection.go Dial/dialWithRetry: retried until dials > dialErrorLimit."""
        delay = 0.1
        tries = 0
        while True:
            self.dial_attempts += 1
            proc = subprocess.run([*self._base(), "-o", "ControlMaster=yes", "-o", "ControlPersist=no",
                                   # the master sends a session's env requests only for names its own
                                   # SendEnv allows (OpenSSH clientloop.c client_session2_setup); each
                                   # session's client picks exactly the variables of that run
                                   "-o", "SendEnv=*", "-N", "-f", self.host],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
            if proc.returncode == 0:
                return
            error = proc.stdout.decode("utf-8", "replace").strip()
            dials = tries + 1
            if self.dial_error_limit > -1 and dials > self.dial_error_limit:
                raise RemoteStepError(f"after {tries} failed attempts: {error}")
            delay = min(delay * 1.5, 5.0)
            self._dial_sleep(delay)
            tries += 1

    def run(self, command: str, *, stdin: str = "", env: Optional[dict[str, str]] = None, timeout: float = 900) -> tuple[int, bytes, bytes, bytes]:
        argv = [*self._base(), "-o", "ControlMaster=no"]
        # Through a control master OpenSSH 9.2 forwards SendEnv (from the client's own
        # environment, mux.c), not SetEnv: each variable is put in the ssh client's environment.
        client_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
        client_env.pop("LANG") if "LANG" in (env or {}) else None
        for k, v in (env or {}).items():
            argv += ["-o", f"SendEnv={k}"]
            client_env[k] = v
        argv += [self.host, "--", command]
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=client_env)
        out: list = []
        err: list = []
        combined: list = []
        lock = threading.Lock()
        readers = [threading.Thread(target=_read_stream, args=(proc.stdout, out, combined, lock), daemon=True),
                   threading.Thread(target=_read_stream, args=(proc.stderr, err, combined, lock), daemon=True)]
        for t in readers:
            t.start()
        try:
            if stdin:
                proc.stdin.write(stdin.encode("utf-8"))
            proc.stdin.close()
        except BrokenPipeError:
            pass
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise RemoteStepError(f"command still running after {timeout}s (the test bound): running {go_quote(command)}")
        for t in readers:
            t.join(timeout=30)
        return rc, b"".join(out), b"".join(err), b"".join(combined)

    def env_accepted(self, name: str, value: str) -> bool:
        """Would sshd accept an SSH env request for `name`? (see the module doc)"""
        rc, out, _, _ = self.run("/usr/bin/env", env={name: value}, timeout=60)
        return rc == 0 and f"{name}={value}".encode() in out.split(b"\n")

    def close(self) -> None:
        if os.path.exists(self.control):
            subprocess.run([*self._base(), "-O", "exit", self.host], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=30)
        shutil.rmtree(self.dir, ignore_errors=True)


def run_remote(inputs: dict[str, Any], command: str, previous: tuple[str, str] = ("", ""), *,
               command_timeout: float = 900) -> RemoteResult:
    """commandOutputs.go `run` for one Command's (plain) inputs and the command chosen by the
    controller. Raises RemoteStepError with the provider's message on failure."""
    session = SshSession(inputs["connection"])
    warnings: list[str] = []
    try:
        session.dial()
        env: dict[str, str] = {}
        for k, v in (inputs.get("environment") or {}).items():
            if not session.env_accepted(k, v):
                raise RemoteStepError(
                    f"could not set environment variable {go_quote(k)}: ssh: setenv failed "
                    f"(sshd does not list it in AcceptEnv)")
            env[k] = v
        add_previous = inputs.get("addPreviousOutputInEnv")
        if add_previous is None or add_previous:
            for name, value in ((PULUMI_COMMAND_STDOUT, previous[0]), (PULUMI_COMMAND_STDERR, previous[1])):
                if value:
                    if session.env_accepted(name, value):
                        env[name] = value
                    else:
                        warnings.append(f"Unable to set '{name}'. This only works if your SSH server is configured to accept "
                                        "these variables via AcceptEnv.")
        rc, out, err, combined = session.run(command, stdin=inputs.get("stdin") or "", env=env, timeout=command_timeout)
    finally:
        session.close()
    text = combined.decode("utf-8", "replace")
    if rc != 0:
        status = "Process exited with status %d" % rc if rc != 255 else "Process exited with status 255 (or the ssh client failed)"
        raise RemoteStepError(f"{status}: running {go_quote(command)}:\n{text}", exit_status=rc, output=text)
    return RemoteResult(
        stdout=out.decode("utf-8", "replace").removesuffix("\n"),
        stderr=err.decode("utf-8", "replace").removesuffix("\n"),
        combined=text, exit_status=rc, warnings=warnings,
    )


def unique_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
