"""HTTP API (ui.api) against the real engine over the full corpus, through FastAPI's TestClient."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient

from rag.engine import Engine
from rag.stream import AnswerStream
from ui.api import GENERIC_ERROR, create_api

QUESTION = "which papers study length generalization?"
CITATION_FIELDS = {"n", "paper_id", "title", "arxiv_id", "authors", "url", "abstract", "snippet", "score"}
HIT_FIELDS = {"rank", "paper_id", "title", "arxiv_id", "authors", "abstract", "score"}


@pytest.fixture(scope="module")
def client(built_engine: Engine) -> TestClient:
    # Many requests from one client: the rate limit is tested on its own below.
    built_engine.settings.server.rate_per_s = 0
    return TestClient(create_api(built_engine))


def sse_events(body: str) -> list[tuple[str, dict[str, Any]]]:
    """(event, data) for each Server-Sent Event in a response body."""
    events = []
    for block in body.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        events.append((fields["event"], json.loads(fields["data"])))
    return events


def assert_json_error(r: Any, status: int | tuple[int, ...]) -> str:
    statuses = status if isinstance(status, tuple) else (status,)
    assert r.status_code in statuses, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert isinstance(body["error"], str) and body["error"]
    assert "Traceback" not in r.text
    return body["error"]


def test_health(client: TestClient, built_engine: Engine) -> None:
    r = client.get("/api/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "papers": len(built_engine.catalog), "mode": "extractive"}


def test_ask_returns_the_answer_contract(client: TestClient, built_engine: Engine) -> None:
    r = client.post("/api/ask", json={"question": QUESTION, "k": 4})
    assert r.status_code == 200, r.text
    a = r.json()
    assert {"question", "answer", "refused", "mode", "citations", "timings_ms"} <= a.keys()
    assert a["question"] == QUESTION and a["mode"] == "extractive" and a["refused"] is False
    assert a["answer"] and a["citations"]
    titles = {p.title for p in built_engine.catalog.papers}
    for c in a["citations"]:
        assert CITATION_FIELDS <= c.keys()
        assert c["title"] in titles
        assert f"[{c['n']}]" in a["answer"]
    assert any("length generalization" in c["title"].lower() for c in a["citations"])
    assert a["timings_ms"]["total"] > 0
    # The same object as the library returns (the CLI's --json prints it too).
    assert a["citations"] == built_engine.ask(QUESTION, k=4).model_dump(mode="json")["citations"]


def test_ask_refuses_off_corpus_questions_with_related_reading(client: TestClient) -> None:
    a = client.post("/api/ask", json={"question": "what is the recipe for chocolate cake?"}).json()
    assert a["refused"] is True and a["citations"] == []
    assert a["related"] and CITATION_FIELDS <= a["related"][0].keys()


def test_ask_uses_history_for_follow_ups(client: TestClient) -> None:
    history = [
        {"role": "user", "content": "What did Omid Saremi co-author?"},
        {"role": "assistant", "content": "Two papers, one on tool use and length generalization in SSMs."},
    ]
    r = client.post("/api/ask", json={"question": "which one is about state space models?", "history": history})
    assert r.status_code == 200, r.text
    assert "history" not in r.json()  # the request echoes nothing but the Answer
    # the papers an answer cited travel with its turn, as the chat page sends them: "the second one" is that paper
    first = client.post("/api/ask", json={"question": "What did Omid Saremi co-author?"}).json()
    turn = {"role": "assistant", "content": first["answer"], "papers": [c["paper_id"] for c in first["citations"]]}
    history = [{"role": "user", "content": "What did Omid Saremi co-author?"}, turn]
    r = client.post("/api/search", json={"question": "who wrote the second one?", "history": history})
    assert r.status_code == 200, r.text
    assert r.json()["hits"][0]["paper_id"] == first["citations"][1]["paper_id"]


def test_search_returns_ranked_hits(client: TestClient) -> None:
    r = client.post("/api/search", json={"question": QUESTION, "k": 3})
    assert r.status_code == 200, r.text
    s = r.json()
    assert s["question"] == QUESTION
    assert 1 <= len(s["hits"]) <= 3
    assert [h["rank"] for h in s["hits"]] == list(range(1, len(s["hits"]) + 1))
    for h in s["hits"]:
        assert HIT_FIELDS <= h.keys()


def test_search_filters(client: TestClient) -> None:
    r = client.post("/api/search", json={"question": "diffusion models", "filters": {"authors": ["Bradley"]}})
    assert r.status_code == 200, r.text
    hits = r.json()["hits"]
    assert hits and all(any("bradley" in a.lower() for a in h["authors"]) for h in hits)


def test_stream_sends_deltas_then_the_answer(client: TestClient) -> None:
    with client.stream("POST", "/api/ask/stream", json={"question": QUESTION, "k": 3}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        body = "".join(r.iter_text())
    events = sse_events(body)
    kinds = [e for e, _ in events]
    assert kinds[0] == "sources" and kinds[-1] == "answer" and kinds.count("answer") == 1
    assert kinds[1:-1] and set(kinds[1:-1]) == {"delta"}
    streamed = "".join(d["text"] for e, d in events if e == "delta")
    final = events[-1][1]
    assert streamed.strip() and final["answer"] and final["citations"]
    assert CITATION_FIELDS <= final["citations"][0].keys()


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"question": ""}, 400, "empty"),
        ({"question": "   \n "}, 400, "empty"),
        ({"question": "x" * 5000}, 400, "limit"),
        ({"question": QUESTION, "k": 0}, 400, "limits.k_max"),
        ({"question": QUESTION, "k": -1}, 400, "limits.k_max"),
        ({"question": QUESTION, "k": 51}, 400, "limits.k_max"),
        ({"question": QUESTION, "k": 100000}, 400, "limits.k_max"),
        ({"question": QUESTION, "k": "five"}, 422, "k"),
        ({}, 422, "question"),
        ({"question": 42}, 422, "question"),
        ({"question": QUESTION, "filters": {"autors": ["Bradley"]}}, 422, "autors"),
        ({"question": QUESTION, "filters": {"year_from": "last year"}}, 422, "year_from"),
        ({"question": QUESTION, "history": [{"role": "system", "content": "x"}]}, 422, "role"),
        ({"question": QUESTION, "history": [{"role": "assistant", "content": "x", "papers": ["p" * 300]}]}, 422,
         "papers"),
        ([QUESTION], 400, "JSON object"),
    ],
)
@pytest.mark.parametrize("path", ["/api/ask", "/api/search", "/api/ask/stream"])
def test_bad_input_is_a_clear_json_error(client: TestClient, path: str, body: Any, status: int, says: str) -> None:
    message = assert_json_error(client.post(path, json=body), status)
    assert says.lower() in message.lower()


@pytest.mark.parametrize("raw", ["{bad json", "", '{"question": "x",}'])
def test_malformed_json_is_a_400(client: TestClient, raw: str) -> None:
    r = client.post("/api/ask", content=raw, headers={"content-type": "application/json"})
    assert_json_error(r, 400)


def test_papers_listing_and_lookup(client: TestClient, built_engine: Engine) -> None:
    r = client.get("/api/papers", params={"limit": 5})
    assert r.status_code == 200
    listing = r.json()
    assert listing["total"] == len(built_engine.catalog) and len(listing["papers"]) == 5
    first = listing["papers"][0]
    assert {"paper_id", "title", "abstract", "authors", "url"} <= first.keys()

    r = client.get(f"/api/papers/{first['paper_id']}")
    assert r.status_code == 200 and r.json() == first

    by_author = client.get("/api/papers", params={"author": "bradley", "limit": 1000}).json()
    assert by_author["total"] >= 1
    assert all(any("bradley" in a.lower() for a in p["authors"]) for p in by_author["papers"])

    year = next(p.year for p in built_engine.catalog.papers if p.year)
    by_year = client.get("/api/papers", params={"year": str(year), "limit": 1000}).json()
    assert by_year["total"] >= 1 and all(p["year"] == year for p in by_year["papers"])

    by_text = client.get("/api/papers", params={"q": "LENGTH GENERALIZATION"}).json()
    assert by_text["total"] >= 1


def test_papers_errors(client: TestClient) -> None:
    assert "unknown paper" in assert_json_error(client.get("/api/papers/p000nothere"), 404)
    assert_json_error(client.get("/api/papers", params={"year": "recent"}), 400)
    assert_json_error(client.get("/api/papers", params={"limit": 0}), 422)


def test_unknown_endpoint_and_wrong_method_are_json(client: TestClient) -> None:
    assert_json_error(client.get("/api/nothing"), 404)
    assert "POST" in assert_json_error(client.get("/api/ask"), 405)


def test_unexpected_errors_are_generic_500s_and_logged(
    client: TestClient, built_engine: Engine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def boom(*_: Any, **__: Any) -> Any:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(built_engine, "ask", boom)
    with caplog.at_level(logging.ERROR, logger="ui.api"):
        r = client.post("/api/ask", json={"question": QUESTION})
    assert assert_json_error(r, 500) == GENERIC_ERROR
    assert "secret" not in r.text
    assert any("secret internal detail" in (rec.exc_text or str(rec.exc_info)) for rec in caplog.records)


def test_errors_mid_stream_become_an_error_event(
    client: TestClient, built_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def half(*_: Any, **__: Any) -> Any:
        yield "partial text"
        raise RuntimeError("secret internal detail")

    found = built_engine.search(QUESTION)
    monkeypatch.setattr(built_engine, "ask_stream", lambda *_, **__: AnswerStream(found, [], half()))
    r = client.post("/api/ask/stream", json={"question": QUESTION})
    assert r.status_code == 200
    assert sse_events(r.text) == [
        ("sources", {"sources": []}),
        ("delta", {"text": "partial text"}),
        ("error", {"error": GENERIC_ERROR}),
    ]


def test_one_server_serves_ui_and_api(built_engine: Engine) -> None:
    from ui.app import create_app

    with TestClient(create_app(built_engine)) as c:
        page = c.get("/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert c.get("/api/health").json()["status"] == "ok"
        assert_json_error(c.get("/api/nothing"), 404)
        # One error shape outside /api too (Gradio's own routes answer {"detail": ...}).
        assert assert_json_error(c.get("/nothing"), 404) == "Not Found"
        assert_json_error(c.post("/"), 405)
        head = c.head("/")
        assert head.status_code == 200 and head.content == b""


# -- bounds, error shape and HTTP exposure (issue 15) -----------------------------------------------------


def engine_like(built_engine: Engine, **overrides: Any) -> Engine:
    """An engine over the same built index with other settings (server, limits)."""
    from tests.conftest import make_settings

    return Engine(make_settings(built_engine.settings.data_dir, **overrides), embedder=built_engine.embedder)


def turn(i: int, chars: int = 20) -> dict[str, str]:
    return {"role": "user" if i % 2 == 0 else "assistant", "content": ("w" * 9 + " ") * (chars // 10)}


@pytest.mark.parametrize(
    ("history", "says"),
    [
        ([turn(i) for i in range(41)], "limits.history_turns"),
        ([turn(i, 3000) for i in range(10)], "limits.history_chars"),
        ([turn(0, 5000)], "limits.message_chars"),
    ],
)
@pytest.mark.parametrize("path", ["/api/ask", "/api/search", "/api/ask/stream"])
def test_history_is_bounded(client: TestClient, path: str, history: list[Any], says: str) -> None:
    message = assert_json_error(client.post(path, json={"question": "which one?", "history": history}), 400)
    assert says in message


def test_a_huge_body_is_refused_before_it_is_read(client: TestClient, built_engine: Engine) -> None:
    history = [{"role": "user", "content": "x" * 4000} for _ in range(1300)]  # ~5 MB
    assert built_engine.settings.limits.body_bytes < 5_000_000
    r = client.post("/api/ask", json={"question": "which one?", "history": history})
    assert "limits.body_bytes" in assert_json_error(r, 413)

    assert_json_error(client.post("/api/ask", content=b"{}", headers={"content-length": "abc"}), 400)


def test_a_streamed_body_is_read_only_up_to_the_limit(built_engine: Engine) -> None:
    """Without Content-Length (chunked), reading stops at the limit, not at the end of a 5 MB body."""
    import asyncio

    from rag.limits import Limits
    from ui.api import BodyLimit

    reads = 0
    replies: list[dict[str, Any]] = []
    reached: list[bool] = []

    async def receive() -> dict[str, Any]:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b"x" * 1024, "more_body": reads < 5000}

    async def send(message: Any) -> None:
        replies.append(message)

    async def app(*_: Any) -> None:
        reached.append(True)

    gate = BodyLimit(app, Limits(built_engine.settings))
    asyncio.run(gate({"type": "http", "method": "POST", "path": "/api/ask", "headers": []}, receive, send))
    assert replies[0]["status"] == 413 and not reached
    assert reads <= built_engine.settings.limits.body_bytes // 1024 + 1


@pytest.mark.parametrize(
    ("filters", "says"),
    [
        ({"year_from": 2025, "year_to": 2020}, "year range is empty"),
        ({"category": "NOPE"}, "unknown category"),
        ({"source": "nowhere"}, "unknown source"),
        ({"year_from": 99999}, "limits.year_max"),
        ({"authors": ["a"] * 21}, "limits.filter_items"),
        ({"authors": ["a" * 201]}, "limits.filter_chars"),
        ({"paper_ids": ["../../etc/passwd"]}, "unknown paper id"),
    ],
)
def test_filters_that_cannot_match_say_why(client: TestClient, filters: dict[str, Any], says: str) -> None:
    for path in ("/api/ask", "/api/search"):
        assert says in assert_json_error(client.post(path, json={"question": QUESTION, "filters": filters}), 400)


def test_head_and_options_are_answered(client: TestClient) -> None:
    get = client.get("/api/health")
    head = client.head("/api/health")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]
    r = client.options("/api/ask")
    assert r.status_code == 204 and r.headers["allow"] == "OPTIONS, POST" and r.content == b""
    assert set(client.options("/api/health").headers["allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    assert_json_error(client.options("/api/nothing"), 404)
    r = client.head("/api/nothing")
    assert r.status_code == 404 and r.headers["content-type"] == "application/json" and r.content == b""
    assert_json_error(client.delete("/api/ask"), 405)


def test_hostile_text_is_never_reflected_as_html(client: TestClient) -> None:
    script = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    responses = [
        client.post("/api/search", json={"question": script}),
        client.post("/api/ask", json={"question": script, "filters": {"category": script}}),
        client.get(f"/api/papers/{script}"),
        client.get(f"/api/{script}"),
        client.post("/api/ask", content=script, headers={"content-type": "text/html"}),
    ]
    for r in responses:
        assert r.headers["content-type"].startswith("application/json"), r.text
        assert r.headers["x-content-type-options"] == "nosniff"
        r.json()  # JSON throughout; never an HTML page quoting the input


def test_api_key_when_set_guards_every_route(built_engine: Engine) -> None:
    from ui.app import create_app

    app = create_app(engine_like(built_engine, server={"api_key": "s3cret"}))
    with TestClient(app) as c:
        for path in ("/api/health", "/api/papers", "/api/nothing", "/"):
            r = c.get(path)
            assert r.status_code == 401 and "API key" in r.json()["error"], path
        assert c.get("/").headers["www-authenticate"].startswith("Basic")  # the browser asks for it
        assert_json_error(c.post("/api/search", json={"question": QUESTION}), 401)
        assert c.get("/api/health", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert c.get("/api/health", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert c.get("/api/health", headers={"X-API-Key": "s3cret"}).status_code == 200
        assert c.get("/", auth=("anyone", "s3cret")).status_code == 200
        r = c.post("/api/search", json={"question": QUESTION}, headers={"X-API-Key": "s3cret"})
        assert r.status_code == 200 and r.json()["hits"]


def test_rate_limit_per_client(built_engine: Engine) -> None:
    c = TestClient(create_api(engine_like(built_engine, server={"rate_per_s": 0.5, "rate_burst": 3})))
    statuses = [c.get("/api/health").status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    r = c.get("/api/health")
    assert "too many requests" in assert_json_error(r, 429)
    assert int(r.headers["retry-after"]) >= 1
    other = TestClient(create_api(engine_like(built_engine, server={"rate_per_s": 0})))
    assert all(other.get("/api/health").status_code == 200 for _ in range(30))  # 0 = no limit


def test_cors_is_off_unless_configured(client: TestClient, built_engine: Engine) -> None:
    preflight = {"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"}
    r = client.options("/api/ask", headers=preflight)
    assert "access-control-allow-origin" not in r.headers
    assert "access-control-allow-origin" not in client.get("/api/health", headers=preflight).headers

    c = TestClient(create_api(engine_like(built_engine, server={"cors_origins": ["http://good.example"]})))
    ok = c.options("/api/ask", headers={**preflight, "Origin": "http://good.example"})
    assert ok.headers["access-control-allow-origin"] == "http://good.example"
    assert "access-control-allow-origin" not in c.options("/api/ask", headers=preflight).headers


def test_the_default_bind_is_loopback() -> None:
    from rag.settings import Settings

    assert Settings().server.host == "127.0.0.1"
