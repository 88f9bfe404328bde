"""Fake LLM upstreams for end-to-end tests of the LiteLLM proxy.

Each fake is a small HTTP/1.1 server (stdlib ``http.server``, one thread per connection) on a free
127.0.0.1 port, served from a background thread. It answers with its own identity in the reply
text (``"[fake:<identity>] ..."``), counts requests per path, records request bodies, and can be
told to misbehave:

- ``fail_with(status=500)``: answer every request (or the next ``times`` requests) with that status
  and a provider-shaped error body;
- ``fail_with(timeout=seconds)``: accept the request and hang ``seconds`` without answering (set it
  longer than the caller's timeout), then drop the connection;
- ``slow(seconds)``: answer normally, but only after ``seconds``;
- ``stop()``: stop listening and cut every open connection, so callers get *connection refused*.
  The port stays reserved by this object (a bound, non-listening socket), so ``recover()`` listens
  on the same port again and configs pointing at ``base_url`` stay valid;
- ``recover()``: back to normal (listening, no failure, no delay).

Every response carries ``Connection: close``: callers never reuse a connection, so ``stop()`` is
seen on the very next request and each request is one connection (simple, deterministic counts).

Requests are counted when they arrive, including the ones that are failed on purpose; requests to
a stopped fake are refused by the kernel and not counted.

Used as::

    with FakeOllama("ollama-a") as a, FakeOpenAI("openai") as o, FakeAnthropic("claude") as c:
        a.base_url        # http://127.0.0.1:<port>           (api_base of ollama/ollama_chat models)
        o.api_base        # http://127.0.0.1:<port>/v1        (api_base of openai/... models)
        c.base_url        # http://127.0.0.1:<port>           (api_base of anthropic/... models)
        a.count, a.count_for("/api/chat"), a.last_body
"""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

__all__ = ["FakeUpstream", "FakeOllama", "FakeOpenAI", "FakeAnthropic", "RecordedRequest", "free_port"]

_LOOPBACK = "127.0.0.1"


def free_port(host: str = _LOOPBACK, avoid: Iterable[int] = (4000,)) -> int:
    """A TCP port that is free on ``host`` right now (the kernel's choice, never one of ``avoid``).

    4000 is avoided by default because LiteLLM's CLI silently moves away from 4000 when it is busy.
    """
    avoided = set(avoid)
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
        if port not in avoided:
            return port
    raise RuntimeError("could not find a free port")


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str  # without the query string
    query: str
    headers: dict[str, str]
    body: Any  # parsed JSON, or the raw text when it is not JSON, or None when empty
    at: float = field(default_factory=time.monotonic)


