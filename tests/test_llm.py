"""The LLM client through the real `openai` package against a real OpenAI-protocol server on 127.0.0.1.

Nothing is patched: the fake server (tests/fake_openai.py) speaks HTTP and SSE, so these tests cover
what the product sees from Ollama, vLLM or OpenAI, including the ways such servers fail.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import pytest

import rag.llm
from rag.citations import verify_citations
from rag.llm import CircuitBreaker, LLMError, OpenAIEmbeddingsClient, OpenAILLM, make_llm
from rag.prompts import ANSWER_SYSTEM, ANSWER_USER, REFUSAL_MARKER
from rag.settings import LLMSettings
from tests.fake_openai import EMBEDDING_DIM, FakeOpenAI, Reply, chunks_of, fake_embedding, unused_url

# The `fake_openai` fixture comes from tests/fake_openai.py through tests/conftest.py.

MESSAGES = [{"role": "user", "content": "Which papers study length generalization?"}]
CITED = "Transformers length-generalize when a short RASP program solves the task [1]. SSMs need tools for it [2]."


def llm_for(url: str, **overrides: float) -> OpenAILLM:
    """A client with small timeouts and backoff so failure tests stay fast."""
    # The circuit breaker is off unless a test turns it on: tests of single failures stay independent.
    values = {"timeout_s": 2.0, "max_retries": 2, "backoff_s": 0.01, "breaker_failures": 0, **overrides}
    return OpenAILLM(LLMSettings(base_url=url, model="fake-model", **values))


def streamed(llm: OpenAILLM) -> str:
    return "".join(llm.stream(MESSAGES))


def completed(llm: OpenAILLM) -> str:
    return llm.complete(MESSAGES)


BOTH = pytest.mark.parametrize("call", [completed, streamed], ids=["complete", "stream"])
Call = Callable[[OpenAILLM], str]


# -- happy path ---------------------------------------------------------------------------------------------
def test_complete_returns_the_answer_and_sends_the_settings(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(CITED)
    assert llm_for(fake_openai.url).complete(MESSAGES) == CITED
    [body] = fake_openai.requests
    assert body["model"] == "fake-model" and body["messages"] == MESSAGES
    assert body["temperature"] == 0.0 and body["max_tokens"] == 700
    assert not body.get("stream")


def test_stream_yields_the_answer_in_several_deltas(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(CITED)
    deltas = list(llm_for(fake_openai.url).stream(MESSAGES))
    assert deltas == chunks_of(CITED) and len(deltas) > 5
    assert "".join(deltas) == CITED
    assert fake_openai.requests[0]["stream"] is True


def test_streamed_cited_answer_verifies(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(CITED)
    sources = [
        "What Algorithms can Transformers Learn? Transformers length generalize if a short RASP program solves it.",
        "Tool-Use Unlocks Length Generalization in State Space Models. SSMs with tools achieve length generalization.",
    ]
    v = verify_citations(streamed(llm_for(fake_openai.url)), sources)
    assert v.text == CITED and v.cited == [1, 2] and v.warnings == []


def test_complete_strips_reasoning_blocks(fake_openai: FakeOpenAI) -> None:
    fake_openai.script("<think>The user wants papers.\nLet me check.</think>\n\nTwo papers [1][2].", "plan</think> ok")
    llm = llm_for(fake_openai.url)
    assert llm.complete(MESSAGES) == "Two papers [1][2]."
    assert llm.complete(MESSAGES) == "ok"


def test_server_that_ignores_stream_true(fake_openai: FakeOpenAI) -> None:
    message = {"role": "assistant", "content": CITED}
    body = {"id": "x", "object": "chat.completion", "created": 0, "model": "m", "choices": [{"message": message}]}
    fake_openai.script(Reply(body=body))
    assert list(llm_for(fake_openai.url).stream(MESSAGES)) == [CITED]


def test_make_llm() -> None:
    assert make_llm(LLMSettings()) is None
    llm = make_llm(LLMSettings(base_url="http://127.0.0.1:9/v1", model="m"))
    assert isinstance(llm, OpenAILLM) and llm.model == "m"


def test_closing_a_stream_early_releases_the_connection(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(CITED, "second")
    llm = llm_for(fake_openai.url)
    stream = llm.stream(MESSAGES)
    assert next(stream) == chunks_of(CITED)[0]
    stream.close()  # e.g. the UI user navigated away
    assert llm.complete(MESSAGES) == "second"


# -- retried failures -------------------------------------------------------------------------------------------
@BOTH
def test_server_error_then_success_is_retried(fake_openai: FakeOpenAI, call: Call) -> None:
    fake_openai.script(500, CITED)
    assert call(llm_for(fake_openai.url)) == CITED
    assert len(fake_openai.requests) == 2


@BOTH
def test_persistent_server_error(fake_openai: FakeOpenAI, call: Call) -> None:
    fake_openai.script(*[Reply.error(503, message="model is loading")] * 5)
    with pytest.raises(LLMError) as err:
        call(llm_for(fake_openai.url, max_retries=2))
    assert err.value.kind == "server" and err.value.partial == ""
    assert len(fake_openai.requests) == 3  # max_retries + 1 attempts
    assert str(err.value) == "the LLM endpoint failed with HTTP 503 (model is loading) (3 attempts)"


@BOTH
def test_rate_limit_then_success_honours_retry_after(fake_openai: FakeOpenAI, call: Call) -> None:
    fake_openai.script(Reply.error(429, retry_after=0.3), CITED)
    t0 = time.monotonic()
    assert call(llm_for(fake_openai.url, backoff_s=0.0)) == CITED
    assert time.monotonic() - t0 >= 0.3
    assert len(fake_openai.requests) == 2


def test_long_retry_after_is_capped(fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rag.llm, "MAX_RETRY_AFTER_S", 0.2)
    fake_openai.script(Reply.error(429, retry_after=3600), CITED)
    t0 = time.monotonic()
    assert completed(llm_for(fake_openai.url)) == CITED
    assert time.monotonic() - t0 < 2


def test_persistent_rate_limit(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(*[429] * 3)
    with pytest.raises(LLMError) as err:
        completed(llm_for(fake_openai.url, max_retries=1))
    assert err.value.kind == "rate_limit" and len(fake_openai.requests) == 2
    assert "HTTP 429" in str(err.value)


@BOTH
def test_reply_slower_than_the_timeout(fake_openai: FakeOpenAI, call: Call) -> None:
    fake_openai.script(*[Reply.slow(5)] * 3)
    t0 = time.monotonic()
    with pytest.raises(LLMError) as err:
        call(llm_for(fake_openai.url, timeout_s=0.5, max_retries=1, backoff_s=0.05))
    elapsed = time.monotonic() - t0
    assert err.value.kind == "timeout"
    assert str(err.value) == "the LLM endpoint timed out after 0.5 s (2 attempts)"
    assert len(fake_openai.requests) == 2
    assert 1.0 <= elapsed < 1.0 + 0.05 + 1.0  # (max_retries + 1) * timeout + backoff, plus slack


@BOTH
def test_slow_then_fast_is_retried(fake_openai: FakeOpenAI, call: Call) -> None:
    fake_openai.script(Reply.slow(5), CITED)
    assert call(llm_for(fake_openai.url, timeout_s=0.5)) == CITED


@BOTH
def test_connection_refused(call: Call) -> None:
    t0 = time.monotonic()
    with pytest.raises(LLMError) as err:
        call(llm_for(unused_url(), max_retries=2))
    assert err.value.kind == "connection" and "(3 attempts)" in str(err.value)
    assert time.monotonic() - t0 < 2


def test_stream_dropped_before_any_text_is_retried(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(Reply.cut(CITED, after=0), CITED)
    assert streamed(llm_for(fake_openai.url)) == CITED
    assert len(fake_openai.requests) == 2


# -- failures that are not retried -------------------------------------------------------------------------------
@BOTH
def test_bad_api_key(fake_openai: FakeOpenAI, call: Call) -> None:
    fake_openai.script(Reply.error(401, message="Incorrect API key provided"), CITED)
    with pytest.raises(LLMError) as err:
        call(llm_for(fake_openai.url))
    assert err.value.kind == "auth" and len(fake_openai.requests) == 1
    assert "Incorrect API key" in str(err.value)


@BOTH
def test_unknown_model_is_not_retried(fake_openai: FakeOpenAI, call: Call) -> None:
    fake_openai.script(Reply.error(404, message="model 'llama9' not found"), CITED)
    with pytest.raises(LLMError) as err:
        call(llm_for(fake_openai.url))
    assert err.value.kind == "bad_response" and len(fake_openai.requests) == 1
    assert "model 'llama9' not found" in str(err.value)


def test_stream_cut_midway_keeps_the_partial_text(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(Reply.cut(CITED, after=4), CITED)
    received: list[str] = []
    with pytest.raises(LLMError) as err:
        for delta in llm_for(fake_openai.url).stream(MESSAGES):
            received.append(delta)
    expected = "".join(chunks_of(CITED)[:4])
    assert err.value.kind == "stream_cut" and err.value.partial == expected == "".join(received)
    assert len(fake_openai.requests) == 1  # text was already shown: no silent retry
    assert "broke off" in str(err.value)


def test_stream_without_done_is_cut(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(Reply(CITED, done=False))
    with pytest.raises(LLMError) as err:
        streamed(llm_for(fake_openai.url))
    assert err.value.kind == "stream_cut" and err.value.partial == CITED


def test_malformed_sse_midway(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(Reply.malformed(CITED, after=3))
    with pytest.raises(LLMError) as err:
        streamed(llm_for(fake_openai.url))
    assert err.value.kind == "stream_cut" and err.value.partial == "".join(chunks_of(CITED)[:3])


def test_malformed_sse_at_start(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(Reply.malformed(CITED, after=0))
    with pytest.raises(LLMError) as err:
        streamed(llm_for(fake_openai.url))
    assert err.value.kind == "bad_response" and err.value.partial == ""
    assert len(fake_openai.requests) == 1


def test_malformed_json_body(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(Reply.malformed())
    with pytest.raises(LLMError) as err:
        completed(llm_for(fake_openai.url))
    assert err.value.kind == "bad_response"


@BOTH
def test_empty_reply(fake_openai: FakeOpenAI, call: Call) -> None:
    fake_openai.script("")
    with pytest.raises(LLMError) as err:
        call(llm_for(fake_openai.url))
    assert err.value.kind == "bad_response" and "empty" in str(err.value)


@BOTH
def test_missing_choices(fake_openai: FakeOpenAI, call: Call) -> None:
    fake_openai.script(Reply(body={"id": "x", "object": "chat.completion", "created": 0, "model": "m", "choices": []}))
    with pytest.raises(LLMError) as err:
        call(llm_for(fake_openai.url))
    assert err.value.kind == "bad_response" and "no choices" in str(err.value)


# -- embeddings -------------------------------------------------------------------------------------------------
def test_embeddings(fake_openai: FakeOpenAI) -> None:
    client = OpenAIEmbeddingsClient(fake_openai.url, None, "fake-embed")
    vectors = client.embed(["length generalization", "diffusion models"])
    assert vectors == [fake_embedding("length generalization"), fake_embedding("diffusion models")]
    assert len(vectors[0]) == EMBEDDING_DIM
    assert fake_openai.requests[0]["model"] == "fake-embed"
    assert fake_openai.requests[0]["encoding_format"] == "float"
    assert client.embed([]) == [] and len(fake_openai.requests) == 1


def test_embeddings_retry_then_fail(fake_openai: FakeOpenAI) -> None:
    fake_openai.script_embeddings(500)
    client = OpenAIEmbeddingsClient(fake_openai.url, None, "fake-embed", max_retries=1, backoff_s=0.01)
    assert client.embed(["a"]) == [fake_embedding("a")]
    fake_openai.script_embeddings(401)
    with pytest.raises(LLMError) as err:
        client.embed(["a"])
    assert err.value.kind == "auth" and str(err.value).startswith("the embeddings endpoint rejected the API key")


def test_embeddings_backend_batches(fake_openai: FakeOpenAI) -> None:
    from rag.embed import make_embedder
    from rag.settings import EmbeddingSettings

    settings = EmbeddingSettings(backend="openai", model="fake-embed", base_url=fake_openai.url, batch_size=2)
    texts = [f"text {i}" for i in range(5)]
    assert make_embedder(settings).embed(texts) == [fake_embedding(t) for t in texts]
    assert len(fake_openai.requests) == 3


# -- the same scenarios against a real endpoint (opt-in) ----------------------------------------------------------
real_llm = pytest.mark.skipif(
    not os.environ.get("OPENAI_BASE_URL"), reason="set OPENAI_BASE_URL (and RAG_LLM_MODEL) to test a real endpoint"
)


def real_client() -> OpenAILLM:
    settings = LLMSettings(
        base_url=os.environ["OPENAI_BASE_URL"],
        api_key=os.environ.get("OPENAI_API_KEY"),
        model=os.environ.get("RAG_LLM_MODEL", "gpt-4o-mini"),
        timeout_s=120,
        max_tokens=200,
    )
    return OpenAILLM(settings)


def real_messages() -> list[dict[str, str]]:
    sources = (
        "[1] title: What Algorithms can Transformers Learn? A Study in Length Generalization\n"
        "text: Transformers tend to length generalize on a task if the task can be solved by a short RASP program."
        "\n\n[2] title: Tool-Use Unlocks Length Generalization in State Space Models\n"
        "text: Given access to external tools, state space models achieve length generalization."
    )
    question = "When do Transformers length-generalize?"
    return [
        {"role": "system", "content": ANSWER_SYSTEM},
        {"role": "user", "content": ANSWER_USER.format(sources=sources, question=question)},
    ]


@pytest.mark.real_llm
@real_llm
@pytest.mark.parametrize("mode", ["complete", "stream"])
def test_real_endpoint_cited_answer(mode: str) -> None:
    llm = real_client()
    text = llm.complete(real_messages()) if mode == "complete" else "".join(llm.stream(real_messages()))
    assert text.strip()
    v = verify_citations(text, ["Transformers length generalize with short RASP programs.", "SSMs use tools."])
    assert v.refused or set(v.cited) <= {1, 2}
    assert v.refused == text.strip().upper().startswith(REFUSAL_MARKER)


# -- circuit breaker (issue 15) ------------------------------------------------------------------------------
@BOTH
def test_breaker_stops_calling_a_failing_endpoint_then_retries_it(fake_openai: FakeOpenAI, call: Call) -> None:
    llm = llm_for(fake_openai.url, max_retries=0, breaker_failures=3, breaker_cooldown_s=0.5)
    fake_openai.script(500, 500, 500)
    for _ in range(3):
        with pytest.raises(LLMError) as err:
            call(llm)
        assert err.value.kind == "server"
    assert len(fake_openai.requests) == 3 and llm.breaker.state == "open"

    t0 = time.perf_counter()
    for _ in range(5):  # refused at once, without touching the endpoint
        with pytest.raises(LLMError) as err:
            call(llm)
        assert err.value.kind == "circuit_open" and "paused after 3 failed requests" in str(err.value)
    assert time.perf_counter() - t0 < 0.3 and len(fake_openai.requests) == 3

    time.sleep(0.55)  # cool-down over: one trial request goes through, succeeds, closes the breaker
    fake_openai.script(CITED)
    assert call(llm) == CITED and llm.breaker.state == "closed" and len(fake_openai.requests) == 4
    fake_openai.script(500)
    with pytest.raises(LLMError):
        call(llm)
    assert llm.breaker.state == "closed"  # one failure after a success: the streak starts again


def test_breaker_reopens_when_the_trial_fails(fake_openai: FakeOpenAI) -> None:
    llm = llm_for(unused_url(), max_retries=0, breaker_failures=2, breaker_cooldown_s=0.3)
    for _ in range(2):
        with pytest.raises(LLMError, match="could not connect"):
            llm.complete(MESSAGES)
    assert llm.breaker.state == "open"
    time.sleep(0.35)
    with pytest.raises(LLMError) as err:  # the trial: still refused by the endpoint
        llm.complete(MESSAGES)
    assert err.value.kind == "connection" and llm.breaker.state == "open"
    with pytest.raises(LLMError) as err:
        llm.complete(MESSAGES)
    assert err.value.kind == "circuit_open"


def test_breaker_half_open_lets_one_trial_through() -> None:
    now = [0.0]
    breaker = CircuitBreaker(failures=1, cooldown_s=10, clock=lambda: now[0])
    assert breaker.admit() == 0
    breaker.record(False)
    assert breaker.state == "open" and breaker.admit() == pytest.approx(10)
    now[0] = 10.0
    assert breaker.admit() == 0  # the trial
    assert breaker.admit() > 0  # everyone else waits for its outcome
    breaker.record(None)  # the trial was abandoned: the next caller may try
    assert breaker.admit() == 0
    breaker.record(True)
    assert breaker.state == "closed" and breaker.admit() == 0


def test_without_breaker_every_request_hits_the_dead_endpoint(fake_openai: FakeOpenAI) -> None:
    llm = llm_for(fake_openai.url, max_retries=0, breaker_failures=0)
    fake_openai.script(*([500] * 6))
    for _ in range(6):
        with pytest.raises(LLMError):
            llm.complete(MESSAGES)
    assert len(fake_openai.requests) == 6
