"""Shared fixtures: every test's data dir is a temp folder; the real MiniLM embedder and a real
Chroma index over the full corpus are built once per session.

Two tiers (Makefile: `make test-fast`, `make test-integration`): a test is `integration` when it uses the
embedder, directly or through a fixture (`built_engine`, `run_cli`, ...); assigned here by fixture use, so test
files carry no markers. The fast tier loads no model.
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# Test indexes are MiniLM-only: the paper model (embedding.paper_model) costs ~0.3 s a paper at ingest and dozens of
# tests ingest small corpora. `built_engine` turns it on, as `make test` and a user's `rag ingest` do; other engines
# and CLI runs over its data dir answer without it, which an index built with it allows.
os.environ.setdefault("RAG_EMBEDDING__PAPER_MODEL", "none")

from rag.embed import Embedder, make_embedder
from rag.engine import Engine
from rag.settings import EmbeddingSettings, Settings, load_settings
from tests.fake_openai import fake_openai  # noqa: F401 - fixture re-exported for all tests

ROOT = Path(__file__).resolve().parent.parent
PAPER_MODEL = "all-mpnet-base-v2"
CORPUS = ROOT / "corpus"


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings for tests: the given data dir, and no LLM unless a test asks for one."""
    overrides["llm"] = {"base_url": None, "api_key": None, **overrides.get("llm", {})}
    overrides.setdefault("corpus_dir", CORPUS)
    return load_settings(None, data_dir=data_dir, **overrides)


# Fixtures that load MiniLM (and usually build an index): tests using any of them are the slow tier.
MODEL_FIXTURES = {"embedder", "built_engine", "run_cli"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if MODEL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return make_embedder(EmbeddingSettings())


@pytest.fixture(scope="session")
def built_engine(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Engine:
    """An Engine whose index over the full corpus is built in a temp data dir (extractive mode).

    When the checkout's own index exists (`make test` builds it before the integration tier; the eval gate needs it
    anyway), the temp dir starts as a copy of it and the ingest below finds it up to date instead of embedding
    everything a second time: the same ingest code, minutes less. A stale or foreign copy is simply rebuilt."""
    data_dir = tmp_path_factory.mktemp("data")
    own = ROOT / ".data"
    if (own / "current.json").is_file():
        shutil.copytree(own, data_dir, dirs_exist_ok=True, ignore=shutil.ignore_patterns("cache", "ingest.lock"))
    engine = Engine(make_settings(data_dir, embedding={"paper_model": PAPER_MODEL}), embedder=embedder)
    engine.ingest(progress=False)
    return engine


@pytest.fixture()
def small_corpus(tmp_path: Path) -> Iterator[Path]:
    """A copy of two real pages (profile + arXiv listing) with their manifest, safe to edit."""
    import json

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    manifest = json.loads((CORPUS / "manifest.json").read_text())
    pages = [p for p in manifest["pages"] if p["format"] in ("profile", "arxiv-listing")]
    for p in pages:
        shutil.copy(CORPUS / p["file"], corpus / p["file"])
    (corpus / "manifest.json").write_text(json.dumps({"pages": pages}))
    yield corpus


CliRun = Callable[..., tuple[int, str, str]]


@pytest.fixture()
def run_cli(embedder: Embedder, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> CliRun:
    """`rag ...` in this process: run_cli(["ask", "q", "--data-dir", d], stdin=None) -> (exit code, stdout, stderr).

    The session's MiniLM is reused instead of one model load per command; use a subprocess only to test
    process behaviour (exit on a signal, environment, the installed entry point)."""
    import rag.cli
    import rag.engine

    real = rag.engine.make_embedder
    monkeypatch.setattr(rag.engine, "make_embedder", lambda s: embedder if s.backend == "minilm" else real(s))

    def run(args: list[str], stdin: str | None = None) -> tuple[int, str, str]:
        capsys.readouterr()  # drop what the test printed before
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin or ""))
        try:
            code = rag.cli.main([str(a) for a in args])
        except SystemExit as exc:  # argparse usage errors
            code = exc.code if isinstance(exc.code, int) else 2
        out, err = capsys.readouterr()
        return code, out, err

    return run
