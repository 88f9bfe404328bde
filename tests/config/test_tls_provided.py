"""`tls.issuer: provided` (issue 20): the operator's certificate chain and key as secret config,
checked at config time (names, expiry, key, chain order, the CA clients trust), then delivered to
every host and the front door as generated certificates are. Certificates made here by
tests/support/tls_material.py."""

from __future__ import annotations

from functools import lru_cache

import pytest

from config.loader import ConfigError
from offline.engine import run_program
from offline.stack_inputs import load_stack_inputs
from tests.support.tls_material import make_intermediate_ca, make_server_cert, make_test_ca

DEV_NAMES = ["hx-litellm-server.hx.dev.local", "litellm.hx.dev.local"]
HA_NAMES = ["hx-litellm-server.hx.dev.local", "hx-litellm-server-2.hx.dev.local", "litellm.hx.dev.local", "hx-litellm-lb.hx.dev.local"]


@lru_cache(maxsize=None)
def _ca():
    root = make_test_ca("Acme Root CA")
    return root, make_intermediate_ca(*root, common_name="Acme Issuing CA")


def _chain(names, **kw):
    root, (inter_pem, inter_key) = _ca()
    leaf, key = make_server_cert(inter_pem, inter_key, list(names), **kw)
    return leaf + inter_pem, key


def _inputs(stack="dev", chain=None, key=None, tls=None, **secrets):
    if chain is None:
        chain, key = _chain(HA_NAMES if stack == "dev-ha" else DEV_NAMES)
    given = {"tlsCertChain": chain, "tlsKey": key, **secrets}
    return load_stack_inputs(stack, secrets={k: v for k, v in given.items() if v is not None},
                             overrides={"tls": tls or {"enabled": True, "issuer": "provided"}})


def _problems(inputs) -> list[str]:
    with pytest.raises(ConfigError) as e:
        inputs.settings()
    return [line.strip()[2:] for line in str(e.value).splitlines()[1:] if line.strip()]


@pytest.mark.parametrize("stack", ["dev", "dev-ha"])
def test_the_provided_files_reach_every_host_and_the_front_door(stack):
    chain, key = _chain(HA_NAMES if stack == "dev-ha" else DEV_NAMES)
    inputs = _inputs(stack, chain, key)
    settings = inputs.settings()
    run = run_program(stack, inputs.config, inputs.secret_keys)
    # nothing generated: no key, CSR or signed certificate
    assert not [r for r in run.resources if r.type.startswith("tls:")]
    hosts = [h.name for h in settings.litellm.hosts]
    for host in hosts:
        cert = run.one("command:remote:Command", f"litellm-{stack}-{host}-file-tls-cert")
        key_step = run.one("command:remote:Command", f"litellm-{stack}-{host}-file-tls-key")
        assert cert.inputs["stdin"] == chain  # the server certificate with its intermediate
        assert key_step.inputs["stdin"] == key and "stdin" in key_step.secret_inputs
        assert key not in cert.inputs["create"] + key_step.inputs["create"]
    root_pem = _ca()[0][0]
    assert root_pem not in chain
    if stack == "dev-ha":
        steps = [r for r in run.resources if "frontdoor" in r.name and chain in str(r.inputs.get("stdin", ""))]
        assert steps, [r.name for r in run.resources if "frontdoor" in r.name]


def test_tls_ca_cert_is_what_clients_trust_when_the_chain_ends_at_an_intermediate():
    inputs = _inputs(tlsCaCert=_ca()[0][0])
    settings = inputs.settings()
    assert settings.tls_ca_cert == _ca()[0][0]
    run = run_program("dev", inputs.config, inputs.secret_keys)
    ca_step = run.one("command:remote:Command", "litellm-dev-hx-litellm-server-file-tls-ca")
    assert ca_step.inputs["stdin"] == _ca()[0][0]


def test_a_certificate_without_every_name_is_refused_naming_them():
    chain, key = _chain(["hx-litellm-server.hx.dev.local"])
    [p] = _problems(_inputs("dev", chain, key))
    assert p == ("stack 'dev': litellm-gateway:tlsCertChain: the server certificate (CN=hx-litellm-server.hx.dev.local,O=test) "
                 "does not name litellm.hx.dev.local (its DNS names: hx-litellm-server.hx.dev.local); expected a certificate "
                 "for every name the stack serves: hx-litellm-server.hx.dev.local, litellm.hx.dev.local")


def test_a_wildcard_covers_one_label():
    chain, key = _chain(["*.hx.dev.local"])
    assert _inputs("dev-ha", chain, key).settings().tls.issuer == "provided"
    chain, key = _chain(["*.dev.local"])
    [p] = _problems(_inputs("dev", chain, key))
    assert "does not name hx-litellm-server.hx.dev.local, litellm.hx.dev.local" in p


def test_an_expired_or_not_yet_valid_certificate_is_refused():
    chain, key = _chain(DEV_NAMES, valid_from_hours=-48, valid_hours=24)
    [p] = _problems(_inputs("dev", chain, key))
    assert p.startswith("stack 'dev': litellm-gateway:tlsCertChain: the server certificate (CN=hx-litellm-server.hx.dev.local,O=test) expired at ")
    assert p.endswith(": expected a valid one (renew it, then set tlsCertChain and tlsKey)")
    chain, key = _chain(DEV_NAMES, valid_from_hours=48)
    [p] = _problems(_inputs("dev", chain, key))
    assert "the server certificate (CN=hx-litellm-server.hx.dev.local,O=test) is not valid before " in p


