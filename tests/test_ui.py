"""The chat UI in a real browser: headless Debian Chromium driven by Playwright, against the app served
by uvicorn on 127.0.0.1 (the real engine over the full corpus)."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import uvicorn

from rag.engine import Engine
from rag.models import Answer
from rag.stream import AnswerStream

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
TIMEOUT_MS = 90_000
SCREENSHOT = Path("/tmp/ui.png")


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

    def __init__(self, browser: Any):
        self.page = browser.new_page(viewport={"width": 1400, "height": 1000})
        self.page.set_default_timeout(TIMEOUT_MS)
        self.dialogs: list[str] = []
        self.foreign: list[str] = []
        self.errors: list[str] = []
        self.page.on("dialog", self._dialog)
        self.page.on("request", self._request)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _request(self, request: Any) -> None:
        host = urlparse(request.url).hostname
        if request.url.startswith(("http:", "https:", "ws:", "wss:")) and host not in ("127.0.0.1", "localhost"):
            self.foreign.append(request.url)

    def ask(self, question: str) -> None:
        box = self.page.locator("#pc-question textarea")
        box.fill(question)
        box.press("Enter")

    def bot_messages(self) -> list[str]:
        return self.page.locator('#pc-chat [data-testid="bot"]').all_inner_texts()

    def wait_for_answer(self, count: int = 1) -> str:
        """The text of the `count`-th bot message once it is final (sources shown, no streaming cursor)."""
        self.page.wait_for_function(
            """n => {
                const msgs = document.querySelectorAll('#pc-chat [data-testid="bot"]');
                return msgs.length >= n && !msgs[n - 1].innerText.includes('▍')
                    && !msgs[n - 1].innerText.includes('searching the papers');
            }""",
            arg=count,
        )
        return self.bot_messages()[count - 1]


@pytest.fixture()
def watched(browser: Any) -> Iterator[Watched]:
    w = Watched(browser)
    yield w
    w.page.close()


def test_question_gets_a_cited_answer_with_sources(watched: Watched, app_url: str, built_engine: Engine) -> None:
    expected = built_engine.ask(QUESTION)
    assert not expected.refused and expected.citations
    page = watched.page
    page.goto(app_url)
    assert "no LLM configured" in page.locator("#pc-mode").inner_text()

    watched.ask(QUESTION)
    page.wait_for_selector("#pc-sources .pc-source")
    shown = normalize(watched.wait_for_answer())
    # The final answer text, literally (escaping must not leave backslashes or entities behind).
    for paragraph in expected.answer.split("\n\n"):
        assert normalize(paragraph) in shown

    sources = page.locator("#pc-sources")
    titles = {p.title for p in built_engine.catalog.papers}
    first = expected.citations[0]
    assert first.title in titles
    assert normalize(first.title) in normalize(page.locator("#pc-source-1 .pc-title").inner_text())
    assert page.locator("#pc-sources .pc-source").count() == len(expected.citations)
    for c in expected.citations:
        assert f"[{c.n}]" in shown  # numbered like the answer's markers
        item = normalize(sources.locator(f"#pc-source-{c.n}").inner_text())
        assert f"[{c.n}]" in item
        if c.authors_truncated:
            assert "et al." in item
        if c.arxiv_id:
            href = sources.locator(f"#pc-source-{c.n} a.pc-arxiv").get_attribute("href")
            assert href == f"https://arxiv.org/abs/{c.arxiv_id}"
    assert "extractive answer" in page.locator("#pc-status").inner_text()
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    # A follow-up is a second turn in the same chat; "Clear chat" empties the chat and the sources.
    watched.ask("What did Omid Saremi co-author?")
    assert "Omid Saremi" in watched.wait_for_answer(2)
    page.locator("#pc-clear").click()
    page.wait_for_function("() => !document.querySelector('#pc-chat [data-testid=\"bot\"]')")
    assert page.locator("#pc-sources .pc-source").count() == 0

    assert not watched.errors and not watched.dialogs
    assert not watched.foreign, f"the UI reached beyond this machine: {watched.foreign}"


def test_off_corpus_question_shows_related_reading(watched: Watched, app_url: str) -> None:
    watched.page.goto(app_url)
    watched.ask("what is the recipe for chocolate cake?")
    answer = watched.wait_for_answer()
    assert "does not" in answer.lower()
    watched.page.wait_for_selector("#pc-sources .pc-source")
    assert "Related reading" in watched.page.locator("#pc-sources").inner_text()


def test_bad_questions_get_a_friendly_message_not_a_traceback(watched: Watched, app_url: str) -> None:
    page = watched.page
    page.goto(app_url)
    page.locator("#pc-ask").click()  # empty question
    assert "Please type a question" in watched.wait_for_answer()

    watched.ask("why? " * 600)  # over the engine's length limit: its UserError, shown in the chat
    message = watched.wait_for_answer(2)
    assert "limit" in message and "characters" in message

    body = page.locator("body").inner_text()
    for leak in ("Traceback", "UserError", 'File "', "Error:"):
        assert leak not in body
    assert not watched.errors and not watched.dialogs


# -- hostile text ------------------------------------------------------------------------------

HOSTILE = (
    '<script>window.__pwned = "script"; alert("script")</script>'
    " <img src=x onerror=\"window.__pwned = 'img'; alert('img')\">"
    " [click me](javascript:alert('md-link')) <a href=\"javascript:alert('a')\">a link</a>"
    " ![pixel](https://evil.example/pixel.png) <iframe srcdoc=\"<script>parent.alert('iframe')</script>\"></iframe>"
    " ${alert('template')} $\\href{javascript:alert('tex')}{tex}$ **not bold**"
)


class HostileEngine:
    """The real engine, except every answer and cited paper carries hostile HTML and Markdown."""

    def __init__(self, inner: Engine):
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def ask_stream(self, question: str, **kwargs: Any) -> AnswerStream:
        inner = self._inner.ask_stream(question, **kwargs)

        def parts() -> Iterator[str | Answer]:
            for delta in inner:
                yield HOSTILE + " " + delta
            yield self._poison(inner.answer)

        return AnswerStream(inner.found, inner.sources, parts())

    @staticmethod
    def _poison(answer: Answer) -> Answer:
        cites = [
            c.model_copy(update={"title": f"{HOSTILE} {c.title}", "snippet": HOSTILE, "abstract": HOSTILE + c.abstract})
            for c in answer.citations
        ]
        if cites:
            cites[0] = cites[0].model_copy(update={"arxiv_id": 'x" onmouseover="alert(1)', "authors": [HOSTILE]})
        return answer.model_copy(
            update={"answer": f"{HOSTILE}\n\n{answer.answer}", "citations": cites, "warnings": [HOSTILE]}
        )


def test_hostile_html_in_answers_and_sources_stays_inert(watched: Watched, built_engine: Engine) -> None:
    with Server(HostileEngine(built_engine)) as server:
        page = watched.page
        page.goto(server.url)
        watched.ask(QUESTION)
        page.wait_for_selector("#pc-sources .pc-source")
        shown = watched.wait_for_answer()
        page.hover("#pc-source-1")  # would fire an injected onmouseover
        page.locator("#pc-source-1 details summary").click()  # show the (hostile) abstract too
        page.wait_for_timeout(1000)  # time for any injected onerror / script to have run

        assert watched.dialogs == []
        assert page.evaluate("() => window.__pwned") is None
        assert watched.foreign == [], f"hostile Markdown made the browser fetch {watched.foreign}"
        for area in ("#pc-chat", "#pc-sources", "#pc-status"):
            injected = page.evaluate(
                """sel => [...document.querySelectorAll(
                    sel + ' script, ' + sel + ' iframe, ' + sel + ' img, ' + sel + ' [onerror], '
                    + sel + ' [onmouseover], ' + sel + ' a[href^="javascript"], ' + sel + ' strong')
                ].map(e => e.outerHTML)""",
                area,
            )
            # the chat's own UI icons are <img>/<svg> outside the message text; only look inside messages
            injected = [h for h in injected if "pwned" in h or "alert" in h or "javascript" in h or "bold" in h]
            assert injected == [], f"live markup from corpus text in {area}: {injected}"
        # Shown as the literal text it is.
        assert "<script>" in shown and "[click me](javascript:" in shown and "**not bold**" in shown
        assert "<img src=x onerror" in page.locator("#pc-source-1 .pc-title").inner_text()
        href = page.locator("#pc-source-1 a.pc-arxiv").get_attribute("href") or ""
        assert re.fullmatch(r"https://arxiv\.org/abs/[^\s\"<>]+", href), href
        page.screenshot(path="/tmp/ui-hostile.png", full_page=True)


# -- rendering helpers (no browser) ------------------------------------------------------------


def test_render_helpers() -> None:
    from ui import render

    assert "<" not in render.md_escape("<b>x</b> [l](javascript:x)") and "&lt;b&gt;" in render.md_escape("<b>")
    assert render.authors_line(["A", "B"], True) == "A, B et al."
    assert render.authors_line([f"A{i}" for i in range(9)], False).endswith("A5 et al.")
    assert "LLM: gpt-x" in render.mode_badge("gpt-x") and "no LLM configured" in render.mode_badge(None)
    assert render.esc("${x}<") == "&#36;{x}&lt;"
    assert render.arxiv_url('1"><b') == "https://arxiv.org/abs/1%22%3E%3Cb"
