"""One LiteLLM proxy host: installed, configured, migrated, (re)started and checked ready.

Steps (each a pulumi-command resource, child of the component; scripts in rendering.host_scripts):

  trigger-key  random.RandomPassword: the HMAC key of the env file's restart trigger (see below)
  layout       service user + home, install/config/TLS directories
  install      venv, pinned litellm[proxy] + prisma, `prisma generate`       (after layout)
  file-config  config.yaml from stdin (plain text, no secrets)               (after install)
  file-env     litellm.env (0600) from stdin, a SECRET input                 (after install)
  file-unit    the systemd unit from stdin (ssh only)                        (after install)
  file-tls-key/-cert/-ca  key 0600 (secret stdin), cert/CA 0644, service user's (after install)
  migrate      `litellm --skip_server_startup` with the env file (if postgres) (after the files)
  claim        ownership marker <install_dir>/.litellm-gateway-owner         (first of all)
  drain        front door only: take this proxy out of HAProxy, wait for its open requests
  service      (re)start, only when a restart reason changed                  (after all of it)
  ready        wait for /health/readiness on the configured port             (after service)
  enable       front door only: put it back, wait until HAProxy sees it UP   (after ready)

In-place restarts: the restart reasons are a labelled comment line in the command text of drain,
service, ready and enable (`# restart reasons: litellm=... config=... unit=... env=... tls=...`),
not `triggers`. pulumi-command diffs `triggers` as replace-on-change (a replace runs the step's
delete, `systemctl disable --now`, before its create when delete_before_replace is set) and every
other input as an update that runs the `update` command in place
(pulumi-command provider/pkg/provider/common/inputs.go: `Triggers ... provider:"replaceOnChanges"`;
pulumi-go-provider infer/resource.go `Diff`: only replaceOnChanges inputs force a replace when the
resource implements CustomUpdate, which local/remote Command do). So a changed reason is an UPDATE
of these steps, shown by `pulumi preview --diff` with the reason, and the proxy is never stopped
by it; only deleting the host (removing it from the stack) runs the stop.

Rolling: `LiteLLMHostArgs.restart_after` is the previous host's last step (enable with a front
door, else ready); this host's first restart step (drain, else service) depends on it, so hosts
restart one at a time, in the order of litellm.hosts, and a failed readiness wait stops the rollout
(the engine runs nothing that depends on a failed step) while the other hosts keep serving.
`rollout.mode: parallel` leaves the dependency out.

Renames: the component and its steps carry aliases for every earlier name (`renamed_from`,
`previousEnvironments`; the engine derives the steps' aliases from the component's by name prefix,
pulumi pkg/resource/deploy/step_generator.go `inheritedChildAlias`), so a declared rename is an
in-place update. Every delete script checks the ownership marker first and leaves files, the unit
and the running proxy alone when a newer identity claimed the host; an undeclared rename is
refused by the new claim step (the marker names another identity) with the way to declare it.

ssh deploy: remote.Command on the host as root (sudo -n unless the SSH user is root);
local deploy: local.Command with /bin/bash in the project directory, no sudo, the proxy as a
background process with a pid file.

Secrets travel only as the `stdin` of the env and tls-key steps (secret Outputs, so encrypted in
state and hidden in previews/logs). Not in command strings (pulumi-command prints the whole command
on failure), not in `environment` (remote: needs sshd AcceptEnv and is silently dropped otherwise;
both: stored as a plain input unless marked secret), not in `triggers`.

Restart reasons (labelled strings, so a preview says what changed):
  litellm=<version>, config=sha256(config.yaml), unit=sha256(unit) (local: launch=sha256(argv)),
  tls=sha256(cert+CA) when TLS is on, and env=HMAC-SHA256(trigger-key, env file text).
The env file holds the secrets, and a plain sha256 of it could be brute-forced offline for any
low-entropy value in it (a webhook URL, a chosen password) by anyone who can read the state or a
preview. Keyed with a 64-character random key that exists only as a secret in state, the digest
reveals nothing without that key, yet changes whenever any secret (or the file) changes. Because
it reveals nothing it is deliberately left non-secret (Output.unsecret) so `pulumi preview` shows
"env" as the reason for a restart instead of an opaque [secret] diff.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, Optional, Sequence

import pulumi
import pulumi_random as random
from pulumi_command import local, remote

from config.endpoints import base_url
from config.litellm_settings import LiteLLMHostSpec
from config.settings import GatewaySettings
from rendering import host_scripts as scripts
from rendering.haproxy_cfg import BACKEND
from rendering.host_files import (
    host_paths,
    proxy_args,
    render_env_file,
    render_systemd_unit,
    secret_env_names,
    settings_for_host,
)

if TYPE_CHECKING:
    from components.front_door import FrontDoor

TYPE_TOKEN = "litellm-gateway:host:LiteLLMHost"


@dataclass
class TlsFiles:
    cert_pem: pulumi.Input[str]
    private_key_pem: pulumi.Input[str]
    ca_pem: pulumi.Input[str]


@dataclass
class LiteLLMHostArgs:
    settings: GatewaySettings
    host: LiteLLMHostSpec
    connection: Optional[remote.ConnectionArgs]
    """None => deploy "local": local.Command on this machine."""
    config_yaml: pulumi.Input[str]
    """The rendered config.yaml (no secrets: os.environ/ references only)."""
    env_values: Mapping[str, pulumi.Input[str]]
    """Secret env entries by name (rendering.host_files.secret_env_names); values are secret Outputs."""
    tls: Optional[TlsFiles] = None
    restart_after: Optional[pulumi.Resource] = None
    """The previous host's last rollout step: this host restarts only after it (one at a time)."""
    front_door: Optional["FrontDoor"] = None
    """With several hosts: drain before and re-enable after each restart, on this front door."""
    previous_names: Sequence[str] = ()
    """Earlier component names of this host (renames): aliases, and identities its claim accepts."""


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def env_trigger(key: str, env_text: str) -> str:
    """The env file's restart trigger: HMAC-SHA256 keyed with a random secret (see module doc)."""
    return "env=" + hmac.new(key.encode("utf-8"), env_text.encode("utf-8"), hashlib.sha256).hexdigest()


