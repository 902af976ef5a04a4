"""A small OpenAI-protocol HTTP server for tests (stdlib only).

The real `openai` client talks to it over real sockets, so tests exercise the client's HTTP, SSE
and error handling rather than a patched object. Replies are scripted per chat request:

    fake.script("Answer [1].", 500, Reply.error(429, retry_after=0.1), Reply.cut("a b c d", after=2))

Streaming uses HTTP/1.1 chunked transfer encoding like real servers (uvicorn, vLLM, Ollama), so a
cut stream is an abrupt close in the middle of the body.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import socket
import struct
import sys
import threading
import time
from base64 import b64encode
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

DEFAULT_TEXT = "This is the default reply of the fake server."
EMBEDDING_DIM = 32
MODEL = "fake-model"


@dataclass
class Reply:
    """One scripted answer to one request."""

    text: str = DEFAULT_TEXT
    status: int = 200
    retry_after: float | None = None  # sent as a Retry-After header with an error status
    delay: float = 0.0  # seconds to wait before answering at all
    chunk_delay: float = 0.002  # stream: seconds between content chunks (raise it for a visibly slow stream)
    cut_after: int | None = None  # close the connection after this many content chunks (no [DONE])
    malformed_after: int | None = None  # send broken SSE JSON after this many chunks (non-stream: broken body)
    done: bool = True  # stream: end with finish_reason + [DONE]; False ends the body cleanly without them
    body: dict[str, Any] | None = None  # send this JSON instead (also to a stream request, like some servers)

    @classmethod
    def error(cls, status: int, retry_after: float | None = None, message: str | None = None) -> Reply:
        return cls(text=message or f"fake error {status}", status=status, retry_after=retry_after)

    @classmethod
    def slow(cls, delay: float, text: str = DEFAULT_TEXT) -> Reply:
        return cls(text=text, delay=delay)

    @classmethod
    def cut(cls, text: str, after: int) -> Reply:
        return cls(text=text, cut_after=after)

    @classmethod
    def malformed(cls, text: str = DEFAULT_TEXT, after: int = 0) -> Reply:
        return cls(text=text, malformed_after=after)


ReplyLike = Reply | str | int


def as_reply(value: ReplyLike) -> Reply:
    """Plain text is a normal answer, an int an HTTP error status."""
    if isinstance(value, Reply):
        return value
    if isinstance(value, int):
        return Reply.error(value)
    return Reply(text=value)


def chunks_of(text: str) -> list[str]:
    """The content deltas a stream sends for `text`: one per word (with its leading space)."""
    return re.findall(r"\s*\S+\s*$|\s*\S+", text) or ([text] if text else [])


def fake_embedding(text: str) -> list[float]:
    """Deterministic unit vector from a hash of the text."""
    digest = hashlib.sha256(text.encode()).digest()
    raw = [(digest[i % len(digest)] ^ (i * 37 % 256)) / 255.0 - 0.5 for i in range(EMBEDDING_DIM)]
    norm = math.sqrt(sum(v * v for v in raw)) or 1.0
    return [v / norm for v in raw]


def error_body(status: int, message: str) -> dict[str, Any]:
    kinds = {401: "invalid_request_error", 429: "rate_limit_exceeded", 404: "not_found_error"}
    return {"error": {"message": message, "type": kinds.get(status, "server_error"), "param": None, "code": None}}


class FakeOpenAI:
    """A started-on-demand OpenAI-compatible server on 127.0.0.1 with scripted replies."""

    def __init__(self, responder: Callable[[dict[str, Any]], ReplyLike] | None = None):
        self.responder = responder
        self.requests: list[dict[str, Any]] = []  # JSON bodies of every POST, in arrival order
        self._chat: deque[Reply] = deque()
        self._embeddings: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()  # wakes up handlers sleeping in a scripted delay
        self._server: ThreadingHTTPServer | None = None
        self.url = ""

    # -- scripting ----------------------------------------------------------------------------------
    def script(self, *replies: ReplyLike) -> None:
        """Queue replies for the next chat requests, one each."""
        with self._lock:
            self._chat.extend(as_reply(r) for r in replies)

    def script_embeddings(self, *replies: ReplyLike) -> None:
        """Queue replies (errors or delays; text is ignored) for the next embedding requests."""
        with self._lock:
            self._embeddings.extend(as_reply(r) for r in replies)

    def chat_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if "messages" in r]

    def _next(self, queue: deque[Reply], body: dict[str, Any]) -> Reply:
        with self._lock:
            self.requests.append(body)
            if queue:
                return queue.popleft()
        if queue is self._chat and self.responder is not None:
            return as_reply(self.responder(body))
        return Reply()

    # -- lifecycle ----------------------------------------------------------------------------------
    def start(self, port: int = 0) -> FakeOpenAI:
        """Listen on `port` (0: any free one); a stopped server can start again on its old port."""
        fake = self

        class Handler(_Handler):
            server_fake = fake

        self._stopping.clear()
        self._server = _Server(("127.0.0.1", port), Handler)
        threading.Thread(target=self._server.serve_forever, args=(0.05,), name="fake-openai", daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        return self

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1].split("/")[0])

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # clients dropping keep-alive sockets is normal
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked streams, like real servers
    disable_nagle_algorithm = True  # no 40 ms delayed-ACK stalls between headers and body
    server_fake: FakeOpenAI

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass

    # -- routing ------------------------------------------------------------------------------------
    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/v1/models":
            self._json(200, {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "fake"}]})
        else:
            self._json(404, error_body(404, f"no route {self.path}"))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            self._json(400, error_body(400, "request body is not JSON"))
            return
        fake = self.server_fake
        try:
            if self.path == "/v1/chat/completions":
                self._chat(body, fake._next(fake._chat, body))
            elif self.path == "/v1/embeddings":
                self._embeddings(body, fake._next(fake._embeddings, body))
            else:
                self._json(404, error_body(404, f"no route {self.path}"))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (e.g. its timeout fired during a scripted delay)

    # -- replies ------------------------------------------------------------------------------------
    def _before(self, reply: Reply) -> bool:
        """Delay and error statuses shared by all endpoints; False when the reply is already sent."""
        if reply.delay and self.server_fake._stopping.wait(reply.delay):
            return False
        if reply.status != 200:
            headers = {} if reply.retry_after is None else {"Retry-After": f"{reply.retry_after:g}"}
            self._json(reply.status, error_body(reply.status, reply.text), headers)
            return False
        return True

    def _chat(self, body: dict[str, Any], reply: Reply) -> None:
        if not self._before(reply):
            return
        model = str(body.get("model") or MODEL)
        if reply.body is not None:
            self._json(200, reply.body)
        elif body.get("stream"):
            self._stream(model, reply)
        elif reply.malformed_after is not None:
            self._raw(200, b'{"id": "chatcmpl-fake", "choices": [{"message": ', "application/json")
        elif reply.cut_after is not None:
            self.close_connection = True  # drop the request without any response
        else:
            message = {"role": "assistant", "content": reply.text}
            self._json(200, {**_envelope(model, "chat.completion"), "choices": [_choice(message, "stop")]})

    def _stream(self, model: str, reply: Reply) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        base = _envelope(model, "chat.completion.chunk")

        def event(payload: str) -> None:
            data = f"data: {payload}\n\n".encode()
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        event(json.dumps({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}))
        for i, piece in enumerate(chunks_of(reply.text)):
            if i == reply.cut_after:
                self.close_connection = True
                return  # abrupt close: no final chunk, no [DONE], no chunked terminator
            if i == reply.malformed_after:
                event('{"choices": [{"index": 0, "delta": {"content": "bro')
            event(json.dumps({**base, "choices": [{"index": 0, "delta": {"content": piece}}]}))
            time.sleep(reply.chunk_delay)  # let deltas arrive as separate reads, like a real model
        if reply.done:
            event(json.dumps({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
            event("[DONE]")
        self.wfile.write(b"0\r\n\r\n")

    def _embeddings(self, body: dict[str, Any], reply: Reply) -> None:
        if not self._before(reply):
            return
        texts = body.get("input")
        texts = [texts] if isinstance(texts, str) else list(texts or [])
        data = []
        for i, text in enumerate(texts):
            vector: list[float] | str = fake_embedding(str(text))
            if body.get("encoding_format") == "base64":
                vector = b64encode(struct.pack(f"<{EMBEDDING_DIM}f", *vector)).decode()
            data.append({"object": "embedding", "index": i, "embedding": vector})
        usage = {"prompt_tokens": len(texts), "total_tokens": len(texts)}
        self._json(200, {"object": "list", "data": data, "model": body.get("model", MODEL), "usage": usage})

    # -- plumbing -----------------------------------------------------------------------------------
    def _json(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        self._raw(status, json.dumps(payload).encode(), "application/json", headers)

    def _raw(self, status: int, data: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)


def _envelope(model: str, obj: str) -> dict[str, Any]:
    return {"id": "chatcmpl-fake", "object": obj, "created": int(time.time()), "model": model}


def _choice(message: dict[str, Any], finish: str) -> dict[str, Any]:
    return {"index": 0, "message": message, "finish_reason": finish, "logprobs": None}


def unused_url() -> str:
    """A base URL on a port nothing listens on (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


@pytest.fixture()
def fake_openai() -> Iterator[FakeOpenAI]:
    """A running fake OpenAI server, stopped after the test."""
    fake = FakeOpenAI().start()
    try:
        yield fake
    finally:
        fake.stop()
