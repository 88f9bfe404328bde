"""Translation between the pure specs and `pulumi.dynamic` result types, shared by the three providers."""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional

from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, DiffResult

from .client import AdminApiError
from .specs import PROVIDER_KEY, Diff, Failure, adoption_problem


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


def adopted(kind: str, id_: str, inputs: dict[str, Any], *, found: Optional[dict[str, Any]], path: str,
            project: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]],
            diff: Callable[[dict[str, Any], dict[str, Any]], Diff]) -> CreateResult:
    """The existing `kind` `id_` (the proxy's row `found`, read by the caller from `path`) becomes
    this resource: compared with the inputs, nothing written. Adopting something absent, or
    something that differs from the stack, fails the create and names the difference."""
    if found is None:
        raise AdminApiError("GET", path, 404, f"{kind} {id_!r} to adopt is not on the proxy")
    problem = adoption_problem(kind, id_, diff(project(found, {**inputs, f"{kind}_id": id_}), inputs))
    if problem:
        raise AdminApiError("GET", path, None, problem)
    return CreateResult(id_, inputs)
