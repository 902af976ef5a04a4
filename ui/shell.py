"""The chat page of ui/static hosted in Gradio: one `gr.HTML` custom component in a `gr.Blocks`.

The page's files are used as they are, so the Gradio app and the plain page behave the same:
- the markup of index.html's <body> (less its <script>) is the component's `html_template`;
- app.css is its `css_template` (Gradio nests it under the component's root, so the page-level
  `:root` and `body` rules are pointed at that root, and `@keyframes`, which cannot be nested, go to the
  page-wide CSS);
- app.js is its `js_on_load`: it runs once the markup is in the document, and sets `data-pc-ready` on the
  component when its event handlers are attached.
Gradio's own chrome (footer, margins, its CSS reset of headings, links, lists and form fields) is kept
off the page; the theme uses system fonts only, so nothing is loaded from outside the server.
"""

from __future__ import annotations

import os

# Before gradio is imported: no usage analytics or version checks leave the machine, no Node SSR server.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("GRADIO_SSR_MODE", "False")

import re
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
from fastapi import FastAPI

STATIC = Path(__file__).resolve().parent / "static"
TITLE = "paperchat"
ROOT_CLASS = "pc-page"  # on the component's root element
READY = "pcReady"  # element.dataset key set after app.js has run (data-pc-ready)
SYSTEM_FONTS = ["system-ui", "-apple-system", "Segoe UI", "Roboto", "Noto Sans", "DejaVu Sans", "sans-serif"]
MONO_FONTS = ["ui-monospace", "DejaVu Sans Mono", "monospace"]
ACCENT = "#2f5bd3"
BACKGROUND = "#f6f7fa"

_BODY = re.compile(r"<body[^>]*>(.*)</body>", re.S | re.I)
_SCRIPT = re.compile(r"\s*<script\b[^>]*>.*?</script>", re.S | re.I)
_ICON = re.compile(r"<link\s+rel=\"icon\"[^>]*>", re.I)
_KEYFRAMES = re.compile(r"@keyframes[^{]*\{(?:[^{}]*\{[^{}]*\})*[^{}]*\}\s*")
_PAGE_SELECTOR = re.compile(r"^(?::root|body)(?=\s*\{)", re.M)

# Gradio resets (Tailwind preflight + forms, specificity up to 0,2,0) restyle headings, links, lists, buttons
# and form fields inside its container. Revert them to the browser's defaults inside the page, as the plain
# page has them; app.css's own rules (nested under the component's id, 1,0,0 and up) still win over this.
_UNRESET = "".join(f".{ROOT_CLASS}.{ROOT_CLASS}.{ROOT_CLASS} {s} {{ all: revert; }}\n" for s in ("*", "::placeholder"))
# Gradio's frame around the one component: no padding, no width cap, no gaps; and no clipping
# (overflow: hidden on the container would make it the scroll container, so the page's sticky header
# and composer would no longer stick to the window).
_FRAME = """
.gradio-container {
  padding: 0 !important; max-width: none !important; min-height: 100vh; overflow: visible !important;
}
.gradio-container > .main, .gradio-container .wrap, .gradio-container .contain,
.gradio-container .fillable {
  padding: 0 !important; margin: 0 !important; max-width: none !important; gap: 0 !important;
}
#paperchat { padding: 0; margin: 0; border: 0; }
"""


@dataclass(frozen=True)
class PageParts:
    """The static page split into what `gr.HTML` and `gr.Blocks` take."""

    html: str  # the markup of <body>, without the script
    css: str  # app.css as the component's CSS (page-level selectors on the component's root)
    page_css: str  # rules that cannot be scoped to the component
    js: str  # app.js, run with the component's root as `element`
    head: str  # the page's <link rel="icon">


def template_text(text: str) -> str:
    """Text as a literal Gradio template: Gradio runs templates through Handlebars, then evaluates them as a
    JavaScript template string, so backslashes, backticks and `${` are escaped; `{{` would be Handlebars."""
    if "{{" in text:
        raise ValueError("the page's markup and CSS must not contain '{{' (Gradio templates are Handlebars)")
    return text.replace("\\", "\\\\").replace("`", "\\`").replace("${", "\\${")


def scoped_css(css: str) -> tuple[str, str]:
    """(component CSS, page-wide CSS) from app.css."""
    keyframes = "".join(m.group(0) for m in _KEYFRAMES.finditer(css))
    return _PAGE_SELECTOR.sub("&", _KEYFRAMES.sub("", css)), keyframes


def load_page(static: Path = STATIC) -> PageParts:
    index = (static / "index.html").read_text(encoding="utf-8")
    body = _BODY.search(index)
    if body is None:
        raise ValueError(f"{static / 'index.html'} has no <body>")
    markup, scripts = _SCRIPT.subn("", body.group(1))
    if scripts != 1:  # the page is one script, app.js, run below as js_on_load
        raise ValueError(f"{static / 'index.html'} should have exactly one <script> (app.js), found {scripts}")
    css, page_css = scoped_css((static / "app.css").read_text(encoding="utf-8"))
    js = (static / "app.js").read_text(encoding="utf-8") + f"\nelement.dataset.{READY} = '1';\n"
    icon = _ICON.search(index)
    return PageParts(markup.strip(), css, page_css, js, icon.group(0) if icon else "")


def theme() -> gr.themes.Base:
    # System fonts only: Gradio's default theme fonts would be fetched (local files or Google Fonts).
    return gr.themes.Default(primary_hue="blue", font=SYSTEM_FONTS, font_mono=MONO_FONTS).set(
        body_background_fill=BACKGROUND,
        body_background_fill_dark=BACKGROUND,  # the page has one (light) colour scheme
        color_accent=ACCENT,
    )


def build_blocks(parts: PageParts | None = None) -> tuple[gr.Blocks, PageParts]:
    """The Gradio app: the page as one custom HTML component. Returns the parts for the mount (CSS, head)."""
    parts = parts or load_page()
    with gr.Blocks(title=TITLE, analytics_enabled=False, fill_width=True) as blocks:
        gr.HTML(
            html_template=template_text(parts.html),
            css_template=template_text(parts.css),
            js_on_load=parts.js,
            apply_default_css=False,  # the page has its own styles; Gradio's prose styles would fight them
            elem_id="paperchat",
            elem_classes=[ROOT_CLASS],
            container=False,
            padding=False,
        )
    return blocks, parts


def mount(app: FastAPI, path: str = "/") -> FastAPI:
    """Mount the Gradio page on a FastAPI app at `path`."""
    blocks, parts = build_blocks()
    return gr.mount_gradio_app(
        app,
        blocks,
        path=path,
        theme=theme(),
        css=_UNRESET + _FRAME + parts.page_css,
        head=parts.head,
        footer_links=[],  # no Gradio footer: the page has its own (with the API docs link)
        show_error=False,  # the page reports errors itself; never show exception text from Gradio
    )
