"""Real certificates built from what a TlsCertificate component declares, and a TLS probe.

The mock engine records the inputs of the `tls:index/...` resources but signs nothing. This module
turns those recorded inputs (subject, SANs, usages, validity, key algorithm, and for issuer
internal-ca the CA certificate and key given to LocallySignedCert) into an actual CA + server
certificate with `cryptography`, the way the tls provider would, so tests can check that the
declared certificate really verifies (`openssl verify`) and that a TLS client trusting only the CA
bundle accepts the declared names and rejects others. The end-to-end TLS test of the real proxy
reuses `build_material`, `write_material` and `tls_probe`.

Mapping of pulumi-tls `allowed_uses` to X.509 (terraform-provider-tls, internal/provider/types.go):
digital_signature -> KeyUsage.digitalSignature, key_encipherment -> keyEncipherment,
cert_signing -> keyCertSign, crl_signing -> cRLSign, server_auth -> ExtendedKeyUsage serverAuth.
The provider always writes BasicConstraints (CA = is_ca_certificate).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PRIVATE_KEY = "tls:index/privateKey:PrivateKey"
SELF_SIGNED = "tls:index/selfSignedCert:SelfSignedCert"
CERT_REQUEST = "tls:index/certRequest:CertRequest"
LOCALLY_SIGNED = "tls:index/locallySignedCert:LocallySignedCert"

_KEY_USAGES = {
    "digital_signature": "digital_signature",
    "content_commitment": "content_commitment",
    "key_encipherment": "key_encipherment",
    "data_encipherment": "data_encipherment",
    "key_agreement": "key_agreement",
    "cert_signing": "key_cert_sign",
    "crl_signing": "crl_sign",
}
_EXT_USAGES = {
    "server_auth": ExtendedKeyUsageOID.SERVER_AUTH,
    "client_auth": ExtendedKeyUsageOID.CLIENT_AUTH,
}
_CURVES = {"P224": ec.SECP224R1, "P256": ec.SECP256R1, "P384": ec.SECP384R1, "P521": ec.SECP521R1}


# ------------------------------------------------------------------------------------------------
# What the component declared
# ------------------------------------------------------------------------------------------------


@dataclass
class KeySpec:
    algorithm: str
    rsa_bits: int = 2048
    ecdsa_curve: str = "P224"  # the provider's default curve

    @classmethod
    def from_inputs(cls, inputs: dict[str, Any]) -> "KeySpec":
        return cls(
            algorithm=inputs.get("algorithm", "RSA"),
            rsa_bits=int(inputs.get("rsaBits", 2048)),
            ecdsa_curve=inputs.get("ecdsaCurve", "P224"),
        )


@dataclass
class CertSpec:
    subject: dict[str, Any]
    dns_names: list[str]
    ip_addresses: list[str]
    allowed_uses: list[str]
    validity_hours: int
    early_renewal_hours: int
    is_ca: bool
    key: KeySpec


@dataclass
class DeclaredCertificate:
    server: CertSpec
    # issuer self-signed: the in-stack CA; internal-ca: None and the CA material below
    ca: Optional[CertSpec]
    ca_cert_pem: Optional[str] = None
    ca_private_key_pem: Optional[str] = None


def _one(resources: list, type_token: str) -> Any:
    found = [r for r in resources if r.type == type_token]
    if len(found) != 1:
        raise AssertionError(f"expected one {type_token}, found {len(found)}")
    return found[0]


def declared_from_resources(resources: Iterable[Any], component_urn: str) -> DeclaredCertificate:
    """Read the recorded inputs (offline.engine.RecordedResource) of a TlsCertificate's children.

    Keys are matched to what they sign through the wiring itself: a CertRequest's/SelfSignedCert's
    `privateKeyPem` input is the PrivateKey's `privateKeyPem` output (the mock engine gives every
    key a distinct one), and for an in-stack CA the LocallySignedCert's `caCertPem` must be the
    SelfSignedCert's `certPem` output.
    """
    children = [r for r in resources if r.parent == component_urn]
    signed = _one(children, LOCALLY_SIGNED)
    csr = _one(children, CERT_REQUEST)
    keys = [r for r in children if r.type == PRIVATE_KEY]
    self_signed = [r for r in children if r.type == SELF_SIGNED]
    if len(self_signed) > 1:
        raise AssertionError("more than one SelfSignedCert under one TlsCertificate")

    def key_of(resource: Any) -> KeySpec:
        pem = resource.inputs.get("privateKeyPem")
        matches = [k for k in keys if k.outputs.get("privateKeyPem") == pem]
        if len(matches) != 1:
            raise AssertionError(f"{resource.name}: its privateKeyPem is not one PrivateKey's output")
        return KeySpec.from_inputs(matches[0].inputs)

    def spec_of(cert_inputs: dict, names_from: dict, key: KeySpec) -> CertSpec:
        return CertSpec(
            subject=dict(names_from.get("subject") or {}),
            dns_names=list(names_from.get("dnsNames") or []),
            ip_addresses=list(names_from.get("ipAddresses") or []),
            allowed_uses=list(cert_inputs.get("allowedUses") or []),
            validity_hours=int(cert_inputs["validityPeriodHours"]),
            early_renewal_hours=int(cert_inputs.get("earlyRenewalHours", 0)),
            is_ca=bool(cert_inputs.get("isCaCertificate", False)),
            key=key,
        )

    server = spec_of(signed.inputs, csr.inputs, key_of(csr))
    if self_signed:
        ca_r = self_signed[0]
        if signed.inputs.get("caCertPem") != ca_r.outputs.get("certPem"):
            raise AssertionError("the server certificate is not signed by the in-stack CA")
        ca_key = key_of(ca_r)
        ca_key_outputs = [k for k in keys if k.outputs.get("privateKeyPem") == ca_r.inputs.get("privateKeyPem")]
        if signed.inputs.get("caPrivateKeyPem") != ca_key_outputs[0].outputs.get("privateKeyPem"):
            raise AssertionError("the server certificate is not signed with the in-stack CA's key")
        return DeclaredCertificate(server=server, ca=spec_of(ca_r.inputs, ca_r.inputs, ca_key))
    return DeclaredCertificate(
        server=server,
        ca=None,
        ca_cert_pem=signed.inputs.get("caCertPem"),
        ca_private_key_pem=signed.inputs.get("caPrivateKeyPem"),
    )


# ------------------------------------------------------------------------------------------------
# Building real material
# ------------------------------------------------------------------------------------------------


@dataclass
class TlsMaterial:
    ca_cert_pem: str
    ca_key_pem: str
    cert_pem: str
    key_pem: str

    @property
    def chain_pem(self) -> str:
        return self.cert_pem + self.ca_cert_pem

    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem.encode())


def generate_key(spec: KeySpec):
    if spec.algorithm == "RSA":
        return rsa.generate_private_key(public_exponent=65537, key_size=spec.rsa_bits)
    if spec.algorithm == "ECDSA":
        return ec.generate_private_key(_CURVES[spec.ecdsa_curve]())
    raise ValueError(f"unsupported key algorithm {spec.algorithm}")


def key_pem(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _name(subject: dict[str, Any]) -> x509.Name:
    attrs = []
    if subject.get("organization"):
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, subject["organization"]))
    if subject.get("commonName"):
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, subject["commonName"]))
    return x509.Name(attrs)


def _sign(spec: CertSpec, public_key, issuer_name: x509.Name, issuer_key, issuer_public_key) -> x509.Certificate:
    now = dt.datetime.now(dt.timezone.utc)
    unknown = [u for u in spec.allowed_uses if u not in _KEY_USAGES and u not in _EXT_USAGES]
    if unknown:
        raise ValueError(f"allowed_uses not modelled here: {unknown}")
    ku = {v: False for v in _KEY_USAGES.values()}
    for use in spec.allowed_uses:
        if use in _KEY_USAGES:
            ku[_KEY_USAGES[use]] = True
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(spec.subject))
        .issuer_name(issuer_name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=spec.validity_hours))
        .add_extension(x509.BasicConstraints(ca=spec.is_ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_public_key), critical=False)
    )
    if any(ku.values()):
        builder = builder.add_extension(
            x509.KeyUsage(encipher_only=False, decipher_only=False, **ku), critical=True
        )
    ext = [_EXT_USAGES[u] for u in spec.allowed_uses if u in _EXT_USAGES]
    if ext:
        builder = builder.add_extension(x509.ExtendedKeyUsage(ext), critical=False)
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in spec.dns_names]
    sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in spec.ip_addresses]
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def make_test_ca(common_name: str = "Test Internal CA", algorithm: str = "ECDSA") -> tuple[str, str]:
    """A CA standing in for an environment's internal CA: (cert PEM, key PEM)."""
    spec = CertSpec(
        subject={"commonName": common_name, "organization": "test"},
        dns_names=[],
        ip_addresses=[],
        allowed_uses=["cert_signing", "crl_signing"],
        validity_hours=24 * 365,
        early_renewal_hours=0,
        is_ca=True,
        key=KeySpec(algorithm=algorithm, ecdsa_curve="P256"),
    )
    key = generate_key(spec.key)
    cert = _sign(spec, key.public_key(), _name(spec.subject), key, key.public_key())
    return _pem(cert), key_pem(key)


