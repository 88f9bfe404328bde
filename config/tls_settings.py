"""Stack settings of the TLS certificates the proxies (or the Ingress) serve. Pure."""

from __future__ import annotations

from typing import Annotated, Literal, Optional

from pydantic import AfterValidator, Field, model_validator

from config import checks
from config.fields import HostPath, StrictModel


class TlsSettings(StrictModel):
    enabled: bool = False
    # internal-ca: signed by the environment's CA (tlsCaCert + secret tlsCaKey);
    # self-signed: a CA generated in the stack (local and throwaway stacks); provided: your own
    # certificate chain and key (secret tlsCertChain + tlsKey, ssh deploys), checked at config time
    # (names, expiry, key, chain order: config.tls_provided) and delivered to every host and the front
    # door as-is (renew it yourself before it expires).
    issuer: Literal["internal-ca", "self-signed", "provided"] = "self-signed"
    validity_hours: Annotated[int, Field(ge=24)] = 24 * 365
    early_renewal_hours: Annotated[int, Field(ge=1)] = 24 * 30
    key_algorithm: Literal["RSA", "ECDSA"] = "ECDSA"
    cert_dir: HostPath = "/etc/litellm/tls"
    # TLS off on an ssh deploy sends the master key (admin API) and every virtual key over the
    # network in clear: refused unless this says so explicitly.
    allow_plaintext: bool = False
    # A CA rotation (docs/runbook.md, "CA rotation"): the certificate (PEM) of the CA being replaced.
    # The front door trusts it besides the current CA while the hosts move to certificates of the new
    # one; remove it on the next run, once every host rolled (the front door's reload refuses to drop
    # a CA a serving host still presents).
    previous_ca_cert: Optional[Annotated[str, AfterValidator(checks.check_pem_certificates)]] = None

    @model_validator(mode="after")
    def _renewal_inside_validity(self) -> "TlsSettings":
        if self.early_renewal_hours >= self.validity_hours:
            raise ValueError("early_renewal_hours must be shorter than validity_hours")
        return self
