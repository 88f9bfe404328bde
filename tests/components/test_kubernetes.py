"""LiteLLMKubernetes under Pulumi's mock engine (the real __main__.py with the `kube` stack): types,
names, parents, dependencies (the Deployment after the migration Job), the explicit provider, secrets
never in plain inputs, and each declared object equal to the pure builder's manifest."""

from __future__ import annotations

import json
from typing import Any

import pytest

from offline.engine import ProgramRun, run_stack
from offline.stack_inputs import load_stack_inputs
from rendering import kubernetes_objects as ko

COMPONENT = "litellm-gateway:kubernetes:LiteLLMKubernetes"
GATEWAY = "litellm-gateway:index:Gateway"
K8S_TYPES = {
    "namespace": "kubernetes:core/v1:Namespace",
    "secret-env": "kubernetes:core/v1:Secret",
    "secret-tls": "kubernetes:core/v1:Secret",
    "configmap": "kubernetes:core/v1:ConfigMap",
    "networkpolicy": "kubernetes:networking.k8s.io/v1:NetworkPolicy",
    "networkpolicy-migrations": "kubernetes:networking.k8s.io/v1:NetworkPolicy",
    "job-migrate": "kubernetes:batch/v1:Job",
    "deployment": "kubernetes:apps/v1:Deployment",
    "service": "kubernetes:core/v1:Service",
    "pdb": "kubernetes:policy/v1:PodDisruptionBudget",
    "hpa": "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
    "ingress": "kubernetes:networking.k8s.io/v1:Ingress",
}
RESOURCE_NAMES = {
    "namespace": "litellm-kube-k8s-namespace",
    "secret-env": "litellm-kube-k8s-secret-env",
    "secret-tls": "litellm-kube-k8s-secret-tls",
    "configmap": "litellm-kube-k8s-configmap",
    "networkpolicy": "litellm-kube-k8s-networkpolicy",
    "networkpolicy-migrations": "litellm-kube-k8s-networkpolicy-migrations",
    "job-migrate": "litellm-kube-k8s-migrate",
    "deployment": "litellm-kube-k8s-deployment",
    "service": "litellm-kube-k8s-service",
    "pdb": "litellm-kube-k8s-pdb",
    "hpa": "litellm-kube-k8s-hpa",
    "ingress": "litellm-kube-k8s-ingress",
}
SECRETS = {
    "masterKey": "sk-kube-distinctive-master-7f3a9c",
    "saltKey": "salt-kube-distinctive-51b2e8",
    "postgresAdminPassword": "pg-admin-distinctive-90d1",
    "redisPassword": "redis-distinctive-77ac02",
    "tlsCaKey": "-----BEGIN EC PRIVATE KEY-----\nkube-distinctive-ca-key\n-----END EC PRIVATE KEY-----\n",
    "envSecrets.OPENAI_API_KEY": "sk-openai-distinctive-0c4d1e2f",
}


@pytest.fixture(scope="module")
def kube() -> ProgramRun:
    return run_stack("kube", secrets=SECRETS)