def build_material(declared: DeclaredCertificate) -> TlsMaterial:
    """An actual CA (the declared in-stack one, or the given internal CA) and server certificate."""
    if declared.ca is not None:
        ca_key = generate_key(declared.ca.key)
        ca_cert = _sign(declared.ca, ca_key.public_key(), _name(declared.ca.subject), ca_key, ca_key.public_key())
    else:
        if not declared.ca_cert_pem or not declared.ca_private_key_pem:
            raise AssertionError("internal-ca: the LocallySignedCert got no CA certificate/key")
        ca_cert = x509.load_pem_x509_certificate(declared.ca_cert_pem.encode())
        ca_key = serialization.load_pem_private_key(declared.ca_private_key_pem.encode(), password=None)
    server_key = generate_key(declared.server.key)
    cert = _sign(declared.server, server_key.public_key(), ca_cert.subject, ca_key, ca_key.public_key())
    return TlsMaterial(ca_cert_pem=_pem(ca_cert), ca_key_pem=key_pem(ca_key), cert_pem=_pem(cert), key_pem=key_pem(server_key))


@dataclass
class MaterialFiles:
    ca: Path
    cert: Path
    key: Path
    chain: Path


def write_material(material: TlsMaterial, directory: Path) -> MaterialFiles:
    directory.mkdir(parents=True, exist_ok=True)
    files = MaterialFiles(
        ca=directory / "ca.pem", cert=directory / "cert.pem", key=directory / "key.pem", chain=directory / "chain.pem"
    )
    files.ca.write_text(material.ca_cert_pem)
    files.cert.write_text(material.cert_pem)
    files.key.write_text(material.key_pem)
    files.key.chmod(0o600)
    files.chain.write_text(material.chain_pem)
    return files


