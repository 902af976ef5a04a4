"""HTTP API: a thin FastAPI shell over `rag.Engine`, returning the same JSON objects as the CLI's `--json`.

    POST /api/ask            {"question", "history"?, "k"?, "filters"?} -> Answer
    POST /api/search         same body -> SearchResult
    POST /api/ask/stream     events: `sources` {"sources"}, `delta` {"text"}..., then `answer` (or `error`)
    GET  /api/papers         ?q=&author=&year=YYYY[-YYYY]&year_from=&year_to=&category=&source=&limit=&offset=
                             -> {"total", "offset", "limit", "papers": [Paper + url]}
    GET  /api/papers/facets  -> {"total", "categories", "sources", "years"}: [{"value", "meaning", "count"}]
    GET  /api/papers/{id}    -> Paper + url, or 404
    GET  /api/papers/{id}/similar?n=5 -> {"paper_id", "method", "papers": [Paper + url + score]}
    GET  /api/docs           -> Swagger UI (local assets)
    GET  /api/health         -> {"status": "ok", "papers": N, "mode": "extractive" | "llm"}

Every error is JSON `{"error": "<message>"}`: 4xx for bad input (including `UserError` from the
engine), 500 with a generic message (details only in the server log) for anything unexpected.
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
import math
from collections.abc import Callable, Coroutine, Iterator, MutableMapping
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send
from swagger_ui_bundle import swagger_ui_path

from rag.browse import MAX_LIMIT, Browser, CatalogQuery
from rag.engine import Engine
from rag.errors import UserError
from rag.limits import Limits, RateLimiter
from rag.models import Message, Paper
from rag.retrieve import Filters

log = logging.getLogger("ui.api")

DOCS_ASSETS = "/api/docs/assets"
GENERIC_ERROR = "internal error: the server could not answer this request (the details are in its log)"


class StrictFilters(Filters):
    """`Filters`, but an unknown key is an error instead of being silently ignored."""

    model_config = ConfigDict(extra="forbid")


class QuestionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Bounds (question length, history size, k, filters) are checked by the engine (rag.limits), for every shell.
    question: str = Field(description="The question (the engine rejects empty or over-long ones).")
    history: list[Message] = Field(default_factory=list, description="Earlier turns (bounded: limits.history_*).")
    k: int | None = Field(None, description="Papers to retrieve (default from settings; at most limits.k_max).")
    filters: StrictFilters | None = None


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


# -- HTTP exposure: pure ASGI middlewares, one job each, in front of the API and the UI ------------------------
def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _is_api(scope: Scope) -> bool:
    path: str = scope.get("path", "")
    return path == "/api" or path.startswith("/api/")


class HeadAsGet:
    """HEAD is answered like GET without the body; every response says `nosniff`, so no browser runs JSON
    (which may quote hostile text) as HTML."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        head = scope["method"] == "HEAD"
        if head:
            scope = {**scope, "method": "GET"}

        async def sending(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"x-content-type-options", b"nosniff")]}
            elif head and message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app(scope, receive, sending)


class ErrorShape:
    """404 and 405 from the UI's routes (Gradio answers `{"detail": ...}`) in the one error shape `{"error": ...}`."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: MutableMapping[str, Any] | None = None
        body = b""

        async def sending(message: MutableMapping[str, Any]) -> None:
            nonlocal start, body
            if message["type"] == "http.response.start":
                kind = {k.lower(): v for k, v in message.get("headers", [])}.get(b"content-type", b"")
                if message["status"] in (404, 405) and kind.startswith(b"application/json"):
                    start = message  # held back until the body says whether it is `{"detail": ...}`
                    return
            elif start is not None and message["type"] == "http.response.body":
                body += message.get("body", b"")
                if message.get("more_body"):
                    return
                try:
                    parsed = json.loads(body)
                except ValueError:
                    parsed = None
                if isinstance(parsed, dict) and set(parsed) == {"detail"}:
                    body = json.dumps({"error": str(parsed["detail"])}).encode()
                kept = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
                await send({**start, "headers": [*kept, (b"content-length", str(len(body)).encode())]})
                message = {"type": "http.response.body", "body": body, "more_body": False}
            await send(message)

        await self.app(scope, receive, sending)


class RateLimit:
    """429 with Retry-After once a client IP exceeds its token bucket on /api (server.rate_per_s, rate_burst)."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter):
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _is_api(scope) and self.limiter.enabled:
            client = (scope.get("client") or ("unknown", 0))[0]
            wait = self.limiter.acquire(client)
            if wait > 0:
                retry = max(1, math.ceil(wait))
                message = f"too many requests: the limit is {self.limiter.rate:g} per second; retry in {retry} s"
                response = JSONResponse({"error": message}, status_code=429, headers={"Retry-After": str(retry)})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class ApiKeyGate:
    """When server.api_key is set, every request needs it: `Authorization: Bearer KEY` or `X-API-Key: KEY`,
    or HTTP basic auth with KEY as password (what a browser sends for the UI page after its prompt).
    OPTIONS passes: it reveals only the allowed methods, and CORS preflights never carry credentials."""

    def __init__(self, app: ASGIApp, key: str):
        self.app = app
        self.key = key.encode()

    def _authorized(self, scope: Scope) -> bool:
        offered: list[str] = []
        auth = _header(scope, b"authorization") or ""
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer":
            offered.append(value.strip())
        elif scheme.lower() == "basic":
            try:
                offered.append(base64.b64decode(value.strip(), validate=True).decode().partition(":")[2])
            except (ValueError, UnicodeDecodeError):
                pass
        offered.append(_header(scope, b"x-api-key") or "")
        return any(hmac.compare_digest(o.encode(), self.key) for o in offered if o)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope.get("method") == "OPTIONS" or self._authorized(scope):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        challenge = 'Bearer realm="paperchat"' if _is_api(scope) else 'Basic realm="paperchat"'
        message = "this server needs an API key: send `Authorization: Bearer KEY` or `X-API-Key: KEY`"
        response = JSONResponse({"error": message}, status_code=401, headers={"WWW-Authenticate": challenge})
        await response(scope, receive, send)


