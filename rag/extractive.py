"""The extractive answer (the offline default): the most relevant sentences of the relevant papers, each
followed by its [n], streamed sentence by sentence. Sentences are scored by meaning (cosine to the question)
and wording (shared terms), favouring better-ranked papers; near-duplicates from two versions of one
abstract are dropped; a length budget bounds the answer."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
from rapidfuzz import fuzz

from rag.coverage import detail_stated
from rag.models import Answer, Hit, SearchResult
from rag.responses import EXTRACTIVE_NOTE, cited, not_relevant, uncovered_note
from rag.settings import AnswerSettings
from rag.text import fold, searchable, sentences

STOPWORDS = set(
    "a an the of in on for to and or is are was were be by with what which who whom how when where why does do did "
    "that this these those it its from as at about any there their they paper papers work study studies".split()
)
MIN_SENTENCE, MAX_SENTENCE = 30, 600  # characters: shorter is a fragment, longer a run-on parse

# paper ids -> {paper id: (its candidate sentences, their unit vectors)}: stored at ingest, or embedded now.
SentenceVectors = Callable[[list[str]], dict[str, tuple[list[str], np.ndarray]]]


def candidate_sentences(abstract: str) -> list[str]:
    return [s for s in sentences(abstract) if MIN_SENTENCE <= len(s) <= MAX_SENTENCE]


def _terms(text: str) -> set[str]:
    return {w[:6] for w in fold(text).split() if w not in STOPWORDS and len(w) > 2}


class Extractive:
    def __init__(
        self,
        settings: AnswerSettings,
        embed: Callable[[list[str]], list[list[float]]] | None = None,
        sentence_vectors: SentenceVectors | None = None,
    ):
        self.settings = settings
        self.embed = embed
        self.sentence_vectors = sentence_vectors

    def stream(self, found: SearchResult, relevant: list[Hit], note: str | None = None) -> Iterator[str | Answer]:
        """The lead line, then each chosen sentence with its marker as it is placed, then the `Answer`."""
        question = found.standalone_question or found.question
        detail = found.analysis.detail if found.analysis else None
        chosen = self.choose(question, relevant, found.query_vector, detail)
        if not chosen:
            refusal = not_relevant(found, "extractive", note)
            yield refusal.answer
            yield refusal
            return
        # Present by paper rank, then by position in the abstract; number papers by first appearance.
        chosen.sort(key=lambda c: (c[0], relevant[c[0]].abstract.find(c[1])))
        numbers: dict[int, int] = {}
        analysis = found.analysis
        missing: list[str] = []
        lead = note or EXTRACTIVE_NOTE
        if analysis and analysis.exclude:
            lead += " Left out as asked: papers about " + " or ".join(f'"{x}"' for x in analysis.exclude) + "."
        if found.uncovered:
            lead += "\n\n" + uncovered_note(found.uncovered)
        quoted = [s for _, s in chosen]
        if analysis and analysis.detail and not detail_stated(analysis.detail, quoted, analysis.question):
            missing = [analysis.detail]
            lead += f"\n\nThe abstracts do not state the {analysis.detail}. What they do say:"
        yield lead + "\n\n"
        parts = []
        for k, (i, s) in enumerate(chosen):
            n = numbers.setdefault(i, len(numbers) + 1)
            parts.append(f"{s} [{n}]")
            yield parts[-1] + (" " if k + 1 < len(chosen) else "")
        hits = list(numbers)
        snippets = [" ".join(s for j, s in chosen if j == i) for i in hits]
        yield cited(
            found, [relevant[i] for i in hits], lead + "\n\n" + " ".join(parts), "extractive",
            snippets=snippets, warnings=[note] if note else [], missing=missing,
        )  # fmt: skip

    def answer(self, found: SearchResult, relevant: list[Hit], note: str | None = None) -> Answer:
        final = [p for p in self.stream(found, relevant, note) if isinstance(p, Answer)]
        return final[-1]

    def choose(
        self, question: str, relevant: list[Hit], query_vector: list[float] | None, detail: str | None = None
    ) -> list[tuple[int, str]]:
        """(hit index, sentence) pairs: the best sentence of each relevant paper, then more by score. A specific
        detail asked ("the datasets", "number of bits"): the best paper's best sentence stating one comes first,
        wherever it is in its abstract, so the answer gives it rather than saying it is missing."""
        a = self.settings
        candidates, vectors = self._candidates(relevant)
        if not candidates:
            return []
        q_terms = _terms(question)
        lexical = np.array([len(q_terms & _terms(s)) / max(1, len(q_terms)) for _, s in candidates])
        if vectors is not None and query_vector is not None:
            semantic = vectors @ np.asarray(query_vector, dtype=np.float32)
        elif self.embed is not None:
            vecs = np.array(self.embed([question] + [searchable(s) for _, s in candidates]))
            semantic = vecs[1:] @ vecs[0]
        else:
            semantic = np.zeros(len(candidates))
        prior = np.array([1.0 / (1 + 0.15 * i) for i, _ in candidates])
        score = (semantic + 0.5 * lexical) * prior

        chosen: list[tuple[int, str]] = []
        per_paper: dict[int, int] = {}
        length = 0
        order = list(np.argsort(-score))
        if detail:  # of the best paper only: a detail is asked of one work, and another's number is no answer
            stating = next((j for j in order if candidates[j][0] == 0 and detail_stated(detail, [candidates[j][1]],
                                                                                        question)), None)  # fmt: skip
            order = order if stating is None else [stating] + [j for j in order if j != stating]
        # First pass: the best sentence of each relevant paper (coverage for multi-paper questions);
        # second pass: further sentences by score.
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
        return chosen

    def _candidates(self, relevant: list[Hit]) -> tuple[list[tuple[int, str]], np.ndarray | None]:
        """Candidate sentences of the relevant papers, with their stored vectors when the index has them."""
        stored = self.sentence_vectors([h.paper_id for h in relevant]) if self.sentence_vectors else {}
        candidates: list[tuple[int, str]] = []
        rows: list[np.ndarray] = []
        for i, hit in enumerate(relevant):
            if hit.paper_id in stored:
                texts, matrix = stored[hit.paper_id]
                candidates += [(i, s) for s in texts]
                rows.append(np.asarray(matrix, dtype=np.float32))
            else:
                texts = candidate_sentences(hit.abstract)
                candidates += [(i, s) for s in texts]
                rows.append(np.empty((0, 0)) if texts else np.zeros((0, 0)))
        complete = all(h.paper_id in stored for h in relevant)
        vectors = np.vstack([r for r in rows if r.size]) if complete and any(r.size for r in rows) else None
        return candidates, vectors
