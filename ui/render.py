"""Turning answers and papers into text the browser shows, with every piece of corpus text made inert.

Abstracts, titles and answers (which quote abstracts) are untrusted: a page may hold `<script>`,
`<img onerror=...>` or Markdown such as `[x](javascript:...)`. Everything from the corpus goes
through `md_escape` (for Markdown components) or `html.escape` (for HTML components) here, so the
Gradio layer never sees raw corpus text.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable
from urllib.parse import quote

from rag.models import Answer, Citation, Paper

MAX_AUTHORS_SHOWN = 6
SNIPPET_CHARS = 320

# ASCII punctuation Markdown (and GFM, and Gradio's LaTeX) gives meaning to. `<`, `>` and `&` are
# HTML-escaped first instead; a backslash before any ASCII punctuation is a valid CommonMark escape.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$^=:\"'])")


def md_escape(text: str) -> str:
    """Text that renders literally in a Markdown component: no HTML, links, emphasis or math."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def esc(text: object) -> str:
    """HTML-escape for an HTML component; `$` too, so no template or math syntax survives."""
    return html.escape(str(text), quote=True).replace("$", "&#36;")


def arxiv_url(arxiv_id: str) -> str:
    # Built here rather than trusted from the data: quote() keeps the id inside the path.
    return "https://arxiv.org/abs/" + quote(arxiv_id, safe="./")


def authors_line(authors: list[str], truncated: bool) -> str:
    shown = authors[:MAX_AUTHORS_SHOWN]
    more = truncated or len(authors) > len(shown)
    return ", ".join(shown) + (" et al." if more and shown else "")


def shorten(text: str, limit: int = SNIPPET_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def mode_badge(llm_model: str | None) -> str:
    """The line saying whether answers come from an LLM (HTML)."""
    if llm_model:
        return f'<div class="pc-badge pc-llm" id="pc-mode">LLM: {esc(llm_model)}</div>'
    return '<div class="pc-badge pc-extractive" id="pc-mode">extractive answer — no LLM configured</div>'


def answer_markdown(answer: Answer) -> str:
    """The chat message for a final answer (Markdown, corpus text escaped)."""
    return md_escape(answer.answer)


def status_html(answer: Answer) -> str:
    """Mode of this answer, its warnings, and timing (HTML)."""
    mode = "LLM answer" if answer.mode == "llm" else "extractive answer"
    total = answer.timings_ms.get("total")
    parts = [f'<span class="pc-status-mode">{esc(mode)}</span>']
    if answer.refused:
        parts.append('<span class="pc-status-refused">not answered by the corpus</span>')
    if total is not None:
        parts.append(f"<span>{total / 1000:.1f} s</span>")
    out = " · ".join(parts)
    for w in answer.warnings:
        out += f'<div class="pc-warning">⚠ {esc(w)}</div>'
    return f'<div class="pc-status">{out}</div>'


def _paper_item(c: Citation, paper: Paper | None, *, numbered: bool) -> str:
    title = esc(c.title)
    if c.title_derived:
        title += ' <span class="pc-derived">(title derived from the abstract)</span>'
    meta = []
    if c.authors:
        meta.append(f'<span class="pc-authors">{esc(authors_line(c.authors, c.authors_truncated))}</span>')
    date = paper and (paper.date_text or paper.date)
    if date:
        meta.append(f'<span class="pc-date">{esc(date)}</span>')
    if c.arxiv_id:
        url = esc(arxiv_url(c.arxiv_id))
        meta.append(
            f'<a class="pc-arxiv" href="{url}" target="_blank" rel="noopener noreferrer">arXiv:{esc(c.arxiv_id)}</a>'
        )
    snippet = shorten(c.snippet or c.abstract)
    label = f'<span class="pc-n">[{c.n}]</span> ' if numbered else ""
    return (
        f'<li class="pc-source" id="pc-source-{c.n}">'
        f'<div class="pc-title">{label}{title}</div>'
        + (f'<div class="pc-meta">{" · ".join(meta)}</div>' if meta else "")
        + f'<div class="pc-snippet">{esc(snippet)}</div>'
        f'<details class="pc-abstract"><summary>abstract</summary><p>{esc(c.abstract)}</p></details>'
        "</li>"
    )


def sources_html(answer: Answer | None, lookup: Callable[[str], Paper | None] = lambda _: None) -> str:
    """The Sources panel: cited papers numbered like the answer's [n], or related reading on a refusal."""
    if answer is None:
        return '<div class="pc-sources pc-empty">Sources of the answer appear here.</div>'
    out = ['<div class="pc-sources">']
    if answer.citations:
        out.append("<h3>Sources</h3>")
        out.append(_items(answer.citations, lookup, numbered=True))
    elif not answer.refused:
        out.append('<p class="pc-empty">No sources were cited.</p>')
    if answer.refused:
        out.append("<h3>Related reading</h3>")
        if answer.related:
            out.append('<p class="pc-note">The corpus does not answer this; these papers are the closest.</p>')
            out.append(_items(answer.related, lookup, numbered=False))
        else:
            out.append('<p class="pc-empty">No related papers found.</p>')
    out.append("</div>")
    return "".join(out)


def _items(cites: Iterable[Citation], lookup: Callable[[str], Paper | None], *, numbered: bool) -> str:
    items = "".join(_paper_item(c, lookup(c.paper_id), numbered=numbered) for c in cites)
    return f'<ol class="pc-list">{items}</ol>'


CSS = """
.pc-badge { display: inline-block; padding: 2px 10px; border-radius: 999px; font-size: 0.85em; font-weight: 600; }
.pc-extractive { background: #fff4d6; color: #7a5200; border: 1px solid #f0d48a; }
.pc-llm { background: #e3f3e6; color: #1d5e2c; border: 1px solid #9fd3aa; }
.pc-status { font-size: 0.85em; opacity: 0.85; }
.pc-warning { color: #9a3b00; margin-top: 2px; }
.pc-sources h3 { margin: 4px 0 6px 0; font-size: 1.05em; }
.pc-list { list-style: none; padding-left: 0; margin: 0; }
.pc-source { margin: 0 0 12px 0; padding: 8px 10px; border: 1px solid var(--border-color-primary);
  border-radius: 8px; }
.pc-title { font-weight: 600; }
.pc-n { color: var(--color-accent); }
.pc-derived, .pc-note, .pc-empty { font-weight: 400; font-style: italic; opacity: 0.75; }
.pc-meta { font-size: 0.85em; opacity: 0.85; margin-top: 2px; }
.pc-snippet { font-size: 0.9em; margin-top: 4px; }
.pc-abstract summary { cursor: pointer; font-size: 0.8em; opacity: 0.7; }
.pc-abstract p { font-size: 0.85em; }
"""
