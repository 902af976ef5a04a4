"""The embedder's runtimes: the ONNX runtime gives the sentence-transformers vectors (so the index does not
change), a process that answers questions loads neither torch nor the UI stack, and a failed export falls back
to torch with a note."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from rag.catalog import build_catalog
from rag.embed import Embedder, OnnxMiniLM, TorchMiniLM, make_embedder
from rag.engine import Engine
from rag.settings import EmbeddingSettings
from rag.text import sentences
from tests.conftest import CORPUS, ROOT

# What a query process must not import (each costs seconds or hundreds of MB).
UI_STACK = ["gradio", "fastapi", "matplotlib"]
MODEL_STACK = ["torch", "sentence_transformers", "transformers"]

QUESTIONS = [
    "which papers study length generalization?",
    "is there work on making big models cheaper to run on a phone?",
    "what did Omid Saremi co-author?",
    "what's a good recipe for sourdough bread?",
    "",  # nothing but [CLS] [SEP]
    "Über die Länge: généralisation, 長さの一般化 ∑ x² ≤ 1 🚀",
]


def corpus_texts() -> list[str]:
    """Real corpus text: whole abstracts (some past MiniLM's 256-piece limit, so truncation is exercised),
    their sentences, and titles; spread over the catalog."""
    papers, _ = build_catalog(CORPUS)
    sample = papers[:: max(1, len(papers) // 60)]
    texts = [p.abstract for p in sample] + [p.title for p in sample]
    texts += [s for p in sample[:25] for s in sentences(p.abstract)]
    longest = max(papers, key=lambda p: len(p.abstract)).abstract
    return [*texts, longest, longest * 3]


def run_python(tmp_path: Path, *snippets: str) -> dict[str, bool]:
    """Run the snippets in a fresh interpreter (this checkout first on the path); the last prints a JSON object."""
    code = "".join(textwrap.dedent(s) for s in snippets)
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(Path.home()), "HF_HUB_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false"}  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path, env=env, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    result: dict[str, bool] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


LOADED = """
    import json, sys
    heavy = {heavy!r}
    print(json.dumps({{m: m in sys.modules for m in heavy}}))
"""


BUILD_ENGINE = """
    import rag.cli
    from rag import Engine, Filters, UserError, load_settings
    engine = Engine(load_settings(data_dir="data", llm={"base_url": None}))
    assert engine.settings.embedding.runtime == "onnx"
"""


def test_importing_rag_and_building_an_engine_loads_neither_torch_nor_the_ui(tmp_path: Path) -> None:
    loaded = run_python(tmp_path, BUILD_ENGINE, LOADED.format(heavy=UI_STACK + MODEL_STACK))
    assert not any(loaded.values()), loaded


def test_building_an_engine_does_not_import_llama_index(tmp_path: Path) -> None:
    loaded = run_python(tmp_path, BUILD_ENGINE, LOADED.format(heavy=["llama_index.core"]))
    assert not any(loaded.values()), loaded


def test_lazy_package_exports_are_the_real_objects() -> None:
    import rag
    import rag.engine
    import rag.retrieve

    assert rag.Engine is rag.engine.Engine and rag.Filters is rag.retrieve.Filters
    assert {"Engine", "Filters", "load_settings"} <= set(dir(rag)) and set(rag.__all__) == set(rag._EXPORTS)
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = rag.Nope  # type: ignore[attr-defined]


# -- with the model (integration tier) -------------------------------------------------------------------
def test_onnx_gives_the_sentence_transformers_vectors(embedder: Embedder) -> None:
    assert isinstance(embedder, OnnxMiniLM)  # the default runtime
    reference = TorchMiniLM(EmbeddingSettings(runtime="torch"))
    texts = corpus_texts() + QUESTIONS
    onnx = np.asarray(embedder.embed(texts), dtype=np.float64)
    torch = np.asarray(reference.embed(texts), dtype=np.float64)
    assert onnx.shape == torch.shape == (len(texts), 384)
    cosine = (onnx * torch).sum(axis=1) / np.linalg.norm(onnx, axis=1) / np.linalg.norm(torch, axis=1)
    assert cosine.min() > 1 - 1e-3, texts[int(cosine.argmin())]
    assert np.allclose(np.linalg.norm(onnx, axis=1), 1, atol=1e-5)
    # One query alone (no batch padding) is the same vector as inside a batch.
    assert np.allclose(embedder.embed_query(QUESTIONS[0]), onnx[len(texts) - len(QUESTIONS)], atol=1e-5)
    assert embedder.name == reference.name  # same index identity
    assert embedder.embed([]) == []


def test_answering_a_question_loads_neither_torch_nor_the_ui(built_engine: Engine, tmp_path: Path) -> None:
    loaded = run_python(
        tmp_path,
        f"""
        from rag import Engine, load_settings
        engine = Engine(load_settings(data_dir={str(built_engine.settings.data_dir)!r}, llm={{"base_url": None}},
                                      corpus_dir={str(CORPUS)!r}))
        answer = engine.ask("which papers study length generalization?")
        assert answer.citations and not answer.refused, answer
        assert type(engine.embedder).__name__ == "OnnxMiniLM"
        """,
        LOADED.format(heavy=UI_STACK + MODEL_STACK),
    )
    assert not any(loaded.values()), loaded


def test_export_is_made_once_then_reused(embedder: Embedder, tmp_path: Path) -> None:
    settings = EmbeddingSettings(cache_dir=tmp_path / "cache")
    first = make_embedder(settings)
    files = list((tmp_path / "cache").iterdir())
    assert isinstance(first, OnnxMiniLM) and len(files) == 1 and files[0].suffix == ".onnx"
    stamp = files[0].stat().st_mtime_ns
    second = make_embedder(settings)
    assert list((tmp_path / "cache").iterdir()) == files and files[0].stat().st_mtime_ns == stamp
    q = QUESTIONS[1]
    assert np.allclose(second.embed_query(q), embedder.embed_query(q), atol=1e-6)


@pytest.mark.integration  # loads torch
def test_failed_export_falls_back_to_torch_with_a_note(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache dir should be")
    with caplog.at_level(logging.WARNING, logger="rag.embed"):
        fallback = make_embedder(EmbeddingSettings(cache_dir=blocker / "cache"))
    assert isinstance(fallback, TorchMiniLM)
    assert "runs on torch" in caplog.text and "ONNX" in caplog.text
    assert len(fallback.embed_query("length generalization")) == 384


# -- the in-process CLI fixture (tests/conftest.py) ----------------------------------------------------------
def test_run_cli_answers_in_process_with_the_session_model(run_cli, built_engine: Engine, tmp_path: Path) -> None:
    import rag.engine

    data = str(built_engine.settings.data_dir)
    code, out, err = run_cli(["ask", "--json", "which papers study length generalization?", "--data-dir", data])
    answer = json.loads(out)
    assert code == 0 and answer["citations"] and not answer["refused"] and "Traceback" not in err
    assert rag.engine.make_embedder(built_engine.settings.embedding) is built_engine.embedder  # no second load
    code, out, err = run_cli(["ask", "anything", "--data-dir", tmp_path / "none"])
    assert code == 2 and "rag ingest" in err and out == ""
    code, _, err = run_cli(["search", "--k", "not-a-number", "q"])  # argparse's own exit, caught
    assert code == 2 and "invalid int value" in err
