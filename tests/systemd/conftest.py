"""Real systemd hosts (tests.support.systemd_bed): one bed of booted containers per test session,
shared by every test under tests/systemd (CI time). Closed by a finalizer (and atexit) even when a
test fails."""

from __future__ import annotations

import pytest

from tests.support.systemd_bed import SystemdBed

# Four hosts: three LiteLLM hosts (the third joins for 2 -> 3 -> 2) and the door host (the DNS
# stand-in and a Redis; the front door once the stack has two hosts: haproxy stays enabled there).
BED_HOSTS = ["lite-a", "lite-b", "lite-c", "door"]


@pytest.fixture(scope="session")
def systemd_bed(request):
    from tests.systemd.wheel_cache import pip_config_for_bed

    bed = SystemdBed(BED_HOSTS, keep_enabled={"door": ["haproxy.service"]}, pip_config=pip_config_for_bed())
    request.addfinalizer(bed.close)
    bed.start()
    return bed
