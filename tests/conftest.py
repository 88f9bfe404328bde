"""Shared test setup.

LiteLLM downloads its model price map at import unless told not to; no test may reach the
internet, so this is set before anything imports litellm.

Tiers: `make check` runs `pytest -m "not slow"` (no process started, no socket opened but to an
in-process emulator: enforced by tests/support/check_tier.py); `make test` runs everything. A test is
`slow` when it is marked so, or lives in a SLOW_DIRS directory or a SLOW_MODULES module, or uses a
SLOW_FIXTURES fixture (a real proxy, PostgreSQL, Redis, HAProxy, a systemd host, a child process).
"""

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_TELEMETRY", "False")

PROJECT_DIR = Path(__file__).resolve().parent.parent
if str(PROJECT_DIR) not in sys.path:
    sys.path.insert(0, str(PROJECT_DIR))


# Directories whose every test runs real processes (proxies, HAProxy, systemd hosts).
SLOW_DIRS = ("tests/e2e/", "tests/transitions/", "tests/systemd/")
# Modules whose tests start processes or talk to the machine's PostgreSQL/Redis (module-scoped
# fixtures of these start them for every test of the module).
SLOW_MODULES = frozenset({
    "tests/components/litellm_admin/test_real_proxy.py",
    "tests/components/litellm_admin/test_real_server_behaviour.py",
    "tests/components/litellm_admin/test_through_engine_host.py",
    "tests/components/test_postgres_integration.py",
    "tests/components/test_redis_acl_litellm.py",
    "tests/components/test_redis_cache_integration.py",
    "tests/support/test_dynamic_host.py",
    "tests/support/test_postgres_apply.py",
    "tests/support/test_prisma_translator.py",
    "tests/support/test_real_proxy.py",
    "tests/support/test_write_audit.py",
    "tests/offline/test_render.py",
})
# Fixtures that start a process or connect to a machine service.
SLOW_FIXTURES = frozenset({
    "real_proxy", "real_proxy_factory", "shared_factory", "admin_dsn", "scratch", "nothing_left_behind",
    "redis_endpoint", "redis_client", "module_cache_namespace", "cache_namespace", "fake_factory",
    "systemd_bed",
})


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: starts processes or uses real services (left out of `make check`)")
    if (config.getoption("markexpr", "") or "").strip() == "not slow":
        from tests.support import check_tier

        check_tier.install()


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("slow"):
            continue
        rel = Path(str(item.fspath)).resolve().relative_to(PROJECT_DIR).as_posix()
        if rel.startswith(SLOW_DIRS) or rel in SLOW_MODULES or SLOW_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.slow)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A skipped test is a failed test here: a missing service or package must fail loudly."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped tests are not allowed in this project: {report.longrepr}"


@pytest.fixture(autouse=True, scope="session")
def _operator_ca_files_outside_the_checkout(tmp_path_factory):
    """The program writes postgres.ca_cert for the pulumi-postgresql provider into the project's
    `.ca/` (components.postgres.operator_ca_file); under test, into a temporary directory."""
    import components.postgres as pg

    saved = pg.OPERATOR_CA_DIR
    pg.OPERATOR_CA_DIR = tmp_path_factory.mktemp("operator-ca")
    yield
    pg.OPERATOR_CA_DIR = saved
