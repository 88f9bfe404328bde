"""In-process emulator of the LiteLLM proxy admin API, for tests.

The real admin endpoints need a Postgres database and Prisma engines we cannot download, so our
dynamic providers are tested against this emulator instead. It reproduces what the pinned
litellm release (1.108.7, installed in the venv) does for status codes, error bodies and
response shapes; every request body is parsed with LiteLLM's own request classes so a misnamed
or wrongly typed field behaves exactly as it would against the real proxy.

Source references in comments are paths inside the installed package `litellm/`:
  MME = proxy/management_endpoints/model_management_endpoints.py
  KME = proxy/management_endpoints/key_management_endpoints.py
  TE  = proxy/management_endpoints/team_endpoints.py
  PS  = proxy/proxy_server.py
  SCHEMA = proxy/schema.prisma (column defaults a real row carries)

Scope: master-key callers only. A virtual key presented as credentials is rejected with the
real "key not found" 401 (the emulator does not authenticate virtual keys); enterprise/premium
gates, budgets tables, object permissions, organisations and projects are not modelled.
"""

from __future__ import annotations

import os

# Importing litellm otherwise downloads the model cost map from GitHub; tests must stay on loopback.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import asyncio
import base64
import copy
import hashlib
import hmac
import json
import math
import random
import socket
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from datetime import datetime, timedelta, timezone
from typing import Any

import uvicorn
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from litellm.constants import (
    INVALID_API_KEY_ERROR_MESSAGE,
    INVALID_VIRTUAL_KEY_ERROR_MESSAGE,
    LITELLM_PROXY_ADMIN_NAME,
    MINIMUM_CUSTOM_KEY_LENGTH,
)
from litellm.litellm_core_utils.duration_parser import duration_in_seconds
from litellm import Router, get_llm_provider
from litellm.proxy._types import (
    BlockKeyRequest,
    DeleteTeamRequest,
    LiteLLM_VerificationToken,
    LitellmUserRoles,
    GenerateKeyRequest,
    GenerateKeyResponse,
    KeyRequest,
    LiteLLM_DeletedVerificationToken,
    LiteLLM_ManagementEndpoint_MetadataFields,
    LiteLLM_ManagementEndpoint_MetadataFields_Premium,
    LiteLLM_TeamTable,
    ModelInfoDelete,
    NewTeamRequest,
    ProxyErrorTypes,
    ProxyException,
    TeamInfoResponseObjectTeamTable,
    TeamListResponseObject,
    UpdateKeyRequest,
    UpdateTeamRequest,
    UserAPIKeyAuth,
)
from litellm.proxy.auth.auth_utils import abbreviate_api_key
from litellm.proxy.common_utils.timezone_utils import get_budget_reset_time
from litellm.proxy.common_utils.validation_error_body import public_validation_errors
from litellm.proxy.management_endpoints.common_utils import validate_budget_duration
from litellm.proxy.management_endpoints.key_management_endpoints import is_different_team, validate_key_team_change
from litellm.proxy.management_endpoints.model_management_endpoints import (
    NULL_CLEARABLE_LITELLM_PARAMS,
    raise_if_reload_degraded_serving,
)

# The real read path of /v2/model/info and /model/info: cost-map enrichment + credential removal.
from litellm.proxy.proxy_server import (
    _enrich_model_info_with_litellm_data,
    _translate_model_name_for_response,
)
from litellm.proxy.utils import hash_token_if_needed
from litellm.types.router import Deployment, LiteLLM_Params, updateDeployment
from litellm.types.router import ModelInfo as RouterModelInfo
from litellm.types.utils import without_server_derived_pricing

FAULT_KINDS = frozenset({"500", "429", "500-after-write", "slow", "drop"})

_METADATA_BACKED_FIELDS = (*LiteLLM_ManagementEndpoint_MetadataFields_Premium, *LiteLLM_ManagementEndpoint_MetadataFields)

# SCHEMA model LiteLLM_VerificationToken: every column with the default a fresh row gets.
_KEY_COLUMN_DEFAULTS: Mapping[str, Any] = {
    "token": None,
    "key_name": None,
    "key_alias": None,
    "soft_budget_cooldown": False,
    "spend": 0.0,
    "total_spend": 0.0,
    "expires": None,
    "models": [],
    "aliases": {},
    "config": {},
    "router_settings": {},
    "user_id": None,
    "team_id": None,
    "agent_id": None,
    "project_id": None,
    "permissions": {},
    "max_parallel_requests": None,
    "metadata": {},
    "blocked": None,
    "tpm_limit": None,
    "rpm_limit": None,
    "tpd_limit": None,
    "max_budget": None,
    "budget_duration": None,
    "budget_reset_at": None,
    "allowed_cache_controls": [],
    "allowed_routes": [],
    "key_type": None,
    "policies": [],
    "access_group_ids": [],
    "model_spend": {},
    "model_max_budget": {},
    "budget_fallbacks": {},
    "budget_id": None,
    "organization_id": None,
    "object_permission_id": None,
    "created_at": None,
    "created_by": None,
    "updated_at": None,
    "updated_by": None,
    "settings_updated_at": None,
    "last_active": None,
    "rotation_count": 0,
    "auto_rotate": False,
    "rotation_interval": None,
    "last_rotation_at": None,
    "key_rotation_at": None,
    "budget_limits": None,
}
# A Prisma row's model_dump() also carries its relation fields, None when not included.
_KEY_RELATIONS: Mapping[str, Any] = {
    "litellm_budget_table": None,
    "litellm_organization_table": None,
    "litellm_project_table": None,
    "object_permission": None,
    "jwt_key_mappings": None,
}

# SCHEMA model LiteLLM_TeamTable.
_TEAM_COLUMN_DEFAULTS: Mapping[str, Any] = {
    "team_id": None,
    "team_alias": None,
    "organization_id": None,
    "object_permission_id": None,
    "admins": [],
    "members": [],
    "members_with_roles": [],
    "metadata": {},
    "max_budget": None,
    "soft_budget": None,
    "spend": 0.0,
    "models": [],
    "max_parallel_requests": None,
    "tpm_limit": None,
    "rpm_limit": None,
    "tpd_limit": None,
    "budget_duration": None,
    "budget_reset_at": None,
    "blocked": False,
    "created_at": None,
    "updated_at": None,
    "model_spend": {},
    "model_max_budget": {},
    "router_settings": {},
    "team_member_permissions": [],
    "access_group_ids": [],
    "policies": [],
    "default_team_member_models": [],
    "budget_limits": None,
    "model_id": None,
    "allow_team_guardrail_config": False,
}

# KME list_key_helper / _get_condition_to_filter_out_ui_session_tokens: UI session keys are hidden.
_UI_SESSION_TEAM_ID = "litellm-dashboard"


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _json_safe(value: Any) -> Any:
    return jsonable_encoder(value)


def _proxy_error(message: object, error_type: object, param: str | None, code: int) -> ProxyException:
    return ProxyException(message=str(message), type=error_type, param=param, code=code)


def _converted_http_error(detail: object, code: int) -> ProxyException:
    # PS utils.handle_exception_on_proxy: an HTTPException becomes ProxyException(str(detail), internal_server_error, param None).
    return _proxy_error(detail, ProxyErrorTypes.internal_server_error, None, code)