def test_a_key_of_another_certificate_is_refused_and_never_shown():
    chain, _ = _chain(DEV_NAMES)
    _, other_key = _chain(DEV_NAMES)
    [p] = _problems(_inputs("dev", chain, other_key))
    assert p == ("stack 'dev': litellm-gateway:tlsKey: is not the key of the chain's first certificate "
                 "(CN=hx-litellm-server.hx.dev.local,O=test): expected the private key that certificate was issued for")
    [p] = _problems(_inputs("dev", chain, "not a key"))
    assert p.startswith("stack 'dev': litellm-gateway:tlsKey: expected the server certificate's private key as unencrypted PEM")
    assert "not a key" not in p


def test_a_chain_out_of_order_or_not_pem_is_refused():
    leaf_and_inter, key = _chain(DEV_NAMES)
    leaf, inter = leaf_and_inter.split("-----END CERTIFICATE-----\n")[0] + "-----END CERTIFICATE-----\n", _ca()[1][0]
    problems = _problems(_inputs("dev", inter + leaf, key))  # the intermediate first: each problem named
    assert problems == [
        "stack 'dev': litellm-gateway:tlsKey: is not the key of the chain's first certificate (CN=Acme Issuing CA,O=test): "
        "expected the private key that certificate was issued for",
        "stack 'dev': litellm-gateway:tlsCertChain: certificate 1 (CN=Acme Issuing CA,O=test) is issued by CN=Acme Root CA,O=test, "
        "but the next one is CN=hx-litellm-server.hx.dev.local,O=test: expected the server certificate first, then each issuer in order",
        "stack 'dev': litellm-gateway:tlsCertChain: the server certificate (CN=Acme Issuing CA,O=test) does not name "
        "hx-litellm-server.hx.dev.local, litellm.hx.dev.local (its DNS names: none); expected a certificate for every name the "
        "stack serves: hx-litellm-server.hx.dev.local, litellm.hx.dev.local",
    ]
    problems = _problems(_inputs("dev", leaf + _ca()[0][0], key))  # the root where the intermediate belongs
    assert problems == ["stack 'dev': litellm-gateway:tlsCertChain: certificate 1 (CN=hx-litellm-server.hx.dev.local,O=test) is "
                        "issued by CN=Acme Issuing CA,O=test, but the next one is CN=Acme Root CA,O=test: expected the server "
                        "certificate first, then each issuer in order"]
    [p] = _problems(_inputs("dev", "hello", key))
    assert p.startswith("stack 'dev': litellm-gateway:tlsCertChain: expected PEM certificates (-----BEGIN CERTIFICATE-----)")


def test_a_tls_ca_cert_the_chain_does_not_lead_to_is_refused():
    [p] = _problems(_inputs(tlsCaCert=make_test_ca("Other CA")[0]))
    assert p.startswith("stack 'dev': litellm-gateway:tlsCaCert: is what clients and the admin-API providers trust, but the chain")


def test_missing_secrets_and_other_deploys_are_named():
    problems = _problems(load_stack_inputs("dev", overrides={"tls": {"enabled": True, "issuer": "provided"}}, fill_missing_secrets=False))
    assert any(p.startswith("stack 'dev': litellm-gateway:tlsCertChain: ") and "tls.issuer: provided" in p for p in problems), problems
    assert any(p.startswith("stack 'dev': litellm-gateway:tlsKey: ") for p in problems), problems
    [p] = _problems(_inputs("kube", *_chain(["litellm.hx.dev.local"])))
    assert p == ("stack 'kube': litellm-gateway:tls.issuer: 'provided' is for litellm.deploy: ssh; set "
                 "kubernetes.ingress.tls_secret to a kubernetes.io/tls Secret holding it")


@pytest.mark.slow
def test_a_server_with_the_delivered_files_verifies_for_the_service_name(tmp_path):
    """What a host serves (the delivered chain and key) verifies against the root clients trust
    (tlsCaCert), for the service name and each host's name; not for a name the stack does not have."""
    from tests.support.tls_material import TlsTestServer, tls_probe

    chain, key = _chain(HA_NAMES)
    inputs = _inputs("dev-ha", chain, key, tlsCaCert=_ca()[0][0])
    run = run_program("dev-ha", inputs.config, inputs.secret_keys)
    cert_file, key_file, ca_file = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    cert_file.write_text(run.one("command:remote:Command", "litellm-dev-ha-hx-litellm-server-file-tls-cert").inputs["stdin"])
    key_file.write_text(run.one("command:remote:Command", "litellm-dev-ha-hx-litellm-server-file-tls-key").inputs["stdin"])
    ca_file.write_text(run.one("command:remote:Command", "litellm-dev-ha-hx-litellm-server-file-tls-ca").inputs["stdin"])
    key_file.chmod(0o600)
    with TlsTestServer(cert_file, key_file) as server:
        for name in HA_NAMES:
            result = tls_probe(server.port, name, ca_file)
            assert result.ok and result.reply == b"ok", (name, result.error)
        refused = tls_probe(server.port, "other.hx.dev.local", ca_file)
        assert not refused.ok and "match" in str(refused.error).lower(), refused.error
