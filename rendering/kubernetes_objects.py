"""The Kubernetes objects of a `litellm.deploy: kubernetes` stack, as plain manifests. Pure: no Pulumi.

`components.kubernetes.LiteLLMKubernetes` turns each manifest into a pulumi-kubernetes resource
(so `pulumi preview --diff` shows every object), and `make render` writes them to
build/<stack>/k8s/*.yaml with every secret value shown as "[secret]". Secret values are parameters
(`secret_values`, `secrets_checksum`): the component passes Pulumi secret outputs, the renderer
"[secret]"; nothing here reads a secret from the settings.

What the manifests encode, and where it comes from:
- the ConfigMap holds `rendering.litellm_yaml.render_litellm_config_yaml(settings)`: byte for byte the
  file the ssh target writes (one renderer; its secrets are `os.environ/NAME` references);
- the pods' environment is the ssh target's env file: the same plain entries
  (`rendering.host_files.plain_env`, with DISABLE_SCHEMA_UPDATE=True so serving pods never migrate)
  and the same secret names (`rendering.host_files.secret_env_names`), each from the Secret;
- the migration Job runs `rendering.host_scripts.migration_argv` with
  `host_scripts.MIGRATION_ENV_OVERRIDE` on top of the pods' env: the ssh migrate step's command,
  flags and override. Its name carries a digest of the release and the database, so it runs once
  per release/database (a Job's pod template is immutable; a new name is a new Job), and the
  Deployment is created after it (pulumi-kubernetes waits for a Job's `Complete` condition);
- the Deployment runs the pinned image (`main-v<version>`, config.kubernetes_settings), one worker
  per pod, probes on /health/liveliness and /health/readiness (a startupProbe covers
  `readiness_timeout_seconds`), RollingUpdate with maxUnavailable 0, a checksum annotation of the
  config and of the secrets (an HMAC given by the component) so a change of either rolls the pods,
  a non-root security context (the litellm-non_root image's user) with a read-only root filesystem
  and emptyDirs where the proxy and the migrations write (/tmp, LITELLM_MIGRATION_DIR);
- Service, PodDisruptionBudget, an autoscaling/v2 HorizontalPodAutoscaler with `behavior` (when
  max_replicas > min_replicas), and an Ingress for <service_name>.<domain> with TLS from a Secret.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import math
from dataclasses import dataclass
from typing import Any, Mapping, Optional
from urllib.parse import urlsplit

from config.kubernetes_settings import (
    GRACEFUL_SHUTDOWN_ENV,
    MIGRATION_DIGEST_LENGTH,
    MIGRATION_DIR,
    MIGRATION_JOB_INFIX,
    POD_ENV,
    SURGE_PODS,
    image_reference,
    shutdown_plan,
)
from config.settings import GatewaySettings
from rendering import db_tls
from rendering.admin_ui_dirs import UI_OFF_DIR as UI_OFF_DIR_NAME, UI_PATH_ENV, UI_READY_MARKER
from rendering.host_files import REDACTED, ca_files, plain_env, secret_env_names
from rendering.host_scripts import MIGRATION_ENV_OVERRIDE, migration_argv
from rendering.litellm_yaml import render_litellm_config_yaml

CONFIG_DIR = "/etc/litellm"
CONFIG_FILE = f"{CONFIG_DIR}/config.yaml"
CONTAINER_NAME = "litellm"
PORT_NAME = "http"
# Where the proxy may write with a read-only root filesystem (emptyDirs): /tmp, and the migrations
# directory (config.kubernetes_settings.MIGRATION_DIR). Not /app/.cache: the image's Prisma engines
# are there (an emptyDir would hide them).
WRITABLE_DIRS: tuple[tuple[str, str], ...] = (("tmp", "/tmp"), ("migrations", MIGRATION_DIR))
RUN_AS_USER = 65534  # nobody: the USER of the litellm-non_root image, owner of /app and Prisma's files
MANAGED_BY = "litellm-gateway"
# pulumi-kubernetes annotations (https://www.pulumi.com/registry/packages/kubernetes/installation-configuration/)
REPLACE_UNREADY = "pulumi.com/replaceUnready"
SKIP_AWAIT = "pulumi.com/skipAwait"
STARTUP_PERIOD_SECONDS = 10
# What a rollout's await adds to the pods' startup windows: image pulls, scheduling, old pods' exit.
ROLLOUT_MARGIN_SECONDS = 300


@dataclass(frozen=True)
class ObjectNames:
    namespace: str
    base: str
    env_secret: str
    tls_secret: str
    config_map: str
    migration_job: str
    deployment: str
    service: str
    pdb: str
    hpa: str
    ingress: str
    service_account: Optional[str]  # None: the namespace's default ServiceAccount


def migration_digest(settings: GatewaySettings) -> str:
    """Changes with the release (image) and the database the migrations run against, nothing else."""
    p = settings.postgres
    key = json.dumps([image_reference(settings), p.host, p.port, p.database, p.role])
    return hashlib.sha256(key.encode()).hexdigest()[:MIGRATION_DIGEST_LENGTH]


def object_names(settings: GatewaySettings) -> ObjectNames:
    k = settings.kubernetes
    assert k is not None, "object_names needs litellm.deploy: kubernetes"
    base = settings.litellm.service_name or "litellm"
    return ObjectNames(
        namespace=k.namespace,
        base=base,
        env_secret=f"{base}-env",
        tls_secret=k.ingress.tls_secret or f"{base}-tls",
        config_map=f"{base}-config",
        migration_job=f"{base}{MIGRATION_JOB_INFIX}{migration_digest(settings)}",
        deployment=base,
        service=base,
        pdb=base,
        hpa=base,
        ingress=base,
        service_account=(k.service_account.name or base) if k.service_account else None,
    )


# `app.kubernetes.io/name` per kind of pod: the serving pods are "litellm", the migration Job's pods
# "litellm-migrations". The Deployment, Service, PodDisruptionBudget (and through the Deployment the
# HPA) select on name + instance, so they can never match a Job pod: a completed Job pod counted by the
# PDB makes the disruption controller look for its owner's scale subresource (jobs.batch has none) and
# set DisruptionsAllowed=0, refusing every eviction (node drains, scale-down).
POD_NAMES = {"proxy": "litellm", "migrations": "litellm-migrations", "ingress": "litellm"}


def selector_labels(settings: GatewaySettings, component: str = "proxy") -> dict[str, str]:
    return {"app.kubernetes.io/name": POD_NAMES[component], "app.kubernetes.io/instance": object_names(settings).base}


def labels(settings: GatewaySettings, component: str = "proxy") -> dict[str, str]:
    return {
        **selector_labels(settings, component),
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/version": settings.litellm.version,
        "app.kubernetes.io/managed-by": MANAGED_BY,
        "litellm-gateway/stack": settings.stack,
    }


def _meta(settings: GatewaySettings, name: str, component: str = "proxy", **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": settings.kubernetes.namespace, "labels": labels(settings, component), **extra}  # type: ignore[union-attr]


def pod_secret_env_names(settings: GatewaySettings) -> list[str]:
    """The Secret's keys = the env file's secret names, except an unset Redis password (the env
    file leaves an empty one out too: LiteLLM treats an empty password as a wrong one)."""
    names = secret_env_names(settings)
    if settings.secrets.redis_password is None and not settings.redis.manage_acl:
        names = [n for n in names if n != "REDIS_PASSWORD"]
    from_cluster = settings.kubernetes.existing_secret_env if settings.kubernetes else {}
    return [n for n in names if n not in from_cluster]


def config_checksum(settings: GatewaySettings) -> str:
    """sha256 of what the pods read besides the Secret: config.yaml, the plain env, the CA files."""
    doc = json.dumps([render_litellm_config_yaml(settings), plain_env(settings), list(POD_ENV), _ca_data(settings)],
                     sort_keys=True)
    return hashlib.sha256(doc.encode()).hexdigest()


# --------------------------------------------------------------------------------------------
# Objects
# --------------------------------------------------------------------------------------------


def namespace_manifest(settings: GatewaySettings) -> dict[str, Any]:
    n = object_names(settings)
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        # Pod Security Admission: the pods meet `restricted` (non-root, no escalation, all capabilities
        # dropped, RuntimeDefault seccomp); warn and audit at the same level
        "metadata": {"name": n.namespace, "labels": {
            "app.kubernetes.io/managed-by": MANAGED_BY,
            **{f"pod-security.kubernetes.io/{mode}": settings.kubernetes.pod_security for mode in ("enforce", "warn", "audit")},  # type: ignore[union-attr]
        }},
    }


def env_secret_manifest(settings: GatewaySettings, secret_values: Optional[Mapping[str, Any]] = None) -> dict[str, Any]:
    """Master key, salt key, DATABASE_URL, REDIS_PASSWORD and every envSecrets entry.
    `secret_values` None = "[secret]" for each (the review copy)."""
    n = object_names(settings)
    data = {name: (REDACTED if secret_values is None else secret_values[name]) for name in pod_secret_env_names(settings)}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _meta(settings, n.env_secret),
        "type": "Opaque",
        "stringData": data,
    }


def tls_secret_manifest(settings: GatewaySettings, cert_pem: Any = REDACTED, key_pem: Any = REDACTED) -> dict[str, Any]:
    n = object_names(settings)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _meta(settings, n.tls_secret, "ingress"),
        "type": "kubernetes.io/tls",
        "stringData": {"tls.crt": cert_pem, "tls.key": key_pem},
    }


def service_account_manifest(settings: GatewaySettings) -> dict[str, Any]:
    n = object_names(settings)
    k = settings.kubernetes
    assert k is not None and k.service_account is not None and n.service_account
    meta = _meta(settings, n.service_account)
    if k.service_account.annotations:
        meta["annotations"] = dict(k.service_account.annotations)
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta, "automountServiceAccountToken": False}


def _ca_data(settings: GatewaySettings) -> dict[str, str]:
    """postgres.ca_cert / redis.ca_cert (public) as ConfigMap keys, mounted at db_tls.KUBE_CA_DIR
    (the paths DATABASE_URL and REDIS_SSL_CA_CERTS name: rendering.host_files.ca_files)."""
    cas = ca_files(settings)
    data: dict[str, str] = {}
    if cas.postgres is not None and settings.postgres.ca_cert:
        data[db_tls.POSTGRES_CA_NAME] = settings.postgres.ca_cert
    if cas.redis is not None and settings.redis.ca_cert:
        data[db_tls.REDIS_CA_NAME] = settings.redis.ca_cert
    return data


# adminUi off: LITELLM_UI_PATH names a directory of the config volume holding only LiteLLM's
# "pre-restructured" marker and an empty `_next/` (rendering.admin_ui_dirs), so `/ui` answers 404 in
# the pod itself; on, the image's pre-built UI (/var/lib/litellm/ui) is served.
UI_OFF_DIR = f"{CONFIG_DIR}/{UI_OFF_DIR_NAME}"
_UI_OFF_ITEMS = (("ui-off-ready", f"{UI_OFF_DIR_NAME}/{UI_READY_MARKER}"), ("ui-off-next", f"{UI_OFF_DIR_NAME}/_next/.keep"))


def _ui_off_data(settings: GatewaySettings) -> dict[str, str]:
    return {} if settings.admin_ui.enabled else {key: "" for key, _ in _UI_OFF_ITEMS}


def config_map_manifest(settings: GatewaySettings) -> dict[str, Any]:
    n = object_names(settings)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(settings, n.config_map),
        "data": {"config.yaml": render_litellm_config_yaml(settings), **_ca_data(settings), **_ui_off_data(settings)},
    }


# The only secret the migration Job's pod gets: `litellm --skip_server_startup` reads config.yaml
# (whose other os.environ/ references resolve lazily, to None, and are never used) and runs Prisma's
# migrations against DATABASE_URL; the master key, salt key, provider keys and the Redis password stay
# out of that pod.
MIGRATION_SECRET_ENV = ("DATABASE_URL",)


def _env(settings: GatewaySettings, overrides: tuple[tuple[str, str], ...] = (), *, migrations: bool = False) -> list[dict[str, Any]]:
    n = object_names(settings)
    plain = dict(plain_env(settings))
    plain.update(dict(POD_ENV))
    if not migrations:
        plain[GRACEFUL_SHUTDOWN_ENV] = str(shutdown_plan(settings).graceful_timeout_seconds)
        if not settings.admin_ui.enabled:
            plain[UI_PATH_ENV] = UI_OFF_DIR
    plain.update(dict(overrides))
    env: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in plain.items()]
    for name in pod_secret_env_names(settings):
        if migrations and name not in MIGRATION_SECRET_ENV:
            continue
        env.append({"name": name, "valueFrom": {"secretKeyRef": {"name": n.env_secret, "key": name}}})
    if not migrations:
        for name, ref in settings.kubernetes.existing_secret_env.items():  # type: ignore[union-attr]
            env.append({"name": name, "valueFrom": {"secretKeyRef": {"name": ref.secret, "key": ref.key}}})
    return env


def _pod_spec_common(settings: GatewaySettings) -> dict[str, Any]:
    """What both pods (serving and migrations) share: where they may run, how they pull, as whom,
    and no Service links (the docker-link env vars of every Service in the namespace)."""
    k = settings.kubernetes
    assert k is not None
    n = object_names(settings)
    spec: dict[str, Any] = {"enableServiceLinks": False, "automountServiceAccountToken": False}
    if n.service_account:
        spec["serviceAccountName"] = n.service_account
    if k.image_pull_secrets:
        spec["imagePullSecrets"] = [{"name": name} for name in k.image_pull_secrets]
    if k.node_selector:
        spec["nodeSelector"] = dict(k.node_selector)
    if k.tolerations:
        spec["tolerations"] = [_toleration(t) for t in k.tolerations]
    if k.affinity.node_labels_in:
        spec["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": key, "operator": "In", "values": list(values)}
                                  for key, values in k.affinity.node_labels_in.items()]}]}}}
    return spec


def _toleration(t: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"operator": t.operator}
    if t.key is not None:
        out["key"] = t.key
    if t.value is not None:
        out["value"] = t.value
    if t.effect is not None:
        out["effect"] = t.effect
    if t.toleration_seconds is not None:
        out["tolerationSeconds"] = t.toleration_seconds
    return out


def _serving_pod_spec(settings: GatewaySettings) -> dict[str, Any]:
    spec = _pod_spec_common(settings)
    placement = _serving_pod_placement(settings)
    if "affinity" in placement:
        spec["affinity"] = {**spec.get("affinity", {}), **placement.pop("affinity")}
    return {**spec, **placement}


def _serving_pod_placement(settings: GatewaySettings) -> dict[str, Any]:
    """The serving pods only: spread over nodes/zones and kept apart (the Job's one pod needs neither)."""
    k = settings.kubernetes
    assert k is not None
    out: dict[str, Any] = {}
    selector = {"matchLabels": selector_labels(settings)}
    if k.affinity.pods_apart != "none":
        term = {"labelSelector": selector, "topologyKey": "kubernetes.io/hostname"}
        anti = ({"requiredDuringSchedulingIgnoredDuringExecution": [term]} if k.affinity.pods_apart == "required"
                else {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "podAffinityTerm": term}]})
        out["affinity"] = {"podAntiAffinity": anti}
    if k.topology_spread:
        # matchLabelKeys pod-template-hash: only the current ReplicaSet's pods count (a rollout's old
        # pods would otherwise skew the spread of the new ones)
        out["topologySpreadConstraints"] = [
            {"maxSkew": t.max_skew, "topologyKey": t.topology_key, "whenUnsatisfiable": t.when_unsatisfiable,
             "labelSelector": selector, "matchLabelKeys": ["pod-template-hash"]}
            for t in k.topology_spread
        ]
    return out


