"""The Pulumi CLI's view of a stack file's values, reproduced without the CLI. Pure.

The Pulumi CLI does not read `Pulumi.<stack>.yaml` the way PyYAML does, and the program only ever
sees what the CLI hands it: a map of config key -> **string**. What follows reproduces that, from
the sources below (pulumi/pulumi at 1b5949891b3c, go-yaml/yaml v3 at f6f7691b1fde):

- `sdk/go/common/encoding/marshal.go`: stack files are decoded with `gopkg.in/yaml.v3`.
- `sdk/go/common/resource/config/value.go`, `Value.UnmarshalYAML`: each top-level value is decoded
  into `any` and turned into an `object` (`object.go`, `unmarshalObject`), then into its string
  form with `object.MarshalString`: a string stays itself; bool/int/float become their JSON text
  (`true`, `123`, `1.5`); a map or list becomes JSON text (an "object" value).
- `object.go`, `unmarshalObject`: `case time.Time: return newObject(v.String())` -- a timestamp
  becomes Go's `time.Time.String()`, `"2006-01-02 15:04:05.999999999 -0700 MST"`, at any depth;
  non-string map keys become `fmt.Sprintf("%v", k)`.
- `config/map.go`, `Map.Decrypt` -> `plaintext.go`, `Plaintext.marshalText`: what the engine
  passes to the program: strings as they are (decrypted secrets included: `pulumi config set
  --secret x 123456` reaches the program as the string "123456"), anything else as `json.Marshal`.
- `object.go`, `coerce`: `pulumi config set --path a.b 123` stores 123 as a number (base-10
  digits not starting with 0; "true"/"false" as booleans) unless the value is secret.
- go-yaml v3 `resolve.go`, `resolve` / `parseTimestamp`, and `decode.go`, `decoder.scalar`: a
  quoted, literal or folded scalar is a string; a plain one is null (`~`, `null`, empty), bool
  (only `true`/`false` in three casings: `yes`/`on` stay strings, unlike PyYAML's YAML 1.1), a
  timestamp (4-digit year, then Go layouts `2006-1-2T15:4:5.999999999Z07:00`, the same with `t`,
  `2006-1-2 15:4:5.999999999`, `2006-1-2`), an int (`strconv.ParseInt(s, 0, 64)` after removing
  `_`: 0x/0o/0b/leading-0 octal), a float (`[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?`,
  `.inf`, `.nan`), else a string. yaml.v3 (unlike v2) stores a timestamp in an `any` as `time.Time`.

A Go `time.Time` parsed with an explicit numeric offset prints that offset twice (`+0200 +0200`)
unless the CLI machine's local zone has it, in which case the zone's abbreviation replaces the
second one (`+0200 CEST`); `format_go_time` gives the former, `parse_go_time` accepts both.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Optional

import yaml

from config import safe_yaml


class GoTime:
    """A YAML timestamp as yaml.v3 decodes it; `str()` is Go's `time.Time.String()`."""

    def __init__(self, value: datetime, text: str):
        self.value = value  # aware
        self.text = text

    def __str__(self) -> str:
        return format_go_time(self.value)

    def __repr__(self) -> str:
        return f"GoTime({str(self)!r})"


# ---- go-yaml v3 scalar resolution ------------------------------------------------------------

_NULLS = {"", "~", "null", "Null", "NULL"}
_TRUE = {"true", "True", "TRUE"}
_FALSE = {"false", "False", "FALSE"}
_FLOAT_SPECIAL = {
    ".nan": math.nan, ".NaN": math.nan, ".NAN": math.nan,
    ".inf": math.inf, ".Inf": math.inf, ".INF": math.inf,
    "+.inf": math.inf, "+.Inf": math.inf, "+.INF": math.inf,
    "-.inf": -math.inf, "-.Inf": -math.inf, "-.INF": -math.inf,
}
_YAML_STYLE_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_INT64 = (-(2**63), 2**63 - 1)
_UINT64_MAX = 2**64 - 1

# Go layouts -> regexes (Go's `1`/`2`/`15`/`4`/`5` accept one or two digits; `.999999999` an
# optional fraction; `Z07:00` either Z or +hh:mm).
_TS_T = re.compile(
    r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})[Tt]([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})"
)
_TS_SPACE = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2}) ([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(\.[0-9]+)?")
_TS_DATE = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})")


