"""The `kubernetes:` section and `litellm.deploy: kubernetes` (config/kubernetes_settings.py): every
invalid combination refused with a message naming the stack, the key and what was expected."""

from __future__ import annotations

import pytest

from config.endpoints import base_url
from config.kubernetes_settings import image_tag_names_release
from config.loader import ConfigError
from offline.stack_inputs import load_stack_inputs


def kube(overrides=None, secrets=None):
    return load_stack_inputs("kube", overrides=overrides, secrets=secrets).settings()


def problems(overrides, secrets=None, stack="kube"):
    with pytest.raises(ConfigError) as raised:
        load_stack_inputs(stack, overrides=overrides, secrets=secrets).settings()
    return raised.value.problems


def test_the_committed_kube_stack_is_valid():
    s = kube()
    assert s.litellm.deploy == "kubernetes" and s.kubernetes is not None
    assert s.litellm.hosts == []
    assert s.router_shares_state  # several pods
    assert base_url(s) == "https://litellm.ai.corp.example"


def _litellm(**extra):
    base = {"deploy": "kubernetes", "version": "1.108.7", "workers": 1, "service_name": "litellm"}
    return {**base, **extra}


@pytest.mark.parametrize(
    "overrides, expected",
    [
        ({"litellm": _litellm(hosts=[{"name": "a", "address": "10.0.0.1"}])},
         "stack 'kube': litellm-gateway:litellm.hosts: does not apply to litellm.deploy: kubernetes"),
        ({"litellm": _litellm(install_dir="/opt/x")},
         "stack 'kube': litellm-gateway:litellm.install_dir: does not apply to litellm.deploy: kubernetes"),
        ({"litellm": _litellm(bind_host="127.0.0.1")},
         "stack 'kube': litellm-gateway:litellm.bind_host: does not apply"),
        ({"litellm": _litellm(workers=4)},
         "stack 'kube': litellm-gateway:litellm.workers: must be 1 for litellm.deploy: kubernetes (one worker per pod"),
        ({"ssh": {"user": "ansible"}},
         "stack 'kube': litellm-gateway:ssh: does not apply to litellm.deploy: kubernetes"),
        ({"dns": {"enabled": True, "server": "dc.ai.corp.example"}},
         "stack 'kube': litellm-gateway:dns.enabled: DNS records are written over SSH"),
        ({"redis": {"host": "redis.ai.corp.example", "user": "u", "manage_acl": True}},
         "stack 'kube': litellm-gateway:redis.manage_acl: the Redis ACL user is managed over SSH"),
        ({"redis": {"host": "127.0.0.1"}},
         "stack 'kube': litellm-gateway:redis.host: '127.0.0.1' is loopback: inside a pod"),
        ({"postgres": {"host": "localhost", "connection_limit": 100}},
         "stack 'kube': litellm-gateway:postgres.host: 'localhost' is loopback"),
        ({"tls": {"enabled": True, "issuer": "internal-ca", "cert_dir": "/etc/x"}},
         "stack 'kube': litellm-gateway:tls.cert_dir: does not apply"),
        ({"kubernetes": {"max_replicas": 12}},
         "stack 'kube': litellm-gateway:kubernetes.max_replicas: 13 pods (max_replicas 12 + 1 surging during a rollout) x "
         "database_connection_pool_limit 10 = 130 connections exceed postgres.connection_limit 100"),
        ({"redis": {"enabled": False, "host": "redis.ai.corp.example"}, "cache": {"enabled": False}},
         "stack 'kube': litellm-gateway:kubernetes.max_replicas: 6 pods share router state"),
        ({"kubernetes": {"image": {"tag": "main-latest"}}},
         "stack 'kube': litellm-gateway:kubernetes.image.tag: 'main-latest' does not name the pinned release v1.108.7"),
        ({"kubernetes": {"image": {"tag": "main-v1.108.70"}}},
         "litellm-gateway:kubernetes.image.tag: 'main-v1.108.70' does not name"),
        ({"litellm": {k: v for k, v in _litellm().items() if k != "service_name"}},
         "stack 'kube': litellm-gateway:litellm.service_name: the Ingress serves <service_name>.<domain>"),
        ({"kubernetes": {"ingress": {"enabled": False}}},
         "stack 'kube': litellm-gateway:tls.enabled: TLS ends at the Ingress"),
        ({"kubernetes": {"ingress": {"enabled": False, "class_name": "nginx"}}, "tls": {"enabled": False}},
         "stack 'kube': litellm-gateway:kubernetes.ingress: class_name, tls_secret and annotations need ingress.enabled: true"),
        ({"kubernetes": {"ingress": {"tls_secret": "wild"}}, "tls": {"enabled": False}},
         "stack 'kube': litellm-gateway:kubernetes.ingress.tls_secret: an Ingress TLS secret needs tls.enabled: true"),
        ({"kubernetes": {"context": "platform-prod", "ingress": {"enabled": False}}, "tls": {"enabled": False}},
         "stack 'kube': litellm-gateway:adminUrl: required when kubernetes.ingress is disabled"),
        ({"kubernetes": {"min_replicas": 5, "max_replicas": 3, "replicas": 4}},
         "stack 'kube': litellm-gateway:kubernetes: min_replicas (5) must not exceed max_replicas (3)"),
        ({"kubernetes": {"replicas": 9}},
         "stack 'kube': litellm-gateway:kubernetes: replicas (9) must lie between min_replicas (2) and max_replicas (4)"),
        ({"kubernetes": {"namespace": "Bad_NS"}},
         "stack 'kube': litellm-gateway:kubernetes.namespace: expected a namespace name"),
        ({"kubernetes": {"resources": {"memory_limit": "2 gigs"}}},
         "stack 'kube': litellm-gateway:kubernetes.resources.memory_limit: expected a memory quantity"),
        ({"kubernetes": {"resources": {"cpu_request": "half"}}},
         "stack 'kube': litellm-gateway:kubernetes.resources.cpu_request: expected a CPU quantity"),
        ({"kubernetes": {"image": {"repository": "ghcr.io/berriai/litellm:main-v1.108.7"}}},
         "stack 'kube': litellm-gateway:kubernetes.image.repository: expected an image repository"),
        ({"kubernetes": {"replicass": 3}},
         "stack 'kube': litellm-gateway:kubernetes.replicass: unknown key (a typo?); expected one of: affinity, context, create_namespace"),
        ({"kubernetes": {"ingress": {"annotations": {"bad key!": "x"}}}},
         "stack 'kube': litellm-gateway:kubernetes.ingress.annotations: not valid annotation keys: bad key!"),
        ({"tls": {"enabled": False}},
         "stack 'kube': litellm-gateway:tls.enabled: TLS is off at the Ingress: the providers would send the master key"),
        ({"kubernetes": None},
         "stack 'kube': litellm-gateway:kubernetes: litellm.deploy: kubernetes needs a 'kubernetes' section"),
    ],
)
def test_invalid_combinations_are_refused_naming_stack_and_key(overrides, expected):
    found = problems(overrides)
    assert any(expected in p for p in found), found


