"""A small client for the LiteLLM proxy admin API (models, teams, virtual keys).

Pure Python on `requests`: no Pulumi, no litellm. Every public function is one operation with its own
`requests.Session` (nothing long-lived to leak into a pickled provider) and bounded retries:

* connection errors, timeouts, 429 (honouring Retry-After) and 5xx are retried with exponential backoff;
* a 4xx is never retried;
* a write that failed ambiguously (5xx, timeout, dropped connection) may still have been saved -- LiteLLM
  can fail a write after committing it -- so before retrying, the object is read back by id and "it is
  there and matches" counts as success.

TLS: an https admin URL is always verified (hostname and chain), against the first of: the resource's
`ca_bundle_pem` (`AdminEndpoint.ca_bundle_pem`, written to a private temporary file for the duration of
one operation), the CA bundle file named by LITELLM_GATEWAY_CA_BUNDLE (`AdminEndpoint.ca_bundle_file`),
the system trust store. A certificate that does not verify fails the operation at once (no retry).

Secrets: the master key only ever travels in the Authorization header; a raw virtual key never goes into a
URL (reads use the sha256 token); error messages and log lines are redacted (`sk-...` values and the master
key) before they leave this module.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import logging
import os
import re
import ssl
import tempfile
from pathlib import Path
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Mapping, Optional
from urllib.parse import quote, urlsplit

import requests
from requests.adapters import HTTPAdapter

from .values import parse_timestamp, same_instant, same_unordered, same_value, subset_matches

logger = logging.getLogger(__name__)

# Where generate_key records a one-time id in the key's metadata, so that a key saved by a request whose
# response was lost can be recognised (and removed: its raw value is gone with the response).
CREATE_ID_METADATA_FIELD = "litellm_gateway_create_id"

# A file with the PEM CA bundle to trust for an https admin URL (when the resource gives no ca_bundle_pem).
CA_BUNDLE_ENV = "LITELLM_GATEWAY_CA_BUNDLE"

KEY_LIST_PAGE_SIZE = 100  # the server's maximum
MODEL_INFO_PAGE_SIZE = 50
MAX_RETRY_AFTER_SECONDS = 60.0
# /key/update with `duration` sets expires = server-now + duration: allow for clock skew and latency.
EXPIRES_TOLERANCE_SECONDS = 300.0

_RAW_KEY_PATTERN = re.compile(r"sk-[A-Za-z0-9_\-]+")
_ERROR_TEXT_LIMIT = 500


@dataclass(frozen=True)
class AdminEndpoint:
    base_url: str
    master_key: str = field(repr=False)
    timeout: float = 30.0
    max_attempts: int = 4
    backoff_seconds: float = 0.5
    ca_bundle_pem: Optional[str] = field(default=None, repr=False)
    """PEM CA certificate(s) to verify an https proxy with; trusted together with `ca_bundle_file`."""
    ca_bundle_file: Optional[str] = None
    """A CA bundle file to verify an https proxy with; neither set: the system trust store."""
    connect_address: Optional[str] = None
    """Where to connect instead of resolving the URL's host name (a stack whose DNS records are not
    written by the stack, before they exist: config.dns_settings). The URL's name is still the TLS
    server name (SNI) the certificate is verified against, and the Host header."""

    @property
    def uses_tls(self) -> bool:
        return urlsplit(self.base_url).scheme.lower() == "https"


class AdminTrustError(RuntimeError):
    """The CA to verify the proxy with is unusable (not PEM, no such file): nothing was sent."""


class AdminApiError(Exception):
    """An admin API call that failed; `status` is None when no HTTP response arrived."""

    def __init__(self, method: str, path: str, status: Optional[int], message: str) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        outcome = f"HTTP {self.status}" if self.status is not None else "no response"
        return f"LiteLLM admin API {self.method} {self.path} failed ({outcome}): {self.message}"


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Replace raw virtual keys and the given secret values (the master key) in free text."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return _RAW_KEY_PATTERN.sub("sk-***", text)


def token_of(raw_key: str) -> str:
    """The sha256 hex that LiteLLM stores and accepts in place of a raw key."""
    return hashlib.sha256(raw_key.encode()).hexdigest()


def error_message_from_body(body: Any) -> str:
    """The human-readable part of LiteLLM's three error shapes.

    `{"error": {"message": ...}}` (ProxyException), `{"detail": str | dict}` (HTTPException) and 422
    `{"detail": [{"loc": [...], "msg": ...}, ...]}` (request validation). For the 422 shape only the
    location and message are kept: the items also echo the request input, which may hold secrets.
    """
    if isinstance(body, Mapping):
        error = body.get("error")
        if isinstance(error, Mapping) and error.get("message") is not None:
            return str(error["message"])
        if isinstance(error, str):
            return error
        detail = body.get("detail")
        if isinstance(detail, str):
            return detail
        if isinstance(detail, list):
            parts = []
            for item in detail:
                if isinstance(item, Mapping):
                    location = ".".join(str(part) for part in item.get("loc", []) if part != "body")
                    parts.append(f"{location}: {item.get('msg', 'invalid')}" if location else str(item.get("msg")))
                else:
                    parts.append(str(item))
            return "request validation failed: " + "; ".join(parts)
        if isinstance(detail, Mapping):
            for name in ("error", "message", "msg"):
                if detail.get(name) is not None:
                    inner = detail[name]
                    return inner if isinstance(inner, str) else json.dumps(inner, default=str)
            return json.dumps(detail, default=str)
        if body.get("message") is not None:
            return str(body["message"])
    return json.dumps(body, default=str) if body is not None else ""


@dataclass(frozen=True)
class _Confirmed:
    """A read-back found the write applied; `value` is what the operation returns."""

    value: Any


def _certificate_problem(exc: BaseException) -> Optional[str]:
    """OpenSSL's reason when `exc` (a requests error) comes from a certificate that did not verify."""
    pending: list[Any] = [exc]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return current.verify_message or current.reason or "certificate verify failed"
        pending.extend([current.__cause__, current.__context__, getattr(current, "reason", None), *current.args])
    return None


