"""Index stage: catalog -> tiktoken chunks -> embeddings -> Chroma, incrementally.

llama-index does the chunking (SentenceSplitter with the cl100k_base tokenizer) and the incremental
upserts (IngestionPipeline + a document store of per-paper hashes, UPSERTS_AND_DELETE), writing to
a `ChromaVectorStore`. The collection name carries the index identity (embedding model + chunking),
so two configurations never share vectors; `index.json` records that identity and a query with other
settings fails loudly instead of mixing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import chromadb
from llama_index.core import Document
from llama_index.core.ingestion import DocstoreStrategy, IngestionPipeline
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.schema import BaseNode
from llama_index.core.storage.docstore import SimpleDocumentStore
from llama_index.vector_stores.chroma import ChromaVectorStore

from rag.catalog import Catalog, build_catalog, corpus_hash
from rag.embed import Embedder, LlamaIndexEmbedding
from rag.errors import UserError
from rag.models import Paper
from rag.settings import Settings
from rag.text import searchable
from rag.tokens import encoding


class IndexStateError(UserError):
    """The index is missing or was built with other settings; the message says what to run."""


@dataclass
class IngestReport:
    papers: int = 0
    copies: int = 0
    merged: int = 0
    problems: int = 0
    chunks_embedded: int = 0
    papers_updated: int = 0
    papers_removed: int = 0
    rebuilt: bool = False
    seconds: float = 0.0
    catalog_lines: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.papers} papers ({self.copies} copies read, {self.merged} merged away, {self.problems} notes); "
            f"{self.papers_updated} added/updated, {self.papers_removed} removed, "
            f"{self.chunks_embedded} chunks embedded in {self.seconds:.1f} s"
            + (" (index rebuilt for new settings)" if self.rebuilt else "")
        )


class _UpsertingChromaVectorStore(ChromaVectorStore):
    """Chroma's `add` refuses ids it already holds; re-adding after an interrupted ingest must not fail."""

    def add(self, nodes: Sequence[BaseNode], **add_kwargs: Any) -> list[str]:
        if nodes:
            self._collection.delete(ids=[n.node_id for n in nodes])
        return super().add(list(nodes), **add_kwargs)


def paper_document(paper: Paper) -> Document:
    """What gets chunked and embedded for one paper: title and key metadata ride along with each chunk."""
    metadata: dict[str, Any] = {
        "paper_id": paper.paper_id,
        "title": searchable(paper.title),
        "authors": paper.authors_display,
        "year": paper.year or 0,
        "category": paper.category or "",
    }
    return Document(
        id_=paper.paper_id,
        text=searchable(paper.abstract),
        metadata=metadata,
        excluded_embed_metadata_keys=["paper_id", "year", "category"] + ([] if paper.authors else ["authors"]),
        excluded_llm_metadata_keys=["paper_id"],
        metadata_template="{key}: {value}",
        text_template="{metadata_str}\n\n{content}",
    )


