"""Translation between the pure specs and `pulumi.dynamic` result types, shared by the three providers."""

from __future__ import annotations

from typing import Any, Mapping

from pulumi.dynamic import CheckFailure, CheckResult, DiffResult

from .specs import PROVIDER_KEY, Diff, Failure


def inputs_without_provider(news: Mapping[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in news.items() if name != PROVIDER_KEY}


def check_result(inputs: dict[str, Any], failures: list[Failure]) -> CheckResult:
    return CheckResult(inputs, [CheckFailure(failure.property, failure.reason) for failure in failures])


def diff_result(diff: Diff) -> DiffResult:
    return DiffResult(
        changes=diff.changes,
        replaces=diff.replaces,
        stables=[],
        delete_before_replace=diff.delete_before_replace,
    )