def _ints(value: Any) -> Any:
    """The mock engine's wire form carries numbers as floats; the builders write ints."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_ints(v) for v in value]
    return value


def _object(run: ProgramRun, stem: str):
    return run.one(K8S_TYPES[stem], RESOURCE_NAMES[stem])


def test_every_object_is_a_pulumi_kubernetes_resource_under_the_component(kube):
    component = kube.one(COMPONENT)
    assert component.name == "litellm-kube-k8s"
    assert kube.by_urn(component.parent).type == GATEWAY
    declared = sorted((r.type, r.name) for r in kube.resources if r.type.startswith("kubernetes:"))
    assert declared == sorted([(K8S_TYPES[s], RESOURCE_NAMES[s]) for s in K8S_TYPES])
    for stem in K8S_TYPES:
        assert _object(kube, stem).parent == component.urn
    # no host, no SSH command, no DNS record, no Redis ACL script on a kubernetes stack
    assert not [r for r in kube.resources if r.type.startswith("command:") or r.type in (
        "litellm-gateway:host:LiteLLMHost", "litellm-gateway:dns:DnsRecord")]


def test_each_object_is_the_builders_manifest(kube):
    settings = load_stack_inputs("kube", secrets=SECRETS).settings()
    expected = ko.kubernetes_manifests(settings)
    assert set(expected) == set(K8S_TYPES)
    for stem, manifest in expected.items():
        inputs = _ints(_object(kube, stem).inputs)
        assert inputs["apiVersion"] == manifest["apiVersion"] and inputs["kind"] == manifest["kind"]
        assert inputs["metadata"] == manifest["metadata"], stem
        if "spec" in manifest:
            spec = json.loads(json.dumps(inputs["spec"]))
            want = json.loads(json.dumps(manifest["spec"]))
            if stem == "deployment":  # the HMAC is computed by the component (builder: "[secret]")
                hmac_value = spec["template"]["metadata"]["annotations"].pop("litellm-gateway/secrets-hmac")
                want["template"]["metadata"]["annotations"].pop("litellm-gateway/secrets-hmac")
                assert len(hmac_value) == 64 and int(hmac_value, 16) >= 0
            assert spec == want, stem
        if stem == "configmap":
            assert inputs["data"] == manifest["data"]
        if stem.startswith("secret-"):
            assert sorted(inputs["stringData"]) == sorted(manifest["stringData"])
            assert inputs["type"] == manifest["type"]


def test_the_deployment_waits_for_the_migration_job(kube):
    job, deployment = _object(kube, "job-migrate"), _object(kube, "deployment")
    assert job.urn in deployment.depends_on
    assert job.delete_before_replace is True  # immutable pod template, fixed name
    for stem in ("secret-env", "configmap"):
        assert _object(kube, stem).urn in job.depends_on
        assert _object(kube, stem).urn in deployment.depends_on
    assert deployment.urn in _object(kube, "hpa").depends_on
    ingress = _object(kube, "ingress")
    assert _object(kube, "secret-tls").urn in ingress.depends_on and _object(kube, "service").urn in ingress.depends_on
    ns = _object(kube, "namespace").urn
    assert all(ns in _object(kube, s).depends_on for s in ("secret-env", "secret-tls", "configmap", "service", "pdb"))
    # the HPA owns spec.replicas after creation
    assert deployment.ignore_changes == ["spec.replicas"]
    # and the objects inside the proxy wait for the whole component (the engine expands a
    # dependency on a component into its children): the Deployment and the Job among them
    for r in kube.resources:
        if r.type.startswith("pulumi-python:dynamic/litellm:"):
            for stem in ("deployment", "job-migrate", "ingress"):
                assert any(d.endswith("::" + RESOURCE_NAMES[stem]) for d in r.depends_on), (r.name, stem)


def test_explicit_provider_for_the_context_with_configmaps_and_secrets_updated_in_place(kube):
    (provider,) = kube.of_type("pulumi:providers:kubernetes")
    assert provider.inputs["context"] == "platform-prod"
    # pulumi-kubernetes 4.34 sends provider inputs as JSON strings on the wire
    assert json.loads(str(provider.inputs["enableConfigMapMutable"]).lower()) is True
    assert json.loads(str(provider.inputs["enableSecretMutable"]).lower()) is True
    for stem in K8S_TYPES:
        assert _object(kube, stem).provider.startswith(provider.urn + "::"), stem
    # in place, never delete-then-create under the fixed name
    for stem in ("configmap", "secret-env", "secret-tls"):
        assert _object(kube, stem).delete_before_replace is False, stem


def test_a_kubernetes_deploy_without_a_context_is_refused():
    from config.loader import ConfigError

    with pytest.raises(ConfigError, match=r"kubernetes\.context: required"):
        run_stack("kube", secrets=SECRETS, overrides={"kubernetes": {"max_replicas": 6}})


def test_failed_job_replaced_namespace_retained_rollout_await_sized(kube):
    job = _object(kube, "job-migrate")
    assert job.inputs["metadata"]["annotations"] == {"pulumi.com/replaceUnready": "true"}
    assert job.custom_timeouts == {"create": "20m", "update": "20m"}
    assert _object(kube, "namespace").retain_on_delete is True
    assert all(not _object(kube, s).retain_on_delete for s in K8S_TYPES if s != "namespace")
    # 6 pods (max_replicas) x an 180 s startup window each + 300 s: above the 10-minute default
    deployment = _object(kube, "deployment")
    assert deployment.custom_timeouts == {"create": "1380s", "update": "1380s"}
    assert "annotations" not in _object(kube, "ingress").inputs["metadata"] or \
        "pulumi.com/skipAwait" not in _object(kube, "ingress").inputs["metadata"]["annotations"]
    skipping = run_stack("kube", secrets=SECRETS, overrides={"kubernetes": {
        "context": "platform-prod", "max_replicas": 2, "ingress": {"class_name": "nginx", "skip_await": True}}})
    assert skipping.one(K8S_TYPES["ingress"]).inputs["metadata"]["annotations"]["pulumi.com/skipAwait"] == "true"
    assert skipping.one(K8S_TYPES["deployment"]).custom_timeouts == {"create": "660s", "update": "660s"}


def test_no_secret_in_plain_inputs(kube):
    needles = [v for v in SECRETS.values()] + ["kube-distinctive-ca-key", "MOCK PRIVATE KEY", "mock-litellm-kube-db-password"]
    assert kube.plain_inputs_carrying(needles) == []
    assert _object(kube, "secret-env").secret_inputs == ["stringData"]
    assert _object(kube, "secret-tls").secret_inputs == ["stringData"]
    deployment = _object(kube, "deployment")
    assert deployment.secret_inputs == []  # only secretKeyRefs and an HMAC
    env = _object(kube, "secret-env").inputs["stringData"]
    assert env["LITELLM_MASTER_KEY"] == SECRETS["masterKey"]
    assert env["OPENAI_API_KEY"] == SECRETS["envSecrets.OPENAI_API_KEY"]
    assert env["REDIS_PASSWORD"] == SECRETS["redisPassword"]
    assert env["DATABASE_URL"].startswith("postgresql://litellm_kube:")


def _hmac(run: ProgramRun) -> str:
    return _object(run, "deployment").inputs["spec"]["template"]["metadata"]["annotations"]["litellm-gateway/secrets-hmac"]


def _config_sum(run: ProgramRun) -> str:
    return _object(run, "deployment").inputs["spec"]["template"]["metadata"]["annotations"]["litellm-gateway/config-sha256"]


def test_checksums_roll_the_pods_exactly_when_config_or_a_secret_changes(kube):
    same = run_stack("kube", secrets=SECRETS)
    assert (_hmac(same), _config_sum(same)) == (_hmac(kube), _config_sum(kube))
    rotated = run_stack("kube", secrets={**SECRETS, "envSecrets.OPENAI_API_KEY": "sk-openai-rotated-11223344"})
    assert _hmac(rotated) != _hmac(kube) and _config_sum(rotated) == _config_sum(kube)
    routed = run_stack("kube", secrets=SECRETS, overrides={"routing": {"num_retries": 4}})
    assert _hmac(routed) == _hmac(kube) and _config_sum(routed) != _config_sum(kube)
    scaled = run_stack("kube", secrets=SECRETS, overrides={"kubernetes": {"context": "platform-prod", "max_replicas": 5}})
    assert (_hmac(scaled), _config_sum(scaled)) == (_hmac(kube), _config_sum(kube))


def test_ingress_certificate_and_outputs(kube):
    tls = [r for r in kube.resources if r.type == "litellm-gateway:tls:TlsCertificate"]
    assert [r.name for r in tls] == ["litellm-kube-k8s-ingress-tls"]
    assert tls[0].parent == kube.one(COMPONENT).urn
    req = kube.one("tls:index/certRequest:CertRequest")
    assert req.inputs["dnsNames"] == ["litellm.ai.corp.example"]
    assert kube.outputs["base_url"] == "https://litellm.ai.corp.example"
    assert "ca_bundle_pem" in kube.outputs
    existing = run_stack("kube", secrets=SECRETS, overrides={"kubernetes": {"context": "platform-prod", "max_replicas": 6,
                                                                            "ingress": {"class_name": "nginx", "tls_secret": "wildcard-corp"}}})
    assert not [r for r in existing.resources if r.type == "litellm-gateway:tls:TlsCertificate"]
    assert existing.one(K8S_TYPES["ingress"]).inputs["spec"]["tls"][0]["secretName"] == "wildcard-corp"


def test_preview_declares_every_object_as_an_update_does(kube):
    """`pulumi preview --diff` evaluates the program with unknown outputs (the certificate, the HMAC
    key): it must declare the same objects, so the diff shows each of them."""
    preview = run_stack("kube", secrets=SECRETS, preview=True)
    assert sorted(r.urn for r in preview.resources) == sorted(r.urn for r in kube.resources)
    assert {r.type for r in preview.resources if r.type.startswith("kubernetes:")} == set(K8S_TYPES.values())


def test_network_policies_exist_before_any_pod_of_the_stack(kube):
    """Issue 16: no pod of the stack runs unconfined, not even the first migration Job's."""
    policies = {_object(kube, stem).urn for stem in ("networkpolicy", "networkpolicy-migrations")}
    for stem in ("deployment", "job-migrate"):
        assert policies <= set(_object(kube, stem).depends_on), stem


