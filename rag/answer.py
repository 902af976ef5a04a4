"""Answer stage: retrieved papers -> a grounded, cited `Answer`.

Order of decisions:
1. nothing relevant retrieved (best cosine below the calibrated threshold and no exact metadata
   match) -> an honest refusal with the closest papers as related reading;
2. catalog questions (who wrote / arXiv id / when / papers by an author / papers from a year) ->
   answered exactly from the catalog, in every mode;
3. an LLM endpoint configured -> streamed generation over numbered sources, then citation
   verification; any endpoint fault -> the extractive answer with a visible notice;
4. otherwise the extractive answer: the most relevant sentences of the top papers, each cited.
Titles, authors and ids shown to the user always come from the catalog, never from model text.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from rapidfuzz import fuzz

from rag.catalog import Catalog, mention_pattern, topic_words
from rag.models import Answer, Citation, Hit, Message, Paper, SearchResult
from rag.prompts import ANSWER_SYSTEM, ANSWER_USER, SOURCE_BLOCK
from rag.rewrite import bounded_history
from rag.settings import Settings
from rag.text import fold, searchable, sentences
from rag.tokens import count_tokens, truncate_tokens

EXTRACTIVE_NOTE = "Extractive answer (no LLM configured): the most relevant sentences quoted from the top papers."
TRUNCATED_NOTE = "(Some pages list only the first authors, 'et al.': papers where they come later may be missing.)"
REFUSAL_TEXT = "The corpus does not appear to answer this question"
STOPWORDS = set(
    "a an the of in on for to and or is are was were be by with what which who whom how when where why does do did "
    "that this these those it its from as at about any there their they paper papers work study studies".split()
)

INTENT_AUTHORS = re.compile(
    r"\b(who (wrote|authored|are the authors|were the authors)|authors? of|written by|author)\b", re.I
)
INTENT_ARXIV = re.compile(r"\b(arxiv|identifier|\bid\b)", re.I)
INTENT_DATE = re.compile(  # "when" only as a question about time, not "what happens when ..."
    r"(^|[,;]\s*|\band\s+)when (was|were|did|is|has)\b|\bwhat (year|date|month)\b|\bwhich (year|month)\b"
    r"|\b(published|publication date|dated?|released)\b",
    re.I,
)
INTENT_VENUE = re.compile(  # asks where one paper appeared; "which paper was accepted to X" is a search
    r"\b(which|what) (conference|venue|journal|workshop)\b"
    r"|\bwhere (was|is|were|did)\b.*\b(published|accepted|presented|appear)"
    r"|\b(accepted|published|presented) (at|to|in|by) (which|what)\b",
    re.I,
)
VENUE_COMMENT = re.compile(  # an arXiv comment that states a venue
    r"\b(accepted|to appear|published|presented|camera[- ]ready|proceedings)\b"
    r"|\b(NeurIPS|ICML|ICLR|AISTATS|CVPR|ICCV|ECCV|ACL|EMNLP|NAACL|AAAI|IJCAI|COLT|UAI|KDD|TMLR|JMLR)\b",
    re.I,
)
INTENT_LIST_NAMED = re.compile(  # asked only when the question names an author or affiliation
    r"\b(by|did|has|have)\b.*\b(write|wrote|co-?author(ed)?|publish(ed)?|papers?)\b"
    r"|\bpapers?\b.*\b(by|from|at|of)\b|\b(list|which|what)\b.*\bpapers?\b",
    re.I,
)
INTENT_MANY = re.compile(r"\b(papers|works|studies|articles|publications)\b", re.I)  # asks for every paper
INTENT_LIST_PAPERS = re.compile(r"\b(which|list|what)\b.*\bpapers?\b", re.I)


def _terms(text: str) -> set[str]:
    return {w[:6] for w in fold(text).split() if w not in STOPWORDS and len(w) > 2}


class Answerer:
    def __init__(
        self,
        settings: Settings,
        catalog: Catalog,
        llm: Any = None,
        embed: Callable[[list[str]], list[list[float]]] | None = None,
    ):
        self.settings = settings
        self.catalog = catalog
        self.llm = llm
        self.embed = embed

    # -- entry point ---------------------------------------------------------------------------
    def answer_stream(self, found: SearchResult, history: list[Message]) -> Iterator[str | Answer]:
        t0 = time.perf_counter()
        question = found.standalone_question or found.question
        mode = "llm" if self.llm is not None else "extractive"
        relevant = self.relevant_hits(found.hits, many=bool(INTENT_MANY.search(question)))
        # Before the relevance gate: "papers from 2019" is answered from the catalog even when no paper is close.
        catalog_answer = self.catalog_answer(found, relevant, mode)
        if catalog_answer is not None:
            yield catalog_answer.answer
            yield self._finish(catalog_answer, t0)
            return
        if not relevant:
            refusal = self.refusal(found, mode)
            yield refusal.answer
            yield self._finish(refusal, t0)
            return
        if self.llm is not None:
            final = None
            for part in self.llm_answer(found, relevant, history):
                if isinstance(part, Answer):
                    final = part
                else:
                    yield part
            assert final is not None
            yield self._finish(final, t0)
            return
        answer = self.extractive(found, relevant, question)
        yield answer.answer
        yield self._finish(answer, t0)

    def _finish(self, answer: Answer, t0: float) -> Answer:
        answer.timings_ms["answer"] = round((time.perf_counter() - t0) * 1000, 1)
        return answer

    # -- relevance and refusal -----------------------------------------------------------------
    def relevant_hits(self, hits: list[Hit], many: bool = False) -> list[Hit]:
        """Hits the evidence supports: an exact metadata match, a confident BM25 match (the query's rare
        words are mostly in this paper: exact phrases from comments, names, numbers), or dense similarity
        above the threshold.

        `many`: the question asks for every qualifying paper, so a wider margin below the best one is kept.
        """
        a = self.settings.answer
        lexical_floor = a.bm25_support * self.settings.retrieval.bm25_weight

        def exact(h: Hit) -> bool:
            return "metadata" in h.scores or (lexical_floor > 0 and h.scores.get("bm25", 0.0) >= lexical_floor)

        best = max((h.dense_score or 0.0 for h in hits), default=0.0)
        if best < a.refusal_threshold and not any(exact(h) for h in hits):
            return []
        # Keep papers close to the best one; a far tail only dilutes the answer and its citations.
        floor = max(a.refusal_threshold, best - (a.relevance_margin_many if many else a.relevance_margin))
        return [h for h in hits if exact(h) or (h.dense_score or 0.0) >= floor]

    def refusal(self, found: SearchResult, mode: str, note: str | None = None) -> Answer:
        closest = found.hits[:3]
        text = f"{REFUSAL_TEXT}: none of its papers addresses it closely enough to answer."
        if closest:
            text += " Closest papers, as related reading: " + "; ".join(h.title for h in closest) + "."
        return self._refused(found, text, mode, closest, note)

    def _refused(
        self, found: SearchResult, text: str, mode: str, related: list[Hit], note: str | None = None
    ) -> Answer:
        """An answer that declines, citing nothing and offering `related` papers to read instead."""
        return Answer(
            question=found.question,
            answer=text,
            refused=True,
            mode=mode,  # type: ignore[arg-type]
            citations=[],
            related=[Citation.of(i, h, h.snippet) for i, h in enumerate(related, 1)],
            warnings=[note] if note else [],
            standalone_question=found.standalone_question,
            timings_ms={},
        )

    # -- catalog facts -------------------------------------------------------------------------
    def catalog_answer(self, found: SearchResult, relevant: list[Hit], mode: str) -> Answer | None:
        """Exact answers to questions about metadata, from the catalog."""
        q = found.standalone_question or found.question
        asked = found.question
        named = self.catalog.names_in(q)
        if named and INTENT_LIST_NAMED.search(asked):
            match = named[0]
            role = "among the listed authors" if match.kind == "author" else "among the listed affiliations"
            truncated = match.kind == "author" and any(p.authors_truncated for p in self.catalog.papers)
            return self._listing(
                found,
                match.papers,
                f"The corpus holds {len(match.papers)} paper(s) with {match.name} {role}:",
                lambda p: f"{p.title} ({p.date_text or p.year or 'date unknown'})",
                mode,
                footer=TRUNCATED_NOTE if truncated else None,
            )
        venues = self.catalog.venues_in(asked)
        if venues and INTENT_LIST_PAPERS.search(asked) and not named:
            name, papers = venues[0]
            if not papers:
                text = f"No paper's arXiv comments in the corpus mention {name}; venues are recorded only there."
                return self._refused(found, text, mode, found.hits[:1])
            mentions = mention_pattern(name)
            return self._listing(
                found,
                papers,
                f"The arXiv comments of {len(papers)} paper(s) in the corpus mention {name}:",
                lambda p: f'{p.title}: "{"; ".join(c for c in p.comments if mentions.search(c))}"',
                mode,
            )
        periods = self.catalog.periods_in(asked)
        if periods and INTENT_LIST_PAPERS.search(asked) and not named and not topic_words(asked, periods):
            when = " or ".join(period.label for period in periods)
            papers = list({p.paper_id: p for period in periods for p in period.papers}.values())
            if not papers:
                dated = sum(1 for p in self.catalog.papers if p.date)
                text = f"No paper in the corpus is dated {when}; only {dated} of its {len(self.catalog)} carry a date."
                return self._refused(found, text, mode, found.hits[:1])
            return self._listing(
                found,
                papers,
                f"The corpus holds {len(papers)} paper(s) dated {when}:",
                lambda p: f"{p.title} ({p.date_text or p.date})",
                mode,
            )
        if not relevant:
            return None
        top = relevant[0]
        paper = self.catalog.get(top.paper_id)
        if paper is None:
            return None
        facts: list[str] = []
        missing: list[str] = []  # facts asked for that the catalog does not hold: said, never guessed
        if INTENT_AUTHORS.search(asked):
            if paper.authors:
                aff = f" ({', '.join(paper.affiliations)})" if paper.affiliations else ""
                facts.append(f'"{paper.title}" was written by {paper.authors_display}{aff} [1].')
            else:
                missing.append(f'The corpus does not list the authors of "{paper.title}".')
        if INTENT_ARXIV.search(asked):
            if paper.arxiv_id:
                facts.append(f'The arXiv id of "{paper.title}" is {paper.arxiv_id} ({paper.url}) [1].')
            else:
                missing.append(f'The corpus gives no arXiv id for "{paper.title}".')
        if INTENT_VENUE.search(asked):
            stated = [c for c in paper.comments if VENUE_COMMENT.search(c)]
            if stated:
                quoted = "; ".join(f'"{c}"' for c in stated)
                facts.append(f'The arXiv comments of "{paper.title}" say: {quoted} [1].')
            else:
                missing.append(f'The corpus does not record where "{paper.title}" was published or accepted.')
        if INTENT_DATE.search(asked) and not (facts or missing):
            if paper.date_text or paper.date:
                facts.append(f'"{paper.title}" is dated {paper.date_text or paper.date} [1].')
            else:
                missing.append(f'The corpus gives no date for "{paper.title}".')
        if facts:
            return self._cited(found, [top], " ".join(facts + missing), mode)
        if missing:  # a fact the catalog does not hold: said plainly, the paper it is about offered to read
            return self._refused(found, " ".join(missing), mode, [top])
        return None

    def _listing(
        self,
        found: SearchResult,
        papers: list[Paper],
        header: str,
        describe: Callable[[Paper], str],
        mode: str,
        footer: str | None = None,
    ) -> Answer:
        """A catalog listing: a header, one cited line per paper, and an optional closing remark."""
        lines = [header] + [f"- {describe(p)} [{i}]" for i, p in enumerate(papers, 1)]
        lines += [footer] if footer else []
        return self._cited(found, [Hit.of(p, i, 1.0) for i, p in enumerate(papers, 1)], "\n".join(lines), mode)

    def _cited(self, found: SearchResult, hits: list[Hit], text: str, mode: str) -> Answer:
        cites = [Citation.of(i, h, h.snippet) for i, h in enumerate(hits, 1)]
        return Answer(
            question=found.question,
            answer=text,
            refused=False,
            mode=mode,  # type: ignore[arg-type]
            citations=cites,
            standalone_question=found.standalone_question,
            timings_ms={},
        )

    # -- extractive ----------------------------------------------------------------------------
    def extractive(self, found: SearchResult, relevant: list[Hit], question: str, note: str | None = None) -> Answer:
        a = self.settings.answer
        candidates: list[tuple[int, str]] = []  # (hit index, sentence)
        for i, hit in enumerate(relevant):
            for s in sentences(hit.abstract):
                if 30 <= len(s) <= 600:
                    candidates.append((i, s))
        if not candidates:
            return self.refusal(found, "extractive", note)
        q_terms = _terms(question)
        lexical = np.array([len(q_terms & _terms(s)) / max(1, len(q_terms)) for _, s in candidates])
        if self.embed is not None:
            vecs = np.array(self.embed([question] + [searchable(s) for _, s in candidates]))
            semantic = vecs[1:] @ vecs[0]
        else:
            semantic = np.zeros(len(candidates))
        prior = np.array([1.0 / (1 + 0.15 * i) for i, _ in candidates])
        score = (semantic + 0.5 * lexical) * prior

        chosen: list[tuple[int, str]] = []
        per_paper: dict[int, int] = {}
        length = 0
        # First pass: the best sentence of each relevant paper (coverage for multi-paper questions);
        # second pass: further sentences by score.
        order = list(np.argsort(-score))
        for pass_no in (1, 2):
            for j in order:
                i, s = candidates[j]
                if len(chosen) >= a.max_sentences or length + len(s) > a.max_chars:
                    continue
                if (pass_no == 1 and per_paper.get(i)) or per_paper.get(i, 0) >= 2:
                    continue
                if any(fuzz.ratio(fold(s), fold(c)) > 85 for _, c in chosen):
                    continue  # the same sentence from two abstract versions
                chosen.append((i, s))
                per_paper[i] = per_paper.get(i, 0) + 1
                length += len(s)
        if not chosen:
            return self.refusal(found, "extractive", note)
        # Present by paper rank, then by position in the abstract; number papers by first appearance.
        chosen.sort(key=lambda c: (c[0], relevant[c[0]].abstract.find(c[1])))
        numbers: dict[int, int] = {}
        parts = []
        for i, s in chosen:
            n = numbers.setdefault(i, len(numbers) + 1)
            parts.append(f"{s} [{n}]")
        cites = []
        for i, n in numbers.items():
            snippet = " ".join(s for j, s in chosen if j == i)
            cites.append(Citation.of(n, relevant[i], snippet))
        lead = note or EXTRACTIVE_NOTE
        return Answer(
            question=found.question,
            answer=lead + "\n\n" + " ".join(parts),
            refused=False,
            mode="extractive",
            citations=cites,
            warnings=[note] if note else [],
            standalone_question=found.standalone_question,
            timings_ms={},
        )

    # -- LLM -----------------------------------------------------------------------------------
    def build_sources(self, hits: list[Hit]) -> list[tuple[Hit, str]]:
        """Numbered source blocks within the context token budget (best papers first)."""
        budget = self.settings.llm.context_tokens
        out: list[tuple[Hit, str]] = []
        used = 0
        for hit in hits:
            paper = self.catalog.get(hit.paper_id)
            text = hit.abstract if paper is None else paper.abstract
            block = SOURCE_BLOCK.format(
                n=len(out) + 1,
                title=hit.title,
                authors=", ".join(hit.authors) or "not listed",
                date=(paper.date_text or paper.date or "unknown") if paper else "unknown",
                arxiv_id=hit.arxiv_id or "none",
                text=text,
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

    def llm_answer(self, found: SearchResult, relevant: list[Hit], history: list[Message]) -> Iterator[str | Answer]:
        from rag.citations import verify_citations
        from rag.llm import LLMError

        t0 = time.perf_counter()
        sources = self.build_sources(relevant)
        messages = [{"role": "system", "content": ANSWER_SYSTEM}]
        for m in bounded_history(history, self.settings.llm.history_tokens):
            messages.append({"role": m.role, "content": m.content})
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
            answer = self.extractive(found, relevant, found.standalone_question or found.question, note=note)
            answer.timings_ms["llm"] = round((time.perf_counter() - t0) * 1000, 1)
            yield answer
            return
        llm_ms = round((time.perf_counter() - t0) * 1000, 1)
        verified = verify_citations(
            text, [searchable(f"{h.title}. {', '.join(h.authors)}. {h.abstract}") for h, _ in sources]
        )
        if verified.refused:
            answer = self.refusal(found, "llm")
        elif not verified.cited:
            note = "The model's answer cited none of the sources; showing the extractive answer instead."
            answer = self.extractive(found, relevant, found.standalone_question or found.question, note=note)
            answer.mode = "llm"
            answer.warnings += verified.warnings
        else:
            cites = []
            for n, original in enumerate(verified.cited, 1):
                hit = sources[original - 1][0]
                cites.append(Citation.of(n, hit, hit.snippet))
            answer = Answer(
                question=found.question,
                answer=verified.text.strip(),
                refused=False,
                mode="llm",
                citations=cites,
                warnings=verified.warnings,
                standalone_question=found.standalone_question,
                timings_ms={},
            )
        answer.timings_ms["llm"] = llm_ms
        yield answer