def _security_contexts() -> tuple[dict[str, Any], dict[str, Any]]:
    pod = {
        "runAsNonRoot": True,
        "runAsUser": RUN_AS_USER,
        "runAsGroup": RUN_AS_USER,
        "fsGroup": RUN_AS_USER,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    container = {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    return pod, container


def _volumes(settings: GatewaySettings) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    n = object_names(settings)
    # CA files ride in the config volume (a mount nested in a read-only ConfigMap mount would need
    # a directory the runtime cannot create there): <CONFIG_DIR>/ca/<name> == db_tls.KUBE_CA_DIR/<name>.
    assert db_tls.KUBE_CA_DIR == f"{CONFIG_DIR}/ca"
    items = [{"key": "config.yaml", "path": "config.yaml"}]
    items += [{"key": key, "path": f"ca/{key}"} for key in _ca_data(settings)]
    items += [{"key": key, "path": path} for key, path in _UI_OFF_ITEMS if key in _ui_off_data(settings)]
    volumes: list[dict[str, Any]] = [{"name": "config", "configMap": {"name": n.config_map, "items": items}}]
    mounts: list[dict[str, Any]] = [{"name": "config", "mountPath": CONFIG_DIR, "readOnly": True}]
    for name, path in WRITABLE_DIRS:
        volumes.append({"name": name, "emptyDir": {"sizeLimit": "512Mi"}})
        mounts.append({"name": name, "mountPath": path})
    return volumes, mounts


def _resources(settings: GatewaySettings) -> dict[str, Any]:
    r = settings.kubernetes.resources  # type: ignore[union-attr]
    limits: dict[str, str] = {"memory": r.memory_limit}
    if r.cpu_limit:
        limits["cpu"] = r.cpu_limit
    return {"requests": {"cpu": r.cpu_request, "memory": r.memory_request}, "limits": limits}


def container_command() -> list[str]:
    return ["litellm"]


def container_args(settings: GatewaySettings) -> list[str]:
    """The proxy's arguments in a pod: the ssh unit's (rendering.host_files.proxy_args) with the pod's
    config path, all interfaces, one worker, and no TLS flags (TLS ends at the Ingress)."""
    return ["--config", CONFIG_FILE, "--host", "0.0.0.0", "--port", str(settings.litellm.port), "--num_workers", "1"]


def migration_job_manifest(settings: GatewaySettings) -> dict[str, Any]:
    n = object_names(settings)
    k = settings.kubernetes
    assert k is not None
    pod_sc, container_sc = _security_contexts()
    volumes, mounts = _volumes(settings)
    argv = migration_argv("litellm", CONFIG_FILE)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        # a failed Job (migrations that failed, a deadline hit) is replaced by the next `up` instead
        # of wedging every later update on an unready object
        "metadata": _meta(settings, n.migration_job, "migrations", annotations={REPLACE_UNREADY: "true"}),
        "spec": {
            "backoffLimit": k.migration_backoff_limit,
            "activeDeadlineSeconds": 900,
            "template": {
                "metadata": {"labels": labels(settings, "migrations")},
                "spec": {
                    "restartPolicy": "Never",
                    **_pod_spec_common(settings),
                    "securityContext": pod_sc,
                    "containers": [
                        {
                            "name": "migrations",
                            "image": image_reference(settings),
                            "imagePullPolicy": k.image.pull_policy,
                            "command": argv[:1],
                            "args": argv[1:],
                            "env": _env(settings, MIGRATION_ENV_OVERRIDE, migrations=True),
                            "resources": _resources(settings),
                            "securityContext": container_sc,
                            "volumeMounts": mounts,
                        }
                    ],
                    "volumes": volumes,
                },
            },
        },
    }


def startup_failure_threshold(settings: GatewaySettings) -> int:
    return max(3, math.ceil(settings.litellm.readiness_timeout_seconds / STARTUP_PERIOD_SECONDS))


def deployment_await_seconds(settings: GatewaySettings) -> int:
    """How long `pulumi up` may wait for the Deployment: a rollout replaces the pods one at a time
    (maxSurge 1, maxUnavailable 0), each new pod given its whole startup window, for up to
    max_replicas pods (the HPA may have scaled up), plus a margin. pulumi-kubernetes' default is 10 min."""
    k = settings.kubernetes
    assert k is not None
    return k.max_replicas * STARTUP_PERIOD_SECONDS * startup_failure_threshold(settings) + ROLLOUT_MARGIN_SECONDS


def deployment_manifest(settings: GatewaySettings, secrets_checksum: Any = REDACTED) -> dict[str, Any]:
    """`secrets_checksum`: a value that changes with every secret (an HMAC, never a plain hash of
    guessable values); the component passes it, the review copy shows "[secret]"."""
    n = object_names(settings)
    k = settings.kubernetes
    assert k is not None
    pod_sc, container_sc = _security_contexts()
    volumes, mounts = _volumes(settings)
    startup_failures = startup_failure_threshold(settings)
    plan = shutdown_plan(settings)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(settings, n.deployment),
        "spec": {
            "replicas": k.replicas,
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": selector_labels(settings)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": SURGE_PODS}},
            "template": {
                "metadata": {
                    "labels": labels(settings),
                    "annotations": {
                        **k.pod_annotations,
                        "litellm-gateway/config-sha256": config_checksum(settings),
                        "litellm-gateway/secrets-hmac": secrets_checksum,
                    },
                },
                "spec": {
                    **_serving_pod_spec(settings),
                    "terminationGracePeriodSeconds": plan.termination_grace_seconds,
                    "securityContext": pod_sc,
                    "containers": [
                        {
                            "name": CONTAINER_NAME,
                            "image": image_reference(settings),
                            "imagePullPolicy": k.image.pull_policy,
                            "command": container_command(),
                            "args": container_args(settings),
                            "ports": [{"name": PORT_NAME, "containerPort": settings.litellm.port, "protocol": "TCP"}],
                            "env": _env(settings),
                            "startupProbe": {
                                "httpGet": {"path": "/health/readiness", "port": PORT_NAME},
                                "periodSeconds": STARTUP_PERIOD_SECONDS,
                                "timeoutSeconds": 5,
                                "failureThreshold": startup_failures,
                            },
                            "livenessProbe": {
                                "httpGet": {"path": "/health/liveliness", "port": PORT_NAME},
                                "periodSeconds": 15,
                                "timeoutSeconds": 5,
                                "failureThreshold": 3,
                            },
                            "readinessProbe": {
                                "httpGet": {"path": "/health/readiness", "port": PORT_NAME},
                                "periodSeconds": 10,
                                "timeoutSeconds": 5,
                                "failureThreshold": 3,
                            },
                            # the kubelet's own sleep (no binary needed in the image): the pod keeps
                            # serving until the endpoint removal has reached the Service and Ingress
                            "lifecycle": {"preStop": {"sleep": {"seconds": plan.prestop_seconds}}},
                            "resources": _resources(settings),
                            "securityContext": container_sc,
                            "volumeMounts": mounts,
                        }
                    ],
                    "volumes": volumes,
                },
            },
        },
    }