def _converted_auth_style_error(detail: object, code: int) -> ProxyException:
    # MME add_new_model/update_model/delete_model, KME update_key_fn, TE team_info: HTTPException -> ProxyException(str(detail), auth_error, "None").
    return _proxy_error(detail, ProxyErrorTypes.auth_error, "None", code)


def _litellm_check(convert: Callable[[object, int], ProxyException], check: Callable[[], object]) -> None:
    """Run one of LiteLLM's own validation functions; its HTTPException becomes the ProxyException the
    calling handler turns it into (`convert`), a ProxyException passes unchanged (as in the handlers)."""
    try:
        check()
    except HTTPException as exc:
        raise convert(exc.detail, exc.status_code) from None


async def _litellm_check_async(convert: Callable[[object, int], ProxyException], check: Callable[[], Awaitable[object]]) -> None:
    try:
        await check()
    except HTTPException as exc:
        raise convert(exc.detail, exc.status_code) from None


def _masked(api_key: str) -> str:
    return f"{api_key[:4]}****{api_key[-4:]}" if len(api_key) > 8 else "****"


def _strip_scheme(header_value: str, *, require_bearer: bool) -> str:
    # auth/user_api_key_auth.py get_bearer_token (Authorization) / _get_bearer_token_or_received_api_key (x-litellm-api-key).
    for prefix in ("Bearer ", "Basic ", "bearer "):
        if header_value.startswith(prefix):
            return header_value.replace(prefix, "")
    return "" if require_bearer else header_value