# ------------------------------------------------------------------------------------------------
# A TLS server on 127.0.0.1 and a client trusting only the CA bundle
# ------------------------------------------------------------------------------------------------


@dataclass
class ProbeResult:
    ok: bool
    error: Optional[BaseException] = None
    peer_sans: list = field(default_factory=list)
    reply: bytes = b""


class TlsTestServer:
    """Serves the given cert/key on 127.0.0.1 (ephemeral port) until closed; answers b"ok"."""

    def __init__(self, cert_file: Path, key_file: Path):
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(str(cert_file), str(key_file))
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            conn.settimeout(10)
            try:
                with self.context.wrap_socket(conn, server_side=True) as tls_conn:
                    tls_conn.sendall(b"ok")
            except (ssl.SSLError, OSError):
                pass  # the client refused our certificate: that is what some tests want

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.sock.close()

    def __enter__(self) -> "TlsTestServer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def tls_probe(port: int, server_hostname: str, ca_file: Path, host: str = "127.0.0.1") -> ProbeResult:
    """Connect to host:port, verifying the certificate for `server_hostname` against ca_file only."""
    context = ssl.create_default_context(cafile=str(ca_file))
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    try:
        with socket.create_connection((host, port), timeout=10) as raw:
            with context.wrap_socket(raw, server_hostname=server_hostname) as conn:
                peer = conn.getpeercert() or {}
                reply = conn.recv(16)
                return ProbeResult(ok=True, peer_sans=list(peer.get("subjectAltName", ())), reply=reply)
    except (ssl.SSLError, ssl.CertificateError, OSError) as exc:
        return ProbeResult(ok=False, error=exc)


def make_server_cert(ca_cert_pem: str, ca_key_pem: str, dns_names: list[str], *, valid_from_hours: float = -1,
                     valid_hours: float = 24 * 90, algorithm: str = "ECDSA", ip_addresses: Sequence[str] = ()) -> tuple[str, str]:
    """A server certificate for `dns_names` (and `ip_addresses`), signed by the given CA, valid from now +
    valid_from_hours for valid_hours (negative values make expired or not-yet-valid ones): (cert PEM, key PEM)."""
    ca_cert = x509.load_pem_x509_certificate(ca_cert_pem.encode())
    ca_key = serialization.load_pem_private_key(ca_key_pem.encode(), password=None)
    key = generate_key(KeySpec(algorithm=algorithm, ecdsa_curve="P256"))
    start = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=valid_from_hours)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name({"commonName": dns_names[0], "organization": "test"}))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(hours=valid_hours))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in dns_names]
                                                   + [x509.IPAddress(ipaddress.ip_address(a)) for a in ip_addresses]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    )
    return _pem(builder.sign(ca_key, hashes.SHA256())), key_pem(key)


