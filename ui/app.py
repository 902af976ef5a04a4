"""Gradio chat over `rag.Engine`, served together with the HTTP API by one uvicorn server.

    from ui.app import serve
    serve(engine, host="127.0.0.1", port=7860)     # UI at /, API at /api

The chat streams the provisional answer text, then replaces it with the final verified answer; a
Sources panel lists the cited papers numbered like the answer's [n] markers (or related reading when
the corpus does not answer). All corpus text is escaped in `ui.render` before it reaches a component.
"""

from __future__ import annotations

import logging
import os

# Before gradio is imported: no usage analytics or version checks leave the machine.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("GRADIO_SSR_MODE", "False")

import threading
import webbrowser
from collections.abc import Iterator
from typing import Any

import gradio as gr
import uvicorn
from fastapi import FastAPI

from rag.engine import Engine
from rag.errors import UserError
from rag.models import Message
from rag.retrieve import Filters
from ui import render
from ui.api import create_api

log = logging.getLogger("ui.app")

EXAMPLES = [
    "Which papers study length generalization in transformers?",
    "What did Omid Saremi co-author?",
    "How does classifier-free guidance relate to predictor-corrector methods?",
    "Is trace length a useful uncertainty signal for reasoning models?",
]
EMPTY_QUESTION = "Please type a question first — for example, one of the examples below the chat."
UNEXPECTED = "Sorry — something went wrong while answering (the details are in the server log). Please try again."
CURSOR = " ▍"

ChatHistory = list[dict[str, Any]]


def _filters(
    author: str | None, year_from: float | None, year_to: float | None, category: str | None
) -> Filters | None:
    y0 = int(year_from) if year_from is not None else None
    y1 = int(year_to) if year_to is not None else None
    if y0 is not None and y1 is not None and y0 > y1:
        raise UserError(f"the year range is empty: from {y0} is after to {y1}")
    authors = [a.strip() for a in (author or "").split(",") if a.strip()]
    f = Filters(authors=authors, year_from=y0, year_to=y1, category=category or None)
    return f if f.active() else None


def _llm_model(engine: Engine) -> str | None:
    return engine.settings.llm.model if engine.llm is not None else None


def _categories(engine: Engine) -> list[str]:
    try:
        return sorted({p.category for p in engine.catalog.papers if p.category})
    except UserError:  # no index: the chat reports it on the first question
        return []


