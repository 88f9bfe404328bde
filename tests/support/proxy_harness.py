"""Run the real LiteLLM proxy (the pinned ``litellm`` CLI from the venv) as a subprocess for tests.

``RunningProxy(config, env, args)`` takes what a host would have:

- ``config``: the config.yaml document (a dict, or a path to a YAML file);
- ``env``: the variables of the host's env file (``LITELLM_MASTER_KEY``, ``LITELLM_MODE``,
  ``LITELLM_LOCAL_MODEL_COST_MAP``, ``REDIS_PASSWORD``, provider keys, ...);
- ``args``: the CLI args of the host's systemd unit, e.g.
  ``["--config", "/etc/litellm/config.yaml", "--port", "4000", "--num_workers", "1"]``.

and changes only what a test machine needs changed, each step explicit:

- the port becomes a free loopback port (never 4000: see below) and the bind host 127.0.0.1;
  ``--config`` points at the config written into a private temp dir;
- :func:`without_database` drops the database settings (logged at WARNING, and kept in
  ``RunningProxy.dropped_database_settings``): the proxy's DB features need Prisma engines that cannot
  be downloaded here. Observed with litellm 1.108.7: when ``general_settings.database_url`` is
  ``os.environ/DATABASE_URL`` and that variable is absent, the CLI resolves it to None and the
  proxy starts without a database, without a word about it; ``/health/readiness`` then answers 200
  ``{"status": "healthy", "db": "Not connected"}``; master-key auth, routing, retries, fallbacks and
  the Redis response cache all work. With ``DATABASE_URL`` set (even to an unreachable server) the CLI
  first looks for the Prisma CLI and engines to migrate, so nothing of that path can run here.
  The harness therefore removes the setting and the DB variables on purpose rather than relying on
  the silent fallback. Auth without a database: the master key works (200); a request without a
  key gets 401 only if the ``prisma`` Python package is importable (litellm[proxy] does not pull
  it: it is in the ``extra_proxy`` extra; without it the auth error handler fails on
  ``import prisma`` and answers 500); any other key gets 400 "No connected db.";
  ``keep_database=True`` keeps them: tests/support/real_proxy.py gives the proxy a real database
  through an offline Prisma engine (tests/support/prisma_engine/);
- the process gets a clean, explicit environment (never the test runner's: no provider keys leak
  in), plus offline defaults (:data:`OFFLINE_ENV`) that stop every remote fetch we know of; secrets
  travel only in the environment: ``args`` that contain a secret value are refused. Checked with
  ``strace -f -e trace=connect`` over startup plus healthy, failing, hanging and refused upstream
  traffic: every connect() went to 127.0.0.1. One of them is a quirk worth knowing: at startup the
  router registers each ``ollama*`` deployment's pricing and asks ``POST /api/show`` of
  ``OLLAMA_API_BASE`` or ``http://localhost:11434``, *not* of the deployment's ``api_base``.

TLS: the unit's ``--ssl_keyfile_path``/``--ssl_certfile_path`` are refused unless the caller gives
the test's certificate files (:class:`ProxyTls`: server certificate, its private key, and the CA
bundle clients trust). Then, as for ``--config``, only those two *values* are replaced, by copies of
the files in the private temp dir (the key copy mode 0600); the flags themselves come from the unit.
Giving :class:`ProxyTls` for args without both flags is refused too (a test would believe it speaks
HTTPS while the unit does not). With TLS the harness speaks ``https://`` and verifies the proxy's
certificate against the CA bundle *only* (never ``verify=False``), for the health checks and for
:meth:`RunningProxy.openai_client` / :meth:`RunningProxy.http_client`.

``start()`` launches ``litellm`` in its own process group, waits (bounded) for
``/health/liveliness`` and then ``/health/readiness``, and checks that the port we asked for is
listened on *by this process group*. LiteLLM's CLI silently moves to a random port when the port it
was given is 4000 and busy; the harness sees the move (the ``Uvicorn running on`` line, and the
group's listening sockets in /proc) and fails with :class:`ProxyPortError`. ``stop()`` sends SIGTERM
then SIGKILL to the whole process group, by its id. On any startup failure the proxy is stopped and
:class:`ProxyStartupError` carries the last 50 lines of its output (secret values redacted).
"""

