"""Stack-wide defaults for virtual keys (`litellm-gateway:keyDefaults`), and the rotation grace window.

Its own module by concern: `config.settings` imports it for `GatewaySettings.key_defaults`,
`config.catalog` for `VirtualKeySpec.rotation_grace`. Pure: no Pulumi imports.

    litellm-gateway:keyDefaults:
      rotation_grace: 24h      # how long a rotated-out key keeps working (default 24h; "0s": none)

A key's own `rotation_grace` overrides the default.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict

# Same grammar as the provider's check (components/litellm_admin/specs.grace_seconds): whole
# seconds, minutes, hours, days or weeks; zero allowed (no grace); at most 366 days.
_GRACE = re.compile(r"([0-9]+)(s|m|h|d|w)")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
MAX_GRACE_SECONDS = 366 * 86400
DEFAULT_ROTATION_GRACE = "24h"


def _grace(value: str) -> str:
    match = _GRACE.fullmatch(value)
    if match is None:
        raise ValueError("expected a grace duration such as '0s', '30m', '24h', '7d' or '1w' (0 = no grace)")
    if int(match.group(1)) * _UNIT_SECONDS[match.group(2)] > MAX_GRACE_SECONDS:
        raise ValueError("expected a grace of at most 366 days")
    return value


GraceDuration = Annotated[str, AfterValidator(_grace)]


class KeyDefaults(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)

    # After a rotation the old key keeps working this long, then stops by LiteLLM's own expiry.
    rotation_grace: GraceDuration = DEFAULT_ROTATION_GRACE
