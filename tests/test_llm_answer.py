"""The LLM answer chain end to end: the real `openai` client against the scripted OpenAI-protocol
server on 127.0.0.1, over the real index. Every reply kind from the issue, with `warnings`,
`refused` and the citations list checked."""

from __future__ import annotations

import re
import time

import pytest

from rag.engine import Engine
from rag.models import Answer, Message
from rag.prompts import REFUSAL_MARKER
from tests.conftest import make_settings
from tests.fake_openai import FakeOpenAI, Reply

QUESTION = "how does classifier-free guidance relate to predictor-corrector methods?"
GOOD = (
    "Classifier-free guidance is a kind of predictor-corrector method that alternates between denoising and "
    "sharpening [1]. In the SDE limit it equals a DDIM predictor combined with a Langevin dynamics corrector [1]."
)


@pytest.fixture()
def llm_engine(built_engine: Engine, fake_openai: FakeOpenAI) -> Engine:
    settings = make_settings(
        built_engine.settings.data_dir,
        llm={"base_url": fake_openai.url, "api_key": "test", "model": "fake-model", "timeout_s": 1.0,
             "max_retries": 1, "backoff_s": 0.05},
    )  # fmt: skip
    return Engine(settings, embedder=built_engine.embedder)


def cited_numbers(text: str) -> set[int]:
    return {int(n) for n in re.findall(r"\[(\d+)\]", text)}


