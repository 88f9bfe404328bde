"""TLS to PostgreSQL and Redis: what each client is told, per stack setting. Pure (no Pulumi).

PostgreSQL
----------
LiteLLM reaches PostgreSQL through Prisma: the query engine (the proxy) parses `DATABASE_URL` with
quaint's `PostgresNativeUrl::parse_query_params` (prisma-engines, quaint/src/connector/postgres/url.rs)
and builds the TLS connector in `PostgreSql::new` (quaint/src/connector/postgres/native/mod.rs); the
schema engine (`prisma migrate deploy`, the migration step) builds the same `PostgresUrl::new_native`
in its PostgreSQL connector (seen in a stored version of the source, not at the pinned commit).
Read in the prisma-engines source: the stored versions at commits 0d495ae9 (url.rs) and 004522f9
(native/mod.rs). The pinned engine is 393aa359 (Prisma 5.17.0); its tree was not available to compare
those lines at that exact commit (docs/security.md says what was and was not read):

* `sslmode`: `disable`, `prefer`, `require` only; any other value is logged at debug level and
  ignored (the default, `prefer`, stays). libpq's `verify-ca`/`verify-full` therefore mean
  `prefer` to Prisma: encryption if the server offers it, a silent plaintext fallback otherwise,
  and no verification at all.
* `sslaccept`: `accept_invalid_certs` (the default) or `strict` (an unknown value means strict).
  It is handed to native-tls as `danger_accept_invalid_certs(mode == AcceptInvalidCerts)`: strict
  verifies the chain AND the host name (native-tls checks the name unless
  `danger_accept_invalid_hostnames`, which quaint never sets). There is no chain-only mode.
* `sslcert`: the CA file (PEM), added with `add_root_certificate` to the system's roots (it does
  not replace them): a trust anchor, unlike libpq's `sslcert` (the client certificate).
* `sslidentity` / `sslpassword`: a PKCS#12 client identity (not used by this project).

So the stack's `postgres.sslmode` maps to Prisma like this, and the stack refuses what Prisma
cannot do (config/postgres_settings.py):

    disable      sslmode=disable
    prefer       sslmode=prefer                      (encrypt if offered, not verified)
    require      sslmode=require                     (encrypted, server not verified)
    verify-full  sslmode=require&sslaccept=strict&sslcert=<postgres.ca_cert on the host>
    verify-ca    refused: Prisma has no chain-only check (strict always checks the name)
    allow        refused: Prisma has no "plaintext first" mode

The pulumi-postgresql provider (terraform-provider-postgresql, Go's lib/pq: libpq's meanings,
`sslrootcert` = the CA file) gets `verify-full` + `sslrootcert` for verify-full; `prefer`
becomes `require` there (lib/pq refuses prefer/allow: components/postgres.py).

Redis
-----
LiteLLM 1.108.7 builds every Redis client (response cache, router state, coordination Redis) with
`litellm._redis._get_redis_client_logic`: the config's kwargs over `REDIS_<ARG>` environment
variables, then `redis.Redis(**kwargs)` / `async_redis.Redis(**kwargs)` /
`BlockingConnectionPool(connection_class=SSLConnection, ...)` (`ssl` popped into the class). With
`ssl: true` redis-py uses `SSLConnection`, the same class the `rediss://` scheme selects. The
gateway states every TLS kwarg instead of leaning on redis-py's defaults (which changed between
major versions: `ssl_check_hostname` became True in 6.0): `ssl`, `ssl_cert_reqs: required`,
`ssl_check_hostname: true` and, with `redis.ca_cert`, `ssl_ca_certs` (the CA file on the host;
without it redis-py loads the system's default CAs).
"""

from __future__ import annotations

from typing import Any, Optional
from urllib.parse import quote

from config.postgres_settings import REFUSED_SSLMODES

PRISMA_SSLMODES = ("disable", "prefer", "require", "verify-full")

# Kubernetes: the directory the ConfigMap's CA keys are mounted at (rendering.kubernetes_objects).
KUBE_CA_DIR = "/etc/litellm/ca"
# The CA file names on a host / in a pod (the directory is rendering.host_files.ca_file_path's).
POSTGRES_CA_NAME = "postgres-ca.crt"
REDIS_CA_NAME = "redis-ca.crt"


def prisma_ssl_query(sslmode: str, ca_file: Optional[str]) -> str:
    """The query string (without '?') of DATABASE_URL for `sslmode`, in quaint's parameters."""
    if sslmode in REFUSED_SSLMODES:
        raise ValueError(f"sslmode {sslmode!r}: {REFUSED_SSLMODES[sslmode]}")
    if sslmode not in PRISMA_SSLMODES:
        raise ValueError(f"sslmode must be one of {', '.join(PRISMA_SSLMODES)}, got {sslmode!r}")
    if sslmode == "verify-full":
        if not ca_file:
            raise ValueError("sslmode verify-full needs the CA file's path (postgres.ca_cert on the host)")
        _check_path(ca_file)
        # quaint reads `sslcert` as a trust anchor (add_root_certificate), `strict` checks chain + name.
        return f"sslmode=require&sslaccept=strict&sslcert={quote(ca_file, safe='/')}"
    if ca_file:
        raise ValueError(f"a CA file is only used with sslmode verify-full, not {sslmode!r}")
    return f"sslmode={sslmode}"


def provider_sslmode(sslmode: str) -> str:
    """The sslmode the pulumi-postgresql provider can use: lib/pq knows disable/require/verify-ca/
    verify-full only ("unsupported sslmode" otherwise)."""
    return {"prefer": "require", "allow": "require"}.get(sslmode, sslmode)


def provider_ssl(sslmode: str, ca_file: Optional[str]) -> dict[str, str]:
    """The pulumi-postgresql provider's `sslmode` (+ `sslrootcert`, libpq's meaning: the CA file)."""
    out = {"sslmode": provider_sslmode(sslmode)}
    if sslmode == "verify-full":
        if not ca_file:
            raise ValueError("sslmode verify-full needs the CA file's path for the provider (sslrootcert)")
        out["sslrootcert"] = _check_path(ca_file)
    return out


def _check_path(path: str) -> str:
    # Relative only on a local deploy, whose files are all relative to the project directory the
    # proxy and the migration start in (ssh/kubernetes paths are absolute by config validation).
    if not path or path.startswith("-") or any(c.isspace() or ord(c) < 0x20 or c in "%&?#=\\" for c in path):
        raise ValueError(f"the CA file must be a path without whitespace or URL specials, got {path!r}")
    return path


def redis_tls_kwargs(tls: bool, ca_file: Optional[str]) -> dict[str, Any]:
    """LiteLLM/redis-py kwargs for Redis TLS (empty when TLS is off)."""
    if not tls:
        if ca_file:
            raise ValueError("a Redis CA file needs redis.tls: true")
        return {}
    out: dict[str, Any] = {"ssl": True, "ssl_cert_reqs": "required", "ssl_check_hostname": True}
    if ca_file:
        out["ssl_ca_certs"] = _check_path(ca_file)
    return out
