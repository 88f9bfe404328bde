"""The `kubernetes:` section of a stack (`litellm.deploy: kubernetes`). Pure.

Its own module by concern: `config.settings.GatewaySettings` holds it as `kubernetes`; the checks
against the rest of the stack are `config.cross_checks.kubernetes_problems`, so every refusal comes
out of the loader as one located message (`stack 'kube': litellm-gateway:kubernetes.max_replicas: ...`).

What a Kubernetes deploy is, in the settings' terms (the cross-checks enforce it):
- pods instead of hosts: `litellm.hosts`, the SSH settings, host paths and the service user, DNS
  records (samba-tool over SSH) and the Redis ACL management (redis-cli over SSH) do not apply;
- one worker per pod (upstream's advice for Kubernetes: scale with replicas, not `--num_workers`);
- Postgres and Redis are external services the pods reach over the network: loopback addresses are
  refused (inside a pod 127.0.0.1 is the pod itself);
- several pods share the router's rpm/tpm usage and cooldowns through Redis (as several hosts do);
- every pod holds its own Prisma pool: `database_connection_pool_limit` x (max_replicas + surge)
  must fit the role's `connection_limit`;
- the gateway's URL is the Ingress host `<litellm.service_name>.<domain>` (the name the ssh target
  gives its CNAME), so `config.endpoints.gateway_base_url` — the function the admin-API providers
  also call — derives it from the same settings.
"""

from __future__ import annotations

import ipaddress
import math
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Optional

from decimal import Decimal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from config import checks
from config.fields import CrossCheckError
from config.host_env import UI_PATH_ENV

_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_IMAGE_REPOSITORY = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._/-][a-z0-9]+)*)+$")
_ANNOTATION_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")

# LiteLLM's published images: `<repository>:main-v<release>` — the tag the upstream Helm chart
# derives from its appVersion (`main-%s` of `v<release>`, deploy/charts/litellm-helm/templates/
# deployment.yaml) and the workflow that publishes each PyPI release pushes
# (.github/workflows/ghcr_deploy.yml: the branch tag `main` + `-v<release>`), for each variant
# (litellm, litellm-database, litellm-non_root). The `-non_root` variant (docker/Dockerfile.non_root)
# is the one built to run as a non-root user: USER nobody (65534), HOME=/app, Prisma's client and
# engines generated at build time for that user under /app/.cache with PRISMA_OFFLINE_MODE, the
# admin UI pre-built in /var/lib/litellm/ui (LITELLM_NON_ROOT=true), so nothing is downloaded or
# written there at start. The `-database` variant runs as root (its Prisma engines live in root's home).
DEFAULT_IMAGE_REPOSITORY = "ghcr.io/berriai/litellm-non_root"
SURGE_PODS = 1  # RollingUpdate maxSurge: one extra pod during a rollout (maxUnavailable is 0)
# Where the migrations write with a read-only root filesystem (an emptyDir): LiteLLM copies its Prisma
# migrations there when LITELLM_MIGRATION_DIR is set (litellm_proxy_extras.utils: "to support
# baselining db in read-only fs").
MIGRATION_DIR = "/var/lib/litellm/migrations"
# The pods' env on top of the env file's entries: what a read-only root filesystem needs.
POD_ENV: tuple[tuple[str, str], ...] = (
    ("LITELLM_MIGRATION_DIR", MIGRATION_DIR),
    ("NPM_CONFIG_CACHE", "/tmp/.npm"),  # the image's /app/.cache/npm is read-only here
)


