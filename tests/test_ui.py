"""The chat page in a real browser: headless Debian Chromium driven by Playwright, against the app served
by uvicorn on 127.0.0.1 (the real engine over the full corpus; the LLM, where there is one, is the
scripted OpenAI-protocol server). Every step saves a screenshot under build/ui-screenshots/
(or $UI_SCREENSHOTS)."""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
import uvicorn

from rag.engine import Engine
from rag.models import Answer, Message
from rag.stream import AnswerStream
from tests.conftest import ROOT, make_settings
from tests.fake_openai import FakeOpenAI, Reply

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
QUESTION = "which papers study length generalization?"
FOLLOW_UP = "and diffusion models?"
LENGTH_PAPER = "What Algorithms can Transformers Learn? A Study in Length Generalization"
TIMEOUT_MS = 120_000
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
SHOTS = Path(os.environ.get("UI_SCREENSHOTS", ROOT / "build" / "ui-screenshots"))
LLM_TEXT = (
    "Classifier-free guidance is a kind of predictor-corrector method that alternates between denoising and "
    "sharpening [1]. In the SDE limit it equals a DDIM predictor combined with a Langevin dynamics corrector [1]."
)


def normalize(text: str) -> str:
    return " ".join(text.split())


class Server:
    """The app from `ui.app.create_app`, served by uvicorn in a background thread on a free port."""

    def __init__(self, engine: Any):
        from ui.app import create_app

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/"
        self.server = uvicorn.Server(
            uvicorn.Config(create_app(engine), host="127.0.0.1", port=port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"the UI server did not start on {self.url}")
            time.sleep(0.05)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the UI tests need a real browser. Install Debian's Chromium with "
            "`apt-get update && apt-get install -y chromium` (or run `make install-test`).",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def app_url(built_engine: Engine) -> Iterator[str]:
    with Server(built_engine) as server:
        yield server.url


class Watched:
    """A page plus what it did that it must not: dialogs, requests off this machine, page errors."""

    def __init__(self, browser: Any, viewport: dict[str, int] = DESKTOP):
        self.context = browser.new_context(viewport=viewport, permissions=["clipboard-read", "clipboard-write"])
        self.page = self.context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.dialogs: list[str] = []
        self.foreign: list[str] = []
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("dialog", self._dialog)
        self.page.on("request", self._request)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _request(self, request: Any) -> None:
        self.requests.append(request.url)
        host = urlparse(request.url).hostname
        if not request.url.startswith(("data:", "blob:")) and host != "127.0.0.1":
            self.foreign.append(request.url)

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"))

    def open(self, url: str) -> None:
        """Load the Gradio app and wait until the page's script has run inside its component."""
        self.page.goto(url)
        self.page.wait_for_selector("[data-pc-ready]", state="attached")

    def ask(self, question: str) -> None:
        box = self.page.locator("#pc-question")
        box.fill(question)
        box.press("Enter")

    def wait_for_answer(self, n: int = 1) -> str:
        """The text of the n-th answer of this page once it is final (or failed)."""
        self.page.wait_for_selector(f'#a{n}[data-state="done"], #a{n}[data-state="error"]')
        return self.page.locator(f"#a{n} .pc-text").inner_text()

    def in_view(self, selector: str) -> bool:
        box = self.page.locator(selector).bounding_box()
        size = self.page.viewport_size
        return bool(box and size and box["y"] >= 0 and box["y"] + min(box["height"], 60) <= size["height"])

    def fits_width(self) -> bool:
        return bool(self.page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth"))

    def clean(self) -> None:
        assert not self.errors, f"page errors: {self.errors}"
        assert not self.dialogs, f"unexpected dialogs: {self.dialogs}"
        assert not self.foreign, f"the page reached beyond this machine: {self.foreign}"


@pytest.fixture()
def watched(browser: Any) -> Iterator[Watched]:
    w = Watched(browser)
    yield w
    w.context.close()


@pytest.fixture()
def phone(browser: Any) -> Iterator[Watched]:
    w = Watched(browser, PHONE)
    yield w
    w.context.close()


def card_date(built_engine: Engine, paper_id: str) -> str:
    p = built_engine.catalog.get(paper_id)
    assert p is not None
    return p.date_text or p.date or "date not recorded"


# -- hosting ----------------------------------------------------------------------------------------


def test_the_page_is_hosted_by_gradio_and_plain(watched: Watched, app_url: str) -> None:
    page = watched.page
    watched.open(app_url)
    assert page.title() == "paperchat"
    # The page's markup lives inside the Gradio app's custom HTML component, Gradio's footer is off.
    assert page.locator("gradio-app #paperchat #pc-chat").count() == 1
    assert page.locator("footer:not(.foot)").count() == 0
    page.wait_for_function("() => !document.querySelector('#pc-mode').innerText.includes('checking')")
    watched.clean()
    page.goto(app_url + "plain/")  # the same page without Gradio
    page.wait_for_function("() => document.querySelector('#pc-mode').innerText.includes('no LLM configured')")
    assert page.locator("gradio-app").count() == 0 and page.locator("#pc-examples button").count() == 4
    watched.clean()


def test_gradio_templates_keep_the_page_text_literal() -> None:
    from ui.shell import load_page, scoped_css, template_text

    assert template_text("a`b${c}\\d") == "a\\`b\\${c}\\\\d"
    with pytest.raises(ValueError):
        template_text("{{value}}")
    source = ":root { --x: 1; }\nbody { margin: 0; }\n@keyframes spin { to { top: 0; } }\np { x: y; }"
    css, page_css = scoped_css(source)
    assert css.split() == "& { --x: 1; } & { margin: 0; } p { x: y; }".split()
    assert page_css.strip() == "@keyframes spin { to { top: 0; } }"
    parts = load_page()
    assert "<script" not in parts.html and 'id="pc-question"' in parts.html
    assert parts.js.rstrip().endswith("element.dataset.pcReady = '1';")


# -- the chat -------------------------------------------------------------------------------------


def test_answer_with_linked_citations_cards_and_follow_up(watched: Watched, app_url: str, built_engine: Engine) -> None:
    expected = built_engine.ask(QUESTION)
    assert not expected.refused and len(expected.citations) >= 2
    page = watched.page
    watched.open(app_url)
    page.wait_for_function("() => document.querySelector('#pc-mode').innerText.includes('no LLM configured')")
    assert page.locator("#pc-year-from").input_value() == "" and page.locator("#pc-year-to").input_value() == ""
    watched.shot("01-start-desktop")

    watched.ask(QUESTION)
    shown = normalize(watched.wait_for_answer(1))
    for paragraph in expected.answer.split("\n\n"):  # the final text, literally: no escapes, no entities
        assert normalize(paragraph) in shown
    assert "\\" not in shown
    cards = page.locator("#a1 .pc-source")
    assert cards.count() == len(expected.citations)
    page.wait_for_function("() => ![...document.querySelectorAll('#a1 .pc-date')].some(d => d.innerText === '…')")
    watched.shot("02-answer-desktop")
    for c in expected.citations:
        card = page.locator(f"#a1-s{c.n}")
        text = normalize(card.inner_text())
        assert text.startswith(f"[{c.n}] ") and normalize(c.title) in text
        assert (normalize(c.authors[0]) if c.authors else "authors not listed") in text
        assert card_date(built_engine, c.paper_id) in text
        if c.arxiv_id:
            assert card.locator("a.pc-arxiv").get_attribute("href") == f"https://arxiv.org/abs/{c.arxiv_id}"
        snippet = normalize(card.locator(".pc-snippet").inner_text())
        if not normalize(c.abstract).startswith(normalize(c.snippet)[:40]):
            assert snippet.startswith("…"), snippet  # cut: says so
        assert not card.locator(".pc-abstract p").is_visible()
        card.locator(".pc-abstract summary").click()  # the full abstract on demand
        assert normalize(c.abstract) in normalize(card.locator(".pc-abstract p").inner_text())
    marked = {m.lower() for m in page.locator("#a1 .pc-snippet mark").all_inner_texts()}
    assert marked & {"length", "generalization", "generalize"}, marked
    assert "extractive answer" in page.locator("#a1 .pc-status").inner_text()
    labels = page.locator("[aria-label]").evaluate_all("es => es.map(e => e.getAttribute('aria-label'))")
    assert labels and not any("\\" in label for label in labels)

    # [2] in the text jumps to card 2 of this answer and highlights it (and only it).
    page.locator('#a1 .pc-text a.cite[href="#a1-s2"]').first.click()
    page.wait_for_timeout(800)  # smooth scroll
    assert "pc-hl" in (page.locator("#a1-s2").get_attribute("class") or "")
    assert page.locator(".pc-source.pc-hl").count() == 1
    assert watched.in_view("#a1-s2")
    watched.shot("03-citation-2-highlighted")

    # A follow-up shows what was searched for; the first answer keeps its own cards and links.
    watched.ask(FOLLOW_UP)
    watched.wait_for_answer(2)
    searched = page.locator("#a2 .pc-searched").inner_text()
    assert searched.startswith("searched for:") and "diffusion" in searched.lower() and "length" in searched.lower()
    assert page.locator("#a1 .pc-source").count() == len(expected.citations)
    page.locator("#a2 .pc-status").scroll_into_view_if_needed()
    watched.shot("04-follow-up-searched-for")
    page.locator('#a1 .pc-text a.cite[href="#a1-s1"]').first.click()
    page.wait_for_timeout(800)
    assert "pc-hl" in (page.locator("#a1-s1").get_attribute("class") or "")
    watched.shot("04b-older-answer-card-1")

    # "the second one" points into the latest answer's cited papers, which the page sends with each turn: the
    # extractive answer's text ([1], [2] and quotes) names no paper.
    turn1 = [Message(role="user", content=QUESTION), Message.from_answer(expected)]
    followed = built_engine.ask(FOLLOW_UP, history=turn1)
    assert len(followed.citations) >= 2 and followed.citations[1].title not in followed.answer
    watched.ask("Tell me more about the second one")
    third = normalize(watched.wait_for_answer(3))
    assert normalize(followed.citations[1].title) in normalize(page.locator("#a3 .pc-searched").inner_text())
    assert "[1]" in third
    page.locator("#a3 .pc-status").scroll_into_view_if_needed()
    watched.shot("04c-second-one-follow-up")

    page.locator("#pc-clear").click()  # back to the examples; they are whole questions that ask when clicked
    assert page.locator("#a1").count() == 0 and page.locator("#pc-empty").is_visible()
    example = page.locator("#pc-examples button").nth(1)
    assert example.inner_text() == "What did Omid Saremi co-author?"
    example.click()
    assert "Saremi" in watched.wait_for_answer(4)
    watched.clean()


class WrappedEngine:
    """The real engine, its answer streams passed through `delta`, `sources` and `final` (subclasses change them)."""

    def __init__(self, inner: Engine):
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def ask_stream(self, question: str, **kwargs: Any) -> AnswerStream:
        inner = self._inner.ask_stream(question, **kwargs)

        def parts() -> Iterator[str | Answer]:
            for delta in inner:
                yield self.delta(delta)
            yield self.final(inner.answer)

        return AnswerStream(inner.found, self.sources(inner.sources), parts())

    def delta(self, text: str) -> str:
        return text

    def sources(self, sources: list[Any]) -> list[Any]:
        return sources

    def final(self, answer: Answer) -> Answer:
        return answer


class SlowEngine(WrappedEngine):
    """Each streamed piece of an answer takes 0.4 s: a slow LLM, for a deterministic race."""

    def delta(self, text: str) -> str:
        time.sleep(0.4)
        return text


@pytest.fixture(scope="module")
def slow_app_url(built_engine: Engine) -> Iterator[str]:
    with Server(SlowEngine(built_engine)) as server:
        yield server.url


def test_second_question_while_answering_waits_visibly(watched: Watched, slow_app_url: str) -> None:
    # Answers take tens of milliseconds now: a slowed stream makes "a question while one is answering" certain.
    page = watched.page
    watched.open(slow_app_url)
    watched.ask(QUESTION)
    page.wait_for_selector("#a1")
    assert page.locator("#pc-ask").is_disabled()
    watched.ask("What did Omid Saremi co-author?")  # Enter while the first answer runs
    notice = page.locator("#pc-notice")
    assert notice.is_visible() and "Still answering" in notice.inner_text()
    assert page.locator("#a1 .pc-progress").is_visible()  # the one progress indicator, in the bubble
    watched.shot("05-still-answering")

    first = watched.wait_for_answer(1)
    assert "length generalization" in first.lower()
    assert page.locator('[data-testid="bot"]').count() == 1  # nothing got mixed up or lost
    assert page.locator("#pc-question").input_value() == "What did Omid Saremi co-author?"
    assert not page.locator("#pc-ask").is_disabled() and not notice.is_visible()
    page.locator("#pc-ask").click()
    second = watched.wait_for_answer(2)
    assert "Saremi" in second and "length generalization" in first.lower()
    assert page.locator('#pc-chat [data-state="searching"], #pc-chat [data-state="streaming"]').count() == 0
    watched.clean()


def test_copy_gives_clean_text_with_sources(watched: Watched, app_url: str, built_engine: Engine) -> None:
    question = "How does classifier-free guidance relate to predictor-corrector methods?"
    expected = built_engine.ask(question)
    page = watched.page
    watched.open(app_url)
    watched.ask(question)
    watched.wait_for_answer(1)
    page.locator("#a1 .pc-copy").click()
    page.wait_for_function("() => document.querySelector('#a1 .pc-copy').innerText.includes('Copied')")
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied.startswith(expected.answer.strip())
    assert "\\(" not in copied and "\\[" not in copied and "&lt;" not in copied
    assert "\nSources:\n" in copied
    for c in expected.citations:
        assert f"[{c.n}] {c.title}" in copied
        if c.url:
            assert c.url in copied
    watched.shot("06-copied")
    watched.clean()


def test_phone_answer_with_sources_in_reach(phone: Watched, app_url: str) -> None:
    page = phone.page
    phone.open(app_url)
    heading = page.locator("#pc-heading").bounding_box()
    assert heading and heading["height"] < 40  # the title is one line, not cut
    assert page.locator("#pc-heading").evaluate("h => h.scrollWidth <= h.clientWidth")
    assert phone.fits_width()
    header = page.locator("header.top").bounding_box()
    assert header and header["height"] < 70
    page.wait_for_function("() => document.querySelector('#pc-mode').innerText.startsWith('extractive')")
    phone.shot("07-start-phone")
    phone.ask(QUESTION)
    phone.wait_for_answer(1)
    page.locator("#a1 .pc-jump").click()  # "Sources ↓" under the answer
    page.wait_for_timeout(800)
    assert phone.in_view("#a1-sources h3")
    phone.shot("08-sources-phone")
    page.locator('#a1 .pc-text a.cite[href="#a1-s2"]').first.click()
    page.wait_for_timeout(800)
    assert phone.in_view("#a1-s2") and "pc-hl" in (page.locator("#a1-s2").get_attribute("class") or "")
    phone.shot("09-citation-phone")
    assert phone.fits_width()
    phone.clean()


# -- streaming --------------------------------------------------------------------------------------


@pytest.fixture()
def llm_engine(built_engine: Engine, fake_openai: FakeOpenAI) -> Engine:
    settings = make_settings(
        built_engine.settings.data_dir,
        llm={"base_url": fake_openai.url, "api_key": "test", "model": "fake-model", "timeout_s": 10.0,
             "max_retries": 0},
    )  # fmt: skip
    return Engine(settings, embedder=built_engine.embedder)


def test_stream_endpoint_sends_sources_then_deltas_as_generated(llm_engine: Engine, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(Reply(text=LLM_TEXT, chunk_delay=0.1))
    with Server(llm_engine) as server, httpx.Client(timeout=60) as client:
        arrivals: list[tuple[float, str, dict[str, Any]]] = []
        body = {"question": "How does classifier-free guidance relate to predictor-corrector methods?"}
        with client.stream("POST", server.url + "api/ask/stream", json=body) as r:
            assert r.status_code == 200
            event = ""
            for line in r.iter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    arrivals.append((time.monotonic(), event, json.loads(line[5:])))
    kinds = [e for _, e, _ in arrivals]
    assert kinds[0] == "sources" and kinds[-1] == "answer" and set(kinds[1:-1]) == {"delta"}
    assert arrivals[0][2]["sources"]  # the papers come before any text
    deltas = [(t, d["text"]) for t, e, d in arrivals if e == "delta"]
    assert len(deltas) >= 20 and "".join(d for _, d in deltas) == LLM_TEXT
    # Sent as the model generates them (0.1 s apart), not collected and sent at the end.
    assert deltas[-1][0] - deltas[0][0] > 0.05 * len(deltas)
    assert arrivals[-1][2]["mode"] == "llm"


def test_sources_show_before_the_text_finishes(watched: Watched, llm_engine: Engine, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(Reply(text=LLM_TEXT, chunk_delay=0.15))
    with Server(llm_engine) as server:
        page = watched.page
        watched.open(server.url)
        page.wait_for_function("() => document.querySelector('#pc-mode').innerText.includes('LLM: fake-model')")
        watched.ask("How does classifier-free guidance relate to predictor-corrector methods?")
        page.wait_for_selector('#a1[data-state="streaming"] .pc-source')
        page.wait_for_function("() => document.querySelector('#a1 .pc-text').innerText.length > 20")
        assert page.locator("#a1").get_attribute("data-state") == "streaming"
        partial = page.locator("#a1 .pc-text").inner_text()
        assert 0 < len(partial) < len(LLM_TEXT) - 20  # text still arriving, sources already there
        assert page.locator("#a1 .pc-progress").inner_text() == "Writing the answer…"
        watched.shot("10-streaming-sources-first")
        final = normalize(watched.wait_for_answer(1))
        assert normalize(LLM_TEXT) in final
        assert "LLM answer" in page.locator("#a1 .pc-status").inner_text()
        assert "Classifier-Free Guidance is a Predictor-Corrector" in page.locator("#a1-s1").inner_text()
        watched.clean()


# -- browse -------------------------------------------------------------------------------------------


def test_browse_open_paper_similar_and_ask_about_it(watched: Watched, app_url: str, built_engine: Engine) -> None:
    (paper,) = [p for p in built_engine.catalog.papers if p.title == LENGTH_PAPER]
    page = watched.page
    watched.open(app_url)
    page.locator("#tab-browse").click()
    page.wait_for_function("() => document.querySelector('#br-count').innerText.includes('of')")
    assert page.locator("#br-count").inner_text() == f"Papers 1–20 of {len(built_engine.catalog)}"
    page.locator("#br-next").click()
    page.wait_for_function("() => document.querySelector('#br-count').innerText.startsWith('Papers 21–40')")
    option = page.locator('#br-category option[value="LG"]').inner_text()
    assert "Machine Learning" in option  # categories are explained
    lg = sum(1 for p in built_engine.catalog.papers if p.category == "LG")
    page.locator("#br-category").select_option("LG")
    page.wait_for_function(f"() => document.querySelector('#br-count').innerText === 'Papers 1–{lg} of {lg}'")
    page.locator("#br-category").select_option("")
    page.locator("#br-q").fill("length generalization")
    page.locator("#br-form button[type=submit]").click()
    page.wait_for_function("() => document.querySelector('#br-count').innerText.startsWith('Papers 1–')")
    watched.shot("11-browse-search")

    page.locator(".br-open", has_text=LENGTH_PAPER).first.click()
    page.wait_for_selector("#br-paper-title")
    detail = normalize(page.locator("#br-paper").inner_text())
    assert paper.title in detail and normalize(paper.abstract) in detail
    assert paper.authors[0] in detail and (paper.date_text or "") in detail and "Machine Learning" in detail
    rows = page.locator(".br-prov tbody tr")
    assert rows.count() == len(paper.provenance)
    for i, src in enumerate(paper.provenance):
        cells = rows.nth(i).locator("td").all_inner_texts()
        assert cells[:3] == [src.page, src.file, str(src.line)]
    page.locator("#br-similar").click()
    page.wait_for_selector(".br-similar .br-open")
    similar = page.locator(".br-similar .br-open").all_inner_texts()
    assert len(similar) == 5 and paper.title not in similar
    assert watched.fits_width()  # nothing pushes the page sideways
    watched.shot("12-paper-detail-similar")

    page.locator("#br-ask-about").click()
    assert page.locator("#chat-view").is_visible()
    assert page.locator("#pc-scope").is_visible() and page.locator("#pc-scope-title").inner_text() == paper.title
    watched.ask("What do they propose?")
    watched.wait_for_answer(1)
    ids = page.locator("#a1 .pc-source").evaluate_all("cs => cs.map(c => c.dataset.paperId)")
    assert ids and set(ids) == {paper.paper_id}  # scoped to the paper
    assert paper.title in page.locator('[data-testid="user"]').inner_text()
    watched.shot("13-asked-about-paper")
    page.locator("#pc-scope-clear").click()
    assert not page.locator("#pc-scope").is_visible()
    watched.clean()


# -- small things ---------------------------------------------------------------------------------------


def test_api_docs_work_offline(watched: Watched, app_url: str) -> None:
    page = watched.page
    watched.open(app_url)
    page.locator("#pc-api-link").click()
    page.wait_for_selector(".swagger-ui .opblock")
    assert "/api/ask/stream" in page.locator(".swagger-ui").inner_text()
    watched.shot("14-api-docs")
    assert any("/api/docs/assets/swagger-ui-bundle.js" in u for u in watched.requests)
    watched.clean()


def test_off_corpus_question_shows_related_reading(watched: Watched, app_url: str) -> None:
    watched.open(app_url)
    watched.ask("what is the recipe for chocolate cake?")
    answer = watched.wait_for_answer()
    assert 'no paper in the corpus mentions "chocolate"' in answer.lower()
    missing = watched.page.locator("#a1 .pc-missing").inner_text()  # what the corpus lacks, shown to the user
    assert missing.startswith("Missing: ") and "chocolate" in missing and "object" not in missing, missing
    assert "Related reading" in watched.page.locator("#a1 .pc-sources").inner_text()
    assert watched.page.locator("#a1 .pc-source").count() > 0
    assert "not answered by the corpus" in watched.page.locator("#a1 .pc-status").inner_text()
    watched.clean()


def test_bad_input_gets_a_friendly_message_not_a_traceback(watched: Watched, app_url: str) -> None:
    page = watched.page
    watched.open(app_url)
    page.locator("#pc-ask").click()  # empty question
    assert "Please type a question" in page.locator("#pc-notice").inner_text()
    page.locator("#pc-filters summary").click()
    page.locator("#pc-year-from").fill("2025")
    page.locator("#pc-year-to").fill("2020")
    watched.ask(QUESTION)
    assert "year range is empty" in page.locator("#pc-notice").inner_text()
    assert page.locator("#pc-question").input_value() == QUESTION  # nothing lost
    page.locator("#pc-year-to").fill("")
    page.locator("#pc-year-from").fill("")

    watched.ask("why? " * 600)  # over the engine's length limit: its UserError, shown in the answer
    message = watched.wait_for_answer(1)
    assert "limit" in message and "characters" in message

    body = page.locator("body").inner_text()
    for leak in ("Traceback", "UserError", 'File "', "Error:"):
        assert leak not in body
    watched.clean()


# -- hostile text --------------------------------------------------------------------------------------

HOSTILE = (
    '<script>window.__pwned = "script"; alert("script")</script>'
    " <img src=x onerror=\"window.__pwned = 'img'; alert('img')\">"
    " [click me](javascript:alert('md-link')) <a href=\"javascript:alert('a')\">a link</a>"
    " ![pixel](https://evil.example/pixel.png) <iframe srcdoc=\"<script>parent.alert('iframe')</script>\"></iframe>"
    " ${alert('template')} $\\href{javascript:alert('tex')}{tex}$ **not bold**"
)


class HostileEngine(WrappedEngine):
    """The real engine, except every answer and cited paper carries hostile HTML and Markdown."""

    def delta(self, text: str) -> str:
        return HOSTILE + " " + text

    def sources(self, sources: list[Any]) -> list[Any]:
        return [c.model_copy(update={"title": HOSTILE}) for c in sources]

    def final(self, answer: Answer) -> Answer:
        return self._poison(answer)

    @staticmethod
    def _poison(answer: Answer) -> Answer:
        cites = [
            c.model_copy(update={"title": f"{HOSTILE} {c.title}", "snippet": HOSTILE, "abstract": HOSTILE + c.abstract})
            for c in answer.citations
        ]
        if cites:
            cites[0] = cites[0].model_copy(update={"arxiv_id": 'x" onmouseover="alert(1)', "authors": [HOSTILE]})
        return answer.model_copy(
            update={
                "answer": f"{HOSTILE}\n\n{answer.answer}",
                "citations": cites,
                "warnings": [HOSTILE],
                "missing": [HOSTILE],
                "standalone_question": HOSTILE,
            }
        )


def test_hostile_html_in_answers_and_sources_stays_inert(watched: Watched, built_engine: Engine) -> None:
    with Server(HostileEngine(built_engine)) as server:
        page = watched.page
        watched.open(server.url)
        watched.ask(QUESTION)
        shown = watched.wait_for_answer()
        page.hover("#a1-s1")  # would fire an injected onmouseover
        page.locator("#a1-s1 details summary").click()  # show the (hostile) abstract too
        page.wait_for_timeout(1000)  # time for any injected onerror / script to have run

        assert watched.dialogs == []
        assert page.evaluate("() => window.__pwned") is None
        assert watched.foreign == [], f"hostile Markdown made the browser fetch {watched.foreign}"
        injected = page.evaluate(
            """() => [...document.querySelectorAll(
                '#pc-chat script, #pc-chat iframe, #pc-chat img, #pc-chat [onerror], #pc-chat [onmouseover], '
                + '#pc-chat a[href^="javascript"], #pc-chat strong')].map(e => e.outerHTML)"""
        )
        assert injected == [], f"live markup from corpus text: {injected}"
        # Shown as the literal text it is.
        assert "<script>" in shown and "[click me](javascript:" in shown and "**not bold**" in shown
        assert "<img src=x onerror" in page.locator("#a1-s1 .pc-title").inner_text()
        assert "<script>" in page.locator("#a1 .pc-searched").inner_text()
        href = page.locator("#a1-s1 a.pc-arxiv").get_attribute("href") or ""
        assert re.fullmatch(r"https://arxiv\.org/abs/[^\s\"<>]+", href), href
        watched.shot("15-hostile-text-inert")