from __future__ import annotations

import atexit
import copy
import logging
import os
import re
import shutil
import signal
import subprocess
import ssl
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.support.fake_upstreams import free_port

__all__ = [
    "RunningProxy",
    "ProxyTls",
    "ProxyStartupError",
    "ProxyPortError",
    "without_database",
    "rewrite_cli_args",
    "OFFLINE_ENV",
    "DATABASE_ENV_VARS",
    "LOOPBACK",
    "litellm_cli",
]

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"

#: Set in every proxy environment unless the caller sets them (LITELLM_LOCAL_MODEL_COST_MAP must be
#: true in any case). Each one stops a remote fetch the pinned proxy can make:
OFFLINE_ENV: Mapping[str, str] = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # model price map (fetched at import time otherwise)
    "LITELLM_TELEMETRY_DISABLED": "True",  # veto of the proxy's usage telemetry (off by default too)
    "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS": "True",  # anthropic beta-header table
    "LITELLM_LOCAL_BLOG_POSTS": "True",  # admin UI "news" feed
    "LITELLM_LOCAL_POLICY_TEMPLATES": "True",  # guardrail policy templates
    "LITELLM_LOCAL_AUTOROUTER_PRESETS": "True",  # auto-router preset catalog
    "HF_HUB_OFFLINE": "1",  # HuggingFace tokenizers, should a token counter want one
    "TRANSFORMERS_OFFLINE": "1",
    "NO_PROXY": "127.0.0.1,localhost,::1",
    "no_proxy": "127.0.0.1,localhost,::1",
}

#: Environment variables through which the pinned proxy finds a database
#: (proxy_cli.py: DATABASE_URL, or built by construct_database_url_from_env_vars from the others).
DATABASE_ENV_VARS: tuple[str, ...] = (
    "DATABASE_URL",
    "DIRECT_URL",
    "DATABASE_URL_READ_REPLICA",
    "DATABASE_HOST",
    "DATABASE_USERNAME",
    "DATABASE_PASSWORD",
    "DATABASE_NAME",
    "DATABASE_SCHEMA",
    "STORE_MODEL_IN_DB",
)

#: general_settings keys that only make sense with a database.
_DATABASE_GENERAL_SETTINGS: tuple[str, ...] = ("database_url", "store_model_in_db")

_SECRETISH = re.compile(r"KEY|PASSWORD|SECRET|TOKEN|DATABASE_URL|CREDENTIAL|PASSWD|AUTH", re.IGNORECASE)
_RUNNING_ON = re.compile(r"running on https?://([^\s:/]+|\[[^\]]+\]):(\d+)", re.IGNORECASE)
_TAIL_LINES = 50


class ProxyStartupError(RuntimeError):
    """The proxy did not become ready; the message ends with the last lines of its output."""


class ProxyPortError(ProxyStartupError):
    """The proxy is not listening on the port we gave it (LiteLLM moved it, or another process has it)."""


def litellm_cli() -> str:
    """The ``litellm`` CLI of the venv running the tests (the pinned release)."""
    candidates = [
        Path(sys.executable).parent / "litellm",
        Path(__file__).resolve().parents[2] / ".venv" / "bin" / "litellm",
    ]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("litellm")
    if found:
        return found
    raise FileNotFoundError("no litellm CLI next to the test interpreter nor in .venv/bin")


