"""Real servers for the server-mode tests: a `chroma run` process, a token-checking TLS proxy in front of it
(what Envoy or nginx does in a deployment: Chroma 1.x's own server checks no token), and `rag ui` app
processes. Every one is stopped by its context manager, whatever the test does."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent


# Root ignores file modes: app replicas run without the capabilities that let it, so a read-only data dir
# is read-only for them as it is for any other user.
AS_USER = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner"] if os.geteuid() == 0 else []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(
    url: str, proc: subprocess.Popen[Any] | None, timeout_s: float, what: str, log: Path | None = None, **kw: Any
) -> httpx.Response:
    """GET url until it answers 200; fail with the process's output if it exits or the time runs out."""
    deadline = time.monotonic() + timeout_s
    last = ""
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            out = log.read_text() if log else ""
            pytest.fail(f"{what} exited with {proc.returncode} before answering: {out[-2000:]}")
        try:
            resp = httpx.get(url, timeout=2, **kw)
            if resp.status_code == 200:
                return resp
            last = f"HTTP {resp.status_code}: {resp.text[:200]}"
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.2)
    pytest.fail(f"{what} did not answer {url} within {timeout_s:g} s ({last})")


def stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@contextlib.contextmanager
def chroma_run(path: Path) -> Iterator[int]:
    """`chroma run --path PATH` on a free port; yields the port once its heartbeat answers."""
    port = free_port()
    chroma = Path(sys.executable).parent / "chroma"
    path.mkdir(parents=True, exist_ok=True)
    log = path.parent / f"{path.name}.chroma.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [str(chroma), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(f"http://127.0.0.1:{port}/api/v2/heartbeat", proc, 60, "chroma run", log)
        yield port
    finally:
        stop(proc)


def self_signed_cert(folder: Path) -> tuple[Path, Path]:
    """(certificate, key) for 127.0.0.1, made by the openssl command line."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("the TLS test needs the openssl command (apt-get install openssl)")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


class TokenProxy:
    """A reverse proxy to a Chroma server that lets a request through only with the token, as Chroma's token
    auth expects it (`Authorization: Bearer TOKEN` or `X-Chroma-Token: TOKEN`); the heartbeat stays open.
    Refusals are Envoy's RBAC answer (403 "RBAC: access denied"). With a certificate it serves HTTPS."""

    def __init__(self, upstream_port: int, token: str, cert: tuple[Path, Path] | None = None):
        self.upstream = f"http://127.0.0.1:{upstream_port}"
        self.token = token
        self.cert = cert
        self.port = free_port()
        self.refused = 0
        self.fail_adds = 0  # answer this many record adds with Envoy's 503 (the Chroma behind it gone)

    def allowed(self, headers: dict[str, str], path: str) -> bool:
        if path.endswith("/heartbeat"):
            return True
        return headers.get("x-chroma-token") == self.token or headers.get("authorization") == f"Bearer {self.token}"

    async def app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        if not self.allowed(headers, scope["path"]):
            self.refused += 1
            await send({"type": "http.response.start", "status": 403, "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": b"RBAC: access denied"})
            return
        if self.fail_adds and scope["path"].endswith("/add"):
            self.fail_adds -= 1
            await send({"type": "http.response.start", "status": 503, "headers": [(b"content-type", b"text/plain")]})
            envoy = b"upstream connect error or disconnect/reset before headers"
            await send({"type": "http.response.body", "body": envoy})
            return
        url = self.upstream + scope["path"] + (f"?{scope['query_string'].decode()}" if scope["query_string"] else "")
        forward = {k: v for k, v in headers.items() if k not in ("host", "content-length", "connection")}
        async with httpx.AsyncClient(timeout=60) as client:
            resp = await client.request(scope["method"], url, headers=forward, content=body)
        hop = ("content-length", "transfer-encoding", "connection", "content-encoding")
        out = [(k.encode(), v.encode()) for k, v in resp.headers.items() if k.lower() not in hop]
        await send({"type": "http.response.start", "status": resp.status_code, "headers": out})
        await send({"type": "http.response.body", "body": resp.content})

    @contextlib.contextmanager
    def running(self) -> Iterator[TokenProxy]:
        import uvicorn

        tls = {"ssl_certfile": str(self.cert[0]), "ssl_keyfile": str(self.cert[1])} if self.cert else {}
        server = uvicorn.Server(
            uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning", interface="asgi3", **tls)
        )
        thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
        thread.start()
        try:
            scheme = "https" if self.cert else "http"
            verify = str(self.cert[0]) if self.cert else True
            wait_for(f"{scheme}://127.0.0.1:{self.port}/api/v2/heartbeat", None, 20, "the token proxy", verify=verify)
            yield self
        finally:
            server.should_exit = True
            thread.join(timeout=10)


def app_env(data_dir: Path, chroma_port: int, **extra: str) -> dict[str, str]:
    """The environment of an app replica: this checkout's code, server mode, no LLM, nothing downloaded."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "OPENAI_"))}
    env.update(
        PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
        GRADIO_ANALYTICS_ENABLED="False", RAG_DATA_DIR=str(data_dir), RAG_CHROMA__MODE="server",
        RAG_CHROMA__HOST="127.0.0.1", RAG_CHROMA__PORT=str(chroma_port), RAG_INGEST__RELOAD_CHECK_S="0.2",
        RAG_SERVER__RATE_PER_S="0",
    )  # fmt: skip
    env.update(extra)
    return env


@contextlib.contextmanager
def app_replicas(env: dict[str, str], n: int, cwd: Path) -> Iterator[list[tuple[str, Path]]]:
    """n `rag ui` processes on free ports, started together; yields (base url, log file) once each is healthy."""
    procs: list[tuple[str, subprocess.Popen[bytes], Path]] = []
    try:
        for i in range(n):
            port = free_port()
            log = cwd / f"replica{i}.log"
            with open(log, "w") as out:
                proc = subprocess.Popen(
                    [*AS_USER, sys.executable, "-m", "rag.cli", "ui", "--port", str(port)],
                    env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                )  # fmt: skip
            procs.append((f"http://127.0.0.1:{port}", proc, log))
        for url, proc, log in procs:
            wait_for(f"{url}/api/health", proc, 120, "rag ui", log)
        yield [(url, log) for url, _, log in procs]
    finally:
        for _, proc, _ in procs:
            stop(proc)
