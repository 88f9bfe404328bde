"""Shell quoting for the rendered scripts, shared by every script renderer. Pure."""

from __future__ import annotations

import shlex


def quote(value: object) -> str:
    return shlex.quote(str(value))


def heredoc_assign(var: str, text: str, tag: str) -> str:
    """`VAR=$(cat <<'TAG' ... TAG)`: text kept verbatim (quoted heredoc: no expansion)."""
    if f"\n{tag}\n" in f"\n{text}\n":
        raise ValueError(f"heredoc terminator {tag} occurs in the text")
    return f"{var}=$(cat <<'{tag}'\n{text.rstrip(chr(10))}\n{tag}\n)"