def _go_timestamp(text: str) -> Optional[datetime]:
    """go-yaml v3 parseTimestamp: an aware datetime, or None."""
    m = _TS_T.fullmatch(text)
    tz: timezone = timezone.utc
    if m is None:
        m = _TS_SPACE.fullmatch(text)
    if m is None:
        d = _TS_DATE.fullmatch(text)
        if d is None:
            return None
        try:
            return datetime(int(d[1]), int(d[2]), int(d[3]), tzinfo=timezone.utc)
        except ValueError:
            return None
    groups = m.groups()
    if len(groups) == 8 and groups[7] and groups[7] != "Z":
        sign = 1 if groups[7][0] == "+" else -1
        hh, mm = int(groups[7][1:3]), int(groups[7][4:6])
        tz = timezone(sign * timedelta(hours=hh, minutes=mm))
    try:
        micro = int((groups[6] or ".0")[1:7].ljust(6, "0"))
        return datetime(
            int(groups[0]), int(groups[1]), int(groups[2]), int(groups[3]), int(groups[4]), int(groups[5]),
            micro, tzinfo=tz,
        )
    except ValueError:
        return None


def _go_parse_int(text: str) -> Optional[int]:
    """strconv.ParseInt/ParseUint(s, 0, 64): sign, 0x/0o/0b prefixes, leading-0 octal."""
    m = re.fullmatch(r"([+-]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)", text)
    if m is None:
        return None
    sign, body = m.groups()
    low = body.lower()
    if low.startswith("0x"):
        value = int(body[2:], 16)
    elif low.startswith("0o"):
        value = int(body[2:], 8)
    elif low.startswith("0b"):
        value = int(body[2:], 2)
    elif body.startswith("0") and len(body) > 1:
        value = int(body[1:], 8)
    else:
        value = int(body)
    value = -value if sign == "-" else value
    if _INT64[0] <= value <= _UINT64_MAX and not (sign == "-" and value < _INT64[0]):
        return value
    return None


def resolve_plain_scalar(text: str) -> Any:
    """What go-yaml v3 decodes an untagged plain scalar into (inside an `any`)."""
    if text in _NULLS:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    if text in _FLOAT_SPECIAL:
        return _FLOAT_SPECIAL[text]
    first = text[0]
    if first == ".":
        try:
            return float(text)
        except ValueError:
            return text
    if first.isdigit() or first in "+-":
        if re.fullmatch(r"[0-9]{4}-.*", text, re.DOTALL):
            ts = _go_timestamp(text)
            if ts is not None:
                return GoTime(ts, text)
        plain = text.replace("_", "")
        as_int = _go_parse_int(plain)
        if as_int is not None:
            return as_int
        if _YAML_STYLE_FLOAT.fullmatch(plain):
            try:
                return float(plain)
            except ValueError:
                pass
        # go-yaml's own 0b/0o branches are covered by _go_parse_int
    return text


class _V3Loader(yaml.SafeLoader):
    """Composes YAML without PyYAML's YAML 1.1 implicit typing: plain scalars are resolved by
    `resolve_plain_scalar` (go-yaml v3), quoted/literal/folded ones are strings."""

    yaml_implicit_resolvers: dict = {}

    def resolve(self, kind, value, implicit):  # noqa: D401 - PyYAML hook
        if kind is yaml.ScalarNode and implicit[0]:
            return "!go-plain"
        return super().resolve(kind, value, implicit)


