"""One LiteLLM proxy host: installed, configured, migrated, rolled out and checked ready.

Steps (each a pulumi-command resource, child of the component; scripts in rendering.host_scripts):

  trigger-key  random.RandomPassword: the HMAC key of the env file's restart trigger (see below)
  claim        ownership marker <install_dir>/.litellm-gateway-owner         (first of all)
  layout       service user + home, install/config/TLS directories
  install      a venv PER RELEASE, <install_dir>/venvs/<version>-<lockhash12> (beside the running
               one: installing never touches what a proxy imports), `prisma generate`
  file-config  STAGES config.yaml as <config_dir>/staged/config.yaml.<sha12>          (after install)
  file-env     STAGES litellm.env (0600, SECRET stdin) as litellm.env.<hmac12>
  file-unit    STAGES the systemd unit (ssh only) as litellm.service.<sha12>
  file-tls-key/-cert/-ca  STAGE the TLS files (key 0600, secret stdin; named by HMAC / sha256)
  migrate      `litellm --skip_server_startup` with the just-staged config/env (`.latest` links; if postgres)
  service      THE HOST'S ROLLOUT, one step: [drain] -> staged files in place -> restart ->
               wait for /health/readiness -> [re-enable]; on a failed wait: the previous files
               back in place, restarted with them, re-enabled, and the step fails

Why one step per host (issue 15). What the engine stores after a failure decides what the next
run does, so it was read in the sources (pulumi/pulumi @1b594989, pulumi/pulumi-command 1.2.1
@010bd8e0, pulumi/pulumi-go-provider @ac69bde0):
- pulumi-command's Create/Update return the command's error as a plain error
  (provider/pkg/provider/local/commandController.go, `run` in local/commandOutputs.go; remote alike),
  never an infer.ResourceInitFailedError, so pulumi-go-provider sets no PartialState
  (infer/resource.go `derivedResourceController.Update`/`Create`: only for ResourceInitFailedError);
  the engine's plugin sees no StatusPartialFailure (pkg/resource/plugin/provider_plugin.go
  `parseError`), UpdateStep.Apply/CreateStep.Apply return the error without completing
  (pkg/resource/deploy/step.go), and the snapshot keeps the OLD state of a failed update and
  nothing of a failed create (pkg/backend/snapshot.go `updateSnapshotMutation.End` /
  `createSnapshotMutation.End` mark the new state only when `successful`). No init errors are
  recorded, so the next run updates a step only when its inputs differ from that old state
  (pkg/resource/deploy/step_generator.go updates an unchanged resource only `if hasInitErrors`).
- Steps that completed before the failure keep their NEW state; steps never started keep their old
  one; nothing that depends on the failed step starts (step_executor.go `cancelDueToError`).
With drain/service/ready/enable as four steps this left a host DRAINED after a revert (drain and
service new, ready and enable old) and restarted it undrained on a retry; and each step's script
being its own input, a drain-only or restart-script-only change ran only part of a rollout. So:
- Everything that can restart or re-route a host is an input of ONE step: the scripts (restart,
  readiness wait, the front door's runtime-API client), the restart reasons, the staged files'
  content-addressed names, the venv, the connection (remote.Command's `connection` input: a new
  address or host key), the drain settings and the front door's admin socket/backend/server name.
  Any of them changes the whole rollout of every host, never a part of it.
- The step leaves the host running what the engine will store: on success the new files (new
  state); on a failed readiness wait it restores the previous files and restarts with them before
  failing (old state). Hence a RETRY re-runs the whole rollout (state old != program new), a
  REVERT to the last good program is a no-op (state old == program old, and the host runs it), a
  FIX-FORWARD runs the whole rollout to the new program. A failed first create leaves no state:
  the next run creates again. The host keeps its own record (<install_dir>/rollout/: the staged
  files and restart script of the last successful rollout), which the restore and the cleanup use.
- The step skips the drain and the restart when the host already runs exactly these files, this
  restart script and this release and answers ready (a change of only the drain settings, the
  readiness timeout or the connection): it only makes sure the server is enabled.
- Staging: the file steps only write content-addressed copies, so a host not yet rolled (or whose
  rollout failed) keeps running, and after a crash or reboot restarting, what it had. The rollout
  keeps the current and the previous staged files and venv and removes the rest.
- The drain never takes out the last server that serves (local: the last one HAProxy sees UP; ssh:
  see below) (the rollout fails before touching
  the host); a failed host is re-enabled anyway: HAProxy's own health check keeps it out.
- Removing a host: its service step's delete drains it (local: the admin socket; ssh: its agent),
  waits (bounded by the drain timeout) for its open connections, stops
  it and removes its live files.

ssh with a front door: the host cannot reach the front door's admin socket (another machine), so
it drains ITSELF through HAProxy's agent-check (rendering.drain_agent): a small agent on the host
(litellm-drain-agent.service, on the host's address and frontDoor.agent_port) answers HAProxy's
agent polls with the word the rollout step writes (`drain` around the restart, `ready` otherwise).
The drain, the restart, the readiness wait and the re-enable are therefore all in the host's one
step, with the same engine semantics as above. (Before, drain and enable were two more steps on
the front door host; after a failed host step the engine kept drain's NEW state and enable's old
one, so a revert re-drained the host and never re-enabled it and a retry restarted it undrained.)
Never the last serving server: the step probes its peers' /health/readiness directly and refuses
to drain when this host serves and no peer answers. HAProxy's view is then inferred, not read:
the step waits two agent intervals after `drain` (then for its open connections, bounded by the
drain timeout) and one agent interval plus (rise + 1) check intervals after `ready`.
Upgrading a stack deployed with the front-door drain/enable steps deletes them, and their old
delete command drains the host on the admin socket once more: the host's agent answers `ready` at
HAProxy's next agent poll (one check interval).

In-place updates: the reasons are a labelled comment line in the rollout's command text
(`# restart reasons: litellm=... config=... unit=... env=... tls=... frontdoor=...`), not
`triggers`. pulumi-command diffs `triggers` as replace-on-change (a replace runs the step's delete,
the stop, before its create when delete_before_replace is set) and every other input as an update
that runs the `update` command in place (pulumi-command provider/pkg/provider/common/inputs.go:
`Triggers ... provider:"replaceOnChanges"`; pulumi-go-provider infer/resource.go `Diff`: only
replaceOnChanges inputs force a replace when the resource implements CustomUpdate, which
local/remote Command do). So a changed reason is an UPDATE of the rollout step, shown by `pulumi
preview --diff` with the reason; only deleting the host (removing it from the stack) runs the stop.

Rolling: `LiteLLMHostArgs.restart_after` is the previous host's last step (its service step); this host's rollout depends on it, so hosts roll one at a
time, in the order of litellm.hosts, and a failed rollout stops there while the others keep
serving. `rollout.mode: parallel` leaves the dependency out.

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
both: stored as a plain input unless marked secret), not in `triggers`. The staged names of the env
file and the TLS key are keyed digests (below), never plain digests of a secret.

Restart reasons (labelled strings, so a preview says what changed):
  litellm=<version>, config=sha256(config.yaml), unit=sha256(unit) (local: launch=sha256(argv)),
  tls=sha256(cert+CA) when TLS is on, env=HMAC-SHA256(trigger-key, env file text), and with a
  front door frontdoor=<backend>/<server>@<socket digest>,drain=<s>,enable=<s> (local) or
  frontdoor=agent@<address>:<agent port>,drain=<s>,inter=<ms>,rise=<n> (ssh).
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
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Callable, Mapping, Optional, Sequence

import pulumi
import pulumi_random as random
from pulumi_command import local, remote

from config.endpoints import base_url
from config.litellm_settings import LiteLLMHostSpec
from config.settings import GatewaySettings
from rendering import db_tls
from rendering import host_scripts as scripts
from rendering.drain_agent import AgentControl
from rendering.haproxy_cfg import BACKEND
from rendering.host_files import (
    ca_files,
    host_paths,
    local_host_dirs,
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
    database_url_for: Optional[Callable[[Optional[str]], pulumi.Output[str]]] = None
    """DATABASE_URL for a reader that finds postgres.ca_cert at the given path (None: no CA file):
    replaces env_values' DATABASE_URL with the one naming this host's CA copy (PostgresDatabase.url_for)."""


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
    """This host's rollout step (`service`): the next host's rollout depends on it."""

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
        cas = ca_files(s)
        env_values = dict(args.env_values)
        if args.database_url_for is not None and s.postgres.enabled:
            env_values["DATABASE_URL"] = args.database_url_for(cas.postgres)
        elif cas.postgres is not None:
            raise ValueError(f"host {host.name}: postgres.ca_cert is set but no database_url_for names its path")
        missing = [n for n in secret_env_names(s) if n not in env_values]
        if missing:
            raise ValueError(f"host {host.name}: no value for env file entries {', '.join(missing)}")

        p = host_paths(s)
        user = None if is_local else s.litellm.system_user

        # ---- the env file text: secret end to end ---------------------------------------------
        names = secret_env_names(s)
        env_text = pulumi.Output.secret(
            pulumi.Output.all(*[env_values[n] for n in names]).apply(
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

        # ---- files: staged under content-addressed names, put in place by the rollout step ------
        # (see the module doc: staging never touches what runs; the rollout step switches the host
        # in its own turn and keeps the previous files for a restore)
        trigger_of = lambda text: env_trigger(text[0], text[1])  # noqa: E731
        staged: list[tuple[str, str, pulumi.Output[str]]] = []  # (step, live path, staged path)
        files: list[pulumi.Resource] = []

        def stage(step: str, live: str, mode: str, owner: Optional[str], group: Optional[str],
                  content: pulumi.Input[str], digest: pulumi.Output[str], latest: bool = False,
                  put_live: bool = True) -> None:
            staged_file = digest.apply(lambda d: scripts.staged_path(s, live, d))
            link = scripts.latest_staged(s, live) if latest else None
            files.append(
                self._command(
                    step,
                    create=staged_file.apply(lambda f: scripts.write_staged_script(s, f, mode, owner, group, latest=link)),
                    delete=staged_file.apply(lambda f: scripts.owned_remove_file_script(s, name, f)),
                    stdin=content,
                    depends_on=[install],
                )
            )
            if put_live:
                staged.append((step, live, staged_file))

        config_digest = config_yaml.apply(lambda text: "config=" + sha256_hex(text))
        stage("file-config", p.config_file, "0640", user and "root", user, config_yaml, config_digest, latest=True)
        # root-owned 0600: systemd (as root) reads it for EnvironmentFile=.
        stage("file-env", p.env_file, "0600", user and "root", user and "root", env_text, env_digest, latest=True)
        unit_text: Optional[str] = None
        if not is_local:
            unit_text = render_systemd_unit(s, host)
            stage("file-unit", p.unit_file, "0644", "root", "root", unit_text,
                  pulumi.Output.from_input("unit=" + sha256_hex(unit_text)))
        tls_digest: Optional[pulumi.Output[str]] = None
        if args.tls is not None:
            if not s.tls.enabled:
                raise ValueError(f"host {host.name}: TLS files given but tls.enabled is false")
            key = pulumi.Output.secret(args.tls.private_key_pem)
            # the key's name: keyed like the env file's (a digest of a secret reveals nothing)
            key_digest = pulumi.Output.unsecret(pulumi.Output.all(trigger_key.result, key).apply(trigger_of))
            stage("file-tls-key", p.tls_key_file, "0600", user, user, key, key_digest)
            stage("file-tls-cert", p.tls_cert_file, "0644", user, user, args.tls.cert_pem,
                  pulumi.Output.from_input(args.tls.cert_pem).apply(lambda t: "cert=" + sha256_hex(t)))
            stage("file-tls-ca", p.tls_ca_file, "0644", user, user, args.tls.ca_pem,
                  pulumi.Output.from_input(args.tls.ca_pem).apply(lambda t: "ca=" + sha256_hex(t)))
            # Certificates are public: their digest is left readable (a new key means a new cert).
            tls_digest = pulumi.Output.unsecret(
                pulumi.Output.all(args.tls.cert_pem, args.tls.ca_pem).apply(
                    lambda pems: "tls=" + sha256_hex(pems[0] + "\n" + pems[1])
                )
            )
        elif s.tls.enabled:
            raise ValueError(f"host {host.name}: tls.enabled but no TLS files were given")

        # ---- the database's and Redis' CA certificates (public): staged only ----------------------
        # The env file names the staged, content-addressed copy itself (rendering.host_files
        # .ca_file_path says why); nothing reads a live copy, so the rollout puts none in place.
        for ca_step, ca_name, ca_pem, ca_path in (
            ("file-postgres-ca", db_tls.POSTGRES_CA_NAME, s.postgres.ca_cert, cas.postgres),
            ("file-redis-ca", db_tls.REDIS_CA_NAME, s.redis.ca_cert, cas.redis),
        ):
            if ca_path is None or ca_pem is None:
                continue
            ca_live = str(PurePosixPath(p.config_dir) / ca_name)
            ca_digest = "ca=" + sha256_hex(ca_pem)
            if scripts.staged_path(s, ca_live, ca_digest) != ca_path:
                raise AssertionError(f"{ca_name}: staged at {scripts.staged_path(s, ca_live, ca_digest)}, env names {ca_path}")
            stage(ca_step, ca_live, "0644", user and "root", user, ca_pem, pulumi.Output.from_input(ca_digest), put_live=False)

        # ---- migrations --------------------------------------------------------------------------
        before_start: list[pulumi.Resource] = [install, *files]
        if s.postgres.enabled:
            # the just-staged files, through their stable `.latest` links: the command changes only
            # with the release (a new config alone does not re-run migrations; the triggers decide)
            migrate_text = scripts.migrate_script(
                s, config_file=scripts.latest_staged(s, p.config_file), env_file=scripts.latest_staged(s, p.env_file)
            )
            migrate = self._command(
                "migrate",
                create=migrate_text,
                # Migrations are idempotent; run them for a new release or a new database URL.
                triggers=[f"litellm={s.litellm.version}", env_digest],
                depends_on=[install, *files],
            )
            before_start.append(migrate)

        # ---- the rollout: ONE step per host (see the module doc) ----------------------------------
        triggers: list[pulumi.Input[str]] = [
            f"litellm={s.litellm.version}",
            config_digest,
            ("unit=" + sha256_hex(unit_text)) if unit_text is not None else ("launch=" + sha256_hex(launch_fingerprint(s))),
            env_digest,
        ]
        if tls_digest is not None:
            triggers.append(tls_digest)
        reasons = pulumi.Output.all(*triggers)

        rollout_mode = args.settings.rollout.mode
        after_previous = [args.restart_after] if (args.restart_after is not None and rollout_mode == "one-at-a-time") else []
        fd = args.front_door
        control: Optional[scripts.FrontDoorControl] = None
        agent: Optional[AgentControl] = None
        if fd is not None and not is_local:
            # ssh: the host drains itself through its agent (rendering.drain_agent), in this step
            agent = AgentControl(
                address=host.address,
                agent_port=args.settings.front_door.agent_port,
                proxy_port=s.litellm.port,
                tls=s.tls.enabled,
                interval_ms=args.settings.front_door.check_interval_ms,
                rise=args.settings.front_door.rise,
                peers=tuple(h.address for h in args.settings.litellm.hosts if h.name != host.name),
                drain_timeout=args.settings.rollout.drain_timeout(args.settings.routing.timeout),
                enable_timeout=int(args.settings.litellm.readiness_timeout_seconds),
                agent_script_file=f"{p.install_dir}/drain-agent.py",
            )
            triggers.append(
                f"frontdoor=agent@{agent.address}:{agent.agent_port},drain={agent.drain_timeout}s,"
                f"inter={agent.interval_ms}ms,rise={agent.rise}"
            )
            reasons = pulumi.Output.all(*triggers)
        elif fd is not None:
            control = scripts.FrontDoorControl(
                admin_socket=fd.plan.admin_socket,
                backend=BACKEND,
                server=host.name,
                drain_timeout=args.settings.rollout.drain_timeout(args.settings.routing.timeout),
                enable_timeout=int(args.settings.litellm.readiness_timeout_seconds),
            )
            # the front door's part of the rollout is a reason too (ssh: the host's step carries it
            # so that drain, service and enable always change together)
            triggers.append(
                f"frontdoor={BACKEND}/{host.name}@{sha256_hex(control.admin_socket)[:12]}"
                f",drain={control.drain_timeout}s,enable={control.enable_timeout}s"
            )
            reasons = pulumi.Output.all(*triggers)
        # The host drives the front door itself: local deploy through the admin socket (the same
        # machine), ssh through its drain agent (see the module doc). Never a step on the front door.
        in_step_control: Optional[scripts.FrontDoorControl | AgentControl] = control if is_local else agent
        # ssh without a front door: a drain agent left from when it had one (2 -> 1 hosts) goes
        retire_agent = f"{p.install_dir}/drain-agent.py" if (not is_local and fd is None) else None
        live_files = [live for _step, live, _path in staged]
        # local: a changed address moves the host's directory; its rollout stops the proxy it left
        host_dirs = local_host_dirs(args.settings)
        rollout_text = pulumi.Output.all(reasons, *[path for _s, _l, path in staged]).apply(
            lambda v: scripts.with_reasons(
                scripts.rollout_script(
                    s, host, [scripts.StagedFile(live=l, staged=f) for l, f in zip(live_files, v[1:])], in_step_control,
                    identities=[name, *args.previous_names], host_dirs=host_dirs, retire_agent=retire_agent,
                ),
                list(v[0]),
            )
        )
        service = self._command(
            "service",
            create=rollout_text,
            update=rollout_text,
            delete=scripts.rollout_delete_script(s, name, live_files, in_step_control, retire_agent=retire_agent),
            depends_on=[
                *before_start,
                *([fd.service] if fd is not None else []),
                *after_previous,
            ],
        )
        self.rollout_done = service

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
        delete: Optional[pulumi.Input[str]] = None,
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
