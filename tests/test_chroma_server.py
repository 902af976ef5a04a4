"""Chroma in server mode: a real `chroma run` process on 127.0.0.1, the same ingest and search."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.embed import Embedder
from rag.engine import Engine
from tests.conftest import make_settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def chroma_server(tmp_path: Path) -> Iterator[int]:
    port = free_port()
    chroma = Path(sys.executable).parent / "chroma"
    proc = subprocess.Popen(
        [str(chroma), "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        else:
            pytest.fail("chroma run did not start within 60 s")
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_server_mode_ingest_and_search(
    tmp_path: Path, small_corpus: Path, embedder: Embedder, chroma_server: int
) -> None:
    settings = make_settings(
        tmp_path / "data",
        corpus_dir=small_corpus,
        chroma={"mode": "server", "host": "127.0.0.1", "port": chroma_server},
    )
    engine = Engine(settings, embedder=embedder)
    report = engine.ingest(progress=False)
    assert report.papers == 16 and report.chunks_embedded > 16
    assert not (tmp_path / "data" / "chroma").exists()  # vectors live in the server, not locally
    hit = engine.search("classifier-free guidance predictor corrector", k=1).hits[0]
    assert hit.title == "Classifier-Free Guidance is a Predictor-Corrector"
    # a second engine process on the same data dir reads the same server-side index
    other = Engine(settings, embedder=embedder)
    assert other.index.collection().count() == engine.index.collection().count()
    assert other.ingest(progress=False).chunks_embedded == 0