def without_database(
    config: Mapping[str, Any], env: Mapping[str, str] | None = None
) -> tuple[dict[str, Any], dict[str, str], list[str]]:
    """Make a config + environment run the proxy without a database, explicitly.

    Drops ``general_settings.database_url`` / ``store_model_in_db`` from a deep copy of ``config``
    and the :data:`DATABASE_ENV_VARS` from a copy of ``env``. Returns ``(config, env, dropped)``
    where ``dropped`` names what was removed (names only, never values); logs one WARNING line when
    anything was dropped.
    """
    new_config: dict[str, Any] = copy.deepcopy(dict(config))
    new_env: dict[str, str] = dict(env or {})
    dropped: list[str] = []
    general = new_config.get("general_settings")
    if isinstance(general, dict):
        for key in _DATABASE_GENERAL_SETTINGS:
            if key in general:
                del general[key]
                dropped.append(f"general_settings.{key}")
    for name in DATABASE_ENV_VARS:
        if name in new_env:
            del new_env[name]
            dropped.append(f"env {name}")
    if dropped:
        log.warning("without_database: running the proxy WITHOUT a database; dropped %s", ", ".join(dropped))
    return new_config, new_env, dropped


def _option_value_index(args: Sequence[str], names: Iterable[str]) -> list[tuple[int, str | None]]:
    """Positions of ``--name value`` (value at i+1) and ``--name=value`` (value inline) forms."""
    found: list[tuple[int, str | None]] = []
    names = tuple(names)
    for i, arg in enumerate(args):
        for name in names:
            if arg == name:
                found.append((i, None))
            elif arg.startswith(name + "="):
                found.append((i, arg[len(name) + 1 :]))
    return found


@dataclass(frozen=True)
class ProxyTls:
    """The test's TLS material for a unit whose args enable TLS: PEM files of the server
    certificate (or chain), its private key, and the CA bundle clients trust."""

    cert_file: Path
    key_file: Path
    ca_file: Path


_SSL_KEY_FLAG = "--ssl_keyfile_path"
_SSL_CERT_FLAG = "--ssl_certfile_path"


def _replace_option_values(out: list[str], names: tuple[str, ...], value: str, *, add: bool = True) -> bool:
    positions = _option_value_index(out, names)
    if not positions:
        if add:
            out += [names[0], value]
        return False
    for i, inline in reversed(positions):
        if inline is not None:
            out[i] = f"{out[i].split('=', 1)[0]}={value}"
        elif i + 1 < len(out):
            out[i + 1] = value
        else:
            out.append(value)
    return True


def rewrite_cli_args(
    args: Sequence[str],
    *,
    config_path: str,
    port: int,
    host: str = LOOPBACK,
    tls_paths: tuple[str, str] | None = None,
) -> list[str]:
    """The unit's args with only ``--config``, ``--port`` and ``--host`` replaced (added if absent),
    and, when ``tls_paths=(keyfile, certfile)`` is given, the values of the unit's own
    ``--ssl_keyfile_path``/``--ssl_certfile_path`` (both must be there; never added)."""
    out = list(args)
    for names, value in ((("--config", "-c"), config_path), (("--port",), str(port)), (("--host",), host)):
        _replace_option_values(out, names, value)
    present = [flag for flag in (_SSL_KEY_FLAG, _SSL_CERT_FLAG) if _option_value_index(out, (flag,))]
    if tls_paths is None:
        if present:
            raise ValueError(
                f"{present[0]} in the unit's args but no test TLS material: pass ProxyTls (tls=...) "
                "so the harness serves the test certificate and verifies it against the CA"
            )
        return out
    if len(present) != 2:
        raise ValueError(
            "TLS material given but the unit's args do not enable TLS with both --ssl_keyfile_path "
            f"and --ssl_certfile_path (found: {present or 'neither'}): the harness never adds them"
        )
    keyfile, certfile = tls_paths
    _replace_option_values(out, (_SSL_KEY_FLAG,), keyfile, add=False)
    _replace_option_values(out, (_SSL_CERT_FLAG,), certfile, add=False)
    return out


def _secret_values(env: Mapping[str, str]) -> list[str]:
    return sorted(
        {v for k, v in env.items() if _SECRETISH.search(k) and isinstance(v, str) and len(v) >= 4},
        key=len,
        reverse=True,
    )


def _listening_inodes() -> dict[int, int]:
    """inode -> port of every listening TCP socket (IPv4 and IPv6) in this network namespace."""
    inodes: dict[int, int] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == "0A":  # TCP_LISTEN
                inodes[int(fields[9])] = int(fields[1].rsplit(":", 1)[1], 16)
    return inodes


