"""`tls.issuer: provided`: the operator's own certificate chain and key (secret config tlsCertChain,
tlsKey), checked at config time. Pure (no Pulumi imports; `cryptography` parses the PEM).

What is checked, each with its own message (config.cross_checks names the key):
- the chain is PEM certificates, the server certificate first, each certificate issued by the next
  (issuer name = the next one's subject, and its signature verifies with the next one's key);
- the key is an unencrypted PEM private key that belongs to the first certificate;
- the first certificate names every host name the stack serves TLS on (its SANs; a `*.` wildcard
  covers one label): each host's FQDN, the service name, the front door's name;
- it is valid now (not before its notBefore, not after its notAfter).
The hosts (and the front door) then get exactly these files, as they get generated ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Optional

PEM_CERT = "-----BEGIN CERTIFICATE-----"


@dataclass(frozen=True)
class ProvidedCertificate:
    chain_pem: str  # the server certificate first, then its intermediates
    leaf_pem: str
    top_pem: str  # the last certificate of the chain (the CA bundle when tlsCaCert is not set)


def required_names(s: Any) -> list[str]:
    """The names the gateway's certificates carry (components/gateway.py), for an ssh deploy."""
    names = [s.fqdn(h.name) for h in s.litellm.hosts]
    if s.litellm.service_name or s.has_front_door:
        names.append(s.service_fqdn)
    if s.has_front_door:
        names.append(s.fqdn(s.front_door.name))
    return list(dict.fromkeys(names))


def _covers(san: str, name: str) -> bool:
    san, name = san.lower().rstrip("."), name.lower().rstrip(".")
    if san.startswith("*."):
        head, _, rest = name.partition(".")
        return bool(head) and rest == san[2:]
    return san == name


def check_provided(chain_pem: str, key_pem: str, names: list[str], now: Optional[datetime] = None) -> tuple[list[tuple[str, str]], Optional[ProvidedCertificate]]:
    """(problems as (secret key, message), the parsed material when there is none)."""
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509.oid import ExtensionOID

    now = now or datetime.now(timezone.utc)
    problems: list[tuple[str, str]] = []
    blocks = [PEM_CERT + part for part in chain_pem.split(PEM_CERT)[1:]]
    certs = []
    for i, block in enumerate(blocks):
        try:
            certs.append(x509.load_pem_x509_certificate(block.strip().encode()))
        except ValueError:
            problems.append(("tlsCertChain", f"certificate {i + 1} of the chain is not a readable PEM certificate"))
    if not blocks:
        problems.append(("tlsCertChain", "expected PEM certificates (-----BEGIN CERTIFICATE-----), the server "
                         "certificate first, then its intermediates: `pulumi config set --secret tlsCertChain < chain.pem`"))
    try:
        key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    except (ValueError, TypeError):
        key = None
        problems.append(("tlsKey", "expected the server certificate's private key as unencrypted PEM (-----BEGIN "
                         "PRIVATE KEY-----): `pulumi config set --secret tlsKey < server.key` (value not shown)"))
    if problems or not certs:
        return problems, None
    leaf = certs[0]
    subject = leaf.subject.rfc4514_string()
    pub = leaf.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if key is not None and key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) != pub:
        problems.append(("tlsKey", f"is not the key of the chain's first certificate ({subject}): expected the private "
                         "key that certificate was issued for"))
    for i, (cert, issuer) in enumerate(zip(certs, certs[1:])):
        if cert.issuer != issuer.subject:
            problems.append(("tlsCertChain", f"certificate {i + 1} ({cert.subject.rfc4514_string()}) is issued by "
                             f"{cert.issuer.rfc4514_string()}, but the next one is {issuer.subject.rfc4514_string()}: "
                             "expected the server certificate first, then each issuer in order"))
            continue
        try:
            cert.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature):
            problems.append(("tlsCertChain", f"certificate {i + 1} ({cert.subject.rfc4514_string()}) is not signed by "
                             f"the next one ({issuer.subject.rfc4514_string()})"))
    try:
        sans = leaf.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        sans = []
    missing = [n for n in names if not any(_covers(san, n) for san in sans)]
    if missing:
        problems.append(("tlsCertChain", f"the server certificate ({subject}) does not name {', '.join(missing)} "
                         f"(its DNS names: {', '.join(sans) or 'none'}); expected a certificate for every name the "
                         f"stack serves: {', '.join(names)}"))
    if now < leaf.not_valid_before_utc:
        problems.append(("tlsCertChain", f"the server certificate ({subject}) is not valid before "
                         f"{leaf.not_valid_before_utc.isoformat()}"))
    if now >= leaf.not_valid_after_utc:
        problems.append(("tlsCertChain", f"the server certificate ({subject}) expired at "
                         f"{leaf.not_valid_after_utc.isoformat()}: expected a valid one (renew it, then set tlsCertChain and tlsKey)"))
    if problems:
        return problems, None
    pems = [c.public_bytes(serialization.Encoding.PEM).decode() for c in certs]
    return [], ProvidedCertificate(chain_pem="".join(pems), leaf_pem=pems[0], top_pem=pems[-1])


def chains_to(top_pem: str, bundle_pem: str) -> bool:
    """The chain's last certificate is in the bundle, or issued (and signed) by one of its certificates."""
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature

    top = x509.load_pem_x509_certificate(top_pem.encode())
    for block in bundle_pem.split(PEM_CERT)[1:]:
        try:
            ca = x509.load_pem_x509_certificate((PEM_CERT + block).strip().encode())
        except ValueError:
            continue
        if ca == top:
            return True
        try:
            top.verify_directly_issued_by(ca)
            return True
        except (ValueError, TypeError, InvalidSignature):
            continue
    return False
