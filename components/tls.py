"""The LiteLLM host's server certificate, with pulumi-tls.

issuer "internal-ca": a key + CSR signed (LocallySignedCert) by the environment's CA, whose
certificate and (secret) key come from config. issuer "self-signed": the stack first makes its own
CA (PrivateKey + SelfSignedCert, is_ca_certificate, cert_signing/crl_signing) and signs with it the
same way, so consumers always trust a CA bundle, never a leaf.

Renewal: the leaf has validity_period_hours and early_renewal_hours, so `pulumi up` inside the
renewal window replaces it. An in-stack CA lives longer than any leaf it signs and renews early by
a whole leaf lifetime (+ the leaf's margin): a leaf never outlives its CA, and a CA renewal replaces
the leaf too (its ca_cert_pem changes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional

import pulumi
import pulumi_tls as tls

TYPE_TOKEN = "litellm-gateway:tls:TlsCertificate"

SERVER_USES = ["digital_signature", "key_encipherment", "server_auth"]
CA_USES = ["cert_signing", "crl_signing"]
ORGANIZATION = "litellm-gateway"
RSA_BITS = 3072
ECDSA_CURVE = "P256"
# An in-stack CA lasts at least ten years, and at least three leaf lifetimes.
MIN_CA_VALIDITY_HOURS = 24 * 365 * 10
_KEY_SECRETS = ["privateKeyPem", "privateKeyPemPkcs8", "privateKeyOpenssh"]


@dataclass
class TlsCertificateArgs:
    common_name: str
    dns_names: list[str]
    ip_addresses: list[str]
    issuer: Literal["internal-ca", "self-signed", "provided"]
    ca_cert_pem: Optional[pulumi.Input[str]]
    """internal-ca: the CA's certificate (public); provided: the CA bundle clients trust (tlsCaCert), else
    the chain's last certificate."""
    ca_private_key_pem: Optional[pulumi.Input[str]]
    """internal-ca: the CA's key (secret)."""
    validity_hours: int
    early_renewal_hours: int
    key_algorithm: Literal["RSA", "ECDSA"]
    provided_chain_pem: Optional[str] = None
    """provided: the checked chain (config.tls_provided), server certificate first; public."""
    provided_top_pem: Optional[str] = None
    """provided: the chain's last certificate."""
    provided_key_pem: Optional[pulumi.Input[str]] = None
    """provided: the server certificate's key (secret tlsKey)."""


def ca_validity_hours(validity_hours: int) -> int:
    return max(MIN_CA_VALIDITY_HOURS, 3 * validity_hours)


def ca_early_renewal_hours(validity_hours: int, early_renewal_hours: int) -> int:
    return validity_hours + early_renewal_hours


def _key_args(algorithm: str) -> dict:
    if algorithm == "RSA":
        return {"algorithm": "RSA", "rsa_bits": RSA_BITS}
    if algorithm == "ECDSA":
        return {"algorithm": "ECDSA", "ecdsa_curve": ECDSA_CURVE}
    raise ValueError(f"key_algorithm must be RSA or ECDSA, not {algorithm!r}")


def _join_pem(*parts: str) -> str:
    return "".join(p if p.endswith("\n") else p + "\n" for p in parts if p)