def _group_pids(pgid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getpgid(int(entry)) == pgid:
                    pids.append(int(entry))
            except OSError:
                continue
    return pids


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def listening_ports_of_group(pgid: int, ignore_cmdline: str | None = None) -> set[int]:
    """TCP ports on which some process of process group ``pgid`` listens (read from /proc);
    processes whose command line contains ``ignore_cmdline`` are left out (helpers such as the
    database engine, which listen on ports of their own)."""
    listening = _listening_inodes()
    ports: set[int] = set()
    for pid in _group_pids(pgid):
        if ignore_cmdline and ignore_cmdline in _cmdline(pid):
            continue
        fd_dir = f"/proc/{pid}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"{fd_dir}/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inode = int(target[8:-1])
                if inode in listening:
                    ports.add(listening[inode])
    return ports


_LIVE: "set[RunningProxy]" = set()
_LIVE_LOCK = threading.Lock()


@atexit.register
def _stop_leftovers() -> None:  # last resort: never leave a proxy behind the test run
    with _LIVE_LOCK:
        leftovers = list(_LIVE)
    for proxy in leftovers:
        proxy.stop()


class RunningProxy:
    """One LiteLLM proxy process (see the module docstring). Use as a context manager or call
    ``start()``/``stop()``; ``start(wait=False)`` + ``wait_ready()`` starts several in parallel."""

    def __init__(
        self,
        config: Mapping[str, Any] | str | os.PathLike[str],
        env: Mapping[str, str],
        args: Sequence[str] = ("--port", "4000", "--num_workers", "1"),
        *,
        name: str = "proxy",
        port: int | None = None,
        startup_timeout: float = 120.0,
        cli: str | None = None,
        keep_workdir_on_failure: bool = True,
        tls: ProxyTls | None = None,
        keep_database: bool = False,
        helper_cmdline: str | None = None,
    ) -> None:
        if isinstance(config, (str, os.PathLike)):
            loaded = yaml.safe_load(Path(config).read_text())
            if not isinstance(loaded, dict):
                raise ValueError(f"{config}: not a YAML mapping")
            config = loaded
        self.name = name
        if keep_database:  # the real database route (tests/support/real_proxy.py): nothing dropped
            self.config, env_without_db, self.dropped_database_settings = copy.deepcopy(dict(config)), dict(env), []
        else:
            self.config, env_without_db, self.dropped_database_settings = without_database(config, env)
        self._secrets = _secret_values(env_without_db)
        cost_map = str(env_without_db.get("LITELLM_LOCAL_MODEL_COST_MAP", OFFLINE_ENV["LITELLM_LOCAL_MODEL_COST_MAP"]))
        if cost_map.lower() != "true":
            raise ValueError("LITELLM_LOCAL_MODEL_COST_MAP must be True: the proxy would download the price map")
        for arg in args:
            if any(secret in arg for secret in self._secrets):
                raise ValueError("a secret value appears in the proxy's CLI args: pass secrets through env only")
        self._unit_args = list(args)
        self.tls = tls
        if tls is not None:
            for path in (tls.cert_file, tls.key_file, tls.ca_file):
                if not Path(path).is_file():
                    raise FileNotFoundError(f"TLS material missing: {path}")
            if "PRIVATE KEY" in Path(tls.ca_file).read_text() or "PRIVATE KEY" in Path(tls.cert_file).read_text():
                raise ValueError("a private key is in the CA bundle or certificate file given to the harness")
        # Fail now, not at start(), when the unit's TLS flags and the material disagree.
        rewrite_cli_args(self._unit_args, config_path="c", port=1, tls_paths=("k", "c") if tls else None)
        self.ca_file: Path | None = None  # the workdir copy of tls.ca_file once started
        self._user_env = env_without_db
        self.port = port if port is not None else free_port()
        self.host = LOOPBACK
        self.startup_timeout = startup_timeout
        self.cli = cli or litellm_cli()
        self.workdir: Path | None = None
        self.config_path: Path | None = None
        self.log_path: Path | None = None
        self.args: list[str] = []
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file: Any = None
        self._keep_workdir = False
        self._keep_workdir_on_failure = keep_workdir_on_failure
        self._helper_cmdline = helper_cmdline  # its processes' ports are not the proxy's

    # -- public surface ----------------------------------------------------------------------
    def __repr__(self) -> str:  # no env, no key
        state = "running" if self.running else "stopped"
        return f"RunningProxy({self.name!r}, port={self.port}, {state})"

    @property
    def scheme(self) -> str:
        return "https" if self.tls is not None else "http"

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def ssl_context(self) -> ssl.SSLContext | None:
        """With TLS: a client context that trusts only the CA bundle given in ``ProxyTls``."""
        if self.tls is None:
            return None
        return ssl.create_default_context(cafile=str(self.ca_file or self.tls.ca_file))

    def http_client(self, **kwargs: Any) -> httpx.Client:
        """An httpx client for this proxy (no env proxies; with TLS, trusting only the CA bundle)."""
        kwargs.setdefault("timeout", 30.0)
        context = self.ssl_context()
        if context is not None:
            kwargs.setdefault("verify", context)
        return httpx.Client(base_url=self.base_url, trust_env=False, **kwargs)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def master_key(self) -> str:
        """The master key the proxy runs with (from the env, or a literal in general_settings)."""
        configured = (self.config.get("general_settings") or {}).get("master_key")
        if isinstance(configured, str) and configured.startswith("os.environ/"):
            value = self._user_env.get(configured.split("/", 1)[1])
        else:
            value = configured if isinstance(configured, str) else self._user_env.get("LITELLM_MASTER_KEY")
        if not value:
            raise KeyError("the proxy has no master key")
        return value

    def env(self) -> dict[str, str]:
        """The complete environment the proxy process gets (clean; nothing inherited)."""
        assert self.workdir is not None
        bin_dir = str(Path(self.cli).parent)
        env = {
            "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(self.workdir / "home"),
            "TMPDIR": str(self.workdir / "tmp"),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        env.update(OFFLINE_ENV)
        env.update({k: str(v) for k, v in self._user_env.items()})
        return env

    def start(self, wait: bool = True) -> "RunningProxy":
        if self._proc is not None:
            raise RuntimeError(f"{self!r} already started")
        self.workdir = Path(tempfile.mkdtemp(prefix=f"litellm-{self.name}-"))
        (self.workdir / "home").mkdir()
        (self.workdir / "tmp").mkdir()
        self.config_path = self.workdir / "config.yaml"
        self.config_path.write_text(yaml.safe_dump(self.config, sort_keys=False))
        self.log_path = self.workdir / "proxy.log"
        tls_paths = None
        if self.tls is not None:
            tls_dir = self.workdir / "tls"
            tls_dir.mkdir(mode=0o700)
            key_copy, cert_copy, ca_copy = tls_dir / "server.key", tls_dir / "server.crt", tls_dir / "ca.crt"
            key_copy.touch(mode=0o600)
            key_copy.write_bytes(Path(self.tls.key_file).read_bytes())
            shutil.copyfile(self.tls.cert_file, cert_copy)
            shutil.copyfile(self.tls.ca_file, ca_copy)
            self.ca_file = ca_copy
            tls_paths = (str(key_copy), str(cert_copy))
        self.args = rewrite_cli_args(
            self._unit_args, config_path=str(self.config_path), port=self.port, host=self.host, tls_paths=tls_paths
        )
        self._log_file = open(self.log_path, "wb")
        log.info("starting %r: %s %s", self, self.cli, " ".join(self.args))
        self._proc = subprocess.Popen(
            [self.cli, *self.args],
            env=self.env(),
            cwd=self.workdir,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own session => own process group, pgid == pid
            close_fds=True,
        )
        with _LIVE_LOCK:
            _LIVE.add(self)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self) -> "RunningProxy":
        """Wait for liveliness, then readiness, then check the port; stop + raise on failure."""
        try:
            self._wait_ready()
        except BaseException:
            self._keep_workdir = self._keep_workdir_on_failure  # the error names its log file
            self.stop()
            raise
        log.info("%r ready", self)
        return self

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM the whole process group, SIGKILL it after ``grace`` seconds. Idempotent."""
        proc, self._proc = self._proc, None
        if proc is not None:
            pgid = proc.pid  # start_new_session: the group's id is the leader's pid
            try:
                os.killpg(pgid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
            try:  # the leader may be gone while workers linger: kill whatever is left of the group
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                log.error("%r: process %d did not die after SIGKILL", self, pgid)
        with _LIVE_LOCK:
            _LIVE.discard(self)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        if self.workdir is not None and not self._keep_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> "RunningProxy":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def output(self) -> str:
        """The proxy's output so far, secret values redacted."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self._redact(self.log_path.read_bytes().decode("utf-8", "replace"))

    def output_tail(self, lines: int = _TAIL_LINES) -> str:
        return "\n".join(self.output().splitlines()[-lines:])

    def listening_ports(self) -> set[int]:
        if self._proc is None:
            return set()
        return listening_ports_of_group(self._proc.pid, self._helper_cmdline)

    def headers(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key if key is not None else self.master_key}"}

    def openai_client(self, api_key: str | None = None, **kwargs: Any):
        """An OpenAI SDK client for this proxy (no SDK retries: tests see every failure)."""
        import openai

        kwargs.setdefault("max_retries", 0)
        kwargs.setdefault("timeout", 60.0)
        context = self.ssl_context()
        if context is not None and "http_client" not in kwargs:
            kwargs["http_client"] = httpx.Client(verify=context, trust_env=False, timeout=kwargs["timeout"])
        key = self.master_key if api_key is None else api_key
        return openai.OpenAI(base_url=f"{self.base_url}/v1", api_key=key, **kwargs)

    # -- internals ---------------------------------------------------------------------------
    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _fail(self, message: str, error: type[ProxyStartupError] = ProxyStartupError) -> ProxyStartupError:
        return error(
            f"{self!r}: {message}\n"
            f"cmd: {self.cli} {' '.join(self.args)}\n"
            f"--- last {_TAIL_LINES} lines of the proxy's output ({self.log_path}) ---\n{self.output_tail()}"
        )

    def _announced_port(self) -> int | None:
        match = None
        for match in _RUNNING_ON.finditer(self.output()):
            pass
        return int(match.group(2)) if match else None

    def _check_port(self) -> None:
        announced = self._announced_port()
        if announced is not None and announced != self.port:
            raise self._fail(
                f"the proxy announced port {announced} instead of {self.port}: LiteLLM moves off port 4000 "
                "silently when it is busy; nothing will answer where the unit says it listens",
                ProxyPortError,
            )
        ports = self.listening_ports()
        if ports and self.port not in ports:
            raise self._fail(
                f"the proxy listens on {sorted(ports)}, not on the requested port {self.port}", ProxyPortError
            )

    def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.startup_timeout
        stage = "/health/liveliness"
        verify: Any = self.ssl_context() or True
        with httpx.Client(timeout=2.0, trust_env=False, verify=verify) as http:
            while True:
                rc = self._proc.poll()
                if rc is not None:
                    raise self._fail(f"exited with code {rc} before {stage} answered 200")
                self._check_port()
                try:
                    response = http.get(f"{self.base_url}{stage}")
                except httpx.HTTPError:
                    response = None
                if response is not None and response.status_code == 200:
                    if stage == "/health/liveliness":
                        stage = "/health/readiness"
                        continue
                    break
                if time.monotonic() > deadline:
                    last = "no answer" if response is None else f"HTTP {response.status_code} {response.text[:200]}"
                    raise self._fail(f"{stage} not 200 within {self.startup_timeout:.0f}s (last: {last})")
                time.sleep(0.2)
        # Something answered on our port: make sure it is this process group, not a neighbour.
        ports = self.listening_ports()
        if self.port not in ports:
            raise self._fail(
                f"port {self.port} answers, but the proxy's process group listens on {sorted(ports) or 'nothing'}",
                ProxyPortError,
            )
        self._check_port()
