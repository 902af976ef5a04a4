"""Retrieve stage: question -> ranked papers with their best evidence chunks.

Three channels, fused per paper:
- dense: MiniLM chunk vectors in Chroma, aggregated to papers by their best chunk;
- BM25 (bm25s + Snowball stemmer) over paper-level text including title, authors, ids and comments,
  weighted by its confidence for this query (idf-weighted share of the query terms the top paper
  contains): keyword search is trusted for names, ids and exact terms, not for lay paraphrases;
- metadata: exact mentions of an author, an arXiv id, a title, or a paper named earlier in the chat.

bm25s is used directly rather than llama-index's BM25Retriever because fusion needs paper-level
documents, the whole score vector for the confidence measure and a filter mask.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import numpy as np
from pydantic import BaseModel, Field

from rag.areas import areas_missing
from rag.catalog import Catalog
from rag.coverage import PAPER_NOUNS, can_be_noun, english_words, in_dictionary
from rag.examples import ExampleQuestions, examples_for
from rag.index import Index, IndexStateError, chunks_in_dense_only
from rag.keywords import KeywordIndex, Tokenizer, paper_search_text
from rag.models import CONFIDENT, EXACT_MATCH, Entity, Evidence, Hit, Paper, QueryAnalysis, SearchResult
from rag.settings import Settings
from rag.vectors import DENSE_FOLDER, Ranked, VectorCache, top_indices

ARXIV_IN_TEXT = re.compile(r"\b(\d{4}\.\d{4,5})(?:v\d+)?\b")


class Filters(BaseModel):
    """Hard filters on search results (CLI --author/--year/--category/--source, API `filters`)."""

    authors: list[str] = Field(default_factory=list, description="Papers with any of these authors (substring).")
    year_from: int | None = None
    year_to: int | None = None
    category: str | None = Field(None, description="Category as printed on the page, e.g. LG, CL.")
    source: str | None = Field(None, description="Page format the paper was read from, e.g. profile.")
    dates: list[str] = Field(
        default_factory=list, description="Papers dated in any of these periods: YYYY or YYYY-MM prefixes."
    )
    paper_ids: list[str] = Field(
        default_factory=list, description="Only these papers (the UI's 'Ask about this paper')."
    )

    def active(self) -> bool:
        return bool(
            self.authors or self.year_from or self.year_to or self.category or self.source or self.dates
            or self.paper_ids
        )  # fmt: skip

    def allows(self, p: Paper) -> bool:
        if self.paper_ids and p.paper_id not in self.paper_ids:
            return False
        if self.dates and not (p.date and any(p.date.startswith(d) for d in self.dates)):
            return False
        if self.authors and not any(a.lower() in " | ".join(p.authors).lower() for a in self.authors):
            return False
        if self.year_from and (p.year is None or p.year < self.year_from):
            return False
        if self.year_to and (p.year is None or p.year > self.year_to):
            return False
        if self.category and (p.category or "").lower() != self.category.lower():
            return False
        return not (self.source and self.source not in p.sources)


class Allowed:
    """The papers a filter allows, as catalog positions. A year of a million papers is ~100k of them: the ids of
    all are looked up only by the paths that need a set (Chroma's search, the paper-only baseline); fusion checks
    its few hundred candidates by position."""

    def __init__(self, catalog: Catalog, ords: np.ndarray):
        self.catalog, self.ords = catalog, ords
        self.mask = np.zeros(len(catalog), dtype=bool)
        self.mask[ords] = True
        self._ids: list[str] | None = None

    def ids(self) -> list[str]:
        if self._ids is None:
            self._ids = self.catalog.ids_at(self.ords.tolist())
        return self._ids

    def among(self, paper_ids: Iterable[str]) -> list[str]:
        """These papers, the allowed ones only, in the order given."""
        wanted = list(paper_ids)
        at = self.catalog.positions(wanted)
        return [pid for pid in wanted if pid in at and self.mask[at[pid]]]


# Words that say what kind of question it is, not what it is about: they only dilute keyword search
# ("what is the arXiv id of the TarFlow paper?" is about "TarFlow"). Ids and names go to the metadata channel.
QUESTION_WORDS = ("paper", "papers", "arxiv", "id", "identifier")


class SentenceScores:
    """Best-sentence cosine per paper over every stored abstract sentence: one matrix product and one
    segmented max (the rows are stored paper by paper), so no per-paper Python loop."""

    def __init__(self, stored: dict[str, tuple[list[str], np.ndarray]]):
        items = [(pid, vecs) for pid, (_, vecs) in stored.items() if len(vecs)]
        self.index = {pid: i for i, (pid, _) in enumerate(items)}
        self.matrix = np.concatenate([v for _, v in items]).astype(np.float32) if items else np.zeros((0, 1))
        lengths = np.array([len(v) for _, v in items], dtype=np.int64)
        self.starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if items else np.zeros(0, dtype=np.int64)

    def best(self, vector: np.ndarray) -> np.ndarray:
        """The best sentence cosine of each paper, in `index` order."""
        if not self.index:
            return np.zeros(0, dtype=np.float32)
        return np.maximum.reduceat(self.matrix @ vector, self.starts)


# Entities whose papers, in a topical question, rank but do not answer it (see `Retriever.metadata`).
NAMES_ONLY_RANK = ("author", "affiliation", "venue")
# "LLMs", "RL", "RLHF", "GNNs": an acronym, and the small words its long form may skip ("learning from human").
ACRONYM = re.compile(r"([A-Z][A-Za-z]*[A-Z])s?")
# A hyphenated name, capitalised at both ends ("U-Net", "ACT-R", "Mixture-of-Experts"; not "mostly-English" or
# "Self-attention"), or versioned in either case ("Phi-3-mini", "GPT-4", "llama-3.1-8b"): keyword search sees its
# parts, which papers may use apart. So it does those of a dotted package name (`DOTTED_NAME`: "llama.cpp").
COMPOUND_NAME = re.compile(r"\b[A-Za-z][A-Za-z0-9.]*(?:-[A-Za-z0-9.]+)+\b")
# Lower-case words that take a number ("top-5", "layer-12", "round-3"): a count, not a name's version.
COUNTED = set(
    "top layer layers step steps stage phase level round day week year class type epoch shot bit bits fold gram hop "
    "order rank pass block head".split()
)
DOTTED_NAME = re.compile(r"\b[a-z][a-z0-9]+\.(?!(?:com|org|net|edu|gov|io)\b)[a-z][a-z0-9]+\b")
# A name and its release number, spaced: "SQuAD 2.0", "llama 3.3", "yolo v5" (not "top 5" or "phase 2").
RELEASED = re.compile(r"\b((?:[A-Z][\w'-]*\s+)*)([A-Za-z][\w'-]*)\s+v?(\d+(?:\.\d+)+|(?<=v)\d+)\b")
COMPOUND_SCAN_MAX = 500  # papers holding its rarest part, read to look for the compound; more: taken as used
COMPOUND_MAX_CHARS = 40
COMMON_IDF = 1.5  # BM25 idf of a word in about a fifth of the papers or more
SPELT_OUT_DEPTH = 10  # the best papers read for an absent acronym written out
ACRONYM_FILLERS = {"of", "for", "from", "the", "with", "and", "to", "in", "on", "a", "an"}


def compound_names(text: str) -> list[str]:
    """The text's hyphenated names (`COMPOUND_NAME`), each once: capitalised at both ends, or versioned (a word of
    two letters or more, then a part with digits; not "n-1", "3-d" or "top-5"), and its dotted names."""
    names = [n.rstrip(".") for n in COMPOUND_NAME.findall(text)]
    # "T5-based": the name is "T5", hyphenated still in "Llama-3-based" (not "Score-Based", title case)
    names = [n[: m.start()] if (m := MODIFIER.search(n)) and m.group(0).islower() else n for n in names]
    names = [n for n in names if "-" in n]
    kept = (
        n for n in names
        if (n[:1].isupper() and n.split("-")[-1][:1].isupper())
        or (any(c.isdigit() for c in n) and (n[:1].isupper() or (
            (m := re.match(r"[a-z]{2,}[a-z0-9.]*(?=-)", n)) is not None and m.group(0) not in COUNTED)))
    )  # fmt: skip
    return list(dict.fromkeys([*kept, *DOTTED_NAME.findall(text)]))


def name_phrases(text: str) -> list[str]:
    """The text's multi-word names: runs of two or more capitalised words ("Llama Guard", "EU AI Act", "BIG-bench
    Hard"), not one starting the text or a sentence, with a word capitalised as names are ("Guard"; "PLoP LoRA" is two
    names side by side). Quoted spans are titles, and a run ends at punctuation and at a possessive ("Microsoft's
    Phi-3")."""
    text = re.sub(r"[\"“‘][^\"”’]*[\"”’]|(?<!\w)'[^']*'(?!\w)", " | ", text)
    found = []
    for sentence in re.split(r"[.!?:]\s+", text):
        opening = sentence.split()[0] if sentence.split() else ""
        for i, segment in enumerate(re.split(r"[.,;!?()\[\]|/]|\s[-–—]\s|['’]s\b", sentence)):
            run: list[str] = []
            for word in [*segment.split(), ""]:
                if word[:1].isupper() and word[:1].isalpha() and word != "I" and not MODIFIER.search(word):
                    run.append(word)
                    continue
                if i == 0 and run and run[0] == opening and segment.split()[0] == opening:
                    run = run[1:]  # a sentence's capitalised first word is no sign of a name
                if len(run) >= 2 and any(re.fullmatch(r"[A-Z][a-z]+", w) for w in run):
                    found.append(" ".join(run))
                run = []
    return list(dict.fromkeys(found))


# A capitalised word made a modifier ("RoPE-based", "ChatGPT-style", "LoRA-finetuned"): what follows is no part of a
# name, and the name is the word before the hyphen.
MODIFIER = re.compile(
    r"-(?:based|style|type|like|sized|level|scale|wise|free|aware|driven|specific|(?-i:[a-z]{2,}ed))$", re.I
)

K = TypeVar("K")


def strongest_named(named: dict[K, float], closest: Callable[[list[K], int], list[K]], cap: int) -> dict[K, float]:
    """The `cap` metadata matches that may rank: an author, venue or period can match thousands of papers at 100k+,
    and scoring each in Python dominated search time (1 s p95); only the strongest, then closest (title + abstract
    cosine: `closest(ids, n)`, the n closest of ids, best first), can make the head of the ranking anyway."""
    if len(named) <= cap:
        return named
    out: dict[K, float] = {}
    for strength in sorted(set(named.values()), reverse=True):
        group = [pid for pid, s in named.items() if s == strength]
        out |= {pid: strength for pid in closest(group, cap - len(out))}
        if len(out) >= cap:
            break
    return out


def _singular(phrase: str) -> str:
    return re.sub(r"s\b", "", phrase.lower())


class Retriever:
    def __init__(self, settings: Settings, index: Index, llm: Any = None):
        self.settings = settings
        self.index = index
        self.llm = llm
        self.catalog: Catalog = index.load_catalog()
        # Built at ingest and memory-mapped here: no work proportional to the corpus at start-up.
        self._tokenize = Tokenizer()
        self.keywords: KeywordIndex = index.load_keywords(self.catalog, self._tokenize)
        self._question_terms = {t for w in QUESTION_WORDS for t in self._tokenize([w])[0]}
        self._vectors: VectorCache | None = None
        self._vectors_checked = False
        self._sentences: SentenceScores | None = None
        self._sentences_checked = False
        self._examples: ExampleQuestions | None = None
        self._examples_checked = False
        # Searches run on several threads (the HTTP API): the first ones would otherwise race to open the matrices,
        # and one that found them "checked" but not yet open would score by another path.
        self._opening = threading.Lock()

    @property
    def vectors(self) -> VectorCache | None:
        """Every chunk and paper vector, for exact scoring - up to `retrieval.exact_max_chunks`, or at any size when
        Chroma holds no chunk vectors. Opened memory-mapped from the generation's dense/ files; a generation without
        them is read from Chroma."""
        if self._vectors_checked:
            return self._vectors
        with self._opening:
            if not self._vectors_checked:
                try:
                    self._vectors = self._open_vectors()
                finally:
                    self._vectors_checked = True
        return self._vectors

    @property
    def examples(self) -> ExampleQuestions | None:
        """The example questions (rag/examples.py) in the paper model's question space, or None: off, none shipped
        for this paper model, or no paper model."""
        embedder, r = self.index.paper_embedder, self.settings.retrieval
        if self._examples_checked or embedder is None or r.examples_weight <= 0:
            return self._examples
        with self._opening:
            if not self._examples_checked:
                got = examples_for(self.settings.embedding.paper_examples, embedder.name)
                got = got.among(set(self.catalog.ids_in_order())) if got is not None else None
                # questions are searched through the query adapter, when there is one: so are the examples
                self._examples = got.moved(getattr(embedder, "adapter", None)) if got is not None else None
                self._examples_checked = True
        return self._examples

    def _open_vectors(self) -> VectorCache | None:
        meta = self.index.read_meta() or {}
        chunks = int(meta.get("chunks", 0))
        dense_only = chunks_in_dense_only(meta)
        if not (0 < chunks and (chunks <= self.settings.retrieval.exact_max_chunks or dense_only)):
            return None
        r = self.settings.retrieval
        top = max(100, r.candidates)  # >= any k a request may ask for (k <= 100)
        pre = r.prefilter_papers if chunks > r.prefilter_above_chunks else 0
        vectors = VectorCache.open(self.index.generation_dir / DENSE_FOLDER, top=top, prefilter=pre,
                                   int8_above=r.int8_above_papers)  # fmt: skip
        if vectors is None and dense_only:
            raise IndexStateError(f"{self.index.generation_dir / DENSE_FOLDER} is missing: run `rag ingest`")
        if vectors is None:
            collections = self.index.collection(), self.index.papers_collection()
            vectors = VectorCache.from_collections(*collections, top=top, prefilter=pre)
        return vectors

    @property
    def sentences(self) -> SentenceScores | None:
        """Every stored abstract sentence vector in memory (indexes built before sentence vectors have none)."""
        if self._sentences_checked:
            return self._sentences
        with self._opening:
            if not self._sentences_checked:
                get = getattr(self.index, "sentence_vectors", None)
                try:
                    stored = get([p.paper_id for p in self.catalog.iter_papers()]) if get else {}
                except (OSError, ValueError, KeyError):
                    stored = {}
                self._sentences = SentenceScores(stored) if stored else None
                self._sentences_checked = True
        return self._sentences

    def query_vector(self, query: str, lay_terms: list[str]) -> list[float]:
        """What dense search looks for: the query's vector, mixed with that of the query followed by the technical
        terms its everyday words stand for (rag/lay.py): MiniLM links "chatbots that make things up" to
        "hallucination" only when told, and the mix keeps the question's own wording in charge."""
        w = self.settings.retrieval.lay_terms_weight
        if not lay_terms or w <= 0 or self.settings.retrieval.mode != "hybrid":
            return self.index.embedder.embed_query(query)
        plain, expanded = (np.asarray(v, dtype=np.float32) for v in
                           self.index.embedder.embed([query, f"{query} ({'; '.join(lay_terms)})"]))  # fmt: skip
        mixed = (1.0 - w) * plain + w * expanded
        return (mixed / max(float(np.linalg.norm(mixed)), 1e-12)).tolist()

    # -- channels ------------------------------------------------------------------------------
    def paper_model(
        self, query: str, allowed: Allowed | None
    ) -> tuple[Ranked[float], Ranked[float], np.ndarray | None]:
        """The paper model's two channels (both empty without a paper model), then its question vector (None without):
        - paper id -> its cosine between the query and the paper's title + abstract: the `retrieval.candidates` best
          allowed papers held, best first, any other allowed paper's on lookup. Its rows are in catalog order, as
          `Allowed.mask` is (written from this catalog);
        - paper id -> the mean cosine of the paper's two abstract sentences closest to the query, on lookup: what
          a question about one finding matches, where the whole abstract's vector also carries everything else."""
        embedder, stored = self.index.paper_embedder, self.index.paper_model_vectors()
        if embedder is None or stored is None:
            return Ranked.empty(), Ranked.empty(), None
        q = np.asarray(embedder.embed_query(query), dtype=np.float32)
        sims = stored.matrix @ q
        keep = allowed.mask if allowed is not None else None
        best = top_indices(sims, keep, self.settings.retrieval.candidates)

        def lookup(pid: str) -> float | None:
            i = stored.row.get(pid)
            return None if i is None or (keep is not None and not keep[i]) else float(sims[i])

        def sentences(pid: str) -> float | None:
            rows = stored.sentence_rows(pid)
            if rows is None or not len(rows) or lookup(pid) is None:
                return None
            closest = np.sort(rows @ q)[::-1][: self.settings.retrieval.paper_model_sentences]
            return float(closest.mean())

        return Ranked([(stored.ids[i], float(sims[i])) for i in best], lookup), Ranked([], sentences), q

    def bm25(self, query: str, allowed: np.ndarray | None) -> tuple[list[tuple[str, float]], float]:
        """Ranked (paper id, score) and the confidence of keyword search for this query (0..1)."""
        terms = [t for t in self._tokenize([query])[0] if t not in self._question_terms]
        kw = self.keywords
        columns = kw.term_ids(terms)
        known = [t for t in terms if t in columns]
        if not known or not kw.n_docs:
            return [], 0.0
        docs, scores = kw.top([columns[t] for t in known], min(self.settings.retrieval.candidates, kw.n_docs), allowed)
        kept = [(int(d), float(s)) for d, s in zip(docs, scores, strict=True) if s > 0]
        if not kept:
            return [], 0.0
        ids = self.catalog.ids_at(d for d, _ in kept)
        ranked = [(pid, s) for pid, (_, s) in zip(ids, kept, strict=True)]
        # The top paper's terms, tokenized as at ingest: one paper's text, not a table of every paper's terms.
        (top,) = self.catalog.at([kept[0][0]])
        top_terms = set(self._tokenize([paper_search_text(top)])[0])
        idf = {t: kw.idf(c) for t, c in columns.items()}
        total = sum(idf.get(t, kw.max_idf) for t in set(terms))
        coverage = sum(idf[t] for t in set(known) if t in top_terms) / total if total else 0.0
        # Measured on the golden set: lay paraphrases cover <= 0.3 of their idf mass in the top paper
        # (BM25's top hits are noise then), exact-term questions >= 0.5. Ramp the trust between.
        r = self.settings.retrieval
        span = max(1e-6, r.bm25_trust_full - r.bm25_trust_floor)
        return ranked, min(1.0, max(0.0, (coverage - r.bm25_trust_floor) / span))

    def absent(self, analysis: QueryAnalysis, hits: list[Hit]) -> list[str]:
        """What the question's subject names that no paper writes: its words no paper contains, as the question
        spells them, but an acronym one of the best papers writes out or an everyday word standing for a term the
        abstracts use ("chatbot"); then its hyphenated and dotted names no paper writes ("phi-3-mini", "llama.cpp"),
        instead of their parts."""
        stand_ins = set(analysis.lay_words)
        words = [w for w in as_asked(self.unmatched(analysis.topic), analysis.question) if w.lower() not in stand_ins]
        if words:  # most questions have none: the best papers' texts are joined only for those that do
            best = [f"{h.title}. {h.abstract}" for h in hits[:SPELT_OUT_DEPTH]]
            words = [w for w in words if not spelt_out(w, best)]
        joined = self.unmatched_names(analysis.question, analysis.topic)
        # a lower-case hyphenated name with a part no paper uses and no dictionary has is named whole: "swe-bench"
        # (not "swe"); not a likeness ("mgda-style"), nor English ("add-ons", "beginner-friendly")
        english = english_words()
        joined += [t for t in dict.fromkeys(re.findall(r"\b[a-z]\w*(?:-\w+)+\b", analysis.question))
                   if t not in joined and not MODIFIER.search(t)
                   and any(p in words and len(p) > 2 and p not in english and not in_dictionary(p)
                           for p in t.split("-"))]  # fmt: skip
        parts = {p for n in joined for p in re.split(r"[\s.-]+", n.lower())}
        return [w for w in words if w.lower() not in parts] + joined

    def uncovered(self, analysis: QueryAnalysis, found: list[str]) -> list[str]:
        """The subject words of a short, specific question (`retrieval.uncovered_max_words`) that a few papers use
        (`uncovered_max_papers`) and none of the papers `found` does: "traffic" in "reinforcement learning for traffic
        signal control", which one paper on something else mentions. Every word of such a question is its subject; a
        longer one may describe it in words the right paper does not use. Words most papers use do not count."""
        r, kw = self.settings.retrieval, self.keywords
        words = [w for w in dict.fromkeys(analysis.topic.split()) if len(w) > 2 and not w.isdigit()]
        stems = self._tokenize(words)
        used = kw.term_ids(t for st in stems for t in st)
        columns = [{t: used[t] for t in st if t in used} for st in stems]
        # words most papers use ("models", "using") do not make a question long: they say nothing of its subject
        common = r.uncovered_common_share * kw.n_docs
        specific = [c for c in columns if not c or min(map(kw.df, c.values())) <= common]
        if not words or len(specific) > r.uncovered_max_words:
            return []
        seen = {int(o) for o in self.catalog.ords_of(found)}
        # how papers are asked for ("a tutorial on X") and the detail asked ("by what percentage") are not the subject
        asking = set(analysis.detail.lower().split()) if analysis.detail else set()
        out = []
        for word, word_stems, word_columns in zip(words, stems, columns, strict=True):
            if word in asking or PAPER_NOUN.fullmatch(word) or not can_be_noun(word):
                continue
            if not word_stems or len(word_columns) < len(set(word_stems)):
                continue  # a word no paper uses is `unmatched`, not this
            using: set[int] | None = None
            for column in word_columns.values():
                docs, scores = kw.top([column], r.uncovered_max_papers + 1, None)
                ords = {int(d) for d, sc in zip(docs, scores, strict=True) if sc > 0}
                using = ords if using is None else using & ords
            if using and len(using) <= r.uncovered_max_papers and not using & seen:
                out.append(word)
        return as_asked(out, analysis.question)

    def unmatched(self, topic: str) -> list[str]:
        """The subject words no paper contains (after stemming, as keyword search sees them). A word with digits
        counts only as a versioned name whose family no paper names either: "yolov8" when no paper writes "yolov";
        not "cifar10" or "gpt4" (papers write "CIFAR-10", "GPT"), nor "2024" or "7b"."""
        words = [w for w in dict.fromkeys(topic.split()) if len(w) > 2]
        versioned = {w: m.group(1) for w in words if (m := VERSIONED.fullmatch(w))}
        words = [w for w in words if w in versioned or not any(c.isdigit() for c in w)]
        stems = self._tokenize(words + list(versioned.values()))
        used = self.keywords.term_ids(t for st in stems for t in st)
        family = dict(zip(versioned, stems[len(words) :], strict=True))
        return [
            w for w, st in zip(words, stems[: len(words)], strict=True)
            if st and not any(t in used for t in st + family.get(w, [])) and can_be_noun(w)
        ]  # fmt: skip

    def unmatched_names(self, question: str, topic: str) -> list[str]:
        """The hyphenated, dotted and multi-word names of the question's subject that no paper writes, though it uses
        each part ("U-Net": "net" is everywhere, "U-Net" nowhere; "Llama Guard", "Diffusion Forcing"). A paper writing
        the parts spaced or joined ("mixture of experts") counts as writing the name."""
        kw, out = self.keywords, []
        subject = set(topic.lower().split())
        for name in compound_names(question) + name_phrases(question):
            if len(name) > COMPOUND_MAX_CHARS:  # a pasted run of hyphenated words, not a name to echo back
                continue
            dotted = not re.search(r"[\s-]", name)  # "llama.cpp": the name is what is named, not its part "cpp"
            parts = name.lower().split(".") if dotted else re.split(r"[\s-]+", name.lower())
            # an author's or a paper's name: not the subject (whose words the topic keeps, but not numbers: "4.5")
            if not all(p in subject for p in parts if len(p) > 1 and not re.fullmatch(r"[\d.]+", p)):
                continue
            by_part = self._tokenize(parts)
            stems = [t for st in by_part for t in st]
            columns = kw.term_ids(stems)
            if not stems:  # nothing keyword search can look up
                continue
            unused = [p for p, st in zip(parts, by_part, strict=True) if any(t not in columns for t in st)]
            if (not dotted and any(len(p) > 2 and not any(c.isdigit() for c in p) for p in unused)) or not kw.n_docs:
                continue  # a word part no paper uses is named by `unmatched` already (it skips two letters: "EU")
            # A version no paper writes ("Llama-3-405B"), a dotted part ("cpp"): neither is the name. A two-letter part
            # ("EW" of "EW-Tune") may be kept whole by keyword search ("ew-tune"): the texts are read.
            if any(len(p) > 2 or any(c.isdigit() for c in p) for p in unused) or not columns:
                out.append(name)
                continue
            rarest = min(columns.values(), key=lambda c: -kw.idf(c))
            # in the singular or the plural: "a Wasserstein GAN" is written "Wasserstein GANs"
            stem = re.sub(r"(?<=[a-z]{3})e?s$", "", parts[-1]) if parts[-1].isalpha() else parts[-1]
            pattern = [*map(re.escape, parts[:-1]), re.escape(stem) + (r"(?:e?s)?" if stem.isalpha() else "")]
            written = re.compile(r"\b" + r"[\s.-]?".join(pattern) + r"\b", re.I)
            if not self._written(rarest, written):
                out.append(name)
        return out + self.unwritten_releases(question, subject)

    def _written(self, column: int | None, written: re.Pattern[str]) -> bool:
        """Does a paper holding this term write the pattern? A term in more than `COMPOUND_SCAN_MAX` papers is too
        common to read them all, and taken as written; no term (no paper uses the word) is not written."""
        if column is None:
            return False
        docs, _ = self.keywords.top([column], COMPOUND_SCAN_MAX + 1, None)
        return len(docs) > COMPOUND_SCAN_MAX or any(
            written.search(paper_search_text(p)) for p in self.catalog.at(int(d) for d in docs)
        )

    def unwritten_releases(self, question: str, subject: set[str]) -> list[str]:
        """A subject's name with a release number no paper writes, spaced or joined ("llama 3.3" when papers write
        "Llama 3" and "LLaMA-3.1"; "squad 2.0" when none writes SQuAD)."""
        out = []
        for m in RELEASED.finditer(question):
            before, name, release = m.groups()
            if name.lower() not in subject or sum(c.isalpha() for c in name) < 2:  # "v2 v3" is no name's release
                continue
            # the name's capitalised words before it, when they are the subject's ("Stable Diffusion 1.5")
            lead = list(itertools.takewhile(lambda w: w.lower() in subject, reversed(before.split())))[::-1]
            columns = list(self.keywords.term_ids(self._tokenize([name])[0]).values())
            written = re.compile(rf"\b{re.escape(name)}[\s-]?v?{re.escape(release)}(?![\d.]\d)", re.I)
            if not self._written(columns[0] if columns else None, written):
                out.append(" ".join([*lead, m.group(0)[len(before) :]]))
        return out

    def ruled_out(self, subjects: list[str], topic: str = "", pool: Iterable[str] = ()) -> set[str]:
        """Papers about a subject the question rules out ("not about images"): those whose keyword score for it
        is near the best of the `pool` (the question's best candidates), or of the corpus when none of them comes
        close (`retrieval.exclude_floor`). A paper that only mentions the subject in passing scores far lower and
        stays.
        The subject's words that the asked topic shares are left out of that score: in "papers on caching diffusion
        models not about diffusion language models" every candidate is about diffusion models, and "language" is
        what tells the ruled-out ones apart."""
        kw, out = self.keywords, set()
        shared = set(self._tokenize([topic])[0]) if topic else set()
        r = self.settings.retrieval
        candidates = {int(o) for o in self.catalog.ords_of(pool)} if pool else set()
        for subject in dict.fromkeys(form for s in subjects for form in self.forms(s)):
            terms = [t for t in self._tokenize([subject])[0] if t not in shared]
            # Words most papers use ("model", "also") tell no paper apart: in "models that also look at images" the
            # images do. Kept when nothing else is left ("not about language models").
            idf = {t: kw.idf(i) for t, i in kw.term_ids(terms).items()}
            terms = [t for t in terms if idf.get(t, COMMON_IDF) >= COMMON_IDF] or terms
            # A subject the asked topic wholly shares ("pruning papers, but not pruning [during pre-training]") would
            # rule out every candidate: nothing tells the ruled-out ones apart, so none is left out.
            columns = kw.term_ids(terms)
            if not columns or not kw.n_docs:
                continue
            docs, scores = kw.top(list(columns.values()), min(r.candidates * 10, kw.n_docs), None)
            if not len(scores):
                continue
            top = float(scores[0])
            best = max((float(s) for d, s in zip(docs, scores, strict=True) if int(d) in candidates), default=top)
            floor = r.exclude_share * max(best, r.exclude_floor * top)
            out |= set(self.catalog.ids_at(int(d) for d, s in zip(docs, scores, strict=True) if s > 0 and s >= floor))
        return out

    def long_forms(self, subject: str) -> list[str]:
        """What an acronym stands for in the corpus ("LLMs" -> "large language models"), read from the definitions
        ("... large language models (LLMs) ...") in the papers that use it most: a paper may spell out only one form."""
        if not (m := ACRONYM.fullmatch(subject.strip())):
            return []
        acronym = m.group(1)
        letters = "".join(c for c in acronym if c.isupper())  # "MoE": mixture of experts
        columns = self.keywords.term_ids(self._tokenize([acronym])[0])
        if not columns or not self.keywords.n_docs:
            return []
        docs, _ = self.keywords.top(list(columns.values()), 5, None)
        found: dict[str, int] = {}
        defined = re.compile(rf"((?:[A-Za-z][\w-]*\s+){{1,{len(acronym) + 3}}})\(\s*{re.escape(acronym)}s?\s*\)")
        for paper in self.catalog.at(int(d) for d in docs):
            for d in defined.finditer(f"{paper.title}. {paper.abstract}"):
                words = d.group(1).split()
                for start in range(len(words) - 1, -1, -1):  # the shortest tail whose initials spell the acronym
                    tail = words[start:]
                    parts = [p for w in tail if w.lower() not in ACRONYM_FILLERS for p in w.split("-") if p]
                    if "".join(p[0] for p in parts).upper() == letters:  # "classifier-free guidance": CFG
                        found[" ".join(tail).lower()] = found.get(" ".join(tail).lower(), 0) + 1
                        break
        return [max(found, key=lambda f: found[f])] if found else []

    def forms(self, subject: str) -> list[str]:
        """The subject as the corpus may write it: itself, the long form of an acronym, the acronym of a long form
        (both "LLM" and "LLMs")."""
        spelt = [subject, *self.long_forms(subject)]
        return [*spelt, *(f for s in spelt for f in self.short_forms(s))]

    def short_forms(self, subject: str) -> list[str]:
        """The acronym the corpus defines for a spelt-out subject ("large language models" -> "LLMs"): a paper that
        only writes "LLMs" is about large language models too. The inverse of `long_forms`, so it holds only when
        the corpus' definitions of that acronym spell this subject."""
        words = [p for w in subject.split() if w.lower() not in ACRONYM_FILLERS for p in w.split("-") if p]
        if not 2 <= len(words) <= 6 or not all(w[0].isalpha() for w in words):
            return []
        acronym = "".join(w[0] for w in words).upper()
        spelt = self.long_forms(acronym + "s") or self.long_forms(acronym)
        if not spelt or _singular(spelt[0]) != _singular(subject):
            return []
        forms = (acronym, acronym + "s")  # a paper writes one or the other: "LLM-based", "LLMs"
        return [f for f in forms if self.keywords.term_ids(self._tokenize([f])[0])]

    def dense(
        self, vector: list[float], n: int, allowed_ids: list[str] | None
    ) -> dict[str, list[tuple[str, str, float]]]:
        """paper id -> its matching chunks (chunk id, text, cosine), best first."""
        by_paper: dict[str, list[tuple[str, str, float]]] = {}
        for cid, pid, text, sim in self.index.query(vector, n, allowed_ids):
            by_paper.setdefault(pid, []).append((cid, text, sim))
        return by_paper

    def _feedback(self, cache: VectorCache, vector: list[float], allowed: set[str] | None) -> Ranked[float]:
        """paper id -> cosine of its title + abstract vector to the question after pseudo-relevance feedback
        (Rocchio): the question moved towards the mean vector of its `prf_depth` closest papers, so a lay question
        borrows the vocabulary of the abstracts it already half-matches. Only the best papers are materialised
        (a dict of every paper cost ~20 ms per question at 100k)."""
        r = self.settings.retrieval
        closest = [cache.paper_index[pid] for pid in list(cache.paper_sims(vector, allowed))[: r.prf_depth]]
        if not closest:
            return cache.paper_sims(vector)
        q = np.asarray(vector, dtype=np.float32)
        moved = q + r.prf_weight * cache.paper_matrix[closest].mean(axis=0)
        # Above the prefilter size the moved question ranks the papers the question itself found closest, not all:
        # a second product over every paper vector was half of dense search at 100k.
        among = cache.closest_rows(vector, cache.prefilter) if cache.prefilter else None
        return cache.paper_sims((moved / max(float(np.linalg.norm(moved)), 1e-12)).tolist(), among=among)

    def _closest(
        self, cache: VectorCache | None, vector: list[float] | None, paper_sims: dict[str, float]
    ) -> Callable[[list[int], int], list[int]]:
        """The n papers of a list of catalog positions closest to the question by title + abstract cosine: from the
        exact-scoring matrices, else by what the paper channel returned (0 for the rest)."""
        if cache is not None and vector is not None:
            q = vector
            return lambda ords, n: cache.closest_at(q, ords, n, self.catalog)

        def by_channel(ords: list[int], n: int) -> list[int]:
            ids = self.catalog.id_map(ords)
            return sorted(ords, key=lambda o: -(paper_sims.get(ids.get(o, "")) or 0.0))[:n]

        return by_channel

    def metadata(self, analysis: QueryAnalysis, periods_as_filter: bool) -> tuple[dict[int, float], set[int]]:
        """Catalog position -> strength of the papers the question names exactly (its entities), or that were named
        earlier in the chat, and the positions whose match answers the question (the "metadata" channel, past the
        relevance gate; the others only rank, as "name"). A name or venue brings the positions of all its papers
        (thousands, for some): none of their ids is looked up."""
        named: list[tuple[float, bool, list[int] | list[str]]] = []
        for e in analysis.entities:
            if e.kind == "period" and periods_as_filter:
                continue  # a period that filters is not also a match: it would rank every paper of it alike
            if e.kind == "paper":
                strength = e.confidence if e.confidence >= CONFIDENT else 0.5 * e.confidence
            elif e.kind == "author":
                strength = 1.0 if e.confidence >= 1.0 else 0.6
            elif e.kind == "affiliation":
                strength = 0.8 if e.confidence >= 1.0 else 0.6
            else:
                strength = 0.8
            # In a topical question a person, lab or venue it mentions ranks their papers but does not answer it
            # ("Who is the CEO of Apple?" is not about Apple's papers); a paper, category or period named does.
            answers = strength >= EXACT_MATCH and not (analysis.intent == "topical" and e.kind in NAMES_ONLY_RANK)
            named.append((strength, answers, e.ords or e.paper_ids))
        named += [(0.9 - 0.1 * i, True, [pid]) for i, pid in enumerate(analysis.pinned)]
        at = self.catalog.positions(x for *_, xs in named for x in xs if isinstance(x, str))
        found: dict[int, float] = {}
        exact: set[int] = set()
        for strength, answers, xs in named:
            for x in xs:
                if (o := at.get(x) if isinstance(x, str) else x) is not None:
                    found[o] = max(found.get(o, 0.0), strength)
                    if answers:
                        exact.add(o)
        return found, exact

    # -- fusion --------------------------------------------------------------------------------
    def search(self, analysis: QueryAnalysis, *, k: int, filters: Filters | None = None) -> SearchResult:
        r = self.settings.retrieval
        timings: dict[str, float] = {}
        # The plain baselines of the benchmark search the question as asked: no rewrite, no metadata channel.
        standalone = analysis.query if r.mode == "hybrid" else analysis.question
        filters, periods_as_filter, names = scope(analysis, filters) if r.mode == "hybrid" else (filters, False, [])
        allowed: Allowed | None = None
        # The allowed papers come from the catalog's indexes, and from the positions of the names' papers.
        ords = self.catalog.matching(filters) if filters is not None and filters.active() else None
        if names:
            theirs = np.unique(np.concatenate([self.catalog.positions_of(e) for e in names]))
            ords = theirs if ords is None else np.intersect1d(ords, theirs, assume_unique=True)
        if ords is not None:
            allowed = Allowed(self.catalog, ords)
        allowed_set = set(allowed.ids()) if allowed is not None and r.mode == "paper" else None

        scores: dict[str, dict[str, float]] = {}
        rrf = r.rrf_k

        def add(pid: str, channel: str, value: float) -> None:
            scores.setdefault(pid, {})[channel] = scores.get(pid, {}).get(channel, 0.0) + value

        t0 = time.perf_counter()
        dense_hits: dict[str, list[tuple[str, str, float]]] = {}
        paper_sims: dict[str, float] = {}
        sentence_sims: dict[str, float] = {}
        vector = self.query_vector(standalone, analysis.lay_terms) if r.mode != "bm25" else None
        timings["embed"] = _ms(t0)
        t0 = time.perf_counter()
        cache = self.vectors if vector is not None else None
        if cache is not None and vector is not None:
            keep = cache.keep_at(allowed.ords, self.catalog.ids_in_order) if allowed is not None else None
            dense_hits = cache.chunks_by_paper(vector, keep)
            if (r.mode == "hybrid" and r.paper_weight > 0) or r.mode == "paper":
                paper_sims = cache.paper_sims(vector, allowed_set)
        elif vector is not None:
            allowed_ids = allowed.ids() if allowed is not None else None
            dense_hits = self.dense(vector, r.candidates, allowed_ids)
            if (r.mode == "hybrid" and r.paper_weight > 0) or r.mode == "paper":
                paper_sims = dict(self.index.query_papers(vector, r.candidates, allowed_ids))
        if cache is not None and vector is not None and r.mode == "hybrid":  # the optional channels, off by default
            if r.paper_weight > 0 and r.prf_weight > 0 and r.prf_depth > 0:
                paper_sims = self._feedback(cache, vector, set(allowed.ids()) if allowed is not None else None)
            if r.sentence_weight > 0 and (store := self.sentences) is not None:
                best = store.best(np.asarray(vector, dtype=np.float32))
                sentence_sims = dict(zip(store.index, best.tolist(), strict=True))
        timings["dense"] = _ms(t0)
        t0 = time.perf_counter()
        bm25_ranked: list[tuple[str, float]] = []
        confidence = 1.0
        if r.mode in ("hybrid", "bm25"):
            bm25_ranked, confidence = self.bm25(standalone, allowed.mask if allowed is not None else None)
        timings["bm25"] = _ms(t0)
        named: dict[str, float] = {}
        exact: set[str] = set()
        if r.mode == "hybrid":
            found, exact_at = self.metadata(analysis, periods_as_filter)
            if allowed is not None:
                found = {o: s for o, s in found.items() if allowed.mask[o]}
            found = strongest_named(found, self._closest(cache, vector, paper_sims), max(r.candidates, 2 * k))
            ids = self.catalog.id_map(found)
            named = {ids[o]: s for o, s in found.items() if o in ids}
            exact = {ids[o] for o in found if o in ids and o in exact_at}

        t0 = time.perf_counter()
        lay_question = False
        if r.mode == "hybrid" and r.fusion == "weighted":
            share = r.paper_model_share if r.paper_weight > 0 else 0.0
            model_sims, model_sentences, model_vector = (
                self.paper_model(standalone, allowed)
                if share > 0 or r.paper_model_sentence_weight > 0
                else (Ranked.empty(), Ranked.empty(), None)
            )
            share = share if model_sims else 0.0
            timings["paper_model"], t0 = _ms(t0), time.perf_counter()
            # Every candidate gets its exact cosine, so scores are comparable.
            by_paper = sorted(paper_sims, key=lambda pid: -paper_sims[pid])[: r.candidates]
            by_paper += list(model_sims)[: r.candidates]
            by_sentence = sorted(sentence_sims, key=lambda pid: -sentence_sims[pid])[: r.candidates]
            # A topical question naming nothing, whose rare words keyword search does not trust: a lay paraphrase,
            # about the whole abstract's topic rather than one chunk's, so weight moves from the chunk channel to
            # the paper vector (the total stays, so metadata and keyword matches keep their pull).
            lay = analysis.intent == "topical" and not any(v >= 0.5 for v in named.values())  # a partial title
            shift = r.lay_paper_share * (1.0 - confidence) if lay else 0.0  # guess does not name a paper
            lay_question = lay and confidence < 0.5
            # ... whose closest example questions vote for their papers (rag/examples.py)
            examples = self.examples if lay_question and model_vector is not None else None
            example_sims = examples.best(model_vector) if examples is not None and model_vector is not None else {}
            by_example = sorted(example_sims, key=lambda pid: -example_sims[pid])[: r.examples_papers]
            pool = list(
                dict.fromkeys([*list(dense_hits)[: r.candidates], *by_paper, *by_sentence,
                               *(pid for pid, _ in bm25_ranked), *named, *by_example])
            )  # fmt: skip
            if allowed is not None:
                pool = allowed.among(pool)
            missing = [pid for pid in pool if pid not in dense_hits]
            if missing and vector is not None:
                dense_hits.update(self.dense(vector, len(missing) * 8, missing))
            unscored = [pid for pid in pool if pid not in paper_sims]
            if unscored and vector is not None and r.paper_weight > 0 and cache is None:
                paper_sims.update(self.index.query_papers(vector, len(unscored), unscored))
            top_bm25 = bm25_ranked[0][1] if bm25_ranked else 1.0
            # A question about one finding; not a follow-up or catalog question, whose query is the papers' titles.
            topical = analysis.intent == "topical" and r.paper_model_sentence_weight > 0
            dense_weight = r.dense_weight * (1.0 - shift)
            paper_weight = r.paper_weight + r.dense_weight * (1.0 + r.second_chunk_weight) * shift
            for pid in pool:
                if (chunks := dense_hits.get(pid)) and dense_weight > 0:
                    # A paper matching in two chunks is more on topic than one matching in a single sentence.
                    second = chunks[1][2] if len(chunks) > 1 else 0.0
                    add(pid, "dense", dense_weight * (chunks[0][2] + r.second_chunk_weight * second))
                if pid in paper_sims:  # the whole abstract's meaning: what lay questions are about
                    add(pid, "paper", paper_weight * (1.0 - share) * paper_sims[pid])
                if pid in model_sims:  # ... as the larger paper model reads it
                    add(pid, "paper_model", paper_weight * share * model_sims[pid])
                if topical and pid in model_sentences:  # ... and in its sentences closest to the question
                    add(pid, "model_sentences", r.paper_model_sentence_weight * model_sentences[pid])
                if pid in sentence_sims:  # one abstract sentence saying what the question asks
                    add(pid, "sentence", r.sentence_weight * sentence_sims[pid])
                if example_sims.get(pid, 0.0) > r.examples_floor:  # someone asked this paper much the same
                    add(pid, "examples", r.examples_weight * (example_sims[pid] - r.examples_floor))
            for pid, value in bm25_ranked:
                add(pid, "bm25", r.bm25_weight * confidence * value / top_bm25)
            for pid, strength in named.items():
                add(pid, "metadata" if pid in exact else "name", r.metadata_weight * strength)
        elif r.mode == "paper":  # the whole-abstract baseline: one vector per paper, nothing else
            for pid, sim in paper_sims.items():
                if allowed_set is None or pid in allowed_set:
                    add(pid, "paper", sim)
        else:  # reciprocal rank fusion; with one retriever alone, its own ranking
            ranked = sorted(dense_hits, key=lambda pid: -dense_hits[pid][0][2])[: r.candidates]
            for rank, pid in enumerate(ranked, 1):
                add(pid, "dense", r.dense_weight / (rrf + rank))
            weight = r.bm25_weight * (confidence if r.mode == "hybrid" else 1.0)
            for rank, (pid, _) in enumerate(bm25_ranked, 1):
                add(pid, "bm25", weight / (rrf + rank))
            for pid, strength in named.items():
                add(pid, "metadata" if pid in exact else "name", r.metadata_weight * strength * 2.0 / (rrf + 1))

        ranked_ids = sorted(scores, key=lambda pid: -sum(scores[pid].values()))
        if r.mode == "hybrid" and analysis.exclude:
            # the paper the chat is about stays: "besides model reduction noise, what else did that paper find?"
            discussed = set(analysis.pinned) if analysis.followup else set()
            for pid in self.ruled_out(analysis.exclude, analysis.topic, ranked_ids[: r.exclude_pool]) - discussed:
                scores.pop(pid, None)
        remaining = [pid for pid in ranked_ids if pid in scores]  # the ranking without the ruled-out papers
        fused = remaining[:k]
        missing = [pid for pid in fused if pid not in dense_hits]
        if missing:  # evidence (and a dense score for refusal) for papers found by keywords or metadata
            vector = vector or self.query_vector(standalone, analysis.lay_terms)
            dense_hits.update(self.dense(vector, len(missing) * 8, missing))
        timings["fusion"] = _ms(t0)

        hits = []
        for rank, pid in enumerate(fused, 1):
            paper = self.catalog.get(pid)
            if paper is None:
                continue
            chunks = dense_hits.get(pid, [])
            shown = chunks[: r.evidence_chunks]
            if cache is not None:  # the exact-scoring matrices leave the texts to read for the papers answered
                shown = cache.with_texts(pid, shown)
            hits.append(
                Hit.of(
                    paper,
                    rank,
                    score=round(sum(scores[pid].values()), 6),
                    dense_score=round(chunks[0][2], 4) if chunks else None,
                    scores={c: round(v, 6) for c, v in scores[pid].items()},
                    evidence=[Evidence(chunk_id=c, text=t, score=round(s, 4)) for c, t, s in shown],
                )
            )
        topical = r.mode == "hybrid" and analysis.intent in ("topical", "comparison")
        unmatched = self.absent(analysis, hits) if topical else []
        uncovered = []
        if topical and standalone == analysis.question:  # a follow-up is about the paper pinned
            if not unmatched:
                uncovered = self.uncovered(analysis, remaining[: r.uncovered_depth])
            # With words no paper uses too: a question answered anyway ("sarcasm in tweets": the closest papers are
            # close enough) still names the area none of them is about.
            if r.area_depth:
                texts = [f"{h.title}. {h.abstract}" for h in hits[: r.area_depth]]
                uncovered += areas_missing(analysis.topic, texts, named=uncovered)
        return SearchResult(
            question=analysis.question,
            standalone_question=standalone if standalone != analysis.question else None,
            hits=hits,
            timings_ms=timings,
            analysis=analysis,
            unmatched=unmatched,
            unmatched_cosine=self.kept_meaning(analysis.question, unmatched),
            uncovered=uncovered,
            lay=lay_question,
            query_vector=vector,
        )

    def kept_meaning(self, question: str, words: list[str]) -> float:
        """How much of the question's meaning survives without these words: the cosine between its vector and its
        vector with them cut (one embedding call of two texts, only for a question with words no paper has)."""
        if not words:
            return 0.0
        cut = re.sub(r"\b(?:" + "|".join(re.escape(w) for w in words) + r")\b", " ", question, flags=re.I)
        full, rest = (np.asarray(v, dtype=np.float32) for v in self.index.embedder.embed([question, cut]))
        return round(float(full @ rest / max(float(np.linalg.norm(full) * np.linalg.norm(rest)), 1e-12)), 4)


def scope(analysis: QueryAnalysis, filters: Filters | None) -> tuple[Filters | None, bool, list[Entity]]:
    """The filters the question itself implies, on top of the user's: (filters, periods used as a filter, the names
    whose papers are the only candidates).

    "which 2025 papers study diffusion?": the period filters, the topic is searched.
    "did Hattie Zhou write anything on diffusion?", "NeurIPS 2020 papers on optimization": the named papers are the
    candidates, the topic ranks them.
    """
    names = analysis.conjunction
    periods = analysis.periods
    if analysis.intent == "topical" and periods and analysis.topic and not (filters and filters.dates):
        dates = [p.value for p in periods]
        return (filters or Filters()).model_copy(update={"dates": dates}), True, names
    return filters, False, names


PAPER_NOUN = re.compile(PAPER_NOUNS)
# A versioned name: its family's letters (two or more), then a version ("yolov8", "llama3", "qwen2").
VERSIONED = re.compile(r"([a-z]{2,})\d+[a-z0-9]*")


def spelt_out(word: str, texts: list[str]) -> bool:
    """Is the acronym written out in one of these texts, its letters the initials of consecutive words ("MCMC":
    "Markov chain Monte Carlo"; "cvar": "conditional value-at-risk")? Four letters or more: three letters spell words
    by chance; in lower case, no English word ("game", "rare")."""
    letters = word.removesuffix("s")
    lower_acronym = letters.islower() and letters not in english_words()  # "cvar" for CVaR
    if len(letters) < 4 or not (letters.isupper() or lower_acronym) or not letters.isalpha():
        return False
    return any(letters.lower() in "".join(w[0] for w in re.findall(r"[A-Za-z]+", t)).lower() for t in texts)


def as_asked(words: list[str], question: str) -> list[str]:
    """The words as the question spells them ("Bengio", "COBOL"): the topic is lower-cased."""
    return [m.group(0) if (m := re.search(rf"\b{re.escape(w)}\b", question, re.I)) else w for w in words]


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 1)
