"""HTTP API: a thin FastAPI shell over `rag.Engine`, returning the same JSON objects as the CLI's `--json`.

    POST /api/ask            {"question", "history"?, "k"?, "filters"?} -> Answer
    POST /api/ask/stream     same body -> Server-Sent Events: `delta` {"text"}..., then `answer` (or `error`)
    POST /api/search         same body -> SearchResult
    GET  /api/papers         ?author=&year=YYYY[-YYYY]&q=&limit=&offset= -> {"total", "papers": [Paper + url]}
    GET  /api/papers/{id}    -> Paper + url, or 404
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
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from rag.engine import Engine
from rag.errors import UserError
from rag.models import Message, Paper
from rag.retrieve import Filters

log = logging.getLogger("ui.api")

MAX_K = 50
MAX_HISTORY = 100
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
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.router.route_class = GuardedRoute

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

    @app.get("/api/papers")
    def papers(
        author: str | None = Query(None, description="Substring of an author's name (case-insensitive)."),
        year: str | None = Query(None, description="YYYY or YYYY-YYYY."),
        q: str | None = Query(None, description="Substring of the title or abstract (case-insensitive)."),
        limit: int = Query(50, ge=1, le=1000),
        offset: int = Query(0, ge=0),
    ) -> dict[str, Any]:
        f = Filters(authors=[author.strip()] if author and author.strip() else [])
        if year and year.strip():
            f.year_from, f.year_to = _year_range(year)
        needle = (q or "").strip().lower()
        found = [
            p
            for p in engine.catalog.papers
            if f.allows(p) and (not needle or needle in p.title.lower() or needle in p.abstract.lower())
        ]
        return {
            "total": len(found),
            "offset": offset,
            "papers": [paper_json(p) for p in found[offset : offset + limit]],
        }

    @app.get("/api/papers/{paper_id}")
    def paper(paper_id: str) -> Response:
        p = engine.catalog.get(paper_id)
        if p is None:
            return error(404, f"unknown paper id: {paper_id}")
        return JSONResponse(paper_json(p))

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