def launch_fingerprint(settings: GatewaySettings) -> str:
    """What a local proxy's start depends on besides config/env: its argv and files (the local
    counterpart of the systemd unit)."""
    p = host_paths(settings)
    return "\n".join([p.venv, p.env_file, *proxy_args(settings)])


class LiteLLMHost(pulumi.ComponentResource):
    base_url: pulumi.Output[str]
    ui_url: pulumi.Output[str]
    docs_url: pulumi.Output[str]
    health_url: pulumi.Output[str]
    ready: pulumi.Output[bool]
    """Resolves (True) once the ready step succeeded, i.e. after /health/readiness answered 200."""
    restart_triggers: pulumi.Output[list]
    rollout_done: pulumi.Resource
    """This host's last rollout step (enable with a front door, else ready): the next host's
    restart depends on it."""

    def __init__(self, name: str, args: LiteLLMHostArgs, opts: Optional[pulumi.ResourceOptions] = None):
        aliases = [pulumi.Alias(name=old) for old in args.previous_names]
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(aliases=aliases)) if aliases else opts
        super().__init__(TYPE_TOKEN, name, None, opts)
        host = args.host
        s = settings_for_host(args.settings, host)
        self._name = name
        self._connection = args.connection
        is_local = s.litellm.deploy == "local"
        if is_local != (args.connection is None):
            raise ValueError(
                f"host {host.name}: deploy '{s.litellm.deploy}' needs "
                + ("no connection (local.Command)" if is_local else "an SSH connection")
            )
        missing = [n for n in secret_env_names(s) if n not in args.env_values]
        if missing:
            raise ValueError(f"host {host.name}: no value for env file entries {', '.join(missing)}")

        p = host_paths(s)
        user = None if is_local else s.litellm.system_user

        # ---- the env file text: secret end to end ---------------------------------------------
        names = secret_env_names(s)
        env_text = pulumi.Output.secret(
            pulumi.Output.all(*[args.env_values[n] for n in names]).apply(
                lambda values: render_env_file(s, dict(zip(names, values)))
            )
        )
        trigger_key = random.RandomPassword(
            f"{name}-trigger-key",
            length=64,
            special=False,
            opts=pulumi.ResourceOptions(parent=self),
        )
        env_digest = pulumi.Output.unsecret(
            pulumi.Output.all(trigger_key.result, env_text).apply(lambda kv: env_trigger(kv[0], kv[1]))
        )

        config_yaml = pulumi.Output.from_input(args.config_yaml)

        # ---- claim, layout and install ---------------------------------------------------------
        claim = self._command(
            "claim",
            create=scripts.claim_script(s, name, list(args.previous_names)),
            delete=scripts.release_script(s, name),
        )
        layout = self._command(
            "layout",
            create=scripts.layout_script(s),
            # ssh: a destroy removes the account and what the install made, if litellm-gateway
            # created them (never what existed before); local: the operator's own directories stay
            delete=None if is_local else scripts.layout_remove_script(s, name),
            depends_on=[claim],
        )
        install = self._command(
            "install",
            create=scripts.install_script(s),
            # the hashed lock, on stdin like every other file (not secret)
            stdin=scripts.install_stdin(s),
            # pip/prisma are idempotent; re-run when the pins change (also part of the script).
            triggers=[
                f"litellm={s.litellm.version}",
                f"prisma={scripts.PRISMA_VERSION}",
                "requirements=" + hashlib.sha256(scripts.requirements_text(s).encode()).hexdigest(),
                "lock=" + hashlib.sha256((scripts.install_stdin(s) or "").encode()).hexdigest(),
            ],
            depends_on=[layout],
        )

        # ---- files -------------------------------------------------------------------------------
        files: list[pulumi.Resource] = []
        files.append(
            self._command(
                "file-config",
                create=scripts.write_file_script(p.config_file, "0640", user and "root", user),
                delete=scripts.owned_remove_file_script(s, name, p.config_file),
                stdin=config_yaml,
                depends_on=[install],
            )
        )
        files.append(
            self._command(
                "file-env",
                # root-owned 0600: systemd (as root) reads it for EnvironmentFile=.
                create=scripts.write_file_script(p.env_file, "0600", user and "root", user and "root"),
                delete=scripts.owned_remove_file_script(s, name, p.env_file),
                stdin=env_text,
                depends_on=[install],
            )
        )
        unit_text: Optional[str] = None
        if not is_local:
            unit_text = render_systemd_unit(s, host)
            files.append(
                self._command(
                    "file-unit",
                    create=scripts.write_unit_script(s),
                    delete=scripts.owned_remove_unit_script(s, name),
                    stdin=unit_text,
                    depends_on=[install],
                )
            )
        tls_digest: Optional[pulumi.Output[str]] = None
        if args.tls is not None:
            if not s.tls.enabled:
                raise ValueError(f"host {host.name}: TLS files given but tls.enabled is false")
            for suffix, path, mode, content in (
                ("file-tls-key", p.tls_key_file, "0600", pulumi.Output.secret(args.tls.private_key_pem)),
                ("file-tls-cert", p.tls_cert_file, "0644", args.tls.cert_pem),
                ("file-tls-ca", p.tls_ca_file, "0644", args.tls.ca_pem),
            ):
                files.append(
                    self._command(
                        suffix,
                        create=scripts.write_file_script(path, mode, user, user),
                        delete=scripts.owned_remove_file_script(s, name, path),
                        stdin=content,
                        depends_on=[install],
                    )
                )
            # Certificates are public: their digest is left readable (a new key means a new cert).
            tls_digest = pulumi.Output.unsecret(
                pulumi.Output.all(args.tls.cert_pem, args.tls.ca_pem).apply(
                    lambda pems: "tls=" + sha256_hex(pems[0] + "\n" + pems[1])
                )
            )
        elif s.tls.enabled:
            raise ValueError(f"host {host.name}: tls.enabled but no TLS files were given")

        # ---- migrations --------------------------------------------------------------------------
        before_start: list[pulumi.Resource] = [install, *files]
        if s.postgres.enabled:
            migrate = self._command(
                "migrate",
                create=scripts.migrate_script(s),
                # Migrations are idempotent; run them for a new release or a new database URL.
                triggers=[f"litellm={s.litellm.version}", env_digest],
                depends_on=[install, *files],
            )
            before_start.append(migrate)

        # ---- (re)start and wait ------------------------------------------------------------------
        triggers: list[pulumi.Input[str]] = [
            f"litellm={s.litellm.version}",
            config_yaml.apply(lambda text: "config=" + sha256_hex(text)),
            ("unit=" + sha256_hex(unit_text)) if unit_text is not None else ("launch=" + sha256_hex(launch_fingerprint(s))),
            env_digest,
        ]
        if tls_digest is not None:
            triggers.append(tls_digest)
        # The reasons go into the command text of every rollout step (see the module doc): a
        # change is an update of drain -> service -> ready -> enable, never a replace.
        reasons = pulumi.Output.all(*triggers)

        def reasoned(script: str) -> pulumi.Output[str]:
            return reasons.apply(lambda r: scripts.with_reasons(script, list(r)))

        rollout_mode = args.settings.rollout.mode
        after_previous = [args.restart_after] if (args.restart_after is not None and rollout_mode == "one-at-a-time") else []
        fd = args.front_door
        drain = None
        if fd is not None:
            drain_script = reasoned(
                scripts.front_door_server_script(
                    fd.plan.admin_socket, "drain", BACKEND, host.name, args.settings.rollout.drain_timeout_seconds
                )
            )
            drain = fd.command(
                "drain",
                name=f"{name}-drain",
                parent=self,
                create=drain_script,
                update=drain_script,
                depends_on=[fd.service, *after_previous, *before_start],
            )
        # Only this step restarts the proxy, and only when a reason changed (or its own short
        # script did, which depends on the unit name / pid file alone).
        restart = reasoned(scripts.restart_script(s))
        service = self._command(
            "service",
            create=restart,
            update=restart,
            delete=scripts.owned_stop_script(s, name),
            depends_on=[*before_start, *([drain] if drain is not None else after_previous)],
        )
        # After every (re)start: the same reasons, so it re-runs whenever the service step does;
        # a change of only the wait (timeout, probe) re-runs the check without a restart.
        wait = reasoned(scripts.wait_ready_script(s, host))
        ready = self._command(
            "ready",
            create=wait,
            update=wait,
            depends_on=[service],
        )
        self.rollout_done = ready
        if fd is not None:
            enable_script = reasoned(
                scripts.front_door_server_script(
                    fd.plan.admin_socket, "ready", BACKEND, host.name, args.settings.litellm.readiness_timeout_seconds
                )
            )
            self.rollout_done = fd.command(
                "enable",
                name=f"{name}-enable",
                parent=self,
                create=enable_script,
                update=enable_script,
                depends_on=[ready],
            )

        # ---- outputs -----------------------------------------------------------------------------
        url = base_url(s, host.name)
        self.base_url = pulumi.Output.from_input(url)
        self.ui_url = pulumi.Output.from_input(f"{url}/ui")
        self.docs_url = pulumi.Output.from_input(f"{url}/docs")
        self.health_url = pulumi.Output.from_input(f"{url}/health/readiness")
        self.ready = self.rollout_done.id.apply(lambda _: True)
        self.restart_triggers = pulumi.Output.all(*triggers)
        self.register_outputs(
            {
                "base_url": self.base_url,
                "ui_url": self.ui_url,
                "docs_url": self.docs_url,
                "health_url": self.health_url,
                "ready": self.ready,
                "restart_triggers": self.restart_triggers,
            }
        )

    def _command(
        self,
        step: str,
        *,
        create: pulumi.Input[str],
        update: Optional[pulumi.Input[str]] = None,
        delete: Optional[str] = None,
        stdin: Optional[pulumi.Input[str]] = None,
        triggers: Optional[Sequence[pulumi.Input[str]]] = None,
        depends_on: Optional[list[pulumi.Resource]] = None,
    ) -> pulumi.CustomResource:
        # delete_before_replace: a step's delete (remove a file, stop the service) must never run
        # after its replacement's create, which would undo it.
        opts = pulumi.ResourceOptions(parent=self, depends_on=depends_on, delete_before_replace=True)
        name = f"{self._name}-{step}"
        if self._connection is None:
            return local.Command(
                name,
                create=create,
                update=update,
                delete=delete,
                stdin=stdin,
                triggers=triggers,
                interpreter=scripts.LOCAL_INTERPRETER,
                add_previous_output_in_env=False,
                opts=opts,
            )
        ssh_user = self._connection.user if isinstance(self._connection.user, str) else "non-root"
        wrap = lambda script: pulumi.Output.from_input(script).apply(lambda t: scripts.remote_command(t, ssh_user)) if script is not None else None  # noqa: E731
        return remote.Command(
            name,
            connection=self._connection,
            create=wrap(create),
            update=wrap(update),
            delete=wrap(delete),
            stdin=stdin,
            triggers=triggers,
            add_previous_output_in_env=False,
            opts=opts,
        )
