"""Serving benchmark: the real `rag ui` server (Gradio + HTTP API on uvicorn) under concurrent clients.

    .venv/bin/python bench/load.py [--data-dir DIR] [--clients 10] [--requests 5 | --seconds T] [--json OUT]

Starts `rag ui` on a free port against the data dir, waits for /api/health, then runs N client threads that
each send POST /api/ask with questions from a fixed mix (M requests each, or for T seconds). Prints p50/p95/max
latency, requests/s and errors, writes the figures as JSON (--json) and one Markdown table row (--markdown).
Asserts nothing; issue 13's target is 10 clients x 5 requests: p95 <= 1.5 s and >= 15 requests/s.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from questions import QUESTIONS  # bench/questions.py (scripts run as `python bench/x.py`)

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`rag ui` in a child process; stopped (by its pid) on exit."""

    def __init__(self, data_dir: Path, port: int):
        self.port = port
        env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
               "TOKENIZERS_PARALLELISM": "false", "GRADIO_ANALYTICS_ENABLED": "False",
               # throughput, not the per-client rate limit (all clients share one IP here)
               "RAG_SERVER__RATE_PER_S": "0"}  # fmt: skip
        for var in ("OPENAI_BASE_URL", "RAG_LLM__BASE_URL"):  # the extractive answerer: no LLM in the loop
            env.pop(var, None)
        cmd = [sys.executable, "-m", "rag.cli", "ui", "--data-dir", str(data_dir), "--port", str(port)]
        self.proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def wait_ready(self, timeout_s: float) -> float:
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < timeout_s:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise SystemExit(f"the server exited with {self.proc.returncode}: {err.strip()[-800:]}")
            try:
                status, _ = request(self.port, "GET", "/api/health", None, timeout=2)
                if status == 200:
                    return time.perf_counter() - t0
            except OSError:
                pass
            time.sleep(0.25)
        raise SystemExit(f"the server was not ready after {timeout_s:.0f} s")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def request(port: int, method: str, path: str, body: dict[str, Any] | None, timeout: float) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=payload, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


class Client(threading.Thread):
    """One user: sends questions one after another, records each latency or error."""

    def __init__(self, n: int, port: int, requests: int | None, deadline: float | None, timeout: float):
        super().__init__(daemon=True)
        self.n, self.port, self.requests, self.deadline, self.timeout = n, port, requests, deadline, timeout
        self.latencies: list[float] = []
        self.errors: list[str] = []

    def run(self) -> None:
        i = 0
        while (self.requests is None or i < self.requests) and (self.deadline is None or time.time() < self.deadline):
            question = QUESTIONS[(self.n * 3 + i) % len(QUESTIONS)]
            t = time.perf_counter()
            try:
                status, body = request(self.port, "POST", "/api/ask", {"question": question}, self.timeout)
                if status != 200 or "answer" not in json.loads(body):
                    self.errors.append(f"HTTP {status}: {body[:200]!r}")
                else:
                    self.latencies.append(time.perf_counter() - t)
            except Exception as exc:  # a refused or dropped connection is an error of this run, not a crash
                self.errors.append(f"{type(exc).__name__}: {exc}")
            i += 1


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


def run_load(port: int, clients: int, requests: int | None, seconds: float | None, timeout: float) -> dict[str, Any]:
    deadline = time.time() + seconds if seconds else None
    threads = [Client(n, port, requests, deadline, timeout) for n in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    lat = [x for t in threads for x in t.latencies]
    errors = [e for t in threads for e in t.errors]
    return {
        "clients": clients,
        "requests_each": requests,
        "seconds": seconds,
        "requests": len(lat) + len(errors),
        "ok": len(lat),
        "errors": len(errors),
        "error_samples": errors[:3],
        "wall_s": round(wall, 2),
        "requests_per_s": round(len(lat) / wall, 2) if wall else 0.0,
        "p50_s": round(statistics.median(lat), 3) if lat else None,
        "p95_s": round(pct(lat, 0.95), 3) if lat else None,
        "max_s": round(max(lat), 3) if lat else None,
    }


def markdown_row(r: dict[str, Any]) -> str:
    load = f"{r['clients']} clients × {r['requests_each']} requests" if r["requests_each"] else (
        f"{r['clients']} clients × {r['seconds']:.0f} s")  # fmt: skip
    return (f"| {load} | {r['p50_s']} s | {r['p95_s']} s | {r['max_s']} s | {r['requests_per_s']} | "
            f"{r['errors']} of {r['requests']} |")  # fmt: skip


MARKDOWN_HEADER = (
    "| load (POST /api/ask) | p50 | p95 | max | requests/s | errors |\n| --- | --- | --- | --- | --- | --- |"
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=ROOT / ".data", help="a built index (`rag ingest`)")
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--requests", type=int, default=5, help="requests per client (ignored with --seconds)")
    ap.add_argument("--seconds", type=float, help="run each client for this long instead")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds before one request counts as failed")
    ap.add_argument("--start-timeout", type=float, default=300.0, help="seconds to wait for the server")
    ap.add_argument("--json", type=Path, help="write the figures here")
    ap.add_argument("--markdown", type=Path, help="append the Markdown row here")
    args = ap.parse_args()
    if not args.data_dir.is_dir():
        raise SystemExit(f"no data dir {args.data_dir}: run `rag ingest` first")
    # SIGTERM (a timeout in run_all.py) unwinds through `finally`, so the server is stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    server = Server(args.data_dir, free_port())
    try:
        ready_s = server.wait_ready(args.start_timeout)
        # One request first so the measured run sees a warm engine (the index is opened on first use).
        request(server.port, "POST", "/api/ask", {"question": "warm up"}, args.timeout)
        result = run_load(server.port, args.clients, None if args.seconds else args.requests, args.seconds,
                          args.timeout)  # fmt: skip
    finally:
        server.stop()
    result["server_ready_s"] = round(ready_s, 2)
    print(f"server ready in {ready_s:.1f} s; {result['clients']} clients: {result['ok']} ok, {result['errors']} "
          f"errors in {result['wall_s']} s -> {result['requests_per_s']} requests/s; latency p50 {result['p50_s']} s, "
          f"p95 {result['p95_s']} s, max {result['max_s']} s")  # fmt: skip
    for e in result["error_samples"]:
        print(f"  error: {e}")
    print(MARKDOWN_HEADER + "\n" + markdown_row(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    if args.markdown:
        with args.markdown.open("a") as f:
            f.write(markdown_row(result) + "\n")


if __name__ == "__main__":
    main()
