"""The front door: one HAProxy in front of every proxy host (stacks with more than one host).

Steps (pulumi-command resources, children of the component; scripts in
rendering.front_door_scripts, config in rendering.haproxy_cfg):

  install        ssh: apt-get install haproxy; local: haproxy must be on PATH
  file-cfg       haproxy.cfg.<sha12> from stdin: staged; `service` checks it with `haproxy -c`,
                 puts it in place, dumps the servers' state (kept across the reload) and reloads
  file-tls-pem   certificate + key for the service name (0600, secret stdin), staged   (TLS on)
  file-tls-ca    the CA bundle of the proxies' certificates (re-encryption is verified), staged (TLS on);
                 with tls.previous_ca_cert during a CA rotation it holds the CA being replaced too
  service        a staged CA bundle replaces the live one only when every host that serves now presents
                 a certificate it verifies (else the step fails and nothing changes); the staged CA
                 bundle and certificate go in place for `haproxy -c`, and back out if it refuses;
                 start, or reload in place when the config/TLS changed (the reasons are a comment
                 in the command text: an UPDATE, never a stop; see rendering.host_scripts)

Each host drains and re-enables itself inside its own rollout step (components.host): a local host
through this front door's runtime API, an ssh host through its drain agent, which HAProxy polls
(`agent-check`, rendering.drain_agent). The front door does not depend on the hosts: it
health-checks them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Optional

import pulumi
from pulumi_command import local, remote

from config.settings import GatewaySettings
from rendering import front_door_scripts as scripts
from rendering.haproxy_cfg import FrontDoorPlan, front_door_plan, render_haproxy_cfg
from rendering.host_scripts import LOCAL_INTERPRETER, remote_command, with_reasons

TYPE_TOKEN = "litellm-gateway:frontdoor:FrontDoor"


@dataclass
class FrontDoorTls:
    cert_pem: pulumi.Input[str]
    private_key_pem: pulumi.Input[str]
    proxies_ca_pem: pulumi.Input[str]
    """The CA bundle the proxies' certificates chain to (self-signed: the certificates themselves)."""


@dataclass
class FrontDoorArgs:
    settings: GatewaySettings
    connection: Optional[remote.ConnectionArgs]
    """None => deploy "local": local.Command on this machine."""
    tls: Optional[FrontDoorTls] = None


class FrontDoor(pulumi.ComponentResource):
    plan: FrontDoorPlan
    haproxy_cfg: str
    service: pulumi.CustomResource
    """The step after which HAProxy runs with the current config: drain/enable steps follow it."""
    connection: Optional[remote.ConnectionArgs]

    def __init__(self, name: str, args: FrontDoorArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE_TOKEN, name, None, opts)
        s = args.settings
        self._name = name
        self.connection = args.connection
        self.plan = plan = front_door_plan(s)
        self.haproxy_cfg = cfg = render_haproxy_cfg(s, plan)
        if (args.tls is None) == s.tls.enabled:
            raise ValueError("front door: TLS material is needed exactly when tls.enabled")

        install = self.command("install", create=scripts.install_script(plan))
        cfg_sha = hashlib.sha256(cfg.encode()).hexdigest()
        staged_cfg = scripts.staged_cfg_path(plan, cfg_sha)
        files = [
            self.command(
                "file-cfg",
                # staged: `service` checks it and only then replaces the live haproxy.cfg
                create=scripts.write_file_script(plan, staged_cfg, "0640", check_config=False),
                delete=scripts.remove_file_script(staged_cfg),
                stdin=cfg,
                depends_on=[install],
            )
        ]
        reasons: list[pulumi.Input[str]] = ["cfg=" + hashlib.sha256(cfg.encode()).hexdigest()]
        if args.tls is not None:
            pem = pulumi.Output.secret(
                pulumi.Output.all(args.tls.cert_pem, args.tls.private_key_pem).apply(lambda v: v[0].rstrip("\n") + "\n" + v[1])
            )
            staged_pem = scripts.staged_pem_path(plan)
            files.append(
                self.command(
                    "file-tls-pem",
                    # staged: `service` puts it in place only after its checks (a refused reload
                    # leaves the certificate a later HAProxy restart would load as it was)
                    create=scripts.write_file_script(plan, staged_pem, "0600"),
                    delete=scripts.remove_file_script(plan.tls_pem_file, staged_pem, plan.tls_pem_file + ".prev"),
                    stdin=pem,
                    depends_on=[install],
                )
            )
            staged_ca = scripts.staged_ca_path(plan)
            files.append(
                self.command(
                    "file-tls-ca",
                    # staged: `service` puts it in place only once every serving host's certificate
                    # verifies against it (a CA rotation never drops the CA a host still presents)
                    create=scripts.write_file_script(plan, staged_ca, "0644"),
                    delete=scripts.remove_file_script(plan.backend_ca_file, staged_ca, plan.backend_ca_file + ".prev"),
                    stdin=args.tls.proxies_ca_pem,
                    depends_on=[install],
                )
            )
            reasons.append(
                pulumi.Output.unsecret(
                    pulumi.Output.all(args.tls.cert_pem, args.tls.proxies_ca_pem).apply(
                        lambda v: "tls=" + hashlib.sha256((v[0] + "\n" + v[1]).encode()).hexdigest()
                    )
                )
            )
        reload = pulumi.Output.all(*reasons).apply(lambda r: with_reasons(scripts.reload_script(plan, staged_cfg), list(r)))
        # The config is validated by `haproxy -c` as part of the reload (the file steps only write).
        self.service = self.command(
            "service",
            create=reload,
            update=reload,
            delete=scripts.stop_script(plan),
            depends_on=files,
        )
        self.register_outputs({"haproxy_cfg_sha256": hashlib.sha256(cfg.encode()).hexdigest()})

    def command(
        self,
        step: str,
        *,
        create: pulumi.Input[str],
        update: Optional[pulumi.Input[str]] = None,
        delete: Optional[str] = None,
        stdin: Optional[pulumi.Input[str]] = None,
        depends_on: Optional[list[pulumi.Resource]] = None,
        name: Optional[str] = None,
        parent: Optional[pulumi.Resource] = None,
        aliases: Optional[list] = None,
        delete_before_replace: bool = False,
    ) -> pulumi.CustomResource:
        """A command on the front door."""
        opts = pulumi.ResourceOptions(parent=parent or self, depends_on=depends_on, aliases=aliases,
                                      delete_before_replace=delete_before_replace)
        resource_name = name or f"{self._name}-{step}"
        if self.connection is None:
            return local.Command(
                resource_name,
                create=create,
                update=update,
                delete=delete,
                stdin=stdin,
                interpreter=LOCAL_INTERPRETER,
                add_previous_output_in_env=False,
                opts=opts,
            )
        wrap = lambda script: pulumi.Output.from_input(script).apply(lambda t: remote_command(t, "non-root")) if script is not None else None  # noqa: E731
        return remote.Command(
            resource_name,
            connection=self.connection,
            create=wrap(create),
            update=wrap(update),
            delete=wrap(delete),
            stdin=stdin,
            add_previous_output_in_env=False,
            opts=opts,
        )
