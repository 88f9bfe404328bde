"""TlsCertificate under Pulumi's mock engine, then the declared certificate built for real.

The mock engine signs nothing, so the second half rebuilds what the component declared (recorded
inputs of the tls:index/... resources) with `cryptography` (tests/support/tls_material.py), and
checks it with `openssl verify` and a real TLS handshake on 127.0.0.1.
"""

from __future__ import annotations

import subprocess

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from offline.engine import ProgramRun, run_program
from tests.support import tls_material as tm

TLS = "litellm-gateway:tls:TlsCertificate"
GATEWAY = "litellm-gateway:index:Gateway"

# A real CA standing in for the dev environment's internal CA (its key is the secret tlsCaKey).
CA_CERT_PEM, CA_KEY_PEM = tm.make_test_ca("HX Dev Internal CA (test)")
DNS_PASSWORD = "Zq9-dnsAdmin-uniq-4471"
SECRETS = {"dnsAdminPassword": DNS_PASSWORD, "tlsCaKey": CA_KEY_PEM, "tlsCaCert": CA_CERT_PEM}
CA_KEY_MARKER = CA_KEY_PEM.splitlines()[1]  # a line of the key's base64 body


@pytest.fixture(scope="module")
def stack_secrets() -> dict[str, dict[str, str]]:
    return {"dev": SECRETS, "local": SECRETS}


def children_types(run: ProgramRun, urn: str) -> list[str]:
    return sorted(r.type for r in run.children_of(urn))


# ------------------------------------------------------------------------------------------------
# What the stacks declare
# ------------------------------------------------------------------------------------------------


def test_dev_signs_with_the_configured_internal_ca(dev):
    cert = dev.one(TLS)
    assert cert.parent == dev.one(GATEWAY).urn
    assert children_types(dev, cert.urn) == sorted([tm.PRIVATE_KEY, tm.CERT_REQUEST, tm.LOCALLY_SIGNED])
    assert dev.of_type(tm.SELF_SIGNED) == []  # no in-stack CA
    signed = dev.one(tm.LOCALLY_SIGNED)
    assert signed.inputs["caCertPem"] == CA_CERT_PEM
    assert signed.inputs["caPrivateKeyPem"] == CA_KEY_PEM
    assert "caPrivateKeyPem" in signed.secret_inputs
    assert "caCertPem" not in signed.secret_inputs


def test_local_makes_its_own_ca(local):
    cert = local.one(TLS)
    assert children_types(local, cert.urn) == sorted(
        [tm.PRIVATE_KEY, tm.PRIVATE_KEY, tm.SELF_SIGNED, tm.CERT_REQUEST, tm.LOCALLY_SIGNED]
    )
    ca = local.one(tm.SELF_SIGNED)
    assert ca.inputs["isCaCertificate"] is True
    assert sorted(ca.inputs["allowedUses"]) == ["cert_signing", "crl_signing"]
    assert ca.inputs["validityPeriodHours"] >= local.one(tm.LOCALLY_SIGNED).inputs["validityPeriodHours"] * 3
    signed = local.one(tm.LOCALLY_SIGNED)
    assert signed.inputs["caCertPem"] == ca.outputs["certPem"]
    # a CA renewal happens a whole leaf lifetime early: a leaf never outlives its CA
    assert ca.inputs["earlyRenewalHours"] == signed.inputs["validityPeriodHours"] + signed.inputs["earlyRenewalHours"]


@pytest.mark.parametrize(
    "stack, dns_names, ips, common_name",
    [
        ("dev", ["hx-litellm-server.hx.dev.local", "hx-litellm-server", "litellm.hx.dev.local"], ["192.168.10.20"],
         "hx-litellm-server.hx.dev.local"),
        ("local", ["localhost.localhost", "localhost"], ["127.0.0.1"], "localhost"),
    ],
)
def test_sans_usages_and_validity(stack, dns_names, ips, common_name, dev, local):
    run = dev if stack == "dev" else local
    csr = run.one(tm.CERT_REQUEST)
    assert csr.inputs["dnsNames"] == dns_names
    assert csr.inputs["ipAddresses"] == ips
    assert csr.inputs["subject"]["commonName"] == common_name
    signed = run.one(tm.LOCALLY_SIGNED)
    assert sorted(signed.inputs["allowedUses"]) == ["digital_signature", "key_encipherment", "server_auth"]
    assert signed.inputs["validityPeriodHours"] == 8760
    assert signed.inputs["earlyRenewalHours"] == 720
    assert signed.inputs.get("isCaCertificate") in (None, False)