def _construct(node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        if node.tag == "!go-plain":
            return resolve_plain_scalar(node.value)
        if node.tag == "tag:yaml.org,2002:str" or node.style in ('"', "'", "|", ">"):
            return node.value
        # an explicit tag on a plain scalar (`!!int 5`): resolve as v3 would, roughly
        return resolve_plain_scalar(node.value)
    if isinstance(node, yaml.SequenceNode):
        return [_construct(n) for n in node.value]
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = go_sprint(_construct(key_node))
            if key in out:
                raise safe_yaml.YamlProblem(f"line {key_node.start_mark.line + 1}: mapping key {key!r} already defined")
            out[key] = _construct(value_node)
        return out
    raise ValueError(f"unsupported YAML node {node!r}")


def load_yaml_v3(text: str) -> Any:
    """A YAML document as go-yaml v3 decodes it into `any` (timestamps as GoTime). Like go-yaml v3 it
    refuses duplicate mapping keys ("mapping key ... already defined") and excessive aliasing."""
    loader = _V3Loader(text)
    try:
        node = loader.get_single_node()
    finally:
        loader.dispose()
    if node is None:
        return None
    if safe_yaml.expanded_size(node) > safe_yaml.MAX_EXPANDED_NODES:
        raise safe_yaml.YamlProblem("document contains excessive aliasing")
    return _construct(node)


# ---- Go formatting ---------------------------------------------------------------------------


def format_go_time(value: datetime) -> str:
    """Go's time.Time.String() for a time parsed from YAML (local zone taken as UTC)."""
    offset = value.utcoffset() or timedelta(0)
    total = int(offset.total_seconds())
    sign = "-" if total < 0 else "+"
    hh, mm = divmod(abs(total) // 60, 60)
    numeric = f"{sign}{hh:02d}{mm:02d}"
    name = "UTC" if total == 0 else numeric  # with the local zone UTC, offset 0 parses as time.UTC
    frac = f".{value.microsecond:06d}".rstrip("0") if value.microsecond else ""
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d} {value.hour:02d}:{value.minute:02d}:{value.second:02d}{frac} {numeric} {name}"


_GO_TIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]{1,9})? ([+-])([0-9]{2})([0-9]{2}) ([A-Za-z]{2,6}|[+-][0-9]{4})"
)


def parse_go_time(text: str) -> Optional[datetime]:
    """`2027-06-30 00:00:00 +0000 UTC` (Go's time.Time.String()) -> aware datetime, else None."""
    m = _GO_TIME.fullmatch(text)
    if m is None:
        return None
    year, month, day, hour, minute, second, frac, sign, oh, om, _zone = m.groups()
    offset = timedelta(hours=int(oh), minutes=int(om)) * (1 if sign == "+" else -1)
    micro = int((frac or ".0")[1:7].ljust(6, "0"))
    try:
        return datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro,
                        tzinfo=timezone(offset) if offset else timezone.utc)
    except ValueError:
        return None


def go_sprint(value: Any) -> str:
    """fmt.Sprintf("%v", v) for the values a YAML map key can hold."""
    if isinstance(value, str):
        return value
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, GoTime):
        return str(value)
    if isinstance(value, float):
        return _go_float(value, "%v")
    return str(value)


def _go_float(value: float, verb: str = "json") -> str:
    """strconv.FormatFloat as encoding/json writes a float64 (shortest repr; 'e' only when the
    exponent is < -6 or >= 21; e-07 -> e-7). NaN/Inf are refused like json.Marshal does."""
    if math.isnan(value) or math.isinf(value):
        raise ValueError(f"json: unsupported value: {value}")
    if value == 0:
        return "0" if math.copysign(1, value) > 0 else "-0"
    if verb == "json" and (abs(value) < 1e-6 or abs(value) >= 1e21):
        return re.sub(r"e-0(\d)$", r"e-\1", repr(value))
    text = format(Decimal(repr(value)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _go_json(value: Any) -> Any:
    """The value json.Marshal sees: GoTime -> its String()."""
    if isinstance(value, GoTime):
        return str(value)
    if isinstance(value, dict):
        return {k: _go_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_go_json(v) for v in value]
    return value


def go_json_marshal(value: Any) -> str:
    """encoding/json.Marshal: compact, map keys sorted, <>& and U+2028/9 escaped, Go floats."""

    def encode(v: Any) -> str:
        if v is None:
            return "null"
        if v is True:
            return "true"
        if v is False:
            return "false"
        if isinstance(v, int):
            return str(v)
        if isinstance(v, float):
            return _go_float(v)
        if isinstance(v, str):
            text = json.dumps(v, ensure_ascii=False)
            for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
                text = text.replace(ch, esc)
            return text
        if isinstance(v, dict):
            return "{" + ",".join(f"{encode(k)}:{encode(v[k])}" for k in sorted(v)) + "}"
        if isinstance(v, list):
            return "[" + ",".join(encode(x) for x in v) + "]"
        raise TypeError(f"cannot marshal {type(v).__name__}")

    return encode(_go_json(value))


def cli_config_string(value: Any) -> str:
    """A decoded top-level stack-file value -> the string the program receives (see module doc)."""
    if isinstance(value, str):
        return value
    if isinstance(value, GoTime):
        return str(value)
    return go_json_marshal(value)