class Index:
    def __init__(self, settings: Settings, embedder: Embedder):
        self.settings = settings
        self.embedder = embedder
        self.data_dir = Path(settings.data_dir)
        self.key = settings.index_key()
        self.collection_name = f"{settings.chroma.collection_prefix}_{self.key}"
        self._client: Any = None
        self._collection: Any = None

    # -- paths and identity --------------------------------------------------------------------
    @property
    def meta_path(self) -> Path:
        return self.data_dir / "index.json"

    @property
    def catalog_path(self) -> Path:
        return self.data_dir / "catalog.json"

    @property
    def docstore_dir(self) -> Path:
        return self.data_dir / "docstore" / self.key

    def identity(self) -> dict[str, Any]:
        return {**self.settings.index_identity(), "embedder": self.embedder.name}

    def read_meta(self) -> dict[str, Any] | None:
        if not self.meta_path.is_file():
            return None
        try:
            data: dict[str, Any] = json.loads(self.meta_path.read_text())
        except json.JSONDecodeError:
            return None
        return data

    def is_built(self) -> bool:
        """True when an index for these settings exists; raises when one exists for other settings."""
        meta = self.read_meta()
        if meta is None or not self.catalog_path.is_file():
            return False
        if meta.get("identity") != self.identity():
            raise IndexStateError(
                f"the index in {self.data_dir} was built with {meta.get('identity')}, but the settings ask for "
                f"{self.identity()}. Run `rag ingest` to build an index for these settings."
            )
        return True

    # -- chroma --------------------------------------------------------------------------------
    def client(self) -> Any:
        if self._client is None:
            c = self.settings.chroma
            if c.mode == "server":
                self._client = chromadb.HttpClient(host=c.host, port=c.port)
            else:
                self.data_dir.mkdir(parents=True, exist_ok=True)
                self._client = chromadb.PersistentClient(
                    path=str(self.data_dir / "chroma"), settings=chromadb.Settings(anonymized_telemetry=False)
                )
        return self._client

    def collection(self) -> Any:
        if self._collection is None:
            self._collection = self.client().get_or_create_collection(
                self.collection_name, metadata={"hnsw:space": "cosine", **{"identity": json.dumps(self.identity())}}
            )
        return self._collection

    def load_catalog(self) -> Catalog:
        return Catalog.load(self.catalog_path)

    # -- ingest --------------------------------------------------------------------------------
    def ingest(self, corpus_dir: Path, *, progress: bool = True, rebuild: bool = False) -> IngestReport:
        t0 = time.perf_counter()
        report = IngestReport()
        papers, cat_report = build_catalog(Path(corpus_dir), self.settings.corpus)
        report.papers, report.copies = len(papers), cat_report.records
        report.merged = cat_report.records - len(papers)
        report.problems = len(cat_report.problems)
        report.catalog_lines = cat_report.lines()

        old = self.read_meta()
        if old is not None and old.get("identity") != self.identity():
            report.rebuilt = True
            self._drop_collection(old.get("collection"))
        if rebuild:
            report.rebuilt = True
            self._drop_collection(self.collection_name)
            for f in self.docstore_dir.glob("*"):
                f.unlink()

        docstore_file = self.docstore_dir / "docstore.json"
        docstore = (
            SimpleDocumentStore.from_persist_path(str(docstore_file))
            if docstore_file.is_file()
            else SimpleDocumentStore()
        )
        before = dict(docstore.get_all_document_hashes())  # hash -> paper id
        enc = encoding(self.settings.chunking.encoding)
        splitter = SentenceSplitter(
            chunk_size=self.settings.chunking.chunk_size,
            chunk_overlap=self.settings.chunking.chunk_overlap,
            tokenizer=enc.encode,
            id_func=lambda i, doc: f"{doc.doc_id}#{i}",  # stable ids: re-running an ingest overwrites, never duplicates
        )
        vector_store = _UpsertingChromaVectorStore(chroma_collection=self.collection())  # type: ignore[call-arg]
        # Removed papers are deleted here rather than by UPSERTS_AND_DELETE, which fails on a docstore
        # that keeps hashes only (store_doc_text=False keeps it small at a million papers).
        current = {p.paper_id for p in papers}
        for paper_id in set(before.values()) - current:
            vector_store.delete(paper_id)
            docstore.delete_document(paper_id, raise_error=False)
            docstore.delete_ref_doc(paper_id, raise_error=False)
        pipeline = IngestionPipeline(
            transformations=[
                splitter,
                LlamaIndexEmbedding(self.embedder, batch_size=self.settings.embedding.batch_size),
            ],
            vector_store=vector_store,
            docstore=docstore,
            docstore_strategy=DocstoreStrategy.UPSERTS,
            disable_cache=True,  # the docstore already skips unchanged papers; a cache would copy every vector
        )
        nodes = pipeline.run(
            documents=[paper_document(p) for p in papers], show_progress=progress, store_doc_text=False
        )
        after = dict(docstore.get_all_document_hashes())
        report.chunks_embedded = len(nodes)
        report.papers_updated = len(set(after) - set(before))
        report.papers_removed = len(set(before.values()) - set(after.values()))

        # Catalog and identity are written last and atomically: an interrupted ingest is simply re-run.
        self.docstore_dir.mkdir(parents=True, exist_ok=True)
        docstore.persist(str(docstore_file))
        Catalog(papers).save(self.catalog_path)
        meta = {
            "identity": self.identity(),
            "collection": self.collection_name,
            "papers": len(papers),
            "chunks": self.collection().count(),
            "corpus_hash": corpus_hash(Path(corpus_dir), self.settings.corpus.format),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        tmp = self.meta_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(meta, indent=1))
        tmp.replace(self.meta_path)
        report.seconds = time.perf_counter() - t0
        return report

    def _drop_collection(self, name: str | None) -> None:
        if not name:
            return
        try:
            self.client().delete_collection(name)
        except Exception:
            pass
        if name == self.collection_name:
            self._collection = None

    # -- query ---------------------------------------------------------------------------------
    def query(
        self, vector: list[float], n: int, paper_ids: list[str] | None = None
    ) -> list[tuple[str, str, str, float]]:
        """Nearest chunks: (chunk id, paper id, chunk text, cosine similarity), best first."""
        col = self.collection()
        where = {"paper_id": {"$in": paper_ids}} if paper_ids is not None else None
        if paper_ids is not None and not paper_ids:
            return []
        res = col.query(
            query_embeddings=[vector],
            n_results=max(1, min(n, col.count())),
            where=where,
            include=["documents", "metadatas", "distances"],
        )
        out = []
        for cid, doc, meta, dist in zip(
            res["ids"][0], res["documents"][0], res["metadatas"][0], res["distances"][0], strict=True
        ):
            out.append((cid, str(meta["paper_id"]), doc or "", 1.0 - float(dist)))
        return out