@pytest.mark.parametrize("stack", ["dev", "local"])
def test_every_child_is_parented_to_the_component(stack, dev, local):
    run = dev if stack == "dev" else local
    cert = run.one(TLS)
    tls_resources = [r for r in run.resources if r.type.startswith("tls:")]
    assert tls_resources
    for r in tls_resources:
        assert r.parent == cert.urn, f"{r.type} {r.name}"


@pytest.mark.parametrize("stack", ["dev", "local"])
def test_private_keys_are_secret_outputs(stack, dev, local):
    run = dev if stack == "dev" else local
    for key in run.of_type(tm.PRIVATE_KEY):
        assert "privateKeyPem" in key.additional_secret_outputs
    # the CSR gets the key as a secret input (so does the CA cert for an in-stack CA)
    assert "privateKeyPem" in run.one(tm.CERT_REQUEST).secret_inputs
    for ca in run.of_type(tm.SELF_SIGNED):
        assert "privateKeyPem" in ca.secret_inputs
    assert "caPrivateKeyPem" in run.one(tm.LOCALLY_SIGNED).secret_inputs


@pytest.mark.parametrize("stack", ["dev", "local"])
def test_no_secret_in_any_non_secret_input(stack, dev, local):
    run = dev if stack == "dev" else local
    # "MOCK PRIVATE KEY": the mocked tls PrivateKey output; no private key in a plain input
    assert run.plain_inputs_carrying([CA_KEY_MARKER, DNS_PASSWORD, "MOCK PRIVATE KEY"]) == []


def _component_program(issuer: str, key_algorithm: str = "ECDSA"):
    import pulumi

    from components.tls import TlsCertificate, TlsCertificateArgs

    def program():
        cert = TlsCertificate(
            "unit",
            TlsCertificateArgs(
                common_name="svc.example.test",
                dns_names=["svc.example.test", "svc"],
                ip_addresses=["10.9.8.7"],
                issuer=issuer,  # type: ignore[arg-type]
                ca_cert_pem=CA_CERT_PEM if issuer == "internal-ca" else None,
                ca_private_key_pem=pulumi.Output.secret(CA_KEY_PEM) if issuer == "internal-ca" else None,
                validity_hours=48,
                early_renewal_hours=12,
                key_algorithm=key_algorithm,  # type: ignore[arg-type]
            ),
        )
        for attr in ("cert_pem", "private_key_pem", "ca_cert_pem", "chain_pem"):
            pulumi.export(attr, getattr(cert, attr))

    return program


@pytest.mark.parametrize("issuer", ["internal-ca", "self-signed"])
def test_component_outputs(issuer):
    run = run_program("unit", {}, program=_component_program(issuer))
    assert run.secret_outputs >= {"private_key_pem"}
    assert "cert_pem" not in run.secret_outputs and "ca_cert_pem" not in run.secret_outputs
    out = run.outputs
    assert out["private_key_pem"].startswith("-----BEGIN MOCK PRIVATE KEY-----\nunit-key\n")
    assert out["cert_pem"] == run.one(tm.LOCALLY_SIGNED).outputs["certPem"]
    expected_ca = CA_CERT_PEM if issuer == "internal-ca" else run.one(tm.SELF_SIGNED).outputs["certPem"]
    assert out["ca_cert_pem"] == expected_ca
    assert out["chain_pem"] == out["cert_pem"] + expected_ca


def test_rsa_keys_and_validation():
    run = run_program("unit", {}, program=_component_program("self-signed", "RSA"))
    for key in run.of_type(tm.PRIVATE_KEY):
        assert key.inputs["algorithm"] == "RSA" and key.inputs["rsaBits"] >= 2048

    from components.tls import TlsCertificate, TlsCertificateArgs

    def bad(**kw):
        base = dict(common_name="x", dns_names=["x"], ip_addresses=[], issuer="internal-ca", ca_cert_pem=None,
                    ca_private_key_pem=None, validity_hours=48, early_renewal_hours=12, key_algorithm="ECDSA")
        base.update(kw)
        return lambda: TlsCertificate("bad", TlsCertificateArgs(**base))

    for kw, message in [
        ({}, "needs the CA certificate"),
        ({"issuer": "self-signed", "early_renewal_hours": 48}, "early_renewal_hours"),
        ({"issuer": "self-signed", "dns_names": []}, "at least one"),
        ({"issuer": "self-signed", "key_algorithm": "DSA"}, "key_algorithm"),
    ]:
        with pytest.raises(Exception, match=message):
            run_program("unit", {}, program=bad(**kw))


# ------------------------------------------------------------------------------------------------
# The declared certificate, built for real
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dev_material(dev) -> tm.TlsMaterial:
    return tm.build_material(tm.declared_from_resources(dev.resources, dev.one(TLS).urn))