def service_manifest(settings: GatewaySettings) -> dict[str, Any]:
    n = object_names(settings)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(settings, n.service),
        "spec": {
            "type": "ClusterIP",
            "selector": selector_labels(settings),
            "ports": [{"name": PORT_NAME, "port": settings.litellm.port, "targetPort": PORT_NAME, "protocol": "TCP"}],
        },
    }


def pdb_manifest(settings: GatewaySettings) -> dict[str, Any]:
    n = object_names(settings)
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _meta(settings, n.pdb),
        # AlwaysAllow: a pod that is running but not ready (a wedged proxy) can be evicted even when the
        # budget is spent, so it never blocks a node drain
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector_labels(settings)},
                 "unhealthyPodEvictionPolicy": "AlwaysAllow"},
    }


def hpa_manifest(settings: GatewaySettings) -> dict[str, Any]:
    n = object_names(settings)
    k = settings.kubernetes
    assert k is not None
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _meta(settings, n.hpa),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": n.deployment},
            "minReplicas": k.min_replicas,
            "maxReplicas": k.max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": k.target_cpu_utilization}},
                }
            ],
            # Up fast (a burst of traffic), down slowly (one pod a minute after 5 quiet minutes).
            "behavior": {
                "scaleUp": {
                    "stabilizationWindowSeconds": 0,
                    "selectPolicy": "Max",
                    "policies": [
                        {"type": "Percent", "value": 100, "periodSeconds": 60},
                        {"type": "Pods", "value": 2, "periodSeconds": 60},
                    ],
                },
                "scaleDown": {
                    "stabilizationWindowSeconds": 300,
                    "selectPolicy": "Min",
                    "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}],
                },
            },
        },
    }