# Graceful shutdown (litellm 1.108.7, litellm/proxy/shutdown/graceful_shutdown_manager.py and
# proxy_cli.py): on SIGTERM uvicorn stops accepting and waits up to GRACEFUL_SHUTDOWN_TIMEOUT seconds
# (its timeout_graceful_shutdown) for open requests, then the lifespan teardown drains the in-flight
# counter (once) and closes its clients; upstream's GRACEFUL_SHUTDOWN_TEARDOWN_HEADROOM_SECONDS (10)
# is what it adds for that teardown under gunicorn. The pod's terminationGracePeriodSeconds covers
# the preStop delay + that timeout + the headroom + a margin, so SIGKILL never lands mid-request.
GRACEFUL_SHUTDOWN_ENV = "GRACEFUL_SHUTDOWN_TIMEOUT"
TEARDOWN_HEADROOM_SECONDS = 10
KILL_MARGIN_SECONDS = 5
MAX_REQUEST_WINDOW_SECONDS = 3600
# The env names the gateway sets in every pod from settings (not constants: POD_ENV).
DERIVED_POD_ENV_NAMES = (GRACEFUL_SHUTDOWN_ENV, UI_PATH_ENV)


def request_window_seconds(settings: Any) -> int:
    """The longest a request may run in the proxy: the per-attempt timeout (routing.timeout, or a
    deployment's own larger `timeout`) x (1 + routing.num_retries), rounded up. The pods' shutdown
    drain and the Ingress proxy timeouts are derived from it."""
    per_attempt = max([settings.routing.timeout, *[m.timeout for m in settings.models if m.timeout is not None]])
    return math.ceil(per_attempt * (1 + settings.routing.num_retries))


@dataclass(frozen=True)
class ShutdownPlan:
    prestop_seconds: int  # preStop sleep: endpoints and the Ingress controller stop sending first
    graceful_timeout_seconds: int  # GRACEFUL_SHUTDOWN_TIMEOUT: how long uvicorn/LiteLLM drain
    termination_grace_seconds: int  # terminationGracePeriodSeconds: before SIGKILL
    ingress_timeout_seconds: int  # proxy read/send timeouts at the Ingress


def shutdown_plan(settings: Any) -> ShutdownPlan:
    k = settings.kubernetes
    window = request_window_seconds(settings)
    return ShutdownPlan(
        prestop_seconds=k.prestop_seconds,
        graceful_timeout_seconds=window,
        termination_grace_seconds=k.prestop_seconds + window + TEARDOWN_HEADROOM_SECONDS + KILL_MARGIN_SECONDS,
        # LiteLLM answers (a result or its own timeout error) before the controller gives up
        ingress_timeout_seconds=window + KILL_MARGIN_SECONDS,
    )


def default_image_tag(version: str) -> str:
    return f"main-v{version}"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


# Kubernetes resource quantities (k8s.io/apimachinery/pkg/api/resource: <signedNumber><suffix>, the
# suffix a binary SI (Ki..Ei), a decimal SI (n u m "" k M G T P E) or a decimal exponent).
_QUANTITY = re.compile(r"(?P<number>[0-9]+(\.[0-9]*)?|\.[0-9]+)(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?")
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1), "k": Decimal(10**3),
            "M": Decimal(10**6), "G": Decimal(10**9), "T": Decimal(10**12), "P": Decimal(10**15), "E": Decimal(10**18)}


def parse_quantity(value: str) -> Decimal:
    """A Kubernetes quantity's value ('1.5Gi' -> 1610612736, '500m' -> 0.5); ValueError otherwise."""
    m = _QUANTITY.fullmatch(value)
    if not m:
        raise ValueError(value)
    number, suffix = Decimal(m.group("number")), m.group("suffix") or ""
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    if suffix in _DECIMAL:
        return number * _DECIMAL[suffix]
    return number * (Decimal(10) ** int(suffix[1:]))


def _cpu(value: Optional[str]) -> Optional[str]:
    if value is None:
        return value
    try:
        amount = parse_quantity(value)
    except ValueError:
        raise ValueError("expected a CPU quantity such as '500m', '0.5' or '2'") from None
    if amount < Decimal("0.001"):
        raise ValueError("a CPU quantity below 1m (0.001 CPU) is not schedulable; e.g. '100m'")
    return value