@dataclass
class _Failure:
    status: int | None = None
    timeout: float | None = None
    remaining: int | None = None  # None = until recover()


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, fake: "FakeUpstream", sock: socket.socket) -> None:
        self.fake = fake
        super().__init__((_LOOPBACK, 0), _Handler, bind_and_activate=False)
        self.socket.close()
        self.socket = sock
        self.server_address = sock.getsockname()
        self.server_name, self.server_port = self.server_address[0], self.server_address[1]

    def get_request(self):  # track open connections so stop() can cut them
        conn, addr = super().get_request()
        self.fake._track(conn)
        return conn, addr

    def shutdown_request(self, request):
        self.fake._untrack(request)
        super().shutdown_request(request)

    def handle_error(self, request, client_address):  # a caller hanging up is not our error
        pass


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        self.server.fake._dispatch(self, "GET")

    def do_POST(self) -> None:
        self.server.fake._dispatch(self, "POST")

    def do_HEAD(self) -> None:
        self.server.fake._dispatch(self, "HEAD")

    # -- body / response helpers -------------------------------------------------------------
    def read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size_line = self.rfile.readline().strip()
                size = int(size_line.split(b";")[0] or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send_json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()
        self.close_connection = True

    def send_stream(self, content_type: str, pieces: Iterable[bytes], gap: float = 0.0) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        for piece in pieces:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.flush()
            if gap:
                time.sleep(gap)
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
        self.close_connection = True


class FakeUpstream:
    """Common machinery; subclasses implement ``_route`` (and ``_error_body``)."""

    kind = "fake"

    def __init__(self, identity: str) -> None:
        self.identity = identity
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._requests: list[RecordedRequest] = []
        self._failure: _Failure | None = None
        self._delay = 0.0
        self._stream_gap = 0.0  # seconds between the pieces of a streamed answer
        self._release = threading.Event()  # set to wake hanging/slow handlers (stop/recover)
        self._conns: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._reserved: socket.socket | None = None  # bound, not listening: port kept, connections refused
        self._port: int | None = None
        self._failures_served = 0
        self._last_failure_at: float | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError(f"{self!r} was never started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://{_LOOPBACK}:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> "FakeUpstream":
        """Listen (on a new free port the first time, on the same port after ``stop()``)."""
        if self._server is not None:
            return self
        if self._reserved is not None:
            sock, self._reserved = self._reserved, None
        else:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((_LOOPBACK, 0))
        sock.listen(128)
        self._port = sock.getsockname()[1]
        self._release = threading.Event()
        self._server = _Server(self, sock)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{self.kind}:{self.identity}:{self._port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and cut open connections: callers now get *connection refused*.

        The port stays reserved for ``recover()``/``start()``; ``close()`` releases it.
        """
        server, self._server = self._server, None
        if server is None:
            return
        self._release.set()
        server.shutdown()
        with self._lock:
            conns, self._conns = list(self._conns), set()
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        server.socket.close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        reserved = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        reserved.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        reserved.bind((_LOOPBACK, self.port))
        self._reserved = reserved

    def close(self) -> None:
        """Stop and release the port for good."""
        self.stop()
        if self._reserved is not None:
            self._reserved.close()
            self._reserved = None

    def __enter__(self) -> "FakeUpstream":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"{type(self).__name__}({self.identity!r}, port={self._port}, {state})"

    # -- behaviour control -------------------------------------------------------------------
    def fail_with(self, status: int | None = None, *, timeout: float | None = None, times: int | None = None) -> None:
        """Fail the next ``times`` requests (default: all, until ``recover()``).

        ``status``: answer with this HTTP status and a provider-shaped error body.
        ``timeout``: hang this many seconds without answering, then drop the connection.
        """
        if (status is None) == (timeout is None):
            raise ValueError("give exactly one of status= or timeout=")
        with self._lock:
            self._failure = _Failure(status=status, timeout=timeout, remaining=times)

    def slow(self, seconds: float) -> None:
        """Answer normally but wait ``seconds`` first."""
        with self._lock:
            self._delay = float(seconds)

    def stream_slowly(self, gap: float) -> None:
        """Stream answers with ``gap`` seconds after each piece (a long generation)."""
        with self._lock:
            self._stream_gap = float(gap)

    def recover(self) -> None:
        """No failure, no delay, listening (on the same port)."""
        with self._lock:
            self._failure = None
            self._delay = 0.0
            self._stream_gap = 0.0
        self._release.set()  # wake anything still hanging from before
        if self._server is None:
            self.start()
        self._release = threading.Event()

    # -- observation -------------------------------------------------------------------------
    @property
    def count(self) -> int:
        """Requests received on every path."""
        with self._lock:
            return sum(self._counts.values())

    def count_for(self, path: str) -> int:
        with self._lock:
            return self._counts[path]

    @property
    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def last_request(self) -> RecordedRequest | None:
        with self._lock:
            return self._requests[-1] if self._requests else None

    @property
    def last_body(self) -> Any:
        last = self.last_request
        return None if last is None else last.body

    @property
    def failures_served(self) -> int:
        """Requests this fake failed on purpose (error status or hang) since the last ``reset()``."""
        with self._lock:
            return self._failures_served

    @property
    def last_failure_at(self) -> float | None:
        """``time.monotonic()`` when the last on-purpose failure was answered (or the hang ended)."""
        with self._lock:
            return self._last_failure_at

    def reset(self) -> None:
        """Forget counts, recorded requests and failure accounting (behaviour settings are kept)."""
        with self._lock:
            self._counts.clear()
            self._requests.clear()
            self._failures_served = 0

    def reply_text(self, prompt: str) -> str:
        """The text this fake answers to ``prompt`` (tests can compare against it)."""
        return f"[fake:{self.identity}] echo: {prompt}"

    # -- internals ---------------------------------------------------------------------------
    def _track(self, conn: socket.socket) -> None:
        with self._lock:
            self._conns.add(conn)

    def _untrack(self, conn: socket.socket) -> None:
        with self._lock:
            self._conns.discard(conn)

    def _dispatch(self, h: _Handler, method: str) -> None:
        raw = h.read_body()
        path, _, query = h.path.partition("?")
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        record = RecordedRequest(method, path, query, {k.lower(): v for k, v in h.headers.items()}, body)
        with self._lock:
            self._counts[path] += 1
            self._requests.append(record)
            failure = self._failure
            if failure is not None and failure.remaining is not None:
                failure.remaining -= 1
                if failure.remaining <= 0:
                    self._failure = None
            delay = self._delay
        release = self._release
        if failure is not None and failure.timeout is not None:
            release.wait(failure.timeout)
            self._note_failure()
            h.close_connection = True  # drop without an answer
            return
        if delay:
            release.wait(delay)
        if failure is not None and failure.status is not None:
            self._note_failure()
            h.send_json(failure.status, self._error_body(failure.status))
            return
        self._route(h, method, path, body if isinstance(body, dict) else {})

    def _note_failure(self) -> None:
        with self._lock:
            self._failures_served += 1
            self._last_failure_at = time.monotonic()

    def _error_body(self, status: int) -> Any:
        return {"error": f"[fake:{self.identity}] injected failure (HTTP {status})"}

    def _route(self, h: _Handler, method: str, path: str, body: dict) -> None:
        raise NotImplementedError

    @staticmethod
    def _last_user_text(messages: Any) -> str:
        if not isinstance(messages, list):
            return ""
        for message in reversed(messages):
            if isinstance(message, dict) and message.get("role") == "user":
                content = message.get("content")
                if isinstance(content, str):
                    return content
                if isinstance(content, list):
                    return " ".join(
                        part.get("text", "") for part in content if isinstance(part, dict) and part.get("type") == "text"
                    )
        return ""

    @staticmethod
    def _pieces(text: str, n: int = 3) -> list[str]:
        """Split ``text`` into ``n`` non-empty pieces (fewer when it is short)."""
        words = text.split(" ")
        n = max(1, min(n, len(words)))
        size = -(-len(words) // n)
        groups = [" ".join(words[i : i + size]) for i in range(0, len(words), size)]
        return [g if i == len(groups) - 1 else g + " " for i, g in enumerate(groups)]


class FakeOllama(FakeUpstream):
    """Ollama's HTTP API as LiteLLM's ``ollama`` (/api/generate) and ``ollama_chat`` (/api/chat)
    providers call it: non-streaming JSON, streaming NDJSON (one JSON object a line, the last with
    ``"done": true`` and the token counts), ``/api/tags`` and ``/api/show`` (which LiteLLM calls to
    learn a model's context window). Errors are Ollama-shaped: ``{"error": "..."}``."""

    kind = "ollama"

    def __init__(self, identity: str, models: Iterable[str] = ("llama3.2:latest",)) -> None:
        super().__init__(identity)
        self.models = list(models)

    @staticmethod
    def _now() -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())

    def _route(self, h: _Handler, method: str, path: str, body: dict) -> None:
        model = body.get("model") or (self.models[0] if self.models else "unknown")
        if path == "/api/chat" and method == "POST":
            text = self.reply_text(self._last_user_text(body.get("messages")))
            if body.get("stream", True):  # Ollama streams unless told not to
                lines = [
                    {"model": model, "created_at": self._now(), "message": {"role": "assistant", "content": piece}, "done": False}
                    for piece in self._pieces(text)
                ]
                lines.append(
                    {
                        "model": model,
                        "created_at": self._now(),
                        "message": {"role": "assistant", "content": ""},
                        "done": True,
                        "done_reason": "stop",
                        **self._usage(text),
                    }
                )
                h.send_stream("application/x-ndjson", (json.dumps(line).encode() + b"\n" for line in lines), gap=self._stream_gap)
            else:
                h.send_json(
                    200,
                    {
                        "model": model,
                        "created_at": self._now(),
                        "message": {"role": "assistant", "content": text},
                        "done": True,
                        "done_reason": "stop",
                        **self._usage(text),
                    },
                )
        elif path == "/api/generate" and method == "POST":
            prompt = body.get("prompt") if isinstance(body.get("prompt"), str) else ""
            text = self.reply_text(prompt)
            if body.get("stream", True):
                lines = [
                    {"model": model, "created_at": self._now(), "response": piece, "done": False}
                    for piece in self._pieces(text)
                ]
                lines.append(
                    {"model": model, "created_at": self._now(), "response": "", "done": True, "done_reason": "stop", **self._usage(text)}
                )
                h.send_stream("application/x-ndjson", (json.dumps(line).encode() + b"\n" for line in lines), gap=self._stream_gap)
            else:
                h.send_json(
                    200,
                    {"model": model, "created_at": self._now(), "response": text, "done": True, "done_reason": "stop", **self._usage(text)},
                )
        elif path == "/api/tags" and method in ("GET", "HEAD"):
            h.send_json(200, {"models": [self._model_entry(name) for name in self.models]})
        elif path == "/api/show" and method == "POST":
            name = body.get("name") or body.get("model") or ""
            h.send_json(
                200,
                {
                    "modelfile": f"# fake modelfile for {name}",
                    "parameters": "",
                    "template": "{{ .Prompt }}",
                    "details": {"format": "gguf", "family": "llama", "parameter_size": "3.2B", "quantization_level": "Q4_K_M"},
                    "model_info": {"general.architecture": "llama", "llama.context_length": 131072},
                    "capabilities": ["completion"],
                },
            )
        elif path in ("/", "/api/version"):
            h.send_json(200, {"version": "0.0.0-fake"} if path == "/api/version" else "Ollama is running")
        else:
            h.send_json(404, {"error": f"[fake:{self.identity}] no route {method} {path}"})

    @staticmethod
    def _usage(text: str) -> dict[str, int]:
        return {
            "total_duration": 1_000_000,
            "load_duration": 1000,
            "prompt_eval_count": 5,
            "prompt_eval_duration": 1000,
            "eval_count": max(1, len(text.split())),
            "eval_duration": 1000,
        }

    def _model_entry(self, name: str) -> dict[str, Any]:
        return {
            "name": name,
            "model": name,
            "modified_at": self._now(),
            "size": 2_019_393_189,
            "digest": uuid.uuid5(uuid.NAMESPACE_DNS, name).hex,
            "details": {"format": "gguf", "family": "llama", "parameter_size": "3.2B", "quantization_level": "Q4_K_M"},
        }


class FakeOpenAI(FakeUpstream):
    """An OpenAI-compatible API (stands in for OpenAI/Anthropic-style external providers):
    ``/v1/chat/completions`` (JSON, or SSE with ``stream: true``), ``/v1/embeddings`` and
    ``/v1/models``. Point ``openai/...`` deployments at ``api_base`` (= ``base_url + "/v1"``).
    Errors are OpenAI-shaped: ``{"error": {"message", "type", "code"}}``.

    ``FakeOpenAI(..., embeddings_only=True)`` is an embedding server: chat completions answer 404, so
    a caller that treats it as a chat model (e.g. a health check without ``mode: embedding``) fails.
    Embedding vectors are ``EMBEDDING_DIMENSIONS`` floats derived from the input text (same text, same
    vector)."""

    kind = "openai"
    EMBEDDING_DIMENSIONS = 8

    def __init__(self, identity: str, models: Iterable[str] = ("gpt-4o",), *, embeddings_only: bool = False) -> None:
        super().__init__(identity)
        self.models = list(models)
        self.embeddings_only = embeddings_only

    @classmethod
    def embedding_of(cls, text: str) -> list[float]:
        import hashlib

        digest = hashlib.sha256(text.encode()).digest()
        return [round(b / 255.0, 6) for b in digest[: cls.EMBEDDING_DIMENSIONS]]

    @property
    def api_base(self) -> str:
        return f"{self.base_url}/v1"

    def _error_body(self, status: int) -> Any:
        return {
            "error": {
                "message": f"[fake:{self.identity}] injected failure (HTTP {status})",
                "type": "server_error" if status >= 500 else "invalid_request_error",
                "code": str(status),
            }
        }

    def _route(self, h: _Handler, method: str, path: str, body: dict) -> None:
        if path.startswith("/v1/"):
            path = path[3:]
        if path == "/embeddings" and method == "POST":
            inputs = body.get("input")
            texts = [inputs] if isinstance(inputs, str) else [str(i) for i in (inputs or [])]
            tokens = sum(max(1, len(t.split())) for t in texts)
            h.send_json(
                200,
                {
                    "object": "list",
                    "data": [{"object": "embedding", "index": i, "embedding": self.embedding_of(t)} for i, t in enumerate(texts)],
                    "model": body.get("model") or self.models[0],
                    "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
                },
            )
        elif path == "/chat/completions" and method == "POST" and self.embeddings_only:
            h.send_json(404, {"error": {"message": f"[fake:{self.identity}] an embedding model has no chat completions",
                                        "type": "invalid_request_error", "code": "404"}})
        elif path == "/chat/completions" and method == "POST":
            model = body.get("model") or self.models[0]
            text = self.reply_text(self._last_user_text(body.get("messages")))
            cid = f"chatcmpl-fake-{uuid.uuid4().hex[:12]}"
            created = int(time.time())
            usage = {"prompt_tokens": 5, "completion_tokens": max(1, len(text.split())), "total_tokens": 5 + max(1, len(text.split()))}
            if body.get("stream"):
                h.send_stream("text/event-stream", self._sse(cid, created, model, text, usage, body), gap=self._stream_gap)
            else:
                h.send_json(
                    200,
                    {
                        "id": cid,
                        "object": "chat.completion",
                        "created": created,
                        "model": model,
                        "system_fingerprint": "fp_fake",
                        "choices": [
                            {"index": 0, "message": {"role": "assistant", "content": text}, "logprobs": None, "finish_reason": "stop"}
                        ],
                        "usage": usage,
                    },
                )
        elif path == "/models" and method in ("GET", "HEAD"):
            h.send_json(
                200,
                {"object": "list", "data": [{"id": m, "object": "model", "created": 0, "owned_by": f"fake:{self.identity}"} for m in self.models]},
            )
        else:
            h.send_json(404, {"error": {"message": f"[fake:{self.identity}] no route {method} {path}", "type": "not_found", "code": "404"}})

    def _sse(self, cid: str, created: int, model: str, text: str, usage: dict, body: dict) -> Iterator[bytes]:
        def chunk(delta: dict, finish: str | None, **extra: Any) -> bytes:
            payload = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_fake",
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
                **extra,
            }
            return b"data: " + json.dumps(payload).encode() + b"\n\n"

        yield chunk({"role": "assistant", "content": ""}, None)
        for piece in self._pieces(text):
            yield chunk({"content": piece}, None)
        yield chunk({}, "stop")
        if isinstance(body.get("stream_options"), dict) and body["stream_options"].get("include_usage"):
            yield (
                b"data: "
                + json.dumps(
                    {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model, "choices": [], "usage": usage}
                ).encode()
                + b"\n\n"
            )
        yield b"data: [DONE]\n\n"


class FakeAnthropic(FakeUpstream):
    """Anthropic's Messages API as LiteLLM's ``anthropic`` provider calls it: ``POST /v1/messages``
    (JSON, or Anthropic's SSE event stream with ``stream: true``: message_start, content_block_start,
    content_block_delta..., content_block_stop, message_delta, message_stop). Point ``anthropic/...``
    deployments at ``base_url`` (LiteLLM appends ``/v1/messages``). The key arrives in ``x-api-key``.
    Errors are Anthropic-shaped: ``{"type": "error", "error": {"type", "message"}}``."""

    kind = "anthropic"

    def __init__(self, identity: str, models: Iterable[str] = ("claude-sonnet-4-20250514",)) -> None:
        super().__init__(identity)
        self.models = list(models)

    def _error_body(self, status: int) -> Any:
        kind = "api_error" if status >= 500 else ("rate_limit_error" if status == 429 else "invalid_request_error")
        return {"type": "error", "error": {"type": kind, "message": f"[fake:{self.identity}] injected failure (HTTP {status})"}}

    def _route(self, h: _Handler, method: str, path: str, body: dict) -> None:
        if path == "/v1/messages" and method == "POST":
            model = body.get("model") or self.models[0]
            text = self.reply_text(self._last_user_text(body.get("messages")))
            mid = f"msg_fake_{uuid.uuid4().hex[:16]}"
            output_tokens = max(1, len(text.split()))
            if body.get("stream"):
                h.send_stream("text/event-stream", self._events(mid, model, text, output_tokens))
            else:
                h.send_json(
                    200,
                    {
                        "id": mid,
                        "type": "message",
                        "role": "assistant",
                        "model": model,
                        "content": [{"type": "text", "text": text}],
                        "stop_reason": "end_turn",
                        "stop_sequence": None,
                        "usage": {"input_tokens": 5, "output_tokens": output_tokens},
                    },
                )
        elif path == "/v1/models" and method in ("GET", "HEAD"):
            h.send_json(200, {"data": [{"type": "model", "id": m, "display_name": m} for m in self.models], "has_more": False})
        else:
            h.send_json(404, {"type": "error", "error": {"type": "not_found_error", "message": f"[fake:{self.identity}] no route {method} {path}"}})

    def _events(self, mid: str, model: str, text: str, output_tokens: int) -> Iterator[bytes]:
        def event(name: str, payload: dict) -> bytes:
            return f"event: {name}\ndata: {json.dumps(payload)}\n\n".encode()

        yield event(
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": mid,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {"input_tokens": 5, "output_tokens": 1},
                },
            },
        )
        yield event("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
        for piece in self._pieces(text):
            yield event("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}})
        yield event("content_block_stop", {"type": "content_block_stop", "index": 0})
        yield event(
            "message_delta",
            {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": {"output_tokens": output_tokens}},
        )
        yield event("message_stop", {"type": "message_stop"})
