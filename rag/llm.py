"""The LLM behind one small interface, over any OpenAI-compatible endpoint.

OpenAI, Ollama, vLLM, llama.cpp server and LM Studio all speak the same chat-completions protocol,
so one client covers them. The official client's own retries are switched off (`max_retries=0`):
our loop retries only what is worth retrying, bounds the total time, and turns every failure into
an `LLMError` whose message can be shown to the user as is.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections.abc import Callable, Generator, Iterator
from contextlib import closing
from typing import Any, Protocol, TypeVar, cast

import openai

from rag.settings import LLMSettings

T = TypeVar("T")

# A server may ask for a longer pause (Retry-After); we honour it up to this many seconds so that
# a request never waits much longer than its retry budget.
MAX_RETRY_AFTER_S = 5.0
_CUT_REASONS = {"timeout": "the endpoint stopped sending", "connection": "the connection dropped"}
_THINK = re.compile(r"<think>.*?</think>", re.DOTALL)


class LLMError(Exception):
    """Any failure of the endpoint; `str(err)` is a short sentence for the user."""

    def __init__(self, message: str, kind: str, partial: str = ""):
        super().__init__(message)
        # 'timeout' | 'connection' | 'rate_limit' | 'server' | 'bad_response' | 'stream_cut' | 'auth' | 'circuit_open'
        self.kind = kind
        self.partial = partial  # text received before a stream broke


class LLM(Protocol):
    model: str

    def stream(self, messages: list[dict[str, str]]) -> Iterator[str]:
        """Yield text deltas of the reply; raise LLMError."""
        ...

    def complete(self, messages: list[dict[str, str]]) -> str:
        """The whole reply; raise LLMError."""
        ...


class _BadReply(Exception):
    """The endpoint answered, but not with something usable (never retried)."""


class _Incomplete(Exception):
    """A stream ended or stalled before it was finished."""

    def __init__(self, message: str, timed_out: bool = False):
        super().__init__(message)
        self.timed_out = timed_out


def _type_names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def _detail(exc: BaseException) -> str:
    """The server's own error message, shortened."""
    body = getattr(exc, "body", None)
    message = body.get("message") if isinstance(body, dict) else body if isinstance(body, str) else None
    text = message if isinstance(message, str) and message else str(exc)
    text = " ".join(text.split())
    return text[:117] + "..." if len(text) > 120 else text


