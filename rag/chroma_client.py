"""A Chroma client for a `chroma run` server (settings.chroma, mode 'server'), with clear errors.

`chromadb.HttpClient` waits for ever on a host that does not answer (its HTTP session has no timeout) and
reports a refused token, a TLS failure or a missing server as a bare exception. So the server is first
probed with one bounded request carrying the same headers, and each way that can fail becomes one
`ChromaUnavailableError` that says what to set; then the client gets the request timeout too.

Chroma 1.x's own server (`chroma run`) checks no credentials: a deployment that needs a token puts a proxy
in front of it (Envoy or nginx, as Chroma's docs show) that checks `Authorization: Bearer TOKEN` or
`X-Chroma-Token: TOKEN` and terminates TLS. The client side is the same either way: `auth_token`, `ssl`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import httpx

from rag.errors import UserError
from rag.settings import ChromaSettings

API = "/api/v2"


class ChromaUnavailableError(UserError):
    """The Chroma server cannot be used as configured; the message says what to check."""


def auth_headers(c: ChromaSettings) -> dict[str, str]:
    if not c.auth_token:
        return {}
    if c.auth_header == "Authorization":
        return {"Authorization": f"Bearer {c.auth_token}"}
    return {"X-Chroma-Token": c.auth_token}


def _verify(c: ChromaSettings) -> bool | str:
    return c.ssl_verify if isinstance(c.ssl_verify, bool) else str(c.ssl_verify)


def _timeout(c: ChromaSettings) -> httpx.Timeout:
    return httpx.Timeout(c.request_timeout_s, connect=c.connect_timeout_s)


def probe(c: ChromaSettings) -> dict[str, Any]:
    """One authenticated request (who am I) to the server: its answer, or a ChromaUnavailableError."""
    where = f"the Chroma server at {c.url}"
    try:
        resp = httpx.get(f"{c.url}{API}/auth/identity", headers=auth_headers(c), timeout=_timeout(c), verify=_verify(c))
    except httpx.TimeoutException:
        raise ChromaUnavailableError(
            f"{where} did not answer within {c.connect_timeout_s:g} s (RAG_CHROMA__CONNECT_TIMEOUT_S): is it running, "
            "and are RAG_CHROMA__HOST / RAG_CHROMA__PORT right?"
        ) from None
    except httpx.ConnectError as exc:
        if "SSL" in str(exc) or "certificate" in str(exc).lower():
            raise ChromaUnavailableError(
                f"TLS with {where} failed ({_short(exc)}): check RAG_CHROMA__SSL, and RAG_CHROMA__SSL_VERIFY "
                "(a CA bundle path for a private certificate)"
            ) from None
        raise ChromaUnavailableError(
            f"cannot reach {where} ({_short(exc)}): start it (`chroma run --path DIR --host {c.host} --port {c.port}`) "
            "or set RAG_CHROMA__HOST / RAG_CHROMA__PORT"
        ) from None
    except httpx.HTTPError as exc:  # a protocol error: e.g. plain HTTP sent to a TLS port
        hint = " (is it HTTPS? set RAG_CHROMA__SSL=true)" if not c.ssl else ""
        raise ChromaUnavailableError(f"{where} could not be talked to: {_short(exc)}{hint}") from None
    if resp.status_code in (401, 403):
        told = "refused the token in RAG_CHROMA__AUTH_TOKEN" if c.auth_token else "requires a token"
        raise ChromaUnavailableError(
            f"{where} {told} (HTTP {resp.status_code}): set RAG_CHROMA__AUTH_TOKEN to the server's token "
            f"(sent as {c.auth_header}; RAG_CHROMA__AUTH_HEADER picks Authorization or X-Chroma-Token)"
        )
    if resp.status_code == 404:
        raise ChromaUnavailableError(f"{where} has no {API} API: is it a Chroma 1.x server?")
    if resp.status_code >= 400:
        raise ChromaUnavailableError(f"{where} answered HTTP {resp.status_code}: {resp.text[:200]}")
    try:
        return dict(resp.json())
    except ValueError:
        raise ChromaUnavailableError(f"{where} did not answer with JSON: is it a Chroma server?") from None


class RetryStale(httpx.BaseTransport):
    """Sends a request again, once, on a fresh connection when the server closed the reused one without answering.

    A server or proxy closes an idle keep-alive connection after its own timeout (uvicorn 5 s, gunicorn 2 s); a
    request sent on it in the same instant gets "Server disconnected without sending a response", so the server
    never saw it and one retry is safe. Any other failure, and a second disconnect, goes up as it is."""

    def __init__(self, inner: httpx.BaseTransport):
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return self.inner.handle_request(request)
        except httpx.RemoteProtocolError as exc:
            if "without sending a response" not in str(exc):
                raise
        return self.inner.handle_request(request)  # the pool has dropped the closed connection: a new one

    def close(self) -> None:
        self.inner.close()


def _harden(api: Any, c: ChromaSettings) -> None:
    """chromadb's HTTP session: the request timeout (it sets none) and the stale-connection retry."""
    session = getattr(api, "_session", None)
    if isinstance(session, httpx.Client):
        session.timeout = _timeout(c)
        # httpx has no public way to wrap a client's transport once built; chromadb builds this client itself.
        if not isinstance(session._transport, RetryStale):
            session._transport = RetryStale(session._transport)