class BodyLimit:
    """A request body over limits.body_bytes is refused (413) before anything parses it: at once from its
    Content-Length, or as soon as a streamed (chunked) body passes the limit. Memory and time stay within it."""

    def __init__(self, app: ASGIApp, limits: Limits):
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                await JSONResponse({"error": "invalid Content-Length header"}, status_code=400)(scope, receive, send)
                return
            too_big = self.limits.body(int(declared))
            if too_big:
                await JSONResponse({"error": too_big}, status_code=413)(scope, receive, send)
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            too_big = self.limits.body(size)
            if too_big:
                await JSONResponse({"error": too_big}, status_code=413)(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        replayed = False

        async def replay() -> MutableMapping[str, Any]:
            nonlocal replayed
            if replayed:
                return await receive()  # the app waits for the client's disconnect here
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)


class GuardedRoute(APIRoute):
    """Turns `UserError` into 400 and any other exception into a logged, generic 500 JSON error.

    Done per route rather than with a catch-all exception handler, because Starlette re-raises
    after the `Exception` handler runs (a traceback in every client of TestClient, twice in logs).
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except (StarletteHTTPException, RequestValidationError):
                raise  # formatted by the handlers registered in create_api
            except UserError as exc:
                return error(400, str(exc))
            except Exception:
                log.exception("unexpected error in %s %s", request.method, request.url.path)
                return error(500, GENERIC_ERROR)

        return guarded


def _validation_message(exc: RequestValidationError) -> tuple[int, str]:
    problems = []
    for e in exc.errors():
        if e.get("type") == "json_invalid":
            return 400, "the request body is not valid JSON"
        loc = [str(x) for x in e.get("loc", ()) if x not in ("body", "query", "path")]
        if not loc:  # the body as a whole: missing, or not an object
            return 400, "the request body must be a JSON object"
        problems.append(f"{'.'.join(loc) or 'body'}: {e.get('msg', 'invalid')}")
    return 422, "invalid request: " + "; ".join(problems)


def _sse(event: str, data: dict[str, Any]) -> str:
    # json.dumps keeps the payload on one line, as one SSE `data:` field must be.
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def paper_json(p: Paper) -> dict[str, Any]:
    """A paper as `rag catalog --json` prints it."""
    return p.model_dump(mode="json") | {"url": p.url}


def _year_range(year: str) -> tuple[int, int]:
    lo, sep, hi = year.strip().partition("-")
    try:
        y0 = int(lo)
        return y0, int(hi) if sep else y0
    except ValueError:
        raise UserError(f"year takes YYYY or YYYY-YYYY, not {year!r}") from None


def _expose(app: FastAPI, engine: Engine) -> None:
    """The middlewares, outermost last: CORS, HEAD, rate limit, API key, body size, error shape (settings.server)."""
    server = engine.settings.server
    app.add_middleware(ErrorShape)
    app.add_middleware(BodyLimit, limits=Limits(engine.settings))
    if server.api_key:
        app.add_middleware(ApiKeyGate, key=server.api_key)
    app.add_middleware(RateLimit, limiter=RateLimiter(server.rate_per_s, server.rate_burst))
    app.add_middleware(HeadAsGet)
    if server.cors_origins:  # off unless configured: no Access-Control-* headers at all
        app.add_middleware(
            CORSMiddleware,
            allow_origins=server.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type"],
        )


def create_api(engine: Engine) -> FastAPI:
    app = FastAPI(
        title="paperchat API",
        description="Cited answers over a corpus of scientific paper abstracts.",
        docs_url=None,  # served below with local assets
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.router.route_class = GuardedRoute
    _expose(app, engine)

    # The docs page loads Swagger UI from the swagger-ui-bundle package, not a CDN: it works offline
    # and no request leaves the machine.
    app.mount(DOCS_ASSETS, StaticFiles(directory=swagger_ui_path), name="docs-assets")

    @app.get("/api/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/api/openapi.json",
            title="paperchat API",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png",
            swagger_ui_parameters={"validatorUrl": None},  # the default validator is an online service
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error(*_validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error(exc.status_code, str(exc.detail))

    def mode() -> str:
        return "llm" if engine.llm is not None else "extractive"

    @app.get("/api/health")
    def health() -> Response:
        try:
            papers = len(engine.catalog)
        except UserError as exc:  # no index yet: the server is up but cannot answer
            return JSONResponse({"status": "unavailable", "error": str(exc), "mode": mode()}, status_code=503)
        body: dict[str, Any] = {"status": "ok", "papers": papers, "mode": mode()}
        if engine.llm is not None:
            body["model"] = engine.settings.llm.model
        return JSONResponse(body)

    @app.post("/api/ask")
    def ask(req: QuestionRequest) -> dict[str, Any]:
        answer = engine.ask(req.question, k=req.k, history=req.history, filters=req.filters)
        return answer.model_dump(mode="json")

    @app.post("/api/ask/stream")
    def ask_stream(req: QuestionRequest) -> Response:
        # The search runs here, so bad input is a plain 400 JSON error rather than an SSE event.
        stream = engine.ask_stream(req.question, k=req.k, history=req.history, filters=req.filters)

        def events() -> Iterator[str]:
            try:
                yield _sse("sources", {"sources": [c.model_dump(mode="json") for c in stream.sources]})
                for delta in stream:
                    yield _sse("delta", {"text": delta})
                yield _sse("answer", stream.answer.model_dump(mode="json"))
            except UserError as exc:
                yield _sse("error", {"error": str(exc)})
            except Exception:
                log.exception("unexpected error while streaming an answer")
                yield _sse("error", {"error": GENERIC_ERROR})

        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(events(), media_type="text/event-stream", headers=headers)

    @app.post("/api/search")
    def search(req: QuestionRequest) -> dict[str, Any]:
        return engine.search(req.question, k=req.k, history=req.history, filters=req.filters).model_dump(mode="json")

    browser = Browser(engine)

    @app.get("/api/papers")
    def papers(
        q: str | None = Query(
            None,
            description="Words that must each start a word of the title, abstract, authors "
            "or id ('diffus' finds 'diffusion'; 'former' does not find 'transformer').",
        ),
        author: str | None = Query(None, description="Substring of an author's name (case-insensitive)."),
        year: str | None = Query(None, description="YYYY or YYYY-YYYY."),
        year_from: int | None = Query(None, description="First year (alternative to `year`)."),
        year_to: int | None = Query(None, description="Last year (alternative to `year`)."),
        category: str | None = Query(None, description="Category code, e.g. LG (see /api/papers/facets)."),
        source: str | None = Query(None, description="Page format a copy was read from, e.g. profile."),
        limit: int = Query(50, ge=1, le=MAX_LIMIT),
        offset: int = Query(0, ge=0),
    ) -> dict[str, Any]:
        if year and year.strip():
            year_from, year_to = _year_range(year)
        query = CatalogQuery(
            q=q, author=author, year_from=year_from, year_to=year_to, category=category, source=source,
            limit=limit, offset=offset,
        )  # fmt: skip
        page = browser.page(query)
        return page.model_dump(mode="json", exclude={"papers"}) | {"papers": [paper_json(p) for p in page.papers]}

    @app.get("/api/papers/facets")
    def facets() -> dict[str, Any]:
        """Categories (with their meaning), source pages and years, with paper counts."""
        return browser.facets().model_dump(mode="json")

    @app.get("/api/papers/{paper_id}")
    def paper(paper_id: str) -> Response:
        p = browser.get(paper_id)
        if p is None:
            return error(404, f"unknown paper id: {paper_id}")
        return JSONResponse(paper_json(p))

    @app.get("/api/papers/{paper_id}/similar")
    def similar(paper_id: str, n: int = Query(5, ge=1, le=50)) -> Response:
        if browser.get(paper_id) is None:
            return error(404, f"unknown paper id: {paper_id}")
        found = browser.similar(paper_id, n)
        neighbours = [{"score": nb.score} | paper_json(nb.paper) for nb in found.papers]
        return JSONResponse({"paper_id": paper_id, "method": found.method, "papers": neighbours})

    # Last: anything else under /api/ is a JSON 404/405 here, not the UI's HTML (mounted at / later).
    @app.api_route(
        "/api/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"], include_in_schema=False
    )
    def not_found(request: Request, path: str) -> Response:
        allowed = sorted(
            m
            for r in app.routes
            if isinstance(r, APIRoute) and r.endpoint is not not_found and r.matches(request.scope)[0] != Match.NONE
            for m in r.methods or ()
        )
        shown = f"/api/{path}"[:200]  # the path is echoed in JSON only, and never at any length
        if allowed and request.method == "OPTIONS":
            methods = sorted({*allowed, "HEAD", "OPTIONS"} if "GET" in allowed else {*allowed, "OPTIONS"})
            return Response(status_code=204, headers={"Allow": ", ".join(methods)})
        if allowed:
            return error(405, f"{request.method} is not allowed on {shown}; use {', '.join(allowed)}")
        return error(404, f"no such endpoint: {shown}")

    return app
