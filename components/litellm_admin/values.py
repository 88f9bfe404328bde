"""Value comparison shared by the admin client (read-back checks) and the specs (diffs, drift).

Pure Python: no Pulumi, no litellm. Pulumi hands numbers back as floats (32 -> 32.0) and LiteLLM
returns timestamps in several spellings, so equality here is semantic rather than `==`.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any, Mapping, Optional


def is_number(value: Any) -> bool:
    # bool is an int subclass, but True is not the number 1 for a budget or a limit.
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def same_value(left: Any, right: Any) -> bool:
    """Deep equality where numbers compare numerically and dicts/lists compare element-wise."""
    if isinstance(left, bool) or isinstance(right, bool):
        return left is right
    if is_number(left) and is_number(right):
        return math.isclose(float(left), float(right), rel_tol=1e-12, abs_tol=1e-12)
    if isinstance(left, Mapping) and isinstance(right, Mapping):
        if set(left) != set(right):
            return False
        return all(same_value(left[key], right[key]) for key in left)
    if isinstance(left, (list, tuple)) and isinstance(right, (list, tuple)):
        return len(left) == len(right) and all(same_value(a, b) for a, b in zip(left, right))
    return left == right


def same_unordered(left: Any, right: Any) -> bool:
    """Lists whose order carries no meaning (model names a key or team may call)."""
    if isinstance(left, (list, tuple)) and isinstance(right, (list, tuple)):
        return sorted(map(repr, map(json_ready, left))) == sorted(map(repr, map(json_ready, right)))
    return same_value(left, right)


def json_ready(value: Any) -> Any:
    """Integral floats back to ints (Pulumi made them floats; LiteLLM's int fields want ints)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {key: json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(item) for item in value]
    return value


def parse_timestamp(text: Any) -> Optional[datetime]:
    """ISO 8601 to an aware UTC datetime; a naive value is taken as UTC (LiteLLM stores UTC)."""
    if not isinstance(text, str) or not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def same_instant(left: Any, right: Any, tolerance_seconds: float = 0.0) -> bool:
    left_time, right_time = parse_timestamp(left), parse_timestamp(right)
    if left_time is None or right_time is None:
        return left == right
    return abs((left_time - right_time).total_seconds()) <= tolerance_seconds


def subset_matches(sent: Mapping[str, Any], stored: Mapping[str, Any]) -> bool:
    """Every key we sent is stored with the same value (extra stored keys are the server's own)."""
    return all(key in stored and same_value(value, stored[key]) for key, value in sent.items())
