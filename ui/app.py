"""The chat UI and the HTTP API, served by one uvicorn server.

    from ui.app import serve
    serve(engine, host="127.0.0.1", port=7860)     # UI at /, API at /api, API docs at /api/docs

The UI is a Gradio app (`ui.shell`) hosting the page of ui/static, plain HTML + JavaScript talking to the
public API (`POST /api/ask/stream`, `GET /api/papers`), so the UI shows exactly what an API client gets and
every answer keeps its own cited sources. Corpus text is only ever put into the page as text
(`textContent`), never as HTML. Nothing is loaded from outside this server: no CDN, no web fonts, no
analytics. The same page without Gradio is at /plain/.
"""

from __future__ import annotations

import threading
import webbrowser

import uvicorn
from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from rag.engine import Engine
from ui import shell
from ui.api import create_api

PLAIN = "/plain"  # Gradio serves its own files under /static


def create_app(engine: Engine) -> FastAPI:
    """One ASGI app: the HTTP API under /api and the plain page under /plain (routed first), Gradio at /."""
    app = create_api(engine)
    app.mount(PLAIN, StaticFiles(directory=shell.STATIC, html=True), name="plain")
    return shell.mount(app, path="/")


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
    print(f"paperchat UI at {url}  (API at {url}/api, docs at {url}/api/docs)", flush=True)
    server.run()
