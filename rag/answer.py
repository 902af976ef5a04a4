"""Answer stage: retrieved papers -> a grounded, cited `Answer`. The question was understood once
(`SearchResult.analysis`); this module only sends it to the piece that answers it:

1. small talk -> a short reply on what the assistant can do;
2. catalog questions (a paper's authors / id / date / venue; papers by an author, affiliation, venue or
   period, with or without a topic) -> `CatalogAnswers`, exact, in every mode; a fact asked of a paper the
   question only describes is answered for the best-matching relevant paper;
3. a title no paper has ("who wrote Attention Is All You Need?"), or a subject that hinges on words no paper
   contains ("football") -> an honest refusal naming them (`missing`);
4. nothing retrieved close enough (best cosine below the threshold, no exact match) -> refusal with related reading;
5. otherwise the LLM (`LLMAnswers`) when configured, else the extractive answer (`Extractive`); either says when
   a specific detail asked for is not in the abstracts.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from rag.catalog import Catalog
from rag.catalog_answers import CatalogAnswers
from rag.coverage import names
from rag.extractive import Extractive, SentenceVectors
from rag.models import Answer, Hit, Message, SearchResult
from rag.responses import not_relevant, quoted, refused, refused_closest
from rag.settings import Settings

CHITCHAT_REPLY = (
    "I answer questions about the {n} scientific papers in this corpus, with every claim cited to its paper. "
    'Ask about a topic ("which papers study length generalization?"), a paper ("who wrote TarFlow?"), '
    'or an author ("what did Omid Saremi co-author?").'
)


class Answerer:
    def __init__(
        self,
        settings: Settings,
        catalog: Catalog,
        llm: Any = None,
        embed: Callable[[list[str]], list[list[float]]] | None = None,
        sentence_vectors: SentenceVectors | None = None,
    ):
        self.settings = settings
        self.catalog = catalog
        self.mode = "llm" if llm is not None else "extractive"
        self.catalog_answers = CatalogAnswers(catalog)
        self.extractive = Extractive(settings.answer, embed, sentence_vectors)
        self.llm_answers = None
        if llm is not None:
            from rag.llm_answer import LLMAnswers

            self.llm_answers = LLMAnswers(settings.llm, catalog, llm, self.extractive)

    def answer_stream(self, found: SearchResult, history: list[Message]) -> Iterator[str | Answer]:
        t0 = time.perf_counter()
        for part in self._route(found, history):
            if isinstance(part, Answer):
                part.timings_ms["answer"] = round((time.perf_counter() - t0) * 1000, 1)
            yield part

    def _route(self, found: SearchResult, history: list[Message]) -> Iterator[str | Answer]:
        analysis = found.analysis
        intent = analysis.intent if analysis else "topical"
        # A name with a topic ("did Hattie Zhou write on diffusion?"): her papers all match the name exactly,
        # so only closeness to the topic says which are about it.
        conjunction = bool(analysis and analysis.conjunction)
        relevant = self.relevant_hits(found.hits, many=bool(analysis and analysis.many) and not conjunction,
                                      exact_counts=not conjunction, lay=found.lay)  # fmt: skip
        if intent == "chitchat":
            yield from _whole(refused(found, CHITCHAT_REPLY.format(n=len(self.catalog)), self.mode, []))
            return
        # Before the relevance gate: "papers from 2019" is answered from the catalog even when no paper is close.
        if (from_catalog := self.catalog_answers.answer(found, relevant, self.mode)) is not None:
            yield from _whole(from_catalog)
            return
        if (
            intent == "topical"
            and analysis
            and analysis.topic
            and analysis.periods
            and not any(p.paper_count for p in analysis.periods)
        ):  # "Which papers from 2031 study diffusion?": the period (a filter, `scope`) left no paper to search
            yield from _whole(self.catalog_answers.none_dated(found, analysis.periods, self.mode))
            return
        if analysis and analysis.unknown_title:  # "Who wrote Attention Is All You Need?" of a corpus without it
            yield from _whole(self.catalog_answers.unknown_title(found, analysis.unknown_title, self.mode))
            return
        best = max((h.dense_score or 0.0 for h in found.hits), default=0.0)
        # Words no paper uses: the corpus does not cover the question when nothing scores close, or whatever scores
        # close when one of them names something ("COBOL", "Yoshua Bengio": papers on other things do not answer).
        named = names(found.unmatched, found.question, self.catalog.one_edit_from, self.catalog.shortens)
        # Everyday words no paper uses ("stuff", "picture") in a question whose meaning they hardly change, and a paper
        # close enough to answer: not the subject, so not absent.
        a = self.settings.answer
        peripheral = found.unmatched_cosine >= a.absent_peripheral and best >= a.refusal_threshold
        absent = found.unmatched and (bool(named) or (best < a.absent_threshold and not peripheral))
        # No match on the question's other words covers a name no paper writes ("ALiBi compared with RoPE
        # scaling": the RoPE papers match, ALiBi is in none of them).
        covered = not named and any(_exact(h, self.settings) for h in relevant)
        if absent and not covered:
            yield from _whole(self.absent(found))
            return
        if not relevant:
            yield from _whole(not_relevant(found, self.mode))
            return
        if analysis and analysis.facts and not analysis.many:
            # "the arXiv id of the paper giving a theoretical framework for X": the catalog's facts of the best match
            yield from _whole(self.catalog_answers.facts(found, self.catalog.by_id[relevant[0].paper_id], self.mode))
            return
        if self.llm_answers is not None:
            yield from self.llm_answers.stream(found, relevant, history)
        else:
            yield from self.extractive.stream(found, relevant)

    def absent(self, found: SearchResult) -> Answer:
        """The question's subject hinges on words no paper contains: say which, offer the closest papers."""
        words = found.unmatched
        text = f"No paper in the corpus mentions {quoted(words)}, so it cannot answer this."
        return refused_closest(found, text, self.mode, missing=list(words))

    def relevant_hits(
        self, hits: list[Hit], many: bool = False, exact_counts: bool = True, lay: bool = False
    ) -> list[Hit]:
        """Hits the evidence supports: an exact metadata match, a confident BM25 match (the query's rare
        words are mostly in this paper: exact phrases from comments, names, numbers), or dense similarity
        above the threshold.

        `many`: the question asks for every qualifying paper, so a wider margin below the best one is kept.
        `lay`: a question in everyday words, ranked by whole abstracts: the best chunk's cosine says less, so the
        papers the ranking scores within `lay_score_margin` of the first one are kept, the first one itself when an
        example question about it is as close as `lay_example_cosine`, and, once anything is kept, the first one
        (`lay_cite_first`).
        """
        a = self.settings.answer

        def exact(h: Hit) -> bool:
            return exact_counts and _exact(h, self.settings)

        # A lay question's first paper that a question people ask about it matches closely is relevant whatever its
        # chunks' cosines say (everyday words stay far from an abstract's sentences, not from questions on it).
        asked_before = lay and bool(hits) and self.example_cosine(hits[0]) >= a.lay_example_cosine
        best = max((h.dense_score or 0.0 for h in hits), default=0.0)
        if best < a.refusal_threshold and not any(exact(h) for h in hits) and not asked_before:
            return []
        # Keep papers close to the best one; a far tail only dilutes the answer and its citations.
        floor = max(a.refusal_threshold, best - (a.relevance_margin_many if many else a.relevance_margin))
        kept = [h for h in hits if exact(h) or (h.dense_score or 0.0) >= floor]
        if asked_before and hits[0] not in kept:
            kept.insert(0, hits[0])
        if not kept:
            return []
        # The margin is on the best chunk's cosine, the ranking on every channel: a paper the fused ranking puts
        # first (its whole abstract is on topic, one chunk less so) is cited too, when it clears the threshold.
        top = {h.paper_id for h in hits[: a.cite_top] if (h.dense_score or 0.0) >= a.refusal_threshold}
        if lay:  # the ranking's own confidence: papers it scores nearly as high as the first
            first = max(h.score for h in hits)
            top |= {h.paper_id for h in hits if h.score >= first * (1.0 - a.lay_score_margin)
                    and (h.dense_score or 0.0) >= a.refusal_threshold}  # fmt: skip
        top |= {h.paper_id for h in kept}
        if lay and a.lay_cite_first:  # the question is answered: the ranking's best guess at what it is about too
            top.add(hits[0].paper_id)
        return [h for h in hits if h.paper_id in top]

    def example_cosine(self, hit: Hit) -> float:
        """The cosine of the hit's closest example question, read back from its "examples" score (weight x (cosine -
        floor), rag/retrieve.py); 0 without one."""
        r = self.settings.retrieval
        score = hit.scores.get("examples")
        return r.examples_floor + score / r.examples_weight if score and r.examples_weight > 0 else 0.0


def _exact(h: Hit, settings: Settings) -> bool:
    lexical_floor = settings.answer.bm25_support * settings.retrieval.bm25_weight
    return "metadata" in h.scores or (lexical_floor > 0 and h.scores.get("bm25", 0.0) >= lexical_floor)


def _whole(answer: Answer) -> Iterator[str | Answer]:
    """An answer known at once, streamed as one piece."""
    yield answer.answer
    yield answer
