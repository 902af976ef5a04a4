"""Follow-up questions -> standalone search queries.

"who wrote it?" after an answer about one paper must retrieve that paper. With an LLM, the
conversation is condensed by the model (prompt in rag.prompts); without one, or when it fails,
a deterministic rewrite carries over the papers named in the previous turns and, failing that,
the previous question. Papers named in the chat are also returned as `pinned`, a retrieval signal.
"""

from __future__ import annotations

import re
from typing import Any

from rag.catalog import Catalog
from rag.models import Message
from rag.prompts import CONDENSE_SYSTEM, CONDENSE_USER
from rag.settings import Settings
from rag.text import fold
from rag.tokens import count_tokens

ANAPHORA = re.compile(
    r"^(so|and|but|also|then|what about|how about|ok|okay)\b"
    r"|\b(it|its|it's|they|them|their|theirs|this|that|these|those|he|she|his|her|both|either)\b"
    r"|\bthe (paper|papers|authors?|work|study|method|model|approach|results?|first|second|third|last|former|"
    r"latter|same|effect|components?|two|three|gains?|technique|framework|algorithm|dataset|benchmark|"
    r"experiments?|findings?|idea|proposal|system|tool)\b",
    re.I,
)
ARXIV_IN_TEXT = re.compile(r"\b(\d{4}\.\d{4,5})\b")
FOLLOWUP_MAX_WORDS = 6


def is_followup(question: str) -> bool:
    return bool(ANAPHORA.search(question)) or len(question.split()) <= FOLLOWUP_MAX_WORDS


def papers_named(text: str, catalog: Catalog) -> list[str]:
    """Paper ids whose title or arXiv id appears in `text`, in order of appearance."""
    folded = fold(text)
    found: list[tuple[int, str]] = []
    for title, p in catalog.folded_titles:
        # Derived titles are the abstract's first words: only a long quote of them identifies a paper.
        pos = folded.find(title) if len(title) >= (40 if p.title_derived else 12) else -1
        if pos < 0 and p.arxiv_id:
            pos = text.find(p.arxiv_id)
        if pos >= 0:
            found.append((pos, p.paper_id))
    return [pid for _, pid in sorted(found)]


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
    question: str, history: list[Message], catalog: Catalog, llm: Any, settings: Settings
) -> tuple[str, list[str]]:
    """(standalone query, pinned paper ids) for `question` asked after `history`."""
    if not history or not is_followup(question):
        return question, []
    pinned: list[str] = []
    for msg in reversed(history):  # most recent turn first
        for pid in papers_named(msg.content, catalog):
            if pid not in pinned:
                pinned.append(pid)
        if pinned:
            break
    if llm is not None:
        from rag.llm import LLMError

        turns = bounded_history(history, settings.llm.history_tokens)
        convo = "\n".join(f"{m.role}: {m.content}" for m in turns)
        try:
            text = llm.complete(
                [
                    {"role": "system", "content": CONDENSE_SYSTEM},
                    {"role": "user", "content": CONDENSE_USER.format(history=convo, question=question)},
                ]
            ).strip()
            if text:
                return text[: settings.answer.max_question_chars], pinned[:3]
        except LLMError:
            pass  # fall through to the deterministic rewrite
    if pinned:
        titles = " ; ".join(catalog.by_id[pid].title for pid in pinned[:2])
        return f"{question} ({titles})", pinned[:3]
    previous = next((m.content for m in reversed(history) if m.role == "user"), "")
    return f"{question} ({previous})" if previous else question, []
