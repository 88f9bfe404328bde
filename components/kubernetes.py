"""LiteLLMKubernetes: the gateway's proxy as Kubernetes objects (`litellm.deploy: kubernetes`).

The sibling of `components.host.LiteLLMHost` for the third deploy target: `components.gateway`
builds one of these instead of the hosts, after the database and Redis, and the admin-API
resources (models, teams, keys) wait for it as they wait for hosts.

Every object comes from the pure builders of `rendering.kubernetes_objects` (the same manifests
`make render` writes) and becomes one pulumi-kubernetes resource (pulumi-kubernetes is pinned in
requirements.txt), so `pulumi preview --diff` shows each object's change:

  Provider              explicit, for `kubernetes.context` (required), ConfigMaps/Secrets mutable
  [Namespace]           when kubernetes.create_namespace (retained on delete)
  [ServiceAccount]      when kubernetes.service_account.create (its token never mounted)
  Secret <base>-env     master key, salt key, DATABASE_URL, REDIS_PASSWORD, envSecrets (secret values)
  [TlsCertificate + Secret <base>-tls]   the Ingress certificate (tls.issuer), unless an existing
                        secret is named (kubernetes.ingress.tls_secret)
  ConfigMap <base>-config   config.yaml
  [Job <base>-migrate-<digest>]   LiteLLM's migrations, once per release/database (postgres on);
                        pulumi-kubernetes waits until the Job completes (its `Complete` condition;
                        a failed Job fails the update), and the Deployment depends on it
  Deployment <base>     the proxy pods (rolls on a config or secret change: checksum annotations)
  Service, PodDisruptionBudget, [HorizontalPodAutoscaler], [Ingress]
  [PodMonitor | ServiceMonitor]   kubernetes.monitoring (prometheus-operator CRDs, /metrics/ with the scrape key)

Secrets: the Secret's values are Pulumi secret outputs (pulumi-kubernetes also marks a Secret's
data secret); the Deployment only references them (secretKeyRef) and carries an HMAC of them keyed
with a random secret of its own, which reveals nothing about them and changes with each.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any, Mapping, Optional

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.tls import TlsCertificate, TlsCertificateArgs
from config.endpoints import base_url
from config.settings import GatewaySettings
from rendering.kubernetes_objects import (
    creates_tls_secret,
    deployment_await_seconds,
    ingress_host,
    kubernetes_manifests,
    object_names,
    pod_secret_env_names,
)

TYPE_TOKEN = "litellm-gateway:kubernetes:LiteLLMKubernetes"
JOB_TIMEOUT = "20m"


@dataclass
class LiteLLMKubernetesArgs:
    settings: GatewaySettings
    """Validated, with litellm.deploy: kubernetes and a `kubernetes` section."""
    env_values: Mapping[str, pulumi.Input[str]]
    """Secret env entries by name (rendering.host_files.secret_env_names); values are secret Outputs."""
    tls_ca_private_key: Optional[pulumi.Input[str]] = None
    """tls.issuer internal-ca: the CA's key (secret), for the Ingress certificate."""


def secrets_hmac(key: str, values: list[str]) -> str:
    """The Deployment's secrets checksum: HMAC-SHA256 of the Secret's values, keyed with a random
    secret (a plain hash of guessable values would reveal them)."""
    return hmac.new(key.encode("utf-8"), json.dumps(values).encode("utf-8"), hashlib.sha256).hexdigest()


_KINDS = {
    "Namespace": k8s.core.v1.Namespace,
    "ServiceAccount": k8s.core.v1.ServiceAccount,
    "Secret": k8s.core.v1.Secret,
    "ConfigMap": k8s.core.v1.ConfigMap,
    "Job": k8s.batch.v1.Job,
    "Deployment": k8s.apps.v1.Deployment,
    "Service": k8s.core.v1.Service,
    "PodDisruptionBudget": k8s.policy.v1.PodDisruptionBudget,
    "HorizontalPodAutoscaler": k8s.autoscaling.v2.HorizontalPodAutoscaler,
    "Ingress": k8s.networking.v1.Ingress,
    "NetworkPolicy": k8s.networking.v1.NetworkPolicy,
}
# manifest field -> pulumi-kubernetes argument name (apiVersion/kind are implied by the class)
_FIELDS = {"metadata": "metadata", "spec": "spec", "data": "data", "stringData": "string_data", "type": "type",
           "automountServiceAccountToken": "automount_service_account_token"}


