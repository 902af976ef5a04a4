"""Past one machine: one ingest writer, a real `chroma run` server holding the vectors, and two stateless
`rag ui` app replicas serving from a read-only data dir (as from a shared volume) with no local ingest."""

from __future__ import annotations

import hashlib
import json
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from rag.embed import Embedder, cache_dirs
from rag.engine import Engine
from rag.settings import EmbeddingSettings
from tests.chroma_proc import AS_USER, ROOT, app_env, app_replicas, chroma_run
from tests.conftest import CORPUS, make_settings

PROFILE = "000_309010cf12db4c65.txt"  # 12 papers (an author profile)
LISTING = "002_4e07ad554a90e45c.txt"  # 10 papers, 4 of them not on the profile (TarFlow among them)


def corpus_of(folder: Path, files: list[str]) -> Path:
    manifest = json.loads((CORPUS / "manifest.json").read_text())
    folder.mkdir()
    for f in files:
        shutil.copy(CORPUS / f, folder / f)
    (folder / "manifest.json").write_text(json.dumps({"pages": [p for p in manifest["pages"] if p["file"] in files]}))
    return folder


def set_writable(root: Path, writable: bool) -> None:
    """chmod the tree: u+w, or a-w (what a read-only mount of a shared volume looks like to an app replica)."""
    for p in [root, *root.rglob("*")]:
        mode = p.stat().st_mode
        p.chmod(mode | stat.S_IWUSR if writable else mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def snapshot(root: Path) -> dict[str, tuple[int, int, str]]:
    """Every file and folder under root: (size, mtime ns, sha1). Root may bypass chmod, so writes are caught
    by comparing snapshots, not only by a permission error."""
    out = {}
    for p in sorted([root, *root.rglob("*")]):
        st = p.stat()
        digest = hashlib.sha1(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        out[str(p.relative_to(root))] = (st.st_size if p.is_file() else 0, st.st_mtime_ns, digest)
    return out


def ask(url: str, question: str) -> list[tuple[str, str]]:
    """The cited papers of the answer: (arXiv id or "", title)."""
    resp = httpx.post(f"{url}/api/ask", json={"question": question}, timeout=60)
    assert resp.status_code == 200, resp.text
    return [(c["arxiv_id"] or "", c["title"]) for c in resp.json()["citations"]]


def papers(url: str) -> int:
    return int(httpx.get(f"{url}/api/health", timeout=10).json().get("papers", -1))


@pytest.fixture()
def onnx_cache(tmp_path: Path, embedder: Embedder) -> Path:
    """A read-only cache dir holding the ONNX export (as baked into a replica's image): replicas load from it."""
    found = [d for d in cache_dirs(EmbeddingSettings()) if d.is_dir() and any(d.glob("minilm-*.onnx"))]
    assert found, "the session embedder made an ONNX export"
    cache = tmp_path / "cache"
    cache.mkdir()
    for f in found[0].glob("minilm-*.onnx"):
        shutil.copy2(f, cache / f.name)
    set_writable(cache, False)
    return cache


def test_two_replicas_answer_from_a_read_only_data_dir_and_follow_a_new_generation(
    tmp_path: Path, embedder: Embedder, onnx_cache: Path
) -> None:
    shared = tmp_path / "shared" / "paperchat"  # RAG_DATA_DIR of the writer and of the replicas
    first = corpus_of(tmp_path / "corpus1", [PROFILE])
    both = corpus_of(tmp_path / "corpus2", [PROFILE, LISTING])
    work = tmp_path / "work"  # the replicas' cwd: no rag.toml, and where their logs go
    work.mkdir()
    with chroma_run(tmp_path / "chroma-server") as port:
        chroma = {"mode": "server", "host": "127.0.0.1", "port": port}
        writer = Engine(make_settings(shared, corpus_dir=first, chroma=chroma), embedder=embedder)
        assert writer.ingest(progress=False).papers == 12
        assert not (shared / "chroma").exists()  # the vectors are in the server
        set_writable(shared, False)
        before = snapshot(shared), snapshot(onnx_cache)
        touch = subprocess.run([*AS_USER, "touch", str(shared / "probe")], capture_output=True)
        assert touch.returncode != 0  # the data dir really is read-only for the replicas

        env = app_env(shared, port, RAG_EMBEDDING__CACHE_DIR=str(onnx_cache))
        try:
            with app_replicas(env, 2, work) as replicas:
                urls = [u for u, _ in replicas]
                assert [papers(u) for u in urls] == [12, 12]
                cfg = [ask(u, "classifier-free guidance as a predictor-corrector") for u in urls]
                assert cfg[0] == cfg[1] and cfg[0][0][1] == "Classifier-Free Guidance is a Predictor-Corrector"
                tarflow = "normalizing flows: likelihood-based models for continuous inputs"
                assert "2412.06329" not in [a for a, _ in ask(urls[0], tarflow)]  # not in the corpus yet
                assert (snapshot(shared), snapshot(onnx_cache)) == before  # serving wrote nothing there

                # The writer ingests a larger corpus: a new generation, current.json switched last.
                set_writable(shared, True)
                writer2 = Engine(make_settings(shared, corpus_dir=both, chroma=chroma), embedder=embedder)
                assert writer2.ingest(progress=False).papers == 16
                set_writable(shared, False)
                after = snapshot(shared)
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline and [papers(u) for u in urls] != [16, 16]:
                    time.sleep(0.3)
                assert [papers(u) for u in urls] == [16, 16]  # both replicas reloaded, neither restarted
                cited = [ask(u, tarflow) for u in urls]
                assert cited[0] == cited[1] and cited[0][0][0] == "2412.06329"
                assert snapshot(shared) == after
                logs = [log.read_text() for _, log in replicas]
            for log in logs:
                assert "runs on torch" not in log  # the read-only ONNX export was used, nothing re-exported
                assert "Traceback" not in log
        finally:
            set_writable(shared, True)
            set_writable(onnx_cache, True)
        assert not (shared / "chroma").exists()


def test_replica_without_an_index_or_with_a_half_copied_generation_says_what_is_missing(
    tmp_path: Path, embedder: Embedder
) -> None:
    """A replica pointed at an empty folder, or at a generation whose copy stopped short, exits with one line."""
    small = corpus_of(tmp_path / "corpus", [PROFILE])
    data = tmp_path / "data"
    with chroma_run(tmp_path / "chroma-server") as port:
        env = app_env(data, port)

        def start() -> subprocess.CompletedProcess[str]:
            cmd = [sys.executable, "-m", "rag.cli", "ui", "--port", "1"]  # never reached: it must refuse first
            return subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)

        empty = start()
        assert empty.returncode == 2 and "no index in" in empty.stderr and "Traceback" not in empty.stderr

        chroma = {"mode": "server", "host": "127.0.0.1", "port": port}
        Engine(make_settings(data, corpus_dir=small, chroma=chroma), embedder=embedder).ingest(progress=False)
        gen = json.loads((data / "current.json").read_text())["generation"]
        (data / "generations" / gen / "sentences.npy").unlink()  # an rsync that stopped short
        half = start()
        assert half.returncode == 2 and "Traceback" not in half.stderr
        assert f"generation {gen}" in half.stderr and "sentences.npy missing" in half.stderr

        # a pointer switched before the folder was copied at all
        (data / "current.json").write_text(json.dumps({"generation": "g000009-abcdef"}))
        early = start()
        assert early.returncode == 2 and "names generation g000009-abcdef" in early.stderr


def test_onnx_export_is_read_from_any_cache_dir_and_made_in_the_first_writable_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A replica whose checkout (or image) is read-only uses an export found there, else makes one elsewhere."""
    import rag.embed as embed

    dirs = cache_dirs(EmbeddingSettings())
    assert dirs[0] == ROOT / ".data" / "cache" and len(dirs) == 3  # checkout, user cache, temp dir
    assert cache_dirs(EmbeddingSettings(cache_dir=tmp_path)) == [tmp_path]  # an explicit one is the only one

    blocker = tmp_path / "blocker"
    blocker.write_text("")  # a file: no folder can be made under it, even by root
    unusable, baked, fresh = blocker / "cache", tmp_path / "baked", tmp_path / "fresh"
    model = embed.minilm_dir()
    baked.mkdir()
    existing = embed.OnnxExport(model, baked).path
    existing.write_bytes(b"onnx")
    made: list[Path] = []

    def export(self: embed.OnnxExport, target: Path) -> None:  # the selection is under test, not torch's export
        made.append(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"onnx")

    monkeypatch.setattr(embed.OnnxExport, "_export", export)
    monkeypatch.setattr(embed, "cache_dirs", lambda s: [unusable, baked])
    assert embed.onnx_export(model, EmbeddingSettings()) == existing and made == []
    monkeypatch.setattr(embed, "cache_dirs", lambda s: [unusable, fresh])
    got = embed.onnx_export(model, EmbeddingSettings())
    assert got.parent == fresh and made == [got] and got.is_file()