def test_a_created_service_account_is_declared_before_the_pods():
    run = run_stack("kube", secrets=SECRETS, overrides={"kubernetes": {
        "context": "platform-prod", "max_replicas": 6,
        "service_account": {"annotations": {"iam.gke.io/gcp-service-account": "litellm@proj.iam.gserviceaccount.com"}}}})
    sa = run.one("kubernetes:core/v1:ServiceAccount", "litellm-kube-k8s-serviceaccount")
    assert sa.inputs["automountServiceAccountToken"] is False
    assert sa.inputs["metadata"]["annotations"] == {"iam.gke.io/gcp-service-account": "litellm@proj.iam.gserviceaccount.com"}
    for stem in ("deployment", "job-migrate"):
        r = run.one(K8S_TYPES[stem], RESOURCE_NAMES[stem])
        assert sa.urn in r.depends_on, stem
        assert r.inputs["spec"]["template"]["spec"]["serviceAccountName"] == "litellm"


def test_a_service_monitor_is_a_custom_resource_after_the_service():
    run = run_stack("kube", secrets=SECRETS, overrides={"kubernetes": {
        "context": "platform-prod", "max_replicas": 6,
        "monitoring": {"kind": "ServiceMonitor", "scrape_key_secret": {"secret": "litellm-scrape", "key": "token"}}}})
    monitor = run.one("kubernetes:monitoring.coreos.com/v1:ServiceMonitor", "litellm-kube-k8s-monitor")
    assert monitor.inputs["spec"]["endpoints"][0]["authorization"]["credentials"] == {"name": "litellm-scrape", "key": "token"}
    assert run.one(K8S_TYPES["service"], RESOURCE_NAMES["service"]).urn in monitor.depends_on
    assert monitor.provider.startswith(run.one("pulumi:providers:kubernetes").urn + "::")