def _retry_after(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        try:
            value = float(headers.get(name)) * scale
        except (TypeError, ValueError):  # absent, or an HTTP date: use our own backoff
            continue
        if value >= 0:
            return min(value, MAX_RETRY_AFTER_S)
    return None


class _Endpoint:
    """One OpenAI client plus the retry policy and the error wording shared by chat and embeddings."""

    def __init__(
        self, label: str, base_url: str, api_key: str | None, timeout_s: float, max_retries: int, backoff_s: float
    ):
        self.label = label
        self.base_url = base_url
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.client = openai.OpenAI(
            base_url=base_url, api_key=api_key or "not-needed", timeout=timeout_s, max_retries=0
        )

    def classify(self, exc: Exception, attempts: int) -> tuple[LLMError, bool, float | None]:
        """(error to raise, worth retrying, server-requested delay) for one failed attempt."""
        tries = f" ({attempts} attempts)" if attempts > 1 else ""
        where = f"the {self.label} endpoint"
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            if status == 429:
                msg = f"{where} is rate-limiting requests (HTTP 429){tries}"
                return LLMError(msg, "rate_limit"), True, _retry_after(exc)
            if status in (401, 403):
                return LLMError(f"{where} rejected the API key (HTTP {status}: {_detail(exc)})", "auth"), False, None
            if status >= 500:
                msg = f"{where} failed with HTTP {status} ({_detail(exc)}){tries}"
                return LLMError(msg, "server"), True, _retry_after(exc)
            return LLMError(f"{where} refused the request (HTTP {status}: {_detail(exc)})", "bad_response"), False, None
        names = _type_names(exc)
        if (
            isinstance(exc, openai.APITimeoutError | TimeoutError)
            or "TimeoutException" in names
            or (isinstance(exc, _Incomplete) and exc.timed_out)
        ):
            return LLMError(f"{where} timed out after {self.timeout_s:.1f} s{tries}", "timeout"), True, None
        if isinstance(exc, openai.APIConnectionError | ConnectionError) or "TransportError" in names:
            msg = f"could not connect to {where} at {self.base_url}{tries}"
            return LLMError(msg, "connection"), True, None
        if isinstance(exc, openai.APIError):  # e.g. an error event inside a stream
            return LLMError(f"{where} reported an error: {_detail(exc)}", "server"), False, None
        return LLMError(f"{where} sent an unusable reply ({_detail(exc)})", "bad_response"), False, None

    def delay(self, attempt: int, requested: float | None) -> float:
        """Exponential backoff, unless the server said how long to wait."""
        return requested if requested is not None else self.backoff_s * 2 ** (attempt - 1)

    def call(self, once: Callable[[], T]) -> T:
        """Run `once` with bounded retries; every failure leaves as an LLMError."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return once()
            except LLMError:
                raise
            except Exception as exc:
                error, retry, requested = self.classify(exc, attempt)
                if not retry or attempt > self.max_retries:
                    raise error from exc
                time.sleep(self.delay(attempt, requested))


class CircuitBreaker:
    """Stops calling an endpoint that keeps failing, so a dead LLM costs each request nothing.

    Closed: every call goes through. After `failures` consecutive failed calls it opens: calls are
    refused at once for `cooldown_s`. Then it is half-open: one trial call goes through (the others
    are still refused); its success closes the breaker, its failure opens it for another cool-down.
    `failures=0` turns it off.
    """

    def __init__(self, failures: int, cooldown_s: float, clock: Callable[[], float] = time.monotonic):
        self.failures = failures
        self.cooldown_s = cooldown_s
        self.clock = clock
        self._streak = 0  # consecutive failures
        self._opened_at: float | None = None
        self._trial = False  # a half-open trial call is in flight
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        with self._lock:
            return self._state()

    def _state(self) -> str:
        if self._opened_at is None:
            return "closed"
        return "open" if self.clock() - self._opened_at < self.cooldown_s else "half-open"

    def admit(self) -> float:
        """0 when a call may go ahead, else the seconds until the next trial call."""
        if self.failures <= 0:
            return 0.0
        with self._lock:
            state = self._state()
            if state == "closed":
                return 0.0
            if state == "half-open" and not self._trial:
                self._trial = True
                return 0.0
            assert self._opened_at is not None
            return max(0.1, self._opened_at + self.cooldown_s - self.clock())

    def record(self, ok: bool | None) -> None:
        """The outcome of an admitted call: True, False, or None when it was abandoned half-way."""
        with self._lock:
            trial, self._trial = self._trial, False
            if ok is None:
                return
            if ok:
                self._streak, self._opened_at = 0, None
                return
            self._streak += 1
            if trial or (self.failures > 0 and self._streak >= self.failures):
                self._opened_at = self.clock()


class OpenAILLM:
    """Chat completions from an OpenAI-compatible endpoint, behind a circuit breaker."""

    def __init__(self, settings: LLMSettings):
        if not settings.base_url:
            raise ValueError("OpenAILLM needs llm.base_url (OPENAI_BASE_URL)")
        self.settings = settings
        self.model = settings.model
        self._endpoint = _Endpoint(
            "LLM", settings.base_url, settings.api_key, settings.timeout_s, settings.max_retries, settings.backoff_s
        )
        self.breaker = CircuitBreaker(settings.breaker_failures, settings.breaker_cooldown_s)

    def _admit(self) -> None:
        wait = self.breaker.admit()
        if wait:
            raise LLMError(
                f"the LLM endpoint is paused after {self.breaker.failures} failed requests in a row "
                f"(circuit breaker; next try in {math.ceil(wait)} s)",
                "circuit_open",
            )

    def complete(self, messages: list[dict[str, str]]) -> str:
        self._admit()
        ok: bool | None = None
        try:
            text = self._complete(messages)
            ok = True
            return text
        except LLMError:
            ok = False
            raise
        finally:
            self.breaker.record(ok)

    def stream(self, messages: list[dict[str, str]]) -> Generator[str, None, None]:
        self._admit()
        ok: bool | None = None
        try:
            yield from self._stream(messages)
            ok = True
        except LLMError:
            ok = False
            raise
        finally:  # a stream abandoned by its reader (ok None) is neither a success nor a failure
            self.breaker.record(ok)

    def _request(self, messages: list[dict[str, str]]) -> dict[str, Any]:
        return {
            "model": self.model,
            "messages": cast(Any, messages),
            "temperature": self.settings.temperature,
            "max_tokens": self.settings.max_tokens,
        }

    def _complete(self, messages: list[dict[str, str]]) -> str:
        def once() -> str:
            reply = self._endpoint.client.chat.completions.create(**self._request(messages), stream=False)
            choices = getattr(reply, "choices", None)  # a non-JSON body comes back as a plain str
            if not choices:
                raise _BadReply("no choices in the reply")
            text = strip_think(choices[0].message.content or "").strip()
            if not text:
                raise _BadReply("empty reply")
            return text

        return self._endpoint.call(once)

    def _stream(self, messages: list[dict[str, str]]) -> Generator[str, None, None]:
        endpoint = self._endpoint
        attempt = 0
        while True:
            attempt += 1
            received: list[str] = []
            try:
                with closing(self._stream_once(messages)) as deltas:  # closes the HTTP response early too
                    for delta in deltas:
                        received.append(delta)
                        yield delta
                if not "".join(received).strip():
                    raise LLMError(f"the {endpoint.label} endpoint sent an empty reply", "bad_response")
                return
            except LLMError:
                raise
            except Exception as exc:
                partial = "".join(received)
                error, retry, requested = endpoint.classify(exc, attempt)
                if partial:  # text was already shown: retrying would repeat it, so report the cut
                    reason = _CUT_REASONS.get(error.kind, _detail(exc))
                    msg = f"the LLM reply broke off after {len(partial)} characters ({reason})"
                    raise LLMError(msg, "stream_cut", partial=partial) from exc
                if not retry or attempt > endpoint.max_retries:
                    raise error from exc
                time.sleep(endpoint.delay(attempt, requested))

    def _stream_once(self, messages: list[dict[str, str]]) -> Generator[str, None, None]:
        """One streamed request, parsing the SSE lines ourselves so a missing [DONE] is noticed."""
        timeout = self._endpoint.timeout_s
        create = self._endpoint.client.chat.completions.with_streaming_response.create
        with create(**self._request(messages), stream=True) as response:
            if "json" in response.headers.get("content-type", ""):  # a server that ignored stream=true
                body = response.json()
                choices = body.get("choices") if isinstance(body, dict) else None
                if not choices:
                    raise _BadReply("no choices in the reply")
                text = choices[0]["message"]["content"]
                if text:
                    yield text
                return
            last = time.monotonic()
            for line in response.iter_lines():
                # Each read is bounded by the client timeout; this also bounds keep-alive-only streams.
                if time.monotonic() - last > timeout:
                    raise _Incomplete("no text within the timeout", timed_out=True)
                if not line.startswith("data:"):
                    continue  # blank separators, ": keep-alive" comments, event:/id: fields
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                try:
                    chunk = json.loads(data)
                except ValueError:
                    raise _Incomplete("malformed event in the stream") from None
                if not isinstance(chunk, dict):
                    raise _Incomplete("malformed event in the stream")
                if chunk.get("error"):
                    error = chunk["error"]
                    message = error.get("message") if isinstance(error, dict) else str(error)
                    raise _BadReply(f"error event in the stream: {message}")
                finished = False
                for choice in chunk.get("choices") or []:
                    delta = choice.get("delta") or {}
                    content = delta.get("content") if isinstance(delta, dict) else None
                    if content:
                        last = time.monotonic()
                        yield content
                    finished = finished or bool(choice.get("finish_reason"))
                if finished:  # complete even if a proxy then drops the connection before [DONE]
                    return
        raise _Incomplete("the stream ended without [DONE]")


def strip_think(text: str) -> str:
    """Drop `<think>...</think>` reasoning that some local models put before the answer."""
    text = _THINK.sub("", text)
    if "</think>" in text:  # the opening tag was part of the prompt template
        text = text.rsplit("</think>", 1)[1]
    return text


def make_llm(settings: LLMSettings) -> LLM | None:
    """The configured LLM, or None when no endpoint is configured (extractive mode)."""
    return OpenAILLM(settings) if settings.enabled else None


class OpenAIEmbeddingsClient:
    """Embeddings from an OpenAI-compatible /embeddings endpoint, with the same retry policy."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        model: str,
        timeout_s: float = 30,
        max_retries: int = 2,
        backoff_s: float = 0.5,
    ):
        self.model = model
        self._endpoint = _Endpoint("embeddings", base_url, api_key, timeout_s, max_retries, backoff_s)

    def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []

        def once() -> list[list[float]]:
            # "float" explicitly: the client would otherwise ask for base64, which not every server supports.
            reply = self._endpoint.client.embeddings.create(model=self.model, input=texts, encoding_format="float")
            data = sorted(getattr(reply, "data", None) or [], key=lambda d: d.index)
            vectors = [list(d.embedding) for d in data]
            if len(vectors) != len(texts) or any(not v for v in vectors):
                raise _BadReply(f"expected {len(texts)} vectors, got {len(vectors)}")
            return vectors

        return self._endpoint.call(once)