def _memory(value: Optional[str]) -> Optional[str]:
    if value is None:
        return value
    try:
        amount = parse_quantity(value)
    except ValueError:
        raise ValueError("expected a memory quantity such as '512Mi', '1.5Gi' or '2G'") from None
    if amount < 2**20:
        raise ValueError("a memory quantity below 1Mi is not a proxy's memory (a lower-case 'm' is milli-bytes: write 'Mi')")
    return value


class KubernetesResources(_Strict):
    """Container requests/limits (the HPA's CPU target is a percentage of `cpu_request`)."""

    cpu_request: str = "500m"
    memory_request: str = "1Gi"
    cpu_limit: Optional[str] = None  # no CPU limit by default: throttling a proxy adds latency
    memory_limit: str = "2Gi"

    @field_validator("cpu_request", "cpu_limit")
    @classmethod
    def _cpu_ok(cls, value: Optional[str]) -> Optional[str]:
        return _cpu(value)

    @field_validator("memory_request", "memory_limit")
    @classmethod
    def _memory_ok(cls, value: Optional[str]) -> Optional[str]:
        return _memory(value)

    @model_validator(mode="after")
    def _requests_within_limits(self) -> "KubernetesResources":
        # the API server refuses a request above its limit (the pod is never created)
        if self.cpu_limit is not None and parse_quantity(self.cpu_request) > parse_quantity(self.cpu_limit):
            raise ValueError(f"cpu_request ({self.cpu_request}) must not exceed cpu_limit ({self.cpu_limit})")
        if parse_quantity(self.memory_request) > parse_quantity(self.memory_limit):
            raise ValueError(f"memory_request ({self.memory_request}) must not exceed memory_limit ({self.memory_limit})")
        return self


# ---- names, labels, annotations (k8s.io/apimachinery/pkg/util/validation) ---------------------------

_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?")
_LABEL_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_LABEL_VALUE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?")
_SECRET_KEY = re.compile(r"[-._A-Za-z0-9]+")
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")


def _dns_label(value: str, what: str) -> str:
    if not _DNS_LABEL.fullmatch(value):
        raise ValueError(f"expected {what} (a DNS label: a-z, 0-9, '-', at most 63)")
    return value


def check_object_name(value: str) -> str:
    """A DNS-1123 subdomain: most objects' names (Secrets, ServiceAccounts, ...)."""
    if len(value) > 253 or not _SUBDOMAIN.fullmatch(value):
        raise ValueError("expected a Kubernetes object name (lower-case letters, digits, '-', '.', at most 253)")
    return value


def check_label_key(value: str) -> str:
    prefix, _, name = value.rpartition("/")
    if "/" in value and (len(prefix) > 253 or not _SUBDOMAIN.fullmatch(prefix)):
        raise ValueError(f"'{value}': the prefix of a label key is a DNS subdomain (e.g. example.com/)")
    if len(name) > 63 or not _LABEL_NAME.fullmatch(name):
        raise ValueError(f"'{value}': expected a label key name of letters, digits, '-', '_', '.' (at most 63)")
    return value


def check_label_value(value: str) -> str:
    if len(value) > 63 or not _LABEL_VALUE.fullmatch(value):
        raise ValueError(f"'{value}': expected a label value of letters, digits, '-', '_', '.' (at most 63)")
    return value


def _label_map(value: dict[str, str]) -> dict[str, str]:
    for k, v in value.items():
        check_label_key(k)
        check_label_value(v)
    return value


def _annotation_map(value: dict[str, str]) -> dict[str, str]:
    bad = sorted(k for k in value if not _ANNOTATION_KEY.fullmatch(k))
    if bad:
        raise ValueError(f"not valid annotation keys: {', '.join(bad)}")
    return value