def _resource(kind: str, name: str, manifest: dict[str, Any], opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
    if kind in ("PodMonitor", "ServiceMonitor"):  # prometheus-operator's CRDs: no typed class
        return k8s.apiextensions.CustomResource(
            name, api_version=manifest["apiVersion"], kind=kind, metadata=manifest["metadata"], spec=manifest["spec"], opts=opts)
    cls = _KINDS[kind]
    unknown = set(manifest) - set(_FIELDS) - {"apiVersion", "kind"}
    if unknown:  # a builder field this mapping would silently drop
        raise ValueError(f"{kind} {name}: no pulumi-kubernetes argument for {sorted(unknown)}")
    kwargs = {_FIELDS[f]: v for f, v in manifest.items() if f in _FIELDS}
    return cls(name, **kwargs, opts=opts)


class LiteLLMKubernetes(pulumi.ComponentResource):
    base_url: pulumi.Output[str]
    ca_bundle_pem: Optional[pulumi.Output[str]]
    ready: pulumi.Output[bool]
    """Resolves once the Deployment is rolled out (pulumi-kubernetes awaits its pods' readiness)."""

    def __init__(self, name: str, args: LiteLLMKubernetesArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TYPE_TOKEN, name, None, opts)
        s = args.settings
        k = s.kubernetes
        if s.litellm.deploy != "kubernetes" or k is None:
            raise ValueError("LiteLLMKubernetes needs litellm.deploy: kubernetes and a kubernetes section")
        names = pod_secret_env_names(s)
        missing = [n for n in names if n not in args.env_values]
        if missing:
            raise ValueError(f"LiteLLMKubernetes: no value for secret env entries {', '.join(missing)}")

        if not k.context:  # the loader refuses this (config.cross_checks); a direct caller too
            raise ValueError("LiteLLMKubernetes needs kubernetes.context (the kubeconfig context to deploy to)")
        # Always an explicit provider: the context is pinned, and the ConfigMap and Secrets are
        # updated in place (a PATCH) instead of pulumi-kubernetes' default for them (immutable:
        # replace, i.e. delete then create under a fixed name, which leaves them missing in between
        # and after an interrupted `up`). The pods roll on a change through the Deployment's
        # checksum annotations, so an in-place update is what they need (docs/kubernetes.md).
        provider = k8s.Provider(
            f"{name}-provider",
            context=k.context,
            enable_config_map_mutable=True,
            enable_secret_mutable=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.provider = provider
        base_opts = pulumi.ResourceOptions(parent=self, provider=provider)

        def opts_with(**extra: Any) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions.merge(base_opts, pulumi.ResourceOptions(**extra))

        # ---- secret inputs ------------------------------------------------------------------
        secret_values = {n: pulumi.Output.secret(args.env_values[n]) for n in names}
        checksum_key = random.RandomPassword(f"{name}-checksum-key", length=64, special=False, opts=pulumi.ResourceOptions(parent=self))
        checksum = pulumi.Output.unsecret(
            pulumi.Output.all(checksum_key.result, *[secret_values[n] for n in names]).apply(
                lambda v: secrets_hmac(v[0], list(v[1:]))
            )
        )
        self.ca_bundle_pem = None
        cert_pem: Any = None
        key_pem: Any = None
        cert: Optional[TlsCertificate] = None
        if creates_tls_secret(s):
            host = ingress_host(s)
            cert = TlsCertificate(
                f"{name}-ingress-tls",
                TlsCertificateArgs(
                    common_name=host,
                    dns_names=[host],
                    ip_addresses=[],
                    issuer=s.tls.issuer,
                    ca_cert_pem=s.tls_ca_cert,
                    ca_private_key_pem=args.tls_ca_private_key,
                    validity_hours=s.tls.validity_hours,
                    early_renewal_hours=s.tls.early_renewal_hours,
                    key_algorithm=s.tls.key_algorithm,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            cert_pem, key_pem = cert.cert_pem, pulumi.Output.secret(cert.private_key_pem)
            self.ca_bundle_pem = cert.ca_cert_pem

        manifests = kubernetes_manifests(
            s,
            secret_values=secret_values,
            secrets_checksum=checksum,
            tls_cert_pem=cert_pem,
            tls_key_pem=key_pem,
        )

        # ---- objects, in dependency order ----------------------------------------------------
        self.objects: dict[str, pulumi.CustomResource] = {}
        namespace_deps: list[pulumi.Resource] = []
        if "namespace" in manifests:
            # retained: create_namespace true -> false (or a destroy) must not delete a namespace
            # that may hold other things by then; remove it by hand when it is empty
            self.objects["namespace"] = _resource("Namespace", f"{name}-namespace", manifests["namespace"], opts_with(retain_on_delete=True))
            namespace_deps = [self.objects["namespace"]]
        self.objects["secret-env"] = _resource(
            "Secret", f"{name}-secret-env", manifests["secret-env"],
            opts_with(depends_on=namespace_deps, additional_secret_outputs=["data", "stringData"]),
        )
        if "secret-tls" in manifests:
            self.objects["secret-tls"] = _resource(
                "Secret", f"{name}-secret-tls", manifests["secret-tls"],
                opts_with(depends_on=namespace_deps, additional_secret_outputs=["data", "stringData"]),
            )
        self.objects["configmap"] = _resource("ConfigMap", f"{name}-configmap", manifests["configmap"], opts_with(depends_on=namespace_deps))
        # Before any pod of the stack exists (the Job's and the Deployment's wait for them below).
        policies = [stem for stem in ("networkpolicy", "networkpolicy-migrations") if stem in manifests]
        for stem in policies:
            self.objects[stem] = _resource("NetworkPolicy", f"{name}-{stem}", manifests[stem], opts_with(depends_on=namespace_deps))
        pod_inputs = [self.objects["secret-env"], self.objects["configmap"], *(self.objects[stem] for stem in policies)]
        if "serviceaccount" in manifests:
            self.objects["serviceaccount"] = _resource(
                "ServiceAccount", f"{name}-serviceaccount", manifests["serviceaccount"], opts_with(depends_on=namespace_deps))
            pod_inputs.append(self.objects["serviceaccount"])
        deployment_deps = list(pod_inputs)
        if "job-migrate" in manifests:
            # A new release or database is a new Job name: Pulumi creates it (and waits for it to
            # complete) before the Deployment rolls, then deletes the previous Job.
            self.objects["job-migrate"] = _resource(
                "Job", f"{name}-migrate", manifests["job-migrate"],
                # a Job's pod template is immutable: any other change of it replaces the Job (same
                # name: delete first), which reruns the (idempotent) migrations
                opts_with(depends_on=pod_inputs, delete_before_replace=True,
                          custom_timeouts=pulumi.CustomTimeouts(create=JOB_TIMEOUT, update=JOB_TIMEOUT)),
            )
            deployment_deps.append(self.objects["job-migrate"])
        deployment_timeout = f"{deployment_await_seconds(s)}s"
        # With an autoscaler, spec.replicas belongs to it after creation: never reset it.
        self.objects["deployment"] = _resource(
            "Deployment", f"{name}-deployment", manifests["deployment"],
            opts_with(depends_on=deployment_deps, ignore_changes=["spec.replicas"] if k.autoscaled else None,
                      custom_timeouts=pulumi.CustomTimeouts(create=deployment_timeout, update=deployment_timeout)),
        )
        deployment = self.objects["deployment"]
        self.objects["service"] = _resource("Service", f"{name}-service", manifests["service"], opts_with(depends_on=namespace_deps))
        self.objects["pdb"] = _resource("PodDisruptionBudget", f"{name}-pdb", manifests["pdb"], opts_with(depends_on=namespace_deps))
        if "hpa" in manifests:
            self.objects["hpa"] = _resource("HorizontalPodAutoscaler", f"{name}-hpa", manifests["hpa"], opts_with(depends_on=[deployment]))
        if "ingress" in manifests:
            ingress_deps: list[pulumi.Resource] = [self.objects["service"]]
            if "secret-tls" in self.objects:
                ingress_deps.append(self.objects["secret-tls"])
            self.objects["ingress"] = _resource("Ingress", f"{name}-ingress", manifests["ingress"], opts_with(depends_on=ingress_deps))

        if "monitor" in manifests:
            self.objects["monitor"] = _resource(
                manifests["monitor"]["kind"], f"{name}-monitor", manifests["monitor"], opts_with(depends_on=[self.objects["service"]]))

        self.base_url = pulumi.Output.from_input(base_url(s))
        self.ready = deployment.id.apply(lambda _: True)
        self.register_outputs(
            {
                "base_url": self.base_url,
                "namespace": object_names(s).namespace,
                "ready": self.ready,
            }
        )
