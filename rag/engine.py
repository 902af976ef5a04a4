"""The Python API: `Engine` ties the stages together. The CLI, the UI and the HTTP API are thin
shells over it.

    from rag import Engine
    engine = Engine()                      # settings from env / rag.toml
    engine.ingest()                        # corpus/ -> catalog + Chroma index (incremental)
    engine.search("length generalization", k=5).hits
    answer = engine.ask("which papers study length generalization?")
    print(answer.answer, [c.title for c in answer.citations])
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from rag.answer import Answerer
from rag.catalog import Catalog
from rag.embed import Embedder, make_embedder, make_paper_embedder
from rag.errors import UserError
from rag.index import Index, IngestReport
from rag.limits import Limits
from rag.models import Answer, Citation, Message, SearchResult
from rag.retrieve import Filters, Retriever
from rag.settings import Settings, load_settings
from rag.stream import AnswerStream
from rag.understand import Understander

if TYPE_CHECKING:
    from rag.llm import LLM


class Engine:
    def __init__(
        self,
        settings: Settings | None = None,
        *,
        embedder: Embedder | None = None,
        paper_embedder: Embedder | None = None,
        llm: LLM | None = None,
    ):
        self.settings = settings or load_settings()
        self._embedder = embedder
        self._paper_embedder = paper_embedder
        if llm is None and self.settings.llm.enabled:
            from rag.llm import make_llm

            llm = make_llm(self.settings.llm)
        self._llm = llm
        self._index: Index | None = None
        self._retriever: Retriever | None = None
        self._understander: Understander | None = None
        # The HTTP API serves requests on several threads: lazy stages are built once, under a lock.
        self._lock = threading.RLock()

    # -- stages -------------------------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = make_embedder(self.settings.embedding)
            return self._embedder

    @property
    def paper_embedder(self) -> Embedder | None:
        """The paper model (embedding.paper_model), loaded once; None when off or not installed."""
        with self._lock:
            if self._paper_embedder is None and self.settings.embedding.paper_model != "none":
                self._paper_embedder = make_paper_embedder(self.settings.embedding)
            return self._paper_embedder

    @property
    def index(self) -> Index:
        with self._lock:
            if self._index is None:
                self._index = Index(self.settings, self.embedder, self.paper_embedder)
            return self._index

    @property
    def catalog(self) -> Catalog:
        return self.retriever.catalog

    @property
    def retriever(self) -> Retriever:
        with self._lock:
            if self._index is not None and self._index.stale(self.settings.ingest.reload_check_s):
                # Another process switched the index to a new generation: answer from it, no restart.
                self._index, self._retriever = None, None
            if self._retriever is None:
                if problem := self.index.state_problem():
                    raise UserError(problem)
                if not (self.index.read_meta() or {}).get("papers"):
                    raise UserError(
                        f"the index in {self.settings.data_dir} holds no papers: add pages to the corpus "
                        "(manifest.json) and run `rag ingest`"
                    )
                # The vectors must be reachable too: a wrong Chroma server, token or tenant fails here, once,
                # with its message (a replica's `rag ui` refuses to start) instead of in every question.
                self.index.papers_collection()
                self._retriever = Retriever(self.settings, self.index, llm=self._llm)
            return self._retriever

    @property
    def understander(self) -> Understander:
        with self._lock:
            retriever = self.retriever
            if self._understander is None or self._understander.catalog is not retriever.catalog:
                a = self.settings.answer
                self._understander = Understander(
                    retriever.catalog, self._llm, max_question_chars=a.max_question_chars,
                    history_tokens=self.settings.llm.history_tokens,
                )  # fmt: skip
            return self._understander

    @property
    def llm(self) -> LLM | None:
        return self._llm

    def ingest(self, corpus_dir: Path | None = None, *, progress: bool = True, rebuild: bool = False) -> IngestReport:
        # A fresh Index builds the new generation while this engine keeps answering from the current one;
        # the data dir's lock serialises ingests.
        index = Index(self.settings, self.embedder, self.paper_embedder)
        report = index.ingest(corpus_dir or self.settings.corpus_dir, progress=progress, rebuild=rebuild)
        with self._lock:
            self._index, self._retriever = index, None  # next query sees the new catalog and BM25 index
        return report

    # -- questions ----------------------------------------------------------------------------
    def _check(
        self, question: str, history: list[Message] | None, k: int | None, filters: Filters | None
    ) -> tuple[str, list[Message], int | None, Filters | None]:
        """Every input bounded (rag.limits), here so that each shell gets the same bounds and messages."""
        limits = Limits(self.settings)
        q = limits.question(question)
        checked = limits.history(history or [])
        k = limits.k(k)
        return q, checked, k, None if filters is None else limits.filters(filters, self.catalog)

    def search(
        self,
        question: str,
        *,
        k: int | None = None,
        history: list[Message] | None = None,
        filters: Filters | None = None,
    ) -> SearchResult:
        q, history, k, filters = self._check(question, history, k, filters)
        t0 = time.perf_counter()
        # The question is understood once; retrieval and the answer both read this analysis.
        plain = self.settings.retrieval.mode != "hybrid"  # the benchmark's baselines: the question as asked
        analysis = self.understander.analyse(q, [] if plain else history)
        understood = round((time.perf_counter() - t0) * 1000, 1)
        result = self.retriever.search(analysis, k=k or self.settings.retrieval.k, filters=filters)
        result.timings_ms["understand"] = understood
        result.timings_ms["total"] = round((time.perf_counter() - t0) * 1000, 1)
        return result

    def ask(
        self,
        question: str,
        *,
        k: int | None = None,
        history: list[Message] | None = None,
        filters: Filters | None = None,
    ) -> Answer:
        return self.ask_stream(question, k=k, history=history, filters=filters).answer

    def ask_stream(
        self,
        question: str,
        *,
        k: int | None = None,
        history: list[Message] | None = None,
        filters: Filters | None = None,
    ) -> AnswerStream:
        """The answer as a stream: iterate it for text as it is generated, then read `.answer`.

        The streamed text is provisional: citation repair may change the final text.
        """
        t0 = time.perf_counter()
        found = self.search(question, k=k, history=history, filters=filters)
        sentence_vectors = getattr(self.index, "sentence_vectors", None)  # stored at ingest by newer indexes
        answerer = Answerer(self.settings, self.catalog, self._llm, self.embedder.embed, sentence_vectors)

        def parts() -> Iterator[str | Answer]:
            for part in answerer.answer_stream(found, history=history or []):
                if isinstance(part, Answer):
                    part.timings_ms = {**found.timings_ms, **part.timings_ms}
                    part.timings_ms["total"] = round((time.perf_counter() - t0) * 1000, 1)
                yield part

        sources = [Citation.of(h.rank, h, h.snippet) for h in found.hits]
        return AnswerStream(found, sources, parts())