def make_intermediate_ca(ca_cert_pem: str, ca_key_pem: str, common_name: str = "Test Intermediate CA") -> tuple[str, str]:
    """An intermediate CA signed by the given CA: (cert PEM, key PEM)."""
    ca_cert = x509.load_pem_x509_certificate(ca_cert_pem.encode())
    ca_key = serialization.load_pem_private_key(ca_key_pem.encode(), password=None)
    spec = CertSpec(subject={"commonName": common_name, "organization": "test"}, dns_names=[], ip_addresses=[],
                    allowed_uses=["cert_signing", "crl_signing"], validity_hours=24 * 365, early_renewal_hours=0,
                    is_ca=True, key=KeySpec(algorithm="ECDSA", ecdsa_curve="P256"))
    key = generate_key(spec.key)
    return _pem(_sign(spec, key.public_key(), ca_cert.subject, ca_key, ca_key.public_key())), key_pem(key)


# ------------------------------------------------------------------------------------------------
# The tls provider, for real, under the mock engine
# ------------------------------------------------------------------------------------------------


class RealTlsOutputs:
    """`outputs_for` of offline.engine.run_program/run_stack that computes the `tls:index/...`
    resources for real (a key, a CSR, a self-signed or CA-signed certificate, with `cryptography`),
    everything else as offline.engine.default_outputs does. Each result is kept per type, name and
    inputs, as the provider's state keeps it: a later program run with the same inputs gets the same
    key and certificate (nothing rolls), and changed inputs (a new CA given to LocallySignedCert) a
    new one, as the provider's replace would make. Used by the rollout rig's TLS rows."""

    def __init__(self) -> None:
        self._memo: dict[tuple[str, str, str], dict[str, Any]] = {}

    def __call__(self, type_token: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
        import json

        from offline.engine import default_outputs

        out = default_outputs(type_token, name, inputs)
        if type_token not in (PRIVATE_KEY, SELF_SIGNED, CERT_REQUEST, LOCALLY_SIGNED):
            return out
        key = (type_token, name, json.dumps(inputs, sort_keys=True, default=str))
        if key not in self._memo:
            self._memo[key] = self._compute(type_token, inputs)
        out.update(self._memo[key])
        return out

    @staticmethod
    def _spec(inputs: dict[str, Any], subject: dict[str, Any], dns_names: list[str], ips: list[str]) -> CertSpec:
        return CertSpec(subject=subject, dns_names=dns_names, ip_addresses=ips,
                        allowed_uses=list(inputs.get("allowedUses") or []),
                        validity_hours=int(inputs["validityPeriodHours"]),
                        early_renewal_hours=int(inputs.get("earlyRenewalHours", 0)),
                        is_ca=bool(inputs.get("isCaCertificate", False)), key=KeySpec(algorithm="ECDSA"))

    def _compute(self, type_token: str, inputs: dict[str, Any]) -> dict[str, Any]:
        if type_token == PRIVATE_KEY:
            k = generate_key(KeySpec.from_inputs(inputs))
            public = k.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
            return {"privateKeyPem": key_pem(k), "privateKeyPemPkcs8": key_pem(k), "publicKeyPem": public}
        if type_token == CERT_REQUEST:
            k = serialization.load_pem_private_key(inputs["privateKeyPem"].encode(), password=None)
            builder = x509.CertificateSigningRequestBuilder().subject_name(_name(dict(inputs.get("subject") or {})))
            sans: list[x509.GeneralName] = [x509.DNSName(n) for n in inputs.get("dnsNames") or []]
            sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in inputs.get("ipAddresses") or []]
            if sans:
                builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
            csr = builder.sign(k, hashes.SHA256())
            return {"certRequestPem": csr.public_bytes(serialization.Encoding.PEM).decode()}
        if type_token == SELF_SIGNED:
            k = serialization.load_pem_private_key(inputs["privateKeyPem"].encode(), password=None)
            spec = self._spec(inputs, dict(inputs.get("subject") or {}), list(inputs.get("dnsNames") or []),
                              list(inputs.get("ipAddresses") or []))
            return {"certPem": _pem(_sign(spec, k.public_key(), _name(spec.subject), k, k.public_key()))}
        # LOCALLY_SIGNED: the CSR's subject and names, signed by the CA given
        csr = x509.load_pem_x509_csr(inputs["certRequestPem"].encode())
        ca_cert = x509.load_pem_x509_certificate(inputs["caCertPem"].encode())
        ca_key = serialization.load_pem_private_key(inputs["caPrivateKeyPem"].encode(), password=None)
        try:
            san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            dns_names, ips = san.get_values_for_type(x509.DNSName), [str(a) for a in san.get_values_for_type(x509.IPAddress)]
        except x509.ExtensionNotFound:
            dns_names, ips = [], []
        attrs = {a.oid: a.value for a in csr.subject}
        subject = {"commonName": attrs.get(NameOID.COMMON_NAME), "organization": attrs.get(NameOID.ORGANIZATION_NAME)}
        spec = self._spec(inputs, subject, dns_names, ips)
        return {"certPem": _pem(_sign(spec, csr.public_key(), ca_cert.subject, ca_key, ca_key.public_key()))}