def ingress_host(settings: GatewaySettings) -> str:
    return f"{object_names(settings).base}.{settings.domain}"


# ingress-nginx's proxy timeouts (seconds, between two reads/writes: a non-streamed answer comes in
# one read at the end). Other controllers name theirs differently: set them to at least
# shutdown_plan().ingress_timeout_seconds (docs/kubernetes.md).
NGINX_TIMEOUT_ANNOTATIONS = ("nginx.ingress.kubernetes.io/proxy-read-timeout", "nginx.ingress.kubernetes.io/proxy-send-timeout")


def ingress_timeout_annotations(settings: GatewaySettings) -> dict[str, str]:
    k = settings.kubernetes
    assert k is not None
    if k.ingress.class_name != "nginx":
        return {}
    seconds = str(shutdown_plan(settings).ingress_timeout_seconds)
    return {name: seconds for name in NGINX_TIMEOUT_ANNOTATIONS}


def ingress_manifest(settings: GatewaySettings) -> dict[str, Any]:
    n = object_names(settings)
    k = settings.kubernetes
    assert k is not None
    host = ingress_host(settings)
    meta = _meta(settings, n.ingress, "ingress")
    annotations = dict(k.ingress.annotations)
    annotations.update(ingress_timeout_annotations(settings))
    if k.ingress.skip_await:
        annotations[SKIP_AWAIT] = "true"
    if annotations:
        meta["annotations"] = annotations
    spec: dict[str, Any] = {
        "rules": [
            {
                "host": host,
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {"service": {"name": n.service, "port": {"name": PORT_NAME}}},
                        }
                    ]
                },
            }
        ]
    }
    if k.ingress.class_name:
        spec = {"ingressClassName": k.ingress.class_name, **spec}
    if settings.tls.enabled:
        spec["tls"] = [{"hosts": [host], "secretName": n.tls_secret}]
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta, "spec": spec}