ObjectName = Annotated[str, AfterValidator(check_object_name)]
LabelKey = Annotated[str, AfterValidator(check_label_key)]
LabelValue = Annotated[str, AfterValidator(check_label_value)]
LabelMap = Annotated[dict[str, str], AfterValidator(_label_map)]
AnnotationMap = Annotated[dict[str, str], AfterValidator(_annotation_map)]


class KubernetesImage(_Strict):
    repository: str = DEFAULT_IMAGE_REPOSITORY
    # Default main-v<litellm.version>; any tag given must name that exact release.
    tag: Optional[str] = None
    pull_policy: Literal["IfNotPresent", "Always"] = "IfNotPresent"
    # The image's content digest (`docker buildx imagetools inspect <image>:<tag>`): the reference
    # becomes <repository>:<tag>@sha256:..., so the runtime pulls exactly that content whatever the tag
    # later points at.
    digest: Optional[str] = None

    @field_validator("digest")
    @classmethod
    def _digest(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not re.fullmatch(r"sha256:[0-9a-f]{64}", value):
            raise ValueError("expected an image digest 'sha256:' followed by 64 lower-case hex digits")
        return value

    @field_validator("tag")
    @classmethod
    def _tag(cls, value: Optional[str]) -> Optional[str]:
        # The OCI tag grammar (distribution spec): [A-Za-z0-9_][A-Za-z0-9._-]{0,127}. Which release it
        # names is a cross-check with litellm.version (config.cross_checks).
        if value is not None and not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}", value):
            raise ValueError("expected an image tag of letters, digits and . _ - (at most 128) such as 'main-v1.108.7'")
        return value

    @field_validator("repository")
    @classmethod
    def _repository(cls, value: str) -> str:
        if not _IMAGE_REPOSITORY.fullmatch(value):
            raise ValueError("expected an image repository such as 'ghcr.io/berriai/litellm-non_root' (no tag)")
        return value


# ---- Ingress annotations: an allow-list (issue 16) --------------------------------------------------
# An annotation is an instruction to the Ingress controller, and some of them are code or switch the
# transport's security off: `*-snippet` injects controller configuration text (ingress-nginx
# CVE-2021-25742, CVE-2025-1974), `ssl-redirect: "false"` serves the gateway, and every consumer's
# Bearer key, over plain http. So only the annotations below pass, each with a check of its value;
# anything else is refused by name. To allow another, add it here with its value check (and to
# docs/security.md).

_NGINX = "nginx.ingress.kubernetes.io/"
_SIZE = re.compile(r"[0-9]{1,6}[kKmMgG]?")
_COUNT = re.compile(r"[1-9][0-9]{0,6}")
_ON_OFF = ("on", "off")


def _cidr_list(value: str) -> str:
    parts = [p.strip() for p in value.split(",")]
    for part in parts:
        try:
            network = ipaddress.ip_network(part, strict=True)
        except ValueError:
            raise ValueError(f"expected comma-separated CIDRs such as '10.0.0.0/8,192.168.1.0/24'; '{part}' is not one") from None
        if str(network) != part:
            raise ValueError(f"write '{part}' as '{network}' (the canonical form)")
    return value


def _one_of(*allowed: str, why: str = "") -> Any:
    def check(value: str) -> str:
        if value not in allowed:
            raise ValueError(f"expected {' or '.join(repr(a) for a in allowed)}{why}")
        return value
    return check


def _pattern(pattern: "re.Pattern[str]", what: str) -> Any:
    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(f"expected {what}")
        return value
    return check