class AdminEmulator:
    """LiteLLM admin API on 127.0.0.1, backed by in-memory state; see the module docstring."""

    def __init__(
        self,
        master_key: str = "sk-emulator-master-0123456789",
        *,
        latency: float = 0.0,
        tls_files: tuple[str, str] | None = None,
    ) -> None:
        """`tls_files` = (certificate chain file, private key file), both PEM: serve HTTPS with them."""
        self.master_key = master_key
        self.latency = latency
        self.tls_files = tls_files
        self.base_url = ""
        self.models: dict[str, dict] = {}
        self.keys: dict[str, dict] = {}
        self.teams: dict[str, dict] = {}
        # Soft-deleted keys (KME persist_deleted_verification_tokens archive), by token hash.
        self.deleted_keys: dict[str, dict] = {}
        # The next N /v2/model/info answers come from a worker whose router holds no model yet (it has
        # not reloaded since the first model was written): PS model_info_v2's early empty page.
        self.empty_router_answers = 0
        # Whether a router accepts a deployment, by its JSON (building one is slow).
        self._serves_cache: dict[str, bool] = {}
        self.access_log: list[dict] = []
        self._faults: list[dict] = []
        self._lock = threading.Lock()
        # Seeded per instance so generated keys and ids repeat from run to run.
        self._rng = random.Random(0)
        self._insert_sequence = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.app = self._build_app()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> AdminEmulator:
        if self._thread is not None:
            raise RuntimeError("AdminEmulator already started")
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        config = uvicorn.Config(
            _TrafficMiddleware(self.app, self),
            host="127.0.0.1",
            port=port,
            http="h11",  # the "drop" fault reaches into the h11 request cycle
            lifespan="off",
            log_level="warning",
            access_log=False,
            ssl_certfile=self.tls_files[0] if self.tls_files else None,
            ssl_keyfile=self.tls_files[1] if self.tls_files else None,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [listener]}, name="admin-emulator", daemon=True
        )
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("AdminEmulator server failed to start")
            time.sleep(0.01)
        self.base_url = f"{'https' if self.tls_files else 'http'}://127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        # The test is over: do not wait for idle keep-alive (TLS) connections to close by themselves
        # (uvicorn's graceful shutdown otherwise waits out the full join timeout).
        self._server.force_exit = True
        self._thread.join(timeout=10)
        self._server = None
        self._thread = None

    def __enter__(self) -> AdminEmulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ test controls
    def count(self, method: str | None = None, path: str | None = None) -> int:
        with self._lock:
            return sum(
                1
                for entry in self.access_log
                if (method is None or entry["method"] == method.upper()) and (path is None or entry["path"] == path)
            )

    def reset_counts(self) -> None:
        """Forget the requests seen so far (count() and access_log start from zero)."""
        with self._lock:
            self.access_log.clear()

    def inject_fault(self, method: str, path: str, kind: str, times: int = 1, seconds: float = 0.0) -> None:
        """Make the next `times` requests to exactly `method path` misbehave as `kind` (see FAULT_KINDS)."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(FAULT_KINDS)}")
        if times < 1:
            raise ValueError("times must be >= 1")
        with self._lock:
            self._faults.append({"method": method.upper(), "path": path, "kind": kind, "remaining": times, "seconds": seconds})

    def _take_fault(self, method: str, path: str) -> dict | None:
        with self._lock:
            for fault in self._faults:
                if fault["method"] == method and fault["path"] == path and fault["remaining"] > 0:
                    fault["remaining"] -= 1
                    return dict(fault)
            return None

    # ------------------------------------------------------------------ helpers
    def _random_hex(self, length: int) -> str:
        return "".join(self._rng.choice("0123456789abcdef") for _ in range(length))

    def _new_uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _new_raw_key(self) -> str:
        # KME generate_key_helper_fn: f"sk-{secrets.token_urlsafe(LENGTH_OF_LITELLM_GENERATED_KEY)}" (22 url-safe chars).
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        return "sk-" + "".join(self._rng.choice(alphabet) for _ in range(22))

    def _next_sequence(self) -> int:
        self._insert_sequence += 1
        return self._insert_sequence

    def _encrypt(self, value: str) -> str:
        # The real proxy stores nacl-encrypted values; a keyed digest is just as unusable as state and stays deterministic.
        digest = hmac.new(self.master_key.encode(), value.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode()

    def _require_master_key(self, request: Request) -> None:
        # auth/user_api_key_auth.py get_api_key: x-litellm-api-key wins over Authorization.
        custom_header = request.headers.get("x-litellm-api-key")
        authorization = request.headers.get("authorization")
        if custom_header is not None:
            api_key: str | None = _strip_scheme(custom_header, require_bearer=False)
        elif authorization:
            api_key = _strip_scheme(authorization, require_bearer=True)
        else:
            api_key = None
        if api_key is None:
            raise _proxy_error("Authentication Error, No api key passed in.", ProxyErrorTypes.auth_error, "None", 401)
        if api_key == "":
            raise _proxy_error(
                "Authentication Error, Malformed API Key passed in. Ensure Key has `Bearer ` prefix.",
                ProxyErrorTypes.auth_error,
                "None",
                401,
            )
        if hmac.compare_digest(api_key, self.master_key):
            return
        if not api_key.startswith("sk-"):
            # user_api_key_auth: non-sk key -> HTTPException 401, mapped by auth_exception_handler._as_proxy_exception.
            raise _converted_auth_style_error(
                f"{INVALID_VIRTUAL_KEY_ERROR_MESSAGE}. Received={_masked(api_key)}, expected to start with 'sk-'.", 401
            )
        # auth/resolvers/exceptions.py KeyNotFoundError.
        raise _proxy_error(INVALID_API_KEY_ERROR_MESSAGE, ProxyErrorTypes.token_not_found_in_db, "key", 401)

    # ------------------------------------------------------------------ model views
    def _model_router_entry(self, row: Mapping[str, Any]) -> dict:
        # PS get_model_info_with_id + router.py _create_deployment: what the router holds for a DB model.
        model_info = {**row["model_info"], "id": row["model_id"], "db_model": True, "blocked": bool(row["blocked"])}
        deployment = Deployment(
            model_name=row["model_name"],
            litellm_params=LiteLLM_Params.model_validate(copy.deepcopy(row["litellm_params"])),
            model_info=RouterModelInfo(**model_info),
        )
        return deployment.to_json(exclude_none=True)

    def _serves(self, row: Mapping[str, Any]) -> bool:
        """Whether a worker's router takes the row on reload (PS ProxyConfig._add_deployment ->
        Router.upsert_deployment; a deployment it refuses, e.g. an unknown provider, is logged and
        skipped: saved, but not served)."""
        try:
            entry = self._model_router_entry(row)
        except Exception:
            return False
        cache_key = json.dumps(entry, sort_keys=True, default=str)
        if cache_key not in self._serves_cache:
            # Router.upsert_deployment -> _create_deployment fails on the provider resolution (an unknown
            # provider prefix): LiteLLM's own get_llm_provider, without building a whole Router (slow).
            params = entry.get("litellm_params") or {}
            try:
                Deployment(**entry)
                get_llm_provider(model=params.get("model"), custom_llm_provider=params.get("custom_llm_provider"), api_base=params.get("api_base"))
                self._serves_cache[cache_key] = True
            except Exception:
                self._serves_cache[cache_key] = False
        return self._serves_cache[cache_key]

    def _live_model_ids(self) -> frozenset[str]:
        # MME live_model_ids_snapshot: what the handling worker's router serves after its reload.
        return frozenset(model_id for model_id, row in self.models.items() if self._serves(row))

    def _router_for_checks(self) -> Router:
        """A router holding the served deployments, for LiteLLM's own access checks."""
        return Router(model_list=[self._model_router_entry(row) for row in self.models.values() if self._serves(row)])

    def _sync_allowlists_for_rename(self, model_id: str, old_name: str, new_name: str) -> None:
        """management_helpers/model_allowlist_rename_sync.py sync_model_allowlists_for_renamed_model, on
        the teams' and keys' `models`: when no other deployment still carries the old name it is replaced
        by the new one (`array_replace(array_remove(models, new), old, new)`), otherwise the new name is
        appended (`array_append`, where the old name is listed and the new one is not)."""
        if old_name == new_name:
            return
        # access_group_model_sync.still_backed: rows still named old_name after the write.
        still_backed = any(row["model_name"] == old_name for other, row in self.models.items() if other != model_id)
        for table in (self.teams, self.keys):
            for row in table.values():
                models = list(row.get("models") or [])
                if old_name not in models:
                    continue
                if still_backed:
                    if new_name not in models:
                        row["models"] = [*models, new_name]
                else:
                    row["models"] = [new_name if name == old_name else name for name in models if name != new_name]

    def _model_read_view(self, row: Mapping[str, Any]) -> dict:
        enriched = _enrich_model_info_with_litellm_data(model=self._model_router_entry(row), llm_router=None)
        return _translate_model_name_for_response(enriched)

    def _model_write_response(self, row: Mapping[str, Any]) -> dict:
        # MME add_model_to_db: each str litellm_param is encrypted before the row is written and returned.
        encrypted_params = {k: self._encrypt(v) if isinstance(v, str) else v for k, v in row["litellm_params"].items()}
        return {**copy.deepcopy(dict(row)), "litellm_params": encrypted_params}

    # ------------------------------------------------------------------ key views
    def _key_status(self, row: Mapping[str, Any]) -> str:
        # KME _derive_key_status.
        if row.get("blocked") is True:
            return "revoked"
        if row.get("expires") is None:
            return "active"
        expires = datetime.fromisoformat(row["expires"])
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=timezone.utc)
        return "expired" if expires < _utc_now() else "active"

    @staticmethod
    def _key_row_dump(row: Mapping[str, Any]) -> dict:
        return {**copy.deepcopy({k: v for k, v in row.items() if not k.startswith("_")}), **_KEY_RELATIONS}

    def _archive_keys(self, token_hashes: list[str]) -> None:
        # KME delete_verification_tokens -> persist_deleted_verification_tokens: rows move to an archive table.
        deleted_at = _iso(_utc_now())
        for token_hash in token_hashes:
            row = self.keys.pop(token_hash)
            self.deleted_keys[token_hash] = {
                **row,
                "deleted_at": deleted_at,
                "deleted_by": LITELLM_PROXY_ADMIN_NAME,
                "deleted_by_api_key": hash_token_if_needed(self.master_key),
                "litellm_changed_by": None,
            }

    @staticmethod
    def _refuse_unmodelled_limit_types(data: Any) -> None:
        # KME _check_team_key_limits counts the team's other keys for guaranteed throughput: not modelled.
        if "guaranteed_throughput" in (getattr(data, "tpm_limit_type", None), getattr(data, "rpm_limit_type", None)):
            raise _proxy_error("guaranteed_throughput limits are not modelled by the emulator", "not_implemented", None, 501)

    async def _validate_key_update(self, data: UpdateKeyRequest, existing: Mapping[str, Any], team_row: Mapping[str, Any] | None) -> None:
        """KME _validate_update_key_data, for a master-key caller: LiteLLM's own budget_duration check,
        then, for a move to another team, LiteLLM's own validate_key_team_change against the key's
        STORED models and limits (not the ones in this request)."""
        _litellm_check(_converted_auth_style_error, lambda: validate_budget_duration(data.budget_duration))
        stored = LiteLLM_VerificationToken.model_validate({k: v for k, v in existing.items() if not k.startswith("_")})
        if not is_different_team(data=data, existing_key_row=stored):
            return
        if team_row is None:
            # KME: an admin may name a team that does not exist; the move check then has no team.
            raise _converted_auth_style_error({"error": "Team object not found for team change validation"}, 500)
        team = LiteLLM_TeamTable.model_validate(dict(team_row))
        admin = UserAPIKeyAuth(user_role=LitellmUserRoles.PROXY_ADMIN, api_key=hash_token_if_needed(self.master_key))
        router = self._router_for_checks()
        await _litellm_check_async(
            _converted_auth_style_error,
            lambda: validate_key_team_change(key=stored, team=team, change_initiated_by=admin, llm_router=router),
        )

    # ------------------------------------------------------------------ app
    def _build_app(self) -> FastAPI:
        app = FastAPI()
        emulator = self
        lock = self._lock
        admin = [Depends(self._require_master_key)]

        @app.exception_handler(ProxyException)
        async def proxy_exception_handler(_request: Request, exc: ProxyException) -> JSONResponse:
            # PS openai_exception_handler.
            status_code = int(exc.code) if exc.code else 500
            return JSONResponse(status_code=status_code, content={"error": _json_safe(exc.to_dict())}, headers=exc.headers)

        @app.exception_handler(RequestValidationError)
        async def validation_exception_handler(_request: Request, exc: RequestValidationError) -> JSONResponse:
            # PS otel_request_validation_exception_handler: only type/loc/msg of each error are returned.
            return JSONResponse(status_code=422, content={"detail": _json_safe(public_validation_errors(exc.errors()))})

        # -------------------------------------------------------------- health
        @app.get("/health/readiness")
        async def health_readiness() -> dict:
            return {"status": "healthy", "db": "connected"}

        @app.get("/health/liveliness")
        @app.get("/health/liveness")
        async def health_liveliness() -> str:
            return "I'm alive!"

        # -------------------------------------------------------------- models
        @app.post("/model/new", dependencies=admin)
        async def add_new_model(model_params: Deployment) -> JSONResponse:
            model_id = model_params.model_info.id
            # MME add_new_model: cost-map pricing echoed back by a client is not stored.
            model_info = dict(without_server_derived_pricing(model_params.model_info.model_dump(exclude_none=True)))
            model_name = model_params.model_name
            team_id = model_info.get("team_id")
            with lock:
                if model_id in emulator.models:
                    # MME add_new_model: the unique-id insert error is swallowed, then model_response is None -> 500.
                    raise _converted_auth_style_error(
                        {"error": "Failed to add model to db. Check your server logs for more details."}, 500
                    )
                if team_id is not None:
                    # MME add_team_model_to_db: the public name moves to team_public_model_name, the row gets a unique one.
                    model_info["team_public_model_name"] = model_name
                    model_name = f"model_name_{team_id}_{emulator._new_uuid()}"
                    team = emulator.teams.get(team_id)
                    if team is not None and model_params.model_name not in team["models"]:
                        team["models"] = [*team["models"], model_params.model_name]
                now = _iso(_utc_now())
                row = {
                    "model_id": model_id,
                    "model_name": model_name,
                    "litellm_params": model_params.litellm_params.model_dump(exclude_none=True),
                    "model_info": model_info,
                    "blocked": bool(model_params.blocked) if model_params.blocked is not None else False,
                    "created_at": now,
                    "created_by": LITELLM_PROXY_ADMIN_NAME,
                    "updated_at": now,
                    "updated_by": LITELLM_PROXY_ADMIN_NAME,
                }
                live_before = emulator._live_model_ids()
                emulator.models[model_id] = _json_safe(row)
                response = emulator._model_write_response(emulator.models[model_id])
                # MME add_new_model: after the reload, a written model this worker does not serve is a 500
                # (the row stays saved), raised by LiteLLM's own raise_if_reload_degraded_serving.
                raise_if_reload_degraded_serving(
                    before=live_before,
                    written_models=[(model_id, model_info)],
                    action="create",
                    still_desired=frozenset(emulator.models),
                    live_after=emulator._live_model_ids(),
                )
            return JSONResponse(response)

        @app.patch("/model/{model_id}/update", dependencies=admin)
        async def patch_model(model_id: str, patch_data: updateDeployment) -> JSONResponse:
            with lock:
                row = emulator.models.get(model_id)
                if row is None:
                    raise _proxy_error(f"Model {model_id} not found on proxy.", ProxyErrorTypes.not_found_error, None, 404)
                updated = copy.deepcopy(row)
                # MME update_db_model: non-null fields of the patch merge over the stored row.
                if patch_data.model_name:
                    updated["model_name"] = patch_data.model_name
                if patch_data.litellm_params:
                    updated["litellm_params"].update(_json_safe(patch_data.litellm_params.model_dump(exclude_none=True)))
                if patch_data.model_info:
                    # As in MME update_db_model, this includes the id ModelInfo generates when the patch has none, so the
                    # stored model_info.id drifts; reads take the id from the row key (PS get_model_info_with_id).
                    incoming_info = without_server_derived_pricing(patch_data.model_info.model_dump(exclude_none=True))
                    updated["model_info"].update(_json_safe(dict(incoming_info)))
                # MME update_db_model: an explicit null clears only the NULL_CLEARABLE_LITELLM_PARAMS (pricing, credential name).
                if patch_data.litellm_params:
                    for field in patch_data.litellm_params.model_fields_set:
                        if getattr(patch_data.litellm_params, field) is None and field in NULL_CLEARABLE_LITELLM_PARAMS:
                            updated["litellm_params"].pop(field, None)
                            updated["model_info"].pop(field, None)
                if patch_data.blocked is not None:
                    updated["blocked"] = patch_data.blocked
                updated["updated_at"] = _iso(_utc_now())
                updated["updated_by"] = LITELLM_PROXY_ADMIN_NAME
                live_before = emulator._live_model_ids()
                emulator.models[model_id] = updated
                if updated["model_name"] != row["model_name"] and row["model_info"].get("team_id") is None:
                    # MME patch_model: a rename rewrites the allowlists that named the old name.
                    emulator._sync_allowlists_for_rename(model_id, row["model_name"], updated["model_name"])
                response = emulator._model_write_response(updated)
                raise_if_reload_degraded_serving(
                    before=live_before,
                    written_models=[(model_id, updated["model_info"])],
                    action="update",
                    still_desired=frozenset(emulator.models),
                    live_after=emulator._live_model_ids(),
                )
            return JSONResponse(response)

        @app.post("/model/update", dependencies=admin)
        async def update_model(model_params: updateDeployment) -> JSONResponse:
            # MME update_model: plain Exceptions become 400 "Authentication Error, <msg>".
            if model_params.model_info is None:
                raise _converted_auth_style_error("Authentication Error, model_info not provided", 400)
            model_id = model_params.model_info.id
            if model_id is None:
                raise _converted_auth_style_error("Authentication Error, model_info.id not provided", 400)
            with lock:
                row = emulator.models.get(model_id)
                if row is None:
                    raise _converted_auth_style_error("Authentication Error, model not found", 400)
                if model_params.litellm_params is None:
                    raise _converted_auth_style_error("Authentication Error, litellm_params not provided", 400)
                existing_params = row["litellm_params"]
                new_params = _json_safe(model_params.litellm_params.model_dump(exclude_none=True))
                # MME update_model: merged over the class's fields only, so stored extra params not re-sent are dropped.
                merged = {
                    key: existing_params[key] if value is None else new_params[key]
                    for key, value in model_params.litellm_params.model_dump().items()
                    if value is not None or existing_params.get(key) is not None
                }
                updated = copy.deepcopy(row)
                updated["litellm_params"] = merged
                # MME update_model: model_info is not written by this endpoint; a non-team model may be renamed.
                if model_params.model_name not in (None, row["model_name"]) and row["model_info"].get("team_id") is None:
                    updated["model_name"] = model_params.model_name
                updated["updated_by"] = LITELLM_PROXY_ADMIN_NAME
                updated["updated_at"] = _iso(_utc_now())
                emulator.models[model_id] = updated
                emulator._sync_allowlists_for_rename(model_id, row["model_name"], updated["model_name"])
                response = emulator._model_write_response(updated)
            return JSONResponse(response)

        @app.post("/model/delete", dependencies=admin)
        async def delete_model(model_info: ModelInfoDelete) -> dict:
            with lock:
                row = emulator.models.get(model_info.id)
                if row is None:
                    # MME delete_model: HTTPException(400) re-raised as ProxyException.
                    raise _converted_auth_style_error({"error": f"Model with id={model_info.id} not found in db"}, 400)
                del emulator.models[model_info.id]
                team_id = row["model_info"].get("team_id")
                public_name = row["model_info"].get("team_public_model_name")
                team = emulator.teams.get(team_id) if team_id is not None else None
                still_backed = any(
                    m["model_info"].get("team_id") == team_id and m["model_info"].get("team_public_model_name") == public_name
                    for m in emulator.models.values()
                )
                if team is not None and not still_backed:
                    # MME _remove_unbacked_team_models.
                    team["models"] = [name for name in team["models"] if name != public_name]
            return {"message": f"Model: {model_info.id} deleted successfully"}

        @app.get("/v2/model/info", dependencies=admin)
        async def model_info_v2(
            model: str | None = Query(None),
            page: int = Query(1, ge=1),
            size: int = Query(50, ge=1),
            search: str | None = Query(None),
            modelId: str | None = Query(None),  # noqa: N803 - the real query parameter name
        ) -> dict:
            with lock:
                rows = [copy.deepcopy(row) for row in emulator.models.values()]
                lagging = emulator.empty_router_answers > 0
                if lagging:
                    emulator.empty_router_answers -= 1
            if not rows or lagging:
                # PS model_info_v2: no model in this worker's router (none yet, or not reloaded since the
                # first write) -> empty page without touching the DB, even for a modelId lookup.
                return {"data": [], "total_count": 0, "current_page": page, "total_pages": 0, "size": size}
            if modelId is not None:
                rows = [row for row in rows if row["model_id"] == modelId]
            if model is not None:
                rows = [row for row in rows if model in (row["model_name"], row["model_info"].get("team_public_model_name"))]
            if search:
                needle = search.lower().strip()
                rows = [
                    row
                    for row in rows
                    if needle in row["model_name"].lower()
                    or needle in str(row["model_info"].get("team_public_model_name") or "").lower()
                ]
            views = [emulator._model_read_view(row) for row in rows]
            # PS _paginate_models_response.
            total = len(views)
            skip = (page - 1) * size
            return _json_safe(
                {
                    "data": views[skip : skip + size],
                    "total_count": total,
                    "current_page": page,
                    "total_pages": -(-total // size) if total > 0 else 0,
                    "size": size,
                }
            )

        @app.get("/model/info", dependencies=admin)
        @app.get("/v1/model/info", dependencies=admin)
        async def model_info_v1(litellm_model_id: str | None = None) -> dict:
            with lock:
                rows = [copy.deepcopy(row) for row in emulator.models.values()]
            if litellm_model_id is not None:
                rows = [row for row in rows if row["model_id"] == litellm_model_id]
                if not rows:
                    # PS model_info_v1: a bare HTTPException, so the body is {"detail": {...}}.
                    raise HTTPException(
                        status_code=400, detail={"error": f"Model id = {litellm_model_id} not found on litellm proxy"}
                    )
            views = []
            for row in rows:
                view = emulator._model_read_view(row)
                # PS _populate_team_access_on_models for an admin caller.
                team_id = row["model_info"].get("team_id")
                view["model_info"]["access_via_team_ids"] = [team_id] if team_id else []
                view["model_info"]["direct_access"] = team_id is None
                views.append(view)
            return _json_safe({"data": views})

        # -------------------------------------------------------------- keys
        @app.post("/key/generate", dependencies=admin)
        async def generate_key(data: GenerateKeyRequest) -> JSONResponse:
            if data.max_budget is not None and (not math.isfinite(data.max_budget) or data.max_budget < 0):
                raise _converted_http_error(
                    {"error": f"max_budget must be a non-negative finite number. Received: {data.max_budget}"}, 400
                )
            emulator._refuse_unmodelled_limit_types(data)
            # KME _common_key_generation_helper: LiteLLM's own check ("0d" and other non-positive durations -> 400).
            _litellm_check(_converted_http_error, lambda: validate_budget_duration(data.budget_duration))
            # KME _common_key_generation_helper: metadata-backed request fields are folded into metadata.
            metadata = dict(data.metadata or {})
            for field in _METADATA_BACKED_FIELDS:
                value = getattr(data, field, None)
                if value is not None:
                    metadata[field] = value
            request_fields = data.model_dump(exclude_unset=True, exclude_none=True)
            for field in _METADATA_BACKED_FIELDS:
                request_fields.pop(field, None)
            if data.key_type is not None:
                # KME handle_key_type.
                request_fields["key_type"] = data.key_type.value
                preset = {"llm_api": ["llm_api_routes"], "management": ["management_routes"], "read_only": ["info_routes"]}
                if data.key_type.value in preset:
                    request_fields["allowed_routes"] = preset[data.key_type.value]
            key_alias = request_fields.get("key_alias")
            with lock:
                if key_alias is not None and any(row["key_alias"] == key_alias for row in emulator.keys.values()):
                    # KME _enforce_unique_key_alias (checked before the key value, so even an exact resend clashes).
                    raise _proxy_error(
                        f"Key with alias '{key_alias}' already exists. Unique key aliases across all keys are required.",
                        ProxyErrorTypes.bad_request_error,
                        "key_alias",
                        400,
                    )
                if data.key is not None and not data.key.startswith("sk-"):
                    raise _converted_http_error(
                        {
                            "error": f"Invalid key format. LiteLLM Virtual Key must start with 'sk-'. Received: {_masked(data.key)}"
                        },
                        400,
                    )
                if data.key is not None and len(data.key) < MINIMUM_CUSTOM_KEY_LENGTH:
                    raise _converted_http_error(
                        {
                            "error": f"Invalid key format. LiteLLM Virtual Key must be at least {MINIMUM_CUSTOM_KEY_LENGTH} characters long."
                        },
                        400,
                    )
                raw_key = data.key if data.key is not None else emulator._new_raw_key()
                now = _utc_now()
                expires = None if data.duration is None else now + timedelta(seconds=duration_in_seconds(data.duration))
                budget_duration = request_fields.get("budget_duration")
                # KME generate_key_helper_fn key_data: the columns written for a new key.
                key_data = {
                    "token": raw_key,
                    "key_alias": key_alias,
                    "expires": _iso(expires),
                    "models": request_fields.get("models", []),
                    "aliases": request_fields.get("aliases", {}),
                    "config": request_fields.get("config", {}),
                    "spend": request_fields.get("spend", 0.0),
                    "max_budget": request_fields.get("max_budget"),
                    "user_id": request_fields.get("user_id"),
                    "team_id": request_fields.get("team_id"),
                    "agent_id": request_fields.get("agent_id"),
                    "project_id": request_fields.get("project_id"),
                    "max_parallel_requests": request_fields.get("max_parallel_requests"),
                    "metadata": metadata,
                    "tpm_limit": request_fields.get("tpm_limit"),
                    "rpm_limit": request_fields.get("rpm_limit"),
                    "tpd_limit": request_fields.get("tpd_limit"),
                    "budget_duration": budget_duration,
                    "budget_reset_at": _iso(get_budget_reset_time(budget_duration=budget_duration)) if budget_duration else None,
                    "allowed_cache_controls": request_fields.get("allowed_cache_controls", []),
                    "permissions": request_fields.get("permissions", {}),
                    "model_max_budget": request_fields.get("model_max_budget", {}),
                    "budget_fallbacks": request_fields.get("budget_fallbacks") or {},
                    "organization_id": request_fields.get("organization_id"),
                    "budget_id": request_fields.get("budget_id"),
                    "blocked": request_fields.get("blocked"),
                    "budget_limits": request_fields.get("budget_limits"),
                    "created_by": LITELLM_PROXY_ADMIN_NAME,
                    "updated_by": LITELLM_PROXY_ADMIN_NAME,
                    "allowed_routes": request_fields.get("allowed_routes") or [],
                    "key_type": request_fields.get("key_type"),
                    "router_settings": request_fields.get("router_settings") or {},
                    "access_group_ids": request_fields.get("access_group_ids") or [],
                    "auto_rotate": bool(request_fields.get("auto_rotate", False)),
                    "rotation_interval": request_fields.get("rotation_interval"),
                    "key_name": abbreviate_api_key(api_key=raw_key),
                }
                key_data = _json_safe(key_data)
                token_hash = hash_token_if_needed(raw_key)
                stored = emulator.keys.get(token_hash)
                if stored is None:
                    # utils.PrismaClient.insert_data(table_name="key") is an upsert with update={}.
                    stored = {
                        **copy.deepcopy(dict(_KEY_COLUMN_DEFAULTS)),
                        **copy.deepcopy(key_data),
                        "token": token_hash,
                        "created_at": _iso(now),
                        "updated_at": _iso(now),
                        "_sequence": emulator._next_sequence(),
                    }
                    emulator.keys[token_hash] = stored
                # A duplicate custom key lands here too: the existing row is untouched and the response
                # echoes the request (upsert update={}, BerriAI/litellm#20494).
                response_fields = {
                    **key_data,
                    "token_id": token_hash,
                    "litellm_budget_table": None,
                    "created_at": stored["created_at"],
                    "updated_at": stored["updated_at"],
                    "budget_id": request_fields.get("budget_id"),
                    "soft_budget": data.soft_budget,
                }
            response = GenerateKeyResponse.model_validate(response_fields)
            # KME _common_key_generation_helper: token is remapped to the hash; the raw key stays in `key`.
            response.token = response.token_id
            return JSONResponse(_json_safe(response))

        @app.post("/key/update", dependencies=admin)
        async def update_key(data: UpdateKeyRequest) -> JSONResponse:
            if data.max_budget is not None and (not math.isfinite(data.max_budget) or data.max_budget < 0):
                raise _converted_auth_style_error(
                    {"error": f"max_budget must be a non-negative finite number. Received: {data.max_budget}"}, 400
                )
            emulator._refuse_unmodelled_limit_types(data)
            with lock:
                # KME _get_and_validate_existing_key, then _validate_update_key_data (outside the lock below:
                # LiteLLM's checks are coroutines).
                if data.key is not None:
                    existing = emulator.keys.get(hash_token_if_needed(data.key))
                else:
                    existing = next((r for r in emulator.keys.values() if r["key_alias"] == data.key_alias), None)
                existing = copy.deepcopy(existing) if existing is not None else None
                team_id_to_check = data.team_id or (existing or {}).get("team_id")
                team_row = copy.deepcopy(emulator.teams.get(team_id_to_check)) if team_id_to_check else None
            if existing is not None:
                await emulator._validate_key_update(data, existing, team_row)
            with lock:
                # KME _get_and_validate_existing_key.
                if data.key is not None:
                    row = emulator.keys.get(hash_token_if_needed(data.key))
                    if row is None:
                        raise _proxy_error("Key not found.", ProxyErrorTypes.not_found_error, "key", 404)
                elif data.key_alias is None:
                    raise _proxy_error(
                        "either key or key_alias must be provided", ProxyErrorTypes.bad_request_error, "key", 400
                    )
                else:
                    matches = [r for r in emulator.keys.values() if r["key_alias"] == data.key_alias]
                    if not matches:
                        raise _proxy_error(
                            f"Key not found. No key with key_alias='{data.key_alias}'.",
                            ProxyErrorTypes.not_found_error,
                            "key_alias",
                            404,
                        )
                    if len(matches) > 1:
                        raise _proxy_error(
                            f"Multiple keys share key_alias='{data.key_alias}', so it cannot be used as an identifier.",
                            ProxyErrorTypes.bad_request_error,
                            "key_alias",
                            400,
                        )
                    row = matches[0]
                # KME _resolve_token_to_update: the response echoes the key as passed, else the stored hash.
                key_as_passed = data.key if data.key is not None else row["token"]
                # KME prepare_key_update_data: a merge patch of the fields the caller actually sent.
                changes = _json_safe(data.model_dump(exclude_unset=True))
                for request_only in ("key", "new_key", "grace_period"):
                    changes.pop(request_only, None)
                for field in _METADATA_BACKED_FIELDS:
                    changes.pop(field, None)
                if "duration" in changes:
                    duration = changes.pop("duration")
                    if duration is None or duration == "-1":
                        changes["expires"] = None
                    elif isinstance(duration, str) and duration:
                        # Re-sending the same duration recomputes expires from now, i.e. extends the key.
                        changes["expires"] = _iso(_utc_now() + timedelta(seconds=duration_in_seconds(duration)))
                if "budget_duration" in changes:
                    budget_duration = changes["budget_duration"]
                    changes["budget_reset_at"] = (
                        _iso(get_budget_reset_time(budget_duration=budget_duration)) if budget_duration else None
                    )
                # KME prepare_metadata_fields: `metadata` replaces the stored dict whole; metadata-backed fields merge in.
                metadata = changes.pop("metadata") if "metadata" in changes else copy.deepcopy(row["metadata"])
                metadata = {} if metadata is None else dict(metadata)
                for field, value in _json_safe(data.model_dump(exclude_unset=True, exclude_none=True)).items():
                    if field in _METADATA_BACKED_FIELDS:
                        metadata[field] = value
                changes["metadata"] = metadata
                new_alias = changes.get("key_alias")
                if new_alias is not None and any(
                    r["key_alias"] == new_alias and r["token"] != row["token"] for r in emulator.keys.values()
                ):
                    raise _proxy_error(
                        f"Key with alias '{new_alias}' already exists. Unique key aliases across all keys are required.",
                        ProxyErrorTypes.bad_request_error,
                        "key_alias",
                        400,
                    )
                for column, value in changes.items():
                    # Only real columns are written; request-only fields (soft_budget, object_permission, ...) are not modelled.
                    if column in _KEY_COLUMN_DEFAULTS and column != "token":
                        row[column] = value
                now = _iso(_utc_now())
                row["updated_at"] = now
                row["settings_updated_at"] = now
                row["updated_by"] = LITELLM_PROXY_ADMIN_NAME
                response = {"key": key_as_passed, **emulator._key_row_dump(row)}
            return JSONResponse(_json_safe(response))

        @app.post("/key/block", dependencies=admin)
        async def block_key(data: BlockKeyRequest) -> JSONResponse:
            # KME block_key: 404 "Key not found." for an unknown key; else blocked=True, the row back.
            with lock:
                row = emulator.keys.get(hash_token_if_needed(data.key))
                if row is None:
                    raise ProxyException("Key not found.", ProxyErrorTypes.not_found_error, "key", 404)
                row["blocked"] = True
                now = _iso(_utc_now())
                row["updated_at"] = now
                row["settings_updated_at"] = now
                response = emulator._key_row_dump(row)
            return JSONResponse(_json_safe(response))

        @app.post("/key/delete", dependencies=admin)
        async def delete_key(data: KeyRequest) -> dict:
            with lock:
                if data.keys:
                    wanted = [hash_token_if_needed(k) for k in data.keys]
                    echoed = data.keys
                else:
                    aliases = set(data.key_aliases or [])
                    wanted = [token for token, row in emulator.keys.items() if row["key_alias"] in aliases]
                    echoed = data.key_aliases or []
                found = [token for token in dict.fromkeys(wanted) if token in emulator.keys]
                if not found:
                    # KME delete_verification_tokens, via handle_exception_on_proxy.
                    raise _converted_http_error({"error": "No keys found"}, 404)
                emulator._archive_keys(found)
            # KME delete_key_fn echoes what was asked for, even when only some of it existed.
            return {"deleted_keys": echoed}

        @app.get("/key/info", dependencies=admin)
        async def key_info(request: Request, key: str | None = Query(None)) -> JSONResponse:
            looked_up = key
            if looked_up is None:
                # KME info_key_fn: defaults to the caller's own key.
                header = request.headers.get("x-litellm-api-key") or request.headers.get("authorization") or ""
                looked_up = _strip_scheme(header, require_bearer=False)
            token_hash = hash_token_if_needed(looked_up)
            with lock:
                live = emulator.keys.get(token_hash)
                archived = emulator.deleted_keys.get(token_hash)
                if live is not None:
                    info = emulator._key_row_dump(live)
                    info.pop("token")
                    info["status"] = emulator._key_status(live)
                elif archived is not None:
                    # KME _find_deleted_key_info: archived rows are read back through LiteLLM_DeletedVerificationToken.
                    archived_row = {k: v for k, v in archived.items() if not k.startswith("_")}
                    info = LiteLLM_DeletedVerificationToken.model_validate(archived_row).model_dump()
                    info.pop("token")
                    info["status"] = "deleted"
                else:
                    raise _proxy_error("Key not found in database", ProxyErrorTypes.not_found_error, "key", 404)
            return JSONResponse(_json_safe({"key": looked_up, "info": info}))

        @app.get("/key/list", dependencies=admin)
        async def list_keys(
            page: int = Query(1, ge=1),
            size: int = Query(10, ge=1, le=100),
            user_id: str | None = Query(None),
            team_id: str | None = Query(None),
            organization_id: str | None = Query(None),
            key_hash: str | None = Query(None),
            key_alias: str | None = Query(None),
            return_full_object: bool = Query(False),
            substring_matching: bool = Query(False),
            expires: str | None = Query(None),
        ) -> JSONResponse:
            def alias_matches(row: Mapping[str, Any]) -> bool:
                if not key_alias:
                    return True
                if substring_matching:
                    # KME list_key_helper: {"contains": key_alias, "mode": "insensitive"}.
                    return key_alias.lower() in (row["key_alias"] or "").lower()
                return row["key_alias"] == key_alias

            def expiry_matches(row: Mapping[str, Any]) -> bool:
                if expires not in ("expired", "active"):
                    return True
                expired = emulator._key_status({**row, "blocked": None}) == "expired"
                return expired if expires == "expired" else not expired

            with lock:
                rows = [
                    emulator._key_row_dump(row) | {"_sequence": row["_sequence"]}
                    for row in emulator.keys.values()
                    if row["team_id"] != _UI_SESSION_TEAM_ID
                    and (user_id is None or row["user_id"] == user_id)
                    and (team_id is None or row["team_id"] == team_id)
                    and (organization_id is None or row["organization_id"] == organization_id)
                    and (key_hash is None or row["token"] == key_hash)
                    and alias_matches(row)
                    and expiry_matches(row)
                ]
            # KME list_key_helper orders by created_at desc, then token desc; insertion order stands in for created_at.
            rows.sort(key=lambda row: (row["_sequence"], row["token"]), reverse=True)
            total_count = len(rows)
            skip = (page - 1) * size
            page_rows = [{k: v for k, v in row.items() if k != "_sequence"} for row in rows[skip : skip + size]]
            keys: list = (
                [UserAPIKeyAuth(**row) for row in page_rows] if return_full_object else [row["token"] for row in page_rows]
            )
            return JSONResponse(
                _json_safe(
                    {
                        "keys": keys,
                        "total_count": total_count,
                        "current_page": page,
                        "total_pages": -(-total_count // size),
                    }
                )
            )

        # -------------------------------------------------------------- teams
        @app.post("/team/new", dependencies=admin)
        async def new_team(data: NewTeamRequest) -> JSONResponse:
            for budget_field in ("max_budget", "soft_budget"):
                budget = getattr(data, budget_field)
                if budget is not None and (not math.isfinite(budget) or budget < 0):
                    raise _converted_http_error(
                        {"error": f"{budget_field} must be a non-negative finite number. Received: {budget}"}, 400
                    )
            # TE new_team: LiteLLM's own check, wrapped by handle_exception_on_proxy.
            _litellm_check(_converted_http_error, lambda: validate_budget_duration(data.budget_duration))
            _litellm_check(_converted_http_error, lambda: validate_budget_duration(data.team_member_budget_duration))
            with lock:
                team_id = data.team_id if data.team_id is not None else emulator._new_uuid()
                if team_id == _UI_SESSION_TEAM_ID:
                    raise _converted_http_error(
                        {
                            "error": f"team_id '{_UI_SESSION_TEAM_ID}' is reserved for LiteLLM UI dashboard sessions and cannot be used for a real team. Please use a different team id."
                        },
                        400,
                    )
                if team_id in emulator.teams:
                    raise _converted_http_error(
                        {"error": f"Team id = {team_id} already exists. Please use a different team id."}, 400
                    )
                request_fields = _json_safe(data.json())
                request_fields["team_id"] = team_id
                # TE new_team: the row is LiteLLM_TeamTable(**data_json) with metadata-backed fields folded in.
                team_model = LiteLLM_TeamTable(**request_fields, model_id=None)
                row_fields = _json_safe(team_model.model_dump(exclude_none=True))
                metadata = dict(row_fields.get("metadata") or {})
                for field in _METADATA_BACKED_FIELDS:
                    value = request_fields.get(field)
                    if value is not None:
                        metadata[field] = value
                now = _iso(_utc_now())
                row = {
                    **copy.deepcopy(dict(_TEAM_COLUMN_DEFAULTS)),
                    **{k: v for k, v in row_fields.items() if k in _TEAM_COLUMN_DEFAULTS},
                    "metadata": metadata,
                    "router_settings": request_fields.get("router_settings") or {},
                    "created_at": now,
                    "updated_at": now,
                }
                if row["budget_duration"] is not None:
                    row["budget_reset_at"] = _iso(get_budget_reset_time(budget_duration=row["budget_duration"]))
                emulator.teams[team_id] = row
                response = LiteLLM_TeamTable.model_validate(copy.deepcopy(row))
            # TE new_team is declared with response_model=LiteLLM_TeamTable.
            return JSONResponse(_json_safe(response))

        @app.post("/team/update", dependencies=admin)
        async def update_team(data: UpdateTeamRequest) -> JSONResponse:
            # TE update_team validates before it looks the team up.
            _litellm_check(_converted_http_error, lambda: validate_budget_duration(data.budget_duration))
            _litellm_check(_converted_http_error, lambda: validate_budget_duration(data.team_member_budget_duration))
            with lock:
                row = emulator.teams.get(data.team_id)
                if row is None:
                    raise _converted_http_error({"error": f"Team not found, passed team_id={data.team_id}"}, 404)
                changes = _json_safe(data.json(exclude_unset=True))
                if "model_max_budget" in changes and changes["model_max_budget"] is None:
                    changes["model_max_budget"] = {}
                # TE update_team: `metadata` replaces the stored dict; metadata-backed fields are written into it.
                metadata_backed = {k: changes.pop(k) for k in list(changes) if k in _METADATA_BACKED_FIELDS}
                if "metadata" in changes or metadata_backed:
                    metadata = changes.get("metadata", copy.deepcopy(row["metadata"]))
                    metadata = dict(metadata or {})
                    metadata.update({k: v for k, v in metadata_backed.items() if v is not None})
                    changes["metadata"] = metadata
                if "budget_duration" in changes:
                    budget_duration = changes["budget_duration"]
                    changes["budget_reset_at"] = (
                        _iso(get_budget_reset_time(budget_duration=budget_duration)) if budget_duration else None
                    )
                for column, value in changes.items():
                    if column in _TEAM_COLUMN_DEFAULTS and column != "team_id":
                        row[column] = value
                row["updated_at"] = _iso(_utc_now())
                response = {"team_id": row["team_id"], "data": copy.deepcopy(row)}
            return JSONResponse(_json_safe(response))

        @app.post("/team/delete", dependencies=admin)
        async def delete_team(data: DeleteTeamRequest) -> dict:
            with lock:
                for team_id in data.team_ids:
                    if team_id not in emulator.teams:
                        # TE delete_team raises this HTTPException outside any try, so the body is {"detail": ...}.
                        raise HTTPException(status_code=404, detail={"error": f"Team not found, passed team_id={team_id}"})
                doomed = set(data.team_ids)
                emulator._archive_keys([token for token, row in emulator.keys.items() if row["team_id"] in doomed])
                for model_id in [m for m, row in emulator.models.items() if row["model_info"].get("team_id") in doomed]:
                    # MME delete_team_models.
                    del emulator.models[model_id]
                for team_id in doomed:
                    del emulator.teams[team_id]
            return {"deleted_teams": data.team_ids}

        @app.get("/team/info", dependencies=admin)
        async def team_info(team_id: str | None = Query(None)) -> JSONResponse:
            if team_id is None:
                raise _converted_auth_style_error({"message": "Malformed request. No team id passed in."}, 422)
            with lock:
                row = emulator.teams.get(team_id)
                if row is None:
                    raise _converted_auth_style_error({"message": f"Team not found, passed team id: {team_id}."}, 404)
                team_keys = []
                for key_row in emulator.keys.values():
                    if key_row["team_id"] == team_id:
                        dumped = emulator._key_row_dump(key_row)
                        dumped.pop("token")
                        team_keys.append(dumped)
                team = TeamInfoResponseObjectTeamTable.model_validate(copy.deepcopy(row))
            # TE team_info -> TeamInfoResponseObject.
            return JSONResponse(_json_safe({"team_id": team_id, "team_info": team, "keys": team_keys, "team_memberships": []}))

        @app.get("/team/list", dependencies=admin)
        async def list_team(user_id: str | None = Query(None), organization_id: str | None = None) -> JSONResponse:
            with lock:
                teams = []
                for row in emulator.teams.values():
                    member_ids = {m.get("user_id") for m in row["members_with_roles"]}
                    if user_id is not None and user_id not in member_ids:
                        continue
                    team_keys = [emulator._key_row_dump(k) for k in emulator.keys.values() if k["team_id"] == row["team_id"]]
                    teams.append(
                        TeamListResponseObject(**copy.deepcopy(row), team_memberships=[], keys=team_keys)
                    )
            # TE list_team sorts by team_alias, then filters on organization_id ("default_organization" = none).
            teams.sort(key=lambda team: team.team_alias or "")
            if organization_id is not None:
                wanted = None if organization_id == "default_organization" else organization_id
                teams = [team for team in teams if team.organization_id == wanted]
            return JSONResponse(_json_safe(teams))

        return app


_Scope = MutableMapping[str, Any]
_Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
_Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class _TrafficMiddleware:
    """Records every request, then applies latency and any injected fault before the app runs."""

    def __init__(self, app: FastAPI, emulator: AdminEmulator) -> None:
        self.app = app
        self.emulator = emulator

    async def __call__(self, scope: _Scope, receive: _Receive, send: _Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = bytearray()
        while True:
            message = await receive()
            body.extend(message.get("body", b""))
            if not message.get("more_body", False):
                break
        method = scope["method"]
        path = scope["path"]
        entry = {
            "method": method,
            "path": path,
            "query": scope.get("query_string", b"").decode("latin-1"),
            "headers": {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]},
            "body": body.decode("utf-8", errors="replace"),
            "status": None,
        }
        with self.emulator._lock:
            self.emulator.access_log.append(entry)
        fault = self.emulator._take_fault(method, path)
        if self.emulator.latency:
            await asyncio.sleep(self.emulator.latency)

        if fault is not None and fault["kind"] == "drop":
            self._drop_connection(receive)
            return
        if fault is not None and fault["kind"] in ("500", "429"):
            code = int(fault["kind"])
            error_type = "internal_server_error" if code == 500 else "rate_limit_error"
            headers = {"retry-after": "0"} if code == 429 else {}
            payload = {"error": {"message": f"Injected fault {code}", "type": error_type, "param": None, "code": str(code)}}
            await self._send_json(send, code, payload, headers)
            entry["status"] = code
            return
        if fault is not None and fault["kind"] == "slow":
            await asyncio.sleep(fault["seconds"])

        replayed = False

        async def replay_receive() -> MutableMapping[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        swallow_response = fault is not None and fault["kind"] == "500-after-write"

        async def recording_send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                entry["status"] = message["status"]
            if not swallow_response:
                await send(message)

        await self.app(scope, replay_receive, recording_send)
        if swallow_response:
            # The handler has written its state; the caller only ever sees the 500.
            payload = {"error": {"message": "Injected fault 500 after write", "type": "internal_server_error", "param": None, "code": "500"}}
            await self._send_json(send, 500, payload, {})
            entry["status"] = 500

    @staticmethod
    async def _send_json(send: _Send, status: int, payload: object, headers: Mapping[str, str]) -> None:
        body = json.dumps(payload).encode()
        raw_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        raw_headers += [(k.encode(), v.encode()) for k, v in headers.items()]
        await send({"type": "http.response.start", "status": status, "headers": raw_headers})
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    def _drop_connection(receive: _Receive) -> None:
        # ASGI has no "close without answering"; uvicorn's h11 receive() is bound to its request cycle,
        # which owns the transport. Marking the cycle disconnected stops uvicorn sending its own 500.
        cycle = getattr(receive, "__self__", None)
        transport = getattr(cycle, "transport", None)
        if transport is None:
            raise RuntimeError("cannot drop the connection: not running under uvicorn's h11 protocol")
        cycle.disconnected = True
        transport.abort()