def test_kubernetes_section_on_an_ssh_stack_is_refused():
    found = problems({"kubernetes": {"namespace": "x"}}, stack="dev")
    assert any(p.startswith("stack 'dev': litellm-gateway:kubernetes: applies only to litellm.deploy: kubernetes") for p in found), found


def test_ssh_and_local_still_need_hosts():
    found = problems({"litellm": {"deploy": "ssh", "version": "1.108.7"}}, stack="dev")
    assert "stack 'dev': litellm-gateway:litellm.hosts: required for litellm.deploy: ssh (at least one host)" in found
    found = problems({"litellm": {"deploy": "local", "version": "1.108.7", "hosts": []}}, stack="local")
    assert any("litellm-gateway:litellm.hosts: List should have at least 1 item" in p for p in found), found


def test_pool_arithmetic_boundary():
    # (max_replicas 6 + 1 surging) x pool 10 = 70 connections: a limit of 70 fits, 69 does not
    kube({"postgres": {"host": "pg.ai.corp.example", "connection_limit": 70, "database": "litellm_kube", "role": "litellm_kube"}})
    found = problems({"postgres": {"host": "pg.ai.corp.example", "connection_limit": 69, "database": "litellm_kube", "role": "litellm_kube"}})
    assert any("= 70 connections exceed postgres.connection_limit 69" in p for p in found), found