ALLOWED_INGRESS_ANNOTATIONS: dict[str, Any] = {
    _NGINX + "proxy-body-size": _pattern(_SIZE, "a size such as '16m' (digits, then k, m or g)"),
    _NGINX + "proxy-buffering": _one_of(*_ON_OFF),
    _NGINX + "proxy-request-buffering": _one_of(*_ON_OFF),
    _NGINX + "limit-rps": _pattern(_COUNT, "a positive whole number of requests"),
    _NGINX + "limit-rpm": _pattern(_COUNT, "a positive whole number of requests"),
    _NGINX + "limit-connections": _pattern(_COUNT, "a positive whole number of connections"),
    _NGINX + "whitelist-source-range": _cidr_list,
    _NGINX + "allowlist-source-range": _cidr_list,
    _NGINX + "ssl-redirect": _one_of("true", why=": 'false' serves the gateway, and every Bearer key, over plain http"),
    _NGINX + "force-ssl-redirect": _one_of("true", why=": 'false' serves the gateway, and every Bearer key, over plain http"),
    "cert-manager.io/cluster-issuer": check_object_name,
    "cert-manager.io/issuer": check_object_name,
    "external-dns.alpha.kubernetes.io/ttl": _pattern(_COUNT, "a TTL in whole seconds"),
}
# Refused with their own reason (the generic "not on the allow-list" would not say what to do).
# ingress-nginx's proxy timeouts are derived from routing; config.cross_checks says so (with the window).
_DERIVED_BY_THE_STACK = (_NGINX + "proxy-read-timeout", _NGINX + "proxy-send-timeout")
_REFUSED_INGRESS_ANNOTATIONS = {
    "pulumi.com/skipAwait": "set kubernetes.ingress.skip_await: true instead",
    "kubernetes.io/ingress.class": "set kubernetes.ingress.class_name instead (the annotation is deprecated)",
}


