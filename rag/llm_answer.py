"""The LLM answer: numbered sources within a token budget, streamed generation, then citation
verification. Any endpoint fault falls back to the extractive answer with a visible notice."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from rag.catalog import Catalog
from rag.coverage import detail_stated
from rag.extractive import Extractive
from rag.models import Answer, Hit, Message, SearchResult
from rag.prompts import ANSWER_SYSTEM, ANSWER_USER, SOURCE_BLOCK
from rag.responses import cited, not_relevant, uncovered_note
from rag.rewrite import bounded_history
from rag.settings import LLMSettings
from rag.text import searchable
from rag.tokens import count_tokens, truncate_tokens


class LLMAnswers:
    def __init__(self, settings: LLMSettings, catalog: Catalog, llm: Any, fallback: Extractive):
        self.settings = settings
        self.catalog = catalog
        self.llm = llm
        self.fallback = fallback

    def build_sources(self, hits: list[Hit]) -> list[tuple[Hit, str]]:
        """Numbered source blocks within the context token budget (best papers first)."""
        budget = self.settings.context_tokens
        out: list[tuple[Hit, str]] = []
        used = 0
        for hit in hits:
            paper = self.catalog.get(hit.paper_id)
            block = SOURCE_BLOCK.format(
                n=len(out) + 1,
                title=hit.title,
                authors=", ".join(hit.authors) or "not listed",
                date=(paper.date_text or paper.date or "unknown") if paper else "unknown",
                arxiv_id=hit.arxiv_id or "none",
                text=hit.abstract if paper is None else paper.abstract,
            )
            cost = count_tokens(block)
            if used + cost > budget:
                if out:
                    break
                block = truncate_tokens(block, budget)
                cost = budget
            out.append((hit, block))
            used += cost
        return out

    def stream(self, found: SearchResult, relevant: list[Hit], history: list[Message]) -> Iterator[str | Answer]:
        from rag.citations import verify_citations
        from rag.llm import LLMError

        t0 = time.perf_counter()
        sources = self.build_sources(relevant)
        messages = [{"role": "system", "content": ANSWER_SYSTEM}]
        messages += [
            {"role": m.role, "content": m.content} for m in bounded_history(history, self.settings.history_tokens)
        ]
        messages.append(
            {
                "role": "user",
                "content": ANSWER_USER.format(sources="\n\n".join(b for _, b in sources), question=found.question),
            }
        )
        text = ""
        try:
            for delta in self.llm.stream(messages):
                text += delta
                yield delta
        except LLMError as exc:
            note = f"The LLM endpoint failed ({exc}); showing the extractive answer instead."
            answer = self.fallback.answer(found, relevant, note=note)
            answer.timings_ms["llm"] = round((time.perf_counter() - t0) * 1000, 1)
            yield answer
            return
        llm_ms = round((time.perf_counter() - t0) * 1000, 1)
        verified = verify_citations(
            text, [searchable(f"{h.title}. {', '.join(h.authors)}. {h.abstract}") for h, _ in sources]
        )
        if verified.refused:
            answer = not_relevant(found, "llm")
        elif not verified.cited:
            note = "The model's answer cited none of the sources; showing the extractive answer instead."
            answer = self.fallback.answer(found, relevant, note=note)
            answer.mode = "llm"
            answer.warnings += verified.warnings
        else:
            hits = [sources[original - 1][0] for original in verified.cited]
            detail = found.analysis.detail if found.analysis else None
            missing = [detail] if detail and not detail_stated(detail, [verified.text], found.question) else []
            notes = [uncovered_note(found.uncovered)] if found.uncovered else []
            answer = cited(
                found, hits, verified.text.strip(), "llm", warnings=notes + verified.warnings, missing=missing
            )
        answer.timings_ms["llm"] = llm_ms
        yield answer