@pytest.fixture(scope="module")
def local_material(local) -> tm.TlsMaterial:
    return tm.build_material(tm.declared_from_resources(local.resources, local.one(TLS).urn))


def test_built_certificate_carries_the_declared_parameters(dev_material):
    cert = dev_material.certificate()
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == [
        "hx-litellm-server.hx.dev.local", "hx-litellm-server", "litellm.hx.dev.local",
    ]
    assert [str(a) for a in sans.get_values_for_type(x509.IPAddress)] == ["192.168.10.20"]
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "hx-litellm-server.hx.dev.local"
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and ku.key_encipherment and not ku.key_cert_sign
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    hours = (cert.not_valid_after_utc - cert.not_valid_before_utc).total_seconds() / 3600
    assert 8760 <= hours <= 8760 + 1
    # signed by the configured internal CA
    assert dev_material.ca_cert_pem == CA_CERT_PEM
    assert cert.issuer == x509.load_pem_x509_certificate(CA_CERT_PEM.encode()).subject


@pytest.mark.slow
@pytest.mark.parametrize("stack", ["dev", "local"])
def test_openssl_verifies_the_chain(stack, dev_material, local_material, tmp_path):
    material = dev_material if stack == "dev" else local_material
    files = tm.write_material(material, tmp_path)
    name = "litellm.hx.dev.local" if stack == "dev" else "localhost"
    good = subprocess.run(
        ["openssl", "verify", "-CAfile", str(files.ca), "-purpose", "sslserver", "-verify_hostname", name,
         str(files.cert)],
        capture_output=True, text=True,
    )
    assert good.returncode == 0 and good.stdout.strip().endswith(": OK"), good.stdout + good.stderr
    wrong_name = subprocess.run(
        ["openssl", "verify", "-CAfile", str(files.ca), "-verify_hostname", "not-in-sans.example", str(files.cert)],
        capture_output=True, text=True,
    )
    assert wrong_name.returncode != 0
    # and against an unrelated CA it fails
    other_ca, _ = tm.make_test_ca("Unrelated CA")
    (tmp_path / "other.pem").write_text(other_ca)
    foreign = subprocess.run(
        ["openssl", "verify", "-CAfile", str(tmp_path / "other.pem"), str(files.cert)], capture_output=True, text=True
    )
    assert foreign.returncode != 0


@pytest.mark.parametrize(
    "stack, accepted, rejected",
    [
        ("local", ["localhost", "127.0.0.1"], ["not-localhost.example", "127.0.0.2"]),
        ("dev", ["hx-litellm-server.hx.dev.local", "litellm.hx.dev.local", "hx-litellm-server"],
         ["hx-postgres-server.hx.dev.local", "localhost"]),
    ],
)
def test_tls_handshake_on_loopback(stack, accepted, rejected, dev_material, local_material, tmp_path):
    material = dev_material if stack == "dev" else local_material
    files = tm.write_material(material, tmp_path)
    with tm.TlsTestServer(files.chain, files.key) as server:
        for name in accepted:
            result = tm.tls_probe(server.port, name, files.ca)
            assert result.ok, f"{name}: {result.error!r}"
            assert result.reply == b"ok"
        for name in rejected:
            result = tm.tls_probe(server.port, name, files.ca)
            assert not result.ok, f"{name} was accepted"
            assert "match" in str(result.error) or "mismatch" in str(result.error).lower(), repr(result.error)
        # a client trusting another CA refuses even the right name
        other_ca, _ = tm.make_test_ca("Unrelated CA")
        (tmp_path / "other.pem").write_text(other_ca)
        foreign = tm.tls_probe(server.port, accepted[0], tmp_path / "other.pem")
        assert not foreign.ok and "certificate verify failed" in str(foreign.error)


def test_behind_a_front_door_only_the_front_door_certificate_names_the_service():
    """Issue 16: a proxy's certificate naming the public service would let that proxy (or its stolen
    key) pass as the whole service; with one host (no front door) the host serves the name itself."""
    from offline.engine import run_stack

    def csr_names(stack: str) -> dict[str, list[str]]:
        run = run_stack(stack)
        return {r.name: r.inputs.get("dnsNames") or [] for r in run.resources if r.type == "tls:index/certRequest:CertRequest"}

    ha = csr_names("dev-ha")
    service = "litellm.hx.dev.local"
    front = [n for n in ha if "-lb-" in n]
    assert len(front) == 1 and service in ha[front[0]]
    assert all(service not in names for n, names in ha.items() if n not in front)
    single = csr_names("dev")
    assert any(service in names for names in single.values())