def ingress_annotation_problems(annotations: dict[str, str], path: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for key, value in annotations.items():
        where = f"{path}.{key}"
        if key.endswith("-snippet") or key.endswith("-snippets"):
            out.append((where, "a snippet injects Ingress controller configuration text (ingress-nginx CVE-2021-25742, "
                               "CVE-2025-1974): refused; ask for a setting instead"))
        elif key in _DERIVED_BY_THE_STACK:
            continue
        elif key in _REFUSED_INGRESS_ANNOTATIONS:
            out.append((where, _REFUSED_INGRESS_ANNOTATIONS[key]))
        elif key not in ALLOWED_INGRESS_ANNOTATIONS:
            out.append((where, "not an annotation this stack allows (docs/security.md, 'Ingress annotations'); "
                               f"allowed: {', '.join(sorted(ALLOWED_INGRESS_ANNOTATIONS))}"))
        else:
            try:
                ALLOWED_INGRESS_ANNOTATIONS[key](value)
            except ValueError as exc:
                out.append((where, str(exc)))
    return out


class KubernetesIngress(_Strict):
    enabled: bool = True
    # The Ingress host is <litellm.service_name>.<domain> (the gateway's URL); here its class.
    class_name: Optional[str] = None
    # An existing kubernetes.io/tls Secret in the namespace; None = the stack's own certificate
    # (tls.issuer internal-ca or self-signed) in a Secret this stack creates.
    tls_secret: Optional[str] = None
    # Only the allow-listed annotations, each with its value checked (docs/security.md, "Ingress annotations").
    annotations: dict[str, str] = Field(default_factory=dict)
    # pulumi-kubernetes waits (10 min) for the controller to publish the Ingress's address; a
    # controller that never does (some do not publish a status) fails every `up`: true skips that
    # wait (the `pulumi.com/skipAwait` annotation).
    skip_await: bool = False

    @field_validator("class_name", "tls_secret")
    @classmethod
    def _name(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not re.fullmatch(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?", value):
            raise ValueError("expected a Kubernetes object name (lower-case letters, digits, '-', '.')")
        return value

    @field_validator("annotations")
    @classmethod
    def _annotation_keys(cls, value: dict[str, str]) -> dict[str, str]:
        bad = sorted(k for k in value if not _ANNOTATION_KEY.fullmatch(k))
        if bad:
            raise ValueError(f"not valid annotation keys: {', '.join(bad)}")
        problems = ingress_annotation_problems(value, "kubernetes.ingress.annotations")
        if problems:
            raise CrossCheckError(problems)
        return value


class KubernetesNetworkPolicy(_Strict):
    """NetworkPolicies for the gateway's pods (issue 16). Enforced only by a CNI that implements them
    (Calico, Cilium, ...); on one that does not they are accepted and ignored."""

    # Deny-by-default NetworkPolicies for the serving and the migration pods (docs/security.md).
    enabled: bool = True
    # Who may open connections to the proxy port: the Ingress controller's pods in its namespace.
    ingress_controller_namespace: Annotated[str, AfterValidator(lambda v: _dns_label(v, "a namespace name"))] = "ingress-nginx"
    # The labels of the Ingress controller's pods (with ingress_controller_namespace).
    ingress_controller_pod_labels: LabelMap = Field(default_factory=lambda: {"app.kubernetes.io/name": "ingress-nginx"})
    # With kubernetes.monitoring: the namespace Prometheus scrapes from (any pod there).
    prometheus_namespace: Annotated[str, AfterValidator(lambda v: _dns_label(v, "a namespace name"))] = "monitoring"
    # The cluster DNS: UDP and TCP 53 to these pods in this namespace.
    dns_namespace: Annotated[str, AfterValidator(lambda v: _dns_label(v, "a namespace name"))] = "kube-system"
    # The labels of the cluster DNS pods (with dns_namespace).
    dns_pod_labels: LabelMap = Field(default_factory=lambda: {"k8s-app": "kube-dns"})
    # A NetworkPolicy allows addresses, not names: PostgreSQL, Redis and model upstreams written as
    # IPs are allowed to that address and port only; written as names, to their port at any address,
    # unless their address range is listed here (CIDRs), which then replaces "any address".
    egress_cidrs: list[str] = Field(default_factory=list)

    @field_validator("egress_cidrs")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        for v in value:
            _cidr_list(v)
            if "," in v:
                raise ValueError(f"one CIDR per entry: '{v}'")
        return value

class KubernetesToleration(_Strict):
    key: Optional[LabelKey] = None
    operator: Literal["Equal", "Exists"] = "Equal"
    value: Optional[LabelValue] = None
    effect: Optional[Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]] = None
    toleration_seconds: Optional[Annotated[int, Field(ge=0, le=86400)]] = None

    @model_validator(mode="after")
    def _shape(self) -> "KubernetesToleration":
        # the API server's own rules (validateTolerations)
        if self.operator == "Exists" and self.value is not None:
            raise ValueError("operator Exists takes no value; remove it, or use operator Equal")
        if self.operator == "Equal" and self.key is None:
            raise ValueError("operator Equal needs a key (an empty key matches every taint only with operator Exists)")
        if self.toleration_seconds is not None and self.effect != "NoExecute":
            raise ValueError("toleration_seconds applies only to effect NoExecute")
        return self


class KubernetesSpread(_Strict):
    """One topologySpreadConstraint over the serving pods."""

    topology_key: LabelKey = "kubernetes.io/hostname"
    max_skew: Annotated[int, Field(ge=1, le=10)] = 1
    when_unsatisfiable: Literal["ScheduleAnyway", "DoNotSchedule"] = "ScheduleAnyway"


class KubernetesAffinity(_Strict):
    # nodeAffinity, required: a node label and the values it may have (e.g. {node-pool: [ai]})
    node_labels_in: dict[LabelKey, Annotated[list[LabelValue], Field(min_length=1)]] = Field(default_factory=dict)
    # podAntiAffinity among the serving pods on kubernetes.io/hostname: none, preferred or required
    # (required: at most one pod per node; a rollout then needs a spare node for the surging pod)
    pods_apart: Literal["none", "preferred", "required"] = "none"


class KubernetesServiceAccount(_Strict):
    # create: this stack creates it (with `annotations`, e.g. eks.amazonaws.com/role-arn or
    # iam.gke.io/gcp-service-account); false: an existing one by name. Its token is never mounted.
    create: bool = True
    name: Optional[ObjectName] = None  # default <service_name>
    annotations: AnnotationMap = Field(default_factory=dict)


class KubernetesSecretRef(_Strict):
    """A key of an existing Secret in the namespace (e.g. one external-secrets keeps)."""

    secret: ObjectName
    key: str

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        if len(value) > 253 or not _SECRET_KEY.fullmatch(value):
            raise ValueError("expected a Secret key of letters, digits, '-', '_', '.' (at most 253)")
        return value


class KubernetesMonitoring(_Strict):
    """A prometheus-operator PodMonitor or ServiceMonitor for /metrics/ (observability.callbacks
    prometheus). /metrics is authenticated: the scrape key (a virtual key confined to /metrics,
    config.observability.metrics_scrape_key_request) is read from an existing Secret by the operator."""

    kind: Literal["none", "PodMonitor", "ServiceMonitor"] = "none"
    interval: str = "30s"
    # labels the Prometheus object's podMonitorSelector/serviceMonitorSelector picks (e.g. release: kube-prometheus-stack)
    labels: LabelMap = Field(default_factory=dict)
    scrape_key_secret: Optional[KubernetesSecretRef] = None

    @field_validator("interval")
    @classmethod
    def _interval(cls, value: str) -> str:
        if not re.fullmatch(r"[1-9][0-9]{0,3}(s|m)", value):
            raise ValueError("expected a scrape interval such as '30s' or '1m'")
        return value


def _env_names(value: dict[str, Any]) -> dict[str, Any]:
    bad = sorted(k for k in value if not _ENV_NAME.fullmatch(k))
    if bad:
        raise ValueError(f"not valid environment variable names (A-Z, 0-9, _): {', '.join(repr(b) for b in bad)}")
    return value


class KubernetesSettings(_Strict):
    namespace: str = "litellm"
    # Create the namespace (and delete it with the stack); false = it exists already.
    create_namespace: bool = True
    # The kubeconfig context the explicit pulumi-kubernetes provider deploys to. Required for a
    # kubernetes deploy (config.cross_checks): without it the stack would follow whatever context is
    # current in the kubeconfig of whoever runs `pulumi up`.
    context: Optional[Annotated[str, AfterValidator(checks.check_word)]] = None
    replicas: Annotated[int, Field(ge=1, le=100)] = 2
    min_replicas: Annotated[int, Field(ge=1, le=100)] = 2
    max_replicas: Annotated[int, Field(ge=1, le=100)] = 4
    # HorizontalPodAutoscaler target: average CPU use as a percentage of cpu_request.
    target_cpu_utilization: Annotated[int, Field(ge=10, le=100)] = 70
    resources: KubernetesResources = Field(default_factory=KubernetesResources)
    image: KubernetesImage = Field(default_factory=KubernetesImage)
    ingress: KubernetesIngress = Field(default_factory=KubernetesIngress)
    # Who may reach the pods and whom they may reach (NetworkPolicies; docs/security.md).
    network_policy: KubernetesNetworkPolicy = Field(default_factory=KubernetesNetworkPolicy)
    # preStop delay: the pod keeps serving while its endpoint is removed from the Service and the
    # Ingress controller's upstreams (both asynchronous to the SIGTERM); then the drain.
    prestop_seconds: Annotated[int, Field(ge=0, le=120)] = 10
    # ---- scheduling (the serving pods and the migration Job's pod) ----
    node_selector: LabelMap = Field(default_factory=dict)
    tolerations: list[KubernetesToleration] = Field(default_factory=list)
    affinity: KubernetesAffinity = Field(default_factory=KubernetesAffinity)
    # Default: spread over nodes, best effort (replicas on one node all go with it); [] = none.
    topology_spread: list[KubernetesSpread] = Field(default_factory=lambda: [KubernetesSpread()])
    # ---- integration ----
    image_pull_secrets: list[ObjectName] = Field(default_factory=list)
    service_account: Optional[KubernetesServiceAccount] = None  # None: the namespace's default, no token
    pod_annotations: AnnotationMap = Field(default_factory=dict)
    # Provider keys (os.environ/NAME of the models) from existing Secrets instead of envSecrets.
    existing_secret_env: Annotated[dict[str, KubernetesSecretRef], AfterValidator(_env_names)] = Field(default_factory=dict)
    monitoring: KubernetesMonitoring = Field(default_factory=KubernetesMonitoring)
    # pod-security.kubernetes.io/enforce on a namespace this stack creates (the pods meet restricted)
    pod_security: Literal["restricted", "baseline"] = "restricted"
    # Retries of the migration Job's pod before the update fails.
    migration_backoff_limit: Annotated[int, Field(ge=0, le=10)] = 2

    @field_validator("pod_annotations")
    @classmethod
    def _own_annotations(cls, value: dict[str, str]) -> dict[str, str]:
        own = sorted(key for key in value if key.startswith("litellm-gateway/"))
        if own:
            raise ValueError(f"{', '.join(own)}: the litellm-gateway/ prefix is the gateway's own (checksums that roll the pods)")
        return value

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        if not _DNS_LABEL.fullmatch(value):
            raise ValueError("expected a namespace name (a DNS label: a-z, 0-9, '-', at most 63)")
        return value

    @model_validator(mode="after")
    def _replica_bounds(self) -> "KubernetesSettings":
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"min_replicas ({self.min_replicas}) must not exceed max_replicas ({self.max_replicas})")
        if not self.min_replicas <= self.replicas <= self.max_replicas:
            raise ValueError(
                f"replicas ({self.replicas}) must lie between min_replicas ({self.min_replicas}) "
                f"and max_replicas ({self.max_replicas})"
            )
        return self

    @property
    def autoscaled(self) -> bool:
        return self.max_replicas > self.min_replicas


def image_tag_names_release(tag: str, version: str) -> bool:
    """`main-v1.108.7`, `main-v1.108.7-stable`, `v1.108.7-stable.1` name release 1.108.7;
    `main-latest`, `main-v1.108.70` do not."""
    return re.search(rf"(^|[-_])v{re.escape(version)}($|[-_.])", tag) is not None


def image_reference(settings: Any) -> str:
    k = settings.kubernetes
    assert k is not None
    ref = f"{k.image.repository}:{k.image.tag or default_image_tag(settings.litellm.version)}"
    return f"{ref}@{k.image.digest}" if k.image.digest else ref


# ---- the names this stack gives its objects ------------------------------------------------------

_DNS_1035_LABEL = re.compile(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?")
MIGRATION_JOB_INFIX = "-migrate-"
MIGRATION_DIGEST_LENGTH = 10


def name_problems(base: str) -> list[str]:
    """What the API server would refuse of the names derived from `base` (litellm.service_name):
    a Service name is a DNS-1035 label (a letter first, at most 63); a Job's name becomes its pods'
    `job-name` label value (at most 63); the others are DNS-1123 subdomains."""
    out = []
    if not _DNS_1035_LABEL.fullmatch(base):
        out.append(f"'{base}' names the Service, which must start with a letter (a DNS-1035 label: a-z, 0-9, '-', at most 63)")
    job = len(base) + len(MIGRATION_JOB_INFIX) + MIGRATION_DIGEST_LENGTH
    if job > 63:
        out.append(f"the migration Job '{base}{MIGRATION_JOB_INFIX}<digest>' would be {job} characters; a Job name is at "
                   f"most 63 (it labels its pods): at most {63 - len(MIGRATION_JOB_INFIX) - MIGRATION_DIGEST_LENGTH} for the service name")
    return out