MONITORING_API_VERSION = "monitoring.coreos.com/v1"
METRICS_PATH = "/metrics/"  # the proxy mounts the exporter at /metrics/ (307 from /metrics)


def monitor_manifest(settings: GatewaySettings) -> dict[str, Any]:
    """prometheus-operator's PodMonitor (the pods, by the serving selector) or ServiceMonitor (the
    Service, by its labels), scraping the `http` port's /metrics/ with the scrape key as Bearer."""
    n = object_names(settings)
    k = settings.kubernetes
    assert k is not None and k.monitoring.kind != "none" and k.monitoring.scrape_key_secret is not None
    m = k.monitoring
    meta = _meta(settings, n.base)
    meta["labels"] = {**meta["labels"], **m.labels}
    endpoint = {
        "port": PORT_NAME,
        "path": METRICS_PATH,
        "interval": m.interval,
        "scheme": "http",  # in the cluster: TLS ends at the Ingress
        "authorization": {"type": "Bearer", "credentials": {"name": m.scrape_key_secret.secret, "key": m.scrape_key_secret.key}},
    }
    spec: dict[str, Any] = {
        "selector": {"matchLabels": selector_labels(settings)},
        "namespaceSelector": {"matchNames": [n.namespace]},
    }
    if m.kind == "PodMonitor":
        spec["podMetricsEndpoints"] = [endpoint]
    else:
        spec["endpoints"] = [endpoint]
    return {"apiVersion": MONITORING_API_VERSION, "kind": m.kind, "metadata": meta, "spec": spec}