def _write_private_pem(pem: str) -> str:
    """The PEM in a new 0600 temporary file (mkstemp), after checking it holds a CA certificate."""
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cadata=pem)
    except (ssl.SSLError, ValueError) as exc:
        raise AdminTrustError(
            f"ca_bundle_pem is not a usable PEM CA certificate bundle ({type(exc).__name__}); "
            "expected the stack's CA certificate (Gateway.ca_bundle_pem)"
        ) from None
    fd, path = tempfile.mkstemp(prefix="litellm-admin-ca-", suffix=".pem")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(pem)
    except BaseException:
        os.unlink(path)
        raise
    return path


class _ServerNameAdapter(HTTPAdapter):
    """Connects to the URL's address but speaks TLS to `server_name`: SNI and the certificate's host
    name check use it (urllib3's `server_hostname`), as `curl --resolve` does."""

    def __init__(self, server_name: str) -> None:
        self._server_name = server_name  # before super().__init__, which builds the pool manager
        super().__init__()

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        pool_kwargs["server_hostname"] = self._server_name
        super().init_poolmanager(connections, maxsize, block=block, **pool_kwargs)


class _Call:
    """One operation: one Session, the retry policy, TLS trust, and redaction of everything it reports."""

    def __init__(self, endpoint: AdminEndpoint) -> None:
        self.endpoint = endpoint
        self._ca_file: Optional[str] = None  # ours to delete
        self.verify: Any = True
        self.trust = "the system trust store"
        if endpoint.uses_tls:
            if endpoint.ca_bundle_file and not os.path.isfile(endpoint.ca_bundle_file):
                raise AdminTrustError(f"{CA_BUNDLE_ENV} names no readable file: {endpoint.ca_bundle_file!r}")
            if endpoint.ca_bundle_pem:
                # The resource's CA, plus the env bundle when set: after a CA renewal the engine still
                # hands read/delete the old CA from state (a CA change alone is no diff), and the
                # env bundle is how an operator bridges that without disabling verification.
                extra = Path(endpoint.ca_bundle_file).read_text() if endpoint.ca_bundle_file else ""
                self._ca_file = _write_private_pem(endpoint.ca_bundle_pem.rstrip("\n") + "\n" + extra)
                self.verify = self._ca_file
                self.trust = "the resource's ca_bundle_pem" + (f" and {CA_BUNDLE_ENV}" if extra else "")
            elif endpoint.ca_bundle_file:
                self.verify = endpoint.ca_bundle_file
                self.trust = f"the CA bundle in {CA_BUNDLE_ENV} ({endpoint.ca_bundle_file})"
        self.session = requests.Session()
        self.url = endpoint.base_url.rstrip("/")
        if endpoint.connect_address:
            origin = urlsplit(self.url)
            address = endpoint.connect_address
            netloc = f"[{address}]" if ":" in address else address
            if origin.port:
                netloc += f":{origin.port}"
            self.url = origin._replace(netloc=netloc).geturl()
            self.session.headers["Host"] = origin.netloc
            self.session.mount(f"{origin.scheme}://", _ServerNameAdapter(origin.hostname or ""))
        self.session.headers["Authorization"] = f"Bearer {endpoint.master_key}"
        self.session.headers["Accept"] = "application/json"

    def __enter__(self) -> "_Call":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.session.close()
        if self._ca_file is not None:
            try:
                os.unlink(self._ca_file)
            except FileNotFoundError:
                pass
            self._ca_file = None

    # -- plumbing ---------------------------------------------------------------------------------

    def _redact(self, text: str) -> str:
        return redact(text, (self.endpoint.master_key,))

    def error(self, method: str, path: str, status: Optional[int], message: str) -> AdminApiError:
        return AdminApiError(method, path, status, self._redact(message)[:_ERROR_TEXT_LIMIT])

    def _error_from_response(self, method: str, path: str, response: requests.Response) -> AdminApiError:
        try:
            message = error_message_from_body(response.json())
        except ValueError:
            message = response.text or response.reason or ""
        return self.error(method, path, response.status_code, message)

    def _send(self, method: str, path: str, params: Optional[Mapping[str, Any]], body: Any) -> requests.Response:
        try:
            return self.session.request(
                method,
                self.url + path,
                params=params,
                json=body,
                timeout=self.endpoint.timeout,
                allow_redirects=False,
                # Explicit, so REQUESTS_CA_BUNDLE cannot replace the CA chosen above.
                verify=self.verify,
            )
        except requests.exceptions.SSLError as exc:
            problem = _certificate_problem(exc)
            if problem is None:
                raise
            # The handshake failed before anything was sent: not ambiguous, and retrying cannot help.
            origin = urlsplit(self.endpoint.base_url)
            hint = (
                ""
                if self._ca_file is not None
                else "; set the resource's ca_bundle_pem (Gateway.ca_bundle_pem) or "
                f"{CA_BUNDLE_ENV} to the stack's CA certificate"
            )
            raise self.error(
                method,
                path,
                None,
                f"TLS certificate verification failed for {origin.scheme}://{origin.hostname}:{origin.port or 443} "
                f"({problem}), trusting {self.trust}{hint}",
            ) from None

    def _backoff(self, attempt: int, response: Optional[requests.Response] = None) -> None:
        delay = self.endpoint.backoff_seconds * (2 ** (attempt - 1))
        if response is not None:
            retry_after = _retry_after_seconds(response.headers.get("Retry-After"))
            if retry_after is not None:
                delay = retry_after
        time.sleep(max(0.0, min(delay, MAX_RETRY_AFTER_SECONDS)))

    def _json(self, method: str, path: str, response: requests.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise self.error(method, path, response.status_code, "response is not JSON") from None

    # -- reads ------------------------------------------------------------------------------------

    def read(
        self,
        path: str,
        params: Optional[Mapping[str, Any]] = None,
        absent_statuses: tuple = (404,),
        *,
        method: str = "GET",
        body: Any = None,
        client_error_as_result: bool = False,
    ) -> Any:
        """A request that changes nothing, with retries; None for an `absent_statuses` answer;
        AdminApiError for other failures (returned instead of raised for a 4xx when
        `client_error_as_result`: a probe whose refusal is the answer)."""
        last_problem = "not attempted"
        last_status: Optional[int] = None
        for attempt in range(1, self.endpoint.max_attempts + 1):
            try:
                response = self._send(method, path, params, body)
            except requests.RequestException as exc:
                last_status, last_problem = None, f"{type(exc).__name__} talking to the admin API"
            else:
                if response.status_code < 300:
                    return self._json(method, path, response)
                if response.status_code in absent_statuses:
                    return None
                if response.status_code != 429 and response.status_code < 500:
                    failure = self._error_from_response(method, path, response)
                    if client_error_as_result:
                        return failure
                    raise failure
                failure = self._error_from_response(method, path, response)
                last_status, last_problem = failure.status, failure.message
                if attempt < self.endpoint.max_attempts:
                    logger.warning("%s %s: %s; retrying (attempt %d)", method, path, failure, attempt)
                    self._backoff(attempt, response)
                continue
            if attempt < self.endpoint.max_attempts:
                logger.warning("%s %s: %s; retrying (attempt %d)", method, path, last_problem, attempt)
                self._backoff(attempt)
        raise self.error(method, path, last_status, f"{last_problem} (gave up after {self.endpoint.max_attempts} attempts)")

    # -- writes -----------------------------------------------------------------------------------

    def write(
        self,
        method: str,
        path: str,
        body: Any,
        confirm: Callable[[], Optional[_Confirmed]],
        on_client_error: Optional[Callable[[AdminApiError], Any]] = None,
        on_server_error: Optional[Callable[[AdminApiError], None]] = None,
    ) -> Any:
        """A write with retries; after an ambiguous failure, `confirm()` reads back before retrying.

        `on_client_error` may turn a 4xx into a result (e.g. delete of something already gone) or
        re-raise; 4xx are never retried. `on_server_error` sees each 5xx first and may raise: a 5xx
        whose message says what happened is not ambiguous (see create_model).
        """
        last_failure: Optional[AdminApiError] = None
        for attempt in range(1, self.endpoint.max_attempts + 1):
            try:
                response = self._send(method, path, None, body)
            except requests.RequestException as exc:
                last_failure = self.error(method, path, None, f"{type(exc).__name__} talking to the admin API")
                response = None
            else:
                if response.status_code < 300:
                    return self._json(method, path, response)
                failure = self._error_from_response(method, path, response)
                if response.status_code == 429:
                    # Rate limited: the request was refused, not applied; no read-back needed.
                    last_failure = failure
                    if attempt < self.endpoint.max_attempts:
                        logger.warning("%s %s: %s; retrying (attempt %d)", method, path, failure, attempt)
                        self._backoff(attempt, response)
                    continue
                if response.status_code < 500:
                    if on_client_error is not None:
                        return on_client_error(failure)
                    raise failure
                if on_server_error is not None:
                    on_server_error(failure)
                last_failure = failure
            # Ambiguous outcome: the server may have saved it. Look before writing again.
            try:
                confirmed = confirm()
            except AdminApiError as exc:
                if exc.status is not None and 400 <= exc.status < 500 and exc.status != 429:
                    raise
                logger.warning("%s %s: read-back failed too: %s", method, path, exc)
                confirmed = None
            if confirmed is not None:
                logger.warning("%s %s: %s, but the read-back shows it applied", method, path, last_failure)
                return confirmed.value
            if attempt < self.endpoint.max_attempts:
                logger.warning("%s %s: %s; retrying (attempt %d)", method, path, last_failure, attempt)
                self._backoff(attempt, response)
        assert last_failure is not None
        raise self.error(
            method,
            path,
            last_failure.status,
            f"{last_failure.message} (gave up after {self.endpoint.max_attempts} attempts)",
        )


def _retry_after_seconds(header: Optional[str]) -> Optional[float]:
    if not header:
        return None
    try:
        return max(0.0, float(header))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _stored_matches(expected: Mapping[str, Any], stored: Mapping[str, Any]) -> bool:
    """Read-back check: every field we wrote reads back the same (server-added fields are ignored)."""
    for name, value in expected.items():
        current = stored.get(name)
        if name == "metadata" and isinstance(value, Mapping):
            if not isinstance(current, Mapping) or not subset_matches(value, current):
                return False
        elif name == "models":
            if not same_unordered(value or [], current or []):
                return False
        elif name == "expires":
            if not same_instant(value, current, EXPIRES_TOLERANCE_SECONDS):
                return False
        elif not same_value(value, current):
            return False
    return True


# ----------------------------------------------------------------------------------------------------
# Models
# ----------------------------------------------------------------------------------------------------


def _model_row_matches(sent: Mapping[str, Any], row: Mapping[str, Any]) -> bool:
    """A model row carries what we sent. Credentials are masked on read (absent keys are not a mismatch);
    cost-map and default fields the server adds are ignored."""
    if "model_name" in sent:
        row_info = row.get("model_info") or {}
        public_name = row_info.get("team_public_model_name") or row.get("model_name")
        if not same_value(sent["model_name"], public_name) and not same_value(sent["model_name"], row.get("model_name")):
            return False
    for section in ("litellm_params", "model_info"):
        sent_section = sent.get(section) or {}
        row_section = row.get(section) or {}
        for name, value in sent_section.items():
            if name in row_section and not same_value(value, row_section[name]):
                return False
    return True


def _lookup_model(call: _Call, model_id: str) -> Optional[dict]:
    """One pass over `/v2/model/info?modelId=` (all pages): the row, or None for an empty answer."""
    page = 1
    while True:
        payload = call.read(
            "/v2/model/info", {"modelId": model_id, "page": page, "size": MODEL_INFO_PAGE_SIZE}, absent_statuses=()
        )
        rows = (payload or {}).get("data") or []
        for row in rows:
            if ((row.get("model_info") or {}).get("id")) == model_id:
                return row
        total_pages = (payload or {}).get("total_pages") or 1
        if not rows or page >= total_pages:
            return None
        page += 1


# What the pinned `POST /model/update` answers, for a body with `model_info.id` and no `litellm_params`,
# when the id is not in the database (MME update_model: `raise Exception("model not found")` after
# `find_unique(where={"model_id": ...})`, wrapped as "Authentication Error, model not found", 400).
MODEL_NOT_IN_DB_MESSAGE = "model not found"


def _model_in_database(call: _Call, model_id: str) -> bool:
    """Whether the proxy's database holds the model, asked in a way that changes nothing.

    `/v2/model/info` answers from the handling worker's router first and returns an empty page when
    that router holds no model at all (PS model_info_v2: `if llm_router is None or not
    llm_router.model_list`), e.g. a worker that has not reloaded since the first model was added (up
    to `proxy_config_reload_interval_seconds`, 30 s). Such an empty answer proves nothing. The old
    `POST /model/update` looks the id up in the database before anything else and, without
    `litellm_params`, stops before writing: 400 "...model not found" when there is no such row;
    anything else (400 "litellm_params not provided", "Model in config", 200 without a DB) means the
    id exists. Proven against the real proxy in tests/components/litellm_admin/test_real_proxy.py.
    """
    answer = call.read(
        "/model/update", method="POST", body={"model_info": {"id": model_id}}, absent_statuses=(), client_error_as_result=True
    )
    if isinstance(answer, AdminApiError):
        return not (answer.status == 400 and answer.message.rstrip(". ").endswith(MODEL_NOT_IN_DB_MESSAGE))
    return True


# How long a model that the database holds may stay invisible to /v2/model/info (a worker that has not
# reloaded yet) before a read gives up: LiteLLM reloads every 30 s by default.
MODEL_VISIBILITY_WAIT_SECONDS = 45.0


class ModelNotVisible(AdminApiError):
    """The database holds the model but no answer of /v2/model/info showed it within the wait."""


def _find_model(call: _Call, model_id: str, wait_seconds: Optional[float] = None) -> Optional[dict]:
    """The model's row, or None only when the database has no such model.

    An empty /v2/model/info answer is checked against the database (`_model_in_database`): a model
    that exists is never reported missing. While it exists but is not visible yet, look again (with
    backoff) for up to `wait_seconds`, then fail rather than guess.
    """
    wait = MODEL_VISIBILITY_WAIT_SECONDS if wait_seconds is None else wait_seconds
    give_up_at = time.monotonic() + wait
    attempt = 0
    while True:
        row = _lookup_model(call, model_id)
        if row is not None:
            return row
        if not _model_in_database(call, model_id):
            return None
        attempt += 1
        if time.monotonic() >= give_up_at:
            raise ModelNotVisible(
                "GET",
                "/v2/model/info",
                200,
                f"model {model_id!r} is in the proxy's database but /v2/model/info did not show it for "
                f"{wait:.0f} s (a worker that has not reloaded its models); try again later",
            )
        logger.warning("model %r exists but this worker does not show it yet; looking again", model_id)
        time.sleep(min(max(call.endpoint.backoff_seconds, 0.05) * (2 ** min(attempt - 1, 5)), 5.0, max(0.0, give_up_at - time.monotonic())))


def get_model(endpoint: AdminEndpoint, model_id: str) -> Optional[dict]:
    """The model row (litellm_params masked, cost-map fields added) or None if there is none."""
    with _Call(endpoint) as call:
        return _find_model(call, model_id)


# The pinned /model/new's 500 when the row was saved but the handling worker's router does not serve
# it after the reload (MME raise_if_reload_degraded_serving): "Model create was saved to the database,
# but ...".
MODEL_SAVED_NOT_SERVED_MARKER = "was saved to the database, but"


def create_model(endpoint: AdminEndpoint, body: Mapping[str, Any]) -> dict:
    """POST /model/new. `body["model_info"]["id"]` is the id we chose.

    A 500 saying the model was saved but is not served (the router could not load it, e.g. an unknown
    provider) is not an ambiguous failure: the saved row is removed again and the server's reason
    reported, so neither Pulumi's state nor the proxy keeps a model that does not work.
    """
    model_id = body["model_info"]["id"]
    with _Call(endpoint) as call:

        def confirm() -> Optional[_Confirmed]:
            row = _find_model(call, model_id)
            if row is None:
                return None
            if _model_row_matches(body, row):
                return _Confirmed(row)
            raise call.error("POST", "/model/new", 409, f"a different model with id {model_id!r} already exists")

        def saved_but_not_served(failure: AdminApiError) -> None:
            if MODEL_SAVED_NOT_SERVED_MARKER not in failure.message:
                return
            try:
                call.write(
                    "POST",
                    "/model/delete",
                    {"id": model_id},
                    lambda: _Confirmed(True) if not _model_in_database(call, model_id) else None,
                    on_client_error=lambda _failure: False,
                )
                cleanup = "the saved row was removed again"
            except AdminApiError as cleanup_error:
                cleanup = f"removing the saved row failed too ({cleanup_error.message}); delete model {model_id!r} by hand"
            raise call.error(
                "POST", "/model/new", failure.status, f"the proxy cannot serve this model ({cleanup}): {failure.message}"
            )

        return call.write("POST", "/model/new", dict(body), confirm, on_server_error=saved_but_not_served)


def update_model(endpoint: AdminEndpoint, model_id: str, patch: Mapping[str, Any]) -> dict:
    """PATCH /model/{id}/update: the server merges the non-null fields of `patch`."""
    path = f"/model/{quote(model_id, safe='')}/update"
    with _Call(endpoint) as call:

        def confirm() -> Optional[_Confirmed]:
            row = _find_model(call, model_id)
            if row is None:
                raise call.error("PATCH", path, 404, f"model {model_id!r} does not exist")
            return _Confirmed(row) if _model_row_matches(patch, row) else None

        def saved_but_not_served(failure: AdminApiError) -> None:
            # Saved, and the reload says the worker no longer serves it: retrying cannot help.
            if MODEL_SAVED_NOT_SERVED_MARKER in failure.message:
                raise call.error("PATCH", path, failure.status, f"the proxy cannot serve the updated model: {failure.message}")

        return call.write("PATCH", path, dict(patch), confirm, on_server_error=saved_but_not_served)


def delete_model(endpoint: AdminEndpoint, model_id: str) -> bool:
    """POST /model/delete. True if it existed; a missing model is not an error."""
    with _Call(endpoint) as call:

        def confirm() -> Optional[_Confirmed]:
            return _Confirmed(True) if not _model_in_database(call, model_id) else None

        def already_gone(failure: AdminApiError) -> bool:
            # A missing id answers 400 "not found"; rather than trusting that wording, ask the database.
            if not _model_in_database(call, model_id):
                return False
            raise failure

        result = call.write("POST", "/model/delete", {"id": model_id}, confirm, on_client_error=already_gone)
        return result is not False


# ----------------------------------------------------------------------------------------------------
# Teams
# ----------------------------------------------------------------------------------------------------


def _find_team(call: _Call, team_id: str) -> Optional[dict]:
    payload = call.read("/team/info", {"team_id": team_id})
    if payload is None:
        return None
    info = payload.get("team_info") if isinstance(payload.get("team_info"), Mapping) else payload
    return dict(info)


def get_team(endpoint: AdminEndpoint, team_id: str) -> Optional[dict]:
    with _Call(endpoint) as call:
        return _find_team(call, team_id)


def create_team(endpoint: AdminEndpoint, body: Mapping[str, Any]) -> dict:
    """POST /team/new with a chosen `team_id`."""
    team_id = body["team_id"]
    with _Call(endpoint) as call:

        def confirm() -> Optional[_Confirmed]:
            team = _find_team(call, team_id)
            if team is None:
                return None
            if _stored_matches({k: v for k, v in body.items() if k != "team_id"}, team):
                return _Confirmed(team)
            raise call.error("POST", "/team/new", 409, f"a different team with id {team_id!r} already exists")

        return call.write("POST", "/team/new", dict(body), confirm)


def update_team(endpoint: AdminEndpoint, team_id: str, patch: Mapping[str, Any]) -> dict:
    """POST /team/update: a merge patch (omitted fields kept, explicit null clears)."""
    with _Call(endpoint) as call:

        def confirm() -> Optional[_Confirmed]:
            team = _find_team(call, team_id)
            if team is None:
                raise call.error("POST", "/team/update", 404, f"team {team_id!r} does not exist")
            return _Confirmed(team) if _stored_matches(patch, team) else None

        return call.write("POST", "/team/update", {**patch, "team_id": team_id}, confirm)


def delete_team(endpoint: AdminEndpoint, team_id: str) -> bool:
    """POST /team/delete (LiteLLM deletes the team's keys too). True if it existed."""
    with _Call(endpoint) as call:

        def confirm() -> Optional[_Confirmed]:
            return _Confirmed(True) if _find_team(call, team_id) is None else None

        def already_gone(failure: AdminApiError) -> bool:
            if _find_team(call, team_id) is None:
                return False
            raise failure

        result = call.write("POST", "/team/delete", {"team_ids": [team_id]}, confirm, on_client_error=already_gone)
        return result is not False


# ----------------------------------------------------------------------------------------------------
# Virtual keys
# ----------------------------------------------------------------------------------------------------


def _require_token(token: str) -> str:
    if not isinstance(token, str) or token.startswith("sk-"):
        # A raw key must never reach a URL or a log line: callers pass the sha256 token.
        raise ValueError("expected a key's sha256 token, not a raw key")
    return token


def _find_key(call: _Call, token: str) -> Optional[dict]:
    payload = call.read("/key/info", {"key": _require_token(token)})
    if payload is None:
        return None
    info = dict(payload.get("info") or {})
    if info.get("status") == "deleted":
        return None
    info["token"] = token
    return info


def _list_keys(call: _Call, key_alias: Optional[str] = None, *, alias_contains: bool = False, expired_only: bool = False) -> list[dict]:
    keys: list[dict] = []
    page = 1
    while True:
        params: dict[str, Any] = {"page": page, "size": KEY_LIST_PAGE_SIZE, "return_full_object": "true"}
        if key_alias is not None:
            params["key_alias"] = key_alias
            if alias_contains:
                # KME list_keys: case-insensitive substring match on key_alias.
                params["substring_matching"] = "true"
        if expired_only:
            params["expires"] = "expired"
        payload = call.read("/key/list", params, absent_statuses=()) or {}
        batch = payload.get("keys") or []
        for item in batch:
            keys.append(dict(item) if isinstance(item, Mapping) else {"token": item})
        total_pages = payload.get("total_pages") or 1
        if not batch or page >= total_pages:
            return keys
        page += 1


def get_key(endpoint: AdminEndpoint, token: str) -> Optional[dict]:
    """The key's row by sha256 token; None when it never existed (404) or was deleted (status "deleted")."""
    with _Call(endpoint) as call:
        return _find_key(call, token)


def list_keys(endpoint: AdminEndpoint, key_alias: Optional[str] = None) -> list[dict]:
    """Every live key (all pages), optionally filtered by exact alias."""
    with _Call(endpoint) as call:
        return _list_keys(call, key_alias)


def list_keys_with_alias_prefix(endpoint: AdminEndpoint, prefix: str, expired_only: bool = False) -> list[dict]:
    """Live keys whose alias starts with `prefix` (the server matches a substring; checked again here),
    only those already past `expires` when `expired_only`."""
    with _Call(endpoint) as call:
        keys = _list_keys(call, prefix, alias_contains=True, expired_only=expired_only)
    now = datetime.now(timezone.utc)
    matching = [key for key in keys if str(key.get("key_alias") or "").startswith(prefix)]
    if expired_only:
        matching = [key for key in matching if (parse_timestamp(_as_text(key.get("expires"))) or now) < now]
    return matching


def _as_text(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def find_key_by_alias(endpoint: AdminEndpoint, alias: str) -> Optional[dict]:
    """The live key holding `alias` (aliases are unique on the server), for import and clash handling."""
    with _Call(endpoint) as call:
        # The server filters by alias; filter again in case an older server ignores the parameter.
        matches = [key for key in _list_keys(call, alias) if key.get("key_alias") == alias]
        return matches[0] if matches else None


def generate_key(endpoint: AdminEndpoint, body: Mapping[str, Any]) -> dict:
    """POST /key/generate. Returns the response, whose `key` is the raw value (shown once) and whose
    `token` is set to its sha256.

    The raw value only ever exists in the response, so a key saved by a request whose response was lost
    is useless: after an ambiguous failure the keys carrying this call's one-time create id are deleted
    before generating again, and swept once more after a success, so no orphan is left behind.
    """
    create_id = uuid.uuid4().hex
    metadata = dict(body.get("metadata") or {})
    metadata[CREATE_ID_METADATA_FIELD] = create_id
    request_body = {**body, "metadata": metadata}
    alias = body.get("key_alias")
    had_ambiguous_failure = False

    with _Call(endpoint) as call:

        def orphans(keep_token: Optional[str] = None) -> list[str]:
            candidates = _list_keys(call, alias) if alias else _list_keys(call)
            return [
                key["token"]
                for key in candidates
                if (key.get("metadata") or {}).get(CREATE_ID_METADATA_FIELD) == create_id
                and key.get("token")
                and key.get("token") != keep_token
            ]

        def remove_orphans(keep_token: Optional[str] = None) -> int:
            doomed = orphans(keep_token)
            for orphan_token in doomed:
                logger.warning("removing a key saved by a /key/generate whose response was lost")
                _delete_key(call, orphan_token)
            return len(doomed)

        def confirm() -> Optional[_Confirmed]:
            nonlocal had_ambiguous_failure
            had_ambiguous_failure = True
            remove_orphans()
            return None  # never "confirmed": the raw value is lost, so generate again

        try:
            response = call.write("POST", "/key/generate", request_body, confirm)
        except AdminApiError as error:
            # A timed-out original may land between the look and the retry; the retry then clashes
            # with it on the alias. That key is ours but unusable: remove it and generate once more.
            if not (had_ambiguous_failure and error.status is not None and 400 <= error.status < 500):
                raise
            if remove_orphans() == 0:
                raise
            response = call.write("POST", "/key/generate", request_body, confirm)
        raw_key = response.get("key") if isinstance(response, Mapping) else None
        if not isinstance(raw_key, str) or not raw_key:
            raise call.error("POST", "/key/generate", 200, "the response carries no key")
        token = token_of(raw_key)
        if had_ambiguous_failure:
            remove_orphans(keep_token=token)
        return {**response, "token": token}


def update_key(
    endpoint: AdminEndpoint,
    token: str,
    patch: Mapping[str, Any],
    expected: Optional[Mapping[str, Any]] = None,
) -> dict:
    """POST /key/update, a merge patch by token. `expected` is what a read-back must show if the
    patch applied (default: the patch without `duration`, which is not a stored field)."""
    _require_token(token)
    check = dict(expected) if expected is not None else {k: v for k, v in patch.items() if k != "duration"}
    with _Call(endpoint) as call:

        def confirm() -> Optional[_Confirmed]:
            key = _find_key(call, token)
            if key is None:
                raise call.error("POST", "/key/update", 404, "the key does not exist")
            return _Confirmed(key) if _stored_matches(check, key) else None

        return call.write("POST", "/key/update", {**patch, "key": token}, confirm)


def _block_key(call: _Call, token: str) -> bool:
    """POST /key/block by token. True if the key existed (it is blocked now), False if it is gone.

    Why before every delete: the pinned LiteLLM's /key/delete drops the key only from the cache of
    the worker that handled it, while /key/block evicts it through `delete_cache_key_object`, which
    publishes on `<namespace>:litellm_proxy.auth_cache_invalidation` so every other worker and host
    drops its cached copy too. Blocked first, a deleted key is refused everywhere at once instead of
    authenticating on the other workers until their cache entry expires."""

    def confirm() -> Optional[_Confirmed]:
        info = _find_key(call, token)
        if info is None:
            return _Confirmed(False)
        return _Confirmed(True) if info.get("blocked") else None

    def already_gone(failure: AdminApiError) -> bool:
        if failure.status == 404 and _find_key(call, token) is None:
            return False
        raise failure

    result = call.write("POST", "/key/block", {"key": _require_token(token)}, confirm, on_client_error=already_gone)
    return result is not False


def _delete_key(call: _Call, token: str) -> bool:
    if not _block_key(call, token):
        return False

    def confirm() -> Optional[_Confirmed]:
        return _Confirmed(True) if _find_key(call, token) is None else None

    def already_gone(failure: AdminApiError) -> bool:
        if failure.status == 404 or _find_key(call, token) is None:
            return False
        raise failure

    result = call.write("POST", "/key/delete", {"keys": [_require_token(token)]}, confirm, on_client_error=already_gone)
    return result is not False


def delete_key(endpoint: AdminEndpoint, token: str) -> bool:
    """POST /key/block, then /key/delete, by token (see _block_key). True if it existed; a missing
    key is not an error."""
    with _Call(endpoint) as call:
        return _delete_key(call, token)
