"""Names the host's env file defines itself, whatever the stack says. Pure, a leaf: `config.checks`,
the settings and `rendering.host_files` all read these, so this module imports nothing of the project.
"""

from __future__ import annotations

# Environment variables the gateway itself fills in the host's env file. Config may reference them
# as os.environ/NAME without declaring them in envSecrets.
GATEWAY_ENV_VARS = frozenset(
    {"LITELLM_MASTER_KEY", "LITELLM_SALT_KEY", "DATABASE_URL", "REDIS_PASSWORD"}
)

# Settings that are not secret and the same on every host.
#  - LITELLM_MODE=PRODUCTION: otherwise the proxy loads a .env from its working directory.
#  - LITELLM_LOCAL_MODEL_COST_MAP=True: no download of the price map at every start.
#  - TIMEOUT_WORKER_HEALTHCHECK=30: with several workers uvicorn's supervisor kills any worker that
#    does not answer its ping within 5 s (its default; uvicorn/supervisors/multiprocess.py), and
#    while `litellm.workers` workers import LiteLLM at once on a small, busy host one can miss it:
#    the proxy then kills and respawns workers in a loop and never becomes ready (seen in the tests
#    at a load of 8-11 on 2 cores). 30 s still replaces a hung worker. Read by LiteLLM's CLI
#    (`--timeout_worker_healthcheck`'s envvar); no effect with one worker.
# STORE_MODEL_IN_DB is not here: it follows litellm.model_source (rendering.host_files.store_model_in_db_env).
PLAIN_ENV: tuple[tuple[str, str], ...] = (
    ("LITELLM_MODE", "PRODUCTION"),
    ("LITELLM_LOCAL_MODEL_COST_MAP", "True"),
    ("TIMEOUT_WORKER_HEALTHCHECK", "30"),
)

# The Redis CA file's path on the host / in the pod (redis.ca_cert). LiteLLM reads REDIS_<ARG> for
# every Redis client it builds (litellm/_redis.py _redis_kwargs_from_environment), and the rendered
# config.yaml names it too (ssl_ca_certs: os.environ/REDIS_SSL_CA_CERTS).
REDIS_CA_ENV = "REDIS_SSL_CA_CERTS"

# Env names the Admin UI settings fill (config.admin_ui): the plain ones and the secrets.
UI_PLAIN_ENV_NAMES = frozenset({
    "DISABLE_ADMIN_UI", "UI_USERNAME", "PROXY_BASE_URL",
    "GOOGLE_CLIENT_ID", "MICROSOFT_CLIENT_ID", "MICROSOFT_TENANT",
    "GENERIC_CLIENT_ID", "GENERIC_AUTHORIZATION_ENDPOINT", "GENERIC_TOKEN_ENDPOINT", "GENERIC_USERINFO_ENDPOINT",
    "GENERIC_SCOPE",
})
SSO_SECRET_ENV = {"google": "GOOGLE_CLIENT_SECRET", "microsoft": "MICROSOFT_CLIENT_SECRET", "generic": "GENERIC_CLIENT_SECRET"}
UI_SECRET_ENV_NAMES = frozenset({"UI_PASSWORD", *SSO_SECRET_ENV.values()})
# Where the proxy serves the Admin UI from (the built UI, or an empty directory when the UI is off):
# set by the unit, the local launch and the pods (rendering.admin_ui_dirs), never by envSecrets,
# which could otherwise serve the UI a stack turned off.
UI_PATH_ENV = "LITELLM_UI_PATH"
