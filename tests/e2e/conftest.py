"""End-to-end tests: the real LiteLLM proxy against fake upstreams and a real Redis."""

from tests.support.e2e_fixtures import (  # noqa: F401  (fixtures are found by name)
    cache_namespace,
    fake_factory,
    module_cache_namespace,
    redis_client,
    redis_endpoint,
)
