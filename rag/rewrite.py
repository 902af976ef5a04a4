"""Follow-up questions -> standalone search queries.

"who wrote it?" after an answer about one paper must retrieve that paper. With an LLM, the
conversation is condensed by the model (prompt in rag.prompts); without one, or when it fails,
a deterministic rewrite carries over the papers named in the previous turns and, failing that,
the previous question. Whether a question is a follow-up at all is decided in rag.understand.
"""

from __future__ import annotations

from typing import Any

from rag.catalog import Catalog
from rag.models import Message
from rag.prompts import CONDENSE_SYSTEM, CONDENSE_USER
from rag.tokens import count_tokens


def papers_named(text: str, catalog: Catalog) -> list[str]:
    """Paper ids whose title or arXiv id appears in `text`, in order of appearance (an indexed lookup)."""
    return catalog.papers_named(text)


def bounded_history(history: list[Message], budget_tokens: int) -> list[Message]:
    """The most recent turns that fit the token budget, oldest first."""
    kept: list[Message] = []
    used = 0
    for msg in reversed(history):
        cost = count_tokens(msg.content) + 4
        if used + cost > budget_tokens:
            break
        kept.append(msg)
        used += cost
    return list(reversed(kept))


def condense(
    question: str,
    history: list[Message],
    pinned: list[str],
    catalog: Catalog,
    llm: Any,
    *,
    max_chars: int,
    history_tokens: int,
) -> str:
    """The standalone search query for a follow-up `question` (the caller decided it is one)."""
    if llm is not None:
        from rag.llm import LLMError

        turns = bounded_history(history, history_tokens)
        convo = "\n".join(f"{m.role}: {m.content}" for m in turns)
        try:
            text = llm.complete(
                [
                    {"role": "system", "content": CONDENSE_SYSTEM},
                    {"role": "user", "content": CONDENSE_USER.format(history=convo, question=question)},
                ]
            ).strip()
            if text:
                return text[:max_chars]
        except LLMError:
            pass  # fall through to the deterministic rewrite
    if pinned:
        return f"{question} ({' ; '.join(catalog.by_id[pid].title for pid in pinned[:2])})"[:max_chars]
    previous = next((m.content for m in reversed(history) if m.role == "user"), "")
    return f"{question} ({previous})"[:max_chars] if previous else question