# ---- NetworkPolicies (issue 16) --------------------------------------------------------------------
# Deny by default for the gateway's pods, then allow: the Ingress controller (and Prometheus with
# monitoring) to the proxy port; egress to the cluster DNS, PostgreSQL, Redis and the model upstreams.
# A NetworkPolicy allows addresses, not names: a host written as an IP is allowed as that address;
# a name is allowed on its port to kubernetes.network_policy.egress_cidrs, or to any address when none
# are listed (docs/security.md, "NetworkPolicy").


def _host_port(url: str) -> tuple[str, int]:
    u = urlsplit(url)
    return (u.hostname or "", u.port or (443 if u.scheme == "https" else 80))


def egress_targets(settings: GatewaySettings, *, migrations: bool = False) -> list[tuple[str, int]]:
    """(host, TCP port) the pods open connections to; a host of "" means "a provider's public API"."""
    out: list[tuple[str, int]] = []
    if settings.postgres.enabled:
        out.append((settings.postgres.host, settings.postgres.port))
    if migrations:
        return out
    if settings.redis.enabled:
        out.append((settings.redis.host, settings.redis.port))
    for m in settings.models:
        out.append(_host_port(m.api_base) if m.api_base else ("", 443))
    o = settings.observability
    if o.alerting.channels or "langfuse" in o.callbacks:
        out.append(("", 443))  # Slack webhooks, e-mail APIs, Langfuse: public HTTPS services
    return sorted(set(out))