def connect(c: ChromaSettings) -> Any:
    """A `chromadb.HttpClient` for the server, tenant and database of the settings."""
    import chromadb

    probe(c)
    try:
        client = chromadb.HttpClient(
            host=c.host,
            port=c.port,
            ssl=c.ssl,
            headers=auth_headers(c),
            settings=chromadb.Settings(anonymized_telemetry=False, chroma_server_ssl_verify=_verify(c)),
            tenant=c.tenant,
            database=c.database,
        )
    except Exception as exc:  # chromadb's own checks: an unknown tenant or database, mostly
        raise ChromaUnavailableError(
            f"the Chroma server at {c.url}: {exc} (RAG_CHROMA__TENANT={c.tenant}, RAG_CHROMA__DATABASE={c.database})"
        ) from None
    _harden(getattr(client, "_server", None), c)
    return client


def ensure_database(c: ChromaSettings) -> None:
    """The writer (`rag ingest`) creates the tenant and database it is told to use; replicas only open them."""
    import chromadb

    probe(c)
    admin = chromadb.AdminClient(
        chromadb.Settings(
            chroma_api_impl="chromadb.api.fastapi.FastAPI",
            chroma_server_host=c.host,
            chroma_server_http_port=c.port,
            chroma_server_ssl_enabled=c.ssl,
            chroma_server_ssl_verify=_verify(c),
            chroma_server_headers=auth_headers(c),
            anonymized_telemetry=False,
        )
    )
    _harden(getattr(admin, "_server", None), c)
    with server_errors(c):
        try:
            admin.get_tenant(c.tenant)
        except Exception as exc:
            if type(exc).__name__ != "NotFoundError":
                raise
            admin.create_tenant(c.tenant)
        try:
            admin.get_database(c.database, tenant=c.tenant)
        except Exception as exc:
            if type(exc).__name__ != "NotFoundError":
                raise
            admin.create_database(c.database, tenant=c.tenant)


@contextlib.contextmanager
def server_errors(c: ChromaSettings) -> Iterator[None]:
    """A server that goes away (or starts refusing) while this process answers: one clear error, no traceback."""
    try:
        yield
    except httpx.TimeoutException:
        raise ChromaUnavailableError(
            f"the Chroma server at {c.url} did not answer within {c.request_timeout_s:g} s "
            "(RAG_CHROMA__REQUEST_TIMEOUT_S)"
        ) from None
    except httpx.TransportError as exc:
        raise ChromaUnavailableError(f"lost the Chroma server at {c.url}: {_short(exc)}") from None
    except Exception as exc:
        if type(exc).__name__ in ("ChromaAuthError", "AuthorizationError"):  # a token revoked meanwhile
            raise ChromaUnavailableError(f"the Chroma server at {c.url} now refuses this client: {exc}") from None
        if type(exc) is Exception:  # chromadb's form of an HTTP error that is not Chroma's: a proxy's 502 / 503
            raise ChromaUnavailableError(f"the Chroma server at {c.url} failed a request: {_short(exc)}") from None
        raise


def _short(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."