def test_ssh_private_key_is_not_required_but_tls_ca_is_unless_an_existing_secret():
    inputs = load_stack_inputs("kube")
    assert "sshPrivateKey" not in inputs.placeholders
    assert {"tlsCaCert", "tlsCaKey"} <= set(inputs.placeholders)
    inputs = load_stack_inputs("kube", overrides={"kubernetes": {"ingress": {"tls_secret": "wildcard-corp"}}})
    assert not {"tlsCaCert", "tlsCaKey"} & set(inputs.placeholders)


def test_a_redis_acl_user_needs_redis_password():
    inputs = load_stack_inputs("kube", fill_missing_secrets=False)
    with pytest.raises(ConfigError) as raised:
        inputs.settings()
    assert "redisPassword" in raised.value.missing_secrets
    assert any(p.startswith("stack 'kube': litellm-gateway:redisPassword: missing required secret (is the password "
                            "of the Redis ACL user 'litellm-kube' the pods log in as)") for p in raised.value.problems)
    assert "redisPassword" not in load_stack_inputs("kube", overrides={"redis": {"host": "redis.ai.corp.example"}}).placeholders


def test_plaintext_ingress_needs_the_explicit_opt_out():
    s = kube({"tls": {"enabled": False, "allow_plaintext": True}})
    assert base_url(s) == "http://litellm.ai.corp.example"


def test_env_secrets_cannot_shadow_the_pods_own_env():
    found = problems({}, secrets={"envSecrets.LITELLM_MIGRATION_DIR": "x"})
    assert any(p.startswith("stack 'kube': litellm-gateway:envSecrets.LITELLM_MIGRATION_DIR: LITELLM_MIGRATION_DIR is set by "
                            "the gateway in every pod's environment") for p in found), found


def test_admin_url_set_allows_no_ingress():
    s = kube({"kubernetes": {"context": "platform-prod", "ingress": {"enabled": False}}, "tls": {"enabled": False}, "adminUrl": "http://127.0.0.1:14000"})
    assert not s.kubernetes.ingress.enabled


def test_image_tag_names_release():
    assert image_tag_names_release("main-v1.108.7", "1.108.7")
    assert image_tag_names_release("main-v1.108.7-stable", "1.108.7")
    assert image_tag_names_release("v1.108.7-stable.1", "1.108.7")
    assert not image_tag_names_release("main-v1.108.70", "1.108.7")
    assert not image_tag_names_release("main-latest", "1.108.7")
    assert not image_tag_names_release("1.108.7", "1.108.7")


def test_the_admin_providers_derive_the_same_url_from_raw_config():
    """components.litellm_admin.connection derives the admin URL from the raw stack config with the
    same function as base_url: for kubernetes, the Ingress host."""
    from components.litellm_admin.connection import derived_admin_url

    inputs = load_stack_inputs("kube")
    assert derived_admin_url(inputs.config) == base_url(kube()) == "https://litellm.ai.corp.example"


@pytest.mark.parametrize("overrides", [
    {"kubernetes": {"context": "platform-prod", "resources": {"cpu_request": "0.5", "memory_request": "1.5Gi", "memory_limit": "1.5Gi"}}},
    {"kubernetes": {"context": "platform-prod", "resources": {"cpu_request": "250m", "cpu_limit": "0.25", "memory_limit": "2e9"}}},
    {"litellm": {"deploy": "kubernetes", "version": "1.108.7", "workers": 1, "service_name": "l" + "x" * 43}},
    {"kubernetes": {"context": "platform-prod", "tolerations": [{"operator": "Exists"}], "topology_spread": []}},
    {"kubernetes": {"context": "platform-prod", "service_account": {"create": False, "name": "team-ai"},
                    "image": {"digest": "sha256:" + "f" * 64}}},
])
def test_the_accepted_neighbours_of_the_kubernetes_refusals(overrides):
    """Issue 19: what the new rules must not refuse (a request equal to its limit, decimal and
    exponent quantities, a 44-character service name, a toleration of every taint, ...)."""
    assert kube(overrides).kubernetes is not None