def build_ui(engine: Engine) -> gr.Blocks:
    def lookup(paper_id: str) -> Any:
        return engine.catalog.get(paper_id)

    def respond(
        question: str,
        chat: ChatHistory | None,
        turns: list[dict[str, str]] | None,
        author: str | None,
        year_from: float | None,
        year_to: float | None,
        category: str | None,
    ) -> Iterator[tuple[Any, ...]]:
        """Yields (chat, turns, sources, status, question box) as the answer streams in."""
        chat = list(chat or [])
        turns = list(turns or [])
        q = (question or "").strip()
        if not q:
            chat.append({"role": "assistant", "content": EMPTY_QUESTION})
            yield chat, turns, gr.skip(), "", ""
            return
        chat.append({"role": "user", "content": render.md_escape(q)})
        chat.append({"role": "assistant", "content": "_searching the papers…_"})
        yield chat, turns, gr.skip(), "", ""
        text = ""
        try:
            filters = _filters(author, year_from, year_to, category)
            history = [Message.model_validate(t) for t in turns]
            stream = engine.ask_stream(q, history=history, filters=filters)
            for delta in stream:
                text += delta
                chat[-1] = {"role": "assistant", "content": render.md_escape(text) + CURSOR}
                yield chat, turns, gr.skip(), "", gr.skip()
            final = stream.answer
        except UserError as exc:
            chat[-1] = {"role": "assistant", "content": "⚠️ " + render.md_escape(str(exc))}
            yield chat, turns, gr.skip(), "", gr.skip()
            return
        except Exception:
            log.exception("unexpected error answering %r", q[:200])
            chat[-1] = {"role": "assistant", "content": UNEXPECTED}
            yield chat, turns, gr.skip(), "", gr.skip()
            return
        # The streamed text was provisional: show the verified answer, and remember the raw turns.
        chat[-1] = {"role": "assistant", "content": render.answer_markdown(final)}
        turns += [{"role": "user", "content": q}, {"role": "assistant", "content": final.answer}]
        yield chat, turns, render.sources_html(final, lookup), render.status_html(final), gr.skip()

    def clear() -> tuple[Any, ...]:
        return [], [], render.sources_html(None), "", ""

    with gr.Blocks(title="paperchat", analytics_enabled=False) as blocks:
        turns = gr.State([])
        with gr.Row(equal_height=False):
            gr.Markdown("## paperchat — cited answers from scientific paper abstracts", elem_id="pc-heading")
            gr.HTML(render.mode_badge(_llm_model(engine)), elem_id="pc-mode-box")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(
                    label="Chat",
                    elem_id="pc-chat",
                    height=520,
                    latex_delimiters=[],  # abstracts' LaTeX is shown as typed, never interpreted
                    sanitize_html=True,  # second line of defence; text is escaped before it gets here
                    allow_tags=False,
                    feedback_options=None,
                    buttons=["copy", "copy_all"],  # no "share": it would upload the chat to a third party
                    placeholder="Ask about the papers in the corpus. Answers cite their sources as [n].",
                )
                with gr.Row():
                    question = gr.Textbox(
                        placeholder="Ask a question about the papers…",
                        show_label=False,
                        lines=1,
                        max_lines=4,
                        scale=5,
                        elem_id="pc-question",
                        autofocus=True,
                    )
                    ask_btn = gr.Button("Ask", variant="primary", scale=1, elem_id="pc-ask")
                status = gr.HTML("", elem_id="pc-status")
                gr.Examples(EXAMPLES, inputs=[question], label="Example questions")
                with gr.Accordion("Filters (optional)", open=False):
                    with gr.Row():
                        author = gr.Textbox(label="Author (comma-separated for several)", elem_id="pc-author")
                        year_from = gr.Number(label="Year from", precision=0, elem_id="pc-year-from")
                        year_to = gr.Number(label="Year to", precision=0, elem_id="pc-year-to")
                        category = gr.Dropdown(
                            [("any", "")] + [(c, c) for c in _categories(engine)], value="", label="Category"
                        )
                clear_btn = gr.Button("Clear chat", variant="secondary", elem_id="pc-clear")
            with gr.Column(scale=2):
                sources = gr.HTML(render.sources_html(None), elem_id="pc-sources")

        inputs = [question, chatbot, turns, author, year_from, year_to, category]
        outputs = [chatbot, turns, sources, status, question]
        question.submit(respond, inputs, outputs, api_visibility="private")
        ask_btn.click(respond, inputs, outputs, api_visibility="private")
        clear_btn.click(clear, None, outputs, api_visibility="private")
        chatbot.clear(clear, None, outputs, api_visibility="private")  # the chat's own trash icon
    return blocks


def _theme() -> gr.themes.Base:
    # Gradio's bundled SourceSansPro-SemiBold.woff2 is a 5 KB subset missing some capitals ("A", "B"),
    # so bold text mixes fonts; the Bold file is complete. All fonts are served locally, none from a CDN.
    font = (gr.themes.LocalFont("Source Sans Pro", weights=(400, 700)), "ui-sans-serif", "system-ui", "sans-serif")
    return gr.themes.Default(font=font)


def create_app(engine: Engine) -> FastAPI:
    """One ASGI app: the HTTP API under /api and the chat UI at /."""
    app = create_api(engine)
    return gr.mount_gradio_app(
        app,
        build_ui(engine),
        path="/",
        css=render.CSS,
        theme=_theme(),
        footer_links=[{"label": "HTTP API", "url": "/api/docs"}],
        show_error=False,  # errors are reported in the chat; never show exception text from gradio
    )


def serve(engine: Engine, host: str = "127.0.0.1", port: int = 7860, open_browser: bool = False) -> None:
    """Serve the UI and API until interrupted."""
    app = create_app(engine)
    url = f"http://{host}:{port}"
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    if open_browser:

        def _open() -> None:
            for _ in range(300):  # up to 30 s for the server to come up
                if server.started:
                    webbrowser.open(url)
                    return
                threading.Event().wait(0.1)

        threading.Thread(target=_open, daemon=True).start()
    print(f"paperchat UI at {url}  (API at {url}/api)", flush=True)
    server.run()
