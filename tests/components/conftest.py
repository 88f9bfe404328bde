"""Shared fixtures for the component tests: the whole program run per stack under mocks.

`dev` and `local` run once per module with the secrets the module's own `stack_secrets` fixture
gives per stack (default: none; missing secrets get placeholders). Modules override
`stack_secrets` to plant their distinctive values, so a leak check knows what to look for.
"""

from __future__ import annotations

from typing import Mapping

import pytest

from offline.engine import ProgramRun, run_stack


@pytest.fixture(scope="module")
def stack_secrets() -> Mapping[str, Mapping[str, str]]:
    """Stack name -> the secrets that stack runs with in `dev` / `local`."""
    return {}


@pytest.fixture(scope="module")
def dev(stack_secrets) -> ProgramRun:
    return run_stack("dev", secrets=stack_secrets.get("dev"))


@pytest.fixture(scope="module")
def local(stack_secrets) -> ProgramRun:
    return run_stack("local", secrets=stack_secrets.get("local"))