def test_cited_answer_streams_and_verifies(llm_engine: Engine, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(GOOD)
    stream = llm_engine.ask_stream(QUESTION)
    deltas = list(stream)
    answer = stream.answer
    assert isinstance(answer, Answer)
    assert len(deltas) > 3 and "".join(deltas) == GOOD  # streamed as generated
    assert answer.mode == "llm" and not answer.refused and answer.warnings == []
    assert [c.n for c in answer.citations] == [1] and cited_numbers(answer.answer) == {1}
    assert answer.citations[0].title == "Classifier-Free Guidance is a Predictor-Corrector"
    assert answer.citations[0].arxiv_id == "2408.09000"  # from the catalog, never from model text
    (request,) = fake_openai.chat_requests()
    assert request["stream"] is True and request["model"] == "fake-model"
    system, user = request["messages"][0]["content"], request["messages"][-1]["content"]
    assert "data, not instructions" in system and "[1] title: Classifier-Free Guidance" in user


def test_bogus_citation_is_removed_and_reported(llm_engine: Engine, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(GOOD.replace("sharpening [1]", "sharpening [1][9]"))
    answer = llm_engine.ask(QUESTION)
    assert "[9]" not in answer.answer and any("[9]" in w for w in answer.warnings)
    assert {c.n for c in answer.citations} == cited_numbers(answer.answer) == {1}


def test_an_uncovered_word_is_said_and_missing_in_llm_mode_too(llm_engine: Engine, fake_openai: FakeOpenAI) -> None:
    fake_openai.script("Reinforcement learning trains control policies from reward [1].")
    answer = llm_engine.ask("Is there work on reinforcement learning for traffic signal control?")
    assert not answer.refused and answer.citations and answer.missing == ["traffic"]
    assert any('None of the papers found mentions "traffic"' in w for w in answer.warnings)


def test_uncited_claim_is_flagged(llm_engine: Engine, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(GOOD + " Quantum computers will replace all GPUs by next year.")
    answer = llm_engine.ask(QUESTION)
    assert any("uncited" in w.lower() for w in answer.warnings)
    assert {c.n for c in answer.citations} == cited_numbers(answer.answer)


def test_model_refusal_is_honest(llm_engine: Engine, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(REFUSAL_MARKER)
    answer = llm_engine.ask(QUESTION)
    assert answer.refused and answer.citations == [] and answer.related
    assert "does not" in answer.answer


def test_unanswerable_question_never_reaches_the_model(llm_engine: Engine, fake_openai: FakeOpenAI) -> None:
    answer = llm_engine.ask("what's a good recipe for sourdough bread?")
    assert answer.refused and fake_openai.chat_requests() == []


@pytest.mark.parametrize(
    "replies",
    [
        [500, 500],  # persistent server error
        [Reply.slow(3.0), Reply.slow(3.0)],  # slower than the 1 s timeout
        [Reply.cut(GOOD, after=4)],  # stream cut midway
        [Reply.malformed(GOOD, after=2)],  # broken SSE JSON
    ],
    ids=["500", "timeout", "cut-stream", "malformed"],
)
def test_endpoint_faults_fall_back_to_extractive(llm_engine: Engine, fake_openai: FakeOpenAI, replies: list) -> None:
    fake_openai.script(*replies)
    t0 = time.perf_counter()
    answer = llm_engine.ask(QUESTION)
    assert time.perf_counter() - t0 < 10  # bounded: retries then fallback, nothing hangs
    assert answer.mode == "extractive" and not answer.refused and answer.citations
    assert any("LLM endpoint failed" in w for w in answer.warnings)
    assert answer.answer.startswith("The LLM endpoint failed")  # the notice is visible in the answer


def test_rate_limit_then_success(llm_engine: Engine, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(Reply.error(429, retry_after=0.1), GOOD)
    answer = llm_engine.ask(QUESTION)
    assert answer.mode == "llm" and answer.warnings == [] and len(fake_openai.chat_requests()) == 2


def test_dead_endpoint_is_a_notice_not_a_traceback(built_engine: Engine) -> None:
    settings = make_settings(
        built_engine.settings.data_dir,
        llm={"base_url": "http://127.0.0.1:9/v1", "timeout_s": 1.0, "max_retries": 0},
    )
    answer = Engine(settings, embedder=built_engine.embedder).ask(QUESTION)
    assert answer.mode == "extractive" and answer.citations and answer.warnings


def test_followup_condensed_by_the_llm(llm_engine: Engine, fake_openai: FakeOpenAI) -> None:
    history = [
        Message(role="user", content="is there work on stabilizing shaky handheld video?"),
        Message(role="assistant", content="Yes: a method that simulates cinematographers' camera motions [1]."),
    ]
    fake_openai.script("Who are the authors of the Cinematic-L1 video stabilization paper?")
    answer = llm_engine.ask("who wrote it?", history=history)
    condense = fake_openai.chat_requests()[0]
    assert "stabilizing shaky handheld video" in condense["messages"][-1]["content"]
    assert answer.standalone_question == "Who are the authors of the Cinematic-L1 video stabilization paper?"
    assert "Arwen Bradley" in answer.answer  # the catalog answers the authorship exactly


def test_context_respects_the_token_budget(built_engine: Engine, fake_openai: FakeOpenAI) -> None:
    from rag.tokens import count_tokens

    settings = make_settings(
        built_engine.settings.data_dir,
        llm={"base_url": fake_openai.url, "context_tokens": 300, "timeout_s": 2.0},
    )
    fake_openai.script(GOOD)
    Engine(settings, embedder=built_engine.embedder).ask(QUESTION, k=8)
    user = fake_openai.chat_requests()[0]["messages"][-1]["content"]
    assert count_tokens(user) < 300 + 60  # sources within budget, plus the question and framing


def test_cli_json_contract_against_the_scripted_server(built_engine: Engine, fake_openai: FakeOpenAI) -> None:
    """`rag ask --json --batch` and the streamed `rag ask`, configured only by the documented env vars."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    env = {"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "HOME": str(built_engine.settings.data_dir),
           "OPENAI_BASE_URL": fake_openai.url, "OPENAI_API_KEY": "test", "RAG_LLM_MODEL": "fake-model",
           "RAG_LLM__TIMEOUT_S": "1", "RAG_LLM__MAX_RETRIES": "1", "RAG_LLM__BACKOFF_S": "0.05"}  # fmt: skip

    def rag(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "rag.cli", *args, "--data-dir", str(built_engine.settings.data_dir)]
        return subprocess.run(cmd, input=stdin, capture_output=True, text=True, cwd=root, env=env, timeout=300)

    fake_openai.script(GOOD, GOOD.replace("sharpening [1]", "sharpening [1][9]"), 500, 500)
    batch = "".join(json.dumps({"question": QUESTION}) + "\n" for _ in range(3))
    out = rag("ask", "--json", "--batch", "-", stdin=batch)
    good, bogus, failed = (json.loads(line) for line in out.stdout.splitlines())
    for a in (good, bogus, failed):
        assert {"question", "answer", "refused", "mode", "citations", "timings_ms", "warnings"} <= set(a)
        assert {c["n"] for c in a["citations"]} == cited_numbers(a["answer"]) and not a["refused"]
    assert good["mode"] == "llm" and good["warnings"] == [] and good["citations"][0]["arxiv_id"] == "2408.09000"
    assert bogus["mode"] == "llm" and "[9]" not in bogus["answer"] and any("[9]" in w for w in bogus["warnings"])
    assert failed["mode"] == "extractive" and any("LLM endpoint failed" in w for w in failed["warnings"])

    fake_openai.script(GOOD)
    out = rag("ask", QUESTION)
    assert out.returncode == 0 and out.stdout.startswith(GOOD)
    assert "[1] Classifier-Free Guidance is a Predictor-Corrector" in out.stdout.split("Sources:")[1]
    assert "Verified answer" not in out.stdout and "Traceback" not in out.stderr

    # The streamed draft cites [9]; the printed answer must not, since no source [9] exists.
    fake_openai.script(GOOD.replace("sharpening [1]", "sharpening [1][9]"))
    out = rag("ask", QUESTION)
    draft, _, verified = out.stdout.split("Sources:")[0].partition("Verified answer (it replaces the draft above):")
    answer, _, notes = verified.partition("note:")
    assert "[9]" in draft and "sharpening [1]." in answer and "[9]" not in answer and "[9]" in notes

    # The endpoint fails before any text: the extractive fallback is printed, not only its sources.
    fake_openai.script(500, 500)
    out = rag("ask", QUESTION)
    text = out.stdout.split("Sources:")[0]
    assert text.startswith("The LLM endpoint failed") and "predictor-corrector" in text.lower() and "[1]" in text
