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

import json
import logging
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from rag.browse import MAX_LIMIT, Browser, CatalogQuery
from rag.engine import Engine
from rag.errors import UserError
from rag.models import Message, Paper
from rag.retrieve import Filters

log = logging.getLogger("ui.api")

MAX_K = 50
MAX_HISTORY = 100
DOCS_ASSETS = "/api/docs/assets"
GENERIC_ERROR = "internal error: the server could not answer this request (the details are in its log)"


class StrictFilters(Filters):
    """`Filters`, but an unknown key is an error instead of being silently ignored."""

    model_config = ConfigDict(extra="forbid")


class QuestionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(description="The question (the engine rejects empty or over-long ones).")
    history: list[Message] = Field(default_factory=list, max_length=MAX_HISTORY, description="Earlier turns.")
    k: int | None = Field(None, ge=1, le=MAX_K, description="Papers to retrieve (default from settings).")
    filters: StrictFilters | None = None


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


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


def create_api(engine: Engine) -> FastAPI:
    app = FastAPI(
        title="paperchat API",
        description="Cited answers over a corpus of scientific paper abstracts.",
        docs_url=None,  # served below with local assets
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.router.route_class = GuardedRoute

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
        q: str | None = Query(None, description="Words that must all occur in the title, abstract, authors or id."),
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
    def similar(paper_id: str, n: int = Query(5, ge=1, le=MAX_K)) -> Response:
        if browser.get(paper_id) is None:
            return error(404, f"unknown paper id: {paper_id}")
        found = browser.similar(paper_id, n)
        neighbours = [{"score": nb.score} | paper_json(nb.paper) for nb in found.papers]
        return JSONResponse({"paper_id": paper_id, "method": found.method, "papers": neighbours})

    # Last: anything else under /api/ is a JSON 404/405 here, not the UI's HTML (mounted at / later).
    @app.api_route("/api/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
    def not_found(request: Request, path: str) -> Response:
        allowed = sorted(
            m
            for r in app.routes
            if isinstance(r, APIRoute) and r.endpoint is not not_found and r.matches(request.scope)[0] != Match.NONE
            for m in r.methods or ()
        )
        if allowed:
            return error(405, f"{request.method} is not allowed on /api/{path}; use {', '.join(allowed)}")
        return error(404, f"no such endpoint: /api/{path}")

    return app