class TlsCertificate(pulumi.ComponentResource):
    cert_pem: pulumi.Output[str]
    private_key_pem: pulumi.Output[str]
    ca_cert_pem: pulumi.Output[str]
    chain_pem: pulumi.Output[str]

    def __init__(self, name: str, args: TlsCertificateArgs, opts: Optional[pulumi.ResourceOptions] = None):
        if args.early_renewal_hours >= args.validity_hours:
            raise ValueError(f"TlsCertificate {name}: early_renewal_hours must be below validity_hours")
        if not args.dns_names and not args.ip_addresses:
            raise ValueError(f"TlsCertificate {name}: needs at least one DNS name or IP address")
        if args.issuer not in ("internal-ca", "self-signed", "provided"):
            raise ValueError(f"TlsCertificate {name}: issuer must be internal-ca, self-signed or provided")
        if args.issuer == "provided":
            if not args.provided_chain_pem or not args.provided_top_pem or args.provided_key_pem is None:
                raise ValueError(f"TlsCertificate {name}: issuer provided needs the chain (tlsCertChain) and key (tlsKey)")
            # Nothing to generate: the operator's files, delivered as generated ones are. The chain
            # (server certificate + intermediates) is what the server presents; it is public.
            super().__init__(TYPE_TOKEN, name, None, opts)
            self.cert_pem = pulumi.Output.from_input(args.provided_chain_pem)
            self.private_key_pem = pulumi.Output.secret(args.provided_key_pem)
            self.ca_cert_pem = pulumi.Output.from_input(args.ca_cert_pem or args.provided_top_pem)
            self.chain_pem = pulumi.Output.from_input(args.provided_chain_pem)
            self.register_outputs({"cert_pem": self.cert_pem, "private_key_pem": self.private_key_pem,
                                   "ca_cert_pem": self.ca_cert_pem, "chain_pem": self.chain_pem})
            return
        if args.issuer == "internal-ca" and (args.ca_cert_pem is None or args.ca_private_key_pem is None):
            raise ValueError(
                f"TlsCertificate {name}: issuer internal-ca needs the CA certificate (tlsCaCert) "
                "and the CA key (secret tlsCaKey)"
            )
        key_args = _key_args(args.key_algorithm)
        super().__init__(TYPE_TOKEN, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        key_opts = pulumi.ResourceOptions(parent=self, additional_secret_outputs=_KEY_SECRETS)

        if args.issuer == "self-signed":
            ca_key = tls.PrivateKey(f"{name}-ca-key", **key_args, opts=key_opts)
            ca_cert = tls.SelfSignedCert(
                f"{name}-ca",
                private_key_pem=ca_key.private_key_pem,
                subject=tls.SelfSignedCertSubjectArgs(
                    common_name=f"{args.common_name} CA", organization=ORGANIZATION
                ),
                is_ca_certificate=True,
                allowed_uses=CA_USES,
                validity_period_hours=ca_validity_hours(args.validity_hours),
                early_renewal_hours=ca_early_renewal_hours(args.validity_hours, args.early_renewal_hours),
                set_subject_key_id=True,
                opts=child,
            )
            ca_cert_pem: pulumi.Output[str] = ca_cert.cert_pem
            ca_key_pem = pulumi.Output.secret(ca_key.private_key_pem)
        else:
            ca_cert_pem = pulumi.Output.from_input(args.ca_cert_pem)
            ca_key_pem = pulumi.Output.secret(args.ca_private_key_pem)

        key = tls.PrivateKey(f"{name}-key", **key_args, opts=key_opts)
        csr = tls.CertRequest(
            f"{name}-csr",
            private_key_pem=key.private_key_pem,
            subject=tls.CertRequestSubjectArgs(common_name=args.common_name, organization=ORGANIZATION),
            dns_names=list(args.dns_names),
            ip_addresses=list(args.ip_addresses),
            opts=child,
        )
        cert = tls.LocallySignedCert(
            f"{name}-cert",
            cert_request_pem=csr.cert_request_pem,
            ca_cert_pem=ca_cert_pem,
            ca_private_key_pem=ca_key_pem,
            allowed_uses=SERVER_USES,
            validity_period_hours=args.validity_hours,
            early_renewal_hours=args.early_renewal_hours,
            set_subject_key_id=True,
            opts=child,
        )

        self.cert_pem = cert.cert_pem
        self.private_key_pem = pulumi.Output.secret(key.private_key_pem)
        self.ca_cert_pem = ca_cert_pem
        self.chain_pem = pulumi.Output.all(cert.cert_pem, ca_cert_pem).apply(lambda p: _join_pem(*p))
        self.register_outputs(
            {
                "cert_pem": self.cert_pem,
                "private_key_pem": self.private_key_pem,
                "ca_cert_pem": self.ca_cert_pem,
                "chain_pem": self.chain_pem,
            }
        )
