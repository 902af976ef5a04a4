"""Ingest into a real Chroma with real embeddings: incremental, identity-checked, crash-tolerant."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.embed import Embedder
from rag.engine import Engine
from rag.errors import UserError
from rag.index import Index, paper_document
from rag.tokens import count_tokens
from tests.conftest import make_settings


def test_incremental_ingest(tmp_path: Path, small_corpus: Path, embedder: Embedder) -> None:
    engine = Engine(make_settings(tmp_path / "data", corpus_dir=small_corpus), embedder=embedder)
    first = engine.ingest(progress=False)
    assert first.papers == 16 and first.papers_updated == 16 and first.chunks_embedded > 18
    chunks = engine.index.collection().count()
    assert chunks == first.chunks_embedded

    second = engine.ingest(progress=False)
    assert (second.chunks_embedded, second.papers_updated, second.papers_removed) == (0, 0, 0)

    # change one abstract, remove one paper: exactly those are touched
    page = next(small_corpus.glob("002_*.txt"))
    lines = page.read_text().splitlines()
    lines[0] = lines[0].replace("often lack meaningful", "frequently lack meaningful")
    page.write_text("\n".join(lines) + "\n")
    profile = next(small_corpus.glob("000_*.txt"))
    text = profile.read_text()
    cut = text.index("CVNov 16, 2020")
    profile.write_text(text[:cut])
    third = engine.ingest(progress=False)
    assert third.papers == 15
    assert third.papers_updated == 1 and third.papers_removed == 1
    ids = {m["paper_id"] for m in engine.index.collection().get(include=["metadatas"])["metadatas"]}
    assert len(ids) == 15
    assert engine.search("video stabilization log-homography", k=3).hits[0].title != (
        "Cinematic-L1 Video Stabilization with a Log-Homography Model"
    )


def test_rerun_after_interrupted_ingest_does_not_duplicate(tmp_path: Path, small_corpus: Path, embedder) -> None:
    settings = make_settings(tmp_path / "data", corpus_dir=small_corpus)
    engine = Engine(settings, embedder=embedder)
    engine.ingest(progress=False)
    count = engine.index.collection().count()
    # Simulate a crash after vectors were written but before the docstore and index.json were saved.
    for f in (tmp_path / "data" / "docstore").rglob("*.json"):
        f.unlink()
    (tmp_path / "data" / "index.json").unlink()
    again = Engine(settings, embedder=embedder)
    assert not again.index.is_built()
    again.ingest(progress=False)
    assert again.index.collection().count() == count


def test_index_identity_mismatch_fails_loudly_then_rebuilds(tmp_path: Path, small_corpus: Path, embedder) -> None:
    data = tmp_path / "data"
    Engine(make_settings(data, corpus_dir=small_corpus), embedder=embedder).ingest(progress=False)
    meta = json.loads((data / "index.json").read_text())
    assert meta["identity"]["embedding_model"] == "all-MiniLM-L6-v2" and meta["identity"]["chunk_size"] > 0

    other = Engine(make_settings(data, corpus_dir=small_corpus, chunking={"chunk_size": 96}), embedder=embedder)
    with pytest.raises(UserError, match="built with"):
        other.search("diffusion")
    report = other.ingest(progress=False)
    assert report.rebuilt and report.papers_updated == 16
    assert other.search("diffusion guidance", k=1).hits
    names = [c.name for c in other.index.client().list_collections()]
    assert names == [other.index.collection_name]  # the old vectors are gone, never mixed


def test_chunks_respect_token_budget_and_carry_the_title(built_engine: Engine) -> None:
    col = built_engine.index.collection()
    got = col.get(limit=300, include=["documents", "metadatas"])
    size = built_engine.settings.chunking.chunk_size
    assert all(count_tokens(doc) <= size for doc in got["documents"])
    assert all(m["title"] for m in got["metadatas"])
    paper = built_engine.catalog.papers[0]
    doc = paper_document(paper)
    from llama_index.core.schema import MetadataMode

    assert paper.title.split()[0] in doc.get_content(MetadataMode.EMBED)


def test_missing_index_says_what_to_run(tmp_path: Path, embedder) -> None:
    engine = Engine(make_settings(tmp_path / "empty"), embedder=embedder)
    with pytest.raises(UserError, match="rag ingest"):
        engine.ask("anything")


def test_index_key_changes_with_identity(tmp_path: Path) -> None:
    a = make_settings(tmp_path)
    b = make_settings(tmp_path, embedding={"model": "other"})
    assert a.index_key() != b.index_key()
    assert Index.__name__ == "Index"
