"""Benchmark: LLM endpoint faults under load, through the real HTTP API.

    .venv/bin/python bench/chaos.py [--data-dir DIR] [--requests 200] [--clients 10] [--phase-s 2]

Starts the scripted OpenAI-protocol server (tests/fake_openai.py) cycling healthy / slow / 500 / 429 /
connection refused, starts the HTTP API (uvicorn, ui.api) over an index (a temp index of two corpus
pages unless --data-dir names a built one), and sends the requests from concurrent clients, half to
POST /api/ask and half to POST /api/ask/stream. Prints p50/p95/max latency and the outcomes (LLM answer,
marked extractive fallback, error), asserts that every request got an answer within its timeout, and
writes bench/results/chaos.json. Also times the refusal of oversized requests (a 5 MB history).
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import uvicorn

ROOT = Path(__file__).resolve().parent.parent
# Large or many-copy corpora: the paper model (embedding.paper_model, ~0.3 s a paper) is for small ones.
NO_PAPER_MODEL = {"paper_model": "none"}
sys.path.insert(0, str(ROOT))

from rag.embed import Embedder, make_embedder  # noqa: E402
from rag.engine import Engine  # noqa: E402
from rag.settings import EmbeddingSettings, load_settings  # noqa: E402
from tests.fake_openai import FakeOpenAI, Reply  # noqa: E402
from ui.api import create_api  # noqa: E402

PHASES = ("healthy", "slow", "500", "429", "refused")
ANSWER = "Transformers can length-generalize on algorithmic tasks [1]."
QUESTIONS = [
    "Which papers study length generalization in transformers?",
    "How does classifier-free guidance relate to predictor-corrector methods?",
    "What did Arwen Bradley co-author?",
    "Which papers are about diffusion models?",
]
RESULTS = ROOT / "bench" / "results" / "chaos.json"


class FlappingEndpoint:
    """The scripted OpenAI-protocol server, cycling through PHASES for `phase_s` seconds each.

    'slow' answers after `slow_s` (past the client's timeout), '500' and '429' fail, 'refused' closes
    the port so that connecting fails.
    """

    def __init__(self, phase_s: float, slow_s: float):
        self.phase_s = phase_s
        self.slow_s = slow_s
        self.phase = PHASES[0]
        self.fake = FakeOpenAI(self._reply)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._cycle, name="chaos-phases", daemon=True)

    def _reply(self, _: dict[str, Any]) -> Reply:
        if self.phase == "slow":
            return Reply.slow(self.slow_s, ANSWER)
        if self.phase == "500":
            return Reply.error(500)
        if self.phase == "429":
            return Reply.error(429, retry_after=0.2)
        return Reply(text=ANSWER)

    def _cycle(self) -> None:
        i = 0
        port = self.fake.port
        while not self._stop.is_set():
            self.phase = PHASES[i % len(PHASES)]
            if self.phase == "refused":
                self.fake.stop()
            self._stop.wait(self.phase_s)
            if self.phase == "refused":
                self.fake.start(port)
            i += 1

    def __enter__(self) -> FlappingEndpoint:
        self.fake.start()
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.fake.stop()


class ApiServer:
    """ui.api under a real uvicorn on a free loopback port, in a thread."""

    def __init__(self, engine: Engine):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        config = uvicorn.Config(create_api(engine), host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self.server.run, name="chaos-api", daemon=True)
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ApiServer:
        self._thread.start()
        for _ in range(600):
            if self.server.started:
                return self
            time.sleep(0.05)
        raise RuntimeError("uvicorn did not start")

    def __exit__(self, *_: Any) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=30)


def outcome(answer: dict[str, Any]) -> str:
    """'llm', 'fallback' (the marked extractive answer after an endpoint failure) or 'other'."""
    if answer.get("mode") == "llm":
        return "llm"
    if any("LLM endpoint" in w for w in answer.get("warnings", [])):
        return "fallback"
    return "other"


def one_request(client: httpx.Client, i: int) -> tuple[str, str]:
    """(outcome, detail) of request i: even ones to /api/ask, odd ones streamed."""
    body = {"question": QUESTIONS[i % len(QUESTIONS)]}
    if i % 2 == 0:
        r = client.post("/api/ask", json=body)
        if r.status_code != 200:
            return "error", f"HTTP {r.status_code}: {r.text[:200]}"
        return outcome(r.json()), ""
    with client.stream("POST", "/api/ask/stream", json=body) as r:
        if r.status_code != 200:
            return "error", f"HTTP {r.status_code}"
        last: tuple[str, str] = ("", "")
        event = ""
        for line in r.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                last = (event, line[6:])
    if last[0] != "answer":
        return "error", f"stream ended with {last[0] or 'nothing'}: {last[1][:200]}"
    return outcome(json.loads(last[1])), ""


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def oversized(url: str, settings: Any) -> dict[str, float]:
    """Milliseconds to refuse a 5 MB history (over limits.body_bytes) and one over limits.history_chars."""
    out = {}
    big = {"question": "which one?", "history": [{"role": "user", "content": "x" * 4000}] * 1300}
    over = {"question": "which one?", "history": [{"role": "user", "content": "y" * 4000}] * 10}
    with httpx.Client(base_url=url, timeout=30) as c:
        for name, body, status in (("5MB_history_ms", big, 413), ("history_chars_ms", over, 400)):
            data = json.dumps(body).encode()
            t = time.perf_counter()
            r = c.post("/api/ask", content=data, headers={"content-type": "application/json"})
            out[name] = round((time.perf_counter() - t) * 1000, 1)
            assert r.status_code == status and "error" in r.json(), r.text
    return out


def small_index(embedder: Embedder | None) -> Path:
    """A temp index of two corpus pages (profile and arXiv listing): built in seconds."""
    corpus = Path(tempfile.mkdtemp(prefix="rag-chaos-corpus-"))
    manifest = json.loads((ROOT / "corpus" / "manifest.json").read_text())
    pages = [p for p in manifest["pages"] if p["format"] in ("profile", "arxiv-listing")]
    for p in pages:
        shutil.copy(ROOT / "corpus" / p["file"], corpus / p["file"])
    (corpus / "manifest.json").write_text(json.dumps({"pages": pages}))
    data = Path(tempfile.mkdtemp(prefix="rag-chaos-data-"))
    settings = load_settings(None, data_dir=data, corpus_dir=corpus, llm={"base_url": None}, embedding=NO_PAPER_MODEL)
    Engine(settings, embedder=embedder).ingest(progress=False)
    return data


def run_chaos(
    data_dir: Path | None = None,
    *,
    requests: int = 200,
    clients: int = 10,
    phase_s: float = 2.0,
    llm_timeout_s: float = 1.0,
    request_timeout_s: float = 60.0,
    embedder: Embedder | None = None,
    spread_s: float = 0.0,
) -> dict[str, Any]:
    """Run the scenario; return the figures (also asserted: every request answered within its timeout).
    `spread_s`: request i starts no earlier than i * spread_s / requests after the start, so a short run still
    meets every phase of the endpoint (a fast machine answered 16 requests inside the first healthy phase)."""
    embedder = embedder or make_embedder(EmbeddingSettings())  # one model for the index and the engine
    data_dir = data_dir or small_index(embedder)
    with FlappingEndpoint(phase_s, slow_s=llm_timeout_s * 3) as endpoint:
        llm = {
            "base_url": endpoint.fake.url,
            "api_key": None,
            "model": "fake-model",
            "timeout_s": llm_timeout_s,
            "max_retries": 1,
            "backoff_s": 0.05,
            "breaker_failures": 3,
            "breaker_cooldown_s": phase_s,
        }
        # All clients share 127.0.0.1: the per-client rate limit is off for the load test.
        settings = load_settings(None, data_dir=data_dir, llm=llm, server={"rate_per_s": 0}, embedding=NO_PAPER_MODEL)
        engine = Engine(settings, embedder=embedder)
        engine.search("warm up")  # load the model and the BM25 index before the clock starts
        with ApiServer(engine) as api:
            todo: queue.Queue[int] = queue.Queue()
            for i in range(requests):
                todo.put(i)
            records: list[dict[str, Any]] = []
            lock = threading.Lock()

            def worker() -> None:
                with httpx.Client(base_url=api.url, timeout=request_timeout_s) as client:
                    while True:
                        try:
                            i = todo.get_nowait()
                        except queue.Empty:
                            return
                        if (wait := t0 + i * spread_s / requests - time.perf_counter()) > 0:
                            time.sleep(wait)
                        phase = endpoint.phase
                        t = time.perf_counter()
                        try:
                            kind, detail = one_request(client, i)
                        except httpx.HTTPError as exc:
                            kind, detail = "error", f"{type(exc).__name__}: {exc}"
                        ms = (time.perf_counter() - t) * 1000
                        with lock:
                            records.append({"i": i, "phase": phase, "outcome": kind, "ms": ms, "detail": detail})

            t0 = time.perf_counter()
            threads = [threading.Thread(target=worker) for _ in range(clients)]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            wall = time.perf_counter() - t0
            refusals = oversized(api.url, settings)
        chat_requests = len(endpoint.fake.chat_requests())
    ms = [r["ms"] for r in records]
    counts = Counter(r["outcome"] for r in records)
    by_phase = {p: dict(Counter(r["outcome"] for r in records if r["phase"] == p)) for p in PHASES}
    result = {
        "requests": requests,
        "clients": clients,
        "phase_s": phase_s,
        "llm_timeout_s": llm_timeout_s,
        "request_timeout_s": request_timeout_s,
        "wall_s": round(wall, 1),
        "load_average_1min_after": round(os.getloadavg()[0], 1),  # latency here is mostly CPU contention
        "p50_ms": round(statistics.median(ms), 1),
        "p95_ms": round(pct(ms, 0.95), 1),
        "max_ms": round(max(ms), 1),
        "outcomes": dict(counts),
        "outcomes_by_phase_at_start": by_phase,
        "chat_requests_reaching_the_endpoint": chat_requests,
        "refusals": refusals,
        "errors": [r for r in records if r["outcome"] == "error"][:5],
    }
    assert len(records) == requests
    assert counts["error"] == 0, result["errors"]
    assert max(ms) < request_timeout_s * 1000, f"slowest request {max(ms):.0f} ms"
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", help="a built data dir (default: a temp index of two corpus pages)")
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--phase-s", type=float, default=2.0, help="seconds per endpoint phase")
    ap.add_argument("--llm-timeout-s", type=float, default=1.0)
    ap.add_argument("--request-timeout-s", type=float, default=60.0)
    args = ap.parse_args()
    result = run_chaos(
        Path(args.data_dir) if args.data_dir else None,
        requests=args.requests,
        clients=args.clients,
        phase_s=args.phase_s,
        llm_timeout_s=args.llm_timeout_s,
        request_timeout_s=args.request_timeout_s,
    )
    print(
        f"{result['requests']} requests from {result['clients']} clients in {result['wall_s']} s; endpoint phases "
        f"{' / '.join(PHASES)} of {result['phase_s']} s each"
    )
    print(
        f"latency: p50 {result['p50_ms']:.0f} ms  p95 {result['p95_ms']:.0f} ms  max {result['max_ms']:.0f} ms "
        f"(machine load average {result['load_average_1min_after']} on {os.cpu_count()} CPUs)"
    )
    print(f"outcomes: {result['outcomes']}  (error = no answer)")
    for phase, counts in result["outcomes_by_phase_at_start"].items():
        print(f"  started while {phase:>8}: {counts}")
    print(f"chat requests that reached the endpoint: {result['chat_requests_reaching_the_endpoint']}")
    r = result["refusals"]
    print(f"5 MB history refused in {r['5MB_history_ms']} ms (413); history over limits.history_chars "
          f"refused in {r['history_chars_ms']} ms (400)")  # fmt: skip
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    print(f"written: {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
