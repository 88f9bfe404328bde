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
# STORE_MODEL_IN_DB is not here: it follows litellm.model_source (rendering.host_files.store_model_in_db_env).
PLAIN_ENV: tuple[tuple[str, str], ...] = (
    ("LITELLM_MODE", "PRODUCTION"),
    ("LITELLM_LOCAL_MODEL_COST_MAP", "True"),
)
