"""The Kubernetes manifests (rendering/kubernetes_objects.py), tested directly: every object the
`kube` stack renders validated with kubernetes-validate --strict against a pinned Kubernetes
version, the ConfigMap against the ssh target's renderer, the migration Job against the ssh
migrate step, the probes, rollout, security context and checksum annotations."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from offline.stack_inputs import load_stack_inputs
from rendering import host_scripts as hs
from rendering import kubernetes_objects as ko
from rendering.host_files import plain_env, proxy_args, secret_env_names, venv_key
from rendering.litellm_yaml import dump_yaml, render_litellm_config_yaml

# The Kubernetes version the manifests are validated against (a schema kubernetes-validate ships).
KUBERNETES_VERSION = "1.33.0"


def kube(overrides=None, secrets=None):
    return load_stack_inputs("kube", overrides=overrides, secrets=secrets).settings()


@pytest.fixture(scope="module")
def settings():
    return kube()


@pytest.fixture(scope="module")
def manifests(settings):
    return ko.kubernetes_manifests(settings)


VARIANTS = {
    "as committed": {},
    "no autoscaling, no namespace, no ingress": {
        "kubernetes": {"context": "platform-prod", "namespace": "ai-gw", "create_namespace": False, "replicas": 3, "min_replicas": 3,
                       "max_replicas": 3, "ingress": {"enabled": False}},
        "tls": {"enabled": False},
        "teams": None, "keys": None,
    },
    "existing tls secret, cpu limit, pinned tag": {
        "kubernetes": {"context": "platform-prod", "ingress": {"class_name": "traefik", "tls_secret": "wildcard-corp"},
                       "resources": {"cpu_limit": "2"}, "image": {"tag": "main-v1.108.7-stable", "pull_policy": "Always"}},
    },
    "no database": {"postgres": {"enabled": False, "host": "pg.ai.corp.example"}, "teams": None, "keys": None},
    "no network policy": {"kubernetes": {"context": "platform-prod", "network_policy": {"enabled": False}}},
    "network policy for addresses": {
        "kubernetes": {"context": "platform-prod", "network_policy": {
            "ingress_controller_namespace": "traefik", "ingress_controller_pod_labels": {"app.kubernetes.io/name": "traefik"},
            "dns_namespace": "kube-system", "dns_pod_labels": {"k8s-app": "coredns"}, "egress_cidrs": ["10.20.0.0/16", "fd00::/8"]},
            "monitoring": {"kind": "ServiceMonitor", "scrape_key_secret": {"secret": "litellm-scrape", "key": "token"}}},
        "postgres": {"host": "10.20.0.5", "port": 5433, "admin_user": "postgres", "sslmode": "require", "database": "litellm_kube",
                     "role": "litellm_kube", "connection_limit": 100},
        "observability": {"callbacks": ["prometheus"]},
    },
    "shared production cluster": {
        "kubernetes": {
            "context": "platform-prod", "max_replicas": 6, "pod_security": "baseline",
            "resources": {"cpu_request": "0.5", "cpu_limit": "2", "memory_request": "1.5Gi", "memory_limit": "2Gi"},
            "image": {"digest": "sha256:" + "0123456789abcdef" * 4},
            "ingress": {"class_name": "nginx", "skip_await": True},
            "node_selector": {"node-pool": "ai", "kubernetes.io/os": "linux"},
            "tolerations": [{"key": "dedicated", "value": "ai", "effect": "NoSchedule"},
                            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "toleration_seconds": 30}],
            "affinity": {"node_labels_in": {"topology.kubernetes.io/zone": ["eu-west-1a", "eu-west-1b"]}, "pods_apart": "preferred"},
            "topology_spread": [{}, {"topology_key": "topology.kubernetes.io/zone", "when_unsatisfiable": "DoNotSchedule"}],
            "image_pull_secrets": ["ghcr-pull"],
            "service_account": {"annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/litellm"}},
            "pod_annotations": {"prometheus.io/scrape": "false", "cluster-autoscaler.kubernetes.io/safe-to-evict": "true"},
            "existing_secret_env": {"OPENAI_API_KEY": {"secret": "llm-provider-keys", "key": "openai"}},
            "monitoring": {"kind": "PodMonitor", "labels": {"release": "kube-prometheus-stack"},
                           "scrape_key_secret": {"secret": "litellm-scrape", "key": "token"}},
        },
    },
}

# The fields of prometheus-operator's monitoring.coreos.com/v1 PodMonitor/ServiceMonitor the
# renderer writes, as its CRDs (v0.84) define them; kubernetes-validate has no schema for CRDs.
MONITOR_FIELDS = {
    "spec": {"selector", "namespaceSelector", "podMetricsEndpoints", "endpoints"},
    "endpoint": {"port", "path", "interval", "scheme", "authorization"},
    "authorization": {"type", "credentials"},
    "credentials": {"name", "key"},
}


def _validate(manifest):
    if manifest["apiVersion"] == "monitoring.coreos.com/v1":
        assert manifest["kind"] in ("PodMonitor", "ServiceMonitor")
        kubernetes_validate.validate({"apiVersion": "v1", "kind": "ConfigMap", "metadata": manifest["metadata"]},
                                     KUBERNETES_VERSION, strict=True)  # the metadata, as any object's
        spec = manifest["spec"]
        assert set(spec) <= MONITOR_FIELDS["spec"], set(spec)
        (endpoints,) = [spec[k] for k in ("podMetricsEndpoints", "endpoints") if k in spec]
        for e in endpoints:
            assert set(e) <= MONITOR_FIELDS["endpoint"] and set(e["authorization"]) <= MONITOR_FIELDS["authorization"]
            assert set(e["authorization"]["credentials"]) <= MONITOR_FIELDS["credentials"]
            assert re.fullmatch(r"(0|(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?)", e["interval"])  # the CRD's pattern, in part
        return
    kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


def _variant(name):
    overrides = dict(VARIANTS[name])
    return kube(overrides)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_manifest_passes_kubernetes_validate_strict(variant):
    s = _variant(variant)
    docs = ko.kubernetes_manifests(s)
    assert docs
    for stem, manifest in docs.items():
        # round-trip through the YAML text `make render` writes, as kubectl would read it
        loaded = yaml.safe_load(dump_yaml(manifest))
        _validate(loaded)


def test_strict_validation_can_fail(manifests):
    bad = json.loads(json.dumps(manifests["deployment"]))
    bad["spec"]["template"]["spec"]["containers"][0]["livenessprobe"] = {}  # a typo of livenessProbe
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBERNETES_VERSION, strict=True)
    bad = json.loads(json.dumps(manifests["hpa"]))
    bad["spec"]["behavior"]["scaleDown"]["policies"][0]["type"] = 3
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBERNETES_VERSION, strict=False)


@pytest.mark.slow
def test_rendered_files_pass_the_cli_strict(tmp_path):
    """`make render STACK=kube` output, checked with the kubernetes-validate command itself."""
    out = tmp_path / "build"
    subprocess.run([sys.executable, "-m", "offline.render", "kube", "--out", str(out)], check=True,
                   capture_output=True, cwd=Path(__file__).resolve().parents[2])
    files = sorted((out / "kube" / "k8s").glob("*.yaml"))
    assert [f.name for f in files] == [
        "01-namespace.yaml", "02-secret-env.yaml", "03-secret-tls.yaml", "04-configmap.yaml", "05-networkpolicy.yaml",
        "06-networkpolicy-migrations.yaml", "07-job-migrate.yaml", "08-deployment.yaml", "09-service.yaml", "10-pdb.yaml",
        "11-hpa.yaml", "12-ingress.yaml",
    ]
    cli = Path(sys.executable).parent / "kubernetes-validate"
    done = subprocess.run([str(cli), "--strict", "-k", KUBERNETES_VERSION, *map(str, files)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("passed") == len(files)
    for f in files:
        doc = yaml.safe_load(f.read_text())
        if doc["kind"] == "Secret":
            assert set(doc["stringData"].values()) == {"[secret]"}


def test_configmap_is_the_ssh_targets_config_yaml(settings, manifests):
    # plus, with the Admin UI off, the two empty files of the UI directory LITELLM_UI_PATH names
    assert manifests["configmap"]["data"] == {"config.yaml": render_litellm_config_yaml(settings), "ui-off-ready": "", "ui-off-next": ""}


def test_pod_env_is_the_env_file_plain_entries_and_secret_names(settings, manifests):
    c = manifests["deployment"]["spec"]["template"]["spec"]["containers"][0]
    plain = {e["name"]: e["value"] for e in c["env"] if "value" in e}
    # the env file's plain entries, plus what a read-only root filesystem needs
    # and the drain the shutdown plan derives from routing (120 s x (1 + 2 retries))
    assert plain == {**dict(plain_env(settings)), "LITELLM_MIGRATION_DIR": "/var/lib/litellm/migrations",
                     "NPM_CONFIG_CACHE": "/tmp/.npm", "GRACEFUL_SHUTDOWN_TIMEOUT": "360",
                     "LITELLM_UI_PATH": "/etc/litellm/litellm-ui-off"}
    assert plain["DISABLE_SCHEMA_UPDATE"] == "True"  # serving pods never migrate
    refs = [e for e in c["env"] if "valueFrom" in e]
    # the stack names a Redis ACL user, so redisPassword is required and reaches the pods
    assert [e["name"] for e in refs] == secret_env_names(settings) == ko.pod_secret_env_names(settings)
    assert "REDIS_PASSWORD" in [e["name"] for e in refs]
    assert all(e["valueFrom"]["secretKeyRef"] == {"name": "litellm-env", "key": e["name"]} for e in refs)
    assert list(manifests["secret-env"]["stringData"]) == [e["name"] for e in refs]


def test_redis_password_reaches_the_pods_only_when_set():
    no_auth = kube({"redis": {"host": "redis.ai.corp.example"}})
    assert no_auth.secrets.redis_password is None
    assert "REDIS_PASSWORD" not in ko.pod_secret_env_names(no_auth)  # as the env file leaves it out
    s = kube(secrets={"redisPassword": "r-pass-123456"})
    c = ko.deployment_manifest(s)["spec"]["template"]["spec"]["containers"][0]
    assert "REDIS_PASSWORD" in [e["name"] for e in c["env"]]
    assert ko.env_secret_manifest(s, {n: "v" for n in ko.pod_secret_env_names(s)})["stringData"]["REDIS_PASSWORD"] == "v"


def test_migration_job_runs_the_ssh_migrate_steps_command(settings, manifests):
    job = manifests["job-migrate"]
    c = job["spec"]["template"]["spec"]["containers"][0]
    argv = c["command"] + c["args"]
    assert argv == hs.migration_argv("litellm", ko.CONFIG_FILE) == ["litellm", "--config", "/etc/litellm/config.yaml", "--skip_server_startup"]
    # the ssh step runs the same argv (venv path, host config path) with the same override
    ssh = settings.model_copy(update={"litellm": settings.litellm.model_copy(update={"deploy": "ssh"})})
    script = hs.migrate_script(ssh)
    # a venv per release (rendering.host_files.venv_key)
    ssh_argv = hs.migration_argv(f"/opt/litellm/venvs/{venv_key(ssh)}/bin/litellm", "/etc/litellm/config.yaml")
    override = " ".join(f"{k}={v}" for k, v in hs.MIGRATION_ENV_OVERRIDE)
    assert f"/usr/bin/env {override} {shlex.join(ssh_argv)}" in script
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in c["env"]}
    assert env["DISABLE_SCHEMA_UPDATE"] == "false" == dict(hs.MIGRATION_ENV_OVERRIDE)["DISABLE_SCHEMA_UPDATE"]
    assert env["DATABASE_URL"] == {"secretKeyRef": {"name": "litellm-env", "key": "DATABASE_URL"}}
    # the serving pods' plain entries, and of the Secret only DATABASE_URL (no master, salt,
    # provider or Redis key in the migration pod); no drain setting (it serves nothing)
    pod = manifests["deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert [e["name"] for e in c["env"] if "valueFrom" in e] == ["DATABASE_URL"]
    assert len([e for e in pod["env"] if "valueFrom" in e]) == 5
    same = [e for e in pod["env"] if "value" in e and e["name"] not in ("DISABLE_SCHEMA_UPDATE", "GRACEFUL_SHUTDOWN_TIMEOUT", "LITELLM_UI_PATH")]
    assert [e for e in c["env"] if "value" in e and e["name"] != "DISABLE_SCHEMA_UPDATE"] == same
    assert c["image"] == pod["image"] and c["volumeMounts"] == pod["volumeMounts"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def test_migration_job_name_changes_with_release_and_database_only(settings):
    name = ko.object_names(settings).migration_job
    assert name.startswith("litellm-migrate-")
    assert ko.object_names(kube({"routing": {"num_retries": 5}})).migration_job == name
    assert ko.object_names(kube({"kubernetes": {"context": "platform-prod", "max_replicas": 5}})).migration_job == name
    assert ko.object_names(kube({"postgres": {"host": "pg2.ai.corp.example", "connection_limit": 100,
                                              "database": "litellm_kube", "role": "litellm_kube"}})).migration_job != name
    assert ko.object_names(kube({"kubernetes": {"context": "platform-prod", "image": {"tag": "main-v1.108.7-stable"}}})).migration_job != name


def test_deployment_shape(settings, manifests):
    d = manifests["deployment"]
    spec = d["spec"]
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
    pod = spec["template"]["spec"]
    c = pod["containers"][0]
    assert c["image"] == "ghcr.io/berriai/litellm-non_root:main-v1.108.7"
    assert c["command"] == ["litellm"]
    assert c["args"] == ["--config", "/etc/litellm/config.yaml", "--host", "0.0.0.0", "--port", "4000", "--num_workers", "1"]
    # the ssh unit's args, minus what a pod does not have (TLS at the Ingress), same config path
    unit = proxy_args(settings.model_copy(update={"tls": settings.tls.model_copy(update={"enabled": False})}))
    assert c["args"] == unit
    assert c["livenessProbe"]["httpGet"] == {"path": "/health/liveliness", "port": "http"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/health/readiness", "port": "http"}
    assert c["startupProbe"]["httpGet"] == {"path": "/health/readiness", "port": "http"}
    assert c["startupProbe"]["periodSeconds"] * c["startupProbe"]["failureThreshold"] >= settings.litellm.readiness_timeout_seconds
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    assert c["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}}
    writable = {m["mountPath"] for m in c["volumeMounts"] if "readOnly" not in m}
    assert writable == {"/tmp", "/var/lib/litellm/migrations"}
    assert pod["securityContext"]["runAsUser"] == 65534  # nobody: the litellm-non_root image's USER
    assert c["resources"] == {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "2Gi"}}
    ann = spec["template"]["metadata"]["annotations"]
    assert ann["litellm-gateway/config-sha256"] == ko.config_checksum(settings)
    assert ann["litellm-gateway/secrets-hmac"] == "[secret]"
    assert spec["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()


def test_config_checksum_changes_with_config_only(settings):
    base = ko.config_checksum(settings)
    assert ko.config_checksum(kube()) == base
    assert ko.config_checksum(kube({"routing": {"num_retries": 5}})) != base
    assert ko.config_checksum(kube({"kubernetes": {"context": "platform-prod", "max_replicas": 5}})) == base


def test_hpa_pdb_service_ingress(settings, manifests):
    hpa = manifests["hpa"]["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "litellm"}
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 6)
    assert set(hpa["behavior"]) == {"scaleUp", "scaleDown"}
    assert hpa["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 300
    assert manifests["pdb"]["spec"] == {"maxUnavailable": 1, "selector": {"matchLabels": ko.selector_labels(settings)},
                                        "unhealthyPodEvictionPolicy": "AlwaysAllow"}
    svc = manifests["service"]["spec"]
    assert svc["ports"] == [{"name": "http", "port": 4000, "targetPort": "http", "protocol": "TCP"}]
    ing = manifests["ingress"]["spec"]
    assert ing["ingressClassName"] == "nginx"
    assert ing["rules"][0]["host"] == "litellm.ai.corp.example"
    assert ing["tls"] == [{"hosts": ["litellm.ai.corp.example"], "secretName": "litellm-tls"}]
    # derived: the Ingress outlasts the proxy's request window (120 s x 3) by 5 s
    ann = manifests["ingress"]["metadata"]["annotations"]
    assert ann["nginx.ingress.kubernetes.io/proxy-read-timeout"] == ann["nginx.ingress.kubernetes.io/proxy-send-timeout"] == "365"
    assert ann["nginx.ingress.kubernetes.io/proxy-body-size"] == "16m"
    assert manifests["secret-tls"]["type"] == "kubernetes.io/tls"


def test_existing_tls_secret_is_referenced_not_created():
    s = _variant("existing tls secret, cpu limit, pinned tag")
    docs = ko.kubernetes_manifests(s)
    assert "secret-tls" not in docs
    assert docs["ingress"]["spec"]["tls"][0]["secretName"] == "wildcard-corp"
    c = docs["deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert c["image"].endswith(":main-v1.108.7-stable") and c["imagePullPolicy"] == "Always"
    assert c["resources"]["limits"] == {"memory": "2Gi", "cpu": "2"}


def test_fixed_size_has_no_hpa_and_no_database_has_no_job():
    docs = ko.kubernetes_manifests(_variant("no autoscaling, no namespace, no ingress"))
    assert set(docs) == {"secret-env", "configmap", "networkpolicy", "networkpolicy-migrations", "job-migrate", "deployment", "service", "pdb"}
    assert docs["deployment"]["spec"]["replicas"] == 3
    assert all(d["metadata"].get("namespace", "ai-gw") == "ai-gw" for d in docs.values())
    docs = ko.kubernetes_manifests(_variant("no database"))
    assert "job-migrate" not in docs and "networkpolicy-migrations" not in docs and "networkpolicy" in docs
    env = docs["deployment"]["spec"]["template"]["spec"]["containers"][0]["env"]
    assert "DISABLE_SCHEMA_UPDATE" not in [e["name"] for e in env] and "DATABASE_URL" not in [e["name"] for e in env]


def test_builders_take_secret_values_as_given_and_never_read_settings_secrets():
    s = kube(secrets={"masterKey": "sk-distinctive-master-0001"})
    docs = ko.kubernetes_manifests(s)
    assert "sk-distinctive-master-0001" not in json.dumps(docs)
    values = {n: f"value-of-{n}" for n in ko.pod_secret_env_names(s)}
    assert ko.env_secret_manifest(s, values)["stringData"] == values


def test_admin_ui_password_reaches_the_pods_through_the_secret_only():
    """adminUi on (issue 20): UI_PASSWORD is a key of the env Secret (review copy: "[secret]") and
    reaches the container by secretKeyRef; UI_USERNAME and DISABLE_ADMIN_UI are plain env."""
    password = "kube-ui-password-0123456789"
    s = kube(overrides={"adminUi": {"enabled": True, "username": "gateway-admin"}}, secrets={"uiPassword": password})
    review = ko.kubernetes_manifests(s)
    assert review["secret-env"]["stringData"]["UI_PASSWORD"] == "[secret]"
    env = {e["name"]: e for e in review["deployment"]["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["UI_PASSWORD"]["valueFrom"]["secretKeyRef"]["key"] == "UI_PASSWORD"
    assert env["UI_USERNAME"]["value"] == "gateway-admin" and env["DISABLE_ADMIN_UI"]["value"] == "False"
    assert password not in json.dumps(review)
    values = {n: f"v-{n}" for n in ko.pod_secret_env_names(s)} | {"UI_PASSWORD": password}
    assert ko.kubernetes_manifests(s, secret_values=values)["secret-env"]["stringData"]["UI_PASSWORD"] == password


# ---- selectors: every selector matches exactly the pods it should (issue 19) ------------------------


def _matches(selector, pod_labels):
    """A LabelSelector's matchLabels and matchExpressions (In/NotIn/Exists/DoesNotExist) against labels."""
    if not selector or not (selector.get("matchLabels") or selector.get("matchExpressions")):
        return True  # an empty selector selects everything
    if any(pod_labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for e in selector.get("matchExpressions", []):
        value, op = pod_labels.get(e["key"]), e["operator"]
        if (op == "In" and value not in e["values"]) or (op == "NotIn" and value in e["values"]) \
                or (op == "Exists" and e["key"] not in pod_labels) or (op == "DoesNotExist" and e["key"] in pod_labels):
            return False
    return True


def _pod_templates(docs):
    """Every pod the manifests make, by the owner that makes it."""
    return {stem: d["spec"]["template"]["metadata"]["labels"] for stem, d in docs.items() if d["kind"] in ("Deployment", "Job")}


def _selectors(docs):
    """Every pod selector in the manifests: the label selectors, the Service's map, and the HPA's
    (its scale target's selector: the HPA counts the pods the Deployment's selector matches)."""
    out = {}
    for stem, d in docs.items():
        if d["kind"] == "Deployment":
            out[f"{stem}.selector"] = d["spec"]["selector"]
        elif d["kind"] == "PodDisruptionBudget":
            out[f"{stem}.selector"] = d["spec"]["selector"]
        elif d["kind"] == "Service":
            out[f"{stem}.selector"] = {"matchLabels": d["spec"]["selector"]}
        elif d["kind"] == "HorizontalPodAutoscaler":
            target = next(t for t in docs.values() if t["kind"] == d["spec"]["scaleTargetRef"]["kind"]
                          and t["metadata"]["name"] == d["spec"]["scaleTargetRef"]["name"])
            out[f"{stem}.scaleTargetRef"] = target["spec"]["selector"]
        elif d["kind"] == "ServiceMonitor":
            continue  # selects Services, not pods: test_monitors_select_the_gateways_service_or_pods
        elif "selector" in d.get("spec", {}):
            out[f"{stem}.selector"] = d["spec"]["selector"]
        for i, t in enumerate(d.get("spec", {}).get("template", {}).get("spec", {}).get("topologySpreadConstraints", [])):
            out[f"{stem}.topologySpreadConstraints[{i}]"] = t["labelSelector"]
    return out


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_selector_matches_exactly_the_serving_pods(variant):
    docs = ko.kubernetes_manifests(_variant(variant))
    pods = _pod_templates(docs)
    selectors = _selectors(docs)
    assert {"deployment.selector", "service.selector", "pdb.selector"} <= set(selectors)
    if "hpa" in docs:
        assert "hpa.scaleTargetRef" in selectors
    for where, selector in selectors.items():
        matched = sorted(stem for stem, pod_labels in pods.items() if _matches(selector, pod_labels))
        # never the migration Job's pod: a completed pod counted by the PDB blocks every eviction
        assert matched == ["deployment"], (where, matched)


def test_the_job_pod_labels_can_never_match_a_serving_selector(settings, manifests):
    job_labels = manifests["job-migrate"]["spec"]["template"]["metadata"]["labels"]
    serving = ko.selector_labels(settings)
    # a key both carry with different values: no label set change to the Job pod can satisfy it
    differing = [k for k in serving if k in job_labels and job_labels[k] != serving[k]]
    assert differing == ["app.kubernetes.io/name"]
    assert job_labels["app.kubernetes.io/instance"] == serving["app.kubernetes.io/instance"]  # still findable per stack


def test_selector_matcher_can_fail():
    sel = {"matchLabels": {"a": "1"}, "matchExpressions": [{"key": "b", "operator": "In", "values": ["x"]}]}
    assert _matches(sel, {"a": "1", "b": "x"})
    assert not _matches(sel, {"a": "1", "b": "y"}) and not _matches(sel, {"a": "2", "b": "x"})


# ---- graceful shutdown, derived from routing (issue 19) -----------------------------------------------


def test_shutdown_outlasts_the_longest_request_and_the_prestop_delay(settings, manifests):
    pod = manifests["deployment"]["spec"]["template"]["spec"]
    c = pod["containers"][0]
    prestop = c["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert prestop == settings.kubernetes.prestop_seconds == 10
    env = {e["name"]: e.get("value") for e in c["env"]}
    drain = int(env["GRACEFUL_SHUTDOWN_TIMEOUT"])
    # the longest request: routing.timeout per attempt x (1 + num_retries)
    assert drain == 120 * (1 + 2) >= settings.routing.timeout
    assert pod["terminationGracePeriodSeconds"] > settings.routing.timeout + prestop
    # preStop + LiteLLM's drain + its teardown headroom (10 s) all before SIGKILL
    assert pod["terminationGracePeriodSeconds"] >= prestop + drain + 10
    ann = manifests["ingress"]["metadata"]["annotations"]
    assert int(ann["nginx.ingress.kubernetes.io/proxy-read-timeout"]) > drain


@pytest.mark.parametrize("routing,models_timeout,expect", [
    ({"timeout": 30, "num_retries": 0}, None, 30),
    ({"timeout": 30.5, "num_retries": 1}, None, 61),
    ({"timeout": 30, "num_retries": 1}, 200, 400),  # a deployment's own, larger timeout
])
def test_shutdown_follows_routing_and_deployment_timeouts(routing, models_timeout, expect):
    overrides = {"routing": {**routing, "fallbacks": {"llama3.2": ["gpt-4o"]}}}
    if models_timeout:
        s0 = kube()
        models = [m.model_dump(mode="json", exclude_none=True) for m in s0.models]
        models[2]["timeout"] = models_timeout
        overrides["models"] = models
    s = kube(overrides)
    d = ko.deployment_manifest(s)["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for e in d["containers"][0]["env"]}
    assert env["GRACEFUL_SHUTDOWN_TIMEOUT"] == str(expect)
    assert d["terminationGracePeriodSeconds"] == 10 + expect + 10 + 5
    ann = ko.ingress_manifest(s)["metadata"]["annotations"]
    assert ann["nginx.ingress.kubernetes.io/proxy-read-timeout"] == str(expect + 5)


def test_ingress_timeouts_only_for_ingress_nginx():
    s = _variant("existing tls secret, cpu limit, pinned tag")  # class traefik
    ann = ko.ingress_manifest(s)["metadata"].get("annotations", {})
    assert not [k for k in ann if k.endswith("-timeout")]


def test_pinned_litellm_reads_the_graceful_shutdown_setting():
    """The env name the pods get is the one LiteLLM 1.108.7 reads for uvicorn's graceful timeout."""
    import os

    from litellm.proxy.shutdown.graceful_shutdown_manager import GracefulShutdownManager

    from config.kubernetes_settings import GRACEFUL_SHUTDOWN_ENV, TEARDOWN_HEADROOM_SECONDS
    from litellm.constants import GRACEFUL_SHUTDOWN_TEARDOWN_HEADROOM_SECONDS

    assert TEARDOWN_HEADROOM_SECONDS == GRACEFUL_SHUTDOWN_TEARDOWN_HEADROOM_SECONDS
    old = os.environ.get(GRACEFUL_SHUTDOWN_ENV)
    os.environ[GRACEFUL_SHUTDOWN_ENV] = "360"
    try:
        assert GracefulShutdownManager.get_timeout() == 360.0
    finally:
        if old is None:
            del os.environ[GRACEFUL_SHUTDOWN_ENV]
        else:
            os.environ[GRACEFUL_SHUTDOWN_ENV] = old


# ---- scheduling and integration settings (issue 19) -------------------------------------------------


@pytest.fixture(scope="module")
def shared():
    s = _variant("shared production cluster")
    return s, ko.kubernetes_manifests(s)


def test_both_pods_land_where_the_cluster_says_pull_with_the_secret_and_link_no_services(shared):
    s, docs = shared
    for stem in ("deployment", "job-migrate"):
        pod = docs[stem]["spec"]["template"]["spec"]
        assert pod["nodeSelector"] == {"node-pool": "ai", "kubernetes.io/os": "linux"}, stem
        assert pod["tolerations"] == [
            {"operator": "Equal", "key": "dedicated", "value": "ai", "effect": "NoSchedule"},
            {"operator": "Exists", "key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "tolerationSeconds": 30}], stem
        assert pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"] == [
            {"matchExpressions": [{"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["eu-west-1a", "eu-west-1b"]}]}]
        assert pod["imagePullSecrets"] == [{"name": "ghcr-pull"}]
        assert pod["serviceAccountName"] == "litellm" and pod["automountServiceAccountToken"] is False
        assert pod["enableServiceLinks"] is False
        assert pod["containers"][0]["image"] == "ghcr.io/berriai/litellm-non_root:main-v1.108.7@sha256:" + "0123456789abcdef" * 4
    job_pod = docs["job-migrate"]["spec"]["template"]["spec"]
    assert "topologySpreadConstraints" not in job_pod and "podAntiAffinity" not in job_pod["affinity"]


def test_serving_pods_spread_over_nodes_by_default_and_as_configured(settings, manifests, shared):
    default = manifests["deployment"]["spec"]["template"]["spec"]
    assert default["topologySpreadConstraints"] == [{
        "maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway",
        "labelSelector": {"matchLabels": ko.selector_labels(settings)}, "matchLabelKeys": ["pod-template-hash"]}]
    assert default["enableServiceLinks"] is False and "affinity" not in default
    _, docs = shared
    pod = docs["deployment"]["spec"]["template"]["spec"]
    assert [(t["topologyKey"], t["whenUnsatisfiable"]) for t in pod["topologySpreadConstraints"]] == [
        ("kubernetes.io/hostname", "ScheduleAnyway"), ("topology.kubernetes.io/zone", "DoNotSchedule")]
    term = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    none = kube({"kubernetes": {"context": "platform-prod", "topology_spread": []}})
    assert "topologySpreadConstraints" not in ko.deployment_manifest(none)["spec"]["template"]["spec"]


def test_service_account_pod_annotations_and_existing_secrets(shared):
    s, docs = shared
    sa = docs["serviceaccount"]
    assert sa["automountServiceAccountToken"] is False
    assert sa["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/litellm"}
    assert list(docs)[:3] == ["namespace", "serviceaccount", "secret-env"]
    ann = docs["deployment"]["spec"]["template"]["metadata"]["annotations"]
    assert ann["cluster-autoscaler.kubernetes.io/safe-to-evict"] == "true" and "litellm-gateway/config-sha256" in ann
    env = docs["deployment"]["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "OPENAI_API_KEY", "valueFrom": {"secretKeyRef": {"name": "llm-provider-keys", "key": "openai"}}} in env
    # not in the stack's own Secret, and not in the migration pod
    assert "OPENAI_API_KEY" not in docs["secret-env"]["stringData"]
    assert "OPENAI_API_KEY" not in [e["name"] for e in docs["job-migrate"]["spec"]["template"]["spec"]["containers"][0]["env"]]
    existing = kube({"kubernetes": {"context": "platform-prod", "service_account": {"create": False, "name": "team-ai"}}})
    docs = ko.kubernetes_manifests(existing)
    assert "serviceaccount" not in docs
    assert docs["deployment"]["spec"]["template"]["spec"]["serviceAccountName"] == "team-ai"
    assert "serviceAccountName" not in ko.deployment_manifest(kube())["spec"]["template"]["spec"]


def test_namespace_pod_security_and_pdb_eviction_policy(manifests, shared):
    labels = manifests["namespace"]["metadata"]["labels"]
    assert {k: v for k, v in labels.items() if k.startswith("pod-security")} == {
        "pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/audit": "restricted"}
    assert shared[1]["namespace"]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"
    assert manifests["pdb"]["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"


def test_the_pods_meet_the_restricted_pod_security_standard(manifests):
    """The checks of PSS `restricted` (v1.33) the pods could fail, read off the rendered pods."""
    for stem in ("deployment", "job-migrate"):
        pod = manifests[stem]["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        assert not any(k in pod for k in ("hostNetwork", "hostPID", "hostIPC"))
        assert all("hostPath" not in v for v in pod["volumes"])
        for c in pod["containers"]:
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"] == {"drop": ["ALL"]}
            assert "ports" not in c or all("hostPort" not in p for p in c["ports"])


def test_generated_names_obey_the_api_servers_rules(shared):
    import re

    for variant in sorted(VARIANTS):
        docs = ko.kubernetes_manifests(_variant(variant))
        for stem, d in docs.items():
            name = d["metadata"]["name"]
            assert len(name) <= 253 and re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", name), (variant, stem, name)
            if d["kind"] in ("Service", "Job", "Namespace"):
                assert len(name) <= 63, (variant, stem, name)
            if d["kind"] == "Service":
                assert re.fullmatch(r"[a-z]([-a-z0-9]*[a-z0-9])?", name), (variant, stem, name)
    # the longest service name the settings accept still gives a Job name of at most 63
    s = kube({"litellm": {"deploy": "kubernetes", "version": "1.108.7", "workers": 1, "service_name": "a" * 44}})
    assert len(ko.object_names(s).migration_job) == 63


def test_quantities_parse_as_kubernetes_does():
    from config.kubernetes_settings import parse_quantity

    assert parse_quantity("1.5Gi") == 1.5 * 2**30 and parse_quantity("500m") == parse_quantity("0.5")
    assert parse_quantity("1e3") == parse_quantity("1k") == 1000 and parse_quantity("2G") == 2 * 10**9
    for bad in ("1.5 Gi", "Gi", "-1", "1gi", "1.5GiB", ""):
        with pytest.raises(ValueError):
            parse_quantity(bad)


def test_monitors_select_the_gateways_service_or_pods(shared):
    s, docs = shared
    pm = docs["monitor"]
    assert pm["kind"] == "PodMonitor" and pm["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert "monitor.selector" in _selectors(docs)  # and so matches exactly the serving pods (test above)
    (e,) = pm["spec"]["podMetricsEndpoints"]
    assert e == {"port": "http", "path": "/metrics/", "interval": "30s", "scheme": "http",
                 "authorization": {"type": "Bearer", "credentials": {"name": "litellm-scrape", "key": "token"}}}
    ports = docs["deployment"]["spec"]["template"]["spec"]["containers"][0]["ports"]
    assert [p["name"] for p in ports] == ["http"]
    sm_settings = kube({"kubernetes": {"context": "platform-prod", "monitoring": {
        "kind": "ServiceMonitor", "scrape_key_secret": {"secret": "litellm-scrape", "key": "token"}}}})
    docs = ko.kubernetes_manifests(sm_settings)
    sm = docs["monitor"]
    _validate(sm)
    services = [d for d in docs.values() if d["kind"] == "Service"]
    assert [d["metadata"]["name"] for d in services if _matches(sm["spec"]["selector"], d["metadata"]["labels"])] == ["litellm"]
    assert sm["spec"]["endpoints"][0]["port"] == docs["service"]["spec"]["ports"][0]["name"]
    assert "monitor" not in ko.kubernetes_manifests(kube())


# ---- NetworkPolicies (issue 16) --------------------------------------------------------------------


def test_network_policies_confine_the_serving_and_the_migration_pods(manifests):
    docs = manifests
    pods = _pod_templates(docs)
    serving, migrations = docs["networkpolicy"]["spec"], docs["networkpolicy-migrations"]["spec"]
    assert sorted(s for s, labels in pods.items() if _matches(serving["podSelector"], labels)) == ["deployment"]
    assert sorted(s for s, labels in pods.items() if _matches(migrations["podSelector"], labels)) == ["job-migrate"]
    assert serving["policyTypes"] == migrations["policyTypes"] == ["Ingress", "Egress"]
    # in: only the ingress-nginx controller's pods, only to the proxy port
    assert serving["ingress"] == [{
        "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}},
                  "podSelector": {"matchLabels": {"app.kubernetes.io/name": "ingress-nginx"}}}],
        "ports": [{"protocol": "TCP", "port": 4000}],
    }]
    assert migrations["ingress"] == []
    dns = {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                   "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
           "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}
    # out: DNS; the committed stack names its database, Redis and Ollama hosts, so only their ports
    # (a NetworkPolicy cannot name a host), plus 443 for OpenAI
    assert serving["egress"] == [dns, {"ports": [{"protocol": "TCP", "port": p} for p in (443, 5432, 6379, 11434)]}]
    assert migrations["egress"] == [dns, {"ports": [{"protocol": "TCP", "port": 5432}]}]


def test_network_policy_narrows_to_addresses_and_follows_its_settings():
    docs = ko.kubernetes_manifests(_variant("network policy for addresses"))
    serving, migrations = docs["networkpolicy"]["spec"], docs["networkpolicy-migrations"]["spec"]
    assert serving["ingress"][0]["from"][0]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "traefik"}
    assert serving["ingress"][1] == {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
                                     "ports": [{"protocol": "TCP", "port": 4000}]}
    assert serving["egress"][0]["to"][0]["podSelector"]["matchLabels"] == {"k8s-app": "coredns"}
    rules = serving["egress"][1:]
    # the database, given as an address: that address and port only
    assert {"to": [{"ipBlock": {"cidr": "10.20.0.5/32"}}], "ports": [{"protocol": "TCP", "port": 5433}]} in rules
    # named hosts (Redis, Ollama): their ports, to the listed ranges
    assert {"to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}, {"ipBlock": {"cidr": "fd00::/8"}}],
            "ports": [{"protocol": "TCP", "port": 6379}, {"protocol": "TCP", "port": 11434}]} in rules
    # a provider's public API (OpenAI): 443 anywhere
    assert {"ports": [{"protocol": "TCP", "port": 443}]} in rules
    assert migrations["egress"][1:] == [{"to": [{"ipBlock": {"cidr": "10.20.0.5/32"}}], "ports": [{"protocol": "TCP", "port": 5433}]}]
    assert "networkpolicy" not in ko.kubernetes_manifests(_variant("no network policy"))


def test_strict_validation_refuses_a_broken_network_policy(manifests):
    bad = json.loads(json.dumps(manifests["networkpolicy"]))
    bad["spec"]["egress"][0]["ports"][0]["protocol"] = 53  # not a string
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBERNETES_VERSION, strict=True)


def test_admin_ui_off_pods_get_an_empty_ui_directory_and_on_the_images(settings):
    # off (the kube stack): a ConfigMap directory with LiteLLM's "ready" marker and an empty _next/
    # (rendering.admin_ui_dirs: /ui answers 404 in the pod, tests/e2e/test_kubernetes_boot.py)
    off = ko.kubernetes_manifests(settings)
    volume = next(v for v in off["deployment"]["spec"]["template"]["spec"]["volumes"] if v["name"] == "config")
    assert {"key": "ui-off-ready", "path": "litellm-ui-off/.litellm_ui_ready"} in volume["configMap"]["items"]
    assert {"key": "ui-off-next", "path": "litellm-ui-off/_next/.keep"} in volume["configMap"]["items"]
    # on: no LITELLM_UI_PATH (the -non_root image's pre-built /var/lib/litellm/ui), no extra keys
    on_settings = settings.model_copy(update={"admin_ui": settings.admin_ui.model_copy(update={"enabled": True, "username": "ui-admin"})})
    on = ko.kubernetes_manifests(on_settings)
    env = on["deployment"]["spec"]["template"]["spec"]["containers"][0]["env"]
    assert "LITELLM_UI_PATH" not in [e["name"] for e in env]
    assert set(on["configmap"]["data"]) == {"config.yaml"}