def _peers(host: str, cidrs: list[str]) -> Optional[list[dict[str, Any]]]:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return [{"ipBlock": {"cidr": c}} for c in cidrs] or None
    return [{"ipBlock": {"cidr": f"{ip}/{ip.max_prefixlen}"}}]


def _egress_rules(settings: GatewaySettings, *, migrations: bool) -> list[dict[str, Any]]:
    k = settings.kubernetes
    assert k is not None
    np = k.network_policy
    rules: list[dict[str, Any]] = [{
        "to": [{"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: np.dns_namespace}},
                "podSelector": {"matchLabels": dict(np.dns_pod_labels)}}],
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
    }]
    by_peers: dict[str, tuple[Optional[list[dict[str, Any]]], set[int]]] = {}
    for host, port in egress_targets(settings, migrations=migrations):
        peers = _peers(host, list(np.egress_cidrs)) if host else None
        key = json.dumps(peers, sort_keys=True)
        by_peers.setdefault(key, (peers, set()))[1].add(port)
    for _, (peers, ports) in sorted(by_peers.items()):
        rule: dict[str, Any] = {"ports": [{"protocol": "TCP", "port": p} for p in sorted(ports)]}
        if peers is not None:
            rule = {"to": peers, **rule}
        rules.append(rule)
    return rules


NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"  # set by the API server on every namespace (1.22+)


def network_policy_manifest(settings: GatewaySettings) -> dict[str, Any]:
    n = object_names(settings)
    k = settings.kubernetes
    assert k is not None
    np = k.network_policy
    port = [{"protocol": "TCP", "port": settings.litellm.port}]
    ingress = [{
        "from": [{"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: np.ingress_controller_namespace}},
                  "podSelector": {"matchLabels": dict(np.ingress_controller_pod_labels)}}],
        "ports": port,
    }]
    if k.monitoring.kind != "none":
        ingress.append({"from": [{"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: np.prometheus_namespace}}}], "ports": port})
    return {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": _meta(settings, n.base),
        "spec": {"podSelector": {"matchLabels": selector_labels(settings)}, "policyTypes": ["Ingress", "Egress"],
                 "ingress": ingress, "egress": _egress_rules(settings, migrations=False)},
    }


def migration_network_policy_manifest(settings: GatewaySettings) -> dict[str, Any]:
    """The migration Job's pods: nothing comes in; out only to DNS and PostgreSQL."""
    n = object_names(settings)
    return {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": _meta(settings, f"{n.base}-migrations", "migrations"),
        "spec": {"podSelector": {"matchLabels": selector_labels(settings, "migrations")}, "policyTypes": ["Ingress", "Egress"],
                 "ingress": [], "egress": _egress_rules(settings, migrations=True)},
    }


def creates_tls_secret(settings: GatewaySettings) -> bool:
    k = settings.kubernetes
    return bool(k and k.ingress.enabled and settings.tls.enabled and not k.ingress.tls_secret)


def kubernetes_manifests(
    settings: GatewaySettings,
    secret_values: Optional[Mapping[str, Any]] = None,
    secrets_checksum: Any = REDACTED,
    tls_cert_pem: Any = REDACTED,
    tls_key_pem: Any = REDACTED,
) -> dict[str, dict[str, Any]]:
    """Every object, keyed by a stable file/resource stem, in creation order."""
    k = settings.kubernetes
    assert k is not None, "kubernetes_manifests needs litellm.deploy: kubernetes"
    out: dict[str, dict[str, Any]] = {}
    if k.create_namespace:
        out["namespace"] = namespace_manifest(settings)
    if k.service_account is not None and k.service_account.create:
        out["serviceaccount"] = service_account_manifest(settings)
    out["secret-env"] = env_secret_manifest(settings, secret_values)
    if creates_tls_secret(settings):
        out["secret-tls"] = tls_secret_manifest(settings, tls_cert_pem, tls_key_pem)
    out["configmap"] = config_map_manifest(settings)
    if k.network_policy.enabled:
        # before any pod: no pod of this stack ever runs unconfined
        out["networkpolicy"] = network_policy_manifest(settings)
        if settings.postgres.enabled:
            out["networkpolicy-migrations"] = migration_network_policy_manifest(settings)
    if settings.postgres.enabled:
        out["job-migrate"] = migration_job_manifest(settings)
    out["deployment"] = deployment_manifest(settings, secrets_checksum)
    out["service"] = service_manifest(settings)
    out["pdb"] = pdb_manifest(settings)
    if k.autoscaled:
        out["hpa"] = hpa_manifest(settings)
    if k.ingress.enabled:
        out["ingress"] = ingress_manifest(settings)
    if k.monitoring.kind != "none":
        out["monitor"] = monitor_manifest(settings)
    return out
