"""Chroma in server mode: a real `chroma run` process on 127.0.0.1, the same ingest and search; and the
client side of a secured deployment (TLS + token, checked by a proxy in front of the server)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.embed import Embedder
from rag.engine import Engine
from tests.chroma_proc import TokenProxy, chroma_run, free_port, self_signed_cert
from tests.conftest import CliRun, make_settings

TOKEN = "s3cret-Token_1"


@pytest.fixture()
def chroma_server(tmp_path: Path) -> Iterator[int]:
    with chroma_run(tmp_path / "server") as port:
        yield port


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


def test_token_and_tls_refused_with_a_clear_error_accepted_with_the_right_settings(
    tmp_path: Path, small_corpus: Path, chroma_server: int, run_cli: CliRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = self_signed_cert(tmp_path)
    data = tmp_path / "data"
    ingest = ["ingest", "--corpus", small_corpus, "--data-dir", data, "--quiet"]
    with TokenProxy(chroma_server, TOKEN, cert=(cert, key)).running() as proxy:
        for name, value in {"MODE": "server", "HOST": "127.0.0.1", "PORT": str(proxy.port), "SSL": "true",
                            "SSL_VERIFY": str(cert)}.items():  # fmt: skip
            monkeypatch.setenv(f"RAG_CHROMA__{name}", value)

        code, out, err = run_cli(ingest)  # no token
        assert code == 2 and "requires a token" in err and "RAG_CHROMA__AUTH_TOKEN" in err
        assert "Traceback" not in out + err and not (data / "current.json").exists()

        monkeypatch.setenv("RAG_CHROMA__AUTH_TOKEN", "wrong")
        code, _, err = run_cli(ingest)
        assert code == 2 and "refused the token" in err and "HTTP 403" in err
        assert proxy.refused >= 2

        monkeypatch.setenv("RAG_CHROMA__AUTH_TOKEN", TOKEN)
        monkeypatch.setenv("RAG_CHROMA__AUTH_HEADER", "X-Chroma-Token")
        code, out, err = run_cli(ingest)
        assert code == 0, err
        assert not (data / "chroma").exists()
        monkeypatch.setenv("RAG_CHROMA__AUTH_HEADER", "Authorization")  # Bearer: the same server accepts it
        code, out, err = run_cli(
            ["search", "classifier-free guidance predictor corrector", "--k", 1, "--data-dir", data]
        )
        assert code == 0, err
        assert "Classifier-Free Guidance is a Predictor-Corrector" in out

        monkeypatch.setenv("RAG_CHROMA__AUTH_TOKEN", "wrong")  # a replica with a bad token refuses to serve
        code, _, err = run_cli(["ask", "what is classifier-free guidance?", "--data-dir", data])
        assert code == 2 and "refused the token" in err and "Traceback" not in err

        monkeypatch.setenv("RAG_CHROMA__AUTH_TOKEN", TOKEN)
        monkeypatch.delenv("RAG_CHROMA__SSL_VERIFY")  # the self-signed certificate is not trusted by default
        code, _, err = run_cli(["ask", "what is classifier-free guidance?", "--data-dir", data])
        assert code == 2 and "TLS with the Chroma server" in err and "RAG_CHROMA__SSL_VERIFY" in err

        # Another tenant and database: the writer creates them; a replica on another database says what is wrong.
        monkeypatch.setenv("RAG_CHROMA__SSL_VERIFY", str(cert))
        monkeypatch.setenv("RAG_CHROMA__TENANT", "team")
        monkeypatch.setenv("RAG_CHROMA__DATABASE", "papers")
        other = tmp_path / "other"
        code, _, err = run_cli(["ingest", "--corpus", small_corpus, "--data-dir", other, "--quiet"])
        assert code == 0, err
        code, out, err = run_cli(
            ["search", "classifier-free guidance predictor corrector", "--k", 1, "--data-dir", other]
        )
        assert code == 0 and "Classifier-Free Guidance is a Predictor-Corrector" in out, err
        monkeypatch.setenv("RAG_CHROMA__DATABASE", "nope")
        code, _, err = run_cli(["search", "classifier-free guidance", "--data-dir", other])
        assert code == 2 and "RAG_CHROMA__DATABASE=nope" in err and "Traceback" not in err
        monkeypatch.delenv("RAG_CHROMA__TENANT")  # the defaults exist, but hold other collections
        monkeypatch.delenv("RAG_CHROMA__DATABASE")
        code, _, err = run_cli(["search", "classifier-free guidance", "--data-dir", other])
        assert code == 2 and "has no collection" in err and "database default_database" in err
        monkeypatch.delenv("RAG_CHROMA__SSL_VERIFY")

        monkeypatch.setenv("RAG_CHROMA__SSL", "false")  # plain HTTP to a TLS port
        code, _, err = run_cli(["ask", "what is classifier-free guidance?", "--data-dir", data])
        assert code == 2 and "RAG_CHROMA__SSL" in err and "Traceback" not in err


def test_unreachable_server_is_one_line_not_a_hang(
    tmp_path: Path, run_cli: CliRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAG_CHROMA__MODE", "server")
    monkeypatch.setenv("RAG_CHROMA__PORT", str(free_port()))  # nothing listens there
    code, _, err = run_cli(["ingest", "--data-dir", tmp_path / "data", "--quiet"])
    assert code == 2 and "cannot reach the Chroma server" in err and "chroma run" in err


def test_a_server_lost_mid_ingest_is_one_clear_error_and_the_next_ingest_resumes(
    tmp_path: Path, small_corpus: Path, chroma_server: int, run_cli: CliRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    with TokenProxy(chroma_server, TOKEN).running() as proxy:
        for name, value in {"MODE": "server", "HOST": "127.0.0.1", "PORT": str(proxy.port),
                            "AUTH_TOKEN": TOKEN}.items():  # fmt: skip
            monkeypatch.setenv(f"RAG_CHROMA__{name}", value)
        proxy.fail_adds = 1  # the first add after the embedding meets Envoy's 503: the Chroma behind it is gone
        code, out, err = run_cli(["ingest", "--corpus", small_corpus, "--data-dir", data])
        assert code == 2 and "Traceback" not in out + err, err
        assert "failed a request: upstream connect error" in err and "`rag ingest` run again" in err
        assert not (data / "current.json").exists()  # nothing half-made is switched in

        code, out, err = run_cli(["ingest", "--corpus", small_corpus, "--data-dir", data])
        assert code == 0, err
        assert "vectors resumed from an interrupted ingest" in out  # the embedding was not done twice
        code, out, err = run_cli(["search", "classifier-free guidance predictor corrector", "--k", 1,
                                  "--data-dir", data])  # fmt: skip
        assert code == 0 and "Classifier-Free Guidance is a Predictor-Corrector" in out, err
