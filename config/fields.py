"""The strict base model and the field types every settings section shares. Pure: no Pulumi imports.

Strictness is deliberate: every model forbids unknown keys, because a YAML typo that is silently
ignored (LiteLLM's own `litellm_settings` accepts anything) is how gateways end up without the
budget or cache their owners think they have.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Optional

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from config import checks
from config.ssh_host_key import check_host_key

ENV_REF_PREFIX = "os.environ/"
ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_DNS_NAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")
_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_DURATION = re.compile(r"^[0-9]+(s|m|h|d|w|mo)$")

# Strings that look like credentials: refused anywhere in plain (non-secret) config.
_SECRET_LOOKING = [
    re.compile(r"^sk-[A-Za-z0-9_\-]{16,}$"),
    re.compile(r"^sk-ant-[A-Za-z0-9_\-]{16,}$"),
    re.compile(r"^xox[abprs]-[A-Za-z0-9-]{10,}$"),
    re.compile(r"^https://hooks\.slack\.com/services/\S+$"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"^(pk|sk)-lf-[A-Za-z0-9-]{8,}$"),
]


def looks_like_secret(value: str) -> bool:
    return any(p.search(value) for p in _SECRET_LOOKING)


def env_ref_name(value: str) -> Optional[str]:
    """`os.environ/NAME` -> NAME; anything else -> None."""
    if value.startswith(ENV_REF_PREFIX):
        return value[len(ENV_REF_PREFIX):]
    return None


def _env_reference(value: str) -> str:
    name = env_ref_name(value)
    if name is None:
        raise ValueError(
            "a credential must be a reference 'os.environ/NAME' (its value set with "
            "`pulumi config set --secret --path envSecrets.NAME`), never a literal value"
        )
    if not ENV_NAME.fullmatch(name):
        raise ValueError(f"'{name}' is not a valid environment variable name (A-Z, 0-9, _)")
    return value


def check_dns_label(value: str) -> str:
    if not _DNS_LABEL.fullmatch(value):
        raise ValueError("expected a lower-case DNS label (a-z, 0-9, '-', at most 63 characters)")
    return value


def check_dns_name(value: str) -> str:
    if not _DNS_NAME.fullmatch(value):
        raise ValueError("expected a lower-case DNS name such as 'hx.dev.local'")
    return value


def is_ip_address(value: str) -> bool:
    """An IPv4 or IPv6 address (not a host name) written the one way Python writes it back: no IPv6
    scope id (`fe80::1%eth0`: Python accepts any text after `%`, spaces and line breaks included, and
    the value lands in haproxy.cfg, scripts and URLs), no leading zeros, lower-case hex."""
    try:
        return str(ipaddress.ip_address(value)) == value and "%" not in value
    except ValueError:
        return False


def check_host_or_ip(value: str) -> str:
    """An address is an address: an IP written canonically, or a lower-case DNS name. Nothing else
    reaches haproxy.cfg, a unit, a script or a URL (no whitespace, `#`, `%`, `\\`, `/` or `:port`)."""
    if not is_ip_address(value) and _DNS_NAME.fullmatch(value) and value.rsplit(".", 1)[-1].isdigit():
        # "192.168.010.020" is a valid DNS name by its characters, but resolvers read it as an IPv4
        # address (inet_aton: octal 010 = 8): a name whose last label is all digits is no name.
        raise ValueError("expected a host name or an IP address; an all-digit last label is read as an IPv4 "
                         "address by resolvers (leading zeros are octal): write the address canonically, "
                         "e.g. 192.168.10.20")
    if not is_ip_address(value) and not _DNS_NAME.fullmatch(value):
        if "%" in value:
            raise ValueError("expected a host name or an IP address; IPv6 scope ids (%...) are not accepted")
        raise ValueError("expected a host name or an IP address written canonically (e.g. 192.168.10.20, "
                         "2001:db8::20, hx-litellm-server.hx.dev.local)")
    return value


def _sql_identifier(value: str) -> str:
    if not _IDENT.fullmatch(value):
        raise ValueError("expected a lower-case SQL identifier (a-z, 0-9, _; at most 63 characters)")
    return value


def _duration(value: str) -> str:
    if not _DURATION.fullmatch(value):
        raise ValueError("expected a LiteLLM duration such as '30s', '1h', '7d', '1mo'")
    if checks.zero_duration(value):
        raise ValueError("a zero duration is refused by LiteLLM (400); use at least '1s', e.g. '30d'")
    return value


EnvRef = Annotated[str, AfterValidator(_env_reference)]
DnsLabel = Annotated[str, AfterValidator(check_dns_label)]
DnsName = Annotated[str, AfterValidator(check_dns_name)]
HostOrIp = Annotated[str, AfterValidator(check_host_or_ip)]
SqlIdentifier = Annotated[str, AfterValidator(_sql_identifier)]
Duration = Annotated[str, AfterValidator(_duration)]
# A host path (safe characters; absolute where the deploy needs it, checked with the deploy mode).
HostPath = Annotated[str, AfterValidator(lambda v: checks.check_path(v, absolute=False))]
AlertType = Annotated[str, AfterValidator(checks.check_alert_type)]
# A model's public or upstream name, or a name LiteLLM stores (a credential's).
ModelName = Annotated[str, AfterValidator(checks.check_model_name)]
Port = Annotated[int, Field(ge=1, le=65535)]
PositiveInt = Annotated[int, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]
# The public host key an SSH target must present (config.ssh_host_key): required for every target.
SshHostKey = Annotated[str, AfterValidator(check_host_key)]


class StrictModel(BaseModel):
    # coerce_numbers_to_str: `pulumi config set --path x.name 123` stores a number (the CLI's
    # `coerce`, see config/cli_values.py); a string setting takes it as the text the user typed.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False, coerce_numbers_to_str=True)


class CrossCheckError(ValueError):
    """Several located problems at once; the loader turns each into a message with its path."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{p}: {m}" for p, m in problems))
